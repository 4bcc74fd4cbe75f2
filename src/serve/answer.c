/* answer.c — PNG text chunks, an in-memory safetensors file, base64 (see answer.h). */
#include "serve/answer.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"

static uint32_t crc32_png(const uint8_t *p, size_t n, uint32_t crc) {
    static uint32_t table[256];
    static int ready;
    if (!ready) { /* computed identically by any thread that races here */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

int serve_png_add_text(const uint8_t *png, size_t len, const xattn_text_pair *text, size_t n_text,
                       uint8_t **out, size_t *out_len) {
    *out = NULL, *out_len = 0;
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const size_t ihdr_end = 8 + 4 + 4 + 13 + 4;
    if (len < ihdr_end || memcmp(png, sig, 8) != 0 || memcmp(png + 12, "IHDR", 4) != 0) return -1;
    size_t extra = 0;
    for (size_t i = 0; i < n_text; i++) {
        size_t k = strlen(text[i].key), v = strlen(text[i].value);
        if (k < 1 || k > 79 || v > 0x7fffff00u) return -1;
        extra += 12 + k + 5 + v; /* length, type, crc; key\0 flag method lang\0 trans\0 text */
    }
    uint8_t *o = malloc(len + extra);
    if (!o) return -1;
    memcpy(o, png, ihdr_end);
    size_t at = ihdr_end;
    for (size_t i = 0; i < n_text; i++) {
        size_t k = strlen(text[i].key), v = strlen(text[i].value);
        size_t data_len = k + 5 + v;
        put32(o + at, (uint32_t)data_len);
        memcpy(o + at + 4, "iTXt", 4);
        uint8_t *d = o + at + 8;
        memcpy(d, text[i].key, k);
        d[k] = 0, d[k + 1] = 0, d[k + 2] = 0, d[k + 3] = 0, d[k + 4] = 0;
        memcpy(d + k + 5, text[i].value, v);
        put32(o + at + 8 + data_len, crc32_png(o + at + 4, 4 + data_len, 0));
        at += 12 + data_len;
    }
    memcpy(o + at, png + ihdr_end, len - ihdr_end);
    *out = o;
    *out_len = len + extra;
    return 0;
}

int serve_safetensors_f32(const char *name, const size_t *shape, size_t rank, const float *data,
                          const char *const *meta_keys, const char *const *meta_values,
                          size_t n_meta, uint8_t **out, size_t *out_len) {
    *out = NULL, *out_len = 0;
    size_t count = 1;
    for (size_t i = 0; i < rank; i++) count *= shape[i];
    cJSON *head = cJSON_CreateObject(), *t = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    cJSON *dims = cJSON_CreateArray(), *offsets = cJSON_CreateArray();
    if (!head || !t || !meta || !dims || !offsets) goto fail_json;
    for (size_t i = 0; i < n_meta; i++) cJSON_AddStringToObject(meta, meta_keys[i], meta_values[i]);
    cJSON_AddItemToObject(head, "__metadata__", meta), meta = NULL;
    cJSON_AddStringToObject(t, "dtype", "F32");
    for (size_t i = 0; i < rank; i++) cJSON_AddItemToArray(dims, cJSON_CreateNumber((double)shape[i]));
    cJSON_AddItemToObject(t, "shape", dims), dims = NULL;
    cJSON_AddItemToArray(offsets, cJSON_CreateNumber(0));
    cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)(count * 4)));
    cJSON_AddItemToObject(t, "data_offsets", offsets), offsets = NULL;
    cJSON_AddItemToObject(head, name, t), t = NULL;
    char *json = cJSON_PrintUnformatted(head);
    cJSON_Delete(head);
    if (!json) return -1;
    size_t hlen = strlen(json), padded = (hlen + 7) / 8 * 8;
    uint8_t *o = malloc(8 + padded + count * 4);
    if (!o) {
        free(json);
        return -1;
    }
    for (int i = 0; i < 8; i++) o[i] = (uint8_t)((uint64_t)padded >> (8 * i)); /* little-endian */
    memcpy(o + 8, json, hlen);
    memset(o + 8 + hlen, ' ', padded - hlen);
    memcpy(o + 8 + padded, data, count * 4); /* x86/ARM little-endian floats */
    free(json);
    *out = o;
    *out_len = 8 + padded + count * 4;
    return 0;
fail_json:
    cJSON_Delete(head), cJSON_Delete(t), cJSON_Delete(meta), cJSON_Delete(dims), cJSON_Delete(offsets);
    return -1;
}

char *serve_base64(const uint8_t *data, size_t n) {
    size_t m = base64_length(n);
    if (m == SIZE_MAX) return NULL;
    char *s = malloc(m + 1);
    if (!s) return NULL;
    base64_encode(data, n, s);
    s[m] = '\0';
    return s;
}
