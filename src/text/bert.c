/* bert.c — the BERT forward (see bert.h). */
#define _POSIX_C_SOURCE 200809L
#include "text/bert.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "ops/vec.h"
#include "util/error.h"

/* ------------------------------------------------------------------------------------------ */
/* config.json                                                                                 */

static xattn_status cfg_int(const char *path, const cJSON *root, const char *key, int *dst,
                            int required, xattn_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) {
        if (!required) return XATTN_OK;
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: %s is missing", path, key);
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e7 ||
        v->valuedouble != (double)(int)v->valuedouble)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: %s is not a positive integer", path, key);
    *dst = (int)v->valuedouble;
    return XATTN_OK;
}

static xattn_status cfg_string_is(const char *path, const cJSON *root, const char *key,
                                  const char *want, int required, xattn_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v && !required) return XATTN_OK;
    if (!cJSON_IsString(v))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: %s is %s", path, key,
                          v ? "not a string" : "missing");
    if (strcmp(v->valuestring, want) != 0)
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: %s \"%s\" is not supported (\"%s\" only)",
                          path, key, v->valuestring, want);
    return XATTN_OK;
}

xattn_status bert_config_read(const char *path, bert_config *c, xattn_error *err) {
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f) return xattn_fail(err, XATTN_ERR_IO, "%s: %s", path, strerror(errno));
    char *text = malloc(1 << 20);
    size_t n = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!text) return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    cJSON *root = cJSON_ParseWithLength(text, n);
    free(text);
    xattn_status st = XATTN_OK;
    if (!cJSON_IsObject(root)) {
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: not a JSON object", path);
        goto done;
    }
    c->type_vocab_size = 2;
    if ((st = cfg_string_is(path, root, "model_type", "bert", 1, err)) ||
        (st = cfg_string_is(path, root, "hidden_act", "gelu", 1, err)) ||
        (st = cfg_string_is(path, root, "position_embedding_type", "absolute", 0, err)) ||
        (st = cfg_int(path, root, "vocab_size", &c->vocab_size, 1, err)) ||
        (st = cfg_int(path, root, "hidden_size", &c->hidden_size, 1, err)) ||
        (st = cfg_int(path, root, "num_hidden_layers", &c->n_layers, 1, err)) ||
        (st = cfg_int(path, root, "num_attention_heads", &c->n_heads, 1, err)) ||
        (st = cfg_int(path, root, "intermediate_size", &c->intermediate_size, 1, err)) ||
        (st = cfg_int(path, root, "max_position_embeddings", &c->max_position, 1, err)) ||
        (st = cfg_int(path, root, "type_vocab_size", &c->type_vocab_size, 0, err)))
        goto done;
    if (c->hidden_size % c->n_heads != 0) {
        st = xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: hidden_size %d is not a multiple of num_attention_heads %d",
                        path, c->hidden_size, c->n_heads);
        goto done;
    }
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
    if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0) || eps->valuedouble > 1) {
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: layer_norm_eps is %s", path,
                        eps ? "not a number in (0, 1]" : "missing");
        goto done;
    }
    c->layer_norm_eps = (float)eps->valuedouble;
done:
    cJSON_Delete(root);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Weights                                                                                     */

void bert_weights_free(bert_weights *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_owned; i++) free(w->owned[i]);
    free(w->owned);
    free(w->layers);
    xattn_st_close(w->file);
    memset(w, 0, sizeof *w);
}

/* The tensor `name` (or "bert." name) of shape [d0] (d1 == 0) or [d0, d1], as F32 in place when
 * it is F32 and aligned, else converted into an owned copy. */
