/* scheduler.c — DDIM / DDPM schedules and steps (see scheduler.h for the maths).
 *
 * Precision: diffusers holds betas and alphas_cumprod in float32 torch tensors and does each
 * step as separate float32 tensor ops (0-dim tensors and python floats cast to float). Each
 * float operation here is therefore its own statement, in diffusers' order: no fused
 * multiply-adds except where torch's own kernel fuses (linspace, via fmaf), x ** 0.5 is a
 * correctly rounded sqrtf (torch's pow special-cases 0.5), x ** 2 is x * x. */
#include "sampler/scheduler.h"
#include "sampler/scheduler_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define SCHEDULER_MAX_TRAIN_TIMESTEPS 100000
#define SCHEDULER_MAX_CONFIG_BYTES (1 << 20)


/* ------------------------------------------------------------------------------------------ */
/* Names                                                                                       */

static const char *const beta_schedule_names[] = {"linear", "scaled_linear", "squaredcos_cap_v2"};
static const char *const prediction_names[] = {"epsilon", "v_prediction", "sample"};
static const char *const spacing_names[] = {"leading", "trailing", "linspace"};
static const char *const variance_names[] = {"fixed_small", "fixed_large", "fixed_small_log",
                                             "fixed_large_log", "learned", "learned_range"};
static const char *const algorithm_names[] = {"dpmsolver++", "sde-dpmsolver++", "dpmsolver",
                                              "sde-dpmsolver"};
static const char *const solver_type_names[] = {"midpoint", "heun", "bh1", "bh2"};
static const char *const final_sigmas_names[] = {"zero", "sigma_min"};

/* diffusers' scheduler classes and the sampler each loads as */
static const struct {
    const char *name;
    xattn_sampler_kind kind;
} class_names[] = {
    {"DDIMScheduler", XATTN_SAMPLER_DDIM},
    {"DDPMScheduler", XATTN_SAMPLER_DDPM},
    {"EulerDiscreteScheduler", XATTN_SAMPLER_EULER},
    {"EulerAncestralDiscreteScheduler", XATTN_SAMPLER_EULER_A},
    {"HeunDiscreteScheduler", XATTN_SAMPLER_HEUN},
    {"DPMSolverMultistepScheduler", XATTN_SAMPLER_DPMPP_2M},
    {"UniPCMultistepScheduler", XATTN_SAMPLER_UNIPC},
    {"LMSDiscreteScheduler", XATTN_SAMPLER_LMS},
    {"PNDMScheduler", XATTN_SAMPLER_PNDM},
};

#define N_NAMES(a) (sizeof(a) / sizeof((a)[0]))

const char *scheduler_prediction_name(const scheduler_config *cfg) {
    return prediction_names[cfg->prediction_type];
}

static const char *config_source(const scheduler_config *cfg) {
    return cfg->path[0] ? cfg->path : "scheduler_config";
}

void scheduler_config_init(scheduler_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->num_train_timesteps = 1000;
    cfg->beta_start = 0.0001;
    cfg->beta_end = 0.02;
    cfg->beta_schedule = SCHEDULER_BETA_LINEAR;
    cfg->clip_sample = 1;
    cfg->clip_sample_range = 1.0;
    cfg->set_alpha_to_one = 1;
    cfg->steps_offset = 0;
    cfg->prediction_type = SCHEDULER_PREDICT_EPSILON;
    cfg->thresholding = 0;
    cfg->dynamic_thresholding_ratio = 0.995;
    cfg->sample_max_value = 1.0;
    cfg->timestep_spacing = SCHEDULER_SPACING_LEADING;
    cfg->rescale_betas_zero_snr = 0;
    cfg->variance_type = SCHEDULER_VARIANCE_FIXED_SMALL;
    cfg->use_karras_sigmas = 0;
    cfg->solver_order = 2;
    cfg->algorithm_type = SCHEDULER_ALGO_DPMSOLVERPP;
    cfg->solver_type = SCHEDULER_SOLVER_MIDPOINT;
    cfg->lower_order_final = 1;
    cfg->euler_at_final = 0;
    cfg->final_sigmas_sigma_min = 0;
    cfg->predict_x0 = 1;
    cfg->n_disable_corrector = 0;
    cfg->skip_prk_steps = 0;
    cfg->present = 0;
    cfg->class_kind = XATTN_SAMPLER_DDIM;
    cfg->path[0] = '\0';
}

/* ------------------------------------------------------------------------------------------ */
/* Loading scheduler_config.json                                                               */

static const char *json_type_name(const cJSON *item) {
    if (cJSON_IsNull(item)) return "null";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    return "invalid";
}

static xattn_status wrong_type(const char *path, const cJSON *item, const char *want,
                               xattn_error *err) {
    return xattn_fail(err, XATTN_ERR_FORMAT, "%s: %s must be %s, not %s", path, item->string,
                      want, json_type_name(item));
}

/* Each reader leaves *value alone when the key is absent. */
static xattn_status read_bool(const cJSON *root, const char *key, const char *path, int *value,
                              xattn_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item) return XATTN_OK;
    if (!cJSON_IsBool(item)) return wrong_type(path, item, "true or false", err);
    *value = cJSON_IsTrue(item) ? 1 : 0;
    return XATTN_OK;
}

static xattn_status read_double(const cJSON *root, const char *key, const char *path,
                                double *value, xattn_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item) return XATTN_OK;
    if (!cJSON_IsNumber(item)) return wrong_type(path, item, "a number", err);
    if (!isfinite(item->valuedouble))
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: %s is not finite", path, key);
    *value = item->valuedouble;
    return XATTN_OK;
}

