/* image_write.h — the one writer of output images: the format is chosen by the file name's
 * extension (case-insensitive) or given explicitly.
 *
 *   .png           libpng (png_write_file), the text as iTXt chunks
 *   .jpg, .jpeg    stb_image_write, baseline JPEG at a quality 1..100
 *   .bmp           stb_image_write, 24-bit BMP
 *   .tga           stb_image_write, TGA (RLE-compressed, as stb_image_write does by default)
 *
 * JPEG, BMP and TGA hold no text: the text goes into a sidecar "PATH.json" (out.jpg ->
 * out.jpg.json), one JSON object {key: value, ...} in the text's order, written compact on one
 * line (valid UTF-8: bytes that are not are replaced by U+FFFD). The image and its sidecar are
 * each written under a temporary name beside the final one; both are complete before either is
 * renamed into place. */
#ifndef XATTN_IO_IMAGE_WRITE_H
#define XATTN_IO_IMAGE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "io/image_io.h"
#include "xattn.h"

typedef enum image_format {
    IMAGE_FORMAT_UNKNOWN = 0,
    IMAGE_FORMAT_PNG,
    IMAGE_FORMAT_JPEG,
    IMAGE_FORMAT_BMP,
    IMAGE_FORMAT_TGA,
} image_format;

/* For messages: the extensions image_format_from_path knows. */
#define IMAGE_FORMAT_EXTENSIONS ".png, .jpg, .jpeg, .bmp or .tga"
#define IMAGE_JPEG_QUALITY_DEFAULT 90

typedef struct image_write_options {
    image_format format; /* IMAGE_FORMAT_UNKNOWN: from the path's extension */
    int quality;         /* JPEG quality, 1..100 */
    int durable;         /* fsync before the rename (as png_write_options) */
    int fast;            /* PNG only: png_write_options.fast */
} image_write_options;

/* Defaults: format from the path, quality 90, durable, libpng's default compression. */
void image_write_options_init(image_write_options *opt);

/* The format of a file name's extension (the part after the last '.' of its last component),
 * case-insensitive; IMAGE_FORMAT_UNKNOWN when there is none or it is not one of the above. */
image_format image_format_from_path(const char *path);
/* The format called `name`: "png", "jpg", "jpeg", "bmp" or "tga", case-insensitive. */
image_format image_format_from_name(const char *name);
/* "png", "jpg", "bmp", "tga" (the extension written for the format, without the dot); "" for
 * IMAGE_FORMAT_UNKNOWN. */
const char *image_format_extension(image_format f);
/* 1 when the format carries the text itself (PNG), 0 when it takes a sidecar. */
int image_format_has_text(image_format f);

/* "PATH.json", malloc'd; NULL if out of memory. */
char *image_sidecar_path(const char *path);

/* Writes pixels [height, width, channels] (8-bit, channels 1 = gray or 3 = RGB) to path in
 * opt's format (or the path's), with the text in the file (PNG) or in the sidecar PATH.json
 * (the others; written even when n_text is 0, so that a file's sidecar is never a stale one).
 * Atomic: leaves no file and no temporary on failure. opt NULL = defaults. Errors name path:
 * an unknown extension is XATTN_ERR_VALUE. */
xattn_status image_write_file(const char *path, const uint8_t *pixels, size_t width, size_t height,
                              int channels, const png_text_pair *text, size_t n_text,
                              const image_write_options *opt, xattn_error *err);

#endif
