/* generate.c — the sampling loop: noise -> U-Net -> guidance -> scheduler step, repeated.
 *
 * Image-to-image (xattn_denoise, diffusers' img2img without a VAE): the scheduler is set for
 * `steps` steps, the run starts at first = scheduler_first_step_for_strength(strength), and the
 * starting sample is add_noise(init, draw 0, timesteps[first]); steps first .. steps-1 then run
 * as in generation (the heatmaps and the progress count them from 0).
 *
 * Noise: rng seeded with the seed; latents = randn([batch, C, S, S]), then each step that
 * draws noise takes randn([batch, C, S, S]) from the same stream — diffusers' order with
 * torch.Generator().manual_seed(seed). Guidance runs uncond and cond as one U-Net batch
 * [uncond x batch, cond x batch], text zero-padded to the longer prompt and masked.
 * Cross-attention capture (heatmaps, the attention callback) and the token scale concern the
 * conditional rows only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heat/heat.h"
#include "model/model.h"
#include "sampler/rng.h"
#include "sampler/sampler.h"
#include "sampler/scheduler.h"
#include "util/error.h"

void xattn_generate_params_init(xattn_generate_params *p) {
    memset(p, 0, sizeof *p);
    p->steps = XATTN_DEFAULT_STEPS;
    p->cfg = 7.5f;
    p->sampler = XATTN_SAMPLER_MODEL; /* the model's scheduler class, as diffusers' pipelines */
    p->eta = 0.0f;
    p->batch = 1;
}

/* text[rows, T, D], mask[rows, T]: copies prompt p into `rows` rows, zero-padding to T. */
static void fill_text(float *text, float *mask, const xattn_prompt *p, size_t rows, size_t T) {
    for (size_t r = 0; r < rows; r++) {
        float *tr = text + r * T * p->dim, *mr = mask + r * T;
        memset(tr, 0, T * p->dim * sizeof(float));
        memcpy(tr, p->embeddings, p->n_tokens * p->dim * sizeof(float));
        for (size_t t = 0; t < T; t++) mr[t] = t < p->n_tokens ? p->mask[t] : 0.0f;
    }
}

xattn_status sample_images(xattn_model *m, const xattn_prompt *cond, const xattn_prompt *uncond,
                           const xattn_generate_params *p, noise_source_fn noise_fn, void *noise_user,
                           float *images, xattn_error *err) {
    return sample_images_from(m, cond, uncond, p, NULL, 1.0, noise_fn, noise_user, images, err);
}

