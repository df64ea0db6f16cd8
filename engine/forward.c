/* The forward pass of the Llama-family transformer on the CPU. Architectures differ only by
 * the feature flags of their arch.h row, which this file tests (never their names).
 *
 * One function, nt_forward_batch, runs 1..MODEL_BATCH new tokens through every block:
 *   x = embedding(token) (× sqrt(n_embd) for Gemma)
 *   per block: a = Wo · attention(rope(Wq·rmsnorm(x)), rope(Wk·...), Wv·...)
 *              (no rmsnorm with ARCH_NO_PRE_NORM: OLMo 2)
 *              x += a, or x += rmsnorm(a) with post-norms (Gemma 2/3)
 *              f = Wdown · (act(Wgate·rmsnorm(x)) * (Wup·rmsnorm(x))), act silu or gelu
 *              x += f, or x += rmsnorm(f)
 *   logits = Wout · rmsnorm(x) (soft-capped for Gemma 2)
 * ARCH_MOE sums the FFN over the token's top-k experts, weighted; ARCH_NOROPE_LAYERS
 * leaves rope out of some layers. ARCH_QK_NORM normalises each query and key head before rope
 * (ARCH_QK_NORM_FULL: all of Q, all of K, as single vectors); local (sliding-window)
 * layers attend only to the last n_swa positions, rotated with their own base.
 *
 * By far most of the time goes into the matrix products, and they run in exactly one place:
 * lin_run: matrix × matrix kernels (nt_quant_matmat) on activations prepared once per matrix
 * (nt_quant_act_prepare: int8 blocks for quantized weights, f32 or f16 for float weights). The
 * kernels work in register tiles of a few rows × a few tokens, so a batch reads and unpacks
 * each weight once per tile of tokens and runs at matrix-multiply speed; one token (decoding)
 * is the same kernel with a tile one token wide. Work is split by output rows into tasks of
 * fixed size, and each task computes its rows the same way whichever thread runs it, so the
 * logits are bit-identical for any thread count. Each (row, token) value gets the same
 * operations in the same order whatever tile computed it, so a token's logits do not depend
 * on how a prompt was split into calls either: a session replayed or resumed in different
 * chunks gives the same tokens (an sgemm path for float weights broke that and is gone).
 * Attention is split the same way, one task per (token, KV head). For a batch, the per-token
 * steps between the products run as pool tasks too (a token's input norm and activation
 * preparation, its rotation and cache store, the gated activation within the gate/up tasks):
 * run on the calling thread they were 13 to 15% of a SmolLM2-shape prompt's one-thread time,
 * which two threads could not share, and the worker went to sleep in those gaps and woke up
 * late for the next product (about 120 sleeps per 128-token prompt, none now). */
#include "model.h"
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ small kernels ----- */

/* y = x / rms(x) * w, as ggml's rms_norm followed by the weight multiplication: the sum of
 * squares accumulates in double, the scaling is float. */
static void rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

/* cos and sin of every rotated pair at position pos, computed like ggml: theta_i =
 * pos · base^(-2i/n_rot), the power built up by repeated float multiplication, divided by
 * the frequency factor when there are factors, times the linear-scaling factor; with YaRN,
 * mixed with the unscaled angle by the ramp over the pairs (model_rope_yarn); both
 * multiplied by ms (rope.scaling.attn_factor, and YaRN's magnitude correction). cs
 * holds (cos, sin) pairs. */
static void rope_table(const nt_model *m, int32_t pos, float base, float freq_scale,
                       const float *factors, float ms, float *cs)
{
    const int32_t half = m->info.n_rot / 2;
    const float theta_scale = powf(base, -2.0f / (float)m->info.n_rot);
    const float lo = m->rope_corr[0], span = fmaxf(0.001f, m->rope_corr[1] - m->rope_corr[0]);
    float theta = (float)pos;
    for (int32_t i = 0; i < half; i++) {
        float th = theta;
        if (factors) th /= factors[i];
        const float extrap = th;
        th *= freq_scale;
        if (m->rope_yarn) {
            const float mix = 1.0f - fminf(1.0f, fmaxf(0.0f, ((float)i - lo) / span));
            th = th * (1.0f - mix) + extrap * mix;
        }
        cs[2 * i] = cosf(th) * ms;
        cs[2 * i + 1] = sinf(th) * ms;
        theta *= theta_scale;
    }
}

/* Rotates the first n_rot values of each of n_heads heads of x (heads head_dim apart).
 * The plain style pairs adjacent values (2i, 2i+1); NEOX style pairs i with i + n_rot/2. */
static void rope_apply(const nt_model *m, float *x, int32_t n_heads, const float *cs)
{
    const int32_t hd = m->info.head_dim, half = m->info.n_rot / 2;
    const bool neox = m->feat & ARCH_ROPE_NEOX;
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * (size_t)hd;
        for (int32_t i = 0; i < half; i++) {
            const float c = cs[2 * i], s = cs[2 * i + 1];
            float *a = neox ? v + i : v + 2 * i;
            float *b = neox ? v + i + half : v + 2 * i + 1;
            const float x0 = *a, x1 = *b;
            *a = x0 * c - x1 * s;
            *b = x0 * s + x1 * c;
        }
    }
}

/* The unnormalised softmax: v[i] = exp(v[i] - max(v)) in place; returns their sum, kept in
 * double (as ggml does). Vectorised in the kernel sets: at a long context the attention's
 * exponentials cost as much as its dot products. */
static double exp_shifted(float *v, int32_t n)
{
    return nt_quant_exp_shifted(v, n, 1.0f);
}

/* c · tanh(x / c): Gemma 2's soft-capping of attention scores and logits. */
static float softcap(float x, float c)
{
    return c * tanhf(x / c);
}

/* ------------------------------------------------------------ the matrix products ----- */

