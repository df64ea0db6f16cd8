/* quant.h — natter's quantized weight formats and the kernels the forward pass runs on them.
 *
 * Block layouts are ggml's (ggml/src/ggml-common.h), so GGUF tensor data is used in place:
 * a row of n values of type T is n / nt_type_block_len(T) blocks laid end to end.
 *
 * Two ways to take a dot product of a weight row with an f32 vector x:
 *
 *   nt_quant_dot(type, row, x, n)       "f32 path": the row is dequantized (in chunks, on the
 *                                    stack) and multiplied with x in f32. Accuracy: that of an
 *                                    f32 dot product of the exact dequantized values (bound:
 *                                    (n/8 + 8)·2^-24·sum|w·x|; measured ~5e-9·sum|w·x| at
 *                                    n = 768). Slower; for reference checks and odd tensors.
 *
 *   nt_quant_act_prepare + nt_quant_dot_act "activation path", the one the forward pass uses: x is
 *                                    converted ONCE per matrix into an activation buffer
 *                                    (nt_quant_act_bytes), then every row is dotted with it
 *                                    (nt_quant_dot_act, or nt_quant_matvec for a range of rows).
 *
 * What the activation buffer holds, per weight type:
 *   F32, BF16             x itself as f32 (a copy): exact inputs, f32 accumulation.
 *   F16                   x rounded to binary16 (nearest even, saturated at ±65504 rather
 *                         than made infinite), as ggml's F16 dot products take it, stored
 *                         twice: as n f32 values (what the AVX-512 matrix tiles read), then
 *                         as the n binary16 values (what the one-input decoding kernel reads
 *                         for long rows, QUANT_F16H_MIN_N, and AVX2's matrix tiles). Why:
 *                         decoding streams every weight once against one activation vector,
 *                         and with rows of 5632 (TinyLlama's ffn_down) an f32 vector of
 *                         22.5 KB no longer stays in a 32 KB L1 next to the weight stream:
 *                         the F16 matvec fell from 27 to 16 GB/s. The binary16 copy is half
 *                         that. Both copies hold the same values, so the tiles and the decoding
 *                         kernel still give the same bits. Each x is off by at most 2^-11·|x|
 *                         (2^-25 below the normal range); S·2^-11 on the dot product.
 *   QUANT_TYPE_F16_F32ACT F16 rows against x itself as f32: the key/value cache's attention,
 *                         whose queries and scores stay exact (kv.h).
 *   Q8_0, Q4_0, Q4_1,     quant_act32 blocks: 32 values as int8 with an f32 scale
 *   Q5_0, Q5_1, IQ4_NL,   (scale = max|x| / 127 over the block, round to nearest even) and
 *   MXFP4                 the block's integer sum. Products are summed exactly in integers;
 *                         only the per-block scaling is float.
 *   Q2_K, Q3_K, Q4_K,     quant_act256 blocks: 256 values as int8 with an f32 scale and int16
 *   Q5_K, Q6_K, IQ4_XS    sums of each 16 (ggml's block_q8_K idea, with our own layout;
 *                         Q4_K/Q5_K store the values in a permuted order: QUANT_K4_CHUNK).
 *   Accuracy of the int8 activations: each x is off by at most scale/2 = max|x|/254 of its
 *   block, so the dot product's error is at most sum over blocks of (max|x_b|/254)·sum|w| —
 *   the bound tests/test_quant.c holds every kernel to. Measured on a real quantized matrix
 *   (the fixtures' blk.0.ffn_down, 768 wide) with Gaussian activations and 1% outliers ×8:
 *   mean |error| / sum|w·x| ≈ 4-5e-4 for the 32-value formats, 0.8-1.2e-3 for the K formats
 *   (whose 256-value blocks share one scale), versus ~5e-9 on the f32 path. This is the same
 *   trade ggml makes (its q8_0 / q8_K activations). Prompts and decoding share these
 *   activations and kernels (nt_quant_matmat is per value nt_quant_dot_act), so a token's
 *   numbers never depend on the batch it came in.
 *
 * Kernel sets: scalar C (the reference, any CPU), AVX2 + FMA + F16C, and AVX-512 (F, BW, VL,
 * DQ, VNNI) + F16C + FMA; the best one the CPU has is picked at run time (quant_isa_*), so one
 * binary runs everywhere. The activation buffers are bit-identical across sets.
 *
 * Determinism: every kernel has a fixed reduction order, so equal inputs give bit-identical
 * outputs on every call, and nt_quant_matvec computes each row exactly as nt_quant_dot_act does
 * whatever the row range. The SIMD kernels and the scalar ones round differently (both agree
 * within the tolerances above); a process uses one of them for its whole life (chosen by
 * CPU feature detection at run time: see quant_isa_*).
 *
 * Nothing here allocates; nothing keeps pointers past a call. All functions are thread-safe.
 * Callers validate that n is a multiple of the block length (nt_type_row_bytes() != 0) and
 * that buffers are as long as stated; these functions assume it.
 */
#ifndef NATTER_QUANT_H
#define NATTER_QUANT_H

#include "natter.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------ block layouts ----- */

#define QUANT_QK32 32   /* values per block of the 32-value formats */
#define QUANT_QK_K 256  /* values per super-block of the K formats */

/* Halves (ggml_half) are stored as raw IEEE binary16 bits. */
typedef struct { uint16_t d; int8_t qs[32]; } quant_block_q8_0;          /* x = d·q */
typedef struct { uint16_t d; uint8_t qs[16]; } quant_block_q4_0;         /* x = d·(q - 8) */
typedef struct { uint16_t d, m; uint8_t qs[16]; } quant_block_q4_1;      /* x = d·q + m */
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } quant_block_q5_0; /* d·(q - 16) */
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } quant_block_q5_1; /* d·q + m */
/* In the 32-value nibble formats, byte j holds value j (low nibble) and value j + 16 (high
 * nibble); in Q5_x bit j of the little-endian u32 qh is value j's fifth bit. */

/* 8 sub-blocks of 32: x = d·sc[j]·q - dmin·m[j]; sc, m are 6-bit, packed in scales[12]. */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } quant_block_q4_K;
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32]; /* bit j of qh[l]: fifth bit of value l of sub-block j */
    uint8_t qs[128];
} quant_block_q5_K;
/* 16 sub-blocks of 16: x = d·scales[i]·(q - 32), q 6-bit from ql (low 4) and qh (high 2). */
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } quant_block_q6_K;
/* 16 sub-blocks of 16: x = d·(scales[i] & 15)·q - dmin·(scales[i] >> 4), q 2-bit. Within each
 * half of 128 values, value l of quarter k (32 values) is bits 2k..2k+1 of qs[32·half + l]. */
typedef struct { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; } quant_block_q2_K;
/* 16 sub-blocks of 16: x = d·(sc[i] - 32)·(q - 4·!h), q 2-bit in qs as in Q2_K, h bit 4·half + k
 * of hmask[l]; sc 6-bit, packed in scales[12]: low 4 bits of sc[i] in the low (i < 8) or high
 * nibble of scales[i % 8], top 2 bits at bits 2·(i / 4) of scales[8 + i % 4]. */
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } quant_block_q3_K;
/* 32 values: x = d·quant_iq4_values[q], q 4-bit, nibbles as in Q4_0. */
typedef struct { uint16_t d; uint8_t qs[16]; } quant_block_iq4_nl;
/* 8 sub-blocks of 32, each laid out as an IQ4_NL block's nibbles: x = d·(ls - 32)·values[q],
 * ls 6-bit: low 4 bits nibble (i & 1) of scales_l[i / 2], top 2 bits at bit 2i of scales_h. */
typedef struct { uint16_t d, scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } quant_block_iq4_xs;

/* The fixed non-linear codebook of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl). */
extern const int8_t quant_iq4_values[16];
/* MXFP4 (OCP microscaling FP4, gpt-oss's experts): 32 values x = 2^(e-127)·fp4(q), q an e2m1
 * code with nibbles as in Q4_0. Stored as ggml does: fp4 values doubled to whole numbers
 * (quant_mxfp4_values) and the scale halved (quant_e8m0_half), so both are exact. */
