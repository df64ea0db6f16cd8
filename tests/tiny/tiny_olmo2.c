/* Tiny `olmo2`: no norm before attention or the FFN (they read the residual stream as it
 * is), RMS norms of their outputs before each residual add (post_attention_norm,
 * post_ffw_norm), Q and K each RMS-normed as one vector across all heads (q_dim and kv_dim
 * weights) before NEOX rope, grouped-query attention (4 query heads, 2 KV heads: llama.cpp
 * sizes attn_k_norm by the KV width), rope base 500000 as OLMo 2 has, no biases.
 * olmo2-swa is OLMo 3's layout in the same architecture: a 16-position sliding window on
 * three layers of every four (0-2 local, 3 global) and YaRN scaling (factor 4 over an
 * original 64 positions, base 10000 so the ramp spans several pairs), which only the
 * global layers get. */
#include "tiny.h"

#include <math.h>
#include <stdio.h>

enum { O_EMBD = 128, O_LAYER = 2, O_HEAD = 4, O_HEAD_KV = 2, O_FF = 256, O_CTX = 256 };

static int tiny_olmo(const char *path, const char *vocab_path, bool swa, nt_err *err)
{
    tiny_gen g;
    tiny_init(&g, "olmo2", swa ? 0x01a03 : 0x01a02, vocab_path, err);
    const int n_layer = swa ? 4 : O_LAYER;
    const int64_t E = O_EMBD, HD = O_EMBD / O_HEAD, Q = O_HEAD * HD, KV = O_HEAD_KV * HD, F = O_FF;
    const float in_e = 1.0f / sqrtf((float)E);
    char name[96];
    tiny_u32(&g, "context_length", O_CTX);
    tiny_u32(&g, "embedding_length", O_EMBD);
    tiny_u32(&g, "block_count", (uint32_t)n_layer);
    tiny_u32(&g, "feed_forward_length", O_FF);
    tiny_u32(&g, "attention.head_count", O_HEAD);
    tiny_u32(&g, "attention.head_count_kv", O_HEAD_KV);
    tiny_u32(&g, "rope.dimension_count", (uint32_t)HD);
    tiny_f32(&g, "rope.freq_base", swa ? 10000.0f : 500000.0f);
    if (swa) {
        tiny_u32(&g, "attention.sliding_window", 16);
        tiny_str(&g, "rope.scaling.type", "yarn");
        tiny_f32(&g, "rope.scaling.factor", 4.0f);
        tiny_u32(&g, "rope.scaling.original_context_length", 64);
    }
    tiny_f32(&g, "attention.layer_norm_rms_epsilon", 1e-6f);
    tiny_u32(&g, "vocab_size", (uint32_t)g.n_vocab);

    g.embd = tiny_rand(&g, "token_embd.weight", 2, (const int64_t[]){E, g.n_vocab}, 1.7f);
    tiny_norm(&g, "output_norm.weight", E, 0.1f);
    tiny_output_permuted(&g, E);
    for (int il = 0; il < n_layer; il++) {
#define NAME(x) (snprintf(name, sizeof name, "blk.%d." x, il), name)
#define MAT(x, in, out, a) tiny_rand(&g, NAME(x), 2, (const int64_t[]){in, out}, a)
        MAT("attn_q.weight", E, Q, 1.7f * in_e);
        MAT("attn_k.weight", E, KV, 1.7f * in_e);
        MAT("attn_v.weight", E, KV, 1.7f * in_e);
        MAT("attn_output.weight", Q, E, 1.7f / sqrtf((float)Q));
        /* After the whole-vector norm each value is about unit size: the weights around 2
         * make attention sharp enough that perplexity depends on the context. */
        float *qn = tiny_rand(&g, NAME("attn_q_norm.weight"), 1, &Q, 0.5f);
        float *kn = tiny_rand(&g, NAME("attn_k_norm.weight"), 1, &KV, 0.5f);
        for (int64_t i = 0; qn && i < Q; i++) qn[i] += 2.0f;
        for (int64_t i = 0; kn && i < KV; i++) kn[i] += 2.0f;
        tiny_norm(&g, NAME("post_attention_norm.weight"), E, 0.3f);
        MAT("ffn_gate.weight", E, F, 1.7f * in_e);
        MAT("ffn_up.weight", E, F, 1.7f * in_e);
        MAT("ffn_down.weight", F, E, 1.7f / sqrtf((float)F));
        tiny_norm(&g, NAME("post_ffw_norm.weight"), E, 0.3f);
#undef MAT
#undef NAME
    }
    int rc = tiny_write(&g, path, err);
    tiny_free(&g);
    return rc;
}

int tiny_olmo2(const char *path, const char *vocab_path, nt_err *err)
{
    return tiny_olmo(path, vocab_path, false, err);
}

int tiny_olmo2_swa(const char *path, const char *vocab_path, nt_err *err)
{
    return tiny_olmo(path, vocab_path, true, err);
}
