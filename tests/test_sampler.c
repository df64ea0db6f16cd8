/* Tests for engine/sampler.c: each stage alone on hand-built logits with exact survivors and
 * probabilities (read back through nt_sampler_candidates), the order of the stages, greedy ties,
 * seeded determinism, the replay property under parameter changes, sampled frequencies, the
 * penalty window, and partial selection on a large vocabulary against a full sort.
 *
 * The newer samplers (top-nσ, typical-p, XTC, DRY, Mirostat v2) are checked on worked
 * examples computed by hand from their definitions (the papers and llama.cpp's documented
 * behaviour, restated in natter.h); each example says its arithmetic. DRY is also compared
 * with a direct O(n²) reading of its definition on random histories.
 *
 * Tolerances: probabilities computed in double by the test and by the sampler (stored as
 * float) agree within 1e-6; sampled frequencies within 0.03 of the probability over 4000 draws
 * (about 4 standard deviations for p = 0.4: sqrt(0.24 / 4000) = 0.0077). */
#include "natter.h"
#include "t.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PTOL 1e-6

/* Every stage off, temperature 1: the distribution is the softmax of the logits. */
static nt_sampler_params p_off(void)
{
    nt_sampler_params p = nt_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    p.repeat_last_n = 0;
    p.presence_penalty = 0.0f;
    p.frequency_penalty = 0.0f;
    p.seed = 1;
    return p;
}

/* p_after of every id after one step on logits[n] (filled in after[n]). */
static void step_after(nt_sampler *s, const float *logits, int n, double *after)
{
    nt_sampler_cand c[64];
    T_ASSERT(n <= 64);
    nt_sampler_sample(s, logits);
    int got = nt_sampler_candidates(s, c, n);
    T_EQ_INT(got, n);
    for (int i = 0; i < n; i++) after[i] = -1.0;
    for (int i = 0; i < got; i++) after[c[i].id] = c[i].p_after;
}

/* Expected: softmax of l[i] / t over the ids with keep[i], 0 elsewhere. */
static void expect_softmax(const double *l, const int *keep, int n, double t, double *want)
{
    double mx = -INFINITY, sum = 0.0;
    for (int i = 0; i < n; i++)
        if (keep[i] && l[i] > mx) mx = l[i];
    for (int i = 0; i < n; i++) sum += keep[i] ? exp((l[i] - mx) / t) : 0.0;
    for (int i = 0; i < n; i++) want[i] = keep[i] ? exp((l[i] - mx) / t) / sum : 0.0;
}

static void check_after(const double *got, const double *want, int n)
{
    for (int i = 0; i < n; i++) T_NEAR(got[i], want[i], PTOL);
}

static void test_defaults(void)
{
    nt_sampler_params p = nt_sampler_default_params();
    T_NEAR(p.temperature, 0.8, 1e-7);
    T_EQ_INT(p.top_k, 40);
    T_NEAR(p.top_p, 0.95, 1e-7);
    T_NEAR(p.min_p, 0.05, 1e-7);
    T_NEAR(p.repeat_penalty, 1.0, 0);
    T_EQ_INT(p.repeat_last_n, 64);
    T_CHECK(nt_sampler_init(&p, 0) == NULL);
    T_CHECK(nt_sampler_init(NULL, 10) == NULL);
    nt_sampler_free(NULL);
    nt_sampler *s = nt_sampler_init(&p, 10);
    T_ASSERT(s);
    nt_sampler_cand c[4];
    T_EQ_INT(nt_sampler_candidates(s, c, 4), 0); /* nothing sampled yet */
    T_CHECK(nt_sampler_get_params(s)->top_k == 40);
    nt_sampler_free(s);
}

static void test_greedy(void)
{
    nt_sampler_params p = p_off();
    p.temperature = 0.0f;
    p.top_k = 2; /* filters cannot change the argmax */
    nt_sampler *s = nt_sampler_init(&p, 5);
    T_ASSERT(s);
    const float l1[5] = {0.1f, 2.5f, -1.0f, 2.5f, 0.3f}; /* tie between 1 and 3: lowest id */
    T_EQ_INT(nt_sampler_sample(s, l1), 1);
    const float l2[5] = {-3.0f, -2.0f, -1.5f, -7.0f, -1.6f};
    T_EQ_INT(nt_sampler_sample(s, l2), 2);
    double a[5];
    step_after(s, l1, 5, a);
    const double want[5] = {0, 1, 0, 0, 0};
    check_after(a, want, 5);
    /* a negative temperature is greedy too */
    p.temperature = -1.0f;
    nt_sampler_set_params(s, &p);
    T_EQ_INT(nt_sampler_sample(s, l2), 2);
    nt_sampler_free(s);
}

static void test_softmax_only(void)
{
    nt_sampler_params p = p_off();
    nt_sampler *s = nt_sampler_init(&p, 4);
    T_ASSERT(s);
    const float l[4] = {logf(0.1f), logf(0.2f), logf(0.3f), logf(0.4f)};
    double a[4];
    step_after(s, l, 4, a);
    const double want[4] = {0.1, 0.2, 0.3, 0.4};
    check_after(a, want, 4);
    nt_sampler_free(s);
}

static void test_top_k(void)
{
    nt_sampler_params p = p_off();
    p.top_k = 3;
    nt_sampler *s = nt_sampler_init(&p, 5);
    T_ASSERT(s);
    const float l[5] = {1, 4, 2, 5, 3};
    const double ld[5] = {1, 4, 2, 5, 3};
    double a[5], want[5];
    step_after(s, l, 5, a);
    expect_softmax(ld, (const int[]){0, 1, 0, 1, 1}, 5, 1.0, want);
    check_after(a, want, 5);
    T_NEAR(a[3], 1.0 / (1.0 + exp(-1.0) + exp(-2.0)), PTOL); /* 0.66524 */

    /* ties at the cut: the lower ids survive */
    p.top_k = 2;
    nt_sampler_set_params(s, &p);
    const float t[5] = {1, 2, 2, 2, 0};
    step_after(s, t, 5, a);
    const double wt[5] = {0, 0.5, 0.5, 0, 0};
    check_after(a, wt, 5);

    /* top_k >= n_vocab keeps everything */
    p.top_k = 5;
    nt_sampler_set_params(s, &p);
    step_after(s, l, 5, a);
    expect_softmax(ld, (const int[]){1, 1, 1, 1, 1}, 5, 1.0, want);
    check_after(a, want, 5);
    nt_sampler_free(s);
}

