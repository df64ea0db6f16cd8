/* cmd_bench.c — `natter bench [-m MODEL] [--threads N] [--depth N] [--kv-type T] [--json]
 * [--quick] [--type LIST]`.
 *
 * Measures, in one run: this machine's memory read bandwidth (threads streaming through a
 * buffer far larger than the caches), a STREAM triad over the same buffer as a cross-check,
 * and the f32 FMA peak, then per model the prompt speed (a 128-token prompt) and the
 * generation speed (64 tokens, one at a time), both after --depth tokens of context. Decoding one
 * token reads every weight once, so bandwidth ÷ (bytes of weights read per token) is the
 * ceiling of generation speed; prompt processing is bounded by arithmetic instead. Each speed
 * is printed with the fraction of its ceiling it reaches.
 *
 * With no -m it benchmarks random-weight models at the shapes of SmolLM2-135M,
 * TinyLlama-1.1B and a mixture of experts (bench_shapes) in Q8_0, F16 and Q4_K, or the types
 * --type lists (random blocks for the types natter cannot quantize to; rows whose length is
 * not a multiple of a type's 256-value block in Q8_0), written once with the
 * engine's GGUF writer and cached in $XDG_CACHE_HOME/natter/bench (or ~/.cache/natter/bench).
 * The bench feeds token ids directly, so their tokenizer is a minimal valid byte-level one
 * padded to the vocabulary size. --quick uses two tiny shapes instead (for tests). */
#include "natter.h"
#include "util/text.h"
#include "args.h"
#include "cmds.h"
#include "model_find.h"
#include "util/json.h"
#include "util/rng.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BENCH_X86 1
#endif

#define BENCH_PP 128 /* prompt tokens */
#define BENCH_TG 64  /* generated tokens */
#define BENCH_DEPTH_ROUNDS 3 /* --depth: generation runs at the depth and at an empty cache, alternated */

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------ machine limits ----- */

typedef struct bench_thread {
    const uint64_t *p;
    size_t n;     /* uint64 words (the triad: doubles of each array) */
    double *ta;   /* the triad: a = b + s·c, each n doubles of this thread's share */
    const double *tb, *tc;
    int64_t iters;
    uint64_t sink;
    float fsink;
    bool simd;
} bench_thread;

/* The read loops ask for the data 2 KB ahead into L2, as natter's decoding kernels do
 * (engine/quant.h, QUANT_PREFETCH_AHEAD): without it one thread read 13-15 GB/s here, less
 * than F16 decoding then reached (16), so "% of the limit" went above 100; with it 20-21. */
#define BENCH_PREFETCH(p) __builtin_prefetch((const char *)(p) + 2048, 0, 2)

#ifdef BENCH_X86
__attribute__((target("avx512f"))) static uint64_t bench_read_avx512(const uint64_t *p, size_t n)
{
    /* three streams, as bench_read_scalar (below) */
    const size_t m = n / 3;
    const uint64_t *q0 = p, *q1 = p + m, *q2 = p + 2 * m;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0;
    for (size_t i = 0; i + 8 <= m; i += 8) {
        BENCH_PREFETCH(q0 + i);
        BENCH_PREFETCH(q1 + i);
        BENCH_PREFETCH(q2 + i);
        a0 = _mm512_add_epi64(a0, _mm512_load_si512((const void *)(q0 + i)));
        a1 = _mm512_add_epi64(a1, _mm512_load_si512((const void *)(q1 + i)));
        a2 = _mm512_add_epi64(a2, _mm512_load_si512((const void *)(q2 + i)));
    }
    a0 = _mm512_add_epi64(_mm512_add_epi64(a0, a1), a2);
    /* Not _mm512_reduce_add_epi64: GCC writes it with signed 64-bit vector additions, so the
     * sum of arbitrary memory words, which wraps, is undefined there (UBSan stops make asan).
     * The lanes are added here as unsigned words, which wrap by definition. */
    uint64_t lane[8], s = 0;
    _mm512_storeu_si512((void *)lane, a0);
    for (int k = 0; k < 8; k++) s += lane[k];
    return s;
}

/* 12 independent FMA chains keep both FMA ports busy despite the 4-cycle latency; named
 * variables, not an array, so they stay in registers. V is the vector type, P its
 * intrinsics' prefix (_mm512 or _mm256); the lanes' sum is left in s. */
#define BENCH_FMA_CHAINS(V, P, iters)                                                       \
    V a = P##_set1_ps(0.999999f), b = P##_set1_ps(1e-7f);                                     \
    V c0 = P##_set1_ps(0), c1 = P##_set1_ps(1), c2 = P##_set1_ps(2);                         \
    V c3 = P##_set1_ps(3), c4 = P##_set1_ps(4), c5 = P##_set1_ps(5);                         \
    V c6 = P##_set1_ps(6), c7 = P##_set1_ps(7), c8 = P##_set1_ps(8);                         \
    V c9 = P##_set1_ps(9), c10 = P##_set1_ps(10), c11 = P##_set1_ps(11);                     \
    for (int64_t i = 0; i < (iters); i++) {                                                  \
        c0 = P##_fmadd_ps(c0, a, b);                                                         \
        c1 = P##_fmadd_ps(c1, a, b);                                                         \
        c2 = P##_fmadd_ps(c2, a, b);                                                         \
        c3 = P##_fmadd_ps(c3, a, b);                                                         \
        c4 = P##_fmadd_ps(c4, a, b);                                                         \
        c5 = P##_fmadd_ps(c5, a, b);                                                         \
        c6 = P##_fmadd_ps(c6, a, b);                                                         \
        c7 = P##_fmadd_ps(c7, a, b);                                                         \
        c8 = P##_fmadd_ps(c8, a, b);                                                         \
        c9 = P##_fmadd_ps(c9, a, b);                                                         \
        c10 = P##_fmadd_ps(c10, a, b);                                                       \
        c11 = P##_fmadd_ps(c11, a, b);                                                       \
    }                                                                                        \
    V s = P##_add_ps(P##_add_ps(P##_add_ps(c0, c1), P##_add_ps(c2, c3)),                     \
                     P##_add_ps(P##_add_ps(c4, c5), P##_add_ps(c6, c7)));                    \
    s = P##_add_ps(s, P##_add_ps(P##_add_ps(c8, c9), P##_add_ps(c10, c11)))