static xattn_status read_int(const cJSON *root, const char *key, const char *path, int lo,
                             int hi, int *value, xattn_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item) return XATTN_OK;
    if (!cJSON_IsNumber(item)) return wrong_type(path, item, "an integer", err);
    double v = item->valuedouble;
    if (!isfinite(v) || v != floor(v))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: %s must be an integer, not %.17g", path, key,
                          v);
    if (v < lo || v > hi)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: %s %.17g is outside %d..%d", path, key, v, lo,
                          hi);
    *value = (int)v;
    return XATTN_OK;
}

/* At most 64 bytes of a string from the file, control bytes as '?': the message stays one line. */
static const char *printable_value(const char *s, char out[65]) {
    size_t n = 0;
    for (; s[n] && n < 64; n++) out[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
    out[n] = '\0';
    return out;
}

/* A string that must be one of names[n_names] (the enum value is its index). */
static xattn_status read_choice(const cJSON *root, const char *key, const char *path,
                                const char *const *names, size_t n_names, size_t n_supported,
                                int *value, xattn_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item) return XATTN_OK;
    if (!cJSON_IsString(item)) return wrong_type(path, item, "a string", err);
    for (size_t k = 0; k < n_names; k++) {
        if (strcmp(item->valuestring, names[k]) == 0) {
            *value = (int)k;
            return XATTN_OK;
        }
    }
    char list[256] = "";
    for (size_t k = 0; k < n_supported; k++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", names[k]);
    }
    char shown[65];
    return xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: %s \"%s\" is not supported (%s)", path,
                      key, printable_value(item->valuestring, shown), list);
}

/* Reads the whole file into a NUL-terminated buffer (caller frees). */
static xattn_status read_text_file(const char *path, char **out, xattn_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return xattn_fail(err, XATTN_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = malloc(SCHEDULER_MAX_CONFIG_BYTES + 1);
    if (!buf) {
        fclose(f);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t len = fread(buf, 1, SCHEDULER_MAX_CONFIG_BYTES + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return xattn_fail(err, XATTN_ERR_IO, "%s: read error", path);
    }
    if (len > SCHEDULER_MAX_CONFIG_BYTES) {
        free(buf);
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: larger than %d bytes, not a scheduler config",
                          path, SCHEDULER_MAX_CONFIG_BYTES);
    }
    buf[len] = '\0';
    *out = buf;
    return XATTN_OK;
}

/* A key that must be absent, null, false or the value diffusers defaults to. */
static xattn_status refuse_if_set(const cJSON *root, const char *key, const char *path,
                                  const char *allowed, xattn_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item || cJSON_IsNull(item) || cJSON_IsFalse(item)) return XATTN_OK;
    if (allowed && cJSON_IsString(item) && strcmp(item->valuestring, allowed) == 0) return XATTN_OK;
    if (cJSON_IsArray(item) && cJSON_GetArraySize(item) == 0) return XATTN_OK;
    if (cJSON_IsString(item)) {
        char shown[65];
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: %s \"%s\" is not supported (%s)", path,
                          key, printable_value(item->valuestring, shown), allowed ? allowed : "");
    }
    if (cJSON_IsNumber(item))
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: %s %g is not supported (null)", path,
                          key, item->valuedouble);
    return xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: %s %s is not supported", path, key,
                      cJSON_IsTrue(item) ? "true" : json_type_name(item));
}

