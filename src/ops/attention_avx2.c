/* attention_avx2.c — the fused attention kernel in 8 lanes (AVX2 + FMA); see attention_fused.h.
 *
 * 8 query rows at a time: their scores [8, M] stay in L1 from Q K^T through the softmax to P V,
 * instead of a [N, M] matrix that goes through memory three times and is packed again for the
 * second product. */
#include "ops/attention_fused.h"

#ifdef XATTN_HAVE_FUSED
#include <math.h>
#include <string.h>

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
void attention_head_fused8(float *out, float *probs, const float *q, const float *k,
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
#endif
