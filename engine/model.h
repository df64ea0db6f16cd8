/* model.h — the insides of a loaded model (engine-internal): hyperparameters, views of the
 * weights inside the mapped GGUF, the KV cache, the compute pool and the scratch memory of
 * the forward pass. model.c builds all of it (nt_model_load) and forward.c runs it.
 *
 * Shapes are written [rows][columns] with the columns contiguous, i.e. the reverse of GGUF's
 * ne order: a matrix with ne = {in, out} is (out, in) here and computes y[out] = W · x[in]. */
#ifndef NATTER_MODEL_H
#define NATTER_MODEL_H

#include "natter.h"
#include "arch.h"
#include "kv.h"
#include "pool.h"

#define MODEL_BATCH 64    /* tokens per nt_forward_batch call (prompts are cut into these) */
#define MODEL_ROWS 32     /* a task takes a multiple of this many weight rows (forward.c): a
                            * multiple of every repacked type's group (QUANT_F16X_ROWS) */
#define MODEL_CTX_DEFAULT_MAX 4096 /* n_ctx = 0: the trained context, capped at this */
#define MODEL_MAX_HEAD 1024 /* attention heads a file may declare (nt_model_load checks it) */

/* A weight matrix viewed in the mapping: (n_out, n_in), rows of row_bytes bytes. */
typedef struct model_mat {
    const char *name;     /* the tensor's name, owned by the nt_gguf */
    int type;             /* enum nt_type */
    int64_t n_in, n_out;  /* columns, rows */
    size_t row_bytes;
    const uint8_t *data;  /* n_out × row_bytes bytes inside the mapping */
    const float *bias;    /* (n_out) added to the product, or NULL */
} model_mat;

/* One transformer block. q_dim = n_head × head_dim, kv_dim = n_head_kv × head_dim.
 * A fused attn_qkv (phi3) is seen as the three row ranges wq, wk, wv; a fused ffn_up as
 * w_gate (first n_ff rows) and w_up (the rest): the products are the same, no copy. */
typedef struct model_layer {
    const float *attn_norm; /* (n_embd) RMSNorm weight before attention; NULL: ARCH_NO_PRE_NORM */
    model_mat wq;           /* (q_dim, n_embd), bias (q_dim) for qwen2 */
    model_mat wk;           /* (kv_dim, n_embd) */
    model_mat wv;           /* (kv_dim, n_embd) */
    model_mat wo;           /* (n_embd, q_dim) */
    const float *q_norm;    /* (head_dim) ARCH_QK_NORM: RMSNorm weight of each query head;
                               (q_dim) ARCH_QK_NORM_FULL: of all the query heads as one vector */
    const float *k_norm;    /* (head_dim) ... of each key head; (kv_dim) of all of them */
    const float *attn_post_norm; /* (n_embd) RMSNorm of the attention output, or NULL */
    const float *ffn_norm;  /* (n_embd) RMSNorm weight before the FFN; NULL: ARCH_NO_PRE_NORM */
    model_mat w_gate;       /* (n_ff, n_embd) */
    model_mat w_up;         /* (n_ff, n_embd) */
    model_mat w_down;       /* (n_embd, n_ff) */
    const float *ffn_post_norm;  /* (n_embd) RMSNorm of the FFN output, or NULL */
    model_mat wqkv;         /* (q_dim + 2 kv_dim, n_embd) ARCH_QKV_FUSED: seen as wq, wk, wv */
    model_mat w_gate_up;    /* (2 n_ff, n_embd) ARCH_FFN_FUSED: seen as w_gate, w_up */
    bool swa;               /* local layer: attends to the last n_swa positions only */
    /* ARCH_MOE instead of the three above; each *_exps views expert 0, the others follow
     * it at n_out × row_bytes apart (model_expert). */
    model_mat ffn_gate_inp; /* (n_expert, n_embd) router */
    model_mat gate_exps;    /* (n_ff_exp, n_embd) per expert */
    model_mat up_exps;      /* (n_ff_exp, n_embd) per expert */
    model_mat down_exps;    /* (n_embd, n_ff_exp) per expert */
} model_layer;

