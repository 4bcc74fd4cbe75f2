/* attention_avx512.c — the fused attention kernel in 16 lanes (AVX-512F); see
 * attention_fused.h. */
#include "ops/attention_fused.h"

#ifdef XATTN_HAVE_FUSED
#include <math.h>
#include <string.h>

#pragma GCC target("avx512f,avx2,fma")
#include "ops/vec_avx512.h"

/* lanes of keys j .. j+15 that are keys (below M) */
static inline __mmask16 key_mask16(size_t j, size_t m) {
    return j + 16 <= m ? (__mmask16)0xFFFF : j >= m ? (__mmask16)0 : (__mmask16)((1u << (m - j)) - 1);
}

/* keys j .. j+15's bias, -inf past M (their e^x is 0) */
static inline __m512 key_bias16(const float *bias, size_t j, size_t m) {
    __mmask16 in = key_mask16(j, m);
    __m512 ninf = _mm512_set1_ps(-INFINITY);
    return bias ? _mm512_mask_loadu_ps(ninf, in, bias + j) : _mm512_mask_mov_ps(ninf, in, _mm512_setzero_ps());
}

/* attention_head_fused8 in 16 lanes (AVX-512F), the same arithmetic: scratch holds K^T
 * [dh, M16] and the scores [8, M16]. Q K^T goes 8 rows x 32 keys per step of d (10 loads per
 * 16 FMAs), P V 8 rows x 32 columns of the head (10 loads per 16 FMAs), or x 16 (9 per 8) for
 * the last 16 columns, or 8 of them under a mask when dh % 16 == 8. Every accumulator and row
 * maximum is a named variable, so that they stay in registers. */
