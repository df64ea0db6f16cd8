/* tui.c — the chat screen's event loop, and the state its actions share.
 *
 * One thread (this one) owns ncurses, readline and the conversation; the worker thread owns
 * the model. The loop poll()s stdin, the worker's wake-up fd, the signal self-pipe and a
 * running /replay's queue; it never blocks on the model. Handlers change state and return the
 * UI_R_* flags of what must be redrawn; the loop draws once per wake-up (ui_draw:
 * wnoutrefresh per window, one doupdate). Keys and /commands go to app/tui/actions.c through
 * the one table in app/tui/commands.h; /replay lives in app/tui/tui_replay.c (tui_int.h
 * says what the three files share). */
#include "tui_int.h"
#include "util/text.h"

#include "input.h"
#include "term.h"
#include "conv/promptview.h"
#include "conv/remote.h"
#include "util/strbuf.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TUI_ESC_WAIT_MS 30     /* how long a lone ESC waits for the rest of a sequence */
#define TUI_EVENTS_PER_DRAW 512 /* worker events handled before the screen is drawn again */

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An answer or a re-read is running, or a replay: the conversation must not change. */
bool tui_busy(const tui *t)
{
    return chat_busy(t->chat) || t->rp != NULL;
}


int tui_message(tui *t, int style, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->u.msg.text, sizeof t->u.msg.text, fmt, ap);
    va_end(ap);
    t->u.msg.style = style;
    return UI_R_MESSAGE;
}

int tui_apply_params(tui *t)
{
    if (tui_busy(t)) worker_set_params(t->w, &t->u.params);
    return UI_R_PANEL;
}

/* Builds the job for the last question and hands it to the worker. */
int tui_start_answer(tui *t) { return tui_start_answer_with(t, &t->u.params); }

int tui_start_answer_with(tui *t, const nt_sampler_params *params)
{
    ui *u = &t->u;
    int32_t n_ctx = chat_n_ctx(t->chat);
    int32_t max = u->max_tokens <= 0 || u->max_tokens >= n_ctx ? n_ctx : u->max_tokens;
    worker_job job;
    int dropped = 0;
    nt_err err = {0};
    int df = tui_docs_retrieve(t); /* the passages for this question (also for a /regen) */
    int rc = chat_prepare(t->chat, params, max, &job, &dropped, &err);
    if (rc != NT_OK) {
        /* The question cannot be answered (it does not fit): give it back for editing rather
         * than leave an unanswerable turn behind. */
        char *q = chat_edit(t->chat);
        if (q) {
            tui_give_back(t, q);
            free(q);
        }
        ui_truncate(u, chat_n_turns(t->chat));
        return tui_message(t, TS_ERROR, "%s", err.msg) | UI_R_HISTORY | UI_R_INPUT;
    }
    rc = worker_submit(t->w, &job);
    if (rc != NT_OK) {
        /* The answer turn is there but will never be filled: close it as failed. */
        worker_event done = {.kind = WEV_DONE, .end = GEN_END_ERROR, .n_past = job.keep};
        chat_apply(t->chat, &done);
        return tui_message(t, TS_ERROR, "the model is busy (%s)", nt_status_str(rc));
    }
    u->status.state = UI_READING;
    u->status.progress_done = 0;
    u->status.progress_total = job.n_tokens;
    u->status.n_past = job.keep;
    u->status.n_gen_now = 0;
    u->status.gen_started = 0;
    t->asked_at = now_sec();
    t->asked_keep = job.keep;
    t->answer_gen++;
    u->hist.follow = true;
    u->probs.pick = -1;
    ui_truncate(u, chat_n_turns(t->chat) - 1);
    int f = UI_R_HISTORY | UI_R_STATUS | UI_R_PROBS | df;
    if (df) {
        /* the retrieval's warning stays on the message line */
    } else if (dropped > 0)
        f |= tui_message(t, TS_WARNING, "the context is full: %d older turn%s dropped from the model's view",
                         dropped, dropped == 1 ? "" : "s");
    else
        u->msg.text[0] = '\0', f |= UI_R_MESSAGE;
    return f;
}

int tui_need_idle(tui *t, const char *what)
{
    return tui_message(t, TS_WARNING, "%s: %s; stop it first (%s)", what,
                       t->rp ? "a replay is running" : "an answer is being written",
                       t->plain ? "Ctrl-C" : "Esc");
}

void tui_give_back(tui *t, const char *q)
{
    if (!t->plain) {
        input_set_line(q);
        return;
    }
    free(t->given_back);
    t->given_back = strdup(q);
}

/* The fixed part's size for the status bar (0 when it cannot be counted). */
static void tui_count_fixed(tui *t)
{
    int32_t n = 0;
    nt_err err = {0};
    /* Nothing fixed (--system ''): no number, rather than the BOS alone. */
    bool any = chat_system(t->chat)[0] || chat_n_prefix(t->chat) > 0 || chat_greeting(t->chat);
    t->u.persona_tokens = any && chat_count_fixed(t->chat, &n, &err) == NT_OK ? n : 0;
}

/* Makes p the persona (taking it, unless it is opts->loaded): a new conversation with its
 * fixed part, its sampling values on the sliders (command-line options still win) and its
 * name in the status bar. system, when not NULL, replaces its prompt (--system at start). */
