/* test_encoder.c — the C text encoder (src/text/, xattn_encoder_*) against transformers:
 *   - the tiny random BERT of tools/make_tiny_bert.py (committed, F32 and BF16): tokens and
 *     last_hidden_state within 1e-5;
 *   - all-MiniLM-L6-v2 (tools/fetch_encoder.sh) on the 110 texts of 2..512 tokens of
 *     tools/dump_encoder_reference.py: two whole rows and every row's projection per text
 *     within 1e-5;
 *   - every prompt file of assets/ and the null prompt, re-encoded from its text: the same
 *     tokens, embeddings within 1e-5;
 *   - bad folders: model_type, hidden size, a missing tensor, truncated weights, tokenizer
 *     class, a missing model.safetensors, a vocabulary of the wrong size. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above */
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xattn_io.h"
#include "test_util.h"
#include "xattn.h"

#define ATOL 1e-5

static xattn_encoder *load(const char *rel) {
    xattn_encoder *e = NULL;
    xattn_error err = {0};
    xattn_status st = xattn_encoder_load(source_path(rel), &e, &err);
    CHECK(st == XATTN_OK, "loading %s: %s", rel, err.msg);
    return e;
}

static xattn_st_file *open_ref(const char *rel) {
    xattn_st_file *f = NULL;
    xattn_error err = {0};
    CHECK(xattn_st_open(source_path(rel), &f, &err) == XATTN_OK, "%s", err.msg);
    return f;
}

static int32_t *read_ids(const xattn_st_tensor *t) {
    int32_t *ids = malloc(t->numel * sizeof *ids);
    for (size_t i = 0; i < t->numel; i++) ids[i] = (int32_t)xattn_st_element_f64(t, i);
    return ids;
}

/* --- the tiny random BERT -------------------------------------------------------------------- */

static void tiny_parity(const char *model, const char *hidden_name) {
    xattn_encoder *e = load(model);
    xattn_st_file *ref = open_ref("tests/data/reference/tiny_bert.safetensors");
    const char *texts_json = xattn_st_metadata(ref, "texts");
    CHECK(texts_json != NULL, "tiny_bert.safetensors: no texts");
    size_t n_fail = 0;
    for (int k = 0;; k++) {
        char name[64];
        snprintf(name, sizeof name, "ids.%d", k);
        const xattn_st_tensor *ti = xattn_st_find(ref, name);
        if (!ti) {
            CHECK(k >= 5, "only %d texts in the reference", k);
            break;
        }
        snprintf(name, sizeof name, "%s.%d", hidden_name, k);
        const xattn_st_tensor *th = xattn_st_find(ref, name);
        int32_t *ids = read_ids(ti);
        size_t T = ti->numel, D = th->shape[1];
        float *want = malloc(T * D * sizeof *want), *got = malloc(T * D * sizeof *got);
        xattn_error err = {0};
        CHECK(xattn_st_read_f32(ref, th, want, &err) == XATTN_OK, "%s", err.msg);
        CHECK(xattn_encoder_forward(e, ids, T, got, &err) == XATTN_OK, "%s", err.msg);
        char what[128];
        snprintf(what, sizeof what, "%s text %d (T = %zu) %s", model, k, T, hidden_name);
        n_fail += compare_arrays(what, got, want, T * D, ATOL);
        free(ids);
        free(want);
        free(got);
    }
    xattn_st_close(ref);
    xattn_encoder_free(e);
    CHECK(n_fail == 0, "%zu texts outside %g", n_fail, ATOL);
}

static void test_tiny_parity(void **state) {
    (void)state;
    tiny_parity("tests/data/models/tiny_bert", "hidden");
}

static void test_tiny_bf16_parity(void **state) {
    (void)state;
    tiny_parity("tests/data/models/tiny_bert_bf16", "hidden_bf16");
}

