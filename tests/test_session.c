/* Tests for app/conv/session.c and app/conv/replay.c: the YAML writer and reader round-trip every field
 * and every odd text byte for byte; corrupt, truncated and foreign files are rejected with exact
 * `file:line:col` messages and never overwritten; saves are atomic and private; and a replay of
 * a real conversation on stories260K (temperature > 0, live slider changes in the middle of
 * answers, a regenerated answer, a stopped one) gives the recorded tokens exactly, with 1 and
 * with 2 threads. The replay test skips when the fixture is absent.
 *
 * Also a helper for tests/test_session.sh: `test_session --save-loop FILE` saves ever newer
 * versions of a session to FILE until killed (creating FILE.ready after the first), and `test_session --check-version FILE` checks
 * that FILE is one whole version (exit 0) and prints its number. */
#include "conv/chat.h"
#include "conv/params.h"
#include "conv/replay.h"
#include "conv/session.h"
#include "conv/worker.h"
#include "natter.h"
#include "t.h"
#include "t_models.h"
#include "util/strbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORIES "models/stories260K.gguf"

/* ------------------------------------------------------------------ odd texts ----- */

static const char *const odd[] = {
    "plain question",
    "",
    "quotes \" and ' and \\ backslash and \\n not a newline",
    "line one\nline two\n",
    "two trailing newlines\n\n",
    "\n\nleading newlines",
    "  leading spaces\nand a second line",
    "\tleading tab\n x",
    "---\n...\n--- not a document\n# not a comment\n%YAML 1.1",
    "unicode: é ü 日本語 🙂 \xc2\xa0(nbsp) e\xcc\x81 (combining)",
    "control: \x01\x02\x1b[31mred\x1b[0m \x7f del \x0b\x0c",
    "C1 \xc2\x85 NEL, LS \xe2\x80\xa8 PS \xe2\x80\xa9, BOM \xef\xbb\xbf, \xef\xbf\xbf",
    "trailing spaces   \nline  ",
    "   \n  \n",
    "line\n   \nafter a blank-only line\n",
    "crlf\r\nline\r\n",
    "ends with space ",
    "key: value\n- item\n? question\n: answer",
    "invalid utf8 \xff\xfe here \xc3",
    "|\n>",
    "\n",
    " ",
    "multi\n\n\nparagraphs\n\n\n",
    "null",
    "123",
    "[1, 2]",
    "{a: b}",
    "&anchor *alias !tag",
};
#define N_ODD (sizeof odd / sizeof odd[0])

/* Makes s->turns one line of turns, each after the one before it (no alternatives). */
static void turns_linear(session *s)
{
    for (size_t i = 0; i < s->n_turns; i++) {
        s->turns[i].parent = i ? i - 1 : CHAT_ROOT;
        s->turns[i].current = true;
    }
}

static void turn_set_text(chat_turn *t, const char *s)
{
    free(t->text);
    t->text = strdup(s);
    t->len = strlen(s);
    t->cap = t->len + 1;
}

/* Stop string k of a full set at the limits: GEN_STOP_LEN - 1 bytes each, distinct, in
 * turns ASCII with characters YAML must escape, 3-byte UTF-8 characters, and bytes that are
 * not UTF-8 (written as !!binary). */
static void long_stop(char *buf, size_t k)
{
    static const char *const units[] = {"q\"\\\n \t:", "\xe6\x97\xa5\xe6\x9c\xac", "\xff\xfe\x80"};
    const char *u = units[k % 3];
    size_t n = 0, ul = strlen(u);
    buf[n++] = (char)('a' + k);
    while (n + ul <= GEN_STOP_LEN - 1) {
        memcpy(buf + n, u, ul);
        n += ul;
    }
    while (n < GEN_STOP_LEN - 1) buf[n++] = 'z';
    buf[n] = '\0';
}

/* A session with every kind of field: odd texts, changes (several parameters at one index, a
 * seed change), stop strings (as many and as long as allowed too), every end reason, a very
 * long line. */
static session *make_session(void)
{
    session *s = session_init();
    if (!s) return NULL;
    s->created = 1767225600; /* 2026-01-01T00:00:00Z */
    s->updated = 1767229261;
    s->model.file = strdup("model \"x\".gguf");
    s->model.path = strdup("/models/with space/model \"x\".gguf");
    s->model.arch = strdup("llama");
    s->model.name = strdup("yes");
    s->model.size = 1234567890123ull;
    s->model.hash = 0xfedcba9876543210ull;
    s->persona = strdup("tutor: the \"best\"");
    free(s->system);
    s->system = strdup("You are\n  helpful.\n---\n");
    s->n_ctx = 2048;
    s->family = NT_CHAT_CHATML;
    s->raw = true;
    s->first = 2;
    s->n_examples = 3;
    s->examples = calloc(3, sizeof *s->examples);
    s->examples[0] = (session_example){NT_ROLE_USER, strdup("Example\nquestion?")};
    s->examples[1] = (session_example){NT_ROLE_ASSISTANT, strdup(" example answer ")};
    s->examples[2] = (session_example){NT_ROLE_USER, strdup("")};
    s->greeting = strdup("Hello!\n\nAsk me.");
    size_t n = 2 * (N_ODD + 1);
    s->turns = calloc(n, sizeof *s->turns);
    s->n_turns = n;
    turns_linear(s);
    for (size_t i = 0; i < n; i++) {
        chat_turn *t = &s->turns[i];
        t->role = i % 2 ? NT_ROLE_ASSISTANT : NT_ROLE_USER;
        t->time = 1767225600 + (int64_t)i * 61;
        if (i / 2 < N_ODD) {
            turn_set_text(t, odd[(i / 2 + (i % 2) * 7) % N_ODD]);
        } else {
            /* A very long line. */
            size_t L = 100000;
            char *big = malloc(L + 1);
            for (size_t k = 0; k < L; k++) big[k] = "abc def\"\\"[k % 9];
            big[L] = 0;
            turn_set_text(t, big);
            free(big);
        }
        if (t->role != NT_ROLE_ASSISTANT) continue;
        t->params = nt_sampler_default_params();
        t->params.seed = 18446744073709551615ull - i;
        t->params.temperature = 0.1f * (float)(i % 13);
        t->params.top_p = 0.9f;
        t->params.min_p = 1.0f / 3.0f; /* not short in decimal */
        t->complete = true;
        t->end = (enum gen_end)(i / 2 % 5);
        t->stop_text = t->end == GEN_END_EOG && i % 4 == 1;
        if (t->end == GEN_END_ERROR) t->error = strdup("worker: something\nfailed");
        t->max_tokens = 512;
        if (i % 4 == 1) {
            const char *st[] = {"\nUser:", "\"quoted\" \xe2\x9c\x93", "bad \xff byte"};
            T_EQ_INT(chat_turn_set_stops(t, st, 3), NT_OK);
        } else if (i % 8 == 3) {
            static char buf[GEN_MAX_STOP][GEN_STOP_LEN];
            const char *st[GEN_MAX_STOP];
            for (size_t k = 0; k < GEN_MAX_STOP; k++) {
                long_stop(buf[k], k + i);
                st[k] = buf[k];
            }
            T_EQ_INT(chat_turn_set_stops(t, st, GEN_MAX_STOP), NT_OK);
        }
        t->n_prompt = 17;
        t->prompt_sec = 0.25;
        t->gen_sec = 1.5;
        t->first = i / 3;
        for (int k = 0; k < 30 + (int)i; k++) nt_tokens_push(&t->tokens, (k * 7919 + (int)i) % 32000);
        t->n_gen = (int32_t)t->tokens.n;
        if (i % 3 != 0) {
            t->n_changes = 3;
            t->changes = calloc(3, sizeof *t->changes);
            nt_sampler_params p = t->params;
            p.temperature = 1.25f;
            p.top_k = 7;
            t->changes[0] = (chat_change){0, p};
            p.seed = 42;
            p.repeat_last_n = -1;
            t->changes[1] = (chat_change){5, p};
            p.presence_penalty = -0.5f;
            p.frequency_penalty = 0.3f;
            p.repeat_penalty = 1.1f;
            p.min_p = 0;
            t->changes[2] = (chat_change){12, p};
        }
        t->prompt_len = 100 + (int32_t)i;
    }
    return s;
}

/* Every sampler parameter bit for bit (field by field: the struct may have padding). */
static bool same_params(const nt_sampler_params *a, const nt_sampler_params *b)
{
    const param_values x = {.sp = *a}, y = {.sp = *b};
    for (size_t i = 0; i < PARAM_COUNT; i++)
        if (param_is_sampler(&param_defs[i]) && !param_equal(&param_defs[i], &x, &y)) return false;
    return true;
}

