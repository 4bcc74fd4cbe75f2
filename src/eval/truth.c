/* truth.c — streaming a dataset folder's truth.jsonl with its images, and comparing a
 * detection with the truth (xattn_shapes.h). */
#define _POSIX_C_SOURCE 200809L
#include "xattn_shapes.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "xattn_io.h"
#include "util/error.h"

enum { TRUTH_MAX_LINE = 1 << 16, NPY_MAX_HEADER = 1 << 16 };

struct eval_truth {
    char *dir;
    char *truth_path; /* DIR/truth.jsonl */
    FILE *fp;
    size_t line_no;
    char *line; /* getline's buffer */
    size_t cap;
    char *npy_path; /* DIR/images.npy once opened */
    FILE *npy;
    uint64_t npy_rows; /* N of uint8 [N, 32, 32, 3] */
    off_t npy_data;    /* offset of row 0 */
};

void eval_truth_close(eval_truth *t) {
    if (!t) return;
    if (t->fp) fclose(t->fp);
    if (t->npy) fclose(t->npy);
    free(t->dir);
    free(t->truth_path);
    free(t->npy_path);
    free(t->line);
    free(t);
}

/* "<a>/<b>", malloc'd. */
static char *join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s) return NULL;
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

xattn_status eval_truth_open(const char *dir, eval_truth **out, xattn_error *err) {
    *out = NULL;
    eval_truth *t = calloc(1, sizeof *t);
    if (!t || !(t->dir = strdup(dir)) || !(t->truth_path = join(dir, "truth.jsonl"))) {
        eval_truth_close(t);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", dir);
    }
    t->fp = fopen(t->truth_path, "rb");
    if (!t->fp) {
        xattn_status st = xattn_fail(err, XATTN_ERR_IO, "%s: cannot open: %s%s", t->truth_path,
                                     strerror(errno),
                                     errno == ENOENT ? " (not a finished `xattn dataset` folder)" : "");
        eval_truth_close(t);
        return st;
    }
    *out = t;
    return XATTN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* images.npy: uint8 [N, 32, 32, 3]                                                             */

/* Skips spaces; returns the rest. */
static const char *skip_spaces(const char *s) {
    while (*s == ' ') s++;
    return s;
}

/* The value after "'key':" in a .npy header dict, or NULL. */
static const char *npy_value(const char *header, const char *key) {
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s':", key);
    const char *at = strstr(header, quoted);
    return at ? skip_spaces(at + strlen(quoted)) : NULL;
}

static xattn_status npy_open(eval_truth *t, const char *path, xattn_error *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return xattn_fail(err, XATTN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char pre[12];
    char *header = NULL;
    xattn_status st = XATTN_OK;
    if (fread(pre, 1, 10, fp) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] < 1 || pre[6] > 3) {
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: not a NumPy .npy file (version 1..3)", path);
        goto done;
    }
    size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8, start = 10;
    if (pre[6] >= 2) {
        if (fread(pre + 10, 1, 2, fp) != 2) {
            st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: truncated header", path);
            goto done;
        }
        hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        start = 12;
    }
    if (hlen == 0 || hlen > NPY_MAX_HEADER) {
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: header length %zu out of range", path, hlen);
        goto done;
    }
    header = malloc(hlen + 1);
    if (!header) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (fread(header, 1, hlen, fp) != hlen) {
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: truncated header", path);
        goto done;
    }
    header[hlen] = '\0';
    const char *descr = npy_value(header, "descr"), *order = npy_value(header, "fortran_order"),
               *shape = npy_value(header, "shape");
    if (!descr || !(strncmp(descr, "'|u1'", 5) == 0 || strncmp(descr, "'<u1'", 5) == 0 ||
                    strncmp(descr, "'u1'", 4) == 0)) {
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: dtype is not uint8 ('|u1')", path);
        goto done;
    }
    if (!order || strncmp(order, "False", 5) != 0) {
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: fortran_order is not False", path);
        goto done;
    }
    unsigned long long dims[4];
    size_t n_dims = 0;
    if (shape && *shape == '(') {
        const char *p = shape + 1;
        while (n_dims < 4) {
            p = skip_spaces(p);
            if (*p < '0' || *p > '9') break;
            char *end;
            errno = 0;
            dims[n_dims++] = strtoull(p, &end, 10);
            if (errno) n_dims = 5;
            p = skip_spaces(end);
            if (*p == ',') p++;
        }
        if (*skip_spaces(p) != ')') n_dims = 5;
    }
    if (n_dims != 4 || dims[1] != WORLD_SIZE || dims[2] != WORLD_SIZE || dims[3] != 3 ||
        dims[0] > (1ULL << 40)) {
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: shape is not (N, %d, %d, 3)", path, WORLD_SIZE,
                        WORLD_SIZE);
        goto done;
    }
    off_t data = (off_t)(start + hlen);
    if (fseeko(fp, 0, SEEK_END) != 0) {
        st = xattn_fail(err, XATTN_ERR_IO, "%s: cannot seek", path);
        goto done;
    }
    off_t size = ftello(fp);
    uint64_t row = (uint64_t)WORLD_SIZE * WORLD_SIZE * 3;
    if (size < data || (uint64_t)(size - data) < dims[0] * row) {
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: truncated: %llu rows need %llu data bytes, file has %lld",
                        path, dims[0], dims[0] * row, (long long)(size - data));
        goto done;
    }
    t->npy = fp;
    t->npy_rows = dims[0];
    t->npy_data = data;
    fp = NULL;
