#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>

xattn_status xattn_fail(xattn_error *err, xattn_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

const char *xattn_status_name(xattn_status s) {
    switch (s) {
    case XATTN_OK: return "ok";
    case XATTN_ERR_IO: return "i/o error";
    case XATTN_ERR_FORMAT: return "bad format";
    case XATTN_ERR_UNSUPPORTED: return "unsupported";
    case XATTN_ERR_SHAPE: return "wrong shape";
    case XATTN_ERR_VALUE: return "bad value";
    case XATTN_ERR_NOMEM: return "out of memory";
    case XATTN_ERR_CANCELLED: return "cancelled";
    }
    return "unknown";
}
