/* test_samplers_parity.c — Euler, Euler a, Heun, DPM++ 2M (SDE), UniPC, LMS and PNDM (also with
 * Karras sigmas) on the three test models against diffusers (tools/dump_reference.py, runs
 * tf_<sampler>[_karras] and fr_<sampler>), with classifier-free guidance:
 *   - teacher-forced: each U-Net call starts from diffusers' latents of the call before (the
 *     sampler's history is built from diffusers' outputs); the timestep the U-Net sees must
 *     match, the guided prediction within 1e-4 and the step within 1e-5, both relative to the
 *     scale of the values (max(1, max |want|): the sigma samplers' latents reach sigma_max,
 *     ~2e4 on the cosine schedule, where one float32 ulp is 2e-3);
 *   - free-running 20 steps from the seed alone (xattn_generate): the final sample within 1e-3
 *     (also relative to its scale). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "model/model.h"
#include "reference.h"
#include "sampler/sampler.h"
#include "sampler/scheduler.h"
#include "test_util.h"
#include "xattn.h"

static const char *const models[] = {"tiny_conv_eps", "tiny_conv_eps_f16", "tiny_linear_v"};
static const char *const samplers[] = {"euler", "euler_a", "heun", "dpmpp_2m",
                                       "dpmpp_2m_sde", "unipc", "lms", "pndm"};
static const char *const karras_samplers[] = {"euler", "heun", "lms", "dpmpp_2m",
                                              "dpmpp_2m_sde", "unipc"};

static const char *meta(const xattn_st_file *ref, const char *run, const char *key) {
    char k[96];
    snprintf(k, sizeof k, "%s.%s", run, key);
    const char *v = xattn_st_metadata(ref, k);
    if (!v) fail_msg("reference metadata '%s' missing", k);
    return v;
}

static double scale_of(const float *v, size_t n) {
    double m = 1.0;
    for (size_t k = 0; k < n; k++)
        if (fabs((double)v[k]) > m) m = fabs((double)v[k]);
    return m;
}

typedef struct fixture {
    xattn_model *m;
    xattn_st_file *ref;
    xattn_prompt cond, uncond;
    float *ce, *cm, *ue, *um;
} fixture;

static void open_fixture(fixture *f, const char *model_name) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/data/models/%s", model_name);
    xattn_error err = {0};
    if (xattn_model_load(source_path(dir), &f->m, &err) != XATTN_OK) fail_msg("load: %s", err.msg);
    char ref_name[96];
    snprintf(ref_name, sizeof ref_name, "samplers_%s", model_name);
    f->ref = reference_open(ref_name);
    const xattn_st_tensor *t = xattn_st_find(f->ref, "ddim.cond");
    assert_non_null(t);
    f->ce = reference_tensor(f->ref, "ddim.cond", NULL);
    f->cm = reference_tensor(f->ref, "ddim.cond_mask", NULL);
    f->cond = (xattn_prompt){.n_tokens = t->shape[0], .dim = t->shape[1], .embeddings = f->ce,
                             .mask = f->cm};
    t = xattn_st_find(f->ref, "ddim.uncond");
    assert_non_null(t);
    f->ue = reference_tensor(f->ref, "ddim.uncond", NULL);
    f->um = reference_tensor(f->ref, "ddim.uncond_mask", NULL);
    f->uncond = (xattn_prompt){.n_tokens = t->shape[0], .dim = t->shape[1], .embeddings = f->ue,
                               .mask = f->um};
}

static void close_fixture(fixture *f) {
    free(f->ce), free(f->cm), free(f->ue), free(f->um);
    xattn_st_close(f->ref);
    xattn_model_free(f->m);
}

static void params_of(const xattn_st_file *ref, const char *run, xattn_generate_params *p) {
    xattn_generate_params_init(p);
    xattn_error err = {0};
    int karras = 0;
    if (xattn_sampler_from_name(meta(ref, run, "sampler"), &p->sampler, &karras, &err))
        fail_msg("%s", err.msg);
    p->karras = atoi(meta(ref, run, "karras"));
    p->steps = atoi(meta(ref, run, "steps"));
    p->cfg = (float)atof(meta(ref, run, "cfg"));
    p->seed = strtoull(meta(ref, run, "seed"), NULL, 10);
}

/* Returns the number of failed comparisons. */
static int teacher_forced(fixture *f, const char *model_name, const char *run) {
    xattn_generate_params p;
    params_of(f->ref, run, &p);
    char name[96];
    size_t img, n_t, n_lat;
    snprintf(name, sizeof name, "%s.init_noise", run);
    float *init = reference_tensor(f->ref, name, &img);
    snprintf(name, sizeof name, "%s.timesteps", run);
    float *ts = reference_tensor(f->ref, name, &n_t);
    snprintf(name, sizeof name, "%s.latents", run);
    float *latents = reference_tensor(f->ref, name, &n_lat);
    snprintf(name, sizeof name, "%s.noise_pred", run);
    float *eps_ref = reference_tensor(f->ref, name, NULL);
    float *noise = NULL;
    snprintf(name, sizeof name, "%s.step_noise", run);
    if (xattn_st_find(f->ref, name)) noise = reference_tensor(f->ref, name, NULL);

    size_t D = f->cond.dim;
    size_t T = f->cond.n_tokens > f->uncond.n_tokens ? f->cond.n_tokens : f->uncond.n_tokens;
    float *text = calloc(2 * T * D, sizeof *text), *mask = calloc(2 * T, sizeof *mask);
    memcpy(text, f->uncond.embeddings, f->uncond.n_tokens * D * sizeof *text);
    memcpy(mask, f->uncond.mask, f->uncond.n_tokens * sizeof *mask);
    memcpy(text + T * D, f->cond.embeddings, f->cond.n_tokens * D * sizeof *text);
    memcpy(mask + T, f->cond.mask, f->cond.n_tokens * sizeof *mask);
    float *in = malloc(2 * img * sizeof *in), *pred = malloc(2 * img * sizeof *pred);
    float *eps = malloc(img * sizeof *eps), *prev = malloc(img * sizeof *prev);
    float *x0 = malloc(img * sizeof *x0);

    xattn_error err = {0};
    xattn_unet_run *r = NULL;
    scheduler *s = NULL;
    assert_int_equal(xattn_unet_run_new(f->m, 2, T, &r, &err), XATTN_OK);
    if (scheduler_new_karras(&f->m->scheduler, p.sampler, p.steps, 0.0f, p.karras, &s, &err))
        fail_msg("%s: %s", run, err.msg);
    int E = scheduler_n_evals(s), failed = 0;
    if ((size_t)E != n_t) {
        printf("FAIL %s %s: %d U-Net calls, diffusers %zu\n", model_name, run, E, n_t);
        failed++;
        E = 0;
    }
    assert_int_equal(scheduler_prepare(s, img, &err), XATTN_OK);
    float sigma0 = scheduler_init_noise_sigma(s);
    for (size_t k = 0; k < img; k++) x0[k] = init[k] * sigma0;
    double worst_step = 0.0, worst_pred = 0.0;
    for (int i = 0; i < E; i++) {
        const float *x = i == 0 ? x0 : latents + (size_t)(i - 1) * img;
        float t = scheduler_model_timestep(s, i);
        if (fabsf(t - ts[i]) > 1e-4f * fmaxf(1.0f, fabsf(ts[i]))) {
            printf("FAIL %s %s: call %d timestep %.9g, diffusers %.9g\n", model_name, run, i,
                   (double)t, (double)ts[i]);
            failed++;
        }
        scheduler_scale_input(s, i, x, in, img);
        memcpy(in + img, in, img * sizeof *in);
        assert_int_equal(xattn_unet_forward(r, in, ts[i], text, mask, pred, &err), XATTN_OK);
        for (size_t k = 0; k < img; k++) eps[k] = pred[k] + p.cfg * (pred[img + k] - pred[k]);
        const float *want_eps = eps_ref + (size_t)i * img;
        double sc = scale_of(want_eps, img);
        char what[160];
        snprintf(what, sizeof what, "%s %s call %d guided prediction (scale %.3g)", model_name, run,
                 i, sc);
        failed += compare_arrays(what, eps, want_eps, img, 1e-4 * sc);
        scheduler_step(s, i, want_eps, x, noise ? noise + (size_t)i * img : NULL, prev, img);
        const float *want = latents + (size_t)i * img;
        sc = fmax(scale_of(want, img), scale_of(x, img)); /* the step's operands' scale */
        double m = 0.0;
        for (size_t k = 0; k < img; k++) m = fmax(m, fabs((double)prev[k] - want[k]) / sc);
        if (m > worst_step) worst_step = m;
        snprintf(what, sizeof what, "%s %s call %d step (t=%g, scale %.3g)", model_name, run, i,
                 (double)ts[i], sc);
        failed += compare_arrays(what, prev, want, img, 1e-5 * sc);
        (void)worst_pred;
    }
    printf("== %s %s: %d calls, worst step error %.3g (relative to max(1, |x in|, |x out|))\n",
           model_name, run, E, worst_step);
    scheduler_free(s);
    xattn_unet_run_free(r);
    free(init), free(ts), free(latents), free(eps_ref), free(noise), free(text), free(mask);
    free(in), free(pred), free(eps), free(prev), free(x0);
    return failed;
}

