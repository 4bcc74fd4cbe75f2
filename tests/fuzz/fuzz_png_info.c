/* fuzz_png_info.c — xattn_png_read_info (what `xattn info IMAGE.png` reads: size and text
 * chunks, tEXt / zTXt / iTXt, before and after IDAT) on arbitrary bytes as a .png file.
 *
 * Checked beyond "no crash": the error contract, and on success a size inside libpng's limits
 * and n_text non-NULL keys and values, and the JSON `xattn info --json` prints for them
 * (xattn_png_info_json + xattn_json_print) must be valid UTF-8 and parse back, with every key and
 * value as utf8_valid_dup makes it (text chunks hold any bytes). libpng itself is Debian's (not instrumented: coverage
 * counts xattn's code only; ASan still checks every buffer xattn allocates). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "xattn_io.h"
#include "util/utf8.h"

/* info --json on the accepted file: valid UTF-8, parses as JSON, and holds the text. */
static void check_json(const xattn_png_info *info, const char *path) {
    cJSON *o = xattn_png_info_json(info, path);
    char *text = o ? xattn_json_print(o, 0) : NULL;
    cJSON_Delete(o);
    if (!text) return; /* out of memory (allocator_may_return_null) */
    fuzz_require(utf8_valid(text), "info --json printed invalid UTF-8");
    const char *end = NULL;
    cJSON *back = cJSON_ParseWithOpts(text, &end, 1);
    fuzz_require(back != NULL, "info --json printed text that does not parse as JSON");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(back, "text");
    fuzz_require(cJSON_IsObject(t) && (size_t)cJSON_GetArraySize(t) == info->n_text,
                 "info --json lost text chunks");
    const cJSON *item = t->child;
    for (size_t i = 0; i < info->n_text; i++, item = item->next) {
        char *key = utf8_valid_dup(info->keys[i]), *value = utf8_valid_dup(info->values[i]);
        if (key && value)
            fuzz_require(strcmp(item->string, key) == 0 && cJSON_IsString(item) &&
                             strcmp(item->valuestring, value) == 0,
                         "info --json changed a key or value beyond U+FFFD");
        free(key), free(value);
    }
    cJSON_Delete(back);
    free(text);
}

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
    check_json(&info, path);
    xattn_png_info_free(&info);
    fuzz_require(info.n_text == 0 && !info.keys && !info.values, "xattn_png_info_free left text");
    return 0;
}
