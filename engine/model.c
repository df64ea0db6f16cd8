/* Loading a Llama-family model (nt_model_load) and the model section of natter.h: reading and
 * checking the hyperparameters, viewing every weight inside the mapped GGUF after checking its
 * presence, type and shape (which ones: the architecture's features, arch.h), the KV cache and the
 * compute pool; then evaluation (nt_model_eval*) and perplexity on top of forward.c.
 *
 * Metadata keys and tensor names are llama.cpp's (src/llama-arch.cpp). Everything in the file
 * is untrusted: sizes are bounded before any product is formed, and every tensor is checked
 * against the hyperparameters before the forward pass may touch it. */
#include "model.h"
#include "gguf.h"
#include "quant.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

/* Bounds on untrusted hyperparameters: far above any model natter targets, low enough that
 * every product of them used for an allocation fits in 63 bits. */
#define MODEL_MAX_EMBD (1 << 16)
#define MODEL_MAX_LAYER 1024
#define MODEL_MAX_HEAD_DIM 1024
#define MODEL_MAX_FF (1 << 20)
#define MODEL_MAX_VOCAB (1 << 22)
#define MODEL_MAX_CTX (1 << 24)
#define MODEL_MAX_THREADS 256
#define MODEL_MAX_EXPERT 1024

const char *nt_kv_type_name(int type)
{
    switch (type) {
    case NT_TYPE_F32: return "f32";
    case NT_TYPE_F16: return "f16";
    case NT_TYPE_Q8_0: return "q8_0";
    default: return NULL;
    }
}

int nt_kv_type_parse(const char *s)
{
    const int types[3] = {NT_TYPE_F32, NT_TYPE_F16, NT_TYPE_Q8_0};
    for (int i = 0; s && i < 3; i++)
        if (!strcasecmp(s, nt_kv_type_name(types[i]))) return types[i];
    return -1;
}

nt_model_params nt_model_default_params(void)
{
    return (nt_model_params){.n_ctx = 0, .n_threads = 0, .kv_type = NT_KV_TYPE_DEFAULT};
}

/* --------------------------------------------------------------- hyperparameters ----- */

/* Reads the u32 at "<arch>.<suffix>" into *out, within [lo, hi]; def when absent and not
 * required. */
static int hp_u32(const nt_model *m, const char *suffix, bool required, uint32_t def, uint32_t lo,
                  uint32_t hi, uint32_t *out, nt_err *err)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", m->info.arch, suffix);
    int rc = nt_gguf_get_u32(m->g, key, out, err);
    if (rc < 0) return rc;
    if (rc == 1) {
        if (required)
            return nt_err_set(err, NT_ERR_FORMAT, "%s: missing key '%s'", nt_gguf_path(m->g), key);
        *out = def;
        return NT_OK;
    }
    if (*out < lo || *out > hi)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s = %" PRIu32 " is out of range (%" PRIu32
                          "..%" PRIu32 ")", nt_gguf_path(m->g), key, *out, lo, hi);
    return NT_OK;
}

static int hp_f32(const nt_model *m, const char *suffix, bool required, float def, float *out,
                  nt_err *err)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", m->info.arch, suffix);
    int rc = nt_gguf_get_f32(m->g, key, out, err);
    if (rc < 0) return rc;
    if (rc == 1) {
        if (required)
            return nt_err_set(err, NT_ERR_FORMAT, "%s: missing key '%s'", nt_gguf_path(m->g), key);
        *out = def;
    }
    return NT_OK;
}

/* The mixture-of-experts keys, as llama.cpp reads them: expert_count and expert_used_count
 * required, one expert's FFN width (default n_ff / n_expert_used, or n_ff for a moe_variant
 * architecture, whose experts llama.cpp always makes n_ff wide), and how router logits
 * become weights: expert_gating_func (1 softmax, 2 sigmoid), expert_weights_norm
 * (renormalise the selected ones; default per architecture), expert_weights_scale. */
static int model_read_moe(nt_model *m, uint32_t ff, nt_err *err)
{
    const char *path = nt_gguf_path(m->g), *a = m->info.arch;
    uint32_t n, used, ff_exp, gating;
    int rc;
    if ((rc = hp_u32(m, "expert_count", true, 0, 1, MODEL_MAX_EXPERT, &n, err)) ||
        (rc = hp_u32(m, "expert_used_count", true, 0, 1, n, &used, err)) ||
        (rc = hp_u32(m, "expert_feed_forward_length", false, m->arch->moe_variant ? ff : ff / used, 1,
                     MODEL_MAX_FF, &ff_exp, err)) ||
        (rc = hp_u32(m, "expert_gating_func", false, 1, 0, UINT32_MAX, &gating, err)) ||
        (rc = hp_f32(m, "expert_weights_scale", false, 0.0f, &m->moe_scale, err)))
        return rc;
    if (gating != 1 && gating != 2)
        return nt_err_set(err, NT_ERR_UNSUPPORTED, "%s: %s.expert_gating_func = %" PRIu32 " is not "
                          "supported (natter runs 1, softmax, and 2, sigmoid)", path, a, gating);
    char key[160];
    snprintf(key, sizeof key, "%s.expert_weights_norm", a);
    m->moe_norm = m->arch->moe_norm;
    if ((rc = nt_gguf_get_bool(m->g, key, &m->moe_norm, err)) < 0) return rc;
    if (!(m->moe_scale >= 0.0f && m->moe_scale < 1e6f))
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s.expert_weights_scale = %g is out of range",
                          path, a, (double)m->moe_scale);
    if (m->moe_scale == 0.0f) m->moe_scale = 1.0f; /* 0: not set */
    m->n_expert = (int32_t)n;
    m->n_expert_used = (int32_t)used;
    m->n_ff_exp = (int32_t)ff_exp;
    m->moe_sigmoid = gating == 2;
    m->info.n_expert = m->n_expert;
    m->info.n_expert_used = m->n_expert_used;
    return NT_OK;
}

