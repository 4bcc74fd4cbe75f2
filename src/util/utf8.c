/* utf8.c — see utf8.h. */
#define _POSIX_C_SOURCE 200809L
#include "util/utf8.h"

#include <stdlib.h>
#include <string.h>

size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad) {
    *bad = 1;
    if (n == 0) return 0;
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range (Unicode table 3-7) */
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c == 0xe0) len = 3, lo = 0xa0;
    else if (c >= 0xe1 && c <= 0xec) len = 3;
    else if (c == 0xed) len = 3, hi = 0x9f; /* no surrogates */
    else if (c >= 0xee && c <= 0xef) len = 3;
    else if (c == 0xf0) len = 4, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3) len = 4;
    else if (c == 0xf4) len = 4, hi = 0x8f; /* nothing above U+10FFFF */
    else return 0;                          /* 80..c1, f5..ff */
    for (size_t i = 1; i < len; i++) {
        unsigned char b = i < n ? s[i] : 0;
        int ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xbf);
        if (!ok) {
            *bad = i; /* the lead and the continuation bytes that fitted */
            return 0;
        }
    }
    return len;
}

int utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), bad;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_sequence(p + i, n - i, &bad);
        if (!len) return 0;
        i += len;
    }
    return 1;
}

char *utf8_valid_dup(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), bad;
    char *out = malloc(3 * n + 1); /* U+FFFD is 3 bytes for at least 1 byte */
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_sequence(p + i, n - i, &bad);
        if (len) {
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i += bad;
        }
    }
    out[o] = '\0';
    char *fit = realloc(out, o + 1);
    return fit ? fit : out;
}

char *xattn_json_print(const cJSON *j, int formatted) {
    char *text = formatted ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
    if (!text || utf8_valid(text)) return text;
    char *valid = utf8_valid_dup(text);
    cJSON_free(text);
    return valid;
}
