/* heat_html.c — xattn_heatmaps_write_html: the heatmap explorer page.
 *
 * The page is one file: the image (upscaled, nearest neighbour) and every (step, word) map as
 * inline PNG data: URLs, the words as buttons, a slider over the steps, and a short script and
 * style sheet written here. Each map is rendered at the image's own size, normalised to [0, 1]
 * by its own minimum and maximum and coloured with viridis (as the --heatmaps overlays); the
 * browser upscales it smoothly and shows it at 60% opacity over the image in grey, which is the
 * blend heat_overlay computes. Slider position s shows the map summed over steps
 * step_begin .. s (cumulative), so the last position is the map --heatmaps writes. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heat/heat.h"
#include "heat/heat_image.h"
#include "xattn_io.h"
#include "util/atomic_file.h"
#include "util/base64.h"
#include "util/error.h"
#include "util/utf8.h"

/* Text with the five HTML specials escaped (safe in elements and quoted attributes), as valid
 * UTF-8 (util/utf8.h: ill-formed sequences as U+FFFD) and without control characters other than
 * tab and newline, which HTML does not allow (each as U+FFFD). */
static void put_escaped(FILE *fp, const char *raw) {
    char *valid = raw ? utf8_valid_dup(raw) : NULL;
    for (const char *s = valid; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
            fputs("\xef\xbf\xbd", fp);
            continue;
        }
        switch (*s) {
        case '&': fputs("&amp;", fp); break;
        case '<': fputs("&lt;", fp); break;
        case '>': fputs("&gt;", fp); break;
        case '"': fputs("&quot;", fp); break;
        case '\'': fputs("&#39;", fp); break;
        default: fputc(*s, fp);
        }
    }
    free(valid);
}

/* "data:image/png;base64,..." of pixels [height, width, channels]. */
static xattn_status put_png_url(FILE *fp, const uint8_t *pixels, size_t width, size_t height,
                                int channels, xattn_error *err) {
    uint8_t *png = NULL;
    size_t len = 0;
    xattn_status s = xattn_png_encode(pixels, width, height, channels, &png, &len, err);
    if (s != XATTN_OK) return s;
    size_t chars = base64_length(len);
    char *text = chars == SIZE_MAX ? NULL : malloc(chars); /* [chars], no NUL */
    if (!text) {
        free(png);
        return xattn_fail(err, XATTN_ERR_NOMEM, "PNG: out of memory for %zu bytes of base64", chars);
    }
    base64_encode(png, len, text);
    fputs("data:image/png;base64,", fp);
    fwrite(text, 1, chars, fp);
    free(text);
    free(png);
    return XATTN_OK;
}

/* rgb[n, 3] = viridis(map[n] normalised by its own minimum and maximum; 0 when constant). */
static void color_map(uint8_t *rgb, const float *map, size_t n, const uint8_t table[256][3]) {
    float lo = map[0], hi = map[0];
    for (size_t i = 1; i < n; i++) {
        if (map[i] < lo) lo = map[i];
        if (map[i] > hi) hi = map[i];
    }
    float range = hi - lo;
    for (size_t i = 0; i < n; i++) {
        float v = range > 0.0f ? (map[i] - lo) / range : 0.0f;
        if (!(v >= 0.0f)) v = 0.0f; /* NaN too */
        if (v > 1.0f) v = 1.0f;
        memcpy(rgb + i * 3, table[(int)(v * 255.0f + 0.5f)], 3);
    }
}

