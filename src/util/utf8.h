/* utf8.h — valid UTF-8 for every writer of JSON, HTML and PNG text.
 *
 * Text xattn writes comes from files it reads (a prompt's metadata, a PNG's iTXt chunk, a
 * prompts file, a file name), which may hold any bytes. Each writer passes its text, or the
 * JSON it printed, through utf8_valid_dup: every ill-formed sequence becomes U+FFFD (one per
 * maximal ill-formed subpart, as Unicode recommends), and valid text comes back unchanged. */
#ifndef XATTN_UTIL_UTF8_H
#define XATTN_UTIL_UTF8_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "xattn_io.h" /* xattn_json_print */

/* Length of the valid UTF-8 sequence at s[0..n) (1..4), or 0 when s starts an ill-formed one
 * (then *bad is the length of its maximal ill-formed subpart, >= 1). */
size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad);
/* 1 when s is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). */
int utf8_valid(const char *s);
/* A malloc'd copy of s with each ill-formed sequence as U+FFFD; NULL if out of memory. */
char *utf8_valid_dup(const char *s);

#endif
