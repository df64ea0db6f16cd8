/* The key/value cache declared in kv.h: allocation with overflow checks, storing keys and
 * values in the cache's type, rewinding, and copies of a range of positions (saved states,
 * for forks). */
#include "kv.h"
#include "quant.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool nt_kv_type_ok(int type)
{
    return type == NT_TYPE_F32 || type == NT_TYPE_F16 || type == NT_TYPE_Q8_0;
}

int nt_kv_init(kv_cache *kv, int32_t n_layer, int32_t n_ctx, int32_t kv_dim, int32_t head_dim,
               int type, nt_err *err)
{
    memset(kv, 0, sizeof *kv);
    if (!nt_kv_type_ok(type))
        return nt_err_set(err, NT_ERR_UNSUPPORTED, "kv cache: type %s is not one of F32, F16, Q8_0",
                          nt_type_name(type) ? nt_type_name(type) : "?");
    if (n_layer <= 0 || n_ctx <= 0 || kv_dim <= 0 || head_dim <= 0 || kv_dim % head_dim)
        return nt_err_set(err, NT_ERR_INVALID, "kv cache: bad size (%d layers, %d positions, %d)",
                          (int)n_layer, (int)n_ctx, (int)kv_dim);
    const int64_t blk = nt_type_block_len(type);
    if (head_dim % blk)
        return nt_err_set(err, NT_ERR_UNSUPPORTED, "kv cache: type %s needs a head size that is a "
                          "multiple of %d; this model's is %d (use f16 or f32)", nt_type_name(type),
                          (int)blk, (int)head_dim);
    const size_t row = nt_type_row_bytes(type, kv_dim);
    const bool x32 = type == NT_TYPE_F16 && head_dim % QUANT_F16X_ROWS == 0;
    if (n_ctx > INT32_MAX - QUANT_F16X_ROWS) goto too_big;
    const int32_t n_ctx32 = (n_ctx + QUANT_F16X_ROWS - 1) / QUANT_F16X_ROWS * QUANT_F16X_ROWS;
    size_t n = (size_t)n_layer;
    if ((size_t)n_ctx32 > SIZE_MAX / n) goto too_big;
    n *= (size_t)(x32 ? n_ctx32 : n_ctx);
    if (row > SIZE_MAX / 2 / n) goto too_big;
    n *= row;
    kv->k = calloc(n, 1);
    kv->v = calloc(n, 1);
    if (!kv->k || !kv->v) {
        nt_kv_free(kv);
        return nt_err_set(err, NT_ERR_NOMEM, "kv cache: cannot allocate 2 x %zu MiB for %d positions",
                          n >> 20, (int)n_ctx);
    }
    kv->n_layer = n_layer;
    kv->n_ctx = n_ctx;
    kv->kv_dim = kv_dim;
    kv->head_dim = head_dim;
    kv->type = type;
    kv->att_type = x32 ? QUANT_TYPE_F16X32_F32ACT : type == NT_TYPE_F16 ? QUANT_TYPE_F16_F32ACT : type;
    kv->row_bytes = row;
    kv->head_bytes = nt_type_row_bytes(type, head_dim);
    kv->v_rows = blk > 1;
    kv->x32 = x32;
    kv->n_ctx32 = n_ctx32;
    kv->n_head_kv = kv_dim / head_dim;
    kv->v_elt = kv->v_rows || x32 ? 0 : nt_type_block_bytes(type);
    return NT_OK;
too_big:
    return nt_err_set(err, NT_ERR_INVALID, "kv cache: %d layers x %d positions x %d values is too large",
                      (int)n_layer, (int)n_ctx, (int)kv_dim);
}

void nt_kv_free(kv_cache *kv)
{
    if (!kv) return;
    free(kv->k);
    free(kv->v);
    memset(kv, 0, sizeof *kv);
}

