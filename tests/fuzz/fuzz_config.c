/* fuzz_config.c — the two JSON configs a model folder holds, from the same bytes:
 *   unet/config.json:                unet_config_parse on the bytes as a NUL-terminated string;
 *   scheduler/scheduler_config.json: scheduler_config_load on the bytes as a file, then what
 *     generation does with an accepted config: scheduler_new (DDIM and DDPM; 1, 7 and N steps;
 *     eta 0 and 1), every step on a small sample, add_noise and the img2img first step.
 *
 * Checked beyond "no crash": the error contract, and that an accepted config keeps the
 * promises the model code relies on (block counts, divisibility, odd kernels, timesteps in
 * 0..N-1). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "model/unet_config.h"
#include "sampler/scheduler.h"

#define UNET_PATH "config.json"

static void check_unet(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1); /* [size + 1], NUL-terminated */
    fuzz_require(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';
    unet_config cfg;
    xattn_error err = {0};
    xattn_status st = unet_config_parse(text, UNET_PATH, &cfg, &err);
    free(text);
    fuzz_check_status(st, &err, UNET_PATH);
    if (st != XATTN_OK) return;
    size_t n = cfg.n_blocks;
    fuzz_require(n >= 1 && n <= UNET_MAX_BLOCKS, "n_blocks out of range");
    fuzz_require(cfg.in_channels >= 1 && cfg.out_channels >= 1, "no channels");
    fuzz_require(cfg.conv_in_kernel % 2 == 1 && cfg.conv_out_kernel % 2 == 1, "even kernel");
    fuzz_require(cfg.sample_size >= 1 && cfg.sample_size % ((size_t)1 << (n - 1)) == 0,
                 "sample_size not divisible by the downsamplers");
    fuzz_require(cfg.cross_attention_dim >= 1 && cfg.time_embed_dim >= 1, "zero width");
    fuzz_require(cfg.norm_num_groups >= 1, "no GroupNorm groups");
    for (size_t i = 0; i < n; i++) {
        fuzz_require(cfg.block_out_channels[i] >= 1 && cfg.heads[i] >= 1, "zero channels or heads");
        fuzz_require(cfg.block_out_channels[i] % cfg.heads[i] == 0, "heads do not divide channels");
        fuzz_require(cfg.block_out_channels[i] % cfg.norm_num_groups == 0,
                     "groups do not divide channels");
        fuzz_require(cfg.layers_per_block[i] >= 1 && cfg.transformer_layers[i] >= 1, "zero layers");
    }
}

/* scheduler_new and a run of steps on sample[4] for one (kind, steps, eta). */
static void run_scheduler(const scheduler_config *cfg, xattn_sampler_kind kind, int n_steps,
                          float eta) {
    scheduler *s = NULL;
    xattn_error err = {0};
    xattn_status st = scheduler_new_karras(cfg, kind, n_steps, eta, eta > 0.0f, &s, &err);
    fuzz_check_status(st, &err, NULL);
    if (st != XATTN_OK) {
        fuzz_require(s == NULL, "scheduler_new failed but returned a scheduler");
        return;
    }
    int n_train = scheduler_num_train_timesteps(s);
    fuzz_require(scheduler_n_steps(s) == n_steps && n_train == cfg->num_train_timesteps,
                 "scheduler sizes differ from the request");
    float x[4] = {0.5f, -1.0f, 2.0f, 0.0f}, model_out[4] = {0.1f, -0.2f, 0.3f, -0.4f};
    float noise[4] = {1.0f, -1.0f, 0.5f, -0.5f}; /* [4] each */
    int n_evals = scheduler_n_evals(s);
    fuzz_require(n_evals >= n_steps && n_evals <= 2 * n_steps + 12, "U-Net calls out of range");
    for (int i = 0; i < n_evals; i++) {
        float mt = scheduler_model_timestep(s, i);
        fuzz_require(mt >= 0.0f && mt <= (float)(n_train - 1), "model timestep outside 0..N-1");
        scheduler_scale_input(s, i, x, x, 4);
        int t = scheduler_timestep(s, i);
        fuzz_require(t >= 0 && t < n_train, "timestep outside 0..N-1");
        float a = scheduler_alpha_cumprod(s, t);
        fuzz_require(a >= 0.0f && a < 1.0f, "alphas_cumprod outside [0, 1)");
        scheduler_step(s, i, model_out, x, scheduler_step_uses_noise(s, i) ? noise : NULL, x, 4);
    }
    st = scheduler_add_noise(s, scheduler_timestep(s, 0), x, noise, x, 4, &err);
    fuzz_require(st == XATTN_OK, "add_noise refused a listed timestep");
    st = scheduler_add_noise(s, n_train, x, noise, x, 4, &err);
    fuzz_require(st != XATTN_OK, "add_noise accepted t = N");
    fuzz_check_status(st, &err, NULL);
    int first = scheduler_first_step_for_strength(s, 0.5);
    fuzz_require(first >= 0 && first <= n_steps, "first step for strength out of range");
    first = scheduler_first_eval_for_strength(s, 0.5);
    fuzz_require(first >= 0 && first <= n_evals, "first call for strength out of range");
    if (first < n_evals) scheduler_add_noise_at(s, first, x, noise, x, 4);
    scheduler_free(s);
}

static void check_scheduler(const uint8_t *data, size_t size) {
    const char *path = fuzz_temp_file(data, size, ".json");
    scheduler_config cfg;
    xattn_error err = {0};
    xattn_status st = scheduler_config_load(path, &cfg, &err);
    fuzz_check_status(st, &err, path);
    if (st != XATTN_OK) return;
    int n_train = cfg.num_train_timesteps;
    fuzz_require(n_train >= 1, "num_train_timesteps < 1 accepted");
    const int steps[3] = {1, n_train < 7 ? n_train : 7, n_train};
    for (int k = XATTN_SAMPLER_MODEL; k < XATTN_SAMPLER_COUNT; k++) {
        /* eta 1 also asks for Karras sigmas (refused where a sampler has none) */
        for (int i = 0; i < 3; i++)
            run_scheduler(&cfg, (xattn_sampler_kind)k, steps[i], i == 1 ? 1.0f : 0.0f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_unet(data, size);
    check_scheduler(data, size);
    return 0;
}
