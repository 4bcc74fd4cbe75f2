/* model.h — what xattn_model holds: the U-Net, its scheduler config and the null prompt. */
#ifndef XATTN_MODEL_MODEL_H
#define XATTN_MODEL_MODEL_H

#include "model/unet.h"
#include "sampler/scheduler.h"
#include "xattn.h"

struct xattn_model {
    char *dir;
    unet_w unet;
    scheduler_config scheduler;
    xattn_prompt *null_prompt; /* NULL when the folder has none */
};

#endif
