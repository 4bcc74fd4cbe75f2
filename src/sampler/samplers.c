/* samplers.c — diffusers' Euler, Euler ancestral, Heun, DPM-Solver++ (2M, 2M SDE), UniPC, LMS
 * and PNDM schedulers: their timesteps and sigmas (set_timesteps) and their steps.
 *
 * Precision, as in scheduler.c: diffusers' sigmas are float32 tensors and each step is a
 * series of float32 tensor operations; each float operation here is its own statement in
 * diffusers' order. set_timesteps runs in numpy float64 (np.interp, the Karras ramp,
 * _sigma_to_t) and is reproduced in double. Two places differ by design: LMS integrates its
 * Lagrange polynomial exactly (Gauss-Legendre in double) where diffusers calls scipy's quad
 * on a float32 integrand (a relative difference near 1e-7), and UniPC's 2x2 corrector system
 * is solved by Gaussian elimination with partial pivoting in float (LAPACK's sgesv does the
 * same, perhaps in another order).
 * Sigma samplers (Euler, Euler a, Heun, LMS) work on x = x0 + sigma eps and scale the U-Net's
 * input by 1 / sqrt(sigma^2 + 1); DPM-Solver++ and UniPC work on x = alpha x0 + sigma_t eps
 * with alpha = 1 / sqrt(sigma^2 + 1), sigma_t = sigma alpha. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/scheduler_impl.h"
#include "util/error.h"

int sampler_is_new_kind(xattn_sampler_kind kind) {
    return kind >= XATTN_SAMPLER_EULER && kind <= XATTN_SAMPLER_PNDM;
}

static int is_sigma_kind(xattn_sampler_kind k) {
    return k == XATTN_SAMPLER_EULER || k == XATTN_SAMPLER_EULER_A || k == XATTN_SAMPLER_HEUN ||
           k == XATTN_SAMPLER_LMS;
}

static int is_dpm_kind(xattn_sampler_kind k) {
    return k == XATTN_SAMPLER_DPMPP_2M || k == XATTN_SAMPLER_DPMPP_2M_SDE;
}

/* ------------------------------------------------------------------------------------------ */
/* set_timesteps                                                                               */

/* np.interp(x, arange(N), fp) for one x (fp float32, result float64). */
static double interp(double x, const float *fp, int n) {
    if (x <= 0.0) return fp[0];
    if (x >= (double)(n - 1)) return fp[n - 1];
    int j = (int)floor(x);
    if ((double)j == x) return fp[j];
    double dy = (double)fp[j + 1] - (double)fp[j];
    double dx = (double)(j + 1) - (double)j;
    double slope = dy / dx;
    double off = x - (double)j;
    double part = slope * off;
    return part + (double)fp[j];
}

/* _sigma_to_t: log_sigmas float32 [N], ascending in t. */
static double sigma_to_t(double sigma, const float *log_sigmas, int n) {
    if (n < 2) return 0.0; /* one training timestep: nothing to interpolate between */
    double log_sigma = log(sigma > 1e-10 ? sigma : 1e-10);
    /* cumsum(dists >= 0).argmax(): the last index whose log sigma <= log_sigma (0 if none) */
    int low = 0;
    for (int j = 0; j < n; j++)
        if (log_sigma - (double)log_sigmas[j] >= 0.0) low = j;
    if (low > n - 2) low = n - 2;
    int high = low + 1;
    double lo = log_sigmas[low], hi = log_sigmas[high];
    double num = lo - log_sigma;
    double den = lo - hi;
    double w = num / den;
    if (w < 0.0) w = 0.0;
    if (w > 1.0) w = 1.0;
    double a = (1.0 - w) * (double)low;
    double b = w * (double)high;
    return a + b;
}

/* np.linspace(0, 1, n)[k] */
static double ramp_at(int k, int n) {
    if (n <= 1) return 0.0;
    if (k == n - 1) return 1.0;
    double step = 1.0 / (double)(n - 1);
    return (double)k * step;
}

/* _convert_to_karras: n sigmas from sigma_max down to sigma_min, rho 7 (float64). */
static void karras_sigmas(double sigma_min, double sigma_max, int n, double *out) {
    const double rho = 7.0;
    double min_inv = pow(sigma_min, 1.0 / rho), max_inv = pow(sigma_max, 1.0 / rho);
    double span = min_inv - max_inv;
    for (int k = 0; k < n; k++) {
        double r = ramp_at(k, n) * span;
        double v = max_inv + r;
        out[k] = pow(v, rho);
    }
}

/* np.round: half to even */
static double round_even(double v) { return nearbyint(v); }

