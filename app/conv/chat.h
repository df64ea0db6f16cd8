/* chat.h — the conversation, on the UI thread's side (no terminal code).
 *
 * A chat holds the model's tokenizer and chat family, the system prompt, the turns and the
 * list of token ids currently in the worker's KV cache. It builds the worker's next job:
 * formats the conversation (nt_chat_format), tokenizes it (nt_chat_tokenize, reusing an answer's
 * generated ids where the template copies its text unchanged), finds the common prefix with
 * what the cache holds (so a new turn evaluates only its new tokens and a regenerated answer
 * reuses the cached prompt) and applies the context-full policy: keep the system prompt and
 * the newest question, drop the oldest exchanges, re-read. It applies the worker's events to
 * the turns. Both the TUI and the one-shot command line use it.
 *
 * Typical use:
 *     chat_add_user(c, "question");
 *     chat_prepare(c, &params, max_tokens, &job, &dropped, &err);
 *     worker_submit(w, &job);
 *     ... for each worker event: chat_apply(c, &ev); ... until WEV_DONE
 * Commands: chat_regen (then chat_prepare), chat_edit, chat_undo, chat_clear,
 * chat_set_system, chat_set_param. None of them may run while an answer is being generated
 * (chat_busy): stop the worker and wait for its WEV_DONE first. */
#ifndef NATTER_APP_CHAT_H
#define NATTER_APP_CHAT_H

#include "natter.h"
#include "worker.h"

/* A live parameter change inside an answer: `params` were in force from token `index` on. */
typedef struct chat_change {
    int32_t index;
    nt_sampler_params params;
} chat_change;

/* A passage retrieved from the documents (app/docs/) and placed in an answer's prompt. */
typedef struct chat_source {
    char *path;             /* the file, as shown (relative to the current folder when under it) */
    char *title;            /* the heading it falls under, "" when none */
    char *text;             /* the passage as the prompt had it */
    int32_t line_a, line_b; /* its lines in the file, 1-based, inclusive */
    double score;           /* BM25, higher is better */
} chat_source;

/* "README.md:10-24" (one line: "README.md:7"), into buf. */
void chat_source_label(const chat_source *s, char *buf, size_t cap);
/* Frees the strings of v[0..n) and v itself. */
void chat_sources_free(chat_source *v, size_t n);

/* The template's thinking switch (Qwen3's enable_thinking), as set for an answer. Zero is the
 * template's default, so a turn that never heard of it (an older session) keeps it. */
enum chat_think {
    CHAT_THINK_DEFAULT = 0, /* the template decides (Qwen3: the model may think) */
    CHAT_THINK_OFF,         /* the answer opens with an empty thinking block */
    CHAT_THINK_ON,
};

typedef struct chat_turn {
    enum nt_chat_role role;      /* NT_ROLE_USER or NT_ROLE_ASSISTANT */
    char *text;               /* UTF-8, NUL-terminated, owned by the chat */
    size_t len, cap;
    /* Answers only: */
    nt_tokens tokens;         /* the generated ids (end-of-generation token excluded) */
    nt_sampler_params params;    /* at the start of the answer (seed included) */
    chat_change *changes;     /* live changes, in token order */
    size_t n_changes, cap_changes;
    bool complete;            /* WEV_DONE received */
    enum gen_end end;      /* valid when complete */
    bool stop_text;           /* ended at a stop string: tokens go past text, so the next
                                 prompt re-tokenizes the text instead of reusing them */
    char *error;              /* the WEV_ERROR message, or NULL */
    int32_t n_prompt, n_gen;  /* timings from WEV_DONE */
    double prompt_sec, gen_sec;
    /* Recorded for sessions (app/conv/session.h), which save turns and replay answers exactly: */
    int64_t time;             /* Unix time: question added / answer completed (0: unknown) */
    int32_t max_tokens;       /* answers: the job's limit on generated tokens */
    size_t first;             /* answers: chat_first_turn() when the answer was prepared */
    int32_t prompt_len;       /* answers: tokens in the prompt (replay checks its rebuild) */
    enum chat_think think;    /* answers: the thinking switch the prompt was built with */
    /* Answers: the job's stop strings (the template's, then a persona's), n_stop <=
     * GEN_MAX_STOP strings of 1 to GEN_STOP_LEN - 1 bytes, owned by the turn as one
     * malloc'd block (the pointer array, then the bytes): free(stop) releases them all; set
     * them with chat_turn_set_stops. Dynamic rather than a fixed [17][256] array: that would
     * cost 4 KiB per turn, questions included and again in every session copy, while most
     * answers carry none or one short string. NULL when n_stop is 0. */
    char **stop;
    size_t n_stop;
    /* Answers: the retrieved passages placed in its prompt (after the system prompt, behind
     * sources_intro), owned; NULL/0 when none. A replay places the same ones. */
    chat_source *sources;
    size_t n_sources;
    /* The text before them; with no passages, a notice that none matched (the question's
     * words are not in the documents: docs_no_passage), placed alone. NULL when neither. */
    char *sources_intro;
    /* Its place in the tree of alternatives (see "branches" below), as an index among the
     * turns of the same array (the chat's, a session's): */
    size_t parent;            /* the turn it follows (an answer its question, a question the
                                 answer before it), CHAT_ROOT for a first question; always
                                 before it in the array */
    bool current;             /* the alternative its parent shows (the current path goes
                                 through it); at most one per group of alternatives */
} chat_turn;

