/* Tests for engine/quant.c and engine/quant_avx512.c: half/bfloat conversions, exact
 * dequantization against ggml's own output (fixtures), and every dot-product kernel (scalar
 * and AVX-512, f32 path and int8-activation path) against a double-precision reference with
 * error bounds derived below. */
#include "natter.h"
#include "quant.h"
#include "t.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------- helpers ----- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_unit(void) /* uniform in [-1, 1) */
{
    return (float)((double)(rng_next() >> 11) * 0x1p-52 - 1.0);
}

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Where the f16 scale (d) and min/dmin fields sit in each block type (-1: none), and the
 * largest multiple of the min field a value's offset can be (1 for Q4_1/Q5_1's m, the
 * largest sub-block min of the K formats: 63 for 6-bit mins, 15 for Q2_K's 4-bit ones). */
typedef struct qtype {
    int type;
    const char *file; /* fixture name part */
    int off_d, off_m;
    double max_m;
} qtype;

static const qtype qtypes[] = {
    {NT_TYPE_F32, NULL, -1, -1, 0},     {NT_TYPE_F16, "f16", -1, -1, 0},
    {NT_TYPE_BF16, "bf16", -1, -1, 0},  {NT_TYPE_Q8_0, "q8_0", 0, -1, 0},
    {NT_TYPE_Q4_0, "q4_0", 0, -1, 0},   {NT_TYPE_Q4_1, "q4_1", 0, 2, 1},
    {NT_TYPE_Q5_0, "q5_0", 0, -1, 0},   {NT_TYPE_Q5_1, "q5_1", 0, 2, 1},
    {NT_TYPE_Q4_K, "q4_k", 0, 2, 63},   {NT_TYPE_Q5_K, "q5_k", 0, 2, 63},
    {NT_TYPE_Q6_K, "q6_k", 208, -1, 0}, {NT_TYPE_Q2_K, "q2_k", 80, 82, 15},
    {NT_TYPE_Q3_K, "q3_k", 108, -1, 0}, {NT_TYPE_IQ4_NL, "iq4_nl", 0, -1, 0},
    {NT_TYPE_IQ4_XS, "iq4_xs", 0, -1, 0}, {NT_TYPE_MXFP4, NULL, -1, -1, 0},
};
#define N_QTYPES (sizeof qtypes / sizeof qtypes[0])

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static uint16_t get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* A random row of n values: random quant bytes (every bit pattern of the packed values
 * occurs, including -128 in Q8_0), with scales set to finite random halves. */
static void fill_row(const qtype *t, uint8_t *row, int64_t n)
{
    size_t bytes = nt_type_row_bytes(t->type, n);
    for (size_t i = 0; i < bytes; i++) row[i] = (uint8_t)rng_next();
    if (t->type == NT_TYPE_F32) {
        for (int64_t i = 0; i < n; i++) {
            float f = rng_unit();
            memcpy(row + 4 * i, &f, 4);
        }
    } else if (t->type == NT_TYPE_F16 || t->type == NT_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++)
            put16(row + 2 * i, t->type == NT_TYPE_F16 ? nt_quant_f32_to_f16(rng_unit())
                                                      : nt_quant_f32_to_bf16(rng_unit()));
    } else if (t->type == NT_TYPE_MXFP4) {
        /* scales 2^-8 .. 2^3 (the whole e8m0 range is checked against ggml's table) */
        for (size_t b = 0; b < bytes / 17; b++) row[b * 17] = (uint8_t)(119 + rng_next() % 12);
    } else {
        size_t bb = nt_type_block_bytes(t->type);
        for (size_t b = 0; b < bytes / bb; b++) {
            put16(row + b * bb + (size_t)t->off_d, nt_quant_f32_to_f16(0.01f * rng_unit()));
            if (t->off_m >= 0)
                put16(row + b * bb + (size_t)t->off_m, nt_quant_f32_to_f16(0.01f * rng_unit()));
        }
    }
}

/* Largest possible |offset| term per value of block b (the min of Q4_1/Q5_1, dmin·63 of the
 * K formats, dmin·15 of Q2_K): these parts cancel against d·q in the dot kernels, so rounding
 * errors scale with them too. */
static double off_mag(const qtype *t, const uint8_t *row, int64_t b)
{
    if (t->off_m < 0) return 0.0;
    double m = fabs((double)nt_quant_f16_to_f32(get16(row + (size_t)b * nt_type_block_bytes(t->type) + (size_t)t->off_m)));
    return t->max_m * m;
}

/* The activations the int8 path really multiplies with (decoded from the buffer), and the
 * block scales d_b, for the error bounds. For F32/BF16 that is x itself; for F16 the buffer's
 * f32 copy of x rounded to binary16, with 2^-10·|x| + 2^-24 standing in for d_b (so that d_b/2
 * is binary16's rounding bound). */
static void act_decode(int type, const void *act, const float *x, int64_t n, float *xh,
                       float *dblk)
{
    /* values per activation block, told by the buffer's size: 1 for the f32 copy, 32 for
     * quant_act32 blocks, 256 for quant_act256 ones (quant.h) */
    size_t ab = nt_quant_act_bytes(type, n);
    int64_t bl = ab == (size_t)n * 4 ? 1 : ab == (size_t)(n / 32) * sizeof(quant_act32) ? 32 : 256;
    for (int64_t i = 0; i < n; i++) {
        if (type == NT_TYPE_F16) {
            xh[i] = ((const float *)act)[i];
            dblk[i] = 0x1p-10f * fabsf(x[i]) + 0x1p-24f;
        } else if (bl == 1) {
            xh[i] = x[i];
            dblk[i] = 0.0f;
        } else if (bl == 32) {
            const quant_act32 *a = (const quant_act32 *)act + i / 32;
            xh[i] = a->d * (float)a->qs[i % 32];
            dblk[i] = a->d;
        } else {
            const quant_act256 *a = (const quant_act256 *)act + i / 256;
            int64_t v = i % 256, pos = v;
            if (type == NT_TYPE_Q4_K || type == NT_TYPE_Q5_K)
                pos = 32 * QUANT_K4_CHUNK(v / 32) + v % 32;
            xh[i] = a->d * (float)a->qs[pos];
            dblk[i] = a->d;
        }
    }
}

static const char *tname(int type)
{
    return nt_type_name(type) ? nt_type_name(type) : "?";
}

/* ------------------------------------------------------------ conversion tests ----- */