static int free_running(fixture *f, const char *model_name, const char *run) {
    xattn_generate_params p;
    params_of(f->ref, run, &p);
    char name[96];
    size_t img;
    snprintf(name, sizeof name, "%s.image", run);
    float *want = reference_tensor(f->ref, name, &img);
    float *got = malloc(img * sizeof *got);
    xattn_error err = {0};
    if (xattn_generate(f->m, &f->cond, &f->uncond, &p, got, &err)) fail_msg("%s: %s", run, err.msg);
    double sc = scale_of(want, img);
    char what[160];
    snprintf(what, sizeof what, "%s %s (%d steps, seed %llu, scale %.3g)", model_name, run,
             p.steps, (unsigned long long)p.seed, sc);
    int failed = compare_arrays(what, got, want, img, 1e-3); /* absolute */
    free(got), free(want);
    return failed;
}

/* Runs that diffusers itself cannot make are not in the dump (Karras sigmas on the cosine
 * schedule repeat the first timestep: diffusers' step index starts at its second occurrence and
 * runs past the end of the schedule). */
static int have_run(const fixture *f, const char *model_name, const char *run) {
    char k[96];
    snprintf(k, sizeof k, "%s.sampler", run);
    if (xattn_st_metadata(f->ref, k)) return 1;
    printf("-- %s %s: not in the dump (diffusers fails on it)\n", model_name, run);
    return 0;
}

static void run_model(int model) {
    fixture f;
    open_fixture(&f, models[model]);
    int failed = 0;
    char run[64];
    for (size_t k = 0; k < sizeof samplers / sizeof *samplers; k++) {
        snprintf(run, sizeof run, "tf_%s", samplers[k]);
        if (have_run(&f, models[model], run)) failed += teacher_forced(&f, models[model], run);
        snprintf(run, sizeof run, "fr_%s", samplers[k]);
        if (have_run(&f, models[model], run)) failed += free_running(&f, models[model], run);
    }
    for (size_t k = 0; k < sizeof karras_samplers / sizeof *karras_samplers; k++) {
        snprintf(run, sizeof run, "tf_%s_karras", karras_samplers[k]);
        if (have_run(&f, models[model], run)) failed += teacher_forced(&f, models[model], run);
    }
    close_fixture(&f);
    assert_int_equal(failed, 0);
}

static void test_conv_eps(void **s) { (void)s; run_model(0); }
static void test_conv_eps_f16(void **s) { (void)s; run_model(1); }
static void test_linear_v(void **s) { (void)s; run_model(2); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_eps),
        cmocka_unit_test(test_conv_eps_f16),
        cmocka_unit_test(test_linear_v),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
