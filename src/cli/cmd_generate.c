/* cmd_generate.c — `xattn generate`: prompt embeddings -> PNG(s) (or JPEG, BMP, TGA: -o's
 * extension; cli/output_format.h).
 *
 * Order of work: parse and check the command line (exit 2), check the output folder, load the
 * prompts and the model and check their widths (exit 1), sample all images, then write them,
 * all or none (xattn_images_write: with --batch N nothing is renamed into place before all N
 * images and their sidecars are written). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "heat_options.h"
#include "output_format.h"
#include "output_path.h"
#include "progress.h"
#include "sampling_options.h"
#include "xattn_io.h"

static const char generate_usage[] =
    "usage: xattn generate -m MODEL -p PROMPT [options]\n"
    "\n"
    "Samples images from noise with the model, conditioned on a prompt.\n"
    "\n"
    "  -m, --model DIR        model folder (diffusers layout)                 required\n"
    "  -p, --prompt PROMPT    the prompt: a text, encoded with the model's text encoder, or\n"
    "                         an embedding file: a value ending in .safetensors or .npy\n"
    "                         (encoder_hidden_states [T, D])                  required\n"
    "  -n, --negative PROMPT  negative prompt, text or file as -p (default: the model's null\n"
    "                         prompt)\n"
    "      --encoder DIR      the text encoder (a Hugging Face BERT folder) default: MODEL's\n"
    "  -s, --seed N           noise seed, 0..2^64-1                           default 0\n"
    "      --steps N          sampling steps, 1..1000                         default 30\n"
    "      --cfg SCALE        classifier-free guidance scale, >= 0 (<= 1: conditional only)\n"
    "                                                                         default 7.5\n"
    SAMPLING_HELP_SAMPLER
    "      --eta E            DDIM eta, >= 0                                  default 0\n"
    "      --batch N          images, 1..64: writes OUT-0.png ... OUT-(N-1).png (OUT.EXT:\n"
    "                         OUT-0.EXT ...)\n"
    "  -t, --threads N        worker threads, 0..256 (0 = one per core)        default 0\n"
    "      --heatmaps DIR     cross-attention heatmaps: DIR/<i>-<word>.png, DIR/grid.png and\n"
    "                         DIR/heatmaps.safetensors (with --batch N: DIR/0 ... DIR/N-1)\n"
    "      --heat-format FMT  the overlays' and grid's format: png, jpg, bmp or tga (jpg, bmp,\n"
    "                         tga: each with a sidecar .json of its text)     default png\n"
    "      --heat-layers SPEC layers averaged: all, or a comma list of down, mid, up,\n"
    "                         PLACE:SIDE (e.g. up:16) and layer indices           default all\n"
    "      --heat-heads SPEC  heads averaged: all, or e.g. 0,2-3                   default all\n"
    "      --heat-steps A:B   steps summed: A .. B-1 (0 = the first); A:, :B, A   default all\n"
    "      --reweight W=F     multiply word W's cross-attention by F >= 0 (Prompt-to-Prompt\n"
    "                         re-weighting of the conditional branch); repeatable\n"
    "      --html FILE        heatmap explorer page: one self-contained HTML file with the\n"
    "                         image, each word's map and a slider over the steps (image 0)\n"
    "  -o, --output OUT.png   output image: .png, .jpg/.jpeg, .bmp or .tga     default out.png\n"
    "      --quality N        JPEG quality of -o and --heat-format jpg, 1..100 default 90\n"
    "  -q, --quiet            no progress bar or summary on stderr\n"
    "  -h, --help             show this help\n"
    "\n"
    "The PNG's text chunks record prompt, seed, steps, cfg, sampler, eta and model\n"
    "(see `xattn info OUT.png`); a .jpg, .bmp or .tga has them in a sidecar OUT.jpg.json\n"
    "(one JSON object, the same keys and values).\n";

enum {
    OPT_BATCH = SAMPLING_OPT_END, OPT_HEATMAPS, OPT_HTML, OPT_OUTPUT, OPT_HELP, OPT_QUALITY,
    OPT_HEAT /* the options of heat_options.h */
};

