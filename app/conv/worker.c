/* worker.c — the inference thread (see worker.h).
 *
 * One thread waits on a condition variable for a job, runs it against the model it owns and
 * pushes events into a queue (queue.h) whose eventfd wakes the UI. The answer itself is the
 * generation loop's (gen.h): the worker's part is the prompt, the hooks that turn the loop's
 * tokens and parameter changes into events, and the thread. The UI talks to it through
 * three things only: the job slot (under the mutex), the live-parameter snapshot (under the
 * mutex, with a generation counter the worker compares once per token) and the stop flag (an
 * atomic, polled per token here and per layer by the model's cancel hook). */
#include "worker.h"
#include "mapguard.h"
#include "remote.h"
#include "util/queue.h"
#include "util/strbuf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct worker {
    nt_model *m;                  /* owned; NULL for a remote worker */
    remote *rm;                   /* owned; NULL for a local worker */
    nt_model_info rinfo;          /* a remote worker's model info */
    const nt_tokenizer *tok;      /* borrowed from m */
    int32_t n_ctx;
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
    atomic_bool wanted;        /* a job or quit is waiting: the idle hash gives way */
    bool hashed;               /* worker thread: the model's hash is read (worker_main) */
    int token_delay_ms;        /* NATTER_TEST_TOKEN_DELAY_MS: a testing aid, 0 = none */
    bool in_prompt;            /* worker thread only: progress is reported for prompts only */

    /* Worker-thread only. */
    gen_local src;             /* the model as the loop's source: its cache's ids, logits */
    /* The logits right after the last prompt evaluated, and the cache length they follow
     * (-1: none): a job that evaluates nothing new over exactly that prompt (another answer
     * to the same question: /regen, /ab) starts from them instead of evaluating the prompt's
     * last token again. Valid while the cache keeps its first saved_n ids (a rewind below
     * drops them). (n_vocab) */
    float *saved;
    int32_t saved_n;
    uint64_t seen_gen;         /* live_gen the running answer last took */
    /* The running job's stop strings, copied by worker_submit (job.stop points at stop_ptr).
     * A fixed 4 KiB: there is one worker, and the copy then cannot fail. */
    char stop_buf[GEN_MAX_STOP][GEN_STOP_LEN];
    const char *stop_ptr[GEN_MAX_STOP];
    /* A remote job's messages, copied by worker_submit: the array, then the texts. */
    nt_chat_msg *job_msgs;
    bool no_continue;          /* worker thread: the server refused a continuation once */
};

/* The testing aid: a pause between generated tokens, so a test driving the screen can act
 * while an answer is being written. Sleeps in short slices and ends early on a stop. */
