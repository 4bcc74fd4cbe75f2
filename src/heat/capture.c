/* capture.c — a sampling loop's cross-attention capture: the conditional rows of the U-Net
 * batch go to the heatmaps and to the caller's callback, labelled with the step. */
#include "heat/heat.h"

/* xattn_attention_fn installed on the run: row -> conditional image index, step from the loop */
static void on_probs(const xattn_attention_layer *layer, int step, int row, int head,
                     const float *probs, size_t n_tokens, void *user) {
    (void)step; /* -1 from the run: the loop knows the step */
    const attention_capture *c = user;
    if ((size_t)row < c->cond_row0 || (size_t)row - c->cond_row0 >= c->images) return;
    size_t image = (size_t)row - c->cond_row0;
    if (c->heatmaps && heatmaps_wants(c->heatmaps, layer->index, c->step))
        heatmaps_add(c->heatmaps, layer, image, (size_t)head, probs, n_tokens);
    if (c->fn) c->fn(layer, c->step, (int)image, head, probs, n_tokens, c->user);
}

xattn_status attention_capture_begin(attention_capture *c, xattn_unet_run *run,
                                     xattn_heatmaps *heatmaps, xattn_attention_fn fn, void *user,
                                     size_t cond_row0, size_t images, int n_steps,
                                     xattn_error *err) {
    *c = (attention_capture){run, heatmaps, fn, user, cond_row0, images, -1};
    if (heatmaps) {
        xattn_status st = heatmaps_begin(heatmaps, images, n_steps, err);
        if (st != XATTN_OK) return st;
    }
    if (heatmaps || fn) xattn_unet_set_attention_fn(run, on_probs, c);
    return XATTN_OK;
}

void attention_capture_step(attention_capture *c, int step) { c->step = step; }

void attention_capture_step_done(attention_capture *c) {
    if (c->heatmaps) heatmaps_end_step(c->heatmaps, c->step);
}

void attention_capture_end(attention_capture *c) {
    if (c->heatmaps) heatmaps_finish(c->heatmaps);
    xattn_unet_set_attention_fn(c->run, NULL, NULL);
}
