/* tui_replay.c — /replay in the chat screen: the replay thread and its view.
 *
 * app/conv/replay.c regenerates a saved session's answers on a thread of its own (it maps its
 * own copy of the model, so the worker's KV cache and the conversation stay as they are) and
 * streams what it writes to the UI thread through a queue (tui_rev events); the UI thread
 * turns them into a read-only note at the end of the history. */
#include "tui_int.h"

#include "conv/replay.h"
#include "term.h"
#include "util/queue.h"
#include "util/strbuf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* /replay: app/conv/replay.c regenerates a saved session's answers on a thread of its own (it maps
 * its own copy of the model, so the worker's KV cache and the conversation stay as they are)
 * and streams what it writes to the UI thread through a queue; the UI shows it as a read-only
 * note at the end of the history. */
enum tui_rev_kind { REV_START, REV_QUESTION, REV_ANSWER, REV_TEXT, REV_END, REV_SKIP, REV_ERROR, REV_DONE };
typedef struct tui_rev {
    enum tui_rev_kind kind;
    size_t turn;
    char *text;          /* START (model path), QUESTION, TEXT, ERROR, END (how it differs);
                            owned by the queue, then by whoever pops it */
    bool flag;           /* START: exact replay; END: matched the recording */
    uint64_t seed;       /* ANSWER */
    size_t n_changes;    /* ANSWER */
    size_t n_tokens, first_diff; /* END */
    enum gen_end end;    /* END */
    bool stop_text;      /* END: the end was a stop string */
    bool remote;         /* START, END: a server answers (its pieces, its honesty) */
} tui_rev;

struct tui_replay {
    session *s;             /* owned; the thread reads it */
    char *name;             /* what the user asked for */
    char *model_path;       /* NULL: the recorded nt_model */
    int32_t n_threads;
    replay_opts server;     /* a remote session: its key variable (borrowed from the chat's
                               options, which outlive the thread) and timeouts */
    queue *q;
    pthread_t thread;
    pthread_mutex_t lock;   /* guards r and cancel */
    replay *r;              /* the thread's, while it exists */
    bool cancel;
    /* UI thread only: */
    strbuf text;            /* the note shown */
    size_t n_answers, n_matched;
    bool stopped, failed;
    bool dirty;             /* the note changed since it was last shown */
};

static void tui_rev_drop(void *item)
{
    free(((tui_rev *)item)->text);
}

static void tui_rev_push(tui_replay *rp, tui_rev ev)
{
    if (queue_push(rp->q, &ev) != 0) free(ev.text);
}

static void tui_replay_token(int32_t id, const char *text, void *user)
{
    (void)id;
    char *s = text[0] ? strdup(text) : NULL;
    if (s) tui_rev_push(user, (tui_rev){.kind = REV_TEXT, .text = s});
}

static bool tui_replay_cancelled(tui_replay *rp)
{
    pthread_mutex_lock(&rp->lock);
    bool c = rp->cancel;
    pthread_mutex_unlock(&rp->lock);
    return c;
}

/* The replay thread: app/conv/replay.c turn by turn, streamed into the queue. */
static void *tui_replay_main(void *arg)
{
    tui_replay *rp = arg;
    const session *s = rp->s;
    nt_err err = {0};
    replay_opts o = rp->server;
    o.model_path = rp->model_path;
    o.n_threads = rp->n_threads;
    replay *r = NULL;
    int rc = replay_init(&r, s, &o, &err);
    pthread_mutex_lock(&rp->lock);
    rp->r = r;
    pthread_mutex_unlock(&rp->lock);
    char msg[sizeof err.msg + 600];
    if (rc != NT_OK) {
        /* As the command line says it: the session's file first. */
        snprintf(msg, sizeof msg, "%.500s: %s", s->path ? s->path : rp->name, err.msg);
        tui_rev_push(rp, (tui_rev){.kind = REV_ERROR, .text = strdup(msg)});
        goto done;
    }
    tui_rev_push(rp, (tui_rev){.kind = REV_START, .text = strdup(replay_model_path(r)),
                               .flag = replay_exact(r), .remote = replay_remote(r)});
    for (size_t i = 0; i < s->n_turns && !tui_replay_cancelled(rp); i++) {
        const chat_turn *turn = &s->turns[i];
        if (turn->role == NT_ROLE_USER) {
            tui_rev_push(rp, (tui_rev){.kind = REV_QUESTION, .turn = i, .text = strdup(turn->text)});
            continue;
        }
        if (turn->end == GEN_END_ERROR) {
            tui_rev_push(rp, (tui_rev){.kind = REV_SKIP, .turn = i});
            continue;
        }
        tui_rev_push(rp, (tui_rev){.kind = REV_ANSWER, .turn = i, .seed = turn->params.seed,
                                   .n_changes = turn->n_changes});
        replay_result res;
        if (replay_answer(r, i, tui_replay_token, rp, &res, &err) != NT_OK) {
            snprintf(msg, sizeof msg, "%.500s: message %zu: %s", s->path ? s->path : rp->name, i + 1,
                     err.msg);
            tui_rev_push(rp, (tui_rev){.kind = REV_ERROR, .text = strdup(msg)});
            break;
        }
        size_t first = 0;
        enum replay_diff d = replay_compare(turn, &res, &first);
        /* How it differs, in the words of `natter replay --check`. */
        char *why = d == REPLAY_SAME ? NULL : replay_describe(s, i, &res, d, first, replay_tokenizer(r));
        tui_rev_push(rp, (tui_rev){.kind = REV_END, .turn = i, .flag = d == REPLAY_SAME, .end = res.end,
                                   .stop_text = res.stop_text, .n_tokens = res.tokens.n,
                                   .remote = res.remote,
                                   .first_diff = first, .text = why});
        replay_result_free(&res);
    }
done:
    pthread_mutex_lock(&rp->lock);
    rp->r = NULL;
    pthread_mutex_unlock(&rp->lock);
    replay_free(r);
    tui_rev_push(rp, (tui_rev){.kind = REV_DONE});
    return NULL;
}