/* Compares every saved field. */
static void check_same(const session *a, const session *b)
{
    T_EQ_INT(a->created, b->created);
    T_EQ_INT(a->updated, b->updated);
    T_EQ_STR(a->model.file, b->model.file);
    T_EQ_STR(a->model.path, b->model.path);
    T_EQ_STR(a->model.arch, b->model.arch);
    T_EQ_STR(a->model.name, b->model.name);
    T_CHECK(a->model.size == b->model.size);
    T_CHECK(session_model_hash(&a->model) == session_model_hash(&b->model));
    T_EQ_INT(a->model.hash_v1, b->model.hash_v1);
    T_EQ_STR(a->persona ? a->persona : "(none)", b->persona ? b->persona : "(none)");
    T_EQ_STR(a->system, b->system);
    T_EQ_INT(a->n_examples, b->n_examples);
    for (size_t i = 0; i < a->n_examples && i < b->n_examples; i++) {
        T_EQ_INT(a->examples[i].role, b->examples[i].role);
        T_EQ_STR(a->examples[i].text, b->examples[i].text);
    }
    T_EQ_STR(a->greeting ? a->greeting : "(none)", b->greeting ? b->greeting : "(none)");
    T_EQ_INT(a->n_ctx, b->n_ctx);
    T_EQ_INT(a->family, b->family);
    T_EQ_INT(a->raw, b->raw);
    T_EQ_INT(a->first, b->first);
    T_EQ_INT(a->n_turns, b->n_turns);
    for (size_t i = 0; i < a->n_turns && i < b->n_turns; i++) {
        const chat_turn *x = &a->turns[i], *y = &b->turns[i];
        T_EQ_INT(x->role, y->role);
        T_EQ_INT(x->time, y->time);
        if (strcmp(x->text, y->text) != 0) t_fail(__FILE__, __LINE__, "message %zu: text differs", i + 1);
        T_EQ_INT(x->len, y->len);
        if (x->role != NT_ROLE_ASSISTANT) continue;
        T_CHECK(same_params(&x->params, &y->params));
        T_EQ_INT(x->n_changes, y->n_changes);
        for (size_t k = 0; k < x->n_changes && k < y->n_changes; k++) {
            T_EQ_INT(x->changes[k].index, y->changes[k].index);
            T_CHECK(same_params(&x->changes[k].params, &y->changes[k].params));
        }
        T_EQ_INT(x->end, y->end);
        T_EQ_INT(x->stop_text, y->stop_text);
        T_EQ_STR(x->error ? x->error : "", y->error ? y->error : "");
        T_EQ_INT(x->max_tokens, y->max_tokens);
        T_EQ_INT(x->n_stop, y->n_stop);
        for (size_t k = 0; k < x->n_stop && k < y->n_stop; k++)
            if (strcmp(x->stop[k], y->stop[k]) != 0)
                t_fail(__FILE__, __LINE__, "message %zu: stop string %zu differs", i + 1, k + 1);
        T_EQ_INT(x->n_prompt, y->n_prompt);
        T_NEAR(x->prompt_sec, y->prompt_sec, 1e-3);
        T_NEAR(x->gen_sec, y->gen_sec, 1e-3);
        T_EQ_INT(x->first, y->first);
        T_EQ_INT(x->tokens.n, y->tokens.n);
        T_CHECK(x->tokens.n == y->tokens.n &&
                (x->tokens.n == 0 || memcmp(x->tokens.v, y->tokens.v, x->tokens.n * 4) == 0));
        T_EQ_INT(x->prompt_len, y->prompt_len);
    }
}

static void print_diag(const ycfg_diag *d)
{
    for (size_t i = 0; i < d->n; i++) fprintf(stderr, "  diag: %s\n", d->v[i]);
}

static void test_roundtrip(void)
{
    session *s = make_session();
    T_ASSERT(s);
    size_t len;
    char *y = session_to_yaml(s, &len);
    T_ASSERT(y);
    session *r = NULL;
    ycfg_diag d = {0};
    /* The model's identity is nt_gguf_model_hash's, written as xxh3:. */
    T_CHECK(strstr(y, "\n  hash: xxh3:fedcba9876543210\n") != NULL);
    int rc = session_parse(&r, "rt.yaml", y, len, &d);
    if (rc != NT_OK) print_diag(&d);
    T_EQ_INT(rc, NT_OK);
    if (r) {
        check_same(s, r);
        /* Writing what was read gives the same bytes: nothing drifts across saves. */
        size_t len2;
        char *y2 = session_to_yaml(r, &len2);
        T_CHECK(y2 && len2 == len && memcmp(y, y2, len) == 0);
        free(y2);
    }
    /* Diff-friendly: multi-line texts are blocks, nothing is folded. The layout is
     * libyaml's emitter's: a list is not indented under its key. */
    T_CHECK(strstr(y, "  text: |\n    line one\n    line two\n") != NULL);
    T_CHECK(strstr(y, "  text: |-\n    ---\n    ...\n") != NULL);
    T_CHECK(strstr(y, "  text: |2-\n      leading spaces\n") != NULL);
    T_CHECK(strstr(y, "text: !!binary ") != NULL);
    T_CHECK(strstr(y, "{at: 5, param: seed, value: 42}") != NULL);
    T_CHECK(strstr(y, "min-p: 0.33333334") != NULL);
    T_CHECK(strstr(y, "  prompt_length: 101\n") != NULL);
    T_CHECK(strstr(y, "  stop: [\"\\nUser:\", \"\\\"quoted\\\" \xe2\x9c\x93\", !!binary ") != NULL);
    T_CHECK(strstr(y, "  stop: []\n") != NULL);
    /* A full set of long strings takes a line each. */
    T_CHECK(strstr(y, "  stop:\n  - \"dq\\\"\\\\\\n \\t:q") != NULL);
    T_CHECK(strstr(y, "  - !!binary ") != NULL);
    ycfg_diag_free(&d);
    session_free(r);
    session_free(s);
    free(y);
}

static void test_save_private_atomic(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/priv.yaml", t_tmpdir());
    session *s = make_session();
    T_ASSERT(s);
    nt_err e = {0};
    T_EQ_INT(session_save(s, path, &e), NT_OK);
    struct stat st;
    T_ASSERT(stat(path, &st) == 0);
    T_EQ_INT(st.st_mode & 0777, 0600);
    T_EQ_STR(s->path, path);
    session *r = NULL;
    ycfg_diag d = {0};
    T_EQ_INT(session_load(&r, path, NULL, &d), NT_OK);
    if (r) {
        check_same(s, r);
        T_EQ_STR(r->path, path);
    }
    /* No temporary files left behind. */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c tmp > /dev/null", t_tmpdir());
    T_CHECK(system(cmd) != 0);
    ycfg_diag_free(&d);
    session_free(r);
    session_free(s);
}

/* ------------------------------------------------------------- corrupt files ----- */

static const char *const good =
    "natter-session: 1\n"                                  /* 1 */
    "created: 2026-01-01T00:00:00Z\n"                      /* 2 */
    "updated: 2026-01-01T00:00:00Z\n"                      /* 3 */
    "model:\n"                                             /* 4 */
    "  file: m.gguf\n"                                     /* 5 */
    "  size: 10\n"                                         /* 6 */
    "  hash: fnv1a64:0000000000000001\n"                   /* 7 */
    "template: plain\n"                                    /* 8 */
    "context: 256\n"                                       /* 9 */
    "message_count: 2\n"                                   /* 10 */
    "messages:\n"                                          /* 11 */
    "  - role: user\n"                                     /* 12 */
    "    text: \"hi\"\n"                                   /* 13 */
    "  - role: assistant\n"                                /* 14 */
    "    text: \" hello\"\n"                               /* 15 */
    "    seed: 5\n"                                        /* 16 */
    "    params: {temp: 0.8, top-k: 40, top-p: 0.95, min-p: 0.05, repeat-penalty: 1, "
    "repeat-last-n: 64, presence-penalty: 0, frequency-penalty: 0}\n" /* 17 */
    "    end: eog\n"                                       /* 18 */
    "    tokens: [1, 2]\n"                                 /* 19 */
    "complete: true\n";                                    /* 20 */

/* good with the first occurrence of from replaced by to. */
static char *edit(const char *from, const char *to)
{
    const char *p = strstr(good, from);
    if (!p) return NULL;
    size_t a = (size_t)(p - good), fl = strlen(from), tl = strlen(to), n = strlen(good);
    char *s = malloc(n - fl + tl + 1);
    memcpy(s, good, a);
    memcpy(s + a, to, tl);
    memcpy(s + a + tl, p + fl, n - a - fl + 1);
    return s;
}

/* Parses text and checks the first diagnostic is exactly want. */
static void expect_error(const char *text, const char *want)
{
    session *s = NULL;
    ycfg_diag d = {0};
    int rc = session_parse(&s, "bad.yaml", text, strlen(text), &d);
    T_EQ_INT(rc, NT_ERR_FORMAT);
    T_CHECK(s == NULL);
    T_CHECK(d.n >= 1);
    if (d.n >= 1) T_EQ_STR(d.v[0], want);
    ycfg_diag_free(&d);
    session_free(s);
}

/* session_model_same: current hashes compare as hashes; an older natter's hash (hash_v1)
 * can only be matched by file name and size. */
static void test_model_identity(void)
{
    session_model a = {.file = "m.gguf", .size = 10, .hash = 7};
    session_model b = a;
    T_CHECK(session_model_same(&a, &b));
    b.file = "renamed.gguf"; /* the hash is the identity: the name does not matter */
    T_CHECK(session_model_same(&a, &b));
    b.hash = 8;
    T_CHECK(!session_model_same(&a, &b));
    session_model old = {.file = "m.gguf", .size = 10, .hash = 99, .hash_v1 = true};
    T_CHECK(session_model_same(&a, &old));
    old.size = 11;
    T_CHECK(!session_model_same(&a, &old));
    char buf[32];
    session_model_hash_text(&a, buf);
    T_EQ_STR(buf, "xxh3:0000000000000007");
    session_model_hash_text(&old, buf);
    T_EQ_STR(buf, "fnv1a64:0000000000000063");
}

