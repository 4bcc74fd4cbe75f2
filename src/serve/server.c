/* server.c — `xattn serve` on libmicrohttpd (see server.h, docs/serve.md).
 *
 * Threads: libmicrohttpd runs one thread per connection (at most SERVE_MAX_CONNECTIONS, each
 * closed after SERVE_TIMEOUT_S idle); a txt2img handler validates its request, queues a job and
 * waits for it, watching its socket: a client that goes away cancels the job (the progress
 * callback returns non-zero). One worker thread runs the jobs in order. All shared state is under
 * `mu`. */
#define _GNU_SOURCE
#include "xattn_serve.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "cli/sampling_options.h"
#include "heat/heat_image.h"
#include "serve/answer.h"
#include "serve/prompts.h"
#include "serve/request.h"
#include "xattn.h"
#include "xattn_io.h"

extern const unsigned char serve_page_html[];
extern const size_t serve_page_html_len;

/* ------------------------------------------------------------------------------------------ */
/* Jobs                                                                                        */

typedef struct job {
    serve_request req;
    const xattn_prompt *cond, *uncond; /* uncond NULL = the model's null prompt */
    xattn_prompt *own_cond, *own_uncond; /* encoded for this job (cond/uncond point here), or NULL */
    float *token_scale;                /* [cond->n_tokens] or NULL */
    xattn_heatmap_params hp;
    char reweight_text[512];
    atomic_int cancel;
    int n_calls;                       /* U-Net calls of the generation (its progress's n_steps) */
    int done;                          /* under mu */
    int status;                        /* HTTP status when done */
    char *answer;                      /* JSON, malloc'd */
    struct job *next;
} job;

struct serve {
    serve_config c;
    char host[64];       /* the bound address as text */
    int port;
    int wildcard;        /* bound to 0.0.0.0 or :: */
    xattn_model *model;
    xattn_model_info info;
    char model_name[128];
    serve_prompts *prompts;
    struct MHD_Daemon *daemon;
    pthread_t worker;
    int worker_started;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    job *head, *tail;    /* waiting jobs */
    int n_waiting;
    job *running;
    int stopping;
    int step, n_steps;   /* progress of the running job */
};

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void job_free(job *j) {
    if (!j) return;
    serve_request_free(&j->req);
    xattn_prompt_free(j->own_cond);
    xattn_prompt_free(j->own_uncond);
    free(j->token_scale);
    free(j->answer);
    free(j);
}

static char *error_json(const char *msg) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void job_fail(job *j, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void job_fail(job *j, int status, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(j->answer);
    j->answer = error_json(msg);
    j->status = status;
}

/* ------------------------------------------------------------------------------------------ */
/* Running a job (worker thread)                                                               */

typedef struct progress_ctx {
    serve *s;
    job *j;
} progress_ctx;

static int on_progress(int step, int n_steps, void *user) {
    progress_ctx *p = user;
    pthread_mutex_lock(&p->s->mu);
    p->s->step = step, p->s->n_steps = n_steps;
    int stop = p->s->stopping;
    pthread_mutex_unlock(&p->s->mu);
    p->j->n_calls = n_steps; /* the worker's own job: read by info_json on the same thread */
    return stop || atomic_load(&p->j->cancel);
}

/* b64 of an encoded PNG of pixels [size, size, channels] with the text pairs; NULL on failure */
static char *png_b64(const uint8_t *pixels, size_t w, size_t h, int channels,
                     const xattn_text_pair *text, size_t n_text) {
    uint8_t *png = NULL, *with_text = NULL;
    size_t len = 0, len2 = 0;
    char *b = NULL;
    if (xattn_png_encode(pixels, w, h, channels, &png, &len, NULL) != XATTN_OK) return NULL;
    if (n_text == 0)
        b = serve_base64(png, len);
    else if (serve_png_add_text(png, len, text, n_text, &with_text, &len2) == 0)
        b = serve_base64(with_text, len2);
    free(png);
    free(with_text);
    return b;
}

static cJSON *parameters_json(const serve *s, const job *j) {
    const serve_request *r = &j->req;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "prompt", r->prompt);
    cJSON_AddStringToObject(p, "negative_prompt", r->negative);
    cJSON_AddNumberToObject(p, "seed", (double)r->seed);
    cJSON_AddNumberToObject(p, "steps", r->steps);
    cJSON_AddNumberToObject(p, "cfg_scale", r->cfg);
    cJSON_AddStringToObject(p, "sampler_name", r->sampler_name);
    cJSON_AddStringToObject(p, "scheduler", "automatic");
    cJSON_AddNumberToObject(p, "eta", r->eta);
    cJSON_AddNumberToObject(p, "batch_size", r->batch);
    cJSON_AddNumberToObject(p, "n_iter", 1);
    cJSON_AddNumberToObject(p, "width", s->info.sample_size);
    cJSON_AddNumberToObject(p, "height", s->info.sample_size);
    cJSON_AddBoolToObject(p, "heatmaps", r->heatmaps);
    cJSON *rw = cJSON_AddObjectToObject(p, "reweight");
    for (size_t k = 0; k < r->n_reweight; k++)
        cJSON_AddNumberToObject(rw, r->reweight_word[k], r->reweight_factor[k]);
    if (r->heat_layers) cJSON_AddStringToObject(p, "heat_layers", r->heat_layers);
    if (r->heat_heads) cJSON_AddStringToObject(p, "heat_heads", r->heat_heads);
    if (r->heat_steps) cJSON_AddStringToObject(p, "heat_steps", r->heat_steps);
    return p;
}

