/* world.h — the shapes world: 32x32 RGB scenes of 1-3 flat-coloured objects on a plain
 * background, each with a plain-English caption and its ground truth (docs/shapes-world.md).
 *
 * A scene is a pure function of (seed, split, index): world_draw seeds a small PRNG of its own
 * from a hash of the three, so image i never depends on how many images are drawn.
 *
 * Geometry: pixel (x, y) covers [x, x+1) x [y, y+1), x to the right, y down. An object of size
 * s (8 or 14, even) sits in the s x s box [cx - s/2, cx + s/2) x [cy - s/2, cy + s/2) around its
 * integer centre (cx, cy); a pixel belongs to it when the pixel's centre is inside the shape.
 * Boxes of two objects are at least WORLD_GAP pixels apart along x or y, so objects never touch.
 *
 * Everything here is static tables and value types: nothing is allocated, nothing fails. */
#ifndef XATTN_WORLD_WORLD_H
#define XATTN_WORLD_WORLD_H

#include <stddef.h>
#include <stdint.h>

#define WORLD_VERSION "shapes-world 1"

enum {
    WORLD_SIZE = 32, /* image side in pixels */
    WORLD_MAX_OBJECTS = 3,
    WORLD_CAPTION_LEN = 192,  /* bytes, with the NUL; captions are at most ~110 */
    WORLD_MAX_NAME_WORDS = 3, /* size, colour, shape noun */
    WORLD_GAP = 2,            /* min pixels between two objects' boxes */
    WORLD_RELATION_MARGIN = 8 /* a relation's centres differ by >= 8 px along its axis */
};

typedef enum world_shape {
    WORLD_CIRCLE,
    WORLD_SQUARE,
    WORLD_TRIANGLE,
    WORLD_RING,
    WORLD_CROSS,
    WORLD_N_SHAPES
} world_shape;

typedef enum world_color {
    WORLD_RED,
    WORLD_GREEN,
    WORLD_BLUE,
    WORLD_YELLOW,
    WORLD_ORANGE,
    WORLD_PURPLE,
    WORLD_WHITE,
    WORLD_BLACK,
    WORLD_N_COLORS
} world_color;

typedef enum world_background {
    WORLD_BG_BLACK,
    WORLD_BG_WHITE,
    WORLD_BG_GRAY,
    WORLD_N_BACKGROUNDS
} world_background;

typedef enum world_size { WORLD_SMALL, WORLD_LARGE, WORLD_N_SIZES } world_size;

/* The 3x3 grid, row-major: position = row * 3 + col; the cell of a centre (x, y) is
 * col = floor(3x / 32), row = floor(3y / 32). */
typedef enum world_position {
    WORLD_TOP_LEFT,
    WORLD_TOP,
    WORLD_TOP_RIGHT,
    WORLD_LEFT,
    WORLD_CENTER,
    WORLD_RIGHT,
    WORLD_BOTTOM_LEFT,
    WORLD_BOTTOM,
    WORLD_BOTTOM_RIGHT,
    WORLD_N_POSITIONS
} world_position;

/* "subject <relation> object". */
typedef enum world_relation {
    WORLD_LEFT_OF,
    WORLD_RIGHT_OF,
    WORLD_ABOVE,
    WORLD_BELOW,
    WORLD_N_RELATIONS
} world_relation;

typedef enum world_kind {
    WORLD_KIND_SINGLE,
    WORLD_KIND_COUNT,
    WORLD_KIND_PAIR,
    WORLD_KIND_RELATION,
    WORLD_N_KINDS
} world_kind;

typedef enum world_split { WORLD_TRAIN, WORLD_HOLDOUT, WORLD_N_SPLITS } world_split;

/* --- vocabulary (the names are the caption words and the truth.jsonl values) ---------------- */
extern const char *const world_shape_names[WORLD_N_SHAPES];   /* "circle", ... */
extern const char *const world_shape_plurals[WORLD_N_SHAPES]; /* "circles", ..., "crosses" */
extern const char *const world_color_names[WORLD_N_COLORS];
extern const uint8_t world_color_rgb[WORLD_N_COLORS][3];
extern const char *const world_background_names[WORLD_N_BACKGROUNDS];
extern const uint8_t world_background_rgb[WORLD_N_BACKGROUNDS][3];
extern const char *const world_size_names[WORLD_N_SIZES];
extern const int world_size_pixels[WORLD_N_SIZES];                /* 8, 14: the box side */
extern const char *const world_position_names[WORLD_N_POSITIONS]; /* "top left", ... */
extern const char *const world_relation_names[WORLD_N_RELATIONS]; /* "left of", ... */
extern const char *const world_kind_names[WORLD_N_KINDS];   /* "single", "count", "pair", "relation" */
extern const double world_kind_shares[WORLD_N_KINDS];       /* the scene mix, sums to 1 */
extern const char *const world_split_names[WORLD_N_SPLITS]; /* "train", "holdout" */

/* The colour-shape pairs that never appear in the train split; every holdout image has one. */
typedef struct world_pair {
    world_color color;
    world_shape shape;
} world_pair;
enum { WORLD_N_HOLDOUT_PAIRS = 5 };
extern const world_pair world_holdout_pairs[WORLD_N_HOLDOUT_PAIRS];

int world_is_holdout_pair(world_color color, world_shape shape);
/* The object colour equal to a background (black, white), or WORLD_N_COLORS (gray). */
world_color world_background_color(world_background bg);
/* The grid cell of a centre in pixel units (x, y may be fractional; clamped to the image). */
world_position world_position_of(double x, double y);
/* subject <rel> object by centres: >= WORLD_RELATION_MARGIN px along the relation's axis, and
 * at least twice the offset across it (so "left of" is not really "above"). */
int world_relation_holds(world_relation rel, const int subject[2], const int object[2]);
/* Index of name in names[0..n), or -1. */
int world_lookup(const char *const *names, size_t n, const char *name);

/* --- scenes ------------------------------------------------------------------------------- */
typedef struct world_object {
    world_shape shape;
    world_color color;
    world_size size;
    world_position position; /* the cell of the centre */
    int center[2];           /* x, y: centre of the object's box, pixel units */
    int bbox[4];             /* x0, y0, x1, y1: inclusive pixel bounds of its mask */
    size_t pixels;           /* mask pixel count */
    size_t n_words;
    size_t words[WORLD_MAX_NAME_WORDS]; /* 0-based caption word indices of its size, colour,
                                           shape noun (shared by a counted group), ascending */
} world_object;

typedef struct world_scene {
    world_kind kind;
    world_background background;
    size_t n_objects;
    world_object objects[WORLD_MAX_OBJECTS]; /* in caption order */
    int has_relation;                        /* kind == WORLD_KIND_RELATION */
    world_relation relation;                 /* objects[subject] <relation> objects[object] */
    size_t subject, object;
    char caption[WORLD_CAPTION_LEN];          /* lower case, single spaces, no punctuation */
    uint8_t rgb[WORLD_SIZE * WORLD_SIZE * 3]; /* [H, W, 3] RGB8 */
    uint8_t mask[WORLD_SIZE * WORLD_SIZE];    /* [H, W]: 0 background, k = objects[k - 1] */
} world_scene;

/* Draws scene `index` of `split` for `seed`. */
void world_draw(world_scene *scene, uint64_t seed, world_split split, uint64_t index);

#endif
