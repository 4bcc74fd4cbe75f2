/* unet_load.c — binding a UNet2DConditionModel state dict to unet_w.
 *
 * Two passes: walking the config declares every tensor (name, shape, where its pointer goes);
 * then one float32 block is allocated, each tensor is checked against the file and converted
 * into it. The channel bookkeeping mirrors diffusers' UNet2DConditionModel.__init__. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xattn_io.h"
#include "model/unet.h"
#include "ops/ops.h"
#include "util/error.h"

typedef struct request {
    char name[192];
    int ndim;
    size_t shape[4];
    const float **dst;
} request;

typedef struct binder {
    request *req;
    size_t n, cap;
    linear_w **linears; /* every linear, for its transposed copy */
    size_t n_lin, cap_lin;
    int oom;
} binder;

static void want(binder *b, const float **dst, int ndim, const size_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void want(binder *b, const float **dst, int ndim, const size_t *shape, const char *fmt, ...) {
    if (b->oom) return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        request *r = realloc(b->req, cap * sizeof *r);
        if (!r) {
            b->oom = 1;
            return;
        }
        b->req = r;
        b->cap = cap;
    }
    request *r = &b->req[b->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->name, sizeof r->name, fmt, ap);
    va_end(ap);
    r->ndim = ndim;
    memcpy(r->shape, shape, (size_t)ndim * sizeof *shape);
    r->dst = dst;
}

/* out = prefix + part (parameter names are short; an over-long one is cut, and then simply
 * not found in the file) */
static void sub(char out[192], const char *prefix, const char *part) {
    size_t a = strnlen(prefix, 191), b = strnlen(part, 191 - a);
    memcpy(out, prefix, a);
    memcpy(out + a, part, b);
    out[a + b] = '\0';
}

/* ---------------------------------------------------------------------------------------- */
/* declaring the parts */

static void bind_conv(binder *b, conv2d_w *c, const char *prefix, size_t ic, size_t oc, size_t k) {
    c->ic = ic, c->oc = oc, c->k = k;
    want(b, &c->weight, 4, (size_t[]){oc, ic, k, k}, "%s.weight", prefix);
    want(b, &c->bias, 1, (size_t[]){oc}, "%s.bias", prefix);
}

static void bind_linear(binder *b, linear_w *l, const char *prefix, size_t in, size_t out,
                        int has_bias, int as_conv1x1) {
    l->in = in, l->out = out;
    if (!b->oom && b->n_lin == b->cap_lin) {
        size_t cap = b->cap_lin ? 2 * b->cap_lin : 64;
        linear_w **r = realloc(b->linears, cap * sizeof *r);
        if (r) b->linears = r, b->cap_lin = cap;
        else b->oom = 1;
    }
    if (!b->oom) b->linears[b->n_lin++] = l;
    if (as_conv1x1)
        want(b, &l->weight, 4, (size_t[]){out, in, 1, 1}, "%s.weight", prefix);
    else
        want(b, &l->weight, 2, (size_t[]){out, in}, "%s.weight", prefix);
    if (has_bias) want(b, &l->bias, 1, (size_t[]){out}, "%s.bias", prefix);
}

static void bind_norm(binder *b, norm_w *n, const char *prefix, size_t c) {
    n->c = c;
    want(b, &n->gamma, 1, (size_t[]){c}, "%s.weight", prefix);
    want(b, &n->beta, 1, (size_t[]){c}, "%s.bias", prefix);
}

static void bind_resnet(binder *b, resnet_w *r, const char *prefix, size_t ic, size_t oc,
                        size_t temb_dim, float scale) {
    char p[192];
    r->output_scale_factor = scale;
    sub(p, prefix, ".norm1"), bind_norm(b, &r->norm1, p, ic);
    sub(p, prefix, ".conv1"), bind_conv(b, &r->conv1, p, ic, oc, 3);
    sub(p, prefix, ".time_emb_proj"), bind_linear(b, &r->time_emb_proj, p, temb_dim, oc, 1, 0);
    sub(p, prefix, ".norm2"), bind_norm(b, &r->norm2, p, oc);
    sub(p, prefix, ".conv2"), bind_conv(b, &r->conv2, p, oc, oc, 3);
    if (ic != oc) sub(p, prefix, ".conv_shortcut"), bind_conv(b, &r->conv_shortcut, p, ic, oc, 1);
}

static void bind_attention(binder *b, attention_w *a, const char *prefix, size_t c, size_t kv_dim,
                           size_t heads) {
    char p[192];
    a->heads = heads, a->head_dim = c / heads;
    sub(p, prefix, ".to_q"), bind_linear(b, &a->to_q, p, c, c, 0, 0);
    sub(p, prefix, ".to_k"), bind_linear(b, &a->to_k, p, kv_dim, c, 0, 0);
    sub(p, prefix, ".to_v"), bind_linear(b, &a->to_v, p, kv_dim, c, 0, 0);
    sub(p, prefix, ".to_out.0"), bind_linear(b, &a->to_out, p, c, c, 1, 0);
}

