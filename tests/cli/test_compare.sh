#!/usr/bin/env bash
# test_compare.sh — `xattn compare`: exit 0 within tolerance, 1 past it or for a wrong input
# (size mismatch naming both files, missing or corrupt file), 2 for a bad command line; the
# figures in text and JSON; the --diff image's exact pixels. Inputs are tiny binary PPMs written
# here (stb reads them like PNGs), so every expected figure is worked out by hand below.
. "$(dirname "$0")/lib.sh"
# a past-tolerance compare prints its figures on stdout with exit 1
STDOUT_OK=1

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
expect 0 "xattn: " identical -- compare "$T/a.ppm" "$T/a_copy.ppm" &&
    has identical "$T/stdout" "max_abs_diff: 0" "mean_abs_diff: 0.000000" "psnr_db: inf" \
        "differing_pixels: 0 of 12" "result: identical" "size: 4x3"

expect 1 "xattn: " one_sample_default_tolerance -- compare "$T/a.ppm" "$T/b.ppm" && {
    has one_sample "$T/stdout" "max_abs_diff: 5" "mean_abs_diff: 0.138889" "psnr_db: 49.714" \
        "differing_pixels: 1 of 12" "worst: x 1, y 0, channel G: 80 vs 85" "result: past tolerance"
    has one_sample_stderr "$T/stderr" "$T/b.ppm" "$T/a.ppm" "5 > 0"
}
expect 0 "xattn: " tolerance_5_passes -- compare "$T/a.ppm" "$T/b.ppm" --tolerance 5 &&
    has tolerance_5 "$T/stdout" "result: within tolerance"
expect 1 "xattn: " tolerance_4_fails -- compare "$T/a.ppm" "$T/b.ppm" --tolerance=4
expect 0 "xattn: " min_psnr_49_passes -- compare "$T/a.ppm" "$T/b.ppm" --min-psnr 49
expect 1 "xattn: " min_psnr_50_fails -- compare "$T/a.ppm" "$T/b.ppm" --min-psnr 50 &&
    has min_psnr_50_stderr "$T/stderr" "PSNR 49.714 dB < 50 dB"
expect 1 "xattn: " both_limits_tolerance_fails -- compare "$T/a.ppm" "$T/b.ppm" --min-psnr 40 --tolerance 4

# --- wrong inputs: exit 1, one line, nothing on stdout, no diff written ------------------
expect 1 "xattn: " size_mismatch -- compare "$T/a.ppm" "$T/tall.ppm" --diff "$T/no.png" && {
    has size_mismatch "$T/stderr" "$T/a.ppm" "$T/tall.ppm" "3x4" "4x3"
    [ -s "$T/stdout" ] && fail "size_mismatch: stdout not empty"
    [ -e "$T/no.png" ] && fail "size_mismatch: $T/no.png was written"
}
expect 1 "xattn: " missing_file -- compare "$T/a.ppm" "$T/nowhere.png" && has missing_file "$T/stderr" "$T/nowhere.png"
expect 1 "xattn: " missing_first -- compare "$T/nowhere.png" "$T/a.ppm" && has missing_first "$T/stderr" "$T/nowhere.png"
expect 1 "xattn: " corrupt_file -- compare "$T/junk.png" "$T/a.ppm" && has corrupt_file "$T/stderr" "$T/junk.png"