xattn_status sample_images_from(xattn_model *m, const xattn_prompt *cond,
                                const xattn_prompt *uncond, const xattn_generate_params *p,
                                const float *init, double strength, noise_source_fn noise_fn,
                                void *noise_user, float *images, xattn_error *err) {
    const unet_config *c = &m->unet.cfg;
    if (init && !(strength > 0.0 && strength <= 1.0))
        return xattn_fail(err, XATTN_ERR_VALUE, "strength: %g is outside (0, 1]", strength);
    if (p->steps < 1 || p->steps > 1000)
        return xattn_fail(err, XATTN_ERR_VALUE, "steps: %d is outside 1..1000", p->steps);
    if (p->batch < 1 || p->batch > 1024)
        return xattn_fail(err, XATTN_ERR_VALUE, "batch: %d is outside 1..1024", p->batch);
    if (!isfinite(p->cfg) || p->cfg < 0)
        return xattn_fail(err, XATTN_ERR_VALUE, "cfg: %g is not a finite scale >= 0", p->cfg);
    if (!isfinite(p->eta) || p->eta < 0)
        return xattn_fail(err, XATTN_ERR_VALUE, "eta: %g is not a finite value >= 0", p->eta);
    if (!cond || cond->n_tokens < 1)
        return xattn_fail(err, XATTN_ERR_VALUE, "prompt: no tokens");
    if (cond->dim != c->cross_attention_dim)
        return xattn_fail(err, XATTN_ERR_SHAPE, "prompt: embedding width %zu, model expects %zu",
                          cond->dim, c->cross_attention_dim);
    int guided = p->cfg > 1.0f;
    if (guided && !uncond) uncond = m->null_prompt;
    if (guided && !uncond)
        return xattn_fail(err, XATTN_ERR_IO, "%s/null_prompt.safetensors: missing, and guidance "
                          "(cfg > 1) needs it or a negative prompt", m->dir);
    if (guided && uncond->dim != c->cross_attention_dim)
        return xattn_fail(err, XATTN_ERR_SHAPE, "negative prompt: embedding width %zu, model expects %zu",
                          uncond->dim, c->cross_attention_dim);
    if (p->heatmaps) {
        xattn_heatmaps_info hi;
        xattn_heatmaps_get_info(p->heatmaps, &hi);
        if (hi.n_tokens != cond->n_tokens || hi.height != c->sample_size)
            return xattn_fail(err, XATTN_ERR_VALUE, "heatmaps: made for %zu tokens at %zux%zu, the "
                              "prompt has %zu tokens and the model makes %zux%zu", hi.n_tokens,
                              hi.height, hi.width, cond->n_tokens, c->sample_size, c->sample_size);
    }
    for (size_t t = 0; p->token_scale && t < cond->n_tokens; t++)
        if (!isfinite(p->token_scale[t]))
            return xattn_fail(err, XATTN_ERR_VALUE, "token scale: token %zu: %g is not finite", t,
                              (double)p->token_scale[t]);
    xattn_set_threads(p->threads);

    size_t B = (size_t)p->batch, rows = guided ? 2 * B : B, D = c->cross_attention_dim;
    size_t T = cond->n_tokens;
    if (guided && uncond->n_tokens > T) T = uncond->n_tokens;
    size_t img = c->out_channels * c->sample_size * c->sample_size;
    if (c->in_channels != c->out_channels)
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: in_channels %zu != out_channels %zu "
                          "cannot be sampled", m->dir, c->in_channels, c->out_channels);

    xattn_unet_run *run = NULL;
    scheduler *sch = NULL;
    xattn_status st = xattn_unet_run_new(m, rows, T, &run, err);
    if (st != XATTN_OK) return st;
    st = scheduler_new_karras(&m->scheduler, p->sampler, p->steps, p->eta, p->karras, &sch, err);
    if (st != XATTN_OK) {
        xattn_unet_run_free(run);
        return st;
    }
    /* text[rows, T, D], mask[rows, T], model_in/pred[rows, img], guided[B, img], noise[B, img],
     * token_scale[rows, T] */
    size_t floats = rows * T * D + rows * T + 2 * rows * img + 2 * B * img + rows * T;
    float *mem = malloc(floats * sizeof(float));
    if (!mem) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", m->dir);
        goto done;
    }
    float *text = mem, *mask = text + rows * T * D, *model_in = mask + rows * T;
    float *pred = model_in + rows * img, *guided_pred = pred + rows * img, *noise = guided_pred + B * img;
    float *token_scale = noise + B * img;
    size_t cond_row0 = guided ? B : 0; /* the conditional rows are [cond_row0, cond_row0 + B) */
    if (guided) {
        fill_text(text, mask, uncond, B, T);
        fill_text(text + B * T * D, mask + B * T, cond, B, T);
    } else {
        fill_text(text, mask, cond, B, T);
    }

    if (p->token_scale) {
        for (size_t k = 0; k < rows * T; k++) token_scale[k] = 1.0f;
        for (size_t r = cond_row0; r < cond_row0 + B; r++)
            memcpy(token_scale + r * T, p->token_scale, cond->n_tokens * sizeof(float));
        xattn_unet_set_token_scale(run, token_scale);
    }
    /* U-Net calls [first, n_evals) run (n_evals: steps, Heun 2 steps - 1, PNDM more); img2img
     * starts at the strength's step (times the scheduler's order), from the init image noised
     * to that call's noise level */
    int n_evals = scheduler_n_evals(sch);
    int first = init ? scheduler_first_eval_for_strength(sch, strength) : 0;
    if (first >= n_evals) {
        st = xattn_fail(err, XATTN_ERR_VALUE, "strength: %g with %d steps runs no step "
                        "(needs strength * steps >= 1)", strength, p->steps);
        goto done;
    }
    int n_run = n_evals - first;
    if ((st = scheduler_prepare(sch, B * img, err)) != XATTN_OK) goto done;
    attention_capture capture;
    st = attention_capture_begin(&capture, run, p->heatmaps, p->attention, p->attention_user,
                                 cond_row0, B, n_run, err);
    if (st != XATTN_OK) goto done;

    size_t draws = 0;
    noise_fn(images, B * img, draws++, noise_user);
    if (init) {
        /* images[b] = add_noise(init, noise[b]) at call `first` (DDIM: sqrt(a_t) init +
         * sqrt(1 - a_t) noise; the sigma samplers: init + sigma noise) */
        for (size_t b = 0; b < B; b++)
            scheduler_add_noise_at(sch, first, init, images + b * img, images + b * img, img);
    } else {
        float sigma0 = scheduler_init_noise_sigma(sch); /* 1 for the alpha samplers */
        if (sigma0 != 1.0f)
            for (size_t k = 0; k < B * img; k++) images[k] = images[k] * sigma0;
    }

    for (int i = first; i < n_evals; i++) {
        float t = scheduler_model_timestep(sch, i);
        scheduler_scale_input(sch, i, images, model_in, B * img);
        if (guided) memcpy(model_in + B * img, model_in, B * img * sizeof(float));
        attention_capture_step(&capture, i - first);
        if ((st = xattn_unet_forward(run, model_in, t, text, mask, pred, err)) != XATTN_OK) goto done;
        attention_capture_step_done(&capture);
        const float *eps = pred;
        if (guided) {
            /* uncond + cfg * (cond - uncond) */
            for (size_t k = 0; k < B * img; k++)
                guided_pred[k] = pred[k] + p->cfg * (pred[B * img + k] - pred[k]);
            eps = guided_pred;
        }
        if (scheduler_step_uses_noise(sch, i)) noise_fn(noise, B * img, draws++, noise_user);
        scheduler_step(sch, i, eps, images, noise, images, B * img);
        if (p->progress && p->progress(i - first + 1, n_run, p->progress_user)) {
            st = xattn_fail(err, XATTN_ERR_CANCELLED, "generate: cancelled at step %d",
                            i - first + 1);
            goto done;
        }
    }
    attention_capture_end(&capture);
