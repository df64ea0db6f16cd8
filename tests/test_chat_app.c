/* Tests for app/conv/chat.c and app/conv/worker.c together: prefix reuse across turns (a second turn
 * evaluates only its new tokens, and gives the same answer as evaluating the whole prompt from
 * scratch), regeneration over the cached prompt, undo/edit, the context-full policy, stop,
 * live parameters, stop strings and a full KV cache. Uses the stories260K fixture (a real
 * trained model); skips when the fixtures are absent. */
#include "conv/chat.h"
#include "cmd/cli.h"
#include "conv/persona.h"
#include "conv/session.h"
#include "conv/worker.h"
#include "natter.h"
#include "t.h"
#include "t_models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORIES "models/stories260K.gguf"

static nt_sampler_params greedy(void)
{
    nt_sampler_params p = nt_sampler_default_params();
    p.temperature = 0;
    return p;
}

/* Feeds every event of the running job to c (if not NULL) until DONE, which is returned. */
static worker_event run_to_done(worker *w, chat *c)
{
    for (;;) {
        worker_event ev;
        if (!worker_wait(w, &ev, 30000)) {
            t_fail(__FILE__, __LINE__, "no event from the worker within 30 s");
            return (worker_event){.kind = WEV_DONE, .end = GEN_END_ERROR};
        }
        if (c) chat_apply(c, &ev);
        free(ev.text);
        ev.text = NULL;
        if (ev.kind == WEV_DONE) return ev;
    }
}

/* Prepares, submits and runs the answer to the last question; returns DONE. */
static worker_event answer(worker *w, chat *c, const nt_sampler_params *p, int32_t max,
                           worker_job *job_out)
{
    worker_job job;
    nt_err e = {0};
    if (chat_prepare(c, p, max, &job, NULL, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "chat_prepare: %s", e.msg);
        return (worker_event){.kind = WEV_DONE, .end = GEN_END_ERROR};
    }
    if (job_out) *job_out = job;
    if (worker_submit(w, &job) != NT_OK) {
        t_fail(__FILE__, __LINE__, "worker_submit failed");
        return (worker_event){.kind = WEV_DONE, .end = GEN_END_ERROR};
    }
    return run_to_done(w, c);
}

static const chat_turn *last_turn(const chat *c)
{
    return chat_turn_at(c, chat_n_turns(c) - 1);
}

static void test_prefix_reuse(void)
{
    worker *w = t_stories_worker(512);
    if (!w) T_SKIP("fixture %s absent", STORIES);
    chat *c = chat_init(worker_tokenizer(w), NT_CHAT_PLAIN, 512);
    T_ASSERT(c);
    nt_sampler_params p = greedy();
    worker_job job;

    T_EQ_INT(chat_add_user(c, "Once upon a time"), NT_OK);
    worker_event d = answer(w, c, &p, 20, &job);
    T_EQ_INT(job.keep, 0);
    T_CHECK(job.n_tokens > 5);
    T_EQ_INT(d.end, GEN_END_LENGTH);
    T_EQ_INT(d.n_gen, 20);
    T_EQ_INT(d.n_past, job.n_tokens + 19); /* the last answer token is not evaluated */
    T_EQ_INT(chat_cache(c)->n, d.n_past);
    T_EQ_INT(last_turn(c)->tokens.n, 20);
    T_CHECK(last_turn(c)->complete);
    T_CHECK(strlen(last_turn(c)->text) > 10);

    /* Turn two: everything cached is reused, only the new question's tokens are evaluated. */
    size_t cached = chat_cache(c)->n;
    T_EQ_INT(chat_add_user(c, "Lily"), NT_OK);
    nt_err e = {0};
    T_ASSERT(chat_prepare(c, &p, 20, &job, NULL, &e) == NT_OK);
    T_EQ_INT(job.keep, cached);
    /* "\nUser: Lily\nAssistant:" is 15 tokens here, plus the answer's last token, which
     * generation never evaluates. */
    T_CHECK(job.n_tokens > 0 && job.n_tokens <= 16);
    /* The whole prompt, for the reference run below. */
    nt_tokens full = {0};
    nt_tokens_append(&full, chat_cache(c)->v, (size_t)job.keep);
    nt_tokens_append(&full, job.tokens, (size_t)job.n_tokens);
    T_ASSERT(worker_submit(w, &job) == NT_OK);
    d = run_to_done(w, c);
    T_EQ_INT(d.n_prompt, job.n_tokens);
    const chat_turn *a2 = last_turn(c);

    /* Reference: a fresh worker evaluates the whole prompt at once; greedy, same answer. */
    worker *w2 = t_stories_worker(512);
    T_ASSERT(w2);
    worker_job ref = {.keep = 0, .tokens = full.v, .n_tokens = (int32_t)full.n,
                      .max_tokens = 20, .params = p};
    T_ASSERT(worker_submit(w2, &ref) == NT_OK);
    nt_tokens ref_ids = {0};
    for (;;) {
        worker_event ev;
        T_ASSERT(worker_wait(w2, &ev, 30000));
        if (ev.kind == WEV_TOKEN) nt_tokens_push(&ref_ids, ev.id);
        free(ev.text);
        if (ev.kind == WEV_DONE) break;
    }
    T_EQ_INT(ref_ids.n, a2->tokens.n);
    size_t same = 0;
    while (same < ref_ids.n && same < a2->tokens.n && ref_ids.v[same] == a2->tokens.v[same])
        same++;
    T_EQ_INT(same, ref_ids.n);
    nt_tokens_free(&ref_ids);
    nt_tokens_free(&full);
    worker_free(w2);
    chat_free(c);
    worker_free(w);
}

