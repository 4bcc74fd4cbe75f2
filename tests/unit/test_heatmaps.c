/* test_heatmaps.c — cross-attention capture, DAAM aggregation, re-weighting and pictures.
 *
 *  - the probabilities the capture sees equal diffusers' attn2 probabilities (the reference
 *    dumps' "<layer>.probs" [B, heads, HW, T]) within 1e-5;
 *  - during guided generation only the conditional rows are passed on, once per (step, image,
 *    layer, head), and they equal those of an unguided run at step 0;
 *  - aggregation on synthetic maps: bilinear 8x8 -> 16x16 against the closed form of a linear
 *    ramp, the mean over (layer, head) pairs, head/layer/step selection, word merging;
 *  - re-weighting: factor 1 is bit-for-bit a no-op, factor 0 zeroes the word's columns;
 *  - the colormap against viridis stops it was not derived from; the written files. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stb/stb_image.h>

#include "heat/heat.h"
#include "heat/heat_image.h"
#include "reference.h"
#include "test_util.h"
#include "xattn.h"

/* ---------------------------------------------------------------------------------------- */
/* helpers */

static xattn_model *load_model(const char *rel) {
    xattn_model *m = NULL;
    xattn_error err = {0};
    if (xattn_model_load(source_path(rel), &m, &err) != XATTN_OK) fail_msg("load %s: %s", rel, err.msg);
    return m;
}

/* A prompt [T, D] with the given tokens (mask 1 except "[PAD]"), embeddings a fixed pattern. */
static xattn_prompt *make_prompt(const char *const *tokens, size_t n, size_t dim) {
    xattn_prompt *p = calloc(1, sizeof *p);
    p->n_tokens = n;
    p->dim = dim;
    p->embeddings = malloc(n * dim * sizeof(float));
    p->mask = malloc(n * sizeof(float));
    p->tokens = malloc(n * sizeof(char *));
    for (size_t i = 0; i < n * dim; i++) p->embeddings[i] = 0.8f * sinf(0.37f * (float)i + 0.1f);
    for (size_t t = 0; t < n; t++) {
        p->tokens[t] = strdup(tokens[t]);
        p->mask[t] = strcmp(tokens[t], "[PAD]") == 0 ? 0.0f : 1.0f;
    }
    p->text = strdup("synthetic");
    p->encoder = strdup("test");
    return p;
}

/* ---------------------------------------------------------------------------------------- */
/* 1. the captured probabilities are diffusers' */

typedef struct probs_capture {
    const char *name;      /* the layer wanted */
    float *probs;          /* [B, heads, N, T] */
    size_t batch, heads, n, t;
    int *seen;             /* [B, heads] calls */
    int bad_shape;
} probs_capture;

static void capture_layer(const xattn_attention_layer *layer, int step, int image, int head,
                          const float *probs, size_t n_tokens, void *user) {
    probs_capture *c = user;
    if (strcmp(layer->name, c->name) != 0) return;
    size_t n = (size_t)layer->height * (size_t)layer->width;
    if (step != -1 || n != c->n || n_tokens != c->t || (size_t)image >= c->batch ||
        (size_t)head >= c->heads) {
        c->bad_shape = 1;
        return;
    }
    size_t slot = (size_t)image * c->heads + (size_t)head;
    memcpy(c->probs + slot * n * n_tokens, probs, n * n_tokens * sizeof(float));
    c->seen[slot]++;
}

