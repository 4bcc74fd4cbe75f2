/* perturb_weight.c — the golden teeth test's tool: copies a safetensors file with one element of
 * one tensor changed, so that a test can show a small weight change fails the golden comparison.
 *
 *   perturb_weight IN.safetensors OUT.safetensors TENSOR INDEX DELTA
 *
 * OUT holds every tensor of IN as F32 (F16/BF16 widen exactly) and IN's metadata, with
 * TENSOR[INDEX] (flat, row-major) += DELTA; DELTA 0 gives an unchanged copy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xattn_io.h"

static int fail(const char *msg, const xattn_error *err) {
    fprintf(stderr, "perturb_weight: %s\n", err ? err->msg : msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 6) return fail("usage: perturb_weight IN OUT TENSOR INDEX DELTA", NULL);
    const char *in = argv[1], *out = argv[2], *name = argv[3];
    char *end;
    size_t index = strtoull(argv[4], &end, 10);
    if (*end) return fail("INDEX: not a number", NULL);
    float delta = strtof(argv[5], &end);
    if (*end) return fail("DELTA: not a number", NULL);

    xattn_error err = {0};
    xattn_st_file *f;
    if (xattn_st_open(in, &f, &err) != XATTN_OK) return fail(NULL, &err);
    size_t n = xattn_st_count(f), n_meta = xattn_st_metadata_count(f);
    xattn_st_write_tensor *tensors = calloc(n ? n : 1, sizeof *tensors);        /* [n] */
    float **data = calloc(n ? n : 1, sizeof *data);                      /* [n][numel] */
    const char **keys = calloc(n_meta ? n_meta : 1, sizeof *keys);       /* [n_meta] */
    const char **values = calloc(n_meta ? n_meta : 1, sizeof *values);   /* [n_meta] */
    int code = 1, found = 0;
    if (!tensors || !data || !keys || !values) {
        fail("out of memory", NULL);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const xattn_st_tensor *t = xattn_st_at(f, i);
        data[i] = malloc((t->numel ? t->numel : 1) * sizeof(float));
        if (!data[i]) {
            fail("out of memory", NULL);
            goto done;
        }
        if (xattn_st_read_f32(f, t, data[i], &err) != XATTN_OK) {
            fail(NULL, &err);
            goto done;
        }
        if (strcmp(t->name, name) == 0) {
            if (index >= t->numel) {
                fprintf(stderr, "perturb_weight: %s has %zu elements, not %zu\n", name, t->numel,
                        index + 1);
                goto done;
            }
            printf("%s[%zu]: %.9g -> %.9g\n", name, index, data[i][index], data[i][index] + delta);
            data[i][index] += delta;
            found = 1;
        }
        tensors[i] = (xattn_st_write_tensor){.name = t->name, .ndim = t->ndim, .data = data[i]};
        memcpy(tensors[i].shape, t->shape, sizeof t->shape);
    }
    if (!found) {
        fprintf(stderr, "perturb_weight: %s: no tensor %s\n", in, name);
        goto done;
    }
    for (size_t i = 0; i < n_meta; i++) xattn_st_metadata_at(f, i, &keys[i], &values[i]);
    if (xattn_st_write_f32(out, tensors, n, keys, values, n_meta, &err) != XATTN_OK) {
        fail(NULL, &err);
        goto done;
    }
    code = 0;
done:
    for (size_t i = 0; data && i < n; i++) free(data[i]);
    free(data);
    free(tensors);
    free(keys);
    free(values);
    xattn_st_close(f);
    return code;
}
