/* quant_avx512.c — AVX-512 kernels for the quantized formats of quant.h.
 *
 * Every function here is compiled for AVX-512 F/BW/VL/DQ + VNNI + F16C + FMA through a target
 * attribute, while the rest of the program is built for the baseline x86-64: quant.c calls
 * these only after nt_quant_avx512_usable() said the CPU has all of those features, so the same
 * binary still runs (on the AVX2 or scalar kernels) on a CPU without AVX-512.
 *
 * Decoding is bound by memory bandwidth: each weight byte is read once per token. The dot
 * kernels therefore keep the weights in their packed form, expand them in registers to bytes
 * and multiply them with int8 activations (quant_act32 / quant_act256) in integers
 * (VPDPBUSD, VPMADDUBSW + VPDPWSSD); only one float multiply-add per block remains.
 *
 * Dequantization must be bit-identical to ggml's: it uses the same float operations in the
 * same order, with the explicitly rounded intrinsics (_mm512_mul_round_ps, ...) so that the
 * compiler can never fuse `d·q - m` into one FMA. */
#include "quant.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma")))
#define RN (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
/* The dot kernels are written once as always-inline bodies (tile_* for the main types, k_* for
 * the others), then instantiated as a single dot, a row loop (matvec) and a rows × inputs loop
 * (matmat): the same operations in the same order, so a value does not depend on which entry
 * point computed it. */
#define INLINE __attribute__((always_inline)) inline

/* F16C through CPUID (leaf 1, ECX bit 29): clang does not know "f16c" as a feature name of
 * __builtin_cpu_supports. */
static bool has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

bool nt_quant_avx512_usable(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vnni") && has_f16c() &&
           __builtin_cpu_supports("fma");
}

AVX512 static inline float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

/* y = (float)q · d, then optionally - m / + m, each rounded separately as in ggml */
AVX512 static inline __m512 mul_rn(__m512 a, __m512 b)
{
    return _mm512_mul_round_ps(a, b, RN);
}

AVX512 static inline __m512 i8_to_ps(__m128i v) /* 16 signed bytes → 16 floats */
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v));
}

AVX512 static inline __m512 u8_to_ps(__m128i v)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v));
}

/* --------------------------------------------------------------------- f32 dot ----- */

/* Four accumulators of 16 lanes over 64 values per step; the tail is masked into acc 0.
 * The final reduction order is fixed by the code. */
AVX512 INLINE static float k_f32(const void *row, const void *act, int64_t n)
{
    const float *a = row, *b = act;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

AVX512 float nt_quant_avx512_dot_f32(const float *a, const float *b, int64_t n)
{
    return k_f32(a, b, n);
}

/* e^x for 16 lanes (x <= 0 in use): x = k·ln2 + r with k = round(x·log2(e)) and |r| <=
 * ln2/2 (ln2 split in two parts, the first exact in few bits, so k·ln2 loses nothing), e^r by
 * its Taylor polynomial to degree 7 (truncation < 7e-9 relative, below float's rounding),
 * then scaled by 2^k. Below -87.3 (where e^x leaves float's normal range) the result is 0. */
AVX512 static inline __m512 exp16(__m512 x)
{
    const __m512 lo = _mm512_set1_ps(-87.3f);
    const __mmask16 keep = _mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ);
    x = _mm512_max_ps(x, lo);
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_maskz_mov_ps(keep, _mm512_scalef_ps(p, k));
}

/* quant.h's nt_quant_exp_shifted: the scaled values and their maximum, then e^(v - max) 16
 * values at a time, summed in double in 16 lanes (values 16s.. into lane j of step s) and
 * reduced in a fixed order. */
AVX512 double nt_quant_avx512_exp_shifted(float *v, int64_t n, float scale)
{
    const __m512 vs = _mm512_set1_ps(scale);
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        const __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, v + i), vs);
        _mm512_mask_storeu_ps(v + i, k, x);
        mx = _mm512_mask_max_ps(mx, k, mx, x);
    }
    const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512d s0 = _mm512_setzero_pd(), s1 = s0;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        const __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, v + i), max)));
        _mm512_mask_storeu_ps(v + i, k, e);
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

/* σ(z) = 1 / (1 + e^-z) from e^-|z|, which never overflows: 1 / (1 + e) for z >= 0, else
 * e / (1 + e). */
AVX512 static inline __m512 sigmoid16(__m512 z)
{
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    const __m512 e = exp16(_mm512_sub_ps(zero, _mm512_abs_ps(z)));
    const __mmask16 neg = _mm512_cmp_ps_mask(z, zero, _CMP_LT_OQ);
    return _mm512_div_ps(_mm512_mask_blend_ps(neg, one, e), _mm512_add_ps(one, e));
}

/* quant.h's nt_quant_swiglu and nt_quant_geglu, 16 values at a time (the last ones masked).
 * The plain x / (1 + expf(-x)) loop was 9% of a small model's prompt time (SmolLM2 shape,
 * Q8_0, one thread: libm's expf and the division, one value at a time). */
#define DEF_GLU16(NAME, GATE)                                                               \
    AVX512 void NAME(float *g, const float *u, int64_t n)                                   \
    {                                                                                       \
        for (int64_t i = 0; i < n; i += 16) {                                               \
            const __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u); \
            const __m512 x = _mm512_maskz_loadu_ps(k, g + i);                               \
            _mm512_mask_storeu_ps(g + i, k, _mm512_mul_ps(GATE(x), _mm512_maskz_loadu_ps(k, u + i))); \
        }                                                                                   \
    }
/* x · σ(x) */
#define SILU16(x) _mm512_mul_ps((x), sigmoid16(x))
/* x · σ(2y), 2y = 2·√(2/π)·x·(1 + 0.044715·x²) */
#define GELU16(x)                                                                           \
    _mm512_mul_ps((x), sigmoid16(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(1.5957691216057308f), (x)), \
                                               _mm512_fmadd_ps(_mm512_set1_ps(0.044715f),   \
                                                               _mm512_mul_ps((x), (x)),     \
                                                               _mm512_set1_ps(1.0f)))))
DEF_GLU16(nt_quant_avx512_swiglu, SILU16)
DEF_GLU16(nt_quant_avx512_geglu, GELU16)

/* F16 and BF16 rows against f32 activations: widen 16 values, FMA, same shape as above. */
AVX512 static inline __m512 ld_f16(const uint16_t *p, __mmask16 k)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, p));
}

AVX512 static inline __m512 ld_bf16(const uint16_t *p, __mmask16 k)
{
    __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

/* ------------------------------------------------------------------ tiles ----- */

/* The matrix kernels of the main types (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL,
 * Q4_K, Q5_K, Q6_K, Q3_K, IQ4_XS; not Q2_K) are written once as always-inline tile
 * bodies, tile_T(W, rb, A, ab, n, Y, ldy, R, T): rows W + r·rb (r < R) against activations
 * A + t·ab (t < T), Y[t·ldy + r] = their dot product. R and T are compile-time constants in
 * every instantiation, so the tile's accumulators live in registers and each weight vector,
 * once loaded and unpacked, serves T tokens (and each activation vector R rows): a prompt
 * runs at matrix-multiply speed instead of streaming the weights once per token. Every
 * (row, token) value has its own accumulators and sees exactly the same operations in the
 * same order whatever R and T are, so a single dot (1 × 1), decoding (R × 1) and a prompt
 * (R × T) give bit-identical values. TILE_UNROLL makes GCC unroll the R and T loops, which
 * is what puts the accumulators in registers. */
#define TILE_MAX 8
#define TILE_UNROLL _Pragma("GCC unroll 8")
#define TILE_FOR(i, N) TILE_UNROLL for (int i = 0; i < (N); i++)

/* F32, F16, BF16 against activations read as f32. Per (row, token) two 16-lane partial
 * sums: step s (values 16s .. 16s+15, the last one masked for a ragged n) is added by FMA
 * into partial s mod 2, steps in increasing order; then p0 + p1 and the fixed horizontal
 * sum. Two partials give a row two independent FMA chains, which decoding needs: it streams
 * one row at a time (interleaving rows, one memory stream each, halved the speed from memory,
 * measured), and a single chain is bound by the FMA latency (-35% on an F16 model); so a
 * 1 × 1 tile runs the two partials interleaved, step after step.
 * A prompt tile has chains enough in its R·T values, and there interleaving costs registers:
 * 2·R·T accumulators allowed only 4 rows × 3 tokens, 7 loads for 12 FMAs, 126 GFLOP/s with
 * every operand in L1 (60% of the FMA peak; Zen 5, one thread, 16 F16 rows of 2048 against
 * 24 inputs). So a larger tile makes two passes over its rows, the even steps into acc and
 * then the odd ones into odd: each value sees the same FMAs in the same order, only R·T
 * accumulators are live in a pass, and 4 rows × 6 tokens fit: 10 loads for 24 FMAs, 180
 * GFLOP/s on the same test. */
#define FLOAT_STEP(LDW, LDX, I_, K_, FULL_, ACC)                                            \
    do {                                                                                    \
        __m512 w[TILE_MAX];                                                                 \
        TILE_FOR(r, R) w[r] = LDW(W + (size_t)r * rb, (I_), (K_), (FULL_));                 \
        TILE_FOR(t, T) {                                                                    \
            __m512 x = LDX(A + (size_t)t * ab, (I_), (K_), (FULL_));                        \
            TILE_FOR(r, R) ACC[r][t] = _mm512_fmadd_ps(w[r], x, ACC[r][t]);                 \
        }                                                                                   \
    } while (0)
/* The end of a row (e = n rounded down to 32): partial 0's step at e, masked unless 16 values
 * remain; partial 1's step at e + 16, always masked. */
#define FLOAT_END0(LDW, LDX, e, ACC)                                                        \
    if ((e) < n) {                                                                          \
        const int full = n - (e) >= 16;                                                     \
        const __mmask16 k = full ? all : (__mmask16)((1u << (n - (e))) - 1u);               \
        FLOAT_STEP(LDW, LDX, (e), k, full, ACC);                                            \
    }
#define FLOAT_END1(LDW, LDX, e, ACC)                                                        \
    if ((e) + 16 < n) {                                                                     \
        const __mmask16 k = (__mmask16)((1u << (n - (e) - 16)) - 1u);                       \
        FLOAT_STEP(LDW, LDX, (e) + 16, k, 0, ACC);                                          \
    }
/* LDW loads 16 weights of a row as f32, LDX 16 activations (masked lanes 0 in both). */
#define DEF_TILE_FLOAT(NAME, LDW, LDX, ESZ)                                                    \
    AVX512 INLINE static void NAME(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab, \
                                   int64_t n, float *Y, int64_t ldy, const int R, const int T) \
    {                                                                                       \
        const __mmask16 all = 0xffff;                                                       \
        const int64_t e = n / 32 * 32;                                                      \
        __m512 acc[TILE_MAX][TILE_MAX], odd[TILE_MAX][TILE_MAX];                            \
        TILE_FOR(r, R) TILE_FOR(t, T) acc[r][t] = odd[r][t] = _mm512_setzero_ps();          \
        if (R * T == 1) { /* interleaved */                                                 \
            for (int64_t i = 0; i < e; i += 32) {                                           \
                quant_prefetch(W + i * (ESZ), 32 * (ESZ));                                  \
                FLOAT_STEP(LDW, LDX, i, all, 1, acc);                                       \
                FLOAT_STEP(LDW, LDX, i + 16, all, 1, odd);                                  \
            }                                                                               \
            FLOAT_END0(LDW, LDX, e, acc);                                                   \
            FLOAT_END1(LDW, LDX, e, odd);                                                   \
        } else { /* two passes: the even steps, then the odd ones */                        \
            for (int64_t i = 0; i < e; i += 32) FLOAT_STEP(LDW, LDX, i, all, 1, acc);       \
            FLOAT_END0(LDW, LDX, e, acc);                                                   \
            for (int64_t i = 16; i < e; i += 32) FLOAT_STEP(LDW, LDX, i, all, 1, odd);      \
            FLOAT_END1(LDW, LDX, e, odd);                                                   \
        }                                                                                   \
        TILE_FOR(r, R) TILE_FOR(t, T)                                                       \
            Y[t * ldy + r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[r][t], odd[r][t]));     \
    }

AVX512 static inline __m512 ldw_f32(const uint8_t *row, int64_t i, __mmask16 k, int full)
{
    const float *p = (const float *)(const void *)row + i;
    return full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(k, p);
}

AVX512 static inline __m256i ld16_half(const uint8_t *row, int64_t i, __mmask16 k, int full)
{
    const uint16_t *p = (const uint16_t *)(const void *)row + i;
    return full ? _mm256_loadu_si256((const __m256i *)p) : _mm256_maskz_loadu_epi16(k, p);
}

