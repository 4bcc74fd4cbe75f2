/* cmd_denoise.c — `xattn denoise`: an input image + prompt embeddings -> PNG (image-to-image).
 *
 * The input is read with stb_image (PNG, JPEG, BMP, ...) as 8-bit RGB, resized with
 * stb_image_resize to the model's sample_size when its size differs (a 1-channel model gets the
 * mean of R, G and B), and mapped to [-1, 1] as pixel / 127.5 - 1; xattn_denoise then noises it
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

#include <stb/stb_image_resize.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/heat_options.h"
#include "cli/output_path.h"
#include "cli/progress.h"
#include "cli/sampling_options.h"
#include "xattn_io.h"

static const char denoise_usage[] =
    "usage: xattn denoise -m MODEL -p PROMPT.safetensors -i INPUT --strength S [options]\n"
    "\n"
    "Denoises an input image towards a prompt (image-to-image, as diffusers' img2img): the\n"
    "image is noised to the level of step N - int(N * S) of the N-step schedule, then sampled\n"
    "from there; S near 0 keeps the input, 1 starts from (almost) pure noise.\n"
    "\n"
    "  -m, --model DIR        model folder (diffusers layout)                 required\n"
    "  -p, --prompt FILE      prompt embeddings                               required\n"
    "  -i, --input IMAGE      input image (PNG, JPEG, BMP, ...), resized to the model's size\n"
    "                                                                         required\n"
    "      --strength S       how much to change the input, in (0, 1]         required\n"
    "  -n, --negative FILE    negative prompt embeddings (default: the model's null prompt)\n"
    "  -s, --seed N           noise seed, 0..2^64-1                           default 0\n"
    "      --steps N          schedule steps, 1..1000 (int(N * S) of them run) default 50\n"
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
    "  -o, --output OUT.png   output image                                    default out.png\n"
    "  -q, --quiet            no progress bar or summary on stderr\n"
    "  -h, --help             show this help\n"
    "\n"
    "The PNG's text chunks record prompt, seed, steps, cfg, sampler, eta, model, input and\n"
    "strength (see `xattn info OUT.png`).\n";

enum {
    OPT_INPUT = SAMPLING_OPT_END, OPT_STRENGTH, OPT_OUTPUT, OPT_HELP,
    OPT_HEAT /* --heatmaps and the options of heat_options.h */
};

static const cli_option denoise_options[] = {
    {'m', "model", 1, SAMPLING_OPT_MODEL},       {'p', "prompt", 1, SAMPLING_OPT_PROMPT},
    {'i', "input", 1, OPT_INPUT},                {0, "strength", 1, OPT_STRENGTH},
    {'n', "negative", 1, SAMPLING_OPT_NEGATIVE}, {'s', "seed", 1, SAMPLING_OPT_SEED},
    {0, "steps", 1, SAMPLING_OPT_STEPS},         {0, "cfg", 1, SAMPLING_OPT_CFG},
    {0, "sampler", 1, SAMPLING_OPT_SAMPLER},     {0, "eta", 1, SAMPLING_OPT_ETA},
    {0, "karras", 0, SAMPLING_OPT_KARRAS},
    {'t', "threads", 1, SAMPLING_OPT_THREADS},   {'o', "output", 1, OPT_OUTPUT},
    {'q', "quiet", 0, SAMPLING_OPT_QUIET},       {'h', "help", 0, OPT_HELP},
    {0, "heatmaps", 1, OPT_HEAT},       {0, "heat-layers", 1, OPT_HEAT},
    {0, "heat-heads", 1, OPT_HEAT},     {0, "heat-steps", 1, OPT_HEAT},
    {0, "reweight", 1, OPT_HEAT},
};

