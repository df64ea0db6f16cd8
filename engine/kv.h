/* kv.h — the key/value cache of the forward pass (engine-internal).
 *
 * One cache per model: for every layer, the rotated keys and the values of every position
 * processed so far, in one of three types (nt_model_params.kv_type):
 *   F32   exact (a 4096-token cache of a 1B-parameter Llama 3.2 takes 2 × 16 layers × 4096 ×
 *         512 × 4 B = 268 MB);
 *   F16   half that, each value rounded to binary16;
 *   Q8_0  a bit over a quarter (34 bytes per 32 values), keys and values in ggml's Q8_0
 *         blocks along the head dimension (the head size must be a multiple of 32).
 * Keys are stored by position, one row of kv_dim values per position (a batch of new tokens
 * writes one block; q·k reads a row per position). Values:
 *   F32, F16  transposed, by dimension: the attention output for dimension d is one
 *             contiguous dot product of the softmax weights with v[d][0..pos];
 *   Q8_0      by position like the keys. A block of 32 values must be quantized at once, and
 *             along positions it would be filled by several tokens: a token's values would
 *             then depend on whether its neighbours were in the same batch (no longer
 *             independent of how a prompt is split). Along the head dimension every position
 *             is quantized alone, from its own values only.
 * F16 caches of heads whose size is a multiple of 32 (every model we know but a few) use the
 * X32 layout instead (x32), the one of QUANT_TYPE_F16X32's weights (quant.h), per layer:
 *   keys      per KV head, blocks of 32 positions, dimension d of position p at half
 *             d·32 + p % 32 of block p / 32: the rows are positions, the values dimensions;
 *   values    per 32 dimensions of kv_dim, dimension d of position p at half p·32 + d % 32:
 *             the rows are dimensions, the values positions.
 *   Why: decoding at 2048 positions spent a third of TinyLlama's token in q·k and p·v, and
 *   with rows along the head the kernels end every score in a horizontal sum (8 keys × 8
 *   queries per 64 dimensions reached half the FMA peak); here lane i of a vector is
 *   position i (or dimension i), one FMA chain per score, the weight kernels' X32 tile.
 *   The rule changes with it (quant.h: a chain over the dimensions, or over the positions),
 *   the same for every batch and thread count.
 * Every value is converted exactly once, when its token is stored, by a function of that
 * value (F16) or of its own block (Q8_0), so the cache's bytes never depend on the batch or
 * the thread count.
 * n_past is the number of valid positions; rewinding just lowers it (entries beyond it are
 * stale and overwritten by the next tokens). */
#ifndef NATTER_KV_H
#define NATTER_KV_H

#include "natter.h"

#include <stdbool.h>

typedef struct kv_cache {
    int32_t n_layer, n_ctx, kv_dim; /* kv_dim = n_head_kv × head_dim */
    int32_t head_dim;
    int type;                       /* NT_TYPE_F32, NT_TYPE_F16 or NT_TYPE_Q8_0 */
    int att_type;                   /* the kernel type attention computes with: type, but
                                       QUANT_TYPE_F16_F32ACT for F16, so that queries and
                                       scores stay exact f32 (quant.h) */
    int32_t n_past;                 /* valid positions: [0, n_past) */
    size_t row_bytes;               /* one position's keys (kv_dim values of type) */
    size_t head_bytes;              /* one head's part of such a row (head_dim values) */
    bool v_rows;                    /* values stored by position (Q8_0), not transposed */
    bool x32;                       /* the X32 layout (above); att_type QUANT_TYPE_F16X32_F32ACT */
    int32_t n_ctx32;                /* n_ctx rounded up to 32: positions allocated */
    int32_t n_head_kv;              /* kv_dim / head_dim */
    size_t v_elt;                   /* transposed values: bytes of one value */
    uint8_t *k;                     /* (n_layer, n_ctx) rows of row_bytes: rotated keys;
                                       x32: (n_layer, n_head_kv, n_ctx32 / 32) blocks */
    uint8_t *v;                     /* v_rows: as k; x32: (n_layer, kv_dim / 32) parts of
                                       n_ctx32 × 32 halves; else (n_layer, kv_dim, n_ctx) */
} kv_cache;

/* Whether type is one the cache can hold (F32, F16, Q8_0). */
bool nt_kv_type_ok(int type);