int tui_use_persona(tui *t, persona *p, const char *system)
{
    ui *u = &t->u;
    nt_err err = {0};
    chat_clear(t->chat);
    ui_truncate(u, 0);
    /* {{model}} is the model's file name, as in the one-shot mode and --check. */
    const char *slash = t->model_path ? strrchr(t->model_path, '/') : NULL;
    const char *model_file = slash ? slash + 1 : t->model_path;
    if (!t->opts->raw &&
        cli_chat_persona(t->chat, p, model_file, system,
                         t->opts->template_name ? -1 : (int)t->model_family, &err) != NT_OK) {
        if (p != t->opts->loaded) persona_free(p);
        return UI_R_ALL | tui_message(t, TS_ERROR, "%s", err.msg);
    }
    /* --context files too long for the context are searched instead (cli_context_fit). */
    char *moved[CLI_MAX_CONTEXT];
    size_t n_moved = 0;
    char fit_note[1024] = "";
    if (!t->opts->raw &&
        cli_context_fit(t->chat, p, model_file, system,
                        t->opts->template_name ? -1 : (int)t->model_family, moved,
                        CLI_MAX_CONTEXT, &n_moved, fit_note, sizeof fit_note, &err) != NT_OK) {
        if (p != t->opts->loaded) persona_free(p);
        return UI_R_ALL | tui_message(t, TS_ERROR, "%s", err.msg);
    }
    persona_vars pv = {NULL, model_file, NULL};
    char *intro = persona_docs_intro(p, &pv);
    if (intro) {
        free(t->docs_intro);
        t->docs_intro = intro;
    }
    if (t->persona && t->persona != t->opts->loaded) persona_free(t->persona);
    t->persona = p;
    tui_docs_persona(t, p, moved, n_moved);
    for (size_t i = 0; i < n_moved; i++) free(moved[i]);
    if (n_moved) ui_set_note(u, UI_NOTE_INFO, fit_note);
    /* The thinking switch: the persona's, then --think's (the command line wins). */
    char think_msg[512];
    (void)chat_set_think(t->chat, CHAT_THINK_DEFAULT);
    if ((!t->opts->raw && !cli_persona_think(t->chat, p, think_msg, sizeof think_msg)) ||
        !cli_chat_think(t->chat, t->opts->think, "--think", think_msg, sizeof think_msg))
        tui_message(t, TS_WARNING, "%s", think_msg);
    uint64_t seed = u->params.seed;
    cli_persona_params(t->opts, p, &u->params, &u->max_tokens);
    if (!(p->sampling.set & (1u << PARAM_SEED)) && !t->opts->seed_given) u->params.seed = seed;
    u->base_params = u->params;
    u->base_max_tokens = u->max_tokens;
    u->strategy = PARAM_N_PRESETS - 1; /* "persona": F10 starts with greedy */
    u->persona = p->name;
    u->hist.follow = true;
    u->fixed_gen++;
    t->conv_gen++;
    t->greeting_i = 0;
    tui_new_session(t);
    tui_session_refs(t);
    tui_count_fixed(t);
    /* Said now, not at the first question that cannot be answered. A server's context is its
     * own (n_ctx 0: not known here). */
    int32_t n_ctx = chat_n_ctx(t->chat);
    if (n_ctx > 0 && u->persona_tokens >= n_ctx)
        return UI_R_ALL | tui_message(t, TS_ERROR, "persona %.60s: its fixed part (%d tokens) does "
                                      "not fit the context of %d tokens: %d too many (--ctx, or "
                                      "another persona)", p->name, (int)u->persona_tokens,
                                      (int)n_ctx, (int)(u->persona_tokens - n_ctx + 1));
    return UI_R_ALL;
}

/* Shows what went wrong with a persona or theme file in the history: the errors with their
 * file:line:col, and what stays. */
int tui_file_errors(tui *t, const char *what, const char *name, const char *errors,
                           const char *kept)
{
    char head[256];
    snprintf(head, sizeof head, "%s %s cannot be used; keeping %s:\n", what, name, kept);
    size_t n = strlen(head) + strlen(errors) + 1;
    char *note = malloc(n);
    if (note) {
        snprintf(note, n, "%s%s", head, errors);
        ui_set_note(&t->u, UI_NOTE_ERROR, note);
        free(note);
    }
    t->u.hist.follow = true;
    return UI_R_HISTORY | tui_message(t, TS_ERROR, "%s %.200s has errors (shown above); keeping %s",
                                      what, name, kept);
}

/* ------------------------------------------------------------------ sessions ----- */

/* A new conversation gets a file of its own: the next autosave picks a new name, so the
 * previous conversation's file stays as it was. */
void tui_new_session(tui *t)
{
    t->saved_turns = 0;
    if (!t->sess) return;
    free(t->sess->path);
    t->sess->path = NULL;
    t->sess->created = t->sess->updated = (int64_t)time(NULL);
}

/* The persona and the theme in use go into the session file, as they are found again. */
void tui_session_refs(tui *t)
{
    if (!t->sess) return;
    char *p = t->persona ? persona_ref(t->persona) : NULL;
    if (p) {
        free(t->sess->persona);
        t->sess->persona = p;
    }
    char *th = t->theme && strcmp(t->theme->path, "(built-in)") ? ycfg_ref("themes", t->theme->path)
                                                                 : NULL;
    free(t->sess->theme);
    t->sess->theme = th;
}

/* Turns the session file holds after a save now (an answer being written is left out). */
size_t tui_saveable_turns(const tui *t)
{
    size_t n = chat_n_turns(t->chat);
    const chat_turn *last = n ? chat_turn_at(t->chat, n - 1) : NULL;
    return last && last->role == NT_ROLE_ASSISTANT && !last->complete ? n - 1 : n;
}

/* Saves after every answer: to --save FILE the first time it is given, else autosave (the
 * sessions folder, or the file the session came from). A failure is a note, never fatal:
 * the conversation goes on. */
static int tui_autosave(tui *t)
{
    /* A remote server reports its model and fingerprint with each answer. */
    if (t->sess && worker_remote(t->w)) session_set_worker(t->sess, t->w);
    if (!t->sess) return 0;
    nt_err err = {0};
    int f = 0;
    if (t->save_to) {
        int rc = session_capture(t->sess, t->chat);
        if (rc == NT_OK) rc = session_save(t->sess, t->save_to, &err);
        else snprintf(err.msg, sizeof err.msg, "out of memory");
        char *target = t->save_to;
        t->save_to = NULL;
        if (rc == NT_OK) {
            free(target);
            t->saved_turns = tui_saveable_turns(t);
            return 0;
        }
        char note[1024];
        snprintf(note, sizeof note, "cannot save the session to %.300s: %s\nautosaving in the "
                 "sessions folder instead", target, err.msg);
        free(target);
        ui_set_note(&t->u, UI_NOTE_ERROR, note);
        f = UI_R_HISTORY;
    }
    if (session_autosave(t->sess, t->chat, &err) != NT_OK) {
        char note[1024];
        snprintf(note, sizeof note, "cannot autosave the session: %s", err.msg);
        ui_set_note(&t->u, UI_NOTE_ERROR, note);
        t->u.hist.follow = true;
        return UI_R_HISTORY;
    }
    t->saved_turns = tui_saveable_turns(t);
    return f;
}

/* One line of /stats. */
static void tui_stats_line(strbuf *b, const char *what, const tui_stats *s)
{
    double n = s->answers > 0 ? s->answers : 1;
    strbuf_printf(b, "%s: first token after %.3f s%s; prompt %ld tokens read at %.1f tok/s, %ld reused "
                  "from the cache; %ld tokens generated at %.1f tok/s\n", what, s->ttft / n,
                  s->answers > 1 ? " on average" : "", s->n_prompt,
                  s->prompt_sec > 0 ? s->n_prompt / s->prompt_sec : 0.0, s->reused, s->n_gen,
                  s->gen_sec > 0 ? s->n_gen / s->gen_sec : 0.0);
}