static void test_regen(void)
{
    worker *w = t_stories_worker(512);
    if (!w) T_SKIP("fixture %s absent", STORIES);
    chat *c = chat_init(worker_tokenizer(w), NT_CHAT_PLAIN, 512);
    T_ASSERT(c);
    nt_sampler_params p = greedy();
    worker_job job;
    T_EQ_INT(chat_regen(c), NT_ERR_INVALID); /* nothing to regenerate yet */
    chat_add_user(c, "Once upon a time");
    answer(w, c, &p, 16, &job);
    int32_t prompt_n = job.n_tokens;
    nt_tokens first = {0};
    nt_tokens_append(&first, last_turn(c)->tokens.v, last_turn(c)->tokens.n);
    char *first_text = strdup(last_turn(c)->text);

    /* Regenerating reuses the cached prompt whole: nothing is read again, the worker starts
     * from the logits it kept after the prompt (and the greedy answer is the same). */
    T_EQ_INT(chat_regen(c), NT_OK);
    T_EQ_INT(chat_n_turns(c), 1);
    worker_event d = answer(w, c, &p, 16, &job);
    T_EQ_INT(job.keep, prompt_n);
    T_EQ_INT(job.n_tokens, 0);
    T_EQ_INT(d.n_prompt, 0);
    T_EQ_STR(last_turn(c)->text, first_text);
    T_EQ_INT(last_turn(c)->tokens.n, first.n);

    /* Sampling with a seed is reproducible across regenerations. */
    nt_sampler_params s = nt_sampler_default_params();
    s.seed = 1234;
    T_EQ_INT(chat_regen(c), NT_OK);
    answer(w, c, &s, 24, NULL);
    char *sampled = strdup(last_turn(c)->text);
    T_EQ_INT(chat_regen(c), NT_OK);
    answer(w, c, &s, 24, NULL);
    T_EQ_STR(last_turn(c)->text, sampled);
    T_EQ_INT(last_turn(c)->params.seed, 1234);
    /* After another question was answered, the logits kept are that prompt's: going back
     * to the first answer (the branch before it) evaluates the prompt's last token again,
     * and the answer is the same as from the kept logits. */
    T_EQ_INT(chat_add_user(c, "Lily"), NT_OK);
    answer(w, c, &p, 8, NULL);
    T_EQ_INT(chat_switch(c, 1, 0), NT_OK); /* the first answer; "Lily" stays below the other */
    T_EQ_INT(chat_regen(c), NT_OK);
    d = answer(w, c, &s, 24, &job);
    T_EQ_INT(job.n_tokens, 0);
    T_EQ_INT(d.n_prompt, 1);
    T_EQ_STR(last_turn(c)->text, sampled);
    T_EQ_INT(chat_n_nodes(c), 8); /* Q, 5 answers, Lily and its answer */
    free(sampled);
    free(first_text);
    nt_tokens_free(&first);
    chat_free(c);
    worker_free(w);
}

static void test_undo_edit(void)
{
    worker *w = t_stories_worker(512);
    if (!w) T_SKIP("fixture %s absent", STORIES);
    chat *c = chat_init(worker_tokenizer(w), NT_CHAT_PLAIN, 512);
    T_ASSERT(c);
    nt_sampler_params p = greedy();
    nt_err e = {0};
    worker_job job;
    T_EQ_INT(chat_prepare(c, &p, 8, &job, NULL, &e), NT_ERR_INVALID); /* no question */
    T_EQ_INT(chat_undo(c), NT_ERR_INVALID);
    T_CHECK(chat_edit(c) == NULL);
    chat_add_user(c, "Once upon a time");
    T_EQ_INT(chat_add_user(c, "again"), NT_ERR_INVALID); /* unanswered question */
    answer(w, c, &p, 8, NULL);
    size_t cached_after_one = chat_cache(c)->n;
    chat_add_user(c, "Lily");
    answer(w, c, &p, 8, NULL);
    size_t cached_after_two = chat_cache(c)->n;
    T_EQ_INT(chat_n_turns(c), 4);

    T_EQ_INT(chat_undo(c), NT_OK);
    T_EQ_INT(chat_n_turns(c), 2);
    /* After undo, a new question still reuses the first exchange from the cache (and the
     * "\nUser:" the undone question had put after it), but nothing of the undone question. */
    chat_add_user(c, "Tim");
    T_ASSERT(chat_prepare(c, &p, 8, &job, NULL, &e) == NT_OK);
    T_CHECK((size_t)job.keep >= cached_after_one);
    T_CHECK((size_t)job.keep < cached_after_two - 8);
    T_ASSERT(worker_submit(w, &job) == NT_OK);
    run_to_done(w, c);

    char *q = chat_edit(c);
    T_EQ_STR(q, "Tim");
    free(q);
    T_EQ_INT(chat_n_turns(c), 2);
    chat_clear(c);
    T_EQ_INT(chat_n_turns(c), 0);
    chat_free(c);
    worker_free(w);
}

/* Decodes ids to text (for looking at what a prompt says). */
static char *decode(const nt_tokenizer *t, const int32_t *ids, size_t n)
{
    size_t cap = n * 64 + 1, len = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) {
        int k = nt_tokenizer_token_bytes(t, ids[i], s + len, cap - len - 1);
        if (k > 0) len += (size_t)k;
    }
    s[len] = '\0';
    return s;
}

/* What job makes the model read: the cached tokens it keeps, then its new ones. They must
 * start with BOS; returns the rest decoded (malloc'd), or NULL after a failed check. */
static char *prompt_text(const chat *c, const nt_tokenizer *tok, const worker_job *job)
{
    nt_tokens full = {0};
    nt_tokens_append(&full, chat_cache(c)->v, (size_t)job->keep);
    nt_tokens_append(&full, job->tokens, (size_t)job->n_tokens);
    char *text = NULL;
    T_CHECK(full.n > 1);
    if (full.n > 1) {
        T_EQ_INT(full.v[0], nt_tokenizer_bos(tok));
        text = decode(tok, full.v + 1, full.n - 1);
    }
    nt_tokens_free(&full);
    return text;
}

/* Applies to c what the worker sends when the model answers words to a prompt of prompt_n
 * tokens: a TOKEN event a word, then DONE (the last token is sampled, never evaluated).
 * Returns DONE's n_past. */
static int32_t fake_answer(chat *c, const nt_tokenizer *tok, const nt_tokens *words, int32_t prompt_n)
{
    for (size_t k = 0; k < words->n; k++) {
        char piece[64];
        int n = nt_tokenizer_token_bytes(tok, words->v[k], piece, sizeof piece - 1);
        piece[n > 0 ? n : 0] = '\0';
        worker_event ev = {.kind = WEV_TOKEN, .id = words->v[k], .index = (int32_t)k,
                           .text = piece};
        chat_apply(c, &ev);
    }
    worker_event done = {.kind = WEV_DONE, .end = GEN_END_LENGTH,
                         .n_past = prompt_n + (int32_t)words->n - 1};
    chat_apply(c, &done);
    return done.n_past;
}

