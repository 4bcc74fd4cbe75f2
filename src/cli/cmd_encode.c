/* cmd_encode.c — `xattn encode TEXT -o FILE.safetensors [-m MODEL | --encoder DIR]`: encodes a
 * text with the C text encoder (src/text/) into a prompt-embedding file, in the format and with
 * the metadata tools/encode_prompt.py writes:
 *   encoder_hidden_states F32 [T, D], attention_mask F32 [T] (ones);
 *   metadata encoder, prompt (the text), tokens (a JSON array of the T token strings, as
 *   Python's json.dumps(tokens, ensure_ascii=False) writes it). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "xattn_io.h"
#include "xattn.h"

static const char encode_usage[] =
    "usage: xattn encode TEXT -o FILE.safetensors [-m MODEL | --encoder DIR]\n"
    "\n"
    "Encodes TEXT (UTF-8) with the model's text encoder (all-MiniLM-L6-v2, in C) into a\n"
    "prompt-embedding file for generate/denoise -p: encoder_hidden_states [T, 384] and the\n"
    "metadata prompt, tokens and encoder, as tools/encode_prompt.py writes it. \"\" is the empty\n"
    "prompt ([CLS] [SEP]). A text of more than 510 tokens is cut there, as transformers'\n"
    "truncation=True does ([CLS] + 510 + [SEP] = 512).\n"
    "\n"
    "  -o, --output FILE   the .safetensors file to write (atomically)\n"
    "  -m, --model DIR     a model folder: its text_encoder/ and tokenizer/ (default\n"
    "                      weights/shapes32; tools/fetch_encoder.sh fetches the weights)\n"
    "  --encoder DIR       a Hugging Face encoder folder (config.json, model.safetensors,\n"
    "                      vocab.txt, tokenizer_config.json) instead of the model's\n"
    "  -h, --help          show this help\n";

enum { OPT_OUTPUT = 1, OPT_MODEL, OPT_ENCODER, OPT_HELP };

static const cli_option encode_options[] = {
    {'o', "output", 1, OPT_OUTPUT},
    {'m', "model", 1, OPT_MODEL},
    {0, "encoder", 1, OPT_ENCODER},
    {'h', "help", 0, OPT_HELP},
};

/* Appends s as a JSON string the way Python's json.dumps(..., ensure_ascii=False) writes it. */
static char *json_append(char *p, const char *s) {
    *p++ = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': p += sprintf(p, "\\\""); break;
        case '\\': p += sprintf(p, "\\\\"); break;
        case '\n': p += sprintf(p, "\\n"); break;
        case '\r': p += sprintf(p, "\\r"); break;
        case '\t': p += sprintf(p, "\\t"); break;
        case '\b': p += sprintf(p, "\\b"); break;
        case '\f': p += sprintf(p, "\\f"); break;
        default:
            if (*c < 0x20) p += sprintf(p, "\\u%04x", *c);
            else *p++ = (char)*c;
        }
    }
    *p++ = '"';
    return p;
}

/* json.dumps(tokens, ensure_ascii=False): ["[CLS]", "a", ...] (malloc'd). */
static char *tokens_json(const xattn_prompt *p) {
    size_t cap = 3;
    for (size_t t = 0; t < p->n_tokens; t++) cap += 6 * strlen(p->tokens[t]) + 4;
    char *out = malloc(cap), *q = out;
    if (!out) return NULL;
    *q++ = '[';
    for (size_t t = 0; t < p->n_tokens; t++) {
        if (t) *q++ = ',', *q++ = ' ';
        q = json_append(q, p->tokens[t]);
    }
    *q++ = ']';
    *q = 0;
    return out;
}

typedef struct encode_args {
    const char *text, *output, *model, *encoder;
} encode_args;

/* One option of encode's (cli_parse_options): 0 when taken, else an error was printed. */
static int encode_option(void *ctx, int id, const char *name, const char *value) {
    encode_args *a = ctx;
    (void)name;
    switch (id) {
    case OPT_OUTPUT: a->output = value; return 0;
    case OPT_MODEL: a->model = value; return 0;
    case OPT_ENCODER: a->encoder = value; return 0;
    case CLI_POSITIONAL:
        if (a->text) {
            cli_error("%s: one TEXT only (quote it)", value);
            return 1;
        }
        a->text = value;
        return 0;
    }
    return 0;
}

int cmd_encode(int argc, char **argv) {
    encode_args a = {NULL, NULL, NULL, NULL};
    int parsed = cli_parse_options(argc, argv, encode_options,
                                   sizeof encode_options / sizeof encode_options[0], OPT_HELP,
                                   encode_usage, encode_option, &a);
    if (parsed != 0) return cli_exit_code(parsed);
    const char *text = a.text, *output = a.output, *model = a.model, *encoder = a.encoder;
    if (!text) {
        cli_error("encode: give the TEXT to encode (\"\" for the empty prompt)");
        return CLI_EXIT_USAGE;
    }
    if (!output) {
        cli_error("-o: the output file is required");
        return CLI_EXIT_USAGE;
    }
    if (model && encoder) {
        cli_error("--encoder: give -m MODEL or --encoder DIR, not both");
        return CLI_EXIT_USAGE;
    }
    xattn_error err = {0};
    xattn_encoder *e = NULL;
    xattn_prompt *p = NULL;
    char *tokens = NULL;
    int code = CLI_EXIT_INPUT;
    if (xattn_encoder_load(encoder ? encoder : model ? model : "weights/shapes32", &e, &err) ||
        xattn_encode(e, text, &p, &err)) {
        cli_lib_error(&err);
        goto done;
    }
    if (!(tokens = tokens_json(p))) {
        cli_error("%s: out of memory", output);
        goto done;
    }
    xattn_st_write_tensor ts[2] = {
        {.name = "encoder_hidden_states", .ndim = 2, .shape = {p->n_tokens, p->dim}, .data = p->embeddings},
        {.name = "attention_mask", .ndim = 1, .shape = {p->n_tokens}, .data = p->mask},
    };
    const char *keys[3] = {"encoder", "prompt", "tokens"}; /* sorted, as encode_prompt.py */
    const char *values[3] = {p->encoder, p->text, tokens};
    if (xattn_st_write_f32(output, ts, 2, keys, values, 3, &err)) {
        cli_lib_error(&err);
        goto done;
    }
    code = CLI_EXIT_OK;
done:
    free(tokens);
    xattn_prompt_free(p);
    xattn_encoder_free(e);
    return code;
}
