/* cmd_encode.c — `xattn encode TEXT -o FILE.safetensors [-m MODEL | --encoder DIR]`: encodes a
 * text with the C text encoder (src/text/) into a prompt-embedding file, in the format and with
 * the metadata tools/encode_prompt.py writes (xattn_prompt_save). */
#define _POSIX_C_SOURCE 200809L

#include "args.h"
#include "commands.h"
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
    int code = CLI_EXIT_INPUT;
    if (xattn_encoder_load(encoder ? encoder : model ? model : "weights/shapes32", &e, &err) ||
        xattn_encode(e, text, &p, &err) || xattn_prompt_save(p, output, &err))
        cli_lib_error(&err);
    else
        code = CLI_EXIT_OK;
    xattn_prompt_free(p);
    xattn_encoder_free(e);
    return code;
}
