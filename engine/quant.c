/* quant.c — quantized block formats: exact dequantization, the scalar reference kernels and
 * the run-time dispatch to the SIMD kernel sets (quant_avx2.c, quant_avx512.c). See quant.h
 * for the API, the activation formats and their accuracy.
 *
 * The scalar kernels are the reference every SIMD kernel is tested against, so they are
 * written for clarity: decode a block, multiply in integers, scale once per block. The
 * dequantizers follow ggml's arithmetic operation by operation (same float operations in the
 * same order), because the tests demand bit-identical values. This file must be compiled
 * without FP contraction, so that `d * q - m` stays two rounded operations as in ggml's
 * reference build: -std=c11 implies -ffp-contract=off in GCC, and the baseline x86-64 target
 * this file is built for has no FMA anyway. */
#include "quant.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- scalar conversions ----- */

float nt_quant_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, u;
    if (exp == 0x1f) {
        /* inf, or NaN made quiet the way the F16C instruction does, payload kept */
        u = sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0);
    } else if (exp != 0) {
        u = sign | ((exp + 112u) << 23) | (mant << 13); /* rebias 15 → 127 */
    } else {
        /* zero or subnormal: mant·2^-24, exact in f32 (mant < 2^10, power-of-two scale) */
        float f = (float)mant * 0x1p-24f;
        memcpy(&u, &f, 4);
        u |= sign;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t nt_quant_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* ≥ 65520 rounds to inf */
    if (a >= 0x38800000u) {
        /* normal half: round the 13 dropped bits to nearest even, carry may bump exponent */
        uint32_t r = a + 0xfffu + ((a >> 13) & 1u);
        return (uint16_t)(sign | ((r - (112u << 23)) >> 13));
    }
    if (a < 0x33000000u) return sign; /* ≤ 2^-25: rounds to zero (ties to even) */
    /* subnormal half: value in units of 2^-24 is m >> shift, rounded to nearest even */
    uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e; /* 14 .. 24 */
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q); /* q == 0x400 is the smallest normal: still correct bits */
}

float nt_quant_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t nt_quant_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

void nt_quant_quantize_row_q8_0(const float *x, void *dst, int64_t n)
{
    quant_block_q8_0 *y = dst;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = nt_quant_f32_to_f16(d);
        for (int i = 0; i < 32; i++) y[b].qs[i] = (int8_t)roundf(x[i] * id);
    }
}

/* ---------------------------------------------------------------- dequantization ----- */

static void deq_f32(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

static void deq_f16(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = nt_quant_f16_to_f32(h);
    }
}

static void deq_bf16(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = nt_quant_bf16_to_f32(h);
    }
}

static void deq_q8_0(const void *src, float *y, int64_t n)
{
    const quant_block_q8_0 *x = src;
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        float d = nt_quant_f16_to_f32(x[b].d);
        for (int j = 0; j < 32; j++) y[j] = (float)x[b].qs[j] * d;
    }
}

static void deq_q4_0(const void *src, float *y, int64_t n)
{
    const quant_block_q4_0 *x = src;
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        float d = nt_quant_f16_to_f32(x[b].d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((x[b].qs[j] & 0x0f) - 8) * d;
            y[j + 16] = (float)((x[b].qs[j] >> 4) - 8) * d;
        }
    }
}

static void deq_q4_1(const void *src, float *y, int64_t n)
{
    const quant_block_q4_1 *x = src;
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        float d = nt_quant_f16_to_f32(x[b].d), m = nt_quant_f16_to_f32(x[b].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(x[b].qs[j] & 0x0f) * d + m;
            y[j + 16] = (float)(x[b].qs[j] >> 4) * d + m;
        }
    }
}

/* The 32 five-bit values of a Q5_x block, 0..31. */
static void q5_values(const uint8_t qh4[4], const uint8_t qs[16], int v[32])
{
    uint32_t qh;
    memcpy(&qh, qh4, 4); /* little-endian hosts only, as everywhere in natter */
    for (int j = 0; j < 16; j++) {
        v[j] = (qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
        v[j + 16] = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
    }
}

static void deq_q5_0(const void *src, float *y, int64_t n)
{
    const quant_block_q5_0 *x = src;
    int v[32];
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        float d = nt_quant_f16_to_f32(x[b].d);
        q5_values(x[b].qh, x[b].qs, v);
        for (int j = 0; j < 32; j++) y[j] = (float)(v[j] - 16) * d;
    }
}

static void deq_q5_1(const void *src, float *y, int64_t n)
{
    const quant_block_q5_1 *x = src;
    int v[32];
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        float d = nt_quant_f16_to_f32(x[b].d), m = nt_quant_f16_to_f32(x[b].m);
        q5_values(x[b].qh, x[b].qs, v);
        for (int j = 0; j < 32; j++) y[j] = (float)v[j] * d + m;
    }
}

/* The 8 six-bit scales and mins of a Q4_K/Q5_K super-block. scales[0..3] hold sc[0..3] in
 * their low 6 bits, scales[4..7] m[0..3]; scales[8..11] hold the low 4 bits of sc[4..7]
 * (low nibble) and m[4..7] (high nibble), whose top 2 bits are the top bits of bytes 0..7. */
