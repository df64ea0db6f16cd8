/* tui_int.h — what the chat screen's files share (internal to app/tui/).
 *
 * The chat screen is three files around one state struct: tui.c (the event loop, the
 * conversation's answers and sessions, input and worker events), actions.c (one function per
 * action of the command table, app/tui/commands.h) and tui_replay.c (the /replay thread and
 * its view). All of it runs on the UI thread except the replay thread's own function. Every
 * handler returns the UI_R_* flags of what must be redrawn (ui.h); none draws. */
#ifndef NATTER_TUI_INT_H
#define NATTER_TUI_INT_H

#include "tui.h"

#include "cmd/cli.h"
#include "commands.h"
#include "conv/chat.h"
#include "conv/persona.h"
#include "conv/session.h"
#include "conv/worker.h"
#include "docs/retrieve.h"
#include "theme.h"
#include "ui.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct tui_replay tui_replay; /* tui_replay.c */

/* What /stats reports, for one answer or summed over the session's answers. */
typedef struct tui_stats {
    int answers;
    double ttft;            /* seconds from the question to the first token (sum) */
    double prompt_sec, gen_sec; /* wall time reading the prompt and writing the answer (sums) */
    long n_prompt, n_gen;   /* prompt tokens read, tokens generated (sums) */
    long reused;            /* prompt tokens already in the KV cache, not read again (sum) */
} tui_stats;

typedef struct tui {
    ui u;
    chat *chat;
    worker *w;
    const struct cli_opts *opts;
    bool quit;
    int quit_signal;
    bool ctrlc_armed; /* Ctrl-C pressed once at an idle prompt */
    bool eof_armed;   /* Ctrl-D pressed once on an empty line */
    /* Personas and themes: */
    persona *persona;      /* in use; owned unless it is opts->loaded */
    theme *theme;          /* in use (owned); term.c borrows it */
    persona *pending;      /* /persona waiting for the y/n answer (owned) */
    size_t greeting_i;     /* which of the persona's greetings is shown (/regen before the
                              first question cycles them: persona_greeting_at) */
    char *model_path;      /* the model's file (-m, then /model; owned) */
    nt_model *pending_model; /* /model waiting for the keep/new answer (owned) */
    char *pending_path;    /* its file (owned) */
    enum nt_chat_family model_family; /* the model's own (or --template's) chat family */
    size_t saved_turns;    /* turns when the conversation was last saved (the session hooks
                              set it); more turns than this = unsaved */
    /* Sessions (app/conv/session.h): */
    session *sess;         /* the conversation's session: autosaved after every answer */
    char *save_to;         /* --save FILE: where the next autosave goes (then NULL) */
    tui_replay *rp;        /* a /replay running, or NULL */
    /* /stats: */
    char *reread_note;     /* what the message line says when the re-read running ends
                              (a branch switch's), NULL: the loaded session's words (owned) */
    int32_t reread_keep;   /* its tokens kept in the KV cache */
    nt_sampler_params ab_params[2]; /* /ab: each side's parameters (ui.ab is the view) */
    /* The probabilities records (ui_answer) of answers that left the path, by node index
     * (chat_node_at), so that switching back shows their candidates again; valid while
     * chat_tree_gen is stash_gen (a removal moves the indices: they are dropped then). */
    ui_answer *stash;
    size_t n_stash;
    uint64_t stash_gen;
    double asked_at;       /* when the answer being written was submitted (monotonic s) */
    int32_t asked_keep;    /* its prompt tokens reused from the cache */
    tui_stats last, total; /* the last answer; every answer since the start */
    /* /prompt: */
    int prompt_view;       /* the view shown in the history: 1 the text, 2 the token ids; 0 none */
    const char *prompt_note; /* u->note when it was set to the view (identity only) */
    /* Documents (app/docs/retrieve.h): --docs, the persona's, /docs add. */
    docs *docs;            /* NULL until the first one (owned) */
    char *docs_intro;      /* the persona's text before passages (owned) */
    /* The plain chat (plain.c) in place of the screen, and what it follows to know what to
     * write: */
    bool plain;
    unsigned answer_gen;   /* bumped when an answer starts (tui_start_answer) */
    unsigned conv_gen;     /* bumped when the conversation is replaced whole (a persona, a
                              loaded session, /clear): written out again from its start */
    char *given_back;      /* tui_give_back's question, for the plain chat to write (owned) */
} tui;

/* ---- tui.c ---- */

/* An answer or a re-read is running, or a replay: the conversation must not change. */
bool tui_busy(const tui *t);
/* Sets the message line. style says what kind of message it is: TS_NOTE for what happened
 * (a command's answer), TS_WARNING for what needs attention although nothing failed (turns
 * dropped from the context, a command refused while the model is busy, something cut), and
 * TS_ERROR for what failed. */
