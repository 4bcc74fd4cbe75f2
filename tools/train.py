#!/usr/bin/env python3
"""Train the shapes-world model: a diffusers UNet2DConditionModel conditioned on
all-MiniLM-L6-v2 caption embeddings, exported as a diffusers folder that xattn loads.

    tools/train.py                       # train (or resume) with the defaults below
    tools/train.py --export-only         # write weights/shapes32 from the latest checkpoint
    tools/train.py --bench               # images/s of one training step, then exit

State lives outside the repository (default ~/.cache/xattn-train): the dataset drawn by
`xattn dataset`, its decoded images, the caption-embedding cache and the checkpoint. The
checkpoint is written atomically (temporary file + rename) every --checkpoint-minutes, so a
killed run resumes where it stopped; SIGTERM or Ctrl-C finishes the step and writes the
checkpoint before stopping. On a machine without the checkpoint, training continues
from the exported weights in --out (EMA weights and training.json; the optimizer restarts). Runs on the CPU (--threads, default 1 so one core stays
free) or on CUDA when present.

Recipe (see weights/shapes32/MODEL_CARD.md for what was tried): v-prediction on a cosine
(squaredcos_cap_v2) schedule, min-SNR-5 loss weighting, AdamW with warm-up and cosine decay,
EMA of the weights, 10% guidance dropout to the empty prompt. On 32x32 images of flat shapes
the layout is already visible in x_t at t ~ 950, so the caption decides it only in the last
few percent of the schedule, where min-SNR gives the loss almost no weight; --snr-floor 1
(x0 loss weight at least 1 there) and --high-noise P (a share P of each batch drawn from
t >= --high-from) give those steps their weight back (tools/research/probe_layout.py measures it).
--ground W and --ground-pixel W add TokenCompose's token and pixel losses on the cross-attention
maps (grounding_loss below): each object word's attention is pulled onto its object's mask from
the dataset's ground truth; --ground-below T keeps them to the images noised to t < T (above it
x_t holds little of the layout for the maps to find).
"""
import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

MODEL_CONFIG = dict(
    sample_size=32,
    in_channels=3,
    out_channels=3,
    block_out_channels=(32, 64, 64),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    layers_per_block=1,
    attention_head_dim=4,  # diffusers' legacy name: the number of heads
    norm_num_groups=16,
    cross_attention_dim=384,
    use_linear_projection=True,
)
SCHEDULE = dict(
    num_train_timesteps=1000,
    beta_schedule="squaredcos_cap_v2",
    prediction_type="v_prediction",
    clip_sample=False,
)
MAX_TOKENS = 24  # captions are at most ~20 tokens; longer ones are cut (and reported)


def log(msg):
    print(msg, flush=True)


# --------------------------------------------------------------------------------------------
# data: images from `xattn dataset`, captions encoded once


def ensure_dataset(data_dir, count, seed, xattn_bin):
    truth = os.path.join(data_dir, "truth.jsonl")
    if os.path.exists(truth):
        return
    log(f"drawing {count} training images into {data_dir}")
    subprocess.run([xattn_bin, "dataset", "-o", data_dir, "--count", str(count), "--seed",
                    str(seed), "--split", "train", "--format", "npy"], check=True)


def load_images(data_dir, records):
    """uint8 [N, 32, 32, 3], decoded once into images.npy."""
    cache = os.path.join(data_dir, "images.npy")
    if os.path.exists(cache):
        return np.load(cache, mmap_mode="r")
    from PIL import Image

    log(f"decoding {len(records)} images")
    arr = np.zeros((len(records), 32, 32, 3), np.uint8)
    for i, r in enumerate(records):
        arr[i] = np.asarray(Image.open(os.path.join(data_dir, r["image"])).convert("RGB"))
    np.save(cache + ".tmp.npy", arr)
    os.replace(cache + ".tmp.npy", cache)
    return arr


