/* train.c — the trainer's model: parameters, the forward pass with saved activations, the
 * backward pass, AdamW, checkpoints (GGUF + optimizer state) and the training loop.
 *
 * The forward pass computes what forward.c computes (same RMSNorm with a double sum of
 * squares, same rope table built by repeated float multiplication, same softmax), so the
 * engine loads a checkpoint and gives the trainer's logits up to the rounding of the matrix
 * products. Per sequence:
 *   x = E[tok]
 *   per block: xn1 = rmsnorm(x)·a; q,k = rope(xn1 Wq^T, xn1 Wk^T); v = xn1 Wv^T
 *              att = softmax_causal(q k^T / sqrt(hd)) v     (per head; head h uses KV group
 *              x1 = x + att Wo^T                              h / (n_head / n_head_kv))
 *              xn2 = rmsnorm(x1)·f; h = silu(xn2 Wg^T) * (xn2 Wu^T); x = x1 + h Wd^T
 *   logits = rmsnorm(x)·o Out^T (Out = E when tied), loss = mean NLL of the scored targets.
 * The backward pass walks the same steps in reverse; every product is one cblas_sgemm call.
 *
 * Threads: the batch's sequences are dealt to slots (slot k takes k, k + S, ...), each slot
 * with its own gradient and activations, run on the engine's pool; OpenBLAS is single-threaded
 * (as model.c sets it). Gradients are summed in slot order, so a run is reproducible for a
 * given seed and thread count. A slot packs its sequences back to back (up to pack_len
 * tokens) so the products have many rows; attention and rope positions stay per sequence.
 * Dropout and question_drop decide per value by hashing (seed, step, token), so the backward
 * pass sees the forward's masks and nothing depends on packing or threads. */
#include "train.h"
#include "gguf.h"
#include "quant.h"

#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TRAIN_STATE_MAGIC "NTTRAIN1"
#define TRAIN_MAX_THREADS 64

nt_train_params nt_train_default_params(void)
{
    return (nt_train_params){
        .n_vocab = 3072, .n_embd = 256, .n_layer = 4, .n_head = 4, .n_head_kv = 0, .n_ff = 768,
        .n_ctx = 256, .norm_eps = 1e-5f, .rope_base = 10000.0f,
        .steps = 3000, .batch = 16, .warmup = 100, .lr = 1e-3f, .lr_min = 1e-4f,
        .weight_decay = 0.1f, .beta1 = 0.9f, .beta2 = 0.95f, .adam_eps = 1e-8f, .clip = 1.0f,
        .init_std = 0.02f, .dropout = 0.0f, .question_drop = 0.0f, .seed = 1, .n_threads = 0, .save_every = 500, .f16 = false,
    };
}

/* ------------------------------------------------------------------------ random ----- */

/* splitmix64: the seed of every random number the trainer draws. */
static uint64_t tr_mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double tr_uniform(uint64_t *s) /* (0, 1) */
{
    return ((double)(tr_mix(s) >> 11) + 0.5) / 9007199254740992.0;
}

static float tr_normal(uint64_t *s)
{
    const double u1 = tr_uniform(s), u2 = tr_uniform(s);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ------------------------------------------------------------------------ layout ----- */

static const char *const tr_kind_names[TRAIN_LAYER_TENSORS] = {
    "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up",
    "ffn_down",
};

static void tr_add_tensor(nt_train_model *m, const char *name, int64_t n_in, int64_t n_out)
{
    train_tensor *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ne[0] = n_in;
    t->ne[1] = n_out > 0 ? n_out : 1;
    t->n_dims = n_out > 0 ? 2 : 1;
    t->n = (size_t)n_in * (size_t)t->ne[1];
    t->off = m->n_params;
    t->decay = n_out > 0;
    /* Each tensor starts on a 64-byte boundary so sgemm sees aligned rows. */
    m->n_params += (t->n + 15) & ~(size_t)15;
}

/* The tensor table for m->c: token_embd, per layer the nine tensors, output_norm, output. */
static int tr_layout(nt_train_model *m, nt_err *err)
{
    const train_cfg *c = &m->c;
    m->tensors = calloc((size_t)(3 + TRAIN_LAYER_TENSORS * c->n_layer), sizeof *m->tensors);
    if (!m->tensors) return nt_err_set(err, NT_ERR_NOMEM, "train: out of memory");
    const int64_t E = c->n_embd, F = c->n_ff, Q = c->q_dim, KV = c->kv_dim;
    tr_add_tensor(m, "token_embd.weight", E, c->n_vocab);
    for (int32_t l = 0; l < c->n_layer; l++) {
        static const int in_of[TRAIN_LAYER_TENSORS] = {0, 0, 0, 0, 1, 0, 0, 0, 2};
        const int64_t outs[TRAIN_LAYER_TENSORS] = {0, Q, KV, KV, E, 0, F, F, E};
        const int64_t ins[3] = {E, Q, F};
        for (int k = 0; k < TRAIN_LAYER_TENSORS; k++) {
            char name[48];
            snprintf(name, sizeof name, "blk.%d.%s.weight", (int)l, tr_kind_names[k]);
            tr_add_tensor(m, name, ins[in_of[k]], outs[k]);
        }
    }
    tr_add_tensor(m, "output_norm.weight", E, 0);
    if (!c->tied) tr_add_tensor(m, "output.weight", E, c->n_vocab);
    return NT_OK;
}

float *nt_train_tensor_data(nt_train_model *m, int i)
{
    return m->w + m->tensors[i].off;
}

static inline int tr_lt(int32_t l, int kind)
{
    return 1 + l * TRAIN_LAYER_TENSORS + kind;
}

/* ----------------------------------------------------------------- allocation ----- */

static float *tr_alloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float))) return NULL;
    memset(p, 0, (n ? n : 1) * sizeof(float));
    return p;
}

static void tr_slot_free(train_slot *s, int32_t n_layer)
{
    if (s->acts) {
        for (int32_t l = 0; l < n_layer; l++) {
            train_acts *a = &s->acts[l];
            float *v[] = {a->xin, a->xn1, a->r1, a->q, a->k, a->v, a->p, a->att, a->x1, a->xn2,
                          a->r2, a->g, a->u, a->h};
            for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) free(v[i]);
        }
    }
    free(s->acts);
    free(s->rows);
    free(s->tok);
    free(s->mask);
    free(s->pos);
    free(s->seg);
    free(s->salt);
    float *v[] = {s->grad, s->xf, s->xnf, s->rf, s->xsel, s->logits, s->dx, s->dxn, s->dx2,
                  s->dq, s->datt, s->dk, s->dv, s->dg, s->du, s->dp};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) free(v[i]);
    memset(s, 0, sizeof *s);
}

static int tr_slot_init(train_slot *s, const nt_train_model *m)
{
    const train_cfg *c = &m->c;
    const size_t T = (size_t)m->pack_len, C = (size_t)c->n_ctx, E = (size_t)c->n_embd;
    const size_t F = (size_t)c->n_ff, Q = (size_t)c->q_dim, KV = (size_t)c->kv_dim;
    const size_t V = (size_t)c->n_vocab;
    memset(s, 0, sizeof *s);
    s->acts = calloc((size_t)c->n_layer, sizeof *s->acts);
    if (!s->acts) return NT_ERR_NOMEM;
    bool ok = true;
    for (int32_t l = 0; l < c->n_layer; l++) {
        train_acts *a = &s->acts[l];
        ok = ok && (a->xin = tr_alloc(T * E)) && (a->xn1 = tr_alloc(T * E)) &&
             (a->r1 = tr_alloc(T)) && (a->q = tr_alloc(T * Q)) && (a->k = tr_alloc(T * KV)) &&
             (a->v = tr_alloc(T * KV)) && (a->p = tr_alloc((size_t)c->n_head * T * C)) &&
             (a->att = tr_alloc(T * Q)) && (a->x1 = tr_alloc(T * E)) &&
             (a->xn2 = tr_alloc(T * E)) && (a->r2 = tr_alloc(T)) && (a->g = tr_alloc(T * F)) &&
             (a->u = tr_alloc(T * F)) && (a->h = tr_alloc(T * F));
    }
    ok = ok && (s->grad = tr_alloc(m->n_params)) && (s->xf = tr_alloc(T * E)) &&
         (s->xnf = tr_alloc(T * E)) && (s->rf = tr_alloc(T)) && (s->xsel = tr_alloc(T * E)) &&
         (s->logits = tr_alloc(T * V)) && (s->dx = tr_alloc(T * E)) && (s->dxn = tr_alloc(T * E)) &&
         (s->dx2 = tr_alloc(T * E)) && (s->dq = tr_alloc(T * Q)) && (s->datt = tr_alloc(T * Q)) &&
         (s->dk = tr_alloc(T * KV)) && (s->dv = tr_alloc(T * KV)) && (s->dg = tr_alloc(T * F)) &&
         (s->du = tr_alloc(T * F)) && (s->dp = tr_alloc(C * C)) &&
         (s->rows = malloc(T * sizeof *s->rows)) && (s->tok = malloc(T * sizeof *s->tok)) &&
         (s->mask = malloc(T)) && (s->pos = malloc(T * sizeof *s->pos)) &&
         (s->seg = malloc((T + 1) * sizeof *s->seg)) && (s->salt = malloc(T * sizeof *s->salt));
    return ok ? NT_OK : NT_ERR_NOMEM;
}

