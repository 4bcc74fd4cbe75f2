/* sha256.h — SHA-256 (FIPS 180-4), for the manifest of a folder xattn writes (util/manifest.h). */
#ifndef XATTN_UTIL_SHA256_H
#define XATTN_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t used;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
/* The digest as 64 lower-case hex digits and a NUL. */
void sha256_hex(sha256_ctx *c, char hex[65]);

#endif
