/* test_image_io.c — PNG round trips (RGB with UTF-8 text chunks; gray, fast and not durable),
 * reading tEXt/zTXt written by libpng directly (Latin-1, one after IDAT), pixels checked with
 * stb_image, failed writes leaving no file, bad inputs, and the [3, H, W] float -> RGB8
 * conversion. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above */
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <png.h> /* before image_io.h: the tests write PNGs with libpng directly too */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb/stb_image.h>

#include "xattn_io.h"
#include "test_util.h"

static char path_buf[4096];

static const char *tmp_file(const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", temp_dir("image_io"), name);
    return path_buf;
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* No temporary ".<name>.tmp-..." left in the folder. */
static size_t leftover_temps(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp-")) n++;
    closedir(d);
    return n;
}

/* rgb[y, x, c]: a pattern that differs in every channel. */
static uint8_t *make_pattern(size_t w, size_t h) {
    uint8_t *rgb = malloc(w * h * 3);
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            rgb[(y * w + x) * 3 + 0] = (uint8_t)(x * 37 + y * 11);
            rgb[(y * w + x) * 3 + 1] = (uint8_t)(255 - x * 5 - y * 50);
            rgb[(y * w + x) * 3 + 2] = (uint8_t)((x ^ y) * 29);
        }
    return rgb;
}

static const char *utf8_prompt = "a red círculo — 猫 \xf0\x9f\x90\x88"; /* 2-, 3- and 4-byte UTF-8 */

static void test_png_round_trip(void **state) {
    (void)state;
    const size_t w = 7, h = 5;
    uint8_t *rgb = make_pattern(w, h);
    xattn_text_pair text[] = {{"prompt", utf8_prompt}, {"seed", "42"}, {"sampler", ""}};
    const char *path = tmp_file("round.png");
    xattn_error err = {0};
    xattn_status s = xattn_png_write_rgb(path, rgb, w, h, text, 3, &err);
    if (s != XATTN_OK) printf("%s\n", err.msg);
    assert_int_equal(s, XATTN_OK);
    assert_int_equal(leftover_temps(temp_dir("image_io")), 0);

    xattn_png_info info;
    s = xattn_png_read_info(path, &info, &err);
    if (s != XATTN_OK) printf("%s\n", err.msg);
    assert_int_equal(s, XATTN_OK);
    assert_int_equal(info.width, w);
    assert_int_equal(info.height, h);
    assert_int_equal(info.bit_depth, 8);
    assert_int_equal(info.color_type, PNG_COLOR_TYPE_RGB);
    assert_int_equal(info.n_text, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(info.keys[i], text[i].key);
        assert_string_equal(info.values[i], text[i].value);
    }
    xattn_png_info_free(&info);
    xattn_png_info_free(&info); /* safe twice */

    int gw, gh, gn;
    uint8_t *got = stbi_load(path, &gw, &gh, &gn, 3);
    assert_non_null(got);
    assert_int_equal(gw, (int)w);
    assert_int_equal(gh, (int)h);
    size_t bad = 0;
    for (size_t i = 0; i < w * h * 3; i++)
        if (got[i] != rgb[i] && bad++ < 3) printf("pixel byte %zu: got %d want %d\n", i, got[i], rgb[i]);
    assert_int_equal(bad, 0);
    stbi_image_free(got);

    /* xattn_image_read_rgb gives the same pixels */
    uint8_t *again;
    size_t aw, ah;
    assert_int_equal(xattn_image_read_rgb(path, &again, &aw, &ah, &err), XATTN_OK);
    assert_true(aw == w && ah == h);
    assert_memory_equal(again, rgb, w * h * 3);
    free(again);
    free(rgb);
}

