/* heatmaps.c — the heatmap accumulator: per-step sums of cross-attention probabilities at each
 * layer's grid, resized and averaged into image-sized token maps, summed over steps, merged
 * into word maps. The aggregation is described in xattn.h ("Words and heatmaps").
 *
 * During a step, acc holds for every selected layer l, image b and head h the probabilities
 * P [N_l, T] (N_l = the layer's pixels, T = the prompt's tokens) as the U-Net produced them;
 * each (image, head) has its own slice, so worker threads add without locks. At the step's end
 * they are summed over the selected heads, resized to [H, W], scaled by 1 / (pairs averaged),
 * and added to the token maps; acc is cleared for the next step. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "heat/heat.h"
#include "util/error.h"

struct xattn_heatmaps {
    xattn_heatmap_params params;
    xattn_attention_layer *layers; /* [n_layers] the selected layers */
    size_t n_layers, n_all_layers;
    int *slot;                     /* [n_all_layers] index into layers, or -1 */
    size_t n_pairs;                /* selected (layer, head) pairs */
    size_t height, width;          /* image size */
    size_t n_tokens, n_words;
    char *text;                    /* the prompt's text */
    char **tokens;                 /* [n_tokens] */
    xattn_word *words;             /* [n_words] */

    /* one generation (heatmaps_begin) */
    size_t images;
    int step_begin, step_end;      /* the steps summed, clamped to the generation's */
    size_t *acc_off;               /* [n_layers] offset of layer l's slices in acc */
    float *acc;                    /* per layer l: [images, heads_l, N_l, T] this step's P */
    size_t acc_len;
    float *token_maps;             /* [images, T, H, W] */
    float *word_maps;              /* [images, n_words, H, W] */
    float *step_maps;              /* [images, steps kept, n_words, H, W], keep_steps only */
    float *step_tok;               /* [T, H, W] scratch: one image's step */
    float *layer_sum;              /* [max N_l] scratch: one token's head sum */
};

void xattn_heatmap_params_init(xattn_heatmap_params *p) {
    memset(p, 0, sizeof *p);
    p->step_begin = 0;
    p->step_end = INT_MAX;
}

static int head_selected(const xattn_heatmaps *h, size_t head) {
    return h->params.heads == 0 || (head < 64 && (h->params.heads >> head) & 1u);
}

/* *out = a * b * c * d, 0 on overflow */
static int mul_size(size_t *out, size_t a, size_t b, size_t c, size_t d) {
    size_t r = a;
    size_t f[3] = {b, c, d};
    for (int i = 0; i < 3; i++) {
        if (f[i] && r > SIZE_MAX / f[i]) return 0;
        r *= f[i];
    }
    *out = r;
    return 1;
}

xattn_status heatmaps_create(const xattn_attention_layer *layers, size_t n_layers, size_t height,
                             size_t width, const xattn_prompt *prompt,
                             const xattn_heatmap_params *p, xattn_heatmaps **out,
                             xattn_error *err) {
    *out = NULL;
    if (p->step_begin < 0 || p->step_end <= p->step_begin)
        return xattn_fail(err, XATTN_ERR_VALUE, "heatmaps: step range %d:%d is empty or negative",
                          p->step_begin, p->step_end);
    if (n_layers == 0)
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED, "heatmaps: the model has no cross-attention");
    if (n_layers < 64 && (p->layers >> n_layers) != 0)
        return xattn_fail(err, XATTN_ERR_VALUE, "heatmaps: layer selection 0x%llx names layers "
                          "beyond the model's %zu", (unsigned long long)p->layers, n_layers);
    if (height < 1 || width < 1 || height > 65536 || width > 65536)
        return xattn_fail(err, XATTN_ERR_VALUE, "heatmaps: image size %zux%zu out of range",
                          height, width);

    xattn_heatmaps *h = calloc(1, sizeof *h);
    if (!h) return xattn_fail(err, XATTN_ERR_NOMEM, "heatmaps: out of memory");
    h->params = *p;
    h->height = height, h->width = width, h->n_all_layers = n_layers;
    h->n_tokens = prompt->n_tokens;
    xattn_status st = xattn_prompt_words(prompt, &h->words, &h->n_words, err);
    if (st != XATTN_OK) goto fail;
    if (h->n_words == 0) {
        st = xattn_fail(err, XATTN_ERR_VALUE, "prompt: no words to map (only special tokens)");
        goto fail;
    }
    h->layers = malloc(n_layers * sizeof *h->layers);
    h->slot = malloc(n_layers * sizeof *h->slot);
    h->tokens = calloc(prompt->n_tokens, sizeof *h->tokens);
    h->text = strdup(prompt->text ? prompt->text : "");
    if (!h->layers || !h->slot || !h->tokens || !h->text) goto nomem;
    for (size_t t = 0; t < prompt->n_tokens; t++)
        if (!(h->tokens[t] = strdup(prompt->tokens[t] ? prompt->tokens[t] : ""))) goto nomem;
    for (size_t i = 0; i < n_layers; i++) {
        int selected = p->layers == 0 || (i < 64 && (p->layers >> i) & 1u);
        h->slot[i] = selected ? (int)h->n_layers : -1;
        if (!selected) continue;
        h->layers[h->n_layers++] = layers[i];
        for (int hd = 0; hd < layers[i].heads; hd++) h->n_pairs += (size_t)head_selected(h, (size_t)hd);
    }
    if (h->n_pairs == 0) {
        st = xattn_fail(err, XATTN_ERR_VALUE, "heatmaps: the head selection 0x%llx selects no head "
                        "of the selected layers", (unsigned long long)p->heads);
        goto fail;
    }
    *out = h;
    return XATTN_OK;