/* The pool for a job touching about `bytes` of data, or NULL (run on the calling thread) when
 * the job is too small for sharing it to pay. Either way every task computes the same thing,
 * so this choice never changes results.
 *
 * Why small jobs stay on one thread: decoding runs one job per matrix group (five per layer
 * and the attention), and a job split between threads costs each thread a hand-over it does
 * not spend computing: the worker spins between jobs, claims tasks through one shared atomic
 * and reports through another, and the next job starts only when the last task is done. On
 * this class of machine (2 vCPUs of a shared VM) that costs tens of microseconds of CPU per
 * job: on the SmolLM2-135M shape (Q8_0, 151 jobs a token, 0.5 to 2 MB of weights each), in
 * CPU time per decoded token (the machine was too busy for wall times to mean anything), one
 * thread needed 7.0 to 7.4 ms and two threads 10.4 to 10.8 ms with every job shared, about
 * 24 us more per job, while reading 1 MB takes about 65 us on one core. Sharing pays when the
 * second core's share of the reading (half the job's bytes at about 15 GB/s) is worth more than
 * that: from about 1 MiB on. So on small models the per-layer matrices run on one thread and
 * only the big jobs (the output matrix, every matrix of 1B-class models, prompts) are shared;
 * two threads then spent 8.2 to 8.7 ms of CPU per SmolLM2 token (9 to 11 in a later, noisier
 * run).
 * That limit weighed CPU time; what a person sees is the wall time, and there it lost: on an
 * Intel Sapphire Rapids VM of the same size (2026-12-07), SmolLM2's shape decoded with
 * --threads 2 at 117-122 tokens/s with the 1 MiB limit, at 178-194 with 256 KiB (64 KiB: no
 * better), against llama.cpp's 169; Q4_K 128 → 189, F16 82 → 90, the MoE's Q4_K 70 → 77, and
 * the default thread choice (which measures one against all) 106 → 157. Jobs under 256 KiB
 * (SmolLM2's K and V, 110 KB in Q8_0) still run on one thread. */
#define FORWARD_MIN_PARALLEL_BYTES (256 * 1024)
/* Bytes of weights a task reads at least (a multiple of MODEL_ROWS rows): fewer, larger
 * tasks mean fewer claims on the shared counter (a task of MODEL_ROWS rows of a 576-wide Q8_0
 * matrix is under 10 KB, read in under a microsecond). */
#define FORWARD_TASK_BYTES (64 * 1024)

static pool *forward_pool(const nt_model *m, size_t bytes)
{
    return bytes < FORWARD_MIN_PARALLEL_BYTES || m->tune.now ? NULL : m->pool;
}

/* Rows per task of a matrix of type, n_out rows of row_bytes, for n_tok tokens: MODEL_ROWS
 * times the smallest k that makes a task read FORWARD_TASK_BYTES (weights × tokens), but at
 * least 4 tasks per thread so that the threads finish together; when decoding, at least the
 * rows the type's kernel reads side by side (nt_quant_mv_rows), short of leaving a thread
 * without a task. Each row's value does not depend on the rows it is computed with
 * (nt_quant_matmat), so neither do the logits. */
static int64_t forward_task_rows(const nt_model *m, int type, int64_t n_out, size_t row_bytes,
                                 int32_t n_tok)
{
    const size_t unit = (size_t)MODEL_ROWS * row_bytes * (size_t)n_tok;
    const int64_t units = (n_out + MODEL_ROWS - 1) / MODEL_ROWS, threads = nt_pool_n_threads(m->pool);
    int64_t k = (int64_t)((FORWARD_TASK_BYTES + unit - 1) / unit);
    const int64_t most = units / (4 * threads);
    if (k > most) k = most;
    if (n_tok == 1) {
        int64_t least = nt_quant_mv_rows(type) / MODEL_ROWS;
        if (least > units / threads) least = units / threads;
        if (k < least) k = least;
    }
    return k < 1 ? MODEL_ROWS : k * MODEL_ROWS;
}

/* One matrix of a lin_run call: y = W · x (+ bias); then, if res is not NULL, res += y. */
typedef struct lin_out {
    const model_mat *w;
    float *y;    /* (n_tok, ldy): row r of token t at y[t·ldy + r] */
    size_t ldy;
    float *res;  /* (n_tok, ldy) or NULL */
} lin_out;

/* A gated pair (lin_glu): after both matrices' rows, out[0].y = act(out[0].y) · out[1].y. */
enum { LIN_PLAIN, LIN_GLU_SILU, LIN_GLU_GELU };

typedef struct lin_job {
    nt_model *m;
    const float *x;     /* (n_tok, n_in) */
    const float *norm;  /* NULL, or x is normalised with these weights first (into m->s.xn) */
    int32_t n_tok;
    int n;              /* matrices */
    int glu;            /* LIN_*: LIN_GLU_* has n = 2 and runs both on the same rows per task */
    lin_out out[3];
    int64_t task_end[3]; /* cumulative task counts */
    int64_t task_rows[3]; /* rows per task of each matrix */
    const uint8_t *act[3]; /* x prepared for the matrix's type, one block of act_bytes per
                              token; matrices of one type share one */
    bool own_act[3];    /* act[i] is prepared for matrix i (not shared with an earlier one) */
    size_t act_bytes;
} lin_job;

/* Bias and residual for rows [r0, r1) of every token. */
static void lin_finish(const lin_job *j, const lin_out *o, int64_t r0, int64_t r1)
{
    const float *b = o->w->bias;
    if (!b && !o->res) return;
    for (int32_t t = 0; t < j->n_tok; t++) {
        float *y = o->y + (size_t)t * o->ldy;
        float *res = o->res ? o->res + (size_t)t * o->ldy : NULL;
        for (int64_t r = r0; r < r1; r++) {
            if (b) y[r] += b[r];
            if (res) res[r] += y[r] * j->m->res_scale; /* × 1 is exact: other archs unchanged */
        }
    }
}

/* Rows [r0, r1) of one matrix for every token of the batch, in register tiles of rows ×
 * tokens: each weight is read and unpacked once per tile of tokens, and every value is what
 * decoding that token alone would give. */
