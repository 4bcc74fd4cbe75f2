#define _POSIX_C_SOURCE 200809L
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

const char *source_path(const char *rel) {
    static char buf[4096];
    const char *root = getenv("XATTN_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : ".", rel);
    return buf;
}

const char *temp_dir(const char *name) {
    static char buf[4096];
    const char *root = getenv("XATTN_TEST_TMP");
    if (!root) root = "/tmp";
    mkdir(root, 0777);
    snprintf(buf, sizeof buf, "%s/%s", root, name);
    mkdir(buf, 0777);
    return buf;
}

int compare_arrays(const char *what, const float *got, const float *want, size_t n, double atol) {
    size_t worst = 0, bad = 0;
    double max_abs = 0, max_rel = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]) || !isfinite(want[i])) {
            bad++;
            continue;
        }
        double d = fabs((double)got[i] - (double)want[i]);
        double r = d / (fabs((double)want[i]) + 1e-12);
        if (d > max_abs) {
            max_abs = d;
            worst = i;
        }
        if (r > max_rel) max_rel = r;
    }
    int fail = max_abs > atol || bad > 0;
    printf("%s %s: n=%zu worst |got-want| at index %zu: got %.9g want %.9g; max abs %.3g "
           "(tol %.3g), max rel %.3g, NaN/Inf %zu\n",
           fail ? "FAIL" : "ok", what, n, worst, n ? got[worst] : 0.0, n ? want[worst] : 0.0,
           max_abs, atol, max_rel, bad);
    return fail;
}
