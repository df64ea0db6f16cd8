/* serve.h — `natter serve`: an OpenAI-compatible HTTP server over the local engine.
 *
 * libmicrohttpd (Debian's) speaks HTTP, one thread per connection; one worker thread owns the
 * model and answers one request at a time through the app's one generation loop (conv/gen.h:
 * gen_run over gen_local), so an answer here samples exactly the tokens the chat would with
 * the same model, prompt, parameters and seed. Endpoints:
 *   POST /v1/chat/completions  messages through the model's chat template; stream or not;
 *                              logprobs/top_logprobs
 *   POST /v1/completions       a raw prompt; stream or not; logprobs N
 *   GET  /v1/models            the one model
 *   GET  /health               {"status": "ok", "requests_running": 0|1, "requests_waiting": N}
 *                              (no key needed)
 * Prompt-prefix reuse: the worker keeps the KV cache of the last request and evaluates only
 * what follows the longest common prefix of its tokens (usage.prompt_tokens_details.
 * cached_tokens says how many were reused). The logits do not depend on that split (the
 * engine's rule), so neither do the answers.
 * Limits: at most queue_max requests wait behind the running one (503 beyond, and for every
 * waiting request once the server shuts down); a body over max_body bytes gets 413; an idle
 * connection (a slow client) is closed after timeout seconds. With an API key, every endpoint
 * but /health wants "Authorization: Bearer KEY" (401 otherwise). Errors are OpenAI-style JSON:
 *   {"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": ...}}
 * Each request is logged to stderr on one line, the client's text escaped. */
#ifndef NATTER_SERVE_H
#define NATTER_SERVE_H

#include "natter.h"
#include "conv/params.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct serve_opts {
    const char *host;       /* address to bind (borrowed): "127.0.0.1" by default */
    int port;               /* 0: a free port (serve_port says which) */
    const char *api_key;    /* borrowed; NULL or "": no key */
    const char *model_id;   /* the model's name in /v1/models and requests (borrowed) */
    int queue_max;          /* requests waiting behind the running one */
    size_t max_body;        /* bytes of a request body */
    int timeout;            /* seconds a connection may stay idle */
    param_values defaults;  /* sampling parameters a request does not set */
    bool quiet;             /* no request log */
    const char *version;    /* natter's version (borrowed): with the model's content hash, the
                               system_fingerprint of every answer */
} serve_opts;

typedef struct serve serve;

/* Starts the worker and the HTTP daemon over m (borrowed: it must outlive the server; the
 * server uses it from its worker thread only). NT_OK, or an error with err filled (address in
 * use, bad host, out of memory). */
int serve_start(serve **out, nt_model *m, const serve_opts *o, nt_err *err);
/* The port it listens on. */
int serve_port(const serve *s);
/* Stops taking requests: no new connection is accepted, every waiting request is answered
 * 503; the running one goes on. Idempotent. */
void serve_shutdown(serve *s);
/* Cancels the running request: its answer ends where it stands (finish_reason "stop"). */
void serve_cancel(serve *s);
/* True when no request runs or waits. */
bool serve_idle(serve *s);
/* Stops the daemon (joining its threads) and the worker; accepts NULL. */
void serve_free(serve *s);

#endif
