/* replay.c — regenerates a session's answers exactly (see replay.h).
 *
 * Exactness rests on three things: the prompt is rebuilt by the same chat code from the same
 * turns (the recorded answers' ids included, as the chat reuses them); the engine's logits
 * depend neither on the thread count nor on how a prompt was split into nt_model_eval calls
 * (natter.h), so reading the prompt in one go gives the logits of the recording however its
 * KV cache was filled (turn by turn, regenerated, resumed); and the answer runs through the
 * worker's own generation loop (gen.h), with each recorded live change handed to it before
 * its recorded token. */
#include "replay.h"
#include "remote.h"
#include "util/strbuf.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct replay {
    const session *s;           /* borrowed */
    nt_model *m;                /* NULL when a server answers */
    remote *rm;                 /* a remote session's server (owned); NULL for a local model */
    const nt_tokenizer *tok;    /* borrowed from m */
    char *path;                 /* the model file used */
    bool same_model, exact;
    enum nt_chat_family family;
    int32_t n_ctx;
    gen_local src;              /* the model as the loop's source; src.ctx: its cache's ids */
    replay_opts o;

    /* The chat holding the recorded conversation up to the question being answered. */
    chat *c;
    atomic_bool cancel;         /* replay_cancel: end at the next token */
};

static bool file_exists(const char *p) { return p && access(p, R_OK) == 0; }
static int replay_init_chat(replay *r, nt_err *err);
static int replay_init_remote(replay *r, nt_err *err);

/* The recorded model: its path, else its file name here or under models/. */
static char *replay_find_model(const session *s)
{
    if (file_exists(s->model.path)) return strdup(s->model.path);
    if (!s->model.file) return NULL;
    if (file_exists(s->model.file)) return strdup(s->model.file);
    char buf[4096];
    snprintf(buf, sizeof buf, "models/%s", s->model.file);
    if (file_exists(buf)) return strdup(buf);
    return NULL;
}

/* Applies the overrides to p. */
static void replay_override(const replay *r, nt_sampler_params *p)
{
    for (int i = 0; i < r->o.n_overrides; i++) chat_set_param(p, r->o.names[i], r->o.values[i], NULL);
}

int replay_init(replay **out, const session *s, const replay_opts *opts, nt_err *err)
{
    *out = NULL;
    replay_opts o = {0};
    if (opts) o = *opts;
    if (o.n_overrides < 0 || o.n_overrides > REPLAY_MAX_OVERRIDES)
        return nt_err_set(err, NT_ERR_INVALID, "too many overrides");
    for (int i = 0; i < o.n_overrides; i++) {
        nt_sampler_params p = nt_sampler_default_params();
        nt_err e = {0};
        if (chat_set_param(&p, o.names[i], o.values[i], &e) != NT_OK)
            return nt_err_set(err, NT_ERR_INVALID, "--%s: %s", o.names[i], e.msg);
    }
    replay *r = calloc(1, sizeof *r);
    if (!r) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    atomic_init(&r->cancel, false);
    r->s = s;
    r->o = o;
    int rc;
    if (!o.model_path && (s->model.api_base || o.api_base)) {
        rc = replay_init_remote(r, err);
        if (rc != NT_OK) goto fail;
        *out = r;
        return NT_OK;
    }
    r->path = o.model_path ? strdup(o.model_path) : replay_find_model(s);
    if (!r->path) {
        rc = nt_err_set(err, NT_ERR_IO,
                        "the recorded model %s was not found (%s); give it with -m MODEL.gguf",
                        s->model.file ? s->model.file : "?",
                        s->model.path ? s->model.path : "no path recorded");
        goto fail;
    }
    nt_model_params mp = nt_model_default_params();
    mp.n_ctx = s->n_ctx;
    mp.n_threads = o.n_threads;
    mp.kv_type = s->model.kv_type; /* the cache's type changes the numbers: the recorded one */
    rc = nt_model_load(&r->m, r->path, &mp, err);
    if (rc != NT_OK) goto fail;
    r->tok = nt_model_tokenizer(r->m);
    r->n_ctx = nt_model_get_info(r->m)->n_ctx;
    r->same_model = session_model_is(&s->model, nt_model_gguf(r->m));
    r->exact = r->same_model && o.n_overrides == 0;
    /* The recorded template for the recorded model; another model speaks its own. */
    r->family = r->same_model ? s->family : nt_chat_detect_gguf(nt_model_gguf(r->m));
    r->c = chat_init(r->tok, r->family, r->n_ctx);
    if (!r->c || gen_local_init(&r->src, r->m, err) != NT_OK) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    rc = replay_init_chat(r, err);
    if (rc != NT_OK) goto fail;
    *out = r;
    return NT_OK;
fail:
    replay_free(r);
    return rc;
}