/* The keys of Euler, Heun, LMS, DPM-Solver, UniPC and PNDM. */
static xattn_status parse_other_keys(const cJSON *root, const char *path, scheduler_config *cfg,
                                     xattn_error *err) {
    xattn_status st;
    int choice;
    if ((st = read_bool(root, "use_karras_sigmas", path, &cfg->use_karras_sigmas, err))) return st;
    const cJSON *order = cJSON_GetObjectItemCaseSensitive(root, "solver_order");
    if (order) {
        if (!cJSON_IsNumber(order)) return wrong_type(path, order, "an integer", err);
        if (order->valuedouble != 1 && order->valuedouble != 2)
            return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                              "%s: solver_order %.17g is not supported (1, 2)", path,
                              order->valuedouble);
        cfg->solver_order = (int)order->valuedouble;
    }
    choice = (int)cfg->algorithm_type;
    if ((st = read_choice(root, "algorithm_type", path, algorithm_names, N_NAMES(algorithm_names),
                          2, &choice, err)))
        return st;
    if (choice >= SCHEDULER_ALGO_DPMSOLVER)
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "%s: algorithm_type \"%s\" is not supported (dpmsolver++, "
                          "sde-dpmsolver++)",
                          path, algorithm_names[choice]);
    cfg->algorithm_type = (scheduler_algorithm)choice;
    if (cJSON_GetObjectItemCaseSensitive(root, "algorithm_type"))
        cfg->present |= SCHEDULER_HAS_ALGORITHM_TYPE;
    if (cfg->class_kind == XATTN_SAMPLER_DPMPP_2M &&
        cfg->algorithm_type == SCHEDULER_ALGO_SDE_DPMSOLVERPP)
        cfg->class_kind = XATTN_SAMPLER_DPMPP_2M_SDE;
    choice = (int)cfg->solver_type;
    const cJSON *solver = cJSON_GetObjectItemCaseSensitive(root, "solver_type");
    if (solver) {
        /* "logrho" is a name both classes map to their default */
        if (cJSON_IsString(solver) && strcmp(solver->valuestring, "logrho") == 0) {
            choice = SCHEDULER_SOLVER_MIDPOINT;
        } else if ((st = read_choice(root, "solver_type", path, solver_type_names,
                                     N_NAMES(solver_type_names), N_NAMES(solver_type_names),
                                     &choice, err))) {
            return st;
        }
        cfg->present |= SCHEDULER_HAS_SOLVER_TYPE;
    }
    cfg->solver_type = (scheduler_solver_type)choice;
    if ((st = read_bool(root, "lower_order_final", path, &cfg->lower_order_final, err))) return st;
    if ((st = read_bool(root, "euler_at_final", path, &cfg->euler_at_final, err))) return st;
    choice = cfg->final_sigmas_sigma_min;
    if ((st = read_choice(root, "final_sigmas_type", path, final_sigmas_names,
                          N_NAMES(final_sigmas_names), N_NAMES(final_sigmas_names), &choice, err)))
        return st;
    cfg->final_sigmas_sigma_min = choice;
    if ((st = read_bool(root, "predict_x0", path, &cfg->predict_x0, err))) return st;
    if ((st = read_bool(root, "skip_prk_steps", path, &cfg->skip_prk_steps, err))) return st;
    const cJSON *dc = cJSON_GetObjectItemCaseSensitive(root, "disable_corrector");
    if (dc) {
        if (!cJSON_IsArray(dc)) return wrong_type(path, dc, "an array of integers", err);
        const cJSON *e;
        cfg->n_disable_corrector = 0;
        cJSON_ArrayForEach(e, dc) {
            if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) ||
                fabs(e->valuedouble) > 1e6)
                return xattn_fail(err, XATTN_ERR_FORMAT,
                                  "%s: disable_corrector must be an array of integers", path);
            if (cfg->n_disable_corrector == SCHEDULER_MAX_DISABLE_CORRECTOR)
                return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                                  "%s: disable_corrector has more than %d entries", path,
                                  SCHEDULER_MAX_DISABLE_CORRECTOR);
            cfg->disable_corrector[cfg->n_disable_corrector++] = (int)e->valuedouble;
        }
    }
    const cJSON *clipped = cJSON_GetObjectItemCaseSensitive(root, "lambda_min_clipped");
    if (clipped && !(cJSON_IsNumber(clipped) && isinf(clipped->valuedouble) &&
                     clipped->valuedouble < 0))
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "%s: lambda_min_clipped is not supported (only -Infinity)", path);
    static const char *const off_keys[] = {"use_exponential_sigmas", "use_beta_sigmas",
                                           "use_lu_lambdas", "use_flow_sigmas",
                                           "use_dynamic_shifting", "sigma_min", "sigma_max",
                                           "solver_p", "shift_terminal"};
    for (size_t k = 0; k < N_NAMES(off_keys); k++)
        if ((st = refuse_if_set(root, off_keys[k], path, NULL, err))) return st;
    if ((st = refuse_if_set(root, "timestep_type", path, "discrete", err))) return st;
    if ((st = refuse_if_set(root, "interpolation_type", path, "linear", err))) return st;
    return XATTN_OK;
}

static xattn_status parse_config(const cJSON *root, const char *path, scheduler_config *cfg,
                                 xattn_error *err) {
    xattn_status st;
    int choice;
    if (!cJSON_IsObject(root))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: not a JSON object", path);

    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "_class_name");
    if (cls) {
        if (!cJSON_IsString(cls)) return wrong_type(path, cls, "a string", err);
        size_t k = 0;
        while (k < N_NAMES(class_names) && strcmp(cls->valuestring, class_names[k].name) != 0) k++;
        if (k == N_NAMES(class_names)) {
            char value[65];
            return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                              "%s: _class_name \"%s\" is not supported (DDIMScheduler, "
                              "DDPMScheduler, EulerDiscreteScheduler, "
                              "EulerAncestralDiscreteScheduler, HeunDiscreteScheduler, "
                              "DPMSolverMultistepScheduler, UniPCMultistepScheduler, "
                              "LMSDiscreteScheduler, PNDMScheduler)",
                              path, printable_value(cls->valuestring, value));
        }
        cfg->class_kind = class_names[k].kind;
    }

    if ((st = read_int(root, "num_train_timesteps", path, 1, SCHEDULER_MAX_TRAIN_TIMESTEPS,
                       &cfg->num_train_timesteps, err)))
        return st;
    if ((st = read_double(root, "beta_start", path, &cfg->beta_start, err))) return st;
    if ((st = read_double(root, "beta_end", path, &cfg->beta_end, err))) return st;
    if (cJSON_GetObjectItemCaseSensitive(root, "beta_start")) cfg->present |= SCHEDULER_HAS_BETA_START;
    if (cJSON_GetObjectItemCaseSensitive(root, "beta_end")) cfg->present |= SCHEDULER_HAS_BETA_END;
    if (cJSON_GetObjectItemCaseSensitive(root, "clip_sample"))
        cfg->present |= SCHEDULER_HAS_CLIP_SAMPLE;
    if (cJSON_GetObjectItemCaseSensitive(root, "set_alpha_to_one"))
        cfg->present |= SCHEDULER_HAS_SET_ALPHA_TO_ONE;
    if (cJSON_GetObjectItemCaseSensitive(root, "timestep_spacing"))
        cfg->present |= SCHEDULER_HAS_TIMESTEP_SPACING;
    choice = (int)cfg->beta_schedule;
    if ((st = read_choice(root, "beta_schedule", path, beta_schedule_names,
                          N_NAMES(beta_schedule_names), N_NAMES(beta_schedule_names), &choice, err)))
        return st;
    cfg->beta_schedule = (scheduler_beta_schedule)choice;

    const cJSON *trained = cJSON_GetObjectItemCaseSensitive(root, "trained_betas");
    if (trained && !cJSON_IsNull(trained))
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "%s: trained_betas is not supported (use beta_schedule)", path);

    if ((st = read_bool(root, "clip_sample", path, &cfg->clip_sample, err))) return st;
    if ((st = read_double(root, "clip_sample_range", path, &cfg->clip_sample_range, err)))
        return st;
    if (!(cfg->clip_sample_range > 0))
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: clip_sample_range %g must be > 0", path,
                          cfg->clip_sample_range);
    if ((st = read_bool(root, "set_alpha_to_one", path, &cfg->set_alpha_to_one, err))) return st;
    if ((st = read_int(root, "steps_offset", path, 0, SCHEDULER_MAX_TRAIN_TIMESTEPS,
                       &cfg->steps_offset, err)))
        return st;
    choice = (int)cfg->prediction_type;
    if ((st = read_choice(root, "prediction_type", path, prediction_names,
                          N_NAMES(prediction_names), N_NAMES(prediction_names), &choice, err)))
        return st;
    cfg->prediction_type = (scheduler_prediction)choice;
    if ((st = read_bool(root, "thresholding", path, &cfg->thresholding, err))) return st;
    if (cfg->thresholding)
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "%s: thresholding true is not supported (dynamic thresholding)", path);
    if ((st = read_double(root, "dynamic_thresholding_ratio", path,
                          &cfg->dynamic_thresholding_ratio, err)))
        return st;
    if ((st = read_double(root, "sample_max_value", path, &cfg->sample_max_value, err))) return st;
    choice = (int)cfg->timestep_spacing;
    if ((st = read_choice(root, "timestep_spacing", path, spacing_names, N_NAMES(spacing_names),
                          N_NAMES(spacing_names), &choice, err)))
        return st;
    cfg->timestep_spacing = (scheduler_spacing)choice;
    if ((st = read_bool(root, "rescale_betas_zero_snr", path, &cfg->rescale_betas_zero_snr, err)))
        return st;
    if (cfg->rescale_betas_zero_snr && cfg->prediction_type == SCHEDULER_PREDICT_EPSILON)
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "%s: rescale_betas_zero_snr true needs prediction_type v_prediction or "
                          "sample (epsilon divides by sqrt(alphas_cumprod) = 0)",
                          path);
    /* all six names are diffusers', only the first two are sampled (checked by scheduler_new) */
    choice = (int)cfg->variance_type;
    const cJSON *variance = cJSON_GetObjectItemCaseSensitive(root, "variance_type");
    if (variance && !cJSON_IsNull(variance) && /* null: DPMSolverMultistepScheduler's default */
        (st = read_choice(root, "variance_type", path, variance_names, N_NAMES(variance_names), 2,
                          &choice, err)))
        return st;
    cfg->variance_type = (scheduler_variance)choice;
    return parse_other_keys(root, path, cfg, err);
}