#define CHAT_ROOT ((size_t)-1) /* chat_turn.parent of a first question */

/* A persona's stop strings, at most (the template's own takes the job's last slot). */
#define CHAT_MAX_STOPS (GEN_MAX_STOP - 1)

/* Replaces t's stop strings with copies of stop[0..n) (see chat_turn.stop). NT_OK;
 * NT_ERR_INVALID when n > GEN_MAX_STOP or a string is NULL, empty or longer than
 * GEN_STOP_LEN - 1 bytes (t unchanged); NT_ERR_NOMEM (t unchanged). */
int chat_turn_set_stops(chat_turn *t, const char *const *stop, size_t n);
/* Frees what a turn owns (text, tokens, changes, error, stop strings) and zeroes it: for the
 * chat's turns and for copies of them (sessions). */
void chat_turn_release(chat_turn *t);

/* The current path through turns v[0..n) (a chat's or a session's): from the first questions
 * (parent CHAT_ROOT), each step to the alternative marked current, until a turn has none
 * marked. path gets the indices in order (room for n); returns their count. The one rule both
 * the chat and the session file follow. */
size_t chat_turns_path(const chat_turn *v, size_t n, size_t *path);
/* Whether v[0..n) is a valid tree: every parent before its turn (or CHAT_ROOT for a
 * question), questions and answers alternating along it, at most one current alternative
 * per group. On failure *bad gets the first turn at fault and *why (static) the reason. */
bool chat_turns_valid(const chat_turn *v, size_t n, size_t *bad, const char **why);

typedef struct chat chat;

/* tok is borrowed and must outlive the chat; n_ctx is the KV cache length. NULL when memory
 * runs out. tok NULL makes a remote chat (a worker_init_remote's): chat_prepare's jobs carry
 * the conversation as messages (job->msgs) for the server, which holds the context, so the
 * context-full policy, the token cache and chat_prepare_reread do not apply (the memory limit
 * and the stop strings do; chat_count_fixed counts 0; chat_build_prompt refuses). */
chat *chat_init(const nt_tokenizer *tok, enum nt_chat_family family, int32_t n_ctx);
void chat_free(chat *c);

/* Raw mode: no template; the turns' texts are concatenated as plain text (no specials
 * parsed), with BOS first when the model asks for it. For `natter --raw`. */
void chat_set_raw(chat *c, bool raw);
bool chat_get_raw(const chat *c);
void chat_set_family(chat *c, enum nt_chat_family family);
/* At most n earlier exchanges (question and answer) go into the prompt with each new question;
 * older turns leave the context as they do when it is full (chat_first_turn moves on), but
 * chat_prepare does not count them as dropped. A small model trained on lone questions, or on
 * questions after one exchange, answers best when it sees no more than that. n < 0: no limit
 * (the default). */
void chat_set_memory(chat *c, long n);
/* Whether the model's template has a thinking switch (nt_chat_think_switch_gguf), told by
 * whoever loaded the model; false by default. */
void chat_set_think_switch(chat *c, bool has);
/* True when the switch can be set: the template has one and the chat formats with it (the
 * chatml family, not raw, not remote). */
bool chat_has_think(const chat *c);
/* The switch for the next answers' prompts (recorded in each answer, chat_turn.think).
 * NT_ERR_UNSUPPORTED (nothing changes) for OFF or ON when chat_has_think is false. */
int chat_set_think(chat *c, enum chat_think think);
enum chat_think chat_get_think(const chat *c);
/* "on", "off" or "default"; and back (NT_ERR_INVALID for another word). */
const char *chat_think_name(enum chat_think think);
int chat_think_parse(const char *word, enum chat_think *out);
enum nt_chat_family chat_get_family(const chat *c);
/* text NULL or "" removes the system prompt. The next chat_prepare re-reads from the first
 * token that changed. NT_OK or NT_ERR_NOMEM. */
