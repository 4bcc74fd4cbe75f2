/* xattn_shapes.h — the public API of libxattn_shapes: the shapes world (src/world), the
 * procedural data the demo model learns from, and its evaluation (src/eval): object detection,
 * GenEval-style adherence scores and DAAM-style heatmap IoU (docs/shapes-world.md, docs/eval.md).
 *
 * It builds on the engine's public API (xattn.h): errors come back as xattn_status with a
 * one-line message in an xattn_error ("<file>:<line>: <what is wrong>", or "<parameter>: ...");
 * nothing here prints or exits. JSON values are cJSON trees (include <cjson/cJSON.h> to use them;
 * free them with cJSON_Delete). Sections follow the source files, in the order a reader needs
 * them. */
#ifndef XATTN_SHAPES_H
#define XATTN_SHAPES_H

#include <stddef.h>
#include <stdint.h>

#include "xattn.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

/* ------------------------------------------------------------------------------------------ */
/* src/world/world.c — the shapes world: 32x32 RGB scenes of 1-3 flat-coloured objects on a plain
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

/* ------------------------------------------------------------------------------------------ */
/* src/world/world_dataset.c — writing the shapes world to a folder (docs/shapes-world.md):
 *   DIR/images/NNNNNN.png   RGB8 32x32
 *   DIR/masks/NNNNNN.png    gray8 32x32: 0 background, k = object k (1-based)
 *   DIR/truth.jsonl         one JSON object per image, in id order
 *   DIR/world.json          the vocabulary, holdout pairs, scene mix, version and parameters
 * or, with WORLD_FORMAT_NPY, instead of images/ and masks/ (one file each rather than 2N small
 * files, which cost ~0.1-1 ms each to create on this disk):
 *   DIR/images.npy          uint8 [N, 32, 32, 3]
 *   DIR/masks.npy           uint8 [N, 32, 32]
 * Every file appears under its final name complete (temporary name, then rename). PNGs are
 * not fsync'd one by one (4 ms each here): the file system is synced once at the end, then
 * world.json and truth.jsonl are committed (fsync'd), truth.jsonl last — a folder with a
 * truth.jsonl is a finished set. */

#define WORLD_MAX_COUNT 10000000

typedef enum world_format { WORLD_FORMAT_PNG, WORLD_FORMAT_NPY } world_format;

/* One truth.jsonl record (see the doc); NULL if out of memory. image/mask are the relative
 * paths ("images/000007.png"; "images.npy" for the npy format, where the row is the id). Caller frees
 * with cJSON_Delete. */
struct cJSON *world_scene_json(const world_scene *s, uint64_t id, world_split split,
                               const char *image, const char *mask);

/* world.json: vocabulary and, when count > 0, the set's seed, split and count. NULL if out of
 * memory. */
struct cJSON *world_vocabulary_json(uint64_t seed, world_split split, size_t count);

/* Draws images 0 .. count-1 of (seed, split) into dir (created with its parents if missing).
 * progress (may be NULL) is called every 1000 images and at the end with (done, count); a
 * non-zero return cancels (XATTN_ERR_CANCELLED, truth.jsonl not written). */
xattn_status world_write_dataset(const char *dir, uint64_t seed, world_split split, size_t count,
                                 world_format format, xattn_progress_fn progress, void *user,
                                 xattn_error *err);

/* ------------------------------------------------------------------------------------------ */
/* src/eval/detect.c — finding the objects of a shapes-world image (docs/eval.md).
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
struct cJSON *eval_objects_json(const eval_detection *d);

/* ------------------------------------------------------------------------------------------ */
/* src/eval/score.c — GenEval-style checks of detected objects against what a prompt asks for
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

/* ------------------------------------------------------------------------------------------ */
/* src/eval/truth.c — reading back a dataset folder written by `xattn dataset`
 * (docs/shapes-world.md): DIR/truth.jsonl records with their images (DIR/images/NNNNNN.png, or
 * rows of DIR/images.npy uint8 [N, 32, 32, 3]), streamed one at a time; and the exact comparison
 * of a detection with a scene's truth, which validates the detector. */

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

/* ------------------------------------------------------------------------------------------ */
/* src/eval/prompts.c — the adherence prompt file: JSON Lines, one prompt per line (docs/eval.md):
 *   {"prompt": "a red circle left of a blue square",
 *    "embedding": "emb/0001.safetensors",          relative to the file's folder, or absolute
 *    "category": "position",                       single|two|count|colors|position|color_attr
 *    "objects": [{"shape": "circle", "color": "red", "count": 1}, {"shape": "square", ...}],
 *    "relation": {"subject": 0, "relation": "left of", "object": 1}}   or null / absent
 * An object's "color" and "size" may be null or absent (any); "count" defaults to 1. Blank
 * lines are skipped; other keys are ignored. */

