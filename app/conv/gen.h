/* gen.h — the generation loop: an answer, token by token, from a source of logits.
 *
 * Every answer natter writes goes through gen_run: the chat's worker thread (worker.h) and the
 * replay of a session (replay.h) both call it, so a replay steps exactly as the answer it
 * regenerates did by construction. One run: a fresh sampler from the answer's parameters
 * (seed included) that takes the context before the answer as its penalty history; then per
 * token: the stop hook, max tokens, the live-parameter hook, one sample (one RNG step), the
 * end-of-generation check, the text through the stop-string filter, the token hook, and the
 * source's evaluation of the token for the next logits. The run ends with one gen_end.
 *
 * The seam is the source (gen_source below): where the logits of the next token come from and
 * how a token reads as text. The local engine is one (gen_local: a model and its KV cache); a
 * remote backend is another that implements the same few functions (one whose server samples
 * by itself can hand back logits with a single finite entry, so the sampler then only takes
 * its draw). Nothing here knows about threads, queues or the terminal: the caller's hooks do.
 *
 * Also here, because the loop applies them: the end reasons (one table for their names, the
 * session file's words and what the screen and the command line print) and the stop-string
 * filter. */
#ifndef NATTER_APP_GEN_H
#define NATTER_APP_GEN_H

#include "natter.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ================================================================ end reasons ===== */

/* X(NAME, key, words): the enum value GEN_END_NAME, the key a session file records
 * (natter-session(5)) and the words the chat screen and the command line print. An answer
 * that ended at a stop string is GEN_END_EOG with its stop_text flag set (the session file
 * says "stop-string", people read "stop string"). */
#define GEN_END_LIST(X)                                  \
    X(EOG, "eog", "end of text")                         \
    X(LENGTH, "length", "max tokens")                    \
    X(STOPPED, "stopped", "stopped")                     \
    X(CONTEXT_FULL, "context-full", "context full")      \
    X(ERROR, "error", "error")

#define GEN_END_ENUM(name, key, words) GEN_END_##name,
enum gen_end { GEN_END_LIST(GEN_END_ENUM) GEN_END_COUNT };
#undef GEN_END_ENUM

#define GEN_END_STOP_STRING_KEY "stop-string" /* the session file's key for a stop string */

/* The words for an ending ("end of text", "max tokens", ...; "stop string" for GEN_END_EOG
 * with stop_text). Static; "?" for a value out of range. */
const char *gen_end_name(enum gen_end e, bool stop_text);
/* The session file's key ("eog", "length", ..., never "stop-string"). Static; NULL out of
 * range. gen_end_parse is the inverse: -1 for an unknown key. */
const char *gen_end_key(enum gen_end e);
int gen_end_parse(const char *key);

/* ============================================================ the stop filter ===== */

/* Stop-string limits. A job carries the chat template's own stop string (the plain family's
 * "\nUser:") and up to 16 of a persona's; each is 1 to 255 bytes. The persona loader and the
 * session reader reject anything beyond (with file:line:col); nothing is ever cut. */
#define GEN_MAX_STOP 17  /* stop strings per answer: the template's one and a persona's 16 */
#define GEN_STOP_LEN 256 /* bytes per stop string, NUL included (so at most 255 of text) */

/* Text goes in as the answer is generated, in pieces of any size (a token's text); what comes
 * out is the text that can no longer turn out to be part of a stop string. It finds the first
 * place where the text contains a stop string, however the text was split: one
 * Knuth-Morris-Pratt automaton per stop string advances byte by byte and carries across
 * pieces, so a stop string spanning many tokens costs the same as one in a single token, and
 * the work per byte (amortised) does not grow with the strings' length. The held-back text is
 * the longest end of the text that begins some stop string (at most GEN_STOP_LEN - 2 bytes),
 * plus the start of a UTF-8 character cut short by the piece's end, so what comes out is whole
 * characters when the stop strings are. When two stop strings end at the same byte, the
 * longer one (which starts earlier) is the one cut. Matching is on bytes: no case folding, no
 * normalisation. The functions touch only the filter: any thread may run one. */
typedef struct gen_filter {
    const char *stop[GEN_MAX_STOP];  /* borrowed; they must outlive the filter */
    uint16_t len[GEN_MAX_STOP];      /* strlen(stop[k]), 1..GEN_STOP_LEN - 1 */
    uint16_t state[GEN_MAX_STOP];    /* bytes of stop[k] the text's end matches (< len[k]) */
    uint8_t fail[GEN_MAX_STOP][GEN_STOP_LEN]; /* (n_stop, len[k]) KMP prefix function: the
                                        longest proper border of stop[k][0..i] */
    size_t n_stop;
    char held[GEN_STOP_LEN + 4];     /* text not let out yet, NUL-terminated */
    size_t n_held;
    bool hit;                        /* a stop string was found: feed no more */
} gen_filter;

/* Most bytes gen_filter_feed writes for a piece of n bytes (its NUL included). */
#define GEN_FILTER_OUT(n) ((n) + GEN_STOP_LEN + 5)

