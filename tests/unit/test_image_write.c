/* test_image_write.c — xattn_image_write: the format by extension (case-insensitive), PNG
 * identical to xattn_png_write, BMP and TGA pixels read back exactly by stb_image, JPEG close
 * (and closer at a higher quality), RGB and gray, the JSON sidecar (keys and values in order,
 * valid UTF-8), refused inputs, and failed writes (a missing folder, a full disk for the image
 * or for its sidecar alone) leaving the old files and no temporaries. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above */
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stb/stb_image.h>

#include "xattn_io.h"
#include "test_util.h"

static char path_buf[4096];

static const char *tmp_file(const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", temp_dir("image_write"), name);
    return path_buf;
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The whole file, malloc'd and NUL-terminated, its size in *n; NULL when it cannot be read. */
static char *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *s = malloc((size_t)len + 1);
    if (s && fread(s, 1, (size_t)len, fp) != (size_t)len) {
        free(s);
        s = NULL;
    }
    fclose(fp);
    if (s) s[len] = '\0';
    if (n) *n = (size_t)len;
    return s;
}

/* Temporaries (".<name>.tmp-...") left in the folder. */
static size_t leftover_temps(void) {
    DIR *d = opendir(temp_dir("image_write"));
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp-")) n++;
    closedir(d);
    return n;
}

/* px[y, x, c] of `channels`: a smooth gradient with one sharp edge (what the generated images
 * look like: flat shapes), different in every channel. */
static uint8_t *make_image(size_t w, size_t h, int channels) {
    uint8_t *px = malloc(w * h * (size_t)channels);
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++)
            for (int c = 0; c < channels; c++) {
                int v = (int)(x * 200 / w) + (int)(y * 40 / h) + c * 30;
                if (x > w / 2 && y > h / 3) v = 250 - c * 90;
                px[(y * w + x) * (size_t)channels + (size_t)c] = (uint8_t)(v > 255 ? 255 : v);
            }
    return px;
}

/* Decodes path with stb_image as `channels` channels and returns the largest absolute
 * difference from want [h, w, channels] (the mean in *mean); -1 when it does not decode to
 * w x h. */
static int read_back_max_diff(const char *path, const uint8_t *want, size_t w, size_t h,
                              int channels, double *mean) {
    *mean = -1;
    int rw, rh, rn;
    uint8_t *got = stbi_load(path, &rw, &rh, &rn, channels);
    if (!got) {
        printf("  %s: stb_image: %s\n", path, stbi_failure_reason());
        return -1;
    }
    int worst = -1;
    if ((size_t)rw == w && (size_t)rh == h) {
        worst = 0;
        double sum = 0;
        for (size_t i = 0; i < w * h * (size_t)channels; i++) {
            int d = abs((int)got[i] - (int)want[i]);
            if (d > worst) worst = d;
            sum += d;
        }
        *mean = sum / (double)(w * h * (size_t)channels);
    }
    stbi_image_free(got);
    return worst;
}

static const xattn_text_pair text[] = {
    {"prompt", "a red circle, caf\xc3\xa9 \"quoted\""},
    {"seed", "42"},
    {"model", "weights/x\\y"},
};

