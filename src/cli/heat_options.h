/* heat_options.h — the heatmap and re-weighting options that sampling commands share:
 *   --heatmaps DIR, --heat-layers SPEC, --heat-heads SPEC, --heat-steps A:B, --reweight W=F,
 *   --heat-format png|jpg|jpeg|bmp|tga (the overlays' and the grid's format, default png).
 *
 * A command lists them in its option table, passes each one it meets to heat_option(), calls
 * heat_options_prepare() once the model and prompt are loaded (it fills the generation
 * parameters), and heat_options_write() after its images are written. Every function prints its
 * own error ("xattn: <option>: ...") and returns an exit code, or 0 to go on. */
#ifndef XATTN_CLI_HEAT_OPTIONS_H
#define XATTN_CLI_HEAT_OPTIONS_H

#include <stddef.h>

#include "xattn_io.h"
#include "xattn.h"

#define HEAT_MAX_REWEIGHTS 32

typedef struct heat_options {
    const char *dir;                  /* --heatmaps DIR, or NULL */
    int keep_steps;                   /* set by a command that wants per-step maps (--html) */
    const char *layers, *heads;       /* specs, or NULL = all */
    const char *steps;                /* --heat-steps as given, or NULL = all */
    int step_begin, step_end;         /* --heat-steps, parsed */
    const char *reweight[HEAT_MAX_REWEIGHTS]; /* "WORD=FACTOR" as given */
    float factor[HEAT_MAX_REWEIGHTS];
    size_t n_reweight;
    char reweight_text[256];          /* "red=2,blue=0.5" for the PNG's text chunks */
    float *token_scale;               /* [prompt tokens], or NULL */
    xattn_heatmaps *heatmaps;         /* or NULL */
    const char *format;               /* --heat-format as given, or NULL = png */
    xattn_image_options image;        /* the overlays' format (PNG unless --heat-format) and the
                                       * JPEG quality (the command sets it from --quality) */
} heat_options;

void heat_options_init(heat_options *o);
void heat_options_free(heat_options *o);

/* One option by its display name ("--heatmaps", "--heat-layers", ...): 0, or -1 after printing
 * the error (exit 2). Returns 1 when the name is not one of these options. */
int heat_option(heat_options *o, const char *name, const char *value);

/* After parsing: options that need --heatmaps without it. Exit code, or 0 to go on. */
int heat_options_check(const heat_options *o);

/* An output file (-o, --html) that lies inside the --heatmaps folder would be swapped out and
 * deleted with the old folder: prints "xattn: <path>: lies inside <dir>, ..." and returns
 * CLI_EXIT_USAGE for the first such path (compared by device and inode, whatever the spelling:
 * "./hm/../hm/x.png", a link to the folder), or 0 when none does (or without --heatmaps). */
int heat_options_check_outputs(const heat_options *o, const char *const *paths, size_t n);

/* Resolves --heat-layers, --heat-heads and --heat-steps against the model for a run of
 * steps_run sampling steps (int(N x strength) when denoising) into *hp (initialised here).
 * 0, or an exit code (2: a spec does not fit). */
int heat_options_params(const heat_options *o, const xattn_model *m, int steps_run,
                        xattn_heatmap_params *hp);

/* Resolves the options and words against the model and prompt for a run of steps_run steps
 * and sets p->heatmaps and p->token_scale. Exit code (2: an option does not fit the model or
 * prompt), or 0. */
int heat_options_prepare(heat_options *o, const xattn_model *m, const xattn_prompt *cond,
                         int steps_run, xattn_generate_params *p);

/* Writes every image's heatmaps: DIR for one image, DIR/<k> for image k of several.
 * images: [batch, channels, size, size] in [-1, 1], channels 1 or 3. 0, or an exit code. */
int heat_options_write(const heat_options *o, const float *images, size_t batch, int channels,
                       size_t size);

#endif
