/* test_text.c — the text helpers every writer shares: utf8_valid_dup / xattn_json_print
 * (util/utf8.h: ill-formed UTF-8 becomes U+FFFD, valid text is unchanged) and
 * xattn_message_fit (util/error.h: a long message keeps its end, its long names cut in the
 * middle with "…"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above */
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/utf8.h"
#include "test_util.h"

#define FFFD "\xef\xbf\xbd"

static void expect_dup(const char *in, const char *want) {
    char *got = utf8_valid_dup(in);
    assert_non_null(got);
    CHECK(strcmp(got, want) == 0, "utf8_valid_dup(\"%s\") = \"%s\", want \"%s\"", in, got, want);
    CHECK(utf8_valid(got), "the result of \"%s\" is not valid", in);
    free(got);
}

static void test_valid_text_unchanged(void **state) {
    (void)state;
    const char *valid[] = {"", "a red circle", "caf\xc3\xa9", "\xe2\x82\xac 5", "\xf0\x9f\x98\x80",
                           "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\x7f\x01"};
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
        CHECK(utf8_valid(valid[i]), "\"%s\" is valid UTF-8", valid[i]);
        expect_dup(valid[i], valid[i]);
    }
}

static void test_ill_formed_become_fffd(void **state) {
    (void)state;
    expect_dup("\x80", FFFD);                                  /* lone continuation */
    expect_dup("a\xff" "b", "a" FFFD "b");                     /* never a lead byte */
    expect_dup("\xc3", FFFD);                                  /* truncated at the end */
    expect_dup("\xe2\x82 x", FFFD " x");                       /* truncated: one U+FFFD */
    expect_dup("\xf0\x9f\x98", FFFD);                          /* truncated 4-byte */
    expect_dup("\xc0\xaf", FFFD FFFD);                         /* overlong '/' */
    expect_dup("\xe0\x80\xaf", FFFD FFFD FFFD);                /* overlong, 3 bytes */
    expect_dup("\xed\xa0\x80", FFFD FFFD FFFD);                /* surrogate U+D800 */
    expect_dup("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);       /* above U+10FFFF */
    expect_dup("\xf5\x80", FFFD FFFD);
    expect_dup("\xc3\xa9\xc3", "\xc3\xa9" FFFD);
    CHECK(!utf8_valid("\xed\xa0\x80"), "a surrogate is not valid");
}

static void test_json_print_utf8(void **state) {
    (void)state;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "k\xff", "a\x80</script>\"\n");
    char *text = xattn_json_print(o, 0);
    assert_non_null(text);
    CHECK(strcmp(text, "{\"k" FFFD "\":\"a" FFFD "</script>\\\"\\n\"}") == 0, "got %s", text);
    cJSON *back = cJSON_Parse(text);
    CHECK(back != NULL, "%s does not parse", text);
    cJSON_Delete(back);
    free(text);
    cJSON_Delete(o);
}

static void test_message_fit(void **state) {
    (void)state;
    char out[512], name[2001], msg[4200];
    memset(name, 'p', 2000);
    name[0] = '/', name[2000] = '\0';
    snprintf(msg, sizeof msg, "%s: cannot write: folder %s: No such file or directory", name, name);
    xattn_message_fit(out, sizeof out, msg);
    size_t n = strlen(out);
    CHECK(n < sizeof out && n + 16 >= sizeof out, "length %zu", n);
    const char *end = ": No such file or directory";
    CHECK(n > strlen(end) && strcmp(out + n - strlen(end), end) == 0, "does not end with the reason: %s", out);
    CHECK(strstr(out, ": cannot write: folder /") != NULL, "the middle of the message is lost: %s", out);
    const char *e1 = strstr(out, "\xe2\x80\xa6"), *e2 = e1 ? strstr(e1 + 3, "\xe2\x80\xa6") : NULL;
    CHECK(e1 && e2, "both names shortened with an ellipsis: %s", out);
    CHECK(utf8_valid(out), "the result is not valid UTF-8");

    xattn_message_fit(out, sizeof out, "short: fine");
    assert_string_equal(out, "short: fine");

    /* a long run of multi-byte characters is never split */
    char wide[3 * 700 + 64] = "";
    for (int i = 0; i < 700; i++) strcat(wide, "\xc3\xa9");
    strcat(wide, ": too long");
    xattn_message_fit(out, sizeof out, wide);
    CHECK(utf8_valid(out) && strlen(out) < sizeof out, "split a character: %zu", strlen(out));
    CHECK(strcmp(out + strlen(out) - 10, ": too long") == 0, "no reason: %s", out);

    /* a run of bare continuation bytes (no characters): the cut stays inside it and keeps the
     * space before it, so the message still starts with "<file>: " (found by fuzz_config) */
    char bytes[1200];
    int len = snprintf(bytes, sizeof bytes, "config.json: ");
    memset(bytes + len, 0x8f, 900);
    snprintf(bytes + len + 900, sizeof bytes - (size_t)len - 900, " is not a known config key");
    xattn_message_fit(out, sizeof out, bytes);
    CHECK(strncmp(out, "config.json: ", 13) == 0, "the file's name and its space are cut: %.40s", out);
    CHECK(strlen(out) < sizeof out && strcmp(out + strlen(out) - 26, " is not a known config key") == 0,
          "no reason: %s", out + strlen(out) - 30);

    /* no space-free run long enough: the middle of the message goes, its end stays */
    char words[2000] = "";
    for (int i = 0; i < 300; i++) strcat(words, "word ");
    strcat(words, "is the reason");
    xattn_message_fit(out, sizeof out, words);
    CHECK(strlen(out) < sizeof out && strcmp(out + strlen(out) - 13, "is the reason") == 0, "%s", out);

    xattn_error err = {0};
    xattn_fail(&err, XATTN_ERR_IO, "%s: cannot open: %s", name, "Permission denied");
    CHECK(strstr(err.msg, ": cannot open: Permission denied") != NULL && err.status == XATTN_ERR_IO,
          "xattn_fail: %s", err.msg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_text_unchanged),
        cmocka_unit_test(test_ill_formed_become_fffd),
        cmocka_unit_test(test_json_print_utf8),
        cmocka_unit_test(test_message_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