static void test_corrupt(void)
{
    session *s = NULL;
    ycfg_diag d = {0};
    T_EQ_INT(session_parse(&s, "good.yaml", good, strlen(good), &d), NT_OK);
    print_diag(&d);
    T_ASSERT(s);
    /* An older natter's fnv1a64 hash still reads, marked as such, and is written back as it was. */
    T_CHECK(s->model.hash == 1 && s->model.hash_v1);
    char *back = session_to_yaml(s, NULL);
    T_CHECK(back && strstr(back, "\n  hash: fnv1a64:0000000000000001\n") != NULL);
    free(back);
    T_EQ_INT(s->n_turns, 2);
    T_EQ_INT(s->turns[1].tokens.n, 2);
    /* No 'stop' key: the plain template's own stop string. */
    T_EQ_INT(s->turns[1].n_stop, 1);
    if (s->turns[1].n_stop == 1) T_EQ_STR(s->turns[1].stop[0], "\nUser:");
    session_free(s);
    ycfg_diag_free(&d);
    /* A file from before the limits were raised (at most 3 strings of at most 31 bytes)
     * reads as it did. */
    char *old = edit("    end: eog\n", "    end: eog\n    stop: [\"\\nUser:\", \"###\", "
                                      "\"0123456789012345678901234567890\"]\n");
    s = NULL;
    T_EQ_INT(session_parse(&s, "old.yaml", old, strlen(old), &d), NT_OK);
    print_diag(&d);
    ycfg_diag_free(&d);
    T_ASSERT(s);
    T_EQ_INT(s->turns[1].n_stop, 3);
    if (s->turns[1].n_stop == 3) {
        T_EQ_STR(s->turns[1].stop[0], "\nUser:");
        T_EQ_STR(s->turns[1].stop[1], "###");
        T_EQ_STR(s->turns[1].stop[2], "0123456789012345678901234567890");
    }
    session_free(s);
    free(old);
    /* An empty list stays empty (an answer written with no stop string). */
    old = edit("    end: eog\n", "    end: eog\n    stop: []\n");
    s = NULL;
    T_EQ_INT(session_parse(&s, "old.yaml", old, strlen(old), &d), NT_OK);
    ycfg_diag_free(&d);
    T_ASSERT(s);
    T_EQ_INT(s->turns[1].n_stop, 0);
    session_free(s);
    free(old);

    char *t;
    /* Beyond the limits: refused with the place, never cut. */
    {
        char long_s[GEN_STOP_LEN + 1], line[512], with[600], want[1200];
        memset(long_s, 'x', GEN_STOP_LEN);
        long_s[GEN_STOP_LEN] = '\0';
        snprintf(line, sizeof line, "    stop: [\"\\nUser:\", \"%s\"]", long_s);
        snprintf(with, sizeof with, "    end: eog\n%s\n", line);
        snprintf(want, sizeof want, "bad.yaml:19:23: items of 'stop' must have at most 255 "
                                    "bytes, not 256\n%s\n%22s^", line, "");
        expect_error(t = edit("    end: eog\n", with), want);
        free(t);
        /* The same as !!binary: 256 bytes 0xFF are 85 times "////" and "/w==". */
        char b64[400] = "";
        for (int k = 0; k < 85; k++) strcat(b64, "////");
        strcat(b64, "/w==");
        snprintf(line, sizeof line, "    stop: [!!binary \"%s\"]", b64);
        snprintf(with, sizeof with, "    end: eog\n%s\n", line);
        /* (A line this long is quoted as 160 characters around the column.) */
        snprintf(want, sizeof want, "bad.yaml:19:12: items of 'stop' must have at most 255 "
                                    "bytes, not 256\n%.160s...\n%11s^", line, "");
        expect_error(t = edit("    end: eog\n", with), want);
        free(t);
    }
    expect_error(t = edit("    end: eog\n", "    end: eog\n    stop: [\"\\nUser:\", \"\"]\n"),
                 "bad.yaml:19:23: items of 'stop' must not be empty\n"
                 "    stop: [\"\\nUser:\", \"\"]\n"
                 "                      ^");
    free(t);
    {
        char line[256] = "    stop: [", with[300], want[700];
        for (int k = 0; k < GEN_MAX_STOP + 1; k++)
            snprintf(line + strlen(line), sizeof line - strlen(line), "%ss%02d", k ? ", " : "", k);
        strcat(line, "]");
        snprintf(with, sizeof with, "    end: eog\n%s\n", line);
        /* Reported at the first string too many: "    stop: [" and 17 of "sNN, ". */
        snprintf(want, sizeof want, "bad.yaml:19:%d: 'stop' must have at most 17 strings, not 18\n"
                                    "%s\n%*s^", 12 + 5 * GEN_MAX_STOP, line,
                 11 + 5 * GEN_MAX_STOP, "");
        expect_error(t = edit("    end: eog\n", with), want);
        free(t);
    }

    expect_error(t = edit("natter-session: 1", "natter-session: 7"),
                 "bad.yaml:1:17: unsupported session version 7 (this natter reads version 1)\n"
                 "natter-session: 7\n"
                 "                ^");
    free(t);
    expect_error("name: tutor\nsystem: You are a tutor.\n",
                 "bad.yaml:1:1: not a natter session (no 'natter-session' key)\n"
                 "name: tutor\n"
                 "^");
    expect_error("- 1\n- 2\n",
                 "bad.yaml:1:1: not a natter session (the file must be a mapping with a "
                 "'natter-session' key, not a list)\n"
                 "- 1\n"
                 "^");
    expect_error(t = edit("context: 256", "context: big"),
                 "bad.yaml:9:10: 'context' must be a whole number, not 'big'\n"
                 "context: big\n"
                 "         ^");
    free(t);
    expect_error(t = edit("    seed: 5", "    sed: 5"),
                 "bad.yaml:16:5: unknown key 'sed' (did you mean 'seed'?)\n"
                 "    sed: 5\n"
                 "    ^");
    free(t);
    expect_error(t = edit("tokens: [1, 2]", "tokens: [1, -2]"),
                 "bad.yaml:19:17: each item of 'tokens' must be a token id (a whole number from 0)\n"
                 "    tokens: [1, -2]\n"
                 "                ^");
    free(t);
    expect_error(t = edit("temp: 0.8", "temp: \"0.8\""),
                 "bad.yaml:17:20: 'temp' must be a number, not a quoted string\n"
                 "    params: {temp: \"0.8\", top-k: 40, top-p: 0.95, min-p: 0.05, repeat-penalty: 1, "
                 "repeat-last-n: 64, presence-penalty: 0, frequency-penalty: 0}\n"
                 "                   ^");
    free(t);
    expect_error(t = edit("top-p: 0.95", "top-p: 1.5x"),
                 "bad.yaml:17:43: 'top-p': '1.5x' is not a number\n"
                 "    params: {temp: 0.8, top-k: 40, top-p: 1.5x, min-p: 0.05, repeat-penalty: 1, "
                 "repeat-last-n: 64, presence-penalty: 0, frequency-penalty: 0}\n"
                 "                                          ^");
    free(t);
    expect_error(t = edit("  - role: assistant", "  - role: user"),
                 "bad.yaml:14:5: message 2 must be an answer (role: assistant) (questions and "
                 "answers alternate, a question first)\n"
                 "  - role: user\n"
                 "    ^");
    free(t);
    expect_error(t = edit("end: eog", "end: done"),
                 "bad.yaml:18:10: 'end' must be eog, stop-string, length, stopped, context-full "
                 "or error, not done\n"
                 "    end: done\n"
                 "         ^");
    free(t);
    expect_error(t = edit("message_count: 2", "message_count: 3"),
                 "bad.yaml:10:16: 'message_count' is 3 but 'messages' holds 2 (is the file cut "
                 "short?)\n"
                 "message_count: 3\n"
                 "               ^");
    free(t);
    expect_error(t = edit("hash: fnv1a64:0000000000000001", "hash: 12"),
                 "bad.yaml:7:9: 'hash' must be xxh3: (or fnv1a64:) and 16 hex digits\n"
                 "  hash: 12\n"
                 "        ^");
    free(t);

    /* Truncated anywhere: only the whole file (with or without its final newline) reads. */
    size_t n = strlen(good);
    int accepted = 0;
    for (size_t cut = 0; cut <= n; cut++) {
        session *p = NULL;
        ycfg_diag dd = {0};
        int rc = session_parse(&p, "cut.yaml", good, cut, &dd);
        if (rc == NT_OK) {
            accepted++;
            T_CHECK(cut >= n - 1);
        } else {
            /* Every rejection names the place. */
            T_CHECK(dd.n >= 1 && strncmp(dd.v[0], "cut.yaml:", 9) == 0 &&
                    dd.v[0][9] >= '1' && dd.v[0][9] <= '9');
        }
        ycfg_diag_free(&dd);
        session_free(p);
    }
    T_EQ_INT(accepted, 2);
    /* A cut between two messages says what is missing. */
    char *cut = strndup(good, (size_t)(strstr(good, "  - role: assistant") - good));
    expect_error(cut, "bad.yaml:13:1: the file ends early: its last line must be 'complete: "
                      "true' (was it cut short?)\n"
                      "    text: \"hi\"\n"
                      "^");
    free(cut);
}