static void lin_rows(const lin_job *j, int i, int64_t r0, int64_t r1)
{
    const lin_out *o = &j->out[i];
    const model_mat *w = o->w;
    nt_quant_matmat(w->type, w->data, w->row_bytes, r0, r1, j->act[i], j->act_bytes, j->n_tok,
                    w->n_in, o->y, (int64_t)o->ldy);
    lin_finish(j, o, r0, r1);
}

/* A gated pair's product for rows [r0, r1) of every token: out[0].y = act(out[0].y) ·
 * out[1].y, act per glu (LIN_GLU_*). */
static void lin_act(const lin_job *j, int glu, int64_t r0, int64_t r1)
{
    for (int32_t t = 0; t < j->n_tok; t++) {
        float *g = j->out[0].y + (size_t)t * j->out[0].ldy;
        const float *u = j->out[1].y + (size_t)t * j->out[1].ldy;
        if (glu == LIN_GLU_GELU)
            nt_quant_geglu(g + r0, u + r0, r1 - r0);
        else
            nt_quant_swiglu(g + r0, u + r0, r1 - r0);
    }
}

/* One task: a range of rows of one matrix (task_rows of them), for every token of the batch;
 * for a gated pair, the same rows of both matrices and then their product, so the
 * activation function runs on every thread instead of after the job on one. */
static void lin_task(void *ctx, int64_t task, int thread)
{
    const lin_job *j = ctx;
    int i = 0;
    while (task >= j->task_end[i]) i++;
    const int64_t n_out = j->out[i].w->n_out, rows = j->task_rows[i];
    const int64_t r0 = (task - (i ? j->task_end[i - 1] : 0)) * rows;
    const int64_t r1 = r0 + rows < n_out ? r0 + rows : n_out;
    lin_rows(j, i, r0, r1);
    if (j->glu == LIN_PLAIN) return;
    lin_rows(j, 1, r0, r1);
    lin_act(j, j->glu, r0, r1);
}

/* One token's input of a lin_run job: normalised (when the job has norm weights) and prepared
 * for each weight type of the job. A task of the job's first pool run, so that for a batch
 * this per-token work is shared between threads too. */
static void lin_prep_task(void *ctx, int64_t task, int thread)
{
    const lin_job *j = ctx;
    const int64_t n_in = j->out[0].w->n_in;
    const float *x = j->x + (size_t)task * (size_t)n_in;
    if (j->norm) {
        float *xn = j->m->s.xn + (size_t)task * (size_t)n_in;
        rmsnorm(xn, x, j->norm, n_in, j->m->info.norm_eps);
        x = xn;
    }
    for (int i = 0; i < j->n; i++)
        if (j->own_act[i])
            nt_quant_act_prepare(j->out[i].w->type, x, (uint8_t *)j->act[i] + (size_t)task * j->act_bytes,
                                 n_in);
}

/* Runs n (1..3) matrices that share the input x (n_tok rows of their common n_in), normalised
 * first with the weights norm unless it is NULL (the normalised rows are left in m->s.xn);
 * glu (LIN_GLU_*, n = 2) multiplies the activated first output by the second. */
static void lin_run_glu(nt_model *m, const float *x, const float *norm, int32_t n_tok,
                        const lin_out *outs, int n, int glu)
{
    lin_job j = {.m = m, .x = x, .norm = norm, .n_tok = n_tok, .n = n, .glu = glu,
                 .act_bytes = m->s.act_bytes};
    int64_t total = 0;
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        const model_mat *w = outs[i].w;
        j.out[i] = outs[i];
        bytes += (size_t)w->n_out * w->row_bytes;
        /* Matrices of one type share the prepared activations. */
        int k = 0;
        while (k < i && outs[k].w->type != w->type) k++;
        j.own_act[i] = k == i;
        j.act[i] = k < i ? j.act[k] : m->s.act[i];
    }
    pool *p = forward_pool(m, bytes * (size_t)n_tok);
    /* A gated pair runs as two plain matrices and then the activation on one thread, and for
     * one token (decoding): each thread then reads its contiguous share of the rows as one
     * stream instead of alternating between the two matrices every task, and the activation
     * of one token is small (5632 values a layer for TinyLlama, against 2 × 23 MB of F16
     * weights). A batch's activations are 64 times that, worth sharing. */
    if (nt_pool_n_threads(p) == 1 || n_tok == 1) j.glu = LIN_PLAIN;
    const int parts = j.glu == LIN_PLAIN ? n : 1;
    for (int i = 0; i < parts; i++) {
        const model_mat *w = outs[i].w;
        const size_t row_bytes = j.glu == LIN_PLAIN ? w->row_bytes : w->row_bytes + outs[1].w->row_bytes;
        j.task_rows[i] = forward_task_rows(m, w->type, w->n_out, row_bytes, n_tok);
        total += (w->n_out + j.task_rows[i] - 1) / j.task_rows[i];
        j.task_end[i] = total;
    }
    nt_pool_run(n_tok > 1 ? p : NULL, n_tok, lin_prep_task, &j);
    nt_pool_run(p, total, lin_task, &j);
    if (glu != LIN_PLAIN && j.glu == LIN_PLAIN) lin_act(&j, glu, 0, outs[0].w->n_out);
}

static void lin_run(nt_model *m, const float *x, const float *norm, int32_t n_tok, const lin_out *outs,
                    int n)
{
    lin_run_glu(m, x, norm, n_tok, outs, n, LIN_PLAIN);
}

/* ---------------------------------------------------------------------- attention ----- */

typedef struct att_job {
    nt_model *m;
    int32_t il;     /* layer */
    int32_t pos0;   /* position of the batch's first token */
    int32_t window; /* > 0: a token attends to itself and the window - 1 positions before */
} att_job;

/* o[d] += w · v[d] (the product rounded, then the sum: C11 does not contract them here, so
 * the same bits however the loop is compiled). The common head sizes get loops of a constant
 * length, which GCC vectorises at -O2; a loop of any length it does not (Q8_0 caches spent 8x
 * longer here than in dequantizing). */