static char *info_json(const serve *s, const job *j) {
    cJSON *p = parameters_json(s, j);
    cJSON_AddStringToObject(p, "model", s->model_name);
    cJSON *seeds = cJSON_AddArrayToObject(p, "all_seeds");
    for (int k = 0; k < j->req.batch; k++) cJSON_AddItemToArray(seeds, cJSON_CreateNumber((double)j->req.seed));
    if (j->n_calls) cJSON_AddNumberToObject(p, "unet_calls", j->n_calls);
    cJSON *ig = cJSON_AddArrayToObject(p, "ignored");
    for (size_t k = 0; k < j->req.n_ignored; k++)
        cJSON_AddItemToArray(ig, cJSON_CreateString(j->req.ignored[k]));
    char sw[64];
    snprintf(sw, sizeof sw, "xattn %s", XATTN_VERSION_STRING);
    cJSON_AddStringToObject(p, "software", sw);
    char *t = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    return t;
}

/* The heatmaps of image k: one entry per word, and the safetensors file. 0 or -1. */
static int add_heatmaps(const serve *s, const job *j, const xattn_heatmaps *h, size_t k,
                        const uint8_t *rgb, cJSON *list, cJSON *files) {
    xattn_heatmaps_info hi;
    xattn_heatmaps_get_info(h, &hi);
    const xattn_word *words = xattn_heatmaps_words(h);
    const float *maps = xattn_heatmaps_word_maps(h, k);
    size_t H = hi.height, W = hi.width, hw = H * W, sc = overlay_scale(H > W ? H : W);
    uint8_t table[256][3];
    viridis_table(table);
    uint8_t *grey = malloc(hw), *over = malloc(hw * sc * sc * 3);
    float *scratch = malloc(hw * sc * sc * sizeof *scratch);
    int rc = -1;
    if (!maps || !grey || !over || !scratch) goto done;
    for (size_t w = 0; w < hi.n_words; w++) {
        const float *m = maps + w * hw;
        float lo = m[0], hi_v = m[0];
        for (size_t i = 1; i < hw; i++) lo = m[i] < lo ? m[i] : lo, hi_v = m[i] > hi_v ? m[i] : hi_v;
        for (size_t i = 0; i < hw; i++)
            grey[i] = hi_v > lo ? (uint8_t)lrintf((m[i] - lo) / (hi_v - lo) * 255.0f) : 0;
        heat_overlay(over, rgb, m, H, W, sc, table, scratch);
        char *gb = png_b64(grey, W, H, 1, NULL, 0), *ob = png_b64(over, W * sc, H * sc, 3, NULL, 0);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "word", words[w].text);
        cJSON_AddNumberToObject(e, "index", (double)w);
        cJSON_AddNumberToObject(e, "image", (double)k);
        if (gb) cJSON_AddStringToObject(e, "map", gb);
        if (ob) cJSON_AddStringToObject(e, "overlay", ob);
        cJSON_AddItemToArray(list, e);
        free(gb);
        free(ob);
        if (!gb || !ob) goto done;
    }
    /* heatmaps.safetensors as `xattn generate --heatmaps` writes it: maps [words, H, W] */
    cJSON *wl = cJSON_CreateArray();
    for (size_t w = 0; w < hi.n_words; w++) cJSON_AddItemToArray(wl, cJSON_CreateString(words[w].text));
    char *words_json = cJSON_PrintUnformatted(wl);
    cJSON_Delete(wl);
    const char *keys[] = {"words", "prompt", "model"};
    const char *vals[] = {words_json ? words_json : "[]", j->req.prompt, s->model_name};
    size_t shape[3] = {hi.n_words, H, W};
    uint8_t *st = NULL;
    size_t st_len = 0;
    if (serve_safetensors_f32("maps", shape, 3, maps, keys, vals, 3, &st, &st_len) == 0) {
        char *b = serve_base64(st, st_len);
        if (b) cJSON_AddItemToArray(files, cJSON_CreateString(b));
        free(b);
    }
    free(st);
    free(words_json);
    rc = 0;
