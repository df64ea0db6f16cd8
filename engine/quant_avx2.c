/* quant_avx2.c — AVX2 kernels for the quantized formats of quant.h, for the many x86-64 CPUs
 * without AVX-512 (Haswell and later, Zen 1 to 3).
 *
 * Same arrangement as quant_avx512.c: compiled through a target attribute, used only after
 * nt_quant_avx2_usable() confirmed AVX2, FMA and F16C at run time. The dot kernels multiply
 * packed weights with int8 activations in integers (VPMADDUBSW, then VPMADDWD by the block
 * or sub-block scale) and apply one float multiply-add per block. Activation buffers are
 * prepared here too (the scalar code's bytes); the dequantization of the quantized types
 * comes from the scalar code (it serves the embedding lookup, model loading and the f32
 * reference dot nt_quant_dot); F16 and BF16, whose scalar conversion is slow, get vector
 * dequantizers. Batches of every type but Q2_K (whose tile measured no faster) run in
 * register tiles of rows × tokens (QUANT_DEF_TILE_FNS, "tiles" below); Q2_K row by row and
 * token by token (QUANT_DEF_ROW_FNS). */
#include "quant.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
/* Kernel bodies are always-inline (k_*), instantiated as a one-row function and inside the
 * matvec row loop with identical arithmetic (see quant_avx512.c). */
#define INLINE __attribute__((always_inline)) inline

/* F16C through CPUID (leaf 1, ECX bit 29): clang does not know "f16c" as a feature name of
 * __builtin_cpu_supports. */
static bool has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

/* Whether the float decoding kernels (DEF_DOT8) prefetch their weights, decided once from
 * the CPU's vendor (CPUID leaf 0): yes on Intel, where AVX2 F16 decoding went 5.0 -> 6.1
 * tokens/s with it (TinyLlama shape, one thread, Sapphire Rapids); no on AMD, where it cost
 * 6-8% (Zen 3: 6.6-6.8 vs 7.0-7.5 tokens/s, four alternated runs; SmolLM2's shape alike): its
 * own prefetchers keep up with one forward stream, and the software prefetches only take load
 * slots. The 32-value and super-block tiles keep theirs (neutral or better on both). */
static bool float_prefetch(void)
{
    static _Atomic int on = -1; /* a race only makes two threads decide the same thing */
    int v = atomic_load_explicit(&on, memory_order_relaxed);
    if (v < 0) {
        unsigned a, b, c, d;
        v = !(__get_cpuid(0, &a, &b, &c, &d) && b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u);
        atomic_store_explicit(&on, v, memory_order_relaxed);
    }
    return v;
}

bool nt_quant_avx2_usable(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           has_f16c();
}

AVX2 static inline float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

/* Horizontal sum of 8 floats in a fixed order. */
AVX2 static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* --------------------------------------------------------- f32, f16, bf16 ----- */

/* Loads 8 values of a row, the last partial group zero-padded through a local copy. */
AVX2 static inline __m256 ld_f32(const float *p, int64_t left)
{
    if (left >= 8) return _mm256_loadu_ps(p);
    float t[8] = {0};
    memcpy(t, p, (size_t)left * 4);
    return _mm256_loadu_ps(t);
}

AVX2 static inline __m256 ld_f16(const uint16_t *p, int64_t left)
{
    if (left >= 8) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    uint16_t t[8] = {0};
    memcpy(t, p, (size_t)left * 2);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)t));
}

AVX2 static inline __m256 ld_bf16(const uint16_t *p, int64_t left)
{
    uint16_t t[8] = {0};
    if (left < 8) {
        memcpy(t, p, (size_t)left * 2);
        p = t;
    }
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

/* Four accumulators of 8 lanes over 32 values per step; the tail goes into the first. LD
 * loads weights (WT), LDX activations (XT), both as f32. The weights are prefetched
 * (quant_prefetch) where that pays (float_prefetch): these are the decoding kernels. */
#define DEF_DOT8(NAME, WT, LD, XT, LDX)                                                      \
    AVX2 INLINE static float NAME(const void *row, const void *act, int64_t n)               \
    {                                                                                        \
        const WT *w = row;                                                                   \
        const XT *x = act;                                                                   \
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                          \
        const bool pf = float_prefetch();                                                    \
        int64_t i = 0;                                                                       \
        for (; i + 32 <= n; i += 32) {                                                       \
            if (pf) quant_prefetch(w + i, 32 * sizeof(WT));                                  \
            s0 = _mm256_fmadd_ps(LD(w + i, 8), LDX(x + i, 8), s0);                           \
            s1 = _mm256_fmadd_ps(LD(w + i + 8, 8), LDX(x + i + 8, 8), s1);                   \
            s2 = _mm256_fmadd_ps(LD(w + i + 16, 8), LDX(x + i + 16, 8), s2);                 \
            s3 = _mm256_fmadd_ps(LD(w + i + 24, 8), LDX(x + i + 24, 8), s3);                 \
        }                                                                                    \
        for (; i < n; i += 8) s0 = _mm256_fmadd_ps(LD(w + i, n - i), LDX(x + i, n - i), s0); \
        return hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));           \
    }

DEF_DOT8(k_f32, float, ld_f32, float, ld_f32)
DEF_DOT8(k_f16, uint16_t, ld_f16, float, ld_f32)
DEF_DOT8(k_bf16, uint16_t, ld_bf16, float, ld_f32)
/* F16 decoding on the activations' binary16 copy (quant.h): the same values as k_f16's f32
 * copy, so the same bits, with half the activation bytes to keep in L1. */
DEF_DOT8(k_f16h, uint16_t, ld_f16, uint16_t, ld_f16)

AVX2 float nt_quant_avx2_dot_f32(const float *a, const float *b, int64_t n)
{
    return k_f32(a, b, n);
}

/* e^x for 8 lanes, as quant_avx512.c's exp16 (the same reduction and polynomial); 2^k is
 * built in the exponent field, k >= -126 after the clamp. */
AVX2 static inline __m256 exp8(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.3f);
    const __m256 keep = _mm256_cmp_ps(x, lo, _CMP_GE_OQ);
    x = _mm256_max_ps(x, lo);
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(keep, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* quant.h's nt_quant_exp_shifted, 8 values at a time; the last few (n % 8) through a padded
 * copy. Whole vectors are loaded and stored in place: padding every step cost 3x the time of
 * the exponential (attention at 2048 positions spent 10% of a token there). */
AVX2 double nt_quant_avx2_exp_shifted(float *v, int64_t n, float scale)
{
    const __m256 vs = _mm256_set1_ps(scale);
    __m256 mx = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_mul_ps(_mm256_loadu_ps(v + i), vs);
        _mm256_storeu_ps(v + i, x);
        mx = _mm256_max_ps(mx, x);
    }
    float m[8];
    _mm256_storeu_ps(m, mx);
    float max = m[0];
    for (int j = 1; j < 8; j++) max = m[j] > max ? m[j] : max;
    for (; i < n; i++) {
        v[i] *= scale;
        max = v[i] > max ? v[i] : max;
    }
    const __m256 vmax = _mm256_set1_ps(max);
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    for (i = 0; i < n; i += 8) {
        float t[8];
        __m256 e;
        if (i + 8 <= n) {
            e = exp8(_mm256_sub_ps(_mm256_loadu_ps(v + i), vmax));
            _mm256_storeu_ps(v + i, e);
        } else {
            const int64_t c = n - i;
            for (int j = 0; j < 8; j++) t[j] = j < c ? v[i + j] : -INFINITY; /* e^-inf = 0 */
            e = exp8(_mm256_sub_ps(_mm256_loadu_ps(t), vmax));
            _mm256_storeu_ps(t, e);
            memcpy(v + i, t, (size_t)c * sizeof(float));
        }
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double s[4];
    _mm256_storeu_pd(s, _mm256_add_pd(s0, s1));
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* σ(z) = 1 / (1 + e^-z) from e^-|z|, which never overflows: 1 / (1 + e) for z >= 0, else
 * e / (1 + e). */
AVX2 static inline __m256 sigmoid8(__m256 z)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 e = exp8(_mm256_or_ps(z, _mm256_set1_ps(-0.0f))); /* e^-|z| */
    const __m256 neg = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_div_ps(_mm256_blendv_ps(one, e, neg), _mm256_add_ps(one, e));
}

/* quant.h's nt_quant_swiglu and nt_quant_geglu, 8 values at a time; the last few through a
 * padded copy. */
#define DEF_GLU8(NAME, GATE)                                                                \
    AVX2 void NAME(float *g, const float *u, int64_t n)                                     \
    {                                                                                       \
        int64_t i = 0;                                                                      \
        for (; i + 8 <= n; i += 8) {                                                        \
            const __m256 x = _mm256_loadu_ps(g + i);                                        \
            _mm256_storeu_ps(g + i, _mm256_mul_ps(GATE(x), _mm256_loadu_ps(u + i)));        \
        }                                                                                   \
        if (i < n) {                                                                        \
            float tg[8] = {0}, tu[8] = {0};                                                 \
            const size_t c = (size_t)(n - i) * sizeof(float);                               \
            memcpy(tg, g + i, c);                                                           \
            memcpy(tu, u + i, c);                                                           \
            const __m256 x = _mm256_loadu_ps(tg);                                           \
            _mm256_storeu_ps(tg, _mm256_mul_ps(GATE(x), _mm256_loadu_ps(tu)));              \
            memcpy(g + i, tg, c);                                                           \
        }                                                                                   \
    }
#define SILU8(x) _mm256_mul_ps((x), sigmoid8(x))
#define GELU8(x)                                                                            \
    _mm256_mul_ps((x), sigmoid8(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(1.5957691216057308f), (x)), \
                                              _mm256_fmadd_ps(_mm256_set1_ps(0.044715f),    \
                                                              _mm256_mul_ps((x), (x)),      \
                                                              _mm256_set1_ps(1.0f)))))
DEF_GLU8(nt_quant_avx2_swiglu, SILU8)
DEF_GLU8(nt_quant_avx2_geglu, GELU8)

AVX2 static void deq_f16(const void *src, float *dst, int64_t n)
{
    const uint16_t *w = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, ld_f16(w + i, 8));
    if (i < n) {
        float t[8];
        _mm256_storeu_ps(t, ld_f16(w + i, n - i));
        memcpy(dst + i, t, (size_t)(n - i) * 4);
    }
}

/* Q8_0 blocks as quant.c's deq_q8_0 (q · d, one rounding: the same bits), 8 values a step:
 * an attention over a Q8_0 cache dequantizes every value row it reads (forward.c). */
AVX2 static void deq_q8_0(const void *src, float *dst, int64_t n)
{
    const quant_block_q8_0 *x = src;
    for (int64_t b = 0; b < n / 32; b++, dst += 32) {
        const __m256 d = _mm256_set1_ps(nt_quant_f16_to_f32(x[b].d));
        for (int j = 0; j < 32; j += 8) {
            const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(x[b].qs + j)));
            _mm256_storeu_ps(dst + j, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
        }
    }
}

