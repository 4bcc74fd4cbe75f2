/* ops.h — the U-Net's kernels, with PyTorch's semantics.
 *
 * Conventions: outputs first, then inputs (const), then dimensions (size_t).
 * Feature maps are NCHW, one image at a time unless a batch dimension is named; token
 * sequences are row-major [N, C] (N tokens of C channels). Weights use PyTorch's layouts:
 * Linear [out, in], Conv2d [OC, IC, K, K].
 * Where a BLAS-backed kernel exists, a plain-loop *_ref twin stays beside it as the reference
 * the tests compare against. Scratch buffers are passed in, never allocated here. */
#ifndef XATTN_OPS_H
#define XATTN_OPS_H

#include <stddef.h>

/* --- dense ------------------------------------------------------------------------------ */

/* out[N, OUT] = in[N, IN] @ W[OUT, IN]^T + b[OUT] (b may be NULL). */
void linear_forward(float *out, const float *in, const float *weight, const float *bias,
                    size_t n, size_t in_dim, size_t out_dim);
void linear_forward_ref(float *out, const float *in, const float *weight, const float *bias,
                        size_t n, size_t in_dim, size_t out_dim);
/* The same with the weight stored transposed, weight_t[IN, OUT] (the faster form). */
void linear_forward_t(float *out, const float *in, const float *weight_t, const float *bias,
                      size_t n, size_t in_dim, size_t out_dim);
/* out[cols, rows] = in[rows, cols]^T */
void transpose(float *out, const float *in, size_t rows, size_t cols);

/* Output size of a convolution along one axis. */
size_t conv2d_out_size(size_t in, size_t k, size_t stride, size_t pad);

/* out[OC, OH, OW] = conv2d(in[IC, H, W], weight[OC, IC, K, K]) + bias[OC], zero padding.
 * col: scratch of IC*K*K * OH*OW floats (unused when K == 1, stride 1, pad 0). */
void conv2d_forward(float *out, float *col, const float *in, const float *weight,
                    const float *bias, size_t ic, size_t h, size_t w, size_t oc, size_t k,
                    size_t stride, size_t pad);
void conv2d_forward_ref(float *out, const float *in, const float *weight, const float *bias,
                        size_t ic, size_t h, size_t w, size_t oc, size_t k, size_t stride,
                        size_t pad);

/* A 3x3 convolution, stride 1, padding 1, by Winograd's F(2x2, 3x3) (see winograd.c): the same
 * sums as conv2d_forward in another order, with 2.25x fewer multiply-adds.
 * u[16, OC, IC] = winograd_weights(weight[OC, IC, 3, 3]), computed once;
 * scratch: winograd_scratch_floats(IC, OC, H, W) floats; W at most 2 * WINOGRAD_MAX_TX. */
#define WINOGRAD_MAX_TX 256
size_t winograd_weight_floats(size_t oc, size_t ic);
void winograd_weights(float *u, const float *weight, size_t oc, size_t ic);
size_t winograd_scratch_floats(size_t ic, size_t oc, size_t h, size_t w);
void conv2d_winograd(float *out, float *scratch, const float *in, const float *u,
                     const float *bias, size_t ic, size_t h, size_t w, size_t oc);

/* The same by F(4x4, 3x3) (see winograd4.c): 4x fewer multiply-adds than conv2d_forward, with
 * transform coefficients up to 8 (so a little more rounding). u[36, OC, IC]. */
size_t winograd4_weight_floats(size_t oc, size_t ic);
void winograd4_weights(float *u, const float *weight, size_t oc, size_t ic);
size_t winograd4_scratch_floats(size_t ic, size_t oc, size_t h, size_t w);
void conv2d_winograd4(float *out, float *scratch, const float *in, const float *u,
                      const float *bias, size_t ic, size_t h, size_t w, size_t oc);

/* --- normalisation and activations ---------------------------------------------------- */

/* GroupNorm on x[C, HW] (one image): per group of C/G channels, mean and biased variance over
 * (C/G)*HW values; out = (x - mean) / sqrt(var + eps) * gamma[c] + beta[c]. In place allowed. */
void group_norm_forward(float *out, const float *in, const float *gamma, const float *beta,
                        size_t c, size_t hw, size_t groups, float eps);