typedef struct { uint8_t e; uint8_t qs[16]; } quant_block_mxfp4;
extern const int8_t quant_mxfp4_values[16];
/* 2^(e-128) as a float (denormal below e = 2), exactly as ggml's GGML_E8M0_TO_FP32_HALF. */
float quant_e8m0_half(uint8_t e);

/* For the SIMD kernels: the 16 scales of a Q3_K block as bytes 0..63 (the signed scale is the
 * byte minus 32), unpacked a u32 word at a time: word w of the result takes its low nibbles
 * from scales[0..7] (low nibbles for w < 2, high ones after) and its top bits from bit pair
 * w of each byte of scales[8..11]. Returned as two u64 (scales 0..7, 8..15) so that the
 * caller builds its vector in registers (a vector load of bytes just stored in pieces
 * stalls). quant.c's scalar reference unpacks value by value. */
static inline void quant_q3_scales_unpack(const uint8_t s[12], uint64_t *lo, uint64_t *hi)
{
    uint32_t w[3];
    memcpy(w, s, 12);
    uint32_t o0 = (w[0] & 0x0f0f0f0fu) | ((w[2] << 4) & 0x30303030u);
    uint32_t o1 = (w[1] & 0x0f0f0f0fu) | ((w[2] << 2) & 0x30303030u);
    uint32_t o2 = ((w[0] >> 4) & 0x0f0f0f0fu) | (w[2] & 0x30303030u);
    uint32_t o3 = ((w[1] >> 4) & 0x0f0f0f0fu) | ((w[2] >> 2) & 0x30303030u);
    *lo = (uint64_t)o0 | (uint64_t)o1 << 32;
    *hi = (uint64_t)o2 | (uint64_t)o3 << 32;
}

/* For the SIMD kernels: the 8 signed sub-block scales (ls - 32) of an IQ4_XS block. */
static inline void quant_iq4xs_scales(const quant_block_iq4_xs *x, int16_t out[8])
{
    uint32_t lo;
    memcpy(&lo, x->scales_l, 4);
    for (int ib = 0; ib < 8; ib++)
        out[ib] = (int16_t)((int)(((lo >> (4 * ib)) & 0x0f) | (((uint32_t)x->scales_h >> (2 * ib)) & 3) << 4) - 32);
}

/* Activation blocks (natter's own, never stored in files). */
typedef struct {
    float d;       /* scale: x ≈ d·qs */
    int32_t isum;  /* sum of qs */
    int8_t qs[32];
} quant_act32;
typedef struct {
    float d;
    int16_t bsums[16]; /* bsums[i] = sum of the int8 values 16i .. 16i+15 */
    int8_t qs[256];    /* the values; for Q4_K/Q5_K in QUANT_K4_CHUNK order (below) */
} quant_act256;

/* Q4_K/Q5_K keep sub-blocks 2k and 2k+1 in the low and high nibbles of the same 32 bytes, so
 * one 64-byte load of their quants yields sub-blocks (0, 2) in its low nibbles and (1, 3) in
 * its high ones. Their activations are stored to match: within each 128 values the 32-value
 * chunks are kept in the order 0, 2, 1, 3. QUANT_K4_CHUNK(j) is the chunk (of 8) where
 * sub-block j's 32 activations are stored. */
#define QUANT_K4_CHUNK(j) (((j) & 4) | (((j) & 1) << 1) | (((j) & 2) >> 1))

/* ------------------------------------------------------------- scalar conversions ----- */

/* Exact binary16 → binary32 (subnormals, ±inf; NaN stays NaN with its payload, made quiet). */
float nt_quant_f16_to_f32(uint16_t h);
/* binary32 → binary16, round to nearest even; overflow gives ±inf, NaN a quiet NaN. */
uint16_t nt_quant_f32_to_f16(float f);
float nt_quant_bf16_to_f32(uint16_t h); /* exact */
/* binary32 → bfloat16, round to nearest even (as ggml); NaN stays a quiet NaN. */
uint16_t nt_quant_f32_to_bf16(float f);

/* Quantizes x[n] (n a multiple of 32) to Q8_0 blocks as ggml's reference quantizer does
 * (d = max|x|/127 rounded to f16, q = round(x/d)). For tests and writers of small files. */
void nt_quant_quantize_row_q8_0(const float *x, void *dst, int64_t n);

/* --------------------------------------------------------------- the kernel API ----- */

/* The functions below take a tensor type (NT_TYPE_*); the activation-path ones (act_bytes,
 * act_prepare, dot_act, matvec, matmat and their _isa forms) and dequant_row also take the
 * kernel-only types below (QUANT_TYPE_Q4_0X8 only where it says so). Files never have them. */
