/* score.h — GenEval-style checks of detected objects against what a prompt asks for
 * (docs/eval.md has the rules).
 *
 * A prompt asks for 1..EVAL_MAX_SPEC_OBJECTS distinct object descriptions (a shape, and
 * optionally a colour and a size, each `count` times) and, for position prompts, a relation
 * between two of them. An object "matches" a description when its shape, and the colour and
 * size where given, are equal. The category decides the checks:
 *   single, two   every description matches at least `count` objects
 *   count         every description matches exactly `count` objects
 *   colors        as single, and every object of a described shape has a colour named for
 *                 that shape
 *   position      as two, and the relation holds between every subject match and every object
 *                 match (world_relation_holds' rule, on box centres in world pixels)
 *   color_attr    as colors, for every description: "a red circle and a blue square" fails
 *                 if the circle is blue or the square red */
#ifndef XATTN_EVAL_SCORE_H
#define XATTN_EVAL_SCORE_H

#include <stddef.h>

#include "eval/detect.h"
#include "world/world.h"
#include "xattn.h"

typedef enum eval_category {
    EVAL_SINGLE,
    EVAL_TWO,
    EVAL_COUNT,
    EVAL_COLORS,
    EVAL_POSITION,
    EVAL_COLOR_ATTR,
    EVAL_N_CATEGORIES
} eval_category;

/* "single", "two", "count", "colors", "position", "color_attr" */
extern const char *const eval_category_names[EVAL_N_CATEGORIES];

enum { EVAL_MAX_SPEC_OBJECTS = 4, EVAL_MAX_COUNT = 9, EVAL_REASON_LEN = 512 };

typedef struct eval_object_spec {
    world_shape shape;
    int color; /* world_color, or -1: any */
    int size;  /* world_size, or -1: any */
    int count; /* 1..EVAL_MAX_COUNT */
} eval_object_spec;

typedef struct eval_spec {
    eval_category category;
    size_t n_objects;
    eval_object_spec objects[EVAL_MAX_SPEC_OBJECTS];
    int has_relation;
    world_relation relation; /* objects[subject] <relation> objects[object] */
    size_t subject, object;
} eval_spec;

/* Checks that the spec is well formed for its category (see docs/eval.md); err names
 * `where` (e.g. "prompts.jsonl:3"). */
xattn_status eval_spec_check(const eval_spec *s, const char *where, xattn_error *err);

/* 1 when the detection satisfies the spec, else 0 with the reasons ("expected 2 blue squares,
 * found 1"; several joined by "; ") in reason [reason_len] (may be NULL). */
int eval_score(const eval_spec *spec, const eval_detection *det, char *reason, size_t reason_len);

/* The held-out colour-shape pairs (world_is_holdout_pair) a prompt asks for, and whether each
 * was drawn: *asked = the descriptions whose colour and shape form a held-out pair, *drawn = those
 * of them that the detection holds at least `count` times (colour and shape; size ignored). */
void eval_holdout_pairs(const eval_spec *spec, const eval_detection *det, size_t *asked,
                        size_t *drawn);

/* subject <rel> object for centres in world pixels (fractional): world_relation_holds' rule. */
int eval_relation_holds(world_relation rel, const double subject[2], const double object[2]);

/* The spec a scene's caption asks for, in the scene kind's category: single -> single,
 * count -> count, pair -> color_attr, relation -> position. Sizes are included where the
 * caption names them (an object with 3 name words). */
void eval_spec_from_scene(const world_scene *scene, eval_spec *out);

/* "a small red circle", "2 blue squares", "a circle" — a description for messages. */
void eval_describe(const eval_object_spec *o, char *buf, size_t len);

#endif