AVX512 static inline __m512 ldw_f16(const uint8_t *row, int64_t i, __mmask16 k, int full)
{
    return _mm512_cvtph_ps(ld16_half(row, i, k, full));
}

AVX512 static inline __m512 ldw_bf16(const uint8_t *row, int64_t i, __mmask16 k, int full)
{
    __m512i w = _mm512_cvtepu16_epi32(ld16_half(row, i, k, full));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

DEF_TILE_FLOAT(tile_f32, ldw_f32, ldw_f32, 4)
DEF_TILE_FLOAT(tile_f16, ldw_f16, ldw_f32, 2)
DEF_TILE_FLOAT(tile_bf16, ldw_bf16, ldw_f32, 2)
/* F16 decoding: the same arithmetic reading the binary16 copy of the activations (quant.h),
 * whose values are the f32 copy's: bit-identical to tile_f16, with half the bytes to keep in
 * L1 (n = 5632 from memory: 16-17 → 28-29 GB/s, one thread). Only as a 1 × 1 tile. */
DEF_TILE_FLOAT(tile_f16h, ldw_f16, ldw_f16, 2)

/* The activations of F16 weights (quant.c's act_f16_prep): rounded to binary16, saturated. */
AVX512 static void act_f16_prep(const float *x, void *act, int64_t n)
{
    float *f = act;
    uint16_t *h = (uint16_t *)(f + n);
    const __m512 hi = _mm512_set1_ps(QUANT_F16_MAX), lo = _mm512_set1_ps(-QUANT_F16_MAX);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        /* min/max return their second operand when one is NaN: x second keeps NaN */
        __m512 v = _mm512_max_ps(lo, _mm512_min_ps(hi, _mm512_maskz_loadu_ps(k, x + i)));
        __m256i q = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_mask_storeu_epi16(h + i, k, q);
        _mm512_mask_storeu_ps(f + i, k, _mm512_cvtph_ps(q));
    }
    if (n & 1) h[n] = 0; /* the padding (nt_quant_act_bytes): defined bytes */
}

#define DEF_DEQ_HALF(NAME, LD)                                                              \
    AVX512 static void NAME(const void *src, float *dst, int64_t n)                         \
    {                                                                                       \
        const uint16_t *w = src;                                                            \
        for (int64_t i = 0; i < n; i += 16) {                                               \
            __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u); \
            _mm512_mask_storeu_ps(dst + i, k, LD(w + i, k));                                \
        }                                                                                   \
    }

DEF_DEQ_HALF(deq_f16, ld_f16)
DEF_DEQ_HALF(deq_bf16, ld_bf16)

/* -------------------------------------------------------------- dequantization ----- */

AVX512 static void deq_q8_0(const void *src, float *y, int64_t n)
{
    const quant_block_q8_0 *x = src;
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        __m512 d = _mm512_set1_ps(h2f(x[b].d));
        __m256i q = _mm256_loadu_si256((const __m256i *)x[b].qs);
        _mm512_storeu_ps(y, mul_rn(i8_to_ps(_mm256_castsi256_si128(q)), d));
        _mm512_storeu_ps(y + 16, mul_rn(i8_to_ps(_mm256_extracti128_si256(q, 1)), d));
    }
}

/* 16 nibble bytes → 32 bytes: values 0..15 (low nibbles), then 16..31 (high nibbles). */
AVX512 static inline __m256i nib32(const uint8_t *qs)
{
    __m128i q = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(0x0f);
    __m128i lo = _mm_and_si128(q, m), hi = _mm_and_si128(_mm_srli_epi16(q, 4), m);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* Q5_x: add the fifth bits (bit j of the u32 qh for value j). */
AVX512 static inline __m256i five32(const uint8_t *qh, const uint8_t *qs)
{
    uint32_t h;
    memcpy(&h, qh, 4);
    __m256i v = nib32(qs);
    return _mm256_mask_add_epi8(v, (__mmask32)h, v, _mm256_set1_epi8(16));
}

/* Stores 32 values v (bytes, minus bias) as (float)v·d (+ m when add_m). */
AVX512 static inline void store32(float *y, __m256i v, int signed_bytes, __m512 d, __m512 m,
                                  int add_m)
{
    __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
    __m512 a = signed_bytes ? i8_to_ps(lo) : u8_to_ps(lo);
    __m512 b = signed_bytes ? i8_to_ps(hi) : u8_to_ps(hi);
    a = mul_rn(a, d);
    b = mul_rn(b, d);
    if (add_m) {
        a = _mm512_add_round_ps(a, m, RN);
        b = _mm512_add_round_ps(b, m, RN);
    }
    _mm512_storeu_ps(y, a);
    _mm512_storeu_ps(y + 16, b);
}

AVX512 static void deq_q4_0(const void *src, float *y, int64_t n)
{
    const quant_block_q4_0 *x = src;
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        __m256i v = _mm256_sub_epi8(nib32(x[b].qs), _mm256_set1_epi8(8));
        store32(y, v, 1, _mm512_set1_ps(h2f(x[b].d)), _mm512_setzero_ps(), 0);
    }
}

AVX512 static void deq_q4_1(const void *src, float *y, int64_t n)
{
    const quant_block_q4_1 *x = src;
    for (int64_t b = 0; b < n / 32; b++, y += 32)
        store32(y, nib32(x[b].qs), 0, _mm512_set1_ps(h2f(x[b].d)), _mm512_set1_ps(h2f(x[b].m)), 1);
}

AVX512 static void deq_q5_0(const void *src, float *y, int64_t n)
{
    const quant_block_q5_0 *x = src;
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        __m256i v = _mm256_sub_epi8(five32(x[b].qh, x[b].qs), _mm256_set1_epi8(16));
        store32(y, v, 1, _mm512_set1_ps(h2f(x[b].d)), _mm512_setzero_ps(), 0);
    }
}

AVX512 static void deq_q5_1(const void *src, float *y, int64_t n)
{
    const quant_block_q5_1 *x = src;
    for (int64_t b = 0; b < n / 32; b++, y += 32)
        store32(y, five32(x[b].qh, x[b].qs), 0, _mm512_set1_ps(h2f(x[b].d)),
                _mm512_set1_ps(h2f(x[b].m)), 1);
}

/* The 8 scales and 8 mins of a Q4_K/Q5_K super-block as bytes, 4 at a time in u32 words
 * (the same unpacking as k4_scales in quant.c, done on whole words). */
static inline void k4_unpack(const uint8_t s[12], uint8_t sc[8], uint8_t m[8])
{
    uint32_t w[3], o[4];
    memcpy(w, s, 12);
    o[0] = w[0] & 0x3f3f3f3fu;                                                /* sc 0..3 */
    o[1] = (w[2] & 0x0f0f0f0fu) | (((w[0] >> 6) & 0x03030303u) << 4);        /* sc 4..7 */
    o[2] = w[1] & 0x3f3f3f3fu;                                                /* m 0..3 */
    o[3] = ((w[2] >> 4) & 0x0f0f0f0fu) | (((w[1] >> 6) & 0x03030303u) << 4); /* m 4..7 */
    memcpy(sc, o, 8);
    memcpy(m, o + 2, 8);
}

/* Values of the K formats' sub-block pair k (64 values, 0..31) from 32 bytes of qs and, for
 * Q5_K, the 32 qh bytes (bits 2k and 2k+1). */
AVX512 static inline __m512i k_pair(const uint8_t *qs32, const uint8_t *qh, int k)
{
    __m256i q = _mm256_loadu_si256((const __m256i *)qs32);
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1);
    v = _mm512_and_si512(v, _mm512_set1_epi8(0x0f));
    if (qh) {
        __m256i h = _mm256_loadu_si256((const __m256i *)qh);
        __m512i hz = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_srli_epi16(h, 2 * k)),
                                        _mm256_srli_epi16(h, 2 * k + 1), 1);
        v = _mm512_or_si512(v, _mm512_and_si512(_mm512_slli_epi16(hz, 4), _mm512_set1_epi8(0x10)));
    }
    return v;
}

AVX512 static void deq_k45(const uint8_t *scales, uint16_t dh, uint16_t dminh, const uint8_t *qs,
                           const uint8_t *qh, float *y)
{
    uint8_t sc[8], m[8];
    k4_unpack(scales, sc, m);
    float d = h2f(dh), dmin = h2f(dminh);
    for (int k = 0; k < 4; k++, y += 64) {
        __m512i v = k_pair(qs + 32 * k, qh, k);
        for (int h = 0; h < 2; h++) {
            /* ggml: d1 = d·sc, m1 = dmin·m (rounded floats), then d1·q - m1 */
            __m512 d1 = _mm512_set1_ps(d * (float)sc[2 * k + h]);
            __m512 m1 = _mm512_set1_ps(dmin * (float)m[2 * k + h]);
            for (int c = 0; c < 2; c++) {
                __m128i b = _mm512_extracti32x4_epi32(v, 0);
                switch (2 * h + c) { /* extract needs a constant lane */
                case 1: b = _mm512_extracti32x4_epi32(v, 1); break;
                case 2: b = _mm512_extracti32x4_epi32(v, 2); break;
                case 3: b = _mm512_extracti32x4_epi32(v, 3); break;
                default: break;
                }
                __m512 f = _mm512_sub_round_ps(mul_rn(u8_to_ps(b), d1), m1, RN);
                _mm512_storeu_ps(y + 32 * h + 16 * c, f);
            }
        }
    }
}

AVX512 static void deq_q4_K(const void *src, float *y, int64_t n)
{
    const quant_block_q4_K *x = src;
    for (int64_t b = 0; b < n / 256; b++, y += 256)
        deq_k45(x[b].scales, x[b].d, x[b].dmin, x[b].qs, NULL, y);
}

AVX512 static void deq_q5_K(const void *src, float *y, int64_t n)
{
    const quant_block_q5_K *x = src;
    for (int64_t b = 0; b < n / 256; b++, y += 256)
        deq_k45(x[b].scales, x[b].d, x[b].dmin, x[b].qs, x[b].qh, y);
}

/* Q6_K half h (128 values, 0..63): q0 holds values 0..63, q1 values 64..127 of the half. */
AVX512 static inline void q6_half(const quant_block_q6_K *x, int h, __m512i *q0, __m512i *q1)
{
    __m512i l = _mm512_loadu_si512((const void *)(x->ql + 64 * h));
    __m256i hb = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
    /* hz: bytes 0..31 = qh, 32..63 = qh >> 2; bits 0-1 / 4-5 of each are the high bits of
     * the values in q0 / q1 */
    __m512i hz = _mm512_inserti64x4(_mm512_castsi256_si512(hb), _mm256_srli_epi16(hb, 2), 1);
    __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
    *q0 = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_and_si512(_mm512_slli_epi16(hz, 4), m30));
    *q1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4), _mm512_and_si512(hz, m30));
}

AVX512 static void deq_q6_K(const void *src, float *y, int64_t n)
{
    const quant_block_q6_K *x = src;
    for (int64_t b = 0; b < n / 256; b++) {
        float d = h2f(x[b].d);
        for (int h = 0; h < 2; h++) {
            __m512i q[2];
            q6_half(&x[b], h, &q[0], &q[1]);
            for (int p = 0; p < 2; p++) {
                __m512i v = _mm512_sub_epi8(q[p], _mm512_set1_epi8(32));
                __m128i c[4] = {_mm512_extracti32x4_epi32(v, 0), _mm512_extracti32x4_epi32(v, 1),
                                _mm512_extracti32x4_epi32(v, 2), _mm512_extracti32x4_epi32(v, 3)};
                for (int g = 0; g < 4; g++, y += 16) {
                    /* ggml: d · sc · q, left to right */
                    __m512 ds = _mm512_set1_ps(d * (float)x[b].scales[8 * h + 4 * p + g]);
                    _mm512_storeu_ps(y, mul_rn(ds, i8_to_ps(c[g])));
                }
            }
        }
    }
}

/* Q2_K and Q3_K: the 2-bit parts of quarter j of both halves from all 64 qs bytes, as bytes:
 * 0..31 are values 32j.. of half 0, 32..63 the same of half 1. */
AVX512 static inline __m512i q2_quarters(__m512i q, int j)
{
    return _mm512_and_si512(_mm512_srli_epi16(q, 2 * j), _mm512_set1_epi8(3));
}

/* Q3_K: hz holds hmask in bytes 0..31 and hmask >> 4 in 32..63, so bit j of each byte is the
 * high bit of the matching value of q2_quarters(q, j); the result is q + 4·h, 0..7. */
AVX512 static inline __m512i q3_quarters(__m512i q, __m512i hz, int j)
{
    __m512i h = _mm512_and_si512(_mm512_srli_epi16(hz, j), _mm512_set1_epi8(1));
    return _mm512_or_si512(q2_quarters(q, j), _mm512_slli_epi16(h, 2));
}