#define QUANT_TYPE_F16_F32ACT NT_TYPE_COUNT_
/* Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL and IQ4_XS weights
 * repacked in groups of QUANT_X8_ROWS rows (nt_quant_repack_x8), the form the forward pass multiplies such
 * matrices in (nt_model_pack, model.c). A group of 8 rows of nb blocks keeps its 8 × row_bytes
 * bytes (so a row r that is a multiple of 8 starts its group at W + r·row_bytes) as nb block groups: the 8 rows' f16 scales, then 32-byte pieces, each
 * holding 4 bytes of each row in row order:
 *   Q4_0X8 (144-byte groups): d[8], then piece L (0..3) bytes 4L..4L+3 of each row's qs (low
 *     nibbles: values 4L..4L+3, high nibbles: values 16+4L..16+4L+3).
 *   Q8_0X8 (272 bytes): d[8], then piece L (0..7) values 4L..4L+3 of each row plus 128, as
 *     unsigned bytes (XOR 0x80), which is what VPDPBUSD's unsigned operand wants.
 *   Q4_1X8, Q5_0X8, Q5_1X8 (160, 176, 192 bytes): d[8], m[8] (Q4_1, Q5_1), the fifth bits as
 *     one piece (Q5_0, Q5_1: row r's byte L holds the fifth bits of values 4L..4L+3 in its
 *     low nibble and of values 16+4L..16+4L+3 in its high one), then 4 pieces as Q4_0X8.
 *   Q4_KX8 (1152 bytes): d[8], dmin[8], the 12 packed scale bytes as three pieces (piece k:
 *     scale bytes 4k..4k+3 of each row), then piece 8k + L (k = 0..3, L = 0..7) bytes
 *     32k+4L..32k+4L+3 of each row's qs (low nibbles: sub-block 2k, high: 2k+1).
 *   Q5_KX8 (1408 bytes): as Q4_KX8 with, between the scales and the qs, 8 pieces of the qh
 *     bytes (piece L: qh[4L..4L+3] of each row, which hold the fifth bits of the values the
 *     qs pieces (k, L) hold, in the same byte positions).
 *   Q6_KX8 (1680 bytes): d[8], 4 pieces of the int8 scales (piece P: scales[4P..4P+3]), then
 *     for each half h and L = 0..7 three pieces: ql[64h + 4L..+3] and ql[64h + 32 + 4L..+3]
 *     (low nibbles: values 128h + 32c + 4L.. of quarter c = 0, 1 of the half, high nibbles
 *     those of quarter c + 2), and qh[32h + 4L..+3] (bits 2j and 2j+1: the top bits of
 *     quarter j's values there). Kept together so that a pass over a half reads forward:
 *     with all ql pieces first and the qh ones 1 KB later, decoding read two interleaved
 *     streams and fell from 21 to 8-13 GB/s from memory (as two rows read side by side do).
 *   Q2_KX8 (672 bytes): d[8], dmin[8], 4 pieces of the scale bytes (piece P: scales[4P..+3]),
 *     then piece 8h + L (h = 0, 1, L = 0..7): qs[32h + 4L..+3] of each row (bits 2j..2j+1:
 *     value 128h + 32j + 4L + k).
 *   Q3_KX8 (880 bytes): d[8], the 12 scale bytes as three pieces (as Q4_KX8's), then for
 *     L = 0..7 three pieces: hmask[4L..+3] and the qs pieces (0, L) and (1, L) as Q2_KX8's,
 *     kept together for the reason Q6_KX8's are.
 *   IQ4_NLX8 (144 bytes): as Q4_0X8 (the nibbles are codebook indices).
 *   IQ4_XSX8 (1088 bytes): d[8], the scales_l words of the 8 rows (32 bytes), their scales_h
 *     (16 bytes), then for each sub-block j (0..7) 4 pieces as Q4_0X8's of its 16 qs bytes
 *     (piece 4j + L: qs[16j + 4L..+3] of each row).
 * Why: these formats have a scale per 32 or 256 values, and the one-row kernels spent most of
 * their instructions on it (conversions, products, a float multiply-add, a horizontal sum per
 * row): Q4_0 ran at 13-16 GB/s from L2 as from memory (TinyLlama's shape decoded at 0.78x
 * llama.cpp, which repacks Q4_0 the same way), Q4_K at 20-23 GB/s from memory, and Q8_0
 * prompts took four vector operations per row, input and 64 values. Eight rows side by side
 * make int32 lane r of a 256-bit register row r's sum: quants against the activations'
 * 4-byte groups broadcast, scales converted 8 at a time, no horizontal sums. Each row's value
 * is, in every kernel set, bit for bit (q the signed value: Q4_0's nibble - 8, Q5_0's - 16,
 * Q8_0X8's byte - 128):
 *   Q4_0X8, Q8_0X8, Q5_0X8: acc = 0; per block: s = sum q·a (exact int32);
 *     acc = fmaf(s, d·d_a, acc).
 *   Q4_1X8, Q5_1X8: the same with q unsigned, then acc = fmaf(isum, m·d_a, acc) (isum: the
 *     block's activation sum).
 *   Q4_KX8, Q5_KX8: acc = 0; per super-block: s = sum_j sc_j · (sum of q·a over sub-block j),
 *     m = sum_j m_j · (the activations' sum over sub-block j) (exact int32);
 *     acc = fmaf(s, d·d_a, acc); acc = fmaf(-m, dmin·d_a, acc).
 *   Q6_KX8: acc = 0; per super-block: s = sum_g sc_g · (sum of (q - 32)·a over the 16 values
 *     of group g) (exact int32); acc = fmaf(s, d·d_a, acc).
 *   Q2_KX8: as Q4_KX8 with 16 sub-blocks of 16 values (scale and min the low and high
 *     nibbles of their byte).
 *   Q3_KX8: as Q6_KX8 with q the 3-bit value (-4..3) and 16 groups (signed scales ls - 32).
 *   IQ4_NLX8: as Q4_0X8 with q the codebook value (quant_iq4_values).
 *   IQ4_XSX8: acc = 0; per super-block: s = sum_j (ls_j - 32) · (sum of v·a over sub-block j,
 *     v the codebook values) (exact int32: |s| <= 8·32·32·127·127 < 2^31);
 *     acc = fmaf(s, d·d_a, acc).
 * They take their format's activation buffer. matvec and matmat take row ranges whose ends are
 * multiples of 8; there are no single-row functions (dequant_row, dot_act).
 *
 * F16X32, BF16X32: F16 or BF16 weights in groups of QUANT_F16X_ROWS = 32 rows, value k of the
 * group's row i at half k·32 + i (a group keeps its 32 × row_bytes bytes; n is any length).
 * Each row's value, in every kernel set: y = 0; for k = 0 .. n-1: y = fmaf(w_k, x_k, y), x the
 * activation buffer's floats (F16: binary16-rounded, as NT_TYPE_F16 takes them; BF16: x
 * itself). Why: the F16 dot kernels
 * reduce along the row, eight lanes and four accumulators, so a prompt tile of rows × inputs
 * had to run four passes over its data, spill its accumulators between them and sum each
 * output horizontally; it reached 50-75% of the FMA peak on a Zen 3. Here lane i of a vector
 * is row i: a tile of 16 rows × 6 inputs is 12 independent chains, two weight vectors and six
 * broadcasts a step, one pass, no horizontal sums, and decoding reads one forward stream of
 * 64 bytes a step (four chains). The sequential sum's error bound, n·2^-24·sum|w·x|, is what
 * test_quant already holds F16 kernels to. */
#define QUANT_TYPE_Q4_0X8 (NT_TYPE_COUNT_ + 1)
#define QUANT_TYPE_Q8_0X8 (NT_TYPE_COUNT_ + 2)
#define QUANT_TYPE_Q4_KX8 (NT_TYPE_COUNT_ + 3)
#define QUANT_TYPE_Q5_KX8 (NT_TYPE_COUNT_ + 4)
#define QUANT_TYPE_Q6_KX8 (NT_TYPE_COUNT_ + 5)
#define QUANT_TYPE_Q4_1X8 (NT_TYPE_COUNT_ + 6)
#define QUANT_TYPE_Q5_0X8 (NT_TYPE_COUNT_ + 7)
#define QUANT_TYPE_Q5_1X8 (NT_TYPE_COUNT_ + 8)
#define QUANT_TYPE_IQ4_NLX8 (NT_TYPE_COUNT_ + 9)
#define QUANT_TYPE_IQ4_XSX8 (NT_TYPE_COUNT_ + 10)
#define QUANT_TYPE_Q2_KX8 (NT_TYPE_COUNT_ + 11)
#define QUANT_TYPE_Q3_KX8 (NT_TYPE_COUNT_ + 12)
#define QUANT_TYPE_F16X32 (NT_TYPE_COUNT_ + 13)
#define QUANT_TYPE_BF16X32 (NT_TYPE_COUNT_ + 14)
/* F16X32 against x itself as f32 (no binary16 rounding), as QUANT_TYPE_F16_F32ACT is to F16:
 * the F16 key/value cache's attention in its X32 layout (kv.h). */
#define QUANT_TYPE_F16X32_F32ACT (NT_TYPE_COUNT_ + 15)
#define QUANT_X8_ROWS 8
#define QUANT_F16X_ROWS 32
#define QUANT_TYPE_COUNT_ (NT_TYPE_COUNT_ + 16)
/* Q4_1X8, Q5_0X8, Q5_1X8 (HM: has mins, HQ: has fifth bits): a block group's bytes and where
 * its fifth bits and quant pieces start (the mins at 16). */
#define QUANT_X8_45_BYTES(HM, HQ) ((size_t)8 * (size_t)(18 + 2 * (HM) + 4 * (HQ)))
#define QUANT_X8_45_QH(HM, HQ) (16 + 16 * (HM))
#define QUANT_X8_45_QS(HM, HQ) (16 + 16 * (HM) + 32 * (HQ))
/* F16 decoding reads the binary16 copy of its activations only for rows longer than this;
 * shorter ones read the f32 copy (the same values, so the same bits). Converting the
 * activations costs an instruction per 16 values, which pays only where the f32 vector no
 * longer stays in L1 next to the weight stream: SmolLM2's shape (rows of 576 and 1536)
 * decoded 10-14% slower with the binary16 copy everywhere, TinyLlama's (2048 and 5632) no
 * slower with this limit than without it (one thread, alternated runs). */
#define QUANT_F16H_MIN_N 2048
/* Decoding streams each weight once from memory, and the hardware prefetcher alone kept one
 * thread well below the memory's speed: TinyLlama's F16 shape decoded at 5.5 tokens/s (about
 * 11.5 GB/s) where llama.cpp reached 6.5. So the kernels that stream weights in small steps
 * (the float kernels' 1 × 1 form, the x8 tiles of 32-value blocks) ask for them into L2
 * QUANT_PREFETCH_AHEAD bytes ahead of where they read, a line at a time. One thread,
 * TinyLlama's shape, alternated runs: F16 5.5 → 7.4 tokens/s, Q8_0 11.6 → 12.9, Q4_0 20.4 →
 * 23.9, IQ4_NL 16-18 → 22. 2 KB ahead was best (1, 3, 4 and 8 KB were slower or no faster);
 * into L1 (T0) instead of L2 slowed Q4_K 21 → 16 tokens/s. Prefetching past the end of a
 * matrix is harmless (a hint, never a fault). */
#define QUANT_PREFETCH_AHEAD 2048
static inline void quant_prefetch(const void *p, size_t bytes)
{
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch((const char *)p + QUANT_PREFETCH_AHEAD + o, 0, 2);
}
/* Part k of n of the same for a block group of bytes bytes at g: the tiles of super-blocks
 * spread a group's prefetches over their n steps, where one burst of them at the group's
 * start (18-26 lines) made no gain or lost 2-3%. Q4_K, one thread: 20.7 → 22.6 tokens/s. */
