/* detect.h — finding the objects of a shapes-world image (docs/eval.md).
 *
 * Input: an RGB8 image, interleaved row-major, rgb[(y * width + x) * 3 + c]; any size from 2x2
 * to EVAL_MAX_SIDE (the world's images are 32x32; sizes, distances and areas given "in world
 * pixels" below are scaled by 32 / width along x and 32 / height along y).
 *
 * Steps: the background is the largest region of one palette colour (or of unknown pixels)
 * that touches the border, and its colour the per-channel median of that region; a pixel nearer
 * to it than to every palette colour (the 8 object colours and gray) is background, else it
 * takes the nearest palette colour within max_distance in RGB, else it is unknown; the pixels
 * of each object colour other than the background's form connected components; components
 * smaller than min_area are specks; each remaining component is measured (box, fill ratio,
 * holes) and compared with the five shapes' templates drawn into its box: the best
 * intersection-over-union names its shape, or the shape is unknown when it is below min_match
 * or the box is too elongated or too large. */
#ifndef XATTN_EVAL_DETECT_H
#define XATTN_EVAL_DETECT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "world/world.h"
#include "xattn.h"

enum {
    EVAL_MAX_SIDE = 1024,       /* largest accepted image side */
    EVAL_MAX_DETECTIONS = 64,   /* objects kept per image; more are counted in n_more */
    EVAL_SHAPE_UNKNOWN = WORLD_N_SHAPES,
    EVAL_CLASS_GRAY = WORLD_N_COLORS, /* palette class 8: the gray background */
    EVAL_N_CLASSES = WORLD_N_COLORS + 1,
    EVAL_CLASS_NONE = -1        /* no background class found on the border */
};

typedef struct eval_detect_params {
    double max_distance; /* RGB distance to the nearest palette colour; farther = unknown (72) */
    double min_area;     /* world pixels; smaller components are specks (14: half the smallest shape) */
    int connectivity;    /* 4 or 8 (8); holes are found with the other one */
    double min_match;    /* IoU with the best template below which the shape is unknown (0.6) */
    double max_aspect;   /* box long side / short side above which the shape is unknown (1.5) */
    double max_side;     /* world pixels: a longer box side is no world shape, unknown (20) */
    double min_hole;     /* enclosed pixels, as a fraction of the box, that make a ring (0.05) */
} eval_detect_params;

void eval_detect_params_init(eval_detect_params *p);

typedef struct eval_object {
    int shape;         /* world_shape, or EVAL_SHAPE_UNKNOWN */
    world_color color; /* its palette colour */
    world_size size;   /* large when the box's mean side is >= 11 world pixels (8 vs 14) */
    double center[2];  /* x, y: the centre of its box, image pixels ((x0 + x1 + 1) / 2) */
    int bbox[4];       /* x0, y0, x1, y1: inclusive image-pixel bounds */
    size_t area;       /* pixels */
    size_t holes;      /* enclosed regions (Euler number = 1 - holes) */
    size_t hole_area;  /* enclosed pixels not in the object */
    double fill;       /* area / box area: circle ~0.8, square 1, triangle ~0.6, cross ~0.45 */
    double match;      /* IoU with the named shape's template (the best one, when unknown) */
} eval_object;

typedef struct eval_detection {
    size_t width, height;
    uint8_t background_rgb[3]; /* the background colour (see above) */
    int background;           /* its palette class (world_color or EVAL_CLASS_GRAY) within
                                 max_distance, or EVAL_CLASS_NONE */
    size_t n_objects;
    eval_object objects[EVAL_MAX_DETECTIONS]; /* in raster order of their first pixel */
    size_t n_more;            /* components beyond EVAL_MAX_DETECTIONS, not kept */
    size_t n_specks;          /* components dropped for their area */
    size_t unknown_pixels;    /* pixels far from every palette colour */
} eval_detection;

/* Finds the objects of rgb [height, width, 3]. p NULL = defaults. Fails only on a bad size or
 * parameter (XATTN_ERR_VALUE) or out of memory. */
xattn_status eval_detect(const uint8_t *rgb, size_t width, size_t height,
                         const eval_detect_params *p, eval_detection *out, xattn_error *err);

/* eval_detect, and the objects' pixels: labels [height, width] (caller's) = k + 1 on the pixels
 * of objects[k] for k < EVAL_MAX_LABEL, 0 elsewhere (background, specks, unknown pixels). */
enum { EVAL_MAX_LABEL = 63 };
xattn_status eval_detect_labeled(const uint8_t *rgb, size_t width, size_t height,
                                 const eval_detect_params *p, eval_detection *out,
                                 uint8_t *labels, xattn_error *err);

/* Palette class of a pixel (0..7 world colours, EVAL_CLASS_GRAY) or -1 when farther than
 * max_distance from all of them. */
int eval_classify_pixel(const uint8_t rgb[3], double max_distance);

/* "red", ..., "black", "gray", or "none". */
const char *eval_class_name(int palette_class);
/* "circle", ..., "cross", or "unknown". */
const char *eval_shape_name(int shape);

/* The objects as a JSON array: [{"shape", "color", "size", "center": [x, y], "bbox", "area"}]
 * (unknown shapes included). NULL if out of memory. */
cJSON *eval_objects_json(const eval_detection *d);

#endif