enum { EVAL_MAX_PROMPTS = 1000000, EVAL_MAX_LINE = 1 << 20 };

typedef struct eval_prompt {
    char *text;      /* "prompt" */
    char *embedding; /* the embedding file's path, resolved against the prompt file's folder */
    eval_spec spec;
    size_t line;     /* 1-based line of the file */
} eval_prompt;

typedef struct eval_prompt_set {
    size_t n;
    eval_prompt *prompts; /* [n] */
} eval_prompt_set;

/* Reads and checks every line; an error names "<path>:<line>: <what is wrong>". On success the
 * set has at least one prompt; free it with eval_prompts_free (also after a failure). */
xattn_status eval_prompts_load(const char *path, eval_prompt_set *out, xattn_error *err);
void eval_prompts_free(eval_prompt_set *s);

/* The category, objects and relation of one parsed line, checked (eval_spec_check); errors
 * name `where`. */
xattn_status eval_spec_from_json(const struct cJSON *obj, const char *where, eval_spec *out,
                                 xattn_error *err);

/* ------------------------------------------------------------------------------------------ */
/* src/eval/heat_iou.c — scoring a word's heatmap against an object mask, the DAAM way (Tang et
 * al. 2022, docs/eval.md "xattn eval heatmaps"): the map is normalised to [0, 1] by its minimum and
 * maximum, pixels above a threshold tau form the word's region, and the score is the region's
 * intersection over union with the mask. */

/* out[i] = (map[i] - min) / (max - min); a constant map gives all 0. map, out: [n] (out may be
 * map). XATTN_ERR_VALUE (naming `what`) when n is 0 or a value is not finite. */
xattn_status eval_heat_normalize(const float *map, size_t n, float *out, const char *what,
                                 xattn_error *err);

/* IoU of {i : norm[i] > threshold} and {i : mask[i] = v, v in 1..63, bit v of select set}.
 * norm, mask: [n]. Both empty gives 1 (nothing to find, nothing found). */
double eval_heat_iou(const float *norm, const uint8_t *mask, size_t n, float threshold,
                     uint64_t select);

/* ------------------------------------------------------------------------------------------ */
/* src/eval/adherence.c — `xattn eval adherence` as one library call (docs/eval.md).
 *
 * Prompts mode (eval_adherence_run): every prompt of a prompt file is generated with seeds
 * 0..K-1 (the same images as `xattn generate -s k`), its objects are detected (eval_detect) and
 * the prompt's checks scored (eval_score). Truth mode (eval_adherence_truth): the ground-truth
 * images of an `xattn dataset` folder are scored against their own captions and compared object
 * by object with their truth, which validates the detector. Both load and check every input
 * before the first image, then report each image through a callback (the caller prints it) and
 * return the tally. A callback returns 0 to go on; anything else stops the run, which returns
 * XATTN_ERR_CANCELLED. */

/* Images and passes per category, and the held-out colour-shape pairs asked for and drawn. */
typedef struct eval_adherence_tally {
    size_t images[EVAL_N_CATEGORIES], passed[EVAL_N_CATEGORIES];
    size_t total, total_passed;
    size_t exact;                    /* truth mode: detections equal to the truth */
    size_t pairs_asked, pairs_drawn; /* eval_holdout_pairs, summed over the images */
} eval_adherence_tally;

/* Counts one image: its category's images and passes, and its held-out pairs. */
void eval_adherence_count(eval_adherence_tally *t, const eval_spec *spec,
                          const eval_detection *det, int pass);
/* passed / images of one category (0 when it has no images). */
double eval_adherence_category_score(const eval_adherence_tally *t, eval_category c);
/* The mean of the category scores over the categories with images (0 when none has). */
double eval_adherence_overall(const eval_adherence_tally *t);
/* pairs_drawn / pairs_asked (0 when none were asked for). */
double eval_adherence_pairs_score(const eval_adherence_tally *t);

/* One scored image, valid during the callback only. */
typedef struct eval_adherence_image {
    size_t index;           /* prompts: the prompt's 0-based index; truth: records read - 1 */
    int seed;               /* prompts: the noise seed, 0..seeds-1; truth: 0 */
    uint64_t id;            /* truth: the record's id; prompts: 0 */
    const char *prompt;     /* the prompt text, or the scene's caption */
    const char *embedding;  /* prompts: the embedding file; truth: NULL */
    const eval_spec *spec;  /* what the prompt asks for */
    int pass;               /* eval_score */
    const char *reason;     /* why it failed ("" when it passed) */
    const eval_detection *det;
    int exact;              /* truth: eval_detection_matches_truth; prompts: 0 */
    const char *detector;   /* truth: the first difference from the truth ("" when exact) */
    const uint8_t *rgb;     /* the image, [size, size, 3] RGB8 */
    size_t size;
    size_t done, total;     /* images scored, this one included, of total (truth: 0, unknown) */
} eval_adherence_image;

