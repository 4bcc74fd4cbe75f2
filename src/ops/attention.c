/* attention.c — multi-head scaled-dot-product attention (see ops.h for shapes).
 *
 * Two ways to one result:
 *  - by cblas_sgemm: per (image, head), P = Q K^T into a [N, M] buffer, softmax, then P V; on
 *    every CPU.
 *  - fused, for head sizes that are a multiple of 8 (up to 64) where the CPU has AVX-512F (16
 *    lanes) or else AVX2 and FMA (8 lanes): 8 query rows at a time, their scores [8, M] stay in L1 from Q K^T through the softmax to
 *    P V, instead of a [N, M] matrix that goes through memory three times and is packed again
 *    for the second product. Self-attention over a 16x16 grid has N = M = 256 and a head size
 *    of 16: products far too thin for a BLAS. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "ops/ops.h"
#include "ops/vec.h"

#define FUSED_ROWS 8 /* query rows per block */

/* per thread: P [N, M] (the sgemm path's, and the fused one's when a caller wants to see it),
 * then the fused kernel's K^T [dh, M16] and scores [ROWS, M16] (M rounded up to 16, which
 * covers both the 8-lane kernel's M8 and the 16-lane one's M16) */
size_t attention_scratch_floats(size_t n, size_t m, size_t dh) {
    size_t m16 = (m + 15) & ~(size_t)15;
    return n * m + (dh + FUSED_ROWS) * m16;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define XATTN_HAVE_FUSED 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include "ops/vec_avx2.h"

/* keys j .. j+7's bias, -inf past M (their e^x is 0) */
static inline __m256 key_bias8(const float *bias, size_t j, size_t m) {
    if (j + 8 <= m) return bias ? _mm256_loadu_ps(bias + j) : _mm256_setzero_ps();
    float bb[8];
    for (int t = 0; t < 8; t++) bb[t] = j + (size_t)t >= m ? -INFINITY : bias ? bias[j + (size_t)t] : 0.0f;
    return _mm256_loadu_ps(bb);
}

/* One (image, head): out[i, :dh] (row stride ld) = softmax(q_i K^T * scale + bias) V for the
 * N rows of q (row stride ld); k, v: [M, dh] with row stride ld. scratch: (dh + 8) * M8 floats;
 * probs, if not NULL, receives P [N, M] as the sgemm path holds it (after any key_scale).
 * The accumulators of a block (8 rows x 8 keys, then 4 rows x 16 columns) live in registers;
 * each row's maximum is kept while its scores are made, and the softmax's 1 / sum scales the
 * output row rather than every probability. */
static void attention_head_fused(float *out, float *probs, const float *q, const float *k,
                                 const float *v, const float *bias, const float *key_scale,
                                 size_t ld, size_t n, size_t m, size_t dh, float scale,
                                 float *scratch) {
    size_t m8 = (m + 7) & ~(size_t)7;
    float *kt = scratch, *s = scratch + dh * m8;
    for (size_t d = 0; d < dh; d++) { /* kt[d, j] = k[j, d], zero past M */
        for (size_t j = 0; j < m; j++) kt[d * m8 + j] = k[j * ld + d];
        for (size_t j = m; j < m8; j++) kt[d * m8 + j] = 0.0f;
    }
    __m256 vscale = _mm256_set1_ps(scale);
    for (size_t i0 = 0; i0 < n; i0 += FUSED_ROWS) {
        const float *qr[FUSED_ROWS]; /* a short last block repeats its last row */
        for (int r = 0; r < FUSED_ROWS; r++) qr[r] = q + (i0 + (size_t)r < n ? i0 + (size_t)r : n - 1) * ld;
        /* s[r, j] = q_r . k_j * scale + bias[j]: 8 keys to a vector, one vector per row */
        __m256 rmax[FUSED_ROWS];
        for (int r = 0; r < FUSED_ROWS; r++) rmax[r] = _mm256_set1_ps(-INFINITY);
        size_t kj = 0;
        for (kj = 0; kj + 16 <= m8; kj += 16) /* 4 rows x 16 keys at a time: 6 loads per 8 FMAs */
            for (int r0 = 0; r0 < FUSED_ROWS; r0 += 4) {
                const float *q0 = qr[r0], *q1 = qr[r0 + 1], *q2 = qr[r0 + 2], *q3 = qr[r0 + 3];
                __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00,
                       a21 = a00, a30 = a00, a31 = a00;
                for (size_t d = 0; d < dh; d++) {
                    __m256 k0 = _mm256_loadu_ps(kt + d * m8 + kj), k1 = _mm256_loadu_ps(kt + d * m8 + kj + 8);
                    __m256 b0 = _mm256_broadcast_ss(q0 + d), b1 = _mm256_broadcast_ss(q1 + d);
                    __m256 b2 = _mm256_broadcast_ss(q2 + d), b3 = _mm256_broadcast_ss(q3 + d);
                    a00 = _mm256_fmadd_ps(b0, k0, a00), a01 = _mm256_fmadd_ps(b0, k1, a01);
                    a10 = _mm256_fmadd_ps(b1, k0, a10), a11 = _mm256_fmadd_ps(b1, k1, a11);
                    a20 = _mm256_fmadd_ps(b2, k0, a20), a21 = _mm256_fmadd_ps(b2, k1, a21);
                    a30 = _mm256_fmadd_ps(b3, k0, a30), a31 = _mm256_fmadd_ps(b3, k1, a31);
                }
                __m256 lo[4] = {a00, a10, a20, a30}, hi[4] = {a01, a11, a21, a31};
                __m256 blo = key_bias8(bias, kj, m), bhi = key_bias8(bias, kj + 8, m);
                for (int r = 0; r < 4; r++) {
                    __m256 x0 = _mm256_fmadd_ps(lo[r], vscale, blo), x1 = _mm256_fmadd_ps(hi[r], vscale, bhi);
                    rmax[r0 + r] = _mm256_max_ps(rmax[r0 + r], _mm256_max_ps(x0, x1));
                    _mm256_storeu_ps(s + (size_t)(r0 + r) * m8 + kj, x0);
                    _mm256_storeu_ps(s + (size_t)(r0 + r) * m8 + kj + 8, x1);
                }
            }
        for (; kj < m8; kj += 8) { /* a last 8 keys: 8 rows x 8 keys */
            __m256 acc[FUSED_ROWS];
#pragma GCC unroll 8
            for (int r = 0; r < FUSED_ROWS; r++) acc[r] = _mm256_setzero_ps();
            for (size_t d = 0; d < dh; d++) {
                __m256 kv = _mm256_loadu_ps(kt + d * m8 + kj);
#pragma GCC unroll 8
                for (int r = 0; r < FUSED_ROWS; r++)
                    acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(qr[r] + d), kv, acc[r]);
            }
            __m256 b = key_bias8(bias, kj, m);
#pragma GCC unroll 8
            for (int r = 0; r < FUSED_ROWS; r++) {
                __m256 x = _mm256_fmadd_ps(acc[r], vscale, b);
                rmax[r] = _mm256_max_ps(rmax[r], x);
                _mm256_storeu_ps(s + (size_t)r * m8 + kj, x);
            }
        }
        /* s[r, j] = e^(s[r, j] - max_r); sum_r of them (P's normalisation, applied to the output) */
        float inv[FUSED_ROWS];
        for (int r = 0; r < FUSED_ROWS; r++) {
            float lanes[8], mx = -INFINITY;
            _mm256_storeu_ps(lanes, rmax[r]);
            for (int t = 0; t < 8; t++) mx = lanes[t] > mx ? lanes[t] : mx;
            __m256 vmx = _mm256_set1_ps(mx), sum = _mm256_setzero_ps();
            for (size_t j = 0; j < m8; j += 8) {
                float *sj = s + (size_t)r * m8 + j;
                __m256 e = exp_avx2_ps(_mm256_sub_ps(_mm256_loadu_ps(sj), vmx));
                _mm256_storeu_ps(sj, e);
                sum = _mm256_add_ps(sum, e);
            }
            _mm256_storeu_ps(lanes, sum);
            float total = 0.0f;
            for (int t = 0; t < 8; t++) total += lanes[t];
            inv[r] = 1.0f / total;
            float *sr = s + (size_t)r * m8;
            if (key_scale) /* re-weighted after the softmax, not renormalised */
                for (size_t j = 0; j < m; j++) sr[j] *= key_scale[j];
            if (probs && i0 + (size_t)r < n) /* P's row as the sgemm path would hold it */
                for (size_t j = 0; j < m; j++) probs[(i0 + (size_t)r) * m + j] = sr[j] * inv[r];
        }
        /* out_r = sum_j s[r, j] v_j, 16 columns of the head at a time for 4 rows */
        for (int r0 = 0; r0 < FUSED_ROWS && i0 + (size_t)r0 < n; r0 += 4) {
            const float *s0 = s + (size_t)r0 * m8, *s1 = s0 + m8, *s2 = s1 + m8, *s3 = s2 + m8;
            for (size_t c = 0; c < dh; c += 16) {
                /* eight named accumulators, so that they stay in registers */
                __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00,
                       a21 = a00, a30 = a00, a31 = a00;
                if (c + 16 <= dh) {
                    for (size_t j = 0; j < m; j++) {
                        __m256 v0 = _mm256_loadu_ps(v + j * ld + c), v1 = _mm256_loadu_ps(v + j * ld + c + 8);
                        __m256 p0 = _mm256_broadcast_ss(s0 + j), p1 = _mm256_broadcast_ss(s1 + j);
                        __m256 p2 = _mm256_broadcast_ss(s2 + j), p3 = _mm256_broadcast_ss(s3 + j);
                        a00 = _mm256_fmadd_ps(p0, v0, a00), a01 = _mm256_fmadd_ps(p0, v1, a01);
                        a10 = _mm256_fmadd_ps(p1, v0, a10), a11 = _mm256_fmadd_ps(p1, v1, a11);
                        a20 = _mm256_fmadd_ps(p2, v0, a20), a21 = _mm256_fmadd_ps(p2, v1, a21);
                        a30 = _mm256_fmadd_ps(p3, v0, a30), a31 = _mm256_fmadd_ps(p3, v1, a31);
                    }
                } else { /* a last chunk of 8 columns when dh % 16 == 8 */
                    for (size_t j = 0; j < m; j++) {
                        __m256 v0 = _mm256_loadu_ps(v + j * ld + c);
                        a00 = _mm256_fmadd_ps(_mm256_broadcast_ss(s0 + j), v0, a00);
                        a10 = _mm256_fmadd_ps(_mm256_broadcast_ss(s1 + j), v0, a10);
                        a20 = _mm256_fmadd_ps(_mm256_broadcast_ss(s2 + j), v0, a20);
                        a30 = _mm256_fmadd_ps(_mm256_broadcast_ss(s3 + j), v0, a30);
                    }
                }
                __m256 lo[4] = {a00, a10, a20, a30}, hi[4] = {a01, a11, a21, a31};
                for (int r = 0; r < 4 && i0 + (size_t)(r0 + r) < n; r++) {
                    float *o = out + (i0 + (size_t)(r0 + r)) * ld + c;
                    __m256 norm = _mm256_set1_ps(inv[r0 + r]);
                    _mm256_storeu_ps(o, _mm256_mul_ps(lo[r], norm));
                    if (c + 16 <= dh) _mm256_storeu_ps(o + 8, _mm256_mul_ps(hi[r], norm));
                }
            }
        }
    }
}
#pragma GCC pop_options

