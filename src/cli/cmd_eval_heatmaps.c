/* cmd_eval_heatmaps.c — `xattn eval heatmaps`: DAAM-style mIoU of cross-attention heatmaps
 * against shapes-world object masks (docs/eval.md). The evaluation itself is eval_heat_run
 * (src/eval/heat_eval.c): every line of a prompt file made with `tools/make_eval_prompts.py
 * --with-images` is denoised with its own caption (or, with --generated, sampled from noise,
 * --seeds K images) and each object word's map is scored against its object's mask.
 *
 * This file parses the options, loads the model, resolves --heat-* against it (exit 2), calls
 * the library once and prints: one JSON line per image (from the library's callback), or with
 * --json one object with the scores. Order of work: the command line (exit 2), the model, the
 * --heat-* selection (exit 2), then in the library every input — the prompt file, every
 * embedding, the word alignment, image and mask — before the first image (exit 1). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "eval_heatmaps.h"
#include "heat_options.h"
#include "progress.h"
#include "sampling_options.h"
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
    "      --steps N          schedule steps, 1..1000 (int(N * S) of them run)  default 30\n"
    "      --cfg SCALE        classifier-free guidance scale, >= 0             default 7.5\n"
    SAMPLING_HELP_SAMPLER
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
    {0, "sampler", 1, SAMPLING_OPT_SAMPLER},   {0, "karras", 0, SAMPLING_OPT_KARRAS},
    {'h', "help", 0, OPT_HELP},
};

typedef struct heat_args {
    sampling_options s; /* -m, -s, --steps, --cfg, --sampler, --karras, -t, -q */
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
/* One option of eval heatmaps' (cli_parse_options): 0 when taken, else an error was printed. */
static int heat_eval_option(void *ctx, int id, const char *name, const char *value) {
    heat_args *g = ctx;
    if (sampling_option(&g->s, id, name, value) < 0) return 1;
    switch (id) {
    case CLI_POSITIONAL:
        cli_error("%s: unexpected argument (see xattn eval heatmaps --help)", value);
        return 1;
    case OPT_PROMPTS: g->prompts = value; return 0;
    case OPT_DATA: g->data = value; return 0;
    case OPT_STRENGTH:
        if (cli_parse_float(name, value, 0.0, &g->strength) != 0) return 1;
        if (g->strength <= 0.0f || g->strength > 1.0f) {
            cli_error("%s: %s: must be in (0, 1]", name, value);
            return 1;
        }
        return 0;
    case OPT_THRESHOLD:
        if (cli_parse_float(name, value, 0.0, &g->threshold) != 0) return 1;
        if (g->threshold >= 1.0f) {
            cli_error("%s: %s: must be in [0, 1)", name, value);
            return 1;
        }
        return 0;
    case OPT_GENERATED: g->generated = 1; return 0;
    case OPT_SEEDS: return cli_parse_int(name, value, 1, 1000, &g->seeds) != 0;
    case OPT_JSON: g->json = 1; return 0;
    case OPT_HEAT: return heat_option(&g->heat, name, value) != 0;
    }
    return 0;
}