/* The context-full policy, driven by synthetic worker events (only the tokenizer is needed):
 * the oldest exchanges go, the system prompt and the newest question stay. */
static void test_context_full(void)
{
    const char *path = t_fixture(STORIES);
    if (!path) T_SKIP("fixture %s absent", STORIES);
    nt_gguf *g = NULL;
    nt_tokenizer *tok = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&g, path, &e) == NT_OK);
    T_ASSERT(nt_tokenizer_load(&tok, g, &e) == NT_OK);
    const int32_t n_ctx = 96;
    chat *c = chat_init(tok, NT_CHAT_PLAIN, n_ctx);
    T_ASSERT(c);
    T_EQ_INT(chat_set_system(c, "Be kind."), NT_OK);
    nt_tokens words = {0};
    T_ASSERT(nt_tokenizer_encode(tok, " and they played in the park", 28, 0, &words, &e) == NT_OK);
    nt_sampler_params p = greedy();
    int dropped_total = 0;
    for (int i = 0; i < 8; i++) {
        char q[64];
        snprintf(q, sizeof q, "Question %d: tell me about a cat and a dog", i);
        T_ASSERT(chat_add_user(c, q) == NT_OK);
        worker_job job;
        int dropped = -1;
        T_ASSERT(chat_prepare(c, &p, 8, &job, &dropped, &e) == NT_OK);
        dropped_total += dropped;
        int32_t prompt_n = job.keep + job.n_tokens;
        T_CHECK(prompt_n + 8 <= n_ctx);
        /* What the prompt says: the system prompt first, this question, no dropped one. */
        char *text = prompt_text(c, tok, &job);
        T_ASSERT(text);
        T_CHECK(strncmp(text, " System: Be kind.\n\n", 19) == 0);
        T_CHECK(strstr(text, q) != NULL);
        for (size_t k = 0; k < chat_first_turn(c); k++) {
            const chat_turn *t = chat_turn_at(c, k);
            if (t->role == NT_ROLE_USER) T_CHECK(strstr(text, t->text) == NULL);
        }
        free(text);
        int32_t n_past = fake_answer(c, tok, &words, prompt_n);
        T_EQ_INT(chat_cache(c)->n, n_past);
        T_EQ_INT(chat_cache(c)->v[prompt_n], words.v[0]);
    }
    T_CHECK(dropped_total > 0);
    T_CHECK(chat_first_turn(c) > 0);
    T_EQ_INT(chat_first_turn(c) % 2, 0); /* whole exchanges are dropped */
    T_EQ_INT(chat_n_turns(c), 16);       /* the history keeps everything */

    /* A question longer than the whole context cannot be asked. */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (size_t i = 0; i < sizeof big - 1; i += 5) big[i] = ' ';
    T_ASSERT(chat_add_user(c, big) == NT_OK);
    worker_job job;
    T_EQ_INT(chat_prepare(c, &p, 8, &job, NULL, &e), NT_ERR_CONTEXT_FULL);
    T_CHECK(strstr(e.msg, "context") != NULL);
    nt_tokens_free(&words);
    chat_free(c);
    nt_tokenizer_free(tok);
    nt_gguf_close(g);
}

/* chat_set_memory: with a limit of n, each prompt holds the system prompt, at most the n
 * latest exchanges and the question, however much room the context has; those turns leave
 * without being counted as dropped; a re-read keeps the n latest exchanges; -1 lifts it. */
static void test_memory(void)
{
    const char *path = t_fixture(STORIES);
    if (!path) T_SKIP("fixture %s absent", STORIES);
    nt_gguf *g = NULL;
    nt_tokenizer *tok = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&g, path, &e) == NT_OK);
    T_ASSERT(nt_tokenizer_load(&tok, g, &e) == NT_OK);
    chat *c = chat_init(tok, NT_CHAT_PLAIN, 512);
    T_ASSERT(c);
    T_EQ_INT(chat_set_system(c, "Be kind."), NT_OK);
    nt_tokens words = {0};
    T_ASSERT(nt_tokenizer_encode(tok, " a cat", 6, 0, &words, &e) == NT_OK);
    nt_sampler_params p = greedy();
    for (long mem = 0; mem <= 2; mem++) {
        chat_clear(c);
        chat_set_memory(c, mem);
        for (int i = 0; i < 5; i++) {
            char q[64];
            snprintf(q, sizeof q, "Question %d", i);
            T_ASSERT(chat_add_user(c, q) == NT_OK);
            worker_job job;
            int dropped = -1;
            T_ASSERT(chat_prepare(c, &p, 8, &job, &dropped, &e) == NT_OK);
            T_EQ_INT(dropped, 0);
            const long kept = i < mem ? i : mem;
            T_EQ_INT(chat_first_turn(c), (size_t)(2 * (i - kept)));
            char *text = prompt_text(c, tok, &job);
            T_ASSERT(text);
            T_CHECK(strncmp(text, " System: Be kind.\n\n", 19) == 0);
            for (int k = 0; k <= i; k++) {
                snprintf(q, sizeof q, "Question %d", k);
                if ((strstr(text, q) != NULL) != (k >= i - kept))
                    t_fail(__FILE__, __LINE__, "memory %ld, turn %d: question %d %s the prompt",
                           mem, i, k, k >= i - kept ? "missing from" : "left in");
            }
            free(text);
            fake_answer(c, tok, &words, job.keep + job.n_tokens);
        }
        /* A re-read (after /load or --resume) keeps the latest mem exchanges. */
        worker_job job;
        T_ASSERT(chat_prepare_reread(c, &job, &e) == NT_OK);
        T_EQ_INT(chat_first_turn(c), (size_t)(10 - 2 * mem));
        worker_event done = {.kind = WEV_DONE, .end = GEN_END_EOG, .n_past = 0};
        chat_apply(c, &done); /* the re-read is over (nothing cached) */
    }
    chat_clear(c);
    chat_set_memory(c, -1);
    for (int i = 0; i < 4; i++) {
        T_ASSERT(chat_add_user(c, "Again") == NT_OK);
        worker_job job;
        T_ASSERT(chat_prepare(c, &p, 8, &job, NULL, &e) == NT_OK);
        T_EQ_INT(chat_first_turn(c), 0);
        fake_answer(c, tok, &words, job.keep + job.n_tokens);
    }
    nt_tokens_free(&words);
    chat_free(c);
    nt_tokenizer_free(tok);
    nt_gguf_close(g);
}