#pragma GCC push_options
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

/* attention_head_fused in 16 lanes (AVX-512F), the same arithmetic: scratch holds K^T
 * [dh, M16] and the scores [8, M16]. Q K^T goes 8 rows x 32 keys per step of d (10 loads per
 * 16 FMAs), P V 8 rows x 32 columns of the head (10 loads per 16 FMAs), or x 16 (9 per 8) for
 * the last 16 columns, or 8 of them under a mask when dh % 16 == 8. Every accumulator and row
 * maximum is a named variable, so that they stay in registers. */
static void attention_head_fused512(float *out, float *probs, const float *q, const float *k,
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
#pragma GCC pop_options
#endif

/* which fused kernel takes heads of this size: 2 the 16-lane one, 1 the 8-lane one, 0 none */
static int fused_ok(size_t dh) {
#ifdef XATTN_HAVE_FUSED
    if (dh % 8 != 0 || dh > 64) return 0;
    return vec_have_avx512() ? 2 : vec_have_avx2() ? 1 : 0;
#else
    (void)dh;
    return 0;
#endif
}

void attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                       const float *key_bias, size_t batch, size_t n, size_t m, size_t heads,
                       size_t dh, attention_probs_fn probs_fn, void *user) {
    attention_forward_scaled(out, probs, q, k, v, key_bias, NULL, batch, n, m, heads, dh, probs_fn,
                             user);
}

