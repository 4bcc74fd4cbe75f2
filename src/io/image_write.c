/* image_write.c — xattn_image_write: PNG through xattn_png_write (image_io.c), JPEG, BMP and TGA
 * through stb_image_write's callback writers into an atomic_file, with their text in a JSON
 * sidecar. See image_write.h. */
#define _POSIX_C_SOURCE 200809L
#include "xattn_io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <stb/stb_image_write.h>

#include "util/atomic_file.h"
#include "util/atomic_set.h"
#include "util/error.h"

#define STB_MAX_SIDE 65535u /* JPEG and TGA store each side in 16 bits */

void xattn_image_options_init(xattn_image_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->format = XATTN_IMAGE_FORMAT_UNKNOWN;
    opt->quality = XATTN_JPEG_QUALITY_DEFAULT;
    opt->durable = 1;
    opt->fast = 0;
}

xattn_image_format xattn_image_format_from_name(const char *name) {
    static const struct {
        const char *name;
        xattn_image_format format;
    } names[] = {{"png", XATTN_IMAGE_FORMAT_PNG}, {"jpg", XATTN_IMAGE_FORMAT_JPEG}, {"jpeg", XATTN_IMAGE_FORMAT_JPEG},
                 {"bmp", XATTN_IMAGE_FORMAT_BMP}, {"tga", XATTN_IMAGE_FORMAT_TGA}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0) return names[i].format;
    return XATTN_IMAGE_FORMAT_UNKNOWN;
}

xattn_image_format xattn_image_format_from_path(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot ? xattn_image_format_from_name(dot + 1) : XATTN_IMAGE_FORMAT_UNKNOWN;
}

const char *xattn_image_format_extension(xattn_image_format f) {
    switch (f) {
    case XATTN_IMAGE_FORMAT_PNG: return "png";
    case XATTN_IMAGE_FORMAT_JPEG: return "jpg";
    case XATTN_IMAGE_FORMAT_BMP: return "bmp";
    case XATTN_IMAGE_FORMAT_TGA: return "tga";
    default: return "";
    }
}

int xattn_image_format_has_text(xattn_image_format f) {
    return f == XATTN_IMAGE_FORMAT_PNG;
}

char *xattn_image_sidecar_path(const char *path) {
    size_t n = strlen(path);
    char *s = malloc(n + 6);
    if (s) {
        memcpy(s, path, n);
        memcpy(s + n, ".json", 6);
    }
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* the sidecar                                                                                 */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when the bytes there are not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_sequence(const unsigned char *p) {
    if (p[0] < 0x80) return 1;
    size_t n;
    unsigned cp;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) n = 2, cp = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef) n = 3, cp = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4) n = 4, cp = p[0] & 0x07u;
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0; /* also stops at the terminating NUL */
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* A malloc'd copy of s with every byte that does not start a valid UTF-8 sequence replaced by
 * U+FFFD; NULL if out of memory. */
static char *valid_utf8(const char *s) {
    size_t len = strlen(s);
    if (len > (SIZE_MAX - 1) / 3) return NULL;
    char *out = malloc(len * 3 + 1), *q = out;
    if (!out) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_sequence(p);
        if (n) {
            memcpy(q, p, n);
            q += n, p += n;
        } else {
            memcpy(q, "\xef\xbf\xbd", 3);
            q += 3, p++;
        }
    }
    *q = '\0';
    return out;
}

/* The text as one compact JSON object plus a newline, malloc'd; NULL if out of memory. */
static char *sidecar_json(const xattn_text_pair *text, size_t n_text) {
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    for (size_t i = 0; ok && i < n_text; i++) {
        char *key = valid_utf8(text[i].key), *value = valid_utf8(text[i].value);
        cJSON *item = value ? cJSON_CreateString(value) : NULL;
        ok = key && item && cJSON_AddItemToObject(o, key, item);
        if (!ok) cJSON_Delete(item);
        free(key), free(value);
    }
    char *compact = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!compact) return NULL;
    size_t n = strlen(compact);
    char *line = malloc(n + 2);
    if (line) {
        memcpy(line, compact, n);
        memcpy(line + n, "\n", 2);
    }
    cJSON_free(compact);
    return line;
}

