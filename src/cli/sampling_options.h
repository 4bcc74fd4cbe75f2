/* sampling_options.h — the options that the sampling commands (generate, denoise, eval) share:
 *   -m MODEL, -p PROMPT, -n NEGATIVE, -s SEED, --steps N, --cfg SCALE, --sampler NAME, --eta E,
 *   -t THREADS, -q; loading the model and prompts; the PNG text chunks they have in common.
 *
 * A command lists the ones it takes in its option table with the SAMPLING_OPT_* ids (its own
 * ids start at SAMPLING_OPT_END), passes every option to sampling_option() first and handles
 * the ones it does not consume itself. Functions print their own errors ("xattn: ..."). */
#ifndef XATTN_CLI_SAMPLING_OPTIONS_H
#define XATTN_CLI_SAMPLING_OPTIONS_H

#include <stddef.h>

#include "xattn_io.h"
#include "xattn.h"

enum {
    SAMPLING_OPT_MODEL = 1, SAMPLING_OPT_PROMPT, SAMPLING_OPT_NEGATIVE, SAMPLING_OPT_SEED,
    SAMPLING_OPT_STEPS, SAMPLING_OPT_CFG, SAMPLING_OPT_SAMPLER, SAMPLING_OPT_ETA,
    SAMPLING_OPT_THREADS, SAMPLING_OPT_QUIET, SAMPLING_OPT_ENCODER, SAMPLING_OPT_KARRAS,
    SAMPLING_OPT_END /* a command's own ids start here */
};

typedef struct sampling_options {
    const char *model, *prompt, *negative; /* as given, or NULL: -p/-n are text or a file */
    const char *encoder;                   /* --encoder DIR, or NULL = the model's */
    xattn_generate_params params;          /* seed, steps, cfg, sampler, karras, eta, threads;
                                              sampler XATTN_SAMPLER_MODEL until loaded */
    int quiet;
} sampling_options;

/* Zeroes o and sets the library's default parameters. */
void sampling_options_init(sampling_options *o);

/* The rule for -p/-n: a value ending in .safetensors or .npy is an embedding file (1), anything
 * else is a text, encoded in C with the model's encoder (0). */
int sampling_is_embedding_file(const char *value);

/* One option by its id: 1 when consumed, 0 when id is not a SAMPLING_OPT_* id, -1 after
 * printing the error (exit 2). name is its display name ("-s", "--steps"). */
int sampling_option(sampling_options *o, int id, const char *name, const char *value);

/* "-m: missing: the model folder is required (see xattn <command> --help)", then the same for
 * -p when need_prompt. 0 when given, else CLI_EXIT_USAGE after printing the error. */
int sampling_options_require(const sampling_options *o, const char *command, int need_prompt);

/* The model and prompts of one sampling run. */
typedef struct sampling_inputs {
    xattn_prompt *cond, *uncond; /* uncond NULL without -n */
    xattn_model *model;
    xattn_model_info info;
} sampling_inputs;

/* The steps an image-to-image run of `steps` at `strength` runs: diffusers' int(steps *
 * strength), in double as Python rounds it (0 when none would run). */
int sampling_steps_run(int steps, double strength);

/* Loads -p, then -n (if given), then -m, and checks that the embedding widths are the model's
 * cross_attention_dim. Without --sampler, the sampler becomes the model's scheduler class.
 * Prints the error; 0, or -1 (exit 1). Free with sampling_inputs_free either way. */
int sampling_inputs_load(sampling_options *o, sampling_inputs *in);
void sampling_inputs_free(sampling_inputs *in);

/* "PATH: embedding width W, model expects D", with " (prompt on FILE:LINE)" when file is not
 * NULL. Prints the error and returns -1 when the widths differ; 0 otherwise. */
int sampling_check_width(const char *path, const xattn_prompt *p, const xattn_model_info *info,
                         const char *file, size_t line);

/* A --cfg above 1 needs the model's null prompt. Prints the error; 0 when fine, else -1. */
int sampling_check_null_prompt(const char *model, const xattn_model_info *info, float cfg);

/* The --sampler / --karras lines of --help (one string, 2 lines). */
#define SAMPLING_HELP_SAMPLER                                                                     \
    "      --sampler NAME     ddim, ddpm, euler, euler_a, heun, dpmpp_2m,     default: the\n"   \
    "                         dpmpp_2m_sde, unipc, lms, pndm, or an A1111     model's class\n"  \
    "                         name (\"Euler a\", \"DPM++ 2M Karras\"; docs/samplers.md)\n"        \
    "      --karras           Karras sigmas (euler, heun, lms, dpmpp_2m, dpmpp_2m_sde, unipc)\n"

#define SAMPLING_MAX_TEXT 16

/* A PNG's text chunks; the values point into the buffers here or into the caller's strings. */
typedef struct sampling_text {
    xattn_text_pair pairs[SAMPLING_MAX_TEXT];
    size_t n;
    char seed[32], steps[16], cfg[32], eta[32], software[64];
} sampling_text;

/* Empties t. */
void sampling_text_init(sampling_text *t);
/* Appends one pair (ignored when t is full). */
void sampling_text_add(sampling_text *t, const char *key, const char *value);
/* prompt, prompt_file, and negative, negative_file when uncond is not NULL. */
void sampling_text_prompts(sampling_text *t, const sampling_options *o, const xattn_prompt *cond,
                           const xattn_prompt *uncond);
/* seed, steps, cfg, sampler, eta (when with_eta) and model. */
void sampling_text_params(sampling_text *t, const char *model, const xattn_generate_params *p,
                          int with_eta);
/* software = "xattn VERSION": the last pair. */
void sampling_text_software(sampling_text *t);

#endif
