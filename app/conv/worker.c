/* worker.c — the inference thread (see worker.h).
 *
 * One thread waits on a condition variable for a job, runs it against the model it owns and
 * pushes events into a queue (queue.h) whose eventfd wakes the UI. The UI talks to it through
 * three things only: the job slot (under the mutex), the live-parameter snapshot (under the
 * mutex, with a generation counter the worker compares once per token) and the stop flag (an
 * atomic, polled per token here and per layer by the model's cancel hook). */
#include "worker.h"
#include "util/queue.h"

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct worker {
    nt_model *m;                  /* owned */
    const nt_tokenizer *tok;      /* borrowed from m */
    int32_t n_vocab, n_ctx;
    queue *events;             /* of worker_event; the UI pops */

    pthread_t thread;
    pthread_mutex_t mu;        /* guards everything down to live_gen */
    pthread_cond_t cv;         /* a job arrived or quit was asked */
    bool quit, has_job, busy;
    worker_job job;            /* job.tokens points at job_tokens */
    int32_t *job_tokens;       /* owned copy of the submitted tokens */
    nt_sampler_params live;       /* the latest live parameters */
    uint64_t live_gen;         /* bumped by every worker_set_params */
    uint64_t job_gen;          /* live_gen when the job was submitted (its own params) */

    atomic_bool stop;
    int token_delay_ms;        /* NATTER_TEST_TOKEN_DELAY_MS: a testing aid, 0 = none */
    bool in_prompt;            /* worker thread only: progress is reported for prompts only */

    /* Worker-thread only. */
    nt_tokens ctx;             /* the ids in the KV cache, in order (ctx.n == nt_model_n_past) */
    float *logits;             /* (n_vocab) logits after the last evaluated token */
    nt_sampler *smp;
    char *piece;               /* (piece_cap) one token's decoded text */
    size_t piece_cap;          /* 3 × the longest vocabulary piece + 16: never cuts a token */
    char *shown;               /* (WORKER_FILTER_OUT(piece_cap)) what the stop filter lets out */
    /* The running job's stop strings, copied by worker_submit (job.stop points at stop_ptr).
     * A fixed 4 KiB: there is one worker, and the copy then cannot fail. */
    char stop_buf[WORKER_MAX_STOP][WORKER_STOP_LEN];
    const char *stop_ptr[WORKER_MAX_STOP];
};

const char *worker_end_name(enum worker_end e)
{
    switch (e) {
    case WEND_EOG: return "end of text";
    case WEND_LENGTH: return "length";
    case WEND_STOPPED: return "stopped";
    case WEND_CONTEXT_FULL: return "context full";
    case WEND_ERROR: return "error";
    }
    return "?";
}

/* The testing aid: a pause between generated tokens, so a test driving the screen can act
 * while an answer is being written. Sleeps in short slices and ends early on a stop. */
