/* Tests for the forward pass (engine/model.c, forward.c, kv.c, pool.c): greedy generations and
 * perplexities against references produced by llama.cpp and llama2.c (../shared/fixtures),
 * bit-identical logits across thread counts, the KV cache (rewind), cancellation, context
 * limits, and the exact load errors for broken models built with the GGUF writer.
 *
 * Tolerances: greedy ids must match exactly; perplexity within 0.1% of llama.cpp's for
 * F32/F16/BF16 weights and within 1% for quantized weights (llama.cpp quantizes activations
 * differently and keeps its KV cache in F16); thread-count and rewind checks are bit-exact. */
#include "arch.h"
#include "model.h"
#include "natter.h"
#include "pool.h"
#include "t.h"
#include "t_models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ helpers ----- */

static int read_ids(const char *path, nt_tokens *out)
{
    size_t len;
    char *s = t_read_file(path, &len);
    if (!s) return -1;
    t_parse_ids(s, out);
    free(s);
    return 0;
}

/* Evaluates prompt, then greedily generates n ids (no stopping) into out. */
static int greedy(nt_model *m, const nt_tokens *prompt, int n, nt_tokens *out)
{
    const int32_t V = nt_model_get_info(m)->n_vocab;
    float *logits = malloc((size_t)V * sizeof *logits);
    nt_err e = {0};
    int rc = nt_model_eval(m, prompt->v, (int32_t)prompt->n, logits, &e);
    for (int i = 0; rc == NT_OK && i < n; i++) {
        int32_t id = t_argmax(logits, V);
        nt_tokens_push(out, id);
        if (i + 1 < n) rc = nt_model_eval(m, &id, 1, logits, &e);
    }
    if (rc) t_fail(__FILE__, __LINE__, "eval: %s", e.msg);
    free(logits);
    return rc;
}

static int first_mismatch(const nt_tokens *a, const nt_tokens *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++)
        if (a->v[i] != b->v[i]) return (int)i;
    return a->n == b->n ? -1 : (int)n;
}


/* ---------------------------------------------------------------------- pool ----- */

typedef struct pool_check {
    int *hits;      /* (n_tasks) times each task ran */
    int bad_thread; /* set when a task saw a thread number outside the pool */
    int n_threads;
} pool_check;

static void pool_check_task(void *ctx, int64_t task, int thread)
{
    pool_check *c = ctx;
    __atomic_add_fetch(&c->hits[task], 1, __ATOMIC_RELAXED);
    if (thread < 0 || thread >= c->n_threads) c->bad_thread = 1;
}

/* Every task of every job runs exactly once, for many back-to-back jobs of varied sizes. */
static void test_pool(void)
{
    for (int nt = 1; nt <= 3; nt++) {
        pool *p = nt_pool_init(nt);
        T_ASSERT(p);
        T_EQ_INT(nt_pool_n_threads(p), nt);
        int hits[300];
        pool_check c = {hits, 0, nt};
        for (int job = 0; job < 2000; job++) {
            const int n = 1 + (job * 37) % 300;
            memset(hits, 0, sizeof hits);
            nt_pool_run(p, n, pool_check_task, &c);
            for (int i = 0; i < n; i++)
                if (hits[i] != 1) {
                    t_fail(__FILE__, __LINE__, "threads %d, job %d: task %d ran %d times", nt, job, i, hits[i]);
                    job = 2000;
                    break;
                }
        }
        /* A job beyond one range word's 65535 tasks runs as several, each task once. */
        const int big = 150001;
        int *bh = calloc((size_t)big, sizeof *bh);
        T_ASSERT(bh);
        pool_check cb = {bh, 0, nt};
        nt_pool_run(p, big, pool_check_task, &cb);
        int wrong = 0;
        for (int i = 0; i < big; i++) wrong += bh[i] != 1;
        T_EQ_INT(wrong, 0);
        T_EQ_INT(cb.bad_thread, 0);
        free(bh);
        T_EQ_INT(c.bad_thread, 0);
        nt_pool_free(p);
    }
    nt_pool_free(NULL);
}

/* --------------------------------------------------------------- stories260K ----- */

static void stories_case(const char *which)
{
    char rel[128];
    const char *path = t_fixture("models/stories260K.gguf");
    if (!path) T_SKIP("../shared/fixtures is absent");
    nt_model *m = t_load_model(path, 512, 2);
    T_ASSERT(m);
    nt_tokens prompt = {0}, want = {0}, got = {0};
    snprintf(rel, sizeof rel, "models/stories260K.%s.prompt.ids", which);
    T_ASSERT(read_ids(t_fixture(rel), &prompt) == 0);
    snprintf(rel, sizeof rel, "models/stories260K.%s.greedy.ids", which);
    T_ASSERT(read_ids(t_fixture(rel), &want) == 0);
    T_EQ_INT(want.n, 200);
    T_EQ_INT(greedy(m, &prompt, 200, &got), NT_OK);
    int bad = first_mismatch(&got, &want);
    if (bad >= 0)
        t_fail(__FILE__, __LINE__, "%s: greedy id %d differs: got %d, want %d", which, bad,
               bad < (int)got.n ? got.v[bad] : -1, bad < (int)want.n ? want.v[bad] : -1);
    T_EQ_INT(nt_model_n_past(m), (int)prompt.n + 199);
    nt_tokens_free(&prompt);
    nt_tokens_free(&want);
    nt_tokens_free(&got);
    nt_model_free(m);
}

static void test_stories_greedy_once(void) { stories_case("once"); }
static void test_stories_greedy_lily(void) { stories_case("lily"); }

static void test_stories_info(void)
{
    const char *path = t_fixture("models/stories260K.gguf");
    if (!path) T_SKIP("../shared/fixtures is absent");
    nt_model *m = t_load_model(path, 0, 1);
    T_ASSERT(m);
    const nt_model_info *in = nt_model_get_info(m);
    T_EQ_STR(in->arch, "llama");
    T_EQ_INT(in->n_embd, 64);
    T_EQ_INT(in->n_layer, 5);
    T_EQ_INT(in->n_head, 8);
    T_EQ_INT(in->n_head_kv, 4);
    T_EQ_INT(in->n_ff, 172);
    T_EQ_INT(in->n_vocab, 512);
    T_EQ_INT(in->head_dim, 8);
    T_EQ_INT(in->n_rot, 8);
    T_EQ_INT(in->n_ctx_train, 128);
    T_EQ_INT(in->n_ctx, 128); /* default: the trained context (below the 4096 cap) */
    T_CHECK(in->n_params > 250000 && in->n_params < 300000);
    nt_model_free(m);
}

