/* serve.c — `natter serve`'s HTTP side and its worker (see serve.h).
 *
 * Threads: libmicrohttpd runs one thread per connection (so a handler may wait for its
 * answer without holding up the others) and the worker runs the requests one at a time. They
 * meet in a serve_job, guarded by the server's one mutex: the handler reads and checks the
 * request, tokenizes its prompt (the tokenizer is read-only) and queues the job; the worker
 * evaluates the prompt after the cached prefix and generates with gen_run, appending the
 * answer to the job (SSE chunks when streaming, the text otherwise) and waking its connection.
 * A job is counted by its holders (the connection and the queue/worker): the last one frees
 * it, so a client that goes away mid-stream only sets the job's cancel flag. */
#include "serve.h"

#include "request.h"
#include "conv/gen.h"
#include "util/json.h"
#include "util/strbuf.h"
#include "util/text.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SERVE_PLAIN_STOP "\nUser:" /* the plain family's end of an answer (nt_chat_format) */

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

typedef struct serve_job {
    int refs;                 /* holders: the connection, the queue/worker (under s->mu) */
    serve_req req;
    nt_tokens prompt;
    char id[40];              /* "chatcmpl-..." / "cmpl-..." */
    long long created;
    enum job_state state;     /* under s->mu */
    atomic_bool cancel;       /* the client went away, or the server was told to cancel */
    int status;               /* 200, or the error's HTTP status */
    char err[300];            /* the error's message when status != 200 */
    strbuf out;               /* stream: SSE bytes; else the answer's text (under s->mu) */
    size_t sent;              /* stream: bytes of out handed to the connection */
    json_t *lp;               /* not streaming, logprobs: chat: content array; completions:
                                 {tokens, token_logprobs, top_logprobs, text_offset} */
    size_t text_off;          /* completions' text_offset: bytes of the answer so far */
    int32_t n_gen, n_cached;
    const char *finish;       /* "stop" or "length" */
    pthread_cond_t cv;        /* out grew or state changed */
    struct serve_job *next;   /* in the queue */
} serve_job;

struct serve {
    serve_opts o;
    char fingerprint[64];     /* "natter-VERSION-xxh3-HASH": what answers it and with what
                                 weights (nt_gguf_model_hash), so a client can tell when the
                                 same seed may no longer give the same answer */
    nt_model *m;
    const nt_tokenizer *tok;
    enum nt_chat_family family;
    int32_t n_ctx;
    struct MHD_Daemon *d;
    int port;
    pthread_t worker;
    bool worker_started;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;   /* a job was queued, or stopping */
    serve_job *head, *tail;   /* waiting jobs, oldest first */
    int n_waiting;
    serve_job *running;
    bool stopping;
    unsigned long long seq;   /* request ids */
    gen_local l;              /* the worker's: the model and its cache mirror */
    int delay_ms;             /* NATTER_TEST_TOKEN_DELAY_MS (natter(1)): a testing aid */
};

/* One connection's request, from its first byte to the log line. */
typedef struct serve_conn {
    serve *s;
    strbuf body;
    bool too_big;
    int status;
    int32_t n_prompt, n_gen, n_cached;
    serve_job *job;           /* a streamed answer's job (a reference), for the log line */
    struct timespec t0;
    char method[16];
    char *url;
} serve_conn;

/* ------------------------------------------------------------------- jobs ----- */

static void job_unref_locked(serve_job *j)
{
    if (--j->refs > 0) return;
    serve_req_free(&j->req);
    free(j->prompt.v);
    strbuf_free(&j->out);
    json_decref(j->lp);
    pthread_cond_destroy(&j->cv);
    free(j);
}

static void job_unref(serve *s, serve_job *j)
{
    pthread_mutex_lock(&s->mu);
    job_unref_locked(j);
    pthread_mutex_unlock(&s->mu);
}

/* Ends a job that never ran (under s->mu). */
static void job_fail_locked(serve_job *j, int status, const char *msg)
{
    j->status = status;
    snprintf(j->err, sizeof j->err, "%s", msg);
    j->state = JOB_DONE;
    pthread_cond_broadcast(&j->cv);
}

/* -------------------------------------------------------------- responses ----- */

static const char *err_type(int status)
{
    return status >= 500 ? "server_error" : "invalid_request_error";
}

/* Queues body (taken) as the JSON response with status. */
static enum MHD_Result reply_json(struct MHD_Connection *c, serve_conn *cc, int status, json_t *body)
{
    size_t len = 0;
    char *text = json_text(body, false, &len);
    json_decref(body);
    if (!text) return MHD_NO;
    char *t2 = realloc(text, len + 2);
    if (!t2) {
        free(text);
        return MHD_NO;
    }
    t2[len++] = '\n';
    t2[len] = 0;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, t2, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(t2);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    cc->status = status;
    return rc;
}

