/* worker.h — the inference thread.
 *
 * The worker owns the model (weights, KV cache) and a sampler, and runs one job at a time:
 * rewind the cache to `keep` tokens, evaluate the job's tokens, then generate up to
 * max_tokens tokens. It reports through a queue of events whose wake-up descriptor the UI
 * poll()s (worker_wake_fd). Every job ends with exactly one WEV_DONE event (after a
 * WEV_ERROR when it failed), so the UI can always wait for DONE.
 *
 * Thread rules: every function here is called from the UI thread (one thread). The model
 * belongs to the worker after worker_init: the UI must not call model_* functions on it, except
 * the immutable accessors behind worker_model_info and worker_tokenizer. */
#ifndef NATTER_APP_WORKER_H
#define NATTER_APP_WORKER_H

#include "natter.h"

typedef struct worker worker;

/* Takes ownership of m (also on failure: m is freed then). Starts the thread. NULL on
 * failure with err filled. */
worker *worker_init(nt_model *m, nt_err *err);
/* Stops any job, joins the thread, drops pending events, frees the model. Accepts NULL. */
void worker_free(worker *w);
/* Readable while events are waiting; poll() it. Owned by the worker. */
int worker_wake_fd(const worker *w);

/* Borrowed, immutable views of the owned model; they live as long as the worker. */
const nt_model_info *worker_model_info(const worker *w);
const nt_tokenizer *worker_tokenizer(const worker *w);
const nt_gguf *worker_gguf(const worker *w);

/* Stop-string limits. A job carries the chat template's own stop string (the plain family's
 * "\nUser:") and up to 16 of a persona's; each is 1 to 255 bytes. The persona loader and the
 * session reader reject anything beyond (with file:line:col); nothing is ever cut. */
#define WORKER_MAX_STOP 17  /* stop strings per job: the template's one and a persona's 16 */
#define WORKER_STOP_LEN 256 /* bytes per stop string, NUL included (so at most 255 of text) */

typedef struct worker_job {
    int32_t keep;           /* rewind the KV cache to this many tokens first (<= cached) */
    const int32_t *tokens;  /* then evaluate these (copied by worker_submit) */
    int32_t n_tokens;
    int32_t max_tokens;     /* generate at most this many; 0 = only evaluate the prompt */
    nt_sampler_params params;  /* at the start of the answer (seed included) */
    bool ignore_eog;        /* keep generating past end-of-generation tokens (tests, bench) */
    bool no_candidates;     /* skip the candidate lists of TOKEN events (cheaper) */
    /* Stop strings: generation ends (WEND_EOG, DONE's stop_text set) as soon as the answer's
     * text contains one; the string itself is not emitted. Text that might be the start of a
     * stop string is held back until it is known not to be (worker_filter below). stop[0..
     * n_stop) are borrowed: worker_submit copies them. At most WORKER_MAX_STOP strings of 1 to
     * WORKER_STOP_LEN - 1 bytes, else worker_submit refuses the job (NT_ERR_INVALID). */
    const char *const *stop;
    size_t n_stop;
} worker_job;

/* Queues a job. NT_OK; NT_ERR_INVALID if a job is running (wait for its WEV_DONE) or the job
 * is malformed; NT_ERR_NOMEM. The job's params become the live parameters. */
int worker_submit(worker *w, const worker_job *job);
/* Stops the running prompt or answer at once (atomic flag, checked per token and per layer).
 * The job ends with WEND_STOPPED; the cache keeps the whole tokens already processed. No
 * effect when idle. */
void worker_stop(worker *w);
/* Live parameters: applied from the next token on. The worker reports the answer token index
 * it first used them at (WEV_PARAMS event), so the UI can mark the change in the history and
 * the session can record (token index, parameter, value). */
void worker_set_params(worker *w, const nt_sampler_params *p);
/* True from worker_submit until the job's WEV_DONE is queued. */
bool worker_busy(worker *w);

enum worker_ev_kind { WEV_PROGRESS, WEV_TOKEN, WEV_PARAMS, WEV_DONE, WEV_ERROR };
enum worker_end { WEND_EOG, WEND_LENGTH, WEND_STOPPED, WEND_CONTEXT_FULL, WEND_ERROR };