AVX512 static inline __m512i q3_hz(const quant_block_q3_K *x)
{
    __m256i hm = _mm256_loadu_si256((const __m256i *)x->hmask);
    return _mm512_inserti64x4(_mm512_castsi256_si512(hm), _mm256_srli_epi16(hm, 4), 1);
}

/* 16-byte lane k of a q2_quarters(…, j) register is 16-value group 8·(k / 2) + 2j + (k & 1). */
#define Q2_GROUP(j, k) (8 * ((k) / 2) + 2 * (j) + ((k) & 1))

AVX512 static void deq_q2_K(const void *src, float *y, int64_t n)
{
    const quant_block_q2_K *x = src;
    for (int64_t b = 0; b < n / 256; b++, y += 256) {
        float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
        __m512i q = _mm512_loadu_si512((const void *)x[b].qs);
        for (int j = 0; j < 4; j++) {
            __m512i v = q2_quarters(q, j);
            __m128i c[4] = {_mm512_extracti32x4_epi32(v, 0), _mm512_extracti32x4_epi32(v, 1),
                            _mm512_extracti32x4_epi32(v, 2), _mm512_extracti32x4_epi32(v, 3)};
            for (int k = 0; k < 4; k++) {
                int g = Q2_GROUP(j, k);
                /* ggml: dl·q - ml, dl = d·(sc & 15) and ml = dmin·(sc >> 4) rounded first */
                __m512 dl = _mm512_set1_ps(d * (float)(x[b].scales[g] & 0x0f));
                __m512 ml = _mm512_set1_ps(dmin * (float)(x[b].scales[g] >> 4));
                _mm512_storeu_ps(y + 16 * g, _mm512_sub_round_ps(mul_rn(u8_to_ps(c[k]), dl), ml, RN));
            }
        }
    }
}

AVX512 static void deq_q3_K(const void *src, float *y, int64_t n)
{
    const quant_block_q3_K *x = src;
    for (int64_t b = 0; b < n / 256; b++, y += 256) {
        float d = h2f(x[b].d);
        uint64_t w[2];
        uint8_t sc[16];
        quant_q3_scales_unpack(x[b].scales, &w[0], &w[1]);
        memcpy(sc, w, 16);
        __m512i q = _mm512_loadu_si512((const void *)x[b].qs), hz = q3_hz(&x[b]);
        for (int j = 0; j < 4; j++) {
            __m512i v = _mm512_sub_epi8(q3_quarters(q, hz, j), _mm512_set1_epi8(4));
            __m128i c[4] = {_mm512_extracti32x4_epi32(v, 0), _mm512_extracti32x4_epi32(v, 1),
                            _mm512_extracti32x4_epi32(v, 2), _mm512_extracti32x4_epi32(v, 3)};
            for (int k = 0; k < 4; k++) {
                int g = Q2_GROUP(j, k);
                __m512 dl = _mm512_set1_ps(d * (float)(sc[g] - 32));
                _mm512_storeu_ps(y + 16 * g, mul_rn(i8_to_ps(c[k]), dl));
            }
        }
    }
}

/* The IQ4 codebook in every 16-byte lane, for VPSHUFB lookups of 4-bit indices. */
AVX512 static inline __m512i iq4_table(void)
{
    return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)quant_iq4_values));
}

AVX512 static void deq_iq4_nl(const void *src, float *y, int64_t n)
{
    const quant_block_iq4_nl *x = src;
    const __m256i kv = _mm512_castsi512_si256(iq4_table());
    for (int64_t b = 0; b < n / 32; b++, y += 32)
        store32(y, _mm256_shuffle_epi8(kv, nib32(x[b].qs)), 1, _mm512_set1_ps(h2f(x[b].d)),
                _mm512_setzero_ps(), 0);
}

AVX512 static void deq_iq4_xs(const void *src, float *y, int64_t n)
{
    const quant_block_iq4_xs *x = src;
    const __m256i kv = _mm512_castsi512_si256(iq4_table());
    for (int64_t b = 0; b < n / 256; b++) {
        float d = h2f(x[b].d);
        int16_t ls[8];
        quant_iq4xs_scales(&x[b], ls);
        for (int ib = 0; ib < 8; ib++, y += 32)
            store32(y, _mm256_shuffle_epi8(kv, nib32(x[b].qs + 16 * ib)), 1,
                    _mm512_set1_ps(d * (float)ls[ib]), _mm512_setzero_ps(), 0);
    }
}

/* ---------------------------------------------------------- activation prepare ----- */

/* 16 floats → 16 int8 as round(x·id) (current rounding mode: nearest even, like the scalar
 * nearbyintf), with their int32 sum. */
AVX512 static inline __m128i q16(const float *x, __m512 id, int32_t *sum)
{
    /* clamp as act_q in quant.c: MAXPS/MINPS return the second operand for a NaN first */
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x), id);
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
    __m512i q = _mm512_cvtps_epi32(v);
    *sum += _mm512_reduce_add_epi32(q);
    return _mm512_cvtepi32_epi8(q);
}

AVX512 static inline float amax_of(const float *x, int n)
{
    __m512 m = _mm512_setzero_ps();
    /* NaNs are skipped, as by fmaxf in the scalar code (MAXPS returns its second operand) */
    for (int i = 0; i < n; i += 16) m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i)), m);
    return _mm512_reduce_max_ps(m);
}

AVX512 static void act32_prep(const float *x, void *act, int64_t n)
{
    quant_act32 *y = act;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        float amax = amax_of(x, 32);
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        __m512 idv = _mm512_set1_ps(id);
        int32_t s = 0;
        y[b].d = amax / 127.0f;
        _mm_storeu_si128((__m128i *)y[b].qs, q16(x, idv, &s));
        _mm_storeu_si128((__m128i *)(y[b].qs + 16), q16(x + 16, idv, &s));
        y[b].isum = s;
    }
}

AVX512 static void act256_prep(const float *x, void *act, int64_t n);

/* Q4_K/Q5_K: chunks 1 and 2 of each 128 values swapped (QUANT_K4_CHUNK), as in quant.c. */
AVX512 static void act256_k4_prep(const float *x, void *act, int64_t n)
{
    act256_prep(x, act, n);
    quant_act256 *y = act;
    for (int64_t b = 0; b < n / 256; b++)
        for (int h = 0; h < 256; h += 128) {
            __m256i c1 = _mm256_loadu_si256((const __m256i *)(y[b].qs + h + 32));
            __m256i c2 = _mm256_loadu_si256((const __m256i *)(y[b].qs + h + 64));
            _mm256_storeu_si256((__m256i *)(y[b].qs + h + 32), c2);
            _mm256_storeu_si256((__m256i *)(y[b].qs + h + 64), c1);
        }
}

AVX512 static void act256_prep(const float *x, void *act, int64_t n)
{
    quant_act256 *y = act;
    for (int64_t b = 0; b < n / 256; b++, x += 256) {
        float amax = amax_of(x, 256);
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        __m512 idv = _mm512_set1_ps(id);
        y[b].d = amax / 127.0f;
        for (int g = 0; g < 16; g++) {
            int32_t s = 0;
            _mm_storeu_si128((__m128i *)(y[b].qs + 16 * g), q16(x + 16 * g, idv, &s));
            y[b].bsums[g] = (int16_t)s;
        }
    }
}

/* ----------------------------------------------------------------- dot products ----- */

/* Two 32-byte pieces into one register. */
AVX512 static inline __m512i ld2x32(const void *a, const void *b)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

/* Lane scales: lanes 0..7 get d0, 8..15 get d1 (the two blocks of a register). */
AVX512 static inline __m512 two_scales(float d0, float d1)
{
    return _mm512_insertf32x8(_mm512_set1_ps(d0), _mm256_set1_ps(d1), 1);
}

/* Q8_0 and IQ4_NL (signed byte values, one scale per 32): two blocks (64 bytes) per step.
 * The int8 × int8 products go through VPDPBUSD (unsigned × signed) on a + 128 (the
 * activations flipped once per token: a XOR 0x80), started from −128·(sum of the weights'
 * bytes) (once per row): each int32 lane gets the exact sum of its four products. Per (row,
 * token), lane sums × (d_w·d_a, rounded once) are added into one 16-lane accumulator, blocks
 * in order. An odd last block runs with the upper half zeroed. VALS2(x) gives the byte values
 * of blocks x[0] and x[1], VALS1(x) those of x[0] with the upper half zero. */
#define DEF_TILE_S8(NAME, BT, VALS2, VALS1)                                                  \
    AVX512 INLINE static void NAME(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab, \
                                   int64_t n, float *Y, int64_t ldy, const int R, const int T) \
    {                                                                                        \
        const int64_t nb = n / 32;                                                           \
        const __m512i x80 = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();     \
        __m512 acc[TILE_MAX][TILE_MAX];                                                      \
        TILE_FOR(r, R) TILE_FOR(t, T) acc[r][t] = _mm512_setzero_ps();                       \
        for (int64_t b = 0; b < nb; b += 2) {                                                \
            const int two = b + 1 < nb;                                                      \
            __m512i au[TILE_MAX];                                                            \
            __m512 da[TILE_MAX];                                                             \
            TILE_FOR(t, T) {                                                                 \
                const quant_act32 *a = (const quant_act32 *)(const void *)(A + (size_t)t * ab) + b; \
                au[t] = _mm512_xor_si512(two ? ld2x32(a[0].qs, a[1].qs)                      \
                                             : _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)a[0].qs)), \
                                         x80);                                               \
                da[t] = two_scales(a[0].d, two ? a[1].d : 0.0f);                             \
            }                                                                                \
            TILE_FOR(r, R) {                                                                 \
                const BT *x = (const BT *)(const void *)(W + (size_t)r * rb) + b;            \
                __m512i w = two ? VALS2(x) : VALS1(x);                                       \
                __m512i c = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, x80, w));       \
                __m512 dw = two_scales(h2f(x[0].d), two ? h2f(x[1].d) : 0.0f);               \
                TILE_FOR(t, T) {                                                             \
                    __m512i p = _mm512_dpbusd_epi32(c, au[t], w);                            \
                    acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw, da[t]), acc[r][t]); \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
        TILE_FOR(r, R) TILE_FOR(t, T) Y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);      \
    }

#define Q8_VALS2(x) ld2x32((x)[0].qs, (x)[1].qs)
#define Q8_VALS1(x) _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)(x)[0].qs))
DEF_TILE_S8(tile_q8_0, quant_block_q8_0, Q8_VALS2, Q8_VALS1)

/* The unsigned values (0..15) of two nibble blocks in value order, one register:
 * [block 0: 0..15, 16..31 | block 1: 0..15, 16..31]. */
AVX512 static inline __m512i nib64(const uint8_t *qs0, const uint8_t *qs1)
{
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)qs0)),
                                        _mm_loadu_si128((const __m128i *)qs1), 1);
    __m256i m = _mm256_set1_epi8(0x0f);
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(v, m)),
                                   _mm256_and_si256(_mm256_srli_epi16(v, 4), m), 1);
    return _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0)); /* lo0 lo1 hi0 hi1 → lo0 hi0 lo1 hi1 */
}

/* Q5_x: the same plus the fifth bits (bit j of each block's u32 qh is value j's). */
AVX512 static inline __m512i five64(const uint8_t *qh0, const uint8_t *qs0, const uint8_t *qh1,
                                    const uint8_t *qs1)
{
    uint32_t h0, h1;
    memcpy(&h0, qh0, 4);
    memcpy(&h1, qh1, 4);
    __m512i v = nib64(qs0, qs1);
    return _mm512_mask_add_epi8(v, (__mmask64)h0 | (__mmask64)h1 << 32, v, _mm512_set1_epi8(16));
}