static void run_probs_parity(const char *model_name) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/data/models/%s", model_name);
    xattn_model *m = load_model(dir);
    xattn_st_file *ref = reference_open(model_name);
    float *sample = reference_tensor(ref, "in.sample", NULL);
    float *timestep = reference_tensor(ref, "in.timestep", NULL);
    float *text = reference_tensor(ref, "in.encoder_hidden_states", NULL);
    float *mask = reference_tensor(ref, "in.attention_mask", NULL);
    const xattn_st_tensor *ts = xattn_st_find(ref, "in.encoder_hidden_states");
    size_t batch = ts->shape[0], T = ts->shape[1];

    size_t n_layers = xattn_model_attention_layers(m, NULL, 0), compared = 0;
    xattn_attention_layer *layers = malloc(n_layers * sizeof *layers);
    xattn_model_attention_layers(m, layers, n_layers);
    xattn_unet_run *run = NULL;
    xattn_error err = {0};
    assert_int_equal(xattn_unet_run_new(m, batch, T, &run, &err), XATTN_OK);
    float *pred = malloc(xattn_st_find(ref, "in.sample")->numel * sizeof *pred);
    for (size_t l = 0; l < n_layers; l++) {
        char name[128];
        snprintf(name, sizeof name, "%s.probs", layers[l].name);
        const xattn_st_tensor *want_t = xattn_st_find(ref, name);
        if (!want_t) continue;
        size_t heads = (size_t)layers[l].heads, n = (size_t)(layers[l].height * layers[l].width);
        assert_int_equal(want_t->ndim, 4);
        assert_true(want_t->shape[0] == batch && want_t->shape[1] == heads &&
                    want_t->shape[2] == n && want_t->shape[3] == T);
        probs_capture c = {layers[l].name, calloc(want_t->numel, sizeof(float)), batch, heads, n, T,
                           calloc(batch * heads, sizeof(int)), 0};
        xattn_unet_set_attention_fn(run, capture_layer, &c);
        assert_int_equal(xattn_unet_forward(run, sample, timestep[0], text, mask, pred, &err), XATTN_OK);
        assert_false(c.bad_shape);
        for (size_t s = 0; s < batch * heads; s++) assert_int_equal(c.seen[s], 1);
        float *want = reference_tensor(ref, name, NULL);
        char what[160];
        snprintf(what, sizeof what, "%s %s", model_name, name);
        assert_int_equal(compare_arrays(what, c.probs, want, want_t->numel, 1e-5), 0);
        compared++;
        free(want), free(c.probs), free(c.seen);
    }
    assert_true(compared >= 1);
    xattn_unet_run_free(run);
    free(pred), free(layers), free(sample), free(timestep), free(text), free(mask);
    xattn_st_close(ref);
    xattn_model_free(m);
}

static void test_probs_conv_eps(void **state) { (void)state; run_probs_parity("tiny_conv_eps"); }
static void test_probs_linear_v(void **state) { (void)state; run_probs_parity("tiny_linear_v"); }

/* ---------------------------------------------------------------------------------------- */
/* 2. generation passes the conditional rows only */

#define GEN_STEPS 2
#define GEN_BATCH 2
#define MAX_LAYERS 16
#define MAX_HEADS 8

typedef struct gen_capture {
    int calls[GEN_STEPS][GEN_BATCH][MAX_LAYERS][MAX_HEADS];
    int bad;
    float *step0_layer0;  /* [GEN_BATCH, heads, N, T] at step 0, layer 0 */
    size_t heads, n, t;
    int zero_columns_broken; /* with a zero scale: a non-zero probability in a zeroed column */
    const float *token_scale;
} gen_capture;

static void capture_generation(const xattn_attention_layer *layer, int step, int image, int head,
                               const float *probs, size_t n_tokens, void *user) {
    gen_capture *c = user;
    if (step < 0 || step >= GEN_STEPS || image < 0 || image >= GEN_BATCH || layer->index < 0 ||
        layer->index >= MAX_LAYERS || head < 0 || head >= MAX_HEADS) {
        c->bad = 1;
        return;
    }
    c->calls[step][image][layer->index][head]++;
    size_t n = (size_t)layer->height * (size_t)layer->width;
    if (c->token_scale)
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < c->t; t++)
                if (c->token_scale[t] == 0.0f && probs[i * n_tokens + t] != 0.0f) c->zero_columns_broken = 1;
    if (step == 0 && layer->index == 0 && c->step0_layer0) {
        if (n_tokens != c->t || n != c->n) {
            c->bad = 1;
            return;
        }
        memcpy(c->step0_layer0 + ((size_t)image * c->heads + (size_t)head) * n * n_tokens, probs,
               n * n_tokens * sizeof(float));
    }
}

static const char *const ring_tokens[] = {"[CLS]", "a", "ring", "##s", "[SEP]"};

/* generates GEN_BATCH images with model tiny_conv_eps, recording into c; returns the images */
static float *generate_with(xattn_model *m, const xattn_prompt *p, float cfg,
                            const float *token_scale, gen_capture *c) {
    xattn_model_info info;
    xattn_model_get_info(m, &info);
    size_t img = (size_t)info.out_channels * (size_t)info.sample_size * (size_t)info.sample_size;
    float *images = malloc(GEN_BATCH * img * sizeof(float));
    xattn_generate_params gp;
    xattn_generate_params_init(&gp);
    gp.seed = 7;
    gp.steps = GEN_STEPS;
    gp.cfg = cfg;
    gp.batch = GEN_BATCH;
    gp.attention = c ? capture_generation : NULL;
    gp.attention_user = c;
    gp.token_scale = token_scale;
    xattn_error err = {0};
    if (xattn_generate(m, p, NULL, &gp, images, &err) != XATTN_OK) fail_msg("generate: %s", err.msg);
    return images;
}

