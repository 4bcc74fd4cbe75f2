/* test_prompt.c — xattn_prompt_load on good and bad prompt files (safetensors and .npy), all
 * generated here into temp_dir. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above */
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xattn_io.h"
#include "test_util.h"
#include "xattn.h"

#define T_TOK 3
#define D_DIM 4

static char path_buf[4096];

static const char *tmp_file(const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", temp_dir("prompt"), name);
    return path_buf;
}

/* emb[t, d] = t - 0.25 d + 0.5 */
static void fill_embeddings(float *emb, size_t T, size_t D) {
    for (size_t t = 0; t < T; t++)
        for (size_t d = 0; d < D; d++) emb[t * D + d] = (float)t - 0.25f * (float)d + 0.5f;
}

/* A prompt safetensors with F32 encoder_hidden_states of `shape` and optional F32 mask. */
static void write_prompt(const char *path, int ndim, const size_t *shape, const float *emb,
                         const float *mask, int mask_ndim, const size_t *mask_shape,
                         const char *const *keys, const char *const *values, size_t n_meta) {
    xattn_st_write_tensor ts[2] = {{.name = "encoder_hidden_states", .ndim = ndim, .data = emb}};
    for (int d = 0; d < ndim; d++) ts[0].shape[d] = shape[d];
    size_t n = 1;
    if (mask) {
        ts[1] = (xattn_st_write_tensor){.name = "attention_mask", .ndim = mask_ndim, .data = mask};
        for (int d = 0; d < mask_ndim; d++) ts[1].shape[d] = mask_shape[d];
        n = 2;
    }
    xattn_error err = {0};
    xattn_status s = xattn_st_write_f32(path, ts, n, keys, values, n_meta, &err);
    if (s != XATTN_OK) printf("%s\n", err.msg);
    assert_int_equal(s, XATTN_OK);
}

static void expect_failure(const char *path, xattn_status want, const char *needle) {
    xattn_prompt *p = (xattn_prompt *)0x1;
    xattn_error err = {0};
    xattn_status s = xattn_prompt_load(path, &p, &err);
    printf("  %s -> %s: %s\n", strrchr(path, '/') + 1, xattn_status_name(s), err.msg);
    assert_int_equal(s, want);
    assert_int_equal(err.status, want);
    assert_null(p);
    assert_non_null(strstr(err.msg, path));
    if (needle) assert_non_null(strstr(err.msg, needle));
    assert_null(strchr(err.msg, '\n'));
}

static xattn_prompt *load_ok(const char *path) {
    xattn_prompt *p = NULL;
    xattn_error err = {0};
    xattn_status s = xattn_prompt_load(path, &p, &err);
    if (s != XATTN_OK) printf("%s\n", err.msg);
    assert_int_equal(s, XATTN_OK);
    assert_non_null(p);
    return p;
}

/* ------------------------------------------------------------------------------------------ */

static void test_good_2d(void **state) {
    (void)state;
    float emb[T_TOK * D_DIM]; /* [T, D] */
    fill_embeddings(emb, T_TOK, D_DIM);
    const char *path = tmp_file("good2d.safetensors");
    write_prompt(path, 2, (size_t[]){T_TOK, D_DIM}, emb, NULL, 0, NULL, NULL, NULL, 0);
    xattn_prompt *p = load_ok(path);
    assert_int_equal(p->n_tokens, T_TOK);
    assert_int_equal(p->dim, D_DIM);
    assert_int_equal(compare_arrays("embeddings", p->embeddings, emb, T_TOK * D_DIM, 0.0), 0);
    for (size_t t = 0; t < T_TOK; t++) {
        char want[16];
        snprintf(want, sizeof want, "t%zu", t);
        assert_string_equal(p->tokens[t], want);
        assert_true(p->mask[t] == 1.0f);
    }
    assert_string_equal(p->text, "");
    assert_string_equal(p->encoder, "");
    xattn_prompt_free(p);
    xattn_prompt_free(NULL);
}

