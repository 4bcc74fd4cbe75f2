/* test_unet_parity.c — one U-Net forward against diffusers, module by module.
 *
 * For each test model, tools/dump_reference.py ran UNet2DConditionModel on fixed inputs
 * (batch 2, 7 text tokens, the second row with 2 padding tokens) and recorded every module's
 * output. The observer compares each intermediate as the C forward produces it; the noise
 * prediction must be within 1e-4 max abs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reference.h"
#include "test_util.h"
#include "xattn.h"

typedef struct check {
    const xattn_st_file *ref;
    int off; /* a pass on other inputs: nothing to compare */
    size_t compared, failed;
    int saw_noise_pred;
} check;

static void on_intermediate(const char *name, const float *data, const size_t shape[4], void *user) {
    check *c = user;
    if (c->off) return;
    const xattn_st_tensor *t = xattn_st_find(c->ref, name);
    if (!t) return; /* names the reference did not record (e.g. time_proj in older dumps) */
    size_t n = shape[0] * shape[1] * shape[2] * shape[3];
    if (t->numel != n) {
        printf("FAIL %s: %zu values, reference has %zu\n", name, n, t->numel);
        c->failed++;
        return;
    }
    float *want = reference_tensor(c->ref, name, NULL);
    c->failed += (size_t)compare_arrays(name, data, want, n, 1e-4);
    c->compared++;
    if (strcmp(name, "noise_pred") == 0) c->saw_noise_pred = 1;
    free(want);
}

static void run_parity(const char *model_name) {
    char dir[512];
    snprintf(dir, sizeof dir, "tests/data/models/%s", model_name);
    xattn_model *m = NULL;
    xattn_error err = {0};
    if (xattn_model_load(source_path(dir), &m, &err) != XATTN_OK) fail_msg("load: %s", err.msg);
    xattn_st_file *ref = reference_open(model_name);

    size_t n_sample, n_text, n_mask;
    float *sample = reference_tensor(ref, "in.sample", &n_sample);
    float *timestep = reference_tensor(ref, "in.timestep", NULL);
    float *text = reference_tensor(ref, "in.encoder_hidden_states", &n_text);
    float *mask = reference_tensor(ref, "in.attention_mask", &n_mask);
    const xattn_st_tensor *ts = xattn_st_find(ref, "in.encoder_hidden_states");
    size_t batch = ts->shape[0], n_tokens = ts->shape[1];

    xattn_unet_run *run = NULL;
    assert_int_equal(xattn_unet_run_new(m, batch, n_tokens, &run, &err), XATTN_OK);
    check c = {ref, 0, 0, 0, 0};
    xattn_unet_set_observer(run, on_intermediate, &c);
    float *pred = malloc(n_sample * sizeof *pred), *first = malloc(n_sample * sizeof *first);
    float *other = malloc(n_text * sizeof *other);
    for (size_t i = 0; i < n_text; i++) other[i] = 0.5f * text[i] + 0.1f;
    /* the second forward reuses the planned memory (and the text's keys and values) and must
     * give the same answer; then other text, whose prediction must differ (the cached keys and
     * values are not reused for it); then the first text again, matching the reference */
    for (int pass = 0; pass < 4; pass++) {
        printf("%s, pass %d%s\n", model_name, pass + 1, pass == 2 ? " (other text)" : "");
        c.compared = c.failed = 0;
        c.off = pass == 2;
        assert_int_equal(xattn_unet_forward(run, sample, timestep[0], pass == 2 ? other : text, mask,
                                            pred, &err), XATTN_OK);
        if (pass == 0) memcpy(first, pred, n_sample * sizeof *pred);
        if (pass == 2) {
            double diff = 0.0;
            for (size_t i = 0; i < n_sample; i++) diff = fmax(diff, fabs((double)pred[i] - first[i]));
            printf("%s: other text changes noise_pred by up to %.3g\n", model_name, diff);
            assert_true(diff > 1e-3);
            continue;
        }
        printf("%s: %zu intermediates compared, %zu failed\n", model_name, c.compared, c.failed);
        assert_true(c.saw_noise_pred);
        assert_true(c.compared >= 10);
        assert_int_equal(c.failed, 0);
    }
    free(first), free(other);
    free(pred), free(sample), free(timestep), free(text), free(mask);
    xattn_unet_run_free(run);
    xattn_st_close(ref);
    xattn_model_free(m);
}

static void test_conv_eps(void **state) { (void)state; run_parity("tiny_conv_eps"); }
static void test_linear_v(void **state) { (void)state; run_parity("tiny_linear_v"); }
static void test_conv_eps_f16(void **state) { (void)state; run_parity("tiny_conv_eps_f16"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_eps),
        cmocka_unit_test(test_linear_v),
        cmocka_unit_test(test_conv_eps_f16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
