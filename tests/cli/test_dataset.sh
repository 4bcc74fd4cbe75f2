#!/usr/bin/env bash
# test_dataset.sh — `xattn dataset`: 20 images with masks, truth.jsonl (20 one-line JSON
# objects with the documented fields) and world.json; the same seed again gives the same
# files; the npy format; bad options exit 2 with one line; an unwritable folder exits 1.
# Plain shell only (no python in CI).
. "$(dirname "$0")/lib.sh"

D="$T/set"
"$XATTN" dataset -o "$D" --count 20 --seed 5 -q >"$T/stdout" 2>"$T/stderr"
got=$?
if [ "$got" -ne 0 ]; then
    fail "dataset: expected exit 0 got $got, stderr: $(head -c 300 "$T/stderr")"
else
    ok "dataset exit 0"
    [ -s "$T/stderr" ] && fail "dataset -q: stderr not empty: $(head -c 200 "$T/stderr")"
    missing=0
    for i in $(seq 0 19); do
        n=$(printf %06d "$i")
        for f in "images/$n.png" "masks/$n.png"; do
            if [ ! -s "$D/$f" ] || [ "$(head -c 4 "$D/$f" | od -An -tx1 | tr -d ' \n')" != "89504e47" ]; then
                fail "missing or not a PNG: $f"
                missing=$((missing + 1))
            fi
        done
    done
    [ "$missing" -eq 0 ] && ok "40 PNGs"
    [ -e "$D/images/000020.png" ] && fail "image 20 written for --count 20"
    if ls -a "$D" "$D/images" "$D/masks" | grep -q '\.tmp-'; then fail "temporary files left: $(ls -a "$D" | head)"; else ok "no temporaries"; fi
    # 32x32, RGB (colour type 2) and gray (0), 8-bit: IHDR bytes 16..25
    ihdr() { od -An -tx1 -j16 -N10 "$1" | tr -d ' \n'; }
    [ "$(ihdr "$D/images/000000.png")" = "00000020000000200802" ] && ok "image IHDR 32x32 RGB8" || fail "image IHDR $(ihdr "$D/images/000000.png")"
    [ "$(ihdr "$D/masks/000000.png")" = "00000020000000200800" ] && ok "mask IHDR 32x32 gray8" || fail "mask IHDR $(ihdr "$D/masks/000000.png")"

    J="$D/truth.jsonl"
    lines=$(wc -l <"$J")
    [ "$lines" -eq 20 ] && ok "truth.jsonl 20 lines" || fail "truth.jsonl has $lines lines"
    bad=0
    i=0
    while IFS= read -r line; do
        n=$(printf %06d "$i")
        case "$line" in
            "{\"id\":$i,\"image\":\"images/$n.png\",\"mask\":\"masks/$n.png\",\"split\":\"train\",\"caption\":\""*"}") ;;
            *) fail "line $((i + 1)) does not start as documented: ${line:0:120}"; bad=$((bad + 1)) ;;
        esac
        for field in '"kind":"' '"background":"' '"objects":[{"shape":"' '"color":"' '"size":"' '"position":"' '"center":[' '"bbox":[' '"pixels":' '"words":[' '"relation":'; do
            case "$line" in *"$field"*) ;; *) fail "line $((i + 1)) lacks $field"; bad=$((bad + 1)) ;; esac
        done
        # a caption: lower-case words and single spaces
        cap=${line#*\"caption\":\"}
        cap=${cap%%\"*}
        if ! printf '%s' "$cap" | grep -Eq '^[a-z]+( [a-z]+)*$'; then fail "caption '$cap'"; bad=$((bad + 1)); fi
        # balanced braces and brackets: one whole object per line
        opens=$(printf '%s' "$line" | tr -cd '{[' | wc -c)
        closes=$(printf '%s' "$line" | tr -cd '}]' | wc -c)
        [ "$opens" -eq "$closes" ] || { fail "line $((i + 1)) unbalanced"; bad=$((bad + 1)); }
        i=$((i + 1))
    done <"$J"
    [ "$bad" -eq 0 ] && ok "truth.jsonl lines well formed"
    grep -q '"kind":"relation"' "$J" && grep -q '"relation":{"subject":' "$J" && ok "a relation record" || echo "note: no relation scene in 20"

    for want in '"version":' '"holdout_pairs":' '"shapes":' '"colors":' '"positions":' '"backgrounds":' '"sizes":' '"count":[[:space:]]*20,'; do
        grep -Eq "$want" "$D/world.json" && ok "world.json has $want" || fail "world.json lacks $want"
    done

    # the same seed again: identical files; a bigger set starts with the smaller one
    "$XATTN" dataset -o "$T/set2" --count 25 --seed 5 -q 2>"$T/stderr2" || fail "second run: $(head -c 200 "$T/stderr2")"
    if cmp -s "$D/images/000007.png" "$T/set2/images/000007.png" && cmp -s "$D/masks/000019.png" "$T/set2/masks/000019.png" &&
        [ "$(cat "$J")" = "$(head -n 20 "$T/set2/truth.jsonl")" ]; then ok "25 extends 20"; else fail "25 does not extend 20"; fi
    "$XATTN" dataset -o "$T/set3" --count 20 --seed 6 -q 2>/dev/null
    cmp -s "$J" "$T/set3/truth.jsonl" && fail "seed 6 gives the same truth as seed 5" || ok "another seed differs"
    "$XATTN" dataset -o "$T/hold" --count 20 --seed 5 --split holdout -q 2>/dev/null
    [ "$(grep -c '"split":"holdout"' "$T/hold/truth.jsonl")" -eq 20 ] && ok "holdout split" || fail "holdout split lines"
fi

# the npy format
"$XATTN" dataset -o "$T/npy" --count 20 --format npy -q 2>"$T/stderr"
if [ $? -ne 0 ]; then
    fail "npy: $(head -c 200 "$T/stderr")"
else
    size=$(wc -c <"$T/npy/images.npy")
    [ "$size" -eq $((128 + 20 * 32 * 32 * 3)) ] && ok "images.npy size" || fail "images.npy is $size bytes"
    head -c 128 "$T/npy/images.npy" | grep -aq "'shape': (20, 32, 32, 3)" && ok "images.npy header" || fail "images.npy header"
    [ "$(wc -l <"$T/npy/truth.jsonl")" -eq 20 ] && ok "npy truth 20 lines" || fail "npy truth lines"
fi

# bad command lines: exit 2, one line "xattn: <option>: ..."
expect_usage() {
    local what=$1 pattern=$2
    shift 2
    expect_error "$what" 2 "$pattern" dataset "$@"
}
expect_usage "count 0" "--count: " -o "$T/x" --count 0
expect_usage "count too big" "--count: " -o "$T/x" --count 10000001
expect_usage "count not a number" "--count: " -o "$T/x" --count ten
expect_usage "count missing" "--count: missing" -o "$T/x"
expect_usage "output missing" "-o: missing" --count 3
expect_usage "bad split" "--split: " -o "$T/x" --count 3 --split test
expect_usage "bad seed" "--seed: " -o "$T/x" --count 3 --seed -4
expect_usage "bad format" "--format: " -o "$T/x" --count 3 --format jpg
expect_usage "unknown option" "--colour" -o "$T/x" --count 3 --colour red
expect_usage "stray argument" "extra: " -o "$T/x" --count 3 extra
[ -e "$T/x" ] && fail "a bad command line created the output folder"

# an unwritable folder: exit 1, one line
: >"$T/plain_file"
"$XATTN" dataset -o "$T/plain_file/sub" --count 3 >"$T/stdout" 2>"$T/stderr"
got=$?
if [ "$got" -eq 1 ] && [ "$(wc -l <"$T/stderr")" -eq 1 ] && grep -q "^xattn: .*plain_file" "$T/stderr"; then
    ok "unwritable folder"
else
    fail "unwritable folder: exit $got, stderr '$(head -c 200 "$T/stderr")'"
fi

# A folder that is not a dataset xattn wrote: a name the dataset writes that exists there is a
# user's file, never overwritten (it was replaced before); other files do not matter.
mkdir -p "$T/photos/images" && printf 'my photo' >"$T/photos/images/000001.png"
expect_error "user's images/000001.png" 1 "$T/photos: holds $T/photos/images/000001.png, and is not a dataset xattn wrote" \
    dataset -o "$T/photos" --count 3 -q
[ "$(cat "$T/photos/images/000001.png")" = "my photo" ] && [ ! -e "$T/photos/truth.jsonl" ] &&
    ok "user's images untouched" || fail "user's images: $(ls -R "$T/photos")"
mkdir -p "$T/notes" && printf 'my notes' >"$T/notes/truth.jsonl"
expect_error "user's truth.jsonl" 1 "$T/notes: holds $T/notes/truth.jsonl, and is not a dataset xattn wrote" \
    dataset -o "$T/notes" --count 3 --format npy -q
[ "$(cat "$T/notes/truth.jsonl")" = "my notes" ] && ok "user's truth.jsonl untouched" || fail "user's truth.jsonl replaced"
mkdir -p "$T/other" && printf 'x' >"$T/other/readme.txt"
"$XATTN" dataset -o "$T/other" --count 3 -q 2>"$T/stderr" && [ -s "$T/other/truth.jsonl" ] && [ -s "$T/other/readme.txt" ] &&
    ok "dataset beside other files" || fail "dataset beside other files: $(head -c 200 "$T/stderr")"
"$XATTN" dataset -o "$T/other" --count 4 -q 2>"$T/stderr" && ok "dataset over its own set" || fail "dataset over its own set: $(head -c 200 "$T/stderr")"

finish "all passed"