done:
    free(grey);
    free(over);
    free(scratch);
    return rc;
}

static void run_job(serve *s, job *j) {
    const serve_request *r = &j->req;
    size_t size = (size_t)s->info.sample_size, plane = size * size;
    int C = s->info.out_channels;
    float *images = malloc((size_t)r->batch * (size_t)C * plane * sizeof *images);
    uint8_t *rgb = malloc(plane * 3);
    xattn_heatmaps *h = NULL;
    xattn_error err = {0};
    cJSON *root = NULL;
    if (!images || !rgb) {
        job_fail(j, 500, "server: out of memory");
        goto done;
    }
    xattn_generate_params p;
    xattn_generate_params_init(&p);
    p.seed = r->seed, p.steps = r->steps, p.cfg = r->cfg, p.sampler = r->sampler, p.eta = r->eta;
    p.karras = r->karras;
    p.batch = r->batch, p.threads = s->c.threads, p.token_scale = j->token_scale;
    progress_ctx pc = {s, j};
    p.progress = on_progress, p.progress_user = &pc;
    if (r->heatmaps) {
        if (xattn_heatmaps_new(s->model, j->cond, &j->hp, &h, &err) != XATTN_OK) {
            job_fail(j, 400, "heatmaps: %s", err.msg);
            goto done;
        }
        p.heatmaps = h;
    }
    xattn_status st = xattn_generate(s->model, j->cond, j->uncond, &p, images, &err);
    if (st == XATTN_ERR_CANCELLED) {
        pthread_mutex_lock(&s->mu);
        int stopping = s->stopping;
        pthread_mutex_unlock(&s->mu);
        job_fail(j, stopping ? 503 : 499, "server: %s", stopping ? "shutting down" : "cancelled");
        goto done;
    }
    if (st != XATTN_OK) {
        job_fail(j, st == XATTN_ERR_VALUE ? 400 : 500, "%s", err.msg);
        goto done;
    }
    root = cJSON_CreateObject();
    cJSON *imgs = cJSON_AddArrayToObject(root, "images");
    cJSON *hl = r->heatmaps ? cJSON_AddArrayToObject(root, "heatmaps") : NULL;
    cJSON *hf = r->heatmaps ? cJSON_AddArrayToObject(root, "heatmaps_safetensors") : NULL;
    for (int k = 0; k < r->batch; k++) {
        xattn_image_to_rgb8(images + (size_t)k * (size_t)C * plane, C, size, size, rgb);
        sampling_text t;
        char index[16], batch[16];
        sampling_text_init(&t);
        sampling_text_add(&t, "prompt", r->prompt);
        if (r->negative[0]) sampling_text_add(&t, "negative", r->negative);
        sampling_text_params(&t, s->c.model_dir, &p, 1);
        if (r->n_reweight) sampling_text_add(&t, "reweight", j->reweight_text);
        if (r->batch > 1) {
            snprintf(index, sizeof index, "%d", k);
            snprintf(batch, sizeof batch, "%d", r->batch);
            sampling_text_add(&t, "index", index);
            sampling_text_add(&t, "batch", batch);
        }
        sampling_text_software(&t);
        char *b = png_b64(rgb, size, size, 3, t.pairs, t.n);
        if (!b) {
            job_fail(j, 500, "server: cannot encode the PNG");
            goto done;
        }
        cJSON_AddItemToArray(imgs, cJSON_CreateString(b));
        free(b);
        if (h && add_heatmaps(s, j, h, (size_t)k, rgb, hl, hf) != 0) {
            job_fail(j, 500, "server: cannot encode the heatmaps");
            goto done;
        }
    }
    cJSON_AddItemToObject(root, "parameters", parameters_json(s, j));
    char *info = info_json(s, j);
    cJSON_AddStringToObject(root, "info", info ? info : "{}");
    free(info);
    free(j->answer);
    j->answer = cJSON_PrintUnformatted(root);
    j->status = j->answer ? 200 : 500;
    if (!j->answer) job_fail(j, 500, "server: out of memory");
done:
    cJSON_Delete(root);
    xattn_heatmaps_free(h);
    free(images);
    free(rgb);
}