/* The tiny model's tokenizer on the reference texts gives the reference ids. */
static void test_tiny_tokens(void **state) {
    (void)state;
    static const char *texts[] = {"", "a red circle", "A red circle left of a blue square.",
                                  "Kantō Straße 中文 ok!"};
    xattn_encoder *e = load("tests/data/models/tiny_bert");
    xattn_st_file *ref = open_ref("tests/data/reference/tiny_bert.safetensors");
    for (int k = 0; k < 4; k++) {
        char name[32];
        snprintf(name, sizeof name, "ids.%d", k);
        const xattn_st_tensor *ti = xattn_st_find(ref, name);
        int32_t *want = read_ids(ti), *got = NULL;
        size_t n = 0;
        xattn_error err = {0};
        CHECK(xattn_encoder_tokenize(e, texts[k], strlen(texts[k]), &got, &n, &err) == XATTN_OK, "%s", err.msg);
        CHECK(n == ti->numel && memcmp(got, want, n * sizeof *got) == 0, "text %d: ids differ (%zu vs %zu)",
              k, n, ti->numel);
        free(got);
        free(want);
    }
    xattn_st_close(ref);
    xattn_encoder_free(e);
}

/* --- all-MiniLM-L6-v2 ------------------------------------------------------------------------ */

static void test_minilm_parity(void **state) {
    (void)state;
    xattn_encoder *e = load("weights/shapes32"); /* the diffusers layout */
    xattn_encoder_info info;
    xattn_encoder_get_info(e, &info);
    CHECK(info.dim == 384 && info.max_tokens == 512 && info.n_layers == 6, "MiniLM info");
    xattn_st_file *ref = open_ref("tests/data/reference/minilm_parity.safetensors");
    const xattn_st_tensor *tl = xattn_st_find(ref, "lengths"), *tids = xattn_st_find(ref, "ids"), *trows = xattn_st_find(ref, "rows"),
                    *tri = xattn_st_find(ref, "row_index"), *tp = xattn_st_find(ref, "proj"), *td = xattn_st_find(ref, "dots");
    CHECK(tl && tids && trows && tri && tp && td, "minilm_parity.safetensors: a tensor is missing");
    size_t N = tl->numel, D = 384;
    int32_t *ids = read_ids(tids);
    float *rows = malloc(trows->numel * sizeof *rows), *proj = malloc(D * sizeof *proj),
          *dots = malloc(td->numel * sizeof *dots), *out = malloc(512 * D * sizeof *out);
    xattn_error err = {0};
    CHECK(xattn_st_read_f32(ref, trows, rows, &err) == XATTN_OK && xattn_st_read_f32(ref, tp, proj, &err) == XATTN_OK &&
              xattn_st_read_f32(ref, td, dots, &err) == XATTN_OK,
          "%s", err.msg);
    double worst = 0, worst_got = 0, worst_want = 0, worst_dot = 0;
    size_t worst_text = 0, worst_row = 0, worst_col = 0, at = 0, min_t = 1000, max_t = 0;
    for (size_t k = 0; k < N; k++) {
        size_t T = (size_t)xattn_st_element_f64(tl, k);
        min_t = T < min_t ? T : min_t;
        max_t = T > max_t ? T : max_t;
        CHECK(xattn_encoder_forward(e, ids + at, T, out, &err) == XATTN_OK, "text %zu: %s", k, err.msg);
        for (int r = 0; r < 2; r++) {
            size_t row = (size_t)xattn_st_element_f64(tri, k * 2 + (size_t)r);
            for (size_t d = 0; d < D; d++) {
                double g = out[row * D + d], w = rows[(k * 2 + (size_t)r) * D + d];
                if (!(fabs(g - w) <= worst)) {
                    worst = isnan(g) ? INFINITY : fabs(g - w);
                    worst_got = g, worst_want = w, worst_text = k, worst_row = row, worst_col = d;
                }
            }
        }
        for (size_t t = 0; t < T; t++) {
            double s = 0;
            for (size_t d = 0; d < D; d++) s += (double)out[t * D + d] * proj[d];
            double dd = fabs(s - dots[at + t]);
            if (!(dd <= worst_dot)) worst_dot = isnan(dd) ? INFINITY : dd;
        }
        at += T;
    }
    print_message("MiniLM parity: %zu texts of %zu..%zu tokens; worst element |got - want| = %.3g at text "
                  "%zu row %zu col %zu: got %.9g want %.9g; worst row projection error %.3g\n",
                  N, min_t, max_t, worst, worst_text, worst_row, worst_col, worst_got, worst_want, worst_dot);
    CHECK(N >= 100 && min_t == 2 && max_t == 512, "the reference covers %zu texts of %zu..%zu tokens", N, min_t, max_t);
    CHECK(worst <= ATOL && worst_dot <= ATOL, "MiniLM differs from transformers by more than %g", ATOL);
    free(ids);
    free(rows);
    free(proj);
    free(dots);
    free(out);
    xattn_st_close(ref);
    xattn_encoder_free(e);
}