/* Word i of the iota vector is i (lane numbers for VPERMW index arithmetic). */
static const int16_t iota16[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                   16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

/* Q4_0/Q4_1/Q5_0/Q5_1: unsigned values × int8 activations with VPDPBUSD, two blocks per
 * register. Both blocks are read with one masked load (no byte past them is touched); VPERMW
 * puts their quant bytes in place (twice: low then high nibbles) and picks out their scales.
 * The offset (−8 or −16 per value) is subtracted exactly in the same int32 lanes as
 * VPDPBUSD(offset bytes, activations). The min term of Q4_1/Q5_1 (m · d_a · isum) is summed
 * in float, in block order, in lanes 2 and 3 of a second accumulator. An odd last block pairs
 * with itself against zero activations. As a tile (see "tiles" above): a row's values, scales
 * and mins are unpacked once per block pair for T tokens, a token's activations, their offset
 * products and scales once for R rows. */
#define DEF_TILE_LEGACY(NAME, BT, VALS, OFF, HAS_M, MIN_OF, FIFTH)                            \
    AVX512 INLINE static void NAME(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab, \
                                   int64_t n, float *Y, int64_t ldy, const int R, const int T) \
    {                                                                                        \
        const int64_t nb = n / 32;                                                           \
        int64_t b = 0;                                                                       \
        __m512 acc[TILE_MAX][TILE_MAX];                                                      \
        __m128 mvec[TILE_MAX][TILE_MAX];                                                     \
        float msum[TILE_MAX][TILE_MAX];                                                      \
        TILE_FOR(r, R) TILE_FOR(t, T) {                                                      \
            acc[r][t] = _mm512_setzero_ps();                                                 \
            mvec[r][t] = _mm_setzero_ps();                                                   \
            msum[r][t] = 0.0f;                                                               \
        }                                                                                    \
        const __m512i off = _mm512_set1_epi8(OFF), m4 = _mm512_set1_epi8(0x0f);              \
        const int bw = (int)(sizeof(BT) / 2), qo = (int)(offsetof(BT, qs) / 2);              \
        /* word i of a pair's values: block i / 16, quant word qo + (i & 7) of it */         \
        const __m512i iota = _mm512_loadu_si512((const void *)iota16);                       \
        const __m512i qidx = _mm512_add_epi16(                                               \
            _mm512_mullo_epi16(_mm512_srli_epi16(iota, 4), _mm512_set1_epi16((short)bw)),    \
            _mm512_add_epi16(_mm512_and_si512(iota, _mm512_set1_epi16(7)),                   \
                             _mm512_set1_epi16((short)qo)));                                 \
        /* words d0, d1, m0, m1 (the mins only exist in Q4_1/Q5_1) */                     \
        const __m512i didx = _mm512_castsi128_si512(                                         \
            _mm_setr_epi16(0, (short)bw, 1, (short)(bw + 1), 0, 0, 0, 0));                   \
        const __m512i lanes01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1); \
        for (; b + 2 <= nb; b += 2) {                                                        \
            __m512i v[TILE_MAX], vo[TILE_MAX];                                               \
            __m128 da[TILE_MAX], is[TILE_MAX];                                               \
            TILE_FOR(t, T) {                                                                 \
                const quant_act32 *a = (const quant_act32 *)(const void *)(A + (size_t)t * ab) + b; \
                v[t] = ld2x32(a[0].qs, a[1].qs);                                             \
                if (OFF) vo[t] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, v[t]);     \
                da[t] = _mm_setr_ps(a[0].d, a[1].d, a[0].d, a[1].d);                         \
                if (HAS_M) is[t] = _mm_cvtepi32_ps(_mm_setr_epi32(0, 0, a[0].isum, a[1].isum)); \
            }                                                                                \
            TILE_FOR(r, R) {                                                                 \
                const BT *x = (const BT *)(const void *)(W + (size_t)r * rb) + b;            \
                __m512i raw = _mm512_maskz_loadu_epi16((__mmask32)((1u << (2 * bw)) - 1u), x); \
                __m512i q = _mm512_permutexvar_epi16(qidx, raw);                             \
                __m512i w = _mm512_and_si512(                                                \
                    _mm512_mask_blend_epi16(0xff00ff00u, q, _mm512_srli_epi16(q, 4)), m4);   \
                w = FIFTH(w, &x[0], &x[1]);                                                  \
                const __m128 dw = _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi16(didx, raw))); \
                TILE_FOR(t, T) {                                                             \
                    __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, v[t]);        \
                    if (OFF) p = _mm512_sub_epi32(p, vo[t]);                                 \
                    /* d_w of both blocks times d_a: one rounding each */                   \
                    const __m128 dd = _mm_mul_ps(dw, da[t]);                                 \
                    acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p),                       \
                                                _mm512_permutexvar_ps(lanes01, _mm512_castps128_ps512(dd)), \
                                                acc[r][t]);                                  \
                    if (HAS_M) /* lanes 2, 3: m · d_a · isum of the two blocks, per lane */  \
                        mvec[r][t] = _mm_add_ps(mvec[r][t], _mm_mul_ps(dd, is[t]));          \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
        if (b < nb) {                                                                        \
            TILE_FOR(r, R) {                                                                 \
                const BT *x = (const BT *)(const void *)(W + (size_t)r * rb) + b;            \
                __m512i w = VALS(&x[0], &x[0]);                                              \
                TILE_FOR(t, T) {                                                             \
                    const quant_act32 *a = (const quant_act32 *)(const void *)(A + (size_t)t * ab) + b; \
                    __m512i v = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)a[0].qs)); \
                    __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, v);           \
                    if (OFF) p = _mm512_sub_epi32(p, _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, v)); \
                    acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p),                       \
                                                two_scales(h2f(x[0].d) * a[0].d, 0.0f), acc[r][t]); \
                    if (HAS_M) msum[r][t] += MIN_OF(&x[0]) * a[0].d * (float)a[0].isum;      \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
        TILE_FOR(r, R) TILE_FOR(t, T) {                                                      \
            float m = msum[r][t];                                                            \
            if (HAS_M) m += _mm_cvtss_f32(_mm_add_ss(_mm_movehl_ps(mvec[r][t], mvec[r][t]),  \
                                                     _mm_shuffle_ps(mvec[r][t], mvec[r][t], 3))); \
            Y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]) + m;                            \
        }                                                                                    \
    }

/* Q5_x: 16 added to value j of each block where bit j of its u32 qh is set. */
#define add_fifth_bits(w, p0, p1) add_fifth_bits_((w), (p0)->qh, (p1)->qh)
AVX512 static inline __m512i add_fifth_bits_(__m512i w, const uint8_t *qh0, const uint8_t *qh1)
{
    uint32_t h0, h1;
    memcpy(&h0, qh0, 4);
    memcpy(&h1, qh1, 4);
    return _mm512_mask_add_epi8(w, (__mmask64)h0 | (__mmask64)h1 << 32, w, _mm512_set1_epi8(16));
}

#define VALS_Q4(p0, p1) nib64((p0)->qs, (p1)->qs)
#define VALS_Q5(p0, p1) five64((p0)->qh, (p0)->qs, (p1)->qh, (p1)->qs)
#define MIN_M(p) h2f((p)->m)
#define MIN_NONE(p) 0.0f /* never evaluated: HAS_M is 0 */

#define NO_QH(w, p0, p1) (w)

DEF_TILE_LEGACY(tile_q4_0, quant_block_q4_0, VALS_Q4, 8, 0, MIN_NONE, NO_QH)
DEF_TILE_LEGACY(tile_q4_1, quant_block_q4_1, VALS_Q4, 0, 1, MIN_M, NO_QH)
DEF_TILE_LEGACY(tile_q5_0, quant_block_q5_0, VALS_Q5, 16, 0, MIN_NONE, add_fifth_bits)
DEF_TILE_LEGACY(tile_q5_1, quant_block_q5_1, VALS_Q5, 0, 1, MIN_M, add_fifth_bits)

/* Lane → scale index tables for VPERMW: after VPMADDUBSW a register of 64 values becomes 32
 * int16 lanes, lane i covering values 2i and 2i+1. */
/* Q4_K/Q5_K, half h of a super-block: the low nibbles hold sub-blocks 4h and 4h+2, the high
 * nibbles 4h+1 and 4h+3 (32 values each, 16 lanes each). */
static const int16_t k4_idx[4][32] = {
#define R16(a) a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a
    {R16(0), R16(2)}, {R16(1), R16(3)}, {R16(4), R16(6)}, {R16(5), R16(7)},
};
static const int16_t q6_idx[4][32] = {
#define R8(a) a, a, a, a, a, a, a, a
    {R8(0), R8(1), R8(2), R8(3)}, {R8(4), R8(5), R8(6), R8(7)},
    {R8(8), R8(9), R8(10), R8(11)}, {R8(12), R8(13), R8(14), R8(15)},
};
/* the mins m_j sit in lanes 8..15 of k4_unpack_v's result; each covers two 16-value sums */
static const int16_t pair_idx[16] = {8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15};

/* k4_unpack on vectors: the 12 scale bytes (read as 16: the 4 after them are the block's own
 * qs or qh bytes, ignored) → 16 int16 lanes [sc0..sc7, m0..m7]. As u32 words w0..w2:
 * sc0-3 = w0 & 3f, sc4-7 = (w2 & 0f) | (w0 >> 6 & 3) << 4, m0-3 = w1 & 3f,
 * m4-7 = (w2 >> 4 & 0f) | (w1 >> 6 & 3) << 4, bytewise. */
AVX512 static inline __m256i k4_unpack_v(const uint8_t *scales)
{
    __m128i v = _mm_loadu_si128((const __m128i *)scales);
    __m128i a = _mm_shuffle_epi32(v, 0x98); /* w0 w2 w1 w2 */
    __m128i b = _mm_shuffle_epi32(v, 0x50); /* w0 w0 w1 w1 */
    __m128i lo = _mm_and_si128(_mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 0, 4)),
                               _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    /* (b >> 2) & 0x30 per byte = the top two bits of each byte of b, moved to bits 4-5 */
    __m128i hi = _mm_and_si128(_mm_srli_epi32(b, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    return _mm256_cvtepu8_epi16(_mm_or_si128(lo, hi));
}

/* Q4_K/Q5_K decoding (one row, one token): tile_k45's arithmetic in 256-bit halves. Lanes
 * 0-7 of tile_k45's int32 and float accumulators cover bytes 0-31 of each 64-byte quant load,
 * lanes 8-15 bytes 32-63; here each half has its own accumulator, fed by the 32-byte chunks k
 * = 0, 2 (half A) and 1, 3 (half B), and the two are joined for the same final reduction, so
 * the result has tile_k45's bits. Why: 512-bit operations run in two halves on Zen 4, and the
 * 256-bit form replaces the four VPERMW of the scales by VPSHUFB from one register; TinyLlama's
 * shape in Q4_K decoded 2-7% faster with the AVX2 kernel, which has this structure. The mins'
 * product is subtracted from half B too (as 0 · dmin·d_a), as tile_k45 does in lanes 8-15, so
 * that an infinite dmin gives the same NaN. */
AVX512 INLINE static float dot_k45_256(const uint8_t *W, const uint8_t *A, int64_t n,
                                       const int has_qh)
{
    const size_t bsz = has_qh ? sizeof(quant_block_q5_K) : sizeof(quant_block_q4_K);
    const quant_act256 *a = (const quant_act256 *)(const void *)A;
    const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10), zero = _mm256_setzero_si256();
    const __m256i pidx = _mm256_loadu_si256((const __m256i *)pair_idx);
    __m256 accA = _mm256_setzero_ps(), accB = accA;
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *blk = W + (size_t)b * bsz;
        const quant_block_q4_K *x4 = (const quant_block_q4_K *)(const void *)blk;
        const quant_block_q5_K *x5 = (const quant_block_q5_K *)(const void *)blk;
        const uint8_t *qs = has_qh ? x5->qs : x4->qs;
        const __m256i sc = k4_unpack_v(has_qh ? x5->scales : x4->scales);
        const __m256i sw = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sc));
        const __m256i hb = has_qh ? _mm256_loadu_si256((const __m256i *)x5->qh) : zero;
        __m256i iacc[2] = {zero, zero};
        _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * k));
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (has_qh) {
                const __m256i h = _mm256_srli_epi16(hb, 2 * k);
                lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(h, 4), b4));
                hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(h, 3), b4));
            }
            const __m256i plo = _mm256_maddubs_epi16(
                lo, _mm256_loadu_si256((const __m256i *)(a[b].qs + 32 * QUANT_K4_CHUNK(2 * k))));
            const __m256i phi = _mm256_maddubs_epi16(
                hi, _mm256_loadu_si256((const __m256i *)(a[b].qs + 32 * QUANT_K4_CHUNK(2 * k + 1))));
            /* sub-block j's scale in every int16 lane: bytes 2j, 2j+1 of each 128-bit lane */
            const __m256i slo = _mm256_shuffle_epi8(sw, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * k))));
            const __m256i shi = _mm256_shuffle_epi8(sw, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * k + 1))));
            /* VPMADDWD and adds, not VPDPWSSD: its accumulator chain (four per super-block)
             * ran the matvec at 18-20 GB/s in L2 against 25 */
            iacc[k & 1] = _mm256_add_epi32(iacc[k & 1], _mm256_add_epi32(_mm256_madd_epi16(plo, slo),
                                                                         _mm256_madd_epi16(phi, shi)));
        }
        const __m256i mp = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a[b].bsums),
                                             _mm256_permutexvar_epi16(pidx, sc));
        const __m256 dd = _mm256_set1_ps(h2f(x4->d) * a[b].d); /* same offsets in q5_K */
        const __m256 dm = _mm256_set1_ps(h2f(x4->dmin) * a[b].d);
        accA = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[0]), dd, accA);
        accB = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[1]), dd, accB);
        accA = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mp), dm, accA);
        accB = _mm256_fnmadd_ps(_mm256_setzero_ps(), dm, accB);
    }
    return _mm512_reduce_add_ps(_mm512_insertf32x8(_mm512_castps256_ps512(accA), accB, 1));
}

