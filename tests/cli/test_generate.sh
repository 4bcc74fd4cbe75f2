#!/usr/bin/env bash
# test_generate.sh — end to end with real models: the same seed gives identical PNG bytes, a
# different seed different ones, --batch names its files, the PNG carries its parameters, and a
# prompt of the wrong width is refused. Skips (exit 0, "skip: <file> missing") a part whose
# model or prompt file is absent.
. "$(dirname "$0")/lib.sh"

# A prompt [3, 32]: zeros, with its text in the metadata; and a negative one [2, 32].
P32="$T/prompt32.safetensors"
write_safetensors "$P32" '{"__metadata__":{"prompt":"a red circle","tokens":"[\"a\",\"red\",\"circle\"]","encoder":"test"},"encoder_hidden_states":{"dtype":"F32","shape":[3,32],"data_offsets":[0,384]}}' 384
N32="$T/negative32.safetensors"
write_safetensors "$N32" '{"__metadata__":{"prompt":"blurry","tokens":"[\"blurry\",\"x\"]"},"encoder_hidden_states":{"dtype":"F32","shape":[2,32],"data_offsets":[0,256]}}' 256

# --- tests/data/models/tiny_conv_eps (cross_attention_dim 32) --------------------------------
TINY="$XATTN_SOURCE_DIR/tests/data/models/tiny_conv_eps"
if [ ! -f "$TINY/unet/config.json" ]; then
    echo "skip: $TINY/unet/config.json missing"
else
    if run same_seed_first 0 -- generate -m "$TINY" -p "$P32" -s 42 --steps 3 --cfg 1 -o "$T/a.png" &&
       run same_seed_second 0 -- generate -m "$TINY" -p "$P32" -s 42 --steps 3 --cfg 1 -o "$T/b.png"; then
        if cmp -s "$T/a.png" "$T/b.png"; then echo "ok same_seed_same_bytes"; else fail "same_seed_same_bytes: a.png and b.png differ"; fi
        if [ -s "$T/stdout" ]; then fail "generate_stdout_empty: got $(head -c 200 "$T/stdout")"; else echo "ok generate_stdout_empty"; fi
        if [ "$(wc -l <"$T/stderr")" -eq 1 ] && grep -q "^wrote $T/b.png (3 steps, " "$T/stderr"; then
            echo "ok summary_line"
        else
            fail "summary_line: expected 'wrote $T/b.png (3 steps, ...)', got: $(head -c 300 "$T/stderr")"
        fi
        if [ -n "$(ls -A "$T" | grep -E '\.tmp|\.xattn-')" ]; then fail "no_temporaries: $(ls -A "$T")"; else echo "ok no_temporaries"; fi
    fi
    if run other_seed 0 -- generate -m "$TINY" -p "$P32" -s 43 --steps 3 --cfg 1 -o "$T/c.png"; then
        if cmp -s "$T/a.png" "$T/c.png"; then fail "other_seed_other_bytes: seeds 42 and 43 gave the same PNG"; else echo "ok other_seed_other_bytes"; fi
    fi

    if run info_png 0 -- info "$T/a.png"; then
        for want in "seed: 42" "prompt: a red circle" "steps: 3" "cfg: 1" "sampler: ddim" "model: $TINY" "software: xattn "; do
            if grep -qF -- "$want" "$T/stdout"; then echo "ok info_png_has '$want'"; else fail "info_png_has '$want': stdout: $(head -c 400 "$T/stdout")"; fi
        done
    fi
    if run info_png_json 0 -- info --json "$T/a.png"; then
        if grep -qF '"seed":"42"' "$T/stdout" && [ "$(wc -l <"$T/stdout")" -eq 1 ]; then echo "ok info_png_json"; else fail "info_png_json: $(head -c 400 "$T/stdout")"; fi
    fi

    if run batch 0 -- generate -m "$TINY" -p "$P32" -s 5 --steps 2 --cfg 1 --batch 2 -o "$T/batch.png"; then
        if [ -f "$T/batch-0.png" ] && [ -f "$T/batch-1.png" ] && [ ! -e "$T/batch.png" ]; then
            echo "ok batch_names"
        else
            fail "batch_names: expected batch-0.png and batch-1.png only, got: $(ls "$T" | grep batch)"
        fi
        if run info_batch 0 -- info "$T/batch-1.png" && grep -qx "index: 1" "$T/stdout"; then echo "ok batch_index_chunk"; else fail "batch_index_chunk: $(head -c 400 "$T/stdout")"; fi
        mv "$T/batch-0.png" "$T/first-0.png"
        if run batch_again 0 -- generate -m "$TINY" -p "$P32" -s 5 --steps 2 --cfg 1 --batch 2 -o "$T/batch.png" -q; then
            if cmp -s "$T/batch-0.png" "$T/first-0.png"; then echo "ok batch_same_seed_same_bytes"; else fail "batch_same_seed_same_bytes: batch-0.png differs between runs"; fi
            if [ -s "$T/stderr" ]; then fail "quiet: stderr: $(head -c 200 "$T/stderr")"; else echo "ok quiet"; fi
        fi
    fi

    if run negative_prompt 0 -- generate -m "$TINY" -p "$P32" -n "$N32" -s 1 --steps 2 --cfg 3 -o "$T/neg.png" -q &&
       run info_negative 0 -- info "$T/neg.png"; then
        if grep -qx "negative: blurry" "$T/stdout"; then echo "ok negative_chunk"; else fail "negative_chunk: $(head -c 400 "$T/stdout")"; fi
    fi
    if run ddpm 0 -- generate -m "$TINY" -p "$P32" -s 1 --steps 2 --cfg 1 --sampler ddpm -o "$T/ddpm.png" -q; then
        if [ -f "$T/ddpm.png" ]; then echo "ok ddpm"; else fail "ddpm: no ddpm.png"; fi
    fi

    # every sampler by its name, an A1111 alias with Karras sigmas, and a sampler without them
    for s in euler euler_a heun dpmpp_2m dpmpp_2m_sde unipc lms pndm; do
        if run "sampler_$s" 0 -- generate -m "$TINY" -p "$P32" -s 1 --steps 4 --cfg 2 --sampler "$s" -o "$T/s_$s.png" -q &&
           run "info_sampler_$s" 0 -- info "$T/s_$s.png" && grep -qx "sampler: $s" "$T/stdout"; then
            echo "ok sampler_$s"
        else
            fail "sampler_$s: $(head -c 300 "$T/stdout") $(head -c 300 "$T/stderr")"
        fi
    done
    if run a1111_alias 0 -- generate -m "$TINY" -p "$P32" -s 1 --steps 4 --cfg 2 --sampler "DPM++ 2M Karras" -o "$T/alias.png" -q &&
       run info_alias 0 -- info "$T/alias.png" && grep -qx "sampler: dpmpp_2m" "$T/stdout" && grep -qx "karras: 1" "$T/stdout"; then
        echo "ok a1111_alias"
    else
        fail "a1111_alias: $(head -c 300 "$T/stdout") $(head -c 300 "$T/stderr")"
    fi
    if run karras_refused 1 -- generate -m "$TINY" -p "$P32" --steps 4 --sampler euler_a --karras -o "$T/k.png" -q &&
       grep -q "^xattn: karras: the euler_a sampler has no Karras sigmas" "$T/stderr" && [ "$(wc -l <"$T/stderr")" -eq 1 ]; then
        echo "ok karras_refused"
    else
        fail "karras_refused: $(head -c 300 "$T/stderr")"
    fi

    if run info_model 0 -- info "$TINY"; then
        if grep -qx "cross_attention_dim: 32" "$T/stdout"; then echo "ok info_model"; else fail "info_model: $(head -c 400 "$T/stdout")"; fi
    fi
    if run info_model_json 0 -- info --json "$TINY"; then
        if grep -qF '"cross_attention_dim":32' "$T/stdout"; then echo "ok info_model_json"; else fail "info_model_json: $(head -c 400 "$T/stdout")"; fi
    fi