static int bind_transformer(binder *b, transformer2d_w *t, const char *prefix, size_t c,
                            size_t n_blocks, size_t heads, const unet_config *cfg) {
    char p[192];
    int conv = !cfg->use_linear_projection;
    t->channels = c;
    t->n_blocks = n_blocks;
    t->blocks = calloc(n_blocks, sizeof *t->blocks);
    if (!t->blocks) return -1;
    sub(p, prefix, ".norm"), bind_norm(b, &t->norm, p, c);
    sub(p, prefix, ".proj_in"), bind_linear(b, &t->proj_in, p, c, c, 1, conv);
    for (size_t i = 0; i < n_blocks; i++) {
        transformer_block_w *tb = &t->blocks[i];
        char q[192];
        snprintf(q, sizeof q, "%s.transformer_blocks.%zu", prefix, i);
        sub(p, q, ".norm1"), bind_norm(b, &tb->norm1, p, c);
        sub(p, q, ".attn1"), bind_attention(b, &tb->attn1, p, c, c, heads);
        sub(p, q, ".norm2"), bind_norm(b, &tb->norm2, p, c);
        sub(p, q, ".attn2"), bind_attention(b, &tb->attn2, p, c, cfg->cross_attention_dim, heads);
        sub(p, q, ".norm3"), bind_norm(b, &tb->norm3, p, c);
        sub(p, q, ".ff.net.0.proj"), bind_linear(b, &tb->ff_proj, p, c, 8 * c, 1, 0);
        sub(p, q, ".ff.net.2"), bind_linear(b, &tb->ff_out, p, 4 * c, c, 1, 0);
    }
    sub(p, prefix, ".proj_out"), bind_linear(b, &t->proj_out, p, c, c, 1, conv);
    return 0;
}

/* resnets[j] takes in_ch[j] -> out channels; attentions too when has_attention. */
static int bind_block(binder *b, unet_block_w *blk, const char *prefix, size_t n_layers,
                      const size_t *in_ch, size_t out_ch, int has_attention, size_t heads,
                      size_t transformer_layers, float scale, const unet_config *cfg) {
    char p[192];
    blk->n_layers = n_layers;
    blk->out_channels = out_ch;
    blk->resnets = calloc(n_layers, sizeof *blk->resnets);
    blk->attentions = has_attention ? calloc(n_layers, sizeof *blk->attentions) : NULL;
    if (!blk->resnets || (has_attention && !blk->attentions)) return -1;
    for (size_t j = 0; j < n_layers; j++) {
        snprintf(p, sizeof p, "%s.resnets.%zu", prefix, j);
        bind_resnet(b, &blk->resnets[j], p, in_ch[j], out_ch, cfg->time_embed_dim, scale);
        if (has_attention) {
            snprintf(p, sizeof p, "%s.attentions.%zu", prefix, j);
            if (bind_transformer(b, &blk->attentions[j], p, out_ch, transformer_layers, heads, cfg))
                return -1;
        }
    }
    return 0;
}