static void test_good_3d_mask_tokens(void **state) {
    (void)state;
    float emb[T_TOK * D_DIM]; /* [1, T, D] */
    fill_embeddings(emb, T_TOK, D_DIM);
    const float mask[T_TOK] = {1, 1, 0}; /* [1, T] */
    const char *keys[] = {"prompt", "encoder", "tokens"};
    const char *values[] = {"a red círculo", "sentence-transformers/all-MiniLM-L6-v2",
                            "[\"[CLS]\", \"círculo\", \"[PAD]\"]"};
    const char *path = tmp_file("good3d.safetensors");
    write_prompt(path, 3, (size_t[]){1, T_TOK, D_DIM}, emb, mask, 2, (size_t[]){1, T_TOK}, keys, values, 3);
    xattn_prompt *p = load_ok(path);
    assert_int_equal(p->n_tokens, T_TOK);
    assert_int_equal(p->dim, D_DIM);
    assert_int_equal(compare_arrays("embeddings", p->embeddings, emb, T_TOK * D_DIM, 0.0), 0);
    assert_int_equal(compare_arrays("mask", p->mask, mask, T_TOK, 0.0), 0);
    assert_string_equal(p->tokens[0], "[CLS]");
    assert_string_equal(p->tokens[1], "círculo");
    assert_string_equal(p->tokens[2], "[PAD]");
    assert_string_equal(p->text, values[0]);
    assert_string_equal(p->encoder, values[1]);
    xattn_prompt_free(p);
}

/* F16 embeddings [T, D] and an I64 mask [T], written byte by byte. */
static void test_f16_i64_mask(void **state) {
    (void)state;
    char header[256];
    int n = snprintf(header, sizeof header,
                     "{\"encoder_hidden_states\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                     "\"attention_mask\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[8,24]}}");
    const uint16_t h[4] = {0x3c00, 0xc000, 0x3800, 0x0000}; /* 1, -2, 0.5, 0 */
    uint8_t data[24] = {0};
    for (int i = 0; i < 4; i++) {
        data[2 * i] = (uint8_t)(h[i] & 0xff);
        data[2 * i + 1] = (uint8_t)(h[i] >> 8);
    }
    data[8] = 1; /* mask = {1, 0} */
    const char *path = tmp_file("f16.safetensors");
    FILE *fp = fopen(path, "wb");
    uint8_t len8[8] = {(uint8_t)n};
    fwrite(len8, 1, 8, fp);
    fwrite(header, 1, (size_t)n, fp);
    fwrite(data, 1, sizeof data, fp);
    fclose(fp);
    xattn_prompt *p = load_ok(path);
    const float want[4] = {1.0f, -2.0f, 0.5f, 0.0f};
    const float want_mask[2] = {1.0f, 0.0f};
    assert_int_equal(compare_arrays("f16 embeddings", p->embeddings, want, 4, 0.0), 0);
    assert_int_equal(compare_arrays("i64 mask", p->mask, want_mask, 2, 0.0), 0);
    xattn_prompt_free(p);
}

