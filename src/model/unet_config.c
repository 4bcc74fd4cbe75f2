/* unet_config.c — reading UNet2DConditionModel's config.json with cJSON and refusing anything
 * outside the supported subset by key and value. */
#include "model/unet_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

xattn_status read_text_file(const char *path, size_t max_bytes, char **out, xattn_error *err) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return xattn_fail(err, XATTN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(max_bytes + 1);
    if (!buf) {
        fclose(fp);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, max_bytes + 1, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return xattn_fail(err, XATTN_ERR_IO, "%s: read error", path);
    }
    if (n > max_bytes) {
        free(buf);
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: larger than %zu bytes", path, max_bytes);
    }
    buf[n] = '\0';
    *out = buf;
    return XATTN_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* typed field readers: each refuses a wrong JSON type naming the key */

typedef struct reader {
    const cJSON *root;
    const char *path;
    xattn_error *err;
    xattn_status status;
} reader;

static const cJSON *field(reader *r, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(r->root, key);
}

static int is_null(const cJSON *v) { return !v || cJSON_IsNull(v); }

static void refuse(reader *r, xattn_status st, const char *key, const cJSON *v, const char *why) {
    if (r->status != XATTN_OK) return;
    char *text = v ? cJSON_PrintUnformatted(v) : NULL;
    xattn_fail(r->err, st, "%s: %s = %s %s", r->path, key, text ? text : "(missing)", why);
    free(text);
    /* the key and the value come from the file: a control byte would break the one-line message */
    if (r->err)
        for (char *c = r->err->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    r->status = st;
}

/* A non-negative integer (JSON number without fraction). */
static size_t get_size(reader *r, const char *key, size_t def, size_t lo, size_t hi) {
    const cJSON *v = field(r, key);
    if (is_null(v)) return def;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d)) {
        refuse(r, XATTN_ERR_FORMAT, key, v, "is not an integer in the supported range");
        return def;
    }
    return (size_t)d;
}

static float get_float(reader *r, const char *key, float def) {
    const cJSON *v = field(r, key);
    if (is_null(v)) return def;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        refuse(r, XATTN_ERR_FORMAT, key, v, "is not a finite number");
        return def;
    }
    return (float)v->valuedouble;
}

static int get_bool(reader *r, const char *key, int def) {
    const cJSON *v = field(r, key);
    if (is_null(v)) return def;
    if (!cJSON_IsBool(v)) {
        refuse(r, XATTN_ERR_FORMAT, key, v, "is not true or false");
        return def;
    }
    return cJSON_IsTrue(v);
}

/* The key must be absent, null, or equal to the default (given as JSON text). */
static void require_default(reader *r, const char *key, const char *default_json) {
    const cJSON *v = field(r, key);
    if (is_null(v)) return;
    cJSON *want = cJSON_Parse(default_json);
    int same = want && cJSON_Compare(v, want, 1);
    /* 1 and 1.0 are the same number */
    if (!same && want && cJSON_IsNumber(v) && cJSON_IsNumber(want))
        same = v->valuedouble == want->valuedouble;
    cJSON_Delete(want);
    if (!same) refuse(r, XATTN_ERR_UNSUPPORTED, key, v, "is not supported");
}

/* An int applying to every block, or a list of n_blocks ints. */
static void get_per_block(reader *r, const char *key, size_t n_blocks, size_t def, size_t lo,
                          size_t hi, size_t out[UNET_MAX_BLOCKS]) {
    const cJSON *v = field(r, key);
    for (size_t i = 0; i < n_blocks; i++) out[i] = def;
    if (is_null(v)) return;
    if (cJSON_IsArray(v)) {
        if ((size_t)cJSON_GetArraySize(v) != n_blocks) {
            refuse(r, XATTN_ERR_FORMAT, key, v, "needs one value per down block");
            return;
        }
        for (size_t i = 0; i < n_blocks; i++) {
            const cJSON *e = cJSON_GetArrayItem(v, (int)i);
            double d = cJSON_IsNumber(e) ? e->valuedouble : NAN;
            if (!(d >= (double)lo && d <= (double)hi) || d != floor(d)) {
                refuse(r, XATTN_ERR_UNSUPPORTED, key, v, "is not supported (integers only)");
                return;
            }
            out[i] = (size_t)d;
        }
        return;
    }
    size_t one = get_size(r, key, def, lo, hi);
    for (size_t i = 0; i < n_blocks; i++) out[i] = one;
}

