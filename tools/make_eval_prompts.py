#!/usr/bin/env python3
"""Make an `xattn eval adherence` prompt file from shapes-world captions.

Draws COUNT scenes with `xattn dataset` (holdout split by default: every scene holds one of the
world's held-out colour-shape pairs), turns each caption and its ground truth into a prompt
line (docs/eval.md), and encodes every caption with all-MiniLM-L6-v2 (tools/encode_prompt.py)
into OUT/emb/NNNN.safetensors.

    tools/make_eval_prompts.py -o assets/eval/holdout200 --count 200 --seed 11 --split holdout

Categories follow the scene kind: count -> count, relation -> position; single scenes alternate
single / colors, two-object scenes alternate two / color_attr. A description names the size
only where the caption does.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)


def describe(record, obj):
    words = record["caption"].split(" ")
    d = {"shape": obj["shape"], "color": obj["color"]}
    if obj["size"] in [words[i] for i in obj["words"]]:
        d["size"] = obj["size"]
    return d


def to_prompt(record, i, emb_path):
    kind, objs = record["kind"], record["objects"]
    line = {"id": i, "prompt": record["caption"], "embedding": emb_path}
    if kind == "count":
        line.update(category="count", objects=[dict(describe(record, objs[0]), count=len(objs))])
    elif kind == "relation":
        rel = record["relation"]
        line.update(category="position", objects=[describe(record, o) for o in objs],
                    relation={"subject": rel["subject"], "relation": rel["relation"],
                              "object": rel["object"]})
    elif kind == "single":
        line.update(category="single" if i % 2 == 0 else "colors", objects=[describe(record, objs[0])])
    else:  # pair
        line.update(category="two" if i % 2 == 0 else "color_attr",
                    objects=[describe(record, o) for o in objs])
    return line


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--split", default="holdout", choices=["train", "holdout"])
    ap.add_argument("--xattn", default=os.path.join(ROOT, "build", "xattn"))
    args = ap.parse_args()
    from encode_prompt import encode, save_prompt

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([args.xattn, "dataset", "-o", tmp, "--count", str(args.count), "--seed",
                        str(args.seed), "--split", args.split, "--format", "npy", "-q"], check=True)
        with open(os.path.join(tmp, "truth.jsonl")) as f:
            records = [json.loads(line) for line in f]
    os.makedirs(os.path.join(args.out, "emb"), exist_ok=True)
    encoded = encode([r["caption"] for r in records])
    lines = []
    for i, (r, (emb, tokens)) in enumerate(zip(records, encoded)):
        rel = f"emb/{i:04d}.safetensors"
        save_prompt(os.path.join(args.out, rel), r["caption"], emb, tokens)
        lines.append(to_prompt(r, i, rel))
    path = os.path.join(args.out, "prompts.jsonl")
    with open(path + ".tmp", "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    os.replace(path + ".tmp", path)
    counts = {}
    for line in lines:
        counts[line["category"]] = counts.get(line["category"], 0) + 1
    print(f"wrote {path}: {len(lines)} prompts {counts}")


if __name__ == "__main__":
    main()
