#!/usr/bin/env bash
# test_formats.sh — -o and --heat-format in every format: .jpg/.jpeg/.bmp/.tga (any case) are
# written (through stb_image_write) and read back with stb_image (`xattn compare`): BMP and TGA
# give exactly the PNG's pixels, JPEG close ones: PSNR >= 20 dB (weights/shapes32, seed 3,
# 5 steps, cfg 4, 32x32: quality 90 measured max |difference| 100, mean 12.3, PSNR 22.8 dB —
# the large ones at sharp colour edges, where stb_image_write halves the chroma at quality
# <= 90; the denoised image 108, 8.8, 24.6 dB; quality 100 max 2, PSNR 50.8 dB; another seed's
# image 7.0 dB, so the check tells a wrong image from a JPEG's loss); each has a sidecar
# OUT.json whose object is the PNG's text as `xattn info --json` prints it, key for key, in the
# same order.
# Batches and denoise too; the heatmap overlays follow --heat-format (PNG unless asked); an
# unknown extension, a bad --quality or --heat-format is refused before any work (exit 2, one
# line); a full disk leaves the old images and sidecars and no temporaries.
. "$(dirname "$0")/lib.sh"
src=$XATTN_SOURCE_DIR
M="$src/weights/shapes32"
P="$src/assets/a-red-circle-left-of-a-blue-square.safetensors"
require_files "$M/unet/diffusion_pytorch_model.safetensors" "$P"
gen=(generate -m "$M" -p "$P" -s 3 --cfg 4 --steps 5 -t 1 --quiet)
den=(denoise -m "$M" -p "$P" -s 3 --cfg 4 --steps 10 -t 1 --quiet -i "$src/assets/readme/shapes-world.png" --strength 0.6)

# text_of PNG: the "text" object of `xattn info --json PNG` (the last member), as printed.
text_of() {
    "$XATTN" info --json "$1" | sed -n 's/^{"kind":"png",.*,"text":\({.*}\)}$/\1/p'
}

# same_text NAME PNG FILE: FILE.json holds PNG's text, as `xattn info --json` prints it.
same_text() {
    local want got
    want=$(text_of "$2")
    got=$(cat "$3.json" 2>/dev/null)
    if [ -z "$want" ]; then
        fail "$1: no text in xattn info --json $2"
    elif [ "$got" != "$want" ]; then
        fail "$1: $3.json is '$got', the PNG's text is '$want'"
    else
        ok "$1"
    fi
}

# pixels NAME PNG FILE [COMPARE OPTIONS]: FILE decodes (stb_image) to PNG's pixels within the
# options (default: identical).
pixels() {
    local name=$1 a=$2 b=$3
    shift 3
    if "$XATTN" compare "$a" "$b" --json "$@" >"$T/stdout" 2>"$T/stderr"; then
        ok "$name: $(grep -o '"max_abs_diff":[0-9]*' "$T/stdout"), $(grep -o '"psnr_db":[^,]*' "$T/stdout")"
    else
        fail "$name: $(cat "$T/stderr") $(head -c 300 "$T/stdout")"
    fi
}

no_temporaries() {
    local left
    left=$(find "$T" -name '.*.tmp-*' -o -name '.*.xattn-*' | head -5)
    [ -z "$left" ] && ok "$1: no temporaries" || fail "$1: temporaries left: $left"
}

# --- generate: the PNG, then each format, with heatmaps ----------------------------------------
run png 0 "${gen[@]}" -o "$T/ref.png" --heatmaps "$T/heat-png" || finish
[ ! -e "$T/ref.png.json" ] && ok "png: no sidecar" || fail "png: a sidecar was written"
run other_seed 0 "${gen[@]}" -s 4 -o "$T/other.png" || finish