static void test_generation_captures_conditional_rows(void **state) {
    (void)state;
    xattn_model *m = load_model("tests/data/models/tiny_conv_eps");
    xattn_prompt *p = make_prompt(ring_tokens, 5, 32);
    size_t n_layers = xattn_model_attention_layers(m, NULL, 0);
    xattn_attention_layer layers[MAX_LAYERS];
    assert_true(n_layers <= MAX_LAYERS);
    xattn_model_attention_layers(m, layers, MAX_LAYERS);
    size_t heads = (size_t)layers[0].heads, n = (size_t)(layers[0].height * layers[0].width);

    gen_capture *guided = calloc(1, sizeof *guided), *plain = calloc(1, sizeof *plain);
    size_t floats = GEN_BATCH * heads * n * 5;
    *guided = (gen_capture){.step0_layer0 = calloc(floats, sizeof(float)), .heads = heads, .n = n, .t = 5};
    *plain = (gen_capture){.step0_layer0 = calloc(floats, sizeof(float)), .heads = heads, .n = n, .t = 5};
    free(generate_with(m, p, 2.0f, NULL, guided)); /* rows [uncond x 2, cond x 2] */
    free(generate_with(m, p, 1.0f, NULL, plain));  /* rows [cond x 2] */
    assert_false(guided->bad);
    assert_false(plain->bad);
    for (int s = 0; s < GEN_STEPS; s++)
        for (int b = 0; b < GEN_BATCH; b++)
            for (size_t l = 0; l < n_layers; l++)
                for (int h = 0; h < layers[l].heads; h++) {
                    assert_int_equal(guided->calls[s][b][l][h], 1);
                    assert_int_equal(plain->calls[s][b][l][h], 1);
                }
    /* step 0 sees the same latents in both runs: the conditional rows' probabilities agree */
    assert_int_equal(compare_arrays("guided cond rows vs unguided, step 0, layer 0",
                                    guided->step0_layer0, plain->step0_layer0, floats, 1e-6), 0);
    free(guided->step0_layer0), free(plain->step0_layer0), free(guided), free(plain);
    xattn_prompt_free(p);
    xattn_model_free(m);
}

/* ---------------------------------------------------------------------------------------- */
/* 3. re-weighting */

static void test_reweight(void **state) {
    (void)state;
    xattn_model *m = load_model("tests/data/models/tiny_conv_eps");
    xattn_prompt *p = make_prompt(ring_tokens, 5, 32);
    xattn_model_info info;
    xattn_model_get_info(m, &info);
    size_t img = GEN_BATCH * (size_t)info.out_channels * (size_t)info.sample_size * (size_t)info.sample_size;
    xattn_attention_layer layer0;
    xattn_model_attention_layers(m, &layer0, 1);
    size_t heads = (size_t)layer0.heads, n = (size_t)(layer0.height * layer0.width);
    size_t floats = GEN_BATCH * heads * n * 5;

    /* factor 1 everywhere: the same bits as no scale */
    const float ones[5] = {1, 1, 1, 1, 1};
    float *plain = generate_with(m, p, 2.0f, NULL, NULL);
    float *scaled = generate_with(m, p, 2.0f, ones, NULL);
    assert_memory_equal(plain, scaled, img * sizeof(float));
    free(scaled);

    /* factor 0 on "rings" (tokens 2 and 3): its columns are zero at every layer and step, the
     * other columns are untouched where the input is still the same (step 0, layer 0), and the
     * image changes */
    const float no_rings[5] = {1, 1, 0, 0, 1};
    gen_capture *before = calloc(1, sizeof *before), *after = calloc(1, sizeof *after);
    *before = (gen_capture){.step0_layer0 = calloc(floats, sizeof(float)), .heads = heads, .n = n, .t = 5};
    *after = (gen_capture){.step0_layer0 = calloc(floats, sizeof(float)), .heads = heads, .n = n, .t = 5,
                           .token_scale = no_rings};
    free(generate_with(m, p, 2.0f, NULL, before));
    float *without = generate_with(m, p, 2.0f, no_rings, after);
    assert_false(after->bad);
    assert_false(after->zero_columns_broken);
    size_t zeros = 0, same = 0, others = 0;
    for (size_t i = 0; i < floats; i++) {
        size_t t = i % 5;
        if (t == 2 || t == 3) {
            zeros += after->step0_layer0[i] == 0.0f && before->step0_layer0[i] > 0.0f;
        } else {
            others++;
            same += after->step0_layer0[i] == before->step0_layer0[i];
        }
    }
    printf("factor 0: %zu of %zu word probabilities zeroed, %zu of %zu others unchanged\n", zeros,
           floats / 5 * 2, same, others);
    assert_int_equal(zeros, floats / 5 * 2);
    assert_int_equal(same, others);
    size_t changed = 0;
    for (size_t i = 0; i < img; i++) changed += without[i] != plain[i];
    printf("factor 0: %zu of %zu image values changed\n", changed, img);
    assert_true(changed > img / 2);
    free(before->step0_layer0), free(after->step0_layer0), free(before), free(after);
    free(without), free(plain);
    xattn_prompt_free(p);
    xattn_model_free(m);
}

