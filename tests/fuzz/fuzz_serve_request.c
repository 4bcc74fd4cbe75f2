/* fuzz_serve_request.c — `xattn serve`'s request body -> parameters: serve_request_parse, the one
 * function every txt2img request goes through before anything else looks at it (src/serve/).
 *
 * Checked beyond "no crash": a refusal is one line "<field>: <what>" (field = [a-z_]+ or
 * "body") of printable text; an accepted request keeps every promise the server relies on
 * (steps, batch, cfg, eta and factors in range, texts valid UTF-8 within their caps, at most
 * SERVE_MAX_IGNORED ignored names, all printable); and parsing the same bytes twice gives the
 * same answer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "serve/request.h"

static int printable_line(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

static void check_error(const char *err) {
    size_t n = strspn(err, "abcdefghijklmnopqrstuvwxyz_");
    fuzz_require(n > 0 && err[n] == ':' && err[n + 1] == ' ' && err[n + 2] != '\0',
                 "a refusal is not \"<field>: <what>\"");
    fuzz_require(printable_line(err), "a refusal holds control characters");
}

static void check_request(const serve_request *r) {
    fuzz_require(r->prompt && r->negative, "no prompt text");
    fuzz_require(strlen(r->prompt) <= SERVE_MAX_TEXT && strlen(r->negative) <= SERVE_MAX_TEXT,
                 "a text over its cap");
    fuzz_require(r->steps >= 1 && r->steps <= SERVE_MAX_STEPS, "steps out of range");
    fuzz_require(r->batch >= 1 && r->batch <= SERVE_MAX_BATCH, "batch out of range");
    fuzz_require(isfinite(r->cfg) && r->cfg >= 0 && r->cfg <= 30, "cfg out of range");
    fuzz_require(isfinite(r->eta) && r->eta >= 0 && r->eta <= 1, "eta out of range");
    /* a sampler the library runs, named so that the name gives it back (the answer echoes it) */
    xattn_sampler_kind kind;
    int karras;
    const char *canonical;
    fuzz_require(r->sampler_name && r->sampler >= XATTN_SAMPLER_DDIM &&
                     serve_sampler_from_name(r->sampler_name, &kind, &karras, &canonical) == 0 &&
                     kind == r->sampler && karras == r->karras,
                 "no sampler, or a name that does not give it back");
    fuzz_require(r->seed_random || r->seed <= 9007199254740992ull, "seed out of range");
    fuzz_require(r->n_reweight <= SERVE_MAX_REWEIGHTS, "too many reweights");
    for (size_t k = 0; k < r->n_reweight; k++) {
        size_t n = strlen(r->reweight_word[k]);
        fuzz_require(n >= 1 && n <= SERVE_MAX_WORD, "reweight word length");
        fuzz_require(isfinite(r->reweight_factor[k]) && r->reweight_factor[k] >= 0 &&
                     r->reweight_factor[k] <= 100, "reweight factor out of range");
    }
    const char *specs[3] = {r->heat_layers, r->heat_heads, r->heat_steps};
    for (int i = 0; i < 3; i++)
        fuzz_require(!specs[i] || (strlen(specs[i]) >= 1 && strlen(specs[i]) <= SERVE_MAX_SPEC &&
                                   printable_line(specs[i])), "a heat spec out of shape");
    fuzz_require(r->n_ignored <= SERVE_MAX_IGNORED, "too many ignored names");
    for (size_t k = 0; k < r->n_ignored; k++)
        fuzz_require(strlen(r->ignored[k]) <= 64 && printable_line(r->ignored[k]),
                     "an ignored name is not printable");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    serve_request a, b;
    char err_a[SERVE_ERROR_LEN], err_b[SERVE_ERROR_LEN];
    /* shapes32's: 32 x 32 images, UniPC without Karras sigmas when the body names no sampler */
    const xattn_model_info model = {.sample_size = 32, .sampler = XATTN_SAMPLER_UNIPC};
    int ra = serve_request_parse((const char *)data, size, &model, &a, err_a);
    int rb = serve_request_parse((const char *)data, size, &model, &b, err_b);
    fuzz_require(ra == 0 || ra == -1, "a return value other than 0 or -1");
    fuzz_require(ra == rb, "the same bytes parsed differently");
    if (ra != 0) {
        check_error(err_a);
        fuzz_require(strcmp(err_a, err_b) == 0, "the same bytes refused differently");
    } else {
        check_request(&a);
        fuzz_require(strcmp(a.prompt, b.prompt) == 0 && a.steps == b.steps && a.seed == b.seed &&
                     a.n_reweight == b.n_reweight && a.n_ignored == b.n_ignored,
                     "the same bytes gave different parameters");
    }
    serve_request_free(&a);
    serve_request_free(&b);
    return 0;
}