static void test_f16_all_values(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536 && bad < 5; h++) {
        float f = nt_quant_f16_to_f32((uint16_t)h);
        uint32_t exp = (h >> 10) & 31, mant = h & 1023;
        double sign = (h & 0x8000) ? -1.0 : 1.0;
        if (exp == 31 && mant) {
            /* NaN: stays NaN, keeps sign and payload, comes out quiet */
            if (!isnan(f) || (f2u(f) >> 31) != (h >> 15) || !(f2u(f) & 0x400000) ||
                ((f2u(f) >> 13) & 511) != (mant & 511)) {
                t_fail(__FILE__, __LINE__, "f16 %04x -> %08x", h, f2u(f));
                bad++;
            }
            continue;
        }
        double want = exp == 31 ? sign * INFINITY
                      : exp == 0 ? sign * ldexp((double)mant, -24)
                                 : sign * ldexp(1.0 + mant / 1024.0, (int)exp - 15);
        if ((double)f != want || (signbit(f) != 0) != ((h >> 15) != 0)) {
            t_fail(__FILE__, __LINE__, "f16 %04x -> %.9g, want %.9g", h, f, want);
            bad++;
        }
        if (nt_quant_f32_to_f16(f) != h) {
            t_fail(__FILE__, __LINE__, "f16 %04x round trip gives %04x", h, nt_quant_f32_to_f16(f));
            bad++;
        }
    }
    /* a few named values */
    T_CHECK(nt_quant_f16_to_f32(0x0001) == 0x1p-24f);  /* smallest subnormal */
    T_CHECK(nt_quant_f16_to_f32(0x03ff) == 1023 * 0x1p-24f);
    T_CHECK(nt_quant_f16_to_f32(0x0400) == 0x1p-14f);  /* smallest normal */
    T_CHECK(nt_quant_f16_to_f32(0x7bff) == 65504.0f);
    T_CHECK(isinf(nt_quant_f16_to_f32(0xfc00)) && nt_quant_f16_to_f32(0xfc00) < 0);
    T_CHECK(f2u(nt_quant_f16_to_f32(0x8000)) == 0x80000000u); /* -0 */

    /* The SIMD dequantizer (F16C) must agree bit for bit on all 65536 patterns. */
    uint16_t *h = malloc(65536 * 2);
    float *a = malloc(65536 * 4), *b = malloc(65536 * 4);
    T_ASSERT(h && a && b);
    for (uint32_t i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    nt_quant_dequant_row_isa(QUANT_ISA_SCALAR, NT_TYPE_F16, h, a, 65536);
    for (int isa = 1; isa < QUANT_ISA_COUNT_; isa++) {
        if (!nt_quant_isa_available(isa)) continue;
        nt_quant_dequant_row_isa(isa, NT_TYPE_F16, h, b, 65536);
        T_CHECK(memcmp(a, b, 65536 * 4) == 0);
    }
    free(h);
    free(a);
    free(b);
}

static void test_f16_rounding(void)
{
    /* Every midpoint between neighbouring positive finite halves: ties go to the even one,
     * one f32 ulp either side goes to the nearer. (Midpoints have 12 significant bits, so
     * they are exact in f32.) */
    int bad = 0;
    for (uint32_t h = 0; h < 0x7bff && bad < 5; h++) {
        float lo = nt_quant_f16_to_f32((uint16_t)h), hi = nt_quant_f16_to_f32((uint16_t)(h + 1));
        float mid = (lo + hi) / 2;
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        if (nt_quant_f32_to_f16(mid) != even || nt_quant_f32_to_f16(nextafterf(mid, 0)) != h ||
            nt_quant_f32_to_f16(nextafterf(mid, INFINITY)) != h + 1 ||
            nt_quant_f32_to_f16(-mid) != (even | 0x8000)) {
            t_fail(__FILE__, __LINE__, "f16 rounding around %04x/%04x", h, h + 1);
            bad++;
        }
    }
    T_EQ_INT(nt_quant_f32_to_f16(65519.99f), 0x7bff);
    T_EQ_INT(nt_quant_f32_to_f16(65520.0f), 0x7c00); /* tie with 65536 = inf: goes to even (inf) */
    T_EQ_INT(nt_quant_f32_to_f16(1e10f), 0x7c00);
    T_EQ_INT(nt_quant_f32_to_f16(-INFINITY), 0xfc00);
    T_EQ_INT(nt_quant_f32_to_f16(0x1p-25f), 0x0000);       /* half the smallest subnormal: even */
    T_EQ_INT(nt_quant_f32_to_f16(0x1.000002p-25f), 0x0001);
    T_EQ_INT(nt_quant_f32_to_f16(1e-45f), 0x0000);         /* f32 subnormal */
    T_EQ_INT(nt_quant_f32_to_f16(-0.0f), 0x8000);
    uint16_t n = nt_quant_f32_to_f16(NAN);
    T_CHECK((n & 0x7c00) == 0x7c00 && (n & 0x03ff) != 0);
    T_CHECK((nt_quant_f32_to_f16(u2f(0x7f800001u)) & 0x3ff) != 0); /* signalling NaN stays NaN */
}

static void test_bf16(void)
{
    for (uint32_t h = 0; h < 65536; h++)
        if (f2u(nt_quant_bf16_to_f32((uint16_t)h)) != h << 16) {
            t_fail(__FILE__, __LINE__, "bf16 %04x", h);
            break;
        }
    T_EQ_INT(nt_quant_f32_to_bf16(u2f(0x3f808000u)), 0x3f80); /* tie → even (down) */
    T_EQ_INT(nt_quant_f32_to_bf16(u2f(0x3f818000u)), 0x3f82); /* tie → even (up) */
    T_EQ_INT(nt_quant_f32_to_bf16(u2f(0x3f808001u)), 0x3f81); /* above the tie */
    T_EQ_INT(nt_quant_f32_to_bf16(u2f(0x3f807fffu)), 0x3f80); /* below the tie */
    T_EQ_INT(nt_quant_f32_to_bf16(u2f(0xbf818000u)), 0xbf82); /* negative tie */
    T_EQ_INT(nt_quant_f32_to_bf16(u2f(0x7f7fffffu)), 0x7f80); /* FLT_MAX rounds to inf */
    T_EQ_INT(nt_quant_f32_to_bf16(INFINITY), 0x7f80);
    T_EQ_INT(nt_quant_f32_to_bf16(u2f(0x00000001u)), 0x0000); /* tiny subnormal → 0 */
    T_EQ_INT(nt_quant_f32_to_bf16(u2f(0x00018000u)), 0x0002); /* subnormal tie → even */
    T_EQ_INT(nt_quant_f32_to_bf16(u2f(0x7f800001u)), 0x7fc0); /* sNaN → quiet NaN */
    T_EQ_INT(nt_quant_f32_to_bf16(u2f(0xffc00000u)), 0xffc0);
}

/* -------------------------------------------------- dequantization vs ggml ----- */

static void test_dequant_fixtures(void)
{
    if (!t_fixture("quant")) T_SKIP("fixtures absent (../shared/fixtures/quant)");
    for (size_t q = 0; q < N_QTYPES; q++) {
        const qtype *t = &qtypes[q];
        if (!t->file) continue;
        char rel[128], relref[160];
        snprintf(rel, sizeof rel, "quant/tiny-llama.%s.gguf", t->file);
        snprintf(relref, sizeof relref, "%s.blk0_ffn_down.f32", rel);
        size_t reflen = 0;
        float *ref = (float *)t_read_file(t_fixture(relref), &reflen);
        nt_gguf *g = NULL;
        nt_err err = {0};
        if (!ref || nt_gguf_open(&g, t_fixture(rel), &err) != NT_OK) {
            t_fail(__FILE__, __LINE__, "%s: cannot read fixture (%s)", t->file, err.msg);
            free(ref);
            continue;
        }
        const nt_gguf_tensor *ten = nt_gguf_find_tensor(g, "blk.0.ffn_down.weight");
        const int64_t cols = 768, rows = 256;
        if (!ten || ten->type != t->type || ten->ne[0] != cols || ten->ne[1] != rows ||
            reflen != (size_t)(cols * rows) * 4) {
            t_fail(__FILE__, __LINE__, "%s: unexpected tensor or reference size", t->file);
        } else {
            float *out = malloc((size_t)(cols * rows) * 4);
            size_t rb = nt_type_row_bytes(t->type, cols);
            for (int isa = 0; out && isa < QUANT_ISA_COUNT_; isa++) {
                if (!nt_quant_isa_available(isa)) continue;
                memset(out, 0xff, (size_t)(cols * rows) * 4);
                for (int64_t r = 0; r < rows; r++)
                    nt_quant_dequant_row_isa(isa, t->type, (const uint8_t *)ten->data + r * rb,
                                          out + r * cols, cols);
                int64_t i = 0;
                while (i < cols * rows && f2u(out[i]) == f2u(ref[i])) i++;
                if (i < cols * rows)
                    t_fail(__FILE__, __LINE__, "%s/%s: value %lld is %.9g (%08x), ggml %.9g (%08x)",
                           t->file, nt_quant_isa_name(isa), (long long)i, out[i], f2u(out[i]), ref[i],
                           f2u(ref[i]));
            }
            /* a tile through the prefill entry point: rows 10..29, columns 256..511 */
            if (out) {
                nt_quant_dequant_rows(t->type, ten->data, rb, 10, 30, 256, 512, out, 300);
                for (int64_t r = 10; r < 30; r++)
                    if (memcmp(out + (r - 10) * 300, ref + r * cols + 256, 256 * 4) != 0) {
                        t_fail(__FILE__, __LINE__, "%s: tile row %lld differs", t->file, (long long)r);
                        break;
                    }
            }
            free(out);
        }
        nt_gguf_close(g);
        free(ref);
    }
}

