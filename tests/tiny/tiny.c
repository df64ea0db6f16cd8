/* The common part of the tiny model generator declared in tiny.h: the tokenizer copied from
 * a repository GGUF, random tensors from the portable PRNG, the Llama-family block writer
 * every architecture file builds on, the file hash, and the table of models. */
#include "tiny.h"
#include "util/rng.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const tiny_entry tiny_models[] = {
    {"llama", tiny_llama},
    {"qwen3", tiny_qwen3},
    {"gemma2", tiny_gemma2},
    {"gemma3", tiny_gemma3},
    {"phi3", tiny_phi3},
    {"phi3-short", tiny_phi3_short},
    {"granite", tiny_granite},
    {"qwen3-yarn", tiny_qwen3_yarn},
    {"qwen3-think", tiny_qwen3_think},
    {"qwen3moe", tiny_qwen3moe},
    {"qwen3moe-mxfp4", tiny_qwen3moe_mxfp4},
    {"mixtral", tiny_mixtral},
    {"smollm3", tiny_smollm3},
    {"olmo2", tiny_olmo2},
    {"olmo2-swa", tiny_olmo2_swa},
};
const int tiny_n_models = (int)(sizeof tiny_models / sizeof tiny_models[0]);

const tiny_entry *tiny_find(const char *name)
{
    for (int i = 0; i < tiny_n_models; i++)
        if (strcmp(tiny_models[i].name, name) == 0) return &tiny_models[i];
    return NULL;
}

/* Records the first failure. */
static void tiny_check(tiny_gen *g, int rc, const char *what)
{
    if (rc != NT_OK && g->rc == NT_OK) {
        g->rc = rc;
        fprintf(stderr, "tiny: %s failed (%d)\n", what, rc);
    }
}

static void *tiny_keep(tiny_gen *g, size_t bytes)
{
    if (g->rc) return NULL;
    if (g->n_bufs == g->cap) {
        int cap = g->cap ? 2 * g->cap : 64;
        void **b = realloc(g->bufs, (size_t)cap * sizeof *b);
        if (!b) {
            tiny_check(g, NT_ERR_NOMEM, "alloc");
            return NULL;
        }
        g->bufs = b;
        g->cap = cap;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        tiny_check(g, NT_ERR_NOMEM, "alloc");
        return NULL;
    }
    g->bufs[g->n_bufs++] = p;
    return p;
}

/* ------------------------------------------------------------------ tokenizer ----- */

/* Copies key i of src (any type natter's reader knows) into the writer. */
static int tiny_copy_kv(tiny_gen *g, const nt_gguf *src, int64_t i, nt_err *err)
{
    const char *key = nt_gguf_kv_key(src, i);
    const enum nt_gguf_vtype t = nt_gguf_kv_type(src, i);
    int rc;
    if (t == NT_GGUF_STR) {
        nt_gguf_str s;
        if ((rc = nt_gguf_get_str(src, key, &s, err))) return rc;
        char *c = strndup(s.p, s.n);
        if (!c) return NT_ERR_NOMEM;
        rc = nt_gguf_writer_set_str(g->w, key, c);
        free(c);
        return rc;
    }
    if (t == NT_GGUF_ARR && nt_gguf_kv_arr_type(src, i) == NT_GGUF_STR) {
        const uint64_t n = nt_gguf_kv_arr_n(src, i);
        char **v = calloc(n ? n : 1, sizeof *v);
        rc = v ? NT_OK : NT_ERR_NOMEM;
        for (uint64_t j = 0; j < n && rc == NT_OK; j++) {
            nt_gguf_str s = nt_gguf_arr_str(src, i, j);
            if (!(v[j] = strndup(s.p, s.n))) rc = NT_ERR_NOMEM;
        }
        if (rc == NT_OK) rc = nt_gguf_writer_set_arr_str(g->w, key, (const char *const *)v, n);
        for (uint64_t j = 0; v && j < n; j++) free(v[j]);
        free(v);
        return rc;
    }
    if (t == NT_GGUF_ARR) {
        enum nt_gguf_vtype et;
        uint64_t n;
        const void *data;
        if ((rc = nt_gguf_get_arr(src, key, &et, &n, &data, err))) return rc;
        return nt_gguf_writer_set_arr(g->w, key, et, data, n);
    }
    if (t == NT_GGUF_F32 || t == NT_GGUF_F64) {
        float f;
        if ((rc = nt_gguf_get_f32(src, key, &f, err))) return rc;
        return nt_gguf_writer_set_f32(g->w, key, f);
    }
    if (t == NT_GGUF_BOOL) {
        bool b;
        if ((rc = nt_gguf_get_bool(src, key, &b, err))) return rc;
        return nt_gguf_writer_set_bool(g->w, key, b);
    }
    int64_t v;
    if ((rc = nt_gguf_get_i64(src, key, &v, err))) return rc;
    if (t == NT_GGUF_U32) return nt_gguf_writer_set_u32(g->w, key, (uint32_t)v);
    if (t == NT_GGUF_I32) return nt_gguf_writer_set_i32(g->w, key, (int32_t)v);
    return nt_gguf_writer_set_u64(g->w, key, (uint64_t)v);
}