/* n values x into dst in the cache's type (F32, F16: element by element; Q8_0: whole rows). */
static void kv_convert_row(const kv_cache *kv, const float *x, uint8_t *dst, int32_t n)
{
    switch (kv->type) {
    case NT_TYPE_F32:
        memcpy(dst, x, (size_t)n * sizeof(float));
        break;
    case NT_TYPE_F16:
        for (int32_t i = 0; i < n; i++) {
            const uint16_t h = nt_quant_f32_to_f16(x[i]);
            memcpy(dst + 2 * (size_t)i, &h, 2);
        }
        break;
    default:
        nt_quant_quantize_row_q8_0(x, dst, n);
        break;
    }
}

/* x32: where key c (0 <= c < kv_dim) and value c of position pos live. */
static uint8_t *kv_kx_at(const kv_cache *kv, int32_t il, int32_t pos, int32_t c)
{
    const int32_t g = c / kv->head_dim, d = c % kv->head_dim, b = pos / QUANT_F16X_ROWS * QUANT_F16X_ROWS;
    return kv_kx(kv, il, g, b) + 2 * ((size_t)d * QUANT_F16X_ROWS + (size_t)(pos - b));
}
static uint8_t *kv_vx_at(const kv_cache *kv, int32_t il, int32_t pos, int32_t c)
{
    const int32_t d = c / QUANT_F16X_ROWS * QUANT_F16X_ROWS;
    return kv_vx(kv, il, d) + 2 * ((size_t)pos * QUANT_F16X_ROWS + (size_t)(c - d));
}

void nt_kv_store_row(kv_cache *kv, int32_t il, int32_t pos, const float *k, const float *v)
{
    if (kv->x32) {
        for (int32_t c = 0; c < kv->kv_dim; c++) {
            const uint16_t hk = nt_quant_f32_to_f16(k[c]), hv = nt_quant_f32_to_f16(v[c]);
            memcpy(kv_kx_at(kv, il, pos, c), &hk, 2);
            memcpy(kv_vx_at(kv, il, pos, c), &hv, 2);
        }
        return;
    }
    kv_convert_row(kv, k, kv_k(kv, il, pos), kv->kv_dim);
    if (kv->v_rows) kv_convert_row(kv, v, kv_vrow(kv, il, pos), kv->kv_dim);
}

void nt_kv_store_vt(kv_cache *kv, int32_t il, int32_t pos, const float *v, int32_t n, size_t ld,
                    int32_t d0, int32_t d1)
{
    if (kv->v_rows || kv->x32) return;
    for (int32_t d = d0; d < d1; d++) {
        uint8_t *dst = kv_vt(kv, il, d) + (size_t)pos * kv->v_elt;
        for (int32_t t = 0; t < n; t++) {
            if (kv->type == NT_TYPE_F32) {
                memcpy(dst + (size_t)t * 4, &v[(size_t)t * ld + (size_t)d], 4);
            } else {
                const uint16_t h = nt_quant_f32_to_f16(v[(size_t)t * ld + (size_t)d]);
                memcpy(dst + (size_t)t * 2, &h, 2);
            }
        }
    }
}

void nt_kv_rewind(kv_cache *kv, int32_t n_past)
{
    if (n_past < 0) n_past = 0;
    if (n_past < kv->n_past) kv->n_past = n_past;
}

/* Copies positions [s->start, s->end) between the cache and the state, into the state when
 * save is true, else back into the cache. */
