/* test_safetensors.c — round trip through xattn_st_write_f32 / xattn_st_open, exact F16/BF16 decoding, and
 * hostile files (generated here into temp_dir) that must fail with the right status and a
 * one-line message naming the file. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "xattn_io.h"
#include "test_util.h"

static char path_buf[4096];

static const char *tmp_file(const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", temp_dir("safetensors"), name);
    return path_buf;
}

/* Writes u64 header length (declared_len, or the real length when UINT64_MAX), header, data. */
static void write_raw(const char *path, const char *header, uint64_t declared_len, const void *data,
                      size_t data_len) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    uint64_t len = declared_len == UINT64_MAX ? strlen(header) : declared_len;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)(len >> (8 * i));
    assert_int_equal(fwrite(len8, 1, 8, fp), 8);
    assert_int_equal(fwrite(header, 1, strlen(header), fp), strlen(header));
    if (data_len) assert_int_equal(fwrite(data, 1, data_len, fp), data_len);
    assert_int_equal(fclose(fp), 0);
}

/* Opening must fail with `want`, a message holding the path and `needle`, and no file handle. */
static void expect_open_failure(const char *path, xattn_status want, const char *needle) {
    xattn_st_file *f = (xattn_st_file *)0x1;
    xattn_error err = {0};
    xattn_status s = xattn_st_open(path, &f, &err);
    printf("  %s -> %s: %s\n", strrchr(path, '/') + 1, xattn_status_name(s), err.msg);
    assert_int_equal(s, want);
    assert_int_equal(err.status, want);
    assert_null(f);
    assert_non_null(strstr(err.msg, path));
    if (needle) assert_non_null(strstr(err.msg, needle));
    assert_null(strchr(err.msg, '\n'));
}

/* ------------------------------------------------------------------------------------------ */

static void test_round_trip(void **state) {
    (void)state;
    float a[2 * 3] = {1.5f, -2.25f, 3e-7f, 1e30f, -0.0f, 42.0f}; /* [2, 3] */
    float b[4] = {0.1f, 0.2f, 0.3f, 0.4f};                       /* [1, 1, 4] */
    float c[1] = {7.0f};                                          /* scalar [] */
    xattn_st_write_tensor ts[] = {
        {.name = "down.0.weight", .ndim = 2, .shape = {2, 3}, .data = a},
        {.name = "bias \"quoted\"", .ndim = 3, .shape = {1, 1, 4}, .data = b},
        {.name = "scalar", .ndim = 0, .data = c},
        {.name = "empty", .ndim = 2, .shape = {0, 5}, .data = NULL},
    };
    const char *keys[] = {"prompt", "tokens", "odd"};
    const char *values[] = {"a red círculo — 猫", "[\"a\", \"red\"]", "tab\tnew\nline\\"};
    const char *path = tmp_file("good.safetensors");
    xattn_error err = {0};
    assert_int_equal(xattn_st_write_f32(path, ts, 4, keys, values, 3, &err), XATTN_OK);

    xattn_st_file *f;
    xattn_status s = xattn_st_open(path, &f, &err);
    if (s != XATTN_OK) printf("%s\n", err.msg);
    assert_int_equal(s, XATTN_OK);
    assert_string_equal(xattn_st_path(f), path);
    assert_int_equal(xattn_st_count(f), 4);
    for (size_t i = 0; i < 4; i++) {
        const xattn_st_tensor *t = xattn_st_at(f, i);
        assert_string_equal(t->name, ts[i].name); /* file order kept */
        assert_int_equal(t->dtype, XATTN_ST_F32);
        assert_int_equal(t->ndim, ts[i].ndim);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            assert_int_equal(t->shape[d], ts[i].shape[d]);
            numel *= ts[i].shape[d];
        }
        assert_int_equal(t->numel, numel);
        assert_int_equal(t->nbytes, numel * 4);
        if (numel) {
            float *got = malloc(numel * sizeof *got);
            assert_int_equal(xattn_st_read_f32(f, t, got, &err), XATTN_OK);
            assert_int_equal(compare_arrays(t->name, got, ts[i].data, numel, 0.0), 0);
            assert_memory_equal(got, ts[i].data, numel * sizeof *got); /* bit-exact, -0 included */
            free(got);
        }
    }
    assert_ptr_equal(xattn_st_find(f, "scalar"), xattn_st_at(f, 2));
    assert_null(xattn_st_find(f, "missing"));
    assert_int_equal(xattn_st_metadata_count(f), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(xattn_st_metadata(f, keys[i]), values[i]);
        const char *k, *v;
        xattn_st_metadata_at(f, i, &k, &v);
        assert_string_equal(k, keys[i]);
        assert_string_equal(v, values[i]);
    }
    assert_null(xattn_st_metadata(f, "absent"));
    xattn_st_close(f);
    xattn_st_close(NULL);

    /* the data section starts 8-byte aligned */
    FILE *fp = fopen(path, "rb");
    uint8_t len8[8];
    assert_int_equal(fread(len8, 1, 8, fp), 8);
    fclose(fp);
    assert_int_equal(len8[0] % 8, 0);
}