/* Allocates the cache (zeroed, so untouched pages cost no memory). NT_ERR_NOMEM (with the size
 * in the message), NT_ERR_INVALID for sizes that do not fit, NT_ERR_UNSUPPORTED for a type
 * the cache cannot hold or a head size Q8_0 cannot split into blocks. */
int nt_kv_init(kv_cache *kv, int32_t n_layer, int32_t n_ctx, int32_t kv_dim, int32_t head_dim,
               int type, nt_err *err);
void nt_kv_free(kv_cache *kv); /* accepts NULL; zeroes the struct */

/* Key row of layer il at position pos (0 <= pos < n_ctx). */
static inline uint8_t *kv_k(const kv_cache *kv, int32_t il, int32_t pos)
{
    return kv->k + ((size_t)il * (size_t)kv->n_ctx + (size_t)pos) * kv->row_bytes;
}
/* v_rows: value row of layer il at position pos. */
static inline uint8_t *kv_vrow(const kv_cache *kv, int32_t il, int32_t pos)
{
    return kv->v + ((size_t)il * (size_t)kv->n_ctx + (size_t)pos) * kv->row_bytes;
}
/* Transposed values: dimension d (0 <= d < kv_dim) of layer il, indexed by position. */
static inline uint8_t *kv_vt(const kv_cache *kv, int32_t il, int32_t d)
{
    return kv->v + ((size_t)il * (size_t)kv->kv_dim + (size_t)d) * (size_t)kv->n_ctx * kv->v_elt;
}

/* x32: the block of 32 positions of KV head g of layer il holding position pos (a multiple of
 * 32), then the part of the values holding dimension d (a multiple of 32); a part's row
 * (dimension) is n_ctx32 halves long. */
static inline uint8_t *kv_kx(const kv_cache *kv, int32_t il, int32_t g, int32_t pos)
{
    return kv->k + (((size_t)il * (size_t)kv->n_head_kv + (size_t)g) * (size_t)kv->n_ctx32 + (size_t)pos) *
                       kv->head_bytes;
}
static inline uint8_t *kv_vx(const kv_cache *kv, int32_t il, int32_t d)
{
    return kv->v + ((size_t)il * (size_t)kv->kv_dim + (size_t)d) * (size_t)kv->n_ctx32 * 2;
}

/* Storing new tokens, converted to the cache's type, in two independent parts so that a batch
 * can spread them over threads (each part writes bytes no other part writes):
 * nt_kv_store_row: one token's keys (kv_dim floats) at position pos of layer il, and its
 *   values v when they are stored by position (v_rows) or in the X32 layout (x32);
 * nt_kv_store_vt: transposed values (neither v_rows nor x32; else nothing, the values
 *   going with the keys), dimensions [d0, d1) of n
 *   tokens at positions pos.., token t's values at v + t·ld. */
void nt_kv_store_row(kv_cache *kv, int32_t il, int32_t pos, const float *k, const float *v);
void nt_kv_store_vt(kv_cache *kv, int32_t il, int32_t pos, const float *v, int32_t n, size_t ld,
                    int32_t d0, int32_t d1);

/* Keeps positions [0, n_past); n_past is clamped to [0, current n_past]. */
void nt_kv_rewind(kv_cache *kv, int32_t n_past);

/* A copy of positions [start, end) of a cache (the public nt_kv_state), as the cache's bytes:
 * k is (n_layer, end - start) rows; v the same for v_rows and x32 (whose blocks are gathered
 * into plain rows), else (n_layer, kv_dim, end - start) values. */
struct nt_kv_state {
    int32_t n_layer, n_ctx, kv_dim; /* the shape of the cache it came from */
    int type;                       /* and its type */
    int32_t start, end;
    size_t bytes;                   /* of k, and of v */
    uint8_t *k;
    uint8_t *v;
};

/* Copies positions [start, kv->n_past) into a new state (*out, owned by the caller). */
int nt_kv_save(const kv_cache *kv, int32_t start, nt_kv_state **out, nt_err *err);
/* Rewinds kv to s->start and writes the state's positions back: kv->n_past becomes s->end.
 * NT_ERR_INVALID (cache untouched) when the shapes or types differ or kv holds fewer than
 * s->start positions. */
int nt_kv_load(kv_cache *kv, const nt_kv_state *s, nt_err *err);

#endif
