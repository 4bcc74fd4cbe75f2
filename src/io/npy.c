/* npy.c — a checked reader for 2-D float .npy files.
 *
 * Layout: "\x93NUMPY", major, minor, header length (u16 LE for 1.x, u32 LE for 2.x/3.x), then a
 * Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (R, C), } padded with
 * spaces and '\n', then R * C items, C-order, little-endian. */
#define _POSIX_C_SOURCE 200809L
#include "io/npy.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xattn_io.h" /* xattn_st_f16_to_f32 */
#include "util/error.h"

#define NPY_MAX_HEADER (1u << 20) /* numpy itself refuses headers over 10 kB by default */
#define NPY_MAX_DIM ((size_t)1 << 62)

/* Control bytes in s become '?', so a hostile header cannot break the one-line message. */
static const char *printable(char *s) {
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* the header dict                                                                             */

typedef struct npy_header {
    char descr[16];
    int fortran_order; /* -1 until seen */
    int ndim;          /* -1 until seen */
    size_t shape[2];
} npy_header;

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int eat(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes into out[cap]. */
static int parse_string(cursor *c, char *out, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    out[n] = '\0';
    return 1;
}

static int parse_word(cursor *c, const char *w) {
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return 0;
    c->p += n;
    return 1;
}

/* (d0, d1, ...) with an optional trailing comma; fills up to 2 dims, counts all. */
static int parse_shape(cursor *c, npy_header *h) {
    if (!eat(c, '(')) return 0;
    h->ndim = 0;
    for (;;) {
        skip_ws(c);
        if (eat(c, ')')) return 1;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return 0;
        size_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > NPY_MAX_DIM / 10) return 0;
            v = v * 10 + (size_t)(*c->p++ - '0');
        }
        if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 long */
        if (h->ndim < 2) h->shape[h->ndim] = v;
        if (h->ndim < 64) h->ndim++;
        if (!eat(c, ',')) return eat(c, ')');
    }
}

static xattn_status parse_header(const char *path, const char *text, size_t len, npy_header *h,
                                 xattn_error *err) {
    cursor c = {text, text + len};
    h->descr[0] = '\0';
    h->fortran_order = -1;
    h->ndim = -1;
    if (!eat(&c, '{')) goto bad;
    while (!eat(&c, '}')) {
        char key[32];
        if (!parse_string(&c, key, sizeof key) || !eat(&c, ':')) goto bad;
        if (strcmp(key, "descr") == 0) {
            if (!parse_string(&c, h->descr, sizeof h->descr))
                return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                                  "%s: unsupported dtype (a structured array?), expected '<f4', '<f2' or '<f8'",
                                  path);
        } else if (strcmp(key, "fortran_order") == 0) {
            if (parse_word(&c, "False")) h->fortran_order = 0;
            else if (parse_word(&c, "True")) h->fortran_order = 1;
            else goto bad;
        } else if (strcmp(key, "shape") == 0) {
            if (!parse_shape(&c, h)) goto bad;
        } else {
            return xattn_fail(err, XATTN_ERR_FORMAT, "%s: unexpected key '%s' in the .npy header", path,
                              printable(key));
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}')) goto bad;
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) goto bad;
    if (!h->descr[0] || h->fortran_order < 0 || h->ndim < 0)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: .npy header lacks descr, fortran_order or shape", path);
    return XATTN_OK;
bad:
    return xattn_fail(err, XATTN_ERR_FORMAT, "%s: malformed .npy header near byte %zu", path,
                      (size_t)(c.p - text));
}

/* ------------------------------------------------------------------------------------------ */

static float decode(const uint8_t *p, size_t itemsize) {
    if (itemsize == 2) return xattn_st_f16_to_f32((uint16_t)(p[0] | (p[1] << 8)));
    uint64_t u = 0;
    for (size_t b = 0; b < itemsize; b++) u |= (uint64_t)p[b] << (8 * b);
    if (itemsize == 4) {
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, sizeof f);
        return f;
    }
    double d;
    memcpy(&d, &u, sizeof d);
    return (float)d;
}