/* Shows the replay's note (without its last line end). */
static void tui_replay_show(tui *t)
{
    tui_replay *rp = t->rp;
    strbuf *b = &rp->text;
    if (!b->s) return;
    bool nl = b->n > 0 && b->s[b->n - 1] == '\n';
    if (nl) b->s[b->n - 1] = '\0';
    ui_set_note(&t->u, UI_NOTE_INFO, b->s);
    if (nl) b->s[b->n - 1] = '\n';
    rp->dirty = false;
}

/* Asks a running replay to stop at its next token. */
static void tui_replay_cancel(tui_replay *rp)
{
    pthread_mutex_lock(&rp->lock);
    rp->cancel = true;
    if (rp->r) replay_cancel(rp->r);
    pthread_mutex_unlock(&rp->lock);
}

/* Stops the replay thread (if still running), joins it and frees the replay. */
void tui_replay_end(tui *t)
{
    tui_replay *rp = t->rp;
    if (!rp) return;
    tui_replay_cancel(rp);
    pthread_join(rp->thread, NULL);
    queue_free(rp->q);
    pthread_mutex_destroy(&rp->lock);
    session_free(rp->s);
    free(rp->name);
    free(rp->model_path);
    strbuf_free(&rp->text);
    free(rp);
    t->rp = NULL;
}

int tui_replay_start(tui *t, const char *name)
{
    if (!name[0]) return tui_message(t, TS_NOTE, "usage: /replay NAME (a saved session; /sessions lists them)");
    char *path = session_path(name);
    if (!path) return tui_message(t, TS_ERROR, "/replay: out of memory");
    ycfg_diag d = {0};
    session *s = NULL;
    int rc = session_load(&s, path, NULL, &d);
    free(path);
    if (rc != NT_OK) {
        char *errs = ycfg_diag_join(&d);
        int f = tui_file_errors(t, "session", name, errs ? errs : "out of memory", "the conversation");
        free(errs);
        ycfg_diag_free(&d);
        return f;
    }
    ycfg_diag_free(&d);
    tui_replay *rp = calloc(1, sizeof *rp);
    if (!rp || !(rp->q = queue_init(sizeof(tui_rev), tui_rev_drop)) || !(rp->name = strdup(name))) {
        if (rp) {
            queue_free(rp->q);
            free(rp->name);
        }
        free(rp);
        session_free(s);
        return tui_message(t, TS_ERROR, "/replay: out of memory");
    }
    rp->s = s;
    /* The model loaded here when the session was recorded with it (same hash), else the
     * recorded file. */
    if (t->sess && session_model_same(&s->model, &t->sess->model) && t->model_path)
        rp->model_path = strdup(t->model_path);
    rp->n_threads = t->opts->n_threads;
    /* A remote session: the chat's own key variable when the chat talks to that server, else
     * the config file's when it names it. */
    if (s->model.api_base) {
        const struct cli_opts *o = t->opts;
        bool same = o->api_base && cli_same_base(o->api_base, s->model.api_base);
        cli_replay_server(o->config, same ? o->api_key_env : NULL, s->model.api_base, &rp->server);
    }
    pthread_mutex_init(&rp->lock, NULL);
    if (pthread_create(&rp->thread, NULL, tui_replay_main, rp) != 0) {
        queue_free(rp->q);
        pthread_mutex_destroy(&rp->lock);
        session_free(s);
        free(rp->name);
        free(rp->model_path);
        free(rp);
        return tui_message(t, TS_ERROR, "/replay: cannot start a thread");
    }
    t->rp = rp;
    strbuf_printf(&rp->text, "replay of %s (read-only; the conversation stays as it is)\n", name);
    tui_replay_show(t);
    t->u.hist.follow = true;
    return UI_R_HISTORY | UI_R_STATUS | tui_message(t, TS_NOTE, "replaying %.200s (%s stops)", name,
                                                   t->plain ? "Ctrl-C" : "Esc");
}

