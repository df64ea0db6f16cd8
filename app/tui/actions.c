/* actions.c — what each action of the command table does (app/tui/commands.h).
 *
 * One function per row of COMMAND_LIST, named action_ID after its id (action_REGEN for
 * CMD_REGEN), and one table that tui_action dispatches through: the table is generated from
 * COMMAND_LIST, so a row without its function does not compile. As in htop's Action.c, an
 * action changes state and returns the UI_R_* flags of what must be redrawn; it never draws.
 * The /command handlers that take arguments (/set, /persona, /theme, /save, /export...) are
 * here too; what they share with the event loop (answers, personas, sessions) is in tui.c. */
#include "tui_int.h"

#include "cmd/model_find.h"
#include "conv/remote.h"
#include "input.h"
#include "term.h"

#include "util/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------- /command handlers ----- */

/* /set with a name that is no parameter: the likely one (a typo) and every valid name, from
 * the parameter table. */
static int tui_set_unknown(tui *t, const char *name)
{
    const char *cands[PARAM_COUNT];
    char list[512] = "";
    size_t o = 0;
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        cands[i] = param_defs[i].name;
        o += (size_t)snprintf(list + o, o < sizeof list ? sizeof list - o : 0, "%s%s", i ? ", " : "",
                              param_defs[i].name);
    }
    const char *sug = ycfg_suggest(name, cands, PARAM_COUNT);
    char did[96] = "";
    if (sug) snprintf(did, sizeof did, " (did you mean %s?)", sug);
    return tui_message(t, TS_ERROR, "/set: unknown parameter '%.40s'%s; one of: %s", name, did, list);
}

static int tui_set(tui *t, const char *args)
{
    char name[64], value[64];
    param_values v = {.sp = t->u.params, .max_tokens = t->u.max_tokens};
    int got = sscanf(args, "%63s %63s", name, value);
    if (got < 1) return tui_message(t, TS_ERROR, "usage: /set NAME [VALUE] (without VALUE, shows it)");
    if (!param_lookup(name, PARAM_FORM_NAME, NULL)) return tui_set_unknown(t, name);
    if (got == 1) {
        /* /set NAME: the value now. */
        const param_def *d = param_lookup(name, PARAM_FORM_NAME, NULL);
        char buf[64];
        param_format(d, &v, buf, sizeof buf);
        return tui_message(t, TS_NOTE, "%s = %s", d->name, buf);
    }
    const param_def *d = NULL;
    char note[160];
    nt_err err = {0};
    if (param_set_text(&v, name, value, &d, note, sizeof note, &err) != NT_OK)
        return tui_message(t, TS_ERROR, "/set %s: %s", name, err.msg);
    char buf[64];
    param_format(d, &v, buf, sizeof buf);
    t->u.params = v.sp;
    t->u.max_tokens = v.max_tokens;
    /* The answer limit is taken when an answer starts; the sampler's values reach a running
     * answer at the next token. */
    const char *when = param_is_sampler(d) && d->id != PARAM_BEAMS && d->id != PARAM_LENGTH_PENALTY
                           ? "" : " (from the next answer on)";
    return tui_apply_params(t) |
           tui_message(t, TS_NOTE, "%s = %s%s%s%s", d->name, buf, when, note[0] ? "; note: " : "", note);
}

/* Adds the --context documents to a persona chosen with /persona. */
static int tui_add_context(tui *t, persona *p, char *msg, size_t cap)
{
    for (int i = 0; i < t->opts->n_context; i++) {
        nt_err err = {0};
        if (persona_add_context_file(p, t->opts->context[i], &err) != NT_OK) {
            snprintf(msg, cap, "%s", err.msg);
            return -1;
        }
    }
    return 0;
}

static int tui_persona(tui *t, const char *args)
{
    if (!args[0]) {
        const persona *p = t->persona;
        return tui_message(t, TS_NOTE, "persona %s (%s), fixed part %d tokens; /persona NAME switches",
                           p ? p->name : "default", p ? p->path : "(built-in)",
                           (int)t->u.persona_tokens);
    }
    ycfg_diag d = {0};
    persona *p = persona_open(args, &d);
    char msg[512];
    if (!p) {
        char *errs = ycfg_diag_join(&d);
        int f = tui_file_errors(t, "persona", args, errs ? errs : "out of memory",
                                t->u.persona ? t->u.persona : "the current one");
        free(errs);
        ycfg_diag_free(&d);
        return f;
    }
    char *notes = d.n ? ycfg_diag_join(&d) : NULL; /* read, with notes on spellings */
    ycfg_diag_free(&d);
    if (tui_add_context(t, p, msg, sizeof msg) != 0) {
        free(notes);
        persona_free(p);
        return tui_file_errors(t, "persona", args, msg, t->u.persona ? t->u.persona : "the current one");
    }
    if (chat_n_turns(t->chat) > t->saved_turns) {
        persona_free(t->pending);
        t->pending = p;
        snprintf(t->u.status.ask, sizeof t->u.status.ask,
                 "The conversation is not saved. Start a new one with persona %.100s? (y/n)", p->name);
        t->u.msg.text[0] = '\0';
        if (notes) ui_set_note(&t->u, UI_NOTE_INFO, notes);
        free(notes);
        return UI_R_STATUS | UI_R_MESSAGE | UI_R_HISTORY;
    }
    ui_clear_note(&t->u);
    t->u.msg.text[0] = '\0';
    int f = tui_use_persona(t, p, NULL);
    if (notes) ui_set_note(&t->u, UI_NOTE_INFO, notes);
    free(notes);
    if (t->u.msg.text[0]) return f | UI_R_HISTORY; /* what went wrong, or does not fit */
    /* A persona's backend is chosen when natter starts (cli_pick_backend): said, not done
     * (its URL is not repeated: it may carry a password). */
    remote *rm = worker_remote(t->w);
    if (p->backend.api_base && !(rm && cli_same_base(remote_base(rm), p->backend.api_base)))
        return f | UI_R_HISTORY |
               tui_message(t, TS_NOTE, "persona %.100s: a new conversation, answered as before (the "
                           "server it names applies when natter starts with --persona)", p->name);
    return f | UI_R_HISTORY | tui_message(t, TS_NOTE, "persona %.100s: a new conversation", p->name);
}