static void test_write_refuses(void **state) {
    (void)state;
    float x[2] = {1, 2};
    xattn_error err = {0};
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/no/such/dir/out.safetensors", temp_dir("safetensors"));
    xattn_st_write_tensor t = {.name = "x", .ndim = 1, .shape = {2}, .data = x};
    assert_int_equal(xattn_st_write_f32(missing, &t, 1, NULL, NULL, 0, &err), XATTN_ERR_IO);
    assert_non_null(strstr(err.msg, missing));
    struct stat sb;
    assert_int_not_equal(stat(missing, &sb), 0);

    xattn_st_write_tensor dup[2] = {t, t};
    const char *path = tmp_file("dup-write.safetensors");
    unlink(path);
    assert_int_equal(xattn_st_write_f32(path, dup, 2, NULL, NULL, 0, &err), XATTN_ERR_VALUE);
    assert_non_null(strstr(err.msg, path));
    assert_int_not_equal(stat(path, &sb), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* F16 / BF16 against bit patterns; expectations built from the IEEE definition with ldexp.   */

static double f16_reference(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
    double v;
    if (exp == 31) v = mant ? NAN : INFINITY;
    else if (exp == 0) v = ldexp(mant, -24);
    else v = ldexp(1024 + mant, exp - 25);
    return sign ? -v : v;
}

static void test_f16_bf16(void **state) {
    (void)state;
    /* named patterns first */
    struct {
        uint16_t bits;
        double want;
    } f16[] = {{0x3c00, 1.0},   {0xc000, -2.0},           {0x7bff, 65504.0},
               {0x0001, ldexp(1, -24)}, {0x03ff, ldexp(1023, -24)}, {0x0400, ldexp(1, -14)},
               {0x7c00, INFINITY}, {0xfc00, -INFINITY}, {0x3555, 0.333251953125}};
    for (size_t i = 0; i < sizeof f16 / sizeof f16[0]; i++) {
        float got = xattn_st_f16_to_f32(f16[i].bits);
        if ((double)got != f16[i].want) printf("f16 0x%04x: got %.9g want %.9g\n", f16[i].bits, got, f16[i].want);
        assert_true((double)got == f16[i].want);
    }
    assert_true(isnan(xattn_st_f16_to_f32(0x7e00)) && isnan(xattn_st_f16_to_f32(0xfe01)));
    float z = xattn_st_f16_to_f32(0x8000);
    assert_true(z == 0.0f && signbit(z));

    /* every pattern */
    size_t bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float got = xattn_st_f16_to_f32((uint16_t)h);
        double want = f16_reference((uint16_t)h);
        int ok = isnan(want) ? isnan(got) : ((double)got == want && !signbit(got) == !signbit(want));
        if (!ok && bad++ < 5) printf("f16 0x%04x: got %.9g want %.9g\n", h, got, want);
    }
    assert_int_equal(bad, 0);

    assert_true(xattn_st_bf16_to_f32(0x3f80) == 1.0f);
    assert_true(xattn_st_bf16_to_f32(0xc000) == -2.0f);
    assert_true(xattn_st_bf16_to_f32(0x7f7f) == (float)ldexp(255, 127 - 7)); /* largest finite */
    assert_true(xattn_st_bf16_to_f32(0x0001) == (float)ldexp(1, -133));      /* smallest subnormal */
    assert_true(isinf(xattn_st_bf16_to_f32(0x7f80)) && xattn_st_bf16_to_f32(0xff80) < 0);
    assert_true(isnan(xattn_st_bf16_to_f32(0x7fc0)));

    /* the same through a file: F16 and BF16 tensors */
    uint8_t data[12]; /* F16 [4] then BF16 [2] */
    uint16_t words[6] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x3f80, 0xc0a0};
    for (int i = 0; i < 6; i++) {
        data[2 * i] = (uint8_t)(words[i] & 0xff);
        data[2 * i + 1] = (uint8_t)(words[i] >> 8);
    }
    const char *path = tmp_file("half.safetensors");
    write_raw(path,
              "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]}}",
              UINT64_MAX, data, sizeof data);
    xattn_st_file *f;
    xattn_error err = {0};
    assert_int_equal(xattn_st_open(path, &f, &err), XATTN_OK);
    float got[4];
    const float want_h[4] = {1.0f, -2.0f, 65504.0f, (float)ldexp(1, -24)};
    const float want_b[2] = {1.0f, -5.0f};
    assert_int_equal(xattn_st_read_f32(f, xattn_st_find(f, "h"), got, &err), XATTN_OK);
    assert_int_equal(compare_arrays("F16 file", got, want_h, 4, 0.0), 0);
    assert_int_equal(xattn_st_read_f32(f, xattn_st_find(f, "b"), got, &err), XATTN_OK);
    assert_int_equal(compare_arrays("BF16 file", got, want_b, 2, 0.0), 0);
    xattn_st_close(f);
}

