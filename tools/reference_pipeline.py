#!/usr/bin/env python3
"""The reference sampler: exactly what the C engine does, written with diffusers and torch.

    reference_pipeline.py -m MODEL -p PROMPT.safetensors [-n NEGATIVE.safetensors] [-s SEED]
        [--steps N] [--cfg S] [--sampler NAME] [--karras] [--eta E] [--batch B] [--threads T]
        [--raw OUT.safetensors] -o OUT.png

prints one JSON line on stdout:
    {"seconds_per_image": sampling time / batch, "load_seconds": model + prompt loading,
     "warmup_seconds": one untimed forward before sampling (--no-warmup skips it),
     "peak_rss_mb": ru_maxrss, ...}

The algorithm (sample()):
    scheduler = <the sampler's class>.from_config(model's scheduler config) (SAMPLERS)
    scheduler.set_timesteps(steps)
    generator = torch.Generator().manual_seed(seed)
    latents   = torch.randn([B, C, S, S], generator) * init_noise_sigma
    per step t:
        cfg > 1: one U-Net call on the batch [uncond]*B + [cond]*B (prompts zero-padded to the
                 longer T, the padding masked out through encoder_attention_mask);
                 noise_pred = u + cfg * (c - u)
        else:    one U-Net call on [cond]*B (with its mask)
        latents = scheduler.step(noise_pred, t, latents, eta (DDIM only), generator (where the
                                 scheduler takes one)).prev_sample
    image = latents (float, unclamped; a PNG pixel is round(clamp(x / 2 + 0.5, 0, 1) * 255))
The U-Net input is scheduler.scale_model_input(latents, t) (x / sqrt(sigma^2 + 1) for the sigma
samplers). The noise a step draws (DDIM with eta > 0; DDPM when t > 0; Euler a and DPM++ 2M SDE
every step) comes from the same generator,
after the initial noise, in step order.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)


def _quiet_diffusers():
    from diffusers.utils import logging as df_logging
    df_logging.set_verbosity_error()


# --- loading -----------------------------------------------------------------------------------

def load_prompt(path):
    """(emb float32 [T, D], mask float32 [T], tokens [T], text) from a prompt-embedding file
    (safetensors: encoder_hidden_states [T, D] or [1, T, D], optional attention_mask [T] or
    [1, T]; or a NumPy .npy [T, D])."""
    if path.endswith(".npy"):
        emb = np.load(path).astype(np.float32)
        if emb.ndim == 3 and emb.shape[0] == 1:
            emb = emb[0]
        if emb.ndim != 2:
            raise ValueError(f"{path}: expected [T, D], got {list(emb.shape)}")
        return emb, np.ones([emb.shape[0]], np.float32), [f"t{i}" for i in range(len(emb))], ""
    from safetensors import safe_open
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
        emb = f.get_tensor("encoder_hidden_states").float()
        mask = f.get_tensor("attention_mask").float() if "attention_mask" in f.keys() else None
    if emb.ndim == 3 and emb.shape[0] == 1:
        emb = emb[0]
    if emb.ndim != 2:
        raise ValueError(f"{path}: encoder_hidden_states: expected [T, D], got {list(emb.shape)}")
    if mask is None:
        mask = torch.ones(emb.shape[0])
    mask = mask.reshape(-1)
    if mask.shape[0] != emb.shape[0]:
        raise ValueError(f"{path}: attention_mask has {mask.shape[0]} entries, want {emb.shape[0]}")
    tokens = json.loads(meta["tokens"]) if "tokens" in meta else [f"t{i}" for i in range(len(emb))]
    return emb.numpy(), mask.numpy(), tokens, meta.get("prompt", "")


def load_model(model_dir):
    """(unet float32 eval, scheduler config dict, null prompt (emb, mask, tokens, text) or None).
    F16/BF16 weights are loaded as stored and computed in float32."""
    from diffusers import UNet2DConditionModel
    _quiet_diffusers()
    unet = UNet2DConditionModel.from_pretrained(model_dir, subfolder="unet")
    unet = unet.to(torch.float32).eval()
    with open(os.path.join(model_dir, "scheduler", "scheduler_config.json")) as f:
        sched_config = json.load(f)
    null_path = os.path.join(model_dir, "null_prompt.safetensors")
    null = load_prompt(null_path) if os.path.exists(null_path) else None
    return unet, sched_config, null


# xattn's sampler names: diffusers' class and the keys the name sets (as from_config(config,
# **keys) does)
SAMPLERS = {
    "ddim": ("DDIMScheduler", {}),
    "ddpm": ("DDPMScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
    "dpmpp_2m_sde": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
}
KARRAS_SAMPLERS = {"euler", "heun", "lms", "dpmpp_2m", "dpmpp_2m_sde", "unipc"}


def make_scheduler(config, sampler, karras=False):
    """A fresh scheduler of xattn's sampler `sampler` from a scheduler config (dict or
    scheduler); karras sets use_karras_sigmas."""
    import diffusers
    _quiet_diffusers()
    if hasattr(config, "config"):
        config = config.config
    config = {k: v for k, v in dict(config).items() if k != "_class_name"}
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r} ({', '.join(SAMPLERS)})")
    cls, keys = SAMPLERS[sampler]
    keys = dict(keys)
    if karras:
        if sampler not in KARRAS_SAMPLERS:
            raise ValueError(f"{sampler} has no Karras sigmas")
        keys["use_karras_sigmas"] = True
    return getattr(diffusers, cls).from_config(config, **keys)


def step(sched, sampler, noise_pred, t, latents, eta, generator):
    """scheduler.step with the arguments this scheduler takes."""
    import inspect
    kw = {}
    params = inspect.signature(sched.step).parameters
    if sampler == "ddim":
        kw["eta"] = eta
    if "generator" in params:
        kw["generator"] = generator
    return sched.step(noise_pred, t, latents, **kw).prev_sample


# --- sampling ----------------------------------------------------------------------------------

def _as_tensor(x):
    return x.float() if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x, np.float32))


def _pad(emb, mask, t):
    """emb [T0, D], mask [T0] -> [t, D], [t], zero-padded; the padding is masked out."""
    n = emb.shape[0]
    if n == t:
        return emb, mask
    emb = torch.cat([emb, torch.zeros([t - n, emb.shape[1]])], 0)
    mask = torch.cat([mask, torch.zeros([t - n])], 0)
    return emb, mask


def text_batch(cond_emb, cond_mask, uncond_emb, uncond_mask, batch, guided):
    """The U-Net's text input: guided -> [uncond]*B + [cond]*B, else [cond]*B.
    Returns (text [N, T, D], mask [N, T]) with T the longer of the two prompts."""
    ce, cm = _as_tensor(cond_emb), _as_tensor(cond_mask)
    if not guided:
        return ce.unsqueeze(0).repeat(batch, 1, 1), cm.unsqueeze(0).repeat(batch, 1)
    ue, um = _as_tensor(uncond_emb), _as_tensor(uncond_mask)
    if ue.shape[1] != ce.shape[1]:
        raise ValueError(f"uncond width {ue.shape[1]} != cond width {ce.shape[1]}")
    t = max(ce.shape[0], ue.shape[0])
    ce, cm = _pad(ce, cm, t)
    ue, um = _pad(ue, um, t)
    text = torch.stack([ue] * batch + [ce] * batch)   # [2B, T, D]
    mask = torch.stack([um] * batch + [cm] * batch)   # [2B, T]
    return text, mask


def sample(unet, scheduler, cond_emb, cond_mask, uncond_emb, uncond_mask, seed, steps, cfg,
           sampler="ddim", eta=0.0, batch=1, threads=0, record=None, karras=False):
    """Images [batch, C, S, S] float32 (unclamped) for one prompt.

    scheduler: the model's scheduler config (dict) or a scheduler whose .config is used.
    cond_emb [T, D], cond_mask [T] (None: all ones); uncond_* the same for the negative/null
    prompt (needed when cfg > 1). record (a dict) receives:
        timesteps  [E]                     the timesteps the U-Net saw (E = len(sched.timesteps):
                                           steps, Heun 2 steps - 1, PNDM steps + 1 or + 9)
        init_noise [B, C, S, S]            the initial randn (before init_noise_sigma)
        step_noise [E, B, C, S, S]         the noise each step drew (zeros where none)
        noise_pred [E, B, C, S, S]         the guided prediction each step
        latents    [E, B, C, S, S]         the latents after each step
        model_in   [E, B, C, S, S]         scale_model_input(latents) (the U-Net's input)
    """
    if threads and threads > 0:
        torch.set_num_threads(threads)
    sched = make_scheduler(scheduler, sampler, karras)
    sched.set_timesteps(steps)
    cfg_ = unet.config
    shape = [batch, cfg_.in_channels, cfg_.sample_size, cfg_.sample_size]
    guided = cfg > 1.0
    if cond_mask is None:
        cond_mask = np.ones([np.asarray(cond_emb).shape[0]], np.float32)
    if guided:
        if uncond_emb is None:
            raise ValueError("cfg > 1 needs an unconditional (null) prompt")
        if uncond_mask is None:
            uncond_mask = np.ones([np.asarray(uncond_emb).shape[0]], np.float32)
    d = np.asarray(cond_emb).shape[1]
    if d != cfg_.cross_attention_dim:
        raise ValueError(f"prompt width {d} != the model's cross_attention_dim "
                         f"{cfg_.cross_attention_dim}")
    text, mask = text_batch(cond_emb, cond_mask, uncond_emb, uncond_mask, batch, guided)

    generator = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(shape, generator=generator, dtype=torch.float32)
    latents = noise * sched.init_noise_sigma
    rec_step_noise, rec_pred, rec_latents, rec_in = [], [], [], []
    with torch.no_grad():
        for t in sched.timesteps:
            x = sched.scale_model_input(latents, t)
            x_in = torch.cat([x, x]) if guided else x
            out = unet(x_in, t, encoder_hidden_states=text, encoder_attention_mask=mask).sample
            if guided:
                u, c = out.chunk(2)
                noise_pred = u + cfg * (c - u)
            else:
                noise_pred = out
            state = generator.get_state()
            latents = step(sched, sampler, noise_pred, t, latents, eta, generator)
            if record is not None:
                if torch.equal(state, generator.get_state()):
                    drawn = torch.zeros(shape)
                else:  # re-draw what the step drew from a copy of the pre-step state
                    replay = torch.Generator().set_state(state)
                    drawn = torch.randn(noise_pred.shape, generator=replay, dtype=noise_pred.dtype)
                    assert torch.equal(replay.get_state(), generator.get_state())
                rec_step_noise.append(drawn)
                rec_pred.append(noise_pred.clone())
                rec_in.append(x.clone())
                rec_latents.append(latents.clone())
    if record is not None:
        record["timesteps"] = sched.timesteps.clone()
        record["init_noise"] = noise
        record["step_noise"] = torch.stack(rec_step_noise)
        record["noise_pred"] = torch.stack(rec_pred)
        record["latents"] = torch.stack(rec_latents)
        record["model_in"] = torch.stack(rec_in)
    return latents


def warmup(unet, batch, guided, n_tokens):
    """One untimed U-Net forward of the sampling batch's shape (draws no random numbers)."""
    c = unet.config
    n = 2 * batch if guided else batch
    x = torch.zeros([n, c.in_channels, c.sample_size, c.sample_size])
    text = torch.zeros([n, n_tokens, c.cross_attention_dim])
    with torch.no_grad():
        unet(x, torch.tensor(500), encoder_hidden_states=text,
             encoder_attention_mask=torch.ones([n, n_tokens]))


# --- output ------------------------------------------------------------------------------------

def to_pixels(image):
    """[C, S, S] in [-1, 1] -> uint8 [S, S, C]: round(clamp(x / 2 + 0.5, 0, 1) * 255)."""
    x = ((image / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
    return x.permute(1, 2, 0).numpy()


def write_png(path, image):
    from PIL import Image
    px = to_pixels(image)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(px.shape[2])
    if mode is None:
        raise ValueError(f"cannot write {px.shape[2]} channels as PNG")
    img = Image.fromarray(px[:, :, 0] if mode == "L" else px, mode)
    tmp = path + ".tmp.png"
    img.save(tmp)
    os.replace(tmp, path)


def batch_paths(out, batch):
    """OUT.png for one image, OUT-0.png ... OUT-(B-1).png for several."""
    if batch == 1:
        return [out]
    stem, ext = os.path.splitext(out)
    return [f"{stem}-{i}{ext or '.png'}" for i in range(batch)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-p", "--prompt", required=True)
    ap.add_argument("-n", "--negative", help="negative prompt file (default: the null prompt)")
    ap.add_argument("-s", "--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--cfg", type=float, default=7.5)
    ap.add_argument("--sampler", choices=list(SAMPLERS), default="ddim")
    ap.add_argument("--karras", action="store_true", help="use_karras_sigmas")
    ap.add_argument("--eta", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("-t", "--threads", type=int, default=0, help="0 = torch's default")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="skip the untimed warm-up forward (its time is reported apart)")
    ap.add_argument("--raw", help="also write the float images [B, C, S, S] to this safetensors")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    if args.steps < 1 or args.batch < 1:
        ap.error("--steps and --batch must be >= 1")

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    unet, sched_config, null = load_model(args.model)
    cond, cmask, _, text = load_prompt(args.prompt)
    if args.negative:
        unc, umask, _, _ = load_prompt(args.negative)
    elif null is not None:
        unc, umask = null[0], null[1]
    else:
        unc = umask = None
    load_s = time.perf_counter() - t0

    # torch's first forward builds its kernels (seconds); time it apart from the sampling
    t2 = time.perf_counter()
    if args.warmup:
        warmup(unet, args.batch, args.cfg > 1.0, cond.shape[0])
    warmup_s = time.perf_counter() - t2

    t1 = time.perf_counter()
    images = sample(unet, sched_config, cond, cmask, unc, umask, args.seed, args.steps, args.cfg,
                    args.sampler, args.eta, args.batch, args.threads, karras=args.karras)
    sample_s = time.perf_counter() - t1

    for path, img in zip(batch_paths(args.output, args.batch), images):
        write_png(path, img)
    if args.raw:
        import encode_prompt
        encode_prompt.write_safetensors(
            args.raw, {"images": images.numpy()},
            {"prompt": text, "seed": str(args.seed), "steps": str(args.steps),
             "cfg": repr(args.cfg), "sampler": args.sampler, "eta": repr(args.eta),
             "model": args.model})
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    print(json.dumps({"seconds_per_image": sample_s / args.batch, "sample_seconds": sample_s,
                      "load_seconds": load_s, "warmup_seconds": warmup_s,
                      "peak_rss_mb": round(rss_mb, 1),
                      "batch": args.batch, "steps": args.steps, "threads":
                      torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
