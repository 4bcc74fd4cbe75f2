/* answer.h — pieces of the server's answers that need no HTTP: PNG text chunks added to an
 * encoded PNG, and a safetensors file built in memory. */
#ifndef XATTN_SERVE_ANSWER_H
#define XATTN_SERVE_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "xattn_io.h"

/* Inserts the pairs as uncompressed iTXt chunks right after the IHDR chunk of png[len] (as
 * xattn_png_write writes them). *out is malloc'd [*out_len]. 0, or -1 (not a PNG, no memory). */
int serve_png_add_text(const uint8_t *png, size_t len, const xattn_text_pair *text, size_t n_text,
                       uint8_t **out, size_t *out_len);

/* A safetensors file with one F32 tensor `name` of the given shape (rank <= 4) and string
 * metadata; *out is malloc'd [*out_len]. 0, or -1 (no memory). */
int serve_safetensors_f32(const char *name, const size_t *shape, size_t rank, const float *data,
                          const char *const *meta_keys, const char *const *meta_values,
                          size_t n_meta, uint8_t **out, size_t *out_len);

/* Base64 of data[n] as a malloc'd NUL-terminated string, or NULL. */
char *serve_base64(const uint8_t *data, size_t n);

#endif
