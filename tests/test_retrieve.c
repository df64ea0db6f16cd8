/* Tests for retrieval into the prompt (app/docs/retrieve.c and chat.c's passages): the budget
 * (passages in rank order within the room the fixed part, the question, some history and the
 * answer leave; the fixed part never dropped, passages dropped before the question; a passage
 * too long for a small context cut at a line end), follow-up questions finding what they
 * follow, the sources in a session file (round trip, exports) and an exact replay after the
 * files changed. Uses natter's own default model (models/natter-guide.gguf, in the
 * repository) and the corpus in tests/data/docs. */
#include "t.h"

#include "conv/chat.h"
#include "conv/replay.h"
#include "conv/session.h"
#include "conv/worker.h"
#include "docs/retrieve.h"
#include "util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL "models/natter-guide.gguf"
#define CORPUS "tests/data/docs"

static char *decode(const nt_tokenizer *t, const int32_t *ids, size_t n)
{
    strbuf b = {0};
    strbuf_puts(&b, "");
    for (size_t i = 0; i < n; i++) {
        char piece[256];
        int k = nt_tokenizer_token_bytes(t, ids[i], piece, sizeof piece);
        if (k > 0) strbuf_put(&b, piece, (size_t)k);
    }
    return strbuf_take(&b, NULL);
}

/* The whole prompt of a prepared job, as text. */
static char *job_text(const chat *c, const nt_tokenizer *tok, const worker_job *job)
{
    nt_tokens full = {0};
    nt_tokens_append(&full, chat_cache(c)->v, (size_t)job->keep);
    nt_tokens_append(&full, job->tokens, (size_t)job->n_tokens);
    char *s = decode(tok, full.v, full.n);
    nt_tokens_free(&full);
    return s;
}

/* Closes the prepared answer as if the model had written text (no worker). */
static void fake_answer(chat *c, const worker_job *job)
{
    worker_event ev = {.kind = WEV_TOKEN, .id = 5, .index = 0, .text = "ok"};
    chat_apply(c, &ev);
    worker_event done = {.kind = WEV_DONE, .end = GEN_END_LENGTH,
                         .n_past = job->keep + job->n_tokens};
    chat_apply(c, &done);
}

static nt_model *load_model(void)
{
    nt_model_params mp = nt_model_default_params();
    mp.n_threads = 2;
    nt_model *m = NULL;
    nt_err e = {0};
    if (nt_model_load(&m, MODEL, &mp, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "%s: %s", MODEL, e.msg);
        return NULL;
    }
    return m;
}

/* n candidates "Passage k ..." of about bytes bytes each, 4 lines apart. */
static chat_source *make_cands(size_t n, size_t bytes)
{
    chat_source *v = calloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        strbuf b = {0};
        strbuf_printf(&b, "Candidate %zu says:", i);
        while (b.n < bytes) strbuf_printf(&b, " word%zu", b.n % 97);
        v[i].path = strdup("doc.md");
        v[i].title = strdup("");
        v[i].text = strbuf_take(&b, NULL);
        v[i].line_a = (int32_t)(1 + 4 * i);
        v[i].line_b = (int32_t)(3 + 4 * i);
        v[i].score = 10.0 - (double)i;
    }
    return v;
}