/* ---------------------------------------------------------------- quant fixtures ----- */

typedef struct ref_row {
    char file[64];
    double ppl;
    nt_tokens prompt, greedy;
} ref_row;

/* Reads refs.tsv (header line, then file, types, ppl, prompt ids, greedy ids). */
static int read_refs(ref_row **rows, int *n)
{
    size_t len;
    char *s = t_read_file(t_fixture("quant/refs.tsv"), &len);
    if (!s) return -1;
    *rows = NULL;
    *n = 0;
    char *save = NULL;
    int line = 0;
    for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save), line++) {
        if (line == 0) continue;
        char *f[5];
        int nf = 0;
        for (char *p = l; nf < 5; nf++) {
            f[nf] = p;
            char *tab = strchr(p, '\t');
            if (!tab) { nf++; break; }
            *tab = 0;
            p = tab + 1;
        }
        if (nf < 5) continue;
        *rows = realloc(*rows, (size_t)(*n + 1) * sizeof **rows);
        ref_row *r = &(*rows)[(*n)++];
        memset(r, 0, sizeof *r);
        snprintf(r->file, sizeof r->file, "%s", f[0]);
        r->ppl = strtod(f[2], NULL);
        t_parse_ids(f[3], &r->prompt);
        t_parse_ids(f[4], &r->greedy);
    }
    free(s);
    return 0;
}

static void free_refs(ref_row *rows, int n)
{
    for (int i = 0; i < n; i++) {
        nt_tokens_free(&rows[i].prompt);
        nt_tokens_free(&rows[i].greedy);
    }
    free(rows);
}

static void test_quant_greedy(void)
{
    if (!t_fixture("quant")) T_SKIP("../shared/fixtures is absent");
    ref_row *rows;
    int n;
    T_ASSERT(read_refs(&rows, &n) == 0);
    T_CHECK(n >= 12);
    for (int i = 0; i < n; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "quant/%s", rows[i].file);
        nt_model *m = t_load_model(t_fixture(rel), 0, 2);
        if (!m) continue;
        nt_tokens got = {0};
        greedy(m, &rows[i].prompt, (int)rows[i].greedy.n, &got);
        int bad = first_mismatch(&got, &rows[i].greedy);
        if (bad >= 0)
            t_fail(__FILE__, __LINE__, "%s: greedy id %d differs: got %d, want %d", rows[i].file,
                   bad, bad < (int)got.n ? got.v[bad] : -1, rows[i].greedy.v[bad]);
        nt_tokens_free(&got);
        nt_model_free(m);
    }
    free_refs(rows, n);
}

static void test_quant_perplexity(void)
{
    if (!t_fixture("quant")) T_SKIP("../shared/fixtures is absent");
    ref_row *rows;
    int n;
    T_ASSERT(read_refs(&rows, &n) == 0);
    size_t tlen;
    char *text = t_read_file(t_fixture("quant/gpl3-head.txt"), &tlen);
    T_ASSERT(text);
    for (int i = 0; i < n; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "quant/%s", rows[i].file);
        nt_model *m = t_load_model(t_fixture(rel), 0, 2);
        if (!m) continue;
        const nt_tokenizer *tok = nt_model_tokenizer(m);
        nt_tokens toks = {0};
        nt_err e = {0};
        int flags = nt_tokenizer_add_bos(tok) ? NT_TOK_ADD_BOS : 0;
        T_EQ_INT(nt_tokenizer_encode(tok, text, tlen, flags, &toks, &e), NT_OK);
        T_EQ_INT(toks.n, 3768);
        nt_model_ppl r;
        T_EQ_INT(nt_model_perplexity(m, toks.v, toks.n, 128, &r, &e), NT_OK);
        T_EQ_INT(r.n_chunks, 29);
        T_EQ_INT(r.n_scored, 29 * 63);
        T_EQ_INT(nt_model_n_past(m), 0);
        const bool plain = strstr(rows[i].file, ".f32.") || strstr(rows[i].file, ".f16.") ||
                           strstr(rows[i].file, ".bf16.");
        const double tol = (plain ? 0.001 : 0.01) * rows[i].ppl;
        if (!(fabs(r.ppl - rows[i].ppl) <= tol))
            t_fail(__FILE__, __LINE__, "%s: perplexity %.4f, llama.cpp %.4f (tolerance %.2f%%)",
                   rows[i].file, r.ppl, rows[i].ppl, plain ? 0.1 : 1.0);
        if (getenv("T_VERBOSE"))
            printf("  %-24s ppl %.4f (llama.cpp %.4f, %+.4f%%)\n", rows[i].file, r.ppl,
                   rows[i].ppl, 100.0 * (r.ppl - rows[i].ppl) / rows[i].ppl);
        nt_tokens_free(&toks);
        nt_model_free(m);
    }
    free(text);
    free_refs(rows, n);
}

/* Perplexity with each KV cache type, against llama-perplexity (c392e50) run on the same
 * file and text with the same cache type: `-c 128 -t 1 -ctk T -ctv T`, plus -fa for Q8_0
 * (llama.cpp quantizes the V cache only with flash attention). Tolerances: 0.01% for F32
 * weights (measured: at most 7e-6 relative), 0.1% for Q8_0 weights (measured: at most 4.2e-4;
 * the activations are quantized differently). */