/* A persona's fixed part: the system prompt, the example turns and the greeting come before
 * the conversation in that order, and the context-full policy drops the oldest real turns but
 * never the fixed part. */
static void test_persona_prefix(void)
{
    const char *path = t_fixture(STORIES);
    if (!path) T_SKIP("fixture %s absent", STORIES);
    nt_gguf *g = NULL;
    nt_tokenizer *tok = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&g, path, &e) == NT_OK);
    T_ASSERT(nt_tokenizer_load(&tok, g, &e) == NT_OK);
    const int32_t n_ctx = 160;
    chat *c = chat_init(tok, NT_CHAT_PLAIN, n_ctx);
    T_ASSERT(c);
    const nt_chat_msg prefix[] = {
        {NT_ROLE_SYSTEM, "Be kind."},
        {NT_ROLE_USER, "Who is Tim?"},
        {NT_ROLE_ASSISTANT, "Tim is a boy."},
        {NT_ROLE_USER, "Who is Sue?"},
        {NT_ROLE_ASSISTANT, "Sue is a girl."},
    };
    T_EQ_INT(chat_set_prefix(c, prefix, 5), NT_OK);
    T_EQ_STR(chat_system(c), "Be kind.");
    T_EQ_INT(chat_n_prefix(c), 4);
    enum nt_chat_role role = NT_ROLE_SYSTEM;
    T_EQ_STR(chat_prefix_at(c, 2, &role), "Who is Sue?");
    T_EQ_INT(role, NT_ROLE_USER);
    T_ASSERT(chat_prefix_at(c, 4, NULL) == NULL);
    T_EQ_INT(chat_set_greeting(c, "Hello!"), NT_OK);
    T_EQ_STR(chat_greeting(c), "Hello!");
    /* A second system message is not an example. */
    T_EQ_INT(chat_set_prefix(c, prefix, 0), NT_OK);
    T_EQ_INT(chat_n_prefix(c), 0);
    const nt_chat_msg bad[] = {{NT_ROLE_USER, "a"}, {NT_ROLE_SYSTEM, "b"}};
    T_EQ_INT(chat_set_prefix(c, bad, 2), NT_ERR_INVALID);
    T_EQ_INT(chat_set_prefix(c, prefix, 5), NT_OK);

    const char *fixed_text = " System: Be kind.\n\nUser: Who is Tim?\nAssistant: Tim is a boy.\n"
                             "User: Who is Sue?\nAssistant: Sue is a girl.\nAssistant: Hello!\n";
    int32_t n_fixed = 0;
    T_EQ_INT(chat_count_fixed(c, &n_fixed, &e), NT_OK);
    nt_tokens ref = {0};
    T_ASSERT(nt_tokenizer_encode(tok, fixed_text + 1, strlen(fixed_text) - 1, 0, &ref, &e) == NT_OK);
    T_EQ_INT(n_fixed, (int)ref.n + 1); /* BOS and the fixed text */
    nt_tokens_free(&ref);

    nt_tokens words = {0};
    T_ASSERT(nt_tokenizer_encode(tok, " and they played in the park", 28, 0, &words, &e) == NT_OK);
    nt_sampler_params p = greedy();
    int dropped_total = 0;
    for (int i = 0; i < 8; i++) {
        char q[64];
        snprintf(q, sizeof q, "Question %d: tell me about a cat and a dog", i);
        T_ASSERT(chat_add_user(c, q) == NT_OK);
        worker_job job;
        int dropped = -1;
        T_ASSERT(chat_prepare(c, &p, 8, &job, &dropped, &e) == NT_OK);
        dropped_total += dropped;
        int32_t prompt_n = job.keep + job.n_tokens;
        T_CHECK(prompt_n + 8 <= n_ctx);
        char *text = prompt_text(c, tok, &job);
        T_ASSERT(text);
        /* The fixed part first, then the turns still in view, this question last. */
        T_CHECK(strncmp(text, fixed_text, strlen(fixed_text)) == 0);
        if (chat_first_turn(c) < chat_n_turns(c)) {
            const chat_turn *t0 = chat_turn_at(c, chat_first_turn(c));
            const char *after = text + strlen(fixed_text);
            T_CHECK(strncmp(after, "User: ", 6) == 0 && strncmp(after + 6, t0->text, strlen(t0->text)) == 0);
        }
        T_CHECK(strstr(text, q) != NULL);
        for (size_t k = 0; k < chat_first_turn(c); k++) {
            const chat_turn *t = chat_turn_at(c, k);
            if (t->role == NT_ROLE_USER) T_CHECK(strstr(text, t->text) == NULL);
        }
        free(text);
        fake_answer(c, tok, &words, prompt_n);
    }
    T_CHECK(dropped_total > 0);
    T_CHECK(chat_first_turn(c) > 0);
    T_EQ_INT(chat_first_turn(c) % 2, 0);
    /* /clear keeps the fixed part. */
    chat_clear(c);
    T_EQ_INT(chat_n_turns(c), 0);
    T_EQ_INT(chat_n_prefix(c), 4);
    T_EQ_STR(chat_greeting(c), "Hello!");
    /* Removing the greeting and the examples leaves the system prompt. */
    T_EQ_INT(chat_set_greeting(c, NULL), NT_OK);
    T_ASSERT(chat_greeting(c) == NULL);
    int32_t n_sys = 0;
    T_EQ_INT(chat_set_prefix(c, NULL, 0), NT_OK);
    T_EQ_INT(chat_count_fixed(c, &n_sys, &e), NT_OK);
    T_CHECK(n_sys > 1 && n_sys < n_fixed);
    nt_tokens_free(&words);
    chat_free(c);
    nt_tokenizer_free(tok);
    nt_gguf_close(g);
}

