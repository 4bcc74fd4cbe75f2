/* heat_spec.c — command-line selections of layers, heads and steps (grammar in xattn.h). */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "xattn.h"

#define MAX_SELECTABLE 64 /* bits of a uint64_t mask */

/* s[0 .. len) as a decimal integer in [0, max]: 0, or -1 when it is not one */
static int parse_index(const char *s, size_t len, long max, long *out) {
    if (len == 0 || len > 9) return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max) return -1;
    *out = v;
    return 0;
}

static const char *place_name(xattn_layer_place p) {
    return p == XATTN_PLACE_DOWN ? "down" : p == XATTN_PLACE_MID ? "mid" : "up";
}

/* "0 down:32, 1 down:16, 2 mid:8, ..." into buf */
static void list_layers(char *buf, size_t cap, const xattn_attention_layer *l, size_t n) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%zu %s:%d", i ? ", " : "", i,
                         place_name(l[i].place), l[i].height);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* The model's cross-attention layers, malloc'd [*n]; NULL if out of memory. */
static xattn_attention_layer *model_layers(const xattn_model *m, size_t *n) {
    *n = xattn_model_attention_layers(m, NULL, 0);
    xattn_attention_layer *l = malloc((*n ? *n : 1) * sizeof *l);
    if (l) xattn_model_attention_layers(m, l, *n);
    return l;
}

xattn_status xattn_heatmap_parse_layers(const xattn_model *m, const char *spec, uint64_t *layers,
                                        xattn_error *err) {
    *layers = 0;
    if (strcmp(spec, "all") == 0) return XATTN_OK;
    size_t n;
    xattn_attention_layer *l = model_layers(m, &n); /* [n] */
    if (!l) return xattn_fail(err, XATTN_ERR_NOMEM, "'%s': out of memory", spec);
    char known[256];
    list_layers(known, sizeof known, l, n);
    xattn_status st = XATTN_OK;
    uint64_t mask = 0;
    for (const char *term = spec; st == XATTN_OK; term++) {
        size_t len = strcspn(term, ",");
        long index, side = 0;
        if (parse_index(term, len, LONG_MAX / 2, &index) == 0) {
            if ((size_t)index >= n || index >= MAX_SELECTABLE)
                st = xattn_fail(err, XATTN_ERR_VALUE, "'%.*s': no layer %ld (the model's: %s)",
                                (int)len, term, index, known);
            else
                mask |= 1ull << index;
        } else {
            /* PLACE[:SIDE] */
            size_t plen = strcspn(term, ",:");
            int place = -1; /* 3 = all */
            static const char *const places[] = {"down", "mid", "up", "all"};
            for (int k = 0; k < 4; k++)
                if (strlen(places[k]) == plen && strncmp(term, places[k], plen) == 0) place = k;
            int bad_side = plen < len && (parse_index(term + plen + 1, len - plen - 1, 1 << 20,
                                                      &side) != 0 || side == 0);
            if (place < 0 || bad_side) {
                st = xattn_fail(err, XATTN_ERR_VALUE, "'%.*s' is not a layer index or down, mid, "
                                "up, all with an optional :SIDE (e.g. up:16)", (int)len, term);
                break;
            }
            size_t matched = 0;
            for (size_t i = 0; i < n; i++) {
                if ((place != 3 && (int)l[i].place != place) || (side && l[i].height != side)) continue;
                if (i >= MAX_SELECTABLE) continue;
                mask |= 1ull << i;
                matched++;
            }
            if (!matched)
                st = xattn_fail(err, XATTN_ERR_VALUE, "'%.*s' selects no layer (the model's: %s)",
                                (int)len, term, known);
        }
        term += len;
        if (*term == '\0') break;
    }
    free(l);
    if (st == XATTN_OK) *layers = mask;
    return st;
}

xattn_status xattn_heatmap_parse_heads(const xattn_model *m, const char *spec, uint64_t *heads,
                                       xattn_error *err) {
    *heads = 0;
    if (strcmp(spec, "all") == 0) return XATTN_OK;
    size_t n;
    xattn_attention_layer *l = model_layers(m, &n); /* [n] */
    if (!l) return xattn_fail(err, XATTN_ERR_NOMEM, "'%s': out of memory", spec);
    long max_heads = 0;
    for (size_t i = 0; i < n; i++)
        if (l[i].heads > max_heads) max_heads = l[i].heads;
    free(l);
    uint64_t mask = 0;
    for (const char *term = spec;; term++) {
        size_t len = strcspn(term, ","), dash = strcspn(term, "-,");
        long lo = 0, hi = 0; /* "N" or "N-M" */
        int bad = parse_index(term, dash, LONG_MAX / 2, &lo) != 0;
        if (dash < len)
            bad = bad || parse_index(term + dash + 1, len - dash - 1, LONG_MAX / 2, &hi) != 0;
        else
            hi = lo;
        if (bad || hi < lo)
            return xattn_fail(err, XATTN_ERR_VALUE, "'%.*s' is not a head index or range (e.g. 0,2-3)",
                              (int)len, term);
        if (hi >= max_heads || hi >= MAX_SELECTABLE)
            return xattn_fail(err, XATTN_ERR_VALUE, "'%.*s': no head %ld (the model's layers have "
                              "heads 0..%ld)", (int)len, term, hi, max_heads - 1);
        for (long h = lo; h <= hi; h++) mask |= 1ull << h;
        term += len;
        if (*term == '\0') break;
    }
    *heads = mask;
    return XATTN_OK;
}

xattn_status xattn_heatmap_parse_steps(const char *spec, int *step_begin, int *step_end,
                                       xattn_error *err) {
    *step_begin = 0;
    *step_end = INT_MAX;
    if (strcmp(spec, "all") == 0) return XATTN_OK;
    const long max = 1000000;
    size_t len = strlen(spec), colon = strcspn(spec, ":");
    long a = 0, b = INT_MAX;
    int ok;
    if (colon == len) { /* "A": one step */
        ok = parse_index(spec, len, max, &a) == 0;
        b = a + 1;
    } else {
        ok = (colon == 0 || parse_index(spec, colon, max, &a) == 0) &&
             (colon + 1 == len || parse_index(spec + colon + 1, len - colon - 1, max, &b) == 0);
    }
    if (!ok)
        return xattn_fail(err, XATTN_ERR_VALUE, "'%s' is not a step range A:B, A:, :B, A or all "
                          "(steps count from 0)", spec);
    if (b <= a)
        return xattn_fail(err, XATTN_ERR_VALUE, "'%s' is an empty step range (A:B means steps A "
                          "to B-1)", spec);
    *step_begin = (int)a;
    *step_end = (int)b;
    return XATTN_OK;
}
