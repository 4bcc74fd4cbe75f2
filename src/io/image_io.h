/* image_io.h — PNG output with text chunks (libpng), PNG text-chunk reading, and image input
 * (stb_image) for denoise mode.
 *
 * Pixels are 8-bit interleaved, row-major: pixels[(y * width + x) * channels + c], channels 3
 * (RGB) or 1 (gray). */
#ifndef XATTN_IO_IMAGE_IO_H
#define XATTN_IO_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "xattn.h"

typedef struct png_text_pair {
    const char *key;    /* Latin-1 keyword, 1..79 chars */
    const char *value;  /* UTF-8 text: written as an iTXt chunk */
} png_text_pair;

typedef struct png_write_options {
    int durable; /* fsync before the rename (default 1); 0 for many files synced at once later */
    int fast;    /* zlib level 1, no row filters, 512-byte window: for small flat images, about
                  * as small as the defaults and several times faster (default 0: libpng's) */
} png_write_options;

/* Writes an 8-bit PNG, channels 1 (gray) or 3 (RGB), pixels [height, width, channels], with
 * the text as iTXt chunks, atomically (temporary name beside path, then rename); leaves no file
 * on failure. opt NULL = defaults. (Not png_write_image: libpng owns that name.) */
xattn_status png_write_file(const char *path, const uint8_t *pixels, size_t width, size_t height,
                            int channels, const png_text_pair *text, size_t n_text,
                            const png_write_options *opt, xattn_error *err);

/* png_write_file with channels 3 and default options. */
xattn_status png_write_rgb(const char *path, const uint8_t *rgb, size_t width, size_t height,
                           const png_text_pair *text, size_t n_text, xattn_error *err);

/* Encodes an 8-bit PNG (channels 1 or 3, pixels [height, width, channels], no text) in memory:
 * *png is malloc'd [*png_len]. */
xattn_status png_encode(const uint8_t *pixels, size_t width, size_t height, int channels,
                        uint8_t **png, size_t *png_len, xattn_error *err);

/* Reads a PNG's text chunks (tEXt, zTXt, iTXt; tEXt/zTXt Latin-1 is converted to UTF-8) and
 * size. keys/values are malloc'd arrays of malloc'd strings; free with png_file_info_free.
 * (Not png_info / png_read_info: libpng owns those names, for a type and a function.) */
typedef struct png_file_info {
    size_t width, height;
    int bit_depth, color_type;
    size_t n_text;
    char **keys;
    char **values;
} png_file_info;
xattn_status png_read_file_info(const char *path, png_file_info *out, xattn_error *err);
void png_file_info_free(png_file_info *info);
/* What `xattn info --json` prints for a PNG: {"kind": "png", "path", "width", "height",
 * "text": {key: value, ...}}; print it with json_print_utf8 (util/utf8.h), since a value may hold
 * ill-formed UTF-8 (an iTXt chunk's bytes as they are). NULL if out of memory. */
struct cJSON;
struct cJSON *png_file_info_json(const png_file_info *info, const char *path);


/* Reads any image stb_image reads (PNG, JPEG, BMP, ...) as 8-bit RGB; *rgb is malloc'd. A PNG
 * is read through libpng (its allocations capped, as for png_read_file_info), the rest by stb. */
xattn_status image_read_rgb(const char *path, uint8_t **rgb, size_t *width, size_t *height,
                            xattn_error *err);

/* Converts one image chw [C, H, W] in [-1, 1], C = 3 or 1 (grey: the one plane for R, G and
 * B), to interleaved RGB8 rgb [H, W, 3]: round(clamp(x / 2 + 0.5, 0, 1) * 255), like
 * diffusers' numpy_to_pil. */
void image_to_rgb8(const float *chw, int channels, size_t height, size_t width, uint8_t *rgb);

#endif
