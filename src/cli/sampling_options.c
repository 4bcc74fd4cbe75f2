/* sampling_options.c — the options, loading and PNG text chunks the sampling commands share. */
#include "sampling_options.h"

#include <stdio.h>
#include <string.h>

#include "args.h"

void sampling_options_init(sampling_options *o) {
    memset(o, 0, sizeof *o);
    xattn_generate_params_init(&o->params);
    o->params.sampler = XATTN_SAMPLER_MODEL; /* resolved by sampling_inputs_load */
}

int sampling_option(sampling_options *o, int id, const char *name, const char *value) {
    xattn_generate_params *p = &o->params;
    int bad = 0;
    switch (id) {
    case SAMPLING_OPT_MODEL: o->model = value; break;
    case SAMPLING_OPT_PROMPT: o->prompt = value; break;
    case SAMPLING_OPT_NEGATIVE: o->negative = value; break;
    case SAMPLING_OPT_ENCODER: o->encoder = value; break;
    case SAMPLING_OPT_SEED: bad = cli_parse_u64(name, value, &p->seed); break;
    case SAMPLING_OPT_STEPS: bad = cli_parse_int(name, value, 1, 1000, &p->steps); break;
    case SAMPLING_OPT_CFG: bad = cli_parse_float(name, value, 0.0, &p->cfg); break;
    case SAMPLING_OPT_ETA: bad = cli_parse_float(name, value, 0.0, &p->eta); break;
    case SAMPLING_OPT_THREADS: bad = cli_parse_int(name, value, 0, 256, &p->threads); break;
    case SAMPLING_OPT_SAMPLER: {
        xattn_error err = {0};
        int karras = 0;
        if (xattn_sampler_from_name(value, &p->sampler, &karras, &err) != XATTN_OK) {
            /* "sampler: ..." -> "--sampler: ..." */
            const char *rest = strchr(err.msg, ':');
            cli_error("%s%s", name, rest ? rest : err.msg);
            bad = 1;
        } else if (karras) {
            p->karras = 1;
        }
        break;
    }
    case SAMPLING_OPT_KARRAS: p->karras = 1; break;
    case SAMPLING_OPT_QUIET: o->quiet = 1; break;
    default: return 0;
    }
    return bad ? -1 : 1;
}

