/* rng.c — mt19937 and torch's randn on the CPU (see rng.h for the algorithm).
 *
 * Bit-exactness rules: every float operation is its own statement (so no compiler contracts a
 * multiply and an add behind our back), and where torch's AVX2 build fuses one, fmaf() does
 * it here. Which pairs torch fuses was found by comparing 320,000 values with torch 2.x. */
#include "sampler/rng.h"

#include <math.h>
#include <string.h>

#define RNG_PI 3.14159265358979323846 /* c10::pi<double> */

/* ------------------------------------------------------------------------------------------ */
/* mt19937 (Matsumoto & Nishimura), 32-bit                                                     */

#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu

void rng_seed(xattn_rng *r, uint64_t seed) {
    r->state[0] = (uint32_t)(seed & 0xffffffffu); /* torch keeps the low 32 bits */
    for (uint32_t i = 1; i < XATTN_MT_N; i++) {
        uint32_t prev = r->state[i - 1];
        r->state[i] = 1812433253u * (prev ^ (prev >> 30)) + i;
    }
    r->next = XATTN_MT_N;
    r->has_cached_normal = 0;
    r->cached_normal = 0.0;
    r->math = XATTN_RNG_MATH_AVX2;
}

static void mt_regenerate(uint32_t *s) {
    for (size_t k = 0; k < XATTN_MT_N; k++) {
        uint32_t y = (s[k] & MT_UPPER) | (s[(k + 1) % XATTN_MT_N] & MT_LOWER);
        s[k] = s[(k + MT_M) % XATTN_MT_N] ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX_A : 0u);
    }
}

