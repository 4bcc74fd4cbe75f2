/* atomic_file.h — write an output under a temporary name in the same folder, then rename it
 * into place, so a killed run or a full disk leaves the old file or the complete new one. */
#ifndef XATTN_UTIL_ATOMIC_FILE_H
#define XATTN_UTIL_ATOMIC_FILE_H

#include <stdio.h>

#include "xattn.h"

typedef struct atomic_file {
    FILE *fp;           /* write through this */
    char *final_path;
    char *temp_path;    /* "<dir>/.<name>.tmp-<pid>-<n>" */
    int durable;        /* fsync before the rename; atomic_file_open sets 1. A caller that syncs
                         * many files at once later (syncfs) clears it after opening. */
} atomic_file;

/* Opens the temporary file; durable = 1. */
xattn_status atomic_file_open(atomic_file *f, const char *path, xattn_error *err);
/* Flushes, fsyncs (if durable), closes and renames into place; on any failure removes the
 * temporary. */
xattn_status atomic_file_commit(atomic_file *f, xattn_error *err);
/* Closes and removes the temporary (after a failed write). Safe to call twice. */
void atomic_file_abort(atomic_file *f);

#endif