static inline void quant_prefetch_part(const uint8_t *g, size_t bytes, int k, int n)
{
    const size_t from = bytes * (size_t)k / (size_t)n & ~(size_t)63, to = bytes * (size_t)(k + 1) / (size_t)n;
    for (size_t o = from; o < to; o += 64) __builtin_prefetch(g + QUANT_PREFETCH_AHEAD + o, 0, 2);
}
/* The largest finite binary16, where F16 activations saturate. */
#define QUANT_F16_MAX 65504.0f

/* The repacked type of a tensor type (QUANT_TYPE_Q4_0X8 for Q4_0, ... QUANT_TYPE_Q6_KX8 for
 * Q6_K; QUANT_TYPE_F16X32 and QUANT_TYPE_BF16X32 for F16 and BF16 where the active kernel set
 * is AVX2's), or -1 when it has none. */
int nt_quant_x8_type(int type);
/* Rows in a group of a repacked type (QUANT_X8_ROWS, or QUANT_F16X_ROWS for the X32 ones): the
 * matrix's rows and the row ranges its kernels take are multiples of it. */
int nt_quant_x8_rows(int x8_type);
/* Rows a one-input call (matvec, or matmat of one input) of this type should get at least to
 * run at full speed: F16X32's and BF16X32's read three groups side by side (96 rows; one
 * group alone streams at 15-18 GB/s from memory on a Zen 3, three at 23-26), and under AVX2
 * Q8_0X8's (three groups of 8: 96 rows, whole groups of three); 0 for the rest. */
int nt_quant_mv_rows(int type);
/* Writes the rows_ of matrix src of that tensor type (n values a row, rows_ a multiple of
 * its group's rows) to dst (the same number of bytes, not overlapping src) as its x8 type. */
void nt_quant_repack_x8(int type, const void *src, void *dst, int64_t rows_, int64_t n);

/* Is type one this module computes with? (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
 * Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4; the same list as nt_type_supported;
 * MXFP4 has only the portable kernels so far.) */
bool nt_quant_type_supported(int type);

/* Dequantizes n values (a multiple of the block length) from src into dst. Bit-identical to
 * ggml's dequantize_row_* for every supported type. */
void nt_quant_dequant_row(int type, const void *src, float *dst, int64_t n);

/* Dequantizes the tile rows [row0, row1) × columns
 * [col0, col1) of the matrix W (rows of row_bytes bytes) into dst, row r going to
 * dst + (r - row0)·ld. col0 and col1 must be multiples of the block length. No engine path
 * calls it now (tests/test_quant.c checks it). */
void nt_quant_dequant_rows(int type, const void *W, size_t row_bytes, int64_t row0, int64_t row1,
                        int64_t col0, int64_t col1, float *dst, int64_t ld);

/* f32 path (see the top of this file): dot of one row of n values with x[n]. */
float nt_quant_dot(int type, const void *row, const float *x, int64_t n);

/* Activation path. Bytes of the activation buffer for a row length n (a multiple of the
 * block length); the buffer must be aligned to at least 4 bytes (malloc is fine). */
size_t nt_quant_act_bytes(int type, int64_t n);
/* Converts x[n] into the activation buffer for weights of this type. */
void nt_quant_act_prepare(int type, const float *x, void *act, int64_t n);
/* Dot of one weight row with a prepared activation buffer. */
float nt_quant_dot_act(int type, const void *row, const void *act, int64_t n);
/* y[r] = row r of W · x for r in [row0, row1) (y is indexed by r, not r - row0). Each y[r]
 * is bit-identical to nt_quant_dot_act(type, W + r·row_bytes, act, n), so splitting rows among
 * threads never changes results. */
void nt_quant_matvec(int type, const void *W, size_t row_bytes, int64_t row0, int64_t row1,
                  const void *act, int64_t n, float *y);

/* Batched form, the one prompts run on: Y[t·ldy + r] = row r of W · x_t for rows
 * [row0, row1) and nt inputs, whose activation buffers (nt_quant_act_bytes(type, n) bytes
 * each) start act_stride bytes apart in acts. Every value is bit-identical to
 * nt_quant_dot_act(type, row r, act t, n), so a batch gives exactly what token-by-token
 * decoding gives, whatever the batch size or row range. The SIMD kernels of the main types
 * work in register tiles of a few rows × a few inputs (quant_avx512.c), so each weight is
 * loaded and unpacked once per tile of inputs, not once per input. */
#define QUANT_MATMAT_GROUP 24 /* inputs per pass over the rows (a multiple of every tile width) */
void nt_quant_matmat(int type, const void *W, size_t row_bytes, int64_t row0, int64_t row1,
                     const void *acts, size_t act_stride, int64_t nt, int64_t n, float *Y,
                     int64_t ldy);

/* f32 dot product of a[n] and b[n] with the active kernel (fixed order). */
float nt_quant_dot_f32(const float *a, const float *b, int64_t n);
/* The unnormalised softmax of scaled values: s[i] = v[i] · scale (rounded to float, as a
 * separate pass would), then v[i] = e^(s[i] - max(s)) in place (n >= 1, scale > 0); returns
 * their sum, accumulated in double. Attention scales its scores here so that the scaling runs
 * a vector at a time too (a plain loop in forward.c is not vectorised at -O2). The scalar
 * set uses libm's expf; the SIMD sets their own polynomial (within 2 ulp of e^x; 0 below
 * -87.3), n values a vector at a time. Fixed order: the same input gives the same bits on
 * every call. */
double nt_quant_exp_shifted(float *v, int64_t n, float scale);
double nt_quant_exp_shifted_isa(int isa, float *v, int64_t n, float scale);
/* The gated SiLU of a feed-forward block: g[i] = silu(g[i]) · u[i], silu(x) = x / (1 + e^-x).
 * The scalar set evaluates exactly that with libm's expf; the SIMD sets as x · σ(x), σ from
 * their exponential of -|x| (σ(x) = 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below, so the
 * exponential never overflows), within a few ulp of the exact curve. Element by element: a
 * value does not depend on n or on where it sits in the call. */
void nt_quant_swiglu(float *g, const float *u, int64_t n);
void nt_quant_swiglu_isa(int isa, float *g, const float *u, int64_t n);
/* The same with GELU in its tanh form (PyTorch's gelu(approximate="tanh"), Gemma's
 * hidden_activation): g[i] = gelu(g[i]) · u[i], gelu(x) = x/2 · (1 + tanh(y)), y =
 * √(2/π)·x·(1 + 0.044715·x²), in float like ggml (which reads it from a table indexed by the
 * input rounded to half precision: under 1e-3 relative from the exact curve). Every set
 * evaluates it as x · σ(2y), the same curve (1 + tanh y = 2σ(2y)) without the cancellation
 * of 1 + tanh y where tanh y nears -1 (30% off at x = -5 in float): the scalar set as
 * x / (1 + expf(-2y)), the SIMD sets through their σ. */
void nt_quant_geglu(float *g, const float *u, int64_t n);
void nt_quant_geglu_isa(int isa, float *g, const float *u, int64_t n);

/* -------------------------------------------------- kernel sets, for tests and tools ----- */

enum quant_isa {
    QUANT_ISA_SCALAR = 0, /* portable C, the reference */
    QUANT_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C (Haswell, Zen 1 and up) */
    QUANT_ISA_AVX512 = 2, /* AVX-512 F/BW/VL/DQ + VNNI + F16C + FMA (Ice Lake, Zen 4 and up) */
    QUANT_ISA_COUNT_
};

bool nt_quant_isa_available(int isa);   /* does this CPU (and build) have it? */
/* The set the functions above use: the best available, or at most the one named by the
 * environment variable NATTER_ISA ("scalar", "avx2", "avx512"), read once. */
int nt_quant_isa_active(void);
const char *nt_quant_isa_name(int isa); /* "scalar", "avx2", "avx512" */

/* The same operations with an explicit kernel set (isa must be available). Types without a
 * kernel in that set fall back to the scalar one. */
