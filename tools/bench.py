#!/usr/bin/env python3
"""The benchmark: xattn against the diffusers pipeline, in one run, on one model folder, prompt,
step count and thread count. Prints seconds per image, the ratio, the peak memory of each, the
U-Net's GFLOP/s against cblas_sgemm's rate on a large product measured in the same run, and
how far the two images are apart (the same seed draws the same noise in both).

    tools/bench.sh [--model DIR] [--prompt FILE] [--steps N] [--threads T] [--runs K]
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
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    os.chdir(ROOT)
    bench, xattn = os.path.join(args.build, "xattn_bench"), os.path.join(args.build, "xattn")
    py = os.path.join(ROOT, ".venv", "bin", "python")
    common = ["-m", args.model, "-p", args.prompt, "--steps", str(args.steps), "--cfg", str(args.cfg)]

    sgemm, _ = run([bench, "sgemm", "-t", str(args.threads), "-n", "1024"])
    ours, ours_rss = run([bench, "generate", *common, "-t", str(args.threads), "--runs", str(args.runs)])
    theirs, theirs_rss, best = None, 0.0, None
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(max(1, args.runs - 1)):
            r, rss = run([py, os.path.join("tools", "reference_pipeline.py"), *common,
                          "--threads", str(args.threads), "-s", "0", "-o", os.path.join(tmp, "ref.png")])
            theirs_rss = max(theirs_rss, rss)
            if best is None or r["seconds_per_image"] < best:
                best, theirs = r["seconds_per_image"], r
        subprocess.run([xattn, "generate", *common, "-t", str(args.threads), "-s", "0", "--quiet",
                        "-o", os.path.join(tmp, "ours.png")], check=True)
        from PIL import Image
        import numpy as np

        a = np.asarray(Image.open(os.path.join(tmp, "ours.png")), np.int16)
        b = np.asarray(Image.open(os.path.join(tmp, "ref.png")), np.int16)
        pixel_diff = int(np.abs(a - b).max())

    ratio = theirs["seconds_per_image"] / ours["seconds_per_image"]
    print(f"model {args.model}, prompt {args.prompt}, {args.steps} steps, cfg {args.cfg}, "
          f"{args.threads} threads, batch 1")
    print(f"{'':10} {'s/image':>9} {'peak RSS MB':>12}")
    print(f"{'xattn':10} {ours['seconds_per_image']:9.3f} {ours_rss:12.1f}")
    print(f"{'diffusers':10} {theirs['seconds_per_image']:9.3f} {theirs_rss:12.1f}")
    print(f"xattn is {ratio:.2f}x faster per image, peak memory {ours_rss / theirs_rss:.3f} of diffusers'")
    print(f"U-Net {ours['unet_gflops']:.2f} GFLOP/s ({ours['flops_per_forward'] / 1e6:.1f} MFLOP per "
          f"forward) vs cblas_sgemm {sgemm['sgemm_gflops']:.2f} GFLOP/s on 1024^3: "
          f"{100 * ours['unet_gflops'] / sgemm['sgemm_gflops']:.0f}%")
    print(f"same seed, max pixel difference xattn vs diffusers: {pixel_diff}/255")


if __name__ == "__main__":
    main()