/* Corrupt files are never written over: an explicit save refuses, autosave picks a new name. */
static void test_corrupt_untouched(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/corrupt.yaml", t_tmpdir());
    const char *junk = "natter-session: 1\nmessages: [\n";
    FILE *f = fopen(path, "w");
    T_ASSERT(f);
    fputs(junk, f);
    fclose(f);

    session *s = make_session();
    T_ASSERT(s);
    nt_err e = {0};
    T_EQ_INT(session_save(s, path, &e), NT_ERR_INVALID);
    T_CHECK(strstr(e.msg, "not replaced") != NULL);
    size_t len;
    char *now = t_read_file(path, &len);
    T_CHECK(now && len == strlen(junk) && memcmp(now, junk, len) == 0);
    free(now);

    /* A load failure leaves the file as it was, too. */
    session *r = NULL;
    ycfg_diag d = {0};
    T_EQ_INT(session_load(&r, path, NULL, &d), NT_ERR_FORMAT);
    T_CHECK(d.n >= 1 && strncmp(d.v[0], path, strlen(path)) == 0);
    ycfg_diag_free(&d);

    /* Autosave whose target is that file: a new name in the sessions folder instead. */
    char xdg[512];
    snprintf(xdg, sizeof xdg, "%s/state", t_tmpdir());
    setenv("XDG_STATE_HOME", xdg, 1);
    chat *c = chat_init(NULL, NT_CHAT_PLAIN, 256);
    T_ASSERT(c);
    chat_turn q = {.role = NT_ROLE_USER, .text = "question"};
    /* An answer's parameters are in their ranges (sessions check them as /set does). */
    chat_turn a = {.role = NT_ROLE_ASSISTANT, .text = "answer", .complete = true,
                   .params = nt_sampler_default_params()};
    T_EQ_INT(chat_restore_turn(c, &q), NT_OK);
    T_EQ_INT(chat_restore_turn(c, &a), NT_OK);
    free(s->path);
    s->path = NULL;
    char *p0 = strdup(path);
    s->path = p0;
    /* session_save treats s->path as ours: model the "loaded and failed" case by refusing. */
    free(s->path);
    s->path = strdup("/nonexistent-dir/x.yaml");
    T_EQ_INT(session_save(s, path, &e), NT_ERR_INVALID);
    e.msg[0] = 0;
    free(s->path);
    s->path = NULL;
    T_EQ_INT(session_autosave(s, c, &e), NT_OK);
    T_CHECK(s->path && strncmp(s->path, xdg, strlen(xdg)) == 0);
    now = t_read_file(path, &len);
    T_CHECK(now && len == strlen(junk) && memcmp(now, junk, len) == 0);
    free(now);
    /* The sessions folder is private. */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/natter/sessions", xdg);
    struct stat st;
    T_CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    /* /sessions lists it with its first question. */
    int count = -2;
    char *list = session_cmd_list(&count);
    T_EQ_INT(count, 1);
    T_CHECK(list && strstr(list, "\"question\"") && strstr(list, "1 turn "));
    if (list && !strstr(list, "1 turn ")) fprintf(stderr, "%s", list);
    free(list);
    /* The latest session is found without a name. */
    char *latest = session_path(NULL);
    T_EQ_STR(latest, s->path);
    free(latest);
    unsetenv("XDG_STATE_HOME");
    chat_free(c);
    session_free(s);
}

/* /sessions with none saved, and with the sessions folder a file: one line saying which, and
 * a count telling the caller it is no list (the chat showed the list's header after it). */