static void test_top_p(void)
{
    nt_sampler_params p = p_off();
    nt_sampler *s = nt_sampler_init(&p, 4);
    T_ASSERT(s);
    const float l[4] = {logf(0.1f), logf(0.2f), logf(0.3f), logf(0.4f)};
    double a[4];
    struct {
        float top_p;
        double want[4];
    } cases[] = {
        {0.65f, {0, 0, 0.3 / 0.7, 0.4 / 0.7}},         /* .4 + .3 = .7 >= .65 */
        {0.75f, {0, 0.2 / 0.9, 0.3 / 0.9, 0.4 / 0.9}}, /* .9 >= .75 */
        {0.35f, {0, 0, 0, 1}},                         /* .4 alone */
        {0.0f, {0, 0, 0, 1}},                          /* at least one */
        {0.95f, {0.1, 0.2, 0.3, 0.4}},                 /* needs all four */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        p.top_p = cases[i].top_p;
        nt_sampler_set_params(s, &p);
        step_after(s, l, 4, a);
        check_after(a, cases[i].want, 4);
    }
    nt_sampler_free(s);
}

/* top-p on a vocabulary larger than the first sorted prefix (512): 5000 equal logits and
 * p = 0.5 keep exactly ids 0..2499 (ties by id), each 1/2500. */
static void test_top_p_large(void)
{
    enum { N = 5000 };
    nt_sampler_params p = p_off();
    p.top_p = 0.5f;
    nt_sampler *s = nt_sampler_init(&p, N);
    float *l = calloc(N, sizeof *l);
    nt_sampler_cand *c = malloc(N * sizeof *c);
    T_ASSERT(s && l && c);
    int32_t id = nt_sampler_sample(s, l);
    T_CHECK(id >= 0 && id < 2500);
    T_EQ_INT(nt_sampler_candidates(s, c, N), N);
    int kept = 0;
    for (int i = 0; i < N; i++) {
        T_EQ_INT(c[i].id, i); /* equal p_before: by id */
        T_NEAR(c[i].p_before, 1.0 / N, 1e-9);
        if (c[i].p_after > 0) {
            kept++;
            T_NEAR(c[i].p_after, 1.0 / 2500, 1e-9);
        }
    }
    T_EQ_INT(kept, 2500);
    T_CHECK(c[2499].p_after > 0 && c[2500].p_after == 0);
    free(c);
    free(l);
    nt_sampler_free(s);
}

static void test_min_p(void)
{
    nt_sampler_params p = p_off();
    nt_sampler *s = nt_sampler_init(&p, 4);
    T_ASSERT(s);
    const float l[4] = {logf(0.05f), logf(0.1f), logf(0.25f), logf(0.6f)};
    double a[4];
    p.min_p = 0.2f; /* threshold 0.12: 0.25 and 0.6 stay */
    nt_sampler_set_params(s, &p);
    step_after(s, l, 4, a);
    const double w1[4] = {0, 0, 0.25 / 0.85, 0.6 / 0.85};
    check_after(a, w1, 4);
    p.min_p = 0.1f; /* threshold 0.06: 0.05 goes */
    nt_sampler_set_params(s, &p);
    step_after(s, l, 4, a);
    const double w2[4] = {0, 0.1 / 0.95, 0.25 / 0.95, 0.6 / 0.95};
    check_after(a, w2, 4);
    p.min_p = 1.0f; /* only the best */
    nt_sampler_set_params(s, &p);
    step_after(s, l, 4, a);
    const double w3[4] = {0, 0, 0, 1};
    check_after(a, w3, 4);
    nt_sampler_free(s);
}

static void test_temperature(void)
{
    nt_sampler_params p = p_off();
    nt_sampler *s = nt_sampler_init(&p, 3);
    T_ASSERT(s);
    const float l[3] = {0, 1, 2};
    const double ld[3] = {0, 1, 2};
    const int all[3] = {1, 1, 1};
    double a[3], want[3];
    const float temps[] = {0.5f, 2.0f, 1.0f};
    for (size_t i = 0; i < 3; i++) {
        p.temperature = temps[i];
        nt_sampler_set_params(s, &p);
        step_after(s, l, 3, a);
        expect_softmax(ld, all, 3, temps[i], want);
        check_after(a, want, 3);
    }
    /* T = 0.5 on {0,1,2} is the softmax of {0,2,4}: e^4 / (1 + e^2 + e^4) = 0.86681 */
    p.temperature = 0.5f;
    nt_sampler_set_params(s, &p);
    step_after(s, l, 3, a);
    T_NEAR(a[2], exp(4.0) / (1.0 + exp(2.0) + exp(4.0)), PTOL);
    nt_sampler_free(s);
}

static void test_repeat_penalty(void)
{
    nt_sampler_params p = p_off();
    p.repeat_penalty = 2.0f;
    p.repeat_last_n = 64;
    nt_sampler *s = nt_sampler_init(&p, 4);
    T_ASSERT(s);
    nt_sampler_accept(s, 0);
    nt_sampler_accept(s, 1);
    nt_sampler_accept(s, 0); /* twice: still penalised once */
    nt_sampler_accept(s, 99); /* out of range: ignored */
    nt_sampler_accept(s, -1);
    const float l[4] = {2.0f, -2.0f, 1.0f, 0.5f};
    /* positive divided, negative multiplied: {1, -4, 1, 0.5} */
    const double pen[4] = {1.0, -4.0, 1.0, 0.5};
    double a[4], want[4];
    step_after(s, l, 4, a);
    expect_softmax(pen, (const int[]){1, 1, 1, 1}, 4, 1.0, want);
    check_after(a, want, 4);
    /* sampling does not accept: a second step sees the same history */
    step_after(s, l, 4, a);
    check_after(a, want, 4);
    /* greedy after the penalty: 0 and 2 tie at 1.0, the lowest id wins */
    p.temperature = 0.0f;
    nt_sampler_set_params(s, &p);
    T_EQ_INT(nt_sampler_sample(s, l), 0);
    const float l2[4] = {2.0f, -2.0f, 1.5f, 0.5f}; /* 0 → 1.0 < 1.5 */
    T_EQ_INT(nt_sampler_sample(s, l2), 2);
    nt_sampler_free(s);
}