/* The answer to the y/n question of /persona. */
int tui_confirm(tui *t, int key)
{
    persona *p = t->pending;
    t->pending = NULL;
    t->u.status.ask[0] = '\0';
    if (key == 'y' || key == 'Y') {
        ui_clear_note(&t->u);
        char name[128];
        snprintf(name, sizeof name, "%s", p->name);
        t->u.msg.text[0] = '\0';
        int f = tui_use_persona(t, p, NULL);
        if (t->u.msg.text[0]) return f; /* what went wrong, or does not fit */
        return f | tui_message(t, TS_NOTE, "persona %s: a new conversation", name);
    }
    persona_free(p);
    return tui_message(t, TS_NOTE, "kept persona %s and the conversation", t->u.persona);
}

/* ------------------------------------------------------------------- /model ----- */

/* Puts model m (taken: freed on failure) from path (taken) in place of the current one: a
 * new worker and chat, the persona applied again for the new template. keep: the
 * conversation stays and is read into the new model, in a new session file (the old file
 * stays the old model's, replayable); else a new conversation starts. */
static int tui_use_model(tui *t, nt_model *m, char *path, bool keep)
{
    nt_err err = {0};
    worker *w = worker_init(m, &err); /* frees m on failure */
    if (!w) {
        free(path);
        return tui_message(t, TS_ERROR, "/model: %s", err.msg);
    }
    const nt_model_info *mi = worker_model_info(w);
    enum nt_chat_family fam = nt_chat_detect_gguf(worker_gguf(w));
    int f = t->opts->template_name ? nt_chat_family_from_name(t->opts->template_name) : -1;
    if (f >= 0) fam = (enum nt_chat_family)f;
    chat *c = chat_init(worker_tokenizer(w), fam, mi->n_ctx);
    if (!c || !t->sess || (keep && session_capture(t->sess, t->chat) != NT_OK)) {
        chat_free(c);
        worker_free(w);
        free(path);
        return tui_message(t, TS_ERROR, "/model: out of memory");
    }
    chat_set_raw(c, t->opts->raw);
    chat_set_think_switch(c, nt_chat_think_switch_gguf(worker_gguf(w)));
    chat_free(t->chat);
    worker_free(t->w);
    t->chat = t->u.chat = c;
    t->w = t->u.worker = w;
    t->u.tok = worker_tokenizer(w);
    t->u.model_name = mi->name;
    t->model_family = fam;
    free(t->model_path);
    t->model_path = path;
    session_set_worker(t->sess, w);
    /* The persona again (its template family may differ), then the conversation back. */
    persona *p = t->persona;
    t->persona = NULL;
    int flags = tui_use_persona(t, p, NULL);
    if (!t->persona && (p = persona_builtin())) flags |= tui_use_persona(t, p, NULL);
    if (keep) {
        if (session_restore(t->sess, c, &err) == NT_OK) {
            if (!t->opts->template_name && t->persona)
                chat_set_family(c, persona_family(t->persona, fam));
            char msg[300];
            snprintf(msg, sizeof msg, "model %.200s: the conversation is read into it", mi->name);
            flags |= tui_show_loaded(t, msg);
        } else {
            flags |= tui_message(t, TS_ERROR, "/model: %s; a new conversation", err.msg);
        }
        tui_new_session(t);
    } else {
        flags |= tui_message(t, TS_NOTE, "model %.200s: a new conversation", mi->name);
    }
    char warn[256];
    if (cli_ctx_warning(mi, warn, sizeof warn)) flags |= tui_message(t, TS_WARNING, "%s", warn);
    return flags | UI_R_ALL;
}

