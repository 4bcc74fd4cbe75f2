/* prompts.h — the adherence prompt file: JSON Lines, one prompt per line (docs/eval.md):
 *   {"prompt": "a red circle left of a blue square",
 *    "embedding": "emb/0001.safetensors",          relative to the file's folder, or absolute
 *    "category": "position",                       single|two|count|colors|position|color_attr
 *    "objects": [{"shape": "circle", "color": "red", "count": 1}, {"shape": "square", ...}],
 *    "relation": {"subject": 0, "relation": "left of", "object": 1}}   or null / absent
 * An object's "color" and "size" may be null or absent (any); "count" defaults to 1. Blank
 * lines are skipped; other keys are ignored. */
#ifndef XATTN_EVAL_PROMPTS_H
#define XATTN_EVAL_PROMPTS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "eval/score.h"
#include "xattn.h"

enum { EVAL_MAX_PROMPTS = 1000000, EVAL_MAX_LINE = 1 << 20 };

typedef struct eval_prompt {
    char *text;      /* "prompt" */
    char *embedding; /* the embedding file's path, resolved against the prompt file's folder */
    eval_spec spec;
    size_t line;     /* 1-based line of the file */
} eval_prompt;

typedef struct eval_prompt_set {
    size_t n;
    eval_prompt *prompts; /* [n] */
} eval_prompt_set;

/* Reads and checks every line; an error names "<path>:<line>: <what is wrong>". On success the
 * set has at least one prompt; free it with eval_prompts_free (also after a failure). */
xattn_status eval_prompts_load(const char *path, eval_prompt_set *out, xattn_error *err);
void eval_prompts_free(eval_prompt_set *s);

/* The category, objects and relation of one parsed line, checked (eval_spec_check); errors
 * name `where`. */
xattn_status eval_spec_from_json(const cJSON *obj, const char *where, eval_spec *out,
                                 xattn_error *err);

#endif
