/* bert_tokenizer.h — Hugging Face's BertTokenizer (the `tokenizers` pipeline of
 * all-MiniLM-L6-v2's tokenizer.json) in C, with its Unicode data from utf8proc.
 *
 * The stages, each a function in bert_tokenizer.c, in the order `tokenizers` runs them:
 *   0. added tokens: the special tokens ([PAD] [UNK] [CLS] [SEP] [MASK]) written literally in
 *      the raw text are cut out first (case-sensitive, not normalised) and become their ids;
 *   1. normalizer (BertNormalizer, on each remaining piece):
 *      clean_text: drop U+0000, U+FFFD and "other" characters (Cc, Cf, Co, Cs, Cn) except
 *        tab, LF and CR; White_Space characters become ' ';
 *      handle_chinese_chars: ' ' before and after every CJK ideograph (BERT's ranges);
 *      strip_accents (default: = lowercase): NFD, then drop Mn (nonspacing marks only);
 *      lowercase: each character's lowercase mapping (not case folding: "ß" stays "ß");
 *   2. pre-tokenizer (BertPreTokenizer): split on White_Space (removed), then on punctuation
 *      (ASCII punctuation or a P* category; each one its own word);
 *   3. model (WordPiece): greedy longest match from the left, "##" before continuations; a word
 *      of more than 100 characters, or one that cannot be split, is one [UNK];
 *   4. post-processor: [CLS] ... [SEP], cut to model_max_length (512) tokens as
 *      `tokenizer(text, truncation=True)` does: the first max - 2 tokens of the text are kept.
 * Text must be valid UTF-8: anything else is refused (XATTN_ERR_VALUE, one line naming the byte).
 * Where utf8proc's Unicode (15) and the `tokenizers` crate's tables disagree, the ids differ;
 * tests/data/tokenizer/allowlist.txt lists the measured code points. */
#ifndef XATTN_TEXT_BERT_TOKENIZER_H
#define XATTN_TEXT_BERT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "xattn.h"

typedef struct bert_tokenizer bert_tokenizer;

typedef struct bert_tokenizer_config {
    int lowercase;              /* do_lower_case (default 1) */
    int strip_accents;          /* -1 = unset (follows lowercase), 0, 1 */
    int chinese_chars;          /* tokenize_chinese_chars (default 1) */
    size_t max_length;          /* model_max_length (default 512) */
    size_t max_chars_per_word;  /* 100 */
    char unk[32], cls[32], sep[32], pad[32], mask[32];
} bert_tokenizer_config;

void bert_tokenizer_config_init(bert_tokenizer_config *c);

/* Reads <dir>/tokenizer_config.json (tokenizer_class BertTokenizer or BertTokenizerFast;
 * do_lower_case, strip_accents, tokenize_chinese_chars, model_max_length, the special tokens)
 * into c, which holds the defaults for absent keys. */
xattn_status bert_tokenizer_read_config(const char *path, bert_tokenizer_config *c,
                                        xattn_error *err);

/* Loads vocab.txt (one token a line, id = line number - 1). Refused: a missing, empty or over
 * 64 MB file, more than 4M tokens, a token over 1000 bytes, an empty line, invalid UTF-8, a
 * duplicate token, a special token of the config missing from it. */
xattn_status bert_tokenizer_new(const char *vocab_path, const bert_tokenizer_config *c,
                                bert_tokenizer **out, xattn_error *err);
/* Both files of a tokenizer folder: <dir>/vocab.txt and <dir>/tokenizer_config.json. */
xattn_status bert_tokenizer_load(const char *dir, bert_tokenizer **out, xattn_error *err);
void bert_tokenizer_free(bert_tokenizer *t);

size_t bert_tokenizer_vocab_size(const bert_tokenizer *t);
const char *bert_tokenizer_token(const bert_tokenizer *t, int32_t id); /* NULL if out of range */
int32_t bert_tokenizer_id(const bert_tokenizer *t, const char *token); /* -1 if absent */
const bert_tokenizer_config *bert_tokenizer_get_config(const bert_tokenizer *t);
/* Lowers the cut (the encoder's max_position_embeddings may be below model_max_length). */
void bert_tokenizer_limit_length(bert_tokenizer *t, size_t max_length);

/* Tokenizes text[len] (UTF-8; NUL bytes are characters, dropped by clean_text) into *ids
 * (malloc'd, *n ids: [CLS] ... [SEP], at most max_length). *n_full (may be NULL) gets the
 * count before the cut. Linear in len. */
xattn_status bert_tokenize(const bert_tokenizer *t, const char *text, size_t len, int32_t **ids,
                           size_t *n, size_t *n_full, xattn_error *err);

#endif