static void test_budget(void)
{
    nt_model *m = load_model();
    T_ASSERT(m);
    const nt_tokenizer *tok = nt_model_tokenizer(m);
    enum nt_chat_family fam = nt_chat_detect_gguf(nt_model_gguf(m));
    const int32_t n_ctx = 256, max = 48;
    chat *c = chat_init(tok, fam, n_ctx);
    T_ASSERT(c);
    T_EQ_INT(chat_set_system(c, "Answer from the documents."), NT_OK);
    nt_sampler_params p = nt_sampler_default_params();
    chat_source *cands = make_cands(8, 120);
    nt_err e = {0};
    worker_job job;

    /* A lone question: passages in rank order up to the budget, the answer's room kept. */
    T_ASSERT(chat_add_user(c, "What do the candidates say?") == NT_OK);
    T_ASSERT(chat_set_candidates(c, cands, 8, "Documents:") == NT_OK);
    T_ASSERT(chat_prepare(c, &p, max, &job, NULL, &e) == NT_OK);
    const chat_turn *t = chat_turn_at(c, 1);
    T_CHECK(t->n_sources >= 2 && t->n_sources < 8);
    T_CHECK(job.keep + job.n_tokens + max <= n_ctx);
    for (size_t i = 0; i < t->n_sources; i++) T_EQ_STR(t->sources[i].text, cands[i].text);
    T_EQ_STR(t->sources_intro, "Documents:");
    char *text = job_text(c, tok, &job);
    T_ASSERT(text);
    /* The system prompt, then the intro and the passages, then the question. */
    char *sys = strstr(text, "Answer from the documents.\n\nDocuments:\n\n=== Passage 1: doc.md:1-3 ===\nCandidate 0 says:");
    T_CHECK(sys != NULL);
    T_CHECK(sys && strstr(sys, "=== End of passage 1 ===") && strstr(text, "What do the candidates say?"));
    free(text);
    size_t placed_alone = t->n_sources;
    fake_answer(c, &job);

    /* The candidates are used once: the next question without any has no passage. */
    T_ASSERT(chat_add_user(c, "And then?") == NT_OK);
    T_ASSERT(chat_prepare(c, &p, max, &job, NULL, &e) == NT_OK);
    T_EQ_INT(chat_turn_at(c, 3)->n_sources, 0);
    text = job_text(c, tok, &job);
    T_CHECK(text && !strstr(text, "Passage"));
    free(text);
    fake_answer(c, &job);

    /* A no-passage notice is placed alone; one too long for the context goes before the
     * question does, like a passage. */
    T_ASSERT(chat_add_user(c, "Is there a calendar?") == NT_OK);
    T_ASSERT(chat_set_candidates(c, NULL, 0, "=== No passage: the documents do not mention calendar ===") == NT_OK);
    T_ASSERT(chat_prepare(c, &p, max, &job, NULL, &e) == NT_OK);
    T_EQ_STR(chat_system_placed(c),
             "Answer from the documents.\n\n=== No passage: the documents do not mention calendar ===");
    T_EQ_INT(chat_turn_at(c, 5)->n_sources, 0);
    fake_answer(c, &job);
    strbuf longn = {0};
    strbuf_puts(&longn, "=== No passage: the documents do not mention");
    for (int i = 0; i < 300; i++) strbuf_printf(&longn, " word%d", i);
    strbuf_puts(&longn, " ===");
    T_ASSERT(chat_add_user(c, "Is there a diary?") == NT_OK);
    T_ASSERT(chat_set_candidates(c, NULL, 0, longn.s) == NT_OK);
    T_ASSERT(chat_prepare(c, &p, max, &job, NULL, &e) == NT_OK);
    T_EQ_STR(chat_system_placed(c), "Answer from the documents.");
    T_CHECK(chat_turn_at(c, 7)->sources_intro == NULL);
    strbuf_free(&longn);
    fake_answer(c, &job);

    /* With history: fewer passages (the history keeps up to a third of the room), the
     * system prompt still there. */
    for (int i = 0; i < 4; i++) {
        char q[96];
        snprintf(q, sizeof q, "Question %d about the candidates and what each of them says", i);
        T_ASSERT(chat_add_user(c, q) == NT_OK);
        T_ASSERT(chat_set_candidates(c, cands, 8, "Documents:") == NT_OK);
        int dropped = 0;
        T_ASSERT(chat_prepare(c, &p, max, &job, &dropped, &e) == NT_OK);
        t = chat_turn_at(c, chat_n_turns(c) - 1);
        T_CHECK(t->n_sources >= 1 && t->n_sources <= placed_alone);
        T_CHECK(job.keep + job.n_tokens + max <= n_ctx);
        text = job_text(c, tok, &job);
        T_CHECK(text && strstr(text, "Answer from the documents.") && strstr(text, q));
        free(text);
        fake_answer(c, &job);
    }
    T_CHECK(chat_first_turn(c) > 0); /* older exchanges left for the passages */

    /* A question that leaves no room for any passage: asked without them, not refused. */
    chat_clear(c);
    strbuf q = {0};
    for (int i = 0;; i++) { /* about n_ctx - max tokens: it fits, nothing else does */
        strbuf_printf(&q, "long question part %d ", i);
        nt_tokens ids = {0};
        T_ASSERT(nt_tokenizer_encode(tok, q.s, q.n, 0, &ids, &e) == NT_OK);
        size_t n = ids.n;
        nt_tokens_free(&ids);
        if (n >= (size_t)(n_ctx - max - 8)) break;
    }
    T_ASSERT(chat_add_user(c, q.s) == NT_OK);
    T_ASSERT(chat_set_candidates(c, cands, 8, "Documents:") == NT_OK);
    int rc = chat_prepare(c, &p, max, &job, NULL, &e);
    T_EQ_INT(rc, NT_OK);
    if (rc == NT_OK) {
        T_EQ_INT(chat_turn_at(c, 1)->n_sources, 0);
        fake_answer(c, &job);
    }
    strbuf_free(&q);

    /* One passage longer than the whole room: its beginning, cut at a line end, its line
     * range narrowed to the lines kept. */
    chat_clear(c);
    strbuf big = {0};
    for (int i = 0; i < 60; i++) strbuf_printf(&big, "line %d of a very long passage\n", i + 1);
    chat_source one = {.path = "big.txt", .title = "", .text = big.s, .line_a = 101,
                       .line_b = 160, .score = 3};
    T_ASSERT(chat_add_user(c, "What is in the long passage?") == NT_OK);
    T_ASSERT(chat_set_candidates(c, &one, 1, "Documents:") == NT_OK);
    T_ASSERT(chat_prepare(c, &p, max, &job, NULL, &e) == NT_OK);
    t = chat_turn_at(c, 1);
    T_EQ_INT(t->n_sources, 1);
    if (t->n_sources == 1) {
        size_t n = strlen(t->sources[0].text);
        T_CHECK(n > 20 && n < big.n);
        T_CHECK(!strncmp(t->sources[0].text, big.s, n));
        T_CHECK(big.s[n] == '\n' || big.s[n] == ' '); /* at a line or word end */
        T_EQ_INT(t->sources[0].line_a, 101);
        int lines = 1;
        for (size_t i = 0; i < n; i++) lines += t->sources[0].text[i] == '\n';
        T_EQ_INT(t->sources[0].line_b, 100 + lines);
    }
    T_CHECK(job.keep + job.n_tokens + max <= n_ctx);
    strbuf_free(&big);

    chat_sources_free(cands, 8);
    chat_free(c);
    nt_model_free(m);
}