static xattn_status tensor(bert_weights *w, const char *name, size_t d0, size_t d1,
                           const float **out, xattn_error *err) {
    const xattn_st_tensor *t = xattn_st_find(w->file, name);
    char prefixed[160];
    if (!t) {
        snprintf(prefixed, sizeof prefixed, "bert.%s", name);
        t = xattn_st_find(w->file, prefixed);
    }
    if (!t)
        return xattn_fail(err, XATTN_ERR_SHAPE, "%s: tensor %s is missing", xattn_st_path(w->file), name);
    int want_ndim = d1 ? 2 : 1;
    if (t->ndim != want_ndim || t->shape[0] != d0 || (d1 && t->shape[1] != d1)) {
        char got[96] = "", *p = got;
        for (int i = 0; i < t->ndim && p < got + 64; i++)
            p += snprintf(p, (size_t)(got + sizeof got - p), "%s%zu", i ? ", " : "", t->shape[i]);
        if (d1)
            return xattn_fail(err, XATTN_ERR_SHAPE, "%s: tensor %s has shape [%s], the config says [%zu, %zu]",
                              xattn_st_path(w->file), name, got, d0, d1);
        return xattn_fail(err, XATTN_ERR_SHAPE, "%s: tensor %s has shape [%s], the config says [%zu]",
                          xattn_st_path(w->file), name, got, d0);
    }
    if (t->dtype == XATTN_ST_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = (const float *)(const void *)t->data;
        return XATTN_OK;
    }
    float *copy = malloc(t->numel * sizeof *copy);
    float **owned = realloc(w->owned, (w->n_owned + 1) * sizeof *owned);
    if (!copy || !owned) {
        free(copy);
        if (owned) w->owned = owned;
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", xattn_st_path(w->file));
    }
    w->owned = owned;
    xattn_status st = xattn_st_read_f32(w->file, t, copy, err);
    if (st) {
        free(copy);
        return st;
    }
    w->owned[w->n_owned++] = copy;
    *out = copy;
    return XATTN_OK;
}

xattn_status bert_weights_load(const char *path, const bert_config *c, bert_weights *w,
                               xattn_error *err) {
    memset(w, 0, sizeof *w);
    xattn_status st = xattn_st_open(path, &w->file, err);
    if (st) return st;
    size_t D = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    /* the width first, so a config that disagrees with the weights says so */
    const xattn_st_tensor *word = xattn_st_find(w->file, "embeddings.word_embeddings.weight");
    if (!word) word = xattn_st_find(w->file, "bert.embeddings.word_embeddings.weight");
    if (word && word->ndim == 2 && word->shape[1] != D) {
        st = xattn_fail(err, XATTN_ERR_SHAPE,
                        "%s: hidden_size %zu in config.json disagrees with the weights (width %zu)",
                        path, D, word->shape[1]);
        goto fail;
    }
    w->layers = calloc((size_t)c->n_layers, sizeof *w->layers);
    if (!w->layers) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if ((st = tensor(w, "embeddings.word_embeddings.weight", (size_t)c->vocab_size, D, &w->word, err)) ||
        (st = tensor(w, "embeddings.position_embeddings.weight", (size_t)c->max_position, D,
                     &w->position, err)) ||
        (st = tensor(w, "embeddings.token_type_embeddings.weight", (size_t)c->type_vocab_size, D,
                     &w->token_type, err)) ||
        (st = tensor(w, "embeddings.LayerNorm.weight", D, 0, &w->emb_ln_g, err)) ||
        (st = tensor(w, "embeddings.LayerNorm.bias", D, 0, &w->emb_ln_b, err)))
        goto fail;
    for (int l = 0; l < c->n_layers; l++) {
        bert_layer_weights *L = &w->layers[l];
        struct { const char *name; size_t d0, d1; const float **dst; } spec[] = {
            {"attention.self.query.weight", D, D, &L->q_w},
            {"attention.self.query.bias", D, 0, &L->q_b},
            {"attention.self.key.weight", D, D, &L->k_w},
            {"attention.self.key.bias", D, 0, &L->k_b},
            {"attention.self.value.weight", D, D, &L->v_w},
            {"attention.self.value.bias", D, 0, &L->v_b},
            {"attention.output.dense.weight", D, D, &L->ao_w},
            {"attention.output.dense.bias", D, 0, &L->ao_b},
            {"attention.output.LayerNorm.weight", D, 0, &L->ln1_g},
            {"attention.output.LayerNorm.bias", D, 0, &L->ln1_b},
            {"intermediate.dense.weight", F, D, &L->i_w},
            {"intermediate.dense.bias", F, 0, &L->i_b},
            {"output.dense.weight", D, F, &L->o_w},
            {"output.dense.bias", D, 0, &L->o_b},
            {"output.LayerNorm.weight", D, 0, &L->ln2_g},
            {"output.LayerNorm.bias", D, 0, &L->ln2_b},
        };
        for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
            char name[160];
            snprintf(name, sizeof name, "encoder.layer.%d.%s", l, spec[i].name);
            if ((st = tensor(w, name, spec[i].d0, spec[i].d1, spec[i].dst, err))) goto fail;
        }
    }
    return XATTN_OK;
fail:
    bert_weights_free(w);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Run state and forward                                                                       */

