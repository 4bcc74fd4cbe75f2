/* cmd_compare.c — `xattn compare A.png B.png [--diff OUT.png] [--tolerance MAXABS]
 * [--min-psnr DB] [--json]`: pixel differences of two images of one size (docs/compare.md);
 * two .safetensors files go to compare_tensor_files (compare_tensors.c) with --atol.
 *
 * Exit 0 when the images are within tolerance, 1 past it (one stderr line says by how much) or
 * when an input is wrong (missing, unreadable, sizes differ), 2 for a bad command line. The
 * default tolerance is max abs 0: the images must be identical. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "output_path.h"
#include "commands.h"
#include "compare.h"
#include "xattn_io.h"

static const char compare_usage[] =
    "usage: xattn compare A.png B.png [--diff OUT.png] [--tolerance MAXABS] [--min-psnr DB]\n"
    "                     [--json]\n"
    "       xattn compare A.safetensors B.safetensors [--atol X] [--json]\n"
    "\n"
    "Compares two images of the same size (any format stb_image reads, as 8-bit RGB) and\n"
    "reports the max and mean absolute difference (0-255 units), PSNR in dB (inf when\n"
    "identical) and the number of differing pixels.\n"
    "\n"
    "  --diff OUT.png       write the difference image: min(255, 8 |A - B|) per channel\n"
    "  --tolerance MAXABS   pass when max abs difference <= MAXABS, 0..255     default 0\n"
    "                       (with --min-psnr alone, no max-abs limit)\n"
    "  --min-psnr DB        pass only when PSNR >= DB (identical = inf)\n"
    "  --json               print one JSON object on stdout\n"
    "\n"
    "Two .safetensors files (heatmaps.safetensors, say) are compared tensor by tensor (same\n"
    "names and shapes): max and mean absolute difference and the worst element; their\n"
    "metadata must be equal.\n"
    "  --atol X             pass when every tensor's max abs difference <= X    default 0\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit codes: 0 within tolerance, 1 past tolerance or an input is wrong (missing, unreadable,\n"
    "different sizes), 2 the command line is wrong.\n";

enum { OPT_DIFF = 1, OPT_TOLERANCE, OPT_MIN_PSNR, OPT_ATOL, OPT_JSON, OPT_HELP };

static const cli_option compare_options[] = {
    {0, "diff", 1, OPT_DIFF},         {0, "tolerance", 1, OPT_TOLERANCE},
    {0, "min-psnr", 1, OPT_MIN_PSNR}, {0, "atol", 1, OPT_ATOL},
    {0, "json", 0, OPT_JSON},
    {'h', "help", 0, OPT_HELP},
};

static const char channel_names[3] = {'R', 'G', 'B'};

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Parses argv into *req; returns -1 for --help (usage printed), CLI_EXIT_USAGE after an error,
 * CLI_EXIT_OK otherwise. */
typedef struct compare_parse {
    compare_request *req;
    int has_tolerance, tolerance;
} compare_parse;

/* One option of compare's (cli_parse_options): 0 when taken, else an error was printed. */
static int compare_option(void *ctx, int id, const char *name, const char *value) {
    compare_parse *c = ctx;
    compare_request *req = c->req;
    float f;
    switch (id) {
    case CLI_POSITIONAL:
        if (!req->path_a) {
            req->path_a = value;
        } else if (!req->path_b) {
            req->path_b = value;
        } else {
            cli_error("%s: unexpected argument: compare takes two images (see xattn compare --help)",
                      value);
            return 1;
        }
        return 0;
    case OPT_DIFF:
        if (!value[0]) {
            cli_error("%s: empty file name", name);
            return 1;
        }
        req->diff_path = value;
        return 0;
    case OPT_TOLERANCE:
        c->has_tolerance = 1;
        return cli_parse_int(name, value, 0, 255, &c->tolerance) != 0;
    case OPT_MIN_PSNR:
        if (cli_parse_float(name, value, 0.0, &f) != 0) return 1;
        req->has_min_psnr = 1;
        req->min_psnr_db = f;
        return 0;
    case OPT_ATOL:
        if (cli_parse_float(name, value, 0.0, &f) != 0) return 1;
        req->has_atol = 1;
        req->atol = strtod(value, NULL); /* validated above; kept in double precision */
        return 0;
    case OPT_JSON: req->json = 1; return 0;
    }
    return 1;
}

