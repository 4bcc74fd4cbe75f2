/* attention.c — multi-head scaled-dot-product attention (see ops.h for shapes).
 *
 * For each image b and head h, with Q_h [N, dh], K_h [M, dh], V_h [M, dh] the head's columns of
 * q, k, v (row stride heads * dh):
 *
 *     P     = softmax(Q_h K_h^T / sqrt(dh) + bias)     [N, M], each row sums to 1
 *     P    *= key_scale                                [N, M], per key (Prompt-to-Prompt)
 *     out_h = P V_h                                    [N, dh]
 *
 * attention_head_sgemm below is that, readably, on cblas_sgemm, on every CPU. Where the CPU has
 * AVX-512F (16 lanes) or else AVX2 and FMA (8 lanes), heads whose size is a multiple of 8 (up to
 * 64) go to the fused kernels (attention_avx512.c, attention_avx2.c): 8 query rows at a time,
 * their scores stay in L1 from Q K^T through the softmax to P V. Self-attention over a 16x16
 * grid has N = M = 256 and a head size of 16: products far too thin for a BLAS. Both give the
 * same results up to rounding (the ops test checks it). attention_forward_scaled dispatches. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "ops/attention_fused.h"
#include "ops/ops.h"
#include "ops/vec.h"

/* per thread: P [N, M] (the sgemm path's, and the fused one's when a caller wants to see it),
 * then the fused kernel's K^T [dh, M16] and scores [ROWS, M16] (M rounded up to 16, which
 * covers both the 8-lane kernel's M8 and the 16-lane one's M16) */
size_t attention_scratch_floats(size_t n, size_t m, size_t dh) {
    size_t m16 = (m + 15) & ~(size_t)15;
    return n * m + (dh + FUSED_ROWS) * m16;
}

/* --- the reference path ------------------------------------------------------------------- */

/* One (image, head) on cblas_sgemm. q [N, dh], k, v [M, dh], out [N, dh], all with row stride
 * ld; bias, key_scale [M] or NULL; p: scratch [N, M], left holding P. */
static void attention_head_sgemm(float *out, float *p, const float *q, const float *k,
                                 const float *v, const float *bias, const float *key_scale,
                                 size_t ld, size_t n, size_t m, size_t dh, float scale) {
    /* p[N, M] = Q_h[N, dh] @ K_h[M, dh]^T * scale */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)dh, scale, q,
                (int)ld, k, (int)ld, 0.0f, p, (int)m);
    if (bias)
        for (size_t i = 0; i < n; i++) add_inplace(p + i * m, bias, m);
    softmax_rows(p, n, m);
    if (key_scale) /* p[i, j] *= key_scale[j] */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < m; j++) p[i * m + j] *= key_scale[j];
    /* out_h[N, dh] = p[N, M] @ V_h[M, dh] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)dh, (int)m, 1.0f, p,
                (int)m, v, (int)ld, 0.0f, out, (int)ld);
}

/* --- dispatch ------------------------------------------------------------------------------ */

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
        float *ob = out + b * n * ld + h * dh;
        const float *qb = q + b * n * ld + h * dh, *kb = k + b * m * ld + h * dh,
                    *vb = v + b * m * ld + h * dh;
        const float *bias = key_bias ? key_bias + b * m : NULL;
        const float *kscale = key_scale ? key_scale + b * m : NULL;
#ifdef XATTN_HAVE_FUSED
        if (fused) {
            (fused == 2 ? attention_head_fused16 : attention_head_fused8)(
                ob, probs_fn ? p : NULL, qb, kb, vb, bias, kscale, ld, n, m, dh, scale, p + n * m);
            if (probs_fn) probs_fn(p, b, h, n, m, user);
            continue;
        }
#endif
        attention_head_sgemm(ob, p, qb, kb, vb, bias, kscale, ld, n, m, dh, scale);
        if (probs_fn) probs_fn(p, b, h, n, m, user);
    }
    (void)fused;
}
