/* vec_avx2.h — e^x in 8 AVX2 lanes, for the kernels compiled for AVX2+FMA (vec.c, attention.c).
 * The same approximation as vec.c's 4-lane exp (within 2 ulp of expf, exactly 0 below -87.3),
 * with its polynomial in fused multiply-adds and k rounded by the conversion itself. */
#ifndef XATTN_OPS_VEC_AVX2_H
#define XATTN_OPS_VEC_AVX2_H

#include <immintrin.h>

__attribute__((target("avx2,fma"))) static inline __m256 exp_avx2_ps(__m256 x) {
    __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_GE_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
    __m256i k = _mm256_cvtps_epi32(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f))); /* nearest */
    __m256 fk = _mm256_cvtepi32_ps(k);
    __m256 r = _mm256_fnmadd_ps(fk, _mm256_set1_ps(0.693145752f), x); /* x - k ln 2, in two parts */
    r = _mm256_fnmadd_ps(fk, _mm256_set1_ps(1.42860677e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i two_k = _mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(two_k)), keep);
}

#endif
