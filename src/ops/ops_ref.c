/* ops_ref.c — plain-loop references for the BLAS-backed kernels in ops.c; the tests compare
 * against these. Accumulation in double, so they are also the more accurate of the two. */
#include <math.h>
#include <stdlib.h>

#include "ops/ops.h"

void linear_forward_ref(float *out, const float *in, const float *weight, const float *bias,
                        size_t n, size_t in_dim, size_t out_dim) {
    for (size_t t = 0; t < n; t++)
        for (size_t o = 0; o < out_dim; o++) {
            double acc = bias ? bias[o] : 0.0;
            for (size_t i = 0; i < in_dim; i++)
                acc += (double)in[t * in_dim + i] * weight[o * in_dim + i];
            out[t * out_dim + o] = (float)acc;
        }
}

void conv2d_forward_ref(float *out, const float *in, const float *weight, const float *bias,
                        size_t ic, size_t h, size_t w, size_t oc, size_t k, size_t stride,
                        size_t pad) {
    size_t oh = conv2d_out_size(h, k, stride, pad), ow = conv2d_out_size(w, k, stride, pad);
    for (size_t o = 0; o < oc; o++)
        for (size_t oy = 0; oy < oh; oy++)
            for (size_t ox = 0; ox < ow; ox++) {
                double acc = bias ? bias[o] : 0.0;
                for (size_t c = 0; c < ic; c++)
                    for (size_t ky = 0; ky < k; ky++)
                        for (size_t kx = 0; kx < k; kx++) {
                            ptrdiff_t y = (ptrdiff_t)(oy * stride + ky) - (ptrdiff_t)pad;
                            ptrdiff_t x = (ptrdiff_t)(ox * stride + kx) - (ptrdiff_t)pad;
                            if (y < 0 || x < 0 || y >= (ptrdiff_t)h || x >= (ptrdiff_t)w) continue;
                            acc += (double)in[(c * h + (size_t)y) * w + (size_t)x] *
                                   weight[((o * ic + c) * k + ky) * k + kx];
                        }
                out[(o * oh + oy) * ow + ox] = (float)acc;
            }
}

void attention_forward_ref(float *out, const float *q, const float *k, const float *v,
                           const float *key_bias, size_t n, size_t m, size_t heads, size_t dh) {
    size_t ld = heads * dh;
    double *p = malloc(m * sizeof *p);
    if (!p) return;
    for (size_t h = 0; h < heads; h++)
        for (size_t i = 0; i < n; i++) {
            double mx = -INFINITY, sum = 0.0;
            for (size_t j = 0; j < m; j++) {
                double s = 0.0;
                for (size_t d = 0; d < dh; d++)
                    s += (double)q[i * ld + h * dh + d] * k[j * ld + h * dh + d];
                p[j] = s / sqrt((double)dh) + (key_bias ? key_bias[j] : 0.0);
                if (p[j] > mx) mx = p[j];
            }
            for (size_t j = 0; j < m; j++) sum += (p[j] = exp(p[j] - mx));
            for (size_t d = 0; d < dh; d++) {
                double acc = 0.0;
                for (size_t j = 0; j < m; j++) acc += p[j] / sum * v[j * ld + h * dh + d];
                out[i * ld + h * dh + d] = (float)acc;
            }
        }
    free(p);
}