static void test_presence_frequency(void)
{
    nt_sampler_params p = p_off();
    p.repeat_last_n = -1;
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 0.25f;
    nt_sampler *s = nt_sampler_init(&p, 4);
    T_ASSERT(s);
    nt_sampler_accept(s, 2);
    nt_sampler_accept(s, 2);
    nt_sampler_accept(s, 1);
    const float l[4] = {0, 0, 0, 0};
    /* token 2: -(2 * 0.5 + 0.25) = -1.25; token 1: -(0.5 + 0.25) = -0.75 */
    const double pen[4] = {0.0, -0.75, -1.25, 0.0};
    double a[4], want[4];
    step_after(s, l, 4, a);
    expect_softmax(pen, (const int[]){1, 1, 1, 1}, 4, 1.0, want);
    check_after(a, want, 4);
    nt_sampler_free(s);
}

static void test_penalty_window(void)
{
    nt_sampler_params p = p_off();
    p.presence_penalty = 1.0f;
    nt_sampler *s = nt_sampler_init(&p, 4);
    T_ASSERT(s);
    const int32_t h[5] = {0, 0, 0, 1, 2};
    for (int i = 0; i < 5; i++) nt_sampler_accept(s, h[i]);
    const float l[4] = {0, 0, 0, 0};
    const int all[4] = {1, 1, 1, 1};
    double a[4], want[4];
    struct {
        int32_t last_n;
        double pen[4];
    } cases[] = {
        {2, {0, -1, -1, 0}},   /* window {1, 2} */
        {3, {-1, -1, -1, 0}},  /* window {0, 1, 2} */
        {0, {0, 0, 0, 0}},     /* off */
        {-1, {-1, -1, -1, 0}}, /* whole history */
        {100, {-1, -1, -1, 0}},
        {1, {0, 0, -1, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        p.repeat_last_n = cases[i].last_n;
        nt_sampler_set_params(s, &p);
        step_after(s, l, 4, a);
        expect_softmax(cases[i].pen, all, 4, 1.0, want);
        check_after(a, want, 4);
    }
    /* reset forgets the history */
    nt_sampler_reset(s);
    p.repeat_last_n = -1;
    nt_sampler_set_params(s, &p);
    step_after(s, l, 4, a);
    const double flat[4] = {0.25, 0.25, 0.25, 0.25};
    check_after(a, flat, 4);
    nt_sampler_free(s);
}

static void test_stage_order(void)
{
    nt_sampler_params p = p_off();
    nt_sampler *s = nt_sampler_init(&p, 4);
    T_ASSERT(s);
    const float l[4] = {logf(0.1f), logf(0.2f), logf(0.3f), logf(0.4f)};
    double a[4];

    /* temperature after top-p: at T = 1, 0.4 < 0.5 so {3, 2} survive; had T = 0.5 come first
     * (p ∝ p²: 0.533 for id 3) only id 3 would. Survivors then get T: ∝ {0.09, 0.16}. */
    p.top_p = 0.5f;
    p.temperature = 0.5f;
    nt_sampler_set_params(s, &p);
    step_after(s, l, 4, a);
    const double w1[4] = {0, 0, 0.09 / 0.25, 0.16 / 0.25};
    check_after(a, w1, 4);

    /* top-k before top-p: after top-2, {0.571, 0.429}: p = 0.55 keeps id 3 only; over the full
     * distribution (0.4 < 0.55) it would keep two. */
    p = p_off();
    p.top_k = 2;
    p.top_p = 0.55f;
    nt_sampler_set_params(s, &p);
    step_after(s, l, 4, a);
    const double w2[4] = {0, 0, 0, 1};
    check_after(a, w2, 4);

    /* penalties before top-k: id 0 (logit 5 → 0.5) drops out of the top 2 */
    p = p_off();
    p.top_k = 2;
    p.repeat_penalty = 10.0f;
    p.repeat_last_n = 64;
    nt_sampler_set_params(s, &p);
    nt_sampler_accept(s, 0);
    const float m[4] = {5, 4, 3, 2};
    const double md[4] = {5, 4, 3, 2};
    double want[4];
    step_after(s, m, 4, a);
    expect_softmax(md, (const int[]){0, 1, 1, 0}, 4, 1.0, want);
    check_after(a, want, 4);

    /* min-p judges probabilities at T = 1: with min_p 0.6, {0.3, 0.4} survive (0.3 >= 0.24;
     * at T = 0.25 first, 0.3 would be 0.316 of the best and go), then T = 0.25 sharpens them:
     * ∝ {0.3^4, 0.4^4}. */
    nt_sampler_reset(s);
    p = p_off();
    p.min_p = 0.6f;
    p.temperature = 0.25f;
    nt_sampler_set_params(s, &p);
    step_after(s, l, 4, a);
    double d = pow(0.3, 4) + pow(0.4, 4);
    const double w4[4] = {0, 0, pow(0.3, 4) / d, pow(0.4, 4) / d};
    check_after(a, w4, 4);
    nt_sampler_free(s);
}

/* Deterministic pseudo-random logits for step k (a small LCG keyed on k). */
static void fill_logits(float *l, int n, uint32_t k)
{
    uint32_t x = 2463534242u ^ (k * 2654435761u);
    for (int i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        l[i] = (float)(x >> 8) / 16777216.0f * 4.0f;
    }
}

enum { NV = 50, STEPS = 40 };

/* Runs STEPS samples; at step `at` (if >= 0) switches to temperature t2. */
static void run(uint64_t seed, int at, float t1, float t2, int32_t *out)
{
    nt_sampler_params p = nt_sampler_default_params();
    p.seed = seed;
    p.temperature = t1;
    p.top_k = 20;
    nt_sampler *s = nt_sampler_init(&p, NV);
    T_ASSERT(s);
    float l[NV];
    for (int k = 0; k < STEPS; k++) {
        if (k == at) {
            p.temperature = t2;
            nt_sampler_set_params(s, &p);
        }
        fill_logits(l, NV, (uint32_t)k);
        out[k] = nt_sampler_sample(s, l);
        nt_sampler_accept(s, out[k]);
    }
    nt_sampler_free(s);
}

static void test_determinism(void)
{
    int32_t a[STEPS], b[STEPS], c[STEPS];
    run(42, -1, 1.0f, 1.0f, a);
    run(42, -1, 1.0f, 1.0f, b);
    run(43, -1, 1.0f, 1.0f, c);
    int same = 0, diff = 0;
    for (int k = 0; k < STEPS; k++) {
        same += a[k] == b[k];
        diff += a[k] != c[k];
        T_CHECK(a[k] >= 0 && a[k] < NV);
    }
    T_EQ_INT(same, STEPS);
    T_CHECK(diff >= STEPS / 4); /* another seed gives another sequence */

    /* reset replays from the seed; a changed seed reseeds like a fresh nt_sampler */
    nt_sampler_params p = nt_sampler_default_params();
    p.seed = 42;
    p.temperature = 1.0f;
    p.top_k = 20;
    nt_sampler *s = nt_sampler_init(&p, NV);
    T_ASSERT(s);
    float l[NV];
    for (int k = 0; k < 5; k++) {
        fill_logits(l, NV, (uint32_t)k);
        nt_sampler_accept(s, nt_sampler_sample(s, l));
    }
    nt_sampler_reset(s);
    int ok = 0;
    for (int k = 0; k < STEPS; k++) {
        fill_logits(l, NV, (uint32_t)k);
        int32_t id = nt_sampler_sample(s, l);
        nt_sampler_accept(s, id);
        ok += id == a[k];
    }
    T_EQ_INT(ok, STEPS);
    p.seed = 43;
    nt_sampler_set_params(s, &p);
    nt_sampler_reset(s); /* history cleared so penalties (off here) and RNG match a fresh run */
    ok = 0;
    for (int k = 0; k < STEPS; k++) {
        fill_logits(l, NV, (uint32_t)k);
        int32_t id = nt_sampler_sample(s, l);
        nt_sampler_accept(s, id);
        ok += id == c[k];
    }
    T_EQ_INT(ok, STEPS);
    nt_sampler_free(s);
}

/* Replay: a temperature change at step 5 is reproduced exactly by a second run doing the
 * same change at step 5; and the tail equals a sampler that ran 5 steps at any temperature
 * (greedy included) before the change, since each step consumes one RNG output. */
static void test_replay(void)
{
    int32_t a[STEPS], b[STEPS], g[STEPS], h[STEPS];
    run(7, 5, 0.8f, 1.5f, a);
    run(7, 5, 0.8f, 1.5f, b);
    run(7, 5, 0.0f, 1.5f, g); /* greedy for 5 steps, then 1.5 */
    run(7, 0, 0.3f, 1.5f, h); /* 1.5 from the start */
    int same = 0, tail_g = 0, tail_h = 0;
    for (int k = 0; k < STEPS; k++) same += a[k] == b[k];
    for (int k = 5; k < STEPS; k++) {
        tail_g += a[k] == g[k];
        tail_h += a[k] == h[k];
    }
    T_EQ_INT(same, STEPS);
    T_EQ_INT(tail_g, STEPS - 5);
    T_EQ_INT(tail_h, STEPS - 5);
    /* and the change does matter: without it the tail differs somewhere */
    int32_t n[STEPS];
    run(7, -1, 0.8f, 0.8f, n);
    int differ = 0;
    for (int k = 5; k < STEPS; k++) differ += a[k] != n[k];
    T_CHECK(differ > 0);
}

/* Sampled frequencies against the probabilities, 4000 draws per case (tolerance above). */
static void test_frequencies(void)
{
    enum { DRAWS = 4000 };
    const float l[4] = {logf(0.1f), logf(0.2f), logf(0.3f), logf(0.4f)};
    struct {
        float temperature;
        int32_t top_k;
        double want[4];
    } cases[] = {
        {1.0f, 0, {0.1, 0.2, 0.3, 0.4}},
        {1.0f, 2, {0, 0, 0.3 / 0.7, 0.4 / 0.7}},
        {2.0f, 0, {0}}, /* ∝ sqrt(p), filled below */
    };
    double z = sqrt(0.1) + sqrt(0.2) + sqrt(0.3) + sqrt(0.4);
    for (int i = 0; i < 4; i++) cases[2].want[i] = sqrt(0.1 * (i + 1)) / z;
    for (size_t c = 0; c < 3; c++) {
        nt_sampler_params p = p_off();
        p.seed = 1234 + c;
        p.temperature = cases[c].temperature;
        p.top_k = cases[c].top_k;
        nt_sampler *s = nt_sampler_init(&p, 4);
        T_ASSERT(s);
        int count[4] = {0};
        for (int k = 0; k < DRAWS; k++) {
            int32_t id = nt_sampler_sample(s, l);
            T_ASSERT(id >= 0 && id < 4);
            count[id]++;
        }
        for (int i = 0; i < 4; i++) T_NEAR((double)count[i] / DRAWS, cases[c].want[i], 0.03);
        nt_sampler_free(s);
    }
}

static void test_candidates(void)
{
    nt_sampler_params p = p_off();
    p.top_k = 3;
    nt_sampler *s = nt_sampler_init(&p, 5);
    T_ASSERT(s);
    const float l[5] = {1, 4, 2, 5, 3};
    const double ld[5] = {1, 4, 2, 5, 3};
    double before[5], after[5];
    expect_softmax(ld, (const int[]){1, 1, 1, 1, 1}, 5, 1.0, before);
    expect_softmax(ld, (const int[]){0, 1, 0, 1, 1}, 5, 1.0, after);
    int32_t id = nt_sampler_sample(s, l);
    T_CHECK(id == 1 || id == 3 || id == 4);
    nt_sampler_cand c[8];
    T_EQ_INT(nt_sampler_candidates(s, c, 8), 5); /* no more than the vocabulary */
    const int32_t order[5] = {3, 1, 4, 2, 0};
    for (int i = 0; i < 5; i++) {
        T_EQ_INT(c[i].id, order[i]);
        T_NEAR(c[i].p_before, before[order[i]], PTOL);
        T_NEAR(c[i].p_after, after[order[i]], PTOL);
    }
    T_EQ_INT(nt_sampler_candidates(s, c, 2), 2);
    T_EQ_INT(c[0].id, 3);
    T_EQ_INT(c[1].id, 1);
    T_EQ_INT(nt_sampler_candidates(s, c, 0), 0);
    nt_sampler_free(s);
}

/* Large vocabulary: top-k by partial selection keeps exactly the k largest (checked against
 * a full sort), NaN logits never win, and the probabilities after the chain sum to 1. */
static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* k = 40 takes the heap path, k = 2000 the quickselect path. */
static void large_top_k(int K)
{
    enum { N = 50000 };
    nt_sampler_params p = p_off();
    p.top_k = K;
    nt_sampler *s = nt_sampler_init(&p, N);
    float *l = malloc(N * sizeof *l), *sorted = malloc(N * sizeof *l);
    nt_sampler_cand *c = malloc(N * sizeof *c);
    T_ASSERT(s && l && sorted && c);
    fill_logits(l, N, 99);
    for (int i = 0; i < N; i++) l[i] *= 5.0f;
    l[123] = NAN;
    memcpy(sorted, l, N * sizeof *l);
    sorted[123] = -INFINITY;
    qsort(sorted, N, sizeof *sorted, cmp_desc);
    T_ASSERT(sorted[K - 1] > sorted[K]); /* no tie at the cut, so the kept set is unique */
    for (int rep = 0; rep < 3; rep++) {
        int32_t id = nt_sampler_sample(s, l);
        T_CHECK(id >= 0 && id < N && l[id] >= sorted[K - 1]);
    }
    T_EQ_INT(nt_sampler_candidates(s, c, N), N);
    double sum_after = 0.0, sum_before = 0.0;
    int kept = 0;
    for (int i = 0; i < N; i++) {
        sum_after += c[i].p_after;
        sum_before += c[i].p_before;
        if (c[i].p_after > 0) {
            kept++;
            T_CHECK(l[c[i].id] >= sorted[K - 1]);
        }
        if (i > 0) T_CHECK(c[i].p_before <= c[i - 1].p_before);
        if (c[i].id == 123) T_CHECK(c[i].p_before == 0 && c[i].p_after == 0);
    }
    T_EQ_INT(kept, K);
    T_NEAR(sum_after, 1.0, 1e-5);
    T_NEAR(sum_before, 1.0, 1e-4);
    free(c);
    free(sorted);
    free(l);
    nt_sampler_free(s);
}

static void test_large_top_k(void)
{
    large_top_k(40);
    large_top_k(2000);
}

/* Degenerate values never produce an out-of-range id or NaN probabilities: NaN and infinite
 * logits, -inf everywhere, extreme penalties and temperatures. */
static void test_degenerate(void)
{
    nt_sampler_params p = p_off();
    nt_sampler *s = nt_sampler_init(&p, 4);
    T_ASSERT(s);
    const float nan_l[4] = {NAN, 1.0f, NAN, 0.5f};
    double a[4];
    step_after(s, nan_l, 4, a);
    T_NEAR(a[0], 0, 0);
    T_NEAR(a[2], 0, 0);
    T_NEAR(a[1] + a[3], 1.0, PTOL);
    const float inf_l[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    T_EQ_INT(nt_sampler_sample(s, inf_l), 0);
    const float pinf[4] = {0.0f, INFINITY, 1.0f, INFINITY};
    int32_t id = nt_sampler_sample(s, pinf);
    T_CHECK(id == 1 || id == 3);
    step_after(s, pinf, 4, a);
    T_NEAR(a[1], 0.5, PTOL);
    T_NEAR(a[3], 0.5, PTOL);

    const float l[4] = {0.0f, 1.0f, 2.0f, 3.0f};
    const float temps[] = {1e-30f, 1e-45f, 1e30f, INFINITY, NAN};
    for (size_t i = 0; i < sizeof temps / sizeof temps[0]; i++) {
        p.temperature = temps[i];
        nt_sampler_set_params(s, &p);
        step_after(s, l, 4, a);
        double sum = 0.0;
        for (int k = 0; k < 4; k++) {
            T_CHECK(a[k] >= 0.0 && a[k] <= 1.0);
            sum += a[k];
        }
        T_NEAR(sum, 1.0, 1e-5);
        if (i < 2 || i == 4) T_NEAR(a[3], 1.0, PTOL); /* tiny or NaN temperature: greedy */
        if (i == 3) T_NEAR(a[0], 0.25, PTOL);         /* infinite temperature: uniform */
    }
    p = p_off();
    p.repeat_last_n = -1;
    p.presence_penalty = -INFINITY; /* would push the logit to +inf */
    p.frequency_penalty = NAN;
    nt_sampler_set_params(s, &p);
    nt_sampler_accept(s, 0);
    id = nt_sampler_sample(s, l);
    T_CHECK(id >= 0 && id < 4);
    step_after(s, l, 4, a);
    double sum = 0.0;
    for (int k = 0; k < 4; k++) sum += a[k];
    T_NEAR(sum, 1.0, 1e-5);
    nt_sampler_free(s);
}

/* ------------------------------------------------------------- the newer samplers ----- */

/* The last step ran one stage before the temperature: stage, keeping kept candidates. */
static void check_one_stage(const nt_sampler *s, int stage, int32_t kept)
{
    nt_sampler_stage_info st[4];
    T_EQ_INT(nt_sampler_stages(s, st, 4), 2);
    T_EQ_INT(st[0].stage, stage);
    T_EQ_INT(st[0].kept, kept);
    T_EQ_INT(st[1].stage, NT_STAGE_TEMPERATURE);
}

/* top-nσ on logits {4, 3, 2, 1, 0}: mean 2, population variance (4+1+0+1+4)/5 = 2, σ = 1.4142.
 * n = 1 keeps l >= 2.586 (ids 0, 1); n = 2 keeps l >= 1.172 (ids 0..2). A -inf logit is left
 * out of the mean and σ, so adding one changes nothing. */
static void test_top_n_sigma(void)
{
    nt_sampler_params p = p_off();
    p.top_n_sigma = 1.0f;
    nt_sampler *s = nt_sampler_init(&p, 6);
    T_ASSERT(s);
    const float l[6] = {4, 3, 2, 1, 0, -INFINITY};
    const double ld[6] = {4, 3, 2, 1, 0, -INFINITY};
    double a[6], want[6];
    step_after(s, l, 6, a);
    expect_softmax(ld, (const int[]){1, 1, 0, 0, 0, 0}, 6, 1.0, want);
    check_after(a, want, 6);
    check_one_stage(s, NT_STAGE_TOP_N_SIGMA, 2);
    p.top_n_sigma = 2.0f;
    nt_sampler_set_params(s, &p);
    step_after(s, l, 6, a);
    expect_softmax(ld, (const int[]){1, 1, 1, 0, 0, 0}, 6, 1.0, want);
    check_after(a, want, 6);
    nt_sampler_free(s);
}

/* typical-p on p = {0.5, 0.25, 0.125, 0.125}: H = 1.75 bits = 1.2130 nats; |-ln p - H| =
 * 0.520, 0.173, 0.866, 0.866, so the order is id 1, id 0, id 2, id 3 (2 and 3 tie: lower id).
 * Cumulative: 0.25, 0.75, 0.875, 1. typical_p 0.2 keeps only id 1 (the likeliest token goes:
 * it is less typical); 0.5 keeps {1, 0}; 0.8 keeps {1, 0, 2}. */
static void test_typical(void)
{
    const float l[4] = {logf(0.5f), logf(0.25f), logf(0.125f), logf(0.125f)};
    const double ld[4] = {log(0.5), log(0.25), log(0.125), log(0.125)};
    const struct {
        float typ;
        int keep[4];
        int kept;
    } cases[] = {{0.2f, {0, 1, 0, 0}, 1}, {0.5f, {1, 1, 0, 0}, 2}, {0.8f, {1, 1, 1, 0}, 3}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        nt_sampler_params p = p_off();
        p.typical_p = cases[k].typ;
        nt_sampler *s = nt_sampler_init(&p, 4);
        T_ASSERT(s);
        double a[4], want[4];
        step_after(s, l, 4, a);
        expect_softmax(ld, cases[k].keep, 4, 1.0, want);
        check_after(a, want, 4);
        check_one_stage(s, NT_STAGE_TYPICAL, cases[k].kept);
        nt_sampler_free(s);
    }
}

/* XTC on p = {0.4, 0.3, 0.2, 0.1} with probability 1 (it always acts): threshold 0.25 finds
 * ids 0 and 1 and removes id 0 (all but the least likely of them): {1, 2, 3} renormalised to
 * 0.5, 1/3, 1/6. Threshold 0.35 finds only id 0: nothing happens. Threshold 0.09 finds all
 * four: only id 3 is left. Threshold 0.6 (> 0.5): off. */
static void test_xtc(void)
{
    const float l[4] = {logf(0.4f), logf(0.3f), logf(0.2f), logf(0.1f)};
    const struct {
        float thr;
        double want[4];
        int kept;
    } cases[] = {
        {0.25f, {0, 0.5, 1.0 / 3, 1.0 / 6}, 3},
        {0.35f, {0.4, 0.3, 0.2, 0.1}, 4},
        {0.09f, {0, 0, 0, 1}, 1},
        {0.6f, {0.4, 0.3, 0.2, 0.1}, 4},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        nt_sampler_params p = p_off();
        p.xtc_probability = 1.0f;
        p.xtc_threshold = cases[k].thr;
        nt_sampler *s = nt_sampler_init(&p, 4);
        T_ASSERT(s);
        double a[4];
        step_after(s, l, 4, a);
        check_after(a, cases[k].want, 4);
        check_one_stage(s, NT_STAGE_XTC, cases[k].kept);
        nt_sampler_free(s);
    }
}

/* XTC's chance: with probability 0.5 it acts on about half the steps (2000 steps: within
 * 0.05, over 4 standard deviations), on the same steps for the same seed; and it takes no RNG
 * output of its own: where it can never act (threshold 0.45 on these p), a sampler with it
 * draws exactly the tokens of one without it. */
static void test_xtc_chance(void)
{
    enum { N = 2000 };
    const float l[4] = {logf(0.4f), logf(0.3f), logf(0.2f), logf(0.1f)};
    nt_sampler_params p = p_off();
    p.seed = 99;
    p.xtc_probability = 0.5f;
    p.xtc_threshold = 0.25f;
    nt_sampler *a = nt_sampler_init(&p, 4), *b = nt_sampler_init(&p, 4);
    T_ASSERT(a && b);
    int acted = 0, same = 0;
    for (int k = 0; k < N; k++) {
        nt_sampler_stage_info sa[4], sb[4];
        same += nt_sampler_sample(a, l) == nt_sampler_sample(b, l);
        nt_sampler_stages(a, sa, 4);
        nt_sampler_stages(b, sb, 4);
        acted += sa[0].kept == 3;
        same += sa[0].kept == sb[0].kept;
    }
    T_EQ_INT(same, 2 * N);
    T_NEAR((double)acted / N, 0.5, 0.05);
    nt_sampler_free(a);
    nt_sampler_free(b);

    p.xtc_threshold = 0.45f;
    nt_sampler_params q = p;
    q.xtc_probability = 0.0f;
    a = nt_sampler_init(&p, 4);
    b = nt_sampler_init(&q, 4);
    T_ASSERT(a && b);
    same = 0;
    for (int k = 0; k < 500; k++) same += nt_sampler_sample(a, l) == nt_sampler_sample(b, l);
    T_EQ_INT(same, 500);
    nt_sampler_free(a);
    nt_sampler_free(b);
}

/* DRY with logits all 0 over ids 0..9 and hist: the expected penalty of each id. */
static void dry_case(const int32_t *hist, int n, float mult, float base, int32_t allowed,
                     const double *pen)
{
    nt_sampler_params p = p_off();
    p.dry_multiplier = mult;
    p.dry_base = base;
    p.dry_allowed_length = allowed;
    nt_sampler *s = nt_sampler_init(&p, 10);
    T_ASSERT(s);
    for (int i = 0; i < n; i++) nt_sampler_accept(s, hist[i]);
    const float l[10] = {0};
    double ld[10], a[10], want[10];
    int keep[10], changed = 0;
    for (int i = 0; i < 10; i++) {
        ld[i] = -pen[i];
        keep[i] = 1;
        changed += pen[i] != 0.0;
    }
    step_after(s, l, 10, a);
    expect_softmax(ld, keep, 10, 1.0, want);
    check_after(a, want, 10);
    check_one_stage(s, NT_STAGE_DRY, 10);
    nt_sampler_stage_info st[4];
    nt_sampler_stages(s, st, 4);
    T_EQ_INT(st[0].changed, changed);
    nt_sampler_free(s);
}

/* Worked DRY examples (multiplier m, base b, allowed length a):
 *  - 1 2 3 4 1 2 3: the history ends with "1 2 3", which was followed by 4 before: 4 would
 *    make a repeat of L = 3, penalty m·b^(3-2) = 0.5·2 = 1. Nothing else ends the same way.
 *  - 1 2 9 1 2, a = 2: L = 2 for 9, penalty m·b^0 = m; with a = 3: nothing.
 *  - 1 2 3 5 7 2 3 6 1 2 3: "1 2 3" was followed by 5 (L = 3), "2 3" by 6 (L = 2): 5 gets
 *    m·b, 6 gets m. Where a token follows several matches, the longest counts:
 *  - 2 3 8 1 2 3 8 2 3: "2 3" precedes 8 twice (L = 2 both), and "... 2 3" at index 5 is
 *    preceded by 1, not by the history's 8: L = 2; 8 gets m·b^0.
 *  - 5 5 5 5 (a = 1): the ending "5 5 5" was followed by 5: L = 3, 5 gets m·b^2. */
static void test_dry(void)
{
    double pen[10] = {0};
    pen[4] = 1.0;
    dry_case((const int32_t[]){1, 2, 3, 4, 1, 2, 3}, 7, 0.5f, 2.0f, 2, pen);
    memset(pen, 0, sizeof pen);
    pen[9] = 0.8;
    dry_case((const int32_t[]){1, 2, 9, 1, 2}, 5, 0.8f, 1.75f, 2, pen);
    pen[9] = 0.0;
    dry_case((const int32_t[]){1, 2, 9, 1, 2}, 5, 0.8f, 1.75f, 3, pen);
    memset(pen, 0, sizeof pen);
    pen[5] = 0.8 * 1.75;
    pen[6] = 0.8;
    dry_case((const int32_t[]){1, 2, 3, 5, 7, 2, 3, 6, 1, 2, 3}, 11, 0.8f, 1.75f, 2, pen);
    memset(pen, 0, sizeof pen);
    pen[8] = 0.8;
    dry_case((const int32_t[]){2, 3, 8, 1, 2, 3, 8, 2, 3}, 9, 0.8f, 1.75f, 2, pen);
    memset(pen, 0, sizeof pen);
    pen[5] = 1.0 * 3.0 * 3.0;
    dry_case((const int32_t[]){5, 5, 5, 5}, 4, 1.0f, 3.0f, 1, pen);
    memset(pen, 0, sizeof pen);
    dry_case((const int32_t[]){1, 2}, 2, 1.0f, 2.0f, 2, pen); /* history not longer than a */
}

/* The definition read directly: for every earlier j (j + 1 < n), L = the longest common
 * ending of h[0..j] and h[0..n), at most limit; h[j+1] gets the largest L >= a. */
static void dry_naive(const int32_t *h, int n, int a, int limit, float m, float b, double *pen)
{
    int best[10];
    for (int i = 0; i < 10; i++) best[i] = -1;
    for (int j = 0; j + 1 < n; j++) {
        int len = 0;
        while (len <= j && h[j - len] == h[n - 1 - len]) len++;
        if (len > limit) len = limit;
        if (len >= a && len > best[h[j + 1]]) best[h[j + 1]] = len;
    }
    for (int i = 0; i < 10; i++) pen[i] = best[i] >= 0 ? m * pow(b, best[i] - a) : 0.0;
}

/* Random histories over 3 tokens (long repeats, so the Z-algorithm's box is exercised)
 * against the direct reading. */
static void test_dry_random(void)
{
    uint64_t x = 12345;
    for (int c = 0; c < 60; c++) {
        int32_t h[40];
        int n = 3 + c % 37;
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            h[i] = (int32_t)((x >> 33) % 3);
        }
        double pen[10];
        dry_naive(h, n, 2, n, 0.25f, 1.1f, pen);
        dry_case(h, n, 0.25f, 1.1f, 2, pen);
    }
}

/* Sequence breakers need a vocabulary: stories260K's, where "\n" is <0x0A> and ":" a piece.
 * A repeat does not reach back past the latest breaker, and a breaker is never penalised. */
static void test_dry_breakers(void)
{
    const char *path = t_fixture("models/stories260K.gguf");
    if (!path) T_SKIP("../shared/fixtures is absent");
    nt_gguf *g = NULL;
    nt_tokenizer *tok = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&g, path, &e) == NT_OK);
    T_ASSERT(nt_tokenizer_load(&tok, g, &e) == NT_OK);
    const int32_t V = nt_tokenizer_n_vocab(tok), nl = nt_tokenizer_find(tok, "<0x0A>", 6);
    T_ASSERT(nl >= 0);
    nt_sampler_params p = p_off();
    p.dry_multiplier = 1.0f;
    p.dry_base = 2.0f;
    p.dry_allowed_length = 2;
    float *l = calloc((size_t)V, sizeof *l);
    nt_sampler_cand c[1];
    nt_sampler_stage_info st[4];
    const int32_t A = 300, B = 301, C = 302, D = 303;
    struct {
        int32_t h[8];
        int n;
        int32_t changed;
    } cases[] = {
        {{A, B, C, D, nl, A, B, C}, 8, 1}, /* "A B C" after the newline: D penalised */
        {{A, B, nl, D, A, B, nl, D}, 8, 0}, /* limit 1 (the newline is 1 back) < 2: nothing */
        {{A, B, nl, D, A, B}, 6, 0},        /* "A B" was followed by the newline: a breaker */
    };
    for (size_t k = 0; k < 3; k++) {
        nt_sampler *s = nt_sampler_init(&p, V);
        T_ASSERT(s);
        T_EQ_INT(nt_sampler_set_breakers(s, tok, nt_sampler_default_breakers, 4), NT_OK);
        for (int i = 0; i < cases[k].n; i++) nt_sampler_accept(s, cases[k].h[i]);
        nt_sampler_sample(s, l);
        T_ASSERT(nt_sampler_stages(s, st, 4) == 2);
        T_EQ_INT(st[0].changed, cases[k].changed);
        if (k == 0) { /* D at logit -1: its probability is e^-1 times the others' */
            T_ASSERT(nt_sampler_candidates(s, c, 1) == 1);
            double others = 1.0 / ((double)(V - 1) + exp(-1.0));
            T_NEAR(c[0].p_after, others, PTOL);
        }
        /* without breakers, the third case penalises the newline */
        if (k == 2) {
            T_EQ_INT(nt_sampler_set_breakers(s, tok, NULL, 0), NT_OK);
            nt_sampler_sample(s, l);
            T_ASSERT(nt_sampler_stages(s, st, 4) == 2);
            T_EQ_INT(st[0].changed, 1);
        }
        nt_sampler_free(s);
    }
    nt_sampler *s = nt_sampler_init(&p, V + 1);
    T_EQ_INT(nt_sampler_set_breakers(s, tok, nt_sampler_default_breakers, 4), NT_ERR_INVALID);
    nt_sampler_free(s);
    free(l);
    nt_tokenizer_free(tok);
    nt_gguf_close(g);
}

