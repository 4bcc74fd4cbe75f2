/* scheduler.h — diffusers' DDIMScheduler and DDPMScheduler: the noise schedule, the timesteps
 * and one denoising step, reproducing diffusers' float32 arithmetic.
 *
 * Schedule (all float32 as torch computes it):
 *   betas[N]           linear: torch.linspace(beta_start, beta_end, N); scaled_linear: the same
 *                      on sqrt(beta_start)..sqrt(beta_end), squared; squaredcos_cap_v2: the cosine
 *                      alpha-bar of Nichol & Dhariwal in double, rounded to float; optionally
 *                      rescaled to zero terminal SNR (Lin et al. 2023, Algorithm 1);
 *   alphas_cumprod[N]  cumprod(1 - betas), accumulated in double as torch does on the CPU.
 * Timesteps (n steps, numpy in diffusers): leading  k (N / n) + steps_offset,
 *   trailing round(N - k N/n) - 1, linspace round(k (N-1)/(n-1)), each listed high to low.
 * One step from x_t with model output m (prediction epsilon, v_prediction or sample):
 *   x0 = (x - sqrt(1-a_t) m) / sqrt(a_t)  |  sqrt(a_t) x - sqrt(1-a_t) m  |  m,  optionally clipped;
 *   DDIM: x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - s^2) eps + s z,
 *         s = eta sqrt((1-a_prev)/(1-a_t) (1 - a_t/a_prev)), a_prev at t - N/n;
 *   DDPM: x_prev = sqrt(a_prev) b_t / (1-a_t) x0 + sqrt(1-b_t) (1-a_prev) / (1-a_t) x + sigma z,
 *         b_t = 1 - a_t/a_prev, a_prev at the next listed timestep, sigma^2 = (1-a_prev)/(1-a_t) b_t
 *         (fixed_small) or b_t (fixed_large), and no noise at t = 0.
 * Samples are flat float arrays [n] (any NCHW batch, element by element).
 * Deviations from diffusers, where diffusers itself misbehaves: trailing spacing keeps the first
 * n timesteps (numpy's arange sometimes yields n + 1, the last being -1); DDIM with eta > 1
 * clamps 1 - a_prev - s^2 at 0 instead of returning NaN.
 */
#ifndef XATTN_SAMPLER_SCHEDULER_H
#define XATTN_SAMPLER_SCHEDULER_H

#include <stddef.h>

#include "xattn.h"

typedef enum scheduler_beta_schedule {
    SCHEDULER_BETA_LINEAR = 0,
    SCHEDULER_BETA_SCALED_LINEAR,
    SCHEDULER_BETA_SQUAREDCOS_CAP_V2
} scheduler_beta_schedule;

typedef enum scheduler_prediction {
    SCHEDULER_PREDICT_EPSILON = 0,
    SCHEDULER_PREDICT_V,      /* "v_prediction" */
    SCHEDULER_PREDICT_SAMPLE
} scheduler_prediction;

typedef enum scheduler_spacing {
    SCHEDULER_SPACING_LEADING = 0,
    SCHEDULER_SPACING_TRAILING,
    SCHEDULER_SPACING_LINSPACE
} scheduler_spacing;

/* DDPM's variance_type: every value diffusers knows, so that a DDIM sampler can be driven by a
 * DDPM config whose variance_type the DDPM sampler refuses (from_config ignores the key). */
/* DPMSolverMultistepScheduler's algorithm_type (only the ++ ones are sampled) and solver_type,
 * UniPC's solver_type. */
typedef enum scheduler_algorithm {
    SCHEDULER_ALGO_DPMSOLVERPP = 0, /* "dpmsolver++" */
    SCHEDULER_ALGO_SDE_DPMSOLVERPP, /* "sde-dpmsolver++" */
    SCHEDULER_ALGO_DPMSOLVER,       /* refused */
    SCHEDULER_ALGO_SDE_DPMSOLVER    /* refused */
} scheduler_algorithm;

typedef enum scheduler_solver_type {
    SCHEDULER_SOLVER_MIDPOINT = 0, SCHEDULER_SOLVER_HEUN, SCHEDULER_SOLVER_BH1,
    SCHEDULER_SOLVER_BH2
} scheduler_solver_type;

