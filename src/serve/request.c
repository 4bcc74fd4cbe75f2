/* request.c — a txt2img request body -> serve_request (see request.h). */
#include "serve/request.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, SERVE_ERROR_LEN, fmt, ap);
    va_end(ap);
    return -1;
}

/* 1 when s[n] is valid UTF-8 without control characters other than tab/newline/CR (a prompt
 * goes into PNG iTXt chunks and JSON answers, which need valid UTF-8). */
static int valid_text(const char *s, size_t n, int allow_newlines) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                if (!allow_newlines || (c != '\t' && c != '\n' && c != '\r')) return 0;
            }
            i++;
            continue;
        }
        size_t k;
        unsigned cp;
        if ((c & 0xe0) == 0xc0) k = 1, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0) k = 2, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0) k = 3, cp = c & 0x07;
        else return 0;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (p[i + j] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + j] & 0x3f);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

static char *dup_text(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* ------------------------------------------------------------------------------------------ */
/* Samplers                                                                                    */

int serve_sampler_from_name(const char *name, xattn_sampler_kind *kind, int *karras,
                            const char **canonical) {
    /* the library's one name table (docs/samplers.md): xattn's and A1111's names; the name as
     * spelled first ("DDIM" answers "DDIM", "ddim" "ddim"), then in any case */
    const xattn_sampler_alias *a;
    for (int any_case = 0; any_case < 2; any_case++)
        for (size_t i = 0; (a = xattn_sampler_alias_at(i)) != NULL; i++)
            if ((any_case ? strcasecmp(name, a->name) : strcmp(name, a->name)) == 0 &&
                a->kind != XATTN_SAMPLER_MODEL) {
                *kind = a->kind;
                *karras = a->karras;
                *canonical = a->name;
                return 0;
            }
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* A1111 fields xattn does not use: accepted at their neutral value                           */

enum rule {
    RULE_ANY,       /* only matters with a feature refused elsewhere (hires fix's settings) */
    RULE_FALSE,     /* false or null */
    RULE_TRUE,      /* true or null */
    RULE_EMPTY,     /* [] or {} or null */
    RULE_EMPTY_STR, /* "" or null */
    RULE_ONE,       /* 1 or null */
    RULE_ZERO,      /* 0 or null */
    RULE_NONPOS,    /* <= 0 or null */
};

static const struct {
    const char *name;
    enum rule rule;
    const char *feature; /* what a non-neutral value asks for */
} a1111_fields[] = {
    {"enable_hr", RULE_FALSE, "hires fix"},
    {"restore_faces", RULE_FALSE, "face restoration"},
    {"tiling", RULE_FALSE, "tiling"},
    {"save_images", RULE_FALSE, "saving images on the server"},
    {"send_images", RULE_TRUE, "an answer without images"},
    {"styles", RULE_EMPTY, "styles"},
    {"script_args", RULE_EMPTY, "scripts"},
    {"alwayson_scripts", RULE_EMPTY, "scripts"},
    {"override_settings", RULE_EMPTY, "settings overrides"},
    {"script_name", RULE_EMPTY_STR, "scripts"},
    {"refiner_checkpoint", RULE_EMPTY_STR, "a refiner model"},
    {"infotext", RULE_EMPTY_STR, "parameters from an infotext"},
    {"n_iter", RULE_ONE, "several batches per request (use batch_size)"},
    {"subseed_strength", RULE_ZERO, "variation seeds"},
    {"s_churn", RULE_ZERO, "sampler churn"},
    {"s_tmin", RULE_ZERO, "sampler churn"},
    {"s_tmax", RULE_ZERO, "sampler churn"},
    {"s_noise", RULE_ANY, NULL}, /* checked below: 1 or null */
    {"seed_resize_from_h", RULE_NONPOS, "seed resizing"},
    {"seed_resize_from_w", RULE_NONPOS, "seed resizing"},
    {"subseed", RULE_ANY, NULL},
    {"denoising_strength", RULE_ANY, NULL},
    {"firstphase_width", RULE_ANY, NULL},
    {"firstphase_height", RULE_ANY, NULL},
    {"hr_scale", RULE_ANY, NULL},
    {"hr_upscaler", RULE_ANY, NULL},
    {"hr_second_pass_steps", RULE_ANY, NULL},
    {"hr_resize_x", RULE_ANY, NULL},
    {"hr_resize_y", RULE_ANY, NULL},
    {"hr_checkpoint_name", RULE_ANY, NULL},
    {"hr_sampler_name", RULE_ANY, NULL},
    {"hr_scheduler", RULE_ANY, NULL},
    {"hr_prompt", RULE_ANY, NULL},
    {"hr_negative_prompt", RULE_ANY, NULL},
    {"hr_additional_modules", RULE_ANY, NULL},
    {"refiner_switch_at", RULE_ANY, NULL},
    {"do_not_save_samples", RULE_ANY, NULL},
    {"do_not_save_grid", RULE_ANY, NULL},
    {"override_settings_restore_afterwards", RULE_ANY, NULL},
    {"disable_extra_networks", RULE_ANY, NULL},
    {"comments", RULE_ANY, NULL},
    {"force_task_id", RULE_ANY, NULL},
};

/* 0 when item holds the field's neutral value, else -1 with the error. */
static int check_neutral(const cJSON *item, const char *name, enum rule rule, const char *feature,
                         char *err) {
    if (cJSON_IsNull(item)) return 0;
    int ok = 0;
    const char *want = "";
    switch (rule) {
    case RULE_ANY:
        if (strcmp(name, "s_noise") == 0) {
            ok = cJSON_IsNumber(item) && item->valuedouble == 1.0;
            want = "1";
            feature = "sampler noise scaling";
        } else {
            ok = 1;
        }
        break;
    case RULE_FALSE: ok = cJSON_IsFalse(item), want = "false"; break;
    case RULE_TRUE: ok = cJSON_IsTrue(item), want = "true"; break;
    case RULE_EMPTY:
        ok = (cJSON_IsArray(item) || cJSON_IsObject(item)) && item->child == NULL;
        want = cJSON_IsObject(item) ? "{}" : "[]";
        break;
    case RULE_EMPTY_STR: ok = cJSON_IsString(item) && item->valuestring[0] == '\0', want = "\"\""; break;
    case RULE_ONE: ok = cJSON_IsNumber(item) && item->valuedouble == 1.0, want = "1"; break;
    case RULE_ZERO: ok = cJSON_IsNumber(item) && item->valuedouble == 0.0, want = "0"; break;
    case RULE_NONPOS: ok = cJSON_IsNumber(item) && item->valuedouble <= 0.0, want = "0"; break;
    }
    if (ok) return 0;
    return fail(err, "%s: asks for %s, which xattn does not have (send %s, or leave it out)", name,
                feature, want);
}

/* ------------------------------------------------------------------------------------------ */
/* xattn's fields                                                                              */

static int get_int(const cJSON *item, const char *name, double lo, double hi, double *out,
                   char *err) {
    if (!cJSON_IsNumber(item)) return fail(err, "%s: must be an integer", name);
    double v = item->valuedouble;
    if (!isfinite(v) || floor(v) != v) return fail(err, "%s: must be an integer", name);
    if (v < lo || v > hi) return fail(err, "%s: %.17g is out of range %.17g .. %.17g", name, v, lo, hi);
    *out = v;
    return 0;
}

static int get_float(const cJSON *item, const char *name, double lo, double hi, float *out,
                     char *err) {
    if (!cJSON_IsNumber(item)) return fail(err, "%s: must be a number", name);
    double v = item->valuedouble;
    if (!isfinite(v) || v < lo || v > hi)
        return fail(err, "%s: %g is out of range %g .. %g", name, v, lo, hi);
    *out = (float)v;
    return 0;
}

static int get_text(const cJSON *item, const char *name, size_t cap, int newlines, char **out,
                    char *err) {
    if (cJSON_IsNull(item)) return 0;
    if (!cJSON_IsString(item)) return fail(err, "%s: must be a string", name);
    size_t n = strlen(item->valuestring);
    if (n > cap) return fail(err, "%s: %zu bytes, over the cap of %zu", name, n, cap);
    if (!valid_text(item->valuestring, n, newlines))
        return fail(err, "%s: not valid UTF-8 text (or holds control characters)", name);
    free(*out);
    *out = dup_text(item->valuestring);
    if (!*out) return fail(err, "%s: out of memory", name);
    return 0;
}

static int get_reweight(const cJSON *item, serve_request *r, char *err) {
    if (cJSON_IsNull(item)) return 0;
    if (!cJSON_IsObject(item)) return fail(err, "reweight: must be an object {\"word\": factor}");
    for (const cJSON *w = item->child; w; w = w->next) {
        const char *word = w->string ? w->string : "";
        size_t n = strlen(word);
        if (r->n_reweight == SERVE_MAX_REWEIGHTS)
            return fail(err, "reweight: more than %d words", SERVE_MAX_REWEIGHTS);
        if (n == 0 || n > SERVE_MAX_WORD || !valid_text(word, n, 0) || strchr(word, ' '))
            return fail(err, "reweight: a word must be 1 .. %d bytes of UTF-8 without spaces",
                        SERVE_MAX_WORD);
        for (size_t k = 0; k < r->n_reweight; k++)
            if (strcasecmp(r->reweight_word[k], word) == 0)
                return fail(err, "reweight: a word is given twice");
        if (!cJSON_IsNumber(w) || !isfinite(w->valuedouble) || w->valuedouble < 0 ||
            w->valuedouble > 100)
            return fail(err, "reweight: a factor must be a number 0 .. 100");
        r->reweight_word[r->n_reweight] = dup_text(word);
        if (!r->reweight_word[r->n_reweight]) return fail(err, "reweight: out of memory");
        r->reweight_factor[r->n_reweight++] = (float)w->valuedouble;
    }
    return 0;
}

static int get_spec(const cJSON *item, const char *name, char **out, char *err) {
    if (cJSON_IsNull(item)) return 0;
    if (!cJSON_IsString(item)) return fail(err, "%s: must be a string", name);
    const char *s = item->valuestring;
    size_t n = strlen(s);
    if (n == 0 || n > SERVE_MAX_SPEC) return fail(err, "%s: must be 1 .. %d characters", name, SERVE_MAX_SPEC);
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e) return fail(err, "%s: must be printable ASCII", name);
    free(*out);
    *out = dup_text(s);
    return *out ? 0 : fail(err, "%s: out of memory", name);
}

static int add_ignored(serve_request *r, const char *name) {
    if (r->n_ignored == SERVE_MAX_IGNORED) return 0;
    size_t n = strlen(name);
    if (n > 64) n = 64;
    char *copy = malloc(n + 1);
    if (!copy) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        copy[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?'; /* shown in the answer's info */
    }
    copy[n] = '\0';
    r->ignored[r->n_ignored++] = copy;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

enum field {
    F_PROMPT, F_NEGATIVE, F_SEED, F_STEPS, F_CFG, F_SAMPLER, F_SAMPLER_INDEX, F_SCHEDULER, F_ETA,
    F_BATCH, F_WIDTH, F_HEIGHT, F_HEATMAPS, F_REWEIGHT, F_HEAT_LAYERS, F_HEAT_HEADS, F_HEAT_STEPS,
    F_COUNT
};
static const char *const field_names[F_COUNT] = {
    "prompt", "negative_prompt", "seed", "steps", "cfg_scale", "sampler_name", "sampler_index",
    "scheduler", "eta", "batch_size", "width", "height", "heatmaps", "reweight", "heat_layers",
    "heat_heads", "heat_steps",
};

static int sampler_field(const cJSON *item, const char *name, serve_request *r, char *err) {
    if (cJSON_IsNull(item)) return 0;
    if (!cJSON_IsString(item)) return fail(err, "%s: must be a string", name);
    if (serve_sampler_from_name(item->valuestring, &r->sampler, &r->karras, &r->sampler_name) != 0) {
        int printable = valid_text(item->valuestring, strlen(item->valuestring), 0) &&
                        strlen(item->valuestring) <= 40;
        return fail(err, "%s: '%s' is not a sampler xattn has (GET /sdapi/v1/samplers)", name,
                    printable ? item->valuestring : "?");
    }
    return 0;
}

static int parse_field(enum field f, const cJSON *item, int sample_size, serve_request *r,
                       const cJSON **sampler_index, char *err) {
    const char *name = field_names[f];
    double v;
    switch (f) {
    case F_PROMPT: return get_text(item, name, SERVE_MAX_TEXT, 1, &r->prompt, err);
    case F_NEGATIVE: return get_text(item, name, SERVE_MAX_TEXT, 1, &r->negative, err);
    case F_SEED:
        if (cJSON_IsNull(item)) return 0;
        if (get_int(item, name, -1, 9007199254740992.0, &v, err) != 0) return -1;
        r->seed_random = v < 0;
        r->seed = v < 0 ? 0 : (uint64_t)v;
        return 0;
    case F_STEPS:
        if (cJSON_IsNull(item)) return 0;
        if (get_int(item, name, 1, SERVE_MAX_STEPS, &v, err) != 0) return -1;
        r->steps = (int)v;
        return 0;
    case F_CFG:
        if (cJSON_IsNull(item)) return 0;
        return get_float(item, name, 0, 30, &r->cfg, err);
    case F_SAMPLER: return sampler_field(item, name, r, err);
    case F_SAMPLER_INDEX: *sampler_index = item; return 0;
    case F_SCHEDULER:
        if (cJSON_IsNull(item)) return 0;
        if (!cJSON_IsString(item)) return fail(err, "%s: must be a string", name);
        if (item->valuestring[0] && strcasecmp(item->valuestring, "automatic") != 0)
            return fail(err, "%s: xattn runs the model's own scheduler (send \"automatic\")", name);
        return 0;
    case F_ETA:
        if (cJSON_IsNull(item)) return 0;
        return get_float(item, name, 0, 1, &r->eta, err);
    case F_BATCH:
        if (cJSON_IsNull(item)) return 0;
        if (get_int(item, name, 1, SERVE_MAX_BATCH, &v, err) != 0) return -1;
        r->batch = (int)v;
        return 0;
    case F_WIDTH:
    case F_HEIGHT:
        if (cJSON_IsNull(item)) return 0;
        if (!cJSON_IsNumber(item) || item->valuedouble != (double)sample_size)
            return fail(err, "%s: the model draws %dx%d images (send %d)", name, sample_size,
                        sample_size, sample_size);
        return 0;
    case F_HEATMAPS:
        if (cJSON_IsNull(item)) return 0;
        if (!cJSON_IsBool(item)) return fail(err, "%s: must be true or false", name);
        r->heatmaps = cJSON_IsTrue(item);
        return 0;
    case F_REWEIGHT: return get_reweight(item, r, err);
    case F_HEAT_LAYERS: return get_spec(item, name, &r->heat_layers, err);
    case F_HEAT_HEADS: return get_spec(item, name, &r->heat_heads, err);
    case F_HEAT_STEPS: return get_spec(item, name, &r->heat_steps, err);
    case F_COUNT: break;
    }
    return 0;
}

void serve_request_free(serve_request *r) {
    if (!r) return;
    free(r->prompt);
    free(r->negative);
    for (size_t k = 0; k < r->n_reweight; k++) free(r->reweight_word[k]);
    free(r->heat_layers);
    free(r->heat_heads);
    free(r->heat_steps);
    for (size_t k = 0; k < r->n_ignored; k++) free(r->ignored[k]);
    memset(r, 0, sizeof *r);
}

/* The A1111-style name of a sampler kind: the table's name that is neither xattn's own nor a
 * diffusers class ("UniPC", "DPM++ 2M Karras"), else xattn's ("euler" with Karras sigmas,
 * which the web UI does not name). */
static const char *display_name(xattn_sampler_kind kind, int karras) {
    const char *own = xattn_sampler_name(kind);
    const xattn_sampler_alias *a;
    for (size_t i = 0; (a = xattn_sampler_alias_at(i)) != NULL; i++) {
        size_t n = strlen(a->name);
        if (a->kind == kind && a->karras == karras && strcmp(a->name, own) != 0 &&
            !(n > 9 && strcmp(a->name + n - 9, "Scheduler") == 0))
            return a->name;
    }
    return own;
}

/* The request's defaults: the library's step count and the model's sampler, as the CLI's. */
static void defaults(serve_request *r, const xattn_model_info *model) {
    memset(r, 0, sizeof *r);
    r->seed_random = 1;
    r->steps = XATTN_DEFAULT_STEPS;
    r->cfg = 7.0f;
    r->sampler = model->sampler;
    r->karras = model->karras;
    r->sampler_name = display_name(model->sampler, model->karras);
    r->batch = 1;
}

static int parse_object(const cJSON *root, int sample_size, serve_request *r, char *err) {
    unsigned seen = 0; /* bit f: field f given */
    size_t n_a1111 = sizeof a1111_fields / sizeof a1111_fields[0];
    unsigned char seen_a1111[sizeof a1111_fields / sizeof a1111_fields[0]] = {0};
    const cJSON *sampler_index = NULL;
    for (const cJSON *item = root->child; item; item = item->next) {
        const char *key = item->string ? item->string : "";
        int known = 0;
        for (int f = 0; f < F_COUNT && !known; f++) {
            if (strcmp(key, field_names[f]) != 0) continue;
            known = 1;
            if (seen & (1u << f)) return fail(err, "%s: given twice", field_names[f]);
            seen |= 1u << f;
            if (parse_field((enum field)f, item, sample_size, r, &sampler_index, err) != 0) return -1;
        }
        for (size_t i = 0; i < n_a1111 && !known; i++) {
            if (strcmp(key, a1111_fields[i].name) != 0) continue;
            known = 1;
            if (seen_a1111[i]) return fail(err, "%s: given twice", a1111_fields[i].name);
            seen_a1111[i] = 1;
            if (check_neutral(item, a1111_fields[i].name, a1111_fields[i].rule,
                              a1111_fields[i].feature, err) != 0)
                return -1;
        }
        if (!known && add_ignored(r, key) != 0) return fail(err, "body: out of memory");
    }
    /* sampler_index is A1111's old name for sampler_name: used only when that is absent */
    if (sampler_index && !(seen & (1u << F_SAMPLER)) &&
        sampler_field(sampler_index, "sampler_index", r, err) != 0)
        return -1;
    if (!r->prompt && !(r->prompt = dup_text(""))) return fail(err, "prompt: out of memory");
    if (!r->negative && !(r->negative = dup_text("")))
        return fail(err, "negative_prompt: out of memory");
    return 0;
}

int serve_request_parse(const char *body, size_t len, const xattn_model_info *model,
                        serve_request *out, char *err) {
    defaults(out, model);
    err[0] = '\0';
    if (len > SERVE_MAX_BODY)
        return fail(err, "body: %zu bytes, over the cap of %d", len, SERVE_MAX_BODY);
    const char *end = NULL;
    cJSON *root = len ? cJSON_ParseWithLengthOpts(body, len, &end, 0) : NULL;
    if (!root) return fail(err, "body: not valid JSON");
    for (; end && end < body + len; end++)
        if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
            cJSON_Delete(root);
            return fail(err, "body: not valid JSON (text after the object)");
        }
    int rc;
    if (!cJSON_IsObject(root))
        rc = fail(err, "body: must be a JSON object");
    else
        rc = parse_object(root, model->sample_size, out, err);
    cJSON_Delete(root);
    if (rc != 0) {
        serve_request_free(out);
        defaults(out, model);
    }
    return rc;
}