AVX2 static void deq_bf16(const void *src, float *dst, int64_t n)
{
    const uint16_t *w = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, ld_bf16(w + i, 8));
    if (i < n) {
        float t[8];
        _mm256_storeu_ps(t, ld_bf16(w + i, n - i));
        memcpy(dst + i, t, (size_t)(n - i) * 4);
    }
}

/* ------------------------------------------------------- 32-value formats ----- */

/* Pair sums of signed w × signed a as 8 int32: VPMADDUBSW wants unsigned × signed, so |w| ×
 * (a with w's sign); |a| ≤ 127 and |w| ≤ 128 keep each pair within int16. */
AVX2 static inline __m256i dot_ss(__m256i w, __m256i a)
{
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* Unsigned values (≤ 31) × signed a. */
AVX2 static inline __m256i dot_us(__m256i w, __m256i a)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1));
}

/* 16 nibble bytes → 32 values: 0..15 from the low nibbles, 16..31 from the high ones. */
AVX2 static inline __m256i nib32(const uint8_t *qs)
{
    __m128i q = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(0x0f);
    __m128i lo = _mm_and_si128(q, m), hi = _mm_and_si128(_mm_srli_epi16(q, 4), m);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* The fifth bits of Q5_x (bit j of the u32 qh → 16 added to value j): spread the 32 bits to
 * 32 bytes (byte j gets qh byte j/8), keep bit j%8 of each, compare. */
AVX2 static inline __m256i five32(const uint8_t *qh, const uint8_t *qs)
{
    uint32_t h;
    memcpy(&h, qh, 4);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h),
                                    _mm256_setr_epi64x(0, 0x0101010101010101ll,
                                                       0x0202020202020202ll, 0x0303030303030303ll));
    __m256i bit = _mm256_set1_epi64x(0x8040201008040201ll);
    __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(b, bit), bit);
    return _mm256_or_si256(nib32(qs), _mm256_and_si256(set, _mm256_set1_epi8(16)));
}

AVX2 INLINE static float k_q8_0(const void *row, const void *act, int64_t n)
{
    const quant_block_q8_0 *x = row;
    const quant_act32 *a = act;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; b++) {
        __m256i p = dot_ss(_mm256_loadu_si256((const __m256i *)x[b].qs),
                           _mm256_loadu_si256((const __m256i *)a[b].qs));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(h2f(x[b].d) * a[b].d), acc);
    }
    return hsum8(acc);
}

/* Q4_0/Q5_0: the values minus their offset are signed bytes, then as Q8_0. Q4_1/Q5_1: the
 * unsigned values directly, plus the min term m · d_a · isum in float, in block order. */
#define DEF_DOT_LEGACY(NAME, BT, VALS, OFF, HAS_M, MIN_OF)                                   \
    AVX2 INLINE static float NAME(const void *row, const void *act, int64_t n)               \
    {                                                                                        \
        const BT *x = row;                                                                   \
        const quant_act32 *a = act;                                                          \
        __m256 acc = _mm256_setzero_ps();                                                    \
        float msum = 0.0f;                                                                   \
        for (int64_t b = 0; b < n / 32; b++) {                                               \
            __m256i v = _mm256_loadu_si256((const __m256i *)a[b].qs), p;                     \
            if (OFF) p = dot_ss(_mm256_sub_epi8(VALS(&x[b]), _mm256_set1_epi8(OFF)), v);     \
            else p = dot_us(VALS(&x[b]), v);                                                 \
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(h2f(x[b].d) * a[b].d), acc); \
            if (HAS_M) msum += MIN_OF(&x[b]) * a[b].d * (float)a[b].isum;                    \
        }                                                                                    \
        return hsum8(acc) + msum;                                                            \
    }

#define VALS_Q4(p) nib32((p)->qs)
#define VALS_Q5(p) five32((p)->qh, (p)->qs)
#define MIN_M(p) h2f((p)->m)
#define MIN_NONE(p) 0.0f /* never evaluated: HAS_M is 0 */

DEF_DOT_LEGACY(k_q4_0, quant_block_q4_0, VALS_Q4, 8, 0, MIN_NONE)
DEF_DOT_LEGACY(k_q4_1, quant_block_q4_1, VALS_Q4, 0, 1, MIN_M)
DEF_DOT_LEGACY(k_q5_0, quant_block_q5_0, VALS_Q5, 16, 0, MIN_NONE)
DEF_DOT_LEGACY(k_q5_1, quant_block_q5_1, VALS_Q5, 0, 1, MIN_M)

/* ----------------------------------------------------------------- K formats ----- */

/* The Q4_K/Q5_K scale bytes as [sc0..sc7, m0..m7] (see k4_unpack_v in quant_avx512.c; the 4
 * bytes read past the 12 scale bytes belong to the same block). */
AVX2 static inline __m128i k4_unpack_b(const uint8_t *scales)
{
    __m128i v = _mm_loadu_si128((const __m128i *)scales);
    __m128i a = _mm_shuffle_epi32(v, 0x98); /* w0 w2 w1 w2 */
    __m128i b = _mm_shuffle_epi32(v, 0x50); /* w0 w0 w1 w1 */
    __m128i lo = _mm_and_si128(_mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 0, 4)),
                               _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    __m128i hi = _mm_and_si128(_mm_srli_epi32(b, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    return _mm_or_si128(lo, hi);
}

/* Sub-block j's scale as 16 int16 lanes, from a register holding sc0..sc7 as int16 in each
 * 128-bit lane: one VPSHUFB where a byte store and two broadcasts per sub-block cost 3 uops. */
#define K4_SCALE(sw, j) _mm256_shuffle_epi8((sw), _mm256_set1_epi16((short)(0x0100 + 0x0202 * (j))))

/* Q4_K and Q5_K: sub-block j's pair sums (VPMADDUBSW) times sc_j (VPMADDWD) summed in int32;
 * the mins as m_j times the activation's 16-value sums. The loop over the four 32-byte
 * chunks is unrolled so that their activation offsets (QUANT_K4_CHUNK) are constants: left as
 * a loop, GCC computed them with ten integer instructions a chunk (AVX2 decoding of Q4_K ran
 * at 10-16 GB/s in L2, half the AVX-512 kernel's speed). */
AVX2 INLINE static float dot_k45(const void *row, const void *act,
                                                                int64_t n, int has_qh)
{
    const quant_act256 *a = act;
    size_t bsz = has_qh ? sizeof(quant_block_q5_K) : sizeof(quant_block_q4_K);
    __m256 accf = _mm256_setzero_ps(), accm = accf;
    const __m128i mdup = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10);
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *blk = (const uint8_t *)row + (size_t)b * bsz;
        const quant_block_q4_K *x4 = (const quant_block_q4_K *)(const void *)blk;
        const quant_block_q5_K *x5 = (const quant_block_q5_K *)(const void *)blk;
        const uint8_t *qs = has_qh ? x5->qs : x4->qs;
        const __m128i o = k4_unpack_b(has_qh ? x5->scales : x4->scales);
        const __m256i sw = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(o));
        __m256i hb = has_qh ? _mm256_loadu_si256((const __m256i *)x5->qh) : _mm256_setzero_si256();
        __m256i acc = _mm256_setzero_si256();
        _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * k));
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (has_qh) {
                __m256i h = _mm256_srli_epi16(hb, 2 * k);
                lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(h, 4), b4));
                hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(h, 3), b4));
            }
            const int8_t *alo = a[b].qs + 32 * QUANT_K4_CHUNK(2 * k);
            const int8_t *ahi = a[b].qs + 32 * QUANT_K4_CHUNK(2 * k + 1);
            __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)alo));
            __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)ahi));
            acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(plo, K4_SCALE(sw, 2 * k)),
                                                         _mm256_madd_epi16(phi, K4_SCALE(sw, 2 * k + 1))));
        }
        __m256i md = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(o, mdup));
        __m256i mp = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a[b].bsums), md);
        float d = h2f(x4->d) * a[b].d, dmin = h2f(x4->dmin) * a[b].d; /* same offsets in q5_K */
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(d), accf);
        accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mp), _mm256_set1_ps(dmin), accm);
    }
    return hsum8(accf) - hsum8(accm);
}

AVX2 INLINE static float k_q4_K(const void *row, const void *act, int64_t n)
{
    return dot_k45(row, act, n, 0);
}

AVX2 INLINE static float k_q5_K(const void *row, const void *act, int64_t n)
{
    return dot_k45(row, act, n, 1);
}

/* Byte shuffles giving [sc_2c ×8, sc_2c+1 ×8] for 32-value chunk c of a super-block with 16
 * scales per 16 values in value order (Q6_K, Q2_K, Q3_K). */
static const uint8_t q6_pairs[8][16] = {
#define P8(a) a, a, a, a, a, a, a, a
    {P8(0), P8(1)},   {P8(2), P8(3)},   {P8(4), P8(5)},   {P8(6), P8(7)},
    {P8(8), P8(9)},   {P8(10), P8(11)}, {P8(12), P8(13)}, {P8(14), P8(15)},
};

/* Q6_K: unsigned 6-bit values × int8 activations, times the signed group scales; the −32
 * offset as 32 · sum_g sc_g · bsum_g, exactly, in the same int32 lanes. */
AVX2 INLINE static float k_q6_K(const void *row, const void *act, int64_t n)
{
    const quant_block_q6_K *x = row;
    const quant_act256 *a = act;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    __m256 accf = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        __m128i scb = _mm_loadu_si128((const __m128i *)x[b].scales);
        __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a[b].bsums),
                                         _mm256_cvtepi8_epi16(scb));
        __m256i acc = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5));
        for (int h = 0; h < 2; h++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(x[b].ql + 64 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(x[b].ql + 64 * h + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * h));
            __m256i e[4];
            e[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
            e[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
            e[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m30));
            e[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
            for (int j = 0; j < 4; j++) {
                __m256i p = _mm256_maddubs_epi16(
                    e[j], _mm256_loadu_si256((const __m256i *)(a[b].qs + 128 * h + 32 * j)));
                __m256i s = _mm256_cvtepi8_epi16(
                    _mm_shuffle_epi8(scb, _mm_loadu_si128((const __m128i *)q6_pairs[4 * h + j])));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
            }
        }
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(h2f(x[b].d) * a[b].d), accf);
    }
    return hsum8(accf);
}

/* Q2_K and Q3_K: the 2-bit parts of quarter j of both halves, from the two 32-byte halves of
 * qs, as unsigned bytes in value order; Q3_K adds its hmask bit as 4 (then the values are
 * q + 4, 0..7, and the kernel takes 4·sc·bsum off). */
AVX2 static inline __m256i q2_quarter(__m256i q, int j)
{
    return _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), _mm256_set1_epi8(3));
}

