/* cmd_eval_heatmaps.c — `xattn eval heatmaps`: DAAM-style mIoU of cross-attention heatmaps
 * against shapes-world object masks (docs/eval.md).
 *
 * For every line of a prompt file made with `tools/make_eval_prompts.py --with-images`: the
 * line's image is denoised with its own caption (xattn_denoise at --strength), the word maps are
 * collected, and each object word — a shape noun (a shape name or its plural) or a colour
 * adjective — is scored: its map normalised to [0, 1], thresholded at tau, IoU against the
 * object's mask (a count group: the union of its objects' masks). mIoU is the mean IoU over the
 * words of a kind. With --generated, each line's prompt is sampled from noise instead (--seeds K
 * images) and a word's object is what the adherence detector finds in the image: the pixels of
 * the detected objects of its shape and colour; a word whose object is not found is counted as
 * missed, not scored. Order of work: the command line (exit 2), then every input — the prompt file,
 * every embedding, image and mask, the word alignment, the model — before the first image
 * (exit 1); the --heat-* selection is resolved against the model once it is loaded (exit 2). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/eval_heatmaps.h"
#include "cli/heat_options.h"
#include "cli/progress.h"
#include "cli/sampling_options.h"
#include "io/image_io.h"
#include "xattn_shapes.h"

static const char heatmaps_usage[] =
    "usage: xattn eval heatmaps -m MODEL (--prompts FILE.jsonl | --data DIR) [options]\n"
    "\n"
    "Denoises every line's image (a prompt file made with tools/make_eval_prompts.py\n"
    "--with-images) with its own caption, collects the cross-attention word maps and scores each\n"
    "object word (shape nouns, colour adjectives): its map normalised to [0, 1] and thresholded\n"
    "at tau, IoU against the object's mask. Prints one JSON line per prompt; --json prints one\n"
    "object with the mIoU per word kind and overall.\n"
    "\n"
    "  -m, --model DIR        model folder (diffusers layout)\n"
    "      --prompts FILE     prompt file with image, mask, words, mask_index (docs/eval.md)\n"
    "      --data DIR         the same as --prompts DIR/prompts.jsonl (a folder made by\n"
    "                         tools/make_eval_prompts.py --with-images)\n"
    "      --strength S       denoising strength, in (0, 1]                     default 0.5\n"
    "      --steps N          schedule steps, 1..1000 (int(N * S) of them run)  default 50\n"
    "      --cfg SCALE        classifier-free guidance scale, >= 0             default 7.5\n"
    "      --threshold T      tau on the normalised map, in [0, 1)             default 0.4\n"
    "      --heat-layers SPEC cross-attention layers to average: all, down, mid, up,\n"
    "                         PLACE:SIDE (e.g. up:16) or layer indices         default all\n"
    "      --heat-heads SPEC  heads to average: all, or indices and ranges     default all\n"
    "      --heat-steps A:B   sampling steps to sum (A:B, A:, :B, A or all)    default all\n"
    "      --generated        sample each prompt from noise instead of denoising its image;\n"
    "                         a word's object is what the adherence detector finds\n"
    "      --seeds K          images per prompt, seeds S .. S+K-1, 1..1000      default 1\n"
    "  -s, --seed N           first noise seed, 0..2^64-1                      default 0\n"
    "  -t, --threads N        worker threads, 0..256 (0 = one per core)         default 0\n"
    "      --json             one JSON object with the scores instead of lines\n"
    "  -q, --quiet            no progress or summary on stderr\n"
    "  -h, --help             show this help\n";

enum { OPT_PROMPTS = SAMPLING_OPT_END, OPT_STRENGTH, OPT_THRESHOLD, OPT_GENERATED, OPT_SEEDS,
       OPT_JSON, OPT_HEAT, OPT_DATA, OPT_HELP };

static const cli_option heatmaps_options[] = {
    {'m', "model", 1, SAMPLING_OPT_MODEL},     {0, "prompts", 1, OPT_PROMPTS},
    {0, "strength", 1, OPT_STRENGTH},          {0, "steps", 1, SAMPLING_OPT_STEPS},
    {0, "cfg", 1, SAMPLING_OPT_CFG},           {0, "threshold", 1, OPT_THRESHOLD},
    {'s', "seed", 1, SAMPLING_OPT_SEED},       {'t', "threads", 1, SAMPLING_OPT_THREADS},
    {0, "generated", 0, OPT_GENERATED},        {0, "seeds", 1, OPT_SEEDS},
    {0, "json", 0, OPT_JSON},                  {'q', "quiet", 0, SAMPLING_OPT_QUIET},
    {0, "heat-layers", 1, OPT_HEAT},           {0, "heat-heads", 1, OPT_HEAT},
    {0, "heat-steps", 1, OPT_HEAT},            {0, "data", 1, OPT_DATA},
    {'h', "help", 0, OPT_HELP},
};

typedef struct heat_args {
    sampling_options s; /* -m, -s, --steps, --cfg, -t, -q */
    const char *prompts;
    const char *data;         /* --data DIR: prompts = DIR/prompts.jsonl */
    char prompts_buf[4096];
    float strength, threshold;
    int generated; /* --generated: sample from noise, score against detected objects */
    int seeds;     /* images per prompt */
    int json;
    heat_options heat; /* --heat-layers, --heat-heads, --heat-steps (no --heatmaps here) */
} heat_args;