done:
    free(header);
    if (fp) fclose(fp);
    return st;
}

/* The image of record id: a PNG file, or row id of images.npy. */
static xattn_status load_image(eval_truth *t, const char *image, uint64_t id, uint8_t *rgb,
                               xattn_error *err) {
    char *path = join(t->dir, image);
    if (!path) return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", t->dir);
    xattn_status st = XATTN_OK;
    size_t n = strlen(image);
    if (n >= 4 && strcmp(image + n - 4, ".npy") == 0) {
        if (t->npy && strcmp(t->npy_path, path) != 0) {
            st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: records name two .npy files (%s first)",
                            path, t->npy_path);
            goto done;
        }
        if (!t->npy) {
            if ((st = npy_open(t, path, err)) != XATTN_OK) goto done;
            t->npy_path = path;
            path = NULL;
        }
        if (id >= t->npy_rows) {
            st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: record id %llu, but the array has %llu rows",
                            t->npy_path, (unsigned long long)id, (unsigned long long)t->npy_rows);
            goto done;
        }
        size_t row = (size_t)WORLD_SIZE * WORLD_SIZE * 3;
        if (fseeko(t->npy, t->npy_data + (off_t)(id * row), SEEK_SET) != 0 ||
            fread(rgb, 1, row, t->npy) != row)
            st = xattn_fail(err, XATTN_ERR_IO, "%s: cannot read row %llu", t->npy_path,
                            (unsigned long long)id);
        goto done;
    }
    uint8_t *pixels = NULL;
    size_t w, h;
    if ((st = xattn_image_read_rgb(path, &pixels, &w, &h, err)) != XATTN_OK) goto done;
    if (w != WORLD_SIZE || h != WORLD_SIZE)
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: %zux%zu, a shapes-world image is %dx%d", path, w,
                        h, WORLD_SIZE, WORLD_SIZE);
    else
        memcpy(rgb, pixels, (size_t)WORLD_SIZE * WORLD_SIZE * 3);
    free(pixels);
done:
    free(path);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* truth.jsonl records                                                                          */

static int get_name(const cJSON *obj, const char *key, const char *const *names, size_t n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? world_lookup(names, n, v->valuestring) : -1;
}

/* A whole number in [lo, hi] or -1 (callers use lo >= 0). */
static double get_whole(const cJSON *v, double lo, double hi) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    return d >= lo && d <= hi && d == floor(d) ? d : -1;
}

/* An array of exactly n whole numbers in [lo, hi]. Returns 0 when it is not. */
static int get_ints(const cJSON *obj, const char *key, size_t n, double lo, double hi, int *out) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != (int)n) return 0;
    for (size_t i = 0; i < n; i++) {
        double d = get_whole(cJSON_GetArrayItem(a, (int)i), lo, hi);
        if (d < 0) return 0;
        out[i] = (int)d;
    }
    return 1;
}