nomem:
    st = xattn_fail(err, XATTN_ERR_NOMEM, "heatmaps: out of memory");
fail:
    xattn_heatmaps_free(h);
    return st;
}

xattn_status xattn_heatmaps_new(const xattn_model *m, const xattn_prompt *prompt,
                                const xattn_heatmap_params *p, xattn_heatmaps **out,
                                xattn_error *err) {
    *out = NULL;
    xattn_heatmap_params defaults;
    if (!p) {
        xattn_heatmap_params_init(&defaults);
        p = &defaults;
    }
    size_t n = xattn_model_attention_layers(m, NULL, 0);
    xattn_attention_layer *layers = malloc((n ? n : 1) * sizeof *layers);
    if (!layers) return xattn_fail(err, XATTN_ERR_NOMEM, "heatmaps: out of memory");
    xattn_model_attention_layers(m, layers, n);
    xattn_model_info info;
    xattn_model_get_info(m, &info);
    xattn_status st = heatmaps_create(layers, n, (size_t)info.sample_size,
                                      (size_t)info.sample_size, prompt, p, out, err);
    free(layers);
    return st;
}

static void free_generation(xattn_heatmaps *h) {
    free(h->acc_off), free(h->acc), free(h->token_maps), free(h->word_maps), free(h->step_maps);
    free(h->step_tok), free(h->layer_sum);
    h->acc_off = NULL, h->acc = h->token_maps = h->word_maps = h->step_maps = NULL;
    h->step_tok = h->layer_sum = NULL;
    h->images = 0;
}

void xattn_heatmaps_free(xattn_heatmaps *h) {
    if (!h) return;
    free_generation(h);
    if (h->tokens)
        for (size_t t = 0; t < h->n_tokens; t++) free(h->tokens[t]);
    free(h->tokens);
    free(h->text);
    xattn_words_free(h->words, h->n_words);
    free(h->layers);
    free(h->slot);
    free(h);
}