static inline void add_scaled(float *restrict o, const float *restrict v, float w, int32_t n)
{
    if (n == 64) {
        for (int32_t d = 0; d < 64; d++) o[d] += w * v[d];
    } else if (n == 128) {
        for (int32_t d = 0; d < 128; d++) o[d] += w * v[d];
    } else {
        for (int32_t d = 0; d < n; d++) o[d] += w * v[d];
    }
}

/* Causal attention of one token for the query heads sharing one KV head (grouped-query
 * attention): for each head h of the group, softmax(att_scale · q_h·K^T) · V over positions
 * [p0, pos], p0 = 0 or, in a local layer, the start of the window (llama.cpp masks key p
 * when pos - p >= n_swa). Gemma 2 soft-caps the scores before the softmax.
 *
 * The products run on the weight kernels, the cache's rows standing in for a matrix's: the
 * queries of the group are prepared as activations for the cache's type (f32 for F32 and
 * F16 caches, int8 blocks for Q8_0, as llama.cpp quantizes q for a Q8_0 cache), and
 * nt_quant_matmat multiplies the key rows of positions p0..pos with all of them at once, so
 * each key is read once for the group. Transposed values are the same: rows are dimensions,
 * the softmax weights are the activations. Q8_0 values (stored by position) are added up
 * position by position instead, each row dequantized once for the group. An F16 cache in
 * the X32 layout (kv.h) takes the queries and the weights as f32 as they are, whole blocks of
 * 32 keys at a time, and its values as rows of 32 dimensions. Every head's
 * numbers are computed exactly as they would be alone, in a fixed order, whatever the
 * thread or the batch. */
static void att_task(void *ctx, int64_t task, int thread)
{
    const att_job *j = ctx;
    nt_model *m = j->m;
    const kv_cache *kv = &m->kv;
    const nt_model_info *in = &m->info;
    const int32_t hd = in->head_dim, group = in->n_head / in->n_head_kv;
    const int32_t t = (int32_t)(task / in->n_head_kv), g = (int32_t)(task % in->n_head_kv);
    const int32_t pos = j->pos0 + t;
    const int32_t p0 = j->window > 0 && pos - j->window + 1 > 0 ? pos - j->window + 1 : 0;
    const int32_t n_pos = pos + 1 - p0;
    const float *q = m->s.q + (size_t)t * (size_t)m->q_dim + (size_t)g * (size_t)group * (size_t)hd;
    float *out = m->s.att + (size_t)t * (size_t)m->q_dim + (size_t)g * (size_t)group * (size_t)hd;
    const size_t lds = (size_t)kv->n_ctx32;
    float *sc = m->s.scores + (size_t)thread * (size_t)group * lds; /* (group, n_ctx32) */
    uint8_t *act = m->s.att_act + (size_t)thread * m->s.att_act_bytes;
    const size_t qa = m->s.att_q_bytes;
    const float scale = m->att_scale, cap = m->attn_softcap;

    if (kv->x32) {
        /* whole blocks of 32 positions from the one holding p0: the scores of the positions
         * before p0 and after pos are computed and never read; the queries are f32 as they are */
        const int32_t b0 = p0 / QUANT_F16X_ROWS * QUANT_F16X_ROWS;
        const int64_t rows = (pos + 1 - b0 + QUANT_F16X_ROWS - 1) / QUANT_F16X_ROWS * QUANT_F16X_ROWS;
        nt_quant_matmat(kv->att_type, kv_kx(kv, j->il, g, b0), kv->head_bytes, 0, rows, q,
                        (size_t)hd * sizeof(float), group, hd, sc, (int64_t)lds);
        sc += p0 - b0;
    } else {
        for (int32_t h = 0; h < group; h++)
            nt_quant_act_prepare(kv->att_type, q + (size_t)h * (size_t)hd, act + (size_t)h * qa, hd);
        nt_quant_matmat(kv->att_type, kv_k(kv, j->il, p0) + (size_t)g * kv->head_bytes, kv->row_bytes, 0,
                        n_pos, act, qa, group, hd, sc, (int64_t)lds);
    }
    float inv[MODEL_MAX_HEAD];
    for (int32_t h = 0; h < group; h++) {
        float *sh = sc + (size_t)h * lds;
        if (cap > 0.0f) {
            for (int32_t p = 0; p < n_pos; p++) sh[p] = softcap(sh[p] * scale, cap);
            inv[h] = (float)(1.0 / exp_shifted(sh, n_pos));
        } else {
            inv[h] = (float)(1.0 / nt_quant_exp_shifted(sh, n_pos, scale));
        }
    }
    if (kv->x32) {
        nt_quant_matmat(kv->att_type, kv_vx(kv, j->il, g * hd) + (size_t)p0 * QUANT_F16X_ROWS * 2,
                        lds * 2, 0, hd, sc, lds * sizeof(float), group, n_pos, out, hd);
    } else if (!kv->v_rows) {
        nt_quant_matmat(kv->att_type, kv_vt(kv, j->il, g * hd) + (size_t)p0 * kv->v_elt,
                        (size_t)kv->n_ctx * kv->v_elt, 0, hd, sc, lds * sizeof(float), group, n_pos, out, hd);
    } else {
        float *vf = (float *)(void *)(act + (size_t)group * qa); /* one value row, f32 */
        memset(out, 0, (size_t)group * (size_t)hd * sizeof(float));
        for (int32_t p = 0; p < n_pos; p++) {
            nt_quant_dequant_row(kv->type, kv_vrow(kv, j->il, p0 + p) + (size_t)g * kv->head_bytes, vf, hd);
            for (int32_t h = 0; h < group; h++)
                add_scaled(out + (size_t)h * (size_t)hd, vf, sc[(size_t)h * lds + (size_t)p], hd);
        }
    }
    for (int32_t h = 0; h < group; h++)
        for (int32_t d = 0; d < hd; d++) out[(size_t)h * (size_t)hd + (size_t)d] *= inv[h];
}

