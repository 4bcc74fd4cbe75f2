#define _POSIX_C_SOURCE 200809L
#include "util/atomic_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"

xattn_status atomic_file_open(atomic_file *f, const char *path, xattn_error *err) {
    static unsigned counter;
    memset(f, 0, sizeof *f);
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path + 1) : 0;
    size_t n = strlen(path) + 64;
    f->final_path = strdup(path);
    f->temp_path = malloc(n);
    if (!f->final_path || !f->temp_path) {
        atomic_file_abort(f);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    }
    f->durable = 1;
    /* "x" (O_EXCL): never truncate a file that is there already (a leftover of a killed run
     * with the same pid, or anything else), take the next name instead */
    for (int tries = 0; tries < 100; tries++) {
        snprintf(f->temp_path, n, "%.*s.%s.tmp-%ld-%u", (int)dir_len, path, path + dir_len,
                 (long)getpid(), counter++);
        f->fp = fopen(f->temp_path, "wbx");
        if (f->fp || errno != EEXIST) break;
    }
    if (!f->fp) {
        int e = errno;
        free(f->temp_path);
        f->temp_path = NULL; /* not ours: whatever is under that name stays */
        atomic_file_abort(f);
        return xattn_fail(err, XATTN_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return XATTN_OK;
}

xattn_status atomic_file_commit(atomic_file *f, xattn_error *err) {
    int failed = ferror(f->fp) || fflush(f->fp) != 0 || (f->durable && fsync(fileno(f->fp)) != 0);
    int e = errno ? errno : EIO; /* ferror alone leaves errno as it was */
    if (fclose(f->fp) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    f->fp = NULL;
    if (!failed && rename(f->temp_path, f->final_path) != 0) {
        failed = 1;
        e = errno;
    }
    if (failed) {
        xattn_fail(err, XATTN_ERR_IO, "%s: cannot write: %s", f->final_path, strerror(e));
        atomic_file_abort(f);
        return XATTN_ERR_IO;
    }
    free(f->final_path);
    free(f->temp_path);
    f->final_path = f->temp_path = NULL;
    return XATTN_OK;
}

void atomic_file_abort(atomic_file *f) {
    if (f->fp) fclose(f->fp);
    if (f->temp_path) remove(f->temp_path);
    free(f->final_path);
    free(f->temp_path);
    memset(f, 0, sizeof *f);
}