/* /model [NAME]: a file, or a name `natter models` lists (cmd/model_find.h). */
static int tui_model(tui *t, const char *args)
{
    const nt_model_info *mi = worker_model_info(t->w);
    remote *rm = worker_remote(t->w);
    if (rm) { /* a remote server: /model NAME asks it for another of its models */
        if (!args[0])
            return tui_message(t, TS_NOTE, "model %.200s at %.300s; /model NAME switches (natter "
                               "models --api-base URL lists them)", remote_model(rm), remote_base(rm));
        if (worker_busy(t->w)) return tui_message(t, TS_ERROR, "/model: wait for the answer to end");
        if (remote_set_model(rm, args) != NT_OK) return tui_message(t, TS_ERROR, "/model: out of memory");
        t->u.model_name = worker_model_info(t->w)->name;
        if (t->sess) session_set_worker(t->sess, t->w);
        return UI_R_STATUS | tui_message(t, TS_NOTE, "model %.200s: the next answer comes from it",
                                         remote_model(rm));
    }
    if (!args[0])
        return tui_message(t, TS_NOTE, "model %.200s (%.300s), context %d of %d trained; /model NAME "
                           "switches (natter models lists them)", mi->name, t->model_path,
                           (int)mi->n_ctx, (int)mi->n_ctx_train);
    char msg[2048];
    char *path = model_find_resolve(args, msg, sizeof msg);
    if (!path) {
        /* Several lines (the candidates of an ambiguous name) go to the history. */
        ui_set_note(&t->u, UI_NOTE_ERROR, msg);
        t->u.hist.follow = true;
        return UI_R_HISTORY | tui_message(t, TS_ERROR, "/model: no such model (shown above); "
                                          "keeping %.200s", mi->name);
    }
    nt_model_params mp = nt_model_default_params();
    mp.n_ctx = t->opts->n_ctx;
    mp.n_threads = t->opts->n_threads;
    mp.kv_type = cli_kv_type(t->opts);
    nt_model *m = NULL;
    nt_err err = {0};
    if (nt_model_load(&m, path, &mp, &err) != NT_OK) {
        free(path);
        ui_set_note(&t->u, UI_NOTE_ERROR, err.msg);
        t->u.hist.follow = true;
        return UI_R_HISTORY | tui_message(t, TS_ERROR, "/model: the model cannot be used (shown "
                                          "above); keeping %.200s", mi->name);
    }
    if (chat_n_turns(t->chat) == 0) {
        ui_clear_note(&t->u);
        return tui_use_model(t, m, path, false);
    }
    nt_model_free(t->pending_model);
    free(t->pending_path);
    t->pending_model = m;
    t->pending_path = path;
    const char *base = strrchr(path, '/');
    snprintf(t->u.status.ask, sizeof t->u.status.ask, "Switch to %.100s: keep the conversation and "
             "read it into the new model (y), start a new one (n), or stay (%s)?",
             base ? base + 1 : path, t->plain ? "Enter" : "Esc");
    t->u.msg.text[0] = '\0';
    return UI_R_STATUS | UI_R_MESSAGE;
}

int tui_model_confirm(tui *t, int key)
{
    nt_model *m = t->pending_model;
    char *path = t->pending_path;
    t->pending_model = NULL;
    t->pending_path = NULL;
    t->u.status.ask[0] = '\0';
    if (key == 'y' || key == 'Y' || key == 'n' || key == 'N') {
        ui_clear_note(&t->u);
        return tui_use_model(t, m, path, key == 'y' || key == 'Y');
    }
    nt_model_free(m);
    free(path);
    return tui_message(t, TS_NOTE, "kept model %.200s", worker_model_info(t->w)->name);
}

static int tui_theme(tui *t, const char *args)
{
    if (t->plain) /* nothing is drawn in colour: a theme would be chosen for nothing */
        return tui_message(t, TS_NOTE, "/theme: themes colour the chat screen, which this terminal "
                           "cannot show");
    if (!args[0])
        return tui_message(t, TS_NOTE, "theme %s (%s); /theme NAME switches",
                           t->theme ? t->theme->name : "dark", t->theme ? t->theme->path : "(built-in)");
    ycfg_diag d = {0};
    theme *th = theme_open(args, &d);
    if (!th) {
        char *errs = ycfg_diag_join(&d);
        int f = tui_file_errors(t, "theme", args, errs ? errs : "out of memory",
                                t->theme ? t->theme->name : "the current one");
        free(errs);
        ycfg_diag_free(&d);
        return f;
    }
    ycfg_diag_free(&d);
    term_set_theme(th);
    theme_free(t->theme);
    t->theme = th;
    tui_session_refs(t);
    return UI_R_ALL | UI_R_REPAINT | tui_message(t, TS_NOTE, "theme %.100s", th->name);
}

static int tui_save(tui *t, const char *args)
{
    if (!t->sess) return tui_message(t, TS_ERROR, "/save: out of memory");
    char msg[1024];
    int rc = session_cmd_save(t->sess, t->chat, args, msg, sizeof msg);
    if (rc != NT_OK) return tui_message(t, TS_ERROR, "/save: %s", msg);
    t->saved_turns = tui_saveable_turns(t);
    if (args[0]) {
        /* The name given takes over from --save FILE. */
        free(t->save_to);
        t->save_to = NULL;
    }
    /* "saved to PATH (autosaves go there) (in place of OLD)": what matters first. */
    char *in_place = strstr(msg, " (in place of ");
    if (in_place) *in_place = '\0';
    return tui_message(t, TS_NOTE, "%s (autosaves go there)%s%s", msg, in_place ? " " : "",
                       in_place ? in_place + 1 : "");
}