static void *worker_main(void *arg) {
    serve *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping) pthread_cond_wait(&s->work, &s->mu);
        if (s->stopping) break;
        job *j = s->head;
        s->head = j->next;
        if (!s->head) s->tail = NULL;
        s->n_waiting--;
        s->running = j;
        s->step = 0, s->n_steps = j->req.steps;
        pthread_mutex_unlock(&s->mu);
        run_job(s, j);
        pthread_mutex_lock(&s->mu);
        s->running = NULL;
        s->step = s->n_steps = 0;
        j->done = 1;
        pthread_cond_broadcast(&s->done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP                                                                                        */

typedef struct req_ctx {
    double start;
    char method[12];
    char path[104];
    int status;
    char *body;          /* [len], the upload so far */
    size_t len;
    size_t discarded;    /* bytes of an over-long body thrown away */
    int responded;
} req_ctx;

static enum MHD_Result respond(struct MHD_Connection *c, req_ctx *r, const serve *s, int status,
                               const char *type, char *body, size_t len, const char *allow) {
    r->status = status;
    r->responded = 1;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body ? body : (char *)"",
                                        !body || body == (const char *)serve_page_html
                                            ? MHD_RESPMEM_PERSISTENT
                                            : MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (allow) MHD_add_response_header(resp, "Allow", allow);
    if (status == 429) MHD_add_response_header(resp, "Retry-After", "1");
    if (s->c.cors) {
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        if (origin && strcmp(origin, s->c.cors) == 0) {
            MHD_add_response_header(resp, "Access-Control-Allow-Origin", s->c.cors);
            MHD_add_response_header(resp, "Vary", "Origin");
        }
    }
    if (strncmp(type, "text/html", 9) == 0) /* the page loads nothing from anywhere */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; script-src 'unsafe-inline'; "
                                "style-src 'unsafe-inline'; img-src data: blob:; "
                                "connect-src 'self'; base-uri 'none'; form-action 'none'");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result respond_json(struct MHD_Connection *c, req_ctx *r, const serve *s,
                                    int status, char *json) {
    if (!json) return respond(c, r, s, 500, "application/json", NULL, 0, NULL);
    return respond(c, r, s, status, "application/json", json, strlen(json), NULL);
}

static enum MHD_Result respond_error(struct MHD_Connection *c, req_ctx *r, const serve *s,
                                     int status, const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static enum MHD_Result respond_error(struct MHD_Connection *c, req_ctx *r, const serve *s,
                                     int status, const char *allow, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *j = error_json(msg);
    if (!j) return MHD_NO;
    return respond(c, r, s, status, "application/json", j, strlen(j), allow);
}

/* "host" or "host:port" or "[v6]:port": 1 when it names this server. */
static int host_allowed(const serve *s, const char *h) {
    char name[256];
    const char *port = NULL;
    size_t n;
    if (h[0] == '[') {
        const char *close = strchr(h, ']');
        if (!close) return 0;
        n = (size_t)(close - h - 1);
        if (close[1] == ':') port = close + 2;
        else if (close[1]) return 0;
        h++;
    } else {
        const char *colon = strchr(h, ':');
        n = colon ? (size_t)(colon - h) : strlen(h);
        if (colon) port = colon + 1;
    }
    if (n == 0 || n >= sizeof name) return 0;
    memcpy(name, h, n);
    name[n] = '\0';
    if (port) {
        char *end;
        errno = 0;
        long p = strtol(port, &end, 10);
        if (*port == '\0' || *end || errno || p != s->port) return 0;
    } else if (s->port != 80) {
        return 0;
    }
    if (strcasecmp(name, "localhost") == 0 || strcmp(name, "127.0.0.1") == 0 ||
        strcmp(name, "::1") == 0 || strcmp(name, s->host) == 0)
        return 1;
    if (s->wildcard) { /* any address literal names a wildcard-bound server (no DNS name can) */
        unsigned char buf[16];
        return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
    }
    return 0;
}

/* The request's own Origin: "http://" + its (checked) Host. */
static int origin_allowed(const serve *s, const char *origin, const char *host) {
    if (s->c.cors && strcmp(origin, s->c.cors) == 0) return 1;
    return strncmp(origin, "http://", 7) == 0 && strcmp(origin + 7, host) == 0;
}

enum route { R_NONE, R_PAGE, R_HEALTH, R_TXT2IMG, R_PROGRESS, R_MODELS, R_SAMPLERS, R_PROMPTS };

static enum route find_route(const char *url) {
    static const struct { const char *path; enum route r; } routes[] = {
        {"/", R_PAGE}, {"/healthz", R_HEALTH}, {"/sdapi/v1/txt2img", R_TXT2IMG},
        {"/sdapi/v1/progress", R_PROGRESS}, {"/sdapi/v1/sd-models", R_MODELS},
        {"/sdapi/v1/samplers", R_SAMPLERS}, {"/xattn/v1/prompts", R_PROMPTS},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(url, routes[i].path) == 0) return routes[i].r;
    return R_NONE;
}

static char *health_json(serve *s) {
    cJSON *o = cJSON_CreateObject();
    pthread_mutex_lock(&s->mu);
    int waiting = s->n_waiting, running = s->running != NULL;
    pthread_mutex_unlock(&s->mu);
    cJSON_AddStringToObject(o, "status", "ok");
    cJSON_AddStringToObject(o, "model", s->model_name);
    cJSON_AddNumberToObject(o, "size", s->info.sample_size);
    cJSON_AddNumberToObject(o, "running", running);
    cJSON_AddNumberToObject(o, "queued", waiting);
    cJSON_AddNumberToObject(o, "queue", s->c.queue);
    cJSON_AddNumberToObject(o, "prompts", (double)serve_prompts_count(s->prompts));
    cJSON_AddBoolToObject(o, "encoder", serve_prompts_has_encoder(s->prompts));
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return t;
}

static char *progress_json(serve *s) {
    pthread_mutex_lock(&s->mu);
    int step = s->step, n = s->n_steps, jobs = s->n_waiting + (s->running != NULL);
    pthread_mutex_unlock(&s->mu);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "progress", n > 0 ? (double)step / n : 0.0);
    cJSON_AddNumberToObject(o, "eta_relative", 0);
    cJSON *st = cJSON_AddObjectToObject(o, "state");
    cJSON_AddBoolToObject(st, "skipped", 0);
    cJSON_AddBoolToObject(st, "interrupted", 0);
    cJSON_AddStringToObject(st, "job", jobs ? "txt2img" : "");
    cJSON_AddNumberToObject(st, "job_count", jobs);
    cJSON_AddNumberToObject(st, "sampling_step", step);
    cJSON_AddNumberToObject(st, "sampling_steps", n);
    cJSON_AddNullToObject(o, "current_image");
    cJSON_AddNullToObject(o, "textinfo");
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return t;
}

static char *models_json(const serve *s) {
    cJSON *a = cJSON_CreateArray(), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "title", s->model_name);
    cJSON_AddStringToObject(m, "model_name", s->model_name);
    cJSON_AddNullToObject(m, "hash");
    cJSON_AddNullToObject(m, "sha256");
    cJSON_AddStringToObject(m, "filename", s->model_name); /* a name, never a server path */
    cJSON_AddNullToObject(m, "config");
    cJSON_AddNumberToObject(m, "size", s->info.sample_size);
    cJSON_AddItemToArray(a, m);
    char *t = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return t;
}