/* Fills scene and *image (a pointer into rec) from one record. Returns NULL or what is wrong. */
static const char *parse_record(const cJSON *rec, world_scene *s, uint64_t *id, const char **image) {
    if (!cJSON_IsObject(rec)) return "not a JSON object";
    double d = get_whole(cJSON_GetObjectItemCaseSensitive(rec, "id"), 0, 9007199254740992.0);
    if (d < 0) return "\"id\": missing or not a whole number >= 0";
    *id = (uint64_t)d;
    const cJSON *img = cJSON_GetObjectItemCaseSensitive(rec, "image");
    if (!cJSON_IsString(img) || !img->valuestring[0]) return "\"image\": missing or not a string";
    *image = img->valuestring;
    const cJSON *cap = cJSON_GetObjectItemCaseSensitive(rec, "caption");
    if (!cJSON_IsString(cap)) return "\"caption\": missing or not a string";
    snprintf(s->caption, sizeof s->caption, "%s", cap->valuestring);
    int v = get_name(rec, "kind", world_kind_names, WORLD_N_KINDS);
    if (v < 0) return "\"kind\": missing or not one of single, count, pair, relation";
    s->kind = (world_kind)v;
    if ((v = get_name(rec, "background", world_background_names, WORLD_N_BACKGROUNDS)) < 0)
        return "\"background\": missing or not black, white or gray";
    s->background = (world_background)v;

    const cJSON *objects = cJSON_GetObjectItemCaseSensitive(rec, "objects");
    int n = cJSON_IsArray(objects) ? cJSON_GetArraySize(objects) : 0;
    if (n < 1 || n > WORLD_MAX_OBJECTS) return "\"objects\": missing, or not 1..3 objects";
    s->n_objects = (size_t)n;
    for (int i = 0; i < n; i++) {
        const cJSON *o = cJSON_GetArrayItem(objects, i);
        world_object *w = &s->objects[i];
        int sh = get_name(o, "shape", world_shape_names, WORLD_N_SHAPES),
            co = get_name(o, "color", world_color_names, WORLD_N_COLORS),
            si = get_name(o, "size", world_size_names, WORLD_N_SIZES),
            po = get_name(o, "position", world_position_names, WORLD_N_POSITIONS);
        if (sh < 0 || co < 0 || si < 0 || po < 0)
            return "an object's shape, color, size or position is missing or unknown";
        w->shape = (world_shape)sh;
        w->color = (world_color)co;
        w->size = (world_size)si;
        w->position = (world_position)po;
        if (!get_ints(o, "center", 2, 0, WORLD_SIZE, w->center) ||
            !get_ints(o, "bbox", 4, 0, WORLD_SIZE - 1, w->bbox))
            return "an object's center or bbox is missing or out of the image";
        double px = get_whole(cJSON_GetObjectItemCaseSensitive(o, "pixels"), 0,
                              WORLD_SIZE * WORLD_SIZE);
        if (px < 0) return "an object's pixels is missing or out of range";
        w->pixels = (size_t)px;
        const cJSON *words = cJSON_GetObjectItemCaseSensitive(o, "words");
        int nw = cJSON_IsArray(words) ? cJSON_GetArraySize(words) : -1;
        if (nw < 1 || nw > WORLD_MAX_NAME_WORDS) return "an object's words is missing or not 1..3 indices";
        w->n_words = (size_t)nw;
        for (int k = 0; k < nw; k++) {
            double wi = get_whole(cJSON_GetArrayItem(words, k), 0, WORLD_CAPTION_LEN);
            if (wi < 0) return "an object's words has a bad index";
            w->words[k] = (size_t)wi;
        }
    }
    const cJSON *rel = cJSON_GetObjectItemCaseSensitive(rec, "relation");
    if (rel && !cJSON_IsNull(rel)) {
        int r = get_name(rel, "relation", world_relation_names, WORLD_N_RELATIONS);
        double sub = get_whole(cJSON_GetObjectItemCaseSensitive(rel, "subject"), 0, n - 1),
               obj = get_whole(cJSON_GetObjectItemCaseSensitive(rel, "object"), 0, n - 1);
        if (r < 0 || sub < 0 || obj < 0 || sub == obj) return "\"relation\": malformed";
        s->has_relation = 1;
        s->relation = (world_relation)r;
        s->subject = (size_t)sub;
        s->object = (size_t)obj;
    }
    if ((s->kind == WORLD_KIND_RELATION) != s->has_relation)
        return "\"relation\": present exactly when kind is relation";
    return NULL;
}

