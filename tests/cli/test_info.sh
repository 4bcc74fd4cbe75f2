#!/usr/bin/env bash
# test_info.sh — `xattn info` on a safetensors file lists every tensor and the metadata, in
# text and as one JSON object.
set -u
: "${XATTN:?set XATTN to the xattn binary}" "${XATTN_TEST_TMP:?set XATTN_TEST_TMP}"
export LC_ALL=C
T="$XATTN_TEST_TMP/cli_info"
rm -rf "$T" && mkdir -p "$T" || exit 1
fails=0

write_safetensors() {
    local file=$1 header=$2 nbytes=$3
    while [ $(( ${#header} % 8 )) -ne 0 ]; do header+=" "; done
    write_u64 "${#header}" >"$file"
    printf '%s' "$header" >>"$file"
    head -c "$nbytes" /dev/zero >>"$file"
}
write_u64() {
    local n=$1 i
    for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $(( (n >> (8 * i)) & 255 )))"; done
}
fail() { echo "FAIL $1"; fails=$((fails + 1)); }

F="$T/prompt.safetensors"
write_safetensors "$F" '{"__metadata__":{"prompt":"a red circle","encoder":"test-encoder"},"encoder_hidden_states":{"dtype":"F32","shape":[1,3,32],"data_offsets":[0,384]},"attention_mask":{"dtype":"F32","shape":[3],"data_offsets":[384,396]}}' 396

"$XATTN" info "$F" >"$T/stdout" 2>"$T/stderr"
got=$?
if [ "$got" -ne 0 ]; then
    fail "info_safetensors: expected exit 0 got $got, stderr: $(head -c 300 "$T/stderr")"
else
    for want in "encoder_hidden_states F32 [1, 3, 32]" "attention_mask F32 [3]" "prompt: a red circle" "encoder: test-encoder" "tensors: 2"; do
        if grep -qF -- "$want" "$T/stdout"; then echo "ok info_has '$want'"; else fail "info_has '$want': stdout: $(head -c 400 "$T/stdout")"; fi
    done
    if [ -s "$T/stderr" ]; then fail "info_stderr_empty: $(head -c 200 "$T/stderr")"; else echo "ok info_stderr_empty"; fi
fi

"$XATTN" info --json "$F" >"$T/stdout" 2>"$T/stderr"
got=$?
if [ "$got" -ne 0 ]; then
    fail "info_json: expected exit 0 got $got, stderr: $(head -c 300 "$T/stderr")"
else
    for want in '"kind":"safetensors"' '"name":"encoder_hidden_states","dtype":"F32","shape":[1,3,32]' '"prompt":"a red circle"'; do
        if grep -qF -- "$want" "$T/stdout"; then echo "ok info_json_has '$want'"; else fail "info_json_has '$want': stdout: $(head -c 400 "$T/stdout")"; fi
    done
    if [ "$(wc -l <"$T/stdout")" -eq 1 ] && [ "$(head -c 1 "$T/stdout")" = "{" ]; then echo "ok info_json_one_object"; else fail "info_json_one_object: $(head -c 400 "$T/stdout")"; fi
fi

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