/* MXFP4 against ggml's own functions (tests/ref/mxfp4.py wrote tests/data/mxfp4-ggml.bin with
 * node-llama-cpp's libggml-base): every scale byte with every fp4 code, then a real
 * quantization by ggml's reference quantizer; natter's values must be bit-identical in every
 * kernel set. */
static void test_mxfp4_ggml(void)
{
    size_t len = 0;
    uint8_t *f = (uint8_t *)t_read_file("tests/data/mxfp4-ggml.bin", &len);
    const size_t table = 256 * 17 + 256 * 32 * 4, rows = 8, cols = 256;
    const size_t real = rows * cols * 4 + rows * cols / 32 * 17 + rows * cols * 4;
    T_ASSERT(f);
    T_EQ_INT(len, table + real);
    if (len != table + real) {
        free(f);
        return;
    }
    float *out = malloc(256 * 32 * 4);
    T_ASSERT(out);
    const struct { const uint8_t *blocks; const uint8_t *ref; int64_t n; const char *what; } parts[2] = {
        {f, f + 256 * 17, 256 * 32, "every scale and code"},
        {f + table + rows * cols * 4, f + table + rows * cols * 4 + rows * cols / 32 * 17,
         (int64_t)(rows * cols), "ggml's quantization"},
    };
    for (int p = 0; p < 2; p++)
        for (int isa = 0; isa < QUANT_ISA_COUNT_; isa++) {
            if (!nt_quant_isa_available(isa)) continue;
            memset(out, 0xff, (size_t)parts[p].n * 4);
            nt_quant_dequant_row_isa(isa, NT_TYPE_MXFP4, parts[p].blocks, out, parts[p].n);
            int64_t i = 0;
            while (i < parts[p].n && memcmp(out + i, parts[p].ref + 4 * i, 4) == 0) i++;
            if (i < parts[p].n) {
                float r;
                memcpy(&r, parts[p].ref + 4 * i, 4);
                t_fail(__FILE__, __LINE__, "mxfp4/%s, %s: value %lld is %.9g (%08x), ggml %.9g (%08x)",
                       nt_quant_isa_name(isa), parts[p].what, (long long)i, out[i], f2u(out[i]), r, f2u(r));
            }
        }
    /* natter's quantizer (nt_quantize_rows, for writers of test models) gives ggml's blocks. */
    const size_t qbytes = rows * cols / 32 * 17;
    uint8_t *mine = malloc(qbytes);
    T_ASSERT(mine);
    T_EQ_INT(nt_quantize_rows(NT_TYPE_MXFP4, (const float *)(f + table), mine, (int64_t)rows,
                              (int64_t)cols), qbytes);
    for (size_t b = 0; b < qbytes / 17; b++)
        if (memcmp(mine + 17 * b, parts[1].blocks + 17 * b, 17) != 0) {
            t_fail(__FILE__, __LINE__, "mxfp4: natter's block %zu differs from ggml's", b);
            break;
        }
    free(mine);
    /* The quantization is faithful: each value within half an fp4 step of its input (a
     * relative 1/4 of the block's largest below 8 times its scale, or the block's saturation). */
    const float *x = (const float *)(f + table);
    float *y = out;
    nt_quant_dequant_row(NT_TYPE_MXFP4, parts[1].blocks, y, (int64_t)(rows * cols));
    for (size_t b = 0; b < rows * cols / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * b + j]));
        for (int j = 0; j < 32; j++)
            if (!(fabsf(y[32 * b + j] - x[32 * b + j]) <= amax / 4 + 1e-37f)) {
                t_fail(__FILE__, __LINE__, "mxfp4 block %zu value %d: %.9g for %.9g (max %.9g)", b,
                       j, y[32 * b + j], x[32 * b + j], amax);
                break;
            }
    }
    free(out);
    free(f);
}

/* ---------------------------------------------------------------- dot products ----- */

/* For one type and row length: every kernel set against the double reference.
 *
 * Error bounds (u = 2^-24, the f32 unit roundoff; S = sum |w_i·x_i|):
 *  - f32 path: the dequantized values are exact, so the only error is f32 summation. Each
 *    kernel adds at most n/8 terms in sequence per lane, then ≤ 6 levels of lane reduction,
 *    plus one rounding per product: |err| ≤ (n/8 + 8)·u·S (recursive summation bound).
 *  - int8-activation path, against the activations it really uses (x̂ decoded from the
 *    buffer): integer block sums are exact; each block term is rounded in ≤ 4 float
 *    operations and the nb block terms are summed in sequence per lane (for F32/F16/BF16,
 *    whose activation path is an f32 dot, every value counts as a block):
 *    |err| ≤ 4·(nb + 16)·u·S', where S' = sum |x̂_i|·(|w_i| + |offset_i|) because the
 *    min/offset parts are added and cancelled inside the block terms.
 *  - and against the true x: the int8 rounding moves each x_i by at most d_b/2 (d_b its
 *    block's scale), so add sum_i |w_i|·d_b/2. */