static int tr_threads(int32_t n)
{
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int32_t)c : 1;
    }
    return n > TRAIN_MAX_THREADS ? TRAIN_MAX_THREADS : n;
}

/* Everything that follows the configuration: tensors, arrays, rope table, pool and slots. */
static int tr_build(nt_train_model *m, int32_t n_threads, nt_err *err)
{
    const train_cfg *c = &m->c;
    int rc = tr_layout(m, err);
    if (rc) return rc;
    m->w = tr_alloc(m->n_params);
    m->m = tr_alloc(m->n_params);
    m->v = tr_alloc(m->n_params);
    m->grad = tr_alloc(m->n_params);
    m->rope = tr_alloc((size_t)c->n_ctx * (size_t)c->head_dim);
    if (!m->w || !m->m || !m->v || !m->grad || !m->rope)
        return nt_err_set(err, NT_ERR_NOMEM, "train: out of memory for %zu parameters", m->n_params);

    /* The rope table, computed exactly like forward.c's rope_table (no frequency factors, no
     * scaling): theta_i = pos · base^(-2i/hd), the power built by repeated multiplication. */
    const int32_t half = c->head_dim / 2;
    const float theta_scale = powf(c->rope_base, -2.0f / (float)c->head_dim);
    for (int32_t pos = 0; pos < c->n_ctx; pos++) {
        float theta = (float)pos, *cs = m->rope + (size_t)pos * (size_t)c->head_dim;
        for (int32_t i = 0; i < half; i++) {
            cs[2 * i] = cosf(theta);
            cs[2 * i + 1] = sinf(theta);
            theta *= theta_scale;
        }
    }

    openblas_set_num_threads(1);
    m->pack_len = c->n_ctx > TRAIN_PACK_MIN ? c->n_ctx : TRAIN_PACK_MIN;
    m->n_slots = tr_threads(n_threads);
    m->pool = nt_pool_init(m->n_slots);
    m->slots = calloc((size_t)m->n_slots, sizeof *m->slots);
    if (!m->pool || !m->slots) return nt_err_set(err, NT_ERR_NOMEM, "train: cannot start threads");
    for (int i = 0; i < m->n_slots; i++)
        if (tr_slot_init(&m->slots[i], m))
            return nt_err_set(err, NT_ERR_NOMEM, "train: out of memory for the activations of "
                              "%d threads (context %d)", m->n_slots, (int)c->n_ctx);
    return NT_OK;
}

void nt_train_model_free(nt_train_model *m)
{
    if (!m) return;
    if (m->slots)
        for (int i = 0; i < m->n_slots; i++) tr_slot_free(&m->slots[i], m->c.n_layer);
    free(m->slots);
    nt_pool_free(m->pool);
    free(m->rope);
    free(m->w);
    free(m->m);
    free(m->v);
    free(m->grad);
    free(m->tensors);
    free(m->name);
    nt_tokenizer_free(m->tok);
    nt_gguf_close(m->src);
    free(m);
}

const nt_tokenizer *nt_train_model_tokenizer(const nt_train_model *m) { return m->tok; }
enum nt_chat_family nt_train_model_chat(const nt_train_model *m) { return nt_chat_detect_gguf(m->src); }
int32_t nt_train_model_n_ctx(const nt_train_model *m) { return m->c.n_ctx; }
int32_t nt_train_model_step(const nt_train_model *m) { return m->step; }

int64_t nt_train_model_n_params(const nt_train_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->n_tensors; i++) n += (int64_t)m->tensors[i].n;
    return n;
}

/* ------------------------------------------------------------------ small kernels ----- */

/* forward.c's rmsnorm (double sum of float squares); also returns 1/rms for the backward. */
static float tr_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float r = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] * r) * w[i];
    return r;
}

/* Given dy of y = (x·r)·w: dw += dy·x·r and dx (+)= r·(dy·w − x·r·mean(dy·w·x·r)). */
static void tr_rmsnorm_back(float *dx, bool accumulate, float *dw, const float *dy,
                            const float *x, const float *w, float r, int64_t n)
{
    double dot = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float xh = x[i] * r;
        dw[i] += dy[i] * xh;
        dot += (double)(dy[i] * w[i] * xh);
    }
    const float mean = (float)(dot / (double)n);
    for (int64_t i = 0; i < n; i++) {
        const float d = r * (dy[i] * w[i] - x[i] * r * mean);
        dx[i] = accumulate ? dx[i] + d : d;
    }
}

/* Adjacent-pair rope over n_heads heads of hd values (forward.c's llama rotation); inverse
 * rotates the other way (the backward pass of a rotation is its transpose). */
static void tr_rope(float *x, int32_t n_heads, int32_t hd, const float *cs, bool inverse)
{
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * (size_t)hd;
        for (int32_t i = 0; i < hd / 2; i++) {
            const float c = cs[2 * i], s = inverse ? -cs[2 * i + 1] : cs[2 * i + 1];
            const float x0 = v[2 * i], x1 = v[2 * i + 1];
            v[2 * i] = x0 * c - x1 * s;
            v[2 * i + 1] = x0 * s + x1 * c;
        }
    }
}

/* y (T, out) = x (T, in) · W^T, W (out, in). */
static void tr_mm(float *y, const float *x, const float *W, int32_t T, int64_t in, int64_t out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, (int)out, (int)in, 1.0f, x, (int)in,
                W, (int)in, 0.0f, y, (int)out);
}

/* dx (T, in) (+)= dy (T, out) · W; dW (out, in) += dy^T · x. */
static void tr_mm_back(float *dx, float beta, float *dW, const float *dy, const float *x,
                       const float *W, int32_t T, int64_t in, int64_t out)
{
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, (int)in, (int)out, 1.0f, dy,
                    (int)out, W, (int)in, beta, dx, (int)in);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, T, 1.0f, dy, (int)out,
                x, (int)in, 1.0f, dW, (int)in);
}

static inline float tr_sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* ------------------------------------------------------------------ forward pass ----- */

/* Dropout on y (T, E), the output of a projection about to be added to the residual stream:
 * each value is kept with probability 1 − p and then scaled by 1 / (1 − p). Whether a value
 * is kept is a hash of (seed, step, layer, site, token key, column), not a random stream, so
 * the backward pass recomputes the same mask and the result does not depend on which thread
 * ran the sequence or what else was packed with it. */
static void tr_dropout(const nt_train_model *m, const train_slot *s, float *y, int32_t layer,
                       int site)
{
    if (!s->drop || m->dropout <= 0.0f) return;
    const int64_t E = m->c.n_embd;
    const uint64_t limit = (uint64_t)((double)m->dropout * 4294967296.0);
    const float keep = 1.0f / (1.0f - m->dropout);
    const uint64_t base = (m->seed * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)m->step << 32) ^
                          ((uint64_t)(uint32_t)layer << 8) ^ (uint64_t)site;
    for (int32_t t = 0; t < s->n_tok; t++) {
        uint64_t st = base ^ ((uint64_t)s->salt[t] * 0xd1b54a32d192ed03ull);
        float *row = y + t * E;
        for (int64_t i = 0; i < E; i += 2) {
            const uint64_t r = tr_mix(&st); /* two 32-bit draws per call */
            row[i] = (r & 0xffffffffu) < limit ? 0.0f : row[i] * keep;
            if (i + 1 < E) row[i + 1] = (r >> 32) < limit ? 0.0f : row[i + 1] * keep;
        }
    }
}