/* 0 to go on, else as cli_parse_options. */
static int parse_heat_args(int argc, char **argv, heat_args *g) {
    memset(g, 0, sizeof *g);
    sampling_options_init(&g->s);
    heat_options_init(&g->heat);
    g->strength = 0.5f;
    g->threshold = 0.4f;
    g->seeds = 1;
    int code = cli_parse_options(argc, argv, heatmaps_options,
                                 sizeof heatmaps_options / sizeof heatmaps_options[0], OPT_HELP,
                                 heatmaps_usage, heat_eval_option, g);
    if (code != 0) return code;
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
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON output: every JSON object this command prints is built here                           */

static double tidy(double v) { return round(v * 1e6) / 1e6; }

/* Adds "shape", "color" and "overall" mIoU (JSON null when there are no words; with_counts:
 * and the word counts) to j. 0 if out of memory. */
static int add_mious(cJSON *j, const eval_heat_tally *t, int with_counts) {
    for (int k = 0; k <= EVAL_HEAT_N_KINDS; k++) {
        const char *kind = k < EVAL_HEAT_N_KINDS ? eval_heat_kind_names[k] : "overall";
        size_t n = eval_heat_count(t, k);
        char key[32];
        snprintf(key, sizeof key, "%s_miou", kind);
        cJSON *v = n ? cJSON_CreateNumber(tidy(eval_heat_miou(t, k))) : cJSON_CreateNull();
        if (!v || !cJSON_AddItemToObject(j, key, v)) {
            cJSON_Delete(v);
            return 0;
        }
        snprintf(key, sizeof key, "%s_words", kind);
        if (with_counts && !cJSON_AddNumberToObject(j, key, (double)n)) return 0;
    }
    return 1;
}

/* One image's line: {"index", "prompt", "seed", mIoUs, "words": [{"word", "index", "kind",
 * "object", "iou"}]}, a missed word's iou null. NULL if out of memory. */
static cJSON *image_line_json(const eval_heat_image *im) {
    const eval_heat_line *l = im->line;
    cJSON *j = cJSON_CreateObject(), *words = NULL;
    int ok = j && cJSON_AddNumberToObject(j, "index", (double)im->index) &&
             cJSON_AddStringToObject(j, "prompt", l->text) &&
             cJSON_AddNumberToObject(j, "seed", (double)im->seed) && add_mious(j, &im->tally, 0) &&
             (words = cJSON_AddArrayToObject(j, "words")) != NULL;
    for (size_t s = 0; ok && s < l->n_scored; s++) {
        const eval_heat_word *w = &l->scored[s];
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(words, o);
        if (!ok) {
            cJSON_Delete(o);
            break;
        }
        ok = cJSON_AddStringToObject(o, "word", l->words[w->word]) &&
             cJSON_AddNumberToObject(o, "index", (double)w->word) &&
             cJSON_AddStringToObject(o, "kind", eval_heat_kind_names[w->kind]) &&
             cJSON_AddNumberToObject(o, "object", w->object) &&
             (isnan(im->iou[s]) ? cJSON_AddNullToObject(o, "iou") != NULL
                                : cJSON_AddNumberToObject(o, "iou", tidy(im->iou[s])) != NULL);
    }
    if (!ok) cJSON_Delete(j);
    return ok ? j : NULL;
}

/* The --json object. NULL if out of memory. */
static cJSON *summary_json(const heat_args *g, const eval_heat_result *r) {
    cJSON *j = cJSON_CreateObject();
    int ok = j && cJSON_AddStringToObject(j, "mode", g->generated ? "heatmaps-generated" : "heatmaps") &&
             cJSON_AddStringToObject(j, "model", g->s.model) &&
             cJSON_AddStringToObject(j, "prompts_file", g->prompts) &&
             cJSON_AddNumberToObject(j, "prompts", (double)r->n_prompts) &&
             (g->generated ? cJSON_AddNullToObject(j, "strength") != NULL
                           : cJSON_AddNumberToObject(j, "strength", tidy((double)g->strength)) != NULL) &&
             cJSON_AddNumberToObject(j, "steps", g->s.params.steps) &&
             cJSON_AddStringToObject(j, "sampler", xattn_sampler_name(g->s.params.sampler)) &&
             cJSON_AddBoolToObject(j, "karras", g->s.params.karras) &&
             cJSON_AddNumberToObject(j, "cfg", tidy((double)g->s.params.cfg)) &&
             cJSON_AddNumberToObject(j, "threshold", tidy((double)g->threshold)) &&
             cJSON_AddStringToObject(j, "heat_layers", g->heat.layers ? g->heat.layers : "all") &&
             cJSON_AddStringToObject(j, "heat_heads", g->heat.heads ? g->heat.heads : "all") &&
             cJSON_AddStringToObject(j, "heat_steps", g->heat.steps ? g->heat.steps : "all") &&
             cJSON_AddNumberToObject(j, "seed", (double)g->s.params.seed) &&
             cJSON_AddNumberToObject(j, "seeds", g->seeds) && add_mious(j, &r->tally, 1);
    if (ok && g->generated)
        ok = cJSON_AddNumberToObject(j, "objects", (double)r->objects) &&
             cJSON_AddNumberToObject(j, "objects_found", (double)r->objects_found) &&
             cJSON_AddNumberToObject(j, "words_missed", (double)r->words_missed);
    if (!ok) cJSON_Delete(j);
    return ok ? j : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* printing: the library's callbacks                                                          */

typedef struct printer {
    const heat_args *g;
    int show;     /* progress on stderr (a terminal, not --quiet) */
    double start; /* when the first image started */
    int failed;   /* a callback printed an error and stopped the run */
} printer;

static int on_start(size_t n_images, void *user) {
    (void)n_images;
    ((printer *)user)->start = cli_now();
    return 0;
}

static int on_image(const eval_heat_image *im, void *user) {
    printer *pr = user;
    if (!pr->g->json) {
        cJSON *j = image_line_json(im);
        if (!j || !cli_print_json(j)) {
            cli_error("%s: out of memory", pr->g->prompts);
            pr->failed = 1;
            return -1;
        }
    }
    if (pr->show)
        fprintf(stderr, "\rheatmaps %zu/%zu images, %.2f s/image", im->done, im->total,
                (cli_now() - pr->start) / (double)im->done);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* parse, call the library once, print                                                        */

static int run_heatmaps(heat_args *g) { /* resolves g->s.params.sampler */
    xattn_model *model = NULL;
    xattn_error err = {0};
    if (xattn_model_load(g->s.model, &model, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return CLI_EXIT_INPUT;
    }
    xattn_model_info info;
    xattn_model_get_info(model, &info);
    if (g->s.params.sampler == XATTN_SAMPLER_MODEL) g->s.params.sampler = info.sampler;
    eval_heat_params p;
    eval_heat_params_init(&p);
    int runs = g->generated ? g->s.params.steps : sampling_steps_run(g->s.params.steps, g->strength);
    int code = 0;
    if (sampling_check_null_prompt(g->s.model, &info, g->s.params.cfg) != 0) code = CLI_EXIT_INPUT;
    else code = heat_options_params(&g->heat, model, runs, &p.heat); /* --heat-*: exit 2 */
    if (code != 0) {
        xattn_model_free(model);
        return code;
    }
    p.prompts = g->prompts;
    p.model_name = g->s.model;
    p.generated = g->generated;
    p.strength = g->strength;
    p.threshold = g->threshold;
    p.seeds = g->seeds;
    p.gen = g->s.params;
    /* the model's text encoder, for lines without "embedding"; a model without one leaves it
     * NULL, and only such a line is then refused */
    xattn_error enc_err = {0};
    xattn_encoder_load(g->s.model, &p.encoder, &enc_err);
    printer pr = {g, !g->s.quiet && isatty(STDERR_FILENO), cli_now(), 0};
    eval_heat_callbacks cb = {on_start, on_image, &pr};
    eval_heat_result r;
    xattn_status st = eval_heat_run(model, &p, &cb, &r, &err);
    xattn_model_free(model);
    xattn_encoder_free(p.encoder);
    if (st != XATTN_OK) {
        if (!pr.failed) cli_lib_error(&err);
        return CLI_EXIT_INPUT;
    }
    if (pr.show) fputc('\n', stderr);
    if (g->json) {
        cJSON *j = summary_json(g, &r);
        if (!j || !cli_print_json(j)) {
            cli_error("%s: out of memory", g->prompts);
            return CLI_EXIT_INPUT;
        }
    }
    if (!g->s.quiet && g->generated)
        fprintf(stderr, "generated: the detector found %zu of %zu objects; %zu words missed\n",
                r.objects_found, r.objects, r.words_missed);
    if (!g->s.quiet)
        fprintf(stderr, "scored %zu prompts: shape-noun mIoU %.4f (%zu words), colour-adjective mIoU "
                "%.4f (%zu words) (%.1f s)\n", r.n_prompts, eval_heat_miou(&r.tally, EVAL_HEAT_SHAPE),
                r.tally.n[EVAL_HEAT_SHAPE], eval_heat_miou(&r.tally, EVAL_HEAT_COLOR),
                r.tally.n[EVAL_HEAT_COLOR], cli_now() - pr.start);
    return CLI_EXIT_OK;
}

int cmd_eval_heatmaps(int argc, char **argv) {
    heat_args g;
    int code = parse_heat_args(argc, argv, &g);
    if (code != 0) return cli_exit_code(code);
    return run_heatmaps(&g);
}
