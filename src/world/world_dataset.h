/* world_dataset.h — writing the shapes world to a folder (docs/shapes-world.md):
 *   DIR/images/NNNNNN.png   RGB8 32x32
 *   DIR/masks/NNNNNN.png    gray8 32x32: 0 background, k = object k (1-based)
 *   DIR/truth.jsonl         one JSON object per image, in id order
 *   DIR/world.json          the vocabulary, holdout pairs, scene mix, version and parameters
 * or, with WORLD_FORMAT_NPY, instead of images/ and masks/ (one file each rather than 2N small
 * files, which cost ~0.1-1 ms each to create on this disk):
 *   DIR/images.npy          uint8 [N, 32, 32, 3]
 *   DIR/masks.npy           uint8 [N, 32, 32]
 * Every file appears under its final name complete (temporary name, then rename). PNGs are
 * not fsync'd one by one (4 ms each here): the file system is synced once at the end, then
 * world.json and truth.jsonl are committed (fsync'd), truth.jsonl last — a folder with a
 * truth.jsonl is a finished set. */
#ifndef XATTN_WORLD_WORLD_DATASET_H
#define XATTN_WORLD_WORLD_DATASET_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "world/world.h"
#include "xattn.h"

#define WORLD_MAX_COUNT 10000000

typedef enum world_format { WORLD_FORMAT_PNG, WORLD_FORMAT_NPY } world_format;

/* One truth.jsonl record (see the doc); NULL if out of memory. image/mask are the relative
 * paths ("images/000007.png"; "images.npy" for the npy format, where the row is the id). Caller frees
 * with cJSON_Delete. */
cJSON *world_scene_json(const world_scene *s, uint64_t id, world_split split, const char *image,
                        const char *mask);

/* world.json: vocabulary and, when count > 0, the set's seed, split and count. NULL if out of
 * memory. */
cJSON *world_vocabulary_json(uint64_t seed, world_split split, size_t count);

/* Draws images 0 .. count-1 of (seed, split) into dir (created with its parents if missing).
 * progress (may be NULL) is called every 1000 images and at the end with (done, count); a
 * non-zero return cancels (XATTN_ERR_CANCELLED, truth.jsonl not written). */
xattn_status world_write_dataset(const char *dir, uint64_t seed, world_split split, size_t count,
                                 world_format format, xattn_progress_fn progress, void *user,
                                 xattn_error *err);

#endif