/* ---------------------------------------------------------------------------------------- */
/* 4. aggregation on synthetic maps */

static xattn_attention_layer synthetic_layer(int index, int side, int heads) {
    xattn_attention_layer l;
    memset(&l, 0, sizeof l);
    l.index = index;
    l.height = l.width = side;
    l.heads = heads;
    snprintf(l.name, sizeof l.name, "synthetic.%d", index);
    return l;
}

/* The closed form of bilinear resizing (align_corners=False) of the ramp v = ax + by + c from
 * 8x8 to 16x16: source coordinate s = (o + 0.5) / 2 - 0.5 clamped to [0, 7]; a linear function
 * is reproduced exactly. */
static void test_bilinear_ramp(void **state) {
    (void)state;
    const float a = 0.03f, b = -0.02f, c = 0.5f;
    float in[8 * 8], got[16 * 16], want[16 * 16];
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) in[y * 8 + x] = a * (float)x + b * (float)y + c;
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) {
            double sx = fmin(fmax((x + 0.5) / 2 - 0.5, 0), 7), sy = fmin(fmax((y + 0.5) / 2 - 0.5, 0), 7);
            want[y * 16 + x] = (float)(a * sx + b * sy + c);
        }
    memset(got, 0, sizeof got);
    bilinear_resize_add(got, 16, 16, in, 8, 8, 1.0f);
    assert_int_equal(compare_arrays("bilinear 8x8 -> 16x16 ramp", got, want, 256, 1e-6), 0);
    /* same size: the identity */
    float same[64] = {0};
    bilinear_resize_add(same, 8, 8, in, 8, 8, 1.0f);
    assert_memory_equal(same, in, sizeof in);
}

/* A layer at 8x8 carrying, for token 1, the ramp above; through the accumulator the token's
 * map is the upsampled ramp. */
static void test_aggregate_upsample(void **state) {
    (void)state;
    static const char *const tokens[] = {"[CLS]", "x", "[SEP]"};
    xattn_prompt *p = make_prompt(tokens, 3, 4);
    xattn_attention_layer layer = synthetic_layer(0, 8, 1);
    xattn_heatmap_params hp;
    xattn_heatmap_params_init(&hp);
    xattn_heatmaps *h = NULL;
    xattn_error err = {0};
    assert_int_equal(heatmaps_create(&layer, 1, 16, 16, p, &hp, &h, &err), XATTN_OK);
    assert_int_equal(heatmaps_begin(h, 1, 1, &err), XATTN_OK);
    float probs[64 * 3], ramp[64], want[256] = {0};
    for (int i = 0; i < 64; i++) {
        ramp[i] = 0.03f * (float)(i % 8) - 0.02f * (float)(i / 8) + 0.5f;
        probs[i * 3 + 0] = 0.1f, probs[i * 3 + 1] = ramp[i], probs[i * 3 + 2] = 0.4f;
    }
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) {
            double sx = fmin(fmax((x + 0.5) / 2 - 0.5, 0), 7), sy = fmin(fmax((y + 0.5) / 2 - 0.5, 0), 7);
            want[y * 16 + x] = (float)(0.03 * sx - 0.02 * sy + 0.5);
        }
    assert_true(heatmaps_wants(h, 0, 0));
    heatmaps_add(h, &layer, 0, 0, probs, 3);
    heatmaps_end_step(h, 0);
    heatmaps_finish(h);
    xattn_heatmaps_info info;
    xattn_heatmaps_get_info(h, &info);
    assert_int_equal(info.n_words, 1); /* [CLS] and [SEP] are no words */
    assert_string_equal(xattn_heatmaps_words(h)[0].text, "x");
    assert_int_equal(compare_arrays("token map of x", xattn_heatmaps_token_maps(h, 0) + 256, want, 256, 1e-6), 0);
    assert_int_equal(compare_arrays("word map of x", xattn_heatmaps_word_maps(h, 0), want, 256, 1e-6), 0);
    xattn_heatmaps_free(h);
    xattn_prompt_free(p);
}

