/* test_rng.c — rng_randn against torch.randn streams dumped by tools/dump_scheduler_reference.py
 * (tests/data/schedulers/rng.json): seeds 0, 42, 2**32+7, sizes 1..768, streams continued over
 * several calls, for torch's AVX2 kernel (expected bit for bit) and its portable libm kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above */
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/rng.h"
#include "reference.h"
#include "test_util.h"

/* Replays every stream of rng.json[kernel]; returns the number of failed draws. atol 0 means
 * bit for bit (besides compare_arrays, which cannot tell -0 from +0, the bits are compared). */
static int check_kernel(const char *kernel, xattn_rng_math math, double atol) {
    cJSON *root = reference_json("tests/data/schedulers/rng.json");
    const cJSON *streams = cJSON_GetObjectItemCaseSensitive(root, kernel);
    assert_true(cJSON_IsArray(streams));
    int failures = 0, n_streams = 0;
    size_t n_values = 0, n_bits_differ = 0;
    const cJSON *stream;
    cJSON_ArrayForEach(stream, streams) {
        double seed = cJSON_GetObjectItemCaseSensitive(stream, "seed")->valuedouble;
        const cJSON *draws = cJSON_GetObjectItemCaseSensitive(stream, "draws");
        const cJSON *values = cJSON_GetObjectItemCaseSensitive(stream, "values");
        assert_int_equal(cJSON_GetArraySize(draws), cJSON_GetArraySize(values));
        xattn_rng rng;
        rng_seed(&rng, (uint64_t)seed);
        rng.math = math;
        for (int d = 0; d < cJSON_GetArraySize(draws); d++) {
            size_t n = (size_t)cJSON_GetArrayItem(draws, d)->valuedouble, n_want;
            float *want = reference_json_floats(cJSON_GetArrayItem(values, d), &n_want);
            assert_int_equal(n, n_want);
            float *got = malloc(n * sizeof *got);
            assert_non_null(got);
            rng_randn(&rng, got, n);
            char what[128];
            snprintf(what, sizeof what, "%s seed %.0f draw %d (n=%zu)", kernel, seed, d, n);
            int bad = compare_arrays(what, got, want, n, atol);
            size_t differ = 0;
            for (size_t i = 0; i < n; i++) differ += memcmp(&got[i], &want[i], sizeof(float)) != 0;
            if (atol == 0 && differ) bad = 1;
            failures += bad;
            n_bits_differ += differ;
            n_values += n;
            free(got);
            free(want);
        }
        n_streams++;
    }
    printf("%s: %d streams, %zu values, %zu not bit-identical\n", kernel, n_streams, n_values,
           n_bits_differ);
    assert_true(n_streams > 0);
    cJSON_Delete(root);
    return failures;
}

static void test_avx2_kernel_bit_exact(void **state) {
    (void)state;
    assert_int_equal(check_kernel("avx2", XATTN_RNG_MATH_AVX2, 0.0), 0);
}

/* libm's logf/cosf/sinf may differ by an ulp from one C library to another. */
static void test_libm_kernel(void **state) {
    (void)state;
    assert_int_equal(check_kernel("default", XATTN_RNG_MATH_LIBM, 1e-6), 0);
}

/* The C++ standard's check of mt19937: the 10000th output of the default seed 5489. */
static void test_mt19937_reference_value(void **state) {
    (void)state;
    xattn_rng rng;
    rng_seed(&rng, 5489);
    uint32_t v = 0;
    for (int i = 0; i < 10000; i++) v = rng_next_u32(&rng);
    assert_int_equal(v, 4123659995u);
}

/* Seeding resets the cached second normal: the same seed gives the same stream again. */
static void test_reseed_clears_cache(void **state) {
    (void)state;
    xattn_rng rng;
    float a[3], b[3];
    rng_seed(&rng, 9);
    rng_randn(&rng, a, 3); /* leaves a cached value */
    rng_seed(&rng, 9);
    rng_randn(&rng, b, 3);
    assert_memory_equal(a, b, sizeof a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avx2_kernel_bit_exact),
        cmocka_unit_test(test_libm_kernel),
        cmocka_unit_test(test_mt19937_reference_value),
        cmocka_unit_test(test_reseed_clears_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
