/* Tiny Mixtral: the `llama` architecture with experts, as Mixtral's files are: 8 experts, 2
 * chosen per token by a softmax router (their weights renormalised), each expert
 * feed_forward_length wide; no expert_feed_forward_length key, as converted Mixtral files
 * have none. The experts are wide enough (2 × 3 × 384 × 128 floats a token) for decoding to
 * share them among threads, which test_arch's thread test then covers. */
#include "tiny.h"

int tiny_mixtral(const char *path, const char *vocab_path, nt_err *err)
{
    const tiny_shape s = {
        .arch = "llama", .seed = 0x3170, .n_embd = 128, .n_layer = 2, .n_head = 4,
        .n_head_kv = 2, .n_ff = 384, .n_ctx = 256, .rope_base = 1000000.0f,
        .n_expert = 8, .n_expert_used = 2,
    };
    return tiny_write_shape(&s, path, vocab_path, err);
}
