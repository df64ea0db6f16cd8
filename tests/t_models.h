/* t_models.h — model files made from the fixtures, shared by the test programs that need a
 * variant of a real model. Each returns a path inside t_tmpdir() (static storage, valid for
 * the program's life), or NULL when the fixture is absent or the copy failed. Also a worker
 * on the stories260K fixture, for the tests that talk to a real model. */
#ifndef NATTER_TEST_T_MODELS_H
#define NATTER_TEST_T_MODELS_H

#include "conv/worker.h"
#include "natter.h"

#include <stdint.h>


/* Appends the whitespace-separated ids in s to out (reference files' id lists). */
void t_parse_ids(const char *s, nt_tokens *out);
/* Loads path with an n_ctx context and n_threads threads; a failure is recorded as a test
 * failure with the loader's message, and gives NULL. */
nt_model *t_load_model(const char *path, int32_t n_ctx, int32_t n_threads);
/* The same with a KV cache of kv_type (NT_TYPE_F32, NT_TYPE_F16, NT_TYPE_Q8_0). */
nt_model *t_load_model_kv(const char *path, int32_t n_ctx, int32_t n_threads, int kv_type);
/* The three KV cache types, for tests that run once per type. */
#define T_KV_TYPES {NT_TYPE_F32, NT_TYPE_F16, NT_TYPE_Q8_0}
/* Index of the largest of n values (the first on ties): greedy decoding. */
int32_t t_argmax(const float *v, int32_t n);

/* A copy of stories260K whose byte tokens 3 and 4 (<0x00>, <0x01>, never used in
 * text) are replaced by ChatML's control tokens, with a ChatML template: a small real model
 * whose chat markup is made of control tokens, like SmolLM's or Qwen's. NULL on failure. */
const char *t_chatml_stories(void);

/* A worker (owned by the caller: worker_free) on stories260K with an n_ctx-token context and
 * one thread. NULL when the fixture is absent (nothing recorded: the caller skips) or when
 * loading failed (recorded as a test failure with the loader's message). */
worker *t_stories_worker(int32_t n_ctx);

/* Copies key i of g into w with its stored type (scalars, strings, arrays). NT_OK or the
 * writer's error; a type it does not handle (f64) or a u64 above 2^63 is a recorded test failure. */
int t_copy_key(nt_gguf_writer *w, const nt_gguf *g, int64_t i);

#endif
