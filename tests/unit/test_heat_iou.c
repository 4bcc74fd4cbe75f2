/* test_heat_iou.c — the heatmap-vs-mask score of `xattn eval heatmaps` (include/xattn_shapes.h) on
 * synthetic maps and masks whose IoU is known by construction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "xattn_shapes.h"

enum { S = 16, N = S * S };

/* Fails with both values when |got - want| > 1e-12. */
static void check_iou(const char *what, double got, double want) {
    if (fabs(got - want) > 1e-12) {
        print_error("%s: IoU %.12f, expected %.12f\n", what, got, want);
        fail();
    }
}

/* A map that is `hi` on the rectangle [x0, x1) x [y0, y1) and `lo` elsewhere. */
static void rect_map(float *map, int x0, int y0, int x1, int y1, float lo, float hi) {
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) map[y * S + x] = (x >= x0 && x < x1 && y >= y0 && y < y1) ? hi : lo;
}

static void rect_mask(uint8_t *mask, int x0, int y0, int x1, int y1, uint8_t v) {
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) mask[y * S + x] = v;
}

static void test_normalize(void **state) {
    (void)state;
    float map[4] = {2.0f, 4.0f, 3.0f, 6.0f}, out[4];
    xattn_error err = {0};
    assert_int_equal(eval_heat_normalize(map, 4, out, "m", &err), XATTN_OK);
    const float want[4] = {0.0f, 0.5f, 0.25f, 1.0f};
    for (int i = 0; i < 4; i++) {
        if (fabsf(out[i] - want[i]) > 1e-7f) {
            print_error("normalised[%d] = %g, expected %g\n", i, (double)out[i], (double)want[i]);
            fail();
        }
    }
    float flat[3] = {5.0f, 5.0f, 5.0f};
    assert_int_equal(eval_heat_normalize(flat, 3, flat, "m", &err), XATTN_OK);
    for (int i = 0; i < 3; i++) assert_true(flat[i] == 0.0f);
    float bad[2] = {1.0f, NAN};
    assert_int_equal(eval_heat_normalize(bad, 2, out, "word \"red\"", &err), XATTN_ERR_VALUE);
    assert_non_null(strstr(err.msg, "word \"red\""));
    assert_int_equal(eval_heat_normalize(map, 0, out, "m", &err), XATTN_ERR_VALUE);
}

static void test_iou_known(void **state) {
    (void)state;
    float map[N], norm[N];
    uint8_t mask[N];
    xattn_error err = {0};
    /* map region 8x8 at (0,0), mask 8x8 at (4,0): intersection 4x8 = 32, union 96 -> 1/3 */
    rect_map(map, 0, 0, 8, 8, 1.0f, 3.0f);
    memset(mask, 0, sizeof mask);
    rect_mask(mask, 4, 0, 12, 8, 1);
    assert_int_equal(eval_heat_normalize(map, N, norm, "m", &err), XATTN_OK);
    check_iou("half overlap", eval_heat_iou(norm, mask, N, 0.4f, 1u << 1), 32.0 / 96.0);
    /* identical regions -> 1; disjoint -> 0 */
    memset(mask, 0, sizeof mask);
    rect_mask(mask, 0, 0, 8, 8, 2);
    check_iou("identical", eval_heat_iou(norm, mask, N, 0.4f, 1u << 2), 1.0);
    check_iou("other object", eval_heat_iou(norm, mask, N, 0.4f, 1u << 1), 0.0);
    /* a count group: objects 1 and 3 together cover the map's region exactly */
    memset(mask, 0, sizeof mask);
    rect_mask(mask, 0, 0, 4, 8, 1);
    rect_mask(mask, 4, 0, 8, 8, 3);
    rect_mask(mask, 8, 8, 12, 12, 2);
    check_iou("union of 1 and 3", eval_heat_iou(norm, mask, N, 0.4f, (1u << 1) | (1u << 3)), 1.0);
    check_iou("object 1 alone", eval_heat_iou(norm, mask, N, 0.4f, 1u << 1), 32.0 / 64.0);
}

static void test_threshold(void **state) {
    (void)state;
    /* a ramp along x: normalised value x / 15; tau 0.4 keeps x >= 7 (7/15 = 0.467 > 0.4,
     * 6/15 = 0.4 is not > 0.4), 9 columns; mask columns 8..15 (8 columns) -> IoU 8/9 */
    float map[N], norm[N];
    uint8_t mask[N];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) map[y * S + x] = 10.0f + 2.0f * (float)x;
    memset(mask, 0, sizeof mask);
    rect_mask(mask, 8, 0, 16, 16, 1);
    xattn_error err = {0};
    assert_int_equal(eval_heat_normalize(map, N, norm, "m", &err), XATTN_OK);
    check_iou("ramp tau 0.4", eval_heat_iou(norm, mask, N, 0.4f, 1u << 1), 8.0 / 9.0);
    /* tau 0.75: x >= 12 (12/15 = 0.8), 4 columns inside the mask's 8 -> 4/8 */
    check_iou("ramp tau 0.75", eval_heat_iou(norm, mask, N, 0.75f, 1u << 1), 4.0 / 8.0);
    /* tau 0: every column but x = 0 -> 8/15 */
    check_iou("ramp tau 0", eval_heat_iou(norm, mask, N, 0.0f, 1u << 1), 8.0 / 15.0);
    /* a flat map selects nothing; an empty mask too -> 1; a non-empty mask -> 0 */
    float flat[N];
    for (int i = 0; i < N; i++) flat[i] = 0.0f;
    check_iou("flat vs mask", eval_heat_iou(flat, mask, N, 0.4f, 1u << 1), 0.0);
    check_iou("flat vs nothing", eval_heat_iou(flat, mask, N, 0.4f, 1u << 5), 1.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_iou_known),
        cmocka_unit_test(test_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
