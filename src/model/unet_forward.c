/* unet_forward.c — UNet2DConditionModel's forward pass, planned once per (model, batch, T).
 *
 * Activations are NCHW [B, C, H, W]; inside a Transformer2D the pixels are tokens [B, HW, C].
 * All scratch lives in one block sized by run_plan(); nothing is allocated during a forward.
 *
 * Threads: when the batch has at least as many rows as there are threads (classifier-free
 * guidance alone makes two rows of one image), the batch is cut into lanes, one per thread,
 * and each lane runs the whole forward on its rows with single-threaded kernels, so no thread
 * waits for another between the U-Net's hundreds of small products, and a row's numbers do not
 * depend on the thread count. Otherwise one lane holds the whole batch and every kernel splits
 * its own work across the threads. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "ops/ops.h"
#include "util/error.h"

#define MAX_SKIPS (1 + UNET_MAX_BLOCKS * 65)

/* One lane: batch rows [b0, b0 + batch) and the scratch they run in (batch-contiguous over the
 * lane's own rows). */
typedef struct unet_lane {
    const struct xattn_unet_run *run;
    size_t b0, batch;
    size_t slots;                /* attention probs slots: the threads its kernels may use */
    float *x, *y;                /* [B, A] current activation and the next one */
    float *t1, *t2;              /* [B, A] scratch */
    float *col;                  /* [COL] one conv's im2col or Winograd scratch */
    float *tok, *nrm, *q, *k, *v, *att; /* [B, N*C] pixel tokens (N*C <= TOKC) */
    float *kv_cache;             /* [layers][2][B, T, Cmax] every cross-attention's K and V */
    float *text_seen;            /* [B, T, D] the text they were made from */
    int kv_valid;                /* kv_cache holds text_seen's keys and values */
    int kv_reuse;                /* this forward reads them (its text is text_seen) */
    float *ffh;                  /* [B, N, 8C] GEGLU projection */
    float *ffg;                  /* [B, N, 4C] GEGLU output */
    float *probs;                /* [slots, PROBS] one head's attention scratch per thread */
    float *tproj;                /* [B, C0] sinusoidal embedding */
    float *temb, *temb_act;      /* [B, time_embed_dim] embedding and silu(embedding) */
    float *tres;                 /* [B, Cmax] one resnet's time projection */
    float *key_bias;             /* [B, T] (1 - mask) * -10000 */
    float *skips[MAX_SKIPS];     /* the down path's outputs, [B, C_i, H_i, W_i] each */
    size_t n_skips;
    const float *token_scale;    /* [B, T] this lane's rows of the run's, or NULL */
    size_t cur_layer;            /* the cross-attention layer running (counted during a forward) */
    double flops;                /* of the last forward: matrix products, 2 per multiply-add */
} unet_lane;

typedef struct run_sizes {
    size_t act;    /* A: floats per image of the largest activation */
    size_t col;
    size_t tokc;   /* largest N*C inside an attention block */
    size_t probs;
    size_t cmax;
    size_t kv_cache; /* floats per image: 2 T Cmax per cross-attention layer */
    size_t text;     /* T D */
    size_t skips[MAX_SKIPS];
    size_t n_skips;
} run_sizes;

struct xattn_unet_run {
    const unet_w *u;
    size_t batch, n_tokens;
    run_sizes sizes;
    float *mem;                  /* the one block every lane's scratch points into */
    size_t threads;              /* omp_get_max_threads() when planned */
    unet_lane *lanes;            /* [n_split] */
    size_t n_lanes;              /* in use: 1 while an observer is set, else n_split */
    size_t n_split;              /* threads when batch >= threads > 1, else 1 */
    xattn_unet_observer observer;
    void *observer_user;
    xattn_attention_layer *layers; /* [n_layers] the cross-attention layers, forward order */
    size_t n_layers;
    xattn_attention_fn attention_fn;
    void *attention_user;
    const float *token_scale;    /* [B, T] or NULL (borrowed) */
};

/* ---------------------------------------------------------------------------------------- */
/* the cross-attention layers, in the order xattn_unet_forward runs them */

