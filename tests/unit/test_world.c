/* test_world.c — the shapes world: determinism (and image i independent of the set size), the
 * holdout pairs, pixels against masks and colours, relations by centres, bounds and overlap,
 * the caption words named by each object, coverage of the vocabulary, the written folder
 * (PNG and npy formats, truth.jsonl) and write errors. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above */
#include <cjson/cJSON.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb/stb_image.h>

#include "test_util.h"
#include "xattn_shapes.h"

enum { N_CHECK = 2000 };

static world_scene scene_a, scene_b; /* static: ~4 KB each */

/* Splits a caption into words (pointers into buf). Returns the count. */
static size_t split_words(const char *caption, char *buf, size_t buf_len, const char **words,
                          size_t max) {
    snprintf(buf, buf_len, "%s", caption);
    size_t n = 0;
    for (char *tok = strtok(buf, " "); tok && n < max; tok = strtok(NULL, " "))
        words[n++] = tok;
    return n;
}

static int same_rgb(const uint8_t *a, const uint8_t *b) {
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
}

/* ------------------------------------------------------------------------------------------ */

static void test_deterministic(void **state) {
    (void)state;
    size_t differ_seed = 0, differ_split = 0;
    for (uint64_t i = 0; i < 200; i++) {
        world_draw(&scene_a, 7, WORLD_TRAIN, i);
        world_draw(&scene_b, 7, WORLD_TRAIN, i);
        CHECK(memcmp(scene_a.rgb, scene_b.rgb, sizeof scene_a.rgb) == 0, "image %llu: pixels differ",
              (unsigned long long)i);
        CHECK(memcmp(scene_a.mask, scene_b.mask, sizeof scene_a.mask) == 0, "image %llu: masks differ",
              (unsigned long long)i);
        CHECK(strcmp(scene_a.caption, scene_b.caption) == 0, "image %llu: '%s' vs '%s'",
              (unsigned long long)i, scene_a.caption, scene_b.caption);
        world_draw(&scene_b, 8, WORLD_TRAIN, i);
        differ_seed += memcmp(scene_a.rgb, scene_b.rgb, sizeof scene_a.rgb) != 0;
        world_draw(&scene_b, 7, WORLD_HOLDOUT, i);
        differ_split += memcmp(scene_a.rgb, scene_b.rgb, sizeof scene_a.rgb) != 0;
    }
    CHECK(differ_seed > 190, "another seed changed only %zu of 200 images", differ_seed);
    CHECK(differ_split > 190, "another split changed only %zu of 200 images", differ_split);
}

static void test_holdout_pairs(void **state) {
    (void)state;
    size_t seen[WORLD_N_HOLDOUT_PAIRS] = {0};
    for (uint64_t i = 0; i < N_CHECK; i++) {
        world_draw(&scene_a, 3, WORLD_TRAIN, i);
        for (size_t k = 0; k < scene_a.n_objects; k++) {
            const world_object *o = &scene_a.objects[k];
            for (size_t h = 0; h < WORLD_N_HOLDOUT_PAIRS; h++)
                CHECK(!(o->color == world_holdout_pairs[h].color &&
                        o->shape == world_holdout_pairs[h].shape),
                      "train image %llu has the holdout pair %s %s: '%s'", (unsigned long long)i,
                      world_color_names[o->color], world_shape_names[o->shape], scene_a.caption);
        }
        world_draw(&scene_a, 3, WORLD_HOLDOUT, i);
        int found = 0;
        for (size_t k = 0; k < scene_a.n_objects; k++)
            for (size_t h = 0; h < WORLD_N_HOLDOUT_PAIRS; h++)
                if (scene_a.objects[k].color == world_holdout_pairs[h].color &&
                    scene_a.objects[k].shape == world_holdout_pairs[h].shape) {
                    found = 1;
                    seen[h]++;
                }
        CHECK(found, "holdout image %llu has no holdout pair: '%s'", (unsigned long long)i,
              scene_a.caption);
    }
    for (size_t h = 0; h < WORLD_N_HOLDOUT_PAIRS; h++)
        CHECK(seen[h] > N_CHECK / 20, "holdout pair %zu seen in only %zu objects", h, seen[h]);
}

