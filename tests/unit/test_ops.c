/* test_ops.c — every BLAS-backed kernel against its plain-loop reference, on random data,
 * including odd sizes, strides and padding. */
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "ops/ops.h"
#include "ops/vec.h"
#include "test_util.h"

static uint64_t lcg_state = 12345;
static float frand(void) { /* uniform in [-1, 1) */
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((lcg_state >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}
static float *rand_array(size_t n) {
    float *a = malloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = frand();
    return a;
}

static void test_linear(void **state) {
    (void)state;
    size_t cases[][3] = {{1, 1, 1}, {7, 13, 5}, {64, 32, 96}, {3, 384, 64}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t n = cases[c][0], in = cases[c][1], out = cases[c][2];
        float *x = rand_array(n * in), *w = rand_array(out * in), *b = rand_array(out);
        float *wt = malloc(out * in * sizeof *wt);
        float *got = malloc(n * out * sizeof *got), *want = malloc(n * out * sizeof *want);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            linear_forward(got, x, w, with_bias ? b : NULL, n, in, out);
            linear_forward_ref(want, x, w, with_bias ? b : NULL, n, in, out);
            assert_int_equal(compare_arrays("linear", got, want, n * out, 1e-5), 0);
            /* the transposed-weight form: the same products */
            transpose(wt, w, out, in);
            for (size_t o = 0; o < out; o++)
                for (size_t i = 0; i < in; i++) assert_true(wt[i * out + o] == w[o * in + i]);
            linear_forward_t(got, x, wt, with_bias ? b : NULL, n, in, out);
            assert_int_equal(compare_arrays("linear_t", got, want, n * out, 1e-5), 0);
        }
        free(x), free(w), free(wt), free(b), free(got), free(want);
    }
}

static void test_conv2d(void **state) {
    (void)state;
    /* ic, h, w, oc, k, stride, pad */
    size_t cases[][7] = {{3, 16, 16, 8, 3, 1, 1}, {8, 9, 7, 5, 3, 2, 1}, {4, 8, 8, 6, 1, 1, 0},
                         {2, 5, 6, 3, 5, 1, 2}, {16, 4, 4, 16, 3, 2, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t ic = cases[c][0], h = cases[c][1], w = cases[c][2], oc = cases[c][3];
        size_t k = cases[c][4], s = cases[c][5], p = cases[c][6];
        size_t oh = conv2d_out_size(h, k, s, p), ow = conv2d_out_size(w, k, s, p);
        float *x = rand_array(ic * h * w), *wt = rand_array(oc * ic * k * k), *b = rand_array(oc);
        float *col = malloc(ic * k * k * oh * ow * sizeof *col);
        float *got = malloc(oc * oh * ow * sizeof *got), *want = malloc(oc * oh * ow * sizeof *want);
        conv2d_forward(got, col, x, wt, b, ic, h, w, oc, k, s, p);
        conv2d_forward_ref(want, x, wt, b, ic, h, w, oc, k, s, p);
        assert_int_equal(compare_arrays("conv2d", got, want, oc * oh * ow, 1e-5), 0);
        free(x), free(wt), free(b), free(col), free(got), free(want);
    }
}

/* Winograd F(2x2, 3x3) and F(4x4, 3x3) against the plain-loop conv, odd sizes included (part
 * tiles at the right and bottom edges, part groups of 4 tiles) */
static void test_conv2d_winograd(void **state) {
    (void)state;
    /* ic, h, w, oc */
    size_t cases[][4] = {{3, 16, 16, 8}, {5, 7, 9, 4},     {16, 4, 4, 16}, {8, 1, 1, 3},
                         {2, 3, 5, 6},   {32, 32, 32, 32}, {4, 2, 37, 5},  {6, 13, 21, 7},
                         {3, 5, 512, 2},   {4, 9, 53, 3},     {3, 6, 30, 2}};
    /* F(4x4) takes groups of 8 tiles on AVX2 and of 4 on every CPU: both (vec_set_portable) */
    for (int run = 0; run < 3; run++)
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            int tile = run == 0 ? 2 : 4;
            vec_set_portable(run == 2);
            size_t ic = cases[c][0], h = cases[c][1], w = cases[c][2], oc = cases[c][3];
            float *x = rand_array(ic * h * w), *wt = rand_array(oc * ic * 9), *b = rand_array(oc);
            size_t nu = tile == 2 ? winograd_weight_floats(oc, ic) : winograd4_weight_floats(oc, ic);
            size_t ns = tile == 2 ? winograd_scratch_floats(ic, oc, h, w)
                                  : winograd4_scratch_floats(ic, oc, h, w);
            float *u = malloc(nu * sizeof *u), *scratch = malloc(ns * sizeof *scratch);
            float *got = malloc(oc * h * w * sizeof *got), *want = malloc(oc * h * w * sizeof *want);
            if (tile == 2) {
                winograd_weights(u, wt, oc, ic);
                conv2d_winograd(got, scratch, x, u, b, ic, h, w, oc);
            } else {
                winograd4_weights(u, wt, oc, ic);
                conv2d_winograd4(got, scratch, x, u, b, ic, h, w, oc);
            }
            conv2d_forward_ref(want, x, wt, b, ic, h, w, oc, 3, 1, 1);
            char what[80];
            snprintf(what, sizeof what, "conv2d_winograd F(%dx%d)%s ic=%zu %zux%zu oc=%zu", tile,
                     tile, run == 2 ? " 4-lane" : "", ic, h, w, oc);
            /* F(4x4)'s transforms carry coefficients up to 8 and 16/15, which scale float32's
             * rounding by ~10x over F(2x2) (here: 5e-5 against 6e-6 on 288-term sums of size
             * ~6); a wrong coefficient or a misplaced tile is off by 1e-2 and more */
            double tol = tile == 2 ? 1e-5 : 1e-4;
            assert_int_equal(compare_arrays(what, got, want, oc * h * w, tol), 0);
            free(x), free(wt), free(b), free(u), free(scratch), free(got), free(want);
            vec_set_portable(0);
        }
}

/* attention_forward against the double-precision reference on both paths: the fused 8-lane
 * kernel (head sizes 8, 16, 24, 32, 64; row and key counts that leave part blocks) and the sgemm
 * one (every case with vec_set_portable, and head sizes the fused kernel does not take) */
static void test_attention(void **state) {
    (void)state;
    /* n, m, heads, dh, masked keys */
    size_t cases[][5] = {{16, 16, 2, 8, 0},  {64, 7, 4, 8, 2},   {5, 1, 1, 3, 0},
                         {9, 11, 3, 5, 4},   {256, 256, 4, 16, 0}, {37, 77, 2, 24, 5},
                         {13, 10, 1, 32, 3}, {64, 64, 2, 64, 0}, {30, 3, 2, 16, 1}};
    /* every path this CPU has: the 16-lane fused kernel, the 8-lane one, sgemm + softmax */
    static const int levels[] = {VEC_AVX512, VEC_AVX2, VEC_PORTABLE};
    static const char *const level_names[] = {"4-lane", "8-lane", "16-lane"};
    for (int path = 0; path < 3; path++) {
        vec_set_level(levels[path]);
        if (vec_level() != levels[path]) {
            print_message("attention %s: not on this CPU, skipped\n", level_names[levels[path]]);
            continue;
        }
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            size_t n = cases[c][0], m = cases[c][1], heads = cases[c][2], dh = cases[c][3];
            size_t masked = cases[c][4], d = heads * dh;
            float *q = rand_array(n * d), *k = rand_array(m * d), *v = rand_array(m * d);
            float *bias = calloc(m, sizeof *bias);
            float *probs = malloc((size_t)omp_get_max_threads() * attention_scratch_floats(n, m, dh) *
                                  sizeof *probs);
            for (size_t j = m - masked; j < m; j++) bias[j] = -10000.0f;
            for (size_t i = 0; i < n * d; i++) q[i] *= 3.0f; /* peaky softmax */
            float *got = malloc(n * d * sizeof *got), *want = malloc(n * d * sizeof *want);
            attention_forward(got, probs, q, k, v, bias, 1, n, m, heads, dh, NULL, NULL);
            attention_forward_ref(want, q, k, v, bias, n, m, heads, dh);
            char what[80];
            snprintf(what, sizeof what, "attention %s n=%zu m=%zu heads=%zu dh=%zu",
                     level_names[levels[path]], n, m, heads, dh);
            assert_int_equal(compare_arrays(what, got, want, n * d, 2e-6), 0);
            free(q), free(k), free(v), free(bias), free(probs), free(got), free(want);
        }
    }
    vec_set_portable(0);
}