/* The chat holding the recorded fixed part: system prompt, examples, greeting. */
static int replay_init_chat(replay *r, nt_err *err)
{
    const session *s = r->s;
    chat_set_raw(r->c, s->raw);
    /* A remote server's template is its own: no switch here. */
    chat_set_think_switch(r->c, r->m && nt_chat_think_switch_gguf(nt_model_gguf(r->m)));
    nt_chat_msg *msgs = calloc(s->n_examples + 1, sizeof *msgs);
    size_t nm = 0;
    if (msgs) {
        msgs[nm++] = (nt_chat_msg){NT_ROLE_SYSTEM, s->system ? s->system : ""};
        for (size_t i = 0; i < s->n_examples; i++)
            msgs[nm++] = (nt_chat_msg){s->examples[i].role, s->examples[i].text};
    }
    int prc = msgs ? chat_set_prefix(r->c, msgs, nm) : NT_ERR_NOMEM;
    free(msgs);
    if (prc != NT_OK || chat_set_greeting(r->c, s->greeting) != NT_OK)
        return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    return NT_OK;
}

static bool replay_remote_cancelled(void *user)
{
    replay *r = user;
    return atomic_load(&r->cancel);
}

/* A remote session: its server (or o.api_base) and model, and a chat of messages. The
 * server's identity cannot be checked, only its answers: exact means no override. */
static int replay_init_remote(replay *r, nt_err *err)
{
    const session *s = r->s;
    remote_cfg c = {.base = r->o.api_base ? r->o.api_base : s->model.api_base,
                    .model = s->model.name, .key_env = r->o.api_key_env, .family = (int)s->family,
                    .connect_ms = r->o.connect_ms, .idle_ms = r->o.idle_ms};
    /* The timeouts the chat takes from the environment (natter(1), ENVIRONMENT). */
    const char *ct = getenv("NATTER_API_CONNECT_TIMEOUT"), *it = getenv("NATTER_API_IDLE_TIMEOUT");
    if (ct && atof(ct) > 0) c.connect_ms = (long)(atof(ct) * 1000);
    if (it && atof(it) > 0) c.idle_ms = (long)(atof(it) * 1000);
    int rc = remote_init(&r->rm, &c, err);
    if (rc != NT_OK) return rc;
    remote_set_cancel(r->rm, replay_remote_cancelled, r);
    strbuf b = {0};
    strbuf_printf(&b, "%s at %s", s->model.name && s->model.name[0] ? s->model.name : "(the server's model)",
                  remote_base(r->rm));
    r->path = strbuf_take(&b, NULL);
    r->same_model = true;
    r->exact = r->o.n_overrides == 0;
    r->family = s->family;
    r->c = chat_init(NULL, r->family, 0);
    if (!r->path || !r->c) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    return replay_init_chat(r, err);
}

void replay_free(replay *r)
{
    if (!r) return;
    chat_free(r->c);
    gen_local_free(&r->src);
    nt_model_free(r->m);
    remote_free(r->rm);
    free(r->path);
    free(r);
}

bool replay_exact(const replay *r) { return r->exact; }
const char *replay_model_path(const replay *r) { return r->path; }
bool replay_remote(const replay *r) { return r->rm != NULL; }
const nt_tokenizer *replay_tokenizer(const replay *r) { return r->tok; }

void replay_cancel(replay *r)
{
    if (r) atomic_store(&r->cancel, true);
}

/* Characters (UTF-8 lead bytes) in s[0..n). */
static size_t replay_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* The byte where the texts a and b part (their common length when one is the other's
 * start), moved back to the start of the character it falls in. */
static size_t replay_text_parts(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i]) i++;
    while (i > 0 && ((unsigned char)a[i] & 0xC0) == 0x80) i--;
    return i;
}

