/* test_scheduler.c — DDIM / DDPM against diffusers (tests/data/schedulers/<case>.json, dumped by
 * tools/dump_scheduler_reference.py): each case's scheduler_config.json (as diffusers wrote it)
 * is loaded from a temp file, then timesteps (exact), alphas_cumprod, three steps' prev_sample
 * (2e-6), add_noise and the img2img first step are compared. Then the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above */
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/scheduler.h"
#include "reference.h"
#include "test_util.h"

/* Steps take a few float sqrts. torch's x86 builds compute sqrt with MKL's vector math, which is
 * off by one ulp for ~20% of inputs, where sqrtf is correctly rounded: the only difference left
 * (with torch's sqrt values a float emulation of these steps is bit-exact). */
#define STEP_ATOL 2e-6
/* alphas_cumprod are reproduced bit for bit, except after the zero-SNR rescale (a sqrt). */
#define ALPHA_ATOL 0.0
#define ALPHA_RESCALED_ATOL 5e-7

static const cJSON *get(const cJSON *obj, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item) fail_msg("reference JSON lacks \"%s\"", key);
    return item;
}

/* Writes text to "<temp_dir(scheduler)>/<name>" and returns the path (static buffer). */
static const char *write_temp(const char *name, const char *text) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", temp_dir("scheduler"), name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* One reference case; returns the number of failed comparisons. */
static int check_case(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/schedulers/%s.json", name);
    cJSON *ref = reference_json(rel);
    int failures = 0;

    char *config_text = cJSON_Print(get(ref, "config"));
    char file[300];
    snprintf(file, sizeof file, "%s.scheduler_config.json", name);
    const char *config_path = write_temp(file, config_text);
    free(config_text);
    scheduler_config cfg;
    xattn_error err = {0};
    xattn_status st = scheduler_config_load(config_path, &cfg, &err);
    if (st) fail_msg("%s: %s", name, err.msg);

    xattn_sampler_kind kind = strcmp(get(ref, "sampler")->valuestring, "ddpm") == 0
                                  ? XATTN_SAMPLER_DDPM
                                  : XATTN_SAMPLER_DDIM;
    int n_steps = get(ref, "n_steps")->valueint;
    float eta = (float)get(ref, "eta")->valuedouble;
    scheduler *s = NULL;
    st = scheduler_new(&cfg, kind, n_steps, eta, &s, &err);
    if (st) fail_msg("%s: %s", name, err.msg);

    /* timesteps, exactly */
    const cJSON *ts = get(ref, "timesteps");
    assert_int_equal(scheduler_n_steps(s), cJSON_GetArraySize(ts));
    for (int i = 0; i < n_steps; i++) {
        int want = cJSON_GetArrayItem(ts, i)->valueint, got = scheduler_timestep(s, i);
        if (got != want) {
            printf("FAIL %s: timesteps[%d] = %d, diffusers %d\n", name, i, got, want);
            failures++;
            break;
        }
    }

    /* alphas_cumprod at a few indices */
    size_t n_ac, n_idx;
    float *ac_want = reference_json_floats(get(ref, "alphas_cumprod"), &n_ac);
    float *ac_idx = reference_json_floats(get(ref, "alphas_cumprod_indices"), &n_idx);
    assert_int_equal(n_ac, n_idx);
    float ac_got[16];
    assert_true(n_ac <= 16);
    for (size_t k = 0; k < n_ac; k++) ac_got[k] = scheduler_alpha_cumprod(s, (int)ac_idx[k]);
    char what[256];
    snprintf(what, sizeof what, "%s alphas_cumprod", name);
    failures += compare_arrays(what, ac_got, ac_want, n_ac,
                               cfg.rescale_betas_zero_snr ? ALPHA_RESCALED_ATOL : ALPHA_ATOL);
    free(ac_want);
    free(ac_idx);

    /* three steps from the same sample and model output */
    size_t n, n_mo;
    float *sample = reference_json_floats(get(ref, "sample"), &n);
    float *model_output = reference_json_floats(get(ref, "model_output"), &n_mo);
    assert_int_equal(n, n_mo);
    float *prev = malloc(n * sizeof *prev);
    assert_non_null(prev);
    const cJSON *step;
    cJSON_ArrayForEach(step, get(ref, "steps")) {
        int i = get(step, "index")->valueint;
        assert_int_equal(scheduler_timestep(s, i), get(step, "timestep")->valueint);
        int uses_noise = cJSON_IsTrue(get(step, "uses_noise"));
        if (scheduler_step_uses_noise(s, i) != uses_noise) {
            printf("FAIL %s: step %d uses noise %d, diffusers %d\n", name, i,
                   scheduler_step_uses_noise(s, i), uses_noise);
            failures++;
        }
        size_t n_noise, n_want;
        float *noise = reference_json_floats(get(step, "noise"), &n_noise);
        float *want = reference_json_floats(get(step, "prev_sample"), &n_want);
        assert_int_equal(n_noise, n);
        assert_int_equal(n_want, n);
        scheduler_step(s, i, model_output, sample, uses_noise ? noise : NULL, prev, n);
        snprintf(what, sizeof what, "%s step %d (t=%d) prev_sample", name, i,
                 scheduler_timestep(s, i));
        failures += compare_arrays(what, prev, want, n, STEP_ATOL);
        free(noise);
        free(want);
    }

    /* img2img: first step for a strength, and add_noise at that step's timestep */
    size_t n_strength, n_first;
    float *strengths = reference_json_floats(get(ref, "strengths"), &n_strength);
    float *first = reference_json_floats(get(ref, "first_steps"), &n_first);
    assert_int_equal(n_strength, n_first);
    const cJSON *strength_item = get(ref, "strengths")->child;
    for (size_t k = 0; k < n_strength; k++, strength_item = strength_item->next) {
        int got = scheduler_first_step_for_strength(s, strength_item->valuedouble);
        if (got != (int)first[k]) {
            printf("FAIL %s: first step for strength %g is %d, diffusers %d\n", name,
                   strength_item->valuedouble, got, (int)first[k]);
            failures++;
        }
    }
    free(strengths);
    free(first);
    const cJSON *an = get(ref, "add_noise");
    size_t n_an_noise, n_noisy;
    float *an_noise = reference_json_floats(get(an, "noise"), &n_an_noise);
    float *noisy_want = reference_json_floats(get(an, "noisy"), &n_noisy);
    assert_int_equal(n_an_noise, n);
    st = scheduler_add_noise(s, get(an, "timestep")->valueint, sample, an_noise, prev, n, &err);
    assert_int_equal(st, XATTN_OK);
    snprintf(what, sizeof what, "%s add_noise", name);
    failures += compare_arrays(what, prev, noisy_want, n, STEP_ATOL);
    free(an_noise);
    free(noisy_want);

    free(prev);
    free(sample);
    free(model_output);
    scheduler_free(s);
    cJSON_Delete(ref);
    return failures;
}