/* The OpenAI error body: {"error": {"message", "type", "param", "code"}}. */
static json_t *error_body(int status, const char *code, const char *msg)
{
    return json_pack("{s:{s:o,s:s,s:n,s:s?}}", "error", "message", json_string_lossy(msg, strlen(msg)),
                     "type", err_type(status), "param", "code", code);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, serve_conn *cc, int status,
                                   const char *code, const char *fmt, ...) NT_PRINTF(5, 6);
static enum MHD_Result reply_error(struct MHD_Connection *c, serve_conn *cc, int status,
                                   const char *code, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return reply_json(c, cc, status, error_body(status, code, msg));
}

/* ------------------------------------------------------------- logprobs ----- */

typedef struct lp_item {
    int32_t id;
    double lp;
} lp_item;

/* The chosen token's log-probability and the top n (n <= SERVE_MAX_TOP) under the model's
 * distribution (the softmax of the raw logits: before penalties, truncation and temperature,
 * as OpenAI reports them). */
static void logprobs_of(const float *logits, int32_t n_vocab, int32_t id, int n, lp_item *chosen,
                        lp_item *top)
{
    float mx = logits[0];
    for (int32_t i = 1; i < n_vocab; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - mx);
    double lse = mx + log(sum);
    chosen->id = id;
    chosen->lp = logits[id] - lse;
    int have = 0;
    for (int32_t i = 0; i < n_vocab && n > 0; i++) { /* insertion into the n best; ties: lower id */
        if (have == n && logits[i] <= logits[top[n - 1].id]) continue;
        int k = have < n ? have++ : n - 1;
        while (k > 0 && logits[top[k - 1].id] < logits[i]) {
            top[k] = top[k - 1];
            k--;
        }
        top[k].id = i;
    }
    for (int k = 0; k < have; k++) top[k].lp = logits[top[k].id] - lse;
}

/* A token's bytes as the JSON string (lossy) and, when bytes is not NULL, the byte array. */
static json_t *token_json(const nt_tokenizer *t, int32_t id, json_t **bytes, size_t *len)
{
    char buf[512];
    int n = nt_tokenizer_token_bytes(t, id, buf, sizeof buf);
    if (n < 0) n = 0;
    if ((size_t)n > sizeof buf) n = (int)sizeof buf;
    if (len) *len = (size_t)n;
    if (bytes) {
        *bytes = json_array();
        for (int i = 0; i < n; i++) json_array_append_new(*bytes, json_integer((unsigned char)buf[i]));
    }
    return json_string_lossy(buf, (size_t)n);
}

/* The chat form: {"token", "logprob", "bytes", "top_logprobs": [{token, logprob, bytes}]}. */
static json_t *chat_lp_entry(const nt_tokenizer *t, const lp_item *c, const lp_item *top, int n)
{
    json_t *tops = json_array();
    for (int k = 0; k < n; k++) {
        json_t *b;
        json_t *tok = token_json(t, top[k].id, &b, NULL);
        json_array_append_new(tops, json_pack("{s:o,s:f,s:o}", "token", tok, "logprob", top[k].lp, "bytes", b));
    }
    json_t *b;
    json_t *tok = token_json(t, c->id, &b, NULL);
    return json_pack("{s:o,s:f,s:o,s:o}", "token", tok, "logprob", c->lp, "bytes", b, "top_logprobs", tops);
}

/* Appends one token to the completions form {tokens, token_logprobs, top_logprobs,
 * text_offset}. */
static void cmpl_lp_add(json_t *lp, const nt_tokenizer *t, const lp_item *c, const lp_item *top,
                        int n, size_t *off)
{
    size_t len;
    json_array_append_new(json_object_get(lp, "tokens"), token_json(t, c->id, NULL, &len));
    json_array_append_new(json_object_get(lp, "token_logprobs"), json_real(c->lp));
    json_t *tops = json_object();
    for (int k = 0; k < n; k++) {
        char buf[512];
        int bn = nt_tokenizer_token_bytes(t, top[k].id, buf, sizeof buf - 1);
        if (bn < 0) bn = 0;
        if (bn > (int)sizeof buf - 1) bn = (int)sizeof buf - 1;
        json_t *key = json_string_lossy(buf, (size_t)bn);
        if (key) json_object_set_new(tops, json_string_value(key), json_real(top[k].lp));
        json_decref(key);
    }
    json_array_append_new(json_object_get(lp, "top_logprobs"), tops);
    json_array_append_new(json_object_get(lp, "text_offset"), json_integer((json_int_t)*off));
    *off += len;
}