typedef struct denoise_args {
    sampling_options s;        /* -m, -p, -n, -s, --steps, --cfg, --sampler, --eta, -t, -q */
    const char *input, *output;
    const char *strength_text; /* as given, for the PNG */
    double strength;           /* double: int(steps * strength) rounds as Python's does */
    heat_options heat;
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
static int parse_denoise_args(int argc, char **argv, denoise_args *d) {
    memset(d, 0, sizeof *d);
    sampling_options_init(&d->s);
    heat_options_init(&d->heat);
    d->output = "out.png";

    cli_args a;
    cli_args_init(&a, argc, argv, denoise_options,
                  sizeof denoise_options / sizeof denoise_options[0]);
    const char *name, *value;
    int id;
    while ((id = cli_args_next(&a, &name, &value)) != CLI_END) {
        int bad = sampling_option(&d->s, id, name, value);
        if (bad) {
            if (bad < 0) return CLI_EXIT_USAGE;
            continue;
        }
        switch (id) {
        case CLI_ERROR: return CLI_EXIT_USAGE;
        case CLI_POSITIONAL:
            cli_error("%s: unexpected argument (options are -m MODEL -p PROMPT -i INPUT ...)", value);
            return CLI_EXIT_USAGE;
        case OPT_HELP: fputs(denoise_usage, stdout); return CLI_EXIT_OK;
        case OPT_INPUT: d->input = value; break;
        case OPT_STRENGTH:
            bad = parse_strength(name, value, &d->strength);
            d->strength_text = value;
            break;
        case OPT_HEAT: bad = heat_option(&d->heat, name, value) != 0; break;
        case OPT_OUTPUT: d->output = value; break;
        }
        if (bad) return CLI_EXIT_USAGE;
    }
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
    return heat_options_check(&d->heat);
}

/* init[channels, size, size] in [-1, 1] from the input image (resized if needed). Prints the
 * error; returns 0 when fine. */
static int load_input(const char *path, int channels, size_t size, float *init) {
    uint8_t *rgb = NULL, *resized = NULL; /* [h, w, 3], [size, size, 3] */
    size_t w, h;
    xattn_error err = {0};
    if (xattn_image_read_rgb(path, &rgb, &w, &h, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return -1;
    }
    const uint8_t *px = rgb;
    if (w != size || h != size) {
        resized = malloc(size * size * 3);
        if (!resized || w > (size_t)INT32_MAX / 4 || h > (size_t)INT32_MAX / 4 ||
            !stbir_resize_uint8(rgb, (int)w, (int)h, 0, resized, (int)size, (int)size, 0, 3)) {
            cli_error("%s: cannot resize %zux%zu to %zux%zu", path, w, h, size, size);
            free(resized);
            free(rgb);
            return -1;
        }
        px = resized;
    }
    size_t plane = size * size;
    for (size_t k = 0; k < plane; k++) {
        if (channels == 1) {
            float mean = ((float)px[k * 3] + (float)px[k * 3 + 1] + (float)px[k * 3 + 2]) / 3.0f;
            init[k] = mean / 127.5f - 1.0f;
        } else {
            for (size_t c = 0; c < 3; c++) init[c * plane + k] = (float)px[k * 3 + c] / 127.5f - 1.0f;
        }
    }
    free(resized);
    free(rgb);
    return 0;
}

/* image [C, S, S] -> OUT.png with the parameters as text chunks. Prints the error; 0 = fine. */
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
    int ok = xattn_png_write_rgb(d->output, rgb, size, size, text.pairs, text.n, &err) == XATTN_OK;
    if (!ok) cli_lib_error(&err);
    free(rgb);
    return ok ? 0 : -1;
}

int cmd_denoise(int argc, char **argv) {
    denoise_args d;
    int code = parse_denoise_args(argc, argv, &d);
    if (code >= 0) {
        heat_options_free(&d.heat);
        return code;
    }

    sampling_inputs in = {0};
    float *init = NULL, *image = NULL;
    xattn_error err = {0};
    code = CLI_EXIT_INPUT;
    if (cli_check_output_path(d.output) != 0) goto done;
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
    if (heat_code >= 0) {
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
    if (load_input(d.input, info.in_channels, size, init) != 0) goto done;

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
    if (heat_code >= 0) {
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
