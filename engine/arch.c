/* The architecture table and the block tensor table declared in arch.h: which features each
 * architecture's blocks use, and which tensors each feature brings. Names and keys are
 * llama.cpp's (src/llama-arch.cpp), so GGUF files converted by its tools load as they are. */
#include "arch.h"
#include "model.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const arch_desc arch_table[] = {
    /* Llama 2/3.x, TinyLlama, Mistral, SmolLM/SmolLM2, DeepSeek-LLM: the plain block.
     * Mixtral: the same with experts (softmax router, the top k renormalised), as llama.cpp
     * runs a "llama" file that has expert_count. */
    {.name = "llama", .moe_norm = true, .moe_variant = true},
    /* Qwen2/2.5: biases on Q/K/V, NEOX rope. */
    {.name = "qwen2", .feat = ARCH_QKV_BIAS | ARCH_ROPE_NEOX},
    /* Qwen3 (dense): no biases, per-head Q/K norms, NEOX rope. */
    {.name = "qwen3", .feat = ARCH_QK_NORM | ARCH_ROPE_NEOX},
    /* Gemma 2: local and global layers alternate, local first, with a 4096-position window
     * when the file does not give one (llama.cpp's defaults); soft-capped scores and logits. */
    {.name = "gemma2", .feat = ARCH_ROPE_NEOX | ARCH_POST_NORM | ARCH_GELU | ARCH_EMBD_SCALE | ARCH_SOFTCAP,
     .swa_pattern = 2, .swa_default = 4096, .wide_query_layers = 46},
    /* Gemma 3 (text): five local layers per global one, rotated with base 10000 and no
     * scaling whatever rope.freq_base and rope.scaling say (they are the global layers'). */
    {.name = "gemma3", .feat = ARCH_ROPE_NEOX | ARCH_POST_NORM | ARCH_GELU | ARCH_EMBD_SCALE | ARCH_QK_NORM,
     .swa_pattern = 6, .swa_rope_base = 10000.0f, .wide_query_layers = 62},
    /* Phi-3, Phi-3.5-mini, Phi-4-mini: fused Q/K/V and gate/up, LongRoPE factors. Their files
     * may carry a sliding_window, which llama.cpp ignores (its conversion is wrong): so do we. */
    {.name = "phi3", .feat = ARCH_ROPE_NEOX | ARCH_QKV_FUSED | ARCH_FFN_FUSED | ARCH_ROPE_LONG_SHORT},
    /* IBM Granite 3.x (dense): the Llama block with four multipliers. */
    {.name = "granite", .feat = ARCH_MULTIPLIERS},
    /* Qwen3 MoE (30B-A3B, ...): qwen3's attention, a mixture-of-experts FFN (softmax router,
     * top-k experts, their weights renormalised). */
    {.name = "qwen3moe", .feat = ARCH_QK_NORM | ARCH_ROPE_NEOX | ARCH_MOE, .moe_norm = true},
    /* SmolLM3: the llama block, with rope left out of every 4th layer (3, 7, 11, ...). */
    {.name = "smollm3", .feat = ARCH_NOROPE_LAYERS, .norope_step = 4},
    /* OLMo 2 (and OLMo 3, converted as olmo2): no norm before attention or the FFN, RMS norms
     * of their outputs before the residual adds, Q and K normalised over the whole projection,
     * NEOX rope. A file with a sliding_window has three local layers per global one (OLMo 3),
     * rotated with no scaling of any kind. */
    {.name = "olmo2", .feat = ARCH_NO_PRE_NORM | ARCH_POST_NORM | ARCH_QK_NORM_FULL | ARCH_ROPE_NEOX,
     .swa_pattern = 4, .swa_plain_rope = true},
};

#define ARCH_N (sizeof arch_table / sizeof arch_table[0])

const arch_desc *arch_find(const char *name, size_t n)
{
    for (size_t i = 0; i < ARCH_N; i++)
        if (strlen(arch_table[i].name) == n && memcmp(arch_table[i].name, name, n) == 0)
            return &arch_table[i];
    return NULL;
}

/* "a, b, c" of the architectures (only those that can have experts when moe), into buf. */
static const char *arch_join(char *buf, size_t cap, bool moe)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < ARCH_N && o < cap; i++)
        if (!moe || (arch_table[i].feat & ARCH_MOE) || arch_table[i].moe_variant)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", arch_table[i].name);
    return buf;
}

const char *arch_list(void)
{
    static char list[256];
    return list[0] ? list : arch_join(list, sizeof list, false);
}

const char *arch_moe_list(void)
{
    static char list[256];
    return list[0] ? list : arch_join(list, sizeof list, true);
}

