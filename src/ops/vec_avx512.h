/* vec_avx512.h — e^x in 16 AVX-512F lanes, for the kernels compiled for AVX-512F (attention.c).
 * The same formula, step for step, as exp_avx2_ps in vec_avx2.h (and so as vec.c's 4-lane exp):
 * within 2 ulp of expf, exactly 0 below -87.3; lane for lane it gives the same bits. */
#ifndef XATTN_OPS_VEC_AVX512_H
#define XATTN_OPS_VEC_AVX512_H

#include <immintrin.h>

__attribute__((target("avx512f"))) static inline __m512 exp_avx512_ps(__m512 x) {
    __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_GE_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
    __m512i k = _mm512_cvtps_epi32(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f))); /* nearest */
    __m512 fk = _mm512_cvtepi32_ps(k);
    __m512 r = _mm512_fnmadd_ps(fk, _mm512_set1_ps(0.693145752f), x); /* x - k ln 2, in two parts */
    r = _mm512_fnmadd_ps(fk, _mm512_set1_ps(1.42860677e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512i two_k = _mm512_slli_epi32(_mm512_add_epi32(k, _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps(keep, p, _mm512_castsi512_ps(two_k)); /* 0 where x < -87.3 */
}

#endif
