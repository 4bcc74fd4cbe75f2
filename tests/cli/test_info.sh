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

finish