/* ------------------------------------------------------------ mixture of experts ----- */

/* Router probabilities of one token (n_expert logits, in place) and its n_expert_used best
 * experts with their weights, as llama.cpp's build_moe_ffn: softmax (or sigmoid) over every
 * expert, the top k by probability (the lower id first on a tie), their probabilities
 * optionally renormalised to sum 1 (the sum clamped at F16's smallest normal, 6.1e-5) and
 * scaled. */
static void moe_route(const nt_model *m, float *p, int32_t *sel, float *w)
{
    const int32_t X = m->n_expert, K = m->n_expert_used;
    if (m->moe_sigmoid) {
        for (int32_t e = 0; e < X; e++) p[e] = 1.0f / (1.0f + expf(-p[e]));
    } else {
        const float inv = (float)(1.0 / exp_shifted(p, X));
        for (int32_t e = 0; e < X; e++) p[e] *= inv;
    }
    for (int32_t k = 0; k < K; k++) {
        int32_t best = -1;
        for (int32_t e = 0; e < X; e++) {
            bool taken = false;
            for (int32_t j = 0; j < k && !taken; j++) taken = sel[j] == e;
            if (!taken && (best < 0 || p[e] > p[best])) best = e;
        }
        sel[k] = best;
        w[k] = p[best];
    }
    if (m->moe_norm) {
        float sum = 0.0f;
        for (int32_t k = 0; k < K; k++) sum += w[k];
        if (sum < 6.103515625e-5f) sum = 6.103515625e-5f;
        for (int32_t k = 0; k < K; k++) w[k] /= sum;
    }
    if (m->moe_scale != 1.0f)
        for (int32_t k = 0; k < K; k++) w[k] *= m->moe_scale;
}

/* Decoding's mixture of experts (one token): the gate and up matrices of its K experts run as
 * one pool job and their down matrices as a second, instead of two jobs per expert: 2 waits
 * for the threads per layer instead of 2K, and tasks enough to share among them (two threads,
 * 32 experts of 512 × 1024, 8 used: Q4_K +26..50%, Q8_0 +5..10%). One thread keeps each
 * expert's three matrices together instead, 2..4% faster there (measured). Every row is the
 * same kernel on the same prepared input as in the batch path: the same numbers. */
typedef struct moe_job {
    nt_model *m;
    const model_layer *L;
    const int32_t *sel;    /* the K experts, best first */
    int32_t k0;            /* the job's experts: k0, k0 + 1, ... */
    bool down;             /* false: gate and up (gate of expert k0 + k at 2k); true: down */
    int64_t rows, per_mat; /* rows per task, tasks per matrix */
} moe_job;

static void moe_task(void *ctx, int64_t task, int thread)
{
    const moe_job *j = ctx;
    model_scratch *s = &j->m->s;
    const int64_t i = task / j->per_mat, F = j->m->n_ff_exp;
    const int32_t k = j->k0 + (int32_t)(j->down ? i : i / 2);
    const bool up = !j->down && i % 2;
    const model_mat w = model_expert(j->down ? &j->L->down_exps : up ? &j->L->up_exps : &j->L->gate_exps,
                                     j->sel[k]);
    const int64_t r0 = task % j->per_mat * j->rows, r1 = r0 + j->rows < w.n_out ? r0 + j->rows : w.n_out;
    /* inputs: s->act[0] (and [2] when up's type differs) the token's, s->act[1] expert k's */
    const uint8_t *act = j->down ? s->act[1] + (size_t)k * s->act_bytes
                         : up && j->L->up_exps.type != j->L->gate_exps.type ? s->act[2] : s->act[0];
    float *y = j->down ? s->moe_y + (size_t)k * (size_t)j->m->info.n_embd : (up ? s->h2 : s->h1) + (size_t)k * (size_t)F;
    nt_quant_matmat(w.type, w.data, w.row_bytes, r0, r1, act, s->act_bytes, 1, w.n_in, y, w.n_out);
}

static void ffn_moe_one(nt_model *m, const model_layer *L)
{
    model_scratch *s = &m->s;
    const int64_t ne = m->info.n_embd, F = m->n_ff_exp;
    const int32_t K = m->n_expert_used;
    const model_mat g0 = model_expert(&L->gate_exps, 0), d0 = model_expert(&L->down_exps, 0);
    nt_quant_act_prepare(L->gate_exps.type, s->xn, s->act[0], ne);
    if (L->up_exps.type != L->gate_exps.type) nt_quant_act_prepare(L->up_exps.type, s->xn, s->act[2], ne);
    pool *p = forward_pool(m, (size_t)K * (2 * (size_t)F * g0.row_bytes + (size_t)ne * d0.row_bytes));
    const int32_t step = p ? K : 1; /* experts per job */
    moe_job gu = {.m = m, .L = L, .sel = s->moe_sel, .rows = forward_task_rows(m, g0.type, F, g0.row_bytes, 1)};
    moe_job dn = {.m = m, .L = L, .sel = s->moe_sel, .down = true,
                  .rows = forward_task_rows(m, d0.type, ne, d0.row_bytes, 1)};
    gu.per_mat = (F + gu.rows - 1) / gu.rows;
    dn.per_mat = (ne + dn.rows - 1) / dn.rows;
    for (int32_t k0 = 0; k0 < K; k0 += step) {
        gu.k0 = dn.k0 = k0;
        nt_pool_run(p, 2 * step * gu.per_mat, moe_task, &gu);
        for (int32_t k = k0; k < k0 + step; k++) {
            float *h = s->h1 + (size_t)k * (size_t)F;
            nt_quant_swiglu(h, s->h2 + (size_t)k * (size_t)F, F);
            nt_quant_act_prepare(L->down_exps.type, h, s->act[1] + (size_t)k * s->act_bytes, F);
        }
        nt_pool_run(p, step * dn.per_mat, moe_task, &dn);
    }
}

/* The experts of a batch of n tokens (routed: s->moe_sel) into their slots of s->moe_y: each
 * expert that some token chose runs on exactly those tokens, so a batch reads each selected
 * expert's weights once and no other expert's. */
