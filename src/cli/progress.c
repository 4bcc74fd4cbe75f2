#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include <stdio.h>
#include <time.h>

#define BAR_WIDTH 20

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_start(cli_progress *p, int enabled) {
    p->enabled = enabled;
    p->drawn = 0;
    p->start = cli_now();
}

int cli_progress_step(int step, int n_steps, void *user) {
    cli_progress *p = user;
    if (!p->enabled || n_steps <= 0) return 0;
    if (step < 0) step = 0;
    if (step > n_steps) step = n_steps;
    char bar[BAR_WIDTH + 1];
    int filled = (int)((long)step * BAR_WIDTH / n_steps);
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    double per_step = step > 0 ? (cli_now() - p->start) / step : 0.0;
    int width = snprintf(NULL, 0, "%d", n_steps);
    fprintf(stderr, "\rstep %*d/%d [%s] %5.1f s/step", width, step, n_steps, bar, per_step);
    fflush(stderr);
    p->drawn = 1;
    return 0;
}

void cli_progress_finish(cli_progress *p) {
    if (p->drawn) fputc('\n', stderr);
    p->drawn = 0;
}
