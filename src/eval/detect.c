/* detect.c — the shapes-world object detector: palette classification, the border's mode as
 * background, connected components per colour, holes, and template matching (xattn_shapes.h,
 * docs/eval.md). */
#include "xattn_shapes.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

void eval_detect_params_init(eval_detect_params *p) {
    p->max_distance = 72.0;
    p->min_area = 14.0;
    p->connectivity = 8;
    p->min_match = 0.6;
    p->max_aspect = 1.5;
    p->max_side = 20.0;
    p->min_hole = 0.05;
}

static const uint8_t gray_rgb[3] = {128, 128, 128};

enum { CLASS_BACKGROUND = -2 }; /* a pixel's class: palette class, -1 unknown, or this */

static const uint8_t *class_rgb(int c) { return c == EVAL_CLASS_GRAY ? gray_rgb : world_color_rgb[c]; }

int eval_classify_pixel(const uint8_t rgb[3], double max_distance) {
    int best = -1;
    long best_d2 = 0;
    for (int c = 0; c < EVAL_N_CLASSES; c++) {
        const uint8_t *q = class_rgb(c);
        long d2 = 0;
        for (int k = 0; k < 3; k++) {
            long d = (long)rgb[k] - (long)q[k];
            d2 += d * d;
        }
        if (best < 0 || d2 < best_d2) {
            best = c;
            best_d2 = d2;
        }
    }
    return (double)best_d2 <= max_distance * max_distance ? best : -1;
}

const char *eval_class_name(int c) {
    if (c >= 0 && c < WORLD_N_COLORS) return world_color_names[c];
    return c == EVAL_CLASS_GRAY ? "gray" : "none";
}

const char *eval_shape_name(int shape) {
    return shape >= 0 && shape < WORLD_N_SHAPES ? world_shape_names[shape] : "unknown";
}

/* ------------------------------------------------------------------------------------------ */
/* templates                                                                                   */

/* Ring inner radius (fraction of the radius) and cross half arm (fraction of the half side):
 * the world's crosses (arms 2/8 and 4/14 of the side) fall on exactly these pixels; its rings
 * (inner 4/8 and 8/14 of the diameter) within 4 pixels, which no single ratio avoids. */
#define RING_INNER 0.54
#define CROSS_HALF_ARM 0.27
#define EDGE_EPS 1e-9

/* Is the point (u, v) of the box [-1, 1]^2 (v down) inside the shape? h: the box height in
 * pixels (the triangle grows one pixel per side every two rows, like the world's). */