/* Appends the attn2 of every BasicTransformerBlock of t at grid side `side`. */
static void list_transformer(const transformer2d_w *t, xattn_layer_place place, size_t block,
                             size_t attention, size_t side, xattn_attention_layer *out, size_t cap,
                             size_t *n) {
    static const char *const prefix[] = {"down_blocks.%zu", "mid_block", "up_blocks.%zu"};
    for (size_t k = 0; k < t->n_blocks; k++, (*n)++) {
        if (*n >= cap) continue;
        xattn_attention_layer *l = &out[*n];
        memset(l, 0, sizeof *l);
        l->index = (int)*n;
        l->place = place;
        l->block = (int)block;
        l->attention = (int)attention;
        l->transformer_block = (int)k;
        l->height = l->width = (int)side;
        l->heads = (int)t->blocks[k].attn2.heads;
        char head[32];
        snprintf(head, sizeof head, prefix[place], block);
        snprintf(l->name, sizeof l->name, "%s.attentions.%zu.transformer_blocks.%zu.attn2", head,
                 attention, k);
    }
}

static size_t unet_attention_layers(const unet_w *u, xattn_attention_layer *out, size_t cap) {
    const unet_config *c = &u->cfg;
    size_t n = 0, side = c->sample_size;
    for (size_t i = 0; i < c->n_blocks; i++) {
        const unet_block_w *blk = &u->down[i];
        for (size_t j = 0; blk->attentions && j < blk->n_layers; j++)
            list_transformer(&blk->attentions[j], XATTN_PLACE_DOWN, i, j, side, out, cap, &n);
        if (blk->downsample.weight) side /= 2;
    }
    if (c->has_mid_block)
        list_transformer(&u->mid.attentions[0], XATTN_PLACE_MID, 0, 0, side, out, cap, &n);
    for (size_t i = 0; i < c->n_blocks; i++) {
        const unet_block_w *blk = &u->up[i];
        for (size_t j = 0; blk->attentions && j < blk->n_layers; j++)
            list_transformer(&blk->attentions[j], XATTN_PLACE_UP, i, j, side, out, cap, &n);
        if (blk->upsample.weight) side *= 2;
    }
    return n;
}

size_t xattn_model_attention_layers(const xattn_model *m, xattn_attention_layer *out, size_t cap) {
    return unet_attention_layers(&m->unet, out, out ? cap : 0);
}

/* ---------------------------------------------------------------------------------------- */
/* planning */

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static void run_plan(const unet_config *c, size_t n_tokens, size_t n_layers, run_sizes *s) {
    memset(s, 0, sizeof *s);
    size_t n = c->n_blocks, kmax = max_sz(3, max_sz(c->conv_in_kernel, c->conv_out_kernel));
    for (size_t i = 0; i < n; i++) {
        size_t side = c->sample_size >> i, hw = side * side, boc = c->block_out_channels[i];
        size_t lo = c->block_out_channels[i > 0 ? i - 1 : 0];
        size_t hi = c->block_out_channels[i + 1 < n ? i + 1 : i];
        size_t cb = boc + max_sz(max_sz(lo, hi), boc); /* an up resnet's concatenated input */
        if (i == 0) cb = max_sz(cb, max_sz(c->in_channels, c->out_channels));
        s->act = max_sz(s->act, cb * hw);
        s->col = max_sz(s->col, cb * kmax * kmax * hw); /* im2col, or Winograd's V and M */
        s->col = max_sz(s->col, winograd_scratch_floats(cb, cb, side, side));
        s->col = max_sz(s->col, winograd4_scratch_floats(cb, cb, side, side));
        s->cmax = max_sz(s->cmax, boc);
        int attn = c->down_has_attention[i] || c->up_has_attention[n - 1 - i] ||
                   (c->has_mid_block && i == n - 1);
        if (attn) {
            s->tokc = max_sz(s->tokc, hw * boc);
            s->probs = max_sz(s->probs, attention_scratch_floats(hw, max_sz(hw, n_tokens), boc));
        }
    }
    s->kv_cache = n_layers * 2 * n_tokens * s->cmax;
    s->text = n_tokens * c->cross_attention_dim;
    /* the skip connections: conv_in, then every resnet(+attention) and downsampler output */
    s->skips[s->n_skips++] = c->block_out_channels[0] * c->sample_size * c->sample_size;
    for (size_t i = 0; i < n; i++) {
        size_t side = c->sample_size >> i;
        for (size_t j = 0; j < c->layers_per_block[i]; j++)
            s->skips[s->n_skips++] = c->block_out_channels[i] * side * side;
        if (i + 1 < n) s->skips[s->n_skips++] = c->block_out_channels[i] * (side / 2) * (side / 2);
    }
}