char *tui_stats_text(const tui *t)
{
    strbuf b = {0};
    if (t->total.answers == 0) {
        strbuf_puts(&b, "no answer yet\n");
    } else {
        tui_stats_line(&b, "last answer", &t->last);
        char what[64];
        snprintf(what, sizeof what, "session (%d answer%s)", t->total.answers,
                 t->total.answers == 1 ? "" : "s");
        tui_stats_line(&b, what, &t->total);
    }
    int32_t n_ctx = chat_n_ctx(t->chat);
    int32_t used = t->u.status.n_past;
    if (t->u.server && t->u.status.server_tokens > 0)
        strbuf_printf(&b, "context: held by the server at %s, %d tokens as it counted them",
                      t->u.server, (int)t->u.status.server_tokens);
    else if (t->u.server)
        strbuf_printf(&b, "context: held by the server at %s (it reports no token count)",
                      t->u.server);
    else
        strbuf_printf(&b, "context: %d of %d tokens used (%.0f%%)", (int)used, (int)n_ctx,
                      n_ctx > 0 ? 100.0 * used / n_ctx : 0.0);
    return strbuf_take(&b, NULL);
}

int tui_prompt_view(tui *t, int mode)
{
    ui *u = &t->u;
    if (!mode) {
        if (!t->prompt_view || !u->note || u->note != t->prompt_note) return 0; /* not shown */
        mode = t->prompt_view;
    }
    nt_err err = {0};
    char *text = promptview_text(t->chat, worker_tokenizer(t->w), persona_instruction(t->persona),
                                 mode == 2, &err);
    if (!text) return tui_message(t, TS_ERROR, "/prompt: %s", err.msg);
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n') text[--n] = '\0';
    ui_set_note(u, UI_NOTE_INFO, text);
    free(text);
    t->prompt_view = mode;
    t->prompt_note = u->note;
    return UI_R_HISTORY;
}

void tui_update_meter(tui *t)
{
    ui *u = &t->u;
    u->status.tok_per_sec = 0;
    if (chat_n_turns(t->chat) == 0) {
        u->status.n_past = u->persona_tokens;
        u->status.server_tokens = 0; /* a new conversation: the server's count was the old one's */
        return;
    }
    nt_tokens ids = {0};
    nt_err err = {0};
    if (chat_build_prompt(t->chat, chat_first_turn(t->chat), &ids, &err) == NT_OK)
        u->status.n_past = (int32_t)ids.n;
    nt_tokens_free(&ids);
    tui_prompt_view(t, 0);
}

/* Reads the conversation back into the model (chat_prepare_reread), the progress in the
 * status bar; *keep gets the tokens the cache kept. 0 when the job runs; else the flags of
 * the message saying why not (what, then the reason). */
static int tui_reread(tui *t, const char *what, int32_t *keep)
{
    ui *u = &t->u;
    worker_job job;
    nt_err err = {0};
    if (chat_prepare_reread(t->chat, &job, &err) != NT_OK)
        return tui_message(t, TS_WARNING, "%s; %s", what, err.msg);
    if (worker_submit(t->w, &job) != NT_OK) {
        /* The chat waits for the re-read's end: give it one (the next question reads all). */
        worker_event done = {.kind = WEV_DONE, .end = GEN_END_ERROR, .n_past = 0};
        chat_apply(t->chat, &done);
        return tui_message(t, TS_ERROR, "%s; the model is busy", what);
    }
    u->status.state = UI_READING;
    u->status.progress_done = 0;
    u->status.progress_total = job.n_tokens;
    u->status.n_past = job.keep;
    u->status.n_gen_now = 0;
    *keep = job.keep;
    return 0;
}

int tui_show_loaded(tui *t, const char *msg)
{
    ui *u = &t->u;
    ui_truncate(u, 0);
    ui_clear_note(u);
    u->hist.follow = true;
    u->status.tok_per_sec = 0;
    u->probs.pick = -1;
    u->status.n_past = 0;
    tui_count_fixed(t);
    t->conv_gen++;
    int f = UI_R_ALL;
    /* A question saved before its answer came goes back into the input line. */
    size_t n = chat_n_turns(t->chat);
    if (n > 0 && chat_turn_at(t->chat, n - 1)->role == NT_ROLE_USER) {
        char *q = chat_edit(t->chat);
        if (q) {
            tui_give_back(t, q);
            free(q);
        }
    }
    t->saved_turns = chat_n_turns(t->chat);
    for (size_t i = 0; i < chat_n_turns(t->chat); i++) ui_answer_rebuild(u, i);
    /* The seeds go on from the loaded answers' (each answer bumps it), unless --seed says. */
    for (size_t i = chat_n_turns(t->chat); i-- > 0 && !t->opts->seed_given;) {
        const chat_turn *a = chat_turn_at(t->chat, i);
        if (a->role == NT_ROLE_ASSISTANT) {
            u->params.seed = a->params.seed + 1;
            break;
        }
    }
    if (chat_n_turns(t->chat) == 0) return f | tui_message(t, TS_NOTE, "%s", msg);
    int32_t keep;
    int rf = tui_reread(t, msg, &keep);
    return f | (rf ? rf : tui_message(t, TS_NOTE, "%s", msg));
}

/* Drops the stash when the tree's indices moved since it was filled. */
static void tui_stash_check(tui *t)
{
    if (t->stash_gen == chat_tree_gen(t->chat)) return;
    for (size_t k = 0; k < t->n_stash; k++) ui_answer_free(&t->stash[k]);
    free(t->stash);
    t->stash = NULL;
    t->n_stash = 0;
    t->stash_gen = chat_tree_gen(t->chat);
}

void tui_stash_put(tui *t, size_t node, ui_answer *rec)
{
    tui_stash_check(t);
    if (node == CHAT_ROOT || rec->n == 0) {
        ui_answer_free(rec);
        return;
    }
    if (node >= t->n_stash) {
        ui_answer *v = realloc(t->stash, (node + 1) * sizeof *v);
        if (!v) {
            ui_answer_free(rec);
            return;
        }
        memset(v + t->n_stash, 0, (node + 1 - t->n_stash) * sizeof *v);
        t->stash = v;
        t->n_stash = node + 1;
    }
    ui_answer_free(&t->stash[node]);
    t->stash[node] = *rec;
    memset(rec, 0, sizeof *rec);
}

