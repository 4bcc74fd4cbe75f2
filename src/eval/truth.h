/* truth.h — reading back a dataset folder written by `xattn dataset` (docs/shapes-world.md):
 * DIR/truth.jsonl records with their images (DIR/images/NNNNNN.png, or rows of
 * DIR/images.npy uint8 [N, 32, 32, 3]), streamed one at a time; and the exact comparison of a
 * detection with a scene's truth, which validates the detector. */
#ifndef XATTN_EVAL_TRUTH_H
#define XATTN_EVAL_TRUTH_H

#include <stddef.h>
#include <stdint.h>

#include "eval/detect.h"
#include "world/world.h"
#include "xattn.h"

typedef struct eval_truth eval_truth; /* an open dataset folder */

xattn_status eval_truth_open(const char *dir, eval_truth **out, xattn_error *err);
void eval_truth_close(eval_truth *t);

/* Reads the next record into scene (kind, background, objects, relation, caption and rgb; the
 * mask is left zero) and its id; *done = 1 (scene untouched) after the last. Errors name
 * "<DIR>/truth.jsonl:<line>" or the image file. */
xattn_status eval_truth_next(eval_truth *t, world_scene *scene, uint64_t *id, int *done,
                             xattn_error *err);

/* 1 when the detection is exactly the scene's truth: the background's colour, and one object
 * per truth object with the same box, centre, area, shape, colour and size, and nothing else
 * (no unknown shapes). Else 0 with the first difference in reason [len] (may be NULL). */
int eval_detection_matches_truth(const eval_detection *d, const world_scene *s, char *reason,
                                 size_t len);

#endif