/* YaRN as llama.cpp defines it (ggml's rope_yarn, llama_context's attention factor): each
 * rotated pair i mixes the interpolated angle (position × freq_scale) and the original one
 * by a ramp over the pairs, from fully original below corr[0] (fast-rotating pairs, which
 * complete many turns in the original context) to fully interpolated above corr[1]; the
 * boundaries are where a pair turns beta_fast = 32 and beta_slow = 1 times over the original
 * context. cos and sin are scaled by attn_factor × (1 + 0.1 ln factor), computed in the same
 * steps as llama.cpp (whose own attention factor cancels its get_mscale for factor > 1). The
 * file's rope.scaling.yarn_beta_* keys are not read, as llama.cpp's loader does not. */
static void model_rope_yarn(nt_model *m, uint32_t rot, float base, uint32_t orig_ctx)
{
    const float beta_fast = 32.0f, beta_slow = 1.0f, pi = 3.14159265358979323846f;
    const float n_dims = (float)rot, n_orig = (float)orig_ctx;
    const float lo = n_dims * logf(n_orig / (beta_fast * 2 * pi)) / (2 * logf(base));
    const float hi = n_dims * logf(n_orig / (beta_slow * 2 * pi)) / (2 * logf(base));
    const float start = floorf(lo), end = ceilf(hi);
    m->rope_yarn = true;
    m->rope_corr[0] = start > 0.0f ? start : 0.0f;
    m->rope_corr[1] = end < n_dims - 1 ? end : n_dims - 1;
    const float factor = 1.0f / m->rope_freq_scale;
    float attn = factor <= 1.0f ? 1.0f : 0.1f * logf(factor) + 1.0f;
    attn *= 1.0f / (1.0f + 0.1f * logf(factor));
    attn *= m->rope_mscale;
    m->rope_mscale = attn * (1.0f + 0.1f * logf(1.0f / m->rope_freq_scale));
}

