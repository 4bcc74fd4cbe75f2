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

/* Copies msg into out[cap] so that it always ends as msg ends (with the reason): a message too
 * long for cap is shortened in the middle of its longest space-free runs (a path, a name), which
 * become "head…tail"; with no long run, the middle of the message is cut. Never splits a UTF-8
 * character. */
void xattn_message_fit(char *out, size_t cap, const char *msg);

/* ------------------------------------------------------------------------------------------ */
/* Samplers                                                                                    */

/* The samplers, each exactly as its diffusers scheduler (docs/samplers.md). */
typedef enum xattn_sampler_kind {
    XATTN_SAMPLER_MODEL = -1,       /* the class the model's scheduler_config.json names */
    XATTN_SAMPLER_DDIM = 0,         /* DDIMScheduler */
    XATTN_SAMPLER_DDPM = 1,         /* DDPMScheduler */
    XATTN_SAMPLER_EULER = 2,        /* EulerDiscreteScheduler */
    XATTN_SAMPLER_EULER_A = 3,      /* EulerAncestralDiscreteScheduler */
    XATTN_SAMPLER_HEUN = 4,         /* HeunDiscreteScheduler (two U-Net calls a step) */
    XATTN_SAMPLER_DPMPP_2M = 5,     /* DPMSolverMultistepScheduler, dpmsolver++ */
    XATTN_SAMPLER_DPMPP_2M_SDE = 6, /* DPMSolverMultistepScheduler, sde-dpmsolver++ */
    XATTN_SAMPLER_UNIPC = 7,        /* UniPCMultistepScheduler */
    XATTN_SAMPLER_LMS = 8,          /* LMSDiscreteScheduler */
    XATTN_SAMPLER_PNDM = 9          /* PNDMScheduler */
} xattn_sampler_kind;
#define XATTN_SAMPLER_COUNT 10

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
    const char *prediction_type;                 /* "epsilon", "v_prediction" or "sample" */
    int has_null_prompt;
    xattn_sampler_kind sampler;  /* the scheduler config's _class_name (DDIM when absent) */
    int karras;                  /* its use_karras_sigmas */
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
/* Writes p (atomically) as tools/encode_prompt.py does: encoder_hidden_states F32 [T, D],
 * attention_mask F32 [T] (ones when p->mask is NULL), metadata encoder, prompt and tokens (a
 * JSON array, as Python's json.dumps(tokens, ensure_ascii=False); t0, t1, ... when p->tokens is
 * NULL); ill-formed UTF-8 in the texts as U+FFFD. */
xattn_status xattn_prompt_save(const xattn_prompt *p, const char *path, xattn_error *err);
void xattn_prompt_free(xattn_prompt *p);

/* ------------------------------------------------------------------------------------------ */
/* Cross-attention layers and their probabilities                                              */

typedef enum xattn_layer_place {
    XATTN_PLACE_DOWN = 0, XATTN_PLACE_MID = 1, XATTN_PLACE_UP = 2
} xattn_layer_place;

/* One cross-attention layer: the attn2 of one BasicTransformerBlock. Layers are numbered in the
 * order the forward runs them (down blocks, mid block, up blocks). */
typedef struct xattn_attention_layer {
    int index;              /* 0 .. n-1, forward order */
    xattn_layer_place place;
    int block;              /* down_blocks.<block> or up_blocks.<block>; 0 in the mid block */
    int attention;          /* attentions.<attention> */
    int transformer_block;  /* transformer_blocks.<transformer_block> */
    int height, width;      /* its pixel grid: height * width query rows */
    int heads;
    char name[96];          /* "down_blocks.0.attentions.0.transformer_blocks.0.attn2" */
} xattn_attention_layer;

/* Fills out[0 .. min(n, cap)) with the model's cross-attention layers; returns n. */
size_t xattn_model_attention_layers(const xattn_model *m, xattn_attention_layer *out, size_t cap);