/* Runs the prepared job to its end, greedy. */
static bool run(worker *w, chat *c, worker_job *job)
{
    if (worker_submit(w, job) != NT_OK) return false;
    for (;;) {
        worker_event ev;
        if (!worker_wait(w, &ev, 60000)) return false;
        chat_apply(c, &ev);
        free(ev.text);
        if (ev.kind == WEV_DONE) return true;
    }
}

/* The guide model in a worker, a chat for it, and the documents of dir indexed in db. */
static bool open_docs_chat(const char *db, const char *dir, worker **w, chat **c, docs **d)
{
    nt_model *m = load_model();
    nt_err e = {0};
    *w = m ? worker_init(m, &e) : NULL;
    if (!*w) return false;
    *c = chat_init(worker_tokenizer(*w), nt_chat_detect_gguf(worker_gguf(*w)),
                   worker_model_info(*w)->n_ctx);
    *d = docs_init(db, &e);
    return *c && *d && docs_add(*d, dir, NULL, &e) == NT_OK;
}

/* Asks q (NULL: the question already added) with its passages from d, greedy, up to 16
 * tokens, and runs the answer; *prompt (when not NULL) gets the prompt's text as sent. */
static bool ask(worker *w, docs *d, chat *c, const char *q, char **prompt)
{
    nt_sampler_params p = nt_sampler_default_params();
    p.temperature = 0;
    p.seed = 7;
    worker_job job;
    nt_err e = {0};
    if ((q && chat_add_user(c, q) != NT_OK) || docs_retrieve(d, c, "Documents:", &e) != NT_OK ||
        chat_prepare(c, &p, 16, &job, NULL, &e) != NT_OK)
        return false;
    if (prompt) *prompt = job_text(c, worker_tokenizer(w), &job);
    return run(w, c, &job);
}