static int model_read_hparams(nt_model *m, nt_err *err)
{
    const char *path = nt_gguf_path(m->g);
    nt_model_info *in = &m->info;
    const char *a = in->arch;
    uint32_t ctx, embd, layer, ff, head, head_kv, key_len, val_len, rot;
    int rc;
    if ((rc = hp_u32(m, "context_length", true, 0, 1, MODEL_MAX_CTX, &ctx, err)) ||
        (rc = hp_u32(m, "embedding_length", true, 0, 1, MODEL_MAX_EMBD, &embd, err)) ||
        (rc = hp_u32(m, "block_count", true, 0, 1, MODEL_MAX_LAYER, &layer, err)) ||
        (rc = hp_u32(m, "feed_forward_length", true, 0, 1, MODEL_MAX_FF, &ff, err)) ||
        (rc = hp_u32(m, "attention.head_count", true, 0, 1, MODEL_MAX_HEAD, &head, err)) ||
        (rc = hp_u32(m, "attention.head_count_kv", false, head, 1, MODEL_MAX_HEAD, &head_kv, err)))
        return rc;
    /* Experts in an architecture that has none (Qwen2-MoE is not "qwen2" with experts): say
     * so rather than miss a tensor. A moe_variant architecture has them when the file does
     * (Mixtral is "llama" with experts). */
    uint32_t experts;
    if ((rc = hp_u32(m, "expert_count", false, 0, 0, UINT32_MAX, &experts, err))) return rc;
    if (experts > 0 && m->arch->moe_variant) m->feat |= ARCH_MOE;
    if (experts > 0 && !(m->feat & ARCH_MOE))
        return nt_err_set(err, NT_ERR_UNSUPPORTED, "%s: %s.expert_count = %" PRIu32 ": mixture-of-"
                          "experts %s models are not supported (natter runs experts in %s)",
                          path, a, experts, a, arch_moe_list());
    if (m->feat & ARCH_MOE && (rc = model_read_moe(m, ff, err))) return rc;
    if (head % head_kv != 0)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s.attention.head_count = %" PRIu32
                          " is not a multiple of %s.attention.head_count_kv = %" PRIu32,
                          path, a, head, a, head_kv);
    /* Without an explicit head size the heads split the embedding evenly. */
    char key[160];
    snprintf(key, sizeof key, "%s.attention.key_length", a);
    if (nt_gguf_find_key(m->g, key) < 0 && embd % head != 0)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s.embedding_length = %" PRIu32
                          " is not a multiple of %s.attention.head_count = %" PRIu32,
                          path, a, embd, a, head);
    if ((rc = hp_u32(m, "attention.key_length", false, embd / head, 1, MODEL_MAX_HEAD_DIM, &key_len, err)) ||
        (rc = hp_u32(m, "attention.value_length", false, key_len, 1, MODEL_MAX_HEAD_DIM, &val_len, err)))
        return rc;
    if (val_len != key_len)
        return nt_err_set(err, NT_ERR_UNSUPPORTED, "%s: %s.attention.value_length = %" PRIu32
                          " differs from %s.attention.key_length = %" PRIu32, path, a, val_len, a, key_len);
    if ((rc = hp_u32(m, "rope.dimension_count", false, key_len, 2, key_len, &rot, err))) return rc;
    if (rot % 2 != 0)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s.rope.dimension_count = %" PRIu32 " is odd",
                          path, a, rot);

    float eps, base, factor = 0.0f;
    if ((rc = hp_f32(m, "attention.layer_norm_rms_epsilon", true, 0, &eps, err)) ||
        (rc = hp_f32(m, "rope.freq_base", false, 10000.0f, &base, err)))
        return rc;
    if (!(eps > 0.0f && eps < 1.0f))
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s.attention.layer_norm_rms_epsilon = %g is out of range",
                          path, a, (double)eps);
    if (!(base > 1.0f && base < 1e12f))
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s.rope.freq_base = %g is out of range", path, a,
                          (double)base);

    /* Rope scaling: none, linear (positions divided by the factor; the older key
     * rope.scale_linear carries the same factor) or YaRN (model_rope_yarn). */
    nt_gguf_str type = {"linear", 6};
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    if ((rc = nt_gguf_get_str(m->g, key, &type, err)) < 0) return rc;
    const bool none = type.n == 4 && memcmp(type.p, "none", 4) == 0;
    const bool yarn = type.n == 4 && memcmp(type.p, "yarn", 4) == 0;
    if (!none && !yarn && !(type.n == 6 && memcmp(type.p, "linear", 6) == 0))
        return nt_err_set(err, NT_ERR_UNSUPPORTED, "%s: %s = '%.*s' is not supported (natter runs "
                          "none, linear and yarn)", path, key, (int)(type.n > 40 ? 40 : type.n), type.p);
    if ((rc = hp_f32(m, "rope.scaling.factor", false, 0.0f, &factor, err))) return rc;
    if (factor == 0.0f && (rc = hp_f32(m, "rope.scale_linear", false, 0.0f, &factor, err))) return rc;
    if (none || factor == 0.0f) factor = 1.0f;
    if (!(factor >= 1e-3f && factor <= 1e3f))
        return nt_err_set(err, NT_ERR_FORMAT, "%s: rope scaling factor %g is out of range", path,
                          (double)factor);
    uint32_t orig_ctx;
    if ((rc = hp_u32(m, "rope.scaling.original_context_length", false, ctx, 1, MODEL_MAX_CTX, &orig_ctx, err)))
        return rc;

    /* Phi-3.5's long-context attention factor: llama.cpp multiplies every rotation by it, so
     * q·k grows by its square. */
    float mscale;
    if ((rc = hp_f32(m, "rope.scaling.attn_factor", false, 1.0f, &mscale, err))) return rc;
    if (!(mscale > 0.0f && mscale < 100.0f))
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s.rope.scaling.attn_factor = %g is out of range",
                          path, a, (double)mscale);

    const arch_desc *ar = m->arch;
    uint32_t swa = 0;
    if (ar->swa_pattern > 0 &&
        (rc = hp_u32(m, "attention.sliding_window", false, (uint32_t)ar->swa_default, 0,
                     MODEL_MAX_CTX, &swa, err)))
        return rc;
    /* llama.cpp's defaults when a Gemma 2 file lacks the keys. */
    float cap_att = 0.0f, cap_final = 0.0f;
    if ((ar->feat & ARCH_SOFTCAP) &&
        ((rc = hp_f32(m, "attn_logit_softcapping", false, 50.0f, &cap_att, err)) ||
         (rc = hp_f32(m, "final_logit_softcapping", false, 30.0f, &cap_final, err))))
        return rc;
    if (!(cap_att >= 0.0f && cap_att < 1e6f) || !(cap_final >= 0.0f && cap_final < 1e6f))
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s: a logit soft-capping value is out of range",
                          path, a);

    in->n_ctx_train = (int32_t)ctx;
    in->n_embd = (int32_t)embd;
    in->n_layer = (int32_t)layer;
    in->n_ff = (int32_t)ff;
    in->n_head = (int32_t)head;
    in->n_head_kv = (int32_t)head_kv;
    in->head_dim = (int32_t)key_len;
    in->n_rot = (int32_t)rot;
    in->norm_eps = eps;
    in->rope_base = base;
    in->rope_scale = factor;
    m->rope_freq_scale = 1.0f / factor;
    m->rope_mscale = mscale;
    m->rope_base_swa = ar->swa_rope_base > 0.0f ? ar->swa_rope_base : base;
    if (yarn) model_rope_yarn(m, rot, base, orig_ctx);
    m->q_dim = in->n_head * in->head_dim;
    m->kv_dim = in->n_head_kv * in->head_dim;
    m->n_swa = (int32_t)swa;
    m->attn_softcap = cap_att;
    m->final_softcap = cap_final;
    m->embd_scale = (ar->feat & ARCH_EMBD_SCALE) ? sqrtf((float)embd) : 1.0f;
    /* Gemma's query_pre_attn_scalar is not in the files: llama.cpp recognises the 27B models
     * by their layer count, which scale queries by n_embd / n_head; every other size scales
     * by the head size, like the other architectures. */
    const bool gemma_27b = ar->wide_query_layers > 0 && (int32_t)layer == ar->wide_query_layers;
    m->att_scale = 1.0f / sqrtf(gemma_27b ? (float)(embd / head) : (float)key_len);
    m->res_scale = 1.0f;
    m->logit_mul = 1.0f;
    if (ar->feat & ARCH_MULTIPLIERS) {
        /* llama.cpp applies each optional multiplier only when the file gives a non-zero one. */
        float logit, embd_s, res_s, att_s;
        if ((rc = hp_f32(m, "logit_scale", true, 0.0f, &logit, err)) ||
            (rc = hp_f32(m, "embedding_scale", false, 0.0f, &embd_s, err)) ||
            (rc = hp_f32(m, "residual_scale", false, 0.0f, &res_s, err)) ||
            (rc = hp_f32(m, "attention.scale", false, 0.0f, &att_s, err)))
            return rc;
        const float v[4] = {logit, embd_s, res_s, att_s};
        for (int i = 0; i < 4; i++)
            if (!(v[i] >= 0.0f && v[i] < 1e6f) || (i == 0 && v[i] == 0.0f))
                return nt_err_set(err, NT_ERR_FORMAT, "%s: %s.%s = %g is out of range", path, a,
                                  (const char *[]){"logit_scale", "embedding_scale", "residual_scale",
                                                   "attention.scale"}[i], (double)v[i]);
        m->logit_mul = 1.0f / logit;
        if (embd_s != 0.0f) m->embd_scale = embd_s;
        if (res_s != 0.0f) m->res_scale = res_s;
        if (att_s != 0.0f) m->att_scale = att_s;
    }
    return NT_OK;
}

/* ------------------------------------------------------------------------ tensors ----- */