/* The per-token arrays with chat->n_controls entries appended: the control tokens' pieces,
 * type 3 (control), score 0. */
static int tiny_append_controls(tiny_gen *g, const nt_gguf *src, int64_t i, const tiny_chat *chat,
                                nt_err *err)
{
    const char *key = nt_gguf_kv_key(src, i);
    const uint64_t n = nt_gguf_kv_arr_n(src, i), m = (uint64_t)chat->n_controls;
    if (nt_gguf_kv_arr_type(src, i) == NT_GGUF_STR) {
        char **v = tiny_keep(g, (size_t)(n + m) * sizeof *v);
        if (!v) return g->rc;
        for (uint64_t j = 0; j < n; j++) {
            nt_gguf_str s = nt_gguf_arr_str(src, i, j);
            if (!(v[j] = tiny_keep(g, s.n + 1))) return g->rc;
            memcpy(v[j], s.p, s.n);
            v[j][s.n] = 0;
        }
        for (uint64_t j = 0; j < m; j++) v[n + j] = (char *)chat->controls[j];
        return nt_gguf_writer_set_arr_str(g->w, key, (const char *const *)v, n + m);
    }
    enum nt_gguf_vtype et;
    uint64_t cnt;
    const void *data;
    int rc = nt_gguf_get_arr(src, key, &et, &cnt, &data, err);
    if (rc) return rc;
    if (et != NT_GGUF_I32 && et != NT_GGUF_F32)
        return nt_err_set(err, NT_ERR_FORMAT, "tiny: %s: unexpected element type", key);
    uint32_t *v = tiny_keep(g, (size_t)(cnt + m) * 4);
    if (!v) return g->rc;
    memcpy(v, data, cnt * 4);
    for (uint64_t j = 0; j < m; j++) {
        if (et == NT_GGUF_I32) ((int32_t *)v)[cnt + j] = 3;
        else ((float *)v)[cnt + j] = 0.0f;
    }
    return nt_gguf_writer_set_arr(g->w, key, et, v, cnt + m);
}

static int tiny_copy_tokenizer(tiny_gen *g, const char *vocab_path, const tiny_chat *chat, nt_err *err)
{
    nt_gguf *src = NULL;
    int rc = nt_gguf_open(&src, vocab_path, err);
    if (rc) return rc;
    for (int64_t i = 0; i < nt_gguf_n_kv(src) && rc == NT_OK; i++) {
        const char *key = nt_gguf_kv_key(src, i);
        if (strncmp(key, "tokenizer.", 10) != 0) continue;
        if (strcmp(key, "tokenizer.ggml.tokens") == 0)
            g->n_vocab = (int64_t)nt_gguf_kv_arr_n(src, i) + (chat ? chat->n_controls : 0);
        if (chat && strcmp(key, "tokenizer.chat_template") == 0)
            rc = nt_gguf_writer_set_str(g->w, key, chat->template_text);
        else if (chat && (strcmp(key, "tokenizer.ggml.tokens") == 0 || strcmp(key, "tokenizer.ggml.token_type") == 0 ||
                          strcmp(key, "tokenizer.ggml.scores") == 0))
            rc = tiny_append_controls(g, src, i, chat, err);
        else
            rc = tiny_copy_kv(g, src, i, err);
    }
    nt_gguf_close(src);
    if (rc == NT_OK && g->n_vocab <= 0)
        rc = nt_err_set(err, NT_ERR_FORMAT, "%s: no tokenizer.ggml.tokens", vocab_path);
    return rc;
}

