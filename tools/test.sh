#!/usr/bin/env bash
# test.sh — installs what is missing, builds xattn and runs the whole test suite twice: the
# release build (build/), then the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
# (build-asan/, -DXATTN_SANITIZE=ON). This is the README's test command and what .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
bash tools/fetch_encoder.sh   # the text encoder's weights (cached in ~/.cache/xattn)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
ctest --test-dir build --output-on-failure
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DXATTN_SANITIZE=ON
cmake --build build-asan -j2
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure
