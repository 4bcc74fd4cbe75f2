#define _GNU_SOURCE /* vasprintf, asprintf */
#include "args.h"

#include <cjson/cJSON.h>
#include "xattn_io.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


void cli_error(const char *fmt, ...) {
    char line[2 * XATTN_ERROR_LEN];
    char *full = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&full, fmt, ap) < 0) full = NULL;
    va_end(ap);
    if (full) { /* a long name is shortened in its middle; the line still ends with the reason */
        xattn_message_fit(line, sizeof line, full);
        free(full);
    } else {
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
    }
    for (char *c = line; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    fprintf(stderr, "xattn: %s\n", line);
}

void cli_lib_error(const xattn_error *err) {
    cli_error("%s", err->msg[0] ? err->msg : xattn_status_name(err->status));
}

void cli_args_init(cli_args *a, int argc, char **argv, const cli_option *opts, size_t n_opts) {
    memset(a, 0, sizeof *a);
    a->argc = argc;
    a->argv = argv;
    a->index = 1;
    a->opts = opts;
    a->n_opts = n_opts;
}

/* "-1", "-0.5", ".5": a value that starts with '-' but is a number, not an option. */
static int looks_numeric(const char *s) {
    if (*s == '-') s++;
    if (*s == '.') s++;
    return isdigit((unsigned char)*s);
}

int cli_args_next(cli_args *a, const char **name, const char **value) {
    *name = NULL;
    *value = NULL;
    if (a->index >= a->argc) return CLI_END;
    char *arg = a->argv[a->index++];
    if (a->only_positional || arg[0] != '-' || arg[1] == '\0') {
        *value = arg;
        return CLI_POSITIONAL;
    }
    if (strcmp(arg, "--") == 0) {
        a->only_positional = 1;
        return cli_args_next(a, name, value);
    }

    const cli_option *opt = NULL;
    const char *inline_value = NULL;
    if (arg[1] == '-') {
        const char *long_name = arg + 2;
        const char *eq = strchr(long_name, '=');
        size_t len = eq ? (size_t)(eq - long_name) : strlen(long_name);
        for (size_t i = 0; i < a->n_opts; i++) {
            const char *ln = a->opts[i].long_name;
            if (ln && strlen(ln) == len && strncmp(ln, long_name, len) == 0) opt = &a->opts[i];
        }
        snprintf(a->name_buf, sizeof a->name_buf, "--%.*s", (int)(len < 40 ? len : 40), long_name);
        if (!opt) {
            cli_error("%s: unknown option", a->name_buf);
            return CLI_ERROR;
        }
        if (eq) inline_value = eq + 1;
    } else {
        for (size_t i = 0; i < a->n_opts; i++)
            if (a->opts[i].short_name && a->opts[i].short_name == arg[1]) opt = &a->opts[i];
        snprintf(a->name_buf, sizeof a->name_buf, "-%c", arg[1]);
        if (!opt) {
            cli_error("%s: unknown option", a->name_buf);
            return CLI_ERROR;
        }
        if (arg[2] != '\0') inline_value = arg + 2;
    }
    *name = a->name_buf;

    if (!opt->takes_value) {
        if (inline_value) {
            cli_error("%s: takes no value", a->name_buf);
            return CLI_ERROR;
        }
        return opt->id;
    }
    if (inline_value) {
        *value = inline_value;
    } else {
        if (a->index >= a->argc) {
            cli_error("%s: missing value", a->name_buf);
            return CLI_ERROR;
        }
        const char *next = a->argv[a->index];
        if (next[0] == '-' && next[1] != '\0' && !looks_numeric(next)) {
            cli_error("%s: missing value (got option %s)", a->name_buf, next);
            return CLI_ERROR;
        }
        *value = a->argv[a->index++];
    }
    if ((*value)[0] == '\0') {
        cli_error("%s: empty value", a->name_buf);
        return CLI_ERROR;
    }
    return opt->id;
}

int cli_parse_options(int argc, char **argv, const cli_option *opts, size_t n_opts, int help_id,
                      const char *usage, cli_option_fn on_option, void *ctx) {
    cli_args a;
    cli_args_init(&a, argc, argv, opts, n_opts);
    const char *name, *value;
    int id;
    while ((id = cli_args_next(&a, &name, &value)) != CLI_END) {
        if (id == CLI_ERROR) return CLI_EXIT_USAGE;
        if (id == help_id) {
            fputs(usage, stdout);
            return CLI_HELP_SHOWN;
        }
        if (on_option(ctx, id, name, value) != 0) return CLI_EXIT_USAGE;
    }
    return 0;
}

int cli_parse_int(const char *opt, const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || isspace((unsigned char)s[0])) {
        cli_error("%s: '%s' is not an integer", opt, s);
        return -1;
    }
    if (errno == ERANGE || v < lo || v > hi) {
        cli_error("%s: %s is out of range %ld..%ld", opt, s, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_u64(const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    /* strtoull accepts "-1" (as 2^64-1) and leading spaces: refuse both */
    if (!isdigit((unsigned char)s[0])) {
        cli_error("%s: '%s' is not an unsigned integer", opt, s);
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0') {
        cli_error("%s: '%s' is not an unsigned integer", opt, s);
        return -1;
    }
    if (errno == ERANGE || v > UINT64_MAX) {
        cli_error("%s: %s is out of range 0..%llu", opt, s, (unsigned long long)UINT64_MAX);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_float(const char *opt, const char *s, double lo, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || isspace((unsigned char)s[0])) {
        cli_error("%s: '%s' is not a number", opt, s);
        return -1;
    }
    if (!isfinite(v) || fabs(v) > 3.0e38) { /* (underflow to ~0 is fine) */
        cli_error("%s: '%s' is not a finite number", opt, s);
        return -1;
    }
    if (v < lo) {
        cli_error("%s: %s must be >= %g", opt, s, lo);
        return -1;
    }
    *out = (float)v;
    return 0;
}

int cli_print_json(cJSON *j) {
    char *text = j ? xattn_json_print(j, 0) : NULL; /* valid UTF-8 whatever the strings hold */
    cJSON_Delete(j);
    if (!text) return 0;
    fputs(text, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    cJSON_free(text);
    return 1;
}