/* LayerNorm over the last dimension of x[N, C]. In place allowed. */
void layer_norm_forward(float *out, const float *in, const float *gamma, const float *beta,
                        size_t n, size_t c, float eps);

/* silu(GroupNorm(x)) in one pass. */
void group_norm_silu_forward(float *out, const float *in, const float *gamma, const float *beta,
                             size_t c, size_t hw, size_t groups, float eps);

void silu_inplace(float *x, size_t n);          /* x * sigmoid(x) */

/* GEGLU: proj[N, 2*F] = [h | gate] -> out[N, F] = h * gelu(gate), erf as PyTorch's vectorised
 * CPU kernel computes it (|error| < 1.5e-7; see vec.h). */
void geglu_forward(float *out, const float *proj, size_t n, size_t f);

/* --- attention -------------------------------------------------------------------------- */

/* Multi-head scaled-dot-product attention for a batch of images:
 *   q[B, N, heads*dh], k[B, M, heads*dh], v[B, M, heads*dh] -> out[B, N, heads*dh],
 *   P_bh = softmax(Q_bh K_bh^T / sqrt(dh) + bias_b), out_bh = P_bh V_bh,
 * with key_bias[B, M] added to every row (NULL = none; diffusers uses (1 - mask) * -10000).
 * probs: scratch of threads * attention_scratch_floats(N, M, dh) floats (threads =
 * omp_get_max_threads(); 1 when called from inside a parallel region, where every kernel here
 * runs on the calling thread). Head sizes that are a multiple of 8 run fused on AVX2 CPUs (see
 * attention.c), with the same results up to rounding. probs_fn, if set, sees each
 * (image, head)'s P [N, M] after the softmax; it is called from the worker threads, never twice
 * at once for the same (image, head). */
size_t attention_scratch_floats(size_t n, size_t m, size_t dh);
typedef void (*attention_probs_fn)(const float *probs, size_t image, size_t head, size_t n,
                                   size_t m, void *user);
void attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                       const float *key_bias, size_t batch, size_t n, size_t m, size_t heads,
                       size_t dh, attention_probs_fn probs_fn, void *user);
/* The same with key_scale[B, M] (NULL = none) multiplying column j of image b's P after the
 * softmax, before probs_fn and P V: Prompt-to-Prompt re-weighting of the keys (no renormalising). */
void attention_forward_scaled(float *out, float *probs, const float *q, const float *k,
                              const float *v, const float *key_bias, const float *key_scale,
                              size_t batch, size_t n, size_t m, size_t heads, size_t dh,
                              attention_probs_fn probs_fn, void *user);
/* The same for one image, by plain loops in double. */
void attention_forward_ref(float *out, const float *q, const float *k, const float *v,
                           const float *key_bias, size_t n, size_t m, size_t heads, size_t dh);

/* Softmax of each row of x[N, M], in place; exp by a polynomial within 2 ulp of expf, and
 * exactly 0 for a logit more than 87.3 below the row's maximum (8 lanes wide where the CPU has
 * AVX2 and FMA, else 4; see vec.h). */
void softmax_rows(float *x, size_t n, size_t m);

/* --- layout and resampling -------------------------------------------------------------- */

/* out[HW, C] = transpose(in[C, HW]) and back. */
void chw_to_tokens(float *out, const float *in, size_t c, size_t hw);
void tokens_to_chw(float *out, const float *in, size_t c, size_t hw);

/* Nearest-neighbour 2x: out[C, 2H, 2W] from in[C, H, W]. */
void upsample_nearest2x(float *out, const float *in, size_t c, size_t h, size_t w);

/* Sinusoidal timestep embedding as diffusers' get_timestep_embedding (scale 1, max_period
 * 10000): out[dim] = [sin(t f_i) | cos(t f_i)] (cos first when flip_sin_to_cos),
 * f_i = exp(-ln(10000) i / (dim/2 - shift)), computed in float32 like torch. */
void timestep_embedding(float *out, float t, size_t dim, int flip_sin_to_cos, float shift);

/* y[i] += x[i] */
void add_inplace(float *y, const float *x, size_t n);

#endif
