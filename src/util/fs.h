/* fs.h — folders. */
#ifndef XATTN_UTIL_FS_H
#define XATTN_UTIL_FS_H

#include "xattn.h"

/* mkdir -p: creates dir and its missing parents; an existing folder is fine. Errors name the
 * folder asked for and the part that failed: "<dir>: <part> is not a folder". */
xattn_status make_dirs(const char *dir, xattn_error *err);

#endif
