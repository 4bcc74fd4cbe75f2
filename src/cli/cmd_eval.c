/* cmd_eval.c — `xattn eval adherence`: GenEval-style prompt-adherence scores on the shapes
 * world (docs/eval.md). The evaluation itself is src/eval/adherence.c: prompts mode
 * (eval_adherence_run) generates every prompt of a JSONL file with seeds 0..K-1, detects its
 * objects and scores the prompt's checks; truth mode (eval_adherence_truth, --truth DIR) scores
 * the ground-truth images of an `xattn dataset` folder against their own captions and compares
 * them object by object with their truth, which validates the detector. `xattn eval heatmaps`
 * is in cmd_eval_heatmaps.c.
 *
 * This file parses the options, loads the model, calls the library once and prints: one JSON
 * line per image (from the library's callback; --out saves its PNG there too), or with --json
 * one JSON object with the scores. Order of work: the command line (exit 2), the model, then in
 * the library every input — prompt file, every embedding — before the first image (exit 1). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "eval_heatmaps.h"
#include "progress.h"
#include "sampling_options.h"
#include "xattn_io.h"
#include "xattn_shapes.h"

static const char eval_usage[] =
    "usage: xattn eval <adherence|heatmaps> [options]\n"
    "\n"
    "  adherence   GenEval-style prompt-adherence scores on the shapes world\n"
    "  heatmaps    score cross-attention heatmaps against object masks\n"
    "\n"
    "Run 'xattn eval adherence --help' or 'xattn eval heatmaps --help' for their options.\n";

static const char adherence_usage[] =
    "usage: xattn eval adherence -m MODEL --prompts FILE.jsonl [options]\n"
    "       xattn eval adherence --truth DIR [--json]\n"
    "\n"
    "Generates every prompt of FILE.jsonl with seeds 0..K-1, finds the objects in each image\n"
    "(palette colours, connected components, shape templates) and checks them against the\n"
    "prompt: single, two, count, colors, position, color_attr (docs/eval.md). Prints one JSON\n"
    "line per image (pass, the reason for a fail, the objects found); --json prints one object\n"
    "with per-category scores and overall = the mean of the category scores.\n"
    "With --truth, scores the ground-truth images of an `xattn dataset` folder (png or npy)\n"
    "against their own captions instead, and compares the objects found with the truth.\n"
    "\n"
    "  -m, --model DIR        model folder (diffusers layout)\n"
    "      --prompts FILE     prompt file, JSON Lines (docs/eval.md)\n"
    "      --truth DIR        score a dataset folder's own images (no model)\n"
    "      --seeds K          seeds 0..K-1 per prompt, 1..1000                  default 4\n"
    "      --steps N          sampling steps, 1..1000                          default 30\n"
    "      --cfg SCALE        classifier-free guidance scale, >= 0             default 7.5\n"
    SAMPLING_HELP_SAMPLER
    "  -t, --threads N        worker threads, 0..256 (0 = one per core)         default 0\n"
    "      --json             one JSON object with the scores instead of lines\n"
    "      --out DIR          also save every image as DIR/<line 0000..>-<seed>.png (created)\n"
    "  -q, --quiet            no progress or summary on stderr\n"
    "  -h, --help             show this help\n";

enum { OPT_PROMPTS = SAMPLING_OPT_END, OPT_TRUTH, OPT_SEEDS, OPT_JSON, OPT_OUT, OPT_HELP };

static const cli_option adherence_options[] = {
    {'m', "model", 1, SAMPLING_OPT_MODEL},     {0, "prompts", 1, OPT_PROMPTS},
    {0, "truth", 1, OPT_TRUTH},                {0, "seeds", 1, OPT_SEEDS},
    {0, "steps", 1, SAMPLING_OPT_STEPS},       {0, "cfg", 1, SAMPLING_OPT_CFG},
    {'t', "threads", 1, SAMPLING_OPT_THREADS}, {0, "json", 0, OPT_JSON},
    {0, "out", 1, OPT_OUT},                    {'q', "quiet", 0, SAMPLING_OPT_QUIET},
    {'h', "help", 0, OPT_HELP},                {0, "sampler", 1, SAMPLING_OPT_SAMPLER},
    {0, "karras", 0, SAMPLING_OPT_KARRAS},
};

typedef struct adherence_args {
    sampling_options s;     /* -m, --steps, --cfg, -t, -q */
    const char *prompts, *truth, *out;
    const char *gen_option; /* the first generation-only option given (refused with --truth) */
    int seeds, json;
} adherence_args;

