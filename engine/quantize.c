/* quantize.c — F32 → F16, BF16 and Q8_0 row quantizers (declared in natter.h).
 *
 * Q8_0 follows ggml's reference quantizer: per block of 32, d = max|x| / 127, q = round(x / d)
 * computed as round(x · (1/d)) with round-half-away-from-zero, and d stored as binary16. The
 * scalar conversions are the quant module's (round to nearest even, as ggml). */
#include "quant.h"

#include <math.h>
#include <string.h>

bool nt_quantize_supported(int type)
{
    return type == NT_TYPE_F32 || type == NT_TYPE_F16 || type == NT_TYPE_BF16 ||
           type == NT_TYPE_Q8_0;
}

/* One row of n values (a multiple of 32) into Q8_0 blocks. */
static void quantize_row_q8_0(const float *x, quant_block_q8_0 *y, int64_t n)
{
    for (int64_t b = 0; b < n / QUANT_QK32; b++, x += QUANT_QK32) {
        float amax = 0;
        for (int j = 0; j < QUANT_QK32; j++) {
            float a = fabsf(x[j]);
            if (a > amax) amax = a;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = nt_quant_f32_to_f16(d);
        for (int j = 0; j < QUANT_QK32; j++) y[b].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

size_t nt_quantize_rows(int type, const float *src, void *dst, int64_t n_rows, int64_t n_per_row)
{
    if (!nt_quantize_supported(type) || n_rows < 0 || n_per_row <= 0) return 0;
    size_t row_bytes = nt_type_row_bytes(type, n_per_row);
    if (row_bytes == 0) return 0;
    unsigned char *out = dst;
    for (int64_t r = 0; r < n_rows; r++, src += n_per_row, out += row_bytes) {
        switch (type) {
        case NT_TYPE_F32:
            memcpy(out, src, row_bytes);
            break;
        case NT_TYPE_F16:
            for (int64_t i = 0; i < n_per_row; i++) {
                uint16_t h = nt_quant_f32_to_f16(src[i]);
                memcpy(out + 2 * i, &h, 2);
            }
            break;
        case NT_TYPE_BF16:
            for (int64_t i = 0; i < n_per_row; i++) {
                uint16_t h = nt_quant_f32_to_bf16(src[i]);
                memcpy(out + 2 * i, &h, 2);
            }
            break;
        case NT_TYPE_Q8_0:
            quantize_row_q8_0(src, (quant_block_q8_0 *)(void *)out, n_per_row);
            break;
        }
    }
    return row_bytes * (size_t)n_rows;
}
