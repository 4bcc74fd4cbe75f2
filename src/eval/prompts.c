/* prompts.c — reading the adherence prompt file (xattn_shapes.h, docs/eval.md). */
#define _POSIX_C_SOURCE 200809L
#include "xattn_shapes.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

void eval_prompts_free(eval_prompt_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->prompts[i].text);
        free(s->prompts[i].embedding);
    }
    free(s->prompts);
    s->prompts = NULL;
    s->n = 0;
}

/* A vocabulary word: names[i] for the string item, or -1 (absent or null when optional). */
static xattn_status name_field(const cJSON *obj, const char *key, const char *const *names,
                               size_t n, int optional, const char *where, int *out,
                               xattn_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = -1;
    if (!v || cJSON_IsNull(v)) {
        if (optional) return XATTN_OK;
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: \"%s\": missing", where, key);
    }
    if (!cJSON_IsString(v))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: \"%s\": not a string", where, key);
    int i = world_lookup(names, n, v->valuestring);
    if (i < 0) {
        char list[256] = "";
        size_t used = 0;
        for (size_t k = 0; k < n; k++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", names[k]);
            if (w < 0 || (size_t)w >= sizeof list - used) break;
            used += (size_t)w;
        }
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: \"%s\": '%.60s' is not one of %s", where, key,
                          v->valuestring, list);
    }
    *out = i;
    return XATTN_OK;
}

/* A whole number in [lo, hi]; def when absent. */
static xattn_status int_field(const cJSON *obj, const char *key, int def, int lo, int hi,
                              const char *where, int *out, xattn_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (def >= lo) {
            *out = def;
            return XATTN_OK;
        }
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: \"%s\": missing", where, key);
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= lo && d <= hi) || d != floor(d))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: \"%s\": must be a whole number %d..%d", where,
                          key, lo, hi);
    *out = (int)d;
    return XATTN_OK;
}

xattn_status eval_spec_from_json(const cJSON *obj, const char *where, eval_spec *out,
                                 xattn_error *err) {
    memset(out, 0, sizeof *out);
    char at[160];
    int v;
    xattn_status st = name_field(obj, "category", eval_category_names, EVAL_N_CATEGORIES, 0, where,
                                 &v, err);
    if (st != XATTN_OK) return st;
    out->category = (eval_category)v;

    const cJSON *objects = cJSON_GetObjectItemCaseSensitive(obj, "objects");
    if (!cJSON_IsArray(objects))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: \"objects\": %s", where,
                          objects ? "not an array" : "missing");
    int n = cJSON_GetArraySize(objects);
    if (n < 1 || n > EVAL_MAX_SPEC_OBJECTS)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: \"objects\": %d objects, must be 1..%d", where,
                          n, EVAL_MAX_SPEC_OBJECTS);
    out->n_objects = (size_t)n;
    for (int i = 0; i < n; i++) {
        const cJSON *o = cJSON_GetArrayItem(objects, i);
        snprintf(at, sizeof at, "%.120s: objects[%d]", where, i);
        if (!cJSON_IsObject(o))
            return xattn_fail(err, XATTN_ERR_FORMAT, "%s: not an object", at);
        eval_object_spec *s = &out->objects[i];
        if ((st = name_field(o, "shape", world_shape_names, WORLD_N_SHAPES, 0, at, &v, err)) != XATTN_OK)
            return st;
        s->shape = (world_shape)v;
        if ((st = name_field(o, "color", world_color_names, WORLD_N_COLORS, 1, at, &s->color, err)) !=
            XATTN_OK)
            return st;
        if ((st = name_field(o, "size", world_size_names, WORLD_N_SIZES, 1, at, &s->size, err)) !=
            XATTN_OK)
            return st;
        if ((st = int_field(o, "count", 1, 1, EVAL_MAX_COUNT, at, &s->count, err)) != XATTN_OK)
            return st;
    }

    const cJSON *rel = cJSON_GetObjectItemCaseSensitive(obj, "relation");
    if (rel && !cJSON_IsNull(rel)) {
        snprintf(at, sizeof at, "%.120s: relation", where);
        if (!cJSON_IsObject(rel))
            return xattn_fail(err, XATTN_ERR_FORMAT, "%s: not an object or null", at);
        int sub, ob;
        if ((st = name_field(rel, "relation", world_relation_names, WORLD_N_RELATIONS, 0, at, &v,
                             err)) != XATTN_OK ||
            (st = int_field(rel, "subject", -1, 0, n - 1, at, &sub, err)) != XATTN_OK ||
            (st = int_field(rel, "object", -1, 0, n - 1, at, &ob, err)) != XATTN_OK)
            return st;
        out->has_relation = 1;
        out->relation = (world_relation)v;
        out->subject = (size_t)sub;
        out->object = (size_t)ob;
    }
    return eval_spec_check(out, where, err);
}