/* Q4_K and Q5_K: per super-block and (row, token), sum_j sc_j · (q·a)_j in int32 lanes
 * (VPMADDUBSW gives pair sums ≤ 2·31·127, VPDPWSSD multiplies them by the sub-block scale and
 * accumulates), then into the float accumulator: + lanes × (d·d_a), − (sum_j m_j · (a sums of
 * sub-block j), 8 lanes) × (dmin·d_a). The weights are unpacked once per row and super-block,
 * the scale products once per (row, token). */
AVX512 INLINE static void tile_k45(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab,
                                   int64_t n, float *Y, int64_t ldy, const int R, const int T,
                                   const int has_qh)
{
    if (R == 1 && T == 1) {
        Y[0] = dot_k45_256(W, A, n, has_qh);
        return;
    }
    const size_t bsz = has_qh ? sizeof(quant_block_q5_K) : sizeof(quant_block_q4_K);
    const __m512i m4 = _mm512_set1_epi8(0x0f), b4 = _mm512_set1_epi8(0x10);
    __m512i idx[4];
    for (int k = 0; k < 4; k++) idx[k] = _mm512_loadu_si512((const void *)k4_idx[k]);
    const __m256i pidx = _mm256_loadu_si256((const __m256i *)pair_idx);
    __m512 acc[TILE_MAX][TILE_MAX];
    TILE_FOR(r, R) TILE_FOR(t, T) acc[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        __m512i iacc[TILE_MAX][TILE_MAX];
        __m512i scz[TILE_MAX];
        const uint8_t *qs[TILE_MAX];
        __m256i hb[TILE_MAX];
        TILE_FOR(r, R) {
            const uint8_t *blk = W + (size_t)r * rb + (size_t)b * bsz;
            const quant_block_q4_K *x4 = (const quant_block_q4_K *)(const void *)blk;
            const quant_block_q5_K *x5 = (const quant_block_q5_K *)(const void *)blk;
            scz[r] = _mm512_castsi256_si512(k4_unpack_v(has_qh ? x5->scales : x4->scales));
            qs[r] = has_qh ? x5->qs : x4->qs;
            hb[r] = has_qh ? _mm256_loadu_si256((const __m256i *)x5->qh) : _mm256_setzero_si256();
            TILE_FOR(t, T) iacc[r][t] = _mm512_setzero_si512();
        }
        for (int h = 0; h < 2; h++) {
            /* one load of 64 quant bytes: sub-blocks (4h, 4h+2) low, (4h+1, 4h+3) high; the
             * activations are stored in this order (QUANT_K4_CHUNK) */
            __m512i lo[TILE_MAX], hi[TILE_MAX];
            TILE_FOR(r, R) {
                __m512i v = _mm512_loadu_si512((const void *)(qs[r] + 64 * h));
                lo[r] = _mm512_and_si512(v, m4);
                hi[r] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                if (has_qh) {
                    /* fifth bits: bit j of qh[l] for value l of sub-block j */
                    __m512i hz = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_srli_epi16(hb[r], 4 * h)),
                                                    _mm256_srli_epi16(hb[r], 4 * h + 2), 1);
                    lo[r] = _mm512_or_si512(lo[r], _mm512_and_si512(_mm512_slli_epi16(hz, 4), b4));
                    hi[r] = _mm512_or_si512(hi[r], _mm512_and_si512(_mm512_slli_epi16(hz, 3), b4));
                }
            }
            TILE_FOR(r, R) {
                __m512i slo = _mm512_permutexvar_epi16(idx[2 * h], scz[r]);
                TILE_FOR(t, T) {
                    const quant_act256 *a = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
                    __m512i p = _mm512_maddubs_epi16(lo[r], _mm512_loadu_si512((const void *)(a->qs + 128 * h)));
                    iacc[r][t] = _mm512_dpwssd_epi32(iacc[r][t], p, slo);
                }
                __m512i shi = _mm512_permutexvar_epi16(idx[2 * h + 1], scz[r]);
                TILE_FOR(t, T) {
                    const quant_act256 *a = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
                    __m512i p = _mm512_maddubs_epi16(hi[r], _mm512_loadu_si512((const void *)(a->qs + 128 * h + 64)));
                    iacc[r][t] = _mm512_dpwssd_epi32(iacc[r][t], p, shi);
                }
            }
        }
        TILE_FOR(r, R) {
            const quant_block_q4_K *x4 = (const quant_block_q4_K *)(const void *)(W + (size_t)r * rb + (size_t)b * bsz);
            __m256i md = _mm256_permutexvar_epi16(pidx, _mm512_castsi512_si256(scz[r]));
            __m512 d = _mm512_set1_ps(h2f(x4->d)), dmin = _mm512_set1_ps(h2f(x4->dmin)); /* same offsets in q5_K */
            TILE_FOR(t, T) {
                const quant_act256 *a = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
                __m512 da = _mm512_set1_ps(a->d);
                __m256i mp = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a->bsums), md);
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[r][t]), _mm512_mul_ps(d, da), acc[r][t]);
                acc[r][t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(mp)),
                                             _mm512_mul_ps(dmin, da), acc[r][t]);
            }
        }
    }
    TILE_FOR(r, R) TILE_FOR(t, T) Y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

AVX512 INLINE static void tile_q4_K(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab,
                                    int64_t n, float *Y, int64_t ldy, const int R, const int T)
{
    tile_k45(W, rb, A, ab, n, Y, ldy, R, T, 0);
}

AVX512 INLINE static void tile_q5_K(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab,
                                    int64_t n, float *Y, int64_t ldy, const int R, const int T)
{
    tile_k45(W, rb, A, ab, n, Y, ldy, R, T, 1);
}

/* Q6_K: unsigned 6-bit values × int8 activations (VPMADDUBSW, pair sums ≤ 2·63·127), times
 * the signed 8-bit group scales (VPDPWSSD); the −32 offset is subtracted exactly as
 * sum_g sc_g · 32 · bsum_g, one more VPDPWSSD on the activation's group sums, which starts
 * each (row, token)'s int32 lanes; then lanes × (d·d_a) into the float accumulator. */
AVX512 INLINE static void tile_q6_K(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab,
                                    int64_t n, float *Y, int64_t ldy, const int R, const int T)
{
    __m512i idx[4];
    for (int k = 0; k < 4; k++) idx[k] = _mm512_loadu_si512((const void *)q6_idx[k]);
    __m512 acc[TILE_MAX][TILE_MAX];
    TILE_FOR(r, R) TILE_FOR(t, T) acc[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        __m512i iacc[TILE_MAX][TILE_MAX], scz[TILE_MAX];
        TILE_FOR(r, R) {
            const quant_block_q6_K *x = (const quant_block_q6_K *)(const void *)(W + (size_t)r * rb) + b;
            __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
            scz[r] = _mm512_castsi256_si512(sc16);
            /* −32·sc: |sc| ≤ 128 so this fits in int16 */
            __m512i scm = _mm512_zextsi256_si512(_mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sc16, 5)));
            TILE_FOR(t, T) {
                const quant_act256 *a = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
                iacc[r][t] = _mm512_dpwssd_epi32(
                    _mm512_setzero_si512(),
                    _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)a->bsums)), scm);
            }
        }
        for (int h = 0; h < 2; h++) {
            TILE_FOR(r, R) {
                const quant_block_q6_K *x = (const quant_block_q6_K *)(const void *)(W + (size_t)r * rb) + b;
                __m512i q0, q1;
                q6_half(x, h, &q0, &q1);
                __m512i s0 = _mm512_permutexvar_epi16(idx[2 * h], scz[r]);
                __m512i s1 = _mm512_permutexvar_epi16(idx[2 * h + 1], scz[r]);
                TILE_FOR(t, T) {
                    const quant_act256 *a = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
                    __m512i p0 = _mm512_maddubs_epi16(q0, _mm512_loadu_si512((const void *)(a->qs + 128 * h)));
                    __m512i p1 = _mm512_maddubs_epi16(q1, _mm512_loadu_si512((const void *)(a->qs + 128 * h + 64)));
                    iacc[r][t] = _mm512_dpwssd_epi32(iacc[r][t], p0, s0);
                    iacc[r][t] = _mm512_dpwssd_epi32(iacc[r][t], p1, s1);
                }
            }
        }
        TILE_FOR(r, R) {
            const quant_block_q6_K *x = (const quant_block_q6_K *)(const void *)(W + (size_t)r * rb) + b;
            __m512 d = _mm512_set1_ps(h2f(x->d));
            TILE_FOR(t, T) {
                const quant_act256 *a = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[r][t]),
                                            _mm512_mul_ps(d, _mm512_set1_ps(a->d)), acc[r][t]);
            }
        }
    }
    TILE_FOR(r, R) TILE_FOR(t, T) Y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

/* Q2_K/Q3_K: after VPMADDUBSW of q2_quarters(…, j), int16 lanes 0..7, 8..15, 16..23, 24..31
 * cover 16-value groups 2j, 2j+1, 8+2j, 9+2j (Q2_GROUP). */
static const int16_t k2_idx[4][32] = {
    {R8(0), R8(1), R8(8), R8(9)},   {R8(2), R8(3), R8(10), R8(11)},
    {R8(4), R8(5), R8(12), R8(13)}, {R8(6), R8(7), R8(14), R8(15)},
};

/* Horizontal sum of 8 floats, fixed order. */
AVX512 static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* Q2_K: per super-block, sum_g sc_g·(q·a)_g in int32 lanes (VPMADDUBSW pair sums ≤ 2·3·127,
 * VPDPWSSD by the 4-bit group scale), and sum_g m_g·bsum_g for the mins. */
AVX512 INLINE static float k_q2_K(const void *row, const void *act, int64_t n)
{
    const quant_block_q2_K *x = row;
    const quant_act256 *a = act;
    __m512 accf = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    __m512i idx[4];
    for (int j = 0; j < 4; j++) idx[j] = _mm512_loadu_si512((const void *)k2_idx[j]);
    const __m128i m4 = _mm_set1_epi8(0x0f);
    for (int64_t b = 0; b < n / 256; b++) {
        __m128i raw = _mm_loadu_si128((const __m128i *)x[b].scales);
        __m512i sc = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(raw, m4)));
        __m256i m = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), m4));
        __m256i mp = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a[b].bsums), m);
        __m512i q = _mm512_loadu_si512((const void *)x[b].qs), acc = _mm512_setzero_si512();
        for (int j = 0; j < 4; j++) {
            __m512i p = _mm512_maddubs_epi16(q2_quarters(q, j),
                                             ld2x32(a[b].qs + 32 * j, a[b].qs + 128 + 32 * j));
            acc = _mm512_dpwssd_epi32(acc, p, _mm512_permutexvar_epi16(idx[j], sc));
        }
        accf = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(h2f(x[b].d) * a[b].d), accf);
        accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mp), _mm256_set1_ps(h2f(x[b].dmin) * a[b].d), accm);
    }
    return _mm512_reduce_add_ps(accf) - hsum8(accm);
}


/* Q3_K: values q + 4·h (0..7) as Q2_K's, times the signed scales; the −4 of the values whose
 * hmask bit is clear comes off exactly as 4·sum_g sc_g·bsum_g (one VPDPWSSD).
 * As a tile of one row × T inputs: a super-block's four quarters of values and their scale
 * vectors unpacked once for T inputs (integers, then one float step per input). R is always
 * 1: two rows' unpacked state would not fit the registers. One row × 8 inputs: 75 -> 110
 * GOP/s (one thread, 512 rows of 2048, 128 inputs). The same tile for Q2_K measured no
 * faster than its row kernel (about 107 GOP/s either way). */
AVX512 INLINE static void tile_q3_K(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab,
                                    int64_t n, float *Y, int64_t ldy, const int R, const int T)
{
    (void)rb, (void)R;
    const quant_block_q3_K *x = (const quant_block_q3_K *)(const void *)W;
    __m512 accf[TILE_MAX];
    TILE_FOR(t, T) accf[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        uint64_t lo, hi;
        quant_q3_scales_unpack(x[b].scales, &lo, &hi);
        __m256i sc16 = _mm256_cvtepi8_epi16(
            _mm_sub_epi8(_mm_set_epi64x((long long)hi, (long long)lo), _mm_set1_epi8(32)));
        __m512i scm = _mm512_zextsi256_si512(_mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sc16, 2)));
        __m512i q = _mm512_loadu_si512((const void *)x[b].qs), hz = q3_hz(&x[b]), v[4], s[4];
        __m512i scz = _mm512_castsi256_si512(sc16);
        for (int j = 0; j < 4; j++) {
            v[j] = q3_quarters(q, hz, j);
            s[j] = _mm512_permutexvar_epi16(_mm512_loadu_si512((const void *)k2_idx[j]), scz);
        }
        const float d = h2f(x[b].d);
        TILE_FOR(t, T) {
            const quant_act256 *a = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
            __m512i acc = _mm512_dpwssd_epi32(
                _mm512_setzero_si512(),
                _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)a->bsums)), scm);
            for (int j = 0; j < 4; j++)
                acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(v[j], ld2x32(a->qs + 32 * j, a->qs + 128 + 32 * j)), s[j]);
            accf[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(d * a->d), accf[t]);
        }
    }
    TILE_FOR(t, T) Y[t * ldy] = _mm512_reduce_add_ps(accf[t]);
}

