/* base64.h — standard base64 (RFC 4648 §4: A-Z a-z 0-9 + /, '=' padding), for data: URLs. */
#ifndef XATTN_UTIL_BASE64_H
#define XATTN_UTIL_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed for n bytes: 4 * ceil(n / 3); SIZE_MAX when that overflows. */
size_t base64_length(size_t n);

/* Writes base64_length(n) characters (no terminating NUL) of data[n] into out. */
void base64_encode(const uint8_t *data, size_t n, char *out);

#endif
