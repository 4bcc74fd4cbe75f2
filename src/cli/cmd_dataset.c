/* cmd_dataset.c — `xattn dataset`: draws the shapes world into a folder (src/world,
 * docs/shapes-world.md). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "progress.h"
#include "xattn_shapes.h"

static const char dataset_usage[] =
    "usage: xattn dataset -o DIR --count N [--seed S] [--split train|holdout]\n"
    "\n"
    "Draws N images of the shapes world: 32x32 scenes of 1-3 flat-coloured shapes with a\n"
    "caption and ground truth. Image i depends only on (seed, split, i), so a bigger set\n"
    "extends a smaller one. The holdout split's images each contain a colour-shape pair that\n"
    "never appears in train (docs/shapes-world.md).\n"
    "\n"
    "  -o, --output DIR       output folder (created): images, masks, truth.jsonl, world.json\n"
    "                                                                         required\n"
    "  -n, --count N          images, 1..10000000                             required\n"
    "  -s, --seed S           0..2^64-1                                       default 0\n"
    "      --split NAME       train or holdout                                default train\n"
    "      --format FMT       png: images/NNNNNN.png and masks/NNNNNN.png    default png\n"
    "                         npy: images.npy [N,32,32,3], masks.npy [N,32,32] (uint8),\n"
    "                         much faster for large sets\n"
    "  -q, --quiet            no progress or summary on stderr\n"
    "  -h, --help             show this help\n";

enum { OPT_OUTPUT = 1, OPT_COUNT, OPT_SEED, OPT_SPLIT, OPT_FORMAT, OPT_QUIET, OPT_HELP };

static const cli_option dataset_options[] = {
    {'o', "output", 1, OPT_OUTPUT}, {'n', "count", 1, OPT_COUNT}, {'s', "seed", 1, OPT_SEED},
    {0, "split", 1, OPT_SPLIT},     {0, "format", 1, OPT_FORMAT}, {'q', "quiet", 0, OPT_QUIET},
    {'h', "help", 0, OPT_HELP},
};

/* "dataset 12000/100000", redrawn in place on a terminal. */
static int dataset_progress(int done, int total, void *user) {
    (void)user;
    fprintf(stderr, "\rdataset %d/%d", done, total);
    if (done == total)
        fputc('\n', stderr);
    return 0;
}

typedef struct dataset_args {
    const char *dir;
    int count, quiet;
    uint64_t seed;
    world_split split;
    world_format format;
} dataset_args;

/* One option of dataset's (cli_parse_options): 0 when taken, else an error was printed. */
static int dataset_option(void *ctx, int id, const char *name, const char *value) {
    dataset_args *d = ctx;
    switch (id) {
    case CLI_POSITIONAL:
        cli_error("%s: unexpected argument (see xattn dataset --help)", value);
        return 1;
    case OPT_OUTPUT:
        if (!value[0]) {
            cli_error("%s: empty folder name", name);
            return 1;
        }
        d->dir = value;
        return 0;
    case OPT_COUNT: return cli_parse_int(name, value, 1, WORLD_MAX_COUNT, &d->count) != 0;
    case OPT_SEED: return cli_parse_u64(name, value, &d->seed) != 0;
    case OPT_SPLIT: {
        int s = world_lookup(world_split_names, WORLD_N_SPLITS, value);
        if (s < 0) {
            cli_error("%s: '%s' is not train or holdout", name, value);
            return 1;
        }
        d->split = (world_split)s;
        return 0;
    }
    case OPT_FORMAT:
        if (strcmp(value, "png") == 0) {
            d->format = WORLD_FORMAT_PNG;
        } else if (strcmp(value, "npy") == 0) {
            d->format = WORLD_FORMAT_NPY;
        } else {
            cli_error("%s: '%s' is not png or npy", name, value);
            return 1;
        }
        return 0;
    case OPT_QUIET: d->quiet = 1; return 0;
    }
    return 0;
}

int cmd_dataset(int argc, char **argv) {
    dataset_args d = {NULL, 0, 0, 0, WORLD_TRAIN, WORLD_FORMAT_PNG};
    int code = cli_parse_options(argc, argv, dataset_options,
                                 sizeof dataset_options / sizeof dataset_options[0], OPT_HELP,
                                 dataset_usage, dataset_option, &d);
    if (code != 0) return cli_exit_code(code);
    const char *dir = d.dir;
    int count = d.count, quiet = d.quiet;
    uint64_t seed = d.seed;
    world_split split = d.split;
    world_format format = d.format;
    if (!dir) {
        cli_error("-o: missing (the output folder; see xattn dataset --help)");
        return CLI_EXIT_USAGE;
    }
    if (count == 0) {
        cli_error("--count: missing (the number of images; see xattn dataset --help)");
        return CLI_EXIT_USAGE;
    }

    double start = cli_now();
    xattn_error err = {0};
    int show = !quiet && isatty(STDERR_FILENO);
    if (world_write_dataset(dir, seed, split, (size_t)count, format, show ? dataset_progress : NULL,
                            NULL, &err) != XATTN_OK) {
        cli_lib_error(&err);
        return CLI_EXIT_INPUT;
    }
    double secs = cli_now() - start;
    if (!quiet)
        fprintf(stderr, "wrote %d %s images to %s in %.1f s (%.0f images/s)\n", count,
                world_split_names[split], dir, secs, secs > 0 ? count / secs : 0.0);
    return CLI_EXIT_OK;
}
