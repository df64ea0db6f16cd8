/* Tiny `qwen3moe`: qwen3's attention and a mixture-of-experts FFN, 8 experts of width 64,
 * 2 chosen per token by a softmax router (their weights renormalised, the architecture's
 * default). Dense feed_forward_length is written too (as converted files carry it) but
 * unused. qwen3moe-mxfp4 is the same shape (another seed) with its expert tensors in MXFP4,
 * as gpt-oss stores its experts: the type checked inside a whole model against llama.cpp. */
#include "tiny.h"

static const tiny_shape tiny_qwen3moe_shape = {
    .arch = "qwen3moe", .seed = 0x3e0e, .n_embd = 128, .n_layer = 2, .n_head = 4,
    .n_head_kv = 2, .head_dim = 64, .n_ff = 256, .n_ctx = 256, .rope_base = 1000000.0f,
    .qk_norm = true, .n_expert = 8, .n_expert_used = 2, .n_ff_exp = 64,
};

int tiny_qwen3moe(const char *path, const char *vocab_path, nt_err *err)
{
    return tiny_write_shape(&tiny_qwen3moe_shape, path, vocab_path, err);
}

int tiny_qwen3moe_mxfp4(const char *path, const char *vocab_path, nt_err *err)
{
    tiny_shape s = tiny_qwen3moe_shape;
    s.seed = 0x3e0f;
    s.exps_type = NT_TYPE_MXFP4;
    return tiny_write_shape(&s, path, vocab_path, err);
}