static void kv_copy(kv_cache *kv, const nt_kv_state *s, bool save)
{
    const size_t len = (size_t)(s->end - s->start), rows = len * kv->row_bytes;
    if (kv->x32) {
        /* the state holds plain rows (position by position), gathered from the blocks */
        const int32_t hd = kv->head_dim, R = QUANT_F16X_ROWS;
        for (int32_t il = 0; il < kv->n_layer; il++)
            for (int32_t p = s->start; p < s->end; p++) {
                uint16_t *sk = (uint16_t *)(void *)(s->k + (size_t)il * rows + (size_t)(p - s->start) * kv->row_bytes);
                uint8_t *sv = s->v + (size_t)il * rows + (size_t)(p - s->start) * kv->row_bytes;
                for (int32_t g = 0; g < kv->n_head_kv; g++) {
                    uint16_t *ck = (uint16_t *)(void *)kv_kx_at(kv, il, p, g * hd);
                    for (int32_t d = 0; d < hd; d++) {
                        if (save) sk[g * hd + d] = ck[(size_t)d * R];
                        else ck[(size_t)d * R] = sk[g * hd + d];
                    }
                }
                for (int32_t c = 0; c < kv->kv_dim; c += R) {
                    uint8_t *cv = kv_vx_at(kv, il, p, c);
                    memcpy(save ? sv + 2 * c : cv, save ? cv : sv + 2 * c, 2 * (size_t)R);
                }
            }
        return;
    }
    for (int32_t il = 0; il < kv->n_layer && len; il++) {
        uint8_t *sk = s->k + (size_t)il * rows, *ck = kv_k(kv, il, s->start);
        memcpy(save ? sk : ck, save ? ck : sk, rows);
        if (kv->v_rows) {
            uint8_t *sv = s->v + (size_t)il * rows, *cv = kv_vrow(kv, il, s->start);
            memcpy(save ? sv : cv, save ? cv : sv, rows);
            continue;
        }
        const size_t seg = len * kv->v_elt;
        for (int32_t d = 0; d < kv->kv_dim; d++) {
            uint8_t *sv = s->v + ((size_t)il * (size_t)kv->kv_dim + (size_t)d) * seg;
            uint8_t *cv = kv_vt(kv, il, d) + (size_t)s->start * kv->v_elt;
            memcpy(save ? sv : cv, save ? cv : sv, seg);
        }
    }
}

int nt_kv_save(const kv_cache *kv, int32_t start, nt_kv_state **out, nt_err *err)
{
    *out = NULL;
    if (start < 0 || start > kv->n_past)
        return nt_err_set(err, NT_ERR_INVALID, "kv cache: cannot save from position %d "
                          "(%d positions held)", (int)start, (int)kv->n_past);
    nt_kv_state *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->n_layer = kv->n_layer;
    s->n_ctx = kv->n_ctx;
    s->kv_dim = kv->kv_dim;
    s->type = kv->type;
    s->start = start;
    s->end = kv->n_past;
    /* sizes fit: they are parts of the cache nt_kv_init allocated (the transposed values of
     * a range take as many bytes as its key rows) */
    s->bytes = (size_t)kv->n_layer * (size_t)(s->end - start) * kv->row_bytes;
    if (s->bytes) {
        s->k = malloc(s->bytes);
        s->v = malloc(s->bytes);
        if (!s->k || !s->v) goto nomem;
    }
    kv_copy((kv_cache *)kv, s, true); /* reads kv only */
    *out = s;
    return NT_OK;
nomem:
    nt_kv_state_free(s);
    return nt_err_set(err, NT_ERR_NOMEM, "kv cache: cannot allocate a copy of %d positions",
                      (int)(kv->n_past - start));
}

int nt_kv_load(kv_cache *kv, const nt_kv_state *s, nt_err *err)
{
    if (s->n_layer != kv->n_layer || s->n_ctx != kv->n_ctx || s->kv_dim != kv->kv_dim ||
        s->type != kv->type)
        return nt_err_set(err, NT_ERR_INVALID, "kv cache: the saved state comes from a cache "
                          "of another shape (%d layers, %d positions, %d values of %s; this one: "
                          "%d, %d, %d of %s)", (int)s->n_layer, (int)s->n_ctx, (int)s->kv_dim,
                          nt_type_name(s->type), (int)kv->n_layer, (int)kv->n_ctx, (int)kv->kv_dim,
                          nt_type_name(kv->type));
    if (kv->n_past < s->start)
        return nt_err_set(err, NT_ERR_INVALID, "kv cache: the saved state starts at position %d "
                          "but the cache holds only %d", (int)s->start, (int)kv->n_past);
    kv_copy(kv, s, false);
    kv->n_past = s->end;
    return NT_OK;
}

void nt_kv_state_free(nt_kv_state *s)
{
    if (!s) return;
    free(s->k);
    free(s->v);
    free(s);
}

int32_t nt_kv_state_start(const nt_kv_state *s) { return s->start; }
int32_t nt_kv_state_end(const nt_kv_state *s) { return s->end; }
size_t nt_kv_state_bytes(const nt_kv_state *s)
{
    return 2 * s->bytes;
}
