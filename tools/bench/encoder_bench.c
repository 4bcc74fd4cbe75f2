/* encoder_bench — the C side of `tools/bench.sh encoder` (tools/bench_encoder.py).
 *
 *   xattn_encoder_bench -e DIR -T N [-t THREADS] [--runs K]
 *       seconds of one xattn_encoder_forward at T = N tokens ([CLS], N - 2 tokens of a caption
 *       repeated, [SEP]), after two untimed warm-ups: the median of K runs (default 20), the
 *       best run, and the median CPU seconds (all threads; robust on a shared machine).
 * Prints one JSON object on stdout. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xattn.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); } /* all threads */

static const char *opt(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *dir = opt(argc, argv, "-e", "weights/shapes32");
    size_t T = (size_t)atoi(opt(argc, argv, "-T", "16"));
    int threads = atoi(opt(argc, argv, "-t", "1")), runs = atoi(opt(argc, argv, "--runs", "20"));
    xattn_set_threads(threads);
    xattn_encoder *e = NULL;
    xattn_error err = {0};
    if (xattn_encoder_load(dir, &e, &err) != XATTN_OK) {
        fprintf(stderr, "encoder_bench: %s\n", err.msg);
        return 1;
    }
    const char *caption = "a red circle left of a blue square on a white background";
    int32_t *cap = NULL, *ids = malloc(T * sizeof *ids);
    size_t n = 0;
    if (T < 2 || runs < 1 || !ids || xattn_encoder_tokenize(e, caption, strlen(caption), &cap, &n, &err)) {
        fprintf(stderr, "encoder_bench: bad -T/--runs or %s\n", err.msg);
        return 2;
    }
    ids[0] = cap[0];
    for (size_t i = 1; i + 1 < T; i++) ids[i] = cap[1 + (i - 1) % (n - 2)];
    ids[T - 1] = cap[n - 1];
    xattn_encoder_info info;
    xattn_encoder_get_info(e, &info);
    float *out = malloc(T * info.dim * sizeof *out);
    double *sec = malloc((size_t)runs * sizeof *sec), *csec = malloc((size_t)runs * sizeof *csec);
    for (int r = -2; r < runs; r++) {
        double t0 = now(), c0 = cpu();
        if (xattn_encoder_forward(e, ids, T, out, &err) != XATTN_OK) {
            fprintf(stderr, "encoder_bench: %s\n", err.msg);
            return 1;
        }
        if (r >= 0) sec[r] = now() - t0, csec[r] = cpu() - c0;
    }
    qsort(sec, (size_t)runs, sizeof *sec, cmp_double);
    qsort(csec, (size_t)runs, sizeof *csec, cmp_double);
    printf("{\"T\": %zu, \"threads\": %d, \"runs\": %d, \"seconds\": %.6f, \"best\": %.6f, "
           "\"cpu_seconds\": %.6f}\n", T, threads, runs, sec[runs / 2], sec[0], csec[runs / 2]);
    free(out), free(sec), free(csec), free(ids), free(cap);
    xattn_encoder_free(e);
    return 0;
}
