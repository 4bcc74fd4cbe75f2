#!/usr/bin/env python3
"""Does the text encoder's output already bind each colour to its shape?

For every two-object caption "a C1 S1 and a C2 S2" (and the "with", "left of" and "above" forms;
different colours and shapes, 1,120 each), all-MiniLM-L6-v2's last hidden state is taken at the
colour and shape tokens, and a linear probe (multinomial logistic regression) is fitted to tell
  - from a shape noun's row, the colour of its object, and
  - from a colour adjective's row, the shape of its object.
If a linear map reads these off, a cross-attention layer that attends to one word can too: then
colour-binding errors in the images come from the U-Net, not from the text embedding.

Two splits: 80/20 at random over captions, and "held-out pairs": the probe is fitted on rows
whose own object is not one of the shapes world's held-out colour-shape pairs and tested on rows
whose object is one (the pairs never seen in training, as in `xattn eval adherence` on holdout).

    .venv/bin/python tools/research/probe_binding.py      # ~1 min on 2 cores
"""
import itertools
import json
import os
import sys

import numpy as np

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tools/, for encode_prompt
sys.path.insert(0, TOOLS)
from encode_prompt import encode_many  # noqa: E402

# the shapes world's vocabulary and held-out pairs, as `xattn dataset` wrote them
with open(os.path.join(TOOLS, "..", "assets", "eval", "holdout200", "data", "world.json")) as _f:
    _WORLD = json.load(_f)
COLORS = [c["name"] for c in _WORLD["colors"]]
SHAPES = _WORLD["shapes"]
HELD_OUT = {(p["color"], p["shape"]) for p in _WORLD["holdout_pairs"]}
JOINS = ["and", "with", "left of", "above"]


def rows():
    """(colour row, shape row, colour, shape, caption index) for each object of each caption."""
    captions, objects = [], []
    for c1, s1, c2, s2 in itertools.product(COLORS, SHAPES, COLORS, SHAPES):
        if c1 == c2 or s1 == s2:
            continue
        for join in JOINS:
            art = "an" if c2 == "orange" else "a"
            captions.append(f"{'an' if c1 == 'orange' else 'a'} {c1} {s1} {join} {art} {c2} {s2}")
            objects.append(((c1, s1), (c2, s2)))
    out = []
    for k, ((emb, tokens), (first, second)) in enumerate(zip(encode_many(captions), objects)):
        # [CLS] a C1 S1 <join> a C2 S2 [SEP]: every word is one WordPiece token
        assert tokens[2:4] == list(first) and tokens[-3:-1] == list(second), tokens
        out.append((emb[2], emb[3], *first, k))
        out.append((emb[-3], emb[-2], *second, k))
    return out, len(captions)


def probe(x_train, y_train, x_test, y_test, classes):
    """Test accuracy of an L2-regularised multinomial logistic regression (LBFGS)."""
    import torch

    xt, xs = torch.tensor(np.array(x_train)), torch.tensor(np.array(x_test))
    mu, sd = xt.mean(0), xt.std(0) + 1e-6
    xt, xs = (xt - mu) / sd, (xs - mu) / sd
    yt, ys = torch.tensor(y_train), torch.tensor(y_test)
    w = torch.zeros(xt.shape[1], classes, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) + 1e-3 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return ((xs @ w + b).argmax(1) == ys).float().mean().item(), len(ys)


def main():
    data, n_captions = rows()
    rng = np.random.default_rng(0)
    test_caption = rng.random(n_captions) < 0.2
    splits = {
        "random 80/20": lambda r: test_caption[r[4]],
        "held-out pairs": lambda r: (r[2], r[3]) in HELD_OUT,
    }
    print(f"{n_captions} captions, {len(data)} objects")
    for name, is_test in splits.items():
        train = [r for r in data if not is_test(r)]
        test = [r for r in data if is_test(r)]
        for what, x, y, labels in (("shape noun -> its colour", 1, 2, COLORS),
                                   ("colour word -> its shape", 0, 3, SHAPES)):
            acc, n = probe([r[x] for r in train], [labels.index(r[y]) for r in train],
                           [r[x] for r in test], [labels.index(r[y]) for r in test], len(labels))
            print(f"{name:15s} {what}: {acc:.3f} of {n} "
                  f"(chance {1 / len(labels):.3f})")


if __name__ == "__main__":
    main()
