/* The key/value cache declared in kv.h: allocation with overflow checks, storing values
 * transposed, and rewinding. */
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
