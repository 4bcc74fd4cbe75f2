#!/bin/sh
# Creates <repo>/.venv with the Python tools' pinned packages (tools/requirements.txt).
# Idempotent: an existing .venv that already has every pinned version is left untouched
# (no pip, no network). Only the Python tools need it; the C build and C tests never do.
#
#   tools/setup_venv.sh            # then: .venv/bin/python tools/encode_prompt.py ...
#
# Environment:
#   PYTHON=python3.11              the interpreter that creates the venv (default python3)
# A folder <repo>/.whl/ of wheels, if present, is offered to pip with --find-links.
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
venv="$root/.venv"
req="$root/tools/requirements.txt"
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "setup_venv.sh: $python: not found (install python3 and python3-venv)" >&2
        exit 1
    fi
    if ! "$python" -m venv "$venv"; then
        echo "setup_venv.sh: $venv: could not create the venv (on Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
fi

# Does the venv already hold every pinned name==version? (local labels like +cpu are ignored)
satisfied() {
    "$venv/bin/python" - "$req" <<'EOF'
import sys
from importlib import metadata

ok = True
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, want = line.partition("==")
    name, want = name.strip(), want.strip()
    try:
        have = metadata.version(name).split("+", 1)[0]
    except metadata.PackageNotFoundError:
        have = None
    if have != want:
        print(f"setup_venv.sh: {name}: have {have}, want {want}", file=sys.stderr)
        ok = False
sys.exit(0 if ok else 1)
EOF
}

if satisfied 2>/dev/null; then
    echo "setup_venv.sh: $venv is up to date"
    exit 0
fi

set -- install --disable-pip-version-check -r "$req"
if [ -d "$root/.whl" ]; then
    set -- "$@" --find-links "$root/.whl"
fi
"$venv/bin/python" -m pip "$@"
if ! satisfied; then
    echo "setup_venv.sh: $venv: pinned versions still missing after pip install" >&2
    exit 1
fi
echo "setup_venv.sh: $venv is ready"
