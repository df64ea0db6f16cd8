/* worker.h — the inference thread.
 *
 * The worker owns the model (weights, KV cache) and runs one job at a time: rewind the cache
 * to `keep` tokens, evaluate the job's tokens, then generate up to max_tokens tokens through
 * the generation loop (gen.h, the one replay runs too). It reports through a queue of events whose wake-up descriptor the UI
 * poll()s (worker_wake_fd). Every job ends with exactly one WEV_DONE event (after a
 * WEV_ERROR when it failed), so the UI can always wait for DONE.
 *
 * Thread rules: every function here is called from the UI thread (one thread). The model
 * belongs to the worker after worker_init: the UI must not call model_* functions on it, except
 * the immutable accessors behind worker_model_info and worker_tokenizer. */
#ifndef NATTER_APP_WORKER_H
#define NATTER_APP_WORKER_H

#include "natter.h"
#include "gen.h"

struct remote;

typedef struct worker worker;

/* Takes ownership of m (also on failure: m is freed then). Starts the thread. NULL on
 * failure with err filled. */
worker *worker_init(nt_model *m, nt_err *err);
/* A worker whose answers come from a remote server (remote.h) instead of a model: takes
 * ownership of r (also on failure). Its jobs carry messages (worker_job.msgs), not tokens;
 * worker_model_info describes the remote model (arch "remote", name the model's, n_ctx 0:
 * unknown), worker_tokenizer and worker_gguf are NULL. */
worker *worker_init_remote(struct remote *r, nt_err *err);
/* The remote of a remote worker, NULL for a local one. Only while no job runs (its model
 * may then be changed: remote_set_model; worker_model_info's name follows). */
struct remote *worker_remote(worker *w);
/* Stops any job, joins the thread, drops pending events, frees the model. Accepts NULL. */
void worker_free(worker *w);
/* Readable while events are waiting; poll() it. Owned by the worker. */
int worker_wake_fd(const worker *w);

/* Borrowed, immutable views of the owned model; they live as long as the worker. */
const nt_model_info *worker_model_info(const worker *w);
const nt_tokenizer *worker_tokenizer(const worker *w);
const nt_gguf *worker_gguf(const worker *w);

typedef struct worker_job {
    int32_t keep;           /* rewind the KV cache to this many tokens first (<= cached) */
    const int32_t *tokens;  /* then evaluate these (copied by worker_submit) */
    int32_t n_tokens;
    int32_t max_tokens;     /* generate at most this many; 0 = only evaluate the prompt */
    nt_sampler_params params;  /* at the start of the answer (seed included) */
    bool ignore_eog;        /* keep generating past end-of-generation tokens (tests, bench) */
    bool no_candidates;     /* skip the candidate lists of TOKEN events (cheaper) */
    /* Stop strings: generation ends (GEN_END_EOG, DONE's stop_text set) as soon as the answer's
     * text contains one; the string itself is not emitted. Text that might be the start of a
     * stop string is held back until it is known not to be (gen_filter, gen.h). stop[0..
     * n_stop) are borrowed: worker_submit copies them. At most GEN_MAX_STOP strings of 1 to
     * GEN_STOP_LEN - 1 bytes, else worker_submit refuses the job (NT_ERR_INVALID). */
    const char *const *stop;
    size_t n_stop;
    /* Remote workers: the conversation to answer (copied by worker_submit). */
    const nt_chat_msg *msgs;
    size_t n_msgs;
} worker_job;

/* Queues a job. NT_OK; NT_ERR_INVALID if a job is running (wait for its WEV_DONE) or the job
 * is malformed; NT_ERR_NOMEM. The job's params become the live parameters. */
int worker_submit(worker *w, const worker_job *job);
/* Stops the running prompt or answer at once (atomic flag, checked per token and per layer).
 * The job ends with GEN_END_STOPPED; the cache keeps the whole tokens already processed. No
 * effect when idle. */
void worker_stop(worker *w);
/* Live parameters: applied from the next token on. The worker reports the answer token index
 * it first used them at (WEV_PARAMS event), so the UI can mark the change in the history and
 * the session can record (token index, parameter, value). */
void worker_set_params(worker *w, const nt_sampler_params *p);
/* True from worker_submit until the job's WEV_DONE is queued. */
bool worker_busy(worker *w);

/* WEV_BEAM: beam search's best beam so far (text: its whole text, index: its tokens), which
 * a later WEV_BEAM replaces; the winner's tokens then come as WEV_TOKENs. WEV_NOTE:
 * something the user should read that ends nothing (a remote server that cannot take new
 * settings mid-answer); its text is the message. */
enum worker_ev_kind { WEV_PROGRESS, WEV_TOKEN, WEV_PARAMS, WEV_DONE, WEV_ERROR, WEV_BEAM, WEV_NOTE };

/* A WEV_BEAM row: one live beam, for the probabilities view. Fixed size, so an event owns no
 * more than its text. */
#define WORKER_BEAM_ROWS 8
typedef struct worker_beam {
    double logp;                  /* total log-probability of its tokens */
    int32_t n;                    /* its tokens */
    char tail[64];                /* the end of its text (whole characters, line breaks as
                                     spaces), NUL-terminated */
} worker_beam;

typedef struct worker_event {
    enum worker_ev_kind kind;
    int32_t done, total;          /* PROGRESS: prompt tokens processed of total */
    int32_t id;                   /* TOKEN: token id */
    int32_t index;                /* TOKEN, PARAMS: index in the answer (0-based) */
    char *text;                   /* TOKEN: its printable UTF-8 text (streaming decoder; may be
                                     "" while a character is split across tokens),
                                     DONE: text the decoder held back to the end (or NULL),
                                     BEAM: the best beam's text so far,
                                     ERROR, NOTE: the message. Owned by the receiver: free() it */
    nt_sampler_cand cand[GEN_N_CAND]; /* TOKEN: top candidates before/after the chain; a
                                     remote answer's: the server's probabilities (p_before ==
                                     p_after, id -1), 0 of them when it sent none */
    int n_cand;
    char cand_text[GEN_N_CAND][GEN_CAND_TEXT]; /* TOKEN of a remote answer: the candidates'
                                     texts as the server sent them (untrusted bytes) */
    nt_sampler_stage_info stages[NT_STAGE_COUNT]; /* TOKEN: what each active stage kept */
    int n_stages;
    nt_sampler_params params;     /* PARAMS: the parameters now in force, from token `index` */
    enum gen_end end;             /* DONE */
    int32_t n_past;               /* DONE: tokens now in the KV cache (prompt + answer); a
                                     remote answer: the server's count ("usage"), 0 unknown */
    int32_t n_prompt, n_gen;      /* DONE: prompt tokens evaluated, tokens generated (a remote
                                     answer: the server's prompt count, pieces) */
    double prompt_sec, gen_sec;   /* DONE: wall time of the prompt and of the answer */
    bool stop_text;               /* DONE: the GEN_END_EOG came from a stop string */
    worker_beam beams[WORKER_BEAM_ROWS]; /* BEAM: the best live beams, best first */
    int n_beams;                  /* BEAM: live beams (rows: the first WORKER_BEAM_ROWS) */
    int beams_done;               /* BEAM: answers finished so far */
    double best_done;             /* BEAM: the best finished answer's score (-INFINITY: none) */
} worker_event;

/* Non-blocking; false when empty. The receiver owns ev->text. */
bool worker_poll(worker *w, worker_event *ev);
/* Waits up to timeout_ms (negative: forever) for an event. */
bool worker_wait(worker *w, worker_event *ev, int timeout_ms);

#endif
