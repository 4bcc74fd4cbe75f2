/* vec.c — exp, erf and the elementwise kernels built on them, in GCC/Clang vector extensions.
 * Every kernel is written once as a macro over a vector type V of L floats (VI: the matching
 * int vector) and instantiated twice: SSE (4 lanes, every x86-64) and AVX2+FMA (8 lanes).
 * A row's tail is padded into one more vector, so both paths treat every element alike. */
#include "ops/vec.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/ops.h"

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

/* e^x within 2 ulp of expf: e^x = 2^k e^r with k = round(x / ln 2), |r| <= ln(2)/2, e^r by
 * its degree-6 Taylor polynomial (relative error < r^7/7! = 1.3e-7), 2^k built in the exponent
 * bits. x is clamped to [-87.3, 88.7] (the normal range); below -87.3 the result is exactly 0. */
#define DEFINE_EXP(NAME, V, VI)                                                                 \
    static inline V NAME(V x) {                                                                 \
        VI keep = x >= -87.3f; /* all ones where not underflowing */                            \
        x = (V)(((VI)x & keep) | ((VI)((V){0} - 87.3f) & ~keep));                               \
        VI over = x > 88.7f;                                                                    \
        x = (V)(((VI)x & ~over) | ((VI)((V){0} + 88.7f) & over));                               \
        V half = (V)(((VI)((V){0} + 0.5f) & (x >= 0.0f)) | ((VI)((V){0} - 0.5f) & (x < 0.0f))); \
        VI k = __builtin_convertvector(x * 1.44269504f + half, VI); /* round to nearest */      \
        V fk = __builtin_convertvector(k, V);                                                   \
        V r = (x - fk * 0.693145752f) - fk * 1.42860677e-6f;                                    \
        V p = (V){0} + 1.0f / 720;                                                              \
        p = p * r + 1.0f / 120;                                                                 \
        p = p * r + 1.0f / 24;                                                                  \
        p = p * r + 1.0f / 6;                                                                   \
        p = p * r + 0.5f;                                                                       \
        p = p * r + 1.0f;                                                                       \
        p = p * r + 1.0f;                                                                       \
        V e = p * (V)((k + 127) << 23);                                                         \
        return (V)((VI)e & keep);                                                               \
    }

/* erf(x) = sign(x) (1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e^(-x^2)), t = 1 / (1 + p|x|)
 * (Abramowitz & Stegun 7.1.26; absolute error below 1.5e-7) */