xattn_status heatmaps_begin(xattn_heatmaps *h, size_t images, int n_steps, xattn_error *err) {
    free_generation(h);
    int end = h->params.step_end < n_steps ? h->params.step_end : n_steps;
    if (h->params.step_begin >= end)
        return xattn_fail(err, XATTN_ERR_VALUE, "heatmaps: steps %d:%d select none of the %d steps",
                          h->params.step_begin, h->params.step_end, n_steps);
    h->step_begin = h->params.step_begin, h->step_end = end;
    size_t T = h->n_tokens, hw = h->height * h->width, kept = (size_t)(end - h->step_begin);
    size_t acc = 0, nmax = 0, n_tok, n_word, n_step, n_scratch;
    h->acc_off = malloc(h->n_layers * sizeof *h->acc_off);
    if (!h->acc_off) goto nomem;
    for (size_t l = 0; l < h->n_layers; l++) {
        const xattn_attention_layer *L = &h->layers[l];
        size_t nl = (size_t)L->height * (size_t)L->width, part;
        if (!mul_size(&part, images, (size_t)L->heads, nl, T) || acc > SIZE_MAX - part) goto nomem;
        h->acc_off[l] = acc;
        acc += part;
        if (nl > nmax) nmax = nl;
    }
    if (!mul_size(&n_tok, images, T, hw, 1) || !mul_size(&n_word, images, h->n_words, hw, 1) ||
        !mul_size(&n_step, n_word, h->params.keep_steps ? kept : 0, 1, 1) ||
        !mul_size(&n_scratch, T, hw, 1, 1) || acc > SIZE_MAX / sizeof(float) ||
        n_tok > SIZE_MAX / sizeof(float) || n_step > SIZE_MAX / sizeof(float))
        goto nomem;
    h->acc = calloc(acc ? acc : 1, sizeof(float));
    h->acc_len = acc;
    h->token_maps = calloc(n_tok, sizeof(float));
    h->word_maps = calloc(n_word, sizeof(float));
    h->step_maps = n_step ? calloc(n_step, sizeof(float)) : NULL;
    h->step_tok = malloc(n_scratch * sizeof(float));
    h->layer_sum = malloc((nmax ? nmax : 1) * sizeof(float));
    if (!h->acc || !h->token_maps || !h->word_maps || (n_step && !h->step_maps) || !h->step_tok ||
        !h->layer_sum)
        goto nomem;
    h->images = images;
    return XATTN_OK;
nomem:
    free_generation(h);
    return xattn_fail(err, XATTN_ERR_NOMEM, "heatmaps: out of memory for %zu images", images);
}

int heatmaps_wants(const xattn_heatmaps *h, int layer, int step) {
    return step >= h->step_begin && step < h->step_end && layer >= 0 &&
           (size_t)layer < h->n_all_layers && h->slot[layer] >= 0;
}

void heatmaps_add(xattn_heatmaps *h, const xattn_attention_layer *layer, size_t image,
                  size_t head, const float *probs, size_t run_tokens) {
    if (layer->index < 0 || (size_t)layer->index >= h->n_all_layers || image >= h->images ||
        head >= (size_t)layer->heads || !head_selected(h, head) || run_tokens < h->n_tokens)
        return;
    int l = h->slot[layer->index];
    if (l < 0) return;
    size_t T = h->n_tokens, nl = (size_t)layer->height * (size_t)layer->width;
    /* acc[image, head, N_l, T] += probs[N_l, :T] */
    float *a = h->acc + h->acc_off[l] + (image * (size_t)layer->heads + head) * nl * T;
    for (size_t i = 0; i < nl; i++) {
        const float *row = probs + i * run_tokens;
        float *dst = a + i * T;
        for (size_t t = 0; t < T; t++) dst[t] += row[t];
    }
}

void bilinear_resize_add(float *out, size_t oh, size_t ow, const float *in, size_t ih, size_t iw,
                         float scale) {
    float ry = (float)ih / (float)oh, rx = (float)iw / (float)ow;
    for (size_t oy = 0; oy < oh; oy++) {
        float sy = ((float)oy + 0.5f) * ry - 0.5f;
        if (sy < 0) sy = 0;
        size_t y0 = (size_t)sy < ih - 1 ? (size_t)sy : ih - 1, y1 = y0 + 1 < ih ? y0 + 1 : ih - 1;
        float fy = sy - (float)y0;
        for (size_t ox = 0; ox < ow; ox++) {
            float sx = ((float)ox + 0.5f) * rx - 0.5f;
            if (sx < 0) sx = 0;
            size_t x0 = (size_t)sx < iw - 1 ? (size_t)sx : iw - 1, x1 = x0 + 1 < iw ? x0 + 1 : iw - 1;
            float fx = sx - (float)x0;
            float top = (1 - fx) * in[y0 * iw + x0] + fx * in[y0 * iw + x1];
            float bottom = (1 - fx) * in[y1 * iw + x0] + fx * in[y1 * iw + x1];
            out[oy * ow + ox] += scale * ((1 - fy) * top + fy * bottom);
        }
    }
}

/* words[n_words, HW] = the mean of each word's token maps tok[T, HW] */
static void merge_words(float *words, const float *tok, const xattn_word *w, size_t n_words,
                        size_t hw) {
    for (size_t k = 0; k < n_words; k++) {
        float *dst = words + k * hw, inv = 1.0f / (float)w[k].n_tokens;
        memset(dst, 0, hw * sizeof(float));
        for (size_t t = w[k].first_token; t < w[k].first_token + w[k].n_tokens; t++)
            for (size_t i = 0; i < hw; i++) dst[i] += tok[t * hw + i];
        for (size_t i = 0; i < hw; i++) dst[i] *= inv;
    }
}

