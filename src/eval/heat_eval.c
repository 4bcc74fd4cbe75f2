/* heat_eval.c — `xattn eval heatmaps` as a library call: the prompt file, the word-to-object
 * alignment, the run and its per-kind IoU tally (xattn_shapes.h, docs/eval.md). Nothing here
 * prints: each image goes to the caller's callback. */
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

const char *const eval_heat_kind_names[EVAL_HEAT_N_KINDS] = {"shape", "color"};

/* ------------------------------------------------------------------------------------------ */
/* the prompt file                                                                             */

static void line_free(eval_heat_line *l) {
    free(l->text);
    free(l->embedding);
    free(l->image);
    free(l->mask);
    free(l->words_buf);
}

void eval_heat_prompts_free(eval_heat_prompts *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) line_free(&s->lines[i]);
    free(s->lines);
    s->lines = NULL;
    s->n = 0;
}

/* dir/rel, or rel when absolute; NULL if out of memory. */
static char *resolve(const char *dir, const char *rel) {
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *s = malloc(n);
    if (!s) return NULL;
    if (rel[0] == '/' || dir[0] == '\0') snprintf(s, n, "%s", rel);
    else snprintf(s, n, "%s/%s", dir, rel);
    return s;
}

/* The kind of a caption word: a shape noun (singular or plural), a colour, or -1 (not scored). */
static int word_kind(const char *w) {
    if (world_lookup(world_shape_names, WORLD_N_SHAPES, w) >= 0 ||
        world_lookup(world_shape_plurals, WORLD_N_SHAPES, w) >= 0)
        return EVAL_HEAT_SHAPE;
    if (world_lookup(world_color_names, WORLD_N_COLORS, w) >= 0) return EVAL_HEAT_COLOR;
    return -1;
}

/* Object k of a line: its shape and colour, its mask values and its scored words. */
static xattn_status parse_object(const cJSON *o, int k, const char *path, size_t line_no,
                                 int generated, eval_heat_line *l, xattn_error *err) {
    const cJSON *words = cJSON_GetObjectItemCaseSensitive(o, "words");
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(o, "mask_index");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
    const cJSON *color = cJSON_GetObjectItemCaseSensitive(o, "color");
    l->n_objects = (size_t)k + 1;
    l->shape[k] = cJSON_IsString(shape)
                      ? world_lookup(world_shape_names, WORLD_N_SHAPES, shape->valuestring) : -1;
    l->color[k] = cJSON_IsString(color)
                      ? world_lookup(world_color_names, WORLD_N_COLORS, color->valuestring) : -1;
    if (generated && (l->shape[k] < 0 || (color && !cJSON_IsNull(color) && l->color[k] < 0)))
        return xattn_fail(err, XATTN_ERR_FORMAT,
                          "%s:%zu: object %d: generated mode needs a world \"shape\" (and "
                          "\"color\", when given)", path, line_no, k);
    if (generated && cJSON_IsArray(words)) {
        mi = NULL; /* the mask comes from the detector */
    } else if (!cJSON_IsArray(words) || !(cJSON_IsNumber(mi) || cJSON_IsArray(mi))) {
        return xattn_fail(err, XATTN_ERR_FORMAT,
                          "%s:%zu: object %d: \"words\" (array) and \"mask_index\" (integer or "
                          "array) are required (make the file with tools/make_eval_prompts.py "
                          "--with-images)", path, line_no, k);
    }
    uint64_t select = 0; /* bit v: mask value v is this object's */
    const cJSON *one = !mi ? NULL : cJSON_IsNumber(mi) ? mi : mi->child;
    for (; one; one = cJSON_IsNumber(mi) ? NULL : one->next) {
        double v = cJSON_IsNumber(one) ? one->valuedouble : -1.0;
        if (!(v >= 1.0 && v <= 63.0 && v == floor(v)))
            return xattn_fail(err, XATTN_ERR_FORMAT,
                              "%s:%zu: object %d: \"mask_index\": values must be integers 1..63",
                              path, line_no, k);
        select |= (uint64_t)1 << (int)v;
    }
    if (!select && mi)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s:%zu: object %d: \"mask_index\": empty", path,
                          line_no, k);
    for (const cJSON *w = words->child; w; w = w->next) {
        double v = cJSON_IsNumber(w) ? w->valuedouble : -1.0;
        if (!(v >= 0.0 && v < (double)l->n_words && v == floor(v)))
            return xattn_fail(err, XATTN_ERR_FORMAT,
                              "%s:%zu: object %d: \"words\": %s is not a caption word index "
                              "(0..%zu)", path, line_no, k,
                              cJSON_IsNumber(w) ? "a value" : "an element", l->n_words - 1);
        size_t wi = (size_t)v;
        int kind = word_kind(l->words[wi]);
        if (kind < 0) continue; /* a size word */
        if (l->n_scored == EVAL_HEAT_MAX_SCORED)
            return xattn_fail(err, XATTN_ERR_FORMAT, "%s:%zu: more than %d object words", path,
                              line_no, EVAL_HEAT_MAX_SCORED);
        l->scored[l->n_scored++] = (eval_heat_word){wi, (eval_heat_kind)kind, k, select};
    }
    return XATTN_OK;
}