enum replay_diff replay_compare(const chat_turn *t, const replay_result *res, size_t *first)
{
    if (res->remote) { /* a server's pieces are not its tokens: the text says it all */
        const char *a = t->text ? t->text : "", *b = res->text ? res->text : "";
        size_t i = replay_text_parts(a, b);
        if (first) *first = replay_chars(a, i);
        if (a[i] || b[i]) return REPLAY_DIFF_REMOTE;
        return res->end != t->end || res->stop_text != t->stop_text ? REPLAY_DIFF_END : REPLAY_SAME;
    }
    size_t k = 0;
    while (k < res->tokens.n && k < t->tokens.n && res->tokens.v[k] == t->tokens.v[k]) k++;
    if (first) *first = k;
    if (k != res->tokens.n || k != t->tokens.n) return REPLAY_DIFF_TOKENS;
    if (res->end != t->end || res->stop_text != t->stop_text)
        return REPLAY_DIFF_END;
    if (!res->prompt_matches) return REPLAY_DIFF_PROMPT;
    /* The ids alone would pass an answer whose text was edited, and export shows the text. */
    if (strcmp(res->text ? res->text : "", t->text ? t->text : "") != 0) return REPLAY_DIFF_TEXT;
    return REPLAY_SAME;
}

bool replay_matches(const chat_turn *t, const replay_result *res, size_t *first)
{
    return replay_compare(t, res, first) == REPLAY_SAME;
}

/* A token as `id "bytes"`, its bytes escaped (a token may hold any byte), or the answer's end. */
static void replay_token_desc(const nt_tokenizer *t, int32_t id, char *buf, size_t cap)
{
    if (id < 0) {
        snprintf(buf, cap, "(the answer ends)");
        return;
    }
    char raw[256];
    int n = nt_tokenizer_token_bytes(t, id, raw, sizeof raw);
    if (n < 0) n = 0;
    if (n > (int)sizeof raw) n = (int)sizeof raw;
    size_t o = (size_t)snprintf(buf, cap, "%d \"", id);
    for (int i = 0; i < n && o + 6 < cap; i++) {
        unsigned char ch = (unsigned char)raw[i];
        if (ch < 0x20 || ch == '"' || ch == '\\' || ch == 0x7f) o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
        else buf[o++] = (char)ch;
    }
    snprintf(buf + o, cap - o, "\"");
}

/* What follows the place two texts part: at most 40 bytes (whole characters), quoted, line
 * ends and other control characters written as escapes; "(the end)" when nothing does. */
static void replay_snippet(strbuf *b, const char *label, const char *s)
{
    strbuf_puts(b, label);
    if (!*s) {
        strbuf_puts(b, "(the end)");
        return;
    }
    size_t n = strlen(s);
    if (n > 40) {
        n = 40;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    }
    strbuf_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n') strbuf_puts(b, "\\n");
        else if (ch < 0x20 || ch == 0x7f) strbuf_printf(b, "\\x%02x", ch);
        else strbuf_put(b, s + i, 1);
    }
    strbuf_puts(b, s[n] ? "\"..." : "\"");
}

