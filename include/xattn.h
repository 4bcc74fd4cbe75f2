/*
 * xattn.h — the public API of libxattn, a small text-conditioned image denoiser.
 *
 * Data layout and ownership, stated once:
 *   - images and noise predictions are float32 NCHW: [batch, channels, height, width];
 *     generated images are in [-1, 1] (pixel = round((x / 2 + 0.5) * 255), clamped);
 *   - prompt embeddings are float32 row-major [T, D]: one row per token (D = the encoder width);
 *   - attention masks are float32 [T]: 1 for a real token, 0 for padding;
 *   - every object returned through an `**out` parameter is owned by the caller and released
 *     with its matching *_free(); every pointer a function takes is borrowed for the call.
 * Errors: a function that can fail returns an xattn_status and, when it is not XATTN_OK, fills
 * `err` (may be NULL) with one line "<file or option>: <what is wrong>".
 * The library never calls exit() and never prints: progress and logs go through callbacks.
 */
#ifndef XATTN_H
#define XATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Status and errors                                                                           */

typedef enum xattn_status {
    XATTN_OK = 0,
    XATTN_ERR_IO,          /* a file is missing, unreadable or unwritable, or the disk is full */
    XATTN_ERR_FORMAT,      /* a file is corrupt or not the format it claims */
    XATTN_ERR_UNSUPPORTED, /* a valid config or dtype outside the supported subset */
    XATTN_ERR_SHAPE,       /* a tensor of the wrong shape, or a missing tensor */
    XATTN_ERR_VALUE,       /* a NaN/Inf, an empty prompt, an out-of-range parameter */
    XATTN_ERR_NOMEM,       /* an allocation failed or a size overflowed */
    XATTN_ERR_CANCELLED    /* a callback asked to stop */
} xattn_status;

#define XATTN_ERROR_LEN 512
typedef struct xattn_error {
    xattn_status status;
    char msg[XATTN_ERROR_LEN]; /* "<file or option>: <what is wrong>" */
} xattn_error;

const char *xattn_status_name(xattn_status s);

/* ------------------------------------------------------------------------------------------ */
/* Model: a diffusers folder (unet/, scheduler/, null_prompt.safetensors)                      */

typedef struct xattn_model xattn_model;

/* Loads <dir>/unet/config.json, <dir>/unet/diffusion_pytorch_model.safetensors and
 * <dir>/scheduler/scheduler_config.json; <dir>/null_prompt.safetensors is optional. */
xattn_status xattn_model_load(const char *dir, xattn_model **out, xattn_error *err);
void xattn_model_free(xattn_model *m);

typedef struct xattn_model_info {
    int in_channels, out_channels, sample_size;  /* image is [in_channels, sample_size, sample_size] */
    int cross_attention_dim;                     /* required prompt width D */
    int n_down_blocks, n_attention_layers;       /* attention layers = Transformer2DModel blocks */
    size_t n_parameters;
    const char *prediction_type;                 /* "epsilon" or "v_prediction" */
    int has_null_prompt;
} xattn_model_info;
void xattn_model_get_info(const xattn_model *m, xattn_model_info *info);

/* ------------------------------------------------------------------------------------------ */
/* Prompt embeddings: a safetensors file (encoder_hidden_states [T,D] or [1,T,D], optional
 * attention_mask, metadata prompt/tokens/encoder) or a NumPy .npy [T, D].                     */

typedef struct xattn_prompt {
    size_t n_tokens;    /* T >= 1 */
    size_t dim;         /* D */
    float *embeddings;  /* [T, D] */
    float *mask;        /* [T], 1 = real token, 0 = padding */
    char **tokens;      /* T labels: from metadata, else "t0", "t1", ... */
    char *text;         /* metadata "prompt", or "" */
    char *encoder;      /* metadata "encoder", or "" */
} xattn_prompt;

xattn_status xattn_prompt_load(const char *path, xattn_prompt **out, xattn_error *err);
void xattn_prompt_free(xattn_prompt *p);

/* ------------------------------------------------------------------------------------------ */
/* Generation                                                                                  */

typedef enum xattn_sampler_kind { XATTN_SAMPLER_DDIM = 0, XATTN_SAMPLER_DDPM = 1 } xattn_sampler_kind;

/* Called after every sampling step; return non-zero to cancel (xattn_generate then returns
 * XATTN_ERR_CANCELLED). */
typedef int (*xattn_progress_fn)(int step, int n_steps, void *user);

typedef struct xattn_generate_params {
    uint64_t seed;              /* the noise is torch.manual_seed(seed); torch.randn(...) */
    int steps;                  /* sampling steps (default 50) */
    float cfg;                  /* guidance scale; <= 1 runs the conditional branch only (default 7.5) */
    xattn_sampler_kind sampler; /* default DDIM */
    float eta;                  /* DDIM eta (default 0) */
    int batch;                  /* images per call (default 1) */
    int threads;                /* 0 = leave the BLAS default */
    xattn_progress_fn progress;
    void *progress_user;
} xattn_generate_params;

void xattn_generate_params_init(xattn_generate_params *p);

/* images: [batch, out_channels, sample_size, sample_size] in [-1, 1], allocated by the caller.
 * uncond may be NULL: the model's null prompt is used (required when cfg > 1). */
xattn_status xattn_generate(xattn_model *m, const xattn_prompt *cond, const xattn_prompt *uncond,
                            const xattn_generate_params *p, float *images, xattn_error *err);

/* ------------------------------------------------------------------------------------------ */
/* The U-Net itself, for tests and tools.                                                      */

typedef struct xattn_unet_run xattn_unet_run; /* scratch memory planned for (model, batch, T) */

xattn_status xattn_unet_run_new(const xattn_model *m, size_t batch, size_t n_tokens,
                                xattn_unet_run **out, xattn_error *err);
void xattn_unet_run_free(xattn_unet_run *r);

/* noise_pred[B,C,H,W] = unet(sample[B,C,H,W], timestep, text[B,T,D], mask[B,T] or NULL). */
xattn_status xattn_unet_forward(xattn_unet_run *r, const float *sample, float timestep,
                                const float *text, const float *mask, float *noise_pred,
                                xattn_error *err);

/* Sees every named intermediate as the forward computes it: "conv_in", "time_embedding",
 * "down_blocks.0.resnets.0", "down_blocks.0.attentions.0", "down_blocks.0.downsamplers.0",
 * "down_blocks.0", "mid_block.resnets.0", "mid_block", "up_blocks.1.upsamplers.0",
 * "up_blocks.1", "noise_pred" (diffusers' module names); data is [B, C, H, W]
 * (H = W = 1 for vectors), valid only during the call. */
typedef void (*xattn_unet_observer)(const char *name, const float *data, const size_t shape[4],
                                    void *user);
void xattn_unet_set_observer(xattn_unet_run *r, xattn_unet_observer fn, void *user);

/* FLOPs of the last forward's matrix products (2 per multiply-add), for benchmarks. */
double xattn_unet_flops(const xattn_unet_run *r);

/* Sets the BLAS thread count (0 = leave it). */
void xattn_set_threads(int threads);

#ifdef __cplusplus
}
#endif
#endif /* XATTN_H */
