#!/usr/bin/env python3
"""An independent PyTorch check of `xattn eval heatmaps` (denoise mode), and DAAM's own resizing.

diffusers runs the model (its UNet2DConditionModel and DDIMScheduler, not xattn); an attention
processor keeps every cross-attention layer's probabilities of the conditional branch; each
line's image is noised to --strength and denoised with its caption, with guidance. Two
aggregations of the maps are scored the same way (min-max normalised, > tau, IoU with the
object's mask, mean per word kind — docs/eval.md):

  bilinear  xattn's: heads summed, resized bilinearly to the image, layers and heads averaged
  bicubic   DAAM's: each head resized bicubically and clamped at 0, then averaged

The initial noise comes from torch's generator, not xattn's, so single images differ; the
means over 200 lines are what compare.

    .venv/bin/python tools/research/heatmap_miou_reference.py --prompts assets/eval/holdout200/prompts.jsonl
"""
import argparse
import json
import os

import numpy as np


class CaptureProcessor:
    """Plain attention (no masks: one unpadded prompt per call) that keeps cross-attention
    probabilities [heads, HW, T] of batch row 0 while `capture` is set."""

    def __init__(self):
        self.capture, self.maps = False, []

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None,
                 **kwargs):
        cross = encoder_hidden_states is not None
        ctx = encoder_hidden_states if cross else hidden_states
        q, k, v = attn.to_q(hidden_states), attn.to_k(ctx), attn.to_v(ctx)
        b, n, c = q.shape
        h = attn.heads
        q, k, v = (t.view(b, -1, h, c // h).transpose(1, 2) for t in (q, k, v))
        p = (q @ k.transpose(-1, -2) * attn.scale).softmax(-1)
        if cross and self.capture:
            self.maps.append(p[0].clone())
        out = (p @ v).transpose(1, 2).reshape(b, n, c)
        return attn.to_out[1](attn.to_out[0](out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", default="weights/shapes32")
    ap.add_argument("--prompts", required=True, help="a prompt file made with --with-images")
    ap.add_argument("--strength", type=float, default=0.5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cfg", type=float, default=7.5)
    ap.add_argument("--threshold", type=float, default=0.4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F
    from diffusers import DDIMScheduler, UNet2DConditionModel
    from PIL import Image
    from safetensors import safe_open

    torch.set_num_threads(args.threads)
    unet = UNet2DConditionModel.from_pretrained(os.path.join(args.model, "unet")).eval()
    sched = DDIMScheduler.from_pretrained(os.path.join(args.model, "scheduler"))
    proc = CaptureProcessor()
    unet.set_attn_processor(proc)
    size = unet.config.sample_size

    def load_embedding(path):
        f = safe_open(path, "pt")
        return f.get_tensor("encoder_hidden_states")[None], json.loads(f.metadata()["tokens"])

    null, _ = load_embedding(os.path.join(args.model, "null_prompt.safetensors"))
    base = os.path.dirname(args.prompts)
    with open(os.path.join(base, "data", "world.json")) as f:  # kept by --with-images
        world = json.load(f)
    colors = {c["name"] for c in world["colors"]}
    shapes = set(world["shapes"]) | set(world["shape_plurals"])
    scores = {m: {"shape": [], "color": []} for m in ("bilinear", "bicubic")}
    with open(args.prompts) as f:
        lines = [json.loads(line) for line in f]
    for li, line in enumerate(lines):
        emb, tokens = load_embedding(os.path.join(base, line["embedding"]))
        words = []  # token indices of each word: special tokens out, "##" pieces merged
        for i, t in enumerate(tokens[1:-1], 1):
            if t.startswith("##"):
                words[-1].append(i)
            else:
                words.append([i])
        rgb = np.asarray(Image.open(os.path.join(base, line["image"])).convert("RGB"))
        x0 = torch.tensor(rgb, dtype=torch.float32).permute(2, 0, 1)[None] / 127.5 - 1
        mask = np.asarray(Image.open(os.path.join(base, line["mask"])))
        sched.set_timesteps(args.steps)
        run = sched.timesteps[args.steps - int(args.steps * args.strength):]
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(li))
        x = sched.add_noise(x0, noise, run[:1])
        acc = {m: torch.zeros(len(tokens), size, size) for m in scores}
        with torch.no_grad():
            for t in run:
                uncond = unet(x, t, null).sample
                proc.maps.clear()
                proc.capture = True
                cond = unet(x, t, emb).sample
                proc.capture = False
                for p in proc.maps:  # [heads, HW, T]
                    h, hw, n_tok = p.shape
                    side = int(round(hw ** 0.5))
                    m4 = p.permute(0, 2, 1).reshape(h, n_tok, side, side)
                    bl = F.interpolate(m4.sum(0)[None], size=(size, size), mode="bilinear",
                                       align_corners=False)[0] / h
                    bc = F.interpolate(m4, size=(size, size), mode="bicubic",
                                       align_corners=False).clamp(min=0).mean(0)
                    acc["bilinear"] += bl / len(proc.maps)
                    acc["bicubic"] += bc / len(proc.maps)
                x = sched.step(uncond + args.cfg * (cond - uncond), t, x).prev_sample
        caption = line["prompt"].split()
        for obj in line["objects"]:
            values = obj["mask_index"] if isinstance(obj["mask_index"], list) else [obj["mask_index"]]
            truth = np.isin(mask, values)
            for wi in obj["words"]:
                kind = "shape" if caption[wi] in shapes else "color" if caption[wi] in colors else None
                if kind is None:
                    continue
                for method, maps in acc.items():
                    wm = maps[words[wi]].mean(0).numpy()
                    lo, hi = wm.min(), wm.max()
                    region = (wm - lo) / (hi - lo) > args.threshold if hi > lo else np.zeros_like(truth)
                    scores[method][kind].append((region & truth).sum() / max(1, (region | truth).sum()))
    for method, by_kind in scores.items():
        print(f"{method:8s} shape-noun mIoU {np.mean(by_kind['shape']):.4f} ({len(by_kind['shape'])} words), "
              f"colour-adjective mIoU {np.mean(by_kind['color']):.4f} ({len(by_kind['color'])} words)")


if __name__ == "__main__":
    main()