/* sum over the 4 quarters of half h (128 values) of (values · a) by 16-value group, times the
 * 16 group scales sc16 (bytes, 8 per chunk via q6_pairs), added into acc */
AVX2 static inline __m256i k2_half(__m256i acc, const __m256i e[4], const int8_t *a, __m128i sc,
                                   int h)
{
    for (int j = 0; j < 4; j++) {
        __m256i p = _mm256_maddubs_epi16(e[j], _mm256_loadu_si256((const __m256i *)(a + 32 * j)));
        __m256i s = _mm256_cvtepi8_epi16(
            _mm_shuffle_epi8(sc, _mm_loadu_si128((const __m128i *)q6_pairs[4 * h + j])));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
    }
    return acc;
}

/* Q2_K: sum_g sc_g·(q·a)_g in int32 lanes, the mins as m_g times the 16-value sums. */
AVX2 INLINE static float k_q2_K(const void *row, const void *act, int64_t n)
{
    const quant_block_q2_K *x = row;
    const quant_act256 *a = act;
    __m256 accf = _mm256_setzero_ps(), accm = accf;
    for (int64_t b = 0; b < n / 256; b++) {
        __m128i raw = _mm_loadu_si128((const __m128i *)x[b].scales);
        __m128i sc = _mm_and_si128(raw, _mm_set1_epi8(0x0f));
        __m256i m = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f)));
        __m256i mp = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a[b].bsums), m);
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * h)), e[4];
            for (int j = 0; j < 4; j++) e[j] = q2_quarter(q, j);
            acc = k2_half(acc, e, a[b].qs + 128 * h, sc, h);
        }
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(h2f(x[b].d) * a[b].d), accf);
        accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mp), _mm256_set1_ps(h2f(x[b].dmin) * a[b].d), accm);
    }
    return hsum8(accf) - hsum8(accm);
}

/* Q3_K: values q + 4·h (0..7) against the activations, times the signed scales; the −4 of
 * the values without their hmask bit comes off as 4·sum_g sc_g·bsum_g, exactly. */
AVX2 INLINE static float k_q3_K(const void *row, const void *act, int64_t n)
{
    const quant_block_q3_K *x = row;
    const quant_act256 *a = act;
    __m256 accf = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        uint64_t lo, hi;
        quant_q3_scales_unpack(x[b].scales, &lo, &hi);
        __m128i sc = _mm_sub_epi8(_mm_set_epi64x((long long)hi, (long long)lo), _mm_set1_epi8(32));
        __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a[b].bsums),
                                         _mm256_cvtepi8_epi16(sc));
        __m256i acc = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 2));
        __m256i hm = _mm256_loadu_si256((const __m256i *)x[b].hmask), one = _mm256_set1_epi8(1);
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * h)), e[4];
            for (int j = 0; j < 4; j++) {
                /* bit 4h + j of hmask[l] is value l of quarter j's high bit */
                __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + j), one);
                e[j] = _mm256_or_si256(q2_quarter(q, j), _mm256_slli_epi16(hb, 2));
            }
            acc = k2_half(acc, e, a[b].qs + 128 * h, sc, h);
        }
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(h2f(x[b].d) * a[b].d), accf);
    }
    return hsum8(accf);
}

/* IQ4: the codebook, in both 128-bit lanes, for VPSHUFB lookups of 4-bit indices. */
AVX2 static inline __m256i iq4_table(void)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)quant_iq4_values));
}

/* IQ4_NL: as Q8_0 once the nibbles are looked up in the codebook. */
AVX2 INLINE static float k_iq4_nl(const void *row, const void *act, int64_t n)
{
    const quant_block_iq4_nl *x = row;
    const quant_act32 *a = act;
    const __m256i kv = iq4_table();
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; b++) {
        __m256i p = dot_ss(_mm256_shuffle_epi8(kv, nib32(x[b].qs)),
                           _mm256_loadu_si256((const __m256i *)a[b].qs));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(h2f(x[b].d) * a[b].d), acc);
    }
    return hsum8(acc);
}

/* IQ4_XS: two sub-blocks per step from 32 quant bytes; their low nibbles are values 0..15 of
 * each, the high ones 16..31, so the activations are regrouped the same way. Pair sums
 * (|w|·±a ≤ 2·127·127) times the signed sub-block scale in int32 lanes. */
AVX2 INLINE static float k_iq4_xs(const void *row, const void *act, int64_t n)
{
    const quant_block_iq4_xs *x = row;
    const quant_act256 *a = act;
    const __m256i kv = iq4_table(), m4 = _mm256_set1_epi8(0x0f);
    __m256 accf = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        int16_t ls[8];
        quant_iq4xs_scales(&x[b], ls);
        __m256i acc = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * k));
            __m256i wlo = _mm256_shuffle_epi8(kv, _mm256_and_si256(q, m4));
            __m256i whi = _mm256_shuffle_epi8(kv, _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
            __m256i a0 = _mm256_loadu_si256((const __m256i *)(a[b].qs + 64 * k));
            __m256i a1 = _mm256_loadu_si256((const __m256i *)(a[b].qs + 64 * k + 32));
            __m256i alo = _mm256_permute2x128_si256(a0, a1, 0x20); /* values 0..15 of both */
            __m256i ahi = _mm256_permute2x128_si256(a0, a1, 0x31); /* values 16..31 */
            __m256i s = _mm256_setr_m128i(_mm_set1_epi16(ls[2 * k]), _mm_set1_epi16(ls[2 * k + 1]));
            __m256i plo = _mm256_maddubs_epi16(_mm256_sign_epi8(wlo, wlo), _mm256_sign_epi8(alo, wlo));
            __m256i phi = _mm256_maddubs_epi16(_mm256_sign_epi8(whi, whi), _mm256_sign_epi8(ahi, whi));
            /* each pair sum may reach 32258: widen before adding */
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(plo, s));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(phi, s));
        }
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(h2f(x[b].d) * a[b].d), accf);
    }
    return hsum8(accf);
}

/* ------------------------------------------------------------ activations ----- */

/* The activation buffers of quant.c's act32_prep, act256_prep and act256_k4_prep, the same
 * bytes (test_quant compares them, NaN and inf included): the block's largest |x| (MAXPS
 * returns its second operand for a NaN first, so NaNs are skipped as by fmaxf), then
 * round(x · 127/amax) clamped to ±127 (the same order of max and min, rounding to nearest
 * even as nearbyintf). Done in scalar code they were 16% of a small model's prompt time under
 * NATTER_ISA=avx2 (fmaxf, fminf, nearbyintf per value). */
AVX2 static inline float amax8(const float *x, int n)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask), m);
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* 16 values → 16 int8 (returned in the low 128 bits), their sum added to *sum. */
AVX2 static inline __m128i act_q16(const float *x, __m256 id, int32_t *sum)
{
    const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    __m256i q0 = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x), id), lo), hi));
    __m256i q1 = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8), id), lo), hi));
    __m256i t = _mm256_add_epi32(q0, q1);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    *sum += _mm_cvtsi128_si32(s);
    /* q0 = values 0..7, q1 = 8..15: int16 packs interleave the 128-bit lanes, then bytes */
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xd8);
    return _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

/* A block of n values: its scale amax/127 into *d, and 127/amax (0 for an all-zero block) in
 * every lane. */
AVX2 static inline __m256 act_scale(const float *x, int n, float *d)
{
    const float amax = amax8(x, n);
    *d = amax / 127.0f;
    return _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
}

/* The activations of F16 weights (quant.c's act_f16_prep): rounded to binary16, saturated,
 * as floats then halves, 8 at a time (a ragged end through a zero-padded copy). */
AVX2 static inline void f16_prep8(const float *x, float *f, uint16_t *h)
{
    const __m256 hi = _mm256_set1_ps(QUANT_F16_MAX), lo = _mm256_set1_ps(-QUANT_F16_MAX);
    /* min/max return their second operand when one is NaN: x second keeps NaN */
    __m256 v = _mm256_max_ps(lo, _mm256_min_ps(hi, _mm256_loadu_ps(x)));
    __m128i q = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128((__m128i *)h, q);
    _mm256_storeu_ps(f, _mm256_cvtph_ps(q));
}

AVX2 static void act_f16_prep(const float *x, void *act, int64_t n)
{
    float *f = act;
    uint16_t *h = (uint16_t *)(f + n);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) f16_prep8(x + i, f + i, h + i);
    if (i < n) {
        float tx[8] = {0}, tf[8];
        uint16_t th[8];
        memcpy(tx, x + i, (size_t)(n - i) * sizeof(float));
        f16_prep8(tx, tf, th);
        memcpy(f + i, tf, (size_t)(n - i) * sizeof(float));
        memcpy(h + i, th, (size_t)(n - i) * sizeof(uint16_t));
    }
    if (n & 1) h[n] = 0; /* the padding (nt_quant_act_bytes): defined bytes */
}

AVX2 static void act32_prep(const float *x, void *act, int64_t n)
{
    quant_act32 *y = act;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        const __m256 idv = act_scale(x, 32, &y[b].d);
        int32_t s = 0;
        _mm_storeu_si128((__m128i *)y[b].qs, act_q16(x, idv, &s));
        _mm_storeu_si128((__m128i *)(y[b].qs + 16), act_q16(x + 16, idv, &s));
        y[b].isum = s;
    }
}

AVX2 static void act256_prep(const float *x, void *act, int64_t n)
{
    quant_act256 *y = act;
    for (int64_t b = 0; b < n / 256; b++, x += 256) {
        const __m256 idv = act_scale(x, 256, &y[b].d);
        for (int g = 0; g < 16; g++) {
            int32_t s = 0;
            _mm_storeu_si128((__m128i *)(y[b].qs + 16 * g), act_q16(x + 16 * g, idv, &s));
            y[b].bsums[g] = (int16_t)s;
        }
    }
}

/* Q4_K/Q5_K: chunks 1 and 2 of each 128 values swapped (QUANT_K4_CHUNK), as in quant.c. */
AVX2 static void act256_k4_prep(const float *x, void *act, int64_t n)
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

/* ------------------------------------------------------------------ tiles ----- */

/* Prompt tiles, as in quant_avx512.c: tile_T(W, rb, A, ab, n, Y, ldy, R, T) gives
 * Y[t·ldy + r] = k_T(row r, input t) bit for bit for R rows × T inputs (compile-time
 * constants), each weight vector loaded and widened once for T inputs and each input vector
 * once for R rows, where the row kernels loaded both for every multiply-add. A 1 × 1 tile
 * (a single dot, decoding) is the row kernel itself. With 16 registers, tiles are small. */
#define TILE_MAX 8
/* A 1 × 1 tile (a single dot, decoding) is the row kernel K itself. */
#define TILE_AS_ROW(K)                                                                       \
    do {                                                                                     \
        if (R * T == 1) {                                                                    \
            Y[0] = K(W, A, n);                                                               \
            return;                                                                          \
        }                                                                                    \
    } while (0)