/* The chat as a session of the guide model (*s) and that session's YAML (malloc'd, NULL on
 * failure). */
static char *capture_yaml(worker *w, const chat *c, session **s, size_t *len)
{
    if (!(*s = session_init())) return NULL;
    if (session_set_model(*s, worker_gguf(w), worker_model_info(w)) != NT_OK) return NULL;
    free((*s)->model.path);
    (*s)->model.path = strdup(MODEL);
    if (session_capture(*s, c) != NT_OK) return NULL;
    return session_to_yaml(*s, len);
}

static void test_sources_session_replay(void)
{
    /* A copy of the corpus, so that it can change after the answers. */
    char dir[600], cmd[1400], db[700];
    snprintf(dir, sizeof dir, "%s/corpus", t_tmpdir());
    snprintf(db, sizeof db, "%s/index.sqlite", t_tmpdir());
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r " CORPUS " '%s'", dir, dir);
    T_ASSERT(system(cmd) == 0);
    worker *w;
    chat *c;
    docs *d;
    T_ASSERT(open_docs_chat(db, dir, &w, &c, &d));
    nt_err e = {0};
    const nt_tokenizer *tok = worker_tokenizer(w);
    T_EQ_INT(docs_count(d), 1);

    /* A question naming an option: the passage holding it comes first, though the other
     * words point at the kettle; each passage once. */
    chat *c2 = chat_init(tok, nt_chat_detect_gguf(worker_gguf(w)), worker_model_info(w)->n_ctx);
    T_ASSERT(c2 && chat_add_user(c2, "does --dry-run descale the kettle with vinegar") == NT_OK);
    chat_source *hits = NULL;
    size_t nh = 0;
    char *missing = NULL;
    T_ASSERT(docs_find(d, c2, &hits, &nh, &missing, &e) == NT_OK);
    T_CHECK(missing == NULL);
    T_ASSERT(nh >= 2);
    T_CHECK(strstr(hits[0].path, "frob.1") && strstr(hits[0].text, "--dry-run"));
    T_CHECK(strstr(hits[1].path, "kettle.md") != NULL);
    for (size_t i = 0; i < nh; i++)
        for (size_t j = i + 1; j < nh; j++)
            T_CHECK(hits[i].line_a != hits[j].line_a || strcmp(hits[i].path, hits[j].path));
    chat_sources_free(hits, nh);
    chat_free(c2);
    T_ASSERT(ask(w, d, c, "How do I descale the kettle?", NULL));
    const chat_turn *t = chat_turn_at(c, 1);
    T_ASSERT(t->n_sources >= 1);
    T_CHECK(strstr(t->sources[0].path, "corpus/kettle.md") != NULL);
    T_EQ_INT(t->sources[0].line_a, 19);
    T_EQ_INT(t->sources[0].line_b, 23);
    T_CHECK(strstr(t->sources[0].text, "white vinegar") != NULL);

    /* A follow-up without the words finds the passage of what it follows. */
    T_ASSERT(ask(w, d, c, "and how long should it stand?", NULL));
    t = chat_turn_at(c, 3);
    T_ASSERT(t->n_sources >= 1);
    T_CHECK(strstr(t->sources[0].path, "kettle.md") != NULL);

    /* The session keeps the passages, text and origin. */
    session *s = NULL;
    size_t len;
    char *yaml = capture_yaml(w, c, &s, &len);
    T_ASSERT(yaml);
    T_CHECK(strstr(yaml, "sources_intro: \"Documents:\"") != NULL);
    if (getenv("SHOW")) puts(yaml);
    T_CHECK(strstr(yaml, "    lines: 19-23\n") != NULL);
    session *r = NULL;
    ycfg_diag dg = {0};
    T_ASSERT(session_parse(&r, "mem", yaml, len, &dg) == NT_OK);
    for (size_t i = 0; i < dg.n; i++) printf("%s\n", dg.v[i]);
    ycfg_diag_free(&dg);
    for (size_t i = 1; i < 4; i += 2) {
        const chat_turn *a = &s->turns[i], *b = &r->turns[i];
        T_EQ_INT(b->n_sources, a->n_sources);
        T_EQ_STR(b->sources_intro, a->sources_intro);
        for (size_t k = 0; k < a->n_sources && k < b->n_sources; k++) {
            T_EQ_STR(b->sources[k].path, a->sources[k].path);
            T_EQ_STR(b->sources[k].title, a->sources[k].title);
            T_EQ_STR(b->sources[k].text, a->sources[k].text);
            T_EQ_INT(b->sources[k].line_a, a->sources[k].line_a);
            T_EQ_INT(b->sources[k].line_b, a->sources[k].line_b);
            T_CHECK(b->sources[k].score > a->sources[k].score - 1e-4 &&
                    b->sources[k].score < a->sources[k].score + 1e-4);
        }
    }
    /* Exports name the sources. */
    char *md = session_export_md(r, false);
    T_CHECK(md && strstr(md, "\nSources: `") && strstr(md, "kettle.md:19-23`"));
    free(md);
    char *js = session_export_json(r, false);
    T_CHECK(js && strstr(js, "\"sources\"") && strstr(js, "\"line_first\": 19"));
    free(js);

    /* The files change: the replay places the recorded passages and writes the same. */
    char path[700];
    snprintf(path, sizeof path, "%s/kettle.md", dir);
    FILE *f = fopen(path, "w");
    T_ASSERT(f);
    fputs("# Nothing about kettles any more\n", f);
    fclose(f);
    T_ASSERT(docs_add(d, dir, NULL, &e) == NT_OK);
    replay_opts o = {.model_path = MODEL, .n_threads = 2};
    replay *rp = NULL;
    T_ASSERT(replay_init(&rp, r, &o, &e) == NT_OK);
    for (size_t i = 1; i < 4; i += 2) {
        replay_result res;
        T_ASSERT(replay_answer(rp, i, NULL, NULL, &res, &e) == NT_OK);
        T_CHECK(res.prompt_matches);
        T_CHECK(replay_matches(&r->turns[i], &res, NULL));
        replay_result_free(&res);
    }
    replay_free(rp);
    /* Without its passages the first answer's prompt is another one: they do matter. */
    chat_turn *a = &r->turns[1];
    size_t keep = a->n_sources;
    a->n_sources = 0;
    T_ASSERT(replay_init(&rp, r, &o, &e) == NT_OK);
    replay_result res;
    T_ASSERT(replay_answer(rp, 1, NULL, NULL, &res, &e) == NT_OK);
    T_CHECK(!res.prompt_matches);
    replay_result_free(&res);
    replay_free(rp);
    a->n_sources = keep;

    free(yaml);
    session_free(r);
    session_free(s);
    docs_free(d);
    chat_free(c);
    worker_free(w);
}