/* Keys whose default differs between diffusers' scheduler classes: a key the file lacks takes
 * the default of the class that samples (from_config's rule). */
enum {
    SCHEDULER_HAS_BETA_START = 1 << 0,
    SCHEDULER_HAS_BETA_END = 1 << 1,
    SCHEDULER_HAS_CLIP_SAMPLE = 1 << 2,
    SCHEDULER_HAS_SET_ALPHA_TO_ONE = 1 << 3,
    SCHEDULER_HAS_TIMESTEP_SPACING = 1 << 4,
    SCHEDULER_HAS_SOLVER_TYPE = 1 << 5,
    SCHEDULER_HAS_ALGORITHM_TYPE = 1 << 6
};

#define SCHEDULER_MAX_DISABLE_CORRECTOR 16

typedef enum scheduler_variance {
    SCHEDULER_VARIANCE_FIXED_SMALL = 0,
    SCHEDULER_VARIANCE_FIXED_LARGE,
    SCHEDULER_VARIANCE_FIXED_SMALL_LOG, /* refused by scheduler_new */
    SCHEDULER_VARIANCE_FIXED_LARGE_LOG, /* refused */
    SCHEDULER_VARIANCE_LEARNED,         /* refused */
    SCHEDULER_VARIANCE_LEARNED_RANGE    /* refused */
} scheduler_variance;

/* Every key of DDIMScheduler and DDPMScheduler, with diffusers' defaults (scheduler_config_init). */
typedef struct scheduler_config {
    int num_train_timesteps;            /* N = 1000 */
    double beta_start;                  /* 0.0001 (a python float: kept in double) */
    double beta_end;                    /* 0.02 */
    scheduler_beta_schedule beta_schedule; /* linear */
    int clip_sample;                    /* 1: clamp x0 to [-clip_sample_range, clip_sample_range] */
    double clip_sample_range;           /* 1.0 */
    int set_alpha_to_one;               /* 1 (DDIM only): a_prev of the last step is 1, else a[0] */
    int steps_offset;                   /* 0: added to leading timesteps */
    scheduler_prediction prediction_type; /* epsilon */
    int thresholding;                   /* 0 (1 is refused) */
    double dynamic_thresholding_ratio;  /* 0.995 (unused: thresholding is refused) */
    double sample_max_value;            /* 1.0 (unused) */
    scheduler_spacing timestep_spacing; /* leading */
    int rescale_betas_zero_snr;         /* 0 */
    scheduler_variance variance_type;   /* fixed_small (DDPM only) */
    /* the other classes' keys (diffusers' defaults) */
    int use_karras_sigmas;              /* 0 */
    int solver_order;                   /* 2 (DPM-Solver, UniPC: 1 or 2) */
    scheduler_algorithm algorithm_type; /* dpmsolver++ */
    scheduler_solver_type solver_type;  /* midpoint (DPM-Solver), bh2 (UniPC) */
    int lower_order_final;              /* 1 */
    int euler_at_final;                 /* 0 */
    int final_sigmas_sigma_min;         /* final_sigmas_type: 0 "zero", 1 "sigma_min" */
    int predict_x0;                     /* 1 (UniPC) */
    int disable_corrector[SCHEDULER_MAX_DISABLE_CORRECTOR]; /* UniPC: steps without corrector */
    int n_disable_corrector;
    int skip_prk_steps;                 /* 0 (PNDM) */
    unsigned present;                   /* SCHEDULER_HAS_* of the keys the file has */
    xattn_sampler_kind class_kind;      /* _class_name (DDIMScheduler when absent) */
    char path[256];                     /* the file it came from, for messages ("" if none) */
} scheduler_config;

/* diffusers' defaults, path "". */
void scheduler_config_init(scheduler_config *cfg);

/* Reads a scheduler_config.json (DDIMScheduler or DDPMScheduler: either drives either sampler,
 * keys of the other class are ignored, as diffusers' from_config does). Unknown keys are ignored;
 * a wrong JSON type, a value outside the supported set (naming key and value), thresholding true
 * or trained_betas are refused. */
xattn_status scheduler_config_load(const char *path, scheduler_config *cfg, xattn_error *err);

/* "epsilon", "v_prediction" or "sample". */
const char *scheduler_prediction_name(const scheduler_config *cfg);