/* Points l's scratch for b images and `slots` probs slots into mem (NULL: only counts);
 * returns the floats it takes. */
static size_t lane_carve(unet_lane *l, float *mem, const run_sizes *s, const unet_config *c,
                         size_t b, size_t n_tokens, size_t slots) {
    size_t ted = c->time_embed_dim, c0 = c->block_out_channels[0], T = n_tokens;
    size_t sizes[] = {
        b * s->act, b * s->act, b * s->act, b * s->act,             /* x y t1 t2 */
        s->col,                                                     /* col */
        b * s->tokc, b * s->tokc, b * s->tokc, b * s->tokc, b * s->tokc, b * s->tokc,
        b * 8 * s->tokc, b * 4 * s->tokc,                           /* ffh ffg */
        slots * s->probs, b * c0, b * ted, b * ted, b * s->cmax, b * T,
        b * s->kv_cache, b * s->text,                               /* kv_cache text_seen */
    };
    float **at[] = {&l->x, &l->y, &l->t1, &l->t2, &l->col, &l->tok, &l->nrm, &l->q, &l->k,
                    &l->v, &l->att, &l->ffh, &l->ffg, &l->probs, &l->tproj,
                    &l->temb, &l->temb_act, &l->tres, &l->key_bias, &l->kv_cache, &l->text_seen};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        if (mem) *at[i] = mem + total;
        total += sizes[i];
    }
    l->n_skips = s->n_skips;
    for (size_t i = 0; i < s->n_skips; i++) {
        if (mem) l->skips[i] = mem + total;
        total += b * s->skips[i];
    }
    l->slots = slots;
    l->kv_valid = 0; /* newly carved: nothing cached */
    return total;
}

/* Cuts the batch into n lanes over the run's block (n = 1 or r->n_split). */
static size_t use_lanes(xattn_unet_run *r, size_t n, int count_only) {
    const unet_config *c = &r->u->cfg;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        unet_lane *l = &r->lanes[i];
        size_t b0 = r->batch * i / n, b1 = r->batch * (i + 1) / n;
        total += lane_carve(l, count_only ? NULL : r->mem + total, &r->sizes, c, b1 - b0,
                            r->n_tokens, n == 1 ? r->threads : 1);
        l->run = r, l->b0 = b0, l->batch = b1 - b0;
    }
    if (!count_only) r->n_lanes = n;
    return total;
}

xattn_status xattn_unet_run_new(const xattn_model *m, size_t batch, size_t n_tokens,
                                xattn_unet_run **out, xattn_error *err) {
    *out = NULL;
    const unet_w *u = &m->unet;
    if (batch < 1 || batch > 1024 || n_tokens < 1 || n_tokens > 1u << 16)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: batch %zu or token count %zu out of range",
                          m->dir, batch, n_tokens);
    openblas_set_num_threads(1); /* the kernels thread themselves: see xattn_set_threads */
    size_t threads = (size_t)omp_get_max_threads();
    size_t n_split = threads > 1 && batch >= threads ? threads : 1;
    size_t n_layers = unet_attention_layers(u, NULL, 0);
    xattn_unet_run *r = calloc(1, sizeof *r);
    unet_lane *lanes = calloc(n_split, sizeof *lanes);
    xattn_attention_layer *layers = malloc((n_layers ? n_layers : 1) * sizeof *layers);
    size_t total = 0;
    if (r && lanes) {
        r->u = u, r->batch = batch, r->n_tokens = n_tokens, r->threads = threads;
        r->lanes = lanes, r->n_split = n_split;
        run_plan(&u->cfg, n_tokens, n_layers, &r->sizes);
        total = max_sz(use_lanes(r, 1, 1), use_lanes(r, n_split, 1)); /* both layouts fit */
        r->mem = malloc(total * sizeof(float));
    }
    if (!r || !lanes || !layers || !r->mem) {
        free(layers);
        free(lanes);
        if (r) free(r->mem);
        free(r);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory planning %zu floats of scratch",
                          m->dir, total);
    }
    r->layers = layers;
    r->n_layers = unet_attention_layers(u, layers, n_layers);
    use_lanes(r, n_split, 0);
    *out = r;
    return XATTN_OK;
}