/* A question about what the documents do not have: no passage, a notice naming the missing
 * words in its place, recorded, written, exported and replayed; the next question about what
 * they have finds its passages again. */
static void test_no_passage(void)
{
    char db[700];
    snprintf(db, sizeof db, "%s/index-np.sqlite", t_tmpdir());
    worker *w;
    chat *c;
    docs *d;
    T_ASSERT(open_docs_chat(db, CORPUS, &w, &c, &d));
    nt_err e = {0};
    const nt_tokenizer *tok = worker_tokenizer(w);

    T_ASSERT(chat_add_user(c, "Can the kettle brew espresso?") == NT_OK);
    chat_source *hits = NULL;
    size_t nh = 0;
    char *missing = NULL;
    T_ASSERT(docs_find(d, c, &hits, &nh, &missing, &e) == NT_OK);
    T_EQ_INT(nh, 0);
    T_CHECK(missing && !strcmp(missing, "brew, espresso"));
    chat_sources_free(hits, nh);
    free(missing);

    char *text = NULL;
    T_ASSERT(ask(w, d, c, NULL, &text));
    T_EQ_STR(chat_system_placed(c),
             "Documents:\n\n=== No passage: the documents do not mention brew, espresso ===");
    T_CHECK(text && strstr(text, "do not mention brew, espresso"));
    free(text);
    const chat_turn *t = chat_turn_at(c, 1);
    T_EQ_INT(t->n_sources, 0);
    char *notice = chat_turn_notice(t);
    T_EQ_STR(notice ? notice : "(none)", "No passage: the documents do not mention brew, espresso");
    free(notice);

    /* The next question's words are in the manual: passages again, no notice. */
    T_ASSERT(ask(w, d, c, "How do I descale the kettle?", NULL));
    T_CHECK(!strstr(chat_system_placed(c), "No passage"));
    t = chat_turn_at(c, 3);
    T_CHECK(t->n_sources >= 1 && strstr(t->sources[0].path, "kettle.md"));
    T_CHECK(chat_turn_notice(t) == NULL);

    /* Asked later in the conversation, a question about something the manual lacks still
     * gets no passage; a follow-up pointing back at the last question ("it") does: its
     * subject is there. */
    chat *c3 = chat_init(tok, nt_chat_detect_gguf(worker_gguf(w)), worker_model_info(w)->n_ctx);
    T_ASSERT(c3 && chat_add_user(c3, "How do I descale the kettle?") == NT_OK);
    chat_turn ans = {.role = NT_ROLE_ASSISTANT, .text = (char *)"With vinegar."};
    ans.len = strlen(ans.text);
    T_ASSERT(chat_restore_turn(c3, &ans) == NT_OK);
    T_ASSERT(chat_add_user(c3, "Does the kettle have a timer?") == NT_OK);
    T_ASSERT(docs_find(d, c3, &hits, &nh, &missing, &e) == NT_OK);
    T_CHECK(nh == 0 && missing && !strcmp(missing, "timer"));
    chat_sources_free(hits, nh);
    free(missing);
    chat_free(c3);
    c3 = chat_init(tok, nt_chat_detect_gguf(worker_gguf(w)), worker_model_info(w)->n_ctx);
    T_ASSERT(c3 && chat_add_user(c3, "How do I descale the kettle?") == NT_OK);
    T_ASSERT(chat_restore_turn(c3, &ans) == NT_OK);
    T_ASSERT(chat_add_user(c3, "Does it need a timer?") == NT_OK);
    T_ASSERT(docs_find(d, c3, &hits, &nh, &missing, &e) == NT_OK);
    T_CHECK(nh >= 1 && missing == NULL && strstr(hits[0].text, "vinegar"));
    chat_sources_free(hits, nh);
    free(missing);
    chat_free(c3);

    /* Written and read back; the export says why there are no sources; the replay places
     * the notice again (without it the prompt would differ). */
    session *s = NULL;
    size_t len;
    char *yaml = capture_yaml(w, c, &s, &len);
    T_ASSERT(yaml);
    session *r = NULL;
    ycfg_diag dg = {0};
    T_ASSERT(session_parse(&r, "mem", yaml, len, &dg) == NT_OK);
    ycfg_diag_free(&dg);
    T_EQ_INT(r->turns[1].n_sources, 0);
    T_EQ_STR(r->turns[1].sources_intro ? r->turns[1].sources_intro : "(none)",
             s->turns[1].sources_intro);
    char *md = session_export_md(r, false);
    T_CHECK(md && strstr(md, "\nSources: No passage: the documents do not mention brew, espresso\n"));
    free(md);
    replay_opts o = {.model_path = MODEL, .n_threads = 2};
    replay *rp = NULL;
    T_ASSERT(replay_init(&rp, r, &o, &e) == NT_OK);
    replay_result res;
    T_ASSERT(replay_answer(rp, 1, NULL, NULL, &res, &e) == NT_OK);
    T_CHECK(res.prompt_matches);
    T_CHECK(replay_matches(&r->turns[1], &res, NULL));
    replay_result_free(&res);
    replay_free(rp);
    free(r->turns[1].sources_intro);
    r->turns[1].sources_intro = NULL;
    T_ASSERT(replay_init(&rp, r, &o, &e) == NT_OK);
    T_ASSERT(replay_answer(rp, 1, NULL, NULL, &res, &e) == NT_OK);
    T_CHECK(!res.prompt_matches);
    replay_result_free(&res);
    replay_free(rp);

    free(yaml);
    session_free(r);
    session_free(s);
    docs_free(d);
    chat_free(c);
    worker_free(w);
}

