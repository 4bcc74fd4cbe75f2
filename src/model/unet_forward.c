/* unet_forward.c — UNet2DConditionModel's forward pass, planned once per (model, batch, T).
 *
 * Activations are NCHW [B, C, H, W]; inside a Transformer2D the pixels are tokens [B, HW, C].
 * All scratch lives in one block sized by run_plan(); nothing is allocated during a forward. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "ops/ops.h"
#include "util/error.h"

#define MAX_SKIPS (1 + UNET_MAX_BLOCKS * 65)

struct xattn_unet_run {
    const unet_w *u;
    size_t batch, n_tokens;
    float *mem;                  /* the one block everything below points into */
    float *x, *y;                /* [B, A] current activation and the next one */
    float *t1, *t2;              /* [B, A] scratch */
    float *col;                  /* [COL] im2col of one image */
    float *tok, *nrm, *q, *k, *v, *att; /* [B, N*C] pixel tokens (N*C <= TOKC) */
    float *kc, *vc;              /* [B, T, C] text keys and values */
    float *ffh;                  /* [B, N, 8C] GEGLU projection */
    float *ffg;                  /* [B, N, 4C] GEGLU output */
    float *probs;                /* [threads, N, max(N, T)] one head's attention per thread */
    float *tproj;                /* [B, C0] sinusoidal embedding */
    float *temb, *temb_act;      /* [B, time_embed_dim] embedding and silu(embedding) */
    float *tres;                 /* [B, Cmax] one resnet's time projection */
    float *key_bias;             /* [B, T] (1 - mask) * -10000 */
    float *skips[MAX_SKIPS];     /* the down path's outputs, [B, C_i, H_i, W_i] each */
    size_t n_skips;
    xattn_unet_observer observer;
    void *observer_user;
    xattn_attention_layer *layers; /* [n_layers] the cross-attention layers, forward order */
    size_t n_layers;
    size_t cur_layer;            /* the one running (layers are counted during a forward) */
    xattn_attention_fn attention_fn;
    void *attention_user;
    const float *token_scale;    /* [B, T] or NULL (borrowed) */
    double flops;                /* of the last forward: matrix products, 2 per multiply-add */
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
        if (blk->sampler.weight) side /= 2;
    }
    if (c->has_mid_block)
        list_transformer(&u->mid.attentions[0], XATTN_PLACE_MID, 0, 0, side, out, cap, &n);
    for (size_t i = 0; i < c->n_blocks; i++) {
        const unet_block_w *blk = &u->up[i];
        for (size_t j = 0; blk->attentions && j < blk->n_layers; j++)
            list_transformer(&blk->attentions[j], XATTN_PLACE_UP, i, j, side, out, cap, &n);
        if (blk->sampler.weight) side *= 2;
    }
    return n;
}

size_t xattn_model_attention_layers(const xattn_model *m, xattn_attention_layer *out, size_t cap) {
    return unet_attention_layers(&m->unet, out, out ? cap : 0);
}

/* ---------------------------------------------------------------------------------------- */
/* planning */