/* Two layers (8x8 and 16x16), two heads each, constant per (layer, head): each step's map is
 * the mean over the selected (layer, head) pairs, summed over the selected steps; a word of two
 * tokens gets their mean; [CLS], [SEP] and padding are no words. */
static void check_constant(const char *what, const xattn_heatmaps *h, size_t word, float want) {
    float got[256], expect[256];
    memcpy(got, xattn_heatmaps_word_maps(h, 0) + word * 256, sizeof got);
    for (int i = 0; i < 256; i++) expect[i] = want;
    assert_int_equal(compare_arrays(what, got, expect, 256, 1e-6), 0);
}

static xattn_heatmaps *aggregate(const xattn_prompt *p, uint64_t layers, uint64_t heads, int begin,
                                 int end) {
    xattn_attention_layer l[2] = {synthetic_layer(0, 8, 2), synthetic_layer(1, 16, 2)};
    const float value[2][2] = {{0.2f, 0.4f}, {0.6f, 1.0f}}; /* [layer][head] */
    xattn_heatmap_params hp;
    xattn_heatmap_params_init(&hp);
    hp.layers = layers, hp.heads = heads, hp.step_begin = begin, hp.step_end = end;
    hp.keep_steps = 1;
    xattn_heatmaps *h = NULL;
    xattn_error err = {0};
    assert_int_equal(heatmaps_create(l, 2, 16, 16, p, &hp, &h, &err), XATTN_OK);
    assert_int_equal(heatmaps_begin(h, 1, 3, &err), XATTN_OK);
    size_t T = p->n_tokens;
    float *probs = malloc(256 * T * sizeof(float)); /* [N, T]; token t scaled by (t + 1) */
    for (int step = 0; step < 3; step++) {
        for (int li = 0; li < 2; li++) {
            if (!heatmaps_wants(h, li, step)) continue;
            size_t n = (size_t)(l[li].height * l[li].width);
            for (int hd = 0; hd < 2; hd++) {
                for (size_t i = 0; i < n; i++)
                    for (size_t t = 0; t < T; t++) probs[i * T + t] = value[li][hd] * (float)(t + 1);
                heatmaps_add(h, &l[li], 0, (size_t)hd, probs, T);
            }
        }
        heatmaps_end_step(h, step);
    }
    heatmaps_finish(h);
    free(probs);
    return h;
}