void tui_stash_from(tui *t, size_t i)
{
    ui *u = &t->u;
    for (size_t j = i; j < chat_n_turns(t->chat) && j < u->n_answers; j++)
        tui_stash_put(t, chat_node_of(t->chat, j), &u->answers[j]);
}

int tui_switch_branch(tui *t, size_t i, size_t k)
{
    ui *u = &t->u;
    if (tui_busy(t)) return tui_need_idle(t, "branch");
    tui_stash_from(t, i);
    if (chat_switch(t->chat, i, k) != NT_OK)
        return tui_message(t, TS_ERROR, "/branch: there is no alternative %zu there", k + 1);
    /* The history from the switch down is another one: its records come from the stash
     * (their candidates as they were written), else from their tokens; the caches go. */
    ui_truncate(u, i);
    tui_stash_check(t);
    for (size_t j = i; j < chat_n_turns(t->chat); j++) {
        size_t node = chat_node_of(t->chat, j);
        ui_answer *a = node < t->n_stash && t->stash[node].n ? ui_answer_at(u, j) : NULL;
        if (a) {
            ui_answer_free(a);
            *a = t->stash[node];
            memset(&t->stash[node], 0, sizeof *a);
        } else {
            ui_answer_rebuild(u, j);
        }
    }
    u->hist.follow = true;
    u->probs.pick = -1;
    size_t shown, n = chat_alternatives(t->chat, i, &shown);
    char what[160];
    snprintf(what, sizeof what, "message %zu: alternative %zu of %zu", i + 1, shown + 1, n);
    tui_update_meter(t);
    int f = UI_R_HISTORY | UI_R_STATUS | UI_R_PROBS;
    if (chat_n_turns(t->chat) == 0 || worker_remote(t->w)) return f | tui_message(t, TS_NOTE, "%s", what);
    /* Read the new path in now: the prefix both paths share stays in the cache (only what
     * differs is read), and the next question starts at once. */
    f |= tui_autosave(t); /* the session file shows the same path */
    int32_t keep = 0;
    int rf = tui_reread(t, what, &keep);
    if (rf) return f | rf;
    free(t->reread_note);
    t->reread_note = strdup(what);
    t->reread_keep = keep;
    return f | tui_message(t, TS_NOTE, "%s; reading it in (%d tokens kept in the cache)", what,
                           (int)keep);
}

/* The loaded session's context size and KV cache type when the model's are others: the model
 * is loaded again with them and the conversation moves over (a conversation that filled 512
 * tokens does not fit 256; its answers came from a cache of its type). A failure keeps the
 * model as it was, said in *note. */
static void tui_session_context(tui *t, strbuf *note)
{
    const nt_model_info *mi = worker_model_info(t->w);
    const bool local = !worker_remote(t->w) && !t->sess->model.api_base;
    int32_t want = t->sess->n_ctx > 0 ? t->sess->n_ctx : chat_n_ctx(t->chat);
    const int32_t kv = local ? t->sess->model.kv_type : mi->kv_type;
    if (want <= 0 || (want == chat_n_ctx(t->chat) && kv == mi->kv_type)) return;
    nt_model_params mp = nt_model_default_params();
    mp.n_ctx = want;
    mp.n_threads = t->opts->n_threads;
    mp.kv_type = kv;
    nt_model *m = NULL;
    nt_err err = {0};
    worker *w = NULL;
    chat *c = NULL;
    if (nt_model_load(&m, t->model_path, &mp, &err) == NT_OK && (w = worker_init(m, &err)) &&
        (c = chat_init(worker_tokenizer(w), chat_get_family(t->chat), worker_model_info(w)->n_ctx)) &&
        (chat_set_think_switch(c, nt_chat_think_switch_gguf(worker_gguf(w))), true) &&
        session_restore(t->sess, c, &err) == NT_OK && cli_chat_persona_rules(c, t->persona) == NT_OK) {
        chat_free(t->chat);
        worker_free(t->w);
        t->chat = t->u.chat = c;
        t->w = t->u.worker = w;
        t->u.tok = worker_tokenizer(w);
        t->u.model_name = worker_model_info(w)->name;
        strbuf_printf(note, "; context %d tokens, %s cache, as the session had", (int)want,
                      nt_kv_type_name(kv));
        return;
    }
    chat_free(c);
    worker_free(w); /* frees m; worker_init freed it on failure */
    strbuf_printf(note, "; its context of %d tokens could not be had (%s): keeping %d", (int)want,
                  err.msg[0] ? err.msg : "out of memory", (int)chat_n_ctx(t->chat));
}

/* /load: the recording's persona (stop strings, memory, sampling values; its fixed part came
 * with the session) and theme, when they are still there; else a note, and the session file
 * then records what stays. */
static void tui_session_setting(tui *t, strbuf *note)
{
    const char *ref = t->sess->persona;
    char *cur = t->persona ? persona_ref(t->persona) : NULL;
    if (ref && (!cur || strcmp(cur, ref))) {
        ycfg_diag d = {0};
        persona *p = strcmp(ref, "default") ? persona_open(ref, &d) : persona_builtin();
        if (!p && !strcmp(ref, "default")) p = persona_builtin();
        if (p && cli_chat_persona_rules(t->chat, p) == NT_OK) {
            if (t->persona && t->persona != t->opts->loaded) persona_free(t->persona);
            t->persona = p;
            t->u.persona = p->name;
            t->greeting_i = 0;
            strbuf_printf(note, "; persona %s", p->name);
        } else {
            persona_free(p);
            strbuf_printf(note, "; its persona %s is not there any more: keeping %s", ref,
                          t->persona ? t->persona->name : "default");
        }
        ycfg_diag_free(&d);
    }
    free(cur);
    const char *th = t->sess->theme;
    char *tcur = t->theme ? ycfg_ref("themes", t->theme->path) : NULL;
    if (th && (!tcur || strcmp(tcur, th))) {
        ycfg_diag d = {0};
        theme *nt = theme_open(th, &d);
        if (nt) {
            term_set_theme(nt);
            theme_free(t->theme);
            t->theme = nt;
            strbuf_printf(note, "; theme %s", nt->name);
        }
        ycfg_diag_free(&d);
    }
    free(tcur);
}