xattn_status scheduler_config_load(const char *path, scheduler_config *cfg, xattn_error *err) {
    scheduler_config_init(cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", path);
    char *text = NULL;
    xattn_status st = read_text_file(path, &text, err);
    if (st) return st;
    /* Python's json writes -Infinity (DPMSolverMultistepScheduler's lambda_min_clipped) and
     * Infinity, which are not JSON: outside strings they become -1e999 / 1e999 (infinite). */
    int in_string = 0;
    for (char *c = text; *c; c++) {
        if (in_string) {
            if (*c == '\\' && c[1]) c++;
            else if (*c == '"') in_string = 0;
        } else if (*c == '"') {
            in_string = 1;
        } else if (strncmp(c, "Infinity", 8) == 0) {
            memcpy(c, "1e999   ", 8);
        }
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return xattn_fail(err, XATTN_ERR_FORMAT, "%s: not valid JSON", path);
    st = parse_config(root, path, cfg, err);
    cJSON_Delete(root);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* The schedule                                                                                */

/* out[n] = torch.linspace(start, end, n, dtype=float32): step = (end - start) / (n - 1) in
 * float, the first half start + k step, the second end - (n-1-k) step, each one fused
 * multiply-add as torch's CPU kernel computes them. */
static void linspace_float(float *out, float start, float end, int n) {
    if (n == 1) {
        out[0] = start;
        return;
    }
    float range = end - start;
    float step = range / (float)(n - 1);
    int halfway = n / 2;
    for (int k = 0; k < n; k++) {
        if (k < halfway)
            out[k] = fmaf(step, (float)k, start);
        else
            out[k] = fmaf(-step, (float)(n - 1 - k), end);
    }
}

/* alpha_bar(t) = cos((t + 0.008) / 1.008 * π/2)^2, in double as Python computes it. */
static double cosine_alpha_bar(double t) {
    const double pi = 3.141592653589793;
    double angle = (t + 0.008) / 1.008 * pi / 2.0;
    return pow(cos(angle), 2.0);
}

/* acp[n] = torch.cumprod(alphas, 0): a double accumulator rounded to float at each index. */
static void cumprod_float(float *acp, const float *alphas, int n) {
    double acc = 1.0;
    for (int k = 0; k < n; k++) {
        acc *= (double)alphas[k];
        acp[k] = (float)acc;
    }
}

/* betas[n] rescaled so that the last alphas_cumprod is 0, keeping the first (float32).
 * scratch[n]. */
static void rescale_zero_terminal_snr(float *betas, float *scratch, int n) {
    for (int k = 0; k < n; k++) betas[k] = 1.0f - betas[k];    /* alphas */
    cumprod_float(scratch, betas, n);                           /* alphas_cumprod */
    for (int k = 0; k < n; k++) scratch[k] = sqrtf(scratch[k]); /* sqrt(alphas_cumprod) */
    float first = scratch[0], last = scratch[n - 1];
    float span = first - last;
    float scale = first / span;
    for (int k = 0; k < n; k++) {
        float shifted = scratch[k] - last;
        scratch[k] = shifted * scale;
    }
    for (int k = 0; k < n; k++) scratch[k] = scratch[k] * scratch[k]; /* alphas_bar */
    for (int k = n - 1; k >= 1; k--) betas[k] = scratch[k] / scratch[k - 1];
    betas[0] = scratch[0];
    for (int k = 0; k < n; k++) betas[k] = 1.0f - betas[k];
}

/* betas[N] of the config; scratch[N]. */
static void compute_betas(const scheduler_config *cfg, float *betas, float *scratch) {
    int n = cfg->num_train_timesteps;
    switch (cfg->beta_schedule) {
    case SCHEDULER_BETA_LINEAR:
        linspace_float(betas, (float)cfg->beta_start, (float)cfg->beta_end, n);
        break;
    case SCHEDULER_BETA_SCALED_LINEAR:
        linspace_float(betas, (float)pow(cfg->beta_start, 0.5), (float)pow(cfg->beta_end, 0.5), n);
        for (int k = 0; k < n; k++) betas[k] = betas[k] * betas[k];
        break;
    case SCHEDULER_BETA_SQUAREDCOS_CAP_V2:
        for (int k = 0; k < n; k++) {
            double t1 = (double)k / (double)n, t2 = (double)(k + 1) / (double)n;
            double beta = 1.0 - cosine_alpha_bar(t2) / cosine_alpha_bar(t1);
            betas[k] = (float)(beta < 0.999 ? beta : 0.999);
        }
        break;
    }
    if (cfg->rescale_betas_zero_snr) rescale_zero_terminal_snr(betas, scratch, n);
}

/* timesteps[n_steps] from high to low, as diffusers' set_timesteps (numpy float64). */
void scheduler_ddim_timesteps(const scheduler_config *cfg, int n_steps, int *timesteps) {
    int n_train = cfg->num_train_timesteps;
    switch (cfg->timestep_spacing) {
    case SCHEDULER_SPACING_LEADING: {
        int ratio = n_train / n_steps;
        for (int k = 0; k < n_steps; k++)
            timesteps[n_steps - 1 - k] = k * ratio + cfg->steps_offset;
        break;
    }
    case SCHEDULER_SPACING_TRAILING: {
        /* np.arange(N, 0, -N/n): element k is N + k * delta with delta = (N - N/n) - N */
        double ratio = (double)n_train / (double)n_steps;
        double second = (double)n_train - ratio;
        double delta = second - (double)n_train;
        for (int k = 0; k < n_steps; k++) {
            double offset = k * delta; /* a statement of its own: never a fused multiply-add */
            double v = k == 0 ? (double)n_train : k == 1 ? second : (double)n_train + offset;
            timesteps[k] = (int)nearbyint(v) - 1; /* np.round: half to even */
        }
        break;
    }
    case SCHEDULER_SPACING_LINSPACE: {
        /* np.linspace(0, N - 1, n): k * step, the last exactly N - 1 */
        double step = n_steps > 1 ? (double)(n_train - 1) / (double)(n_steps - 1) : 0.0;
        for (int k = 0; k < n_steps; k++) {
            double v = (n_steps > 1 && k == n_steps - 1) ? (double)(n_train - 1) : k * step;
            timesteps[n_steps - 1 - k] = (int)nearbyint(v);
        }
        break;
    }
    }
}

static int kind_has_karras(xattn_sampler_kind k) {
    return k == XATTN_SAMPLER_EULER || k == XATTN_SAMPLER_HEUN || k == XATTN_SAMPLER_LMS ||
           k == XATTN_SAMPLER_DPMPP_2M || k == XATTN_SAMPLER_DPMPP_2M_SDE ||
           k == XATTN_SAMPLER_UNIPC;
}

/* from_config's view of cfg for the class of `kind`: the keys the file lacks take that class's
 * defaults, keys the class lacks are ignored. */
static void config_for_kind(scheduler_config *c, xattn_sampler_kind kind) {
    if (kind == XATTN_SAMPLER_HEUN) {
        if (!(c->present & SCHEDULER_HAS_BETA_START)) c->beta_start = 0.00085;
        if (!(c->present & SCHEDULER_HAS_BETA_END)) c->beta_end = 0.012;
        if (!(c->present & SCHEDULER_HAS_CLIP_SAMPLE)) c->clip_sample = 0;
    }
    if (kind == XATTN_SAMPLER_PNDM && !(c->present & SCHEDULER_HAS_SET_ALPHA_TO_ONE))
        c->set_alpha_to_one = 0;
    if (kind >= XATTN_SAMPLER_EULER && kind != XATTN_SAMPLER_PNDM &&
        !(c->present & SCHEDULER_HAS_TIMESTEP_SPACING))
        c->timestep_spacing = SCHEDULER_SPACING_LINSPACE;
    if (kind == XATTN_SAMPLER_HEUN || kind == XATTN_SAMPLER_LMS || kind == XATTN_SAMPLER_PNDM)
        c->rescale_betas_zero_snr = 0;
    if (kind == XATTN_SAMPLER_DPMPP_2M) c->algorithm_type = SCHEDULER_ALGO_DPMSOLVERPP;
    if (kind == XATTN_SAMPLER_DPMPP_2M_SDE) c->algorithm_type = SCHEDULER_ALGO_SDE_DPMSOLVERPP;
    /* DPM-Solver maps UniPC's solver types to midpoint, UniPC maps DPM-Solver's to bh2 */
    if (kind == XATTN_SAMPLER_DPMPP_2M || kind == XATTN_SAMPLER_DPMPP_2M_SDE) {
        if (c->solver_type == SCHEDULER_SOLVER_BH1 || c->solver_type == SCHEDULER_SOLVER_BH2)
            c->solver_type = SCHEDULER_SOLVER_MIDPOINT;
    }
    if (kind == XATTN_SAMPLER_UNIPC) {
        if (!(c->present & SCHEDULER_HAS_SOLVER_TYPE) || c->solver_type == SCHEDULER_SOLVER_MIDPOINT ||
            c->solver_type == SCHEDULER_SOLVER_HEUN)
            c->solver_type = SCHEDULER_SOLVER_BH2;
    }
}

xattn_status scheduler_new(const scheduler_config *cfg, xattn_sampler_kind kind, int n_steps,
                           float eta, scheduler **out, xattn_error *err) {
    return scheduler_new_karras(cfg, kind, n_steps, eta, 0, out, err);
}

xattn_status scheduler_new_karras(const scheduler_config *cfg_in, xattn_sampler_kind kind,
                                  int n_steps, float eta, int karras, scheduler **out,
                                  xattn_error *err) {
    const char *src = config_source(cfg_in);
    int n_train = cfg_in->num_train_timesteps;
    *out = NULL;
    if (kind == XATTN_SAMPLER_MODEL) kind = cfg_in->class_kind;
    if ((int)kind < 0 || (int)kind >= XATTN_SAMPLER_COUNT)
        return xattn_fail(err, XATTN_ERR_VALUE, "sampler: unknown sampler %d", (int)kind);
    scheduler_config cfg_local = *cfg_in;
    scheduler_config *cfg = &cfg_local;
    config_for_kind(cfg, kind);
    if (n_train < 1 || n_train > SCHEDULER_MAX_TRAIN_TIMESTEPS)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: num_train_timesteps %d is outside 1..%d", src,
                          n_train, SCHEDULER_MAX_TRAIN_TIMESTEPS);
    if (n_steps < 1 || n_steps > n_train)
        return xattn_fail(err, XATTN_ERR_VALUE,
                          "steps: %d is outside 1..%d (the model's num_train_timesteps)",
                          n_steps, n_train);
    if (!(eta >= 0) || !isfinite(eta))
        return xattn_fail(err, XATTN_ERR_VALUE, "eta: %g must be a finite number >= 0",
                          (double)eta);
    if (cfg->thresholding)
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: thresholding true is not supported",
                          src);
    if (kind == XATTN_SAMPLER_DDPM && cfg->variance_type != SCHEDULER_VARIANCE_FIXED_SMALL &&
        cfg->variance_type != SCHEDULER_VARIANCE_FIXED_LARGE)
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "%s: variance_type \"%s\" is not supported by the ddpm sampler "
                          "(fixed_small, fixed_large)",
                          src, variance_names[cfg->variance_type]);
    if ((kind == XATTN_SAMPLER_DPMPP_2M || kind == XATTN_SAMPLER_DPMPP_2M_SDE) &&
        (cfg->variance_type == SCHEDULER_VARIANCE_LEARNED ||
         cfg->variance_type == SCHEDULER_VARIANCE_LEARNED_RANGE))
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "%s: variance_type \"%s\" is not supported by the %s sampler", src,
                          variance_names[cfg->variance_type], xattn_sampler_name(kind));
    if (cfg->rescale_betas_zero_snr && cfg->prediction_type == SCHEDULER_PREDICT_EPSILON)
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "%s: rescale_betas_zero_snr true needs prediction_type v_prediction or "
                          "sample",
                          src);
    if (cfg->prediction_type == SCHEDULER_PREDICT_SAMPLE &&
        (kind == XATTN_SAMPLER_EULER_A || kind == XATTN_SAMPLER_PNDM))
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "%s: prediction_type \"sample\" is not supported by the %s sampler "
                          "(diffusers has none)",
                          src, xattn_sampler_name(kind));
    if (karras && !kind_has_karras(kind))
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "karras: the %s sampler has no Karras sigmas (euler, heun, lms, "
                          "dpmpp_2m, dpmpp_2m_sde, unipc have)",
                          xattn_sampler_name(kind));
    if (kind == XATTN_SAMPLER_PNDM && !cfg->skip_prk_steps && n_steps < 4)
        return xattn_fail(err, XATTN_ERR_VALUE,
                          "steps: %d is too few for pndm's Runge-Kutta warm-up (needs 4, or "
                          "skip_prk_steps true)",
                          n_steps);

    scheduler *s = calloc(1, sizeof *s);
    float *betas = malloc((size_t)n_train * sizeof *betas);   /* [N] */
    float *scratch = malloc((size_t)n_train * sizeof *scratch); /* [N] */
    if (s) {
        s->alphas_cumprod = malloc((size_t)n_train * sizeof *s->alphas_cumprod);
        if (!sampler_is_new_kind(kind))
            s->timesteps = malloc((size_t)n_steps * sizeof *s->timesteps);
    }
    if (!s || !betas || !scratch || !s->alphas_cumprod ||
        (!sampler_is_new_kind(kind) && !s->timesteps)) {
        free(betas);
        free(scratch);
        scheduler_free(s);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory for %d timesteps", src, n_train);
    }
    s->cfg = *cfg;
    s->kind = kind;
    s->n_train = n_train;
    s->n_steps = n_steps;
    s->eta = eta;
    s->karras = kind_has_karras(kind) && (karras || cfg->use_karras_sigmas);
    s->init_noise_sigma = 1.0f;
    s->order = 1;

    compute_betas(cfg, betas, scratch);
    for (int k = 0; k < n_train; k++) scratch[k] = 1.0f - betas[k]; /* alphas */
    cumprod_float(s->alphas_cumprod, scratch, n_train);
    free(betas);
    free(scratch);
    for (int k = 0; k < n_train; k++) {
        float a = s->alphas_cumprod[k];
        /* a in (0, 1); the zero-SNR rescale makes the last exactly 0 */
        int last_zero_ok = cfg->rescale_betas_zero_snr && k == n_train - 1 && a == 0.0f;
        if (!((a > 0.0f && a < 1.0f) || last_zero_ok)) {
            scheduler_free(s);
            return xattn_fail(err, XATTN_ERR_VALUE,
                              "%s: the beta schedule (beta_start %g, beta_end %g) gives "
                              "alphas_cumprod[%d] = %g, outside (0, 1)",
                              src, cfg->beta_start, cfg->beta_end, k, (double)a);
        }
    }
    s->final_alpha_cumprod = cfg->set_alpha_to_one ? 1.0f : s->alphas_cumprod[0];

    if (sampler_is_new_kind(kind)) {
        xattn_status st = sampler_setup(s, err);
        if (st != XATTN_OK) {
            scheduler_free(s);
            return st;
        }
        *out = s;
        return XATTN_OK;
    }
    s->n_evals = n_steps;
    scheduler_ddim_timesteps(cfg, n_steps, s->timesteps);
    for (int i = 0; i < n_steps; i++) {
        if (s->timesteps[i] < 0 || s->timesteps[i] >= n_train) {
            int t = s->timesteps[i];
            scheduler_free(s);
            return xattn_fail(err, XATTN_ERR_VALUE,
                              "%s: steps_offset %d with %d steps gives timestep %d, outside 0..%d",
                              src, cfg->steps_offset, n_steps, t, n_train - 1);
        }
    }
    *out = s;
    return XATTN_OK;
}

