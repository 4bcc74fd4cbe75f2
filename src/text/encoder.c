/* encoder.c — the public text encoder (xattn.h, "Text encoder"): a BertTokenizer and a BERT
 * forward loaded from a Hugging Face folder or from a model folder in diffusers' layout. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <sys/stat.h>

#include "text/bert.h"
#include "text/bert_tokenizer.h"
#include "util/error.h"
#include "xattn.h"

#define ENCODER_FETCH_HINT "run tools/fetch_encoder.sh to fetch it"

struct xattn_encoder {
    bert_config cfg;
    bert_weights w;
    bert_state s;           /* planned for the longest text so far */
    bert_tokenizer *tok;
    size_t max_tokens;      /* min(model_max_length, max_position_embeddings) */
    char name[128];
};

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* model_index.json's entry `key` must be [library, class] with class in allowed[] (when the
 * file exists); the folder is <model>/<key>. */
static xattn_status check_index_entry(const char *path, const cJSON *root, const char *key,
                                      const char *const *allowed, xattn_error *err) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!e)
        return xattn_fail(err, XATTN_ERR_IO, "%s: no %s entry: the model has no text encoder", path, key);
    const cJSON *cls = cJSON_GetArrayItem(e, 1);
    if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(cls))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: %s is not [library, class]", path, key);
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(cls->valuestring, allowed[i]) == 0) return XATTN_OK;
    return xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: %s class %s is not supported (%s only)", path,
                      key, cls->valuestring, allowed[0]);
}

xattn_status xattn_encoder_find(const char *model_dir, char *text_encoder_dir,
                                char *tokenizer_dir, size_t cap, xattn_error *err) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/model_index.json", model_dir) >= sizeof path ||
        (size_t)snprintf(text_encoder_dir, cap, "%s/text_encoder", model_dir) >= cap ||
        (size_t)snprintf(tokenizer_dir, cap, "%s/tokenizer", model_dir) >= cap)
        return xattn_fail(err, XATTN_ERR_IO, "%s: path too long", model_dir);
    if (is_file(path)) {
        FILE *f = fopen(path, "rb");
        char buf[65536];
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f) fclose(f);
        if (!f) return xattn_fail(err, XATTN_ERR_IO, "%s: %s", path, strerror(errno));
        cJSON *root = cJSON_ParseWithLength(buf, n);
        static const char *const te[] = {"BertModel", NULL};
        static const char *const tk[] = {"BertTokenizer", "BertTokenizerFast", NULL};
        xattn_status st = XATTN_OK;
        if (!cJSON_IsObject(root))
            st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: not a JSON object", path);
        else if (!(st = check_index_entry(path, root, "text_encoder", te, err)))
            st = check_index_entry(path, root, "tokenizer", tk, err);
        cJSON_Delete(root);
        if (st) return st;
    }
    if (!is_dir(text_encoder_dir))
        return xattn_fail(err, XATTN_ERR_IO, "%s: missing: the model has no text encoder", text_encoder_dir);
    if (!is_dir(tokenizer_dir))
        return xattn_fail(err, XATTN_ERR_IO, "%s: missing: the model has no tokenizer", tokenizer_dir);
    return XATTN_OK;
}

void xattn_encoder_free(xattn_encoder *e) {
    if (!e) return;
    bert_state_free(&e->s);
    bert_weights_free(&e->w);
    bert_tokenizer_free(e->tok);
    free(e);
}

static xattn_status load_pair(const char *te_dir, const char *tok_dir, xattn_encoder **out,
                              xattn_error *err) {
    char path[4096];
    xattn_encoder *e = calloc(1, sizeof *e);
    if (!e) return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", te_dir);
    xattn_status st;
    snprintf(path, sizeof path, "%s/config.json", te_dir);
    if ((st = bert_config_read(path, &e->cfg, err))) goto fail;
    snprintf(path, sizeof path, "%s/model.safetensors", te_dir);
    if (!is_file(path)) {
        st = xattn_fail(err, XATTN_ERR_IO, "%s: missing; " ENCODER_FETCH_HINT, path);
        goto fail;
    }
    if ((st = bert_weights_load(path, &e->cfg, &e->w, err))) goto fail;
    snprintf(path, sizeof path, "%s/vocab.txt", tok_dir);
    if (!is_file(path)) {
        st = xattn_fail(err, XATTN_ERR_IO, "%s: missing; " ENCODER_FETCH_HINT, path);
        goto fail;
    }
    if ((st = bert_tokenizer_load(tok_dir, &e->tok, err))) goto fail;
    if (bert_tokenizer_vocab_size(e->tok) != (size_t)e->cfg.vocab_size) {
        st = xattn_fail(err, XATTN_ERR_SHAPE, "%s: %zu tokens, but config.json's vocab_size is %d",
                        path, bert_tokenizer_vocab_size(e->tok), e->cfg.vocab_size);
        goto fail;
    }
    size_t ml = bert_tokenizer_get_config(e->tok)->max_length;
    e->max_tokens = ml < (size_t)e->cfg.max_position ? ml : (size_t)e->cfg.max_position;
    bert_tokenizer_limit_length(e->tok, e->max_tokens);
    /* all-MiniLM-L6-v2's config.json keeps its base model's name; the name encode_prompt.py
     * writes is the sentence-transformers one */
    snprintf(path, sizeof path, "%s/config.json", te_dir);
    snprintf(e->name, sizeof e->name, "%s", "bert");
    FILE *f = fopen(path, "rb");
    if (f) {
        char buf[65536];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        cJSON *root = cJSON_ParseWithLength(buf, n);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "_name_or_path");
        if (cJSON_IsString(nm) && nm->valuestring[0])
            snprintf(e->name, sizeof e->name, "%s", nm->valuestring);
        cJSON_Delete(root);
    }
    if (strcmp(e->name, "nreimers/MiniLM-L6-H384-uncased") == 0 && e->cfg.n_layers == 6 &&
        e->cfg.hidden_size == 384)
        snprintf(e->name, sizeof e->name, "%s", "sentence-transformers/all-MiniLM-L6-v2");
    *out = e;
    return XATTN_OK;