/* Block type lists: returns the count; fills has_attention per block. */
static size_t get_block_types(reader *r, const char *key, const char *plain, const char *cross,
                              int has_attention[UNET_MAX_BLOCKS]) {
    const cJSON *v = field(r, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > UNET_MAX_BLOCKS) {
        refuse(r, XATTN_ERR_FORMAT, key, v, "must be a list of 1 to 8 block types");
        return 0;
    }
    size_t n = (size_t)cJSON_GetArraySize(v);
    for (size_t i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, (int)i);
        const char *s = cJSON_IsString(e) ? e->valuestring : "";
        if (strcmp(s, plain) == 0) {
            has_attention[i] = 0;
        } else if (strcmp(s, cross) == 0) {
            has_attention[i] = 1;
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "is not supported (block %zu: %s or %s only)", i, plain, cross);
            refuse(r, XATTN_ERR_UNSUPPORTED, key, v, msg);
            return 0;
        }
    }
    return n;
}

static const char *const known_keys[] = {
    "sample_size", "in_channels", "out_channels", "center_input_sample", "flip_sin_to_cos",
    "freq_shift", "down_block_types", "mid_block_type", "up_block_types", "only_cross_attention",
    "block_out_channels", "layers_per_block", "downsample_padding", "mid_block_scale_factor",
    "dropout", "act_fn", "norm_num_groups", "norm_eps", "cross_attention_dim",
    "transformer_layers_per_block", "reverse_transformer_layers_per_block", "encoder_hid_dim",
    "encoder_hid_dim_type", "attention_head_dim", "num_attention_heads", "dual_cross_attention",
    "use_linear_projection", "class_embed_type", "addition_embed_type", "addition_time_embed_dim",
    "num_class_embeds", "upcast_attention", "resnet_time_scale_shift", "resnet_skip_time_act",
    "resnet_out_scale_factor", "time_embedding_type", "time_embedding_dim",
    "time_embedding_act_fn", "timestep_post_act", "time_cond_proj_dim", "conv_in_kernel",
    "conv_out_kernel", "projection_class_embeddings_input_dim", "attention_type",
    "class_embeddings_concat", "mid_block_only_cross_attention", "cross_attention_norm",
    "addition_embed_type_num_heads",
};

static void refuse_unknown_keys(reader *r) {
    const cJSON *item;
    cJSON_ArrayForEach(item, r->root) {
        if (item->string[0] == '_') continue; /* _class_name, _diffusers_version, ... */
        int known = 0;
        for (size_t i = 0; i < sizeof known_keys / sizeof *known_keys && !known; i++)
            known = strcmp(item->string, known_keys[i]) == 0;
        if (!known && !cJSON_IsNull(item) && !cJSON_IsFalse(item))
            refuse(r, XATTN_ERR_UNSUPPORTED, item->string, item, "is not a known config key");
    }
}

