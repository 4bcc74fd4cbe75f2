# lib.sh — helpers shared by tests/cli/test_*.sh, sourced first: . "$(dirname "$0")/lib.sh"
# (not a test itself: tests/CMakeLists.txt only globs test_*.sh). Sourcing it checks the
# environment (XATTN, XATTN_TEST_TMP; XATTN_SOURCE_DIR defaults to this checkout), sets
# LC_ALL=C, makes a fresh folder T=$XATTN_TEST_TMP/cli_<name> for test_<name>.sh, and sets the
# failure count `fails` to 0. Every xattn run leaves its output in $T/stdout and $T/stderr.
set -u
: "${XATTN:?set XATTN to the xattn binary}" "${XATTN_TEST_TMP:?set XATTN_TEST_TMP}"
: "${XATTN_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export LC_ALL=C
T="$XATTN_TEST_TMP/cli_$(basename "$0" .sh | sed 's/^test_//')"
rm -rf "$T" && mkdir -p "$T" || exit 1
fails=0

fail() { echo "FAIL $1"; fails=$((fails + 1)); }
ok() { echo "ok $1"; }

# finish [MESSAGE]: exit 1 with "N failed" after a failure, else print MESSAGE (if any), exit 0.
finish() {
    [ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
    [ $# -eq 0 ] || echo "$1"
    exit 0
}

# require_files FILE...: exit 0 with "skip: FILE missing" unless every FILE is a regular file.
require_files() {
    local f
    for f in "$@"; do
        [ -f "$f" ] || { echo "skip: $f missing"; exit 0; }
    done
}

# write_u64 N: N as 8 little-endian bytes on stdout.
write_u64() {
    local n=$1 i
    for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $(( (n >> (8 * i)) & 255 )))"; done
}

# write_safetensors FILE HEADER_JSON DATA_BYTES: u64 little-endian header length, the header
# padded with spaces to a multiple of 8, then DATA_BYTES zero bytes.
write_safetensors() {
    local file=$1 header=$2 nbytes=$3
    while [ $(( ${#header} % 8 )) -ne 0 ]; do header+=" "; done
    { write_u64 "${#header}"; printf '%s' "$header"; head -c "$nbytes" /dev/zero; } >"$file"
}

# png_with_chunk IN OUT TYPE DATA_FILE: copies the PNG IN to OUT with one more chunk (TYPE, the
# bytes of DATA_FILE) right after IHDR. The CRC-32 comes from gzip's trailer (the same CRC).
png_with_chunk() {
    local in=$1 out=$2 type=$3 data=$4 len crc
    len=$(wc -c <"$data")
    crc=$({ printf '%s' "$type"; cat "$data"; } | gzip -c | tail -c 8 | od -An -tx4 -N4 | tr -d ' ')
    {
        head -c 33 "$in"
        printf "\\x$(printf %02x $(( (len >> 24) & 255 )))\\x$(printf %02x $(( (len >> 16) & 255 )))"
        printf "\\x$(printf %02x $(( (len >> 8) & 255 )))\\x$(printf %02x $(( len & 255 )))"
        printf '%s' "$type"
        cat "$data"
        printf "\\x${crc:0:2}\\x${crc:2:2}\\x${crc:4:2}\\x${crc:6:2}"
        tail -c +34 "$in"
    } >"$out"
}

# valid_utf8 FILE: 0 when FILE is valid UTF-8 (iconv refuses ill-formed input).
valid_utf8() { iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1; }

# run NAME WANT [--] ARGS...: runs xattn ARGS; 0 when the exit status is WANT, else a FAIL.
run() {
    local name=$1 want=$2
    shift 2
    [ "${1-}" = "--" ] && shift
    "$XATTN" "$@" >"$T/stdout" 2>"$T/stderr"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$name: expected exit $want got $got, stderr: $(head -c 300 "$T/stderr")"
        return 1
    fi
    return 0
}

# expect_quiet WANT PREFIX NAME [--] ARGS...: run, then for WANT != 0 exactly one stderr line
# starting with the literal PREFIX and an empty stdout (any stdout where STDOUT_OK=1); for
# WANT 0 an empty stderr. 0 when all hold, else a FAIL. expect: the same, printing "ok NAME".
expect_quiet() {
    local want=$1 prefix=$2 name=$3 lines
    shift 3
    run "$name" "$want" "$@" || return 1
    lines=$(wc -l <"$T/stderr")
    if [ "$want" -ne 0 ] && { [ "$lines" -ne 1 ] || [ "$(head -c ${#prefix} "$T/stderr")" != "$prefix" ]; }; then
        fail "$name: expected one stderr line starting '$prefix', got $lines: $(head -c 300 "$T/stderr")"
        return 1
    fi
    if [ "$want" -ne 0 ] && [ "${STDOUT_OK:-0}" != 1 ] && [ -s "$T/stdout" ]; then
        fail "$name: expected nothing on stdout, got: $(head -c 300 "$T/stdout")"
        return 1
    fi
    if [ "$want" -eq 0 ] && [ -s "$T/stderr" ]; then
        fail "$name: expected empty stderr, got: $(head -c 300 "$T/stderr")"
        return 1
    fi
    return 0
}
expect() { expect_quiet "$@" && ok "$3"; }

# expect_error NAME WANT PATTERN ARGS...: exit WANT, exactly one stderr line matching the grep
# pattern "^xattn: PATTERN", an empty stdout; prints "ok NAME".
expect_error() {
    local name=$1 want=$2 pattern=$3
    shift 3
    run "$name" "$want" "$@" || return
    if [ "$(wc -l <"$T/stderr")" -ne 1 ] || ! grep -q "^xattn: $pattern" "$T/stderr"; then
        fail "$name: stderr '$(head -c 300 "$T/stderr")', want one line 'xattn: $pattern...'"
    elif [ -s "$T/stdout" ]; then
        fail "$name: stdout not empty"
    else
        ok "$name"
    fi
}
