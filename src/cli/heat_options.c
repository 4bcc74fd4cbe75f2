/* heat_options.c — see heat_options.h. */
#define _GNU_SOURCE /* strndup, realpath */
#include "heat_options.h"

#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "xattn_io.h"

void heat_options_init(heat_options *o) {
    memset(o, 0, sizeof *o);
    o->step_end = INT_MAX;
    xattn_image_options_init(&o->image);
    o->image.format = XATTN_IMAGE_FORMAT_PNG;
}

void heat_options_free(heat_options *o) {
    free(o->token_scale);
    xattn_heatmaps_free(o->heatmaps);
    o->token_scale = NULL;
    o->heatmaps = NULL;
}

/* "WORD=FACTOR": 0, or -1 after printing the error */
static int parse_reweight(heat_options *o, const char *name, const char *value) {
    const char *eq = strrchr(value, '=');
    if (!eq || eq == value) {
        cli_error("%s: '%s' is not WORD=FACTOR (e.g. red=2)", name, value);
        return -1;
    }
    if (o->n_reweight == HEAT_MAX_REWEIGHTS) {
        cli_error("%s: more than %d words", name, HEAT_MAX_REWEIGHTS);
        return -1;
    }
    if (cli_parse_float(name, eq + 1, 0.0, &o->factor[o->n_reweight]) != 0) return -1;
    o->reweight[o->n_reweight++] = value;
    size_t used = strlen(o->reweight_text);
    snprintf(o->reweight_text + used, sizeof o->reweight_text - used, "%s%s", used ? "," : "",
             value);
    return 0;
}

int heat_option(heat_options *o, const char *name, const char *value) {
    if (strcmp(name, "--heatmaps") == 0) {
        o->dir = value;
    } else if (strcmp(name, "--heat-layers") == 0) {
        o->layers = value;
    } else if (strcmp(name, "--heat-heads") == 0) {
        o->heads = value;
    } else if (strcmp(name, "--heat-steps") == 0) {
        xattn_error err = {0};
        if (xattn_heatmap_parse_steps(value, &o->step_begin, &o->step_end, &err) != XATTN_OK) {
            cli_error("%s: %s", name, err.msg);
            return -1;
        }
        o->steps = value;
    } else if (strcmp(name, "--reweight") == 0) {
        return parse_reweight(o, name, value);
    } else if (strcmp(name, "--heat-format") == 0) {
        o->image.format = xattn_image_format_from_name(value);
        if (o->image.format == XATTN_IMAGE_FORMAT_UNKNOWN) {
            cli_error("%s: '%s' is not png, jpg, jpeg, bmp or tga", name, value);
            return -1;
        }
        o->format = value;
    } else {
        return 1;
    }
    return 0;
}