xattn_status unet_config_parse(const char *json, const char *path, unet_config *cfg,
                               xattn_error *err) {
    memset(cfg, 0, sizeof *cfg);
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: not a JSON object", path);
    }
    reader rd = {root, path, err, XATTN_OK}, *r = &rd;

    const cJSON *cls = field(r, "_class_name");
    if (cls && !(cJSON_IsString(cls) && strcmp(cls->valuestring, "UNet2DConditionModel") == 0))
        refuse(r, XATTN_ERR_UNSUPPORTED, "_class_name", cls, "is not supported (UNet2DConditionModel)");
    refuse_unknown_keys(r);

    /* values that must stay at diffusers' defaults */
    require_default(r, "only_cross_attention", "false");
    require_default(r, "downsample_padding", "1");
    require_default(r, "act_fn", "\"silu\"");
    require_default(r, "reverse_transformer_layers_per_block", "null");
    require_default(r, "encoder_hid_dim", "null");
    require_default(r, "encoder_hid_dim_type", "null");
    require_default(r, "dual_cross_attention", "false");
    require_default(r, "class_embed_type", "null");
    require_default(r, "addition_embed_type", "null");
    require_default(r, "addition_time_embed_dim", "null");
    require_default(r, "num_class_embeds", "null");
    require_default(r, "resnet_time_scale_shift", "\"default\"");
    require_default(r, "resnet_skip_time_act", "false");
    require_default(r, "resnet_out_scale_factor", "1.0");
    require_default(r, "time_embedding_type", "\"positional\"");
    require_default(r, "time_embedding_act_fn", "null");
    require_default(r, "timestep_post_act", "null");
    require_default(r, "time_cond_proj_dim", "null");
    require_default(r, "projection_class_embeddings_input_dim", "null");
    require_default(r, "attention_type", "\"default\"");
    require_default(r, "class_embeddings_concat", "false");
    require_default(r, "mid_block_only_cross_attention", "false");
    require_default(r, "cross_attention_norm", "null");

    const cJSON *ss = field(r, "sample_size");
    if (cJSON_IsArray(ss) && cJSON_GetArraySize(ss) == 2 &&
        cJSON_Compare(cJSON_GetArrayItem(ss, 0), cJSON_GetArrayItem(ss, 1), 1)) {
        const cJSON *e = cJSON_GetArrayItem(ss, 0);
        cfg->sample_size = cJSON_IsNumber(e) && e->valuedouble >= 1 && e->valuedouble <= 4096
                               ? (size_t)e->valuedouble : 0;
        if (!cfg->sample_size) refuse(r, XATTN_ERR_UNSUPPORTED, "sample_size", ss, "is not supported");
    } else if (is_null(ss)) {
        refuse(r, XATTN_ERR_FORMAT, "sample_size", ss, "is required");
    } else {
        cfg->sample_size = get_size(r, "sample_size", 0, 1, 4096);
    }
    cfg->in_channels = get_size(r, "in_channels", 4, 1, 64);
    cfg->out_channels = get_size(r, "out_channels", 4, 1, 64);
    cfg->center_input_sample = get_bool(r, "center_input_sample", 0);
    cfg->flip_sin_to_cos = get_bool(r, "flip_sin_to_cos", 1);
    cfg->freq_shift = get_float(r, "freq_shift", 0.0f);
    cfg->conv_in_kernel = get_size(r, "conv_in_kernel", 3, 1, 7);
    cfg->conv_out_kernel = get_size(r, "conv_out_kernel", 3, 1, 7);
    if (cfg->conv_in_kernel % 2 == 0)
        refuse(r, XATTN_ERR_UNSUPPORTED, "conv_in_kernel", field(r, "conv_in_kernel"), "must be odd");
    if (cfg->conv_out_kernel % 2 == 0)
        refuse(r, XATTN_ERR_UNSUPPORTED, "conv_out_kernel", field(r, "conv_out_kernel"), "must be odd");

    size_t nd = get_block_types(r, "down_block_types", "DownBlock2D", "CrossAttnDownBlock2D",
                                cfg->down_has_attention);
    size_t nu = get_block_types(r, "up_block_types", "UpBlock2D", "CrossAttnUpBlock2D",
                                cfg->up_has_attention);
    if (r->status == XATTN_OK && nd != nu)
        refuse(r, XATTN_ERR_FORMAT, "up_block_types", field(r, "up_block_types"),
               "must have as many blocks as down_block_types");
    cfg->n_blocks = nd;

    const cJSON *mid = field(r, "mid_block_type");
    if (!mid) {
        cfg->has_mid_block = 1; /* diffusers' default */
    } else if (cJSON_IsNull(mid)) {
        cfg->has_mid_block = 0;
    } else if (cJSON_IsString(mid) && strcmp(mid->valuestring, "UNetMidBlock2DCrossAttn") == 0) {
        cfg->has_mid_block = 1;
    } else {
        refuse(r, XATTN_ERR_UNSUPPORTED, "mid_block_type", mid,
               "is not supported (UNetMidBlock2DCrossAttn or null)");
    }
    cfg->mid_block_scale_factor = get_float(r, "mid_block_scale_factor", 1.0f);

    if (r->status == XATTN_OK) {
        const cJSON *boc = field(r, "block_out_channels");
        if (!cJSON_IsArray(boc) || (size_t)cJSON_GetArraySize(boc) != nd) {
            refuse(r, XATTN_ERR_FORMAT, "block_out_channels", boc,
                   "must list one channel count per down block");
        } else {
            get_per_block(r, "block_out_channels", nd, 0, 1, 1u << 14, cfg->block_out_channels);
        }
        get_per_block(r, "layers_per_block", nd, 2, 1, 64, cfg->layers_per_block);
        get_per_block(r, "transformer_layers_per_block", nd, 1, 1, 64, cfg->transformer_layers);
        /* diffusers: num_attention_heads = num_attention_heads or attention_head_dim */
        const char *heads_key = is_null(field(r, "num_attention_heads")) ? "attention_head_dim"
                                                                        : "num_attention_heads";
        get_per_block(r, heads_key, nd, 8, 1, 1024, cfg->heads);
        for (size_t i = 0; i < nd && r->status == XATTN_OK; i++)
            if (cfg->block_out_channels[i] % cfg->heads[i] != 0)
                refuse(r, XATTN_ERR_UNSUPPORTED, heads_key, field(r, heads_key),
                       "does not divide block_out_channels");
    }

    const cJSON *cad = field(r, "cross_attention_dim");
    if (cJSON_IsArray(cad)) {
        refuse(r, XATTN_ERR_UNSUPPORTED, "cross_attention_dim", cad, "is not supported (one integer only)");
    } else {
        cfg->cross_attention_dim = get_size(r, "cross_attention_dim", 1280, 1, 1u << 16);
    }
    const cJSON *groups = field(r, "norm_num_groups");
    if (groups && cJSON_IsNull(groups))
        refuse(r, XATTN_ERR_UNSUPPORTED, "norm_num_groups", groups, "is not supported (GroupNorm is required)");
    cfg->norm_num_groups = get_size(r, "norm_num_groups", 32, 1, 1024);
    cfg->norm_eps = get_float(r, "norm_eps", 1e-5f);
    cfg->use_linear_projection = get_bool(r, "use_linear_projection", 0);
    cfg->time_embed_dim = get_size(r, "time_embedding_dim", 0, 1, 1u << 16);
    if (!cfg->time_embed_dim) cfg->time_embed_dim = 4 * cfg->block_out_channels[0];

    for (size_t i = 0; i < nd && r->status == XATTN_OK; i++)
        if (cfg->block_out_channels[i] % cfg->norm_num_groups != 0)
            refuse(r, XATTN_ERR_UNSUPPORTED, "norm_num_groups", field(r, "norm_num_groups"),
                   "does not divide every block_out_channels entry");
    if (r->status == XATTN_OK && cfg->sample_size % ((size_t)1 << (nd - 1)) != 0)
        refuse(r, XATTN_ERR_UNSUPPORTED, "sample_size", field(r, "sample_size"),
               "is not divisible by 2^(number of downsamplers)");

    cJSON_Delete(root);
    return rd.status;
}

xattn_status unet_config_load(const char *path, unet_config *cfg, xattn_error *err) {
    char *text;
    xattn_status st = read_text_file(path, 1u << 20, &text, err);
    if (st != XATTN_OK) return st;
    st = unet_config_parse(text, path, cfg, err);
    free(text);
    return st;
}