/* /copy [N | code [K]]: the last answer, answer N, or the K-th code block of the last answer
 * (the first without K), to the clipboard through OSC 52 when the terminal takes it, else
 * into a file; the message says which. */
static int tui_copy(tui *t, const char *args)
{
    size_t want = 0; /* answer number, 0: the last */
    int block = 0;
    char word[16] = "";
    long num = 0;
    int got = sscanf(args, "%15s %ld", word, &num);
    if (got >= 1 && !strcmp(word, "code")) {
        block = got == 2 ? (int)num : 1;
        if (block < 1) return tui_message(t, TS_ERROR, "usage: /copy [N | code [K]]");
    } else if (got >= 1) {
        char *end;
        long n = strtol(word, &end, 10);
        if (*end || n < 1) return tui_message(t, TS_ERROR, "usage: /copy [N | code [K]]");
        want = (size_t)n;
    }
    const chat_turn *a = NULL;
    size_t seen = 0, which = 0;
    for (size_t i = 0; i < chat_n_turns(t->chat); i++) {
        const chat_turn *x = chat_turn_at(t->chat, i);
        if (x->role != NT_ROLE_ASSISTANT || !x->complete) continue;
        seen++;
        if (!want || seen == want) a = x, which = seen;
    }
    if (!a && want) return tui_message(t, TS_NOTE, "/copy: there is no answer %zu (there are %zu)", want, seen);
    if (!a) return tui_message(t, TS_NOTE, "/copy: there is no answer yet");
    size_t start = 0, len = a->len;
    if (block && !text_code_block(a->text, block, &start, &len))
        return tui_message(t, TS_NOTE, "/copy: answer %zu has no code block %d", which, block);
    char what[48];
    if (block) snprintf(what, sizeof what, "code block %d of answer %zu", block, which);
    else snprintf(what, sizeof what, "answer %zu", which);
    if (term_clipboard_ok()) {
        if (!term_clipboard_put(a->text + start, len))
            return tui_message(t, TS_ERROR, "/copy: cannot write to the terminal");
        return tui_message(t, TS_NOTE, "copied %s (%zu bytes) to the clipboard (OSC 52)", what, len);
    }
    /* No clipboard: a private file in natter's state folder. */
    char *dir = session_dir(), *path = NULL;
    nt_err err = {0};
    int rc = NT_ERR_IO;
    if (dir) {
        char *slash = strrchr(dir, '/'); /* .../natter/sessions -> .../natter */
        if (slash) *slash = '\0';
        size_t n = strlen(dir) + 32;
        if ((path = malloc(n))) {
            snprintf(path, n, "%s/clipboard.txt", dir);
            rc = ycfg_make_dirs(dir, 0700, &err);
            if (rc == NT_OK) rc = ycfg_write_atomic_mode(path, a->text + start, len, true, 0600, &err);
        }
    }
    int f = rc == NT_OK ? tui_message(t, TS_NOTE, "copied %s (%zu bytes) into %.300s (the terminal "
                                      "takes no clipboard writes)", what, len, path)
                        : tui_message(t, TS_ERROR, "/copy: %s", err.msg[0] ? err.msg : "no state folder");
    free(path);
    free(dir);
    return f;
}

/* /prompt [ids | off] */
static int tui_prompt(tui *t, const char *args)
{
    if (!strcmp(args, "off")) {
        if (t->prompt_view && t->u.note == t->prompt_note) ui_clear_note(&t->u);
        t->prompt_view = 0;
        return UI_R_HISTORY;
    }
    if (args[0] && strcmp(args, "ids")) return tui_message(t, TS_ERROR, "usage: /prompt [ids | off]");
    int f = tui_prompt_view(t, args[0] ? 2 : 1);
    if (t->u.msg.style == TS_ERROR && t->u.msg.text[0]) return f;
    t->u.hist.follow = true; /* the parts' tokens at the end, the text above them */
    return f | tui_message(t, TS_NOTE, "the prompt as the model sees it (above; PgUp/PgDn scroll): "
                           "/prompt ids lists the tokens, /prompt off closes it");
}

static int tui_stats_show(tui *t)
{
    char *text = tui_stats_text(t);
    if (!text) return tui_message(t, TS_ERROR, "/stats: out of memory");
    ui_set_note(&t->u, UI_NOTE_INFO, text);
    free(text);
    t->u.hist.follow = true;
    return UI_R_HISTORY | tui_message(t, TS_NOTE, "speeds and the context (shown above)");
}

static int tui_sessions(tui *t)
{
    int count = 0;
    char *list = session_cmd_list(&count);
    if (!list) return tui_message(t, TS_ERROR, "/sessions: out of memory");
    if (count <= 0) { /* the reason, or that there are none: one line, no list above */
        int f = tui_message(t, count < 0 ? TS_ERROR : TS_NOTE, "/sessions: %s", list);
        free(list);
        return f;
    }
    size_t n = strlen(list);
    while (n > 0 && list[n - 1] == '\n') list[--n] = '\0';
    ui_set_note(&t->u, UI_NOTE_INFO, list);
    free(list);
    t->u.hist.follow = true;
    return UI_R_HISTORY | tui_message(t, TS_NOTE, "saved sessions, newest first (shown above); "
                                                  "/load NAME resumes one");
}