static void test_kv_perplexity(void)
{
    static const struct { const char *file; int kv; double ppl, tol; } refs[] = {
        {"quant/tiny-llama.f32.gguf", NT_TYPE_F32, 10055.1535, 1e-4},
        {"quant/tiny-llama.f32.gguf", NT_TYPE_F16, 10055.0506, 1e-4},
        {"quant/tiny-llama.f32.gguf", NT_TYPE_Q8_0, 10050.4308, 1e-4},
        {"quant/tiny-llama.q8_0.gguf", NT_TYPE_F32, 10053.7621, 1e-3},
        {"quant/tiny-llama.q8_0.gguf", NT_TYPE_F16, 10049.4914, 1e-3},
        {"quant/tiny-llama.q8_0.gguf", NT_TYPE_Q8_0, 10043.2132, 1e-3},
    };
    if (!t_fixture("quant")) T_SKIP("../shared/fixtures is absent");
    size_t tlen;
    char *text = t_read_file(t_fixture("quant/gpl3-head.txt"), &tlen);
    T_ASSERT(text);
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        nt_model *m = t_load_model_kv(t_fixture(refs[i].file), 0, 2, refs[i].kv);
        if (!m) continue;
        nt_tokens toks = {0};
        nt_err e = {0};
        T_EQ_INT(nt_tokenizer_encode(nt_model_tokenizer(m), text, tlen, NT_TOK_ADD_BOS, &toks, &e), NT_OK);
        nt_model_ppl r = {0};
        T_EQ_INT(nt_model_perplexity(m, toks.v, toks.n, 128, &r, &e), NT_OK);
        if (!(fabs(r.ppl - refs[i].ppl) <= refs[i].tol * refs[i].ppl))
            t_fail(__FILE__, __LINE__, "%s, %s cache: perplexity %.4f, llama.cpp %.4f (tolerance %g%%)",
                   refs[i].file, nt_kv_type_name(refs[i].kv), r.ppl, refs[i].ppl, 100 * refs[i].tol);
        if (getenv("T_VERBOSE"))
            printf("  %-28s %-4s ppl %.4f (llama.cpp %.4f, %+.5f%%)\n", refs[i].file,
                   nt_kv_type_name(refs[i].kv), r.ppl, refs[i].ppl,
                   100.0 * (r.ppl - refs[i].ppl) / refs[i].ppl);
        nt_tokens_free(&toks);
        nt_model_free(m);
    }
    free(text);
}

/* --------------------------------------------------------------- determinism ----- */

/* Same input, 1, 2 and 3 threads and natter's choice (0: decoding probes sharing its jobs
 * against one thread and switches, model_tune): bit-identical logits on the prefill path (a
 * batch of prompt tokens, all logits) and on the decode path (one token at a time, past the
 * probe). */
static void threads_case_kv(const char *path, int kv_type)
{
    nt_model *m = t_load_model_kv(path, 0, 1, kv_type);
    T_ASSERT(m);
    T_EQ_INT(nt_model_get_info(m)->kv_type, kv_type);
    const int32_t V = nt_model_get_info(m)->n_vocab;
    enum { P = 32, N = P + MODEL_TUNE_PROBE + 8 };
    int32_t toks[N];
    for (int i = 0; i < N; i++) toks[i] = (int32_t)((i * 37 + 11) % V);
    toks[0] = 1;
    float *a = malloc(sizeof(float) * (size_t)V * N), *b = malloc(sizeof(float) * (size_t)V * N);
    nt_err e = {0};
    const int counts[4] = {1, 2, 3, 0};
    for (int c = 0; c < 4; c++) {
        float *out = c ? b : a;
        T_EQ_INT(nt_model_set_threads(m, counts[c]), NT_OK);
        nt_model_rewind(m, 0);
        T_EQ_INT(nt_model_eval_all(m, toks, P, out, &e), NT_OK);
        for (int i = P; i < N; i++)
            T_EQ_INT(nt_model_eval(m, &toks[i], 1, out + (size_t)V * (size_t)i, &e), NT_OK);
        if (c == 0) continue;
        T_CHECK(memcmp(a, b, sizeof(float) * (size_t)N * (size_t)V) == 0);
    }
    free(a);
    free(b);
    nt_model_free(m);
}

/* ... with each KV cache type. */
static void threads_case(const char *rel)
{
    const char *path = t_fixture(rel);
    if (!path) T_SKIP("../shared/fixtures is absent");
    const int kv[3] = T_KV_TYPES;
    for (int i = 0; i < 3; i++) threads_case_kv(path, kv[i]);
}

static void test_threads_f32(void) { threads_case("quant/tiny-llama.f32.gguf"); }
static void test_threads_f16(void) { threads_case("quant/tiny-llama.f16.gguf"); }
static void test_threads_q4_k(void) { threads_case("quant/tiny-llama.q4_k.gguf"); }
static void test_threads_q5_0(void) { threads_case("quant/tiny-llama.q5_0.gguf"); }
static void test_threads_q8_0(void) { threads_case("quant/tiny-llama.q8_0.gguf"); }
static void test_threads_q6_k(void) { threads_case("quant/tiny-llama.q6_k.gguf"); }
static void test_threads_qwen2(void) { threads_case("quant/tiny-qwen2.f32.gguf"); }

/* ---------------------------------------------------------------- kv cache ----- */

/* Each token is computed the same way whatever batch it is in: one call or several give
 * bit-identical logits, for quantized and float weights alike (replay and resume rely on it). */
static void split_invariance_case_kv(const char *path, int kv_type)
{
    nt_model *m = t_load_model_kv(path, 0, 2, kv_type);
    T_ASSERT(m);
    const int32_t V = nt_model_get_info(m)->n_vocab;
    int32_t toks[40];
    for (int i = 0; i < 40; i++) toks[i] = (int32_t)((i * 41 + 7) % V);
    float *a = malloc(sizeof(float) * (size_t)V * 40), *b = malloc(sizeof(float) * (size_t)V * 40);
    nt_err e = {0};
    T_EQ_INT(nt_model_eval_all(m, toks, 40, a, &e), NT_OK);
    nt_model_rewind(m, 0);
    T_EQ_INT(nt_model_eval_all(m, toks, 1, b, &e), NT_OK);
    T_EQ_INT(nt_model_eval_all(m, toks + 1, 7, b + V, &e), NT_OK);
    T_EQ_INT(nt_model_eval_all(m, toks + 8, 32, b + (size_t)V * 8, &e), NT_OK);
    T_CHECK(memcmp(a, b, sizeof(float) * (size_t)V * 40) == 0);
    free(a);
    free(b);
    nt_model_free(m);
}

static void split_invariance_case(const char *rel)
{
    const char *path = t_fixture(rel);
    if (!path) T_SKIP("../shared/fixtures is absent");
    const int kv[3] = T_KV_TYPES;
    for (int i = 0; i < 3; i++) split_invariance_case_kv(path, kv[i]);
}

static void test_split_invariance_q4_k(void) { split_invariance_case("quant/tiny-llama.q4_k.gguf"); }
static void test_split_invariance_f32(void) { split_invariance_case("quant/tiny-llama.f32.gguf"); }
static void test_split_invariance_f16(void) { split_invariance_case("quant/tiny-llama.f16.gguf"); }
static void test_split_invariance_q8_0(void) { split_invariance_case("quant/tiny-llama.q8_0.gguf"); }
static void test_split_invariance_q6_k(void) { split_invariance_case("quant/tiny-llama.q6_k.gguf"); }

