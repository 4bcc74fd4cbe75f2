#!/usr/bin/env bash
# test.sh — installs what is missing, builds xattn in build/ and runs the whole test suite.
# This is the README's test command and what .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh && cmake -S . -B build && cmake --build build -j2 && ctest --test-dir build --output-on-failure