void xattn_unet_run_free(xattn_unet_run *r) {
    if (!r) return;
    free(r->layers);
    free(r->lanes);
    free(r->mem);
    free(r);
}

/* The observer sees whole batches, so while one is set the batch runs as one lane. */
void xattn_unet_set_observer(xattn_unet_run *r, xattn_unet_observer fn, void *user) {
    r->observer = fn;
    r->observer_user = user;
    use_lanes(r, fn ? 1 : r->n_split, 0);
}

void xattn_unet_set_attention_fn(xattn_unet_run *r, xattn_attention_fn fn, void *user) {
    r->attention_fn = fn;
    r->attention_user = user;
}

void xattn_unet_set_token_scale(xattn_unet_run *r, const float *scale) { r->token_scale = scale; }

/* attention_forward's probs_fn for the running cross-attention layer: P [N, T] of one
 * (lane row, head) to the caller's xattn_attention_fn */
static void cross_attention_probs(const float *probs, size_t image, size_t head, size_t n,
                                  size_t m, void *user) {
    (void)n;
    const unet_lane *l = user;
    const xattn_unet_run *r = l->run;
    r->attention_fn(&r->layers[l->cur_layer], -1, (int)(l->b0 + image), (int)head, probs, m,
                    r->attention_user);
}

static void observe(const unet_lane *l, const char *name, const float *data, size_t c,
                    size_t h, size_t w) {
    const xattn_unet_run *r = l->run;
    if (!r->observer) return;
    size_t shape[4] = {l->batch, c, h, w};
    r->observer(name, data, shape, r->observer_user);
}

/* ---------------------------------------------------------------------------------------- */
/* the parts: kernels called through these count the forward's multiply-adds (2 FLOPs each) */

/* out[N, OUT] = in[N, IN] @ W^T + b */
static void run_linear(unet_lane *l, float *out, const float *in, const linear_w *lw, size_t n) {
    linear_forward_t(out, in, lw->weight_t, lw->bias, n, lw->in, lw->out);
    l->flops += 2.0 * (double)(n * lw->in * lw->out);
}

/* out[OUT, HW] = W[OUT, IN] @ in[IN, HW] + b: a Linear applied as a 1x1 conv on one image */
static void run_linear_chw(unet_lane *l, float *out, const float *in, const linear_w *lw,
                           size_t hw) {
    conv2d_forward(out, NULL, in, lw->weight, lw->bias, lw->in, hw, 1, lw->out, 1, 1, 0);
    l->flops += 2.0 * (double)(hw * lw->in * lw->out);
}

/* Whether a conv runs by Winograd: 3x3 stride 1, on grids of 8x8 and up (measured faster than
 * im2col from there, by 1.1-1.8x; on 4x4 its 16 products are too small to pay). From 16x16 up
 * by F(4x4, 3x3): 1.16-1.48x faster than F(2x2, 3x3) there, 0.63-0.92x at 8x8 (one core, the
 * shapes32 model's convs). */
#define WINO4_MIN_HW 256
static int use_winograd(const conv2d_w *cv, size_t h, size_t w, size_t stride) {
    return cv->wino && stride == 1 && h * w >= 64 && w <= 2 * WINOGRAD_MAX_TX;
}

/* out[OC, OH, OW] = conv(in[IC, H, W]) for one image, padding k / 2 */
static void run_conv(unet_lane *l, float *out, const float *in, const conv2d_w *cv, size_t h,
                     size_t w, size_t stride) {
    size_t pad = cv->k / 2;
    if (use_winograd(cv, h, w, stride) && h * w >= WINO4_MIN_HW)
        conv2d_winograd4(out, l->col, in, cv->wino4, cv->bias, cv->ic, h, w, cv->oc);
    else if (use_winograd(cv, h, w, stride))
        conv2d_winograd(out, l->col, in, cv->wino, cv->bias, cv->ic, h, w, cv->oc);
    else
        conv2d_forward(out, l->col, in, cv->weight, cv->bias, cv->ic, h, w, cv->oc, cv->k, stride,
                       pad);
    size_t ohw = conv2d_out_size(h, cv->k, stride, pad) * conv2d_out_size(w, cv->k, stride, pad);
    l->flops += 2.0 * (double)(ohw * cv->oc * cv->ic * cv->k * cv->k);
}

