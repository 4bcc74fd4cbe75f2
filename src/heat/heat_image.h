/* heat_image.h — pictures of heatmaps: the viridis colormap, overlays, labels, the grid.
 *
 * Pixels are 8-bit RGB, interleaved, row-major: rgb[(y * width + x) * 3 + c]. */
#ifndef XATTN_HEAT_HEAT_IMAGE_H
#define XATTN_HEAT_HEAT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* table[256][3]: viridis, derived from its 10 published stops (see heat_image.c). */
void viridis_table(uint8_t table[256][3]);

/* The overlay scale: an image of side s is shown at s * overlay_scale(s) pixels (>= 256 when
 * s <= 256). */
size_t overlay_scale(size_t side);

/* out[H*k, W*k, 3] = (1 - alpha) * luma(nearest(rgb[H, W, 3])) + alpha * viridis(v): the image
 * in grey, so that its own colours do not read as heat; v the map[H, W]
 * resized bilinearly to [H*k, W*k] and normalised to [0, 1] by its own minimum and maximum, as
 * DAAM shows maps (v = 0 for a constant map). scratch: [H*k, W*k] floats. */
void heat_overlay(uint8_t *out, const uint8_t *rgb, const float *map, size_t h, size_t w,
                  size_t k, const uint8_t table[256][3], float *scratch);

/* Draws ASCII text (other bytes as '?') into rgb[height, width, 3] with its top left at (x, y),
 * one font unit = `scale` pixels, clipped to the image. */
void draw_text(uint8_t *rgb, size_t width, size_t height, long x, long y, int scale,
               const char *text, const uint8_t color[3]);
/* The text's size in pixels at `scale`. */
size_t text_width(const char *text, int scale);
size_t text_height(int scale);

/* A grid of labelled panels: panels[n] each [ph, pw, 3], labels[n]; columns <= max_cols.
 * *out is malloc'd [*out_h, *out_w, 3]; returns 0, or -1 when out of memory. */
int heat_grid(uint8_t **out, size_t *out_w, size_t *out_h, const uint8_t *const *panels,
              const char *const *labels, size_t n, size_t pw, size_t ph, size_t max_cols);

#endif