/* 0 to go on, else as cli_parse_options. */
static int parse_compare_args(int argc, char **argv, compare_request *req) {
    memset(req, 0, sizeof *req);
    req->min_psnr_db = -INFINITY;
    compare_parse c = {req, 0, 0};
    int code = cli_parse_options(argc, argv, compare_options,
                                 sizeof compare_options / sizeof compare_options[0], OPT_HELP,
                                 compare_usage, compare_option, &c);
    if (code != 0) return code;
    int has_tolerance = c.has_tolerance, tolerance = c.tolerance;
    if (!req->path_b) {
        cli_error("%s: two images are needed (usage: xattn compare A.png B.png; see --help)",
                  req->path_a ? "B.png" : "A.png");
        return CLI_EXIT_USAGE;
    }
    if (req->diff_path && (cli_same_file(req->diff_path, req->path_a) ||
                           cli_same_file(req->diff_path, req->path_b))) { /* however spelled */
        cli_error("--diff: %s is an input image; refusing to overwrite it", req->diff_path);
        return CLI_EXIT_USAGE;
    }
    req->tensors = has_suffix(req->path_a, ".safetensors") && has_suffix(req->path_b, ".safetensors");
    if (req->tensors && (has_tolerance || req->has_min_psnr || req->diff_path)) {
        cli_error("%s: --tolerance, --min-psnr and --diff are for images; tensors take --atol",
                  has_tolerance ? "--tolerance" : req->has_min_psnr ? "--min-psnr" : "--diff");
        return CLI_EXIT_USAGE;
    }
    if (!req->tensors && req->has_atol) {
        cli_error("--atol: is for two .safetensors files; images take --tolerance or --min-psnr");
        return CLI_EXIT_USAGE;
    }
    /* The default is "identical"; a PSNR limit alone replaces it. */
    req->max_abs_limit = has_tolerance ? (unsigned)tolerance : req->has_min_psnr ? 255u : 0u;
    return CLI_EXIT_OK;
}

/* Writes the difference image atomically; 0 or CLI_EXIT_INPUT after printing the error. */
static int write_diff(const char *path, const uint8_t *a, const uint8_t *b, size_t w, size_t h) {
    uint8_t *diff = malloc(w * h * 3); /* [h, w, 3]; w h 3 checked by xattn_image_compare */
    if (!diff) {
        cli_error("%s: out of memory for a %zux%zu difference image", path, w, h);
        return CLI_EXIT_INPUT;
    }
    xattn_image_diff_render(a, b, w, h, diff);
    const xattn_text_pair text[] = {
        {"Description", "xattn compare difference image: min(255, 8 |A - B|) per channel"},
    };
    xattn_error err = {0};
    xattn_status st = xattn_png_write(path, diff, w, h, 3, text, 1, NULL, &err);
    free(diff);
    if (st != XATTN_OK) {
        cli_lib_error(&err);
        return CLI_EXIT_INPUT;
    }
    return CLI_EXIT_OK;
}

static int print_json(const compare_request *req, const xattn_image_diff *s, int within) {
    cJSON *o = cJSON_CreateObject();
    if (!o) goto nomem;
    cJSON_AddStringToObject(o, "a", req->path_a);
    cJSON_AddStringToObject(o, "b", req->path_b);
    cJSON_AddNumberToObject(o, "width", (double)s->width);
    cJSON_AddNumberToObject(o, "height", (double)s->height);
    cJSON_AddNumberToObject(o, "max_abs_diff", s->max_abs);
    cJSON_AddNumberToObject(o, "mean_abs_diff", s->mean_abs);
    cJSON_AddNumberToObject(o, "mse", s->mse);
    if (isinf(s->psnr_db))
        cJSON_AddNullToObject(o, "psnr_db"); /* identical: JSON has no infinity */
    else
        cJSON_AddNumberToObject(o, "psnr_db", s->psnr_db);
    cJSON_AddBoolToObject(o, "identical", s->max_abs == 0);
    cJSON_AddNumberToObject(o, "differing_pixels", (double)s->differing_pixels);
    cJSON_AddNumberToObject(o, "pixels", (double)(s->width * s->height));
    if (s->max_abs > 0) {
        cJSON *w = cJSON_AddObjectToObject(o, "worst");
        if (!w) goto nomem;
        cJSON_AddNumberToObject(w, "x", (double)s->worst_x);
        cJSON_AddNumberToObject(w, "y", (double)s->worst_y);
        char ch[2] = {channel_names[s->worst_channel], '\0'};
        cJSON_AddStringToObject(w, "channel", ch);
        cJSON_AddNumberToObject(w, "a", s->worst_a);
        cJSON_AddNumberToObject(w, "b", s->worst_b);
    } else {
        cJSON_AddNullToObject(o, "worst");
    }
    cJSON_AddNumberToObject(o, "max_abs_limit", req->max_abs_limit);
    if (req->has_min_psnr)
        cJSON_AddNumberToObject(o, "min_psnr_db", req->min_psnr_db);
    else
        cJSON_AddNullToObject(o, "min_psnr_db");
    cJSON_AddBoolToObject(o, "within_tolerance", within);
    if (req->diff_path)
        cJSON_AddStringToObject(o, "diff", req->diff_path);
    else
        cJSON_AddNullToObject(o, "diff");
    if (!cli_print_json(o)) goto nomem_deleted;
    return CLI_EXIT_OK;
nomem:
    cJSON_Delete(o);
nomem_deleted:
    cli_error("json: out of memory");
    return CLI_EXIT_INPUT;
}

