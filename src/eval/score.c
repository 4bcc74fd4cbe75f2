/* score.c — the GenEval-style checks (xattn_shapes.h, docs/eval.md). */
#include "xattn_shapes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

const char *const eval_category_names[EVAL_N_CATEGORIES] = {"single",   "two",      "count",
                                                            "colors",   "position", "color_attr"};

int eval_relation_holds(world_relation rel, const double subject[2], const double object[2]) {
    double dx = object[0] - subject[0], dy = object[1] - subject[1]; /* left of: dx > 0 */
    double primary, orth;
    switch (rel) {
    case WORLD_LEFT_OF: primary = dx, orth = dy; break;
    case WORLD_RIGHT_OF: primary = -dx, orth = dy; break;
    case WORLD_ABOVE: primary = dy, orth = dx; break; /* y grows downwards */
    default: primary = -dy, orth = dx; break;
    }
    if (orth < 0) orth = -orth;
    return primary >= WORLD_RELATION_MARGIN && 2.0 * orth <= primary;
}

/* ------------------------------------------------------------------------------------------ */
/* specs                                                                                       */

static int same_description(const eval_object_spec *a, const eval_object_spec *b) {
    return a->shape == b->shape && a->color == b->color && a->size == b->size;
}

xattn_status eval_spec_check(const eval_spec *s, const char *where, xattn_error *err) {
    if ((int)s->category < 0 || s->category >= EVAL_N_CATEGORIES)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: unknown category", where);
    const char *cat = eval_category_names[s->category];
    if (s->n_objects < 1 || s->n_objects > EVAL_MAX_SPEC_OBJECTS)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: objects: %zu objects, must be 1..%d", where,
                          s->n_objects, EVAL_MAX_SPEC_OBJECTS);
    for (size_t i = 0; i < s->n_objects; i++) {
        const eval_object_spec *o = &s->objects[i];
        if ((int)o->shape < 0 || o->shape >= WORLD_N_SHAPES)
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: objects[%zu]: bad shape", where, i);
        if (o->color < -1 || o->color >= WORLD_N_COLORS)
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: objects[%zu]: bad color", where, i);
        if (o->size < -1 || o->size >= WORLD_N_SIZES)
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: objects[%zu]: bad size", where, i);
        if (o->count < 1 || o->count > EVAL_MAX_COUNT)
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: objects[%zu]: count %d, must be 1..%d",
                              where, i, o->count, EVAL_MAX_COUNT);
        if ((s->category == EVAL_COLORS || s->category == EVAL_COLOR_ATTR) && o->color < 0)
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: objects[%zu]: a %s prompt names every colour",
                              where, i, cat);
        for (size_t j = 0; j < i; j++)
            if (same_description(o, &s->objects[j]))
                return xattn_fail(err, XATTN_ERR_VALUE,
                                  "%s: objects[%zu] and objects[%zu] are the same description (use count)",
                                  where, j, i);
    }
    size_t need_min = 1, need_max = EVAL_MAX_SPEC_OBJECTS;
    switch (s->category) {
    case EVAL_SINGLE: need_max = 1; break;
    case EVAL_TWO:
    case EVAL_COLOR_ATTR: need_min = 2; break;
    case EVAL_POSITION: need_min = need_max = 2; break;
    default: break;
    }
    if (s->n_objects < need_min || s->n_objects > need_max)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: a %s prompt has %zu..%zu objects, not %zu",
                          where, cat, need_min, need_max, s->n_objects);
    if (s->category == EVAL_POSITION) {
        if (!s->has_relation)
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: relation: missing (a position prompt needs one)",
                              where);
        if ((int)s->relation < 0 || s->relation >= WORLD_N_RELATIONS)
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: relation: bad relation", where);
        if (s->subject >= s->n_objects || s->object >= s->n_objects || s->subject == s->object)
            return xattn_fail(err, XATTN_ERR_VALUE,
                              "%s: relation: subject and object must be two different objects (0..%zu)",
                              where, s->n_objects - 1);
    } else if (s->has_relation) {
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: relation: only position prompts have one (got a %s prompt)",
                          where, cat);
    }
    return XATTN_OK;
}

