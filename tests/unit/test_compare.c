/* test_compare.c — xattn_image_compare statistics against values worked out by hand (identical images,
 * one changed sample, every sample changed), the difference image, the tolerance check, and
 * refused sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above */
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xattn_io.h"

enum { W = 4, H = 3, N = W * H * 3 }; /* images [H, W, 3] */

/* rgb[y, x, c]: varied values away from 0 and 255. */
static void fill_pattern(uint8_t *rgb) {
    for (size_t i = 0; i < N; i++) rgb[i] = (uint8_t)(40 + (i * 7) % 150);
}

/* Fails with both values when |got - want| > tol. */
static void check_close(const char *what, double got, double want, double tol) {
    if (!(fabs(got - want) <= tol)) {
        print_error("%s: got %.12g want %.12g (|diff| %.3g > %.3g)\n", what, got, want,
                    fabs(got - want), tol);
        fail();
    }
}

static void test_identical(void **state) {
    (void)state;
    uint8_t a[N], b[N];
    fill_pattern(a);
    memcpy(b, a, N);
    xattn_image_diff s;
    xattn_error err = {0};
    assert_int_equal(xattn_image_compare(a, b, W, H, &s, &err), XATTN_OK);
    assert_int_equal(s.width, W);
    assert_int_equal(s.height, H);
    assert_int_equal(s.max_abs, 0);
    check_close("mean_abs", s.mean_abs, 0.0, 0.0);
    check_close("mse", s.mse, 0.0, 0.0);
    assert_true(isinf(s.psnr_db) && s.psnr_db > 0);
    assert_int_equal(s.differing_pixels, 0);
    assert_true(xattn_image_diff_within(&s, 0, -INFINITY));
    assert_true(xattn_image_diff_within(&s, 0, 1000.0)); /* inf passes any PSNR limit */

    uint8_t diff[N];
    memset(diff, 0xAB, sizeof diff);
    xattn_image_diff_render(a, b, W, H, diff);
    for (size_t i = 0; i < N; i++) assert_int_equal(diff[i], 0);
}

/* One sample, pixel (x 2, y 1) green, lowered by 10 out of N = 36 samples:
 *   max_abs = 10, mean_abs = 10 / 36, mse = 100 / 36,
 *   psnr = 10 log10(255^2 * 36 / 100) = 10 log10(153^2) = 20 log10(153) = 43.693829 dB. */
static void test_one_sample(void **state) {
    (void)state;
    uint8_t a[N], b[N];
    fill_pattern(a);
    memcpy(b, a, N);
    size_t at = (1 * W + 2) * 3 + 1;
    b[at] = (uint8_t)(a[at] - 10);
    xattn_image_diff s;
    assert_int_equal(xattn_image_compare(a, b, W, H, &s, NULL), XATTN_OK);
    assert_int_equal(s.max_abs, 10);
    check_close("mean_abs", s.mean_abs, 10.0 / 36.0, 1e-12);
    check_close("mse", s.mse, 100.0 / 36.0, 1e-12);
    check_close("psnr_db", s.psnr_db, 20.0 * log10(153.0), 1e-9);
    assert_int_equal(s.differing_pixels, 1);
    assert_int_equal(s.worst_x, 2);
    assert_int_equal(s.worst_y, 1);
    assert_int_equal(s.worst_channel, 1);
    assert_int_equal(s.worst_a, a[at]);
    assert_int_equal(s.worst_b, a[at] - 10);

    /* Symmetric: the same figures with a and b swapped. */
    xattn_image_diff t;
    assert_int_equal(xattn_image_compare(b, a, W, H, &t, NULL), XATTN_OK);
    assert_int_equal(t.max_abs, s.max_abs);
    check_close("swapped psnr_db", t.psnr_db, s.psnr_db, 0.0);

    /* Tolerance: max abs 10 passes a limit of 10, fails 9; PSNR 43.69 passes 43, fails 44. */
    assert_true(xattn_image_diff_within(&s, 10, -INFINITY));
    assert_false(xattn_image_diff_within(&s, 9, -INFINITY));
    assert_true(xattn_image_diff_within(&s, 255, 43.0));
    assert_false(xattn_image_diff_within(&s, 255, 44.0));

    /* Difference image: 8 * 10 = 80 at that sample, 0 elsewhere. */
    uint8_t diff[N];
    xattn_image_diff_render(a, b, W, H, diff);
    for (size_t i = 0; i < N; i++) {
        if (diff[i] != (i == at ? 80 : 0)) {
            print_error("diff[%zu] = %u, want %u\n", i, diff[i], i == at ? 80u : 0u);
            fail();
        }
    }
}

/* a all 0, b all 255: max 255, mean 255, mse 255^2, PSNR exactly 0 dB, every pixel differs;
 * the difference image saturates at 255. The first sample is the worst. */
static void test_opposites(void **state) {
    (void)state;
    uint8_t a[N], b[N], diff[N];
    memset(a, 0, N);
    memset(b, 255, N);
    xattn_image_diff s;
    assert_int_equal(xattn_image_compare(a, b, W, H, &s, NULL), XATTN_OK);
    assert_int_equal(s.max_abs, 255);
    check_close("mean_abs", s.mean_abs, 255.0, 0.0);
    check_close("mse", s.mse, 65025.0, 0.0);
    check_close("psnr_db", s.psnr_db, 0.0, 1e-12);
    assert_int_equal(s.differing_pixels, W * H);
    assert_int_equal(s.worst_x, 0);
    assert_int_equal(s.worst_y, 0);
    assert_int_equal(s.worst_channel, 0);
    xattn_image_diff_render(a, b, W, H, diff);
    for (size_t i = 0; i < N; i++) assert_int_equal(diff[i], 255);
}

/* A difference of 3 in every channel of two pixels counts two differing pixels, mean 6*3/36. */
static void test_differing_pixels(void **state) {
    (void)state;
    uint8_t a[N], b[N];
    fill_pattern(a);
    memcpy(b, a, N);
    for (size_t c = 0; c < 3; c++) {
        b[0 * 3 + c] = (uint8_t)(a[0 * 3 + c] + 3);
        b[11 * 3 + c] = (uint8_t)(a[11 * 3 + c] - 3);
    }
    xattn_image_diff s;
    assert_int_equal(xattn_image_compare(a, b, W, H, &s, NULL), XATTN_OK);
    assert_int_equal(s.differing_pixels, 2);
    assert_int_equal(s.max_abs, 3);
    check_close("mean_abs", s.mean_abs, 18.0 / 36.0, 1e-12);
    check_close("mse", s.mse, 54.0 / 36.0, 1e-12);
}

static void test_refused_sizes(void **state) {
    (void)state;
    uint8_t a[3] = {0}, b[3] = {0};
    xattn_image_diff s;
    xattn_error err = {0};
    assert_int_equal(xattn_image_compare(a, b, 0, 1, &s, &err), XATTN_ERR_VALUE);
    assert_non_null(strstr(err.msg, "empty"));
    assert_int_equal(xattn_image_compare(a, b, 1, 0, &s, NULL), XATTN_ERR_VALUE);
    /* 3 w h overflows: refused before any pixel is read. */
    assert_int_equal(xattn_image_compare(a, b, SIZE_MAX / 2, 4, &s, &err), XATTN_ERR_NOMEM);
    assert_non_null(strstr(err.msg, "too large"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical),        cmocka_unit_test(test_one_sample),
        cmocka_unit_test(test_opposites),        cmocka_unit_test(test_differing_pixels),
        cmocka_unit_test(test_refused_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