static json_t *cmpl_lp_new(void)
{
    return json_pack("{s:[],s:[],s:[],s:[]}", "tokens", "token_logprobs", "top_logprobs", "text_offset");
}

/* --------------------------------------------------------------- chunks ----- */

/* The envelope every answer object shares. */
static json_t *answer_object(serve *s, const serve_job *j, bool chunk)
{
    const char *object = j->req.kind == SERVE_CHAT ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                                   : "text_completion";
    return json_pack("{s:s,s:s,s:I,s:s,s:s}", "id", j->id, "object", object, "created",
                     (json_int_t)j->created, "model", s->o.model_id, "system_fingerprint",
                     s->fingerprint);
}

static json_t *usage_object(const serve_job *j)
{
    return json_pack("{s:i,s:i,s:i,s:{s:i}}", "prompt_tokens", (int)j->prompt.n, "completion_tokens",
                     (int)j->n_gen, "total_tokens", (int)(j->prompt.n + (size_t)j->n_gen),
                     "prompt_tokens_details", "cached_tokens", (int)j->n_cached);
}

/* Appends "data: JSON\n\n" (under s->mu) and wakes the connection. */
static void sse_put(serve *s, serve_job *j, json_t *obj)
{
    char *text = json_text(obj, false, NULL);
    json_decref(obj);
    pthread_mutex_lock(&s->mu);
    if (text) strbuf_printf(&j->out, "data: %s\n\n", text);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&s->mu);
    free(text);
}

/* One streamed piece of the answer: text (may be "") and, with logprobs, the token's entry
 * (taken). finish NULL mid-answer; the final chunk's delta is empty. role: the chat's first
 * chunk, which says who speaks. */
static void stream_chunk(serve *s, serve_job *j, const char *text, size_t n, json_t *lp,
                         const char *finish, bool role)
{
    json_t *o = answer_object(s, j, true);
    json_t *choice = json_pack("{s:i}", "index", 0);
    if (j->req.kind == SERVE_CHAT) {
        json_t *delta = json_object();
        if (role) json_object_set_new(delta, "role", json_string("assistant"));
        if (!finish) json_object_set_new(delta, "content", json_string_lossy(text, n));
        json_object_set_new(choice, "delta", delta);
        json_object_set_new(choice, "logprobs", lp ? json_pack("{s:[o]}", "content", lp) : json_null());
    } else {
        json_object_set_new(choice, "text", json_string_lossy(text, n));
        json_object_set_new(choice, "logprobs", lp ? lp : json_null());
    }
    json_object_set_new(choice, "finish_reason", finish ? json_string(finish) : json_null());
    json_object_set_new(o, "choices", json_pack("[o]", choice));
    sse_put(s, j, o);
}

/* ---------------------------------------------------------------- worker ----- */

typedef struct run_ctx {
    serve *s;
    serve_job *j;
} run_ctx;

static bool run_stop(void *user, int32_t i)
{
    run_ctx *r = user;
    return atomic_load(&r->j->cancel);
}

static bool model_cancel(void *user)
{
    serve_job *j = user;
    return atomic_load(&j->cancel);
}

static int run_token(void *user, const gen_token *t, nt_err *err)
{
    run_ctx *r = user;
    serve *s = r->s;
    serve_job *j = r->j;
    json_t *lp = NULL;
    if (j->req.logprobs) {
        /* gen_run calls this before the token is evaluated: l.logits are still the logits it
         * was sampled from. */
        lp_item c, top[SERVE_MAX_TOP];
        int n = j->req.top_logprobs;
        logprobs_of(s->l.logits, s->l.n_vocab, t->id, n, &c, top);
        if (j->req.kind == SERVE_CHAT) {
            lp = chat_lp_entry(s->tok, &c, top, n);
        } else {
            lp = j->req.stream ? cmpl_lp_new() : NULL;
            cmpl_lp_add(lp ? lp : j->lp, s->tok, &c, top, n, &j->text_off);
        }
        if (!j->req.stream && lp) json_array_append_new(j->lp, lp), lp = NULL;
    }
    if (j->req.stream) {
        if (t->n_text || lp) stream_chunk(s, j, t->text, t->n_text, lp, NULL, false);
        pthread_mutex_lock(&s->mu);
        j->n_gen++;
        pthread_mutex_unlock(&s->mu);
    } else {
        pthread_mutex_lock(&s->mu);
        strbuf_put(&j->out, t->text, t->n_text);
        j->n_gen++;
        pthread_mutex_unlock(&s->mu);
    }
    return j->out.oom ? nt_err_set(err, NT_ERR_NOMEM, "out of memory") : NT_OK;
}