int tui_load(tui *t, const char *name, const char *kept, bool adopt)
{
    if (!t->sess) return tui_message(t, TS_ERROR, "/load: out of memory");
    char *msg = NULL;
    int rc = session_cmd_load(&t->sess, t->chat, name, &msg);
    if (rc != NT_OK) {
        int f = tui_file_errors(t, "session", name[0] ? name : "(the latest)",
                                msg ? msg : "out of memory", kept);
        free(msg);
        return f;
    }
    strbuf note = {0};
    strbuf_puts(&note, msg ? msg : "loaded");
    free(msg);
    if (adopt) {
        tui_session_context(t, &note);
        tui_session_setting(t, &note);
    }
    /* The sliders as they were at the end (the persona's values stay what F6 resets to);
     * options given on the command line still win. */
    ui *u = &t->u;
    if (t->persona) {
        cli_persona_params(t->opts, t->persona, &u->base_params, &u->base_max_tokens);
        u->max_tokens = u->base_max_tokens;
    }
    nt_sampler_params last;
    u->params = u->base_params;
    if (session_last_params(t->sess, &last)) cli_session_params(t->opts, &last, &u->params);
    tui_session_refs(t);
    int f = tui_show_loaded(t, note.s ? note.s : "loaded") | UI_R_ALL | UI_R_REPAINT;
    strbuf_free(&note);
#ifdef __GLIBC__
    /* Reading a session builds libyaml's tree of the whole file (some 15 KB an answer) and
     * frees it; glibc keeps those pages in the middle of the heap, so without this every
     * /load of a longer conversation raised the resident size for good (the soak of
     * bench/soak.sh: +2.6 to +3.9 MB at each /load). */
    malloc_trim(0);
#endif
    return f;
}

/* --------------------------------------------------------------------- input ----- */

/* An accepted input line: a /command or a question. */
int tui_line(tui *t, char *line)
{
    int f = UI_R_INPUT;
    if (line[0] == '/' && line[1] != '/') {
        const char *args;
        int id = commands_parse(line, &args);
        const char *help = t->plain ? "/help" : "F1";
        if (id == -1) return f | tui_message(t, TS_ERROR, "unknown command %.40s (%s lists them)", line, help);
        if (id == -2) return f | tui_message(t, TS_ERROR, "%.40s is ambiguous (%s lists the commands)", line, help);
        if (id == -3) return f | tui_message(t, TS_ERROR, "%.40s takes no argument", line);
        return f | tui_action(t, (enum cmd_id)id, args);
    }
    const char *q = line[0] == '/' ? line + 1 : line; /* "//x" sends "/x" */
    if (q[strspn(q, " \t\n")] == '\0') return f;
    if (tui_busy(t)) {
        tui_give_back(t, line); /* keep it for later */
        return f | tui_need_idle(t, "send");
    }
    /* The question moves past the old note; the prompt view stays, to be brought up to date
     * when the answer is done. */
    if (t->u.note && t->u.note != t->prompt_note) ui_clear_note(&t->u);
    if (chat_add_user(t->chat, q) != NT_OK)
        return f | tui_message(t, TS_ERROR, "the last question has no answer yet: /regen answers "
                                            "it, /edit takes it back");
    return f | tui_start_answer(t);
}

static void tui_help_scroll(ui *u, int lines)
{
    u->help.scroll += lines;
    if (u->help.scroll > u->help.max) u->help.scroll = u->help.max;
    if (u->help.scroll < 0) u->help.scroll = 0;
}

static int tui_key(tui *t, const input_event *ev)
{
    ui *u = &t->u;
    int key = ev->key;
    if (key != CK_CTRL_C && t->ctrlc_armed) {
        t->ctrlc_armed = false;
        u->msg.text[0] = '\0';
    }
    if (key != CK_CTRL_D) t->eof_armed = false;
    if (t->pending) return tui_confirm(t, key) | UI_R_INPUT | UI_R_STATUS;
    if (t->u.ab.shown && !u->help.shown && (key == CK_PGUP || key == CK_PGDN)) return tui_ab_scroll(t, key);
    if (t->u.ab.choosing) return tui_ab_key(t, key) | UI_R_INPUT | UI_R_STATUS;
    if (t->pending_model) return tui_model_confirm(t, key) | UI_R_INPUT | UI_R_STATUS;
    if ((key == CK_ESC || key == CK_CTRL_C) && tui_busy(t)) {
        u->help.shown = false;
        return tui_action(t, CMD_STOP, "") | UI_R_ALL;
    }
    if (u->help.shown) {
        if (key == CK_PGUP || key == CK_UP || key == 'k') {
            tui_help_scroll(u, key == CK_PGUP ? -10 : -1);
            return UI_R_HISTORY;
        }
        if (key == CK_PGDN || key == CK_DOWN || key == 'j' || key == ' ') {
            tui_help_scroll(u, key == CK_DOWN || key == 'j' ? 1 : 10);
            return UI_R_HISTORY;
        }
        u->help.shown = false;
        return UI_R_ALL;
    }
    if (key == CK_CTRL_C) {
        if (tui_busy(t)) return tui_action(t, CMD_STOP, "");
        if (t->ctrlc_armed) {
            t->quit = true;
            return 0;
        }
        t->ctrlc_armed = true;
        input_set_line("");
        return UI_R_INPUT | tui_message(t, TS_NOTE, "press Ctrl-C again to quit (or type /quit)");
    }
    if (key == CK_ESC) {
        if (tui_busy(t)) return tui_action(t, CMD_STOP, "");
        if (u->panel.focus) return tui_action(t, CMD_PANEL_LEAVE, "");
        /* vi mode needs Esc; in emacs mode it would only turn the next key into a Meta key. */
        if (input_vi_mode()) input_to_readline(ev->raw, (size_t)ev->n_raw);
        if (u->msg.text[0]) {
            u->msg.text[0] = '\0';
            return UI_R_INPUT | UI_R_MESSAGE;
        }
        return UI_R_INPUT;
    }
    bool line_empty = input_line()[0] == '\0';
    if ((key == CK_HOME || key == CK_END) && !line_empty && !u->panel.focus) {
        input_to_readline(ev->raw, (size_t)ev->n_raw);
        return UI_R_INPUT;
    }
    int id = commands_find_key(u->panel.focus ? CMD_CTX_PANEL : CMD_CTX_ANY, key);
    if (id >= 0) return tui_action(t, (enum cmd_id)id, "");
    if (u->panel.focus) return 0; /* other keys do nothing while the sliders have the focus */
    if (ev->n_raw > 0) input_to_readline(ev->raw, (size_t)ev->n_raw);
    return UI_R_INPUT;
}