static void shape_str(char *buf, size_t cap, const int64_t *ne, uint32_t n_dims)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (uint32_t i = 0; i < n_dims && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%" PRId64, i ? ", " : "", ne[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

/* Looks up name and checks it against the expected shape [n_in] (n_out == 0: a vector) or
 * [n_in, n_out]. *out is NULL for an absent tensor that is not required. n_out < 0: any
 * number of rows (the embedding, whose row count gives n_vocab). */
static int model_tensor_n(const nt_model *m, const char *name, int64_t n_in, int64_t n_out,
                          int64_t n_mat, bool required, const nt_gguf_tensor **out, nt_err *err)
{
    const char *path = nt_gguf_path(m->g);
    const nt_gguf_tensor *t = NULL;
    for (int i = 0; i < m->n_parts && !t; i++) t = nt_gguf_find_tensor(m->parts[i], name);
    *out = NULL;
    if (!t) {
        if (required) return nt_err_set(err, NT_ERR_FORMAT, "%s: tensor '%s' is missing", path, name);
        return NT_OK;
    }
    if (!nt_type_supported(t->type)) {
        const char *tn = nt_type_name(t->type);
        if (tn)
            return nt_err_set(err, NT_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which natter "
                              "cannot run", path, name, tn);
        return nt_err_set(err, NT_ERR_UNSUPPORTED, "%s: tensor '%s' has unknown type %d", path,
                          name, t->type);
    }
    const int64_t rows = n_out < 0 ? t->ne[1] : n_out == 0 ? 1 : n_out;
    const int64_t want[4] = {n_in, rows, n_mat, 1};
    if (memcmp(t->ne, want, sizeof want) != 0) {
        char got[96], exp[64];
        shape_str(got, sizeof got, t->ne, t->n_dims);
        shape_str(exp, sizeof exp, want, n_out == 0 ? 1 : n_mat > 1 ? 3 : 2);
        return nt_err_set(err, NT_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", path,
                          name, got, exp);
    }
    const size_t rb = nt_type_row_bytes(t->type, n_in);
    if (rb == 0)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: tensor '%s': %" PRId64 " columns are not a "
                          "multiple of the %s block (%" PRId64 ")", path, name, n_in,
                          nt_type_name(t->type), nt_type_block_len(t->type));
    if (t->nbytes / rb < (uint64_t)(want[1] * n_mat))
        return nt_err_set(err, NT_ERR_FORMAT, "%s: tensor '%s' holds %zu bytes, too few for its shape",
                          path, name, t->nbytes);
    *out = t;
    return NT_OK;
}

/* A vector or matrix: model_tensor_n with one matrix. */
static int model_tensor(const nt_model *m, const char *name, int64_t n_in, int64_t n_out,
                        bool required, const nt_gguf_tensor **out, nt_err *err)
{
    return model_tensor_n(m, name, n_in, n_out, 1, required, out, err);
}

static void model_mat_view(model_mat *w, const nt_gguf_tensor *t)
{
    w->name = t->name;
    w->type = t->type;
    w->n_in = t->ne[0];
    w->n_out = t->ne[1];
    w->row_bytes = nt_type_row_bytes(t->type, t->ne[0]);
    w->data = t->data;
    w->bias = NULL;
}

static int model_mat_get(nt_model *m, model_mat *w, const char *name, int64_t n_in, int64_t n_out,
                         nt_err *err)
{
    const nt_gguf_tensor *t;
    int rc = model_tensor(m, name, n_in, n_out, true, &t, err);
    if (rc) return rc;
    model_mat_view(w, t);
    return NT_OK;
}

/* A vector as f32: in place when it is aligned F32, else converted into a copy the model
 * owns. *out stays NULL for an absent optional vector. */
static int model_vec_get(nt_model *m, const float **out, const char *name, int64_t n, bool required,
                         nt_err *err)
{
    const nt_gguf_tensor *t;
    *out = NULL;
    int rc = model_tensor(m, name, n, 0, required, &t, err);
    if (rc || !t) return rc;
    if (t->type == NT_TYPE_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = t->data;
        return NT_OK;
    }
    float **owned = realloc(m->owned, ((size_t)m->n_owned + 1) * sizeof *owned);
    if (!owned) return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", nt_gguf_path(m->g));
    m->owned = owned;
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", nt_gguf_path(m->g));
    nt_quant_dequant_row(t->type, t->data, v, n);
    m->owned[m->n_owned++] = v;
    *out = v;
    return NT_OK;
}

/* A view of rows [r0, r0 + n) of w: one part of a fused matrix. */
static model_mat model_mat_rows(const model_mat *w, int64_t r0, int64_t n)
{
    model_mat v = *w;
    v.n_out = n;
    v.data = w->data + (size_t)r0 * w->row_bytes;
    return v;
}

/* The size a block tensor's dimension is checked against. */
static int64_t model_dim(const nt_model *m, enum arch_dim d)
{
    const nt_model_info *in = &m->info;
    switch (d) {
    case ARCH_D_1: return 0;
    case ARCH_D_EMBD: return in->n_embd;
    case ARCH_D_FF: return in->n_ff;
    case ARCH_D_Q: return m->q_dim;
    case ARCH_D_KV: return m->kv_dim;
    case ARCH_D_HEAD: return in->head_dim;
    case ARCH_D_QKV: return m->q_dim + 2 * (int64_t)m->kv_dim;
    case ARCH_D_FF2: return 2 * (int64_t)in->n_ff;
    case ARCH_D_EXPERT: return m->n_expert;
    case ARCH_D_FF_EXP: return m->n_ff_exp;
    }
    return 0;
}

/* Views the tensors of block il that the architecture's features call for
 * (arch_layer_tensors). */
static int model_load_layer(nt_model *m, int32_t il, nt_err *err)
{
    const unsigned feat = m->feat;
    char *base = (char *)&m->layers[il];
    char name[96];
    int rc = NT_OK;
    for (size_t i = 0; i < arch_n_layer_tensors && rc == NT_OK; i++) {
        const arch_tensor *at = &arch_layer_tensors[i];
        if ((feat & at->when) != at->when || (feat & at->unless)) continue;
        const bool required = !at->optional || (feat & at->required_by);
        const int64_t n_in = model_dim(m, at->in), n_out = model_dim(m, at->out);
        snprintf(name, sizeof name, "blk.%d.%s", (int)il, at->name);
        switch (at->kind) {
        case ARCH_T_VEC:
            rc = model_vec_get(m, (const float **)(base + at->off), name, n_in, required, err);
            break;
        case ARCH_T_BIAS:
            rc = model_vec_get(m, &((model_mat *)(base + at->off))->bias, name, n_in, required, err);
            break;
        case ARCH_T_MAT:
            rc = model_mat_get(m, (model_mat *)(base + at->off), name, n_in, n_out, err);
            break;
        case ARCH_T_EXPS: {
            const nt_gguf_tensor *t;
            rc = model_tensor_n(m, name, n_in, n_out, m->n_expert, true, &t, err);
            if (rc == NT_OK) model_mat_view((model_mat *)(base + at->off), t);
            break;
        }
        }
    }
    if (rc) return rc;
    /* Fused matrices are used as their parts: the same rows, no copy. */
    model_layer *L = &m->layers[il];
    if (feat & ARCH_QKV_FUSED) {
        const int64_t Q = m->q_dim, KV = m->kv_dim;
        const float *b = L->wqkv.bias;
        L->wq = model_mat_rows(&L->wqkv, 0, Q);
        L->wk = model_mat_rows(&L->wqkv, Q, KV);
        L->wv = model_mat_rows(&L->wqkv, Q + KV, KV);
        L->wq.bias = b;
        L->wk.bias = b ? b + Q : NULL;
        L->wv.bias = b ? b + Q + KV : NULL;
    }
    if (feat & ARCH_FFN_FUSED) {
        L->w_gate = model_mat_rows(&L->w_gate_up, 0, m->info.n_ff);
        L->w_up = model_mat_rows(&L->w_gate_up, m->info.n_ff, m->info.n_ff);
    }
    const int32_t pat = m->arch->swa_pattern;
    L->swa = m->n_swa > 0 && pat > 0 && il % pat < pat - 1;
    return NT_OK;
}