static void check_dots(const qtype *t, int64_t n)
{
    size_t rb = nt_type_row_bytes(t->type, n);
    int64_t bl = nt_type_block_len(t->type);
    uint8_t *row = malloc(rb);
    float *x = malloc((size_t)n * 4), *w = malloc((size_t)n * 4), *w2 = malloc((size_t)n * 4);
    float *xh = malloc((size_t)n * 4), *db = malloc((size_t)n * 4);
    size_t ab = nt_quant_act_bytes(t->type, n);
    void *act0 = malloc(ab), *act = malloc(ab);
    T_ASSERT(row && x && w && w2 && xh && db && act0 && act && ab > 0);
    fill_row(t, row, n);
    for (int64_t i = 0; i < n; i++) x[i] = rng_unit() * (i % 7 == 0 ? 4.0f : 1.0f);
    nt_quant_dequant_row_isa(QUANT_ISA_SCALAR, t->type, row, w, n);
    nt_quant_act_prepare_isa(QUANT_ISA_SCALAR, t->type, x, act0, n);
    act_decode(t->type, act0, x, n, xh, db);

    double ref = 0, S = 0, refq = 0, Sq = 0, qerr = 0;
    for (int64_t i = 0; i < n; i++) {
        double off = off_mag(t, row, i / bl);
        ref += (double)w[i] * x[i];
        S += fabs((double)w[i] * x[i]);
        refq += (double)w[i] * xh[i];
        Sq += fabs((double)xh[i]) * (fabs((double)w[i]) + off);
        qerr += fabs((double)w[i]) * db[i] / 2;
    }
    const double u = 0x1p-24;
    int64_t nb = n / bl; /* bl is 1 for F32/F16/BF16 */
    double tol_f32 = ((double)n / 8 + 8) * u * S + u * fabs(ref);
    double tol_q = 4.0 * ((double)nb + 16) * u * Sq + u * fabs(refq);

    float dots[QUANT_ISA_COUNT_];
    for (int isa = 0; isa < QUANT_ISA_COUNT_; isa++) {
        if (!nt_quant_isa_available(isa)) continue;
        const char *in = nt_quant_isa_name(isa);
        /* dequantization and activation buffers: identical across kernel sets */
        nt_quant_dequant_row_isa(isa, t->type, row, w2, n);
        if (memcmp(w, w2, (size_t)n * 4) != 0)
            t_fail(__FILE__, __LINE__, "%s/%s n=%lld: dequantization differs from scalar",
                   tname(t->type), in, (long long)n);
        nt_quant_act_prepare_isa(isa, t->type, x, act, n);
        if (memcmp(act0, act, ab) != 0)
            t_fail(__FILE__, __LINE__, "%s/%s n=%lld: activation buffer differs from scalar",
                   tname(t->type), in, (long long)n);

        float f = nt_quant_dot_isa(isa, t->type, row, x, n);
        if (!(fabs(f - ref) <= tol_f32))
            t_fail(__FILE__, __LINE__, "%s/%s n=%lld f32 path: %.9g vs %.9g (tol %.3g)",
                   tname(t->type), in, (long long)n, f, ref, tol_f32);

        float d = nt_quant_dot_act_isa(isa, t->type, row, act0, n);
        dots[isa] = d;
        if (!(fabs(d - refq) <= tol_q))
            t_fail(__FILE__, __LINE__, "%s/%s n=%lld act path vs x̂: %.9g vs %.9g (tol %.3g)",
                   tname(t->type), in, (long long)n, d, refq, tol_q);
        if (!(fabs(d - ref) <= tol_q + qerr))
            t_fail(__FILE__, __LINE__, "%s/%s n=%lld act path vs x: %.9g vs %.9g (tol %.3g)",
                   tname(t->type), in, (long long)n, d, ref, tol_q + qerr);
        /* determinism: the same call again gives the same bits */
        float d2 = nt_quant_dot_act_isa(isa, t->type, row, act0, n);
        if (f2u(d2) != f2u(d))
            t_fail(__FILE__, __LINE__, "%s/%s: repeated call differs", tname(t->type), in);
        if (isa > 0 && !(fabs(d - dots[0]) <= 2 * tol_q))
            t_fail(__FILE__, __LINE__, "%s/%s n=%lld: %.9g vs scalar %.9g (tol %.3g)",
                   tname(t->type), in, (long long)n, d, dots[0], 2 * tol_q);
    }
    free(row); free(x); free(w); free(w2); free(xh); free(db); free(act0); free(act);
}

static void test_dot_kernels(void)
{
    rng_state = 12345;
    for (size_t q = 0; q < N_QTYPES; q++) {
        const qtype *t = &qtypes[q];
        int64_t bl = nt_type_block_len(t->type);
        /* one block, an odd block count, a long row; plain types also get ragged tails of
         * every kind the float kernels (steps of 16 in pairs) meet: 64 + 13, 992 + 8, 16 + 13
         * (two steps after the pairs), 7 alone */
        int64_t lens[6] = {bl == 1 ? 256 : bl, bl == 1 ? 77 : 3 * bl, 4096, bl == 1 ? 1000 : 11 * bl,
                           bl == 1 ? 29 : 5 * bl, bl == 1 ? 7 : 7 * bl};
        for (int k = 0; k < 6; k++) check_dots(t, lens[k]);
    }
}

/* nt_quant_matvec gives each row exactly what nt_quant_dot_act gives, whatever the row split, for
 * every kernel set (and the default entry points use the active set). */
static void test_matvec_split(void)
{
    rng_state = 777;
    const int64_t n = 512, rows = 7;
    for (size_t q = 0; q < N_QTYPES; q++) {
        const qtype *t = &qtypes[q];
        size_t rb = nt_type_row_bytes(t->type, n);
        uint8_t *W = malloc(rb * rows);
        float *x = malloc(n * 4), y1[7], y2[7];
        void *act = malloc(nt_quant_act_bytes(t->type, n));
        T_ASSERT(W && x && act);
        for (int64_t r = 0; r < rows; r++) fill_row(t, W + r * rb, n);
        for (int64_t i = 0; i < n; i++) x[i] = rng_unit();
        for (int isa = 0; isa < QUANT_ISA_COUNT_; isa++) {
            if (!nt_quant_isa_available(isa)) continue;
            nt_quant_act_prepare_isa(isa, t->type, x, act, n);
            nt_quant_matvec_isa(isa, t->type, W, rb, 0, rows, act, n, y1);
            nt_quant_matvec_isa(isa, t->type, W, rb, 0, 3, act, n, y2);
            nt_quant_matvec_isa(isa, t->type, W, rb, 3, 4, act, n, y2);
            nt_quant_matvec_isa(isa, t->type, W, rb, 4, rows, act, n, y2);
            for (int64_t r = 0; r < rows; r++) {
                float d = nt_quant_dot_act_isa(isa, t->type, W + r * rb, act, n);
                if (f2u(y1[r]) != f2u(y2[r]) || f2u(y1[r]) != f2u(d))
                    t_fail(__FILE__, __LINE__, "%s/%s row %lld: %.9g / %.9g / %.9g", tname(t->type),
                           nt_quant_isa_name(isa), (long long)r, y1[r], y2[r], d);
            }
            if (isa == nt_quant_isa_active()) {
                nt_quant_matvec(t->type, W, rb, 0, rows, act, n, y2);
                T_CHECK(memcmp(y1, y2, sizeof y1) == 0);
                T_CHECK(f2u(nt_quant_dot_act(t->type, W, act, n)) == f2u(y1[0]));
            }
        }
        free(W); free(x); free(act);
    }
}

/* nt_quant_matmat: every (row, input) value bit-identical to nt_quant_dot_act, for every kernel
 * set, whatever the batch size (the SIMD kernels work in tiles of a few rows × a few inputs,
 * with narrower tiles for the rest: every batch size from 1 to past a full group), the row
 * range (odd ranges leave rows outside every full tile), the distance between activation
 * buffers and, for the plain types, a ragged row length (an odd number of blocks for the
 * 32-value formats). */
/* nt_quant_matmat of kernel type kt (the tensor type t->type, or the kernel-only type its rows
 * are multiplied as: QUANT_TYPE_F16_F32ACT for F16 rows) against its dot, bit for bit. */
