/* Tiny `smollm3`: the llama block with rope left out of every 4th layer; 4 layers, so the
 * last one is a no-rope layer (and a wrong pattern changes the numbers). */
#include "tiny.h"

int tiny_smollm3(const char *path, const char *vocab_path, nt_err *err)
{
    const tiny_shape s = {
        .arch = "smollm3", .seed = 0x5a013, .n_embd = 128, .n_layer = 4, .n_head = 4,
        .n_head_kv = 2, .n_ff = 256, .n_ctx = 256, .rope_base = 5000000.0f,
    };
    return tiny_write_shape(&s, path, vocab_path, err);
}
