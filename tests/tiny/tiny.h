/* tiny.h — the tiny random-weight models the architecture tests run (tests/test_arch.c) and
 * the reference script measures (tests/tiny/ref.mjs): one small file per architecture,
 * written with natter's GGUF writer in well under a second, bit-identical on every machine
 * (a portable PRNG, util/rng.h), so the reference figures committed in tests/tiny/refs.tsv
 * stay valid. test_arch checks each file's hash against the one stored there.
 *
 * How the weights are chosen matters for what the tests can see (as for the fixtures'
 * tiny models, ../shared/fixtures/README.md): output.weight is a permuted copy of the
 * embeddings, so the greedy next token is mostly the permutation of the current one with a
 * wide margin (greedy ids check tokenization, embeddings, output layer and the generation
 * loop without near-ties); Q and K are scaled up so that attention is sharp and perplexity
 * depends on the whole context (attention, rope and the KV cache).
 *
 * The tokenizer is copied from a GGUF in the repository (TINY_VOCAB_FILE, the default model's
 * tokenizer as it was: byte-level gpt2 BPE, 3072 tokens, ChatML control tokens and template),
 * so no fixture is needed.
 *
 * Each architecture is one file tests/tiny/tiny_ARCH.c defining one tiny_entry function; the
 * table tiny_models (tiny.c) lists them. `build/tests/mktiny NAME OUT.gguf` writes one. */
#ifndef NATTER_TINY_H
#define NATTER_TINY_H

#include "natter.h"

#include <stdbool.h>
#include <stdint.h>

/* The tiny models' vocabulary: the default model's tokenizer as of 199f9ca (written by
 * `mktiny --vocab`), fixed, so that refs.tsv's figures hold whatever the default model
 * becomes. Relative to the repository root. */
#define TINY_VOCAB_FILE "tests/data/tiny-vocab.gguf"

/* The shape and the block features of a Llama-family tiny model (tiny_block_model). */
typedef struct tiny_shape {
    const char *arch;      /* general.architecture */
    uint64_t seed;
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
    uint32_t head_dim;     /* 0: n_embd / n_head, no key_length key written */
    float rope_base;
    bool qkv_bias;         /* attn_{q,k,v}.bias */
    bool qk_norm;          /* attn_{q,k}_norm.weight (head_dim) */
    uint32_t n_expert, n_expert_used, n_ff_exp; /* n_expert > 0: MoE FFN instead of dense;
                                                   n_ff_exp 0: no such key, experts n_ff wide */
    int exps_type;         /* the expert tensors' type: 0 (F32) or NT_TYPE_MXFP4 (quantized
                              from the same random values by nt_quantize_rows) */
    /* rope scaling: type NULL writes nothing */
    const char *rope_scaling;
    float rope_factor, rope_attn_factor;
    uint32_t rope_orig_ctx;
} tiny_shape;

/* A model being built: the writer, the PRNG, and the tensor data the writer borrows until
 * it has written the file. */
typedef struct tiny_gen {
    nt_gguf_writer *w;
    const char *arch;
    uint64_t rng;
    void **bufs;
    int n_bufs, cap;
    int rc;          /* first error (sticky): NT_OK while everything succeeded */
    int64_t n_vocab; /* the copied vocabulary's size */
    float *embd;     /* token_embd values (n_vocab × n_embd), kept for output.weight */
} tiny_gen;

/* Starts a model of architecture arch: general.* keys and the tokenizer copied from
 * vocab_path. Failures are recorded in g->rc (and err) and make later calls no-ops. */
int tiny_init(tiny_gen *g, const char *arch, uint64_t seed, const char *vocab_path, nt_err *err);
void tiny_free(tiny_gen *g);

/* An architecture's own chat markup, for a tiny model whose chat goes through it: the
 * template text replaces the copied one and the control tokens are appended to the
 * vocabulary (type control). */