/* Parses one line into l (zeroed by the caller); dir is the file's folder. */
static xattn_status parse_line(const char *path, const char *dir, size_t line_no,
                               const char *text, int generated, eval_heat_line *l,
                               xattn_error *err) {
    cJSON *j = cJSON_Parse(text);
    xattn_status st = XATTN_OK;
    l->line = line_no;
    if (!j || !cJSON_IsObject(j)) {
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s:%zu: not a JSON object", path, line_no);
        goto done;
    }
    const char *keys[4] = {"prompt", "embedding", "image", "mask"};
    const char *vals[4] = {"", "", "", ""};
    for (int k = 0; k < (generated ? 2 : 4); k++) { /* generated mode needs no image and mask */
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
        if (k == 1 && !v) continue; /* no embedding: the prompt is encoded */
        if (!cJSON_IsString(v) || !v->valuestring[0]) {
            st = xattn_fail(err, XATTN_ERR_FORMAT, "%s:%zu: \"%s\": missing or not a string%s",
                            path, line_no, keys[k],
                            k >= 2 ? " (make the file with tools/make_eval_prompts.py --with-images)"
                                   : "");
            goto done;
        }
        vals[k] = v->valuestring;
    }
    l->text = strdup(vals[0]);
    l->words_buf = strdup(vals[0]);
    l->embedding = vals[1][0] ? resolve(dir, vals[1]) : NULL;
    l->image = resolve(dir, vals[2]);
    l->mask = resolve(dir, vals[3]);
    if (!l->text || !l->words_buf || (vals[1][0] && !l->embedding) || !l->image || !l->mask) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    char *save = NULL;
    for (char *w = strtok_r(l->words_buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (l->n_words == EVAL_HEAT_MAX_WORDS) {
            st = xattn_fail(err, XATTN_ERR_FORMAT, "%s:%zu: more than %d caption words", path,
                            line_no, EVAL_HEAT_MAX_WORDS);
            goto done;
        }
        l->words[l->n_words++] = w;
    }
    const cJSON *objs = cJSON_GetObjectItemCaseSensitive(j, "objects");
    if (!cJSON_IsArray(objs) || cJSON_GetArraySize(objs) < 1) {
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s:%zu: \"objects\": missing or empty", path,
                        line_no);
        goto done;
    }
    int k = 0;
    for (const cJSON *o = objs->child; o; o = o->next, k++) {
        if (k == EVAL_HEAT_MAX_OBJECTS) {
            st = xattn_fail(err, XATTN_ERR_FORMAT, "%s:%zu: more than %d objects", path, line_no,
                            EVAL_HEAT_MAX_OBJECTS);
            goto done;
        }
        if ((st = parse_object(o, k, path, line_no, generated, l, err)) != XATTN_OK) goto done;
    }
done:
    cJSON_Delete(j);
    return st;
}