for ext in bmp tga BMP jpg JPEG; do
    out="$T/out.$ext"
    lower=$(echo "$ext" | tr 'A-Z' 'a-z')
    run "generate $ext" 0 "${gen[@]}" -o "$out" --heatmaps "$T/heat-$ext" --heat-format "$ext" || continue
    [ -s "$out" ] || fail "$ext: no $out"
    same_text "$ext: sidecar = info --json of the PNG" "$T/ref.png" "$out"
    case $lower in
    jpg | jpeg)
        # quality 90: measured PSNR 22.8 dB; a wrong image (another seed) 7.0 dB
        pixels "$ext: reads back close to the PNG" "$T/ref.png" "$out" --tolerance 255 --min-psnr 20
        if "$XATTN" compare "$T/other.png" "$out" --tolerance 255 --min-psnr 20 >/dev/null 2>&1; then
            fail "$ext: another seed's PNG passes the same check"
        else
            ok "$ext: another seed's PNG does not pass that check"
        fi
        hext=jpg ;;
    *)
        pixels "$ext: reads back as the PNG's pixels" "$T/ref.png" "$out"
        hext=$lower ;;
    esac
    # the overlays and the grid: the PNG ones' pixels (or close) and text; the tensors unchanged
    cmp -s "$T/heat-png/heatmaps.safetensors" "$T/heat-$ext/heatmaps.safetensors" &&
        ok "$ext: heatmaps.safetensors unchanged" || fail "$ext: heatmaps.safetensors differs"
    n=0
    for png in "$T/heat-png"/*.png; do
        base=$(basename "$png" .png)
        f="$T/heat-$ext/$base.$hext"
        [ -s "$f" ] || { fail "$ext: no $f"; continue; }
        if [ "$hext" = jpg ]; then
            "$XATTN" compare "$png" "$f" --tolerance 255 --min-psnr 20 >/dev/null 2>&1 ||
                fail "$ext: $f not close to $png: $("$XATTN" compare "$png" "$f" 2>&1 | grep psnr)"
        else
            "$XATTN" compare "$png" "$f" >/dev/null 2>&1 || fail "$ext: $f differs from $png"
        fi
        [ "$(cat "$f.json" 2>/dev/null)" = "$(text_of "$png")" ] || fail "$ext: $f.json is not $png's text"
        n=$((n + 1))
    done
    [ "$n" -ge 9 ] && ok "$ext: $n overlays and the grid as .$hext, pixels and sidecars checked" ||
        fail "$ext: only $n overlays"
    [ -z "$(ls "$T/heat-$ext" | grep '\.png')" ] && ok "$ext: no PNG in the heatmaps" ||
        fail "$ext: PNGs in heat-$ext: $(ls "$T/heat-$ext")"
done

run quality100 0 "${gen[@]}" -o "$T/q100.jpg" --quality 100 &&
    pixels "jpg --quality 100: within 4 of the PNG (measured 3)" "$T/ref.png" "$T/q100.jpg" --tolerance 4
cmp -s "$T/out.jpg" "$T/q100.jpg" && fail "--quality 100 gave the default's bytes" || ok "--quality changes the JPEG"
run quality90 0 "${gen[@]}" -o "$T/q90.jpg" --quality 90 &&
    { cmp -s "$T/out.jpg" "$T/q90.jpg" && ok "the default quality is 90" || fail "the default quality is not 90"; }

# heatmaps: a folder of another format's files is replaced whole; the default stays PNG
run heat_replaced 0 "${gen[@]}" -o "$T/out2.png" --heatmaps "$T/heat-jpg" &&
    { [ -s "$T/heat-jpg/grid.png" ] && [ -z "$(ls "$T/heat-jpg" | grep -v '\.png$\|\.safetensors$\|^xattn-manifest\.json$')" ] &&
        cmp -s "$T/heat-png/grid.png" "$T/heat-jpg/grid.png" &&
        ok "heatmaps: a jpg folder replaced by the default, PNG" ||
        fail "heatmaps: after a default run: $(ls "$T/heat-jpg")"; }
no_temporaries generate

# --- a batch: OUT-k.EXT with OUT-k.EXT.json ------------------------------------------------------
if run batch_png 0 "${gen[@]}" --batch 2 -o "$T/b.png" && run batch_tga 0 "${gen[@]}" --batch 2 -o "$T/b.tga"; then
    for k in 0 1; do
        pixels "batch: b-$k.tga = b-$k.png" "$T/b-$k.png" "$T/b-$k.tga"
        same_text "batch: b-$k.tga.json = info --json b-$k.png" "$T/b-$k.png" "$T/b-$k.tga"
    done
    grep -q '"index":"1","batch":"2"' "$T/b-1.tga.json" && ok "batch: the sidecar has index and batch" ||
        fail "batch: b-1.tga.json: $(cat "$T/b-1.tga.json")"
fi
no_temporaries batch

# --- denoise -----------------------------------------------------------------------------------
if run denoise_png 0 "${den[@]}" -o "$T/d.png" && run denoise_bmp 0 "${den[@]}" -o "$T/d.bmp" &&
   run denoise_jpg 0 "${den[@]}" -o "$T/d.jpeg"; then
    pixels "denoise: d.bmp = d.png" "$T/d.png" "$T/d.bmp"
    pixels "denoise: d.jpeg close to d.png" "$T/d.png" "$T/d.jpeg" --tolerance 255 --min-psnr 20
    same_text "denoise: d.bmp.json = info --json d.png" "$T/d.png" "$T/d.bmp"
    same_text "denoise: d.jpeg.json = info --json d.png" "$T/d.png" "$T/d.jpeg"
fi

# --- refused before any work: exit 2, one line, nothing written ----------------------------------
exts='.png, .jpg, .jpeg, .bmp or .tga'
for bad in x.gif x x. x.png.bak x.jpg2; do
    expect_error "generate -o $bad" 2 "-o: '$T/$bad' has an unknown image extension (use $exts)" "${gen[@]}" -o "$T/$bad"
    expect_error "denoise -o $bad" 2 "-o: '$T/$bad' has an unknown image extension (use $exts)" "${den[@]}" -o "$T/$bad"
    [ ! -e "$T/$bad" ] || fail "-o $bad: a file was written"
done
expect_error "default -o with --batch and a bad -o" 2 "-o: " "${gen[@]}" --batch 2 -o "$T/many.webp"
expect_error "--quality 0" 2 "--quality: 0 is out of range 1..100" "${gen[@]}" -o "$T/e.jpg" --quality 0
expect_error "--quality 101" 2 "--quality: 101 is out of range" "${den[@]}" -o "$T/e.jpg" --quality 101
expect_error "--quality with a PNG" 2 "--quality: only applies to JPEG output" "${gen[@]}" -o "$T/e.png" --quality 80
expect_error "--heat-format gif" 2 "--heat-format: 'gif' is not png, jpg, jpeg, bmp or tga" "${gen[@]}" -o "$T/e.png" --heatmaps "$T/e" --heat-format gif
expect_error "--heat-format without --heatmaps" 2 "--heat-format: only applies with --heatmaps DIR" "${den[@]}" -o "$T/e.png" --heat-format bmp
run "--quality for the overlays only" 0 "${gen[@]}" -o "$T/e.png" --heatmaps "$T/e" --heat-format jpg --quality 50 &&
    ok "--quality with a PNG and --heat-format jpg"
[ -z "$(ls "$T" | grep '^e\.jpg\|x\.\|^many')" ] && ok "refused runs wrote nothing" || fail "refused runs wrote: $(ls "$T")"

# --- a full disk: the old images and sidecars stay, nothing else is left -------------------------
run old_batch 0 "${gen[@]}" -s 5 --batch 2 -o "$T/full.bmp" || finish
mkdir -p "$T/old" && cp "$T"/full-* "$T/old/"
(
    trap '' XFSZ # EFBIG from write() instead of the signal
    ulimit -f 2  # 2 KiB: a 3 KiB BMP does not fit
    exec "$XATTN" "${gen[@]}" -s 6 --batch 2 -o "$T/full.bmp"
) >"$T/stdout" 2>"$T/stderr"
rc=$?
if [ "$rc" -eq 1 ] && [ "$(wc -l <"$T/stderr")" -eq 1 ] && grep -q "^xattn: $T/full-0.bmp: cannot write: File too large" "$T/stderr"; then
    ok "full disk: exit 1, one line: $(cat "$T/stderr")"
else
    fail "full disk: exit $rc, stderr: $(head -c 300 "$T/stderr")"
fi
changed=""
for f in full-0.bmp full-0.bmp.json full-1.bmp full-1.bmp.json; do
    cmp -s "$T/$f" "$T/old/$f" || changed+=" $f"
done
[ -z "$changed" ] && ok "full disk: the old batch and its sidecars are unchanged" ||
    fail "full disk: changed:$changed"
no_temporaries "full disk"
finish