int chat_set_system(chat *c, const char *text);
const char *chat_system(const chat *c); /* "" when none; borrowed */

/* The turns on the current path (what the history shows and the prompt is made of): i from
 * 0 to chat_n_turns() - 1. Every function below that speaks of "the turns" or "turn i" means
 * the current path; the other branches wait in the tree. */
size_t chat_n_turns(const chat *c);
const chat_turn *chat_turn_at(const chat *c, size_t i); /* borrowed; NULL out of range */
/* Index of the first turn still in the model's context (older ones were dropped by the
 * context-full policy but stay in the history). */
size_t chat_first_turn(const chat *c);
/* True while the last turn is an answer that has not received its WEV_DONE, or while a
 * chat_prepare_reread job runs. */
bool chat_busy(const chat *c);
/* The ids the worker's KV cache holds, as far as the chat knows. Borrowed. */
const nt_tokens *chat_cache(const chat *c);
int32_t chat_n_ctx(const chat *c);

/* Appends a user turn. NT_ERR_INVALID while busy or after an unanswered question. */
int chat_add_user(chat *c, const char *text);
/* Builds the job answering the last user turn and appends an empty answer turn that
 * chat_apply fills. job->tokens and job->stop point into the chat and stay valid until the
 * next chat_prepare (job->stop also until chat_set_stops). *n_dropped (may be NULL) gets the
 * number of turns the context-full policy dropped this time (the caller tells the user). NT_ERR_CONTEXT_FULL when even the system
 * prompt and the last question do not fit; NT_ERR_INVALID when there is no question to
 * answer. */
int chat_prepare(chat *c, const nt_sampler_params *params, int32_t max_tokens, worker_job *job,
                 int *n_dropped, nt_err *err);
/* Applies a worker event to the answer being generated (TOKEN: text and id, PARAMS: a live
 * change, ERROR: the message, DONE: the end reason, timings and the cache contents).
 * PROGRESS is ignored. Does not take ownership of ev->text. */
void chat_apply(chat *c, const worker_event *ev);

/* Takes the last answer off the current path so the next chat_prepare asks again: the new
 * answer becomes its alternative (the old one stays in the tree). NT_ERR_INVALID if the last
 * turn is not a complete answer. */
int chat_regen(chat *c);
/* Takes the last question (and its answer) off the current path and returns the question's
 * text (malloc'd, the caller frees) to put back in the input line; NULL when there is none
 * (or busy). The next chat_add_user becomes its alternative; a question that had no answer
 * is not kept (its text is all there was). */
char *chat_edit(chat *c);
/* Removes the last exchange (question and answer, with every alternative answer to it and
 * what followed them) from the tree; the path then shows the question's last remaining
 * alternative, if any. NT_ERR_INVALID when there is none; NT_ERR_NOMEM (nothing removed). */
int chat_undo(chat *c);
/* Removes every turn, every branch (the system prompt, the examples and the greeting stay). */
void chat_clear(chat *c);

/* ---- branches: the tree of alternatives ---- */

/* Every /regen keeps the answer it replaces and every /edit the question, so each question
 * has its alternative answers and each answer its alternative follow-ups: a tree whose
 * current path is what the history shows and the prompt is made of. Switching alternatives
 * changes the path from there down (each turn below keeps the alternative it last showed);
 * the KV cache keeps the prefix the paths share (chat_prepare and chat_prepare_reread reuse
 * it, so only the differing suffix is read again). */

/* All turns of the tree, in the order they were made (a turn's parent comes before it):
 * for sessions. Borrowed; NULL out of range. */
size_t chat_n_nodes(const chat *c);
const chat_turn *chat_node_at(const chat *c, size_t k);
/* The index among chat_node_at's of path position i (CHAT_ROOT out of range). */
size_t chat_node_of(const chat *c, size_t i);
/* Changes whenever turns leave the tree (and so node indices move): a value no chat had
 * before, so what a caller keeps by node index is known stale when it differs. */
uint64_t chat_tree_gen(const chat *c);
/* The alternatives at path position i (i == chat_n_turns(): the turns below the path's end
 * that it does not show, after /edit or /regen): how many there are, and in *index (may be
 * NULL) which one the path shows, from 0 (the count when none is shown). 1 with *index 0 for
 * a turn without alternatives; 0 out of range. */
