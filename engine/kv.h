/* kv.h — the key/value cache of the forward pass (engine-internal).
 *
 * One cache per model: for every layer, the rotated keys and the values of every position
 * processed so far, as F32 (exact; a 4096-token cache of a 1B-parameter Llama 3.2 takes
 * 2 × 16 layers × 4096 × 512 × 4 B = 268 MB, memory this machine class has).
 * Keys are stored by position (a batch of new tokens writes one block; q·k reads a row per
 * position), values transposed, by dimension: the attention output for dimension d is then
 * one contiguous dot product of the softmax weights with v[d][0..pos], as fast as q·k.
 * n_past is the number of valid positions; rewinding just lowers it (entries beyond it are
 * stale and overwritten by the next tokens). */
#ifndef NATTER_KV_H
#define NATTER_KV_H

#include "natter.h"

typedef struct kv_cache {
    int32_t n_layer, n_ctx, kv_dim; /* kv_dim = n_head_kv × head_dim */
    int32_t n_past;                 /* valid positions: [0, n_past) */
    float *k;                       /* (n_layer, n_ctx, kv_dim) rotated keys */
    float *v;                       /* (n_layer, kv_dim, n_ctx) values, transposed */
} kv_cache;

/* Allocates the cache (zeroed, so untouched pages cost no memory). NT_ERR_NOMEM (with the size
 * in the message) or NT_ERR_INVALID for sizes that do not fit. */
int nt_kv_init(kv_cache *kv, int32_t n_layer, int32_t n_ctx, int32_t kv_dim, nt_err *err);
void nt_kv_free(kv_cache *kv); /* accepts NULL; zeroes the struct */

/* Key row of layer il at position pos (0 <= pos < n_ctx). */
static inline float *kv_k(const kv_cache *kv, int32_t il, int32_t pos)
{
    return kv->k + ((size_t)il * (size_t)kv->n_ctx + (size_t)pos) * (size_t)kv->kv_dim;
}
/* Values of dimension d (0 <= d < kv_dim) of layer il, indexed by position. */
static inline float *kv_vt(const kv_cache *kv, int32_t il, int32_t d)
{
    return kv->v + ((size_t)il * (size_t)kv->kv_dim + (size_t)d) * (size_t)kv->n_ctx;
}

/* Stores n tokens' values (rows of kv_dim floats, ld apart) at positions pos.. of layer il. */
void nt_kv_store_v(kv_cache *kv, int32_t il, int32_t pos, const float *v, int32_t n, size_t ld);

/* Keeps positions [0, n_past); n_past is clamped to [0, current n_past]. */
void nt_kv_rewind(kv_cache *kv, int32_t n_past);

/* A copy of positions [start, end) of a cache (the public nt_kv_state). Layout as in the
 * cache, restricted to the range: k is (n_layer, end - start, kv_dim), v is (n_layer, kv_dim,
 * end - start). */
struct nt_kv_state {
    int32_t n_layer, n_ctx, kv_dim; /* the shape of the cache it came from */
    int32_t start, end;
    float *k;
    float *v;
};

/* Copies positions [start, kv->n_past) into a new state (*out, owned by the caller). */
int nt_kv_save(const kv_cache *kv, int32_t start, nt_kv_state **out, nt_err *err);
/* Rewinds kv to s->start and writes the state's positions back: kv->n_past becomes s->end.
 * NT_ERR_INVALID (cache untouched) when the shapes differ or kv holds fewer than s->start
 * positions. */
int nt_kv_load(kv_cache *kv, const nt_kv_state *s, nt_err *err);

#endif
