#!/usr/bin/env python3
"""The benchmark: xattn against the diffusers pipeline, in one run, on one model folder, prompt,
step count and thread count. Prints seconds per image, the ratio, the peak memory of each, the
U-Net's GFLOP/s against cblas_sgemm's rate on a large product measured in the same run, and
how far the two images are apart (the same seed draws the same noise in both); then what heatmap
capture costs xattn (the same generation without capture, with an accumulator as --heatmaps, and
keeping every step as --html, interleaved in one process).

    tools/bench.sh [--model DIR] [--prompt FILE] [--steps N] [--threads T] [--runs K]
                   [--sampler NAME] [--karras]   (xattn's names: ddim ... pndm; both programs
                                                  run the same diffusers scheduler)

The two programs run in K alternating rounds (one process each per round: a warm-up, then one
timed sampling), and the ratio printed is the median of the rounds' ratios.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    """(stdout's last JSON line, peak RSS in MB) of a child process."""
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "passive")  # what the xattn program sets for itself
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return (json.loads(lines[-1]) if lines else {}), usage.ru_maxrss / 1024.0


def main():
    default_model = "weights/shapes32" if os.path.isdir(os.path.join(ROOT, "weights/shapes32")) \
        else "weights/tiny-random"
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=default_model)
    ap.add_argument("--prompt", default="assets/a-red-circle-left-of-a-blue-square.safetensors")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cfg", type=float, default=7.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5, help="alternating rounds")
    ap.add_argument("--capture-runs", type=int, default=5, help="interleaved capture rounds (0: skip)")
    ap.add_argument("--sampler", default="ddim",
                    help="xattn's sampler name; diffusers runs the same scheduler")
    ap.add_argument("--karras", action="store_true", help="Karras sigmas in both")
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    os.chdir(ROOT)
    bench, xattn = os.path.join(args.build, "xattn_bench"), os.path.join(args.build, "xattn")
    py = os.path.join(ROOT, ".venv", "bin", "python")
    common = ["-m", args.model, "-p", args.prompt, "--steps", str(args.steps), "--cfg", str(args.cfg),
              "--sampler", args.sampler]
    karras = ["--karras"] if args.karras else []

    # Rounds alternate the two programs, so a drift in the machine's speed (seen here: 2x within
    # minutes) reaches both alike; each round is one process of each, one warm-up and one timed
    # sampling, and the ratio is the median of the rounds' ratios.
    sgemm, _ = run([bench, "sgemm", "-t", str(args.threads), "-n", "1024"])
    rounds, ours_rss, theirs_rss = [], 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            ours, rss = run([bench, "generate", *common, *(["--karras", "1"] if args.karras else []),
                             "-t", str(args.threads), "--runs", "1"])
            ours_rss = max(ours_rss, rss)
            theirs, rss = run([py, os.path.join("tools", "reference_pipeline.py"), *common, *karras,
                               "--threads", str(args.threads), "-s", "0", "-o", os.path.join(tmp, "ref.png")])
            theirs_rss = max(theirs_rss, rss)
            rounds.append((ours, theirs))
        subprocess.run([xattn, "generate", *common, *karras, "-t", str(args.threads), "-s", "0", "--quiet",
                        "-o", os.path.join(tmp, "ours.png")], check=True)
        from PIL import Image
        import numpy as np

        a = np.asarray(Image.open(os.path.join(tmp, "ours.png")), np.int16)
        b = np.asarray(Image.open(os.path.join(tmp, "ref.png")), np.int16)
        pixel_diff = int(np.abs(a - b).max())

    ratios = [t["seconds_per_image"] / o["seconds_per_image"] for o, t in rounds]
    median = sorted(range(len(ratios)), key=ratios.__getitem__)[len(ratios) // 2]
    ours, theirs = rounds[median]
    print(f"model {args.model}, prompt {args.prompt}, {args.steps} steps, cfg {args.cfg}, "
          f"{args.threads} threads, batch 1, {args.runs} alternating rounds")
    print(f"{'round':>5} {'xattn s/image':>14} {'diffusers s/image':>18} {'ratio':>7}")
    for i, ((o, t), r) in enumerate(zip(rounds, ratios)):
        print(f"{i + 1:5d} {o['seconds_per_image']:14.3f} {t['seconds_per_image']:18.3f} {r:6.2f}x")
    print(f"xattn is {ratios[median]:.2f}x faster per image (median round; rounds "
          f"{min(ratios):.2f}x to {max(ratios):.2f}x)")
    print(f"peak RSS: xattn {ours_rss:.1f} MB, diffusers {theirs_rss:.1f} MB "
          f"({ours_rss / theirs_rss:.3f} of diffusers')")
    print(f"U-Net {ours['unet_gflops']:.2f} GFLOP/s in the median round ({ours['flops_per_forward'] / 1e6:.1f} "
          f"MFLOP per forward) vs cblas_sgemm {sgemm['sgemm_gflops']:.2f} GFLOP/s on 1024^3: "
          f"{100 * ours['unet_gflops'] / sgemm['sgemm_gflops']:.0f}%")
    print(f"same seed, max pixel difference xattn vs diffusers: {pixel_diff}/255")
    if args.capture_runs > 0:
        cap, _ = run([bench, "capture", *common, "-t", str(args.threads), "--runs", str(args.capture_runs)])
        plain = sorted(r[0] for r in cap["rounds"])
        print(f"heatmap capture: {100 * (cap['heatmaps_ratio'] - 1):+.1f}% with --heatmaps, "
              f"{100 * (cap['keep_steps_ratio'] - 1):+.1f}% keeping every step (--html); median of "
              f"{args.capture_runs} interleaved rounds, {plain[len(plain) // 2]:.3f} s/image without")


if __name__ == "__main__":
    main()