#define TILE_FOR(i, N) _Pragma("GCC unroll 8") for (int i = 0; i < (N); i++)

/* F32, F16, BF16: k_T keeps four accumulators, step j (8 values) of the whole 32-value
 * groups in accumulator j mod 4 and the end in the first. The tile runs four passes over each
 * chunk of its rows (TILE8_CHUNK), one per accumulator, so that only R·T accumulators are live
 * at a time. With XH (F16 weights: tile_f16x) the inputs are read from the activations'
 * binary16 copy (quant.h), which holds the same values as the f32 one in half the bytes: each
 * tile streams its 4 inputs from L2 once per 3 rows, and that traffic, not the arithmetic,
 * held the tile back. Matmat of 128 inputs, one thread, best of 4 on a Zen 3: 49-61 → 62-75
 * GFLOP/s over SmolLM2's and TinyLlama's six shapes; TinyLlama F16 pp128 25-28 → 28-29
 * tokens/s. QUANT_TYPE_F16_F32ACT (no binary16 copy) keeps tile_f16. */
#define TILE8_STEP(LDW, i, left, ACC)                                                        \
    do {                                                                                     \
        __m256 w[TILE_MAX];                                                                  \
        TILE_FOR(r, R) w[r] = LDW((const WT *)(const void *)(W + (size_t)r * rb) + (i), (left)); \
        TILE_FOR(t, T) {                                                                     \
            const uint8_t *at = A + (size_t)t * ab;                                          \
            const __m256 x = XH ? ld_f16((const uint16_t *)(const void *)(at + (size_t)n * 4) + (i), (left)) \
                                : ld_f32((const float *)(const void *)at + (i), (left));      \
            TILE_FOR(r, R) ACC[r][t] = _mm256_fmadd_ps(w[r], x, ACC[r][t]);                  \
        }                                                                                    \
    } while (0)
/* The tile's passes run over chunks of this many values: a 3 × 4 tile's rows and inputs
 * (44 KB at 2048 values of F16 weights) do not stay in L1 from one pass to the next, and every
 * pass fetched them from L2 again; a chunk's (11 KB) does. Each partial still takes its steps
 * in increasing order, so the results are unchanged. F16 prompts, AVX2 code only, one thread:
 * TinyLlama's shape 21-25 → 34-36 tokens/s, SmolLM2's 195-250 → 266-283 (256, 512 and 1024
 * values measured alike). */
#define TILE8_CHUNK 512
#define DEF_TILE8(NAME, K, WTYPE, LDW, XHALF)                                                \
    AVX2 INLINE static void NAME(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab,   \
                                 int64_t n, float *Y, int64_t ldy, const int R, const int T) \
    {                                                                                        \
        typedef WTYPE WT;                                                                    \
        const int XH = (XHALF);                                                              \
        TILE_AS_ROW(K);                                                                   \
        const int64_t e = n / 32 * 32;                                                       \
        __m256 s[4][TILE_MAX][TILE_MAX];                                                     \
        _Pragma("GCC unroll 4") for (int p = 0; p < 4; p++)                                  \
            TILE_FOR(r, R) TILE_FOR(t, T) s[p][r][t] = _mm256_setzero_ps();                  \
        for (int64_t c0 = 0; c0 < e; c0 += TILE8_CHUNK) {                                    \
            const int64_t c1 = e - c0 < TILE8_CHUNK ? e : c0 + TILE8_CHUNK;                  \
            _Pragma("GCC unroll 4") for (int p = 0; p < 4; p++)                              \
                for (int64_t i = c0 + 8 * p; i < c1; i += 32)                                \
                    TILE8_STEP(LDW, i, 8, s[p]);                                             \
        }                                                                                    \
        for (int64_t i = e; i < n; i += 8)                                                   \
            TILE8_STEP(LDW, i, n - i, s[0]);                                                 \
        TILE_FOR(r, R) TILE_FOR(t, T)                                                        \
            Y[t * ldy + r] = hsum8(_mm256_add_ps(_mm256_add_ps(s[0][r][t], s[1][r][t]),      \
                                                 _mm256_add_ps(s[2][r][t], s[3][r][t])));    \
    }

DEF_TILE8(tile_f32, k_f32, float, ld_f32, 0)
DEF_TILE8(tile_f16, k_f16, uint16_t, ld_f16, 0)
DEF_TILE8(tile_f16x, k_f16, uint16_t, ld_f16, 1)
DEF_TILE8(tile_bf16, k_bf16, uint16_t, ld_bf16, 0)

/* The 32-value formats (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL): as their row kernels, one
 * accumulator per value, block after block, the block's values WV(x) (signed bytes, or
 * unsigned for the formats with a min, DOT dot_ss or dot_us) unpacked once per row for T
 * inputs; the min term m · d_a · isum, when HAS_M, summed in float in block order. */
#define DEF_TILE32(NAME, K, BT, WV, DOT, HAS_M, MIN_OF)                                      \
    AVX2 INLINE static void NAME(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab,   \
                                 int64_t n, float *Y, int64_t ldy, const int R, const int T) \
    {                                                                                        \
        TILE_AS_ROW(K);                                                                   \
        __m256 acc[TILE_MAX][TILE_MAX];                                                      \
        float msum[TILE_MAX][TILE_MAX];                                                      \
        TILE_FOR(r, R) TILE_FOR(t, T) acc[r][t] = _mm256_setzero_ps(), msum[r][t] = 0.0f;    \
        for (int64_t b = 0; b < n / 32; b++) {                                               \
            __m256i w[TILE_MAX];                                                             \
            float dw[TILE_MAX], mw[TILE_MAX];                                                \
            TILE_FOR(r, R) {                                                                 \
                const BT *x = (const BT *)(const void *)(W + (size_t)r * rb) + b;            \
                w[r] = WV(x);                                                                \
                dw[r] = h2f(x->d);                                                           \
                mw[r] = HAS_M ? MIN_OF(x) : 0.0f;                                            \
            }                                                                                \
            TILE_FOR(t, T) {                                                                 \
                const quant_act32 *a = (const quant_act32 *)(const void *)(A + (size_t)t * ab) + b; \
                const __m256i v = _mm256_loadu_si256((const __m256i *)a->qs);                \
                TILE_FOR(r, R) {                                                             \
                    acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT(w[r], v)),            \
                                                _mm256_set1_ps(dw[r] * a->d), acc[r][t]);    \
                    if (HAS_M) msum[r][t] += mw[r] * a->d * (float)a->isum;                  \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
        TILE_FOR(r, R) TILE_FOR(t, T) Y[t * ldy + r] = hsum8(acc[r][t]) + msum[r][t];        \
    }

#define WV_Q8(x) _mm256_loadu_si256((const __m256i *)(x)->qs)
#define WV_Q4_0(x) _mm256_sub_epi8(nib32((x)->qs), _mm256_set1_epi8(8))
#define WV_Q5_0(x) _mm256_sub_epi8(five32((x)->qh, (x)->qs), _mm256_set1_epi8(16))
#define WV_Q4_1(x) nib32((x)->qs)
#define WV_Q5_1(x) five32((x)->qh, (x)->qs)
#define WV_IQ4NL(x) _mm256_shuffle_epi8(iq4_table(), nib32((x)->qs))
DEF_TILE32(tile_q8_0, k_q8_0, quant_block_q8_0, WV_Q8, dot_ss, 0, MIN_NONE)
DEF_TILE32(tile_q4_0, k_q4_0, quant_block_q4_0, WV_Q4_0, dot_ss, 0, MIN_NONE)
DEF_TILE32(tile_q4_1, k_q4_1, quant_block_q4_1, WV_Q4_1, dot_us, 1, MIN_M)
DEF_TILE32(tile_q5_0, k_q5_0, quant_block_q5_0, WV_Q5_0, dot_ss, 0, MIN_NONE)
DEF_TILE32(tile_q5_1, k_q5_1, quant_block_q5_1, WV_Q5_1, dot_us, 1, MIN_M)
DEF_TILE32(tile_iq4_nl, k_iq4_nl, quant_block_iq4_nl, WV_IQ4NL, dot_ss, 0, MIN_NONE)

/* Q4_K and Q5_K: dot_k45 with each 32-byte chunk of a row's quants unpacked once for T
 * inputs. The int32 sums are exact in any order; the float steps (one multiply-add each
 * for the scales and the mins per super-block) are dot_k45's, in its order. */
#define DEF_TILE_K45(NAME, K, BT, HAS_QH, QH)                                               \
    AVX2 INLINE static void NAME(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab,   \
                                 int64_t n, float *Y, int64_t ldy, const int R, const int T) \
    {                                                                                        \
        TILE_AS_ROW(K);                                                                   \
        const __m128i mdup = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15); \
        const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10);             \
        __m256 accf[TILE_MAX][TILE_MAX], accm[TILE_MAX][TILE_MAX];                           \
        TILE_FOR(r, R) TILE_FOR(t, T) accf[r][t] = accm[r][t] = _mm256_setzero_ps();        \
        for (int64_t b = 0; b < n / 256; b++) {                                              \
            const BT *x[TILE_MAX];                                                           \
            const quant_act256 *a[TILE_MAX];                                                 \
            uint8_t sc[TILE_MAX][16];                                                        \
            __m256i acc[TILE_MAX][TILE_MAX];                                                 \
            TILE_FOR(r, R) {                                                                 \
                x[r] = (const BT *)(const void *)(W + (size_t)r * rb) + b;                   \
                _mm_storeu_si128((__m128i *)sc[r], k4_unpack_b(x[r]->scales));               \
            }                                                                                \
            TILE_FOR(t, T) a[t] = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b; \
            TILE_FOR(r, R) TILE_FOR(t, T) acc[r][t] = _mm256_setzero_si256();                \
            for (int k = 0; k < 4; k++) {                                                    \
                __m256i lo[TILE_MAX], hi[TILE_MAX];                                          \
                TILE_FOR(r, R) {                                                             \
                    const __m256i q = _mm256_loadu_si256((const __m256i *)(x[r]->qs + 32 * k)); \
                    lo[r] = _mm256_and_si256(q, m4);                                         \
                    hi[r] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);                   \
                    if (HAS_QH) {                                                            \
                        const __m256i h = _mm256_srli_epi16(                                 \
                            _mm256_loadu_si256((const __m256i *)QH(x[r])), 2 * k);       \
                        lo[r] = _mm256_or_si256(lo[r], _mm256_and_si256(_mm256_slli_epi16(h, 4), b4)); \
                        hi[r] = _mm256_or_si256(hi[r], _mm256_and_si256(_mm256_slli_epi16(h, 3), b4)); \
                    }                                                                        \
                }                                                                            \
                TILE_FOR(t, T) {                                                             \
                    const __m256i alo = _mm256_loadu_si256(                                  \
                        (const __m256i *)(a[t]->qs + 32 * QUANT_K4_CHUNK(2 * k)));           \
                    const __m256i ahi = _mm256_loadu_si256(                                  \
                        (const __m256i *)(a[t]->qs + 32 * QUANT_K4_CHUNK(2 * k + 1)));       \
                    TILE_FOR(r, R) {                                                         \
                        acc[r][t] = _mm256_add_epi32(acc[r][t], _mm256_madd_epi16(           \
                            _mm256_maddubs_epi16(lo[r], alo), _mm256_set1_epi16(sc[r][2 * k]))); \
                        acc[r][t] = _mm256_add_epi32(acc[r][t], _mm256_madd_epi16(           \
                            _mm256_maddubs_epi16(hi[r], ahi), _mm256_set1_epi16(sc[r][2 * k + 1]))); \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
            TILE_FOR(r, R) {                                                                 \
                const __m256i md = _mm256_cvtepu8_epi16(                                     \
                    _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)sc[r]), mdup));        \
                TILE_FOR(t, T) {                                                             \
                    const __m256i mp = _mm256_madd_epi16(                                    \
                        _mm256_loadu_si256((const __m256i *)a[t]->bsums), md);               \
                    const float d = h2f(x[r]->d) * a[t]->d, dmin = h2f(x[r]->dmin) * a[t]->d; \
                    accf[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][t]), _mm256_set1_ps(d), accf[r][t]); \
                    accm[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mp), _mm256_set1_ps(dmin), accm[r][t]); \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
        TILE_FOR(r, R) TILE_FOR(t, T) Y[t * ldy + r] = hsum8(accf[r][t]) - hsum8(accm[r][t]); \
    }