static void test_format_names(void **state) {
    (void)state;
    const struct {
        const char *path;
        xattn_image_format want;
    } cases[] = {
        {"out.png", XATTN_IMAGE_FORMAT_PNG},     {"OUT.PNG", XATTN_IMAGE_FORMAT_PNG},
        {"a/b.jpg", XATTN_IMAGE_FORMAT_JPEG},    {"a/b.JpEg", XATTN_IMAGE_FORMAT_JPEG},
        {"x.bmp", XATTN_IMAGE_FORMAT_BMP},       {"x.Tga", XATTN_IMAGE_FORMAT_TGA},
        {"x.tar.png", XATTN_IMAGE_FORMAT_PNG},   {"out", XATTN_IMAGE_FORMAT_UNKNOWN},
        {"out.", XATTN_IMAGE_FORMAT_UNKNOWN},    {"out.gif", XATTN_IMAGE_FORMAT_UNKNOWN},
        {"out.png.x", XATTN_IMAGE_FORMAT_UNKNOWN}, {"dir.png/out", XATTN_IMAGE_FORMAT_UNKNOWN},
        {"out.pngx", XATTN_IMAGE_FORMAT_UNKNOWN}, {"", XATTN_IMAGE_FORMAT_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(xattn_image_format_from_path(cases[i].path) == cases[i].want, "path '%s'", cases[i].path);
    }
    assert_int_equal(xattn_image_format_from_name("JPEG"), XATTN_IMAGE_FORMAT_JPEG);
    assert_int_equal(xattn_image_format_from_name("tga"), XATTN_IMAGE_FORMAT_TGA);
    assert_int_equal(xattn_image_format_from_name("gif"), XATTN_IMAGE_FORMAT_UNKNOWN);
    assert_string_equal(xattn_image_format_extension(XATTN_IMAGE_FORMAT_JPEG), "jpg");
    assert_string_equal(xattn_image_format_extension(XATTN_IMAGE_FORMAT_PNG), "png");
    assert_true(xattn_image_format_has_text(XATTN_IMAGE_FORMAT_PNG));
    assert_false(xattn_image_format_has_text(XATTN_IMAGE_FORMAT_BMP));
    char *side = xattn_image_sidecar_path("a/out.jpg");
    assert_string_equal(side, "a/out.jpg.json");
    free(side);
}

/* The same bytes as xattn_png_write, and no sidecar. */
static void test_png_unchanged(void **state) {
    (void)state;
    const size_t w = 19, h = 7;
    uint8_t *px = make_image(w, h, 3);
    xattn_error err = {0};
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s", tmp_file("direct.png"));
    snprintf(b, sizeof b, "%s", tmp_file("writer.PNG"));
    assert_int_equal(xattn_png_write(a, px, w, h, 3, text, 3, NULL, &err), XATTN_OK);
    assert_int_equal(xattn_image_write(b, px, w, h, 3, text, 3, NULL, &err), XATTN_OK);
    size_t na, nb;
    char *da = slurp(a, &na), *db = slurp(b, &nb);
    assert_non_null(da);
    assert_non_null(db);
    assert_int_equal(na, nb);
    assert_memory_equal(da, db, na);
    char side[4300];
    snprintf(side, sizeof side, "%s.json", b);
    assert_false(file_exists(side));
    free(da), free(db), free(px);
}

/* The sidecar of path holds text[0..n) in order (and is one line of JSON). */
static void check_sidecar(const char *path, const xattn_text_pair *t, size_t n) {
    char side[4300];
    snprintf(side, sizeof side, "%s.json", path);
    size_t len;
    char *s = slurp(side, &len);
    CHECK(s != NULL, "%s: no sidecar", side);
    CHECK(len > 0 && s[len - 1] == '\n' && strchr(s, '\n') == s + len - 1, "%s: not one line", side);
    cJSON *o = cJSON_Parse(s);
    CHECK(cJSON_IsObject(o), "%s: not a JSON object: %s", side, s);
    assert_int_equal(cJSON_GetArraySize(o), (int)n);
    const cJSON *item = o->child;
    for (size_t i = 0; i < n; i++, item = item->next) {
        assert_string_equal(item->string, t[i].key);
        assert_true(cJSON_IsString(item));
        assert_string_equal(item->valuestring, t[i].value);
    }
    cJSON_Delete(o);
    free(s);
}

static void test_round_trips(void **state) {
    (void)state;
    const size_t w = 37, h = 23; /* odd: BMP rows padded to 4 bytes */
    const struct {
        const char *name;
        int quality, max_diff;  /* the largest |decoded - written| allowed */
        double mean_diff;       /* the mean allowed */
    } cases[] = {
        /* JPEG at quality <= 90: stb_image_write halves the chroma resolution, so a sharp colour
         * edge is off by up to about 80 (measured 78) while the mean stays small (3.4) */
        {"exact.bmp", 0, 0, 0},  {"exact.tga", 0, 0, 0},   {"EXACT.TGA", 0, 0, 0},
        {"q90.jpg", 90, 96, 4}, {"q100.jpeg", 100, 6, 1},
    };
    xattn_error err = {0};
    for (int channels = 1; channels <= 3; channels += 2) {
        uint8_t *px = make_image(w, h, channels);
        int jpeg_diff[2] = {0, 0};
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char name[64], path[4200];
            snprintf(name, sizeof name, "c%d-%s", channels, cases[i].name);
            snprintf(path, sizeof path, "%s", tmp_file(name));
            xattn_image_options opt;
            xattn_image_options_init(&opt);
            if (cases[i].quality) opt.quality = cases[i].quality;
            xattn_status st = xattn_image_write(path, px, w, h, channels, text, 3, &opt, &err);
            CHECK(st == XATTN_OK, "%s: %s", path, err.msg);
            double mean;
            int diff = read_back_max_diff(path, px, w, h, channels, &mean);
            printf("  %s: %d channel(s), |decoded - written| max %d, mean %.2f\n", name, channels,
                   diff, mean);
            CHECK(diff >= 0 && diff <= cases[i].max_diff && mean <= cases[i].mean_diff,
                  "%s: max diff %d, mean %.2f; allowed %d, %.2f", path, diff, mean,
                  cases[i].max_diff, cases[i].mean_diff);
            if (cases[i].quality) jpeg_diff[cases[i].quality == 100] = diff;
            check_sidecar(path, text, 3);
        }
        CHECK(jpeg_diff[1] < jpeg_diff[0], "quality 100 (%d) not closer than 90 (%d)", jpeg_diff[1],
              jpeg_diff[0]);
        free(px);
    }
    /* no text: an empty object, so a sidecar is never a stale one */
    uint8_t one[3] = {1, 2, 3};
    const char *path = tmp_file("notext.bmp");
    assert_int_equal(xattn_image_write(path, one, 1, 1, 3, NULL, 0, NULL, &err), XATTN_OK);
    check_sidecar(path, NULL, 0);
    /* bytes that are not UTF-8 become U+FFFD */
    const xattn_text_pair latin1[] = {{"caf\xe9", "na\xefve \xc3"}, {"ok", "\xf0\x9f\x98\x80"}};
    const xattn_text_pair fixed[] = {{"caf\xef\xbf\xbd", "na\xef\xbf\xbdve \xef\xbf\xbd"},
                                   {"ok", "\xf0\x9f\x98\x80"}};
    path = tmp_file("latin1.tga");
    assert_int_equal(xattn_image_write(path, one, 1, 1, 3, latin1, 2, NULL, &err), XATTN_OK);
    check_sidecar(path, fixed, 2);
    assert_int_equal(leftover_temps(), 0);
}

