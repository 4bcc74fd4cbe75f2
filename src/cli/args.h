/* args.h — strict command-line parsing for the xattn program.
 *
 * Options are "-x VALUE", "-xVALUE", "--long VALUE" or "--long=VALUE"; flags take no value;
 * "--" ends the options. Every problem is reported as one line on stderr,
 * "xattn: <option>: <what is wrong>", and the caller exits with CLI_EXIT_USAGE. */
#ifndef XATTN_CLI_ARGS_H
#define XATTN_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "xattn.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_INPUT = 1, CLI_EXIT_USAGE = 2 };

#ifndef XATTN_VERSION_STRING
#define XATTN_VERSION_STRING "0.1.0"
#endif

typedef struct cli_option {
    char short_name;        /* 'm' for -m, 0 if none */
    const char *long_name;  /* "steps" for --steps, NULL if none */
    int takes_value;
    int id;                 /* > 0, returned by cli_args_next */
} cli_option;

enum { CLI_END = 0, CLI_POSITIONAL = -1, CLI_ERROR = -2 };

typedef struct cli_args {
    int argc;
    char **argv;
    int index;              /* next argv element */
    int only_positional;    /* after "--" */
    const cli_option *opts;
    size_t n_opts;
    char name_buf[64];      /* "-m" or "--steps" for the option just returned */
} cli_args;

/* argv[0] is the command name (not parsed); parsing starts at argv[1]. */
void cli_args_init(cli_args *a, int argc, char **argv, const cli_option *opts, size_t n_opts);

/* Returns the next option's id (its display name in *name, its value or NULL in *value),
 * CLI_POSITIONAL (*value = the argument), CLI_END, or CLI_ERROR after printing the error. */
int cli_args_next(cli_args *a, const char **name, const char **value);

/* The option loop every command shares. Reads argv[1..] against opts and calls
 * on_option(ctx, id, name, value) for each option, and for each positional argument (id
 * CLI_POSITIONAL, the argument in value); on_option returns 0 when it took the option, non-zero
 * after printing an error. The option help_id prints usage on stdout and ends the loop.
 * Returns 0 to go on (every argument taken), CLI_HELP_SHOWN after --help, or CLI_EXIT_USAGE
 * after an error was printed. A command turns the last two into its exit code with
 * cli_exit_code. */
enum { CLI_HELP_SHOWN = -3 };
typedef int (*cli_option_fn)(void *ctx, int id, const char *name, const char *value);
int cli_parse_options(int argc, char **argv, const cli_option *opts, size_t n_opts, int help_id,
                      const char *usage, cli_option_fn on_option, void *ctx);
/* The exit code of a parse that did not go on: 0 after --help, else the code itself. */
static inline int cli_exit_code(int code) { return code == CLI_HELP_SHOWN ? CLI_EXIT_OK : code; }

/* Number parsing: 0 on success; otherwise prints "xattn: <opt>: ..." and returns -1. */
int cli_parse_int(const char *opt, const char *s, long lo, long hi, int *out);
int cli_parse_u64(const char *opt, const char *s, uint64_t *out);
/* A finite number >= lo. */
int cli_parse_float(const char *opt, const char *s, double lo, float *out);

/* Prints "xattn: <formatted message>\n" on stderr (newlines in the message become spaces). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a library error: "xattn: <err->msg>". */
void cli_lib_error(const xattn_error *err);

/* Prints j compact, as one line on stdout (flushed), and frees it. Returns 1, or 0 when j is
 * NULL or printing runs out of memory (nothing printed; the caller reports it). */
struct cJSON;
int cli_print_json(struct cJSON *j);

#endif