static void test_list_none(void)
{
    char xdg[512], path[600];
    snprintf(xdg, sizeof xdg, "%s/none", t_tmpdir());
    setenv("XDG_STATE_HOME", xdg, 1);
    int count = -2;
    char *list = session_cmd_list(&count);
    T_EQ_INT(count, 0);
    T_CHECK(list && strncmp(list, "no saved sessions in ", 21) == 0 && !strchr(list, '\n'));
    free(list);
    snprintf(xdg, sizeof xdg, "%s/file", t_tmpdir());
    snprintf(path, sizeof path, "%s/natter", xdg);
    T_ASSERT(mkdir(xdg, 0700) == 0 && mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/natter/sessions", xdg);
    FILE *f = fopen(path, "w");
    T_ASSERT(f);
    fclose(f);
    setenv("XDG_STATE_HOME", xdg, 1);
    list = session_cmd_list(&count);
    T_EQ_INT(count, -1);
    T_CHECK(list && strstr(list, "is a file, not a folder") && !strchr(list, '\n'));
    free(list);
    unsetenv("XDG_STATE_HOME");
}

/* The entry points behind /save NAME, /load NAME and /sessions. */
static void test_command_entry_points(void)
{
    char xdg[512];
    snprintf(xdg, sizeof xdg, "%s/cmds", t_tmpdir());
    setenv("XDG_STATE_HOME", xdg, 1);
    chat *c = chat_init(NULL, NT_CHAT_CHATML, 512);
    T_ASSERT(c);
    chat_set_system(c, "Be brief.");
    chat_turn q = {.role = NT_ROLE_USER, .text = "What is 2+2?", .time = 1767225600};
    chat_turn a = {.role = NT_ROLE_ASSISTANT, .text = "4", .complete = true, .max_tokens = 9};
    a.params = nt_sampler_default_params();
    a.params.seed = 77;
    T_EQ_INT(chat_restore_turn(c, &q), NT_OK);
    T_EQ_INT(chat_restore_turn(c, &a), NT_OK);
    session *s = session_init();
    T_ASSERT(s);
    s->model.file = strdup("m.gguf");
    s->model.hash = 5;
    char msg[600];
    T_EQ_INT(session_cmd_save(s, c, "math", msg, sizeof msg), NT_OK);
    char want[1200];
    snprintf(want, sizeof want, "saved to %s/natter/sessions/math.yaml", xdg);
    T_EQ_STR(msg, want);
    T_EQ_STR(s->path, want + 9);
    /* Without a name: saves again where it is. */
    T_EQ_INT(session_cmd_save(s, c, NULL, msg, sizeof msg), NT_OK);
    T_EQ_STR(msg, want);

    /* /load into another conversation. */
    chat *c2 = chat_init(NULL, NT_CHAT_PLAIN, 512);
    chat_turn q2 = {.role = NT_ROLE_USER, .text = "old question"};
    chat_restore_turn(c2, &q2);
    session *s2 = session_init();
    s2->model.file = strdup("m.gguf");
    s2->model.hash = 5;
    char *m = NULL;
    T_EQ_INT(session_cmd_load(&s2, c2, "math", &m), NT_OK);
    T_CHECK(m && strstr(m, "loaded ") && strstr(m, "(2 messages)") && !strstr(m, "differ"));
    free(m);
    T_EQ_INT(chat_n_turns(c2), 2);
    T_EQ_STR(chat_turn_at(c2, 0)->text, "What is 2+2?");
    T_EQ_INT(chat_turn_at(c2, 1)->params.seed, 77);
    T_EQ_STR(chat_system(c2), "Be brief.");
    T_EQ_INT(chat_get_family(c2), NT_CHAT_CHATML);
    T_EQ_STR(s2->path, want + 9);

    /* A corrupt file: the diagnostics come back, nothing changes. */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/natter/sessions/bad.yaml", xdg);
    FILE *f = fopen(bad, "w");
    T_ASSERT(f);
    fputs("natter-session: 1\ncreated: yesterday\n", f);
    fclose(f);
    T_CHECK(session_cmd_load(&s2, c2, "bad", &m) != NT_OK);
    snprintf(want, sizeof want, "%s:2:10: 'created' must be a time like 2026-01-31T12:00:00Z\n"
                                "created: yesterday\n"
                                "         ^", bad);
    T_CHECK(m && strncmp(m, want, strlen(want)) == 0);
    if (m && strncmp(m, want, strlen(want))) fprintf(stderr, "%s\n", m);
    free(m);
    T_EQ_INT(chat_n_turns(c2), 2);
    T_CHECK(strstr(s2->path, "math.yaml") != NULL);

    /* /sessions: both, the broken one says why. */
    int count = -2;
    char *list = session_cmd_list(&count);
    T_EQ_INT(count, 2);
    T_CHECK(list && strstr(list, "math ") && strstr(list, "m.gguf") && strstr(list, "\"What is 2+2?\""));
    T_CHECK(list && strstr(list, "bad ") && strstr(list, "(unreadable: bad.yaml:2:10: 'created' must be"));
    free(list);
    unsetenv("XDG_STATE_HOME");
    session_free(s2);
    session_free(s);
    chat_free(c2);
    chat_free(c);
}

static void test_export(void)
{
    session *s = session_init();
    T_ASSERT(s);
    free(s->system);
    s->system = strdup("Be \"brief\".");
    s->model.file = strdup("m.gguf");
    s->n_turns = 2;
    s->turns = calloc(2, sizeof *s->turns);
    turns_linear(s);
    s->turns[0].role = NT_ROLE_USER;
    turn_set_text(&s->turns[0], "Hi\nthere");
    s->turns[1].role = NT_ROLE_ASSISTANT;
    turn_set_text(&s->turns[1], "Hello \xe2\x9c\x93");
    char *j = session_export_json(s, false);
    T_EQ_STR(j, "[\n"
                "  {\n    \"role\": \"system\",\n    \"content\": \"Be \\\"brief\\\".\"\n  },\n"
                "  {\n    \"role\": \"user\",\n    \"content\": \"Hi\\nthere\"\n  },\n"
                "  {\n    \"role\": \"assistant\",\n    \"content\": \"Hello \xe2\x9c\x93\"\n  }\n"
                "]\n");
    free(j);
    char *md = session_export_md(s, false);
    T_CHECK(md && strstr(md, "\n## User\n\nHi\nthere\n") && strstr(md, "\n## Assistant\n\nHello"));
    free(md);
    session_free(s);
}

/* ------------------------------------------------------------------ branches ----- */

/* An answer turn with text and tokens, complete, as a restored session has it. */
static chat_turn tree_answer(const char *text, int32_t id)
{
    chat_turn a = {.role = NT_ROLE_ASSISTANT, .text = (char *)text, .len = strlen(text),
                   .params = nt_sampler_default_params(), .complete = true};
    a.tokens.v = malloc(sizeof *a.tokens.v);
    if (a.tokens.v) {
        a.tokens.v[0] = id;
        a.tokens.n = a.tokens.cap = 1;
    }
    return a;
}

static chat_turn tree_question(const char *text)
{
    return (chat_turn){.role = NT_ROLE_USER, .text = (char *)text, .len = strlen(text)};
}

/* The texts of c's current path joined with '|'. */
static char *path_text(const chat *c)
{
    strbuf b = {0};
    strbuf_puts(&b, "");
    for (size_t i = 0; i < chat_n_turns(c); i++)
        strbuf_printf(&b, "%s%s", i ? "|" : "", chat_turn_at(c, i)->text);
    return strbuf_take(&b, NULL);
}

/* The tree of alternatives: /regen and /edit keep what they replace, switching changes the
 * path below, /undo removes a branch and shows the one before it, and a session keeps the
 * whole tree and its current path through the file (alternative_to, current). */
static void test_branches(void)
{
    chat *c = chat_init(NULL, NT_CHAT_PLAIN, 256); /* no model needed: restored turns */
    T_ASSERT(c);
    chat_turn q1 = tree_question("Q1"), a1 = tree_answer("A1", 11), a1b = tree_answer("A1b", 12);
    chat_turn q2 = tree_question("Q2"), a2 = tree_answer("A2", 21);
    chat_turn q3 = tree_question("Q3"), a3 = tree_answer("A3", 31);
    chat_turn q3b = tree_question("Q3b");
    T_EQ_INT(chat_restore_turn(c, &q1), NT_OK);
    T_EQ_INT(chat_restore_turn(c, &a1), NT_OK);
    T_EQ_INT(chat_branch_point(c), -1);
    size_t k = 9;
    T_EQ_INT(chat_alternatives(c, 1, &k), 1);
    T_EQ_INT(k, 0);
    /* /regen: A1 leaves the path but stays; the new answer is its alternative */
    T_EQ_INT(chat_regen(c), NT_OK);
    T_EQ_INT(chat_n_turns(c), 1);
    T_EQ_INT(chat_alternatives(c, 1, &k), 1); /* below the end, not shown */
    T_EQ_INT(k, 1);
    T_EQ_INT(chat_branch_point(c), 1);
    T_EQ_INT(chat_restore_turn(c, &a1b), NT_OK);
    T_EQ_INT(chat_alternatives(c, 1, &k), 2);
    T_EQ_INT(k, 1);
    T_EQ_INT(chat_n_nodes(c), 3);
    T_EQ_INT(chat_restore_turn(c, &q2), NT_OK);
    T_EQ_INT(chat_restore_turn(c, &a2), NT_OK);
    char *pt = path_text(c);
    T_EQ_STR(pt, "Q1|A1b|Q2|A2");
    free(pt);
    T_EQ_INT(chat_branch_point(c), 1);
    /* back to the first answer: the path below it is its own (nothing yet) */
    T_EQ_INT(chat_switch(c, 1, 0), NT_OK);
    pt = path_text(c);
    T_EQ_STR(pt, "Q1|A1");
    free(pt);
    T_EQ_INT(chat_restore_turn(c, &q3), NT_OK);
    T_EQ_INT(chat_restore_turn(c, &a3), NT_OK);
    /* /edit keeps the answered question as an alternative of the next one */
    char *q = chat_edit(c);
    T_EQ_STR(q, "Q3");
    free(q);
    T_EQ_INT(chat_add_user(c, "Q3b"), NT_OK);
    T_EQ_INT(chat_alternatives(c, 2, &k), 2);
    T_EQ_INT(k, 1);
    /* an unanswered question edited away is not kept */
    q = chat_edit(c);
    T_EQ_STR(q, "Q3b");
    free(q);
    T_EQ_INT(chat_alternatives(c, 2, &k), 1);
    T_EQ_INT(chat_restore_turn(c, &q3b), NT_OK);
    chat_turn a3b = tree_answer("A3b", 32);
    T_EQ_INT(chat_restore_turn(c, &a3b), NT_OK);
    /* switching back and forth keeps each branch's own path below */
    T_EQ_INT(chat_switch(c, 1, 1), NT_OK);
    pt = path_text(c);
    T_EQ_STR(pt, "Q1|A1b|Q2|A2");
    free(pt);
    T_EQ_INT(chat_switch(c, 1, 0), NT_OK);
    pt = path_text(c);
    T_EQ_STR(pt, "Q1|A1|Q3b|A3b");
    free(pt);
    T_EQ_INT(chat_switch(c, 1, 2), NT_ERR_INVALID);
    T_EQ_INT(chat_n_nodes(c), 9);

    /* The session keeps the tree: every turn, the current path, each alternative's place. */
    session *s = session_init();
    T_ASSERT(s);
    s->model.file = strdup("m.gguf");
    T_EQ_INT(session_capture(s, c), NT_OK);
    T_EQ_INT(s->n_turns, 9);
    size_t len;
    char *y = session_to_yaml(s, &len);
    T_ASSERT(y);
    /* depth first, alternatives in the order they were made: Q1 A1 Q3 A3 Q3b A3b A1b Q2 A2 */
    T_CHECK(strstr(y, "message_count: 9\n") != NULL);
    T_CHECK(strstr(y, "- role: user\n  alternative_to: 2\n  current: true\n") != NULL);
    T_CHECK(strstr(y, "- role: assistant\n  alternative_to: 1\n  time:") != NULL ||
            strstr(y, "- role: assistant\n  alternative_to: 1\n  text:") != NULL);
    session *r = NULL;
    ycfg_diag d = {0};
    T_EQ_INT(session_parse(&r, "tree.yaml", y, len, &d), NT_OK);
    print_diag(&d);
    ycfg_diag_free(&d);
    T_ASSERT(r);
    T_EQ_INT(r->n_turns, 9);
    size_t np;
    size_t *tp = session_path_turns(r, &np);
    T_ASSERT(tp && np == 4);
    T_EQ_STR(r->turns[tp[0]].text, "Q1");
    T_EQ_STR(r->turns[tp[1]].text, "A1");
    T_EQ_STR(r->turns[tp[2]].text, "Q3b");
    T_EQ_STR(r->turns[tp[3]].text, "A3b");
    T_EQ_INT(session_alternative_to(r, tp[2]), 2); /* Q3b is another version of Q3 */
    free(tp);
    /* written again, it is the same file */
    size_t len2;
    char *y2 = session_to_yaml(r, &len2);
    T_CHECK(y2 && len2 == len && !memcmp(y, y2, len));
    free(y2);
    /* exports take the current path */
    char *md = session_export_md(r, false);
    T_CHECK(md && strstr(md, "Q3b") && strstr(md, "A3b") && !strstr(md, "A1b") && !strstr(md, "Q2"));
    free(md);
    /* restored, the chat has the tree and the path */
    chat *c2 = chat_init(NULL, NT_CHAT_PLAIN, 256);
    nt_err e = {0};
    T_EQ_INT(session_restore(r, c2, &e), NT_OK);
    T_EQ_INT(chat_n_nodes(c2), 9);
    pt = path_text(c2);
    T_EQ_STR(pt, "Q1|A1|Q3b|A3b");
    free(pt);
    T_EQ_INT(chat_alternatives(c2, 1, &k), 2);
    T_EQ_INT(k, 0);
    T_EQ_INT(chat_switch(c2, 1, 1), NT_OK);
    pt = path_text(c2);
    T_EQ_STR(pt, "Q1|A1b|Q2|A2");
    free(pt);
    /* /undo removes the exchange with its branches and shows the alternative before it */
    T_EQ_INT(chat_switch(c2, 1, 0), NT_OK);
    T_EQ_INT(chat_undo(c2), NT_OK);
    pt = path_text(c2);
    T_EQ_STR(pt, "Q1|A1|Q3|A3");
    free(pt);
    T_EQ_INT(chat_n_nodes(c2), 7);
    T_EQ_INT(chat_alternatives(c2, 2, &k), 1);
    /* a file from before branches (no alternative_to, no current) is one line of turns:
     * the existing tests read those; a bad tree is refused at its place */
    char *t = strdup(y);
    char *at = strstr(t, "  alternative_to: 2\n");
    T_ASSERT(at);
    memcpy(at, "  alternative_to: 9\n", 20);
    session *bad = NULL;
    T_EQ_INT(session_parse(&bad, "bad.yaml", t, strlen(t), &d), NT_ERR_FORMAT);
    T_CHECK(d.n >= 1 && strstr(d.v[0], "'alternative_to' must name an earlier message (from 0), not 9"));
    ycfg_diag_free(&d);
    memcpy(at, "  alternative_to: 1\n", 20); /* a question as another version of an answer */
    T_EQ_INT(session_parse(&bad, "bad.yaml", t, strlen(t), &d), NT_ERR_FORMAT);
    T_CHECK(d.n >= 1 && strstr(d.v[0], "must be an answer (role: assistant)"));
    ycfg_diag_free(&d);
    free(t);
    t = strdup(y);
    at = strstr(t, "- role: assistant\n  alternative_to: 1\n");
    T_ASSERT(at);
    /* A1 is marked current (the path goes through it); marking A1b too is refused */
    T_CHECK(strstr(t, "- role: assistant\n  current: true\n") != NULL);
    strbuf b = {0};
    strbuf_put(&b, t, (size_t)(at - t));
    strbuf_puts(&b, "- role: assistant\n  alternative_to: 1\n  current: true\n");
    strbuf_puts(&b, at + strlen("- role: assistant\n  alternative_to: 1\n"));
    char *t2 = strbuf_take(&b, NULL);
    T_ASSERT(t2);
    T_EQ_INT(session_parse(&bad, "bad.yaml", t2, strlen(t2), &d), NT_ERR_FORMAT);
    T_CHECK(d.n >= 1 && strstr(d.v[0], "another alternative of this message is already 'current'"));
    ycfg_diag_free(&d);
    free(t2);
    free(t);
    chat_free(c2);
    session_free(r);
    free(y);
    session_free(s);
    chat_free(c);
    free(a1.tokens.v);
    free(a1b.tokens.v);
    free(a2.tokens.v);
    free(a3.tokens.v);
    free(a3b.tokens.v);
}

/* ---------------------------------------------------------- replay on a model ----- */

/* Answers the last question; at each (after_index, params) pair, once the TOKEN with that
 * index has arrived, sets new live parameters; stops at stop_after (if >= 0). */
typedef struct live_step {
    int32_t after;
    nt_sampler_params p;
} live_step;

/* The first token's candidates of the answers written live, by message index. */
static nt_sampler_cand live_cand0[16][10];
static int live_n_cand0[16];

static worker_event answer_live(worker *w, chat *c, const nt_sampler_params *p, int32_t max,
                                const live_step *steps, int n_steps, int32_t stop_after)
{
    size_t msg = chat_n_turns(c); /* the answer's index once prepared */
    worker_job job;
    nt_err e = {0};
    worker_event done = {.kind = WEV_DONE, .end = GEN_END_ERROR};
    if (chat_prepare(c, p, max, &job, NULL, &e) != NT_OK || worker_submit(w, &job) != NT_OK) {
        t_fail(__FILE__, __LINE__, "cannot start the answer: %s", e.msg);
        return done;
    }
    int next = 0;
    for (;;) {
        worker_event ev;
        if (!worker_wait(w, &ev, 30000)) {
            t_fail(__FILE__, __LINE__, "no event from the worker within 30 s");
            return done;
        }
        chat_apply(c, &ev);
        if (ev.kind == WEV_TOKEN && ev.index == 0 && msg < 16) {
            memcpy(live_cand0[msg], ev.cand, sizeof ev.cand);
            live_n_cand0[msg] = ev.n_cand;
        }
        if (ev.kind == WEV_TOKEN) {
            while (next < n_steps && ev.index >= steps[next].after)
                worker_set_params(w, &steps[next++].p);
            if (stop_after >= 0 && ev.index >= stop_after) worker_stop(w);
        }
        free(ev.text);
        if (ev.kind == WEV_DONE) return ev;
    }
}

/* True when the last answer has a live change inside it, with tokens before it and at least
 * five drawn after it (so leaving the change out shows). */
static bool has_mid_change(const chat *c)
{
    const chat_turn *t = chat_turn_at(c, chat_n_turns(c) - 1);
    for (size_t i = 0; t && i < t->n_changes; i++)
        if (t->changes[i].index > 0 && (size_t)t->changes[i].index + 5 <= t->tokens.n) return true;
    return false;
}

/* answer_live until the answer has a change in its middle (steps) or was stopped by the user
 * (stop_after >= 0): how the threads interleave decides where a change lands, so a try whose
 * answer was already written (or ended early) is regenerated with the next seed. */
static bool answer_until(worker *w, chat *c, nt_sampler_params *p, int32_t max,
                         const live_step *steps, int n_steps, int32_t stop_after)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        if (attempt) {
            chat_regen(c);
            p->seed++;
        }
        live_step st[4];
        for (int k = 0; k < n_steps && k < 4; k++) {
            st[k] = steps[k];
            st[k].p.seed = steps[k].p.seed == 0 ? p->seed : steps[k].p.seed;
        }
        worker_event d = answer_live(w, c, p, max, st, n_steps, stop_after);
        bool ok = stop_after >= 0 ? d.end == GEN_END_STOPPED : has_mid_change(c);
        if (ok) return true;
    }
    return false;
}