static void test_int_dtypes(void **state) {
    (void)state;
    uint8_t data[8 + 4 + 2] = {0}; /* I64 [1] = -3, I32 [1] = 5, BOOL [2] = {1, 0} */
    int64_t i64 = -3;
    int32_t i32 = 5;
    for (int b = 0; b < 8; b++) data[b] = (uint8_t)((uint64_t)i64 >> (8 * b));
    for (int b = 0; b < 4; b++) data[8 + b] = (uint8_t)((uint32_t)i32 >> (8 * b));
    data[12] = 1;
    const char *path = tmp_file("ints.safetensors");
    write_raw(path,
              "{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[8,12]},"
              "\"c\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[12,14]}}",
              UINT64_MAX, data, sizeof data);
    xattn_st_file *f;
    xattn_error err = {0};
    assert_int_equal(xattn_st_open(path, &f, &err), XATTN_OK);
    assert_true(xattn_st_element_f64(xattn_st_find(f, "a"), 0) == -3.0);
    assert_true(xattn_st_element_f64(xattn_st_find(f, "b"), 0) == 5.0);
    assert_true(xattn_st_element_f64(xattn_st_find(f, "c"), 0) == 1.0);
    assert_true(xattn_st_element_f64(xattn_st_find(f, "c"), 1) == 0.0);
    float out[1];
    assert_int_equal(xattn_st_read_f32(f, xattn_st_find(f, "a"), out, &err), XATTN_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "(tensor 'a')"));
    xattn_st_close(f);
}

/* ------------------------------------------------------------------------------------------ */
/* hostile files                                                                               */

#define T1 "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

static void test_hostile(void **state) {
    (void)state;
    static const uint8_t zeros[64];
    struct {
        const char *file, *header;
        uint64_t declared; /* UINT64_MAX: the real length */
        size_t data_len;
        xattn_status want;
        const char *needle;
    } cases[] = {
        {"not-json", "{\"x\": [", UINT64_MAX, 8, XATTN_ERR_FORMAT, "not valid JSON"},
        {"trailing-garbage", "{" T1 "} x", UINT64_MAX, 8, XATTN_ERR_FORMAT, "not valid JSON"},
        {"not-object", "[1, 2]", UINT64_MAX, 8, XATTN_ERR_FORMAT, "not a JSON object"},
        {"header-too-long", "{" T1 "}", 4096, 8, XATTN_ERR_FORMAT, "header length"},
        {"header-absurd", "{" T1 "}", UINT64_MAX - 1, 8, XATTN_ERR_FORMAT, "header length"},
        {"entry-not-object", "{\"x\": 3}", UINT64_MAX, 8, XATTN_ERR_FORMAT, "(tensor 'x')"},
        {"no-dtype", "{\"x\":{\"shape\":[2],\"data_offsets\":[0,8]}}", UINT64_MAX, 8, XATTN_ERR_FORMAT,
         "lacks 'dtype' (tensor 'x')"},
        {"no-shape", "{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", UINT64_MAX, 8, XATTN_ERR_FORMAT,
         "lacks 'shape' (tensor 'x')"},
        {"no-offsets", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", UINT64_MAX, 8, XATTN_ERR_FORMAT,
         "lacks 'data_offsets' (tensor 'x')"},
        {"dtype-number", "{\"x\":{\"dtype\":1,\"shape\":[2],\"data_offsets\":[0,8]}}", UINT64_MAX, 8,
         XATTN_ERR_FORMAT, "(tensor 'x')"},
        {"shape-object", "{\"x\":{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,8]}}", UINT64_MAX, 8,
         XATTN_ERR_FORMAT, "(tensor 'x')"},
        {"shape-string", "{\"x\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", UINT64_MAX,
         8, XATTN_ERR_FORMAT, "(tensor 'x')"},
        {"dim-negative", "{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", UINT64_MAX, 8,
         XATTN_ERR_FORMAT, "(tensor 'x')"},
        {"dim-fraction", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", UINT64_MAX, 8,
         XATTN_ERR_FORMAT, "(tensor 'x')"},
        {"dim-huge", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,8]}}", UINT64_MAX, 8,
         XATTN_ERR_FORMAT, "(tensor 'x')"},
        {"shape-overflow",
         "{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,8]}}",
         UINT64_MAX, 8, XATTN_ERR_FORMAT, "overflow"},
        {"bytes-overflow",
         "{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,2147483648],\"data_offsets\":[0,8]}}",
         UINT64_MAX, 8, XATTN_ERR_FORMAT, "byte size overflows"},
        {"nine-dims",
         "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", UINT64_MAX,
         8, XATTN_ERR_UNSUPPORTED, "(tensor 'x')"},
        {"unknown-dtype", "{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}",
         UINT64_MAX, 8, XATTN_ERR_UNSUPPORTED, "'F8_E4M3' (tensor 'x')"},
        {"offsets-reversed", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", UINT64_MAX,
         8, XATTN_ERR_FORMAT, "(tensor 'x')"},
        {"offsets-past-end", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         UINT64_MAX, 8, XATTN_ERR_FORMAT, "(tensor 'x')"},
        {"offsets-wrong-span", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",
         UINT64_MAX, 8, XATTN_ERR_FORMAT, "(tensor 'x')"},
        {"offsets-strings", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",\"8\"]}}",
         UINT64_MAX, 8, XATTN_ERR_FORMAT, "(tensor 'x')"},
        {"offsets-three", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", UINT64_MAX,
         8, XATTN_ERR_FORMAT, "(tensor 'x')"},
        {"offsets-negative", "{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[-8,-8]}}",
         UINT64_MAX, 8, XATTN_ERR_FORMAT, "(tensor 'x')"},
        {"overlap",
         "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         UINT64_MAX, 16, XATTN_ERR_FORMAT, "overlap"},
        {"duplicate",
         "{" T1 ",\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", UINT64_MAX, 16,
         XATTN_ERR_FORMAT, "duplicate tensor name (tensor 'x')"},
        {"meta-not-object", "{\"__metadata__\": [\"a\"]," T1 "}", UINT64_MAX, 8, XATTN_ERR_FORMAT,
         "__metadata__"},
        {"meta-number", "{\"__metadata__\": {\"seed\": 3}," T1 "}", UINT64_MAX, 8, XATTN_ERR_FORMAT,
         "'seed'"},
        {"meta-duplicate", "{\"__metadata__\": {\"a\": \"1\", \"a\": \"2\"}," T1 "}", UINT64_MAX, 8,
         XATTN_ERR_FORMAT, "'a'"},
        {"name-with-newline", "{\"x\\ny\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",
         UINT64_MAX, 8, XATTN_ERR_FORMAT, "(tensor 'x?y')"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s.safetensors", cases[i].file);
        const char *path = tmp_file(name);
        write_raw(path, cases[i].header, cases[i].declared, zeros, cases[i].data_len);
        expect_open_failure(path, cases[i].want, cases[i].needle);
    }
}