# --- bad command lines: exit 2 -----------------------------------------------------------
expect 2 "xattn: " no_images -- compare
expect 2 "xattn: " one_image -- compare "$T/a.ppm"
expect 2 "xattn: " three_images -- compare "$T/a.ppm" "$T/b.ppm" "$T/a_copy.ppm"
expect 2 "xattn: " tolerance_256 -- compare "$T/a.ppm" "$T/b.ppm" --tolerance 256
expect 2 "xattn: " tolerance_negative -- compare "$T/a.ppm" "$T/b.ppm" --tolerance -1
expect 2 "xattn: " tolerance_abc -- compare "$T/a.ppm" "$T/b.ppm" --tolerance abc
expect 2 "xattn: " tolerance_fraction -- compare "$T/a.ppm" "$T/b.ppm" --tolerance 1.5
expect 2 "xattn: " min_psnr_nan -- compare "$T/a.ppm" "$T/b.ppm" --min-psnr nan
expect 2 "xattn: " min_psnr_negative -- compare "$T/a.ppm" "$T/b.ppm" --min-psnr -3
expect 2 "xattn: " diff_missing_value -- compare "$T/a.ppm" "$T/b.ppm" --diff
expect 2 "xattn: " diff_empty -- compare "$T/a.ppm" "$T/b.ppm" --diff=
expect 2 "xattn: " diff_is_input -- compare "$T/a.ppm" "$T/b.ppm" --diff "$T/b.ppm"
# the same input, spelled otherwise: it was overwritten with the difference image
cp "$T/b.ppm" "$T/b-copy.ppm" && ln -sf "$T/b-copy.ppm" "$T/b-link.ppm"
expect 2 "xattn: --diff: " diff_is_input_spelled -- compare "$T/a.ppm" "$T/b-copy.ppm" --diff "$T/../$(basename "$T")/./b-copy.ppm"
expect 2 "xattn: --diff: " diff_is_input_link -- compare "$T/b-link.ppm" "$T/a.ppm" --diff "$T/b-copy.ppm"
cmp -s "$T/b.ppm" "$T/b-copy.ppm" && ok diff_input_untouched || fail "diff_input_untouched: b-copy.ppm was overwritten"
expect 2 "xattn: " unknown_option -- compare "$T/a.ppm" "$T/b.ppm" --bogus
expect 2 "xattn: " json_with_value -- compare "$T/a.ppm" "$T/b.ppm" --json=1
expect 0 "xattn: " help -- compare --help && has help "$T/stdout" "usage: xattn compare" "--tolerance" "--min-psnr"

# --- the difference image ----------------------------------------------------------------
# Written (atomically, no temporary left) even past tolerance; its pixels are exactly
# min(255, 8 |A - B|): compare it with the hand-made expected image, and read it with info.
expect 1 "xattn: " diff_written -- compare "$T/a.ppm" "$T/b.ppm" --diff "$T/d.png" && {
    has diff_written "$T/stdout" "diff: $T/d.png"
    if ls -a "$T" | grep -q '\.tmp-'; then fail "diff_written: temporary file left in $T"; fi
}
expect 0 "xattn: " diff_pixels -- compare "$T/d.png" "$T/want_diff.ppm"
expect 0 "xattn: " diff_png_info -- info "$T/d.png" && has diff_png_info "$T/stdout" "size: 4x3"
expect 0 "xattn: " diff_identical_is_black -- compare "$T/a.ppm" "$T/a_copy.ppm" --diff "$T/black.png" && {
    { printf 'P6\n4 3\n255\n'; head -c 36 /dev/zero; } >"$T/black.ppm"
    expect 0 "xattn: " diff_identical_pixels -- compare "$T/black.png" "$T/black.ppm"
}

# --- JSON: one object on stdout ----------------------------------------------------------
expect 1 "xattn: " json_past -- compare "$T/a.ppm" "$T/b.ppm" --json && {
    if [ "$(wc -l <"$T/stdout")" -eq 1 ] && [ "$(head -c 1 "$T/stdout")" = "{" ]; then echo "ok json_one_object"
    else fail "json_one_object: $(head -c 400 "$T/stdout")"; fi
    has json_past "$T/stdout" '"width":4' '"height":3' '"max_abs_diff":5' '"mean_abs_diff":0.13888' \
        '"psnr_db":49.714' '"identical":false' '"differing_pixels":1' '"pixels":12' \
        '"worst":{"x":1,"y":0,"channel":"G","a":80,"b":85}' '"max_abs_limit":0' \
        '"min_psnr_db":null' '"within_tolerance":false' '"diff":null'
}
expect 0 "xattn: " json_identical -- compare "$T/a.ppm" "$T/a_copy.ppm" --json --min-psnr 60 --diff "$T/d2.png" &&
    has json_identical "$T/stdout" '"max_abs_diff":0' '"psnr_db":null' '"identical":true' \
        '"worst":null' '"max_abs_limit":255' '"min_psnr_db":60' '"within_tolerance":true' \
        "\"diff\":\"$T/d2.png\""

