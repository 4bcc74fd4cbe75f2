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

/* sample_images, or image-to-image when init ([C, S, S], in [-1, 1], shared by the batch) is not
 * NULL: steps from scheduler_first_step_for_strength(strength) on, starting from
 * sqrt(a_t) init + sqrt(1 - a_t) draw0 at that step's timestep. strength in (0, 1]. */
xattn_status sample_images_from(xattn_model *m, const xattn_prompt *cond,
                                const xattn_prompt *uncond, const xattn_generate_params *p,
                                const float *init, double strength, noise_source_fn noise,
                                void *noise_user, float *images, xattn_error *err);

#endif