/* Both vector paths (vec_set_portable), each on the same inputs. */
static const char *const path_names[] = {"8-lane", "4-lane"};

/* GroupNorm and LayerNorm against a direct formula with double accumulation; the sizes leave
 * a tail in both vector widths */
static void norms_on_path(int path) {
    vec_set_portable(path);
    char what[64];
    size_t c = 12, hw = 10, groups = 3;
    float *x = rand_array(c * hw), *g = rand_array(c), *b = rand_array(c);
    for (size_t i = 0; i < c * hw; i++) x[i] = x[i] * 5.0f + 2.0f;
    float *got = malloc(c * hw * sizeof *got), *want = malloc(c * hw * sizeof *want);
    group_norm_forward(got, x, g, b, c, hw, groups, 1e-5f);
    for (size_t gi = 0; gi < groups; gi++) {
        size_t n = c / groups * hw;
        double mean = 0, var = 0;
        for (size_t i = 0; i < n; i++) mean += x[gi * n + i];
        mean /= n;
        for (size_t i = 0; i < n; i++) var += (x[gi * n + i] - mean) * (x[gi * n + i] - mean);
        var /= n;
        for (size_t i = 0; i < n; i++) {
            size_t ch = (gi * n + i) / hw;
            want[gi * n + i] = (float)((x[gi * n + i] - mean) / sqrt(var + 1e-5) * g[ch] + b[ch]);
        }
    }
    snprintf(what, sizeof what, "group_norm %s", path_names[path]);
    assert_int_equal(compare_arrays(what, got, want, c * hw, 1e-5), 0);
    group_norm_silu_forward(got, x, g, b, c, hw, groups, 1e-5f);
    for (size_t i = 0; i < c * hw; i++) want[i] = (float)(want[i] / (1.0 + exp(-(double)want[i])));
    snprintf(what, sizeof what, "group_norm_silu %s", path_names[path]);
    assert_int_equal(compare_arrays(what, got, want, c * hw, 1e-5), 0);

    layer_norm_forward(got, x, g, b, hw, c, 1e-5f); /* x as [hw tokens, c] */
    for (size_t t = 0; t < hw; t++) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < c; i++) mean += x[t * c + i];
        mean /= c;
        for (size_t i = 0; i < c; i++) var += (x[t * c + i] - mean) * (x[t * c + i] - mean);
        var /= c;
        for (size_t i = 0; i < c; i++)
            want[t * c + i] = (float)((x[t * c + i] - mean) / sqrt(var + 1e-5) * g[i] + b[i]);
    }
    snprintf(what, sizeof what, "layer_norm %s", path_names[path]);
    assert_int_equal(compare_arrays(what, got, want, c * hw, 1e-5), 0);
    free(x), free(g), free(b), free(got), free(want);
}

