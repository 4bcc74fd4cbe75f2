/* base64.c — standard base64 encoding (RFC 4648 §4). */
#include "util/base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_length(size_t n) {
    size_t groups = n / 3 + (n % 3 != 0);
    return groups > SIZE_MAX / 4 ? SIZE_MAX : groups * 4;
}

void base64_encode(const uint8_t *data, size_t n, char *out) {
    size_t i = 0;
    for (; i + 3 <= n; i += 3, out += 4) { /* 3 bytes -> 4 six-bit digits */
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        out[0] = alphabet[v >> 18 & 63];
        out[1] = alphabet[v >> 12 & 63];
        out[2] = alphabet[v >> 6 & 63];
        out[3] = alphabet[v & 63];
    }
    if (i < n) { /* 1 or 2 bytes left: 2 or 3 digits, then '=' padding */
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < n ? (uint32_t)data[i + 1] << 8 : 0);
        out[0] = alphabet[v >> 18 & 63];
        out[1] = alphabet[v >> 12 & 63];
        out[2] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        out[3] = '=';
    }
}