def load_embeddings(data_dir, captions):
    """float16 [U, MAX_TOKENS, 384] for the U unique captions, their lengths, and each image's
    caption index; encoded once with all-MiniLM-L6-v2 (encode_prompt.encode_many: padded
    batches, within 1e-5 of encoding one caption at a time) into a cache."""
    path = os.path.join(data_dir, "captions-minilm.npz")
    unique = sorted(set(captions))
    if os.path.exists(path):
        z = np.load(path, allow_pickle=False)
        if z["emb"].shape[1] == MAX_TOKENS and list(z["captions"]) == unique:
            index = {c: i for i, c in enumerate(unique)}
            return z["emb"], z["lengths"], np.array([index[c] for c in captions], np.int64)
    from encode_prompt import encode_many

    log(f"encoding {len(unique)} unique captions")
    emb = np.zeros((len(unique), MAX_TOKENS, 384), np.float16)
    lengths = np.zeros(len(unique), np.int64)
    t0, cut = time.time(), 0
    for start in range(0, len(unique), 256):
        for j, (e, _tokens) in enumerate(encode_many(unique[start:start + 256])):
            n = min(len(e), MAX_TOKENS)
            cut += len(e) > MAX_TOKENS
            emb[start + j, :n] = e[:n]
            lengths[start + j] = n
        if start % 10240 == 0:
            log(f"  {start + 256}/{len(unique)} captions, {time.time() - t0:.0f} s")
    if cut:
        log(f"warning: {cut} captions longer than {MAX_TOKENS} tokens were cut")
    np.savez(path + ".tmp.npz", emb=emb, lengths=lengths, captions=np.array(unique))
    os.replace(path + ".tmp.npz", path)
    index = {c: i for i, c in enumerate(unique)}
    return emb, lengths, np.array([index[c] for c in captions], np.int64)


def load_grounding(data_dir, records):
    """For the grounding loss: uint8 [N, MAX_TOKENS] per image, bit k set on the tokens of the
    caption words that name object k (size, colour, shape: truth.jsonl "words"; a count group's
    shared words name all its objects), and the masks, uint8 [N, 32, 32] (0 background, k + 1
    object k). Cached in grounding.npy."""
    path = os.path.join(data_dir, "grounding.npy")
    masks = np.load(os.path.join(data_dir, "masks.npy"), mmap_mode="r")
    if os.path.exists(path):
        return np.load(path), masks
    from encode_prompt import _load

    tokenizer = _load()[0]
    log(f"mapping the object words of {len(records)} captions to tokens")
    word_tokens = {}  # caption -> token indices of each whitespace word
    out = np.zeros((len(records), MAX_TOKENS), np.uint8)
    for i, r in enumerate(records):
        words = word_tokens.get(r["caption"])
        if words is None:
            pieces = tokenizer.convert_ids_to_tokens(tokenizer(r["caption"])["input_ids"])
            words = []
            for t, piece in enumerate(pieces[1:-1], 1):  # [CLS] ... [SEP]; "##" continues a word
                if piece.startswith("##"):
                    words[-1].append(t)
                else:
                    words.append([t])
            assert len(words) == len(r["caption"].split()), r["caption"]
            word_tokens[r["caption"]] = words
        for k, obj in enumerate(r["objects"]):
            for w in obj["words"]:
                for t in words[w]:
                    if t < MAX_TOKENS:
                        out[i, t] |= 1 << k
    np.save(path + ".tmp.npy", out)
    os.replace(path + ".tmp.npy", path)
    return out, masks


# --------------------------------------------------------------------------------------------
# model, schedule, checkpoint


def build(device):
    import torch
    from diffusers import DDPMScheduler, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(**MODEL_CONFIG).to(device)
    ema = UNet2DConditionModel(**MODEL_CONFIG).to(device)
    ema.load_state_dict(unet.state_dict())
    ema.requires_grad_(False)
    return unet, ema, DDPMScheduler(**SCHEDULE)


