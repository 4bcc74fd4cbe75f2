/* test_util.h — helpers shared by the cmocka tests: paths, temp folders, array comparison
 * that prints the worst element. */
#ifndef XATTN_TEST_UTIL_H
#define XATTN_TEST_UTIL_H

#include <stddef.h>

/* "$XATTN_SOURCE_DIR/<rel>" in a static buffer (valid until the next call). */
const char *source_path(const char *rel);
/* A fresh folder "$XATTN_TEST_TMP/<name>" (created, emptied of nothing), in a static buffer. */
const char *temp_dir(const char *name);

/* Compares got[i] with want[i]; prints "<what>: worst |got-want| at index i: got G want W,
 * max abs A, max rel R, NaN/Inf n" and returns 1 when max abs > atol or any NaN/Inf, else 0. */
int compare_arrays(const char *what, const float *got, const float *want, size_t n, double atol);

/* Fails the test when cond is false, printing the printf-style message (what was checked, on
 * which input) and then the condition. */
#define CHECK(cond, ...)                                                                             \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            print_error(__VA_ARGS__);                                                                \
            print_error("\n");                                                                       \
            fail_msg("%s", #cond);                                                                   \
        }                                                                                            \
    } while (0)

#endif
