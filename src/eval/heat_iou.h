/* heat_iou.h — scoring a word's heatmap against an object mask, the DAAM way (Tang et al. 2022,
 * docs/eval.md "xattn eval heatmaps"): the map is normalised to [0, 1] by its minimum and
 * maximum, pixels above a threshold tau form the word's region, and the score is the region's
 * intersection over union with the mask. */
#ifndef XATTN_EVAL_HEAT_IOU_H
#define XATTN_EVAL_HEAT_IOU_H

#include <stddef.h>
#include <stdint.h>

#include "xattn.h"

/* out[i] = (map[i] - min) / (max - min); a constant map gives all 0. map, out: [n] (out may be
 * map). XATTN_ERR_VALUE (naming `what`) when n is 0 or a value is not finite. */
xattn_status eval_heat_normalize(const float *map, size_t n, float *out, const char *what,
                                 xattn_error *err);

/* IoU of {i : norm[i] > threshold} and {i : mask[i] = v, v in 1..63, bit v of select set}.
 * norm, mask: [n]. Both empty gives 1 (nothing to find, nothing found). */
double eval_heat_iou(const float *norm, const uint8_t *mask, size_t n, float threshold,
                     uint64_t select);

#endif
