/* Tests for app/conv/gen.c: the generation loop over a scripted source (no model): max
 * tokens, end-of-generation tokens, stop strings across tokens and the text held back to the
 * end, a live parameter change at token N, the stop hook, every end reason and the end-reason
 * table; and the stop-string filter on its own (fuzzed against a brute-force definition).
 * Beam search on stories260K: against a brute-force search over every continuation of two
 * tokens, its cost (the prefix is evaluated once: counted evaluations) and determinism, and
 * the context it leaves (logits bit-identical to a recomputation). The loop over the real
 * engine (worker, replay) is tested in test_chat_app.c and test_session.c. */
#include "conv/gen.h"
#include "natter.h"
#include "t.h"
#include "t_models.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================ a scripted source ===== */

/* A vocabulary of 8 tokens; 0 ends generation. */
#define FAKE_VOCAB 8
static const char *const fake_text[FAKE_VOCAB] = {"", "a", "b", "\n", "User", ":", " c", "\xc3"};

/* Gives, at step k, logits that make script[k] the argmax (or, past the script, "a" at 2
 * and "b" at 1); counts evaluations and can fail the eval numbered fail_at with fail_rc. */
typedef struct fake {
    const int32_t *script;
    int n_script;
    int step;                  /* evaluations so far: the position of the next token */
    int fail_at, fail_rc;      /* fail the fail_at-th eval (1-based; 0 = never) */
    const int32_t *hist;       /* the context before the answer */
    size_t n_hist;
    float logits[FAKE_VOCAB];
    bool flushed;
} fake;

static size_t fake_begin(void *self, const int32_t **ids)
{
    fake *f = self;
    *ids = f->hist;
    return f->n_hist;
}

static const float *fake_logits(void *self)
{
    fake *f = self;
    for (int i = 0; i < FAKE_VOCAB; i++) f->logits[i] = -10.0f;
    if (f->step < f->n_script) {
        f->logits[f->script[f->step]] = 5.0f;
    } else {
        f->logits[1] = 2.0f;
        f->logits[2] = 1.0f;
    }
    return f->logits;
}

static int fake_eval(void *self, int32_t id, nt_err *err)
{
    fake *f = self;
    if (f->fail_at && f->step + 1 == f->fail_at)
        return f->fail_rc == NT_ERR_CONTEXT_FULL || f->fail_rc == NT_ERR_CANCELLED
                   ? f->fail_rc
                   : nt_err_set(err, f->fail_rc, "fake: eval %d failed", f->fail_at);
    f->step++;
    return NT_OK;
}

static bool fake_is_eog(void *self, int32_t id) { return id == 0; }

static const char *fake_text_of(void *self, int32_t id, size_t *len)
{
    *len = strlen(fake_text[id]);
    return fake_text[id];
}

static const char *fake_flush(void *self, size_t *len)
{
    fake *f = self;
    f->flushed = true;
    *len = 0;
    return "";
}

static const gen_source_ops fake_ops = {.begin = fake_begin, .logits = fake_logits,
                                        .eval = fake_eval, .is_eog = fake_is_eog,
                                        .text = fake_text_of, .flush = fake_flush};

/* What the hooks saw. */
typedef struct seen {
    int32_t ids[64];
    char text[512];
    int n;
    int stop_at;               /* the stop hook fires at this index (-1: never) */
    int change_at;             /* the params hook changes at this index (-1: never) */
    nt_sampler_params change;
    int params_calls;
    int token_fail_at;         /* the token hook fails at this index (-1: never) */
} seen;

static bool seen_stop(void *user, int32_t i) { return ((seen *)user)->stop_at == i; }

static bool seen_params(void *user, int32_t i, nt_sampler_params *p)
{
    seen *s = user;
    s->params_calls++;
    if (i != s->change_at) return false;
    *p = s->change;
    return true;
}

static int seen_token(void *user, const gen_token *t, nt_err *err)
{
    seen *s = user;
    if (t->index != s->n) return nt_err_set(err, NT_ERR_INVALID, "token %d out of order", t->index);
    if (t->index == s->token_fail_at) return nt_err_set(err, NT_ERR_NOMEM, "hook: no room");
    s->ids[s->n++] = t->id;
    strncat(s->text, t->text, sizeof s->text - strlen(s->text) - 1);
    return NT_OK;
}

static nt_sampler_params greedy(void)
{
    nt_sampler_params p = nt_sampler_default_params();
    p.temperature = 0;
    p.repeat_penalty = 1;
    return p;
}

/* Runs the loop over f with the hooks recording into s. */
static int run(fake *f, seen *s, const gen_opts *o, gen_result *res, nt_err *err)
{
    gen_source src = {.ops = &fake_ops, .self = f, .n_vocab = FAKE_VOCAB};
    gen_hooks h = {.user = s, .stop = seen_stop, .params = seen_params, .token = seen_token};
    return gen_run(&src, o, &h, res, err);
}

static void seen_init(seen *s)
{
    memset(s, 0, sizeof *s);
    s->stop_at = s->change_at = s->token_fail_at = -1;
}

/* ====================================================== the loop ===== */