/* Returns -1 to continue, else the exit code. */
/* One option of eval adherence's (cli_parse_options): 0 when taken, else an error was printed.
 * Remembers the first option that only generation uses, which --truth refuses. */
static int adherence_option(void *ctx, int id, const char *name, const char *value) {
    adherence_args *g = ctx;
    static char gen_name[64];
    int bad = sampling_option(&g->s, id, name, value) < 0;
    switch (id) {
    case CLI_POSITIONAL:
        cli_error("%s: unexpected argument (see xattn eval adherence --help)", value);
        return 1;
    case OPT_PROMPTS: g->prompts = value; break;
    case OPT_TRUTH: g->truth = value; break;
    case OPT_OUT: g->out = value; break;
    case OPT_SEEDS: bad = cli_parse_int(name, value, 1, 1000, &g->seeds) != 0; break;
    case OPT_JSON: g->json = 1; break;
    }
    if (bad) return 1;
    if (!g->gen_option && id != OPT_TRUTH && id != OPT_JSON && id != SAMPLING_OPT_QUIET) {
        snprintf(gen_name, sizeof gen_name, "%s", name);
        g->gen_option = gen_name;
    }
    return 0;
}

/* 0 to go on, else as cli_parse_options. */
static int parse_adherence_args(int argc, char **argv, adherence_args *g) {
    memset(g, 0, sizeof *g);
    sampling_options_init(&g->s);
    g->seeds = 4;
    int code = cli_parse_options(argc, argv, adherence_options,
                                 sizeof adherence_options / sizeof adherence_options[0], OPT_HELP,
                                 adherence_usage, adherence_option, g);
    if (code != 0) return code;
    if (g->truth) {
        if (g->gen_option) {
            cli_error("%s: not used with --truth (it scores a dataset's own images)", g->gen_option);
            return CLI_EXIT_USAGE;
        }
        return 0;
    }
    if (!g->s.model) {
        cli_error("-m: missing: the model folder is required (or --truth DIR; see xattn eval adherence --help)");
        return CLI_EXIT_USAGE;
    }
    if (!g->prompts) {
        cli_error("--prompts: missing: the prompt file is required (see xattn eval adherence --help)");
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON output: every JSON object this command prints is built here                           */

/* Rounds to 6 decimals so that floats print as written (7.5, 0.3). */
static double tidy(double v) { return round(v * 1e6) / 1e6; }

/* The --json object's scores. Returns 0 if out of memory. */
static int add_scores(cJSON *j, const eval_adherence_tally *t) {
    cJSON *cats = cJSON_AddObjectToObject(j, "categories");
    if (!cats) return 0;
    for (int c = 0; c < EVAL_N_CATEGORIES; c++) {
        cJSON *o = cJSON_AddObjectToObject(cats, eval_category_names[c]);
        if (!o) return 0;
        cJSON *score = t->images[c]
                           ? cJSON_CreateNumber(tidy(eval_adherence_category_score(t, (eval_category)c)))
                           : cJSON_CreateNull();
        if (!score || !cJSON_AddItemToObject(o, "score", score)) {
            cJSON_Delete(score);
            return 0;
        }
        if (!cJSON_AddNumberToObject(o, "passed", (double)t->passed[c]) ||
            !cJSON_AddNumberToObject(o, "images", (double)t->images[c]))
            return 0;
    }
    cJSON *pairs = cJSON_AddObjectToObject(j, "holdout_pairs");
    if (!pairs) return 0;
    cJSON *drawn = t->pairs_asked ? cJSON_CreateNumber(tidy(eval_adherence_pairs_score(t)))
                                  : cJSON_CreateNull();
    if (!drawn || !cJSON_AddItemToObject(pairs, "score", drawn)) {
        cJSON_Delete(drawn);
        return 0;
    }
    return cJSON_AddNumberToObject(pairs, "drawn", (double)t->pairs_drawn) &&
           cJSON_AddNumberToObject(pairs, "asked", (double)t->pairs_asked) &&
           cJSON_AddNumberToObject(j, "overall", tidy(eval_adherence_overall(t))) &&
           cJSON_AddNumberToObject(j, "passed", (double)t->total_passed) &&
           cJSON_AddNumberToObject(j, "images", (double)t->total) != NULL;
}

/* One image's line: the fields both modes share, added to j. */
static int add_verdict(cJSON *j, const eval_adherence_image *im) {
    cJSON *objects = eval_objects_json(im->det);
    if (!objects) return 0;
    int ok = cJSON_AddStringToObject(j, "prompt", im->prompt) &&
             cJSON_AddStringToObject(j, "category", eval_category_names[im->spec->category]) &&
             cJSON_AddBoolToObject(j, "pass", im->pass) &&
             (im->pass ? cJSON_AddNullToObject(j, "reason") != NULL
                       : cJSON_AddStringToObject(j, "reason", im->reason) != NULL) &&
             cJSON_AddStringToObject(j, "background", eval_class_name(im->det->background));
    if (!ok || !cJSON_AddItemToObject(j, "objects", objects)) {
        cJSON_Delete(objects);
        return 0;
    }
    return 1;
}

/* Truth mode's line: {"id", verdict, "exact", "detector"}. NULL if out of memory. */
static cJSON *truth_line_json(const eval_adherence_image *im) {
    cJSON *j = cJSON_CreateObject();
    int ok = j && cJSON_AddNumberToObject(j, "id", (double)im->id) && add_verdict(j, im) &&
             cJSON_AddBoolToObject(j, "exact", im->exact) &&
             (im->exact ? cJSON_AddNullToObject(j, "detector") != NULL
                        : cJSON_AddStringToObject(j, "detector", im->detector) != NULL);
    if (!ok) cJSON_Delete(j);
    return ok ? j : NULL;
}

/* Prompts mode's line: {"index", "seed", verdict, "image" (with --out)}. NULL if out of memory. */
static cJSON *prompts_line_json(const eval_adherence_image *im, const char *image_path) {
    cJSON *j = cJSON_CreateObject();
    int ok = j && cJSON_AddNumberToObject(j, "index", (double)im->index) &&
             cJSON_AddNumberToObject(j, "seed", im->seed) && add_verdict(j, im) &&
             (!image_path || cJSON_AddStringToObject(j, "image", image_path));
    if (!ok) cJSON_Delete(j);
    return ok ? j : NULL;
}

/* Truth mode's --json object. NULL if out of memory. */
static cJSON *truth_summary_json(const char *dir, const eval_adherence_tally *t) {
    cJSON *j = cJSON_CreateObject();
    int ok = j && cJSON_AddStringToObject(j, "mode", "truth") &&
             cJSON_AddStringToObject(j, "truth", dir) && add_scores(j, t) &&
             cJSON_AddNumberToObject(j, "detector_exact", tidy((double)t->exact / (double)t->total)) &&
             cJSON_AddNumberToObject(j, "detector_exact_images", (double)t->exact);
    if (!ok) cJSON_Delete(j);
    return ok ? j : NULL;
}

/* Prompts mode's --json object. NULL if out of memory. */
static cJSON *prompts_summary_json(const adherence_args *g, size_t n_prompts,
                                   const eval_adherence_tally *t) {
    cJSON *j = cJSON_CreateObject();
    int ok = j && cJSON_AddStringToObject(j, "mode", "prompts") &&
             cJSON_AddStringToObject(j, "model", g->s.model) &&
             cJSON_AddStringToObject(j, "prompts_file", g->prompts) &&
             cJSON_AddNumberToObject(j, "prompts", (double)n_prompts) &&
             cJSON_AddNumberToObject(j, "seeds", g->seeds) &&
             cJSON_AddNumberToObject(j, "steps", g->s.params.steps) &&
             cJSON_AddStringToObject(j, "sampler", xattn_sampler_name(g->s.params.sampler)) &&
             cJSON_AddBoolToObject(j, "karras", g->s.params.karras) &&
             cJSON_AddNumberToObject(j, "cfg", tidy((double)g->s.params.cfg)) && add_scores(j, t);
    if (!ok) cJSON_Delete(j);
    return ok ? j : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* printing: the library's callbacks                                                          */

typedef struct printer {
    const adherence_args *g;
    const char *name;  /* the prompt file or truth folder: names an out-of-memory error */
    int show;          /* progress on stderr (a terminal, not --quiet) */
    double start;      /* when the first image started */
    int failed;        /* a callback printed an error and stopped the run */
    char **written;    /* --out: the image names written, "0000-0.png", in writing order */
    size_t n_written;
} printer;

/* Prints j as a line; 0, or -1 after printing the error. */
static int print_line(printer *pr, cJSON *j) {
    if (j && cli_print_json(j)) return 0;
    cli_error("%s: out of memory", pr->name);
    pr->failed = 1;
    return -1;
}

/* "\radherence 12/800 images, 0.4 s/image" on a terminal. */
static void show_progress(const printer *pr, size_t done, size_t total) {
    if (!pr->show) return;
    double per = done ? (cli_now() - pr->start) / (double)done : 0.0;
    fprintf(stderr, "\radherence %zu/%zu images, %.2f s/image", done, total, per);
    if (done == total) fputc('\n', stderr);
}

static int truth_start(size_t n_images, void *user) {
    (void)n_images;
    ((printer *)user)->start = cli_now();
    return 0;
}

static int truth_image(const eval_adherence_image *im, void *user) {
    printer *pr = user;
    if (!pr->g->json && print_line(pr, truth_line_json(im)) != 0) return -1;
    if (pr->show && im->done % 1000 == 0) fprintf(stderr, "\radherence --truth %zu images", im->done);
    return 0;
}

/* mkdir -p and a write check; prints the error and returns -1 on failure. */
static int make_output_dir(const char *dir) {
    xattn_error err = {0};
    if (xattn_make_dirs(dir, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return -1;
    }
    if (access(dir, W_OK) != 0) {
        cli_error("%s: cannot write: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Saves one image with its parameters in text chunks. Prints the error; 0 on success. */
static int save_image(const adherence_args *g, const char *path, const eval_adherence_image *im) {
    xattn_generate_params params = g->s.params;
    params.seed = (uint64_t)im->seed;
    sampling_text text;
    sampling_text_init(&text);
    sampling_text_add(&text, "prompt", im->prompt);
    if (im->embedding) sampling_text_add(&text, "prompt_file", im->embedding);
    sampling_text_params(&text, g->s.model, &params, 0);
    sampling_text_add(&text, "category", eval_category_names[im->spec->category]);
    sampling_text_software(&text);
    xattn_error err = {0};
    if (xattn_png_write_rgb(path, im->rgb, im->size, im->size, text.pairs, text.n, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return -1;
    }
    return 0;
}

/* An image name of --out that exists already is overwritten only when xattn wrote that file (the
 * folder's manifest lists it, same size and hash): a user's 0000-0.png is left alone. Also makes
 * room for the names written. 0, or -1 after printing the error. */
static int check_out_names(printer *pr, size_t n_images) {
    const adherence_args *g = pr->g;
    if (!(pr->written = calloc(n_images ? n_images : 1, sizeof *pr->written))) {
        cli_error("%s: out of memory", g->out);
        return -1;
    }
    for (size_t k = 0; k < n_images; k++) {
        char name[48];
        const char *why;
        snprintf(name, sizeof name, "%04zu-%d.png", k / (size_t)g->seeds, (int)(k % (size_t)g->seeds));
        if (!xattn_manifest_owns(g->out, name, &why)) {
            cli_error("%s/%s: exists, and xattn did not write it (%s); choose an empty or new --out "
                      "folder", g->out, name, why);
            return -1;
        }
    }
    return 0;
}

/* Every input is loaded: make --out, start the clock and the progress line. */
static int prompts_start(size_t n_images, void *user) {
    printer *pr = user;
    if (pr->g->out && (make_output_dir(pr->g->out) != 0 || check_out_names(pr, n_images) != 0)) {
        pr->failed = 1;
        return -1;
    }
    pr->start = cli_now();
    show_progress(pr, 0, n_images);
    return 0;
}

static int prompts_image(const eval_adherence_image *im, void *user) {
    printer *pr = user;
    char path[4200];
    if (pr->g->out) {
        snprintf(path, sizeof path, "%s/%04zu-%d.png", pr->g->out, im->index, im->seed);
        if (save_image(pr->g, path, im) != 0) {
            pr->failed = 1;
            return -1;
        }
        if (!(pr->written[pr->n_written] = strdup(strrchr(path, '/') + 1))) {
            cli_error("%s: out of memory", pr->g->out);
            pr->failed = 1;
            return -1;
        }
        pr->n_written++;
    }
    if (!pr->g->json && print_line(pr, prompts_line_json(im, pr->g->out ? path : NULL)) != 0)
        return -1;
    show_progress(pr, im->done, im->total);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* the two modes: parse, call the library once, print                                        */

/* Prints the library's error unless a callback already printed its own. */
static int run_failed(const printer *pr, const xattn_error *err) {
    if (!pr->failed) cli_lib_error(err);
    return CLI_EXIT_INPUT;
}

static int run_truth(const adherence_args *g) {
    printer pr = {g, g->truth, !g->s.quiet && isatty(STDERR_FILENO), cli_now(), 0, NULL, 0};
    eval_adherence_callbacks cb = {truth_start, truth_image, &pr};
    eval_adherence_tally t;
    xattn_error err = {0};
    xattn_status st = eval_adherence_truth(g->truth, &cb, &t, &err);
    if (pr.show && st == XATTN_OK) fputc('\n', stderr);
    if (st != XATTN_OK) return run_failed(&pr, &err);
    if (g->json && print_line(&pr, truth_summary_json(g->truth, &t)) != 0) return CLI_EXIT_INPUT;
    if (!g->s.quiet)
        fprintf(stderr, "scored %zu truth images: overall %.4f, held-out pairs drawn %.4f (%zu/%zu), "
                "detector exact on %zu (%.4f) (%.1f s)\n",
                t.total, eval_adherence_overall(&t), eval_adherence_pairs_score(&t), t.pairs_drawn,
                t.pairs_asked, t.exact, (double)t.exact / (double)t.total, cli_now() - pr.start);
    return CLI_EXIT_OK;
}

static int run_prompts(adherence_args *g) {
    xattn_model *model = NULL;
    xattn_error err = {0};
    if (xattn_model_load(g->s.model, &model, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return CLI_EXIT_INPUT;
    }
    xattn_model_info info;
    xattn_model_get_info(model, &info);
    if (sampling_check_null_prompt(g->s.model, &info, g->s.params.cfg) != 0) {
        xattn_model_free(model);
        return CLI_EXIT_INPUT;
    }
    if (g->s.params.sampler == XATTN_SAMPLER_MODEL) g->s.params.sampler = info.sampler;
    eval_adherence_params p;
    eval_adherence_params_init(&p);
    p.prompts = g->prompts;
    p.model_name = g->s.model;
    p.seeds = g->seeds;
    p.gen = g->s.params;
    /* the model's text encoder, for lines without "embedding"; a model without one leaves it
     * NULL, and only such a line is then refused */
    xattn_error enc_err = {0};
    xattn_encoder_load(g->s.model, &p.encoder, &enc_err);
    printer pr = {g, g->prompts, !g->s.quiet && isatty(STDERR_FILENO), cli_now(), 0, NULL, 0};
    eval_adherence_callbacks cb = {prompts_start, prompts_image, &pr};
    eval_adherence_tally t;
    size_t n_prompts;
    xattn_status st = eval_adherence_run(model, &p, &cb, &t, &n_prompts, &err);
    xattn_model_free(model);
    xattn_encoder_free(p.encoder);
    /* the images written, also after a failure, go into the folder's manifest, so that a later
     * run may overwrite them (after another error, that one's line is the one printed) */
    xattn_error merr = {0};
    int listed = pr.n_written == 0 ||
                 xattn_manifest_add(g->out, (const char *const *)pr.written, pr.n_written,
                                    &merr) == XATTN_OK;
    for (size_t k = 0; k < pr.n_written; k++) free(pr.written[k]);
    free(pr.written);
    if (st != XATTN_OK) return run_failed(&pr, &err);
    if (!listed) {
        cli_lib_error(&merr);
        return CLI_EXIT_INPUT;
    }
    if (g->json && print_line(&pr, prompts_summary_json(g, n_prompts, &t)) != 0)
        return CLI_EXIT_INPUT;
    if (!g->s.quiet)
        fprintf(stderr, "scored %zu images (%zu prompts x %d seeds): overall %.4f, held-out pairs "
                "drawn %.4f (%zu/%zu) (%.1f s)\n", t.total, n_prompts, g->seeds,
                eval_adherence_overall(&t), eval_adherence_pairs_score(&t), t.pairs_drawn,
                t.pairs_asked, cli_now() - pr.start);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------------------------ */

int cmd_eval(int argc, char **argv) {
    if (argc < 2 || (argv[1][0] == '-' && strcmp(argv[1], "-h") != 0 && strcmp(argv[1], "--help") != 0)) {
        cli_error("eval: missing what to evaluate: adherence or heatmaps (see xattn eval --help)");
        return CLI_EXIT_USAGE;
    }
    const char *what = argv[1];
    if (strcmp(what, "-h") == 0 || strcmp(what, "--help") == 0) {
        fputs(eval_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(what, "heatmaps") == 0) return cmd_eval_heatmaps(argc - 1, argv + 1);
    if (strcmp(what, "adherence") != 0) {
        cli_error("%s: unknown evaluation (adherence or heatmaps; see xattn eval --help)", what);
        return CLI_EXIT_USAGE;
    }
    adherence_args g;
    int code = parse_adherence_args(argc - 1, argv + 1, &g);
    if (code != 0) return cli_exit_code(code);
    return g.truth ? run_truth(&g) : run_prompts(&g);
}