int heat_options_check(const heat_options *o) {
    if (o->format && !o->dir) {
        cli_error("--heat-format: only applies with --heatmaps DIR");
        return CLI_EXIT_USAGE;
    }
    if (o->dir || o->keep_steps) return 0;
    const char *orphan = o->layers ? "--heat-layers" : o->heads ? "--heat-heads"
                         : o->steps ? "--heat-steps" : NULL;
    if (orphan) {
        cli_error("%s: only applies with --heatmaps DIR", orphan);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* token_scale[T] from the --reweight words: 0, or an exit code after printing the error */
static int build_token_scale(heat_options *o, const xattn_prompt *cond) {
    if (o->n_reweight == 0) return 0;
    xattn_word *words = NULL;
    size_t n_words = 0;
    xattn_error err = {0};
    if (xattn_prompt_words(cond, &words, &n_words, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return CLI_EXIT_INPUT;
    }
    int code = 0;
    o->token_scale = malloc(cond->n_tokens * sizeof *o->token_scale);
    if (!o->token_scale) {
        cli_error("--reweight: out of memory");
        code = CLI_EXIT_INPUT;
        goto done;
    }
    for (size_t t = 0; t < cond->n_tokens; t++) o->token_scale[t] = 1.0f;
    for (size_t r = 0; r < o->n_reweight; r++) {
        size_t len = (size_t)(strrchr(o->reweight[r], '=') - o->reweight[r]), found = 0;
        for (size_t k = 0; k < n_words; k++) {
            if (strlen(words[k].text) != len || strncasecmp(words[k].text, o->reweight[r], len) != 0)
                continue;
            for (size_t t = words[k].first_token; t < words[k].first_token + words[k].n_tokens; t++)
                o->token_scale[t] = o->factor[r];
            found++;
        }
        if (!found) {
            char list[256] = "";
            for (size_t k = 0, used = 0; k < n_words && used + 1 < sizeof list; k++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", k ? " " : "",
                                         words[k].text);
            cli_error("--reweight: '%.*s' is not a word of the prompt (its words: %s)", (int)len,
                      o->reweight[r], list);
            code = CLI_EXIT_USAGE;
            goto done;
        }
    }
done:
    xattn_words_free(words, n_words);
    return code;
}

/* 1 when the folder holding path is dir_st's folder or lies below it. */
static int inside_folder(const char *path, const struct stat *dir_st) {
    const char *slash = strrchr(path, '/');
    char *parent = slash == path ? strdup("/") : slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    char *real = parent ? realpath(parent, NULL) : NULL; /* resolves "..", "." and links */
    free(parent);
    if (!real) return 0; /* a missing folder: cli_check_output_path reports it */
    int inside = 0;
    for (;;) {
        struct stat st;
        if (stat(real, &st) == 0 && st.st_dev == dir_st->st_dev && st.st_ino == dir_st->st_ino) {
            inside = 1;
            break;
        }
        char *up = strrchr(real, '/');
        if (!up || (up == real && real[1] == '\0')) break; /* "/" itself was checked */
        if (up == real) up[1] = '\0'; /* "/x" -> "/" */
        else *up = '\0';
    }
    free(real);
    return inside;
}

int heat_options_check_outputs(const heat_options *o, const char *const *paths, size_t n) {
    struct stat dir_st;
    if (!o->dir || stat(o->dir, &dir_st) != 0 || !S_ISDIR(dir_st.st_mode)) return 0;
    for (size_t i = 0; i < n; i++) {
        if (paths[i] && inside_folder(paths[i], &dir_st)) {
            cli_error("%s: lies inside %s, which --heatmaps replaces as a whole (the file would be "
                      "deleted with the old folder); write it elsewhere", paths[i], o->dir);
            return CLI_EXIT_USAGE;
        }
    }
    return 0;
}

int heat_options_params(const heat_options *o, const xattn_model *m, int steps_run,
                        xattn_heatmap_params *hp) {
    xattn_heatmap_params_init(hp);
    hp->step_begin = o->step_begin;
    hp->step_end = o->step_end;
    xattn_error err = {0};
    if (o->layers && xattn_heatmap_parse_layers(m, o->layers, &hp->layers, &err) != XATTN_OK) {
        cli_error("--heat-layers: %s", err.msg);
        return CLI_EXIT_USAGE;
    }
    if (o->heads && xattn_heatmap_parse_heads(m, o->heads, &hp->heads, &err) != XATTN_OK) {
        cli_error("--heat-heads: %s", err.msg);
        return CLI_EXIT_USAGE;
    }
    if (hp->step_begin >= steps_run) {
        cli_error("--heat-steps: starts at step %d, but %d steps run (0..%d)", hp->step_begin,
                  steps_run, steps_run - 1);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

int heat_options_prepare(heat_options *o, const xattn_model *m, const xattn_prompt *cond,
                         int steps_run, xattn_generate_params *p) {
    int code = build_token_scale(o, cond);
    if (code != 0) return code;
    p->token_scale = o->token_scale;
    if (!o->dir && !o->keep_steps) return 0;
    xattn_error err = {0};
    if (o->dir && xattn_heatmaps_dir_replaceable(o->dir, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return CLI_EXIT_INPUT;
    }
    xattn_heatmap_params hp;
    code = heat_options_params(o, m, steps_run, &hp);
    if (code != 0) return code;
    hp.keep_steps = o->keep_steps;
    xattn_status st = xattn_heatmaps_new(m, cond, &hp, &o->heatmaps, &err);
    if (st == XATTN_ERR_VALUE) { /* the selection picks no head of the layers, or no words */
        cli_error("%s: %s", o->dir ? o->dir : "--heatmaps", err.msg);
        return o->heads ? CLI_EXIT_USAGE : CLI_EXIT_INPUT;
    }
    if (st != XATTN_OK) {
        cli_lib_error(&err);
        return CLI_EXIT_INPUT;
    }
    p->heatmaps = o->heatmaps;
    return 0;
}

int heat_options_write(const heat_options *o, const float *images, size_t batch, int channels,
                       size_t size) {
    if (!o->dir || !o->heatmaps) return 0;
    size_t plane = size * size;
    uint8_t *rgb = malloc(batch * plane * 3); /* [B, S, S, 3] */
    xattn_error err = {0};
    if (!rgb) {
        cli_error("%s: out of memory", o->dir);
        return CLI_EXIT_INPUT;
    }
    for (size_t k = 0; k < batch; k++)
        xattn_image_to_rgb8(images + k * (size_t)channels * plane, channels, size, size,
                            rgb + k * plane * 3);
    xattn_status st = xattn_heatmaps_write_folder(o->heatmaps, rgb, batch, o->dir, &o->image, &err);
    free(rgb);
    if (st == XATTN_OK) return 0;
    cli_lib_error(&err);
    return CLI_EXIT_INPUT;
}