/* max tokens: exactly that many, the last not evaluated; 0 ends at once. */
static void test_gen_max_tokens(void)
{
    fake f = {0};
    seen s;
    seen_init(&s);
    gen_opts o = {.params = greedy(), .max_tokens = 5};
    gen_result res;
    nt_err err = {0};
    T_EQ_INT(run(&f, &s, &o, &res, &err), NT_OK);
    T_EQ_INT(res.end, GEN_END_LENGTH);
    T_EQ_INT(res.n_gen, 5);
    T_EQ_INT(s.n, 5);
    T_EQ_STR(s.text, "aaaaa");
    T_EQ_INT(f.step, 4); /* nobody needs the logits after the last token */
    T_CHECK(res.tail == NULL);
    T_CHECK(f.flushed);
    /* The first token's candidates: "a" first, with all the probability after greedy. */
    T_ASSERT(res.n_cand0 >= 2);
    T_EQ_INT(res.cand0[0].id, 1);
    T_EQ_INT(res.cand0[1].id, 2);
    T_NEAR(res.cand0[0].p_after, 1.0, 1e-6);
    free(res.tail);

    fake f0 = {0};
    seen_init(&s);
    o.max_tokens = 0;
    T_EQ_INT(run(&f0, &s, &o, &res, &err), NT_OK);
    T_EQ_INT(res.end, GEN_END_LENGTH);
    T_EQ_INT(res.n_gen, 0);
    T_EQ_INT(s.n, 0);
    T_EQ_INT(f0.step, 0);
    T_EQ_INT(s.params_calls, 0); /* ended before the parameters were looked at */
    o.max_tokens = -1;
    T_EQ_INT(run(&f0, &s, &o, &res, &err), NT_ERR_INVALID);
    T_EQ_INT(res.end, GEN_END_ERROR);
}

/* An end-of-generation token ends the answer and is not reported, unless ignored. */
static void test_gen_eog(void)
{
    static const int32_t script[] = {1, 2, 1, 0, 2};
    fake f = {.script = script, .n_script = 5};
    seen s;
    seen_init(&s);
    gen_opts o = {.params = greedy(), .max_tokens = 100, .candidates = true};
    gen_result res;
    nt_err err = {0};
    T_EQ_INT(run(&f, &s, &o, &res, &err), NT_OK);
    T_EQ_INT(res.end, GEN_END_EOG);
    T_CHECK(!res.stop_text);
    T_EQ_INT(res.n_gen, 3);
    T_EQ_STR(s.text, "aba");
    free(res.tail);

    /* An answer that ends at once still reports the candidates of the token it drew. */
    static const int32_t eog_first[] = {0};
    fake f1 = {.script = eog_first, .n_script = 1};
    seen_init(&s);
    T_EQ_INT(run(&f1, &s, &o, &res, &err), NT_OK);
    T_EQ_INT(res.end, GEN_END_EOG);
    T_EQ_INT(res.n_gen, 0);
    T_CHECK(res.n_cand0 > 0 && res.cand0[0].id == 0);
    free(res.tail);

    fake f2 = {.script = script, .n_script = 5};
    seen_init(&s);
    o.ignore_eog = true;
    o.max_tokens = 5;
    T_EQ_INT(run(&f2, &s, &o, &res, &err), NT_OK);
    T_EQ_INT(res.end, GEN_END_LENGTH);
    T_EQ_INT(s.n, 5);
    T_EQ_INT(s.ids[3], 0);
    free(res.tail);
}

/* A stop string across tokens: the text ends right before it, the end is EOG with stop_text;
 * text that might begin one is held back and given to the answer at the end. */
static void test_gen_stop_string(void)
{
    static const int32_t script[] = {1, 2, 3, 4, 5, 6, 1};
    const char *stop[] = {"\nUser:"};
    fake f = {.script = script, .n_script = 7};
    seen s;
    seen_init(&s);
    gen_opts o = {.params = greedy(), .max_tokens = 100, .stop = stop, .n_stop = 1};
    gen_result res;
    nt_err err = {0};
    T_EQ_INT(run(&f, &s, &o, &res, &err), NT_OK);
    T_EQ_INT(res.end, GEN_END_EOG);
    T_CHECK(res.stop_text);
    T_EQ_INT(res.n_gen, 5); /* the token completing the stop string is reported (text "") */
    T_EQ_STR(s.text, "ab");
    T_CHECK(res.tail == NULL);
    T_CHECK(!f.flushed); /* the rest of the text is dropped */

    /* Held back at the end: "\nUser" might have become the stop string; it did not. */
    fake f2 = {.script = script, .n_script = 7};
    seen_init(&s);
    o.max_tokens = 4;
    T_EQ_INT(run(&f2, &s, &o, &res, &err), NT_OK);
    T_EQ_INT(res.end, GEN_END_LENGTH);
    T_CHECK(!res.stop_text);
    T_EQ_STR(s.text, "ab");
    T_EQ_STR(res.tail, "\nUser");
    free(res.tail);

    /* A UTF-8 character cut short is held back too, then given whole or as it is. */
    static const int32_t cut[] = {1, 7};
    fake f3 = {.script = cut, .n_script = 2};
    seen_init(&s);
    o.max_tokens = 2;
    o.n_stop = 0;
    T_EQ_INT(run(&f3, &s, &o, &res, &err), NT_OK);
    T_EQ_STR(s.text, "a");
    T_EQ_STR(res.tail, "\xc3");
    free(res.tail);

    const char *bad[] = {""};
    o.stop = bad;
    o.n_stop = 1;
    T_EQ_INT(run(&f3, &s, &o, &res, &err), NT_ERR_INVALID);
}

/* A live change at token N applies from token N exactly, with the sampler's history (the
 * context before the answer included) kept. */
static void test_gen_live_params(void)
{
    gen_opts o = {.params = greedy(), .max_tokens = 6, .candidates = true};
    gen_result res;
    nt_err err = {0};
    seen s;
    /* Without a change: "a" every time ("a" 2, "b" 1). */
    fake f = {0};
    seen_init(&s);
    T_EQ_INT(run(&f, &s, &o, &res, &err), NT_OK);
    T_EQ_STR(s.text, "aaaaaa");
    T_EQ_INT(s.params_calls, 6);
    free(res.tail);
    /* A repetition penalty of 3 from token 3 on: "a" (seen) falls to 2/3 < 1, so token 3 is
     * "b"; then both were seen: "a" 2/3 beats "b" 1/3. */
    nt_sampler_params penalty = greedy();
    penalty.repeat_penalty = 3;
    penalty.repeat_last_n = -1;
    fake f2 = {0};
    seen_init(&s);
    s.change_at = 3;
    s.change = penalty;
    T_EQ_INT(run(&f2, &s, &o, &res, &err), NT_OK);
    T_EQ_STR(s.text, "aaabaa");
    free(res.tail);
    /* From the start, the context before the answer counts as history: "a" there, "b" first. */
    static const int32_t hist[] = {1};
    fake f3 = {.hist = hist, .n_hist = 1};
    seen_init(&s);
    o.params = penalty;
    T_EQ_INT(run(&f3, &s, &o, &res, &err), NT_OK);
    T_EQ_INT(s.ids[0], 2);
    free(res.tail);
}