static const char page_style[] =
    "body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }\n"
    "h1 { font-size: 1.25em; margin: 0 0 .2em; }\n"
    ".caption, .help { color: #666; font-size: .9em; margin: 0 0 1em; max-width: 44em; }\n"
    "#stage { position: relative; border: 1px solid #bbb; background: #000; }\n"
    "#stage img { position: absolute; left: 0; top: 0; width: 100%; height: 100%; }\n"
    "#base { image-rendering: pixelated; }\n"
    "#map { opacity: .6; display: none; }\n"
    "#stage.with-map #base { filter: grayscale(1); }\n"
    "#stage.with-map #map { display: block; }\n"
    "#legend { display: flex; align-items: center; gap: .5em; font-size: .85em; color: #666;\n"
    "          margin: .4em 0 0; }\n"
    "#legend img { width: 160px; height: 12px; border: 1px solid #bbb; }\n"
    "#words { display: flex; flex-wrap: wrap; gap: .4em; margin: 1em 0 .6em; max-width: 44em; }\n"
    "button.word { font: inherit; padding: .25em .9em; border: 1px solid #888; border-radius: 1em;\n"
    "              background: #fff; color: #222; cursor: pointer; }\n"
    "button.word:hover { background: #e8ecf6; }\n"
    "button.word.selected { background: #3b528b; border-color: #3b528b; color: #fff; }\n"
    "#steps { display: flex; align-items: center; gap: .7em; }\n"
    "#steps[hidden] { display: none; }\n"
    "#status { margin: .6em 0; }\n";

/* Reads STEP_BEGIN, STEP_LAST and MAPS[step - STEP_BEGIN][word] (data: URLs), defined before it. */
static const char page_script[] =
    "\"use strict\";\n"
    "(function () {\n"
    "  const stage = document.getElementById(\"stage\");\n"
    "  const mapImage = document.getElementById(\"map\");\n"
    "  const slider = document.getElementById(\"step\");\n"
    "  const stepLabel = document.getElementById(\"step-label\");\n"
    "  const wordLabel = document.getElementById(\"current-word\");\n"
    "  const stepsLabel = document.getElementById(\"current-steps\");\n"
    "  const buttons = Array.from(document.querySelectorAll(\"button.word\"));\n"
    "  const wordButtons = buttons.filter((b) => Number(b.dataset.word) >= 0);\n"
    "  let selected = 0;    // the clicked word; -1 = the image alone\n"
    "  let hovered = null;  // the word under the pointer, previewed while it is there\n"
    "\n"
    "  function stepsText(step) {\n"
    "    return step === STEP_BEGIN ? \"step \" + step : \"steps \" + STEP_BEGIN + \"\\u2013\" + step;\n"
    "  }\n"
    "\n"
    "  // Shows the hovered (else the selected) word's map summed up to the slider's step.\n"
    "  function show() {\n"
    "    const word = hovered !== null ? hovered : selected;\n"
    "    const step = Number(slider.value);\n"
    "    if (word < 0) {\n"
    "      stage.classList.remove(\"with-map\");\n"
    "      mapImage.removeAttribute(\"src\");\n"
    "      wordLabel.textContent = \"the image alone\";\n"
    "    } else {\n"
    "      stage.classList.add(\"with-map\");\n"
    "      mapImage.src = MAPS[step - STEP_BEGIN][word];\n"
    "      wordLabel.textContent = wordButtons[word].textContent;\n"
    "    }\n"
    "    stepsLabel.textContent = stepsText(step) + \" summed\";\n"
    "    stepLabel.textContent = stepsText(step) + \" of \" + STEP_BEGIN + \"\\u2013\" + STEP_LAST;\n"
    "    for (const b of buttons) b.classList.toggle(\"selected\", Number(b.dataset.word) === selected);\n"
    "    document.body.dataset.word = String(word);\n"
    "    document.body.dataset.step = String(step);\n"
    "  }\n"
    "\n"
    "  // Keeps the selection in the address (#word=N&step=S), so a view can be shared.\n"
    "  function remember() {\n"
    "    try {\n"
    "      history.replaceState(null, \"\", \"#word=\" + selected + \"&step=\" + slider.value);\n"
    "    } catch (e) {\n"
    "      // some file: pages refuse; the page works the same without it\n"
    "    }\n"
    "  }\n"
    "\n"
    "  for (const b of buttons) {\n"
    "    const word = Number(b.dataset.word);\n"
    "    b.addEventListener(\"mouseenter\", () => { hovered = word; show(); });\n"
    "    b.addEventListener(\"mouseleave\", () => { hovered = null; show(); });\n"
    "    b.addEventListener(\"click\", () => { selected = word; hovered = null; show(); remember(); });\n"
    "  }\n"
    "  slider.addEventListener(\"input\", show);\n"
    "  slider.addEventListener(\"change\", remember);\n"
    "\n"
    "  // #word=N&step=S: clicks word N's button (-1: the image alone) and moves the slider to S.\n"
    "  function followAddress() {\n"
    "    const params = new URLSearchParams(location.hash.slice(1));\n"
    "    const step = parseInt(params.get(\"step\"), 10);\n"
    "    if (Number.isFinite(step)) {\n"
    "      slider.value = String(Math.min(STEP_LAST, Math.max(STEP_BEGIN, step)));\n"
    "      slider.dispatchEvent(new Event(\"input\"));\n"
    "    }\n"
    "    const word = parseInt(params.get(\"word\"), 10);\n"
    "    const button = buttons.find((b) => Number(b.dataset.word) === word);\n"
    "    if (button) button.click();\n"
    "    show();\n"
    "  }\n"
    "  window.addEventListener(\"hashchange\", followAddress);\n"
    "  followAddress();\n"
    "})();\n";

