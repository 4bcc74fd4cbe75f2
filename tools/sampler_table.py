#!/usr/bin/env python3
"""Quality per second for every sampler and step count (docs/samplers.md). For each cell
(sampler, steps): the prompt adherence of `xattn eval adherence` (--seeds images a prompt), the
heatmap mIoU of `xattn eval heatmaps` (each holdout image denoised at strength 0.5 with that
sampler and step count, seed 0), and the CPU seconds per image of the adherence run (one
thread; CPU time, so that other jobs on a shared machine do not stretch it).

    python3 tools/sampler_table.py run   [--jobs J] [--samplers a,b] [--steps 5,8] [--no-miou]
    python3 tools/sampler_table.py table [--out DIR]

`run` measures the cells not yet in --out (default docs/data/sampler-table), each into its own JSON
file written whole (temporary file, then rename), so a run that is stopped resumes where it
was. The DDIM-50 reference goes first, then the cells by step count in --steps' order.
`table` prints the Markdown table of the cells measured so far. Standard library only.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLERS = ["ddim", "euler", "euler_a", "heun", "dpmpp_2m", "dpmpp_2m_sde", "unipc", "lms", "pndm"]
STEPS = [5, 8, 10, 15, 20, 30, 50]
REFERENCE = ("ddim", 50)


def calls(sampler, n):
    """U-Net calls for n steps (docs/samplers.md): Heun 2n - 1, PNDM n + 9 (shapes32's config
    runs the Runge-Kutta warm-up), the others n."""
    return 2 * n - 1 if sampler == "heun" else n + 9 if sampler == "pndm" else n


def cell_path(out, kind, sampler, n):
    return os.path.join(out, f"{kind}-{sampler}-{n}.json")


def measure(args, kind, sampler, n):
    """Runs one cell's eval and writes its --json object, with cpu_s, wall_s and the command."""
    path = cell_path(args.out, kind, sampler, n)
    if os.path.exists(path):
        return
    cmd = [args.xattn, "eval", kind, "-m", args.model, "--steps", str(n), "--cfg", str(args.cfg),
           "--sampler", sampler, "-t", "1", "-q", "--json"]
    if kind == "adherence":
        cmd += ["--prompts", args.prompts, "--seeds", str(args.seeds)]
    else:
        cmd += ["--data", args.data, "--strength", "0.5"]
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out = proc.stdout.read()  # with -q, stderr holds at most an error line
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        print(f"sampler_table: {' '.join(cmd)} failed: {err.strip()}", file=sys.stderr, flush=True)
        return
    result = json.loads(out.strip().splitlines()[-1])
    result.update(cpu_s=usage.ru_utime + usage.ru_stime, wall_s=wall, command=" ".join(cmd))
    with open(path + ".tmp", "w") as f:
        json.dump(result, f)
    os.replace(path + ".tmp", path)
    score = result.get("overall", result.get("overall_miou"))
    print(f"{kind} {sampler} {n}: {score} ({result['cpu_s']:.0f} s CPU, {wall:.0f} s wall)",
          flush=True)


def load(out, kind, sampler, n):
    try:
        with open(cell_path(out, kind, sampler, n)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def table(args):
    ref = load(args.out, "adherence", *REFERENCE)
    ref_score = ref["overall"] if ref else None
    head = ref or next((load(args.out, "adherence", s, n) for s in SAMPLERS for n in STEPS
                        if load(args.out, "adherence", s, n)), None)
    if head:
        print(f"Adherence: `{head['prompts_file']}`, {head['prompts']} prompts × {head['seeds']} "
              f"seeds, cfg {head['cfg']}, model `{head['model']}`. mIoU: `xattn eval heatmaps` "
              f"on the same prompts' images at strength 0.5, seed 0. s/image: CPU seconds per "
              f"adherence image on one thread.\n")
    print("Each cell: adherence overall / heatmap mIoU / CPU s per image (U-Net calls). "
          "\"·\": not measured.\n")
    print("| sampler | " + " | ".join(f"{n} steps" for n in STEPS) +
          " | fewest steps within 0.01 of DDIM-50 |")
    print("|---" * (len(STEPS) + 2) + "|")
    best = None  # (cpu s/image, sampler, n, score)
    for s in SAMPLERS:
        cells, within = [], None
        for n in STEPS:
            a, m = load(args.out, "adherence", s, n), load(args.out, "heatmaps", s, n)
            if not a and not m:
                cells.append("·")
                continue
            score = f"{a['overall']:.3f}" if a else "·"
            miou = f"{m['overall_miou']:.3f}" if m and m.get("overall_miou") is not None else "·"
            per_image = a["cpu_s"] / a["images"] if a else None
            cost = f"{per_image:.2f} s" if per_image else "·"
            cells.append(f"{score} / {miou} / {cost} ({calls(s, n)})")
            if a and ref_score is not None and a["overall"] >= ref_score - 0.01:
                within = n if within is None else within
                if best is None or per_image < best[0]:
                    best = (per_image, s, n, a["overall"])
        measured = [n for n in STEPS if load(args.out, "adherence", s, n)]
        note = str(within) if within is not None else (
            f"none of {', '.join(map(str, measured))}" if measured else "·")
        print(f"| {s} | " + " | ".join(cells) + f" | {note} |")
    if ref and best:
        ref_cost = ref["cpu_s"] / ref["images"]
        print(f"\nDDIM-50: {ref_score:.3f} at {ref_cost:.2f} s/image. Fastest within 0.01: "
              f"{best[1]} at {best[2]} steps, {best[3]:.3f} at {best[0]:.2f} s/image "
              f"({ref_cost / best[0]:.2f}x faster).")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["run", "table"])
    ap.add_argument("--xattn", default="build/xattn")
    ap.add_argument("--model", default="weights/shapes32")
    ap.add_argument("--data", default="assets/eval/holdout200", help="holdout folder (prompts.jsonl, images)")
    ap.add_argument("--seeds", type=int, default=2, help="adherence seeds a prompt")
    ap.add_argument("--cfg", type=float, default=7.5)
    ap.add_argument("--samplers", default=",".join(SAMPLERS))
    ap.add_argument("--steps", default=",".join(map(str, STEPS)))
    ap.add_argument("--jobs", type=int, default=1, help="evals at a time (one thread each)")
    ap.add_argument("--no-miou", action="store_true", help="adherence only")
    ap.add_argument("--out", default="docs/data/sampler-table")
    args = ap.parse_args()
    os.chdir(ROOT)
    args.prompts = os.path.join(args.data, "prompts.jsonl")
    if args.what == "table":
        return table(args)
    os.makedirs(args.out, exist_ok=True)
    samplers, steps = args.samplers.split(","), [int(n) for n in args.steps.split(",")]
    for s in samplers:
        if s not in SAMPLERS:
            sys.exit(f"sampler_table: --samplers: unknown sampler {s} ({', '.join(SAMPLERS)})")
    cells = [REFERENCE] + [(s, n) for n in steps for s in samplers]
    kinds = ["adherence"] if args.no_miou else ["adherence", "heatmaps"]
    work = list(dict.fromkeys((k, s, n) for s, n in cells for k in kinds))
    with ThreadPoolExecutor(args.jobs) as pool:
        for f in [pool.submit(measure, args, *w) for w in work]:
            f.result()


if __name__ == "__main__":
    main()