typedef struct eval_adherence_callbacks {
    /* Every input is loaded and checked; the first image comes next. n_images: the images the
     * run scores (truth mode: 0, not known). NULL = none. */
    int (*start)(size_t n_images, void *user);
    /* After each image, in order. NULL = none. */
    int (*image)(const eval_adherence_image *im, void *user);
    void *user;
} eval_adherence_callbacks;

enum { EVAL_MAX_SEEDS = 1000 };

typedef struct eval_adherence_params {
    const char *prompts;       /* the prompt file (eval_prompts_load) */
    const char *model_name;    /* names the model in messages (its folder) */
    int seeds;                 /* seeds 0..seeds-1 per prompt, 1..EVAL_MAX_SEEDS (default 4) */
    xattn_generate_params gen; /* steps, cfg, threads; seed and batch are set per image */
    xattn_encoder *encoder;    /* encodes the prompt of a line without "embedding" (NULL: such a
                                  line is refused) */
} eval_adherence_params;

void eval_adherence_params_init(eval_adherence_params *p);

/* Prompts mode on model (RGB, sample_size 2..EVAL_MAX_SIDE): loads the prompt file and every
 * embedding (widths checked against the model), then generates and scores every (prompt,
 * seed), prompt-major. *n_prompts (may be NULL) = the prompts in the file; *out = the tally. */
xattn_status eval_adherence_run(xattn_model *model, const eval_adherence_params *p,
                                const eval_adherence_callbacks *cb, eval_adherence_tally *out,
                                size_t *n_prompts, xattn_error *err);

/* Truth mode on dataset folder dir (eval_truth_open): every record's image is detected, scored
 * against eval_spec_from_scene and compared with its truth. Fails when there are no records. */
xattn_status eval_adherence_truth(const char *dir, const eval_adherence_callbacks *cb,
                                  eval_adherence_tally *out, xattn_error *err);

/* ------------------------------------------------------------------------------------------ */
/* src/eval/heat_eval.c — `xattn eval heatmaps` as one library call: DAAM-style mIoU of
 * cross-attention heatmaps against shapes-world object masks (docs/eval.md).
 *
 * The prompt file (tools/make_eval_prompts.py --with-images) is JSON Lines:
 *   {"prompt": "a red circle ...", "embedding": "emb/0001.safetensors",
 *    "image": "data/images/000001.png", "mask": "data/masks/000001.png",   paths relative to
 *    "objects": [{"shape": "circle", "color": "red",                        the file's folder
 *                 "words": [1, 2],      caption word indices of its size, colour and shape words
 *                 "mask_index": 1}]}    its value in the mask (an array for a count group)
 * For every line, the line's image is denoised with its own caption (xattn_denoise at
 * `strength`), the word maps are collected, and each object word — a shape noun (a shape name or
 * its plural) or a colour adjective — is scored: its map normalised to [0, 1], thresholded at
 * tau, IoU against its object's mask (eval_heat_normalize, eval_heat_iou). mIoU is the mean IoU
 * over the words of a kind. In generated mode, each line's prompt is sampled from noise instead
 * (`seeds` images) and a word's object is what eval_detect finds in the image: the pixels of
 * the detected objects of its shape and colour; a word whose object is not found is missed, not
 * scored. Callbacks return 0 to go on; anything else stops the run (XATTN_ERR_CANCELLED). */

typedef enum eval_heat_kind { EVAL_HEAT_SHAPE, EVAL_HEAT_COLOR, EVAL_HEAT_N_KINDS } eval_heat_kind;
extern const char *const eval_heat_kind_names[EVAL_HEAT_N_KINDS]; /* "shape", "color" */

enum { EVAL_HEAT_MAX_WORDS = 64, EVAL_HEAT_MAX_SCORED = 32, EVAL_HEAT_MAX_OBJECTS = 8 };

/* A caption word to score, and the object it names. */
typedef struct eval_heat_word {
    size_t word;         /* caption word index */
    eval_heat_kind kind; /* shape noun or colour adjective (size words are not scored) */
    int object;          /* index into the line's objects */
    uint64_t select;     /* the object's mask values, bit v = value v (generated mode: 0) */
} eval_heat_word;

