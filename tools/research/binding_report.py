#!/usr/bin/env python3
"""How two-object prompts fail: reads `xattn eval adherence` lines (without --json) on stdin and
the prompt file they came from, and sorts every image of a prompt with two objects of different
shapes and different colours ("a red circle and a blue square") by what was drawn:

  both right         the red circle and the blue square
  swapped            a blue circle and a red square
  both one colour    a red circle and a red square (or both blue)
  one right          one object right, the other in a colour not the prompt's other one
  other              a shape missing, or neither object in either prompt colour

Whether the relation or the count also held does not matter here. Plain Python, no .venv:

    build/xattn eval adherence -m weights/shapes32 --prompts assets/eval/holdout200/prompts.jsonl \\
        --seeds 4 -q | python3 tools/research/binding_report.py assets/eval/holdout200/prompts.jsonl
"""
import json
import sys

KINDS = ("both right", "swapped", "both one colour", "one right", "other")


def classify(want, drawn):
    """want: the prompt's two (shape, colour); drawn: the set of (shape, colour) found."""
    (s1, c1), (s2, c2) = want
    if (s1, c1) in drawn and (s2, c2) in drawn:
        return "both right"
    if (s1, c2) in drawn and (s2, c1) in drawn:
        return "swapped"
    if {(s1, c1), (s2, c1)} <= drawn or {(s1, c2), (s2, c2)} <= drawn:
        return "both one colour"
    if ((s1, c1) in drawn) != ((s2, c2) in drawn):
        return "one right"
    return "other"


def two_object_images(lines, prompts, path, prog):
    """Yields (result, prompt, kind) for every adherence line whose prompt has two objects of
    different shapes and different colours; kind is classify()'s. Exits naming prog and the
    stdin line where a line's index points into no prompt of path."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        result = json.loads(line)
        if "index" not in result or not 0 <= result["index"] < len(prompts):
            sys.exit(f"{prog}: stdin line {n}: no prompt index into {path}")
        prompt = prompts[result["index"]]
        want = [(o["shape"], o["color"]) for o in prompt.get("objects", [])]
        if len(want) != 2 or want[0][0] == want[1][0] or want[0][1] == want[1][1]:
            continue
        yield result, prompt, classify(want, {(o["shape"], o["color"]) for o in result["objects"]})


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: xattn eval adherence ... -q | binding_report.py PROMPTS.jsonl")
    path = sys.argv[1]
    prompts = [json.loads(line) for line in open(path) if line.strip()]
    counts = {k: 0 for k in KINDS}
    for _, _, kind in two_object_images(sys.stdin, prompts, path, "binding_report"):
        counts[kind] += 1
    total = sum(counts.values())
    if total == 0:
        sys.exit(f"binding_report: no image of a two-object prompt (different shapes and colours) in {path}")
    print(f"{total} images of two-object prompts with different shapes and colours:")
    for k in KINDS:
        print(f"  {k:16s} {counts[k]:5d}  {counts[k] / total:.2f}")


if __name__ == "__main__":
    main()