/* n_ctx: the context the cache will hold, which picks Phi-3's long or short rope factors. */
static int model_load_tensors(nt_model *m, int32_t n_ctx, nt_err *err)
{
    nt_model_info *in = &m->info;
    const int64_t E = in->n_embd;
    int rc;

    if ((rc = model_mat_get(m, &m->tok_embd, "token_embd.weight", E, -1, err))) return rc;
    if (m->tok_embd.n_out > MODEL_MAX_VOCAB)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: tensor 'token_embd.weight' has %" PRId64
                          " rows, more than natter accepts (%d)", nt_gguf_path(m->g),
                          m->tok_embd.n_out, MODEL_MAX_VOCAB);
    in->n_vocab = (int32_t)m->tok_embd.n_out;
    const int64_t V = in->n_vocab;

    m->layers = calloc((size_t)in->n_layer, sizeof *m->layers);
    if (!m->layers) return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", nt_gguf_path(m->g));
    for (int32_t il = 0; il < in->n_layer; il++)
        if ((rc = model_load_layer(m, il, err))) return rc;
    if ((rc = model_vec_get(m, &m->out_norm, "output_norm.weight", E, true, err))) return rc;
    const nt_gguf_tensor *t;
    if ((rc = model_tensor(m, "output.weight", E, V, false, &t, err))) return rc;
    if (t) model_mat_view(&m->output, t);
    else m->output = m->tok_embd; /* tied embeddings */
    /* Llama 3.1+: per-dimension divisors of the rotary frequencies. */
    if ((rc = model_vec_get(m, &m->rope_freqs, "rope_freqs.weight", in->n_rot / 2, false, err)))
        return rc;
    /* Phi-3.5 / Phi-4-mini: long-context divisors when the context exceeds the original
     * training length (rope.scaling.original_context_length), short ones otherwise, the
     * choice llama.cpp makes from the context it is given. */
    if (!m->rope_freqs && (m->feat & ARCH_ROPE_LONG_SHORT)) {
        uint32_t orig;
        if ((rc = hp_u32(m, "rope.scaling.original_context_length", false, (uint32_t)in->n_ctx_train,
                         1, MODEL_MAX_CTX, &orig, err)))
            return rc;
        const char *which = n_ctx > (int32_t)orig ? "rope_factors_long.weight" : "rope_factors_short.weight";
        if ((rc = model_vec_get(m, &m->rope_freqs, which, in->n_rot / 2, false, err))) return rc;
    }
    if (m->rope_freqs)
        for (int32_t i = 0; i < in->n_rot / 2; i++)
            if (!(m->rope_freqs[i] > 0.0f) || !isfinite(m->rope_freqs[i]))
                return nt_err_set(err, NT_ERR_FORMAT, "%s: rope frequency factor %d is %g, not a "
                                  "positive number", nt_gguf_path(m->g), (int)i, (double)m->rope_freqs[i]);

    in->n_params = 0;
    for (int p = 0; p < m->n_parts; p++)
        for (int64_t i = 0; i < nt_gguf_n_tensors(m->parts[p]); i++) {
            const nt_gguf_tensor *ti = nt_gguf_tensor_at(m->parts[p], i);
            in->n_params += ti->ne[0] * ti->ne[1] * ti->ne[2] * ti->ne[3];
        }
    return NT_OK;
}

/* ------------------------------------------------------------------- load / free ----- */

static int threads_wanted(int32_t n)
{
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int32_t)c : 1;
    }
    return n > MODEL_MAX_THREADS ? MODEL_MAX_THREADS : n;
}

/* nt_model_load, and nt_model_check when check_only: everything up to (not including) the
 * KV cache, the compute pool and the scratch, so both give the same verdict and message. */
