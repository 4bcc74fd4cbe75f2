/* vec.h — the elementwise kernels written in vector lanes (inside ops; see ops.h for the public
 * ones). Each has an AVX2+FMA path of 8 lanes, chosen at run time, and a 4-lane path every
 * x86-64 CPU can take; both compute the same formulas. Attention (attention.c) also has one of
 * 16 lanes for AVX-512F; the level functions below choose among them. */
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

/* The vector paths, narrowest first. A kernel takes the widest one it has that both the CPU
 * and the cap (vec_set_level) allow; only attention has a 16-lane path so far. */
enum { VEC_PORTABLE = 0, VEC_AVX2 = 1, VEC_AVX512 = 2 };

/* Whether the 8-lane (AVX2+FMA) paths run: the CPU has them and the cap allows them. */
int vec_have_avx2(void);

/* Whether the 16-lane (AVX-512F) paths run: the CPU has AVX-512F (and AVX2+FMA) and the cap
 * allows them. */
int vec_have_avx512(void);

/* The widest path that runs now: the CPU's, capped by vec_set_level. */
int vec_level(void);

/* Cap the paths at level (VEC_PORTABLE, VEC_AVX2 or VEC_AVX512 = no cap), for the tests. */
void vec_set_level(int level);

/* Non-zero: every kernel here (and softmax_rows) takes the 4-lane path, for the tests; zero:
 * no cap (vec_set_level(VEC_AVX512)). */
void vec_set_portable(int portable);

#endif
