/* sampler.h — the sampling loop with a pluggable noise source (tests feed the reference's
 * recorded noise; xattn_generate feeds the seeded torch-compatible RNG). */
#ifndef XATTN_SAMPLER_SAMPLER_H
#define XATTN_SAMPLER_SAMPLER_H

#include <stddef.h>

#include "xattn.h"

/* Fills out[n] with standard normal noise. Draw 0 is the initial latents [batch, C, S, S];
 * draw k > 0 is the noise of the k-th step that draws any. */
typedef void (*noise_source_fn)(float *out, size_t n, size_t draw, void *user);

xattn_status sample_images(xattn_model *m, const xattn_prompt *cond, const xattn_prompt *uncond,
                           const xattn_generate_params *p, noise_source_fn noise, void *noise_user,
                           float *images, xattn_error *err);

#endif