/* name, kind, model_layer field, dims, when, unless, optional, required_by (arch.h) */
#define T(name, kind, field, in, out, when, unless, opt, req_by)                                  \
    {name, ARCH_T_##kind, offsetof(model_layer, field), ARCH_D_##in, ARCH_D_##out, when, unless,   \
     opt, req_by}

const arch_tensor arch_layer_tensors[] = {
    T("attn_norm.weight", VEC, attn_norm, EMBD, 1, 0, ARCH_NO_PRE_NORM, false, 0),
    T("attn_q.weight", MAT, wq, EMBD, Q, 0, ARCH_QKV_FUSED, false, 0),
    T("attn_k.weight", MAT, wk, EMBD, KV, 0, ARCH_QKV_FUSED, false, 0),
    T("attn_v.weight", MAT, wv, EMBD, KV, 0, ARCH_QKV_FUSED, false, 0),
    T("attn_qkv.weight", MAT, wqkv, EMBD, QKV, ARCH_QKV_FUSED, 0, false, 0),
    T("attn_output.weight", MAT, wo, Q, EMBD, 0, 0, false, 0),
    T("attn_q_norm.weight", VEC, q_norm, HEAD, 1, ARCH_QK_NORM, 0, false, 0),
    T("attn_k_norm.weight", VEC, k_norm, HEAD, 1, ARCH_QK_NORM, 0, false, 0),
    T("attn_q_norm.weight", VEC, q_norm, Q, 1, ARCH_QK_NORM_FULL, 0, false, 0),
    T("attn_k_norm.weight", VEC, k_norm, KV, 1, ARCH_QK_NORM_FULL, 0, false, 0),
    T("post_attention_norm.weight", VEC, attn_post_norm, EMBD, 1, ARCH_POST_NORM, 0, false, 0),
    T("ffn_norm.weight", VEC, ffn_norm, EMBD, 1, 0, ARCH_NO_PRE_NORM, false, 0),
    T("ffn_gate.weight", MAT, w_gate, EMBD, FF, 0, ARCH_MOE | ARCH_FFN_FUSED, false, 0),
    T("ffn_up.weight", MAT, w_up, EMBD, FF, 0, ARCH_MOE | ARCH_FFN_FUSED, false, 0),
    T("ffn_up.weight", MAT, w_gate_up, EMBD, FF2, ARCH_FFN_FUSED, ARCH_MOE, false, 0),
    T("ffn_down.weight", MAT, w_down, FF, EMBD, 0, ARCH_MOE, false, 0),
    T("post_ffw_norm.weight", VEC, ffn_post_norm, EMBD, 1, ARCH_POST_NORM, 0, false, 0),
    T("ffn_gate_inp.weight", MAT, ffn_gate_inp, EMBD, EXPERT, ARCH_MOE, 0, false, 0),
    T("ffn_gate_exps.weight", EXPS, gate_exps, EMBD, FF_EXP, ARCH_MOE, 0, false, 0),
    T("ffn_up_exps.weight", EXPS, up_exps, EMBD, FF_EXP, ARCH_MOE, 0, false, 0),
    T("ffn_down_exps.weight", EXPS, down_exps, FF_EXP, EMBD, ARCH_MOE, 0, false, 0),
    /* Biases, after every matrix (each belongs to the matrix viewed above). Some llama
     * checkpoints carry them; qwen2 always has the Q/K/V ones. */
    T("attn_q.bias", BIAS, wq, Q, 1, 0, ARCH_QKV_FUSED, true, ARCH_QKV_BIAS),
    T("attn_k.bias", BIAS, wk, KV, 1, 0, ARCH_QKV_FUSED, true, ARCH_QKV_BIAS),
    T("attn_v.bias", BIAS, wv, KV, 1, 0, ARCH_QKV_FUSED, true, ARCH_QKV_BIAS),
    T("attn_qkv.bias", BIAS, wqkv, QKV, 1, ARCH_QKV_FUSED, 0, true, ARCH_QKV_BIAS),
    T("attn_output.bias", BIAS, wo, EMBD, 1, 0, 0, true, 0),
    T("ffn_gate.bias", BIAS, w_gate, FF, 1, 0, ARCH_MOE | ARCH_FFN_FUSED, true, 0),
    T("ffn_up.bias", BIAS, w_up, FF, 1, 0, ARCH_MOE | ARCH_FFN_FUSED, true, 0),
    T("ffn_down.bias", BIAS, w_down, EMBD, 1, 0, ARCH_MOE, true, 0),
};

const size_t arch_n_layer_tensors = sizeof arch_layer_tensors / sizeof arch_layer_tensors[0];