/* The testing aid's pause before each token's evaluation; a cancel ends it at once. */
static void run_delay(void *user)
{
    serve *s = user;
    for (int left = s->delay_ms; left > 0; left -= 5) {
        pthread_mutex_lock(&s->mu);
        bool cancel = s->running && atomic_load(&s->running->cancel);
        pthread_mutex_unlock(&s->mu);
        if (cancel) break;
        struct timespec ts = {0, (left < 5 ? left : 5) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static size_t common_prefix(const nt_tokens *a, const nt_tokens *b)
{
    size_t k = 0;
    while (k < a->n && k < b->n && a->v[k] == b->v[k]) k++;
    return k;
}

/* Answers one request (the worker thread). */
static void serve_run(serve *s, serve_job *j)
{
    nt_err e = {0};
    gen_local *l = &s->l;
    /* The longest prefix already in the cache is kept; at least the last prompt token is
     * evaluated again, for its logits. */
    size_t k = common_prefix(&l->ctx, &j->prompt);
    if (k >= j->prompt.n) k = j->prompt.n - 1;
    gen_local_rewind(l, (int32_t)k);
    j->n_cached = (int32_t)k;
    nt_model_hooks mh = {.cancel = model_cancel, .user = j};
    nt_model_set_hooks(s->m, &mh);
    int rc = gen_local_eval(l, j->prompt.v + k, (int32_t)(j->prompt.n - k), &e);
    gen_result res = {0};
    if (rc == NT_OK) {
        if (j->req.stream && j->req.kind == SERVE_CHAT) stream_chunk(s, j, "", 0, NULL, NULL, true);
        const char *stops[GEN_MAX_STOP];
        size_t ns = 0;
        for (size_t i = 0; i < j->req.n_stop; i++) stops[ns++] = j->req.stop[i];
        if (j->req.kind == SERVE_CHAT && s->family == NT_CHAT_PLAIN) stops[ns++] = SERVE_PLAIN_STOP;
        int32_t max = j->req.params.max_tokens;
        gen_opts go = {.params = j->req.params.sp, .max_tokens = max > 0 ? max : INT32_MAX,
                       .stop = stops, .n_stop = ns};
        run_ctx rctx = {s, j};
        gen_hooks h = {.user = &rctx, .stop = run_stop, .token = run_token};
        gen_source src = gen_local_source(l);
        rc = gen_run(&src, &go, &h, &res, &e);
    }
    nt_model_set_hooks(s->m, NULL);
    const char *finish = res.end == GEN_END_LENGTH || res.end == GEN_END_CONTEXT_FULL ? "length" : "stop";
    if (rc != NT_OK && rc != NT_ERR_CANCELLED) {
        /* A failed evaluation leaves the cache as it stands; the mirror follows it. */
        if (j->req.stream) {
            json_t *o = error_body(500, NULL, e.msg);
            sse_put(s, j, o);
        }
        pthread_mutex_lock(&s->mu);
        j->status = 500;
        snprintf(j->err, sizeof j->err, "generation failed: %.260s", e.msg);
        pthread_mutex_unlock(&s->mu);
    } else if (j->req.stream) {
        if (res.tail) stream_chunk(s, j, res.tail, strlen(res.tail), NULL, NULL, false);
        stream_chunk(s, j, "", 0, NULL, finish, false);
        if (j->req.include_usage) {
            json_t *o = answer_object(s, j, true);
            json_object_set_new(o, "choices", json_array());
            json_object_set_new(o, "usage", usage_object(j));
            sse_put(s, j, o);
        }
    } else if (res.tail) {
        pthread_mutex_lock(&s->mu);
        strbuf_puts(&j->out, res.tail);
        pthread_mutex_unlock(&s->mu);
    }
    free(res.tail);
    pthread_mutex_lock(&s->mu);
    if (j->req.stream) strbuf_puts(&j->out, "data: [DONE]\n\n");
    j->finish = finish;
    pthread_mutex_unlock(&s->mu);
}

static void *serve_worker(void *arg)
{
    serve *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping) pthread_cond_wait(&s->work_cv, &s->mu);
        serve_job *j = s->head;
        if (!j) break;
        s->head = j->next;
        if (!s->head) s->tail = NULL;
        s->n_waiting--;
        j->state = JOB_RUNNING;
        s->running = j;
        pthread_cond_broadcast(&j->cv);
        pthread_mutex_unlock(&s->mu);
        /* A client that went away while its request waited costs the model nothing. */
        if (!atomic_load(&j->cancel)) serve_run(s, j);
        pthread_mutex_lock(&s->mu);
        j->state = JOB_DONE;
        s->running = NULL;
        pthread_cond_broadcast(&j->cv);
        job_unref_locked(j);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* --------------------------------------------------------------- handlers ----- */

typedef struct stream_ctx {
    serve *s;
    serve_job *j;
} stream_ctx;

/* The streamed body: what the worker appended, waiting for more until the job is done. */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_ctx *sc = cls;
    serve *s = sc->s;
    serve_job *j = sc->j;
    (void)pos;
    pthread_mutex_lock(&s->mu);
    while (j->sent == j->out.n && j->state != JOB_DONE) pthread_cond_wait(&j->cv, &s->mu);
    ssize_t n;
    if (j->sent < j->out.n) {
        size_t k = j->out.n - j->sent;
        if (k > max) k = max;
        memcpy(buf, j->out.s + j->sent, k);
        j->sent += k;
        n = (ssize_t)k;
    } else {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void stream_done(void *cls)
{
    stream_ctx *sc = cls;
    atomic_store(&sc->j->cancel, true); /* a client gone mid-answer stops it */
    job_unref(sc->s, sc->j);
    free(sc);
}

/* Formats and tokenizes the request's prompt into j->prompt. NT_OK or a message for 400. */
static int job_prompt(serve *s, serve_job *j, nt_err *err)
{
    const serve_req *r = &j->req;
    int rc;
    if (r->kind == SERVE_CHAT) {
        nt_chat_msg *msgs = malloc(r->n_msgs * sizeof *msgs);
        if (!msgs) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < r->n_msgs; i++) msgs[i] = (nt_chat_msg){r->msgs[i].role, r->msgs[i].content};
        nt_chat_prompt p = {0};
        rc = nt_chat_format(s->family, msgs, r->n_msgs, true, &p, err);
        if (rc == NT_OK) rc = nt_chat_tokenize(s->tok, &p, nt_tokenizer_add_bos(s->tok), &j->prompt, err);
        nt_chat_prompt_free(&p);
        free(msgs);
    } else {
        /* Control tokens written in the prompt count as such (a prompt rendered with the chat
         * template, as a client continuing an answer sends it), as llama.cpp's server reads
         * them; a BOS the text already starts with is not doubled. */
        rc = nt_tokenizer_encode(s->tok, r->prompt, r->prompt_len,
                                 NT_TOK_PARSE_SPECIAL | (nt_tokenizer_add_bos(s->tok) ? NT_TOK_ADD_BOS : 0),
                                 &j->prompt, err);
        int32_t bos = nt_tokenizer_bos(s->tok);
        if (rc == NT_OK && bos >= 0 && j->prompt.n >= 2 && j->prompt.v[0] == bos && j->prompt.v[1] == bos &&
            nt_tokenizer_add_bos(s->tok)) {
            memmove(j->prompt.v, j->prompt.v + 1, (j->prompt.n - 1) * sizeof *j->prompt.v);
            j->prompt.n--;
        }
    }
    if (rc != NT_OK) return rc;
    if (j->prompt.n == 0) return nt_err_set(err, NT_ERR_INVALID, "the prompt is empty");
    if (j->prompt.n >= (size_t)s->n_ctx)
        return nt_err_set(err, NT_ERR_CONTEXT_FULL,
                          "the prompt is %zu tokens; this model's context holds %d, with room for at least one more",
                          j->prompt.n, s->n_ctx);
    return NT_OK;
}

/* Whether the client of c has gone away: its socket reads end-of-file or fails (a request
 * that follows, pipelined, is data, not a hang-up). */
static bool client_gone(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    char b;
    ssize_t n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Waits (under s->mu) until j reaches state until (queued: its turn; a whole answer: its end)
 * with an eye on the client, every SERVE_GONE_MS: one that hangs up cancels the job (it stops
 * at the next token, or is never run), as a streamed one does when its reader fails. True
 * when the client went away. */
#define SERVE_GONE_MS 100
static bool job_await(serve *s, serve_job *j, enum job_state until, struct MHD_Connection *c)
{
    bool gone = false;
    while (j->state < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += SERVE_GONE_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&j->cv, &s->mu, &ts);
        if (!gone && j->state < until && client_gone(c)) {
            gone = true;
            atomic_store(&j->cancel, true);
        }
    }
    return gone;
}

/* The final call of a completions request: read, queue, answer. */
static enum MHD_Result handle_generate(serve *s, struct MHD_Connection *c, serve_conn *cc,
                                       enum serve_kind kind)
{
    serve_job *j = calloc(1, sizeof *j);
    if (!j) return reply_error(c, cc, 500, NULL, "out of memory");
    j->refs = 1;
    j->status = 200;
    pthread_cond_init(&j->cv, NULL);
    nt_err e = {0};
    enum MHD_Result ret;
    if (serve_req_parse(kind, cc->body.s ? cc->body.s : "", cc->body.n, &s->o.defaults, &j->req, &e) != NT_OK) {
        ret = e.code == NT_ERR_NOMEM ? reply_error(c, cc, 500, NULL, "out of memory")
                                     : reply_error(c, cc, 400, NULL, "%s", e.msg);
        goto done;
    }
    if (j->req.model && strcmp(j->req.model, s->o.model_id)) {
        ret = reply_error(c, cc, 404, "model_not_found",
                          "the model '%.100s' is not served here; this server has '%s'", j->req.model,
                          s->o.model_id);
        goto done;
    }
    int prc = job_prompt(s, j, &e);
    if (prc != NT_OK) {
        ret = prc == NT_ERR_NOMEM ? reply_error(c, cc, 500, NULL, "out of memory")
                                  : reply_error(c, cc, 400, prc == NT_ERR_CONTEXT_FULL ? "context_length_exceeded" : NULL,
                                                "%s", e.msg);
        goto done;
    }
    if (!(j->req.params_given & (1u << PARAM_SEED))) {
        /* No seed: a fresh one, as each new chat gets. */
        uint64_t seed;
        if (getentropy(&seed, sizeof seed) != 0) seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)j;
        j->req.params.sp.seed = seed;
    }
    if (j->req.logprobs && !j->req.stream)
        j->lp = kind == SERVE_CHAT ? json_array() : cmpl_lp_new();
    j->created = (long long)time(NULL);
    cc->n_prompt = (int32_t)j->prompt.n;

    /* Queue it, or 503. */
    pthread_mutex_lock(&s->mu);
    /* Full: queue_max requests wait already (one taken at once by an idle worker counts
     * until the worker has it, so with --queue 0 a second request right behind it is turned
     * away too). */
    if (s->stopping || (s->n_waiting >= s->o.queue_max && (s->running || s->n_waiting > 0))) {
        bool stopping = s->stopping;
        pthread_mutex_unlock(&s->mu);
        ret = reply_error(c, cc, 503, stopping ? "shutting_down" : "overloaded",
                          stopping ? "the server is shutting down"
                                   : "the server is busy: %d requests are waiting already; try again later",
                          s->o.queue_max);
        goto done;
    }
    snprintf(j->id, sizeof j->id, "%s-%llx%06llx", kind == SERVE_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)j->created, ++s->seq);
    j->refs++; /* the queue's */
    if (s->tail) s->tail->next = j;
    else s->head = j;
    s->tail = j;
    s->n_waiting++;
    pthread_cond_signal(&s->work_cv);
    /* Streaming starts once the worker takes the job (so a request refused while it waits
     * still gets its 503 status); otherwise the whole answer is awaited. */
    enum job_state until = j->req.stream ? JOB_RUNNING : JOB_DONE;
    bool gone = job_await(s, j, until, c);
    int status = j->status;
    char err[sizeof j->err];
    memcpy(err, j->err, sizeof err);
    cc->n_cached = j->n_cached;
    pthread_mutex_unlock(&s->mu);

    if (gone) { /* nobody to answer: the connection closes, the log says it was cut */
        ret = MHD_NO;
        goto done;
    }
    if (status != 200) {
        ret = reply_error(c, cc, status, status == 503 ? "shutting_down" : NULL, "%s", err);
        goto done;
    }
    if (j->req.stream) {
        stream_ctx *sc = malloc(sizeof *sc);
        struct MHD_Response *r = sc ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_reader, sc, stream_done) : NULL;
        if (!r) {
            free(sc);
            atomic_store(&j->cancel, true);
            ret = MHD_NO;
            goto done;
        }
        *sc = (stream_ctx){s, j};
        pthread_mutex_lock(&s->mu);
        j->refs++; /* the log line's: the response holds the connection's reference now */
        pthread_mutex_unlock(&s->mu);
        cc->job = j;
        j = NULL;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        cc->status = 200;
        goto done;
    }
    json_t *o = answer_object(s, j, false);
    json_t *choice;
    if (kind == SERVE_CHAT)
        choice = json_pack("{s:i,s:{s:s,s:o},s:o,s:s}", "index", 0, "message", "role", "assistant", "content",
                           json_string_lossy(j->out.s ? j->out.s : "", j->out.n), "logprobs",
                           j->lp ? json_pack("{s:O}", "content", j->lp) : json_null(), "finish_reason", j->finish);
    else
        choice = json_pack("{s:i,s:o,s:O?,s:s}", "index", 0, "text",
                           json_string_lossy(j->out.s ? j->out.s : "", j->out.n), "logprobs", j->lp,
                           "finish_reason", j->finish);
    json_object_set_new(o, "choices", json_pack("[o]", choice));
    json_object_set_new(o, "usage", usage_object(j));
    ret = reply_json(c, cc, 200, o);
done:
    if (j) {
        pthread_mutex_lock(&s->mu);
        cc->n_gen = j->n_gen;
        job_unref_locked(j);
        pthread_mutex_unlock(&s->mu);
    }
    return ret;
}