/* /export [FILE] [md|json] [thinking]: the conversation as `natter export` writes a session
 * file (thinking: with a reasoning model's thoughts, as --thinking). FILE defaults to the
 * session's name in the current folder; the format to FILE's extension. */
static int tui_export(tui *t, const char *args)
{
    char file[1024];
    const char *fmt = NULL; /* a literal: "md", "markdown" or "json" */
    bool thinking = false;
    snprintf(file, sizeof file, "%s", args);
    size_t n = strlen(file);
    /* The words at the end: a format and "thinking", in either order. */
    static const char *const formats[] = {"md", "markdown", "json"};
    for (int k = 0; k < 2; k++) {
        while (n > 0 && (file[n - 1] == ' ' || file[n - 1] == '\t')) file[--n] = '\0';
        char *last = strrchr(file, ' ');
        const char *word = last ? last + 1 : file;
        const char *f = NULL;
        for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
            if (!strcmp(word, formats[i])) f = formats[i];
        bool is_think = !strcmp(word, "thinking") || !strcmp(word, "--thinking");
        if (!f && !is_think) break;
        if (f) fmt = f;
        else thinking = true;
        if (last) *last = '\0';
        else file[0] = '\0';
        n = strlen(file);
    }
    n = strlen(file);
    if (!fmt) fmt = n > 5 && !strcmp(file + n - 5, ".json") ? "json" : "md";
    if (!file[0]) {
        /* The session's name, else a fresh one like the sessions folder's. */
        char base[512] = "natter-chat";
        const char *p = t->sess ? t->sess->path : NULL;
        if (p) {
            const char *slash = strrchr(p, '/');
            snprintf(base, sizeof base, "%s", slash ? slash + 1 : p);
            size_t bn = strlen(base);
            if (bn > 5 && !strcmp(base + bn - 5, ".yaml")) base[bn - 5] = '\0';
        }
        snprintf(file, sizeof file, "%s.%s", base, strcmp(fmt, "json") ? "md" : "json");
    }
    if (!t->sess || session_capture(t->sess, t->chat) != NT_OK)
        return tui_message(t, TS_ERROR, "/export: out of memory");
    nt_err err = {0};
    if (session_export_file(t->sess, fmt, thinking, file, &err) != NT_OK)
        return tui_message(t, TS_ERROR, "/export: %s", err.msg);
    char *abs = realpath(file, NULL);
    int f = tui_message(t, TS_NOTE, "exported %zu messages as %s%s to %s", t->sess->n_turns,
                        strcmp(fmt, "json") ? "Markdown" : "JSON", thinking ? " with the thinking" : "",
                        abs ? abs : file);
    free(abs);
    return f;
}

/* ------------------------------------------------------------------ the actions ----- */

static int action_HELP(tui *t, const char *args)
{
    t->u.help.shown = !t->u.help.shown;
    t->u.help.scroll = 0;
    return UI_R_ALL;
}

/* /regen before the first question: the persona's next greeting, when it has several. */
static int tui_next_greeting(tui *t)
{
    size_t n = t->persona ? persona_n_greetings(t->persona) : 0;
    if (n < 2) return tui_message(t, TS_NOTE, "/regen: there is no answer to write again");
    const char *slash = t->model_path ? strrchr(t->model_path, '/') : NULL;
    persona_vars v = {NULL, slash ? slash + 1 : t->model_path, NULL};
    char *g = persona_greeting_at(t->persona, &v, t->greeting_i + 1);
    if (!g || chat_set_greeting(t->chat, g) != NT_OK) {
        free(g);
        return tui_message(t, TS_ERROR, "/regen: out of memory");
    }
    free(g);
    t->greeting_i = (t->greeting_i + 1) % n;
    t->u.fixed_gen++;
    return UI_R_HISTORY | UI_R_STATUS |
           tui_message(t, TS_NOTE, "greeting %zu of %zu", t->greeting_i + 1, n);
}

static int action_REGEN(tui *t, const char *args)
{
    if (chat_n_turns(t->chat) == 0 && chat_greeting(t->chat)) return tui_next_greeting(t);
    size_t n = chat_n_turns(t->chat);
    if (n > 0 && chat_turn_at(t->chat, n - 1)->role == NT_ROLE_ASSISTANT && !tui_busy(t))
        tui_stash_from(t, n - 1); /* the old answer stays an alternative: its candidates too */
    if (chat_regen(t->chat) != NT_OK)
        return tui_message(t, TS_NOTE, "/regen: there is no answer to write again");
    ui_truncate(&t->u, chat_n_turns(t->chat));
    return tui_start_answer(t);
}