__attribute__((target("avx512f"))) static float bench_fma_avx512(int64_t iters)
{
    BENCH_FMA_CHAINS(__m512, _mm512, iters);
    return _mm512_reduce_add_ps(s);
}

/* The same with 8 lanes, for machines without AVX-512. */
__attribute__((target("avx2,fma"))) static float bench_fma_avx2(int64_t iters)
{
    BENCH_FMA_CHAINS(__m256, _mm256, iters);
    float lane[8], sum = 0;
    _mm256_storeu_ps(lane, s);
    for (int k = 0; k < 8; k++) sum += lane[k];
    return sum;
}

/* STREAM's triad a[i] = b[i] + s·c[i], with non-temporal stores: a is written without being
 * read into the caches first, so the 24 bytes per element STREAM counts are the bytes that move
 * (normal stores would read a too, moving 32). */
__attribute__((target("avx512f"))) static void bench_triad_avx512(double *a, const double *b,
                                                                 const double *c, size_t n)
{
    const __m512d s = _mm512_set1_pd(3.0);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm512_stream_pd(a + i, _mm512_fmadd_pd(s, _mm512_load_pd(c + i), _mm512_load_pd(b + i)));
    for (; i < n; i++) a[i] = b[i] + 3.0 * c[i];
    _mm_sfence();
}
#endif

/* Three streams side by side, a line of each a step, as F16 decoding reads its weights
 * (engine/quant_avx2.c, DEF_X32_FNS): on a Zen 3 one stream read 16-18 GB/s and three 24-26,
 * so with one stream here that decoding went above 100% of "the limit". (Four streams a
 * power of two apart read 15.) n is a multiple of 24. */
static uint64_t bench_read_scalar(const uint64_t *p, size_t n)
{
    const size_t m = n / 3 / 8 * 8;
    const uint64_t *q0 = p, *q1 = p + m, *q2 = p + 2 * m;
    uint64_t a0 = 0, a1 = 0, a2 = 0;
    for (size_t i = 0; i < m; i += 8) {
        BENCH_PREFETCH(q0 + i);
        BENCH_PREFETCH(q1 + i);
        BENCH_PREFETCH(q2 + i);
        for (int k = 0; k < 8; k++) {
            a0 += q0[i + k];
            a1 += q1[i + k];
            a2 += q2[i + k];
        }
    }
    return a0 + a1 + a2;
}

static void *bench_read_main(void *arg)
{
    bench_thread *t = arg;
#ifdef BENCH_X86
    if (t->simd) {
        t->sink = bench_read_avx512(t->p, t->n);
        return NULL;
    }
#endif
    t->sink = bench_read_scalar(t->p, t->n);
    return NULL;
}

static void *bench_triad_main(void *arg)
{
    bench_thread *t = arg;
#ifdef BENCH_X86
    if (t->simd) {
        bench_triad_avx512(t->ta, t->tb, t->tc, t->n);
        return NULL;
    }
#endif
    for (size_t i = 0; i < t->n; i++) t->ta[i] = t->tb[i] + 3.0 * t->tc[i];
    return NULL;
}

static void *bench_fma_main(void *arg)
{
    bench_thread *t = arg;
#ifdef BENCH_X86
    t->fsink = t->simd ? bench_fma_avx512(t->iters) : bench_fma_avx2(t->iters);
#else
    (void)t;
#endif
    return NULL;
}

static bool bench_have_avx512(void)
{
#ifdef BENCH_X86
    return __builtin_cpu_supports("avx512f");
#else
    return false;
#endif
}

static bool bench_have_avx2(void)
{
#ifdef BENCH_X86
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

/* Runs fn on n_threads threads (with per-thread args) and returns the wall time. */
static double bench_run_threads(void *(*fn)(void *), bench_thread *args, int n_threads)
{
    pthread_t th[64];
    double t0 = bench_now();
    int started = 0;
    for (int i = 1; i < n_threads; i++)
        if (pthread_create(&th[i], NULL, fn, &args[i]) == 0) started = i;
        else break;
    fn(&args[0]);
    for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
    return bench_now() - t0;
}

/* The buffer of the bandwidth test: allocated and filled once, read by every measurement. */
typedef struct bench_buf {
    uint64_t *p;
    size_t bytes;
} bench_buf;

static int bench_buf_init(bench_buf *b, size_t mib)
{
    b->bytes = mib << 20;
    if (posix_memalign((void **)&b->p, 64, b->bytes) != 0) {
        b->p = NULL;
        return -1;
    }
    /* Touch every page with non-zero data so no pass reads the shared zero page; the values
     * are ordinary doubles (1, 2, 3, ...), which the triad computes with at full speed. */
    double *d = (double *)(void *)b->p;
    for (size_t i = 0; i < b->bytes / 8; i++) d[i] = (double)(i + 1);
    return 0;
}

/* Best read bandwidth in bytes/s over a few passes through the buffer. */
static double bench_bandwidth(const bench_buf *b, int n_threads, int passes)
{
    if (!b->p) return 0;
    /* words per thread: three streams of whole 64-byte lines (and of 8-word steps) */
    size_t per = b->bytes / 8 / (size_t)n_threads / 24 * 24;
    bench_thread args[64];
    bool simd = bench_have_avx512();
    double best = 0;
    uint64_t sink = 0;
    for (int pass = 0; pass < passes; pass++) {
        for (int i = 0; i < n_threads; i++)
            args[i] = (bench_thread){.p = b->p + (size_t)i * per, .n = per, .simd = simd};
        double dt = bench_run_threads(bench_read_main, args, n_threads);
        for (int i = 0; i < n_threads; i++) sink += args[i].sink;
        double bw = (double)per * 8 * n_threads / dt;
        if (bw > best) best = bw;
    }
    if (sink == 42) text_printf(stderr, " "); /* keeps the reads from being optimised away */
    return best;
}

/* Best STREAM triad bandwidth in bytes/s (24 bytes an element: two read, one written), the
 * buffer cut into three arrays and each thread given a contiguous share of each: a second
 * measurement of the same limit by another access pattern (reads and writes, several streams
 * per thread), printed next to the read bandwidth so a wrong one shows. */
static double bench_triad(const bench_buf *b, int n_threads, int passes)
{
    if (!b->p) return 0;
    double *d = (double *)(void *)b->p;
    const size_t third = (b->bytes / 8 / 3) & ~(size_t)7;
    const size_t per = (third / (size_t)n_threads) & ~(size_t)7;
    bench_thread args[64];
    bool simd = bench_have_avx512();
    double best = 0;
    for (int pass = 0; pass < passes; pass++) {
        for (int i = 0; i < n_threads; i++)
            args[i] = (bench_thread){.ta = d + (size_t)i * per, .tb = d + third + (size_t)i * per,
                                     .tc = d + 2 * third + (size_t)i * per, .n = per, .simd = simd};
        double dt = bench_run_threads(bench_triad_main, args, n_threads);
        double bw = 24.0 * (double)per * n_threads / dt;
        if (bw > best) best = bw;
    }
    return best;
}

/* The processor's name from /proc/cpuinfo ("model name"), or "" where there is none. */
static void bench_cpu_name(char *out, size_t size)
{
    char line[256];
    out[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *v = strchr(line, ':');
        if (!v) break;
        v += strspn(v + 1, " \t") + 1;
        snprintf(out, size, "%.*s", (int)strcspn(v, "\n"), v);
        break;
    }
    if (f) fclose(f);
}

/* Measured f32 FMA peak in FLOP/s with AVX-512, else AVX2 and FMA (0 with neither). */
static double bench_flops(int n_threads)
{
    const bool wide = bench_have_avx512();
    if (!wide && !bench_have_avx2()) return 0;
    const int64_t iters = 20 * 1000 * 1000;
    bench_thread args[64];
    double best = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n_threads; i++) args[i] = (bench_thread){.iters = iters, .simd = wide};
        double dt = bench_run_threads(bench_fma_main, args, n_threads);
        double f = (double)iters * 12 * (wide ? 16 : 8) * 2 * n_threads / dt;
        if (f > best) best = f;
    }
    return best;
}

