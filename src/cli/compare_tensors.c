/* compare_tensors.c — `xattn compare A.safetensors B.safetensors [--atol X] [--json]`: the
 * tensor-by-tensor half of `xattn compare` (docs/compare.md), for heatmaps.safetensors and
 * other raw outputs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "compare.h"
#include "xattn_io.h"

/* "[8, 32, 32]" into buf. */
static void format_shape(const xattn_st_tensor *t, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, "%s%zu", d ? ", " : "", t->shape[d]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

/* JSON has no infinity: an infinite difference is written as null. */
static void add_number_or_null(cJSON *o, const char *key, double x) {
    if (isfinite(x))
        cJSON_AddNumberToObject(o, key, x);
    else
        cJSON_AddNullToObject(o, key);
}

static int print_json(const compare_request *req, const xattn_tensor_diff *d, size_t n, double max_abs,
                      const char *meta_key, int within) {
    cJSON *o = cJSON_CreateObject();
    if (!o) goto nomem;
    cJSON_AddStringToObject(o, "a", req->path_a);
    cJSON_AddStringToObject(o, "b", req->path_b);
    cJSON *list = cJSON_AddArrayToObject(o, "tensors");
    if (!list) goto nomem;
    for (size_t i = 0; i < n; i++) {
        cJSON *t = cJSON_CreateObject();
        if (!t) goto nomem;
        cJSON_AddItemToArray(list, t);
        char shape[160];
        format_shape(d[i].a, shape, sizeof shape);
        cJSON_AddStringToObject(t, "name", d[i].a->name);
        cJSON_AddStringToObject(t, "shape", shape);
        add_number_or_null(t, "max_abs_diff", d[i].max_abs);
        add_number_or_null(t, "mean_abs_diff", d[i].mean_abs);
        cJSON *w = cJSON_AddObjectToObject(t, "worst");
        if (!w) goto nomem;
        cJSON_AddNumberToObject(w, "index", (double)d[i].worst);
        add_number_or_null(w, "a", d[i].worst_a);
        add_number_or_null(w, "b", d[i].worst_b);
    }
    add_number_or_null(o, "max_abs_diff", max_abs);
    if (meta_key)
        cJSON_AddStringToObject(o, "metadata_differs", meta_key);
    else
        cJSON_AddNullToObject(o, "metadata_differs");
    cJSON_AddNumberToObject(o, "atol", req->atol);
    cJSON_AddBoolToObject(o, "within_tolerance", within);
    if (!cli_print_json(o)) goto nomem_deleted;
    return CLI_EXIT_OK;
nomem:
    cJSON_Delete(o);
nomem_deleted:
    cli_error("json: out of memory");
    return CLI_EXIT_INPUT;
}

static void print_text(const compare_request *req, const xattn_tensor_diff *d, size_t n, double max_abs,
                       const char *meta_key, int within) {
    printf("a: %s\nb: %s\n", req->path_a, req->path_b);
    for (size_t i = 0; i < n; i++) {
        char shape[160];
        format_shape(d[i].a, shape, sizeof shape);
        printf("tensor %s %s: max_abs_diff %.9g, mean_abs_diff %.9g", d[i].a->name, shape,
               d[i].max_abs, d[i].mean_abs);
        if (d[i].max_abs > 0)
            printf(", worst at %zu: %.9g vs %.9g", d[i].worst, d[i].worst_a, d[i].worst_b);
        putchar('\n');
    }
    printf("metadata: %s%s\n", meta_key ? "differs at key " : "same", meta_key ? meta_key : "");
    printf("tolerance: max_abs_diff <= %g\n", req->atol);
    printf("result: %s\n", max_abs == 0 && !meta_key ? "identical"
                           : within                  ? "within tolerance"
                                                     : "past tolerance");
}

int compare_tensor_files(const compare_request *req) {
    xattn_st_file *a = NULL, *b = NULL;
    xattn_tensor_diff *d = NULL;
    size_t n = 0;
    xattn_error err = {0};
    int code = CLI_EXIT_INPUT;
    if (xattn_st_open(req->path_a, &a, &err) != XATTN_OK || xattn_st_open(req->path_b, &b, &err) != XATTN_OK ||
        xattn_tensor_compare(a, b, &d, &n, &err) != XATTN_OK) {
        cli_lib_error(&err);
        goto done;
    }
    double max_abs = 0.0;
    size_t worst_tensor = 0;
    for (size_t i = 0; i < n; i++)
        if (d[i].max_abs > max_abs) {
            max_abs = d[i].max_abs;
            worst_tensor = i;
        }
    const char *meta_key = xattn_tensor_metadata_difference(a, b);
    int within = max_abs <= req->atol && !meta_key;
    if (req->json) {
        if (print_json(req, d, n, max_abs, meta_key, within) != CLI_EXIT_OK) goto done;
    } else {
        print_text(req, d, n, max_abs, meta_key, within);
    }
    fflush(stdout);
    if (meta_key)
        cli_error("%s: metadata %s differs from %s's", req->path_b, meta_key, req->path_a);
    else if (!within)
        cli_error("%s: differs from %s past tolerance: tensor %s max abs difference %.9g > %g at "
                  "element %zu (%.9g vs %.9g)",
                  req->path_b, req->path_a, d[worst_tensor].a->name, max_abs, req->atol,
                  d[worst_tensor].worst, d[worst_tensor].worst_a, d[worst_tensor].worst_b);
    else
        code = CLI_EXIT_OK;
done:
    free(d);
    xattn_st_close(a);
    xattn_st_close(b);
    return code;
}
