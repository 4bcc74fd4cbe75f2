#!/usr/bin/env bash
# hostile-inputs.sh — runs xattn on a set of broken, hostile or impossible inputs and prints a
# Markdown table of what each gets (exit code and the one stderr line): docs/hostile-inputs.md.
#   tools/hostile-inputs.sh [XATTN]      (default build/xattn; files are made in a temp folder)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
XATTN=${1:-$ROOT/build/xattn}
XATTN_TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/xattn-hostile.XXXXXX")
export XATTN XATTN_TEST_TMP
. "$ROOT/tests/cli/lib.sh" # write_u64, write_safetensors; T = a fresh folder
cd "$ROOT" || exit 1
M=weights/shapes32
P=assets/a-red-circle.safetensors
W=$M/unet/diffusion_pytorch_model.safetensors

# A broken copy of the model with one file replaced: model_with NAME FILE-IN-MODEL (content on stdin).
model_with() {
    rm -rf "$T/$1" && cp -r "$M" "$T/$1" && cat >"$T/$1/$2"
}
head -c 100000 "$W" | model_with truncated-weights unet/diffusion_pytorch_model.safetensors
{ write_u64 1000000000; printf '{}'; } | model_with header-past-end unet/diffusion_pytorch_model.safetensors
sed 's/"CrossAttnDownBlock2D"/"AttnDownBlock2D"/' "$M/unet/config.json" | model_with unsupported-block unet/config.json
sed 's/"cross_attention_dim": 384/"cross_attention_dim": 512/' "$M/unet/config.json" | model_with wrong-width unet/config.json
printf '{"_class_name": "UNet2DConditionModel",' | model_with config-not-json unet/config.json
write_safetensors "$T/overlap.safetensors" '{"encoder_hidden_states":{"dtype":"F32","shape":[2,384],"data_offsets":[0,3072]},"attention_mask":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}' 3072
write_safetensors "$T/outside.safetensors" '{"encoder_hidden_states":{"dtype":"F32","shape":[2,384],"data_offsets":[0,4096]}}' 3072
write_safetensors "$T/overflow.safetensors" '{"encoder_hidden_states":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}' 16
write_safetensors "$T/t0.safetensors" '{"encoder_hidden_states":{"dtype":"F32","shape":[0,384],"data_offsets":[0,0]}}' 0
write_safetensors "$T/width.safetensors" '{"encoder_hidden_states":{"dtype":"F32","shape":[2,32],"data_offsets":[0,256]}}' 256
write_safetensors "$T/i64.safetensors" '{"encoder_hidden_states":{"dtype":"I64","shape":[2,384],"data_offsets":[0,6144]}}' 6144
{ write_u64 16; printf '{"encoder_hidde'; printf '\xff'; } >"$T/bad-utf8.safetensors"
write_safetensors "$T/nan.safetensors" '{"encoder_hidden_states":{"dtype":"F32","shape":[2,384],"data_offsets":[0,3072]}}' 3072
printf '\x00\x00\xc0\x7f' | dd of="$T/nan.safetensors" bs=1 seek=$(( $(stat -c %s "$T/nan.safetensors") - 400 )) conv=notrunc status=none
printf '\x93NUMPY\x01\x00\x10\x00{"descr": "<f4"}\n' >"$T/bad.npy"
head -c 300 assets/readme/gallery.png >"$T/truncated.png"
printf 'GIF89a not really' >"$T/not-an-image.png"
mkdir -p "$T/heat" && echo "my notes" >"$T/heat/notes.txt"

row() { # row INPUT ARGS...: one table row
    local input=$1
    shift
    "$XATTN" "$@" >/dev/null 2>"$T/stderr"
    local rc=$?
    local msg
    msg=$(head -1 "$T/stderr" | sed "s#$T/##g; s#$ROOT/##g; s/|/\\\\|/g")
    printf '| %s | `%s` | %s | %s |\n' "$input" "$(echo "xattn $*" | sed "s#$T/##g")" "$rc" "${msg:-(none)}"
}
G=(generate --quiet -o "$T/out.png")
echo '| input | command | exit | message |'
echo '|---|---|---|---|'
row "model folder missing" "${G[@]}" -m "$T/no-such-model" -p "$P"
row "weights truncated at 100 kB" "${G[@]}" -m "$T/truncated-weights" -p "$P"
row "weights header length past the end" "${G[@]}" -m "$T/header-past-end" -p "$P"
row "config: unsupported block type" "${G[@]}" -m "$T/unsupported-block" -p "$P"
row "config: cross_attention_dim 512" "${G[@]}" -m "$T/wrong-width" -p "$P"
row "config: not JSON" "${G[@]}" -m "$T/config-not-json" -p "$P"
row "prompt: overlapping offsets" "${G[@]}" -m "$M" -p "$T/overlap.safetensors"
row "prompt: offsets outside the data" "${G[@]}" -m "$M" -p "$T/outside.safetensors"
row "prompt: shape product overflows" "${G[@]}" -m "$M" -p "$T/overflow.safetensors"
row "prompt: T = 0" "${G[@]}" -m "$M" -p "$T/t0.safetensors"
row "prompt: width 32, model wants 384" "${G[@]}" -m "$M" -p "$T/width.safetensors"
row "prompt: I64 embeddings" "${G[@]}" -m "$M" -p "$T/i64.safetensors"
row "prompt: NaN in the embedding" "${G[@]}" -m "$M" -p "$T/nan.safetensors"
row "prompt: header cut mid-JSON" "${G[@]}" -m "$M" -p "$T/bad-utf8.safetensors"
row "prompt: .npy header without shape" "${G[@]}" -m "$M" -p "$T/bad.npy"
row "input image truncated" denoise --quiet -m "$M" -p "$P" -i "$T/truncated.png" --strength 0.5 -o "$T/out.png"
row "input image: a GIF header, then text" denoise --quiet -m "$M" -p "$P" -i "$T/not-an-image.png" --strength 0.5 -o "$T/out.png"
row "output folder missing" "${G[@]/$T\/out.png/$T/no-such-dir/out.png}" -m "$M" -p "$P"
row "output path under a file" generate --steps 2 --quiet -o "$T/heat/notes.txt/out.png" -m "$M" -p "$P"
row "output on a read-only file system" generate --steps 2 --quiet -o /proc/out.png -m "$M" -p "$P"
row "heatmaps folder holds other files" "${G[@]}" -m "$M" -p "$P" --heatmaps "$T/heat"
row "output inside the heatmaps folder" generate --quiet -o "$T/heat/../heat/out.png" -m "$M" -p "$P" --heatmaps "$T/heat"
row "--steps 0" generate --steps 0 -m "$M" -p "$P"
row "--batch 1000" generate --batch 1000 -m "$M" -p "$P"
row "--cfg nan" generate --cfg nan -m "$M" -p "$P"
row "compare: sizes differ" compare assets/readme/gallery.png tests/golden/red-circle-ddim.png
rm -rf "$XATTN_TEST_TMP"