static void test_aggregate_mean_and_words(void **state) {
    (void)state;
    static const char *const tokens[] = {"[CLS]", "a", "ring", "##s", "[SEP]", "[PAD]"};
    xattn_prompt *p = make_prompt(tokens, 6, 4);
    /* all layers, heads and 3 steps: per step (0.2 + 0.4 + 0.6 + 1.0) / 4 = 0.55 */
    xattn_heatmaps *h = aggregate(p, 0, 0, 0, INT_MAX);
    xattn_heatmaps_info info;
    xattn_heatmaps_get_info(h, &info);
    assert_int_equal(info.n_words, 2);
    assert_int_equal(info.n_pairs, 4);
    assert_int_equal(info.step_begin, 0);
    assert_int_equal(info.step_end, 3);
    const xattn_word *w = xattn_heatmaps_words(h);
    assert_string_equal(w[0].text, "a");
    assert_string_equal(w[1].text, "rings");
    assert_int_equal(w[1].first_token, 2);
    assert_int_equal(w[1].n_tokens, 2);
    check_constant("a, all", h, 0, 3 * 0.55f * 2);              /* token 1: scale 2 */
    check_constant("rings, all", h, 1, 3 * 0.55f * (3 + 4) / 2); /* mean of tokens 2, 3 */
    float step1[256], expect[256];
    memcpy(step1, xattn_heatmaps_step_maps(h, 0, 1) + 256, sizeof step1);
    for (int i = 0; i < 256; i++) expect[i] = 0.55f * 3.5f;
    assert_int_equal(compare_arrays("rings, step 1 alone", step1, expect, 256, 1e-6), 0);
    assert_null(xattn_heatmaps_step_maps(h, 0, 3));
    xattn_heatmaps_free(h);
    /* head 1 only: (0.4 + 1.0) / 2 = 0.7 per step */
    h = aggregate(p, 0, 1u << 1, 0, INT_MAX);
    check_constant("a, head 1", h, 0, 3 * 0.7f * 2);
    xattn_heatmaps_free(h);
    /* layer 1 only: (0.6 + 1.0) / 2 = 0.8; steps 1..2 only */
    h = aggregate(p, 1u << 1, 0, 1, 3);
    check_constant("a, layer 1, steps 1:3", h, 0, 2 * 0.8f * 2);
    xattn_heatmaps_free(h);
    xattn_prompt_free(p);
}

static void test_words(void **state) {
    (void)state;
    static const char *const tokens[] = {"[CLS]", "##x", "big", "##ger", "##s", "<|endoftext|>",
                                         "##y", "dog", "[SEP]", "[PAD]"};
    xattn_prompt *p = make_prompt(tokens, 10, 4);
    xattn_word *w = NULL;
    size_t n = 0;
    xattn_error err = {0};
    assert_int_equal(xattn_prompt_words(p, &w, &n, &err), XATTN_OK);
    assert_int_equal(n, 4);
    assert_string_equal(w[0].text, "x"); /* a "##" with no word before starts one */
    assert_string_equal(w[1].text, "biggers");
    assert_int_equal(w[1].n_tokens, 3);
    assert_string_equal(w[2].text, "y");
    assert_string_equal(w[3].text, "dog");
    xattn_words_free(w, n);
    xattn_prompt_free(p);
}

/* ---------------------------------------------------------------------------------------- */
/* 5. selections */

static void test_specs(void **state) {
    (void)state;
    xattn_model *m = load_model("tests/data/models/tiny_linear_v");
    xattn_attention_layer l[MAX_LAYERS];
    size_t n = xattn_model_attention_layers(m, l, MAX_LAYERS);
    uint64_t up = 0, up16 = 0, mid = 0;
    for (size_t i = 0; i < n; i++) {
        if (l[i].place == XATTN_PLACE_UP) up |= 1ull << i;
        if (l[i].place == XATTN_PLACE_UP && l[i].height == 16) up16 |= 1ull << i;
        if (l[i].place == XATTN_PLACE_MID) mid |= 1ull << i;
    }
    assert_true(up16 != 0 && up16 != up && mid != 0);
    uint64_t mask = 0;
    xattn_error err = {0};
    assert_int_equal(xattn_heatmap_parse_layers(m, "all", &mask, &err), XATTN_OK);
    assert_true(mask == 0);
    assert_int_equal(xattn_heatmap_parse_layers(m, "up", &mask, &err), XATTN_OK);
    assert_true(mask == up);
    assert_int_equal(xattn_heatmap_parse_layers(m, "up:16", &mask, &err), XATTN_OK);
    assert_true(mask == up16);
    assert_int_equal(xattn_heatmap_parse_layers(m, "mid,0,up:16", &mask, &err), XATTN_OK);
    assert_true(mask == (mid | up16 | 1u));
    assert_int_equal(xattn_heatmap_parse_layers(m, "up:64", &mask, &err), XATTN_ERR_VALUE);
    printf("up:64 -> %s\n", err.msg);
    assert_int_equal(xattn_heatmap_parse_layers(m, "sideways", &mask, &err), XATTN_ERR_VALUE);
    assert_int_equal(xattn_heatmap_parse_layers(m, "99", &mask, &err), XATTN_ERR_VALUE);
    assert_int_equal(xattn_heatmap_parse_layers(m, "up,", &mask, &err), XATTN_ERR_VALUE);
    assert_int_equal(xattn_heatmap_parse_heads(m, "0,2-3", &mask, &err), XATTN_OK);
    assert_true(mask == 0xD);
    assert_int_equal(xattn_heatmap_parse_heads(m, "9", &mask, &err), XATTN_ERR_VALUE);
    assert_int_equal(xattn_heatmap_parse_heads(m, "3-1", &mask, &err), XATTN_ERR_VALUE);
    int a, b;
    assert_int_equal(xattn_heatmap_parse_steps("2:5", &a, &b, &err), XATTN_OK);
    assert_true(a == 2 && b == 5);
    assert_int_equal(xattn_heatmap_parse_steps(":3", &a, &b, &err), XATTN_OK);
    assert_true(a == 0 && b == 3);
    assert_int_equal(xattn_heatmap_parse_steps("4", &a, &b, &err), XATTN_OK);
    assert_true(a == 4 && b == 5);
    assert_int_equal(xattn_heatmap_parse_steps("7:", &a, &b, &err), XATTN_OK);
    assert_true(a == 7 && b == INT_MAX);
    assert_int_equal(xattn_heatmap_parse_steps("5:2", &a, &b, &err), XATTN_ERR_VALUE);
    assert_int_equal(xattn_heatmap_parse_steps("x", &a, &b, &err), XATTN_ERR_VALUE);
    assert_int_equal(xattn_heatmap_parse_steps("-1:3", &a, &b, &err), XATTN_ERR_VALUE);
    xattn_model_free(m);
}

