#!/usr/bin/env python3
"""make_corpus.py — (re)writes the generated part of the fuzz seed corpora, tests/fuzz/corpus/.

Run from the repository root with the project venv (numpy, Pillow):
    .venv/bin/python tests/fuzz/make_corpus.py [--xattn build/xattn]
Small, valid files that reach every branch of each reader's happy path, so that the fuzzer
mutates from there: every safetensors dtype, .npy versions and dtypes, scheduler and UNet
config variants, PNGs of every colour type with text chunks before and after IDAT, JPEG /
BMP / GIF / PNM / TGA / HDR images. Real files (shipped configs and prompts) are copied in by
name. With --xattn, one PNG written by `xattn generate` (text chunks included) is added to the
png_info and image corpora. Python is only needed to regenerate these seeds, never to build or
test. Output is deterministic."""
import argparse
import io
import json
import os
import struct
import subprocess
import tempfile
import zlib

import numpy as np
from PIL import Image, PngImagePlugin

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def copy(target, name, src):
    with open(os.path.join(ROOT, src), "rb") as f:
        put(target, name, f.read())


# --- safetensors -------------------------------------------------------------------------------

def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes); returns the file's bytes."""
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in tensors)


def make_safetensors():
    copy("safetensors", "null_prompt_tiny.safetensors", "tests/data/models/tiny_conv_eps/null_prompt.safetensors")
    rng = np.random.default_rng(1)
    f32 = rng.standard_normal((2, 3)).astype("<f4")
    put("safetensors", "all_dtypes.safetensors", safetensors([
        ("f32", "F32", (2, 3), f32.tobytes()),
        ("f16", "F16", (4,), np.array([1.0, -2.5, 6e-8, np.inf], "<f2").tobytes()),
        ("bf16", "BF16", (2,), np.array([0x3f80, 0xff80], "<u2").tobytes()),
        ("f64", "F64", (2,), np.array([0.5, -1e300], "<f8").tobytes()),
        ("i64", "I64", (2,), np.array([-1, 2**62], "<i8").tobytes()),
        ("i32", "I32", (1, 2), np.array([7, -7], "<i4").tobytes()),
        ("u8", "U8", (3,), bytes([0, 128, 255])),
        ("bool", "BOOL", (2,), bytes([0, 1])),
        ("scalar", "F32", (), np.array(3.0, "<f4").tobytes()),
        ("empty", "F32", (0, 5), b""),
        ("deep", "F16", (1, 1, 1, 1, 1, 1, 1, 2), np.array([1, 2], "<f2").tobytes()),
    ], {"format": "pt", "note": "seed"}))
    put("safetensors", "unaligned_header.safetensors",
        safetensors([("w", "F32", (3,), np.array([1, 2, 3], "<f4").tobytes())], pad=False))
    put("safetensors", "empty_header.safetensors", struct.pack("<Q", 2) + b"{}")
    put("safetensors", "metadata_only.safetensors",
        safetensors([], {"k": "v", "escaped": "a\"b\\c\u00e9\n"}))
    conv = rng.standard_normal((4, 4, 3, 3)).astype("<f2")
    put("safetensors", "unet_like.safetensors", safetensors([
        ("conv_in.bias", "F16", (4,), np.zeros(4, "<f2").tobytes()),
        ("conv_in.weight", "F16", (4, 4, 3, 3), conv.tobytes()),
        ("time_embedding.linear_1.weight", "BF16", (2, 2), np.array([0x3f80] * 4, "<u2").tobytes()),
    ]))


# --- prompts (safetensors and .npy) --------------------------------------------------------------

def npy(array, version=(1, 0), header_extra=""):
    descr = np.lib.format.dtype_to_descr(array.dtype)
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %r, %s}" % (descr, array.shape, header_extra)
    size_len = 2 if version[0] == 1 else 4
    total = 6 + 2 + size_len + len(d) + 1
    d += " " * (-total % 64) + "\n"
    length = struct.pack("<H" if size_len == 2 else "<I", len(d))
    return b"\x93NUMPY" + bytes(version) + length + d.encode("latin1") + array.tobytes()