/* Stop at once, live parameters, busy refusal. */
static void test_worker_stop_params(void)
{
    worker *w = t_stories_worker(512);
    if (!w) T_SKIP("fixture %s absent", STORIES);
    int32_t prompt[] = {1, 403, 407, 261, 378}; /* "Once upon a time", BOS first */
    worker_job job = {.tokens = prompt, .n_tokens = 5, .max_tokens = 400, .params = greedy(),
                      .ignore_eog = true};
    T_ASSERT(worker_submit(w, &job) == NT_OK);
    T_EQ_INT(worker_submit(w, &job), NT_ERR_INVALID); /* one job at a time */
    nt_sampler_params live = greedy();
    live.top_k = 3;
    worker_set_params(w, &live);
    bool saw_params = false, stopped = false;
    int tokens = 0;
    worker_event d;
    for (;;) {
        T_ASSERT(worker_wait(w, &d, 30000));
        if (d.kind == WEV_PARAMS) {
            saw_params = true;
            T_EQ_INT(d.params.top_k, 3);
            T_EQ_INT(d.index, 0); /* set before the first token: applies from token 0 */
        }
        if (d.kind == WEV_TOKEN && ++tokens == 3 && !stopped) {
            worker_stop(w);
            stopped = true;
        }
        free(d.text);
        if (d.kind == WEV_DONE) break;
    }
    T_CHECK(saw_params);
    T_EQ_INT(d.end, GEN_END_STOPPED);
    T_CHECK(d.n_gen >= 3 && d.n_gen < 400);
    T_CHECK(!worker_busy(w));
    /* The next job is not affected by the earlier stop. It reports the prompt's progress
     * (ending at 5 of 5) and nothing of the kind once tokens come. */
    job.keep = 0;
    job.max_tokens = 4;
    T_ASSERT(worker_submit(w, &job) == NT_OK);
    int progress = 0, progress_after_token = 0, last_done = 0, n_tok = 0;
    for (;;) {
        T_ASSERT(worker_wait(w, &d, 30000));
        if (d.kind == WEV_PROGRESS) {
            progress++;
            progress_after_token += n_tok > 0;
            T_EQ_INT(d.total, 5);
            last_done = d.done;
        }
        n_tok += d.kind == WEV_TOKEN;
        free(d.text);
        if (d.kind == WEV_DONE) break;
    }
    T_CHECK(progress >= 1);
    T_EQ_INT(last_done, 5);
    T_EQ_INT(progress_after_token, 0);
    T_EQ_INT(d.end, GEN_END_LENGTH);
    T_EQ_INT(d.n_gen, 4);
    T_EQ_INT(n_tok, 4);
    worker_free(w);
}

/* A stop string ends the answer before it; text that might start one is held back. */
static void test_stop_string(void)
{
    worker *w = t_stories_worker(512);
    if (!w) T_SKIP("fixture %s absent", STORIES);
    chat *c = chat_init(worker_tokenizer(w), NT_CHAT_PLAIN, 512);
    T_ASSERT(c);
    chat_set_raw(c, true);
    chat_add_user(c, "Once upon a time");
    nt_sampler_params p = greedy();
    worker_job job;
    nt_err e = {0};
    T_ASSERT(chat_prepare(c, &p, 100, &job, NULL, &e) == NT_OK);
    const char *lily[] = {"Lily"};
    job.stop = lily;
    job.n_stop = 1;
    T_ASSERT(worker_submit(w, &job) == NT_OK);
    worker_event d = run_to_done(w, c);
    T_EQ_INT(d.end, GEN_END_EOG);
    T_CHECK(d.stop_text);
    T_EQ_STR(last_turn(c)->text, ", there was a little girl named ");
    chat_free(c);
    worker_free(w);
}

/* A persona's full set of stop strings on a real answer: one of 200 bytes cut from the
 * answer itself (so it spans dozens of tokens) and 15 long decoys that follow the text for up
 * to 254 bytes and then miss, so text is held back for many tokens and let out again. The
 * answer must end exactly before the first occurrence, every held byte given back. */
