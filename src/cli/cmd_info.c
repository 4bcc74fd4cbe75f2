/* cmd_info.c — `xattn info FILE [--json]`: describes a model folder, a PNG (by its magic bytes:
 * size and text chunks) or a safetensors file (tensors and metadata).
 *
 * Text output is one "key: value" per line (tensors as "name DTYPE [d0, d1, ...]"); control
 * characters in values are escaped (\n, \t, \xNN) so every entry stays on one line.
 * --json prints one JSON object on stdout:
 *   model:       {"kind": "model", "path", "in_channels", "out_channels", "sample_size",
 *                 "cross_attention_dim", "down_blocks", "attention_layers", "parameters",
 *                 "prediction_type", "null_prompt": bool}
 *   png:         {"kind": "png", "path", "width", "height", "text": {key: value, ...}}
 *   safetensors: {"kind": "safetensors", "path", "tensors": [{"name", "dtype", "shape": [..]}],
 *                 "metadata": {key: value, ...}} */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "commands.h"
#include "xattn_io.h"

static const char info_usage[] =
    "usage: xattn info FILE [--json]\n"
    "\n"
    "Describes FILE:\n"
    "  a model folder       its config: channels, sample size, cross_attention_dim, blocks,\n"
    "                       attention layers, parameter count, prediction type, null prompt\n"
    "  a PNG                its size and every text chunk (the generation parameters)\n"
    "  a safetensors file   every tensor (name, dtype, shape) and the metadata\n"
    "\n"
    "  --json       print one JSON object on stdout\n"
    "  -h, --help   show this help\n";

enum { OPT_JSON = 1, OPT_HELP };

static const cli_option info_options[] = {
    {0, "json", 0, OPT_JSON},
    {'h', "help", 0, OPT_HELP},
};

/* Prints s with control characters escaped, so a value stays on its line. */
static void print_escaped(const char *s) {
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '\n')
            fputs("\\n", stdout);
        else if (*c == '\r')
            fputs("\\r", stdout);
        else if (*c == '\t')
            fputs("\\t", stdout);
        else if (*c < 0x20 || *c == 0x7f)
            printf("\\x%02x", *c);
        else
            putchar(*c);
    }
}

static void print_pair(const char *indent, const char *key, const char *value) {
    fputs(indent, stdout);
    print_escaped(key);
    fputs(": ", stdout);
    print_escaped(value);
    putchar('\n');
}

/* Prints the JSON object (compact, one line) and frees it. Returns the exit code. */
static int print_json(cJSON *obj) {
    if (cli_print_json(obj)) return CLI_EXIT_OK;
    cli_error("json: out of memory");
    return CLI_EXIT_INPUT;
}

/* ------------------------------------------------------------------------------------------ */

static int info_model(const char *path, int json) {
    xattn_model *model = NULL;
    xattn_error err = {0};
    if (xattn_model_load(path, &model, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return CLI_EXIT_INPUT;
    }
    xattn_model_info mi;
    xattn_model_get_info(model, &mi);
    const char *prediction = mi.prediction_type ? mi.prediction_type : "";
    int code = CLI_EXIT_OK;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", "model");
        cJSON_AddStringToObject(o, "path", path);
        cJSON_AddNumberToObject(o, "in_channels", mi.in_channels);
        cJSON_AddNumberToObject(o, "out_channels", mi.out_channels);
        cJSON_AddNumberToObject(o, "sample_size", mi.sample_size);
        cJSON_AddNumberToObject(o, "cross_attention_dim", mi.cross_attention_dim);
        cJSON_AddNumberToObject(o, "down_blocks", mi.n_down_blocks);
        cJSON_AddNumberToObject(o, "attention_layers", mi.n_attention_layers);
        cJSON_AddNumberToObject(o, "parameters", (double)mi.n_parameters);
        cJSON_AddStringToObject(o, "prediction_type", prediction);
        cJSON_AddBoolToObject(o, "null_prompt", mi.has_null_prompt != 0);
        code = print_json(o);
    } else {
        print_pair("", "model", path);
        printf("in_channels: %d\n", mi.in_channels);
        printf("out_channels: %d\n", mi.out_channels);
        printf("sample_size: %d\n", mi.sample_size);
        printf("cross_attention_dim: %d\n", mi.cross_attention_dim);
        printf("down_blocks: %d\n", mi.n_down_blocks);
        printf("attention_layers: %d\n", mi.n_attention_layers);
        printf("parameters: %zu\n", mi.n_parameters);
        print_pair("", "prediction_type", prediction);
        printf("null_prompt: %s\n", mi.has_null_prompt ? "yes" : "no");
    }
    xattn_model_free(model);
    return code;
}

