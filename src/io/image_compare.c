/* xattn_image_compare.c — difference statistics and difference image for two RGB8 images. */
#include "xattn_io.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "util/error.h"

xattn_status xattn_image_compare(const uint8_t *a, const uint8_t *b, size_t w, size_t h,
                           xattn_image_diff *out, xattn_error *err) {
    memset(out, 0, sizeof *out);
    if (w == 0 || h == 0)
        return xattn_fail(err, XATTN_ERR_VALUE, "image: empty (%zux%zu)", w, h);
    if (h > SIZE_MAX / 3 / w)
        return xattn_fail(err, XATTN_ERR_NOMEM, "image: %zux%zu is too large", w, h);
    out->width = w;
    out->height = h;
    size_t n_pixels = w * h;
    /* Sums fit: 255^2 * 3 * n_pixels < 2^64 for n_pixels < 9.4e13, far above any readable
     * image (xattn_image_read_rgb caps each side). */
    uint64_t sum_abs = 0, sum_sq = 0;
    unsigned max_abs = 0;
    size_t worst = 0, differing = 0;
    for (size_t p = 0; p < n_pixels; p++) {
        int pixel_differs = 0;
        for (size_t c = 0; c < 3; c++) {
            size_t i = p * 3 + c;
            unsigned d = a[i] > b[i] ? (unsigned)(a[i] - b[i]) : (unsigned)(b[i] - a[i]);
            sum_abs += d;
            sum_sq += (uint64_t)d * d;
            pixel_differs |= d != 0;
            if (d > max_abs) {
                max_abs = d;
                worst = i;
            }
        }
        differing += (size_t)pixel_differs;
    }
    double n = (double)n_pixels * 3.0;
    out->max_abs = max_abs;
    out->mean_abs = (double)sum_abs / n;
    out->mse = (double)sum_sq / n;
    out->psnr_db = sum_sq == 0 ? INFINITY : 10.0 * log10(255.0 * 255.0 / out->mse);
    out->differing_pixels = differing;
    if (max_abs > 0) {
        out->worst_x = (worst / 3) % w;
        out->worst_y = (worst / 3) / w;
        out->worst_channel = (int)(worst % 3);
        out->worst_a = a[worst];
        out->worst_b = b[worst];
    }
    return XATTN_OK;
}

void xattn_image_diff_render(const uint8_t *a, const uint8_t *b, size_t w, size_t h, uint8_t *diff) {
    size_t n = w * h * 3;
    for (size_t i = 0; i < n; i++) {
        unsigned d = a[i] > b[i] ? (unsigned)(a[i] - b[i]) : (unsigned)(b[i] - a[i]);
        d *= XATTN_IMAGE_DIFF_GAIN;
        diff[i] = (uint8_t)(d > 255u ? 255u : d);
    }
}

int xattn_image_diff_within(const xattn_image_diff *stats, unsigned max_abs_limit, double min_psnr_db) {
    return stats->max_abs <= max_abs_limit && stats->psnr_db >= min_psnr_db;
}
