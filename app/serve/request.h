/* request.h — the body of an OpenAI-style request to `natter serve`, read and checked.
 *
 * POST /v1/chat/completions and POST /v1/completions carry a JSON object. This module turns it
 * into a serve_req, or says in one sentence what is wrong with it (the HTTP status goes with
 * the message: 400 for a malformed or invalid request). It knows no model and no HTTP: the
 * server (serve.h) formats and tokenizes the result, and the fuzz target (fuzz/fuzz_serve.c)
 * feeds it anything.
 *
 * Fields read (others are ignored, as OpenAI-compatible servers do):
 *   model                     string (the server checks it names its model)
 *   messages                  chat: [{role, content}], role system|developer|user|assistant,
 *                             content a string or [{type: "text", text}] parts (or null for
 *                             an assistant); a system message only first
 *   prompt                    completions: a string, or an array of one string
 *   stream                    bool; stream_options.include_usage bool
 *   logprobs, top_logprobs    chat: bool and 0..SERVE_MAX_TOP; completions: logprobs 0..SERVE_MAX_TOP
 *   stop                      a string or an array of at most SERVE_MAX_STOP strings
 *   n                         1 only
 *   every sampling parameter of app/conv/params.h under its persona spelling (temperature,
 *   top_p, top_k, min_p, repeat_penalty, presence_penalty, frequency_penalty, seed,
 *   max_tokens, ...), with the ranges of that table; max_completion_tokens is max_tokens.
 *   null stands for "not given" everywhere. */
#ifndef NATTER_SERVE_REQUEST_H
#define NATTER_SERVE_REQUEST_H

#include "natter.h"
#include "conv/gen.h"
#include "conv/params.h"

#include <stdbool.h>
#include <stddef.h>

#define SERVE_MAX_STOP (GEN_MAX_STOP - 1) /* the template's own takes the last slot */
#define SERVE_MAX_TOP 20                  /* top_logprobs, as OpenAI caps it */
#define SERVE_MAX_MESSAGES 4096

enum serve_kind { SERVE_CHAT, SERVE_COMPLETION };

typedef struct serve_msg {
    enum nt_chat_role role;
    char *content; /* owned, NUL-terminated ("" when none) */
} serve_msg;

typedef struct serve_req {
    enum serve_kind kind;
    char *model;             /* owned; NULL when not given */
    serve_msg *msgs;         /* chat: (n_msgs) owned */
    size_t n_msgs;
    char *prompt;            /* completions: owned */
    size_t prompt_len;
    param_values params;     /* the server's defaults with the request's fields over them */
    unsigned params_given;   /* bits 1u << PARAM_ID of the fields the request set */
    bool stream, include_usage;
    bool logprobs;
    int top_logprobs;        /* 0..SERVE_MAX_TOP */
    char *stop[SERVE_MAX_STOP]; /* owned, 1..GEN_STOP_LEN-1 bytes each */
    size_t n_stop;
} serve_req;

/* Reads body[0..n) as a request of kind over defaults (copied into out->params). NT_OK, or
 * NT_ERR_INVALID (bad request: err->msg says why, naming the field) or NT_ERR_NOMEM; out is
 * then freed. */
int serve_req_parse(enum serve_kind kind, const char *body, size_t n, const param_values *defaults,
                    serve_req *out, nt_err *err);
void serve_req_free(serve_req *r); /* accepts a zeroed or freed r */

#endif