static void test_rewind(void)
{
    const char *path = t_fixture("models/stories260K.gguf");
    if (!path) T_SKIP("../shared/fixtures is absent");
    nt_model *m = t_load_model(path, 512, 2);
    T_ASSERT(m);
    nt_tokens prompt = {0}, a = {0};
    T_ASSERT(read_ids(t_fixture("models/stories260K.once.prompt.ids"), &prompt) == 0);
    const int32_t P = (int32_t)prompt.n, V = 512;
    float *la = malloc(sizeof(float) * V * 40), *lb = malloc(sizeof(float) * V);
    nt_err e = {0};

    /* Fresh run: prompt, then 40 greedy tokens, keeping every step's logits. */
    T_EQ_INT(nt_model_eval(m, prompt.v, P, la, &e), NT_OK);
    for (int i = 0; i < 40; i++) {
        int32_t id = t_argmax(la + (size_t)V * i, V);
        nt_tokens_push(&a, id);
        if (i + 1 < 40) T_EQ_INT(nt_model_eval(m, &id, 1, la + (size_t)V * (i + 1), &e), NT_OK);
    }
    T_EQ_INT(nt_model_n_past(m), P + 39);

    /* Something else on top, then back to prompt + 5 generated tokens: evaluating token 5
     * again must give exactly the logits of the fresh run, and the same continuation. */
    int32_t junk[20];
    for (int i = 0; i < 20; i++) junk[i] = 100 + i;
    T_EQ_INT(nt_model_eval(m, junk, 20, NULL, &e), NT_OK);
    nt_model_rewind(m, P + 5);
    T_EQ_INT(nt_model_n_past(m), P + 5);
    T_EQ_INT(nt_model_eval(m, &a.v[5], 1, lb, &e), NT_OK);
    T_CHECK(memcmp(lb, la + (size_t)V * 6, sizeof(float) * V) == 0);
    for (int i = 6; i < 40; i++) {
        int32_t id = t_argmax(lb, V);
        if (id != a.v[i]) {
            t_fail(__FILE__, __LINE__, "after rewind, token %d: got %d, want %d", i, id, a.v[i]);
            break;
        }
        if (i + 1 < 40) T_EQ_INT(nt_model_eval(m, &id, 1, lb, &e), NT_OK);
    }

    /* Rewind into the prompt and process its rest as a new turn: same greedy tokens. */
    nt_model_rewind(m, 2);
    nt_tokens rest = {0}, b = {0};
    nt_tokens_append(&rest, prompt.v + 2, prompt.n - 2);
    T_EQ_INT(greedy(m, &rest, 40, &b), NT_OK);
    T_EQ_INT(first_mismatch(&a, &b), -1);

    nt_model_rewind(m, 1000); /* beyond n_past: no change */
    T_EQ_INT(nt_model_n_past(m), P + 39);
    free(la);
    free(lb);
    nt_tokens_free(&prompt);
    nt_tokens_free(&a);
    nt_tokens_free(&rest);
    nt_tokens_free(&b);
    nt_model_free(m);
}

/* Evaluates prefix then tail from an empty cache and returns the logits after the last token:
 * the "recompute" side of the fork checks. */
static void fresh_logits(nt_model *m, const nt_tokens *prefix, const int32_t *tail, int32_t n,
                         float *out)
{
    nt_err e = {0};
    nt_model_rewind(m, 0);
    T_EQ_INT(nt_model_eval(m, prefix->v, (int32_t)prefix->n, NULL, &e), NT_OK);
    T_EQ_INT(nt_model_eval(m, tail, n, out, &e), NT_OK);
}

/* Forks: states saved at the end of a shared prefix continue exactly as a recomputation of
 * the whole sequence would (bit-identical logits), however the branches were interleaved. */
static void kv_fork_case(const char *path, int kv_type)
{
    nt_model *m = t_load_model_kv(path, 128, 2, kv_type);
    T_ASSERT(m);
    nt_tokens prompt = {0};
    T_ASSERT(read_ids(t_fixture("models/stories260K.once.prompt.ids"), &prompt) == 0);
    const int32_t P = (int32_t)prompt.n, V = 512;
    const int32_t ta[6] = {403, 407, 261, 378, 300, 301}, tb[4] = {302, 303, 304, 305};
    float *got = malloc(sizeof(float) * V), *want = malloc(sizeof(float) * V);
    nt_kv_state *full = NULL, *sa = NULL, *sb = NULL;
    nt_err e = {0};

    const int64_t ev0 = nt_model_n_evaluated(m);
    T_EQ_INT(nt_model_eval(m, prompt.v, P, NULL, &e), NT_OK);
    T_EQ_INT(nt_model_n_evaluated(m) - ev0, P);
    T_EQ_INT(nt_model_kv_save(m, 0, &full, &e), NT_OK);
    T_EQ_INT(nt_kv_state_start(full), 0);
    T_EQ_INT(nt_kv_state_end(full), P);
    /* branch A: 5 tokens on the prefix, saved from the prefix's end (only its own positions) */
    T_EQ_INT(nt_model_eval(m, ta, 5, NULL, &e), NT_OK);
    T_EQ_INT(nt_model_kv_save(m, P, &sa, &e), NT_OK);
    T_EQ_INT(nt_kv_state_end(sa), P + 5);
    T_CHECK(nt_kv_state_bytes(sa) * (size_t)P == nt_kv_state_bytes(full) * 5);
    /* branch B: 3 tokens, from the prefix again */
    nt_model_rewind(m, P);
    T_EQ_INT(nt_model_eval(m, tb, 3, NULL, &e), NT_OK);
    T_EQ_INT(nt_model_kv_save(m, P, &sb, &e), NT_OK);

    /* A goes on: its 6th token after a restore equals recomputing prompt + all of A */
    T_EQ_INT(nt_model_kv_restore(m, sa, &e), NT_OK);
    T_EQ_INT(nt_model_n_past(m), P + 5);
    T_EQ_INT(nt_model_eval(m, ta + 5, 1, got, &e), NT_OK);
    fresh_logits(m, &prompt, ta, 6, want);
    T_CHECK(memcmp(got, want, sizeof(float) * V) == 0);
    /* B goes on the same way, after the cache was used for A and for the recomputation */
    nt_model_rewind(m, P);
    T_EQ_INT(nt_model_kv_restore(m, sb, &e), NT_OK);
    T_EQ_INT(nt_model_eval(m, tb + 3, 1, got, &e), NT_OK);
    fresh_logits(m, &prompt, tb, 4, want);
    T_CHECK(memcmp(got, want, sizeof(float) * V) == 0);
    /* a full snapshot restores into an emptied cache, twice */
    for (int k = 0; k < 2; k++) {
        nt_model_rewind(m, 0);
        T_EQ_INT(nt_model_kv_restore(m, full, &e), NT_OK);
        T_EQ_INT(nt_model_n_past(m), P);
        T_EQ_INT(nt_model_eval(m, tb, 1, got, &e), NT_OK);
    }
    fresh_logits(m, &prompt, tb, 1, want);
    T_CHECK(memcmp(got, want, sizeof(float) * V) == 0);

    /* refusals leave the cache alone */
    nt_model_rewind(m, 2);
    T_EQ_INT(nt_model_kv_restore(m, sa, &e), NT_ERR_INVALID);
    T_CHECK(strstr(e.msg, "starts at position") != NULL);
    T_EQ_INT(nt_model_n_past(m), 2);
    nt_kv_state *bad = NULL;
    T_EQ_INT(nt_model_kv_save(m, 3, &bad, &e), NT_ERR_INVALID);
    T_CHECK(bad == NULL);
    nt_model *other = t_load_model_kv(path, 64, 1, kv_type); /* another cache length */
    if (other) {
        T_EQ_INT(nt_model_kv_restore(other, full, &e), NT_ERR_INVALID);
        T_CHECK(strstr(e.msg, "another shape") != NULL);
        T_EQ_INT(nt_model_n_past(other), 0);
        nt_model_free(other);
    }
    /* another cache type */
    other = t_load_model_kv(path, 128, 1, kv_type == NT_TYPE_F16 ? NT_TYPE_F32 : NT_TYPE_F16);
    if (other) {
        T_EQ_INT(nt_model_kv_restore(other, full, &e), NT_ERR_INVALID);
        T_CHECK(strstr(e.msg, "another shape") != NULL);
        T_EQ_INT(nt_model_n_past(other), 0);
        nt_model_free(other);
    }
    nt_kv_state_free(NULL);
    nt_model_free(m);
    /* states outlive their model */
    T_EQ_INT(nt_kv_state_end(sb), P + 3);
    nt_kv_state_free(full);
    nt_kv_state_free(sa);
    nt_kv_state_free(sb);
    free(got);
    free(want);
    nt_tokens_free(&prompt);
}