/* Sees one head's cross-attention probabilities probs[height * width, n_tokens] (row y * width
 * + x is a pixel of the layer's grid, column t a text token; a row sums to 1 unless re-weighted),
 * after the softmax and any token scale, before they weight the values. Called from worker
 * threads: concurrently for different (image, head) pairs, which may be of different layers
 * when the batch runs in lanes (see xattn_set_threads), never twice at once for the same pair;
 * probs is valid only during the call. step is the sampling step (0 = the first,
 * noisiest) or -1 in a bare xattn_unet_forward; image is the U-Net batch row there, and during
 * generation the image index in the conditional branch (the unconditional one is not shown). */
typedef void (*xattn_attention_fn)(const xattn_attention_layer *layer, int step, int image,
                                   int head, const float *probs, size_t n_tokens, void *user);

/* Heatmaps accumulated over a generation (see "Words and heatmaps"). */
typedef struct xattn_heatmaps xattn_heatmaps;

/* ------------------------------------------------------------------------------------------ */
/* Generation                                                                                  */


/* The sampler's name ("ddim", "euler_a", "dpmpp_2m", ...; "model" for XATTN_SAMPLER_MODEL),
 * or NULL for a value outside the enum. */
const char *xattn_sampler_name(xattn_sampler_kind kind);

/* A sampler by name: xattn's names (ddim, ddpm, euler, euler_a, heun, dpmpp_2m, dpmpp_2m_sde,
 * unipc, lms, pndm, model), the A1111 names ("Euler a", "DPM++ 2M Karras", "PLMS", ...) and
 * diffusers' class names ("EulerDiscreteScheduler", ...), case-insensitively. *karras is set
 * to 1 for a name that implies Karras sigmas ("DPM++ 2M Karras"), else 0. The table is in
 * docs/samplers.md. An unknown name: XATTN_ERR_VALUE, "sampler: ..." */
xattn_status xattn_sampler_from_name(const char *name, xattn_sampler_kind *kind, int *karras,
                                     xattn_error *err);

/* One row of the name table: index 0 .. n-1, NULL past the end. */
typedef struct xattn_sampler_alias {
    const char *name;          /* as accepted by xattn_sampler_from_name */
    xattn_sampler_kind kind;
    int karras;
} xattn_sampler_alias;
const xattn_sampler_alias *xattn_sampler_alias_at(size_t index);

/* Called after every sampling step, that is every U-Net call (a step of n; Heun makes 2n - 1
 * calls, PNDM n + 9 or n + 1; the heatmaps' steps count the same calls); n_steps is the number
 * of calls. Return non-zero to cancel (xattn_generate then returns
 * XATTN_ERR_CANCELLED). */
typedef int (*xattn_progress_fn)(int step, int n_steps, void *user);

/* The default step count: with shapes32's UniPC, DDIM-50's adherence (docs/samplers.md). */
#define XATTN_DEFAULT_STEPS 30

typedef struct xattn_generate_params {
    uint64_t seed;              /* the noise is torch.manual_seed(seed); torch.randn(...) */
    int steps;                  /* sampling steps (default XATTN_DEFAULT_STEPS) */
    float cfg;                  /* guidance scale; <= 1 runs the conditional branch only (default 7.5) */
    xattn_sampler_kind sampler; /* default XATTN_SAMPLER_MODEL: the scheduler config's class */
    float eta;                  /* DDIM eta (default 0) */
    int batch;                  /* images per call (default 1) */
    int threads;                /* OpenMP threads; 0 = OpenMP's default (one per core) */
    xattn_progress_fn progress;
    void *progress_user;
    /* Cross-attention of the conditional branch (see "Cross-attention" below); all optional. */
    xattn_heatmaps *heatmaps;        /* filled with this call's maps (made for `cond`) */
    xattn_attention_fn attention;    /* sees every head's probabilities of every layer and step */
    void *attention_user;
    const float *token_scale;        /* [cond->n_tokens]: Prompt-to-Prompt re-weighting; NULL = 1 */
    int karras;                      /* 1: Karras sigmas (use_karras_sigmas) on euler, heun, lms,
                                        dpmpp_2m(_sde), unipc; 0: as the scheduler config says */
} xattn_generate_params;