void attention_head_fused16(float *out, float *probs, const float *q, const float *k,
                              const float *v, const float *bias, const float *key_scale,
                              size_t ld, size_t n, size_t m, size_t dh, float scale,
                              float *scratch) {
    size_t m16 = (m + 15) & ~(size_t)15;
    float *kt = scratch, *s = scratch + dh * m16;
    for (size_t d = 0; d < dh; d++) { /* kt[d, j] = k[j, d], zero past M */
        for (size_t j = 0; j < m; j++) kt[d * m16 + j] = k[j * ld + d];
        for (size_t j = m; j < m16; j++) kt[d * m16 + j] = 0.0f;
    }
    const __m512 vscale = _mm512_set1_ps(scale);
    float *const s0 = s, *const s1 = s0 + m16, *const s2 = s1 + m16, *const s3 = s2 + m16;
    float *const s4 = s3 + m16, *const s5 = s4 + m16, *const s6 = s5 + m16, *const s7 = s6 + m16;
    for (size_t i0 = 0; i0 < n; i0 += FUSED_ROWS) {
        /* a short last block repeats its last row */
#define ROW_PTR(r) (q + (i0 + (size_t)(r) < n ? i0 + (size_t)(r) : n - 1) * ld)
        const float *q0 = ROW_PTR(0), *q1 = ROW_PTR(1), *q2 = ROW_PTR(2), *q3 = ROW_PTR(3);
        const float *q4 = ROW_PTR(4), *q5 = ROW_PTR(5), *q6 = ROW_PTR(6), *q7 = ROW_PTR(7);
#undef ROW_PTR
        /* s[r, j] = q_r . k_j * scale + bias[j], and each row's running maximum */
        __m512 mx0 = _mm512_set1_ps(-INFINITY), mx1 = mx0, mx2 = mx0, mx3 = mx0, mx4 = mx0,
               mx5 = mx0, mx6 = mx0, mx7 = mx0;
        size_t kj = 0;
#define QK2(R, A0, A1)                                                                           \
    do {                                                                                         \
        __m512 x0_ = _mm512_fmadd_ps(A0, vscale, b0), x1_ = _mm512_fmadd_ps(A1, vscale, b1);     \
        mx##R = _mm512_max_ps(mx##R, _mm512_max_ps(x0_, x1_));                                   \
        _mm512_storeu_ps(s##R + kj, x0_);                                                        \
        _mm512_storeu_ps(s##R + kj + 16, x1_);                                                   \
    } while (0)
        for (; kj + 32 <= m16; kj += 32) { /* 8 rows x 32 keys */
            __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
                   a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00, a60 = a00,
                   a61 = a00, a70 = a00, a71 = a00;
            for (size_t d = 0; d < dh; d++) {
                const float *kd = kt + d * m16 + kj;
                __m512 k0 = _mm512_loadu_ps(kd), k1 = _mm512_loadu_ps(kd + 16), b;
                b = _mm512_set1_ps(q0[d]), a00 = _mm512_fmadd_ps(b, k0, a00), a01 = _mm512_fmadd_ps(b, k1, a01);
                b = _mm512_set1_ps(q1[d]), a10 = _mm512_fmadd_ps(b, k0, a10), a11 = _mm512_fmadd_ps(b, k1, a11);
                b = _mm512_set1_ps(q2[d]), a20 = _mm512_fmadd_ps(b, k0, a20), a21 = _mm512_fmadd_ps(b, k1, a21);
                b = _mm512_set1_ps(q3[d]), a30 = _mm512_fmadd_ps(b, k0, a30), a31 = _mm512_fmadd_ps(b, k1, a31);
                b = _mm512_set1_ps(q4[d]), a40 = _mm512_fmadd_ps(b, k0, a40), a41 = _mm512_fmadd_ps(b, k1, a41);
                b = _mm512_set1_ps(q5[d]), a50 = _mm512_fmadd_ps(b, k0, a50), a51 = _mm512_fmadd_ps(b, k1, a51);
                b = _mm512_set1_ps(q6[d]), a60 = _mm512_fmadd_ps(b, k0, a60), a61 = _mm512_fmadd_ps(b, k1, a61);
                b = _mm512_set1_ps(q7[d]), a70 = _mm512_fmadd_ps(b, k0, a70), a71 = _mm512_fmadd_ps(b, k1, a71);
            }
            __m512 b0 = key_bias16(bias, kj, m), b1 = key_bias16(bias, kj + 16, m);
            QK2(0, a00, a01); QK2(1, a10, a11); QK2(2, a20, a21); QK2(3, a30, a31);
            QK2(4, a40, a41); QK2(5, a50, a51); QK2(6, a60, a61); QK2(7, a70, a71);
        }
#undef QK2
        if (kj < m16) { /* a last 16 keys: 8 rows x 16 keys */
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            for (size_t d = 0; d < dh; d++) {
                __m512 kv = _mm512_loadu_ps(kt + d * m16 + kj);
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(q0[d]), kv, a0);
                a1 = _mm512_fmadd_ps(_mm512_set1_ps(q1[d]), kv, a1);
                a2 = _mm512_fmadd_ps(_mm512_set1_ps(q2[d]), kv, a2);
                a3 = _mm512_fmadd_ps(_mm512_set1_ps(q3[d]), kv, a3);
                a4 = _mm512_fmadd_ps(_mm512_set1_ps(q4[d]), kv, a4);
                a5 = _mm512_fmadd_ps(_mm512_set1_ps(q5[d]), kv, a5);
                a6 = _mm512_fmadd_ps(_mm512_set1_ps(q6[d]), kv, a6);
                a7 = _mm512_fmadd_ps(_mm512_set1_ps(q7[d]), kv, a7);
            }
            __m512 b0 = key_bias16(bias, kj, m);
#define QK1(R, A)                                                                                \
    do {                                                                                         \
        __m512 x_ = _mm512_fmadd_ps(A, vscale, b0);                                              \
        mx##R = _mm512_max_ps(mx##R, x_);                                                        \
        _mm512_storeu_ps(s##R + kj, x_);                                                         \
    } while (0)
            QK1(0, a0); QK1(1, a1); QK1(2, a2); QK1(3, a3); QK1(4, a4); QK1(5, a5); QK1(6, a6); QK1(7, a7);
#undef QK1
        }
        /* s[r, j] = e^(s[r, j] - max_r); sum_r of them (P's normalisation, applied to the output),
         * then key_scale, which is not renormalised */
        const __m512 mxs[FUSED_ROWS] = {mx0, mx1, mx2, mx3, mx4, mx5, mx6, mx7};
        float inv[FUSED_ROWS];
        for (int r = 0; r < FUSED_ROWS; r++) {
            float *sr = s + (size_t)r * m16;
            __m512 vmx = _mm512_set1_ps(_mm512_reduce_max_ps(mxs[r])), sum = _mm512_setzero_ps();
            for (size_t j = 0; j < m16; j += 16) {
                __m512 e = exp_avx512_ps(_mm512_sub_ps(_mm512_loadu_ps(sr + j), vmx));
                sum = _mm512_add_ps(sum, e);
                if (key_scale) /* zero past M, where e is 0 already */
                    e = _mm512_mul_ps(e, _mm512_maskz_loadu_ps(key_mask16(j, m), key_scale + j));
                _mm512_storeu_ps(sr + j, e);
            }
            inv[r] = 1.0f / _mm512_reduce_add_ps(sum);
            if (probs && i0 + (size_t)r < n) { /* P's row as the sgemm path would hold it */
                __m512 vinv = _mm512_set1_ps(inv[r]);
                float *pr = probs + (i0 + (size_t)r) * m;
                for (size_t j = 0; j < m; j += 16)
                    _mm512_mask_storeu_ps(pr + j, key_mask16(j, m), _mm512_mul_ps(_mm512_loadu_ps(sr + j), vinv));
            }
        }
        /* out_r = (sum_j s[r, j] v_j) / sum_r, for the rows of the block below N */
#define PV_STORE(R, A, OFF, MASK)                                                                \
    do {                                                                                         \
        if (i0 + (size_t)(R) < n)                                                                \
            _mm512_mask_storeu_ps(out + (i0 + (size_t)(R)) * ld + c + (OFF), MASK,               \
                                  _mm512_mul_ps(A, _mm512_set1_ps(inv[R])));                     \
    } while (0)
        size_t c = 0;
        for (; c + 32 <= dh; c += 32) { /* 8 rows x 32 columns */
            __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
                   a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00, a60 = a00,
                   a61 = a00, a70 = a00, a71 = a00;
            for (size_t j = 0; j < m; j++) {
                const float *vj = v + j * ld + c;
                __m512 v0 = _mm512_loadu_ps(vj), v1 = _mm512_loadu_ps(vj + 16), p;
                p = _mm512_set1_ps(s0[j]), a00 = _mm512_fmadd_ps(p, v0, a00), a01 = _mm512_fmadd_ps(p, v1, a01);
                p = _mm512_set1_ps(s1[j]), a10 = _mm512_fmadd_ps(p, v0, a10), a11 = _mm512_fmadd_ps(p, v1, a11);
                p = _mm512_set1_ps(s2[j]), a20 = _mm512_fmadd_ps(p, v0, a20), a21 = _mm512_fmadd_ps(p, v1, a21);
                p = _mm512_set1_ps(s3[j]), a30 = _mm512_fmadd_ps(p, v0, a30), a31 = _mm512_fmadd_ps(p, v1, a31);
                p = _mm512_set1_ps(s4[j]), a40 = _mm512_fmadd_ps(p, v0, a40), a41 = _mm512_fmadd_ps(p, v1, a41);
                p = _mm512_set1_ps(s5[j]), a50 = _mm512_fmadd_ps(p, v0, a50), a51 = _mm512_fmadd_ps(p, v1, a51);
                p = _mm512_set1_ps(s6[j]), a60 = _mm512_fmadd_ps(p, v0, a60), a61 = _mm512_fmadd_ps(p, v1, a61);
                p = _mm512_set1_ps(s7[j]), a70 = _mm512_fmadd_ps(p, v0, a70), a71 = _mm512_fmadd_ps(p, v1, a71);
            }
            const __mmask16 all = 0xFFFF;
            PV_STORE(0, a00, 0, all); PV_STORE(0, a01, 16, all); PV_STORE(1, a10, 0, all); PV_STORE(1, a11, 16, all);
            PV_STORE(2, a20, 0, all); PV_STORE(2, a21, 16, all); PV_STORE(3, a30, 0, all); PV_STORE(3, a31, 16, all);
            PV_STORE(4, a40, 0, all); PV_STORE(4, a41, 16, all); PV_STORE(5, a50, 0, all); PV_STORE(5, a51, 16, all);
            PV_STORE(6, a60, 0, all); PV_STORE(6, a61, 16, all); PV_STORE(7, a70, 0, all); PV_STORE(7, a71, 16, all);
        }
        for (; c < dh; c += 16) { /* 8 rows x 16 columns, or the last 8 under a mask */
            const __mmask16 cols = dh - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)0x00FF;
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            for (size_t j = 0; j < m; j++) {
                __m512 v0 = _mm512_maskz_loadu_ps(cols, v + j * ld + c);
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(s0[j]), v0, a0);
                a1 = _mm512_fmadd_ps(_mm512_set1_ps(s1[j]), v0, a1);
                a2 = _mm512_fmadd_ps(_mm512_set1_ps(s2[j]), v0, a2);
                a3 = _mm512_fmadd_ps(_mm512_set1_ps(s3[j]), v0, a3);
                a4 = _mm512_fmadd_ps(_mm512_set1_ps(s4[j]), v0, a4);
                a5 = _mm512_fmadd_ps(_mm512_set1_ps(s5[j]), v0, a5);
                a6 = _mm512_fmadd_ps(_mm512_set1_ps(s6[j]), v0, a6);
                a7 = _mm512_fmadd_ps(_mm512_set1_ps(s7[j]), v0, a7);
            }
            PV_STORE(0, a0, 0, cols); PV_STORE(1, a1, 0, cols); PV_STORE(2, a2, 0, cols); PV_STORE(3, a3, 0, cols);
            PV_STORE(4, a4, 0, cols); PV_STORE(5, a5, 0, cols); PV_STORE(6, a6, 0, cols); PV_STORE(7, a7, 0, cols);
        }
#undef PV_STORE
    }
}
#endif