/* The fork checks on stories260K (head size 8: F32 and F16 caches) and on the tiny Llama
 * fixture (head size 64) with each cache type; its vocabulary has the same 512 ids. */
static void test_kv_fork(void)
{
    if (!t_fixture("models/stories260K.gguf") || !t_fixture("quant/tiny-llama.f32.gguf"))
        T_SKIP("../shared/fixtures is absent");
    char stories[512], tiny[512]; /* t_fixture's answer lasts until its next call */
    snprintf(stories, sizeof stories, "%s", t_fixture("models/stories260K.gguf"));
    snprintf(tiny, sizeof tiny, "%s", t_fixture("quant/tiny-llama.f32.gguf"));
    kv_fork_case(stories, NT_TYPE_F32);
    kv_fork_case(stories, NT_TYPE_F16);
    const int kv[3] = T_KV_TYPES;
    for (int i = 0; i < 3; i++) kv_fork_case(tiny, kv[i]);
}

/* The cache types: the names natter's options and sessions use, the bytes a state takes, and
 * a Q8_0 cache refused, with the reason, for a head size that is not whole blocks. */
static void test_kv_types(void)
{
    T_EQ_INT(nt_kv_type_parse("f32"), NT_TYPE_F32);
    T_EQ_INT(nt_kv_type_parse("F16"), NT_TYPE_F16);
    T_EQ_INT(nt_kv_type_parse("q8_0"), NT_TYPE_Q8_0);
    T_EQ_INT(nt_kv_type_parse("q4_0"), -1);
    T_EQ_INT(nt_kv_type_parse(""), -1);
    T_EQ_INT(nt_kv_type_parse(NULL), -1);
    T_EQ_STR(nt_kv_type_name(NT_TYPE_Q8_0), "q8_0");
    T_CHECK(nt_kv_type_name(NT_TYPE_Q4_0) == NULL);
    T_EQ_INT(nt_model_default_params().kv_type, NT_KV_TYPE_DEFAULT);

    if (!t_fixture("models/stories260K.gguf") || !t_fixture("quant/tiny-llama.q8_0.gguf"))
        T_SKIP("../shared/fixtures is absent");
    char stories[512], tiny[512];
    snprintf(stories, sizeof stories, "%s", t_fixture("models/stories260K.gguf"));
    snprintf(tiny, sizeof tiny, "%s", t_fixture("quant/tiny-llama.q8_0.gguf"));
    nt_model_params p = nt_model_default_params();
    p.n_ctx = 64;
    p.kv_type = NT_TYPE_Q8_0;
    nt_model *m = NULL;
    nt_err e = {0};
    T_EQ_INT(nt_model_load(&m, stories, &p, &e), NT_ERR_UNSUPPORTED);
    T_CHECK(m == NULL);
    T_CHECK(strstr(e.msg, "stories260K.gguf: kv cache: type Q8_0 needs a head size that is a "
                          "multiple of 32; this model's is 8") != NULL);
    p.kv_type = NT_TYPE_Q4_0;
    T_EQ_INT(nt_model_load(&m, tiny, &p, &e), NT_ERR_UNSUPPORTED);
    T_CHECK(strstr(e.msg, "not one of F32, F16, Q8_0") != NULL);

    /* A state of 10 positions of the tiny model (2 layers, 2 KV heads of 64): keys and
     * values, 2 × 2 × 10 rows of 128 values. */
    const size_t row[3] = {128 * 4, 128 * 2, 4 * 34};
    const int kv[3] = T_KV_TYPES;
    int32_t toks[10];
    for (int i = 0; i < 10; i++) toks[i] = 1 + 17 * i;
    for (int i = 0; i < 3; i++) {
        p.kv_type = kv[i];
        T_EQ_INT(nt_model_load(&m, tiny, &p, &e), NT_OK);
        if (!m) continue;
        T_EQ_INT(nt_model_eval(m, toks, 10, NULL, &e), NT_OK);
        nt_kv_state *st = NULL;
        T_EQ_INT(nt_model_kv_save(m, 0, &st, &e), NT_OK);
        if (st) T_EQ_INT(nt_kv_state_bytes(st), 2 * 2 * 10 * row[i]);
        nt_kv_state_free(st);
        nt_model_free(m);
        m = NULL;
    }
}

