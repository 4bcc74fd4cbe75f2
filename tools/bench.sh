#!/usr/bin/env bash
# The benchmark (see tools/bench.py): builds xattn and its bench helper, makes sure the Python
# reference is installed, and times xattn against diffusers in one run.
# `tools/bench.sh encoder [...]`: the text encoder against transformers (tools/bench_encoder.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_venv.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ "${1-}" = encoder ]; then  # tools/bench.sh encoder [...]: see tools/bench_encoder.py
    shift
    bash tools/fetch_encoder.sh
    cmake --build build -j2 --target xattn_cli xattn_encoder_bench >/dev/null
    exec .venv/bin/python tools/bench_encoder.py "$@"
fi
cmake --build build -j2 --target xattn_cli xattn_bench >/dev/null
exec .venv/bin/python tools/bench.py "$@"