void scheduler_free(scheduler *s) {
    if (!s) return;
    free(s->alphas_cumprod);
    free(s->timesteps);
    free(s->model_t);
    free(s->sigmas);
    free(s->state);
    free(s);
}

xattn_sampler_kind scheduler_kind(const scheduler *s) { return s->kind; }

xattn_status scheduler_prepare(scheduler *s, size_t n, xattn_error *err) {
    s->n_hist = 0;
    s->lower_order_nums = 0;
    s->this_order = 0;
    s->have_last = 0;
    s->counter = 0;
    s->heun_dt = 0.0f;
    if (!sampler_is_new_kind(s->kind) || (s->state && s->n_state == n)) return XATTN_OK;
    free(s->state);
    s->state = NULL;
    s->n_state = 0;
    size_t count = SCHEDULER_MAX_HISTORY + 3;
    if (n > SIZE_MAX / sizeof(float) / count ||
        !(s->state = malloc(n * count * sizeof(float))))
        return xattn_fail(err, XATTN_ERR_NOMEM, "sampler: out of memory for %zu floats of state",
                          n * count);
    for (int k = 0; k < SCHEDULER_MAX_HISTORY; k++) s->hist[k] = s->state + (size_t)k * n;
    for (int k = 0; k < 3; k++) s->aux[k] = s->state + (size_t)(SCHEDULER_MAX_HISTORY + k) * n;
    s->n_state = n;
    return XATTN_OK;
}