/* --- the shipped prompts ---------------------------------------------------------------------- */

static size_t check_prompt_file(xattn_encoder *e, const char *path) {
    xattn_prompt *want = NULL, *got = NULL;
    xattn_error err = {0};
    CHECK(xattn_prompt_load(path, &want, &err) == XATTN_OK, "%s", err.msg);
    CHECK(xattn_encode(e, want->text, &got, &err) == XATTN_OK, "%s: %s", path, err.msg);
    CHECK(got->n_tokens == want->n_tokens && got->dim == want->dim, "%s: T %zu vs %zu", path, got->n_tokens,
          want->n_tokens);
    for (size_t t = 0; t < got->n_tokens; t++)
        CHECK(strcmp(got->tokens[t], want->tokens[t]) == 0, "%s: token %zu is %s, want %s", path, t,
              got->tokens[t], want->tokens[t]);
    CHECK(strcmp(got->encoder, want->encoder) == 0, "%s: encoder %s, want %s", path, got->encoder, want->encoder);
    int bad = compare_arrays(path, got->embeddings, want->embeddings, got->n_tokens * got->dim, ATOL);
    xattn_prompt_free(want);
    xattn_prompt_free(got);
    return (size_t)bad;
}

static void test_assets(void **state) {
    (void)state;
    xattn_encoder *e = load("weights/shapes32");
    DIR *d = opendir(source_path("assets"));
    CHECK(d != NULL, "assets/");
    size_t n = 0, bad = 0;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 12 || strcmp(de->d_name + len - 12, ".safetensors") != 0) continue;
        snprintf(path, sizeof path, "%s/%s", source_path("assets"), de->d_name);
        bad += check_prompt_file(e, path);
        n++;
    }
    closedir(d);
    bad += check_prompt_file(e, source_path("weights/shapes32/null_prompt.safetensors"));
    print_message("re-encoded %zu prompt files of assets/ and the null prompt\n", n);
    CHECK(n >= 10 && bad == 0, "%zu of %zu prompt files differ", bad, n + 1);
    xattn_encoder_free(e);
}

/* --- bad folders ------------------------------------------------------------------------------- */

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "%s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len, "%s", path);
    buf[len] = 0;
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static void put(const char *dir, const char *name, const char *data, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n && fclose(f) == 0, "%s", path);
}

/* A copy of tiny_bert in a fresh temp folder, with file `name` replaced by data (NULL: removed,
 * n = 0 and data "" : kept). */
