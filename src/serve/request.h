/* request.h — a txt2img request body (JSON, AUTOMATIC1111's convention plus xattn's fields)
 * -> generation parameters. One pure function: no I/O, no globals, no model; the HTTP handler
 * and the libFuzzer harness (tests/fuzz/fuzz_serve_request.c) both call it.
 *
 * Fields (docs/serve.md):
 *   prompt, negative_prompt    strings, at most SERVE_MAX_TEXT bytes       default ""
 *   seed                       integer -1 (random) .. 2^53                 default -1
 *   steps                      1 .. SERVE_MAX_STEPS                        default 30
 *   cfg_scale                  finite, 0 .. 30                             default 7
 *   sampler_name               A1111's name of an xattn sampler            default: the model's
 *                              (sampler_index: its old name, used when sampler_name is absent)
 *   scheduler                  "automatic" (any case), "", or null
 *   eta                        finite, 0 .. 1, or null (= 0)               default 0
 *   batch_size                 1 .. SERVE_MAX_BATCH                        default 1
 *   width, height              the model's image size
 *   heatmaps                   boolean                                     default false
 *   reweight                   {"word": factor}, factor finite 0 .. 100, at most
 *                              SERVE_MAX_REWEIGHTS words of at most SERVE_MAX_WORD bytes
 *   heat_layers, heat_heads, heat_steps   the CLI's --heat-* specs (checked against the model
 *                              when the job runs), at most SERVE_MAX_SPEC bytes
 * A1111 fields xattn does not use are accepted when they hold their neutral value (enable_hr
 * false, styles [], n_iter 1, ...) and refused, naming the field, when they ask for a feature
 * xattn lacks; fields nobody knows are ignored and listed in `ignored`. */
#ifndef XATTN_SERVE_REQUEST_H
#define XATTN_SERVE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "xattn.h"

#define SERVE_MAX_BODY (64 * 1024)
#define SERVE_MAX_TEXT 1000
#define SERVE_MAX_STEPS 150
#define SERVE_MAX_BATCH 8
#define SERVE_MAX_REWEIGHTS 32
#define SERVE_MAX_WORD 64
#define SERVE_MAX_SPEC 64
#define SERVE_MAX_IGNORED 32
#define SERVE_ERROR_LEN 256

typedef struct serve_request {
    char *prompt, *negative;        /* malloc'd, NUL-terminated UTF-8 */
    int seed_random;                /* seed -1: the server draws one */
    uint64_t seed;
    int steps;
    float cfg, eta;
    xattn_sampler_kind sampler;
    const char *sampler_name;       /* its name in the library's table, static: "DDIM", "Euler a" */
    int karras;                     /* the name implies Karras sigmas ("DPM++ 2M Karras") */
    int batch;
    int heatmaps;
    size_t n_reweight;
    char *reweight_word[SERVE_MAX_REWEIGHTS]; /* malloc'd */
    float reweight_factor[SERVE_MAX_REWEIGHTS];
    char *heat_layers, *heat_heads, *heat_steps; /* malloc'd, or NULL = all */
    size_t n_ignored;               /* unknown fields, in request order (the first 32) */
    char *ignored[SERVE_MAX_IGNORED];
} serve_request;

/* Parses body[len] (not NUL-terminated) for the model described by *model (its image side; its
 * sampler and Karras flag are the defaults when the body names none). On success
 * returns 0 and fills *out (free with serve_request_free). On failure returns -1, leaves *out
 * empty (safe to free) and writes "<field>: <what is wrong>" into err[SERVE_ERROR_LEN] (field
 * "body" for the JSON as a whole). */
int serve_request_parse(const char *body, size_t len, const xattn_model_info *model,
                        serve_request *out, char *err);
void serve_request_free(serve_request *r);

/* The sampler for an A1111 or xattn name (case-insensitive; the library's table,
 * xattn_sampler_alias_at): "DDIM", "Euler a", "DPM++ 2M Karras" (*karras 1), "dpmpp_2m", ...
 * Returns 0 and sets *kind and *canonical, or -1. */
int serve_sampler_from_name(const char *name, xattn_sampler_kind *kind, int *karras,
                            const char **canonical);

#endif