static void k4_scales(const uint8_t s[12], uint8_t sc[8], uint8_t m[8])
{
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        m[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 0x0f) | ((s[j] >> 6) << 4));
        m[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

static void deq_q4_K(const void *src, float *y, int64_t n)
{
    const quant_block_q4_K *x = src;
    uint8_t sc[8], m[8];
    for (int64_t b = 0; b < n / 256; b++) {
        float d = nt_quant_f16_to_f32(x[b].d), dmin = nt_quant_f16_to_f32(x[b].dmin);
        k4_scales(x[b].scales, sc, m);
        const uint8_t *q = x[b].qs;
        for (int j = 0; j < 8; j += 2, q += 32) {
            /* sub-block j: low nibbles of these 32 bytes; sub-block j + 1: high nibbles */
            float d1 = d * (float)sc[j], m1 = dmin * (float)m[j];
            float d2 = d * (float)sc[j + 1], m2 = dmin * (float)m[j + 1];
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0x0f) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

static void deq_q5_K(const void *src, float *y, int64_t n)
{
    const quant_block_q5_K *x = src;
    uint8_t sc[8], m[8];
    for (int64_t b = 0; b < n / 256; b++) {
        float d = nt_quant_f16_to_f32(x[b].d), dmin = nt_quant_f16_to_f32(x[b].dmin);
        k4_scales(x[b].scales, sc, m);
        const uint8_t *q = x[b].qs, *qh = x[b].qh;
        for (int j = 0; j < 8; j += 2, q += 32) {
            float d1 = d * (float)sc[j], m1 = dmin * (float)m[j];
            float d2 = d * (float)sc[j + 1], m2 = dmin * (float)m[j + 1];
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)((q[l] & 0x0f) + (((qh[l] >> j) & 1) << 4)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)((q[l] >> 4) + (((qh[l] >> (j + 1)) & 1) << 4)) - m2;
        }
    }
}

/* Value e (0..255) of a Q6_K super-block as 0..63. Within each half of 128 values, value l of
 * quarter k takes ql bits from byte (l + 32·(k & 1)) (nibble k >> 1) and qh bits 2k..2k+1 of
 * byte l. */
static void q6_values(const quant_block_q6_K *x, int v[256])
{
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = x->ql + 64 * h, *qh = x->qh + 32 * h;
        int *o = v + 128 * h;
        for (int l = 0; l < 32; l++) {
            o[l] = (ql[l] & 0x0f) | ((qh[l] & 3) << 4);
            o[l + 32] = (ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4);
            o[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
            o[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
        }
    }
}

static void deq_q6_K(const void *src, float *y, int64_t n)
{
    const quant_block_q6_K *x = src;
    int v[256];
    for (int64_t b = 0; b < n / 256; b++, y += 256) {
        float d = nt_quant_f16_to_f32(x[b].d);
        q6_values(&x[b], v);
        /* ggml: d * sc * q, evaluated left to right */
        for (int e = 0; e < 256; e++) y[e] = d * (float)x[b].scales[e / 16] * (float)(v[e] - 32);
    }
}

/* Q2_K / Q3_K: the 2-bit part of value e (0..255), 0..3. Within each half of 128 values,
 * quarter k (32 values) takes bits 2k..2k+1 of the half's 32 bytes of qs. */
static void q2_bits(const uint8_t qs[64], int v[256])
{
    for (int e = 0; e < 256; e++) v[e] = (qs[32 * (e / 128) + e % 32] >> (2 * (e % 128 / 32))) & 3;
}

/* Q3_K values -4..3: the 2-bit part, minus 4 where hmask's bit for the value is clear. */
static void q3_values(const quant_block_q3_K *x, int v[256])
{
    q2_bits(x->qs, v);
    for (int e = 0; e < 256; e++)
        if (!((x->hmask[e % 32] >> (e / 32)) & 1)) v[e] -= 4;
}

/* The 16 signed scales of a Q3_K super-block (the 6-bit values minus 32): see quant.h. */
static void q3_scales(const uint8_t s[12], int sc[16])
{
    for (int i = 0; i < 16; i++) {
        int lo = i < 8 ? s[i] & 0x0f : s[i - 8] >> 4;
        int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
        sc[i] = (lo | (hi << 4)) - 32;
    }
}

/* Sub-block ib's signed scale (6-bit value minus 32) of an IQ4_XS super-block. */
static int iq4xs_scale(const quant_block_iq4_xs *x, int ib)
{
    int lo = (x->scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f;
    int hi = (x->scales_h >> (2 * ib)) & 3;
    return (lo | (hi << 4)) - 32;
}

static void deq_q2_K(const void *src, float *y, int64_t n)
{
    const quant_block_q2_K *x = src;
    int v[256];
    for (int64_t b = 0; b < n / 256; b++, y += 256) {
        float d = nt_quant_f16_to_f32(x[b].d), dmin = nt_quant_f16_to_f32(x[b].dmin);
        q2_bits(x[b].qs, v);
        for (int g = 0; g < 16; g++) {
            /* ggml: dl·q - ml, with dl = d·(sc & 15) and ml = dmin·(sc >> 4) rounded first */
            float dl = d * (float)(x[b].scales[g] & 0x0f), ml = dmin * (float)(x[b].scales[g] >> 4);
            for (int l = 16 * g; l < 16 * g + 16; l++) y[l] = dl * (float)v[l] - ml;
        }
    }
}

static void deq_q3_K(const void *src, float *y, int64_t n)
{
    const quant_block_q3_K *x = src;
    int v[256], sc[16];
    for (int64_t b = 0; b < n / 256; b++, y += 256) {
        float d = nt_quant_f16_to_f32(x[b].d);
        q3_values(&x[b], v);
        q3_scales(x[b].scales, sc);
        for (int g = 0; g < 16; g++) {
            float dl = d * (float)sc[g];
            for (int l = 16 * g; l < 16 * g + 16; l++) y[l] = dl * (float)v[l];
        }
    }
}

const int8_t quant_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

/* 32 values from 16 bytes of 4-bit codes looked up in table (IQ4's codebook, MXFP4's fp4
 * values): value j low nibble of byte j, value j + 16 high. */
static void nibble_values(const int8_t table[16], const uint8_t qs[16], int v[32])
{
    for (int j = 0; j < 16; j++) {
        v[j] = table[qs[j] & 0x0f];
        v[j + 16] = table[qs[j] >> 4];
    }
}

static void iq4_values(const uint8_t qs[16], int v[32])
{
    nibble_values(quant_iq4_values, qs, v);
}

static void deq_iq4_nl(const void *src, float *y, int64_t n)
{
    const quant_block_iq4_nl *x = src;
    int v[32];
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        float d = nt_quant_f16_to_f32(x[b].d);
        iq4_values(x[b].qs, v);
        for (int j = 0; j < 32; j++) y[j] = d * (float)v[j];
    }
}

const int8_t quant_mxfp4_values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

float quant_e8m0_half(uint8_t e)
{
    /* e = 0 and 1 land below the normal range: the bit pattern of 2^-128 and 2^-127 there. */
    const uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}


static void deq_mxfp4(const void *src, float *y, int64_t n)
{
    const quant_block_mxfp4 *x = src;
    int v[32];
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        const float d = quant_e8m0_half(x[b].e);
        nibble_values(quant_mxfp4_values, x[b].qs, v);
        for (int j = 0; j < 32; j++) y[j] = (float)v[j] * d;
    }
}

static void deq_iq4_xs(const void *src, float *y, int64_t n)
{
    const quant_block_iq4_xs *x = src;
    int v[32];
    for (int64_t b = 0; b < n / 256; b++) {
        float d = nt_quant_f16_to_f32(x[b].d);
        for (int ib = 0; ib < 8; ib++, y += 32) {
            float dl = d * (float)iq4xs_scale(&x[b], ib);
            iq4_values(x[b].qs + 16 * ib, v);
            for (int j = 0; j < 32; j++) y[j] = dl * (float)v[j];
        }
    }
}

/* ------------------------------------------------------------ activation prepare ----- */

static void act_f32(const float *x, void *act, int64_t n)
{
    memcpy(act, x, (size_t)n * sizeof(float));
}

/* F16 weights: x rounded to binary16, saturated at ±QUANT_F16_MAX (NaN stays NaN), kept as
 * n floats and then as n halves (quant.h says why both). */
static void act_f16_prep(const float *x, void *act, int64_t n)
{
    float *f = act;
    uint16_t *h = (uint16_t *)(f + n);
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (v > QUANT_F16_MAX) v = QUANT_F16_MAX;
        else if (v < -QUANT_F16_MAX) v = -QUANT_F16_MAX;
        h[i] = nt_quant_f32_to_f16(v);
        f[i] = nt_quant_f16_to_f32(h[i]);
    }
    if (n & 1) h[n] = 0; /* the padding (nt_quant_act_bytes): defined bytes */
}

/* Block scale for int8 activations: q = round(x · 127/amax). SIMD preparers use the same
 * scalar scale and the same rounding, so their buffers are bit-identical to these. The clamp
 * only matters for NaN/inf inputs (fmaxf/fminf map NaN to the bound): it keeps the float to
 * int conversion defined and the kernels' int8 range assumptions true whatever comes in. */
static inline int act_q(float v)
{
    return (int)nearbyintf(fminf(fmaxf(v, -127.0f), 127.0f));
}

static void act32_prep(const float *x, void *act, int64_t n)
{
    quant_act32 *y = act;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int32_t s = 0;
        y[b].d = amax / 127.0f;
        for (int i = 0; i < 32; i++) {
            int q = act_q(x[i] * id);
            y[b].qs[i] = (int8_t)q;
            s += q;
        }
        y[b].isum = s;
    }
}

static void act256_prep(const float *x, void *act, int64_t n)
{
    quant_act256 *y = act;
    for (int64_t b = 0; b < n / 256; b++, x += 256) {
        float amax = 0.0f;
        for (int i = 0; i < 256; i++) amax = fmaxf(amax, fabsf(x[i]));
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[b].d = amax / 127.0f;
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int i = 16 * g; i < 16 * g + 16; i++) {
                int q = act_q(x[i] * id);
                y[b].qs[i] = (int8_t)q;
                s += q;
            }
            y[b].bsums[g] = (int16_t)s;
        }
    }
}

/* Q4_K/Q5_K activations: the same, with each 128 values' 32-value chunks in the order
 * 0, 2, 1, 3 (QUANT_K4_CHUNK). bsums stay in value order. */
static void act256_k4_prep(const float *x, void *act, int64_t n)
{
    act256_prep(x, act, n);
    quant_act256 *y = act;
    for (int64_t b = 0; b < n / 256; b++)
        for (int h = 0; h < 256; h += 128) {
            int8_t t[32];
            memcpy(t, y[b].qs + h + 32, 32);
            memcpy(y[b].qs + h + 32, y[b].qs + h + 64, 32);
            memcpy(y[b].qs + h + 64, t, 32);
        }
}

/* ------------------------------------------------------------- scalar dot products ----- */

/* Eight interleaved partial sums, combined pairwise: a fixed order that is also far more
 * accurate than one running sum. */
static float dot_f32_scalar(const float *a, const float *b, int64_t n)
{
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += a[i + k] * b[i + k];
    for (int k = 0; i < n; i++, k++) s[k] += a[i] * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static float dot_f32_act(const void *row, const void *act, int64_t n)
{
    return dot_f32_scalar(row, act, n);
}

/* F16/BF16 rows: convert in chunks and reuse the f32 kernel (same order for every chunk). */
static float dot_half_act(void (*deq)(const void *, float *, int64_t), size_t esz,
                          const void *row, const float *x, int64_t n)
{
    float buf[256];
    double sum = 0.0;
    for (int64_t i = 0; i < n; i += 256) {
        int64_t k = n - i < 256 ? n - i : 256;
        deq((const uint8_t *)row + (size_t)i * esz, buf, k);
        sum += dot_f32_scalar(buf, x + i, k);
    }
    return (float)sum;
}

static float dot_f16_act(const void *row, const void *act, int64_t n)
{
    return dot_half_act(deq_f16, 2, row, act, n);
}

static float dot_bf16_act(const void *row, const void *act, int64_t n)
{
    return dot_half_act(deq_bf16, 2, row, act, n);
}

static float dot_q8_0_act(const void *row, const void *act, int64_t n)
{
    const quant_block_q8_0 *x = row;
    const quant_act32 *a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 32; b++) {
        int32_t s = 0;
        for (int j = 0; j < 32; j++) s += x[b].qs[j] * a[b].qs[j];
        sum += nt_quant_f16_to_f32(x[b].d) * a[b].d * (float)s;
    }
    return sum;
}

