#!/usr/bin/env bash
# test_serve.sh — `xattn serve` on an ephemeral 127.0.0.1 port: tests/serve/test_api.py checks
# every endpoint, field and refusal, chunked, truncated and oversized bodies, stalled and
# concurrent clients, cancellation by a client that goes away, the request log, and that SIGTERM
# and SIGINT end it with exit 0 (under ASan: no leak). Runs with /usr/bin/python3 (standard
# library only). Skips without the test model or the asset prompts.
. "$(dirname "$0")/lib.sh"
require_files "$XATTN_SOURCE_DIR/weights/tiny-random/unet/config.json" \
    "$XATTN_SOURCE_DIR/assets/a-red-circle-left-of-a-blue-square.safetensors"
[ -x /usr/bin/python3 ] || { echo "skip: /usr/bin/python3 missing"; exit 0; }
export XATTN XATTN_SOURCE_DIR XATTN_TEST_TMP="$T"
exec timeout 900 /usr/bin/python3 "$XATTN_SOURCE_DIR/tests/serve/test_api.py"