static void test_bad_safetensors(void **state) {
    (void)state;
    float emb[T_TOK * D_DIM]; /* [T, D] */
    fill_embeddings(emb, T_TOK, D_DIM);
    const char *path;

    path = tmp_file("t0.safetensors");
    write_prompt(path, 2, (size_t[]){0, D_DIM}, emb, NULL, 0, NULL, NULL, NULL, 0);
    expect_failure(path, XATTN_ERR_VALUE, "T = 0");

    path = tmp_file("d0.safetensors");
    write_prompt(path, 2, (size_t[]){T_TOK, 0}, emb, NULL, 0, NULL, NULL, NULL, 0);
    expect_failure(path, XATTN_ERR_VALUE, "D = 0");

    float bad[T_TOK * D_DIM];
    memcpy(bad, emb, sizeof bad);
    bad[1 * D_DIM + 2] = NAN;
    path = tmp_file("nan.safetensors");
    write_prompt(path, 2, (size_t[]){T_TOK, D_DIM}, bad, NULL, 0, NULL, NULL, NULL, 0);
    expect_failure(path, XATTN_ERR_VALUE, "NaN at row 1, column 2");

    bad[1 * D_DIM + 2] = 0;
    bad[2 * D_DIM + 3] = -INFINITY;
    path = tmp_file("inf.safetensors");
    write_prompt(path, 2, (size_t[]){T_TOK, D_DIM}, bad, NULL, 0, NULL, NULL, NULL, 0);
    expect_failure(path, XATTN_ERR_VALUE, "Inf at row 2, column 3");

    const float mask2[2] = {1, 1};
    path = tmp_file("mask-length.safetensors");
    write_prompt(path, 2, (size_t[]){T_TOK, D_DIM}, emb, mask2, 1, (size_t[]){2}, NULL, NULL, 0);
    expect_failure(path, XATTN_ERR_SHAPE, "attention_mask");

    const float mask_batch[2 * T_TOK] = {1, 1, 1, 1, 1, 1};
    path = tmp_file("mask-batch.safetensors");
    write_prompt(path, 2, (size_t[]){T_TOK, D_DIM}, emb, mask_batch, 2, (size_t[]){2, T_TOK}, NULL, NULL, 0);
    expect_failure(path, XATTN_ERR_SHAPE, "attention_mask");

    const float mask_half[T_TOK] = {1, 0.5f, 0};
    path = tmp_file("mask-half.safetensors");
    write_prompt(path, 2, (size_t[]){T_TOK, D_DIM}, emb, mask_half, 1, (size_t[]){T_TOK}, NULL, NULL, 0);
    expect_failure(path, XATTN_ERR_VALUE, "attention_mask[1]");

    const float mask_zero[T_TOK] = {0, 0, 0};
    path = tmp_file("mask-zero.safetensors");
    write_prompt(path, 2, (size_t[]){T_TOK, D_DIM}, emb, mask_zero, 1, (size_t[]){T_TOK}, NULL, NULL, 0);
    expect_failure(path, XATTN_ERR_VALUE, "all zeros");

    const char *tk[] = {"tokens"};
    const char *tv_short[] = {"[\"a\", \"b\"]"};
    path = tmp_file("tokens-count.safetensors");
    write_prompt(path, 2, (size_t[]){T_TOK, D_DIM}, emb, NULL, 0, NULL, tk, tv_short, 1);
    expect_failure(path, XATTN_ERR_SHAPE, "'tokens' has 2 entries");

    const char *tv_bad[] = {"a b c"};
    path = tmp_file("tokens-not-json.safetensors");
    write_prompt(path, 2, (size_t[]){T_TOK, D_DIM}, emb, NULL, 0, NULL, tk, tv_bad, 1);
    expect_failure(path, XATTN_ERR_FORMAT, "tokens");

    const char *tv_num[] = {"[\"a\", 2, \"c\"]"};
    path = tmp_file("tokens-number.safetensors");
    write_prompt(path, 2, (size_t[]){T_TOK, D_DIM}, emb, NULL, 0, NULL, tk, tv_num, 1);
    expect_failure(path, XATTN_ERR_FORMAT, "entry 1");

    path = tmp_file("rank1.safetensors");
    write_prompt(path, 1, (size_t[]){T_TOK * D_DIM}, emb, NULL, 0, NULL, NULL, NULL, 0);
    expect_failure(path, XATTN_ERR_SHAPE, "encoder_hidden_states");

    path = tmp_file("batch2.safetensors");
    write_prompt(path, 3, (size_t[]){3, 1, D_DIM}, emb, NULL, 0, NULL, NULL, NULL, 0);
    expect_failure(path, XATTN_ERR_SHAPE, "encoder_hidden_states");

    xattn_st_write_tensor other = {.name = "something_else", .ndim = 2, .shape = {T_TOK, D_DIM}, .data = emb};
    path = tmp_file("missing-tensor.safetensors");
    xattn_error err = {0};
    assert_int_equal(xattn_st_write_f32(path, &other, 1, NULL, NULL, 0, &err), XATTN_OK);
    expect_failure(path, XATTN_ERR_SHAPE, "missing tensor 'encoder_hidden_states'");

    /* a corrupt file: the safetensors reader's error comes through */
    path = tmp_file("garbage.safetensors");
    FILE *fp = fopen(path, "wb");
    fputs("this is not a prompt file at all", fp);
    fclose(fp);
    expect_failure(path, XATTN_ERR_FORMAT, NULL);

    expect_failure(tmp_file("does-not-exist.safetensors"), XATTN_ERR_IO, "cannot open");
}