void nt_quant_dequant_row_isa(int isa, int type, const void *src, float *dst, int64_t n);
void nt_quant_act_prepare_isa(int isa, int type, const float *x, void *act, int64_t n);
float nt_quant_dot_act_isa(int isa, int type, const void *row, const void *act, int64_t n);
float nt_quant_dot_isa(int isa, int type, const void *row, const float *x, int64_t n);
void nt_quant_matvec_isa(int isa, int type, const void *W, size_t row_bytes, int64_t row0,
                      int64_t row1, const void *act, int64_t n, float *y);
void nt_quant_matmat_isa(int isa, int type, const void *W, size_t row_bytes, int64_t row0,
                         int64_t row1, const void *acts, size_t act_stride, int64_t nt, int64_t n,
                         float *Y, int64_t ldy);

/* ------------------------------------------------------ internal: kernel tables ----- */

/* One kernel set for one type. NULL members mean "use the scalar kernel". */
typedef struct quant_kernels {
    void (*dequant)(const void *src, float *dst, int64_t n);
    void (*act_prepare)(const float *x, void *act, int64_t n);
    float (*dot_act)(const void *row, const void *act, int64_t n);
    /* nt_quant_matvec's loop with the dot inlined; must give exactly dot_act's results
     * (QUANT_TYPE_Q4_0X8, which has no dot_act: the scalar set's matvec's) */
    void (*matvec)(const void *W, size_t row_bytes, int64_t row0, int64_t row1, const void *act,
                   int64_t n, float *y);
    /* nt_quant_matmat for one group of inputs (acts nt × act_bytes), same rule */
    void (*matmat)(const void *W, size_t row_bytes, int64_t row0, int64_t row1, const void *acts,
                   size_t act_bytes, int64_t nt, int64_t n, float *Y, int64_t ldy);
} quant_kernels;

/* Defined in quant_avx2.c and quant_avx512.c: true when the CPU has every feature the set
 * needs; the kernels of a set (never NULL; members may be NULL); its f32 dot product. */
bool nt_quant_avx2_usable(void);
const quant_kernels *nt_quant_avx2_kernels(int type);
float nt_quant_avx2_dot_f32(const float *a, const float *b, int64_t n);
double nt_quant_avx2_exp_shifted(float *v, int64_t n, float scale);
void nt_quant_avx2_swiglu(float *g, const float *u, int64_t n);
void nt_quant_avx2_geglu(float *g, const float *u, int64_t n);
bool nt_quant_avx512_usable(void);
/* The AVX-512 kernels for type (never NULL; members may be NULL). */
const quant_kernels *nt_quant_avx512_kernels(int type);
float nt_quant_avx512_dot_f32(const float *a, const float *b, int64_t n);
double nt_quant_avx512_exp_shifted(float *v, int64_t n, float scale);
void nt_quant_avx512_swiglu(float *g, const float *u, int64_t n);
void nt_quant_avx512_geglu(float *g, const float *u, int64_t n);

/* The row-level entry points of a SIMD kernel set, from its per-row kernel k_T (compiled with
 * the set's target attribute ATTR): one dot, rows [r0, r1) against one activation, and the same
 * rows against nt activations. Every value is k_T of one row and one activation, so the
 * results never depend on how rows or tokens are grouped. */
#define QUANT_DEF_ROW_FNS(ATTR, T)                                                           \
    ATTR static float dot_##T(const void *row, const void *act, int64_t n)                   \
    {                                                                                        \
        return k_##T(row, act, n);                                                           \
    }                                                                                        \
    ATTR static void mv_##T(const void *W, size_t row_bytes, int64_t r0, int64_t r1,         \
                            const void *act, int64_t n, float *y)                            \
    {                                                                                        \
        for (int64_t r = r0; r < r1; r++)                                                    \
            y[r] = k_##T((const uint8_t *)W + (size_t)r * row_bytes, act, n);                \
    }                                                                                        \
    ATTR static void mm_##T(const void *W, size_t row_bytes, int64_t r0, int64_t r1,         \
                            const void *acts, size_t ab, int64_t nt, int64_t n, float *Y,    \
                            int64_t ldy)                                                     \
    {                                                                                        \
        for (int64_t r = r0; r < r1; r++)                                                    \
            for (int64_t t = 0; t < nt; t++)                                                 \
                Y[t * ldy + r] = k_##T((const uint8_t *)W + (size_t)r * row_bytes,           \
                                       (const uint8_t *)acts + (size_t)t * ab, n);           \
    }

/* The same entry points from a tile kernel tile_T(W, rb, A, ab, n, Y, ldy, R, T) (see
 * quant_avx512.c: R rows × T activations, R and T compile-time constants): matmat in tiles of
 * RM rows × TM inputs (fewer inputs at the end of a group, one row at a time at the end of
 * the range), matvec in tiles of RV rows, dot as a 1 × 1 tile. Every value is the tile
 * kernel's arithmetic on one row and one input, the same in every tile shape, so results
 * never depend on how rows or inputs are grouped. */
/* The matvec and matmat of an x8 type (QUANT_TYPE_Q4_0X8, ...) around a kernel set's
 * TILE(group, n, acts, ab, Y, ldy, T): one group of 8 rows of n values × T inputs (a compile-time
 * constant, at most TM <= 8). */
#define QUANT_X8_TILE_CALL(TILE, TT) TILE(g, n, a + (size_t)t * ab, ab, Y + t * ldy + r, ldy, TT)
#define QUANT_DEF_X8_FNS(ATTR, NAME, TILE, TM)                                               \
    QUANT_DEF_X8_MM(ATTR, NAME, TILE, TM)                                                    \
    ATTR static void mv_##NAME(const void *W, size_t row_bytes, int64_t r0, int64_t r1,      \
                               const void *act, int64_t n, float *y)                         \
    {                                                                                        \
        mm_##NAME(W, row_bytes, r0, r1, act, 0, 1, n, y, 0);                                 \
    }
/* mm_NAME alone, for a set that reads several groups side by side when decoding (mv_NAME of
 * its own, the same steps per row). */
#define QUANT_DEF_X8_MM(ATTR, NAME, TILE, TM)                                                \
    ATTR static void mm_##NAME(const void *W, size_t row_bytes, int64_t r0, int64_t r1,      \
                               const void *acts, size_t ab, int64_t nt, int64_t n, float *Y, \
                               int64_t ldy)                                                  \
    {                                                                                        \
        const uint8_t *a = acts;                                                             \
        for (int64_t r = r0; r < r1; r += QUANT_X8_ROWS) {                                   \
            const uint8_t *g = (const uint8_t *)W + (size_t)r * row_bytes;                   \
            int64_t t = 0;                                                                   \
            for (; t + (TM) <= nt; t += (TM)) QUANT_X8_TILE_CALL(TILE, TM);                  \
            if ((TM) > 4 && nt - t >= 4) {                                                   \
                QUANT_X8_TILE_CALL(TILE, (TM) > 4 ? 4 : 1);                                  \
                t += 4;                                                                      \
            }                                                                                \
            switch (nt - t) {                                                                \
            case 1: QUANT_X8_TILE_CALL(TILE, 1); break;                                      \
            case 2: QUANT_X8_TILE_CALL(TILE, (TM) > 2 ? 2 : 1); break;                       \
            case 3: QUANT_X8_TILE_CALL(TILE, (TM) > 3 ? 3 : 1); break;                       \
            default: break;                                                                  \
            }                                                                                \
        }                                                                                    \
    }

/* The x8 types' rows of a kernel set's table: each set names its own act32_prep, act256_prep,
 * act256_k4_prep and mv_/mm_ functions (QUANT_DEF_X8_FNS). */
