/* test_sampler_parity.c — 10-step DDIM and DDPM runs with classifier-free guidance against
 * diffusers (tools/dump_reference.py), three ways:
 *   - teacher-forced: each step starts from diffusers' latents of the step before; the guided
 *     noise prediction must match within 1e-4 and the scheduler step within 1e-5;
 *   - free-running with diffusers' recorded noise: the final sample within 1e-3 max abs;
 *   - free-running from the seed alone, which checks that the torch-compatible RNG draws
 *     diffusers' noise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reference.h"
#include "model/model.h"
#include "sampler/sampler.h"
#include "sampler/scheduler.h"
#include "test_util.h"
#include "xattn.h"

/* A prompt whose arrays point into reference tensors. */
static xattn_prompt prompt_from(const xattn_st_file *ref, const char *emb_name, const char *mask_name,
                                float **emb, float **mask) {
    const xattn_st_tensor *t = xattn_st_find(ref, emb_name);
    assert_non_null(t);
    *emb = reference_tensor(ref, emb_name, NULL);
    *mask = reference_tensor(ref, mask_name, NULL);
    xattn_prompt p = {0};
    p.n_tokens = t->shape[0];
    p.dim = t->shape[1];
    p.embeddings = *emb;
    p.mask = *mask;
    return p;
}

static const char *meta(const xattn_st_file *ref, const char *run, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "%s.%s", run, key);
    const char *v = xattn_st_metadata(ref, k);
    if (!v) v = xattn_st_metadata(ref, key);
    if (!v) fail_msg("reference metadata '%s' missing", k);
    return v;
}

/* Each step from the reference's previous latents: U-Net + guidance, then the scheduler. */
static int teacher_forced(xattn_model *m, const xattn_st_file *ref, const char *run, const xattn_prompt *cond,
                          const xattn_prompt *uncond, const xattn_generate_params *p) {
    char name[64];
    size_t img, D = cond->dim, T = cond->n_tokens > uncond->n_tokens ? cond->n_tokens : uncond->n_tokens;
    snprintf(name, sizeof name, "%s.init_noise", run);
    float *init = reference_tensor(ref, name, &img);
    snprintf(name, sizeof name, "%s.latents", run);
    float *latents = reference_tensor(ref, name, NULL);
    snprintf(name, sizeof name, "%s.noise_pred", run);
    float *eps_ref = reference_tensor(ref, name, NULL);
    snprintf(name, sizeof name, "%s.step_noise", run);
    float *noise = reference_tensor(ref, name, NULL);

    /* text [uncond, cond] zero-padded to T, as sample_images builds it */
    float *text = calloc(2 * T * D, sizeof *text), *mask = calloc(2 * T, sizeof *mask);
    memcpy(text, uncond->embeddings, uncond->n_tokens * D * sizeof *text);
    memcpy(mask, uncond->mask, uncond->n_tokens * sizeof *mask);
    memcpy(text + T * D, cond->embeddings, cond->n_tokens * D * sizeof *text);
    memcpy(mask + T, cond->mask, cond->n_tokens * sizeof *mask);
    float *in = malloc(2 * img * sizeof *in), *pred = malloc(2 * img * sizeof *pred);
    float *eps = malloc(img * sizeof *eps), *prev = malloc(img * sizeof *prev);

    xattn_error err = {0};
    xattn_unet_run *r = NULL;
    scheduler *s = NULL;
    assert_int_equal(xattn_unet_run_new(m, 2, T, &r, &err), XATTN_OK);
    assert_int_equal(scheduler_new(&m->scheduler, p->sampler, p->steps, p->eta, &s, &err), XATTN_OK);
    int failed = 0;
    for (int i = 0; i < p->steps; i++) {
        const float *x = i == 0 ? init : latents + (size_t)(i - 1) * img;
        memcpy(in, x, img * sizeof *in);
        memcpy(in + img, x, img * sizeof *in);
        assert_int_equal(xattn_unet_forward(r, in, (float)scheduler_timestep(s, i), text, mask, pred, &err), XATTN_OK);
        for (size_t k = 0; k < img; k++) eps[k] = pred[k] + p->cfg * (pred[img + k] - pred[k]);
        char what[128];
        snprintf(what, sizeof what, "%s step %d guided noise prediction (teacher-forced)", run, i);
        failed |= compare_arrays(what, eps, eps_ref + (size_t)i * img, img, 1e-4);
        scheduler_step(s, i, eps_ref + (size_t)i * img, x, noise + (size_t)i * img, prev, img);
        snprintf(what, sizeof what, "%s step %d scheduler (teacher-forced)", run, i);
        failed |= compare_arrays(what, prev, latents + (size_t)i * img, img, 1e-5);
    }
    scheduler_free(s);
    xattn_unet_run_free(r);
    free(init), free(latents), free(eps_ref), free(noise), free(text), free(mask);
    free(in), free(pred), free(eps), free(prev);
    return failed;
}