/* out[B, OC, H, W] = ResnetBlock2D(in[B, IC, H, W], silu(temb)) */
static void resnet_forward(unet_lane *l, const resnet_w *rn, float *out, const float *in,
                           size_t h, size_t w) {
    const unet_config *c = &l->run->u->cfg;
    size_t ic = rn->conv1.ic, oc = rn->conv1.oc, hw = h * w, g = c->norm_num_groups;
    /* tres[B, OC] = time_emb_proj(silu(temb)) */
    run_linear(l, l->tres, l->temb_act, &rn->time_emb_proj, l->batch);
    for (size_t b = 0; b < l->batch; b++) {
        const float *xb = in + b * ic * hw;
        float *ob = out + b * oc * hw;
        group_norm_silu_forward(l->t1, xb, rn->norm1.gamma, rn->norm1.beta, ic, hw, g, c->norm_eps);
        run_conv(l, l->t2, l->t1, &rn->conv1, h, w, 1);
        for (size_t o = 0; o < oc; o++) {
            float t = l->tres[b * oc + o];
            for (size_t i = 0; i < hw; i++) l->t2[o * hw + i] += t;
        }
        group_norm_silu_forward(l->t1, l->t2, rn->norm2.gamma, rn->norm2.beta, oc, hw, g, c->norm_eps);
        run_conv(l, l->t2, l->t1, &rn->conv2, h, w, 1);
        if (rn->conv_shortcut.weight)
            run_conv(l, ob, xb, &rn->conv_shortcut, h, w, 1);
        else
            memcpy(ob, xb, oc * hw * sizeof(float));
        float inv = 1.0f / rn->output_scale_factor;
        for (size_t i = 0; i < oc * hw; i++) ob[i] = (ob[i] + l->t2[i]) * inv;
    }
}

/* Self-attention, diffusers' attn1: every pixel token attends to every pixel token.
 * tok[B*N, C] += to_out(softmax(Q K^T / sqrt(dh)) V), with Q, K, V all from norm1(tok). */
static void self_attention(unet_lane *l, const attention_w *a, const norm_w *norm, size_t n,
                           size_t c) {
    size_t bn = l->batch * n;
    layer_norm_forward(l->nrm, l->tok, norm->gamma, norm->beta, bn, c, 1e-5f); /* [B*N, C] */
    run_linear(l, l->q, l->nrm, &a->to_q, bn);                                  /* Q [B*N, C] */
    run_linear(l, l->k, l->nrm, &a->to_k, bn);                                  /* K [B*N, C] */
    run_linear(l, l->v, l->nrm, &a->to_v, bn);                                  /* V [B*N, C] */
    l->flops += 4.0 * (double)(bn * n * a->to_q.out);                           /* QK^T, PV */
    /* att[B*N, C] = softmax(Q K^T / sqrt(dh)) V, head by head */
    attention_forward_scaled(l->att, l->probs, l->q, l->k, l->v, NULL, NULL, l->batch, n, n,
                             a->heads, a->head_dim, NULL, l);
    run_linear(l, l->t1, l->att, &a->to_out, bn); /* the output projection */
    add_inplace(l->tok, l->t1, bn * c);           /* the residual */
}

/* Cross-attention, diffusers' attn2: Q from the pixels, K and V from the text.
 * tok[B*N, C] += to_out(P V) with P = softmax(Q K^T / sqrt(dh) + mask) * word scale [B, N, T],
 * Q = to_q(norm2(tok)) [B*N, C], K = to_k(text), V = to_v(text) [B*T, C]. P is what the
 * heatmaps see (cross_attention_probs). */
