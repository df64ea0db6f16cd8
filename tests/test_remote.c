/* Tests for the remote backend (app/conv/remote.c) through a remote worker, against the
 * fault-injecting test server tests/remote_server.py (127.0.0.1, a free port, started and
 * stopped here; skipped, saying so, without python3): a streamed answer and what the server
 * reported, finish_reason length, the request's fields, Esc (worker_stop) mid-stream and
 * mid-wait ending at once with the text kept, the idle timeout, a live parameter change
 * continuing the same answer through /completions (the prompt is the ChatML rendering the
 * server's /props names, plus the answer so far) and a server that refuses it, a strict
 * server refusing llama.cpp's extra fields, and the API key sent only as the header. */
#include "conv/chat.h"
#include "conv/remote.h"
#include "conv/worker.h"
#include "util/strbuf.h"
#include "t.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t server_pid;
static char base[128];
static char log_path[512];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool server_start(void)
{
    if (system("python3 -c 'import http.server' >/dev/null 2>&1") != 0) return false;
    char port_path[512];
    snprintf(port_path, sizeof port_path, "%s/port", t_tmpdir());
    snprintf(log_path, sizeof log_path, "%s/requests.log", t_tmpdir());
    setenv("REMOTE_TEST_KEY", "sk-test-secret-7", 1);
    server_pid = fork();
    if (server_pid == 0) {
        execlp("python3", "python3", "tests/remote_server.py", port_path, log_path, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) { /* up to 30 s on a loaded machine */
        FILE *f = fopen(port_path, "r");
        int port = 0;
        if (f && fscanf(f, "%d", &port) == 1 && port > 0) {
            fclose(f);
            snprintf(base, sizeof base, "http://127.0.0.1:%d/v1", port);
            return true;
        }
        if (f) fclose(f);
        usleep(100000);
    }
    return false;
}

static void server_stop(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
}

/* What one job produced. */
typedef struct run {
    strbuf text;
    enum gen_end end;
    char err[600];
    char note[600];
    int n_params;
    int32_t params_at;
    double done_at;
    int n_cand0;               /* the first piece's candidates, as the token event had them */
    char cand0[2][GEN_CAND_TEXT];
    float p0[2];
    int32_t n_past, n_prompt;  /* DONE: the server's count */
} run;

static worker *open_worker(const char *model, long idle_ms)
{
    remote *r = NULL;
    nt_err e = {0};
    remote_cfg c = {.base = base, .model = model, .key_env = "REMOTE_TEST_KEY", .idle_ms = idle_ms,
                    .family = -1};
    if (remote_init(&r, &c, &e) != NT_OK) return NULL;
    return worker_init_remote(r, &e);
}

/* Asks "hi" with seed 5; act(w, token_count) runs after each token event. */
static void ask(worker *w, run *out, void (*act)(worker *, int, run *))
{
    memset(out, 0, sizeof *out);
    nt_chat_msg msgs[2] = {{NT_ROLE_SYSTEM, "Be brief."}, {NT_ROLE_USER, "hi"}};
    worker_job j = {.params = nt_sampler_default_params(), .max_tokens = 0, .msgs = msgs, .n_msgs = 2};
    j.params.seed = 5;
    if (worker_submit(w, &j) != NT_OK) {
        snprintf(out->err, sizeof out->err, "submit refused");
        return;
    }
    int n_tok = 0;
    for (;;) {
        worker_event ev;
        if (!worker_wait(w, &ev, 20000)) {
            snprintf(out->err, sizeof out->err, "no event for 20 s");
            return;
        }
        if (ev.kind == WEV_TOKEN) {
            if (out->text.n == 0) { /* the first piece */
                out->n_cand0 = ev.n_cand;
                for (int k = 0; k < 2 && k < ev.n_cand; k++) {
                    memcpy(out->cand0[k], ev.cand_text[k], GEN_CAND_TEXT);
                    out->p0[k] = ev.cand[k].p_after;
                }
            }
            strbuf_puts(&out->text, ev.text);
            if (act) act(w, ++n_tok, out);
        } else if (ev.kind == WEV_ERROR) {
            snprintf(out->err, sizeof out->err, "%s", ev.text);
        } else if (ev.kind == WEV_NOTE) {
            snprintf(out->note, sizeof out->note, "%s", ev.text);
        } else if (ev.kind == WEV_PARAMS) {
            out->n_params++;
            out->params_at = ev.index;
        } else if (ev.kind == WEV_DONE) {
            if (ev.text) strbuf_puts(&out->text, ev.text);
            out->end = ev.end;
            out->n_past = ev.n_past;
            out->n_prompt = ev.n_prompt;
            out->done_at = now_s();
            free(ev.text);
            strbuf_puts(&out->text, "");
            return;
        }
        free(ev.text);
    }
}

/* The last line of the request log (the server writes it before answering). */
static char *last_request(const char *path_part)
{
    size_t n;
    char *all = t_read_file(log_path, &n);
    if (!all) return NULL;
    char *best = NULL;
    for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, path_part)) best = line;
    char *r = best ? strdup(best) : NULL;
    free(all);
    return r;
}