int sampling_options_require(const sampling_options *o, const char *command, int need_prompt) {
    if (!o->model) {
        cli_error("-m: missing: the model folder is required (see xattn %s --help)", command);
        return CLI_EXIT_USAGE;
    }
    if (need_prompt && !o->prompt) {
        cli_error("-p: missing: the prompt file is required (see xattn %s --help)", command);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

int sampling_check_width(const char *path, const xattn_prompt *p, const xattn_model_info *info,
                         const char *file, size_t line) {
    if (p->dim == (size_t)info->cross_attention_dim) return 0;
    if (file)
        cli_error("%s: embedding width %zu, model expects %d (prompt on %s:%zu)", path, p->dim,
                  info->cross_attention_dim, file, line);
    else
        cli_error("%s: embedding width %zu, model expects %d", path, p->dim,
                  info->cross_attention_dim);
    return -1;
}

int sampling_check_null_prompt(const char *model, const xattn_model_info *info, float cfg) {
    if (cfg > 1.0f && !info->has_null_prompt) {
        cli_error("%s: no null_prompt.safetensors, needed for --cfg %g > 1 (use --cfg 1)", model,
                  (double)cfg);
        return -1;
    }
    return 0;
}

int sampling_steps_run(int steps, double strength) {
    return (int)((double)steps * strength);
}

int sampling_is_embedding_file(const char *value) {
    size_t n = strlen(value);
    return (n >= 12 && strcmp(value + n - 12, ".safetensors") == 0) ||
           (n >= 4 && strcmp(value + n - 4, ".npy") == 0);
}

/* value: an embedding file, or a text encoded with *enc (loaded on first use from --encoder or
 * the model folder). */
static xattn_status load_prompt(const sampling_options *o, const char *value, xattn_encoder **enc,
                                xattn_prompt **out, xattn_error *err) {
    if (sampling_is_embedding_file(value)) return xattn_prompt_load(value, out, err);
    if (!*enc) {
        xattn_status st = xattn_encoder_load(o->encoder ? o->encoder : o->model, enc, err);
        if (st != XATTN_OK) return st;
    }
    return xattn_encode(*enc, value, out, err);
}

int sampling_inputs_load(sampling_options *o, sampling_inputs *in) {
    xattn_error err = {0};
    xattn_encoder *enc = NULL;
    memset(in, 0, sizeof *in);
    int ok = load_prompt(o, o->prompt, &enc, &in->cond, &err) == XATTN_OK &&
             (!o->negative || load_prompt(o, o->negative, &enc, &in->uncond, &err) == XATTN_OK) &&
             xattn_model_load(o->model, &in->model, &err) == XATTN_OK;
    xattn_encoder_free(enc);
    if (!ok) {
        cli_lib_error(&err);
        return -1;
    }
    xattn_model_get_info(in->model, &in->info);
    if (o->params.sampler == XATTN_SAMPLER_MODEL) o->params.sampler = in->info.sampler;
    if (sampling_check_width(o->prompt, in->cond, &in->info, NULL, 0) != 0) return -1;
    if (in->uncond && sampling_check_width(o->negative, in->uncond, &in->info, NULL, 0) != 0)
        return -1;
    return 0;
}

void sampling_inputs_free(sampling_inputs *in) {
    if (in->model) xattn_model_free(in->model);
    if (in->uncond) xattn_prompt_free(in->uncond);
    if (in->cond) xattn_prompt_free(in->cond);
    memset(in, 0, sizeof *in);
}

void sampling_text_init(sampling_text *t) { t->n = 0; }

void sampling_text_add(sampling_text *t, const char *key, const char *value) {
    if (t->n < SAMPLING_MAX_TEXT) {
        t->pairs[t->n].key = key;
        t->pairs[t->n].value = value;
        t->n++;
    }
}

void sampling_text_prompts(sampling_text *t, const sampling_options *o, const xattn_prompt *cond,
                           const xattn_prompt *uncond) {
    sampling_text_add(t, "prompt", cond->text ? cond->text : "");
    if (sampling_is_embedding_file(o->prompt)) sampling_text_add(t, "prompt_file", o->prompt);
    if (uncond) {
        sampling_text_add(t, "negative",
                          uncond->text && uncond->text[0] ? uncond->text : o->negative);
        if (sampling_is_embedding_file(o->negative))
            sampling_text_add(t, "negative_file", o->negative);
    }
}

void sampling_text_params(sampling_text *t, const char *model, const xattn_generate_params *p,
                          int with_eta) {
    snprintf(t->seed, sizeof t->seed, "%llu", (unsigned long long)p->seed);
    snprintf(t->steps, sizeof t->steps, "%d", p->steps);
    snprintf(t->cfg, sizeof t->cfg, "%g", (double)p->cfg);
    snprintf(t->eta, sizeof t->eta, "%g", (double)p->eta);
    sampling_text_add(t, "seed", t->seed);
    sampling_text_add(t, "steps", t->steps);
    sampling_text_add(t, "cfg", t->cfg);
    sampling_text_add(t, "sampler", xattn_sampler_name(p->sampler));
    if (p->karras) sampling_text_add(t, "karras", "1");
    if (with_eta) sampling_text_add(t, "eta", t->eta);
    sampling_text_add(t, "model", model);
}

void sampling_text_software(sampling_text *t) {
    snprintf(t->software, sizeof t->software, "xattn %s", XATTN_VERSION_STRING);
    sampling_text_add(t, "software", t->software);
}
