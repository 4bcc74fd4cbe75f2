/* test_manifest.c — the ownership of a folder xattn replaces as a whole: SHA-256 against the
 * FIPS 180-4 examples, xattn_manifest_write / xattn_manifest_first_foreign (util/manifest.h) on folders
 * with a foreign, added, changed or linked entry, and atomic_dir_commit's check_old hook, which
 * must put the old folder back instead of deleting it when the check refuses it. */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above */
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/atomic_dir.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "xattn_io.h"
#include "util/sha256.h"
#include "test_util.h"

static void put(const char *dir, const char *name, const char *text) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) fail_msg("path too long");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void sub(char *out, size_t cap, const char *dir, const char *name) {
    if (snprintf(out, cap, "%s/%s", dir, name) >= (int)cap) fail_msg("path too long");
}

/* The first atomic_file_open of this process would use ".out.bin.tmp-<pid>-0": a file that is
 * there already under that name is neither truncated nor renamed away (it was, with "wb"). */
static void test_atomic_file_never_clobbers(void **state) {
    (void)state;
    const char *dir = temp_dir("atomic_file");
    char temp[4096], final[4096], name[64];
    snprintf(name, sizeof name, ".out.bin.tmp-%ld-0", (long)getpid());
    sub(temp, sizeof temp, dir, name);
    sub(final, sizeof final, dir, "out.bin");
    put(dir, name, "not xattn's");
    atomic_file f;
    xattn_error err = {0};
    assert_int_equal(atomic_file_open(&f, final, &err), XATTN_OK);
    fputs("new", f.fp);
    assert_int_equal(atomic_file_commit(&f, &err), XATTN_OK);
    FILE *fp = fopen(temp, "rb");
    char got[32] = "";
    CHECK(fp && fgets(got, sizeof got, fp) && strcmp(got, "not xattn's") == 0,
          "%s was truncated or moved: '%s'", temp, got);
    if (fp) fclose(fp);
    fp = fopen(final, "rb");
    CHECK(fp && fgets(got, sizeof got, fp) && strcmp(got, "new") == 0, "out.bin: '%s'", got);
    if (fp) fclose(fp);
    unlink(temp);
}

static void test_sha256(void **state) {
    (void)state;
    struct { const char *in; const char *hex; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < 3; i++) {
        sha256_ctx c;
        char hex[65];
        sha256_init(&c);
        for (const char *p = v[i].in; *p; p++) sha256_update(&c, p, 1); /* byte by byte */
        sha256_hex(&c, hex);
        CHECK(strcmp(hex, v[i].hex) == 0, "sha256(\"%s\") = %s", v[i].in, hex);
    }
    sha256_ctx c; /* one million 'a' in uneven pieces */
    char hex[65], block[1000];
    memset(block, 'a', sizeof block);
    sha256_init(&c);
    for (size_t done = 0, k = 1; done < 1000000; k = k % 999 + 1) {
        size_t n = 1000000 - done < k ? 1000000 - done : k;
        sha256_update(&c, block, n);
        done += n;
    }
    sha256_hex(&c, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_manifest_ownership(void **state) {
    (void)state;
    const char *dir = temp_dir("manifest");
    remove_tree(dir); /* a fresh folder: temp_dir leaves what an earlier run wrote */
    mkdir(dir, 0777);
    char name[8192], path[4096];
    const char *why;
    assert_int_equal(xattn_manifest_first_foreign(dir, name, sizeof name, &why), 0); /* empty: fine */
    put(dir, "2024-06-holiday.png", "a photo");
    assert_int_equal(xattn_manifest_first_foreign(dir, name, sizeof name, &why), 1);
    sub(path, sizeof path, dir, "2024-06-holiday.png");
    assert_string_equal(name, path);

    unlink(path);
    put(dir, "0-a.png", "overlay");
    sub(path, sizeof path, dir, "1");
    mkdir(path, 0777);
    put(path, "grid.png", "grid");
    xattn_error err = {0};
    assert_int_equal(xattn_manifest_write(dir, &err), XATTN_OK);
    CHECK(xattn_manifest_first_foreign(dir, name, sizeof name, &why) == 0, "own folder refused: %s (%s)", name, why);

    put(dir, "9-b.png", "added"); /* a name like an overlay's, not listed */
    assert_int_equal(xattn_manifest_first_foreign(dir, name, sizeof name, &why), 1);
    CHECK(strstr(name, "/9-b.png") && strstr(why, "manifest"), "%s: %s", name, why);
    sub(path, sizeof path, dir, "9-b.png");
    unlink(path);

    sub(path, sizeof path, dir, "1");
    put(path, "grid.png", "GRID"); /* same size, other bytes */
    assert_int_equal(xattn_manifest_first_foreign(dir, name, sizeof name, &why), 1);
    CHECK(strstr(name, "/1/grid.png") && strstr(why, "changed"), "%s: %s", name, why);
    put(path, "grid.png", "grid");
    assert_int_equal(xattn_manifest_first_foreign(dir, name, sizeof name, &why), 0);

    sub(path, sizeof path, dir, "2");
    mkdir(path, 0777); /* an empty folder xattn did not write */
    assert_int_equal(xattn_manifest_first_foreign(dir, name, sizeof name, &why), 1);
    CHECK(strstr(name, "/2") != NULL, "%s", name);
    rmdir(path);

    sub(path, sizeof path, dir, "link.png");
    assert_int_equal(symlink("0-a.png", path), 0);
    assert_int_equal(xattn_manifest_first_foreign(dir, name, sizeof name, &why), 1);
    CHECK(strstr(name, "/link.png") != NULL, "%s", name);
    unlink(path);

    sub(path, sizeof path, dir, XATTN_MANIFEST_NAME);
    put(dir, XATTN_MANIFEST_NAME, "{\"files\": []}"); /* not one xattn wrote */
    assert_int_equal(xattn_manifest_first_foreign(dir, name, sizeof name, &why), 1);
}

static xattn_status refuse(const char *old_dir, const char *final_dir, xattn_error *err) {
    return xattn_fail(err, XATTN_ERR_IO, "%s: refused (old folder at %s)", final_dir, old_dir);
}

static void test_commit_check_old(void **state) {
    (void)state;
    const char *base = temp_dir("manifest_commit");
    remove_tree(base);
    mkdir(base, 0777);
    char final[4096], path[4096];
    sub(final, sizeof final, base, "heat");
    mkdir(final, 0777);
    put(final, "user.txt", "keep me");
    atomic_dir d;
    xattn_error err = {0};
    assert_int_equal(atomic_dir_open(&d, final, &err), XATTN_OK);
    put(d.temp_path, "grid.png", "new");
    d.check_old = refuse;
    assert_int_not_equal(atomic_dir_commit(&d, &err), XATTN_OK);
    sub(path, sizeof path, final, "user.txt");
    struct stat st;
    CHECK(stat(path, &st) == 0, "the old folder's file is gone: %s", err.msg);
    sub(path, sizeof path, final, "grid.png");
    CHECK(stat(path, &st) != 0, "the new folder stayed in place");
    CHECK(strstr(err.msg, "refused") != NULL, "%s", err.msg);
    atomic_dir_abort(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atomic_file_never_clobbers), /* first: no atomic_file_open before */
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_manifest_ownership),
        cmocka_unit_test(test_commit_check_old),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
