/* error.h — filling an xattn_error: one line "<file or option>: <what is wrong>". */
#ifndef XATTN_UTIL_ERROR_H
#define XATTN_UTIL_ERROR_H

#include <stddef.h>

#include "xattn.h"

/* Formats the message into err (if not NULL), sets err->status and returns status. */
xattn_status xattn_fail(xattn_error *err, xattn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies msg into out[cap] so that it always ends as msg ends (with the reason): a message too
 * long for cap is shortened in the middle of its longest space-free runs (a path, a name), which
 * become "head…tail"; with no long run, the middle of the message is cut. Never splits a UTF-8
 * character. */
void xattn_message_fit(char *out, size_t cap, const char *msg);

#endif