/* ---------------------------------------------------------- generated models ----- */

typedef struct bench_shape {
    const char *name;
    int64_t dim, n_layer, n_head, n_head_kv, n_ff, n_vocab;
    bool tied;
    float rope_base;
    int64_t n_expert, n_expert_used; /* 0: a dense FFN; else n_ff is one expert's width */
} bench_shape;

/* Two dense shapes and a mixture of experts: Granite 3.0 1B-A400M's sizes (32 experts of
 * 512, 8 per token: 1.3B parameters, 0.4B of them read per token) written as a Mixtral-style
 * "llama" with experts, which llama-bench runs too. */
static const bench_shape bench_shapes[] = {
    {"smollm2-135m", 576, 30, 9, 3, 1536, 49152, true, 100000.0f, 0, 0},
    {"tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000, false, 10000.0f, 0, 0},
    {"moe-1.3b-a0.4b", 1024, 24, 16, 8, 512, 49152, true, 10000.0f, 32, 8},
};
/* --quick: a check that the bench works, not a measurement; a dense and an MoE model. */
static const bench_shape bench_quick_shapes[] = {
    {"quick", 256, 2, 4, 2, 768, 4096, true, 10000.0f, 0, 0},
    {"quick-moe", 256, 2, 4, 2, 256, 4096, true, 10000.0f, 8, 2},
};

/* A byte-level gpt2 tokenizer: the 256 byte tokens (GPT-2's byte→unicode mapping), an
 * end-of-text control token, then padding tokens up to the vocabulary size; no merges. */
static int bench_write_tokenizer(nt_gguf_writer *w, int64_t n_vocab)
{
    char **tok = calloc((size_t)n_vocab, sizeof *tok);
    int32_t *type = calloc((size_t)n_vocab, sizeof *type);
    int rc = NT_ERR_NOMEM;
    if (!tok || !type) goto out;
    for (int b = 0; b < 256; b++) {
        char *s = malloc(4);
        if (!s) goto out;
        nt_tokenizer_byte_piece((unsigned char)b, s);
        tok[b] = s;
        type[b] = 1; /* normal */
    }
    for (int64_t i = 256; i < n_vocab; i++) {
        char buf[32];
        if (i == 256) snprintf(buf, sizeof buf, "<|endoftext|>");
        else snprintf(buf, sizeof buf, "<pad%lld>", (long long)i);
        tok[i] = strdup(buf);
        if (!tok[i]) goto out;
        type[i] = i == 256 ? 3 : 4; /* control, user-defined */
    }
    if (nt_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2") ||
        nt_gguf_writer_set_str(w, "tokenizer.ggml.pre", "gpt-2") ||
        nt_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok,
                                (uint64_t)n_vocab) ||
        nt_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", NT_GGUF_I32, type,
                            (uint64_t)n_vocab) ||
        nt_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", NULL, 0) ||
        nt_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 256) ||
        nt_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 256) ||
        nt_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false))
        goto out;
    rc = NT_OK;
out:
    if (tok)
        for (int64_t i = 0; i < n_vocab; i++) free(tok[i]);
    free(tok);
    free(type);
    return rc;
}

/* Holds every tensor's bytes until the writer has written them. */
typedef struct bench_bufs {
    void *v[512];
    int n;
} bench_bufs;

/* One thread's share of a tensor: chunks of BENCH_CHUNK rows, every n_threads-th one. Each
 * chunk has its own RNG stream, so the values do not depend on the number of threads. */
#define BENCH_CHUNK 256
typedef struct bench_fill {
    unsigned char *data;
    int type;
    int64_t cols, rows;
    bool norm;
    uint64_t seed;
    int first, step;
    float *scratch; /* BENCH_CHUNK × cols */
} bench_fill;