typedef struct run_sizes {
    size_t act;    /* A: floats per image of the largest activation */
    size_t col;
    size_t tokc;   /* largest N*C inside an attention block */
    size_t probs;
    size_t cmax;
    size_t skips[MAX_SKIPS];
    size_t n_skips;
} run_sizes;

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static void run_plan(const unet_config *c, size_t n_tokens, run_sizes *s) {
    memset(s, 0, sizeof *s);
    size_t n = c->n_blocks, kmax = max_sz(3, max_sz(c->conv_in_kernel, c->conv_out_kernel));
    for (size_t i = 0; i < n; i++) {
        size_t side = c->sample_size >> i, hw = side * side, boc = c->block_out_channels[i];
        size_t lo = c->block_out_channels[i > 0 ? i - 1 : 0];
        size_t hi = c->block_out_channels[i + 1 < n ? i + 1 : i];
        size_t cb = boc + max_sz(max_sz(lo, hi), boc); /* an up resnet's concatenated input */
        if (i == 0) cb = max_sz(cb, max_sz(c->in_channels, c->out_channels));
        s->act = max_sz(s->act, cb * hw);
        s->col = max_sz(s->col, cb * kmax * kmax * hw);
        s->cmax = max_sz(s->cmax, boc);
        int attn = c->down_has_attention[i] || c->up_has_attention[n - 1 - i] ||
                   (c->has_mid_block && i == n - 1);
        if (attn) {
            s->tokc = max_sz(s->tokc, hw * boc);
            s->probs = max_sz(s->probs, hw * max_sz(hw, n_tokens));
        }
    }
    /* the skip connections: conv_in, then every resnet(+attention) and downsampler output */
    s->skips[s->n_skips++] = c->block_out_channels[0] * c->sample_size * c->sample_size;
    for (size_t i = 0; i < n; i++) {
        size_t side = c->sample_size >> i;
        for (size_t j = 0; j < c->layers_per_block[i]; j++)
            s->skips[s->n_skips++] = c->block_out_channels[i] * side * side;
        if (i + 1 < n) s->skips[s->n_skips++] = c->block_out_channels[i] * (side / 2) * (side / 2);
    }
}

xattn_status xattn_unet_run_new(const xattn_model *m, size_t batch, size_t n_tokens,
                                xattn_unet_run **out, xattn_error *err) {
    *out = NULL;
    const unet_w *u = &m->unet;
    const unet_config *c = &u->cfg;
    if (batch < 1 || batch > 1024 || n_tokens < 1 || n_tokens > 1u << 16)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: batch %zu or token count %zu out of range",
                          m->dir, batch, n_tokens);
    run_sizes s;
    run_plan(c, n_tokens, &s);
    size_t ted = c->time_embed_dim, c0 = c->block_out_channels[0], b = batch;
    size_t sizes[] = {
        b * s.act, b * s.act, b * s.act, b * s.act,                 /* x y t1 t2 */
        s.col,                                                      /* col */
        b * s.tokc, b * s.tokc, b * s.tokc, b * s.tokc, b * s.tokc, b * s.tokc,
        b * n_tokens * s.cmax, b * n_tokens * s.cmax,               /* kc vc */
        b * 8 * s.tokc, b * 4 * s.tokc,                             /* ffh ffg */
        s.probs * (size_t)omp_get_max_threads(), b * c0, b * ted, b * ted, b * s.cmax, b * n_tokens,
    };
    size_t n_fixed = sizeof sizes / sizeof *sizes, total = 0;
    for (size_t i = 0; i < n_fixed; i++) total += sizes[i];
    for (size_t i = 0; i < s.n_skips; i++) total += b * s.skips[i];

    openblas_set_num_threads(1); /* the kernels thread themselves: see xattn_set_threads */
    size_t n_layers = unet_attention_layers(u, NULL, 0);
    xattn_unet_run *r = calloc(1, sizeof *r);
    float *mem = r ? malloc(total * sizeof(float)) : NULL;
    xattn_attention_layer *layers = malloc((n_layers ? n_layers : 1) * sizeof *layers);
    if (!mem || !layers) {
        free(layers);
        free(mem);
        free(r);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory planning %zu floats of scratch",
                          m->dir, total);
    }
    r->u = u, r->batch = batch, r->n_tokens = n_tokens, r->mem = mem;
    r->layers = layers;
    r->n_layers = unet_attention_layers(u, layers, n_layers);
    float **slots[] = {&r->x, &r->y, &r->t1, &r->t2, &r->col, &r->tok, &r->nrm, &r->q, &r->k,
                       &r->v, &r->att, &r->kc, &r->vc, &r->ffh, &r->ffg, &r->probs, &r->tproj,
                       &r->temb, &r->temb_act, &r->tres, &r->key_bias};
    float *p = mem;
    for (size_t i = 0; i < n_fixed; i++) *slots[i] = p, p += sizes[i];
    r->n_skips = s.n_skips;
    for (size_t i = 0; i < s.n_skips; i++) r->skips[i] = p, p += b * s.skips[i];
    *out = r;
    return XATTN_OK;
}