/* ---------------------------------------------------------------------------------------- */
/* 6. pictures */

static void srgb_lab_lightness(const uint8_t c[3], double *l) {
    double lin[3];
    for (int i = 0; i < 3; i++) {
        double v = c[i] / 255.0;
        lin[i] = v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
    }
    double y = 0.2126729 * lin[0] + 0.7151522 * lin[1] + 0.0721750 * lin[2];
    *l = y > 0.008856 ? 116 * cbrt(y) - 16 : 903.3 * y;
}

/* viridis(5) (R's viridisLite): #3B528B, #21908C, #5DC863 at 1/4, 1/2, 3/4 — the table is
 * derived from viridis(10), which does not contain these. */
static void test_viridis(void **state) {
    (void)state;
    uint8_t t[256][3];
    viridis_table(t);
    assert_true(t[0][0] == 0x44 && t[0][1] == 0x01 && t[0][2] == 0x54);
    assert_true(t[255][0] == 0xFD && t[255][1] == 0xE7 && t[255][2] == 0x25);
    const float want[3][3] = {{0x3B, 0x52, 0x8B}, {0x21, 0x90, 0x8C}, {0x5D, 0xC8, 0x63}};
    for (int q = 0; q < 3; q++) {
        double x = (q + 1) * 255.0 / 4;
        int i = (int)x;
        float got[3];
        for (int c = 0; c < 3; c++) got[c] = (float)((i + 1 - x) * t[i][c] + (x - i) * t[i + 1][c]);
        char what[64];
        snprintf(what, sizeof what, "viridis at %d/4", q + 1);
        assert_int_equal(compare_arrays(what, got, want[q], 3, 2.0), 0);
    }
    /* perceptual: lightness rises through the table (0.2 of slack for rounding to 8 bits) */
    double prev, l, worst = 1e9;
    srgb_lab_lightness(t[0], &prev);
    for (int i = 1; i < 256; i++) {
        srgb_lab_lightness(t[i], &l);
        if (l - prev < worst) worst = l - prev;
        prev = l;
    }
    printf("viridis: smallest lightness step %.3f\n", worst);
    assert_true(worst > -0.2);
}

static void test_text(void **state) {
    (void)state;
    uint8_t img[40 * 100 * 3] = {0};
    const uint8_t ink[3] = {255, 255, 255};
    draw_text(img, 100, 40, 2, 2, 2, "ab\x01", ink); /* a control byte is drawn as '?' */
    size_t lit = 0, outside = 0;
    for (size_t y = 0; y < 40; y++)
        for (size_t x = 0; x < 100; x++) {
            int on = img[(y * 100 + x) * 3] == 255;
            lit += (size_t)on;
            outside += (size_t)(on && (x >= 2 + text_width("ab?", 2) || y >= 2 + text_height(2)));
        }
    assert_true(lit > 40);
    assert_int_equal(outside, 0);
    draw_text(img, 100, 40, -50, 30, 4, "clipped", ink); /* off the edges: no crash */
}

