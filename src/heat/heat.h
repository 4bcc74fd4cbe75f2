/* heat.h — cross-attention heatmaps inside the library: the accumulator's capture side, the
 * capture a sampling loop installs on its U-Net run, and the resampling they share.
 *
 * A sampling loop (generate.c; later denoise) does, around its loop over steps:
 *     attention_capture cap;
 *     attention_capture_begin(&cap, run, heatmaps, fn, user, cond_row0, images, steps, err);
 *     for each step i: attention_capture_step(&cap, i); forward; attention_capture_step_done(&cap);
 *     attention_capture_end(&cap);
 * The capture passes only the conditional rows [cond_row0, cond_row0 + images) on, as image
 * indices 0 .. images-1. */
#ifndef XATTN_HEAT_HEAT_H
#define XATTN_HEAT_HEAT_H

#include <stddef.h>

#include "xattn_io.h"
#include "xattn.h"

/* --- the accumulator (heatmaps.c) ------------------------------------------------------- */

/* xattn_heatmaps_new without a model: `layers` [n_layers] are all the model's cross-attention
 * layers (forward order), images are height x width. */
xattn_status heatmaps_create(const xattn_attention_layer *layers, size_t n_layers, size_t height,
                             size_t width, const xattn_prompt *prompt,
                             const xattn_heatmap_params *p, xattn_heatmaps **out,
                             xattn_error *err);

/* Plans a generation of `images` images over n_steps steps (allocates; clears old maps). */
xattn_status heatmaps_begin(xattn_heatmaps *h, size_t images, int n_steps, xattn_error *err);

/* 1 when (layer, step) is summed. */
int heatmaps_wants(const xattn_heatmaps *h, int layer, int step);

/* Adds probs[height * width, run_tokens] of (layer, image, head) to the current step (only the
 * prompt's first n_tokens columns; an unselected head is ignored). Thread-safe for distinct
 * (image, head) pairs of one layer. */
void heatmaps_add(xattn_heatmaps *h, const xattn_attention_layer *layer, size_t image,
                  size_t head, const float *probs, size_t run_tokens);

/* Closes step `step`: resizes and averages its layers into the token maps (a step outside the
 * range is ignored). */
void heatmaps_end_step(xattn_heatmaps *h, int step);

/* After the last step: word maps from the token maps. */
void heatmaps_finish(xattn_heatmaps *h);

/* The prompt's text ("" if none) and tokens [n_tokens], for the files' metadata. */
const char *heatmaps_prompt_text(const xattn_heatmaps *h);
const char *const *heatmaps_tokens(const xattn_heatmaps *h);

/* --- the capture (capture.c) ------------------------------------------------------------ */

typedef struct attention_capture {
    xattn_unet_run *run;
    xattn_heatmaps *heatmaps;     /* NULL = none */
    xattn_attention_fn fn;        /* NULL = none */
    void *user;
    size_t cond_row0, images;     /* the conditional rows of the U-Net batch */
    int step;                     /* the step running */
} attention_capture;

/* Installs the capture on run when there is anything to capture (heatmaps or fn); plans the
 * heatmaps for `images` images and n_steps steps. */
xattn_status attention_capture_begin(attention_capture *c, xattn_unet_run *run,
                                     xattn_heatmaps *heatmaps, xattn_attention_fn fn, void *user,
                                     size_t cond_row0, size_t images, int n_steps,
                                     xattn_error *err);
void attention_capture_step(attention_capture *c, int step);  /* before the step's forward(s) */
void attention_capture_step_done(attention_capture *c);       /* after them */
void attention_capture_end(attention_capture *c);             /* finishes; uninstalls */

/* --- resampling (heatmaps.c) ------------------------------------------------------------- */

/* out[OH, OW] += scale * bilinear(in[IH, IW]) with PyTorch's align_corners=False sampling:
 * source coordinate (o + 0.5) * I / O - 0.5, clamped at 0, edge pixels repeated. */
void bilinear_resize_add(float *out, size_t oh, size_t ow, const float *in, size_t ih, size_t iw,
                         float scale);

/* xattn_heatmaps_dir_replaceable's check on the old folder, moved to old_dir just before it is
 * deleted (an atomic_dir check_old hook); errors name final_dir. */
xattn_status heat_dir_check_old(const char *old_dir, const char *final_dir, xattn_error *err);

#endif