void xattn_unet_run_free(xattn_unet_run *r) {
    if (!r) return;
    free(r->layers);
    free(r->mem);
    free(r);
}

void xattn_unet_set_observer(xattn_unet_run *r, xattn_unet_observer fn, void *user) {
    r->observer = fn;
    r->observer_user = user;
}

void xattn_unet_set_attention_fn(xattn_unet_run *r, xattn_attention_fn fn, void *user) {
    r->attention_fn = fn;
    r->attention_user = user;
}

void xattn_unet_set_token_scale(xattn_unet_run *r, const float *scale) { r->token_scale = scale; }

/* attention_forward's probs_fn for the running cross-attention layer: P [N, T] of one
 * (row, head) to the caller's xattn_attention_fn */
static void cross_attention_probs(const float *probs, size_t image, size_t head, size_t n,
                                  size_t m, void *user) {
    (void)n;
    const xattn_unet_run *r = user;
    r->attention_fn(&r->layers[r->cur_layer], -1, (int)image, (int)head, probs, m,
                    r->attention_user);
}

static void observe(const xattn_unet_run *r, const char *name, const float *data, size_t c,
                    size_t h, size_t w) {
    if (!r->observer) return;
    size_t shape[4] = {r->batch, c, h, w};
    r->observer(name, data, shape, r->observer_user);
}

/* ---------------------------------------------------------------------------------------- */
/* the parts: kernels called through these count the forward's multiply-adds (2 FLOPs each) */

/* out[N, OUT] = in[N, IN] @ W^T + b */
static void run_linear(xattn_unet_run *r, float *out, const float *in, const linear_w *l, size_t n) {
    linear_forward(out, in, l->weight, l->bias, n, l->in, l->out);
    r->flops += 2.0 * (double)(n * l->in * l->out);
}

/* out[OUT, HW] = W[OUT, IN] @ in[IN, HW] + b: a Linear applied as a 1x1 conv on one image */
static void run_linear_chw(xattn_unet_run *r, float *out, const float *in, const linear_w *l,
                           size_t hw) {
    conv2d_forward(out, NULL, in, l->weight, l->bias, l->in, hw, 1, l->out, 1, 1, 0);
    r->flops += 2.0 * (double)(hw * l->in * l->out);
}

/* out[OC, OH, OW] = conv(in[IC, H, W]) for one image, padding k / 2 */
static void run_conv(xattn_unet_run *r, float *out, const float *in, const conv2d_w *cv, size_t h,
                     size_t w, size_t stride) {
    size_t pad = cv->k / 2;
    conv2d_forward(out, r->col, in, cv->weight, cv->bias, cv->ic, h, w, cv->oc, cv->k, stride, pad);
    size_t ohw = conv2d_out_size(h, cv->k, stride, pad) * conv2d_out_size(w, cv->k, stride, pad);
    r->flops += 2.0 * (double)(ohw * cv->oc * cv->ic * cv->k * cv->k);
}

/* out[B, OC, H, W] = ResnetBlock2D(in[B, IC, H, W], silu(temb)) */
static void resnet_forward(xattn_unet_run *r, const resnet_w *rn, float *out, const float *in,
                           size_t h, size_t w) {
    const unet_config *c = &r->u->cfg;
    size_t ic = rn->conv1.ic, oc = rn->conv1.oc, hw = h * w, g = c->norm_num_groups;
    /* tres[B, OC] = time_emb_proj(silu(temb)) */
    run_linear(r, r->tres, r->temb_act, &rn->time_emb_proj, r->batch);
    for (size_t b = 0; b < r->batch; b++) {
        const float *xb = in + b * ic * hw;
        float *ob = out + b * oc * hw;
        group_norm_silu_forward(r->t1, xb, rn->norm1.gamma, rn->norm1.beta, ic, hw, g, c->norm_eps);
        run_conv(r, r->t2, r->t1, &rn->conv1, h, w, 1);
        for (size_t o = 0; o < oc; o++) {
            float t = r->tres[b * oc + o];
            for (size_t i = 0; i < hw; i++) r->t2[o * hw + i] += t;
        }
        group_norm_silu_forward(r->t1, r->t2, rn->norm2.gamma, rn->norm2.beta, oc, hw, g, c->norm_eps);
        run_conv(r, r->t2, r->t1, &rn->conv2, h, w, 1);
        if (rn->conv_shortcut.weight)
            run_conv(r, ob, xb, &rn->conv_shortcut, h, w, 1);
        else
            memcpy(ob, xb, oc * hw * sizeof(float));
        float inv = 1.0f / rn->output_scale_factor;
        for (size_t i = 0; i < oc * hw; i++) ob[i] = (ob[i] + r->t2[i]) * inv;
    }
}

