/* ops.c — BLAS-backed and elementwise kernels. See ops.h for shapes. */
#include "ops/ops.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

/* 4 floats at a time through GCC/Clang vector extensions (one SSE register on x86-64). */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

/* e^x within 2 ulp of expf: e^x = 2^k e^r with k = round(x / ln 2), |r| <= ln(2)/2, e^r by
 * its degree-6 Taylor polynomial (relative error < r^7/7! = 1.3e-7), 2^k built in the exponent
 * bits. x is clamped to [-87.3, 88.7] (the normal range); below -87.3 the result is exactly 0. */
#define DEFINE_EXP(NAME, V, VI)                                                                 \
    static inline V NAME(V x) {                                                                 \
        VI keep = x >= -87.3f; /* all ones where not underflowing */                            \
        x = (V)(((VI)x & keep) | ((VI)((V){0} - 87.3f) & ~keep));                               \
        VI over = x > 88.7f;                                                                    \
        x = (V)(((VI)x & ~over) | ((VI)((V){0} + 88.7f) & over));                               \
        V half = (V)(((VI)((V){0} + 0.5f) & (x >= 0.0f)) | ((VI)((V){0} - 0.5f) & (x < 0.0f))); \
        VI k = __builtin_convertvector(x * 1.44269504f + half, VI); /* round to nearest */      \
        V fk = __builtin_convertvector(k, V);                                                   \
        V r = (x - fk * 0.693145752f) - fk * 1.42860677e-6f;                                    \
        V p = (V){0} + 1.0f / 720;                                                              \
        p = p * r + 1.0f / 120;                                                                 \
        p = p * r + 1.0f / 24;                                                                  \
        p = p * r + 1.0f / 6;                                                                   \
        p = p * r + 0.5f;                                                                       \
        p = p * r + 1.0f;                                                                       \
        p = p * r + 1.0f;                                                                       \
        V e = p * (V)((k + 127) << 23);                                                         \
        return (V)((VI)e & keep);                                                               \
    }

DEFINE_EXP(exp_v4, v4f, v4i)

/* ---------------------------------------------------------------------------------------- */
/* dense */

/* Work is split across OpenMP threads by rows of the output (each thread calls a
 * single-threaded sgemm on its slice); small products stay on one thread. The same thread count
 * gives bit-identical results; another count changes OpenBLAS's blocking of a slice, and so the
 * last bits (measured: 1/255 on 1 or 2 pixels of a 32x32 image after 20 steps). */
#define PARALLEL_MIN_FLOPS 200000.0

/* [lo, hi) of n rows for thread t of nt, in multiples of `align` */
static void split_rows(size_t n, int t, int nt, size_t align, size_t *lo, size_t *hi) {
    size_t blocks = (n + align - 1) / align;
    size_t b0 = blocks * (size_t)t / (size_t)nt, b1 = blocks * (size_t)(t + 1) / (size_t)nt;
    *lo = b0 * align < n ? b0 * align : n;
    *hi = b1 * align < n ? b1 * align : n;
}