static void cross_attention(unet_lane *l, const attention_w *a, const norm_w *norm, size_t n,
                            size_t c, const float *text) {
    const xattn_unet_run *r = l->run;
    size_t bn = l->batch * n, T = r->n_tokens;
    layer_norm_forward(l->nrm, l->tok, norm->gamma, norm->beta, bn, c, 1e-5f); /* [B*N, C] */
    run_linear(l, l->q, l->nrm, &a->to_q, bn); /* Q [B*N, C], from the pixels */
    /* K, V [B*T, C], from the text: the same at every step, so made once per text, then reused */
    size_t kv_n = l->batch * T * r->sizes.cmax;
    float *k = l->kv_cache + l->cur_layer * 2 * kv_n, *v = k + kv_n;
    if (!l->kv_reuse) {
        run_linear(l, k, text, &a->to_k, l->batch * T);
        run_linear(l, v, text, &a->to_v, l->batch * T);
    }
    l->flops += 4.0 * (double)(bn * T * a->to_q.out); /* QK^T, PV */
    /* att[B*N, C] = P V, head by head; padding tokens get no attention (key_bias -inf), and
     * --reweight scales a word's column of P (token_scale) */
    attention_forward_scaled(l->att, l->probs, l->q, k, v, l->key_bias, l->token_scale, l->batch,
                             n, T, a->heads, a->head_dim,
                             r->attention_fn ? cross_attention_probs : NULL, l);
    l->cur_layer++;
    run_linear(l, l->t1, l->att, &a->to_out, bn); /* the output projection */
    add_inplace(l->tok, l->t1, bn * c);           /* the residual */
}

/* x[B, C, H, W] += Transformer2DModel(x, text[B, T, D]) - x, in place */
static void transformer_forward(unet_lane *l, const transformer2d_w *t, float *x, size_t h,
                                size_t w, const float *text) {
    const xattn_unet_run *r = l->run;
    const unet_config *cfg = &r->u->cfg;
    size_t c = t->channels, n = h * w, bn = l->batch * n;
    int linear = cfg->use_linear_projection;
    for (size_t b = 0; b < l->batch; b++) {
        float *t1b = l->t1 + b * c * n, *t2b = l->t2 + b * c * n;
        group_norm_forward(t1b, x + b * c * n, t->norm.gamma, t->norm.beta, c, n,
                           cfg->norm_num_groups, 1e-6f);
        if (linear) {
            chw_to_tokens(t2b, t1b, c, n);
        } else { /* 1x1 conv, then tokens */
            run_linear_chw(l, t2b, t1b, &t->proj_in, n);
            chw_to_tokens(l->tok + b * n * c, t2b, c, n);
        }
    }
    if (linear) run_linear(l, l->tok, l->t2, &t->proj_in, bn);

    for (size_t i = 0; i < t->n_blocks; i++) {
        const transformer_block_w *tb = &t->blocks[i];
        self_attention(l, &tb->attn1, &tb->norm1, n, c);
        cross_attention(l, &tb->attn2, &tb->norm2, n, c, text);
        /* GEGLU feed-forward */
        layer_norm_forward(l->nrm, l->tok, tb->norm3.gamma, tb->norm3.beta, bn, c, 1e-5f);
        run_linear(l, l->ffh, l->nrm, &tb->ff_proj, bn);
        geglu_forward(l->ffg, l->ffh, bn, 4 * c);
        run_linear(l, l->t1, l->ffg, &tb->ff_out, bn);
        add_inplace(l->tok, l->t1, bn * c);
    }

    if (linear) run_linear(l, l->nrm, l->tok, &t->proj_out, bn);
    for (size_t b = 0; b < l->batch; b++) {
        float *t1b = l->t1 + b * c * n, *t2b = l->t2 + b * c * n, *xb = x + b * c * n;
        if (linear) {
            tokens_to_chw(t2b, l->nrm + b * n * c, c, n);
        } else {
            tokens_to_chw(t1b, l->tok + b * n * c, c, n);
            run_linear_chw(l, t2b, t1b, &t->proj_out, n);
        }
        add_inplace(xb, t2b, c * n);
    }
}

/* out[B, OC, H', W'] = conv(in[B, IC, H, W]) image by image */
static void conv_batch(unet_lane *l, const conv2d_w *cv, float *out, const float *in, size_t h,
                       size_t w, size_t stride) {
    size_t oh = conv2d_out_size(h, cv->k, stride, cv->k / 2);
    size_t ow = conv2d_out_size(w, cv->k, stride, cv->k / 2);
    for (size_t b = 0; b < l->batch; b++)
        run_conv(l, out + b * cv->oc * oh * ow, in + b * cv->ic * h * w, cv, h, w, stride);
}

#define SWAP(a, b) do { float *tmp_ = (a); (a) = (b); (b) = tmp_; } while (0)