/* Every mask pixel k has object k's colour, every background pixel the background's; counts and
 * bounding boxes agree with the mask; no object has the background's colour. */
static void check_pixels(const world_scene *s, uint64_t i) {
    size_t count[WORLD_MAX_OBJECTS + 1] = {0};
    int box[WORLD_MAX_OBJECTS][4];
    for (size_t k = 0; k < WORLD_MAX_OBJECTS; k++)
        box[k][0] = box[k][1] = WORLD_SIZE, box[k][2] = box[k][3] = -1;
    const uint8_t *bg = world_background_rgb[s->background];
    for (int y = 0; y < WORLD_SIZE; y++) {
        for (int x = 0; x < WORLD_SIZE; x++) {
            size_t p = (size_t)y * WORLD_SIZE + (size_t)x;
            unsigned m = s->mask[p];
            CHECK(m <= s->n_objects, "image %llu: mask value %u at (%d, %d) with %zu objects",
                  (unsigned long long)i, m, x, y, s->n_objects);
            const uint8_t *want = m ? world_color_rgb[s->objects[m - 1].color] : bg;
            CHECK(same_rgb(&s->rgb[p * 3], want),
                  "image %llu: pixel (%d, %d) is %u %u %u, want %u %u %u (mask %u)",
                  (unsigned long long)i, x, y, s->rgb[p * 3], s->rgb[p * 3 + 1], s->rgb[p * 3 + 2],
                  want[0], want[1], want[2], m);
            count[m]++;
            if (m) {
                int *b = box[m - 1];
                if (x < b[0])
                    b[0] = x;
                if (y < b[1])
                    b[1] = y;
                if (x > b[2])
                    b[2] = x;
                if (y > b[3])
                    b[3] = y;
            }
        }
    }
    for (size_t k = 0; k < s->n_objects; k++) {
        const world_object *o = &s->objects[k];
        CHECK(count[k + 1] == o->pixels && o->pixels > 0,
              "image %llu object %zu: %zu mask pixels, truth says %zu", (unsigned long long)i, k,
              count[k + 1], o->pixels);
        CHECK(memcmp(box[k], o->bbox, sizeof box[k]) == 0,
              "image %llu object %zu: bbox from the mask differs", (unsigned long long)i, k);
        CHECK(!same_rgb(world_color_rgb[o->color], bg), "image %llu object %zu: %s on a %s background",
              (unsigned long long)i, k, world_color_names[o->color],
              world_background_names[s->background]);
    }
}

static void test_pixels_match_truth(void **state) {
    (void)state;
    for (uint64_t i = 0; i < N_CHECK; i++) {
        world_draw(&scene_a, 11, (world_split)(i % 2), i);
        check_pixels(&scene_a, i);
    }
}

