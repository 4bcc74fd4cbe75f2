#!/usr/bin/env bash
# install_deps.sh — installs the Debian packages xattn builds and tests with, only the missing
# ones: a machine that has them all installs nothing, needs no network and prints nothing.
# Runs apt-get as root, or through sudo when not root and sudo exists.
set -euo pipefail

# libutf8proc-dev: the tokenizer's Unicode data (src/text/).
# chromium: tests/cli/test_html.sh loads the --html explorer page in headless Chromium.
# libmicrohttpd-dev: xattn serve's HTTP server. chromium-driver, python3-selenium: the serve
# page's browser test (tests/cli/test_serve_page.sh). hey: the server's load test
# (tools/serve_load.sh).
packages=(build-essential cmake pkg-config libopenblas-dev libpng-dev libstb-dev libcjson-dev
          libcmocka-dev libutf8proc-dev chromium libmicrohttpd-dev chromium-driver python3-selenium hey)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "install_deps.sh: missing packages: ${missing[*]}; run as root (or install sudo) to install them" >&2
    exit 1
fi

echo "install_deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
