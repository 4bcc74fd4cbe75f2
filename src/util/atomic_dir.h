/* atomic_dir.h — write a whole output folder (a heatmaps folder, say) so that a killed run or a
 * full disk leaves either the old folder or the complete new one.
 *
 * The files go into a hidden temporary folder beside the final one, "<parent>/.<name>.tmp-<pid>-<n>";
 * the commit swaps the two in one step (renameat2 with RENAME_EXCHANGE, or a plain rename when
 * there is no folder yet) and then removes the old folder, now under the temporary name. A run
 * killed after the swap can leave that old folder behind under its hidden name, never a partial
 * one under the final name. */
#ifndef XATTN_UTIL_ATOMIC_DIR_H
#define XATTN_UTIL_ATOMIC_DIR_H

#include "xattn.h"

typedef struct atomic_dir {
    char *final_path;  /* without trailing slashes */
    char *temp_path;   /* where the caller writes */
    /* Optional (NULL after open): run on the old folder once it is out of the final path's way
     * (old_dir is its temporary name), just before it is deleted. An error puts the old folder
     * back, removes the new one and fails the commit: nothing is deleted that the hook refuses. */
    xattn_status (*check_old)(const char *old_dir, const char *final_dir, xattn_error *err);
} atomic_dir;

/* Creates the final folder's missing parents and the empty temporary folder. */
xattn_status atomic_dir_open(atomic_dir *d, const char *path, xattn_error *err);
/* Puts the temporary folder in the final one's place and removes the old one (after check_old
 * accepts it); on failure removes the temporary folder and leaves the old one as it was. */
xattn_status atomic_dir_commit(atomic_dir *d, xattn_error *err);
/* Removes the temporary folder and everything in it; safe after a commit or a failed open. */
void atomic_dir_abort(atomic_dir *d);

/* rm -r without following symbolic links; 0 on success (a missing path included). */
int remove_tree(const char *path);

#endif