/* The forward of one lane: its rows of sample[B, Cin, S, S], text[B, T, D] and mask[B, T] in,
 * its rows of noise_pred[B, Cout, S, S] out (the pointers are already at the lane's rows). */
static void lane_forward(unet_lane *l, const float *sample, float timestep, const float *text,
                         const float *mask, float *noise_pred) {
    const xattn_unet_run *r = l->run;
    const unet_w *u = r->u;
    const unet_config *c = &u->cfg;
    size_t B = l->batch, T = r->n_tokens, n = c->n_blocks, side = c->sample_size;
    size_t c0 = c->block_out_channels[0], ted = c->time_embed_dim;
    float *x = l->x, *y = l->y;
    char name[96]; /* "down_blocks.I.attentions.J": room for two 20-digit indices */
    l->flops = 0.0;
    l->cur_layer = 0;
    l->token_scale = r->token_scale ? r->token_scale + l->b0 * T : NULL;
    /* time: [B, C0] sinusoids -> linear_1 -> silu -> linear_2 -> [B, ted] */
    for (size_t b = 0; b < B; b++)
        timestep_embedding(l->tproj + b * c0, timestep, c0, c->flip_sin_to_cos, c->freq_shift);
    observe(l, "time_proj", l->tproj, c0, 1, 1);
    run_linear(l, l->temb_act, l->tproj, &u->time_linear_1, B);
    silu_inplace(l->temb_act, B * ted);
    run_linear(l, l->temb, l->temb_act, &u->time_linear_2, B);
    observe(l, "time_embedding", l->temb, ted, 1, 1);
    memcpy(l->temb_act, l->temb, B * ted * sizeof(float));
    silu_inplace(l->temb_act, B * ted);

    size_t text_n = B * T * c->cross_attention_dim;
    l->kv_reuse = l->kv_valid && memcmp(l->text_seen, text, text_n * sizeof(float)) == 0;
    if (!l->kv_reuse) memcpy(l->text_seen, text, text_n * sizeof(float));
    l->kv_valid = 1; /* by the end of this forward */

    for (size_t i = 0; i < B * T; i++) l->key_bias[i] = mask ? (1.0f - mask[i]) * -10000.0f : 0.0f;

    size_t in_n = B * c->in_channels * side * side;
    for (size_t i = 0; i < in_n; i++) y[i] = c->center_input_sample ? 2.0f * sample[i] - 1.0f : sample[i];
    conv_batch(l, &u->conv_in, x, y, side, side, 1);
    observe(l, "conv_in", x, c0, side, side);

    /* down path: every output is kept for the skip connections */
    size_t n_skip = 0, ch = c0;
    memcpy(l->skips[n_skip++], x, B * ch * side * side * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        const unet_block_w *blk = &u->down[i];
        for (size_t j = 0; j < blk->n_layers; j++) {
            resnet_forward(l, &blk->resnets[j], y, x, side, side);
            SWAP(x, y);
            ch = blk->out_channels;
            snprintf(name, sizeof name, "down_blocks.%zu.resnets.%zu", i, j);
            observe(l, name, x, ch, side, side);
            if (blk->attentions) {
                transformer_forward(l, &blk->attentions[j], x, side, side, text);
                snprintf(name, sizeof name, "down_blocks.%zu.attentions.%zu", i, j);
                observe(l, name, x, ch, side, side);
            }
            memcpy(l->skips[n_skip++], x, B * ch * side * side * sizeof(float));
        }
        if (blk->downsample.weight) {
            conv_batch(l, &blk->downsample, y, x, side, side, 2);
            SWAP(x, y);
            side /= 2;
            snprintf(name, sizeof name, "down_blocks.%zu.downsamplers.0", i);
            observe(l, name, x, ch, side, side);
            memcpy(l->skips[n_skip++], x, B * ch * side * side * sizeof(float));
        }
        snprintf(name, sizeof name, "down_blocks.%zu", i);
        observe(l, name, x, ch, side, side);
    }

    if (c->has_mid_block) {
        resnet_forward(l, &u->mid.resnets[0], y, x, side, side);
        SWAP(x, y);
        observe(l, "mid_block.resnets.0", x, ch, side, side);
        transformer_forward(l, &u->mid.attentions[0], x, side, side, text);
        observe(l, "mid_block.attentions.0", x, ch, side, side);
        resnet_forward(l, &u->mid.resnets[1], y, x, side, side);
        SWAP(x, y);
        observe(l, "mid_block.resnets.1", x, ch, side, side);
        observe(l, "mid_block", x, ch, side, side);
    }

    /* up path: concatenate the newest skip, resnet, attention */
    for (size_t i = 0; i < n; i++) {
        const unet_block_w *blk = &u->up[i];
        for (size_t j = 0; j < blk->n_layers; j++) {
            const float *skip = l->skips[--n_skip];
            size_t hw = side * side, sc = blk->resnets[j].conv1.ic - ch;
            for (size_t b = 0; b < B; b++) {
                memcpy(y + b * (ch + sc) * hw, x + b * ch * hw, ch * hw * sizeof(float));
                memcpy(y + (b * (ch + sc) + ch) * hw, skip + b * sc * hw, sc * hw * sizeof(float));
            }
            SWAP(x, y);
            resnet_forward(l, &blk->resnets[j], y, x, side, side);
            SWAP(x, y);
            ch = blk->out_channels;
            snprintf(name, sizeof name, "up_blocks.%zu.resnets.%zu", i, j);
            observe(l, name, x, ch, side, side);
            if (blk->attentions) {
                transformer_forward(l, &blk->attentions[j], x, side, side, text);
                snprintf(name, sizeof name, "up_blocks.%zu.attentions.%zu", i, j);
                observe(l, name, x, ch, side, side);
            }
        }
        if (blk->upsample.weight) {
            for (size_t b = 0; b < B; b++)
                upsample_nearest2x(l->t1 + b * ch * 4 * side * side, x + b * ch * side * side, ch,
                                   side, side);
            side *= 2;
            conv_batch(l, &blk->upsample, x, l->t1, side, side, 1);
            snprintf(name, sizeof name, "up_blocks.%zu.upsamplers.0", i);
            observe(l, name, x, ch, side, side);
        }
        snprintf(name, sizeof name, "up_blocks.%zu", i);
        observe(l, name, x, ch, side, side);
    }

    /* out: GroupNorm -> SiLU -> conv_out */
    size_t hw = side * side;
    for (size_t b = 0; b < B; b++)
        group_norm_silu_forward(y + b * ch * hw, x + b * ch * hw, u->conv_norm_out.gamma,
                                u->conv_norm_out.beta, ch, hw, c->norm_num_groups, c->norm_eps);
    conv_batch(l, &u->conv_out, noise_pred, y, side, side, 1);
    observe(l, "noise_pred", noise_pred, c->out_channels, side, side);
}