static void ffn_moe_batch(nt_model *m, const model_layer *L, int32_t n)
{
    model_scratch *s = &m->s;
    const int64_t ne = m->info.n_embd, F = m->n_ff_exp;
    const int32_t X = m->n_expert, K = m->n_expert_used;
    for (int32_t e = 0; e < X; e++) {
        int32_t c = 0;
        for (int32_t i = 0; i < n * K; i++)
            if (s->moe_sel[i] == e) s->moe_tok[c++] = i;
        if (c == 0) continue;
        for (int32_t j = 0; j < c; j++)
            memcpy(s->moe_x + (size_t)j * (size_t)ne, s->xn + (size_t)(s->moe_tok[j] / K) * (size_t)ne,
                   (size_t)ne * sizeof(float));
        const model_mat gate = model_expert(&L->gate_exps, e), up = model_expert(&L->up_exps, e);
        const model_mat down = model_expert(&L->down_exps, e);
        const lin_out gu[2] = {{&gate, s->h1, (size_t)F, NULL}, {&up, s->h2, (size_t)F, NULL}};
        lin_run_glu(m, s->moe_x, NULL, c, gu, 2, LIN_GLU_SILU);
        /* Outputs go to moe_x (its inputs are no longer needed), then to their slots. */
        const lin_out d = {&down, s->moe_x, (size_t)ne, NULL};
        lin_run(m, s->h1, NULL, c, &d, 1);
        for (int32_t j = 0; j < c; j++)
            memcpy(s->moe_y + (size_t)s->moe_tok[j] * (size_t)ne, s->moe_x + (size_t)j * (size_t)ne,
                   (size_t)ne * sizeof(float));
    }
}

/* The mixture-of-experts FFN of n tokens whose normalised inputs are in s->xn: route every
 * token, run the experts (decoding costs what the active parameters cost), then add each
 * token's weighted expert outputs, best expert first, to the residual stream. A token's
 * numbers never depend on the other tokens of its batch. */
static void ffn_moe(nt_model *m, const model_layer *L, int32_t n)
{
    model_scratch *s = &m->s;
    const int64_t ne = m->info.n_embd;
    const int32_t X = m->n_expert, K = m->n_expert_used;
    const lin_out r = {&L->ffn_gate_inp, s->router, (size_t)X, NULL};
    lin_run(m, s->xn, NULL, n, &r, 1);
    for (int32_t t = 0; t < n; t++)
        moe_route(m, s->router + (size_t)t * (size_t)X, s->moe_sel + (size_t)t * (size_t)K,
                  s->moe_w + (size_t)t * (size_t)K);
    if (n == 1 && K <= MODEL_BATCH) ffn_moe_one(m, L);
    else ffn_moe_batch(m, L, n);
    for (int32_t t = 0; t < n; t++) {
        float *x = s->x + (size_t)t * (size_t)ne;
        float *acc = s->moe_x; /* one row of scratch */
        for (int32_t k = 0; k < K; k++) {
            const float w = s->moe_w[(size_t)t * (size_t)K + (size_t)k];
            const float *y = s->moe_y + ((size_t)t * (size_t)K + (size_t)k) * (size_t)ne;
            for (int64_t i = 0; i < ne; i++) acc[i] = k ? acc[i] + w * y[i] : w * y[i];
        }
        for (int64_t i = 0; i < ne; i++) x[i] += acc[i];
    }
}

/* ------------------------------------------------------------------ the whole pass ----- */

static bool forward_cancelled(const nt_model *m)
{
    return m->hooks.cancel && m->hooks.cancel(m->hooks.user);
}

/* Post-norm residual (Gemma 2/3): x += rmsnorm(y) · w for each of n tokens; y is overwritten. */
static void add_normed(float *x, float *y, const float *w, int32_t n, int64_t ne, float eps)
{
    for (int32_t t = 0; t < n; t++) {
        float *yt = y + t * ne, *xt = x + t * ne;
        rmsnorm(yt, yt, w, ne, eps);
        for (int64_t i = 0; i < ne; i++) xt[i] += yt[i];
    }
}

/* A sub-block's input: xn = rmsnorm(x) · w for each of n tokens, or x itself without a
 * pre-norm (ARCH_NO_PRE_NORM, w NULL). */
static void pre_norm(float *xn, const float *x, const float *w, int32_t n, int64_t ne, float eps)
{
    if (!w) {
        memcpy(xn, x, (size_t)n * (size_t)ne * sizeof(float));
        return;
    }
    for (int32_t t = 0; t < n; t++) rmsnorm(xn + t * ne, x + t * ne, w, ne, eps);
}

/* The step between the Q, K, V products and attention: per token, the query and key norms
 * (ARCH_QK_NORM*) and rotation, then the token's keys (and values stored by position) into the
 * cache; the transposed values are stored by ranges of dimensions. All independent pieces, so
 * a batch runs them as tasks on the pool: tasks [0, n) are tokens, the rest ranges of
 * FORWARD_VT_DIMS value dimensions. */
#define FORWARD_VT_DIMS 32

typedef struct qk_job {
    nt_model *m;
    const model_layer *L;
    int32_t il, pos0, n;
    const float *rope; /* (n, n_rot) this layer's rotations, or NULL for none */
} qk_job;