/* Every way an answer ends: the stop hook, a full context, a cancelled eval, an eval error,
 * a failing token hook. */
static void test_gen_end_reasons(void)
{
    gen_opts o = {.params = greedy(), .max_tokens = 10};
    gen_result res;
    nt_err err = {0};
    seen s;

    fake f = {0};
    seen_init(&s);
    s.stop_at = 4;
    T_EQ_INT(run(&f, &s, &o, &res, &err), NT_OK);
    T_EQ_INT(res.end, GEN_END_STOPPED);
    T_EQ_INT(res.n_gen, 4);
    T_EQ_INT(f.step, 4);
    free(res.tail);

    seen_init(&s);
    s.stop_at = 0;
    T_EQ_INT(run(&(fake){0}, &s, &o, &res, &err), NT_OK);
    T_EQ_INT(res.end, GEN_END_STOPPED);
    T_EQ_INT(res.n_gen, 0);
    T_EQ_INT(res.n_cand0, 0);
    free(res.tail);

    fake full = {.fail_at = 3, .fail_rc = NT_ERR_CONTEXT_FULL};
    seen_init(&s);
    T_EQ_INT(run(&full, &s, &o, &res, &err), NT_OK);
    T_EQ_INT(res.end, GEN_END_CONTEXT_FULL);
    T_EQ_INT(res.n_gen, 3);
    free(res.tail);

    fake cancel = {.fail_at = 2, .fail_rc = NT_ERR_CANCELLED};
    seen_init(&s);
    T_EQ_INT(run(&cancel, &s, &o, &res, &err), NT_OK);
    T_EQ_INT(res.end, GEN_END_STOPPED);
    T_EQ_INT(res.n_gen, 2);
    free(res.tail);

    fake broken = {.fail_at = 2, .fail_rc = NT_ERR_IO};
    seen_init(&s);
    T_EQ_INT(run(&broken, &s, &o, &res, &err), NT_ERR_IO);
    T_EQ_INT(res.end, GEN_END_ERROR);
    T_EQ_STR(err.msg, "fake: eval 2 failed");
    T_EQ_INT(s.n, 2);
    free(res.tail);

    seen_init(&s);
    s.token_fail_at = 1;
    T_EQ_INT(run(&(fake){0}, &s, &o, &res, &err), NT_ERR_NOMEM);
    T_EQ_INT(res.end, GEN_END_ERROR);
    T_EQ_STR(err.msg, "hook: no room");
    T_EQ_INT(s.n, 1);
    free(res.tail);

    /* No hooks at all: the loop needs none. */
    gen_source src = {.ops = &fake_ops, .self = &(fake){0}, .n_vocab = FAKE_VOCAB};
    T_EQ_INT(gen_run(&src, &o, &(gen_hooks){0}, &res, &err), NT_OK);
    T_EQ_INT(res.end, GEN_END_LENGTH);
    T_EQ_INT(res.n_gen, 10);
    free(res.tail);
}

/* The one table of end reasons: words, session keys and their inverse. */
static void test_gen_end_names(void)
{
    T_EQ_STR(gen_end_name(GEN_END_EOG, false), "end of text");
    T_EQ_STR(gen_end_name(GEN_END_EOG, true), "stop string");
    T_EQ_STR(gen_end_name(GEN_END_LENGTH, false), "max tokens");
    T_EQ_STR(gen_end_name(GEN_END_STOPPED, true), "stopped");
    T_EQ_STR(gen_end_name(GEN_END_CONTEXT_FULL, false), "context full");
    T_EQ_STR(gen_end_name(GEN_END_ERROR, false), "error");
    T_EQ_STR(gen_end_name((enum gen_end)99, false), "?");
    T_EQ_STR(gen_end_key(GEN_END_CONTEXT_FULL), "context-full");
    T_CHECK(gen_end_key((enum gen_end)-1) == NULL);
    for (int e = 0; e < GEN_END_COUNT; e++) T_EQ_INT(gen_end_parse(gen_end_key(e)), e);
    T_EQ_INT(gen_end_parse(GEN_END_STOP_STRING_KEY), -1);
    T_EQ_INT(gen_end_parse("Length"), -1);
    T_EQ_INT(gen_end_parse(NULL), -1);
}

/* ================================================ the stop-string filter ===== */

/* Where text[0..n) first contains one of stop[0..ns): the start of the stop string that ends
 * first (the longer one when two end together), or -1. The definition, by brute force. */
static long naive_cut(const char *text, size_t n, const char *const *stop, size_t ns)
{
    for (size_t e = 1; e <= n; e++) {
        size_t best = 0;
        for (size_t k = 0; k < ns; k++) {
            size_t L = strlen(stop[k]);
            if (L <= e && L > best && memcmp(text + e - L, stop[k], L) == 0) best = L;
        }
        if (best) return (long)(e - best);
    }
    return -1;
}

/* The longest end of text[0..n) that is a proper prefix of a stop string: what must be held. */
static size_t naive_keep(const char *text, size_t n, const char *const *stop, size_t ns)
{
    size_t keep = 0;
    for (size_t k = 0; k < ns; k++) {
        size_t L = strlen(stop[k]);
        for (size_t m = L - 1 < n ? L - 1 : n; m > keep; m--)
            if (memcmp(text + n - m, stop[k], m) == 0) {
                keep = m;
                break;
            }
    }
    return keep;
}