void xattn_generate_params_init(xattn_generate_params *p);

/* images: [batch, out_channels, sample_size, sample_size] in [-1, 1], allocated by the caller.
 * uncond may be NULL: the model's null prompt is used (required when cfg > 1). */
xattn_status xattn_generate(xattn_model *m, const xattn_prompt *cond, const xattn_prompt *uncond,
                            const xattn_generate_params *p, float *images, xattn_error *err);

/* Image-to-image, diffusers' img2img in pixel space: the scheduler is set for p->steps steps;
 * the run starts at step first = n - min(int(n * strength), n) from
 * x = sqrt(a_t) init + sqrt(1 - a_t) noise, t = timesteps[first], and runs steps first .. n-1
 * like xattn_generate. Noise order: torch.manual_seed(seed); noise = randn([batch, C, S, S])
 * (the add_noise noise), then the steps' noise as in xattn_generate. init: [in_channels,
 * sample_size, sample_size] in [-1, 1], the same start for every image of the batch;
 * strength in (0, 1] (1 runs every step; the init still weighs sqrt(a_t)). Heatmap steps and
 * progress count the steps run, from 0. XATTN_ERR_VALUE when strength * steps < 1. */
xattn_status xattn_denoise(xattn_model *m, const xattn_prompt *cond, const xattn_prompt *uncond,
                           const xattn_generate_params *p, const float *init, double strength,
                           float *images, xattn_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Words and heatmaps                                                                          */

/* A word of a prompt: tokens [first_token, first_token + n_tokens). A WordPiece "##" token
 * continues the word before it; special tokens ([CLS], [SEP], [PAD], [MASK], <|startoftext|>,
 * <|endoftext|>, <s>, </s>, <pad>) and padding (mask 0) belong to no word. */
typedef struct xattn_word {
    char *text;             /* the tokens joined, "##" dropped: "ring" + "##s" -> "rings" */
    size_t first_token, n_tokens;
} xattn_word;

/* *words is malloc'd ([*n_words], possibly 0); free with xattn_words_free. */
xattn_status xattn_prompt_words(const xattn_prompt *p, xattn_word **words, size_t *n_words,
                                xattn_error *err);
void xattn_words_free(xattn_word *words, size_t n_words);

/* Heatmaps, the DAAM way (Tang et al. 2022): for every captured step, each selected layer's
 * probabilities (conditional branch), summed over the selected heads, are resized bilinearly
 * (align_corners false) from the layer's grid to the image size; the step's map of a token is
 * their mean over the selected (layer, head) pairs; maps are summed over the selected steps. A
 * word's map is the mean of its tokens' maps. (Bilinear weights are >= 0, so resizing the head
 * sum equals summing the resized, clamped-at-0 heads.) Maps are not normalised. */
typedef struct xattn_heatmap_params {
    uint64_t layers;  /* bit i selects layer i of xattn_model_attention_layers; 0 = all */
    uint64_t heads;   /* bit h selects head h of every selected layer; 0 = all */
    int step_begin;   /* steps [step_begin, step_end) are summed (default 0 ..      */
    int step_end;     /*  INT_MAX = to the last)                                     */
    int keep_steps;   /* also keep every summed step's own maps (default 0) */
} xattn_heatmap_params;
void xattn_heatmap_params_init(xattn_heatmap_params *p);

/* Parsers for command lines (messages name the spec, not an option):
 *   layers: "all", or a comma list of PLACE[:SIDE] (PLACE = down, mid, up or all; SIDE = the
 *           layer's grid side, e.g. "up:16") and layer indices ("0,3");
 *   heads:  "all", or a comma list of head indices and ranges ("0,2-3");
 *   steps:  "A:B" (steps A .. B-1), "A:", ":B", "A" (one step) or "all". */
xattn_status xattn_heatmap_parse_layers(const xattn_model *m, const char *spec, uint64_t *layers,
                                        xattn_error *err);
xattn_status xattn_heatmap_parse_heads(const xattn_model *m, const char *spec, uint64_t *heads,
                                       xattn_error *err);
xattn_status xattn_heatmap_parse_steps(const char *spec, int *step_begin, int *step_end,
                                       xattn_error *err);

/* An accumulator for generations with `prompt` as the conditional prompt on model m; pass it in
 * xattn_generate_params.heatmaps. Each generation replaces its maps. The prompt must have at
 * least one word. */
xattn_status xattn_heatmaps_new(const xattn_model *m, const xattn_prompt *prompt,
                                const xattn_heatmap_params *p, xattn_heatmaps **out,
                                xattn_error *err);
void xattn_heatmaps_free(xattn_heatmaps *h);

typedef struct xattn_heatmaps_info {
    size_t images;              /* the last generation's batch (0 before any) */
    size_t height, width;       /* the image size: every map is [height, width] */
    size_t n_words, n_tokens;
    size_t n_layers, n_pairs;   /* selected layers; (layer, head) pairs averaged per step */
    uint64_t layers, heads;     /* the selection (0 = all) */
    int step_begin, step_end;   /* the steps summed in the last generation: [begin, end) */
} xattn_heatmaps_info;
void xattn_heatmaps_get_info(const xattn_heatmaps *h, xattn_heatmaps_info *info);

/* The words (borrowed, [n_words]) and the layers selected (borrowed, [n_layers]). */
const xattn_word *xattn_heatmaps_words(const xattn_heatmaps *h);
const xattn_attention_layer *xattn_heatmaps_layers(const xattn_heatmaps *h);

/* Maps of one image of the last generation, borrowed until the next generation or free;
 * NULL when image is out of range:
 *   word maps [n_words, H, W]; token maps [n_tokens, H, W] (special tokens included);
 *   one step's word maps [n_words, H, W] (keep_steps only, step in [step_begin, step_end)). */
const float *xattn_heatmaps_word_maps(const xattn_heatmaps *h, size_t image);
const float *xattn_heatmaps_token_maps(const xattn_heatmaps *h, size_t image);
const float *xattn_heatmaps_step_maps(const xattn_heatmaps *h, size_t image, int step);

/* Writes, for one image (rgb: [height, width, 3] 8-bit, the generated image), into folder dir
 * (created if missing): <i>-<word>.png per word (its map normalised to [0, 1], in viridis,
 * blended over the image, upscaled), grid.png (the image and every word's overlay, labelled) and
 * heatmaps.safetensors (maps [n_words, H, W] F32, and step_maps [steps, n_words, H, W] with
 * keep_steps; metadata: words, prompt, tokens, layers, heads, steps). Every file is written
 * atomically. */
xattn_status xattn_heatmaps_write(const xattn_heatmaps *h, size_t image, const uint8_t *rgb,
                                  const char *dir, xattn_error *err);

/* The heatmap explorer: one self-contained HTML page (no network; images inline as data: URLs)
 * showing an image, its prompt's words as buttons, each word's map over the image and a slider
 * over the steps (docs/heatmaps.md). Writes the page for image `image` of h's last generation
 * to path, atomically. rgb: the generated image [height, width, 3] 8-bit. caption: a line under
 * the prompt (NULL = none). With keep_steps the slider shows each word's map summed over the
 * steps up to the chosen one; without, the page has the final maps only. */
xattn_status xattn_heatmaps_write_html(const char *path, const xattn_heatmaps *h, size_t image,
                                       const uint8_t *rgb, const char *caption, xattn_error *err);

/* The heatmaps folder dir may be replaced as a whole: it does not exist, it is empty, or every
 * entry in it matches the manifest xattn wrote there (each file listed with its size and
 * SHA-256). Otherwise an error names the first entry that does not match. */
xattn_status xattn_heatmaps_dir_replaceable(const char *dir, xattn_error *err);

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

/* Every cross-attention layer's probabilities of every row go to fn (NULL = none). */
void xattn_unet_set_attention_fn(xattn_unet_run *r, xattn_attention_fn fn, void *user);

/* scale[B, T] multiplies the cross-attention probability of token t in batch row b after the
 * softmax (NULL = none); borrowed until it is reset. Self-attention is not affected. */
void xattn_unet_set_token_scale(xattn_unet_run *r, const float *scale);

/* FLOPs of the last forward's matrix products (2 per multiply-add), for benchmarks. */
double xattn_unet_flops(const xattn_unet_run *r);

/* Sets the thread count (0 = leave OpenMP's default); runs planned after it use it. A run whose
 * batch has at least as many rows as threads gives each thread its own rows ("lanes") with
 * single-threaded kernels, so a row's numbers do not depend on the thread count; a smaller batch
 * splits each kernel across the threads instead. */
void xattn_set_threads(int threads);

/* ------------------------------------------------------------------------------------------ */
/* Text encoder: a BERT (all-MiniLM-L6-v2) and its BertTokenizer, in C                         */

typedef struct xattn_encoder xattn_encoder;

/* dir: a Hugging Face folder (config.json, model.safetensors, vocab.txt, tokenizer_config.json)
 * or a model folder in diffusers' layout (see xattn_encoder_find). model.safetensors is mmapped
 * (F32 used in place; F16/BF16 converted). Refused with one line naming it: a model_type other
 * than bert, a tokenizer_class other than BertTokenizer(Fast), a hidden size that disagrees with
 * the weights, a missing tensor or file (a missing model.safetensors or vocab.txt names
 * tools/fetch_encoder.sh), a bad vocab.txt (empty, duplicate token, over 64 MB). */
xattn_status xattn_encoder_load(const char *dir, xattn_encoder **out, xattn_error *err);
void xattn_encoder_free(xattn_encoder *e);

/* The encoder of a model folder, found as diffusers' from_pretrained does: <model>/text_encoder
 * and <model>/tokenizer; when <model>/model_index.json exists its text_encoder must be
 * transformers' BertModel and its tokenizer BertTokenizer(Fast). Writes the two folders
 * (cap bytes each). */
xattn_status xattn_encoder_find(const char *model_dir, char *text_encoder_dir,
                                char *tokenizer_dir, size_t cap, xattn_error *err);

typedef struct xattn_encoder_info {
    size_t dim;         /* D, the width of the embeddings (384) */
    size_t max_tokens;  /* the longest token sequence, [CLS] and [SEP] included (512) */
    size_t vocab_size;
    int n_layers, n_heads;
    const char *name;   /* "sentence-transformers/all-MiniLM-L6-v2" (borrowed) */
} xattn_encoder_info;
void xattn_encoder_get_info(const xattn_encoder *e, xattn_encoder_info *info);

/* Hugging Face's BertTokenizer: ids of text[len] (UTF-8), [CLS] ... [SEP]; a text longer than
 * max_tokens is cut to its first max_tokens - 2 tokens, as tokenizer(text, truncation=True)
 * does. Invalid UTF-8 is refused (XATTN_ERR_VALUE, "text: invalid UTF-8 at byte N (0xXX)").
 * *ids is malloc'd (release with free). */
xattn_status xattn_encoder_tokenize(const xattn_encoder *e, const char *text, size_t len,
                                    int32_t **ids, size_t *n, xattn_error *err);
/* The vocabulary string of an id (borrowed), or NULL. */
const char *xattn_encoder_token(const xattn_encoder *e, int32_t id);

/* out[n, D] = last_hidden_state of ids[n] (1 <= n <= max_tokens, no padding). Not thread-safe
 * for one encoder (it owns its scratch memory). */
xattn_status xattn_encoder_forward(xattn_encoder *e, const int32_t *ids, size_t n, float *out,
                                   xattn_error *err);

/* text (NUL-terminated UTF-8) -> a prompt: embeddings [T, D], mask all 1, tokens the vocabulary
 * strings ("[CLS]", "a", "red", ..., "[SEP]"), text, encoder = info.name; what
 * tools/encode_prompt.py writes. */
xattn_status xattn_encode(xattn_encoder *e, const char *text, xattn_prompt **out,
                          xattn_error *err);

#ifdef __cplusplus
}
#endif
#endif /* XATTN_H */