def make_prompts():
    copy("prompt", "null_prompt_tiny.safetensors", "tests/data/models/tiny_conv_eps/null_prompt.safetensors")
    copy("prompt", "null_prompt_shapes32.safetensors", "weights/shapes32/null_prompt.safetensors")
    copy("prompt", "a_red_circle.safetensors", "assets/a-red-circle.safetensors")
    rng = np.random.default_rng(2)
    emb = rng.standard_normal((1, 5, 8)).astype("<f2")
    tokens = ["[CLS]", "ring", "##s", "<|endoftext|>", "[PAD]"]
    put("prompt", "batch1_f16_i64_mask.safetensors", safetensors([
        ("encoder_hidden_states", "F16", (1, 5, 8), emb.tobytes()),
        ("attention_mask", "I64", (1, 5), np.array([1, 1, 1, 1, 0], "<i8").tobytes()),
    ], {"prompt": "rings", "tokens": json.dumps(tokens), "encoder": "seed"}))
    put("prompt", "bf16_bool_mask.safetensors", safetensors([
        ("attention_mask", "BOOL", (3,), bytes([1, 0, 1])),
        ("encoder_hidden_states", "BF16", (3, 2), np.array([0x3f80, 0xbf80] * 3, "<u2").tobytes()),
    ]))
    e = rng.standard_normal((3, 4))
    put("prompt", "f4_v1.npy", npy(e.astype("<f4")))
    put("prompt", "f2_v2.npy", npy(e.astype("<f2"), (2, 0)))
    put("prompt", "f8_v3.npy", npy(e.astype("<f8"), (3, 0)))


# --- configs (unet/config.json and scheduler/scheduler_config.json) -------------------------------

def make_configs():
    for src, name in [("tests/data/models/tiny_conv_eps/unet/config.json", "unet_tiny_conv_eps.json"),
                      ("tests/data/models/tiny_linear_v/unet/config.json", "unet_tiny_linear_v.json"),
                      ("weights/shapes32/unet/config.json", "unet_shapes32.json"),
                      ("tests/data/models/tiny_conv_eps/scheduler/scheduler_config.json", "sched_tiny_conv_eps.json"),
                      ("tests/data/models/tiny_linear_v/scheduler/scheduler_config.json", "sched_tiny_linear_v.json"),
                      ("weights/shapes32/scheduler/scheduler_config.json", "sched_shapes32.json")]:
        copy("config", name, src)
    variants = {
        "sched_ddpm_scaled_large.json": {"_class_name": "DDPMScheduler", "beta_schedule": "scaled_linear",
                                         "beta_start": 0.00085, "beta_end": 0.012, "variance_type": "fixed_large",
                                         "timestep_spacing": "linspace", "clip_sample": True,
                                         "clip_sample_range": 2.0, "trained_betas": None},
        "sched_zero_snr_sample.json": {"_class_name": "DDIMScheduler", "rescale_betas_zero_snr": True,
                                       "prediction_type": "sample", "num_train_timesteps": 50,
                                       "steps_offset": 1, "set_alpha_to_one": False,
                                       "timestep_spacing": "leading", "thresholding": False},
    }
    for name, cfg in variants.items():
        put("config", name, json.dumps(cfg, indent=1).encode())
    unet = {"_class_name": "UNet2DConditionModel", "sample_size": [16, 16], "in_channels": 1,
            "out_channels": 1, "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
            "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "mid_block_type": None,
            "block_out_channels": [8, 16], "layers_per_block": [1, 2],
            "transformer_layers_per_block": 1, "num_attention_heads": [2, 4], "attention_head_dim": 8,
            "cross_attention_dim": 12, "norm_num_groups": 4, "norm_eps": 1e-6, "conv_in_kernel": 5,
            "conv_out_kernel": 1, "time_embedding_dim": 24, "center_input_sample": True,
            "flip_sin_to_cos": False, "freq_shift": 1, "use_linear_projection": True,
            "act_fn": "silu", "resnet_out_scale_factor": 1, "downsample_padding": 1,
            "only_cross_attention": False, "_diffusers_version": "0.42.1"}
    put("config", "unet_variant.json", json.dumps(unet, indent=1).encode())


# --- PNGs ----------------------------------------------------------------------------------------

def png_chunks(data):
    """The chunks of a PNG stream as (type, payload) pairs."""
    out, p = [], 8
    while p + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[p:p + 8])
        out.append((kind, data[p + 8:p + 8 + n]))
        p += 12 + n
    return out


def png_join(chunks):
    body = b"".join(struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
                    for k, d in chunks)
    return b"\x89PNG\r\n\x1a\n" + body


