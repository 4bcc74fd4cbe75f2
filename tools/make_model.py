#!/usr/bin/env python3
"""Write a random-init UNet2DConditionModel in the diffusers layout xattn loads.

    make_model.py NAME -o DIR [--f16]

NAME is one of the configs below. DIR receives
    unet/config.json, unet/diffusion_pytorch_model.safetensors   (UNet2DConditionModel.save_pretrained)
    scheduler/scheduler_config.json                              (DDIMScheduler.save_pretrained)
    null_prompt.safetensors                                      (the empty prompt's embedding)
    MODEL_CARD.md
--f16 stores the unet weights in float16 (same values as the F32 model, rounded).

Every parameter is perturbed (p += 0.05 * randn, norms and biases included) so that no path of
the network is trivially zero or identity, and conv_out is rescaled so the output is O(1):
parity tests against these models exercise every weight.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)

SEED = 1234          # torch.manual_seed for the init and the perturbation
PERTURB = 0.05       # std of the noise added to every parameter

_UNET_COMMON = dict(in_channels=3, out_channels=3)

CONFIGS = {
    "tiny_conv_eps": dict(
        unet=dict(_UNET_COMMON, sample_size=16, block_out_channels=[32, 64],
                  down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                  up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"],
                  layers_per_block=1, attention_head_dim=2, norm_num_groups=8,
                  cross_attention_dim=32, use_linear_projection=False),
        # The cosine schedule keeps the 10-step trajectory well conditioned: with linear betas
        # x0 = (x - sqrt(1-a) eps) / sqrt(a) amplifies eps by ~100 at t=901 and diffusers' own
        # float32 run differs from its float64 run by 2e-3, more than the 1e-3 the test allows.
        scheduler=dict(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2",
                       prediction_type="epsilon",
                       timestep_spacing="leading", steps_offset=1, set_alpha_to_one=False,
                       clip_sample=True),
        purpose="a parity-test model: conv proj_in/proj_out, epsilon prediction, cosine betas, "
                "leading spacing, clip_sample on (keeps the sampled image in [-1, 1]), "
                "cross_attention_dim 32 (random text embeddings)",
    ),
    "tiny_linear_v": dict(
        unet=dict(_UNET_COMMON, sample_size=16, block_out_channels=[32, 64, 64],
                  down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
                  up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
                  layers_per_block=2, attention_head_dim=4, norm_num_groups=16,
                  cross_attention_dim=384, use_linear_projection=True,
                  transformer_layers_per_block=1),
        scheduler=dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                       beta_schedule="scaled_linear", prediction_type="v_prediction",
                       timestep_spacing="trailing", steps_offset=0, set_alpha_to_one=True,
                       clip_sample=False),
        purpose="a parity-test model: linear proj_in/proj_out, v prediction, scaled_linear "
                "betas, trailing spacing, two layers per block, cross_attention_dim 384 "
                "(all-MiniLM-L6-v2 embeddings)",
    ),
    "tiny-random": dict(
        unet=dict(_UNET_COMMON, sample_size=32, block_out_channels=[32, 64, 64],
                  down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
                  up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
                  layers_per_block=1, attention_head_dim=4, norm_num_groups=16,
                  cross_attention_dim=384, use_linear_projection=True),
        scheduler=dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                       beta_schedule="scaled_linear", prediction_type="epsilon",
                       timestep_spacing="leading", steps_offset=1, set_alpha_to_one=False,
                       clip_sample=False),
        purpose="the demo model",
    ),
}


def build_unet(name):
    """The perturbed random UNet2DConditionModel for config NAME (float32, eval mode)."""
    from diffusers import UNet2DConditionModel
    from diffusers.utils import logging as df_logging

    df_logging.set_verbosity_error()
    cfg = CONFIGS[name]["unet"]
    torch.manual_seed(SEED)
    unet = UNet2DConditionModel(**cfg).to(torch.float32).eval()
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for _, p in sorted(unet.named_parameters()):
            p.add_(PERTURB * torch.randn(p.shape, generator=g))
        # rescale conv_out so that noise_pred has std ~1 on a typical input
        s = cfg["sample_size"]
        x = torch.randn([2, cfg["in_channels"], s, s], generator=g)
        text = torch.randn([2, 6, cfg["cross_attention_dim"]], generator=g)
        y = unet(x, torch.tensor([500.0]), encoder_hidden_states=text).sample
        std = float(y.std())
        unet.conv_out.weight.div_(std)
        unet.conv_out.bias.div_(std)
    return unet


def null_prompt(dim):
    """(emb [T0, dim] float32, tokens, encoder name) of the empty prompt."""
    if dim == 384:
        import encode_prompt
        (emb, tokens), = encode_prompt.encode([""])
        return emb, tokens, encode_prompt.ENCODER_NAME
    g = torch.Generator().manual_seed(SEED + 2)
    emb = torch.randn([2, dim], generator=g).numpy().astype(np.float32)
    return emb, ["[CLS]", "[SEP]"], f"random (fixed randn [2, {dim}], seed {SEED + 2})"


def model_card(name, title, cfg, n_params, f16):
    u, s = cfg["unet"], cfg["scheduler"]
    dtype = "F16" if f16 else "F32"
    lines = [
        f"# {title}",
        "",
        f"An **untrained** UNet2DConditionModel with **random weights**: {cfg['purpose']}.",
        "Its images are noise-like patterns and carry no meaning; it exists to exercise xattn's "
        "loader, U-Net and samplers against diffusers.",
    ]
    if name == "tiny-random":
        lines += ["", "It is a placeholder: it ships until the trained `shapes32` model does, "
                  "and is then replaced by it."]
    lines += [
        "",
        "## How it was made",
        "",
        f"`tools/make_model.py {name}{' --f16' if f16 else ''} -o DIR` (run by "
        "`tools/make_test_data.sh`): "
        f"`torch.manual_seed({SEED})`, `UNet2DConditionModel(**config)`, then every parameter "
        f"+= {PERTURB} * randn (generator seed {SEED + 1}) so that no path is trivially zero, "
        "and conv_out divided by the output's std on a random input so predictions are O(1).",
        "",
        "## Data, training, evaluation",
        "",
        "None: no data, no training, no evaluation figures (random weights).",
        "",
        "## Facts",
        "",
        f"- image: {u['in_channels']} x {u['sample_size']} x {u['sample_size']}",
        f"- blocks: {', '.join(u['down_block_types'])} / {', '.join(u['up_block_types'])}",
        f"- block_out_channels {u['block_out_channels']}, layers_per_block {u['layers_per_block']}, "
        f"attention_head_dim {u['attention_head_dim']}, norm_num_groups {u['norm_num_groups']}, "
        f"use_linear_projection {str(u['use_linear_projection']).lower()}",
        f"- text: cross_attention_dim {u['cross_attention_dim']}"
        + (" (sentence-transformers/all-MiniLM-L6-v2 last hidden state)"
           if u["cross_attention_dim"] == 384 else " (random embeddings; no real encoder)"),
        f"- scheduler: DDIM, {s['beta_schedule']} betas ({s.get('beta_start', 'default')}, {s.get('beta_end', 'default')}), "
        f"{s['prediction_type']}, timestep_spacing {s['timestep_spacing']}, "
        f"steps_offset {s['steps_offset']}",
        f"- parameters: {n_params:,} stored as {dtype}"
        + (" (the F32 model's weights rounded to float16)" if f16 else ""),
        "- null_prompt.safetensors: "
        + ("the empty prompt ([CLS] [SEP]) encoded by all-MiniLM-L6-v2"
           if u["cross_attention_dim"] == 384 else "a fixed random [2, D] embedding"),
        "",
    ]
    return "\n".join(lines)


def write_model(name, out_dir, f16=False):
    from diffusers import DDIMScheduler

    import encode_prompt

    cfg = CONFIGS[name]
    unet = build_unet(name)
    n_params = sum(p.numel() for p in unet.parameters())
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".make_model-", dir=parent)
    try:
        save = unet.half() if f16 else unet
        save.save_pretrained(os.path.join(tmp, "unet"), safe_serialization=True)
        DDIMScheduler(**cfg["scheduler"]).save_pretrained(os.path.join(tmp, "scheduler"))
        emb, tokens, encoder = null_prompt(cfg["unet"]["cross_attention_dim"])
        encode_prompt.save_prompt(os.path.join(tmp, "null_prompt.safetensors"), "", emb, tokens,
                                  encoder=encoder)
        with open(os.path.join(tmp, "MODEL_CARD.md"), "w") as f:
            f.write(model_card(name, os.path.basename(os.path.normpath(out_dir)), cfg, n_params,
                               f16))
        for root, dirs, files in os.walk(tmp):  # mkdtemp and safetensors create 0700/0600
            os.chmod(root, 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        if os.path.isdir(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return n_params


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name", choices=sorted(CONFIGS))
    ap.add_argument("-o", "--output", required=True, help="model folder to (re)create")
    ap.add_argument("--f16", action="store_true", help="store the unet weights as float16")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    n = write_model(args.name, args.output, args.f16)
    print(json.dumps({"model": args.name, "dir": args.output, "parameters": n,
                      "dtype": "F16" if args.f16 else "F32"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
