/* cmd_eval.c — `xattn eval adherence`: GenEval-style prompt-adherence scores on the shapes
 * world (src/eval, docs/eval.md).
 *
 * Prompts mode: every prompt of a JSONL file is generated with seeds 0..K-1 by the C engine
 * (the same images as `xattn generate -s k`), its objects are detected and the prompt's checks
 * scored. Truth mode (--truth DIR): the ground-truth images of an `xattn dataset` folder are
 * scored against their own captions and compared object by object with their truth, which
 * validates the detector. `xattn eval heatmaps` is in cmd_eval_heatmaps.c.
 *
 * stdout: one JSON line per image, or with --json one JSON object with the scores. Order of
 * work: the command line (exit 2), then every input — prompt file, every embedding, the model —
 * before the first image (exit 1). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/eval_heatmaps.h"
#include "cli/progress.h"
#include "cli/sampling_options.h"
#include "eval/detect.h"
#include "eval/prompts.h"
#include "eval/score.h"
#include "eval/truth.h"
#include "xattn_io.h"

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
    "      --steps N          sampling steps, 1..1000                          default 50\n"
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
static int parse_adherence_args(int argc, char **argv, adherence_args *g) {
    memset(g, 0, sizeof *g);
    sampling_options_init(&g->s);
    g->seeds = 4;
    cli_args a;
    cli_args_init(&a, argc, argv, adherence_options,
                  sizeof adherence_options / sizeof adherence_options[0]);
    const char *name, *value;
    int id;
    static char gen_name[64];
    while ((id = cli_args_next(&a, &name, &value)) != CLI_END) {
        int bad = sampling_option(&g->s, id, name, value) < 0;
        switch (id) {
        case CLI_ERROR: return CLI_EXIT_USAGE;
        case CLI_POSITIONAL:
            cli_error("%s: unexpected argument (see xattn eval adherence --help)", value);
            return CLI_EXIT_USAGE;
        case OPT_HELP: fputs(adherence_usage, stdout); return CLI_EXIT_OK;
        case OPT_PROMPTS: g->prompts = value; break;
        case OPT_TRUTH: g->truth = value; break;
        case OPT_OUT: g->out = value; break;
        case OPT_SEEDS: bad = cli_parse_int(name, value, 1, 1000, &g->seeds); break;
        case OPT_JSON: g->json = 1; break;
        default: break;
        }
        if (bad) return CLI_EXIT_USAGE;
        if (!g->gen_option && id != OPT_TRUTH && id != OPT_JSON &&
            id != SAMPLING_OPT_QUIET) {
            snprintf(gen_name, sizeof gen_name, "%s", name);
            g->gen_option = gen_name;
        }
    }
    if (g->truth) {
        if (g->gen_option) {
            cli_error("%s: not used with --truth (it scores a dataset's own images)", g->gen_option);
            return CLI_EXIT_USAGE;
        }
        return -1;
    }
    if (!g->s.model) {
        cli_error("-m: missing: the model folder is required (or --truth DIR; see xattn eval adherence --help)");
        return CLI_EXIT_USAGE;
    }
    if (!g->prompts) {
        cli_error("--prompts: missing: the prompt file is required (see xattn eval adherence --help)");
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* scores                                                                                      */

typedef struct tally {
    size_t images[EVAL_N_CATEGORIES], passed[EVAL_N_CATEGORIES];
    size_t total, total_passed, exact; /* exact: truth mode's exact detections */
    size_t pairs_asked, pairs_drawn;   /* held-out colour-shape pairs (eval_holdout_pairs) */
} tally;

/* The mean of the category scores over the categories with images. */
static double overall_score(const tally *t) {
    double sum = 0.0;
    int n = 0;
    for (int c = 0; c < EVAL_N_CATEGORIES; c++) {
        if (!t->images[c]) continue;
        sum += (double)t->passed[c] / (double)t->images[c];
        n++;
    }
    return n ? sum / n : 0.0;
}

/* The fraction of the held-out colour-shape pairs asked for that were drawn (0 when none were). */
static double pairs_score(const tally *t) {
    return t->pairs_asked ? (double)t->pairs_drawn / (double)t->pairs_asked : 0.0;
}

/* Rounds to 6 decimals so that floats print as written (7.5, 0.3). */
static double tidy(double v) { return round(v * 1e6) / 1e6; }

