/* remote.c — answers from an OpenAI-compatible server through libcurl (see remote.h).
 *
 * One transfer (xfer) is one request: its easy handle runs in the remote's multi handle, so
 * the caller's thread pumps it (remote_pump) only as far as it needs the next piece, and a
 * continuation's request can be made while the old stream waits. The write callback feeds the
 * SSE parser; each event's JSON is read at once and its text queued as a piece. */
#include "remote.h"
#include "util/json.h"
#include "util/sse.h"
#include "util/strbuf.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REMOTE_ERRBODY_MAX 16384 /* bytes of an error answer's body kept for its message */
#define REMOTE_POLL_MS 50        /* longest wait between two looks at the cancel flag */
#define REMOTE_MSG_MAX 200       /* bytes of a server's own message quoted in ours */

/* One piece of text and, when the server sent them, its candidates (malloc'd, or NULL). */
typedef struct piece {
    char *text;
    remote_cands *cands;
} piece;

typedef struct xfer {
    remote *r;
    CURL *h;
    struct curl_slist *hdrs;
    char *body;
    bool chat;                 /* chat completions (delta.content) or completions (text) */
    sse_parser sse;
    strbuf errbody;            /* a non-2xx answer's body, capped */
    long retry_after;          /* Retry-After seconds, -1: none */
    piece *q;                  /* queued pieces (owned), q[head .. head + n) */
    size_t q_head, q_n, q_cap;
    size_t got;                /* bytes of text received */
    bool finished;             /* a finish_reason or [DONE] came */
    char finish[16];           /* the finish_reason ("" none) */
    bool done;                 /* the transfer is over */
    CURLcode cc;
    remote_cands *pend;        /* candidates of a token that brought no text yet: the first
                                  token of the next piece (owned) */
    bool failed;               /* err holds a stream error found by a callback */
    nt_err err;
    double last_byte;
    char curl_err[CURL_ERROR_SIZE];
} xfer;

struct remote {
    char *base;                /* as given, credentials and all: only libcurl sees it */
    char *base_public;         /* without user, password, query */
    char *host;                /* for messages */
    char *model;
    char *key_env;
    char *auth;                /* "Authorization: Bearer KEY" or NULL */
    long connect_ms, idle_ms;
    size_t max_event, max_answer;
    int family;                /* -1: unknown yet */
    bool family_probed;
    bool extras;               /* send top_k, min_p, repeat_penalty */
    bool optional;             /* send logprobs, top_logprobs, stream_options */
    bool sent_probs;           /* the running answer's server sent probabilities */
    bool have_usage;           /* the last answer's server sent "usage" */
    int32_t usage_prompt, usage_completion;
    char served_model[128];
    char fingerprint[128];
    bool (*cancel)(void *user);
    void *cancel_user;
    CURLM *multi;
    xfer *cur;                 /* the running answer, or NULL */
    strbuf answer;             /* the text gen_run took */
    float logits[2];
};

static pthread_once_t remote_once = PTHREAD_ONCE_INIT;
static CURLcode remote_global_rc;

