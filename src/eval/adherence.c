/* adherence.c — `xattn eval adherence` as a library call: the prompts-mode and truth-mode runs
 * and their tally (xattn_shapes.h, docs/eval.md). Nothing here prints: each image goes to the
 * caller's callback. */
#include "xattn_shapes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xattn_io.h"
#include "util/error.h"

/* ------------------------------------------------------------------------------------------ */
/* the tally                                                                                   */

void eval_adherence_count(eval_adherence_tally *t, const eval_spec *spec,
                          const eval_detection *det, int pass) {
    size_t asked, drawn;
    eval_holdout_pairs(spec, det, &asked, &drawn);
    t->pairs_asked += asked;
    t->pairs_drawn += drawn;
    t->images[spec->category]++;
    t->passed[spec->category] += (size_t)pass;
    t->total++;
    t->total_passed += (size_t)pass;
}

double eval_adherence_category_score(const eval_adherence_tally *t, eval_category c) {
    return t->images[c] ? (double)t->passed[c] / (double)t->images[c] : 0.0;
}

double eval_adherence_overall(const eval_adherence_tally *t) {
    double sum = 0.0;
    int n = 0;
    for (int c = 0; c < EVAL_N_CATEGORIES; c++) {
        if (!t->images[c]) continue;
        sum += eval_adherence_category_score(t, (eval_category)c);
        n++;
    }
    return n ? sum / n : 0.0;
}

double eval_adherence_pairs_score(const eval_adherence_tally *t) {
    return t->pairs_asked ? (double)t->pairs_drawn / (double)t->pairs_asked : 0.0;
}

/* ------------------------------------------------------------------------------------------ */
/* callbacks                                                                                   */

static xattn_status call_start(const eval_adherence_callbacks *cb, size_t n_images,
                               xattn_error *err) {
    if (cb && cb->start && cb->start(n_images, cb->user) != 0)
        return xattn_fail(err, XATTN_ERR_CANCELLED, "eval adherence: cancelled");
    return XATTN_OK;
}

static xattn_status call_image(const eval_adherence_callbacks *cb, const eval_adherence_image *im,
                               xattn_error *err) {
    if (cb && cb->image && cb->image(im, cb->user) != 0)
        return xattn_fail(err, XATTN_ERR_CANCELLED, "eval adherence: cancelled");
    return XATTN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* truth mode                                                                                  */

xattn_status eval_adherence_truth(const char *dir, const eval_adherence_callbacks *cb,
                                  eval_adherence_tally *out, xattn_error *err) {
    memset(out, 0, sizeof *out);
    eval_truth *t = NULL;
    xattn_status st = eval_truth_open(dir, &t, err);
    if (st != XATTN_OK) return st;
    world_scene *scene = malloc(sizeof *scene); /* ~4 KB */
    eval_detection *det = malloc(sizeof *det);
    if (!scene || !det) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", dir);
        goto done;
    }
    if ((st = call_start(cb, 0, err)) != XATTN_OK) goto done;
    for (;;) {
        uint64_t id;
        int finished;
        if ((st = eval_truth_next(t, scene, &id, &finished, err)) != XATTN_OK) goto done;
        if (finished) break;
        if ((st = eval_detect(scene->rgb, WORLD_SIZE, WORLD_SIZE, NULL, det, err)) != XATTN_OK)
            goto done;
        eval_spec spec;
        eval_spec_from_scene(scene, &spec);
        char reason[EVAL_REASON_LEN] = "", why[EVAL_REASON_LEN] = "";
        int pass = eval_score(&spec, det, reason, sizeof reason);
        int exact = eval_detection_matches_truth(det, scene, why, sizeof why);
        eval_adherence_count(out, &spec, det, pass);
        out->exact += (size_t)exact;
        eval_adherence_image im = {
            .index = out->total - 1, .id = id, .prompt = scene->caption, .spec = &spec,
            .pass = pass, .reason = reason, .det = det, .exact = exact, .detector = why,
            .rgb = scene->rgb, .size = WORLD_SIZE, .done = out->total, .total = 0};
        if ((st = call_image(cb, &im, err)) != XATTN_OK) goto done;
    }
    if (out->total == 0) st = xattn_fail(err, XATTN_ERR_FORMAT, "%s/truth.jsonl: no records", dir);
done:
    free(scene);
    free(det);
    eval_truth_close(t);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* prompts mode                                                                                */

void eval_adherence_params_init(eval_adherence_params *p) {
    memset(p, 0, sizeof *p);
    p->seeds = 4;
    xattn_generate_params_init(&p->gen);
}

/* The detector takes RGB images of side 2..EVAL_MAX_SIDE. */
static xattn_status check_model(const xattn_model_info *info, const char *model_name,
                                xattn_error *err) {
    if (info->out_channels != 3)
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "%s: out_channels %d: the detector needs RGB images (3 channels)",
                          model_name, info->out_channels);
    if (info->sample_size < 2 || info->sample_size > EVAL_MAX_SIDE)
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: sample_size %d: the detector takes 2..%d",
                          model_name, info->sample_size, EVAL_MAX_SIDE);
    return XATTN_OK;
}

