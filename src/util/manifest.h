/* manifest.h — which files of a folder xattn wrote.
 *
 * A folder that xattn replaces as a whole (--heatmaps DIR) gets a manifest, DIR/xattn-manifest.json,
 * written last: every file in the folder (and its subfolders) with its path inside the folder,
 * its size and its SHA-256. Before such a folder is replaced, and again on the old folder just
 * before it is deleted, every entry in it must match: a regular file listed with the same size
 * and hash, or a folder that holds listed files. Anything else (a file of the user's, one
 * changed since, a link, a folder without a manifest) means the folder is not xattn's to delete.
 *
 *   {"written_by": "xattn", "version": 1,
 *    "files": [{"path": "0-a.png", "size": 1234, "sha256": "<64 hex digits>"}, ...]} */
#ifndef XATTN_UTIL_MANIFEST_H
#define XATTN_UTIL_MANIFEST_H

#include <stddef.h>

#include "xattn.h"

#define MANIFEST_NAME "xattn-manifest.json"

/* Writes dir/MANIFEST_NAME listing every file below dir (sorted by path). */
xattn_status manifest_write(const char *dir, xattn_error *err);

/* The first entry of dir (in sorted order, depth first) that the manifest does not match:
 * returns 1 with its path ("<dir>/<path inside>") in name[cap] and a short reason in *why;
 * 0 when every entry matches (an empty folder included); -1 when a folder cannot be read
 * (errno set, name holds it). */
int manifest_first_foreign(const char *dir, char *name, size_t cap, const char **why);

/* For a folder xattn writes files into without replacing it (eval --out): 1 when dir/rel does
 * not exist or the manifest lists it with its size and hash (xattn may overwrite it), else 0
 * with a short reason in *why. */
int manifest_owns(const char *dir, const char *rel, const char **why);
/* Adds (or updates) the entries of the files dir/rels[0..n) to dir/MANIFEST_NAME, keeping the
 * other entries; a file that no longer exists is left out. */
xattn_status manifest_add(const char *dir, const char *const *rels, size_t n, xattn_error *err);

#endif