static void qk_task(void *ctx, int64_t task, int thread)
{
    const qk_job *j = ctx;
    nt_model *m = j->m;
    const nt_model_info *in = &m->info;
    const model_layer *L = j->L;
    if (task >= j->n) {
        const int32_t d0 = (int32_t)(task - j->n) * FORWARD_VT_DIMS;
        const int32_t d1 = d0 + FORWARD_VT_DIMS < m->kv_dim ? d0 + FORWARD_VT_DIMS : m->kv_dim;
        nt_kv_store_vt(&m->kv, j->il, j->pos0, m->s.v, j->n, (size_t)m->kv_dim, d0, d1);
        return;
    }
    const int32_t t = (int32_t)task;
    float *qt = m->s.q + (size_t)t * (size_t)m->q_dim, *kt = m->s.k + (size_t)t * (size_t)m->kv_dim;
    if (m->feat & ARCH_QK_NORM_FULL) {
        rmsnorm(qt, qt, L->q_norm, m->q_dim, in->norm_eps);
        rmsnorm(kt, kt, L->k_norm, m->kv_dim, in->norm_eps);
    } else if (L->q_norm) {
        const int32_t hd = in->head_dim;
        for (int32_t h = 0; h < in->n_head; h++) rmsnorm(qt + h * hd, qt + h * hd, L->q_norm, hd, in->norm_eps);
        for (int32_t h = 0; h < in->n_head_kv; h++) rmsnorm(kt + h * hd, kt + h * hd, L->k_norm, hd, in->norm_eps);
    }
    if (j->rope) {
        const float *cs = j->rope + (size_t)t * (size_t)in->n_rot;
        rope_apply(m, qt, in->n_head, cs);
        rope_apply(m, kt, in->n_head_kv, cs);
    }
    nt_kv_store_row(&m->kv, j->il, j->pos0 + t, kt, m->s.v + (size_t)t * (size_t)m->kv_dim);
}

int nt_forward_batch(nt_model *m, const int32_t *tokens, int32_t n, float *logits, bool all)
{
    const nt_model_info *in = &m->info;
    model_scratch *s = &m->s;
    const int64_t ne = in->n_embd, nff = in->n_ff;
    const int32_t pos0 = m->kv.n_past;

    if (!m->pack_done) nt_model_pack(m);
    for (int32_t t = 0; t < n; t++) {
        const model_mat *e = &m->tok_embd;
        float *xt = s->x + t * ne;
        nt_quant_dequant_row(e->type, e->data + (size_t)tokens[t] * e->row_bytes, xt, ne);
        if (m->embd_scale != 1.0f)
            for (int64_t i = 0; i < ne; i++) xt[i] *= m->embd_scale;
        rope_table(m, pos0 + t, in->rope_base, m->rope_freq_scale, m->rope_freqs, m->rope_mscale,
                   s->rope + (size_t)t * (size_t)in->n_rot);
        if (s->rope_swa)
            rope_table(m, pos0 + t, m->rope_base_swa, 1.0f, NULL,
                       m->arch->swa_plain_rope ? 1.0f : m->rope_mscale,
                       s->rope_swa + (size_t)t * (size_t)in->n_rot);
    }

    for (int32_t il = 0; il < in->n_layer; il++) {
        const model_layer *L = &m->layers[il];
        if (forward_cancelled(m)) return NT_ERR_CANCELLED;

        /* attention */
        const lin_out qkv[3] = {
            {&L->wq, s->q, (size_t)m->q_dim, NULL},
            {&L->wk, s->k, (size_t)m->kv_dim, NULL},
            {&L->wv, s->v, (size_t)m->kv_dim, NULL},
        };
        lin_run(m, s->x, L->attn_norm, n, qkv, 3);
        const bool use_rope = !(m->feat & ARCH_NOROPE_LAYERS) || (il + 1) % m->arch->norope_step != 0;
        qk_job qj = {m, L, il, pos0, n, !use_rope ? NULL : L->swa && s->rope_swa ? s->rope_swa : s->rope};
        const int64_t vt_tasks = m->kv.v_rows || m->kv.x32 ? 0 : (m->kv_dim + FORWARD_VT_DIMS - 1) / FORWARD_VT_DIMS;
        nt_pool_run(n > 1 ? m->pool : NULL, n + vt_tasks, qk_task, &qj);
        att_job aj = {m, il, pos0, L->swa ? m->n_swa : 0};
        const size_t att_bytes = (size_t)n * (size_t)(pos0 + n) * m->kv.row_bytes * 2;
        nt_pool_run(forward_pool(m, att_bytes), (int64_t)n * in->n_head_kv, att_task, &aj);
        const lin_out o = {&L->wo, s->xn, (size_t)ne, L->attn_post_norm ? NULL : s->x};
        lin_run(m, s->att, NULL, n, &o, 1);
        if (L->attn_post_norm) add_normed(s->x, s->xn, L->attn_post_norm, n, ne, in->norm_eps);

        if (forward_cancelled(m)) return NT_ERR_CANCELLED;

        /* feed-forward */
        if (m->feat & ARCH_MOE) {
            pre_norm(s->xn, s->x, L->ffn_norm, n, ne, in->norm_eps);
            ffn_moe(m, L, n);
            continue;
        }
        const lin_out gu[2] = {
            {&L->w_gate, s->h1, (size_t)nff, NULL},
            {&L->w_up, s->h2, (size_t)nff, NULL},
        };
        lin_run_glu(m, s->x, L->ffn_norm, n, gu, 2, m->feat & ARCH_GELU ? LIN_GLU_GELU : LIN_GLU_SILU);
        const lin_out d = {&L->w_down, s->xn, (size_t)ne, L->ffn_post_norm ? NULL : s->x};
        lin_run(m, s->h1, NULL, n, &d, 1);
        if (L->ffn_post_norm) add_normed(s->x, s->xn, L->ffn_post_norm, n, ne, in->norm_eps);
    }

    if (forward_cancelled(m)) return NT_ERR_CANCELLED;
    if (logits) {
        const int32_t first = all ? 0 : n - 1, cnt = n - first;
        const lin_out o = {&m->output, logits, (size_t)in->n_vocab, NULL};
        lin_run(m, s->x + (size_t)first * (size_t)ne, m->out_norm, cnt, &o, 1);
        if (m->logit_mul != 1.0f)
            for (int64_t i = 0; i < (int64_t)cnt * in->n_vocab; i++) logits[i] *= m->logit_mul;
        if (m->final_softcap > 0.0f)
            for (int64_t i = 0; i < (int64_t)cnt * in->n_vocab; i++) logits[i] = softcap(logits[i], m->final_softcap);
    }
    m->kv.n_past = pos0 + n;
    return NT_OK;
}

