/* fuzz_prompt.c — xattn_prompt_load on arbitrary bytes as a file, then the prompt's words
 * (xattn_prompt_words, what --heatmaps and eval do next). The loader picks the format by
 * content ("\x93NUMPY" -> .npy, else safetensors), not by the file name, so one harness covers
 * both; the corpus holds both kinds.
 *
 * Checked beyond "no crash": the error contract, and that an accepted prompt is what xattn.h
 * promises: T >= 1, D >= 1, finite embeddings, mask values 0 or 1 with at least one 1, T token
 * strings, text and encoder strings; words inside 0..T-1, in order, not overlapping. */
#include <math.h>
#include <stdlib.h>

#include "fuzz.h"

static void check_words(const xattn_prompt *p) {
    xattn_word *words = NULL;
    size_t n = 0;
    xattn_error err = {0};
    xattn_status st = xattn_prompt_words(p, &words, &n, &err);
    fuzz_check_status(st, &err, NULL);
    if (st != XATTN_OK) return;
    size_t next = 0; /* the first token a word may start at */
    for (size_t k = 0; k < n; k++) {
        fuzz_require(words[k].text != NULL && words[k].n_tokens >= 1, "empty word");
        fuzz_require(words[k].first_token >= next && words[k].n_tokens <= p->n_tokens &&
                         words[k].first_token <= p->n_tokens - words[k].n_tokens,
                     "word outside the tokens or overlapping the previous one");
        next = words[k].first_token + words[k].n_tokens;
    }
    xattn_words_free(words, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_temp_file(data, size, ".prompt");
    xattn_prompt *p = NULL;
    xattn_error err = {0};
    xattn_status st = xattn_prompt_load(path, &p, &err);
    fuzz_check_status(st, &err, path);
    if (st != XATTN_OK) {
        fuzz_require(p == NULL, "xattn_prompt_load failed but returned a prompt");
        return 0;
    }
    fuzz_require(p->n_tokens >= 1 && p->dim >= 1, "empty prompt accepted");
    fuzz_require(p->embeddings && p->mask && p->tokens && p->text && p->encoder, "NULL field");
    size_t ones = 0;
    for (size_t t = 0; t < p->n_tokens; t++) {
        fuzz_require(p->mask[t] == 0.0f || p->mask[t] == 1.0f, "mask value not 0 or 1");
        ones += p->mask[t] == 1.0f;
        fuzz_require(p->tokens[t] != NULL, "NULL token");
        for (size_t d = 0; d < p->dim; d++)
            fuzz_require(isfinite(p->embeddings[t * p->dim + d]), "non-finite embedding accepted");
    }
    fuzz_require(ones >= 1, "all-zero mask accepted");
    check_words(p);
    xattn_prompt_free(p);
    return 0;
}
