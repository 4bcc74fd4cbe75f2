/* heat_iou.c — thresholded heatmap vs mask IoU (xattn_shapes.h). */
#include "xattn_shapes.h"

#include <math.h>

#include "util/error.h"

xattn_status eval_heat_normalize(const float *map, size_t n, float *out, const char *what,
                                 xattn_error *err) {
    if (n == 0) return xattn_fail(err, XATTN_ERR_VALUE, "%s: empty heatmap", what);
    float lo = map[0], hi = map[0];
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(map[i]))
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: heatmap value %zu is not finite", what, i);
        if (map[i] < lo) lo = map[i];
        if (map[i] > hi) hi = map[i];
    }
    double range = (double)hi - (double)lo;
    for (size_t i = 0; i < n; i++)
        out[i] = range > 0.0 ? (float)(((double)map[i] - (double)lo) / range) : 0.0f;
    return XATTN_OK;
}

double eval_heat_iou(const float *norm, const uint8_t *mask, size_t n, float threshold,
                     uint64_t select) {
    size_t inter = 0, uni = 0;
    for (size_t i = 0; i < n; i++) {
        int in_map = norm[i] > threshold;
        int in_mask = mask[i] >= 1 && mask[i] <= 63 && ((select >> mask[i]) & 1u);
        inter += (size_t)(in_map && in_mask);
        uni += (size_t)(in_map || in_mask);
    }
    return uni ? (double)inter / (double)uni : 1.0;
}