static float dot_q4_0_act(const void *row, const void *act, int64_t n)
{
    const quant_block_q4_0 *x = row;
    const quant_act32 *a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 32; b++) {
        int32_t s = 0;
        for (int j = 0; j < 16; j++)
            s += (x[b].qs[j] & 0x0f) * a[b].qs[j] + (x[b].qs[j] >> 4) * a[b].qs[j + 16];
        s -= 8 * a[b].isum;
        sum += nt_quant_f16_to_f32(x[b].d) * a[b].d * (float)s;
    }
    return sum;
}

static float dot_q4_1_act(const void *row, const void *act, int64_t n)
{
    const quant_block_q4_1 *x = row;
    const quant_act32 *a = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 32; b++) {
        int32_t s = 0;
        for (int j = 0; j < 16; j++)
            s += (x[b].qs[j] & 0x0f) * a[b].qs[j] + (x[b].qs[j] >> 4) * a[b].qs[j + 16];
        sum += nt_quant_f16_to_f32(x[b].d) * a[b].d * (float)s +
               nt_quant_f16_to_f32(x[b].m) * a[b].d * (float)a[b].isum;
    }
    return sum;
}

static float dot_q5_0_act(const void *row, const void *act, int64_t n)
{
    const quant_block_q5_0 *x = row;
    const quant_act32 *a = act;
    float sum = 0.0f;
    int v[32];
    for (int64_t b = 0; b < n / 32; b++) {
        int32_t s = 0;
        q5_values(x[b].qh, x[b].qs, v);
        for (int j = 0; j < 32; j++) s += v[j] * a[b].qs[j];
        s -= 16 * a[b].isum;
        sum += nt_quant_f16_to_f32(x[b].d) * a[b].d * (float)s;
    }
    return sum;
}

static float dot_q5_1_act(const void *row, const void *act, int64_t n)
{
    const quant_block_q5_1 *x = row;
    const quant_act32 *a = act;
    float sum = 0.0f;
    int v[32];
    for (int64_t b = 0; b < n / 32; b++) {
        int32_t s = 0;
        q5_values(x[b].qh, x[b].qs, v);
        for (int j = 0; j < 32; j++) s += v[j] * a[b].qs[j];
        sum += nt_quant_f16_to_f32(x[b].d) * a[b].d * (float)s +
               nt_quant_f16_to_f32(x[b].m) * a[b].d * (float)a[b].isum;
    }
    return sum;
}

/* Q4_K / Q5_K: sum_j sc_j·(q·a)_j in integers, minus sum_j m_j·(bsum pair j). */
static float dot_q45_K(const uint8_t *scales, uint16_t dh, uint16_t dminh, const int v[256],
                       const quant_act256 *a)
{
    uint8_t sc[8], m[8];
    k4_scales(scales, sc, m);
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; j++) {
        int32_t s = 0;
        const int8_t *aj = a->qs + 32 * QUANT_K4_CHUNK(j);
        for (int l = 0; l < 32; l++) s += v[32 * j + l] * aj[l];
        isum += sc[j] * s;
        msum += m[j] * (a->bsums[2 * j] + a->bsums[2 * j + 1]);
    }
    return nt_quant_f16_to_f32(dh) * a->d * (float)isum -
           nt_quant_f16_to_f32(dminh) * a->d * (float)msum;
}

static float dot_q4_K_act(const void *row, const void *act, int64_t n)
{
    const quant_block_q4_K *x = row;
    const quant_act256 *a = act;
    float sum = 0.0f;
    int v[256];
    for (int64_t b = 0; b < n / 256; b++) {
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                v[64 * j + l] = x[b].qs[32 * j + l] & 0x0f;
                v[64 * j + 32 + l] = x[b].qs[32 * j + l] >> 4;
            }
        sum += dot_q45_K(x[b].scales, x[b].d, x[b].dmin, v, &a[b]);
    }
    return sum;
}

static float dot_q5_K_act(const void *row, const void *act, int64_t n)
{
    const quant_block_q5_K *x = row;
    const quant_act256 *a = act;
    float sum = 0.0f;
    int v[256];
    for (int64_t b = 0; b < n / 256; b++) {
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                v[64 * j + l] = (x[b].qs[32 * j + l] & 0x0f) | (((x[b].qh[l] >> (2 * j)) & 1) << 4);
                v[64 * j + 32 + l] =
                    (x[b].qs[32 * j + l] >> 4) | (((x[b].qh[l] >> (2 * j + 1)) & 1) << 4);
            }
        sum += dot_q45_K(x[b].scales, x[b].d, x[b].dmin, v, &a[b]);
    }
    return sum;
}

static float dot_q6_K_act(const void *row, const void *act, int64_t n)
{
    const quant_block_q6_K *x = row;
    const quant_act256 *a = act;
    float sum = 0.0f;
    int v[256];
    for (int64_t b = 0; b < n / 256; b++) {
        q6_values(&x[b], v);
        int32_t isum = 0;
        for (int g = 0; g < 16; g++) {
            int32_t s = 0;
            for (int l = 16 * g; l < 16 * g + 16; l++) s += v[l] * a[b].qs[l];
            isum += x[b].scales[g] * (s - 32 * a[b].bsums[g]);
        }
        sum += nt_quant_f16_to_f32(x[b].d) * a[b].d * (float)isum;
    }
    return sum;
}

/* Q2_K: sum_g sc_g·(q·a)_g in integers, minus dmin's part sum_g m_g·bsum_g. */
static float dot_q2_K_act(const void *row, const void *act, int64_t n)
{
    const quant_block_q2_K *x = row;
    const quant_act256 *a = act;
    float sum = 0.0f;
    int v[256];
    for (int64_t b = 0; b < n / 256; b++) {
        q2_bits(x[b].qs, v);
        int32_t isum = 0, msum = 0;
        for (int g = 0; g < 16; g++) {
            int32_t s = 0;
            for (int l = 16 * g; l < 16 * g + 16; l++) s += v[l] * a[b].qs[l];
            isum += (x[b].scales[g] & 0x0f) * s;
            msum += (x[b].scales[g] >> 4) * a[b].bsums[g];
        }
        sum += nt_quant_f16_to_f32(x[b].d) * a[b].d * (float)isum -
               nt_quant_f16_to_f32(x[b].dmin) * a[b].d * (float)msum;
    }
    return sum;
}

static float dot_q3_K_act(const void *row, const void *act, int64_t n)
{
    const quant_block_q3_K *x = row;
    const quant_act256 *a = act;
    float sum = 0.0f;
    int v[256], sc[16];
    for (int64_t b = 0; b < n / 256; b++) {
        q3_values(&x[b], v);
        q3_scales(x[b].scales, sc);
        int32_t isum = 0;
        for (int g = 0; g < 16; g++) {
            int32_t s = 0;
            for (int l = 16 * g; l < 16 * g + 16; l++) s += v[l] * a[b].qs[l];
            isum += sc[g] * s;
        }
        sum += nt_quant_f16_to_f32(x[b].d) * a[b].d * (float)isum;
    }
    return sum;
}

static float dot_iq4_nl_act(const void *row, const void *act, int64_t n)
{
    const quant_block_iq4_nl *x = row;
    const quant_act32 *a = act;
    float sum = 0.0f;
    int v[32];
    for (int64_t b = 0; b < n / 32; b++) {
        iq4_values(x[b].qs, v);
        int32_t s = 0;
        for (int j = 0; j < 32; j++) s += v[j] * a[b].qs[j];
        sum += nt_quant_f16_to_f32(x[b].d) * a[b].d * (float)s;
    }
    return sum;
}

/* MXFP4 against int8 activations, as IQ4_NL: |sum| ≤ 32 · 12 · 127, exact in int32; the
 * block's scale is a power of two, so only the final products round. */
static float dot_mxfp4_act(const void *row, const void *act, int64_t n)
{
    const quant_block_mxfp4 *x = row;
    const quant_act32 *a = act;
    float sum = 0.0f;
    int v[32];
    for (int64_t b = 0; b < n / 32; b++) {
        nibble_values(quant_mxfp4_values, x[b].qs, v);
        int32_t s = 0;
        for (int j = 0; j < 32; j++) s += v[j] * a[b].qs[j];
        sum += quant_e8m0_half(x[b].e) * a[b].d * (float)s;
    }
    return sum;
}

