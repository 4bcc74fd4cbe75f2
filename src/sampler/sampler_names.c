/* sampler_names.c — the one table of sampler names: xattn's, the A1111 web UI's and diffusers'
 * class names (docs/samplers.md lists it). */
#include <ctype.h>
#include <stddef.h>

#include "util/error.h"
#include "xattn.h"

static const xattn_sampler_alias aliases[] = {
    /* xattn's names (the first of each kind is its canonical name) */
    {"model", XATTN_SAMPLER_MODEL, 0},
    {"ddim", XATTN_SAMPLER_DDIM, 0},
    {"ddpm", XATTN_SAMPLER_DDPM, 0},
    {"euler", XATTN_SAMPLER_EULER, 0},
    {"euler_a", XATTN_SAMPLER_EULER_A, 0},
    {"heun", XATTN_SAMPLER_HEUN, 0},
    {"dpmpp_2m", XATTN_SAMPLER_DPMPP_2M, 0},
    {"dpmpp_2m_sde", XATTN_SAMPLER_DPMPP_2M_SDE, 0},
    {"unipc", XATTN_SAMPLER_UNIPC, 0},
    {"lms", XATTN_SAMPLER_LMS, 0},
    {"pndm", XATTN_SAMPLER_PNDM, 0},
    /* the A1111 web UI's names */
    {"DDIM", XATTN_SAMPLER_DDIM, 0},
    {"Euler", XATTN_SAMPLER_EULER, 0},
    {"Euler a", XATTN_SAMPLER_EULER_A, 0},
    {"Heun", XATTN_SAMPLER_HEUN, 0},
    {"LMS", XATTN_SAMPLER_LMS, 0},
    {"LMS Karras", XATTN_SAMPLER_LMS, 1},
    {"DPM++ 2M", XATTN_SAMPLER_DPMPP_2M, 0},
    {"DPM++ 2M Karras", XATTN_SAMPLER_DPMPP_2M, 1},
    {"DPM++ 2M SDE", XATTN_SAMPLER_DPMPP_2M_SDE, 0},
    {"DPM++ 2M SDE Karras", XATTN_SAMPLER_DPMPP_2M_SDE, 1},
    {"UniPC", XATTN_SAMPLER_UNIPC, 0},
    {"PLMS", XATTN_SAMPLER_PNDM, 0},
    {"DDPM", XATTN_SAMPLER_DDPM, 0}, /* not the web UI's (it has no DDPM): named in its style */
    /* diffusers' scheduler classes */
    {"DDIMScheduler", XATTN_SAMPLER_DDIM, 0},
    {"DDPMScheduler", XATTN_SAMPLER_DDPM, 0},
    {"EulerDiscreteScheduler", XATTN_SAMPLER_EULER, 0},
    {"EulerAncestralDiscreteScheduler", XATTN_SAMPLER_EULER_A, 0},
    {"HeunDiscreteScheduler", XATTN_SAMPLER_HEUN, 0},
    {"DPMSolverMultistepScheduler", XATTN_SAMPLER_DPMPP_2M, 0},
    {"UniPCMultistepScheduler", XATTN_SAMPLER_UNIPC, 0},
    {"LMSDiscreteScheduler", XATTN_SAMPLER_LMS, 0},
    {"PNDMScheduler", XATTN_SAMPLER_PNDM, 0},
};

#define N_ALIASES (sizeof aliases / sizeof aliases[0])

const xattn_sampler_alias *xattn_sampler_alias_at(size_t index) {
    return index < N_ALIASES ? &aliases[index] : NULL;
}

const char *xattn_sampler_name(xattn_sampler_kind kind) {
    for (size_t k = 0; k < N_ALIASES; k++)
        if (aliases[k].kind == kind) return aliases[k].name;
    return NULL;
}

static int same_name(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

xattn_status xattn_sampler_from_name(const char *name, xattn_sampler_kind *kind, int *karras,
                                     xattn_error *err) {
    for (size_t k = 0; name && k < N_ALIASES; k++) {
        if (same_name(name, aliases[k].name)) {
            *kind = aliases[k].kind;
            if (karras) *karras = aliases[k].karras;
            return XATTN_OK;
        }
    }
    char shown[65];
    size_t n = 0;
    for (; name && name[n] && n < 64; n++)
        shown[n] = ((unsigned char)name[n] < 0x20 || name[n] == 0x7f) ? '?' : name[n];
    shown[n] = '\0';
    return xattn_fail(err, XATTN_ERR_VALUE,
                      "sampler: '%s' is not one of ddim, ddpm, euler, euler_a, heun, dpmpp_2m, "
                      "dpmpp_2m_sde, unipc, lms, pndm, model (or an A1111 name such as "
                      "\"Euler a\", \"DPM++ 2M Karras\"; see docs/samplers.md)",
                      shown);
}
