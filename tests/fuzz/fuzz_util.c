/* fuzz_util.c — the harnesses' scratch file and error-contract check (see fuzz.h). */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch_path[4096]; /* "" until the first fuzz_temp_file */

static void remove_scratch(void) {
    if (scratch_path[0]) unlink(scratch_path);
}

void fuzz_require(int ok, const char *what) {
    if (ok) return;
    fprintf(stderr, "fuzz harness: %s\n", what);
    abort();
}

/* scratch_path = <dir>/xattn-fuzz-<pid><suffix> in the first of $XATTN_FUZZ_TMP, /dev/shm,
 * /tmp that accepts a file. */
static void choose_scratch(const char *suffix) {
    const char *env = getenv("XATTN_FUZZ_TMP");
    const char *dirs[] = {env && env[0] ? env : "/dev/shm", "/dev/shm", "/tmp"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        int n = snprintf(scratch_path, sizeof scratch_path, "%s/xattn-fuzz-%ld%s", dirs[i],
                         (long)getpid(), suffix);
        if (n <= 0 || (size_t)n >= sizeof scratch_path) continue;
        FILE *fp = fopen(scratch_path, "wb");
        if (!fp) continue;
        fclose(fp);
        atexit(remove_scratch);
        return;
    }
    scratch_path[0] = '\0';
    fuzz_require(0, "no writable scratch folder ($XATTN_FUZZ_TMP, /dev/shm, /tmp)");
}

const char *fuzz_temp_file(const uint8_t *data, size_t size, const char *suffix) {
    if (!scratch_path[0]) choose_scratch(suffix);
    FILE *fp = fopen(scratch_path, "wb");
    fuzz_require(fp != NULL, "cannot create the scratch file");
    int ok = fwrite(data, 1, size, fp) == size;
    ok = fclose(fp) == 0 && ok;
    fuzz_require(ok, "cannot write the scratch file");
    return scratch_path;
}

void fuzz_check_status(xattn_status st, const xattn_error *err, const char *prefix) {
    static int verbose = -1; /* $XATTN_FUZZ_VERBOSE set: print every refusal (corpus curation) */
    if (verbose < 0) verbose = getenv("XATTN_FUZZ_VERBOSE") != NULL;
    if (st == XATTN_OK) return;
    if (verbose) fprintf(stderr, "refused: %.*s\n", (int)sizeof err->msg, err->msg);
    const char *why = NULL;
    size_t len = strnlen(err->msg, sizeof err->msg);
    if (err->status != st) why = "err->status differs from the status returned";
    else if (len == 0) why = "empty error message";
    else if (len == sizeof err->msg) why = "error message not NUL-terminated";
    for (size_t i = 0; !why && i < len; i++)
        if ((unsigned char)err->msg[i] < 0x20 || err->msg[i] == 0x7f)
            why = "control byte in the error message (not one line)";
    if (!why && prefix) {
        size_t n = strlen(prefix);
        if (strncmp(err->msg, prefix, n) != 0 || strncmp(err->msg + n, ": ", 2) != 0)
            why = "error message does not start with the file's name";
    }
    if (!why) return;
    fprintf(stderr, "fuzz harness: %s: status %d (%s), message \"", why, (int)st,
            xattn_status_name(st));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)err->msg[i];
        if (c < 0x20 || c == 0x7f) fprintf(stderr, "\\x%02x", c);
        else fputc(c, stderr);
    }
    fprintf(stderr, "\"\n");
    abort();
}