/* The matrices of a layer the forward pass multiplies with (those an architecture lacks have
 * data NULL): *out gets MODEL_LAYER_MATS pointers. */
#define MODEL_LAYER_MATS 11
static inline void model_layer_mats(model_layer *L, model_mat *out[MODEL_LAYER_MATS])
{
    model_mat *v[MODEL_LAYER_MATS] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down,
                                      &L->ffn_gate_inp, &L->gate_exps, &L->up_exps, &L->down_exps};
    for (int i = 0; i < MODEL_LAYER_MATS; i++) out[i] = v[i];
}

/* Expert e of a *_exps view. */
static inline model_mat model_expert(const model_mat *w, int32_t e)
{
    model_mat x = *w;
    x.data += (size_t)e * (size_t)w->n_out * w->row_bytes;
    return x;
}

/* Scratch of the forward pass, sized for MODEL_BATCH tokens; per-thread parts for the
 * current pool size. */
typedef struct model_scratch {
    float *x;        /* (MODEL_BATCH, n_embd) residual stream */
    float *xn;       /* (MODEL_BATCH, n_embd) normalised input of a sub-block */
    float *q;        /* (MODEL_BATCH, q_dim) rotated queries */
    float *att;      /* (MODEL_BATCH, q_dim) attention output, heads side by side */
    float *k;        /* (MODEL_BATCH, kv_dim) new keys, rotated, before the cache stores them */
    float *v;        /* (MODEL_BATCH, kv_dim) new values, before the cache stores them */
    float *h1, *h2;  /* (MODEL_BATCH, max(n_ff, n_ff_exp)) FFN gate and up */
    float *router;   /* (MODEL_BATCH, n_expert) router logits, then probabilities */
    float *moe_x;    /* (MODEL_BATCH, n_embd) the inputs of the tokens routed to one expert */
    float *moe_y;    /* (MODEL_BATCH, n_expert_used, n_embd) each token's expert outputs */
    int32_t *moe_sel; /* (MODEL_BATCH, n_expert_used) selected experts, best first */
    float *moe_w;    /* (MODEL_BATCH, n_expert_used) their weights */
    int32_t *moe_tok; /* (MODEL_BATCH) slots (token × n_expert_used + k) routed to one expert */
    float *rope;     /* (MODEL_BATCH, n_rot) cos, sin of each rotated pair, per token */
    float *rope_swa; /* (MODEL_BATCH, n_rot) the same for local layers, or NULL when they
                        rotate like the others */
    float *logits;   /* (MODEL_BATCH, n_vocab) logits of a batch (perplexity, nt_model_eval) */
    uint8_t *act[3]; /* (MODEL_BATCH, act_bytes) activations prepared for the matvec
                        path, one buffer per matrix of a lin_run call */
    size_t act_bytes; /* bytes of one token's prepared activation (64-byte multiple) */
    int n_threads;   /* per-thread parts below are sized for this many */
    float *scores;   /* (n_threads, n_head / n_head_kv, n_ctx) attention scores */
    uint8_t *att_act; /* (n_threads, att_act_bytes) a group's queries prepared for the
                         cache's type (att_q_bytes each), then one value row as f32 */
    size_t att_q_bytes, att_act_bytes;
} model_scratch;

/* How decoding uses the threads when their number was left to natter (n_threads 0): a step
 * of one token either shares its large jobs between the pool's threads (as prompts always do)
 * or runs every job on the calling thread, whichever the latest probe measured faster. Every
 * MODEL_TUNE_PERIOD steps, MODEL_TUNE_PROBE steps alternate the two ways (interleaved, so a
 * change in the machine's load hits both alike) and the faster total wins. Either way each
 * value is computed the same, so the choice never changes a result. */
#define MODEL_TUNE_PERIOD 256
#define MODEL_TUNE_PROBE 8
typedef struct model_tune {
    bool on;          /* the pool has several threads and their number was not given */
    bool single;      /* decoding runs on the calling thread only */
    bool now;         /* the step being run does (forward_pool reads it) */
    int32_t step;     /* decoding steps into the current period */
    double t[2];      /* probe: seconds of the shared [0] and single-thread [1] steps */
} model_tune;

