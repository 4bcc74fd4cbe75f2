#!/usr/bin/env python3
"""Make a tiny random BERT (transformers' BertModel) and its reference outputs, so the C encoder's
parity tests (tests/unit/test_encoder.c) need no download.

    .venv/bin/python tools/make_tiny_bert.py

Writes tests/data/models/tiny_bert/ (config.json, model.safetensors F32, vocab.txt,
tokenizer_config.json: a Hugging Face folder as the C loader reads it), the same with BF16
weights in tests/data/models/tiny_bert_bf16/, and tests/data/reference/tiny_bert.safetensors:
for each text k, ids.k (I32 [T], BertTokenizer(text, truncation=True)), hidden.k (F32 [T, 32],
last_hidden_state in float32) and hidden_bf16.k (the same with the BF16-rounded weights);
metadata texts (JSON). Deterministic (torch.manual_seed(26)).
"""
import json
import os
import shutil
import string

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import BertConfig, BertModel, BertTokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests/data/models/tiny_bert")
OUT16 = os.path.join(ROOT, "tests/data/models/tiny_bert_bf16")
REF = os.path.join(ROOT, "tests/data/reference/tiny_bert.safetensors")

TEXTS = ["", "a red circle", "A red circle left of a blue square.", "Kantō Straße 中文 ok!",
         "two yellow rings and three squares " * 8, "xyzzy qq [SEP] [MASK]", "a"]


def main():
    torch.manual_seed(26)
    words = ["red", "blue", "green", "yellow", "circle", "square", "ring", "##s", "left",
             "of", "and", "two", "three", "the", "##ing", "##ed", "中", "文", "ok"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(string.ascii_lowercase) + \
        ["##" + c for c in string.ascii_lowercase] + list(".,!?")
    vocab += [w for w in words if w not in vocab]
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
                        type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu",
                        initializer_range=0.3)
    model = BertModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                p.add_(0.3 * torch.randn_like(p))
    for d in (OUT, OUT16):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    model.save_pretrained(OUT, safe_serialization=True)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    with open(os.path.join(OUT, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    tok_cfg = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "strip_accents": None,
               "tokenize_chinese_chars": True, "model_max_length": 64, "unk_token": "[UNK]",
               "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump(tok_cfg, f, indent=2)
    for name in ("config.json", "vocab.txt", "tokenizer_config.json"):
        shutil.copy(os.path.join(OUT, name), os.path.join(OUT16, name))
    save_file({k: v.to(torch.bfloat16) for k, v in tensors.items()},
              os.path.join(OUT16, "model.safetensors"), metadata={"format": "pt"})
    model16 = BertModel(config, add_pooling_layer=False).eval()
    model16.load_state_dict({k: v.to(torch.bfloat16).to(torch.float32) for k, v in tensors.items()})

    tok = BertTokenizer.from_pretrained(OUT)
    ref = {}
    with torch.no_grad():
        for k, text in enumerate(TEXTS):
            ids = tok(text, truncation=True, return_tensors="pt")["input_ids"]
            ref[f"ids.{k}"] = ids[0].to(torch.int32)
            ref[f"hidden.{k}"] = model(input_ids=ids).last_hidden_state[0].float()
            ref[f"hidden_bf16.{k}"] = model16(input_ids=ids).last_hidden_state[0].float()
    save_file(ref, REF, metadata={"texts": json.dumps(TEXTS, ensure_ascii=False)})
    print(f"{OUT}, {OUT16}, {REF}: {len(TEXTS)} texts, T = "
          f"{[int(ref[f'ids.{k}'].shape[0]) for k in range(len(TEXTS))]}")


if __name__ == "__main__":
    main()
