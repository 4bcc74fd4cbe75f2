/* heat_html.h — the heatmap explorer: one self-contained HTML page (no network; images inline as
 * data: URLs) showing an image, its prompt's words as buttons, each word's map over the image,
 * and a slider over the sampling steps. See docs/heatmaps.md, "The explorer page". */
#ifndef XATTN_HEAT_HEAT_HTML_H
#define XATTN_HEAT_HEAT_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "xattn.h"

/* Writes the page for image `image` of h's last generation to path, atomically. rgb: the
 * generated image [height, width, 3] 8-bit. caption: a line under the prompt (NULL = none).
 * With keep_steps the slider shows each word's map summed over the steps up to the chosen one;
 * without, the page has the final maps only. */
xattn_status heat_write_html(const char *path, const xattn_heatmaps *h, size_t image,
                             const uint8_t *rgb, const char *caption, xattn_error *err);

#endif