static void *bench_fill_main(void *arg)
{
    bench_fill *f = arg;
    float scale = 1.0f / sqrtf((float)f->cols);
    size_t row_bytes = nt_type_row_bytes(f->type, f->cols);
    for (int64_t c = f->first; c * BENCH_CHUNK < f->rows; c += f->step) {
        int64_t r = c * BENCH_CHUNK;
        int64_t nr = f->rows - r < BENCH_CHUNK ? f->rows - r : BENCH_CHUNK;
        uint64_t rng = f->seed ^ ((uint64_t)c * 0xD1B54A32D192ED03ull);
        /* natter quantizes to few types; the others get random blocks (speed does not
         * depend on the values) */
        if (!f->norm && !nt_quantize_supported(f->type)) {
            nt_random_rows(f->type, f->data + row_bytes * (size_t)r, nr, f->cols, scale, &rng);
            continue;
        }
        for (int64_t i = 0; i < nr * f->cols; i++)
            f->scratch[i] = f->norm ? 1.0f : scale * rng_uniform(&rng);
        nt_quantize_rows(f->type, f->scratch, f->data + row_bytes * (size_t)r, nr, f->cols);
    }
    return NULL;
}

#define BENCH_GEN_THREADS 4

/* Adds a tensor of mats matrices of rows × cols random values (uniform, scale chosen so
 * activations stay moderate), converted to type; norms (rows == 1, F32) are all ones; mats >
 * 1 makes a 3-D tensor (the experts' matrices one after the other). scratch holds
 * BENCH_GEN_THREADS × BENCH_CHUNK × cols floats; n_threads <= BENCH_GEN_THREADS. */
static int bench_add_tensor(nt_gguf_writer *w, bench_bufs *bufs, float *scratch, int n_threads,
                            uint64_t seed, const char *name, int type, int64_t cols, int64_t rows,
                            int64_t mats)
{
    const bool norm = rows == 1;
    rows *= mats;
    size_t bytes = nt_type_row_bytes(type, cols) * (size_t)rows;
    void *data = malloc(bytes);
    if (!data || bufs->n == (int)(sizeof bufs->v / sizeof bufs->v[0])) {
        free(data);
        return NT_ERR_NOMEM;
    }
    bufs->v[bufs->n++] = data;
    bench_fill f[BENCH_GEN_THREADS];
    pthread_t th[BENCH_GEN_THREADS];
    bool started[BENCH_GEN_THREADS] = {false};
    for (int t = 0; t < n_threads; t++)
        f[t] = (bench_fill){.data = data, .type = type, .cols = cols, .rows = rows,
                            .norm = norm, .seed = seed, .first = t, .step = n_threads,
                            .scratch = scratch + (size_t)t * BENCH_CHUNK * (size_t)cols};
    for (int t = 1; t < n_threads; t++)
        started[t] = pthread_create(&th[t], NULL, bench_fill_main, &f[t]) == 0;
    bench_fill_main(&f[0]);
    for (int t = 1; t < n_threads; t++) {
        if (started[t]) pthread_join(th[t], NULL);
        else bench_fill_main(&f[t]); /* no thread: do its share here */
    }
    int64_t ne[3] = {cols, rows / mats, mats};
    return nt_gguf_writer_add_tensor(w, name, type, norm ? 1 : mats > 1 ? 3 : 2, ne, data);
}

/* general.file_type, llama.cpp's name for the file's type (llama_ftype; K types as their
 * "_M" mixes, which llama.cpp names them by): it only labels the file. */
static uint32_t bench_file_type(int type)
{
    static const struct { int type; uint32_t ftype; } map[] = {
        {NT_TYPE_F32, 0},    {NT_TYPE_F16, 1},    {NT_TYPE_Q4_0, 2},    {NT_TYPE_Q4_1, 3},
        {NT_TYPE_Q8_0, 7},   {NT_TYPE_Q5_0, 8},   {NT_TYPE_Q5_1, 9},    {NT_TYPE_Q2_K, 10},
        {NT_TYPE_Q3_K, 12},  {NT_TYPE_Q4_K, 15},  {NT_TYPE_Q5_K, 17},   {NT_TYPE_Q6_K, 18},
        {NT_TYPE_IQ4_NL, 25}, {NT_TYPE_IQ4_XS, 30}, {NT_TYPE_BF16, 32}, {NT_TYPE_MXFP4, 38},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].type == type) return map[i].ftype;
    return 0;
}

/* A --type name (case-insensitive, as natter info prints types) that the bench can write:
 * one natter quantizes to or makes random blocks of. -1 for any other. */
static int bench_type_by_name(const char *name, size_t len)
{
    for (int t = 0; t < NT_TYPE_COUNT_; t++) {
        const char *tn = nt_type_name(t);
        if (!tn || strlen(tn) != len || strncasecmp(tn, name, len) != 0) continue;
        if (bench_file_type(t) == 0 && t != NT_TYPE_F32) return -1;
        return t;
    }
    return -1;
}

static int bench_generate(const bench_shape *s, int type, const char *path, nt_err *err)
{
    nt_gguf_writer *w = nt_gguf_writer_init();
    bench_bufs bufs = {.n = 0};
    int64_t maxcols = s->dim > s->n_ff ? s->dim : s->n_ff;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int n_threads = ncpu < 1 ? 1 : ncpu > BENCH_GEN_THREADS ? BENCH_GEN_THREADS : (int)ncpu;
    float *scratch = malloc((size_t)maxcols * BENCH_CHUNK * BENCH_GEN_THREADS * sizeof *scratch);
    uint64_t seed = 0x5eed ^ (uint64_t)s->dim;
    int64_t hd = s->dim / s->n_head;
    int rc = NT_ERR_NOMEM;
    if (!w || !scratch) goto fail;
    char nm[96];
    snprintf(nm, sizeof nm, "%s-shape random (natter bench)", s->name);
    if (nt_gguf_writer_set_str(w, "general.architecture", "llama") ||
        nt_gguf_writer_set_str(w, "general.name", nm) ||
        nt_gguf_writer_set_u32(w, "general.file_type",
                               bench_file_type(type)) ||
        nt_gguf_writer_set_u32(w, "llama.context_length", 2048) ||
        nt_gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)s->dim) ||
        nt_gguf_writer_set_u32(w, "llama.block_count", (uint32_t)s->n_layer) ||
        nt_gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)s->n_ff) ||
        nt_gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)s->n_head) ||
        nt_gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)s->n_head_kv) ||
        nt_gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)hd) ||
        nt_gguf_writer_set_f32(w, "llama.rope.freq_base", s->rope_base) ||
        nt_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f) ||
        nt_gguf_writer_set_u32(w, "llama.vocab_size", (uint32_t)s->n_vocab) ||
        (s->n_expert && (nt_gguf_writer_set_u32(w, "llama.expert_count", (uint32_t)s->n_expert) ||
                         nt_gguf_writer_set_u32(w, "llama.expert_used_count", (uint32_t)s->n_expert_used))))
        goto fail;
    if ((rc = bench_write_tokenizer(w, s->n_vocab)) != NT_OK) goto fail;
    /* K-quant models: like llama.cpp's quantizer, rows whose length is not a multiple of 256
     * (SmolLM2's 576) fall back to another type, here Q8_0. */