/* A1111's /sdapi/v1/samplers: every name of the library's table, with xattn's own as alias */
static char *samplers_json(void) {
    cJSON *a = cJSON_CreateArray();
    const xattn_sampler_alias *al;
    for (size_t i = 0; (al = xattn_sampler_alias_at(i)) != NULL; i++) {
        if (al->kind == XATTN_SAMPLER_MODEL) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", al->name);
        cJSON *names = cJSON_AddArrayToObject(o, "aliases");
        cJSON_AddItemToArray(names, cJSON_CreateString(xattn_sampler_name(al->kind)));
        cJSON *opt = cJSON_AddObjectToObject(o, "options");
        if (al->karras) cJSON_AddStringToObject(opt, "scheduler", "karras");
        cJSON_AddItemToArray(a, o);
    }
    char *t = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return t;
}

static char *prompts_json(const serve *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(o, "prompts");
    for (size_t i = 0; i < serve_prompts_count(s->prompts); i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(serve_prompts_text(s->prompts, i)));
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return t;
}

/* The request's checks against the model and prompts, done before it queues. 0, or an HTTP
 * status with j->answer set. */
static int prepare_job(serve *s, job *j) {
    serve_request *r = &j->req;
    if (!r->prompt[0]) {
        job_fail(j, 400, "prompt: empty");
        return 400;
    }
    xattn_error err = {0};
    if (serve_prompts_get(s->prompts, r->prompt, &j->cond, &j->own_cond, &err) != 0) {
        job_fail(j, 400, "prompt: %s", err.msg);
        return 400;
    }
    if (r->negative[0] &&
        serve_prompts_get(s->prompts, r->negative, &j->uncond, &j->own_uncond, &err) != 0) {
        job_fail(j, 400, "negative_prompt: %s", err.msg);
        return 400;
    }
    if (!j->uncond && r->cfg > 1.0f && !s->info.has_null_prompt) {
        job_fail(j, 400, "cfg_scale: above 1 needs a negative_prompt (the model has no null prompt)");
        return 400;
    }
    if (r->n_reweight) {
        xattn_word *words = NULL;
        size_t n_words = 0;
        if (xattn_prompt_words(j->cond, &words, &n_words, &err) != XATTN_OK) {
            job_fail(j, 400, "reweight: %s", err.msg);
            return 400;
        }
        j->token_scale = malloc(j->cond->n_tokens * sizeof *j->token_scale);
        if (!j->token_scale) {
            xattn_words_free(words, n_words);
            job_fail(j, 500, "server: out of memory");
            return 500;
        }
        for (size_t t = 0; t < j->cond->n_tokens; t++) j->token_scale[t] = 1.0f;
        size_t used = 0;
        for (size_t k = 0; k < r->n_reweight; k++) {
            int found = 0;
            for (size_t w = 0; w < n_words; w++) {
                if (strcasecmp(words[w].text, r->reweight_word[k]) != 0) continue;
                found = 1;
                for (size_t t = 0; t < words[w].n_tokens; t++)
                    j->token_scale[words[w].first_token + t] = r->reweight_factor[k];
            }
            if (!found) {
                xattn_words_free(words, n_words);
                job_fail(j, 400, "reweight: '%s' is not a word of the prompt", r->reweight_word[k]);
                return 400;
            }
            int m = snprintf(j->reweight_text + used, sizeof j->reweight_text - used, "%s%s=%g",
                             k ? "," : "", r->reweight_word[k], (double)r->reweight_factor[k]);
            if (m > 0 && (size_t)m < sizeof j->reweight_text - used) used += (size_t)m;
        }
        xattn_words_free(words, n_words);
    }
    xattn_heatmap_params_init(&j->hp);
    if (r->heat_layers &&
        xattn_heatmap_parse_layers(s->model, r->heat_layers, &j->hp.layers, &err) != XATTN_OK) {
        job_fail(j, 400, "heat_layers: %s", err.msg);
        return 400;
    }
    if (r->heat_heads &&
        xattn_heatmap_parse_heads(s->model, r->heat_heads, &j->hp.heads, &err) != XATTN_OK) {
        job_fail(j, 400, "heat_heads: %s", err.msg);
        return 400;
    }
    if (r->heat_steps &&
        xattn_heatmap_parse_steps(r->heat_steps, &j->hp.step_begin, &j->hp.step_end, &err) != XATTN_OK) {
        job_fail(j, 400, "heat_steps: %s", err.msg);
        return 400;
    }
    if (r->seed_random) {
        uint32_t seed = 0;
        if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) seed = (uint32_t)time(NULL);
        r->seed = seed;
        r->seed_random = 0;
    }
    return 0;
}

