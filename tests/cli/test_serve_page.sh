#!/usr/bin/env bash
# test_serve_page.sh — `xattn serve`'s page in real headless Chromium through Selenium
# (tests/serve/test_page.py, run with /usr/bin/python3): type a prompt and generate, the image
# changes with the seed, a word's map lies over the image, a re-weight slider regenerates it,
# the URL reproduces the view, four seeds, downloads, nothing loaded from elsewhere, and a
# screenshot ($XATTN_TEST_TMP/cli_serve_page/shot.png) that is a picture. Skips (exit 0) without
# chromium, chromedriver or python3-selenium (tools/install_deps.sh installs them), or without
# the test model.
. "$(dirname "$0")/lib.sh"
require_files "$XATTN_SOURCE_DIR/weights/tiny-random/unet/config.json" \
    "$XATTN_SOURCE_DIR/assets/a-red-circle-left-of-a-blue-square.safetensors"
[ -x /usr/bin/chromedriver ] || { echo "skip: chromium-driver not installed"; exit 0; }
/usr/bin/python3 -c 'import selenium' 2>/dev/null || { echo "skip: python3-selenium not installed"; exit 0; }
export XATTN XATTN_SOURCE_DIR XATTN_TEST_TMP="$T"
exec timeout 900 /usr/bin/python3 "$XATTN_SOURCE_DIR/tests/serve/test_page.py"