/* Replays every answer of s, on every branch (a retried answer stays as an alternative), and
 * compares with the recording; returns the answers on the current path that are identical
 * (the alternatives must all be, when nothing is overridden). */
static int replay_all(const session *s, int32_t threads, const char *override_temp)
{
    replay_opts o = {.n_threads = threads};
    if (override_temp) {
        o.names[0] = "temp";
        o.values[0] = override_temp;
        o.n_overrides = 1;
    }
    replay *r = NULL;
    nt_err e = {0};
    if (replay_init(&r, s, &o, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "replay_init: %s", e.msg);
        return -1;
    }
    if (!override_temp) T_CHECK(replay_exact(r));
    int same = 0;
    size_t np;
    size_t *path = session_path_turns(s, &np);
    for (size_t i = 0; path && i < s->n_turns; i++) {
        if (s->turns[i].role != NT_ROLE_ASSISTANT) continue;
        size_t pos = np; /* its place on the current path, np when it is an alternative */
        for (size_t k = 0; k < np; k++)
            if (path[k] == i) pos = k;
        replay_result res;
        if (replay_answer(r, i, NULL, NULL, &res, &e) != NT_OK) {
            t_fail(__FILE__, __LINE__, "replay_answer %zu: %s", i, e.msg);
            break;
        }
        const chat_turn *t = &s->turns[i];
        /* The rebuilt prompt has the recorded length, and the logits at the answer's start are
         * the live run's bit for bit although the replay reads the prompt in one go (the
         * candidates' probabilities are computed from all of them). */
        if (!override_temp) {
            T_CHECK(res.prompt_matches);
            if (pos < 16 && live_n_cand0[pos] > 0) {
                T_EQ_INT(res.n_cand0, live_n_cand0[pos]);
                T_CHECK(memcmp(res.cand0, live_cand0[pos], sizeof res.cand0) == 0);
            }
        }
        bool eq = res.tokens.n == t->tokens.n && res.end == t->end &&
                  memcmp(res.tokens.v, t->tokens.v, t->tokens.n * sizeof(int32_t)) == 0 &&
                  strcmp(res.text, t->text) == 0;
        if (!eq && !override_temp) {
            size_t k = 0;
            while (k < res.tokens.n && k < t->tokens.n && res.tokens.v[k] == t->tokens.v[k]) k++;
            fprintf(stderr, "  message %zu (threads %d): differs at token %zu of %zu/%zu, end %d/%d\n",
                    i + 1, threads, k, t->tokens.n, res.tokens.n, t->end, res.end);
        }
        if (pos < np) same += eq;
        else if (!override_temp) T_CHECK(eq);
        replay_result_free(&res);
    }
    free(path);
    replay_free(r);
    return same;
}

/* Captures c (on w's model) into a session saved at path, loads it back and checks the two
 * are the same. Returns the loaded one (NULL on failure); *saved gets the captured one. */
static session *save_and_load(worker *w, chat *c, const char *path, session **saved)
{
    session *s = session_init(), *r = NULL;
    *saved = s;
    if (!s) return NULL;
    T_EQ_INT(session_set_model(s, worker_gguf(w), worker_model_info(w)), NT_OK);
    T_EQ_INT(session_capture(s, c), NT_OK);
    nt_err e = {0};
    T_EQ_INT(session_save(s, path, &e), NT_OK);
    ycfg_diag d = {0};
    T_EQ_INT(session_load(&r, path, NULL, &d), NT_OK);
    print_diag(&d);
    ycfg_diag_free(&d);
    if (r) check_same(s, r);
    return r;
}

/* The newer samplers replay exactly too: an answer that starts with DRY and XTC (XTC's chance
 * comes from the step's one RNG output) and switches to Mirostat v2 mid-answer, and one that
 * starts with typical-p and top-nσ and switches to DRY and XTC; and a beam search answer. The
 * file records the parameters (only these, beside the classic ones) and the changes by token
 * index. */
static void test_replay_samplers(void)
{
    worker *w = t_stories_worker(256);
    if (!w) T_SKIP("fixture %s absent", STORIES);
    chat *c = chat_init(worker_tokenizer(w), NT_CHAT_PLAIN, 256);
    T_ASSERT(c);
    nt_sampler_params p = nt_sampler_default_params();
    p.temperature = 1.0f;
    p.seed = 21;
    p.dry_multiplier = 0.8f;
    p.xtc_probability = 0.5f;
    p.xtc_threshold = 0.05f;
    /* one change per answer: two changes close together may be read by the worker as one */
    live_step st[1];
    st[0].after = 2;
    st[0].p = p;
    st[0].p.seed = 0;
    st[0].p.mirostat_tau = 3.0f;
    st[0].p.mirostat_eta = 0.2f;
    chat_add_user(c, "Once upon a time");
    T_CHECK(answer_until(w, c, &p, 60, st, 1, -1));
    /* the second answer starts with typical-p and top-nσ and switches to DRY and XTC */
    nt_sampler_params q = nt_sampler_default_params();
    q.temperature = 1.0f;
    q.seed = 22;
    q.typical_p = 0.9f;
    q.top_n_sigma = 1.5f;
    st[0].p = q;
    st[0].p.seed = 0;
    st[0].p.typical_p = 1.0f;
    st[0].p.top_n_sigma = 0.0f;
    st[0].p.dry_multiplier = 0.5f;
    st[0].p.xtc_probability = 0.7f;
    chat_add_user(c, "Lily");
    T_CHECK(answer_until(w, c, &q, 60, st, 1, -1));
    /* the third is a beam search (deterministic: no seed, no changes) */
    nt_sampler_params bp = nt_sampler_default_params();
    bp.beams = 3;
    bp.length_penalty = 0.5f;
    chat_add_user(c, "The dog");
    worker_event d = answer_live(w, c, &bp, 20, NULL, 0, -1);
    T_CHECK(d.end == GEN_END_LENGTH || d.end == GEN_END_EOG);
    T_CHECK(chat_turn_at(c, 5) && chat_turn_at(c, 5)->tokens.n > 0);

    char path[512];
    snprintf(path, sizeof path, "%s/samplers.yaml", t_tmpdir());
    session *s = NULL, *r = save_and_load(w, c, path, &s);
    T_ASSERT(r);
    size_t len;
    char *text = t_read_file(path, &len);
    T_ASSERT(text);
    T_CHECK(strstr(text, "dry-multiplier: 0.8") != NULL);
    T_CHECK(strstr(text, "xtc-probability: 0.5, xtc-threshold: 0.05") != NULL ||
            strstr(text, "xtc-threshold: 0.05, xtc-probability: 0.5") != NULL);
    T_CHECK(strstr(text, "param: mirostat-tau, value: 3") != NULL);
    T_CHECK(strstr(text, "typical-p: 0.9") != NULL);
    T_CHECK(strstr(text, "param: xtc-probability, value: 0.7") != NULL);
    T_CHECK(strstr(text, "dry-base") == NULL); /* at its default: left out */
    T_CHECK(strstr(text, "beams: 3, length-penalty: 0.5") != NULL);
    free(text);
    T_EQ_INT(replay_all(r, 1, NULL), 3);
    T_EQ_INT(replay_all(r, 2, NULL), 3);
    /* and the switches matter: without the changes the answers differ */
    size_t np;
    size_t *tp = session_path_turns(r, &np); /* a retried answer stays as an alternative */
    T_ASSERT(tp && np == 6);
    r->turns[tp[1]].n_changes = 0;
    r->turns[tp[3]].n_changes = 0;
    free(tp);
    T_EQ_INT(replay_all(r, 1, "1"), 1); /* the beam answer still matches: temp has no say */
    session_free(r);
    session_free(s);
    chat_free(c);
    worker_free(w);
}