/* The attention probabilities of head h for the pack's sequence i (its len × len block). */
static float *tr_p_block(const train_slot *s, float *p, int32_t h, int32_t i)
{
    size_t per_head = 0, off = 0;
    for (int32_t j = 0; j < s->n_seg; j++) {
        const size_t n = (size_t)(s->seg[j + 1] - s->seg[j]);
        if (j < i) off += n * n;
        per_head += n * n;
    }
    return p + (size_t)h * per_head + off;
}

/* Runs the pack s->tok[0..n_tok) through the blocks, saving activations in s; the final
 * normalised rows in s->xnf. */
static void tr_forward(nt_train_model *m, train_slot *s)
{
    const train_cfg *c = &m->c;
    const int64_t E = c->n_embd, F = c->n_ff, Q = c->q_dim, KV = c->kv_dim;
    const int32_t hd = c->head_dim, group = c->n_head / c->n_head_kv, T = s->n_tok;
    const float scale = 1.0f / sqrtf((float)hd);
    const float *emb = m->w + m->tensors[0].off;
    float *x = s->acts[0].xin;
    for (int32_t t = 0; t < T; t++)
        memcpy(x + t * E, emb + (size_t)s->tok[t] * (size_t)E, (size_t)E * sizeof *x);

    for (int32_t l = 0; l < c->n_layer; l++) {
        train_acts *a = &s->acts[l];
        const float *W[TRAIN_LAYER_TENSORS];
        for (int k = 0; k < TRAIN_LAYER_TENSORS; k++) W[k] = m->w + m->tensors[tr_lt(l, k)].off;
        for (int32_t t = 0; t < T; t++)
            a->r1[t] = tr_rmsnorm(a->xn1 + t * E, a->xin + t * E, W[TRAIN_ATTN_NORM], E, c->norm_eps);
        tr_mm(a->q, a->xn1, W[TRAIN_WQ], T, E, Q);
        tr_mm(a->k, a->xn1, W[TRAIN_WK], T, E, KV);
        tr_mm(a->v, a->xn1, W[TRAIN_WV], T, E, KV);
        for (int32_t t = 0; t < T; t++) {
            const float *cs = m->rope + (size_t)s->pos[t] * (size_t)hd;
            tr_rope(a->q + t * Q, c->n_head, hd, cs, false);
            tr_rope(a->k + t * KV, c->n_head_kv, hd, cs, false);
        }
        for (int32_t i = 0; i < s->n_seg; i++) {
            const int32_t t0 = s->seg[i], n = s->seg[i + 1] - t0;
            for (int32_t h = 0; h < c->n_head; h++) {
                const int32_t g = h / group;
                float *P = tr_p_block(s, a->p, h, i);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, hd, scale,
                            a->q + t0 * Q + h * hd, (int)Q, a->k + t0 * KV + g * hd, (int)KV, 0.0f, P, n);
                for (int32_t t = 0; t < n; t++) {
                    float *row = P + (size_t)t * (size_t)n, max = -INFINITY;
                    for (int32_t p = 0; p <= t; p++)
                        if (row[p] > max) max = row[p];
                    double sum = 0.0;
                    for (int32_t p = 0; p <= t; p++) {
                        row[p] = expf(row[p] - max);
                        sum += row[p];
                    }
                    const float inv = (float)(1.0 / sum);
                    for (int32_t p = 0; p <= t; p++) row[p] *= inv;
                    for (int32_t p = t + 1; p < n; p++) row[p] = 0.0f;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, n, 1.0f, P, n,
                            a->v + t0 * KV + g * hd, (int)KV, 0.0f, a->att + t0 * Q + h * hd, (int)Q);
            }
        }
        tr_mm(a->x1, a->att, W[TRAIN_WO], T, Q, E);
        tr_dropout(m, s, a->x1, l, 0);
        for (int64_t i = 0; i < (int64_t)T * E; i++) a->x1[i] += a->xin[i];

        for (int32_t t = 0; t < T; t++)
            a->r2[t] = tr_rmsnorm(a->xn2 + t * E, a->x1 + t * E, W[TRAIN_FFN_NORM], E, c->norm_eps);
        tr_mm(a->g, a->xn2, W[TRAIN_GATE], T, E, F);
        tr_mm(a->u, a->xn2, W[TRAIN_UP], T, E, F);
        for (int64_t i = 0; i < (int64_t)T * F; i++) a->h[i] = a->g[i] * tr_sigmoid(a->g[i]) * a->u[i];
        float *xo = l + 1 < c->n_layer ? s->acts[l + 1].xin : s->xf;
        tr_mm(xo, a->h, W[TRAIN_DOWN], T, F, E);
        tr_dropout(m, s, xo, l, 1);
        for (int64_t i = 0; i < (int64_t)T * E; i++) xo[i] += a->x1[i];
    }
    const float *onorm = m->w + m->tensors[1 + TRAIN_LAYER_TENSORS * c->n_layer].off;
    for (int32_t t = 0; t < T; t++)
        s->rf[t] = tr_rmsnorm(s->xnf + t * E, s->xf + t * E, onorm, E, c->norm_eps);
}

static const float *tr_out_matrix(const nt_train_model *m, int *index)
{
    const int i = m->c.tied ? 0 : 2 + TRAIN_LAYER_TENSORS * m->c.n_layer;
    if (index) *index = i;
    return m->w + m->tensors[i].off;
}

/* ----------------------------------------------------------------- backward pass ----- */

/* Given the gradient of the final normalised rows in s->dxn (T, E): the gradient of every
 * parameter, accumulated into s->grad. */