#define QUANT_X8_KERNELS                                                                     \
    [QUANT_TYPE_Q4_0X8] = {NULL, act32_prep, NULL, mv_q4_0x8, mm_q4_0x8},                    \
    [QUANT_TYPE_Q8_0X8] = {NULL, act32_prep, NULL, mv_q8_0x8, mm_q8_0x8},                    \
    [QUANT_TYPE_Q4_1X8] = {NULL, act32_prep, NULL, mv_q4_1x8, mm_q4_1x8},                    \
    [QUANT_TYPE_Q5_0X8] = {NULL, act32_prep, NULL, mv_q5_0x8, mm_q5_0x8},                    \
    [QUANT_TYPE_Q5_1X8] = {NULL, act32_prep, NULL, mv_q5_1x8, mm_q5_1x8},                    \
    [QUANT_TYPE_Q4_KX8] = {NULL, act256_k4_prep, NULL, mv_q4_kx8, mm_q4_kx8},                \
    [QUANT_TYPE_Q5_KX8] = {NULL, act256_k4_prep, NULL, mv_q5_kx8, mm_q5_kx8},                \
    [QUANT_TYPE_Q6_KX8] = {NULL, act256_prep, NULL, mv_q6_kx8, mm_q6_kx8},                \
    [QUANT_TYPE_IQ4_NLX8] = {NULL, act32_prep, NULL, mv_iq4_nlx8, mm_iq4_nlx8},              \
    [QUANT_TYPE_IQ4_XSX8] = {NULL, act256_prep, NULL, mv_iq4_xsx8, mm_iq4_xsx8},              \
    [QUANT_TYPE_Q2_KX8] = {NULL, act256_prep, NULL, mv_q2_kx8, mm_q2_kx8},                    \
    [QUANT_TYPE_Q3_KX8] = {NULL, act256_prep, NULL, mv_q3_kx8, mm_q3_kx8},

/* Q4_1X8's, Q5_0X8's and Q5_1X8's pieces for the AVX2 and AVX-512 sets (AVX2 instructions
 * only): piece L's low-nibble values (4L.. of each row) and high ones (16+4L..), with the
 * fifth bits when HQ: row r's byte L of the fifth-bit piece spread over its 4 bytes, bit k
 * (low) and 4+k (high) tested per byte. */
#define QUANT_DEF_X8_45_HELPERS(ATTR)                                                        \
    ATTR static inline void x8_45_piece(const uint8_t *blk, int hm, int hq, int L, __m256i *lo, \
                                        __m256i *hi)                                         \
    {                                                                                        \
        const __m256i m4 = _mm256_set1_epi8(0x0f);                                           \
        const __m256i x = _mm256_loadu_si256((const __m256i *)(blk + QUANT_X8_45_QS(hm, hq) + 32 * L)); \
        *lo = _mm256_and_si256(x, m4);                                                       \
        *hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);                                 \
        if (hq) {                                                                            \
            const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(L * 0x01010101),          \
                                                 _mm256_setr_epi32(0, 0x04040404, 0x08080808, 0x0c0c0c0c, \
                                                                   0, 0x04040404, 0x08080808, 0x0c0c0c0c)); \
            const __m256i h = _mm256_shuffle_epi8(                                           \
                _mm256_loadu_si256((const __m256i *)(blk + QUANT_X8_45_QH(hm, hq))), idx);  \
            const __m256i bl = _mm256_set1_epi32(0x08040201), bh = _mm256_set1_epi32((int)0x80402010u); \
            const __m256i b16 = _mm256_set1_epi8(0x10);                                      \
            *lo = _mm256_or_si256(*lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bl), bl), b16)); \
            *hi = _mm256_or_si256(*hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bh), bh), b16)); \
        }                                                                                    \
    }                                                                                        \
    /* the rule's multiply-adds for one input: s its exact sum */                            \
    ATTR static inline __m256 x8_45_acc(__m256 acc, __m256i s, const uint8_t *blk, int hm,   \
                                        const quant_act32 *a)                                \
    {                                                                                        \
        const __m256 da = _mm256_set1_ps(a->d);                                              \
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));             \
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(d, da), acc);             \
        if (hm) {                                                                            \
            const __m256 m = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16)));  \
            acc = _mm256_fmadd_ps(_mm256_set1_ps((float)a->isum), _mm256_mul_ps(m, da), acc); \
        }                                                                                    \
        return acc;                                                                          \
    }

/* IQ4_NLX8's and IQ4_XSX8's helpers for the AVX2 and AVX-512 sets (AVX2 instructions only):
 * the codebook in both 128-bit lanes (XOR 0x80 flips it to value + 128, VPDPBUSD's unsigned
 * operand); a piece's low and high nibbles looked up; IQ4_XSX8's scales_l and scales_h
 * words (one per lane) and from them sub-block j's scales (ls_j - 32) as int32 per row. */
#define QUANT_DEF_IQ4X8_HELPERS(ATTR)                                                        \
    ATTR static inline __m256i iq4x8_table(int flip)                                         \
    {                                                                                        \
        const __m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)quant_iq4_values)); \
        return flip ? _mm256_xor_si256(t, _mm256_set1_epi8((char)0x80)) : t;                \
    }                                                                                        \
    ATTR static inline void iq4x8_piece(const uint8_t *p, __m256i tbl, __m256i *lo, __m256i *hi) \
    {                                                                                        \
        const __m256i m4 = _mm256_set1_epi8(0x0f), x = _mm256_loadu_si256((const __m256i *)p); \
        *lo = _mm256_shuffle_epi8(tbl, _mm256_and_si256(x, m4));                             \
        *hi = _mm256_shuffle_epi8(tbl, _mm256_and_si256(_mm256_srli_epi16(x, 4), m4));       \
    }                                                                                        \
    ATTR static inline void iq4xsx8_words(const uint8_t *blk, __m256i *SL, __m256i *SH)      \
    {                                                                                        \
        *SL = _mm256_loadu_si256((const __m256i *)(blk + 16));                               \
        *SH = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(blk + 48)));           \
    }                                                                                        \
    ATTR static inline __m256i iq4xsx8_scale(__m256i SL, __m256i SH, int j)                  \
    {                                                                                        \
        const __m256i l = _mm256_and_si256(_mm256_srli_epi32(SL, 4 * j), _mm256_set1_epi32(15)); \
        const __m256i h = _mm256_and_si256(_mm256_srli_epi32(SH, 2 * j), _mm256_set1_epi32(3)); \
        return _mm256_sub_epi32(_mm256_or_si256(l, _mm256_slli_epi32(h, 4)), _mm256_set1_epi32(32)); \
    }

/* Q4_KX8's and Q5_KX8's scales, mins and float step for the AVX2 and AVX-512 sets (AVX2 instructions
 * only): the 8 rows' sc0..sc3 and sc4..sc7 bytes per lane (as k4_unpack, for 8 rows at once)
 * into SC[2], their mins as int16 pairs (m0, m2), (m1, m3), (m4, m6), (m5, m7) into MW[4];
 * one input's sum_j m_j · (its sum over sub-block j) per row: VPMADDWD of those pairs
 * against the input's sub-block sums so paired; and the rule's two multiply-adds. */