static int tui_mouse(tui *t, const input_event *ev)
{
    ui *u = &t->u;
    if (ev->mouse == IM_WHEEL_UP || ev->mouse == IM_WHEEL_DOWN) {
        int d = ev->mouse == IM_WHEEL_UP ? 3 : -3;
        if (u->help.shown) {
            tui_help_scroll(u, -d);
            return UI_R_HISTORY;
        }
        ui_history_scroll(u, d);
        return UI_R_HISTORY;
    }
    if (ev->mouse == IM_RELEASE) {
        u->panel.drag_slider = -1;
        return 0;
    }
    if (ev->button != 0 || u->help.shown) return 0;
    int s = u->panel.drag_slider;
    size_t turn;
    int token;
    if (ev->mouse == IM_PRESS && ui_history_token_at(u, ev->y, ev->x, &turn, &token)) {
        /* A click on an answer's word shows that token's candidates. */
        bool shown = u->probs.shown;
        u->probs.shown = true;
        u->probs.pick_turn = turn;
        u->probs.pick = token;
        return shown ? UI_R_HISTORY | UI_R_PROBS : UI_R_LAYOUT;
    }
    if (ev->mouse == IM_PRESS) {
        s = -1;
        if (u->panel.win && ev->x >= u->panel.x && ev->x < u->panel.x + u->panel.w)
            s = ui_slider_at_row(u, ev->y);
        if (s < 0 || ev->x < u->panel.track_x - 1 || ev->x > u->panel.track_x + u->panel.track_w) return 0;
        u->panel.drag_slider = s;
        u->panel.slider = s;
    }
    if (s < 0) return 0;
    ui_slider_set(u, s, ui_slider_value_at(u, s, ev->x));
    return tui_apply_params(t);
}

static int tui_paste(tui *t, const input_event *ev)
{
    /* Pasted line ends become newlines inside the question; nothing is sent by a paste. */
    char *s = malloc(ev->len + 1);
    if (!s) return 0;
    size_t j = 0;
    for (size_t i = 0; i < ev->len; i++) {
        char c = ev->text[i];
        if (c == '\r') {
            if (i + 1 < ev->len && ev->text[i + 1] == '\n') continue;
            c = '\n';
        }
        s[j++] = c;
    }
    t->u.panel.focus = false;
    t->u.help.shown = false;
    input_insert(s, j);
    free(s);
    return UI_R_INPUT | UI_R_PANEL;
}

static int tui_input_events(tui *t, bool timed_out)
{
    int f = 0;
    input_event ev;
    /* While an answer is being written, a lone ESC at the end of what arrived is the Esc key:
     * stopping must not wait for the escape-sequence timeout. */
    while (!t->quit && input_next(&ev, timed_out || (tui_busy(t) && input_lone_esc()))) {
        switch (ev.kind) {
        case IEV_KEY: f |= tui_key(t, &ev); break;
        case IEV_MOUSE: f |= tui_mouse(t, &ev); break;
        case IEV_PASTE: f |= tui_paste(t, &ev); break;
        }
        bool eof;
        char *line;
        while ((line = input_take_line(&eof)) != NULL) {
            f |= tui_line(t, line);
            free(line);
        }
        if (eof) {
            if (t->eof_armed) t->quit = true;
            t->eof_armed = true;
            f |= tui_message(t, TS_NOTE, "press Ctrl-D again to quit (or type /quit)");
        }
    }
    return f;
}

int tui_worker_event(tui *t, worker_event *ev)
{
    ui *u = &t->u;
    int f = 0;
    size_t n = chat_n_turns(t->chat);
    const chat_turn *turn = n > 0 ? chat_turn_at(t->chat, n - 1) : NULL;
    switch (ev->kind) {
    case WEV_PROGRESS:
        u->status.progress_done = ev->done;
        u->status.progress_total = ev->total;
        f = UI_R_STATUS;
        break;
    case WEV_TOKEN: {
        if (u->beam_text) { /* the search is over: its winner comes token by token */
            free(u->beam_text);
            u->beam_text = NULL;
            u->beam_gen++;
        }
        ui_answer *a = turn ? ui_answer_at(u, n - 1) : NULL;
        if (a && a->n == a->cap) ui_answer_resize(a, a->cap ? a->cap * 2 : 256, u->server);
        if (a && a->n < a->cap) {
            a->off[a->n] = turn->len;
            int k = ev->n_cand < 10 ? ev->n_cand : 10;
            memcpy(a->cand[a->n], ev->cand, (size_t)k * sizeof ev->cand[0]);
            a->n_cand[a->n] = (uint8_t)k;
            memcpy(a->stages[a->n], ev->stages, sizeof ev->stages);
            a->n_stages[a->n] = (uint8_t)ev->n_stages;
            if (a->ctext) memcpy(a->ctext[a->n], ev->cand_text, sizeof ev->cand_text);
            a->n++;
        }
        chat_apply(t->chat, ev);
        double now = now_sec();
        if (u->status.state != UI_GENERATING) {
            u->status.state = UI_GENERATING;
            u->status.gen_started = now;
            u->status.tok_per_sec = 0;
        }
        u->status.n_gen_now = ev->index + 1;
        if (now - u->status.gen_started > 0.25 && u->status.n_gen_now > 1)
            u->status.tok_per_sec = (u->status.n_gen_now - 1) / (now - u->status.gen_started);
        f = UI_R_HISTORY | UI_R_STATUS | (u->probs.shown ? UI_R_PROBS : 0);
        break;
    }
    case WEV_PARAMS:
        chat_apply(t->chat, ev);
        f = UI_R_HISTORY;
        break;
    case WEV_BEAM: /* the provisional best beam replaces the previous one */
        free(u->beam_text);
        u->beam_text = ev->text;
        ev->text = NULL;
        u->beam_tokens = ev->index;
        u->beam_gen++;
        memcpy(u->beams, ev->beams, sizeof u->beams);
        u->n_beams = ev->n_beams;
        u->beams_done = ev->beams_done;
        u->best_done = ev->best_done;
        if (u->status.state != UI_GENERATING) {
            u->status.state = UI_GENERATING;
            u->status.gen_started = now_sec();
        }
        f = UI_R_HISTORY | UI_R_STATUS | (u->probs.shown ? UI_R_PROBS : 0);
        break;
    case WEV_ERROR:
        chat_apply(t->chat, ev);
        f = UI_R_HISTORY | tui_message(t, TS_ERROR, "%s", ev->text ? ev->text : "error");
        break;
    case WEV_NOTE:
        f = tui_message(t, TS_WARNING, "%s", ev->text ? ev->text : "");
        break;
    case WEV_DONE: {
        /* The end of an answer, or of a re-read of a loaded session (no answer pending). */
        if (u->beam_text) {
            free(u->beam_text);
            u->beam_text = NULL;
            u->beam_gen++;
        }
        bool answer = turn && turn->role == NT_ROLE_ASSISTANT && !turn->complete;
        /* The answer's record is kept with the conversation (the probabilities view of any
         * answer): no room left for tokens that will not come (a soak of 500 short answers
         * grew by 49 KiB an answer, most of it the first 256 tokens' room). */
        if (answer && n - 1 < u->n_answers) ui_answer_resize(&u->answers[n - 1], u->answers[n - 1].n, u->server);
        chat_apply(t->chat, ev);
        u->status.state = ev->end == GEN_END_STOPPED ? UI_STOPPED : UI_IDLE;
        if (ev->n_gen > 0 && ev->gen_sec > 0) u->status.tok_per_sec = ev->n_gen / ev->gen_sec;
        u->status.n_past = ev->n_past;
        if (u->server && ev->n_past > 0) u->status.server_tokens = ev->n_past;
        u->status.n_gen_now = 0;
        f = UI_R_HISTORY | UI_R_STATUS | UI_R_PROBS;
        if (!answer && t->reread_note) {
            /* a branch switch's re-read: what the cache kept, what was read */
            if (ev->end == GEN_END_ERROR || ev->end == GEN_END_STOPPED)
                f |= tui_message(t, TS_WARNING, "%s; not read in (%s): the next question reads it",
                                 t->reread_note, gen_end_name(ev->end, false));
            else
                f |= tui_message(t, TS_NOTE, "%s; %d tokens kept in the cache, %d read",
                                 t->reread_note, (int)t->reread_keep,
                                 (int)ev->n_past - (int)t->reread_keep);
            free(t->reread_note);
            t->reread_note = NULL;
            break;
        }
        if (!answer) {
            if (ev->end == GEN_END_ERROR || ev->end == GEN_END_STOPPED)
                f |= tui_message(t, TS_WARNING, "the conversation was not read back (%s); the next "
                                 "question reads it", gen_end_name(ev->end, false));
            else
                f |= tui_message(t, TS_NOTE, "read %zu messages back into the model (%d tokens)",
                                 chat_n_turns(t->chat), (int)ev->n_past);
            break;
        }
        f |= tui_prompt_view(t, 0);
        /* /stats: this answer, and the session's sums. */
        t->last = (tui_stats){.answers = 1,
                              .ttft = u->status.gen_started > 0 ? u->status.gen_started - t->asked_at : 0,
                              .prompt_sec = ev->prompt_sec, .gen_sec = ev->gen_sec,
                              .n_prompt = ev->n_prompt, .n_gen = ev->n_gen, .reused = t->asked_keep};
        t->total.answers++;
        t->total.ttft += t->last.ttft;
        t->total.prompt_sec += ev->prompt_sec;
        t->total.gen_sec += ev->gen_sec;
        t->total.n_prompt += ev->n_prompt;
        t->total.n_gen += ev->n_gen;
        t->total.reused += t->asked_keep;
        /* The next answer (or a /regen) draws differently, and reproducibly from the seed. */
        u->params.seed++;
        f |= tui_autosave(t);
        if (ev->end == GEN_END_CONTEXT_FULL)
            f |= tui_message(t, TS_WARNING, "the context is full; the next question drops the oldest turns");
        if (u->ab.shown) f |= tui_ab_done(t, ev->end); /* the next side, or the choice */
        break;
    }
    }
    free(ev->text);
    ev->text = NULL;
    return f;
}

