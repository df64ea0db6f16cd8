/* replay.h — regenerates a session's answers: the recorded seeds, every live change applied
 * exactly before its recorded token index and the same prompt tokens (the recorded
 * conversation re-formatted by the chat module, its length checked against the recording), so
 * that with the same model file the answers come out token for token as they were written (the
 * engine's logits do not depend on how the prompt reaches the KV cache). Overrides (another model, temperature, top-p, ...) replay the
 * same questions with changes, for comparing one conversation across settings or models.
 *
 * Each answer is regenerated in the context of the recorded conversation before it (the
 * recorded questions and answers), not of the answers replayed before it: that keeps every
 * turn comparable even once an override makes answers differ.
 *
 * The replay drives its own copy of the model on the calling thread, through the generation
 * loop the worker runs (gen.h): the same code samples, applies live changes, cuts at stop
 * strings and ends answers, so only the inputs (the recorded parameters, changes and stop
 * strings) can make a replay differ. No terminal code here. */
#ifndef NATTER_APP_REPLAY_H
#define NATTER_APP_REPLAY_H

#include "natter.h"
#include "chat.h"
#include "session.h"

#include <stdbool.h>

#define REPLAY_MAX_OVERRIDES 16

/* How to replay. Zero-initialise; everything is optional. */
typedef struct replay_opts {
    const char *model_path;  /* another model; NULL: the recorded one (s->model.path, else
                                s->model.file in the current folder or models/), or for a
                                session answered by a server, that server */
    const char *api_base;    /* a remote session: ask this server instead of the recorded one */
    const char *api_key_env; /* a remote session: the API key's variable (NULL: remote.h's) */
    long connect_ms, idle_ms; /* a remote session: its timeouts (the config file's; 0: the
                                 defaults), under NATTER_API_*_TIMEOUT */
    int32_t n_threads;       /* 0 = all online CPUs (results do not depend on it) */
    /* Parameter overrides, as names and values chat_set_param accepts ("temp", "1.2"): each
     * replaces the parameter for whole answers (start value and live changes of it). */
    const char *names[REPLAY_MAX_OVERRIDES];
    const char *values[REPLAY_MAX_OVERRIDES];
    int n_overrides;
} replay_opts;

typedef struct replay replay;

/* Loads the model and checks the overrides. On failure *out is NULL and err says why. The
 * session is borrowed and must outlive the replay.
 *
 * A session answered by an OpenAI-compatible server (s->model.api_base) is asked of that
 * server again (or o->api_base), unless o->model_path names a local model: the recorded
 * conversation as messages with each answer's recorded seed, parameters, limit and stop
 * strings, its live changes continued through /completions before their pieces as the chat
 * did. Such an answer can only match the recording if the server honours the seed (llama.cpp's
 * server and natter serve do); replay_compare then compares texts. */
int replay_init(replay **out, const session *s, const replay_opts *o, nt_err *err);
void replay_free(replay *r);

/* True when the model is the recorded one (same hash) and no override changes sampling:
 * then the answers must come out exactly as recorded. */
bool replay_exact(const replay *r);
const char *replay_model_path(const replay *r); /* borrowed; "MODEL at URL" for a server */
bool replay_remote(const replay *r);            /* a server answers (replay_init) */
const nt_tokenizer *replay_tokenizer(const replay *r);

/* Called with each token of the answer being regenerated and its printable text. */
typedef void (*replay_token_fn)(int32_t id, const char *text, void *user);

/* One regenerated answer. Free with replay_result_free. */
typedef struct replay_result {
    nt_tokens tokens;       /* generated ids (end-of-generation token excluded) */
    char *text;             /* UTF-8, NUL-terminated */
    enum gen_end end;
    bool stop_text;         /* ended at the stop string */
    int32_t n_prompt;       /* prompt tokens */
    int32_t n_eval;         /* prompt tokens evaluated (the rest came from the cache) */
    bool prompt_matches;    /* the rebuilt prompt has the recorded length */
    /* The first token's top candidates (as the worker's TOKEN events carry them): their
     * probabilities come from the logits bit for bit, so tests compare them with the live
     * run's to see that the cache was filled exactly alike. */
    nt_sampler_cand cand0[GEN_N_CAND];
    int n_cand0;
    bool remote;            /* a server's answer: tokens are its pieces, the text is compared */
} replay_result;

void replay_result_free(replay_result *res);

/* Regenerates the answer at s->turns[turn] (an assistant turn). fn may be NULL. It runs on
 * the calling thread; the chat screen runs it on a thread of its own and streams the text
 * through fn (app/tui/tui.c), the command line prints it (app/cmd/cmd_session.c). */
int replay_answer(replay *r, size_t turn, replay_token_fn fn, void *user, replay_result *res,
                  nt_err *err);
/* Asks replay_answer, running on another thread, to end at its next token (res->end becomes
 * GEN_END_STOPPED); every later replay_answer ends at once too. Safe from any thread. */
void replay_cancel(replay *r);

/* How a regenerated answer compares with the recording: every recorded field replay can
 * recompute is checked, in this order (the first difference is reported). */
enum replay_diff {
    REPLAY_SAME = 0,
    REPLAY_DIFF_TOKENS, /* a token differs, or one answer ends before the other */
    REPLAY_DIFF_END,    /* the same tokens, another ending (length, stop string, ...) */
    REPLAY_DIFF_PROMPT, /* the rebuilt prompt does not have the recorded prompt_length */
    REPLAY_DIFF_TEXT,   /* the same tokens, another text: the recorded text was edited */
    REPLAY_DIFF_REMOTE  /* a server's answer whose text differs (first: the character) */
};
/* Compares a regenerated answer with the recording. *first (may be NULL) gets the index of
 * the first differing token (where one answer ends before the other counts as differing
 * there; the answer's length when the tokens agree). A server's answer (res->remote) is
 * compared by its text, then its end: REPLAY_SAME, REPLAY_DIFF_REMOTE with *first the
 * character (counted from 0) where the texts part, or REPLAY_DIFF_END. The one comparison both the command line
 * and the chat screen report. */
enum replay_diff replay_compare(const chat_turn *t, const replay_result *res, size_t *first);
/* replay_compare(...) == REPLAY_SAME. */
bool replay_matches(const chat_turn *t, const replay_result *res, size_t *first);
/* What replay_compare found for answer s->turns[turn], as the command line's --check and the
 * chat's /replay both say it: "message N: FILE: " and the difference (the first differing
 * token and both tokens, as described by tok when not NULL; both endings; the prompt's
 * length; an edited text), on one line or a few; for REPLAY_SAME, its tokens and ending.
 * malloc'd (NULL when out of memory). Errors of replay_init and replay_answer do not name
 * the file or the message: the caller puts "FILE: message N: " before them. */
char *replay_describe(const session *s, size_t turn, const replay_result *res, enum replay_diff d,
                      size_t first, const nt_tokenizer *tok);

#endif
