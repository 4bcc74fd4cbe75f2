/* world_dataset.c — truth.jsonl / world.json records and the dataset folder writer. See
 * xattn_shapes.h. */
#define _GNU_SOURCE /* syncfs */
#include "xattn_shapes.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xattn_io.h"
#include "util/atomic_file.h"
#include "util/utf8.h"
#include "util/error.h"

/* ------------------------------------------------------------------------------------------ */
/* JSON records                                                                                */

static cJSON *int_array(const int *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

static cJSON *rgb_array(const uint8_t rgb[3]) {
    int v[3] = {rgb[0], rgb[1], rgb[2]};
    return int_array(v, 3);
}

/* Adds item to obj under key; on a NULL item (out of memory) returns 0. */
static int add(cJSON *obj, const char *key, cJSON *item) {
    if (!item)
        return 0;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return 0;
    }
    return 1;
}

static int push(cJSON *arr, cJSON *item) {
    if (!item)
        return 0;
    if (!cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return 0;
    }
    return 1;
}

/* An unsigned 64-bit integer as an exact JSON number (a double would round it above 2^53). */
static cJSON *u64_number(uint64_t v) {
    char digits[24];
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    return cJSON_CreateRaw(digits);
}

cJSON *world_scene_json(const world_scene *s, uint64_t id, world_split split, const char *image,
                        const char *mask) {
    cJSON *j = cJSON_CreateObject();
    int ok = j && add(j, "id", u64_number(id)) && add(j, "image", cJSON_CreateString(image)) &&
             add(j, "mask", cJSON_CreateString(mask)) &&
             add(j, "split", cJSON_CreateString(world_split_names[split])) &&
             add(j, "caption", cJSON_CreateString(s->caption)) &&
             add(j, "kind", cJSON_CreateString(world_kind_names[s->kind])) &&
             add(j, "background", cJSON_CreateString(world_background_names[s->background]));
    cJSON *objects = ok ? cJSON_CreateArray() : NULL;
    ok = ok && add(j, "objects", objects);
    for (size_t k = 0; ok && k < s->n_objects; k++) {
        const world_object *o = &s->objects[k];
        cJSON *jo = cJSON_CreateObject();
        ok = push(objects, jo) && add(jo, "shape", cJSON_CreateString(world_shape_names[o->shape])) &&
             add(jo, "color", cJSON_CreateString(world_color_names[o->color])) &&
             add(jo, "size", cJSON_CreateString(world_size_names[o->size])) &&
             add(jo, "position", cJSON_CreateString(world_position_names[o->position])) &&
             add(jo, "center", int_array(o->center, 2)) && add(jo, "bbox", int_array(o->bbox, 4)) &&
             add(jo, "pixels", cJSON_CreateNumber((double)o->pixels));
        int words[WORLD_MAX_NAME_WORDS];
        for (size_t w = 0; w < o->n_words; w++)
            words[w] = (int)o->words[w];
        ok = ok && add(jo, "words", int_array(words, o->n_words));
    }
    if (ok && s->has_relation) {
        cJSON *rel = cJSON_CreateObject();
        ok = add(j, "relation", rel) && add(rel, "subject", cJSON_CreateNumber((double)s->subject)) &&
             add(rel, "relation", cJSON_CreateString(world_relation_names[s->relation])) &&
             add(rel, "object", cJSON_CreateNumber((double)s->object));
    } else if (ok) {
        ok = add(j, "relation", cJSON_CreateNull());
    }
    if (!ok) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static cJSON *name_array(const char *const *names, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        if (!push(a, cJSON_CreateString(names[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

cJSON *world_vocabulary_json(uint64_t seed, world_split split, size_t count) {
    cJSON *j = cJSON_CreateObject();
    int ok = j && add(j, "version", cJSON_CreateString(WORLD_VERSION)) &&
             add(j, "image_size", cJSON_CreateNumber(WORLD_SIZE));
    if (ok && count > 0)
        ok = add(j, "seed", u64_number(seed)) &&
             add(j, "split", cJSON_CreateString(world_split_names[split])) &&
             add(j, "count", u64_number(count));
    ok = ok && add(j, "shapes", name_array(world_shape_names, WORLD_N_SHAPES)) &&
         add(j, "shape_plurals", name_array(world_shape_plurals, WORLD_N_SHAPES));

    cJSON *colors = ok ? cJSON_CreateArray() : NULL, *bgs = NULL, *sizes = NULL, *cells = NULL,
          *kinds = NULL, *held = NULL;
    ok = ok && add(j, "colors", colors);
    for (size_t i = 0; ok && i < WORLD_N_COLORS; i++) {
        cJSON *c = cJSON_CreateObject();
        ok = push(colors, c) && add(c, "name", cJSON_CreateString(world_color_names[i])) &&
             add(c, "rgb", rgb_array(world_color_rgb[i]));
    }
    ok = ok && add(j, "backgrounds", bgs = cJSON_CreateArray());
    for (size_t i = 0; ok && i < WORLD_N_BACKGROUNDS; i++) {
        cJSON *c = cJSON_CreateObject();
        ok = push(bgs, c) && add(c, "name", cJSON_CreateString(world_background_names[i])) &&
             add(c, "rgb", rgb_array(world_background_rgb[i]));
    }
    ok = ok && add(j, "sizes", sizes = cJSON_CreateArray());
    for (size_t i = 0; ok && i < WORLD_N_SIZES; i++) {
        cJSON *c = cJSON_CreateObject();
        ok = push(sizes, c) && add(c, "name", cJSON_CreateString(world_size_names[i])) &&
             add(c, "pixels_across", cJSON_CreateNumber(world_size_pixels[i]));
    }
    ok = ok && add(j, "positions", cells = cJSON_CreateArray());
    for (size_t i = 0; ok && i < WORLD_N_POSITIONS; i++) {
        cJSON *c = cJSON_CreateObject();
        int cell[2] = {(int)(i % 3), (int)(i / 3)};
        ok = push(cells, c) && add(c, "name", cJSON_CreateString(world_position_names[i])) &&
             add(c, "cell", int_array(cell, 2));
    }
    ok = ok && add(j, "relations", name_array(world_relation_names, WORLD_N_RELATIONS)) &&
         add(j, "relation_margin", cJSON_CreateNumber(WORLD_RELATION_MARGIN)) &&
         add(j, "min_gap", cJSON_CreateNumber(WORLD_GAP));
    ok = ok && add(j, "kinds", kinds = cJSON_CreateArray());
    for (size_t i = 0; ok && i < WORLD_N_KINDS; i++) {
        cJSON *c = cJSON_CreateObject();
        ok = push(kinds, c) && add(c, "name", cJSON_CreateString(world_kind_names[i])) &&
             add(c, "share", cJSON_CreateNumber(world_kind_shares[i]));
    }
    ok = ok && add(j, "holdout_pairs", held = cJSON_CreateArray());
    for (size_t i = 0; ok && i < WORLD_N_HOLDOUT_PAIRS; i++) {
        cJSON *c = cJSON_CreateObject();
        ok = push(held, c) &&
             add(c, "color", cJSON_CreateString(world_color_names[world_holdout_pairs[i].color])) &&
             add(c, "shape", cJSON_CreateString(world_shape_names[world_holdout_pairs[i].shape]));
    }
    if (!ok) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* ------------------------------------------------------------------------------------------ */
/* the folder                                                                                  */


static xattn_status write_json_file(const char *path, cJSON *j, xattn_error *err) {
    char *text = j ? xattn_json_print(j, 1) : NULL;
    if (!text)
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    atomic_file af;
    xattn_status s = atomic_file_open(&af, path, err);
    if (s == XATTN_OK) {
        fputs(text, af.fp);
        fputc('\n', af.fp);
        s = atomic_file_commit(&af, err);
    }
    cJSON_free(text);
    return s;
}

/* A NumPy .npy v1.0 header for uint8 data of the given shape, padded to 64 bytes. */
static void write_npy_header(FILE *fp, const size_t *shape, size_t n_dims) {
    char dict[160];
    int n = snprintf(dict, sizeof dict, "{'descr': '|u1', 'fortran_order': False, 'shape': (");
    for (size_t i = 0; i < n_dims; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, i ? ", %zu" : "%zu", shape[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, n_dims == 1 ? ",), }" : "), }");
    size_t total = 10 + (size_t)n + 1,
           padded = (total + 63) / 64 * 64; /* magic+version+len, dict, '\n' */
    size_t header_len = padded - 10;
    fwrite("\x93NUMPY\x01\x00", 1, 8, fp);
    fputc((int)(header_len & 0xff), fp);
    fputc((int)(header_len >> 8), fp);
    fwrite(dict, 1, (size_t)n, fp);
    for (size_t i = total; i < padded; i++)
        fputc(' ', fp);
    fputc('\n', fp);
}

/* The open outputs of a dataset being written; aborted together on failure. */
typedef struct dataset_files {
    atomic_file truth, images, masks; /* images/masks: npy format only */
} dataset_files;

static void abort_files(dataset_files *f) {
    atomic_file_abort(&f->truth);
    atomic_file_abort(&f->images);
    atomic_file_abort(&f->masks);
}

/* No fsync per PNG (~4 ms each here): world_write_dataset syncs the file system once at the end. */
static const xattn_png_options png_opt = {.durable = 0, .fast = 1};

/* Writes scene i's image and mask (PNG files or npy rows) and its truth.jsonl line. */
static xattn_status write_scene(const char *dir, const world_scene *scene, size_t i, world_split split,
                                world_format format, dataset_files *f, xattn_error *err) {
    char path[4096], image[32], mask[32];
    xattn_status st = XATTN_OK;
    if (format == WORLD_FORMAT_PNG) {
        snprintf(image, sizeof image, "images/%06zu.png", i);
        snprintf(mask, sizeof mask, "masks/%06zu.png", i);
        snprintf(path, sizeof path, "%s/%s", dir, image);
        st = xattn_png_write(path, scene->rgb, WORLD_SIZE, WORLD_SIZE, 3, NULL, 0, &png_opt, err);
        if (st == XATTN_OK) {
            snprintf(path, sizeof path, "%s/%s", dir, mask);
            st = xattn_png_write(path, scene->mask, WORLD_SIZE, WORLD_SIZE, 1, NULL, 0, &png_opt, err);
        }
    } else {
        snprintf(image, sizeof image, "images.npy");
        snprintf(mask, sizeof mask, "masks.npy");
        fwrite(scene->rgb, 1, sizeof scene->rgb, f->images.fp);
        fwrite(scene->mask, 1, sizeof scene->mask, f->masks.fp);
        if (ferror(f->images.fp) || ferror(f->masks.fp))
            st = xattn_fail(err, XATTN_ERR_IO, "%s/images.npy: cannot write", dir);
    }
    if (st != XATTN_OK)
        return st;
    cJSON *j = world_scene_json(scene, i, split, image, mask);
    char *line = j ? xattn_json_print(j, 0) : NULL;
    cJSON_Delete(j);
    if (!line)
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s/truth.jsonl: out of memory", dir);
    fputs(line, f->truth.fp);
    fputc('\n', f->truth.fp);
    cJSON_free(line);
    if (ferror(f->truth.fp))
        return xattn_fail(err, XATTN_ERR_IO, "%s/truth.jsonl: cannot write", dir);
    return XATTN_OK;
}

/* 1 when dir/world.json is one that xattn wrote ("version": "shapes-world ..."). */
static int xattn_dataset(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/world.json", dir);
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) return 0;
    FILE *fp = fopen(path, "rb");
    char *text = fp ? calloc(1, (size_t)st.st_size + 1) : NULL;
    if (text && fread(text, 1, (size_t)st.st_size, fp) != (size_t)st.st_size) text[0] = '\0';
    if (fp) fclose(fp);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "version");
    int ours = cJSON_IsString(v) && strncmp(v->valuestring, "shapes-world ", 13) == 0;
    cJSON_Delete(j);
    return ours;
}

/* A dataset replaces files by name (truth.jsonl, world.json, images.npy, masks.npy, or
 * images/NNNNNN.png and masks/NNNNNN.png): into a folder that is not a dataset xattn wrote, it
 * goes only when none of those names exists (for images/ and masks/: they are empty), so that a
 * user's file is never overwritten. */
static xattn_status dataset_dir_check(const char *dir, world_format format, xattn_error *err) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || xattn_dataset(dir)) return XATTN_OK;
    const char *png_names[] = {"truth.jsonl", "world.json", "images", "masks"};
    const char *npy_names[] = {"truth.jsonl", "world.json", "images.npy", "masks.npy"};
    const char **names = format == WORLD_FORMAT_PNG ? png_names : npy_names;
    for (int i = 0; i < 4; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (lstat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode) && format == WORLD_FORMAT_PNG) {
            DIR *d = opendir(path);
            struct dirent *e;
            const char *inside = NULL;
            while (d && (e = readdir(d)) != NULL)
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                    inside = e->d_name;
                    break;
                }
            xattn_status r = XATTN_OK;
            if (inside)
                r = xattn_fail(err, XATTN_ERR_IO, "%s: holds %s/%s, and is not a dataset xattn wrote "
                               "(no shapes-world world.json); choose an empty or new folder",
                               dir, path, inside);
            if (d) closedir(d);
            if (r != XATTN_OK) return r;
            continue;
        }
        return xattn_fail(err, XATTN_ERR_IO, "%s: holds %s, and is not a dataset xattn wrote (no "
                          "shapes-world world.json); choose an empty or new folder", dir, path);
    }
    return XATTN_OK;
}

xattn_status world_write_dataset(const char *dir, uint64_t seed, world_split split, size_t count,
                                 world_format format, xattn_progress_fn progress, void *user,
                                 xattn_error *err) {
    if ((int)split < 0 || split >= WORLD_N_SPLITS)
        return xattn_fail(err, XATTN_ERR_VALUE, "split: must be train or holdout");
    if (format != WORLD_FORMAT_PNG && format != WORLD_FORMAT_NPY)
        return xattn_fail(err, XATTN_ERR_VALUE, "format: must be png or npy");
    if (count == 0 || count > WORLD_MAX_COUNT)
        return xattn_fail(err, XATTN_ERR_VALUE, "count: %zu is out of range 1..%d", count,
                          WORLD_MAX_COUNT);
    size_t dir_len = strlen(dir);
    if (dir_len == 0 || dir_len > 4000)
        return xattn_fail(err, XATTN_ERR_VALUE, "%s: bad folder name", dir);

    char path[4096];
    xattn_status st;
    if ((st = dataset_dir_check(dir, format, err)) != XATTN_OK)
        return st;
    if ((st = xattn_make_dirs(dir, err)) != XATTN_OK)
        return st;
    if (format == WORLD_FORMAT_PNG) {
        snprintf(path, sizeof path, "%s/images", dir);
        if ((st = xattn_make_dirs(path, err)) != XATTN_OK)
            return st;
        snprintf(path, sizeof path, "%s/masks", dir);
        if ((st = xattn_make_dirs(path, err)) != XATTN_OK)
            return st;
    }

    dataset_files f;
    memset(&f, 0, sizeof f);
    snprintf(path, sizeof path, "%s/truth.jsonl", dir);
    st = atomic_file_open(&f.truth, path, err);
    if (st == XATTN_OK && format == WORLD_FORMAT_NPY) {
        size_t image_shape[4] = {count, WORLD_SIZE, WORLD_SIZE, 3},
               mask_shape[3] = {count, WORLD_SIZE, WORLD_SIZE};
        snprintf(path, sizeof path, "%s/images.npy", dir);
        st = atomic_file_open(&f.images, path, err);
        if (st == XATTN_OK) {
            snprintf(path, sizeof path, "%s/masks.npy", dir);
            st = atomic_file_open(&f.masks, path, err);
        }
        if (st == XATTN_OK) {
            write_npy_header(f.images.fp, image_shape, 4);
            write_npy_header(f.masks.fp, mask_shape, 3);
        }
    }
    world_scene *scene = st == XATTN_OK ? malloc(sizeof *scene) : NULL; /* one scene, reused */
    if (st == XATTN_OK && !scene)
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", dir);
    for (size_t i = 0; st == XATTN_OK && i < count; i++) {
        world_draw(scene, seed, split, i);
        st = write_scene(dir, scene, i, split, format, &f, err);
        if (st == XATTN_OK && progress && ((i + 1) % 1000 == 0 || i + 1 == count) &&
            progress((int)(i + 1), (int)count, user) != 0)
            st = xattn_fail(err, XATTN_ERR_CANCELLED, "%s: cancelled after %zu images", dir, i + 1);
    }
    free(scene);

    /* the images reach the disk before the files that declare the set finished */
    if (st == XATTN_OK && format == WORLD_FORMAT_PNG) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY);
        if (fd < 0 || syncfs(fd) != 0)
            st = xattn_fail(err, XATTN_ERR_IO, "%s: cannot sync: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    if (st == XATTN_OK && format == WORLD_FORMAT_NPY) {
        st = atomic_file_commit(&f.images, err);
        if (st == XATTN_OK)
            st = atomic_file_commit(&f.masks, err);
    }
    if (st == XATTN_OK) {
        snprintf(path, sizeof path, "%s/world.json", dir);
        cJSON *vocab = world_vocabulary_json(seed, split, count);
        st = write_json_file(path, vocab, err);
        cJSON_Delete(vocab);
    }
    if (st == XATTN_OK)
        st = atomic_file_commit(&f.truth, err);
    if (st != XATTN_OK)
        abort_files(&f);
    return st;
}
