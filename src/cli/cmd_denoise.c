/* cmd_denoise.c — `xattn denoise`: an input image + prompt embeddings -> PNG (image-to-image;
 * or JPEG, BMP, TGA by -o's extension, cli/output_format.h).
 *
 * The input is read by xattn_image_read_sample (PNG through libpng, JPEG, BMP, ... through
 * stb_image, resized to the model's sample_size, mapped to [-1, 1]); xattn_denoise then noises it
 * to the strength's first timestep and runs the guided loop from there (see xattn.h).
 * Order of work: parse and check the command line (exit 2), check the output's folder, load the
 * image, the prompts and the model (exit 1), sample, write the PNG (atomically), the heatmaps. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
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

static const char denoise_usage[] =
    "usage: xattn denoise -m MODEL -p PROMPT -i INPUT --strength S [options]\n"
    "\n"
    "Denoises an input image towards a prompt (image-to-image, as diffusers' img2img): the\n"
    "image is noised to the level of step N - int(N * S) of the N-step schedule, then sampled\n"
    "from there; S near 0 keeps the input, 1 starts from (almost) pure noise.\n"
    "\n"
    "  -m, --model DIR        model folder (diffusers layout)                 required\n"
    "  -p, --prompt PROMPT    the prompt: a text, encoded with the model's text encoder, or\n"
    "                         an embedding file: a value ending in .safetensors or .npy\n"
    "                         (encoder_hidden_states [T, D])                  required\n"
    "  -i, --input IMAGE      input image (PNG, JPEG, BMP, ...), resized to the model's size\n"
    "                                                                         required\n"
    "      --strength S       how much to change the input, in (0, 1]         required\n"
    "  -n, --negative PROMPT  negative prompt, text or file as -p (default: the model's null\n"
    "                         prompt)\n"
    "      --encoder DIR      the text encoder (a Hugging Face BERT folder) default: MODEL's\n"
    "  -s, --seed N           noise seed, 0..2^64-1                           default 0\n"
    "      --steps N          schedule steps, 1..1000 (int(N * S) of them run) default 30\n"
    "      --cfg SCALE        classifier-free guidance scale, >= 0            default 7.5\n"
    SAMPLING_HELP_SAMPLER
    "      --eta E            DDIM eta, >= 0                                  default 0\n"
    "  -t, --threads N        worker threads, 0..256 (0 = one per core)        default 0\n"
    "      --heatmaps DIR     cross-attention heatmaps of the steps run: DIR/<i>-<word>.png,\n"
    "                         DIR/grid.png and DIR/heatmaps.safetensors\n"
    "      --heat-layers SPEC layers averaged (see xattn generate --help)      default all\n"
    "      --heat-heads SPEC  heads averaged                                   default all\n"
    "      --heat-steps A:B   steps summed, 0 = the first step run            default all\n"
    "      --reweight W=F     multiply word W's cross-attention by F >= 0; repeatable\n"
    "      --heat-format FMT  the overlays' and grid's format: png, jpg, bmp or tga (jpg, bmp,\n"
    "                         tga: each with a sidecar .json of its text)     default png\n"
    "  -o, --output OUT.png   output image: .png, .jpg/.jpeg, .bmp or .tga     default out.png\n"
    "      --quality N        JPEG quality of -o and --heat-format jpg, 1..100 default 90\n"
    "  -q, --quiet            no progress bar or summary on stderr\n"
    "  -h, --help             show this help\n"
    "\n"
    "The PNG's text chunks record prompt, seed, steps, cfg, sampler, eta, model, input and\n"
    "strength (see `xattn info OUT.png`); a .jpg, .bmp or .tga has them in a sidecar\n"
    "OUT.jpg.json (one JSON object, the same keys and values).\n";

enum {
    OPT_INPUT = SAMPLING_OPT_END, OPT_STRENGTH, OPT_OUTPUT, OPT_HELP, OPT_QUALITY,
    OPT_HEAT /* --heatmaps and the options of heat_options.h */
};