static void test_context_full(void)
{
    const char *path = t_fixture("models/stories260K.gguf");
    if (!path) T_SKIP("../shared/fixtures is absent");
    nt_model *m = t_load_model(path, 16, 1);
    T_ASSERT(m);
    T_EQ_INT(nt_model_get_info(m)->n_ctx, 16);
    int32_t toks[17] = {1, 403, 407, 261, 378, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310, 311};
    nt_err e = {0};
    T_EQ_INT(nt_model_eval(m, toks, 10, NULL, &e), NT_OK);
    T_EQ_INT(nt_model_eval(m, toks + 10, 7, NULL, &e), NT_ERR_CONTEXT_FULL);
    T_EQ_STR(e.msg, "nt_model_eval: 7 tokens do not fit in the context (10 of 16 positions used)");
    T_EQ_INT(nt_model_n_past(m), 10);
    T_EQ_INT(nt_model_eval(m, toks + 10, 6, NULL, &e), NT_OK);
    T_EQ_INT(nt_model_n_past(m), 16);
    int32_t bad = 512;
    nt_model_rewind(m, 3);
    T_EQ_INT(nt_model_eval(m, &bad, 1, NULL, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "nt_model_eval: token 0 has id 512, outside the vocabulary (0..511)");
    T_EQ_INT(nt_model_n_past(m), 3);
    nt_model_free(m);
}

/* ---------------------------------------------------------------- cancellation ----- */

typedef struct cancel_state {
    int polls, fire_at;
    int progress_calls, last_done, last_total;
} cancel_state;

static bool cancel_cb(void *user)
{
    cancel_state *c = user;
    return ++c->polls >= c->fire_at;
}

static void progress_cb(int32_t done, int32_t total, void *user)
{
    cancel_state *c = user;
    c->progress_calls++;
    c->last_done = done;
    c->last_total = total;
}

static void test_cancel(void)
{
    const char *path = t_fixture("models/stories260K.gguf");
    if (!path) T_SKIP("../shared/fixtures is absent");
    nt_model *m = t_load_model(path, 512, 2);
    T_ASSERT(m);
    const int32_t V = 512, N = 100;
    int32_t toks[100];
    for (int i = 0; i < N; i++) toks[i] = (int32_t)(3 + (i * 53) % 500);
    toks[0] = 1;
    float *a = malloc(sizeof(float) * V), *b = malloc(sizeof(float) * V);
    nt_err e = {0};

    /* The reference: the whole prompt, uninterrupted. */
    cancel_state cs = {.fire_at = 1 << 30};
    nt_model_hooks h = {cancel_cb, progress_cb, &cs};
    nt_model_set_hooks(m, &h);
    T_EQ_INT(nt_model_eval(m, toks, N, a, &e), NT_OK);
    T_CHECK(cs.polls >= 5); /* at least once per layer */
    T_CHECK(cs.progress_calls >= 2);
    T_EQ_INT(cs.last_done, N);
    T_EQ_INT(cs.last_total, N);
    const int polls_per_batch = cs.polls / 2;

    /* Cancelled in the second batch: the first batch's tokens stay, nothing of the second. */
    nt_model_rewind(m, 0);
    cs = (cancel_state){.fire_at = polls_per_batch + 3};
    T_EQ_INT(nt_model_eval(m, toks, N, b, &e), NT_ERR_CANCELLED);
    const int32_t kept = nt_model_n_past(m);
    T_CHECK(kept > 0 && kept < N);
    /* Finishing the prompt afterwards gives the uninterrupted run's logits. */
    cs.fire_at = 1 << 30;
    T_EQ_INT(nt_model_eval(m, toks + kept, N - kept, b, &e), NT_OK);
    T_CHECK(memcmp(a, b, sizeof(float) * V) == 0);

    /* Cancelled at the first poll: nothing kept; a fresh evaluation is unaffected. */
    nt_model_rewind(m, 0);
    cs = (cancel_state){.fire_at = 1};
    T_EQ_INT(nt_model_eval(m, toks, N, b, &e), NT_ERR_CANCELLED);
    T_EQ_INT(nt_model_n_past(m), 0);
    cs.fire_at = 1 << 30;
    T_EQ_INT(nt_model_eval(m, toks, N, b, &e), NT_OK);
    T_CHECK(memcmp(a, b, sizeof(float) * V) == 0);
    free(a);
    free(b);
    nt_model_free(m);
}


/* ------------------------------------------------------- edited copies of a model ----- */

/* What copy_model changes in a copy of a GGUF model. */
typedef struct model_edit {
    bool drop_output;        /* leave output.weight out (tied embeddings) */
    bool output_is_embd;     /* write token_embd's data as output.weight */
    float rope_freqs;        /* > 0: add rope_freqs.weight with this value everywhere */
    float linear_factor;     /* > 0: rope.scaling.type linear with this factor */
} model_edit;

/* Copies every key and tensor of src into t_tmpdir()/name, with the edits. */
static const char *copy_model(const char *src, const char *name, const model_edit *ed)
{
    static char path[512];
    static float freqs[512];
    snprintf(path, sizeof path, "%s/%s", t_tmpdir(), name);
    nt_gguf *g = NULL;
    nt_err e = {0};
    if (nt_gguf_open(&g, src, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "%s", e.msg);
        return NULL;
    }
    nt_gguf_writer *w = nt_gguf_writer_init();
    int rc = NT_OK;
    for (int64_t i = 0; i < nt_gguf_n_kv(g) && rc == NT_OK; i++) rc = t_copy_key(w, g, i);
    if (ed->linear_factor > 0) {
        nt_gguf_writer_set_str(w, "llama.rope.scaling.type", "linear");
        nt_gguf_writer_set_f32(w, "llama.rope.scaling.factor", ed->linear_factor);
    }
    const nt_gguf_tensor *embd = nt_gguf_find_tensor(g, "token_embd.weight");
    for (int64_t i = 0; i < nt_gguf_n_tensors(g) && rc == NT_OK; i++) {
        const nt_gguf_tensor *t = nt_gguf_tensor_at(g, i);
        const bool out = strcmp(t->name, "output.weight") == 0;
        if (out && ed->drop_output) continue;
        const void *data = out && ed->output_is_embd ? embd->data : t->data;
        rc = nt_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, data);
    }
    if (ed->rope_freqs > 0) {
        uint32_t rot = 0;
        nt_gguf_get_u32(g, "llama.rope.dimension_count", &rot, NULL);
        int64_t n = rot ? rot / 2 : 4; /* stories260K: head_dim 8 */
        for (int64_t j = 0; j < n; j++) freqs[j] = ed->rope_freqs;
        nt_gguf_writer_add_tensor(w, "rope_freqs.weight", NT_TYPE_F32, 1, &n, freqs);
    }
    if (rc == NT_OK) rc = nt_gguf_writer_write(w, path, &e);
    if (rc != NT_OK) t_fail(__FILE__, __LINE__, "copy_model(%s): %d %s", name, rc, e.msg);
    nt_gguf_writer_free(w);
    nt_gguf_close(g);
    return rc == NT_OK ? path : NULL;
}

