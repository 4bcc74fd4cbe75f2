/* test_html.c — the explorer page's building blocks: base64 against RFC 4648's test vectors
 * (§10) and lengths, and the in-memory PNG encoder read back with stb_image (RGB and gray,
 * pixels equal), plus its bad inputs. The page itself is tested in Chromium by
 * tests/cli/test_html.sh. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above */
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image.h>

#include "xattn_io.h"
#include "test_util.h"
#include "util/base64.h"

static void test_base64_vectors(void **state) {
    (void)state;
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                       "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        size_t n = strlen(in[i]);
        char out[16] = {0};
        assert_int_equal(base64_length(n), strlen(want[i]));
        base64_encode((const uint8_t *)in[i], n, out);
        assert_string_equal(out, want[i]);
    }
    /* every byte value, and the two characters past the letters and digits */
    const uint8_t all[3] = {0xfb, 0xff, 0xbf};
    char out[5] = {0};
    base64_encode(all, 3, out);
    assert_string_equal(out, "+/+/");
    assert_int_equal(base64_length(SIZE_MAX), SIZE_MAX); /* overflow is reported, not wrapped */
}

static void check_round_trip(int channels, size_t w, size_t h) {
    uint8_t *pixels = malloc(w * h * (size_t)channels); /* [h, w, channels] */
    assert_non_null(pixels);
    for (size_t i = 0; i < w * h * (size_t)channels; i++) pixels[i] = (uint8_t)(i * 37 + i / 7);
    uint8_t *png = NULL;
    size_t len = 0;
    xattn_error err = {0};
    assert_int_equal(xattn_png_encode(pixels, w, h, channels, &png, &len, &err), XATTN_OK);
    assert_true(len > 8);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    int gw = 0, gh = 0, gc = 0;
    uint8_t *back = stbi_load_from_memory(png, (int)len, &gw, &gh, &gc, channels);
    assert_non_null(back);
    assert_int_equal(gw, (int)w);
    assert_int_equal(gh, (int)h);
    assert_int_equal(gc, channels);
    size_t bad = 0;
    for (size_t i = 0; i < w * h * (size_t)channels; i++) bad += back[i] != pixels[i];
    if (bad) print_message("%zu of %zu bytes differ\n", bad, w * h * (size_t)channels);
    assert_int_equal(bad, 0);
    stbi_image_free(back);
    free(png);
    free(pixels);
}

static void test_png_encode_round_trip(void **state) {
    (void)state;
    check_round_trip(3, 32, 32);
    check_round_trip(1, 7, 3);
    check_round_trip(3, 300, 200); /* more than the first 4096-byte buffer */
}

static void test_png_encode_bad_input(void **state) {
    (void)state;
    uint8_t px[12] = {0};
    uint8_t *png = (uint8_t *)1;
    size_t len = 1;
    xattn_error err = {0};
    assert_int_equal(xattn_png_encode(px, 2, 2, 2, &png, &len, &err), XATTN_ERR_VALUE);
    assert_null(png);
    assert_int_equal(len, 0);
    assert_non_null(strstr(err.msg, "channels"));
    assert_int_equal(xattn_png_encode(px, 0, 2, 3, &png, &len, &err), XATTN_ERR_VALUE);
    assert_non_null(strstr(err.msg, "out of range"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_png_encode_round_trip),
        cmocka_unit_test(test_png_encode_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
