/* prompt.c — loading a prompt embedding: a safetensors file (encoder_hidden_states [T, D] or
 * [1, T, D], optional attention_mask [T] or [1, T], metadata prompt/tokens/encoder) or a
 * NumPy .npy [T, D]. The format is chosen by content, not by file name. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npy.h"
#include "xattn_io.h"
#include "util/error.h"
#include "xattn.h"

void xattn_prompt_free(xattn_prompt *p) {
    if (!p) return;
    free(p->embeddings);
    free(p->mask);
    if (p->tokens)
        for (size_t i = 0; i < p->n_tokens; i++) free(p->tokens[i]);
    free(p->tokens);
    free(p->text);
    free(p->encoder);
    free(p);
}

/* ------------------------------------------------------------------------------------------ */

/* what: "encoder_hidden_states" or "array" (.npy), for the message. */
static xattn_status check_embeddings(const char *path, const char *what, const xattn_prompt *p,
                                     xattn_error *err) {
    if (p->n_tokens == 0)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: empty prompt: %s has T = 0 tokens", path, what);
    if (p->dim == 0)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: %s has width D = 0", path, what);
    for (size_t t = 0; t < p->n_tokens; t++)
        for (size_t d = 0; d < p->dim; d++) {
            float v = p->embeddings[t * p->dim + d];
            if (!isfinite(v))
                return xattn_fail(err, XATTN_ERR_VALUE,
                                  "%s: %s has %s at row %zu, column %zu", path, what,
                                  isnan(v) ? "NaN" : "Inf", t, d);
        }
    return XATTN_OK;
}

/* "t0", "t1", ... */
static xattn_status default_tokens(const char *path, xattn_prompt *p, xattn_error *err) {
    for (size_t t = 0; t < p->n_tokens; t++) {
        char label[32];
        snprintf(label, sizeof label, "t%zu", t);
        if (!(p->tokens[t] = strdup(label)))
            return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    }
    return XATTN_OK;
}

/* metadata "tokens": a JSON array of exactly T strings. */
static xattn_status parse_tokens(const char *path, const char *json, xattn_prompt *p, xattn_error *err) {
    cJSON *arr = cJSON_Parse(json);
    xattn_status s = XATTN_OK;
    if (!cJSON_IsArray(arr)) {
        s = xattn_fail(err, XATTN_ERR_FORMAT, "%s: metadata 'tokens' is not a JSON array of strings", path);
        goto done;
    }
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (n != p->n_tokens) {
        s = xattn_fail(err, XATTN_ERR_SHAPE,
                       "%s: metadata 'tokens' has %zu entries but encoder_hidden_states has T = %zu rows",
                       path, n, p->n_tokens);
        goto done;
    }
    size_t t = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (!cJSON_IsString(e)) {
            s = xattn_fail(err, XATTN_ERR_FORMAT, "%s: metadata 'tokens' entry %zu is not a string", path, t);
            goto done;
        }
        if (!(p->tokens[t++] = strdup(e->valuestring))) {
            s = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
    }
done:
    cJSON_Delete(arr);
    return s;
}

/* attention_mask: any numeric dtype, [T] or [1, T], values exactly 0 or 1, not all 0. */
static xattn_status load_mask(const char *path, const xattn_st_tensor *m, xattn_prompt *p, xattn_error *err) {
    size_t T = p->n_tokens;
    if (!((m->ndim == 1 && m->shape[0] == T) || (m->ndim == 2 && m->shape[0] == 1 && m->shape[1] == T))) {
        char shape[160] = "";
        for (int d = 0; d < m->ndim; d++) {
            size_t len = strlen(shape);
            snprintf(shape + len, sizeof shape - len, "%s%zu", d ? ", " : "", m->shape[d]);
        }
        return xattn_fail(err, XATTN_ERR_SHAPE,
                          "%s: tensor 'attention_mask' has shape [%s], expected [%zu] or [1, %zu]", path,
                          shape, T, T);
    }
    size_t ones = 0;
    for (size_t t = 0; t < T; t++) {
        double v = xattn_st_element_f64(m, t);
        if (v != 0 && v != 1)
            return xattn_fail(err, XATTN_ERR_VALUE,
                              "%s: attention_mask[%zu] = %g, expected 0 or 1", path, t, v);
        p->mask[t] = (float)v;
        ones += v == 1;
    }
    if (ones == 0)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: attention_mask is all zeros: no token to attend to", path);
    return XATTN_OK;
}

