/* xattn_bench — the C side of tools/bench.sh.
 *
 *   xattn_bench sgemm [-t THREADS] [-n N]
 *       GFLOP/s of cblas_sgemm on an N x N x N product (default 1024), best of 5.
 *   xattn_bench generate -m MODEL -p PROMPT [-t THREADS] [--steps N] [--cfg S] [--runs K]
 *       seconds per image of xattn_generate (after one untimed warm-up run), best of K runs,
 *       and the U-Net's GFLOP/s over those runs (matrix-product FLOPs / U-Net time).
 *   xattn_bench capture -m MODEL -p PROMPT [-t THREADS] [--steps N] [--cfg S] [--runs K]
 *       the cost of heatmap capture: K rounds, each one xattn_generate without capture, one with
 *       a heatmaps accumulator (as --heatmaps) and one that also keeps every step (as --html),
 *       after one untimed warm-up; prints each round's seconds and the median round's ratios.
 * Each prints one JSON object on stdout. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xattn.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *opt(int argc, char **argv, const char *name, const char *def) {
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

static int bench_sgemm(int argc, char **argv) {
    int n = atoi(opt(argc, argv, "-n", "1024"));
    openblas_set_num_threads(atoi(opt(argc, argv, "-t", "1"))); /* OpenBLAS's own threads */
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    if (!a || !b || !c) return 1;
    for (size_t i = 0; i < nn; i++) a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f;
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("{\"sgemm_n\": %d, \"sgemm_gflops\": %.2f}\n", n, 2.0 * n * (double)nn / best / 1e9);
    free(a), free(b), free(c);
    return 0;
}

typedef struct unet_clock {
    double seconds;   /* time inside the U-Net, measured between progress callbacks */
    double last;
} unet_clock;

static int on_step(int step, int n_steps, void *user) {
    (void)step, (void)n_steps;
    unet_clock *c = user;
    double t = now();
    c->seconds += t - c->last;
    c->last = t;
    return 0;
}

/* -m MODEL -p PROMPT [-t] [--steps] [--cfg] [--sampler NAME] [--karras 1]: the model, the prompt and generation parameters.
 * Prints the error; 0, or the exit code. */
static int load_inputs(int argc, char **argv, const char *cmd, xattn_model **m, xattn_prompt **p,
                       xattn_generate_params *gp) {
    const char *model = opt(argc, argv, "-m", NULL), *prompt = opt(argc, argv, "-p", NULL);
    if (!model || !prompt) {
        fprintf(stderr, "xattn_bench %s: -m MODEL and -p PROMPT are required\n", cmd);
        return 2;
    }
    xattn_error err = {0};
    if (xattn_model_load(model, m, &err) != XATTN_OK || xattn_prompt_load(prompt, p, &err) != XATTN_OK) {
        fprintf(stderr, "xattn_bench: %s\n", err.msg);
        return 1;
    }
    xattn_generate_params_init(gp);
    gp->threads = atoi(opt(argc, argv, "-t", "1"));
    gp->steps = atoi(opt(argc, argv, "--steps", "20"));
    gp->cfg = (float)atof(opt(argc, argv, "--cfg", "7.5"));
    gp->sampler = XATTN_SAMPLER_MODEL;
    const char *sampler = opt(argc, argv, "--sampler", NULL);
    int karras = 0;
    if (sampler && xattn_sampler_from_name(sampler, &gp->sampler, &karras, &err) != XATTN_OK) {
        fprintf(stderr, "xattn_bench: %s\n", err.msg);
        return 2;
    }
    if (karras || opt(argc, argv, "--karras", NULL)) gp->karras = 1;
    return 0;
}

