/* output_path.h — the check that `generate` and `denoise` run on an output file name before
 * they load anything, so a wrong path fails in a moment rather than after sampling. */
#ifndef XATTN_CLI_OUTPUT_PATH_H
#define XATTN_CLI_OUTPUT_PATH_H

/* Fails when `path` names a folder, or its folder is missing, not a folder or not writable:
 * prints "xattn: PATH: cannot write: ..." (or "PATH: is a folder, not a file name") and returns
 * -1; 0 when fine. */
int cli_check_output_path(const char *path);

/* 1 when the paths a and b name the same file, however spelled ("./x.png", "d/../x.png", a
 * link): the same device and inode when both exist, else the same resolved folder and name. */
int cli_same_file(const char *a, const char *b);

#endif