static xattn_status write_page(FILE *fp, const xattn_heatmaps *h, size_t image, const uint8_t *rgb,
                               const char *caption, xattn_error *err) {
    xattn_heatmaps_info info;
    xattn_heatmaps_get_info(h, &info);
    const xattn_word *words = xattn_heatmaps_words(h);
    size_t H = info.height, W = info.width, hw = H * W, n_words = info.n_words;
    int begin = info.step_begin, end = info.step_end;
    int kept = xattn_heatmaps_step_maps(h, image, begin) != NULL;
    size_t k = overlay_scale(H > W ? H : W);
    size_t zoom = H * k <= 320 && W * k <= 320 ? 2 : 1; /* CSS pixels per upscaled pixel */

    uint8_t table[256][3];
    viridis_table(table);
    uint8_t *big = malloc(hw * k * k * 3);        /* [H*k, W*k, 3] the image, upscaled */
    uint8_t *colors = malloc(hw * 3);             /* [H, W, 3] one coloured map */
    float *acc = calloc(n_words * hw, sizeof *acc); /* [n_words, H, W] maps summed so far */
    xattn_status s = XATTN_OK;
    if (!big || !colors || !acc) {
        s = xattn_fail(err, XATTN_ERR_NOMEM, "out of memory for a %zux%zu page", H, W);
        goto done;
    }
    for (size_t y = 0; y < H * k; y++)
        for (size_t x = 0; x < W * k; x++)
            memcpy(big + (y * W * k + x) * 3, rgb + ((y / k) * W + x / k) * 3, 3);

    const char *prompt = heatmaps_prompt_text(h);
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>xattn heatmaps: ", fp);
    put_escaped(fp, prompt[0] ? prompt : "(no prompt text)");
    fprintf(fp, "</title>\n<style>\n%s#stage { width: %zupx; height: %zupx; }\n#step { width: %zupx; }\n"
            "</style>\n</head>\n<body>\n<h1>", page_style, W * k * zoom, H * k * zoom,
            W * k * zoom * 2 / 3);
    put_escaped(fp, prompt[0] ? prompt : "(no prompt text)");
    fputs("</h1>\n", fp);
    if (caption && caption[0]) {
        fputs("<p class=\"caption\">", fp);
        put_escaped(fp, caption);
        fputs("</p>\n", fp);
    }

    fputs("<div id=\"stage\" class=\"with-map\"><img id=\"base\" alt=\"the generated image\" src=\"", fp);
    if ((s = put_png_url(fp, big, W * k, H * k, 3, err)) != XATTN_OK) goto done;
    fputs("\"><img id=\"map\" alt=\"\"></div>\n<div id=\"legend\">low <img alt=\"viridis\" src=\"", fp);
    uint8_t legend[256 * 3]; /* [1, 256, 3] */
    memcpy(legend, table, sizeof legend);
    if ((s = put_png_url(fp, legend, 256, 1, 3, err)) != XATTN_OK) goto done;
    fputs("\"> high <span>(each map scaled to its own minimum and maximum)</span></div>\n", fp);

    fputs("<div id=\"words\"><button class=\"word\" data-word=\"-1\" type=\"button\">image</button>", fp);
    for (size_t i = 0; i < n_words; i++) {
        fprintf(fp, "<button class=\"word\" data-word=\"%zu\" type=\"button\">", i);
        put_escaped(fp, words[i].text);
        fputs("</button>", fp);
    }
    fputs("</div>\n", fp);
    int last = kept ? end - 1 : begin; /* without kept steps: one position, the final maps */
    fprintf(fp,
            "<div id=\"steps\"%s><label for=\"step\">sampling steps</label>"
            "<input type=\"range\" id=\"step\" min=\"%d\" max=\"%d\" value=\"%d\">"
            "<output id=\"step-label\" for=\"step\"></output></div>\n",
            kept ? "" : " hidden", begin, last, last);
    fputs("<p id=\"status\">Showing <b id=\"current-word\"></b>, <span id=\"current-steps\"></span>."
          "</p>\n<p class=\"help\">Hover over a word to preview where it lands in the image; click "
          "it to keep it. The slider shows the word's map summed over the sampling steps from the "
          "first (the noisiest) up to the chosen one; at the right end it is the whole run's map. "
          "Maps are cross-attention of the conditional branch, averaged over the selected layers "
          "and heads (DAAM). The address #word=N&amp;step=S opens word N (0 is the first) at "
          "step S.</p>\n", fp);

    fprintf(fp, "<script>\nconst STEP_BEGIN = %d;\nconst STEP_LAST = %d;\n"
            "// MAPS[step - STEP_BEGIN][word]: the word's map summed up to that step\n"
            "const MAPS = [\n", begin, last);
    for (int step = begin; step <= last; step++) {
        const float *maps = kept ? xattn_heatmaps_step_maps(h, image, step)   /* [n_words, H, W] */
                                 : xattn_heatmaps_word_maps(h, image);
        for (size_t i = 0; i < n_words * hw; i++) acc[i] += maps[i];
        fputs("[", fp);
        for (size_t w = 0; w < n_words; w++) {
            color_map(colors, acc + w * hw, hw, table);
            fputs(w ? ",\n\"" : "\"", fp);
            if ((s = put_png_url(fp, colors, W, H, 3, err)) != XATTN_OK) goto done;
            fputs("\"", fp);
        }
        fputs(step < last ? "],\n" : "]\n", fp);
    }
    fprintf(fp, "];\n%s</script>\n</body>\n</html>\n", page_script);
done:
    free(acc);
    free(colors);
    free(big);
    return s;
}

xattn_status xattn_heatmaps_write_html(const char *path, const xattn_heatmaps *h, size_t image,
                             const uint8_t *rgb, const char *caption, xattn_error *err) {
    xattn_heatmaps_info info;
    xattn_heatmaps_get_info(h, &info);
    if (image >= info.images || !xattn_heatmaps_word_maps(h, image))
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: no heatmaps of image %zu", path, image);
    if (info.n_words == 0 || info.height == 0 || info.width == 0)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: the heatmaps have no words", path);
    atomic_file f;
    xattn_status s = atomic_file_open(&f, path, err);
    if (s != XATTN_OK) return s;
    s = write_page(f.fp, h, image, rgb, caption, err);
    if (s != XATTN_OK) {
        atomic_file_abort(&f);
        if (err) {
            xattn_error inner = *err;
            xattn_fail(err, s, "%s: %s", path, inner.msg);
        }
        return s;
    }
    return atomic_file_commit(&f, err);
}