typedef struct worker_event {
    enum worker_ev_kind kind;
    int32_t done, total;          /* PROGRESS: prompt tokens processed of total */
    int32_t id;                   /* TOKEN: token id */
    int32_t index;                /* TOKEN, PARAMS: index in the answer (0-based) */
    char *text;                   /* TOKEN: its printable UTF-8 text (streaming decoder; may be
                                     "" while a character is split across tokens),
                                     DONE: text the decoder held back to the end (or NULL),
                                     ERROR: the message. Owned by the receiver: free() it */
    nt_sampler_cand cand[10];        /* TOKEN: top candidates before/after the chain */
    int n_cand;
    nt_sampler_params params;        /* PARAMS: the parameters now in force, from token `index` */
    enum worker_end end;          /* DONE */
    int32_t n_past;               /* DONE: tokens now in the KV cache (prompt + answer) */
    int32_t n_prompt, n_gen;      /* DONE: prompt tokens evaluated, tokens generated */
    double prompt_sec, gen_sec;   /* DONE: wall time of the prompt and of the answer */
    bool stop_text;               /* DONE: the WEND_EOG came from a stop string */
} worker_event;

/* Non-blocking; false when empty. The receiver owns ev->text. */
bool worker_poll(worker *w, worker_event *ev);
/* Waits up to timeout_ms (negative: forever) for an event. */
bool worker_wait(worker *w, worker_event *ev, int timeout_ms);
/* "end of text", "length", "stopped", "context full", "error". Static. */
const char *worker_end_name(enum worker_end e);

/* ---- the stop-string filter: the worker runs it on every answer, replay (replay.h) too ----
 *
 * Text goes in as the answer is generated, in pieces of any size (a token's text); what comes
 * out is the text that can no longer turn out to be part of a stop string. It finds the first
 * place where the text contains a stop string, however the text was split: one
 * Knuth-Morris-Pratt automaton per stop string advances byte by byte and carries across
 * pieces, so a stop string spanning many tokens costs the same as one in a single token, and
 * the work per byte (amortised) does not grow with the strings' length. The held-back text is
 * the longest end of the text that begins some stop string (at most WORKER_STOP_LEN - 2
 * bytes), plus the start of a UTF-8 character cut short by the piece's end, so what comes out
 * is whole characters when the stop strings are. When two stop strings end at the same byte,
 * the longer one (which starts earlier) is the one cut. Matching is on bytes: no case folding,
 * no normalisation. The functions touch only the filter: any thread may run one. */
typedef struct worker_filter {
    const char *stop[WORKER_MAX_STOP];  /* borrowed; they must outlive the filter */
    uint16_t len[WORKER_MAX_STOP];      /* strlen(stop[k]), 1..WORKER_STOP_LEN - 1 */
    uint16_t state[WORKER_MAX_STOP];    /* bytes of stop[k] the text's end matches (< len[k]) */
    uint8_t fail[WORKER_MAX_STOP][WORKER_STOP_LEN]; /* (n_stop, len[k]) KMP prefix function:
                                           the longest proper border of stop[k][0..i] */
    size_t n_stop;
    char held[WORKER_STOP_LEN + 4];     /* text not let out yet, NUL-terminated */
    size_t n_held;
    bool hit;                           /* a stop string was found: feed no more */
} worker_filter;

/* Most bytes worker_filter_feed writes for a piece of n bytes (its NUL included). */
#define WORKER_FILTER_OUT(n) ((n) + WORKER_STOP_LEN + 5)

/* Sets f up for stop[0..n) (borrowed). NT_ERR_INVALID when n > WORKER_MAX_STOP or a string is
 * NULL, empty or longer than WORKER_STOP_LEN - 1 bytes (f is then a filter with no strings). */
int worker_filter_init(worker_filter *f, const char *const *stop, size_t n);
/* Feeds s[0..n) and writes to out (room for WORKER_FILTER_OUT(n) bytes) the text that can be
 * shown now, NUL-terminated; *out_len (may be NULL) gets its length. Returns true when the text
 * now contains a stop string: out then ends right before it, and the rest is dropped. */
bool worker_filter_feed(worker_filter *f, const char *s, size_t n, char *out, size_t *out_len);
/* The text still held back (borrowed from f, NUL-terminated; "" after a hit): at the end of an
 * answer that did not hit a stop string, it belongs to the answer. */
const char *worker_filter_held(const worker_filter *f, size_t *len);

#endif