size_t chat_alternatives(const chat *c, size_t i, size_t *index);
/* The deepest path position with more than one alternative (or chat_n_turns() when the
 * path's end has alternatives it does not show); -1 when there is none: where Alt-Up,
 * Alt-Down and /branch switch. */
long chat_branch_point(const chat *c);
/* Makes alternative k (from 0) of path position i the one shown: the path from i down
 * changes (below it, each turn's last shown alternative), and chat_first_turn() becomes the
 * one the last answer on the new path was written with. NT_ERR_INVALID while busy or out of
 * range. */
int chat_switch(chat *c, size_t i, size_t k);

/* ---- the fixed part: a persona's examples and greeting (app/conv/persona.h) ---- */

/* Sets the few-shot prefix from msgs[0..n) (copied), e.g. what persona_render gives for an
 * empty conversation: a leading NT_ROLE_SYSTEM message becomes the system prompt (as
 * chat_set_system), the user/assistant messages after it are example turns placed between the
 * system prompt and the conversation. The system prompt and the examples are the fixed part:
 * the context-full policy never drops them. Raw mode ignores the examples. n 0 clears the
 * examples (the system prompt stays). NT_OK, NT_ERR_NOMEM, NT_ERR_INVALID (a system message
 * after the first, or while busy). */
int chat_set_prefix(chat *c, const nt_chat_msg *msgs, size_t n);
size_t chat_n_prefix(const chat *c);
/* Example i of the prefix: its text (borrowed) and role; NULL when out of range. */
const char *chat_prefix_at(const chat *c, size_t i, enum nt_chat_role *role);
/* The greeting: the assistant's first message, placed after the examples and before the
 * conversation (part of the fixed part, so sessions keep their question-first turns). The
 * TUI shows it above the first question. NULL or "" removes it. NT_OK or NT_ERR_NOMEM. */
int chat_set_greeting(chat *c, const char *text);
const char *chat_greeting(const chat *c); /* NULL when none; borrowed */
/* Tokens the fixed part (system prompt, examples, greeting) takes in the prompt, BOS
 * included: the formatted prefix with no conversation, tokenized. */
int chat_count_fixed(chat *c, int32_t *n_tokens, nt_err *err);

/* ---- retrieved passages (app/docs/retrieve.h) ---- */

/* The passages found for the question being asked (copied), best first, for the next
 * chat_prepare: it places as many as fit a budget that leaves room for the fixed part, the
 * question, some history and the answer (the history gets at most a third of what is left
 * after the fixed part, the question and the answer's room; then the passages go in rank
 * order: the best one cut at a line end when it does not fit whole, a later one that does not
 * fit skipped), and records them in the answer (chat_turn.sources).
 * Retrieved passages are never part of the fixed part: when the prompt would not fit, they go
 * before the question does. intro (copied) is the text placed before them (a persona's
 * context instruction); with n 0, a non-empty intro is placed alone (a notice that no passage
 * matched). The candidates are used once. NT_OK or NT_ERR_NOMEM. */
int chat_set_candidates(chat *c, const chat_source *v, size_t n, const char *intro);
/* The passages as they follow the system prompt: intro, then each as
 * "=== Passage N: PATH:A-B (TITLE) ===" and its text. malloc'd; "" when n is 0. */
char *chat_sources_text(const char *intro, const chat_source *v, size_t n);
/* The notice an answer was given instead of passages (chat_turn.sources_intro without
 * sources): its last paragraph, without the "=== " and " ===" around it ("No passage: the
 * documents do not mention calendar"). malloc'd; NULL when there is none. */
char *chat_turn_notice(const chat_turn *t);
/* The system prompt as the last prompt built had it: with the passages chat_prepare placed
 * after it (chat_system() when none were). Borrowed, valid until the chat changes. */
const char *chat_system_placed(const chat *c);
/* Makes the next chat_build_prompt place the passages answer recorded (NULL: none): what a
 * replay does before rebuilding an answer's prompt. NT_OK or NT_ERR_NOMEM. */
int chat_use_sources(chat *c, const chat_turn *answer);
/* A remote chat's request for the turns [first, n_turns) (the last one a question): the
 * fixed part (the system prompt with the placed passages, examples, greeting), then the
 * turns, as messages borrowed from c until it changes. What chat_prepare sends a server, and
 * what a replay asks it again. NT_OK or NT_ERR_NOMEM. */
int chat_remote_msgs(chat *c, size_t first, const nt_chat_msg **msgs, size_t *n, nt_err *err);

/* ---- sessions (app/conv/session.h, app/conv/replay.h) ---- */