/* Whether stop[0..n) are valid stop strings: n <= GEN_MAX_STOP, each 1 to GEN_STOP_LEN - 1
 * bytes (stop may be NULL when n is 0). The one check the worker, the chat and the filter
 * make. */
bool gen_stops_valid(const char *const *stop, size_t n);
/* Sets f up for stop[0..n) (borrowed). NT_ERR_INVALID when !gen_stops_valid (f is then a
 * filter with no strings). */
int gen_filter_init(gen_filter *f, const char *const *stop, size_t n);
/* Feeds s[0..n) and writes to out (room for GEN_FILTER_OUT(n) bytes) the text that can be
 * shown now, NUL-terminated; *out_len (may be NULL) gets its length. Returns true when the text
 * now contains a stop string: out then ends right before it, and the rest is dropped. */
bool gen_filter_feed(gen_filter *f, const char *s, size_t n, char *out, size_t *out_len);
/* The text still held back (borrowed from f, NUL-terminated; "" after a hit): at the end of an
 * answer that did not hit a stop string, it belongs to the answer. */
const char *gen_filter_held(const gen_filter *f, size_t *len);

/* ================================================================= the source ===== */

/* Where the tokens come from. Every function gets the source's self. Called from the thread
 * running gen_run only. */
typedef struct gen_source_ops {
    /* The answer starts: returns the tokens already in the context (prompt and earlier turns,
     * in order; *ids borrowed for this call), which the sampler takes as its penalty history,
     * and resets the text decoder to continue that context. */
    size_t (*begin)(void *self, const int32_t **ids);
    /* The logits of the next token: n_vocab floats, borrowed until the next eval. */
    const float *(*logits)(void *self);
    /* Takes the chosen token into the context and computes the logits after it. NT_OK;
     * NT_ERR_CONTEXT_FULL when there is no room (nothing done); NT_ERR_CANCELLED when the
     * caller's stop came mid-way; another code with err filled. */
    int (*eval)(void *self, int32_t id, nt_err *err);
    /* Whether id ends an answer (end-of-generation tokens). */
    bool (*is_eog)(void *self, int32_t id);
    /* The printable UTF-8 text id adds to the answer (a streaming decoder: "" while a
     * character is split across tokens). NUL-terminated, borrowed until the next call. */
    const char *(*text)(void *self, int32_t id, size_t *len);
    /* What the decoder still holds at the end of the answer; borrowed like text's. */
    const char *(*flush)(void *self, size_t *len);
    /* Forks of the context, for beam search; all three NULL when the source cannot fork
     * (beams are then refused). fork_save copies the context's tokens from position `from`
     * on (owned by the caller: fork_free; NULL when out of memory); fork_restore puts the
     * context back to what it was at that save (its first `from` tokens must not have
     * changed since) and computes nothing: the logits are stale until the next eval.
     * fork_keep keeps the context's first n tokens. */
    void *(*fork_save)(void *self, size_t from);
    int (*fork_restore)(void *self, const void *state, nt_err *err);
    void (*fork_free)(void *self, void *state);
    void (*fork_keep)(void *self, size_t n);
    /* Optional (NULL: always GEN_END_EOG): how an answer that met an end-of-generation token
     * ended. A remote server that samples by itself says why it stopped (finish_reason
     * "length" is GEN_END_LENGTH); the local engine leaves it NULL. */
    enum gen_end (*eog_end)(void *self);
} gen_source_ops;

typedef struct gen_source {
    const gen_source_ops *ops;
    void *self;
    int32_t n_vocab;
    const nt_tokenizer *tok; /* the vocabulary DRY's sequence breakers are found in (borrowed);
                                NULL: none known, DRY then runs without breakers */
} gen_source;

/* The local engine as a source: a model (borrowed) and the ids in its KV cache. The owner
 * evaluates prompts through gen_local_eval, then hands gen_local_source to gen_run. */
typedef struct gen_local {
    nt_model *m;               /* borrowed */
    const nt_tokenizer *tok;   /* borrowed from m */
    int32_t n_vocab;
    nt_tokens ctx;             /* the ids in the KV cache, in order (ctx.n == nt_model_n_past) */
    float *logits;             /* (n_vocab) logits after the last evaluated token */
    nt_tokenizer_stream ts;    /* the answer's text decoder */
    char *piece;               /* (piece_cap) one token's decoded text */
    size_t piece_cap;          /* 3 × the longest vocabulary piece + 16: never cuts a token */
    /* A hook run before each token's evaluation (NULL: none); the worker's test delay. */
    void (*before_eval)(void *user);
    void *user;
} gen_local;

/* Sets l up over m (borrowed, must outlive l) with an empty cache mirror (the model is
 * rewound to 0). NT_ERR_NOMEM (l is then freed). */
int gen_local_init(gen_local *l, nt_model *m, nt_err *err);
void gen_local_free(gen_local *l); /* accepts a zeroed or freed l */
/* Rewinds the cache to its first n tokens (n <= ctx.n). */
void gen_local_rewind(gen_local *l, int32_t n);
/* Evaluates ids[0..n) after the cache (ids must not point into l->ctx), leaving the logits
 * after the last one in l->logits; the mirror keeps the whole tokens the model kept, also
 * when it stopped part-way. nt_model_eval's codes. */