/* The relation word in the caption matches the truth, and holds by centres with a margin. */
static void test_relations_hold(void **state) {
    (void)state;
    size_t n_rel = 0;
    for (uint64_t i = 0; i < N_CHECK; i++) {
        world_draw(&scene_a, 5, (world_split)(i % 2), i);
        if (scene_a.kind != WORLD_KIND_RELATION) {
            CHECK(!scene_a.has_relation, "image %llu: a %s scene with a relation", (unsigned long long)i,
                  world_kind_names[scene_a.kind]);
            continue;
        }
        n_rel++;
        CHECK(scene_a.has_relation && scene_a.n_objects == 2,
              "image %llu: relation scene without a relation", (unsigned long long)i);
        const int *s = scene_a.objects[scene_a.subject].center,
                  *o = scene_a.objects[scene_a.object].center;
        int ok;
        const char *word;
        switch (scene_a.relation) {
        case WORLD_LEFT_OF: ok = o[0] - s[0] >= 8, word = "left"; break;
        case WORLD_RIGHT_OF: ok = s[0] - o[0] >= 8, word = "right"; break;
        case WORLD_ABOVE: ok = o[1] - s[1] >= 8, word = "above"; break;
        default: ok = s[1] - o[1] >= 8, word = NULL; break;
        }
        CHECK(ok, "image %llu: '%s' but centres (%d, %d) and (%d, %d)", (unsigned long long)i,
              scene_a.caption, s[0], s[1], o[0], o[1]);
        char buf[WORLD_CAPTION_LEN];
        const char *words[64];
        size_t n = split_words(scene_a.caption, buf, sizeof buf, words, 64);
        /* the relation words lie between the subject's noun and the object's first word */
        size_t from =
            scene_a.objects[scene_a.subject].words[scene_a.objects[scene_a.subject].n_words - 1];
        size_t to = scene_a.objects[scene_a.object].words[0];
        int found = 0;
        for (size_t w = from + 1; w < to && w < n; w++) {
            if (word ? strcmp(words[w], word) == 0
                     : strcmp(words[w], "below") == 0 || strcmp(words[w], "under") == 0 ||
                           strcmp(words[w], "beneath") == 0)
                found = 1;
            CHECK(strcmp(words[w], "left") != 0 || scene_a.relation == WORLD_LEFT_OF, "image %llu: '%s'",
                  (unsigned long long)i, scene_a.caption);
            CHECK(strcmp(words[w], "right") != 0 || scene_a.relation == WORLD_RIGHT_OF,
                  "image %llu: '%s'", (unsigned long long)i, scene_a.caption);
        }
        CHECK(found, "image %llu: caption '%s' does not say %s", (unsigned long long)i, scene_a.caption,
              world_relation_names[scene_a.relation]);
    }
    CHECK(n_rel > N_CHECK / 5, "only %zu relation scenes", n_rel);
}

static void test_bounds_and_overlap(void **state) {
    (void)state;
    for (uint64_t i = 0; i < N_CHECK; i++) {
        world_draw(&scene_a, 13, (world_split)(i % 2), i);
        for (size_t k = 0; k < scene_a.n_objects; k++) {
            const world_object *a = &scene_a.objects[k];
            int half = world_size_pixels[a->size] / 2;
            CHECK(a->center[0] - half >= 0 && a->center[1] - half >= 0 &&
                      a->center[0] + half <= WORLD_SIZE && a->center[1] + half <= WORLD_SIZE,
                  "image %llu object %zu: box around (%d, %d) leaves the image", (unsigned long long)i,
                  k, a->center[0], a->center[1]);
            CHECK(a->bbox[0] >= 0 && a->bbox[1] >= 0 && a->bbox[2] < WORLD_SIZE &&
                      a->bbox[3] < WORLD_SIZE,
                  "image %llu object %zu: bbox outside the image", (unsigned long long)i, k);
            CHECK(a->position == world_position_of(a->center[0], a->center[1]),
                  "image %llu object %zu: position %s for centre (%d, %d)", (unsigned long long)i, k,
                  world_position_names[a->position], a->center[0], a->center[1]);
            for (size_t m = k + 1; m < scene_a.n_objects; m++) {
                const world_object *b = &scene_a.objects[m];
                /* bounding boxes at least one pixel apart: no shared or touching pixels */
                int apart = a->bbox[2] + 1 < b->bbox[0] || b->bbox[2] + 1 < a->bbox[0] ||
                            a->bbox[3] + 1 < b->bbox[1] || b->bbox[3] + 1 < a->bbox[1];
                CHECK(apart, "image %llu: objects %zu and %zu touch or overlap", (unsigned long long)i,
                      k, m);
            }
        }
    }
}

/* Captions: lower-case words, single spaces, no punctuation; every object's words point at its
 * colour, shape noun (singular or plural) or size, and it has exactly one colour and one noun. */