/* IQ4_XS: |sum| ≤ 8 sub-blocks · 32 · 127·127 · 32 < 2^31, exact in int32. */
static float dot_iq4_xs_act(const void *row, const void *act, int64_t n)
{
    const quant_block_iq4_xs *x = row;
    const quant_act256 *a = act;
    float sum = 0.0f;
    int v[32];
    for (int64_t b = 0; b < n / 256; b++) {
        int32_t isum = 0;
        for (int ib = 0; ib < 8; ib++) {
            iq4_values(x[b].qs + 16 * ib, v);
            int32_t s = 0;
            for (int j = 0; j < 32; j++) s += v[j] * a[b].qs[32 * ib + j];
            isum += iq4xs_scale(&x[b], ib) * s;
        }
        sum += nt_quant_f16_to_f32(x[b].d) * a[b].d * (float)isum;
    }
    return sum;
}

/* ------------------------------------------------------------ the x8 types ----- */

int nt_quant_x8_type(int type)
{
    switch (type) {
    case NT_TYPE_Q4_0: return QUANT_TYPE_Q4_0X8;
    case NT_TYPE_Q8_0: return QUANT_TYPE_Q8_0X8;
    case NT_TYPE_Q4_K: return QUANT_TYPE_Q4_KX8;
    case NT_TYPE_Q5_K: return QUANT_TYPE_Q5_KX8;
    case NT_TYPE_Q6_K: return QUANT_TYPE_Q6_KX8;
    case NT_TYPE_Q4_1: return QUANT_TYPE_Q4_1X8;
    case NT_TYPE_Q5_0: return QUANT_TYPE_Q5_0X8;
    case NT_TYPE_Q5_1: return QUANT_TYPE_Q5_1X8;
    case NT_TYPE_IQ4_NL: return QUANT_TYPE_IQ4_NLX8;
    case NT_TYPE_IQ4_XS: return QUANT_TYPE_IQ4_XSX8;
    case NT_TYPE_Q2_K: return QUANT_TYPE_Q2_KX8;
    case NT_TYPE_Q3_K: return QUANT_TYPE_Q3_KX8;
    /* measured faster with AVX2 only; AVX-512's F16 tiles (16 lanes, 32 registers) keep the
     * row layout until someone measures F16X32 there (its kernels would be AVX2's) */
    case NT_TYPE_F16: return nt_quant_isa_active() == QUANT_ISA_AVX2 ? QUANT_TYPE_F16X32 : -1;
    case NT_TYPE_BF16: return nt_quant_isa_active() == QUANT_ISA_AVX2 ? QUANT_TYPE_BF16X32 : -1;
    default: return -1;
    }
}

int nt_quant_x8_rows(int x8_type)
{
    return x8_type == QUANT_TYPE_F16X32 || x8_type == QUANT_TYPE_BF16X32 || x8_type == QUANT_TYPE_F16X32_F32ACT
               ? QUANT_F16X_ROWS : QUANT_X8_ROWS;
}

int nt_quant_mv_rows(int type)
{
    if (type == QUANT_TYPE_F16X32 || type == QUANT_TYPE_BF16X32) return 3 * QUANT_F16X_ROWS;
    /* AVX2's Q8_0 decoding reads three groups of 8 side by side; 96 rows are a whole number of
     * them and of forward.c's 32-row units */
    if (type == QUANT_TYPE_Q8_0X8 && nt_quant_isa_active() == QUANT_ISA_AVX2)
        return 3 * QUANT_F16X_ROWS;
    return 0;
}

/* F16X32, BF16X32 (quant.h): each group of 32 rows transposed, value k of row i to half
 * k·32 + i, 16 values of each row at a time: the 32 rows' pieces are read 32 bytes at a time
 * and their 1 KB of output stays in L1 (value by value across the 32 rows, the copy ran at
 * 0.5-0.8 GB/s, 4.5 s for TinyLlama's F16 weights on one thread; this way 1.4-3.5 GB/s). */
#define X32_REPACK_STEP 16
static void x32_repack(const uint16_t *src, uint16_t *dst, int64_t rows_, int64_t n)
{
    for (int64_t g = 0; g < rows_ / QUANT_F16X_ROWS; g++) {
        const uint16_t *in = src + (size_t)g * QUANT_F16X_ROWS * (size_t)n;
        uint16_t *out = dst + (size_t)g * QUANT_F16X_ROWS * (size_t)n;
        for (int64_t k0 = 0; k0 < n; k0 += X32_REPACK_STEP) {
            const int64_t kn = n - k0 < X32_REPACK_STEP ? n - k0 : X32_REPACK_STEP;
            for (int i = 0; i < QUANT_F16X_ROWS; i++) {
                const uint16_t *r = in + (size_t)i * (size_t)n + k0;
                uint16_t *o = out + k0 * QUANT_F16X_ROWS + i;
                for (int64_t k = 0; k < kn; k++) o[k * QUANT_F16X_ROWS] = r[k];
            }
        }
    }
}

/* Q4_0X8's, Q4_1X8's, Q5_0X8's, Q5_1X8's or IQ4_NLX8's block group (quant.h) from the 8 rows'
 * block b. */
static void x8_repack_45(const uint8_t *in, size_t rb, int64_t b, bool hm, bool hq, uint8_t *out)
{
    const size_t bb = QUANT_X8_45_BYTES(hm, hq) / 8;
    for (int r = 0; r < QUANT_X8_ROWS; r++) {
        const uint8_t *x = in + (size_t)r * rb + (size_t)b * bb; /* d, [m], [qh], qs */
        memcpy(out + 2 * r, x, 2);
        if (hm) memcpy(out + 16 + 2 * r, x + 2, 2);
        if (hq) {
            uint32_t qh;
            memcpy(&qh, x + 2 + 2 * hm, 4);
            for (int L = 0; L < 4; L++)
                out[QUANT_X8_45_QH(hm, hq) + 4 * r + L] =
                    (uint8_t)(((qh >> (4 * L)) & 15) | ((qh >> (16 + 4 * L)) & 15) << 4);
        }
        for (int L = 0; L < 4; L++)
            memcpy(out + QUANT_X8_45_QS(hm, hq) + 32 * L + 4 * r, x + bb - 16 + 4 * L, 4);
    }
}

/* Q8_0X8's block group: the values plus 128 (XOR 0x80), 4 bytes at a time. */
static void x8_repack_q8(const uint8_t *in, size_t rb, int64_t b, uint8_t *out)
{
    for (int r = 0; r < QUANT_X8_ROWS; r++) {
        const quant_block_q8_0 *x = (const quant_block_q8_0 *)(const void *)(in + (size_t)r * rb) + b;
        memcpy(out + 2 * r, &x->d, 2);
        for (int L = 0; L < 8; L++) {
            uint32_t v;
            memcpy(&v, x->qs + 4 * L, 4);
            v ^= 0x80808080u;
            memcpy(out + 16 + 32 * L + 4 * r, &v, 4);
        }
    }
}

/* Q6_KX8's block group (quant.h) from the 8 rows' super-block b. */
static void x8_repack_q6k(const uint8_t *in, size_t rb, int64_t b, uint8_t *out)
{
    for (int r = 0; r < QUANT_X8_ROWS; r++) {
        const quant_block_q6_K *x = (const quant_block_q6_K *)(const void *)(in + (size_t)r * rb) + b;
        memcpy(out + 2 * r, &x->d, 2);
        for (int P = 0; P < 4; P++) memcpy(out + 16 + 32 * P + 4 * r, x->scales + 4 * P, 4);
        for (int h = 0; h < 2; h++)
            for (int L = 0; L < 8; L++) {
                uint8_t *tri = out + 144 + 96 * (8 * h + L) + 4 * r;
                memcpy(tri, x->ql + 64 * h + 4 * L, 4);
                memcpy(tri + 32, x->ql + 64 * h + 32 + 4 * L, 4);
                memcpy(tri + 64, x->qh + 32 * h + 4 * L, 4);
            }
    }
}

/* IQ4_XSX8's block group (quant.h) from the 8 rows' super-block b. */
static void x8_repack_iq4xs(const uint8_t *in, size_t rb, int64_t b, uint8_t *out)
{
    for (int r = 0; r < QUANT_X8_ROWS; r++) {
        const quant_block_iq4_xs *x = (const quant_block_iq4_xs *)(const void *)(in + (size_t)r * rb) + b;
        memcpy(out + 2 * r, &x->d, 2);
        memcpy(out + 16 + 4 * r, x->scales_l, 4);
        memcpy(out + 48 + 2 * r, &x->scales_h, 2);
        for (int P = 0; P < 32; P++) memcpy(out + 64 + 32 * P + 4 * r, x->qs + 4 * P, 4);
    }
}