#define ADD3(name, ty, cols, rows, mats)                                                       \
    do {                                                                                       \
        int ty_ = (cols) % nt_type_block_len(ty) ? NT_TYPE_Q8_0 : (ty);                        \
        if ((rc = bench_add_tensor(w, &bufs, scratch, n_threads,                               \
                                   seed + 0x9E3779B97F4A7C15ull * (uint64_t)bufs.n, name, ty_, \
                                   cols, rows, mats)) != NT_OK)                                \
            goto fail;                                                                         \
    } while (0)
#define ADD(name, ty, cols, rows) ADD3(name, ty, cols, rows, 1)
    ADD("token_embd.weight", type, s->dim, s->n_vocab);
    ADD("output_norm.weight", NT_TYPE_F32, s->dim, 1);
    if (!s->tied) ADD("output.weight", type, s->dim, s->n_vocab);
    for (int64_t l = 0; l < s->n_layer; l++) {
        char n[64];
#define LNAME(x) (snprintf(n, sizeof n, "blk.%lld." x ".weight", (long long)l), n)
        ADD(LNAME("attn_norm"), NT_TYPE_F32, s->dim, 1);
        ADD(LNAME("attn_q"), type, s->dim, s->n_head * hd);
        ADD(LNAME("attn_k"), type, s->dim, s->n_head_kv * hd);
        ADD(LNAME("attn_v"), type, s->dim, s->n_head_kv * hd);
        ADD(LNAME("attn_output"), type, s->n_head * hd, s->dim);
        ADD(LNAME("ffn_norm"), NT_TYPE_F32, s->dim, 1);
        if (s->n_expert) {
            /* the router stays F32, as llama.cpp's quantizer leaves it */
            ADD(LNAME("ffn_gate_inp"), NT_TYPE_F32, s->dim, s->n_expert);
            ADD3(LNAME("ffn_gate_exps"), type, s->dim, s->n_ff, s->n_expert);
            ADD3(LNAME("ffn_up_exps"), type, s->dim, s->n_ff, s->n_expert);
            ADD3(LNAME("ffn_down_exps"), type, s->n_ff, s->dim, s->n_expert);
        } else {
            ADD(LNAME("ffn_gate"), type, s->dim, s->n_ff);
            ADD(LNAME("ffn_up"), type, s->dim, s->n_ff);
            ADD(LNAME("ffn_down"), type, s->n_ff, s->dim);
        }
#undef LNAME
    }
#undef ADD
#undef ADD3
    rc = nt_gguf_writer_write(w, path, err);
    goto out;
fail:
    if (rc == NT_ERR_NOMEM) nt_err_set(err, rc, "%s: out of memory generating the model", path);
    else if (rc != NT_OK && !err->msg[0])
        nt_err_set(err, rc, "%s: cannot build the model (%s)", path, nt_status_str(rc));
out:
    for (int i = 0; i < bufs.n; i++) free(bufs.v[i]);
    free(scratch);
    nt_gguf_writer_free(w);
    return rc;
}

/* mkdir -p for the cache folder. */
static int bench_mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST) return -1;
    }
    return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int bench_cache_dir(char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && xdg[0] == '/') snprintf(buf, cap, "%s/natter/bench", xdg);
    else if (home && home[0]) snprintf(buf, cap, "%s/.cache/natter/bench", home);
    else return -1;
    return bench_mkdirs(buf);
}

/* ----------------------------------------------------------------- measuring ----- */

typedef struct bench_ctx {
    bool json;
    int n_threads;
    bool auto_threads; /* no --threads (or 0): the model decides how decoding uses them, as
                          in the chat (model_tune in the engine) */
    int32_t depth;     /* --depth: tokens already in the cache when pp and tg are timed */
    int32_t kv_type;   /* --kv-type */
    double bw, flops;  /* measured at the start: read bandwidth (the limit's), FMA peak */
    double triad;      /* STREAM triad bandwidth at the start (printed next to bw) */
    bench_buf buf;     /* for measuring the bandwidth again next to each model's run */
} bench_ctx;

/* Bytes of weights one decoded token reads: every tensor, except that the embedding table
 * contributes one row (unless it doubles as the output matrix), and of the experts' 3-D
 * tensors (ffn_*_exps) only the share a token picks, used of n_expert. matmul_params counts
 * the parameters a token multiplies with the same way. */
static double bench_bytes_per_token(const nt_gguf *g, const nt_model_info *info,
                                    double *matmul_params)
{
    double bytes = 0, params = 0;
    bool has_output = nt_gguf_find_tensor(g, "output.weight") != NULL;
    for (int64_t i = 0; i < nt_gguf_n_tensors(g); i++) {
        const nt_gguf_tensor *t = nt_gguf_tensor_at(g, i);
        double n = (double)t->ne[0] * (double)t->ne[1] * (double)t->ne[2] * (double)t->ne[3];
        if (strcmp(t->name, "token_embd.weight") == 0) {
            if (has_output) {
                bytes += (double)nt_type_row_bytes(t->type, t->ne[0]);
                continue;
            }
        }
        double share = 1.0;
        if (info->n_expert > 0 && t->n_dims == 3 && strstr(t->name, "_exps."))
            share = (double)info->n_expert_used / (double)info->n_expert;
        bytes += share * (double)t->nbytes;
        if (t->n_dims >= 2) params += share * n;
    }
    *matmul_params = params;
    return bytes;
}