static int model_load(nt_model **out, const char *path, const nt_model_params *params,
                      bool check_only, nt_err *err)
{
    nt_model_params p = params ? *params : nt_model_default_params();
    nt_model *m = NULL;
    int rc;
    *out = NULL;
    if (p.n_ctx < 0)
        return nt_err_set(err, NT_ERR_INVALID, "nt_model_load: n_ctx %d is negative", (int)p.n_ctx);

    m = calloc(1, sizeof *m);
    if (!m) return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path ? path : "model");
    if ((rc = nt_gguf_open_split(&m->parts, &m->n_parts, path, err))) goto fail;
    m->g = m->parts[0];

    nt_gguf_str arch;
    rc = nt_gguf_get_str(m->g, "general.architecture", &arch, err);
    if (rc < 0) goto fail;
    if (rc == 1) {
        rc = nt_err_set(err, NT_ERR_FORMAT, "%s: missing key 'general.architecture'", path);
        goto fail;
    }
    m->arch = arch_find(arch.p, arch.n);
    if (!m->arch) {
        rc = nt_err_set(err, NT_ERR_UNSUPPORTED, "%s: architecture '%.*s' is not supported "
                        "(natter runs %s)", path, (int)(arch.n > 40 ? 40 : arch.n), arch.p, arch_list());
        goto fail;
    }
    m->info.arch = m->arch->name;
    m->feat = m->arch->feat;

    if ((rc = model_read_hparams(m, err))) goto fail;
    int32_t n_ctx = p.n_ctx;
    if (n_ctx == 0)
        n_ctx = m->info.n_ctx_train < MODEL_CTX_DEFAULT_MAX ? m->info.n_ctx_train : MODEL_CTX_DEFAULT_MAX;
    if (n_ctx > MODEL_MAX_CTX) {
        rc = nt_err_set(err, NT_ERR_INVALID, "nt_model_load: n_ctx %d is larger than %d", (int)n_ctx,
                        MODEL_MAX_CTX);
        goto fail;
    }
    m->info.n_ctx = n_ctx;
    if ((rc = model_load_tensors(m, n_ctx, err))) goto fail;

    if ((rc = nt_tokenizer_load(&m->tok, m->g, err))) goto fail;
    if (nt_tokenizer_n_vocab(m->tok) != m->info.n_vocab) {
        rc = nt_err_set(err, NT_ERR_FORMAT, "%s: the vocabulary has %d tokens but "
                        "'token_embd.weight' has %d rows", path, (int)nt_tokenizer_n_vocab(m->tok),
                        (int)m->info.n_vocab);
        goto fail;
    }

    nt_gguf_str name;
    rc = nt_gguf_get_str(m->g, "general.name", &name, NULL);
    if (rc == NT_OK && name.n > 0) {
        m->name = strndup(name.p, name.n);
    } else {
        const char *base = strrchr(path, '/');
        m->name = strdup(base ? base + 1 : path);
    }
    if (!m->name) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    m->info.name = m->name;
    if (check_only) {
        *out = m;
        return NT_OK;
    }

    if ((rc = nt_kv_init(&m->kv, m->info.n_layer, n_ctx, m->kv_dim, m->info.head_dim, p.kv_type,
                         err))) {
        if (rc == NT_ERR_UNSUPPORTED && err) { /* the type, or Q8_0's head size: name the file */
            char why[sizeof err->msg];
            memcpy(why, err->msg, sizeof why);
            nt_err_set(err, rc, "%s: %s", path, why);
        }
        goto fail;
    }
    m->info.kv_type = p.kv_type;

    m->pool = nt_pool_init(threads_wanted(p.n_threads));
    m->tune = (model_tune){.on = p.n_threads <= 0 && nt_pool_n_threads(m->pool) > 1};
    if (!m->pool) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "%s: cannot start compute threads", path);
        goto fail;
    }
    if ((rc = nt_forward_scratch_init(m, err))) goto fail;
    *out = m;
    return NT_OK;

fail:
    nt_model_free(m);
    return rc;
}

int nt_model_load(nt_model **out, const char *path, const nt_model_params *params, nt_err *err)
{
    return model_load(out, path, params, false, err);
}

int nt_model_check(const char *path, nt_model_info *info, nt_err *err)
{
    nt_model *m = NULL;
    int rc = model_load(&m, path, NULL, true, err);
    if (rc == NT_OK && info) {
        *info = m->info;
        info->name = NULL;
    }
    nt_model_free(m);
    return rc;
}

/* Matrices of the types with an x8 form are multiplied in groups of 8 rows, F16 and BF16 ones
 * of 32 (quant.h, the x8 types: decoding up to 2-3x faster, prompts 2-3x; F16X32, BF16X32).
 * The copies are made on the first forward pass, not at load, so that loading still reads no
 * weights (the chat is drawn before they page in); the first prompt pays about one more pass
 * over those weights.
 * Afterwards the file's pages of each repacked matrix are released (MADV_DONTNEED: the
 * mapping is private and never written, so a later read, as the model hash's, gets the file's
 * bytes again) so that the weights stay resident once, not twice; not those of the output
 * matrix when it is the token embeddings, which the embedding lookup keeps reading. rows
 * counts every expert of an expert tensor, whose n_out must be a multiple of the group's rows
 * too, so that no group straddles two experts. */
typedef struct model_pack_item {
    model_mat *w;
    int64_t rows;
    bool release;
    void *copy; /* the task's result, NULL when it could not allocate */
} model_pack_item;