static bool authorized(serve *s, struct MHD_Connection *c)
{
    if (!s->o.api_key || !*s->o.api_key) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) return false;
    h += 7;
    /* The same time whatever the key's first wrong byte. */
    size_t n = strlen(s->o.api_key), m = strlen(h);
    unsigned char diff = n != m;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(s->o.api_key[i] ^ (i < m ? h[i] : 0));
    return diff == 0;
}

static enum MHD_Result serve_handler(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version, const char *upload,
                                     size_t *upload_size, void **con_cls)
{
    serve *s = cls;
    serve_conn *cc = *con_cls;
    if (!cc) { /* the headers are in */
        cc = calloc(1, sizeof *cc);
        if (!cc) return MHD_NO;
        cc->s = s;
        clock_gettime(CLOCK_MONOTONIC, &cc->t0);
        snprintf(cc->method, sizeof cc->method, "%s", method);
        cc->url = strdup(url);
        *con_cls = cc;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->o.max_body)
            return reply_error(c, cc, 413, "request_too_large", "the request body is larger than %zu bytes",
                               s->o.max_body);
        if (strcmp(url, "/health") && !authorized(s, c))
            return reply_error(c, cc, 401, "invalid_api_key",
                               "a valid API key is needed: send it as 'Authorization: Bearer KEY'");
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body */
        if (!cc->too_big && cc->body.n + *upload_size > s->o.max_body) {
            cc->too_big = true;
            strbuf_free(&cc->body);
        }
        if (!cc->too_big) strbuf_put(&cc->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (cc->too_big)
        return reply_error(c, cc, 413, "request_too_large", "the request body is larger than %zu bytes", s->o.max_body);
    if (cc->body.oom) return reply_error(c, cc, 500, NULL, "out of memory");
    bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/health")) {
        if (!get) goto bad_method;
        pthread_mutex_lock(&s->mu);
        int running = s->running != NULL, waiting = s->n_waiting;
        pthread_mutex_unlock(&s->mu);
        return reply_json(c, cc, 200, json_pack("{s:s,s:i,s:i}", "status", "ok", "requests_running", running,
                                                "requests_waiting", waiting));
    }
    if (!strcmp(url, "/v1/models")) {
        if (!get) goto bad_method;
        return reply_json(c, cc, 200,
                          json_pack("{s:s,s:[{s:s,s:s,s:i,s:s}]}", "object", "list", "data", "id", s->o.model_id,
                                    "object", "model", "created", 0, "owned_by", "natter"));
    }
    if (!strcmp(url, "/v1/chat/completions")) {
        if (!post) goto bad_method;
        return handle_generate(s, c, cc, SERVE_CHAT);
    }
    if (!strcmp(url, "/v1/completions")) {
        if (!post) goto bad_method;
        return handle_generate(s, c, cc, SERVE_COMPLETION);
    }
    return reply_error(c, cc, 404, "not_found",
                       "no endpoint here: natter serves /v1/chat/completions, /v1/completions, /v1/models and /health");
bad_method:
    return reply_error(c, cc, 405, NULL, "this endpoint does not take %s", method);
}

