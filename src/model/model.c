/* model.c — loading a model folder in the diffusers layout:
 *   <dir>/unet/config.json, <dir>/unet/diffusion_pytorch_model.safetensors,
 *   <dir>/scheduler/scheduler_config.json, and optionally <dir>/null_prompt.safetensors. */
#define _POSIX_C_SOURCE 200809L
#include "model/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/error.h"

static char *join(const char *dir, const char *rel) {
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, rel);
    return p;
}

xattn_status xattn_model_load(const char *dir, xattn_model **out, xattn_error *err) {
    *out = NULL;
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return xattn_fail(err, XATTN_ERR_IO, "%s: no such model folder (%s)", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return xattn_fail(err, XATTN_ERR_IO, "%s: not a model folder (expected a directory "
                          "with unet/ and scheduler/)", dir);

    xattn_model *m = calloc(1, sizeof *m);
    char *config = join(dir, "unet/config.json");
    char *weights = join(dir, "unet/diffusion_pytorch_model.safetensors");
    char *sched = join(dir, "scheduler/scheduler_config.json");
    char *null_prompt = join(dir, "null_prompt.safetensors");
    xattn_status st = XATTN_OK;
    unet_config cfg;
    if (!m || !config || !weights || !sched || !null_prompt || !(m->dir = strdup(dir))) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", dir);
        goto done;
    }
    if ((st = unet_config_load(config, &cfg, err)) != XATTN_OK) goto done;
    if ((st = unet_load(&m->unet, &cfg, weights, err)) != XATTN_OK) goto done;
    if ((st = scheduler_config_load(sched, &m->scheduler, err)) != XATTN_OK) goto done;
    if (stat(null_prompt, &sb) == 0) {
        if ((st = xattn_prompt_load(null_prompt, &m->null_prompt, err)) != XATTN_OK) goto done;
        if (m->null_prompt->dim != cfg.cross_attention_dim) {
            st = xattn_fail(err, XATTN_ERR_SHAPE, "%s: embedding width %zu, model expects %zu",
                            null_prompt, m->null_prompt->dim, cfg.cross_attention_dim);
            goto done;
        }
    }
done:
    free(config);
    free(weights);
    free(sched);
    free(null_prompt);
    if (st != XATTN_OK) {
        xattn_model_free(m);
        return st;
    }
    *out = m;
    return XATTN_OK;
}

void xattn_model_free(xattn_model *m) {
    if (!m) return;
    unet_free(&m->unet);
    xattn_prompt_free(m->null_prompt);
    free(m->dir);
    free(m);
}

void xattn_model_get_info(const xattn_model *m, xattn_model_info *info) {
    const unet_w *u = &m->unet;
    const unet_config *c = &u->cfg;
    memset(info, 0, sizeof *info);
    info->in_channels = (int)c->in_channels;
    info->out_channels = (int)c->out_channels;
    info->sample_size = (int)c->sample_size;
    info->cross_attention_dim = (int)c->cross_attention_dim;
    info->n_down_blocks = (int)c->n_blocks;
    for (size_t i = 0; i < c->n_blocks; i++) {
        if (u->down[i].attentions) info->n_attention_layers += (int)u->down[i].n_layers;
        if (u->up[i].attentions) info->n_attention_layers += (int)u->up[i].n_layers;
    }
    info->n_attention_layers += c->has_mid_block;
    info->n_parameters = u->n_params;
    info->prediction_type = scheduler_prediction_name(&m->scheduler);
    info->has_null_prompt = m->null_prompt != NULL;
    info->sampler = m->scheduler.class_kind;
    info->karras = m->scheduler.use_karras_sigmas;
}
