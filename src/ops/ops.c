/* ops.c — BLAS-backed and elementwise kernels. See ops.h for shapes. */
#include "ops/ops.h"
#include "ops/vec.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

/* 4 floats at a time through GCC/Clang vector extensions (one SSE register on x86-64). */
typedef float v4f __attribute__((vector_size(16)));

/* ---------------------------------------------------------------------------------------- */
/* dense */

/* Work is split across OpenMP threads by rows of the output (each thread calls a
 * single-threaded sgemm on its slice); small products stay on one thread. The same thread count
 * gives bit-identical results; another count changes OpenBLAS's blocking of a slice, and so the
 * last bits (measured: 1/255 on 1 or 2 pixels of a 32x32 image after 20 steps). */
#define PARALLEL_MIN_FLOPS 200000.0

/* Whether a kernel of this many FLOPs splits across threads: not when small, and not when
 * called from a thread that is already one of a team (a U-Net lane; see unet_forward.c). */
static int worth_threads(double flops) { return flops > PARALLEL_MIN_FLOPS && !omp_in_parallel(); }

/* [lo, hi) of n rows for thread t of nt, in multiples of `align` */
static void split_rows(size_t n, int t, int nt, size_t align, size_t *lo, size_t *hi) {
    size_t blocks = (n + align - 1) / align;
    size_t b0 = blocks * (size_t)t / (size_t)nt, b1 = blocks * (size_t)(t + 1) / (size_t)nt;
    *lo = b0 * align < n ? b0 * align : n;
    *hi = b1 * align < n ? b1 * align : n;
}

/* out[N, OUT] = in[N, IN] @ W + b, with W = weight^T ([OUT, IN], transposed) or weight itself
 * ([IN, OUT]); OpenBLAS's small-matrix kernels take the untransposed form (measured on one
 * core, 256 x 64 x 64 to 24 x 64 x 384: 3-70% faster). */
static void linear_rows(float *out, const float *in, const float *weight, int transposed,
                        const float *bias, size_t n, size_t in_dim, size_t out_dim) {
    int parallel = worth_threads(2.0 * (double)(n * in_dim * out_dim));
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
            cblas_sgemm(CblasRowMajor, CblasNoTrans, transposed ? CblasTrans : CblasNoTrans,
                        (int)(hi - lo), (int)out_dim, (int)in_dim, 1.0f, in + lo * in_dim,
                        (int)in_dim, weight, transposed ? (int)in_dim : (int)out_dim, beta,
                        out + lo * out_dim, (int)out_dim);
        }
    }
}

void linear_forward(float *out, const float *in, const float *weight, const float *bias,
                    size_t n, size_t in_dim, size_t out_dim) {
    linear_rows(out, in, weight, 1, bias, n, in_dim, out_dim);
}

void linear_forward_t(float *out, const float *in, const float *weight_t, const float *bias,
                      size_t n, size_t in_dim, size_t out_dim) {
    linear_rows(out, in, weight_t, 0, bias, n, in_dim, out_dim);
}

void transpose(float *out, const float *in, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) out[j * rows + i] = in[i * cols + j];
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
    int parallel = worth_threads(2.0 * (double)(oc * ohw * ickk));
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
#pragma omp parallel for if (c * hw > 16384 && !omp_in_parallel()) schedule(static)
    for (size_t g = 0; g < groups; g++) {
        const float *x = in + g * n;
        double mean = sum_v4(x, n, 0.0f, 0) / (double)n;
        double var = sum_v4(x, n, (float)mean, 1) / (double)n;
        float rstd = (float)(1.0 / sqrt(var + eps)), fmean = (float)mean;
        for (size_t ch = g * cg; ch < (g + 1) * cg; ch++) {
            float scale = rstd * gamma[ch], shift = beta[ch] - fmean * scale;
            vec_scale_shift(out + ch * hw, in + ch * hw, hw, scale, shift, then_silu);
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
#pragma omp parallel for if (n * c > 16384 && !omp_in_parallel()) schedule(static)
    for (size_t t = 0; t < n; t++) {
        const float *x = in + t * c;
        double mean = sum_v4(x, c, 0.0f, 0) / (double)c;
        double var = sum_v4(x, c, (float)mean, 1) / (double)c;
        vec_normalize(out + t * c, x, c, (float)mean, (float)(1.0 / sqrt(var + eps)), gamma, beta);
    }
}

void silu_inplace(float *x, size_t n) {
    size_t chunk = 4096; /* a multiple of every vector width */
#pragma omp parallel for if (n > 16384 && !omp_in_parallel()) schedule(static)
    for (size_t i = 0; i < n; i += chunk) vec_silu(x + i, n - i < chunk ? n - i : chunk);
}

void geglu_forward(float *out, const float *proj, size_t n, size_t f) {
#pragma omp parallel for if (n * f > 16384 && !omp_in_parallel()) schedule(static)
    for (size_t t = 0; t < n; t++) vec_geglu(out + t * f, proj + t * 2 * f, proj + t * 2 * f + f, f);
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