static int template_covers(int shape, double u, double v, size_t h) {
    double r2 = u * u + v * v;
    switch (shape) {
    case WORLD_CIRCLE: return r2 <= 1.0 + EDGE_EPS;
    case WORLD_SQUARE: return 1;
    case WORLD_TRIANGLE: return fabs(u) <= (v + 1.0) / 2.0 + 0.5 / (double)h + EDGE_EPS;
    case WORLD_RING: return r2 <= 1.0 + EDGE_EPS && r2 > RING_INNER * RING_INNER;
    default: return fabs(u) <= CROSS_HALF_ARM || fabs(v) <= CROSS_HALF_ARM;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* the detector                                                                                */

typedef struct scratch {
    int8_t *cls;      /* [H, W] palette class, -1 unknown, or CLASS_BACKGROUND */
    uint32_t *label;  /* [H, W] component id + 1, 0 = none */
    uint32_t *queue;  /* [H * W] the current component's pixels (BFS order) */
    uint8_t *local;   /* [(h + 2) * (w + 2)] <= [(H + 2) * (W + 2)]: the component's padded box */
    uint32_t *stack;  /* [(H + 2) * (W + 2)] flood fill of the box's complement */
} scratch;

static void scratch_free(scratch *s) {
    free(s->cls);
    free(s->label);
    free(s->queue);
    free(s->local);
    free(s->stack);
}

static const int nb_dx[8] = {1, -1, 0, 0, 1, 1, -1, -1};
static const int nb_dy[8] = {0, 0, 1, -1, 1, -1, 1, -1};

/* Labels the component of class c containing seed with id; its pixels go to s->queue.
 * Returns the pixel count. */
static size_t flood_component(scratch *s, size_t width, size_t height, size_t seed, int c,
                              uint32_t id, int connectivity) {
    size_t head = 0, tail = 0;
    s->label[seed] = id;
    s->queue[tail++] = (uint32_t)seed;
    while (head < tail) {
        size_t p = s->queue[head++];
        long x = (long)(p % width), y = (long)(p / width);
        for (int k = 0; k < connectivity; k++) {
            long nx = x + nb_dx[k], ny = y + nb_dy[k];
            if (nx < 0 || ny < 0 || nx >= (long)width || ny >= (long)height) continue;
            size_t q = (size_t)ny * width + (size_t)nx;
            if (s->cls[q] == c && s->label[q] == 0) {
                s->label[q] = id;
                s->queue[tail++] = (uint32_t)q;
            }
        }
    }
    return tail;
}

/* Floods cells of value `from` in the padded box grid [gh, gw] from start, setting them to
 * `to`, with the given connectivity. Returns the cells flooded. */
static size_t flood_local(scratch *s, size_t gw, size_t gh, size_t start, uint8_t from, uint8_t to,
                          int connectivity) {
    size_t n = 0, top = 0;
    s->local[start] = to;
    s->stack[top++] = (uint32_t)start;
    while (top > 0) {
        size_t p = s->stack[--top];
        long x = (long)(p % gw), y = (long)(p / gw);
        n++;
        for (int k = 0; k < connectivity; k++) {
            long nx = x + nb_dx[k], ny = y + nb_dy[k];
            if (nx < 0 || ny < 0 || nx >= (long)gw || ny >= (long)gh) continue;
            size_t q = (size_t)ny * gw + (size_t)nx;
            if (s->local[q] == from) {
                s->local[q] = to;
                s->stack[top++] = (uint32_t)q;
            }
        }
    }
    return n;
}

enum { CELL_OUT = 0, CELL_MEMBER = 1, CELL_OUTSIDE = 2, CELL_HOLE = 3 };

/* Measures the component in s->queue[0..n) and names its shape. */
static void measure(scratch *s, size_t width, size_t height, size_t n, int color,
                    const eval_detect_params *p, eval_object *o) {
    int x0 = (int)width, y0 = (int)height, x1 = -1, y1 = -1;
    for (size_t i = 0; i < n; i++) {
        int x = (int)(s->queue[i] % width), y = (int)(s->queue[i] / width);
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
    }
    size_t w = (size_t)(x1 - x0 + 1), h = (size_t)(y1 - y0 + 1);
    size_t gw = w + 2, gh = h + 2; /* the box with a one-pixel frame */
    memset(s->local, CELL_OUT, gw * gh);
    for (size_t i = 0; i < n; i++) {
        size_t x = s->queue[i] % width - (size_t)x0, y = s->queue[i] / width - (size_t)y0;
        s->local[(y + 1) * gw + x + 1] = CELL_MEMBER;
    }
    /* the complement reachable from the frame is outside; the rest of it is holes, found with
       the dual connectivity (8-connected objects enclose 4-connected holes) */
    int dual = p->connectivity == 8 ? 4 : 8;
    flood_local(s, gw, gh, 0, CELL_OUT, CELL_OUTSIDE, dual);
    size_t holes = 0, hole_area = 0;
    for (size_t q = 0; q < gw * gh; q++) {
        if (s->local[q] == CELL_OUT) {
            hole_area += flood_local(s, gw, gh, q, CELL_OUT, CELL_HOLE, dual);
            holes++;
        }
    }

    memset(o, 0, sizeof *o);
    o->color = (world_color)color;
    o->bbox[0] = x0, o->bbox[1] = y0, o->bbox[2] = x1, o->bbox[3] = y1;
    o->center[0] = (x0 + x1 + 1) / 2.0;
    o->center[1] = (y0 + y1 + 1) / 2.0;
    o->area = n;
    o->holes = holes;
    o->hole_area = hole_area;
    o->fill = (double)n / (double)(w * h);

    double sx = (double)WORLD_SIZE / (double)width, sy = (double)WORLD_SIZE / (double)height;
    double ww = (double)w * sx, wh = (double)h * sy; /* the box in world pixels */
    o->size = (ww + wh) / 2.0 >= 11.0 ? WORLD_LARGE : WORLD_SMALL;

    /* a ring needs a real hole; any other shape is matched with its small holes filled in */
    int ring_ok = hole_area >= 1 && (double)hole_area >= p->min_hole * (double)(w * h);
    int best = EVAL_SHAPE_UNKNOWN;
    double best_iou = 0.0;
    for (int shape = 0; shape < WORLD_N_SHAPES; shape++) {
        if (shape == WORLD_RING && !ring_ok) continue;
        size_t inter = 0, uni = 0;
        for (size_t j = 0; j < h; j++) {
            double v = (2.0 * (double)j + 1.0) / (double)h - 1.0;
            for (size_t i = 0; i < w; i++) {
                double u = (2.0 * (double)i + 1.0) / (double)w - 1.0;
                uint8_t cell = s->local[(j + 1) * gw + i + 1];
                int m = cell == CELL_MEMBER || (!ring_ok && cell == CELL_HOLE);
                int t = template_covers(shape, u, v, h);
                inter += (size_t)(m && t);
                uni += (size_t)(m || t);
            }
        }
        double iou = uni ? (double)inter / (double)uni : 0.0;
        if (iou > best_iou) {
            best_iou = iou;
            best = shape;
        }
    }
    double aspect = ww > wh ? ww / wh : wh / ww;
    o->match = best_iou;
    int fits = aspect <= p->max_aspect && ww <= p->max_side && wh <= p->max_side && w >= 2 && h >= 2;
    o->shape = best_iou >= p->min_match && fits ? best : EVAL_SHAPE_UNKNOWN;
}

static xattn_status check_params(const eval_detect_params *p, xattn_error *err) {
    if (!(p->max_distance > 0.0 && isfinite(p->max_distance)))
        return xattn_fail(err, XATTN_ERR_VALUE, "detector: max_distance must be a positive number");
    if (!(p->min_area >= 0.0 && isfinite(p->min_area)))
        return xattn_fail(err, XATTN_ERR_VALUE, "detector: min_area must be >= 0");
    if (p->connectivity != 4 && p->connectivity != 8)
        return xattn_fail(err, XATTN_ERR_VALUE, "detector: connectivity must be 4 or 8");
    if (!(p->min_match >= 0.0 && p->min_match <= 1.0))
        return xattn_fail(err, XATTN_ERR_VALUE, "detector: min_match must be in [0, 1]");
    if (!(p->max_aspect >= 1.0 && isfinite(p->max_aspect)))
        return xattn_fail(err, XATTN_ERR_VALUE, "detector: max_aspect must be >= 1");
    if (!(p->max_side > 0.0))
        return xattn_fail(err, XATTN_ERR_VALUE, "detector: max_side must be > 0");
    if (!(p->min_hole >= 0.0 && p->min_hole <= 1.0))
        return xattn_fail(err, XATTN_ERR_VALUE, "detector: min_hole must be in [0, 1]");
    return XATTN_OK;
}

/* The background colour. Pixels are keyed by palette class (or unknown); the background is the
 * largest 4-connected region of one key that touches the border (objects are at most 14 px and
 * never touch, so the world's background is one big region even where objects cover most of the
 * border), and its colour is the per-channel median of that region's pixels (the exact colour on
 * flat images; the typical one on a noisy or off-palette background). Uses s->cls and s->label,
 * and leaves the labels cleared. */
static void estimate_background(scratch *s, const uint8_t *rgb, size_t width, size_t height,
                                double max_distance, uint8_t out[3]) {
    size_t n_pixels = width * height, best_size = 0;
    uint32_t id = 0, best_id = 0;
    for (size_t q = 0; q < n_pixels; q++) s->cls[q] = (int8_t)eval_classify_pixel(&rgb[q * 3], max_distance);
    memset(s->label, 0, n_pixels * sizeof *s->label);
    for (size_t y = 0; y < height; y++) {
        size_t step = (y == 0 || y == height - 1) ? 1 : width - 1;
        for (size_t x = 0; x < width; x += step) {
            size_t q = y * width + x;
            if (s->label[q] != 0) continue;
            size_t n = flood_component(s, width, height, q, s->cls[q], ++id, 4);
            if (n > best_size) {
                best_size = n;
                best_id = id;
            }
        }
    }
    size_t hist[3][256] = {{0}};
    for (size_t q = 0; q < n_pixels; q++)
        if (s->label[q] == best_id)
            for (int c = 0; c < 3; c++) hist[c][rgb[q * 3 + (size_t)c]]++;
    for (int c = 0; c < 3; c++) {
        size_t acc = 0, v = 0;
        while (v < 255 && (acc += hist[c][v]) * 2 < best_size) v++;
        out[c] = (uint8_t)v;
    }
    memset(s->label, 0, n_pixels * sizeof *s->label);
}

static long dist2(const uint8_t *a, const uint8_t *b) {
    long d2 = 0;
    for (int k = 0; k < 3; k++) {
        long d = (long)a[k] - (long)b[k];
        d2 += d * d;
    }
    return d2;
}

xattn_status eval_detect(const uint8_t *rgb, size_t width, size_t height,
                         const eval_detect_params *params, eval_detection *out,
                         xattn_error *err) {
    return eval_detect_labeled(rgb, width, height, params, out, NULL, err);
}

xattn_status eval_detect_labeled(const uint8_t *rgb, size_t width, size_t height,
                                 const eval_detect_params *params, eval_detection *out,
                                 uint8_t *labels, xattn_error *err) {
    eval_detect_params defaults;
    if (!params) {
        eval_detect_params_init(&defaults);
        params = &defaults;
    }
    xattn_status st = check_params(params, err);
    if (st != XATTN_OK) return st;
    if (!rgb || width < 2 || height < 2 || width > EVAL_MAX_SIDE || height > EVAL_MAX_SIDE)
        return xattn_fail(err, XATTN_ERR_VALUE, "detector: image %zux%zu: sides must be 2..%d",
                          width, height, EVAL_MAX_SIDE);
    memset(out, 0, sizeof *out);
    out->width = width;
    out->height = height;
    if (labels) memset(labels, 0, width * height);

    size_t n_pixels = width * height, n_local = (width + 2) * (height + 2);
    scratch s = {0};
    s.cls = malloc(n_pixels * sizeof *s.cls);
    s.label = calloc(n_pixels, sizeof *s.label);
    s.queue = malloc(n_pixels * sizeof *s.queue);
    s.local = malloc(n_local);
    s.stack = malloc(n_local * sizeof *s.stack);
    if (!s.cls || !s.label || !s.queue || !s.local || !s.stack) {
        scratch_free(&s);
        return xattn_fail(err, XATTN_ERR_NOMEM, "detector: out of memory for a %zux%zu image",
                          width, height);
    }

    /* a pixel nearer the background colour than every palette colour is background; else it
       takes the nearest palette colour within max_distance, or is unknown */
    estimate_background(&s, rgb, width, height, params->max_distance, out->background_rgb);
    out->background = eval_classify_pixel(out->background_rgb, params->max_distance);
    double max_d2 = params->max_distance * params->max_distance;
    for (size_t q = 0; q < n_pixels; q++) {
        const uint8_t *px = &rgb[q * 3];
        int c = eval_classify_pixel(px, params->max_distance);
        long d_bg = dist2(px, out->background_rgb);
        if ((double)d_bg <= max_d2 && (c < 0 || d_bg <= dist2(px, class_rgb(c)))) {
            c = CLASS_BACKGROUND;
        } else if (c < 0) {
            out->unknown_pixels++;
        }
        s.cls[q] = (int8_t)c;
    }

    double min_area = params->min_area * (double)n_pixels / (double)(WORLD_SIZE * WORLD_SIZE);
    uint32_t next_id = 1;
    for (size_t q = 0; q < n_pixels; q++) {
        int c = s.cls[q];
        if (c < 0 || c >= WORLD_N_COLORS || c == out->background || s.label[q] != 0) continue;
        size_t n = flood_component(&s, width, height, q, c, next_id++, params->connectivity);
        if ((double)n < min_area) {
            out->n_specks++;
        } else if (out->n_objects == EVAL_MAX_DETECTIONS) {
            out->n_more++;
        } else {
            if (labels && out->n_objects < EVAL_MAX_LABEL)
                for (size_t j = 0; j < n; j++) labels[s.queue[j]] = (uint8_t)(out->n_objects + 1);
            measure(&s, width, height, n, c, params, &out->objects[out->n_objects]);
            out->n_objects++;
        }
    }
    scratch_free(&s);
    return XATTN_OK;
}

/* ------------------------------------------------------------------------------------------ */

/* Adds item under key; deletes it and returns 0 when it is NULL or cannot be added. */
static int add_item(cJSON *obj, const char *key, cJSON *item) {
    if (!item) return 0;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return 0;
    }
    return 1;
}

cJSON *eval_objects_json(const eval_detection *d) {
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return NULL;
    for (size_t i = 0; i < d->n_objects; i++) {
        const eval_object *o = &d->objects[i];
        cJSON *j = cJSON_CreateObject();
        if (!j || !cJSON_AddItemToArray(arr, j)) {
            cJSON_Delete(j);
            cJSON_Delete(arr);
            return NULL;
        }
        const double center[2] = {o->center[0], o->center[1]};
        const int bbox[4] = {o->bbox[0], o->bbox[1], o->bbox[2], o->bbox[3]};
        int ok = cJSON_AddStringToObject(j, "shape", eval_shape_name(o->shape)) &&
                 cJSON_AddStringToObject(j, "color", world_color_names[o->color]) &&
                 cJSON_AddStringToObject(j, "size", world_size_names[o->size]) &&
                 add_item(j, "center", cJSON_CreateDoubleArray(center, 2)) &&
                 add_item(j, "bbox", cJSON_CreateIntArray(bbox, 4)) &&
                 cJSON_AddNumberToObject(j, "area", (double)o->area);
        if (!ok) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}