static const cli_option denoise_options[] = {
    {'m', "model", 1, SAMPLING_OPT_MODEL},       {'p', "prompt", 1, SAMPLING_OPT_PROMPT},
    {'i', "input", 1, OPT_INPUT},                {0, "strength", 1, OPT_STRENGTH},
    {'n', "negative", 1, SAMPLING_OPT_NEGATIVE}, {0, "encoder", 1, SAMPLING_OPT_ENCODER}, {'s', "seed", 1, SAMPLING_OPT_SEED},
    {0, "steps", 1, SAMPLING_OPT_STEPS},         {0, "cfg", 1, SAMPLING_OPT_CFG},
    {0, "sampler", 1, SAMPLING_OPT_SAMPLER},     {0, "eta", 1, SAMPLING_OPT_ETA},
    {0, "karras", 0, SAMPLING_OPT_KARRAS},
    {'t', "threads", 1, SAMPLING_OPT_THREADS},   {'o', "output", 1, OPT_OUTPUT},
    {'q', "quiet", 0, SAMPLING_OPT_QUIET},       {'h', "help", 0, OPT_HELP},
    {0, "heatmaps", 1, OPT_HEAT},       {0, "heat-layers", 1, OPT_HEAT},
    {0, "heat-heads", 1, OPT_HEAT},     {0, "heat-steps", 1, OPT_HEAT},
    {0, "reweight", 1, OPT_HEAT},       {0, "heat-format", 1, OPT_HEAT},
    {0, "quality", 1, OPT_QUALITY},
};

typedef struct denoise_args {
    sampling_options s;        /* -m, -p, -n, -s, --steps, --cfg, --sampler, --eta, -t, -q */
    const char *input, *output;
    const char *strength_text; /* as given, for the PNG */
    double strength;           /* double: int(steps * strength) rounds as Python's does */
    heat_options heat;
    output_format fmt;         /* -o's format, --quality */
} denoise_args;