/* The --json object's scores. Returns 0 if out of memory. */
static int add_scores(cJSON *j, const tally *t) {
    cJSON *cats = cJSON_AddObjectToObject(j, "categories");
    if (!cats) return 0;
    for (int c = 0; c < EVAL_N_CATEGORIES; c++) {
        cJSON *o = cJSON_AddObjectToObject(cats, eval_category_names[c]);
        if (!o) return 0;
        cJSON *score = t->images[c] ? cJSON_CreateNumber(tidy((double)t->passed[c] / (double)t->images[c]))
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
    cJSON *drawn = t->pairs_asked ? cJSON_CreateNumber(tidy(pairs_score(t))) : cJSON_CreateNull();
    if (!drawn || !cJSON_AddItemToObject(pairs, "score", drawn)) {
        cJSON_Delete(drawn);
        return 0;
    }
    return cJSON_AddNumberToObject(pairs, "drawn", (double)t->pairs_drawn) &&
           cJSON_AddNumberToObject(pairs, "asked", (double)t->pairs_asked) &&
           cJSON_AddNumberToObject(j, "overall", tidy(overall_score(t))) &&
           cJSON_AddNumberToObject(j, "passed", (double)t->total_passed) &&
           cJSON_AddNumberToObject(j, "images", (double)t->total) != NULL;
}

/* One image's line: the fields both modes share, added to j. */
static int add_verdict(cJSON *j, const char *prompt, const eval_spec *spec, int pass,
                       const char *reason, const eval_detection *det) {
    cJSON *objects = eval_objects_json(det);
    if (!objects) return 0;
    int ok = cJSON_AddStringToObject(j, "prompt", prompt) &&
             cJSON_AddStringToObject(j, "category", eval_category_names[spec->category]) &&
             cJSON_AddBoolToObject(j, "pass", pass) &&
             (pass ? cJSON_AddNullToObject(j, "reason") != NULL
                   : cJSON_AddStringToObject(j, "reason", reason) != NULL) &&
             cJSON_AddStringToObject(j, "background", eval_class_name(det->background));
    if (!ok || !cJSON_AddItemToObject(j, "objects", objects)) {
        cJSON_Delete(objects);
        return 0;
    }
    return 1;
}

static void count_verdict(tally *t, const eval_spec *spec, const eval_detection *det, int pass) {
    size_t asked, drawn;
    eval_holdout_pairs(spec, det, &asked, &drawn);
    t->pairs_asked += asked;
    t->pairs_drawn += drawn;
    t->images[spec->category]++;
    t->passed[spec->category] += (size_t)pass;
    t->total++;
    t->total_passed += (size_t)pass;
}

/* "\radherence 12/800 images, 0.4 s/image" on a terminal. */
static void show_progress(int enabled, size_t done, size_t total, double start) {
    if (!enabled) return;
    double per = done ? (cli_now() - start) / (double)done : 0.0;
    fprintf(stderr, "\radherence %zu/%zu images, %.2f s/image", done, total, per);
    if (done == total) fputc('\n', stderr);
}

/* ------------------------------------------------------------------------------------------ */
/* truth mode                                                                                  */

static int run_truth(const adherence_args *g) {
    eval_truth *t = NULL;
    xattn_error err = {0};
    if (eval_truth_open(g->truth, &t, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return CLI_EXIT_INPUT;
    }
    static world_scene scene; /* ~4 KB */
    static eval_detection det;
    tally tl = {0};
    int code = CLI_EXIT_INPUT, show = !g->s.quiet && isatty(STDERR_FILENO);
    double start = cli_now();
    for (;;) {
        uint64_t id;
        int done;
        if (eval_truth_next(t, &scene, &id, &done, &err) != XATTN_OK) goto library_error;
        if (done) break;
        if (eval_detect(scene.rgb, WORLD_SIZE, WORLD_SIZE, NULL, &det, &err) != XATTN_OK)
            goto library_error;
        eval_spec spec;
        eval_spec_from_scene(&scene, &spec);
        char reason[EVAL_REASON_LEN], why[EVAL_REASON_LEN];
        int pass = eval_score(&spec, &det, reason, sizeof reason);
        int exact = eval_detection_matches_truth(&det, &scene, why, sizeof why);
        count_verdict(&tl, &spec, &det, pass);
        tl.exact += (size_t)exact;
        if (!g->json) {
            cJSON *j = cJSON_CreateObject();
            int ok = j && cJSON_AddNumberToObject(j, "id", (double)id) &&
                     add_verdict(j, scene.caption, &spec, pass, reason, &det) &&
                     cJSON_AddBoolToObject(j, "exact", exact) &&
                     (exact ? cJSON_AddNullToObject(j, "detector") != NULL
                            : cJSON_AddStringToObject(j, "detector", why) != NULL);
            if (!ok) {
                cJSON_Delete(j);
                goto out_of_memory;
            }
            if (!cli_print_json(j)) goto out_of_memory;
        }
        if (show && tl.total % 1000 == 0) fprintf(stderr, "\radherence --truth %zu images", tl.total);
    }
    if (show) fputc('\n', stderr);
    if (tl.total == 0) {
        cli_error("%s/truth.jsonl: no records", g->truth);
        goto done;
    }
    if (g->json) {
        cJSON *j = cJSON_CreateObject();
        int ok = j && cJSON_AddStringToObject(j, "mode", "truth") &&
                 cJSON_AddStringToObject(j, "truth", g->truth) && add_scores(j, &tl) &&
                 cJSON_AddNumberToObject(j, "detector_exact", tidy((double)tl.exact / (double)tl.total)) &&
                 cJSON_AddNumberToObject(j, "detector_exact_images", (double)tl.exact);
        if (!ok) {
            cJSON_Delete(j);
            goto out_of_memory;
        }
        if (!cli_print_json(j)) goto out_of_memory;
    }
    if (!g->s.quiet)
        fprintf(stderr, "scored %zu truth images: overall %.4f, held-out pairs drawn %.4f (%zu/%zu), "
                "detector exact on %zu (%.4f) (%.1f s)\n",
                tl.total, overall_score(&tl), pairs_score(&tl), tl.pairs_drawn, tl.pairs_asked,
                tl.exact, (double)tl.exact / (double)tl.total, cli_now() - start);
    code = CLI_EXIT_OK;
    goto done;
out_of_memory:
    cli_error("%s: out of memory", g->truth);
    goto done;
library_error:
    cli_lib_error(&err);
done:
    eval_truth_close(t);
    return code;
}

/* ------------------------------------------------------------------------------------------ */
/* prompts mode                                                                                */

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
static int save_image(const adherence_args *g, const char *path, const eval_prompt *p, int seed,
                      const uint8_t *rgb, size_t size) {
    xattn_generate_params params = g->s.params;
    params.seed = (uint64_t)seed;
    sampling_text text;
    sampling_text_init(&text);
    sampling_text_add(&text, "prompt", p->text);
    sampling_text_add(&text, "prompt_file", p->embedding);
    sampling_text_params(&text, g->s.model, &params, 0);
    sampling_text_add(&text, "category", eval_category_names[p->spec.category]);
    sampling_text_software(&text);
    xattn_error err = {0};
    if (xattn_png_write_rgb(path, rgb, size, size, text.pairs, text.n, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return -1;
    }
    return 0;
}

static int run_prompts(adherence_args *g) {
    eval_prompt_set set = {0};
    xattn_prompt **emb = NULL;
    xattn_model *model = NULL;
    float *image = NULL;   /* [1, 3, S, S] */
    uint8_t *rgb = NULL;   /* [S, S, 3] */
    static eval_detection det;
    xattn_error err = {0};
    tally tl = {0};
    int code = CLI_EXIT_INPUT;

    if (eval_prompts_load(g->prompts, &set, &err) != XATTN_OK) goto library_error;
    if (xattn_model_load(g->s.model, &model, &err) != XATTN_OK) goto library_error;
    xattn_model_info info;
    xattn_model_get_info(model, &info);
    if (info.out_channels != 3) {
        cli_error("%s: out_channels %d: the detector needs RGB images (3 channels)", g->s.model,
                  info.out_channels);
        goto done;
    }
    if (info.sample_size < 2 || info.sample_size > EVAL_MAX_SIDE) {
        cli_error("%s: sample_size %d: the detector takes 2..%d", g->s.model, info.sample_size,
                  EVAL_MAX_SIDE);
        goto done;
    }
    if (sampling_check_null_prompt(g->s.model, &info, g->s.params.cfg) != 0) goto done;
    if (g->s.params.sampler == XATTN_SAMPLER_MODEL) g->s.params.sampler = info.sampler;
    emb = calloc(set.n, sizeof *emb);
    if (!emb) {
        cli_error("%s: out of memory", g->prompts);
        goto done;
    }
    for (size_t i = 0; i < set.n; i++) {
        if (xattn_prompt_load(set.prompts[i].embedding, &emb[i], &err) != XATTN_OK) goto library_error;
        if (sampling_check_width(set.prompts[i].embedding, emb[i], &info, g->prompts,
                                 set.prompts[i].line) != 0)
            goto done;
    }
    if (g->out && make_output_dir(g->out) != 0) goto done;

    size_t size = (size_t)info.sample_size;
    image = malloc(3 * size * size * sizeof *image);
    rgb = malloc(3 * size * size);
    if (!image || !rgb) {
        cli_error("%s: out of memory", g->s.model);
        goto done;
    }
    size_t total = set.n * (size_t)g->seeds, done_images = 0;
    int show = !g->s.quiet && isatty(STDERR_FILENO);
    double start = cli_now();
    show_progress(show, 0, total, start);
    for (size_t i = 0; i < set.n; i++) {
        const eval_prompt *p = &set.prompts[i];
        for (int seed = 0; seed < g->seeds; seed++) {
            xattn_generate_params params = g->s.params;
            params.seed = (uint64_t)seed;
            params.batch = 1;
            if (xattn_generate(model, emb[i], NULL, &params, image, &err) != XATTN_OK) goto library_error;
            xattn_image_to_rgb8(image, 3, size, size, rgb);
            if (eval_detect(rgb, size, size, NULL, &det, &err) != XATTN_OK) goto library_error;
            char reason[EVAL_REASON_LEN], path[4200] = "";
            int pass = eval_score(&p->spec, &det, reason, sizeof reason);
            count_verdict(&tl, &p->spec, &det, pass);
            if (g->out) {
                snprintf(path, sizeof path, "%s/%04zu-%d.png", g->out, i, seed);
                if (save_image(g, path, p, seed, rgb, size) != 0) goto done;
            }
            if (!g->json) {
                cJSON *j = cJSON_CreateObject();
                int ok = j && cJSON_AddNumberToObject(j, "index", (double)i) &&
                         cJSON_AddNumberToObject(j, "seed", seed) &&
                         add_verdict(j, p->text, &p->spec, pass, reason, &det) &&
                         (!g->out || cJSON_AddStringToObject(j, "image", path));
                if (!ok) {
                    cJSON_Delete(j);
                    cli_error("%s: out of memory", g->prompts);
                    goto done;
                }
                if (!cli_print_json(j)) {
                    cli_error("%s: out of memory", g->prompts);
                    goto done;
                }
            }
            show_progress(show, ++done_images, total, start);
        }
    }
    if (g->json) {
        cJSON *j = cJSON_CreateObject();
        int ok = j && cJSON_AddStringToObject(j, "mode", "prompts") &&
                 cJSON_AddStringToObject(j, "model", g->s.model) &&
                 cJSON_AddStringToObject(j, "prompts_file", g->prompts) &&
                 cJSON_AddNumberToObject(j, "prompts", (double)set.n) &&
                 cJSON_AddNumberToObject(j, "seeds", g->seeds) &&
                 cJSON_AddNumberToObject(j, "steps", g->s.params.steps) &&
                 cJSON_AddNumberToObject(j, "cfg", tidy((double)g->s.params.cfg)) && add_scores(j, &tl);
        if (!ok) cJSON_Delete(j);
        if (!ok || !cli_print_json(j)) {
            cli_error("%s: out of memory", g->prompts);
            goto done;
        }
    }
    if (!g->s.quiet)
        fprintf(stderr, "scored %zu images (%zu prompts x %d seeds): overall %.4f, held-out pairs "
                "drawn %.4f (%zu/%zu) (%.1f s)\n", tl.total, set.n, g->seeds, overall_score(&tl),
                pairs_score(&tl), tl.pairs_drawn, tl.pairs_asked, cli_now() - start);
    code = CLI_EXIT_OK;
    goto done;

library_error:
    cli_lib_error(&err);
done:
    if (emb)
        for (size_t i = 0; i < set.n; i++) xattn_prompt_free(emb[i]);
    free(emb);
    free(image);
    free(rgb);
    if (model) xattn_model_free(model);
    eval_prompts_free(&set);
    return code;
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
    if (code >= 0) return code;
    return g.truth ? run_truth(&g) : run_prompts(&g);
}