typedef struct scheduler scheduler;

/* A sampler of n_steps (1..num_train_timesteps) steps; eta >= 0 is DDIM's noise weight (ignored
 * by DDPM). Refuses a schedule whose alphas_cumprod leave (0, 1), timesteps past N - 1
 * (steps_offset) and, for DDPM, a variance_type other than fixed_small / fixed_large.
 * kind XATTN_SAMPLER_MODEL is cfg->class_kind. */
xattn_status scheduler_new(const scheduler_config *cfg, xattn_sampler_kind kind, int n_steps,
                           float eta, scheduler **out, xattn_error *err);
/* scheduler_new with Karras sigmas forced on (karras 1) or as the config says (0); refused for
 * a sampler without them. */
xattn_status scheduler_new_karras(const scheduler_config *cfg, xattn_sampler_kind kind,
                                  int n_steps, float eta, int karras, scheduler **out,
                                  xattn_error *err);
void scheduler_free(scheduler *s);
xattn_sampler_kind scheduler_kind(const scheduler *s);

/* The state of a multistep sampler for samples of n floats (done by the first step otherwise;
 * then an allocation failure leaves prev unchanged). Forgets any history. */
xattn_status scheduler_prepare(scheduler *s, size_t n, xattn_error *err);

/* The U-Net calls of a run: diffusers' len(scheduler.timesteps) (Heun: 2 n - 1; PNDM: n + 1
 * with skip_prk_steps, else n + 9; the others n). Index i of the functions below is a call. */
int scheduler_n_evals(const scheduler *s);
/* The timestep the U-Net sees at call i (fractional for Euler's linspace or Karras sigmas). */
float scheduler_model_timestep(const scheduler *s, int i);
/* out[n] = sample[n] as the U-Net input of call i (scale_model_input: / sqrt(sigma^2 + 1) for
 * the sigma samplers, a copy otherwise). out may alias sample. */
void scheduler_scale_input(const scheduler *s, int i, const float *sample, float *out, size_t n);
/* The initial noise's scale (init_noise_sigma: 1 for the alpha samplers). */
float scheduler_init_noise_sigma(const scheduler *s);
/* img2img: the first call for a strength (t_start * order), n_evals for none. */
int scheduler_first_eval_for_strength(const scheduler *s, double strength);
/* img2img: noisy[n] = original noised to call i's noise level (add_noise at begin_index). */
void scheduler_add_noise_at(const scheduler *s, int i, const float *original, const float *noise,
                            float *noisy, size_t n);

int scheduler_n_steps(const scheduler *s);
int scheduler_num_train_timesteps(const scheduler *s);
/* timesteps[i], i in 0..n_steps-1, from high noise to low. */
int scheduler_timestep(const scheduler *s, int i);
/* alphas_cumprod[t], t in 0..N-1 (NaN outside). */
float scheduler_alpha_cumprod(const scheduler *s, int t);
/* Does step i add noise (and so need rng_randn of the sample's size)? DDIM: eta > 0, every
 * step; DDPM: timesteps[i] > 0; euler_a and dpmpp_2m_sde: every step; the others never. */
int scheduler_step_uses_noise(const scheduler *s, int i);

/* prev[n] = one step i from sample[n] with the (guided) model_output[n]; noise[n] is read only
 * when scheduler_step_uses_noise(s, i) (may be NULL otherwise). prev may alias sample. The
 * multistep samplers keep their history in s: call i = first .. n_evals - 1 in turn. */
void scheduler_step(scheduler *s, int i, const float *model_output, const float *sample,
                    const float *noise, float *prev, size_t n);

/* noisy[n] = sqrt(a[t]) original[n] + sqrt(1 - a[t]) noise[n] (diffusers' add_noise);
 * t in 0..N-1. noisy may alias either input. */
xattn_status scheduler_add_noise(const scheduler *s, int t, const float *original,
                                 const float *noise, float *noisy, size_t n, xattn_error *err);

/* img2img: the first step to run for a strength in [0, 1] (diffusers' get_timesteps:
 * init = min(int(n * strength), n), first = max(n - init, 0)); n_steps means "no step".
 * strength is a double so that int(n * strength) rounds as Python's does. */
int scheduler_first_step_for_strength(const scheduler *s, double strength);

#endif