static void tr_backward(nt_train_model *m, train_slot *s)
{
    const train_cfg *c = &m->c;
    const int64_t E = c->n_embd, F = c->n_ff, Q = c->q_dim, KV = c->kv_dim;
    const int32_t hd = c->head_dim, group = c->n_head / c->n_head_kv, T = s->n_tok;
    const int32_t *tok = s->tok;
    const float scale = 1.0f / sqrtf((float)hd);
    const int on = 1 + TRAIN_LAYER_TENSORS * c->n_layer;
    float *G = s->grad;
    float *dx = s->dx; /* gradient of the residual stream, walked down the blocks */

    const float *onorm = m->w + m->tensors[on].off;
    for (int32_t t = 0; t < T; t++)
        tr_rmsnorm_back(dx + t * E, false, G + m->tensors[on].off, s->dxn + t * E, s->xf + t * E,
                        onorm, s->rf[t], E);

    for (int32_t l = c->n_layer - 1; l >= 0; l--) {
        train_acts *a = &s->acts[l];
        const float *W[TRAIN_LAYER_TENSORS];
        float *dW[TRAIN_LAYER_TENSORS];
        for (int k = 0; k < TRAIN_LAYER_TENSORS; k++) {
            W[k] = m->w + m->tensors[tr_lt(l, k)].off;
            dW[k] = G + m->tensors[tr_lt(l, k)].off;
        }
        /* feed-forward: x = x1 + h Wd^T */
        const float *dy = dx;
        if (s->drop && m->dropout > 0.0f) { /* the same mask on the way back */
            memcpy(s->dx2, dx, (size_t)T * (size_t)E * sizeof *dx);
            tr_dropout(m, s, s->dx2, l, 1);
            dy = s->dx2;
        }
        tr_mm_back(s->dg, 0.0f, dW[TRAIN_DOWN], dy, a->h, W[TRAIN_DOWN], T, F, E); /* dg = dh */
        for (int64_t i = 0; i < (int64_t)T * F; i++) {
            const float g = a->g[i], sg = tr_sigmoid(g), dh = s->dg[i];
            s->du[i] = dh * g * sg;
            s->dg[i] = dh * a->u[i] * sg * (1.0f + g * (1.0f - sg));
        }
        tr_mm_back(s->dxn, 0.0f, dW[TRAIN_GATE], s->dg, a->xn2, W[TRAIN_GATE], T, E, F);
        tr_mm_back(s->dxn, 1.0f, dW[TRAIN_UP], s->du, a->xn2, W[TRAIN_UP], T, E, F);
        for (int32_t t = 0; t < T; t++)
            tr_rmsnorm_back(dx + t * E, true, dW[TRAIN_FFN_NORM], s->dxn + t * E, a->x1 + t * E,
                            W[TRAIN_FFN_NORM], a->r2[t], E);
        /* dx now holds d(x1). attention: x1 = xin + att Wo^T */
        if (s->drop && m->dropout > 0.0f) {
            memcpy(s->dx2, dx, (size_t)T * (size_t)E * sizeof *dx);
            tr_dropout(m, s, s->dx2, l, 0);
        }
        tr_mm_back(s->datt, 0.0f, dW[TRAIN_WO], dy, a->att, W[TRAIN_WO], T, Q, E);
        memset(s->dk, 0, (size_t)T * (size_t)KV * sizeof *s->dk);
        memset(s->dv, 0, (size_t)T * (size_t)KV * sizeof *s->dv);
        for (int32_t i = 0; i < s->n_seg; i++) {
            const int32_t t0 = s->seg[i], n = s->seg[i + 1] - t0;
            for (int32_t h = 0; h < c->n_head; h++) {
                const int32_t g = h / group;
                const float *P = tr_p_block(s, a->p, h, i);
                float *dP = s->dp;
                float *dout = s->datt + t0 * Q + h * hd;
                /* dP = dout V^T; dV += P^T dout */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, hd, 1.0f, dout, (int)Q,
                            a->v + t0 * KV + g * hd, (int)KV, 0.0f, dP, n);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, hd, n, 1.0f, P, n, dout,
                            (int)Q, 1.0f, s->dv + t0 * KV + g * hd, (int)KV);
                /* softmax backward: dS = P (dP − Σ P dP), zero above the diagonal */
                for (int32_t t = 0; t < n; t++) {
                    const float *pr = P + (size_t)t * (size_t)n;
                    float *dr = dP + (size_t)t * (size_t)n;
                    double dot = 0.0;
                    for (int32_t p = 0; p <= t; p++) dot += (double)(pr[p] * dr[p]);
                    const float d = (float)dot;
                    for (int32_t p = 0; p <= t; p++) dr[p] = pr[p] * (dr[p] - d);
                    for (int32_t p = t + 1; p < n; p++) dr[p] = 0.0f;
                }
                /* S = scale q k^T: dq = scale dS k; dk += scale dS^T q */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, n, scale, dP, n,
                            a->k + t0 * KV + g * hd, (int)KV, 0.0f, s->dq + t0 * Q + h * hd, (int)Q);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, hd, n, scale, dP, n,
                            a->q + t0 * Q + h * hd, (int)Q, 1.0f, s->dk + t0 * KV + g * hd, (int)KV);
            }
        }
        for (int32_t t = 0; t < T; t++) {
            const float *cs = m->rope + (size_t)s->pos[t] * (size_t)hd;
            tr_rope(s->dq + t * Q, c->n_head, hd, cs, true);
            tr_rope(s->dk + t * KV, c->n_head_kv, hd, cs, true);
        }
        tr_mm_back(s->dxn, 0.0f, dW[TRAIN_WQ], s->dq, a->xn1, W[TRAIN_WQ], T, E, Q);
        tr_mm_back(s->dxn, 1.0f, dW[TRAIN_WK], s->dk, a->xn1, W[TRAIN_WK], T, E, KV);
        tr_mm_back(s->dxn, 1.0f, dW[TRAIN_WV], s->dv, a->xn1, W[TRAIN_WV], T, E, KV);
        for (int32_t t = 0; t < T; t++)
            tr_rmsnorm_back(dx + t * E, true, dW[TRAIN_ATTN_NORM], s->dxn + t * E, a->xin + t * E,
                            W[TRAIN_ATTN_NORM], a->r1[t], E);
    }
    float *gemb = G + m->tensors[0].off;
    for (int32_t t = 0; t < T; t++) {
        float *row = gemb + (size_t)tok[t] * (size_t)E;
        for (int64_t i = 0; i < E; i++) row[i] += dx[t * E + i];
    }
}

/* Forward, loss over the scored targets and (when scale > 0) backward for the pack in s: the
 * target of position t is token t + 1 of the same sequence when its mask is set. Each scored
 * target's NLL gradient is multiplied by scale (1 / scored tokens of the batch). Returns the
 * summed NLL. */
static double tr_pack_run(nt_train_model *m, train_slot *s, float scale)
{
    const train_cfg *c = &m->c;
    const int64_t E = c->n_embd, V = c->n_vocab;
    const int32_t T = s->n_tok;
    tr_forward(m, s);

    int32_t *rows = s->rows, M = 0;
    for (int32_t i = 0; i < s->n_seg; i++)
        for (int32_t t = s->seg[i]; t + 1 < s->seg[i + 1]; t++)
            if (s->mask[t + 1] == 1) rows[M++] = t;
    if (M == 0) return 0.0;
    for (int32_t j = 0; j < M; j++)
        memcpy(s->xsel + j * E, s->xnf + (int64_t)rows[j] * E, (size_t)E * sizeof(float));
    int out_i;
    const float *out = tr_out_matrix(m, &out_i);
    tr_mm(s->logits, s->xsel, out, M, E, V);

    double nll = 0.0;
    for (int32_t j = 0; j < M; j++) {
        float *lg = s->logits + j * V;
        const int32_t y = s->tok[rows[j] + 1];
        float max = lg[0];
        for (int64_t i = 1; i < V; i++)
            if (lg[i] > max) max = lg[i];
        double sum = 0.0;
        for (int64_t i = 0; i < V; i++) sum += expf(lg[i] - max);
        nll += log(sum) - (double)(lg[y] - max);
        if (scale > 0.0f) {
            const float inv = (float)(1.0 / sum);
            for (int64_t i = 0; i < V; i++) lg[i] = expf(lg[i] - max) * inv * scale;
            lg[y] -= scale;
        }
    }
    s->n_scored += M;
    if (scale <= 0.0f) return nll;

    /* logits = xsel Out^T: dOut += dlogits^T xsel; dxsel = dlogits Out (into xsel's rows of
     * dxn, the others zero). */
    float *dsel = s->dx2;
    tr_mm_back(dsel, 0.0f, s->grad + m->tensors[out_i].off, s->logits, s->xsel, out, M, E, V);
    memset(s->dxn, 0, (size_t)T * (size_t)E * sizeof(float));
    for (int32_t j = 0; j < M; j++)
        memcpy(s->dxn + (int64_t)rows[j] * E, dsel + j * E, (size_t)E * sizeof(float));
    tr_backward(m, s);
    return nll;
}

/* Appends sequence q to the pack in s (the caller checked that it fits). With question_drop,
 * each token of the question's text (mask 2) is left out with that probability, decided by a
 * hash of (seed, step, sequence, position) like the dropout masks: the model learns to answer
 * from whatever words of the question remain, which helps with phrasings it never saw. */
static void tr_pack_add(const nt_train_model *m, train_slot *s, const train_seq *q,
                        size_t data_index, float question_drop)
{
    if (s->n_seg == 0) s->seg[0] = 0;
    const uint64_t limit = (uint64_t)((double)question_drop * 4294967296.0);
    const uint64_t base = (m->seed * 0xbf58476d1ce4e5b9ull) ^ ((uint64_t)m->step << 40) ^
                          ((uint64_t)data_index << 13);
    int32_t o = s->n_tok, p = 0;
    for (int32_t t = 0; t < q->n; t++) {
        if (q->mask[t] == 2 && limit) {
            uint64_t h = base ^ (uint64_t)t;
            if ((tr_mix(&h) & 0xffffffffu) < limit) continue;
        }
        s->tok[o] = q->tok[t];
        s->mask[o] = q->mask[t];
        s->pos[o] = p++;
        s->salt[o] = ((uint64_t)data_index << 16) | (uint64_t)t; /* t < n_ctx <= 8192 */
        o++;
    }
    s->n_tok = o;
    s->seg[++s->n_seg] = s->n_tok;
}

/* --------------------------------------------------------------- batch gradient ----- */

typedef struct tr_job {
    nt_train_model *m;
    const nt_train_data *d;
    const size_t *idx;
    size_t n;
    float scale;
} tr_job;