static void print_text(const compare_request *req, const xattn_image_diff *s, int within) {
    printf("a: %s\nb: %s\n", req->path_a, req->path_b);
    printf("size: %zux%zu\n", s->width, s->height);
    printf("max_abs_diff: %u\n", s->max_abs);
    printf("mean_abs_diff: %.6f\n", s->mean_abs);
    if (isinf(s->psnr_db))
        printf("psnr_db: inf\n");
    else
        printf("psnr_db: %.3f\n", s->psnr_db);
    printf("differing_pixels: %zu of %zu\n", s->differing_pixels, s->width * s->height);
    if (s->max_abs > 0)
        printf("worst: x %zu, y %zu, channel %c: %u vs %u\n", s->worst_x, s->worst_y,
               channel_names[s->worst_channel], s->worst_a, s->worst_b);
    printf("tolerance: max_abs_diff <= %u", req->max_abs_limit);
    if (req->has_min_psnr) printf(", psnr_db >= %g", req->min_psnr_db);
    putchar('\n');
    if (req->diff_path) printf("diff: %s\n", req->diff_path);
    printf("result: %s\n", s->max_abs == 0 ? "identical" : within ? "within tolerance" : "past tolerance");
}

int cmd_compare(int argc, char **argv) {
    compare_request req;
    int code = parse_compare_args(argc, argv, &req);
    if (code != 0) return cli_exit_code(code);
    if (req.tensors) return compare_tensor_files(&req);

    uint8_t *a = NULL, *b = NULL; /* [h, w, 3] each */
    size_t wa, ha, wb, hb;
    xattn_error err = {0};
    if (xattn_image_read_rgb(req.path_a, &a, &wa, &ha, &err) != XATTN_OK ||
        xattn_image_read_rgb(req.path_b, &b, &wb, &hb, &err) != XATTN_OK) {
        cli_lib_error(&err);
        code = CLI_EXIT_INPUT;
        goto done;
    }
    if (wa != wb || ha != hb) {
        cli_error("%s: size %zux%zu differs from %s's %zux%zu", req.path_b, wb, hb, req.path_a, wa, ha);
        code = CLI_EXIT_INPUT;
        goto done;
    }
    xattn_image_diff stats;
    if (xattn_image_compare(a, b, wa, ha, &stats, &err) != XATTN_OK) {
        cli_lib_error(&err);
        code = CLI_EXIT_INPUT;
        goto done;
    }
    if (req.diff_path && (code = write_diff(req.diff_path, a, b, wa, ha)) != CLI_EXIT_OK) goto done;

    int within = xattn_image_diff_within(&stats, req.max_abs_limit, req.min_psnr_db);
    if (req.json) {
        if ((code = print_json(&req, &stats, within)) != CLI_EXIT_OK) goto done;
    } else {
        print_text(&req, &stats, within);
    }
    if (!within) {
        fflush(stdout);
        if (stats.max_abs > req.max_abs_limit)
            cli_error("%s: differs from %s past tolerance: max abs difference %u > %u", req.path_b,
                      req.path_a, stats.max_abs, req.max_abs_limit);
        else
            cli_error("%s: differs from %s past tolerance: PSNR %.3f dB < %g dB", req.path_b,
                      req.path_a, stats.psnr_db, req.min_psnr_db);
        code = CLI_EXIT_INPUT;
    }
done:
    free(a);
    free(b);
    return code;
}