static void matmat_check_as(const qtype *t, int kt, int64_t n)
{
    const int64_t rows = 12, ntmax = 70, ldy = 13;
    const int64_t nts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 24, 25, 29, 70};
    const int64_t ranges[][2] = {{1, 11}, {0, 12}, {3, 6}};
    size_t rb = nt_type_row_bytes(t->type, n);
    size_t ab = nt_quant_act_bytes(kt, n) + 36; /* buffers apart by more than their size */
    uint8_t *W = malloc(rb * rows), *acts = malloc(ab * ntmax);
    float *x = malloc(n * 4), *Y = malloc(sizeof(float) * ntmax * ldy);
    float *ref = malloc(sizeof(float) * ntmax * rows);
    T_ASSERT(W && acts && x && Y && ref);
    for (int64_t r = 0; r < rows; r++) fill_row(t, W + r * rb, n);
    for (int isa = 0; isa < QUANT_ISA_COUNT_; isa++) {
        if (!nt_quant_isa_available(isa)) continue;
        for (int64_t k = 0; k < ntmax; k++) {
            for (int64_t i = 0; i < n; i++) x[i] = rng_unit();
            nt_quant_act_prepare_isa(isa, kt, x, acts + k * ab, n);
            for (int64_t r = 0; r < rows; r++)
                ref[k * rows + r] = nt_quant_dot_act_isa(isa, kt, W + r * rb, acts + k * ab, n);
        }
        int bad = 0;
        for (size_t c = 0; c < sizeof nts / sizeof nts[0] && !bad; c++)
            for (size_t g = 0; g < sizeof ranges / sizeof ranges[0] && !bad; g++) {
                const int64_t nt = nts[c], r0 = ranges[g][0], r1 = ranges[g][1];
                memset(Y, 0xff, sizeof(float) * ntmax * ldy);
                nt_quant_matmat_isa(isa, kt, W, rb, r0, r1, acts, ab, nt, n, Y, ldy);
                for (int64_t k = 0; k < ntmax && !bad; k++)
                    for (int64_t r = 0; r < ldy; r++) {
                        /* outside the range and the batch: untouched */
                        uint32_t want = k < nt && r >= r0 && r < r1 ? f2u(ref[k * rows + r]) : 0xffffffffu;
                        if (f2u(Y[k * ldy + r]) != want) {
                            t_fail(__FILE__, __LINE__, "%s/%s batch %lld rows [%lld, %lld): input %lld row %lld differs",
                                   kt == t->type ? tname(kt) : "kernel-only", nt_quant_isa_name(isa), (long long)nt,
                                   (long long)r0, (long long)r1, (long long)k, (long long)r);
                            bad = 1;
                            break;
                        }
                    }
            }
        T_CHECK(!bad);
    }
    free(W); free(acts); free(x); free(Y); free(ref);
}

static void matmat_check(const qtype *t, int64_t n)
{
    matmat_check_as(t, t->type, n);
}

static void test_matmat(void)
{
    rng_state = 4242;
    /* float rows with every kind of end (the kernels add steps of 16 values into two partial
     * sums in turn): 77 = 2·32 + 13 (a masked step into partial 0), 93 = 2·32 + 16 + 13 (a
     * whole step into partial 0, a masked one into partial 1), 80 = 2·32 + 16 (partial 1
     * has no end step), 64 (no end); an odd block count for the 32-value formats (their
     * kernels take blocks in pairs) */
    const int64_t float_ns[] = {77, 93, 80, 64};
    for (size_t q = 0; q < N_QTYPES; q++) {
        const int64_t bl = nt_type_block_len(qtypes[q].type);
        if (bl == 1)
            for (size_t i = 0; i < sizeof float_ns / sizeof float_ns[0]; i++)
                matmat_check(&qtypes[q], float_ns[i]);
        else
            matmat_check(&qtypes[q], bl == 32 ? 544 : 512);
    }
    /* AVX-512 decodes Q8_0 rows of up to 2688 values with a kernel of its own, longer
     * ones with the tile: both (odd block counts) */
    for (size_t q = 0; q < N_QTYPES; q++)
        if (qtypes[q].type == NT_TYPE_Q8_0) matmat_check(&qtypes[q], 2720 + 32);
    /* F16 decodes rows longer than QUANT_F16H_MIN_N from the binary16 copy of its
     * activations, and the AVX2 float tiles take long rows in chunks (of 512): both kinds
     * of end there too */
    for (size_t q = 0; q < N_QTYPES; q++)
        if (nt_type_block_len(qtypes[q].type) == 1) {
            matmat_check(&qtypes[q], QUANT_F16H_MIN_N + 77);
            matmat_check(&qtypes[q], QUANT_F16H_MIN_N + 93);
        }
    /* the KV cache's F16 rows against f32 queries (caches of heads that are not a multiple
     * of 32 values; the others use the X32 layout), at head-like lengths */
    const int64_t key_ns[] = {32, 64, 128, 256, 96, 288, 77};
    for (size_t i = 0; i < sizeof key_ns / sizeof key_ns[0]; i++)
        matmat_check_as(&qtypes[1], QUANT_TYPE_F16_F32ACT, key_ns[i]);
}

/* The x8 types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K ... Q6_K, IQ4_NL and IQ4_XS rows
 * repacked by 8, F16 and BF16 rows by 32 (F16X32, BF16X32). Every kernel set gives the scalar set's bits
 * (quant.h states the rule), matvec and matmat alike, whatever the row range (multiples of the
 * group) or batch; and the values are the original rows' dot products within test_dot_kernels'
 * bound (computed from the rows before repacking, so a repacking mistake the kernels share
 * fails). act_type is the type whose activations x8 takes: t's own, or QUANT_TYPE_F16_F32ACT
 * for F16X32_F32ACT (the attention's; the values then held to the exact f32 inputs, so a
 * binary16 rounding of them fails). */