static void test_caption_words(void **state) {
    (void)state;
    for (uint64_t i = 0; i < N_CHECK; i++) {
        world_draw(&scene_a, 17, (world_split)(i % 2), i);
        const char *c = scene_a.caption;
        size_t len = strlen(c);
        CHECK(len > 0 && c[0] != ' ' && c[len - 1] != ' ' && !strstr(c, "  "),
              "image %llu: spacing in '%s'", (unsigned long long)i, c);
        for (size_t p = 0; p < len; p++)
            CHECK((c[p] >= 'a' && c[p] <= 'z') || c[p] == ' ', "image %llu: character '%c' in '%s'",
                  (unsigned long long)i, c[p], c);
        char buf[WORLD_CAPTION_LEN];
        const char *words[64];
        size_t n = split_words(c, buf, sizeof buf, words, 64);
        for (size_t k = 0; k < scene_a.n_objects; k++) {
            const world_object *o = &scene_a.objects[k];
            int colors = 0, nouns = 0;
            CHECK(o->n_words >= 2 && o->n_words <= 3, "image %llu object %zu: %zu words",
                  (unsigned long long)i, k, o->n_words);
            for (size_t w = 0; w < o->n_words; w++) {
                CHECK(o->words[w] < n, "image %llu object %zu: word index %zu of %zu words",
                      (unsigned long long)i, k, o->words[w], n);
                const char *word = words[o->words[w]];
                int is_color = strcmp(word, world_color_names[o->color]) == 0;
                int is_noun = strcmp(word, world_shape_names[o->shape]) == 0 ||
                              strcmp(word, world_shape_plurals[o->shape]) == 0;
                int is_size = strcmp(word, world_size_names[o->size]) == 0;
                CHECK(is_color || is_noun || is_size,
                      "image %llu object %zu (%s %s %s): word %zu '%s' in '%s'", (unsigned long long)i,
                      k, world_size_names[o->size], world_color_names[o->color],
                      world_shape_names[o->shape], o->words[w], word, c);
                colors += is_color;
                nouns += is_noun;
            }
            CHECK(colors == 1 && nouns == 1,
                  "image %llu object %zu: %d colour and %d noun words in '%s'", (unsigned long long)i, k,
                  colors, nouns, c);
        }
        if (scene_a.kind == WORLD_KIND_COUNT) {
            static const char *const numbers[4] = {"", "", "two", "three"};
            CHECK(strstr(c, numbers[scene_a.n_objects]) != NULL, "image %llu: %zu objects, caption '%s'",
                  (unsigned long long)i, scene_a.n_objects, c);
        }
    }
}

static void test_coverage(void **state) {
    (void)state;
    size_t shapes[WORLD_N_SHAPES] = {0}, colors[WORLD_N_COLORS] = {0}, bgs[WORLD_N_BACKGROUNDS] = {0},
           sizes[WORLD_N_SIZES] = {0}, positions[WORLD_N_POSITIONS] = {0}, kinds[WORLD_N_KINDS] = {0},
           relations[WORLD_N_RELATIONS] = {0}, counts[WORLD_MAX_OBJECTS + 1] = {0};
    for (uint64_t i = 0; i < N_CHECK; i++) {
        world_draw(&scene_a, 19, WORLD_TRAIN, i);
        kinds[scene_a.kind]++;
        bgs[scene_a.background]++;
        if (scene_a.has_relation)
            relations[scene_a.relation]++;
        if (scene_a.kind == WORLD_KIND_COUNT)
            counts[scene_a.n_objects]++;
        for (size_t k = 0; k < scene_a.n_objects; k++) {
            shapes[scene_a.objects[k].shape]++;
            colors[scene_a.objects[k].color]++;
            sizes[scene_a.objects[k].size]++;
            positions[scene_a.objects[k].position]++;
        }
    }
    for (size_t v = 0; v < WORLD_N_SHAPES; v++)
        CHECK(shapes[v] > 0, "shape %s never drawn", world_shape_names[v]);
    for (size_t v = 0; v < WORLD_N_COLORS; v++)
        CHECK(colors[v] > 0, "colour %s never drawn", world_color_names[v]);
    for (size_t v = 0; v < WORLD_N_BACKGROUNDS; v++)
        CHECK(bgs[v] > 0, "background %s never drawn", world_background_names[v]);
    for (size_t v = 0; v < WORLD_N_SIZES; v++)
        CHECK(sizes[v] > 0, "size %s never drawn", world_size_names[v]);
    for (size_t v = 0; v < WORLD_N_POSITIONS; v++)
        CHECK(positions[v] > 0, "position %s never drawn", world_position_names[v]);
    for (size_t v = 0; v < WORLD_N_RELATIONS; v++)
        CHECK(relations[v] > 0, "relation %s never drawn", world_relation_names[v]);
    for (size_t v = 0; v < WORLD_N_KINDS; v++) {
        double share = (double)kinds[v] / N_CHECK;
        CHECK(share > world_kind_shares[v] - 0.05 && share < world_kind_shares[v] + 0.05,
              "kind %s: share %.3f, documented %.2f", world_kind_names[v], share, world_kind_shares[v]);
    }
    CHECK(counts[2] > 0 && counts[3] > 0, "counts: %zu twos, %zu threes", counts[2], counts[3]);
}

