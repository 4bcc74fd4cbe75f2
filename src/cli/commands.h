/* commands.h — the xattn subcommands. Each takes argv with argv[0] = the subcommand name,
 * prints its errors as "xattn: <file or option>: <what is wrong>" and returns the exit code:
 * 0 done, 1 the input or environment is wrong, 2 the command line is wrong. */
#ifndef XATTN_CLI_COMMANDS_H
#define XATTN_CLI_COMMANDS_H

int cmd_generate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_dataset(int argc, char **argv);   /* cmd_dataset.c */
int cmd_eval(int argc, char **argv);      /* cmd_eval.c: eval adherence */
int cmd_compare(int argc, char **argv);   /* cmd_compare.c */
int cmd_denoise(int argc, char **argv);   /* cmd_denoise.c: image-to-image */
int cmd_encode(int argc, char **argv);    /* cmd_encode.c: text -> prompt embedding */
int cmd_serve(int argc, char **argv);     /* cmd_serve.c: the HTTP server (src/serve/) */

#endif
