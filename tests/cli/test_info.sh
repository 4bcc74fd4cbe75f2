#!/usr/bin/env bash
# test_info.sh — `xattn info` on a safetensors file lists every tensor and the metadata, in
# text and as one JSON object.
. "$(dirname "$0")/lib.sh"

F="$T/prompt.safetensors"
write_safetensors "$F" '{"__metadata__":{"prompt":"a red circle","encoder":"test-encoder"},"encoder_hidden_states":{"dtype":"F32","shape":[1,3,32],"data_offsets":[0,384]},"attention_mask":{"dtype":"F32","shape":[3],"data_offsets":[384,396]}}' 396

if run info_safetensors 0 info "$F"; then
    for want in "encoder_hidden_states F32 [1, 3, 32]" "attention_mask F32 [3]" "prompt: a red circle" "encoder: test-encoder" "tensors: 2"; do
        if grep -qF -- "$want" "$T/stdout"; then echo "ok info_has '$want'"; else fail "info_has '$want': stdout: $(head -c 400 "$T/stdout")"; fi
    done
    if [ -s "$T/stderr" ]; then fail "info_stderr_empty: $(head -c 200 "$T/stderr")"; else echo "ok info_stderr_empty"; fi
fi

if run info_json 0 info --json "$F"; then
    for want in '"kind":"safetensors"' '"name":"encoder_hidden_states","dtype":"F32","shape":[1,3,32]' '"prompt":"a red circle"'; do
        if grep -qF -- "$want" "$T/stdout"; then echo "ok info_json_has '$want'"; else fail "info_json_has '$want': stdout: $(head -c 400 "$T/stdout")"; fi
    done
    if [ "$(wc -l <"$T/stdout")" -eq 1 ] && [ "$(head -c 1 "$T/stdout")" = "{" ]; then echo "ok info_json_one_object"; else fail "info_json_one_object: $(head -c 400 "$T/stdout")"; fi
fi

# A PNG whose iTXt chunk holds ill-formed UTF-8 (a lone continuation byte, a truncated
# sequence, an encoded surrogate, an overlong '/'): --json prints valid UTF-8 with U+FFFD.
PNG_IN="$XATTN_SOURCE_DIR/tests/fuzz/corpus/png_info/rgba.png"
printf 'note\0\0\0\0\0a\x80b\xe2\x82 \xed\xa0\x80 \xc0\xaf </script> \xc3\xa9' >"$T/itxt.bin"
png_with_chunk "$PNG_IN" "$T/itxt.png" iTXt "$T/itxt.bin"
if run info_json_invalid_utf8 0 info --json "$T/itxt.png"; then
    if valid_utf8 "$T/stdout"; then echo "ok info_json_invalid_utf8 valid"; else fail "info_json_invalid_utf8: not valid UTF-8: $(od -c "$T/stdout" | head -5)"; fi
    want=$(printf '"note":"a\xef\xbf\xbdb\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd </script> \xc3\xa9"')
    if grep -qF -- "$want" "$T/stdout"; then echo "ok info_json_invalid_utf8 U+FFFD"; else fail "info_json_invalid_utf8: want $want, got $(cat "$T/stdout")"; fi
fi

finish