static void test_norms(void **state) {
    (void)state;
    norms_on_path(0);
    norms_on_path(1);
    vec_set_portable(0);
}

static void test_elementwise(void **state) {
    (void)state;
    for (int path = 0; path < 2; path++) {
        vec_set_portable(path);
        char what[64];
        /* GELU at known points (erf form) through GEGLU with h = 1, then SiLU */
        float xs[] = {-3.0f, -1.0f, 0.0f, 0.5f, 2.0f};
        float gelu_want[] = {-0.00404969f, -0.15865525f, 0.0f, 0.34573123f, 1.95449974f};
        float proj5[10], got[5], want[5];
        for (int i = 0; i < 5; i++) proj5[i] = 1.0f, proj5[5 + i] = xs[i];
        geglu_forward(got, proj5, 1, 5);
        snprintf(what, sizeof what, "gelu %s", path_names[path]);
        assert_int_equal(compare_arrays(what, got, gelu_want, 5, 1e-6), 0);
        memcpy(got, xs, sizeof xs);
        silu_inplace(got, 5);
        for (int i = 0; i < 5; i++) want[i] = (float)(xs[i] / (1.0 + exp(-(double)xs[i])));
        snprintf(what, sizeof what, "silu %s", path_names[path]);
        assert_int_equal(compare_arrays(what, got, want, 5, 1e-6), 0);

        /* a range that includes exp's clamps, and a length that leaves a tail */
        size_t nw = 1003;
        float *wide = malloc(nw * sizeof *wide), *wide_want = malloc(nw * sizeof *wide_want);
        float *proj = malloc(2 * nw * sizeof *proj);
        for (size_t i = 0; i < nw; i++) {
            double v = -120.0 + 240.0 * (double)i / (double)(nw - 1);
            wide[i] = (float)v;
            wide_want[i] = (float)(v / (1.0 + exp(-v)));
        }
        silu_inplace(wide, nw);
        snprintf(what, sizeof what, "silu [-120, 120] %s", path_names[path]);
        assert_int_equal(compare_arrays(what, wide, wide_want, nw, 2e-5), 0);
        /* GEGLU on gates in [-8, 8): erf's whole range, both signs, and its tails */
        for (size_t i = 0; i < nw; i++) {
            double h = frand(), gate = -8.0 + 16.0 * (double)i / (double)nw;
            proj[i] = (float)h, proj[nw + i] = (float)gate;
            wide_want[i] = (float)(h * 0.5 * gate * (1 + erf(gate / sqrt(2.0))));
        }
        geglu_forward(wide, proj, 1, nw);
        snprintf(what, sizeof what, "geglu [-8, 8) %s", path_names[path]);
        assert_int_equal(compare_arrays(what, wide, wide_want, nw, 1e-6), 0);
        free(wide), free(wide_want), free(proj);

        float rows[2 * 4] = {1, 2, 3, 4, -1000, 0, 0, 1000};
        softmax_rows(rows, 2, 4);
        for (int r = 0; r < 2; r++) {
            double s = 0;
            for (int j = 0; j < 4; j++) s += rows[r * 4 + j];
            assert_true(fabs(s - 1.0) < 1e-6);
        }
        assert_true(rows[7] > 0.999f && rows[4] == 0.0f);
    }
    vec_set_portable(0);
}

