/* heat_write.c — xattn_heatmaps_write: one image's heatmaps as files in a folder.
 *
 *   DIR/<i>-<word>.png        word i's overlay (word letters other than [A-Za-z0-9_-] as '_')
 *   DIR/grid.png              the image and every overlay, each labelled with its word
 *   DIR/heatmaps.safetensors  maps [words, H, W] F32 (+ step_maps [steps, words, H, W] when kept)
 * Each file is written under a temporary name and renamed into place. xattn_heatmaps_write_as
 * writes the overlays and the grid as .jpg, .bmp or .tga instead (xattn_image_write), each with
 * its text in a sidecar (DIR/grid.jpg.json, ...). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "heat/heat.h"
#include "heat/heat_image.h"
#include "xattn_io.h"
#include "util/atomic_dir.h"
#include "util/error.h"
#include "util/utf8.h"

#define GRID_COLUMNS 6
#define MAX_NAME 48


/* "<dir>/<index>-<word>.<ext>" with the word made file-name safe */
static void overlay_path(char *path, size_t cap, const char *dir, size_t index, const char *word,
                         const char *ext) {
    char safe[MAX_NAME + 1];
    size_t n = 0;
    for (; word[n] && n < MAX_NAME; n++) {
        char c = word[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
        safe[n] = ok ? c : '_';
    }
    safe[n] = '\0';
    snprintf(path, cap, "%s/%zu-%s.%s", dir, index, n ? safe : "word", ext);
}

/* The metadata of heatmaps.safetensors as JSON strings; NULL if out of memory. */
static char *json_words(const xattn_word *w, size_t n, int tokens) {
    cJSON *a = cJSON_CreateArray();
    for (size_t k = 0; a && k < n; k++) {
        cJSON *item = tokens ? cJSON_CreateArray() : cJSON_CreateString(w[k].text);
        if (item && tokens) {
            cJSON_AddItemToArray(item, cJSON_CreateNumber((double)w[k].first_token));
            cJSON_AddItemToArray(item, cJSON_CreateNumber((double)w[k].n_tokens));
        }
        if (!item || !cJSON_AddItemToArray(a, item)) {
            cJSON_Delete(item);
            cJSON_Delete(a);
            return NULL;
        }
    }
    char *s = a ? xattn_json_print(a, 0) : NULL;
    cJSON_Delete(a);
    return s;
}

static char *json_strings(const char *const *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t k = 0; a && k < n; k++) {
        cJSON *item = cJSON_CreateString(v[k] ? v[k] : "");
        if (!item || !cJSON_AddItemToArray(a, item)) {
            cJSON_Delete(item);
            cJSON_Delete(a);
            return NULL;
        }
    }
    char *s = a ? xattn_json_print(a, 0) : NULL;
    cJSON_Delete(a);
    return s;
}

/* "all" or "[0,2]" */
static char *json_heads(uint64_t heads) {
    if (heads == 0) return strdup("all");
    char buf[64 * 4 + 3];
    size_t used = 0;
    buf[used++] = '[';
    for (int h = 0; h < 64; h++)
        if ((heads >> h) & 1u)
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%d", used > 1 ? "," : "", h);
    snprintf(buf + used, sizeof buf - used, "]");
    return strdup(buf);
}