/* A gray PNG through xattn_png_write, with both option sets, read back as 1 channel. */
static void test_png_gray_round_trip(void **state) {
    (void)state;
    const size_t w = 9, h = 6;
    uint8_t gray[9 * 6]; /* [h, w] */
    for (size_t i = 0; i < w * h; i++) gray[i] = (uint8_t)(i * 53 + 7);
    const xattn_png_options fast = {.durable = 0, .fast = 1};
    const xattn_png_options *opts[] = {NULL, &fast};
    xattn_text_pair text[] = {{"prompt", utf8_prompt}};
    xattn_error err = {0};
    for (size_t k = 0; k < 2; k++) {
        const char *path = tmp_file(k ? "gray_fast.png" : "gray.png");
        xattn_status s = xattn_png_write(path, gray, w, h, 1, text, k ? 0 : 1, opts[k], &err);
        if (s != XATTN_OK) printf("%s\n", err.msg);
        assert_int_equal(s, XATTN_OK);
        assert_int_equal(leftover_temps(temp_dir("image_io")), 0);

        xattn_png_info info;
        assert_int_equal(xattn_png_read_info(path, &info, &err), XATTN_OK);
        assert_int_equal(info.color_type, PNG_COLOR_TYPE_GRAY);
        assert_int_equal(info.bit_depth, 8);
        assert_int_equal(info.n_text, k ? 0 : 1);
        if (!k) assert_string_equal(info.values[0], utf8_prompt);
        xattn_png_info_free(&info);

        int gw, gh, gn;
        uint8_t *got = stbi_load(path, &gw, &gh, &gn, 1);
        assert_non_null(got);
        assert_int_equal(gn, 1); /* channels in the file */
        assert_int_equal(gw, (int)w);
        assert_int_equal(gh, (int)h);
        size_t bad = 0;
        for (size_t i = 0; i < w * h; i++)
            if (got[i] != gray[i] && bad++ < 3) printf("pixel %zu: got %d want %d\n", i, got[i], gray[i]);
        assert_int_equal(bad, 0);
        stbi_image_free(got);
    }

    const char *path = tmp_file("two_channels.png");
    assert_int_equal(xattn_png_write(path, gray, w, h, 2, NULL, 0, NULL, &err), XATTN_ERR_VALUE);
    assert_non_null(strstr(err.msg, path));
    assert_false(file_exists(path));
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/missing-folder/gray.png", temp_dir("image_io"));
    assert_int_equal(xattn_png_write(missing, gray, w, h, 1, NULL, 0, &fast, &err), XATTN_ERR_IO);
    assert_non_null(strstr(err.msg, "cannot write: "));
    assert_false(file_exists(missing));
}

/* A PNG written by libpng itself: tEXt "Title" (Latin-1 é) and zTXt before IDAT, a tEXt after. */
static void write_latin1_png(const char *path) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_infop end = png_create_info_struct(png);
    assert_non_null(end);
    if (setjmp(png_jmpbuf(png))) fail_msg("libpng failed writing the fixture");
    png_init_io(png, fp);
    png_set_IHDR(png, info, 3, 2, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_ADAM7, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_text before[2] = {
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "Title", .text = "caf\xe9"},
        {.compression = PNG_TEXT_COMPRESSION_zTXt, .key = "Comment", .text = "compressed comment, compressed"},
    };
    png_set_text(png, info, before, 2);
    png_write_info(png, info);
    png_byte rows[2][3] = {{0, 128, 255}, {1, 2, 3}};
    png_bytep rp[2] = {rows[0], rows[1]};
    png_write_image(png, rp);
    png_text after = {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "Author", .text = "late chunk"};
    png_set_text(png, end, &after, 1);
    png_write_end(png, end);
    png_destroy_info_struct(png, &end);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
}

