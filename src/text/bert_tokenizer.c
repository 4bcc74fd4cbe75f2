/* bert_tokenizer.c — BertTokenizer as Hugging Face `tokenizers` runs it (see bert_tokenizer.h
 * for the stages). Characters are handled as arrays of code points; Unicode properties
 * (general category, canonical decomposition, combining class, lowercase) come from utf8proc. */
#define _POSIX_C_SOURCE 200809L
#include "text/bert_tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include "util/error.h"

static void ascii_init(void);

#define VOCAB_MAX_BYTES (64u << 20)
#define VOCAB_MAX_TOKENS (4u << 20)
#define TOKEN_MAX_BYTES 1000

struct bert_tokenizer {
    bert_tokenizer_config cfg;
    char *arena;            /* the tokens, NUL-terminated, in id order */
    char **tokens;          /* [n_tokens] into arena */
    size_t *lens;           /* [n_tokens] bytes */
    size_t n_tokens;
    uint32_t *table;        /* open addressing: id + 1, 0 = empty; size mask + 1 */
    size_t mask;
    size_t max_token_bytes; /* the longest token: longer pieces are not looked up */
    int32_t unk_id, cls_id, sep_id;
    int32_t special_ids[5];
    const char *specials[5];
    size_t special_lens[5];
    size_t n_specials;
    uint8_t special_first[256]; /* 1 for a byte that starts a special token */
};

/* ------------------------------------------------------------------------------------------ */
/* The vocabulary                                                                              */

static uint64_t hash_bytes(const char *prefix, size_t np, const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < np; i++) h = (h ^ (uint8_t)prefix[i]) * 1099511628211ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

/* The id of prefix + s[n] (prefix "" or "##"), or -1. */
static int32_t vocab_find(const bert_tokenizer *t, const char *prefix, const char *s, size_t n) {
    size_t np = strlen(prefix);
    if (np + n > t->max_token_bytes) return -1;
    for (size_t i = hash_bytes(prefix, np, s, n) & t->mask;; i = (i + 1) & t->mask) {
        uint32_t e = t->table[i];
        if (!e) return -1;
        const char *tok = t->tokens[e - 1];
        if (t->lens[e - 1] == np + n && memcmp(tok, prefix, np) == 0 &&
            memcmp(tok + np, s, n) == 0)
            return (int32_t)(e - 1);
    }
}

int32_t bert_tokenizer_id(const bert_tokenizer *t, const char *token) {
    return vocab_find(t, "", token, strlen(token));
}

size_t bert_tokenizer_vocab_size(const bert_tokenizer *t) { return t->n_tokens; }

const char *bert_tokenizer_token(const bert_tokenizer *t, int32_t id) {
    return (id >= 0 && (size_t)id < t->n_tokens) ? t->tokens[id] : NULL;
}

const bert_tokenizer_config *bert_tokenizer_get_config(const bert_tokenizer *t) { return &t->cfg; }

void bert_tokenizer_limit_length(bert_tokenizer *t, size_t max_length) {
    if (max_length >= 2 && max_length < t->cfg.max_length) t->cfg.max_length = max_length;
}

void bert_tokenizer_free(bert_tokenizer *t) {
    if (!t) return;
    free(t->arena);
    free(t->tokens);
    free(t->lens);
    free(t->table);
    free(t);
}

static int valid_utf8(const char *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return 0;
        i += (size_t)k;
    }
    return 1;
}

