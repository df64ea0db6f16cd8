/* quantize.c — F32 → F16, BF16, Q8_0 and MXFP4 row quantizers, and random rows of the other
 * block types for benchmarks (declared in natter.h).
 *
 * Q8_0 follows ggml's reference quantizer: per block of 32, d = max|x| / 127, q = round(x / d)
 * computed as round(x · (1/d)) with round-half-away-from-zero, and d stored as binary16. The
 * scalar conversions are the quant module's (round to nearest even, as ggml). MXFP4 puts each
 * block's largest magnitude in the top binade of the fp4 range (scale 2^(floor(log2 max) - 2))
 * and each value on its nearest fp4 value, the first in code order on a tie (so ±0 is code 0),
 * which is what ggml's reference quantizer gives (tests/test_quant.c checks it on its output). */
#include "quant.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

bool nt_quantize_supported(int type)
{
    return type == NT_TYPE_F32 || type == NT_TYPE_F16 || type == NT_TYPE_BF16 ||
           type == NT_TYPE_Q8_0 || type == NT_TYPE_MXFP4;
}

/* One row of n values (a multiple of 32) into MXFP4 blocks. */
static void quantize_row_mxfp4(const float *x, quant_block_mxfp4 *y, int64_t n)
{
    for (int64_t b = 0; b < n / QUANT_QK32; b++, x += QUANT_QK32) {
        float amax = 0;
        for (int j = 0; j < QUANT_QK32; j++) amax = fmaxf(amax, fabsf(x[j]));
        int e = amax > 0 ? (int)floorf(log2f(amax)) - 2 + 127 : 0;
        e = e < 0 ? 0 : e > 254 ? 254 : e;
        /* In the doubled units of quant_mxfp4_values: a power of two, so x / d is exact. */
        const float d = quant_e8m0_half((uint8_t)e);
        y[b].e = (uint8_t)e;
        uint8_t q[QUANT_QK32];
        for (int j = 0; j < QUANT_QK32; j++) {
            const float v = x[j] / d;
            int best = 0;
            float err = fabsf(v - (float)quant_mxfp4_values[0]);
            for (int k = 1; k < 16; k++) {
                const float ek = fabsf(v - (float)quant_mxfp4_values[k]);
                if (ek < err) {
                    err = ek;
                    best = k;
                }
            }
            q[j] = (uint8_t)best;
        }
        for (int j = 0; j < 16; j++) y[b].qs[j] = (uint8_t)(q[j] | q[j + 16] << 4);
    }
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
        case NT_TYPE_MXFP4:
            quantize_row_mxfp4(src, (quant_block_mxfp4 *)(void *)out, n_per_row);
            break;
        }
    }
    return row_bytes * (size_t)n_rows;
}

/* Where a block type keeps its binary16 scale d (and its min or dmin m, -1: none), and the
 * factors that put its values within ±scale: d = scale·fd, m = scale·fm. The factors are the
 * reciprocals of the largest |code·sub-scale| of the format (quant.h gives the formulas). */
typedef struct {
    int type, off_d, off_m;
    float fd, fm;
} random_layout;

static const random_layout random_layouts[] = {
    {NT_TYPE_Q4_0, offsetof(quant_block_q4_0, d), -1, 1.0f / 8, 0},
    {NT_TYPE_Q4_1, offsetof(quant_block_q4_1, d), offsetof(quant_block_q4_1, m), 1.0f / 8, -1.0f},
    {NT_TYPE_Q5_0, offsetof(quant_block_q5_0, d), -1, 1.0f / 16, 0},
    {NT_TYPE_Q5_1, offsetof(quant_block_q5_1, d), offsetof(quant_block_q5_1, m), 1.0f / 16, -1.0f},
    {NT_TYPE_Q8_0, offsetof(quant_block_q8_0, d), -1, 1.0f / 127, 0},
    {NT_TYPE_Q2_K, offsetof(quant_block_q2_K, d), offsetof(quant_block_q2_K, dmin), 1.0f / 45, 1.0f / 15},
    {NT_TYPE_Q3_K, offsetof(quant_block_q3_K, d), -1, 1.0f / 128, 0},
    {NT_TYPE_Q4_K, offsetof(quant_block_q4_K, d), offsetof(quant_block_q4_K, dmin), 2.0f / 945, 1.0f / 63},
    {NT_TYPE_Q5_K, offsetof(quant_block_q5_K, d), offsetof(quant_block_q5_K, dmin), 2.0f / 1953, 1.0f / 63},
    {NT_TYPE_Q6_K, offsetof(quant_block_q6_K, d), -1, 1.0f / 4096, 0},
    {NT_TYPE_IQ4_NL, offsetof(quant_block_iq4_nl, d), -1, 1.0f / 127, 0},
    {NT_TYPE_IQ4_XS, offsetof(quant_block_iq4_xs, d), -1, 1.0f / 4064, 0},
};

size_t nt_random_rows(int type, void *dst, int64_t n_rows, int64_t n_per_row, float scale,
                      uint64_t *rng)
{
    const random_layout *l = NULL;
    for (size_t i = 0; i < sizeof random_layouts / sizeof random_layouts[0]; i++)
        if (random_layouts[i].type == type) l = &random_layouts[i];
    size_t row_bytes = n_per_row > 0 ? nt_type_row_bytes(type, n_per_row) : 0;
    if (!l || n_rows < 0 || row_bytes == 0) return 0;
    const size_t bb = nt_type_block_bytes(type), total = row_bytes * (size_t)n_rows;
    const uint16_t d = nt_quant_f32_to_f16(scale * l->fd), m = nt_quant_f32_to_f16(scale * l->fm);
    unsigned char *out = dst;
    for (size_t i = 0; i < total; i += 8) {
        uint64_t x = *rng; /* xorshift64* */
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        *rng = x;
        x *= 0x2545F4914F6CDD1Dull;
        memcpy(out + i, &x, total - i < 8 ? total - i : 8);
    }
    for (size_t b = 0; b < total; b += bb) {
        memcpy(out + b + l->off_d, &d, 2);
        if (l->off_m >= 0) memcpy(out + b + l->off_m, &m, 2);
    }
    return total;
}