static void worker_test_delay(worker *w)
{
    for (int left = w->token_delay_ms; left > 0 && !atomic_load(&w->stop); left -= 5) {
        struct timespec ts = {0, (left < 5 ? left : 5) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void worker_event_drop(void *item)
{
    worker_event *ev = item;
    free(ev->text);
}

static double worker_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Queues ev; on allocation failure the event is lost and its text freed. A lost TOKEN event
 * is survivable; the UI can only hang on a lost DONE, which is why DONE carries no text
 * unless the decoder held some back. */
static void worker_emit(worker *w, worker_event *ev)
{
    if (queue_push(w->events, ev) != 0) free(ev->text);
}

static bool worker_cancel_hook(void *user)
{
    worker *w = user;
    return atomic_load_explicit(&w->stop, memory_order_relaxed);
}

static void worker_progress_hook(int32_t done, int32_t total, void *user)
{
    worker *w = user;
    if (!w->in_prompt) return; /* one event per generated token would only be noise */
    worker_event ev = {.kind = WEV_PROGRESS, .done = done, .total = total};
    worker_emit(w, &ev);
}

static void worker_error(worker *w, const char *msg)
{
    worker_event ev = {.kind = WEV_ERROR, .text = strdup(msg)};
    worker_emit(w, &ev);
}

/* Brings w->ctx back in line with the model after an eval of tokens[0..n) that may have
 * stopped part-way (the model keeps whole tokens only). */
static void worker_sync_ctx(worker *w, const int32_t *tokens, int32_t n)
{
    int32_t past = nt_model_n_past(w->m);
    int32_t added = past - (int32_t)w->ctx.n;
    if (added < 0) added = 0;
    if (added > n) added = n;
    nt_tokens_append(&w->ctx, tokens, (size_t)added);
}

/* ================================================================ stop filter ===== */

int worker_filter_init(worker_filter *f, const char *const *stop, size_t n)
{
    memset(f, 0, offsetof(worker_filter, fail));
    f->n_held = 0;
    f->held[0] = '\0';
    f->hit = false;
    if (n > WORKER_MAX_STOP || (n > 0 && !stop)) return NT_ERR_INVALID;
    for (size_t k = 0; k < n; k++) {
        size_t L = stop[k] ? strlen(stop[k]) : 0;
        if (L == 0 || L > WORKER_STOP_LEN - 1) {
            f->n_stop = 0;
            return NT_ERR_INVALID;
        }
        const unsigned char *P = (const unsigned char *)stop[k];
        uint8_t *fail = f->fail[k];
        fail[0] = 0;
        for (size_t i = 1; i < L; i++) {
            size_t j = fail[i - 1];
            while (j > 0 && P[i] != P[j]) j = fail[j - 1];
            if (P[i] == P[j]) j++;
            fail[i] = (uint8_t)j; /* j < L <= 255 */
        }
        f->stop[k] = stop[k];
        f->len[k] = (uint16_t)L;
        f->state[k] = 0;
    }
    f->n_stop = n;
    return NT_OK;
}

/* Bytes the UTF-8 sequence led by c takes (1 for ASCII and for bytes that lead nothing). */
static size_t worker_utf8_need(unsigned char c)
{
    return c >= 0xF0 && c <= 0xF7 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC0 && c <= 0xDF ? 2 : 1;
}

/* The byte at i of the text the filter sees: held[0..nh) followed by s. */
static unsigned char worker_filter_at(const worker_filter *f, size_t nh, const char *s, size_t i)
{
    return (unsigned char)(i < nh ? f->held[i] : s[i - nh]);
}

/* Copies bytes [from, to) of held[0..nh) + s to dst. */
static void worker_filter_copy(const worker_filter *f, size_t nh, const char *s, size_t from,
                               size_t to, char *dst)
{
    size_t a = from < nh ? nh - from : 0; /* bytes from held */
    if (a > to - from) a = to - from;
    memcpy(dst, f->held + from, a);
    size_t sfrom = from + a - nh;
    memcpy(dst + a, s + sfrom, to - from - a);
}

bool worker_filter_feed(worker_filter *f, const char *s, size_t n, char *out, size_t *out_len)
{
    if (f->hit) { /* nothing more comes out after a stop string */
        out[0] = '\0';
        if (out_len) *out_len = 0;
        return true;
    }
    size_t nh = f->n_held, total = nh + n;
    size_t emit = 0;
    /* Advance every automaton one byte at a time: the first byte at which any of them
     * completes is where the text first contains a stop string. */
    size_t end = 0, best = 0; /* the hit: it ends before byte `end` of s, its length */
    for (size_t i = 0; i < n && !best; i++) {
        const unsigned char c = (unsigned char)s[i];
        for (size_t k = 0; k < f->n_stop; k++) {
            const unsigned char *P = (const unsigned char *)f->stop[k];
            size_t q = f->state[k];
            while (q > 0 && P[q] != c) q = f->fail[k][q - 1];
            if (P[q] == c) q++;
            if (q == f->len[k] && q > best) best = q; /* the longer one starts earlier */
            f->state[k] = (uint16_t)q;
        }
        end = i + 1;
    }
    if (best) {
        /* Every state was at most n_held when the piece came (held keeps the longest), so
         * the match starts inside held + s. */
        emit = nh + end - best;
        worker_filter_copy(f, nh, s, 0, emit, out);
        out[emit] = '\0';
        f->hit = true;
        f->n_held = 0;
        f->held[0] = '\0';
        if (out_len) *out_len = emit;
        return true;
    }
    /* Hold back the longest end of the text that begins a stop string... */
    size_t keep = 0;
    for (size_t k = 0; k < f->n_stop; k++)
        if (f->state[k] > keep) keep = f->state[k];
    emit = total - keep;
    /* ...and a UTF-8 character cut short at the cut (pieces may split one). */
    for (size_t back = 1; back <= 4 && back <= emit; back++) {
        unsigned char c = worker_filter_at(f, nh, s, emit - back);
        if ((c & 0xC0) == 0x80) continue; /* a continuation byte: look further back */
        if (worker_utf8_need(c) > back) emit -= back;
        break;
    }
    worker_filter_copy(f, nh, s, 0, emit, out);
    out[emit] = '\0';
    /* The new held text is bytes [emit, total): at most WORKER_STOP_LEN - 2 + 3 bytes. */
    char tmp[sizeof f->held];
    worker_filter_copy(f, nh, s, emit, total, tmp);
    memcpy(f->held, tmp, total - emit);
    f->n_held = total - emit;
    f->held[f->n_held] = '\0';
    if (out_len) *out_len = emit;
    return false;
}

const char *worker_filter_held(const worker_filter *f, size_t *len)
{
    if (len) *len = f->n_held;
    return f->held;
}

/* Runs one job; always ends by filling *done (a DONE event, not yet queued). */
static void worker_run(worker *w, const worker_job *job, worker_event *done)
{
    nt_err err = {0};
    const int32_t *toks = job->tokens;
    int32_t n = job->n_tokens;
    int32_t keep = job->keep;
    double t0 = worker_now();

    done->kind = WEV_DONE;
    done->end = WEND_ERROR;

    if (keep < 0 || keep > (int32_t)w->ctx.n) {
        char msg[128];
        snprintf(msg, sizeof msg, "worker: job keeps %d tokens but the cache holds %zu", keep,
                 w->ctx.n);
        worker_error(w, msg);
        goto out;
    }
    /* Generating needs the logits after the last token: with nothing new to evaluate (a
     * regenerated answer over a fully cached prompt), evaluate the last cached token again. */
    int32_t reeval = 0;
    if (n == 0 && job->max_tokens > 0) {
        if (keep == 0) {
            worker_error(w, "worker: nothing to generate from (empty prompt)");
            goto out;
        }
        reeval = 1;
    }
    nt_model_rewind(w->m, keep - reeval);
    w->ctx.n = (size_t)(keep - reeval);
    if (reeval) {
        toks = &w->ctx.v[keep - 1]; /* still in the array: only n shrank */
        n = 1;
    }
    if ((int64_t)w->ctx.n + n > w->n_ctx) {
        done->end = WEND_CONTEXT_FULL;
        goto out;
    }
    if (n > 0) {
        /* toks may alias w->ctx.v: copy the id before the append can move it. */
        int32_t one = toks[0];
        if (reeval) toks = &one;
        w->in_prompt = true;
        int rc = nt_model_eval(w->m, toks, n, w->logits, &err);
        w->in_prompt = false;
        worker_sync_ctx(w, toks, n);
        done->n_prompt = (int32_t)w->ctx.n - (keep - reeval);
        if (rc == NT_ERR_CANCELLED) {
            done->end = WEND_STOPPED;
            done->prompt_sec = worker_now() - t0;
            goto out;
        }
        if (rc != NT_OK) {
            worker_error(w, err.msg);
            goto out;
        }
    }
    double t1 = worker_now();
    done->prompt_sec = t1 - t0;

    /* The answer. The sampler starts fresh from the job's parameters (seed included) and sees
     * the whole cached context as its penalty history, as llama.cpp's does; a replay of the
     * same conversation therefore samples the same tokens however much was cached. */
    nt_sampler_free(w->smp);
    w->smp = nt_sampler_init(&job->params, w->n_vocab);
    if (!w->smp) {
        worker_error(w, "worker: out of memory for the sampler");
        goto out;
    }
    for (size_t i = 0; i < w->ctx.n; i++) nt_sampler_accept(w->smp, w->ctx.v[i]);
    /* Changes made since the submit (even during the prompt) are reported at token 0. */
    uint64_t seen_gen;
    pthread_mutex_lock(&w->mu);
    seen_gen = w->job_gen;
    pthread_mutex_unlock(&w->mu);

    /* On this thread's stack: the filter's KMP tables take about 4.5 KiB. */
    worker_filter filt;
    if (worker_filter_init(&filt, job->stop, job->n_stop) != NT_OK) { /* checked by submit */
        worker_error(w, "worker: bad stop strings");
        goto out;
    }
    nt_tokenizer_stream ts;
    nt_tokenizer_stream_reset(&ts);
    /* An answer continues the cached text: its first token keeps its leading space (the
     * decoder drops it only at the very start of a text, or right after BOS). */
    if (w->ctx.n > 0) {
        ts.prev = w->ctx.v[w->ctx.n - 1];
        ts.ntok = 1;
    }

    for (int32_t i = 0;; i++) {
        if (atomic_load(&w->stop)) {
            done->end = WEND_STOPPED;
            break;
        }
        if (i >= job->max_tokens) {
            done->end = WEND_LENGTH;
            break;
        }
        pthread_mutex_lock(&w->mu);
        bool changed = w->live_gen != seen_gen;
        nt_sampler_params live = w->live;
        seen_gen = w->live_gen;
        pthread_mutex_unlock(&w->mu);
        if (changed) {
            nt_sampler_set_params(w->smp, &live);
            worker_event pe = {.kind = WEV_PARAMS, .index = i, .params = live};
            worker_emit(w, &pe);
        }

        int32_t id = nt_sampler_sample(w->smp, w->logits);
        nt_sampler_accept(w->smp, id);
        if (!job->ignore_eog && nt_tokenizer_is_eog(w->tok, id)) {
            done->end = WEND_EOG;
            break;
        }
        worker_event te = {.kind = WEV_TOKEN, .id = id, .index = i};
        /* A token's text can be long (byte-level vocabularies have pieces of 256 bytes); the
         * filter takes it whole and w->shown has room for it and the held-back text. */
        const size_t tl = nt_tokenizer_stream_feed(w->tok, &ts, id, w->piece, w->piece_cap);
        const bool hit = worker_filter_feed(&filt, w->piece, tl, w->shown, NULL);
        te.text = strdup(w->shown);
        if (!job->no_candidates) te.n_cand = nt_sampler_candidates(w->smp, te.cand, 10);
        worker_emit(w, &te);
        done->n_gen++;
        if (hit) {
            done->end = WEND_EOG;
            done->stop_text = true;
            break;
        }

        if (i + 1 >= job->max_tokens) {
            done->end = WEND_LENGTH; /* the last token is not evaluated: nobody needs it */
            break;
        }
        if ((int64_t)w->ctx.n + 1 > w->n_ctx) {
            done->end = WEND_CONTEXT_FULL;
            break;
        }
        if (w->token_delay_ms > 0) worker_test_delay(w);
        int rc = nt_model_eval(w->m, &id, 1, w->logits, &err);
        worker_sync_ctx(w, &id, 1);
        if (rc == NT_ERR_CANCELLED) {
            done->end = WEND_STOPPED;
            break;
        }
        if (rc != NT_OK) {
            worker_error(w, err.msg);
            done->end = WEND_ERROR;
            break;
        }
    }
    if (!done->stop_text) {
        /* What the filter and the decoder still hold belongs to the answer. */
        char tail[64];
        size_t nh, tl = nt_tokenizer_stream_flush(w->tok, &ts, tail, sizeof tail);
        const char *held = worker_filter_held(&filt, &nh);
        if (nh + tl > 0 && (done->text = malloc(nh + tl + 1))) {
            memcpy(done->text, held, nh);
            memcpy(done->text + nh, tail, tl);
            done->text[nh + tl] = '\0';
        }
    }
    done->gen_sec = worker_now() - t1;
out:
    done->n_past = (int32_t)w->ctx.n;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->quit && !w->has_job) pthread_cond_wait(&w->cv, &w->mu);
        if (w->quit) break;
        worker_job job = w->job;
        w->has_job = false;
        pthread_mutex_unlock(&w->mu);

        worker_event done = {0};
        worker_run(w, &job, &done);

        pthread_mutex_lock(&w->mu);
        /* Not busy before DONE is visible: a UI that submits on seeing DONE must succeed. The
         * worker only picks the next job after pushing this DONE, so events stay ordered. */
        w->busy = false;
        pthread_mutex_unlock(&w->mu);
        worker_emit(w, &done);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

worker *worker_init(nt_model *m, nt_err *err)
{
    worker *w = calloc(1, sizeof *w);
    if (!w) {
        nt_err_set(err, NT_ERR_NOMEM, "worker: out of memory");
        goto fail_alloc;
    }
    w->m = m;
    w->tok = nt_model_tokenizer(m);
    const nt_model_info *info = nt_model_get_info(m);
    w->n_vocab = info->n_vocab;
    w->n_ctx = info->n_ctx;
    w->live = nt_sampler_default_params();
    atomic_init(&w->stop, false);
    /* Read once: tests set it to act mid-answer (natter(1), ENVIRONMENT). */
    const char *delay = getenv("NATTER_TEST_TOKEN_DELAY_MS");
    if (delay) {
        long ms = strtol(delay, NULL, 10);
        w->token_delay_ms = ms < 0 ? 0 : ms > 10000 ? 10000 : (int)ms;
    }
    w->logits = malloc((size_t)w->n_vocab * sizeof *w->logits);
    w->piece_cap = 3 * nt_tokenizer_max_piece_len(w->tok) + 16;
    w->piece = malloc(w->piece_cap);
    w->shown = malloc(WORKER_FILTER_OUT(w->piece_cap));
    w->events = queue_init(sizeof(worker_event), worker_event_drop);
    if (!w->logits || !w->events || !w->piece || !w->shown) {
        nt_err_set(err, NT_ERR_NOMEM, "worker: out of memory");
        goto fail_mem;
    }
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        nt_err_set(err, NT_ERR_NOMEM, "worker: cannot create a mutex");
        goto fail_mem;
    }
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        nt_err_set(err, NT_ERR_NOMEM, "worker: cannot create a condition variable");
        goto fail_cv;
    }
    nt_model_hooks hooks = {.cancel = worker_cancel_hook, .progress = worker_progress_hook,
                         .user = w};
    nt_model_set_hooks(m, &hooks);
    w->ctx.n = 0;
    if (nt_model_n_past(m) > 0) nt_model_rewind(m, 0);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        nt_err_set(err, NT_ERR_NOMEM, "worker: cannot start the thread");
        goto fail_thread;
    }
    return w;
fail_thread:
    nt_model_set_hooks(m, &(nt_model_hooks){0});
    pthread_cond_destroy(&w->cv);
fail_cv:
    pthread_mutex_destroy(&w->mu);
fail_mem:
    queue_free(w->events);
    free(w->logits);
    free(w);
fail_alloc:
    nt_model_free(m);
    return NULL;
}