static void test_stop_strings_long(void)
{
    worker *w = t_stories_worker(512);
    if (!w) T_SKIP("fixture %s absent", STORIES);
    chat *c = chat_init(worker_tokenizer(w), NT_CHAT_PLAIN, 512);
    T_ASSERT(c);
    chat_set_raw(c, true); /* no template stop: the persona's 16 only */
    chat_add_user(c, "Once upon a time");
    nt_sampler_params p = greedy();
    worker_event d = answer(w, c, &p, 300, NULL);
    T_EQ_INT(d.end, GEN_END_LENGTH);
    char *ref = strdup(last_turn(c)->text);
    size_t rn = strlen(ref);
    T_ASSERT(rn > 600);
    T_CHECK(!strchr(ref, '#'));

    static char stops[CHAT_MAX_STOPS][GEN_STOP_LEN];
    const char *sp[CHAT_MAX_STOPS];
    for (int k = 0; k < CHAT_MAX_STOPS - 1; k++) {
        size_t at = 10 + 20 * (size_t)k, L = 60 + 13 * (size_t)k; /* up to 242 bytes */
        memcpy(stops[k], ref + at, L);
        stops[k][L - 1] = '#';
        stops[k][L] = '\0';
        sp[k] = stops[k];
    }
    memcpy(stops[CHAT_MAX_STOPS - 1], ref + 330, 200);
    stops[CHAT_MAX_STOPS - 1][200] = '\0';
    sp[CHAT_MAX_STOPS - 1] = stops[CHAT_MAX_STOPS - 1];
    size_t cut = (size_t)(strstr(ref, sp[CHAT_MAX_STOPS - 1]) - ref);
    T_CHECK(cut <= 330);

    T_EQ_INT(chat_regen(c), NT_OK);
    T_EQ_INT(chat_set_stops(c, sp, CHAT_MAX_STOPS), NT_OK);
    worker_job job;
    d = answer(w, c, &p, 300, &job);
    T_EQ_INT(job.n_stop, CHAT_MAX_STOPS);
    T_EQ_INT(d.end, GEN_END_EOG);
    T_CHECK(d.stop_text);
    ref[cut] = '\0';
    T_EQ_STR(last_turn(c)->text, ref);
    /* The answer records its stop strings whole. */
    T_EQ_INT(last_turn(c)->n_stop, CHAT_MAX_STOPS);
    for (int k = 0; k < CHAT_MAX_STOPS && k < (int)last_turn(c)->n_stop; k++)
        T_EQ_STR(last_turn(c)->stop[k], sp[k]);

    /* Without the real one the decoys hold text back and give it all back at the end. */
    T_EQ_INT(chat_regen(c), NT_OK);
    T_EQ_INT(chat_set_stops(c, sp, CHAT_MAX_STOPS - 1), NT_OK);
    d = answer(w, c, &p, 300, NULL);
    T_EQ_INT(d.end, GEN_END_LENGTH);
    T_CHECK(!d.stop_text);
    T_EQ_INT(strlen(last_turn(c)->text), rn);

    /* The plain template adds its own first: 17 in the job; a persona string equal to it is
     * not repeated. */
    T_EQ_INT(chat_regen(c), NT_OK);
    chat_set_raw(c, false);
    T_EQ_INT(chat_set_stops(c, sp, CHAT_MAX_STOPS), NT_OK);
    nt_err e = {0};
    T_EQ_INT(chat_prepare(c, &p, 10, &job, NULL, &e), NT_OK);
    T_EQ_INT(job.n_stop, GEN_MAX_STOP);
    if (job.n_stop == GEN_MAX_STOP) {
        T_EQ_STR(job.stop[0], "\nUser:");
        T_EQ_STR(job.stop[16], sp[15]);
    }
    T_EQ_INT(worker_submit(w, &job), NT_OK);
    run_to_done(w, c);
    T_EQ_INT(last_turn(c)->n_stop, GEN_MAX_STOP);
    T_EQ_INT(chat_regen(c), NT_OK);
    sp[3] = "\nUser:";
    T_EQ_INT(chat_set_stops(c, sp, CHAT_MAX_STOPS), NT_OK);
    T_EQ_INT(chat_prepare(c, &p, 10, &job, NULL, &e), NT_OK);
    T_EQ_INT(job.n_stop, GEN_MAX_STOP - 1);
    /* worker_submit refuses what the limits do not allow. */
    worker_job bad = job;
    const char *many[GEN_MAX_STOP + 1];
    for (int k = 0; k <= GEN_MAX_STOP; k++) many[k] = "x";
    bad.stop = many;
    bad.n_stop = GEN_MAX_STOP + 1;
    T_EQ_INT(worker_submit(w, &bad), NT_ERR_INVALID);
    char s256[257];
    memset(s256, 'y', 256);
    s256[256] = '\0';
    many[1] = s256;
    bad.n_stop = 2;
    T_EQ_INT(worker_submit(w, &bad), NT_ERR_INVALID);
    many[1] = "";
    T_EQ_INT(worker_submit(w, &bad), NT_ERR_INVALID);
    T_EQ_INT(worker_submit(w, &job), NT_OK);
    run_to_done(w, c);
    free(ref);
    chat_free(c);
    worker_free(w);
}

/* The stop-string limits as the chat and a persona meet them: 17 per job (a persona's 16
 * and the template's), 1 to 255 bytes each, never cut (the filter's own: test_gen.c). */