static xattn_status alloc_prompt(const char *path, xattn_prompt *p, xattn_error *err) {
    size_t n;
    if (__builtin_mul_overflow(p->n_tokens, p->dim, &n) || n > SIZE_MAX / sizeof(float))
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: embedding size overflows", path);
    p->embeddings = malloc((n ? n : 1) * sizeof *p->embeddings);        /* [T, D] */
    p->mask = malloc((p->n_tokens ? p->n_tokens : 1) * sizeof *p->mask); /* [T] */
    p->tokens = calloc(p->n_tokens ? p->n_tokens : 1, sizeof *p->tokens); /* [T] */
    if (!p->embeddings || !p->mask || !p->tokens)
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    for (size_t t = 0; t < p->n_tokens; t++) p->mask[t] = 1;
    return XATTN_OK;
}

static xattn_status load_safetensors(const char *path, xattn_prompt *p, xattn_error *err) {
    xattn_st_file *f;
    xattn_status s = xattn_st_open(path, &f, err);
    if (s != XATTN_OK) return s;
    const xattn_st_tensor *e = xattn_st_find(f, "encoder_hidden_states");
    if (!e) {
        s = xattn_fail(err, XATTN_ERR_SHAPE, "%s: missing tensor 'encoder_hidden_states'", path);
        goto done;
    }
    if (e->dtype != XATTN_ST_F32 && e->dtype != XATTN_ST_F16 && e->dtype != XATTN_ST_BF16) {
        s = xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                       "%s: tensor 'encoder_hidden_states' has dtype %s, expected F32, F16 or BF16", path,
                       xattn_st_dtype_name(e->dtype));
        goto done;
    }
    if (e->ndim == 2 || (e->ndim == 3 && e->shape[0] == 1)) {
        p->n_tokens = e->shape[e->ndim - 2];
        p->dim = e->shape[e->ndim - 1];
    } else {
        s = xattn_fail(err, XATTN_ERR_SHAPE,
                       "%s: tensor 'encoder_hidden_states' has %d dimensions%s, expected [T, D] or [1, T, D]",
                       path, e->ndim, e->ndim == 3 ? " with batch > 1" : "");
        goto done;
    }
    if (p->n_tokens == 0 || p->dim == 0) {
        s = check_embeddings(path, "encoder_hidden_states", p, err);
        goto done;
    }
    if ((s = alloc_prompt(path, p, err)) != XATTN_OK) goto done;
    if ((s = xattn_st_read_f32(f, e, p->embeddings, err)) != XATTN_OK) goto done;
    if ((s = check_embeddings(path, "encoder_hidden_states", p, err)) != XATTN_OK) goto done;

    const xattn_st_tensor *m = xattn_st_find(f, "attention_mask");
    if (m && (s = load_mask(path, m, p, err)) != XATTN_OK) goto done;

    const char *tokens = xattn_st_metadata(f, "tokens");
    s = tokens ? parse_tokens(path, tokens, p, err) : default_tokens(path, p, err);
    if (s != XATTN_OK) goto done;
    const char *text = xattn_st_metadata(f, "prompt");
    const char *encoder = xattn_st_metadata(f, "encoder");
    p->text = strdup(text ? text : "");
    p->encoder = strdup(encoder ? encoder : "");
    if (!p->text || !p->encoder) s = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
done:
    xattn_st_close(f);
    return s;
}

static xattn_status load_npy(const char *path, xattn_prompt *p, xattn_error *err) {
    float *data;
    size_t rows, cols;
    xattn_status s = npy_read_f32(path, &data, &rows, &cols, err);
    if (s != XATTN_OK) return s;
    p->n_tokens = rows;
    p->dim = cols;
    p->embeddings = data;
    if ((s = check_embeddings(path, "array", p, err)) != XATTN_OK) return s;
    p->mask = malloc(rows * sizeof *p->mask);       /* [T] */
    p->tokens = calloc(rows, sizeof *p->tokens);    /* [T] */
    p->text = strdup("");
    p->encoder = strdup("");
    if (!p->mask || !p->tokens || !p->text || !p->encoder)
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    for (size_t t = 0; t < rows; t++) p->mask[t] = 1;
    return default_tokens(path, p, err);
}

xattn_status xattn_prompt_load(const char *path, xattn_prompt **out, xattn_error *err) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return xattn_fail(err, XATTN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char magic[6];
    size_t got = fread(magic, 1, sizeof magic, fp);
    fclose(fp);
    xattn_prompt *p = calloc(1, sizeof *p);
    if (!p) return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    int is_npy = got == sizeof magic && memcmp(magic, "\x93NUMPY", 6) == 0;
    xattn_status s = is_npy ? load_npy(path, p, err) : load_safetensors(path, p, err);
    if (s != XATTN_OK) {
        if (!p->tokens) p->n_tokens = 0; /* nothing to free per token */
        xattn_prompt_free(p);
        return s;
    }
    *out = p;
    return XATTN_OK;
}