/* --json: one JSON object per line on stdout (JSON Lines), written with util/json.h. Each line
 * starts as {"test": NAME, then bench_json_* members, and bench_json_end prints it. Figures are
 * rounded to `decimals` places: more would be noise. */
static void bench_json_begin(json_writer *w, const char *test)
{
    json_w_begin_object(w);
    json_w_key(w, "test");
    json_w_string(w, test);
}

static void bench_json_num(json_writer *w, const char *key, double v, int decimals)
{
    double scale = pow(10, decimals);
    json_w_key(w, key);
    json_w_double(w, round(v * scale) / scale);
}

static void bench_json_int(json_writer *w, const char *key, int64_t v)
{
    json_w_key(w, key);
    json_w_int(w, v);
}

static void bench_json_str(json_writer *w, const char *key, const char *v)
{
    json_w_key(w, key);
    json_w_string(w, v);
}

static void bench_json_end(json_writer *w)
{
    json_w_end_object(w);
    char *s = json_writer_finish(w, NULL);
    if (s) puts(s);
    else text_printf(stderr, "natter bench: out of memory\n");
    free(s);
}

/* The members both pp and tg lines start with. */
static void bench_json_model(json_writer *w, const char *test, const char *base,
                             const char *types, const nt_model_info *info, int n_threads,
                             bool auto_threads)
{
    bench_json_begin(w, test);
    json_w_key(w, "model");
    json_w_string(w, base);
    json_w_key(w, "type");
    json_w_string(w, types);
    bench_json_int(w, "params", info->n_params);
    bench_json_int(w, "threads", n_threads);
    json_w_key(w, "threads_auto");
    json_w_bool(w, auto_threads);
    json_w_key(w, "kv_type");
    json_w_string(w, nt_kv_type_name(info->kv_type));
}