/* both softmax paths against a double-precision softmax, rows of many lengths and scales */
static void test_softmax(void **state) {
    (void)state;
    size_t lengths[] = {1, 3, 4, 7, 8, 9, 12, 17, 256, 1000};
    for (int path = 0; path < 2; path++)
        for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
            vec_set_portable(path);
            size_t m = lengths[li], n = 3;
            float *x = rand_array(n * m), *want = malloc(n * m * sizeof *want);
            for (size_t i = 0; i < n * m; i++) x[i] *= 30.0f; /* logits in [-30, 30) */
            if (m > 2) x[1] = -10000.0f;                      /* a masked key */
            for (size_t r = 0; r < n; r++) {
                double mx = -INFINITY, sum = 0.0;
                for (size_t j = 0; j < m; j++) mx = fmax(mx, x[r * m + j]);
                for (size_t j = 0; j < m; j++) sum += exp(x[r * m + j] - mx);
                for (size_t j = 0; j < m; j++) want[r * m + j] = (float)(exp(x[r * m + j] - mx) / sum);
            }
            softmax_rows(x, n, m);
            char what[64];
            snprintf(what, sizeof what, "softmax_rows %s m=%zu", path_names[path], m);
            assert_int_equal(compare_arrays(what, x, want, n * m, 1e-6), 0);
            if (m > 2) assert_true(x[1] == 0.0f); /* masked: exactly no attention */
            free(x), free(want);
        }
    vec_set_portable(0);
}

static void test_layout_and_resample(void **state) {
    (void)state;
    size_t c = 3, h = 2, w = 3;
    float x[18], tok[18], back[18], up[3 * 4 * 6];
    for (int i = 0; i < 18; i++) x[i] = (float)i;
    chw_to_tokens(tok, x, c, h * w);
    assert_true(tok[1] == x[6] && tok[3] == x[1]); /* token 0 ch 1 = x[1*6+0]; token 1 ch 0 = x[1] */
    tokens_to_chw(back, tok, c, h * w);
    assert_memory_equal(back, x, sizeof x);
    upsample_nearest2x(up, x, c, h, w);
    for (size_t ch = 0; ch < c; ch++)
        for (size_t y = 0; y < 2 * h; y++)
            for (size_t xx = 0; xx < 2 * w; xx++)
                assert_true(up[(ch * 2 * h + y) * 2 * w + xx] == x[(ch * h + y / 2) * w + xx / 2]);

    float emb[8];
    timestep_embedding(emb, 10.0f, 8, 1, 0.0f); /* flip: cos first */
    for (int i = 0; i < 4; i++) {
        double f = exp(-log(10000.0) * i / 4.0);
        assert_true(fabs(emb[i] - cos(10.0 * f)) < 1e-5);
        assert_true(fabs(emb[4 + i] - sin(10.0 * f)) < 1e-5);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),     cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_conv2d_winograd),
        cmocka_unit_test(test_attention),  cmocka_unit_test(test_norms),
        cmocka_unit_test(test_elementwise), cmocka_unit_test(test_layout_and_resample),
        cmocka_unit_test(test_softmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
