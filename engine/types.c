/* The tensor-type table: names, block lengths and block sizes of every ggml tensor type a GGUF
 * file may name, so the reader can size tensors and the forward pass can tell what it runs.
 *
 * Block sizes are the sizes of ggml's block structs (ggml/src/ggml-common.h), where QK_K = 256:
 * e.g. block_q4_0 = f16 scale + 16 nibble bytes = 18 bytes for 32 values. Ids ggml retired
 * (4, 5: Q4_2/Q4_3; 31..33: the Q4_0_x_x repacks) and ids not yet assigned have no entry. */
#include "natter.h"

#include <stdint.h>

typedef struct nt_type_info {
    const char *name;   /* ggml's name, upper case as in llama.cpp's file-type strings */
    int64_t block_len;  /* values per block */
    size_t block_bytes; /* bytes per block */
} nt_type_info;

static const nt_type_info nt_types[NT_TYPE_COUNT_] = {
    [NT_TYPE_F32] = {"F32", 1, 4},
    [NT_TYPE_F16] = {"F16", 1, 2},
    [NT_TYPE_Q4_0] = {"Q4_0", 32, 18},       /* f16 d, 16 B nibbles */
    [NT_TYPE_Q4_1] = {"Q4_1", 32, 20},       /* f16 d, f16 m, 16 B nibbles */
    [NT_TYPE_Q5_0] = {"Q5_0", 32, 22},       /* f16 d, 4 B high bits, 16 B nibbles */
    [NT_TYPE_Q5_1] = {"Q5_1", 32, 24},       /* f16 d, f16 m, 4 B high bits, 16 B */
    [NT_TYPE_Q8_0] = {"Q8_0", 32, 34},       /* f16 d, 32 int8 */
    [NT_TYPE_Q8_1] = {"Q8_1", 32, 36},       /* f16 d, f16 s, 32 int8 */
    [NT_TYPE_Q2_K] = {"Q2_K", 256, 84},      /* 16 scales, 64 qs, f16 d, f16 dmin */
    [NT_TYPE_Q3_K] = {"Q3_K", 256, 110},     /* 32 hmask, 64 qs, 12 scales, f16 d */
    [NT_TYPE_Q4_K] = {"Q4_K", 256, 144},     /* f16 d, f16 dmin, 12 scales, 128 qs */
    [NT_TYPE_Q5_K] = {"Q5_K", 256, 176},     /* f16 d, f16 dmin, 12 scales, 32 qh, 128 qs */
    [NT_TYPE_Q6_K] = {"Q6_K", 256, 210},     /* 128 ql, 64 qh, 16 scales, f16 d */
    [NT_TYPE_Q8_K] = {"Q8_K", 256, 292},     /* f32 d, 256 int8, 16 int16 bsums */
    [NT_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66}, /* f16 d, 32 u16 */
    [NT_TYPE_IQ2_XS] = {"IQ2_XS", 256, 74},  /* f16 d, 32 u16, 8 scales */
    [NT_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98}, /* f16 d, 96 qs */
    [NT_TYPE_IQ1_S] = {"IQ1_S", 256, 50},    /* f16 d, 32 qs, 8 u16 qh */
    [NT_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18},   /* f16 d, 16 B nibbles */
    [NT_TYPE_IQ3_S] = {"IQ3_S", 256, 110},   /* f16 d, 64 qs, 8 qh, 32 signs, 4 scales */
    [NT_TYPE_IQ2_S] = {"IQ2_S", 256, 82},    /* f16 d, 64 qs, 8 qh, 8 scales */
    [NT_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136}, /* f16 d, u16 scales_h, 4 scales_l, 128 qs */
    [NT_TYPE_I8] = {"I8", 1, 1},
    [NT_TYPE_I16] = {"I16", 1, 2},
    [NT_TYPE_I32] = {"I32", 1, 4},
    [NT_TYPE_I64] = {"I64", 1, 8},
    [NT_TYPE_F64] = {"F64", 1, 8},
    [NT_TYPE_IQ1_M] = {"IQ1_M", 256, 56},    /* 32 qs, 16 qh, 8 scales (scale in them) */
    [NT_TYPE_BF16] = {"BF16", 1, 2},
    [NT_TYPE_TQ1_0] = {"TQ1_0", 256, 54},    /* 48 qs (base-3), 4 qh, f16 d */
    [NT_TYPE_TQ2_0] = {"TQ2_0", 256, 66},    /* 64 qs (2-bit), f16 d */
    [NT_TYPE_MXFP4] = {"MXFP4", 32, 17},     /* e8m0 scale, 16 B FP4 (e2m1) nibbles */
};

static const nt_type_info *nt_type_get(int type)
{
    if (type < 0 || type >= NT_TYPE_COUNT_ || !nt_types[type].name) return NULL;
    return &nt_types[type];
}

const char *nt_type_name(int type)
{
    const nt_type_info *t = nt_type_get(type);
    return t ? t->name : NULL;
}

int64_t nt_type_block_len(int type)
{
    const nt_type_info *t = nt_type_get(type);
    return t ? t->block_len : 0;
}

size_t nt_type_block_bytes(int type)
{
    const nt_type_info *t = nt_type_get(type);
    return t ? t->block_bytes : 0;
}

size_t nt_type_row_bytes(int type, int64_t n)
{
    const nt_type_info *t = nt_type_get(type);
    if (!t || n < 0 || n % t->block_len != 0) return 0;
    uint64_t blocks = (uint64_t)(n / t->block_len);
    /* A row too large for size_t is reported as 0 (as if invalid) rather than wrapping. */
    if (blocks > SIZE_MAX / t->block_bytes) return 0;
    return (size_t)blocks * t->block_bytes;
}

bool nt_type_supported(int type)
{
    switch (type) {
    case NT_TYPE_F32: case NT_TYPE_F16: case NT_TYPE_BF16: case NT_TYPE_Q8_0:
    case NT_TYPE_Q4_0: case NT_TYPE_Q4_1: case NT_TYPE_Q5_0: case NT_TYPE_Q5_1:
    case NT_TYPE_Q2_K: case NT_TYPE_Q3_K: case NT_TYPE_Q4_K: case NT_TYPE_Q5_K:
    case NT_TYPE_Q6_K: case NT_TYPE_IQ4_NL: case NT_TYPE_IQ4_XS: case NT_TYPE_MXFP4:
        return true;
    default:
        return false;
    }
}