xattn_status npy_read_f32(const char *path, float **data, size_t *rows, size_t *cols, xattn_error *err) {
    *data = NULL;
    *rows = *cols = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return xattn_fail(err, XATTN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    xattn_status s = XATTN_OK;
    char *text = NULL;
    float *out = NULL;
    struct stat sb;
    uint8_t pre[12];
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        s = xattn_fail(err, XATTN_ERR_IO, "%s: not a regular file", path);
        goto done;
    }
    size_t file_size = (size_t)sb.st_size;
    if (file_size < 10 || fread(pre, 1, 10, fp) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        s = xattn_fail(err, XATTN_ERR_FORMAT, "%s: not a .npy file (bad magic or too short)", path);
        goto done;
    }
    int major = pre[6];
    size_t header_len, prefix;
    if (major == 1) {
        header_len = (size_t)pre[8] | ((size_t)pre[9] << 8);
        prefix = 10;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 10, 1, 2, fp) != 2) {
            s = xattn_fail(err, XATTN_ERR_FORMAT, "%s: truncated .npy header", path);
            goto done;
        }
        header_len = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) |
                     ((size_t)pre[11] << 24);
        prefix = 12;
    } else {
        s = xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: .npy format version %d.%d is not supported",
                       path, major, pre[7]);
        goto done;
    }
    if (header_len > NPY_MAX_HEADER || header_len > file_size - prefix) {
        s = xattn_fail(err, XATTN_ERR_FORMAT, "%s: .npy header length %zu is impossible for a file of "
                       "%zu bytes", path, header_len, file_size);
        goto done;
    }
    text = malloc(header_len + 1);
    if (!text) {
        s = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (fread(text, 1, header_len, fp) != header_len) {
        s = xattn_fail(err, XATTN_ERR_IO, "%s: cannot read the .npy header", path);
        goto done;
    }
    text[header_len] = '\0';
    npy_header h;
    if ((s = parse_header(path, text, header_len, &h, err)) != XATTN_OK) goto done;

    size_t itemsize = strcmp(h.descr, "<f4") == 0 ? 4 : strcmp(h.descr, "<f2") == 0 ? 2
                      : strcmp(h.descr, "<f8") == 0 ? 8 : 0;
    if (!itemsize) {
        s = xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: unsupported dtype '%s', expected '<f4', '<f2' or '<f8'",
                       path, printable(h.descr));
        goto done;
    }
    if (h.fortran_order) {
        s = xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: Fortran-order arrays are not supported", path);
        goto done;
    }
    if (h.ndim != 2) {
        s = xattn_fail(err, XATTN_ERR_SHAPE, "%s: array has %d dimensions, expected 2 ([T, D])", path, h.ndim);
        goto done;
    }
    size_t numel, nbytes;
    if (__builtin_mul_overflow(h.shape[0], h.shape[1], &numel) ||
        __builtin_mul_overflow(numel, itemsize, &nbytes)) {
        s = xattn_fail(err, XATTN_ERR_FORMAT, "%s: shape (%zu, %zu) overflows", path, h.shape[0], h.shape[1]);
        goto done;
    }
    size_t avail = file_size - prefix - header_len;
    if (nbytes != avail) {
        s = xattn_fail(err, XATTN_ERR_FORMAT, "%s: shape (%zu, %zu) needs %zu data bytes but the file has %zu%s",
                       path, h.shape[0], h.shape[1], nbytes, avail, nbytes > avail ? " (truncated)" : "");
        goto done;
    }
    out = malloc((numel ? numel : 1) * sizeof *out); /* [rows, cols] */
    if (!out) {
        s = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory for %zu floats", path, numel);
        goto done;
    }
    uint8_t buf[65536]; /* staging for raw items */
    size_t per = sizeof buf / itemsize;
    for (size_t i = 0; i < numel;) {
        size_t m = numel - i < per ? numel - i : per;
        if (fread(buf, itemsize, m, fp) != m) {
            s = xattn_fail(err, XATTN_ERR_IO, "%s: cannot read the array data", path);
            goto done;
        }
        for (size_t k = 0; k < m; k++) out[i + k] = decode(buf + k * itemsize, itemsize);
        i += m;
    }
    *data = out;
    out = NULL;
    *rows = h.shape[0];
    *cols = h.shape[1];
done:
    free(out);
    free(text);
    fclose(fp);
    return s;
}
