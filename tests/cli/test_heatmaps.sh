#!/usr/bin/env bash
# test_heatmaps.sh — `xattn generate --heatmaps DIR` and `--reweight` end to end on the demo
# model: the files (one overlay per word, grid.png, heatmaps.safetensors [words, 32, 32]),
# --batch subfolders, the selections, and the command-line errors (exit 2, naming the option,
# nothing written). Skips (exit 0, "skip: <file> missing") when the model or prompt is absent.
. "$(dirname "$0")/lib.sh"

# stderr_is CASE WANT_PREFIX: the last run's stderr is one line starting with WANT_PREFIX
stderr_is() {
    if [ "$(wc -l <"$T/stderr")" -eq 1 ] && grep -q "^$2" "$T/stderr"; then
        echo "ok $1"
    else
        fail "$1: expected one line '$2...', got: $(head -c 300 "$T/stderr")"
    fi
}

MODEL="$XATTN_SOURCE_DIR/weights/tiny-random"
PROMPT="$XATTN_SOURCE_DIR/assets/a-red-circle-left-of-a-blue-square.safetensors"
require_files "$MODEL/unet/config.json" "$PROMPT"
WORDS="0-a 1-red 2-circle 3-left 4-of 5-a 6-blue 7-square"

# --- the files -------------------------------------------------------------------------------
if run heatmaps 0 -- generate -m "$MODEL" -p "$PROMPT" -s 1 --steps 4 -o "$T/img.png" --heatmaps "$T/heat"; then
    missing=""
    for w in $WORDS grid; do [ -s "$T/heat/$w.png" ] || missing="$missing $w.png"; done
    [ -s "$T/heat/heatmaps.safetensors" ] || missing="$missing heatmaps.safetensors"
    if [ -z "$missing" ]; then echo "ok heatmaps_files"; else fail "heatmaps_files: missing$missing (have: $(ls "$T/heat"))"; fi
    n=$(ls "$T/heat" | wc -l)
    if [ "$n" -eq 11 ] && [ -s "$T/heat/xattn-manifest.json" ]; then echo "ok heatmaps_nothing_else"; else fail "heatmaps_nothing_else: $n files: $(ls -A "$T/heat")"; fi
    # the manifest lists every other file with its size and SHA-256
    missing=""
    for f in "$T"/heat/*; do
        [ "$(basename "$f")" = xattn-manifest.json ] && continue
        grep -q "\"path\":.\"$(basename "$f")\"" "$T/heat/xattn-manifest.json" || missing="$missing $(basename "$f")"
        grep -q "\"sha256\":.\"$(sha256sum "$f" | cut -d' ' -f1)\"" "$T/heat/xattn-manifest.json" || missing="$missing $(basename "$f")(hash)"
    done
    if [ -z "$missing" ]; then echo "ok heatmaps_manifest"; else fail "heatmaps_manifest: not listed:$missing"; fi
    if grep -q "^wrote heatmaps to $T/heat$" "$T/stderr"; then echo "ok heatmaps_summary"; else fail "heatmaps_summary: $(head -c 300 "$T/stderr")"; fi
    if run info_maps 0 -- info "$T/heat/heatmaps.safetensors"; then
        if grep -q "maps F32 \[8, 32, 32\]" "$T/stdout" &&
           grep -qF 'words: ["a","red","circle","left","of","a","blue","square"]' "$T/stdout" &&
           grep -qF "steps: 0:4" "$T/stdout"; then
            echo "ok heatmaps_tensor"
        else
            fail "heatmaps_tensor: $(head -c 600 "$T/stdout")"
        fi
    fi
    if run info_grid 0 -- info "$T/heat/grid.png"; then
        if grep -qF "prompt: a red circle left of a blue square" "$T/stdout"; then echo "ok grid_png"; else fail "grid_png: $(head -c 400 "$T/stdout")"; fi
    fi
    if run info_overlay 0 -- info "$T/heat/2-circle.png"; then
        if grep -qF "word: circle" "$T/stdout"; then echo "ok overlay_png"; else fail "overlay_png: $(head -c 400 "$T/stdout")"; fi
    fi
fi

# the image itself does not depend on --heatmaps
if run no_heatmaps 0 -- generate -m "$MODEL" -p "$PROMPT" -s 1 --steps 4 -o "$T/plain.png" -q; then
    if cmp -s "$T/img.png" "$T/plain.png"; then echo "ok same_image"; else fail "same_image: img.png differs from plain.png"; fi
fi

# --batch 2: one folder per image; selections recorded
if run batch 0 -- generate -m "$MODEL" -p "$PROMPT" --steps 3 --batch 2 -o "$T/b.png" -q \
       --heatmaps "$T/hb" --heat-layers up:32,mid --heat-heads 0-1 --heat-steps 1:; then
    if [ -s "$T/hb/0/grid.png" ] && [ -s "$T/hb/1/grid.png" ] && [ -s "$T/hb/1/7-square.png" ]; then
        echo "ok batch_folders"
    else
        fail "batch_folders: $(ls -R "$T/hb" | head -c 300)"
    fi
    if run info_batch 0 -- info "$T/hb/1/heatmaps.safetensors"; then
        if grep -qF "steps: 1:3" "$T/stdout" && grep -qF "heads: [0,1]" "$T/stdout" &&
           grep -qF '"mid_block.attentions.0.transformer_blocks.0.attn2","up_blocks.2.attentions.0' "$T/stdout" &&
           ! grep -q "down_blocks" "$T/stdout"; then
            echo "ok batch_selection"
        else
            fail "batch_selection: $(head -c 800 "$T/stdout")"
        fi
    fi
fi

# --reweight changes the image and is recorded; the word must be in the prompt
if run reweight 0 -- generate -m "$MODEL" -p "$PROMPT" -s 1 --steps 4 -o "$T/rw.png" -q --reweight red=0 --reweight SQUARE=3; then
    if cmp -s "$T/rw.png" "$T/plain.png"; then fail "reweight_changes: same image"; else echo "ok reweight_changes"; fi
    if run info_reweight 0 -- info "$T/rw.png" && grep -qF "reweight: red=0,SQUARE=3" "$T/stdout"; then
        echo "ok reweight_recorded"
    else
        fail "reweight_recorded: $(head -c 400 "$T/stdout")"
    fi
fi

# --- command-line errors: exit 2, one line naming the option, nothing written ---------------
if run reweight_unknown 2 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e1.png" --reweight dog=2; then
    stderr_is reweight_unknown "xattn: --reweight: 'dog' is not a word of the prompt"
fi
if run reweight_syntax 2 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e2.png" --reweight red; then
    stderr_is reweight_syntax "xattn: --reweight: 'red' is not WORD=FACTOR"
fi
if run reweight_negative 2 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e3.png" --reweight red=-1; then
    stderr_is reweight_negative "xattn: --reweight: "
fi
if run layers_none 2 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e4.png" --heatmaps "$T/e4" --heat-layers up:64; then
    stderr_is layers_none "xattn: --heat-layers: 'up:64' selects no layer"
fi
if run layers_syntax 2 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e5.png" --heatmaps "$T/e5" --heat-layers sideways; then
    stderr_is layers_syntax "xattn: --heat-layers: 'sideways' is not"
fi
if run heads_range 2 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e6.png" --heatmaps "$T/e6" --heat-heads 9; then
    stderr_is heads_range "xattn: --heat-heads: '9': no head 9"
fi
if run steps_syntax 2 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e7.png" --heatmaps "$T/e7" --heat-steps 3:1; then
    stderr_is steps_syntax "xattn: --heat-steps: '3:1' is an empty step range"
fi
if run steps_beyond 2 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e8.png" --heatmaps "$T/e8" --heat-steps 5:; then
    stderr_is steps_beyond "xattn: --heat-steps: starts at step 5, but 2 steps run (0..1)"
fi
if run orphan_selection 2 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e9.png" --heat-layers up; then
    stderr_is orphan_selection "xattn: --heat-layers: only applies with --heatmaps DIR"
fi
# The folder is replaced as a whole: the batch folder hb (0/, 1/) becomes a one-image folder;
# a folder holding a file xattn did not write is refused and left alone.
if run replace_folder 0 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/r.png" -q --heatmaps "$T/hb"; then
    if [ -s "$T/hb/grid.png" ] && [ ! -e "$T/hb/0" ] && [ -z "$(ls -A "$T" | grep '\.tmp-')" ]; then
        echo "ok replace_folder"
    else
        fail "replace_folder: $(ls -A "$T" "$T/hb" | head -c 300)"
    fi
fi
mkdir -p "$T/mine" && echo notes >"$T/mine/notes.txt"
expect_error foreign_folder 1 "$T/mine: holds $T/mine/notes.txt, which xattn did not write (the folder has no valid xattn manifest)" \
    generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e9.png" --heatmaps "$T/mine"
[ "$(ls -A "$T/mine")" = notes.txt ] || fail "foreign_folder: $T/mine changed: $(ls -A "$T/mine")"

# Ownership goes by the manifest, not by names: a user's photo named like an overlay
# (issue 24: it was deleted with the folder), a file added to a folder xattn wrote, a file of
# it changed, a link: each is refused, naming it, and the folder is left as it was.
mkdir -p "$T/photos" && printf '\xff\xd8\xff\xe0 a JPEG of the holiday' >"$T/photos/2024-06-holiday.png"
expect_error photo_named_like_an_overlay 1 "$T/photos: holds $T/photos/2024-06-holiday.png, which xattn did not write (the folder has no valid xattn manifest)" \
    generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e10.png" --heatmaps "$T/photos"
[ "$(ls -A "$T/photos")" = 2024-06-holiday.png ] || fail "photo_named_like_an_overlay: $T/photos changed: $(ls -A "$T/photos")"
if run own_folder 0 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/own.png" -q --heatmaps "$T/own"; then
    cp "$T/own/0-a.png" "$T/own/8-extra.png"
    expect_error file_added 1 "$T/own: holds $T/own/8-extra.png, which xattn did not write (not in the folder's manifest)" \
        generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e11.png" --heatmaps "$T/own"
    rm "$T/own/8-extra.png"
    printf 'x' >>"$T/own/grid.png"
    expect_error file_changed 1 "$T/own: holds $T/own/grid.png, which xattn did not write (changed since xattn wrote it)" \
        generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e12.png" --heatmaps "$T/own"
    [ -n "$(tail -c 1 "$T/own/grid.png" | grep x)" ] || fail "file_changed: grid.png was replaced"
    truncate -s -1 "$T/own/grid.png"
    ln -s /etc/hostname "$T/own/link"
    expect_error link_added 1 "$T/own: holds $T/own/link, which xattn did not write (not in the folder's manifest)" \
        generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e13.png" --heatmaps "$T/own"
    rm "$T/own/link"
    if run own_folder_again 0 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/own.png" -q --heatmaps "$T/own/"; then
        echo "ok own_folder_replaced"
    fi
    mkdir -p "$T/empty" && run empty_folder 0 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/own.png" -q --heatmaps "$T/empty" &&
        [ -s "$T/empty/grid.png" ] && echo "ok empty_folder"
    ln -s "$T/own" "$T/own-link"
    expect_error heatmaps_folder_is_a_link 1 "$T/own-link: is a symbolic link" \
        generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e14.png" --heatmaps "$T/own-link"
fi

# An output inside the folder that the same run replaces would be deleted with the old folder
# (issue 24: exit 0 and no hm/out.png): refused, exit 2, whatever the spelling.
if run hm_folder 0 -- generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/hm.png" -q --heatmaps "$T/hm"; then
    ln -s "$T/hm" "$T/hm-link"
    before=$(ls -A "$T/hm" | tr '\n' ' ')
    for spelled in "$T/hm/out.png" "$T/hm/../hm/out.png" "$T/./hm/out.png" "$T/hm-link/out.png"; do
        expect_error "output_inside_heatmaps $spelled" 2 "$spelled: lies inside $T/hm, which --heatmaps replaces as a whole" \
            generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$spelled" --heatmaps "$T/hm"
    done
    (cd "$T" && "$XATTN" generate -m "$MODEL" -p "$PROMPT" --steps 2 -o hm/out.png --heatmaps ./hm/ >"$T/stdout" 2>"$T/stderr")
    [ $? -eq 2 ] && grep -q "^xattn: hm/out.png: lies inside ./hm/" "$T/stderr" && echo "ok output_inside_heatmaps relative" ||
        fail "output_inside_heatmaps relative: $(cat "$T/stderr")"
    expect_error "html_inside_heatmaps" 2 "$T/hm/../hm/page.html: lies inside $T/hm" \
        generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/e15.png" --html "$T/hm/../hm/page.html" --heatmaps "$T/hm-link/"
    expect_error "batch_output_inside_heatmaps" 2 "$T/hm/b-0.png: lies inside $T/hm" \
        generate -m "$MODEL" -p "$PROMPT" --steps 2 --batch 2 -o "$T/hm/b.png" --heatmaps "$T/hm"
    expect_error "denoise_output_inside_heatmaps" 2 "$T/hm-link/d.png: lies inside $T/hm" \
        denoise -m "$MODEL" -p "$PROMPT" -i "$T/hm.png" --strength 0.5 --steps 2 -o "$T/hm-link/d.png" --heatmaps "$T/hm"
    expect_error "html_is_the_image" 2 "--html: $T/./hm.png is also the image output" \
        generate -m "$MODEL" -p "$PROMPT" --steps 2 -o "$T/hm.png" --html "$T/./hm.png"
    after=$(ls -A "$T/hm" | tr '\n' ' ')
    [ "$before" = "$after" ] && echo "ok output_inside_heatmaps_nothing_written" || fail "output_inside_heatmaps: $T/hm changed: $after"
fi

# --- hostile prompt text: ill-formed UTF-8, markup, a control byte -------------------------
# The demo prompt's embeddings with another text and tokens. Every file written must be valid
# UTF-8 (the page, the PNG text, the safetensors header), and the page must hold no markup of
# the prompt's: only its own <script> element.
hostile_prompt() {
    local header n
    header=$(printf '{"__metadata__":{"prompt":"a \xff</script><script>alert(1)</script> \xed\xa0\x80 circle\x01","tokens":"[\\"[CLS]\\", \\"a\\", \\"r\xe9d</title>\\", \\"<b>circle\\", \\"left\\", \\"of\\", \\"a\\", \\"blue\\", \\"square\\", \\"[SEP]\\"]"},"encoder_hidden_states":{"dtype":"F32","shape":[10,384],"data_offsets":[0,15360]},"attention_mask":{"dtype":"F32","shape":[10],"data_offsets":[15360,15400]}}')
    while [ $(( $(printf '%s' "$header" | wc -c) % 8 )) -ne 0 ]; do header+=" "; done
    n=$(printf '%s' "$header" | wc -c)
    { write_u64 "$n"; printf '%s' "$header"; tail -c 15400 "$PROMPT"; } >"$1"
}
hostile_prompt "$T/hostile.safetensors"
if run hostile_text 0 -- generate -m "$MODEL" -p "$T/hostile.safetensors" --steps 2 -q -o "$T/hostile.png" \
        --heatmaps "$T/hostile-heat" --html "$T/hostile.html"; then
    bad=""
    for f in "$T/hostile.html" "$T/hostile-heat/grid.png" "$T/hostile-heat/1-r_d__title_.png" "$T/hostile.png"; do
        [ -s "$f" ] || { bad="$bad missing:$f"; continue; }
        case "$f" in
            *.html) valid_utf8 "$f" || bad="$bad $f" ;;
            *) "$XATTN" info "$f" >"$T/info.txt" 2>&1 && valid_utf8 "$T/info.txt" || bad="$bad $f" ;;
        esac
    done
    n=$(od -An -tu8 -N8 "$T/hostile-heat/heatmaps.safetensors" | tr -d ' ')
    head -c $((8 + n)) "$T/hostile-heat/heatmaps.safetensors" | tail -c "$n" >"$T/header.json"
    valid_utf8 "$T/header.json" || bad="$bad heatmaps.safetensors-header"
    if [ -z "$bad" ]; then echo "ok hostile_text_valid_utf8"; else fail "hostile_text: not valid UTF-8:$bad"; fi
    scripts=$(grep -o '<script' "$T/hostile.html" | wc -l)
    ends=$(grep -o '</script>' "$T/hostile.html" | wc -l)
    if [ "$scripts" -eq 1 ] && [ "$ends" -eq 1 ] && ! grep -q '<b>\|</title>.*</title>\|alert(1)</script>' "$T/hostile.html" &&
        ! grep -q "$(printf '\x01')" "$T/hostile.html"; then
        echo "ok hostile_text_no_markup"
    else
        fail "hostile_text: markup or a control byte from the prompt in the page ($scripts <script, $ends </script>)"
    fi
fi

leftovers=$(ls "$T" | grep -E '^e[0-9]' || true)
if [ -z "$leftovers" ]; then echo "ok errors_write_nothing"; else fail "errors_write_nothing: $leftovers"; fi

finish
