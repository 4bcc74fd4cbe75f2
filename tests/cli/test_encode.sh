#!/usr/bin/env bash
# test_encode.sh — `xattn encode TEXT -o FILE`: a prompt file that `xattn info` reads back with
# the metadata encode_prompt.py writes, the same header bytes as the shipped assets/ file of
# the same text; and one-line errors: invalid UTF-8, a missing encoder (naming
# tools/fetch_encoder.sh), a bad --encoder folder, the command line.
. "$(dirname "$0")/lib.sh"
S=$XATTN_SOURCE_DIR
cd "$S" || exit 1

require_files weights/shapes32/text_encoder/model.safetensors weights/shapes32/tokenizer/vocab.txt

expect 0 "" encode_text encode "a red circle left of a blue square" -o "$T/a.safetensors"
if run encode_info 0 info "$T/a.safetensors"; then
    for want in "encoder_hidden_states F32 [10, 384]" "attention_mask F32 [10]" \
                "prompt: a red circle left of a blue square" \
                "encoder: sentence-transformers/all-MiniLM-L6-v2" \
                'tokens: ["[CLS]", "a", "red", "circle", "left", "of", "a", "blue", "square", "[SEP]"]'; do
        if grep -qF -- "$want" "$T/stdout"; then ok "encode_info_has '$want'"; else fail "encode_info_has '$want': $(head -c 400 "$T/stdout")"; fi
    done
fi
# the header (everything before the numbers) is byte for byte encode_prompt.py's
n=$(od -An -t u8 -N 8 "$T/a.safetensors" | tr -d ' ')
if cmp -s <(head -c $((8 + n)) "$T/a.safetensors") <(head -c $((8 + n)) assets/a-red-circle-left-of-a-blue-square.safetensors); then
    ok encode_header_as_python
else
    fail "encode_header_as_python: the header differs from assets/a-red-circle-left-of-a-blue-square.safetensors"
fi
expect 0 "" encode_empty encode "" -o "$T/empty.safetensors" -m weights/shapes32
expect 0 "" encode_encoder_dir encode "two yellow rings" -o "$T/b.safetensors" --encoder tests/data/models/tiny_bert

expect_error encode_bad_utf8 1 "text: invalid UTF-8 at byte 2 (0xff)" encode $'ab\xff' -o "$T/c.safetensors"
[ -e "$T/c.safetensors" ] && fail "encode_bad_utf8: wrote a file" || ok encode_bad_utf8_no_file
mkdir -p "$T/model/text_encoder" "$T/model/tokenizer"
cp weights/shapes32/text_encoder/config.json "$T/model/text_encoder/"
cp weights/shapes32/tokenizer/*.json "$T/model/tokenizer/"
expect_error encode_no_weights 1 "$T/model/text_encoder/model.safetensors: missing; run tools/fetch_encoder.sh" \
    encode "a" -o "$T/c.safetensors" -m "$T/model"
expect_error encode_no_model 1 "$T/nothing: no such folder" encode "a" -o "$T/c.safetensors" --encoder "$T/nothing"
expect_error encode_no_text 2 "encode: give the TEXT" encode -o "$T/c.safetensors"
expect_error encode_no_output 2 "-o: the output file is required" encode "a"
expect_error encode_both 2 "--encoder: give -m MODEL or --encoder DIR, not both" encode "a" -o "$T/c.safetensors" -m weights/shapes32 --encoder x
expect_error encode_two_texts 2 "b: one TEXT only" encode "a" "b" -o "$T/c.safetensors"
finish