/* One event of the replay thread: the note grows. */
static int tui_replay_event(tui *t, tui_rev *ev)
{
    tui_replay *rp = t->rp;
    int f = 0;
    switch (ev->kind) {
    case REV_START:
        if (ev->remote) /* nothing here can promise what a server does with a seed */
            strbuf_printf(&rp->text, "model %s: asked again with the recorded seeds; a remote "
                          "answer can only match if the server honours the seed\n",
                          ev->text ? ev->text : "?");
        else
            strbuf_printf(&rp->text, "model %s: %s\n", ev->text ? ev->text : "?",
                          ev->flag ? "the recorded one, so every answer should match"
                                   : "not the recorded one, so answers may differ");
        break;
    case REV_QUESTION:
    case REV_ANSWER: {
        /* Every branch is replayed: a later alternative says which message it stands for. */
        size_t alt = session_alternative_to(rp->s, ev->turn);
        if (alt != CHAT_ROOT)
            strbuf_printf(&rp->text, "\n--- another version of message %zu ---", alt + 1);
        if (ev->kind == REV_QUESTION) {
            strbuf_printf(&rp->text, "\n[%zu] user:\n%s\n", ev->turn + 1, ev->text ? ev->text : "");
            break;
        }
        strbuf_printf(&rp->text, "\n[%zu] assistant (seed %llu, %zu live change%s):\n",
                      ev->turn + 1, (unsigned long long)ev->seed, ev->n_changes,
                      ev->n_changes == 1 ? "" : "s");
        break;
    }
    case REV_TEXT:
        strbuf_puts(&rp->text, ev->text ? ev->text : "");
        break;
    case REV_END:
        if (ev->end == GEN_END_STOPPED && rp->stopped) {
            strbuf_puts(&rp->text, "\n-> replay stopped\n");
            break;
        }
        rp->n_answers++;
        if (ev->flag) {
            rp->n_matched++;
            strbuf_printf(&rp->text, "\n-> matched the recording (%zu %s, %s)\n", ev->n_tokens,
                          ev->remote ? "pieces" : "tokens", gen_end_name(ev->end, ev->stop_text));
        } else if (ev->text) {
            strbuf_printf(&rp->text, "\n-> %s\n", ev->text);
        } else {
            strbuf_printf(&rp->text, "\n-> differs from the recording from token %zu on\n",
                          ev->first_diff);
        }
        break;
    case REV_SKIP:
        strbuf_printf(&rp->text, "\n[%zu] assistant: the recorded answer failed; skipped\n",
                      ev->turn + 1);
        break;
    case REV_ERROR:
        strbuf_printf(&rp->text, "\nreplay: %s\n", ev->text ? ev->text : "error");
        rp->failed = true;
        f |= tui_message(t, TS_ERROR, "/replay: %s", ev->text ? ev->text : "error");
        break;
    case REV_DONE:
        tui_replay_show(t);
        /* Answers that came out differently are worth a look (the point of a replay). */
        if (!rp->failed)
            f |= tui_message(t, !rp->stopped && rp->n_matched < rp->n_answers ? TS_WARNING : TS_NOTE,
                             "replay %s: %zu of %zu answers matched the recording",
                             rp->stopped ? "stopped" : "done", rp->n_matched, rp->n_answers);
        tui_replay_end(t);
        return f | UI_R_HISTORY | UI_R_STATUS;
    }
    rp->dirty = true;
    return f;
}

int tui_replay_stop(tui *t)
{
    t->rp->stopped = true;
    tui_replay_cancel(t->rp);
    return tui_message(t, TS_NOTE, "stopping the replay");
}

int tui_replay_fd(const tui *t)
{
    return t->rp ? queue_fd(t->rp->q) : -1;
}

int tui_replay_events(tui *t, int max)
{
    int flags = 0;
    tui_rev ev;
    for (int i = 0; i < max && t->rp && queue_pop(t->rp->q, &ev); i++) {
        flags |= tui_replay_event(t, &ev);
        free(ev.text);
    }
    if (t->rp && t->rp->dirty) {
        tui_replay_show(t);
        flags |= UI_R_HISTORY;
    }
    return flags;
}