/* Activations a with the sign of the weights w, so that the unsigned × signed instructions
 * can take |w|·(±a) = w·a; the activations are within ±127, negating them never overflows. */
AVX512 static inline __m512i sign_of(__m512i a, __m512i w)
{
    return _mm512_mask_sub_epi8(a, _mm512_movepi8_mask(w), _mm512_setzero_si512(), a);
}

/* IQ4_NL: two blocks per register, looked up in the codebook (signed bytes), multiplied as
 * |w|·(±a) with VPDPBUSD; an odd last block with the upper half of the activations zero. */
/* IQ4_NL: the codebook values of the nibbles (VPSHUFB), then as Q8_0. */
#define IQ4NL_VALS2(x) _mm512_shuffle_epi8(iq4_table(), nib64((x)[0].qs, (x)[1].qs))
#define IQ4NL_VALS1(x) _mm512_shuffle_epi8(iq4_table(), _mm512_zextsi256_si512(nib32((x)[0].qs)))
DEF_TILE_S8(tile_iq4_nl, quant_block_iq4_nl, IQ4NL_VALS2, IQ4NL_VALS1)

/* IQ4_XS: 64 quant bytes hold sub-blocks 4h..4h+3 (16 bytes each: values 0..15 in the low
 * nibbles, 16..31 in the high ones); VPERMT2Q puts two sub-blocks in value order per
 * register. Pair sums |w|·±a ≤ 2·127·127 (VPMADDUBSW), times the signed sub-block scale
 * (VPDPWSSD). A tile of one row × T inputs, as Q3_K's: 1 × 8 ran at 95-101 GOP/s where the
 * row kernel ran at 69-84 (one thread, 512 rows of 2048, 128 inputs). */
static const int64_t iq4xs_perm[2][8] = {{0, 1, 8, 9, 2, 3, 10, 11}, {4, 5, 12, 13, 6, 7, 14, 15}};
static const int16_t iq4xs_idx[4][32] = {
    {R16(0), R16(1)}, {R16(2), R16(3)}, {R16(4), R16(5)}, {R16(6), R16(7)},
};

AVX512 INLINE static void tile_iq4_xs(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab,
                                      int64_t n, float *Y, int64_t ldy, const int R, const int T)
{
    (void)rb, (void)R;
    const quant_block_iq4_xs *x = (const quant_block_iq4_xs *)(const void *)W;
    const __m512i kv = iq4_table(), m4 = _mm512_set1_epi8(0x0f);
    __m512 accf[TILE_MAX];
    TILE_FOR(t, T) accf[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        int16_t ls[8];
        quant_iq4xs_scales(&x[b], ls);
        const __m512i scz = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)ls));
        __m512i w[4], sc[4];
        for (int h = 0; h < 2; h++) {
            __m512i q = _mm512_loadu_si512((const void *)(x[b].qs + 64 * h));
            __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
            for (int r = 0; r < 2; r++) {
                w[2 * h + r] = _mm512_shuffle_epi8(
                    kv, _mm512_permutex2var_epi64(lo, _mm512_loadu_si512((const void *)iq4xs_perm[r]), hi));
                sc[2 * h + r] = _mm512_permutexvar_epi16(
                    _mm512_loadu_si512((const void *)iq4xs_idx[2 * h + r]), scz);
            }
        }
        const float d = h2f(x[b].d);
        TILE_FOR(t, T) {
            const quant_act256 *a = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
            __m512i acc = _mm512_setzero_si512();
            for (int k = 0; k < 4; k++) {
                __m512i v = _mm512_loadu_si512((const void *)(a->qs + 64 * k));
                acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(_mm512_abs_epi8(w[k]), sign_of(v, w[k])), sc[k]);
            }
            accf[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(d * a->d), accf[t]);
        }
    }
    TILE_FOR(t, T) Y[t * ldy] = _mm512_reduce_add_ps(accf[t]);
}

/* ---------------------------------------------------------------------- table ----- */

#define DEF_ROW_FNS(T) QUANT_DEF_ROW_FNS(AVX512, T)

/* Tile shapes (rows × inputs for prompts, then rows for decoding), chosen by measurement on
 * Zen 5: for prompts, enough independent accumulators to hide latency, few enough to stay in
 * the 32 registers. Decoding streams the weights from memory one row at a time: every kernel
 * is 2-3× slower from memory with 2 or more interleaved rows (measured; in cache 8 float rows
 * would be faster). */
QUANT_DEF_TILE_FNS(AVX512, f32, 4, 6, 1)
QUANT_DEF_TILE_FNS(AVX512, f16, 4, 6, 1)

/* F16 decoding: long rows with tile_f16h on the binary16 copy of the activations. */
AVX512 static inline float row_f16h(const uint8_t *row, const uint8_t *h, int64_t n)
{
    float y;
    tile_f16h(row, 0, h, 0, n, &y, 0, 1, 1);
    return y;
}
QUANT_DEF_F16H_FNS(AVX512, row_f16h, mm_f16)
QUANT_DEF_TILE_FNS(AVX512, bf16, 4, 6, 1)
QUANT_DEF_TILE_FNS(AVX512, q8_0, 4, 6, 1)
QUANT_DEF_TILE_FNS(AVX512, q4_0, 4, 4, 1)
QUANT_DEF_TILE_FNS(AVX512, q4_1, 4, 4, 1)
QUANT_DEF_TILE_FNS(AVX512, q5_0, 4, 4, 1)
QUANT_DEF_TILE_FNS(AVX512, q5_1, 4, 4, 1)
QUANT_DEF_TILE_FNS(AVX512, q4_K, 2, 4, 1)
QUANT_DEF_TILE_FNS(AVX512, q5_K, 2, 4, 1)
QUANT_DEF_TILE_FNS(AVX512, q6_K, 2, 4, 1)
DEF_ROW_FNS(q2_K)
QUANT_DEF_TILE_FNS(AVX512, q3_K, 1, 8, 1)
QUANT_DEF_TILE_FNS(AVX512, iq4_nl, 4, 6, 1)
QUANT_DEF_TILE_FNS(AVX512, iq4_xs, 1, 8, 1)

/* Decoding Q8_0 (one input) with fewer instructions than the tile: VPDPBUSD takes the
 * weights flipped (w XOR 0x80 = w + 128, unsigned) against the signed activations and
 * starts from −128·(the sum of each lane's four activations), so every int32 lane is again
 * exactly the sum of its four products w·a, the value the tile computes; the scales dw·da
 * are the same floats, multiplied once and added in the same order: bit-identical results.
 * The activation side (bytes, lane corrections, scales: 192 bytes per two blocks) is laid
 * out once per call instead of being rebuilt for every row. In L2 this runs at 36 GB/s
 * against the tile's 25 (one thread, Zen 4, rows of 1024); from memory it gains where rows
 * are short and many (decoding, one thread: SmolLM2's shape +4 to +10%, 32 experts of 512
 * × 1024 +5%), and it must stay in L1 next to the weights' stream: with rows of 5632 (17 KB
 * of it) it lost 15%, so longer rows than DEC_MAX_PAIRS (8 KB) take the tile. */
typedef struct {
    int8_t qs[64];     /* blocks 2p and 2p + 1 */
    int32_t corr[16];  /* −128 · the sum of the four values of each lane */
    float d[16];       /* lanes 0..7: block 2p's scale, 8..15: block 2p + 1's */
} dec_pair;
#define DEC_MAX_PAIRS 42 /* rows of up to 2688 values */
static _Thread_local dec_pair dec_buf[DEC_MAX_PAIRS] __attribute__((aligned(64)));

/* The pairs of act (nb blocks); an odd last block has zeros in its upper half. */
AVX512 static void dec_prep(const quant_act32 *a, int64_t nb, dec_pair *d)
{
    const __m512i zero = _mm512_setzero_si512(), ones = _mm512_set1_epi8(1);
    for (int64_t b = 0; b < nb; b += 2, d++) {
        const int two = b + 1 < nb;
        __m512i q = two ? ld2x32(a[b].qs, a[b + 1].qs)
                        : _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)a[b].qs));
        _mm512_store_si512(d->qs, q);
        _mm512_store_si512(d->corr, _mm512_sub_epi32(zero, _mm512_slli_epi32(_mm512_dpbusd_epi32(zero, ones, q), 7)));
        _mm512_store_ps(d->d, two_scales(a[b].d, two ? a[b + 1].d : 0.0f));
    }
}

AVX512 static float dec_row_q8_0(const quant_block_q8_0 *x, const dec_pair *d, int64_t nb)
{
    const __m512i x80 = _mm512_set1_epi8((char)0x80);
    __m512 acc = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 1 < nb; b += 2, x += 2, d++) {
        __m512i w = _mm512_xor_si512(ld2x32(x[0].qs, x[1].qs), x80);
        __m512i p = _mm512_dpbusd_epi32(_mm512_load_si512(d->corr), w, _mm512_load_si512(d->qs));
        __m512 dw = two_scales(h2f(x[0].d), h2f(x[1].d));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw, _mm512_load_ps(d->d)), acc);
    }
    if (b < nb) { /* the odd last block alone: its upper lanes add 0, as in the tile */
        __m512i w = _mm512_xor_si512(_mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)x[0].qs)), x80);
        __m512i p = _mm512_dpbusd_epi32(_mm512_load_si512(d->corr), w, _mm512_load_si512(d->qs));
        __m512 dw = two_scales(h2f(x[0].d), 0.0f);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw, _mm512_load_ps(d->d)), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

AVX512 static void mv_q8_0_dec(const void *W, size_t row_bytes, int64_t r0, int64_t r1,
                               const void *act, int64_t n, float *y)
{
    const int64_t nb = n / 32;
    if (nb > 2 * DEC_MAX_PAIRS) {
        mv_q8_0(W, row_bytes, r0, r1, act, n, y);
        return;
    }
    dec_prep(act, nb, dec_buf);
    for (int64_t r = r0; r < r1; r++)
        y[r] = dec_row_q8_0((const quant_block_q8_0 *)(const void *)((const uint8_t *)W + (size_t)r * row_bytes),
                            dec_buf, nb);
}

AVX512 static void mm_q8_0_dec(const void *W, size_t row_bytes, int64_t r0, int64_t r1,
                               const void *acts, size_t ab, int64_t nt, int64_t n, float *Y,
                               int64_t ldy)
{
    if (nt == 1)
        mv_q8_0_dec(W, row_bytes, r0, r1, acts, n, Y);
    else
        mm_q8_0(W, row_bytes, r0, r1, acts, ab, nt, n, Y, ldy);
}

/* The 32-value x8 types (quant.h): a group of 8 rows × T inputs, int32 lane r of every sum
 * row r. A block's pieces are unpacked once for the T inputs (Q8: Q8_0X8's 8 pieces of
 * bytes; else 4 pieces of nibbles by x8_45_piece, with Q5_x's fifth bits when HQ, looked up
 * in the codebook plus 128 when NL); each input's 4-byte activation groups are broadcast
 * against them (VPDPBUSD: unsigned quants × signed activations), in two chains, from the
 * offset's product (-128·isum for Q8_0X8's flipped bytes and IQ4_NL's shifted codebook, -8 or
 * -16·isum for Q4_0's and Q5_0's values, none with mins (HM), whose term x8_45_acc adds).
 * 256-bit registers: 512-bit operations run in halves on Zen 4, and a group's 8 rows are
 * what one register holds. */
QUANT_DEF_X8_45_HELPERS(AVX512)
QUANT_DEF_IQ4X8_HELPERS(AVX512)

