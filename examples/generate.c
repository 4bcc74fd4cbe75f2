/* generate.c — libxattn from the outside: load a model and a prompt, generate one image, write
 * it as a PNG (with its seed in a text chunk) and its pixel-to-word heatmaps.
 *
 *   generate MODEL PROMPT.safetensors OUT.png HEATMAPS_DIR [SEED]
 *
 * Build against an installed xattn (README, "The library"):
 *   cc generate.c $(pkg-config --cflags --libs xattn) -o generate */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <xattn.h>
#include <xattn_io.h>

/* Prints a library error and gives the exit code 1. */
static int fail(const xattn_error *err) {
    fprintf(stderr, "generate: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: generate MODEL PROMPT.safetensors OUT.png HEATMAPS_DIR [SEED]\n");
        return 2;
    }
    xattn_error err = {0};
    xattn_model *model = NULL;
    xattn_prompt *prompt = NULL;
    xattn_heatmaps *maps = NULL;
    float *image = NULL;
    uint8_t *rgb = NULL;
    int code = 1;
    if (xattn_model_load(argv[1], &model, &err) != XATTN_OK ||
        xattn_prompt_load(argv[2], &prompt, &err) != XATTN_OK ||
        xattn_heatmaps_new(model, prompt, NULL, &maps, &err) != XATTN_OK) {
        code = fail(&err);
        goto done;
    }

    xattn_model_info info;
    xattn_model_get_info(model, &info);
    size_t c = (size_t)info.out_channels, s = (size_t)info.sample_size;
    image = malloc(c * s * s * sizeof *image); /* [C, S, S] in [-1, 1] */
    rgb = malloc(s * s * 3);                    /* [S, S, 3] */
    if (!image || !rgb) goto done;

    xattn_generate_params p;
    xattn_generate_params_init(&p); /* 30 steps of the model's sampler, cfg 7.5, its null prompt */
    p.seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
    p.heatmaps = maps;
    if (xattn_generate(model, prompt, NULL, &p, image, &err) != XATTN_OK) {
        code = fail(&err);
        goto done;
    }

    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)p.seed);
    const xattn_text_pair text[] = {{"seed", seed}, {"software", "examples/generate.c"}};
    xattn_image_to_rgb8(image, (int)c, s, s, rgb);
    if (xattn_png_write_rgb(argv[3], rgb, s, s, text, 2, &err) != XATTN_OK ||
        xattn_heatmaps_write(maps, 0, rgb, argv[4], &err) != XATTN_OK) {
        code = fail(&err);
        goto done;
    }
    printf("wrote %s and %s/\n", argv[3], argv[4]);
    code = 0;
done:
    free(rgb);
    free(image);
    xattn_heatmaps_free(maps);
    xattn_prompt_free(prompt);
    xattn_model_free(model);
    return code;
}