/* ------------------------------------------------------------------------ scratch ----- */

/* Zeroed scratch starting on a cache line: threads write neighbouring rows of these buffers
 * (tasks of MODEL_ROWS rows, per-thread parts), and a line shared by two of them would move
 * between the cores at every write. */
static void *scratch_bytes(size_t n)
{
    n = (n + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, n ? n : 64);
    if (p) memset(p, 0, n ? n : 64);
    return p;
}

static float *scratch_floats(size_t n)
{
    return scratch_bytes(n * sizeof(float));
}

int nt_forward_scratch_threads(nt_model *m, nt_err *err)
{
    model_scratch *s = &m->s;
    const int nt = nt_pool_n_threads(m->pool);
    const size_t group = (size_t)(m->info.n_head / m->info.n_head_kv), hd = (size_t)m->info.head_dim;
    free(s->scores);
    free(s->att_act);
    s->scores = scratch_floats((size_t)nt * group * (size_t)m->kv.n_ctx32);
    /* the group's queries prepared for the cache's type, then one value row in f32 */
    s->att_q_bytes = nt_quant_act_bytes(m->kv.att_type, (int64_t)hd);
    s->att_act_bytes = (group * s->att_q_bytes + hd * sizeof(float) + 63) & ~(size_t)63;
    s->att_act = scratch_bytes((size_t)nt * s->att_act_bytes);
    s->n_threads = nt;
    if (!s->scores || !s->att_act)
        return nt_err_set(err, NT_ERR_NOMEM, "%s: cannot allocate scratch for %d threads",
                          nt_gguf_path(m->g), nt);
    return NT_OK;
}

int nt_forward_scratch_init(nt_model *m, nt_err *err)
{
    model_scratch *s = &m->s;
    const nt_model_info *in = &m->info;
    const size_t B = MODEL_BATCH;
    s->x = scratch_floats(B * (size_t)in->n_embd);
    s->xn = scratch_floats(B * (size_t)in->n_embd);
    s->q = scratch_floats(B * (size_t)m->q_dim);
    s->att = scratch_floats(B * (size_t)m->q_dim);
    s->v = scratch_floats(B * (size_t)m->kv_dim);
    s->k = scratch_floats(B * (size_t)m->kv_dim);
    const size_t ff = (size_t)(in->n_ff > m->n_ff_exp ? in->n_ff : m->n_ff_exp);
    s->h1 = scratch_floats(B * ff);
    s->h2 = scratch_floats(B * ff);
    const bool moe = m->feat & ARCH_MOE;
    const size_t K = (size_t)m->n_expert_used;
    if (moe) {
        s->router = scratch_floats(B * (size_t)m->n_expert);
        s->moe_x = scratch_floats(B * (size_t)in->n_embd);
        s->moe_y = scratch_floats(B * K * (size_t)in->n_embd);
        s->moe_w = scratch_floats(B * K);
        s->moe_sel = calloc(B * K, sizeof *s->moe_sel);
        s->moe_tok = calloc(B * K, sizeof *s->moe_tok);
    }
    s->rope = scratch_floats(B * (size_t)in->n_rot);
    /* Local layers need their own rotations only when they differ from the global ones. */
    bool swa_rope = false;
    for (int32_t il = 0; il < in->n_layer; il++) swa_rope |= m->layers[il].swa;
    swa_rope = swa_rope && (m->rope_base_swa != in->rope_base || m->rope_freq_scale != 1.0f || m->rope_freqs);
    if (swa_rope) s->rope_swa = scratch_floats(B * (size_t)in->n_rot);
    s->logits = scratch_floats(B * (size_t)in->n_vocab);

    /* One activation buffer per matrix of a lin_run call, big enough for any matrix. */
    size_t ab = 0;
    const model_mat *mats[2] = {&m->tok_embd, &m->output};
    for (int i = 0; i < 2; i++) {
        size_t b = nt_quant_act_bytes(mats[i]->type, mats[i]->n_in);
        if (b > ab) ab = b;
    }
    for (int32_t il = 0; il < in->n_layer; il++) {
        model_mat *lm[MODEL_LAYER_MATS];
        model_layer_mats(&m->layers[il], lm);
        for (int i = 0; i < MODEL_LAYER_MATS; i++) {
            if (!lm[i]->data) continue; /* not in this architecture */
            size_t b = nt_quant_act_bytes(lm[i]->type, lm[i]->n_in);
            if (b > ab) ab = b;
        }
    }
    s->act_bytes = (ab + 63) & ~(size_t)63;
    for (int i = 0; i < 3; i++) s->act[i] = scratch_bytes(s->act_bytes * MODEL_BATCH);

    if (!s->x || !s->xn || !s->q || !s->att || !s->v || !s->k || !s->h1 || !s->h2 || !s->rope || !s->logits ||
        (swa_rope && !s->rope_swa) ||
        !s->act[0] || !s->act[1] || !s->act[2] ||
        (moe && (!s->router || !s->moe_x || !s->moe_y || !s->moe_w || !s->moe_sel || !s->moe_tok)))
        return nt_err_set(err, NT_ERR_NOMEM, "%s: cannot allocate the forward pass's scratch",
                          nt_gguf_path(m->g));
    return nt_forward_scratch_threads(m, err);
}

void nt_forward_scratch_free(nt_model *m)
{
    model_scratch *s = &m->s;
    free(s->x);
    free(s->xn);
    free(s->q);
    free(s->att);
    free(s->v);
    free(s->k);
    free(s->h1);
    free(s->h2);
    free(s->rope);
    free(s->rope_swa);
    free(s->logits);
    free(s->router);
    free(s->moe_x);
    free(s->moe_y);
    free(s->moe_w);
    free(s->moe_sel);
    free(s->moe_tok);
    for (int i = 0; i < 3; i++) free(s->act[i]);
    free(s->scores);
    free(s->att_act);
    memset(s, 0, sizeof *s);
}