/* A prompt's embedding width D must be the model's cross_attention_dim. */
static xattn_status check_width(const xattn_model_info *info, const eval_prompt *pr,
                                const xattn_prompt *emb, const char *prompts, xattn_error *err) {
    if (emb->dim == (size_t)info->cross_attention_dim) return XATTN_OK;
    return xattn_fail(err, XATTN_ERR_SHAPE,
                      "%s: embedding width %zu, model expects %d (prompt on %s:%zu)",
                      pr->embedding ? pr->embedding : "the encoder's", emb->dim,
                      info->cross_attention_dim, prompts, pr->line);
}

xattn_status eval_adherence_run(xattn_model *model, const eval_adherence_params *p,
                                const eval_adherence_callbacks *cb, eval_adherence_tally *out,
                                size_t *n_prompts, xattn_error *err) {
    memset(out, 0, sizeof *out);
    if (n_prompts) *n_prompts = 0;
    if (p->seeds < 1 || p->seeds > EVAL_MAX_SEEDS)
        return xattn_fail(err, XATTN_ERR_VALUE, "seeds: %d is out of range 1..%d", p->seeds,
                          EVAL_MAX_SEEDS);
    eval_prompt_set set = {0};
    xattn_prompt **emb = NULL;
    float *image = NULL; /* [1, 3, S, S] in [-1, 1] */
    uint8_t *rgb = NULL; /* [S, S, 3] */
    eval_detection *det = NULL;
    xattn_status st = eval_prompts_load(p->prompts, &set, err);
    if (st != XATTN_OK) goto done;
    if (n_prompts) *n_prompts = set.n;
    xattn_model_info info;
    xattn_model_get_info(model, &info);
    if ((st = check_model(&info, p->model_name, err)) != XATTN_OK) goto done;
    emb = calloc(set.n, sizeof *emb);
    if (!emb) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", p->prompts);
        goto done;
    }
    for (size_t i = 0; i < set.n; i++) {
        char where[4200];
        snprintf(where, sizeof where, "%s:%zu", p->prompts, set.prompts[i].line);
        if ((st = eval_load_embedding(set.prompts[i].embedding, set.prompts[i].text, p->encoder,
                                      where, &emb[i], err)) != XATTN_OK)
            goto done;
        if ((st = check_width(&info, &set.prompts[i], emb[i], p->prompts, err)) != XATTN_OK)
            goto done;
    }
    size_t size = (size_t)info.sample_size;
    image = malloc(3 * size * size * sizeof *image);
    rgb = malloc(3 * size * size);
    det = malloc(sizeof *det);
    if (!image || !rgb || !det) {
        st = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", p->model_name);
        goto done;
    }
    size_t total = set.n * (size_t)p->seeds;
    if ((st = call_start(cb, total, err)) != XATTN_OK) goto done;
    for (size_t i = 0; i < set.n; i++) {
        const eval_prompt *pr = &set.prompts[i];
        for (int seed = 0; seed < p->seeds; seed++) {
            xattn_generate_params gen = p->gen;
            gen.seed = (uint64_t)seed;
            gen.batch = 1;
            if ((st = xattn_generate(model, emb[i], NULL, &gen, image, err)) != XATTN_OK) goto done;
            xattn_image_to_rgb8(image, 3, size, size, rgb);
            if ((st = eval_detect(rgb, size, size, NULL, det, err)) != XATTN_OK) goto done;
            char reason[EVAL_REASON_LEN] = "";
            int pass = eval_score(&pr->spec, det, reason, sizeof reason);
            eval_adherence_count(out, &pr->spec, det, pass);
            eval_adherence_image im = {
                .index = i, .seed = seed, .prompt = pr->text, .embedding = pr->embedding,
                .spec = &pr->spec, .pass = pass, .reason = reason, .det = det, .detector = "",
                .rgb = rgb, .size = size, .done = out->total, .total = total};
            if ((st = call_image(cb, &im, err)) != XATTN_OK) goto done;
        }
    }
done:
    if (emb)
        for (size_t i = 0; i < set.n; i++) xattn_prompt_free(emb[i]);
    free(emb);
    free(image);
    free(rgb);
    free(det);
    eval_prompts_free(&set);
    return st;
}

xattn_status eval_load_embedding(const char *file, const char *text, xattn_encoder *enc,
                                 const char *where, xattn_prompt **out, xattn_error *err) {
    if (file) return xattn_prompt_load(file, out, err);
    if (!enc)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: \"embedding\": missing, and no text encoder "
                          "to encode the prompt (run tools/fetch_encoder.sh)", where);
    return xattn_encode(enc, text, out, err);
}