#define K5_QH(x) ((x)->qh)
#define K4_QH(x) ((x)->qs) /* never read: Q4_K has no high bits (HAS_QH 0) */
DEF_TILE_K45(tile_q4_K, k_q4_K, quant_block_q4_K, 0, K4_QH)
DEF_TILE_K45(tile_q5_K, k_q5_K, quant_block_q5_K, 1, K5_QH)

/* Q6_K: k_q6_K with each row's 6-bit values of a 32-value chunk and their scales unpacked
 * once for T inputs (integer sums: exact in any order). */
AVX2 INLINE static void tile_q6_K(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab,
                                  int64_t n, float *Y, int64_t ldy, const int R, const int T)
{
    TILE_AS_ROW(k_q6_K);
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    __m256 accf[TILE_MAX][TILE_MAX];
    TILE_FOR(r, R) TILE_FOR(t, T) accf[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        const quant_block_q6_K *x[TILE_MAX];
        const quant_act256 *a[TILE_MAX];
        __m256i acc[TILE_MAX][TILE_MAX];
        TILE_FOR(r, R) x[r] = (const quant_block_q6_K *)(const void *)(W + (size_t)r * rb) + b;
        TILE_FOR(t, T) a[t] = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
        TILE_FOR(r, R) {
            const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[r]->scales));
            TILE_FOR(t, T) {
                const __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a[t]->bsums), sc16);
                acc[r][t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5));
            }
        }
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++) {
                __m256i e[TILE_MAX], s[TILE_MAX];
                TILE_FOR(r, R) {
                    const __m256i l = _mm256_loadu_si256((const __m256i *)(x[r]->ql + 64 * h + 32 * (j & 1)));
                    const __m256i hb = _mm256_loadu_si256((const __m256i *)(x[r]->qh + 32 * h));
                    const __m256i lv = j < 2 ? _mm256_and_si256(l, m4) : _mm256_and_si256(_mm256_srli_epi16(l, 4), m4);
                    const __m256i hv = j == 0 ? _mm256_slli_epi16(hb, 4) : j == 1 ? _mm256_slli_epi16(hb, 2)
                                     : j == 2 ? hb : _mm256_srli_epi16(hb, 2);
                    e[r] = _mm256_or_si256(lv, _mm256_and_si256(hv, m30));
                    s[r] = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)x[r]->scales),
                                                                 _mm_loadu_si128((const __m128i *)q6_pairs[4 * h + j])));
                }
                TILE_FOR(t, T) {
                    const __m256i v = _mm256_loadu_si256((const __m256i *)(a[t]->qs + 128 * h + 32 * j));
                    TILE_FOR(r, R) acc[r][t] = _mm256_add_epi32(acc[r][t],
                                                                _mm256_madd_epi16(_mm256_maddubs_epi16(e[r], v), s[r]));
                }
            }
        TILE_FOR(r, R) TILE_FOR(t, T)
            accf[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][t]),
                                         _mm256_set1_ps(h2f(x[r]->d) * a[t]->d), accf[r][t]);
    }
    TILE_FOR(r, R) TILE_FOR(t, T) Y[t * ldy + r] = hsum8(accf[r][t]);
}

/* Q3_K as a tile of one row × T inputs: each half's four quarters of values and their scale
 * vectors unpacked once for T inputs (8 registers; two rows would not fit), each input's
 * sums as in k_q3_K (integers, exact in any order, then the same float step). The same tile
 * for Q2_K measured no faster than its row kernel, as on AVX-512. */
AVX2 INLINE static void tile_q3_K(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab,
                                  int64_t n, float *Y, int64_t ldy, const int R, const int T)
{
    TILE_AS_ROW(k_q3_K);
    const quant_block_q3_K *x = (const quant_block_q3_K *)(const void *)W;
    __m256 accf[TILE_MAX];
    TILE_FOR(t, T) accf[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        const quant_act256 *a[TILE_MAX];
        __m256i acc[TILE_MAX];
        TILE_FOR(t, T) a[t] = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
        uint64_t lo, hi;
        quant_q3_scales_unpack(x[b].scales, &lo, &hi);
        const __m128i sc = _mm_sub_epi8(_mm_set_epi64x((long long)hi, (long long)lo), _mm_set1_epi8(32));
        const __m256i sc16 = _mm256_cvtepi8_epi16(sc);
        TILE_FOR(t, T) {
            const __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a[t]->bsums), sc16);
            acc[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 2));
        }
        const __m256i hm = _mm256_loadu_si256((const __m256i *)x[b].hmask), one = _mm256_set1_epi8(1);
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * h));
            __m256i e[4], s[4];
            for (int j = 0; j < 4; j++) {
                const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + j), one);
                e[j] = _mm256_or_si256(q2_quarter(q, j), _mm256_slli_epi16(hb, 2));
                s[j] = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc, _mm_loadu_si128((const __m128i *)q6_pairs[4 * h + j])));
            }
            TILE_FOR(t, T) for (int j = 0; j < 4; j++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(a[t]->qs + 128 * h + 32 * j));
                acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(_mm256_maddubs_epi16(e[j], v), s[j]));
            }
        }
        const float d = h2f(x[b].d);
        TILE_FOR(t, T) accf[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[t]), _mm256_set1_ps(d * a[t]->d), accf[t]);
    }
    TILE_FOR(t, T) Y[t * ldy] = hsum8(accf[t]);
}

/* IQ4_XS as a tile of one row × T inputs: a super-block's codebook values (8 registers)
 * looked up once for T inputs; k_iq4_xs's sums per input. */
AVX2 INLINE static void tile_iq4_xs(const uint8_t *W, size_t rb, const uint8_t *A, size_t ab,
                                    int64_t n, float *Y, int64_t ldy, const int R, const int T)
{
    TILE_AS_ROW(k_iq4_xs);
    const quant_block_iq4_xs *x = (const quant_block_iq4_xs *)(const void *)W;
    const __m256i kv = iq4_table(), m4 = _mm256_set1_epi8(0x0f);
    __m256 accf[TILE_MAX];
    TILE_FOR(t, T) accf[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        int16_t ls[8];
        quant_iq4xs_scales(&x[b], ls);
        __m256i acc[TILE_MAX];
        TILE_FOR(t, T) acc[t] = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * k));
            const __m256i wlo = _mm256_shuffle_epi8(kv, _mm256_and_si256(q, m4));
            const __m256i whi = _mm256_shuffle_epi8(kv, _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
            const __m256i ulo = _mm256_sign_epi8(wlo, wlo), uhi = _mm256_sign_epi8(whi, whi);
            const __m256i s = _mm256_setr_m128i(_mm_set1_epi16(ls[2 * k]), _mm_set1_epi16(ls[2 * k + 1]));
            TILE_FOR(t, T) {
                const int8_t *a = ((const quant_act256 *)(const void *)(A + (size_t)t * ab) + b)->qs + 64 * k;
                const __m256i a0 = _mm256_loadu_si256((const __m256i *)a);
                const __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + 32));
                const __m256i alo = _mm256_permute2x128_si256(a0, a1, 0x20);
                const __m256i ahi = _mm256_permute2x128_si256(a0, a1, 0x31);
                acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(_mm256_maddubs_epi16(ulo, _mm256_sign_epi8(alo, wlo)), s));
                acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(_mm256_maddubs_epi16(uhi, _mm256_sign_epi8(ahi, whi)), s));
            }
        }
        const float d = h2f(x[b].d);
        TILE_FOR(t, T) {
            const quant_act256 *a = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
            accf[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[t]), _mm256_set1_ps(d * a->d), accf[t]);
        }
    }
    TILE_FOR(t, T) Y[t * ldy] = hsum8(accf[t]);
}
/* ---------------------------------------------------------------------- table ----- */

#define DEF_ROW_FNS(T) QUANT_DEF_ROW_FNS(AVX2, T)

/* Tile shapes by measurement (NATTER_ISA=avx2 on Zen 5, one thread, 512 rows of 2048 against
 * 128 inputs; the row kernels before them in brackets): F16 3 × 4 75 GFLOP/s (3 × 3 73,
 * 2 × 4 61; [47]); Q8_0 2 × 4 81-95 GOP/s (2 × 3 88, 1 × 8 84; [60]); Q4_0 2 × 4 78 [46];
 * Q4_K 1 × 8 124 (1 × 4 110, 2 × 2 95; [58]), Q6_K 1 × 8 106 [51], Q5_K 1 × 8 111 [53];
 * Q3_K 1 × 4 70 [31-43]; IQ4_XS 1 × 4 70-84 [46]. */
QUANT_DEF_TILE_FNS(AVX2, f32, 3, 4, 1)
QUANT_DEF_TILE_FNS(AVX2, f16, 3, 4, 1)
QUANT_DEF_MM_FN(AVX2, f16x, 3, 4, mv_f16) /* F16 prompts: on the binary16 copy */