static int action_EDIT(tui *t, const char *args)
{
    size_t n = chat_n_turns(t->chat);
    if (n > 1 && chat_turn_at(t->chat, n - 1)->role == NT_ROLE_ASSISTANT) tui_stash_from(t, n - 1);
    char *q = chat_edit(t->chat);
    if (!q) return tui_message(t, TS_NOTE, "/edit: there is no question to edit");
    ui_truncate(&t->u, chat_n_turns(t->chat));
    tui_update_meter(t);
    tui_give_back(t, q);
    free(q);
    return UI_R_HISTORY | UI_R_INPUT | UI_R_STATUS |
           tui_message(t, TS_NOTE, t->plain ? "the last question is above, to send again as it is or changed (the old "
                                              "one stays as an alternative: /branch)"
                                            : chat_alternatives(t->chat, chat_n_turns(t->chat), NULL) > 0
                                                  ? "the last question is back in the input line (the old one "
                                                    "stays as an alternative: Alt-Up)"
                                                  : "the last question is back in the input line");
}

/* ---- branches: each /regen and /edit keeps what it replaces (chat.h) ---- */

/* Alt-Up / Alt-Down: the alternative before or after the one shown, at the last place the
 * conversation branches (wrapping around). */
static int tui_branch_step(tui *t, int dir)
{
    long at = chat_branch_point(t->chat);
    if (at < 0) return tui_message(t, TS_NOTE, "no alternatives: /regen and /edit make them");
    size_t k, n = chat_alternatives(t->chat, (size_t)at, &k);
    if (k >= n) k = dir > 0 ? n - 1 : 0; /* none shown: from the end or the start */
    return tui_switch_branch(t, (size_t)at, (k + n + (size_t)(dir > 0 ? 1 : n - 1)) % n);
}

static int action_BRANCH_PREV(tui *t, const char *args) { return tui_branch_step(t, -1); }
static int action_BRANCH_NEXT(tui *t, const char *args) { return tui_branch_step(t, 1); }

/* /branch N: alternative N at the last place the conversation branches; without N the list
 * of those places. */
static int action_BRANCH(tui *t, const char *args)
{
    long at = chat_branch_point(t->chat);
    if (!args[0]) {
        strbuf b = {0};
        for (size_t i = 0; i <= chat_n_turns(t->chat); i++) {
            size_t k, n = chat_alternatives(t->chat, i, &k);
            if (n < 2 && !(i == chat_n_turns(t->chat) && n > 0)) continue;
            const chat_turn *tt = chat_turn_at(t->chat, i);
            if (tt)
                strbuf_printf(&b, "message %zu (%s %zu): alternative %zu of %zu\n", i + 1,
                              tt->role == NT_ROLE_USER ? "question" : "answer", i / 2 + 1, k + 1, n);
            else
                strbuf_printf(&b, "after message %zu: %zu alternative%s not shown\n", i, n,
                              n == 1 ? "" : "s");
        }
        if (!b.n) {
            strbuf_free(&b);
            return tui_message(t, TS_NOTE, "no alternatives: /regen and /edit make them");
        }
        strbuf_puts(&b, "/branch N (or Alt-Up, Alt-Down) switches at the last of these");
        char *text = strbuf_take(&b, NULL);
        ui_set_note(&t->u, UI_NOTE_INFO, text);
        free(text);
        t->u.hist.follow = true;
        return UI_R_HISTORY | tui_message(t, TS_NOTE, "where the conversation branches");
    }
    char *end;
    errno = 0;
    long n = strtol(args, &end, 10);
    while (*end == ' ') end++;
    if (at < 0) return tui_message(t, TS_NOTE, "/branch: no alternatives: /regen and /edit make them");
    size_t count = chat_alternatives(t->chat, (size_t)at, NULL);
    if (end == args || *end || errno || n < 1 || (size_t)n > count)
        return tui_message(t, TS_ERROR, "/branch: '%s' is not an alternative here (1 to %zu)", args,
                           count);
    return tui_switch_branch(t, (size_t)at, (size_t)n - 1);
}

static int action_AB(tui *t, const char *args) { return tui_ab_start(t, args); }

static int action_UNDO(tui *t, const char *args)
{
    size_t before = chat_n_turns(t->chat);
    if (chat_undo(t->chat) != NT_OK)
        return tui_message(t, TS_NOTE, "/undo: there is nothing to undo");
    /* From the removed question on: the path may now show an alternative exchange there,
     * whose token records are rebuilt (the removed answer's would mark the wrong tokens). */
    size_t from = before >= 2 ? before - 2 : 0;
    ui_truncate(&t->u, from);
    for (size_t j = from; j < chat_n_turns(t->chat); j++) ui_answer_rebuild(&t->u, j);
    tui_update_meter(t);
    return UI_R_HISTORY | UI_R_PROBS | UI_R_STATUS | tui_message(t, TS_NOTE, "removed the last exchange");
}

static int action_CLEAR(tui *t, const char *args)
{
    chat_clear(t->chat);
    tui_new_session(t);
    t->conv_gen++;
    ui_truncate(&t->u, 0);
    t->u.hist.follow = true;
    tui_update_meter(t);
    return UI_R_ALL | tui_message(t, TS_NOTE, "conversation cleared");
}

static int action_SYSTEM(tui *t, const char *args)
{
    if (!args[0]) {
        const char *s = chat_system(t->chat);
        return tui_message(t, TS_NOTE, "system prompt: %s", s[0] ? s : "(none)");
    }
    if (chat_set_system(t->chat, args) != NT_OK)
        return tui_message(t, TS_ERROR, "/system: out of memory");
    return UI_R_HISTORY | tui_message(t, TS_NOTE, "system prompt set (read again with the next question)");
}

