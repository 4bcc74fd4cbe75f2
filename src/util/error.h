/* error.h — filling an xattn_error: one line "<file or option>: <what is wrong>". */
#ifndef XATTN_UTIL_ERROR_H
#define XATTN_UTIL_ERROR_H

#include <stddef.h>

#include "xattn.h"

/* Formats the message into err (if not NULL), sets err->status and returns status. */
xattn_status xattn_fail(xattn_error *err, xattn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));


/* Puts `final` where `temp` first appears in err->msg, so that an error about a temporary file
 * or folder (written first, renamed into place) names the user's path. */
void xattn_error_rename(xattn_error *err, const char *temp, const char *final);

#endif