/* After the response (or a broken connection): the log line, then the connection's state. */
static void serve_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
    serve *s = cls;
    serve_conn *cc = *con_cls;
    if (!cc) return;
    *con_cls = NULL;
    if (cc->job) {
        pthread_mutex_lock(&s->mu);
        cc->n_gen = cc->job->n_gen;
        job_unref_locked(cc->job);
        pthread_mutex_unlock(&s->mu);
    }
    if (!s->o.quiet) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double sec = (double)(t1.tv_sec - cc->t0.tv_sec) + (double)(t1.tv_nsec - cc->t0.tv_nsec) * 1e-9;
        char addr[INET6_ADDRSTRLEN] = "?";
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, addr, sizeof addr);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, addr, sizeof addr);
        }
        /* One line, written at once; the method and path are the client's text: escaped. */
        char *line = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&line, &len);
        if (f) {
            fprintf(f, "natter serve: %s ", addr);
            text_fput_escaped(f, cc->method, strlen(cc->method), false);
            fputc(' ', f);
            text_fput_escaped(f, cc->url ? cc->url : "", cc->url ? strlen(cc->url) : 0, false);
            fprintf(f, " %d", cc->status ? cc->status : 0);
            if (cc->n_prompt) fprintf(f, " prompt %d (cached %d) answer %d", cc->n_prompt, cc->n_cached, cc->n_gen);
            fprintf(f, " %.3f s%s\n", sec, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection cut)");
            fclose(f);
            fputs(line, stderr);
            free(line);
        }
    }
    strbuf_free(&cc->body);
    free(cc->url);
    free(cc);
}