static void tr_slot_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const tr_job *j = ctx;
    train_slot *s = &j->m->slots[task];
    s->loss = 0.0;
    s->n_scored = 0;
    s->n_tokens = 0;
    if (j->scale > 0.0f) memset(s->grad, 0, j->m->n_params * sizeof *s->grad);
    s->n_seg = s->n_tok = 0;
    s->drop = j->m->dropout > 0.0f;
    for (size_t i = (size_t)task; i < j->n; i += (size_t)j->m->n_slots) {
        const train_seq *q = &j->d->v[j->idx[i]];
        if (s->n_tok + q->n > j->m->pack_len) {
            s->loss += tr_pack_run(j->m, s, j->scale);
            s->n_seg = s->n_tok = 0;
        }
        tr_pack_add(j->m, s, q, j->idx[i], j->m->question_drop);
        s->n_tokens += q->n;
    }
    if (s->n_tok > 0) s->loss += tr_pack_run(j->m, s, j->scale);
}

typedef struct tr_sum_job {
    nt_train_model *m;
} tr_sum_job;

#define TR_SUM_CHUNK 65536

/* m->grad = Σ slots' gradients, in slot order, in chunks spread over the pool. */
static void tr_sum_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    nt_train_model *m = ((tr_sum_job *)ctx)->m;
    const size_t i0 = (size_t)task * TR_SUM_CHUNK;
    const size_t i1 = i0 + TR_SUM_CHUNK < m->n_params ? i0 + TR_SUM_CHUNK : m->n_params;
    memcpy(m->grad + i0, m->slots[0].grad + i0, (i1 - i0) * sizeof(float));
    for (int k = 1; k < m->n_slots; k++) {
        const float *g = m->slots[k].grad;
        for (size_t i = i0; i < i1; i++) m->grad[i] += g[i];
    }
}

static int tr_check_seqs(const nt_train_model *m, const nt_train_data *d, const size_t *idx, size_t n,
                         int64_t *scored, nt_err *err)
{
    *scored = 0;
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= d->n) return nt_err_set(err, NT_ERR_INVALID, "train: sequence %zu does not exist", idx[i]);
        const train_seq *q = &d->v[idx[i]];
        if (q->n < 1 || q->n > m->c.n_ctx)
            return nt_err_set(err, NT_ERR_INVALID, "train: sequence %zu has %d tokens (the context "
                              "is %d)", idx[i], (int)q->n, (int)m->c.n_ctx);
        for (int32_t t = 0; t < q->n; t++) {
            if (q->tok[t] < 0 || q->tok[t] >= m->c.n_vocab)
                return nt_err_set(err, NT_ERR_INVALID, "train: sequence %zu: token %d has id %d, "
                                  "outside the vocabulary (%d)", idx[i], (int)t, (int)q->tok[t],
                                  (int)m->c.n_vocab);
            if (t > 0 && q->mask[t] == 1) (*scored)++;
        }
    }
    return NT_OK;
}

int nt_train_batch_grad(nt_train_model *m, const nt_train_data *d, const size_t *idx, size_t n,
                     bool grads, double *loss, nt_err *err)
{
    int64_t scored;
    int rc = tr_check_seqs(m, d, idx, n, &scored, err);
    if (rc) return rc;
    tr_job j = {m, d, idx, n, grads && scored > 0 ? (float)(1.0 / (double)scored) : 0.0f};
    nt_pool_run(m->pool, m->n_slots, tr_slot_task, &j);
    double sum = 0.0;
    for (int k = 0; k < m->n_slots; k++) sum += m->slots[k].loss;
    *loss = scored > 0 ? sum / (double)scored : 0.0;
    if (grads) {
        if (scored > 0) {
            tr_sum_job sj = {m};
            nt_pool_run(m->pool, (int64_t)((m->n_params + TR_SUM_CHUNK - 1) / TR_SUM_CHUNK), tr_sum_task, &sj);
        } else {
            memset(m->grad, 0, m->n_params * sizeof *m->grad);
        }
    }
    return NT_OK;
}

int nt_train_logits(nt_train_model *m, const int32_t *tok, int32_t n, float *logits, nt_err *err)
{
    if (n < 1 || n > m->c.n_ctx)
        return nt_err_set(err, NT_ERR_INVALID, "nt_train_logits: %d tokens (context %d)", (int)n, (int)m->c.n_ctx);
    for (int32_t t = 0; t < n; t++)
        if (tok[t] < 0 || tok[t] >= m->c.n_vocab)
            return nt_err_set(err, NT_ERR_INVALID, "nt_train_logits: token %d out of range", (int)tok[t]);
    train_slot *s = &m->slots[0];
    s->n_seg = s->n_tok = 0;
    uint8_t *mask = calloc((size_t)n, 1);
    if (!mask) return nt_err_set(err, NT_ERR_NOMEM, "nt_train_logits: out of memory");
    const train_seq q = {(int32_t *)tok, mask, n};
    tr_pack_add(m, s, &q, 0, 0.0f);
    s->drop = false;
    free(mask);
    tr_forward(m, s);
    tr_mm(logits, s->xnf, tr_out_matrix(m, NULL), n, m->c.n_embd, m->c.n_vocab);
    return NT_OK;
}

/* ----------------------------------------------------------------- construction ----- */

static int tr_check_cfg(const train_cfg *c, nt_err *err)
{
    if (c->n_vocab < 4 || c->n_vocab > (1 << 20) || c->n_embd < 2 || c->n_embd > 8192 ||
        c->n_layer < 1 || c->n_layer > 256 || c->n_head < 1 || c->n_head_kv < 1 ||
        c->n_ff < 1 || c->n_ff > 65536 || c->n_ctx < 2 || c->n_ctx > 8192)
        return nt_err_set(err, NT_ERR_INVALID, "train: sizes out of range (vocab %d, dim %d, "
                          "layers %d, heads %d/%d, ff %d, ctx %d)", (int)c->n_vocab, (int)c->n_embd,
                          (int)c->n_layer, (int)c->n_head, (int)c->n_head_kv, (int)c->n_ff, (int)c->n_ctx);
    if (c->n_embd % c->n_head != 0 || c->head_dim % 2 != 0)
        return nt_err_set(err, NT_ERR_INVALID, "train: dim %d must split into %d heads of an even size",
                          (int)c->n_embd, (int)c->n_head);
    if (c->n_head % c->n_head_kv != 0)
        return nt_err_set(err, NT_ERR_INVALID, "train: %d heads are not a multiple of %d KV heads",
                          (int)c->n_head, (int)c->n_head_kv);
    if (!(c->norm_eps > 0.0f && c->norm_eps < 1.0f) || !(c->rope_base > 1.0f))
        return nt_err_set(err, NT_ERR_INVALID, "train: bad norm epsilon or rope base");
    return NT_OK;
}

/* A vocabulary-only GGUF in a temporary file, opened and unlinked at once (the mapping stays
 * valid): the engine's own tokenizer then encodes the training data. */
static int tr_vocab_gguf(nt_train_model *m, const nt_train_vocab *v, nt_err *err)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/natter-vocab-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return nt_err_set(err, NT_ERR_IO, "%s: %s", path, strerror(errno));
    close(fd);
    nt_gguf_writer *w = nt_gguf_writer_init();
    int rc = w ? nt_train_vocab_to_gguf(v, w) : NT_ERR_NOMEM;
    if (rc) rc = nt_err_set(err, rc, "train: cannot build the vocabulary's metadata");
    else rc = nt_gguf_writer_write(w, path, err);
    nt_gguf_writer_free(w);
    if (!rc) rc = nt_gguf_open(&m->src, path, err);
    unlink(path);
    if (!rc) rc = nt_tokenizer_load(&m->tok, m->src, err);
    return rc;
}

