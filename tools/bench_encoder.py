#!/usr/bin/env python3
"""The encoder benchmark (`tools/bench.sh encoder`): the C text encoder against the Python one
(transformers + torch, tools/encode_prompt.py), in one run, in alternating rounds:

  1. whole process, per prompt: `xattn encode TEXT -o F` against `encode_prompt.py TEXT -o F`
     (each a fresh process, the same thread count), wall seconds and peak RSS;
  2. in-process forward at T = 16 and T = 128: xattn_encoder_forward (build/xattn_encoder_bench)
     against BertModel's forward in torch, the same threads, after warm-up, median of --reps;
  3. the peak RSS of each (from wait4).

    tools/bench.sh encoder [--threads T] [--runs K] [--reps N]

Targets (issue 26): whole process >= 50x faster, in-process forward >= 1.5x torch's, peak RSS
<= 1/10.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPTS = ["a red circle left of a blue square", "two yellow rings",
           "a small green triangle in the top left on a white background"]


def run_rss(cmd, env):
    """(wall seconds, peak RSS MB, stdout) of a child process, RSS from wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench_encoder: {' '.join(cmd)} failed")
    return wall, usage.ru_maxrss / 1024.0, out


def torch_forward(threads, T, reps):
    """(median, best, median CPU) seconds of BertModel's forward at T tokens, in this process (imports
    counted out)."""
    import torch
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import encode_prompt
    torch.set_num_threads(threads)
    tok, model = encode_prompt._load()
    cap = tok("a red circle left of a blue square on a white background")["input_ids"]
    ids = [cap[0]] + [cap[1 + i % (len(cap) - 2)] for i in range(T - 2)] + [cap[-1]]
    x = torch.tensor([ids])
    mask = torch.ones_like(x)
    sec, cpu = [], []
    with torch.no_grad():
        for r in range(reps + 2):
            t0, c0 = time.perf_counter(), time.process_time()
            model(input_ids=x, attention_mask=mask)
            if r >= 2:
                sec.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
    return sorted(sec)[len(sec) // 2], min(sec), sorted(cpu)[len(cpu) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="weights/shapes32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3, help="alternating rounds")
    ap.add_argument("--reps", type=int, default=20, help="forwards per in-process measurement")
    ap.add_argument("--build", default="build")
    ap.add_argument("--torch-forward", nargs=2, type=int, metavar=("T", "REPS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.chdir(ROOT)
    if args.torch_forward:  # the child that measures torch's forward
        median, best, cpu = torch_forward(args.threads, *args.torch_forward)
        print(json.dumps({"seconds": median, "best": best, "cpu_seconds": cpu}))
        return 0
    py = sys.executable
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS="1",
               OMP_WAIT_POLICY="passive")
    xattn = os.path.join(args.build, "xattn")
    bench = os.path.join(args.build, "xattn_encoder_bench")
    whole, fwd = [], {16: [], 128: []}
    rss = {"xattn encode": 0.0, "encode_prompt.py": 0.0, "C forward": 0.0, "torch forward": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "p.safetensors")
        for _ in range(args.runs):
            for text in PROMPTS:
                a, ra, _ = run_rss([xattn, "encode", text, "-o", out, "-m", args.model], env)
                b, rb, _ = run_rss([py, "tools/encode_prompt.py", text, "-o", out,
                                    "--threads", str(args.threads)], env)
                whole.append((a, b))
                rss["xattn encode"] = max(rss["xattn encode"], ra)
                rss["encode_prompt.py"] = max(rss["encode_prompt.py"], rb)
            for T in (16, 128):
                _, ra, o = run_rss([bench, "-e", args.model, "-T", str(T), "-t", str(args.threads),
                                    "--runs", str(args.reps)], env)
                _, rb, p = run_rss([py, "tools/bench_encoder.py", "--threads", str(args.threads),
                                    "--torch-forward", str(T), str(args.reps)], env)
                fwd[T].append((json.loads(o.strip().splitlines()[-1]),
                               json.loads(p.strip().splitlines()[-1])))
                rss["C forward"] = max(rss["C forward"], ra)
                rss["torch forward"] = max(rss["torch forward"], rb)

    def med(x):
        return statistics.median(x)

    print(f"encoder benchmark: model {args.model}, {args.threads} thread(s), {args.runs} alternating "
          f"rounds of {len(PROMPTS)} prompts")
    ratios = [b / a for a, b in whole]
    print(f"1. whole process per prompt: xattn encode {med([a for a, _ in whole]):.3f} s, "
          f"encode_prompt.py {med([b for _, b in whole]):.3f} s: {med(ratios):.1f}x "
          f"(median; {min(ratios):.1f}x to {max(ratios):.1f}x; target >= 50x)")
    for T in (16, 128):
        c = med([a["seconds"] for a, _ in fwd[T]])
        t = med([b["seconds"] for _, b in fwd[T]])
        cb = min(a["best"] for a, _ in fwd[T])
        tb = min(b["best"] for _, b in fwd[T])
        cc = med([a["cpu_seconds"] for a, _ in fwd[T]])
        tc = med([b["cpu_seconds"] for _, b in fwd[T]])
        print(f"2. forward T = {T:3d}: CPU time C {1e3 * cc:.2f} ms, torch {1e3 * tc:.2f} ms: {tc / cc:.2f}x "
              f"(target >= 1.5x); wall C {1e3 * c:.2f} ms, torch {1e3 * t:.2f} ms: {t / c:.2f}x (medians of "
              f"{args.runs} rounds of {args.reps}); best runs C {1e3 * cb:.2f} ms, torch {1e3 * tb:.2f} ms: "
              f"{tb / cb:.2f}x")
    print(f"3. peak RSS: xattn encode {rss['xattn encode']:.1f} MB vs encode_prompt.py "
          f"{rss['encode_prompt.py']:.1f} MB ({rss['xattn encode'] / rss['encode_prompt.py']:.3f}; target "
          f"<= 0.1); in-process benches: C {rss['C forward']:.1f} MB vs torch {rss['torch forward']:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