#define DEFINE_ERF(NAME, V, VI, EXP)                                                            \
    static inline V NAME(V x) {                                                                 \
        VI sign = (VI)x & INT32_MIN;                                                            \
        V ax = (V)((VI)x ^ sign);                                                               \
        V t = 1.0f / (0.3275911f * ax + 1.0f);                                                  \
        V r = (((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + \
              0.254829592f;                                                                     \
        V y = 1.0f - r * t * EXP(-(x * x));                                                     \
        return (V)((VI)y ^ sign);                                                               \
    }

/* load / store of the n < L floats of a row's tail, padded with `pad` */
#define LOAD_TAIL(V, src, n, pad) ({ V v_ = (V){0} + (pad); memcpy(&v_, (src), (n) * sizeof(float)); v_; })
#define STORE_TAIL(dst, v, n) memcpy((dst), &(v), (n) * sizeof(float))

/* Softmax of each row of x[N, M]; the tail is padded with -inf, whose exp is 0. */
#define DEFINE_SOFTMAX(NAME, V, VI, L, EXP)                                                     \
    static void NAME(float *x, size_t n, size_t m) {                                            \
        for (size_t r = 0; r < n; r++) {                                                        \
            float *row = x + r * m, mx = row[0];                                                \
            size_t j = 0;                                                                       \
            V vmx = (V){0} + row[0];                                                            \
            for (; j + L <= m; j += L) {                                                        \
                V v;                                                                            \
                memcpy(&v, row + j, sizeof v);                                                  \
                vmx = (V)(((VI)v & (v > vmx)) | ((VI)vmx & ~(v > vmx)));                        \
            }                                                                                   \
            for (int i = 0; i < L; i++) mx = vmx[i] > mx ? vmx[i] : mx;                         \
            for (; j < m; j++) mx = row[j] > mx ? row[j] : mx;                                  \
            V acc = {0};                                                                        \
            for (j = 0; j + L <= m; j += L) {                                                   \
                V v;                                                                            \
                memcpy(&v, row + j, sizeof v);                                                  \
                v = EXP(v - mx);                                                                \
                memcpy(row + j, &v, sizeof v);                                                  \
                acc += v;                                                                       \
            }                                                                                   \
            if (j < m) {                                                                        \
                V v = EXP(LOAD_TAIL(V, row + j, m - j, -INFINITY) - mx);                        \
                STORE_TAIL(row + j, v, m - j);                                                  \
                acc += v;                                                                       \
            }                                                                                   \
            float sum = 0.0f;                                                                   \
            for (int i = 0; i < L; i++) sum += acc[i];                                          \
            V inv = (V){0} + 1.0f / sum;                                                        \
            for (j = 0; j + L <= m; j += L) {                                                   \
                V v;                                                                            \
                memcpy(&v, row + j, sizeof v);                                                  \
                v *= inv;                                                                       \
                memcpy(row + j, &v, sizeof v);                                                  \
            }                                                                                   \
            for (; j < m; j++) row[j] *= inv[0];                                                \
        }                                                                                       \
    }

/* One elementwise map y[i] = F(x[i]) written as a loop body over vector v (and, for the
 * two-input maps, w from the second array), with the tail padded. */
#define MAP1(V, L, y, x, n, BODY)                                                               \
    do {                                                                                        \
        size_t i_ = 0;                                                                          \
        for (; i_ + L <= (n); i_ += L) {                                                        \
            V v;                                                                                \
            memcpy(&v, (x) + i_, sizeof v);                                                     \
            BODY;                                                                               \
            memcpy((y) + i_, &v, sizeof v);                                                     \
        }                                                                                       \
        if (i_ < (n)) {                                                                         \
            V v = LOAD_TAIL(V, (x) + i_, (n) - i_, 0.0f);                                       \
            BODY;                                                                               \
            STORE_TAIL((y) + i_, v, (n) - i_);                                                  \
        }                                                                                       \
    } while (0)

#define MAP2(V, L, y, x, x2, n, BODY)                                                           \
    do {                                                                                        \
        size_t i_ = 0;                                                                          \
        for (; i_ + L <= (n); i_ += L) {                                                        \
            V v, w;                                                                             \
            memcpy(&v, (x) + i_, sizeof v);                                                     \
            memcpy(&w, (x2) + i_, sizeof w);                                                    \
            BODY;                                                                               \
            memcpy((y) + i_, &v, sizeof v);                                                     \
        }                                                                                       \
        if (i_ < (n)) {                                                                         \
            V v = LOAD_TAIL(V, (x) + i_, (n) - i_, 0.0f);                                       \
            V w = LOAD_TAIL(V, (x2) + i_, (n) - i_, 0.0f);                                      \
            BODY;                                                                               \
            STORE_TAIL((y) + i_, v, (n) - i_);                                                  \
        }                                                                                       \
    } while (0)

/* The kernels of vec.h, for one vector width; SUFFIX names the instance. */
#define DEFINE_KERNELS(SUFFIX, V, VI, L)                                                        \
    DEFINE_ERF(erf_##SUFFIX, V, VI, exp_##SUFFIX)                                               \
    DEFINE_SOFTMAX(softmax_##SUFFIX, V, VI, L, exp_##SUFFIX)                                    \
    static void scale_shift_##SUFFIX(float *y, const float *x, size_t n, float scale,           \
                                     float shift, int silu) {                                   \
        if (silu)                                                                               \
            MAP1(V, L, y, x, n, v = v * scale + shift; v = v / (1.0f + exp_##SUFFIX(-v)));      \
        else                                                                                    \
            MAP1(V, L, y, x, n, v = v * scale + shift);                                         \
    }                                                                                           \
    static void normalize_##SUFFIX(float *y, const float *x, size_t n, float mean, float rstd,  \
                                   const float *gamma, const float *beta) {                     \
        size_t i = 0;                                                                           \
        for (; i + L <= n; i += L) {                                                            \
            V v, g, b;                                                                          \
            memcpy(&v, x + i, sizeof v);                                                        \
            memcpy(&g, gamma + i, sizeof g);                                                    \
            memcpy(&b, beta + i, sizeof b);                                                     \
            v = (v - mean) * rstd * g + b;                                                      \
            memcpy(y + i, &v, sizeof v);                                                        \
        }                                                                                       \
        for (; i < n; i++) y[i] = (x[i] - mean) * rstd * gamma[i] + beta[i];                    \
    }                                                                                           \
    static void geglu_##SUFFIX(float *out, const float *h, const float *gate, size_t n) {       \
        MAP2(V, L, out, gate, h, n,                                                             \
             v = w * (0.5f * v * (1.0f + erf_##SUFFIX(v * 0.70710678118654752440f))));         \
    }                                                                                           \
    static void silu_##SUFFIX(float *x, size_t n) {                                             \
        MAP1(V, L, x, x, n, v = v / (1.0f + exp_##SUFFIX(-v)));                                 \
    }

DEFINE_EXP(exp_sse, v4f, v4i)
DEFINE_KERNELS(sse, v4f, v4i, 4)

#if defined(__x86_64__) && defined(__GNUC__)
#define XATTN_HAVE_AVX2_PATH 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
#include "ops/vec_avx2.h"
static inline v8f exp_avx2(v8f x) { return (v8f)exp_avx2_ps((__m256)x); }
DEFINE_KERNELS(avx2, v8f, v8i, 8)
#pragma GCC pop_options
#endif

static int level_cap = VEC_AVX512; /* vec_set_level */

/* the widest path this CPU has (benign race: every thread computes the same value) */
static int cpu_level(void) {
#ifdef XATTN_HAVE_AVX2_PATH
    static int level = -1;
    if (level < 0) {
        int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        level = !avx2 ? VEC_PORTABLE : __builtin_cpu_supports("avx512f") ? VEC_AVX512 : VEC_AVX2;
    }
    return level;
#else
    return VEC_PORTABLE;
#endif
}

int vec_level(void) { return cpu_level() < level_cap ? cpu_level() : level_cap; }

/* whether to take the 8-lane path */
static int use_avx2(void) { return vec_level() >= VEC_AVX2; }

void vec_set_level(int level) {
    level_cap = level < VEC_PORTABLE ? VEC_PORTABLE : level > VEC_AVX512 ? VEC_AVX512 : level;
}

void vec_set_portable(int portable) { vec_set_level(portable ? VEC_PORTABLE : VEC_AVX512); }

int vec_have_avx512(void) { return vec_level() >= VEC_AVX512; }

#ifdef XATTN_HAVE_AVX2_PATH
#define DISPATCH(NAME, ...) (use_avx2() ? NAME##_avx2(__VA_ARGS__) : NAME##_sse(__VA_ARGS__))
#else
#define DISPATCH(NAME, ...) NAME##_sse(__VA_ARGS__)
#endif

void softmax_rows(float *x, size_t n, size_t m) { DISPATCH(softmax, x, n, m); }

void softmax_rows_strided(float *x, size_t n, size_t m, size_t stride) {
    for (size_t r = 0; r < n; r++) DISPATCH(softmax, x + r * stride, 1, m);
}

int vec_have_avx2(void) { return use_avx2(); }

void vec_scale_shift(float *y, const float *x, size_t n, float scale, float shift, int silu) {
    DISPATCH(scale_shift, y, x, n, scale, shift, silu);
}

void vec_normalize(float *y, const float *x, size_t n, float mean, float rstd, const float *gamma,
                   const float *beta) {
    DISPATCH(normalize, y, x, n, mean, rstd, gamma, beta);
}

void vec_geglu(float *out, const float *h, const float *gate, size_t n) {
    DISPATCH(geglu, out, h, gate, n);
}

void vec_silu(float *x, size_t n) { DISPATCH(silu, x, n); }