static void worker_test_delay(void *user)
{
    worker *w = user;
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
    return atomic_load_explicit(&w->stop, memory_order_relaxed) || mapguard_tripped(w->m);
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

/* The loop's hooks (gen_hooks): the stop flag, the live parameters, and TOKEN events. */
static bool worker_gen_stop(void *user, int32_t i)
{
    worker *w = user;
    return atomic_load(&w->stop);
}

static void worker_note(worker *w, const char *msg)
{
    worker_event ev = {.kind = WEV_NOTE, .text = strdup(msg)};
    worker_emit(w, &ev);
}

/* A remote answer takes new settings by continuing through the text completions endpoint:
 * the conversation rendered by the chat template, then the answer so far. True when the
 * server now streams the continuation. */
static bool worker_remote_continue(worker *w, int32_t i, const nt_sampler_params *p)
{
    nt_err err = {0};
    if (w->no_continue) return false;
    remote_req q = {.params = *p, .stop = w->job.stop, .n_stop = w->job.n_stop,
                    .max_tokens = w->job.max_tokens > 0 ? w->job.max_tokens - i : 0,
                    .top_logprobs = w->job.no_candidates ? 0 : GEN_N_CAND};
    int rc = remote_continue_answer(w->rm, w->job_msgs, w->job.n_msgs, &q, &err);
    if (rc == NT_OK) return true;
    if (rc == NT_ERR_CANCELLED) return false;
    /* remote_continue's message says the settings wait for the next answer; remote_render's
     * does not. */
    char msg[sizeof err.msg + 64];
    snprintf(msg, sizeof msg, "%s%s", err.msg,
             strstr(err.msg, "next answer") ? "" : "; the new settings apply from the next answer");
    w->no_continue = true; /* one message per answer, and no more waiting on the server */
    worker_note(w, msg);
    return false;
}

static bool worker_gen_params(void *user, int32_t i, nt_sampler_params *p)
{
    worker *w = user;
    pthread_mutex_lock(&w->mu);
    bool changed = w->live_gen != w->seen_gen;
    *p = w->live;
    w->seen_gen = w->live_gen;
    pthread_mutex_unlock(&w->mu);
    if (changed && w->rm) changed = worker_remote_continue(w, i, p);
    if (changed) {
        worker_event pe = {.kind = WEV_PARAMS, .index = i, .params = *p};
        worker_emit(w, &pe);
    }
    return changed;
}

static int worker_gen_token(void *user, const gen_token *t, nt_err *err)
{
    worker *w = user;
    /* The token came from weights that turned to zeros mid-step: not shown. */
    if (w->m && mapguard_tripped(w->m)) return nt_err_set(err, NT_ERR_IO, "%s", MAPGUARD_MESSAGE);
    worker_event te = {.kind = WEV_TOKEN, .id = t->id, .index = t->index, .n_cand = t->n_cand,
                       .n_stages = t->n_stages};
    te.text = strdup(t->text);
    if (w->rm) {
        /* The loop's own candidates are the source's two-entry vocabulary: meaningless. The
         * server's, when it sent them, take their place. */
        remote_cands rc;
        te.n_stages = 0;
        te.n_cand = w->job.no_candidates ? 0 : remote_piece_cands(w->rm, &rc);
        for (int k = 0; k < te.n_cand; k++) {
            te.cand[k] = (nt_sampler_cand){.id = -1, .p_before = rc.p[k], .p_after = rc.p[k]};
            memcpy(te.cand_text[k], rc.text[k], GEN_CAND_TEXT);
        }
    } else {
        memcpy(te.cand, t->cand, sizeof te.cand);
        memcpy(te.stages, t->stages, sizeof te.stages);
    }
    worker_emit(w, &te);
    return NT_OK;
}

/* A beam's text, as a continuation of the context (the text the answer would have if it were
 * the winner, stop strings aside), into b. */
static void worker_beam_text(const nt_tokenizer *tok, const int32_t *ids, size_t n, strbuf *b)
{
    nt_tokenizer_stream ts;
    nt_tokenizer_stream_reset(&ts);
    ts.ntok = 1;
    ts.prev = -1;
    char piece[1024]; /* 3 × the longest piece (256 bytes) + 16: never cuts a token */
    for (size_t i = 0; i < n; i++) {
        size_t k = nt_tokenizer_stream_feed(tok, &ts, ids[i], piece, sizeof piece);
        strbuf_put(b, piece, k);
    }
    size_t k = nt_tokenizer_stream_flush(tok, &ts, piece, sizeof piece);
    strbuf_put(b, piece, k);
}

/* The last whole characters of s[0, n) that fit out[cap], line breaks and tabs as spaces. */
static void worker_tail(const char *s, size_t n, char *out, size_t cap)
{
    size_t from = n > cap - 1 ? n - (cap - 1) : 0;
    while (from < n && ((unsigned char)s[from] & 0xC0) == 0x80) from++; /* a character's start */
    size_t k = n - from;
    memcpy(out, s + from, k);
    out[k] = '\0';
    for (size_t i = 0; i < k; i++)
        if (out[i] == '\n' || out[i] == '\r' || out[i] == '\t') out[i] = ' ';
}

/* Beam search after a step: the best beam's whole text, and a row for each of the best live
 * beams, for the provisional answer and the probabilities view. */
static void worker_gen_beam(void *user, const gen_beam_view *v, int n_live, int n_done,
                            double best_done)
{
    worker *w = user;
    worker_event be = {.kind = WEV_BEAM, .index = n_live ? (int32_t)v[0].n : 0, .n_beams = n_live,
                       .beams_done = n_done, .best_done = best_done};
    for (int i = 0; i < n_live && i < WORKER_BEAM_ROWS; i++) {
        strbuf b = {0};
        worker_beam_text(w->tok, v[i].ids, v[i].n, &b);
        be.beams[i] = (worker_beam){.logp = v[i].logp, .n = (int32_t)v[i].n};
        worker_tail(b.s ? b.s : "", b.n, be.beams[i].tail, sizeof be.beams[i].tail);
        if (i == 0) be.text = strbuf_take(&b, NULL);
        else strbuf_free(&b);
    }
    if (!be.text) be.text = strdup("");
    worker_emit(w, &be);
}

/* A remote job: the request, then the same loop over the server's pieces. */
static void worker_run_remote(worker *w, const worker_job *job, worker_event *done)
{
    nt_err err = {0};
    double t0 = worker_now();
    done->kind = WEV_DONE;
    done->end = GEN_END_ERROR;
    w->no_continue = false;
    remote_req q = {.msgs = job->msgs, .n_msgs = job->n_msgs, .params = job->params,
                    .max_tokens = job->max_tokens, .stop = job->stop, .n_stop = job->n_stop,
                    .top_logprobs = job->no_candidates ? 0 : GEN_N_CAND};
    int rc = remote_start(w->rm, &q, &err);
    double t1 = worker_now();
    done->prompt_sec = t1 - t0;
    if (rc == NT_ERR_CANCELLED) {
        done->end = GEN_END_STOPPED;
        return;
    }
    if (rc != NT_OK) {
        worker_error(w, err.msg);
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->seen_gen = w->job_gen;
    pthread_mutex_unlock(&w->mu);
    /* The server counts max_tokens in its tokens; a piece is one of them or more, so its
     * limit comes first and says so (finish_reason "length"). */
    gen_opts go = {.params = job->params, .max_tokens = job->max_tokens > 0 ? job->max_tokens : INT32_MAX,
                   .ignore_eog = false, .candidates = !job->no_candidates,
                   .stop = job->stop, .n_stop = job->n_stop};
    gen_hooks gh = {.user = w, .stop = worker_gen_stop, .params = worker_gen_params,
                    .token = worker_gen_token};
    gen_source gs = remote_source(w->rm);
    gen_result res;
    if (gen_run(&gs, &go, &gh, &res, &err) != NT_OK) worker_error(w, err.msg);
    int32_t up, uc;
    if (remote_usage(w->rm, &up, &uc)) {
        done->n_prompt = up;
        done->n_past = up + uc;
    }
    remote_end(w->rm);
    done->end = res.end;
    done->stop_text = res.stop_text;
    done->n_gen = res.n_gen;
    done->text = res.tail;
    done->gen_sec = worker_now() - t1;
}

/* Runs one job; always ends by filling *done (a DONE event, not yet queued). */
static void worker_run(worker *w, const worker_job *job, worker_event *done)
{
    if (w->rm) {
        worker_run_remote(w, job, done);
        return;
    }
    nt_err err = {0};
    gen_local *src = &w->src;
    const int32_t *toks = job->tokens;
    int32_t n = job->n_tokens;
    int32_t keep = job->keep;
    double t0 = worker_now();

    done->kind = WEV_DONE;
    done->end = GEN_END_ERROR;
    if (mapguard_tripped(w->m)) {
        worker_error(w, MAPGUARD_MESSAGE);
        goto out;
    }

    if (keep < 0 || keep > (int32_t)src->ctx.n) {
        char msg[128];
        snprintf(msg, sizeof msg, "worker: job keeps %d tokens but the cache holds %zu", keep,
                 src->ctx.n);
        worker_error(w, msg);
        goto out;
    }
    /* Generating needs the logits after the last token: with nothing new to evaluate (a
     * regenerated answer over a fully cached prompt), evaluate the last cached token again. */
    int32_t reeval = 0, last = 0;
    bool from_saved = false;
    if (n == 0 && job->max_tokens > 0 && keep == w->saved_n) {
        from_saved = true; /* the prompt's logits are kept: nothing to evaluate */
    } else if (n == 0 && job->max_tokens > 0) {
        if (keep == 0) {
            worker_error(w, "worker: nothing to generate from (empty prompt)");
            goto out;
        }
        reeval = 1;
        last = src->ctx.v[keep - 1]; /* a copy: the eval appends to the array it sits in */
        toks = &last;
        n = 1;
    }
    gen_local_rewind(src, keep - reeval);
    if (w->saved_n > keep - reeval) w->saved_n = -1; /* the ids they followed are gone */
    if (from_saved) memcpy(src->logits, w->saved, (size_t)src->n_vocab * sizeof *w->saved);
    if ((int64_t)src->ctx.n + n > w->n_ctx) {
        done->end = GEN_END_CONTEXT_FULL;
        goto out;
    }
    if (n > 0) {
        w->in_prompt = true;
        int rc = gen_local_eval(src, toks, n, &err);
        w->in_prompt = false;
        done->n_prompt = (int32_t)src->ctx.n - (keep - reeval);
        if (mapguard_tripped(w->m)) {
            worker_error(w, MAPGUARD_MESSAGE);
            goto out;
        }
        if (rc == NT_ERR_CANCELLED) {
            done->end = GEN_END_STOPPED;
            done->prompt_sec = worker_now() - t0;
            goto out;
        }
        if (rc != NT_OK) {
            worker_error(w, err.msg);
            goto out;
        }
        /* A prompt that is answered (not a conversation read back with nothing to write:
         * that leaves the kept logits of the question before it, still valid). */
        if (job->max_tokens > 0) {
            memcpy(w->saved, src->logits, (size_t)src->n_vocab * sizeof *w->saved);
            w->saved_n = (int32_t)src->ctx.n;
        }
    }
    double t1 = worker_now();
    done->prompt_sec = t1 - t0;

    /* Changes made since the submit (even during the prompt) are reported at token 0. */
    pthread_mutex_lock(&w->mu);
    w->seen_gen = w->job_gen;
    pthread_mutex_unlock(&w->mu);
    gen_opts go = {.params = job->params, .max_tokens = job->max_tokens,
                   .ignore_eog = job->ignore_eog, .candidates = !job->no_candidates,
                   .stop = job->stop, .n_stop = job->n_stop};
    gen_hooks gh = {.user = w, .stop = worker_gen_stop, .params = worker_gen_params,
                    .token = worker_gen_token, .beam = worker_gen_beam};
    gen_source gs = gen_local_source(src);
    gen_result res;
    if (gen_run(&gs, &go, &gh, &res, &err) != NT_OK) {
        worker_error(w, err.msg);
    } else if (mapguard_tripped(w->m)) {
        /* The zeros may have sampled an end of generation, which no hook sees. */
        worker_error(w, MAPGUARD_MESSAGE);
        res.end = GEN_END_ERROR;
    }
    done->end = res.end;
    done->stop_text = res.stop_text;
    done->n_gen = res.n_gen;
    done->text = res.tail; /* the DONE event owns it now */
    done->gen_sec = worker_now() - t1;
out:
    done->n_past = (int32_t)src->ctx.n;
}

static bool worker_hash_stop(void *user)
{
    return atomic_load(&((worker *)user)->wanted);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->quit && !w->has_job) {
            /* Idle with a model whose hash is not read yet: read it now, so that the first
             * autosave (which records it) does not wait, and the weights page in meanwhile
             * rather than before the screen. A job or quit interrupts it (it starts over at
             * the next idle moment). */
            if (w->m && !w->hashed) {
                pthread_mutex_unlock(&w->mu);
                uint64_t h;
                w->hashed = nt_gguf_model_hash_until(nt_model_gguf(w->m), worker_hash_stop, w, &h);
                pthread_mutex_lock(&w->mu);
                continue;
            }
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (w->quit) break;
        worker_job job = w->job;
        w->has_job = false;
        atomic_store(&w->wanted, false);
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

/* Frees what a worker owns besides its thread, mutex and condition variable (which
 * worker_launch and worker_free take care of). */
static void worker_release(worker *w)
{
    queue_free(w->events);
    gen_local_free(&w->src);
    free(w->saved);
    free(w->job_tokens);
    free(w->job_msgs);
    nt_model_free(w->m);
    remote_free(w->rm);
    free(w);
}

/* The part of set-up both kinds share: the queue, the lock, the thread. Frees w on failure. */
static worker *worker_launch(worker *w, nt_err *err)
{
    w->live = nt_sampler_default_params();
    atomic_init(&w->stop, false);
    atomic_init(&w->wanted, false);
    w->events = queue_init(sizeof(worker_event), worker_event_drop);
    if (!w->events) {
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
    if (w->m) {
        nt_model_hooks hooks = {.cancel = worker_cancel_hook, .progress = worker_progress_hook,
                                .user = w};
        nt_model_set_hooks(w->m, &hooks);
        mapguard_watch(w->m);
    }
    if (w->rm) remote_set_cancel(w->rm, worker_cancel_hook, w);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        nt_err_set(err, NT_ERR_NOMEM, "worker: cannot start the thread");
        goto fail_thread;
    }
    return w;
fail_thread:
    if (w->m) {
        mapguard_unwatch(w->m);
        nt_model_set_hooks(w->m, &(nt_model_hooks){0});
    }
    pthread_cond_destroy(&w->cv);
fail_cv:
    pthread_mutex_destroy(&w->mu);
fail_mem:
    worker_release(w);
    return NULL;
}

worker *worker_init(nt_model *m, nt_err *err)
{
    worker *w = calloc(1, sizeof *w);
    if (!w) {
        nt_err_set(err, NT_ERR_NOMEM, "worker: out of memory");
        nt_model_free(m);
        return NULL;
    }
    w->m = m;
    w->tok = nt_model_tokenizer(m);
    w->n_ctx = nt_model_get_info(m)->n_ctx;
    /* Read once: tests set it to act mid-answer (natter(1), ENVIRONMENT). */
    const char *delay = getenv("NATTER_TEST_TOKEN_DELAY_MS");
    if (delay) {
        long ms = strtol(delay, NULL, 10);
        w->token_delay_ms = ms < 0 ? 0 : ms > 10000 ? 10000 : (int)ms;
    }
    w->saved_n = -1;
    if (gen_local_init(&w->src, m, err) != NT_OK ||
        !(w->saved = malloc((size_t)w->src.n_vocab * sizeof *w->saved))) {
        nt_err_set(err, NT_ERR_NOMEM, "worker: out of memory");
        worker_release(w);
        return NULL;
    }
    if (w->token_delay_ms > 0) {
        w->src.before_eval = worker_test_delay;
        w->src.user = w;
    }
    return worker_launch(w, err);
}

worker *worker_init_remote(remote *r, nt_err *err)
{
    worker *w = calloc(1, sizeof *w);
    if (!w) {
        nt_err_set(err, NT_ERR_NOMEM, "worker: out of memory");
        remote_free(r);
        return NULL;
    }
    w->rm = r;
    w->rinfo.arch = "remote";
    w->rinfo.name = remote_model(r);
    return worker_launch(w, err);
}

remote *worker_remote(worker *w)
{
    return w->rm;
}

void worker_free(worker *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    atomic_store(&w->wanted, true);
    atomic_store(&w->stop, true);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    if (w->m) mapguard_unwatch(w->m);
    worker_release(w);
}

int worker_wake_fd(const worker *w)
{
    return queue_fd(w->events);
}

const nt_model_info *worker_model_info(const worker *w)
{
    if (w->m) return nt_model_get_info(w->m);
    /* The remote's model name changes with /model (remote_set_model): read it afresh. The info
     * is the worker's own cache of it, hence the cast. */
    ((worker *)w)->rinfo.name = remote_model(w->rm);
    return &w->rinfo;
}

const nt_tokenizer *worker_tokenizer(const worker *w)
{
    return w->tok;
}

const nt_gguf *worker_gguf(const worker *w)
{
    return w->m ? nt_model_gguf(w->m) : NULL;
}

int worker_submit(worker *w, const worker_job *job)
{
    if (job->n_tokens < 0 || job->keep < 0 || job->max_tokens < 0 ||
        (job->n_tokens > 0 && !job->tokens) || !gen_stops_valid(job->stop, job->n_stop))
        return NT_ERR_INVALID;
    if ((w->rm != NULL) != (job->n_msgs > 0 && job->msgs != NULL)) return NT_ERR_INVALID;
    int32_t *copy = NULL;
    if (job->n_tokens > 0) {
        copy = malloc((size_t)job->n_tokens * sizeof *copy);
        if (!copy) return NT_ERR_NOMEM;
        memcpy(copy, job->tokens, (size_t)job->n_tokens * sizeof *copy);
    }
    nt_chat_msg *msgs = NULL;
    if (job->n_msgs > 0) { /* one block: the array, then the texts */
        size_t bytes = job->n_msgs * sizeof *msgs;
        for (size_t k = 0; k < job->n_msgs; k++) bytes += strlen(job->msgs[k].content) + 1;
        msgs = malloc(bytes);
        if (!msgs) {
            free(copy);
            return NT_ERR_NOMEM;
        }
        char *at = (char *)(msgs + job->n_msgs);
        for (size_t k = 0; k < job->n_msgs; k++) {
            size_t n = strlen(job->msgs[k].content) + 1;
            memcpy(at, job->msgs[k].content, n);
            msgs[k] = (nt_chat_msg){job->msgs[k].role, at};
            at += n;
        }
    }
    pthread_mutex_lock(&w->mu);
    if (w->busy) {
        pthread_mutex_unlock(&w->mu);
        free(copy);
        free(msgs);
        return NT_ERR_INVALID;
    }
    free(w->job_tokens); /* the previous job is over: nobody reads it any more */
    free(w->job_msgs);
    w->job_tokens = copy;
    w->job_msgs = msgs;
    w->job = *job;
    w->job.tokens = copy;
    w->job.msgs = msgs;
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
    atomic_store(&w->wanted, true);
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