static void stop_at_1(worker *w, int n, run *r)
{
    if (n == 1) worker_stop(w);
}

static void test_stream(void)
{
    worker *w = open_worker("ok", 0);
    T_ASSERT(w);
    run r;
    ask(w, &r, NULL);
    T_EQ_STR(r.err, "");
    T_EQ_STR(r.text.s, "Hello, world!");
    T_EQ_INT(r.end, GEN_END_EOG);
    remote *rm = worker_remote(w);
    T_EQ_STR(remote_served_model(rm), "served-model-1");
    T_EQ_STR(remote_fingerprint(rm), "fp-test-42");
    /* The fields went as asked; the key only as the header. */
    char *req = last_request("\"/v1/chat/completions\"");
    T_ASSERT(req);
    T_CHECK(strstr(req, "\"auth\": \"ok\""));
    T_CHECK(strstr(req, "\"stream\": true"));
    T_CHECK(strstr(req, "\"seed\": 5"));
    T_CHECK(strstr(req, "\"top_k\": 40"));
    T_CHECK(strstr(req, "\"role\": \"system\", \"content\": \"Be brief.\""));
    T_CHECK(!strstr(req, "sk-test-secret-7"));
    /* Candidates and the token count were asked for, and came: the first piece's, likeliest
     * first, and the server's usage on DONE. */
    T_CHECK(strstr(req, "\"logprobs\": true, \"top_logprobs\": 10"));
    T_CHECK(strstr(req, "\"include_usage\": true"));
    T_EQ_INT(r.n_cand0, 2);
    T_EQ_STR(r.cand0[0], "Hello");
    T_EQ_STR(r.cand0[1], "Bye");
    T_NEAR(r.p0[0], 0.9, 1e-5);
    T_NEAR(r.p0[1], 0.05, 1e-5);
    T_EQ_INT(r.n_past, 10);
    T_EQ_INT(r.n_prompt, 7);
    free(req);
    strbuf_free(&r.text);
    worker_free(w);

    /* A server that sends no logprobs: no candidates (the view says so), no made-up ones. */
    w = open_worker("slow", 0);
    T_ASSERT(w);
    ask(w, &r, stop_at_1);
    T_EQ_INT(r.n_cand0, 0);
    T_EQ_INT(r.n_past, 0);
    strbuf_free(&r.text);
    worker_free(w);

    w = open_worker("length", 0);
    T_ASSERT(w);
    ask(w, &r, NULL);
    T_EQ_INT(r.end, GEN_END_LENGTH); /* finish_reason "length" */
    strbuf_free(&r.text);
    worker_free(w);
}

static void stop_at_3(worker *w, int n, run *r)
{
    if (n == 3) worker_stop(w);
}

static void test_cancel(void)
{
    worker *w = open_worker("slow", 0); /* a piece every 0.2 s */
    T_ASSERT(w);
    run r;
    ask(w, &r, stop_at_3);
    T_EQ_INT(r.end, GEN_END_STOPPED);
    T_EQ_STR(r.err, "");
    T_CHECK(!strncmp(r.text.s, "w0 w1 w2 ", 9)); /* what came is kept */
    strbuf_free(&r.text);
    /* Esc while waiting for the first byte (a server that stalls): at once, not at the idle
     * timeout. */
    worker_free(w);
    w = open_worker("stall", 0);
    T_ASSERT(w);
    nt_chat_msg m = {NT_ROLE_USER, "hi"};
    worker_job j = {.params = nt_sampler_default_params(), .msgs = &m, .n_msgs = 1};
    T_ASSERT(worker_submit(w, &j) == NT_OK);
    worker_event ev;
    bool got = false;
    while (!got && worker_wait(w, &ev, 10000)) { /* the one piece, then silence */
        got = ev.kind == WEV_TOKEN;
        free(ev.text);
    }
    T_ASSERT(got);
    usleep(200000);
    double t0 = now_s();
    worker_stop(w);
    bool done = false;
    while (!done && worker_wait(w, &ev, 10000)) {
        done = ev.kind == WEV_DONE;
        if (done) T_EQ_INT(ev.end, GEN_END_STOPPED);
        free(ev.text);
    }
    T_CHECK(done);
    double took = now_s() - t0;
    if (took > 1.0) t_fail(__FILE__, __LINE__, "Esc took %.2f s", took);
    worker_free(w);
}