static void x8_check(const qtype *t, int x8, int act_type)
{
    const int64_t bl = nt_type_block_len(t->type); /* 32, or 256 for the K formats */
    const int64_t G = nt_quant_x8_rows(x8); /* rows in a group */
    const int64_t ns[] = {bl, 17 * bl, 2048 + bl}, rows = 3 * G, ntmax = 29, ldy = rows + 3;
    const int64_t nts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 24, 29};
    const int64_t ranges[][2] = {{0, 3 * G}, {G, 2 * G}, {2 * G, 3 * G}, {G, 3 * G}};
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        const int64_t n = ns[c], nb = n / bl;
        size_t rb = nt_type_row_bytes(t->type, n), ab = nt_quant_act_bytes(x8, n);
        T_EQ_INT(ab, nt_quant_act_bytes(act_type, n));
        uint8_t *W = malloc(rb * rows), *P = malloc(rb * rows), *acts = malloc(ab * ntmax);
        float *xs = malloc((size_t)n * 4 * ntmax), *w = malloc((size_t)n * 4), *xh = malloc((size_t)n * 4);
        float *db = malloc((size_t)n * 4), *ref = malloc(sizeof(float) * ntmax * rows);
        float *Y = malloc(sizeof(float) * ntmax * ldy);
        T_ASSERT(W && P && acts && xs && w && xh && db && ref && Y);
        for (int64_t r = 0; r < rows; r++) fill_row(t, W + r * rb, n);
        nt_quant_repack_x8(t->type, W, P, rows, n);
        for (int64_t k = 0; k < ntmax; k++) {
            float *x = xs + k * n;
            for (int64_t i = 0; i < n; i++) x[i] = rng_unit() * (i % 5 == 0 ? 3.0f : 1.0f);
            nt_quant_act_prepare_isa(QUANT_ISA_SCALAR, x8, x, acts + k * ab, n);
        }
        /* the scalar set against the rows before repacking */
        nt_quant_matmat_isa(QUANT_ISA_SCALAR, x8, P, rb, 0, rows, acts, ab, ntmax, n, ref, rows);
        int bad = 0;
        for (int64_t k = 0; k < ntmax && !bad; k++) {
            act_decode(act_type, acts + k * ab, xs + k * n, n, xh, db);
            for (int64_t r = 0; r < rows && !bad; r++) {
                nt_quant_dequant_row(t->type, W + r * rb, w, n);
                double refq = 0, Sq = 0;
                for (int64_t i = 0; i < n; i++) {
                    refq += (double)w[i] * xh[i];
                    Sq += fabs((double)xh[i]) * (fabs((double)w[i]) + off_mag(t, W + r * rb, i / bl));
                }
                const double tol = 4.0 * ((double)nb + 16) * 0x1p-24 * Sq + 0x1p-24 * fabs(refq);
                if (!(fabs(ref[k * rows + r] - refq) <= tol)) {
                    t_fail(__FILE__, __LINE__, "%s n=%lld input %lld row %lld: %.9g vs %.9g (tol %.3g)",
                           tname(t->type), (long long)n, (long long)k, (long long)r, ref[k * rows + r], refq, tol);
                    bad = 1;
                }
            }
        }
        for (int isa = 0; isa < QUANT_ISA_COUNT_ && !bad; isa++) {
            if (!nt_quant_isa_available(isa)) continue;
            for (size_t ci = 0; ci < sizeof nts / sizeof nts[0] && !bad; ci++)
                for (size_t g = 0; g < sizeof ranges / sizeof ranges[0] && !bad; g++) {
                    const int64_t nt = nts[ci], r0 = ranges[g][0], r1 = ranges[g][1];
                    memset(Y, 0xff, sizeof(float) * ntmax * ldy);
                    if (nt == 1)
                        nt_quant_matvec_isa(isa, x8, P, rb, r0, r1, acts, n, Y);
                    else
                        nt_quant_matmat_isa(isa, x8, P, rb, r0, r1, acts, ab, nt, n, Y, ldy);
                    for (int64_t k = 0; k < ntmax && !bad; k++)
                        for (int64_t r = 0; r < ldy; r++) {
                            uint32_t want = k < nt && r >= r0 && r < r1 ? f2u(ref[k * rows + r]) : 0xffffffffu;
                            if (f2u(Y[k * ldy + r]) != want) {
                                t_fail(__FILE__, __LINE__, "%s/%s n=%lld batch %lld rows [%lld, %lld): input %lld row %lld: %.9g, scalar %.9g",
                                       tname(t->type), nt_quant_isa_name(isa), (long long)n, (long long)nt, (long long)r0,
                                       (long long)r1, (long long)k, (long long)r, Y[k * ldy + r],
                                       k < nt && r < rows ? ref[k * rows + r] : 0.0f);
                                bad = 1;
                                break;
                            }
                        }
                }
        }
        T_CHECK(!bad);
        free(W); free(P); free(acts); free(xs); free(w); free(xh); free(db); free(ref); free(Y);
    }
}

static void test_x8(void)
{
    rng_state = 808;
    T_EQ_INT(nt_quant_x8_type(NT_TYPE_MXFP4), -1);
    /* F16X32 and BF16X32 whatever the active set (models repack them only under AVX2's) */
    const bool avx2 = nt_quant_isa_active() == QUANT_ISA_AVX2;
    T_EQ_INT(nt_quant_x8_type(NT_TYPE_F16), avx2 ? QUANT_TYPE_F16X32 : -1);
    T_EQ_INT(nt_quant_x8_type(NT_TYPE_BF16), avx2 ? QUANT_TYPE_BF16X32 : -1);
    T_EQ_INT(nt_quant_x8_type(NT_TYPE_F32), -1);
    T_EQ_INT(nt_quant_x8_rows(QUANT_TYPE_F16X32), 32);
    T_EQ_INT(nt_quant_x8_rows(QUANT_TYPE_BF16X32), 32);
    T_EQ_INT(nt_quant_x8_rows(QUANT_TYPE_Q8_0X8), 8);
    for (size_t q = 0; q < N_QTYPES; q++) {
        const int x8 = qtypes[q].type == NT_TYPE_F16    ? QUANT_TYPE_F16X32
                       : qtypes[q].type == NT_TYPE_BF16 ? QUANT_TYPE_BF16X32
                                                        : nt_quant_x8_type(qtypes[q].type);
        if (x8 >= 0) x8_check(&qtypes[q], x8, qtypes[q].type);
        if (qtypes[q].type == NT_TYPE_F16) x8_check(&qtypes[q], QUANT_TYPE_F16X32_F32ACT, QUANT_TYPE_F16_F32ACT);
    }
    T_EQ_INT(nt_quant_x8_rows(QUANT_TYPE_F16X32_F32ACT), 32);
}

/* A zero activation vector: scale 0, every dot exactly 0 (no NaN from 0/0). */
static void test_zero_activations(void)
{
    const int64_t n = 256;
    float x[256] = {0};
    uint8_t row[1024];
    float abuf[384]; /* the largest activation buffer for n = 256 (F16's f32 and f16 copies) */
    for (size_t q = 0; q < N_QTYPES; q++) {
        const qtype *t = &qtypes[q];
        void *a = abuf;
        T_ASSERT(nt_quant_act_bytes(t->type, n) <= sizeof abuf);
        fill_row(t, row, n);
        for (int isa = 0; isa < QUANT_ISA_COUNT_; isa++) {
            if (!nt_quant_isa_available(isa)) continue;
            nt_quant_act_prepare_isa(isa, t->type, x, a, n);
            float d = nt_quant_dot_act_isa(isa, t->type, row, a, n);
            if (d != 0.0f)
                t_fail(__FILE__, __LINE__, "%s/%s: %.9g", tname(t->type), nt_quant_isa_name(isa), d);
        }
    }
}

/* NaN and inf activations: results are garbage, but defined (no UB in the float → int
 * conversion, int8 values within ±127) and the same buffer from every kernel set. */
static void test_nonfinite_activations(void)
{
    const int64_t n = 512;
    float x[512];
    static float a0[768], a1[768]; /* up to F16's 6 bytes a value */
    for (int64_t i = 0; i < n; i++) x[i] = (float)(i % 13) - 6.0f;
    /* whole last 16-value loads of NaN (a block max that lets NaN through would keep it) */
    for (int i = 48; i < 64; i++) x[i] = NAN;
    for (int i = 496; i < 512; i++) x[i] = -NAN;
    x[100] = INFINITY;
    for (size_t q = 0; q < N_QTYPES; q++) {
        int type = qtypes[q].type;
        nt_quant_act_prepare_isa(QUANT_ISA_SCALAR, type, x, a0, n);
        for (int isa = 1; isa < QUANT_ISA_COUNT_; isa++) {
            if (!nt_quant_isa_available(isa)) continue;
            nt_quant_act_prepare_isa(isa, type, x, a1, n);
            if (memcmp(a0, a1, nt_quant_act_bytes(type, n)) != 0)
                t_fail(__FILE__, __LINE__, "%s/%s: buffers differ", tname(type), nt_quant_isa_name(isa));
        }
        /* first block of the 32-value buffers: −128 never appears */
        if (nt_quant_act_bytes(type, n) == (size_t)(n / 32) * sizeof(quant_act32)) {
            const quant_act32 *b = (const quant_act32 *)(const void *)a0;
            for (int i = 0; i < 32; i++) T_CHECK(b->qs[i] >= -127);
        }
    }
}

/* F16 weights take x rounded to binary16 (as ggml's F16 dot products), kept as f32 values and
 * then as the binary16 bits (quant.h): both copies hold RNE(x), saturated at ±65504 instead of
 * infinite, from every kernel set; F16 rows against QUANT_TYPE_F16_F32ACT (the KV cache's
 * attention) keep x exactly. And a value past binary16's range still gives a finite dot. */
