/* cmd_serve.c — `xattn serve`: parses the options, starts the server (src/serve/), waits for
 * SIGINT or SIGTERM and stops it. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "xattn_serve.h"

static const char serve_usage[] =
    "usage: xattn serve -m MODEL [--prompts DIR] [--host ADDR] [--port N] [-t THREADS]\n"
    "                   [--queue N] [--cors ORIGIN] [--quiet]\n"
    "\n"
    "Serves the cross-attention explorer page (GET /) and an AUTOMATIC1111-style API\n"
    "(POST /sdapi/v1/txt2img, GET /sdapi/v1/progress, /sdapi/v1/sd-models, /healthz) over HTTP;\n"
    "see docs/serve.md. Stops on SIGINT or SIGTERM.\n"
    "\n"
    "  -m, --model DIR      model folder (diffusers layout)                  required\n"
    "      --prompts DIR    prompt-embedding files whose texts requests may use\n"
    "      --host ADDR      address to listen on                             default 127.0.0.1\n"
    "                       (any other address is reachable from elsewhere: a warning is printed)\n"
    "      --port N         port, 0 = any free one                           default 7860\n"
    "  -t, --threads N      generation threads, 0..256 (0 = one per core)    default 0\n"
    "      --queue N        requests that may wait behind the running one,\n"
    "                       1..64; more are answered 429                     default 4\n"
    "      --cors ORIGIN    an origin (e.g. http://localhost:3000) whose pages may call the API\n"
    "  -q, --quiet          no request log on stderr\n"
    "  -h, --help           show this help\n";

enum { OPT_MODEL = 1, OPT_PROMPTS, OPT_HOST, OPT_PORT, OPT_THREADS, OPT_QUEUE, OPT_CORS, OPT_QUIET, OPT_HELP };

static const cli_option serve_options[] = {
    {'m', "model", 1, OPT_MODEL}, {0, "prompts", 1, OPT_PROMPTS}, {0, "host", 1, OPT_HOST},
    {0, "port", 1, OPT_PORT},     {'t', "threads", 1, OPT_THREADS}, {0, "queue", 1, OPT_QUEUE},
    {0, "cors", 1, OPT_CORS},     {'q', "quiet", 0, OPT_QUIET},   {'h', "help", 0, OPT_HELP},
};

static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t n = write(stop_pipe[1], &b, 1);
    (void)n;
    errno = saved;
}

/* One option of serve's (cli_parse_options): 0 when taken, else an error was printed. */
static int serve_option(void *ctx, int id, const char *name, const char *value) {
    serve_config *c = ctx;
    switch (id) {
    case CLI_POSITIONAL:
        cli_error("%s: unexpected argument (options are -m MODEL ...)", value);
        return 1;
    case OPT_MODEL: c->model_dir = value; return 0;
    case OPT_PROMPTS: c->prompts_dir = value; return 0;
    case OPT_HOST: c->host = value; return 0;
    case OPT_PORT: return cli_parse_int(name, value, 0, 65535, &c->port) != 0;
    case OPT_THREADS: return cli_parse_int(name, value, 0, 256, &c->threads) != 0;
    case OPT_QUEUE: return cli_parse_int(name, value, 1, 64, &c->queue) != 0;
    case OPT_CORS:
        if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0) {
            cli_error("%s: '%s' is not an origin (http://HOST[:PORT])", name, value);
            return 1;
        }
        c->cors = value;
        return 0;
    case OPT_QUIET: c->quiet = 1; return 0;
    }
    return 0;
}

int cmd_serve(int argc, char **argv) {
    serve_config c = {.port = SERVE_DEFAULT_PORT, .queue = SERVE_DEFAULT_QUEUE};
    int code = cli_parse_options(argc, argv, serve_options,
                                 sizeof serve_options / sizeof serve_options[0], OPT_HELP,
                                 serve_usage, serve_option, &c);
    if (code != 0) return cli_exit_code(code);
    if (!c.model_dir) {
        cli_error("-m: missing: the model folder is required (see xattn serve --help)");
        return CLI_EXIT_USAGE;
    }

    /* SIGINT and SIGTERM may arrive on any thread (OpenBLAS starts its own before main), so the
     * handler only writes the signal's number into a pipe that this thread reads. */
    if (pipe(stop_pipe) != 0) {
        cli_error("serve: cannot create a pipe: %s", strerror(errno));
        return CLI_EXIT_INPUT;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    serve *s = NULL;
    char err[512];
    if (serve_start(&c, &s, err) != 0) {
        cli_error("%s", err);
        return CLI_EXIT_INPUT;
    }
    const char *host = c.host ? c.host : "127.0.0.1";
    if (strcmp(host, "127.0.0.1") != 0 && strcmp(host, "localhost") != 0 && strcmp(host, "::1") != 0)
        fprintf(stderr, "xattn serve: warning: listening on %s: other machines can reach this "
                        "server, which has no authentication\n", host);
    fprintf(stderr, "xattn serve: listening on http://%s%s%s:%d/ (model %s)\n",
            strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", serve_port(s),
            c.model_dir);
    unsigned char sig = 0;
    while (read(stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    fprintf(stderr, "xattn serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    serve_stop(s);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return CLI_EXIT_OK;
}
