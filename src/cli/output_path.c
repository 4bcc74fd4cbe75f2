/* output_path.c — see output_path.h. */
#define _GNU_SOURCE /* realpath, strndup */
#include "output_path.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"

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

/* realpath of path's folder, malloc'd; NULL when it does not resolve */
static char *real_parent(const char *path) {
    const char *slash = strrchr(path, '/');
    char *parent = slash == path ? strdup("/") : slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    char *real = parent ? realpath(parent, NULL) : NULL;
    free(parent);
    return real;
}

int cli_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
        return 1;
    const char *na = strrchr(a, '/'), *nb = strrchr(b, '/');
    na = na ? na + 1 : a, nb = nb ? nb + 1 : b;
    if (strcmp(na, nb) != 0) return 0;
    char *pa = real_parent(a), *pb = real_parent(b);
    int same = pa && pb && strcmp(pa, pb) == 0;
    free(pa), free(pb);
    return same;
}