def pil_bytes(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_image(mode, size=(16, 12)):
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 8 % 256], -1).astype(np.uint8)
    img = Image.fromarray(rgb, "RGB")
    if mode == "P":
        return img.quantize(8)
    return img.convert(mode)


def make_pngs():
    copy("png_info", "img2img_input.png", "tests/data/reference/img2img_input.png")
    copy("image", "img2img_input.png", "tests/data/reference/img2img_input.png")
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", "a red circle")                       # tEXt
    info.add_text("Comment", "caf\u00e9 latin-1", zip=True)        # zTXt
    info.add_itxt("seed", "42 \u2713", lang="en", tkey="Seed")     # iTXt
    info.add_itxt("model", "shapes32 " * 8, zip=True)              # compressed iTXt
    rgb = pil_bytes(test_image("RGB"), "PNG", pnginfo=info)
    put("png_info", "rgb_text.png", rgb)
    # the same, text moved after IDAT (read by png_read_end)
    chunks = png_chunks(rgb)
    texts = [c for c in chunks if c[0] in (b"tEXt", b"zTXt", b"iTXt")]
    rest = [c for c in chunks if c[0] not in (b"tEXt", b"zTXt", b"iTXt")]
    put("png_info", "text_after_idat.png", png_join(rest[:-1] + texts + rest[-1:]))
    put("png_info", "interlaced_gray_alpha.png", pil_bytes(test_image("LA"), "PNG", interlace=1))
    put("png_info", "palette_trns.png", pil_bytes(test_image("P"), "PNG", transparency=0))
    rgb16 = Image.fromarray((np.arange(8 * 6, dtype=np.uint16) * 1300).reshape(6, 8))
    put("png_info", "gray16.png", pil_bytes(rgb16, "PNG"))
    put("png_info", "rgba.png", pil_bytes(test_image("RGBA"), "PNG"))
    put("png_info", "gray1bit.png", pil_bytes(test_image("1"), "PNG"))
    put("image", "rgb.png", pil_bytes(test_image("RGB", (32, 32)), "PNG"))
    put("image", "palette_interlaced.png", pil_bytes(test_image("P"), "PNG", interlace=1))
    put("image", "gray16.png", pil_bytes(rgb16, "PNG"))


# --- other image formats (denoise input) ---------------------------------------------------------

def make_images():
    img = test_image("RGB", (24, 16))
    put("image", "baseline_420.jpg", pil_bytes(img, "JPEG", quality=75))
    put("image", "baseline_444.jpg", pil_bytes(img, "JPEG", quality=90, subsampling=0))
    put("image", "progressive.jpg", pil_bytes(img, "JPEG", quality=60, progressive=True))
    put("image", "gray.jpg", pil_bytes(img.convert("L"), "JPEG", quality=50))
    put("image", "rgb24.bmp", pil_bytes(img, "BMP"))
    put("image", "palette8.bmp", pil_bytes(test_image("P"), "BMP"))
    put("image", "rgba32.bmp", pil_bytes(test_image("RGBA"), "BMP"))
    put("image", "anim.gif", pil_bytes(test_image("P"), "GIF", save_all=True,
                                       append_images=[test_image("P").rotate(90)]))
    put("image", "rgb.ppm", pil_bytes(img, "PPM"))
    put("image", "gray.pgm", pil_bytes(img.convert("L"), "PPM"))
    put("image", "rle.tga", pil_bytes(img, "TGA", compression="tga_rle"))
    # Radiance HDR, flat (uncompressed) RGBE scanlines: 4 x 2
    hdr = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 4\n" + bytes([128, 64, 32, 129] * 8)
    put("image", "flat.hdr", hdr)


def make_xattn_png(xattn):
    """One 32x32 PNG written by `xattn generate` (its text chunks included)."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "gen.png")
        subprocess.run([xattn, "generate", "-m", "weights/shapes32", "-p", "assets/a-red-circle.safetensors",
                        "--steps", "2", "-t", "1", "-q", "-o", out], check=True, cwd=ROOT)
        with open(out, "rb") as f:
            data = f.read()
    put("png_info", "xattn_generate.png", data)
    put("image", "xattn_generate.png", data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xattn", help="an xattn binary, for a PNG that xattn wrote")
    args = ap.parse_args()
    make_safetensors()
    make_prompts()
    make_configs()
    make_pngs()
    make_images()
    if args.xattn:
        make_xattn_png(args.xattn)


if __name__ == "__main__":
    main()
