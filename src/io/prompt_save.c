/* prompt_save.c — writing a prompt embedding in the format tools/encode_prompt.py writes:
 *   encoder_hidden_states F32 [T, D], attention_mask F32 [T];
 *   metadata encoder, prompt (the text), tokens (a JSON array of the T token strings, as
 *   Python's json.dumps(tokens, ensure_ascii=False) writes it). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "xattn.h"
#include "xattn_io.h"

/* Appends s as a JSON string as json.dumps(..., ensure_ascii=False) writes it (at most
 * 6 bytes per byte of s, plus the quotes). */
static char *json_append(char *p, const char *s) {
    *p++ = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': p += sprintf(p, "\\\""); break;
        case '\\': p += sprintf(p, "\\\\"); break;
        case '\n': p += sprintf(p, "\\n"); break;
        case '\r': p += sprintf(p, "\\r"); break;
        case '\t': p += sprintf(p, "\\t"); break;
        case '\b': p += sprintf(p, "\\b"); break;
        case '\f': p += sprintf(p, "\\f"); break;
        default:
            if (*c < 0x20) p += sprintf(p, "\\u%04x", *c);
            else *p++ = (char)*c;
        }
    }
    *p++ = '"';
    return p;
}

/* json.dumps(tokens, ensure_ascii=False): ["[CLS]", "a", ...] (malloc'd); labels "t0", "t1", ...
 * when the prompt has none. */
static char *tokens_json(const xattn_prompt *p) {
    size_t n = p->n_tokens, cap = 3;
    char label[32];
    for (size_t t = 0; t < n; t++) cap += 6 * (p->tokens ? strlen(p->tokens[t]) : sizeof label) + 4;
    char *out = malloc(cap), *q = out;
    if (!out) return NULL;
    *q++ = '[';
    for (size_t t = 0; t < n; t++) {
        if (t) *q++ = ',', *q++ = ' ';
        if (p->tokens) {
            q = json_append(q, p->tokens[t]);
        } else {
            snprintf(label, sizeof label, "t%zu", t);
            q = json_append(q, label);
        }
    }
    *q++ = ']';
    *q = 0;
    return out;
}

xattn_status xattn_prompt_save(const xattn_prompt *p, const char *path, xattn_error *err) {
    if (!p || p->n_tokens == 0 || p->dim == 0 || !p->embeddings)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: the prompt has no tokens to write", path);
    char *tokens = NULL;
    float *ones = NULL;
    const float *mask = p->mask;
    if (!mask) { /* a prompt built without a mask: every token is real */
        if ((ones = malloc(p->n_tokens * sizeof *ones)))
            for (size_t t = 0; t < p->n_tokens; t++) ones[t] = 1.0f;
        mask = ones;
    }
    if (!mask || !(tokens = tokens_json(p))) {
        free(ones);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    }
    xattn_st_write_tensor ts[2] = {
        {.name = "encoder_hidden_states", .ndim = 2, .shape = {p->n_tokens, p->dim}, .data = p->embeddings},
        {.name = "attention_mask", .ndim = 1, .shape = {p->n_tokens}, .data = mask},
    };
    /* Sorted, as encode_prompt.py; the writer turns ill-formed UTF-8 into U+FFFD. */
    const char *keys[3] = {"encoder", "prompt", "tokens"};
    const char *values[3] = {p->encoder ? p->encoder : "", p->text ? p->text : "", tokens};
    xattn_status st = xattn_st_write_f32(path, ts, 2, keys, values, 3, err);
    free(tokens);
    free(ones);
    return st;
}
