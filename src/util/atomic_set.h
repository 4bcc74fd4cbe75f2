/* atomic_set.h — several output files that appear together (a --batch of images and their
 * sidecars): each is written under a temporary name beside its final one, and only when all
 * are written are they renamed into place, in the order they were added; on any failure the
 * temporaries are removed and existing files keep their old contents. (A rename failing half
 * way — which a same-folder rename practically never does — leaves the files renamed so far;
 * the rest are removed.)
 *
 * Temporary names: "<dir>/.<name>.xattn-<pid><ext>" (ext: the final name's extension, so that
 * a writer that picks its format by extension picks the same one; "-<k>" before ext when that
 * name is taken), or one the caller gives. The set creates each temporary (O_EXCL) when it is
 * added, so it never writes over or removes a file it did not create. */
#ifndef XATTN_UTIL_ATOMIC_SET_H
#define XATTN_UTIL_ATOMIC_SET_H

#include <stddef.h>

#include "xattn.h"

typedef struct atomic_set {
    char **final_paths, **temp_paths; /* [n] */
    size_t n, cap;
} atomic_set;

void atomic_set_init(atomic_set *s);
/* Adds final_path and creates its temporary, empty; *temp (owned by the set) is where the
 * caller writes it (replacing the empty file). temp_path NULL: the set names the temporary
 * (above); a temp_path that exists already is refused. */
xattn_status atomic_set_add(atomic_set *s, const char *final_path, const char *temp_path,
                            const char **temp, xattn_error *err);
/* Renames every temporary into place; on failure removes the temporaries not yet renamed. */
xattn_status atomic_set_commit(atomic_set *s, xattn_error *err);
/* Removes the temporaries not renamed (after a failed write) and frees the set. Safe after a
 * commit, and twice. */
void atomic_set_abort(atomic_set *s);

#endif