static void test_png_read_latin1(void **state) {
    (void)state;
    const char *path = tmp_file("latin1.png");
    write_latin1_png(path);
    xattn_png_info info;
    xattn_error err = {0};
    assert_int_equal(xattn_png_read_info(path, &info, &err), XATTN_OK);
    assert_int_equal(info.width, 3);
    assert_int_equal(info.height, 2);
    assert_int_equal(info.color_type, PNG_COLOR_TYPE_GRAY);
    assert_int_equal(info.n_text, 3);
    const char *want_keys[] = {"Title", "Comment", "Author"};
    const char *want_values[] = {"caf\xc3\xa9", "compressed comment, compressed", "late chunk"};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(info.keys[i], want_keys[i]);
        assert_string_equal(info.values[i], want_values[i]);
    }
    xattn_png_info_free(&info);
}

static void test_png_write_failures(void **state) {
    (void)state;
    uint8_t rgb[4 * 4 * 3] = {0}; /* [4, 4, 3] */
    xattn_error err = {0};
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/missing-folder/out.png", temp_dir("image_io"));
    xattn_status s = xattn_png_write_rgb(missing, rgb, 4, 4, NULL, 0, &err);
    printf("  %s\n", err.msg);
    assert_int_equal(s, XATTN_ERR_IO);
    assert_int_equal(err.status, XATTN_ERR_IO);
    assert_non_null(strstr(err.msg, missing));
    assert_non_null(strstr(err.msg, "cannot write: "));
    assert_false(file_exists(missing));

    const char *path = tmp_file("badkey.png");
    unlink(path);
    xattn_text_pair bad_keys[][1] = {{{"", "x"}}, {{" lead", "x"}}, {{"two  spaces", "x"}},
                                   {{"0123456789012345678901234567890123456789012345678901234567890123456789"
                                     "0123456789",
                                     "x"}},
                                   {{"new\nline", "x"}}};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        s = xattn_png_write_rgb(path, rgb, 4, 4, bad_keys[i], 1, &err);
        assert_int_equal(s, XATTN_ERR_VALUE);
        assert_non_null(strstr(err.msg, path));
        assert_false(file_exists(path));
    }
    assert_int_equal(xattn_png_write_rgb(path, rgb, 0, 4, NULL, 0, &err), XATTN_ERR_VALUE);
    assert_false(file_exists(path));
    assert_int_equal(leftover_temps(temp_dir("image_io")), 0);

    /* writing over an existing file replaces it whole */
    path = tmp_file("replace.png");
    FILE *fp = fopen(path, "wb");
    fputs("old contents", fp);
    fclose(fp);
    assert_int_equal(xattn_png_write_rgb(path, rgb, 4, 4, NULL, 0, &err), XATTN_OK);
    xattn_png_info info;
    assert_int_equal(xattn_png_read_info(path, &info, &err), XATTN_OK);
    assert_int_equal(info.width, 4);
    assert_int_equal(info.n_text, 0);
    xattn_png_info_free(&info);
}