int scheduler_n_steps(const scheduler *s) { return s->n_steps; }

int scheduler_num_train_timesteps(const scheduler *s) { return s->n_train; }

int scheduler_timestep(const scheduler *s, int i) {
    return (i >= 0 && i < s->n_evals) ? s->timesteps[i] : -1;
}

float scheduler_alpha_cumprod(const scheduler *s, int t) {
    return (t >= 0 && t < s->n_train) ? s->alphas_cumprod[t] : NAN;
}

int scheduler_step_uses_noise(const scheduler *s, int i) {
    if (i < 0 || i >= s->n_evals) return 0;
    if (s->kind == XATTN_SAMPLER_DDIM) return s->eta > 0.0f;
    if (s->kind == XATTN_SAMPLER_DDPM) return s->timesteps[i] > 0;
    return s->kind == XATTN_SAMPLER_EULER_A || s->kind == XATTN_SAMPLER_DPMPP_2M_SDE;
}

/* ------------------------------------------------------------------------------------------ */
/* Steps                                                                                       */

/* x0 from the model output m and x_t; sa = sqrt(a_t), sb = sqrt(1 - a_t). */
static float predict_original(scheduler_prediction p, float m, float x, float sa, float sb) {
    switch (p) {
    case SCHEDULER_PREDICT_EPSILON: {
        float noise_part = sb * m;
        float signal = x - noise_part;
        return signal / sa;
    }
    case SCHEDULER_PREDICT_V: {
        float from_x = sa * x;
        float from_m = sb * m;
        return from_x - from_m;
    }
    case SCHEDULER_PREDICT_SAMPLE: return m;
    }
    return m;
}