fail:
    xattn_encoder_free(e);
    return st;
}

xattn_status xattn_encoder_load(const char *dir, xattn_encoder **out, xattn_error *err) {
    *out = NULL;
    char te[4096], tk[4096], idx[4096];
    snprintf(idx, sizeof idx, "%s/model_index.json", dir);
    snprintf(te, sizeof te, "%s/text_encoder", dir);
    if (is_file(idx) || is_dir(te)) { /* a pipeline folder */
        xattn_status st = xattn_encoder_find(dir, te, tk, sizeof te, err);
        if (st) return st;
        return load_pair(te, tk, out, err);
    }
    if (!is_dir(dir)) return xattn_fail(err, XATTN_ERR_IO, "%s: no such folder", dir);
    return load_pair(dir, dir, out, err);
}

void xattn_encoder_get_info(const xattn_encoder *e, xattn_encoder_info *info) {
    info->dim = (size_t)e->cfg.hidden_size;
    info->max_tokens = e->max_tokens;
    info->vocab_size = (size_t)e->cfg.vocab_size;
    info->n_layers = e->cfg.n_layers;
    info->n_heads = e->cfg.n_heads;
    info->name = e->name;
}

xattn_status xattn_encoder_tokenize(const xattn_encoder *e, const char *text, size_t len,
                                    int32_t **ids, size_t *n, xattn_error *err) {
    return bert_tokenize(e->tok, text, len, ids, n, NULL, err);
}

const char *xattn_encoder_token(const xattn_encoder *e, int32_t id) {
    return bert_tokenizer_token(e->tok, id);
}

xattn_status xattn_encoder_forward(xattn_encoder *e, const int32_t *ids, size_t n, float *out,
                                   xattn_error *err) {
    if (n < 1 || n > e->max_tokens)
        return xattn_fail(err, XATTN_ERR_VALUE, "encoder: %zu tokens, outside 1 .. %zu", n, e->max_tokens);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= e->cfg.vocab_size)
            return xattn_fail(err, XATTN_ERR_VALUE, "encoder: token %zu has id %d, outside 0 .. %d", i,
                              ids[i], e->cfg.vocab_size - 1);
    if (n > e->s.max_tokens || (size_t)omp_get_max_threads() > e->s.threads) {
        /* plan for this length (or more) and the thread count once */
        size_t want = n < 64 ? 64 : n;
        if (want < e->s.max_tokens) want = e->s.max_tokens;
        bert_state_free(&e->s);
        if (want > e->max_tokens) want = e->max_tokens;
        xattn_status st = bert_state_new(&e->cfg, want, &e->s, err);
        if (st) return st;
    }
    bert_forward(out, &e->s, &e->cfg, &e->w, ids, n);
    return XATTN_OK;
}

xattn_status xattn_encode(xattn_encoder *e, const char *text, xattn_prompt **out,
                          xattn_error *err) {
    *out = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    xattn_status st = bert_tokenize(e->tok, text, strlen(text), &ids, &n, NULL, err);
    if (st) return st;
    size_t D = (size_t)e->cfg.hidden_size;
    xattn_prompt *p = calloc(1, sizeof *p);
    if (!p) goto nomem;
    p->n_tokens = n;
    p->dim = D;
    p->embeddings = malloc(n * D * sizeof *p->embeddings);
    p->mask = malloc(n * sizeof *p->mask);
    p->tokens = calloc(n, sizeof *p->tokens);
    p->text = strdup(text);
    p->encoder = strdup(e->name);
    if (!p->embeddings || !p->mask || !p->tokens || !p->text || !p->encoder) goto nomem;
    for (size_t t = 0; t < n; t++) {
        p->mask[t] = 1;
        if (!(p->tokens[t] = strdup(bert_tokenizer_token(e->tok, ids[t])))) goto nomem;
    }
    if ((st = xattn_encoder_forward(e, ids, n, p->embeddings, err))) goto fail;
    free(ids);
    *out = p;
    return XATTN_OK;
nomem:
    st = xattn_fail(err, XATTN_ERR_NOMEM, "text: out of memory");
fail:
    free(ids);
    xattn_prompt_free(p);
    return st;
}
