/* prompts.h — a request's prompt text -> prompt embeddings.
 *
 * The server has no text encoder yet: it knows the prompts of the embedding files in the folder
 * `xattn serve --prompts DIR` names (every *.safetensors whose metadata "prompt" is set and whose
 * width is the model's), looked up by their text (case, surrounding spaces, repeated spaces and a
 * final full stop do not matter). A request never names a file: only texts are looked up. */
#ifndef XATTN_SERVE_PROMPTS_H
#define XATTN_SERVE_PROMPTS_H

#include <stddef.h>

#include "xattn.h"

typedef struct serve_prompts serve_prompts;

/* Loads the folder (dir NULL: an empty table). Files that are not prompt embeddings of width
 * `dim` are skipped. -1 with err filled when the folder cannot be read. */
int serve_prompts_load(const char *dir, size_t dim, serve_prompts **out, xattn_error *err);
void serve_prompts_free(serve_prompts *p);

/* The embeddings of text (borrowed), or NULL. */
const xattn_prompt *serve_prompts_find(const serve_prompts *p, const char *text);
size_t serve_prompts_count(const serve_prompts *p);
/* The i-th known text, in file-name order. */
const char *serve_prompts_text(const serve_prompts *p, size_t i);

#endif