/* Q2_KX8's and Q3_KX8's block groups (quant.h) from the 8 rows' super-block b. */
static void x8_repack_q2k(const uint8_t *in, size_t rb, int64_t b, uint8_t *out)
{
    for (int r = 0; r < QUANT_X8_ROWS; r++) {
        const quant_block_q2_K *x = (const quant_block_q2_K *)(const void *)(in + (size_t)r * rb) + b;
        memcpy(out + 2 * r, &x->d, 2);
        memcpy(out + 16 + 2 * r, &x->dmin, 2);
        for (int P = 0; P < 4; P++) memcpy(out + 32 + 32 * P + 4 * r, x->scales + 4 * P, 4);
        for (int P = 0; P < 16; P++) memcpy(out + 160 + 32 * P + 4 * r, x->qs + 4 * P, 4);
    }
}

static void x8_repack_q3k(const uint8_t *in, size_t rb, int64_t b, uint8_t *out)
{
    for (int r = 0; r < QUANT_X8_ROWS; r++) {
        const quant_block_q3_K *x = (const quant_block_q3_K *)(const void *)(in + (size_t)r * rb) + b;
        memcpy(out + 2 * r, &x->d, 2);
        for (int k = 0; k < 3; k++) memcpy(out + 16 + 32 * k + 4 * r, x->scales + 4 * k, 4);
        for (int L = 0; L < 8; L++) {
            uint8_t *tri = out + 112 + 96 * L + 4 * r;
            memcpy(tri, x->hmask + 4 * L, 4);
            memcpy(tri + 32, x->qs + 4 * L, 4);
            memcpy(tri + 64, x->qs + 32 + 4 * L, 4);
        }
    }
}

/* Where Q4_KX8's and Q5_KX8's qs pieces start in a block group (quant.h). */
#define X8_K45_QS(qh) ((qh) ? 384 : 128)

/* Q4_KX8's or Q5_KX8's block group from the 8 rows' super-block b. The two formats share
 * d, dmin and scales at the same offsets; Q5_K has its qh before the qs. */
static void x8_repack_k45(const uint8_t *in, size_t rb, int64_t b, bool qh, uint8_t *out)
{
    const size_t bb = qh ? sizeof(quant_block_q5_K) : sizeof(quant_block_q4_K);
    for (int r = 0; r < QUANT_X8_ROWS; r++) {
        const uint8_t *blk = in + (size_t)r * rb + (size_t)b * bb;
        const quant_block_q4_K *x4 = (const quant_block_q4_K *)(const void *)blk;
        const quant_block_q5_K *x5 = (const quant_block_q5_K *)(const void *)blk;
        const uint8_t *qs = qh ? x5->qs : x4->qs;
        memcpy(out + 2 * r, &x4->d, 2);
        memcpy(out + 16 + 2 * r, &x4->dmin, 2);
        for (int k = 0; k < 3; k++) memcpy(out + 32 + 32 * k + 4 * r, x4->scales + 4 * k, 4);
        if (qh)
            for (int L = 0; L < 8; L++) memcpy(out + 128 + 32 * L + 4 * r, x5->qh + 4 * L, 4);
        for (int k = 0; k < 4; k++)
            for (int L = 0; L < 8; L++)
                memcpy(out + X8_K45_QS(qh) + 32 * (8 * k + L) + 4 * r, qs + 32 * k + 4 * L, 4);
    }
}

void nt_quant_repack_x8(int type, const void *src, void *dst, int64_t rows_, int64_t n)
{
    if (type == NT_TYPE_F16 || type == NT_TYPE_BF16) {
        x32_repack(src, dst, rows_, n);
        return;
    }
    const int64_t nb = n / nt_type_block_len(type);
    const size_t bb = nt_type_block_bytes(type), rb = (size_t)nb * bb;
    const bool hm = type == NT_TYPE_Q4_1 || type == NT_TYPE_Q5_1;
    const bool hq = type == NT_TYPE_Q5_0 || type == NT_TYPE_Q5_1;
    for (int64_t g = 0; g < rows_ / QUANT_X8_ROWS; g++) {
        const uint8_t *in = (const uint8_t *)src + (size_t)g * QUANT_X8_ROWS * rb;
        uint8_t *out = (uint8_t *)dst + (size_t)g * QUANT_X8_ROWS * rb;
        for (int64_t b = 0; b < nb; b++, out += QUANT_X8_ROWS * bb) switch (type) {
            case NT_TYPE_Q8_0: x8_repack_q8(in, rb, b, out); break;
            case NT_TYPE_Q4_K: case NT_TYPE_Q5_K: x8_repack_k45(in, rb, b, type == NT_TYPE_Q5_K, out); break;
            case NT_TYPE_Q6_K: x8_repack_q6k(in, rb, b, out); break;
            case NT_TYPE_IQ4_XS: x8_repack_iq4xs(in, rb, b, out); break;
            case NT_TYPE_Q2_K: x8_repack_q2k(in, rb, b, out); break;
            case NT_TYPE_Q3_K: x8_repack_q3k(in, rb, b, out); break;
            default: x8_repack_45(in, rb, b, hm, hq, out); break; /* Q4_0, Q4_1, Q5_x, IQ4_NL */
            }
    }
}

/* The scalar kernels: quant.h's rule, row by row, the reference the SIMD sets match bit for
 * bit. Each x8_row_* adds row i's part of one block group blk (against the input's
 * activation block a) to acc. */

/* Q4_0X8, Q8_0X8, Q4_1X8, Q5_0X8, Q5_1X8, IQ4_NLX8 */
static float x8_row_32(int type, const uint8_t *blk, int i, const quant_act32 *a, float acc)
{
    const bool hm = type == NT_TYPE_Q4_1 || type == NT_TYPE_Q5_1;
    const bool hq = type == NT_TYPE_Q5_0 || type == NT_TYPE_Q5_1;
    const bool nl = type == NT_TYPE_IQ4_NL;
    int32_t s = 0;
    if (type == NT_TYPE_Q8_0) {
        for (int v = 0; v < 32; v++) s += ((int)blk[16 + 32 * (v / 4) + 4 * i + v % 4] - 128) * a->qs[v];
    } else {
        const int off = hm ? 0 : hq ? 16 : 8;
        for (int L = 0; L < 4; L++)
            for (int k = 0; k < 4; k++) {
                const uint8_t q = blk[QUANT_X8_45_QS(hm, hq) + 32 * L + 4 * i + k];
                const uint8_t h = hq ? blk[QUANT_X8_45_QH(hm, hq) + 4 * i + L] : 0;
                const int lo = (q & 15) | ((h >> k) & 1) << 4, hi = (q >> 4) | ((h >> (4 + k)) & 1) << 4;
                const int vlo = nl ? quant_iq4_values[lo] : lo - off, vhi = nl ? quant_iq4_values[hi] : hi - off;
                s += vlo * a->qs[4 * L + k] + vhi * a->qs[16 + 4 * L + k];
            }
    }
    uint16_t d, m;
    memcpy(&d, blk + 2 * i, 2);
    acc = fmaf((float)s, nt_quant_f16_to_f32(d) * a->d, acc);
    if (hm) {
        memcpy(&m, blk + 16 + 2 * i, 2);
        acc = fmaf((float)a->isum, nt_quant_f16_to_f32(m) * a->d, acc);
    }
    return acc;
}

/* The float steps of the formats with mins (Q4_KX8, Q5_KX8, Q2_KX8), row i of a group whose
 * d[8] and dmin[8] lead it: s the scaled integer sum, ms the mins' sum against the bsums. */
static float x8_row_dmin(const uint8_t *blk, int i, const quant_act256 *a, int32_t s, int32_t ms,
                         float acc)
{
    uint16_t d, dmin;
    memcpy(&d, blk + 2 * i, 2);
    memcpy(&dmin, blk + 16 + 2 * i, 2);
    acc = fmaf((float)s, nt_quant_f16_to_f32(d) * a->d, acc);
    return fmaf(-(float)ms, nt_quant_f16_to_f32(dmin) * a->d, acc);
}

/* Q4_KX8, Q5_KX8 */
static float x8_row_k45(bool qh, const uint8_t *blk, int i, const quant_act256 *a, float acc)
{
    uint8_t sb[12], sc[8], m[8];
    for (int k = 0; k < 3; k++) memcpy(sb + 4 * k, blk + 32 + 32 * k + 4 * i, 4);
    k4_scales(sb, sc, m);
    int32_t s = 0, ms = 0;
    for (int j = 0; j < 8; j++) {
        const int8_t *av = a->qs + 32 * QUANT_K4_CHUNK(j);
        int32_t p = 0;
        for (int v = 0; v < 32; v++) {
            const int at = 32 * (v / 4) + 4 * i + v % 4; /* piece v/4's byte */
            const uint8_t q = blk[X8_K45_QS(qh) + 32 * 8 * (j / 2) + at];
            int w = j % 2 ? q >> 4 : q & 15;
            if (qh) w |= ((blk[128 + at] >> j) & 1) << 4;
            p += w * av[v];
        }
        s += sc[j] * p;
        ms += m[j] * (a->bsums[2 * j] + a->bsums[2 * j + 1]);
    }
    return x8_row_dmin(blk, i, a, s, ms, acc);
}