/* One line of the prompt file. */
typedef struct eval_heat_line {
    char *text;                      /* "prompt": the caption */
    char *embedding, *image, *mask;  /* resolved against the file's folder */
    size_t line;                     /* 1-based line of the file */
    size_t n_scored;
    eval_heat_word scored[EVAL_HEAT_MAX_SCORED]; /* in "objects" then "words" order */
    size_t n_objects;
    int shape[EVAL_HEAT_MAX_OBJECTS], color[EVAL_HEAT_MAX_OBJECTS]; /* world_*, or -1: any */
    size_t n_words;
    char *words[EVAL_HEAT_MAX_WORDS]; /* the caption's words (split at spaces), into words_buf */
    char *words_buf;
} eval_heat_line;

typedef struct eval_heat_prompts {
    size_t n;
    eval_heat_line *lines; /* [n] */
} eval_heat_prompts;

/* Reads and checks every line; an error names "<path>:<line>: <what is wrong>". generated:
 * "image", "mask" and "mask_index" are not needed, a world "shape" is. On success the set has at
 * least one line; free it with eval_heat_prompts_free (also after a failure). */
xattn_status eval_heat_prompts_load(const char *path, int generated, eval_heat_prompts *out,
                                    xattn_error *err);
void eval_heat_prompts_free(eval_heat_prompts *s);

/* Checks that the embedding's words (xattn_prompt_words: special tokens left out, "##" pieces
 * merged) are the line's caption words, so that word map i belongs to caption word i. Errors
 * name "<path>:<line>". */
xattn_status eval_heat_check_words(const eval_heat_line *l, const xattn_prompt *p,
                                   const char *path, xattn_error *err);

/* IoU sums and word counts per kind. */
typedef struct eval_heat_tally {
    double sum[EVAL_HEAT_N_KINDS];
    size_t n[EVAL_HEAT_N_KINDS];
} eval_heat_tally;

/* Words of one kind, or of every kind for kind = EVAL_HEAT_N_KINDS. */
size_t eval_heat_count(const eval_heat_tally *t, int kind);
/* Their mean IoU (0 when there are none). */
double eval_heat_miou(const eval_heat_tally *t, int kind);

/* One scored image, valid during the callback only. */
typedef struct eval_heat_image {
    size_t index;               /* the line's 0-based index */
    const eval_heat_line *line;
    uint64_t seed;              /* its noise seed */
    const double *iou;          /* [line->n_scored]: IoU of line->scored[k]; NaN when missed */
    eval_heat_tally tally;      /* this image's words */
    size_t done, total;         /* images scored, this one included, of total */
} eval_heat_image;

typedef struct eval_heat_callbacks {
    /* Every input is loaded and checked; the first image comes next. NULL = none. */
    int (*start)(size_t n_images, void *user);
    /* After each image, in order (line-major, then seed). NULL = none. */
    int (*image)(const eval_heat_image *im, void *user);
    void *user;
} eval_heat_callbacks;

typedef struct eval_heat_params {
    const char *prompts;       /* the prompt file */
    const char *model_name;    /* names the model in messages (its folder) */
    int generated;             /* sample from noise; score against detected objects */
    float strength;            /* denoising strength in (0, 1] (default 0.5; unused if generated) */
    float threshold;           /* tau on the normalised map, in [0, 1) (default 0.4) */
    int seeds;                 /* images per line: seeds gen.seed .. gen.seed + seeds - 1,
                                  1..EVAL_MAX_SEEDS (default 1) */
    xattn_generate_params gen; /* seed, steps, cfg, threads; batch and heatmaps are set here */
    xattn_heatmap_params heat; /* the layers, heads and steps to average (xattn_heatmap_parse_*) */
    xattn_encoder *encoder;    /* encodes the prompt of a line without "embedding" (NULL: such a
                                  line is refused) */
} eval_heat_params;

/* A prompt line's embedding: the file it names, or, when it names none (file NULL), its text
 * encoded with enc; where ("FILE:LINE") names the line in errors. */
xattn_status eval_load_embedding(const char *file, const char *text, xattn_encoder *enc,
                                 const char *where, xattn_prompt **out, xattn_error *err);

void eval_heat_params_init(eval_heat_params *p);

typedef struct eval_heat_result {
    size_t n_prompts;                     /* lines in the file */
    eval_heat_tally tally;                /* every image's words */
    size_t objects, objects_found;        /* generated mode: objects asked for, and found */
    size_t words_missed;                  /* generated mode: words whose object was not found */
} eval_heat_result;

/* Loads the prompt file, every embedding (words checked against the caption, widths against the
 * model) and, unless generated, every image and mask (RGB8 of the model's side); then scores
 * every (line, seed). model: 3 in and 3 out channels. */
xattn_status eval_heat_run(xattn_model *model, const eval_heat_params *p,
                           const eval_heat_callbacks *cb, eval_heat_result *out,
                           xattn_error *err);

#ifdef __cplusplus
}
#endif
#endif /* XATTN_SHAPES_H */