static const cli_option generate_options[] = {
    {'m', "model", 1, SAMPLING_OPT_MODEL},       {'p', "prompt", 1, SAMPLING_OPT_PROMPT},
    {'n', "negative", 1, SAMPLING_OPT_NEGATIVE}, {0, "encoder", 1, SAMPLING_OPT_ENCODER}, {'s', "seed", 1, SAMPLING_OPT_SEED},
    {0, "steps", 1, SAMPLING_OPT_STEPS},         {0, "cfg", 1, SAMPLING_OPT_CFG},
    {0, "sampler", 1, SAMPLING_OPT_SAMPLER},     {0, "eta", 1, SAMPLING_OPT_ETA},
    {0, "karras", 0, SAMPLING_OPT_KARRAS},
    {0, "batch", 1, OPT_BATCH},                  {'t', "threads", 1, SAMPLING_OPT_THREADS},
    {0, "heatmaps", 1, OPT_HEATMAPS},            {0, "html", 1, OPT_HTML},
    {'o', "output", 1, OPT_OUTPUT},              {'q', "quiet", 0, SAMPLING_OPT_QUIET},
    {'h', "help", 0, OPT_HELP},
    {0, "heat-layers", 1, OPT_HEAT},             {0, "heat-heads", 1, OPT_HEAT},
    {0, "heat-steps", 1, OPT_HEAT},              {0, "reweight", 1, OPT_HEAT},
    {0, "heat-format", 1, OPT_HEAT},             {0, "quality", 1, OPT_QUALITY},
};

typedef struct generate_args {
    sampling_options s; /* -m, -p, -n, -s, --steps, --cfg, --sampler, --eta, -t, -q */
    const char *html, *output;
    heat_options heat;  /* --heatmaps, --heat-*, --reweight */
    output_format fmt;  /* -o's format, --quality */
} generate_args;

/* One option of generate's (cli_parse_options): 0 when taken, else an error was printed. */
static int generate_option(void *ctx, int id, const char *name, const char *value) {
    generate_args *g = ctx;
    int taken = sampling_option(&g->s, id, name, value);
    if (taken) return taken < 0;
    switch (id) {
    case CLI_POSITIONAL:
        cli_error("%s: unexpected argument (options are -m MODEL -p PROMPT ...)", value);
        return 1;
    case OPT_BATCH: return cli_parse_int(name, value, 1, 64, &g->s.params.batch) != 0;
    case OPT_HEATMAPS:
    case OPT_HEAT: return heat_option(&g->heat, name, value) != 0;
    case OPT_HTML: g->html = value, g->heat.keep_steps = 1; return 0;
    case OPT_OUTPUT: g->output = value; return 0;
    case OPT_QUALITY: return output_format_quality(&g->fmt, name, value) != 0;
    }
    return 0;
}

/* 0 to go on, else as cli_parse_options. */
static int parse_generate_args(int argc, char **argv, generate_args *g) {
    memset(g, 0, sizeof *g);
    sampling_options_init(&g->s);
    heat_options_init(&g->heat);
    output_format_init(&g->fmt);
    g->output = "out.png";
    int code = cli_parse_options(argc, argv, generate_options,
                                 sizeof generate_options / sizeof generate_options[0], OPT_HELP,
                                 generate_usage, generate_option, g);
    if (code != 0) return code;
    if (sampling_options_require(&g->s, "generate", 1) != 0) return CLI_EXIT_USAGE;
    if ((code = heat_options_check(&g->heat)) != 0) return code;
    return output_format_check(&g->fmt, g->output, &g->heat);
}

/* ------------------------------------------------------------------------------------------ */
/* Output names                                                                                */

/* ".png" (as written: ".PNG" stays so) or "" when the name has no extension. */
static const char *extension(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    return dot ? dot : path + strlen(path);
}

/* OUT.EXT for one image; OUT-0.EXT ... OUT-(n-1).EXT for more (OUT.png: OUT-0.png, ...). */
static char **output_names(const char *out, int n) {
    char **names = calloc((size_t)n, sizeof *names);
    if (!names) return NULL;
    const char *ext = extension(out);
    size_t stem = (size_t)(ext - out);
    for (int k = 0; k < n; k++) {
        size_t cap = strlen(out) + 32;
        names[k] = malloc(cap);
        if (!names[k]) goto fail;
        if (n == 1)
            snprintf(names[k], cap, "%s", out);
        else
            snprintf(names[k], cap, "%.*s-%d%s", (int)stem, out, k, ext);
    }
    return names;
fail:
    for (int k = 0; k < n; k++) free(names[k]);
    free(names);
    return NULL;
}