void linear_forward(float *out, const float *in, const float *weight, const float *bias,
                    size_t n, size_t in_dim, size_t out_dim) {
    int parallel = 2.0 * (double)(n * in_dim * out_dim) > PARALLEL_MIN_FLOPS;
#pragma omp parallel if (parallel)
    {
        size_t lo, hi;
        split_rows(n, omp_get_thread_num(), omp_get_num_threads(), 4, &lo, &hi);
        if (hi > lo) {
            float beta = 0.0f;
            if (bias) {
                for (size_t i = lo; i < hi; i++) memcpy(out + i * out_dim, bias, out_dim * sizeof(float));
                beta = 1.0f;
            }
            /* out[lo:hi, OUT] (+)= in[lo:hi, IN] @ W[OUT, IN]^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(hi - lo), (int)out_dim,
                        (int)in_dim, 1.0f, in + lo * in_dim, (int)in_dim, weight, (int)in_dim, beta,
                        out + lo * out_dim, (int)out_dim);
        }
    }
}

size_t conv2d_out_size(size_t in, size_t k, size_t stride, size_t pad) {
    return (in + 2 * pad - k) / stride + 1;
}

/* col[(ic*K + ky)*K + kx, oy*OW + ox] = in[ic, oy*s - pad + ky, ox*s - pad + kx] (0 outside),
 * for input channels [c0, c1) */
static void im2col(float *col, const float *in, size_t c0, size_t c1, size_t h, size_t w, size_t k,
                   size_t stride, size_t pad, size_t oh, size_t ow) {
    for (size_t c = c0; c < c1; c++) {
        const float *plane = in + c * h * w;
        for (size_t ky = 0; ky < k; ky++) {
            for (size_t kx = 0; kx < k; kx++) {
                float *row = col + ((c * k + ky) * k + kx) * oh * ow;
                /* output columns [x0, x1) read inside the image: ox*s - pad + kx in [0, w) */
                size_t x0 = kx >= pad ? 0 : (pad - kx + stride - 1) / stride;
                size_t x1 = w + pad > kx ? (w + pad - kx + stride - 1) / stride : 0;
                if (x1 > ow) x1 = ow;
                if (x0 > x1) x0 = x1;
                for (size_t oy = 0; oy < oh; oy++) {
                    ptrdiff_t y = (ptrdiff_t)(oy * stride + ky) - (ptrdiff_t)pad;
                    float *dst = row + oy * ow;
                    if (y < 0 || y >= (ptrdiff_t)h) {
                        memset(dst, 0, ow * sizeof(float));
                        continue;
                    }
                    const float *src = plane + (size_t)y * w + x0 * stride + kx - pad;
                    for (size_t ox = 0; ox < x0; ox++) dst[ox] = 0.0f;
                    if (stride == 1) {
                        memcpy(dst + x0, src, (x1 - x0) * sizeof(float));
                    } else {
                        for (size_t ox = x0; ox < x1; ox++) dst[ox] = src[(ox - x0) * stride];
                    }
                    for (size_t ox = x1; ox < ow; ox++) dst[ox] = 0.0f;
                }
            }
        }
    }
}

void conv2d_forward(float *out, float *col, const float *in, const float *weight,
                    const float *bias, size_t ic, size_t h, size_t w, size_t oc, size_t k,
                    size_t stride, size_t pad) {
    size_t oh = conv2d_out_size(h, k, stride, pad), ow = conv2d_out_size(w, k, stride, pad);
    size_t ohw = oh * ow, ickk = ic * k * k;
    int use_col = !(k == 1 && stride == 1 && pad == 0);
    const float *b = use_col ? col : in;
    int parallel = 2.0 * (double)(oc * ohw * ickk) > PARALLEL_MIN_FLOPS;
#pragma omp parallel if (parallel)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        size_t lo, hi;
        if (use_col) {
            split_rows(ic, t, nt, 1, &lo, &hi);
            im2col(col, in, lo, hi, h, w, k, stride, pad, oh, ow);
#pragma omp barrier
        }
        split_rows(oc, t, nt, 4, &lo, &hi);
        if (hi > lo) {
            float beta = 0.0f;
            if (bias) {
                for (size_t o = lo; o < hi; o++)
                    for (size_t i = 0; i < ohw; i++) out[o * ohw + i] = bias[o];
                beta = 1.0f;
            }
            /* out[lo:hi, OHW] (+)= W[lo:hi, IC*K*K] @ col[IC*K*K, OHW] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(hi - lo), (int)ohw,
                        (int)ickk, 1.0f, weight + lo * ickk, (int)ickk, b, (int)ohw, beta,
                        out + lo * ohw, (int)ohw);
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* normalisation and activations */

/* sum of x[i] (squares = 0) or of (x[i] - shift)^2 (squares = 1): float lanes, 4 at a time,
 * each lane's partial sums gathered in double every 256 values */
static double sum_v4(const float *x, size_t n, float shift, int squares) {
    double total = 0.0;
    size_t i = 0;
    while (i + 4 <= n) {
        v4f acc = {0};
        for (size_t end = i + 256 < n ? i + 256 : n; i + 4 <= end; i += 4) {
            v4f v;
            memcpy(&v, x + i, sizeof v);
            v -= shift;
            acc += squares ? v * v : v;
        }
        total += (double)acc[0] + acc[1] + acc[2] + acc[3];
    }
    for (; i < n; i++) total += squares ? (double)(x[i] - shift) * (x[i] - shift) : (double)x[i];
    return total;
}

static void group_norm(float *out, const float *in, const float *gamma, const float *beta,
                       size_t c, size_t hw, size_t groups, float eps, int then_silu) {
    size_t cg = c / groups, n = cg * hw;
#pragma omp parallel for if (c * hw > 16384) schedule(static)
    for (size_t g = 0; g < groups; g++) {
        const float *x = in + g * n;
        double mean = sum_v4(x, n, 0.0f, 0) / (double)n;
        double var = sum_v4(x, n, (float)mean, 1) / (double)n;
        float rstd = (float)(1.0 / sqrt(var + eps)), fmean = (float)mean;
        for (size_t ch = g * cg; ch < (g + 1) * cg; ch++) {
            float scale = rstd * gamma[ch], shift = beta[ch] - fmean * scale;
            const float *xc = in + ch * hw;
            float *yc = out + ch * hw;
            size_t i = 0;
            for (; then_silu && i + 4 <= hw; i += 4) { /* y * sigmoid(y) in the same pass */
                v4f v;
                memcpy(&v, xc + i, sizeof v);
                v = v * scale + shift;
                v = v / (1.0f + exp_v4(-v));
                memcpy(yc + i, &v, sizeof v);
            }
            for (; i < hw; i++) {
                float y = xc[i] * scale + shift;
                yc[i] = then_silu ? y / (1.0f + expf(-y)) : y;
            }
        }
    }
}

void group_norm_forward(float *out, const float *in, const float *gamma, const float *beta,
                        size_t c, size_t hw, size_t groups, float eps) {
    group_norm(out, in, gamma, beta, c, hw, groups, eps, 0);
}

void group_norm_silu_forward(float *out, const float *in, const float *gamma, const float *beta,
                             size_t c, size_t hw, size_t groups, float eps) {
    group_norm(out, in, gamma, beta, c, hw, groups, eps, 1);
}

void layer_norm_forward(float *out, const float *in, const float *gamma, const float *beta,
                        size_t n, size_t c, float eps) {
#pragma omp parallel for if (n * c > 16384) schedule(static)
    for (size_t t = 0; t < n; t++) {
        const float *x = in + t * c;
        float *y = out + t * c;
        double sum = 0.0, var = 0.0;
        for (size_t i = 0; i < c; i++) sum += x[i];
        double mean = sum / (double)c;
        for (size_t i = 0; i < c; i++) {
            double d = x[i] - mean;
            var += d * d;
        }
        float rstd = (float)(1.0 / sqrt(var / (double)c + eps)), fmean = (float)mean;
        for (size_t i = 0; i < c; i++) y[i] = (x[i] - fmean) * rstd * gamma[i] + beta[i];
    }
}

void silu_inplace(float *x, size_t n) {
    size_t n4 = n / 4 * 4;
#pragma omp parallel for if (n > 16384) schedule(static)
    for (size_t i = 0; i < n4; i += 4) {
        v4f v;
        memcpy(&v, x + i, sizeof v);
        v = v / (1.0f + exp_v4(-v));
        memcpy(x + i, &v, sizeof v);
    }
    for (size_t i = n4; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

float gelu_exact(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f /* 1/sqrt(2) */)); }

void geglu_forward(float *out, const float *proj, size_t n, size_t f) {
#pragma omp parallel for if (n * f > 16384) schedule(static)
    for (size_t t = 0; t < n; t++) {
        const float *h = proj + t * 2 * f, *gate = h + f;
        for (size_t i = 0; i < f; i++) out[t * f + i] = h[i] * gelu_exact(gate[i]);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* attention */

/* One softmax, written once for a vector type V of L floats (VI: the matching int vector) with
 * its exp; instantiated for SSE (4 lanes, every x86-64) and AVX2+FMA (8 lanes, chosen at run
 * time). The tail is padded with -inf, whose exp is 0. */
#define DEFINE_SOFTMAX(NAME, V, VI, L, EXP, ATTR)                                              \
    ATTR static void NAME(float *x, size_t n, size_t m) {                                       \
        for (size_t r = 0; r < n; r++) {                                                        \
            float *row = x + r * m, mx = row[0];                                                \
            size_t j = 0;                                                                       \
            V vmx = (V){0} + row[0];                                                            \
            for (; j + L <= m; j += L) {                                                        \
                V v;                                                                            \
                memcpy(&v, row + j, sizeof v);                                                  \
                vmx = (V)(((VI)v & (v > vmx)) | ((VI)vmx & ~(v > vmx)));                        \
            }                                                                                   \
            for (int i = 0; i < L; i++) mx = vmx[i] > mx ? vmx[i] : mx;                         \
            for (; j < m; j++) mx = row[j] > mx ? row[j] : mx;                                  \
            V acc = {0};                                                                        \
            for (j = 0; j + L <= m; j += L) {                                                   \
                V v;                                                                            \
                memcpy(&v, row + j, sizeof v);                                                  \
                v = EXP(v - mx);                                                                \
                memcpy(row + j, &v, sizeof v);                                                  \
                acc += v;                                                                       \
            }                                                                                   \
            if (j < m) {                                                                        \
                V v = (V){0} - INFINITY;                                                        \
                memcpy(&v, row + j, (m - j) * sizeof(float));                                   \
                v = EXP(v - mx);                                                                \
                memcpy(row + j, &v, (m - j) * sizeof(float));                                   \
                acc += v;                                                                       \
            }                                                                                   \
            float sum = 0.0f;                                                                   \
            for (int i = 0; i < L; i++) sum += acc[i];                                          \
            V inv = (V){0} + 1.0f / sum;                                                        \
            for (j = 0; j + L <= m; j += L) {                                                   \
                V v;                                                                            \
                memcpy(&v, row + j, sizeof v);                                                  \
                v *= inv;                                                                       \
                memcpy(row + j, &v, sizeof v);                                                  \
            }                                                                                   \
            for (; j < m; j++) row[j] *= inv[0];                                                \
        }                                                                                       \
    }

DEFINE_SOFTMAX(softmax_rows_sse, v4f, v4i, 4, exp_v4, )

void softmax_rows_portable(float *x, size_t n, size_t m) { softmax_rows_sse(x, n, m); }

#if defined(__x86_64__) && defined(__GNUC__)
#define XATTN_HAVE_AVX2_PATH 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

DEFINE_EXP(exp_v8, v8f, v8i)

DEFINE_SOFTMAX(softmax_rows_avx2, v8f, v8i, 8, exp_v8, )
#pragma GCC pop_options
#endif

void softmax_rows(float *x, size_t n, size_t m) {
#ifdef XATTN_HAVE_AVX2_PATH
    static int avx2 = -1; /* benign race: every thread computes the same value */
    if (avx2 < 0) avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2) {
        softmax_rows_avx2(x, n, m);
        return;
    }
#endif
    softmax_rows_sse(x, n, m);
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
    int parallel = (double)(batch * heads * n * m) * (double)dh > PARALLEL_MIN_FLOPS;
    /* one (image, head) pair per iteration; each thread has its own [N, M] of probs */
#pragma omp parallel for if (parallel) schedule(static)
    for (size_t bh = 0; bh < batch * heads; bh++) {
        size_t b = bh / heads, h = bh % heads;
        float *p = probs + (size_t)omp_get_thread_num() * n * m;
        const float *qb = q + b * n * ld, *kb = k + b * m * ld, *vb = v + b * m * ld;
        /* p[N, M] = Q_h[N, dh] @ K_h[M, dh]^T * scale */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)dh, scale,
                    qb + h * dh, (int)ld, kb + h * dh, (int)ld, 0.0f, p, (int)m);
        if (key_bias)
            for (size_t i = 0; i < n; i++) add_inplace(p + i * m, key_bias + b * m, m);
        softmax_rows(p, n, m);
        if (key_scale) /* p[i, j] *= scale[b, j] */
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < m; j++) p[i * m + j] *= key_scale[b * m + j];
        if (probs_fn) probs_fn(p, b, h, n, m, user);
        /* out_h[N, dh] = p[N, M] @ V_h[M, dh] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)dh, (int)m, 1.0f,
                    p, (int)m, vb + h * dh, (int)ld, 0.0f, out + b * n * ld + h * dh, (int)ld);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* layout and resampling */

void chw_to_tokens(float *out, const float *in, size_t c, size_t hw) {
    for (size_t ch = 0; ch < c; ch++)
        for (size_t i = 0; i < hw; i++) out[i * c + ch] = in[ch * hw + i];
}

void tokens_to_chw(float *out, const float *in, size_t c, size_t hw) {
    for (size_t i = 0; i < hw; i++)
        for (size_t ch = 0; ch < c; ch++) out[ch * hw + i] = in[i * c + ch];
}

void upsample_nearest2x(float *out, const float *in, size_t c, size_t h, size_t w) {
    for (size_t ch = 0; ch < c; ch++) {
        const float *src = in + ch * h * w;
        float *dst = out + ch * 4 * h * w;
        for (size_t y = 0; y < 2 * h; y++)
            for (size_t x = 0; x < 2 * w; x++) dst[y * 2 * w + x] = src[(y / 2) * w + x / 2];
    }
}

void timestep_embedding(float *out, float t, size_t dim, int flip_sin_to_cos, float shift) {
    size_t half = dim / 2;
    const float neg_log_period = (float)-log(10000.0);
    for (size_t i = 0; i < half; i++) {
        float exponent = neg_log_period * (float)i / ((float)half - shift);
        float arg = t * expf(exponent);
        float s = sinf(arg), c = cosf(arg);
        out[flip_sin_to_cos ? half + i : i] = s;
        out[flip_sin_to_cos ? i : half + i] = c;
    }
    if (dim % 2) out[dim - 1] = 0.0f;
}

void add_inplace(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}