class CrossAttentionProbs:
    """Attention processor for the cross-attention layers (attn2) that computes the softmax
    explicitly and keeps its probabilities [B, heads, HW, T] (with their gradient) in `maps`,
    in the order the forward runs the layers, while `keep` is set. Otherwise diffusers'
    AttnProcessor2_0. Only the plain form the trained config uses: [B, HW, C] input, no group
    norm, no cross norm, no residual."""

    def __init__(self):
        from diffusers.models.attention_processor import AttnProcessor2_0

        self.sdpa, self.keep, self.maps = AttnProcessor2_0(), False, []

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None,
                 **kwargs):
        if not self.keep:
            return self.sdpa(attn, hidden_states, encoder_hidden_states, attention_mask, **kwargs)
        b, n, _ = hidden_states.shape
        q = attn.to_q(hidden_states)
        k, v = attn.to_k(encoder_hidden_states), attn.to_v(encoder_hidden_states)
        h, d = attn.heads, q.shape[-1] // attn.heads
        q, k, v = (x.view(b, -1, h, d).transpose(1, 2) for x in (q, k, v))
        scores = q @ k.transpose(-1, -2) * attn.scale                      # [B, h, HW, T]
        if attention_mask is not None:  # the UNet's [B, 1, T] bias of -10000 on padding
            scores = scores + attention_mask.view(b, 1, 1, -1)
        probs = scores.softmax(-1)
        self.maps.append(probs)
        out = (probs @ v).transpose(1, 2).reshape(b, n, h * d)
        return attn.to_out[1](attn.to_out[0](out))


def grounding_loss(maps, token_objects, masks, rows):
    """TokenCompose's two grounding losses (Wang et al., 2024), each averaged over the layers in
    `maps` and the tokens of `rows` (bool [B]) that name an object:
      token: the share of the token's attention (mean over heads) outside its object's mask,
             squared;
      pixel: the binary cross-entropy between the token's attention at each pixel and the mask
             (the mask's area fraction at the layer's resolution), averaged over the pixels.
    token_objects: uint8 [B, T] object bitmasks; masks: uint8 [B, 32, 32] object ids.
    Returns (token, pixel)."""
    import torch
    import torch.nn.functional as F

    bsz, t_max = token_objects.shape
    objects = torch.stack([(masks == k + 1) for k in range(3)], 1).float()   # [B, 3, 32, 32]
    bits = torch.stack([(token_objects >> k) & 1 for k in range(3)], -1).float()  # [B, T, 3]
    target = torch.einsum("btk,bkhw->bthw", bits, objects).clamp(max=1)   # [B, T, 32, 32]
    named = (token_objects > 0) & rows[:, None]                           # [B, T]
    if not named.any():
        return torch.zeros(()), torch.zeros(())
    token, pixel, pooled = [], [], {}  # pooled: the target at each layer side, made once
    for p in maps:
        a = p.mean(1)                                                     # [B, HW, T]
        side = int(round(a.shape[1] ** 0.5))
        if side not in pooled:
            m = F.adaptive_avg_pool2d(target.reshape(bsz * t_max, 1, 32, 32), side)
            pooled[side] = m.reshape(bsz, t_max, side * side).transpose(1, 2)  # [B, HW, T]
        m = pooled[side]
        inside = (a * m).sum(1) / a.sum(1).clamp_min(1e-8)               # [B, T]
        token.append((1 - inside[named]).pow(2).mean())
        bce = F.binary_cross_entropy(a.clamp(1e-6, 1 - 1e-6), m, reduction="none").mean(1)
        pixel.append(bce[named].mean())                                   # bce: [B, T]
    return torch.stack(token).mean(), torch.stack(pixel).mean()


def running_mean(avg, x):
    """The progress line's smoothing: an exponential mean over ~50 steps (None: none yet)."""
    return x if avg is None else 0.98 * avg + 0.02 * x


def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    p = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def save_checkpoint(path, unet, ema, opt, step, images_seen, seconds, rng_state):
    import torch

    tmp = path + ".tmp"
    torch.save(dict(unet=unet.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(),
                    step=step, images_seen=images_seen, seconds=seconds, rng=rng_state,
                    config=MODEL_CONFIG, schedule=SCHEDULE), tmp)
    os.replace(tmp, path)


