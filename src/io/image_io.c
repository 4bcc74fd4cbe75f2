/* image_io.c — PNG writing (RGB or gray) with text chunks and PNG text reading (libpng), image
 * input (PNG through libpng, other formats through stb_image), and [3, H, W] float -> RGB8 conversion.
 *
 * libpng reports errors by longjmp: every libpng call runs inside a small helper that owns the
 * setjmp, and everything that must survive a longjmp lives behind a pointer the caller owns. */
#define _POSIX_C_SOURCE 200809L
#include <png.h>

#include "xattn_io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/utf8.h"

#define PNG_MAX_SIDE 1000000u /* libpng's default user limit on width and height */
/* One libpng allocation while reading: rows of the widest PNG libpng accepts (1e6 px x 8 bytes)
 * and text up to libpng's 8 MB chunk limit fit. libpng only warns about a longer chunk and then
 * allocates its claimed length (up to 2 GB for a 100-byte file): refused here instead. */
#define PNG_MAX_READ_ALLOC ((size_t)32 << 20)
#define IMAGE_MAX_SIDE 16384  /* input images (denoise mode) */

/* Where libpng's error callback leaves its message; reached through png_get_error_ptr. */
typedef struct png_ctx {
    char msg[160];
    int err_no;   /* errno when the error was raised (an I/O error's cause) */
    uint8_t *row; /* reading: one row of scratch, freed by the caller */
} png_ctx;

/* A decoder's message copied into out[cap] with control bytes as '?' (stb and libpng may quote
 * raw chunk names from the file). */
static const char *printable(const char *msg, char *out, size_t cap) {
    size_t n = 0;
    for (; msg && msg[n] && n + 1 < cap; n++)
        out[n] = ((unsigned char)msg[n] < 0x20 || msg[n] == 0x7f) ? '?' : msg[n];
    out[n] = '\0';
    return out;
}

static void on_png_error(png_structp png, png_const_charp msg) {
    png_ctx *c = png_get_error_ptr(png);
    c->err_no = errno;
    printable(msg, c->msg, sizeof c->msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png; /* the library never prints */
    (void)msg;
}

/* ------------------------------------------------------------------------------------------ */
/* writing                                                                                     */

/* A PNG keyword: 1..79 Latin-1 printable bytes, no leading, trailing or doubled space. */
static int valid_keyword(const char *k) {
    size_t n = strlen(k);
    if (n < 1 || n > 79 || k[0] == ' ' || k[n - 1] == ' ') return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        if (!((c >= 32 && c <= 126) || c >= 161)) return 0;
        if (c == ' ' && k[i + 1] == ' ') return 0;
    }
    return 1;
}

/* A growable in-memory PNG: data[len] of cap bytes. */
typedef struct png_memory {
    uint8_t *data;
    size_t len, cap;
} png_memory;

static void on_png_write_memory(png_structp png, png_bytep bytes, png_size_t n) {
    png_memory *m = png_get_io_ptr(png);
    if (n > SIZE_MAX / 2 - m->len) png_error(png, "PNG too large");
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n) cap *= 2;
        uint8_t *grown = realloc(m->data, cap);
        if (!grown) png_error(png, "out of memory");
        m->data = grown, m->cap = cap;
    }
    memcpy(m->data + m->len, bytes, n);
    m->len += n;
}

static void on_png_flush_memory(png_structp png) {
    (void)png;
}

/* Writes the PNG stream to fp, or into mem when mem is not NULL; returns 0 with ctx->msg set on
 * failure. pixels: [h, w, channels]. */