/* One matrix: its copy in the x8 layout, then the file's pages of it released. */
static void model_pack_task(void *ctx, int64_t task, int thread)
{
    model_pack_item *it = (model_pack_item *)ctx + task;
    const model_mat *w = it->w;
    const size_t bytes = (size_t)it->rows * w->row_bytes;
    (void)thread;
    if (posix_memalign(&it->copy, 64, bytes) != 0) {
        it->copy = NULL;
        return;
    }
    nt_quant_repack_x8(w->type, w->data, it->copy, it->rows, w->n_in);
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t lo = ((uintptr_t)w->data + page - 1) & ~(page - 1);
    const uintptr_t hi = ((uintptr_t)w->data + bytes) & ~(page - 1);
    if (it->release && hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static void model_pack_add(model_pack_item *items, int *n, model_mat *w, int64_t rows, bool release)
{
    /* n_out, not only rows: an expert's matrix must start a group (model_expert) */
    const int x8 = nt_quant_x8_type(w->type);
    if (w->data && x8 >= 0 && w->n_out % nt_quant_x8_rows(x8) == 0)
        items[(*n)++] = (model_pack_item){.w = w, .rows = rows, .release = release};
}

/* Bytes the copies may take: 80% of the memory the kernel says is available (MemAvailable,
 * which counts the page cache holding the model's file, whose pages the copies give back).
 * Why a limit at all: mapped file pages can be dropped and read again under memory pressure,
 * copies cannot, so a model larger than the memory, which runs from the mapping (slowly),
 * would instead be killed. Without /proc/meminfo: half the physical memory. */
static size_t model_pack_budget(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    if (f) fclose(f);
    if (kb > 0) return (size_t)(kb / 5 * 4) * 1024;
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (size_t)pages * (size_t)page / 2 : SIZE_MAX;
}

void nt_model_pack(nt_model *m)
{
    m->pack_done = true;
    const int cap = m->info.n_layer * MODEL_LAYER_MATS + 1;
    model_pack_item *items = malloc((size_t)cap * sizeof *items);
    int n = 0;
    if (!items) return;
    for (int32_t il = 0; il < m->info.n_layer; il++) {
        model_layer *L = &m->layers[il];
        model_mat *lm[MODEL_LAYER_MATS];
        model_layer_mats(L, lm);
        for (int i = 0; i < MODEL_LAYER_MATS; i++) {
            const bool experts = lm[i] == &L->gate_exps || lm[i] == &L->up_exps || lm[i] == &L->down_exps;
            model_pack_add(items, &n, lm[i], lm[i]->n_out * (experts ? m->n_expert : 1), true);
        }
    }
    model_pack_add(items, &n, &m->output, m->output.n_out, m->output.data != m->tok_embd.data);
    /* in order while they fit the budget; the others keep the file's layout */
    size_t budget = model_pack_budget(), total = 0;
    int kept = 0;
    for (int i = 0; i < n; i++) {
        const size_t bytes = (size_t)items[i].rows * items[i].w->row_bytes;
        if (bytes > budget - total) continue;
        total += bytes;
        items[kept++] = items[i];
    }
    n = kept;
    m->packed = n ? malloc((size_t)n * sizeof *m->packed) : NULL;
    if (n && !m->packed) n = 0;
    /* the matrices on every thread (a 1.1B model's 620 MB of Q4_K: 0.41-0.51 s on one) */
    nt_pool_run(m->pool, n, model_pack_task, items);
    for (int i = 0; i < n; i++) {
        if (!items[i].copy) continue;
        m->packed[m->n_packed++] = items[i].copy;
        items[i].w->type = nt_quant_x8_type(items[i].w->type);
        items[i].w->data = items[i].copy;
    }
    free(items);
}

void nt_model_free(nt_model *m)
{
    if (!m) return;
    nt_forward_scratch_free(m);
    nt_pool_free(m->pool);
    nt_kv_free(&m->kv);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    for (int i = 0; i < m->n_packed; i++) free(m->packed[i]);
    free(m->packed);
    free(m->layers);
    nt_tokenizer_free(m->tok);
    free(m->name);
    nt_gguf_close_split(m->parts, m->n_parts);
    free(m);
}

const nt_model_info *nt_model_get_info(const nt_model *m) { return &m->info; }
const nt_gguf *nt_model_gguf(const nt_model *m) { return m->g; }
const nt_tokenizer *nt_model_tokenizer(const nt_model *m) { return m->tok; }

bool nt_model_mapping(const nt_model *m, int i, const void **base, size_t *size)
{
    if (!m || i < 0 || i >= m->n_parts || !nt_gguf_mapping(m->parts[i])) return false;
    *base = nt_gguf_mapping(m->parts[i]);
    *size = (size_t)nt_gguf_file_size(m->parts[i]);
    return true;
}
int32_t nt_model_n_past(const nt_model *m) { return m->kv.n_past; }

void nt_model_rewind(nt_model *m, int32_t n_past)
{
    nt_kv_rewind(&m->kv, n_past);
}

int nt_model_kv_save(const nt_model *m, int32_t start, nt_kv_state **out, nt_err *err)
{
    return nt_kv_save(&m->kv, start, out, err);
}

int nt_model_kv_restore(nt_model *m, const nt_kv_state *s, nt_err *err)
{
    return nt_kv_load(&m->kv, s, err);
}

int64_t nt_model_n_evaluated(const nt_model *m) { return m->n_evaluated; }

void nt_model_set_hooks(nt_model *m, const nt_model_hooks *hooks)
{
    if (hooks) m->hooks = *hooks;
    else memset(&m->hooks, 0, sizeof m->hooks);
}

int nt_model_set_threads(nt_model *m, int32_t n_threads)
{
    const int n = threads_wanted(n_threads);
    if (n == nt_pool_n_threads(m->pool)) {
        m->tune = (model_tune){.on = n_threads <= 0 && n > 1};
        return NT_OK;
    }
    pool *p = nt_pool_init(n);
    if (!p) return NT_ERR_NOMEM;
    pool *old = m->pool;
    m->pool = p;
    if (nt_forward_scratch_threads(m, NULL) != NT_OK) {
        m->pool = old;
        nt_pool_free(p);
        nt_forward_scratch_threads(m, NULL);
        return NT_ERR_NOMEM;
    }
    nt_pool_free(old);
    m->tune = (model_tune){.on = n_threads <= 0 && n > 1};
    return NT_OK;
}

/* ----------------------------------------------------------------------- evaluation ----- */

static int model_check_tokens(const nt_model *m, const char *fn, const int32_t *tokens, size_t n,
                              nt_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->info.n_vocab)
            return nt_err_set(err, NT_ERR_INVALID, "%s: token %zu has id %d, outside the "
                              "vocabulary (0..%d)", fn, i, (int)tokens[i], (int)m->info.n_vocab - 1);
    return NT_OK;
}

static double model_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One decoding step (one token) under model_tune: which way it runs, and the probe's timing.
 * Step 0 of a period runs the current way unmeasured (it may follow a prompt, with other
 * data in the caches); steps 1..MODEL_TUNE_PROBE alternate shared and single. */
static int model_decode_step(nt_model *m, const int32_t *token, float *logits, bool all)
{
    model_tune *t = &m->tune;
    const int32_t k = t->step;
    const bool probe = k >= 1 && k <= MODEL_TUNE_PROBE;
    const int way = probe ? k & 1 : t->single; /* odd probe steps single */
    t->now = way;
    const double t0 = probe ? model_now() : 0;
    const int rc = nt_forward_batch(m, token, 1, logits, all);
    t->now = false;
    if (rc) return rc;
    if (probe) t->t[way] += model_now() - t0;
    if (k == MODEL_TUNE_PROBE) {
        t->single = t->t[1] < t->t[0];
        t->t[0] = t->t[1] = 0;
    }
    t->step = k + 1 == MODEL_TUNE_PERIOD ? 0 : k + 1;
    return NT_OK;
}

static int model_eval_common(nt_model *m, const char *fn, const int32_t *tokens, int32_t n,
                             float *logits, bool all, nt_err *err)
{
    if (!m || n <= 0 || !tokens)
        return nt_err_set(err, NT_ERR_INVALID, "%s: no tokens to evaluate", fn);
    if (n > m->kv.n_ctx - m->kv.n_past)
        return nt_err_set(err, NT_ERR_CONTEXT_FULL, "%s: %d tokens do not fit in the context "
                          "(%d of %d positions used)", fn, (int)n, (int)m->kv.n_past, (int)m->kv.n_ctx);
    int rc = model_check_tokens(m, fn, tokens, (size_t)n, err);
    if (rc) return rc;
    for (int32_t done = 0; done < n;) {
        const int32_t b = n - done < MODEL_BATCH ? n - done : MODEL_BATCH;
        const bool last = done + b == n;
        float *out = all ? logits + (size_t)done * (size_t)m->info.n_vocab : (last ? logits : NULL);
        rc = b == 1 && m->tune.on ? model_decode_step(m, tokens + done, out, all)
                                  : nt_forward_batch(m, tokens + done, b, out, all);
        if (rc == NT_ERR_CANCELLED)
            return nt_err_set(err, rc, "%s: cancelled after %d of %d tokens", fn, (int)done, (int)n);
        done += b;
        m->n_evaluated += b;
        if (m->hooks.progress) m->hooks.progress(done, n, m->hooks.user);
    }
    return NT_OK;
}

int nt_model_eval(nt_model *m, const int32_t *tokens, int32_t n, float *logits, nt_err *err)
{
    return model_eval_common(m, "nt_model_eval", tokens, n, logits, false, err);
}

int nt_model_eval_all(nt_model *m, const int32_t *tokens, int32_t n, float *logits, nt_err *err)
{
    if (!logits) return nt_err_set(err, NT_ERR_INVALID, "nt_model_eval_all: no logits buffer");
    return model_eval_common(m, "nt_model_eval_all", tokens, n, logits, true, err);
}

/* ----------------------------------------------------------------------- perplexity ----- */

/* -log p(tok) from logits, as llama-perplexity computes it: max in float, the sum of
 * exponentials in double. */
static double nll_of(const float *logits, int32_t n_vocab, int32_t tok)
{
    float max = logits[0];
    for (int32_t i = 1; i < n_vocab; i++)
        if (logits[i] > max) max = logits[i];
    double sum = 0.0;
    for (int32_t i = 0; i < n_vocab; i++) sum += expf(logits[i] - max);
    return -((double)(logits[tok] - max) - log(sum));
}

int nt_model_perplexity(nt_model *m, const int32_t *tokens, size_t n, int32_t n_ctx, nt_model_ppl *out,
                     nt_err *err)
{
    const char *fn = "nt_model_perplexity";
    memset(out, 0, sizeof *out);
    if (n_ctx == 0) n_ctx = m->kv.n_ctx;
    if (n_ctx < 4 || n_ctx > m->kv.n_ctx)
        return nt_err_set(err, NT_ERR_INVALID, "%s: context %d is outside 4..%d (the model's "
                          "context)", fn, (int)n_ctx, (int)m->kv.n_ctx);
    if (!tokens || n < 2 * (size_t)n_ctx)
        return nt_err_set(err, NT_ERR_INVALID, "%s: %zu tokens are too few for a context of %d "
                          "(at least %d needed)", fn, n, (int)n_ctx, 2 * (int)n_ctx);
    const size_t n_chunk = n / (size_t)n_ctx;
    int rc = model_check_tokens(m, fn, tokens, n_chunk * (size_t)n_ctx, err);
    if (rc) return rc;
    const int32_t bos = nt_tokenizer_bos(m->tok);
    const bool add_bos = nt_tokenizer_add_bos(m->tok) && bos >= 0;
    const int32_t first = n_ctx / 2, V = m->info.n_vocab;
    int32_t *chunk = malloc((size_t)n_ctx * sizeof *chunk);
    if (!chunk) return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", fn);

    double nll = 0.0, nll2 = 0.0;
    int64_t count = 0;
    const int32_t total = (int32_t)(n_chunk * (size_t)n_ctx > INT32_MAX ? INT32_MAX : n_chunk * (size_t)n_ctx);
    for (size_t c = 0; c < n_chunk; c++) {
        const int32_t *src = tokens + c * (size_t)n_ctx;
        memcpy(chunk, src, (size_t)n_ctx * sizeof *chunk);
        if (add_bos) chunk[0] = bos;
        nt_kv_rewind(&m->kv, 0);
        for (int32_t off = 0; off < n_ctx;) {
            const int32_t b = n_ctx - off < MODEL_BATCH ? n_ctx - off : MODEL_BATCH;
            /* Positions j in [first, n_ctx - 1) predict token j + 1: only batches holding
             * one of them need logits. */
            const bool scored = off + b > first && off < n_ctx - 1;
            rc = nt_forward_batch(m, chunk + off, b, scored ? m->s.logits : NULL, true);
            if (rc) {
                nt_kv_rewind(&m->kv, 0);
                free(chunk);
                return nt_err_set(err, rc, "%s: cancelled in chunk %zu of %zu", fn, c + 1, n_chunk);
            }
            if (scored) {
                const int32_t j0 = off > first ? off : first;
                const int32_t j1 = off + b < n_ctx - 1 ? off + b : n_ctx - 1;
                for (int32_t j = j0; j < j1; j++) {
                    const double v = nll_of(m->s.logits + (size_t)(j - off) * (size_t)V, V, src[j + 1]);
                    nll += v;
                    nll2 += v * v;
                    count++;
                }
            }
            off += b;
            if (m->hooks.progress) {
                size_t done = c * (size_t)n_ctx + (size_t)off;
                m->hooks.progress((int32_t)(done > INT32_MAX ? INT32_MAX : done), total, m->hooks.user);
            }
        }
    }
    nt_kv_rewind(&m->kv, 0);
    free(chunk);

    /* llama-perplexity's final estimate and its uncertainty. */
    const double mean = nll / (double)count;
    double var = nll2 / (double)count - mean * mean;
    out->ppl = exp(mean);
    out->ppl_err = var > 0.0 && count > 1 ? sqrt(var / (double)(count - 1)) * out->ppl : 0.0;
    out->nll = mean;
    out->n_chunks = (int32_t)n_chunk;
    out->n_scored = count;
    return NT_OK;
}
