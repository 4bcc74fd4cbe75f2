/* fuzz_image.c — xattn_image_read_rgb (the input of `xattn denoise` and `xattn compare`: PNG, JPEG,
 * BMP, GIF, ...: PNG through libpng with its allocations capped, the rest through stb_image)
 * on arbitrary bytes as a file, then what those commands do
 * with the pixels: the resize to the model's 32x32 (stbir_resize_uint8, as cmd_denoise.c) and
 * the conversion to [-1, 1], and xattn_image_compare / xattn_image_diff_render against the inverted image
 * (as cmd_compare.c).
 *
 * Checked beyond "no crash": the error contract, and on success a size inside 1..16384 with
 * the compare statistics inside their ranges. Inputs whose header declares more than
 * FUZZ_MAX_PIXELS are skipped before decoding: the reader allocates w * h * 3 bytes up front
 * (up to 805 MB at 16384 x 16384) and stb fills what a short file lacks, which makes such inputs
 * slow, not wrong. libpng and stb_image are Debian's (not instrumented: coverage counts xattn's
 * code only). */
#include <limits.h>
#include <stdlib.h>

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include "fuzz.h"
#include "xattn_io.h"

#define FUZZ_MAX_PIXELS ((size_t)1 << 22) /* 4 Mpx: 12 MB of RGB */
#define MODEL_SIZE 32                     /* weights/shapes32's sample_size */

/* init[3, 32, 32] in [-1, 1] from rgb [h, w, 3], resized as cmd_denoise.c does. */
static void to_model_input(const uint8_t *rgb, size_t w, size_t h) {
    uint8_t resized[MODEL_SIZE * MODEL_SIZE * 3]; /* [32, 32, 3] */
    float init[3 * MODEL_SIZE * MODEL_SIZE];      /* [3, 32, 32] */
    const uint8_t *px = rgb;
    if (w != MODEL_SIZE || h != MODEL_SIZE) {
        int ok = stbir_resize_uint8(rgb, (int)w, (int)h, 0, resized, MODEL_SIZE, MODEL_SIZE, 0, 3);
        fuzz_require(ok, "stbir_resize_uint8 refused an image xattn_image_read_rgb accepted");
        px = resized;
    }
    size_t plane = (size_t)MODEL_SIZE * MODEL_SIZE;
    for (size_t k = 0; k < plane; k++)
        for (size_t c = 0; c < 3; c++) {
            init[c * plane + k] = (float)px[k * 3 + c] / 127.5f - 1.0f;
            fuzz_require(init[c * plane + k] >= -1.0f && init[c * plane + k] <= 1.0f,
                         "model input outside [-1, 1]");
        }
}

/* xattn_image_compare and xattn_image_diff_render of rgb [h, w, 3] against its inverse. */
static void compare_with_inverse(const uint8_t *rgb, size_t w, size_t h) {
    size_t n = w * h * 3;
    uint8_t *inv = malloc(n);  /* [h, w, 3] */
    uint8_t *diff = malloc(n); /* [h, w, 3] */
    fuzz_require(inv && diff, "out of memory");
    for (size_t i = 0; i < n; i++) inv[i] = (uint8_t)(255 - rgb[i]);
    xattn_image_diff s;
    xattn_error err = {0};
    xattn_status st = xattn_image_compare(rgb, inv, w, h, &s, &err);
    fuzz_require(st == XATTN_OK, "xattn_image_compare refused an image xattn_image_read_rgb accepted");
    fuzz_require(s.width == w && s.height == h && s.max_abs >= 1 && s.max_abs <= 255,
                 "compare statistics out of range");
    fuzz_require(s.differing_pixels == w * h && s.worst_x < w && s.worst_y < h &&
                     s.worst_channel >= 0 && s.worst_channel < 3,
                 "compare worst sample out of range");
    xattn_image_diff_render(rgb, inv, w, h, diff);
    free(inv);
    free(diff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int iw, ih, comp;
    if (size <= INT_MAX && stbi_info_from_memory(data, (int)size, &iw, &ih, &comp) && iw > 0 &&
        ih > 0 && (size_t)iw * (size_t)ih > FUZZ_MAX_PIXELS)
        return 0;
    const char *path = fuzz_temp_file(data, size, ".img");
    uint8_t *rgb = NULL;
    size_t w = 0, h = 0;
    xattn_error err = {0};
    xattn_status st = xattn_image_read_rgb(path, &rgb, &w, &h, &err);
    fuzz_check_status(st, &err, path);
    if (st != XATTN_OK) {
        fuzz_require(rgb == NULL && w == 0 && h == 0, "xattn_image_read_rgb failed but returned pixels");
        return 0;
    }
    fuzz_require(rgb != NULL && w >= 1 && h >= 1 && w <= 16384 && h <= 16384, "image size out of range");
    to_model_input(rgb, w, h);
    compare_with_inverse(rgb, w, h);
    free(rgb);
    return 0;
}