static int bind_unet(binder *b, unet_w *u, const unet_config *cfg) {
    size_t n = cfg->n_blocks, c0 = cfg->block_out_channels[0], in_ch[65];
    char p[64];
    bind_conv(b, &u->conv_in, "conv_in", cfg->in_channels, c0, cfg->conv_in_kernel);
    bind_linear(b, &u->time_linear_1, "time_embedding.linear_1", c0, cfg->time_embed_dim, 1, 0);
    bind_linear(b, &u->time_linear_2, "time_embedding.linear_2", cfg->time_embed_dim, cfg->time_embed_dim, 1, 0);

    size_t out_ch = c0;
    for (size_t i = 0; i < n; i++) {
        size_t input_ch = out_ch;
        out_ch = cfg->block_out_channels[i];
        for (size_t j = 0; j < cfg->layers_per_block[i]; j++) in_ch[j] = j == 0 ? input_ch : out_ch;
        snprintf(p, sizeof p, "down_blocks.%zu", i);
        if (bind_block(b, &u->down[i], p, cfg->layers_per_block[i], in_ch, out_ch,
                       cfg->down_has_attention[i], cfg->heads[i], cfg->transformer_layers[i], 1.0f, cfg))
            return -1;
        if (i + 1 < n) {
            snprintf(p, sizeof p, "down_blocks.%zu.downsamplers.0.conv", i);
            bind_conv(b, &u->down[i].downsample, p, out_ch, out_ch, 3);
        }
    }

    if (cfg->has_mid_block) {
        size_t c = cfg->block_out_channels[n - 1];
        in_ch[0] = in_ch[1] = c;
        if (bind_block(b, &u->mid, "mid_block", 2, in_ch, c, 0, 0, 0,
                       cfg->mid_block_scale_factor, cfg))
            return -1;
        u->mid.attentions = calloc(1, sizeof *u->mid.attentions);
        if (!u->mid.attentions ||
            bind_transformer(b, &u->mid.attentions[0], "mid_block.attentions.0", c,
                             cfg->transformer_layers[n - 1], cfg->heads[n - 1], cfg))
            return -1;
    }

    out_ch = cfg->block_out_channels[n - 1];
    for (size_t i = 0; i < n; i++) {
        size_t d = n - 1 - i; /* the matching down block */
        size_t prev_out = out_ch;
        out_ch = cfg->block_out_channels[d];
        size_t input_ch = cfg->block_out_channels[d > 0 ? d - 1 : 0];
        size_t layers = cfg->layers_per_block[d] + 1;
        for (size_t j = 0; j < layers; j++) {
            size_t skip = j == layers - 1 ? input_ch : out_ch;
            in_ch[j] = (j == 0 ? prev_out : out_ch) + skip;
        }
        snprintf(p, sizeof p, "up_blocks.%zu", i);
        if (bind_block(b, &u->up[i], p, layers, in_ch, out_ch, cfg->up_has_attention[i],
                       cfg->heads[d], cfg->transformer_layers[d], 1.0f, cfg))
            return -1;
        if (i + 1 < n) {
            snprintf(p, sizeof p, "up_blocks.%zu.upsamplers.0.conv", i);
            bind_conv(b, &u->up[i].upsample, p, out_ch, out_ch, 3);
        }
    }
    bind_norm(b, &u->conv_norm_out, "conv_norm_out", c0);
    bind_conv(b, &u->conv_out, "conv_out", c0, cfg->out_channels, cfg->conv_out_kernel);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */

static size_t numel(const request *r) {
    size_t n = 1;
    for (int i = 0; i < r->ndim; i++) n *= r->shape[i];
    return n;
}

static void format_shape(char *buf, size_t len, int ndim, const size_t *shape) {
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%zu", i ? ", " : "", shape[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
}

/* The 3x3 stride-1 convs (every one but the downsamplers); returns how many, filling out[<cap]. */
static size_t stride1_convs(unet_w *u, conv2d_w **out, size_t cap) {
    size_t n = 0;
#define ADD(cv) do { if ((cv)->weight && (cv)->k == 3) { if (n < cap) out[n] = (cv); n++; } } while (0)
    ADD(&u->conv_in);
    ADD(&u->conv_out);
    unet_block_w *blocks[2 * UNET_MAX_BLOCKS + 1];
    size_t nb = 0;
    for (size_t i = 0; i < u->cfg.n_blocks; i++) blocks[nb++] = &u->down[i], blocks[nb++] = &u->up[i];
    blocks[nb++] = &u->mid;
    for (size_t i = 0; i < nb; i++) {
        for (size_t j = 0; blocks[i]->resnets && j < blocks[i]->n_layers; j++) {
            ADD(&blocks[i]->resnets[j].conv1);
            ADD(&blocks[i]->resnets[j].conv2);
        }
    }
    for (size_t i = 0; i < u->cfg.n_blocks; i++) ADD(&u->up[i].upsample);
#undef ADD
    return n;
}

/* Computes every 3x3 stride-1 conv's Winograd weights into one block (u->wino). */
static int prepare_winograd(unet_w *u) {
    size_t n = stride1_convs(u, NULL, 0), total = 0;
    conv2d_w **convs = malloc((n ? n : 1) * sizeof *convs);
    if (!convs) return -1;
    stride1_convs(u, convs, n);
    for (size_t i = 0; i < n; i++)
        total += winograd_weight_floats(convs[i]->oc, convs[i]->ic) +
                 winograd4_weight_floats(convs[i]->oc, convs[i]->ic);
    u->wino = malloc((total ? total : 1) * sizeof(float));
    if (!u->wino) {
        free(convs);
        return -1;
    }
    float *p = u->wino;
    for (size_t i = 0; i < n; i++) {
        winograd_weights(p, convs[i]->weight, convs[i]->oc, convs[i]->ic);
        convs[i]->wino = p;
        p += winograd_weight_floats(convs[i]->oc, convs[i]->ic);
        winograd4_weights(p, convs[i]->weight, convs[i]->oc, convs[i]->ic);
        convs[i]->wino4 = p;
        p += winograd4_weight_floats(convs[i]->oc, convs[i]->ic);
    }
    free(convs);
    return 0;
}

/* Every linear's weight transposed to [IN, OUT] into one block (u->lin_t), the form
 * linear_forward_t reads. */
static int prepare_linears(unet_w *u, linear_w **lin, size_t n) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += lin[i]->in * lin[i]->out;
    u->lin_t = malloc((total ? total : 1) * sizeof(float));
    if (!u->lin_t) return -1;
    float *p = u->lin_t;
    for (size_t i = 0; i < n; i++) {
        transpose(p, lin[i]->weight, lin[i]->out, lin[i]->in);
        lin[i]->weight_t = p;
        p += lin[i]->in * lin[i]->out;
    }
    return 0;
}