static void test_cases_match_diffusers(void **state) {
    (void)state;
    cJSON *index = reference_json("tests/data/schedulers/cases.json");
    int n_cases = 0, failures = 0;
    const cJSON *name;
    cJSON_ArrayForEach(name, get(index, "cases")) {
        failures += check_case(name->valuestring);
        n_cases++;
    }
    printf("%d scheduler cases, %d failed comparisons\n", n_cases, failures);
    assert_true(n_cases >= 15);
    assert_int_equal(failures, 0);
    cJSON_Delete(index);
}

static xattn_sampler_kind kind_named(const char *name) {
    xattn_sampler_kind kind;
    int karras;
    xattn_error err = {0};
    if (xattn_sampler_from_name(name, &kind, &karras, &err)) fail_msg("%s", err.msg);
    return kind;
}

static double scale_of(const float *v, size_t n) {
    double m = 1.0;
    for (size_t k = 0; k < n; k++)
        if (fabs((double)v[k]) > m) m = fabs((double)v[k]);
    return m;
}

/* One case of tests/data/schedulers/sampler_<name>.json (Euler ... PNDM): every call of a whole
 * run, teacher-forced (each call from diffusers' sample and model output, the history built
 * from them): the timestep, scale_model_input and the step within 1e-5 of the values' scale
 * (max(1, max |sample|, max |prev_sample|): the sigma samplers' samples reach sigma_max);
 * init_noise_sigma; img2img's first call and add_noise. Returns the failed comparisons and
 * the worst relative step error in *worst. */