QUANT_DEF_F16H_FNS(AVX2, k_f16h, mm_f16x) /* F16 decoding: long rows on the binary16 copy */
QUANT_DEF_TILE_FNS(AVX2, bf16, 3, 4, 1)
QUANT_DEF_TILE_FNS(AVX2, q8_0, 2, 4, 1)
QUANT_DEF_TILE_FNS(AVX2, q4_0, 2, 4, 1)
QUANT_DEF_TILE_FNS(AVX2, q4_1, 2, 4, 1)
QUANT_DEF_TILE_FNS(AVX2, q5_0, 2, 4, 1)
QUANT_DEF_TILE_FNS(AVX2, q5_1, 2, 4, 1)
QUANT_DEF_TILE_FNS(AVX2, q4_K, 1, 8, 1)
QUANT_DEF_TILE_FNS(AVX2, q5_K, 1, 8, 1)
QUANT_DEF_TILE_FNS(AVX2, q6_K, 1, 8, 1)
DEF_ROW_FNS(q2_K)
QUANT_DEF_TILE_FNS(AVX2, q3_K, 1, 4, 1)
QUANT_DEF_TILE_FNS(AVX2, iq4_nl, 2, 4, 1)
QUANT_DEF_TILE_FNS(AVX2, iq4_xs, 1, 4, 1)

QUANT_DEF_IQ4X8_HELPERS(AVX2)

/* Q8_0X8 and IQ4_NLX8 (NL): the bytes flipped back to signed values (XOR 0x80), or the
 * nibbles looked up in the codebook (the low ones of piece L are values 4L.., the high ones
 * 16 + 4L..), and, as dot_ss, |w| × (a with w's sign) by VPMADDUBSW (pairs within int16:
 * |w| <= 128, |a| <= 127), VPMADDWD by ones into int32 per piece. */
AVX2 INLINE static void x8_tile_q8(const uint8_t *g, int64_t n, const uint8_t *A, size_t ab,
                                   float *Y, int64_t ldy, const int T, const int NL)
{
    const __m256i x80 = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    const __m256i tbl = iq4x8_table(0);
    const size_t gb = NL ? QUANT_X8_ROWS * sizeof(quant_block_iq4_nl) : QUANT_X8_ROWS * sizeof(quant_block_q8_0);
    __m256 acc[TILE_MAX];
    TILE_FOR(t, T) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; b++) {
        const uint8_t *blk = g + (size_t)b * gb;
        quant_prefetch(blk, gb);
        __m256i s[TILE_MAX];
        TILE_FOR(t, T) s[t] = _mm256_setzero_si256();
        _Pragma("GCC unroll 8") for (int L = 0; L < 8; L++) {
            __m256i w;
            if (NL) {
                __m256i lo, hi;
                iq4x8_piece(blk + 16 + 32 * (L & 3), tbl, &lo, &hi);
                w = L < 4 ? lo : hi;
            } else {
                w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * L)), x80);
            }
            const __m256i u = _mm256_sign_epi8(w, w);
            TILE_FOR(t, T) {
                const quant_act32 *a = (const quant_act32 *)(const void *)(A + (size_t)t * ab) + b;
                int32_t av;
                memcpy(&av, a->qs + 4 * L, 4);
                s[t] = _mm256_add_epi32(s[t], _mm256_madd_epi16(
                    _mm256_maddubs_epi16(u, _mm256_sign_epi8(_mm256_set1_epi32(av), w)), ones));
            }
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
        TILE_FOR(t, T) {
            const quant_act32 *a = (const quant_act32 *)(const void *)(A + (size_t)t * ab) + b;
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(d, _mm256_set1_ps(a->d)), acc[t]);
        }
    }
    TILE_FOR(t, T) _mm256_storeu_ps(Y + t * ldy, acc[t]);
}
QUANT_DEF_K4X8_HELPERS(AVX2)

/* Q4_KX8 and Q5_KX8 (QH, quant.h): as the AVX-512 tile, with VPMADDUBSW pair sums added in
 * int16 (exact: see below) and VPMADDWD by the row's scale in both int16 halves of its lane.
 * Tiles of 4 inputs: 1.2-1.5x tiles of 2 (matmat of 64 inputs, one thread). */
AVX2 INLINE static __m256i k4x8_word(__m256i bytes, int j) /* byte j of each lane, as 2 int16 */
{
    const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int)(0x80008000u | (unsigned)j * 0x10001u)),
                                         _mm256_setr_epi32(0, 0x40004, 0x80008, 0xc000c, 0, 0x40004, 0x80008, 0xc000c));
    return _mm256_shuffle_epi8(bytes, idx);
}

AVX2 INLINE static void x8_tile_k45(const uint8_t *g, int64_t n, const uint8_t *A, size_t ab,
                                    float *Y, int64_t ldy, const int T, const int QH)
{
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
            const __m256i s0 = k4x8_word(SC[k >> 1], (2 * k) & 3), s1 = k4x8_word(SC[k >> 1], (2 * k + 1) & 3);
            __m256i slo[TILE_MAX], shi[TILE_MAX];
            TILE_FOR(t, T) slo[t] = shi[t] = _mm256_setzero_si256();
            _Pragma("GCC unroll 8") for (int L = 0; L < 8; L++) {
                __m256i lo, hi;
                quant_prefetch_part(blk, gb, 8 * k + L, 32);
                k4x8_piece(blk, QH, k, L, &lo, &hi);
                TILE_FOR(t, T) {
                    const int8_t *aq = ((const quant_act256 *)(const void *)(A + (size_t)t * ab) + b)->qs;
                    int32_t al, ah;
                    memcpy(&al, aq + 32 * QUANT_K4_CHUNK(2 * k) + 4 * L, 4);
                    memcpy(&ah, aq + 32 * QUANT_K4_CHUNK(2 * k + 1) + 4 * L, 4);
                    slo[t] = _mm256_add_epi16(slo[t], _mm256_maddubs_epi16(lo, _mm256_set1_epi32(al)));
                    shi[t] = _mm256_add_epi16(shi[t], _mm256_maddubs_epi16(hi, _mm256_set1_epi32(ah)));
                }
                /* int16 sums of 4 pieces of 5-bit values (4 · 2·31·127 = 31496), 8 of 4-bit */
                if (L == 7 || (QH && L == 3)) {
                    TILE_FOR(t, T) {
                        isc[t] = _mm256_add_epi32(isc[t], _mm256_add_epi32(_mm256_madd_epi16(slo[t], s0),
                                                                           _mm256_madd_epi16(shi[t], s1)));
                        slo[t] = shi[t] = _mm256_setzero_si256();
                    }
                }
            }
        }
        TILE_FOR(t, T)
            acc[t] = k4x8_acc(acc[t], isc[t], blk, (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b, MW);
    }
    TILE_FOR(t, T) _mm256_storeu_ps(Y + t * ldy, acc[t]);
}

QUANT_DEF_Q6X8_HELPERS(AVX2)

/* Q6_KX8, Q3_KX8 and Q2_KX8 (K: 6, 3 or 2): as the AVX-512 tile, with the VPMADDUBSW pair
 * sums of a group's pieces added in int16 (two of Q6_K's: 2 · 2·63·127 = 32004; all four of
 * Q3_K's and Q2_K's: 4 · 2·7·127 = 7112: exact) and VPMADDWD by the group's scale in both
 * int16 halves of each row's lane. Q6_K's scales are read per group (16 registers). */
AVX2 INLINE static void x8_tile_kg(const uint8_t *g, int64_t n, const uint8_t *A, size_t ab,
                                   float *Y, int64_t ldy, const int T, const int K)
{
    const __m256i lo16 = _mm256_set1_epi32(0xffff);
    const size_t gb = QUANT_X8_KG_BYTES(K);
    const int PP = K == 6 ? 2 : 4; /* pieces per int16 sum */
    __m256 acc[TILE_MAX];
    TILE_FOR(t, T) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *blk = g + (size_t)b * gb;
        __m256i S[4], M[4], isc[TILE_MAX];
        if (K != 6) q23x8_scales(blk, K == 3, S, M);
        TILE_FOR(t, T) isc[t] = _mm256_setzero_si256();
        _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++)
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)
                _Pragma("GCC unroll 2") for (int gi = 0; gi < 2; gi++) {
                    const int G = 8 * h + 2 * j + gi;
                    const __m256i s32 = x8_byte32(K == 6 ? _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * (G / 4)))
                                                         : S[G / 4], G % 4);
                    const __m256i sw = _mm256_or_si256(_mm256_and_si256(s32, lo16), _mm256_slli_epi32(s32, 16));
                    _Pragma("GCC unroll 2") for (int L0 = 4 * gi; L0 < 4 * gi + 4; L0 += PP) {
                        __m256i s16[TILE_MAX];
                        TILE_FOR(t, T) s16[t] = _mm256_setzero_si256();
                        _Pragma("GCC unroll 4") for (int L = L0; L < L0 + PP; L++) {
                            if (j == 0 && (K != 3 || h == 0)) /* a piece's first read */
                                quant_prefetch_part(blk, gb, K == 3 ? L : 8 * h + L, K == 3 ? 8 : 16);
                            const __m256i q = K == 6 ? q6x8_piece(blk, h, j, L) : q23x8_piece(blk, K == 3, h, j, L);
                            TILE_FOR(t, T) {
                                const int8_t *aq = ((const quant_act256 *)(const void *)(A + (size_t)t * ab) + b)->qs;
                                int32_t av;
                                memcpy(&av, aq + 128 * h + 32 * j + 4 * L, 4);
                                s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(q, _mm256_set1_epi32(av)));
                            }
                        }
                        TILE_FOR(t, T) isc[t] = _mm256_add_epi32(isc[t], _mm256_madd_epi16(s16[t], sw));
                    }
                }
        if (K == 6) q6x8_scales(blk, S);
        TILE_FOR(t, T) {
            const quant_act256 *a = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
            acc[t] = K == 6 ? q6x8_acc(acc[t], isc[t], blk, a, S) : q23x8_acc(acc[t], isc[t], blk, K == 3, a, S, M);
        }
    }
    TILE_FOR(t, T) _mm256_storeu_ps(Y + t * ldy, acc[t]);
}
QUANT_DEF_X8_FNS(AVX2, q2_kx8, QUANT_X8_TILE_Q2K, 4)
QUANT_DEF_X8_FNS(AVX2, q3_kx8, QUANT_X8_TILE_Q3K, 4)

QUANT_DEF_X8_45_HELPERS(AVX2)

/* Q4_0X8, Q4_1X8, Q5_0X8, Q5_1X8 (quant.h): a group of 8 rows × T inputs, int32 lane r of
 * every sum row r. Per 32-byte piece of a block (x8_45_piece), its low and high values against
 * each input's broadcast 4-byte activation groups (VPMADDUBSW), the pair sums added in int16
 * and made int32 by VPMADDWD by ones: after all 4 pieces for 4-bit values (8 · 2·15·127 =
 * 30480), after each piece for 5-bit ones (2 · 2·31·127 = 15748), so the sums are exact. The
 * offset (-8 or -16·isum without mins) in int32, the mins' term by x8_45_acc. Pieces in the
 * outer loop keep 16 registers enough for T = 4. */