static void test_bad_inputs(void **state) {
    (void)state;
    xattn_error err = {0};
    xattn_png_info info;
    uint8_t *rgb;
    size_t w, h;

    const char *missing = tmp_file("nope.png");
    assert_int_equal(xattn_png_read_info(missing, &info, &err), XATTN_ERR_IO);
    assert_non_null(strstr(err.msg, missing));
    assert_int_equal(xattn_image_read_rgb(missing, &rgb, &w, &h, &err), XATTN_ERR_IO);
    assert_non_null(strstr(err.msg, missing));
    assert_null(rgb);

    const char *garbage = tmp_file("garbage.png");
    FILE *fp = fopen(garbage, "wb");
    fputs("this is not an image at all", fp);
    fclose(fp);
    assert_int_equal(xattn_png_read_info(garbage, &info, &err), XATTN_ERR_FORMAT);
    assert_non_null(strstr(err.msg, garbage));
    assert_int_equal(xattn_image_read_rgb(garbage, &rgb, &w, &h, &err), XATTN_ERR_FORMAT);
    printf("  %s\n", err.msg);
    assert_non_null(strstr(err.msg, garbage));

    /* a good PNG cut inside IDAT */
    const size_t gw = 64, gh = 64;
    uint8_t *pattern = make_pattern(gw, gh);
    const char *cut = tmp_file("cut.png");
    assert_int_equal(xattn_png_write_rgb(cut, pattern, gw, gh, NULL, 0, &err), XATTN_OK);
    free(pattern);
    struct stat sb;
    assert_int_equal(stat(cut, &sb), 0);
    assert_int_equal(truncate(cut, sb.st_size / 2), 0);
    assert_int_equal(xattn_png_read_info(cut, &info, &err), XATTN_ERR_FORMAT);
    printf("  %s\n", err.msg);
    assert_non_null(strstr(err.msg, cut));
    assert_int_not_equal(xattn_image_read_rgb(cut, &rgb, &w, &h, &err), XATTN_OK);
    printf("  %s\n", err.msg);
    assert_non_null(strstr(err.msg, cut));
    assert_int_equal(truncate(cut, 20), 0); /* inside IHDR */
    assert_int_equal(xattn_png_read_info(cut, &info, &err), XATTN_ERR_FORMAT);
    assert_non_null(strstr(err.msg, cut));

    /* too wide for an input image */
    const size_t ww = 16385;
    uint8_t *wide = calloc(ww * 3, 1); /* [1, ww, 3] */
    const char *wide_path = tmp_file("wide.png");
    assert_int_equal(xattn_png_write_rgb(wide_path, wide, ww, 1, NULL, 0, &err), XATTN_OK);
    free(wide);
    assert_int_equal(xattn_image_read_rgb(wide_path, &rgb, &w, &h, &err), XATTN_ERR_VALUE);
    printf("  %s\n", err.msg);
    assert_non_null(strstr(err.msg, wide_path));
    assert_non_null(strstr(err.msg, "16385"));
}

static void test_to_rgb8(void **state) {
    (void)state;
    /* [3, 2, 3]: plane c holds values chosen to hit the clamp, the ends and a rounding tie */
    const float chw[3 * 2 * 3] = {
        -1.0f, 0.0f, 1.0f, -3.0f, 3.0f, NAN,       /* R */
        0.5f, -0.5f, 0.999f, -0.999f, INFINITY, -INFINITY, /* G */
        0.1f, 0.2f, 0.3f, -0.1f, -0.2f, -0.3f,     /* B */
    };
    uint8_t rgb[2 * 3 * 3];
    xattn_image_to_rgb8(chw, 3, 2, 3, rgb);
    for (size_t c = 0; c < 3; c++)
        for (size_t i = 0; i < 6; i++) {
            double x = chw[c * 6 + i];
            /* reference in double: clamp(x / 2 + 0.5) * 255, round half to even; NaN -> 0 */
            double v = isnan(x) ? 0.0 : fmin(1.0, fmax(0.0, x / 2 + 0.5)) * 255.0;
            int want = (int)nearbyint(v);
            if (rgb[i * 3 + c] != want) printf("c=%zu i=%zu x=%g: got %d want %d\n", c, i, x, rgb[i * 3 + c], want);
            assert_int_equal(rgb[i * 3 + c], want);
        }
    assert_int_equal(rgb[1 * 3 + 0], 128); /* 0 -> 127.5 -> 128 (ties to even) */

    /* one channel: its plane (the R plane above) in R, G and B alike */
    uint8_t grey[2 * 3 * 3];
    xattn_image_to_rgb8(chw, 1, 2, 3, grey);
    for (size_t i = 0; i < 6; i++)
        for (size_t c = 0; c < 3; c++) {
            if (grey[i * 3 + c] != rgb[i * 3]) printf("grey i=%zu c=%zu: got %d want %d\n", i, c, grey[i * 3 + c], rgb[i * 3]);
            assert_int_equal(grey[i * 3 + c], rgb[i * 3]);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_round_trip),    cmocka_unit_test(test_png_gray_round_trip),
        cmocka_unit_test(test_png_read_latin1),
        cmocka_unit_test(test_png_write_failures), cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_to_rgb8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