static void run_sampler(const char *model_name, const char *run) {
    char dir[512], name[64];
    snprintf(dir, sizeof dir, "tests/data/models/%s", model_name);
    xattn_model *m = NULL;
    xattn_error err = {0};
    if (xattn_model_load(source_path(dir), &m, &err) != XATTN_OK) fail_msg("load: %s", err.msg);
    xattn_st_file *ref = reference_open(model_name);

    float *ce, *cm, *ue, *um;
    snprintf(name, sizeof name, "%s.cond", run);
    char mname[64];
    snprintf(mname, sizeof mname, "%s.cond_mask", run);
    xattn_prompt cond = prompt_from(ref, name, mname, &ce, &cm);
    snprintf(name, sizeof name, "%s.uncond", run);
    snprintf(mname, sizeof mname, "%s.uncond_mask", run);
    xattn_prompt uncond = prompt_from(ref, name, mname, &ue, &um);

    xattn_generate_params p;
    xattn_generate_params_init(&p);
    p.sampler = strcmp(run, "ddpm") == 0 ? XATTN_SAMPLER_DDPM : XATTN_SAMPLER_DDIM;
    p.steps = atoi(meta(ref, run, "steps"));
    p.cfg = (float)atof(meta(ref, run, "cfg"));
    p.eta = (float)atof(meta(ref, run, "eta"));
    p.seed = strtoull(meta(ref, run, "seed"), NULL, 10);

    size_t img;
    snprintf(name, sizeof name, "%s.init_noise", run);
    float *init = reference_tensor(ref, name, &img);
    size_t n_step_noise;
    snprintf(name, sizeof name, "%s.step_noise", run);
    float *steps = reference_tensor(ref, name, &n_step_noise);
    snprintf(name, sizeof name, "%s.image", run);
    float *want = reference_tensor(ref, name, NULL);

    int failed = teacher_forced(m, ref, run, &cond, &uncond, &p);

    recorded_noise rec = {init, steps, n_step_noise / img, img, 0};
    float *got = malloc(img * sizeof *got);
    char what[128];
    snprintf(what, sizeof what, "%s %s (recorded noise)", model_name, run);
    assert_int_equal(sample_images(m, &cond, &uncond, &p, recorded_source, &rec, got, &err), XATTN_OK);
    failed |= compare_arrays(what, got, want, img, 1e-3);

    snprintf(what, sizeof what, "%s %s (seed %llu)", model_name, run, (unsigned long long)p.seed);
    assert_int_equal(xattn_generate(m, &cond, &uncond, &p, got, &err), XATTN_OK);
    failed |= compare_arrays(what, got, want, img, 1e-3);
    assert_int_equal(failed, 0);

    free(got), free(init), free(steps), free(want), free(ce), free(cm), free(ue), free(um);
    xattn_st_close(ref);
    xattn_model_free(m);
}

static void test_conv_eps_ddim(void **s) { (void)s; run_sampler("tiny_conv_eps", "ddim"); }
static void test_conv_eps_ddpm(void **s) { (void)s; run_sampler("tiny_conv_eps", "ddpm"); }
static void test_linear_v_ddim(void **s) { (void)s; run_sampler("tiny_linear_v", "ddim"); }
static void test_linear_v_ddpm(void **s) { (void)s; run_sampler("tiny_linear_v", "ddpm"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_eps_ddim), cmocka_unit_test(test_conv_eps_ddpm),
        cmocka_unit_test(test_linear_v_ddim), cmocka_unit_test(test_linear_v_ddpm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