xattn_status xattn_unet_forward(xattn_unet_run *r, const float *sample, float timestep,
                                const float *text, const float *mask, float *noise_pred,
                                xattn_error *err) {
    (void)err;
    const unet_config *c = &r->u->cfg;
    size_t T = r->n_tokens, hw = c->sample_size * c->sample_size;
    size_t in_img = c->in_channels * hw, out_img = c->out_channels * hw;
    size_t D = c->cross_attention_dim;
    if (r->n_lanes == 1) {
        /* the kernels' threads; never more than the probs slots planned */
        int threads = omp_get_max_threads();
        if ((size_t)threads > r->threads) omp_set_num_threads((int)r->threads);
        lane_forward(&r->lanes[0], sample, timestep, text, mask, noise_pred);
        omp_set_num_threads(threads);
        return XATTN_OK;
    }
#pragma omp parallel for num_threads((int)r->n_lanes) schedule(static, 1)
    for (size_t i = 0; i < r->n_lanes; i++) {
        unet_lane *l = &r->lanes[i];
        lane_forward(l, sample + l->b0 * in_img, timestep, text + l->b0 * T * D,
                     mask ? mask + l->b0 * T : NULL, noise_pred + l->b0 * out_img);
    }
    return XATTN_OK;
}

double xattn_unet_flops(const xattn_unet_run *r) {
    double flops = 0.0;
    for (size_t i = 0; i < r->n_lanes; i++) flops += r->lanes[i].flops;
    return flops;
}

/* Threads are OpenMP's: the kernels split their work themselves and call a single-threaded
 * BLAS (OpenBLAS's own threads would spin between the many small products of a U-Net). */
void xattn_set_threads(int threads) {
    openblas_set_num_threads(1);
    if (threads > 0) omp_set_num_threads(threads);
}