static int check_sampler_case(const char *name, double *worst) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/schedulers/sampler_%s.json", name);
    cJSON *ref = reference_json(rel);
    int failures = 0;
    char file[300];
    snprintf(file, sizeof file, "sampler_%s.scheduler_config.json", name);
    const char *config_path = write_temp(file, get(ref, "config_text")->valuestring);
    scheduler_config cfg;
    xattn_error err = {0};
    if (scheduler_config_load(config_path, &cfg, &err)) fail_msg("%s: %s", name, err.msg);
    xattn_sampler_kind kind = kind_named(get(ref, "sampler")->valuestring);
    int karras = cJSON_IsTrue(get(ref, "karras"));
    int n_steps = get(ref, "n_steps")->valueint;
    scheduler *s = NULL;
    if (scheduler_new_karras(&cfg, kind, n_steps, 0.0f, karras, &s, &err))
        fail_msg("%s: %s", name, err.msg);
    const cJSON *calls = get(ref, "calls");
    int n_calls = cJSON_GetArraySize(calls);
    if (scheduler_n_evals(s) != n_calls) {
        printf("FAIL %s: %d calls, diffusers %d\n", name, scheduler_n_evals(s), n_calls);
        scheduler_free(s);
        cJSON_Delete(ref);
        return failures + 1;
    }
    float sigma0 = (float)get(ref, "init_noise_sigma")->valuedouble;
    if (fabsf(scheduler_init_noise_sigma(s) - sigma0) > 1e-6f * fmaxf(1.0f, sigma0)) {
        printf("FAIL %s: init_noise_sigma %.9g, diffusers %.9g\n", name,
               (double)scheduler_init_noise_sigma(s), (double)sigma0);
        failures++;
    }
    int i = 0;
    const cJSON *call;
    char what[256];
    cJSON_ArrayForEach(call, calls) {
        double t_want = get(call, "timestep")->valuedouble;
        float t = scheduler_model_timestep(s, i);
        if (fabs((double)t - t_want) > 1e-4 * fmax(1.0, fabs(t_want))) {
            printf("FAIL %s: call %d timestep %.9g, diffusers %.9g\n", name, i, (double)t, t_want);
            failures++;
        }
        size_t n, n2;
        float *x = reference_json_floats(get(call, "sample"), &n);
        float *scaled = reference_json_floats(get(call, "scaled"), &n2);
        float *mo = reference_json_floats(get(call, "model_output"), &n2);
        float *want = reference_json_floats(get(call, "prev_sample"), &n2);
        size_t n_noise = 0;
        float *noise = cJSON_GetArraySize(get(call, "noise")) > 0
                           ? reference_json_floats(get(call, "noise"), &n_noise)
                           : NULL;
        int uses = scheduler_step_uses_noise(s, i);
        if (uses != (noise != NULL)) {
            printf("FAIL %s: call %d uses noise %d, diffusers %d\n", name, i, uses, noise != NULL);
            failures++;
        }
        float got[64];
        assert_true(n <= 64);
        scheduler_scale_input(s, i, x, got, n);
        snprintf(what, sizeof what, "%s call %d scale_model_input", name, i);
        failures += compare_arrays(what, got, scaled, n, 2e-6 * scale_of(scaled, n));
        scheduler_step(s, i, mo, x, noise, got, n);
        /* the scale of the step's operands: the sample in, the sample out */
        double sc = fmax(scale_of(want, n), scale_of(x, n));
        for (size_t k = 0; k < n; k++) *worst = fmax(*worst, fabs((double)got[k] - want[k]) / sc);
        snprintf(what, sizeof what, "%s call %d (t=%g) prev_sample (scale %.3g)", name, i, t_want,
                 sc);
        failures += compare_arrays(what, got, want, n, 1e-5 * sc);
        free(x), free(scaled), free(mo), free(want), free(noise);
        i++;
    }
    const cJSON *i2i = get(ref, "img2img");
    int first = scheduler_first_eval_for_strength(s, get(i2i, "strength")->valuedouble);
    if (first != get(i2i, "first_call")->valueint) {
        printf("FAIL %s: img2img first call %d, diffusers %d\n", name, first,
               get(i2i, "first_call")->valueint);
        failures++;
    } else {
        size_t n;
        float *orig = reference_json_floats(get(i2i, "original"), &n);
        float *noise = reference_json_floats(get(i2i, "noise"), &n);
        float *want = reference_json_floats(get(i2i, "noisy"), &n);
        float got[64];
        assert_true(n <= 64);
        scheduler_add_noise_at(s, first, orig, noise, got, n);
        snprintf(what, sizeof what, "%s img2img add_noise at call %d", name, first);
        failures += compare_arrays(what, got, want, n, 2e-6 * scale_of(want, n));
        free(orig), free(noise), free(want);
    }
    scheduler_free(s);
    cJSON_Delete(ref);
    return failures;
}

