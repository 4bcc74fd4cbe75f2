#!/usr/bin/env python3
"""Dump the reference tensors the C tests compare against.

    dump_reference.py -m tests/data/models/tiny_conv_eps -o tests/data/reference/tiny_conv_eps.safetensors

Writes one safetensors file (every tensor F32, metadata strings):

  One U-Net forward (batch 2):
    in.sample [2, C, S, S]  in.timestep [1]  in.encoder_hidden_states [2, 7, D]
    in.attention_mask [2, 7] (row 1 masks its last two tokens)
    conv_in, time_proj [2, C0], time_embedding [2, 4*C0],
    down_blocks.{i}.resnets.{j}, down_blocks.{i}.attentions.{j}, down_blocks.{i}.downsamplers.0,
    down_blocks.{i} (the block's hidden_states), mid_block.resnets.{j}, mid_block.attentions.{j},
    mid_block, up_blocks.{i}.resnets.{j}, up_blocks.{i}.attentions.{j},
    up_blocks.{i}.upsamplers.0, up_blocks.{i}, conv_norm_out, noise_pred [2, C, S, S]
    and, inside down_blocks.0.attentions.0 (A): A.norm, A.proj_in, A.transformer_blocks.0,
    A.transformer_blocks.0.attn1, A.transformer_blocks.0.attn2, A.transformer_blocks.0.ff,
    A.proj_out (module outputs) and A.transformer_blocks.0.attn2.probs [2, heads, H*W, 7]
    (softmax(q k^T / sqrt(dh) + mask bias), the cross-attention probabilities).
  Two sampler runs, <s> in {ddim, ddpm}, batch 1 (see reference_pipeline.sample):
    <s>.cond [T, D], <s>.cond_mask [T], <s>.uncond [T0, D], <s>.uncond_mask [T0],
    <s>.init_noise [1, C, S, S], <s>.step_noise [N, 1, C, S, S] (zeros where a step drew none),
    <s>.timesteps [N], <s>.noise_pred [N, 1, C, S, S] (guided), <s>.latents [N, 1, C, S, S]
    (after each step), <s>.image [1, C, S, S]; metadata <s>.seed/steps/cfg/eta/sampler.
  With --samplers (a file of its own: samplers_<model>.safetensors), the other samplers
  (reference_pipeline.SAMPLERS), with the ddim run's prompts (<r>.cond, ... as above):
    tf_<s>[_karras]: a short run for the teacher-forced check: <r>.init_noise, <r>.timesteps [E]
      (what the U-Net saw; E calls), <r>.noise_pred [E, 1, C, S, S], <r>.latents [E, 1, C, S, S]
      and, for the samplers that draw noise, <r>.step_noise [E, 1, C, S, S];
    fr_<s>: a 20-step run from the seed alone: <r>.image [1, C, S, S];
    metadata <r>.seed/steps/cfg/sampler/karras.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)

import reference_pipeline as rp  # noqa: E402

INPUT_SEED = 2024
TIMESTEP = 417.0
N_TEXT = 7
COND_PROMPT = "a red circle left of a blue square"
DETAIL = "down_blocks.0.attentions.0"   # the attention block dumped in detail


def hooked_names(unet):
    """Module names whose outputs are dumped, in forward order."""
    names = ["conv_in", "time_proj", "time_embedding"]
    for i, blk in enumerate(unet.down_blocks):
        for j in range(len(blk.resnets)):
            names.append(f"down_blocks.{i}.resnets.{j}")
            if getattr(blk, "attentions", None) is not None and j < len(blk.attentions):
                names.append(f"down_blocks.{i}.attentions.{j}")
        if blk.downsamplers is not None:
            names.append(f"down_blocks.{i}.downsamplers.0")
        names.append(f"down_blocks.{i}")
    mid = unet.mid_block
    names.append("mid_block.resnets.0")
    for j in range(len(mid.attentions)):
        names += [f"mid_block.attentions.{j}", f"mid_block.resnets.{j + 1}"]
    names.append("mid_block")
    for i, blk in enumerate(unet.up_blocks):
        for j in range(len(blk.resnets)):
            names.append(f"up_blocks.{i}.resnets.{j}")
            if getattr(blk, "attentions", None) is not None and j < len(blk.attentions):
                names.append(f"up_blocks.{i}.attentions.{j}")
        if blk.upsamplers is not None:
            names.append(f"up_blocks.{i}.upsamplers.0")
        names.append(f"up_blocks.{i}")
    names.append("conv_norm_out")
    if DETAIL in dict(unet.named_modules()):
        names += [f"{DETAIL}.norm", f"{DETAIL}.proj_in", f"{DETAIL}.transformer_blocks.0.attn1",
                  f"{DETAIL}.transformer_blocks.0.attn2", f"{DETAIL}.transformer_blocks.0.ff",
                  f"{DETAIL}.transformer_blocks.0", f"{DETAIL}.proj_out"]
    return names


def _first_tensor(out):
    if isinstance(out, torch.Tensor):
        return out
    if hasattr(out, "sample"):        # Transformer2DModelOutput
        return out.sample
    if isinstance(out, (tuple, list)):  # (hidden_states, res_samples)
        return out[0]
    raise TypeError(type(out))


def cross_attention_probs(attn, hidden, context, bias):
    """softmax(q k^T * scale + bias) as [B, heads, N, T]; hidden [B, N, C], context [B, T, D],
    bias [B, 1, T] (the U-Net's (1 - mask) * -10000) or None."""
    b, n, _ = hidden.shape
    t = context.shape[1]
    h = attn.heads
    q = attn.to_q(hidden).reshape(b, n, h, -1).transpose(1, 2)    # [B, h, N, dh]
    k = attn.to_k(context).reshape(b, t, h, -1).transpose(1, 2)   # [B, h, T, dh]
    scores = (q @ k.transpose(-1, -2)) * attn.scale                # [B, h, N, T]
    if bias is not None:
        scores = scores + bias.reshape(b, 1, 1, t)
    return scores.softmax(-1)


def unet_forward_dump(unet, dim):
    """The one-forward part of the dump: {name: float32 array}."""
    cfg = unet.config
    s, c = cfg.sample_size, cfg.in_channels
    g = torch.Generator().manual_seed(INPUT_SEED)
    sample = torch.randn([2, c, s, s], generator=g)
    text = torch.randn([2, N_TEXT, dim], generator=g)
    mask = torch.ones([2, N_TEXT])
    mask[1, 5:] = 0
    timestep = torch.tensor([TIMESTEP])

    modules = dict(unet.named_modules())
    outs, handles, captured = {}, [], {}
    for name in hooked_names(unet):
        def hook(_m, _inp, out, name=name):
            outs[name] = _first_tensor(out).detach().clone()
        handles.append(modules[name].register_forward_hook(hook))
    attn2_name = f"{DETAIL}.transformer_blocks.0.attn2"
    if attn2_name in modules:
        def pre(_m, args, kwargs):
            captured["hidden"] = args[0] if args else kwargs["hidden_states"]
            captured["context"] = kwargs.get("encoder_hidden_states")
            captured["bias"] = kwargs.get("attention_mask")
        handles.append(modules[attn2_name].register_forward_pre_hook(pre, with_kwargs=True))
    with torch.no_grad():
        pred = unet(sample, timestep, encoder_hidden_states=text,
                    encoder_attention_mask=mask).sample
        if captured:
            attn = modules[attn2_name]
            probs = cross_attention_probs(attn, captured["hidden"], captured["context"],
                                          captured["bias"])
            # self-check: probs @ v through to_out must give the hooked attn2 output
            b, n, _ = captured["hidden"].shape
            v = attn.to_v(captured["context"])                      # [B, T, C]
            v = v.reshape(b, v.shape[1], attn.heads, -1).transpose(1, 2)  # [B, h, T, dh]
            o = (probs @ v).transpose(1, 2).reshape(b, n, -1)       # [B, N, C]
            o = attn.to_out[0](o)
            err = float((o - outs[attn2_name]).abs().max())
            assert err < 1e-4, f"attn2 probs self-check failed: {err}"
            outs[attn2_name + ".probs"] = probs
    for h in handles:
        h.remove()
    result = {"in.sample": sample, "in.timestep": timestep, "in.encoder_hidden_states": text,
              "in.attention_mask": mask}
    result.update(outs)
    result["noise_pred"] = pred
    return result


def sampler_dump(unet, sched_config, null, cond, prefix, seed, steps, cfg, sampler, eta):
    """One sampler run (batch 1): ({name: array}, {metadata})."""
    cond_emb, cond_mask, cond_tokens, cond_text = cond
    uemb, umask = null[0], null[1]
    rec = {}
    image = rp.sample(unet, sched_config, cond_emb, cond_mask, uemb, umask, seed, steps, cfg,
                      sampler, eta, batch=1, threads=0, record=rec)
    t = {
        f"{prefix}.cond": torch.as_tensor(cond_emb), f"{prefix}.cond_mask": torch.as_tensor(cond_mask),
        f"{prefix}.uncond": torch.as_tensor(uemb), f"{prefix}.uncond_mask": torch.as_tensor(umask),
        f"{prefix}.init_noise": rec["init_noise"], f"{prefix}.step_noise": rec["step_noise"],
        f"{prefix}.timesteps": rec["timesteps"], f"{prefix}.noise_pred": rec["noise_pred"],
        f"{prefix}.latents": rec["latents"], f"{prefix}.image": image,
    }
    meta = {f"{prefix}.seed": str(seed), f"{prefix}.steps": str(steps),
            f"{prefix}.cfg": repr(float(cfg)), f"{prefix}.eta": repr(float(eta)),
            f"{prefix}.sampler": sampler, f"{prefix}.prompt": cond_text,
            f"{prefix}.tokens": json.dumps(cond_tokens)}
    return t, meta


NEW_SAMPLERS = ["euler", "euler_a", "heun", "dpmpp_2m", "dpmpp_2m_sde", "unipc", "lms", "pndm"]
KARRAS_RUNS = ["euler", "heun", "lms", "dpmpp_2m", "dpmpp_2m_sde", "unipc"]
NOISY = {"euler_a", "dpmpp_2m_sde"}


def other_sampler_dumps(unet, sched_config, null, cond, seed, cfg, tf_steps, fr_steps):
    """The tf_* and fr_* runs: ({name: array}, {metadata})."""
    tensors, meta = {}, {}
    runs = [(s, False) for s in NEW_SAMPLERS] + [(s, True) for s in KARRAS_RUNS]
    for k, (sampler, karras) in enumerate(runs):
        name = sampler + ("_karras" if karras else "")
        for kind, steps in (("tf", tf_steps), ("fr", fr_steps)):
            if kind == "fr" and karras:
                continue
            prefix = f"{kind}_{name}"
            run_seed = seed + 100 + k
            rec = {}
            try:
                image = rp.sample(unet, sched_config, cond[0], cond[1], null[0], null[1],
                                  run_seed, steps, cfg, sampler, 0.0, batch=1, threads=0,
                                  record=rec, karras=karras)
            except (IndexError, AssertionError) as e:
                # Karras sigmas on the cosine schedule repeat the first timestep: diffusers'
                # step index starts at its second occurrence and runs past the end
                print(f"{prefix}: diffusers fails ({e}); no run", file=sys.stderr)
                continue
            if not torch.all(torch.isfinite(image)):
                print(f"{prefix}: diffusers' result is not finite; no run", file=sys.stderr)
                continue
            if kind == "tf":
                tensors[f"{prefix}.init_noise"] = rec["init_noise"]
                tensors[f"{prefix}.timesteps"] = rec["timesteps"].to(torch.float32)
                tensors[f"{prefix}.noise_pred"] = rec["noise_pred"]
                tensors[f"{prefix}.latents"] = rec["latents"]
                if sampler in NOISY:
                    tensors[f"{prefix}.step_noise"] = rec["step_noise"]
            else:
                tensors[f"{prefix}.image"] = image
            meta.update({f"{prefix}.seed": str(run_seed), f"{prefix}.steps": str(steps),
                         f"{prefix}.cfg": repr(float(cfg)), f"{prefix}.sampler": sampler,
                         f"{prefix}.karras": "1" if karras else "0"})
    return tensors, meta


def cond_prompt(dim):
    """(emb [T, D], mask [T], tokens, text): a real prompt for D = 384, fixed randn [5, D] else."""
    if dim == 384:
        import encode_prompt
        (emb, tokens), = encode_prompt.encode([COND_PROMPT])
        return emb, np.ones([len(tokens)], np.float32), tokens, COND_PROMPT
    g = torch.Generator().manual_seed(INPUT_SEED + 1)
    emb = torch.randn([5, dim], generator=g).numpy()
    return emb, np.ones([5], np.float32), [f"t{i}" for i in range(5)], ""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--ddim-eta", type=float, default=0.0)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--ddim-cfg", type=float, default=3.0)
    ap.add_argument("--ddpm-cfg", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--samplers", action="store_true",
                    help="dump the other samplers' runs (tf_*, fr_*) instead")
    ap.add_argument("--tf-steps", type=int, default=6,
                    help="steps of the other samplers' teacher-forced runs")
    ap.add_argument("--fr-steps", type=int, default=20,
                    help="steps of the other samplers' free runs")
    args = ap.parse_args(argv)

    torch.set_num_threads(2)
    torch.manual_seed(0)
    unet, sched_config, null = rp.load_model(args.model)
    dim = unet.config.cross_attention_dim
    if null is None:
        sys.exit(f"{args.model}: no null_prompt.safetensors")

    tensors = {} if args.samplers else unet_forward_dump(unet, dim)
    meta = {"model": os.path.basename(os.path.normpath(args.model)),
            "in.timestep": repr(TIMESTEP), "input_seed": str(INPUT_SEED),
            "made_by": "tools/dump_reference.py", "torch": torch.__version__.split("+")[0],
            "diffusers": __import__("diffusers").__version__}
    cond = cond_prompt(dim)
    for prefix, sampler, cfg, eta, seed in (
            ("ddim", "ddim", args.ddim_cfg, args.ddim_eta, args.seed),
            ("ddpm", "ddpm", args.ddpm_cfg, 0.0, args.seed + 1)):
        if args.samplers:
            # the prompts only
            tensors.update({f"ddim.cond": torch.as_tensor(cond[0]),
                            f"ddim.cond_mask": torch.as_tensor(cond[1]),
                            f"ddim.uncond": torch.as_tensor(null[0]),
                            f"ddim.uncond_mask": torch.as_tensor(null[1])})
            break
        t, m = sampler_dump(unet, sched_config, null, cond, prefix, seed, args.steps, cfg,
                            sampler, eta)
        tensors.update(t)
        meta.update(m)
    if args.samplers:
        t, m = other_sampler_dumps(unet, sched_config, null, cond, args.seed, args.ddim_cfg,
                                   args.tf_steps, args.fr_steps)
        tensors.update(t)
        meta.update(m)

    arrays = {}
    for k, v in tensors.items():
        a = np.ascontiguousarray(torch.as_tensor(v).detach().to(torch.float32).numpy())
        if not np.all(np.isfinite(a)):
            sys.exit(f"{k}: not finite")
        arrays[k] = a
    meta["names"] = json.dumps(list(arrays))
    import encode_prompt
    encode_prompt.write_safetensors(args.output, arrays, meta)
    total = sum(a.nbytes for a in arrays.values())
    print(json.dumps({"output": args.output, "tensors": len(arrays), "bytes": total}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