static int write_png_stream(FILE *fp, png_memory *mem, const uint8_t *pixels, size_t w, size_t h,
                            int channels, png_text *texts, int n_text, int fast, png_ctx *ctx) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, ctx, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(ctx->msg, sizeof ctx->msg, "out of memory");
        return 0;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return 0;
    }
    if (mem)
        png_set_write_fn(png, mem, on_png_write_memory, on_png_flush_memory);
    else
        png_init_io(png, fp);
    if (fast) {
        png_set_compression_level(png, 1);
        png_set_compression_window_bits(png, 9);
        png_set_compression_mem_level(png, 1);
        png_set_filter(png, 0, PNG_FILTER_NONE);
    }
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (n_text > 0) png_set_text(png, info, texts, n_text); /* before IDAT: png_write_info */
    png_write_info(png, info);
    for (size_t y = 0; y < h; y++) png_write_row(png, pixels + y * w * (size_t)channels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 1;
}

xattn_status xattn_png_write(const char *path, const uint8_t *pixels, size_t width, size_t height,
                            int channels, const xattn_text_pair *text, size_t n_text,
                            const xattn_png_options *opt, xattn_error *err) {
    static const xattn_png_options defaults = {.durable = 1, .fast = 0};
    if (!opt) opt = &defaults;
    if (channels != 1 && channels != 3)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: %d channels (must be 1 or 3)", path, channels);
    if (width == 0 || height == 0 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: image size %zux%zu is out of range", path, width,
                          height);
    if (n_text > 1000)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: too many text chunks (%zu)", path, n_text);
    for (size_t i = 0; i < n_text; i++)
        if (!text[i].key || !text[i].value || !valid_keyword(text[i].key))
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: text chunk %zu has an invalid keyword", path, i);
    png_text *texts = NULL; /* [n_text] */
    if (n_text > 0 && !(texts = calloc(n_text, sizeof *texts)))
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    /* iTXt: UTF-8, uncompressed; a value holding ill-formed UTF-8 (a prompt's text from a file)
     * is written with U+FFFD for it, as every text writer does (util/utf8.h) */
    char **values = n_text > 0 ? calloc(n_text, sizeof *values) : NULL; /* [n_text] */
    int nomem = n_text > 0 && !values;
    for (size_t i = 0; !nomem && i < n_text; i++) {
        texts[i].compression = PNG_ITXT_COMPRESSION_NONE;
        texts[i].key = (png_charp)text[i].key;
        texts[i].text = values[i] = utf8_valid_dup(text[i].value);
        nomem = !values[i];
    }
    atomic_file af;
    xattn_status s = nomem ? xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path)
                           : atomic_file_open(&af, path, err);
    if (s != XATTN_OK) {
        for (size_t i = 0; values && i < n_text; i++) free(values[i]);
        free(values);
        free(texts);
        return s;
    }
    af.durable = opt->durable;
    png_ctx ctx = {0};
    errno = 0;
    int ok = write_png_stream(af.fp, NULL, pixels, width, height, channels, texts, (int)n_text, opt->fast,
                              &ctx);
    for (size_t i = 0; values && i < n_text; i++) free(values[i]);
    free(values);
    free(texts);
    if (!ok) {
        atomic_file_abort(&af);
        if (ctx.err_no)
            return xattn_fail(err, XATTN_ERR_IO, "%s: cannot write: %s", path, strerror(ctx.err_no));
        return xattn_fail(err, XATTN_ERR_IO, "%s: cannot write: %s", path, ctx.msg);
    }
    return atomic_file_commit(&af, err);
}

xattn_status xattn_png_encode(const uint8_t *pixels, size_t width, size_t height, int channels,
                        uint8_t **png, size_t *png_len, xattn_error *err) {
    *png = NULL, *png_len = 0;
    if (channels != 1 && channels != 3)
        return xattn_fail(err, XATTN_ERR_VALUE, "PNG: %d channels (must be 1 or 3)", channels);
    if (width == 0 || height == 0 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE)
        return xattn_fail(err, XATTN_ERR_VALUE, "PNG: image size %zux%zu is out of range", width,
                          height);
    png_memory mem = {0};
    png_ctx ctx = {0};
    if (!write_png_stream(NULL, &mem, pixels, width, height, channels, NULL, 0, 0, &ctx)) {
        free(mem.data);
        return xattn_fail(err, strcmp(ctx.msg, "out of memory") == 0 ? XATTN_ERR_NOMEM
                                                                     : XATTN_ERR_VALUE,
                          "PNG: cannot encode: %s", ctx.msg);
    }
    *png = mem.data, *png_len = mem.len;
    return XATTN_OK;
}