def export(ckpt, out_dir, hardware):
    """EMA weights -> out_dir in the diffusers layout, plus null_prompt and MODEL_CARD facts."""
    import torch
    from diffusers import DDIMScheduler, UNet2DConditionModel
    from encode_prompt import ENCODER_NAME, encode, save_prompt

    unet = UNet2DConditionModel(**ckpt["config"])
    unet.load_state_dict(ckpt["ema"])
    tmp = out_dir + ".tmp-export"
    if os.path.exists(tmp):
        import shutil

        shutil.rmtree(tmp)
    unet.save_pretrained(os.path.join(tmp, "unet"), safe_serialization=True)
    DDIMScheduler(**ckpt["schedule"], timestep_spacing="trailing", set_alpha_to_one=True) \
        .save_pretrained(os.path.join(tmp, "scheduler"))
    emb, tokens = encode([""])[0]
    save_prompt(os.path.join(tmp, "null_prompt.safetensors"), "", emb, tokens, ENCODER_NAME)
    facts = dict(step=ckpt["step"], images_seen=ckpt["images_seen"],
                 train_seconds=round(ckpt["seconds"]), hardware=hardware,
                 parameters=sum(p.numel() for p in unet.parameters()),
                 config=ckpt["config"], schedule=ckpt["schedule"])
    with open(os.path.join(tmp, "training.json"), "w") as f:
        json.dump(facts, f, indent=2)
    card = os.path.join(out_dir, "MODEL_CARD.md")
    if os.path.exists(card):  # the card is written by hand around these facts: keep it
        import shutil

        shutil.copy(card, os.path.join(tmp, "MODEL_CARD.md"))
    if os.path.exists(out_dir):
        old = out_dir + ".old"
        os.rename(out_dir, old)
        os.rename(tmp, out_dir)
        import shutil

        shutil.rmtree(old)
    else:
        os.rename(tmp, out_dir)
    log(f"exported step {ckpt['step']} ({ckpt['images_seen']} images) to {out_dir}")
    log("new weights change the golden images: review them with `tools/golden.sh update` "
        "(docs/golden.md), and refresh the model card's figures")