/* Reads the whole file (at most max bytes) into a NUL-terminated buffer. */
static xattn_status read_file(const char *path, size_t max, char **out, size_t *len,
                              xattn_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return xattn_fail(err, XATTN_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return xattn_fail(err, XATTN_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max) {
        fclose(f);
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: %lld bytes, more than the %zu allowed", path,
                          (long long)st.st_size, max);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        fclose(f);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n != (size_t)st.st_size) {
        free(buf);
        return xattn_fail(err, XATTN_ERR_IO, "%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return XATTN_OK;
}

static xattn_status vocab_parse(bert_tokenizer *t, const char *path, xattn_error *err) {
    size_t len;
    xattn_status st = read_file(path, VOCAB_MAX_BYTES, &t->arena, &len, err);
    if (st) return st;
    if (len == 0) return xattn_fail(err, XATTN_ERR_FORMAT, "%s: empty vocabulary", path);
    /* count lines: a final newline ends the last line */
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += t->arena[i] == '\n';
    if (t->arena[len - 1] != '\n') n++;
    if (n > VOCAB_MAX_TOKENS)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: %zu tokens, more than the %u allowed", path,
                          n, VOCAB_MAX_TOKENS);
    t->tokens = malloc(n * sizeof *t->tokens);
    t->lens = malloc(n * sizeof *t->lens);
    size_t cap = 1;
    while (cap < 2 * n) cap <<= 1;
    t->table = calloc(cap, sizeof *t->table);
    if (!t->tokens || !t->lens || !t->table)
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    t->mask = cap - 1;
    t->n_tokens = n;
    char *p = t->arena;
    for (size_t id = 0; id < n; id++) {
        char *end = memchr(p, '\n', (size_t)(t->arena + len - p));
        if (!end) end = t->arena + len;
        size_t k = (size_t)(end - p);
        if (k > 0 && p[k - 1] == '\r') k--; /* CRLF files */
        p[k] = 0;
        if (k == 0)
            return xattn_fail(err, XATTN_ERR_FORMAT, "%s: line %zu: empty token", path, id + 1);
        if (k > TOKEN_MAX_BYTES)
            return xattn_fail(err, XATTN_ERR_FORMAT, "%s: line %zu: a token of %zu bytes (at most %d)",
                              path, id + 1, k, TOKEN_MAX_BYTES);
        if (memchr(p, 0, k) || !valid_utf8(p, k))
            return xattn_fail(err, XATTN_ERR_FORMAT, "%s: line %zu: not valid UTF-8", path, id + 1);
        t->tokens[id] = p;
        t->lens[id] = k;
        if (k > t->max_token_bytes) t->max_token_bytes = k;
        size_t i = hash_bytes("", 0, p, k) & t->mask;
        for (; t->table[i]; i = (i + 1) & t->mask) {
            uint32_t e = t->table[i];
            if (t->lens[e - 1] == k && memcmp(t->tokens[e - 1], p, k) == 0)
                return xattn_fail(err, XATTN_ERR_FORMAT, "%s: line %zu: duplicate token \"%s\" (line %u)",
                                  path, id + 1, p, e);
        }
        t->table[i] = (uint32_t)(id + 1);
        p = end + 1;
    }
    return XATTN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* The configuration                                                                           */

void bert_tokenizer_config_init(bert_tokenizer_config *c) {
    memset(c, 0, sizeof *c);
    c->lowercase = 1;
    c->strip_accents = -1;
    c->chinese_chars = 1;
    c->max_length = 512;
    c->max_chars_per_word = 100;
    strcpy(c->unk, "[UNK]");
    strcpy(c->cls, "[CLS]");
    strcpy(c->sep, "[SEP]");
    strcpy(c->pad, "[PAD]");
    strcpy(c->mask, "[MASK]");
}

/* A special token: a string or {"content": string}. */
static xattn_status config_token(const char *path, const cJSON *root, const char *key, char *dst,
                                 xattn_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v)) return XATTN_OK;
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= 32)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: %s is not a token string of 1 to 31 bytes",
                          path, key);
    strcpy(dst, v->valuestring);
    return XATTN_OK;
}

static xattn_status config_bool(const char *path, const cJSON *root, const char *key, int *dst,
                                int null_value, xattn_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) return XATTN_OK;
    if (cJSON_IsNull(v)) {
        *dst = null_value;
        return XATTN_OK;
    }
    if (!cJSON_IsBool(v))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: %s is not true, false or null", path, key);
    *dst = cJSON_IsTrue(v);
    return XATTN_OK;
}

