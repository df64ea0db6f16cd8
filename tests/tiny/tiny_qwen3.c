/* Tiny `qwen3`: per-head RMS norm of Q and K before rope, NEOX rope, no biases, and a head
 * size set by key_length (64) so that n_head × head_dim (256) differs from n_embd (128),
 * as in the real Qwen3 models. */
#include "tiny.h"

int tiny_qwen3(const char *path, const char *vocab_path, nt_err *err)
{
    const tiny_shape s = {
        .arch = "qwen3", .seed = 0x9e3, .n_embd = 128, .n_layer = 2, .n_head = 4,
        .n_head_kv = 2, .head_dim = 64, .n_ff = 256, .n_ctx = 256, .rope_base = 1000000.0f,
        .qk_norm = true,
    };
    tiny_gen g;
    if (tiny_init(&g, s.arch, s.seed, vocab_path, err) == NT_OK) tiny_block_model(&g, &s);
    int rc = tiny_write(&g, path, err);
    tiny_free(&g);
    return rc;
}
