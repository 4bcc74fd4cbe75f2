# test_teeth.sh — the golden comparison has teeth: with one weight of the shipped model changed
# by a small amount, or with another seed, tools/golden.sh check fails; with an unchanged
# rewritten copy of the model it passes (so the failures come from the change, not the copy).
. "$XATTN_SOURCE_DIR/tests/cli/lib.sh"
: "${PERTURB_WEIGHT:?set PERTURB_WEIGHT to the perturb_weight tool}"
src=$XATTN_SOURCE_DIR
golden=$src/tools/golden.sh
weights=weights/shapes32/unet/diffusion_pytorch_model.safetensors
n_cases=$(grep -vc -e '^#' -e '^[[:space:]]*$' "$src/tests/golden/cases.tsv")

# model_copy DIR TENSOR INDEX DELTA: the shipped model in DIR with TENSOR[INDEX] += DELTA.
model_copy() {
    rm -rf "$1" && cp -r "$src/weights/shapes32" "$1" &&
        "$PERTURB_WEIGHT" "$src/$weights" "$1/unet/diffusion_pytorch_model.safetensors" "$2" "$3" "$4"
}

# check NAME CASES WANT_DIFFERING: golden.sh check on CASES; WANT_DIFFERING is "none", "some"
# or "all" of the cases.
check() {
    local name=$1 cases=$2 want=$3 differing
    bash "$golden" check -x "$XATTN" -c "$cases" -o "$T/$name" >"$T/$name.log" 2>&1
    differing=$(grep -c '^DIFFERS' "$T/$name.log")
    echo "$name: $differing of $n_cases cases differ"
    grep '^DIFFERS' "$T/$name.log" | head -3
    case $want in
    none) [ "$differing" -eq 0 ] && grep -q '^all .* within tolerance' "$T/$name.log" ;;
    some) [ "$differing" -gt 0 ] && ! grep -q '^all .* within tolerance' "$T/$name.log" ;;
    all) [ "$differing" -eq "$n_cases" ] ;;
    esac && ok "$name" || fail "$name: want $want of the cases to differ, $differing did: $(tail -3 "$T/$name.log")"
}

# The unchanged copy (DELTA 0, every tensor rewritten as F32) passes.
model_copy "$T/same" conv_in.weight 1 0 >/dev/null || fail "copy the model"
sed "s#weights/shapes32#$T/same#g" "$src/tests/golden/cases.tsv" >"$T/same.tsv"
check unchanged-copy-passes "$T/same.tsv" none

# conv_in.weight[1] (0.083, a first-layer 3x3 kernel tap) + 0.01 fails.
model_copy "$T/perturbed" conv_in.weight 1 0.01 || fail "perturb the model"
sed "s#weights/shapes32#$T/perturbed#g" "$src/tests/golden/cases.tsv" >"$T/perturbed.tsv"
check one-weight-changed-fails "$T/perturbed.tsv" some

# Every case with its seed + 1 fails.
awk -F'\t' 'BEGIN { OFS = "\t" } /^#/ || NF < 2 { print; next }
    { n = split($2, a, " "); for (i = 1; i < n; i++) if (a[i] == "-s") a[i + 1] += 1
      s = a[1]; for (i = 2; i <= n; i++) s = s " " a[i]; print $1, s }' \
    "$src/tests/golden/cases.tsv" >"$T/seeds.tsv"
check another-seed-fails "$T/seeds.tsv" all
finish