static void test_replay_exact(void)
{
    worker *w = t_stories_worker(256);
    if (!w) T_SKIP("fixture %s absent", STORIES);
    chat *c = chat_init(worker_tokenizer(w), NT_CHAT_PLAIN, 256);
    T_ASSERT(c);
    T_EQ_INT(chat_set_system(c, "Stories for children."), NT_OK);
    nt_sampler_params p = nt_sampler_default_params();
    p.temperature = 0.9f;
    p.seed = 11;

    /* Answer 1: sliders moved twice while it is written, the second time with a new seed
     * (seed 0 in a step means "the answer's own seed"). */
    live_step s1[2];
    s1[0].after = 2;
    s1[0].p = p;
    s1[0].p.seed = 0;
    s1[0].p.temperature = 1.4f;
    s1[0].p.top_p = 0.8f;
    s1[1].after = 12;
    s1[1].p = s1[0].p;
    s1[1].p.temperature = 0.6f;
    s1[1].p.seed = 99;
    chat_add_user(c, "Once upon a time");
    T_CHECK(answer_until(w, c, &p, 150, s1, 2, -1));
    /* Answer 2, then regenerated with another seed (over the cached prompt, or a shorter one
     * when the longer limit makes the context policy drop answer 1) and a slider change. */
    chat_add_user(c, "Lily");
    p.seed = 12;
    answer_live(w, c, &p, 30, NULL, 0, -1);
    T_EQ_INT(chat_regen(c), NT_OK);
    p.seed = 13;
    live_step s2[1] = {{2, p}};
    s2[0].p.seed = 0;
    s2[0].p.min_p = 0.2f;
    s2[0].p.repeat_penalty = 1.3f;
    T_CHECK(answer_until(w, c, &p, 150, s2, 1, -1));
    /* Answer 3 stopped by the user. */
    chat_add_user(c, "The dog");
    p.seed = 14;
    T_CHECK(answer_until(w, c, &p, 400, NULL, 0, 3));

    const chat_turn *a1 = chat_turn_at(c, 1);
    T_ASSERT(a1 && a1->n_changes >= 1);
    const chat_turn *a2 = chat_turn_at(c, 3);
    T_ASSERT(a2 && a2->n_changes >= 1);

    char path[512];
    snprintf(path, sizeof path, "%s/live.yaml", t_tmpdir());
    nt_err e = {0};
    session *s = NULL, *r = save_and_load(w, c, path, &s);
    T_ASSERT(r);

    /* Exact with one thread and with two. */
    T_EQ_INT(replay_all(r, 1, NULL), 3);
    T_EQ_INT(replay_all(r, 2, NULL), 3);

    /* The changes matter: without them the first answer comes out differently. */
    chat_turn *t1 = &r->turns[1];
    size_t keep = t1->n_changes;
    t1->n_changes = 0;
    replay *rp = NULL;
    replay_opts o = {.n_threads = 1};
    T_EQ_INT(replay_init(&rp, r, &o, &e), NT_OK);
    replay_result res;
    T_EQ_INT(replay_answer(rp, 1, NULL, NULL, &res, &e), NT_OK);
    T_CHECK(res.tokens.n != t1->tokens.n ||
            memcmp(res.tokens.v, t1->tokens.v, res.tokens.n * sizeof(int32_t)) != 0);
    T_CHECK(!replay_matches(t1, &res, NULL));
    replay_result_free(&res);
    replay_free(rp);
    t1->n_changes = keep;

    /* replay_matches (what the command line and the chat screen report): the answer with its
     * changes matches the recording; replay_cancel (the chat screen's Esc) ends an answer at
     * its next token, here the first, and every later one. */
    T_EQ_INT(replay_init(&rp, r, &o, &e), NT_OK);
    T_EQ_INT(replay_answer(rp, 1, NULL, NULL, &res, &e), NT_OK);
    size_t first = 12345;
    T_CHECK(replay_matches(t1, &res, &first));
    T_EQ_INT((int)first, (int)t1->tokens.n);
    replay_result_free(&res);
    replay_cancel(rp);
    T_EQ_INT(replay_answer(rp, 3, NULL, NULL, &res, &e), NT_OK);
    T_EQ_INT(res.end, GEN_END_STOPPED);
    T_EQ_INT((int)res.tokens.n, 0);
    T_CHECK(!replay_matches(&r->turns[3], &res, &first));
    T_EQ_INT((int)first, 0);
    replay_result_free(&res);
    replay_free(rp);

    /* An override replays with the change (a very different temperature changes answers). */
    T_CHECK(replay_all(r, 1, "3") < 3);

    /* Resuming: the restored chat reads its history back and continues; its next prompt is
     * what the replay rebuilds. */
    chat *c2 = chat_init(worker_tokenizer(w), NT_CHAT_PLAIN, 256);
    T_ASSERT(c2);
    T_EQ_INT(session_restore(r, c2, &e), NT_OK);
    T_EQ_INT(chat_n_turns(c2), 6);
    T_EQ_STR(chat_system(c2), "Stories for children.");
    worker_job job;
    T_EQ_INT(chat_prepare_reread(c2, &job, &e), NT_OK);
    T_CHECK(chat_busy(c2));
    T_EQ_INT(job.max_tokens, 0);
    T_EQ_INT(worker_submit(w, &job), NT_OK);
    int progress = 0;
    for (;;) {
        worker_event ev;
        T_ASSERT(worker_wait(w, &ev, 30000));
        chat_apply(c2, &ev);
        progress += ev.kind == WEV_PROGRESS;
        free(ev.text);
        if (ev.kind == WEV_DONE) break;
    }
    T_CHECK(progress > 0);
    T_CHECK(!chat_busy(c2));
    T_EQ_INT(chat_cache(c2)->n, job.n_tokens);
    chat_add_user(c2, "A cat");
    p.seed = 15;
    answer_live(w, c2, &p, 20, NULL, 0, -1);
    session *ss = session_init();
    T_EQ_INT(session_set_model(ss, worker_gguf(w), worker_model_info(w)), NT_OK);
    T_EQ_INT(session_capture(ss, c2), NT_OK);
    T_EQ_INT(replay_all(ss, 1, NULL), 4);
    session_free(ss);
    chat_free(c2);

    session_free(r);
    session_free(s);
    chat_free(c);
    worker_free(w);
}

/* Answers written with a persona's full set of long stop strings (16 of up to 255 bytes, one
 * of them 180 bytes of the answer's own text, so it spans many tokens) are saved whole, read
 * back, and replayed to the same cut: the replay stops alike. Also with a temperature above
 * zero, where the cut text is not known in advance. */