xattn_status eval_truth_next(eval_truth *t, world_scene *scene, uint64_t *id, int *done,
                             xattn_error *err) {
    *done = 0;
    ssize_t len;
    for (;;) {
        errno = 0;
        len = getline(&t->line, &t->cap, t->fp);
        if (len < 0) {
            if (ferror(t->fp)) return xattn_fail(err, XATTN_ERR_IO, "%s: read error", t->truth_path);
            *done = 1;
            return XATTN_OK;
        }
        t->line_no++;
        if (strspn(t->line, " \t\r\n") != (size_t)len) break;
    }
    if ((size_t)len > TRUTH_MAX_LINE || strlen(t->line) != (size_t)len)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s:%zu: not a truth record (too long or binary)",
                          t->truth_path, t->line_no);
    cJSON *rec = cJSON_Parse(t->line);
    if (!rec)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s:%zu: not valid JSON", t->truth_path, t->line_no);
    memset(scene, 0, sizeof *scene);
    const char *image = NULL;
    const char *bad = parse_record(rec, scene, id, &image);
    xattn_status st;
    if (bad)
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s:%zu: %s", t->truth_path, t->line_no, bad);
    else
        st = load_image(t, image, *id, scene->rgb, err);
    cJSON_Delete(rec);
    return st;
}

/* ------------------------------------------------------------------------------------------ */

int eval_detection_matches_truth(const eval_detection *d, const world_scene *s, char *reason,
                                 size_t len) {
    char dummy[1];
    if (!reason || len == 0) reason = dummy, len = sizeof dummy;
    reason[0] = '\0';
    static const int bg_class[WORLD_N_BACKGROUNDS] = {WORLD_BLACK, WORLD_WHITE, EVAL_CLASS_GRAY};
    if (d->background != bg_class[s->background]) {
        snprintf(reason, len, "background detected as %s, truth %s", eval_class_name(d->background),
                 world_background_names[s->background]);
        return 0;
    }
    if (d->n_more > 0) {
        snprintf(reason, len, "more than %d objects detected", EVAL_MAX_DETECTIONS);
        return 0;
    }
    int used[EVAL_MAX_DETECTIONS] = {0};
    for (size_t k = 0; k < s->n_objects; k++) {
        const world_object *o = &s->objects[k];
        size_t i = 0;
        while (i < d->n_objects && (used[i] || memcmp(d->objects[i].bbox, o->bbox, sizeof o->bbox) != 0))
            i++;
        if (i == d->n_objects) {
            snprintf(reason, len, "object %zu (a %s %s %s at (%d, %d)) not found", k,
                     world_size_names[o->size], world_color_names[o->color],
                     world_shape_names[o->shape], o->center[0], o->center[1]);
            return 0;
        }
        used[i] = 1;
        const eval_object *e = &d->objects[i];
        if (e->shape != (int)o->shape || e->color != o->color || e->size != o->size ||
            e->area != o->pixels || e->center[0] != o->center[0] || e->center[1] != o->center[1]) {
            snprintf(reason, len,
                     "object %zu: truth a %s %s %s of %zu px at (%d, %d), detected a %s %s %s of %zu px "
                     "at (%g, %g) (fill %.2f, match %.2f, %zu holes)",
                     k, world_size_names[o->size], world_color_names[o->color],
                     world_shape_names[o->shape], o->pixels, o->center[0], o->center[1],
                     world_size_names[e->size], world_color_names[e->color], eval_shape_name(e->shape),
                     e->area, e->center[0], e->center[1], e->fill, e->match, e->holes);
            return 0;
        }
    }
    for (size_t i = 0; i < d->n_objects; i++) {
        if (used[i]) continue;
        const eval_object *e = &d->objects[i];
        snprintf(reason, len, "extra object: a %s %s %s of %zu px at (%g, %g)",
                 world_size_names[e->size], world_color_names[e->color], eval_shape_name(e->shape),
                 e->area, e->center[0], e->center[1]);
        return 0;
    }
    return 1;
}