/* Object colours and backgrounds are at least 80 apart (Euclidean RGB), except a colour and the
 * background it is never drawn on. */
static void test_colors_separated(void **state) {
    (void)state;
    const uint8_t *all[WORLD_N_COLORS + 1];
    for (size_t c = 0; c < WORLD_N_COLORS; c++)
        all[c] = world_color_rgb[c];
    all[WORLD_N_COLORS] = world_background_rgb[WORLD_BG_GRAY];
    for (size_t a = 0; a <= WORLD_N_COLORS; a++)
        for (size_t b = a + 1; b <= WORLD_N_COLORS; b++) {
            double d2 = 0;
            for (int ch = 0; ch < 3; ch++)
                d2 += ((double)all[a][ch] - all[b][ch]) * ((double)all[a][ch] - all[b][ch]);
            CHECK(d2 >= 80.0 * 80.0, "colours %zu and %zu are %.1f apart", a, b, sqrt(d2));
        }
    for (size_t h = 0; h < WORLD_N_HOLDOUT_PAIRS; h++)
        CHECK(world_background_color(WORLD_BG_GRAY) == WORLD_N_COLORS &&
                  world_holdout_pairs[h].color != WORLD_BLACK &&
                  world_holdout_pairs[h].color != WORLD_WHITE,
              "holdout pair %zu has a background colour", h);
}

/* ------------------------------------------------------------------------------------------ */
/* the folder                                                                                  */

static char *read_text(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, fp);
    buf[got] = '\0';
    fclose(fp);
    return buf;
}