static int tui_signals(tui *t)
{
    unsigned sig = term_take_signals();
    int f = 0;
    if (sig & (1u << SIGWINCH)) {
        term_resize();
        input_resize(LINES, COLS);
        f |= UI_R_REPAINT;
    }
    int quit_sigs[] = {SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof quit_sigs / sizeof *quit_sigs; i++)
        if (sig & (1u << quit_sigs[i])) {
            t->quit = true;
            t->quit_signal = quit_sigs[i];
        }
    if (sig & (1u << SIGTSTP)) {
        term_suspend();
        input_resize(LINES, COLS);
        f |= UI_R_REPAINT;
    }
    if (sig & (1u << SIGINT)) {
        input_event ev = {.kind = IEV_KEY, .key = CK_CTRL_C};
        f |= tui_key(t, &ev);
    }
    return f;
}

static int tui_loop(tui *t)
{
    int flags = UI_R_LAYOUT;
    char buf[4096];
    while (!t->quit) {
        if (input_take_dirty()) flags |= UI_R_INPUT;
        if (flags) {
            ui_draw(&t->u, flags);
            flags = 0;
        }
        struct pollfd fds[5] = {{STDIN_FILENO, POLLIN, 0},
                                {worker_wake_fd(t->w), POLLIN, 0},
                                {term_signal_fd(), POLLIN, 0},
                                {tui_replay_fd(t), POLLIN, 0},
                                {tui_docs_fd(t), POLLIN, 0}};
        int r = poll(fds, 5, input_has_partial() ? TUI_ESC_WAIT_MS : -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) {
            flags |= tui_input_events(t, true);
            continue;
        }
        if (fds[2].revents & POLLIN) flags |= tui_signals(t);
        if (fds[0].revents & POLLIN) {
            ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                t->quit = true; /* the terminal went away */
                break;
            }
            if (n > 0) {
                input_feed(buf, (size_t)n);
                flags |= tui_input_events(t, false);
            }
        } else if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
            t->quit = true;
            break;
        }
        if (fds[1].revents & POLLIN) {
            worker_event ev;
            for (int i = 0; i < TUI_EVENTS_PER_DRAW && worker_poll(t->w, &ev); i++)
                flags |= tui_worker_event(t, &ev);
        }
        if (t->rp && (fds[3].revents & POLLIN)) flags |= tui_replay_events(t, TUI_EVENTS_PER_DRAW);
        if (fds[4].revents & POLLIN) flags |= tui_docs_events(t);
    }
    return 0;
}

/* On leaving: where the conversation is and how to go on with it (the screen is gone; the
 * path is text from the environment, so shown escaped). */
static void tui_say_saved(const tui *t)
{
    if (!t->sess || !t->sess->path || t->saved_turns == 0) return;
    const char *path = t->sess->path;
    char *dir = session_dir();
    size_t n = dir ? strlen(dir) : 0;
    const char *ref = path;
    char name[512];
    if (dir && !strncmp(path, dir, n) && path[n] == '/' && !strchr(path + n + 1, '/')) {
        /* In the sessions folder: its name is enough. */
        snprintf(name, sizeof name, "%.*s", (int)(strlen(path + n + 1) - 5), path + n + 1);
        ref = name;
    }
    free(dir);
    fputs("natter: the conversation is saved in ", stdout);
    cli_write_text(stdout, path, strlen(path), true);
    fputs("\nnatter: continue it with: natter --resume ", stdout);
    cli_write_text(stdout, ref, strlen(ref), true);
    fputs("\n", stdout);
    fflush(stdout);
}

