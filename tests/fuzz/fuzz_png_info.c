/* fuzz_png_info.c — xattn_png_read_info (what `xattn info IMAGE.png` reads: size and text
 * chunks, tEXt / zTXt / iTXt, before and after IDAT) on arbitrary bytes as a .png file.
 *
 * Checked beyond "no crash": the error contract, and on success a size inside libpng's limits
 * and n_text non-NULL keys and values. libpng itself is Debian's (not instrumented: coverage
 * counts xattn's code only; ASan still checks every buffer xattn allocates). */
#include <string.h>

#include "fuzz.h"
#include "xattn_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_temp_file(data, size, ".png");
    xattn_png_info info;
    xattn_error err = {0};
    xattn_status st = xattn_png_read_info(path, &info, &err);
    fuzz_check_status(st, &err, path);
    if (st != XATTN_OK) {
        fuzz_require(info.n_text == 0 && !info.keys && !info.values, "failure left text behind");
        return 0;
    }
    fuzz_require(info.width >= 1 && info.height >= 1 && info.width <= 0x7fffffff &&
                     info.height <= 0x7fffffff,
                 "PNG size out of range");
    fuzz_require(info.n_text == 0 || (info.keys && info.values), "NULL text arrays");
    size_t total = 0; /* touches every byte of the text */
    for (size_t i = 0; i < info.n_text; i++) {
        fuzz_require(info.keys[i] && info.values[i], "NULL key or value");
        total += strlen(info.keys[i]) + strlen(info.values[i]);
    }
    (void)total;
    xattn_png_info_free(&info);
    fuzz_require(info.n_text == 0 && !info.keys && !info.values, "xattn_png_info_free left text");
    return 0;
}