/* strength in (0, 1]: 0, or -1 after printing the error. */
static int parse_strength(const char *name, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v)) {
        cli_error("%s: '%s' is not a finite number", name, s);
        return -1;
    }
    if (!(v > 0.0 && v <= 1.0)) {
        cli_error("%s: %s is outside (0, 1]", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Returns -1 to continue, else the exit code. */
/* One option of denoise's (cli_parse_options): 0 when taken, else an error was printed. */
static int denoise_option(void *ctx, int id, const char *name, const char *value) {
    denoise_args *d = ctx;
    int taken = sampling_option(&d->s, id, name, value);
    if (taken) return taken < 0;
    switch (id) {
    case CLI_POSITIONAL:
        cli_error("%s: unexpected argument (options are -m MODEL -p PROMPT -i INPUT ...)", value);
        return 1;
    case OPT_INPUT: d->input = value; return 0;
    case OPT_STRENGTH:
        d->strength_text = value;
        return parse_strength(name, value, &d->strength) != 0;
    case OPT_HEAT: return heat_option(&d->heat, name, value) != 0;
    case OPT_OUTPUT: d->output = value; return 0;
    case OPT_QUALITY: return output_format_quality(&d->fmt, name, value) != 0;
    }
    return 0;
}

/* 0 to go on, else as cli_parse_options. */
static int parse_denoise_args(int argc, char **argv, denoise_args *d) {
    memset(d, 0, sizeof *d);
    sampling_options_init(&d->s);
    heat_options_init(&d->heat);
    output_format_init(&d->fmt);
    d->output = "out.png";
    int code = cli_parse_options(argc, argv, denoise_options,
                                 sizeof denoise_options / sizeof denoise_options[0], OPT_HELP,
                                 denoise_usage, denoise_option, d);
    if (code != 0) return code;
    if (sampling_options_require(&d->s, "denoise", 1) != 0) return CLI_EXIT_USAGE;
    static const struct { const char *opt, *what; } required[] = {
        {"-i", "the input image"}, {"--strength", "the strength"}};
    const char *given[] = {d->input, d->strength_text};
    for (size_t k = 0; k < 2; k++) {
        if (!given[k]) {
            cli_error("%s: missing: %s is required (see xattn denoise --help)", required[k].opt,
                      required[k].what);
            return CLI_EXIT_USAGE;
        }
    }
    /* diffusers' get_timesteps: int(steps * strength) steps run */
    if (sampling_steps_run(d->s.params.steps, d->strength) < 1) {
        cli_error("--strength: %s with %d steps runs no step (needs strength * steps >= 1)",
                  d->strength_text, d->s.params.steps);
        return CLI_EXIT_USAGE;
    }
    if ((code = heat_options_check(&d->heat)) != 0) return code;
    return output_format_check(&d->fmt, d->output, &d->heat);
}

/* image [C, S, S] -> OUT.png with the parameters as text chunks (or OUT.jpg, ... with them in
 * its sidecar). Prints the error; 0 = fine. */
static int write_output(const denoise_args *d, const float *image, int channels, size_t size,
                        const xattn_prompt *cond, const xattn_prompt *uncond) {
    size_t plane = size * size;
    uint8_t *rgb = malloc(plane * 3); /* [S, S, 3] */
    if (!rgb) {
        cli_error("%s: out of memory", d->output);
        return -1;
    }
    xattn_image_to_rgb8(image, channels, size, size, rgb);

    sampling_text text;
    sampling_text_init(&text);
    sampling_text_prompts(&text, &d->s, cond, uncond);
    sampling_text_add(&text, "input", d->input);
    sampling_text_add(&text, "strength", d->strength_text);
    sampling_text_params(&text, d->s.model, &d->s.params, 1);
    if (d->heat.n_reweight) sampling_text_add(&text, "reweight", d->heat.reweight_text);
    sampling_text_software(&text);
    xattn_error err = {0};
    int ok = xattn_image_write(d->output, rgb, size, size, 3, text.pairs, text.n, &d->fmt.image,
                              &err) == XATTN_OK;
    if (!ok) cli_lib_error(&err);
    free(rgb);
    return ok ? 0 : -1;
}

int cmd_denoise(int argc, char **argv) {
    denoise_args d;
    int code = parse_denoise_args(argc, argv, &d);
    if (code != 0) {
        heat_options_free(&d.heat);
        return cli_exit_code(code);
    }

    sampling_inputs in = {0};
    float *init = NULL, *image = NULL;
    xattn_error err = {0};
    code = CLI_EXIT_INPUT;
    if (cli_check_output_path(d.output) != 0) goto done;
    const char *out = d.output;
    if ((code = heat_options_check_outputs(&d.heat, &out, 1)) != 0) goto done;
    code = CLI_EXIT_INPUT;
    if (access(d.input, R_OK) != 0) {
        cli_error("%s: cannot read: %s", d.input, strerror(errno));
        goto done;
    }
    if (sampling_inputs_load(&d.s, &in) != 0) goto done;
    const xattn_model_info info = in.info;
    if ((info.out_channels != 1 && info.out_channels != 3) || info.in_channels != info.out_channels) {
        cli_error("%s: in/out_channels %d/%d: denoise needs a model with 1 or 3 channels in and out",
                  d.s.model, info.in_channels, info.out_channels);
        goto done;
    }
    if (info.sample_size <= 0 || info.sample_size > 8192) {
        cli_error("%s: sample_size %d is not a usable image size", d.s.model, info.sample_size);
        goto done;
    }
    int heat_code = heat_options_prepare(&d.heat, in.model, in.cond,
                                         sampling_steps_run(d.s.params.steps, d.strength),
                                         &d.s.params);
    if (heat_code != 0) {
        code = heat_code;
        goto done;
    }
    size_t size = (size_t)info.sample_size, per_image = (size_t)info.out_channels * size * size;
    init = malloc(per_image * sizeof *init);   /* [C, S, S] */
    image = malloc(per_image * sizeof *image); /* [C, S, S] */
    if (!init || !image) {
        cli_error("%s: out of memory", d.s.model);
        goto done;
    }
    if (xattn_image_read_sample(d.input, info.in_channels, size, init, &err) != XATTN_OK)
        goto library_error;

    cli_progress progress;
    cli_progress_start(&progress, !d.s.quiet && isatty(STDERR_FILENO));
    d.s.params.progress = cli_progress_step;
    d.s.params.progress_user = &progress;
    int n_run = (int)((double)d.s.params.steps * d.strength);
    if (n_run > d.s.params.steps) n_run = d.s.params.steps;
    cli_progress_step(0, n_run, &progress);
    xattn_status st =
        xattn_denoise(in.model, in.cond, in.uncond, &d.s.params, init, d.strength, image, &err);
    cli_progress_finish(&progress);
    if (st != XATTN_OK) goto library_error;

    if (write_output(&d, image, info.out_channels, size, in.cond, in.uncond) != 0) goto done;
    heat_code = heat_options_write(&d.heat, image, 1, info.out_channels, size);
    if (heat_code != 0) {
        code = heat_code;
        goto done;
    }
    if (!d.s.quiet && !isatty(STDERR_FILENO)) {
        fprintf(stderr, "wrote %s (%d of %d steps, %.1f s)\n", d.output, n_run, d.s.params.steps,
                cli_now() - progress.start);
        if (d.heat.dir) fprintf(stderr, "wrote heatmaps to %s\n", d.heat.dir);
    }
    code = CLI_EXIT_OK;
    goto done;

library_error:
    cli_lib_error(&err);
done:
    heat_options_free(&d.heat);
    free(image);
    free(init);
    sampling_inputs_free(&in);
    return code;
}