static void free_names(char **names, int n) {
    if (!names) return;
    for (int k = 0; k < n; k++) free(names[k]);
    free(names);
}

/* ------------------------------------------------------------------------------------------ */
/* Text chunks                                                                                 */

typedef struct text_chunks {
    sampling_text t;
    char index[16], batch[16];
} text_chunks;

/* The parameters of image `index` of the batch (index and batch only for a batch). */
static void fill_text(text_chunks *tc, const generate_args *g, const xattn_prompt *cond,
                      const xattn_prompt *uncond, int index) {
    const xattn_generate_params *p = &g->s.params;
    sampling_text *t = &tc->t;
    snprintf(tc->index, sizeof tc->index, "%d", index);
    snprintf(tc->batch, sizeof tc->batch, "%d", p->batch);
    sampling_text_init(t);
    sampling_text_prompts(t, &g->s, cond, uncond);
    sampling_text_params(t, g->s.model, p, 1);
    if (g->heat.n_reweight) sampling_text_add(t, "reweight", g->heat.reweight_text);
    if (p->batch > 1) {
        sampling_text_add(t, "index", tc->index);
        sampling_text_add(t, "batch", tc->batch);
    }
    sampling_text_software(t);
}

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                     */

/* Writes every image or none (xattn_images_write), each with its parameters. Prints the error;
 * returns 0 on success. */
static int write_images(const generate_args *g, char **names, const float *images, int channels,
                        size_t size, const xattn_prompt *cond, const xattn_prompt *uncond) {
    size_t n = (size_t)g->s.params.batch, plane = size * size;
    uint8_t *rgb = malloc(n * plane * 3);                /* [B, S, S, 3] */
    text_chunks *text = calloc(n, sizeof *text);
    const xattn_text_pair **pairs = calloc(n, sizeof *pairs);
    size_t *n_pairs = calloc(n, sizeof *n_pairs);
    xattn_error err = {0};
    int ok = 0;
    if (!rgb || !text || !pairs || !n_pairs) {
        cli_error("%s: out of memory", names[0]);
    } else {
        for (size_t k = 0; k < n; k++) {
            xattn_image_to_rgb8(images + k * (size_t)channels * plane, channels, size, size,
                                rgb + k * plane * 3);
            fill_text(&text[k], g, cond, uncond, (int)k);
            pairs[k] = text[k].t.pairs;
            n_pairs[k] = text[k].t.n;
        }
        ok = xattn_images_write((const char *const *)names, n, rgb, size, size, 3, pairs, n_pairs,
                                &g->fmt.image, &err) == XATTN_OK;
        if (!ok) cli_lib_error(&err);
    }
    free(n_pairs), free(pairs), free(text), free(rgb);
    return ok ? 0 : -1;
}

/* --html FILE: the explorer page of image 0. Prints the error; returns 0 on success. */
static int write_html(const generate_args *g, const float *images, int channels, size_t size) {
    size_t plane = size * size;
    uint8_t *rgb = malloc(plane * 3); /* [S, S, 3] */
    char caption[512];
    xattn_error err = {0};
    int ok = 0;
    if (!rgb) {
        cli_error("%s: out of memory", g->html);
    } else {
        xattn_image_to_rgb8(images, channels, size, size, rgb);
        snprintf(caption, sizeof caption, "seed %llu, %d steps (%s), cfg %g%s%s, model %s%s",
                 (unsigned long long)g->s.params.seed, g->s.params.steps,
                 xattn_sampler_name(g->s.params.sampler), (double)g->s.params.cfg,
                 g->heat.n_reweight ? ", reweight " : "", g->heat.reweight_text, g->s.model,
                 g->s.params.batch > 1 ? ", image 0 of the batch" : "");
        ok = xattn_heatmaps_write_html(g->html, g->heat.heatmaps, 0, rgb, caption, &err) == XATTN_OK;
        if (!ok) cli_lib_error(&err);
    }
    free(rgb);
    return ok ? 0 : -1;
}

/* ------------------------------------------------------------------------------------------ */