void attention_forward_scaled(float *out, float *probs, const float *q, const float *k,
                              const float *v, const float *key_bias, const float *key_scale,
                              size_t batch, size_t n, size_t m, size_t heads, size_t dh,
                              attention_probs_fn probs_fn, void *user) {
    size_t ld = heads * dh;
    float scale = 1.0f / sqrtf((float)dh);
    int fused = fused_ok(dh);
    size_t per_thread = attention_scratch_floats(n, m, dh);
    int parallel = (double)(batch * heads * n * m) * (double)dh > 200000.0 && !omp_in_parallel();
    /* one (image, head) pair per iteration; each thread has its own [N, M] of probs */
#pragma omp parallel for if (parallel) schedule(static)
    for (size_t bh = 0; bh < batch * heads; bh++) {
        size_t b = bh / heads, h = bh % heads;
        float *p = probs + (size_t)omp_get_thread_num() * per_thread;
        const float *qb = q + b * n * ld, *kb = k + b * m * ld, *vb = v + b * m * ld;
        const float *bias = key_bias ? key_bias + b * m : NULL;
#ifdef XATTN_HAVE_FUSED
        if (fused) {
            (fused == 2 ? attention_head_fused512 : attention_head_fused)(
                out + b * n * ld + h * dh, probs_fn ? p : NULL, qb + h * dh, kb + h * dh,
                vb + h * dh, bias, key_scale ? key_scale + b * m : NULL, ld, n, m, dh, scale,
                p + n * m);
            if (probs_fn) probs_fn(p, b, h, n, m, user);
            continue;
        }
#endif
        /* p[N, M] = Q_h[N, dh] @ K_h[M, dh]^T * scale */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)dh, scale,
                    qb + h * dh, (int)ld, kb + h * dh, (int)ld, 0.0f, p, (int)m);
        if (bias)
            for (size_t i = 0; i < n; i++) add_inplace(p + i * m, bias, m);
        softmax_rows(p, n, m);
        if (key_scale) /* p[i, j] *= scale[b, j] */
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < m; j++) p[i * m + j] *= key_scale[b * m + j];
        if (probs_fn) probs_fn(p, b, h, n, m, user);
        /* out_h[N, dh] = p[N, M] @ V_h[M, dh] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)dh, (int)m, 1.0f,
                    p, (int)m, vb + h * dh, (int)ld, 0.0f, out + b * n * ld + h * dh, (int)ld);
    }
    (void)fused;
}