static void test_sampler_cases_match_diffusers(void **state) {
    (void)state;
    cJSON *index = reference_json("tests/data/schedulers/samplers.json");
    int n_cases = 0, failures = 0;
    const cJSON *name;
    cJSON_ArrayForEach(name, get(index, "cases")) {
        double worst = 0.0;
        int f = check_sampler_case(name->valuestring, &worst);
        printf("== %-36s %s, worst step error %.3g (relative to max(1, |sample|, |prev_sample|))\n",
               name->valuestring, f ? "FAILED" : "ok", worst);
        failures += f;
        n_cases++;
    }
    printf("%d sampler cases, %d failed comparisons\n", n_cases, failures);
    assert_true(n_cases >= 30);
    assert_int_equal(failures, 0);
    cJSON_Delete(index);
}

/* set_timesteps for each spacing and many step counts; where diffusers' trailing spacing lists
 * n + 1 timesteps (the last -1), the first n must match. */
static void test_timesteps_match_diffusers(void **state) {
    (void)state;
    cJSON *ref = reference_json("tests/data/schedulers/timesteps.json");
    int n_cases = 0, n_extra = 0, failures = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, get(ref, "cases")) {
        scheduler_config cfg;
        scheduler_config_init(&cfg);
        cfg.num_train_timesteps = get(c, "num_train_timesteps")->valueint;
        cfg.steps_offset = get(c, "steps_offset")->valueint;
        const char *spacing = get(c, "spacing")->valuestring;
        cfg.timestep_spacing = strcmp(spacing, "leading") == 0    ? SCHEDULER_SPACING_LEADING
                               : strcmp(spacing, "trailing") == 0 ? SCHEDULER_SPACING_TRAILING
                                                                  : SCHEDULER_SPACING_LINSPACE;
        int n = get(c, "n")->valueint;
        const cJSON *ts = get(c, "timesteps");
        int n_ref = cJSON_GetArraySize(ts);
        assert_true(n_ref == n || n_ref == n + 1);
        if (n_ref == n + 1) {
            assert_int_equal(cJSON_GetArrayItem(ts, n)->valueint, -1);
            n_extra++;
        }
        scheduler *s = NULL;
        xattn_error err = {0};
        if (scheduler_new(&cfg, XATTN_SAMPLER_DDIM, n, 0.0f, &s, &err)) fail_msg("%s", err.msg);
        for (int i = 0; i < n; i++) {
            int want = cJSON_GetArrayItem(ts, i)->valueint, got = scheduler_timestep(s, i);
            if (got != want) {
                printf("FAIL N=%d %s n=%d: timesteps[%d] = %d, diffusers %d\n",
                       cfg.num_train_timesteps, spacing, n, i, got, want);
                failures++;
                break;
            }
        }
        scheduler_free(s);
        n_cases++;
    }
    printf("%d timestep lists, %d failed, %d where diffusers appends -1\n", n_cases, failures,
           n_extra);
    assert_true(n_cases > 0);
    assert_int_equal(failures, 0);
    cJSON_Delete(ref);
}

/* ------------------------------------------------------------------------------------------ */
/* Refusals                                                                                    */

/* Loads a config written to a temp file; returns the status, the message in err. */
static xattn_status load_text(const char *name, const char *text, scheduler_config *cfg,
                              xattn_error *err, const char **path_out) {
    const char *path = write_temp(name, text);
    if (path_out) *path_out = path;
    memset(err, 0, sizeof *err);
    return scheduler_config_load(path, cfg, err);
}