char *replay_describe(const session *s, size_t turn, const replay_result *res, enum replay_diff d,
                      size_t first, const nt_tokenizer *tok)
{
    const chat_turn *t = &s->turns[turn];
    const char *file = s->path ? s->path : "(session)";
    strbuf b = {0};
    strbuf_printf(&b, "message %zu: %s: ", turn + 1, file);
    if (res->remote && d != REPLAY_DIFF_REMOTE) {
        const char *tx = t->text ? t->text : "";
        size_t nc = replay_chars(tx, strlen(tx));
        if (d == REPLAY_SAME)
            strbuf_printf(&b, "identical, %zu characters (%s)", nc, gen_end_name(res->end, res->stop_text));
        else
            strbuf_printf(&b, "the same %zu characters, another end:\n  recorded end: %s\n"
                          "  replayed end: %s", nc, gen_end_name(t->end, t->stop_text),
                          gen_end_name(res->end, res->stop_text));
        return strbuf_take(&b, NULL);
    }
    switch (d) {
    case REPLAY_SAME:
        strbuf_printf(&b, "%zu tokens identical (%s)", res->tokens.n, gen_end_name(res->end, res->stop_text));
        break;
    case REPLAY_DIFF_TOKENS:
    case REPLAY_DIFF_END:
        strbuf_printf(&b, "differs at token %zu (of %zu recorded):\n", first, t->tokens.n);
        if (d == REPLAY_DIFF_END) {
            strbuf_printf(&b, "  recorded end: %s\n  replayed end: %s", gen_end_name(t->end, t->stop_text),
                          gen_end_name(res->end, res->stop_text));
        } else {
            char ra[300], rb[300];
            replay_token_desc(tok, first < t->tokens.n ? t->tokens.v[first] : -1, ra, sizeof ra);
            replay_token_desc(tok, first < res->tokens.n ? res->tokens.v[first] : -1, rb, sizeof rb);
            strbuf_printf(&b, "  recorded token: %s\n  replayed token: %s", ra, rb);
        }
        if (!res->prompt_matches)
            strbuf_puts(&b, "\n  (the prompt does not have the recorded length: the template or "
                            "tokenizer changed)");
        break;
    case REPLAY_DIFF_PROMPT:
        strbuf_printf(&b, "the prompt rebuilt from the recording has %d tokens, its 'prompt_length' "
                      "says %d (the file was edited, or the template or tokenizer changed)",
                      (int)res->n_prompt, (int)t->prompt_len);
        break;
    case REPLAY_DIFF_TEXT:
        strbuf_printf(&b, "the recorded text is not the text of its %zu tokens (the file was "
                      "edited: the tokens are what the model wrote)", t->tokens.n);
        break;
    case REPLAY_DIFF_REMOTE: {
        const char *ta = t->text ? t->text : "", *tb = res->text ? res->text : "";
        size_t i = replay_text_parts(ta, tb);
        strbuf_printf(&b, "differs at character %zu (of %zu recorded, %zu replayed):\n", first,
                      replay_chars(ta, strlen(ta)), replay_chars(tb, strlen(tb)));
        replay_snippet(&b, "  recorded: ", ta + i);
        replay_snippet(&b, "\n  replayed: ", tb + i);
        break;
    }
    }
    return strbuf_take(&b, NULL);
}

void replay_result_free(replay_result *res)
{
    if (!res) return;
    nt_tokens_free(&res->tokens);
    free(res->text);
    memset(res, 0, sizeof *res);
}

/* Brings the chat to hold the conversation before the session's turn `turn`: the path from
 * the first question down to its parent, whichever branch of the tree it is on (*depth gets
 * its length). The chat holds only that path; the KV cache keeps what the paths share. */
static int replay_sync_chat(replay *r, size_t turn, size_t *depth, nt_err *err)
{
    size_t n = 0;
    for (size_t p = r->s->turns[turn].parent; p != CHAT_ROOT; p = r->s->turns[p].parent) n++;
    size_t *path = malloc((n ? n : 1) * sizeof *path);
    if (!path) return nt_err_set(err, NT_ERR_NOMEM, "replay: out of memory");
    *depth = n;
    for (size_t p = r->s->turns[turn].parent, k = n; p != CHAT_ROOT; p = r->s->turns[p].parent)
        path[--k] = p;
    /* The chat's turns are copies: compare texts to see how much of the path it has. */
    size_t have = 0;
    while (have < chat_n_turns(r->c) && have < n) {
        const chat_turn *a = chat_turn_at(r->c, have), *b = &r->s->turns[path[have]];
        if (strcmp(a->text, b->text) ||
            (r->same_model && (a->tokens.n != b->tokens.n ||
                               (a->tokens.n && memcmp(a->tokens.v, b->tokens.v,
                                                      a->tokens.n * sizeof *a->tokens.v)))))
            break;
        have++;
    }
    if (have < chat_n_turns(r->c)) chat_clear(r->c); /* another branch: restore it whole */
    int rc = NT_OK;
    for (size_t i = chat_n_turns(r->c); i < n && rc == NT_OK; i++) {
        chat_turn t = r->s->turns[path[i]];
        if (!r->same_model) {
            /* Another vocabulary: the recorded ids mean nothing to it; use the text. */
            t.tokens = (nt_tokens){0};
        }
        rc = chat_restore_turn(r->c, &t);
        if (rc != NT_OK) rc = nt_err_set(err, rc, "cannot restore message %zu before it", path[i] + 1);
    }
    free(path);
    return rc;
}

