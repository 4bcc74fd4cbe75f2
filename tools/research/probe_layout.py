#!/usr/bin/env python3
"""Does the model place an object where its caption says, at the start of sampling?

    .venv/bin/python tools/research/probe_layout.py
        [-m weights/shapes32 | --checkpoint CKPT.pt [--ema]] [--draws 16]

At the first sampling steps the input is (almost) pure noise, so the layout of the image can
only come from the caption. For "a large red square in the top left corner" and the other
three corners, this feeds N noise draws at t = 999, 979 and 959 (the first three steps of
50-step trailing DDIM), turns each v prediction into the predicted image
x0' = sqrt(abar) x_t - sqrt(1 - abar) v, averages x0' over the draws and prints the centroid
of its red excess max(0, R - (G + B) / 2) with the peak of that excess: a model that reads the
position words puts the four centroids near the four corners (the dataset's corner objects
sit about 8 px from each edge); one that does not puts all four near the centre (15.5, 15.5).
Plain PyTorch + diffusers on the CPU, ~20 s.
"""
import argparse
import os
import sys

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # for encode_prompt etc.
sys.path.insert(0, TOOLS)

CORNERS = ("top left", "top right", "bottom left", "bottom right")
STEPS = (999, 979, 959)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", default=os.path.join(TOOLS, "..", "weights", "shapes32"))
    ap.add_argument("--checkpoint", help="a tools/train.py checkpoint instead of --model")
    ap.add_argument("--ema", action="store_true", help="the checkpoint's EMA weights (default: raw)")
    ap.add_argument("--draws", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import torch
    from diffusers import UNet2DConditionModel
    from encode_prompt import encode_many
    from reference_pipeline import _pad, _quiet_diffusers, load_model, make_scheduler

    torch.set_num_threads(args.threads)
    if args.checkpoint:
        _quiet_diffusers()
        ck = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
        unet = UNet2DConditionModel(**ck["config"]).eval()
        unet.load_state_dict(ck["ema" if args.ema else "unet"])
        sched_config = ck["schedule"]
        source = f"{args.checkpoint} step {ck['step']} ({'EMA' if args.ema else 'raw'})"
    else:
        unet, sched_config, _ = load_model(args.model)
        source = args.model
    sched = make_scheduler(sched_config, "ddpm")
    if sched.config.prediction_type != "v_prediction":
        sys.exit("probe_layout.py: the model predicts " + sched.config.prediction_type + ", not v")
    abar = sched.alphas_cumprod

    captions = [f"a large red square in the {c} corner" for c in CORNERS]
    rows = [(torch.from_numpy(e), torch.ones(len(e))) for e, _ in encode_many(captions)]
    t_max = max(len(e) for e, _ in rows)
    padded = [_pad(e, m, t_max) for e, m in rows]
    emb = torch.stack([e for e, _ in padded])                      # [4, T, 384]
    mask = torch.stack([m for _, m in padded])                     # [4, T]

    gen = torch.Generator().manual_seed(0)
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    n = args.draws
    print(f"{source}: centroid (x, y) of the red excess of the mean predicted image over {n} "
          "noise draws, and its peak")
    print(f"{'t':>4}  " + "  ".join(f"{c:>20}" for c in CORNERS))
    for t in STEPS:
        noise = torch.randn(n, 3, 32, 32, generator=gen)
        a, s = abar[t].sqrt(), (1 - abar[t]).sqrt()
        cells = []
        for i in range(len(captions)):
            with torch.no_grad():
                v = unet(noise, torch.full((n,), t), emb[i:i + 1].expand(n, -1, -1),
                         encoder_attention_mask=mask[i:i + 1].expand(n, -1)).sample
            x0 = (a * noise - s * v).mean(0)                        # [3, 32, 32]
            red = (x0[0] - 0.5 * (x0[1] + x0[2])).clamp(min=0)
            w = red / red.sum().clamp(min=1e-12)
            cells.append(f"({(w * xs).sum():4.1f}, {(w * ys).sum():4.1f}) {red.max():.2f}")
        print(f"{t:>4}  " + "  ".join(f"{c:>20}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