static void test_stop_limits(void)
{
    char s255[256], s256[257];
    memset(s255, 'x', 255);
    s255[255] = '\0';
    memset(s256, 'x', 256);
    s256[256] = '\0';
    const char *many[GEN_MAX_STOP + 1];
    for (int k = 0; k <= GEN_MAX_STOP; k++) many[k] = s255;
    const char *too_long[] = {"ok", s256};
    const char *empty[] = {"ok", ""};

    /* chat_set_stops: a persona's 16, never cut; beyond, refused and the old ones kept. */
    chat *c = chat_init(NULL, NT_CHAT_CHATML, 64);
    T_ASSERT(c);
    T_EQ_INT(chat_set_stops(c, many, CHAT_MAX_STOPS), NT_OK);
    T_EQ_INT(chat_set_stops(c, many, CHAT_MAX_STOPS + 1), NT_ERR_INVALID);
    T_EQ_INT(chat_set_stops(c, too_long, 2), NT_ERR_INVALID);
    T_EQ_INT(chat_set_stops(c, empty, 2), NT_ERR_INVALID);
    chat_free(c);
    /* A persona made in code (persona_load refuses such a file) with 17 is refused whole. */
    persona *pp = persona_builtin();
    T_ASSERT(pp);
    pp->stop.v = calloc(CHAT_MAX_STOPS + 2, sizeof *pp->stop.v);
    T_ASSERT(pp->stop.v);
    for (int k = 0; k <= CHAT_MAX_STOPS; k++) pp->stop.v[k] = strdup("s");
    pp->stop.n = CHAT_MAX_STOPS + 1;
    c = chat_init(NULL, NT_CHAT_CHATML, 64);
    T_ASSERT(c);
    nt_err e = {0};
    T_EQ_INT(cli_chat_persona(c, pp, "m.gguf", NULL, -1, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "persona 'default': more than 16 stop strings, or one empty or longer than "
                    "255 bytes");
    chat_free(c);
    persona_free(pp);
    chat_turn t = {0};
    T_EQ_INT(chat_turn_set_stops(&t, many, GEN_MAX_STOP), NT_OK);
    T_EQ_INT(t.n_stop, GEN_MAX_STOP);
    T_EQ_INT(chat_turn_set_stops(&t, many, GEN_MAX_STOP + 1), NT_ERR_INVALID);
    T_EQ_INT(t.n_stop, GEN_MAX_STOP);
    T_EQ_INT(strlen(t.stop[16]), 255);
    free(t.stop);
}

/* Generation that runs into the end of the KV cache ends with GEN_END_CONTEXT_FULL. */
static void test_worker_context_full(void)
{
    worker *w = t_stories_worker(32);
    if (!w) T_SKIP("fixture %s absent", STORIES);
    int32_t prompt[] = {1, 403, 407, 261, 378};
    worker_job job = {.tokens = prompt, .n_tokens = 5, .max_tokens = 1000, .params = greedy(),
                      .ignore_eog = true, .no_candidates = true};
    T_ASSERT(worker_submit(w, &job) == NT_OK);
    worker_event d = run_to_done(w, NULL);
    T_EQ_INT(d.end, GEN_END_CONTEXT_FULL);
    T_EQ_INT(d.n_past, 32);
    T_EQ_INT(d.n_gen, 28); /* 27 evaluated + the one that found no room */
    /* A job that does not fit at all ends at once, the cache untouched. */
    job.keep = 32;
    job.max_tokens = 1;
    T_ASSERT(worker_submit(w, &job) == NT_OK);
    d = run_to_done(w, NULL);
    T_EQ_INT(d.end, GEN_END_CONTEXT_FULL);
    T_EQ_INT(d.n_past, 32);
    worker_free(w);
}

/* With ChatML made of control tokens, a second turn reuses the first answer's generated ids:
 * only "<|im_end|>\n<|im_start|>user\n...<|im_start|>assistant\n" is evaluated, and the
 * answer equals a from-scratch run over the same ids. */
static void test_chatml_reuse(void)
{
    if (!t_fixture(STORIES)) T_SKIP("fixture %s absent", STORIES);
    const char *path = t_chatml_stories();
    T_ASSERT(path);
    nt_model *m = NULL;
    nt_err e = {0};
    nt_model_params mp = nt_model_default_params();
    mp.n_ctx = 512;
    mp.n_threads = 1;
    T_ASSERT(nt_model_load(&m, path, &mp, &e) == NT_OK);
    T_EQ_INT(nt_chat_detect_gguf(nt_model_gguf(m)), NT_CHAT_CHATML);
    worker *w = worker_init(m, &e);
    T_ASSERT(w);
    const nt_tokenizer *tok = worker_tokenizer(w);
    T_CHECK(nt_tokenizer_is_control(tok, 3) && nt_tokenizer_is_control(tok, 4));
    chat *c = chat_init(tok, NT_CHAT_CHATML, 512);
    T_ASSERT(c);
    chat_set_system(c, "Tell a story.");
    nt_sampler_params p = greedy();
    worker_job job;
    chat_add_user(c, "Once upon a time");
    answer(w, c, &p, 12, &job);
    T_EQ_INT(job.keep, 0);
    T_EQ_INT(job.tokens[0], 1);  /* BOS */
    T_EQ_INT(job.tokens[1], 3);  /* <|im_start|> as one control token */
    const chat_turn *a1 = last_turn(c);
    T_EQ_INT(a1->tokens.n, 12);

    size_t cached = chat_cache(c)->n;
    chat_add_user(c, "Lily");
    T_ASSERT(chat_prepare(c, &p, 12, &job, NULL, &e) == NT_OK);
    T_EQ_INT(job.keep, cached); /* everything cached is reused... */
    /* ...and the new ids are the answer's last one, then <|im_end|> \n <|im_start|> ... */
    T_EQ_INT(job.tokens[0], a1->tokens.v[11]);
    T_EQ_INT(job.tokens[1], 4);
    nt_tokens full = {0};
    nt_tokens_append(&full, chat_cache(c)->v, (size_t)job.keep);
    nt_tokens_append(&full, job.tokens, (size_t)job.n_tokens);
    T_ASSERT(worker_submit(w, &job) == NT_OK);
    run_to_done(w, c);
    const chat_turn *a2 = last_turn(c);

    nt_model *m2 = NULL;
    T_ASSERT(nt_model_load(&m2, path, &mp, &e) == NT_OK);
    worker *w2 = worker_init(m2, &e);
    T_ASSERT(w2);
    worker_job ref = {.tokens = full.v, .n_tokens = (int32_t)full.n, .max_tokens = 12,
                      .params = p};
    T_ASSERT(worker_submit(w2, &ref) == NT_OK);
    nt_tokens ids = {0};
    for (;;) {
        worker_event ev;
        T_ASSERT(worker_wait(w2, &ev, 30000));
        if (ev.kind == WEV_TOKEN) nt_tokens_push(&ids, ev.id);
        free(ev.text);
        if (ev.kind == WEV_DONE) break;
    }
    T_EQ_INT(ids.n, a2->tokens.n);
    T_CHECK(ids.n == a2->tokens.n && memcmp(ids.v, a2->tokens.v, ids.n * sizeof *ids.v) == 0);
    nt_tokens_free(&ids);
    nt_tokens_free(&full);
    worker_free(w2);
    chat_free(c);
    worker_free(w);
}

/* The prompt c would send for its last question, as text. */
static char *built_text(chat *c, const nt_tokenizer *tok)
{
    nt_tokens ids = {0};
    nt_err e = {0};
    char *s = chat_build_prompt(c, chat_first_turn(c), &ids, &e) == NT_OK ? decode(tok, ids.v, ids.n) : NULL;
    nt_tokens_free(&ids);
    return s;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && memcmp(s + n - m, tail, m) == 0;
}

/* The thinking switch: refused without a switch in the template, set with one; the answer's
 * prompt opens as Qwen3's template does for enable_thinking=false; each answer records it;
 * a session keeps it, and restoring the session sets it again (only where the model has a
 * switch); exports leave the thoughts out unless asked. The tokenizer is natter's own model's
 * (ChatML, in the repository): no fixture needed. */
static void test_think(void)
{
    nt_gguf *g = NULL;
    nt_tokenizer *tok = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&g, "models/natter-guide.gguf", &e) == NT_OK);
    T_ASSERT(nt_tokenizer_load(&tok, g, &e) == NT_OK);
    chat *c = chat_init(tok, NT_CHAT_CHATML, 256);
    T_ASSERT(c);
    /* No switch told: the setting is refused and nothing changes. */
    T_CHECK(!chat_has_think(c));
    T_EQ_INT(chat_set_think(c, CHAT_THINK_OFF), NT_ERR_UNSUPPORTED);
    T_EQ_INT(chat_get_think(c), CHAT_THINK_DEFAULT);
    char msg[512];
    T_CHECK(!cli_chat_think(c, CHAT_THINK_OFF, "--think", msg, sizeof msg));
    T_CHECK(strstr(msg, "--think off: this model's chat template has no thinking switch") == msg);
    T_CHECK(cli_chat_think(c, CHAT_THINK_DEFAULT, "--think", msg, sizeof msg));

    chat_set_think_switch(c, true);
    T_CHECK(chat_has_think(c));
    chat_add_user(c, "hi");
    char *on = built_text(c, tok);
    T_ASSERT(on);
    T_CHECK(ends_with(on, "<|im_start|>assistant\n"));
    T_EQ_INT(chat_set_think(c, CHAT_THINK_OFF), NT_OK);
    char *off = built_text(c, tok);
    T_ASSERT(off);
    T_CHECK(ends_with(off, "<|im_start|>assistant\n<think>\n\n</think>\n\n"));
    T_CHECK(strncmp(on, off, strlen(on)) == 0); /* the same up to the opening */
    free(on);
    free(off);
    /* Another family or raw mode has no switch: nothing applied, nothing recorded. */
    chat_set_family(c, NT_CHAT_LLAMA3);
    T_CHECK(!chat_has_think(c));
    chat_set_family(c, NT_CHAT_CHATML);

    /* The answer records the switch it was prepared with. */
    nt_sampler_params p = greedy();
    worker_job job;
    T_ASSERT(chat_prepare(c, &p, 8, &job, NULL, &e) == NT_OK);
    const char *thought = "<think>\nThe user greets.\n\nBe brief.\n</think>\n\nHello!";
    worker_event ev = {.kind = WEV_TOKEN, .id = 5, .text = (char *)thought};
    chat_apply(c, &ev);
    ev = (worker_event){.kind = WEV_DONE, .end = GEN_END_EOG, .n_past = job.keep + job.n_tokens + 1};
    chat_apply(c, &ev);
    T_EQ_INT(last_turn(c)->think, CHAT_THINK_OFF);
    T_CHECK(last_turn(c)->complete);

    /* Through a session file and back. */
    session *s = session_init();
    T_ASSERT(s);
    T_EQ_INT(session_capture(s, c), NT_OK);
    size_t len;
    char *yaml = session_to_yaml(s, &len);
    T_ASSERT(yaml);
    T_CHECK(strstr(yaml, "\n  think: off\n") != NULL);
    session *r = NULL;
    ycfg_diag d = {0};
    T_EQ_INT(session_parse(&r, "t.yaml", yaml, len, &d), NT_OK);
    ycfg_diag_free(&d);
    T_ASSERT(r);
    T_EQ_INT(r->turns[1].think, CHAT_THINK_OFF);
    chat *c2 = chat_init(tok, NT_CHAT_CHATML, 256);
    T_ASSERT(c2);
    chat_set_think_switch(c2, true);
    T_EQ_INT(session_restore(r, c2, &e), NT_OK);
    T_EQ_INT(chat_get_think(c2), CHAT_THINK_OFF);
    chat_free(c2);
    c2 = chat_init(tok, NT_CHAT_CHATML, 256); /* a model without a switch keeps its default */
    T_ASSERT(c2);
    T_EQ_INT(session_restore(r, c2, &e), NT_OK);
    T_EQ_INT(chat_get_think(c2), CHAT_THINK_DEFAULT);
    chat_free(c2);
    /* A file's think must be on or off. */
    char *bad = strdup(yaml);
    T_ASSERT(bad);
    char *at = strstr(bad, "think: off");
    memcpy(at, "think: xyz", 10);
    session *b = NULL;
    T_EQ_INT(session_parse(&b, "t.yaml", bad, len, &d), NT_ERR_FORMAT);
    T_CHECK(d.n > 0 && strstr(d.v[0], "'think' must be on or off, not 'xyz'"));
    ycfg_diag_free(&d);
    free(bad);

    /* Exports: the answer alone, or with its thoughts when asked. */
    char *md = session_export_md(r, false), *mdt = session_export_md(r, true);
    char *js = session_export_json(r, false), *jst = session_export_json(r, true);
    T_ASSERT(md && mdt && js && jst);
    T_CHECK(strstr(md, "\n## Assistant\n\nHello!\n") && !strstr(md, "greets") && !strstr(md, "think>"));
    T_CHECK(strstr(mdt, "> *Thinking:*\n>\n> The user greets.\n>\n> Be brief.\n\nHello!\n"));
    T_CHECK(strstr(js, "\"content\": \"Hello!\"") && !strstr(js, "greets") && !strstr(js, "reasoning"));
    T_CHECK(strstr(jst, "\"content\": \"Hello!\"") &&
            strstr(jst, "\"reasoning_content\": \"The user greets.\\n\\nBe brief.\""));
    free(md);
    free(mdt);
    free(js);
    free(jst);
    free(yaml);
    session_free(r);
    session_free(s);
    chat_free(c);
    nt_tokenizer_free(tok);
    nt_gguf_close(g);
}