/* ------------------------------------------------------------------------------------------ */
/* stb_image_write into a FILE*                                                                */

typedef struct stb_sink {
    FILE *fp;
    int err_no; /* the first failed write's errno (EIO if it left none); 0 while all is well */
} stb_sink;

static void on_stb_write(void *context, void *data, int size) {
    stb_sink *s = context;
    if (s->err_no || size <= 0) return;
    errno = 0;
    if (fwrite(data, 1, (size_t)size, s->fp) != (size_t)size) s->err_no = errno ? errno : EIO;
}

/* Flushes, and with durable fsyncs, fp: 0, or the errno of the failure. */
static int flush_file(FILE *fp, int durable) {
    errno = 0;
    if (fflush(fp) != 0 || ferror(fp)) return errno ? errno : EIO;
    if (durable && fsync(fileno(fp)) != 0) return errno ? errno : EIO;
    return 0;
}

/* The image into its temporary (af): 0, or an errno; *stb_failed = 1 when stb refused. */
static int write_stb(atomic_file *af, xattn_image_format f, const uint8_t *pixels, size_t width,
                     size_t height, int channels, int quality, int *stb_failed) {
    stb_sink sink = {af->fp, 0};
    int w = (int)width, h = (int)height, ok = 0;
    switch (f) {
    case XATTN_IMAGE_FORMAT_JPEG:
        ok = stbi_write_jpg_to_func(on_stb_write, &sink, w, h, channels, pixels, quality);
        break;
    case XATTN_IMAGE_FORMAT_BMP:
        ok = stbi_write_bmp_to_func(on_stb_write, &sink, w, h, channels, pixels);
        break;
    case XATTN_IMAGE_FORMAT_TGA:
        ok = stbi_write_tga_to_func(on_stb_write, &sink, w, h, channels, pixels);
        break;
    default: break;
    }
    *stb_failed = !ok;
    if (sink.err_no) return sink.err_no;
    return ok ? flush_file(af->fp, af->durable) : 0;
}

static xattn_status write_with_sidecar(const char *path, xattn_image_format f, const uint8_t *pixels,
                                       size_t width, size_t height, int channels,
                                       const xattn_text_pair *text, size_t n_text,
                                       const xattn_image_options *opt, xattn_error *err) {
    char *json = sidecar_json(text, n_text);
    char *side_path = xattn_image_sidecar_path(path);
    atomic_file image = {0}, side = {0};
    xattn_status st = XATTN_OK;
    int stb_failed = 0, e = 0;
    if (!json || !side_path) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((st = atomic_file_open(&image, path, err)) != XATTN_OK) goto done;
    image.durable = opt->durable;
    e = write_stb(&image, f, pixels, width, height, channels, opt->quality, &stb_failed);
    if (e) {
        st = xattn_fail(err, XATTN_ERR_IO, "%s: cannot write: %s", path, strerror(e));
        goto done;
    }
    if (stb_failed) {
        st = xattn_fail(err, XATTN_ERR_VALUE, "%s: the %s encoder refused the image", path,
                        xattn_image_format_extension(f));
        goto done;
    }
    if ((st = atomic_file_open(&side, side_path, err)) != XATTN_OK) goto done;
    side.durable = opt->durable;
    errno = 0;
    if (fputs(json, side.fp) == EOF) e = errno ? errno : EIO;
    if (!e) e = flush_file(side.fp, side.durable);
    if (e) {
        st = xattn_fail(err, XATTN_ERR_IO, "%s: cannot write: %s", side_path, strerror(e));
        goto done;
    }
    /* both files are complete and synced: only the renames are left */
    image.durable = side.durable = 0;
    if ((st = atomic_file_commit(&image, err)) != XATTN_OK) goto done;
    if ((st = atomic_file_commit(&side, err)) != XATTN_OK) remove(path); /* no image without its sidecar */
done:
    atomic_file_abort(&image); /* after a commit: nothing left to do */
    atomic_file_abort(&side);
    free(json);
    free(side_path);
    return st;
}