static xattn_status write_tensors(const xattn_heatmaps *h, size_t image, const char *path,
                                  xattn_error *err) {
    xattn_heatmaps_info info;
    xattn_heatmaps_get_info(h, &info);
    const xattn_word *words = xattn_heatmaps_words(h);
    const xattn_attention_layer *layers = xattn_heatmaps_layers(h);
    size_t hw = info.height * info.width, kept = (size_t)(info.step_end - info.step_begin);

    const char **names = malloc((info.n_layers ? info.n_layers : 1) * sizeof *names);
    float *steps = NULL; /* [kept, words, H, W] */
    char *m_words = json_words(words, info.n_words, 0), *m_spans = json_words(words, info.n_words, 1);
    char *m_tokens = json_strings(heatmaps_tokens(h), info.n_tokens), *m_layers = NULL;
    char *m_heads = json_heads(info.heads), m_steps[32], m_image[24];
    xattn_status st = XATTN_OK;
    if (names) {
        for (size_t l = 0; l < info.n_layers; l++) names[l] = layers[l].name;
        m_layers = json_strings(names, info.n_layers);
    }
    if (xattn_heatmaps_step_maps(h, image, info.step_begin)) {
        steps = malloc(kept * info.n_words * hw * sizeof *steps);
        for (size_t k = 0; steps && k < kept; k++)
            memcpy(steps + k * info.n_words * hw,
                   xattn_heatmaps_step_maps(h, image, info.step_begin + (int)k),
                   info.n_words * hw * sizeof *steps);
    }
    if (!names || !m_words || !m_spans || !m_tokens || !m_layers || !m_heads ||
        (xattn_heatmaps_step_maps(h, image, info.step_begin) && !steps)) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    snprintf(m_steps, sizeof m_steps, "%d:%d", info.step_begin, info.step_end);
    snprintf(m_image, sizeof m_image, "%zu", image);
    const char *keys[] = {"words", "word_tokens", "prompt", "tokens", "layers", "heads", "steps",
                          "image", "aggregation"};
    const char *values[] = {m_words, m_spans, heatmaps_prompt_text(h), m_tokens, m_layers, m_heads,
                            m_steps, m_image,
                            "DAAM: per step, each layer's conditional-branch probabilities summed "
                            "over heads, resized bilinearly, averaged over (layer, head) pairs; "
                            "summed over steps; a word is the mean of its tokens; not normalised"};
    xattn_st_write_tensor t[2] = {
        {"maps", 3, {info.n_words, info.height, info.width}, xattn_heatmaps_word_maps(h, image)},
        {"step_maps", 4, {kept, info.n_words, info.height, info.width}, steps},
    };
    st = xattn_st_write_f32(path, t, steps ? 2 : 1, keys, values, sizeof keys / sizeof *keys, err);
done:
    free(names), free(steps);
    free(m_words), free(m_spans), free(m_tokens), free(m_layers), free(m_heads);
    return st;
}

xattn_status xattn_heatmaps_write(const xattn_heatmaps *h, size_t image, const uint8_t *rgb,
                                  const char *dir, xattn_error *err) {
    return xattn_heatmaps_write_as(h, image, rgb, dir, NULL, err);
}

xattn_status xattn_heatmaps_write_as(const xattn_heatmaps *h, size_t image, const uint8_t *rgb,
                               const char *dir, const xattn_image_options *opt, xattn_error *err) {
    xattn_image_options png;
    if (!opt || opt->format == XATTN_IMAGE_FORMAT_UNKNOWN) {
        xattn_image_options_init(&png);
        png.format = XATTN_IMAGE_FORMAT_PNG;
        opt = &png;
    }
    const char *ext = xattn_image_format_extension(opt->format);
    xattn_heatmaps_info info;
    xattn_heatmaps_get_info(h, &info);
    if (image >= info.images)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: heatmaps of image %zu requested, %zu captured",
                          dir, image, info.images);
    xattn_status st = xattn_make_dirs(dir, err);
    if (st != XATTN_OK) return st;

    const xattn_word *words = xattn_heatmaps_words(h);
    const float *maps = xattn_heatmaps_word_maps(h, image); /* [words, H, W] */
    size_t H = info.height, W = info.width, hw = H * W, k = overlay_scale(H > W ? H : W);
    /* grid panels at half the overlays' scale: the grid is an overview, and zlib's time grows
     * with its pixels (a 32x32 image: 256-pixel overlays, 128-pixel panels) */
    size_t kg = k >= 2 ? k / 2 : 1, ph = H * kg, pw = W * kg;
    size_t n_panels = info.n_words + 1, cap = strlen(dir) + MAX_NAME + 32;
    uint8_t table[256][3];
    viridis_table(table);

    /* overlay [H*k, W*k, 3]; panels[0] = the image (nearest), panels[1 + i] = word i's overlay,
     * each [ph, pw, 3] */
    uint8_t *overlay = malloc(H * k * W * k * 3);
    uint8_t *panels = malloc(n_panels * ph * pw * 3);
    const uint8_t **panel_ptr = malloc(n_panels * sizeof *panel_ptr);
    const char **labels = malloc(n_panels * sizeof *labels);
    float *scratch = malloc(H * k * W * k * sizeof *scratch);
    char *path = malloc(cap);
    uint8_t *grid = NULL;
    if (!overlay || !panels || !panel_ptr || !labels || !scratch || !path) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", dir);
        goto done;
    }
    for (size_t y = 0; y < ph; y++)
        for (size_t x = 0; x < pw; x++)
            memcpy(panels + (y * pw + x) * 3, rgb + ((y / kg) * W + x / kg) * 3, 3);
    panel_ptr[0] = panels;
    labels[0] = "image";
    for (size_t i = 0; i < info.n_words; i++) {
        uint8_t *panel = panels + (i + 1) * ph * pw * 3;
        heat_overlay(panel, rgb, maps + i * hw, H, W, kg, table, scratch);
        panel_ptr[i + 1] = panel;
        labels[i + 1] = words[i].text;
        heat_overlay(overlay, rgb, maps + i * hw, H, W, k, table, scratch);
        xattn_text_pair text[] = {{"word", words[i].text}, {"prompt", heatmaps_prompt_text(h)}};
        overlay_path(path, cap, dir, i, words[i].text, ext);
        st = xattn_image_write(path, overlay, W * k, H * k, 3, text, 2, opt, err);
        if (st != XATTN_OK) goto done;
    }
    size_t gw, gh;
    if (heat_grid(&grid, &gw, &gh, panel_ptr, labels, n_panels, pw, ph, GRID_COLUMNS) != 0) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s/grid.%s: out of memory", dir, ext);
        goto done;
    }
    xattn_text_pair text[] = {{"prompt", heatmaps_prompt_text(h)}};
    snprintf(path, cap, "%s/grid.%s", dir, ext);
    if ((st = xattn_image_write(path, grid, gw, gh, 3, text, 1, opt, err)) != XATTN_OK) goto done;
    snprintf(path, cap, "%s/heatmaps.safetensors", dir);
    st = write_tensors(h, image, path, err);