/* The folder part of path with its slash ("dir/"), or "" — its length. */
static size_t dir_length(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path + 1) : 0;
}

/* Parses one line into p. */
static xattn_status parse_line(const char *path, size_t line_no, const char *line,
                               eval_prompt *p, xattn_error *err) {
    char where[160];
    snprintf(where, sizeof where, "%.120s:%zu", path, line_no);
    cJSON *obj = cJSON_Parse(line);
    if (!obj) return xattn_fail(err, XATTN_ERR_FORMAT, "%s: not valid JSON", where);
    xattn_status st = XATTN_OK;
    if (!cJSON_IsObject(obj)) {
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: not a JSON object", where);
        goto done;
    }
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(obj, "prompt");
    const cJSON *emb = cJSON_GetObjectItemCaseSensitive(obj, "embedding");
    if (!cJSON_IsString(text)) {
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: \"prompt\": %s", where,
                        text ? "not a string" : "missing");
        goto done;
    }
    if (emb && (!cJSON_IsString(emb) || emb->valuestring[0] == '\0')) { /* absent: encode */
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: \"embedding\": %s (the prompt-embedding file)",
                        where, cJSON_IsString(emb) ? "empty" : "not a string");
        goto done;
    }
    if ((st = eval_spec_from_json(obj, where, &p->spec, err)) != XATTN_OK) goto done;
    p->text = strdup(text->valuestring);
    if (emb) {
        const char *e = emb->valuestring;
        size_t dl = e[0] == '/' ? 0 : dir_length(path), el = strlen(e);
        if ((p->embedding = malloc(dl + el + 1)) != NULL) {
            memcpy(p->embedding, path, dl);
            memcpy(p->embedding + dl, e, el + 1);
        }
    }
    if (!p->text || (emb && !p->embedding)) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    p->line = line_no;
done:
    cJSON_Delete(obj);
    return st;
}

xattn_status eval_prompts_load(const char *path, eval_prompt_set *out, xattn_error *err) {
    out->n = 0;
    out->prompts = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return xattn_fail(err, XATTN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, line_no = 0, alloc = 0;
    ssize_t len;
    xattn_status st = XATTN_OK;
    errno = 0;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        line_no++;
        if ((size_t)len > EVAL_MAX_LINE) {
            st = xattn_fail(err, XATTN_ERR_FORMAT, "%s:%zu: line longer than %d bytes", path, line_no,
                            EVAL_MAX_LINE);
            break;
        }
        if (strlen(line) != (size_t)len) {
            st = xattn_fail(err, XATTN_ERR_FORMAT, "%s:%zu: a NUL byte in the line", path, line_no);
            break;
        }
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        if (out->n == EVAL_MAX_PROMPTS) {
            st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: more than %d prompts", path, EVAL_MAX_PROMPTS);
            break;
        }
        if (out->n == alloc) {
            size_t grow = alloc ? alloc * 2 : 64;
            eval_prompt *p = realloc(out->prompts, grow * sizeof *p);
            if (!p) {
                st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            out->prompts = p;
            alloc = grow;
        }
        eval_prompt *p = &out->prompts[out->n];
        memset(p, 0, sizeof *p);
        out->n++; /* counted now so that eval_prompts_free releases a half-filled one */
        if ((st = parse_line(path, line_no, line, p, err)) != XATTN_OK) break;
    }
    if (st == XATTN_OK && ferror(fp))
        st = xattn_fail(err, XATTN_ERR_IO, "%s: read error", path);
    if (st == XATTN_OK && out->n == 0)
        st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: no prompts (one JSON object per line)", path);
    free(line);
    fclose(fp);
    return st;
}