int nt_train_model_new(nt_train_model **out, const nt_train_params *p, const nt_train_vocab *v, nt_err *err)
{
    *out = NULL;
    nt_train_model *m = calloc(1, sizeof *m);
    if (!m) return nt_err_set(err, NT_ERR_NOMEM, "train: out of memory");
    train_cfg *c = &m->c;
    *c = (train_cfg){.n_vocab = v->n, .n_embd = p->n_embd, .n_layer = p->n_layer,
                     .n_head = p->n_head, .n_head_kv = p->n_head_kv ? p->n_head_kv : p->n_head,
                     .n_ff = p->n_ff, .n_ctx = p->n_ctx, .norm_eps = p->norm_eps,
                     .rope_base = p->rope_base, .tied = true};
    c->head_dim = c->n_head > 0 ? c->n_embd / c->n_head : 0;
    c->q_dim = c->n_head * c->head_dim;
    c->kv_dim = c->n_head_kv * c->head_dim;
    m->seed = p->seed;
    int rc;
    if ((rc = tr_check_cfg(c, err))) goto fail;
    if ((rc = tr_build(m, p->n_threads, err))) goto fail;
    if ((rc = tr_vocab_gguf(m, v, err))) goto fail;
    m->name = strdup("natter");
    if (!m->name) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "train: out of memory");
        goto fail;
    }

    /* Matrices ~ N(0, std²); the two that write into the residual stream (attn_output,
     * ffn_down) scaled by 1/sqrt(2 × layers) (GPT-2's rule); norm weights 1. */
    uint64_t rng = p->seed ^ 0x6e61747465727472ull;
    for (int i = 0; i < m->n_tensors; i++) {
        train_tensor *t = &m->tensors[i];
        float *w = m->w + t->off;
        if (t->n_dims == 1) {
            for (size_t k = 0; k < t->n; k++) w[k] = 1.0f;
            continue;
        }
        float std = p->init_std;
        if (strstr(t->name, "attn_output") || strstr(t->name, "ffn_down"))
            std /= sqrtf(2.0f * (float)c->n_layer);
        for (size_t k = 0; k < t->n; k++) w[k] = std * tr_normal(&rng);
    }
    *out = m;
    return NT_OK;
fail:
    nt_train_model_free(m);
    return rc;
}

/* Reads tensor t of the table from g (F32, F16 or BF16) into the parameter array. */
static int tr_load_tensor(nt_train_model *m, const train_tensor *t, nt_err *err)
{
    const char *path = nt_gguf_path(m->src);
    const nt_gguf_tensor *gt = nt_gguf_find_tensor(m->src, t->name);
    if (!gt) return nt_err_set(err, NT_ERR_FORMAT, "%s: tensor '%s' is missing", path, t->name);
    if (gt->ne[0] != t->ne[0] || gt->ne[1] != t->ne[1] || gt->ne[2] != 1 || gt->ne[3] != 1)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: tensor '%s' has shape [%" PRId64 ", %" PRId64
                          "], expected [%" PRId64 ", %" PRId64 "]", path, t->name, gt->ne[0],
                          gt->ne[1], t->ne[0], t->ne[1]);
    if (gt->type != NT_TYPE_F32 && gt->type != NT_TYPE_F16 && gt->type != NT_TYPE_BF16)
        return nt_err_set(err, NT_ERR_UNSUPPORTED, "%s: tensor '%s' is %s; natter trains from F32, "
                          "F16 or BF16 weights only", path, t->name,
                          nt_type_name(gt->type) ? nt_type_name(gt->type) : "of an unknown type");
    const size_t rb = nt_type_row_bytes(gt->type, gt->ne[0]);
    if (rb == 0 || gt->nbytes < rb * (size_t)gt->ne[1])
        return nt_err_set(err, NT_ERR_FORMAT, "%s: tensor '%s' is too small for its shape", path, t->name);
    const uint8_t *src = gt->data;
    for (int64_t r = 0; r < gt->ne[1]; r++)
        nt_quant_dequant_row(gt->type, src + (size_t)r * rb, m->w + t->off + (size_t)r * (size_t)t->ne[0], t->ne[0]);
    return NT_OK;
}

static int tr_get_u32(const nt_gguf *g, const char *key, bool required, uint32_t def, int32_t *out, nt_err *err)
{
    uint32_t v = def;
    int rc = nt_gguf_get_u32(g, key, &v, err);
    if (rc < 0) return rc;
    if (rc == 1 && required) return nt_err_set(err, NT_ERR_FORMAT, "%s: missing key '%s'", nt_gguf_path(g), key);
    if (v > (1u << 24)) return nt_err_set(err, NT_ERR_FORMAT, "%s: %s = %u is out of range", nt_gguf_path(g), key, v);
    *out = (int32_t)v;
    return NT_OK;
}

int nt_train_model_load(nt_train_model **out, const char *path, const nt_train_params *p, nt_err *err)
{
    *out = NULL;
    nt_train_model *m = calloc(1, sizeof *m);
    if (!m) return nt_err_set(err, NT_ERR_NOMEM, "train: out of memory");
    train_cfg *c = &m->c;
    int rc;
    if ((rc = nt_gguf_open(&m->src, path, err))) goto fail;
    nt_gguf_str arch = {0};
    rc = nt_gguf_get_str(m->src, "general.architecture", &arch, err);
    if (rc < 0) goto fail;
    if (rc == 1 || arch.n != 5 || memcmp(arch.p, "llama", 5) != 0) {
        rc = nt_err_set(err, NT_ERR_UNSUPPORTED, "%s: natter trains the llama architecture only "
                        "(general.architecture is '%.*s')", path, (int)(arch.n > 40 ? 40 : arch.n),
                        arch.p ? arch.p : "");
        goto fail;
    }
    int32_t ctx, rot;
    if ((rc = tr_get_u32(m->src, "llama.context_length", true, 0, &ctx, err)) ||
        (rc = tr_get_u32(m->src, "llama.embedding_length", true, 0, &c->n_embd, err)) ||
        (rc = tr_get_u32(m->src, "llama.block_count", true, 0, &c->n_layer, err)) ||
        (rc = tr_get_u32(m->src, "llama.feed_forward_length", true, 0, &c->n_ff, err)) ||
        (rc = tr_get_u32(m->src, "llama.attention.head_count", true, 0, &c->n_head, err)) ||
        (rc = tr_get_u32(m->src, "llama.attention.head_count_kv", false, (uint32_t)c->n_head, &c->n_head_kv, err)))
        goto fail;
    c->head_dim = c->n_head > 0 ? c->n_embd / c->n_head : 0;
    if ((rc = tr_get_u32(m->src, "llama.rope.dimension_count", false, (uint32_t)c->head_dim, &rot, err))) goto fail;
    uint32_t klen = (uint32_t)c->head_dim;
    if ((rc = nt_gguf_get_u32(m->src, "llama.attention.key_length", &klen, err)) < 0) goto fail;
    if (rot != c->head_dim || klen != (uint32_t)c->head_dim ||
        nt_gguf_find_key(m->src, "llama.rope.scaling.type") >= 0 ||
        nt_gguf_find_key(m->src, "llama.rope.scaling.factor") >= 0 ||
        nt_gguf_find_tensor(m->src, "rope_freqs.weight") || nt_gguf_find_tensor(m->src, "blk.0.attn_q.bias")) {
        rc = nt_err_set(err, NT_ERR_UNSUPPORTED, "%s: partial rope, rope scaling, frequency factors "
                        "or biases: natter cannot train this model", path);
        goto fail;
    }
    c->norm_eps = 1e-5f;
    c->rope_base = 10000.0f;
    if ((rc = nt_gguf_get_f32(m->src, "llama.attention.layer_norm_rms_epsilon", &c->norm_eps, err)) < 0 ||
        (rc = nt_gguf_get_f32(m->src, "llama.rope.freq_base", &c->rope_base, err)) < 0)
        goto fail;
    /* Positions come from RoPE (no scaling, checked above), so the context may also grow past
     * the trained one: the fine-tuning then teaches the new positions (natter train --init
     * --ctx N; the default model's open-book stage does). */
    c->n_ctx = p->n_ctx > 0 ? p->n_ctx : ctx;
    c->tied = nt_gguf_find_tensor(m->src, "output.weight") == NULL;
    c->q_dim = c->n_head * c->head_dim;
    c->kv_dim = c->n_head_kv * c->head_dim;
    const nt_gguf_tensor *te = nt_gguf_find_tensor(m->src, "token_embd.weight");
    if (!te) {
        rc = nt_err_set(err, NT_ERR_FORMAT, "%s: tensor 'token_embd.weight' is missing", path);
        goto fail;
    }
    c->n_vocab = te->ne[1] > 0 && te->ne[1] <= (1 << 20) ? (int32_t)te->ne[1] : 0;
    if ((rc = tr_check_cfg(c, err))) goto fail;
    if ((rc = nt_tokenizer_load(&m->tok, m->src, err))) goto fail;
    if (nt_tokenizer_n_vocab(m->tok) != c->n_vocab) {
        rc = nt_err_set(err, NT_ERR_FORMAT, "%s: the vocabulary has %d tokens but the embedding %d rows",
                        path, (int)nt_tokenizer_n_vocab(m->tok), (int)c->n_vocab);
        goto fail;
    }
    m->seed = p->seed;
    if ((rc = tr_build(m, p->n_threads, err))) goto fail;
    for (int i = 0; i < m->n_tensors; i++)
        if ((rc = tr_load_tensor(m, &m->tensors[i], err))) goto fail;
    nt_gguf_str name = {0};
    rc = nt_gguf_get_str(m->src, "general.name", &name, NULL);
    m->name = rc == NT_OK && name.n ? strndup(name.p, name.n) : strdup("natter");
    if (!m->name) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "train: out of memory");
        goto fail;
    }
    /* A fine-tune starts its own step count; --resume reads it from the state file. */
    *out = m;
    return NT_OK;
