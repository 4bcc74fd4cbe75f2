/* output_path.c — see output_path.h. */
#define _POSIX_C_SOURCE 200809L
#include "cli/output_path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"

int cli_check_output_path(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        cli_error("%s: is a folder, not a file name", path);
        return -1;
    }
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0) {
        cli_error("%s: cannot write: folder %s: %s", path, dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        cli_error("%s: cannot write: %s is not a folder", path, dir);
        return -1;
    }
    if (access(dir, W_OK) != 0) {
        cli_error("%s: cannot write: folder %s: %s", path, dir, strerror(errno));
        return -1;
    }
    return 0;
}
