/* fuzz_tokenizer.c — the C BertTokenizer (src/text/bert_tokenizer.c) on arbitrary bytes as the
 * text, with all-MiniLM-L6-v2's vocabulary (weights/shapes32/tokenizer, tools/fetch_encoder.sh;
 * the source folder is compiled in as XATTN_SOURCE_DIR).
 *
 * Checked beyond "no crash": invalid UTF-8 is refused with "text: invalid UTF-8 at byte N" and
 * no ids; valid text gives [CLS] ... [SEP], 2 .. 512 ids, every id in the vocabulary, and the
 * count before the cut >= the count kept. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "text/bert_tokenizer.h"

static bert_tokenizer *tok;

static void load(void) {
    xattn_error err = {0};
    if (bert_tokenizer_load(XATTN_SOURCE_DIR "/weights/shapes32/tokenizer", &tok, &err) != XATTN_OK) {
        fuzz_require(0, err.msg); /* run tools/fetch_encoder.sh */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok) load();
    int32_t *ids = NULL;
    size_t n = 0, full = 0;
    xattn_error err = {0};
    xattn_status st = bert_tokenize(tok, (const char *)data, size, &ids, &n, &full, &err);
    fuzz_check_status(st, &err, "text");
    if (st != XATTN_OK) {
        fuzz_require(st == XATTN_ERR_VALUE && ids == NULL &&
                         strncmp(err.msg, "text: invalid UTF-8 at byte ", 28) == 0,
                     "a refusal other than invalid UTF-8");
        return 0;
    }
    fuzz_require(n >= 2 && n <= 512 && full >= n, "token count outside 2 .. 512");
    fuzz_require(ids[0] == bert_tokenizer_id(tok, "[CLS]") && ids[n - 1] == bert_tokenizer_id(tok, "[SEP]"),
                 "not [CLS] ... [SEP]");
    for (size_t i = 0; i < n; i++)
        fuzz_require(ids[i] >= 0 && (size_t)ids[i] < bert_tokenizer_vocab_size(tok), "id outside the vocabulary");
    free(ids);
    return 0;
}