struct nt_model {
    nt_gguf *g;           /* parts[0]: the metadata */
    nt_gguf **parts;      /* (n_parts) the files of a split model; tensors are in any of them */
    int n_parts;
    nt_tokenizer *tok;
    char *name;           /* general.name or the file's base name (malloc'd) */
    nt_model_info info;

    int32_t q_dim, kv_dim;
    const arch_desc *arch; /* the architecture's row */
    unsigned feat;         /* its features (enum arch_feature), with ARCH_MOE added for a
                              moe_variant file that has experts: forward.c tests these */
    float rope_freq_scale; /* 1 / linear scaling factor */
    const float *rope_freqs; /* (n_rot / 2) frequency divisors (Llama 3.1's rope_freqs, or
                                Phi-3's long or short factors for this context), or NULL */
    float rope_mscale;     /* rope.scaling.attn_factor: multiplies every cos and sin */
    float rope_base_swa;   /* rope base of local layers (no scaling, no divisors) */
    float att_scale;       /* multiplies q·k (1/sqrt(head_dim), or Gemma's query scaling) */
    float attn_softcap;    /* scores become c·tanh(s/c) when c > 0 */
    float final_softcap;   /* logits become c·tanh(l/c) when c > 0 */
    float embd_scale;      /* multiplies the embeddings (1, sqrt(n_embd) for Gemma, granite's
                              embedding_scale) */
    float res_scale;       /* multiplies a sub-block's output before the residual add (1, or
                              granite's residual_scale) */
    float logit_mul;       /* multiplies the logits (1, or 1 / granite's logit_scale) */
    int32_t n_swa;         /* sliding window of local layers (positions), 0: none */
    bool rope_yarn;       /* YaRN: mix interpolated and original angles (model_rope_yarn) */
    float rope_corr[2];   /* YaRN: first and last pair of the ramp */
    /* ARCH_MOE */
    int32_t n_expert, n_expert_used, n_ff_exp;
    bool moe_norm;        /* renormalise the selected experts' weights to sum 1 */
    float moe_scale;      /* then multiply them by this (1: not at all) */
    bool moe_sigmoid;     /* router probabilities by sigmoid instead of softmax */

    model_mat tok_embd;   /* (n_vocab, n_embd) */
    const float *out_norm; /* (n_embd) */
    model_mat output;     /* (n_vocab, n_embd): output.weight, or token_embd when tied */
    model_layer *layers;  /* (n_layer) */
    float **owned;        /* f32 copies of vectors that were not plain aligned F32 */
    int n_owned;
    void **packed;        /* the x8 copies of Q4_0..Q8_0 and Q4_K..Q6_K matrices (nt_model_pack) */
    int n_packed;
    bool pack_done;       /* nt_model_pack has run */

    kv_cache kv;
    int64_t n_evaluated;  /* tokens run by nt_model_eval* since loading (nt_model_n_evaluated) */
    pool *pool;
    model_tune tune;
    nt_model_hooks hooks;
    model_scratch s;
};

/* Repacks the matrices of the types that have an x8 form (nt_quant_x8_type) that the forward
 * pass multiplies into memory of their own, once (nt_forward_batch's first call runs
 * it). A matrix it cannot repack (rows not a multiple of 8, no memory, or more than the memory
 * budget) stays as it is, computed as before. */
void nt_model_pack(nt_model *m);

/* forward.c */

/* Allocates the scratch (and its per-thread parts for the pool's size). */
int nt_forward_scratch_init(nt_model *m, nt_err *err);
/* Re-sizes the per-thread parts after the pool changed. */
int nt_forward_scratch_threads(nt_model *m, nt_err *err);
void nt_forward_scratch_free(nt_model *m);

/* Runs n (1..MODEL_BATCH) tokens at positions kv.n_past.. through the model and, on success,
 * advances kv.n_past by n. Logits: when all is true, logits receives n × n_vocab floats (one
 * row per token); otherwise, when logits is not NULL, the last token's n_vocab floats.
 * Returns NT_OK or NT_ERR_CANCELLED (cache unchanged). Callers check ids and room. */
int nt_forward_batch(nt_model *m, const int32_t *tokens, int32_t n, float *logits, bool all);

#endif