/* Returns -1 to continue, else the exit code. */
static int parse_heat_args(int argc, char **argv, heat_args *g) {
    memset(g, 0, sizeof *g);
    sampling_options_init(&g->s);
    heat_options_init(&g->heat);
    g->strength = 0.5f;
    g->threshold = 0.4f;
    g->seeds = 1;
    cli_args a;
    cli_args_init(&a, argc, argv, heatmaps_options, sizeof heatmaps_options / sizeof heatmaps_options[0]);
    const char *name, *value;
    int id;
    while ((id = cli_args_next(&a, &name, &value)) != CLI_END) {
        int bad = sampling_option(&g->s, id, name, value) < 0;
        switch (id) {
        case CLI_ERROR: return CLI_EXIT_USAGE;
        case CLI_POSITIONAL:
            cli_error("%s: unexpected argument (see xattn eval heatmaps --help)", value);
            return CLI_EXIT_USAGE;
        case OPT_HELP: fputs(heatmaps_usage, stdout); return CLI_EXIT_OK;
        case OPT_PROMPTS: g->prompts = value; break;
        case OPT_DATA: g->data = value; break;
        case OPT_STRENGTH:
            bad = cli_parse_float(name, value, 0.0, &g->strength);
            if (!bad && (g->strength <= 0.0f || g->strength > 1.0f)) {
                cli_error("%s: %s: must be in (0, 1]", name, value);
                bad = 1;
            }
            break;
        case OPT_THRESHOLD:
            bad = cli_parse_float(name, value, 0.0, &g->threshold);
            if (!bad && g->threshold >= 1.0f) {
                cli_error("%s: %s: must be in [0, 1)", name, value);
                bad = 1;
            }
            break;
        case OPT_GENERATED: g->generated = 1; break;
        case OPT_SEEDS: bad = cli_parse_int(name, value, 1, 1000, &g->seeds); break;
        case OPT_JSON: g->json = 1; break;
        case OPT_HEAT: bad = heat_option(&g->heat, name, value) != 0; break;
        default: break;
        }
        if (bad) return CLI_EXIT_USAGE;
    }
    if (sampling_options_require(&g->s, "eval heatmaps", 0) != 0) return CLI_EXIT_USAGE;
    if (g->data && g->prompts) {
        cli_error("--data: give --prompts FILE or --data DIR, not both");
        return CLI_EXIT_USAGE;
    }
    if (g->data) {
        size_t n = strlen(g->data);
        while (n > 1 && g->data[n - 1] == '/') n--;
        if (n + sizeof "/prompts.jsonl" > sizeof g->prompts_buf) {
            cli_error("--data: %s: path too long", g->data);
            return CLI_EXIT_USAGE;
        }
        snprintf(g->prompts_buf, sizeof g->prompts_buf, "%.*s/prompts.jsonl", (int)n, g->data);
        g->prompts = g->prompts_buf;
    }
    if (!g->prompts) {
        cli_error("--prompts: missing: the prompt file (or --data DIR) is required (see xattn eval "
                  "heatmaps --help)");
        return CLI_EXIT_USAGE;
    }
    if (!g->generated && sampling_steps_run(g->s.params.steps, g->strength) < 1) {
        cli_error("--strength: %g x %d steps runs no step (raise --strength or --steps)",
                  (double)g->strength, g->s.params.steps);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* the prompt file                                                                             */

enum { KIND_SHAPE = 0, KIND_COLOR = 1, N_KINDS = 2, MAX_CAPTION_WORDS = 64, MAX_SCORED = 32,
       MAX_OBJECTS = 8 };
static const char *const kind_names[N_KINDS] = {"shape", "color"};

typedef struct scored_word {
    size_t word;     /* caption word index */
    int kind;        /* KIND_SHAPE / KIND_COLOR */
    int object;      /* index into the line's objects */
    uint64_t select; /* mask values of the object (bit v = value v) */
} scored_word;

typedef struct heat_line {
    char *text, *embedding, *image, *mask; /* paths resolved against the file's folder */
    size_t line;
    size_t n_scored;
    scored_word scored[MAX_SCORED];
    size_t n_objects;
    int shape[MAX_OBJECTS], color[MAX_OBJECTS]; /* world_shape, world_color or -1 (any) */
    size_t n_caption;                      /* caption words */
    char *caption_words[MAX_CAPTION_WORDS]; /* pointers into caption_buf */
    char *caption_buf;
} heat_line;

static void heat_line_free(heat_line *l) {
    free(l->text);
    free(l->embedding);
    free(l->image);
    free(l->mask);
    free(l->caption_buf);
}

/* dir/rel, or rel when absolute; NULL if out of memory. */
static char *resolve(const char *dir, const char *rel) {
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *s = malloc(n);
    if (!s) return NULL;
    if (rel[0] == '/' || dir[0] == '\0') snprintf(s, n, "%s", rel);
    else snprintf(s, n, "%s/%s", dir, rel);
    return s;
}

static int word_kind(const char *w) {
    if (world_lookup(world_shape_names, WORLD_N_SHAPES, w) >= 0 ||
        world_lookup(world_shape_plurals, WORLD_N_SHAPES, w) >= 0)
        return KIND_SHAPE;
    if (world_lookup(world_color_names, WORLD_N_COLORS, w) >= 0) return KIND_COLOR;
    return -1;
}

/* Parses one line into l (zeroed by the caller). Prints the error; 0 on success. */
static int parse_line(const char *path, const char *dir, size_t line_no, const char *text,
                      int generated, heat_line *l) {
    cJSON *j = cJSON_Parse(text);
    int rc = -1;
    l->line = line_no;
    if (!j || !cJSON_IsObject(j)) {
        cli_error("%s:%zu: not a JSON object", path, line_no);
        goto done;
    }
    const char *keys[4] = {"prompt", "embedding", "image", "mask"};
    const char *vals[4] = {"", "", "", ""};
    for (int k = 0; k < (generated ? 2 : 4); k++) { /* --generated needs no image and mask */
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
        if (!cJSON_IsString(v) || !v->valuestring[0]) {
            cli_error("%s:%zu: \"%s\": missing or not a string%s", path, line_no, keys[k],
                      k >= 2 ? " (make the file with tools/make_eval_prompts.py --with-images)" : "");
            goto done;
        }
        vals[k] = v->valuestring;
    }
    l->text = strdup(vals[0]);
    l->caption_buf = strdup(vals[0]);
    l->embedding = resolve(dir, vals[1]);
    l->image = resolve(dir, vals[2]);
    l->mask = resolve(dir, vals[3]);
    if (!l->text || !l->caption_buf || !l->embedding || !l->image || !l->mask) {
        cli_error("%s: out of memory", path);
        goto done;
    }
    for (char *save = NULL, *w = strtok_r(l->caption_buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (l->n_caption == MAX_CAPTION_WORDS) {
            cli_error("%s:%zu: more than %d caption words", path, line_no, MAX_CAPTION_WORDS);
            goto done;
        }
        l->caption_words[l->n_caption++] = w;
    }
    const cJSON *objs = cJSON_GetObjectItemCaseSensitive(j, "objects");
    if (!cJSON_IsArray(objs) || cJSON_GetArraySize(objs) < 1) {
        cli_error("%s:%zu: \"objects\": missing or empty", path, line_no);
        goto done;
    }
    int k = 0;
    for (const cJSON *o = objs->child; o; o = o->next, k++) {
        const cJSON *words = cJSON_GetObjectItemCaseSensitive(o, "words");
        const cJSON *mi = cJSON_GetObjectItemCaseSensitive(o, "mask_index");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
        const cJSON *color = cJSON_GetObjectItemCaseSensitive(o, "color");
        if (k == MAX_OBJECTS) {
            cli_error("%s:%zu: more than %d objects", path, line_no, MAX_OBJECTS);
            goto done;
        }
        l->n_objects = (size_t)k + 1;
        l->shape[k] = cJSON_IsString(shape) ? world_lookup(world_shape_names, WORLD_N_SHAPES, shape->valuestring) : -1;
        l->color[k] = cJSON_IsString(color) ? world_lookup(world_color_names, WORLD_N_COLORS, color->valuestring) : -1;
        if (generated && (l->shape[k] < 0 || (color && !cJSON_IsNull(color) && l->color[k] < 0))) {
            cli_error("%s:%zu: object %d: --generated needs a world \"shape\" (and \"color\", when given)",
                      path, line_no, k);
            goto done;
        }
        if (generated && cJSON_IsArray(words)) {
            mi = NULL; /* the mask comes from the detector */
        } else if (!cJSON_IsArray(words) || !(cJSON_IsNumber(mi) || cJSON_IsArray(mi))) {
            cli_error("%s:%zu: object %d: \"words\" (array) and \"mask_index\" (integer or array) are "
                      "required (make the file with tools/make_eval_prompts.py --with-images)",
                      path, line_no, k);
            goto done;
        }
        uint64_t select = 0;
        const cJSON *one = !mi ? NULL : cJSON_IsNumber(mi) ? mi : mi->child;
        for (; one; one = cJSON_IsNumber(mi) ? NULL : one->next) {
            double v = cJSON_IsNumber(one) ? one->valuedouble : -1.0;
            if (!(v >= 1.0 && v <= 63.0 && v == floor(v))) {
                cli_error("%s:%zu: object %d: \"mask_index\": values must be integers 1..63", path, line_no, k);
                goto done;
            }
            select |= (uint64_t)1 << (int)v;
        }
        if (!select && mi) {
            cli_error("%s:%zu: object %d: \"mask_index\": empty", path, line_no, k);
            goto done;
        }
        for (const cJSON *w = words->child; w; w = w->next) {
            double v = cJSON_IsNumber(w) ? w->valuedouble : -1.0;
            if (!(v >= 0.0 && v < (double)l->n_caption && v == floor(v))) {
                cli_error("%s:%zu: object %d: \"words\": %s is not a caption word index (0..%zu)", path,
                          line_no, k, cJSON_IsNumber(w) ? "a value" : "an element", l->n_caption - 1);
                goto done;
            }
            size_t wi = (size_t)v;
            int kind = word_kind(l->caption_words[wi]);
            if (kind < 0) continue; /* a size word */
            if (l->n_scored == MAX_SCORED) {
                cli_error("%s:%zu: more than %d object words", path, line_no, MAX_SCORED);
                goto done;
            }
            l->scored[l->n_scored++] = (scored_word){wi, kind, k, select};
        }
    }
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

/* Reads every line; prints the error; 0 on success (*lines malloc'd, free each and the array). */
static int load_lines(const char *path, int generated, heat_line **out, size_t *n_out) {
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_error("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 0;
    if (dlen >= sizeof dir) {
        fclose(f);
        cli_error("%s: path too long", path);
        return -1;
    }
    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
    if (slash && dlen == 0) snprintf(dir, sizeof dir, "/");
    heat_line *lines = NULL;
    size_t n = 0, cap = 0, line_no = 0, len_cap = 0;
    char *buf = NULL;
    ssize_t len;
    int rc = -1;
    while ((len = getline(&buf, &len_cap, f)) >= 0) {
        line_no++;
        int blank = 1;
        for (ssize_t i = 0; i < len; i++)
            if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') blank = 0;
        if (blank) continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            heat_line *nl = realloc(lines, nc * sizeof *nl);
            if (!nl) {
                cli_error("%s: out of memory", path);
                goto done;
            }
            lines = nl;
            cap = nc;
        }
        memset(&lines[n], 0, sizeof lines[n]);
        n++;
        if (parse_line(path, dir, line_no, buf, generated, &lines[n - 1]) != 0) goto done;
    }
    if (ferror(f)) {
        cli_error("%s: read error", path);
        goto done;
    }
    if (n == 0) {
        cli_error("%s: no prompts", path);
        goto done;
    }
    rc = 0;
done:
    free(buf);
    fclose(f);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++) heat_line_free(&lines[i]);
        free(lines);
        lines = NULL;
        n = 0;
    }
    *out = lines;
    *n_out = n;
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* inputs                                                                                      */

/* Checks that the prompt's heatmap words (special tokens left out, "##" pieces merged) are the
 * caption's words. Prints the error; 0 on success. */
static int check_alignment(const char *path, const heat_line *l, const xattn_prompt *p) {
    xattn_word *words = NULL;
    size_t n = 0;
    xattn_error err = {0};
    if (xattn_prompt_words(p, &words, &n, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return -1;
    }
    int rc = 0;
    if (n != l->n_caption) {
        cli_error("%s:%zu: %s has %zu words, the caption \"%s\" %zu: cannot align the heatmaps with the "
                  "caption", path, l->line, l->embedding, n, l->text, l->n_caption);
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (strcmp(words[i].text, l->caption_words[i]) != 0) {
            cli_error("%s:%zu: heatmap word %zu is \"%s\" (%s), caption word %zu is \"%s\": cannot align "
                      "the heatmaps with the caption", path, l->line, i, words[i].text, l->embedding, i,
                      l->caption_words[i]);
            rc = -1;
        }
    xattn_words_free(words, n);
    return rc;
}

/* Reads an 8-bit image of side `size`; prints the error; 0 on success (*rgb malloc'd [S, S, 3]). */
static int read_sized(const char *path, size_t line, const char *file, size_t size, uint8_t **rgb) {
    size_t w, h;
    xattn_error err = {0};
    if (image_read_rgb(file, rgb, &w, &h, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return -1;
    }
    if (w != size || h != size) {
        cli_error("%s:%zu: %s is %zux%zu, the model's images are %zux%zu", path, line, file, w, h, size, size);
        free(*rgb);
        *rgb = NULL;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* scoring                                                                                     */

typedef struct kind_tally {
    double sum[N_KINDS];
    size_t n[N_KINDS];
} kind_tally;

static double tidy(double v) { return round(v * 1e6) / 1e6; }

/* The mean, or JSON null when there are no words. */
static cJSON *miou_json(double sum, size_t n) {
    return n ? cJSON_CreateNumber(tidy(sum / (double)n)) : cJSON_CreateNull();
}

/* Adds "shape", "color" and "overall" mIoU (and word counts) to j. 0 if out of memory. */
static int add_mious(cJSON *j, const kind_tally *t, int with_counts) {
    double all = 0.0;
    size_t n_all = 0;
    for (int k = 0; k <= N_KINDS; k++) {
        double sum = k < N_KINDS ? t->sum[k] : all;
        size_t n = k < N_KINDS ? t->n[k] : n_all;
        char key[32];
        snprintf(key, sizeof key, "%s_miou", k < N_KINDS ? kind_names[k] : "overall");
        cJSON *v = miou_json(sum, n);
        if (!v || !cJSON_AddItemToObject(j, key, v)) {
            cJSON_Delete(v);
            return 0;
        }
        if (with_counts) {
            snprintf(key, sizeof key, "%s_words", k < N_KINDS ? kind_names[k] : "overall");
            if (!cJSON_AddNumberToObject(j, key, (double)n)) return 0;
        }
        if (k < N_KINDS) {
            all += sum;
            n_all += n;
        }
    }
    return 1;
}

/* Appends {"word", "index", "kind", "object", "iou"} to words; iou NaN (a missed word) is null.
 * 0 if out of memory. */
static int add_word_json(cJSON *words, const heat_line *l, const scored_word *w, double iou) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(words, o)) {
        cJSON_Delete(o);
        return 0;
    }
    return cJSON_AddStringToObject(o, "word", l->caption_words[w->word]) &&
           cJSON_AddNumberToObject(o, "index", (double)w->word) &&
           cJSON_AddStringToObject(o, "kind", kind_names[w->kind]) &&
           cJSON_AddNumberToObject(o, "object", w->object) &&
           (isnan(iou) ? cJSON_AddNullToObject(o, "iou") != NULL
                       : cJSON_AddNumberToObject(o, "iou", tidy(iou)) != NULL);
}

static int run_heatmaps(const heat_args *g) {
    heat_line *lines = NULL;
    size_t n_lines = 0;
    xattn_prompt **emb = NULL;
    uint8_t **rgb = NULL, **mask = NULL; /* [n_lines] of [S, S, 3] */
    xattn_model *model = NULL;
    xattn_heatmaps *heat = NULL;
    float *init = NULL, *image = NULL, *norm = NULL; /* [3, S, S], [1, 3, S, S], [S, S] */
    uint8_t *mask1 = NULL;  /* [S, S]: the mask's first channel, or the detector's labels */
    uint8_t *rgb8 = NULL;   /* [S, S, 3]: a generated image */
    eval_detection *det = NULL;
    size_t objects_found = 0, objects_total = 0, words_missed = 0;
    xattn_error err = {0};
    kind_tally total = {0};
    int code = CLI_EXIT_INPUT;

    if (load_lines(g->prompts, g->generated, &lines, &n_lines) != 0) return CLI_EXIT_INPUT;
    emb = calloc(n_lines, sizeof *emb);
    rgb = calloc(n_lines, sizeof *rgb);
    mask = calloc(n_lines, sizeof *mask);
    if (!emb || !rgb || !mask) {
        cli_error("%s: out of memory", g->prompts);
        goto done;
    }
    for (size_t i = 0; i < n_lines; i++) {
        if (xattn_prompt_load(lines[i].embedding, &emb[i], &err) != XATTN_OK) goto library_error;
        if (check_alignment(g->prompts, &lines[i], emb[i]) != 0) goto done;
    }
    if (xattn_model_load(g->s.model, &model, &err) != XATTN_OK) goto library_error;
    xattn_model_info info;
    xattn_model_get_info(model, &info);
    if (info.in_channels != 3 || info.out_channels != 3) {
        cli_error("%s: %d in / %d out channels: the masks' images are RGB (3 channels)", g->s.model,
                  info.in_channels, info.out_channels);
        goto done;
    }
    if (sampling_check_null_prompt(g->s.model, &info, g->s.params.cfg) != 0) goto done;
    size_t size = (size_t)info.sample_size, px = size * size;
    for (size_t i = 0; i < n_lines; i++) {
        if (sampling_check_width(lines[i].embedding, emb[i], &info, g->prompts, lines[i].line) != 0)
            goto done;
        if (!g->generated &&
            (read_sized(g->prompts, lines[i].line, lines[i].image, size, &rgb[i]) != 0 ||
             read_sized(g->prompts, lines[i].line, lines[i].mask, size, &mask[i]) != 0))
            goto done;
    }
    init = malloc(3 * px * sizeof *init);
    image = malloc(3 * px * sizeof *image);
    norm = malloc(px * sizeof *norm);
    mask1 = malloc(px);
    rgb8 = malloc(px * 3);
    det = malloc(sizeof *det);
    if (!init || !image || !norm || !mask1 || !rgb8 || !det) {
        cli_error("%s: out of memory", g->s.model);
        goto done;
    }
    xattn_heatmap_params hp;
    int runs = g->generated ? g->s.params.steps : sampling_steps_run(g->s.params.steps, g->strength);
    int heat_code = heat_options_params(&g->heat, model, runs, &hp);
    if (heat_code >= 0) {
        code = heat_code;
        goto done;
    }
    int show = !g->s.quiet && isatty(STDERR_FILENO);
    double start = cli_now();
    size_t n_runs = n_lines * (size_t)g->seeds;
    for (size_t run = 0; run < n_runs; run++) {
        size_t i = run / (size_t)g->seeds;
        const heat_line *l = &lines[i];
        if (xattn_heatmaps_new(model, emb[i], &hp, &heat, &err) != XATTN_OK) goto library_error;
        xattn_generate_params params = g->s.params;
        params.batch = 1;
        params.heatmaps = heat;
        params.seed = g->s.params.seed + run % (size_t)g->seeds;
        uint64_t object_select[MAX_OBJECTS] = {0}; /* --generated: detector labels per object */
        if (g->generated) {
            if (xattn_generate(model, emb[i], NULL, &params, image, &err) != XATTN_OK) goto library_error;
            image_to_rgb8(image, 3, size, size, rgb8);
            if (eval_detect_labeled(rgb8, size, size, NULL, det, mask1, &err) != XATTN_OK)
                goto library_error;
            for (size_t o = 0; o < l->n_objects; o++) {
                for (size_t d = 0; d < det->n_objects && d < EVAL_MAX_LABEL; d++)
                    if (det->objects[d].shape == l->shape[o] &&
                        (l->color[o] < 0 || (int)det->objects[d].color == l->color[o]))
                        object_select[o] |= (uint64_t)1 << (d + 1);
                objects_found += object_select[o] != 0;
                objects_total++;
            }
        } else {
            for (size_t c = 0; c < 3; c++)
                for (size_t p = 0; p < px; p++) init[c * px + p] = (float)rgb[i][p * 3 + c] / 127.5f - 1.0f;
            for (size_t p = 0; p < px; p++) mask1[p] = mask[i][p * 3];
            if (xattn_denoise(model, emb[i], NULL, &params, init, (double)g->strength, image, &err) != XATTN_OK)
                goto library_error;
        }
        const float *maps = xattn_heatmaps_word_maps(heat, 0); /* [n_words, S, S] */
        xattn_heatmaps_info hi;
        xattn_heatmaps_get_info(heat, &hi);
        if (!maps || hi.height != size || hi.width != size || hi.n_words != l->n_caption) {
            cli_error("%s:%zu: the heatmaps do not match the caption's words", g->prompts, l->line);
            goto done;
        }
        kind_tally line_t = {0};
        cJSON *j = g->json ? NULL : cJSON_CreateObject();
        cJSON *words = j ? cJSON_AddArrayToObject(j, "words") : NULL;
        if (!g->json && !words) goto out_of_memory_j;
        for (size_t s = 0; s < l->n_scored; s++) {
            const scored_word *w = &l->scored[s];
            uint64_t select = g->generated ? object_select[w->object] : w->select;
            if (!select) { /* --generated: the word's object is not in the image */
                words_missed++;
                if (words && !add_word_json(words, l, w, NAN)) goto out_of_memory_j;
                continue;
            }
            char what[128];
            snprintf(what, sizeof what, "%s:%zu: word \"%s\"", g->prompts, l->line, l->caption_words[w->word]);
            if (eval_heat_normalize(maps + w->word * px, px, norm, what, &err) != XATTN_OK) {
                cJSON_Delete(j);
                goto library_error;
            }
            double iou = eval_heat_iou(norm, mask1, px, g->threshold, select);
            line_t.sum[w->kind] += iou;
            line_t.n[w->kind]++;
            if (words && !add_word_json(words, l, w, iou)) goto out_of_memory_j;
        }
        for (int k = 0; k < N_KINDS; k++) {
            total.sum[k] += line_t.sum[k];
            total.n[k] += line_t.n[k];
        }
        if (j) {
            cJSON *jd = cJSON_CreateObject(); /* index and prompt first, then the words */
            if (!jd || !cJSON_AddNumberToObject(jd, "index", (double)i) ||
                !cJSON_AddStringToObject(jd, "prompt", l->text) ||
                !cJSON_AddNumberToObject(jd, "seed", (double)params.seed) || !add_mious(jd, &line_t, 0)) {
                cJSON_Delete(jd);
                goto out_of_memory_j;
            }
            cJSON_DetachItemViaPointer(j, words);
            cJSON_AddItemToObject(jd, "words", words);
            cJSON_Delete(j);
            j = NULL;
            if (!cli_print_json(jd)) goto out_of_memory;
        }
        xattn_heatmaps_free(heat);
        heat = NULL;
        if (show)
            fprintf(stderr, "\rheatmaps %zu/%zu images, %.2f s/image", run + 1, n_runs,
                    (cli_now() - start) / (double)(run + 1));
        continue;
    out_of_memory_j:
        cJSON_Delete(j);
        goto out_of_memory;
    }
    if (show) fputc('\n', stderr);
    if (g->json) {
        cJSON *j = cJSON_CreateObject();
        int ok = j && cJSON_AddStringToObject(j, "mode", g->generated ? "heatmaps-generated" : "heatmaps") &&
                 cJSON_AddStringToObject(j, "model", g->s.model) &&
                 cJSON_AddStringToObject(j, "prompts_file", g->prompts) &&
                 cJSON_AddNumberToObject(j, "prompts", (double)n_lines) &&
                 (g->generated ? cJSON_AddNullToObject(j, "strength") != NULL
                               : cJSON_AddNumberToObject(j, "strength", tidy((double)g->strength)) != NULL) &&
                 cJSON_AddNumberToObject(j, "steps", g->s.params.steps) &&
                 cJSON_AddNumberToObject(j, "cfg", tidy((double)g->s.params.cfg)) &&
                 cJSON_AddNumberToObject(j, "threshold", tidy((double)g->threshold)) &&
                 cJSON_AddStringToObject(j, "heat_layers", g->heat.layers ? g->heat.layers : "all") &&
                 cJSON_AddStringToObject(j, "heat_heads", g->heat.heads ? g->heat.heads : "all") &&
                 cJSON_AddStringToObject(j, "heat_steps", g->heat.steps ? g->heat.steps : "all") &&
                 cJSON_AddNumberToObject(j, "seed", (double)g->s.params.seed) &&
                 cJSON_AddNumberToObject(j, "seeds", g->seeds) && add_mious(j, &total, 1);
        if (ok && g->generated)
            ok = cJSON_AddNumberToObject(j, "objects", (double)objects_total) &&
                 cJSON_AddNumberToObject(j, "objects_found", (double)objects_found) &&
                 cJSON_AddNumberToObject(j, "words_missed", (double)words_missed);
        if (!ok) {
            cJSON_Delete(j);
            goto out_of_memory;
        }
        if (!cli_print_json(j)) goto out_of_memory;
    }
    if (!g->s.quiet && g->generated)
        fprintf(stderr, "generated: the detector found %zu of %zu objects; %zu words missed\n",
                objects_found, objects_total, words_missed);
    if (!g->s.quiet)
        fprintf(stderr, "scored %zu prompts: shape-noun mIoU %.4f (%zu words), colour-adjective mIoU "
                "%.4f (%zu words) (%.1f s)\n", n_lines,
                total.n[KIND_SHAPE] ? total.sum[KIND_SHAPE] / (double)total.n[KIND_SHAPE] : 0.0,
                total.n[KIND_SHAPE],
                total.n[KIND_COLOR] ? total.sum[KIND_COLOR] / (double)total.n[KIND_COLOR] : 0.0,
                total.n[KIND_COLOR], cli_now() - start);
    code = CLI_EXIT_OK;
    goto done;
out_of_memory:
    cli_error("%s: out of memory", g->prompts);
    goto done;
library_error:
    cli_lib_error(&err);
done:
    xattn_heatmaps_free(heat);
    if (model) xattn_model_free(model);
    for (size_t i = 0; i < n_lines; i++) {
        if (emb) xattn_prompt_free(emb[i]);
        if (rgb) free(rgb[i]);
        if (mask) free(mask[i]);
        heat_line_free(&lines[i]);
    }
    free(lines);
    free(emb);
    free(rgb);
    free(mask);
    free(init);
    free(image);
    free(norm);
    free(mask1);
    free(rgb8);
    free(det);
    return code;
}

int cmd_eval_heatmaps(int argc, char **argv) {
    heat_args g;
    int code = parse_heat_args(argc, argv, &g);
    if (code >= 0) return code;
    return run_heatmaps(&g);
}