static void test_refused(void **state) {
    (void)state;
    uint8_t px[4 * 4 * 3] = {0};
    xattn_error err = {0};
    const char *gif = tmp_file("out.gif");
    assert_int_equal(xattn_image_write(gif, px, 4, 4, 3, NULL, 0, NULL, &err), XATTN_ERR_VALUE);
    printf("  %s\n", err.msg);
    assert_non_null(strstr(err.msg, ".png, .jpg, .jpeg, .bmp or .tga"));
    assert_false(file_exists(gif));

    xattn_image_options opt;
    xattn_image_options_init(&opt);
    opt.quality = 0;
    const char *jpg = tmp_file("q0.jpg");
    assert_int_equal(xattn_image_write(jpg, px, 4, 4, 3, NULL, 0, &opt, &err), XATTN_ERR_VALUE);
    assert_non_null(strstr(err.msg, "quality"));
    opt.quality = 101;
    assert_int_equal(xattn_image_write(jpg, px, 4, 4, 3, NULL, 0, &opt, &err), XATTN_ERR_VALUE);
    opt.quality = 90;
    opt.format = XATTN_IMAGE_FORMAT_BMP; /* explicit: the name's extension does not matter */
    const char *noext = tmp_file("explicit-format");
    assert_int_equal(xattn_image_write(noext, px, 4, 4, 3, NULL, 0, &opt, &err), XATTN_OK);
    int w, h, n;
    assert_true(stbi_info(noext, &w, &h, &n));

    const char *bmp = tmp_file("bad.bmp");
    assert_int_equal(xattn_image_write(bmp, px, 4, 4, 4, NULL, 0, NULL, &err), XATTN_ERR_VALUE);
    assert_int_equal(xattn_image_write(bmp, px, 0, 4, 3, NULL, 0, NULL, &err), XATTN_ERR_VALUE);
    assert_int_equal(xattn_image_write(bmp, px, 70000, 1, 3, NULL, 0, NULL, &err), XATTN_ERR_VALUE);
    const xattn_text_pair empty_key[] = {{"", "x"}};
    assert_int_equal(xattn_image_write(bmp, px, 4, 4, 3, empty_key, 1, NULL, &err), XATTN_ERR_VALUE);
    assert_false(file_exists(bmp));

    char missing[4200];
    snprintf(missing, sizeof missing, "%s/missing-folder/out.tga", temp_dir("image_write"));
    assert_int_equal(xattn_image_write(missing, px, 4, 4, 3, text, 3, NULL, &err), XATTN_ERR_IO);
    printf("  %s\n", err.msg);
    assert_non_null(strstr(err.msg, missing));
    assert_int_equal(leftover_temps(), 0);
}

/* In a child with a file-size limit of `limit` bytes (writes past it fail with EFBIG): writes
 * path; exits 0 when xattn_image_write failed with XATTN_ERR_IO naming want_in_msg, else 1. */