/* Model text bound for a terminal shows control characters instead of obeying them. */
static void test_cli_write_text(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    T_ASSERT(f);
    const char s[] = "a\033[2Jb\nc";
    cli_write_text(f, s, sizeof s - 1, true);
    fclose(f);
    T_EQ_STR(buf, "a\xe2\x90\x9b[2Jb\nc"); /* ESC -> U+241B, newline kept */
    free(buf);
    f = open_memstream(&buf, &len);
    T_ASSERT(f);
    cli_write_text(f, s, sizeof s - 1, false); /* a pipe gets the bytes as they are */
    fclose(f);
    T_EQ_INT(len, sizeof s - 1);
    T_CHECK(memcmp(buf, s, len) == 0);
    free(buf);
}

int main(void)
{
    T_RUN(test_cli_write_text);
    T_RUN(test_think);
    T_RUN(test_prefix_reuse);
    T_RUN(test_chatml_reuse);
    T_RUN(test_regen);
    T_RUN(test_undo_edit);
    T_RUN(test_context_full);
    T_RUN(test_memory);
    T_RUN(test_persona_prefix);
    T_RUN(test_worker_stop_params);
    T_RUN(test_stop_string);
    T_RUN(test_stop_strings_long);
    T_RUN(test_stop_limits);
    T_RUN(test_worker_context_full);
    return t_done();
}
