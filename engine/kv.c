/* The key/value cache declared in kv.h: allocation with overflow checks, storing values
 * transposed, rewinding, and copies of a range of positions (saved states, for forks). */
#include "kv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int nt_kv_init(kv_cache *kv, int32_t n_layer, int32_t n_ctx, int32_t kv_dim, nt_err *err)
{
    memset(kv, 0, sizeof *kv);
    if (n_layer <= 0 || n_ctx <= 0 || kv_dim <= 0)
        return nt_err_set(err, NT_ERR_INVALID, "kv cache: bad size (%d layers, %d positions, %d)",
                          (int)n_layer, (int)n_ctx, (int)kv_dim);
    size_t n = (size_t)n_layer;
    if ((size_t)n_ctx > SIZE_MAX / n) goto too_big;
    n *= (size_t)n_ctx;
    if ((size_t)kv_dim > SIZE_MAX / sizeof(float) / n) goto too_big;
    n *= (size_t)kv_dim;
    kv->k = calloc(n, sizeof(float));
    kv->v = calloc(n, sizeof(float));
    if (!kv->k || !kv->v) {
        nt_kv_free(kv);
        return nt_err_set(err, NT_ERR_NOMEM, "kv cache: cannot allocate 2 x %zu MiB for %d positions",
                          n * sizeof(float) >> 20, (int)n_ctx);
    }
    kv->n_layer = n_layer;
    kv->n_ctx = n_ctx;
    kv->kv_dim = kv_dim;
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

void nt_kv_store_v(kv_cache *kv, int32_t il, int32_t pos, const float *v, int32_t n, size_t ld)
{
    for (int32_t d = 0; d < kv->kv_dim; d++) {
        float *dst = kv_vt(kv, il, d) + pos;
        for (int32_t t = 0; t < n; t++) dst[t] = v[(size_t)t * ld + (size_t)d];
    }
}

void nt_kv_rewind(kv_cache *kv, int32_t n_past)
{
    if (n_past < 0) n_past = 0;
    if (n_past < kv->n_past) kv->n_past = n_past;
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
    s->start = start;
    s->end = kv->n_past;
    const size_t len = (size_t)(s->end - start), dim = (size_t)kv->kv_dim;
    /* sizes fit: they are parts of the cache nt_kv_init allocated */
    const size_t n = (size_t)kv->n_layer * len * dim;
    if (n) {
        s->k = malloc(n * sizeof(float));
        s->v = malloc(n * sizeof(float));
        if (!s->k || !s->v) goto nomem;
    }
    for (int32_t il = 0; il < kv->n_layer && len; il++) {
        memcpy(s->k + (size_t)il * len * dim, kv_k(kv, il, start), len * dim * sizeof(float));
        for (int32_t d = 0; d < kv->kv_dim; d++)
            memcpy(s->v + ((size_t)il * dim + (size_t)d) * len, kv_vt(kv, il, d) + start,
                   len * sizeof(float));
    }
    *out = s;
    return NT_OK;
nomem:
    nt_kv_state_free(s);
    return nt_err_set(err, NT_ERR_NOMEM, "kv cache: cannot allocate a copy of %d positions",
                      (int)(kv->n_past - start));
}

int nt_kv_load(kv_cache *kv, const nt_kv_state *s, nt_err *err)
{
    if (s->n_layer != kv->n_layer || s->n_ctx != kv->n_ctx || s->kv_dim != kv->kv_dim)
        return nt_err_set(err, NT_ERR_INVALID, "kv cache: the saved state comes from a cache "
                          "of another shape (%d layers, %d positions, %d values; this one: "
                          "%d, %d, %d)", (int)s->n_layer, (int)s->n_ctx, (int)s->kv_dim,
                          (int)kv->n_layer, (int)kv->n_ctx, (int)kv->kv_dim);
    if (kv->n_past < s->start)
        return nt_err_set(err, NT_ERR_INVALID, "kv cache: the saved state starts at position %d "
                          "but the cache holds only %d", (int)s->start, (int)kv->n_past);
    const size_t len = (size_t)(s->end - s->start), dim = (size_t)kv->kv_dim;
    for (int32_t il = 0; il < kv->n_layer && len; il++) {
        memcpy(kv_k(kv, il, s->start), s->k + (size_t)il * len * dim, len * dim * sizeof(float));
        for (int32_t d = 0; d < kv->kv_dim; d++)
            memcpy(kv_vt(kv, il, d) + s->start, s->v + ((size_t)il * dim + (size_t)d) * len,
                   len * sizeof(float));
    }
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
    return 2 * (size_t)s->n_layer * (size_t)(s->end - s->start) * (size_t)s->kv_dim * sizeof(float);
}