/* Q6_KX8: the pieces (h, L) hold value 128h + 32j + 4L + k of row i at byte 4i + k (ql's at
 * 32·(j & 1), qh's at 64). */
static float x8_row_q6k(const uint8_t *blk, int i, const quant_act256 *a, float acc)
{
    int32_t s = 0;
    for (int v = 0; v < 256; v++) {
        const int h = v / 128, j = v % 128 / 32, l = v % 32;
        const uint8_t *tri = blk + 144 + 96 * (8 * h + l / 4) + 4 * i + l % 4;
        const uint8_t ql = tri[32 * (j & 1)], qh = tri[64];
        const int q = (j < 2 ? ql & 15 : ql >> 4) | ((qh >> (2 * j)) & 3) << 4;
        const int sc = (int8_t)blk[16 + 32 * (v / 64) + 4 * i + v / 16 % 4];
        s += sc * (q - 32) * a->qs[v];
    }
    uint16_t d;
    memcpy(&d, blk + 2 * i, 2);
    return fmaf((float)s, nt_quant_f16_to_f32(d) * a->d, acc);
}

/* IQ4_XSX8: sub-block j's pieces 4j..4j+3 hold its values 4L + k (low nibbles) and
 * 16 + 4L + k (high) of row i at byte 4i + k of piece 4j + L. */
static float x8_row_iq4xs(const uint8_t *blk, int i, const quant_act256 *a, float acc)
{
    uint8_t sl[4];
    uint16_t sh;
    memcpy(sl, blk + 16 + 4 * i, 4);
    memcpy(&sh, blk + 48 + 2 * i, 2);
    int32_t s = 0;
    for (int j = 0; j < 8; j++) {
        const int ls = ((sl[j / 2] >> (4 * (j % 2))) & 15) | ((sh >> (2 * j)) & 3) << 4;
        int32_t p = 0;
        for (int L = 0; L < 4; L++)
            for (int k = 0; k < 4; k++) {
                const uint8_t q = blk[64 + 32 * (4 * j + L) + 4 * i + k];
                p += quant_iq4_values[q & 15] * a->qs[32 * j + 4 * L + k] +
                     quant_iq4_values[q >> 4] * a->qs[32 * j + 16 + 4 * L + k];
            }
        s += (ls - 32) * p;
    }
    uint16_t d;
    memcpy(&d, blk + 2 * i, 2);
    return fmaf((float)s, nt_quant_f16_to_f32(d) * a->d, acc);
}

/* Q2_KX8: value v = 128h + 32j + l of row i is bits 2j..2j+1 of byte 4i + l % 4 of piece
 * 8h + l / 4; its sub-block's scale and min are in byte 4i + g % 4 of scale piece g / 4. */
static float x8_row_q2k(const uint8_t *blk, int i, const quant_act256 *a, float acc)
{
    int32_t s = 0, ms = 0;
    for (int g = 0; g < 16; g++) {
        int32_t p = 0;
        for (int v = 16 * g; v < 16 * g + 16; v++) {
            const int h = v / 128, j = v % 128 / 32, l = v % 32;
            p += ((blk[160 + 32 * (8 * h + l / 4) + 4 * i + l % 4] >> (2 * j)) & 3) * a->qs[v];
        }
        const uint8_t sc = blk[32 + 32 * (g / 4) + 4 * i + g % 4];
        s += (sc & 15) * p;
        ms += (sc >> 4) * a->bsums[g];
    }
    return x8_row_dmin(blk, i, a, s, ms, acc);
}

/* Q3_KX8: value v's 2-bit part as Q2_KX8's (from the triple l / 4, at 32 + 32h), its high bit
 * bit 4h + j of the triple's hmask byte. */
static float x8_row_q3k(const uint8_t *blk, int i, const quant_act256 *a, float acc)
{
    uint8_t sb[12];
    int sc[16];
    for (int k = 0; k < 3; k++) memcpy(sb + 4 * k, blk + 16 + 32 * k + 4 * i, 4);
    q3_scales(sb, sc);
    int32_t s = 0;
    for (int g = 0; g < 16; g++) {
        int32_t p = 0;
        for (int v = 16 * g; v < 16 * g + 16; v++) {
            const int h = v / 128, j = v % 128 / 32, l = v % 32;
            const uint8_t *tri = blk + 112 + 96 * (l / 4) + 4 * i + l % 4;
            const int q = ((tri[32 + 32 * h] >> (2 * j)) & 3) | ((tri[0] >> (4 * h + j)) & 1) << 2;
            p += (q - 4) * a->qs[v];
        }
        s += sc[g] * p;
    }
    uint16_t d;
    memcpy(&d, blk + 2 * i, 2);
    return fmaf((float)s, nt_quant_f16_to_f32(d) * a->d, acc);
}

/* Rows [r0, r1) (multiples of 8) of an x8 matrix whose tensor type is type, against nt inputs. */
static void x8_scalar(int type, const void *W, size_t row_bytes, int64_t r0, int64_t r1,
                      const void *acts, size_t ab, int64_t nt, int64_t n, float *Y, int64_t ldy)
{
    const int64_t bl = nt_type_block_len(type);
    const size_t gb = QUANT_X8_ROWS * nt_type_block_bytes(type);
    for (int64_t r = r0; r < r1; r += QUANT_X8_ROWS) {
        const uint8_t *g = (const uint8_t *)W + (size_t)r * row_bytes;
        for (int64_t t = 0; t < nt; t++) {
            const void *a = (const uint8_t *)acts + (size_t)t * ab;
            float acc[QUANT_X8_ROWS] = {0};
            for (int64_t b = 0; b < n / bl; b++) {
                const uint8_t *blk = g + (size_t)b * gb;
                const quant_act32 *a32 = (const quant_act32 *)a + b;
                const quant_act256 *a256 = (const quant_act256 *)a + b;
                for (int i = 0; i < QUANT_X8_ROWS; i++)
                    acc[i] = type == NT_TYPE_Q6_K ? x8_row_q6k(blk, i, a256, acc[i])
                             : type == NT_TYPE_IQ4_XS ? x8_row_iq4xs(blk, i, a256, acc[i])
                             : type == NT_TYPE_Q2_K   ? x8_row_q2k(blk, i, a256, acc[i])
                             : type == NT_TYPE_Q3_K   ? x8_row_q3k(blk, i, a256, acc[i])
                             : type == NT_TYPE_Q4_K || type == NT_TYPE_Q5_K
                                 ? x8_row_k45(type == NT_TYPE_Q5_K, blk, i, a256, acc[i])
                                 : x8_row_32(type, blk, i, a32, acc[i]);
            }
            for (int i = 0; i < QUANT_X8_ROWS; i++) Y[t * ldy + r + i] = acc[i];
        }
    }
}

#define DEF_X8_SCALAR(NAME, TYPE)                                                            \
    static void mm_##NAME(const void *W, size_t row_bytes, int64_t r0, int64_t r1,           \
                          const void *acts, size_t ab, int64_t nt, int64_t n, float *Y,      \
                          int64_t ldy)                                                       \
    {                                                                                        \
        x8_scalar(TYPE, W, row_bytes, r0, r1, acts, ab, nt, n, Y, ldy);                      \
    }                                                                                        \
    static void mv_##NAME(const void *W, size_t row_bytes, int64_t r0, int64_t r1,           \
                          const void *act, int64_t n, float *y)                              \
    {                                                                                        \
        x8_scalar(TYPE, W, row_bytes, r0, r1, act, 0, 1, n, y, 0);                           \
    }
DEF_X8_SCALAR(q4_0x8, NT_TYPE_Q4_0)
DEF_X8_SCALAR(q8_0x8, NT_TYPE_Q8_0)
DEF_X8_SCALAR(q4_1x8, NT_TYPE_Q4_1)
DEF_X8_SCALAR(q5_0x8, NT_TYPE_Q5_0)
DEF_X8_SCALAR(q5_1x8, NT_TYPE_Q5_1)
DEF_X8_SCALAR(q4_kx8, NT_TYPE_Q4_K)
DEF_X8_SCALAR(q5_kx8, NT_TYPE_Q5_K)
DEF_X8_SCALAR(q6_kx8, NT_TYPE_Q6_K)
DEF_X8_SCALAR(iq4_nlx8, NT_TYPE_IQ4_NL)
DEF_X8_SCALAR(iq4_xsx8, NT_TYPE_IQ4_XS)
DEF_X8_SCALAR(q2_kx8, NT_TYPE_Q2_K)
DEF_X8_SCALAR(q3_kx8, NT_TYPE_Q3_K)