uint32_t rng_next_u32(xattn_rng *r) {
    if (r->next >= XATTN_MT_N) {
        mt_regenerate(r->state);
        r->next = 0;
    }
    uint32_t y = r->state[r->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* [0, 1) with 24 random bits: torch's uniform_real_distribution<float>. */
static float uniform_float(xattn_rng *r) {
    return (float)(rng_next_u32(r) & 0xffffffu) * (1.0f / 16777216.0f);
}

/* [0, 1) with 53 random bits: uniform_real_distribution<double>, from random64() = hi << 32 | lo. */
static double uniform_double(xattn_rng *r) {
    uint64_t hi = rng_next_u32(r);
    uint64_t lo = rng_next_u32(r);
    uint64_t bits = ((hi << 32) | lo) & ((UINT64_C(1) << 53) - 1);
    return (double)bits * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------------------------------------ */
/* Float log and sincos as torch's AVX2 kernel evaluates them (Cephes polynomials, after        */
/* Pommier's sse_mathfun), for x > 0 normal (log) and 0 <= x < 8192 (sincos).                   */

static float float_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits_from_float(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* log(x) = e ln2 + log(m), x = m 2^e with m in [sqrt(1/2), sqrt(2)); log(1 + f) by a degree-9
 * polynomial in f = m - 1; ln2 split into q2 + q1 for precision. */
static float cephes_logf(float x) {
    const float sqrt_half = 0.707106781186547524f;
    const float q1 = -2.12194440e-4f, q2 = 0.693359375f;
    const float p[9] = {7.0376836292E-2f,  -1.1514610310E-1f, 1.1676998740E-1f,
                        -1.2420140846E-1f, 1.4249322787E-1f,  -1.6668057665E-1f,
                        2.0000714765E-1f,  -2.4999993993E-1f, 3.3333331174E-1f};
    uint32_t b = bits_from_float(x);
    int exponent = (int)(b >> 23) - 127;
    float m = float_from_bits((b & ~0x7f800000u) | 0x3f000000u); /* mantissa in [0.5, 1) */
    float e = (float)exponent;
    e = e + 1.0f;
    float extra = 0.0f;
    if (m < sqrt_half) { /* m in [0.5, sqrt(1/2)): use 2m and e - 1 */
        extra = m;
        e = e - 1.0f;
    }
    float f = m - 1.0f;
    f = f + extra;
    float z = f * f;
    float y = p[0];
    for (int k = 1; k < 9; k++) y = fmaf(y, f, p[k]);
    y = y * f;
    float eq1 = e * q1;
    y = fmaf(y, z, eq1);        /* y z + e q1 */
    y = fmaf(-z, 0.5f, y);      /* - z / 2 */
    float s = f + y;
    return fmaf(e, q2, s);      /* + e q2 */
}

/* sin and cos of x >= 0: reduce by multiples j of π/4 (j even), then the sin or cos polynomial
 * on [-π/4, π/4] depending on j, with signs from j. */
static void cephes_sincosf(float x, float *sin_out, float *cos_out) {
    const float four_over_pi = 1.27323954473516f;
    const float minus_dp1 = -0.78515625f, minus_dp2 = -2.4187564849853515625e-4f,
                minus_dp3 = -3.77489497744594108e-8f;
    const float sin_c0 = -1.9515295891E-4f, sin_c1 = 8.3321608736E-3f, sin_c2 = -1.6666654611E-1f;
    const float cos_c0 = 2.443315711809948E-005f, cos_c1 = -1.388731625493765E-003f,
                cos_c2 = 4.166664568298827E-002f;

    float scaled = x * four_over_pi;
    int32_t j = (int32_t)scaled;
    j = (j + 1) & ~1;
    float jf = (float)j;
    uint32_t sin_sign = ((uint32_t)j & 4u) << 29;
    uint32_t cos_sign = (~(uint32_t)(j - 2) & 4u) << 29;
    int sin_uses_sin_poly = (j & 2) == 0;

    x = fmaf(jf, minus_dp1, x); /* x - j π/4 in three pieces */
    x = fmaf(jf, minus_dp2, x);
    x = fmaf(jf, minus_dp3, x);
    float z = x * x;

    float yc = cos_c0; /* cos(x) = 1 - z/2 + z^2 (c0 z^2 + c1 z + c2) */
    yc = fmaf(yc, z, cos_c1);
    yc = fmaf(yc, z, cos_c2);
    yc = yc * z;
    float half_z = z * 0.5f;
    yc = fmaf(yc, z, -half_z);
    yc = yc + 1.0f;

    float ys = sin_c0; /* sin(x) = x + x z (c0 z^2 + c1 z + c2) */
    ys = fmaf(ys, z, sin_c1);
    ys = fmaf(ys, z, sin_c2);
    ys = ys * z;
    ys = fmaf(ys, x, x);

    float s = sin_uses_sin_poly ? ys : yc;
    float c = sin_uses_sin_poly ? yc : ys;
    *sin_out = float_from_bits(bits_from_float(s) ^ sin_sign);
    *cos_out = float_from_bits(bits_from_float(c) ^ cos_sign);
}

/* ------------------------------------------------------------------------------------------ */
/* randn                                                                                       */

/* data[16]: uniforms in, normals out; pairs (j, j + 8). mean 0 and std 1 are applied as torch
 * does (v * 1 + 0), which turns a -0 into +0. */
static void box_muller_16(float *data, xattn_rng_math math) {
    const float std = 1.0f, mean = 0.0f;
    for (size_t j = 0; j < 8; j++) {
        float u1 = 1.0f - data[j]; /* (0, 1] */
        float u2 = data[j + 8];
        float radius, s, c;
        if (math == XATTN_RNG_MATH_AVX2) {
            float two_log = -2.0f * cephes_logf(u1);
            radius = sqrtf(two_log);
            float theta = (float)(2.0 * RNG_PI) * u2;
            cephes_sincosf(theta, &s, &c);
        } else {
            float two_log = -2.0f * logf(u1);
            radius = sqrtf(two_log);
            float theta = (float)(2.0 * RNG_PI * (double)u2);
            s = sinf(theta);
            c = cosf(theta);
        }
        float n1 = radius * c;
        float n2 = radius * s;
        n1 = n1 * std;
        n2 = n2 * std;
        data[j] = n1 + mean;
        data[j + 8] = n2 + mean;
    }
}

/* One value of normal_distribution<double>, with torch's cache of the second value. */
static double normal_double(xattn_rng *r) {
    if (r->has_cached_normal) {
        r->has_cached_normal = 0;
        return r->cached_normal * 1.0 + 0.0;
    }
    double u1 = uniform_double(r);
    double u2 = uniform_double(r);
    double radius = sqrt(-2.0 * log1p(-u2));
    double theta = 2.0 * RNG_PI * u1;
    r->cached_normal = radius * sin(theta);
    r->has_cached_normal = 1;
    double v = radius * cos(theta);
    return v * 1.0 + 0.0;
}

void rng_randn(xattn_rng *r, float *out, size_t n) {
    if (n < 16) {
        for (size_t i = 0; i < n; i++) out[i] = (float)normal_double(r);
        return;
    }
    for (size_t i = 0; i < n; i++) out[i] = uniform_float(r);
    for (size_t i = 0; i + 16 <= n; i += 16) box_muller_16(out + i, r->math);
    if (n % 16 != 0) { /* torch redraws the last 16 (overlapping the last full block) */
        float *tail = out + n - 16;
        for (size_t i = 0; i < 16; i++) tail[i] = uniform_float(r);
        box_muller_16(tail, r->math);
    }
}