/* 1 when the client's socket is closed (it went away). */
static int client_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 0;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return 1;
    if (p.revents & POLLIN) {
        char b;
        ssize_t n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0;
    }
    return 0;
}

static enum MHD_Result handle_txt2img(serve *s, struct MHD_Connection *c, req_ctx *r) {
    job *j = calloc(1, sizeof *j);
    if (!j) return respond_error(c, r, s, 500, NULL, "server: out of memory");
    char err[SERVE_ERROR_LEN];
    if (serve_request_parse(r->body ? r->body : "", r->len, &s->info, &j->req, err) != 0) {
        job_free(j);
        return respond_error(c, r, s, 400, NULL, "%s", err);
    }
    int status = prepare_job(s, j);
    if (status) {
        char *a = j->answer;
        j->answer = NULL;
        job_free(j);
        return respond_json(c, r, s, status, a);
    }
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        job_free(j);
        return respond_error(c, r, s, 503, NULL, "server: shutting down");
    }
    if (s->n_waiting >= s->c.queue) {
        int q = s->c.queue;
        pthread_mutex_unlock(&s->mu);
        job_free(j);
        return respond_error(c, r, s, 429, NULL, "queue: full (%d waiting); retry later", q);
    }
    if (s->tail) s->tail->next = j;
    else s->head = j;
    s->tail = j;
    s->n_waiting++;
    pthread_cond_signal(&s->work);
    while (!j->done) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->done, &s->mu, &until);
        if (j->done) break;
        if (s->stopping || client_gone(c)) {
            int stopping = s->stopping;
            atomic_store(&j->cancel, 1);
            /* still waiting: take it out of the queue; running: the worker stops at its next step */
            job **pp = &s->head, *prev = NULL;
            while (*pp && *pp != j) prev = *pp, pp = &(*pp)->next;
            if (*pp == j) {
                *pp = j->next;
                if (s->tail == j) s->tail = prev;
                s->n_waiting--;
                j->done = 1;
                job_fail(j, stopping ? 503 : 499, "server: %s", stopping ? "shutting down" : "cancelled");
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    char *a = j->answer;
    status = j->status;
    j->answer = NULL;
    job_free(j);
    return respond_json(c, r, s, status, a);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    serve *s = cls;
    req_ctx *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        *con_cls = r;
        r->start = now_ms();
        snprintf(r->method, sizeof r->method, "%s", method);
        size_t i = 0;
        for (; url[i] && i < sizeof r->path - 4; i++)
            r->path[i] = (url[i] > 0x20 && url[i] < 0x7f) ? url[i] : '?';
        if (url[i]) memcpy(r->path + i, "...", 3), i += 3;
        r->path[i] = '\0';

        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
        if (!host || !host_allowed(s, host))
            return respond_error(c, r, s, 403, NULL,
                                 "Host: not this server's address (use http://127.0.0.1:%d/)", s->port);
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        if (origin && !origin_allowed(s, origin, host))
            return respond_error(c, r, s, 403, NULL, "Origin: cross-site requests are refused%s",
                                 s->c.cors ? " (not the --cors origin)" : " (see --cors)");
        enum route rt = find_route(url);
        int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        if (rt == R_NONE) return respond_error(c, r, s, 404, NULL, "path: no such resource");
        if (rt == R_TXT2IMG) {
            if (strcmp(method, "OPTIONS") == 0 && s->c.cors && origin) { /* CORS preflight */
                r->status = 204;
                struct MHD_Response *resp = MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
                if (!resp) return MHD_NO;
                MHD_add_response_header(resp, "Access-Control-Allow-Origin", s->c.cors);
                MHD_add_response_header(resp, "Access-Control-Allow-Methods", "POST, GET");
                MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Content-Type");
                MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
                MHD_add_response_header(resp, "Vary", "Origin");
                r->responded = 1;
                enum MHD_Result ok = MHD_queue_response(c, 204, resp);
                MHD_destroy_response(resp);
                return ok;
            }
            if (strcmp(method, "POST") != 0)
                return respond_error(c, r, s, 405, "POST", "method: %s is not allowed here (POST)", r->method);
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
            if (cl && strtoull(cl, NULL, 10) > SERVE_MAX_BODY)
                return respond_error(c, r, s, 413, NULL, "body: over the cap of %d bytes", SERVE_MAX_BODY);
            return MHD_YES; /* the body follows */
        }
        if (!is_get)
            return respond_error(c, r, s, 405, "GET, HEAD", "method: %s is not allowed here (GET)",
                                 r->method);
        switch (rt) {
        case R_PAGE:
            return respond(c, r, s, 200, "text/html; charset=utf-8", (char *)serve_page_html,
                           serve_page_html_len, NULL) == MHD_YES ? MHD_YES : MHD_NO;
        case R_HEALTH: return respond_json(c, r, s, 200, health_json(s));
        case R_PROGRESS: return respond_json(c, r, s, 200, progress_json(s));
        case R_MODELS: return respond_json(c, r, s, 200, models_json(s));
        case R_SAMPLERS: return respond_json(c, r, s, 200, samplers_json());
        case R_PROMPTS: return respond_json(c, r, s, 200, prompts_json(s));
        default: return respond_error(c, r, s, 404, NULL, "path: no such resource");
        }
    }
    if (r->responded) { /* answered early (403, 413, ...): drop whatever else arrives */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->discarded || r->len + n > SERVE_MAX_BODY) {
            /* over the cap: throw the rest away and answer 413 at its end; a body that keeps
             * coming past 1 MiB more is cut off by closing the connection */
            r->discarded += n;
            r->status = 413;
            free(r->body);
            r->body = NULL;
            r->len = 0;
            return r->discarded > (1u << 20) ? MHD_NO : MHD_YES;
        }
        char *grown = realloc(r->body, r->len + n);
        if (!grown) return MHD_NO;
        memcpy(grown + r->len, upload_data, n);
        r->body = grown;
        r->len += n;
        return MHD_YES;
    }
    if (r->discarded)
        return respond_error(c, r, s, 413, NULL, "body: over the cap of %d bytes", SERVE_MAX_BODY);
    return handle_txt2img(s, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    serve *s = cls;
    req_ctx *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    if (!s->c.quiet) {
        char line[256];
        int status = r->status ? r->status : 0;
        snprintf(line, sizeof line, "xattn serve: %s %s %d %.0f ms%s\n", r->method, r->path, status,
                 now_ms() - r->start, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed)");
        fputs(line, stderr);
    }
    free(r->body);
    free(r);
}