AVX512 INLINE static void x8_tile(const uint8_t *g, int64_t n, const uint8_t *A, size_t ab,
                                  float *Y, int64_t ldy, const int T, const int Q8, const int HM,
                                  const int HQ, const int NL)
{
    const size_t gb = Q8 ? 8 * sizeof(quant_block_q8_0) : QUANT_X8_45_BYTES(HM, HQ);
    const int off = Q8 || NL ? 128 : HM ? 0 : HQ ? 16 : 8;
    const __m256i tbl = iq4x8_table(1);
    __m256 acc[TILE_MAX];
    TILE_FOR(t, T) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; b++) {
        const uint8_t *blk = g + (size_t)b * gb;
        quant_prefetch(blk, gb);
        __m256i w[8]; /* w[j] pairs with the activations' bytes 4j..4j+3 */
        if (Q8) {
            _Pragma("GCC unroll 8") for (int L = 0; L < 8; L++)
                w[L] = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * L));
        } else {
            _Pragma("GCC unroll 4") for (int L = 0; L < 4; L++) {
                x8_45_piece(blk, HM, HQ, L, &w[L], &w[4 + L]);
                if (NL) w[L] = _mm256_shuffle_epi8(tbl, w[L]), w[4 + L] = _mm256_shuffle_epi8(tbl, w[4 + L]);
            }
        }
        TILE_FOR(t, T) {
            const quant_act32 *a = (const quant_act32 *)(const void *)(A + (size_t)t * ab) + b;
            __m256i p0 = _mm256_set1_epi32(-off * a->isum), p1 = _mm256_setzero_si256();
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
                int32_t lo, hi;
                memcpy(&lo, a->qs + 4 * j, 4);
                memcpy(&hi, a->qs + 16 + 4 * j, 4);
                p0 = _mm256_dpbusd_epi32(p0, w[j], _mm256_set1_epi32(lo));
                p1 = _mm256_dpbusd_epi32(p1, w[4 + j], _mm256_set1_epi32(hi));
            }
            acc[t] = x8_45_acc(acc[t], _mm256_add_epi32(p0, p1), blk, HM, a);
        }
    }
    TILE_FOR(t, T) _mm256_storeu_ps(Y + t * ldy, acc[t]);
}
#define X8_TILE_Q40(g, n, A, ab, Y, ldy, T) x8_tile(g, n, A, ab, Y, ldy, T, 0, 0, 0, 0)
#define X8_TILE_Q80(g, n, A, ab, Y, ldy, T) x8_tile(g, n, A, ab, Y, ldy, T, 1, 0, 0, 0)
#define X8_TILE_Q41(g, n, A, ab, Y, ldy, T) x8_tile(g, n, A, ab, Y, ldy, T, 0, 1, 0, 0)
#define X8_TILE_Q50(g, n, A, ab, Y, ldy, T) x8_tile(g, n, A, ab, Y, ldy, T, 0, 0, 1, 0)
#define X8_TILE_Q51(g, n, A, ab, Y, ldy, T) x8_tile(g, n, A, ab, Y, ldy, T, 0, 1, 1, 0)
#define X8_TILE_NL(g, n, A, ab, Y, ldy, T) x8_tile(g, n, A, ab, Y, ldy, T, 0, 0, 0, 1)
QUANT_DEF_X8_FNS(AVX512, q4_0x8, X8_TILE_Q40, 8)
QUANT_DEF_X8_FNS(AVX512, q8_0x8_vnni, X8_TILE_Q80, 8)

/* Q8_0X8 prompts on AMX (Intel Xeons since Sapphire Rapids): a block's 8 pieces are exactly
 * the B operand of TDPBSUD (K/4 rows of 4 unsigned bytes per column, a column a row of the
 * matrix), 16 inputs' activation blocks its A operand (signed, a row an input, stride ab); the
 * 16 × 8 exact int32 sums then take x8_tile's float step (-128·isum, d·d_a), so the values
 * are its bits. On such a machine llama.cpp multiplies Q8_0 prompts with AMX and read
 * TinyLlama's shape at 136 tokens/s where natter's VNNI tile read 115-127; with this, 139-145
 * (one thread, alternated runs; one group and one block at a time it was slower than VNNI,
 * 101-109: the float step is the work, and two groups make it 512 bits wide). Linux hands out
 * the tile registers only on request (arch_prctl), asked once. */
#define AMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma,amx-tile,amx-int8")))

static int amx_state; /* 0: not asked yet, 1: usable, -1: not */

static bool amx_usable(void)
{
    int s = __atomic_load_n(&amx_state, __ATOMIC_ACQUIRE);
    if (s == 0) {
        unsigned a, b, c, d;
        /* CPUID.7.0:EDX bits 24 and 25 (AMX-TILE, AMX-INT8); ARCH_REQ_XCOMP_PERM for
         * XFEATURE_XTILEDATA (18) */
        bool ok = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 24 & 1) && (d >> 25 & 1) &&
                  syscall(SYS_arch_prctl, 0x1023, 18) == 0;
        s = ok ? 1 : -1;
        __atomic_store_n(&amx_state, s, __ATOMIC_RELEASE);
    }
    return s > 0;
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_tilecfg;

/* Two groups of 8 rows (g, and g2 = g + 8 rows) × 16 inputs: per block one A tile (the inputs'
 * activations), one B tile per group and a C tile per group, both C tiles stored side by side
 * so that an input's 16 sums are one 512-bit vector for the float step. Block b's tile work
 * (C tiles 0-1 or 2-3 by b's parity) is issued before block b - 1's float step reads its sums
 * back, so that the tile unit's latency overlaps the vector work. */
#define AMX_BLOCK(C0, C1, TA, b, buf)                                                        \
    do {                                                                                     \
        const size_t o_ = (size_t)(b) * QUANT_X8_ROWS * sizeof(quant_block_q8_0) + 16;       \
        _tile_zero(C0);                                                                      \
        _tile_zero(C1);                                                                      \
        _tile_loadd(TA, A + (size_t)(b) * sizeof(quant_act32) + offsetof(quant_act32, qs), ab); \
        _tile_loadd(5, g + o_, 32);                                                          \
        _tile_dpbsud(C0, TA, 5);                                                             \
        _tile_loadd(6, g2 + o_, 32);                                                         \
        _tile_dpbsud(C1, TA, 6);                                                             \
        _tile_stored(C0, buf, 64);                                                           \
        _tile_stored(C1, (buf) + 8, 64);                                                     \
    } while (0)

AMX static inline void amx_q8_0x8_step(const uint8_t *g, const uint8_t *g2, const uint8_t *A, size_t ab,
                                       int64_t b, const int32_t *c, __m512 acc[16])
{
    const size_t o = (size_t)b * QUANT_X8_ROWS * sizeof(quant_block_q8_0);
    const __m512 d = _mm512_cvtph_ps(_mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(g + o))), _mm_loadu_si128((const __m128i *)(g2 + o)), 1));
    for (int t = 0; t < 16; t++) {
        const quant_act32 *a = (const quant_act32 *)(const void *)(A + (size_t)t * ab) + b;
        const __m512i s = _mm512_sub_epi32(_mm512_load_si512((const void *)(c + 16 * t)), _mm512_set1_epi32(128 * a->isum));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(d, _mm512_set1_ps(a->d)), acc[t]);
    }
}

AMX static void amx_q8_0x8_tile(const uint8_t *g, const uint8_t *g2, int64_t n, const uint8_t *A,
                                size_t ab, float *Y, int64_t ldy)
{
    _Alignas(64) int32_t c0[16 * 16], c1[16 * 16];
    __m512 acc[16];
    for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
    const int64_t nb = n / 32;
    AMX_BLOCK(0, 1, 4, 0, c0);
    for (int64_t b = 0; b < nb; b += 2) {
        if (b + 1 < nb) AMX_BLOCK(2, 3, 7, b + 1, c1);
        amx_q8_0x8_step(g, g2, A, ab, b, c0, acc);
        if (b + 1 >= nb) break;
        if (b + 2 < nb) AMX_BLOCK(0, 1, 4, b + 2, c0);
        amx_q8_0x8_step(g, g2, A, ab, b + 1, c1, acc);
    }
    for (int t = 0; t < 16; t++) _mm512_storeu_ps(Y + t * ldy, acc[t]);
}

/* Rows [r0, r1) against nt inputs, nt a multiple of 16 and r1 - r0 of 16 rows. */
AMX static void amx_q8_0x8(const void *W, size_t row_bytes, int64_t r0, int64_t r1, const uint8_t *acts,
                           size_t ab, int64_t nt, int64_t n, float *Y, int64_t ldy)
{
    amx_tilecfg cfg = {.palette = 1};
    for (int k = 0; k < 8; k++) cfg.rows[k] = 16, cfg.colsb[k] = 32; /* C: 16 inputs × 8 int32; A */
    cfg.rows[5] = cfg.rows[6] = 8; /* B: 8 groups of 4 values × 8 rows */
    _tile_loadconfig(&cfg);
    for (int64_t r = r0; r < r1; r += 2 * QUANT_X8_ROWS) {
        const uint8_t *g = (const uint8_t *)W + (size_t)r * row_bytes;
        for (int64_t t = 0; t < nt; t += 16)
            amx_q8_0x8_tile(g, g + QUANT_X8_ROWS * row_bytes, n, acts + (size_t)t * ab, ab, Y + t * ldy + r, ldy);
    }
    _tile_release();
}

AVX512 static void mm_q8_0x8(const void *W, size_t row_bytes, int64_t r0, int64_t r1, const void *acts,
                             size_t ab, int64_t nt, int64_t n, float *Y, int64_t ldy)
{
    int64_t done = 0, r16 = r0 + (r1 - r0) / 16 * 16; /* inputs and rows AMX takes */
    if (nt >= 16 && r16 > r0 && amx_usable()) {
        done = nt / 16 * 16;
        amx_q8_0x8(W, row_bytes, r0, r16, acts, ab, done, n, Y, ldy);
        if (r16 < r1) mm_q8_0x8_vnni(W, row_bytes, r16, r1, acts, ab, done, n, Y, ldy);
    }
    if (done < nt)
        mm_q8_0x8_vnni(W, row_bytes, r0, r1, (const uint8_t *)acts + (size_t)done * ab, ab, nt - done, n,
                       Y + done * ldy, ldy);
}

AVX512 static void mv_q8_0x8(const void *W, size_t row_bytes, int64_t r0, int64_t r1, const void *act,
                             int64_t n, float *y)
{
    mv_q8_0x8_vnni(W, row_bytes, r0, r1, act, n, y);
}
QUANT_DEF_X8_FNS(AVX512, q4_1x8, X8_TILE_Q41, 8)
QUANT_DEF_X8_FNS(AVX512, q5_0x8, X8_TILE_Q50, 8)
QUANT_DEF_X8_FNS(AVX512, q5_1x8, X8_TILE_Q51, 8)
QUANT_DEF_X8_FNS(AVX512, iq4_nlx8, X8_TILE_NL, 8)

/* IQ4_XSX8 (quant.h): a group of 8 rows × T inputs, int32 lane r row r. Per sub-block, its 4
 * pieces are looked up in the codebook plus 128 once for the T inputs and VPDPBUSD-ed against
 * each input's broadcast activation groups (one chain: with 8 inputs, 8 chains run side by
 * side); the sub-block's sum then times the 8 rows' scales (VPMULLD). The +128 comes off
 * once per super-block as 128 · sum_j sc_j · (the input's sub-block j sum), by VPMADDWD of
 * the rows' scales paired as int16 against the sums paired alike. One chain and the offset
 * once: TinyLlama's shape read prompts at 117 tokens/s against 98 with two chains each
 * started from its offset (one thread). */