typedef struct tiny_chat {
    const char *template_text;
    const char *const *controls;
    int n_controls;
} tiny_chat;
/* tiny_init with chat's template and control tokens (NULL: the copied ones, as tiny_init). */
int tiny_init_chat(tiny_gen *g, const char *arch, uint64_t seed, const char *vocab_path,
                   const tiny_chat *chat, nt_err *err);

/* "<arch>.<suffix>" keys. */
void tiny_u32(tiny_gen *g, const char *suffix, uint32_t v);
void tiny_f32(tiny_gen *g, const char *suffix, float v);
void tiny_str(tiny_gen *g, const char *suffix, const char *v);

/* An F32 tensor of uniform random values in [-scale, scale), dims ne[0..n_dims) (ne[0]
 * contiguous); returns its data (owned by g) or NULL after an error. */
float *tiny_rand(tiny_gen *g, const char *name, uint32_t n_dims, const int64_t *ne, float scale);
/* tiny_rand stored as type (F32, or one nt_quantize_rows writes: the random values quantized). */
void tiny_rand_as(tiny_gen *g, const char *name, uint32_t n_dims, const int64_t *ne, float scale,
                  int type);
/* A norm weight: n values 1 + uniform(±spread). */
void tiny_norm(tiny_gen *g, const char *name, int64_t n, float spread);
/* output.weight: the embeddings' rows permuted and scaled down (row i of output is
 * embedding perm(i) / 16). */
void tiny_output_permuted(tiny_gen *g, int64_t n_embd);

/* Writes the whole Llama-family model s describes (hyperparameters and every tensor). */
void tiny_block_model(tiny_gen *g, const tiny_shape *s);

/* Writes the file; returns g->rc. */
int tiny_write(tiny_gen *g, const char *path, nt_err *err);

/* The whole of it for a model that is just tiny_block_model(s): init, block model, write. */
int tiny_write_shape(const tiny_shape *s, const char *path, const char *vocab_path, nt_err *err);

/* FNV-1a 64 of the file's bytes, as 16 hex digits into hex[17]; NT_OK or an error. */
int tiny_file_hash(const char *path, char hex[17], nt_err *err);

/* Writes a GGUF with only vocab_path's tokenizer.* keys (and a general.architecture): how
 * TINY_VOCAB_FILE was made, from the default model, so that retraining that model with a new
 * vocabulary does not change the tiny models and invalidate refs.tsv. */
int tiny_write_vocab(const char *path, const char *vocab_path, nt_err *err);

/* The models, by name (the test and refs.tsv use these names). */
typedef int (*tiny_fn)(const char *path, const char *vocab_path, nt_err *err);
typedef struct tiny_entry {
    const char *name;
    tiny_fn write;
} tiny_entry;

extern const tiny_entry tiny_models[];
extern const int tiny_n_models;
const tiny_entry *tiny_find(const char *name);

/* tiny_ARCH.c */
int tiny_llama(const char *path, const char *vocab_path, nt_err *err);
int tiny_qwen3(const char *path, const char *vocab_path, nt_err *err);
int tiny_gemma2(const char *path, const char *vocab_path, nt_err *err);
int tiny_gemma3(const char *path, const char *vocab_path, nt_err *err);
int tiny_phi3(const char *path, const char *vocab_path, nt_err *err);
int tiny_phi3_short(const char *path, const char *vocab_path, nt_err *err);
int tiny_granite(const char *path, const char *vocab_path, nt_err *err);
int tiny_qwen3_yarn(const char *path, const char *vocab_path, nt_err *err);
int tiny_qwen3_think(const char *path, const char *vocab_path, nt_err *err);
int tiny_qwen3moe(const char *path, const char *vocab_path, nt_err *err);
int tiny_qwen3moe_mxfp4(const char *path, const char *vocab_path, nt_err *err);
int tiny_mixtral(const char *path, const char *vocab_path, nt_err *err);
int tiny_smollm3(const char *path, const char *vocab_path, nt_err *err);
int tiny_olmo2(const char *path, const char *vocab_path, nt_err *err);
int tiny_olmo2_swa(const char *path, const char *vocab_path, nt_err *err);

#endif