/* Fills the cache with P: keeps the common prefix with what it holds and evaluates the rest
 * at once (the engine's logits do not depend on how a prompt is split into calls, so this
 * gives the logits of the recording however its cache was filled). */
static int replay_fill(replay *r, const nt_tokens *P, int32_t *n_eval, nt_err *err)
{
    const nt_tokens *cache = &r->src.ctx;
    size_t common = 0;
    while (common < cache->n && common < P->n && cache->v[common] == P->v[common]) common++;
    if (common >= P->n) common = P->n - 1;
    gen_local_rewind(&r->src, (int32_t)common);
    int rc = gen_local_eval(&r->src, P->v + common, (int32_t)(P->n - common), err);
    if (rc != NT_OK) {
        gen_local_rewind(&r->src, 0);
        return rc;
    }
    *n_eval = (int32_t)(P->n - common);
    return NT_OK;
}

/* One answer's replay: what the loop's hooks read and fill. */
typedef struct replay_run {
    replay *r;
    const chat_turn *t;
    int64_t stop_at;        /* the recorded stop by the user came before this token, or -1 */
    size_t ci;              /* the next recorded live change */
    replay_token_fn fn;
    void *user;
    replay_result *res;
    strbuf txt;             /* the answer's text as it grows; res->text at the end */
    /* A server's answer: the request's messages and stop strings (borrowed), and why a
     * recorded live change could not be continued ("" when it could). */
    const nt_chat_msg *msgs;
    size_t n_msgs;
    const char *const *stops;
    size_t n_stops;
    char cont_err[sizeof ((nt_err *)0)->msg + 96];
} replay_run;

static bool replay_gen_stop(void *user, int32_t i)
{
    replay_run *run = user;
    return (run->stop_at >= 0 && i >= run->stop_at) || atomic_load(&run->r->cancel);
}

/* The recorded live changes, each exactly before its token, overrides applied. */
static bool replay_gen_params(void *user, int32_t i, nt_sampler_params *p)
{
    replay_run *run = user;
    const chat_turn *t = run->t;
    bool changed = false;
    while (run->ci < t->n_changes && t->changes[run->ci].index <= i) {
        *p = t->changes[run->ci++].params;
        changed = true;
    }
    if (changed) replay_override(run->r, p);
    if (changed && run->r->rm && !run->cont_err[0]) {
        /* As the chat did: the same answer continued with the new settings. */
        remote_req q = {.params = *p, .stop = run->stops, .n_stop = run->n_stops,
                        .max_tokens = t->max_tokens > 0 ? t->max_tokens - i : 0};
        nt_err e = {0};
        if (remote_continue_answer(run->r->rm, run->msgs, run->n_msgs, &q, &e) != NT_OK)
            snprintf(run->cont_err, sizeof run->cont_err, "the recorded live change before piece "
                     "%d could not be made: %s", (int)i, e.msg);
    }
    return changed;
}

static int replay_gen_token(void *user, const gen_token *tk, nt_err *err)
{
    replay_run *run = user;
    if (nt_tokens_push(&run->res->tokens, tk->id) != NT_OK ||
        !strbuf_put(&run->txt, tk->text, tk->n_text))
        return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    if (run->fn) run->fn(tk->id, tk->text, run->user);
    return NT_OK;
}