/* Checks DIR's truth.jsonl (count lines) and PNGs against world_draw(seed, split, i). */
static void check_png_folder(const char *dir, uint64_t seed, world_split split, size_t count) {
    char path[4096];
    snprintf(path, sizeof path, "%s/truth.jsonl", dir);
    char *text = read_text(path);
    assert_non_null(text);
    size_t lines = 0;
    for (char *line = text, *next; *line; line = next) {
        next = strchr(line, '\n');
        assert_non_null(next);
        *next++ = '\0';
        cJSON *j = cJSON_Parse(line);
        CHECK(j != NULL, "%s line %zu does not parse: %.200s", path, lines + 1, line);
        world_draw(&scene_a, seed, split, lines);
        CHECK(cJSON_GetObjectItem(j, "id")->valuedouble == (double)lines, "%s line %zu: id", path,
              lines + 1);
        CHECK(strcmp(cJSON_GetObjectItem(j, "caption")->valuestring, scene_a.caption) == 0,
              "%s line %zu: caption '%s'", path, lines + 1,
              cJSON_GetObjectItem(j, "caption")->valuestring);
        CHECK(strcmp(cJSON_GetObjectItem(j, "split")->valuestring, world_split_names[split]) == 0,
              "split");
        CHECK(strcmp(cJSON_GetObjectItem(j, "kind")->valuestring, world_kind_names[scene_a.kind]) == 0,
              "kind");
        cJSON *objects = cJSON_GetObjectItem(j, "objects");
        CHECK((size_t)cJSON_GetArraySize(objects) == scene_a.n_objects, "%s line %zu: objects", path,
              lines + 1);
        for (size_t k = 0; k < scene_a.n_objects; k++) {
            cJSON *o = cJSON_GetArrayItem(objects, (int)k);
            CHECK(strcmp(cJSON_GetObjectItem(o, "color")->valuestring,
                         world_color_names[scene_a.objects[k].color]) == 0,
                  "colour");
            CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(o, "words")) == (int)scene_a.objects[k].n_words,
                  "words");
            CHECK(cJSON_GetObjectItem(o, "pixels")->valuedouble == (double)scene_a.objects[k].pixels,
                  "pixels");
        }
        cJSON *rel = cJSON_GetObjectItem(j, "relation");
        CHECK(rel && (scene_a.has_relation ? cJSON_IsObject(rel) : cJSON_IsNull(rel)),
              "%s line %zu: relation", path, lines + 1);

        int w, h, n;
        snprintf(path, sizeof path, "%s/%s", dir, cJSON_GetObjectItem(j, "image")->valuestring);
        uint8_t *rgb = stbi_load(path, &w, &h, &n, 0);
        CHECK(rgb && w == WORLD_SIZE && h == WORLD_SIZE && n == 3, "%s: not a 32x32 RGB PNG", path);
        CHECK(memcmp(rgb, scene_a.rgb, sizeof scene_a.rgb) == 0, "%s: pixels differ from world_draw",
              path);
        stbi_image_free(rgb);
        snprintf(path, sizeof path, "%s/%s", dir, cJSON_GetObjectItem(j, "mask")->valuestring);
        uint8_t *mask = stbi_load(path, &w, &h, &n, 0);
        CHECK(mask && w == WORLD_SIZE && h == WORLD_SIZE && n == 1, "%s: not a 32x32 gray PNG", path);
        CHECK(memcmp(mask, scene_a.mask, sizeof scene_a.mask) == 0, "%s: mask differs from world_draw",
              path);
        stbi_image_free(mask);
        cJSON_Delete(j);
        snprintf(path, sizeof path, "%s/truth.jsonl", dir);
        lines++;
    }
    free(text);
    CHECK(lines == count, "%s: %zu lines, want %zu", path, lines, count);
}

static void test_folder_extends(void **state) {
    (void)state;
    char small[1024], big[1024];
    snprintf(small, sizeof small, "%s/small", temp_dir("world"));
    snprintf(big, sizeof big, "%s/big", temp_dir("world"));
    xattn_error err = {0};
    assert_int_equal(
        world_write_dataset(small, 21, WORLD_HOLDOUT, 10, WORLD_FORMAT_PNG, NULL, NULL, &err), XATTN_OK);
    assert_int_equal(
        world_write_dataset(big, 21, WORLD_HOLDOUT, 100, WORLD_FORMAT_PNG, NULL, NULL, &err), XATTN_OK);
    /* both against world_draw, so image i is the same in both sets */
    check_png_folder(small, 21, WORLD_HOLDOUT, 10);
    check_png_folder(big, 21, WORLD_HOLDOUT, 100);

    char path[4096];
    snprintf(path, sizeof path, "%s/truth.jsonl", small);
    char *small_truth = read_text(path);
    snprintf(path, sizeof path, "%s/truth.jsonl", big);
    char *big_truth = read_text(path);
    assert_non_null(small_truth);
    assert_non_null(big_truth);
    CHECK(strncmp(small_truth, big_truth, strlen(small_truth)) == 0,
          "the 10-image truth.jsonl is not a prefix of the 100-image one");
    free(small_truth);
    free(big_truth);

    snprintf(path, sizeof path, "%s/world.json", big);
    char *text = read_text(path);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    CHECK(strcmp(cJSON_GetObjectItem(j, "version")->valuestring, WORLD_VERSION) == 0, "version");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "holdout_pairs")) == WORLD_N_HOLDOUT_PAIRS,
          "holdout pairs");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "positions")) == WORLD_N_POSITIONS, "positions");
    CHECK(cJSON_GetObjectItem(j, "count")->valuedouble == 100, "count");
    cJSON_Delete(j);
}