static int write_past_limit(const char *path, const uint8_t *px, size_t w, size_t h,
                            const xattn_text_pair *t, size_t n, rlim_t limit, const char *want_in_msg) {
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {limit, limit};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(2);
        xattn_error err = {0};
        xattn_status st = xattn_image_write(path, px, w, h, 3, t, n, NULL, &err);
        printf("  full disk (%lu bytes): %s\n", (unsigned long)limit, err.msg);
        fflush(stdout);
        _exit(st == XATTN_ERR_IO && strstr(err.msg, want_in_msg) && strstr(err.msg, "File too large") ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

static void test_full_disk(void **state) {
    (void)state;
    const size_t w = 64, h = 64; /* a 12 KiB BMP */
    uint8_t *px = make_image(w, h, 3);
    char path[4200], side[4300];
    snprintf(path, sizeof path, "%s", tmp_file("full.bmp"));
    snprintf(side, sizeof side, "%s.json", path);
    FILE *fp = fopen(path, "wb");
    fputs("old image", fp);
    fclose(fp);
    fp = fopen(side, "wb");
    fputs("old sidecar", fp);
    fclose(fp);

    /* the image does not fit */
    assert_int_equal(write_past_limit(path, px, w, h, text, 3, 4096, path), 0);
    /* the image fits, its sidecar (a long value) does not: neither is replaced */
    char *long_value = malloc(20000);
    memset(long_value, 'x', 19999);
    long_value[19999] = '\0';
    const xattn_text_pair long_text[] = {{"prompt", long_value}};
    assert_int_equal(write_past_limit(path, px, w, h, long_text, 1, 16384, side), 0);
    free(long_value);

    char *s = slurp(path, NULL);
    assert_string_equal(s, "old image");
    free(s);
    s = slurp(side, NULL);
    assert_string_equal(s, "old sidecar");
    free(s);
    assert_int_equal(leftover_temps(), 0);
    free(px);
}

/* Files in the test folder whose name holds `part`, other than `except` (a name, or NULL). */
static size_t files_named(const char *part, const char *except) {
    DIR *d = opendir(temp_dir("image_write"));
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, part) && (!except || strcmp(e->d_name, except) != 0)) n++;
    closedir(d);
    return n;
}

/* A batch names its temporaries ".<name>.xattn-<pid><ext>": a user's file that happens to have
 * that name is neither written over nor removed, on success or failure. */
static void test_batch_temp_name_taken(void **state) {
    (void)state;
    const size_t w = 16, h = 16;
    uint8_t *px = make_image(w, h, 3), *two = malloc(2 * w * h * 3);
    memcpy(two, px, w * h * 3);
    memcpy(two + w * h * 3, px, w * h * 3);
    char a[4200], b[4200], user_name[256], user[4400], missing[4200];
    snprintf(a, sizeof a, "%s", tmp_file("batch-a.png"));
    snprintf(b, sizeof b, "%s", tmp_file("batch-b.png"));
    snprintf(missing, sizeof missing, "%s", tmp_file("no-such-folder/batch-c.png"));
    snprintf(user_name, sizeof user_name, ".batch-a.png.xattn-%ld.png", (long)getpid());
    snprintf(user, sizeof user, "%s", tmp_file(user_name));
    FILE *fp = fopen(user, "wb");
    assert_non_null(fp);
    fputs("the user's own file", fp);
    fclose(fp);

    const xattn_text_pair *texts[2] = {text, text};
    const size_t n_texts[2] = {3, 3};
    const char *ok_paths[2] = {a, b}, *bad_paths[2] = {a, missing};
    xattn_error err = {0};
    xattn_status st = xattn_images_write(ok_paths, 2, two, w, h, 3, texts, n_texts, NULL, &err);
    printf("  batch beside %s: status %d %s\n", user_name, st, err.msg);
    assert_int_equal(st, XATTN_OK);
    double mean;
    assert_int_equal(read_back_max_diff(a, px, w, h, 3, &mean), 0);
    assert_int_equal(read_back_max_diff(b, px, w, h, 3, &mean), 0);
    /* a failing batch (its second folder is missing) */
    st = xattn_images_write(bad_paths, 2, two, w, h, 3, texts, n_texts, NULL, &err);
    printf("  failing batch: status %d %s\n", st, err.msg);
    assert_int_not_equal(st, XATTN_OK);
    assert_non_null(strstr(err.msg, "batch-c.png: cannot write: "));

    char *s = slurp(user, NULL);
    assert_non_null(s);
    assert_string_equal(s, "the user's own file");
    free(s);
    assert_int_equal(read_back_max_diff(a, px, w, h, 3, &mean), 0);
    assert_int_equal(files_named(".xattn-", user_name), 0); /* no temporary of ours is left */
    assert_int_equal(leftover_temps(), 0);
    remove(user);
    free(px);
    free(two);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_names), cmocka_unit_test(test_png_unchanged),
        cmocka_unit_test(test_round_trips),  cmocka_unit_test(test_refused),
        cmocka_unit_test(test_full_disk),    cmocka_unit_test(test_batch_temp_name_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
