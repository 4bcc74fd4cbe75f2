/* output_format.c — see output_format.h. */
#include "output_format.h"

#include <stdio.h>

#include "args.h"

void output_format_init(output_format *f) {
    f->quality = NULL;
    xattn_image_options_init(&f->image);
}

int output_format_quality(output_format *f, const char *name, const char *value) {
    if (cli_parse_int(name, value, 1, 100, &f->image.quality) != 0) return -1;
    f->quality = value;
    return 0;
}

int output_format_check(output_format *f, const char *output, heat_options *heat) {
    f->image.format = xattn_image_format_from_path(output);
    if (f->image.format == XATTN_IMAGE_FORMAT_UNKNOWN) {
        cli_error("-o: '%s' has an unknown image extension (use %s)", output,
                  XATTN_IMAGE_FORMAT_EXTENSIONS);
        return CLI_EXIT_USAGE;
    }
    int heat_jpeg = heat->dir && heat->image.format == XATTN_IMAGE_FORMAT_JPEG;
    if (f->quality && f->image.format != XATTN_IMAGE_FORMAT_JPEG && !heat_jpeg) {
        cli_error("--quality: only applies to JPEG output (-o OUT.jpg or --heat-format jpg)");
        return CLI_EXIT_USAGE;
    }
    heat->image.quality = f->image.quality;
    return 0;
}