xattn_status bert_tokenizer_read_config(const char *path, bert_tokenizer_config *c,
                                        xattn_error *err) {
    char *text;
    size_t len;
    xattn_status st = read_file(path, 1u << 20, &text, &len, err);
    if (st) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: not a JSON object", path);
    }
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "tokenizer_class");
    if (cls && !(cJSON_IsString(cls) && (strcmp(cls->valuestring, "BertTokenizer") == 0 ||
                                         strcmp(cls->valuestring, "BertTokenizerFast") == 0))) {
        st = xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                        "%s: tokenizer_class %s is not supported (BertTokenizer only)", path,
                        cJSON_IsString(cls) ? cls->valuestring : "(not a string)");
        goto done;
    }
    int basic = 1;
    if ((st = config_bool(path, root, "do_basic_tokenize", &basic, 1, err))) goto done;
    if (!basic) {
        st = xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: do_basic_tokenize false is not supported", path);
        goto done;
    }
    const cJSON *never = cJSON_GetObjectItemCaseSensitive(root, "never_split");
    if (never && !cJSON_IsNull(never) && !(cJSON_IsArray(never) && cJSON_GetArraySize(never) == 0)) {
        st = xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: never_split is not supported", path);
        goto done;
    }
    if ((st = config_bool(path, root, "do_lower_case", &c->lowercase, 1, err)) ||
        (st = config_bool(path, root, "strip_accents", &c->strip_accents, -1, err)) ||
        (st = config_bool(path, root, "tokenize_chinese_chars", &c->chinese_chars, 1, err)) ||
        (st = config_token(path, root, "unk_token", c->unk, err)) ||
        (st = config_token(path, root, "cls_token", c->cls, err)) ||
        (st = config_token(path, root, "sep_token", c->sep, err)) ||
        (st = config_token(path, root, "pad_token", c->pad, err)) ||
        (st = config_token(path, root, "mask_token", c->mask, err)))
        goto done;
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(root, "model_max_length");
    if (ml) {
        /* transformers writes a huge number (1e30) for "no limit": keep 512 then */
        if (!cJSON_IsNumber(ml) || ml->valuedouble < 3) {
            st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: model_max_length is not a number >= 3", path);
            goto done;
        }
        if (ml->valuedouble < 1e6) c->max_length = (size_t)ml->valuedouble;
    }
done:
    cJSON_Delete(root);
    return st;
}

xattn_status bert_tokenizer_new(const char *vocab_path, const bert_tokenizer_config *c,
                                bert_tokenizer **out, xattn_error *err) {
    *out = NULL;
    bert_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", vocab_path);
    t->cfg = *c;
    ascii_init();
    xattn_status st = vocab_parse(t, vocab_path, err);
    if (st) goto fail;
    const char *names[5] = {t->cfg.pad, t->cfg.unk, t->cfg.cls, t->cfg.sep, t->cfg.mask};
    for (int i = 0; i < 5; i++) {
        int32_t id = bert_tokenizer_id(t, names[i]);
        if (id < 0) {
            st = xattn_fail(err, XATTN_ERR_FORMAT, "%s: the special token %s is not in the vocabulary",
                            vocab_path, names[i]);
            goto fail;
        }
        t->specials[t->n_specials] = names[i];
        t->special_lens[t->n_specials] = strlen(names[i]);
        t->special_ids[t->n_specials++] = id;
        t->special_first[(uint8_t)names[i][0]] = 1;
    }
    t->unk_id = bert_tokenizer_id(t, t->cfg.unk);
    t->cls_id = bert_tokenizer_id(t, t->cfg.cls);
    t->sep_id = bert_tokenizer_id(t, t->cfg.sep);
    *out = t;
    return XATTN_OK;
fail:
    bert_tokenizer_free(t);
    return st;
}

