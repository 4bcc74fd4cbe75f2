#!/usr/bin/env python3
"""Reference outputs of all-MiniLM-L6-v2 (transformers' BertModel, float32) for the C encoder's
parity test (tests/unit/test_encoder.c, test_minilm_parity).

    .venv/bin/python tools/dump_encoder_reference.py    # tests/data/reference/minilm_parity.safetensors

110 texts from the repository's prose and the shapes captions, of 2 to 512 tokens (spread
geometrically; the longest cut by truncation=True), each encoded alone as tools/encode_prompt.py
encodes it. The full last_hidden_state would be 17 MB, so the file keeps, compactly:
  lengths  I32 [N]          T of each text
  ids      I32 [sum T]      the token ids, text after text
  rows     F32 [N, 2, 384]  two whole rows per text: a random one and the last
  row_index I32 [N, 2]
  proj     F32 [384]        a fixed random vector with sum |proj| = 1
  dots     F32 [sum T]      every row of every text dotted with proj
Since sum |proj| = 1, |dot(got) - dot(want)| <= max |got - want| over the row: the dots check
every row at the same 1e-5 the whole rows are checked at (a necessary condition).
"""
import glob
import os
import random

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests/data/reference/minilm_parity.safetensors")


def main():
    import sys
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import encode_prompt
    tok, model = encode_prompt._load()
    torch.set_num_threads(1)
    rng = random.Random(26)
    words = []
    for path in sorted(glob.glob(os.path.join(ROOT, "docs/*.md"))):
        with open(path, encoding="utf-8") as f:
            words += f.read().split()
    n = 110
    targets = sorted({max(2, round(2 * 256 ** (i / (n - 1)))) for i in range(n)})
    while len(targets) < n:
        targets.append(rng.randint(2, 512))
    targets = sorted(targets)[:n]
    targets[-1] = 600  # cut to 512
    texts = []
    for t in targets:
        if t == 2:
            texts.append("")
            continue
        start = rng.randrange(len(words) - 2000)
        k = 1
        while len(tok(" ".join(words[start:start + k]))["input_ids"]) < t:
            k += 1
        texts.append(" ".join(words[start:start + k]))
    lengths, ids_all, rows, row_index, dots = [], [], [], [], []
    proj = np.random.default_rng(26).standard_normal(384).astype(np.float32)
    proj /= np.abs(proj).sum()
    with torch.no_grad():
        for text in texts:
            enc = tok(text, truncation=True, return_tensors="pt")
            h = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state[0]
            h = h.float().numpy()
            T = h.shape[0]
            r = [rng.randrange(T), T - 1]
            lengths.append(T)
            ids_all += enc["input_ids"][0].tolist()
            rows.append(h[r])
            row_index.append(r)
            dots.append((h.astype(np.float64) @ proj.astype(np.float64)).astype(np.float32))
    save_file({"lengths": np.array(lengths, np.int32), "ids": np.array(ids_all, np.int32),
               "rows": np.stack(rows).astype(np.float32), "row_index": np.array(row_index, np.int32),
               "proj": proj, "dots": np.concatenate(dots)}, OUT,
              metadata={"encoder": "sentence-transformers/all-MiniLM-L6-v2"})
    print(f"{OUT}: {len(texts)} texts, T from {min(lengths)} to {max(lengths)}, "
          f"{sum(lengths)} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