static void test_npy_folder(void **state) {
    (void)state;
    char dir[1024], path[4096];
    snprintf(dir, sizeof dir, "%s/npy", temp_dir("world"));
    xattn_error err = {0};
    const size_t count = 50;
    assert_int_equal(world_write_dataset(dir, 4, WORLD_TRAIN, count, WORLD_FORMAT_NPY, NULL, NULL, &err),
                     XATTN_OK);
    const char *names[2] = {"images.npy", "masks.npy"};
    const size_t item[2] = {WORLD_SIZE * WORLD_SIZE * 3, WORLD_SIZE * WORLD_SIZE};
    for (int f = 0; f < 2; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        unsigned char head[10];
        assert_int_equal(fread(head, 1, 10, fp), 10);
        CHECK(memcmp(head, "\x93NUMPY\x01\x00", 8) == 0, "%s: bad magic", path);
        size_t header_len = head[8] | (size_t)head[9] << 8;
        CHECK((10 + header_len) % 64 == 0, "%s: header length %zu", path, header_len);
        char dict[256] = {0};
        assert_true(header_len < sizeof dict);
        assert_int_equal(fread(dict, 1, header_len, fp), header_len);
        CHECK(strstr(dict, "'descr': '|u1'") &&
                  strstr(dict, f == 0 ? "(50, 32, 32, 3)" : "(50, 32, 32)"),
              "%s: header %s", path, dict);
        uint8_t *data = malloc(count * item[f] + 1); /* [count, 32, 32, (3)] */
        CHECK(fread(data, 1, count * item[f] + 1, fp) == count * item[f], "%s: data size", path);
        fclose(fp);
        for (size_t i = 0; i < count; i++) {
            world_draw(&scene_a, 4, WORLD_TRAIN, i);
            CHECK(memcmp(data + i * item[f], f == 0 ? scene_a.rgb : scene_a.mask, item[f]) == 0,
                  "%s: row %zu differs", path, i);
        }
        free(data);
    }
}

static void test_write_errors(void **state) {
    (void)state;
    char file[1024], dir[2048];
    snprintf(file, sizeof file, "%s/a_file", temp_dir("world"));
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(dir, sizeof dir, "%s/sub", file); /* a folder below a regular file cannot exist */
    xattn_error err = {0};
    assert_int_equal(world_write_dataset(dir, 0, WORLD_TRAIN, 5, WORLD_FORMAT_PNG, NULL, NULL, &err),
                     XATTN_ERR_IO);
    CHECK(strstr(err.msg, file) != NULL && !strchr(err.msg, '\n'), "message: %s", err.msg);
    assert_int_equal(world_write_dataset(dir, 0, WORLD_TRAIN, 5, WORLD_FORMAT_NPY, NULL, NULL, &err),
                     XATTN_ERR_IO);
    assert_int_equal(
        world_write_dataset(temp_dir("world"), 0, WORLD_TRAIN, 0, WORLD_FORMAT_PNG, NULL, NULL, &err),
        XATTN_ERR_VALUE);
    assert_int_equal(world_write_dataset(temp_dir("world"), 0, WORLD_TRAIN, WORLD_MAX_COUNT + 1,
                                         WORLD_FORMAT_PNG, NULL, NULL, &err),
                     XATTN_ERR_VALUE);
    assert_int_equal(world_write_dataset("", 0, WORLD_TRAIN, 1, WORLD_FORMAT_PNG, NULL, NULL, &err),
                     XATTN_ERR_VALUE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),      cmocka_unit_test(test_holdout_pairs),
        cmocka_unit_test(test_pixels_match_truth), cmocka_unit_test(test_relations_hold),
        cmocka_unit_test(test_bounds_and_overlap), cmocka_unit_test(test_caption_words),
        cmocka_unit_test(test_coverage),           cmocka_unit_test(test_colors_separated),
        cmocka_unit_test(test_folder_extends),     cmocka_unit_test(test_npy_folder),
        cmocka_unit_test(test_write_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