AVX512 INLINE static void x8_tile_iq4xs(const uint8_t *g, int64_t n, const uint8_t *A, size_t ab,
                                        float *Y, int64_t ldy, const int T)
{
    const __m256i tbl = iq4x8_table(1), m16 = _mm256_set1_epi32(0xffff);
    __m256 acc[TILE_MAX];
    TILE_FOR(t, T) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *blk = g + (size_t)b * QUANT_X8_ROWS * sizeof(quant_block_iq4_xs);
        __m256i SL, SH, isc[TILE_MAX], SCW[4];
        iq4xsx8_words(blk, &SL, &SH);
        TILE_FOR(t, T) isc[t] = _mm256_setzero_si256();
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {
            const __m256i sc = iq4xsx8_scale(SL, SH, j);
            if (j & 1) SCW[j / 2] = _mm256_or_si256(SCW[j / 2], _mm256_slli_epi32(sc, 16));
            else SCW[j / 2] = _mm256_and_si256(sc, m16);
            __m256i p[TILE_MAX];
            TILE_FOR(t, T) p[t] = _mm256_setzero_si256();
            _Pragma("GCC unroll 4") for (int L = 0; L < 4; L++) {
                __m256i lo, hi;
                quant_prefetch_part(blk, QUANT_X8_ROWS * sizeof(quant_block_iq4_xs), 4 * j + L, 32);
                iq4x8_piece(blk + 64 + 32 * (4 * j + L), tbl, &lo, &hi);
                TILE_FOR(t, T) {
                    const int8_t *aq = ((const quant_act256 *)(const void *)(A + (size_t)t * ab) + b)->qs;
                    int32_t al, ah;
                    memcpy(&al, aq + 32 * j + 4 * L, 4);
                    memcpy(&ah, aq + 32 * j + 16 + 4 * L, 4);
                    p[t] = _mm256_dpbusd_epi32(p[t], lo, _mm256_set1_epi32(al));
                    p[t] = _mm256_dpbusd_epi32(p[t], hi, _mm256_set1_epi32(ah));
                }
            }
            TILE_FOR(t, T) isc[t] = _mm256_add_epi32(isc[t], _mm256_mullo_epi32(p[t], sc));
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
        TILE_FOR(t, T) {
            const quant_act256 *a = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
            const __m256i B = _mm256_broadcastsi128_si256(_mm_hadd_epi16(
                _mm_loadu_si128((const __m128i *)a->bsums), _mm_loadu_si128((const __m128i *)(a->bsums + 8))));
            const __m256i o = _mm256_add_epi32(
                _mm256_add_epi32(_mm256_madd_epi16(SCW[0], _mm256_shuffle_epi32(B, 0x00)),
                                 _mm256_madd_epi16(SCW[1], _mm256_shuffle_epi32(B, 0x55))),
                _mm256_add_epi32(_mm256_madd_epi16(SCW[2], _mm256_shuffle_epi32(B, 0xaa)),
                                 _mm256_madd_epi16(SCW[3], _mm256_shuffle_epi32(B, 0xff))));
            const __m256i s = _mm256_sub_epi32(isc[t], _mm256_slli_epi32(o, 7));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(d, _mm256_set1_ps(a->d)), acc[t]);
        }
    }
    TILE_FOR(t, T) _mm256_storeu_ps(Y + t * ldy, acc[t]);
}
QUANT_DEF_X8_FNS(AVX512, iq4_xsx8, x8_tile_iq4xs, 8)

QUANT_DEF_K4X8_HELPERS(AVX512)

/* Q4_KX8 and Q5_KX8 (QH, quant.h): a group of 8 rows × T inputs, int32 lane r row r. Per chunk k of 64
 * values, each of its 8 pieces is unpacked once for the T inputs (low nibbles: sub-block 2k,
 * high: 2k+1) and VPDPBUSD-ed against each input's broadcast activation groups; a sub-block's
 * sum then times the 8 rows' scales (VPMULLD); the scales and mins by quant.h's
 * QUANT_DEF_K4X8_HELPERS. */
AVX512 INLINE static void x8_tile_k45(const uint8_t *g, int64_t n, const uint8_t *A, size_t ab,
                                      float *Y, int64_t ldy, const int T, const int QH)
{
    const __m256i mff = _mm256_set1_epi32(0xff);
    const size_t gb = QUANT_X8_ROWS * (QH ? sizeof(quant_block_q5_K) : sizeof(quant_block_q4_K));
    __m256 acc[TILE_MAX];
    TILE_FOR(t, T) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *blk = g + (size_t)b * gb;
        __m256i SC[2], MW[4];
        k4x8_scales(blk, SC, MW);
        __m256i isc[TILE_MAX];
        TILE_FOR(t, T) isc[t] = _mm256_setzero_si256();
        _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) {
            __m256i plo[TILE_MAX], phi[TILE_MAX];
            TILE_FOR(t, T) plo[t] = phi[t] = _mm256_setzero_si256();
            _Pragma("GCC unroll 8") for (int L = 0; L < 8; L++) {
                __m256i lo, hi;
                quant_prefetch_part(blk, gb, 8 * k + L, 32);
                k4x8_piece(blk, QH, k, L, &lo, &hi);
                TILE_FOR(t, T) {
                    const int8_t *aq = ((const quant_act256 *)(const void *)(A + (size_t)t * ab) + b)->qs;
                    int32_t al, ah;
                    memcpy(&al, aq + 32 * QUANT_K4_CHUNK(2 * k) + 4 * L, 4);
                    memcpy(&ah, aq + 32 * QUANT_K4_CHUNK(2 * k + 1) + 4 * L, 4);
                    plo[t] = _mm256_dpbusd_epi32(plo[t], lo, _mm256_set1_epi32(al));
                    phi[t] = _mm256_dpbusd_epi32(phi[t], hi, _mm256_set1_epi32(ah));
                }
            }
            const int sh = 16 * (k & 1);
            const __m256i s0 = _mm256_and_si256(_mm256_srli_epi32(SC[k >> 1], sh), mff);
            const __m256i s1 = _mm256_and_si256(_mm256_srli_epi32(SC[k >> 1], sh + 8), mff);
            TILE_FOR(t, T) isc[t] = _mm256_add_epi32(isc[t], _mm256_add_epi32(_mm256_mullo_epi32(plo[t], s0),
                                                                               _mm256_mullo_epi32(phi[t], s1)));
        }
        TILE_FOR(t, T)
            acc[t] = k4x8_acc(acc[t], isc[t], blk, (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b, MW);
    }
    TILE_FOR(t, T) _mm256_storeu_ps(Y + t * ldy, acc[t]);
}
#define X8_TILE_K4(g, n, A, ab, Y, ldy, T) x8_tile_k45(g, n, A, ab, Y, ldy, T, 0)
#define X8_TILE_K5(g, n, A, ab, Y, ldy, T) x8_tile_k45(g, n, A, ab, Y, ldy, T, 1)
QUANT_DEF_X8_FNS(AVX512, q4_kx8, X8_TILE_K4, 4)
QUANT_DEF_X8_FNS(AVX512, q5_kx8, X8_TILE_K5, 4)

QUANT_DEF_Q6X8_HELPERS(AVX512)

/* Q6_KX8, Q3_KX8 and Q2_KX8 (K: 6, 3 or 2; quant.h): a group of 8 rows × T inputs, int32 lane
 * r row r. Each quarter's 8 pieces (6-bit values from ql and qh, Q2_K's 2-bit ones, Q3_K's
 * 3-bit ones plus 4) are unpacked once for the T inputs and VPDPBUSD-ed against their
 * broadcast activation groups, the first 4 pieces (16 values) and the last 4 apart, each
 * times its group's scales (VPMULLD); the offsets (Q6_K's -32, Q3_K's -4 times sum_g sc_g ·
 * bsums[g]) and Q2_K's mins per input by q6x8_acc and q23x8_acc. */
AVX512 INLINE static void x8_tile_kg(const uint8_t *g, int64_t n, const uint8_t *A, size_t ab,
                                     float *Y, int64_t ldy, const int T, const int K)
{
    const size_t gb = QUANT_X8_KG_BYTES(K);
    __m256 acc[TILE_MAX];
    TILE_FOR(t, T) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *blk = g + (size_t)b * gb;
        __m256i S[4], M[4], isc[TILE_MAX];
        if (K == 6) q6x8_scales(blk, S);
        else q23x8_scales(blk, K == 3, S, M);
        TILE_FOR(t, T) isc[t] = _mm256_setzero_si256();
        _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++)
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
                __m256i pa[TILE_MAX], pb[TILE_MAX];
                TILE_FOR(t, T) pa[t] = pb[t] = _mm256_setzero_si256();
                _Pragma("GCC unroll 8") for (int L = 0; L < 8; L++) {
                    if (j == 0 && (K != 3 || h == 0)) /* a piece's first read */
                        quant_prefetch_part(blk, gb, K == 3 ? L : 8 * h + L, K == 3 ? 8 : 16);
                    const __m256i q = K == 6 ? q6x8_piece(blk, h, j, L) : q23x8_piece(blk, K == 3, h, j, L);
                    TILE_FOR(t, T) {
                        const int8_t *aq = ((const quant_act256 *)(const void *)(A + (size_t)t * ab) + b)->qs;
                        int32_t av;
                        memcpy(&av, aq + 128 * h + 32 * j + 4 * L, 4);
                        if (L < 4)
                            pa[t] = _mm256_dpbusd_epi32(pa[t], q, _mm256_set1_epi32(av));
                        else
                            pb[t] = _mm256_dpbusd_epi32(pb[t], q, _mm256_set1_epi32(av));
                    }
                }
                const __m256i sa = x8_byte32(S[2 * h + j / 2], 2 * (j % 2));
                const __m256i sb = x8_byte32(S[2 * h + j / 2], 2 * (j % 2) + 1);
                TILE_FOR(t, T) isc[t] = _mm256_add_epi32(isc[t], _mm256_add_epi32(_mm256_mullo_epi32(pa[t], sa),
                                                                                   _mm256_mullo_epi32(pb[t], sb)));
            }
        TILE_FOR(t, T) {
            const quant_act256 *a = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
            acc[t] = K == 6 ? q6x8_acc(acc[t], isc[t], blk, a, S) : q23x8_acc(acc[t], isc[t], blk, K == 3, a, S, M);
        }
    }
    TILE_FOR(t, T) _mm256_storeu_ps(Y + t * ldy, acc[t]);
}
QUANT_DEF_X8_FNS(AVX512, q6_kx8, QUANT_X8_TILE_Q6K, 4)
QUANT_DEF_X8_FNS(AVX512, q3_kx8, QUANT_X8_TILE_Q3K, 4)
QUANT_DEF_X8_FNS(AVX512, q2_kx8, QUANT_X8_TILE_Q2K, 4)


static const quant_kernels avx512_kernels[QUANT_TYPE_COUNT_] = {
    [NT_TYPE_F32] = {NULL, NULL, dot_f32, mv_f32, mm_f32},
    [NT_TYPE_F16] = {deq_f16, act_f16_prep, dot_f16, mv_f16h, mm_f16h},
    [QUANT_TYPE_F16_F32ACT] = {deq_f16, NULL, dot_f16, mv_f16, mm_f16},
    [NT_TYPE_BF16] = {deq_bf16, NULL, dot_bf16, mv_bf16, mm_bf16},
    [NT_TYPE_Q8_0] = {deq_q8_0, act32_prep, dot_q8_0, mv_q8_0_dec, mm_q8_0_dec},
    [NT_TYPE_Q4_0] = {deq_q4_0, act32_prep, dot_q4_0, mv_q4_0, mm_q4_0},
    [NT_TYPE_Q4_1] = {deq_q4_1, act32_prep, dot_q4_1, mv_q4_1, mm_q4_1},
    [NT_TYPE_Q5_0] = {deq_q5_0, act32_prep, dot_q5_0, mv_q5_0, mm_q5_0},
    [NT_TYPE_Q5_1] = {deq_q5_1, act32_prep, dot_q5_1, mv_q5_1, mm_q5_1},
    [NT_TYPE_Q4_K] = {deq_q4_K, act256_k4_prep, dot_q4_K, mv_q4_K, mm_q4_K},
    [NT_TYPE_Q5_K] = {deq_q5_K, act256_k4_prep, dot_q5_K, mv_q5_K, mm_q5_K},
    [NT_TYPE_Q6_K] = {deq_q6_K, act256_prep, dot_q6_K, mv_q6_K, mm_q6_K},
    [NT_TYPE_Q2_K] = {deq_q2_K, act256_prep, dot_q2_K, mv_q2_K, mm_q2_K},
    [NT_TYPE_Q3_K] = {deq_q3_K, act256_prep, dot_q3_K, mv_q3_K, mm_q3_K},
    [NT_TYPE_IQ4_NL] = {deq_iq4_nl, act32_prep, dot_iq4_nl, mv_iq4_nl, mm_iq4_nl},
    [NT_TYPE_IQ4_XS] = {deq_iq4_xs, act256_prep, dot_iq4_xs, mv_iq4_xs, mm_iq4_xs},
    QUANT_X8_KERNELS
};

const quant_kernels *nt_quant_avx512_kernels(int type)
{
    static const quant_kernels none = {NULL, NULL, NULL, NULL, NULL};
    return type >= 0 && type < QUANT_TYPE_COUNT_ ? &avx512_kernels[type] : &none;
}

#else /* not x86-64 GCC/Clang: no SIMD kernels, quant.c uses the scalar ones */

bool nt_quant_avx512_usable(void)
{
    return false;
}

const quant_kernels *nt_quant_avx512_kernels(int type)
{
    static const quant_kernels none = {NULL, NULL, NULL, NULL, NULL};
    (void)type;
    return &none;
}

float nt_quant_avx512_dot_f32(const float *a, const float *b, int64_t n)
{
    (void)a, (void)b, (void)n;
    return 0.0f;
}

double nt_quant_avx512_exp_shifted(float *v, int64_t n, float scale)
{
    (void)v, (void)n, (void)scale;
    return 0.0;
}

void nt_quant_avx512_swiglu(float *g, const float *u, int64_t n)
{
    (void)g, (void)u, (void)n;
}

void nt_quant_avx512_geglu(float *g, const float *u, int64_t n)
{
    (void)g, (void)u, (void)n;
}

#endif