static float clip_original(const scheduler_config *cfg, float x0) {
    if (!cfg->clip_sample) return x0;
    float r = (float)cfg->clip_sample_range;
    float lo = -r;
    /* torch.clamp: max with the lower bound, then min with the upper; NaN stays NaN */
    if (x0 < lo) x0 = lo;
    if (x0 > r) x0 = r;
    return x0;
}

static void ddim_step(const scheduler *s, int i, const float *model_output, const float *sample,
                      const float *noise, float *prev, size_t n) {
    int t = s->timesteps[i];
    int t_prev = t - s->n_train / s->n_steps;
    float a_t = s->alphas_cumprod[t];
    float a_prev = t_prev >= 0 ? s->alphas_cumprod[t_prev] : s->final_alpha_cumprod;
    float b_t = 1.0f - a_t;
    float b_prev = 1.0f - a_prev;
    float sa = sqrtf(a_t), sb = sqrtf(b_t);

    /* variance = (b_prev / b_t) (1 - a_t / a_prev); std = eta sqrt(variance) */
    float ratio_b = b_prev / b_t;
    float ratio_a = a_t / a_prev;
    float one_minus_ratio_a = 1.0f - ratio_a;
    float variance = ratio_b * one_minus_ratio_a;
    float std_dev = s->eta * sqrtf(variance);
    float std_sq = std_dev * std_dev;
    float dir_sq = b_prev - std_sq; /* (1 - a_prev) - std^2 */
    if (dir_sq < 0.0f) dir_sq = 0.0f; /* only for eta > 1; diffusers gives NaN */
    float dir_coeff = sqrtf(dir_sq);
    float sa_prev = sqrtf(a_prev);
    int add_noise = s->eta > 0.0f;

    for (size_t k = 0; k < n; k++) {
        float m = model_output[k], x = sample[k];
        float x0 = predict_original(s->cfg.prediction_type, m, x, sa, sb);
        float eps;
        if (s->cfg.prediction_type == SCHEDULER_PREDICT_EPSILON) {
            eps = m;
        } else if (s->cfg.prediction_type == SCHEDULER_PREDICT_V) {
            float from_m = sa * m;
            float from_x = sb * x;
            eps = from_m + from_x;
        } else { /* eps = (x - sqrt(a_t) x0) / sqrt(1 - a_t), from the unclipped x0 */
            float signal = sa * x0;
            float rest = x - signal;
            eps = rest / sb;
        }
        x0 = clip_original(&s->cfg, x0);
        float direction = dir_coeff * eps;
        float mean = sa_prev * x0;
        float v = mean + direction;
        if (add_noise) {
            float z = std_dev * noise[k];
            v = v + z;
        }
        prev[k] = v;
    }
}