/* F16X32, BF16X32, the rule itself: one fmaf chain per row and input over the activations'
 * floats, the weights widened by CVT. */
#define DEF_X32_SCALAR(NAME, CVT)                                                            \
    static void mm_##NAME(const void *W, size_t row_bytes, int64_t r0, int64_t r1,           \
                          const void *acts, size_t ab, int64_t nt, int64_t n, float *Y,      \
                          int64_t ldy)                                                       \
    {                                                                                        \
        for (int64_t r = r0; r < r1; r += QUANT_F16X_ROWS) {                                 \
            const uint16_t *g = (const uint16_t *)(const void *)((const uint8_t *)W + (size_t)r * row_bytes); \
            for (int64_t t = 0; t < nt; t++) {                                               \
                const float *x = (const float *)(const void *)((const uint8_t *)acts + (size_t)t * ab); \
                for (int i = 0; i < QUANT_F16X_ROWS; i++) {                                  \
                    float y = 0.0f;                                                          \
                    for (int64_t k = 0; k < n; k++) y = fmaf(CVT(g[k * QUANT_F16X_ROWS + i]), x[k], y); \
                    Y[t * ldy + r + i] = y;                                                  \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    }                                                                                        \
    static void mv_##NAME(const void *W, size_t row_bytes, int64_t r0, int64_t r1,           \
                          const void *act, int64_t n, float *y)                              \
    {                                                                                        \
        mm_##NAME(W, row_bytes, r0, r1, act, 0, 1, n, y, 0);                                 \
    }
DEF_X32_SCALAR(f16x32, nt_quant_f16_to_f32)
DEF_X32_SCALAR(bf16x32, nt_quant_bf16_to_f32)

/* ------------------------------------------------------------------ dispatch ----- */

static const quant_kernels scalar_kernels[QUANT_TYPE_COUNT_] = {
    [NT_TYPE_F32] = {deq_f32, act_f32, dot_f32_act, NULL, NULL},
    [NT_TYPE_F16] = {deq_f16, act_f16_prep, dot_f16_act, NULL, NULL}, /* reads the floats */
    [QUANT_TYPE_F16_F32ACT] = {deq_f16, act_f32, dot_f16_act, NULL, NULL},
    [NT_TYPE_BF16] = {deq_bf16, act_f32, dot_bf16_act, NULL, NULL},
    [NT_TYPE_Q8_0] = {deq_q8_0, act32_prep, dot_q8_0_act, NULL, NULL},
    [NT_TYPE_Q4_0] = {deq_q4_0, act32_prep, dot_q4_0_act, NULL, NULL},
    [NT_TYPE_Q4_1] = {deq_q4_1, act32_prep, dot_q4_1_act, NULL, NULL},
    [NT_TYPE_Q5_0] = {deq_q5_0, act32_prep, dot_q5_0_act, NULL, NULL},
    [NT_TYPE_Q5_1] = {deq_q5_1, act32_prep, dot_q5_1_act, NULL, NULL},
    [NT_TYPE_Q4_K] = {deq_q4_K, act256_k4_prep, dot_q4_K_act, NULL, NULL},
    [NT_TYPE_Q5_K] = {deq_q5_K, act256_k4_prep, dot_q5_K_act, NULL, NULL},
    [NT_TYPE_Q6_K] = {deq_q6_K, act256_prep, dot_q6_K_act, NULL, NULL},
    [NT_TYPE_Q2_K] = {deq_q2_K, act256_prep, dot_q2_K_act, NULL, NULL},
    [NT_TYPE_Q3_K] = {deq_q3_K, act256_prep, dot_q3_K_act, NULL, NULL},
    [NT_TYPE_IQ4_NL] = {deq_iq4_nl, act32_prep, dot_iq4_nl_act, NULL, NULL},
    [NT_TYPE_IQ4_XS] = {deq_iq4_xs, act256_prep, dot_iq4_xs_act, NULL, NULL},
    [NT_TYPE_MXFP4] = {deq_mxfp4, act32_prep, dot_mxfp4_act, NULL, NULL},
    QUANT_X8_KERNELS
    [QUANT_TYPE_F16X32] = {NULL, act_f16_prep, NULL, mv_f16x32, mm_f16x32},
    [QUANT_TYPE_BF16X32] = {NULL, act_f32, NULL, mv_bf16x32, mm_bf16x32},
    [QUANT_TYPE_F16X32_F32ACT] = {NULL, act_f32, NULL, mv_f16x32, mm_f16x32},
};

bool nt_quant_type_supported(int type)
{
    return type >= 0 && type < NT_TYPE_COUNT_ && scalar_kernels[type].dequant != NULL;
}

bool nt_quant_isa_available(int isa)
{
    switch (isa) {
    case QUANT_ISA_SCALAR: return true;
    case QUANT_ISA_AVX2: return nt_quant_avx2_usable();
    case QUANT_ISA_AVX512: return nt_quant_avx512_usable();
    default: return false;
    }
}

const char *nt_kernels_name(void)
{
    return nt_quant_isa_name(nt_quant_isa_active());
}

const char *nt_quant_isa_name(int isa)
{
    switch (isa) {
    case QUANT_ISA_SCALAR: return "scalar";
    case QUANT_ISA_AVX2: return "avx2";
    case QUANT_ISA_AVX512: return "avx512";
    default: return "?";
    }
}

int nt_quant_isa_active(void)
{
    /* Decided once; -1 means not yet. A race only makes two threads decide the same thing. */
    static _Atomic int active = -1;
    int a = atomic_load_explicit(&active, memory_order_relaxed);
    if (a < 0) {
        /* NATTER_ISA=scalar|avx2|avx512 caps the choice (to compare kernels in the whole
         * program); an unknown name is ignored. */
        const char *cap = getenv("NATTER_ISA");
        a = QUANT_ISA_COUNT_ - 1;
        for (int i = 0; cap && i < QUANT_ISA_COUNT_; i++)
            if (strcmp(cap, nt_quant_isa_name(i)) == 0) a = i;
        while (a > QUANT_ISA_SCALAR && !nt_quant_isa_available(a)) a--;
        atomic_store_explicit(&active, a, memory_order_relaxed);
    }
    return a;
}

/* The kernel set for (isa, type) with scalar fallbacks filled in. */
static quant_kernels kernels_for(int isa, int type)
{
    quant_kernels k = scalar_kernels[type];
    if (isa == QUANT_ISA_AVX2 || isa == QUANT_ISA_AVX512) {
        const quant_kernels *v =
            isa == QUANT_ISA_AVX2 ? nt_quant_avx2_kernels(type) : nt_quant_avx512_kernels(type);
        /* a type AVX-512's set has no products for (F16X32, BF16X32, and F16X32_F32ACT, the
         * F16 cache's attention) takes AVX2's whole row of kernels, preparation included (the
         * same bits) */
        if (isa == QUANT_ISA_AVX512 && !v->dot_act && !v->matvec && nt_quant_avx2_usable())
            v = nt_quant_avx2_kernels(type);
        if (v->dequant) k.dequant = v->dequant;
        if (v->act_prepare) k.act_prepare = v->act_prepare;
        if (v->dot_act) k.dot_act = v->dot_act;
        /* matvec and matmat only ever pair with their own dot (the x8 types have none) */
        if (v->dot_act || v->matvec) {
            k.matvec = v->matvec;
            k.matmat = v->matmat;
        }
    }
    return k;
}

static float dot_f32_isa(int isa, const float *a, const float *b, int64_t n)
{
    switch (isa) {
    case QUANT_ISA_AVX2: return nt_quant_avx2_dot_f32(a, b, n);
    case QUANT_ISA_AVX512: return nt_quant_avx512_dot_f32(a, b, n);
    default: return dot_f32_scalar(a, b, n);
    }
}

float nt_quant_dot_f32(const float *a, const float *b, int64_t n)
{
    return dot_f32_isa(nt_quant_isa_active(), a, b, n);
}

double nt_quant_exp_shifted_isa(int isa, float *v, int64_t n, float scale)
{
    switch (isa) {
    case QUANT_ISA_AVX2: return nt_quant_avx2_exp_shifted(v, n, scale);
    case QUANT_ISA_AVX512: return nt_quant_avx512_exp_shifted(v, n, scale);
    default: break;
    }
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        v[i] *= scale;
        if (v[i] > max) max = v[i];
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        v[i] = expf(v[i] - max);
        sum += v[i];
    }
    return sum;
}

double nt_quant_exp_shifted(float *v, int64_t n, float scale)
{
    return nt_quant_exp_shifted_isa(nt_quant_isa_active(), v, n, scale);
}

void nt_quant_swiglu_isa(int isa, float *g, const float *u, int64_t n)
{
    switch (isa) {
    case QUANT_ISA_AVX2: nt_quant_avx2_swiglu(g, u, n); return;
    case QUANT_ISA_AVX512: nt_quant_avx512_swiglu(g, u, n); return;
    default: break;
    }
    for (int64_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void nt_quant_swiglu(float *g, const float *u, int64_t n)
{
    nt_quant_swiglu_isa(nt_quant_isa_active(), g, u, n);
}

void nt_quant_geglu_isa(int isa, float *g, const float *u, int64_t n)
{
    switch (isa) {
    case QUANT_ISA_AVX2: nt_quant_avx2_geglu(g, u, n); return;
    case QUANT_ISA_AVX512: nt_quant_avx512_geglu(g, u, n); return;
    default: break;
    }
    const float c2 = 1.5957691216057308f; /* 2·sqrt(2/pi) */
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i];
        g[i] = x / (1.0f + expf(-c2 * x * (1.0f + 0.044715f * x * x))) * u[i];
    }
}

void nt_quant_geglu(float *g, const float *u, int64_t n)
{
    nt_quant_geglu_isa(nt_quant_isa_active(), g, u, n);
}

void nt_quant_dequant_row_isa(int isa, int type, const void *src, float *dst, int64_t n)
{
    kernels_for(isa, type).dequant(src, dst, n);
}

void nt_quant_act_prepare_isa(int isa, int type, const float *x, void *act, int64_t n)
{
    kernels_for(isa, type).act_prepare(x, act, n);
}

float nt_quant_dot_act_isa(int isa, int type, const void *row, const void *act, int64_t n)
{
    return kernels_for(isa, type).dot_act(row, act, n);
}

float nt_quant_dot_isa(int isa, int type, const void *row, const float *x, int64_t n)
{
    if (type == NT_TYPE_F32) return dot_f32_isa(isa, row, x, n);
    /* Dequantize 256 values at a time (a multiple of every block length) into the stack and
     * dot them in f32; chunk results add up in double. */
    quant_kernels k = kernels_for(isa, type);
    size_t chunk_bytes = nt_type_row_bytes(type, 256);
    float buf[256];
    double sum = 0.0;
    for (int64_t i = 0; i < n; i += 256) {
        int64_t len = n - i < 256 ? n - i : 256;
        k.dequant((const uint8_t *)row + (size_t)(i / 256) * chunk_bytes, buf, len);
        sum += dot_f32_isa(isa, buf, x + i, len);
    }
    return (float)sum;
}

void nt_quant_dequant_row(int type, const void *src, float *dst, int64_t n)
{
    nt_quant_dequant_row_isa(nt_quant_isa_active(), type, src, dst, n);
}

void nt_quant_dequant_rows(int type, const void *W, size_t row_bytes, int64_t row0, int64_t row1,
                        int64_t col0, int64_t col1, float *dst, int64_t ld)
{
    quant_kernels k = kernels_for(nt_quant_isa_active(), type);
    int64_t bl = nt_type_block_len(type);
    size_t off = (size_t)(col0 / bl) * nt_type_block_bytes(type);
    for (int64_t r = row0; r < row1; r++)
        k.dequant((const uint8_t *)W + (size_t)r * row_bytes + off, dst + (r - row0) * ld,
                  col1 - col0);
}

float nt_quant_dot(int type, const void *row, const float *x, int64_t n)
{
    return nt_quant_dot_isa(nt_quant_isa_active(), type, row, x, n);
}

size_t nt_quant_act_bytes(int type, int64_t n)
{
    switch (type) {
    case NT_TYPE_F32: case NT_TYPE_BF16: case QUANT_TYPE_F16_F32ACT: case QUANT_TYPE_BF16X32:
    case QUANT_TYPE_F16X32_F32ACT:
        return (size_t)n * sizeof(float);
    case NT_TYPE_F16: case QUANT_TYPE_F16X32:
        /* the halves rounded up to 4 bytes: buffers laid end to end stay aligned */
        return (size_t)n * sizeof(float) + (((size_t)n * sizeof(uint16_t) + 3) & ~(size_t)3);
    case NT_TYPE_Q8_0: case NT_TYPE_Q4_0: case NT_TYPE_Q4_1: case NT_TYPE_Q5_0:
    case NT_TYPE_Q5_1: case NT_TYPE_IQ4_NL: case NT_TYPE_MXFP4: case QUANT_TYPE_Q4_0X8:
    case QUANT_TYPE_Q8_0X8: case QUANT_TYPE_Q4_1X8: case QUANT_TYPE_Q5_0X8: case QUANT_TYPE_Q5_1X8:
    case QUANT_TYPE_IQ4_NLX8:
        return (size_t)(n / 32) * sizeof(quant_act32);
    case NT_TYPE_Q2_K: case NT_TYPE_Q3_K: case NT_TYPE_Q4_K: case NT_TYPE_Q5_K:
    case NT_TYPE_Q6_K: case NT_TYPE_IQ4_XS: case QUANT_TYPE_Q4_KX8: case QUANT_TYPE_Q5_KX8:
    case QUANT_TYPE_Q6_KX8: case QUANT_TYPE_IQ4_XSX8: case QUANT_TYPE_Q2_KX8: case QUANT_TYPE_Q3_KX8:
        return (size_t)(n / 256) * sizeof(quant_act256);
    default:
        return 0;
    }
}

void nt_quant_act_prepare(int type, const float *x, void *act, int64_t n)
{
    nt_quant_act_prepare_isa(nt_quant_isa_active(), type, x, act, n);
}

float nt_quant_dot_act(int type, const void *row, const void *act, int64_t n)
{
    return nt_quant_dot_act_isa(nt_quant_isa_active(), type, row, act, n);
}

void nt_quant_matvec_isa(int isa, int type, const void *W, size_t row_bytes, int64_t row0,
                      int64_t row1, const void *act, int64_t n, float *y)
{
    /* By far the hottest loop of decoding: one weight row after another, streamed from
     * memory once. Each row's result is exactly nt_quant_dot_act's. */
    quant_kernels k = kernels_for(isa, type);
    if (k.matvec) {
        k.matvec(W, row_bytes, row0, row1, act, n, y);
        return;
    }
    for (int64_t r = row0; r < row1; r++)
        y[r] = k.dot_act((const uint8_t *)W + (size_t)r * row_bytes, act, n);
}

void nt_quant_matmat_isa(int isa, int type, const void *W, size_t row_bytes, int64_t row0,
                         int64_t row1, const void *acts, size_t act_stride, int64_t nt, int64_t n,
                         float *Y, int64_t ldy)
{
    quant_kernels k = kernels_for(isa, type);
    /* Groups of QUANT_MATMAT_GROUP inputs: their activations (24 × 4 bytes × n, 200 KB at
     * n = 2048 for float weights, a quarter of it for int8 ones) stay in L2 while every row of
     * the range meets them once, row tile by row tile. */
    for (int64_t t0 = 0; t0 < nt; t0 += QUANT_MATMAT_GROUP) {
        int64_t g = nt - t0 < QUANT_MATMAT_GROUP ? nt - t0 : QUANT_MATMAT_GROUP;
        const uint8_t *a = (const uint8_t *)acts + (size_t)t0 * act_stride;
        float *y = Y + t0 * ldy;
        if (k.matmat) {
            k.matmat(W, row_bytes, row0, row1, a, act_stride, g, n, y, ldy);
            continue;
        }
        for (int64_t r = row0; r < row1; r++)
            for (int64_t t = 0; t < g; t++)
                y[t * ldy + r] = k.dot_act((const uint8_t *)W + (size_t)r * row_bytes,
                                           a + (size_t)t * act_stride, n);
    }
}

void nt_quant_matmat(int type, const void *W, size_t row_bytes, int64_t row0, int64_t row1,
                     const void *acts, size_t act_stride, int64_t nt, int64_t n, float *Y,
                     int64_t ldy)
{
    nt_quant_matmat_isa(nt_quant_isa_active(), type, W, row_bytes, row0, row1, acts, act_stride,
                        nt, n, Y, ldy);
}

void nt_quant_matvec(int type, const void *W, size_t row_bytes, int64_t row0, int64_t row1,
                  const void *act, int64_t n, float *y)
{
    nt_quant_matvec_isa(nt_quant_isa_active(), type, W, row_bytes, row0, row1, act, n, y);
}