fail:
    nt_train_model_free(m);
    return rc;
}

/* ------------------------------------------------------------------- checkpoints ----- */

/* Copies key i of g to w (scalars, strings and arrays). */
static int tr_copy_kv(const nt_gguf *g, int64_t i, nt_gguf_writer *w)
{
    const char *key = nt_gguf_kv_key(g, i);
    const enum nt_gguf_vtype t = nt_gguf_kv_type(g, i);
    if (t == NT_GGUF_STR) {
        nt_gguf_str s;
        if (nt_gguf_get_str(g, key, &s, NULL) != NT_OK) return NT_ERR_FORMAT;
        char *z = strndup(s.p, s.n);
        if (!z) return NT_ERR_NOMEM;
        int rc = nt_gguf_writer_set_str(w, key, z);
        free(z);
        return rc;
    }
    if (t == NT_GGUF_ARR) {
        const enum nt_gguf_vtype et = nt_gguf_kv_arr_type(g, i);
        const uint64_t n = nt_gguf_kv_arr_n(g, i);
        if (et == NT_GGUF_STR) {
            char **v = calloc(n ? n : 1, sizeof *v);
            int rc = v ? NT_OK : NT_ERR_NOMEM;
            for (uint64_t k = 0; k < n && !rc; k++) {
                nt_gguf_str s = nt_gguf_arr_str(g, i, k);
                v[k] = strndup(s.p ? s.p : "", s.n);
                if (!v[k]) rc = NT_ERR_NOMEM;
            }
            if (!rc) rc = nt_gguf_writer_set_arr_str(w, key, (const char *const *)v, n);
            for (uint64_t k = 0; v && k < n; k++) free(v[k]);
            free(v);
            return rc;
        }
        enum nt_gguf_vtype at;
        uint64_t an;
        const void *data;
        if (nt_gguf_get_arr(g, key, &at, &an, &data, NULL) != NT_OK) return NT_ERR_FORMAT;
        return nt_gguf_writer_set_arr(w, key, at, data, an);
    }
    /* Scalars: read through the widest getter of their kind, written back with their type. */
    unsigned char buf[8] = {0};
    const size_t sz = nt_gguf_vtype_size(t);
    if (sz == 0) return NT_ERR_FORMAT;
    if (t == NT_GGUF_F32 || t == NT_GGUF_F64) {
        float f;
        if (nt_gguf_get_f32(g, key, &f, NULL) != NT_OK) return NT_ERR_FORMAT;
        if (t == NT_GGUF_F32) memcpy(buf, &f, 4);
        else {
            double d = f;
            memcpy(buf, &d, 8);
        }
    } else if (t == NT_GGUF_BOOL) {
        bool b;
        if (nt_gguf_get_bool(g, key, &b, NULL) != NT_OK) return NT_ERR_FORMAT;
        buf[0] = b;
    } else {
        int64_t v;
        if (nt_gguf_get_i64(g, key, &v, NULL) != NT_OK) return NT_OK; /* a u64 above INT64_MAX: dropped */
        memcpy(buf, &v, sz); /* little-endian: the low bytes are the narrower value */
    }
    return nt_gguf_writer_set_scalar(w, key, t, buf);
}

static bool tr_key_is_ours(const char *k)
{
    return strncmp(k, "llama.", 6) == 0 || strncmp(k, "natter.train.", 13) == 0 ||
           strcmp(k, "general.architecture") == 0 || strcmp(k, "general.name") == 0 ||
           strcmp(k, "general.alignment") == 0 || strcmp(k, "general.file_type") == 0;
}

/* path + suffix, malloc'd (NULL when out of memory). */
static char *tr_path(const char *path, const char *suffix)
{
    size_t a = strlen(path), b = strlen(suffix);
    char *s = malloc(a + b + 1);
    if (s) {
        memcpy(s, path, a);
        memcpy(s + a, suffix, b + 1);
    }
    return s;
}

static int tr_write_state(const nt_train_model *m, const char *path, nt_err *err)
{
    char *tmp = tr_path(path, ".tmp");
    if (!tmp) return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        nt_err_set(err, NT_ERR_IO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return NT_ERR_IO;
    }
    const uint64_t n = m->n_params, seed = m->seed;
    const int64_t step = m->step;
    bool ok = fwrite(TRAIN_STATE_MAGIC, 8, 1, f) == 1 && fwrite(&n, 8, 1, f) == 1 &&
              fwrite(&step, 8, 1, f) == 1 && fwrite(&seed, 8, 1, f) == 1 &&
              fwrite(m->w, sizeof(float), n, f) == n && fwrite(m->m, sizeof(float), n, f) == n &&
              fwrite(m->v, sizeof(float), n, f) == n;
    ok = (fflush(f) == 0) && ok;
    ok = (fsync(fileno(f)) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return nt_err_set(err, NT_ERR_IO, "%s: %s", path, strerror(e));
    }
    free(tmp);
    return NT_OK;
}

int nt_train_model_save(nt_train_model *m, const char *path, bool f16, nt_err *err)
{
    const train_cfg *c = &m->c;
    uint16_t *half = NULL;
    nt_gguf_writer *w = nt_gguf_writer_init();
    int rc = w ? NT_OK : NT_ERR_NOMEM;
#define SET(call) do { if (!rc) rc = (call); } while (0)
    SET(nt_gguf_writer_set_str(w, "general.architecture", "llama"));
    SET(nt_gguf_writer_set_str(w, "general.name", m->name));
    SET(nt_gguf_writer_set_u32(w, "general.file_type", f16 ? 1 : 0));
    for (int64_t i = 0; !rc && i < nt_gguf_n_kv(m->src); i++)
        if (!tr_key_is_ours(nt_gguf_kv_key(m->src, i))) rc = tr_copy_kv(m->src, i, w);
    SET(nt_gguf_writer_set_u32(w, "llama.context_length", (uint32_t)c->n_ctx));
    SET(nt_gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)c->n_embd));
    SET(nt_gguf_writer_set_u32(w, "llama.block_count", (uint32_t)c->n_layer));
    SET(nt_gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)c->n_ff));
    SET(nt_gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)c->n_head));
    SET(nt_gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_head_kv));
    SET(nt_gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)c->head_dim));
    SET(nt_gguf_writer_set_u32(w, "llama.vocab_size", (uint32_t)c->n_vocab));
    SET(nt_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps));
    SET(nt_gguf_writer_set_f32(w, "llama.rope.freq_base", c->rope_base));
    const uint64_t step = (uint64_t)m->step;
    SET(nt_gguf_writer_set_scalar(w, "natter.train.step", NT_GGUF_U64, &step));
    SET(nt_gguf_writer_set_scalar(w, "natter.train.seed", NT_GGUF_U64, &m->seed));
    if (rc) {
        rc = nt_err_set(err, rc, "%s: cannot build the checkpoint's metadata", path);
        goto out;
    }
    size_t n_half = 0;
    if (f16) {
        for (int i = 0; i < m->n_tensors; i++)
            if (m->tensors[i].n_dims == 2) n_half += m->tensors[i].n;
        half = malloc((n_half ? n_half : 1) * sizeof *half);
        if (!half) {
            rc = nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
    }
    size_t h = 0;
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const train_tensor *t = &m->tensors[i];
        if (f16 && t->n_dims == 2) {
            for (size_t k = 0; k < t->n; k++) half[h + k] = nt_quant_f32_to_f16(m->w[t->off + k]);
            rc = nt_gguf_writer_add_tensor(w, t->name, NT_TYPE_F16, 2, t->ne, half + h);
            h += t->n;
        } else {
            rc = nt_gguf_writer_add_tensor(w, t->name, NT_TYPE_F32, t->n_dims, t->ne, m->w + t->off);
        }
    }
    if (rc) {
        rc = nt_err_set(err, rc, "%s: cannot add the tensors", path);
        goto out;
    }
    if ((rc = nt_gguf_writer_write(w, path, err))) goto out;
    char *spath = tr_path(path, ".state");
    rc = spath ? tr_write_state(m, spath, err) : nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
    free(spath);
