/* main.c — the xattn program: dispatches to a subcommand. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "args.h"
#include "commands.h"

static const char usage_text[] =
    "usage: xattn <command> [options]\n"
    "\n"
    "commands:\n"
    "  generate   generate images from a prompt-embedding file\n"
    "  info       describe a safetensors file, a model folder, or a PNG's metadata\n"
    "  dataset    draw the procedural shapes world (images, captions, ground truth)\n"
    "  eval       score the shapes world: prompt adherence, heatmap mIoU (eval adherence |\n             eval heatmaps)\n"
    "  compare    compare two images: max/mean abs difference, PSNR, a difference image\n"
    "  denoise    denoise an input image towards a prompt (image-to-image)\n"
    "  encode     encode a text into a prompt-embedding file (the text encoder, in C)\n"
    "  serve      the cross-attention explorer in the browser and an A1111-style HTTP API\n"
    "\n"
    "options:\n"
    "  -h, --help     show this help\n"
    "  --version      show the version\n"
    "\n"
    "Run 'xattn <command> --help' for a command's options.\n"
    "Exit codes: 0 done, 1 the input or environment is wrong, 2 the command line is wrong.\n";

/* Reports a failed write to stdout (a full disk, a closed pipe) as an input/environment error. */
static int finish(int code) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("stdout: write error");
        return code == CLI_EXIT_OK ? CLI_EXIT_INPUT : code;
    }
    return code;
}

/* The kernels' OpenMP threads should sleep, not spin, while they wait: spinning threads on a
 * machine whose cores are busy with other work slow generation down by up to 40x (measured),
 * and sleeping ones cost nothing measurable on an idle machine. libgomp reads the policy from
 * the environment when it loads, so the program sets it and starts itself again, once. */
static void prefer_passive_openmp(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 0) != 0) return;
    execv("/proc/self/exe", argv); /* on failure, carry on with the default policy */
}

int main(int argc, char **argv) {
    prefer_passive_openmp(argv);
    if (argc < 2) {
        cli_error("command: missing (usage: xattn <command> [options]; see xattn --help)");
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return finish(CLI_EXIT_OK);
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("xattn %s\n", XATTN_VERSION_STRING);
        return finish(CLI_EXIT_OK);
    }
    if (strcmp(cmd, "generate") == 0) return finish(cmd_generate(argc - 1, argv + 1));
    if (strcmp(cmd, "info") == 0) return finish(cmd_info(argc - 1, argv + 1));
    if (strcmp(cmd, "dataset") == 0) return finish(cmd_dataset(argc - 1, argv + 1));
    if (strcmp(cmd, "eval") == 0) return finish(cmd_eval(argc - 1, argv + 1));
    if (strcmp(cmd, "compare") == 0) return finish(cmd_compare(argc - 1, argv + 1));
    if (strcmp(cmd, "denoise") == 0) return finish(cmd_denoise(argc - 1, argv + 1));
    if (strcmp(cmd, "encode") == 0) return finish(cmd_encode(argc - 1, argv + 1));
    if (strcmp(cmd, "serve") == 0) return finish(cmd_serve(argc - 1, argv + 1));
    if (cmd[0] == '-')
        cli_error("%s: unknown option (see xattn --help)", cmd);
    else
        cli_error("%s: unknown command (see xattn --help)", cmd);
    return CLI_EXIT_USAGE;
}