static int action_SET(tui *t, const char *args) { return tui_set(t, args); }

static int action_QUIT(tui *t, const char *args)
{
    t->quit = true;
    return 0;
}

static int action_PERSONA(tui *t, const char *args) { return tui_persona(t, args); }
static int action_THEME(tui *t, const char *args) { return tui_theme(t, args); }
static int action_MODEL(tui *t, const char *args) { return tui_model(t, args); }

/* /think on|off: the template's thinking switch for the next answers (recorded in each). */
static int action_THINK(tui *t, const char *args)
{
    char msg[512];
    if (!args[0]) {
        if (!chat_has_think(t->chat))
            return tui_message(t, TS_NOTE, "thinking: this model's chat template has no switch; "
                                           "its answers are as the template makes them");
        enum chat_think th = chat_get_think(t->chat);
        return tui_message(t, TS_NOTE, "thinking: %s%s", chat_think_name(th),
                           th == CHAT_THINK_DEFAULT ? " (the template's: the model may think)" : "");
    }
    enum chat_think want;
    if (chat_think_parse(args, &want) != NT_OK || want == CHAT_THINK_DEFAULT)
        return tui_message(t, TS_ERROR, "/think: '%s': say on or off", args);
    if (!cli_chat_think(t->chat, (int)want, "/think", msg, sizeof msg))
        return tui_message(t, TS_ERROR, "%s", msg);
    return tui_message(t, TS_NOTE, "thinking %s for the next answers", chat_think_name(want));
}
static int action_SAVE(tui *t, const char *args) { return tui_save(t, args); }

static int action_LOAD(tui *t, const char *args)
{
    if (!args[0]) return tui_message(t, TS_NOTE, "usage: /load NAME (/sessions lists them)");
    return tui_load(t, args, "the current conversation", true);
}

static int action_SESSIONS(tui *t, const char *args) { return tui_sessions(t); }
static int action_STATS(tui *t, const char *args) { return tui_stats_show(t); }
static int action_COPY(tui *t, const char *args) { return tui_copy(t, args); }
static int action_PROMPT(tui *t, const char *args) { return tui_prompt(t, args); }
static int action_EXPORT(tui *t, const char *args) { return tui_export(t, args); }
static int action_DOCS(tui *t, const char *args) { return tui_docs_command(t, args); }
static int action_SOURCES(tui *t, const char *args) { return tui_sources(t); }
static int action_REPLAY(tui *t, const char *args) { return tui_replay_start(t, args); }

static int action_STOP(tui *t, const char *args)
{
    if (t->rp) return tui_replay_stop(t);
    if (tui_busy(t)) {
        worker_stop(t->w);
        return tui_message(t, TS_NOTE, "stopped");
    }
    return 0;
}

static int action_NEWLINE(tui *t, const char *args)
{
    input_insert("\n", 1);
    return UI_R_INPUT;
}

static int action_SCROLL_UP(tui *t, const char *args)
{
    ui_history_scroll(&t->u, ui_history_page(&t->u));
    return UI_R_HISTORY;
}

static int action_SCROLL_DOWN(tui *t, const char *args)
{
    ui_history_scroll(&t->u, -ui_history_page(&t->u));
    return UI_R_HISTORY;
}

static int action_SCROLL_TOP(tui *t, const char *args)
{
    ui_history_top(&t->u);
    return UI_R_HISTORY;
}

static int action_SCROLL_END(tui *t, const char *args)
{
    t->u.hist.follow = true;
    return UI_R_HISTORY;
}

static int action_PANEL_FOCUS(tui *t, const char *args)
{
    t->u.panel.focus = !t->u.panel.focus;
    return UI_R_LAYOUT;
}

static int action_PANEL_TOGGLE(tui *t, const char *args)
{
    t->u.panel.shown = !t->u.panel.shown;
    if (!t->u.panel.shown) t->u.panel.focus = false;
    return UI_R_LAYOUT;
}

static int action_PROBS(tui *t, const char *args)
{
    t->u.probs.shown = !t->u.probs.shown;
    t->u.probs.pick = -1;
    return UI_R_LAYOUT;
}

static int action_THINKING(tui *t, const char *args)
{
    t->u.hist.show_thinking = !t->u.hist.show_thinking;
    return UI_R_HISTORY |
           tui_message(t, TS_NOTE, "thinking %s", t->u.hist.show_thinking ? "unfolded" : "folded");
}

/* Moves the probabilities view's pick by dir tokens within the answer it shows. */
static int tui_pick_step(tui *t, int dir)
{
    ui *u = &t->u;
    size_t n = chat_n_turns(t->chat);
    if (!u->probs.shown || n == 0 || tui_busy(t)) return 0;
    if (u->probs.pick < 0) u->probs.pick_turn = n - 1;
    const ui_answer *rec = NULL;
    if (u->ab.shown) ui_ab_turn(u, u->ab.side, &rec); /* the A/B view's side */
    else if (u->probs.pick_turn < u->n_answers) rec = &u->answers[u->probs.pick_turn];
    if (!rec) return 0;
    int count = (int)rec->n;
    if (count == 0) return 0;
    int p = (u->probs.pick < 0 ? count - 1 : u->probs.pick) + dir;
    u->probs.pick = p < 0 ? 0 : p >= count ? count - 1 : p;
    return UI_R_HISTORY | UI_R_PROBS;
}