out:
#undef SET
    free(half);
    nt_gguf_writer_free(w);
    return rc;
}

int nt_train_model_resume(nt_train_model *m, const char *path, nt_err *err)
{
    char *spath = tr_path(path, ".state");
    if (!spath) return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
    nt_err oe;
    int fd = nt_open_regular(spath, NULL, &oe);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        nt_err_set(err, NT_ERR_IO, "%s: %s", spath, fd < 0 ? oe.msg : strerror(errno));
        if (fd >= 0) close(fd);
        free(spath);
        return NT_ERR_IO;
    }
    char magic[8];
    uint64_t n, seed;
    int64_t step;
    int rc = NT_OK;
    if (fread(magic, 8, 1, f) != 1 || memcmp(magic, TRAIN_STATE_MAGIC, 8) != 0 ||
        fread(&n, 8, 1, f) != 1 || fread(&step, 8, 1, f) != 1 || fread(&seed, 8, 1, f) != 1) {
        rc = nt_err_set(err, NT_ERR_FORMAT, "%s: not a natter training state", spath);
    } else if (n != m->n_params) {
        rc = nt_err_set(err, NT_ERR_FORMAT, "%s: holds %" PRIu64 " parameters, the model has %zu",
                        spath, n, m->n_params);
    } else if (step < 0 || step > INT32_MAX) {
        rc = nt_err_set(err, NT_ERR_FORMAT, "%s: step %" PRId64 " is out of range", spath, step);
    } else if (fread(m->w, sizeof(float), n, f) != n || fread(m->m, sizeof(float), n, f) != n ||
               fread(m->v, sizeof(float), n, f) != n) {
        rc = nt_err_set(err, NT_ERR_FORMAT, "%s: truncated", spath);
    } else {
        m->step = (int32_t)step;
        m->seed = seed;
    }
    fclose(f);
    free(spath);
    return rc;
}

/* ----------------------------------------------------------------- the training loop -- */

static double tr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Learning rate at step s (0-based): linear warm-up to lr, then cosine decay to lr_min. */
static float tr_lr(const nt_train_params *p, int32_t s)
{
    if (p->warmup > 0 && s < p->warmup) return p->lr * (float)(s + 1) / (float)p->warmup;
    const int32_t span = p->steps - p->warmup;
    if (span <= 0) return p->lr;
    double frac = (double)(s - p->warmup) / (double)span;
    if (frac > 1.0) frac = 1.0;
    return p->lr_min + (p->lr - p->lr_min) * (float)(0.5 * (1.0 + cos(3.141592653589793 * frac)));
}

/* The batch of step s: sequences taken in the order of a permutation of the data drawn per
 * epoch from the seed, so any step's batch is known without replaying earlier ones. */
static void tr_batch_of(const nt_train_data *d, uint64_t seed, int32_t s, int32_t batch,
                        size_t *perm, int64_t *perm_epoch, size_t *idx)
{
    const size_t n = d->n;
    for (int32_t b = 0; b < batch; b++) {
        const uint64_t k = (uint64_t)s * (uint64_t)batch + (uint64_t)b;
        const int64_t epoch = (int64_t)(k / n);
        if (epoch != *perm_epoch) {
            uint64_t rng = seed * 0x9e3779b97f4a7c15ull + (uint64_t)epoch + 1;
            for (size_t i = 0; i < n; i++) perm[i] = i;
            for (size_t i = n - 1; i > 0; i--) {
                size_t j = (size_t)(tr_mix(&rng) % (i + 1));
                size_t t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            *perm_epoch = epoch;
        }
        idx[b] = perm[k % n];
    }
}

/* Clipping and one AdamW step with rate lr; returns the gradient norm before clipping. */
static float tr_adamw(nt_train_model *m, const nt_train_params *p, float lr)
{
    double ss = 0.0;
    for (size_t i = 0; i < m->n_params; i++) ss += (double)m->grad[i] * (double)m->grad[i];
    const float norm = (float)sqrt(ss);
    const float gs = p->clip > 0.0f && norm > p->clip ? p->clip / norm : 1.0f;
    m->step++;
    const float b1 = p->beta1, b2 = p->beta2;
    const float c1 = 1.0f / (1.0f - powf(b1, (float)m->step));
    const float c2 = 1.0f / (1.0f - powf(b2, (float)m->step));
    for (int i = 0; i < m->n_tensors; i++) {
        const train_tensor *t = &m->tensors[i];
        const float wd = t->decay ? p->weight_decay : 0.0f;
        float *w = m->w + t->off, *g = m->grad + t->off, *mm = m->m + t->off, *vv = m->v + t->off;
        for (size_t k = 0; k < t->n; k++) {
            const float gk = g[k] * gs;
            mm[k] = b1 * mm[k] + (1.0f - b1) * gk;
            vv[k] = b2 * vv[k] + (1.0f - b2) * gk * gk;
            const float upd = (mm[k] * c1) / (sqrtf(vv[k] * c2) + p->adam_eps);
            w[k] -= lr * (upd + wd * w[k]);
        }
    }
    return norm;
}

int nt_train_run(nt_train_model *m, const nt_train_data *d, const nt_train_params *p, const char *out_path,
              nt_train_progress_fn fn, void *user, nt_err *err)
{
    if (!d || d->n == 0) return nt_err_set(err, NT_ERR_INVALID, "train: no training data");
    if (p->batch < 1 || p->steps < 0 || !(p->lr > 0.0f) || p->lr_min < 0.0f)
        return nt_err_set(err, NT_ERR_INVALID, "train: bad steps, batch or learning rate");
    size_t *perm = malloc(d->n * sizeof *perm), *idx = malloc((size_t)p->batch * sizeof *idx);
    int rc = NT_OK;
    if (!perm || !idx) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "train: out of memory");
        goto out;
    }
    int64_t perm_epoch = -1, tokens = 0;
    const int32_t first = m->step;
    if (!(p->dropout >= 0.0f && p->dropout < 1.0f)) {
        rc = nt_err_set(err, NT_ERR_INVALID, "train: dropout %g is outside [0, 1)", (double)p->dropout);
        goto out;
    }
    m->dropout = p->dropout;
    if (!(p->question_drop >= 0.0f && p->question_drop < 1.0f)) {
        rc = nt_err_set(err, NT_ERR_INVALID, "train: question drop %g is outside [0, 1)",
                        (double)p->question_drop);
        goto out;
    }
    m->question_drop = p->question_drop;
    if (m->step >= p->steps && out_path) { /* nothing to run: still leave the checkpoint */
        rc = nt_train_model_save(m, out_path, p->f16, err);
        goto out;
    }
    const double t0 = tr_now();
    float avg = 0.0f;
    while (m->step < p->steps) {
        const int32_t s = m->step;
        tr_batch_of(d, m->seed, s, p->batch, perm, &perm_epoch, idx);
        double loss;
        if ((rc = nt_train_batch_grad(m, d, idx, (size_t)p->batch, true, &loss, err))) goto out;
        for (int k = 0; k < m->n_slots; k++) tokens += m->slots[k].n_tokens;
        const float lr = tr_lr(p, s);
        const float norm = tr_adamw(m, p, lr);
        avg = s == first ? (float)loss : 0.9f * avg + 0.1f * (float)loss;

        const bool last = m->step >= p->steps;
        bool save = out_path && (last || (p->save_every > 0 && m->step % p->save_every == 0));
        const double el = tr_now() - t0;
        nt_train_progress pr = {
            .step = m->step, .steps = p->steps, .loss = (float)loss, .loss_avg = avg, .lr = lr,
            .grad_norm = norm, .tok_per_s = el > 0 ? (double)tokens / el : 0.0, .elapsed_s = el,
            .eta_s = el / (double)(m->step - first) * (double)(p->steps - m->step),
        };
        bool go = true;
        if (fn) {
            pr.saved = save;
            go = fn(&pr, user);
        }
        if (!go && out_path) save = true;
        if (save && (rc = nt_train_model_save(m, out_path, p->f16, err))) goto out;
        if (!go) {
            rc = nt_err_set(err, NT_ERR_CANCELLED, "train: stopped at step %d", (int)m->step);
            goto out;
        }
    }
out:
    free(perm);
    free(idx);
    return rc;
}