/* Extra stop strings (a persona's, copied) that chat_prepare puts into every job after the
 * template's own (a string already there is not repeated), so each answer records the stop
 * strings it was written with (chat_turn.stop) and a replay stops alike. NULL/0 clears. NT_OK;
 * NT_ERR_INVALID when n > CHAT_MAX_STOPS or a string is NULL, empty or longer than
 * GEN_STOP_LEN - 1 bytes: nothing is cut, the chat keeps its previous strings;
 * NT_ERR_NOMEM. */
int chat_set_stops(chat *c, const char *const *stops, size_t n);

/* Copies what an answer records besides its text into d: tokens, start parameters, live
 * changes, how it ended (end, stop_text), timings, max_tokens, first, stop strings, prompt
 * length and retrieved sources. d's tokens and changes must be empty; its role, text, time, complete and error are
 * left to the caller. The one copy behind chat_restore_turn and session_capture. NT_OK or
 * NT_ERR_NOMEM (what was copied stays in d, for its owner to free). */
int chat_turn_copy_record(chat_turn *d, const chat_turn *src);
/* Appends a deep copy of t (its role, text, and for answers every recorded field; `complete`
 * is forced true and `error` dropped) at the end of the current path (its parent and current
 * fields are ignored) to restore a saved conversation. Questions and answers must alternate,
 * starting with a question. NT_ERR_INVALID when they would not or while busy; NT_ERR_NOMEM. */
int chat_restore_turn(chat *c, const chat_turn *t);
/* Restores a whole tree: deep copies of v[0..n) (as chat_restore_turn copies) with their
 * parents and current marks, into a chat with no turns. NT_ERR_INVALID when the chat has
 * turns or v is not a valid tree (chat_turns_valid); NT_ERR_NOMEM (the chat then has none). */
int chat_restore_tree(chat *c, const chat_turn *v, size_t n);
/* Sets chat_first_turn() (clamped to the turns there are), as a restored session had it. */
void chat_set_first_turn(chat *c, size_t first);
/* The prompt chat_prepare builds for the turns [first, n_turns) (the last one a question):
 * formatted and tokenized, appended to out (which is emptied first). */
int chat_build_prompt(chat *c, size_t first, nt_tokens *out, nt_err *err);
/* A job that reads the conversation (turns from chat_first_turn, formatted as chat_prepare
 * would, with the assistant's opening at the end) into an empty or stale KV cache without
 * generating: max_tokens 0, so the worker reports only PROGRESS and DONE. For resuming a saved
 * session with visible progress. chat_busy() is true until its WEV_DONE reaches chat_apply,
 * which then records the cache. NT_ERR_INVALID while busy or when there are no turns;
 * NT_ERR_CONTEXT_FULL when the conversation does not fit (older turns are dropped first, as
 * chat_prepare does). job->tokens points into the chat until the next prepare. */
int chat_prepare_reread(chat *c, worker_job *job, nt_err *err);

/* ---- the prompt as the model sees it (/prompt, --show-prompt) ---- */

/* One part of the prompt and the tokens it takes. */
typedef struct chat_part {
    const char *what; /* "system", "documents", "example question", "example answer",
                         "greeting", "question", "answer", "assistant's opening" or
                         "conversation (raw)" (static) */
    size_t index;     /* examples, questions, answers: their number from 1; else 0 */
    int32_t n_tokens;
} chat_part;
/* The prompt of the turns in the context (from chat_first_turn) into ids (emptied first):
 * with a question last, the one chat_prepare builds to answer it; else the conversation as it
 * stands, which the next question's prompt starts with. And its parts in order with their
 * token counts: each counted as the tokens the prompt gains with it, the assistant's opening
 * (with a question last) taking what is left, so the parts add up to ids->n. doc_at: the byte in the system prompt where the documents start, to
 * count them apart ((size_t)-1: none). *parts is malloc'd (caller frees). NT_OK or an error
 * in err. */
int chat_prompt_parts(chat *c, size_t doc_at, nt_tokens *ids, chat_part **parts, size_t *n_parts,
                      nt_err *err);

/* ---- sampling parameters by name (replay overrides; the table is app/conv/params.h) ---- */

/* Sets the sampler parameter called name (any spelling param_lookup accepts: "temp",
 * "temperature", "top_k", "--top-k", ...) from its text, range-checked. On failure err->msg
 * says what is wrong without naming the option, e.g. "'7x' is not a number" or "'2' is out of
 * range (0 to 1)", and *p is unchanged. max-tokens is not a sampler parameter: unknown here. */
int chat_set_param(nt_sampler_params *p, const char *name, const char *value, nt_err *err);

#endif