static void remote_global_init(void)
{
    remote_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static double remote_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Text from a server quoted in a message: at most REMOTE_MSG_MAX bytes, control characters
 * (escape sequences included) shown as '?', so nothing from the network drives a terminal. */
static void remote_quote(char *dst, size_t cap, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap && i < REMOTE_MSG_MAX; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[k++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    if (n > REMOTE_MSG_MAX && k + 4 < cap) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = '\0';
}

/* ================================================================ set-up ===== */

int remote_check_base(const char *base, nt_err *err)
{
    if (!base || (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0))
        return nt_err_set(err, NT_ERR_INVALID, "must be an http:// or https:// URL (e.g. "
                          "http://127.0.0.1:8080/v1)");
    pthread_once(&remote_once, remote_global_init);
    CURLU *u = curl_url();
    if (!u) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, base, 0);
    curl_url_cleanup(u);
    /* curl's reason, not the URL: a key may hide in it. */
    if (uc != CURLUE_OK)
        return nt_err_set(err, NT_ERR_INVALID, "is not a valid URL (%s)", curl_url_strerror(uc));
    return NT_OK;
}

int remote_init(remote **out, const remote_cfg *cfg, nt_err *err)
{
    *out = NULL;
    pthread_once(&remote_once, remote_global_init);
    if (remote_global_rc != CURLE_OK)
        return nt_err_set(err, NT_ERR_IO, "cannot start libcurl: %s",
                          curl_easy_strerror(remote_global_rc));
    nt_err why = {0};
    if (remote_check_base(cfg->base, &why) != NT_OK)
        return nt_err_set(err, why.code, "the API base %s", why.msg);
    remote *r = calloc(1, sizeof *r);
    if (!r) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    size_t bl = strlen(cfg->base);
    while (bl > 0 && cfg->base[bl - 1] == '/') bl--; /* "…/v1/" and "…/v1" alike */
    r->base = strndup(cfg->base, bl);
    r->model = strdup(cfg->model ? cfg->model : "");
    r->key_env = strdup(cfg->key_env && cfg->key_env[0] ? cfg->key_env : REMOTE_KEY_ENV);
    r->connect_ms = cfg->connect_ms > 0 ? cfg->connect_ms : 10000;
    r->idle_ms = cfg->idle_ms > 0 ? cfg->idle_ms : 120000;
    r->max_event = cfg->max_event ? cfg->max_event : (size_t)1 << 20;
    r->max_answer = cfg->max_answer ? cfg->max_answer : (size_t)8 << 20;
    r->family = cfg->family;
    r->extras = true;
    r->optional = true;
    r->multi = curl_multi_init();
    if (!r->base || !r->model || !r->key_env || !r->multi) goto nomem;
    /* The URL shown and recorded: no user, password or query (a key may hide in either). */
    CURLU *u = curl_url();
    char *pub = NULL, *host = NULL, *port = NULL;
    CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, r->base, 0) : CURLUE_OUT_OF_MEMORY;
    if (uc != CURLUE_OK) {
        curl_url_cleanup(u);
        remote_free(r);
        /* curl's reason, not the URL: a key may hide in it. */
        return nt_err_set(err, NT_ERR_INVALID, "the API base is not a valid URL (%s)",
                          curl_url_strerror(uc));
    }
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(u, CURLUPART_QUERY, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    curl_url_get(u, CURLUPART_URL, &pub, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when the URL gives one */
    curl_url_cleanup(u);
    r->base_public = pub ? strdup(pub) : NULL;
    strbuf hb = {0};
    strbuf_printf(&hb, "%s%s%s", host ? host : "the server", port ? ":" : "", port ? port : "");
    r->host = strbuf_take(&hb, NULL);
    curl_free(pub);
    curl_free(host);
    curl_free(port);
    if (r->base_public) { /* curl_url adds a "/" to a bare host; the base has none */
        size_t n = strlen(r->base_public);
        while (n > 0 && r->base_public[n - 1] == '/') r->base_public[--n] = '\0';
    }
    const char *key = getenv(r->key_env);
    if (key && key[0]) {
        strbuf a = {0};
        strbuf_printf(&a, "Authorization: Bearer %s", key);
        r->auth = strbuf_take(&a, NULL);
        if (!r->auth) goto nomem;
    }
    if (!r->base_public || !r->host) goto nomem;
    *out = r;
    return NT_OK;
nomem:
    remote_free(r);
    return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
}

static void xfer_free(xfer *x);

void remote_free(remote *r)
{
    if (!r) return;
    xfer_free(r->cur);
    if (r->multi) curl_multi_cleanup(r->multi);
    if (r->auth) { /* the key leaves memory with the remote */
        memset(r->auth, 0, strlen(r->auth));
        free(r->auth);
    }
    free(r->base);
    free(r->base_public);
    free(r->host);
    free(r->model);
    free(r->key_env);
    strbuf_free(&r->answer);
    free(r);
}

const char *remote_model(const remote *r) { return r->model; }
const char *remote_base(const remote *r) { return r->base_public; }
const char *remote_served_model(const remote *r) { return r->served_model; }
const char *remote_fingerprint(const remote *r) { return r->fingerprint; }
const char *remote_key_env(const remote *r) { return r->key_env; }
const char *remote_host(const remote *r) { return r->host; }
bool remote_sent_probs(const remote *r) { return r->sent_probs; }

bool remote_usage(const remote *r, int32_t *prompt, int32_t *completion)
{
    *prompt = r->usage_prompt;
    *completion = r->usage_completion;
    return r->have_usage;
}

int remote_set_model(remote *r, const char *model)
{
    char *m = strdup(model ? model : "");
    if (!m) return NT_ERR_NOMEM;
    free(r->model);
    r->model = m;
    return NT_OK;
}

void remote_set_cancel(remote *r, bool (*cancel)(void *user), void *user)
{
    r->cancel = cancel;
    r->cancel_user = user;
}

static bool remote_cancelled(const remote *r)
{
    return r->cancel && r->cancel(r->cancel_user);
}

/* ============================================================ the transfer ===== */

static void xfer_free(xfer *x)
{
    if (!x) return;
    if (x->h) {
        curl_multi_remove_handle(x->r->multi, x->h);
        curl_easy_cleanup(x->h);
    }
    curl_slist_free_all(x->hdrs);
    free(x->body);
    sse_free(&x->sse);
    strbuf_free(&x->errbody);
    for (size_t i = 0; i < x->q_n; i++) {
        free(x->q[x->q_head + i].text);
        free(x->q[x->q_head + i].cands);
    }
    free(x->q);
    free(x->pend);
    free(x);
}

/* Records the first error a callback met ("HOST: what"); returns false for the caller. */
static bool xfer_fail(xfer *x, const char *what)
{
    if (!x->failed) {
        x->failed = true;
        nt_err_set(&x->err, NT_ERR_IO, "%s: %s", x->r->host, what);
    }
    return false;
}

/* Queues a piece of text with its candidates (taken, may be NULL). */
static bool xfer_push(xfer *x, const char *s, size_t n, remote_cands *cands)
{
    if (x->got + n > x->r->max_answer) {
        char w[96];
        snprintf(w, sizeof w, "the answer passed %zu bytes (natter's cap): cut there", x->r->max_answer);
        free(cands);
        return xfer_fail(x, w);
    }
    if (x->q_head + x->q_n == x->q_cap) {
        if (x->q_head > 0) { /* slide the queue down before growing it */
            memmove(x->q, x->q + x->q_head, x->q_n * sizeof *x->q);
            x->q_head = 0;
        } else {
            size_t cap = x->q_cap ? x->q_cap * 2 : 16;
            piece *q = realloc(x->q, cap * sizeof *q);
            if (!q) {
                free(cands);
                return xfer_fail(x, "out of memory");
            }
            x->q = q;
            x->q_cap = cap;
        }
    }
    char *p = strndup(s, n);
    if (!p) {
        free(cands);
        return xfer_fail(x, "out of memory");
    }
    x->q[x->q_head + x->q_n++] = (piece){p, cands};
    x->got += n;
    return true;
}

/* The server's own words in an error body or event: {"error": {"message": ...}},
 * {"error": "..."} (Ollama) or {"message": ...}; else the body's text. */
static void remote_server_msg(const char *body, size_t n, char *dst, size_t cap)
{
    dst[0] = '\0';
    json_t *j = NULL;
    if (body && n) json_parse(body, n, &j, NULL); /* natter's one JSON reader: nesting capped */
    const char *m = NULL;
    if (j) {
        json_t *e = json_object_get(j, "error");
        if (json_is_string(e)) m = json_string_value(e);
        else if (json_is_object(e) && json_is_string(json_object_get(e, "message")))
            m = json_string_value(json_object_get(e, "message"));
        else if (json_is_string(json_object_get(j, "message")))
            m = json_string_value(json_object_get(j, "message"));
    }
    if (m) remote_quote(dst, cap, m, strlen(m));
    else if (body && n && !j) remote_quote(dst, cap, body, n);
    json_decref(j);
}

static void remote_copy_str(char *dst, size_t cap, json_t *v)
{
    if (!json_is_string(v)) return;
    remote_quote(dst, cap, json_string_value(v), strlen(json_string_value(v)));
}

/* A token's text as a candidate's label: at most GEN_CAND_TEXT - 1 bytes, cut where a UTF-8
 * character starts (the bytes stay the server's: the screen shows them through text.h). */
static void remote_cand_text(char *dst, const char *s, size_t n)
{
    if (n > GEN_CAND_TEXT - 1) {
        n = GEN_CAND_TEXT - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void remote_cand_add(remote_cands *c, const char *text, size_t n, double lp)
{
    if (c->n >= GEN_N_CAND || !isfinite(lp)) return;
    /* Kept likeliest first: the list is short, an insertion is enough. */
    int k = c->n++;
    while (k > 0 && c->p[k - 1] < (float)exp(lp)) {
        c->p[k] = c->p[k - 1];
        memcpy(c->text[k], c->text[k - 1], GEN_CAND_TEXT);
        k--;
    }
    c->p[k] = (float)exp(lp);
    remote_cand_text(c->text[k], text, n);
}

/* The first token's candidates in a choice's "logprobs": the chat form {"content": [{token,
 * logprob, top_logprobs: [{token, logprob}]}]} (llama.cpp's server uses it for both
 * endpoints), or the completions form {"top_logprobs": [{TOKEN: logprob}]}. malloc'd; NULL
 * when there are none (or no memory: candidates are a view, never worth failing for). */
static remote_cands *remote_read_cands(json_t *lp)
{
    remote_cands *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    json_t *e0 = json_array_get(json_object_get(lp, "content"), 0);
    json_t *top = json_object_get(e0, "top_logprobs"), *v;
    size_t i;
    if (json_is_array(top)) {
        json_array_foreach(top, i, v) {
            json_t *t = json_object_get(v, "token"), *l = json_object_get(v, "logprob");
            if (json_is_string(t) && json_is_number(l))
                remote_cand_add(c, json_string_value(t), json_string_length(t), json_number_value(l));
        }
    } else if (json_is_object(top = json_array_get(json_object_get(lp, "top_logprobs"), 0))) {
        const char *k;
        json_object_foreach(top, k, v)
            if (json_is_number(v)) remote_cand_add(c, k, strlen(k), json_number_value(v));
    }
    if (c->n == 0) {
        free(c);
        return NULL;
    }
    return c;
}

/* One SSE event: "[DONE]", an error, or a chunk of the answer. */
static int xfer_event(void *user, const char *type, const char *data, size_t n)
{
    xfer *x = user;
    if (n == 6 && !memcmp(data, "[DONE]", 6)) {
        x->finished = true;
        return 0;
    }
    json_error je;
    json_t *j = NULL;
    json_parse(data, n, &j, &je);
    if (!json_is_object(j)) {
        char w[300];
        if (j) snprintf(w, sizeof w, "malformed event in the stream: not a JSON object");
        else snprintf(w, sizeof w, "malformed event in the stream: %.200s", je.msg);
        json_decref(j);
        xfer_fail(x, w);
        return 1;
    }
    json_t *e = json_object_get(j, "error");
    if (e || strcmp(type, "error") == 0) {
        char m[REMOTE_MSG_MAX + 8], w[REMOTE_MSG_MAX + 64];
        remote_server_msg(data, n, m, sizeof m);
        json_decref(j);
        snprintf(w, sizeof w, "the server reported an error mid-answer: %s", m[0] ? m : "(no message)");
        xfer_fail(x, w);
        return 1;
    }
    remote *r = x->r;
    remote_copy_str(r->served_model, sizeof r->served_model, json_object_get(j, "model"));
    remote_copy_str(r->fingerprint, sizeof r->fingerprint, json_object_get(j, "system_fingerprint"));
    json_t *u = json_object_get(j, "usage");
    json_t *up = json_object_get(u, "prompt_tokens"), *uc = json_object_get(u, "completion_tokens");
    if (json_is_integer(up) && json_is_integer(uc) && json_integer_value(up) >= 0 &&
        json_integer_value(uc) >= 0 && json_integer_value(up) <= INT32_MAX / 2 &&
        json_integer_value(uc) <= INT32_MAX / 2) {
        r->have_usage = true;
        r->usage_prompt = (int32_t)json_integer_value(up);
        r->usage_completion = (int32_t)json_integer_value(uc);
    }
    json_t *c0 = json_array_get(json_object_get(j, "choices"), 0); /* usage-only chunks: none */
    if (c0) {
        json_t *lp = json_object_get(c0, "logprobs");
        remote_cands *cands = json_is_object(lp) ? remote_read_cands(lp) : NULL;
        if (cands) r->sent_probs = true;
        json_t *t = x->chat ? json_object_get(json_object_get(c0, "delta"), "content")
                            : json_object_get(c0, "text");
        if (json_is_string(t) && json_string_length(t) > 0) {
            /* A piece's candidates are its first token's: one that came without text (a
             * character split across tokens) comes first. */
            if (x->pend) {
                free(cands);
                cands = x->pend;
                x->pend = NULL;
            }
            if (!xfer_push(x, json_string_value(t), json_string_length(t), cands)) {
                json_decref(j);
                return 1;
            }
        } else if (!x->pend) {
            x->pend = cands;
        } else {
            free(cands);
        }
        json_t *f = json_object_get(c0, "finish_reason");
        if (json_is_string(f)) {
            x->finished = true;
            snprintf(x->finish, sizeof x->finish, "%s", json_string_value(f));
        }
    }
    json_decref(j);
    return 0;
}

static size_t xfer_write(char *d, size_t size, size_t nmemb, void *user)
{
    xfer *x = user;
    size_t n = size * nmemb;
    x->last_byte = remote_now();
    long code = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code >= 300) { /* an error's body: kept for its message */
        size_t room = REMOTE_ERRBODY_MAX - x->errbody.n;
        strbuf_put(&x->errbody, d, n < room ? n : room);
        return n;
    }
    int rc = sse_feed(&x->sse, d, n);
    if (rc == SSE_TOO_BIG) {
        char w[96];
        snprintf(w, sizeof w, "an event in the stream is larger than %zu bytes (natter's cap)",
                 x->r->max_event);
        xfer_fail(x, w);
    } else if (rc == SSE_NOMEM) {
        xfer_fail(x, "out of memory");
    }
    return rc == SSE_OK ? n : 0; /* 0 ends the transfer (CURLE_WRITE_ERROR) */
}

static size_t xfer_header(char *d, size_t size, size_t nmemb, void *user)
{
    xfer *x = user;
    size_t n = size * nmemb;
    x->last_byte = remote_now();
    if (n > 12 && !strncasecmp(d, "retry-after:", 12)) {
        char buf[32];
        size_t k = n - 12 < sizeof buf - 1 ? n - 12 : sizeof buf - 1;
        memcpy(buf, d + 12, k);
        buf[k] = '\0';
        char *end;
        long s = strtol(buf, &end, 10);
        if (end != buf && s >= 0) x->retry_after = s;
    }
    return n;
}

/* libcurl's progress callback: a non-zero return aborts the transfer at once. */
static int xfer_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    xfer *x = user;
    return remote_cancelled(x->r) ? 1 : 0;
}

/* A new transfer of body (owned by the transfer from now on) to {base}/path. */
static xfer *xfer_new(remote *r, const char *base, const char *path, char *body, bool chat,
                      nt_err *err)
{
    xfer *x = calloc(1, sizeof *x);
    if (!x) {
        free(body);
        nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    x->r = r;
    x->body = body;
    x->chat = chat;
    x->retry_after = -1;
    sse_init(&x->sse, r->max_event, xfer_event, x);
    strbuf url = {0};
    strbuf_printf(&url, "%s/%s", base, path);
    char *u = strbuf_take(&url, NULL);
    x->h = curl_easy_init();
    if (!u || !x->h) goto nomem;
    x->hdrs = curl_slist_append(x->hdrs, body ? "Content-Type: application/json" : "Accept: application/json");
    if (body) x->hdrs = curl_slist_append(x->hdrs, "Accept: text/event-stream");
    if (r->auth) x->hdrs = curl_slist_append(x->hdrs, r->auth);
    if (!x->hdrs) goto nomem;
    CURL *h = x->h;
    curl_easy_setopt(h, CURLOPT_URL, u);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, xfer_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, xfer_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xfer_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, r->connect_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->curl_err);
    curl_easy_setopt(h, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "natter");
    /* The body goes to every server: never to one a redirect names. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    free(u);
    x->last_byte = remote_now();
    if (curl_multi_add_handle(r->multi, h) != CURLM_OK) goto nomem_x;
    return x;
nomem:
    free(u);
nomem_x:
    xfer_free(x);
    nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    return NULL;
}

/* The one message for a transfer that ended without a whole answer (x->done). */
static int xfer_error(xfer *x, nt_err *err)
{
    remote *r = x->r;
    if (x->failed) return nt_err_set(err, x->err.code, "%s", x->err.msg);
    long code = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
    const char *ce = x->curl_err[0] ? x->curl_err : curl_easy_strerror(x->cc);
    switch (x->cc) {
    case CURLE_OK: break;
    case CURLE_COULDNT_CONNECT:
        return nt_err_set(err, NT_ERR_IO, "%s: cannot connect (connection refused): is a server "
                          "running at %s?", r->host, r->base_public);
    case CURLE_COULDNT_RESOLVE_HOST:
        return nt_err_set(err, NT_ERR_IO, "%s: no such host (DNS lookup failed): check --api-base %s",
                          r->host, r->base_public);
    case CURLE_OPERATION_TIMEDOUT:
        return nt_err_set(err, NT_ERR_IO, "%s: no connection within %g s (connect timeout)",
                          r->host, (double)r->connect_ms / 1000);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_USE_SSL_FAILED:
        return nt_err_set(err, NT_ERR_IO, "%s: TLS error: %s", r->host, ce);
    case CURLE_ABORTED_BY_CALLBACK:
        return nt_err_set(err, NT_ERR_CANCELLED, "cancelled");
    default:
        if (code >= 200 && code < 300)
            return nt_err_set(err, NT_ERR_IO, "%s: the stream was cut before the answer ended (%s)",
                              r->host, ce);
        if (code == 0) return nt_err_set(err, NT_ERR_IO, "%s: %s", r->host, ce);
        break;
    }
    char m[REMOTE_MSG_MAX + 8];
    remote_server_msg(x->errbody.s, x->errbody.n, m, sizeof m);
    char said[REMOTE_MSG_MAX + 40] = "";
    if (m[0]) snprintf(said, sizeof said, " (the server says: %s)", m);
    if (code == 401 || code == 403)
        return nt_err_set(err, NT_ERR_IO, "%s: HTTP %ld: the server refused the API key (from $%s, %s)%s",
                          r->host, code, r->key_env, r->auth ? "set" : "not set", said);
    if (code == 404)
        return nt_err_set(err, NT_ERR_IO,
                          "%s: HTTP 404: no model '%s' or no such endpoint under %s%s; "
                          "`natter models --api-base URL` lists what it offers",
                          r->host, r->model, r->base_public, said);
    if (code == 429) {
        char ra[48] = "";
        if (x->retry_after >= 0) snprintf(ra, sizeof ra, "; retry after %ld s", x->retry_after);
        return nt_err_set(err, NT_ERR_IO, "%s: HTTP 429: too many requests (rate limit)%s%s",
                          r->host, ra, said);
    }
    if (code >= 500)
        return nt_err_set(err, NT_ERR_IO, "%s: HTTP %ld: the server failed%s", r->host, code, said);
    if (code < 200 || code >= 300)
        return nt_err_set(err, NT_ERR_IO, "%s: HTTP %ld: the server refused the request%s", r->host,
                          code, said);
    if (sse_pending(&x->sse) || !x->finished)
        return nt_err_set(err, NT_ERR_IO, "%s: the stream was cut before the answer ended",
                          r->host);
    return NT_OK;
}

/* Runs the transfers until x has a piece queued, has failed or is over. NT_OK then;
 * NT_ERR_CANCELLED; NT_ERR_IO for the idle timeout. */
static int xfer_pump(xfer *x, nt_err *err)
{
    remote *r = x->r;
    for (;;) {
        if (x->q_n > 0 || x->failed || x->done) return NT_OK;
        if (remote_cancelled(r)) return nt_err_set(err, NT_ERR_CANCELLED, "cancelled");
        int running = 0;
        curl_multi_perform(r->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(r->multi, &left)))
            if (msg->msg == CURLMSG_DONE) {
                xfer *y = NULL;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&y);
                if (y) {
                    y->done = true;
                    y->cc = msg->data.result;
                }
            }
        if (x->q_n > 0 || x->failed || x->done) return NT_OK;
        if ((remote_now() - x->last_byte) * 1000 > (double)r->idle_ms)
            return nt_err_set(err, NT_ERR_IO, "%s: the server sent nothing for %g s (idle timeout)",
                              r->host, (double)r->idle_ms / 1000);
        curl_multi_poll(r->multi, NULL, 0, REMOTE_POLL_MS, NULL);
    }
}

/* Runs x until its first piece or its end. NT_OK: x has a piece or ended whole. */
static int xfer_first(xfer *x, nt_err *err)
{
    int rc = xfer_pump(x, err);
    if (rc != NT_OK) return rc;
    if (x->q_n > 0) return NT_OK;
    if (x->failed || x->done) return xfer_error(x, err);
    return NT_OK;
}

/* ============================================================ the requests ===== */

static const char *remote_role(enum nt_chat_role r)
{
    return r == NT_ROLE_SYSTEM ? "system" : r == NT_ROLE_ASSISTANT ? "assistant" : "user";
}

/* The request's JSON (malloc'd) or NULL when memory runs out. */
static char *remote_body(const remote *r, const remote_req *q, bool extras, bool optional)
{
    json_t *o = json_object();
    if (!o) return NULL;
    if (r->model[0]) json_object_set_new(o, "model", json_string(r->model));
    if (q->prompt) {
        json_object_set_new(o, "prompt", json_string(q->prompt));
    } else {
        json_t *msgs = json_array();
        for (size_t i = 0; i < q->n_msgs; i++) {
            json_t *m = json_object();
            json_object_set_new(m, "role", json_string(remote_role(q->msgs[i].role)));
            json_object_set_new(m, "content", json_string(q->msgs[i].content));
            json_array_append_new(msgs, m);
        }
        json_object_set_new(o, "messages", msgs);
    }
    json_object_set_new(o, "stream", json_true());
    const nt_sampler_params *p = &q->params;
    json_object_set_new(o, "temperature", json_real(p->temperature));
    json_object_set_new(o, "top_p", json_real(p->top_p));
    json_object_set_new(o, "presence_penalty", json_real(p->presence_penalty));
    json_object_set_new(o, "frequency_penalty", json_real(p->frequency_penalty));
    /* Servers take 32-bit seeds (llama.cpp) or any integer: the low 32 bits go. */
    json_object_set_new(o, "seed", json_integer((json_int_t)(p->seed & 0xFFFFFFFFu)));
    if (q->max_tokens > 0) json_object_set_new(o, "max_tokens", json_integer(q->max_tokens));
    if (q->n_stop > 0) {
        json_t *st = json_array();
        for (size_t i = 0; i < q->n_stop; i++) json_array_append_new(st, json_string(q->stop[i]));
        json_object_set_new(o, "stop", st);
    }
    if (optional && q->top_logprobs > 0) {
        if (q->prompt) { /* the completions endpoint's form; OpenAI's allows at most 5 */
            json_object_set_new(o, "logprobs", json_integer(q->top_logprobs < 5 ? q->top_logprobs : 5));
        } else {
            json_object_set_new(o, "logprobs", json_true());
            json_object_set_new(o, "top_logprobs", json_integer(q->top_logprobs));
        }
    }
    /* The token count the status bar shows comes with the last chunk when asked for. */
    if (optional) json_object_set_new(o, "stream_options", json_pack("{s:b}", "include_usage", 1));
    if (extras) {
        json_object_set_new(o, "top_k", json_integer(p->top_k));
        json_object_set_new(o, "min_p", json_real(p->min_p));
        json_object_set_new(o, "repeat_penalty", json_real(p->repeat_penalty));
        json_object_set_new(o, "repeat_last_n", json_integer(p->repeat_last_n));
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* Sends q and runs it to its first piece: a new transfer in *out. */
static int remote_send(remote *r, const remote_req *q, xfer **out, nt_err *err)
{
    *out = NULL;
    for (int attempt = 0;; attempt++) {
        char *body = remote_body(r, q, r->extras, r->optional);
        if (!body) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        xfer *x = xfer_new(r, r->base, q->prompt ? "completions" : "chat/completions", body,
                           !q->prompt, err);
        if (!x) return err->code;
        r->served_model[0] = r->fingerprint[0] = '\0';
        r->have_usage = r->sent_probs = false;
        int rc = xfer_first(x, err);
        long code = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
        /* A strict server (a hosted API) refuses fields it does not know, before answering:
         * asking again without llama.cpp's extras, then without the optional OpenAI fields,
         * is safe, nothing was generated. */
        if (rc != NT_OK && code == 400 && (r->extras || r->optional) && attempt < 2 && x->got == 0) {
            xfer_free(x);
            if (r->extras) r->extras = false;
            else r->optional = false;
            continue;
        }
        if (rc != NT_OK) {
            xfer_free(x);
            return rc;
        }
        *out = x;
        return NT_OK;
    }
}

int remote_start(remote *r, const remote_req *q, nt_err *err)
{
    xfer_free(r->cur);
    r->cur = NULL;
    r->answer.n = 0;
    if (r->answer.s) r->answer.s[0] = '\0';
    return remote_send(r, q, &r->cur, err);
}

void remote_end(remote *r)
{
    xfer_free(r->cur);
    r->cur = NULL;
}

const char *remote_answer_text(const remote *r, size_t *len)
{
    if (len) *len = r->answer.n;
    return r->answer.s ? r->answer.s : "";
}

static int remote_get(remote *r, const char *base, const char *path, strbuf *body, nt_err *err);

/* llama.cpp's server names its chat template at {root}/props (root: the base without /v1). */
static void remote_probe_family(remote *r)
{
    r->family_probed = true;
    size_t n = strlen(r->base);
    if (n >= 3 && !strcmp(r->base + n - 3, "/v1")) n -= 3;
    char *root = strndup(r->base, n);
    strbuf body = {0};
    nt_err e = {0};
    if (root && remote_get(r, root, "props", &body, &e) == NT_OK) {
        json_t *j = NULL;
        json_parse(body.s ? body.s : "", body.n, &j, NULL);
        json_t *t = json_object_get(j, "chat_template");
        if (json_is_string(t) && json_string_length(t) > 0)
            r->family = (int)nt_chat_detect(json_string_value(t));
        json_decref(j);
    }
    free(root);
    strbuf_free(&body);
}

int remote_render(remote *r, const nt_chat_msg *msgs, size_t n, char **out, nt_err *err)
{
    *out = NULL;
    if (r->family < 0 && !r->family_probed) remote_probe_family(r);
    if (r->family < 0)
        return nt_err_set(err, NT_ERR_UNSUPPORTED,
                          "natter does not know the server's chat template (give it with "
                          "--template NAME)");
    nt_chat_prompt p = {0};
    int rc = nt_chat_format((enum nt_chat_family)r->family, msgs, n, true, &p, err);
    if (rc != NT_OK) return rc;
    *out = nt_chat_prompt_text(&p);
    nt_chat_prompt_free(&p);
    return *out ? NT_OK : nt_err_set(err, NT_ERR_NOMEM, "out of memory");
}

int remote_continue(remote *r, const remote_req *q, nt_err *err)
{
    xfer *x;
    nt_err e = {0};
    int rc = remote_send(r, q, &x, &e);
    if (rc == NT_ERR_CANCELLED) return nt_err_set(err, rc, "cancelled");
    if (rc != NT_OK)
        return nt_err_set(err, NT_ERR_UNSUPPORTED,
                          "the server cannot continue the answer with new settings (%s); they "
                          "apply from the next answer", e.msg);
    xfer_free(r->cur);
    r->cur = x;
    return NT_OK;
}

int remote_continue_answer(remote *r, const nt_chat_msg *msgs, size_t n, const remote_req *q,
                           nt_err *err)
{
    char *prompt = NULL;
    int rc = remote_render(r, msgs, n, &prompt, err);
    if (rc != NT_OK) return rc;
    strbuf full = {0};
    strbuf_puts(&full, prompt);
    strbuf_put(&full, r->answer.s ? r->answer.s : "", r->answer.n);
    free(prompt);
    if (full.oom) {
        strbuf_free(&full);
        return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    }
    remote_req c = *q;
    c.msgs = NULL;
    c.n_msgs = 0;
    c.prompt = full.s;
    rc = remote_continue(r, &c, err);
    strbuf_free(&full);
    return rc;
}

/* =============================================================== listing ===== */

static size_t remote_collect(char *d, size_t size, size_t nmemb, void *user)
{
    strbuf *b = user;
    size_t n = size * nmemb;
    if (b->n + n > REMOTE_ERRBODY_MAX * 64) return 0; /* 1 MiB of model list is plenty */
    return strbuf_put(b, d, n) ? n : 0;
}

/* GET {base}/path whole into *body (caller frees): NT_OK for a 2xx answer. */
static int remote_get(remote *r, const char *base, const char *path, strbuf *body, nt_err *err)
{
    xfer *x = xfer_new(r, base, path, NULL, false, err);
    if (!x) return err->code;
    curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, remote_collect);
    curl_easy_setopt(x->h, CURLOPT_WRITEDATA, body);
    int rc = NT_OK;
    while (!x->done && rc == NT_OK) rc = xfer_pump(x, err);
    if (rc == NT_OK) {
        long code = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
        if (x->cc != CURLE_OK || code < 200 || code >= 300) {
            x->finished = true;
            strbuf_put(&x->errbody, body->s, body->n);
            rc = xfer_error(x, err);
            if (rc == NT_OK) rc = nt_err_set(err, NT_ERR_IO, "%s: no answer", r->host);
        }
    }
    xfer_free(x);
    return rc;
}

int remote_list_models(remote *r, char ***ids, size_t *n, nt_err *err)
{
    *ids = NULL;
    *n = 0;
    strbuf body = {0};
    int rc = remote_get(r, r->base, "models", &body, err);
    if (rc != NT_OK) goto out;
    json_t *j = NULL;
    json_parse(body.s ? body.s : "", body.n, &j, NULL);
    json_t *data = json_object_get(j, "data");
    if (!json_is_array(data)) {
        json_decref(j);
        rc = nt_err_set(err, NT_ERR_FORMAT, "%s: the model list is not the OpenAI form ({\"data\": [...]})",
                        r->host);
        goto out;
    }
    size_t k = json_array_size(data);
    char **v = calloc(k ? k : 1, sizeof *v);
    if (!v) {
        json_decref(j);
        rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        json_t *id = json_object_get(json_array_get(data, i), "id");
        if (!json_is_string(id)) continue;
        char q[REMOTE_MSG_MAX + 8];
        remote_quote(q, sizeof q, json_string_value(id), json_string_length(id));
        if ((v[m] = strdup(q))) m++;
    }
    json_decref(j);
    *ids = v;
    *n = m;
out:
    strbuf_free(&body);
    return rc;
}

/* ============================================================ the source ===== */

int remote_piece_cands(const remote *r, remote_cands *out)
{
    const piece *p = r->cur && r->cur->q_n > 0 ? &r->cur->q[r->cur->q_head] : NULL;
    if (p && p->cands) *out = *p->cands;
    else out->n = 0;
    return out->n;
}

static size_t remote_src_begin(void *self, const int32_t **ids)
{
    *ids = NULL;
    return 0; /* the server holds the context: no penalty history here */
}

static const float *remote_src_logits(void *self)
{
    remote *r = self;
    bool piece = r->cur && r->cur->q_n > 0;
    r->logits[REMOTE_TOK_TEXT] = piece ? 0.0f : -INFINITY;
    r->logits[REMOTE_TOK_END] = piece ? -INFINITY : 0.0f;
    return r->logits;
}

static int remote_src_eval(void *self, int32_t id, nt_err *err)
{
    remote *r = self;
    xfer *x = r->cur;
    if (!x || x->q_n == 0) return nt_err_set(err, NT_ERR_INVALID, "remote: no piece to take");
    piece *p = &x->q[x->q_head];
    strbuf_puts(&r->answer, p->text);
    free(p->text);
    free(p->cands);
    x->q_head++;
    x->q_n--;
    if (r->answer.oom) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    int rc = xfer_pump(x, err);
    if (rc != NT_OK) return rc;
    if (x->q_n > 0) return NT_OK;
    return xfer_error(x, err); /* NT_OK when the answer ended whole */
}

static bool remote_src_is_eog(void *self, int32_t id)
{
    return id == REMOTE_TOK_END;
}

static const char *remote_src_text(void *self, int32_t id, size_t *len)
{
    remote *r = self;
    if (id != REMOTE_TOK_TEXT || !r->cur || r->cur->q_n == 0) {
        *len = 0;
        return "";
    }
    const char *p = r->cur->q[r->cur->q_head].text;
    *len = strlen(p);
    return p;
}

static const char *remote_src_flush(void *self, size_t *len)
{
    *len = 0;
    return "";
}

static enum gen_end remote_src_eog_end(void *self)
{
    remote *r = self;
    return r->cur && !strcmp(r->cur->finish, "length") ? GEN_END_LENGTH : GEN_END_EOG;
}

static const gen_source_ops remote_ops = {
    .begin = remote_src_begin,
    .logits = remote_src_logits,
    .eval = remote_src_eval,
    .is_eog = remote_src_is_eog,
    .text = remote_src_text,
    .flush = remote_src_flush,
    .eog_end = remote_src_eog_end,
};

gen_source remote_source(remote *r)
{
    return (gen_source){.ops = &remote_ops, .self = r, .n_vocab = 2};
}