/* ------------------------------------------------------------------------------------------ */

xattn_status xattn_image_write(const char *path, const uint8_t *pixels, size_t width, size_t height,
                              int channels, const xattn_text_pair *text, size_t n_text,
                              const xattn_image_options *opt, xattn_error *err) {
    xattn_image_options defaults;
    if (!opt) {
        xattn_image_options_init(&defaults);
        opt = &defaults;
    }
    xattn_image_format f = opt->format != XATTN_IMAGE_FORMAT_UNKNOWN ? opt->format : xattn_image_format_from_path(path);
    if (f == XATTN_IMAGE_FORMAT_UNKNOWN)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: unknown image format (the name must end in %s)",
                          path, XATTN_IMAGE_FORMAT_EXTENSIONS);
    if (f == XATTN_IMAGE_FORMAT_PNG) {
        xattn_png_options po = {.durable = opt->durable, .fast = opt->fast};
        return xattn_png_write(path, pixels, width, height, channels, text, n_text, &po, err);
    }
    if (channels != 1 && channels != 3)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: %d channels (must be 1 or 3)", path, channels);
    if (width == 0 || height == 0 || width > STB_MAX_SIDE || height > STB_MAX_SIDE ||
        width * height > (size_t)INT_MAX / 4)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: image size %zux%zu is out of range", path, width,
                          height);
    if (f == XATTN_IMAGE_FORMAT_JPEG && (opt->quality < 1 || opt->quality > 100))
        return xattn_fail(err, XATTN_ERR_VALUE, "quality: %d is out of range 1..100", opt->quality);
    for (size_t i = 0; i < n_text; i++)
        if (!text[i].key || !text[i].value || !text[i].key[0] || strlen(text[i].key) > 79)
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: text %zu has an invalid key", path, i);
    return write_with_sidecar(path, f, pixels, width, height, channels, text, n_text, opt, err);
}

/* ------------------------------------------------------------------------------------------ */
/* A batch: all images or none (util/atomic_set.h)                                           */

xattn_status xattn_images_write(const char *const *paths, size_t n, const uint8_t *pixels,
                                size_t width, size_t height, int channels,
                                const xattn_text_pair *const *texts, const size_t *n_texts,
                                const xattn_image_options *opt, xattn_error *err) {
    if (n == 1)
        return xattn_image_write(paths[0], pixels, width, height, channels, texts[0], n_texts[0],
                                 opt, err);
    size_t bytes = width * height * (size_t)channels; /* one image [H, W, C] */
    atomic_set set;
    atomic_set_init(&set);
    xattn_status st = XATTN_OK;
    char *side_final = NULL, *side_temp = NULL;
    for (size_t k = 0; k < n && st == XATTN_OK; k++) {
        const char *temp;
        xattn_image_format f = opt && opt->format ? opt->format
                                                  : xattn_image_format_from_path(paths[k]);
        if ((st = atomic_set_add(&set, paths[k], NULL, &temp, err)) != XATTN_OK) break;
        if (!xattn_image_format_has_text(f)) { /* its sidecar: temp.json -> paths[k].json */
            side_final = xattn_image_sidecar_path(paths[k]);
            side_temp = xattn_image_sidecar_path(temp);
            const char *t2;
            st = side_final && side_temp
                     ? atomic_set_add(&set, side_final, side_temp, &t2, err)
                     : xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", paths[k]);
            free(side_final), free(side_temp);
            side_final = side_temp = NULL;
            if (st != XATTN_OK) break;
        }
        st = xattn_image_write(temp, pixels + k * bytes, width, height, channels, texts[k],
                               n_texts[k], opt, err);
        if (st != XATTN_OK) {
            xattn_error_rename(err, temp, paths[k]);
            break;
        }
    }
    if (st == XATTN_OK) st = atomic_set_commit(&set, err);
    atomic_set_abort(&set);
    return st;
}
