/* fuzz.h — what the fuzz harnesses share (docs/fuzzing.md).
 *
 * Each tests/fuzz/fuzz_<target>.c defines LLVMFuzzerTestOneInput: linked with libFuzzer in the
 * clang fuzz build (-DXATTN_FUZZ=ON, tools/fuzz.sh), or with replay_main.c in the normal build,
 * where CTest replays the seed corpus and every saved crash input. A harness returns 0 for any
 * input the library handles as the contract says (success, or one error line naming the file)
 * and abort()s on anything else, which both drivers report as a failure. */
#ifndef XATTN_TESTS_FUZZ_H
#define XATTN_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "xattn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes data[size] to this process's scratch file and returns its path (the readers take
 * paths). One file per process, named <dir>/xattn-fuzz-<pid><suffix>, dir = $XATTN_FUZZ_TMP,
 * else /dev/shm, else /tmp; rewritten by each call, removed at exit. Aborts if it cannot. */
const char *fuzz_temp_file(const uint8_t *data, size_t size, const char *suffix);

/* Checks the error contract: nothing when st is XATTN_OK; otherwise err->status == st and
 * err->msg is one non-empty line without control bytes that starts with "<prefix>: " (prefix
 * NULL: any). Aborts with the message on stderr when the contract is broken. With
 * $XATTN_FUZZ_VERBOSE set, prints every refusal to stderr (to see what a corpus reaches). */
void fuzz_check_status(xattn_status st, const xattn_error *err, const char *prefix);

/* Aborts with "fuzz harness: <what>" on stderr unless ok. */
void fuzz_require(int ok, const char *what);

#endif
