/* atomic_dir.c — see atomic_dir.h. */
#define _GNU_SOURCE /* renameat2, RENAME_EXCHANGE; nftw */
#include "util/atomic_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "xattn_io.h"

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)ftw;
    return (type == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

int remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

xattn_status atomic_dir_open(atomic_dir *d, const char *path, xattn_error *err) {
    static unsigned counter;
    memset(d, 0, sizeof *d);
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--; /* "out/heat/" is "out/heat" */
    d->final_path = strndup(path, len);
    d->temp_path = malloc(len + 64);
    if (!d->final_path || !d->temp_path) {
        atomic_dir_abort(d);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    }
    const char *slash = strrchr(d->final_path, '/');
    size_t parent_len = slash ? (size_t)(slash - d->final_path + 1) : 0;
    if (parent_len > 1) {
        d->temp_path[0] = '\0';
        strncat(d->temp_path, d->final_path, parent_len - 1);
        xattn_status st = xattn_make_dirs(d->temp_path, err);
        if (st != XATTN_OK) {
            atomic_dir_abort(d);
            return st;
        }
    }
    snprintf(d->temp_path, len + 64, "%.*s.%s.tmp-%ld-%u", (int)parent_len, d->final_path,
             d->final_path + parent_len, (long)getpid(), counter++);
    if (mkdir(d->temp_path, 0777) != 0) {
        int e = errno;
        free(d->temp_path);
        d->temp_path = NULL; /* not ours: nothing to remove */
        atomic_dir_abort(d);
        return xattn_fail(err, XATTN_ERR_IO, "%s: cannot create a folder beside it: %s", path,
                          strerror(e));
    }
    return XATTN_OK;
}

xattn_status atomic_dir_commit(atomic_dir *d, xattn_error *err) {
    struct stat st;
    int exists = lstat(d->final_path, &st) == 0;
    if (exists && !S_ISDIR(st.st_mode)) {
        xattn_fail(err, XATTN_ERR_IO, "%s: exists and is not a folder", d->final_path);
        atomic_dir_abort(d);
        return XATTN_ERR_IO;
    }
    int e = 0;
    if (!exists) {
        if (rename(d->temp_path, d->final_path) != 0) e = errno;
    } else if (renameat2(AT_FDCWD, d->temp_path, AT_FDCWD, d->final_path, RENAME_EXCHANGE) == 0) {
        /* temp_path now holds the old folder */
        if (d->check_old && d->check_old(d->temp_path, d->final_path, err) != XATTN_OK) {
            renameat2(AT_FDCWD, d->temp_path, AT_FDCWD, d->final_path, RENAME_EXCHANGE); /* back */
            atomic_dir_abort(d);
            return XATTN_ERR_IO;
        }
    } else {
        e = errno;
        /* No exchange on this file system: move the old folder aside, then the new one in. */
        if (e == EINVAL || e == ENOSYS) {
            char *aside = malloc(strlen(d->temp_path) + 8);
            e = ENOMEM;
            if (aside) {
                sprintf(aside, "%s.old", d->temp_path);
                e = rename(d->final_path, aside) != 0 ? errno : 0;
                if (!e && d->check_old && d->check_old(aside, d->final_path, err) != XATTN_OK) {
                    rename(aside, d->final_path); /* not ours to delete: back in place */
                    free(aside);
                    atomic_dir_abort(d);
                    return XATTN_ERR_IO;
                }
                if (!e && rename(d->temp_path, d->final_path) != 0) {
                    e = errno;
                    rename(aside, d->final_path); /* put the old one back */
                }
                if (!e) remove_tree(aside);
                free(aside);
            }
        }
    }
    if (e) {
        xattn_fail(err, XATTN_ERR_IO, "%s: cannot put the new folder in place: %s", d->final_path,
                   strerror(e));
        atomic_dir_abort(d);
        return XATTN_ERR_IO;
    }
    atomic_dir_abort(d); /* after an exchange, temp_path holds the old folder */
    return XATTN_OK;
}

void atomic_dir_abort(atomic_dir *d) {
    if (d->temp_path) remove_tree(d->temp_path);
    free(d->temp_path);
    free(d->final_path);
    d->temp_path = d->final_path = NULL;
}