/* ------------------------------------------------------------------------------------------ */
/* .npy                                                                                        */

/* Writes a .npy with the given version (1 or 2), header dict and raw data; the dict is padded
 * with spaces and '\n' to a 64-byte boundary as numpy does. */
static void write_npy(const char *path, int version, const char *dict, const void *data, size_t n) {
    size_t prefix = version == 1 ? 10 : 12;
    size_t len = strlen(dict) + 1;
    size_t padded = (prefix + len + 63) / 64 * 64 - prefix;
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fwrite("\x93NUMPY", 1, 6, fp);
    fputc(version, fp);
    fputc(0, fp);
    for (size_t b = 0; b < prefix - 8; b++) fputc((int)((padded >> (8 * b)) & 0xff), fp);
    fputs(dict, fp);
    for (size_t i = len; i < padded; i++) fputc(' ', fp);
    fputc('\n', fp);
    if (n) fwrite(data, 1, n, fp);
    fclose(fp);
}

static void test_npy(void **state) {
    (void)state;
    float emb[T_TOK * D_DIM]; /* [T, D] */
    fill_embeddings(emb, T_TOK, D_DIM);
    const char *path = tmp_file("good.npy");
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", emb, sizeof emb);
    xattn_prompt *p = load_ok(path);
    assert_int_equal(p->n_tokens, T_TOK);
    assert_int_equal(p->dim, D_DIM);
    assert_int_equal(compare_arrays("npy f4", p->embeddings, emb, T_TOK * D_DIM, 0.0), 0);
    assert_string_equal(p->tokens[2], "t2");
    assert_true(p->mask[0] == 1.0f && p->mask[2] == 1.0f);
    assert_string_equal(p->text, "");
    xattn_prompt_free(p);

    double emb64[T_TOK * D_DIM]; /* [T, D] */
    for (size_t i = 0; i < T_TOK * D_DIM; i++) emb64[i] = emb[i];
    path = tmp_file("good-v2-f8.npy"); /* version 2, f8, keys in another order */
    write_npy(path, 2, "{'shape': (3, 4), 'fortran_order': False, 'descr': '<f8'}", emb64, sizeof emb64);
    p = load_ok(path);
    assert_int_equal(compare_arrays("npy f8", p->embeddings, emb, T_TOK * D_DIM, 0.0), 0);
    xattn_prompt_free(p);

    const uint16_t h[2] = {0x3c00, 0xbc00}; /* 1, -1 */
    path = tmp_file("good-f2.npy");
    write_npy(path, 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2), }", h, sizeof h);
    p = load_ok(path);
    assert_true(p->n_tokens == 1 && p->dim == 2 && p->embeddings[0] == 1.0f && p->embeddings[1] == -1.0f);
    xattn_prompt_free(p);

    struct {
        const char *file, *dict;
        size_t bytes;
        xattn_status want;
        const char *needle;
    } bad[] = {
        {"rank3.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 4), }", sizeof emb,
         XATTN_ERR_SHAPE, "3 dimensions"},
        {"rank1.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (12,), }", sizeof emb,
         XATTN_ERR_SHAPE, "1 dimensions"},
        {"t0.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", 0, XATTN_ERR_VALUE,
         "T = 0"},
        {"truncated.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", sizeof emb - 4,
         XATTN_ERR_FORMAT, "truncated"},
        {"extra.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", sizeof emb,
         XATTN_ERR_FORMAT, "needs 32 data bytes but the file has 48"},
        {"fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }", sizeof emb,
         XATTN_ERR_UNSUPPORTED, "Fortran"},
        {"int.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 4), }", sizeof emb,
         XATTN_ERR_UNSUPPORTED, "'<i4'"},
        {"big-endian.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (3, 4), }", sizeof emb,
         XATTN_ERR_UNSUPPORTED, "'>f4'"},
        {"malformed.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4 }", sizeof emb,
         XATTN_ERR_FORMAT, "malformed"},
        {"no-shape.npy", "{'descr': '<f4', 'fortran_order': False}", sizeof emb, XATTN_ERR_FORMAT, "lacks"},
        {"huge.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
         sizeof emb, XATTN_ERR_FORMAT, "overflow"},
        {"huger.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 4), }",
         sizeof emb, XATTN_ERR_FORMAT, "malformed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path = tmp_file(bad[i].file);
        write_npy(path, 1, bad[i].dict, emb, bad[i].bytes);
        expect_failure(path, bad[i].want, bad[i].needle);
    }
    /* a wrong length and a wrong version in the prefix */
    path = tmp_file("hlen.npy");
    FILE *fp = fopen(path, "wb");
    fwrite("\x93NUMPY\x01\x00\xff\xff{}", 1, 12, fp);
    fclose(fp);
    expect_failure(path, XATTN_ERR_FORMAT, "header length");
    path = tmp_file("v9.npy");
    fp = fopen(path, "wb");
    fwrite("\x93NUMPY\x09\x00\x02\x00{}", 1, 12, fp);
    fclose(fp);
    expect_failure(path, XATTN_ERR_UNSUPPORTED, "version 9");

    float nan_emb[T_TOK * D_DIM];
    memcpy(nan_emb, emb, sizeof emb);
    nan_emb[0 * D_DIM + 3] = NAN;
    path = tmp_file("nan.npy");
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", nan_emb, sizeof nan_emb);
    expect_failure(path, XATTN_ERR_VALUE, "row 0, column 3");
}

