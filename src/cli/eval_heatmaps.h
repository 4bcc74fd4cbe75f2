/* eval_heatmaps.h — `xattn eval heatmaps` (cmd_eval_heatmaps.c), dispatched by cmd_eval. */
#ifndef XATTN_CLI_EVAL_HEATMAPS_H
#define XATTN_CLI_EVAL_HEATMAPS_H

/* argv[0] = "heatmaps"; returns the exit code (commands.h). */
int cmd_eval_heatmaps(int argc, char **argv);

#endif