/* Mirostat v2 on p = {0.5, 0.25, 0.125, 0.125} (surprises 1, 2, 3, 3 bits), tau 1, eta 0.5:
 * mu starts at 2·tau = 2, so ids 0 and 1 stay, renormalised to 2/3 and 1/3. Drawing id 0
 * (surprise log2(3/2) = 0.585) moves mu to 2 - 0.5·(0.585 - 1) = 2.2075; drawing id 1
 * (surprise log2 3 = 1.585) to 2 - 0.5·0.585 = 1.7075, below 2: the next step keeps id 0
 * alone (surprise 0) and mu goes back up by 0.5·1. */
static void test_mirostat(void)
{
    const float l[4] = {logf(0.5f), logf(0.25f), logf(0.125f), logf(0.125f)};
    int seen[2] = {0, 0};
    for (uint64_t seed = 1; seed < 40 && !(seen[0] && seen[1]); seed++) {
        nt_sampler_params p = p_off();
        p.seed = seed;
        p.mirostat_tau = 1.0f;
        p.mirostat_eta = 0.5f;
        p.top_k = 1; /* skipped with Mirostat on */
        nt_sampler *s = nt_sampler_init(&p, 4);
        T_ASSERT(s);
        T_NEAR(nt_sampler_mirostat_mu(s), 0.0, 0);
        double a[4];
        nt_sampler_cand c[4];
        int32_t id = nt_sampler_sample(s, l);
        T_ASSERT(id == 0 || id == 1);
        T_EQ_INT(nt_sampler_candidates(s, c, 4), 4);
        for (int i = 0; i < 4; i++) a[c[i].id] = c[i].p_after;
        check_after(a, (const double[]){2.0 / 3, 1.0 / 3, 0, 0}, 4);
        nt_sampler_stage_info st[4];
        T_EQ_INT(nt_sampler_stages(s, st, 4), 2);
        T_EQ_INT(st[0].stage, NT_STAGE_TEMPERATURE);
        T_EQ_INT(st[1].stage, NT_STAGE_MIROSTAT);
        T_EQ_INT(st[1].kept, 2);
        seen[id] = 1;
        if (id == 0) {
            T_NEAR(nt_sampler_mirostat_mu(s), 2.0 - 0.5 * (log2(1.5) - 1.0), 1e-5);
        } else {
            double mu = 2.0 - 0.5 * (log2(3.0) - 1.0);
            T_NEAR(nt_sampler_mirostat_mu(s), mu, 1e-5);
            T_EQ_INT(nt_sampler_sample(s, l), 0);
            nt_sampler_stages(s, st, 4);
            T_EQ_INT(st[1].kept, 1);
            T_NEAR(nt_sampler_mirostat_mu(s), mu + 0.5, 1e-5);
        }
        /* switched off, then on again: mu restarts at 2·tau (kept 2 again) */
        p.mirostat_tau = 0.0f;
        nt_sampler_set_params(s, &p);
        nt_sampler_sample(s, l);
        T_NEAR(nt_sampler_mirostat_mu(s), 0.0, 0);
        p.mirostat_tau = 1.0f;
        nt_sampler_set_params(s, &p);
        nt_sampler_sample(s, l);
        nt_sampler_stages(s, st, 4);
        T_EQ_INT(st[1].kept, 2);
        nt_sampler_free(s);
    }
    T_CHECK(seen[0] && seen[1]);
}

