/* output_format.h — the output image's format, shared by `generate` and `denoise`: -o's
 * extension picks it (.png, .jpg/.jpeg, .bmp or .tga, case-insensitive; io/image_write.h), and
 * --quality N (1..100, default 90) sets the JPEG quality of -o and of --heat-format jpg.
 * Both are checked once the command line is parsed, before any work. */
#ifndef XATTN_CLI_OUTPUT_FORMAT_H
#define XATTN_CLI_OUTPUT_FORMAT_H

#include "heat_options.h"
#include "xattn_io.h"

typedef struct output_format {
    const char *quality;         /* --quality as given, or NULL */
    xattn_image_options image;   /* -o's format and the quality, for xattn_image_write */
} output_format;

void output_format_init(output_format *f);

/* --quality N (the option's display name and value): 0, or -1 after printing the error. */
int output_format_quality(output_format *f, const char *name, const char *value);

/* After parsing: -o OUTPUT must end in a known extension ("xattn: -o: ...", exit 2), and
 * --quality needs a JPEG to apply to (-o or heat's --heat-format). Passes the quality on to
 * heat. Exit code, or 0 to go on. */
int output_format_check(output_format *f, const char *output, heat_options *heat);

#endif
