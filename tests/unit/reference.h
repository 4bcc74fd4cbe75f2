/* reference.h — reading the tensors that tools/dump_reference.py dumped from diffusers. */
#ifndef XATTN_TEST_REFERENCE_H
#define XATTN_TEST_REFERENCE_H

#include <stddef.h>

#include "xattn_io.h"

/* Opens tests/data/reference/<name>.safetensors; fails the test if it cannot. */
xattn_st_file *reference_open(const char *name);
/* A tensor as float32 (malloc'd); fails the test when missing. numel is set if not NULL. */
float *reference_tensor(const xattn_st_file *f, const char *name, size_t *numel);

/* "$XATTN_SOURCE_DIR/<rel>" parsed as JSON (cJSON_Delete it); fails the test if it cannot. */
struct cJSON *reference_json(const char *rel);

/* values[*n] (malloc'd) of a JSON array of numbers, as float (the reference files hold float32
 * values exactly); fails the test on anything else. */
float *reference_json_floats(const struct cJSON *array, size_t *n);

/* Diffusers' recorded noise as a noise_source_fn (src/sampler/sampler.h): draw 0 hands out
 * `first` (the initial latents, or img2img's add_noise noise), each later draw the next
 * non-zero row of `steps` (the dump has zero rows where a step drew nothing). */
typedef struct recorded_noise {
    const float *first;  /* [img] */
    const float *steps;  /* [n_steps, img] */
    size_t n_steps, img;
    size_t next_step;    /* the step row to hand out next */
} recorded_noise;
void recorded_source(float *out, size_t n, size_t draw, void *user);

#endif
