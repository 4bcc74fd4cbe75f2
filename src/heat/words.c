/* words.c — a prompt's tokens grouped into words (see xattn_word in xattn.h). */
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "xattn.h"

static int is_special(const char *tok) {
    static const char *const special[] = {"[CLS]", "[SEP]", "[PAD]", "[MASK]", "<|startoftext|>",
                                          "<|endoftext|>", "<s>", "</s>", "<pad>", ""};
    for (size_t i = 0; i < sizeof special / sizeof *special; i++)
        if (strcmp(tok, special[i]) == 0) return 1;
    return 0;
}

static int is_continuation(const char *tok) { return tok[0] == '#' && tok[1] == '#' && tok[2]; }

/* The token's text in its word: "##s" -> "s". */
static const char *piece(const char *tok) { return is_continuation(tok) ? tok + 2 : tok; }

static const char *token_at(const xattn_prompt *p, size_t t) {
    return p->tokens && p->tokens[t] ? p->tokens[t] : "";
}

/* Returns the word count; fills words[] (texts NULL) when not NULL. */
static size_t group(const xattn_prompt *p, xattn_word *words) {
    size_t n = 0;
    int open = 0; /* the previous token belongs to a word that a "##" token may continue */
    for (size_t t = 0; t < p->n_tokens; t++) {
        const char *tok = token_at(p, t);
        if ((p->mask && p->mask[t] == 0.0f) || is_special(tok)) {
            open = 0;
            continue;
        }
        if (open && is_continuation(tok)) {
            if (words) words[n - 1].n_tokens++;
            continue;
        }
        if (words) words[n] = (xattn_word){NULL, t, 1};
        n++;
        open = 1;
    }
    return n;
}

xattn_status xattn_prompt_words(const xattn_prompt *p, xattn_word **words, size_t *n_words,
                                xattn_error *err) {
    *words = NULL;
    *n_words = 0;
    size_t n = group(p, NULL);
    xattn_word *w = calloc(n ? n : 1, sizeof *w);
    if (!w) return xattn_fail(err, XATTN_ERR_NOMEM, "prompt: out of memory");
    group(p, w);
    for (size_t k = 0; k < n; k++) {
        size_t len = 1;
        for (size_t t = w[k].first_token; t < w[k].first_token + w[k].n_tokens; t++)
            len += strlen(piece(token_at(p, t)));
        if (!(w[k].text = malloc(len))) {
            xattn_words_free(w, n);
            return xattn_fail(err, XATTN_ERR_NOMEM, "prompt: out of memory");
        }
        w[k].text[0] = '\0';
        for (size_t t = w[k].first_token; t < w[k].first_token + w[k].n_tokens; t++)
            strcat(w[k].text, piece(token_at(p, t)));
    }
    *words = w;
    *n_words = n;
    return XATTN_OK;
}

void xattn_words_free(xattn_word *words, size_t n_words) {
    if (!words) return;
    for (size_t k = 0; k < n_words; k++) free(words[k].text);
    free(words);
}