# --------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state", default=os.path.expanduser("~/.cache/xattn-train"))
    ap.add_argument("--count", type=int, default=200000, help="training images drawn")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=40000, help="optimizer steps in the LR schedule")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--uncond", type=float, default=0.1, help="guidance dropout probability")
    ap.add_argument("--snr-gamma", type=float, default=5.0)
    ap.add_argument("--snr-floor", type=float, default=0.0,
                    help="lower bound of the x0 loss weight (0: plain min-SNR; 1: truncated SNR)")
    ap.add_argument("--high-noise", type=float, default=0.0,
                    help="share of each batch whose timestep is drawn from [--high-from, 1000)")
    ap.add_argument("--high-from", type=int, default=900)
    ap.add_argument("--ground", type=float, default=0.0,
                    help="weight of the grounding token loss on cross-attention (0 = off)")
    ap.add_argument("--ground-pixel", type=float, default=0.0,
                    help="weight of the grounding pixel loss (with --ground)")
    ap.add_argument("--ground-below", type=int, default=1000,
                    help="grounding losses only on images noised to t < this (1000 = all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--export-every", type=int, default=0, help="also export every N steps")
    ap.add_argument("--out", default=os.path.join(ROOT, "weights", "shapes32"))
    ap.add_argument("--xattn", default=os.path.join(ROOT, "build", "xattn"))
    ap.add_argument("--export-only", action="store_true")
    ap.add_argument("--bench", action="store_true")
    args = ap.parse_args(argv)

    if not 0.0 <= args.high_noise <= 1.0 or not 0 <= args.high_from < 1000 or args.snr_floor < 0:
        ap.error("--high-noise must be in [0, 1], --high-from in [0, 999], --snr-floor >= 0")
    if not 1 <= args.ground_below <= 1000:
        ap.error("--ground-below must be in [1, 1000]")

    import torch

    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    hardware = torch.cuda.get_device_name() if device == "cuda" else \
        f"CPU, {args.threads} thread(s), torch {torch.__version__}"
    os.makedirs(args.state, exist_ok=True)
    ckpt_path = os.path.join(args.state, "checkpoint.pt")

    if args.export_only:
        export(torch.load(ckpt_path, map_location="cpu", weights_only=False), args.out, hardware)
        return 0

    unet, ema, sched = build(device)
    opt = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=0.01)
    acp = sched.alphas_cumprod.to(device)
    snr_all = acp / (1 - acp)

    if args.bench:
        x = torch.randn(args.batch, 3, 32, 32, device=device)
        e = torch.randn(args.batch, 16, 384, device=device)
        for i in range(5):
            if i == 1:
                t0 = time.time()
            t = torch.randint(0, 1000, (args.batch,), device=device)
            loss = (unet(x, t, e).sample - x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        log(f"{args.batch * 4 / (time.time() - t0):.1f} images/s on {hardware}, "
            f"{sum(p.numel() for p in unet.parameters())} parameters")
        return 0

    data_dir = os.path.join(args.state, f"data-{args.count}-{args.seed}")
    ensure_dataset(data_dir, args.count, args.seed, args.xattn)
    with open(os.path.join(data_dir, "truth.jsonl")) as f:
        records = [json.loads(line) for line in f]
    images = load_images(data_dir, records)
    emb, lengths, cap_index = load_embeddings(data_dir, [r["caption"] for r in records])
    from encode_prompt import encode

    null_emb, _ = encode([""])[0]
    null = torch.zeros(MAX_TOKENS, 384)
    null[:len(null_emb)] = torch.from_numpy(null_emb)
    null_mask = torch.zeros(MAX_TOKENS)
    null_mask[:len(null_emb)] = 1
    emb_t = torch.from_numpy(np.asarray(emb))  # float16, converted per batch
    probs = None
    if args.ground:
        token_objects, masks = load_grounding(data_dir, records)
        probs = CrossAttentionProbs()
        unet.set_attn_processor({name: probs if name.endswith("attn2.processor") else
                                 unet.attn_processors[name] for name in unet.attn_processors})
    lengths_t = torch.from_numpy(lengths)
    log(f"{len(records)} images, {len(emb)} unique captions")

    step, images_seen, seconds = 0, 0, 0.0
    gen = torch.Generator().manual_seed(args.seed)
    exported = os.path.join(args.out, "unet", "diffusion_pytorch_model.safetensors")
    if not os.path.exists(ckpt_path) and os.path.exists(exported):
        # no checkpoint on this machine: continue from the exported (EMA) weights in the repo;
        # the optimizer state starts afresh, the LR schedule goes on from the recorded step
        from safetensors.torch import load_file

        weights = load_file(exported)
        unet.load_state_dict(weights)
        ema.load_state_dict(weights)
        with open(os.path.join(args.out, "training.json")) as f:
            facts = json.load(f)
        step, images_seen, seconds = facts["step"], facts["images_seen"], facts["train_seconds"]
        gen.manual_seed(args.seed + step)
        log(f"no checkpoint: continuing from {args.out} at step {step} ({images_seen} images)")
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        unet.load_state_dict(ck["unet"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step, images_seen, seconds = ck["step"], ck["images_seen"], ck["seconds"]
        gen.set_state(ck["rng"])
        log(f"resumed at step {step} ({images_seen} images, {seconds / 3600:.2f} h)")

    # SIGTERM or Ctrl-C: finish the step, write the checkpoint, stop (no export)
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.append(signum))

    n = len(records)
    last_ckpt, t_run, loss_avg, g_avg, p_avg = time.time(), time.time(), None, None, None
    positions = torch.arange(MAX_TOKENS)
    while step < args.steps:
        t_step = time.time()
        idx = torch.randint(0, n, (args.batch,), generator=gen)
        x0 = torch.from_numpy(np.stack([images[i] for i in idx.tolist()])).permute(0, 3, 1, 2)
        x0 = (x0.float() / 127.5 - 1.0).to(device)
        ci = torch.from_numpy(cap_index[idx.numpy()])
        text = emb_t[ci].float()
        mask = (positions[None, :] < lengths_t[ci][:, None]).float()
        drop = torch.rand(args.batch, generator=gen) < args.uncond
        text[drop] = null
        mask[drop] = null_mask
        noise = torch.randn(x0.shape, generator=gen).to(device)
        t = torch.randint(0, 1000, (args.batch,), generator=gen)
        if args.high_noise:  # more of the steps where the caption decides the layout
            high = torch.rand(args.batch, generator=gen) < args.high_noise
            t = torch.where(high, torch.randint(args.high_from, 1000, (args.batch,), generator=gen), t)
        t = t.to(device)
        xt = sched.add_noise(x0, noise, t)
        target = sched.get_velocity(x0, noise, t)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        if probs:
            probs.keep, probs.maps = True, []
        pred = unet(xt, t, text.to(device), encoder_attention_mask=mask.to(device)).sample
        snr = snr_all[t]
        # the x0 loss weight clamp(snr, floor, gamma), as a weight on the v loss (|v - v'|^2 =
        # (1 + snr) |x0 - x0'|^2): min-SNR-gamma with floor 0, truncated SNR with floor 1
        weight = torch.clamp(snr, min=args.snr_floor, max=args.snr_gamma) / (snr + 1)
        d_loss = (weight * (pred - target).pow(2).mean(dim=(1, 2, 3))).mean()
        loss = d_loss
        if probs:
            probs.keep = False
            rows = idx.numpy()
            g_loss, p_loss = grounding_loss(probs.maps,
                                            torch.from_numpy(token_objects[rows]).to(device),
                                            torch.from_numpy(np.asarray(masks[rows])).to(device),
                                            ~drop.to(device) & (t < args.ground_below))
            probs.maps = []
            g_avg, p_avg = running_mean(g_avg, g_loss.item()), running_mean(p_avg, p_loss.item())
            loss = loss + args.ground * g_loss + args.ground_pixel * p_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            decay = min(args.ema, (1 + step) / (10 + step))
            for pe, p in zip(ema.parameters(), unet.parameters()):
                pe.mul_(decay).add_(p.detach(), alpha=1 - decay)
        step += 1
        images_seen += args.batch
        seconds += time.time() - t_step
        loss_avg = running_mean(loss_avg, d_loss.item())
        if step % 50 == 0:
            log(f"step {step}/{args.steps} loss {loss_avg:.4f}"
                + (f" ground {g_avg:.3f} pixel {p_avg:.3f}" if g_avg is not None else "") + f" lr {lr_at(step, args):.2e} "
                f"{args.batch * 50 / (time.time() - t_run):.1f} img/s, {images_seen} images, "
                f"{seconds / 3600:.2f} h")
            t_run = time.time()
        if stop:
            save_checkpoint(ckpt_path, unet, ema, opt, step, images_seen, seconds, gen.get_state())
            log(f"stopped by signal {stop[0]}: checkpoint at step {step} ({images_seen} images)")
            return 0
        if time.time() - last_ckpt > args.checkpoint_minutes * 60 or step == args.steps:
            save_checkpoint(ckpt_path, unet, ema, opt, step, images_seen, seconds, gen.get_state())
            last_ckpt = time.time()
            log(f"checkpoint at step {step}")
        if args.export_every and step % args.export_every == 0:
            save_checkpoint(ckpt_path, unet, ema, opt, step, images_seen, seconds, gen.get_state())
            export(torch.load(ckpt_path, map_location="cpu", weights_only=False), args.out, hardware)
    export(torch.load(ckpt_path, map_location="cpu", weights_only=False), args.out, hardware)
    return 0


if __name__ == "__main__":
    sys.exit(main())