fi

# --- weights/tiny-random (cross_attention_dim 384) with a shipped prompt ----------------------
RANDOM_MODEL="$XATTN_SOURCE_DIR/weights/tiny-random"
if [ ! -f "$RANDOM_MODEL/unet/config.json" ]; then
    echo "skip: $RANDOM_MODEL/unet/config.json missing"
else
    if run width_mismatch 1 -- generate -m "$RANDOM_MODEL" -p "$P32" --steps 2 -o "$T/w.png"; then
        want="xattn: $P32: embedding width 32, model expects 384"
        if [ "$(cat "$T/stderr")" = "$want" ]; then echo "ok width_mismatch"; else fail "width_mismatch: expected '$want', got: $(head -c 300 "$T/stderr")"; fi
        if [ -e "$T/w.png" ]; then fail "width_mismatch_no_output: w.png written"; fi
    fi
    ASSET=$(ls "$XATTN_SOURCE_DIR"/assets/*.safetensors 2>/dev/null | head -n 1)
    if [ -z "$ASSET" ]; then
        echo "skip: $XATTN_SOURCE_DIR/assets/*.safetensors missing"
    elif run shipped_prompt 0 -- generate -m "$RANDOM_MODEL" -p "$ASSET" -s 3 --steps 2 -o "$T/shipped.png" -q; then
        if [ -f "$T/shipped.png" ]; then echo "ok shipped_prompt"; else fail "shipped_prompt: no shipped.png"; fi
    fi
fi

finish