xattn_status xattn_png_write_rgb(const char *path, const uint8_t *rgb, size_t width, size_t height,
                           const xattn_text_pair *text, size_t n_text, xattn_error *err) {
    return xattn_png_write(path, rgb, width, height, 3, text, n_text, NULL, err);
}

/* ------------------------------------------------------------------------------------------ */
/* reading text chunks                                                                         */

static png_voidp on_png_read_malloc(png_structp png, png_alloc_size_t n) {
    (void)png;
    return n <= PNG_MAX_READ_ALLOC ? malloc(n) : NULL; /* NULL: libpng's own error path */
}

static void on_png_read_free(png_structp png, png_voidp p) {
    (void)png;
    free(p);
}

/* libpng's read callback: as png_init_io's, but a short file says so ("Read Error" did not). */
static void on_png_read(png_structp png, png_bytep data, png_size_t n) {
    FILE *fp = png_get_io_ptr(png);
    if (fread(data, 1, n, fp) != n)
        png_error(png, feof(fp) ? "the file ends early (truncated)" : "read error");
}

/* Latin-1 bytes -> a malloc'd UTF-8 string. */
static char *latin1_to_utf8(const char *s) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) n += *p >= 0x80 ? 2 : 1;
    char *out = malloc(n + 1);
    if (!out) return NULL;
    char *q = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x80) {
            *q++ = (char)(0xc0 | (*p >> 6));
            *q++ = (char)(0x80 | (*p & 0x3f));
        } else {
            *q++ = (char)*p;
        }
    }
    *q = '\0';
    return out;
}

/* Reads the whole PNG (rows into one scratch row) so text after IDAT is seen too, and copies
 * the text into out. Returns 0 with ctx->msg set on a libpng error; -1 if out of memory. */