void eval_spec_from_scene(const world_scene *scene, eval_spec *out) {
    static const eval_category of_kind[WORLD_N_KINDS] = {EVAL_SINGLE, EVAL_COUNT, EVAL_COLOR_ATTR,
                                                         EVAL_POSITION};
    memset(out, 0, sizeof *out);
    out->category = of_kind[scene->kind];
    size_t n = scene->kind == WORLD_KIND_COUNT ? 1 : scene->n_objects;
    if (n > EVAL_MAX_SPEC_OBJECTS) n = EVAL_MAX_SPEC_OBJECTS;
    out->n_objects = n;
    for (size_t i = 0; i < n; i++) {
        const world_object *o = &scene->objects[i];
        out->objects[i].shape = o->shape;
        out->objects[i].color = (int)o->color;
        out->objects[i].size = o->n_words == WORLD_MAX_NAME_WORDS ? (int)o->size : -1;
        out->objects[i].count = scene->kind == WORLD_KIND_COUNT ? (int)scene->n_objects : 1;
    }
    out->has_relation = scene->has_relation;
    out->relation = scene->relation;
    out->subject = scene->subject;
    out->object = scene->object;
}

/* ------------------------------------------------------------------------------------------ */
/* messages                                                                                    */

/* "small red circle" / "red circles": the words after the article or number. */
static void describe_words(const eval_object_spec *o, int plural, char *buf, size_t len) {
    snprintf(buf, len, "%s%s%s%s%s", o->size >= 0 ? world_size_names[o->size] : "",
             o->size >= 0 ? " " : "", o->color >= 0 ? world_color_names[o->color] : "",
             o->color >= 0 ? " " : "",
             plural ? world_shape_plurals[o->shape] : world_shape_names[o->shape]);
}

void eval_describe(const eval_object_spec *o, char *buf, size_t len) {
    char words[64];
    describe_words(o, o->count != 1, words, sizeof words);
    if (o->count == 1)
        snprintf(buf, len, "%s %s", strchr("aeiou", words[0]) ? "an" : "a", words);
    else
        snprintf(buf, len, "%d %s", o->count, words);
}

/* "a small red circle" for a detected object. */
static void describe_found(const eval_object *d, char *buf, size_t len) {
    const char *color = world_color_names[d->color];
    snprintf(buf, len, "%s %s %s %s", strchr("aeiou", world_size_names[d->size][0]) ? "an" : "a",
             world_size_names[d->size], color, eval_shape_name(d->shape));
}

typedef struct reason_buf {
    char *buf;
    size_t len, used;
} reason_buf;

/* Appends one reason, "; "-separated. */
__attribute__((format(printf, 2, 3))) static void add_reason(reason_buf *r, const char *fmt, ...) {
    if (!r->buf || r->len == 0 || r->used + 1 >= r->len) return;
    if (r->used > 0) {
        int n = snprintf(r->buf + r->used, r->len - r->used, "; ");
        r->used += n > 0 ? (size_t)n : 0;
        if (r->used >= r->len) {
            r->used = r->len - 1;
            return;
        }
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf + r->used, r->len - r->used, fmt, ap);
    va_end(ap);
    if (n > 0) r->used += (size_t)n;
    if (r->used >= r->len) r->used = r->len - 1;
}

/* ------------------------------------------------------------------------------------------ */
/* checks                                                                                      */

static int matches(const eval_object_spec *o, const eval_object *d) {
    return d->shape == (int)o->shape && (o->color < 0 || (int)d->color == o->color) &&
           (o->size < 0 || (int)d->size == o->size);
}

void eval_holdout_pairs(const eval_spec *spec, const eval_detection *det, size_t *asked,
                        size_t *drawn) {
    *asked = *drawn = 0;
    for (size_t i = 0; i < spec->n_objects; i++) {
        const eval_object_spec *o = &spec->objects[i];
        if (o->color < 0 || !world_is_holdout_pair((world_color)o->color, o->shape)) continue;
        eval_object_spec pair = {o->shape, o->color, -1, o->count};
        int n = 0;
        for (size_t k = 0; k < det->n_objects; k++) n += matches(&pair, &det->objects[k]);
        (*asked)++;
        *drawn += n >= o->count;
    }
}

/* " (circles seen: a large blue circle, ...)" for the objects of o's shape that do not match. */
static void others_of_shape(const eval_object_spec *o, const eval_detection *det, char *buf,
                            size_t len) {
    size_t used = 0, shown = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < det->n_objects && shown < 3; k++) {
        const eval_object *d = &det->objects[k];
        if (d->shape != (int)o->shape || matches(o, d)) continue;
        char one[64];
        describe_found(d, one, sizeof one);
        int n = snprintf(buf + used, len - used, "%s%s", shown ? ", " : " (seen instead: ", one);
        if (n < 0 || (size_t)n >= len - used) break;
        used += (size_t)n;
        shown++;
    }
    if (shown > 0 && used + 2 <= len) snprintf(buf + used, len - used, ")");
}

