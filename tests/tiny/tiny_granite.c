/* Tiny `granite`: the Llama block with Granite's four multipliers, each far enough from 1
 * (or from 1/sqrt(head_dim) = 0.177 for the attention) that leaving one out moves the
 * perplexity by much more than the tests' tolerance: embeddings × 2.5, each sub-block's
 * output × 0.6 before its residual add, attention scores × 0.3, logits / 1.6. */
#include "tiny.h"

int tiny_granite(const char *path, const char *vocab_path, nt_err *err)
{
    const tiny_shape s = {
        .arch = "granite", .seed = 0x6a7, .n_embd = 128, .n_layer = 2, .n_head = 4,
        .n_head_kv = 2, .n_ff = 256, .n_ctx = 256, .rope_base = 10000.0f,
    };
    tiny_gen g;
    if (tiny_init(&g, s.arch, s.seed, vocab_path, err) == NT_OK) {
        tiny_f32(&g, "embedding_scale", 2.5f);
        tiny_f32(&g, "residual_scale", 0.6f);
        tiny_f32(&g, "attention.scale", 0.3f);
        tiny_f32(&g, "logit_scale", 1.6f);
        tiny_block_model(&g, &s);
    }
    int rc = tiny_write(&g, path, err);
    tiny_free(&g);
    return rc;
}
