#!/usr/bin/env bash
# test_errors.sh — a wrong input or environment exits 1 with exactly one stderr line
# "xattn: <file>: <problem>", nothing on stdout, and never leaves an output file (or a
# temporary) behind. Needs no model: prompts are loaded and checked before the model.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/out" || exit 1

# expect_fail CASE -- ARGS...: exit 1, one stderr line starting "xattn: ", empty stdout, and
# nothing written into $T/out (outputs go there).
expect_fail() {
    local name=$1 left
    shift
    if expect_quiet 1 "xattn: " "$name" "$@"; then
        left=$(ls -A "$T/out")
        if [ -n "$left" ]; then fail "$name: files left in the output folder: $left"; else ok "$name"; fi
    fi
    rm -rf "$T/out" && mkdir -p "$T/out"
}

# A well-formed prompt [3, 32] (zeros) and broken ones.
GOOD="$T/good.safetensors"
write_safetensors "$GOOD" '{"__metadata__":{"prompt":"a red circle","tokens":"[\"a\",\"red\",\"circle\"]"},"encoder_hidden_states":{"dtype":"F32","shape":[3,32],"data_offsets":[0,384]}}' 384
TRUNCATED="$T/truncated.safetensors"
printf 'abc' >"$TRUNCATED"
PAST_END="$T/past-end.safetensors"
{ write_u64 1000; printf '{}'; } >"$PAST_END"
HUGE="$T/huge-header.safetensors"
{ printf '\xff\xff\xff\xff\xff\xff\xff\xff'; printf '{}'; } >"$HUGE"
NOT_JSON="$T/not-json.safetensors"
{ write_u64 8; printf 'notjson!'; } >"$NOT_JSON"
SHORT_DATA="$T/short-data.safetensors"
write_safetensors "$SHORT_DATA" '{"encoder_hidden_states":{"dtype":"F32","shape":[3,32],"data_offsets":[0,384]}}' 100
NO_TENSOR="$T/no-tensor.safetensors"
write_safetensors "$NO_TENSOR" '{"something_else":{"dtype":"F32","shape":[3,32],"data_offsets":[0,384]}}' 384
EMPTY="$T/empty.safetensors"
: >"$EMPTY"
mkdir -p "$T/model-without-config/unet"
O="$T/out/x.png"

expect_fail missing_model_folder -- generate -m "$T/no-such-model" -p "$GOOD" -o "$O"
expect_fail model_without_unet_config -- generate -m "$T/model-without-config" -p "$GOOD" -o "$O"
expect_fail model_is_a_file -- generate -m "$GOOD" -p "$GOOD" -o "$O"
expect_fail missing_prompt -- generate -m "$T/no-such-model" -p "$T/no-such-prompt.safetensors" -o "$O"
expect_fail missing_negative -- generate -m "$T/no-such-model" -p "$GOOD" -n "$T/no-such-negative.safetensors" -o "$O"
expect_fail truncated_prompt -- generate -m "$T/no-such-model" -p "$TRUNCATED" -o "$O"
expect_fail empty_prompt -- generate -m "$T/no-such-model" -p "$EMPTY" -o "$O"
expect_fail header_past_end -- generate -m "$T/no-such-model" -p "$PAST_END" -o "$O"
expect_fail header_length_huge -- generate -m "$T/no-such-model" -p "$HUGE" -o "$O"
expect_fail header_not_json -- generate -m "$T/no-such-model" -p "$NOT_JSON" -o "$O"
expect_fail data_shorter_than_offsets -- generate -m "$T/no-such-model" -p "$SHORT_DATA" -o "$O"
expect_fail prompt_without_embeddings -- generate -m "$T/no-such-model" -p "$NO_TENSOR" -o "$O"
expect_fail truncated_batch -- generate -m "$T/no-such-model" -p "$TRUNCATED" --batch 3 -o "$O"

expect_fail output_folder_missing -- generate -m "$T/no-such-model" -p "$GOOD" -o /nonexistent-dir/x.png
[ -e /nonexistent-dir/x.png ] && fail "output_folder_missing: /nonexistent-dir/x.png exists"
mkdir -p "$T/a-folder.png"
expect_fail output_is_a_folder -- generate -m "$T/no-such-model" -p "$GOOD" -o "$T/a-folder.png"
mkdir -p "$T/b-1.png"
expect_fail batch_output_is_a_folder -- generate -m "$T/no-such-model" -p "$GOOD" --batch 2 -o "$T/b.png"
[ -e "$T/b-0.png" ] && fail "batch_output_is_a_folder: $T/b-0.png was written"

# A 2,000-character output path: the line is shortened in the middle of the path ("…") and
# still ends with the reason (it was cut inside the path before).
LONG_DIR="/nonexistent-dir$(printf '/abcdefghi%.0s' $(seq 200))"
expect_fail output_path_2000_chars -- generate -m "$T/no-such-model" -p "$GOOD" -o "$LONG_DIR/x.png"
if ! grep -q 'No such file or directory$' "$T/stderr" || ! grep -q $'\xe2\x80\xa6' "$T/stderr"; then
    fail "output_path_2000_chars: the line does not end with the reason: $(tail -c 200 "$T/stderr")"
fi
case "$(cat "$T/stderr")" in "xattn: /nonexistent-dir/abc"*"ghi/x.png: cannot write: folder /nonexistent-dir/abc"*"ghi: No such file or directory") ;;
    *) fail "output_path_2000_chars: not both names kept head and tail: $(cat "$T/stderr")" ;; esac

expect_fail info_missing_file -- info "$T/no-such-file.safetensors"
expect_fail info_truncated -- info "$TRUNCATED"
expect_fail info_header_past_end -- info "$PAST_END"
expect_fail info_empty_file -- info "$EMPTY"
printf 'hello, world\n' >"$T/text.txt"
expect_fail info_text_file -- info "$T/text.txt"
{ printf '\x89PNG\r\n\x1a\n'; printf 'garbage'; } >"$T/broken.png"
expect_fail info_broken_png -- info "$T/broken.png"
head -c 60 "$XATTN_SOURCE_DIR/tests/fuzz/corpus/png_info/rgb_text.png" >"$T/short.png"
expect_fail info_truncated_png -- info "$T/short.png"
grep -q ': corrupt PNG: the file ends early (truncated)$' "$T/stderr" || fail "info_truncated_png: $(cat "$T/stderr")"
expect_fail info_folder_not_a_model -- info "$T/model-without-config"
expect_fail info_json_missing_file -- info --json "$T/no-such-file"

finish
