/* prompts.h — a request's prompt text -> prompt embeddings.
 *
 * Two sources, in this order:
 *   1. the prompts of the embedding files in the folder `xattn serve --prompts DIR` names (every
 *      *.safetensors whose metadata "prompt" is set and whose width is the model's), looked up by
 *      their text (case, surrounding spaces, repeated spaces and a final full stop do not matter);
 *   2. the model's text encoder (libxattn's xattn_encode), when the model folder has one: any
 *      text.
 * A request never names a file: only texts are looked up or encoded. */
#ifndef XATTN_SERVE_PROMPTS_H
#define XATTN_SERVE_PROMPTS_H

#include <stddef.h>

#include "xattn.h"

typedef struct serve_prompts serve_prompts;

/* Loads the folder (dir NULL: an empty table) and the encoder of model_dir (when it has one).
 * Files that are not prompt embeddings of width `dim` are skipped. -1 with err filled when the
 * folder cannot be read or the model's encoder cannot be loaded. */
int serve_prompts_load(const char *dir, const char *model_dir, size_t dim, serve_prompts **out,
                       xattn_error *err);
void serve_prompts_free(serve_prompts *p);

/* The embeddings of a known text (borrowed), or NULL. */
const xattn_prompt *serve_prompts_find(const serve_prompts *p, const char *text);

/* 1 when texts outside the table can be encoded. */
int serve_prompts_has_encoder(const serve_prompts *p);

/* The embeddings of text: borrowed from the table (*owned NULL), or encoded (*owned = *out, for
 * the caller to free with xattn_prompt_free). Thread-safe. 0, or -1 with err filled (a text the
 * server cannot encode: "not a prompt this server knows"). */
int serve_prompts_get(serve_prompts *p, const char *text, const xattn_prompt **out,
                      xattn_prompt **owned, xattn_error *err);
size_t serve_prompts_count(const serve_prompts *p);
/* The i-th known text, in file-name order. */
const char *serve_prompts_text(const serve_prompts *p, size_t i);

#endif