#define QUANT_DEF_K4X8_HELPERS(ATTR)                                                         \
    ATTR static inline void k4x8_scales(const uint8_t *blk, __m256i SC[2], __m256i MW[4])    \
    {                                                                                        \
        const __m256i m4 = _mm256_set1_epi8(0x0f), m3f = _mm256_set1_epi8(0x3f);             \
        const __m256i m03 = _mm256_set1_epi8(0x03), w00ff = _mm256_set1_epi16(0x00ff);       \
        const __m256i W0 = _mm256_loadu_si256((const __m256i *)(blk + 32));                  \
        const __m256i W1 = _mm256_loadu_si256((const __m256i *)(blk + 64));                  \
        const __m256i W2 = _mm256_loadu_si256((const __m256i *)(blk + 96));                  \
        SC[0] = _mm256_and_si256(W0, m3f);                                                   \
        SC[1] = _mm256_or_si256(_mm256_and_si256(W2, m4),                                    \
                                _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(W0, 6), m03), 4)); \
        const __m256i M03 = _mm256_and_si256(W1, m3f);                                       \
        const __m256i M47 = _mm256_or_si256(                                                 \
            _mm256_and_si256(_mm256_srli_epi32(W2, 4), m4),                                  \
            _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(W1, 6), m03), 4));          \
        MW[0] = _mm256_and_si256(M03, w00ff);                                                \
        MW[1] = _mm256_srli_epi16(M03, 8);                                                   \
        MW[2] = _mm256_and_si256(M47, w00ff);                                                \
        MW[3] = _mm256_srli_epi16(M47, 8);                                                   \
    }                                                                                        \
    ATTR static inline __m256i k4x8_mins(const quant_act256 *a, const __m256i MW[4])         \
    {                                                                                        \
        const __m128i pairs = _mm_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15); \
        const __m256i bw = _mm256_broadcastsi128_si256(_mm_shuffle_epi8(                     \
            _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)a->bsums),                       \
                           _mm_loadu_si128((const __m128i *)(a->bsums + 8))), pairs));       \
        return _mm256_add_epi32(                                                             \
            _mm256_add_epi32(_mm256_madd_epi16(MW[0], _mm256_shuffle_epi32(bw, 0x00)),       \
                             _mm256_madd_epi16(MW[1], _mm256_shuffle_epi32(bw, 0x55))),      \
            _mm256_add_epi32(_mm256_madd_epi16(MW[2], _mm256_shuffle_epi32(bw, 0xaa)),       \
                             _mm256_madd_epi16(MW[3], _mm256_shuffle_epi32(bw, 0xff))));     \
    }                                                                                        \
    /* piece (k, L)'s values: low nibbles sub-block 2k, high 2k+1, with Q5_KX8's fifth bits */ \
    ATTR static inline void k4x8_piece(const uint8_t *blk, int qh, int k, int L, __m256i *lo, \
                                       __m256i *hi)                                          \
    {                                                                                        \
        const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10);              \
        const __m256i x = _mm256_loadu_si256((const __m256i *)(blk + (qh ? 384 : 128) + 32 * (8 * k + L))); \
        *lo = _mm256_and_si256(x, m4);                                                       \
        *hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);                                 \
        if (qh) {                                                                            \
            const __m256i h = _mm256_srli_epi16(_mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * L)), 2 * k); \
            *lo = _mm256_or_si256(*lo, _mm256_and_si256(_mm256_slli_epi16(h, 4), b4));       \
            *hi = _mm256_or_si256(*hi, _mm256_and_si256(_mm256_slli_epi16(h, 3), b4));       \
        }                                                                                    \
    }                                                                                        \
    /* the float step of one super-block for one input: isc = its sum_j sc_j · (q·a)_j */    \
    ATTR static inline __m256 k4x8_acc(__m256 acc, __m256i isc, const uint8_t *blk,          \
                                       const quant_act256 *a, const __m256i MW[4])           \
    {                                                                                        \
        const __m256 da = _mm256_set1_ps(a->d);                                              \
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));             \
        const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16)));   \
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isc), _mm256_mul_ps(d, da), acc);           \
        return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(k4x8_mins(a, MW)), _mm256_mul_ps(dmin, da), acc); \
    }

/* The block group bytes of Q6_KX8, Q3_KX8 and Q2_KX8 (K: 6, 3, 2), and the three as tiles of
 * QUANT_DEF_X8_FNS: each kernel set defines its x8_tile_kg(g, n, A, ab, Y, ldy, T, K). */
#define QUANT_X8_KG_BYTES(K)                                                                 \
    (QUANT_X8_ROWS * ((K) == 6 ? sizeof(quant_block_q6_K)                                    \
                      : (K) == 3 ? sizeof(quant_block_q3_K) : sizeof(quant_block_q2_K)))
#define QUANT_X8_TILE_Q6K(g, n, A, ab, Y, ldy, T) x8_tile_kg(g, n, A, ab, Y, ldy, T, 6)
#define QUANT_X8_TILE_Q3K(g, n, A, ab, Y, ldy, T) x8_tile_kg(g, n, A, ab, Y, ldy, T, 3)
#define QUANT_X8_TILE_Q2K(g, n, A, ab, Y, ldy, T) x8_tile_kg(g, n, A, ab, Y, ldy, T, 2)

/* Q6_KX8's, Q3_KX8's and Q2_KX8's pieces, scales and float steps for the AVX2 and AVX-512
 * sets (AVX2 instructions only). Their scales (Q2_K's mins too) end up as 4 pieces of bytes,
 * piece k holding groups 4k..4k+3 of each row: x8_byte32 takes byte k of each lane as a
 * signed int32, x8_bsum_dot one input's sum_g byte_g · bsums[g] per row (VPMADDWD of the
 * even and odd bytes as int16 against the input's bsums paired alike).
 * Q6_KX8: quarter j of half h, piece L: the 8 rows' 6-bit values (0..63).
 * Q2_KX8 and Q3_KX8: the 2-bit values (0..3), with Q3_K's high bit (0..7: value + 4). */
#define QUANT_DEF_Q6X8_HELPERS(ATTR)                                                         \
    ATTR static inline __m256i x8_byte32(__m256i p, int k)                                   \
    {                                                                                        \
        return _mm256_srai_epi32(_mm256_slli_epi32(p, 24 - 8 * k), 24);                      \
    }                                                                                        \
    ATTR static inline __m256i x8_bsum_dot(const __m256i P[4], const quant_act256 *a)        \
    {                                                                                        \
        const __m128i pairs = _mm_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15); \
        __m256i o = _mm256_setzero_si256();                                                  \
        for (int half = 0; half < 2; half++) {                                               \
            const __m256i bw = _mm256_broadcastsi128_si256(                                  \
                _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(a->bsums + 8 * half)), pairs)); \
            for (int q = 0; q < 2; q++) {                                                    \
                const __m256i p = P[2 * half + q];                                           \
                const __m256i ev = _mm256_srai_epi16(_mm256_slli_epi16(p, 8), 8);            \
                const __m256i od = _mm256_srai_epi16(p, 8);                                  \
                const __m256i b_ev = q ? _mm256_shuffle_epi32(bw, 0xaa) : _mm256_shuffle_epi32(bw, 0x00); \
                const __m256i b_od = q ? _mm256_shuffle_epi32(bw, 0xff) : _mm256_shuffle_epi32(bw, 0x55); \
                o = _mm256_add_epi32(o, _mm256_add_epi32(_mm256_madd_epi16(ev, b_ev),        \
                                                         _mm256_madd_epi16(od, b_od)));      \
            }                                                                                \
        }                                                                                    \
        return o;                                                                            \
    }                                                                                        \
    ATTR static inline __m256i q6x8_piece(const uint8_t *blk, int h, int j, int L)           \
    {                                                                                        \
        const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(0x03);              \
        const uint8_t *tri = blk + 144 + 96 * (8 * h + L);                                   \
        const __m256i ql = _mm256_loadu_si256((const __m256i *)(tri + 32 * (j & 1)));         \
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(tri + 64));                  \
        const __m256i lo = j < 2 ? _mm256_and_si256(ql, m4) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), m4); \
        return _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), m3), 4)); \
    }                                                                                        \
    ATTR static inline void q6x8_scales(const uint8_t *blk, __m256i S[4])                    \
    {                                                                                        \
        for (int k = 0; k < 4; k++) S[k] = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * k)); \
    }                                                                                        \
    /* the rule's multiply-add for one input: isc = its sum_g sc_g · (q·a)_g */              \
    ATTR static inline __m256 q6x8_acc(__m256 acc, __m256i isc, const uint8_t *blk,          \
                                       const quant_act256 *a, const __m256i S[4])            \
    {                                                                                        \
        const __m256i s = _mm256_sub_epi32(isc, _mm256_slli_epi32(x8_bsum_dot(S, a), 5));    \
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));             \
        return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(d, _mm256_set1_ps(a->d)), acc); \
    }                                                                                        \
    ATTR static inline __m256i q23x8_piece(const uint8_t *blk, int q3, int h, int j, int L)  \
    {                                                                                        \
        const __m256i m3 = _mm256_set1_epi8(0x03);                                          \
        if (!q3)                                                                             \
            return _mm256_and_si256(                                                         \
                _mm256_srli_epi16(_mm256_loadu_si256((const __m256i *)(blk + 160 + 32 * (8 * h + L))), 2 * j), m3); \
        const uint8_t *tri = blk + 112 + 96 * L;                                             \
        const __m256i q = _mm256_and_si256(                                                  \
            _mm256_srli_epi16(_mm256_loadu_si256((const __m256i *)(tri + 32 + 32 * h)), 2 * j), m3); \
        const __m256i hm = _mm256_loadu_si256((const __m256i *)tri);                         \
        const int sh = 4 * h + j; /* the high bit's position, moved to bit 2 */               \
        const __m256i hb = sh >= 2 ? _mm256_srli_epi16(hm, sh - 2) : _mm256_slli_epi16(hm, 2 - sh); \
        return _mm256_or_si256(q, _mm256_and_si256(hb, _mm256_set1_epi8(0x04)));             \
    }                                                                                        \
    /* Q3_KX8's signed scales (as quant_q3_scales_unpack, 8 rows at once); Q2_KX8's scales   \
     * and mins (M) */                                                                       \
    ATTR static inline void q23x8_scales(const uint8_t *blk, int q3, __m256i S[4], __m256i M[4]) \
    {                                                                                        \
        const __m256i m4 = _mm256_set1_epi8(0x0f);                                           \
        if (!q3) {                                                                           \
            for (int k = 0; k < 4; k++) {                                                    \
                const __m256i p = _mm256_loadu_si256((const __m256i *)(blk + 32 + 32 * k));  \
                S[k] = _mm256_and_si256(p, m4);                                              \
                M[k] = _mm256_and_si256(_mm256_srli_epi16(p, 4), m4);                        \
            }                                                                                \
            return;                                                                          \
        }                                                                                    \
        const __m256i m30 = _mm256_set1_epi8(0x30), c32 = _mm256_set1_epi8(32);              \
        const __m256i W0 = _mm256_loadu_si256((const __m256i *)(blk + 16));                  \
        const __m256i W1 = _mm256_loadu_si256((const __m256i *)(blk + 48));                  \
        const __m256i W2 = _mm256_loadu_si256((const __m256i *)(blk + 80));                  \
        S[0] = _mm256_or_si256(_mm256_and_si256(W0, m4), _mm256_and_si256(_mm256_slli_epi32(W2, 4), m30)); \
        S[1] = _mm256_or_si256(_mm256_and_si256(W1, m4), _mm256_and_si256(_mm256_slli_epi32(W2, 2), m30)); \
        S[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(W0, 4), m4), _mm256_and_si256(W2, m30)); \
        S[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(W1, 4), m4),               \
                               _mm256_and_si256(_mm256_srli_epi32(W2, 2), m30));             \
        for (int k = 0; k < 4; k++) S[k] = _mm256_sub_epi8(S[k], c32);                       \
    }                                                                                        \
    /* the rule's multiply-adds for one input: isc = its sum_g sc_g · (q·a)_g with Q3_K's q  \
     * = value + 4 */                                                                        \
    ATTR static inline __m256 q23x8_acc(__m256 acc, __m256i isc, const uint8_t *blk, int q3, \
                                        const quant_act256 *a, const __m256i S[4],           \
                                        const __m256i M[4])                                  \
    {                                                                                        \
        const __m256 da = _mm256_set1_ps(a->d);                                              \
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));             \
        if (q3) {                                                                            \
            const __m256i s = _mm256_sub_epi32(isc, _mm256_slli_epi32(x8_bsum_dot(S, a), 2)); \
            return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(d, da), acc);        \
        }                                                                                    \
        const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16)));   \
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isc), _mm256_mul_ps(d, da), acc);           \
        return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(x8_bsum_dot(M, a)), _mm256_mul_ps(dmin, da), acc); \
    }