/* generate with the demo model and write the files; read them back */
static void test_written_files(void **state) {
    (void)state;
    xattn_model *m = load_model("weights/tiny-random");
    xattn_prompt *p = NULL;
    xattn_error err = {0};
    assert_int_equal(xattn_prompt_load(source_path("assets/a-red-circle-left-of-a-blue-square.safetensors"), &p, &err), XATTN_OK);
    xattn_heatmaps *h = NULL;
    assert_int_equal(xattn_heatmaps_new(m, p, NULL, &h, &err), XATTN_OK);
    xattn_generate_params gp;
    xattn_generate_params_init(&gp);
    gp.steps = 3;
    gp.heatmaps = h;
    float images[3 * 32 * 32];
    assert_int_equal(xattn_generate(m, p, NULL, &gp, images, &err), XATTN_OK);
    uint8_t rgb[32 * 32 * 3];
    for (size_t i = 0; i < 32 * 32 * 3; i++) rgb[i] = (uint8_t)(i * 7);
    const char *dir = temp_dir("heatmaps_files");
    char sub[4200], path[4300];
    snprintf(sub, sizeof sub, "%s/new/folder", dir); /* created with its parents */
    assert_int_equal(xattn_heatmaps_write(h, 0, rgb, sub, &err), XATTN_OK);
    assert_int_equal(xattn_heatmaps_write(h, 1, rgb, sub, &err), XATTN_ERR_VALUE);

    xattn_heatmaps_info info;
    xattn_heatmaps_get_info(h, &info);
    assert_int_equal(info.n_words, 8); /* a red circle left of a blue square */
    const xattn_word *w = xattn_heatmaps_words(h);
    for (size_t k = 0; k < info.n_words; k++) {
        snprintf(path, sizeof path, "%s/%zu-%s.png", sub, k, w[k].text);
        int iw, ih, ic;
        unsigned char *px = stbi_load(path, &iw, &ih, &ic, 3);
        assert_non_null(px);
        assert_true(iw == 256 && ih == 256);
        stbi_image_free(px);
    }
    snprintf(path, sizeof path, "%s/grid.png", sub);
    int gw, gh, gc;
    unsigned char *grid = stbi_load(path, &gw, &gh, &gc, 3);
    assert_non_null(grid);
    printf("grid.png %dx%d\n", gw, gh);
    assert_true(gw > 6 * 128 && gh > 2 * 128); /* 9 panels of 128: 6 columns, 2 rows, labels */
    stbi_image_free(grid);

    snprintf(path, sizeof path, "%s/heatmaps.safetensors", sub);
    xattn_st_file *f = NULL;
    assert_int_equal(xattn_st_open(path, &f, &err), XATTN_OK);
    const xattn_st_tensor *maps = xattn_st_find(f, "maps");
    assert_non_null(maps);
    assert_int_equal(maps->ndim, 3);
    assert_true(maps->shape[0] == 8 && maps->shape[1] == 32 && maps->shape[2] == 32);
    assert_string_equal(xattn_st_metadata(f, "words"), "[\"a\",\"red\",\"circle\",\"left\",\"of\",\"a\",\"blue\",\"square\"]");
    assert_string_equal(xattn_st_metadata(f, "steps"), "0:3");
    float *got = malloc(maps->numel * sizeof(float));
    assert_int_equal(xattn_st_read_f32(f, maps, got, &err), XATTN_OK);
    assert_int_equal(compare_arrays("heatmaps.safetensors maps", got, xattn_heatmaps_word_maps(h, 0),
                                    maps->numel, 0.0), 0);
    /* the maps are probabilities summed over 3 steps: every value is in (0, 3] */
    for (size_t i = 0; i < maps->numel; i++) assert_true(got[i] > 0.0f && got[i] <= 3.0f);
    free(got);
    xattn_st_close(f);
    xattn_heatmaps_free(h);
    xattn_prompt_free(p);
    xattn_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probs_conv_eps),
        cmocka_unit_test(test_probs_linear_v),
        cmocka_unit_test(test_generation_captures_conditional_rows),
        cmocka_unit_test(test_reweight),
        cmocka_unit_test(test_bilinear_ramp),
        cmocka_unit_test(test_aggregate_upsample),
        cmocka_unit_test(test_aggregate_mean_and_words),
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_specs),
        cmocka_unit_test(test_viridis),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_written_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
