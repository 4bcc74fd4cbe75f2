#!/usr/bin/env python3
"""Make an `xattn eval adherence` prompt file from shapes-world captions.

Draws COUNT scenes with `xattn dataset` (holdout split by default: every scene holds one of the
world's held-out colour-shape pairs), turns each caption and its ground truth into a prompt
line (docs/eval.md), and encodes every caption with all-MiniLM-L6-v2 (tools/encode_prompt.py)
into OUT/emb/NNNN.safetensors.

    tools/make_eval_prompts.py -o assets/eval/holdout200 --count 200 --seed 11 --split holdout \
        --with-images

--with-images (for `xattn eval heatmaps`) keeps the drawn dataset (png) in OUT/data/ and adds
to each line "image" and "mask" (paths relative to OUT) and, per object, "words" (its caption
word indices, from truth.jsonl) and "mask_index" (its 1-based value in the mask PNG; a list of
them for a count line, whose one description stands for every object of the group).

Categories follow the scene kind: count -> count, relation -> position; single scenes alternate
single / colors, two-object scenes alternate two / color_attr. A description names the size
only where the caption does.
"""
import argparse
import json
import os
import shutil
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


def add_images(record, line):
    """The --with-images fields: the image, the mask, each description's words and mask values."""
    line["image"] = "data/" + record["image"]
    line["mask"] = "data/" + record["mask"]
    objs = record["objects"]
    if record["kind"] == "count":
        line["objects"][0].update(words=objs[0]["words"], mask_index=list(range(1, len(objs) + 1)))
    else:
        for k, d in enumerate(line["objects"]):
            d.update(words=objs[k]["words"], mask_index=k + 1)
    return line


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
    ap.add_argument("--with-images", action="store_true",
                    help="keep the dataset (png) in OUT/data and add image, mask, words, mask_index")
    args = ap.parse_args()
    from encode_prompt import encode, save_prompt

    def draw(folder, fmt):
        subprocess.run([args.xattn, "dataset", "-o", folder, "--count", str(args.count), "--seed",
                        str(args.seed), "--split", args.split, "--format", fmt, "-q"], check=True)
        with open(os.path.join(folder, "truth.jsonl")) as f:
            return [json.loads(line) for line in f]

    if args.with_images:
        data = os.path.join(args.out, "data")
        if os.path.exists(data):
            shutil.rmtree(data)
        records = draw(data, "png")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            records = draw(tmp, "npy")
    os.makedirs(os.path.join(args.out, "emb"), exist_ok=True)
    encoded = encode([r["caption"] for r in records])
    lines = []
    for i, (r, (emb, tokens)) in enumerate(zip(records, encoded)):
        rel = f"emb/{i:04d}.safetensors"
        save_prompt(os.path.join(args.out, rel), r["caption"], emb, tokens)
        line = to_prompt(r, i, rel)
        lines.append(add_images(r, line) if args.with_images else line)
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
