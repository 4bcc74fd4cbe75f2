/* atomic_set.h — several output files that appear together (a --batch of images and their
 * sidecars): each is written under a temporary name beside its final one, and only when all
 * are written are they renamed into place, in the order they were added; on any failure the
 * temporaries are removed and existing files keep their old contents. (A rename failing half
 * way — which a same-folder rename practically never does — leaves the files renamed so far;
 * the rest are removed.)
 *
 * Temporary names: "<dir>/.<name>.xattn-<pid><ext>" (ext: the final name's extension, so that
 * a writer that picks its format by extension picks the same one), or one the caller gives. */
#ifndef XATTN_UTIL_ATOMIC_SET_H
#define XATTN_UTIL_ATOMIC_SET_H

#include <stddef.h>

#include "xattn.h"

typedef struct atomic_set {
    char **final_paths, **temp_paths; /* [n] */
    size_t n, cap;
    size_t n_written; /* temporaries [0, n_written) were written by the caller */
} atomic_set;

void atomic_set_init(atomic_set *s);
/* Adds final_path; *temp (owned by the set) is where the caller writes it. temp_path NULL: the
 * set names the temporary (above). */
xattn_status atomic_set_add(atomic_set *s, const char *final_path, const char *temp_path,
                            const char **temp, xattn_error *err);
/* The temporaries added so far are written (abort removes only written ones: a name it did
 * not write is not its to remove). */
void atomic_set_written(atomic_set *s);
/* Renames every temporary into place; on failure removes the temporaries not yet renamed. */
xattn_status atomic_set_commit(atomic_set *s, xattn_error *err);
/* Removes the temporaries not renamed (after a failed write) and frees the set. Safe after a
 * commit, and twice. */
void atomic_set_abort(atomic_set *s);

#endif