static int bench_generate(int argc, char **argv) {
    xattn_error err = {0};
    xattn_model *m = NULL;
    xattn_prompt *p = NULL;
    xattn_generate_params gp;
    int code = load_inputs(argc, argv, "generate", &m, &p, &gp);
    if (code) return code;
    const char *model = opt(argc, argv, "-m", NULL);
    int runs = atoi(opt(argc, argv, "--runs", "3"));
    xattn_model_info info;
    xattn_model_get_info(m, &info);
    float *img = malloc((size_t)info.out_channels * info.sample_size * info.sample_size * sizeof *img);

    /* FLOPs of one forward at the batch and token count generate uses */
    int guided = gp.cfg > 1.0f;
    size_t T = p->n_tokens;
    xattn_unet_run *run = NULL;
    if (guided) {
        /* the null prompt may be longer than the prompt: generate pads to the longer one */
        xattn_prompt *null_p = NULL;
        char path[4096];
        snprintf(path, sizeof path, "%s/null_prompt.safetensors", model);
        if (xattn_prompt_load(path, &null_p, &err) == XATTN_OK) {
            if (null_p->n_tokens > T) T = null_p->n_tokens;
            xattn_prompt_free(null_p);
        }
    }
    size_t rows = guided ? 2 : 1, img_n = (size_t)info.in_channels * info.sample_size * info.sample_size;
    float *x = calloc(rows * img_n, sizeof *x), *out = calloc(rows * img_n, sizeof *out);
    float *text = calloc(rows * T * p->dim, sizeof *text);
    /* the second forward's count: from then on the text's keys and values are reused */
    if (xattn_unet_run_new(m, rows, T, &run, &err) != XATTN_OK ||
        xattn_unet_forward(run, x, 500.0f, text, NULL, out, &err) != XATTN_OK ||
        xattn_unet_forward(run, x, 500.0f, text, NULL, out, &err) != XATTN_OK) {
        fprintf(stderr, "xattn_bench: %s\n", err.msg);
        return 1;
    }
    double flops = xattn_unet_flops(run);
    xattn_unet_run_free(run);
    free(x), free(out), free(text);

    unet_clock clk = {0};
    gp.progress = on_step;
    gp.progress_user = &clk;
    double best = 1e30, unet_seconds = 0.0;
    for (int r = 0; r <= runs; r++) {
        clk.seconds = 0.0;
        double t0 = now();
        clk.last = t0;
        if (xattn_generate(m, p, NULL, &gp, img, &err) != XATTN_OK) {
            fprintf(stderr, "xattn_bench: %s\n", err.msg);
            return 1;
        }
        double dt = now() - t0;
        if (r == 0) continue; /* warm-up */
        if (dt < best) best = dt, unet_seconds = clk.seconds;
    }
    printf("{\"seconds_per_image\": %.4f, \"steps\": %d, \"threads\": %d, \"batch_rows\": %zu, "
           "\"flops_per_forward\": %.0f, \"unet_gflops\": %.2f}\n",
           best, gp.steps, gp.threads, rows, flops, flops * gp.steps / unet_seconds / 1e9);
    free(img);
    xattn_prompt_free(p);
    xattn_model_free(m);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench_capture(int argc, char **argv) {
    xattn_error err = {0};
    xattn_model *m = NULL;
    xattn_prompt *p = NULL;
    xattn_generate_params gp;
    int code = load_inputs(argc, argv, "capture", &m, &p, &gp);
    if (code) return code;
    int runs = atoi(opt(argc, argv, "--runs", "5"));
    if (runs < 1 || runs > 1000) runs = 5;
    xattn_model_info info;
    xattn_model_get_info(m, &info);
    float *img = malloc((size_t)info.out_channels * info.sample_size * info.sample_size * sizeof *img);
    double *sec = calloc(3 * (size_t)runs, sizeof *sec); /* [round][plain, heatmaps, steps kept] */
    double *ratio = calloc(2 * (size_t)runs, sizeof *ratio);
    if (!img || !sec || !ratio) return 1;
    for (int r = -1; r < runs; r++) { /* round -1: warm-up */
        for (int mode = 0; mode < 3; mode++) {
            xattn_heatmaps *h = NULL;
            xattn_heatmap_params hp;
            xattn_heatmap_params_init(&hp);
            hp.keep_steps = mode == 2;
            if (mode > 0 && xattn_heatmaps_new(m, p, &hp, &h, &err) != XATTN_OK) {
                fprintf(stderr, "xattn_bench: %s\n", err.msg);
                return 1;
            }
            gp.heatmaps = h;
            double t0 = now();
            if (xattn_generate(m, p, NULL, &gp, img, &err) != XATTN_OK) {
                fprintf(stderr, "xattn_bench: %s\n", err.msg);
                return 1;
            }
            double dt = now() - t0;
            xattn_heatmaps_free(h);
            if (r >= 0) sec[3 * r + mode] = dt;
        }
        if (r >= 0) {
            ratio[r] = sec[3 * r + 1] / sec[3 * r];
            ratio[runs + r] = sec[3 * r + 2] / sec[3 * r];
        }
    }
    printf("{\"rounds\": [");
    for (int r = 0; r < runs; r++)
        printf("%s[%.4f, %.4f, %.4f]", r ? ", " : "", sec[3 * r], sec[3 * r + 1], sec[3 * r + 2]);
    qsort(ratio, (size_t)runs, sizeof *ratio, cmp_double);
    qsort(ratio + runs, (size_t)runs, sizeof *ratio, cmp_double);
    printf("], \"heatmaps_ratio\": %.4f, \"keep_steps_ratio\": %.4f, \"steps\": %d, \"threads\": %d}\n",
           ratio[runs / 2], ratio[runs + runs / 2], gp.steps, gp.threads);
    free(img), free(sec), free(ratio);
    xattn_prompt_free(p);
    xattn_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "sgemm") == 0) return bench_sgemm(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "generate") == 0) return bench_generate(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "capture") == 0) return bench_capture(argc, argv);
    fprintf(stderr, "usage: xattn_bench sgemm [-t T] [-n N] | {generate|capture} -m MODEL -p PROMPT "
                    "[-t T] [--steps N] [--cfg S] [--runs K]\n");
    return 2;
}
