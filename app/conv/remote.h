/* remote.h — a remote backend: answers from an OpenAI-compatible server (vLLM, llama.cpp's
 * server, Ollama, SGLang, a hosted API) as a source of the generation loop (gen.h).
 *
 * One remote holds the server's base URL (".../v1"), the model name, the API key (read once
 * from the environment variable the configuration names; it lives only in this process's
 * memory and in the Authorization header, never in a message, a file or a session) and a
 * libcurl handle. An answer is one streamed request: remote_start sends `POST {base}/chat/
 * completions` with `stream: true` (or `POST {base}/completions` for a prompt text, which is
 * how an answer continues with new settings) and waits for the first piece of text, as a local
 * model evaluates its prompt before the first token; then remote_source hands the pieces to
 * gen_run one by one. The Server-Sent Events are framed by util/sse.h and each event's JSON
 * read with jansson.
 *
 * How text becomes tokens for gen_run: the source has a vocabulary of two, REMOTE_TOK_TEXT
 * ("the next piece of text the server sent") and REMOTE_TOK_END ("the server ended the
 * answer"), and its logits have exactly one finite entry, so the sampler only takes its one
 * draw and the loop's stop filter, max tokens, hooks and end reasons apply unchanged. One
 * piece is one server event (one token on the servers above). The reason the server gave
 * for ending (finish_reason "length") comes back through the source's eog_end.
 *
 * Cancelling: the caller's cancel function (remote_set_cancel) is polled at least every 50 ms
 * while waiting for the network (and by libcurl's progress callback), so Esc ends a wait at
 * once. Limits: connect timeout, idle-stream timeout (no byte for that long), a cap on one
 * event's size and on the answer's. Every failure has one message naming the server and what
 * happened (connection refused, DNS, TLS, 401/403, 404, 429 with Retry-After, 5xx, a stream
 * cut mid-answer, a malformed or oversized event); text received before a failure has been
 * handed out and stays with the answer.
 *
 * Thread rules: a remote belongs to one thread at a time (the worker's while it answers). */
#ifndef NATTER_APP_REMOTE_H
#define NATTER_APP_REMOTE_H

#include "natter.h"
#include "gen.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REMOTE_KEY_ENV "OPENAI_API_KEY" /* the API key's variable unless configured */
#define REMOTE_TOK_TEXT 0
#define REMOTE_TOK_END 1

/* A piece's candidates as the server reported them: the top_logprobs of the piece's first
 * token, likeliest first, under the server's model distribution. */
typedef struct remote_cands {
    int n;                                  /* 0: the server sent none for this piece */
    float p[GEN_N_CAND];                    /* probabilities (exp of the logprobs) */
    char text[GEN_N_CAND][GEN_CAND_TEXT];   /* the tokens' text, cut at a character's end;
                                               as the server sent it: untrusted bytes */
} remote_cands;

typedef struct remote_cfg {
    const char *base;          /* "http://host:port/v1" (copied) */
    const char *model;         /* model name the server knows (copied); NULL/"": none sent */
    const char *key_env;       /* variable holding the API key; NULL: REMOTE_KEY_ENV */
    long connect_ms;           /* connect timeout; 0: 10 s */
    long idle_ms;              /* no byte from the server for this long ends it; 0: 120 s */
    size_t max_event;          /* bytes of one event; 0: 1 MiB */
    size_t max_answer;         /* bytes of one answer's text; 0: 8 MiB */
    int family;                /* chat template for continuations (enum nt_chat_family);
                                  -1: ask the server (llama.cpp's /props) when needed */
} remote_cfg;

typedef struct remote remote;

/* Copies cfg's strings; reads the API key from the environment now (an unset or empty
 * variable: no Authorization header). NT_ERR_INVALID for a base URL that is not http(s);
 * NT_ERR_NOMEM. */
int remote_init(remote **out, const remote_cfg *cfg, nt_err *err);
void remote_free(remote *r); /* accepts NULL */
/* The rule for an API base, wherever one is given (remote_init, the config file, a persona):
 * http:// or https://, and a URL libcurl can parse. NT_OK, or NT_ERR_INVALID with the reason
 * in err, worded to follow the base's name ("must be an http:// or https:// URL (e.g. ...)",
 * "is not a valid URL (curl's reason)"); the URL itself is never quoted: a key may hide in it. */
int remote_check_base(const char *base, nt_err *err);

