#!/usr/bin/env python3
"""Dump an image-to-image reference run for the C test of `xattn denoise` (xattn_denoise).

    dump_img2img_reference.py [-m tests/data/models/tiny_linear_v]
        [-o tests/data/reference/img2img_tiny_linear_v.safetensors]
        [--image tests/data/reference/img2img_input.png]

diffusers' StableDiffusionImg2ImgPipeline in pixel space (no VAE), with the sampling loop of
reference_pipeline.sample:
    scheduler = DDIMScheduler.from_config(model's scheduler config); set_timesteps(steps)
    init_timestep = min(int(steps * strength), steps); first = max(steps - init_timestep, 0)
    timesteps = scheduler.timesteps[first:]                    (diffusers' get_timesteps)
    generator = torch.Generator().manual_seed(seed)
    noise  = randn([1, C, S, S], generator)                   (draw 0)
    x      = scheduler.add_noise(init, noise, timesteps[:1])
    per step: guided U-Net call [uncond, cond]; x = scheduler.step(pred, t, x, eta, generator)
              (with eta > 0 each step draws randn([1, C, S, S]) from the same generator)
The input image is a fixed 16x16 RGB picture (a red disc and a blue bar on gray) written as a
PNG; init = pixels / 127.5 - 1 ([1, 3, 16, 16]), as diffusers' image processor maps [0, 255].

Tensors (F32): init [1, C, S, S], cond [T, D], cond_mask [T], uncond [T0, D], uncond_mask [T0],
noise [1, C, S, S], step_noise [n, 1, C, S, S] (one row per step run; zeros where none drawn),
timesteps [n] (the steps run), noisy [1, C, S, S] (x after add_noise), image [1, C, S, S].
Metadata: seed, steps, strength, cfg, eta, sampler, first_step.
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


def input_pixels(size):
    """uint8 [size, size, 3]: a red disc top left and a blue bar bottom right on gray."""
    px = np.full([size, size, 3], 128, np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    disc = (yy - size * 0.3) ** 2 + (xx - size * 0.3) ** 2 <= (size * 0.22) ** 2
    px[disc] = [220, 30, 30]
    bar = (yy >= size * 0.6) & (yy < size * 0.8) & (xx >= size * 0.45) & (xx < size * 0.95)
    px[bar] = [20, 40, 210]
    return px


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", default="tests/data/models/tiny_linear_v")
    ap.add_argument("-o", "--output", default="tests/data/reference/img2img_tiny_linear_v.safetensors")
    ap.add_argument("--image", default="tests/data/reference/img2img_input.png")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--strength", type=float, default=0.65)
    ap.add_argument("--cfg", type=float, default=3.0)
    ap.add_argument("--eta", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    unet, sched_config, null = rp.load_model(args.model)
    if null is None:
        sys.exit(f"{args.model}: no null_prompt.safetensors")
    c = unet.config
    shape = [1, c.in_channels, c.sample_size, c.sample_size]
    if c.in_channels != 3:
        sys.exit(f"{args.model}: an RGB input needs in_channels 3")

    px = input_pixels(c.sample_size)
    from PIL import Image
    os.makedirs(os.path.dirname(os.path.abspath(args.image)), exist_ok=True)
    Image.fromarray(px, "RGB").save(args.image)
    px = np.asarray(Image.open(args.image).convert("RGB"))  # what the C side reads back
    init = torch.from_numpy(px.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1).unsqueeze(0)

    g = torch.Generator().manual_seed(2025)
    cond_emb = torch.randn([5, c.cross_attention_dim], generator=g)
    cond_mask = torch.ones([5])
    uemb, umask = torch.as_tensor(null[0]), torch.as_tensor(null[1])
    text, mask = rp.text_batch(cond_emb, cond_mask, uemb, umask, 1, True)

    sched = rp.make_scheduler(sched_config, "ddim")
    sched.set_timesteps(args.steps)
    init_timestep = min(int(args.steps * args.strength), args.steps)
    first = max(args.steps - init_timestep, 0)
    timesteps = sched.timesteps[first * sched.order:]
    if hasattr(sched, "set_begin_index"):
        sched.set_begin_index(first * sched.order)

    generator = torch.Generator().manual_seed(args.seed)
    noise = torch.randn(shape, generator=generator, dtype=torch.float32)
    x = sched.add_noise(init, noise, timesteps[:1])
    noisy = x.clone()
    step_noise = []
    with torch.no_grad():
        for t in timesteps:
            xin = sched.scale_model_input(x, t)
            out = unet(torch.cat([xin, xin]), t, encoder_hidden_states=text,
                       encoder_attention_mask=mask).sample
            u, cnd = out.chunk(2)
            pred = u + args.cfg * (cnd - u)
            state = generator.get_state()
            x = sched.step(pred, t, x, eta=args.eta, generator=generator).prev_sample
            if torch.equal(state, generator.get_state()):
                step_noise.append(torch.zeros(shape))
            else:
                replay = torch.Generator().set_state(state)
                step_noise.append(torch.randn(shape, generator=replay, dtype=torch.float32))
    arrays = {"init": init, "cond": cond_emb, "cond_mask": cond_mask, "uncond": uemb,
              "uncond_mask": umask, "noise": noise, "step_noise": torch.stack(step_noise),
              "timesteps": timesteps.float(), "noisy": noisy, "image": x}
    arrays = {k: np.ascontiguousarray(torch.as_tensor(v).float().numpy()) for k, v in arrays.items()}
    for k, a in arrays.items():
        if not np.all(np.isfinite(a)):
            sys.exit(f"{k}: not finite")
    meta = {"seed": str(args.seed), "steps": str(args.steps), "strength": repr(args.strength),
            "cfg": repr(args.cfg), "eta": repr(args.eta), "sampler": "ddim",
            "first_step": str(first), "model": os.path.basename(os.path.normpath(args.model)),
            "made_by": "tools/dump_img2img_reference.py",
            "torch": torch.__version__.split("+")[0],
            "diffusers": __import__("diffusers").__version__}
    import encode_prompt
    encode_prompt.write_safetensors(args.output, arrays, meta)
    print(json.dumps({"output": args.output, "first_step": first,
                      "timesteps": [int(t) for t in timesteps]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
