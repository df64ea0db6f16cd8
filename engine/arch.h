/* arch.h — the architectures natter runs, as data (engine-internal).
 *
 * Every architecture is one row of a table (arch.c): its general.architecture name and the
 * features its blocks use. The loader (model.c) reads the hyperparameters and tensors a
 * feature needs, the forward pass (forward.c) tests feature flags: neither compares
 * architecture names. Adding an architecture that only combines existing features is one
 * row; a new feature is a flag, its tensors in arch_layer_tensors and its step in forward.c.
 *
 * Hyperparameters are read as llama.cpp names them, "<arch>.<key>" (llama.block_count,
 * qwen3.attention.key_length, ...); tensors are "blk.<i>.<name>" and the few global ones. */
#ifndef NATTER_ARCH_H
#define NATTER_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Features of an architecture's blocks. */
enum arch_feature {
    ARCH_QKV_BIAS = 1u << 0,      /* Q/K/V projections always carry biases (qwen2) */
    ARCH_ROPE_NEOX = 1u << 1,     /* rope pairs (i, i + n_rot/2) ("NEOX"), not (2i, 2i + 1) */
    ARCH_QK_NORM = 1u << 2,       /* per-head RMS norm of Q and K (head_dim weights) before
                                     rope (qwen3, gemma3) */
    ARCH_MOE = 1u << 3,           /* the FFN is a mixture of experts: a router (ffn_gate_inp)
                                     and 3-D expert tensors ffn_{gate,up,down}_exps instead of
                                     ffn_gate/up/down; other architectures refuse a file with
                                     <arch>.expert_count unless arch_desc.moe_variant */
    ARCH_POST_NORM = 1u << 4,     /* RMS norms after attention and after the FFN too, their
                                     outputs normalised before the residual add (gemma2/3) */
    ARCH_GELU = 1u << 5,          /* FFN gate activation gelu (tanh form), not silu (gemma) */
    ARCH_EMBD_SCALE = 1u << 6,    /* embeddings multiplied by sqrt(n_embd) (gemma) */
    ARCH_SOFTCAP = 1u << 7,       /* attention scores and logits soft-capped, c·tanh(x/c)
                                     (gemma2: attn_logit_softcapping, final_logit_softcapping) */
    ARCH_QKV_FUSED = 1u << 8,     /* one attn_qkv matrix: Q, K, V rows one after the other (phi3) */
    ARCH_FFN_FUSED = 1u << 9,     /* ffn_up holds gate then up rows; no ffn_gate (phi3) */
    ARCH_ROPE_LONG_SHORT = 1u << 10, /* rope_factors_long/short divide the rotary frequencies
                                     when the context is above / within
                                     rope.scaling.original_context_length (phi3 LongRoPE) */
    ARCH_MULTIPLIERS = 1u << 11,  /* granite's multipliers: <arch>.logit_scale (logits divided by
                                     it, required), and when present embedding_scale,
                                     residual_scale (each sub-block's output before the add),
                                     attention.scale (replaces 1/sqrt(head_dim)) */
    ARCH_NOROPE_LAYERS = 1u << 12, /* layer il leaves rope out when (il + 1) % norope_step == 0
                                     (smollm3's "NoPE" layers) */
    ARCH_NO_PRE_NORM = 1u << 13,  /* no attn_norm / ffn_norm: attention and FFN read the residual
                                     stream as it is (olmo2: its norms are the post-norms) */
    ARCH_QK_NORM_FULL = 1u << 14, /* RMS norm of the whole Q and K projections (q_dim and kv_dim
                                     weights, across heads) before rope (olmo2) */
};

typedef struct arch_desc {
    const char *name;      /* general.architecture */
    unsigned feat;         /* enum arch_feature bits */
    /* Sliding-window attention (with <arch>.attention.sliding_window > 0): layer il is local
     * (sees the last n_swa positions) when il % swa_pattern < swa_pattern - 1. */
    int32_t swa_pattern;   /* 0: no local layers */
    int32_t swa_default;   /* window when the file has no sliding_window key; 0: none */
    float swa_rope_base;   /* rope base of local layers, never scaled; 0: like global ones */
    bool swa_plain_rope;   /* local layers leave out the attention factor and YaRN's magnitude
                              correction too (OLMo 3), not only the frequency scaling */
    /* Gemma: the 27B model (this many layers) scales queries by 1/sqrt(n_embd / n_head), its
     * query_pre_attn_scalar, instead of 1/sqrt(head_dim) as every other size; 0: never. */
    int32_t wide_query_layers;
    bool moe_norm;         /* ARCH_MOE: default of <arch>.expert_weights_norm (the selected
                              experts' weights renormalised to sum 1) */
    bool moe_variant;      /* a file with <arch>.expert_count > 0 has ARCH_MOE, its experts
                              feed_forward_length wide (Mixtral is "llama" with experts) */
    int32_t norope_step;   /* ARCH_NOROPE_LAYERS: every norope_step-th layer has no rope; the
                              GGUF has no key for it, llama.cpp fixes it per architecture */
} arch_desc;

/* The row for the name (n bytes, not NUL-terminated), or NULL. */
const arch_desc *arch_find(const char *name, size_t n);
/* "llama, qwen2, ..." — every supported name, for error messages and `natter info`. */
const char *arch_list(void);
/* The same for the architectures with a mixture of experts. */
const char *arch_moe_list(void);

/* The sizes a block tensor's dimensions are checked against. */
enum arch_dim {
    ARCH_D_1,       /* a vector: no second dimension */
    ARCH_D_EMBD,    /* n_embd */
    ARCH_D_FF,      /* n_ff */
    ARCH_D_Q,       /* n_head × head_dim */
    ARCH_D_KV,      /* n_head_kv × head_dim */
    ARCH_D_HEAD,    /* head_dim */
    ARCH_D_QKV,     /* q_dim + 2 × kv_dim (a fused attn_qkv) */
    ARCH_D_FF2,     /* 2 × n_ff (a fused gate and up) */
    ARCH_D_EXPERT,  /* n_expert */
    ARCH_D_FF_EXP,  /* n_ff_exp: one expert's FFN width */
};

enum arch_kind {
    ARCH_T_VEC,   /* const float * (dims in): norms */
    ARCH_T_MAT,   /* model_mat (in, out) */
    ARCH_T_BIAS,  /* the bias (in) of the model_mat at off */
    ARCH_T_EXPS,  /* model_mat (in, out) of one expert, the n_expert experts stored one after
                     the other as a 3-D tensor (in, out, n_expert) */
};

/* One tensor of a block: "blk.<i>.<name>". It is looked up when the architecture has every
 * feature in `when` and none in `unless`; then it is required unless `optional`, and an
 * optional one is still required when the architecture has a feature in `required_by`. */
typedef struct arch_tensor {
    const char *name;
    enum arch_kind kind;
    size_t off;           /* offsetof(model_layer, field) */
    enum arch_dim in, out;
    unsigned when, unless;
    bool optional;
    unsigned required_by;
} arch_tensor;

extern const arch_tensor arch_layer_tensors[];
extern const size_t arch_n_layer_tensors;

#endif