static void test_hostile_bytes(void **state) {
    (void)state;
    /* shorter than the length prefix, and empty */
    const char *path = tmp_file("short.safetensors");
    FILE *fp = fopen(path, "wb");
    fwrite("\x05\0\0", 1, 3, fp);
    fclose(fp);
    expect_open_failure(path, XATTN_ERR_FORMAT, "too short");
    path = tmp_file("empty.safetensors");
    fclose(fopen(path, "wb"));
    expect_open_failure(path, XATTN_ERR_FORMAT, "too short");

    /* a NUL inside the header */
    path = tmp_file("nul.safetensors");
    static const char hdr[] = "{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}\0   ";
    fp = fopen(path, "wb");
    uint8_t len8[8] = {(uint8_t)(sizeof hdr - 1)};
    fwrite(len8, 1, 8, fp);
    fwrite(hdr, 1, sizeof hdr - 1, fp);
    fclose(fp);
    expect_open_failure(path, XATTN_ERR_FORMAT, "NUL");

    /* a good file cut short */
    float v[64]; /* [64] */
    for (int i = 0; i < 64; i++) v[i] = (float)i;
    xattn_st_write_tensor t = {.name = "v", .ndim = 1, .shape = {64}, .data = v};
    path = tmp_file("truncated.safetensors");
    xattn_error err = {0};
    assert_int_equal(xattn_st_write_f32(path, &t, 1, NULL, NULL, 0, &err), XATTN_OK);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(truncate(path, sb.st_size - 100), 0);
    expect_open_failure(path, XATTN_ERR_FORMAT, "(tensor 'v')");
    assert_int_equal(truncate(path, 20), 0);
    expect_open_failure(path, XATTN_ERR_FORMAT, "header length");

    /* not there, not a file */
    expect_open_failure(tmp_file("missing.safetensors"), XATTN_ERR_IO, "cannot open");
    expect_open_failure(temp_dir("safetensors"), XATTN_ERR_IO, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_write_refuses),
        cmocka_unit_test(test_f16_bf16),   cmocka_unit_test(test_int_dtypes),
        cmocka_unit_test(test_hostile),    cmocka_unit_test(test_hostile_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