int tui_message(tui *t, int style, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The refusal of `what` while the model or a replay is busy. */
int tui_need_idle(tui *t, const char *what);
/* The sliders changed: an answer being written takes them from its next token. */
int tui_apply_params(tui *t);
/* Builds the job for the last question and hands it to the worker. */
int tui_start_answer(tui *t);
/* The same with other sampling parameters than the sliders' (the A/B view's sides). */
int tui_start_answer_with(tui *t, const nt_sampler_params *params);
/* Makes p the persona (taking it, unless it is opts->loaded): a new conversation with its
 * fixed part, its sampling values on the sliders (command-line options still win) and its
 * name in the status bar. system, when not NULL, replaces its prompt (--system at start). */
int tui_use_persona(tui *t, persona *p, const char *system);
/* Shows what went wrong with a persona, theme or session file in the history: the errors
 * with their file:line:col, and what stays (kept). */
int tui_file_errors(tui *t, const char *what, const char *name, const char *errors,
                    const char *kept);
/* A new conversation gets a file of its own (the next autosave picks a new name). */
void tui_new_session(tui *t);
/* Turns the session file holds after a save now (an answer being written is left out). */
size_t tui_saveable_turns(const tui *t);
/* Shows a conversation just restored into the chat (/load, --resume, /model) and reads it
 * back into the model's cache, the progress in the status bar. msg is the report. */
int tui_show_loaded(tui *t, const char *msg);
/* /load NAME and --resume: a file that does not load changes nothing (its errors are shown
 * with their file:line:col); kept says what stays then. adopt (/load): the recording's
 * context size, persona and theme come back when they are still there (--resume: main took
 * them already, under the command line's options). The sliders go where they were at the end
 * of the last answer either way. */
int tui_load(tui *t, const char *name, const char *kept, bool adopt);
/* The context meter after the conversation shrank (/undo, /edit, /clear): the tokens the
 * conversation now takes in the prompt (the fixed part when it is empty), not what the cache
 * held before. */
void tui_update_meter(tui *t);
/* Shows alternative k (from 0) of path position i (chat_switch): the history from there is
 * drawn again, the conversation read back into the model from where the paths part (the
 * shared prefix stays in the cache: the message says how many tokens were kept). */
int tui_switch_branch(tui *t, size_t i, size_t k);
/* Keeps the records of path positions [i, ...) by node before they leave the path (a
 * switch, /regen, /edit, /ab); tui_switch_branch brings them back. */
void tui_stash_from(tui *t, size_t i);
/* Keeps rec (taken: *rec is zeroed) as node's record. */
void tui_stash_put(tui *t, size_t node, ui_answer *rec);
/* Records the persona and theme in use in the session (persona_ref, ycfg_ref). */
void tui_session_refs(tui *t);

/* An accepted input line: a /command or a question. */
int tui_line(tui *t, char *line);
/* Handles one event from the worker (frees its text). */
int tui_worker_event(tui *t, worker_event *ev);
/* A question given back for editing (/edit, one that does not fit): into the input line,
 * or, in the plain chat, written out to be typed again. */
void tui_give_back(tui *t, const char *q);

/* /prompt: shows the prompt as the model sees it in the history (mode 1 the text, 2 the
 * token ids), and keeps it up to date: called again as the conversation changes, it redraws
 * the view while it is still the one shown (mode 0: refresh only). */
int tui_prompt_view(tui *t, int mode);
/* /stats: the last answer's and the session's figures, as text (malloc'd; NULL on OOM). */
char *tui_stats_text(const tui *t);

/* ---- actions.c ---- */

/* Runs one action of the command table. args is the text after a /command ("" from a key). */
int tui_action(tui *t, enum cmd_id id, const char *args);
/* The answer (key) to the y/n question of /persona (t->pending is set). */
int tui_confirm(tui *t, int key);
/* The answer (key) to /model's question (t->pending_model is set). */
int tui_model_confirm(tui *t, int key);

/* ---- plain.c ---- */

/* The chat line by line, for a terminal that cannot place the cursor (why says what it
 * lacks) or when --plain asks for it (why ""): questions read as lines, answers written as they come, the /commands that make
 * sense without a screen. Runs until /quit, Ctrl-C or Ctrl-D twice, or a signal, as
 * tui_loop does; returns 0, or -1 when stdin cannot be read. */
int tui_plain_loop(tui *t, const char *why);

/* ---- tui_ab.c ---- */

/* /ab [A] B: two answers to the last question, one with each parameter set, from the same
 * cached prompt, shown side by side (the A/B view); both stay as alternatives. */
int tui_ab_start(tui *t, const char *args);
/* An answer ended (its WEV_DONE applied) while the A/B view is shown: the next side starts,
 * or the choice is asked for. */
int tui_ab_done(tui *t, enum gen_end end);
/* A key while the A/B view waits for the choice: a, b, Esc keep one; Tab switches the side
 * the probabilities view shows; other keys say what to press. */
int tui_ab_key(tui *t, int key);
/* PgUp or PgDn while the A/B view is shown (written or being written): both sides scroll
 * back or forth by half a box, between their ends (0) and the longer side's start. */
int tui_ab_scroll(tui *t, int key);

/* ---- tui_docs.c ---- */

/* Adds a file or folder to the documents, indexed in the background. */
int tui_docs_add(tui *t, const char *path);
/* The persona's documents and the --context files moved to retrieval (cli_context_fit). */
void tui_docs_persona(tui *t, const persona *p, char *const *moved, size_t n_moved);
/* The documents' wake-up descriptor for poll(), -1 when there are none. */
int tui_docs_fd(const tui *t);
/* What the indexing tasks reported: the progress bar on the message line, notes in the
 * history. */
int tui_docs_events(tui *t);
/* Before an answer: the passages for its question, handed to the chat. */
int tui_docs_retrieve(tui *t);
/* /docs [add PATH | list | drop PATH] and /sources. */
int tui_docs_command(tui *t, const char *args);
int tui_sources(tui *t);

/* ---- tui_replay.c ---- */

/* /replay NAME: loads the session and starts the replay thread; its note shows in the
 * history as it grows. */
int tui_replay_start(tui *t, const char *name);
/* Esc while a replay runs: it stops at its next token. */
int tui_replay_stop(tui *t);
/* The replay's wake-up descriptor for poll(), -1 when none runs. */
int tui_replay_fd(const tui *t);
/* Handles what the replay thread sent (at most max events); the replay ends (t->rp NULL)
 * after its last. */
int tui_replay_events(tui *t, int max);
/* Stops the replay thread if one runs, joins it and frees the replay (t->rp NULL). */
void tui_replay_end(tui *t);

#endif
