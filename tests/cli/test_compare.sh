#!/usr/bin/env bash
# test_compare.sh — `xattn compare`: exit 0 within tolerance, 1 past it or for a wrong input
# (size mismatch naming both files, missing or corrupt file), 2 for a bad command line; the
# figures in text and JSON; the --diff image's exact pixels. Inputs are tiny binary PPMs written
# here (stb reads them like PNGs), so every expected figure is worked out by hand below.
set -u
: "${XATTN:?set XATTN to the xattn binary}" "${XATTN_TEST_TMP:?set XATTN_TEST_TMP}"
export LC_ALL=C
T="$XATTN_TEST_TMP/cli_compare"
rm -rf "$T" && mkdir -p "$T" || exit 1
fails=0
fail() { echo "FAIL $1"; fails=$((fails + 1)); }

# ppm FILE W H HEXBYTES...: a binary PPM whose first samples are the given bytes, the rest 0x40.
ppm() {
    local file=$1 w=$2 h=$3 i
    shift 3
    local n=$((w * h * 3))
    { printf 'P6\n%d %d\n255\n' "$w" "$h"
      for b in "$@"; do printf "\\x$b"; done
      for ((i = $#; i < n; i++)); do printf '\x40'; done
    } >"$file"
}

# 4x3 images (36 samples; bytes in hex). B differs from A in one sample (pixel x 1, y 0, green:
# 0x50 = 80 vs 0x55 = 85) by 5:
# max 5, mean 5/36 = 0.138889, PSNR 10 log10(255^2 * 36 / 25) = 49.714 dB, 1 differing pixel.
ppm "$T/a.ppm" 4 3 10 20 30 40 50 60
ppm "$T/a_copy.ppm" 4 3 10 20 30 40 50 60
ppm "$T/b.ppm" 4 3 10 20 30 40 55 60
ppm "$T/tall.ppm" 3 4 10 20 30 40 50 60
# The expected difference image: 8 * 5 = 40 (0x28) at that sample, 0 elsewhere.
{ printf 'P6\n4 3\n255\n'; printf '\x00\x00\x00\x00\x28'; head -c 31 /dev/zero; } >"$T/want_diff.ppm"
printf 'not an image\n' >"$T/junk.png"

# run CASE WANT_EXIT -- ARGS...: runs xattn with ARGS; checks the exit status and, for a
# non-zero one, exactly one stderr line starting "xattn: ".
run() {
    local name=$1 want=$2
    shift 3
    "$XATTN" "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$name: expected exit $want got $got, stderr: $(head -c 300 "$T/err")"
        return 1
    fi
    if [ "$want" -ne 0 ] && { [ "$(wc -l <"$T/err")" -ne 1 ] || [ "$(head -c 7 "$T/err")" != "xattn: " ]; }; then
        fail "$name: expected one stderr line 'xattn: ...', got: $(head -c 300 "$T/err")"
        return 1
    fi
    if [ "$want" -eq 0 ] && [ -s "$T/err" ]; then
        fail "$name: expected empty stderr, got: $(head -c 300 "$T/err")"
        return 1
    fi
    echo "ok $name"
}

# has CASE FILE NEEDLE...: every NEEDLE occurs in FILE.
has() {
    local name=$1 file=$2 needle
    shift 2
    for needle in "$@"; do
        if grep -qF -- "$needle" "$file"; then echo "ok $name has '$needle'"
        else fail "$name: no '$needle' in: $(head -c 600 "$file")"; fi
    done
}

# --- exit 0 / 1 and the figures ----------------------------------------------------------
run identical 0 -- compare "$T/a.ppm" "$T/a_copy.ppm" &&
    has identical "$T/out" "max_abs_diff: 0" "mean_abs_diff: 0.000000" "psnr_db: inf" \
        "differing_pixels: 0 of 12" "result: identical" "size: 4x3"

run one_sample_default_tolerance 1 -- compare "$T/a.ppm" "$T/b.ppm" && {
    has one_sample "$T/out" "max_abs_diff: 5" "mean_abs_diff: 0.138889" "psnr_db: 49.714" \
        "differing_pixels: 1 of 12" "worst: x 1, y 0, channel G: 80 vs 85" "result: past tolerance"
    has one_sample_stderr "$T/err" "$T/b.ppm" "$T/a.ppm" "5 > 0"
}
run tolerance_5_passes 0 -- compare "$T/a.ppm" "$T/b.ppm" --tolerance 5 &&
    has tolerance_5 "$T/out" "result: within tolerance"
run tolerance_4_fails 1 -- compare "$T/a.ppm" "$T/b.ppm" --tolerance=4
run min_psnr_49_passes 0 -- compare "$T/a.ppm" "$T/b.ppm" --min-psnr 49
run min_psnr_50_fails 1 -- compare "$T/a.ppm" "$T/b.ppm" --min-psnr 50 &&
    has min_psnr_50_stderr "$T/err" "PSNR 49.714 dB < 50 dB"
run both_limits_tolerance_fails 1 -- compare "$T/a.ppm" "$T/b.ppm" --min-psnr 40 --tolerance 4

# --- wrong inputs: exit 1, one line, nothing on stdout, no diff written ------------------
run size_mismatch 1 -- compare "$T/a.ppm" "$T/tall.ppm" --diff "$T/no.png" && {
    has size_mismatch "$T/err" "$T/a.ppm" "$T/tall.ppm" "3x4" "4x3"
    [ -s "$T/out" ] && fail "size_mismatch: stdout not empty"
    [ -e "$T/no.png" ] && fail "size_mismatch: $T/no.png was written"
}
run missing_file 1 -- compare "$T/a.ppm" "$T/nowhere.png" && has missing_file "$T/err" "$T/nowhere.png"
run missing_first 1 -- compare "$T/nowhere.png" "$T/a.ppm" && has missing_first "$T/err" "$T/nowhere.png"
run corrupt_file 1 -- compare "$T/junk.png" "$T/a.ppm" && has corrupt_file "$T/err" "$T/junk.png"

# --- bad command lines: exit 2 -----------------------------------------------------------
run no_images 2 -- compare
run one_image 2 -- compare "$T/a.ppm"
run three_images 2 -- compare "$T/a.ppm" "$T/b.ppm" "$T/a_copy.ppm"
run tolerance_256 2 -- compare "$T/a.ppm" "$T/b.ppm" --tolerance 256
run tolerance_negative 2 -- compare "$T/a.ppm" "$T/b.ppm" --tolerance -1
run tolerance_abc 2 -- compare "$T/a.ppm" "$T/b.ppm" --tolerance abc
run tolerance_fraction 2 -- compare "$T/a.ppm" "$T/b.ppm" --tolerance 1.5
run min_psnr_nan 2 -- compare "$T/a.ppm" "$T/b.ppm" --min-psnr nan
run min_psnr_negative 2 -- compare "$T/a.ppm" "$T/b.ppm" --min-psnr -3
run diff_missing_value 2 -- compare "$T/a.ppm" "$T/b.ppm" --diff
run diff_empty 2 -- compare "$T/a.ppm" "$T/b.ppm" --diff=
run diff_is_input 2 -- compare "$T/a.ppm" "$T/b.ppm" --diff "$T/b.ppm"
run unknown_option 2 -- compare "$T/a.ppm" "$T/b.ppm" --bogus
run json_with_value 2 -- compare "$T/a.ppm" "$T/b.ppm" --json=1
run help 0 -- compare --help && has help "$T/out" "usage: xattn compare" "--tolerance" "--min-psnr"

# --- the difference image ----------------------------------------------------------------
# Written (atomically, no temporary left) even past tolerance; its pixels are exactly
# min(255, 8 |A - B|): compare it with the hand-made expected image, and read it with info.
run diff_written 1 -- compare "$T/a.ppm" "$T/b.ppm" --diff "$T/d.png" && {
    has diff_written "$T/out" "diff: $T/d.png"
    if ls -a "$T" | grep -q '\.tmp-'; then fail "diff_written: temporary file left in $T"; fi
}
run diff_pixels 0 -- compare "$T/d.png" "$T/want_diff.ppm"
run diff_png_info 0 -- info "$T/d.png" && has diff_png_info "$T/out" "size: 4x3"
run diff_identical_is_black 0 -- compare "$T/a.ppm" "$T/a_copy.ppm" --diff "$T/black.png" && {
    { printf 'P6\n4 3\n255\n'; head -c 36 /dev/zero; } >"$T/black.ppm"
    run diff_identical_pixels 0 -- compare "$T/black.png" "$T/black.ppm"
}

# --- JSON: one object on stdout ----------------------------------------------------------
run json_past 1 -- compare "$T/a.ppm" "$T/b.ppm" --json && {
    if [ "$(wc -l <"$T/out")" -eq 1 ] && [ "$(head -c 1 "$T/out")" = "{" ]; then echo "ok json_one_object"
    else fail "json_one_object: $(head -c 400 "$T/out")"; fi
    has json_past "$T/out" '"width":4' '"height":3' '"max_abs_diff":5' '"mean_abs_diff":0.13888' \
        '"psnr_db":49.714' '"identical":false' '"differing_pixels":1' '"pixels":12' \
        '"worst":{"x":1,"y":0,"channel":"G","a":80,"b":85}' '"max_abs_limit":0' \
        '"min_psnr_db":null' '"within_tolerance":false' '"diff":null'
}
run json_identical 0 -- compare "$T/a.ppm" "$T/a_copy.ppm" --json --min-psnr 60 --diff "$T/d2.png" &&
    has json_identical "$T/out" '"max_abs_diff":0' '"psnr_db":null' '"identical":true' \
        '"worst":null' '"max_abs_limit":255' '"min_psnr_db":60' '"within_tolerance":true' \
        "\"diff\":\"$T/d2.png\""

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
