#!/usr/bin/env bash
# test_denoise.sh — `xattn denoise` end to end on tests/data/models/tiny_linear_v: output
# written with its text chunks (input, strength), the same seed gives the same bytes, a larger
# input is resized, --heatmaps DIR is written, and the exit codes of bad inputs (1) and bad
# command lines (2), with no output file left behind on failure.
. "$(dirname "$0")/lib.sh"

M="$XATTN_SOURCE_DIR/tests/data/models/tiny_linear_v"
P="$XATTN_SOURCE_DIR/assets/a-red-circle.safetensors"
I="$XATTN_SOURCE_DIR/tests/data/reference/img2img_input.png"
require_files "$M/unet/config.json" "$P" "$I"

# error NAME WANT PATTERN ARGS...: the exit status and a one-line "xattn: " error with PATTERN.
error() {
    local name=$1 want=$2 pattern=$3
    shift 3
    run "$name" "$want" "$@" || return
    [ "$(wc -l <"$T/stderr")" -eq 1 ] || fail "$name: not one line: $(cat "$T/stderr")"
    grep -q "^xattn: .*$pattern" "$T/stderr" || fail "$name: stderr lacks '$pattern': $(cat "$T/stderr")"
}

common=(-m "$M" -p "$P" --steps 6 --cfg 2 -s 3 --quiet)

# a run, its text chunks, and determinism
if run basic 0 denoise "${common[@]}" -i "$I" --strength 0.5 -o "$T/a.png"; then
    [ -s "$T/a.png" ] || fail "basic: no output"
    run info 0 info "$T/a.png"
    for key in "strength" "input" "seed" "steps" "model"; do
        grep -q "$key" "$T/stdout" || fail "info: no '$key' in $(cat "$T/stdout")"
    done
    grep -q "0.5" "$T/stdout" || fail "info: strength 0.5 not shown"
    run again 0 denoise "${common[@]}" -i "$I" --strength 0.5 -o "$T/b.png"
    cmp -s "$T/a.png" "$T/b.png" || fail "same seed: different bytes"
    run low 0 denoise "${common[@]}" -i "$I" --strength 0.2 -o "$T/c.png"
    cmp -s "$T/a.png" "$T/c.png" && fail "strength 0.2 and 0.5 gave the same bytes"
fi

# a 32x32 input (resized to 16x16) with heatmaps
if run dataset 0 dataset -o "$T/data" --count 1 --seed 1; then
    big=$(find "$T/data" -name '*.png' | head -n 1)
    if [ -n "$big" ]; then
        if run resized_heatmaps 0 denoise "${common[@]}" -i "$big" --strength 0.8 \
               --heatmaps "$T/heat" -o "$T/d.png"; then
            [ -s "$T/d.png" ] || fail "resized: no output"
            [ -s "$T/heat/grid.png" ] || fail "heatmaps: no grid.png"
            [ -s "$T/heat/heatmaps.safetensors" ] || fail "heatmaps: no heatmaps.safetensors"
            ls "$T/heat" | grep -q '^0-.*\.png$' || fail "heatmaps: no 0-<word>.png"
        fi
    else
        fail "dataset: no PNG in $T/data"
    fi
fi

# command-line errors: exit 2, no output
error no_input 2 "-i: missing" denoise "${common[@]}" --strength 0.5 -o "$T/e.png"
error no_strength 2 "--strength: missing" denoise "${common[@]}" -i "$I" -o "$T/e.png"
error strength_zero 2 "--strength: 0 is outside" denoise "${common[@]}" -i "$I" --strength 0 -o "$T/e.png"
error strength_big 2 "--strength: 1.5 is outside" denoise "${common[@]}" -i "$I" --strength 1.5 -o "$T/e.png"
error strength_nan 2 "--strength: 'nan'" denoise "${common[@]}" -i "$I" --strength nan -o "$T/e.png"
error strength_word 2 "--strength: 'abc'" denoise "${common[@]}" -i "$I" --strength abc -o "$T/e.png"
error no_step 2 "runs no step" denoise "${common[@]}" -i "$I" --strength 0.1 -o "$T/e.png"
error heat_opt_alone 2 "--heatmaps" denoise "${common[@]}" -i "$I" --strength 0.5 --heat-steps 0:2 -o "$T/e.png"
# --heat-steps counts the int(N x strength) steps that run: here 5 of --steps 10
error heat_steps_past_run 2 "--heat-steps: starts at step 7, but 5 steps run (0..4)" denoise "${common[@]}" \
    -i "$I" --strength 0.5 --steps 10 --heatmaps "$T/eh" --heat-steps 7: -o "$T/e.png"
[ -e "$T/eh" ] && fail "heat_steps_past_run: left $T/eh"
# input errors: exit 1, no output
error missing_image 1 "nope.png" denoise "${common[@]}" -i "$T/nope.png" --strength 0.5 -o "$T/e.png"
printf 'not an image' >"$T/bad.png"
error corrupt_image 1 "bad.png" denoise "${common[@]}" -i "$T/bad.png" --strength 0.5 -o "$T/e.png"
error missing_model 1 "" denoise -m "$T/none" -p "$P" -i "$I" --strength 0.5 -o "$T/e.png"
error out_folder 1 "cannot write" denoise "${common[@]}" -i "$I" --strength 0.5 -o "$T/none/e.png"
[ -e "$T/e.png" ] && fail "a failed run left $T/e.png"
ls "$T" | grep -q '^\.' && fail "temporary files left: $(ls -a "$T")"

finish "all denoise checks passed"
