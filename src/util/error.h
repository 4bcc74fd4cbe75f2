/* error.h — filling an xattn_error: one line "<file or option>: <what is wrong>". */
#ifndef XATTN_UTIL_ERROR_H
#define XATTN_UTIL_ERROR_H

#include "xattn.h"

/* Formats the message into err (if not NULL), sets err->status and returns status. */
xattn_status xattn_fail(xattn_error *err, xattn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