static int bench_model(const bench_ctx *bc, const char *path)
{
    const int32_t D = bc->depth;
    float *logits = NULL;
    int32_t *ids = NULL;
    nt_kv_state *ctx = NULL; /* --depth: the D tokens' cache */
    int status = 1;
    nt_err e = {0};
    nt_model *m = cmd_load_model("natter bench", path,
                                 D + BENCH_PP + BENCH_TG > 256 ? D + BENCH_PP + BENCH_TG : 256,
                                 bc->auto_threads ? 0 : bc->n_threads, bc->kv_type);
    if (!m) goto out;
    const nt_model_info *info = nt_model_get_info(m);
    if (info->n_ctx < D + BENCH_PP + BENCH_TG) {
        text_printf(stderr, "natter bench: %s: context %d is too short for the bench\n", path,
                info->n_ctx);
        goto out;
    }
    logits = malloc((size_t)info->n_vocab * sizeof *logits);
    ids = malloc((size_t)(D > BENCH_PP ? D : BENCH_PP) * sizeof *ids);
    if (!logits || !ids) {
        text_printf(stderr, "natter bench: out of memory\n");
        goto out;
    }
    uint64_t rng = 12345;
    for (int i = 0; i < (D > BENCH_PP ? D : BENCH_PP); i++)
        ids[i] = (int32_t)(rng_next(&rng) % (uint64_t)info->n_vocab);
    double mm_params;
    double bpt = bench_bytes_per_token(nt_model_gguf(m), info, &mm_params);

    /* Warm-up: maps every page of the weights in and lets the threads spin up. */
    if (nt_model_eval(m, ids, 16, logits, &e) != NT_OK) goto eval_fail;
    nt_model_rewind(m, 0);
    /* --depth: a context of D tokens, computed once, that every timed run starts from (as
     * llama-bench's -d): what a long conversation costs per prompt and per answer token. */
    if (D > 0 && (nt_model_eval(m, ids, D, NULL, &e) != NT_OK || nt_model_kv_save(m, 0, &ctx, &e) != NT_OK))
        goto eval_fail;
    double pp_best = 1e30;
    for (int rep = 0; rep < 2; rep++) {
        nt_model_rewind(m, D);
        double t0 = bench_now();
        if (nt_model_eval(m, ids, BENCH_PP, logits, &e) != NT_OK) goto eval_fail;
        double dt = bench_now() - t0;
        if (dt < pp_best) pp_best = dt;
    }
    nt_model_rewind(m, D);
    if (nt_model_eval(m, ids, 1, logits, &e) != NT_OK) goto eval_fail; /* warm the decode path */
    nt_model_rewind(m, D);
    /* With --depth, generation also runs from an empty cache, alternated with the runs at the
     * depth (BENCH_DEPTH_ROUNDS of each, the best kept), and the ratio of the two is printed:
     * single runs minutes apart moved by more than the depth costs on a shared machine (one
     * pair read the deep run faster). The context is saved once and put back before each deep
     * run, since the empty-cache run overwrites its first positions. */
    double tg_time = 1e30, tg0_time = 1e30;
    for (int round = 0; round < (D > 0 ? BENCH_DEPTH_ROUNDS : 1); round++) {
        if (D > 0) {
            nt_model_rewind(m, 0);
            double t0 = bench_now();
            for (int i = 0; i < BENCH_TG; i++)
                if (nt_model_eval(m, &ids[i % BENCH_PP], 1, logits, &e) != NT_OK) goto eval_fail;
            double dt = bench_now() - t0;
            if (dt < tg0_time) tg0_time = dt;
            if (nt_model_kv_restore(m, ctx, &e) != NT_OK) goto eval_fail;
        }
        double t0 = bench_now();
        for (int i = 0; i < BENCH_TG; i++)
            if (nt_model_eval(m, &ids[i % BENCH_PP], 1, logits, &e) != NT_OK) goto eval_fail;
        double dt = bench_now() - t0;
        if (dt < tg_time) tg_time = dt;
        nt_model_rewind(m, D);
    }
    nt_model_rewind(m, 0);
    /* The machine may be shared: the limit uses the bandwidth measured right after the
     * generation run, under the same conditions (the better of it and the start's). */
    double bw_now = bench_bandwidth(&bc->buf, bc->n_threads, 3);
    double bw = bw_now > bc->bw ? bw_now : bc->bw;

    double pp_tps = BENCH_PP / pp_best, tg_tps = BENCH_TG / tg_time, tg0_tps = D > 0 ? BENCH_TG / tg0_time : 0;
    double pp_flops = 2.0 * mm_params * pp_tps;
    double tg_limit = bw > 0 ? bw / bpt : 0;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *types = "?";
    int main_type = -1;
    for (int64_t i = 0; i < nt_gguf_n_tensors(nt_model_gguf(m)); i++)
        if (nt_gguf_tensor_at(nt_model_gguf(m), i)->n_dims >= 2) {
            main_type = nt_gguf_tensor_at(nt_model_gguf(m), i)->type;
            types = nt_type_name(main_type);
            break;
        }
    /* Float weights multiply in f32 and are bounded by its FMA peak; quantized ones multiply
     * int8 values (VPDPBUSD and the like), which this peak does not bound: their prompts
     * run at up to twice it, so the fraction would only mislead. */
    const bool f32_bound = bc->flops > 0 && (main_type == NT_TYPE_F32 || main_type == NT_TYPE_F16 ||
                                             main_type == NT_TYPE_BF16);
    if (bc->json) {
        json_writer w = {0};
        char test[16];
        snprintf(test, sizeof test, "pp%d", BENCH_PP);
        bench_json_model(&w, test, base, types, info, bc->n_threads, bc->auto_threads);
        bench_json_int(&w, "depth", D);
        bench_json_num(&w, "tokens_per_s", pp_tps, 3);
        bench_json_num(&w, "gflop_per_s", pp_flops / 1e9, 3);
        if (f32_bound) bench_json_num(&w, "fraction_of_fma_peak", pp_flops / bc->flops, 4);
        bench_json_end(&w);
        snprintf(test, sizeof test, "tg%d", BENCH_TG);
        bench_json_model(&w, test, base, types, info, bc->n_threads, bc->auto_threads);
        bench_json_int(&w, "depth", D);
        bench_json_num(&w, "tokens_per_s", tg_tps, 3);
        bench_json_num(&w, "bytes_per_token", bpt, 0);
        bench_json_num(&w, "limit_tokens_per_s", tg_limit, 3);
        bench_json_num(&w, "bandwidth_gb_per_s", bw / 1e9, 3);
        bench_json_num(&w, "fraction_of_limit", tg_limit > 0 ? tg_tps / tg_limit : 0, 4);
        if (D > 0) {
            bench_json_num(&w, "empty_cache_tokens_per_s", tg0_tps, 3);
            bench_json_num(&w, "speed_vs_empty_cache", tg_tps / tg0_tps, 4);
        }
        bench_json_end(&w);
    } else {
        text_printf(stdout, "%s (%s, %.1fM parameters, %s cache", base, types,
                    (double)info->n_params / 1e6, nt_kv_type_name(info->kv_type));
        if (D > 0) text_printf(stdout, ", %d tokens in it", (int)D);
        text_printf(stdout, ")\n");
        text_printf(stdout, "  pp%d: %8.2f tokens/s  %7.1f GFLOP/s", BENCH_PP, pp_tps, pp_flops / 1e9);
        if (f32_bound) text_printf(stdout, "  = %4.1f%% of the FMA peak", 100 * pp_flops / bc->flops);
        text_printf(stdout, "\n  tg%d: %8.2f tokens/s  weights read per token %.1f MiB", BENCH_TG, tg_tps,
               bpt / (1 << 20));
        if (tg_limit > 0)
            text_printf(stdout, "\n         bandwidth %.1f GB/s, so at most %.1f tokens/s: %4.1f%% of the limit",
                   bw / 1e9, tg_limit, 100 * tg_tps / tg_limit);
        if (D > 0)
            text_printf(stdout, "\n         from an empty cache (alternated, best of %d): %.2f tokens/s; at %d "
                        "tokens %4.1f%% of that", BENCH_DEPTH_ROUNDS, tg0_tps, (int)D, 100 * tg_tps / tg0_tps);
        text_printf(stdout, "\n");
    }
    fflush(stdout);
    status = 0;
    goto out;
eval_fail:
    text_printf(stderr, "natter bench: %s\n", e.msg);
out:
    nt_kv_state_free(ctx);
    free(ids);
    free(logits);
    nt_model_free(m);
    return status;
}

static void bench_usage(FILE *f)
{
    fprintf(f, "usage: natter bench [-m MODEL.gguf] [--threads N] [--depth N] "
               "[--kv-type f32|f16|q8_0] [--json] [--quick] [--type LIST]\n");
}