static void test_idle_timeout(void)
{
    worker *w = open_worker("stall", 600);
    T_ASSERT(w);
    run r;
    ask(w, &r, NULL);
    T_EQ_INT(r.end, GEN_END_ERROR);
    T_CHECK(strstr(r.err, "idle timeout"));
    T_EQ_STR(r.text.s, "waiting"); /* the partial answer is kept */
    strbuf_free(&r.text);
    worker_free(w);
}

static void change_at_2(worker *w, int n, run *r)
{
    if (n == 2) {
        nt_sampler_params p = nt_sampler_default_params();
        p.seed = 5;
        p.temperature = 0.25f;
        worker_set_params(w, &p);
    }
}

static void test_continue(void)
{
    worker *w = open_worker("slow", 0);
    T_ASSERT(w);
    run r;
    ask(w, &r, change_at_2);
    T_EQ_STR(r.err, "");
    T_EQ_STR(r.note, "");
    T_EQ_INT(r.n_params, 1);
    T_EQ_INT(r.params_at, 2);
    T_EQ_STR(r.text.s, "w0 w1  and then more"); /* the same answer, continued */
    T_EQ_INT(r.end, GEN_END_EOG);
    char *req = last_request("\"/v1/completions\"");
    T_ASSERT(req);
    /* ChatML (the server's /props), then the answer so far. */
    T_CHECK(strstr(req, "\"prompt\": \"<|im_start|>system\\nBe brief.<|im_end|>\\n<|im_start|>user\\n"
                        "hi<|im_end|>\\n<|im_start|>assistant\\nw0 w1 \""));
    T_CHECK(strstr(req, "\"temperature\": 0.25"));
    T_CHECK(strstr(req, "\"seed\": 5"));
    free(req);
    strbuf_free(&r.text);
    worker_free(w);

    /* A server without /completions: said once, the answer goes on as it was. */
    w = open_worker("nocont", 0);
    T_ASSERT(w);
    ask(w, &r, change_at_2);
    T_EQ_STR(r.err, "");
    T_CHECK(strstr(r.note, "cannot continue"));
    T_CHECK(strstr(r.note, "next answer"));
    T_EQ_INT(r.n_params, 0);
    T_CHECK(strstr(r.text.s, "w19 ") != NULL);
    T_EQ_INT(r.end, GEN_END_EOG);
    strbuf_free(&r.text);
    worker_free(w);
}

static void test_strict_server(void)
{
    worker *w = open_worker("strict", 0);
    T_ASSERT(w);
    run r;
    ask(w, &r, NULL);
    T_EQ_STR(r.err, "");
    T_EQ_STR(r.text.s, "Hello, world!");
    char *req = last_request("\"/v1/chat/completions\"");
    T_ASSERT(req);
    T_CHECK(!strstr(req, "top_k")); /* asked again without the extras */
    T_CHECK(strstr(req, "\"logprobs\": true")); /* which was enough */
    T_CHECK(strstr(req, "\"temperature\""));
    free(req);
    strbuf_free(&r.text);
    worker_free(w);

    /* One that refuses logprobs too: asked a third time without the optional fields. */
    w = open_worker("nologprobs", 0);
    T_ASSERT(w);
    ask(w, &r, NULL);
    T_EQ_STR(r.err, "");
    T_EQ_STR(r.text.s, "Hello, world!");
    T_EQ_INT(r.n_cand0, 0);
    req = last_request("\"/v1/chat/completions\"");
    T_ASSERT(req);
    T_CHECK(!strstr(req, "\"logprobs\":") && !strstr(req, "top_k") && !strstr(req, "stream_options"));
    free(req);
    strbuf_free(&r.text);
    worker_free(w);
}