/* out[B*N, C] = to_out(attention(q, k, v)) for one Attention module. kv[B*M, KV] is the
 * source of keys and values: the pixel tokens themselves (self) or the text (cross, which alone
 * has a key_scale[B, M] and a probs_fn). */
static void attention_module(xattn_unet_run *r, const attention_w *a, float *out,
                             const float *x, size_t n, const float *kv, size_t m,
                             const float *key_bias, const float *key_scale,
                             attention_probs_fn probs_fn, float *k, float *v) {
    size_t c = a->to_q.out, b_n = r->batch;
    run_linear(r, r->q, x, &a->to_q, b_n * n);
    run_linear(r, k, kv, &a->to_k, b_n * m);
    run_linear(r, v, kv, &a->to_v, b_n * m);
    r->flops += 4.0 * (double)(b_n * n * m * c); /* Q K^T and P V */
    attention_forward_scaled(r->att, r->probs, r->q, k, v, key_bias, key_scale, b_n, n, m,
                             a->heads, a->head_dim, probs_fn, r);
    run_linear(r, out, r->att, &a->to_out, b_n * n);
}

/* x[B, C, H, W] += Transformer2DModel(x, text[B, T, D]) - x, in place */
static void transformer_forward(xattn_unet_run *r, const transformer2d_w *t, float *x,
                                size_t h, size_t w, const float *text) {
    const unet_config *cfg = &r->u->cfg;
    size_t c = t->channels, n = h * w, bn = r->batch * n, T = r->n_tokens;
    int linear = cfg->use_linear_projection;
    for (size_t b = 0; b < r->batch; b++) {
        float *t1b = r->t1 + b * c * n, *t2b = r->t2 + b * c * n;
        group_norm_forward(t1b, x + b * c * n, t->norm.gamma, t->norm.beta, c, n,
                           cfg->norm_num_groups, 1e-6f);
        if (linear) {
            chw_to_tokens(t2b, t1b, c, n);
        } else { /* 1x1 conv, then tokens */
            run_linear_chw(r, t2b, t1b, &t->proj_in, n);
            chw_to_tokens(r->tok + b * n * c, t2b, c, n);
        }
    }
    if (linear) run_linear(r, r->tok, r->t2, &t->proj_in, bn);

    for (size_t i = 0; i < t->n_blocks; i++) {
        const transformer_block_w *tb = &t->blocks[i];
        /* self-attention over the pixel tokens */
        layer_norm_forward(r->nrm, r->tok, tb->norm1.gamma, tb->norm1.beta, bn, c, 1e-5f);
        attention_module(r, &tb->attn1, r->t1, r->nrm, n, r->nrm, n, NULL, NULL, NULL, r->k,
                         r->v);
        add_inplace(r->tok, r->t1, bn * c);
        /* cross-attention: Q from the pixels, K and V from the text */
        layer_norm_forward(r->nrm, r->tok, tb->norm2.gamma, tb->norm2.beta, bn, c, 1e-5f);
        attention_module(r, &tb->attn2, r->t1, r->nrm, n, text, T, r->key_bias, r->token_scale,
                         r->attention_fn ? cross_attention_probs : NULL, r->kc, r->vc);
        r->cur_layer++;
        add_inplace(r->tok, r->t1, bn * c);
        /* GEGLU feed-forward */
        layer_norm_forward(r->nrm, r->tok, tb->norm3.gamma, tb->norm3.beta, bn, c, 1e-5f);
        run_linear(r, r->ffh, r->nrm, &tb->ff_proj, bn);
        geglu_forward(r->ffg, r->ffh, bn, 4 * c);
        run_linear(r, r->t1, r->ffg, &tb->ff_out, bn);
        add_inplace(r->tok, r->t1, bn * c);
    }

    if (linear) run_linear(r, r->nrm, r->tok, &t->proj_out, bn);
    for (size_t b = 0; b < r->batch; b++) {
        float *t1b = r->t1 + b * c * n, *t2b = r->t2 + b * c * n, *xb = x + b * c * n;
        if (linear) {
            tokens_to_chw(t2b, r->nrm + b * n * c, c, n);
        } else {
            tokens_to_chw(t1b, r->tok + b * n * c, c, n);
            run_linear_chw(r, t2b, t1b, &t->proj_out, n);
        }
        add_inplace(xb, t2b, c * n);
    }
}