int cmd_bench(int argc, char **argv)
{
    const char *model_path = NULL;
    bench_ctx bc = {.json = false, .n_threads = 0, .kv_type = NT_KV_TYPE_DEFAULT};
    bool quick = false;
    enum { OPT_JSON = 256, OPT_QUICK, OPT_DEPTH, OPT_KV, OPT_TYPE };
    int types[NT_TYPE_COUNT_] = {NT_TYPE_Q8_0, NT_TYPE_F16, NT_TYPE_Q4_K};
    size_t n_types = 3;
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},
        {"json", no_argument, NULL, OPT_JSON},
        {"quick", no_argument, NULL, OPT_QUICK},
        {"depth", required_argument, NULL, OPT_DEPTH},
        {"kv-type", required_argument, NULL, OPT_KV},
        {"type", required_argument, NULL, OPT_TYPE},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    args a = args_start("natter bench", argc, argv, "m:t:h", opts);
    for (int c; (c = args_next(&a)) != -1;) {
        switch (c) {
        case 'm': model_path = a.value; break;
        case 't': {
            int32_t n;
            if (args_int(&a, 0, 64, &n)) return 2;
            bc.n_threads = n;
            break;
        }
        case OPT_JSON: bc.json = true; break;
        case OPT_QUICK: quick = true; break;
        case OPT_DEPTH:
            if (args_int(&a, 0, 1 << 16, &bc.depth)) return 2;
            break;
        case OPT_KV:
            if (args_kv_type(&a, &bc.kv_type)) return 2;
            break;
        case OPT_TYPE:
            n_types = 0;
            for (const char *p = a.value;; p++) {
                size_t len = strcspn(p, ",");
                int t = bench_type_by_name(p, len);
                if (t < 0 || n_types == sizeof types / sizeof types[0]) {
                    text_printf(stderr, "natter bench: --type: '%.*s' is not a type the bench "
                                "can write (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, "
                                "Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4)\n", (int)len, p);
                    return 2;
                }
                types[n_types++] = t;
                p += len;
                if (!*p) break;
            }
            break;
        case 'h': bench_usage(stdout); return 0;
        default: bench_usage(stderr); return 2;
        }
    }
    if (args_operands(&a, 0)) {
        bench_usage(stderr);
        return 2;
    }
    if (bc.n_threads == 0) {
        bc.auto_threads = true;
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        bc.n_threads = n > 0 ? (n > 64 ? 64 : (int)n) : 1;
    }

    if (bench_buf_init(&bc.buf, quick ? 64 : 512) != 0) {
        text_printf(stderr, "natter bench: out of memory for the bandwidth buffer\n");
        return 1;
    }
    bc.bw = bench_bandwidth(&bc.buf, bc.n_threads, 5);
    bc.triad = bench_triad(&bc.buf, bc.n_threads, 5);
    bc.flops = bench_flops(bc.n_threads);
    /* Which machine, and which of natter's kernel sets: the numbers mean little without. */
    char cpu[128] = "";
    bench_cpu_name(cpu, sizeof cpu);
    /* A busy machine lowers every number: say how busy it was. */
    double load = -1;
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf", &load) != 1) load = -1;
        fclose(lf);
    }
    if (bc.json) {
        json_writer w = {0};
        bench_json_begin(&w, "machine");
        bench_json_str(&w, "kernels", nt_kernels_name());
        if (cpu[0]) bench_json_str(&w, "cpu", cpu);
        bench_json_end(&w);
        if (load >= 0) {
            bench_json_begin(&w, "load_average");
            bench_json_num(&w, "load_1min", load, 2);
            bench_json_end(&w);
        }
        bench_json_begin(&w, "memory_read_bandwidth");
        bench_json_int(&w, "threads", bc.n_threads);
        bench_json_int(&w, "buffer_mib", quick ? 64 : 512);
        bench_json_num(&w, "gb_per_s", bc.bw / 1e9, 3);
        bench_json_end(&w);
        bench_json_begin(&w, "memory_triad_bandwidth");
        bench_json_int(&w, "threads", bc.n_threads);
        bench_json_num(&w, "gb_per_s", bc.triad / 1e9, 3);
        bench_json_end(&w);
        bench_json_begin(&w, "f32_fma_peak");
        bench_json_int(&w, "threads", bc.n_threads);
        bench_json_num(&w, "gflop_per_s", bc.flops / 1e9, 3);
        bench_json_end(&w);
    } else {
        text_printf(stdout, "natter bench: %d thread%s%s", bc.n_threads, bc.n_threads == 1 ? "" : "s",
                    bc.auto_threads && bc.n_threads > 1 ? " (decoding on one or all, whichever is measured faster)" : "");
        if (load >= 0)
            text_printf(stdout, "; load average %.2f%s", load,
                   load > 0.5 ? " (other processes compete: the numbers are pessimistic)" : "");
        text_printf(stdout, "\n");
        text_printf(stdout, "processor: %s; natter's kernels: %s\n", cpu[0] ? cpu : "unknown", nt_kernels_name());
        text_printf(stdout, "memory read bandwidth: %.1f GB/s (%d MiB buffer); STREAM triad %.1f GB/s\n",
                    bc.bw / 1e9, quick ? 64 : 512, bc.triad / 1e9);
        if (bc.triad > 0 && (bc.bw > 1.5 * bc.triad || bc.triad > 1.5 * bc.bw))
            text_printf(stdout, "  (the two differ by more than half: the machine is busy, or one "
                                "figure is wrong; the limits below use the read bandwidth)\n");
        if (bc.flops > 0)
            text_printf(stdout, "f32 FMA peak: %.1f GFLOP/s (%s)\n", bc.flops / 1e9,
                        bench_have_avx512() ? "AVX-512" : "AVX2");
        else text_printf(stdout, "f32 FMA peak: not measured (neither AVX-512 nor AVX2)\n");
    }
    fflush(stdout);
    if (model_path) {
        char *file = model_find_arg("natter bench", "-m", model_path);
        int rc = file ? bench_model(&bc, file) : 2;
        free(file);
        free(bc.buf.p);
        return rc;
    }

    char dir[4096];
    if (bench_cache_dir(dir, sizeof dir) != 0) {
        text_printf(stderr, "natter bench: cannot create the cache folder %s: %s\n", dir,
                strerror(errno));
        free(bc.buf.p);
        return 1;
    }
    int status = 0;
    size_t n_shapes = quick ? sizeof bench_quick_shapes / sizeof bench_quick_shapes[0]
                            : sizeof bench_shapes / sizeof bench_shapes[0];
    for (size_t s = 0; s < n_shapes; s++) {
        const bench_shape *sh = quick ? &bench_quick_shapes[s] : &bench_shapes[s];
        for (size_t k = 0; k < n_types; k++) {
            char path[4200], tn[16];
            snprintf(tn, sizeof tn, "%s", nt_type_name(types[k]));
            for (char *c = tn; *c; c++) *c = (char)tolower((unsigned char)*c);
            snprintf(path, sizeof path, "%s/%s-shape.v1.%s.gguf", dir, sh->name, tn);
            if (access(path, R_OK) != 0) {
                text_printf(stderr, "natter bench: writing %s ...\n", path);
                nt_err e = {0};
                double t0 = bench_now();
                if (bench_generate(sh, types[k], path, &e) != NT_OK) {
                    text_printf(stderr, "natter bench: %s\n", e.msg);
                    status = 1;
                    continue;
                }
                text_printf(stderr, "natter bench: written in %.1f s\n", bench_now() - t0);
            }
            if (bench_model(&bc, path) != 0) status = 1;
        }
    }
    free(bc.buf.p);
    return status;
}