int cmd_generate(int argc, char **argv) {
    generate_args g;
    int code = parse_generate_args(argc, argv, &g);
    if (code != 0) return cli_exit_code(code);

    sampling_inputs in = {0};
    char **names = NULL;
    float *images = NULL;
    xattn_error err = {0};
    code = CLI_EXIT_INPUT;

    names = output_names(g.output, g.s.params.batch);
    if (!names) {
        cli_error("%s: out of memory", g.output);
        goto done;
    }
    for (int k = 0; k < g.s.params.batch; k++)
        if (cli_check_output_path(names[k]) != 0) goto done;
    if (g.html && cli_check_output_path(g.html) != 0) goto done;
    for (int k = 0; g.html && k < g.s.params.batch; k++) /* the page would replace the image */
        if (cli_same_file(g.html, names[k])) {
            cli_error("--html: %s is also the image output (-o %s); choose another name", g.html, names[k]);
            code = CLI_EXIT_USAGE;
            goto done;
        }
    for (int k = 0; k <= g.s.params.batch; k++) { /* the images and the page */
        const char *out = k < g.s.params.batch ? names[k] : g.html;
        if ((code = heat_options_check_outputs(&g.heat, &out, 1)) != 0) goto done;
    }
    code = CLI_EXIT_INPUT;

    if (sampling_inputs_load(&g.s, &in) != 0) goto done;
    const xattn_model_info info = in.info;
    if (info.out_channels != 1 && info.out_channels != 3) {
        cli_error("%s: out_channels %d: a PNG needs a model with 1 or 3 output channels", g.s.model,
                  info.out_channels);
        goto done;
    }
    if (info.sample_size <= 0) {
        cli_error("%s: sample_size %d is not a positive image size", g.s.model, info.sample_size);
        goto done;
    }
    int heat_code = heat_options_prepare(&g.heat, in.model, in.cond, g.s.params.steps, &g.s.params);
    if (heat_code != 0) {
        code = heat_code;
        goto done;
    }

    size_t size = (size_t)info.sample_size;
    size_t per_image = (size_t)info.out_channels * size * size;
    if (size > 65536 || per_image > SIZE_MAX / sizeof(float) / (size_t)g.s.params.batch) {
        cli_error("%s: sample_size %d is too large", g.s.model, info.sample_size);
        goto done;
    }
    images = malloc((size_t)g.s.params.batch * per_image * sizeof *images); /* [B, C, S, S] */
    if (!images) {
        cli_error("%s: out of memory for %d images of %zux%zu", g.s.model, g.s.params.batch, size,
                  size);
        goto done;
    }

    cli_progress progress;
    cli_progress_start(&progress, !g.s.quiet && isatty(STDERR_FILENO));
    g.s.params.progress = cli_progress_step;
    g.s.params.progress_user = &progress;
    cli_progress_step(0, g.s.params.steps, &progress);
    xattn_status st = xattn_generate(in.model, in.cond, in.uncond, &g.s.params, images, &err);
    cli_progress_finish(&progress);
    if (st != XATTN_OK) goto library_error;

    if (write_images(&g, names, images, info.out_channels, size, in.cond, in.uncond) != 0) goto done;
    heat_code = heat_options_write(&g.heat, images, (size_t)g.s.params.batch, info.out_channels, size);
    if (heat_code != 0) {
        code = heat_code;
        goto done;
    }
    if (g.html && write_html(&g, images, info.out_channels, size) != 0) goto done;

    if (!g.s.quiet && !isatty(STDERR_FILENO)) {
        double seconds = cli_now() - progress.start;
        if (g.s.params.batch == 1)
            fprintf(stderr, "wrote %s (%d steps, %.1f s)\n", names[0], g.s.params.steps, seconds);
        else
            fprintf(stderr, "wrote %s ... %s (%d images, %d steps, %.1f s)\n", names[0],
                    names[g.s.params.batch - 1], g.s.params.batch, g.s.params.steps, seconds);
        if (g.heat.dir)
            fprintf(stderr, "wrote heatmaps to %s\n", g.heat.dir);
        if (g.html) fprintf(stderr, "wrote %s\n", g.html);
    }
    code = CLI_EXIT_OK;
    goto done;

library_error:
    cli_lib_error(&err);
done:
    heat_options_free(&g.heat);
    free(images);
    free_names(names, g.s.params.batch);
    sampling_inputs_free(&in);
    return code;
}