xattn_status sampler_setup(scheduler *s, xattn_error *err) {
    const scheduler_config *cfg = &s->cfg;
    xattn_sampler_kind kind = s->kind;
    int N = s->n_train, n = s->n_steps;
    const char *src = cfg->path[0] ? cfg->path : "scheduler_config";

    /* sigma table: ((1 - a) / a) ** 0.5 in float32, a's last 2^-24 after the zero-SNR rescale */
    float *sig = malloc((size_t)N * sizeof *sig), *log_sig = malloc((size_t)N * sizeof *log_sig);
    double *base = calloc((size_t)(n + 1), sizeof *base), *tsd = malloc((size_t)(n + 1) * sizeof *tsd);
    int *ints = malloc((size_t)(n + 1) * sizeof *ints);
    int max_evals = n + 12 > 2 * n ? n + 12 : 2 * n;
    s->timesteps = malloc((size_t)max_evals * sizeof *s->timesteps);
    s->model_t = malloc((size_t)max_evals * sizeof *s->model_t);
    s->sigmas = malloc((size_t)(max_evals + 1) * sizeof *s->sigmas);
    if (!sig || !log_sig || !base || !tsd || !ints || !s->timesteps || !s->model_t || !s->sigmas) {
        free(sig), free(log_sig), free(base), free(tsd), free(ints);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory for %d steps", src, n);
    }
    for (int k = 0; k < N; k++) {
        float a = s->alphas_cumprod[k];
        if (cfg->rescale_betas_zero_snr && k == N - 1) a = 0x1p-24f;
        float one_minus = 1.0f - a;
        float ratio = one_minus / a;
        sig[k] = sqrtf(ratio);
        log_sig[k] = (float)log((double)sig[k]);
    }
    float sigma_last_min; /* final_sigmas_type sigma_min: ((1 - a0) / a0) ** 0.5 */
    {
        float a0 = s->alphas_cumprod[0];
        float one_minus = 1.0f - a0;
        float ratio = one_minus / a0;
        sigma_last_min = sqrtf(ratio);
    }
    s->order = 1;
    s->init_noise_sigma = 1.0f;

    if (is_sigma_kind(kind)) {
        /* float timesteps high to low */
        if (cfg->timestep_spacing == SCHEDULER_SPACING_LINSPACE) {
            double step = n > 1 ? (double)(N - 1) / (double)(n - 1) : 0.0;
            for (int k = 0; k < n; k++) {
                double v = (n > 1 && k == n - 1) ? (double)(N - 1) : (double)k * step;
                tsd[n - 1 - k] = (double)(float)v;
            }
        } else {
            scheduler_ddim_timesteps(cfg, n, ints);
            for (int k = 0; k < n; k++) tsd[k] = (double)ints[k];
        }
        for (int k = 0; k < n; k++) base[k] = interp(tsd[k], sig, N);
        if (s->karras) {
            double smin = base[n - 1], smax = base[0];
            karras_sigmas(smin, smax, n, base);
            for (int k = 0; k < n; k++) tsd[k] = sigma_to_t(base[k], log_sig, N);
        }
        double last = 0.0;
        if (kind == XATTN_SAMPLER_EULER && cfg->final_sigmas_sigma_min) last = sigma_last_min;
        if (kind == XATTN_SAMPLER_HEUN) {
            /* sigmas [s0, s1, s1, ..., s_{n-1}, s_{n-1}, last]; timesteps [t0, t1, t1, ...] */
            int e = 0;
            s->sigmas[e++] = (float)base[0];
            for (int k = 1; k < n; k++) {
                s->sigmas[e++] = (float)base[k];
                s->sigmas[e++] = (float)base[k];
            }
            s->sigmas[e] = (float)last;
            e = 0;
            s->model_t[e++] = (float)tsd[0];
            for (int k = 1; k < n; k++) {
                s->model_t[e++] = (float)tsd[k];
                s->model_t[e++] = (float)tsd[k];
            }
            s->n_evals = e;
            s->order = 2;
        } else {
            for (int k = 0; k < n; k++) {
                s->sigmas[k] = (float)base[k];
                s->model_t[k] = (float)tsd[k];
            }
            s->sigmas[n] = (float)last;
            s->n_evals = n;
        }
        float mx = 0.0f;
        for (int k = 0; k <= s->n_evals; k++)
            if (s->sigmas[k] > mx) mx = s->sigmas[k];
        if (cfg->timestep_spacing == SCHEDULER_SPACING_LINSPACE ||
            cfg->timestep_spacing == SCHEDULER_SPACING_TRAILING) {
            s->init_noise_sigma = mx;
        } else {
            float sq = mx * mx;
            float sq1 = sq + 1.0f;
            s->init_noise_sigma = sqrtf(sq1);
        }
    } else if (is_dpm_kind(kind) || kind == XATTN_SAMPLER_UNIPC) {
        /* integer timesteps over n + 1 points, the last dropped */
        switch (cfg->timestep_spacing) {
        case SCHEDULER_SPACING_LINSPACE: {
            double step = (double)(N - 1) / (double)n;
            for (int i = 0; i < n; i++) {
                int k = n - i;
                double v = k == n ? (double)(N - 1) : (double)k * step;
                ints[i] = (int)round_even(v);
            }
            break;
        }
        case SCHEDULER_SPACING_LEADING: {
            int ratio = N / (n + 1);
            for (int i = 0; i < n; i++) ints[i] = (n - i) * ratio + cfg->steps_offset;
            break;
        }
        case SCHEDULER_SPACING_TRAILING: scheduler_ddim_timesteps(cfg, n, ints); break;
        }
        float last = cfg->final_sigmas_sigma_min ? sigma_last_min : 0.0f;
        if (s->karras) {
            karras_sigmas((double)sig[0], (double)sig[N - 1], n, base);
            for (int k = 0; k < n; k++) {
                double t = sigma_to_t(base[k], log_sig, N);
                if (kind == XATTN_SAMPLER_UNIPC || cfg->beta_schedule != SCHEDULER_BETA_SQUAREDCOS_CAP_V2)
                    t = round_even(t);
                ints[k] = (int)t; /* .astype(int64): truncation */
                s->sigmas[k] = (float)base[k];
            }
            if (kind == XATTN_SAMPLER_UNIPC && cfg->final_sigmas_sigma_min) last = (float)base[n - 1];
        } else {
            for (int k = 0; k < n; k++) s->sigmas[k] = (float)interp((double)ints[k], sig, N);
        }
        s->sigmas[n] = last;
        for (int k = 0; k < n; k++) s->model_t[k] = (float)ints[k];
        s->n_evals = n;
        memcpy(s->timesteps, ints, (size_t)n * sizeof *ints);
    } else { /* PNDM */
        int *desc = ints, *asc = malloc((size_t)n * sizeof *asc);
        if (!asc) {
            free(sig), free(log_sig), free(base), free(tsd), free(ints);
            return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", src);
        }
        scheduler_ddim_timesteps(cfg, n, desc);
        for (int k = 0; k < n; k++) asc[k] = desc[n - 1 - k];
        int e = 0;
        if (cfg->skip_prk_steps) {
            /* concat(asc[:-1], asc[-2:-1], asc[-1:])[::-1] */
            int list[2048], m = 0;
            int *L = n + 1 <= 2048 ? list : NULL;
            if (!L) {
                free(asc), free(sig), free(log_sig), free(base), free(tsd), free(ints);
                return xattn_fail(err, XATTN_ERR_VALUE, "steps: %d is too many for pndm", n);
            }
            for (int k = 0; k < n - 1; k++) L[m++] = asc[k];
            if (n >= 2) L[m++] = asc[n - 2];
            L[m++] = asc[n - 1];
            for (int k = m - 1; k >= 0; k--) s->timesteps[e++] = L[k];
            s->n_prk = 0;
        } else {
            int m = n < 4 ? n : 4, half = N / n / 2;
            int a[8], b[16], c[16];
            for (int k = 0; k < m; k++) {
                a[2 * k] = asc[n - m + k];
                a[2 * k + 1] = asc[n - m + k] + half;
            }
            /* a[:-1].repeat(2)[1:-1], reversed */
            int nb = 0;
            for (int k = 0; k < 2 * m - 1; k++) b[nb++] = a[k], b[nb++] = a[k];
            int nc = 0;
            for (int k = 1; k < nb - 1; k++) c[nc++] = b[k];
            for (int k = nc - 1; k >= 0; k--) s->timesteps[e++] = c[k];
            s->n_prk = nc;
            for (int k = n - 4; k >= 0; k--) s->timesteps[e++] = asc[k];
        }
        free(asc);
        s->n_evals = e;
        for (int k = 0; k < e; k++) s->model_t[k] = (float)s->timesteps[k];
        s->final_alpha_cumprod = cfg->set_alpha_to_one ? 1.0f : s->alphas_cumprod[0];
    }
    if (is_sigma_kind(kind))
        for (int k = 0; k < s->n_evals; k++) s->timesteps[k] = (int)s->model_t[k];
    free(sig), free(log_sig), free(base), free(tsd), free(ints);
    for (int k = 0; k < s->n_evals; k++) {
        if (!(s->model_t[k] >= 0.0f && s->model_t[k] <= (float)(N - 1))) {
            return xattn_fail(err, XATTN_ERR_VALUE,
                              "%s: steps_offset %d with %d steps gives timestep %g, outside 0..%d",
                              src, cfg->steps_offset, n, (double)s->model_t[k], N - 1);
        }
    }
    return XATTN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Public helpers                                                                              */

int scheduler_n_evals(const scheduler *s) { return s->n_evals; }

float scheduler_model_timestep(const scheduler *s, int i) {
    if (i < 0 || i >= s->n_evals) return NAN;
    return s->model_t ? s->model_t[i] : (float)s->timesteps[i];
}

float scheduler_init_noise_sigma(const scheduler *s) { return s->init_noise_sigma; }

void scheduler_scale_input(const scheduler *s, int i, const float *sample, float *out, size_t n) {
    if (is_sigma_kind(s->kind) && i >= 0 && i < s->n_evals) {
        float sigma = s->sigmas[i];
        float sq = sigma * sigma;
        float sq1 = sq + 1.0f;
        float c = sqrtf(sq1);
        for (size_t k = 0; k < n; k++) out[k] = sample[k] / c;
    } else if (out != sample) {
        memmove(out, sample, n * sizeof *out);
    }
}

int scheduler_first_eval_for_strength(const scheduler *s, double strength) {
    int t_start = scheduler_first_step_for_strength(s, strength);
    if (t_start >= s->n_steps) return s->n_evals;
    int first = t_start * s->order;
    return first < s->n_evals ? first : s->n_evals;
}

/* alpha_t, sigma_t of a sigma (_sigma_to_alpha_sigma_t) */
static void alpha_sigma(float sigma, float *alpha_t, float *sigma_t) {
    float sq = sigma * sigma;
    float sq1 = sq + 1.0f;
    float r = sqrtf(sq1);
    *alpha_t = 1.0f / r;
    *sigma_t = sigma * *alpha_t;
}

void scheduler_add_noise_at(const scheduler *s, int i, const float *original, const float *noise,
                            float *noisy, size_t n) {
    if (i < 0 || i >= s->n_evals) return;
    if (is_sigma_kind(s->kind)) {
        float sigma = s->sigmas[i];
        for (size_t k = 0; k < n; k++) {
            float added = noise[k] * sigma;
            noisy[k] = original[k] + added;
        }
    } else if (is_dpm_kind(s->kind) || s->kind == XATTN_SAMPLER_UNIPC) {
        float a, st;
        alpha_sigma(s->sigmas[i], &a, &st);
        for (size_t k = 0; k < n; k++) {
            float signal = a * original[k];
            float added = st * noise[k];
            noisy[k] = signal + added;
        }
    } else {
        scheduler_add_noise(s, s->timesteps[i], original, noise, noisy, n, NULL);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Steps                                                                                       */

/* x0 of the sigma samplers: epsilon x - sigma m; v m (-sigma / sqrt(sigma^2 + 1)) + x /
 * (sigma^2 + 1); sample m. */
static float sigma_x0(scheduler_prediction p, float m, float x, float sigma, float c_out,
                      float c_in) {
    switch (p) {
    case SCHEDULER_PREDICT_EPSILON: {
        float t = sigma * m;
        return x - t;
    }
    case SCHEDULER_PREDICT_V: {
        float a = m * c_out;
        float b = x / c_in;
        return a + b;
    }
    case SCHEDULER_PREDICT_SAMPLE: return m;
    }
    return m;
}

static void v_coeffs(float sigma, float *c_out, float *c_in) {
    float sq = sigma * sigma;
    float sq1 = sq + 1.0f;
    float r = sqrtf(sq1);
    float neg = -sigma;
    *c_out = neg / r;
    *c_in = sq1;
}

static float clip_x0(const scheduler_config *cfg, float x0) {
    float r = (float)cfg->clip_sample_range, lo = -r;
    if (x0 < lo) x0 = lo;
    if (x0 > r) x0 = r;
    return x0;
}

static void euler_step(scheduler *s, int i, const float *mo, const float *x, float *prev,
                       size_t n) {
    float sigma = s->sigmas[i];
    float sigma_hat = sigma * 1.0f; /* gamma 0 (s_churn 0) */
    float next = s->sigmas[i + 1];
    float dt = next - sigma_hat;
    float c_out, c_in;
    v_coeffs(sigma, &c_out, &c_in);
    for (size_t k = 0; k < n; k++) {
        float x0 = sigma_x0(s->cfg.prediction_type, mo[k], x[k], sigma_hat, c_out, c_in);
        float d = x[k] - x0;
        float der = d / sigma_hat;
        float step = der * dt;
        prev[k] = x[k] + step;
    }
}

static void euler_a_step(scheduler *s, int i, const float *mo, const float *x, const float *noise,
                         float *prev, size_t n) {
    float sigma = s->sigmas[i], to = s->sigmas[i + 1];
    float to2 = to * to, from2 = sigma * sigma;
    float diff = from2 - to2;
    float num = to2 * diff;
    float q = num / from2;
    float up = sqrtf(q);
    float up2 = up * up;
    float down = sqrtf(to2 - up2);
    float dt = down - sigma;
    float c_out, c_in;
    v_coeffs(sigma, &c_out, &c_in);
    for (size_t k = 0; k < n; k++) {
        float x0 = sigma_x0(s->cfg.prediction_type, mo[k], x[k], sigma, c_out, c_in);
        float d = x[k] - x0;
        float der = d / sigma;
        float step = der * dt;
        float v = x[k] + step;
        float z = noise[k] * up;
        prev[k] = v + z;
    }
}

static void heun_step(scheduler *s, int i, const float *mo, const float *x, float *prev,
                      size_t n) {
    float *prev_der = s->aux[0], *saved = s->aux[1];
    int first = !s->have_last;
    float sigma_in = first ? s->sigmas[i] : s->sigmas[i];  /* first: sigma_hat; second: next */
    float c_out, c_in;
    v_coeffs(sigma_in, &c_out, &c_in);
    if (first) {
        float sigma_hat = s->sigmas[i] * 1.0f;
        float dt = s->sigmas[i + 1] - sigma_hat;
        for (size_t k = 0; k < n; k++) {
            float x0 = sigma_x0(s->cfg.prediction_type, mo[k], x[k], sigma_hat, c_out, c_in);
            if (s->cfg.clip_sample) x0 = clip_x0(&s->cfg, x0);
            float d = x[k] - x0;
            float der = d / sigma_hat;
            prev_der[k] = der;
            saved[k] = x[k];
            float step = der * dt;
            prev[k] = x[k] + step;
        }
        s->heun_dt = dt;
        s->have_last = 1;
    } else {
        float sigma_next = s->sigmas[i];
        float dt = s->heun_dt;
        for (size_t k = 0; k < n; k++) {
            float x0 = sigma_x0(s->cfg.prediction_type, mo[k], x[k], sigma_next, c_out, c_in);
            if (s->cfg.clip_sample) x0 = clip_x0(&s->cfg, x0);
            float d = x[k] - x0;
            float der = d / sigma_next;
            float sum = prev_der[k] + der;
            float avg = sum / 2.0f;
            float step = avg * dt;
            prev[k] = saved[k] + step;
        }
        s->have_last = 0;
    }
}

/* Pushes a copy of v[n] as the newest history entry (keeping at most keep). */
static void push_history(scheduler *s, const float *v, size_t n, int keep) {
    if (s->n_hist == keep) {
        float *oldest = s->hist[0];
        for (int k = 0; k + 1 < keep; k++) s->hist[k] = s->hist[k + 1];
        s->hist[keep - 1] = oldest;
        s->n_hist--;
    }
    memcpy(s->hist[s->n_hist], v, n * sizeof *v);
    s->n_hist++;
}

/* The integral over [sigmas[t], sigmas[t+1]] of the Lagrange basis polynomial `cur` on
 * sigmas[t], sigmas[t-1], ... (order points): 3-point Gauss-Legendre, exact for order <= 4. */
static double lms_coefficient(const float *sigmas, int order, int t, int cur) {
    static const double xg[3] = {-0.7745966692414834, 0.0, 0.7745966692414834};
    static const double wg[3] = {0.5555555555555556, 0.8888888888888888, 0.5555555555555556};
    double a = sigmas[t], b = sigmas[t + 1];
    double half = (b - a) / 2.0, mid = (a + b) / 2.0, sum = 0.0;
    for (int g = 0; g < 3; g++) {
        double tau = mid + half * xg[g], prod = 1.0;
        for (int k = 0; k < order; k++) {
            if (k == cur) continue;
            prod *= (tau - (double)sigmas[t - k]) / ((double)sigmas[t - cur] - (double)sigmas[t - k]);
        }
        sum += wg[g] * prod;
    }
    return sum * half;
}

static void lms_step(scheduler *s, int i, const float *mo, const float *x, float *prev,
                     size_t n) {
    float sigma = s->sigmas[i];
    float c_out, c_in;
    v_coeffs(sigma, &c_out, &c_in);
    float *der = s->aux[0];
    for (size_t k = 0; k < n; k++) {
        float x0 = sigma_x0(s->cfg.prediction_type, mo[k], x[k], sigma, c_out, c_in);
        float d = x[k] - x0;
        der[k] = d / sigma;
    }
    push_history(s, der, n, 4);
    int order = i + 1 < 4 ? i + 1 : 4;
    float coeff[4];
    for (int c = 0; c < order; c++) coeff[c] = (float)lms_coefficient(s->sigmas, order, i, c);
    int pairs = order < s->n_hist ? order : s->n_hist;
    for (size_t k = 0; k < n; k++) {
        float acc = 0.0f;
        for (int c = 0; c < pairs; c++) {
            float term = coeff[c] * s->hist[s->n_hist - 1 - c][k];
            acc = c == 0 ? term : acc + term;
        }
        prev[k] = x[k] + acc;
    }
}

static float lambda_of(float alpha_t, float sigma_t) { return logf(alpha_t) - logf(sigma_t); }

/* DPM-Solver++ / UniPC's data prediction x0 (or UniPC's epsilon with predict_x0 false) */
static void convert_output(const scheduler *s, int i, const float *mo, const float *x, float *out,
                           size_t n, int want_x0) {
    float a, st;
    alpha_sigma(s->sigmas[i], &a, &st);
    scheduler_prediction p = s->cfg.prediction_type;
    for (size_t k = 0; k < n; k++) {
        float m = mo[k], v;
        if (want_x0) {
            if (p == SCHEDULER_PREDICT_EPSILON) {
                float t = st * m;
                float d = x[k] - t;
                v = d / a;
            } else if (p == SCHEDULER_PREDICT_V) {
                float t1 = a * x[k];
                float t2 = st * m;
                v = t1 - t2;
            } else {
                v = m;
            }
        } else {
            if (p == SCHEDULER_PREDICT_EPSILON) {
                v = m;
            } else if (p == SCHEDULER_PREDICT_V) {
                float t1 = a * m;
                float t2 = st * x[k];
                v = t1 + t2;
            } else {
                float t = a * m;
                float d = x[k] - t;
                v = d / st;
            }
        }
        out[k] = v;
    }
}

static void dpm_step(scheduler *s, int i, const float *mo, const float *x, const float *noise,
                     float *prev, size_t n) {
    const scheduler_config *cfg = &s->cfg;
    int len = s->n_evals;
    int lower_final = i == len - 1 && (cfg->euler_at_final || (cfg->lower_order_final && len < 15) ||
                                       !cfg->final_sigmas_sigma_min);
    convert_output(s, i, mo, x, s->aux[0], n, 1);
    push_history(s, s->aux[0], n, 2);
    int sde = s->kind == XATTN_SAMPLER_DPMPP_2M_SDE;
    float a_t, s_t, a_s0, s_s0;
    alpha_sigma(s->sigmas[i + 1], &a_t, &s_t);
    alpha_sigma(s->sigmas[i], &a_s0, &s_s0);
    float l_t = lambda_of(a_t, s_t), l_s0 = lambda_of(a_s0, s_s0);
    float h = l_t - l_s0;
    float ratio = s_t / s_s0;
    float *m0 = s->hist[s->n_hist - 1];
    if (cfg->solver_order == 1 || s->lower_order_nums < 1 || lower_final) {
        if (!sde) {
            float e = expf(-h);
            float em1 = e - 1.0f;
            float c = a_t * em1;
            for (size_t k = 0; k < n; k++) {
                float t1 = ratio * x[k];
                float t2 = c * m0[k];
                prev[k] = t1 - t2;
            }
        } else {
            float e = expf(-h);
            float c1 = ratio * e;
            float e2 = expf(-2.0f * h);
            float om = 1.0f - e2;
            float c2 = a_t * om;
            float c3 = s_t * sqrtf(om);
            for (size_t k = 0; k < n; k++) {
                float t1 = c1 * x[k];
                float t2 = c2 * m0[k];
                float v = t1 + t2;
                float t3 = c3 * noise[k];
                prev[k] = v + t3;
            }
        }
    } else {
        float a_s1, s_s1;
        alpha_sigma(s->sigmas[i - 1], &a_s1, &s_s1);
        float l_s1 = lambda_of(a_s1, s_s1);
        float h0 = l_s0 - l_s1;
        float r0 = h0 / h;
        float inv_r0 = 1.0f / r0;
        float *m1 = s->hist[s->n_hist - 2];
        int heun = cfg->solver_type == SCHEDULER_SOLVER_HEUN;
        if (!sde) {
            float e = expf(-h);
            float em1 = e - 1.0f;
            float c0 = a_t * em1, c1;
            if (heun) {
                float q = em1 / h;
                float q1 = q + 1.0f;
                c1 = a_t * q1;
            } else {
                c1 = 0.5f * c0;
            }
            for (size_t k = 0; k < n; k++) {
                float dm = m0[k] - m1[k];
                float D1 = inv_r0 * dm;
                float t1 = ratio * x[k];
                float t2 = c0 * m0[k];
                float v = t1 - t2;
                float t3 = c1 * D1;
                prev[k] = heun ? v + t3 : v - t3;
            }
        } else {
            float e = expf(-h);
            float c_x = ratio * e;
            float e2 = expf(-2.0f * h);
            float om = 1.0f - e2;
            float c0 = a_t * om, c1;
            if (heun) {
                float den = -2.0f * h;
                float q = om / den;
                float q1 = q + 1.0f;
                c1 = a_t * q1;
            } else {
                c1 = 0.5f * c0;
            }
            float c3 = s_t * sqrtf(om);
            for (size_t k = 0; k < n; k++) {
                float dm = m0[k] - m1[k];
                float D1 = inv_r0 * dm;
                float t1 = c_x * x[k];
                float t2 = c0 * m0[k];
                float v = t1 + t2;
                float t3 = c1 * D1;
                v = v + t3;
                float t4 = c3 * noise[k];
                prev[k] = v + t4;
            }
        }
    }
    if (s->lower_order_nums < cfg->solver_order) s->lower_order_nums++;
}

/* UniPC's h, h_phi_1, B_h and the b vector for order 1 or 2. */
typedef struct unipc_coeffs {
    float a_t, s_t, a_s0, s_s0, h, hh, h_phi_1, B_h, b[2];
} unipc_coeffs;

static void unipc_coefficients(const scheduler *s, int t_index, int s0_index, int order,
                               unipc_coeffs *c) {
    alpha_sigma(s->sigmas[t_index], &c->a_t, &c->s_t);
    alpha_sigma(s->sigmas[s0_index], &c->a_s0, &c->s_s0);
    float l_t = lambda_of(c->a_t, c->s_t), l_s0 = lambda_of(c->a_s0, c->s_s0);
    c->h = l_t - l_s0;
    c->hh = s->cfg.predict_x0 ? -c->h : c->h;
    c->h_phi_1 = expm1f(c->hh);
    float q = c->h_phi_1 / c->hh;
    float h_phi_k = q - 1.0f;
    c->B_h = s->cfg.solver_type == SCHEDULER_SOLVER_BH1 ? c->hh : expm1f(c->hh);
    int factorial = 1;
    for (int k = 1; k <= order; k++) {
        float num = h_phi_k * (float)factorial;
        c->b[k - 1] = num / c->B_h;
        factorial *= k + 1;
        float q2 = h_phi_k / c->hh;
        h_phi_k = q2 - 1.0f / (float)factorial;
    }
}

static float unipc_lambda(const scheduler *s, int index) {
    float a, st;
    alpha_sigma(s->sigmas[index], &a, &st);
    return lambda_of(a, st);
}

/* x_t_ = sigma_t / sigma_s0 x - alpha_t h_phi_1 m0 (predict_x0), else
 *        alpha_t / alpha_s0 x - sigma_t h_phi_1 m0 */
static void unipc_base(const scheduler *s, const unipc_coeffs *c, float *cx, float *cm,
                       float *cb) {
    if (s->cfg.predict_x0) {
        *cx = c->s_t / c->s_s0;
        *cm = c->a_t * c->h_phi_1;
        *cb = c->a_t * c->B_h;
    } else {
        *cx = c->a_t / c->a_s0;
        *cm = c->s_t * c->h_phi_1;
        *cb = c->s_t * c->B_h;
    }
}

static void unipc_step(scheduler *s, int i, const float *mo, const float *x_in, float *prev,
                       size_t n) {
    const scheduler_config *cfg = &s->cfg;
    float *conv = s->aux[0], *x = s->aux[1], *last = s->aux[2];
    convert_output(s, i, mo, x_in, conv, n, cfg->predict_x0);
    memmove(x, x_in, n * sizeof *x);
    int disabled = 0;
    for (int k = 0; k < cfg->n_disable_corrector; k++)
        if (cfg->disable_corrector[k] == i - 1) disabled = 1;
    if (i > 0 && !disabled && s->have_last) {
        /* corrector: x = last's step redone with this model output */
        int order = s->this_order;
        unipc_coeffs c;
        unipc_coefficients(s, i, i - 1, order, &c);
        float cx, cm, cb;
        unipc_base(s, &c, &cx, &cm, &cb);
        const float *m0 = s->hist[s->n_hist - 1];
        float rk = 0.0f, rho0 = 0.0f, rho_last;
        const float *m1 = NULL;
        if (order == 1) {
            rho_last = 0.5f;
        } else {
            float l_s0 = unipc_lambda(s, i - 1), l_si = unipc_lambda(s, i - 2);
            float dl = l_si - l_s0;
            rk = dl / c.h;
            m1 = s->hist[s->n_hist - 2];
            /* solve [[1, 1], [rk, 1]] rho = b with partial pivoting */
            if (fabsf(rk) > 1.0f) {
                float l = 1.0f / rk;
                float u11 = 1.0f - l;
                float y1 = c.b[0] - l * c.b[1];
                rho_last = y1 / u11;
                float r = c.b[1] - rho_last;
                rho0 = r / rk;
            } else {
                float u11 = 1.0f - rk;
                float y1 = c.b[1] - rk * c.b[0];
                rho_last = y1 / u11;
                rho0 = c.b[0] - rho_last;
            }
        }
        for (size_t k = 0; k < n; k++) {
            float t1 = cx * last[k];
            float t2 = cm * m0[k];
            float base = t1 - t2;
            float corr = 0.0f;
            if (m1) {
                float dm = m1[k] - m0[k];
                float D1 = dm / rk;
                corr = rho0 * D1;
            }
            float D1_t = conv[k] - m0[k];
            float r = rho_last * D1_t;
            float sum = m1 ? corr + r : r;
            float t3 = cb * sum;
            x[k] = base - t3;
        }
    }
    push_history(s, conv, n, cfg->solver_order);
    int this_order = cfg->solver_order;
    if (cfg->lower_order_final) {
        int left = s->n_evals - i;
        if (left < this_order) this_order = left;
    }
    if (this_order > s->lower_order_nums + 1) this_order = s->lower_order_nums + 1;
    s->this_order = this_order;
    memcpy(last, x, n * sizeof *x);
    s->have_last = 1;

    /* predictor */
    unipc_coeffs c;
    unipc_coefficients(s, i + 1, i, this_order, &c);
    float cx, cm, cb;
    unipc_base(s, &c, &cx, &cm, &cb);
    const float *m0 = s->hist[s->n_hist - 1];
    float rk = 0.0f;
    const float *m1 = NULL;
    if (this_order == 2) {
        float l_s0 = unipc_lambda(s, i), l_si = unipc_lambda(s, i - 1);
        float dl = l_si - l_s0;
        rk = dl / c.h;
        m1 = s->hist[s->n_hist - 2];
    }
    for (size_t k = 0; k < n; k++) {
        float t1 = cx * x[k];
        float t2 = cm * m0[k];
        float base = t1 - t2;
        if (m1) {
            float dm = m1[k] - m0[k];
            float D1 = dm / rk;
            float pred = 0.5f * D1;
            float t3 = cb * pred;
            base = base - t3;
        }
        prev[k] = base;
    }
    if (s->lower_order_nums < cfg->solver_order) s->lower_order_nums++;
}

/* PNDM's _get_prev_sample from timestep t to t_prev with epsilon-like output eps. */
static void pndm_prev(const scheduler *s, int t, int t_prev, const float *mo, const float *x,
                      float *prev, size_t n) {
    float a_t = s->alphas_cumprod[t];
    float a_prev = t_prev >= 0 ? s->alphas_cumprod[t_prev] : s->final_alpha_cumprod;
    float b_t = 1.0f - a_t, b_prev = 1.0f - a_prev;
    float sa = sqrtf(a_t), sb = sqrtf(b_t);
    float ratio = a_prev / a_t;
    float sample_coeff = sqrtf(ratio);
    float d1 = a_t * sqrtf(b_prev);
    float p1 = a_t * b_t;
    float p2 = p1 * a_prev;
    float d2 = sqrtf(p2);
    float denom = d1 + d2;
    float diff = a_prev - a_t;
    for (size_t k = 0; k < n; k++) {
        float m = mo[k];
        if (s->cfg.prediction_type == SCHEDULER_PREDICT_V) {
            float u = sa * m;
            float w = sb * x[k];
            m = u + w;
        }
        float t1 = sample_coeff * x[k];
        float t2 = diff * m;
        float t3 = t2 / denom;
        prev[k] = t1 - t3;
    }
}

static void pndm_step(scheduler *s, int i, const float *mo, const float *x, float *prev,
                      size_t n) {
    int N = s->n_train, n_steps = s->n_steps;
    int t = s->timesteps[i];
    float *cur_mo = s->aux[0], *cur_sample = s->aux[1], *tmp = s->aux[2];
    if (s->counter < s->n_prk && !s->cfg.skip_prk_steps) {
        int c = s->counter;
        int diff = c % 2 ? 0 : N / n_steps / 2;
        int t_prev = t - diff;
        int t_use = s->timesteps[c / 4 * 4];
        const float *use = mo;
        if (c % 4 == 0) {
            for (size_t k = 0; k < n; k++) {
                float a = (float)(1.0 / 6.0) * mo[k];
                cur_mo[k] = s->have_last & 2 ? cur_mo[k] + a : a;
            }
            s->have_last |= 2;
            push_history(s, mo, n, 4);
            memcpy(cur_sample, x, n * sizeof *x);
            s->have_last |= 1;
        } else if (c % 4 == 1 || c % 4 == 2) {
            for (size_t k = 0; k < n; k++) {
                float a = (float)(1.0 / 3.0) * mo[k];
                cur_mo[k] = s->have_last & 2 ? cur_mo[k] + a : a;
            }
            s->have_last |= 2;
        } else {
            for (size_t k = 0; k < n; k++) {
                float a = (float)(1.0 / 6.0) * mo[k];
                tmp[k] = s->have_last & 2 ? cur_mo[k] + a : a;
            }
            s->have_last &= ~2; /* cur_model_output = 0 */
            use = tmp;
        }
        const float *base = s->have_last & 1 ? cur_sample : x;
        pndm_prev(s, t_use, t_prev, use, base, prev, n);
        s->counter++;
        return;
    }
    int t_prev = t - N / n_steps;
    int t_use = t;
    if (s->counter != 1) {
        push_history(s, mo, n, 4);
    } else {
        t_prev = t;
        t_use = t + N / n_steps;
    }
    const float *use = tmp, *base = x;
    const float *e1 = s->n_hist >= 1 ? s->hist[s->n_hist - 1] : NULL;
    const float *e2 = s->n_hist >= 2 ? s->hist[s->n_hist - 2] : NULL;
    const float *e3 = s->n_hist >= 3 ? s->hist[s->n_hist - 3] : NULL;
    const float *e4 = s->n_hist >= 4 ? s->hist[s->n_hist - 4] : NULL;
    if (s->n_hist == 1 && s->counter == 0) {
        use = mo;
        memcpy(cur_sample, x, n * sizeof *x);
        s->have_last |= 1;
    } else if (s->n_hist == 1 && s->counter == 1) {
        for (size_t k = 0; k < n; k++) {
            float a = mo[k] + e1[k];
            tmp[k] = a / 2.0f;
        }
        base = cur_sample; /* read before cur_sample is dropped */
    } else if (s->n_hist == 2) {
        for (size_t k = 0; k < n; k++) {
            float a = 3.0f * e1[k];
            float b = a - e2[k];
            tmp[k] = b / 2.0f;
        }
    } else if (s->n_hist == 3) {
        for (size_t k = 0; k < n; k++) {
            float a = 23.0f * e1[k];
            float b = 16.0f * e2[k];
            float c = a - b;
            float d = 5.0f * e3[k];
            float e = c + d;
            tmp[k] = e / 12.0f;
        }
    } else {
        for (size_t k = 0; k < n; k++) {
            float a = 55.0f * e1[k];
            float b = 59.0f * e2[k];
            float c = a - b;
            float d = 37.0f * e3[k];
            float e = c + d;
            float f = 9.0f * e4[k];
            float g = e - f;
            tmp[k] = (float)(1.0 / 24.0) * g;
        }
    }
    pndm_prev(s, t_use, t_prev, use, base, prev, n);
    if (s->n_hist == 1 && s->counter == 1) s->have_last &= ~1;
    s->counter++;
}

void sampler_step(scheduler *s, int i, const float *model_output, const float *sample,
                  const float *noise, float *prev, size_t n) {
    switch (s->kind) {
    case XATTN_SAMPLER_EULER: euler_step(s, i, model_output, sample, prev, n); break;
    case XATTN_SAMPLER_EULER_A: euler_a_step(s, i, model_output, sample, noise, prev, n); break;
    case XATTN_SAMPLER_HEUN: heun_step(s, i, model_output, sample, prev, n); break;
    case XATTN_SAMPLER_LMS: lms_step(s, i, model_output, sample, prev, n); break;
    case XATTN_SAMPLER_DPMPP_2M:
    case XATTN_SAMPLER_DPMPP_2M_SDE: dpm_step(s, i, model_output, sample, noise, prev, n); break;
    case XATTN_SAMPLER_UNIPC: unipc_step(s, i, model_output, sample, prev, n); break;
    case XATTN_SAMPLER_PNDM: pndm_step(s, i, model_output, sample, prev, n); break;
    default: break;
    }
}