static void test_f16_activations(void)
{
    enum { N = 96 };
    float x[N], f32act[N];
    static float act[N * 3 / 2 + 16];
    for (int i = 0; i < N; i++) x[i] = rng_unit() * (i % 5 == 0 ? 300.0f : 1.0f);
    x[3] = 1e6f;          /* past the range: 65504 */
    x[4] = -70000.0f;     /* -65504 */
    x[5] = 65519.0f;      /* rounds to 65504 anyway */
    x[6] = 1.00048828125f; /* 1 + 2^-11: a tie, to even (1.0) */
    x[7] = 0x1p-20f;      /* a binary16 subnormal */
    x[8] = 1e-9f;         /* below half the smallest subnormal: 0 */
    T_EQ_INT(nt_quant_act_bytes(NT_TYPE_F16, N), N * 6);
    T_EQ_INT(nt_quant_act_bytes(NT_TYPE_F16, 77), 77 * 4 + 156); /* stays a multiple of 4 */
    T_EQ_INT(nt_quant_act_bytes(QUANT_TYPE_F16_F32ACT, N), N * 4);
    for (int isa = 0; isa < QUANT_ISA_COUNT_; isa++) {
        if (!nt_quant_isa_available(isa)) continue;
        nt_quant_act_prepare_isa(isa, NT_TYPE_F16, x, act, N);
        const uint16_t *h = (const uint16_t *)(const void *)(act + N);
        int bad = 0;
        for (int i = 0; i < N; i++) {
            float c = x[i] > 65504.0f ? 65504.0f : x[i] < -65504.0f ? -65504.0f : x[i];
            uint16_t want = nt_quant_f32_to_f16(c);
            if (h[i] != want || f2u(act[i]) != f2u(nt_quant_f16_to_f32(want))) bad++;
        }
        if (bad) t_fail(__FILE__, __LINE__, "%s: %d F16 activations wrong", nt_quant_isa_name(isa), bad);
        T_EQ_INT(h[3], 0x7bff);
        T_EQ_INT(h[4], 0xfbff);
        T_EQ_INT(h[5], 0x7bff);
        T_CHECK(act[6] == 1.0f);
        T_CHECK(act[7] == 0x1p-20f);
        T_CHECK(act[8] == 0.0f);
        /* a row of ones: the dot is finite, and the rounded values' sum */
        uint16_t row[N];
        double want = 0;
        for (int i = 0; i < N; i++) row[i] = 0x3c00, want += act[i];
        float d = nt_quant_dot_act_isa(isa, NT_TYPE_F16, row, act, N);
        T_CHECK(isfinite(d) && fabs(d - want) <= 1e-6 * 400000.0);
        nt_quant_act_prepare_isa(isa, QUANT_TYPE_F16_F32ACT, x, f32act, N);
        T_CHECK(memcmp(f32act, x, sizeof x) == 0);
        float dx = nt_quant_dot_act_isa(isa, QUANT_TYPE_F16_F32ACT, row, f32act, N);
        double wantx = 0;
        for (int i = 0; i < N; i++) wantx += x[i];
        T_CHECK(fabs(dx - wantx) <= 1e-6 * 2000000.0);
    }
}

/* The block structs match the type table, and both agree on what is supported. */
static void test_layouts(void)
{
    T_EQ_INT(sizeof(quant_block_q8_0), nt_type_block_bytes(NT_TYPE_Q8_0));
    T_EQ_INT(sizeof(quant_block_q4_0), nt_type_block_bytes(NT_TYPE_Q4_0));
    T_EQ_INT(sizeof(quant_block_q4_1), nt_type_block_bytes(NT_TYPE_Q4_1));
    T_EQ_INT(sizeof(quant_block_q5_0), nt_type_block_bytes(NT_TYPE_Q5_0));
    T_EQ_INT(sizeof(quant_block_q5_1), nt_type_block_bytes(NT_TYPE_Q5_1));
    T_EQ_INT(sizeof(quant_block_q4_K), nt_type_block_bytes(NT_TYPE_Q4_K));
    T_EQ_INT(sizeof(quant_block_q5_K), nt_type_block_bytes(NT_TYPE_Q5_K));
    T_EQ_INT(sizeof(quant_block_q6_K), nt_type_block_bytes(NT_TYPE_Q6_K));
    T_EQ_INT(sizeof(quant_block_q2_K), nt_type_block_bytes(NT_TYPE_Q2_K));
    T_EQ_INT(sizeof(quant_block_q3_K), nt_type_block_bytes(NT_TYPE_Q3_K));
    T_EQ_INT(sizeof(quant_block_iq4_nl), nt_type_block_bytes(NT_TYPE_IQ4_NL));
    T_EQ_INT(sizeof(quant_block_mxfp4), nt_type_block_bytes(NT_TYPE_MXFP4));
    T_EQ_INT(sizeof(quant_block_iq4_xs), nt_type_block_bytes(NT_TYPE_IQ4_XS));
    for (int ty = -1; ty <= NT_TYPE_COUNT_; ty++) T_EQ_INT(nt_quant_type_supported(ty), nt_type_supported(ty));
    T_CHECK(nt_quant_isa_available(nt_quant_isa_active()));
    T_EQ_STR(nt_quant_isa_name(QUANT_ISA_SCALAR), "scalar");
}

/* Q8_0 quantizer: round trip error within half a step, zeros stay zeros. */
/* nt_quant_exp_shifted with every kernel set: each value within 4e-7 relative of e^(s - max)
 * computed in double, s = x · scale rounded to float (scale 1 and an attention-like 0.125 and
 * 0.0883883), 0 below -87.3 after the shift (SIMD sets) or whatever expf gives there, the
 * returned sum within 1e-6 of the values' own sum, ragged lengths (the vector tails), and the
 * same bits on a second call. */
static void test_exp_shifted(void)
{
    float x[70], v[70], w[70], s[70];
    const float scales[] = {1.0f, 0.125f, 0.0883883476f};
    uint64_t r = 7;
    for (int n = 1; n <= 70; n += (n < 20 ? 1 : 7)) {
        for (int i = 0; i < n; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 40.0 - 30.0);
        }
        if (n > 3) x[n / 2] = -1500.0f; /* far below the rest: e^x underflows */
        for (int si = 0; si < 3; si++) {
            const float scale = scales[si];
            float max = -INFINITY;
            for (int i = 0; i < n; i++) {
                s[i] = x[i] * scale;
                max = s[i] > max ? s[i] : max;
            }
            for (int isa = 0; isa < QUANT_ISA_COUNT_; isa++) {
                if (!nt_quant_isa_available(isa)) continue;
                memcpy(v, x, sizeof(float) * (size_t)n);
                const double sum = nt_quant_exp_shifted_isa(isa, v, n, scale);
                double own = 0;
                for (int i = 0; i < n; i++) {
                    const double want = exp((double)(s[i] - max)); /* the difference in float, as used */
                    own += v[i];
                    if (s[i] - max < -87.3f) {
                        if (!(v[i] >= 0 && v[i] < 1e-37f))
                            t_fail(__FILE__, __LINE__, "%s n=%d: e^%g = %g", nt_quant_isa_name(isa), n,
                                   (double)(s[i] - max), (double)v[i]);
                    } else if (!(fabs(v[i] - want) <= 4e-7 * want)) {
                        t_fail(__FILE__, __LINE__, "%s n=%d scale %g: e^%g = %.9g, want %.9g",
                               nt_quant_isa_name(isa), n, (double)scale, (double)(s[i] - max), (double)v[i],
                               want);
                    }
                }
                T_CHECK(fabs(sum - own) <= 1e-6 * own);
                memcpy(w, x, sizeof(float) * (size_t)n);
                T_CHECK(nt_quant_exp_shifted_isa(isa, w, n, scale) == sum);
                T_CHECK(memcmp(v, w, sizeof(float) * (size_t)n) == 0);
            }
        }
    }
}

