/* Tiny `llama`: the plain Llama block (a control: llama is checked against llama.cpp's own
 * fixtures too, so this one checks the tiny-model pipeline itself). */
#include "tiny.h"

int tiny_llama(const char *path, const char *vocab_path, nt_err *err)
{
    const tiny_shape s = {
        .arch = "llama", .seed = 0x11a3a, .n_embd = 128, .n_layer = 2, .n_head = 4,
        .n_head_kv = 2, .n_ff = 256, .n_ctx = 256, .rope_base = 10000.0f,
    };
    return tiny_write_shape(&s, path, vocab_path, err);
}