done:
    free(mem);
    scheduler_free(sch);
    xattn_unet_run_free(run);
    return st;
}

static void rng_source(float *out, size_t n, size_t draw, void *user) {
    (void)draw;
    rng_randn(user, out, n);
}

xattn_status xattn_generate(xattn_model *m, const xattn_prompt *cond, const xattn_prompt *uncond,
                            const xattn_generate_params *p, float *images, xattn_error *err) {
    xattn_rng rng;
    rng_seed(&rng, p->seed);
    return sample_images(m, cond, uncond, p, rng_source, &rng, images, err);
}

xattn_status xattn_denoise(xattn_model *m, const xattn_prompt *cond, const xattn_prompt *uncond,
                           const xattn_generate_params *p, const float *init, double strength,
                           float *images, xattn_error *err) {
    if (!init) return xattn_fail(err, XATTN_ERR_VALUE, "denoise: no input image");
    size_t n = m->unet.cfg.in_channels * m->unet.cfg.sample_size * m->unet.cfg.sample_size;
    for (size_t k = 0; k < n; k++)
        if (!isfinite(init[k]))
            return xattn_fail(err, XATTN_ERR_VALUE, "input image: element %zu is not finite", k);
    xattn_rng rng;
    rng_seed(&rng, p->seed);
    return sample_images_from(m, cond, uncond, p, init, strength, rng_source, &rng, images, err);
}