/* ---------------------------------------------------------------------- model ----- */

int tiny_init(tiny_gen *g, const char *arch, uint64_t seed, const char *vocab_path, nt_err *err)
{
    return tiny_init_chat(g, arch, seed, vocab_path, NULL, err);
}

int tiny_init_chat(tiny_gen *g, const char *arch, uint64_t seed, const char *vocab_path,
                   const tiny_chat *chat, nt_err *err)
{
    memset(g, 0, sizeof *g);
    g->arch = arch;
    g->rng = seed;
    g->w = nt_gguf_writer_init();
    if (!g->w) return g->rc = nt_err_set(err, NT_ERR_NOMEM, "tiny: out of memory");
    char name[64];
    snprintf(name, sizeof name, "tiny-%s", arch);
    tiny_check(g, nt_gguf_writer_set_str(g->w, "general.architecture", arch), "general.architecture");
    tiny_check(g, nt_gguf_writer_set_str(g->w, "general.name", name), "general.name");
    if (g->rc == NT_OK) g->rc = tiny_copy_tokenizer(g, vocab_path, chat, err);
    return g->rc;
}

int tiny_write_vocab(const char *path, const char *vocab_path, nt_err *err)
{
    tiny_gen g;
    int rc = tiny_init(&g, "llama", 0, vocab_path, err);
    if (rc == NT_OK) rc = nt_gguf_writer_write(g.w, path, err);
    tiny_free(&g);
    return rc;
}

void tiny_free(tiny_gen *g)
{
    nt_gguf_writer_free(g->w);
    for (int i = 0; i < g->n_bufs; i++) free(g->bufs[i]);
    free(g->bufs);
    memset(g, 0, sizeof *g);
}

/* "<arch>.<suffix>" into key; false (nothing to do) after an earlier error. */
static bool tiny_key(const tiny_gen *g, const char *suffix, char *key, size_t cap)
{
    snprintf(key, cap, "%s.%s", g->arch, suffix);
    return g->rc == NT_OK;
}

void tiny_u32(tiny_gen *g, const char *suffix, uint32_t v)
{
    char key[160];
    if (tiny_key(g, suffix, key, sizeof key)) tiny_check(g, nt_gguf_writer_set_u32(g->w, key, v), key);
}

void tiny_f32(tiny_gen *g, const char *suffix, float v)
{
    char key[160];
    if (tiny_key(g, suffix, key, sizeof key)) tiny_check(g, nt_gguf_writer_set_f32(g->w, key, v), key);
}

void tiny_str(tiny_gen *g, const char *suffix, const char *v)
{
    char key[160];
    if (tiny_key(g, suffix, key, sizeof key)) tiny_check(g, nt_gguf_writer_set_str(g->w, key, v), key);
}

float *tiny_rand(tiny_gen *g, const char *name, uint32_t n_dims, const int64_t *ne, float scale)
{
    int64_t n = 1;
    for (uint32_t i = 0; i < n_dims; i++) n *= ne[i];
    float *v = tiny_keep(g, (size_t)n * sizeof *v);
    if (!v) return NULL;
    for (int64_t i = 0; i < n; i++) v[i] = scale * rng_uniform(&g->rng);
    tiny_check(g, nt_gguf_writer_add_tensor(g->w, name, NT_TYPE_F32, n_dims, ne, v), name);
    return g->rc ? NULL : v;
}

void tiny_rand_as(tiny_gen *g, const char *name, uint32_t n_dims, const int64_t *ne, float scale,
                  int type)
{
    if (type == NT_TYPE_F32 || type == 0) {
        tiny_rand(g, name, n_dims, ne, scale);
        return;
    }
    int64_t n = 1;
    for (uint32_t i = 0; i < n_dims; i++) n *= ne[i];
    float *v = tiny_keep(g, (size_t)n * sizeof *v);
    size_t bytes = nt_type_row_bytes(type, ne[0]) * (size_t)(n / ne[0]);
    void *q = bytes ? tiny_keep(g, bytes) : NULL;
    if (!v || !q) {
        tiny_check(g, v ? NT_ERR_INVALID : NT_ERR_NOMEM, name);
        return;
    }
    for (int64_t i = 0; i < n; i++) v[i] = scale * rng_uniform(&g->rng);
    if (nt_quantize_rows(type, v, q, n / ne[0], ne[0]) != bytes) tiny_check(g, NT_ERR_INVALID, name);
    tiny_check(g, nt_gguf_writer_add_tensor(g->w, name, type, n_dims, ne, q), name);
}

