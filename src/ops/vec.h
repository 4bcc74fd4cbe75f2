/* vec.h — the elementwise kernels written in vector lanes (inside ops; see ops.h for the public
 * ones). Each has an AVX2+FMA path of 8 lanes, chosen at run time, and a 4-lane path every
 * x86-64 CPU can take; both compute the same formulas. */
#ifndef XATTN_OPS_VEC_H
#define XATTN_OPS_VEC_H

#include <stddef.h>

/* y[i] = x[i] * scale + shift, then silu (y * sigmoid(y)) when silu is set. In place allowed. */
void vec_scale_shift(float *y, const float *x, size_t n, float scale, float shift, int silu);

/* y[i] = (x[i] - mean) * rstd * gamma[i] + beta[i]: LayerNorm's last step. In place allowed. */
void vec_normalize(float *y, const float *x, size_t n, float mean, float rstd, const float *gamma,
                   const float *beta);

/* out[i] = h[i] * gelu(gate[i]), gelu(g) = g/2 (1 + erf(g / sqrt 2)) with erf as PyTorch's
 * vectorised CPU kernel computes it (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
void vec_geglu(float *out, const float *h, const float *gate, size_t n);

/* x[i] = x[i] * sigmoid(x[i]), in place. */
void vec_silu(float *x, size_t n);

/* softmax_rows on n rows of m floats that lie `stride` apart. */
void softmax_rows_strided(float *x, size_t n, size_t m, size_t stride);

/* Whether the 8-lane (AVX2+FMA) paths run: the CPU has them and vec_set_portable is off. */
int vec_have_avx2(void);

/* Non-zero: every kernel here (and softmax_rows) takes the 4-lane path, for the tests. */
void vec_set_portable(int portable);

#endif