static int read_png_stream(FILE *fp, xattn_png_info *out, png_ctx *ctx) {
    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, ctx, on_png_error, on_png_warning,
                                               NULL, on_png_read_malloc, on_png_read_free);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return 0;
    }
    png_set_read_fn(png, fp, on_png_read);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    out->width = png_get_image_width(png, info);
    out->height = png_get_image_height(png, info);
    out->bit_depth = png_get_bit_depth(png, info);
    out->color_type = png_get_color_type(png, info);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    ctx->row = malloc(png_get_rowbytes(png, info)); /* [rowbytes] scratch, contents unused */
    if (!ctx->row) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    for (int pass = 0; pass < passes; pass++)
        for (size_t y = 0; y < out->height; y++) png_read_row(png, ctx->row, NULL);
    png_read_end(png, info); /* text chunks after IDAT join the same info */
    png_textp text;
    int n = 0;
    png_get_text(png, info, &text, &n);
    int ok = 1;
    if (n > 0) {
        out->keys = calloc((size_t)n, sizeof *out->keys);
        out->values = calloc((size_t)n, sizeof *out->values);
        ok = out->keys && out->values;
        for (int i = 0; ok && i < n; i++) {
            int utf8 = text[i].compression == PNG_ITXT_COMPRESSION_NONE ||
                       text[i].compression == PNG_ITXT_COMPRESSION_zTXt;
            out->keys[i] = latin1_to_utf8(text[i].key);
            out->values[i] = utf8 ? strdup(text[i].text ? text[i].text : "")
                                  : latin1_to_utf8(text[i].text ? text[i].text : "");
            out->n_text = (size_t)i + 1;
            ok = out->keys[i] && out->values[i];
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    return ok ? 1 : -1;
}

xattn_status xattn_png_read_info(const char *path, xattn_png_info *out, xattn_error *err) {
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return xattn_fail(err, XATTN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t sig[8];
    if (fread(sig, 1, 8, fp) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(fp);
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: not a PNG file", path);
    }
    png_ctx ctx = {0};
    int r = read_png_stream(fp, out, &ctx);
    free(ctx.row);
    fclose(fp);
    if (r == 1) return XATTN_OK;
    xattn_png_info_free(out);
    if (r < 0) return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    return xattn_fail(err, XATTN_ERR_FORMAT, "%s: corrupt PNG: %s", path, ctx.msg);
}

cJSON *xattn_png_info_json(const xattn_png_info *info, const char *path) {
    cJSON *o = cJSON_CreateObject(), *text = NULL;
    int ok = o && cJSON_AddStringToObject(o, "kind", "png") &&
             cJSON_AddStringToObject(o, "path", path) &&
             cJSON_AddNumberToObject(o, "width", (double)info->width) &&
             cJSON_AddNumberToObject(o, "height", (double)info->height) &&
             (text = cJSON_AddObjectToObject(o, "text")) != NULL;
    for (size_t i = 0; ok && i < info->n_text; i++)
        ok = cJSON_AddStringToObject(text, info->keys[i], info->values[i]) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

void xattn_png_info_free(xattn_png_info *info) {
    if (!info) return;
    for (size_t i = 0; i < info->n_text; i++) {
        free(info->keys[i]);
        free(info->values[i]);
    }
    free(info->keys);
    free(info->values);
    memset(info, 0, sizeof *info);
}

/* ------------------------------------------------------------------------------------------ */
/* input images and float conversion                                                           */

/* A PNG as 8-bit RGB through libpng, whose allocations are capped (on_png_read_malloc): libpng
 * inflates row by row, so a PNG asks for its rows and little more. stb_image's inflate grows its
 * buffer by doubling, up to 2 GB for a 344-byte 16x16 PNG whose zlib stream claims more data
 * (tests/fuzz/crashes/image/). As stb: 16-bit samples keep their high byte, alpha is dropped,
 * palette and gray are expanded, no gamma is applied. Returns 1, 0 with ctx->msg set on a
 * libpng error, -1 if out of memory, -2 when the size is outside 1..IMAGE_MAX_SIDE
 * (*width, *height set). */
static int read_png_rgb(FILE *fp, uint8_t **rgb, size_t *width, size_t *height, png_ctx *ctx) {
    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, ctx, on_png_error, on_png_warning,
                                               NULL, on_png_read_malloc, on_png_read_free);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return -1;
    }
    /* rgb and rows live in ctx-owned storage across the longjmp: *rgb is the caller's */
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        free(*rgb);
        *rgb = NULL;
        return 0;
    }
    png_set_read_fn(png, fp, on_png_read);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    size_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    *width = w, *height = h;
    if (w < 1 || h < 1 || w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE) {
        png_destroy_read_struct(&png, &info, NULL);
        return -2;
    }
    png_set_expand(png);     /* palette -> RGB, gray < 8 bits -> 8 bits, tRNS -> alpha */
    png_set_strip_16(png);   /* the high byte, as stb */
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != w * 3 || png_get_channels(png, info) != 3)
        png_error(png, "unexpected row layout");
    *rgb = malloc(w * h * 3); /* [h, w, 3] */
    rows = malloc(h * sizeof *rows);
    if (!*rgb || !rows) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        free(*rgb);
        *rgb = NULL;
        return -1;
    }
    for (size_t y = 0; y < h; y++) rows[y] = *rgb + y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    return 1;
}

