/* world.c — drawing a shapes-world scene: vocabulary tables, the per-image PRNG, placement by
 * rejection sampling, rasterisation and the caption. See xattn_shapes.h and docs/shapes-world.md. */
#include "xattn_shapes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* vocabulary                                                                                  */

const char *const world_shape_names[WORLD_N_SHAPES] = {"circle", "square", "triangle", "ring", "cross"};
const char *const world_shape_plurals[WORLD_N_SHAPES] = {"circles", "squares", "triangles", "rings",
                                                         "crosses"};
const char *const world_color_names[WORLD_N_COLORS] = {"red",    "green",  "blue",  "yellow",
                                                       "orange", "purple", "white", "black"};
/* Well apart: the closest two (yellow, orange) differ by ~100 in RGB; gray (a background only)
 * is >= 110 from every object colour. */
const uint8_t world_color_rgb[WORLD_N_COLORS][3] = {
    {220, 30, 30},   /* red */
    {30, 170, 50},   /* green */
    {30, 70, 230},   /* blue */
    {245, 225, 30},  /* yellow */
    {250, 125, 15},  /* orange */
    {150, 40, 200},  /* purple */
    {255, 255, 255}, /* white */
    {0, 0, 0},       /* black */
};
const char *const world_background_names[WORLD_N_BACKGROUNDS] = {"black", "white", "gray"};
const uint8_t world_background_rgb[WORLD_N_BACKGROUNDS][3] = {
    {0, 0, 0}, {255, 255, 255}, {128, 128, 128}};
const char *const world_size_names[WORLD_N_SIZES] = {"small", "large"};
const int world_size_pixels[WORLD_N_SIZES] = {8, 14};
const char *const world_position_names[WORLD_N_POSITIONS] = {
    "top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right"};
const char *const world_relation_names[WORLD_N_RELATIONS] = {"left of", "right of", "above", "below"};
const char *const world_kind_names[WORLD_N_KINDS] = {"single", "count", "pair", "relation"};
const double world_kind_shares[WORLD_N_KINDS] = {0.30, 0.20, 0.20, 0.30};
const char *const world_split_names[WORLD_N_SPLITS] = {"train", "holdout"};

const world_pair world_holdout_pairs[WORLD_N_HOLDOUT_PAIRS] = {
    {WORLD_RED, WORLD_TRIANGLE},  {WORLD_BLUE, WORLD_RING},     {WORLD_GREEN, WORLD_CROSS},
    {WORLD_YELLOW, WORLD_SQUARE}, {WORLD_PURPLE, WORLD_CIRCLE},
};

int world_is_holdout_pair(world_color color, world_shape shape) {
    for (size_t i = 0; i < WORLD_N_HOLDOUT_PAIRS; i++)
        if (world_holdout_pairs[i].color == color && world_holdout_pairs[i].shape == shape)
            return 1;
    return 0;
}

world_color world_background_color(world_background bg) {
    return bg == WORLD_BG_BLACK ? WORLD_BLACK : bg == WORLD_BG_WHITE ? WORLD_WHITE : WORLD_N_COLORS;
}

world_position world_position_of(double x, double y) {
    int col = (int)floor(x * 3.0 / WORLD_SIZE), row = (int)floor(y * 3.0 / WORLD_SIZE);
    col = col < 0 ? 0 : col > 2 ? 2 : col;
    row = row < 0 ? 0 : row > 2 ? 2 : row;
    return (world_position)(row * 3 + col);
}