xattn_status unet_load(unet_w *u, const unet_config *cfg, const char *path, xattn_error *err) {
    memset(u, 0, sizeof *u);
    u->cfg = *cfg;
    binder b = {0};
    xattn_st_file *f = NULL;
    xattn_status st = XATTN_OK;

    if (bind_unet(&b, u, cfg) || b.oom) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((st = xattn_st_open(path, &f, err)) != XATTN_OK) goto done;

    /* every declared tensor present with its shape and a float dtype */
    size_t total = 0;
    for (size_t i = 0; i < b.n; i++) {
        const request *r = &b.req[i];
        const xattn_st_tensor *t = xattn_st_find(f, r->name);
        if (!t) {
            st = xattn_fail(err, XATTN_ERR_SHAPE, "%s: tensor '%s' is missing", path, r->name);
            goto done;
        }
        int same = t->ndim == r->ndim;
        for (int d = 0; same && d < r->ndim; d++) same = t->shape[d] == r->shape[d];
        if (!same) {
            char want_s[96], got_s[96];
            format_shape(want_s, sizeof want_s, r->ndim, r->shape);
            format_shape(got_s, sizeof got_s, t->ndim, t->shape);
            st = xattn_fail(err, XATTN_ERR_SHAPE, "%s: tensor '%s' has shape %s, the config needs %s",
                            path, r->name, got_s, want_s);
            goto done;
        }
        if (t->dtype != XATTN_ST_F32 && t->dtype != XATTN_ST_F16 && t->dtype != XATTN_ST_BF16) {
            st = xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (F32, F16 or BF16 only)",
                            path, r->name, xattn_st_dtype_name(t->dtype));
            goto done;
        }
        total += numel(r);
    }
    /* and nothing the config does not use */
    for (size_t i = 0; i < xattn_st_count(f); i++) {
        const xattn_st_tensor *t = xattn_st_at(f, i);
        int used = 0;
        for (size_t j = 0; j < b.n && !used; j++) used = strcmp(b.req[j].name, t->name) == 0;
        if (!used) {
            st = xattn_fail(err, XATTN_ERR_SHAPE,
                            "%s: tensor '%s' is not used by this config (config and weights disagree)",
                            path, t->name);
            goto done;
        }
    }

    u->params = malloc(total * sizeof(float));
    if (!u->params) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory for %zu parameters", path, total);
        goto done;
    }
    u->n_params = total;
    float *p = u->params;
    for (size_t i = 0; i < b.n; i++) {
        const request *r = &b.req[i];
        const xattn_st_tensor *t = xattn_st_find(f, r->name);
        if ((st = xattn_st_read_f32(f, t, p, err)) != XATTN_OK) goto done;
        size_t n = numel(r);
        for (size_t k = 0; k < n; k++)
            if (!isfinite(p[k])) {
                st = xattn_fail(err, XATTN_ERR_VALUE, "%s: tensor '%s' holds NaN or Inf at element %zu",
                                path, r->name, k);
                goto done;
            }
        *r->dst = p;
        p += n;
    }
    if (prepare_winograd(u))
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory for the Winograd weights", path);
    else if (prepare_linears(u, b.linears, b.n_lin))
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory for the linear weights", path);

done:
    xattn_st_close(f);
    free(b.req);
    free(b.linears);
    if (st != XATTN_OK) unet_free(u);
    return st;
}

static void free_block(unet_block_w *blk) {
    if (blk->attentions)
        for (size_t j = 0; j < blk->n_layers; j++) free(blk->attentions[j].blocks);
    free(blk->attentions);
    free(blk->resnets);
}

void unet_free(unet_w *u) {
    for (size_t i = 0; i < UNET_MAX_BLOCKS; i++) {
        free_block(&u->down[i]);
        free_block(&u->up[i]);
    }
    /* the mid block has n_layers resnets but one attention */
    if (u->mid.attentions) free(u->mid.attentions[0].blocks);
    free(u->mid.attentions);
    free(u->mid.resnets);
    free(u->params);
    free(u->wino);
    free(u->lin_t);
    memset(u, 0, sizeof *u);
}
