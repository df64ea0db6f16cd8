/* Tiny `qwen3`: per-head RMS norm of Q and K before rope, NEOX rope, no biases, and a head
 * size set by key_length (64) so that n_head × head_dim (256) differs from n_embd (128),
 * as in the real Qwen3 models. The second one adds YaRN rope scaling as Qwen3's long-context
 * files declare it (factor 4 over an original context of 64: the perplexity's 128-token
 * chunks go past it). The third, qwen3-think, is the first with Qwen3's chat markup: a ChatML
 * template that reads enable_thinking (as Qwen3's does, shortened), so natter's thinking
 * switch (/think, --think, a persona's think:) has something to set; its weights are the
 * first one's with another seed. */
#include "tiny.h"

static const tiny_shape tiny_qwen3_shape = {
    .arch = "qwen3", .seed = 0x9e3, .n_embd = 128, .n_layer = 2, .n_head = 4,
    .n_head_kv = 2, .head_dim = 64, .n_ff = 256, .n_ctx = 256, .rope_base = 1000000.0f,
    .qk_norm = true,
};

int tiny_qwen3(const char *path, const char *vocab_path, nt_err *err)
{
    return tiny_write_shape(&tiny_qwen3_shape, path, vocab_path, err);
}

int tiny_qwen3_yarn(const char *path, const char *vocab_path, nt_err *err)
{
    tiny_shape s = tiny_qwen3_shape;
    s.seed = 0x9e3a;
    s.rope_base = 10000.0f; /* so that the ramp spans several of the 32 pairs */
    s.rope_scaling = "yarn";
    s.rope_factor = 4.0f;
    s.rope_orig_ctx = 64;
    return tiny_write_shape(&s, path, vocab_path, err);
}

static const tiny_chat qwen3_think_chat = {
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}",
    NULL, 0,
};

int tiny_qwen3_think(const char *path, const char *vocab_path, nt_err *err)
{
    tiny_shape s = tiny_qwen3_shape;
    s.seed = 0x9e3b;
    tiny_gen g;
    if (tiny_init_chat(&g, s.arch, s.seed, vocab_path, &qwen3_think_chat, err) == NT_OK)
        tiny_block_model(&g, &s);
    int rc = tiny_write(&g, path, err);
    tiny_free(&g);
    return rc;
}