static bool utf8_whole(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (need == 0 || i + need > n) return false;
        for (size_t j = 1; j < need; j++)
            if (((unsigned char)s[i + j] & 0xC0) != 0x80) return false;
        i += need;
    }
    return true;
}

/* Feeds text to a filter over stop[0..ns) in pieces of the given sizes (cycled), and checks it
 * against the definition after every piece: nothing lost or repeated, no more held back than a
 * stop string's possible start (plus an unfinished UTF-8 character), the cut where naive_cut
 * puts it. With whole_chars, every piece let out must be whole UTF-8 characters. Returns the
 * number of failed checks (0: all fine), so a fuzz loop can stop at the first bad case. */
static int filter_run(const char *text, size_t n, const char *const *stop, size_t ns,
                      const size_t *sizes, size_t n_sizes, bool whole_chars)
{
    int bad = 0;
    gen_filter *f = malloc(sizeof *f);
    char *shown = malloc(n + 1), *out = malloc(GEN_FILTER_OUT(n));
    if (!f || !shown || !out || gen_filter_init(f, stop, ns) != NT_OK) {
        t_fail(__FILE__, __LINE__, "filter_run: setup failed");
        free(f), free(shown), free(out);
        return 1;
    }
    long cut = naive_cut(text, n, stop, ns);
    size_t fed = 0, ns_out = 0, si = 0;
    bool hit = false;
    while (fed < n && !hit) {
        size_t k = sizes[si++ % n_sizes];
        if (k > n - fed) k = n - fed;
        size_t got = 12345;
        hit = gen_filter_feed(f, text + fed, k, out, &got);
        fed += k;
        bad += got != strlen(out);
        if (whole_chars && !utf8_whole(out, got)) {
            t_fail(__FILE__, __LINE__, "a piece let out is not whole characters at byte %zu", fed);
            bad++;
        }
        memcpy(shown + ns_out, out, got);
        ns_out += got;
        if (hit) break;
        /* Everything fed is shown or held, in order. */
        size_t nh;
        const char *held = gen_filter_held(f, &nh);
        if (ns_out + nh != fed || memcmp(shown, text, ns_out) != 0 ||
            memcmp(held, text + ns_out, nh) != 0) {
            t_fail(__FILE__, __LINE__, "after %zu bytes: %zu shown + %zu held do not make the text",
                   fed, ns_out, nh);
            bad++;
            break;
        }
        /* Held back: exactly what may begin a stop string, and at most 3 bytes of an
         * unfinished character more. */
        size_t want = naive_keep(text, fed, stop, ns);
        if (nh < want || nh > want + 3 || (!whole_chars && nh != want && utf8_whole(text, fed))) {
            t_fail(__FILE__, __LINE__, "after %zu bytes: %zu held, %zu may start a stop string",
                   fed, nh, want);
            bad++;
            break;
        }
    }
    if (cut >= 0) {
        if (!hit || ns_out != (size_t)cut || memcmp(shown, text, ns_out) != 0) {
            t_fail(__FILE__, __LINE__, "stop string at byte %ld: hit %d, %zu bytes shown", cut,
                   hit, ns_out);
            bad++;
        }
        /* After a hit nothing more comes out. */
        size_t got = 1;
        bad += !gen_filter_feed(f, "more", 4, out, &got) || got != 0;
    } else if (hit) {
        t_fail(__FILE__, __LINE__, "a stop string was found where there is none (%zu bytes shown)",
               ns_out);
        bad++;
    }
    free(f);
    free(shown);
    free(out);
    return bad;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random texts over two or three letters (so stop strings overlap themselves and each other a
 * lot: the automata's fallbacks get exercised), up to 17 stop strings of up to 255 bytes, some
 * cut from the text itself so they do occur, fed in pieces of 1 byte to 400 bytes; every case
 * compared with the brute-force definition. Deterministic (fixed seed). */
static void test_filter_fuzz(void)
{
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    char text[1600];
    char stops[GEN_MAX_STOP][GEN_STOP_LEN];
    const char *sp[GEN_MAX_STOP];
    int hits = 0, bad = 0;
    for (int it = 0; it < 240 && !bad; it++) {
        int mode = it % 3;
        size_t alpha = 2 + (size_t)(it % 2);
        size_t n = (size_t)(rng_next(&seed) % (mode == 1 ? 400 : 1500));
        for (size_t i = 0; i < n; i++) text[i] = (char)('a' + rng_next(&seed) % alpha);
        text[n] = '\0';
        size_t maxlen = mode == 0 ? GEN_STOP_LEN - 1 : mode == 1 ? 12 : 60;
        size_t ns = 1 + (size_t)(rng_next(&seed) % GEN_MAX_STOP);
        for (size_t k = 0; k < ns; k++) {
            size_t L = 1 + (size_t)(rng_next(&seed) % maxlen);
            if (n > L && rng_next(&seed) % 3 == 0) { /* a piece of the text */
                memcpy(stops[k], text + rng_next(&seed) % (n - L), L);
            } else {
                for (size_t i = 0; i < L; i++) stops[k][i] = (char)('a' + rng_next(&seed) % alpha);
            }
            stops[k][L] = '\0';
            sp[k] = stops[k];
        }
        size_t sizes[7];
        for (int j = 0; j < 7; j++)
            sizes[j] = mode == 1 ? 1 : 1 + (size_t)(rng_next(&seed) % (mode == 0 ? 400 : 20));
        hits += naive_cut(text, n, sp, ns) >= 0;
        bad += filter_run(text, n, sp, ns, sizes, 7, false);
    }
    T_EQ_INT(bad, 0);
    /* Both kinds of case were seen. */
    T_CHECK(hits > 40 && hits < 230);
}

/* The worst case for naive matching: a long run of one letter against 17 stop strings of 255
 * bytes that all but match it; never a hit, and the longest possible text is held back. */
static void test_filter_long_runs(void)
{
    static char text[3000], stops[GEN_MAX_STOP][GEN_STOP_LEN];
    const char *sp[GEN_MAX_STOP];
    memset(text, 'a', sizeof text - 1);
    for (size_t k = 0; k < GEN_MAX_STOP; k++) {
        size_t L = GEN_STOP_LEN - 1 - k;
        memset(stops[k], 'a', L);
        stops[k][L - 1] = 'b';
        stops[k][L] = '\0';
        sp[k] = stops[k];
    }
    size_t one = 1, big = 777;
    T_EQ_INT(filter_run(text, sizeof text - 1, sp, GEN_MAX_STOP, &one, 1, false), 0);
    T_EQ_INT(filter_run(text, sizeof text - 1, sp, GEN_MAX_STOP, &big, 1, false), 0);
    /* The text ends with the longest one: found whole across 254 one-byte pieces. */
    text[sizeof text - 2] = 'b';
    T_EQ_INT(filter_run(text, sizeof text - 1, sp, GEN_MAX_STOP, &one, 1, false), 0);
    T_EQ_INT((int)naive_cut(text, sizeof text - 1, sp, GEN_MAX_STOP),
             (int)(sizeof text - 1 - (GEN_STOP_LEN - 1)));
}

/* Multi-byte UTF-8 text and stop strings, split at every byte: the cut is right and every
 * piece let out is whole characters, even when a piece ends inside one. */
static void test_filter_utf8(void)
{
    const char *text = "Der Bär sagte: «日本語のテキスト» — 🙂 ok.\n用户：次の質問 "
                       "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"; /* 日本語 */
    const char *stops[] = {"\n用户：", "テキストX", "日本語の本", "🙂🙂", "Bär sagte!"};
    size_t n = strlen(text);
    for (size_t k = 1; k <= 9; k++) {
        size_t sizes[] = {k, k + 1, 1};
        T_EQ_INT(filter_run(text, n, stops, 5, sizes, 3, true), 0);
        T_EQ_INT(filter_run(text, n, stops + 1, 4, sizes, 3, true), 0); /* no hit */
    }
    T_CHECK(naive_cut(text, n, stops, 5) == (long)(strstr(text, "\n用户") - text));
    /* A 255-byte stop string of 3-byte characters that the text holds whole, fed a byte at a
     * time: 85 characters, then a miss on the last byte for the decoy. */
    char big[2048] = "Vorher. ", stop[GEN_STOP_LEN], decoy[GEN_STOP_LEN];
    for (int i = 0; i < 85; i++) strcat(big, "語");
    strcat(big, " Nachher.");
    memcpy(stop, strstr(big, "語"), 255);
    stop[255] = '\0';
    memcpy(decoy, stop, 255);
    decoy[254] = '\x9f';
    decoy[255] = '\0';
    const char *two[] = {decoy, stop};
    size_t one = 1;
    T_EQ_INT(filter_run(big, strlen(big), two, 2, &one, 1, true), 0);
    T_EQ_INT(filter_run(big, strlen(big), two, 1, &one, 1, true), 0);
    T_EQ_INT((int)naive_cut(big, strlen(big), two, 2), 8);
}

/* Which stop string wins, and the limits. */
static void test_filter_rules(void)
{
    gen_filter *f = malloc(sizeof *f);
    T_ASSERT(f);
    char out[GEN_FILTER_OUT(64)];
    size_t n;
    /* Two ending at the same byte: the longer (earlier) one is cut. */
    const char *user[] = {"User:", "\nUser:"};
    T_EQ_INT(gen_filter_init(f, user, 2), NT_OK);
    T_CHECK(gen_filter_feed(f, "Hi\nUser: x", 10, out, &n));
    T_EQ_STR(out, "Hi");
    /* The first to end wins, even inside one piece: "cd" ends before "abcdef" does. */
    const char *nest[] = {"abcdef", "cd"};
    T_EQ_INT(gen_filter_init(f, nest, 2), NT_OK);
    T_CHECK(gen_filter_feed(f, "xxabcdefyy", 10, out, &n));
    T_EQ_STR(out, "xxab");
    /* No stop strings: everything passes at once (whole characters). */
    T_EQ_INT(gen_filter_init(f, NULL, 0), NT_OK);
    T_CHECK(!gen_filter_feed(f, "plain \xc3", 7, out, &n));
    T_EQ_STR(out, "plain ");
    T_CHECK(!gen_filter_feed(f, "\xa9!", 2, out, &n));
    T_EQ_STR(out, "\xc3\xa9!");
    /* The limits: 17 strings of 1 to 255 bytes. */
    char s255[256], s256[257];
    memset(s255, 'x', 255);
    s255[255] = '\0';
    memset(s256, 'x', 256);
    s256[256] = '\0';
    const char *many[GEN_MAX_STOP + 1];
    for (int k = 0; k <= GEN_MAX_STOP; k++) many[k] = s255;
    T_EQ_INT(GEN_MAX_STOP, 17);
    T_EQ_INT(GEN_STOP_LEN - 1, 255);
    T_EQ_INT(gen_filter_init(f, many, GEN_MAX_STOP), NT_OK);
    T_EQ_INT(gen_filter_init(f, many, GEN_MAX_STOP + 1), NT_ERR_INVALID);
    const char *too_long[] = {"ok", s256};
    T_EQ_INT(gen_filter_init(f, too_long, 2), NT_ERR_INVALID);
    const char *empty[] = {"ok", ""};
    T_EQ_INT(gen_filter_init(f, empty, 2), NT_ERR_INVALID);
    T_CHECK(gen_stops_valid(many, GEN_MAX_STOP) && !gen_stops_valid(empty, 2) &&
            !gen_stops_valid(too_long, 2) && gen_stops_valid(NULL, 0));
    free(f);
}

/* ================================================ beam search on a model ===== */

typedef struct beam_seen {
    nt_tokens ids;   /* the tokens the token hook saw */
    int n_beam;      /* beam hook calls */
    int n_eval;      /* evaluations of generated tokens (gen_local's before_eval) */
    int width;       /* the beams asked for */
    int max_live;    /* the most live beams a step showed */
    int last_done;   /* finished answers at the last step */
} beam_seen;

static int beam_seen_token(void *user, const gen_token *t, nt_err *err)
{
    (void)err;
    beam_seen *b = user;
    T_EQ_INT(t->index, (int)b->ids.n);
    nt_tokens_push(&b->ids, t->id);
    return NT_OK;
}

/* Each step shows every live beam, best first, all one token longer than at the step
 * before, at most `width` of them, the finished count never falling, and a best finished
 * score exactly when something finished. */
static void beam_seen_beam(void *user, const gen_beam_view *v, int n_live, int n_done,
                           double best_done)
{
    beam_seen *b = user;
    T_CHECK(n_live >= 1 && n_live <= b->width);
    for (int i = 0; i < n_live; i++) {
        T_CHECK(v[i].n == (size_t)b->n_beam + 1); /* one token more at each step */
        T_CHECK(v[i].logp <= 0.0 && isfinite(v[i].logp));
        if (i > 0) T_CHECK(v[i].logp <= v[i - 1].logp);
        if (i > 0) T_CHECK(v[i].n != v[i - 1].n || memcmp(v[i].ids, v[i - 1].ids, v[i].n * sizeof *v[i].ids) != 0);
    }
    T_CHECK(n_done >= b->last_done);
    T_CHECK(n_done > 0 ? isfinite(best_done) : best_done == -INFINITY);
    b->last_done = n_done;
    if (n_live > b->max_live) b->max_live = n_live;
    b->n_beam++;
}

static void beam_count_eval(void *user) { ((beam_seen *)user)->n_eval++; }

/* A beam answer of max tokens after the prompt ids "1 403 407" on l; fills seen. */
static int beam_answer(gen_local *l, int beams, float alpha, int32_t max, beam_seen *seen,
                       gen_result *res)
{
    static const int32_t prompt[3] = {1, 403, 407};
    nt_err e = {0};
    gen_local_rewind(l, 0);
    T_EQ_INT(gen_local_eval(l, prompt, 3, &e), NT_OK);
    memset(seen, 0, sizeof *seen);
    seen->width = beams;
    l->before_eval = beam_count_eval;
    l->user = seen;
    gen_source src = gen_local_source(l);
    gen_opts o = {.params = nt_sampler_default_params(), .max_tokens = max};
    o.params.beams = beams;
    o.params.length_penalty = alpha;
    gen_hooks h = {.user = seen, .token = beam_seen_token, .beam = beam_seen_beam};
    int rc = gen_run(&src, &o, &h, res, &e);
    l->before_eval = NULL;
    if (rc) t_fail(__FILE__, __LINE__, "gen_run: %s", e.msg);
    return rc;
}

/* log-softmax of logits[n] into out. */
static void log_softmax(const float *l, int n, double *out)
{
    double mx = -INFINITY, sum = 0.0;
    for (int i = 0; i < n; i++) mx = l[i] > mx ? l[i] : mx;
    for (int i = 0; i < n; i++) sum += exp((double)l[i] - mx);
    for (int i = 0; i < n; i++) out[i] = (double)l[i] - mx - log(sum);
}

/* A fixture model (rel under ../shared/fixtures) with a 64-token context, one thread and a
 * KV cache of kv_type, as a source in *l; NULL when the fixture is absent (or loading failed:
 * recorded). */
static nt_model *beam_model_kv(gen_local *l, const char *rel, int kv_type)
{
    const char *path = t_fixture(rel);
    nt_model *m = path ? t_load_model_kv(path, 64, 1, kv_type) : NULL;
    nt_err e = {0};
    if (m && gen_local_init(l, m, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "gen_local_init: %s", e.msg);
        nt_model_free(m);
        m = NULL;
    }
    return m;
}

/* stories260K with the default KV cache type. */
static nt_model *beam_model(gen_local *l)
{
    return beam_model_kv(l, "models/stories260K.gguf", NT_KV_TYPE_DEFAULT);
}

/* With as many beams as the vocabulary and two tokens, beam search looks at every
 * continuation: its answer must be the best of a brute-force search over all of them,
 * scored the same way (total log-probability / length^alpha, an end token counting in the
 * length but not in the answer). */
static void test_beam_brute_force(void)
{
    gen_local l;
    nt_model *m = beam_model(&l);
    if (!m) T_SKIP("../shared/fixtures is absent");
    nt_err e = {0};
    const int V = l.n_vocab;
    const nt_tokenizer *tok = nt_model_tokenizer(m);
    double *lp1 = malloc(sizeof(double) * (size_t)V), *lp2 = malloc(sizeof(double) * (size_t)V);
    for (int a = 0; a < 2; a++) {
        const float alpha = a == 0 ? 1.0f : 0.0f;
        /* brute force */
        static const int32_t prompt[3] = {1, 403, 407};
        gen_local_rewind(&l, 0);
        T_EQ_INT(gen_local_eval(&l, prompt, 3, &e), NT_OK);
        log_softmax(l.logits, V, lp1);
        double best = -INFINITY;
        int32_t bx = -1, by = -1; /* by -1: the answer is bx alone (then an end token) */
        for (int32_t x = 0; x < V; x++) {
            if (nt_tokenizer_is_eog(tok, x)) {
                if (lp1[x] > best) best = lp1[x], bx = -2, by = -1; /* empty answer */
                continue;
            }
            gen_local_rewind(&l, 3);
            T_EQ_INT(gen_local_eval(&l, &x, 1, &e), NT_OK);
            log_softmax(l.logits, V, lp2);
            for (int32_t y = 0; y < V; y++) {
                double sc = (lp1[x] + lp2[y]) / pow(2.0, alpha);
                if (sc > best) {
                    best = sc;
                    bx = x;
                    by = nt_tokenizer_is_eog(tok, y) ? -1 : y;
                }
            }
        }
        beam_seen seen;
        gen_result res;
        T_EQ_INT(beam_answer(&l, V, alpha, 2, &seen, &res), NT_OK);
        T_ASSERT(bx != -2); /* this prompt does not end at once */
        T_EQ_INT((int)seen.ids.n, by < 0 ? 1 : 2);
        if (seen.ids.n >= 1) T_EQ_INT(seen.ids.v[0], bx);
        if (seen.ids.n == 2) T_EQ_INT(seen.ids.v[1], by);
        T_EQ_INT(res.end, by < 0 ? GEN_END_EOG : GEN_END_LENGTH);
        free(res.tail);
        nt_tokens_free(&seen.ids);
    }
    free(lp1);
    free(lp2);
    gen_local_free(&l);
    nt_model_free(m);
}

/* Four beams over 12 tokens: the prompt is evaluated once (the model's count of evaluated
 * tokens is the prompt plus one per beam extension, at most 4 per step but the last), the
 * answer is the same with one thread and two, the beam hook sees the best beam grow, and the
 * context afterwards continues exactly like a recomputation of prompt + answer. */
static void beam_cost_case(gen_local *l, nt_model *m)
{
    nt_err e = {0};
    const int V = l->n_vocab;
    beam_seen a, b;
    gen_result ra, rb;
    const int64_t ev0 = nt_model_n_evaluated(m);
    T_EQ_INT(beam_answer(l, 4, 1.0f, 12, &a, &ra), NT_OK);
    T_EQ_INT((int)(nt_model_n_evaluated(m) - ev0), 3 + a.n_eval);
    T_CHECK(a.n_eval <= 4 * 11);
    T_CHECK(a.n_eval >= (int)a.ids.n - 1);
    T_CHECK(a.ids.n > 0);
    T_EQ_INT(a.max_live, 4); /* the hook saw every live beam, not only the best */
    T_EQ_INT(a.n_beam, ra.end == GEN_END_LENGTH ? 12 : a.n_beam);
    T_EQ_INT(ra.n_gen, (int)a.ids.n);
    T_CHECK(ra.n_cand0 > 0);
    /* the context: prompt + answer (the last token unevaluated at max tokens) */
    int32_t held = (int32_t)(3 + a.ids.n - (ra.end == GEN_END_LENGTH ? 1 : 0));
    T_EQ_INT(nt_model_n_past(m), held);
    T_EQ_INT((int)l->ctx.n, held);
    for (int32_t i = 0; i < held - 3; i++) T_EQ_INT(l->ctx.v[3 + i], a.ids.v[i]);
    float *got = malloc(sizeof(float) * (size_t)V), *want = malloc(sizeof(float) * (size_t)V);
    int32_t next = 300;
    T_EQ_INT(gen_local_eval(l, &next, 1, &e), NT_OK);
    memcpy(got, l->logits, sizeof(float) * (size_t)V);
    nt_tokens all = {0};
    nt_tokens_append(&all, l->ctx.v, l->ctx.n);
    gen_local_rewind(l, 0);
    T_EQ_INT(gen_local_eval(l, all.v, (int32_t)all.n, &e), NT_OK);
    memcpy(want, l->logits, sizeof(float) * (size_t)V);
    T_CHECK(memcmp(got, want, sizeof(float) * (size_t)V) == 0);

    T_EQ_INT(nt_model_set_threads(m, 2), NT_OK);
    T_EQ_INT(beam_answer(l, 4, 1.0f, 12, &b, &rb), NT_OK);
    T_EQ_INT((int)b.ids.n, (int)a.ids.n);
    T_CHECK(b.ids.n == a.ids.n && memcmp(a.ids.v, b.ids.v, a.ids.n * sizeof(int32_t)) == 0);
    T_EQ_INT(rb.end, ra.end);
    free(ra.tail);
    free(rb.tail);
    free(got);
    free(want);
    nt_tokens_free(&all);
    nt_tokens_free(&a.ids);
    nt_tokens_free(&b.ids);
    gen_local_free(l);
    nt_model_free(m);
}

/* ... on stories260K, and on the tiny Llama fixture (head size 64, the same 512 ids) with
 * each KV cache type: forks of F32, F16 and Q8_0 caches alike. */
static void test_beam_cost(void)
{
    gen_local l;
    nt_model *m = beam_model(&l);
    if (!m) T_SKIP("../shared/fixtures is absent");
    beam_cost_case(&l, m);
    const int kv[3] = T_KV_TYPES;
    for (int i = 0; i < 3; i++) {
        m = beam_model_kv(&l, "quant/tiny-llama.q8_0.gguf", kv[i]);
        if (m) beam_cost_case(&l, m);
    }
}

/* A source that cannot fork refuses beams with a clear message. */
static void test_beam_needs_forks(void)
{
    fake f = {0};
    gen_source src = {.ops = &fake_ops, .self = &f, .n_vocab = FAKE_VOCAB};
    gen_opts o = {.params = nt_sampler_default_params(), .max_tokens = 4};
    o.params.beams = 2;
    gen_result res;
    nt_err e = {0};
    T_EQ_INT(gen_run(&src, &o, &(gen_hooks){0}, &res, &e), NT_ERR_UNSUPPORTED);
    T_EQ_STR(e.msg, "beam search needs the local engine");
    T_EQ_INT(res.end, GEN_END_ERROR);
    free(res.tail);
}


/* ========================================= beam search's length penalty, worked ===== */

/* A hand-made language over the fake vocabulary whose next-token probabilities depend on the
 * answer so far, with forks (a fork is a copy of the tokens): from nothing, "a" 0.7 and "b"
 * 0.3; after "a", the end 0.5, "b" and " c" 0.25 each; after "b", " c" 0.97 (and "b" 0.03);
 * after "b c", the same; after "b c c", the end 0.97 (and "b" 0.03); anywhere else "b" and
 * " c" 0.5 each. Tokens not named get 1e-6 (the logits are the logarithms of these). So "a" then the end has the higher total log-probability (ln 0.7 + ln 0.5 =
 * -1.050 against ln 0.3 + 3 ln 0.97 = -1.295 for "b c c" then the end), but the lower
 * log-probability per token (-0.525 against -0.324 over lengths 2 and 4). */
typedef struct lang {
    int32_t seq[16];
    size_t n;
    float logits[FAKE_VOCAB];
} lang;

static size_t lang_begin(void *self, const int32_t **ids)
{
    lang *g = self;
    *ids = g->seq;
    return 0;
}

static const float *lang_logits(void *self)
{
    lang *g = self;
    float p[FAKE_VOCAB];
    for (int i = 0; i < FAKE_VOCAB; i++) p[i] = 1e-6f;
    const int32_t *s = g->seq;
    if (g->n == 0) p[1] = 0.7f, p[2] = 0.3f;
    else if (g->n == 1 && s[0] == 1) p[0] = 0.5f, p[2] = 0.25f, p[6] = 0.25f;
    else if (g->n == 1 && s[0] == 2) p[6] = 0.97f, p[2] = 0.03f;
    else if (g->n == 2 && s[0] == 2 && s[1] == 6) p[6] = 0.97f, p[2] = 0.03f;
    else if (g->n == 3 && s[0] == 2 && s[1] == 6 && s[2] == 6) p[0] = 0.97f, p[2] = 0.03f;
    else p[2] = 0.5f, p[6] = 0.5f;
    for (int i = 0; i < FAKE_VOCAB; i++) g->logits[i] = logf(p[i]);
    return g->logits;
}

static int lang_eval(void *self, int32_t id, nt_err *err)
{
    lang *g = self;
    if (g->n == 16) return NT_ERR_CONTEXT_FULL;
    g->seq[g->n++] = id;
    return NT_OK;
}

static void *lang_fork_save(void *self, size_t from)
{
    lang *g = malloc(sizeof *g);
    if (g) *g = *(lang *)self;
    return g;
}

static int lang_fork_restore(void *self, const void *state, nt_err *err)
{
    *(lang *)self = *(const lang *)state;
    return NT_OK;
}

static void lang_fork_free(void *self, void *state) { free(state); }

static void lang_fork_keep(void *self, size_t n)
{
    lang *g = self;
    if (n < g->n) g->n = n;
}

static const char *lang_flush(void *self, size_t *len)
{
    *len = 0;
    return "";
}

static const gen_source_ops lang_ops = {
    .begin = lang_begin, .logits = lang_logits, .eval = lang_eval, .is_eog = fake_is_eog,
    .text = fake_text_of, .flush = lang_flush, .fork_save = lang_fork_save,
    .fork_restore = lang_fork_restore, .fork_free = lang_fork_free, .fork_keep = lang_fork_keep};

/* With two beams, length penalty 0 (total log-probability) keeps the short answer "a" and
 * length penalty 1 (per token) the long one "b c c", the switch coming between 0.25 and 0.5; both found finished (end of generation),
 * and the context holds the winner's tokens afterwards. */
static void test_beam_length_penalty(void)
{
    static const struct { float alpha; int n; int32_t ids[3]; } want[] = {
        {0.0f, 1, {1}}, {0.25f, 1, {1}}, {0.5f, 3, {2, 6, 6}}, {1.0f, 3, {2, 6, 6}}};
    /* the winner changes between 0.25 (-1.050 / 2^0.25 = -0.883 against -1.295 / 4^0.25 =
     * -0.916) and 0.5 (-0.742 against -0.648) */
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        lang g = {.n = 0};
        gen_source src = {.ops = &lang_ops, .self = &g, .n_vocab = FAKE_VOCAB};
        gen_opts o = {.params = nt_sampler_default_params(), .max_tokens = 8};
        o.params.beams = 2;
        o.params.length_penalty = want[k].alpha;
        seen s = {.stop_at = -1, .change_at = -1, .token_fail_at = -1};
        gen_hooks h = {.user = &s, .token = seen_token};
        gen_result res;
        nt_err e = {0};
        T_EQ_INT(gen_run(&src, &o, &h, &res, &e), NT_OK);
        T_EQ_INT(res.end, GEN_END_EOG);
        if (s.n != want[k].n) t_fail(__FILE__, __LINE__, "length penalty %.2f: %d tokens", want[k].alpha, s.n);
        T_EQ_INT(s.n, want[k].n);
        for (int i = 0; i < s.n && i < want[k].n; i++) T_EQ_INT(s.ids[i], want[k].ids[i]);
        T_EQ_INT((int)g.n, s.n); /* the context: the winner's tokens, its end not taken in */
        for (int i = 0; i < s.n && i < (int)g.n; i++) T_EQ_INT(g.seq[i], s.ids[i]);
        free(res.tail);
    }
}

int main(void)
{
    T_RUN(test_gen_max_tokens);
    T_RUN(test_gen_eog);
    T_RUN(test_gen_stop_string);
    T_RUN(test_gen_live_params);
    T_RUN(test_gen_end_reasons);
    T_RUN(test_gen_end_names);
    T_RUN(test_filter_rules);
    T_RUN(test_filter_fuzz);
    T_RUN(test_filter_long_runs);
    T_RUN(test_filter_utf8);
    T_RUN(test_beam_brute_force);
    T_RUN(test_beam_cost);
    T_RUN(test_beam_needs_forks);
    T_RUN(test_beam_length_penalty);
    return t_done();
}