xattn_status xattn_image_read_rgb(const char *path, uint8_t **rgb, size_t *width, size_t *height,
                            xattn_error *err) {
    *rgb = NULL;
    *width = *height = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return xattn_fail(err, XATTN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t sig[8];
    if (fread(sig, 1, 8, fp) == 8 && png_sig_cmp(sig, 0, 8) == 0) { /* PNG: libpng */
        png_ctx ctx = {0};
        size_t w = 0, h = 0;
        uint8_t *pixels = NULL;
        int r = read_png_rgb(fp, &pixels, &w, &h, &ctx);
        fclose(fp);
        if (r == -2)
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: image size %zux%zu is outside 1..%d", path,
                              w, h, IMAGE_MAX_SIDE);
        if (r < 0) return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
        if (r == 0) return xattn_fail(err, XATTN_ERR_FORMAT, "%s: cannot read image: corrupt PNG: %s", path, ctx.msg);
        *rgb = pixels;
        *width = w;
        *height = h;
        return XATTN_OK;
    }
    rewind(fp); /* anything else: stb_image */
    int w, h, n;
    char why[96];
    if (!stbi_info_from_file(fp, &w, &h, &n)) {
        fclose(fp);
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: cannot read image: %s", path,
                          printable(stbi_failure_reason(), why, sizeof why));
    }
    if (w <= 0 || h <= 0 || w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE) {
        fclose(fp);
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: image size %dx%d is outside 1..%d", path, w, h,
                          IMAGE_MAX_SIDE);
    }
    uint8_t *pixels = stbi_load_from_file(fp, &w, &h, &n, 3); /* [h, w, 3]; stb allocates with malloc */
    fclose(fp);
    if (!pixels)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: cannot read image: %s", path,
                          printable(stbi_failure_reason(), why, sizeof why));
    *rgb = pixels;
    *width = (size_t)w;
    *height = (size_t)h;
    return XATTN_OK;
}

/* rgb[(y * W + x) * 3 + c] = round_half_even(clamp(chw[c', y, x] * 0.5 + 0.5, 0, 1) * 255) with
 * c' = c (3 channels) or 0 (1 channel), in float32 like diffusers (denormalize, then
 * numpy_to_pil's (x * 255).round()); NaN -> 0. */
void xattn_image_to_rgb8(const float *chw, int channels, size_t height, size_t width, uint8_t *rgb) {
    size_t plane = height * width;
    for (size_t c = 0; c < 3; c++) {
        const float *src = chw + (channels == 1 ? 0 : c) * plane; /* [H, W] */
        for (size_t i = 0; i < plane; i++) {
            float v = src[i] * 0.5f + 0.5f;
            if (!(v > 0.0f)) v = 0.0f;
            else if (v > 1.0f) v = 1.0f;
            rgb[i * 3 + c] = (uint8_t)nearbyintf(v * 255.0f);
        }
    }
}

xattn_status xattn_image_read_sample(const char *path, int channels, size_t size, float *init,
                                     xattn_error *err) {
    uint8_t *rgb = NULL, *resized = NULL; /* [h, w, 3], [size, size, 3] */
    size_t w, h;
    xattn_status st = xattn_image_read_rgb(path, &rgb, &w, &h, err);
    if (st != XATTN_OK) return st;
    const uint8_t *px = rgb;
    if (w != size || h != size) {
        resized = malloc(size * size * 3);
        if (!resized || w > (size_t)INT32_MAX / 4 || h > (size_t)INT32_MAX / 4 ||
            !stbir_resize_uint8(rgb, (int)w, (int)h, 0, resized, (int)size, (int)size, 0, 3)) {
            free(resized);
            free(rgb);
            return xattn_fail(err, XATTN_ERR_NOMEM, "%s: cannot resize %zux%zu to %zux%zu", path,
                              w, h, size, size);
        }
        px = resized;
    }
    size_t plane = size * size;
    for (size_t k = 0; k < plane; k++) {
        if (channels == 1) {
            float mean = ((float)px[k * 3] + (float)px[k * 3 + 1] + (float)px[k * 3 + 2]) / 3.0f;
            init[k] = mean / 127.5f - 1.0f;
        } else {
            for (size_t c = 0; c < 3; c++) init[c * plane + k] = (float)px[k * 3 + c] / 127.5f - 1.0f;
        }
    }
    free(resized);
    free(rgb);
    return XATTN_OK;
}
