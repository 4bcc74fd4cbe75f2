#!/usr/bin/env python3
"""Which words go together in the cross-attention maps of two-object images: reads `xattn eval
adherence` lines (without --json) on stdin, like tools/research/binding_report.py, draws each
image of a prompt with two objects of different shapes and colours ("a red circle and a blue
square") again with `xattn generate --heatmaps` (same seed, steps and guidance, so the same
image) and asks whether each colour word's map lies on its own shape noun's map or on the other one's.

With c1, n1, c2, n2 the two colour words' and shape nouns' maps summed over a window of steps,
and cos the cosine similarity of two maps as vectors, the attention
pairs the words as asked when cos(c1, n1) + cos(c2, n2) > cos(c1, n2) + cos(c2, n1), and
swapped otherwise. The table gives, per kind of image (binding_report's: both right, swapped,
...), the share paired as asked over the first steps (where the layout is decided), the middle
ones, the last ones and all. Plain Python, no .venv:

    build/xattn eval adherence -m weights/shapes32 --prompts assets/eval/holdout200/prompts.jsonl \\
        --seeds 4 -q | python3 tools/research/attention_binding.py -m weights/shapes32 \\
        assets/eval/holdout200/prompts.jsonl

--steps and --cfg must be the ones the adherence run used (its defaults: 50 and 7.5).
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
from array import array

from binding_report import KINDS, two_object_images

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo


def read_step_maps(path):
    """heatmaps.safetensors -> (words, step_maps as [steps][words] lists of H*W floats)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    info = header["step_maps"]
    steps, words, h, w = info["shape"]
    begin, end = info["data_offsets"]
    data = array("f")
    data.frombytes(blob[8 + n + begin:8 + n + end])
    if sys.byteorder != "little":
        data.byteswap()
    hw = h * w
    maps = [[data[(s * words + k) * hw:(s * words + k + 1) * hw] for k in range(words)]
            for s in range(steps)]
    return json.loads(header["__metadata__"]["words"]), maps


def window_sum(maps, word, first, last):
    out = [0.0] * len(maps[0][word])
    for s in range(first, last):
        for i, v in enumerate(maps[s][word]):
            out[i] += v
    return out


def unit(v):
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v] if norm > 0 else v


def paired_as_asked(c1, n1, c2, n2):
    """The four maps as unit vectors: cos(c1, n1) + cos(c2, n2) > cos(c1, n2) + cos(c2, n1)."""
    def dot(a, b):
        return sum(x * y for x, y in zip(a, b))
    return dot(c1, n1) + dot(c2, n2) > dot(c1, n2) + dot(c2, n1)


def word_index(words, obj, attr):
    """Index among the heatmap words of the object's colour word (attr 'color') or shape noun."""
    name = obj[attr]
    hits = [k for k in obj["words"] if words[k].lower() == name]
    if len(hits) != 1:
        raise ValueError(f"the words {obj['words']} of {words} name no single '{name}'")
    return hits[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prompts", help="the prompt file of the adherence run")
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--cfg", type=float, default=7.5)
    ap.add_argument("--early", type=int, default=5, help="the first window: steps 0 .. N-1")
    ap.add_argument("--late", type=int, default=15, help="the last window starts at this step")
    ap.add_argument("--xattn", default=os.path.join(ROOT, "build", "xattn"))
    ap.add_argument("-t", "--threads", type=int, default=0)
    args = ap.parse_args()
    if not 0 < args.early < args.late < args.steps:
        sys.exit("attention_binding: need 0 < --early < --late < --steps")
    # three windows that cover the steps; "all" is their sum
    windows = [("steps 0-%d" % (args.early - 1), 0, args.early),
               ("%d-%d" % (args.early, args.late - 1), args.early, args.late),
               ("%d-%d" % (args.late, args.steps - 1), args.late, args.steps)]
    names = [w[0] for w in windows] + ["all"]
    prompt_dir = os.path.dirname(os.path.abspath(args.prompts))
    prompts = [json.loads(line) for line in open(args.prompts) if line.strip()]
    as_asked = {k: [0] * len(names) for k in KINDS}
    images = {k: 0 for k in KINDS}
    with tempfile.TemporaryDirectory() as tmp:
        for result, prompt, kind in two_object_images(sys.stdin, prompts, args.prompts, "attention_binding"):
            objects = prompt["objects"]
            heat = os.path.join(tmp, "heat")
            cmd = [args.xattn, "generate", "-m", args.model,
                   "-p", os.path.join(prompt_dir, prompt["embedding"]),
                   "-s", str(result["seed"]), "--steps", str(args.steps), "--cfg", str(args.cfg),
                   "-t", str(args.threads), "-q", "-o", os.path.join(tmp, "image.png"),
                   "--heatmaps", heat, "--html", os.path.join(tmp, "page.html")]
            try:
                subprocess.run(cmd, check=True)
            except OSError as e:
                sys.exit(f"attention_binding: {args.xattn}: {e.strerror} (build it, or give --xattn)")
            except subprocess.CalledProcessError as e:
                sys.exit(f"attention_binding: xattn generate (prompt {result['index']}, seed "
                         f"{result['seed']}) exited {e.returncode}")
            words, maps = read_step_maps(os.path.join(heat, "heatmaps.safetensors"))
            try:
                idx = [word_index(words, objects[0], "color"), word_index(words, objects[0], "shape"),
                       word_index(words, objects[1], "color"), word_index(words, objects[1], "shape")]
            except ValueError as e:
                sys.exit(f"attention_binding: {args.prompts}: prompt {result['index']}: {e}")
            sums = [[window_sum(maps, k, first, last) for k in idx] for _, first, last in windows]
            sums.append([[sum(v) for v in zip(*word)] for word in zip(*sums)])  # "all"
            images[kind] += 1
            for w, four in enumerate(sums):
                as_asked[kind][w] += paired_as_asked(*(unit(v) for v in four))
    total = sum(images.values())
    if total == 0:
        sys.exit(f"attention_binding: no image of a two-object prompt (different shapes and colours) in {args.prompts}")
    images["every image"] = total
    as_asked["every image"] = [sum(as_asked[k][w] for k in KINDS) for w in range(len(names))]
    print(f"{total} images of two-object prompts with different shapes and colours; the share whose "
          "colour words' maps lie on their own shape nouns' maps:")
    print("  %-16s %6s  %s" % ("drawn", "images", "  ".join("%9s" % name for name in names)))
    for k in KINDS + ("every image",):
        n = images[k]
        cells = "  ".join("%9s" % (f"{c / n:.2f}" if n else "-") for c in as_asked[k])
        print(f"  {k:16s} {n:6d}  {cells}")


if __name__ == "__main__":
    main()
