/* heat_image.c — the viridis colormap, overlays, text labels and the grid. See heat_image.h.
 *
 * The colormap. Viridis (van der Walt and Smith, matplotlib) is published, among other ways,
 * as the 10 evenly spaced colours viridis(10) of R's viridisLite (stops at k/9, k = 0..9).
 * The table is derived from those stops alone: each stop is converted sRGB -> linear RGB ->
 * CIE XYZ (D65) -> CIELAB; a natural cubic spline through the 10 stops interpolates L*, a*, b*
 * separately at k/255; the result is converted back to sRGB and rounded. Interpolating in a
 * perceptual space keeps the map's lightness ramp smooth. Checked against the published
 * viridis(5) stops, which it does not use: within half a level (of 255) at 1/4, 1/2 and 3/4. */
#include "heat/heat_image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function" /* the header's static API, partly used */
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

#include "heat/heat.h"

/* --- colour spaces ------------------------------------------------------------------------ */

static const double white_d65[3] = {0.95047, 1.0, 1.08883};
static const double lab_delta = 6.0 / 29.0;

static double srgb_to_linear(double c) {
    return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

static double linear_to_srgb(double c) {
    c = c < 0 ? 0 : c > 1 ? 1 : c;
    return c <= 0.0031308 ? 12.92 * c : 1.055 * pow(c, 1 / 2.4) - 0.055;
}

static double lab_f(double t) {
    return t > lab_delta * lab_delta * lab_delta ? cbrt(t) : t / (3 * lab_delta * lab_delta) + 4.0 / 29;
}

static double lab_finv(double f) {
    return f > lab_delta ? f * f * f : 3 * lab_delta * lab_delta * (f - 4.0 / 29);
}

/* sRGB in [0, 1] -> L*a*b* */
static void srgb_to_lab(const double rgb[3], double lab[3]) {
    double r = srgb_to_linear(rgb[0]), g = srgb_to_linear(rgb[1]), b = srgb_to_linear(rgb[2]);
    double x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / white_d65[0];
    double y = (0.2126729 * r + 0.7151522 * g + 0.0721750 * b) / white_d65[1];
    double z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / white_d65[2];
    double fx = lab_f(x), fy = lab_f(y), fz = lab_f(z);
    lab[0] = 116 * fy - 16;
    lab[1] = 500 * (fx - fy);
    lab[2] = 200 * (fy - fz);
}

/* L*a*b* -> sRGB in [0, 1] (clamped) */
static void lab_to_srgb(const double lab[3], double rgb[3]) {
    double fy = (lab[0] + 16) / 116, fx = fy + lab[1] / 500, fz = fy - lab[2] / 200;
    double x = lab_finv(fx) * white_d65[0], y = lab_finv(fy) * white_d65[1];
    double z = lab_finv(fz) * white_d65[2];
    rgb[0] = linear_to_srgb(3.2404542 * x - 1.5371385 * y - 0.4985314 * z);
    rgb[1] = linear_to_srgb(-0.9692660 * x + 1.8760108 * y + 0.0415560 * z);
    rgb[2] = linear_to_srgb(0.0556434 * x - 0.2040259 * y + 1.0572252 * z);
}

/* --- viridis ------------------------------------------------------------------------------ */

#define N_STOPS 10

void viridis_table(uint8_t table[256][3]) {
    /* viridisLite::viridis(10): #440154 #482878 #3E4A89 #31688E #26828E #1F9E89 #35B779
     * #6DCD59 #B4DE2C #FDE725 */
    static const uint8_t stops[N_STOPS][3] = {
        {0x44, 0x01, 0x54}, {0x48, 0x28, 0x78}, {0x3E, 0x4A, 0x89}, {0x31, 0x68, 0x8E},
        {0x26, 0x82, 0x8E}, {0x1F, 0x9E, 0x89}, {0x35, 0xB7, 0x79}, {0x6D, 0xCD, 0x59},
        {0xB4, 0xDE, 0x2C}, {0xFD, 0xE7, 0x25}};
    double y[N_STOPS][3], m[N_STOPS][3] = {{0}}; /* knot values (Lab) and second derivatives */
    for (int i = 0; i < N_STOPS; i++) {
        double rgb[3] = {stops[i][0] / 255.0, stops[i][1] / 255.0, stops[i][2] / 255.0};
        srgb_to_lab(rgb, y[i]);
    }
    /* natural spline, knots 1/9 apart: m[i-1] + 4 m[i] + m[i+1] = 6/h^2 (y[i+1] - 2 y[i] +
     * y[i-1]), m[0] = m[9] = 0; the tridiagonal system by the Thomas algorithm */
    const double h = 1.0 / (N_STOPS - 1);
    for (int c = 0; c < 3; c++) {
        double diag[N_STOPS], rhs[N_STOPS];
        for (int i = 1; i < N_STOPS - 1; i++) {
            diag[i] = 4;
            rhs[i] = 6 / (h * h) * (y[i + 1][c] - 2 * y[i][c] + y[i - 1][c]);
        }
        for (int i = 2; i < N_STOPS - 1; i++) { /* eliminate the sub-diagonal (all ones) */
            double w = 1 / diag[i - 1];
            diag[i] -= w;
            rhs[i] -= w * rhs[i - 1];
        }
        for (int i = N_STOPS - 2; i >= 1; i--)
            m[i][c] = (rhs[i] - m[i + 1][c]) / diag[i]; /* m[9] = 0 */
    }
    for (int k = 0; k < 256; k++) {
        double x = k / 255.0;
        int i = (int)(x / h);
        if (i > N_STOPS - 2) i = N_STOPS - 2;
        double t = (x - i * h) / h, u = 1 - t, lab[3], rgb[3];
        for (int c = 0; c < 3; c++)
            lab[c] = u * y[i][c] + t * y[i + 1][c] +
                     h * h / 6 * ((u * u * u - u) * m[i][c] + (t * t * t - t) * m[i + 1][c]);
        lab_to_srgb(lab, rgb);
        for (int c = 0; c < 3; c++) table[k][c] = (uint8_t)lround(rgb[c] * 255);
    }
}

/* --- overlays ----------------------------------------------------------------------------- */

size_t overlay_scale(size_t side) { return side >= 256 ? 1 : (256 + side - 1) / side; }

#define OVERLAY_ALPHA 0.6f

void heat_overlay(uint8_t *out, const uint8_t *rgb, const float *map, size_t h, size_t w,
                  size_t k, const uint8_t table[256][3], float *scratch) {
    size_t oh = h * k, ow = w * k;
    memset(scratch, 0, oh * ow * sizeof *scratch);
    bilinear_resize_add(scratch, oh, ow, map, h, w, 1.0f);
    float lo = scratch[0], hi = scratch[0];
    for (size_t i = 0; i < oh * ow; i++) {
        lo = scratch[i] < lo ? scratch[i] : lo;
        hi = scratch[i] > hi ? scratch[i] : hi;
    }
    float inv = hi > lo ? 1.0f / (hi - lo) : 0.0f;
    for (size_t y = 0; y < oh; y++) {
        for (size_t x = 0; x < ow; x++) {
            float v = (scratch[y * ow + x] - lo) * inv;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            const uint8_t *col = table[(int)lroundf(v * 255)];
            const uint8_t *src = rgb + ((y / k) * w + x / k) * 3;
            float luma = 0.299f * src[0] + 0.587f * src[1] + 0.114f * src[2]; /* Rec. 601 */
            uint8_t *dst = out + (y * ow + x) * 3;
            for (int c = 0; c < 3; c++)
                dst[c] = (uint8_t)lroundf((1 - OVERLAY_ALPHA) * luma + OVERLAY_ALPHA * col[c]);
        }
    }
}

/* --- text --------------------------------------------------------------------------------- */

#define MAX_LABEL 128

/* text as stb_easy_font can draw it: bytes outside 32..126 become '?' */
static void printable(char *dst, const char *src) {
    size_t i = 0;
    for (; src[i] && i + 1 < MAX_LABEL; i++)
        dst[i] = (unsigned char)src[i] >= 32 && (unsigned char)src[i] <= 126 ? src[i] : '?';
    dst[i] = '\0';
}

size_t text_width(const char *text, int scale) {
    char buf[MAX_LABEL];
    printable(buf, text);
    return (size_t)stb_easy_font_width(buf) * (size_t)scale;
}

size_t text_height(int scale) { return 12 * (size_t)scale; } /* the font's line height */

void draw_text(uint8_t *rgb, size_t width, size_t height, long x, long y, int scale,
               const char *text, const uint8_t color[3]) {
    char buf[MAX_LABEL];
    printable(buf, text);
    /* quads of 4 vertices {x, y, z: float; rgba: 4 bytes}, 16 bytes each; ~270 bytes a char */
    static const size_t vbuf_floats = MAX_LABEL * 300 / sizeof(float);
    float *vbuf = malloc(vbuf_floats * sizeof(float));
    if (!vbuf) return;
    int quads = stb_easy_font_print(0, 0, buf, NULL, vbuf, (int)(vbuf_floats * sizeof(float)));
    for (int q = 0; q < quads; q++) {
        const float *v0 = vbuf + (size_t)q * 16, *v2 = v0 + 8; /* opposite corners */
        long x0 = x + lroundf(v0[0] * scale), x1 = x + lroundf(v2[0] * scale);
        long y0 = y + lroundf(v0[1] * scale), y1 = y + lroundf(v2[1] * scale);
        for (long py = y0 < 0 ? 0 : y0; py < y1 && py < (long)height; py++)
            for (long px = x0 < 0 ? 0 : x0; px < x1 && px < (long)width; px++)
                memcpy(rgb + ((size_t)py * width + (size_t)px) * 3, color, 3);
    }
    free(vbuf);
}

/* --- the grid ----------------------------------------------------------------------------- */

#define GRID_MARGIN 8
#define LABEL_SCALE 2 /* font units of 2 pixels: letters 14 pixels high */

/* label shortened with ".." until it fits max_w pixels, into buf[MAX_LABEL] */
static void fit_label(char *buf, const char *label, size_t max_w) {
    printable(buf, label);
    size_t len = strlen(buf);
    if (text_width(buf, LABEL_SCALE) <= max_w) return;
    while (len > 0) {
        buf[--len] = '\0';
        char tmp[MAX_LABEL + 2];
        memcpy(tmp, buf, len);
        memcpy(tmp + len, "..", 3);
        if (text_width(tmp, LABEL_SCALE) <= max_w) {
            memcpy(buf, tmp, len + 3);
            return;
        }
    }
}

int heat_grid(uint8_t **out, size_t *out_w, size_t *out_h, const uint8_t *const *panels,
              const char *const *labels, size_t n, size_t pw, size_t ph, size_t max_cols) {
    static const uint8_t background[3] = {24, 24, 24}, ink[3] = {240, 240, 240};
    size_t cols = n < max_cols ? n : max_cols, rows = (n + cols - 1) / cols;
    size_t label_h = text_height(LABEL_SCALE) + 6;
    size_t cell_w = pw + GRID_MARGIN, cell_h = ph + label_h + GRID_MARGIN;
    size_t w = GRID_MARGIN + cols * cell_w, h = GRID_MARGIN + rows * cell_h;
    uint8_t *img = malloc(w * h * 3);
    if (!img) return -1;
    for (size_t i = 0; i < w * h; i++) memcpy(img + i * 3, background, 3);
    for (size_t k = 0; k < n; k++) {
        size_t x = GRID_MARGIN + (k % cols) * cell_w, y = GRID_MARGIN + (k / cols) * cell_h;
        char label[MAX_LABEL];
        fit_label(label, labels[k], pw);
        size_t tw = text_width(label, LABEL_SCALE);
        draw_text(img, w, h, (long)(x + (pw - tw) / 2), (long)y + 2, LABEL_SCALE, label, ink);
        for (size_t r = 0; r < ph; r++)
            memcpy(img + ((y + label_h + r) * w + x) * 3, panels[k] + r * pw * 3, pw * 3);
    }
    *out = img;
    *out_w = w;
    *out_h = h;
    return 0;
}