done:
    free(grid), free(path), free(scratch), free(labels), free(panel_ptr), free(panels), free(overlay);
    return st;
}

xattn_status xattn_heatmaps_dir_replaceable(const char *dir, xattn_error *err) {
    struct stat st;
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT) return XATTN_OK;
        return xattn_fail(err, XATTN_ERR_IO, "%s: %s", dir, strerror(errno));
    }
    if (S_ISLNK(st.st_mode)) /* the commit would refuse it after the whole run */
        return xattn_fail(err, XATTN_ERR_IO, "%s: is a symbolic link; the folder is replaced as a "
                          "whole, so name the folder itself", dir);
    if (!S_ISDIR(st.st_mode)) return xattn_fail(err, XATTN_ERR_IO, "%s: exists and is not a folder", dir);
    char name[4096];
    const char *why = "";
    int found = xattn_manifest_first_foreign(dir, name, sizeof name, &why);
    if (found < 0)
        return xattn_fail(err, XATTN_ERR_IO, "%s: cannot read the folder %s: %s", dir, name, strerror(errno));
    if (found)
        return xattn_fail(err, XATTN_ERR_IO,
                          "%s: holds %s, which xattn did not write (%s); the folder is replaced as "
                          "a whole, so choose an empty or new folder",
                          dir, name, why);
    return XATTN_OK;
}

xattn_status heat_dir_check_old(const char *old_dir, const char *final_dir, xattn_error *err) {
    char name[4096];
    const char *why = "";
    int found = xattn_manifest_first_foreign(old_dir, name, sizeof name, &why);
    if (found == 0) return XATTN_OK;
    size_t n = strlen(old_dir); /* name the entry under the folder's own name, not the temporary */
    return xattn_fail(err, XATTN_ERR_IO,
                      "%s: holds %s%s, which xattn did not write (%s); the folder was left as it "
                      "was, and the new heatmaps were not written",
                      final_dir, final_dir, strncmp(name, old_dir, n) == 0 ? name + n : "",
                      found < 0 ? "it cannot be read" : why);
}

xattn_status xattn_heatmaps_write_folder(const xattn_heatmaps *h, const uint8_t *rgb,
                                         size_t batch, const char *dir,
                                         const xattn_image_options *opt, xattn_error *err) {
    xattn_heatmaps_info info;
    xattn_heatmaps_get_info(h, &info);
    size_t bytes = info.height * info.width * 3; /* one image [H, W, 3] */
    atomic_dir out; /* the whole folder appears at once (util/atomic_dir.h) */
    xattn_status st = atomic_dir_open(&out, dir, err);
    if (st != XATTN_OK) return st;
    char *sub = malloc(strlen(out.temp_path) + 24);
    if (!sub) st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", dir);
    for (size_t k = 0; st == XATTN_OK && k < batch; k++) {
        if (batch == 1)
            strcpy(sub, out.temp_path);
        else
            sprintf(sub, "%s/%zu", out.temp_path, k);
        st = xattn_heatmaps_write_as(h, k, rgb + k * bytes, sub, opt, err);
    }
    /* the manifest last: it lists every file, so that a later run may replace the folder */
    if (st == XATTN_OK) st = xattn_manifest_write(out.temp_path, err);
    out.check_old = heat_dir_check_old; /* the old folder is deleted only if it is still ours */
    if (st == XATTN_OK) st = atomic_dir_commit(&out, err);
    if (st != XATTN_OK) xattn_error_rename(err, out.temp_path, dir);
    atomic_dir_abort(&out);
    free(sub);
    return st;
}
