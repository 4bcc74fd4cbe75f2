/* test_img2img.c — image-to-image (xattn_denoise) against diffusers' img2img
 * (tools/dump_img2img_reference.py on tiny_linear_v, DDIM eta 0.5, cfg 3, strength 0.65):
 *   - the input PNG read back and mapped to [-1, 1] equals the reference's init;
 *   - the steps run are the reference's timesteps;
 *   - free-running with the reference's recorded noise: the sample after add_noise and the
 *     final sample within 1e-3 max abs;
 *   - from the seed alone (the torch-compatible RNG draws the same noise): the final sample;
 *   - bad strengths are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xattn_io.h"
#include "model/model.h"
#include "reference.h"
#include "sampler/sampler.h"
#include "sampler/scheduler.h"
#include "test_util.h"
#include "xattn.h"

/* draw 0: the add_noise noise; draw k: the k-th step row that is not all zeros */
static const char *meta(const xattn_st_file *ref, const char *key) {
    const char *v = xattn_st_metadata(ref, key);
    if (!v) fail_msg("reference metadata '%s' missing", key);
    return v;
}

typedef struct fixture {
    xattn_model *m;
    xattn_st_file *ref;
    xattn_prompt cond, uncond;
    float *ce, *cm, *ue, *um, *init; /* reference tensors */
    size_t img;
    xattn_generate_params p;
    double strength;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    xattn_error err = {0};
    if (xattn_model_load(source_path("tests/data/models/tiny_linear_v"), &f->m, &err) != XATTN_OK)
        fail_msg("load: %s", err.msg);
    f->ref = reference_open("img2img_tiny_linear_v");
    size_t n;
    f->ce = reference_tensor(f->ref, "cond", &n);
    f->cm = reference_tensor(f->ref, "cond_mask", &f->cond.n_tokens);
    f->cond.dim = n / f->cond.n_tokens;
    f->cond.embeddings = f->ce, f->cond.mask = f->cm;
    f->ue = reference_tensor(f->ref, "uncond", &n);
    f->um = reference_tensor(f->ref, "uncond_mask", &f->uncond.n_tokens);
    f->uncond.dim = n / f->uncond.n_tokens;
    f->uncond.embeddings = f->ue, f->uncond.mask = f->um;
    f->init = reference_tensor(f->ref, "init", &f->img);
    xattn_generate_params_init(&f->p);
    f->p.sampler = XATTN_SAMPLER_DDIM;
    f->p.steps = atoi(meta(f->ref, "steps"));
    f->p.cfg = (float)atof(meta(f->ref, "cfg"));
    f->p.eta = (float)atof(meta(f->ref, "eta"));
    f->p.seed = strtoull(meta(f->ref, "seed"), NULL, 10);
    f->strength = atof(meta(f->ref, "strength"));
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (!f) return 0;
    free(f->ce), free(f->cm), free(f->ue), free(f->um), free(f->init);
    xattn_st_close(f->ref);
    xattn_model_free(f->m);
    free(f);
    return 0;
}