AVX2 INLINE static void x8_tile_45(const uint8_t *g, int64_t n, const uint8_t *A, size_t ab,
                                   float *Y, int64_t ldy, const int T, const int HM, const int HQ)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const int off = HM ? 0 : HQ ? 16 : 8;
    __m256 acc[TILE_MAX];
    TILE_FOR(t, T) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; b++) {
        const uint8_t *blk = g + (size_t)b * QUANT_X8_45_BYTES(HM, HQ);
        quant_prefetch(blk, QUANT_X8_45_BYTES(HM, HQ));
        __m256i s[TILE_MAX], s16[TILE_MAX];
        TILE_FOR(t, T) s[t] = s16[t] = _mm256_setzero_si256();
        _Pragma("GCC unroll 4") for (int L = 0; L < 4; L++) {
            __m256i lo, hi;
            x8_45_piece(blk, HM, HQ, L, &lo, &hi);
            TILE_FOR(t, T) {
                const quant_act32 *a = (const quant_act32 *)(const void *)(A + (size_t)t * ab) + b;
                int32_t al, ah;
                memcpy(&al, a->qs + 4 * L, 4);
                memcpy(&ah, a->qs + 16 + 4 * L, 4);
                s16[t] = _mm256_add_epi16(s16[t], _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(al)),
                                                                   _mm256_maddubs_epi16(hi, _mm256_set1_epi32(ah))));
                if (HQ || L == 3) {
                    s[t] = _mm256_add_epi32(s[t], _mm256_madd_epi16(s16[t], ones));
                    s16[t] = _mm256_setzero_si256();
                }
            }
        }
        TILE_FOR(t, T) {
            const quant_act32 *a = (const quant_act32 *)(const void *)(A + (size_t)t * ab) + b;
            acc[t] = x8_45_acc(acc[t], _mm256_sub_epi32(s[t], _mm256_set1_epi32(off * a->isum)), blk, HM, a);
        }
    }
    TILE_FOR(t, T) _mm256_storeu_ps(Y + t * ldy, acc[t]);
}
#define X8_TILE_Q40(g, n, A, ab, Y, ldy, T) x8_tile_45(g, n, A, ab, Y, ldy, T, 0, 0)
#define X8_TILE_Q41(g, n, A, ab, Y, ldy, T) x8_tile_45(g, n, A, ab, Y, ldy, T, 1, 0)
#define X8_TILE_Q50(g, n, A, ab, Y, ldy, T) x8_tile_45(g, n, A, ab, Y, ldy, T, 0, 1)
#define X8_TILE_Q51(g, n, A, ab, Y, ldy, T) x8_tile_45(g, n, A, ab, Y, ldy, T, 1, 1)

QUANT_DEF_X8_FNS(AVX2, q4_0x8, X8_TILE_Q40, 4)
#define X8_TILE_Q80(g, n, A, ab, Y, ldy, T) x8_tile_q8(g, n, A, ab, Y, ldy, T, 0)
#define X8_TILE_NL(g, n, A, ab, Y, ldy, T) x8_tile_q8(g, n, A, ab, Y, ldy, T, 1)
QUANT_DEF_X8_MM(AVX2, q8_0x8_tiles, X8_TILE_Q80, 4)
QUANT_DEF_X8_FNS(AVX2, iq4_nlx8, X8_TILE_NL, 4)

/* Decoding Q8_0X8: G (1..3) groups of 8 rows side by side against one input, each group's
 * steps exactly x8_tile_q8's with one input (the same bits). Why: one group after another is
 * one forward stream, and one stream reads 15-18 GB/s from memory on a Zen 3 where three side
 * by side read 23-26 (the F16X32 decoding's finding, quant.h). Measured on TinyLlama's Q8_0
 * shape, one thread, eight alternated pairs: 15.0 -> 15.9 tokens/s on average (single runs
 * vary by 15% here), two threads no different. Only Q8_0 gains: the same interleaving made
 * IQ4_NL, Q4_0 and Q4_K decode 15-40% slower here (their 4-bit unpacking, not the memory,
 * sets their pace), so they keep the tile's single stream. */
AVX2 INLINE static void x8_mv_q8(const uint8_t *g0, size_t gstride, int64_t n, const uint8_t *A,
                                 float *y, const int G)
{
    const __m256i x80 = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    const size_t gb = QUANT_X8_ROWS * sizeof(quant_block_q8_0);
    __m256 acc[3];
    TILE_FOR(q, G) acc[q] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; b++) {
        const quant_act32 *a = (const quant_act32 *)(const void *)A + b;
        const uint8_t *blk[3];
        __m256i s[3];
        TILE_FOR(q, G) {
            blk[q] = g0 + (size_t)q * gstride + (size_t)b * gb;
            quant_prefetch(blk[q], gb);
            s[q] = _mm256_setzero_si256();
        }
        _Pragma("GCC unroll 8") for (int L = 0; L < 8; L++) {
            int32_t av;
            memcpy(&av, a->qs + 4 * L, 4);
            const __m256i x = _mm256_set1_epi32(av);
            TILE_FOR(q, G) {
                const __m256i w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk[q] + 16 + 32 * L)), x80);
                s[q] = _mm256_add_epi32(s[q], _mm256_madd_epi16(
                    _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)), ones));
            }
        }
        const __m256 da = _mm256_set1_ps(a->d);
        TILE_FOR(q, G) {
            const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk[q]));
            acc[q] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[q]), _mm256_mul_ps(d, da), acc[q]);
        }
    }
    TILE_FOR(q, G) _mm256_storeu_ps(y + QUANT_X8_ROWS * q, acc[q]);
}
AVX2 static void mv_q8_0x8(const void *W, size_t row_bytes, int64_t r0, int64_t r1, const void *act,
                           int64_t n, float *y)
{
    const size_t gs = QUANT_X8_ROWS * row_bytes;
    int64_t r = r0;
    for (; r + 3 * QUANT_X8_ROWS <= r1; r += 3 * QUANT_X8_ROWS)
        x8_mv_q8((const uint8_t *)W + (size_t)r * row_bytes, gs, n, act, y + r, 3);
    if (r1 - r == 2 * QUANT_X8_ROWS)
        x8_mv_q8((const uint8_t *)W + (size_t)r * row_bytes, gs, n, act, y + r, 2);
    else if (r1 > r)
        x8_mv_q8((const uint8_t *)W + (size_t)r * row_bytes, gs, n, act, y + r, 1);
}

AVX2 static void mm_q8_0x8(const void *W, size_t row_bytes, int64_t r0, int64_t r1, const void *acts,
                           size_t ab, int64_t nt, int64_t n, float *Y, int64_t ldy)
{
    if (nt == 1)
        mv_q8_0x8(W, row_bytes, r0, r1, acts, n, Y);
    else
        mm_q8_0x8_tiles(W, row_bytes, r0, r1, acts, ab, nt, n, Y, ldy);
}

/* IQ4_XSX8 (quant.h): as the AVX-512 tile with signed codebook values, |w| × (a with w's
 * sign) by VPMADDUBSW (pair sums <= 2·127·127, within int16) and VPMADDWD by the row's
 * sub-block scale in both int16 halves of its lane (products <= 32258·32). */
AVX2 INLINE static void x8_tile_iq4xs(const uint8_t *g, int64_t n, const uint8_t *A, size_t ab,
                                      float *Y, int64_t ldy, const int T)
{
    const __m256i tbl = iq4x8_table(0), m16 = _mm256_set1_epi32(0xffff);
    __m256 acc[TILE_MAX];
    TILE_FOR(t, T) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *blk = g + (size_t)b * QUANT_X8_ROWS * sizeof(quant_block_iq4_xs);
        __m256i SL, SH, isc[TILE_MAX];
        iq4xsx8_words(blk, &SL, &SH);
        TILE_FOR(t, T) isc[t] = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
            const __m256i sc32 = iq4xsx8_scale(SL, SH, j);
            const __m256i sc = _mm256_or_si256(_mm256_and_si256(sc32, m16), _mm256_slli_epi32(sc32, 16));
            _Pragma("GCC unroll 4") for (int L = 0; L < 4; L++) {
                __m256i lo, hi;
                quant_prefetch_part(blk, QUANT_X8_ROWS * sizeof(quant_block_iq4_xs), 4 * j + L, 32);
                iq4x8_piece(blk + 64 + 32 * (4 * j + L), tbl, &lo, &hi);
                const __m256i ulo = _mm256_sign_epi8(lo, lo), uhi = _mm256_sign_epi8(hi, hi);
                TILE_FOR(t, T) {
                    const int8_t *aq = ((const quant_act256 *)(const void *)(A + (size_t)t * ab) + b)->qs;
                    int32_t al, ah;
                    memcpy(&al, aq + 32 * j + 4 * L, 4);
                    memcpy(&ah, aq + 32 * j + 16 + 4 * L, 4);
                    const __m256i plo = _mm256_maddubs_epi16(ulo, _mm256_sign_epi8(_mm256_set1_epi32(al), lo));
                    const __m256i phi = _mm256_maddubs_epi16(uhi, _mm256_sign_epi8(_mm256_set1_epi32(ah), hi));
                    isc[t] = _mm256_add_epi32(isc[t], _mm256_add_epi32(_mm256_madd_epi16(plo, sc),
                                                                       _mm256_madd_epi16(phi, sc)));
                }
            }
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
        TILE_FOR(t, T) {
            const quant_act256 *a = (const quant_act256 *)(const void *)(A + (size_t)t * ab) + b;
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isc[t]), _mm256_mul_ps(d, _mm256_set1_ps(a->d)), acc[t]);
        }
    }
    TILE_FOR(t, T) _mm256_storeu_ps(Y + t * ldy, acc[t]);
}
QUANT_DEF_X8_FNS(AVX2, iq4_xsx8, x8_tile_iq4xs, 4)
#define X8_TILE_K4(g, n, A, ab, Y, ldy, T) x8_tile_k45(g, n, A, ab, Y, ldy, T, 0)
#define X8_TILE_K5(g, n, A, ab, Y, ldy, T) x8_tile_k45(g, n, A, ab, Y, ldy, T, 1)
QUANT_DEF_X8_FNS(AVX2, q4_kx8, X8_TILE_K4, 4)
QUANT_DEF_X8_FNS(AVX2, q5_kx8, X8_TILE_K5, 4)
QUANT_DEF_X8_FNS(AVX2, q6_kx8, QUANT_X8_TILE_Q6K, 4)
QUANT_DEF_X8_FNS(AVX2, q4_1x8, X8_TILE_Q41, 4)
QUANT_DEF_X8_FNS(AVX2, q5_0x8, X8_TILE_Q50, 4)
QUANT_DEF_X8_FNS(AVX2, q5_1x8, X8_TILE_Q51, 4)

