#!/bin/sh
# Regenerates, from scratch and deterministically, everything the Python tools make:
#   tests/data/models/{tiny_conv_eps,tiny_conv_eps_f16,tiny_linear_v}/   random test models
#   tests/data/reference/<model>.safetensors (+ README.md)                diffusers reference dumps
#   weights/tiny-random/                                                  the untrained demo model
#   assets/<slug>.safetensors                                             demo prompt embeddings
# then loads every output back (diffusers, safetensors) as a check.
# Runs on the CPU with fixed seeds and thread counts; about a minute on 2 cores.
#
#   tools/make_test_data.sh
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root"
"$root/tools/setup_venv.sh"
py="$root/.venv/bin/python"

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 CUDA_VISIBLE_DEVICES="" PYTHONHASHSEED=0
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE

models=tests/data/models
refs=tests/data/reference

echo "== models"
"$py" tools/make_model.py tiny_conv_eps -o "$models/tiny_conv_eps"
"$py" tools/make_model.py tiny_conv_eps --f16 -o "$models/tiny_conv_eps_f16"
"$py" tools/make_model.py tiny_linear_v -o "$models/tiny_linear_v"
"$py" tools/make_model.py tiny-random -o weights/tiny-random

echo "== reference dumps"
mkdir -p "$refs"
# The random epsilon model's DDIM trajectory is sensitive: diffusers' own float32 run differs
# from its float64 run by 3.1e-4 at cfg 2 and 6.7e-4 at cfg 3 (max abs on the final image), so
# the 1e-3 end-to-end check uses cfg 2 there; every step is also checked teacher-forced.
"$py" tools/dump_reference.py -m "$models/tiny_conv_eps" --ddim-eta 0.0 --ddim-cfg 2.0 -o "$refs/tiny_conv_eps.safetensors"
"$py" tools/dump_reference.py -m "$models/tiny_conv_eps_f16" --ddim-eta 0.0 --ddim-cfg 2.0 -o "$refs/tiny_conv_eps_f16.safetensors"
"$py" tools/dump_reference.py -m "$models/tiny_linear_v" --ddim-eta 0.5 -o "$refs/tiny_linear_v.safetensors"
# the other samplers (euler ... pndm, and Karras sigmas): 6-step runs for the teacher-forced
# check, 20-step free runs for the final sample
for m in tiny_conv_eps tiny_conv_eps_f16; do
    "$py" tools/dump_reference.py -m "$models/$m" --samplers --ddim-cfg 2.0 -o "$refs/samplers_$m.safetensors"
done
"$py" tools/dump_reference.py -m "$models/tiny_linear_v" --samplers -o "$refs/samplers_tiny_linear_v.safetensors"

echo "== demo prompts"
mkdir -p assets
"$py" tools/encode_prompt.py -o assets \
    "a red circle" \
    "a blue square on a white background" \
    "a small green triangle in the top left" \
    "two yellow rings" \
    "a red circle left of a blue square" \
    "a purple cross above an orange circle" \
    "a large white ring on a black background" \
    "a green square below a yellow cross" \
    "three red squares" \
    "a red circle and a blue square" \
    "a yellow triangle and a purple ring" \
    "a white cross on a gray background" \
    "a blue triangle right of a green circle"

echo "== check: everything loads back"
"$py" - "$models" "$refs" <<'EOF'
import glob, json, os, sys
import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DConditionModel
from diffusers.utils import logging
from safetensors import safe_open

logging.set_verbosity_error()
models, refs = sys.argv[1], sys.argv[2]
dirs = sorted(glob.glob(os.path.join(models, "*"))) + ["weights/tiny-random"]
for d in dirs:
    unet = UNet2DConditionModel.from_pretrained(d, subfolder="unet")
    DDIMScheduler.from_pretrained(d, subfolder="scheduler")
    DDPMScheduler.from_pretrained(d, subfolder="scheduler")
    with safe_open(os.path.join(d, "null_prompt.safetensors"), "np") as f:
        emb = f.get_tensor("encoder_hidden_states")
        assert emb.shape[1] == unet.config.cross_attention_dim, (d, emb.shape)
        assert len(json.loads(f.metadata()["tokens"])) == emb.shape[0]
    with safe_open(os.path.join(d, "unet", "diffusion_pytorch_model.safetensors"), "pt") as f:
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
    n = sum(p.numel() for p in unet.parameters())
    size = os.path.getsize(os.path.join(d, "unet", "diffusion_pytorch_model.safetensors"))
    print(f"{d}: {n} parameters, {sorted(dtypes)}, {size / 2**20:.2f} MiB")

# the f16 copy holds the f32 model's weights rounded to f16
a = UNet2DConditionModel.from_pretrained(os.path.join(models, "tiny_conv_eps"), subfolder="unet")
b = UNet2DConditionModel.from_pretrained(os.path.join(models, "tiny_conv_eps_f16"), subfolder="unet")
sa, sb = a.state_dict(), b.state_dict()
assert sa.keys() == sb.keys()
for k in sa:
    assert torch.equal(sa[k].half().float(), sb[k].float()), k

lines = ["# Reference dumps", "",
         "Written by `tools/dump_reference.py` (run by `tools/make_test_data.sh`) from the models "
         "in `tests/data/models/`; see that script's docstring for what each tensor is. All "
         "tensors are F32. `proj_in`/`proj_out` are [B, C, H, W] for conv projections and "
         "[B, H*W, C] for linear ones; transformer-block tensors are [B, H*W, C].", ""]
for p in sorted(glob.glob(os.path.join(refs, "*.safetensors"))):
    with safe_open(p, "np") as f:
        meta = f.metadata()
        if "names" not in meta:  # another tool's dump (img2img_*: dump_img2img_reference.py)
            continue
        names = json.loads(meta["names"])
        assert sorted(names) == sorted(f.keys()), p
        lines += [f"## {os.path.basename(p)}", ""]
        if os.path.basename(p).startswith("samplers_"):
            prefixes = sorted(k[:-len(".sampler")] for k in meta if k.endswith(".sampler"))
            runs = ", ".join(f"{s}: seed {meta[s + '.seed']}, {meta[s + '.steps']} steps, "
                             f"cfg {meta[s + '.cfg']}" for s in prefixes)
        else:
            runs = ", ".join(f"{s}: seed {meta[s + '.seed']}, {meta[s + '.steps']} steps, "
                             f"cfg {meta[s + '.cfg']}, eta {meta[s + '.eta']}" for s in ("ddim", "ddpm"))
        lines += [f"model `{meta['model']}`, in.timestep {meta.get('in.timestep', '-')}; {runs}", "", "```"]
        for k in names:
            a = f.get_tensor(k)
            assert a.dtype == np.float32 and np.all(np.isfinite(a)), k
            lines.append(f"{k:60s} {list(a.shape)}")
        lines += ["```", ""]
    print(f"{p}: {len(names)} tensors, {os.path.getsize(p) / 2**20:.2f} MiB")
with open(os.path.join(refs, "README.md"), "w") as f:
    f.write("\n".join(lines))

for p in sorted(glob.glob("assets/*.safetensors")):
    with safe_open(p, "np") as f:
        emb = f.get_tensor("encoder_hidden_states")
        meta = f.metadata()
        assert emb.dtype == np.float32 and emb.shape[1] == 384
        assert len(json.loads(meta["tokens"])) == emb.shape[0]
        assert f.get_tensor("attention_mask").shape == (emb.shape[0],)
    print(f"{p}: {meta['prompt']!r} T={emb.shape[0]}")
print("all outputs load")
EOF