/* Logits after a fixed prompt, by the batch path (all positions) and one decoded token. */
static float *run_logits(const char *path, int32_t *n_vocab)
{
    nt_model *m = t_load_model(path, 64, 1);
    if (!m) return NULL;
    const int32_t V = nt_model_get_info(m)->n_vocab;
    const int32_t toks[12] = {1, 403, 407, 261, 378, 300, 301, 302, 303, 304, 305, 306};
    float *l = malloc(sizeof(float) * (size_t)V * 12);
    nt_err e = {0};
    if (nt_model_eval_all(m, toks, 11, l, &e) != NT_OK || nt_model_eval(m, toks + 11, 1, l + (size_t)V * 11, &e) != NT_OK)
        t_fail(__FILE__, __LINE__, "eval: %s", e.msg);
    *n_vocab = V;
    nt_model_free(m);
    return l;
}

/* Llama 3.1's rope_freqs divides each rotary frequency: all 2.0 must equal linear scaling by 2
 * exactly (dividing by 2 and multiplying by 0.5 are both exact), all 1.0 must change nothing,
 * and the rotation must matter at all. */
static void test_rope_freqs_and_scaling(void)
{
    const char *src = t_fixture("models/stories260K.gguf");
    if (!src) T_SKIP("../shared/fixtures is absent");
    int32_t V = 0;
    float *base = run_logits(src, &V);
    float *f2 = run_logits(copy_model(src, "freqs2.gguf", &(model_edit){.rope_freqs = 2.0f}), &V);
    float *lin2 = run_logits(copy_model(src, "linear2.gguf", &(model_edit){.linear_factor = 2.0f}), &V);
    float *f1 = run_logits(copy_model(src, "freqs1.gguf", &(model_edit){.rope_freqs = 1.0f}), &V);
    T_ASSERT(base && f2 && lin2 && f1);
    const size_t bytes = sizeof(float) * (size_t)V * 12;
    T_CHECK(memcmp(f2, lin2, bytes) == 0);
    T_CHECK(memcmp(f1, base, bytes) == 0);
    T_CHECK(memcmp(f2, base, bytes) != 0);
    free(base);
    free(f2);
    free(lin2);
    free(f1);
}

/* Without output.weight the embedding matrix is the output layer (tied embeddings). */
static void test_tied_output(void)
{
    /* (stories260K's output.weight is a copy of its embeddings; tiny-llama's is not.) */
    const char *src = t_fixture("quant/tiny-llama.f32.gguf");
    if (!src) T_SKIP("../shared/fixtures is absent");
    int32_t V = 0;
    float *tied = run_logits(copy_model(src, "tied.gguf", &(model_edit){.drop_output = true}), &V);
    float *same = run_logits(copy_model(src, "same.gguf", &(model_edit){.output_is_embd = true}), &V);
    float *base = run_logits(src, &V);
    T_ASSERT(tied && same && base);
    const size_t bytes = sizeof(float) * (size_t)V * 12;
    T_CHECK(memcmp(tied, same, bytes) == 0);
    T_CHECK(memcmp(tied, base, bytes) != 0);
    free(tied);
    free(same);
    free(base);
}


