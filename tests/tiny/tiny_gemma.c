/* Tiny `gemma2` and `gemma3`. Both: tied embeddings scaled by sqrt(n_embd), GeGLU, RMS
 * norms before and after attention and FFN (stored as llama.cpp's converter writes them,
 * Gemma's +1 already added: weights around 1), a head size (32) that is not n_embd / n_head
 * (16), grouped-query attention, a 16-position sliding window on local layers (far shorter
 * than the tests' 128-position chunks), and Gemma's chat template with its two control
 * tokens appended to the vocabulary.
 * gemma2: local and global layers alternate (0, 2 local); scores soft-capped at 8 and
 * logits at 6 (the real models' 50 and 30 are never reached by random weights).
 * gemma3: five local layers per global one (0-4 local, 5 global), per-head Q/K norms,
 * global rope base 1e6 with linear scaling 4, local base 10000 unscaled. */
#include "tiny.h"

#include <math.h>
#include <stdio.h>

enum { G_EMBD = 64, G_HEAD = 4, G_HEAD_KV = 2, G_HEAD_DIM = 32, G_FF = 160, G_CTX = 2048, G_SWA = 16 };

static const char *const gemma_controls[] = {"<start_of_turn>", "<end_of_turn>"};
static const tiny_chat gemma_chat = {
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}"
    "{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}",
    gemma_controls, 2,
};

/* Hyperparameters and tensors both share; qk_norm adds Gemma 3's per-head norms. */
static void tiny_gemma_block(tiny_gen *g, int n_layer, bool qk_norm)
{
    const int64_t E = G_EMBD, Q = G_HEAD * G_HEAD_DIM, KV = G_HEAD_KV * G_HEAD_DIM, F = G_FF, V = g->n_vocab;
    const float in_e = 1.0f / sqrtf((float)E);
    char name[96];
    tiny_u32(g, "context_length", G_CTX);
    tiny_u32(g, "embedding_length", G_EMBD);
    tiny_u32(g, "block_count", (uint32_t)n_layer);
    tiny_u32(g, "feed_forward_length", G_FF);
    tiny_u32(g, "attention.head_count", G_HEAD);
    tiny_u32(g, "attention.head_count_kv", G_HEAD_KV);
    tiny_u32(g, "attention.key_length", G_HEAD_DIM);
    tiny_u32(g, "attention.value_length", G_HEAD_DIM);
    tiny_f32(g, "attention.layer_norm_rms_epsilon", 1e-6f);
    tiny_u32(g, "attention.sliding_window", G_SWA);

    /* Embeddings of about 0.1 per value, times sqrt(64): unit-size inputs. The tied output
     * then sees them again: the output norm's weights around 3 spread the logits. */
    g->embd = tiny_rand(g, "token_embd.weight", 2, (const int64_t[]){E, V}, 0.2f);
    float *on = tiny_rand(g, "output_norm.weight", 1, &E, 0.5f);
    for (int64_t i = 0; on && i < E; i++) on[i] += 3.0f;
    for (int il = 0; il < n_layer; il++) {
#define NAME(x) (snprintf(name, sizeof name, "blk.%d." x, il), name)
#define MAT(x, in, out, a) tiny_rand(g, NAME(x), 2, (const int64_t[]){in, out}, a)
        tiny_norm(g, NAME("attn_norm.weight"), E, 0.1f);
        MAT("attn_q.weight", E, Q, 3.0f * 1.7f * in_e);
        MAT("attn_k.weight", E, KV, 3.0f * 1.7f * in_e);
        MAT("attn_v.weight", E, KV, 1.7f * in_e);
        if (qk_norm) {
            /* After the per-head norm each head is unit size: the gain goes into its weight. */
            const int64_t h = G_HEAD_DIM;
            float *qn = tiny_rand(g, NAME("attn_q_norm.weight"), 1, &h, 0.5f);
            float *kn = tiny_rand(g, NAME("attn_k_norm.weight"), 1, &h, 0.5f);
            for (int64_t i = 0; qn && kn && i < h; i++) {
                qn[i] += 2.0f;
                kn[i] += 2.0f;
            }
        }
        MAT("attn_output.weight", Q, E, 1.7f / sqrtf((float)Q));
        tiny_norm(g, NAME("post_attention_norm.weight"), E, 0.3f);
        tiny_norm(g, NAME("ffn_norm.weight"), E, 0.1f);
        MAT("ffn_gate.weight", E, F, 2.0f * 1.7f * in_e);
        MAT("ffn_up.weight", E, F, 1.7f * in_e);
        MAT("ffn_down.weight", F, E, 1.7f / sqrtf((float)F));
        tiny_norm(g, NAME("post_ffw_norm.weight"), E, 0.3f);
#undef MAT
#undef NAME
    }
}

int tiny_gemma2(const char *path, const char *vocab_path, nt_err *err)
{
    tiny_gen g;
    if (tiny_init_chat(&g, "gemma2", 0x6e2, vocab_path, &gemma_chat, err) == NT_OK) {
        tiny_f32(&g, "attn_logit_softcapping", 8.0f);
        tiny_f32(&g, "final_logit_softcapping", 6.0f);
        tiny_gemma_block(&g, 4, false);
    }
    int rc = tiny_write(&g, path, err);
    tiny_free(&g);
    return rc;
}

int tiny_gemma3(const char *path, const char *vocab_path, nt_err *err)
{
    tiny_gen g;
    if (tiny_init_chat(&g, "gemma3", 0x6e3, vocab_path, &gemma_chat, err) == NT_OK) {
        tiny_f32(&g, "rope.freq_base", 1000000.0f);
        tiny_str(&g, "rope.scaling.type", "linear");
        tiny_f32(&g, "rope.scaling.factor", 4.0f);
        tiny_gemma_block(&g, 6, true);
    }
    int rc = tiny_write(&g, path, err);
    tiny_free(&g);
    return rc;
}
