/* progress.h — the sampling progress bar on stderr:
 *   "step 12/50 [#####.....] 0.8 s/step", redrawn in place with '\r', a newline at the end.
 * Drawn only when enabled (stderr is a terminal and not --quiet). */
#ifndef XATTN_CLI_PROGRESS_H
#define XATTN_CLI_PROGRESS_H

typedef struct cli_progress {
    int enabled;
    int drawn;          /* something is on the line: finish with a newline */
    double start;       /* seconds, monotonic */
} cli_progress;

/* Monotonic clock in seconds. */
double cli_now(void);

void cli_progress_start(cli_progress *p, int enabled);
/* An xattn_progress_fn: user is a cli_progress*. Never cancels. */
int cli_progress_step(int step, int n_steps, void *user);
/* Ends the line if a bar was drawn. */
void cli_progress_finish(cli_progress *p);

#endif