int world_lookup(const char *const *names, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

int world_relation_holds(world_relation rel, const int subject[2], const int object[2]) {
    int dx = object[0] - subject[0], dy = object[1] - subject[1]; /* subject left of object: dx > 0 */
    int primary, orth;
    switch (rel) {
    case WORLD_LEFT_OF: primary = dx, orth = dy; break;
    case WORLD_RIGHT_OF: primary = -dx, orth = dy; break;
    case WORLD_ABOVE: primary = dy, orth = dx; break; /* y grows downwards */
    default: primary = -dy, orth = dx; break;
    }
    if (orth < 0)
        orth = -orth;
    return primary >= WORLD_RELATION_MARGIN && 2 * orth <= primary;
}

/* ------------------------------------------------------------------------------------------ */
/* PRNG: splitmix64, seeded per image from a hash of (seed, split, index)                      */

typedef struct world_rng {
    uint64_t state;
} world_rng;

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(world_rng *r, uint64_t seed, world_split split, uint64_t index) {
    uint64_t h = mix64(seed + 0x736861706573ULL); /* "shapes" */
    h = mix64(h ^ (0x9e3779b97f4a7c15ULL * ((uint64_t)split + 1)));
    h = mix64(h + index * 0xd1b54a32d192ed03ULL);
    r->state = h;
}

static uint64_t rng_next(world_rng *r) {
    r->state += 0x9e3779b97f4a7c15ULL;
    return mix64(r->state);
}

/* Uniform in [0, n) for small n (bias < n / 2^64). */
static size_t rng_below(world_rng *r, size_t n) { return (size_t)(rng_next(r) % n); }

/* Uniform in [lo, hi]. */
static int rng_range(world_rng *r, int lo, int hi) {
    return lo + (int)rng_below(r, (size_t)(hi - lo + 1));
}

/* Uniform in [0, 1). */
static double rng_unit(world_rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

static int rng_chance(world_rng *r, double p) { return rng_unit(r) < p; }

/* ------------------------------------------------------------------------------------------ */
/* attributes                                                                                  */

/* A colour-shape pair allowed in train (not a holdout pair) whose colour is not the background. */
static world_pair train_pair(world_rng *r, world_background bg) {
    world_color bg_color = world_background_color(bg);
    for (;;) {
        world_pair p = {(world_color)rng_below(r, WORLD_N_COLORS),
                        (world_shape)rng_below(r, WORLD_N_SHAPES)};
        if (p.color != bg_color && !world_is_holdout_pair(p.color, p.shape))
            return p;
    }
}

/* One of the holdout pairs whose colour is not the background. */
static world_pair holdout_pair(world_rng *r, world_background bg) {
    for (;;) {
        world_pair p = world_holdout_pairs[rng_below(r, WORLD_N_HOLDOUT_PAIRS)];
        if (p.color != world_background_color(bg))
            return p;
    }
}

static void set_pair(world_object *o, world_pair p) {
    o->color = p.color;
    o->shape = p.shape;
}

/* ------------------------------------------------------------------------------------------ */
/* placement                                                                                   */

/* Centre range [lo, hi] along one axis for grid index g (0, 1, 2) and half size h: the centre
 * at least 1.6 px inside its third of the image (thirds end at 10.67 and 21.33), the box inside
 * the image. */
static void cell_range(int g, int h, int *lo, int *hi) {
    static const int lo_of[3] = {0, 13, 23}, hi_of[3] = {9, 19, WORLD_SIZE};
    *lo = lo_of[g] > h ? lo_of[g] : h;
    *hi = hi_of[g] < WORLD_SIZE - h ? hi_of[g] : WORLD_SIZE - h;
}

/* Boxes at least WORLD_GAP pixels apart along x or y. */
static int separated(const world_object *a, const world_object *b) {
    int need = (world_size_pixels[a->size] + world_size_pixels[b->size]) / 2 + WORLD_GAP;
    int dx = abs(a->center[0] - b->center[0]), dy = abs(a->center[1] - b->center[1]);
    return dx >= need || dy >= need;
}

static int layout_ok(const world_scene *s) {
    for (size_t i = 0; i < s->n_objects; i++)
        for (size_t j = i + 1; j < s->n_objects; j++)
            if (!separated(&s->objects[i], &s->objects[j]))
                return 0;
    return !s->has_relation || world_relation_holds(s->relation, s->objects[s->subject].center,
                                                    s->objects[s->object].center);
}

/* Each object in a uniformly drawn grid cell, jittered inside it; rejection until the layout
 * holds. Returns 0 if no layout was found. */
static int place_objects(world_rng *r, world_scene *s) {
    for (int attempt = 0; attempt < 2000; attempt++) {
        for (size_t i = 0; i < s->n_objects; i++) {
            world_object *o = &s->objects[i];
            int cell = (int)rng_below(r, WORLD_N_POSITIONS), h = world_size_pixels[o->size] / 2, lo, hi;
            cell_range(cell % 3, h, &lo, &hi);
            o->center[0] = rng_range(r, lo, hi);
            cell_range(cell / 3, h, &lo, &hi);
            o->center[1] = rng_range(r, lo, hi);
        }
        if (layout_ok(s))
            return 1;
    }
    return 0;
}

/* A fixed small-object layout for the (never observed) case that rejection fails twice. */
static void place_fallback(world_scene *s) {
    static const int row[3][2] = {{6, 16}, {26, 16}, {16, 5}}; /* left, right, top */
    static const int col[2][2] = {{16, 6}, {16, 26}};          /* top, bottom */
    for (size_t i = 0; i < s->n_objects; i++) {
        s->objects[i].size = WORLD_SMALL;
        memcpy(s->objects[i].center, row[i], sizeof row[i]);
    }
    if (s->has_relation) {
        int first = s->relation == WORLD_LEFT_OF || s->relation == WORLD_ABOVE ? 0 : 1;
        const int(*pts)[2] = s->relation == WORLD_LEFT_OF || s->relation == WORLD_RIGHT_OF ? row : col;
        memcpy(s->objects[s->subject].center, pts[first], sizeof pts[0]);
        memcpy(s->objects[s->object].center, pts[1 - first], sizeof pts[0]);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* rasterisation                                                                               */

/* Doubled inner ring radius and doubled cross half arm, per size: ring 2 px / 3 px thick,
 * cross arms 2 px / 4 px wide. */
static const int ring_inner2[WORLD_N_SIZES] = {4, 8};
static const int cross_arm2[WORLD_N_SIZES] = {2, 4};

/* (dx2, dy2): the pixel centre minus the object centre, doubled (odd, |.| < s); row: the
 * pixel's row inside the box, 0 at the top. */
static int shape_covers(world_shape shape, world_size size, int dx2, int dy2, int row) {
    int s = world_size_pixels[size], d2 = dx2 * dx2 + dy2 * dy2;
    switch (shape) {
    case WORLD_CIRCLE: return d2 <= s * s;
    case WORLD_SQUARE: return 1;
    case WORLD_TRIANGLE: return abs(dx2) <= row + 1; /* apex up, base = height = s */
    case WORLD_RING: return d2 <= s * s && d2 > ring_inner2[size] * ring_inner2[size];
    default: return abs(dx2) <= cross_arm2[size] || abs(dy2) <= cross_arm2[size];
    }
}

static void render(world_scene *s) {
    const uint8_t *bg = world_background_rgb[s->background];
    for (size_t p = 0; p < (size_t)WORLD_SIZE * WORLD_SIZE; p++)
        memcpy(&s->rgb[p * 3], bg, 3);
    memset(s->mask, 0, sizeof s->mask);
    for (size_t k = 0; k < s->n_objects; k++) {
        world_object *o = &s->objects[k];
        int side = world_size_pixels[o->size], x0 = o->center[0] - side / 2,
            y0 = o->center[1] - side / 2;
        o->bbox[0] = o->bbox[1] = WORLD_SIZE;
        o->bbox[2] = o->bbox[3] = -1;
        o->pixels = 0;
        for (int y = y0; y < y0 + side; y++) {
            for (int x = x0; x < x0 + side; x++) {
                if (!shape_covers(o->shape, o->size, 2 * (x - o->center[0]) + 1,
                                  2 * (y - o->center[1]) + 1, y - y0))
                    continue;
                size_t p = (size_t)y * WORLD_SIZE + (size_t)x;
                memcpy(&s->rgb[p * 3], world_color_rgb[o->color], 3);
                s->mask[p] = (uint8_t)(k + 1);
                o->pixels++;
                if (x < o->bbox[0])
                    o->bbox[0] = x;
                if (y < o->bbox[1])
                    o->bbox[1] = y;
                if (x > o->bbox[2])
                    o->bbox[2] = x;
                if (y > o->bbox[3])
                    o->bbox[3] = y;
            }
        }
        o->position = world_position_of(o->center[0], o->center[1]);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* captions                                                                                    */

typedef struct caption {
    char *text; /* [WORLD_CAPTION_LEN] */
    size_t len;
    size_t n_words;
} caption;

/* Appends one word; returns its index. (Captions are far shorter than the buffer; a word that
 * would not fit is dropped rather than overflow.) */
static size_t put_word(caption *c, const char *w) {
    size_t n = strlen(w), sep = c->len > 0;
    if (c->len + sep + n + 1 <= WORLD_CAPTION_LEN) {
        if (sep)
            c->text[c->len++] = ' ';
        memcpy(c->text + c->len, w, n + 1);
        c->len += n;
    }
    return c->n_words++;
}

/* Appends space-separated words. */
static void put_words(caption *c, const char *ws) {
    char word[32];
    while (*ws) {
        size_t n = strcspn(ws, " ");
        if (n > 0 && n < sizeof word) {
            memcpy(word, ws, n);
            word[n] = '\0';
            put_word(c, word);
        }
        ws += n;
        while (*ws == ' ')
            ws++;
    }
}

/* "a small red circle", "an orange ring", "three large blue squares": names objects
 * [first, first + n) (a counted group shares one phrase). */
static void put_noun_phrase(caption *c, world_scene *s, size_t first, size_t n, int with_size) {
    world_object *o = &s->objects[first];
    static const char *const numbers[4] = {"", "", "two", "three"};
    const char *next = with_size ? world_size_names[o->size] : world_color_names[o->color];
    if (n == 1)
        put_word(c, strchr("aeiou", next[0]) ? "an" : "a");
    else
        put_word(c, numbers[n]);
    size_t words[WORLD_MAX_NAME_WORDS], n_words = 0;
    if (with_size)
        words[n_words++] = put_word(c, world_size_names[o->size]);
    words[n_words++] = put_word(c, world_color_names[o->color]);
    words[n_words++] = put_word(c, n == 1 ? world_shape_names[o->shape] : world_shape_plurals[o->shape]);
    for (size_t k = first; k < first + n; k++) {
        memcpy(s->objects[k].words, words, sizeof words);
        s->objects[k].n_words = n_words;
    }
}

static const char *const position_phrases[WORLD_N_POSITIONS][3] = {
    {"in the top left", "at the top left", "in the top left corner"},
    {"at the top", "at the top of the image", NULL},
    {"in the top right", "at the top right", "in the top right corner"},
    {"on the left", "on the left side", "at the left side"},
    {"in the center", "in the middle", "at the center"},
    {"on the right", "on the right side", "at the right side"},
    {"in the bottom left", "at the bottom left", "in the bottom left corner"},
    {"at the bottom", "at the bottom of the image", NULL},
    {"in the bottom right", "at the bottom right", "in the bottom right corner"},
};

static const char *const relation_phrases[WORLD_N_RELATIONS][3] = {
    {"left of", "to the left of", "on the left of"},
    {"right of", "to the right of", "on the right of"},
    {"above", NULL, NULL},
    {"below", "under", "beneath"},
};

/* One of up to 3 phrasings (the list ends early at a NULL). */
static const char *pick_phrase(world_rng *r, const char *const list[3]) {
    size_t n = list[2] ? 3 : list[1] ? 2 : 1;
    return list[rng_below(r, n)];
}

static void put_background(caption *c, world_rng *r, world_background bg) {
    put_word(c, rng_chance(r, 0.5) ? "on" : "against");
    put_word(c, "a");
    put_word(c, world_background_names[bg]);
    put_word(c, "background");
}

/* "a white background with" */
static void put_background_lead(caption *c, world_background bg) {
    put_word(c, "a");
    put_word(c, world_background_names[bg]);
    put_words(c, "background with");
}

/* Template ids per kind; a template that needs a position or background phrase the scene does
 * not mention falls back to template 0 or 1. */
static void write_caption(world_scene *s, world_rng *r, int with_size, int with_position, int with_bg) {
    caption c = {s->caption, 0, 0};
    s->caption[0] = '\0';
    int t;
    switch (s->kind) {
    case WORLD_KIND_SINGLE:
        t = (int)rng_below(r, 5);
        if (t == 3 && !with_position)
            t = 1;
        if (t == 4 && !with_bg)
            t = 0;
        if (t == 1)
            put_words(&c, "there is");
        if (t == 2)
            put_words(&c, "a picture of");
        if (t == 3) {
            put_words(&c, pick_phrase(r, position_phrases[s->objects[0].position]));
            put_words(&c, "there is");
        }
        if (t == 4)
            put_background_lead(&c, s->background);
        put_noun_phrase(&c, s, 0, 1, with_size);
        if (with_position && t != 3)
            put_words(&c, pick_phrase(r, position_phrases[s->objects[0].position]));
        if (with_bg && t != 4)
            put_background(&c, r, s->background);
        break;
    case WORLD_KIND_COUNT:
        t = (int)rng_below(r, 4);
        if (t == 3 && !with_bg)
            t = 0;
        if (t == 1)
            put_words(&c, "there are");
        if (t == 2)
            put_words(&c, "a picture of");
        if (t == 3)
            put_background_lead(&c, s->background);
        put_noun_phrase(&c, s, 0, s->n_objects, with_size);
        if (with_bg && t != 3)
            put_background(&c, r, s->background);
        break;
    case WORLD_KIND_PAIR:
        t = (int)rng_below(r, 5);
        if (t == 4 && !with_bg)
            t = 0;
        if (t == 1)
            put_words(&c, "there is");
        if (t == 3)
            put_words(&c, "a picture of");
        if (t == 4)
            put_background_lead(&c, s->background);
        put_noun_phrase(&c, s, 0, 1, with_size);
        put_word(&c, t == 2 ? "with" : "and");
        put_noun_phrase(&c, s, 1, 1, with_size);
        if (with_bg && t != 4)
            put_background(&c, r, s->background);
        break;
    default: /* relation */
        t = (int)rng_below(r, 4);
        if (t == 3 && !with_bg)
            t = 0;
        if (t == 2)
            put_words(&c, "there is");
        if (t == 3)
            put_background_lead(&c, s->background);
        put_noun_phrase(&c, s, s->subject, 1, with_size);
        if (t == 1)
            put_word(&c, "is");
        put_words(&c, pick_phrase(r, relation_phrases[s->relation]));
        put_noun_phrase(&c, s, s->object, 1, with_size);
        if (with_bg && t != 3)
            put_background(&c, r, s->background);
        break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* the scene                                                                                   */

static world_kind pick_kind(world_rng *r) {
    double u = rng_unit(r), acc = 0.0;
    for (int k = 0; k < WORLD_N_KINDS - 1; k++) {
        acc += world_kind_shares[k];
        if (u < acc)
            return (world_kind)k;
    }
    return (world_kind)(WORLD_N_KINDS - 1);
}

void world_draw(world_scene *s, uint64_t seed, world_split split, uint64_t index) {
    world_rng r;
    rng_seed(&r, seed, split, index);
    memset(s, 0, sizeof *s);
    s->kind = pick_kind(&r);
    s->background = (world_background)rng_below(&r, WORLD_N_BACKGROUNDS);
    s->n_objects = s->kind == WORLD_KIND_SINGLE  ? 1
                   : s->kind == WORLD_KIND_COUNT ? 2 + rng_below(&r, 2)
                                                 : 2;
    /* which object carries the holdout pair (holdout split only; a counted group shares it) */
    size_t held = split == WORLD_HOLDOUT && s->n_objects == 2 && s->kind != WORLD_KIND_COUNT
                      ? rng_below(&r, 2)
                      : 0;
    int holdout = split == WORLD_HOLDOUT;
    world_object *o = s->objects;
    int with_size = 0, with_position = 0, with_bg = 0;

    switch (s->kind) {
    case WORLD_KIND_SINGLE:
    case WORLD_KIND_COUNT:
        set_pair(&o[0], holdout ? holdout_pair(&r, s->background) : train_pair(&r, s->background));
        o[0].size = (world_size)rng_below(&r, WORLD_N_SIZES);
        for (size_t k = 1; k < s->n_objects; k++)
            o[k] = o[0];
        if (s->kind == WORLD_KIND_SINGLE) {
            with_size = rng_chance(&r, 0.5);
            with_position = rng_chance(&r, 0.5);
            with_bg = rng_chance(&r, 0.3);
        } else {
            with_size = rng_chance(&r, 0.3);
            with_bg = rng_chance(&r, 0.3);
        }
        break;
    case WORLD_KIND_PAIR:     /* different shapes and different colours */
    case WORLD_KIND_RELATION: /* different shapes or different colours */
        set_pair(&o[held], holdout ? holdout_pair(&r, s->background) : train_pair(&r, s->background));
        for (;;) {
            set_pair(&o[1 - held], train_pair(&r, s->background));
            int same_shape = o[0].shape == o[1].shape, same_color = o[0].color == o[1].color;
            if (s->kind == WORLD_KIND_PAIR ? !same_shape && !same_color : !(same_shape && same_color))
                break;
        }
        o[0].size = (world_size)rng_below(&r, WORLD_N_SIZES);
        o[1].size = (world_size)rng_below(&r, WORLD_N_SIZES);
        if (s->kind == WORLD_KIND_RELATION) {
            s->has_relation = 1;
            s->relation = (world_relation)rng_below(&r, WORLD_N_RELATIONS);
            s->subject = 0;
            s->object = 1;
        }
        with_size = rng_chance(&r, s->kind == WORLD_KIND_PAIR ? 0.3 : 0.2);
        with_bg = rng_chance(&r, 0.2);
        break;
    default: break;
    }

    if (!place_objects(&r, s)) {
        for (size_t k = 0; k < s->n_objects; k++)
            o[k].size = WORLD_SMALL;
        if (!place_objects(&r, s))
            place_fallback(s);
    }
    render(s);
    write_caption(s, &r, with_size, with_position, with_bg);
}