xattn_status eval_heat_prompts_load(const char *path, int generated, eval_heat_prompts *out,
                                    xattn_error *err) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) return xattn_fail(err, XATTN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char dir[4096]; /* the file's folder: relative paths in it are resolved against it */
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 0;
    if (dlen >= sizeof dir) {
        fclose(f);
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: path too long", path);
    }
    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
    if (slash && dlen == 0) snprintf(dir, sizeof dir, "/");
    size_t cap = 0, line_no = 0, len_cap = 0;
    char *buf = NULL;
    ssize_t len;
    xattn_status st = XATTN_OK;
    while ((len = getline(&buf, &len_cap, f)) >= 0) {
        line_no++;
        int blank = 1;
        for (ssize_t i = 0; i < len; i++)
            if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') blank = 0;
        if (blank) continue;
        if (out->n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            eval_heat_line *nl = realloc(out->lines, nc * sizeof *nl);
            if (!nl) {
                st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
                goto done;
            }
            out->lines = nl;
            cap = nc;
        }
        eval_heat_line *l = &out->lines[out->n++];
        memset(l, 0, sizeof *l);
        if ((st = parse_line(path, dir, line_no, buf, generated, l, err)) != XATTN_OK) goto done;
    }
    if (ferror(f)) st = xattn_fail(err, XATTN_ERR_IO, "%s: read error", path);
    else if (out->n == 0) st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: no prompts", path);
done:
    free(buf);
    fclose(f);
    if (st != XATTN_OK) eval_heat_prompts_free(out);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* the word-to-object alignment                                                                */

xattn_status eval_heat_check_words(const eval_heat_line *l, const xattn_prompt *p,
                                   const char *path, xattn_error *err) {
    xattn_word *words = NULL;
    size_t n = 0;
    xattn_status st = xattn_prompt_words(p, &words, &n, err);
    if (st != XATTN_OK) return st;
    if (n != l->n_words)
        st = xattn_fail(err, XATTN_ERR_FORMAT,
                        "%s:%zu: %s has %zu words, the caption \"%s\" %zu: cannot align the "
                        "heatmaps with the caption", path, l->line,
                        l->embedding ? l->embedding : "the encoded prompt", n, l->text,
                        l->n_words);
    for (size_t i = 0; st == XATTN_OK && i < n; i++)
        if (strcmp(words[i].text, l->words[i]) != 0)
            st = xattn_fail(err, XATTN_ERR_FORMAT,
                            "%s:%zu: heatmap word %zu is \"%s\" (%s), caption word %zu is \"%s\": "
                            "cannot align the heatmaps with the caption", path, l->line, i,
                            words[i].text, l->embedding ? l->embedding : "the encoded prompt", i,
                            l->words[i]);
    xattn_words_free(words, n);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* the tally                                                                                   */

size_t eval_heat_count(const eval_heat_tally *t, int kind) {
    if (kind < EVAL_HEAT_N_KINDS) return t->n[kind];
    size_t n = 0;
    for (int k = 0; k < EVAL_HEAT_N_KINDS; k++) n += t->n[k];
    return n;
}

double eval_heat_miou(const eval_heat_tally *t, int kind) {
    double sum = 0.0;
    if (kind < EVAL_HEAT_N_KINDS) sum = t->sum[kind];
    else
        for (int k = 0; k < EVAL_HEAT_N_KINDS; k++) sum += t->sum[k];
    size_t n = eval_heat_count(t, kind);
    return n ? sum / (double)n : 0.0;
}

/* ------------------------------------------------------------------------------------------ */
/* the run                                                                                     */

void eval_heat_params_init(eval_heat_params *p) {
    memset(p, 0, sizeof *p);
    p->strength = 0.5f;
    p->threshold = 0.4f;
    p->seeds = 1;
    xattn_generate_params_init(&p->gen);
    xattn_heatmap_params_init(&p->heat);
}

/* The steps a denoising run of `steps` at `strength` runs: diffusers' int(steps * strength). */
static int steps_run(int steps, double strength) { return (int)((double)steps * strength); }

static xattn_status check_params(const eval_heat_params *p, xattn_error *err) {
    if (p->seeds < 1 || p->seeds > EVAL_MAX_SEEDS)
        return xattn_fail(err, XATTN_ERR_VALUE, "seeds: %d is out of range 1..%d", p->seeds,
                          EVAL_MAX_SEEDS);
    if (!(p->threshold >= 0.0f && p->threshold < 1.0f))
        return xattn_fail(err, XATTN_ERR_VALUE, "threshold: %g is out of range [0, 1)",
                          (double)p->threshold);
    if (p->generated) return XATTN_OK;
    if (!(p->strength > 0.0f && p->strength <= 1.0f))
        return xattn_fail(err, XATTN_ERR_VALUE, "strength: %g is out of range (0, 1]",
                          (double)p->strength);
    if (steps_run(p->gen.steps, p->strength) < 1)
        return xattn_fail(err, XATTN_ERR_VALUE, "strength: %g x %d steps runs no step",
                          (double)p->strength, p->gen.steps);
    return XATTN_OK;
}

/* Reads an 8-bit image of side `size` into *rgb (malloc'd [size, size, 3]). */
static xattn_status read_sized(const char *path, size_t line, const char *file, size_t size,
                               uint8_t **rgb, xattn_error *err) {
    size_t w, h;
    xattn_status st = xattn_image_read_rgb(file, rgb, &w, &h, err);
    if (st != XATTN_OK) return st;
    if (w == size && h == size) return XATTN_OK;
    free(*rgb);
    *rgb = NULL;
    return xattn_fail(err, XATTN_ERR_SHAPE, "%s:%zu: %s is %zux%zu, the model's images are %zux%zu",
                      path, line, file, w, h, size, size);
}

/* Everything a run holds; freed by run_free. */
typedef struct heat_run {
    eval_heat_prompts set;
    xattn_prompt **emb;       /* [set.n] */
    uint8_t **rgb, **mask;    /* [set.n] of [S, S, 3]: each line's image and mask (not generated) */
    xattn_heatmaps *heat;
    float *init, *image;      /* [3, S, S]: the image to denoise; [1, 3, S, S]: the result */
    float *norm;              /* [S, S]: one word's map, normalised */
    uint8_t *labels;          /* [S, S]: the mask's first channel, or the detector's labels */
    uint8_t *rgb8;            /* [S, S, 3]: a generated image */
    eval_detection *det;
} heat_run;

static void run_free(heat_run *r) {
    xattn_heatmaps_free(r->heat);
    for (size_t i = 0; i < r->set.n; i++) {
        if (r->emb) xattn_prompt_free(r->emb[i]);
        if (r->rgb) free(r->rgb[i]);
        if (r->mask) free(r->mask[i]);
    }
    eval_heat_prompts_free(&r->set);
    free(r->emb);
    free(r->rgb);
    free(r->mask);
    free(r->init);
    free(r->image);
    free(r->norm);
    free(r->labels);
    free(r->rgb8);
    free(r->det);
}

/* The prompt file, every embedding, image and mask, checked against each other and the model. */
static xattn_status load_inputs(heat_run *r, const xattn_model_info *info,
                                const eval_heat_params *p, xattn_error *err) {
    xattn_status st = eval_heat_prompts_load(p->prompts, p->generated, &r->set, err);
    if (st != XATTN_OK) return st;
    size_t n = r->set.n;
    r->emb = calloc(n, sizeof *r->emb);
    r->rgb = calloc(n, sizeof *r->rgb);
    r->mask = calloc(n, sizeof *r->mask);
    if (!r->emb || !r->rgb || !r->mask)
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", p->prompts);
    for (size_t i = 0; i < n; i++) {
        char where[4200];
        snprintf(where, sizeof where, "%s:%zu", p->prompts, r->set.lines[i].line);
        if ((st = eval_load_embedding(r->set.lines[i].embedding, r->set.lines[i].text, p->encoder,
                                      where, &r->emb[i], err)) != XATTN_OK ||
            (st = eval_heat_check_words(&r->set.lines[i], r->emb[i], p->prompts, err)) != XATTN_OK)
            return st;
    }
    if (info->in_channels != 3 || info->out_channels != 3)
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "%s: %d in / %d out channels: the masks' images are RGB (3 channels)",
                          p->model_name, info->in_channels, info->out_channels);
    size_t size = (size_t)info->sample_size;
    for (size_t i = 0; i < n; i++) {
        const eval_heat_line *l = &r->set.lines[i];
        if (r->emb[i]->dim != (size_t)info->cross_attention_dim)
            return xattn_fail(err, XATTN_ERR_SHAPE,
                              "%s: embedding width %zu, model expects %d (prompt on %s:%zu)",
                              l->embedding ? l->embedding : "the encoder's", r->emb[i]->dim,
                              info->cross_attention_dim, p->prompts,
                              l->line);
        if (!p->generated &&
            ((st = read_sized(p->prompts, l->line, l->image, size, &r->rgb[i], err)) != XATTN_OK ||
             (st = read_sized(p->prompts, l->line, l->mask, size, &r->mask[i], err)) != XATTN_OK))
            return st;
    }
    size_t px = size * size;
    r->init = malloc(3 * px * sizeof *r->init);
    r->image = malloc(3 * px * sizeof *r->image);
    r->norm = malloc(px * sizeof *r->norm);
    r->labels = malloc(px);
    r->rgb8 = malloc(px * 3);
    r->det = malloc(sizeof *r->det);
    if (!r->init || !r->image || !r->norm || !r->labels || !r->rgb8 || !r->det)
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", p->model_name);
    return XATTN_OK;
}

/* Generated mode: samples line i's image, detects its objects into r->labels and sets
 * object_select[o] to the labels of the detected objects of object o's shape and colour. */
static xattn_status generate_and_detect(heat_run *r, xattn_model *model, size_t i, size_t size,
                                        const xattn_generate_params *gen,
                                        uint64_t object_select[EVAL_HEAT_MAX_OBJECTS],
                                        eval_heat_result *out, xattn_error *err) {
    const eval_heat_line *l = &r->set.lines[i];
    xattn_status st = xattn_generate(model, r->emb[i], NULL, gen, r->image, err);
    if (st != XATTN_OK) return st;
    xattn_image_to_rgb8(r->image, 3, size, size, r->rgb8);
    if ((st = eval_detect_labeled(r->rgb8, size, size, NULL, r->det, r->labels, err)) != XATTN_OK)
        return st;
    for (size_t o = 0; o < l->n_objects; o++) {
        for (size_t d = 0; d < r->det->n_objects && d < EVAL_MAX_LABEL; d++)
            if (r->det->objects[d].shape == l->shape[o] &&
                (l->color[o] < 0 || (int)r->det->objects[d].color == l->color[o]))
                object_select[o] |= (uint64_t)1 << (d + 1);
        out->objects_found += object_select[o] != 0;
        out->objects++;
    }
    return XATTN_OK;
}

/* Denoising mode: line i's image, [S, S, 3] RGB8 -> [3, S, S] in [-1, 1], denoised with its
 * caption; its mask's first channel into r->labels. */
static xattn_status denoise_line(heat_run *r, xattn_model *model, size_t i, size_t px,
                                 const xattn_generate_params *gen, double strength,
                                 xattn_error *err) {
    for (size_t c = 0; c < 3; c++)
        for (size_t q = 0; q < px; q++)
            r->init[c * px + q] = (float)r->rgb[i][q * 3 + c] / 127.5f - 1.0f;
    for (size_t q = 0; q < px; q++) r->labels[q] = r->mask[i][q * 3];
    return xattn_denoise(model, r->emb[i], NULL, gen, r->init, strength, r->image, err);
}

xattn_status eval_heat_run(xattn_model *model, const eval_heat_params *p,
                           const eval_heat_callbacks *cb, eval_heat_result *out,
                           xattn_error *err) {
    memset(out, 0, sizeof *out);
    xattn_status st = check_params(p, err);
    if (st != XATTN_OK) return st;
    heat_run r;
    memset(&r, 0, sizeof r);
    xattn_model_info info;
    xattn_model_get_info(model, &info);
    if ((st = load_inputs(&r, &info, p, err)) != XATTN_OK) goto done;
    out->n_prompts = r.set.n;
    size_t size = (size_t)info.sample_size, px = size * size;
    size_t n_images = r.set.n * (size_t)p->seeds;
    if (cb && cb->start && cb->start(n_images, cb->user) != 0) goto cancelled;
    for (size_t run = 0; run < n_images; run++) {
        size_t i = run / (size_t)p->seeds;
        const eval_heat_line *l = &r.set.lines[i];
        if ((st = xattn_heatmaps_new(model, r.emb[i], &p->heat, &r.heat, err)) != XATTN_OK) goto done;
        xattn_generate_params gen = p->gen;
        gen.batch = 1;
        gen.heatmaps = r.heat;
        gen.seed = p->gen.seed + run % (size_t)p->seeds;
        uint64_t object_select[EVAL_HEAT_MAX_OBJECTS] = {0}; /* generated: labels per object */
        st = p->generated ? generate_and_detect(&r, model, i, size, &gen, object_select, out, err)
                          : denoise_line(&r, model, i, px, &gen, (double)p->strength, err);
        if (st != XATTN_OK) goto done;
        const float *maps = xattn_heatmaps_word_maps(r.heat, 0); /* [n_words, S, S] */
        xattn_heatmaps_info hi;
        xattn_heatmaps_get_info(r.heat, &hi);
        if (!maps || hi.height != size || hi.width != size || hi.n_words != l->n_words) {
            st = xattn_fail(err, XATTN_ERR_SHAPE, "%s:%zu: the heatmaps do not match the caption's "
                            "words", p->prompts, l->line);
            goto done;
        }
        eval_heat_image im = {.index = i, .line = l, .seed = gen.seed, .done = run + 1,
                              .total = n_images};
        double iou[EVAL_HEAT_MAX_SCORED];
        im.iou = iou;
        for (size_t s = 0; s < l->n_scored; s++) {
            const eval_heat_word *w = &l->scored[s];
            uint64_t select = p->generated ? object_select[w->object] : w->select;
            if (!select) { /* generated: the word's object is not in the image */
                out->words_missed++;
                iou[s] = NAN;
                continue;
            }
            char what[128];
            snprintf(what, sizeof what, "%s:%zu: word \"%s\"", p->prompts, l->line, l->words[w->word]);
            if ((st = eval_heat_normalize(maps + w->word * px, px, r.norm, what, err)) != XATTN_OK)
                goto done;
            iou[s] = eval_heat_iou(r.norm, r.labels, px, p->threshold, select);
            im.tally.sum[w->kind] += iou[s];
            im.tally.n[w->kind]++;
        }
        for (int k = 0; k < EVAL_HEAT_N_KINDS; k++) {
            out->tally.sum[k] += im.tally.sum[k];
            out->tally.n[k] += im.tally.n[k];
        }
        xattn_heatmaps_free(r.heat);
        r.heat = NULL;
        if (cb && cb->image && cb->image(&im, cb->user) != 0) goto cancelled;
    }
    goto done;
cancelled:
    st = xattn_fail(err, XATTN_ERR_CANCELLED, "eval heatmaps: cancelled");
done:
    run_free(&r);
    return st;
}