static int info_png(const char *path, int json) {
    xattn_png_info pi;
    memset(&pi, 0, sizeof pi);
    xattn_error err = {0};
    if (xattn_png_read_info(path, &pi, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return CLI_EXIT_INPUT;
    }
    int code = CLI_EXIT_OK;
    if (json) {
        code = print_json(xattn_png_info_json(&pi, path));
    } else {
        print_pair("", "png", path);
        printf("size: %zux%zu\n", pi.width, pi.height);
        for (size_t i = 0; i < pi.n_text; i++) print_pair("", pi.keys[i], pi.values[i]);
    }
    xattn_png_info_free(&pi);
    return code;
}

static void format_shape(const xattn_st_tensor *t, char *buf, size_t cap) {
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < t->ndim && used < cap; d++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%zu", d ? ", " : "", t->shape[d]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
}

static int info_safetensors(const char *path, int json) {
    xattn_st_file *f = NULL;
    xattn_error err = {0};
    if (xattn_st_open(path, &f, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return CLI_EXIT_INPUT;
    }
    size_t n = xattn_st_count(f), n_meta = xattn_st_metadata_count(f);
    int code = CLI_EXIT_OK;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", "safetensors");
        cJSON_AddStringToObject(o, "path", path);
        cJSON *tensors = cJSON_AddArrayToObject(o, "tensors");
        for (size_t i = 0; i < n; i++) {
            const xattn_st_tensor *t = xattn_st_at(f, i);
            cJSON *jt = cJSON_CreateObject();
            cJSON_AddStringToObject(jt, "name", t->name);
            cJSON_AddStringToObject(jt, "dtype", xattn_st_dtype_name(t->dtype));
            cJSON *shape = cJSON_AddArrayToObject(jt, "shape");
            for (int d = 0; d < t->ndim; d++)
                cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
            cJSON_AddItemToArray(tensors, jt);
        }
        cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
        for (size_t i = 0; i < n_meta; i++) {
            const char *key, *value;
            xattn_st_metadata_at(f, i, &key, &value);
            cJSON_AddStringToObject(meta, key, value);
        }
        code = print_json(o);
    } else {
        print_pair("", "safetensors", path);
        printf("tensors: %zu\n", n);
        for (size_t i = 0; i < n; i++) {
            const xattn_st_tensor *t = xattn_st_at(f, i);
            char shape[XATTN_ST_MAX_DIMS * 24 + 4];
            format_shape(t, shape, sizeof shape);
            fputs("  ", stdout);
            print_escaped(t->name);
            printf(" %s %s\n", xattn_st_dtype_name(t->dtype), shape);
        }
        printf("metadata: %zu\n", n_meta);
        for (size_t i = 0; i < n_meta; i++) {
            const char *key, *value;
            xattn_st_metadata_at(f, i, &key, &value);
            print_pair("  ", key, value);
        }
    }
    xattn_st_close(f);
    return code;
}

/* 1 when the file starts with the 8 PNG signature bytes. */
static int is_png(const char *path) {
    static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    size_t got = fread(head, 1, sizeof head, fp);
    fclose(fp);
    return got == sizeof head && memcmp(head, signature, sizeof head) == 0;
}

typedef struct info_args {
    const char *path;
    int json;
} info_args;

/* One option of info's (cli_parse_options): 0 when taken, else an error was printed. */
static int info_option(void *ctx, int id, const char *name, const char *value) {
    info_args *a = ctx;
    (void)name;
    if (id == OPT_JSON) a->json = 1;
    if (id != CLI_POSITIONAL) return 0;
    if (a->path) {
        cli_error("%s: unexpected argument (info takes one FILE)", value);
        return 1;
    }
    a->path = value;
    return 0;
}

int cmd_info(int argc, char **argv) {
    info_args a = {NULL, 0};
    int code = cli_parse_options(argc, argv, info_options,
                                 sizeof info_options / sizeof info_options[0], OPT_HELP, info_usage,
                                 info_option, &a);
    if (code != 0) return cli_exit_code(code);
    const char *path = a.path;
    int json = a.json;
    if (!path) {
        cli_error("FILE: missing (usage: xattn info FILE [--json])");
        return CLI_EXIT_USAGE;
    }

    struct stat st;
    if (stat(path, &st) != 0) {
        cli_error("%s: %s", path, strerror(errno));
        return CLI_EXIT_INPUT;
    }
    if (S_ISDIR(st.st_mode)) return info_model(path, json);
    if (is_png(path)) return info_png(path, json);
    return info_safetensors(path, json);
}