static int action_TOKEN_PREV(tui *t, const char *args) { return tui_pick_step(t, -1); }
static int action_TOKEN_NEXT(tui *t, const char *args) { return tui_pick_step(t, 1); }

static int action_RESET(tui *t, const char *args)
{
    ui *u = &t->u;
    uint64_t seed = u->params.seed;
    u->params = u->base_params;
    u->params.seed = seed;
    u->max_tokens = u->base_max_tokens;
    u->strategy = PARAM_N_PRESETS - 1; /* "persona" */
    return tui_apply_params(t) | tui_message(t, TS_NOTE, "sliders reset to the %s persona", u->persona);
}

/* The strategy picker: a named preset over the persona's values (params.h), seed and answer
 * limit kept; F10 (no argument) takes the next one. During an answer the sampling values
 * reach it at the next token and mark the history there; beams wait for the next answer. */
static int action_STRATEGY(tui *t, const char *args)
{
    ui *u = &t->u;
    const param_preset *pr;
    if (args && args[0]) {
        char name[32];
        if (sscanf(args, "%31s", name) != 1 || !(pr = param_preset_find(name))) {
            char list[160];
            size_t n = 0;
            for (size_t i = 0; i < PARAM_N_PRESETS && n < sizeof list; i++)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", param_presets[i].name);
            return tui_message(t, TS_ERROR, "/strategy: unknown strategy '%s' (%s)", args, list);
        }
        u->strategy = (int)(pr - param_presets);
    } else {
        u->strategy = (u->strategy + 1) % PARAM_N_PRESETS;
        pr = &param_presets[u->strategy];
    }
    nt_sampler_params p;
    nt_err err = {0};
    if (param_preset_apply(pr, &u->base_params, &p, &err) != NT_OK)
        return tui_message(t, TS_ERROR, "%s", err.msg);
    p.seed = u->params.seed;
    bool later = u->status.state == UI_GENERATING && p.beams != u->params.beams;
    u->params = p;
    return tui_apply_params(t) |
           tui_message(t, TS_NOTE, "strategy %s: %s%s (F10: next)", pr->name, pr->help,
                       later ? "; beams from the next answer" : "");
}

static int action_REDRAW(tui *t, const char *args) { return UI_R_REPAINT; }

static int action_SUSPEND(tui *t, const char *args)
{
    term_suspend();
    input_resize(LINES, COLS);
    return UI_R_REPAINT;
}

static int action_SLIDER_PREV(tui *t, const char *args)
{
    t->u.panel.slider = (t->u.panel.slider + US_COUNT_ - 1) % US_COUNT_;
    return UI_R_PANEL;
}

static int action_SLIDER_NEXT(tui *t, const char *args)
{
    t->u.panel.slider = (t->u.panel.slider + 1) % US_COUNT_;
    return UI_R_PANEL;
}

/* Moves the selected slider by one fine or coarse step. */
static int tui_slider_step(tui *t, int dir, bool coarse)
{
    ui_slider_step(&t->u, t->u.panel.slider, dir, coarse);
    return tui_apply_params(t);
}

static int action_SLIDER_DEC(tui *t, const char *args) { return tui_slider_step(t, -1, false); }
static int action_SLIDER_INC(tui *t, const char *args) { return tui_slider_step(t, 1, false); }
static int action_SLIDER_DEC_BIG(tui *t, const char *args) { return tui_slider_step(t, -1, true); }
static int action_SLIDER_INC_BIG(tui *t, const char *args) { return tui_slider_step(t, 1, true); }
static int action_SLIDER_RESET(tui *t, const char *args) { return action_RESET(t, args); }

static int action_PANEL_LEAVE(tui *t, const char *args)
{
    t->u.panel.focus = false;
    return UI_R_LAYOUT;
}

/* The dispatch table, one entry per row of COMMAND_LIST. */
typedef int (*tui_action_fn)(tui *t, const char *args);
static const tui_action_fn tui_actions[CMD_COUNT_] = {
#define TUI_ACTION_ROW_(id, name, args, ctx, key, key2, label, flags, help) [CMD_##id] = action_##id,
    COMMAND_LIST(TUI_ACTION_ROW_)
#undef TUI_ACTION_ROW_
};

int tui_action(tui *t, enum cmd_id id, const char *args)
{
    if ((unsigned)id >= CMD_COUNT_) return 0;
    const cmd_info *ci = commands_info(id);
    if (ci->flags & CMD_F_PLANNED)
        return tui_message(t, TS_NOTE, "/%s comes in a later version of natter", ci->name);
    if ((ci->flags & CMD_F_IDLE) && tui_busy(t))
        return tui_need_idle(t, ci->name ? ci->name : "this");
    return tui_actions[id](t, args);
}