static void expect_message(const xattn_error *err, const char *needle) {
    printf("refused: %s\n", err->msg);
    if (!strstr(err->msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", err->msg, needle);
}

static void test_refuses_thresholding(void **state) {
    (void)state;
    scheduler_config cfg;
    xattn_error err;
    xattn_status st = load_text("thresholding.json",
                                "{\"_class_name\": \"DDIMScheduler\", \"thresholding\": true}",
                                &cfg, &err, NULL);
    assert_int_equal(st, XATTN_ERR_UNSUPPORTED);
    expect_message(&err, "thresholding true is not supported");
}

static void test_refuses_unknown_beta_schedule(void **state) {
    (void)state;
    scheduler_config cfg;
    xattn_error err;
    const char *path;
    xattn_status st = load_text("foo.json", "{\"beta_schedule\": \"foo\"}", &cfg, &err, &path);
    assert_int_equal(st, XATTN_ERR_UNSUPPORTED);
    char want[4200];
    snprintf(want, sizeof want,
             "%s: beta_schedule \"foo\" is not supported (linear, scaled_linear, "
             "squaredcos_cap_v2)",
             path);
    assert_string_equal(err.msg, want);
    assert_int_equal(err.status, XATTN_ERR_UNSUPPORTED);
}

static void test_refuses_wrong_types(void **state) {
    (void)state;
    scheduler_config cfg;
    xattn_error err;
    assert_int_equal(load_text("t1.json", "{\"num_train_timesteps\": \"1000\"}", &cfg, &err, NULL),
                     XATTN_ERR_FORMAT);
    expect_message(&err, "num_train_timesteps must be an integer, not a string");
    assert_int_equal(load_text("t2.json", "{\"clip_sample\": 1}", &cfg, &err, NULL),
                     XATTN_ERR_FORMAT);
    expect_message(&err, "clip_sample must be true or false, not a number");
    assert_int_equal(load_text("t3.json", "{\"prediction_type\": null}", &cfg, &err, NULL),
                     XATTN_ERR_FORMAT);
    expect_message(&err, "prediction_type must be a string, not null");
    assert_int_equal(load_text("t4.json", "{\"steps_offset\": 1.5}", &cfg, &err, NULL),
                     XATTN_ERR_FORMAT);
    expect_message(&err, "steps_offset must be an integer");
    assert_int_equal(load_text("t5.json", "[1, 2]", &cfg, &err, NULL), XATTN_ERR_FORMAT);
    expect_message(&err, "not a JSON object");
    assert_int_equal(load_text("t6.json", "{\"beta_start\": 0.0001,", &cfg, &err, NULL),
                     XATTN_ERR_FORMAT);
    expect_message(&err, "not valid JSON");
    assert_int_equal(load_text("t7.json", "{\"num_train_timesteps\": 0}", &cfg, &err, NULL),
                     XATTN_ERR_VALUE);
    expect_message(&err, "num_train_timesteps 0 is outside 1..");
}

static void test_refuses_other_values(void **state) {
    (void)state;
    scheduler_config cfg;
    xattn_error err;
    assert_int_equal(load_text("v1.json", "{\"prediction_type\": \"x0\"}", &cfg, &err, NULL),
                     XATTN_ERR_UNSUPPORTED);
    expect_message(&err, "prediction_type \"x0\" is not supported (epsilon, v_prediction, sample)");
    assert_int_equal(load_text("v2.json", "{\"timestep_spacing\": \"karras\"}", &cfg, &err, NULL),
                     XATTN_ERR_UNSUPPORTED);
    expect_message(&err, "timestep_spacing \"karras\" is not supported");
    assert_int_equal(load_text("v3.json", "{\"_class_name\": \"DEISMultistepScheduler\"}", &cfg, &err,
                               NULL),
                     XATTN_ERR_UNSUPPORTED);
    expect_message(&err, "_class_name \"DEISMultistepScheduler\" is not supported");
    assert_int_equal(load_text("v4.json", "{\"trained_betas\": [0.1, 0.2]}", &cfg, &err, NULL),
                     XATTN_ERR_UNSUPPORTED);
    expect_message(&err, "trained_betas is not supported");
    assert_int_equal(load_text("v5.json", "{\"rescale_betas_zero_snr\": true}", &cfg, &err, NULL),
                     XATTN_ERR_UNSUPPORTED);
    expect_message(&err, "rescale_betas_zero_snr true needs prediction_type v_prediction");
    assert_int_equal(load_text("v6.json", "{\"variance_type\": \"weird\"}", &cfg, &err, NULL),
                     XATTN_ERR_UNSUPPORTED);
    expect_message(&err, "variance_type \"weird\" is not supported (fixed_small, fixed_large)");

    /* learned variance: fine for DDIM (from_config ignores the key), refused by DDPM */
    assert_int_equal(load_text("v7.json",
                               "{\"_class_name\": \"DDPMScheduler\", \"variance_type\": "
                               "\"learned_range\"}",
                               &cfg, &err, NULL),
                     XATTN_OK);
    scheduler *s = NULL;
    assert_int_equal(scheduler_new(&cfg, XATTN_SAMPLER_DDIM, 10, 0.0f, &s, &err), XATTN_OK);
    scheduler_free(s);
    s = NULL;
    assert_int_equal(scheduler_new(&cfg, XATTN_SAMPLER_DDPM, 10, 0.0f, &s, &err),
                     XATTN_ERR_UNSUPPORTED);
    assert_null(s);
    expect_message(&err, "variance_type \"learned_range\" is not supported by the ddpm sampler");

    memset(&err, 0, sizeof err);
    assert_int_equal(scheduler_config_load("/nonexistent/scheduler_config.json", &cfg, &err),
                     XATTN_ERR_IO);
    expect_message(&err, "/nonexistent/scheduler_config.json: ");
}

static void test_refuses_bad_sampler_arguments(void **state) {
    (void)state;
    scheduler_config cfg;
    xattn_error err = {0};
    scheduler *s = NULL;
    scheduler_config_init(&cfg);
    assert_int_equal(scheduler_new(&cfg, XATTN_SAMPLER_DDIM, 0, 0.0f, &s, &err), XATTN_ERR_VALUE);
    expect_message(&err, "steps: 0 is outside 1..1000");
    /* the library names its parameter, never a command-line flag */
    if (strncmp(err.msg, "steps: ", 7) != 0) fail_msg("message \"%s\" names a flag", err.msg);
    assert_int_equal(scheduler_new(&cfg, XATTN_SAMPLER_DDPM, 1001, 0.0f, &s, &err),
                     XATTN_ERR_VALUE);
    assert_int_equal(scheduler_new(&cfg, XATTN_SAMPLER_DDIM, 10, -0.5f, &s, &err), XATTN_ERR_VALUE);
    expect_message(&err, "eta: ");
    assert_int_equal(scheduler_new(&cfg, XATTN_SAMPLER_DDIM, 10, NAN, &s, &err), XATTN_ERR_VALUE);
    assert_null(s);

    /* leading timesteps + steps_offset past N - 1 */
    cfg.steps_offset = 1;
    assert_int_equal(scheduler_new(&cfg, XATTN_SAMPLER_DDIM, 1000, 0.0f, &s, &err),
                     XATTN_ERR_VALUE);
    expect_message(&err, "steps_offset 1 with 1000 steps gives timestep 1000");
    /* a schedule with alphas_cumprod outside (0, 1) */
    scheduler_config_init(&cfg);
    cfg.beta_end = 1.5;
    assert_int_equal(scheduler_new(&cfg, XATTN_SAMPLER_DDIM, 10, 0.0f, &s, &err), XATTN_ERR_VALUE);
    expect_message(&err, "outside (0, 1)");
    scheduler_config_init(&cfg);
    cfg.beta_start = 0.0;
    assert_int_equal(scheduler_new(&cfg, XATTN_SAMPLER_DDPM, 10, 0.0f, &s, &err), XATTN_ERR_VALUE);
    expect_message(&err, "alphas_cumprod[0] = 1");
    assert_null(s);
}

/* The other samplers' options xattn lacks: one line naming the key and value. */
static void test_refuses_sampler_options(void **state) {
    (void)state;
    scheduler_config cfg;
    xattn_error err;
    static const struct {
        const char *json, *message;
    } cases[] = {
        {"{\"_class_name\": \"DPMSolverMultistepScheduler\", \"solver_order\": 3}",
         "solver_order 3 is not supported (1, 2)"},
        {"{\"_class_name\": \"UniPCMultistepScheduler\", \"solver_order\": 3}",
         "solver_order 3 is not supported (1, 2)"},
        {"{\"algorithm_type\": \"dpmsolver\"}",
         "algorithm_type \"dpmsolver\" is not supported (dpmsolver++, sde-dpmsolver++)"},
        {"{\"algorithm_type\": \"sde-dpmsolver\"}", "algorithm_type \"sde-dpmsolver\" is not"},
        {"{\"algorithm_type\": \"deis\"}", "algorithm_type \"deis\" is not supported"},
        {"{\"solver_type\": \"foo\"}", "solver_type \"foo\" is not supported"},
        {"{\"final_sigmas_type\": \"max\"}", "final_sigmas_type \"max\" is not supported"},
        {"{\"use_exponential_sigmas\": true}", "use_exponential_sigmas true is not supported"},
        {"{\"use_beta_sigmas\": true}", "use_beta_sigmas true is not supported"},
        {"{\"use_lu_lambdas\": true}", "use_lu_lambdas true is not supported"},
        {"{\"timestep_type\": \"continuous\"}",
         "timestep_type \"continuous\" is not supported (discrete)"},
        {"{\"interpolation_type\": \"log_linear\"}",
         "interpolation_type \"log_linear\" is not supported (linear)"},
        {"{\"sigma_min\": 0.1}", "sigma_min 0.1 is not supported"},
        {"{\"lambda_min_clipped\": -5.1}", "lambda_min_clipped is not supported"},
        {"{\"use_karras_sigmas\": 1}", "use_karras_sigmas must be true or false"},
        {"{\"_class_name\": \"KDPM2DiscreteScheduler\"}",
         "_class_name \"KDPM2DiscreteScheduler\" is not supported (DDIMScheduler"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "s%zu.json", k);
        assert_int_not_equal(load_text(name, cases[k].json, &cfg, &err, NULL), XATTN_OK);
        expect_message(&err, cases[k].message);
        assert_null(strchr(err.msg, '\n'));
    }
    /* -Infinity, as Python's json writes it, loads */
    assert_int_equal(load_text("inf.json",
                               "{\"_class_name\": \"DPMSolverMultistepScheduler\", "
                               "\"lambda_min_clipped\": -Infinity, \"algorithm_type\": "
                               "\"sde-dpmsolver++\", \"variance_type\": null}",
                               &cfg, &err, NULL),
                     XATTN_OK);
    assert_int_equal(cfg.class_kind, XATTN_SAMPLER_DPMPP_2M_SDE);

    /* options of a sampler that lacks them */
    scheduler *s = NULL;
    scheduler_config_init(&cfg);
    assert_int_equal(scheduler_new_karras(&cfg, XATTN_SAMPLER_EULER_A, 10, 0.0f, 1, &s, &err),
                     XATTN_ERR_UNSUPPORTED);
    expect_message(&err, "karras: the euler_a sampler has no Karras sigmas");
    assert_int_equal(scheduler_new_karras(&cfg, XATTN_SAMPLER_DDIM, 10, 0.0f, 1, &s, &err),
                     XATTN_ERR_UNSUPPORTED);
    expect_message(&err, "karras: the ddim sampler has no Karras sigmas");
    cfg.prediction_type = SCHEDULER_PREDICT_SAMPLE;
    assert_int_equal(scheduler_new(&cfg, XATTN_SAMPLER_PNDM, 10, 0.0f, &s, &err),
                     XATTN_ERR_UNSUPPORTED);
    expect_message(&err, "prediction_type \"sample\" is not supported by the pndm sampler");
    assert_int_equal(scheduler_new(&cfg, XATTN_SAMPLER_EULER_A, 10, 0.0f, &s, &err),
                     XATTN_ERR_UNSUPPORTED);
    expect_message(&err, "prediction_type \"sample\" is not supported by the euler_a sampler");
    scheduler_config_init(&cfg);
    assert_int_equal(scheduler_new(&cfg, XATTN_SAMPLER_PNDM, 3, 0.0f, &s, &err), XATTN_ERR_VALUE);
    expect_message(&err, "too few for pndm");
    assert_int_equal(scheduler_new(&cfg, (xattn_sampler_kind)42, 10, 0.0f, &s, &err),
                     XATTN_ERR_VALUE);
    expect_message(&err, "sampler: unknown sampler 42");
    assert_null(s);
}

/* Names: xattn's, A1111's, diffusers' classes; the Karras ones. */
static void test_sampler_names(void **state) {
    (void)state;
    xattn_sampler_kind kind;
    int karras = -1;
    xattn_error err = {0};
    assert_int_equal(xattn_sampler_from_name("Euler a", &kind, &karras, &err), XATTN_OK);
    assert_int_equal(kind, XATTN_SAMPLER_EULER_A);
    assert_int_equal(karras, 0);
    assert_int_equal(xattn_sampler_from_name("DPM++ 2M Karras", &kind, &karras, &err), XATTN_OK);
    assert_int_equal(kind, XATTN_SAMPLER_DPMPP_2M);
    assert_int_equal(karras, 1);
    assert_int_equal(xattn_sampler_from_name("dpm++ 2m sde karras", &kind, &karras, &err), XATTN_OK);
    assert_int_equal(kind, XATTN_SAMPLER_DPMPP_2M_SDE);
    assert_int_equal(karras, 1);
    assert_int_equal(xattn_sampler_from_name("UniPCMultistepScheduler", &kind, &karras, &err),
                     XATTN_OK);
    assert_int_equal(kind, XATTN_SAMPLER_UNIPC);
    assert_int_equal(xattn_sampler_from_name("PLMS", &kind, &karras, &err), XATTN_OK);
    assert_int_equal(kind, XATTN_SAMPLER_PNDM);
    assert_int_equal(xattn_sampler_from_name("euler_b", &kind, &karras, &err), XATTN_ERR_VALUE);
    expect_message(&err, "sampler: 'euler_b' is not one of ddim, ddpm, euler");
    /* every kind has a name that maps back to it */
    for (int k = -1; k < XATTN_SAMPLER_COUNT; k++) {
        const char *name = xattn_sampler_name((xattn_sampler_kind)k);
        assert_non_null(name);
        assert_int_equal(xattn_sampler_from_name(name, &kind, &karras, &err), XATTN_OK);
        assert_int_equal((int)kind, k);
    }
    assert_null(xattn_sampler_name((xattn_sampler_kind)XATTN_SAMPLER_COUNT));
    size_t n = 0;
    while (xattn_sampler_alias_at(n)) n++;
    assert_true(n >= 30);
}

/* diffusers' defaults when a key is absent; unknown keys ignored. */
static void test_defaults(void **state) {
    (void)state;
    scheduler_config cfg;
    xattn_error err;
    assert_int_equal(load_text("empty.json", "{\"skip_prk_steps\": true}", &cfg, &err, NULL),
                     XATTN_OK);
    assert_int_equal(cfg.num_train_timesteps, 1000);
    assert_true(cfg.beta_start == 0.0001 && cfg.beta_end == 0.02);
    assert_int_equal(cfg.beta_schedule, SCHEDULER_BETA_LINEAR);
    assert_true(cfg.clip_sample && cfg.set_alpha_to_one && !cfg.thresholding);
    assert_int_equal(cfg.steps_offset, 0);
    assert_int_equal(cfg.timestep_spacing, SCHEDULER_SPACING_LEADING);
    assert_int_equal(cfg.variance_type, SCHEDULER_VARIANCE_FIXED_SMALL);
    assert_string_equal(scheduler_prediction_name(&cfg), "epsilon");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_match_diffusers),
        cmocka_unit_test(test_timesteps_match_diffusers),
        cmocka_unit_test(test_sampler_cases_match_diffusers),
        cmocka_unit_test(test_refuses_thresholding),
        cmocka_unit_test(test_refuses_unknown_beta_schedule),
        cmocka_unit_test(test_refuses_wrong_types),
        cmocka_unit_test(test_refuses_other_values),
        cmocka_unit_test(test_refuses_bad_sampler_arguments),
        cmocka_unit_test(test_refuses_sampler_options),
        cmocka_unit_test(test_sampler_names),
        cmocka_unit_test(test_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
