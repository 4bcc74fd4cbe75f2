#!/usr/bin/env bash
# serve_webuiapi.sh — `xattn serve` answers a real AUTOMATIC1111 client: starts the server on a
# free 127.0.0.1 port with the demo model and the asset prompts, runs tools/serve_webuiapi.py
# (the PyPI `webuiapi` client, from .venv: tools/setup_venv.sh installs tools/requirements.txt)
# and stops the server with SIGTERM. Not a CTest test: it needs the venv.
#
#   tools/serve_webuiapi.sh [--xattn BUILD/xattn] [--python VENV/bin/python]
set -euo pipefail
cd "$(dirname "$0")/.."
xattn=build/xattn
python=.venv/bin/python
while [ $# -gt 0 ]; do
    case "$1" in
        --xattn) xattn="$2"; shift 2 ;;
        --python) python="$2"; shift 2 ;;
        *) echo "serve_webuiapi.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
log=$(mktemp)
"$xattn" serve -m weights/shapes32 --prompts assets --port 0 -t 2 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$log" && break; sleep 0.1; done
port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$')
[ -n "$port" ] || { cat "$log" >&2; exit 1; }
rc=0
"$python" tools/serve_webuiapi.py "$port" "a red circle left of a blue square" || rc=$?
kill -TERM $pid
wait $pid || { echo "serve_webuiapi.sh: the server exited $?" >&2; rc=1; }
trap - EXIT
rm -f "$log"
exit $rc