void bert_state_free(bert_state *s) {
    if (!s) return;
    free(s->x);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->ctx);
    free(s->tmp);
    free(s->inter);
    free(s->probs);
    memset(s, 0, sizeof *s);
}

xattn_status bert_state_new(const bert_config *c, size_t max_tokens, bert_state *s,
                            xattn_error *err) {
    memset(s, 0, sizeof *s);
    if (max_tokens < 1 || max_tokens > (size_t)c->max_position)
        return xattn_fail(err, XATTN_ERR_VALUE, "encoder: %zu tokens, outside 1 .. %d", max_tokens,
                          c->max_position);
    size_t D = (size_t)c->hidden_size, T = max_tokens;
    openblas_set_num_threads(1); /* the kernels thread themselves (OpenMP), as the U-Net's */
    size_t threads = (size_t)omp_get_max_threads();
    s->max_tokens = T;
    s->threads = threads;
    float **bufs[] = {&s->x, &s->q, &s->k, &s->v, &s->ctx, &s->tmp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) *bufs[i] = malloc(T * D * sizeof(float));
    s->inter = malloc(T * (size_t)c->intermediate_size * sizeof(float));
    s->probs = malloc(threads * attention_scratch_floats(T, T, D / (size_t)c->n_heads) * sizeof(float));
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (!*bufs[i]) goto nomem;
    if (!s->inter || !s->probs) goto nomem;
    return XATTN_OK;
nomem:
    bert_state_free(s);
    return xattn_fail(err, XATTN_ERR_NOMEM, "encoder: out of memory for %zu tokens", max_tokens);
}

/* The project's GEGLU kernel with the linear half all ones: erf as PyTorch's vectorised CPU
 * kernel computes it (|error| < 1.5e-7), 1 * gelu(x) = gelu(x) exactly. */
#define GELU_CHUNK 2048
static float ones_chunk[GELU_CHUNK];
static pthread_once_t ones_once = PTHREAD_ONCE_INIT;

static void fill_ones(void) {
    for (size_t i = 0; i < GELU_CHUNK; i++) ones_chunk[i] = 1.0f;
}

void gelu_erf_inplace(float *x, size_t n) {
    pthread_once(&ones_once, fill_ones);
#pragma omp parallel for if (n > 65536 && !omp_in_parallel()) schedule(static)
    for (size_t i = 0; i < n; i += GELU_CHUNK)
        vec_geglu(x + i, ones_chunk, x + i, n - i < GELU_CHUNK ? n - i : GELU_CHUNK);
}

void bert_forward(float *out, bert_state *s, const bert_config *c, const bert_weights *w,
                  const int32_t *ids, size_t T) {
    size_t D = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t H = (size_t)c->n_heads, dh = D / H;
    float eps = c->layer_norm_eps;
    float *x = s->x;
    /* embeddings: word + position + token type 0, then LayerNorm */
    for (size_t t = 0; t < T; t++) {
        const float *we = w->word + (size_t)ids[t] * D, *pe = w->position + t * D;
        for (size_t d = 0; d < D; d++) x[t * D + d] = (we[d] + w->token_type[d]) + pe[d];
    }
    layer_norm_forward(x, x, w->emb_ln_g, w->emb_ln_b, T, D, eps);
    for (int l = 0; l < c->n_layers; l++) {
        const bert_layer_weights *L = &w->layers[l];
        linear_forward(s->q, x, L->q_w, L->q_b, T, D, D);
        linear_forward(s->k, x, L->k_w, L->k_b, T, D, D);
        linear_forward(s->v, x, L->v_w, L->v_b, T, D, D);
        attention_forward(s->ctx, s->probs, s->q, s->k, s->v, NULL, 1, T, T, H, dh, NULL, NULL);
        linear_forward(s->tmp, s->ctx, L->ao_w, L->ao_b, T, D, D);
        add_inplace(s->tmp, x, T * D);
        layer_norm_forward(x, s->tmp, L->ln1_g, L->ln1_b, T, D, eps);
        linear_forward(s->inter, x, L->i_w, L->i_b, T, D, F);
        gelu_erf_inplace(s->inter, T * F);
        linear_forward(s->tmp, s->inter, L->o_w, L->o_b, T, F, D);
        add_inplace(s->tmp, x, T * D);
        layer_norm_forward(x, s->tmp, L->ln2_g, L->ln2_b, T, D, eps);
    }
    memcpy(out, x, T * D * sizeof *out);
}