# --- two safetensors files: tensor by tensor, --atol -------------------------------------
# st FILE HEADER DATA: a safetensors file with the given JSON header and data bytes (printf).
st() {
    local header=$2
    while [ $(( ${#header} % 8 )) -ne 0 ]; do header+=" "; done
    { write_u64 "${#header}"; printf '%s' "$header"; printf "$3"; } >"$1"
}
meta='"__metadata__":{"words":"[\"a\"]"}'
st "$T/ta.safetensors" "{$meta,\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}" '\x00\x00\x80\x3f\x00\x00\x00\x40'
st "$T/tb.safetensors" "{$meta,\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}" '\x00\x00\x80\x3f\x00\x00\x20\x40'
st "$T/tf16.safetensors" "{$meta,\"x\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}" '\x00\x3c\x00\x40'
st "$T/tshape.safetensors" "{$meta,\"x\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}" '\x00\x00\x80\x3f\x00\x00\x00\x40'
st "$T/tname.safetensors" "{$meta,\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}" '\x00\x00\x80\x3f\x00\x00\x00\x40'
st "$T/tmeta.safetensors" "{\"__metadata__\":{\"words\":\"[]\"},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}" '\x00\x00\x80\x3f\x00\x00\x00\x40'
st "$T/tnan.safetensors" "{$meta,\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}" '\x00\x00\x80\x3f\x00\x00\xc0\x7f'

expect 0 "xattn: " tensors_identical -- compare "$T/ta.safetensors" "$T/tf16.safetensors" &&
    has tensors_identical "$T/stdout" "tensor x [2]: max_abs_diff 0," "metadata: same" "result: identical"
STDOUT_OK=1 expect 1 "xattn: $T/tb.safetensors: differs from $T/ta.safetensors past tolerance: tensor x max abs difference 0.5 > 0 at element 1 (2 vs 2.5)" \
    tensors_past -- compare "$T/ta.safetensors" "$T/tb.safetensors"
expect 0 "xattn: " tensors_within_atol -- compare "$T/ta.safetensors" "$T/tb.safetensors" --atol 0.5 --json &&
    has tensors_within_atol "$T/stdout" '"name":"x","shape":"[2]","max_abs_diff":0.5,"mean_abs_diff":0.25' \
        '"worst":{"index":1,"a":2,"b":2.5}' '"atol":0.5' '"within_tolerance":true' '"metadata_differs":null'
STDOUT_OK=1 expect 1 "xattn: $T/tnan.safetensors: differs from $T/ta.safetensors past tolerance: tensor x max abs difference inf > 1000" \
    tensors_nan -- compare "$T/ta.safetensors" "$T/tnan.safetensors" --atol 1000
expect_error tensors_shape 1 "$T/tshape.safetensors: tensor x has another shape than in $T/ta.safetensors" \
    compare "$T/ta.safetensors" "$T/tshape.safetensors"
expect_error tensors_missing 1 "$T/tname.safetensors: tensor y is not in $T/ta.safetensors" \
    compare "$T/ta.safetensors" "$T/tname.safetensors"
STDOUT_OK=1 expect 1 "xattn: $T/tmeta.safetensors: metadata words differs from $T/ta.safetensors's" \
    tensors_metadata -- compare "$T/ta.safetensors" "$T/tmeta.safetensors" --atol 1
expect_error tensors_no_tolerance 2 "--tolerance: .* tensors take --atol" \
    compare "$T/ta.safetensors" "$T/tb.safetensors" --tolerance 3
expect_error images_no_atol 2 "--atol: is for two .safetensors files" \
    compare "$T/a.ppm" "$T/b.ppm" --atol 1
head -c 20 "$T/ta.safetensors" >"$T/ttrunc.safetensors"
expect_error tensors_truncated 1 "$T/ttrunc.safetensors: " \
    compare "$T/ta.safetensors" "$T/ttrunc.safetensors"

finish