/* world pixels */
static void world_center(const eval_detection *det, const eval_object *d, double c[2]) {
    c[0] = d->center[0] * (double)WORLD_SIZE / (double)det->width;
    c[1] = d->center[1] * (double)WORLD_SIZE / (double)det->height;
}

/* Every object of a described shape has a colour that some description of that shape names. */
static int check_colors(const eval_spec *spec, const eval_detection *det, reason_buf *r) {
    int ok = 1;
    for (size_t i = 0; i < spec->n_objects; i++) {
        world_shape shape = spec->objects[i].shape;
        int first = 1; /* the first description of this shape does the check */
        for (size_t j = 0; j < i; j++) first &= spec->objects[j].shape != shape;
        if (!first) continue;
        for (size_t k = 0; k < det->n_objects; k++) {
            const eval_object *d = &det->objects[k];
            if (d->shape != (int)shape) continue;
            int allowed = 0;
            char names[96] = "";
            size_t used = 0;
            for (size_t j = i; j < spec->n_objects; j++) {
                const eval_object_spec *o = &spec->objects[j];
                if (o->shape != shape) continue;
                allowed |= o->color < 0 || o->color == (int)d->color;
                if (o->color >= 0) {
                    int n = snprintf(names + used, sizeof names - used, "%s%s", used ? " or " : "",
                                     world_color_names[o->color]);
                    if (n > 0 && (size_t)n < sizeof names - used) used += (size_t)n;
                }
            }
            if (!allowed) {
                char found[64];
                describe_found(d, found, sizeof found);
                add_reason(r, "expected every %s to be %s, found %s", world_shape_names[shape], names,
                           found);
                ok = 0;
                break;
            }
        }
    }
    return ok;
}

static int check_relation(const eval_spec *spec, const eval_detection *det, reason_buf *r) {
    const eval_object_spec *sub = &spec->objects[spec->subject], *obj = &spec->objects[spec->object];
    for (size_t a = 0; a < det->n_objects; a++) {
        if (!matches(sub, &det->objects[a])) continue;
        for (size_t b = 0; b < det->n_objects; b++) {
            if (b == a || !matches(obj, &det->objects[b])) continue;
            double ca[2], cb[2];
            world_center(det, &det->objects[a], ca);
            world_center(det, &det->objects[b], cb);
            if (!eval_relation_holds(spec->relation, ca, cb)) {
                char sw[64], ow[64];
                describe_words(sub, 0, sw, sizeof sw);
                describe_words(obj, 0, ow, sizeof ow);
                add_reason(r, "the %s at (%g, %g) is not %s the %s at (%g, %g)", sw, ca[0], ca[1],
                           world_relation_names[spec->relation], ow, cb[0], cb[1]);
                return 0;
            }
        }
    }
    return 1;
}

int eval_score(const eval_spec *spec, const eval_detection *det, char *reason, size_t reason_len) {
    reason_buf r = {reason, reason_len, 0};
    if (reason && reason_len > 0) reason[0] = '\0';
    int ok = 1;
    for (size_t i = 0; i < spec->n_objects; i++) {
        const eval_object_spec *o = &spec->objects[i];
        size_t n = 0;
        for (size_t k = 0; k < det->n_objects; k++) n += (size_t)matches(o, &det->objects[k]);
        int pass = spec->category == EVAL_COUNT ? n == (size_t)o->count : n >= (size_t)o->count;
        if (!pass) {
            char want[96], others[256];
            eval_describe(o, want, sizeof want);
            others_of_shape(o, det, others, sizeof others);
            if (n == 0)
                add_reason(&r, "expected %s, found none%s", want, others);
            else
                add_reason(&r, "expected %s, found %zu%s", want, n, others);
            ok = 0;
        }
    }
    if ((spec->category == EVAL_COLORS || spec->category == EVAL_COLOR_ATTR) && ok)
        ok = check_colors(spec, det, &r);
    if (spec->category == EVAL_POSITION && spec->has_relation && ok)
        ok = check_relation(spec, det, &r);
    return ok;
}