void worker_free(worker *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    atomic_store(&w->stop, true);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    queue_free(w->events);
    nt_sampler_free(w->smp);
    nt_tokens_free(&w->ctx);
    free(w->logits);
    free(w->piece);
    free(w->shown);
    free(w->job_tokens);
    nt_model_free(w->m);
    free(w);
}

int worker_wake_fd(const worker *w)
{
    return queue_fd(w->events);
}

const nt_model_info *worker_model_info(const worker *w)
{
    return nt_model_get_info(w->m);
}

const nt_tokenizer *worker_tokenizer(const worker *w)
{
    return w->tok;
}

const nt_gguf *worker_gguf(const worker *w)
{
    return nt_model_gguf(w->m);
}

int worker_submit(worker *w, const worker_job *job)
{
    if (job->n_tokens < 0 || job->keep < 0 || job->max_tokens < 0 ||
        (job->n_tokens > 0 && !job->tokens) || job->n_stop > WORKER_MAX_STOP ||
        (job->n_stop > 0 && !job->stop))
        return NT_ERR_INVALID;
    for (size_t k = 0; k < job->n_stop; k++) {
        size_t L = job->stop[k] ? strlen(job->stop[k]) : 0;
        if (L == 0 || L > WORKER_STOP_LEN - 1) return NT_ERR_INVALID;
    }
    int32_t *copy = NULL;
    if (job->n_tokens > 0) {
        copy = malloc((size_t)job->n_tokens * sizeof *copy);
        if (!copy) return NT_ERR_NOMEM;
        memcpy(copy, job->tokens, (size_t)job->n_tokens * sizeof *copy);
    }
    pthread_mutex_lock(&w->mu);
    if (w->busy) {
        pthread_mutex_unlock(&w->mu);
        free(copy);
        return NT_ERR_INVALID;
    }
    free(w->job_tokens); /* the previous job is over: nobody reads it any more */
    w->job_tokens = copy;
    w->job = *job;
    w->job.tokens = copy;
    for (size_t k = 0; k < job->n_stop; k++) {
        strcpy(w->stop_buf[k], job->stop[k]); /* length checked above */
        w->stop_ptr[k] = w->stop_buf[k];
    }
    w->job.stop = w->stop_ptr;
    w->live = job->params;
    w->live_gen++;
    w->job_gen = w->live_gen;
    w->busy = true;
    w->has_job = true;
    atomic_store(&w->stop, false);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NT_OK;
}

void worker_stop(worker *w)
{
    atomic_store(&w->stop, true);
}

void worker_set_params(worker *w, const nt_sampler_params *p)
{
    pthread_mutex_lock(&w->mu);
    w->live = *p;
    w->live_gen++;
    pthread_mutex_unlock(&w->mu);
}

bool worker_busy(worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool b = w->busy;
    pthread_mutex_unlock(&w->mu);
    return b;
}

bool worker_poll(worker *w, worker_event *ev)
{
    return queue_pop(w->events, ev);
}

bool worker_wait(worker *w, worker_event *ev, int timeout_ms)
{
    return queue_pop_wait(w->events, ev, timeout_ms);
}
