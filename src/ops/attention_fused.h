/* attention_fused.h — the fused attention kernels for one (image, head), in 8 lanes (AVX2 + FMA,
 * attention_avx2.c) and 16 lanes (AVX-512F, attention_avx512.c); attention.c dispatches to them.
 *
 * out[i, :dh] (row stride ld) = softmax(q_i K^T * scale + bias) (* key_scale) V for the N rows of
 * q (row stride ld); k, v: [M, dh] with row stride ld; bias, key_scale: [M] or NULL.
 * scratch: (dh + FUSED_ROWS) * M16 floats (attention_scratch_floats). probs, if not NULL,
 * receives P [N, M] as the sgemm path holds it (after any key_scale). dh: a multiple of 8, at
 * most 64. Only x86-64 with GCC-style target attributes builds them (XATTN_HAVE_FUSED). */
#ifndef XATTN_OPS_ATTENTION_FUSED_H
#define XATTN_OPS_ATTENTION_FUSED_H

#include <stddef.h>

#define FUSED_ROWS 8 /* query rows per block */

#if defined(__x86_64__) && defined(__GNUC__)
#define XATTN_HAVE_FUSED 1
void attention_head_fused8(float *out, float *probs, const float *q, const float *k,
                           const float *v, const float *bias, const float *key_scale, size_t ld,
                           size_t n, size_t m, size_t dh, float scale, float *scratch);
void attention_head_fused16(float *out, float *probs, const float *q, const float *k,
                            const float *v, const float *bias, const float *key_scale, size_t ld,
                            size_t n, size_t m, size_t dh, float scale, float *scratch);
#endif

#endif
