/* test_eval.c — the adherence evaluator: the detector and scorer agree with the shapes world's
 * truth on 1,000 images of both splits (positive prompts from each caption and negative ones
 * the truth contradicts), score near 0 on noise images, and get hand-made cases right (a ring
 * vs a circle, a cross vs a square, two same-coloured objects counted, colour attribution,
 * relations, tolerance to off-palette pixels); the relation rule is the world's; the prompt
 * file and the dataset-folder reader accept what they should and name what is wrong. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above */
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "xattn_shapes.h"

enum { S = WORLD_SIZE, N_TRUTH_PER_SPLIT = 500, N_NOISE = 1000, SHOW_FAILURES = 5 };

static world_scene scene; /* static: ~4 KB */
static eval_detection det; /* ~7 KB */

static void detect_or_fail(const uint8_t *rgb, size_t w, size_t h, eval_detection *d) {
    xattn_error err = {0};
    xattn_status st = eval_detect(rgb, w, h, NULL, d, &err);
    CHECK(st == XATTN_OK, "eval_detect: %s", err.msg);
}

/* "position [red circle x1, blue square x1] left of" — a spec, for failure messages. */
static void spec_text(const eval_spec *s, char *buf, size_t len) {
    size_t used = (size_t)snprintf(buf, len, "%s [", eval_category_names[s->category]);
    for (size_t i = 0; i < s->n_objects && used < len; i++) {
        char d[96];
        eval_describe(&s->objects[i], d, sizeof d);
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", d);
    }
    if (used < len)
        snprintf(buf + used, len - used, "]%s%s", s->has_relation ? " " : "",
                 s->has_relation ? world_relation_names[s->relation] : "");
}