static void test_input_image(void **state) {
    fixture *f = *state;
    uint8_t *rgb = NULL;
    size_t w, h;
    xattn_error err = {0};
    if (xattn_image_read_rgb(source_path("tests/data/reference/img2img_input.png"), &rgb, &w, &h, &err) != XATTN_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(3 * w * h, f->img);
    float *chw = malloc(f->img * sizeof *chw); /* [3, h, w] */
    for (size_t c = 0; c < 3; c++)
        for (size_t k = 0; k < w * h; k++) chw[c * w * h + k] = (float)rgb[k * 3 + c] / 127.5f - 1.0f;
    assert_int_equal(compare_arrays("input PNG -> [-1, 1]", chw, f->init, f->img, 1e-6), 0);
    free(chw);
    free(rgb);
}

static void test_timesteps(void **state) {
    fixture *f = *state;
    scheduler *s = NULL;
    xattn_error err = {0};
    assert_int_equal(scheduler_new(&f->m->scheduler, XATTN_SAMPLER_DDIM, f->p.steps, f->p.eta, &s, &err), XATTN_OK);
    int first = scheduler_first_step_for_strength(s, f->strength);
    assert_int_equal(first, atoi(meta(f->ref, "first_step")));
    size_t n;
    float *want = reference_tensor(f->ref, "timesteps", &n);
    assert_int_equal(n, (size_t)(f->p.steps - first));
    float *got = malloc(n * sizeof *got);
    for (size_t i = 0; i < n; i++) got[i] = (float)scheduler_timestep(s, first + (int)i);
    assert_int_equal(compare_arrays("img2img timesteps", got, want, n, 0.0), 0);
    free(got), free(want);
    scheduler_free(s);
}

static void test_recorded_noise(void **state) {
    fixture *f = *state;
    size_t n_step;
    float *noise = reference_tensor(f->ref, "noise", NULL);
    float *steps = reference_tensor(f->ref, "step_noise", &n_step);
    float *want = reference_tensor(f->ref, "image", NULL);
    float *noisy_want = reference_tensor(f->ref, "noisy", NULL);
    float *got = malloc(f->img * sizeof *got);
    xattn_error err = {0};
    int failed = 0;

    /* the start: add_noise at the first step's timestep */
    scheduler *s = NULL;
    assert_int_equal(scheduler_new(&f->m->scheduler, XATTN_SAMPLER_DDIM, f->p.steps, f->p.eta, &s, &err), XATTN_OK);
    int first = scheduler_first_step_for_strength(s, f->strength);
    assert_int_equal(scheduler_add_noise(s, scheduler_timestep(s, first), f->init, noise, got, f->img, &err), XATTN_OK);
    failed |= compare_arrays("img2img add_noise", got, noisy_want, f->img, 1e-6);
    scheduler_free(s);

    recorded_noise rec = {noise, steps, n_step / f->img, f->img, 0};
    if (sample_images_from(f->m, &f->cond, &f->uncond, &f->p, f->init, f->strength, recorded_source,
                           &rec, got, &err) != XATTN_OK)
        fail_msg("%s", err.msg);
    failed |= compare_arrays("img2img tiny_linear_v (recorded noise)", got, want, f->img, 1e-3);

    if (xattn_denoise(f->m, &f->cond, &f->uncond, &f->p, f->init, f->strength, got, &err) != XATTN_OK)
        fail_msg("%s", err.msg);
    failed |= compare_arrays("img2img tiny_linear_v (seed)", got, want, f->img, 1e-3);
    assert_int_equal(failed, 0);
    free(noise), free(steps), free(want), free(noisy_want), free(got);
}

/* A batch of 2 from one seed: image 0 is the batch-1 result only when the noise differs per
 * image, so check that the two images differ and both are finite. */
static void test_batch(void **state) {
    fixture *f = *state;
    xattn_generate_params p = f->p;
    p.batch = 2;
    float *got = malloc(2 * f->img * sizeof *got);
    xattn_error err = {0};
    if (xattn_denoise(f->m, &f->cond, &f->uncond, &p, f->init, f->strength, got, &err) != XATTN_OK)
        fail_msg("%s", err.msg);
    double diff = 0;
    for (size_t k = 0; k < f->img; k++) diff += (double)(got[k] - got[f->img + k]) * (got[k] - got[f->img + k]);
    assert_true(diff > 1e-6);
    free(got);
}

static void test_bad_strength(void **state) {
    fixture *f = *state;
    float *got = malloc(f->img * sizeof *got);
    xattn_error err = {0};
    const double bad[] = {0.0, -0.5, 1.5, 0.05 /* 10 steps * 0.05 -> no step */};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        err.msg[0] = 0;
        assert_int_equal(xattn_denoise(f->m, &f->cond, &f->uncond, &f->p, f->init, bad[k], got, &err),
                         XATTN_ERR_VALUE);
        assert_non_null(strstr(err.msg, "strength: "));
    }
    float *nan_init = malloc(f->img * sizeof *nan_init);
    memcpy(nan_init, f->init, f->img * sizeof *nan_init);
    nan_init[5] = 0.0f / 0.0f;
    assert_int_equal(xattn_denoise(f->m, &f->cond, &f->uncond, &f->p, nan_init, 0.5, got, &err),
                     XATTN_ERR_VALUE);
    free(nan_init);
    free(got);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_image), cmocka_unit_test(test_timesteps),
        cmocka_unit_test(test_recorded_noise), cmocka_unit_test(test_batch),
        cmocka_unit_test(test_bad_strength),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