int replay_answer(replay *r, size_t turn, replay_token_fn fn, void *user, replay_result *res,
                  nt_err *err)
{
    memset(res, 0, sizeof *res);
    const session *s = r->s;
    if (turn >= s->n_turns || s->turns[turn].role != NT_ROLE_ASSISTANT)
        return nt_err_set(err, NT_ERR_INVALID, "it is not an answer");
    const chat_turn *t = &s->turns[turn];
    size_t depth = 0;
    int rc = replay_sync_chat(r, turn, &depth, err);
    if (rc != NT_OK) return rc;

    /* The stop strings the answer was written with; another model's template has its own. */
    const char *stops[GEN_MAX_STOP + 1];
    size_t ns = 0;
    bool plain_stop = false;
    for (size_t k = 0; k < t->n_stop; k++) {
        bool plain = !strcmp(t->stop[k], "\nUser:");
        plain_stop |= plain;
        if (!plain || r->same_model || s->raw || r->family == NT_CHAT_PLAIN) stops[ns++] = t->stop[k];
    }
    if (!r->same_model && !s->raw && r->family == NT_CHAT_PLAIN && !plain_stop) {
        memmove(stops + 1, stops, ns * sizeof *stops);
        stops[0] = "\nUser:";
        ns++;
    }
    if (!gen_stops_valid(stops, ns))
        return nt_err_set(err, NT_ERR_INVALID, "%zu stop strings and the "
                          "plain template's own are more than %d", t->n_stop,
                          GEN_MAX_STOP);

    nt_tokens P = {0};
    replay_run run = {.r = r, .t = t, .fn = fn, .user = user, .res = res,
                      /* A recorded stop by the user happened before this token: stop there. */
                      .stop_at = t->end == GEN_END_STOPPED ? (int64_t)t->tokens.n : -1};
    size_t first = t->first < depth ? t->first : 0;
    /* The thinking switch as recorded (another model without one answers as its template
     * makes it). */
    (void)chat_set_think(r->c, t->think);
    /* The passages the answer was given, as recorded (the files may have changed since). */
    if (chat_use_sources(r->c, t) != NT_OK) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        goto out;
    }
    gen_opts go = {.params = t->params, .stop = stops, .n_stop = ns};
    replay_override(r, &go.params);
    gen_source gs;
    if (r->rm) {
        /* A server: the conversation as messages, asked again with the recorded settings. */
        rc = chat_remote_msgs(r->c, first, &run.msgs, &run.n_msgs, err);
        if (rc != NT_OK) goto out;
        run.stops = stops;
        run.n_stops = ns;
        remote_req q = {.msgs = run.msgs, .n_msgs = run.n_msgs, .params = go.params,
                        .max_tokens = t->max_tokens, .stop = stops, .n_stop = ns};
        rc = remote_start(r->rm, &q, err);
        if (rc != NT_OK) goto out;
        res->remote = true;
        res->prompt_matches = true;
        go.max_tokens = t->max_tokens > 0 ? t->max_tokens : INT32_MAX;
        gs = remote_source(r->rm);
    } else {
        rc = chat_build_prompt(r->c, first, &P, err);
        if (rc != NT_OK) goto out;
        if (P.n == 0) {
            rc = nt_err_set(err, NT_ERR_INVALID, "empty prompt");
            goto out;
        }
        res->n_prompt = (int32_t)P.n;
        if ((int64_t)P.n >= r->n_ctx) {
            rc = nt_err_set(err, NT_ERR_CONTEXT_FULL,
                            "the prompt needs %zu tokens but the context holds %d (replay with "
                            "the recorded context or a longer one)", P.n, r->n_ctx);
            goto out;
        }
        res->prompt_matches = t->prompt_len == 0 || (size_t)t->prompt_len == P.n;
        rc = replay_fill(r, &P, &res->n_eval, err);
        if (rc != NT_OK) goto out;

        go.max_tokens = t->max_tokens > 0 ? t->max_tokens : r->n_ctx;
        gs = gen_local_source(&r->src);
    }
    gen_hooks gh = {.user = &run, .stop = replay_gen_stop, .params = replay_gen_params,
                    .token = replay_gen_token};
    gen_result gr;
    if (!strbuf_put(&run.txt, "", 0)) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = gen_run(&gs, &go, &gh, &gr, err);
    if (r->rm) remote_end(r->rm);
    if (rc == NT_OK && run.cont_err[0]) rc = nt_err_set(err, NT_ERR_UNSUPPORTED, "%s", run.cont_err);
    res->end = gr.end;
    res->stop_text = gr.stop_text;
    memcpy(res->cand0, gr.cand0, sizeof res->cand0);
    res->n_cand0 = gr.n_cand0;
    if (rc != NT_OK) {
        free(gr.tail);
        if (!r->rm) gen_local_rewind(&r->src, 0);
        goto out;
    }
    if (gr.tail) {
        if (!strbuf_puts(&run.txt, gr.tail)) rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        else if (fn) fn(-1, gr.tail, user);
        free(gr.tail);
    }
    if (rc == NT_OK && !(res->text = strbuf_take(&run.txt, NULL)))
        rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
out:
    strbuf_free(&run.txt);
    nt_tokens_free(&P);
    if (rc != NT_OK) replay_result_free(res);
    return rc;
}