void tiny_norm(tiny_gen *g, const char *name, int64_t n, float spread)
{
    float *v = tiny_keep(g, (size_t)n * sizeof *v);
    if (!v) return;
    for (int64_t i = 0; i < n; i++) v[i] = 1.0f + spread * rng_uniform(&g->rng);
    tiny_check(g, nt_gguf_writer_add_tensor(g->w, name, NT_TYPE_F32, 1, &n, v), name);
}

void tiny_output_permuted(tiny_gen *g, int64_t n_embd)
{
    const int64_t V = g->n_vocab;
    float *v = tiny_keep(g, (size_t)(V * n_embd) * sizeof *v);
    int64_t *perm = tiny_keep(g, (size_t)V * sizeof *perm);
    if (!v || !perm || !g->embd) {
        tiny_check(g, NT_ERR_INVALID, "output.weight");
        return;
    }
    /* Fisher-Yates with the same PRNG. */
    for (int64_t i = 0; i < V; i++) perm[i] = i;
    for (int64_t i = V - 1; i > 0; i--) {
        int64_t j = (int64_t)(rng_next(&g->rng) % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    /* Scaled so the favoured token's logit leads by about 8 (not 100): confident, yet the
     * perplexity stays finite and moves with everything the context adds. */
    const float k = 1.0f / 16.0f;
    for (int64_t i = 0; i < V; i++)
        for (int64_t j = 0; j < n_embd; j++) v[i * n_embd + j] = k * g->embd[perm[i] * n_embd + j];
    const int64_t ne[2] = {n_embd, V};
    tiny_check(g, nt_gguf_writer_add_tensor(g->w, "output.weight", NT_TYPE_F32, 2, ne, v), "output.weight");
}

/* Scales: embeddings and norm inputs are about unit size; Q and K are scaled up (scores
 * with a spread of several units, so attention picks positions) and the attention output
 * too, so that attention weighs: without it the tiny llama's perplexity moves by 12%
 * (4060 -> 4612), well beyond the tests' 0.5%. Uniform values in [-a, a) have a standard
 * deviation of a / sqrt(3). */
#define TINY_QK_GAIN 3.0f

void tiny_block_model(tiny_gen *g, const tiny_shape *s)
{
    const uint32_t hd = s->head_dim ? s->head_dim : s->n_embd / s->n_head;
    const int64_t E = s->n_embd, Q = (int64_t)s->n_head * hd, KV = (int64_t)s->n_head_kv * hd;
    const int64_t F = s->n_ff, V = g->n_vocab;
    const float in_e = 1.0f / sqrtf((float)E), in_q = 1.0f / sqrtf((float)Q);
    char name[96];

    tiny_u32(g, "context_length", s->n_ctx);
    tiny_u32(g, "embedding_length", s->n_embd);
    tiny_u32(g, "block_count", s->n_layer);
    tiny_u32(g, "feed_forward_length", s->n_ff);
    tiny_u32(g, "attention.head_count", s->n_head);
    tiny_u32(g, "attention.head_count_kv", s->n_head_kv);
    if (s->head_dim) {
        tiny_u32(g, "attention.key_length", s->head_dim);
        tiny_u32(g, "attention.value_length", s->head_dim);
    }
    tiny_u32(g, "rope.dimension_count", hd);
    tiny_f32(g, "rope.freq_base", s->rope_base);
    tiny_f32(g, "attention.layer_norm_rms_epsilon", 1e-6f);
    tiny_u32(g, "vocab_size", (uint32_t)V);
    if (s->n_expert) {
        tiny_u32(g, "expert_count", s->n_expert);
        tiny_u32(g, "expert_used_count", s->n_expert_used);
        if (s->n_ff_exp) tiny_u32(g, "expert_feed_forward_length", s->n_ff_exp);
    }
    if (s->rope_scaling) {
        tiny_str(g, "rope.scaling.type", s->rope_scaling);
        tiny_f32(g, "rope.scaling.factor", s->rope_factor);
        if (s->rope_attn_factor != 0.0f) tiny_f32(g, "rope.scaling.attn_factor", s->rope_attn_factor);
        if (s->rope_orig_ctx) tiny_u32(g, "rope.scaling.original_context_length", s->rope_orig_ctx);
    }

    const int64_t emb[2] = {E, V};
    g->embd = tiny_rand(g, "token_embd.weight", 2, emb, 1.7f);
    tiny_norm(g, "output_norm.weight", E, 0.1f);
    tiny_output_permuted(g, E);
    for (uint32_t il = 0; il < s->n_layer; il++) {
#define NAME(x) (snprintf(name, sizeof name, "blk.%u." x, il), name)
#define MAT(x, in, out, a) tiny_rand(g, NAME(x), 2, (const int64_t[]){in, out}, a)
        tiny_norm(g, NAME("attn_norm.weight"), E, 0.1f);
        MAT("attn_q.weight", E, Q, TINY_QK_GAIN * 1.7f * in_e);
        MAT("attn_k.weight", E, KV, TINY_QK_GAIN * 1.7f * in_e);
        MAT("attn_v.weight", E, KV, 1.7f * in_e);
        MAT("attn_output.weight", Q, E, 3.0f * in_q);
        if (s->qkv_bias) {
            tiny_rand(g, NAME("attn_q.bias"), 1, &Q, 0.5f);
            tiny_rand(g, NAME("attn_k.bias"), 1, &KV, 0.5f);
            tiny_rand(g, NAME("attn_v.bias"), 1, &KV, 0.5f);
        }
        if (s->qk_norm) {
            /* After the per-head norm each head is unit size: the gain goes into its weight. */
            const int64_t h = hd;
            float *qn = tiny_rand(g, NAME("attn_q_norm.weight"), 1, &h, 0.5f);
            float *kn = tiny_rand(g, NAME("attn_k_norm.weight"), 1, &h, 0.5f);
            for (int64_t i = 0; qn && kn && i < h; i++) {
                qn[i] += TINY_QK_GAIN;
                kn[i] += TINY_QK_GAIN;
            }
        }
        tiny_norm(g, NAME("ffn_norm.weight"), E, 0.1f);
        if (s->n_expert) {
            const int64_t X = s->n_expert, FX = s->n_ff_exp ? s->n_ff_exp : s->n_ff;
            MAT("ffn_gate_inp.weight", E, X, 3.0f * in_e);
            tiny_rand_as(g, NAME("ffn_gate_exps.weight"), 3, (const int64_t[]){E, FX, X}, 1.7f * in_e, s->exps_type);
            tiny_rand_as(g, NAME("ffn_down_exps.weight"), 3, (const int64_t[]){FX, E, X}, 1.7f / sqrtf((float)FX), s->exps_type);
            tiny_rand_as(g, NAME("ffn_up_exps.weight"), 3, (const int64_t[]){E, FX, X}, 1.7f * in_e, s->exps_type);
        } else {
            MAT("ffn_gate.weight", E, F, 1.7f * in_e);
            MAT("ffn_down.weight", F, E, 1.7f / sqrtf((float)F));
            MAT("ffn_up.weight", E, F, 1.7f * in_e);
        }
#undef MAT
#undef NAME
    }
}

int tiny_write_shape(const tiny_shape *s, const char *path, const char *vocab_path, nt_err *err)
{
    tiny_gen g;
    if (tiny_init(&g, s->arch, s->seed, vocab_path, err) == NT_OK) tiny_block_model(&g, s);
    int rc = tiny_write(&g, path, err);
    tiny_free(&g);
    return rc;
}

int tiny_write(tiny_gen *g, const char *path, nt_err *err)
{
    if (g->rc) return g->rc;
    return g->rc = nt_gguf_writer_write(g->w, path, err);
}

int tiny_file_hash(const char *path, char hex[17], nt_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return nt_err_set(err, NT_ERR_IO, "%s: cannot open", path);
    uint64_t h = 0xcbf29ce484222325ull;
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < n; i++) h = (h ^ buf[i]) * 0x100000001b3ull;
    const bool bad = ferror(f);
    fclose(f);
    if (bad) return nt_err_set(err, NT_ERR_IO, "%s: read error", path);
    snprintf(hex, 17, "%016" PRIx64, h);
    return NT_OK;
}
