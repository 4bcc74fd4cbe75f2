/* unet.h — UNet2DConditionModel weights and forward.
 *
 * Every float* below points into one block that holds all parameters as float32 (converted
 * from F32/F16/BF16 at load); the comment on each gives its PyTorch shape. Parameter names
 * are diffusers' state-dict names, e.g. "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight". */
#ifndef XATTN_MODEL_UNET_H
#define XATTN_MODEL_UNET_H

#include <stddef.h>

#include "model/unet_config.h"
#include "xattn.h"

typedef struct conv2d_w {
    const float *weight; /* [OC, IC, K, K] */
    const float *bias;   /* [OC] */
    size_t ic, oc, k;
    const float *wino;   /* [16, OC, IC] F(2x2, 3x3) weights of a 3x3 stride-1 conv, else NULL */
    const float *wino4;  /* [36, OC, IC] F(4x4, 3x3) weights, the same convs */
} conv2d_w;

typedef struct linear_w {
    const float *weight; /* [OUT, IN] (a 1x1 conv [OUT, IN, 1, 1] is the same memory) */
    const float *weight_t; /* [IN, OUT]: the same transposed, made at load */
    const float *bias;   /* [OUT] or NULL */
    size_t in, out;
} linear_w;

typedef struct norm_w {
    const float *gamma, *beta; /* [C] */
    size_t c;
} norm_w;

/* ResnetBlock2D: out = (shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x))) + temb_proj)))) / scale */
typedef struct resnet_w {
    norm_w norm1;             /* GroupNorm(groups, IC) */
    conv2d_w conv1;           /* [OC, IC, 3, 3] */
    linear_w time_emb_proj;   /* [OC, time_embed_dim] */
    norm_w norm2;             /* GroupNorm(groups, OC) */
    conv2d_w conv2;           /* [OC, OC, 3, 3] */
    conv2d_w conv_shortcut;   /* [OC, IC, 1, 1]; weight NULL when IC == OC */
    float output_scale_factor;
} resnet_w;

typedef struct attention_w {
    linear_w to_q;   /* [C, C], no bias */
    linear_w to_k;   /* [C, C or cross_attention_dim], no bias */
    linear_w to_v;   /* same as to_k */
    linear_w to_out; /* to_out.0: [C, C] + bias */
    size_t heads, head_dim;
} attention_w;

/* BasicTransformerBlock: x += attn1(ln1(x)); x += attn2(ln2(x), text); x += ff(ln3(x)) */
typedef struct transformer_block_w {
    norm_w norm1, norm2, norm3; /* LayerNorm(C) */
    attention_w attn1, attn2;
    linear_w ff_proj;           /* ff.net.0.proj: [2F, C] (GEGLU: hidden | gate), F = 4C */
    linear_w ff_out;            /* ff.net.2: [C, F] */
} transformer_block_w;

/* Transformer2DModel: x + proj_out(blocks(proj_in(norm(x)))) over HW pixel tokens */
typedef struct transformer2d_w {
    norm_w norm;            /* GroupNorm(groups, C), eps 1e-6 */
    linear_w proj_in;       /* [C, C]: Linear, or Conv2d 1x1 */
    linear_w proj_out;      /* [C, C] */
    transformer_block_w *blocks;
    size_t n_blocks;
    size_t channels;
} transformer2d_w;

typedef struct unet_block_w {
    size_t n_layers;
    resnet_w *resnets;            /* [n_layers] */
    transformer2d_w *attentions;  /* [n_layers], or NULL for DownBlock2D / UpBlock2D */
    conv2d_w downsample;          /* down blocks: downsamplers.0.conv (stride 2) */
    conv2d_w upsample;            /* up blocks: upsamplers.0.conv, after a nearest 2x;
                                     weight NULL when the block has none */
    size_t out_channels;
} unet_block_w;

typedef struct unet_w {
    unet_config cfg;
    conv2d_w conv_in;                     /* [C0, in_channels, k, k] */
    linear_w time_linear_1;               /* [time_embed_dim, C0] */
    linear_w time_linear_2;               /* [time_embed_dim, time_embed_dim] */
    unet_block_w down[UNET_MAX_BLOCKS];
    unet_block_w mid;                     /* resnets[n_layers + 1]: resnet, then (attn, resnet) */
    unet_block_w up[UNET_MAX_BLOCKS];
    norm_w conv_norm_out;
    conv2d_w conv_out;                    /* [out_channels, C0, k, k] */
    float *params;                        /* the one block every pointer above points into */
    size_t n_params;
    float *wino;                          /* the one block every conv2d_w.wino/wino4 points into */
    float *lin_t;                         /* the one block every linear_w.weight_t points into */
    void *structs;                        /* the arrays of resnets/attentions/blocks */
} unet_w;

/* Binds every tensor of the config from a safetensors file; refuses a missing tensor, a wrong
 * shape or dtype, and a tensor the config does not use, each by name. */
xattn_status unet_load(unet_w *u, const unet_config *cfg, const char *safetensors_path,
                       xattn_error *err);
void unet_free(unet_w *u);

#endif