#define QUANT_TILE_CALL(T, R, TT)                                                            \
    tile_##T(w + (size_t)r * row_bytes, row_bytes, a + (size_t)t * ab, ab, n, Y + t * ldy + r, \
             ldy, R, TT)
#define QUANT_DEF_TILE_FNS(ATTR, T, RM, TM, RV)                                              \
    ATTR static float dot_##T(const void *row, const void *act, int64_t n)                   \
    {                                                                                        \
        float y;                                                                             \
        tile_##T(row, 0, act, 0, n, &y, 0, 1, 1);                                            \
        return y;                                                                            \
    }                                                                                        \
    ATTR static void mv_##T(const void *W, size_t row_bytes, int64_t r0, int64_t r1,         \
                            const void *act, int64_t n, float *y)                            \
    {                                                                                        \
        const uint8_t *w = W;                                                                \
        int64_t r = r0;                                                                      \
        for (; r + (RV) <= r1; r += (RV))                                                    \
            tile_##T(w + (size_t)r * row_bytes, row_bytes, act, 0, n, y + r, 0, RV, 1);      \
        for (; r < r1; r++) tile_##T(w + (size_t)r * row_bytes, row_bytes, act, 0, n, y + r, 0, 1, 1); \
    }                                                                                        \
    QUANT_DEF_MM_FN(ATTR, T, RM, TM, mv_##T)

/* mm_T alone, over tile_T in tiles of RM rows × TM inputs; one input goes to MV. */
#define QUANT_DEF_MM_FN(ATTR, T, RM, TM, MV)                                                 \
    ATTR static void mm_##T(const void *W, size_t row_bytes, int64_t r0, int64_t r1,         \
                            const void *acts, size_t ab, int64_t nt, int64_t n, float *Y,    \
                            int64_t ldy)                                                     \
    {                                                                                        \
        const uint8_t *w = W, *a = acts;                                                     \
        int64_t r = r0;                                                                      \
        if (nt == 1) { /* one input: decoding's row tiles */                                \
            MV(W, row_bytes, r0, r1, acts, n, Y);                                            \
            return;                                                                          \
        }                                                                                    \
        for (; r + (RM) <= r1; r += (RM)) {                                                  \
            int64_t t = 0;                                                                   \
            for (; t + (TM) <= nt; t += (TM)) QUANT_TILE_CALL(T, RM, TM);                    \
            /* the rest of the inputs (fewer than TM <= 8) in at most two narrower tiles */   \
            if ((TM) > 4 && nt - t >= 4) {                                                   \
                QUANT_TILE_CALL(T, RM, (TM) > 4 ? 4 : 1);                                    \
                t += 4;                                                                      \
            }                                                                                \
            switch (nt - t) {                                                                \
            case 1: QUANT_TILE_CALL(T, RM, 1); break;                                        \
            case 2: QUANT_TILE_CALL(T, RM, (TM) > 2 ? 2 : 1); break;                         \
            case 3: QUANT_TILE_CALL(T, RM, (TM) > 3 ? 3 : 1); break;                         \
            default: break;                                                                  \
            }                                                                                \
        }                                                                                    \
        for (; r < r1; r++) {                                                                \
            int64_t t = 0;                                                                   \
            for (; t + (TM) <= nt; t += (TM)) QUANT_TILE_CALL(T, 1, TM);                     \
            for (; t < nt; t++) QUANT_TILE_CALL(T, 1, 1);                                    \
        }                                                                                    \
    }

/* F16 weights in a kernel set (quant.h, top: the activations' two copies): mv_f16h runs rows
 * of up to QUANT_F16H_MIN_N values with the set's mv_f16 on the f32 copy, longer ones with
 * ROW(row, halves, n) on the binary16 copy; mm_f16h is mv_f16h for one input, else MM (the
 * set's prompt tiles, on whichever copy it reads). Both copies hold the same values, so every
 * path gives the same bits. */
#define QUANT_DEF_F16H_FNS(ATTR, ROW, MM)                                                    \
    ATTR static void mv_f16h(const void *W, size_t row_bytes, int64_t r0, int64_t r1,        \
                             const void *act, int64_t n, float *y)                           \
    {                                                                                        \
        if (n <= QUANT_F16H_MIN_N) {                                                         \
            mv_f16(W, row_bytes, r0, r1, act, n, y);                                         \
            return;                                                                          \
        }                                                                                    \
        const uint8_t *w = W, *h = (const uint8_t *)act + (size_t)n * sizeof(float);         \
        for (int64_t r = r0; r < r1; r++) y[r] = ROW(w + (size_t)r * row_bytes, h, n);       \
    }                                                                                        \
    ATTR static void mm_f16h(const void *W, size_t row_bytes, int64_t r0, int64_t r1,        \
                             const void *acts, size_t ab, int64_t nt, int64_t n, float *Y,   \
                             int64_t ldy)                                                    \
    {                                                                                        \
        if (nt == 1)                                                                         \
            mv_f16h(W, row_bytes, r0, r1, acts, n, Y);                                       \
        else                                                                                 \
            MM(W, row_bytes, r0, r1, acts, ab, nt, n, Y, ldy);                               \
    }

#endif