static uint64_t rng_state;
static uint64_t next_u64(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double next_unit(void) { return ((double)(next_u64() >> 11) + 0.5) * 0x1.0p-53; }

/* Adds uniform noise in [-a, a] to every channel, clamped. */
static void jitter(uint8_t *rgb, size_t n, double a) {
    for (size_t k = 0; k < n; k++) {
        int v = rgb[k] + (int)lround(a * (2.0 * next_unit() - 1.0));
        rgb[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* agreement with the truth                                                                    */

typedef struct tally {
    size_t verdicts, agree, images, exact;
    size_t cat_total[EVAL_N_CATEGORIES], cat_agree[EVAL_N_CATEGORIES];
    size_t shown;
} tally;

/* Scores spec on the current detection; the truth says it should pass (want = 1) or fail. */
static void verdict(tally *t, const eval_spec *spec, int want, const char *what, uint64_t id,
                    world_split split) {
    char reason[EVAL_REASON_LEN];
    int got = eval_score(spec, &det, reason, sizeof reason);
    t->verdicts++;
    t->cat_total[spec->category]++;
    if (got == want) {
        t->agree++;
        t->cat_agree[spec->category]++;
        return;
    }
    if (t->shown++ < SHOW_FAILURES) {
        char st[256];
        spec_text(spec, st, sizeof st);
        printf("  disagree: %s image %llu '%s': %s prompt %s: scored %s, truth says %s (%s)\n",
               world_split_names[split], (unsigned long long)id, scene.caption, what, st,
               got ? "pass" : "fail", want ? "pass" : "fail", got ? "no reason" : reason);
    }
}

/* A colour other than c (and other than the background's). */
static int other_color(int c, world_background bg) {
    for (int k = 1; k < WORLD_N_COLORS; k++) {
        int o = (c + k) % WORLD_N_COLORS;
        if (o != (int)world_background_color(bg)) return o;
    }
    return c;
}

/* A shape not among the scene's objects. */
static world_shape absent_shape(const world_scene *s) {
    for (int sh = 0; sh < WORLD_N_SHAPES; sh++) {
        int used = 0;
        for (size_t k = 0; k < s->n_objects; k++) used |= (int)s->objects[k].shape == sh;
        if (!used) return (world_shape)sh;
    }
    return WORLD_CIRCLE; /* not reached: at most 3 of 5 shapes */
}

static const world_relation opposite[WORLD_N_RELATIONS] = {WORLD_RIGHT_OF, WORLD_LEFT_OF, WORLD_BELOW,
                                                           WORLD_ABOVE};

/* The prompts a scene's truth decides: its own caption's (pass), a derived one (single ->
 * colors, pair -> two: pass), and contradicted ones (fail). */
static void judge_scene(tally *t, uint64_t id, world_split split) {
    eval_spec spec, alt;
    eval_spec_from_scene(&scene, &spec);
    verdict(t, &spec, 1, "caption", id, split);
    switch (scene.kind) {
    case WORLD_KIND_SINGLE:
        alt = spec;
        alt.category = EVAL_COLORS;
        verdict(t, &alt, 1, "caption as colors", id, split);
        alt.objects[0].color = other_color(spec.objects[0].color, scene.background);
        verdict(t, &alt, 0, "other colour (colors)", id, split);
        alt.category = EVAL_SINGLE;
        verdict(t, &alt, 0, "other colour", id, split);
        alt = spec;
        alt.objects[0].shape = absent_shape(&scene);
        verdict(t, &alt, 0, "other shape", id, split);
        if (spec.objects[0].size >= 0) {
            alt = spec;
            alt.objects[0].size = 1 - spec.objects[0].size;
            verdict(t, &alt, 0, "other size", id, split);
        }
        break;
    case WORLD_KIND_COUNT:
        alt = spec;
        alt.objects[0].count = spec.objects[0].count + 1;
        verdict(t, &alt, 0, "one more", id, split);
        alt.objects[0].count = spec.objects[0].count - 1;
        verdict(t, &alt, 0, "one fewer", id, split);
        break;
    case WORLD_KIND_PAIR:
        alt = spec;
        alt.category = EVAL_TWO;
        verdict(t, &alt, 1, "caption as two", id, split);
        alt.objects[1].shape = absent_shape(&scene);
        verdict(t, &alt, 0, "second object absent (two)", id, split);
        alt = spec;
        alt.objects[0].color = spec.objects[1].color;
        alt.objects[1].color = spec.objects[0].color;
        verdict(t, &alt, 0, "colours swapped", id, split);
        break;
    default:
        alt = spec;
        alt.relation = opposite[spec.relation];
        verdict(t, &alt, 0, "opposite relation", id, split);
        break;
    }
}

static void test_truth_agreement(void **state) {
    (void)state;
    tally t = {0};
    size_t exact_shown = 0;
    for (int split = 0; split < WORLD_N_SPLITS; split++) {
        for (uint64_t i = 0; i < N_TRUTH_PER_SPLIT; i++) {
            world_draw(&scene, 2024, (world_split)split, i);
            detect_or_fail(scene.rgb, S, S, &det);
            char why[EVAL_REASON_LEN];
            t.images++;
            if (eval_detection_matches_truth(&det, &scene, why, sizeof why))
                t.exact++;
            else if (exact_shown++ < SHOW_FAILURES)
                printf("  detector: %s image %llu '%s': %s\n", world_split_names[split],
                       (unsigned long long)i, scene.caption, why);
            judge_scene(&t, i, (world_split)split);
        }
    }
    double agreement = (double)t.agree / (double)t.verdicts, exact = (double)t.exact / (double)t.images;
    printf("truth agreement: %zu of %zu verdicts (%.4f) on %zu images of both splits\n", t.agree,
           t.verdicts, agreement, t.images);
    for (int c = 0; c < EVAL_N_CATEGORIES; c++)
        printf("  %-10s %zu of %zu\n", eval_category_names[c], t.cat_agree[c], t.cat_total[c]);
    printf("detector exact on %zu of %zu images (%.4f)\n", t.exact, t.images, exact);
    for (int c = 0; c < EVAL_N_CATEGORIES; c++)
        CHECK(t.cat_total[c] > 0, "no %s verdicts", eval_category_names[c]);
    CHECK(agreement >= 0.99, "agreement %.4f < 0.99", agreement);
    CHECK(exact >= 0.99, "exact detections %.4f < 0.99", exact);

    /* the same with every channel jittered by up to +-24: generated images are not flat */
    rng_state = 11;
    size_t n_jit = 200, exact_jit = 0, pass_jit = 0, shown_jit = 0;
    for (uint64_t i = 0; i < n_jit; i++) {
        world_draw(&scene, 2024, (world_split)(i % 2), i);
        jitter(scene.rgb, sizeof scene.rgb, 24.0);
        detect_or_fail(scene.rgb, S, S, &det);
        char why[EVAL_REASON_LEN];
        int ok = eval_detection_matches_truth(&det, &scene, why, sizeof why);
        exact_jit += (size_t)ok;
        if (!ok && shown_jit++ < SHOW_FAILURES) printf("  jittered image %llu: %s\n", (unsigned long long)i, why);
        eval_spec spec;
        eval_spec_from_scene(&scene, &spec);
        pass_jit += (size_t)eval_score(&spec, &det, NULL, 0);
    }
    printf("jittered +-24: detector exact on %zu of %zu, captions pass on %zu\n", exact_jit, n_jit, pass_jit);
    CHECK(exact_jit * 100 >= n_jit * 99 && pass_jit * 100 >= n_jit * 99, "jittered: exact %zu, pass %zu of %zu",
          exact_jit, pass_jit, n_jit);
}

static double next_gauss(void) {
    return sqrt(-2.0 * log(next_unit())) * cos(6.283185307179586 * next_unit());
}

/* Image i: uniform bytes (even i) or gray 128 + N(0, sigma^2) per channel, clamped, with sigma
 * cycling through 24, 48, 96. */
static void noise_image(uint64_t i, uint8_t *rgb) {
    static const double sigmas[3] = {24.0, 48.0, 96.0};
    for (size_t k = 0; k < (size_t)S * S * 3; k++) {
        if (i % 2 == 0) {
            rgb[k] = (uint8_t)(next_u64() >> 56);
        } else {
            double v = 128.0 + sigmas[(i / 2) % 3] * next_gauss();
            rgb[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
        }
    }
}

static void test_noise_scores_near_zero(void **state) {
    (void)state;
    rng_state = 99;
    size_t pass[EVAL_N_CATEGORIES] = {0}, total[EVAL_N_CATEGORIES] = {0}, objects = 0,
           pass_kind[2] = {0}, total_kind[2] = {0};
    uint8_t rgb[S * S * 3]; /* [32, 32, 3] */
    for (uint64_t i = 0; i < N_NOISE; i++) {
        noise_image(i, rgb);
        detect_or_fail(rgb, S, S, &det);
        for (size_t k = 0; k < det.n_objects; k++) objects += det.objects[k].shape != EVAL_SHAPE_UNKNOWN;
        world_draw(&scene, 7, (world_split)(i / 2 % 2), i);
        eval_spec spec[2];
        size_t n = 1;
        eval_spec_from_scene(&scene, &spec[0]);
        if (scene.kind == WORLD_KIND_SINGLE || scene.kind == WORLD_KIND_PAIR) {
            spec[1] = spec[0];
            spec[1].category = scene.kind == WORLD_KIND_SINGLE ? EVAL_COLORS : EVAL_TWO;
            n = 2;
        }
        for (size_t k = 0; k < n; k++) {
            int ok = eval_score(&spec[k], &det, NULL, 0);
            pass[spec[k].category] += (size_t)ok;
            total[spec[k].category]++;
            pass_kind[i % 2] += (size_t)ok;
            total_kind[i % 2]++;
        }
    }
    double overall = 0.0;
    int cats = 0;
    for (int c = 0; c < EVAL_N_CATEGORIES; c++) {
        if (!total[c]) continue;
        printf("  noise %-10s %zu of %zu pass\n", eval_category_names[c], pass[c], total[c]);
        overall += (double)pass[c] / (double)total[c];
        cats++;
    }
    overall /= cats;
    double uniform = (double)pass_kind[0] / (double)total_kind[0],
           gauss = (double)pass_kind[1] / (double)total_kind[1];
    printf("noise: overall score %.4f over %d categories (uniform %.4f, gaussian %.4f); %zu shaped "
           "objects found in %d images\n",
           overall, cats, uniform, gauss, objects, N_NOISE);
    CHECK(cats == EVAL_N_CATEGORIES, "only %d categories", cats);
    CHECK(overall <= 0.05, "noise overall %.4f > 0.05", overall);
    CHECK(uniform <= 0.05 && gauss <= 0.05, "uniform %.4f, gaussian %.4f > 0.05", uniform, gauss);
}

/* ------------------------------------------------------------------------------------------ */
/* hand-made images (own drawing, not the world's)                                             */

static uint8_t img[S * S * 3]; /* [32, 32, 3] */

static void fill(const uint8_t rgb[3]) {
    for (size_t p = 0; p < (size_t)S * S; p++) memcpy(&img[p * 3], rgb, 3);
}
static void put(int x, int y, const uint8_t rgb[3]) {
    if (x >= 0 && y >= 0 && x < S && y < S) memcpy(&img[((size_t)y * S + (size_t)x) * 3], rgb, 3);
}
/* Disc of radius r around the pixel-grid point (cx, cy), minus radius r_in (0: none). */
static void disc(double cx, double cy, double r, double r_in, const uint8_t rgb[3]) {
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double dx = x + 0.5 - cx, dy = y + 0.5 - cy, d2 = dx * dx + dy * dy;
            if (d2 <= r * r && d2 > r_in * r_in) put(x, y, rgb);
        }
}
static void rect(int x0, int y0, int w, int h, const uint8_t rgb[3]) {
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) put(x, y, rgb);
}
static void plus(int x0, int y0, int side, int arm, const uint8_t rgb[3]) {
    rect(x0 + (side - arm) / 2, y0, arm, side, rgb);
    rect(x0, y0 + (side - arm) / 2, side, arm, rgb);
}
static void triangle(int x0, int y0, int side, const uint8_t rgb[3]) {
    for (int row = 0; row < side; row++) {
        double half = (row + 1) / 2.0 + 0.5;
        for (int x = 0; x < side; x++)
            if (fabs(x + 0.5 - side / 2.0) <= half) put(x0 + x, y0 + row, rgb);
    }
}

#define RGB(c) world_color_rgb[c]
static const uint8_t white[3] = {255, 255, 255}, gray[3] = {128, 128, 128};

static const eval_object *only_object(void) {
    CHECK(det.n_objects == 1, "%zu objects detected, want 1", det.n_objects);
    return &det.objects[0];
}

static void expect_shape(const char *what, int shape) {
    detect_or_fail(img, S, S, &det);
    const eval_object *o = only_object();
    CHECK(o->shape == shape, "%s: detected %s (fill %.2f, match %.2f, holes %zu), want %s", what,
          eval_shape_name(o->shape), o->fill, o->match, o->holes, eval_shape_name(shape));
}

static void test_shapes_by_hand(void **state) {
    (void)state;
    fill(white);
    disc(16, 16, 7, 0, RGB(WORLD_RED));
    expect_shape("disc", WORLD_CIRCLE);
    CHECK(det.objects[0].holes == 0 && det.objects[0].color == WORLD_RED, "disc: holes or colour");
    fill(white);
    disc(16, 16, 7, 3.5, RGB(WORLD_RED));
    expect_shape("disc with a hole", WORLD_RING);
    CHECK(det.objects[0].holes == 1, "ring: %zu holes", det.objects[0].holes);
    fill(gray);
    rect(5, 9, 12, 12, RGB(WORLD_GREEN));
    expect_shape("square", WORLD_SQUARE);
    CHECK(det.objects[0].size == WORLD_LARGE, "12 px square is not large");
    fill(gray);
    plus(5, 9, 12, 4, RGB(WORLD_GREEN));
    expect_shape("plus", WORLD_CROSS);
    fill(gray);
    triangle(10, 3, 10, RGB(WORLD_YELLOW));
    expect_shape("triangle", WORLD_TRIANGLE);
    /* a square with one stray pixel inside is still a square, not a ring */
    fill(gray);
    rect(5, 9, 12, 12, RGB(WORLD_GREEN));
    put(10, 14, gray);
    expect_shape("square with a pinhole", WORLD_SQUARE);
    /* a thin bar is no shape; a speck is dropped */
    fill(gray);
    rect(2, 10, 20, 3, RGB(WORLD_BLUE));
    rect(28, 28, 2, 1, RGB(WORLD_BLUE));
    expect_shape("bar", EVAL_SHAPE_UNKNOWN);
    CHECK(det.n_specks == 1, "%zu specks, want 1", det.n_specks);
    /* a disc far larger than the world's large shapes is no shape */
    fill(white);
    disc(16, 16, 12, 0, RGB(WORLD_RED));
    expect_shape("24 px disc", EVAL_SHAPE_UNKNOWN);
    /* a background that is no palette colour, and an object covering part of the border */
    const uint8_t lavender[3] = {190, 185, 210};
    fill(lavender);
    disc(16, 16, 7, 0, RGB(WORLD_RED));
    rect(0, 24, 20, 8, RGB(WORLD_BLUE));
    detect_or_fail(img, S, S, &det);
    CHECK(det.background == EVAL_CLASS_NONE && det.n_objects == 2 && det.objects[0].shape == WORLD_CIRCLE &&
              det.objects[0].color == WORLD_RED && det.objects[1].color == WORLD_BLUE,
          "lavender background: %zu objects, background %s", det.n_objects, eval_class_name(det.background));
    /* three large squares in the corners cover most of the border: still the background */
    fill(white);
    rect(0, 0, 14, 14, RGB(WORLD_YELLOW));
    rect(18, 0, 14, 14, RGB(WORLD_YELLOW));
    rect(0, 18, 14, 14, RGB(WORLD_YELLOW));
    detect_or_fail(img, S, S, &det);
    CHECK(det.background == WORLD_WHITE && det.n_objects == 3 && det.objects[2].shape == WORLD_SQUARE,
          "corner squares: background %s, %zu objects", eval_class_name(det.background), det.n_objects);
    /* off-palette pixels are unknown: nothing found */
    fill(gray);
    rect(5, 9, 12, 12, (const uint8_t[3]){128, 0, 128});
    detect_or_fail(img, S, S, &det);
    CHECK(det.n_objects == 0 && det.unknown_pixels == 144, "%zu objects, %zu unknown pixels",
          det.n_objects, det.unknown_pixels);
    CHECK(det.background == EVAL_CLASS_GRAY, "background %s", eval_class_name(det.background));
}

/* Pixels within ~35 of the palette colour are still that colour and shape. */
static void test_tolerates_off_palette(void **state) {
    (void)state;
    rng_state = 5;
    fill(gray);
    disc(9, 9, 7, 0, RGB(WORLD_ORANGE));
    plus(17, 17, 14, 4, RGB(WORLD_PURPLE));
    jitter(img, sizeof img, 20.0);
    detect_or_fail(img, S, S, &det);
    CHECK(det.n_objects == 2, "%zu objects", det.n_objects);
    CHECK(det.objects[0].shape == WORLD_CIRCLE && det.objects[0].color == WORLD_ORANGE,
          "first: %s %s", world_color_names[det.objects[0].color], eval_shape_name(det.objects[0].shape));
    CHECK(det.objects[1].shape == WORLD_CROSS && det.objects[1].color == WORLD_PURPLE,
          "second: %s %s", world_color_names[det.objects[1].color], eval_shape_name(det.objects[1].shape));
}

static eval_spec make_spec(eval_category cat, size_t n, const eval_object_spec *objs) {
    eval_spec s;
    memset(&s, 0, sizeof s);
    s.category = cat;
    s.n_objects = n;
    memcpy(s.objects, objs, n * sizeof *objs);
    return s;
}

static void expect_score(const eval_spec *s, int want, const char *reason_part) {
    char reason[EVAL_REASON_LEN], text[256];
    int got = eval_score(s, &det, reason, sizeof reason);
    spec_text(s, text, sizeof text);
    printf("  %s -> %s%s%s\n", text, got ? "pass" : "fail: ", got ? "" : reason, "");
    CHECK(got == want, "%s: got %d want %d (%s)", text, got, want, reason);
    if (!want && reason_part)
        CHECK(strstr(reason, reason_part) != NULL, "reason '%s' lacks '%s'", reason, reason_part);
}

static void test_scoring_by_hand(void **state) {
    (void)state;
    /* two blue squares and a red circle left of them */
    fill(white);
    rect(20, 3, 8, 8, RGB(WORLD_BLUE));
    rect(20, 20, 8, 8, RGB(WORLD_BLUE));
    disc(6, 16, 4, 0, RGB(WORLD_RED));
    detect_or_fail(img, S, S, &det);
    CHECK(det.n_objects == 3, "%zu objects", det.n_objects);
    eval_object_spec blue_squares = {WORLD_SQUARE, WORLD_BLUE, -1, 2};
    eval_spec s = make_spec(EVAL_COUNT, 1, &blue_squares);
    expect_score(&s, 1, NULL);
    s.objects[0].count = 3;
    expect_score(&s, 0, "expected 3 blue squares, found 2");
    s.objects[0].count = 1;
    expect_score(&s, 0, "expected a blue square, found 2");
    s.objects[0].count = 2;
    s.objects[0].size = WORLD_LARGE;
    expect_score(&s, 0, "expected 2 large blue squares, found none");

    /* colour attribution: the circle is red and the squares blue */
    eval_object_spec pair[2] = {{WORLD_CIRCLE, WORLD_RED, -1, 1}, {WORLD_SQUARE, WORLD_BLUE, -1, 1}};
    s = make_spec(EVAL_COLOR_ATTR, 2, pair);
    expect_score(&s, 1, NULL);
    pair[0].color = WORLD_BLUE;
    pair[1].color = WORLD_RED;
    s = make_spec(EVAL_COLOR_ATTR, 2, pair);
    expect_score(&s, 0, "expected a blue circle, found none (seen instead: a small red circle)");
    s.category = EVAL_TWO;
    expect_score(&s, 0, "expected a red square, found none");

    /* position, by centres: circle (6, 16), squares (24, 7) and (24, 24) */
    pair[0].color = WORLD_RED;
    pair[1].color = WORLD_BLUE;
    s = make_spec(EVAL_POSITION, 2, pair);
    s.has_relation = 1;
    s.relation = WORLD_LEFT_OF;
    s.subject = 0, s.object = 1;
    expect_score(&s, 1, NULL);
    s.relation = WORLD_RIGHT_OF;
    expect_score(&s, 0, "is not right of");
    /* "a blue square above a red circle": the lower square is not */
    s.relation = WORLD_ABOVE;
    s.subject = 1, s.object = 0;
    expect_score(&s, 0, "is not above");

    /* a second circle, blue: two still passes, colour attribution and colors do not */
    disc(6, 27, 4, 0, RGB(WORLD_BLUE));
    detect_or_fail(img, S, S, &det);
    CHECK(det.n_objects == 4, "%zu objects", det.n_objects);
    s = make_spec(EVAL_TWO, 2, pair);
    expect_score(&s, 1, NULL);
    s.category = EVAL_COLOR_ATTR;
    expect_score(&s, 0, "expected every circle to be red, found a small blue circle");
    s = make_spec(EVAL_COLORS, 1, pair);
    expect_score(&s, 0, "expected every circle to be red");
    s = make_spec(EVAL_SINGLE, 1, pair);
    expect_score(&s, 1, NULL);
}

/* The held-out-pair count: only descriptions with a held-out colour and shape are asked; a pair
 * is drawn when enough objects of its colour and shape are found, whatever their size. */
static void test_holdout_pairs(void **state) {
    (void)state;
    fill(white);
    rect(20, 3, 8, 8, RGB(WORLD_YELLOW)); /* a yellow square: held out */
    disc(6, 16, 4, 0, RGB(WORLD_RED));
    detect_or_fail(img, S, S, &det);
    CHECK(det.n_objects == 2, "%zu objects", det.n_objects);
    eval_object_spec objs[2] = {{WORLD_SQUARE, WORLD_YELLOW, WORLD_SMALL, 1}, {WORLD_CIRCLE, WORLD_RED, -1, 1}};
    eval_spec s = make_spec(EVAL_TWO, 2, objs);
    size_t asked, drawn;
    eval_holdout_pairs(&s, &det, &asked, &drawn);
    CHECK(asked == 1 && drawn == 1, "yellow square + red circle: asked %zu drawn %zu, want 1 1", asked, drawn);
    objs[0].count = 2; /* two yellow squares asked, one drawn */
    s = make_spec(EVAL_COUNT, 1, objs);
    eval_holdout_pairs(&s, &det, &asked, &drawn);
    CHECK(asked == 1 && drawn == 0, "2 yellow squares: asked %zu drawn %zu, want 1 0", asked, drawn);
    eval_object_spec missing[2] = {{WORLD_TRIANGLE, WORLD_RED, -1, 1}, {WORLD_RING, WORLD_BLUE, -1, 1}};
    s = make_spec(EVAL_TWO, 2, missing);
    eval_holdout_pairs(&s, &det, &asked, &drawn);
    CHECK(asked == 2 && drawn == 0, "red triangle + blue ring: asked %zu drawn %zu, want 2 0", asked, drawn);
    eval_object_spec any_colour = {WORLD_SQUARE, -1, -1, 1};
    s = make_spec(EVAL_SINGLE, 1, &any_colour);
    eval_holdout_pairs(&s, &det, &asked, &drawn);
    CHECK(asked == 0 && drawn == 0, "a square of any colour: asked %zu drawn %zu, want 0 0", asked, drawn);
}

static void test_relation_rule_is_the_worlds(void **state) {
    (void)state;
    size_t checked = 0;
    for (int r = 0; r < WORLD_N_RELATIONS; r++)
        for (int dy = -31; dy <= 31; dy++)
            for (int dx = -31; dx <= 31; dx++) {
                int a[2] = {16, 16}, b[2] = {16 + dx, 16 + dy};
                double da[2] = {16, 16}, db[2] = {16.0 + dx, 16.0 + dy};
                int want = world_relation_holds((world_relation)r, a, b);
                int got = eval_relation_holds((world_relation)r, da, db);
                CHECK(got == want, "%s, offset (%d, %d): got %d want %d", world_relation_names[r], dx,
                      dy, got, want);
                checked++;
            }
    printf("relation rule: %zu offsets agree with world_relation_holds\n", checked);
}

static void test_detect_errors_and_sizes(void **state) {
    (void)state;
    xattn_error err = {0};
    eval_detect_params p;
    eval_detect_params_init(&p);
    CHECK(eval_detect(img, 1, 32, &p, &det, &err) == XATTN_ERR_VALUE, "width 1 accepted");
    CHECK(strstr(err.msg, "1x32") != NULL, "message '%s'", err.msg);
    p.connectivity = 6;
    CHECK(eval_detect(img, 32, 32, &p, &det, &err) == XATTN_ERR_VALUE, "connectivity 6 accepted");
    eval_detect_params_init(&p);
    p.max_distance = NAN;
    CHECK(eval_detect(img, 32, 32, &p, &det, &err) == XATTN_ERR_VALUE, "NaN distance accepted");
    /* a 16x16 image: a 7-pixel square is a large one (14 world pixels) */
    uint8_t small[16 * 16 * 3]; /* [16, 16, 3] */
    for (size_t q = 0; q < 16 * 16; q++) memcpy(&small[q * 3], white, 3);
    for (int y = 2; y < 9; y++)
        for (int x = 3; x < 10; x++) memcpy(&small[(y * 16 + x) * 3], RGB(WORLD_GREEN), 3);
    detect_or_fail(small, 16, 16, &det);
    const eval_object *o = only_object();
    CHECK(o->shape == WORLD_SQUARE && o->size == WORLD_LARGE && o->area == 49, "16x16: %s %s %zu px",
          world_size_names[o->size], eval_shape_name(o->shape), o->area);
}

/* ------------------------------------------------------------------------------------------ */
/* the prompt file                                                                             */

static const char *write_file(const char *dir, const char *name, const char *text) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL, "cannot write %s", path);
    fputs(text, fp);
    fclose(fp);
    return path;
}

static void test_prompt_file(void **state) {
    (void)state;
    const char *dir = temp_dir("eval_prompts");
    const char *path = write_file(
        dir, "good.jsonl",
        "{\"prompt\":\"a red circle left of a blue square\",\"embedding\":\"e/1.safetensors\","
        "\"category\":\"position\",\"objects\":[{\"shape\":\"circle\",\"color\":\"red\",\"count\":1},"
        "{\"shape\":\"square\",\"color\":\"blue\"}],\"relation\":{\"subject\":0,\"relation\":\"left of\","
        "\"object\":1}}\n"
        "\n"
        "{\"prompt\":\"three small rings\",\"embedding\":\"/abs/2.npy\",\"category\":\"count\","
        "\"objects\":[{\"shape\":\"ring\",\"color\":null,\"size\":\"small\",\"count\":3}],"
        "\"relation\":null,\"id\":7}\n");
    eval_prompt_set set;
    xattn_error err = {0};
    xattn_status st = eval_prompts_load(path, &set, &err);
    CHECK(st == XATTN_OK, "good file: %s", err.msg);
    CHECK(set.n == 2, "%zu prompts", set.n);
    char want[4200];
    snprintf(want, sizeof want, "%s/e/1.safetensors", dir);
    CHECK(strcmp(set.prompts[0].embedding, want) == 0, "embedding '%s'", set.prompts[0].embedding);
    CHECK(strcmp(set.prompts[1].embedding, "/abs/2.npy") == 0, "embedding '%s'", set.prompts[1].embedding);
    const eval_spec *a = &set.prompts[0].spec, *b = &set.prompts[1].spec;
    CHECK(a->category == EVAL_POSITION && a->n_objects == 2 && a->has_relation &&
              a->relation == WORLD_LEFT_OF && a->objects[1].shape == WORLD_SQUARE &&
              a->objects[1].color == WORLD_BLUE && a->objects[1].count == 1 && a->objects[1].size == -1,
          "first prompt parsed wrong");
    CHECK(b->category == EVAL_COUNT && b->objects[0].count == 3 && b->objects[0].color == -1 &&
              b->objects[0].size == WORLD_SMALL && set.prompts[1].line == 3,
          "second prompt parsed wrong");
    eval_prompts_free(&set);

    static const struct {
        const char *line, *want;
    } bad[] = {
        {"{\"prompt\":\"x\",\"embedding\":\"e\",\"category\":\"single\",\"objects\":[{\"shape\":\"star\"}]}",
         "\"shape\": 'star' is not one of circle"},
        {"{\"prompt\":\"x\",\"embedding\":\"e\",\"category\":\"position\",\"objects\":[{\"shape\":\"ring\"},"
         "{\"shape\":\"cross\"}]}",
         "relation: missing"},
        {"{\"prompt\":\"x\",\"embedding\":\"e\",\"category\":\"count\",\"objects\":[{\"shape\":\"ring\","
         "\"count\":0}]}",
         "\"count\": must be a whole number 1..9"},
        {"{\"prompt\":\"x\",\"embedding\":3,\"category\":\"single\",\"objects\":[{\"shape\":\"ring\"}]}",
         "\"embedding\": not a string"},
        {"{\"prompt\":\"x\",\"embedding\":\"e\",\"category\":\"colors\",\"objects\":[{\"shape\":\"ring\"}]}",
         "names every colour"},
        {"{\"prompt\":\"x\",\"embedding\":\"e\",\"category\":\"two\",\"objects\":[{\"shape\":\"ring\"},"
         "{\"shape\":\"ring\"}]}",
         "same description"},
        {"{\"prompt\":\"x\",\"embedding\":\"e\",\"category\":\"many\",\"objects\":[]}", "\"category\": 'many'"},
        {"[1, 2]", "not a JSON object"},
        {"{\"prompt\": ", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{\"prompt\":\"ok\",\"embedding\":\"e\",\"category\":\"single\","
                                    "\"objects\":[{\"shape\":\"ring\"}]}\n%s\n",
                 bad[i].line);
        path = write_file(dir, "bad.jsonl", text);
        memset(&err, 0, sizeof err);
        st = eval_prompts_load(path, &set, &err);
        eval_prompts_free(&set);
        printf("  bad line %zu: %s\n", i, err.msg);
        CHECK(st != XATTN_OK, "bad line %zu accepted", i);
        CHECK(strstr(err.msg, "bad.jsonl:2: ") && strstr(err.msg, bad[i].want), "bad line %zu: '%s' lacks '%s'",
              i, err.msg, bad[i].want);
    }
    /* a line without "embedding" loads: its text is encoded when the run starts */
    path = write_file(dir, "text.jsonl", "{\"prompt\":\"a ring\",\"category\":\"single\","
                                         "\"objects\":[{\"shape\":\"ring\"}]}\n");
    memset(&err, 0, sizeof err);
    st = eval_prompts_load(path, &set, &err);
    CHECK(st == XATTN_OK, "a line without embedding refused: %s", err.msg);
    CHECK(st != XATTN_OK || (set.n == 1 && set.prompts[0].embedding == NULL),
          "a line without embedding: %zu prompts, embedding %s", set.n,
          set.n ? set.prompts[0].embedding : "-");
    eval_prompts_free(&set);
    path = write_file(dir, "empty.jsonl", "\n\n");
    CHECK(eval_prompts_load(path, &set, &err) == XATTN_ERR_FORMAT && strstr(err.msg, "no prompts"),
          "empty file: '%s'", err.msg);
    eval_prompts_free(&set);
    snprintf(want, sizeof want, "%s/missing.jsonl", dir);
    CHECK(eval_prompts_load(want, &set, &err) == XATTN_ERR_IO, "missing file: '%s'", err.msg);
    eval_prompts_free(&set);
}

/* ------------------------------------------------------------------------------------------ */
/* dataset folders                                                                             */

static void read_back(const char *dir, world_format format, uint64_t seed, world_split split) {
    xattn_error err = {0};
    CHECK(world_write_dataset(dir, seed, split, 30, format, NULL, NULL, &err) == XATTN_OK, "write: %s",
          err.msg);
    eval_truth *t;
    CHECK(eval_truth_open(dir, &t, &err) == XATTN_OK, "open: %s", err.msg);
    static world_scene read;
    size_t n = 0, exact = 0;
    for (;;) {
        uint64_t id;
        int done;
        CHECK(eval_truth_next(t, &read, &id, &done, &err) == XATTN_OK, "next: %s", err.msg);
        if (done) break;
        world_draw(&scene, seed, split, n);
        CHECK(id == n, "id %llu, want %zu", (unsigned long long)id, n);
        CHECK(memcmp(read.rgb, scene.rgb, sizeof scene.rgb) == 0, "image %zu differs", n);
        CHECK(strcmp(read.caption, scene.caption) == 0 && read.kind == scene.kind &&
                  read.n_objects == scene.n_objects && read.has_relation == scene.has_relation,
              "record %zu differs", n);
        for (size_t k = 0; k < scene.n_objects; k++) {
            const world_object *a = &read.objects[k], *b = &scene.objects[k];
            CHECK(a->shape == b->shape && a->color == b->color && a->size == b->size &&
                      a->pixels == b->pixels && memcmp(a->bbox, b->bbox, sizeof a->bbox) == 0 &&
                      memcmp(a->center, b->center, sizeof a->center) == 0 && a->n_words == b->n_words,
                  "record %zu object %zu differs", n, k);
        }
        detect_or_fail(read.rgb, S, S, &det);
        exact += (size_t)eval_detection_matches_truth(&det, &read, NULL, 0);
        n++;
    }
    eval_truth_close(t);
    CHECK(n == 30, "%zu records", n);
    CHECK(exact == 30, "exact detections on %zu of 30", exact);
}

static void test_truth_folder(void **state) {
    (void)state;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/png", temp_dir("eval_truth"));
    read_back(dir, WORLD_FORMAT_PNG, 3, WORLD_TRAIN);
    snprintf(dir, sizeof dir, "%s/npy", temp_dir("eval_truth"));
    read_back(dir, WORLD_FORMAT_NPY, 4, WORLD_HOLDOUT);

    /* a broken record names its line; a missing folder says what is missing */
    xattn_error err = {0};
    eval_truth *t;
    write_file(dir, "truth.jsonl",
               "{\"id\":0,\"image\":\"images.npy\",\"caption\":\"a\",\"kind\":\"single\",\"background\":\"gray\","
               "\"objects\":[{\"shape\":\"circle\",\"color\":\"red\",\"size\":\"small\",\"position\":\"top\","
               "\"center\":[16,5],\"bbox\":[12,1,19,8],\"pixels\":52,\"words\":[1,2]}],\"relation\":null}\n"
               "{\"id\":1,\"image\":\"images.npy\",\"kind\":\"single\"}\n");
    CHECK(eval_truth_open(dir, &t, &err) == XATTN_OK, "open: %s", err.msg);
    uint64_t id;
    int done;
    CHECK(eval_truth_next(t, &scene, &id, &done, &err) == XATTN_OK && !done, "first: %s", err.msg);
    CHECK(eval_truth_next(t, &scene, &id, &done, &err) == XATTN_ERR_FORMAT, "second accepted");
    CHECK(strstr(err.msg, "truth.jsonl:2: ") != NULL, "message '%s'", err.msg);
    eval_truth_close(t);
    snprintf(dir, sizeof dir, "%s/none", temp_dir("eval_truth"));
    CHECK(eval_truth_open(dir, &t, &err) == XATTN_ERR_IO && strstr(err.msg, "truth.jsonl"), "missing: '%s'",
          err.msg);
}

/* ------------------------------------------------------------------------------------------ */
/* the adherence run and tally (src/eval/adherence.c)                                          */

typedef struct image_log {
    size_t started, images, stop_after; /* stop_after 0: never */
    int in_order;
} image_log;

static int log_start(size_t n_images, void *user) {
    image_log *log = user;
    log->started++;
    log->in_order &= n_images == 0; /* truth mode does not know its count */
    return 0;
}

static int log_image(const eval_adherence_image *im, void *user) {
    image_log *log = user;
    log->images++;
    log->in_order &= im->done == log->images && im->index == log->images - 1 && im->id == im->index &&
                     im->exact && im->pass && im->size == S && im->embedding == NULL;
    return log->stop_after && log->images == log->stop_after;
}

static void test_adherence_tally(void **state) {
    (void)state;
    /* overall = the mean over the categories with images: (1/2 + 3/3) / 2 */
    eval_adherence_tally t = {0};
    t.images[EVAL_SINGLE] = 2, t.passed[EVAL_SINGLE] = 1;
    t.images[EVAL_COUNT] = 3, t.passed[EVAL_COUNT] = 3;
    CHECK(fabs(eval_adherence_overall(&t) - 0.75) < 1e-12, "overall %g", eval_adherence_overall(&t));
    CHECK(eval_adherence_category_score(&t, EVAL_TWO) == 0.0, "a category without images scores 0");
    CHECK(eval_adherence_pairs_score(&t) == 0.0, "no pairs asked: 0");
    t.pairs_asked = 4, t.pairs_drawn = 3;
    CHECK(eval_adherence_pairs_score(&t) == 0.75, "pairs %g", eval_adherence_pairs_score(&t));

    /* truth mode on a fresh folder: every image passes and is exact, reported in order */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/set", temp_dir("eval_adherence"));
    xattn_error err = {0};
    CHECK(world_write_dataset(dir, 5, WORLD_TRAIN, 20, WORLD_FORMAT_PNG, NULL, NULL, &err) == XATTN_OK,
          "write: %s", err.msg);
    image_log log = {0, 0, 0, 1};
    eval_adherence_callbacks cb = {log_start, log_image, &log};
    CHECK(eval_adherence_truth(dir, &cb, &t, &err) == XATTN_OK, "truth: %s", err.msg);
    CHECK(log.started == 1 && log.images == 20 && log.in_order, "callbacks: %zu starts, %zu images",
          log.started, log.images);
    CHECK(t.total == 20 && t.total_passed == 20 && t.exact == 20 && eval_adherence_overall(&t) == 1.0,
          "tally: %zu images, %zu passed, %zu exact", t.total, t.total_passed, t.exact);

    /* a callback's non-zero return stops the run */
    image_log stop = {0, 0, 5, 1};
    cb.user = &stop;
    CHECK(eval_adherence_truth(dir, &cb, &t, &err) == XATTN_ERR_CANCELLED && stop.images == 5,
          "stop after 5: %zu images, '%s'", stop.images, err.msg);
    CHECK(eval_adherence_truth(dir, NULL, &t, &err) == XATTN_OK && t.total == 20, "no callbacks: %s",
          err.msg);

    /* a folder without records */
    write_file(dir, "truth.jsonl", "");
    CHECK(eval_adherence_truth(dir, NULL, &t, &err) == XATTN_ERR_FORMAT &&
              strstr(err.msg, "truth.jsonl: no records"), "empty: '%s'", err.msg);
}

/* ------------------------------------------------------------------------------------------ */
/* the heatmap prompt file and tally (src/eval/heat_eval.c)                                    */

static void test_heat_prompt_file(void **state) {
    (void)state;
    const char *dir = temp_dir("eval_heat_prompts");
    /* words 1..3 "large red circle": size (not scored), colour, shape; a count group "crosses" */
    const char *good =
        "{\"prompt\":\"a large red circle and two crosses\",\"embedding\":\"e/1.safetensors\","
        "\"image\":\"i.png\",\"mask\":\"/abs/m.png\",\"objects\":[{\"shape\":\"circle\",\"color\":\"red\","
        "\"words\":[1,2,3],\"mask_index\":1},{\"shape\":\"cross\",\"words\":[6],\"mask_index\":[2,3]}]}\n";
    char text[2048];
    snprintf(text, sizeof text, "\n%s", good);
    const char *path = write_file(dir, "good.jsonl", text);
    eval_heat_prompts set;
    xattn_error err = {0};
    CHECK(eval_heat_prompts_load(path, 0, &set, &err) == XATTN_OK, "good file: %s", err.msg);
    CHECK(set.n == 1 && set.lines[0].line == 2 && set.lines[0].n_words == 7 && set.lines[0].n_objects == 2,
          "%zu lines", set.n);
    const eval_heat_line *l = &set.lines[0];
    char want[4200];
    snprintf(want, sizeof want, "%s/e/1.safetensors", dir);
    CHECK(strcmp(l->embedding, want) == 0 && strcmp(l->mask, "/abs/m.png") == 0, "paths '%s' '%s'",
          l->embedding, l->mask);
    CHECK(l->n_scored == 3, "%zu scored words", l->n_scored);
    CHECK(l->scored[0].word == 2 && l->scored[0].kind == EVAL_HEAT_COLOR && l->scored[0].select == 2u &&
              l->scored[1].word == 3 && l->scored[1].kind == EVAL_HEAT_SHAPE &&
              l->scored[2].word == 6 && l->scored[2].kind == EVAL_HEAT_SHAPE &&
              l->scored[2].object == 1 && l->scored[2].select == (4u | 8u),
          "scored words parsed wrong");
    CHECK(l->shape[1] == WORLD_CROSS && l->color[1] == -1, "object 1: shape %d colour %d", l->shape[1],
          l->color[1]);
    eval_heat_prompts_free(&set);

    static const struct {
        int generated;
        const char *line, *want;
    } bad[] = {
        {0, "{\"prompt\":\"a ring\",\"embedding\":\"e\",\"objects\":[]}", "\"image\": missing"},
        {0, "{\"prompt\":\"a ring\",\"embedding\":\"e\",\"image\":\"i\",\"mask\":\"m\",\"objects\":[{\"shape\":"
            "\"ring\",\"words\":[1],\"mask_index\":0}]}", "object 0: \"mask_index\": values must be"},
        {0, "{\"prompt\":\"a ring\",\"embedding\":\"e\",\"image\":\"i\",\"mask\":\"m\",\"objects\":[{\"shape\":"
            "\"ring\",\"words\":[2],\"mask_index\":1}]}", "\"words\": a value is not a caption word index (0..1)"},
        {0, "{\"prompt\":\"a ring\",\"embedding\":\"e\",\"image\":\"i\",\"mask\":\"m\",\"objects\":[]}",
         "\"objects\": missing or empty"},
        {1, "{\"prompt\":\"a ring\",\"embedding\":\"e\",\"objects\":[{\"shape\":\"star\",\"words\":[1]}]}",
         "object 0: generated mode needs a world \"shape\""},
        {0, "[1]", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%s\n", good, bad[i].line);
        path = write_file(dir, "bad.jsonl", text);
        memset(&err, 0, sizeof err);
        xattn_status st = eval_heat_prompts_load(path, bad[i].generated, &set, &err);
        CHECK(st != XATTN_OK && set.n == 0 && set.lines == NULL, "bad line %zu accepted", i);
        CHECK(strstr(err.msg, "bad.jsonl:2: ") && strstr(err.msg, bad[i].want), "bad line %zu: '%s' lacks '%s'",
              i, err.msg, bad[i].want);
    }
    /* generated mode needs no image, mask or mask_index */
    path = write_file(dir, "gen.jsonl", "{\"prompt\":\"a red ring\",\"embedding\":\"e\",\"objects\":"
                                        "[{\"shape\":\"ring\",\"color\":\"red\",\"words\":[1,2]}]}\n");
    CHECK(eval_heat_prompts_load(path, 1, &set, &err) == XATTN_OK && set.lines[0].n_scored == 2 &&
              set.lines[0].scored[0].select == 0, "generated: %s", err.msg);
    eval_heat_prompts_free(&set);
    path = write_file(dir, "empty.jsonl", "\n \n");
    CHECK(eval_heat_prompts_load(path, 0, &set, &err) == XATTN_ERR_FORMAT && strstr(err.msg, "no prompts"),
          "empty: '%s'", err.msg);

    /* mIoU per kind and overall: the mean over the words */
    eval_heat_tally t = {{1.5, 0.25}, {3, 1}};
    CHECK(eval_heat_count(&t, EVAL_HEAT_N_KINDS) == 4 && eval_heat_miou(&t, EVAL_HEAT_SHAPE) == 0.5 &&
              eval_heat_miou(&t, EVAL_HEAT_COLOR) == 0.25 && eval_heat_miou(&t, EVAL_HEAT_N_KINDS) == 0.4375,
          "miou");
    eval_heat_tally none = {{0, 0}, {0, 0}};
    CHECK(eval_heat_miou(&none, EVAL_HEAT_N_KINDS) == 0.0, "no words: 0");
}

/* eval_detect_labeled's labels are the objects' pixels: on ground-truth scenes each detected
 * object's labelled region is one truth object's mask (IoU >= 0.99 for every region; measured:
 * 1.0 for all 713 objects of these 400 scenes). */
static void test_detect_labels(void **state) {
    (void)state;
    static uint8_t labels[S * S];
    double sum = 0.0, worst = 1.0;
    size_t n = 0, worst_scene = 0;
    for (uint64_t i = 0; i < 400; i++) {
        world_draw(&scene, 5, i % 2 ? WORLD_HOLDOUT : WORLD_TRAIN, i);
        xattn_error err = {0};
        CHECK(eval_detect_labeled(scene.rgb, S, S, NULL, &det, labels, &err) == XATTN_OK, "%s", err.msg);
        eval_detection plain;
        CHECK(eval_detect(scene.rgb, S, S, NULL, &plain, &err) == XATTN_OK, "%s", err.msg);
        CHECK(plain.n_objects == det.n_objects, "scene %llu: labels changed the detection",
              (unsigned long long)i);
        for (size_t k = 0; k < det.n_objects; k++) {
            size_t inter[WORLD_MAX_OBJECTS + 1] = {0}, area = 0, truth_area[WORLD_MAX_OBJECTS + 1] = {0};
            for (size_t p = 0; p < (size_t)S * S; p++) {
                truth_area[scene.mask[p]]++;
                if (labels[p] == k + 1) {
                    area++;
                    inter[scene.mask[p]]++;
                }
            }
            CHECK(area == det.objects[k].area, "scene %llu object %zu: %zu labelled pixels, area %zu",
                  (unsigned long long)i, k, area, det.objects[k].area);
            double best = 0.0;
            for (size_t t = 1; t <= scene.n_objects; t++) {
                double iou = (double)inter[t] / (double)(area + truth_area[t] - inter[t]);
                if (iou > best) best = iou;
            }
            sum += best;
            n++;
            if (best < worst) worst = best, worst_scene = (size_t)i;
        }
    }
    print_message("labels vs truth masks: %zu objects, mean IoU %.4f, worst %.4f (scene %zu)\n", n,
                  sum / (double)n, worst, worst_scene);
    CHECK(n > 400 && worst >= 0.99, "worst IoU %.4f (scene %zu) over %zu objects", worst, worst_scene, n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truth_agreement),       cmocka_unit_test(test_noise_scores_near_zero),
        cmocka_unit_test(test_shapes_by_hand),        cmocka_unit_test(test_tolerates_off_palette),
        cmocka_unit_test(test_scoring_by_hand),       cmocka_unit_test(test_relation_rule_is_the_worlds),
        cmocka_unit_test(test_detect_errors_and_sizes), cmocka_unit_test(test_prompt_file),
        cmocka_unit_test(test_truth_folder),          cmocka_unit_test(test_detect_labels),
        cmocka_unit_test(test_holdout_pairs),         cmocka_unit_test(test_adherence_tally),
        cmocka_unit_test(test_heat_prompt_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