static void test_replay_long_stops(void)
{
    worker *w = t_stories_worker(512);
    if (!w) T_SKIP("fixture %s absent", STORIES);
    chat *c = chat_init(worker_tokenizer(w), NT_CHAT_PLAIN, 512);
    T_ASSERT(c);
    nt_sampler_params p = nt_sampler_default_params();
    p.temperature = 0;
    chat_add_user(c, "Once upon a time");
    answer_live(w, c, &p, 300, NULL, 0, -1);
    const char *ref = chat_turn_at(c, 1)->text;
    T_ASSERT(strlen(ref) > 300);
    static char stops[CHAT_MAX_STOPS][GEN_STOP_LEN];
    const char *sp[CHAT_MAX_STOPS];
    for (int k = 0; k < CHAT_MAX_STOPS; k++) {
        /* 15 that never occur (an unusual last byte), 240 to 255 bytes of "é" and text. */
        size_t L = GEN_STOP_LEN - 1 - (size_t)k;
        memset(stops[k], 0, sizeof stops[k]);
        for (size_t i = 0; i + 2 <= L - 1; i += 2) memcpy(stops[k] + i, "\xc3\xa9", 2);
        memcpy(stops[k], ref + 5 * k, 40);
        size_t n = strlen(stops[k]);
        while (n < L) stops[k][n++] = '~';
        sp[k] = stops[k];
    }
    memset(stops[7], 0, sizeof stops[7]);
    memcpy(stops[7], ref + 100, 180); /* this one is in the answer */
    size_t cut = (size_t)(strstr(ref, stops[7]) - ref);
    char *want = strndup(ref, cut);
    T_EQ_INT(chat_regen(c), NT_OK);
    T_EQ_INT(chat_set_stops(c, sp, CHAT_MAX_STOPS), NT_OK);
    worker_event d = answer_live(w, c, &p, 300, NULL, 0, -1);
    T_CHECK(d.stop_text);
    T_EQ_STR(chat_turn_at(c, 1)->text, want);
    T_EQ_INT(chat_turn_at(c, 1)->n_stop, GEN_MAX_STOP); /* and the template's */
    /* A second answer at temperature 1 with the same strings. */
    chat_add_user(c, "Lily");
    p.temperature = 1.0f;
    p.seed = 77;
    answer_live(w, c, &p, 120, NULL, 0, -1);

    session *s = session_init();
    T_ASSERT(s);
    T_EQ_INT(session_set_model(s, worker_gguf(w), worker_model_info(w)), NT_OK);
    T_EQ_INT(session_capture(s, c), NT_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/long-stops.yaml", t_tmpdir());
    nt_err e = {0};
    T_EQ_INT(session_save(s, path, &e), NT_OK);
    session *r = NULL;
    ycfg_diag dg = {0};
    T_EQ_INT(session_load(&r, path, NULL, &dg), NT_OK);
    print_diag(&dg);
    ycfg_diag_free(&dg);
    T_ASSERT(r);
    check_same(s, r);
    /* The regenerated answer is the second turn of the path; the first try stays before it,
     * its alternative. */
    size_t np;
    size_t *tp = session_path_turns(r, &np);
    T_ASSERT(tp && np == 4 && r->n_turns == 5);
    T_EQ_INT(r->turns[tp[1]].n_stop, GEN_MAX_STOP);
    T_EQ_INT(session_alternative_to(r, tp[1]), 1);
    free(tp);
    T_EQ_INT(replay_all(r, 1, NULL), 2);
    session_free(r);
    session_free(s);
    free(want);
    chat_free(c);
    worker_free(w);
}

/* ChatML (answers' ids reused in later prompts) in a small context: the oldest exchanges are
 * dropped from the model's view as the conversation grows, and every answer still replays
 * exactly. */
static void test_replay_chatml_context_full(void)
{
    if (!t_fixture(STORIES)) T_SKIP("fixture %s absent", STORIES);
    const char *path = t_chatml_stories();
    T_ASSERT(path);
    nt_model *m = NULL;
    nt_err e = {0};
    nt_model_params mp = nt_model_default_params();
    mp.n_ctx = 160;
    mp.n_threads = 1;
    T_ASSERT(nt_model_load(&m, path, &mp, &e) == NT_OK);
    worker *w = worker_init(m, &e);
    T_ASSERT(w);
    T_EQ_INT(nt_chat_detect_gguf(worker_gguf(w)), NT_CHAT_CHATML);
    chat *c = chat_init(worker_tokenizer(w), NT_CHAT_CHATML, 160);
    T_ASSERT(c);
    chat_set_system(c, "Tell a story.");
    /* A persona's fixed part: examples and a greeting, which the replay must restore. */
    nt_chat_msg ex[2] = {{NT_ROLE_USER, "A cat"}, {NT_ROLE_ASSISTANT, "The cat sat."}};
    T_EQ_INT(chat_set_prefix(c, ex, 2), NT_OK);
    T_EQ_INT(chat_set_greeting(c, "Hello!"), NT_OK);
    nt_sampler_params p = nt_sampler_default_params();
    p.temperature = 0.8f;
    static const char *const qs[] = {"Once upon a time", "Lily", "The dog ran", "Then", "The end"};
    for (int i = 0; i < 5; i++) {
        chat_add_user(c, qs[i]);
        p.seed = 100 + (uint64_t)i;
        live_step st[1] = {{3, p}};
        st[0].p.seed = 0; /* the answer's own */
        st[0].p.temperature = 1.3f;
        if (i == 2) T_CHECK(answer_until(w, c, &p, 40, st, 1, -1));
        else answer_live(w, c, &p, 40, NULL, 0, -1);
    }
    T_CHECK(chat_first_turn(c) > 0); /* the context filled up */
    T_CHECK(chat_turn_at(c, 5)->n_changes >= 1);
    session *s = session_init();
    T_ASSERT(s);
    T_EQ_INT(session_set_model(s, worker_gguf(w), worker_model_info(w)), NT_OK);
    T_EQ_INT(session_capture(s, c), NT_OK);
    size_t len;
    char *y = session_to_yaml(s, &len);
    session *r = NULL;
    ycfg_diag d = {0};
    T_EQ_INT(session_parse(&r, "chatml.yaml", y, len, &d), NT_OK);
    print_diag(&d);
    ycfg_diag_free(&d);
    free(y);
    T_ASSERT(r);
    T_EQ_INT(r->family, NT_CHAT_CHATML);
    T_EQ_INT(r->n_examples, 2);
    T_EQ_STR(r->greeting, "Hello!");
    T_CHECK(r->turns[9].first > 0);
    T_EQ_INT(replay_all(r, 1, NULL), 5);
    T_EQ_INT(replay_all(r, 2, NULL), 5);

    /* Another model (the original stories260K: another hash, no ChatML template): not exact;
     * every answer is regenerated from the recorded texts in that model's plain template. */
    replay_opts oo = {.model_path = t_fixture(STORIES), .n_threads = 1};
    replay *ro = NULL;
    T_EQ_INT(replay_init(&ro, r, &oo, &e), NT_OK);
    if (ro) {
        T_CHECK(!replay_exact(ro));
        for (size_t i = 1; i < r->n_turns; i += 2) {
            replay_result res;
            T_EQ_INT(replay_answer(ro, i, NULL, NULL, &res, &e), NT_OK);
            T_CHECK(res.n_prompt > 0 && res.text != NULL);
            replay_result_free(&res);
        }
        replay_free(ro);
    }
    session_free(r);
    session_free(s);
    chat_free(c);
    worker_free(w);
}

/* ------------------------------------------------------ helpers for the .sh test ----- */

/* Version v of the kill test's session: big enough that a write takes a while, and its body
 * is a function of v so a check can tell a whole version from a mix. */
static session *version_session(long v)
{
    session *s = session_init();
    s->model.file = strdup("m.gguf");
    s->n_turns = 2;
    s->turns = calloc(2, sizeof *s->turns);
    turns_linear(s);
    s->turns[0].role = NT_ROLE_USER;
    char q[64];
    snprintf(q, sizeof q, "version %ld", v);
    turn_set_text(&s->turns[0], q);
    s->turns[1].role = NT_ROLE_ASSISTANT;
    s->turns[1].complete = true;
    s->turns[1].params = nt_sampler_default_params(); /* in range, as every answer's */
    size_t L = 400000;
    char *body = malloc(L + 1);
    for (size_t k = 0; k < L; k++) body[k] = (k % 61 == 60) ? '\n' : (char)('a' + (k * 7 + (size_t)v) % 26);
    body[L] = 0;
    turn_set_text(&s->turns[1], body);
    free(body);
    for (int k = 0; k < 20000; k++) nt_tokens_push(&s->turns[1].tokens, (int32_t)((k + v) % 1000));
    return s;
}

static int check_version(const char *path)
{
    session *s = NULL;
    ycfg_diag d = {0};
    if (session_load(&s, path, NULL, &d) != NT_OK) {
        for (size_t i = 0; i < d.n; i++) fprintf(stderr, "%s\n", d.v[i]);
        ycfg_diag_free(&d);
        return 1;
    }
    ycfg_diag_free(&d);
    long v = -1;
    int ok = s->n_turns == 2 && sscanf(s->turns[0].text, "version %ld", &v) == 1;
    session *ref = ok ? version_session(v) : NULL;
    ok = ok && !strcmp(ref->turns[1].text, s->turns[1].text) &&
         ref->turns[1].tokens.n == s->turns[1].tokens.n &&
         !memcmp(ref->turns[1].tokens.v, s->turns[1].tokens.v, ref->turns[1].tokens.n * 4);
    if (ok) printf("%ld\n", v);
    else fprintf(stderr, "%s: not one whole version\n", path);
    session_free(ref);
    session_free(s);
    return ok ? 0 : 1;
}

static int save_loop(const char *path)
{
    long v = 1;
    bool ready = false;
    session *old = NULL;
    ycfg_diag d = {0};
    if (session_load(&old, path, NULL, &d) == NT_OK &&
        sscanf(old->turns[0].text, "version %ld", &v) == 1)
        v++;
    ycfg_diag_free(&d);
    session_free(old);
    for (;; v++) {
        session *s = version_session(v);
        nt_err e = {0};
        s->path = strdup(path); /* ours: no re-read before each write */
        if (session_save(s, path, &e) != NT_OK) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        session_free(s);
        if (!ready) { /* PATH.ready: the test's kill may come from now on */
            char mark[4096];
            snprintf(mark, sizeof mark, "%s.ready", path);
            FILE *f = fopen(mark, "w");
            if (f) fclose(f);
            ready = true;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--save-loop")) return save_loop(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "--check-version")) return check_version(argv[2]);
    T_RUN(test_model_identity);
    T_RUN(test_roundtrip);
    T_RUN(test_save_private_atomic);
    T_RUN(test_corrupt);
    T_RUN(test_corrupt_untouched);
    T_RUN(test_list_none);
    T_RUN(test_command_entry_points);
    T_RUN(test_export);
    T_RUN(test_branches);
    T_RUN(test_replay_exact);
    T_RUN(test_replay_samplers);
    T_RUN(test_replay_chatml_context_full);
    T_RUN(test_replay_long_stops);
    return t_done();
}