/* Every way out saves the conversation: one that comes during an answer (SIGTERM, SIGHUP, the
 * terminal gone) stops the answer and lets its end be handled like any stopped answer's,
 * which autosaves. Bounded: a worker that does not answer within seconds is left to exit. */
static void tui_finish(tui *t)
{
    if (!t->chat || !chat_busy(t->chat)) return;
    worker_stop(t->w);
    worker_event ev;
    while (chat_busy(t->chat) && worker_wait(t->w, &ev, 5000)) tui_worker_event(t, &ev);
}

int tui_main(const struct cli_opts *opts)
{
    tui t;
    memset(&t, 0, sizeof t);
    t.opts = opts;
    if (!opts->api_base) text_printf(stderr, "natter: loading %s...\n", opts->model);
    const char *where = opts->api_base ? opts->api_base : opts->model;
    if (!(t.model_path = strdup(where))) {
        text_printf(stderr, "natter: out of memory\n");
        return 1;
    }
    t.w = cli_start_worker(opts);
    if (!t.w) {
        free(t.model_path);
        return 1;
    }
    const nt_model_info *mi = worker_model_info(t.w);
    enum nt_chat_family fam = cli_worker_family(opts, t.w);
    t.chat = chat_init(worker_tokenizer(t.w), fam, mi->n_ctx);
    if (!t.chat) {
        text_printf(stderr, "natter: out of memory\n");
        worker_free(t.w);
        return 1;
    }
    chat_set_raw(t.chat, opts->raw);
    chat_set_think_switch(t.chat, nt_chat_think_switch_gguf(worker_gguf(t.w)));
    if (opts->system) chat_set_system(t.chat, opts->system);
    t.model_family = fam;

    ui_init(&t.u);
    t.u.chat = t.chat;
    t.u.worker = t.w;
    t.u.tok = worker_tokenizer(t.w);
    t.u.model_name = mi->name;
    t.u.server = worker_remote(t.w) ? remote_host(worker_remote(t.w)) : NULL;
    t.u.params = t.u.base_params = opts->params;
    t.u.max_tokens = t.u.base_max_tokens = opts->max_tokens;

    /* The persona main loaded (the built-in one when the file was bad: its errors go to the
     * history) and the theme (likewise). */
    int rc = 1;
    /* The session every answer is autosaved into (app/conv/session.h). */
    t.sess = session_init();
    if (!t.sess || session_set_worker(t.sess, t.w) != NT_OK ||
        (opts->save && !(t.save_to = strdup(opts->save)))) {
        text_printf(stderr, "natter: out of memory\n");
        goto done;
    }
    persona *p = opts->loaded ? opts->loaded : persona_builtin();
    if (!p) {
        text_printf(stderr, "natter: out of memory\n");
        goto done;
    }
    tui_use_persona(&t, p, opts->system);
    for (int i = 0; i < opts->n_docs; i++) tui_docs_add(&t, opts->docs[i]);
    ycfg_diag td = {0};
    t.theme = theme_open_or_default(opts->theme, &td);
    char *theme_errs = td.n ? ycfg_diag_join(&td) : NULL;
    ycfg_diag_free(&td);
    tui_session_refs(&t);
    if (opts->persona_errors)
        tui_file_errors(&t, "persona", opts->persona ? opts->persona : "", opts->persona_errors, "the built-in default");
    else if (opts->persona_notes)
        ui_set_note(&t.u, UI_NOTE_INFO, opts->persona_notes);
    if (theme_errs) {
        /* Both can be bad: the history shows both. */
        const char *prev = t.u.note ? t.u.note : "";
        size_t n = strlen(prev) + strlen(theme_errs) + 200;
        char *both = malloc(n);
        if (both) {
            snprintf(both, n, "%s%stheme %s cannot be used; keeping the built-in dark:\n%s", prev,
                     prev[0] ? "\n" : "", opts->theme ? opts->theme : "", theme_errs);
            ui_set_note(&t.u, UI_NOTE_ERROR, both);
            free(both);
        }
        tui_message(&t, TS_ERROR, "the %s has errors (shown above); using the defaults",
                    opts->persona_errors ? "persona and the theme" : "theme");
        free(theme_errs);
    }
    /* A context longer than the model was trained for: said, not silently gibberish (the
     * errors of a persona or theme come first). */
    char ctx_warn[256];
    if (!t.u.msg.text[0] && cli_ctx_warning(mi, ctx_warn, sizeof ctx_warn))
        tui_message(&t, TS_WARNING, "%s", ctx_warn);
    term_set_theme(t.theme);
    /* A terminal that cannot place the cursor (TERM=dumb, unknown, unset) gets the chat line
     * by line rather than a screen drawn as garbage with its answers unseen; --plain asks for
     * it anywhere (why stays empty: nothing to explain). */
    char why[160] = "";
    t.plain = opts->plain || !term_can_address(why, sizeof why);
    if (t.plain ? term_init_plain() != 0 : term_init() != 0) goto done;
    if (!t.plain) {
        input_init(input_history_path());
        input_resize(LINES, COLS);
    }
    /* --resume: as /load; a file that does not load leaves a new conversation, saved under a
     * new name (the bad file is never written over). */
    if (opts->resume) tui_load(&t, opts->resume, "a new conversation (saved under a new name)", false);
    rc = (t.plain ? tui_plain_loop(&t, why) : tui_loop(&t)) == 0 ? 0 : 1;
    tui_finish(&t);
    input_free();
    ui_del_windows(&t.u);
    term_end();
    if (t.quit_signal) rc = 128 + t.quit_signal;
    tui_say_saved(&t);
done:
    tui_replay_end(&t);
    docs_free(t.docs); /* stops the indexing tasks between two files */
    free(t.docs_intro);
    session_free(t.sess);
    free(t.save_to);
    free(t.reread_note);
    for (size_t k = 0; k < t.n_stash; k++) ui_answer_free(&t.stash[k]);
    free(t.stash);
    ui_free(&t.u);
    chat_free(t.chat);
    worker_free(t.w); /* stops a running answer and joins the thread */
    if (t.persona != opts->loaded) persona_free(t.persona);
    free(t.given_back);
    persona_free(t.pending);
    nt_model_free(t.pending_model);
    free(t.pending_path);
    free(t.model_path);
    term_set_theme(NULL);
    theme_free(t.theme);
    return rc;
}