/* xattn_prompt_save writes what xattn_prompt_load reads back, the tokens as Python's
 * json.dumps(tokens, ensure_ascii=False) writes them, invalid UTF-8 as U+FFFD, and a NULL mask
 * as ones. */
static void test_save_round_trip(void **state) {
    (void)state;
    float emb[T_TOK * D_DIM];
    fill_embeddings(emb, T_TOK, D_DIM);
    char *tokens[T_TOK] = {"[CLS]", "say \"hi\"\\\t", "caf\xc3\xa9 \xff"};
    xattn_prompt in = {.n_tokens = T_TOK, .dim = D_DIM, .embeddings = emb, .mask = NULL,
                       .tokens = tokens, .text = "caf\xc3\xa9 \xff", .encoder = "enc"};
    const char *path = tmp_file("saved.safetensors");
    xattn_error err = {0};
    assert_int_equal(xattn_prompt_save(&in, path, &err), XATTN_OK);

    xattn_st_file *f = NULL;
    assert_int_equal(xattn_st_open(path, &f, &err), XATTN_OK);
    assert_string_equal(xattn_st_metadata(f, "tokens"),
                        "[\"[CLS]\", \"say \\\"hi\\\"\\\\\\t\", \"caf\xc3\xa9 \xef\xbf\xbd\"]");
    assert_string_equal(xattn_st_metadata(f, "prompt"), "caf\xc3\xa9 \xef\xbf\xbd");
    assert_string_equal(xattn_st_metadata(f, "encoder"), "enc");
    xattn_st_close(f);

    xattn_prompt *p = load_ok(path);
    assert_int_equal(p->n_tokens, T_TOK);
    assert_int_equal(p->dim, D_DIM);
    assert_int_equal(compare_arrays("embeddings", p->embeddings, emb, T_TOK * D_DIM, 0.0), 0);
    for (size_t t = 0; t < T_TOK; t++) assert_true(p->mask[t] == 1.0f);
    assert_string_equal(p->tokens[1], tokens[1]);
    assert_string_equal(p->tokens[2], "caf\xc3\xa9 \xef\xbf\xbd");
    xattn_prompt_free(p);

    /* No tokens: refused naming the file, nothing written. */
    in.n_tokens = 0;
    const char *empty = tmp_file("empty.safetensors");
    assert_int_equal(xattn_prompt_save(&in, empty, &err), XATTN_ERR_VALUE);
    assert_non_null(strstr(err.msg, empty));
    FILE *g = fopen(empty, "rb");
    assert_null(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_2d),       cmocka_unit_test(test_good_3d_mask_tokens),
        cmocka_unit_test(test_f16_i64_mask),  cmocka_unit_test(test_bad_safetensors),
        cmocka_unit_test(test_npy),           cmocka_unit_test(test_save_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