static void ddpm_step(const scheduler *s, int i, const float *model_output, const float *sample,
                      const float *noise, float *prev, size_t n) {
    int t = s->timesteps[i];
    int t_prev = i + 1 < s->n_steps ? s->timesteps[i + 1] : -1;
    float a_t = s->alphas_cumprod[t];
    float a_prev = t_prev >= 0 ? s->alphas_cumprod[t_prev] : 1.0f;
    float b_t = 1.0f - a_t;
    float b_prev = 1.0f - a_prev;
    float alpha_t = a_t / a_prev; /* current_alpha_t */
    float beta_t = 1.0f - alpha_t;
    float sa = sqrtf(a_t), sb = sqrtf(b_t);

    /* coefficients of x0 and x_t in the posterior mean */
    float c0_num = sqrtf(a_prev) * beta_t;
    float c0 = c0_num / b_t;
    float ct_num = sqrtf(alpha_t) * b_prev;
    float ct = ct_num / b_t;

    float sigma = 0.0f;
    if (t > 0) {
        float variance;
        if (s->cfg.variance_type == SCHEDULER_VARIANCE_FIXED_LARGE) {
            variance = beta_t;
        } else { /* (1 - a_prev) / (1 - a_t) beta_t, clamped at 1e-20 */
            float one_minus_prev = 1.0f - a_prev;
            float one_minus_t = 1.0f - a_t;
            float ratio = one_minus_prev / one_minus_t;
            variance = ratio * beta_t;
            if (variance < 1e-20f) variance = 1e-20f;
        }
        sigma = sqrtf(variance);
    }

    for (size_t k = 0; k < n; k++) {
        float m = model_output[k], x = sample[k];
        float x0 = predict_original(s->cfg.prediction_type, m, x, sa, sb);
        x0 = clip_original(&s->cfg, x0);
        float from_x0 = c0 * x0;
        float from_x = ct * x;
        float v = from_x0 + from_x;
        if (t > 0) {
            float z = sigma * noise[k];
            v = v + z;
        }
        prev[k] = v;
    }
}

void scheduler_step(scheduler *s, int i, const float *model_output, const float *sample,
                    const float *noise, float *prev, size_t n) {
    if (i < 0 || i >= s->n_evals) return;
    if (sampler_is_new_kind(s->kind)) {
        if ((!s->state || s->n_state != n) && scheduler_prepare(s, n, NULL) != XATTN_OK) return;
        sampler_step(s, i, model_output, sample, noise, prev, n);
    } else if (s->kind == XATTN_SAMPLER_DDIM)
        ddim_step(s, i, model_output, sample, noise, prev, n);
    else
        ddpm_step(s, i, model_output, sample, noise, prev, n);
}

xattn_status scheduler_add_noise(const scheduler *s, int t, const float *original,
                                 const float *noise, float *noisy, size_t n, xattn_error *err) {
    if (t < 0 || t >= s->n_train)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: timestep %d is outside 0..%d",
                          config_source(&s->cfg), t, s->n_train - 1);
    float a = s->alphas_cumprod[t];
    float one_minus_a = 1.0f - a;
    float sa = sqrtf(a), sb = sqrtf(one_minus_a);
    for (size_t k = 0; k < n; k++) {
        float signal = sa * original[k];
        float added = sb * noise[k];
        noisy[k] = signal + added;
    }
    return XATTN_OK;
}

int scheduler_first_step_for_strength(const scheduler *s, double strength) {
    int n = s->n_steps;
    if (!(strength > 0.0)) return n; /* also NaN */
    double scaled = (double)n * strength;
    int init = scaled >= (double)n ? n : (int)scaled; /* int() truncates */
    int first = n - init;
    return first > 0 ? first : 0;
}
