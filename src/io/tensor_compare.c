/* xattn_tensor_compare.c — see xattn_tensor_compare.h. */
#include "xattn_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* |x - y| with the NaN and infinity conventions of xattn_tensor_compare.h. */
static double element_difference(double x, double y) {
    if (isnan(x) || isnan(y)) return isnan(x) && isnan(y) ? 0.0 : INFINITY;
    if (x == y) return 0.0; /* equal infinities too */
    return fabs(x - y);
}

static int same_shape(const xattn_st_tensor *x, const xattn_st_tensor *y) {
    if (x->ndim != y->ndim) return 0;
    for (int d = 0; d < x->ndim; d++)
        if (x->shape[d] != y->shape[d]) return 0;
    return 1;
}

static void diff_tensor(xattn_tensor_diff *d) {
    size_t n = d->a->numel;
    double sum = 0.0;
    d->max_abs = 0.0;
    d->worst = 0;
    for (size_t i = 0; i < n; i++) {
        double x = xattn_st_element_f64(d->a, i), y = xattn_st_element_f64(d->b, i);
        double e = element_difference(x, y);
        sum += e;
        if (e > d->max_abs) {
            d->max_abs = e;
            d->worst = i;
        }
    }
    d->mean_abs = n ? sum / (double)n : 0.0;
    d->worst_a = n ? xattn_st_element_f64(d->a, d->worst) : 0.0;
    d->worst_b = n ? xattn_st_element_f64(d->b, d->worst) : 0.0;
}

xattn_status xattn_tensor_compare(const xattn_st_file *a, const xattn_st_file *b, xattn_tensor_diff **diffs, size_t *n,
                            xattn_error *err) {
    *diffs = NULL;
    *n = 0;
    size_t count = xattn_st_count(a);
    for (size_t i = 0; i < xattn_st_count(b); i++) {
        const xattn_st_tensor *tb = xattn_st_at(b, i);
        if (!xattn_st_find(a, tb->name))
            return xattn_fail(err, XATTN_ERR_SHAPE, "%s: tensor %s is not in %s", xattn_st_path(b),
                              tb->name, xattn_st_path(a));
    }
    xattn_tensor_diff *out = calloc(count ? count : 1, sizeof *out); /* [count] */
    if (!out) return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", xattn_st_path(a));
    for (size_t i = 0; i < count; i++) {
        const xattn_st_tensor *ta = xattn_st_at(a, i), *tb = xattn_st_find(b, ta->name);
        if (!tb) {
            free(out);
            return xattn_fail(err, XATTN_ERR_SHAPE, "%s: tensor %s is not in %s", xattn_st_path(a),
                              ta->name, xattn_st_path(b));
        }
        if (!same_shape(ta, tb)) {
            free(out);
            return xattn_fail(err, XATTN_ERR_SHAPE, "%s: tensor %s has another shape than in %s",
                              xattn_st_path(b), ta->name, xattn_st_path(a));
        }
        out[i].a = ta;
        out[i].b = tb;
        diff_tensor(&out[i]);
    }
    *diffs = out;
    *n = count;
    return XATTN_OK;
}

/* The first key of x whose value differs in y or is absent from y; NULL when none. */
static const char *first_key_not_in(const xattn_st_file *x, const xattn_st_file *y) {
    for (size_t i = 0; i < xattn_st_metadata_count(x); i++) {
        const char *key, *value;
        xattn_st_metadata_at(x, i, &key, &value);
        const char *other = xattn_st_metadata(y, key);
        if (!other || strcmp(other, value) != 0) return key;
    }
    return NULL;
}

const char *xattn_tensor_metadata_difference(const xattn_st_file *a, const xattn_st_file *b) {
    const char *key = first_key_not_in(a, b);
    return key ? key : first_key_not_in(b, a);
}
