/* unet_config.h — the supported subset of diffusers' UNet2DConditionModel config.
 *
 * Supported: down blocks CrossAttnDownBlock2D / DownBlock2D, mid block UNetMidBlock2DCrossAttn
 * (or none), up blocks CrossAttnUpBlock2D / UpBlock2D; ResNet blocks with SiLU and the
 * "default" time-embedding add; Transformer2DModel with LayerNorm, self- then cross-attention
 * and a GEGLU feed-forward; conv or linear proj_in/proj_out; the positional (sinusoidal) time
 * embedding. Any other value of a known key, or an unknown key with a non-null value, is
 * refused naming the key and the value. */
#ifndef XATTN_MODEL_UNET_CONFIG_H
#define XATTN_MODEL_UNET_CONFIG_H

#include <stddef.h>

#include "xattn.h"

#define UNET_MAX_BLOCKS 8

typedef struct unet_config {
    size_t in_channels, out_channels;
    size_t sample_size;                          /* square images only */
    int center_input_sample;                     /* sample = 2 * sample - 1 first */
    int flip_sin_to_cos;
    float freq_shift;
    size_t conv_in_kernel, conv_out_kernel;      /* odd, padding (k - 1) / 2 */
    size_t time_embed_dim;                       /* time_embedding_dim or 4 * block_out_channels[0] */

    size_t n_blocks;                             /* down blocks = up blocks */
    int down_has_attention[UNET_MAX_BLOCKS];     /* CrossAttnDownBlock2D ? 1 : 0 */
    int up_has_attention[UNET_MAX_BLOCKS];       /* in up-block order (lowest resolution first) */
    size_t block_out_channels[UNET_MAX_BLOCKS];
    size_t layers_per_block[UNET_MAX_BLOCKS];    /* down-block order; up block i has
                                                    layers_per_block[n-1-i] + 1 resnets */
    size_t heads[UNET_MAX_BLOCKS];               /* num_attention_heads (or attention_head_dim,
                                                    diffusers' legacy name) per down block */
    size_t transformer_layers[UNET_MAX_BLOCKS];  /* BasicTransformerBlocks per Transformer2D */
    size_t cross_attention_dim;
    size_t norm_num_groups;
    float norm_eps;
    int use_linear_projection;
    int has_mid_block;
    float mid_block_scale_factor;
} unet_config;

/* Parses config.json text (path is used in messages). */
xattn_status unet_config_parse(const char *json, const char *path, unet_config *cfg,
                               xattn_error *err);
xattn_status unet_config_load(const char *path, unet_config *cfg, xattn_error *err);

/* Reads a whole file into a NUL-terminated malloc'd buffer (at most max_bytes). */
xattn_status read_text_file(const char *path, size_t max_bytes, char **out, xattn_error *err);

#endif