/* nt_model_perplexity's argument checks, its chunking on a text it can score, and cancellation. */
static void test_perplexity_args(void)
{
    const char *path = t_fixture("models/stories260K.gguf");
    if (!path) T_SKIP("../shared/fixtures is absent");
    nt_model *m = t_load_model(path, 64, 2);
    T_ASSERT(m);
    int32_t toks[300];
    for (int i = 0; i < 300; i++) toks[i] = (int32_t)(3 + (i * 29) % 500);
    nt_model_ppl r;
    nt_err e = {0};
    T_EQ_INT(nt_model_perplexity(m, toks, 127, 64, &r, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "nt_model_perplexity: 127 tokens are too few for a context of 64 (at least 128 needed)");
    T_EQ_INT(nt_model_perplexity(m, toks, 300, 128, &r, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "nt_model_perplexity: context 128 is outside 4..64 (the model's context)");
    T_EQ_INT(nt_model_perplexity(m, toks, 300, 0, &r, &e), NT_OK); /* 0: the model's 64 */
    T_EQ_INT(r.n_chunks, 4);
    T_EQ_INT(r.n_scored, 4 * 31);
    T_CHECK(r.ppl > 1.0 && isfinite(r.ppl) && r.ppl_err > 0.0);
    T_NEAR(log(r.ppl), r.nll, 1e-9);

    cancel_state cs = {.fire_at = 25};
    nt_model_hooks h = {cancel_cb, progress_cb, &cs};
    nt_model_set_hooks(m, &h);
    T_EQ_INT(nt_model_eval(m, toks, 10, NULL, &e), NT_OK);
    T_EQ_INT(nt_model_perplexity(m, toks, 300, 64, &r, &e), NT_ERR_CANCELLED);
    T_EQ_INT(nt_model_n_past(m), 0);
    T_CHECK(cs.last_total == 256 && cs.last_done > 0 && cs.last_done < 256);
    T_EQ_INT(nt_model_eval(m, toks, 0, NULL, &e), NT_ERR_INVALID);
    nt_model_free(m);
}

/* ---------------------------------------------------------------- bad models ----- */

/* The defects write_tiny builds into a tiny llama (dim 32, 1 layer, 4 heads, FFN 64,
 * vocab 8): `omit` is left out, `reshape` gets 48 rows instead of its own, `retype` is stored
 * as I32; head_kv and experts are written as given (0 experts: no key). */
typedef struct tiny_defects {
    const char *arch; /* NULL: llama */
    const char *omit, *reshape, *retype;
    uint32_t head_kv; /* 0 means 2 unless bad_head_kv */
    bool bad_head_kv; /* write head_kv even when it is 0 */
    uint32_t experts;
} tiny_defects;

/* Writes the tiny model into t_tmpdir()/file and returns its path. */
static const char *write_tiny(const char *file, tiny_defects d)
{
    static char path[512];
    static float zeros[64 * 64];
    snprintf(path, sizeof path, "%s/%s", t_tmpdir(), file);
    nt_gguf_writer *w = nt_gguf_writer_init();
    char key[64];
    const char *arch = d.arch ? d.arch : "llama";
    const char *omit = d.omit, *reshape = d.reshape, *retype = d.retype;
    uint32_t head_kv = d.head_kv || d.bad_head_kv ? d.head_kv : 2;
    nt_gguf_writer_set_str(w, "general.architecture", arch);
#define SETU(k, v) (snprintf(key, sizeof key, "%s." k, arch), nt_gguf_writer_set_u32(w, key, v))
    SETU("context_length", 16);
    SETU("embedding_length", 32);
    SETU("block_count", 1);
    SETU("feed_forward_length", 64);
    SETU("attention.head_count", 4);
    SETU("attention.head_count_kv", head_kv);
    if (d.experts) SETU("expert_count", d.experts);
#undef SETU
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    nt_gguf_writer_set_f32(w, key, 1e-5f);
    static const struct { const char *name; int64_t in, out; } ts[] = {
        {"token_embd.weight", 32, 8}, {"output_norm.weight", 32, 0},
        {"blk.0.attn_norm.weight", 32, 0}, {"blk.0.attn_q.weight", 32, 32},
        {"blk.0.attn_k.weight", 32, 16}, {"blk.0.attn_v.weight", 32, 16},
        {"blk.0.attn_output.weight", 32, 32}, {"blk.0.ffn_norm.weight", 32, 0},
        {"blk.0.ffn_gate.weight", 32, 64}, {"blk.0.ffn_up.weight", 32, 64},
        {"blk.0.ffn_down.weight", 64, 32},
    };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        if (omit && strcmp(ts[i].name, omit) == 0) continue;
        int64_t ne[2] = {ts[i].in, ts[i].out};
        if (reshape && strcmp(ts[i].name, reshape) == 0) ne[1] = 48;
        int type = retype && strcmp(ts[i].name, retype) == 0 ? NT_TYPE_I32 : NT_TYPE_F32;
        nt_gguf_writer_add_tensor(w, ts[i].name, type, ne[1] ? 2 : 1, ne, zeros);
    }
    nt_err e = {0};
    if (nt_gguf_writer_write(w, path, &e) != NT_OK) t_fail(__FILE__, __LINE__, "write: %s", e.msg);
    nt_gguf_writer_free(w);
    return path;
}

static void expect_load_error(const char *path, int code, const char *msg_after_path)
{
    nt_model *m = NULL;
    nt_err e = {0};
    char want[768];
    snprintf(want, sizeof want, "%s: %s", path, msg_after_path);
    T_EQ_INT(nt_model_load(&m, path, NULL, &e), code);
    T_CHECK(m == NULL);
    T_EQ_STR(e.msg, want);
}

static void test_bad_models(void)
{
    const char *p;
    p = write_tiny("missing.gguf", (tiny_defects){.omit = "blk.0.attn_k.weight"});
    expect_load_error(p, NT_ERR_FORMAT, "tensor 'blk.0.attn_k.weight' is missing");
    p = write_tiny("shape.gguf", (tiny_defects){.reshape = "blk.0.ffn_up.weight"});
    expect_load_error(p, NT_ERR_FORMAT, "tensor 'blk.0.ffn_up.weight' has shape [32, 48], expected [32, 64]");
    p = write_tiny("type.gguf", (tiny_defects){.retype = "blk.0.attn_q.weight"});
    expect_load_error(p, NT_ERR_UNSUPPORTED, "tensor 'blk.0.attn_q.weight' has type I32, which natter cannot run");
    p = write_tiny("heads.gguf", (tiny_defects){.head_kv = 3});
    expect_load_error(p, NT_ERR_FORMAT, "llama.attention.head_count = 4 is not a multiple of llama.attention.head_count_kv = 3");
    p = write_tiny("heads0.gguf", (tiny_defects){.bad_head_kv = true});
    expect_load_error(p, NT_ERR_FORMAT, "llama.attention.head_count_kv = 0 is out of range (1..1024)");
    p = write_tiny("moe.gguf", (tiny_defects){.experts = 8});
    /* llama with experts is Mixtral: it then needs the other expert keys */
    expect_load_error(p, NT_ERR_FORMAT, "missing key 'llama.expert_used_count'");
    p = write_tiny("arch.gguf", (tiny_defects){.arch = "gpt2"});
    /* the list itself is test_arch's to check: here, that the message carries it */
    char unsupported[512];
    snprintf(unsupported, sizeof unsupported, "architecture 'gpt2' is not supported (natter runs %s)", arch_list());
    expect_load_error(p, NT_ERR_UNSUPPORTED, unsupported);
    /* qwen2 requires the Q/K/V biases. */
    p = write_tiny("qwen2.gguf", (tiny_defects){.arch = "qwen2"});
    expect_load_error(p, NT_ERR_FORMAT, "tensor 'blk.0.attn_q.bias' is missing");
    /* Everything right but no vocabulary: the tokenizer's error, still no model. */
    p = write_tiny("novocab.gguf", (tiny_defects){0});
    nt_model *m = NULL;
    nt_err e = {0};
    T_CHECK(nt_model_load(&m, p, NULL, &e) < 0);
    T_CHECK(m == NULL);
}

int main(void)
{
    T_RUN(test_pool);
    T_RUN(test_stories_info);
    T_RUN(test_stories_greedy_once);
    T_RUN(test_stories_greedy_lily);
    T_RUN(test_quant_greedy);
    T_RUN(test_quant_perplexity);
    T_RUN(test_threads_f32);
    T_RUN(test_threads_f16);
    T_RUN(test_threads_q4_k);
    T_RUN(test_threads_q8_0);
    T_RUN(test_threads_q6_k);
    T_RUN(test_threads_q5_0);
    T_RUN(test_threads_qwen2);
    T_RUN(test_split_invariance_q4_k);
    T_RUN(test_split_invariance_f32);
    T_RUN(test_split_invariance_f16);
    T_RUN(test_split_invariance_q8_0);
    T_RUN(test_split_invariance_q6_k);
    T_RUN(test_rewind);
    T_RUN(test_kv_fork);
    T_RUN(test_kv_types);
    T_RUN(test_kv_perplexity);
    T_RUN(test_context_full);
    T_RUN(test_cancel);
    T_RUN(test_perplexity_args);
    T_RUN(test_rope_freqs_and_scaling);
    T_RUN(test_tied_output);
    T_RUN(test_bad_models);
    return t_done();
}