/* Every stage on: they run, and report, in the documented order. */
static void test_chain_order(void)
{
    nt_sampler_params p = p_off();
    p.repeat_penalty = 1.1f;
    p.repeat_last_n = 64;
    p.dry_multiplier = 0.5f;
    p.top_n_sigma = 3.0f;
    p.top_k = 30;
    p.typical_p = 0.99f;
    p.top_p = 0.99f;
    p.min_p = 0.01f;
    p.xtc_probability = 0.5f;
    nt_sampler *s = nt_sampler_init(&p, 50);
    T_ASSERT(s);
    float l[50];
    for (int i = 0; i < 50; i++) l[i] = (float)((i * 7) % 13) * 0.3f;
    for (int i = 0; i < 5; i++) nt_sampler_accept(s, i);
    nt_sampler_sample(s, l);
    nt_sampler_stage_info st[NT_STAGE_COUNT];
    const int want[] = {NT_STAGE_PENALTIES, NT_STAGE_DRY, NT_STAGE_TOP_N_SIGMA, NT_STAGE_TOP_K,
                        NT_STAGE_TYPICAL, NT_STAGE_TOP_P, NT_STAGE_MIN_P, NT_STAGE_XTC,
                        NT_STAGE_TEMPERATURE};
    T_EQ_INT(nt_sampler_stages(s, st, NT_STAGE_COUNT), 9);
    for (int i = 0; i < 9; i++) T_EQ_INT(st[i].stage, want[i]);
    T_EQ_INT(st[0].kept, 50);
    T_EQ_INT(st[0].changed, 5);
    for (int i = 1; i < 9; i++) T_CHECK(st[i].kept <= st[i - 1].kept);
    T_EQ_STR(nt_sampler_stage_name(NT_STAGE_TOP_N_SIGMA), "top-n-sigma");
    T_CHECK(nt_sampler_stage_name(NT_STAGE_COUNT) == NULL);
    /* greedy: the history stages, then the argmax */
    p.temperature = 0.0f;
    nt_sampler_set_params(s, &p);
    nt_sampler_sample(s, l);
    T_EQ_INT(nt_sampler_stages(s, st, NT_STAGE_COUNT), 3);
    T_EQ_INT(st[2].stage, NT_STAGE_GREEDY);
    T_EQ_INT(st[2].kept, 1);
    nt_sampler_free(s);
}

int main(void)
{
    T_RUN(test_defaults);
    T_RUN(test_greedy);
    T_RUN(test_softmax_only);
    T_RUN(test_top_k);
    T_RUN(test_top_p);
    T_RUN(test_top_p_large);
    T_RUN(test_min_p);
    T_RUN(test_temperature);
    T_RUN(test_repeat_penalty);
    T_RUN(test_presence_frequency);
    T_RUN(test_penalty_window);
    T_RUN(test_stage_order);
    T_RUN(test_determinism);
    T_RUN(test_replay);
    T_RUN(test_frequencies);
    T_RUN(test_candidates);
    T_RUN(test_large_top_k);
    T_RUN(test_degenerate);
    T_RUN(test_top_n_sigma);
    T_RUN(test_typical);
    T_RUN(test_xtc);
    T_RUN(test_xtc_chance);
    T_RUN(test_dry);
    T_RUN(test_dry_random);
    T_RUN(test_dry_breakers);
    T_RUN(test_mirostat);
    T_RUN(test_chain_order);
    return t_done();
}