xattn_status bert_tokenizer_load(const char *dir, bert_tokenizer **out, xattn_error *err) {
    *out = NULL;
    char path[4096];
    bert_tokenizer_config c;
    bert_tokenizer_config_init(&c);
    if ((size_t)snprintf(path, sizeof path, "%s/tokenizer_config.json", dir) >= sizeof path)
        return xattn_fail(err, XATTN_ERR_IO, "%s: path too long", dir);
    xattn_status st = bert_tokenizer_read_config(path, &c, err);
    if (st) return st;
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    return bert_tokenizer_new(path, &c, out, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Code point buffers and Unicode properties                                                   */

typedef struct cpbuf {
    uint32_t *p;
    size_t n, cap;
} cpbuf;

static int cp_push(cpbuf *b, uint32_t c) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        uint32_t *p = realloc(b->p, cap * sizeof *p);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    b->p[b->n++] = c;
    return 0;
}

/* utf8proc's general category; ASCII from a table filled from utf8proc once (the hot path). */
static int8_t ascii_category[128];
static uint8_t ascii_lower[128];
static pthread_once_t ascii_once = PTHREAD_ONCE_INIT;

/* Room for n more code points (one allocation where pushes would grow it step by step). */
static int cp_reserve(cpbuf *b, size_t n) {
    if (b->cap - b->n >= n) return 0;
    size_t cap = b->n + n;
    uint32_t *p = realloc(b->p, cap * sizeof *p);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int category_of(uint32_t c) {
    if (c < 128) return ascii_category[c];
    return utf8proc_category((utf8proc_int32_t)c);
}

static void ascii_fill(void) {
    for (uint32_t c = 0; c < 128; c++) {
        ascii_category[c] = (int8_t)utf8proc_category((utf8proc_int32_t)c);
        ascii_lower[c] = (uint8_t)utf8proc_tolower((utf8proc_int32_t)c);
    }
}

static void ascii_init(void) { pthread_once(&ascii_once, ascii_fill); }

/* White_Space: Zs, Zl, Zp, tab .. CR and NEL (Rust's char::is_whitespace). */
static int is_white_space(uint32_t c) {
    if ((c >= 9 && c <= 13) || c == 0x85) return 1;
    int k = category_of(c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

/* "Other": Cc, Cf, Cs, Co, except tab, LF and CR (unassigned code points stay). */
static int is_control(uint32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    int k = category_of(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CS ||
           k == UTF8PROC_CATEGORY_CO;
}

static int is_punctuation(uint32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return 1;
    int k = category_of(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* BERT's "Chinese character" ranges (its definition, not a Unicode property): the CJK Unified
 * Ideographs blocks and their extensions A-E, and the compatibility ideographs. As in the
 * `tokenizers` crate, extension E starts at U+2B920 (Google's BERT and transformers' Python
 * tokenizer say U+2B820): U+2B820..U+2B91F get no spaces around them, measured. */
static int is_chinese_char(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* ------------------------------------------------------------------------------------------ */
/* 1. The normalizer: each stage reads `in` and appends to `out`                               */

static int normalize_clean_text(cpbuf *out, const uint32_t *in, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (cp_push(out, is_white_space(c) ? ' ' : c)) return -1;
    }
    return 0;
}

static int normalize_chinese_chars(cpbuf *out, const uint32_t *in, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (is_chinese_char(in[i])) {
            if (cp_push(out, ' ') || cp_push(out, in[i]) || cp_push(out, ' ')) return -1;
        } else if (cp_push(out, in[i])) {
            return -1;
        }
    }
    return 0;
}

static int combining_class(uint32_t c) {
    return utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
}

/* NFD: canonical decomposition, then the canonical ordering of combining marks (a stable sort
 * by combining class of each run of non-zero classes). */
static int normalize_nfd(cpbuf *out, const uint32_t *in, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (in[i] < 128) { /* no decomposition, combining class 0 */
            if (cp_push(out, in[i])) return -1;
            continue;
        }
        utf8proc_int32_t d[32];
        int last = 0;
        utf8proc_ssize_t k = utf8proc_decompose_char((utf8proc_int32_t)in[i], d, 32,
                                                     UTF8PROC_DECOMPOSE, &last);
        if (k < 0 || k > 32) return -1;
        for (utf8proc_ssize_t j = 0; j < k; j++) {
            uint32_t c = (uint32_t)d[j];
            int cc = combining_class(c);
            if (cp_push(out, c)) return -1;
            /* insertion: move c left past marks of a higher class */
            for (size_t m = out->n - 1; cc && m > 0; m--) {
                int pc = combining_class(out->p[m - 1]);
                if (pc <= cc) break;
                out->p[m] = out->p[m - 1];
                out->p[m - 1] = c;
            }
        }
    }
    return 0;
}

static int normalize_strip_accents(cpbuf *out, const uint32_t *in, size_t n) {
    cpbuf nfd = {0};
    if (cp_reserve(&nfd, n + n / 4 + 16) || normalize_nfd(&nfd, in, n)) {
        free(nfd.p);
        return -1;
    }
    for (size_t i = 0; i < nfd.n; i++)
        if (category_of(nfd.p[i]) != UTF8PROC_CATEGORY_MN && cp_push(out, nfd.p[i])) {
            free(nfd.p);
            return -1;
        }
    free(nfd.p);
    return 0;
}

/* Each character's lowercase mapping. utf8proc gives the simple (one code point) mapping; the
 * one unconditional multi-character lowercase mapping of SpecialCasing.txt is added:
 * U+0130 -> "i" U+0307 (with strip_accents, NFD has already split U+0130). */
static int normalize_lowercase(cpbuf *out, const uint32_t *in, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (in[i] == 0x130) {
            if (cp_push(out, 'i') || cp_push(out, 0x307)) return -1;
        } else if (cp_push(out, in[i] < 128 ? ascii_lower[in[i]] : (uint32_t)utf8proc_tolower((utf8proc_int32_t)in[i]))) {
            return -1;
        }
    }
    return 0;
}

typedef int (*stage_fn)(cpbuf *out, const uint32_t *in, size_t n);

/* BertNormalizer: the stages the config turns on, in `tokenizers`' order. */
static int bert_normalize(const bert_tokenizer_config *c, cpbuf *text) {
    stage_fn stages[4];
    int k = 0;
    stages[k++] = normalize_clean_text;
    if (c->chinese_chars) stages[k++] = normalize_chinese_chars;
    if (c->strip_accents < 0 ? c->lowercase : c->strip_accents) stages[k++] = normalize_strip_accents;
    if (c->lowercase) stages[k++] = normalize_lowercase;
    for (int i = 0; i < k; i++) {
        cpbuf next = {0};
        if (cp_reserve(&next, text->n + text->n / 4 + 16) || stages[i](&next, text->p, text->n)) {
            free(next.p);
            return -1;
        }
        free(text->p);
        *text = next;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* 3. WordPiece, and the id list                                                               */

typedef struct idbuf {
    int32_t *p;
    size_t n, cap;
} idbuf;

static int id_push(idbuf *b, int32_t id) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        int32_t *p = realloc(b->p, cap * sizeof *p);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    b->p[b->n++] = id;
    return 0;
}

/* One word (code points w[n]) -> ids appended to out. utf8: scratch of >= 4n bytes; at: scratch
 * of >= n + 1 offsets. */
static int wordpiece(const bert_tokenizer *t, const uint32_t *w, size_t n, char *utf8,
                     size_t *at, idbuf *out) {
    if (n > t->cfg.max_chars_per_word) return id_push(out, t->unk_id);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        at[i] = len;
        len += (size_t)utf8proc_encode_char((utf8proc_int32_t)w[i], (utf8proc_uint8_t *)utf8 + len);
    }
    at[n] = len;
    size_t first = out->n;
    for (size_t start = 0; start < n;) {
        const char *prefix = start ? "##" : "";
        size_t np = start ? 2 : 0;
        int32_t id = -1;
        size_t end = n;
        while (end > start && at[end] - at[start] + np > t->max_token_bytes) end--;
        for (; end > start; end--)
            if ((id = vocab_find(t, prefix, utf8 + at[start], at[end] - at[start])) >= 0) break;
        if (id < 0) { /* the word cannot be split: one [UNK] */
            out->n = first;
            return id_push(out, t->unk_id);
        }
        if (id_push(out, id)) return -1;
        start = end;
    }
    return 0;
}

/* 2. BertPreTokenizer over the normalized piece, each word through WordPiece. */
static int pre_tokenize_and_wordpiece(const bert_tokenizer *t, const cpbuf *text, idbuf *out) {
    size_t cap = t->cfg.max_chars_per_word + 1;
    char *utf8 = malloc(4 * cap);
    size_t *at = malloc((cap + 1) * sizeof *at);
    int rc = (!utf8 || !at) ? -1 : 0;
    size_t start = 0;
    for (size_t i = 0; rc == 0 && i <= text->n; i++) {
        int ws = i < text->n && is_white_space(text->p[i]);
        int punct = i < text->n && is_punctuation(text->p[i]);
        if (i == text->n || ws || punct) {
            if (i > start) rc = wordpiece(t, text->p + start, i - start, utf8, at, out);
            if (rc == 0 && punct) rc = wordpiece(t, text->p + i, 1, utf8, at, out);
            start = i + 1;
        }
    }
    free(utf8);
    free(at);
    return rc;
}

/* 0. The special tokens written in the raw text: the longest one starting at s[i], or -1. */
static int special_at(const bert_tokenizer *t, const char *s, size_t len, size_t i) {
    int best = -1;
    for (size_t k = 0; k < t->n_specials; k++)
        if (t->special_lens[k] <= len - i && memcmp(s + i, t->specials[k], t->special_lens[k]) == 0 &&
            (best < 0 || t->special_lens[k] > t->special_lens[best]))
            best = (int)k;
    return best;
}

/* A raw piece of text (no special tokens in it): decode, normalize, split, WordPiece. */
static int tokenize_piece(const bert_tokenizer *t, const char *s, size_t len, idbuf *out) {
    cpbuf text = {0};
    if (cp_reserve(&text, len)) return -1;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0 || cp_push(&text, (uint32_t)cp)) {
            free(text.p);
            return -1;
        }
        i += (size_t)k;
    }
    int rc = bert_normalize(&t->cfg, &text);
    if (rc == 0) rc = pre_tokenize_and_wordpiece(t, &text, out);
    free(text.p);
    return rc;
}

xattn_status bert_tokenize(const bert_tokenizer *t, const char *text, size_t len, int32_t **ids,
                           size_t *n, size_t *n_full, xattn_error *err) {
    *ids = NULL;
    *n = 0;
    /* the whole text must be UTF-8: name the first bad byte */
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)text + i,
                                              (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0)
            return xattn_fail(err, XATTN_ERR_VALUE, "text: invalid UTF-8 at byte %zu (0x%02x)", i,
                              (unsigned)(uint8_t)text[i]);
        i += (size_t)k;
    }
    idbuf out = {0};
    if (id_push(&out, t->cls_id)) goto nomem;
    size_t piece = 0;
    for (size_t i = 0; i <= len;) {
        int k = i < len && t->special_first[(uint8_t)text[i]] ? special_at(t, text, len, i) : -1;
        if (i == len || k >= 0) {
            if (i > piece && tokenize_piece(t, text + piece, i - piece, &out)) goto nomem;
            if (i == len) break;
            if (id_push(&out, t->special_ids[k])) goto nomem;
            i += t->special_lens[k];
            piece = i;
        } else {
            i++;
        }
    }
    /* 4. the post-processor: [CLS] text [SEP], cut to max_length */
    size_t full = out.n + 1;
    if (n_full) *n_full = full;
    if (full > t->cfg.max_length) out.n = t->cfg.max_length - 1;
    if (id_push(&out, t->sep_id)) goto nomem;
    *ids = out.p;
    *n = out.n;
    return XATTN_OK;
nomem:
    free(out.p);
    return xattn_fail(err, XATTN_ERR_NOMEM, "text: out of memory (%zu bytes)", len);
}