/* F16X32 and BF16X32 (quant.h): lane i of a vector is row i of the group, one fmaf chain per
 * row and input; LD widens 8 halves (ld_f16, ld_bf16).
 * Decoding (mv): three groups at a time, each step a 64-byte line of each and twelve chains
 * (one group's four chains, one stream: 15-18 GB/s from memory on a Zen 3; two groups 20-24,
 * three 23-26, four spill registers).
 * Prompts (tile): 16 rows (half a group, g) × T inputs (T <= 6): two weight vectors and T
 * broadcasts a step for 2·T multiply-adds, all 2·T chains in registers for the whole row.
 * One thread, 128 inputs, SmolLM2's and TinyLlama's six shapes on a Zen 3: F16 48-70 GFLOP/s
 * in the row layout's tiles, 79-88 here; decoding 256 MB from memory 17 -> 26 GB/s. */
#define DEF_X32_FNS(NAME, LD)                                                                \
    AVX2 INLINE static void mv_groups_##NAME(const uint16_t *g0, size_t gb, const float *x,  \
                                             int64_t n, float *y, bool pf, const int G)      \
    {                                                                                        \
        __m256 a[3][4];                                                                      \
        const uint16_t *g[3];                                                                \
        TILE_FOR(q, G) {                                                                     \
            g[q] = (const uint16_t *)(const void *)((const uint8_t *)g0 + (size_t)q * gb);   \
            TILE_FOR(j, 4) a[q][j] = _mm256_setzero_ps();                                    \
        }                                                                                    \
        for (int64_t k = 0; k < n; k++) {                                                    \
            const __m256 xv = _mm256_broadcast_ss(x + k);                                    \
            TILE_FOR(q, G) {                                                                 \
                const uint16_t *h = g[q] + k * QUANT_F16X_ROWS;                              \
                if (pf) quant_prefetch(h, 64);                                               \
                TILE_FOR(j, 4) a[q][j] = _mm256_fmadd_ps(LD(h + 8 * j, 8), xv, a[q][j]);     \
            }                                                                                \
        }                                                                                    \
        TILE_FOR(q, G) TILE_FOR(j, 4) _mm256_storeu_ps(y + QUANT_F16X_ROWS * q + 8 * j, a[q][j]); \
    }                                                                                        \
    AVX2 static void mv_##NAME(const void *W, size_t row_bytes, int64_t r0, int64_t r1,      \
                               const void *act, int64_t n, float *y)                         \
    {                                                                                        \
        const size_t gb = QUANT_F16X_ROWS * row_bytes;                                       \
        const bool pf = float_prefetch();                                                    \
        int64_t r = r0;                                                                      \
        for (; r + 3 * QUANT_F16X_ROWS <= r1; r += 3 * QUANT_F16X_ROWS)                      \
            mv_groups_##NAME((const uint16_t *)(const void *)((const uint8_t *)W + (size_t)r * row_bytes), \
                             gb, act, n, y + r, pf, 3);                                      \
        if (r1 - r == 2 * QUANT_F16X_ROWS)                                                   \
            mv_groups_##NAME((const uint16_t *)(const void *)((const uint8_t *)W + (size_t)r * row_bytes), \
                             gb, act, n, y + r, pf, 2);                                      \
        else if (r1 > r)                                                                     \
            mv_groups_##NAME((const uint16_t *)(const void *)((const uint8_t *)W + (size_t)r * row_bytes), \
                             gb, act, n, y + r, pf, 1);                                      \
    }                                                                                        \
    AVX2 INLINE static void tile_##NAME(const uint16_t *g, int64_t n, const uint8_t *A,      \
                                        size_t ab, float *Y, int64_t ldy, bool pf, const int T) \
    {                                                                                        \
        __m256 a[6][2];                                                                      \
        const float *x[6];                                                                   \
        TILE_FOR(t, T) {                                                                     \
            a[t][0] = a[t][1] = _mm256_setzero_ps();                                         \
            x[t] = (const float *)(const void *)(A + (size_t)t * ab);                        \
        }                                                                                    \
        for (int64_t k = 0; k < n; k++, g += QUANT_F16X_ROWS) {                              \
            if (pf) quant_prefetch(g, 64);                                                   \
            const __m256 w0 = LD(g, 8), w1 = LD(g + 8, 8);                                   \
            TILE_FOR(t, T) {                                                                 \
                const __m256 xv = _mm256_broadcast_ss(x[t] + k);                             \
                a[t][0] = _mm256_fmadd_ps(w0, xv, a[t][0]);                                  \
                a[t][1] = _mm256_fmadd_ps(w1, xv, a[t][1]);                                  \
            }                                                                                \
        }                                                                                    \
        TILE_FOR(t, T) {                                                                     \
            _mm256_storeu_ps(Y + t * ldy, a[t][0]);                                          \
            _mm256_storeu_ps(Y + t * ldy + 8, a[t][1]);                                      \
        }                                                                                    \
    }                                                                                        \
    AVX2 static void mm_##NAME(const void *W, size_t row_bytes, int64_t r0, int64_t r1,      \
                               const void *acts, size_t ab, int64_t nt, int64_t n, float *Y, \
                               int64_t ldy)                                                  \
    {                                                                                        \
        if (nt == 1) {                                                                       \
            mv_##NAME(W, row_bytes, r0, r1, acts, n, Y);                                     \
            return;                                                                          \
        }                                                                                    \
        const uint8_t *A = acts;                                                             \
        for (int64_t r = r0; r < r1; r += QUANT_F16X_ROWS)                                   \
            for (int h = 0; h < QUANT_F16X_ROWS; h += 16) {                                  \
                const uint16_t *g = (const uint16_t *)(const void *)((const uint8_t *)W + (size_t)r * row_bytes) + h; \
                float *y = Y + r + h;                                                        \
                for (int64_t t = 0, T; t < nt; t += T) {                                     \
                    /* 6 inputs a tile, but 4 + 4 (or 4 + 3) for the last 8 (7): a tile of    \
                     * 2 inputs has 4 chains, too few to hide the FMA's latency */           \
                    T = nt - t == 8 || nt - t == 7 ? 4 : nt - t < 6 ? nt - t : 6;             \
                    const uint8_t *a = A + (size_t)t * ab;                                   \
                    const bool pf = h == 0 && t == 0; /* the group's first pass */           \
                    switch (T) {                                                             \
                    case 1: tile_##NAME(g, n, a, ab, y + t * ldy, ldy, pf, 1); break;        \
                    case 2: tile_##NAME(g, n, a, ab, y + t * ldy, ldy, pf, 2); break;        \
                    case 3: tile_##NAME(g, n, a, ab, y + t * ldy, ldy, pf, 3); break;        \
                    case 4: tile_##NAME(g, n, a, ab, y + t * ldy, ldy, pf, 4); break;        \
                    case 5: tile_##NAME(g, n, a, ab, y + t * ldy, ldy, pf, 5); break;        \
                    default: tile_##NAME(g, n, a, ab, y + t * ldy, ldy, pf, 6); break;       \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
    }
DEF_X32_FNS(f16x32, ld_f16)
DEF_X32_FNS(bf16x32, ld_bf16)

static const quant_kernels avx2_kernels[QUANT_TYPE_COUNT_] = {
    [NT_TYPE_F32] = {NULL, NULL, dot_f32, mv_f32, mm_f32},
    [NT_TYPE_F16] = {deq_f16, act_f16_prep, dot_f16, mv_f16h, mm_f16h},
    [QUANT_TYPE_F16_F32ACT] = {deq_f16, NULL, dot_f16, mv_f16, mm_f16},
    [NT_TYPE_BF16] = {deq_bf16, NULL, dot_bf16, mv_bf16, mm_bf16},
    [NT_TYPE_Q8_0] = {deq_q8_0, act32_prep, dot_q8_0, mv_q8_0, mm_q8_0},
    [NT_TYPE_Q4_0] = {NULL, act32_prep, dot_q4_0, mv_q4_0, mm_q4_0},
    [NT_TYPE_Q4_1] = {NULL, act32_prep, dot_q4_1, mv_q4_1, mm_q4_1},
    [NT_TYPE_Q5_0] = {NULL, act32_prep, dot_q5_0, mv_q5_0, mm_q5_0},
    [NT_TYPE_Q5_1] = {NULL, act32_prep, dot_q5_1, mv_q5_1, mm_q5_1},
    [NT_TYPE_Q4_K] = {NULL, act256_k4_prep, dot_q4_K, mv_q4_K, mm_q4_K},
    [NT_TYPE_Q5_K] = {NULL, act256_k4_prep, dot_q5_K, mv_q5_K, mm_q5_K},
    [NT_TYPE_Q6_K] = {NULL, act256_prep, dot_q6_K, mv_q6_K, mm_q6_K},
    [NT_TYPE_Q2_K] = {NULL, act256_prep, dot_q2_K, mv_q2_K, mm_q2_K},
    [NT_TYPE_Q3_K] = {NULL, act256_prep, dot_q3_K, mv_q3_K, mm_q3_K},
    [NT_TYPE_IQ4_NL] = {NULL, act32_prep, dot_iq4_nl, mv_iq4_nl, mm_iq4_nl},
    [NT_TYPE_IQ4_XS] = {NULL, act256_prep, dot_iq4_xs, mv_iq4_xs, mm_iq4_xs},
    QUANT_X8_KERNELS
    [QUANT_TYPE_F16X32] = {NULL, act_f16_prep, NULL, mv_f16x32, mm_f16x32},
    [QUANT_TYPE_BF16X32] = {NULL, NULL, NULL, mv_bf16x32, mm_bf16x32},
    [QUANT_TYPE_F16X32_F32ACT] = {NULL, NULL, NULL, mv_f16x32, mm_f16x32},
};

const quant_kernels *nt_quant_avx2_kernels(int type)
{
    static const quant_kernels none = {NULL, NULL, NULL, NULL, NULL};
    return type >= 0 && type < QUANT_TYPE_COUNT_ ? &avx2_kernels[type] : &none;
}

#else /* not x86-64 GCC/Clang */

bool nt_quant_avx2_usable(void)
{
    return false;
}

const quant_kernels *nt_quant_avx2_kernels(int type)
{
    static const quant_kernels none = {NULL, NULL, NULL, NULL, NULL};
    (void)type;
    return &none;
}

float nt_quant_avx2_dot_f32(const float *a, const float *b, int64_t n)
{
    (void)a, (void)b, (void)n;
    return 0.0f;
}

double nt_quant_avx2_exp_shifted(float *v, int64_t n, float scale)
{
    (void)v, (void)n, (void)scale;
    return 0.0;
}

void nt_quant_avx2_swiglu(float *g, const float *u, int64_t n)
{
    (void)g, (void)u, (void)n;
}

void nt_quant_avx2_geglu(float *g, const float *u, int64_t n)
{
    (void)g, (void)u, (void)n;
}

#endif