/* nt_quant_swiglu and nt_quant_geglu with every kernel set: silu(g)·u within 2e-6 relative
 * of the exact value (the SIMD sets' exponential is within 2 ulp, then a division and two
 * products), gelu(g)·u within 1e-5 (its argument y is rounded in float first, and e^2y
 * multiplies that error by |2y|: 17 at g = -5), at any sign and size of g (|g| up to 100,
 * where e^|g| would overflow float, and 0, ±inf, NaN); and each value the same bits wherever
 * it sits in a call (a task's rows start anywhere). */
typedef void (*glu_fn)(int isa, float *g, const float *u, int64_t n);

static double silu_ref(double x)
{
    return x / (1.0 + exp(-x));
}

/* x/2 · (1 + tanh y) as x · σ(2y): in double too, 1 + tanh y cancels to 0 below y = -19 */
static double gelu_ref(double x)
{
    return x / (1.0 + exp(-2.0 * 0.7978845608028654 * x * (1.0 + 0.044715 * x * x)));
}

static void glu_check(const char *name, glu_fn f, double (*ref)(double), double tol)
{
    enum { N = 83 };
    float g[N], u[N], v[N], w[N];
    uint64_t r = 11;
    for (int i = 0; i < N; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        g[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 60.0 - 30.0);
        u[i] = (float)((double)(r & 0xffff) / 65536.0 * 4.0 - 2.0);
    }
    g[0] = 0.0f, g[1] = -0.0f, g[2] = 100.0f, g[3] = -100.0f, g[4] = 1e-20f, g[5] = -88.5f;
    g[6] = INFINITY, g[7] = NAN, g[8] = -1e-3f, g[9] = 17.0f, g[10] = -5.0f, g[11] = -2.5f;
    for (int isa = 0; isa < QUANT_ISA_COUNT_; isa++) {
        if (!nt_quant_isa_available(isa)) continue;
        memcpy(v, g, sizeof g);
        f(isa, v, u, N);
        int bad = 0;
        for (int i = 0; i < N && !bad; i++) {
            const double x = g[i], want = ref(x) * u[i];
            const int ok = isnan(x) ? isnan(v[i]) : isinf(x) ? v[i] == want
                         : fabs(v[i] - want) <= tol * fabs(want) + 1e-35; /* e^x is 0 below -87.3 */
            if (!ok) {
                t_fail(__FILE__, __LINE__, "%s/%s: f(%g)·%g = %.9g, want %.9g", name,
                       nt_quant_isa_name(isa), x, (double)u[i], (double)v[i], want);
                bad = 1;
            }
        }
        /* the same values cut into calls of every length from every start */
        for (int len = 1; len <= 20 && !bad; len++)
            for (int start = 0; start < len && !bad; start++) {
                memcpy(w, g, sizeof g);
                f(isa, w, u, start);
                for (int i = start; i < N; i += len) f(isa, w + i, u + i, i + len <= N ? len : N - i);
                if (memcmp(v, w, sizeof v) != 0) {
                    t_fail(__FILE__, __LINE__, "%s/%s: calls of %d values from %d differ", name,
                           nt_quant_isa_name(isa), len, start);
                    bad = 1;
                }
            }
        T_CHECK(!bad);
    }
}

static void test_glu(void)
{
    glu_check("swiglu", nt_quant_swiglu_isa, silu_ref, 2e-6);
    glu_check("geglu", nt_quant_geglu_isa, gelu_ref, 1e-5);
}

static void test_quantize_q8_0(void)
{
    float x[64], y[64];
    quant_block_q8_0 b[2];
    rng_state = 99;
    for (int i = 0; i < 64; i++) x[i] = i < 32 ? rng_unit() * 3 : 0.0f;
    nt_quant_quantize_row_q8_0(x, b, 64);
    nt_quant_dequant_row(NT_TYPE_Q8_0, b, y, 64);
    float d = nt_quant_f16_to_f32(b[0].d);
    for (int i = 0; i < 32; i++) T_NEAR(y[i], x[i], d * 0.5 + 1e-3 * fabs(x[i]));
    for (int i = 32; i < 64; i++) T_CHECK(y[i] == 0.0f);
}

/* nt_random_rows (the bench's models of the types natter cannot quantize to): every value
 * within 2·scale (Q4_K's and Q5_K's ranges reach it, quantize.c), the bytes it says and none
 * after, the state advanced; other types and ragged rows refused. */
static void test_random_rows(void)
{
    const int types[] = {NT_TYPE_Q4_0, NT_TYPE_Q4_1, NT_TYPE_Q5_0, NT_TYPE_Q5_1, NT_TYPE_Q8_0,
                         NT_TYPE_Q2_K, NT_TYPE_Q3_K, NT_TYPE_Q4_K, NT_TYPE_Q5_K, NT_TYPE_Q6_K,
                         NT_TYPE_IQ4_NL, NT_TYPE_IQ4_XS};
    const int64_t rows = 3, n = 512;
    const float scale = 0.25f;
    static uint8_t buf[3 * 600 + 64];
    float w[512];
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const size_t rb = nt_type_row_bytes(types[k], n);
        T_ASSERT(rb * rows + 64 <= sizeof buf);
        memset(buf, 0xa5, sizeof buf);
        uint64_t rng = 77, before = rng;
        T_EQ_INT(nt_random_rows(types[k], buf, rows, n, scale, &rng), rb * rows);
        T_CHECK(rng != before);
        for (size_t i = rb * rows; i < sizeof buf; i++)
            if (buf[i] != 0xa5) {
                t_fail(__FILE__, __LINE__, "%s: byte %zu after the rows written", tname(types[k]), i);
                break;
            }
        double amax = 0;
        for (int64_t r = 0; r < rows; r++) {
            nt_quant_dequant_row(types[k], buf + r * rb, w, n);
            for (int64_t i = 0; i < n; i++) amax = fmax(amax, fabs((double)w[i]));
        }
        if (!(amax <= 2.01 * scale && amax > 0.1 * scale))
            t_fail(__FILE__, __LINE__, "%s: largest |value| %g for scale %g", tname(types[k]), amax, scale);
    }
    uint64_t rng = 5;
    T_EQ_INT(nt_random_rows(NT_TYPE_F16, buf, 1, 64, 1.0f, &rng), 0);
    T_EQ_INT(nt_random_rows(NT_TYPE_MXFP4, buf, 1, 64, 1.0f, &rng), 0);
    T_EQ_INT(nt_random_rows(NT_TYPE_Q4_K, buf, 1, 100, 1.0f, &rng), 0);
}

int main(void)
{
    T_RUN(test_layouts);
    T_RUN(test_f16_all_values);
    T_RUN(test_f16_rounding);
    T_RUN(test_bf16);
    T_RUN(test_dequant_fixtures);
    T_RUN(test_mxfp4_ggml);
    T_RUN(test_dot_kernels);
    T_RUN(test_matvec_split);
    T_RUN(test_matmat);
    T_RUN(test_x8);
    T_RUN(test_zero_activations);
    T_RUN(test_nonfinite_activations);
    T_RUN(test_f16_activations);
    T_RUN(test_quantize_q8_0);
    T_RUN(test_random_rows);
    T_RUN(test_exp_shifted);
    T_RUN(test_glu);
    return t_done();
}