int gen_local_eval(gen_local *l, const int32_t *ids, int32_t n, nt_err *err);
/* The source reading l (borrowed). */
gen_source gen_local_source(gen_local *l);

/* ================================================================== the loop ===== */

#define GEN_N_CAND 10 /* candidates reported per token */
#define GEN_CAND_TEXT 32 /* bytes of a candidate's text (NUL included) where a source reports
                            candidates as text: a remote server's top_logprobs */

typedef struct gen_opts {
    nt_sampler_params params;  /* at the start of the answer (seed included) */
    int32_t max_tokens;        /* generate at most this many (>= 0; 0: end at once) */
    bool ignore_eog;           /* keep generating past end-of-generation tokens */
    bool candidates;           /* gen_token carries each token's top candidates */
    const char *const *stop;   /* stop strings (borrowed), gen_stops_valid */
    size_t n_stop;
} gen_opts;

/* One generated token, as the token hook sees it (borrowed for the call). */
typedef struct gen_token {
    int32_t index;          /* in the answer, 0-based */
    int32_t id;
    const char *text;       /* the answer's text let out by this token (stop filter and
                               decoder applied), NUL-terminated; often "" */
    size_t n_text;
    nt_sampler_cand cand[GEN_N_CAND]; /* when opts.candidates: before/after the chain */
    int n_cand;
    nt_sampler_stage_info stages[NT_STAGE_COUNT]; /* when opts.candidates: what each active
                                                     stage of the chain kept */
    int n_stages;
} gen_token;

/* One live beam of beam search, as the beam hook sees it after a step. */
typedef struct gen_beam_view {
    const int32_t *ids;     /* (n) its tokens, borrowed for the call */
    size_t n;
    double logp;            /* their total log-probability (the model's, temperature 1) */
} gen_beam_view;

/* The caller's side of a run. Every hook may be NULL; user is passed to each. */
typedef struct gen_hooks {
    void *user;
    /* Before token index i: true ends the answer there (GEN_END_STOPPED). */
    bool (*stop)(void *user, int32_t i);
    /* Before token index i (after the stop and max-tokens checks): true when the sampling
     * parameters change from this token on; *p then holds them (filled by the hook). */
    bool (*params)(void *user, int32_t i, nt_sampler_params *p);
    /* Each token of the answer (end-of-generation tokens are not). NT_OK goes on; another
     * code (with err filled) ends the run with GEN_END_ERROR and that code. */
    int (*token)(void *user, const gen_token *t, nt_err *err);
    /* Beam search, after each step: the n_live live beams, best first (beams[0] is the best
     * so far, provisional: a later step may replace it; no end tokens), and the n_done answers
     * finished so far with the best of their scores (-INFINITY when none). */
    void (*beam)(void *user, const gen_beam_view *beams, int n_live, int n_done, double best_done);
} gen_hooks;

typedef struct gen_result {
    enum gen_end end;
    bool stop_text;         /* GEN_END_EOG came from a stop string */
    int32_t n_gen;          /* tokens given to the token hook */
    char *tail;             /* text held back to the end (stop filter, decoder) that belongs
                               to the answer; NULL when none. Owned by the caller: free() */
    nt_sampler_cand cand0[GEN_N_CAND]; /* the first sampled token's top candidates (whatever
                               it is, end of generation included; always filled) */
    int n_cand0;
} gen_result;

/* Runs one answer from src's current logits. NT_OK when it ended for any of the reasons in
 * res->end but an error; else the error code with err filled (res->end GEN_END_ERROR; what was
 * generated until then was reported). res is always filled; free res->tail.
 *
 * With o->params.beams = N > 1 it runs beam search instead of sampling (the source must
 * fork; params.length_penalty scores the answers):
 * deterministic, no random numbers, no sampler stages (the model's own log-probabilities,
 * temperature 1). The context before the answer is computed once and shared: each beam is a
 * fork holding only its own tokens. Each step extends every live beam by each of its 2N
 * likeliest tokens, and keeps the N best extensions by total log-probability (ties: the
 * earlier beam, then the lower id); an extension by an end token is a finished answer,
 * scored total / length^length_penalty (length counting the end token). The search stops
 * when N answers have finished (early stop), at max tokens, when the context is full or at
 * the stop hook; live beams then count as answers of their length, and the best score wins.
 * The beam hook sees the best live beam after each step; the token hook then sees the
 * winner's tokens one by one as for a sampled answer (stop strings apply; no candidates),
 * and the context ends as a sampled answer's would. The params hook is not called: the
 * strategy is fixed when an answer starts, and a parameter change made during a beam answer
 * (beams and length_penalty included) applies from the next answer on. */
int gen_run(const gen_source *src, const gen_opts *o, const gen_hooks *h, gen_result *res,
            nt_err *err);

#endif