/* ------------------------------------------------------------------------------------------ */
/* Start and stop                                                                              */

int serve_port(const serve *s) { return s->port; }

void serve_stop(serve *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    if (s->running) atomic_store(&s->running->cancel, 1);
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
    if (s->daemon) MHD_stop_daemon(s->daemon); /* waits for every connection's thread */
    if (s->worker_started) pthread_join(s->worker, NULL);
    serve_prompts_free(s->prompts);
    xattn_model_free(s->model);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->done);
    free(s);
}

int serve_start(const serve_config *c, serve **out, char *err) {
    *out = NULL;
    serve *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, 512, "serve: out of memory");
        return -1;
    }
    s->c = *c;
    if (!s->c.host) s->c.host = "127.0.0.1";
    if (s->c.queue < 1) s->c.queue = SERVE_DEFAULT_QUEUE;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->done, NULL);

    /* the address: a literal, or localhost */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    const char *lookup = strcmp(s->c.host, "localhost") == 0 ? "127.0.0.1" : s->c.host;
    hints.ai_flags |= AI_NUMERICHOST;
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", c->port);
    if (getaddrinfo(lookup, port_text, &hints, &ai) != 0 || !ai) {
        snprintf(err, 512, "--host: '%.100s' is not an IPv4 or IPv6 address", s->c.host);
        goto fail;
    }
    if (inet_ntop(ai->ai_family,
                  ai->ai_family == AF_INET6 ? (void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                                            : (void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr,
                  s->host, sizeof s->host) == NULL)
        snprintf(s->host, sizeof s->host, "%s", lookup);
    s->wildcard = strcmp(s->host, "0.0.0.0") == 0 || strcmp(s->host, "::") == 0;

    xattn_error xe = {0};
    if (xattn_model_load(c->model_dir, &s->model, &xe) != XATTN_OK) {
        snprintf(err, 512, "%s", xe.msg);
        freeaddrinfo(ai);
        goto fail;
    }
    xattn_model_get_info(s->model, &s->info);
    if ((s->info.out_channels != 1 && s->info.out_channels != 3) || s->info.sample_size <= 0 ||
        s->info.sample_size > 1024) {
        snprintf(err, 512, "%s: a model drawing 1 or 3 channels at 1..1024 pixels is needed", c->model_dir);
        freeaddrinfo(ai);
        goto fail;
    }
    {
        const char *m = c->model_dir;
        size_t n = strlen(m);
        while (n > 1 && m[n - 1] == '/') n--;
        const char *b = m + n;
        while (b > m && b[-1] != '/') b--;
        snprintf(s->model_name, sizeof s->model_name, "%.*s", (int)(m + n - b), b);
    }
    if (serve_prompts_load(c->prompts_dir, c->model_dir, (size_t)s->info.cross_attention_dim,
                           &s->prompts, &xe) != 0) {
        snprintf(err, 512, "%s", xe.msg);
        freeaddrinfo(ai);
        goto fail;
    }
    if (pthread_create(&s->worker, NULL, worker_main, s) != 0) {
        snprintf(err, 512, "serve: cannot start the worker thread");
        freeaddrinfo(ai);
        goto fail;
    }
    s->worker_started = 1;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, (uint16_t)c->port, NULL, NULL, on_request, s,
                                 MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVE_MAX_CONNECTIONS,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVE_TIMEOUT_S,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->daemon) {
        snprintf(err, 512, "--port: cannot listen on %s port %d (in use, or not allowed)", s->host, c->port);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : c->port;
    *out = s;
    return 0;
fail:
    serve_stop(s);
    return -1;
}