/* out[B, OC, H', W'] = conv(in[B, IC, H, W]) image by image */
static void conv_batch(xattn_unet_run *r, const conv2d_w *cv, float *out, const float *in,
                       size_t h, size_t w, size_t stride) {
    size_t oh = conv2d_out_size(h, cv->k, stride, cv->k / 2);
    size_t ow = conv2d_out_size(w, cv->k, stride, cv->k / 2);
    for (size_t b = 0; b < r->batch; b++)
        run_conv(r, out + b * cv->oc * oh * ow, in + b * cv->ic * h * w, cv, h, w, stride);
}

#define SWAP(a, b) do { float *tmp_ = (a); (a) = (b); (b) = tmp_; } while (0)

xattn_status xattn_unet_forward(xattn_unet_run *r, const float *sample, float timestep,
                                const float *text, const float *mask, float *noise_pred,
                                xattn_error *err) {
    (void)err;
    const unet_w *u = r->u;
    const unet_config *c = &u->cfg;
    size_t B = r->batch, T = r->n_tokens, n = c->n_blocks, side = c->sample_size;
    size_t c0 = c->block_out_channels[0], ted = c->time_embed_dim;
    float *x = r->x, *y = r->y;
    char name[64];
    r->flops = 0.0;
    r->cur_layer = 0;

    /* time: [B, C0] sinusoids -> linear_1 -> silu -> linear_2 -> [B, ted] */
    for (size_t b = 0; b < B; b++)
        timestep_embedding(r->tproj + b * c0, timestep, c0, c->flip_sin_to_cos, c->freq_shift);
    observe(r, "time_proj", r->tproj, c0, 1, 1);
    run_linear(r, r->temb_act, r->tproj, &u->time_linear_1, B);
    silu_inplace(r->temb_act, B * ted);
    run_linear(r, r->temb, r->temb_act, &u->time_linear_2, B);
    observe(r, "time_embedding", r->temb, ted, 1, 1);
    memcpy(r->temb_act, r->temb, B * ted * sizeof(float));
    silu_inplace(r->temb_act, B * ted);

    for (size_t i = 0; i < B * T; i++) r->key_bias[i] = mask ? (1.0f - mask[i]) * -10000.0f : 0.0f;

    size_t in_n = B * c->in_channels * side * side;
    for (size_t i = 0; i < in_n; i++) y[i] = c->center_input_sample ? 2.0f * sample[i] - 1.0f : sample[i];
    conv_batch(r, &u->conv_in, x, y, side, side, 1);
    observe(r, "conv_in", x, c0, side, side);

    /* down path: every output is kept for the skip connections */
    size_t n_skip = 0, ch = c0;
    memcpy(r->skips[n_skip++], x, B * ch * side * side * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        const unet_block_w *blk = &u->down[i];
        for (size_t j = 0; j < blk->n_layers; j++) {
            resnet_forward(r, &blk->resnets[j], y, x, side, side);
            SWAP(x, y);
            ch = blk->out_channels;
            snprintf(name, sizeof name, "down_blocks.%zu.resnets.%zu", i, j);
            observe(r, name, x, ch, side, side);
            if (blk->attentions) {
                transformer_forward(r, &blk->attentions[j], x, side, side, text);
                snprintf(name, sizeof name, "down_blocks.%zu.attentions.%zu", i, j);
                observe(r, name, x, ch, side, side);
            }
            memcpy(r->skips[n_skip++], x, B * ch * side * side * sizeof(float));
        }
        if (blk->sampler.weight) {
            conv_batch(r, &blk->sampler, y, x, side, side, 2);
            SWAP(x, y);
            side /= 2;
            snprintf(name, sizeof name, "down_blocks.%zu.downsamplers.0", i);
            observe(r, name, x, ch, side, side);
            memcpy(r->skips[n_skip++], x, B * ch * side * side * sizeof(float));
        }
        snprintf(name, sizeof name, "down_blocks.%zu", i);
        observe(r, name, x, ch, side, side);
    }

    if (c->has_mid_block) {
        resnet_forward(r, &u->mid.resnets[0], y, x, side, side);
        SWAP(x, y);
        observe(r, "mid_block.resnets.0", x, ch, side, side);
        transformer_forward(r, &u->mid.attentions[0], x, side, side, text);
        observe(r, "mid_block.attentions.0", x, ch, side, side);
        resnet_forward(r, &u->mid.resnets[1], y, x, side, side);
        SWAP(x, y);
        observe(r, "mid_block.resnets.1", x, ch, side, side);
        observe(r, "mid_block", x, ch, side, side);
    }

    /* up path: concatenate the newest skip, resnet, attention */
    for (size_t i = 0; i < n; i++) {
        const unet_block_w *blk = &u->up[i];
        for (size_t j = 0; j < blk->n_layers; j++) {
            const float *skip = r->skips[--n_skip];
            size_t hw = side * side, sc = blk->resnets[j].conv1.ic - ch;
            for (size_t b = 0; b < B; b++) {
                memcpy(y + b * (ch + sc) * hw, x + b * ch * hw, ch * hw * sizeof(float));
                memcpy(y + (b * (ch + sc) + ch) * hw, skip + b * sc * hw, sc * hw * sizeof(float));
            }
            SWAP(x, y);
            resnet_forward(r, &blk->resnets[j], y, x, side, side);
            SWAP(x, y);
            ch = blk->out_channels;
            snprintf(name, sizeof name, "up_blocks.%zu.resnets.%zu", i, j);
            observe(r, name, x, ch, side, side);
            if (blk->attentions) {
                transformer_forward(r, &blk->attentions[j], x, side, side, text);
                snprintf(name, sizeof name, "up_blocks.%zu.attentions.%zu", i, j);
                observe(r, name, x, ch, side, side);
            }
        }
        if (blk->sampler.weight) {
            for (size_t b = 0; b < B; b++)
                upsample_nearest2x(r->t1 + b * ch * 4 * side * side, x + b * ch * side * side, ch,
                                   side, side);
            side *= 2;
            conv_batch(r, &blk->sampler, x, r->t1, side, side, 1);
            snprintf(name, sizeof name, "up_blocks.%zu.upsamplers.0", i);
            observe(r, name, x, ch, side, side);
        }
        snprintf(name, sizeof name, "up_blocks.%zu", i);
        observe(r, name, x, ch, side, side);
    }

    /* out: GroupNorm -> SiLU -> conv_out */
    size_t hw = side * side;
    for (size_t b = 0; b < B; b++)
        group_norm_silu_forward(y + b * ch * hw, x + b * ch * hw, u->conv_norm_out.gamma,
                                u->conv_norm_out.beta, ch, hw, c->norm_num_groups, c->norm_eps);
    conv_batch(r, &u->conv_out, noise_pred, y, side, side, 1);
    observe(r, "noise_pred", noise_pred, c->out_channels, side, side);
    return XATTN_OK;
}

double xattn_unet_flops(const xattn_unet_run *r) { return r->flops; }

/* Threads are OpenMP's: the kernels split their work themselves and call a single-threaded
 * BLAS (OpenBLAS's own threads would spin between the many small products of a U-Net). */
void xattn_set_threads(int threads) {
    openblas_set_num_threads(1);
    if (threads > 0) omp_set_num_threads(threads);
}
