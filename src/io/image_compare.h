/* image_compare.h — pixel statistics of the difference between two RGB8 images of one size,
 * and a visible difference image: what `xattn compare` reports and golden tests check.
 *
 * Images are 8-bit interleaved RGB, row-major: rgb[(y * width + x) * 3 + c]. Differences are
 * in 0-255 units over all width * height * 3 samples:
 *   max_abs  = max |a - b|
 *   mean_abs = sum |a - b| / (3 W H)
 *   mse      = sum (a - b)^2 / (3 W H)
 *   psnr_db  = 10 log10(255^2 / mse), +INFINITY when mse = 0 (identical images). */
#ifndef XATTN_IO_IMAGE_COMPARE_H
#define XATTN_IO_IMAGE_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "xattn.h"

typedef struct image_diff_stats {
    size_t width, height;
    unsigned max_abs;         /* 0..255 */
    double mean_abs;          /* 0..255 */
    double mse;               /* 0..65025 */
    double psnr_db;           /* +INFINITY when identical */
    size_t differing_pixels;  /* pixels with any channel different, 0..W H */
    /* The first sample (row-major) where |a - b| = max_abs; all 0 when identical. */
    size_t worst_x, worst_y;
    int worst_channel;        /* 0 R, 1 G, 2 B */
    uint8_t worst_a, worst_b;
} image_diff_stats;

/* Fills *out for a, b [h, w, 3]. Fails (XATTN_ERR_VALUE) on an empty image and
 * (XATTN_ERR_NOMEM) when 3 w h overflows size_t. */
xattn_status image_compare(const uint8_t *a, const uint8_t *b, size_t w, size_t h,
                           image_diff_stats *out, xattn_error *err);

/* The difference image's amplification: diff = min(255, IMAGE_DIFF_GAIN * |a - b|) per channel,
 * so a 1-level difference shows as 8 and anything >= 32 as full brightness; identical = black. */
#define IMAGE_DIFF_GAIN 8u

/* diff [h, w, 3] (caller's buffer) = min(255, IMAGE_DIFF_GAIN * |a - b|) per channel. */
void image_diff_render(const uint8_t *a, const uint8_t *b, size_t w, size_t h, uint8_t *diff);

/* Whether stats pass the limits: max_abs <= max_abs_limit and psnr_db >= min_psnr_db (pass
 * -INFINITY for no PSNR limit, 255 for no max-abs limit). */
int image_diff_within(const image_diff_stats *stats, unsigned max_abs_limit, double min_psnr_db);

#endif