const char *remote_model(const remote *r);       /* "" when none; borrowed */
int remote_set_model(remote *r, const char *model); /* NT_OK or NT_ERR_NOMEM */
/* The base URL without user, password or query (what sessions and messages show). Borrowed. */
const char *remote_base(const remote *r);
/* What the last answer's server reported: "model" and "system_fingerprint" ("" when not
 * given). Borrowed until the next remote_start. */
const char *remote_served_model(const remote *r);
const char *remote_fingerprint(const remote *r);
/* The name of the variable the API key is read from (messages name it). Borrowed. */
const char *remote_key_env(const remote *r);

/* cancel(user) true ends any wait with NT_ERR_CANCELLED. NULL: never. */
void remote_set_cancel(remote *r, bool (*cancel)(void *user), void *user);

/* GET {base}/models: the model ids, a malloc'd array of malloc'd strings (*n of them; free
 * each and the array). Errors as remote_start's. */
int remote_list_models(remote *r, char ***ids, size_t *n, nt_err *err);

/* One request. Exactly one of msgs (chat completions) and prompt (text completions). */
typedef struct remote_req {
    const nt_chat_msg *msgs;   /* borrowed for the call */
    size_t n_msgs;
    const char *prompt;        /* borrowed for the call */
    nt_sampler_params params;
    int32_t max_tokens;        /* 0: none sent */
    const char *const *stop;   /* borrowed for the call */
    size_t n_stop;
    int top_logprobs;          /* ask for this many candidates per token (logprobs); 0: none */
} remote_req;

/* Sends q and waits for the first piece of the answer (or its end). NT_OK; NT_ERR_CANCELLED;
 * NT_ERR_IO with err saying what went wrong (nothing was generated). The answer's previous
 * transfer, if any, is dropped. A server that refuses the llama.cpp-style fields (top_k,
 * min_p, repeat_penalty) with HTTP 400 before answering is asked once more without them, and
 * from then on never sent them; one that still refuses is asked once more without the
 * optional OpenAI fields (logprobs, top_logprobs, stream_options), likewise (safe: nothing was
 * generated). */
int remote_start(remote *r, const remote_req *q, nt_err *err);
/* Continues the running answer through the text completions endpoint with new parameters:
 * prompt is the conversation rendered by the chat template (remote_render) plus the text
 * the answer has given so far (the pieces gen_run took). The new request is made while the
 * old stream waits; only when it answers is the old one dropped, so a server that refuses
 * (no /completions, HTTP 404 or 400; or no chat template known) leaves the answer going on
 * with its old settings: NT_ERR_UNSUPPORTED with err saying so. NT_OK: the source now reads
 * the continuation (the buffered pieces of the old stream are dropped). */
int remote_continue(remote *r, const remote_req *q, nt_err *err);
/* remote_continue with the prompt built here: msgs rendered by the chat template
 * (remote_render), then the text the answer has given so far; q gives the parameters, stop
 * strings, the tokens left and the candidates asked for (its msgs and prompt are not used).
 * Its codes and messages; NT_ERR_NOMEM too. The one way the worker and a replay continue. */
int remote_continue_answer(remote *r, const nt_chat_msg *msgs, size_t n, const remote_req *q,
                           nt_err *err);
/* The text gen_run took so far in this answer (pieces it evaluated); borrowed. */
const char *remote_answer_text(const remote *r, size_t *len);
/* The prompt text for msgs under the chat template family (the configured one, or the one the
 * server's /props names): malloc'd, caller frees. NT_ERR_UNSUPPORTED when no family is
 * known. */
int remote_render(remote *r, const nt_chat_msg *msgs, size_t n, char **out, nt_err *err);
/* The candidates of the piece gen_run is taking (call from the token hook, before the
 * source's eval moves on): what the server reported for its first token. Returns out->n (0
 * when the server sent none). */
int remote_piece_cands(const remote *r, remote_cands *out);
/* Whether the server sent probabilities at all in the running answer. */
bool remote_sent_probs(const remote *r);
/* The server's count of the last answer's tokens ("usage", asked for with stream_options):
 * true with *prompt and *completion filled when it gave one. */
bool remote_usage(const remote *r, int32_t *prompt, int32_t *completion);
/* The server's host[:port], for the status bar and messages. Borrowed. */
const char *remote_host(const remote *r);
/* Ends the running transfer (after an answer, or to stop). */
void remote_end(remote *r);

/* The running answer as the generation loop's source (n_vocab 2, see above). Errors met while
 * streaming come out of its eval with their message. */
gen_source remote_source(remote *r);

#endif