static void test_remote_chat(void)
{
    /* A remote chat's job is the conversation as messages: system prompt, turns, question. */
    chat *c = chat_init(NULL, NT_CHAT_CHATML, 0);
    T_ASSERT(c);
    T_ASSERT(chat_set_system(c, "sys") == NT_OK);
    T_ASSERT(chat_add_user(c, "q1") == NT_OK);
    worker_job j;
    nt_err e = {0};
    nt_sampler_params p = nt_sampler_default_params();
    T_ASSERT(chat_prepare(c, &p, 0, &j, NULL, &e) == NT_OK);
    T_EQ_INT(j.n_msgs, 2);
    T_EQ_INT(j.n_tokens, 0);
    T_EQ_STR(j.msgs[0].content, "sys");
    T_EQ_INT(j.msgs[1].role, NT_ROLE_USER);
    T_EQ_INT(j.n_stop, 0); /* the server's template ends its turns */
    worker_event ev = {.kind = WEV_TOKEN, .text = "A1"};
    chat_apply(c, &ev);
    ev = (worker_event){.kind = WEV_DONE, .end = GEN_END_EOG};
    chat_apply(c, &ev);
    T_ASSERT(chat_add_user(c, "q2") == NT_OK);
    T_ASSERT(chat_prepare(c, &p, 0, &j, NULL, &e) == NT_OK);
    T_EQ_INT(j.n_msgs, 4);
    T_EQ_STR(j.msgs[2].content, "A1");
    T_EQ_INT(j.msgs[2].role, NT_ROLE_ASSISTANT);
    int32_t n = -1;
    T_ASSERT(chat_count_fixed(c, &n, &e) == NT_OK);
    T_EQ_INT(n, 0);

    /* Retrieved passages go to the server in the system message, all of them, and are the
     * answer's sources; a no-passage notice goes alone. */
    ev = (worker_event){.kind = WEV_TOKEN, .text = "A2"};
    chat_apply(c, &ev);
    ev = (worker_event){.kind = WEV_DONE, .end = GEN_END_EOG};
    chat_apply(c, &ev);
    T_ASSERT(chat_add_user(c, "q3") == NT_OK);
    chat_source src[2] = {{.path = "a.md", .title = "A", .text = "alpha", .line_a = 1, .line_b = 2},
                          {.path = "b.md", .title = "", .text = "beta", .line_a = 5, .line_b = 5}};
    T_ASSERT(chat_set_candidates(c, src, 2, "Documents:") == NT_OK);
    T_ASSERT(chat_prepare(c, &p, 0, &j, NULL, &e) == NT_OK);
    T_EQ_STR(j.msgs[0].content, "sys\n\nDocuments:\n\n=== Passage 1: a.md:1-2 (A) ===\nalpha\n"
                                "=== End of passage 1 ===\n\n=== Passage 2: b.md:5 ===\nbeta\n"
                                "=== End of passage 2 ===");
    const chat_turn *a = chat_turn_at(c, chat_n_turns(c) - 1);
    T_EQ_INT(a->n_sources, 2);
    T_CHECK(a->n_sources == 2 && !strcmp(a->sources[1].path, "b.md"));
    ev = (worker_event){.kind = WEV_TOKEN, .text = "A3"};
    chat_apply(c, &ev);
    ev = (worker_event){.kind = WEV_DONE, .end = GEN_END_EOG};
    chat_apply(c, &ev);
    T_ASSERT(chat_add_user(c, "q4") == NT_OK);
    T_ASSERT(chat_set_candidates(c, NULL, 0, "=== No passage: the documents do not mention q4 ===") == NT_OK);
    T_ASSERT(chat_prepare(c, &p, 0, &j, NULL, &e) == NT_OK);
    T_EQ_STR(j.msgs[0].content, "sys\n\n=== No passage: the documents do not mention q4 ===");
    a = chat_turn_at(c, chat_n_turns(c) - 1);
    char *notice = chat_turn_notice(a);
    T_EQ_STR(notice ? notice : "(none)", "No passage: the documents do not mention q4");
    free(notice);
    chat_free(c);
}

int main(void)
{
    T_RUN(test_remote_chat);
    if (!server_start()) {
        t_begin("test_remote_server");
        t_skip("python3 (for tests/remote_server.py) is not available");
        t_end();
        return t_done();
    }
    T_RUN(test_stream);
    T_RUN(test_cancel);
    T_RUN(test_idle_timeout);
    T_RUN(test_continue);
    T_RUN(test_strict_server);
    server_stop();
    return t_done();
}