static const char *variant(const char *tag, const char *name, const char *data, size_t n) {
    const char *dir = temp_dir(tag);
    static const char *files[] = {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"};
    for (int i = 0; i < 4; i++) {
        char src[4096];
        snprintf(src, sizeof src, "tests/data/models/tiny_bert/%s", files[i]);
        size_t len;
        char *buf = slurp(source_path(src), &len);
        put(dir, files[i], buf, len);
        free(buf);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!data) unlink(path);
    else put(dir, name, data, n);
    return dir;
}

static char *replaced(const char *file, const char *from, const char *to, size_t *n) {
    char src[4096];
    snprintf(src, sizeof src, "tests/data/models/tiny_bert/%s", file);
    size_t len;
    char *buf = slurp(source_path(src), &len);
    char *at = strstr(buf, from);
    CHECK(at != NULL, "%s has no %s", file, from);
    char *out = malloc(len + strlen(to) + 1);
    size_t k = (size_t)(at - buf);
    memcpy(out, buf, k);
    strcpy(out + k, to);
    strcat(out, at + strlen(from));
    free(buf);
    *n = strlen(out);
    return out;
}

static void expect_load_error(const char *dir, xattn_status want, const char *what) {
    xattn_encoder *e = NULL;
    xattn_error err = {0};
    xattn_status st = xattn_encoder_load(dir, &e, &err);
    print_message("%s\n", err.msg);
    CHECK(st == want && e == NULL && strstr(err.msg, what) && !strchr(err.msg, '\n') &&
              strncmp(err.msg, dir, strlen(dir)) == 0,
          "%s: status %d \"%s\", want %d and \"%s\"", dir, st, err.msg, want, what);
}

static void test_bad_folders(void **state) {
    (void)state;
    size_t n;
    char *s;
    s = replaced("config.json", "\"model_type\": \"bert\"", "\"model_type\": \"roberta\"", &n);
    expect_load_error(variant("enc_type", "config.json", s, n), XATTN_ERR_UNSUPPORTED,
                      "config.json: model_type \"roberta\" is not supported");
    free(s);
    s = replaced("config.json", "\"hidden_size\": 32", "\"hidden_size\": 64", &n);
    expect_load_error(variant("enc_width", "config.json", s, n), XATTN_ERR_SHAPE,
                      "hidden_size 64 in config.json disagrees with the weights (width 32)");
    free(s);
    s = replaced("config.json", "\"intermediate_size\": 64", "\"intermediate_size\": 48", &n);
    expect_load_error(variant("enc_inter", "config.json", s, n), XATTN_ERR_SHAPE,
                      "tensor encoder.layer.0.intermediate.dense.weight has shape [64, 32], the config says [48, 32]");
    free(s);
    s = replaced("config.json", "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3", &n);
    expect_load_error(variant("enc_layers", "config.json", s, n), XATTN_ERR_SHAPE,
                      "tensor encoder.layer.2.attention.self.query.weight is missing");
    free(s);
    s = replaced("tokenizer_config.json", "\"BertTokenizer\"", "\"XLMRobertaTokenizer\"", &n);
    expect_load_error(variant("enc_tok", "tokenizer_config.json", s, n), XATTN_ERR_UNSUPPORTED,
                      "tokenizer_class XLMRobertaTokenizer is not supported");
    free(s);
    expect_load_error(variant("enc_noweights", "model.safetensors", NULL, 0), XATTN_ERR_IO,
                      "model.safetensors: missing; run tools/fetch_encoder.sh");
    expect_load_error(variant("enc_novocab", "vocab.txt", NULL, 0), XATTN_ERR_IO,
                      "vocab.txt: missing; run tools/fetch_encoder.sh");
    expect_load_error(variant("enc_vocab_size", "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", 30),
                      XATTN_ERR_SHAPE, "vocab.txt: 5 tokens, but config.json's vocab_size is");
    /* truncated weights: every length cut at 1/3 and 2/3, and the header cut */
    char *w = slurp(source_path("tests/data/models/tiny_bert/model.safetensors"), &n);
    size_t cuts[] = {n / 3, 2 * n / 3, n - 1, 20, 4};
    for (int i = 0; i < 5; i++) {
        const char *dir = variant("enc_trunc", "model.safetensors", w, cuts[i]);
        xattn_encoder *e = NULL;
        xattn_error err = {0};
        xattn_status st = xattn_encoder_load(dir, &e, &err);
        print_message("cut at %zu: %s\n", cuts[i], err.msg);
        CHECK(st != XATTN_OK && e == NULL && strstr(err.msg, "model.safetensors: ") && !strchr(err.msg, '\n'),
              "weights cut at %zu bytes: status %d \"%s\"", cuts[i], st, err.msg);
    }
    free(w);
}

/* xattn_encoder_find: diffusers' layout, model_index.json's classes checked. */
static void test_find(void **state) {
    (void)state;
    char te[4096], tk[4096];
    xattn_error err = {0};
    CHECK(xattn_encoder_find(source_path("weights/shapes32"), te, tk, sizeof te, &err) == XATTN_OK, "%s", err.msg);
    CHECK(strstr(te, "weights/shapes32/text_encoder") && strstr(tk, "weights/shapes32/tokenizer"), "%s %s", te, tk);
    const char *dir = temp_dir("enc_find");
    const char *index = "{\"text_encoder\": [\"transformers\", \"CLIPTextModel\"], "
                        "\"tokenizer\": [\"transformers\", \"CLIPTokenizer\"]}";
    put(dir, "model_index.json", index, strlen(index));
    CHECK(xattn_encoder_find(dir, te, tk, sizeof te, &err) == XATTN_ERR_UNSUPPORTED &&
              strstr(err.msg, "model_index.json: text_encoder class CLIPTextModel is not supported (BertModel only)"),
          "%s", err.msg);
    index = "{\"unet\": [\"diffusers\", \"UNet2DConditionModel\"]}";
    put(dir, "model_index.json", index, strlen(index));
    CHECK(xattn_encoder_find(dir, te, tk, sizeof te, &err) == XATTN_ERR_IO &&
              strstr(err.msg, "model_index.json: no text_encoder entry: the model has no text encoder"),
          "%s", err.msg);
    unlink(strcat(strcpy(te, dir), "/model_index.json"));
    CHECK(xattn_encoder_find(dir, te, tk, sizeof te, &err) == XATTN_ERR_IO &&
              strstr(err.msg, "text_encoder: missing: the model has no text encoder"),
          "%s", err.msg);
}

/* An id outside the vocabulary, or too many tokens, is refused by the forward. */
static void test_forward_checks(void **state) {
    (void)state;
    xattn_encoder *e = load("tests/data/models/tiny_bert");
    int32_t ids[65] = {2, 1000, 3};
    float out[65 * 32];
    xattn_error err = {0};
    CHECK(xattn_encoder_forward(e, ids, 3, out, &err) == XATTN_ERR_VALUE && strstr(err.msg, "id 1000"), "%s", err.msg);
    for (int i = 0; i < 65; i++) ids[i] = 5;
    CHECK(xattn_encoder_forward(e, ids, 65, out, &err) == XATTN_ERR_VALUE && strstr(err.msg, "65 tokens"), "%s", err.msg);
    xattn_encoder_free(e);
    /* a tokenizer allowing more tokens than the positions: texts are cut at the positions (64) */
    size_t n;
    char *cfg = replaced("tokenizer_config.json", "\"model_max_length\": 64", "\"model_max_length\": 512", &n);
    const char *dir = variant("enc_maxlen", "tokenizer_config.json", cfg, n);
    free(cfg);
    CHECK(xattn_encoder_load(dir, &e, &err) == XATTN_OK, "%s", err.msg);
    xattn_prompt *p = NULL;
    char text[1200] = "";
    for (int i = 0; i < 100; i++) strcat(text, "red ring ");
    CHECK(xattn_encode(e, text, &p, &err) == XATTN_OK && p->n_tokens == 64 &&
              strcmp(p->tokens[63], "[SEP]") == 0,
          "%s: %zu tokens", err.msg, p ? p->n_tokens : 0);
    xattn_prompt_free(p);
    xattn_set_threads(4); /* more threads than planned for: the forward replans */
    CHECK(xattn_encode(e, "a red ring", &p, &err) == XATTN_OK, "%s", err.msg);
    xattn_prompt_free(p);
    xattn_set_threads(0);
    xattn_encoder_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_parity),
        cmocka_unit_test(test_tiny_bf16_parity),
        cmocka_unit_test(test_tiny_tokens),
        cmocka_unit_test(test_forward_checks),
        cmocka_unit_test(test_bad_folders),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_minilm_parity),
        cmocka_unit_test(test_assets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
