/* xattn_serve.h — `xattn serve`: an HTTP server over libxattn on libmicrohttpd (docs/serve.md).
 *
 * One model and its prompts are loaded once; generation runs on one worker thread fed by a
 * bounded queue; every connection has its own thread (up to SERVE_MAX_CONNECTIONS), so a slow
 * client never holds up another. The functions here never print except the one log line per
 * request (and the warnings serve_start returns to its caller). */
#ifndef XATTN_SERVE_H
#define XATTN_SERVE_H

#include <stddef.h>

#define SERVE_DEFAULT_PORT 7860    /* AUTOMATIC1111's, so its clients find the server */
#define SERVE_DEFAULT_QUEUE 4
#define SERVE_MAX_CONNECTIONS 32
#define SERVE_TIMEOUT_S 15         /* a connection idle this long is closed */

typedef struct serve_config {
    const char *model_dir;   /* required */
    const char *prompts_dir; /* prompt-embedding files a request's text is looked up in, or NULL */
    const char *host;        /* an IPv4/IPv6 literal or "localhost"; NULL = 127.0.0.1 */
    int port;                /* 0 = any free port (see serve_port) */
    int threads;             /* generation threads, 0 = one per core */
    int queue;               /* jobs that may wait behind the running one */
    const char *cors;        /* an origin allowed besides the server's own, or NULL */
    int quiet;               /* no request log */
} serve_config;

typedef struct serve serve;

/* Loads the model and prompts and starts listening. On failure returns -1 with one line
 * "<file or option>: <what is wrong>" in err[512]. */
int serve_start(const serve_config *c, serve **out, char *err);
/* The port it listens on. */
int serve_port(const serve *s);
/* Stops: refuses new requests, cancels the running job, answers waiting ones 503, closes every
 * connection, and frees everything. */
void serve_stop(serve *s);

#endif