void heatmaps_end_step(xattn_heatmaps *h, int step) {
    if (step < h->step_begin || step >= h->step_end || !h->acc) return;
    size_t T = h->n_tokens, H = h->height, W = h->width, hw = H * W;
    float inv_pairs = 1.0f / (float)h->n_pairs;
    for (size_t b = 0; b < h->images; b++) {
        memset(h->step_tok, 0, T * hw * sizeof(float));
        for (size_t l = 0; l < h->n_layers; l++) {
            const xattn_attention_layer *L = &h->layers[l];
            size_t heads = (size_t)L->heads, lh = (size_t)L->height, lw = (size_t)L->width;
            size_t nl = lh * lw;
            const float *a = h->acc + h->acc_off[l] + b * heads * nl * T; /* [heads, N_l, T] */
            for (size_t t = 0; t < T; t++) {
                /* layer_sum[N_l] = sum over the selected heads of P[:, t] */
                memset(h->layer_sum, 0, nl * sizeof(float));
                for (size_t hd = 0; hd < heads; hd++) {
                    if (!head_selected(h, hd)) continue;
                    const float *ah = a + hd * nl * T;
                    for (size_t i = 0; i < nl; i++) h->layer_sum[i] += ah[i * T + t];
                }
                bilinear_resize_add(h->step_tok + t * hw, H, W, h->layer_sum, lh, lw, inv_pairs);
            }
        }
        float *tok = h->token_maps + b * T * hw;
        for (size_t i = 0; i < T * hw; i++) tok[i] += h->step_tok[i];
        if (h->step_maps) {
            size_t kept = (size_t)(h->step_end - h->step_begin), k = (size_t)(step - h->step_begin);
            float *dst = h->step_maps + ((b * kept) + k) * h->n_words * hw;
            merge_words(dst, h->step_tok, h->words, h->n_words, hw);
        }
    }
    memset(h->acc, 0, h->acc_len * sizeof(float)); /* for the next step */
}

void heatmaps_finish(xattn_heatmaps *h) {
    size_t hw = h->height * h->width;
    for (size_t b = 0; b < h->images; b++)
        merge_words(h->word_maps + b * h->n_words * hw, h->token_maps + b * h->n_tokens * hw,
                    h->words, h->n_words, hw);
}

/* ---------------------------------------------------------------------------------------- */
/* reading */

void xattn_heatmaps_get_info(const xattn_heatmaps *h, xattn_heatmaps_info *info) {
    memset(info, 0, sizeof *info);
    info->images = h->images;
    info->height = h->height, info->width = h->width;
    info->n_words = h->n_words, info->n_tokens = h->n_tokens;
    info->n_layers = h->n_layers, info->n_pairs = h->n_pairs;
    info->layers = h->params.layers, info->heads = h->params.heads;
    info->step_begin = h->images ? h->step_begin : h->params.step_begin;
    info->step_end = h->images ? h->step_end : h->params.step_end;
}

const xattn_word *xattn_heatmaps_words(const xattn_heatmaps *h) { return h->words; }
const xattn_attention_layer *xattn_heatmaps_layers(const xattn_heatmaps *h) { return h->layers; }
const char *heatmaps_prompt_text(const xattn_heatmaps *h) { return h->text; }
const char *const *heatmaps_tokens(const xattn_heatmaps *h) { return (const char *const *)h->tokens; }

const float *xattn_heatmaps_word_maps(const xattn_heatmaps *h, size_t image) {
    return image < h->images ? h->word_maps + image * h->n_words * h->height * h->width : NULL;
}

const float *xattn_heatmaps_token_maps(const xattn_heatmaps *h, size_t image) {
    return image < h->images ? h->token_maps + image * h->n_tokens * h->height * h->width : NULL;
}

const float *xattn_heatmaps_step_maps(const xattn_heatmaps *h, size_t image, int step) {
    if (!h->step_maps || image >= h->images || step < h->step_begin || step >= h->step_end)
        return NULL;
    size_t kept = (size_t)(h->step_end - h->step_begin), k = (size_t)(step - h->step_begin);
    return h->step_maps + (image * kept + k) * h->n_words * h->height * h->width;
}
