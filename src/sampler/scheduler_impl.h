/* scheduler_impl.h — the scheduler's state, shared by scheduler.c (config, schedule, DDIM,
 * DDPM) and samplers.c (the other diffusers schedulers). Internal. */
#ifndef XATTN_SAMPLER_SCHEDULER_IMPL_H
#define XATTN_SAMPLER_SCHEDULER_IMPL_H

#include <stddef.h>

#include "sampler/scheduler.h"

#define SCHEDULER_MAX_HISTORY 4

struct scheduler {
    scheduler_config cfg;
    xattn_sampler_kind kind;
    int n_train;                /* N */
    int n_steps;                /* n, num_inference_steps */
    float eta;                  /* DDIM only */
    int karras;                 /* use_karras_sigmas in effect */
    float final_alpha_cumprod;  /* DDIM's / PNDM's a_prev when the previous timestep is < 0 */
    float *alphas_cumprod;      /* [N] */
    int n_evals;                /* U-Net calls: len(diffusers' scheduler.timesteps) */
    int *timesteps;             /* [n_evals] integer timesteps (truncated where fractional) */
    float *model_t;             /* [n_evals] the timestep the U-Net sees */
    float *sigmas;              /* [n_evals + 1] diffusers' self.sigmas (sigma samplers) */
    float init_noise_sigma;
    int order;                  /* diffusers' scheduler.order (img2img skips t_start * order) */
    int n_prk;                  /* PNDM: len(prk_timesteps) */

    /* the history of a multistep sampler, for samples of n_state floats */
    size_t n_state;
    float *state;               /* one allocation: hist[] then aux[] */
    float *hist[SCHEDULER_MAX_HISTORY]; /* newest last: model outputs, derivatives or ets */
    float *aux[3];              /* saved sample, running sums */
    int n_hist;
    int lower_order_nums;
    int this_order;             /* UniPC: the order of the last predictor */
    int have_last;              /* UniPC: last_sample set; Heun: in the second-order half;
                                   PNDM: cur_sample set */
    int counter;                /* PNDM: steps taken */
    float heun_dt;
};

/* samplers.c */
int sampler_is_new_kind(xattn_sampler_kind kind);
/* timesteps/model_t/sigmas/n_evals/init_noise_sigma/order of a new kind; alphas_cumprod set. */
xattn_status sampler_setup(scheduler *s, xattn_error *err);
void sampler_step(scheduler *s, int i, const float *model_output, const float *sample,
                  const float *noise, float *prev, size_t n);

/* scheduler.c: DDIM's integer timesteps (high to low) for the config's spacing. */
void scheduler_ddim_timesteps(const scheduler_config *cfg, int n_steps, int *timesteps);

#endif
