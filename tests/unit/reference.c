#include "reference.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "model/unet_config.h"
#include "test_util.h"

xattn_st_file *reference_open(const char *name) {
    char rel[512];
    snprintf(rel, sizeof rel, "tests/data/reference/%s.safetensors", name);
    xattn_st_file *f = NULL;
    xattn_error err = {0};
    if (xattn_st_open(source_path(rel), &f, &err) != XATTN_OK) fail_msg("%s", err.msg);
    return f;
}

float *reference_tensor(const xattn_st_file *f, const char *name, size_t *numel) {
    const xattn_st_tensor *t = xattn_st_find(f, name);
    if (!t) fail_msg("%s: tensor '%s' missing from the reference", xattn_st_path(f), name);
    float *out = malloc((t->numel ? t->numel : 1) * sizeof *out);
    xattn_error err = {0};
    if (xattn_st_read_f32(f, t, out, &err) != XATTN_OK) fail_msg("%s", err.msg);
    if (numel) *numel = t->numel;
    return out;
}

static int row_is_zero(const float *row, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (row[i] != 0.0f) return 0;
    return 1;
}

void recorded_source(float *out, size_t n, size_t draw, void *user) {
    recorded_noise *r = user;
    assert_int_equal(n, r->img);
    if (draw == 0) {
        memcpy(out, r->first, n * sizeof *out);
        return;
    }
    while (r->next_step < r->n_steps && row_is_zero(r->steps + r->next_step * n, n)) r->next_step++;
    assert_true(r->next_step < r->n_steps);
    memcpy(out, r->steps + r->next_step * n, n * sizeof *out);
    r->next_step++;
}

cJSON *reference_json(const char *rel) {
    const char *path = source_path(rel);
    char *text = NULL;
    xattn_error err = {0};
    if (read_text_file(path, 64u << 20, &text, &err) != XATTN_OK)
        fail_msg("%s (run tools/dump_scheduler_reference.py)", err.msg);
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) fail_msg("%s: not valid JSON", path);
    return root;
}

float *reference_json_floats(const cJSON *array, size_t *n) {
    assert_true(cJSON_IsArray(array));
    *n = (size_t)cJSON_GetArraySize(array);
    float *v = malloc((*n ? *n : 1) * sizeof *v);
    assert_non_null(v);
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, array) {
        assert_true(cJSON_IsNumber(item));
        v[i++] = (float)item->valuedouble;
    }
    return v;
}
