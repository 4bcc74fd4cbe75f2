#define _POSIX_C_SOURCE 200809L
#include "util/atomic_set.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"

void atomic_set_init(atomic_set *s) { memset(s, 0, sizeof *s); }

/* ".png" (the final name's extension, as written) or "" */
static const char *extension(const char *path) {
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash + 1) ? dot : "";
}

xattn_status atomic_set_add(atomic_set *s, const char *final_path, const char *temp_path,
                            const char **temp, xattn_error *err) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        char **f = realloc(s->final_paths, cap * sizeof *f);
        if (f) s->final_paths = f;
        char **t = f ? realloc(s->temp_paths, cap * sizeof *t) : NULL;
        if (t) s->temp_paths = t;
        if (!f || !t) return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", final_path);
        s->cap = cap;
    }
    char *f = strdup(final_path), *t = NULL;
    size_t cap = 2 * strlen(final_path) + (temp_path ? strlen(temp_path) : 0) + 64;
    if (!f || !(t = malloc(cap))) {
        free(f), free(t);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", final_path);
    }
    /* the temporary is created here, empty, with O_EXCL: a name already taken (a user's file
     * that happens to be called so) is never written over, and abort removes only names the set
     * created */
    const char *slash = strrchr(final_path, '/');
    size_t dir_len = slash ? (size_t)(slash - final_path + 1) : 0;
    int fd = -1;
    for (int k = 0; k < 100 && fd < 0; k++) {
        if (temp_path)
            snprintf(t, cap, "%s", temp_path);
        else if (k == 0)
            snprintf(t, cap, "%.*s.%s.xattn-%ld%s", (int)dir_len, final_path, final_path + dir_len,
                     (long)getpid(), extension(final_path));
        else
            snprintf(t, cap, "%.*s.%s.xattn-%ld-%d%s", (int)dir_len, final_path,
                     final_path + dir_len, (long)getpid(), k, extension(final_path));
        fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && (errno != EEXIST || temp_path)) break;
    }
    if (fd < 0) {
        xattn_status st = errno == EEXIST
            ? xattn_fail(err, XATTN_ERR_IO, "%s: cannot write: its temporary name %s is taken",
                         final_path, t)
            : xattn_fail(err, XATTN_ERR_IO, "%s: cannot write: %s", final_path, strerror(errno));
        free(f), free(t);
        return st;
    }
    close(fd);
    s->final_paths[s->n] = f;
    s->temp_paths[s->n] = t;
    s->n++;
    *temp = t;
    return XATTN_OK;
}

xattn_status atomic_set_commit(atomic_set *s, xattn_error *err) {
    for (size_t k = 0; k < s->n; k++) {
        if (rename(s->temp_paths[k], s->final_paths[k]) != 0)
            return xattn_fail(err, XATTN_ERR_IO, "%s: cannot write: %s", s->final_paths[k],
                              strerror(errno));
        free(s->temp_paths[k]);
        s->temp_paths[k] = NULL; /* renamed: nothing to remove */
    }
    return XATTN_OK;
}

void atomic_set_abort(atomic_set *s) {
    for (size_t k = 0; k < s->n; k++) {
        if (s->temp_paths[k]) remove(s->temp_paths[k]); /* created by atomic_set_add */
        free(s->temp_paths[k]);
        free(s->final_paths[k]);
    }
    free(s->temp_paths);
    free(s->final_paths);
    memset(s, 0, sizeof *s);
}
