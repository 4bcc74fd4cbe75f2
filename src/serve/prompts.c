/* prompts.c — the table of known prompt texts (see prompts.h). */
#define _POSIX_C_SOURCE 200809L
#include "serve/prompts.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *key;  /* normalised text */
    char *text; /* as in the file */
    xattn_prompt *prompt;
} entry;

struct serve_prompts {
    entry *e;
    size_t n;
    size_t dim;
    void *encoder;          /* xattn_encoder *, or NULL */
    pthread_mutex_t lock;   /* the encoder is not thread-safe */
};

/* lower case, single spaces, no surrounding spaces, no final '.' */
static char *normalise(const char *s) {
    size_t n = strlen(s);
    char *k = malloc(n + 1);
    if (!k) return NULL;
    size_t m = 0;
    int space = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = m > 0;
            continue;
        }
        if (space) k[m++] = ' ';
        space = 0;
        k[m++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    while (m > 0 && k[m - 1] == '.') m--;
    k[m] = '\0';
    return k;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The model's encoder, when it has one; -1 when it has one that cannot be loaded. */
static int load_encoder(serve_prompts *p, const char *model_dir, xattn_error *err) {
    char te[4096], tk[4096];
    if (!model_dir || xattn_encoder_find(model_dir, te, tk, sizeof te, NULL) != XATTN_OK) return 0;
    xattn_encoder *e = NULL;
    if (xattn_encoder_load(model_dir, &e, err) != XATTN_OK) return -1;
    xattn_encoder_info info;
    xattn_encoder_get_info(e, &info);
    if (info.dim != p->dim) {
        if (err)
            snprintf(err->msg, sizeof err->msg, "%s: text encoder width %zu, model expects %zu",
                     model_dir, info.dim, p->dim);
        xattn_encoder_free(e);
        return -1;
    }
    p->encoder = e;
    return 0;
}

int serve_prompts_load(const char *dir, const char *model_dir, size_t dim, serve_prompts **out,
                       xattn_error *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) {
        if (err) snprintf(err->msg, sizeof err->msg, "%s: out of memory", dir ? dir : "prompts");
        return -1;
    }
    (*out)->dim = dim;
    pthread_mutex_init(&(*out)->lock, NULL);
    if (load_encoder(*out, model_dir, err) != 0) return -1;
    if (!dir) return 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (err) snprintf(err->msg, sizeof err->msg, "%s: cannot read: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n_names = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 12 || strcmp(de->d_name + len - 12, ".safetensors") != 0)
            continue;
        if (n_names == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) break;
            names = grown;
        }
        names[n_names] = strdup(de->d_name);
        if (names[n_names]) n_names++;
    }
    closedir(d);
    if (n_names) qsort(names, n_names, sizeof *names, by_name);
    serve_prompts *p = *out;
    p->e = calloc(n_names ? n_names : 1, sizeof *p->e);
    for (size_t i = 0; p->e && i < n_names; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        xattn_prompt *pr = NULL;
        if (xattn_prompt_load(path, &pr, NULL) != XATTN_OK || pr->dim != dim || !pr->text[0] ||
            serve_prompts_find(p, pr->text)) {
            xattn_prompt_free(pr);
            continue;
        }
        entry *e = &p->e[p->n];
        e->key = normalise(pr->text);
        e->text = strdup(pr->text);
        e->prompt = pr;
        if (!e->key || !e->text) {
            free(e->key), free(e->text), xattn_prompt_free(pr);
            memset(e, 0, sizeof *e);
            continue;
        }
        p->n++;
    }
    for (size_t i = 0; i < n_names; i++) free(names[i]);
    free(names);
    return 0;
}

void serve_prompts_free(serve_prompts *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->e[i].key);
        free(p->e[i].text);
        xattn_prompt_free(p->e[i].prompt);
    }
    free(p->e);
    xattn_encoder_free(p->encoder);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

const xattn_prompt *serve_prompts_find(const serve_prompts *p, const char *text) {
    char *key = normalise(text);
    const xattn_prompt *found = NULL;
    for (size_t i = 0; key && i < p->n && !found; i++)
        if (strcmp(p->e[i].key, key) == 0) found = p->e[i].prompt;
    free(key);
    return found;
}

size_t serve_prompts_count(const serve_prompts *p) { return p->n; }
const char *serve_prompts_text(const serve_prompts *p, size_t i) { return i < p->n ? p->e[i].text : NULL; }

int serve_prompts_has_encoder(const serve_prompts *p) { return p->encoder != NULL; }

int serve_prompts_get(serve_prompts *p, const char *text, const xattn_prompt **out,
                      xattn_prompt **owned, xattn_error *err) {
    *owned = NULL;
    *out = serve_prompts_find(p, text);
    if (*out) return 0;
    if (p->encoder) {
        pthread_mutex_lock(&p->lock);
        xattn_status st = xattn_encode(p->encoder, text, owned, err);
        pthread_mutex_unlock(&p->lock);
        if (st != XATTN_OK) return -1;
        *out = *owned;
        return 0;
    }
    if (err)
        snprintf(err->msg, sizeof err->msg,
                 "not a prompt this server knows (it has no text encoder; GET /xattn/v1/prompts "
                 "lists the %zu it knows)", p->n);
    return -1;
}