/* ------------------------------------------------------------------ life ----- */

int serve_start(serve **out, nt_model *m, const serve_opts *o, nt_err *err)
{
    *out = NULL;
    serve *s = calloc(1, sizeof *s);
    if (!s) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    s->o = *o;
    s->m = m;
    s->tok = nt_model_tokenizer(m);
    s->family = nt_chat_detect_gguf(nt_model_gguf(m));
    s->n_ctx = nt_model_get_info(m)->n_ctx;
    /* The hash reads the weights once (about a second for 4 GB), before the first request. */
    snprintf(s->fingerprint, sizeof s->fingerprint, "natter-%s-xxh3-%016llx",
             o->version ? o->version : "?", (unsigned long long)nt_gguf_model_hash(nt_model_gguf(m)));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    int rc = gen_local_init(&s->l, m, err);
    if (rc != NT_OK) {
        free(s);
        return rc;
    }
    const char *delay = getenv("NATTER_TEST_TOKEN_DELAY_MS");
    if (delay) {
        long ms = strtol(delay, NULL, 10);
        s->delay_ms = ms < 0 ? 0 : ms > 10000 ? 10000 : (int)ms;
        s->l.before_eval = run_delay;
        s->l.user = s;
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    int gai = getaddrinfo(o->host, port, &hints, &ai);
    if (gai != 0) {
        rc = nt_err_set(err, NT_ERR_INVALID, "--host '%s' is not an IP address (%s)", o->host, gai_strerror(gai));
        goto fail;
    }
    if (pthread_create(&s->worker, NULL, serve_worker, s) != 0) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "cannot start the worker thread");
        goto fail;
    }
    s->worker_started = true;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ITC | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, serve_handler, s,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)(o->queue_max + 32),
                            MHD_OPTION_NOTIFY_COMPLETED, serve_completed, s,
                            MHD_OPTION_END);
    if (!s->d) {
        rc = nt_err_set(err, NT_ERR_IO, "cannot listen on %s port %d (in use, or not an address of this machine)",
                        o->host, o->port);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    freeaddrinfo(ai);
    *out = s;
    return NT_OK;
fail:
    if (ai) freeaddrinfo(ai);
    serve_free(s);
    return rc;
}