/* A session written before sources existed reads as answers without any. */
static void test_old_session(void)
{
    const char *old =
        "natter-session: 1\ncreated: 2026-01-01T00:00:00Z\nupdated: 2026-01-01T00:00:00Z\n"
        "model: {file: m.gguf, size: 1, hash: \"xxh3:0000000000000001\"}\n"
        "template: chatml\ncontext: 256\ncontext_first: 0\nsystem: \"\"\nmessage_count: 2\n"
        "messages:\n- {role: user, text: hi}\n"
        "- {role: assistant, text: yo, seed: 1, end: eog, stop: [], max_tokens: 8, tokens: [1]}\n"
        "complete: true\n";
    session *s = NULL;
    ycfg_diag dg = {0};
    int rc = session_parse(&s, "old", old, strlen(old), &dg);
    for (size_t i = 0; i < dg.n; i++) printf("%s\n", dg.v[i]);
    ycfg_diag_free(&dg);
    T_ASSERT(rc == NT_OK);
    T_EQ_INT(s->turns[1].n_sources, 0);
    T_CHECK(s->turns[1].sources_intro == NULL);
    session_free(s);

    /* A bad line range is refused with its place. */
    const char *bad =
        "natter-session: 1\ncreated: 2026-01-01T00:00:00Z\nupdated: 2026-01-01T00:00:00Z\n"
        "model: {file: m.gguf, size: 1, hash: \"xxh3:0000000000000001\"}\n"
        "template: chatml\ncontext: 256\ncontext_first: 0\nsystem: \"\"\nmessage_count: 2\n"
        "messages:\n- {role: user, text: hi}\n"
        "- {role: assistant, text: yo, seed: 1, end: eog, stop: [], max_tokens: 8, tokens: [1],\n"
        "   sources: [{file: a.md, lines: 9-3, text: x}]}\n"
        "complete: true\n";
    T_EQ_INT(session_parse(&s, "bad", bad, strlen(bad), &dg), NT_ERR_FORMAT);
    T_CHECK(dg.n >= 1 && strstr(dg.v[0], "bad:13:") && strstr(dg.v[0], "'lines' must be FIRST-LAST"));
    ycfg_diag_free(&dg);
}

int main(void)
{
    T_RUN(test_budget);
    T_RUN(test_sources_session_replay);
    T_RUN(test_no_passage);
    T_RUN(test_old_session);
    return t_done();
}
