#define _GNU_SOURCE /* vasprintf */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026, 3 bytes */
#define KEEP_MIN 24             /* bytes of a shortened name kept around the ellipsis */

static int continuation(unsigned char c) { return (c & 0xc0) == 0x80; }

/* Replaces s[from, to) by "…", moving `from` back and `to` forward off UTF-8 continuation
 * bytes so that no character is split: at most 3 bytes (a character's continuation bytes);
 * longer runs are no characters, and moving further would leave the run being cut (and eat
 * the space before it). Returns the new length of s (n bytes before). */
static size_t cut(char *s, size_t n, size_t from, size_t to) {
    for (int k = 0; k < 3 && from > 0 && continuation((unsigned char)s[from]); k++) from--;
    for (int k = 0; k < 3 && to < n && continuation((unsigned char)s[to]); k++) to++;
    memmove(s + from + 3, s + to, n - to + 1);
    memcpy(s + from, ELLIPSIS, 3);
    return from + 3 + (n - to);
}

void xattn_message_fit(char *out, size_t cap, const char *msg) {
    if (cap == 0) return;
    size_t n = strlen(msg);
    if (n < cap || cap < 64) {
        if (n >= cap) msg += n - (cap - 1); /* a tiny buffer: the end, the reason */
        memcpy(out, msg, n + 1);
        return;
    }
    char *s = malloc(n + 4);
    if (!s) { /* keep the end: the reason */
        snprintf(out, cap, "%s", msg + (n - (cap - 1)));
        return;
    }
    memcpy(s, msg, n + 1);
    /* The space-free runs (paths, names) longer than a shortened one: all of them are cut to
     * the same length L, the largest that makes the message fit. */
    size_t n_runs = 0, *start = malloc((n / 2 + 1) * sizeof *start), *len = malloc((n / 2 + 1) * sizeof *len);
    if (start && len) {
        for (size_t i = 0; i < n;) {
            size_t j = i;
            while (j < n && s[j] != ' ') j++;
            if (j - i > KEEP_MIN + 3) start[n_runs] = i, len[n_runs++] = j - i;
            i = j + 1;
        }
        size_t longest = 0, excess = n - (cap - 1), L = KEEP_MIN + 3;
        for (size_t r = 0; r < n_runs; r++)
            if (len[r] > longest) longest = len[r];
        for (size_t l = longest; l > KEEP_MIN + 3; l--) {
            size_t saved = 0;
            for (size_t r = 0; r < n_runs; r++) saved += len[r] > l ? len[r] - l : 0;
            if (saved >= excess) {
                L = l;
                break;
            }
        }
        for (size_t r = n_runs; r-- > 0;) /* from the end, so that the earlier starts hold */
            if (len[r] > L) {
                size_t head = (L - 3) / 2, tail = L - 3 - head;
                n = cut(s, n, start[r] + head, start[r] + len[r] - tail);
            }
    }
    free(start), free(len);
    if (n >= cap) { /* still too long: cut the middle of the message, keeping more of its end */
        size_t room = cap - 1 - 3 - 8; /* 8: room for moving off continuation bytes */
        size_t head = room / 3;
        n = cut(s, n, head, n - (room - head));
    }
    memcpy(out, s, n + 1);
    free(s);
}

xattn_status xattn_fail(xattn_error *err, xattn_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        char *full = NULL;
        if (vasprintf(&full, fmt, ap) < 0) full = NULL;
        va_end(ap);
        if (full) {
            xattn_message_fit(err->msg, sizeof err->msg, full);
            free(full);
        } else {
            va_start(ap, fmt);
            vsnprintf(err->msg, sizeof err->msg, fmt, ap);
            va_end(ap);
        }
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

void xattn_error_rename(xattn_error *err, const char *temp, const char *final) {
    char *at = strstr(err->msg, temp);
    if (!at) return;
    char *full = NULL;
    if (asprintf(&full, "%.*s%s%s", (int)(at - err->msg), err->msg, final, at + strlen(temp)) < 0)
        return;
    xattn_message_fit(err->msg, sizeof err->msg, full); /* still ends with the reason */
    free(full);
}