int serve_port(const serve *s) { return s->port; }

void serve_shutdown(serve *s)
{
    pthread_mutex_lock(&s->mu);
    bool first = !s->stopping;
    s->stopping = true;
    while (s->head) {
        serve_job *j = s->head;
        s->head = j->next;
        s->n_waiting--;
        job_fail_locked(j, 503, "the server is shutting down");
        job_unref_locked(j); /* the queue's reference */
    }
    s->tail = NULL;
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    if (first && s->d) {
        MHD_socket fd = MHD_quiesce_daemon(s->d); /* no new connections */
        if (fd != MHD_INVALID_SOCKET) close(fd);
    }
}

void serve_cancel(serve *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->running) atomic_store(&s->running->cancel, true);
    pthread_mutex_unlock(&s->mu);
}

bool serve_idle(serve *s)
{
    pthread_mutex_lock(&s->mu);
    bool idle = !s->running && !s->head;
    pthread_mutex_unlock(&s->mu);
    return idle;
}

void serve_free(serve *s)
{
    if (!s) return;
    serve_shutdown(s);
    if (s->d) MHD_stop_daemon(s->d);
    if (s->worker_started) pthread_join(s->worker, NULL);
    gen_local_free(&s->l);
    pthread_cond_destroy(&s->work_cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
