/* Tests for engine/quantize.c against llama.cpp's own quantizer: the F32 reference model's
 * blk.0.ffn_down.weight, quantized here, must equal byte for byte the same tensor in the
 * F16, BF16 and Q8_0 files that `llama-quantize --pure` made from it. */
#include "natter.h"
#include "t.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void check_type(const char *file, int type)
{
    const char *f32 = t_fixture("quant/tiny-llama.f32.gguf");
    if (!f32) T_SKIP("fixtures absent (../shared/fixtures)");
    nt_gguf *ref = NULL, *q = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&ref, f32, &e) == NT_OK);
    if (nt_gguf_open(&q, t_fixture(file), &e) != NT_OK) {
        nt_gguf_close(ref);
        T_ASSERT(!"cannot open the quantized fixture");
    }
    const nt_gguf_tensor *a = nt_gguf_find_tensor(ref, "blk.0.ffn_down.weight");
    const nt_gguf_tensor *b = nt_gguf_find_tensor(q, "blk.0.ffn_down.weight");
    T_CHECK(a && b && a->type == NT_TYPE_F32 && b->type == type);
    if (a && b && b->type == type) {
        int64_t rows = a->ne[1], cols = a->ne[0];
        void *out = malloc(b->nbytes);
        T_CHECK(out != NULL);
        if (out) {
            T_EQ_INT(nt_quantize_rows(type, a->data, out, rows, cols), b->nbytes);
            size_t diff = 0;
            for (size_t i = 0; i < b->nbytes; i++)
                diff += ((unsigned char *)out)[i] != ((const unsigned char *)b->data)[i];
            T_EQ_INT(diff, 0);
            free(out);
        }
    }
    nt_gguf_close(q);
    nt_gguf_close(ref);
}

static void test_q8_0(void) { check_type("quant/tiny-llama.q8_0.gguf", NT_TYPE_Q8_0); }
static void test_f16(void) { check_type("quant/tiny-llama.f16.gguf", NT_TYPE_F16); }
static void test_bf16(void) { check_type("quant/tiny-llama.bf16.gguf", NT_TYPE_BF16); }

static void test_bad_args(void)
{
    float x[64] = {0};
    unsigned char out[256];
    T_EQ_INT(nt_quantize_rows(NT_TYPE_Q4_K, x, out, 1, 64), 0); /* not a target type */
    T_EQ_INT(nt_quantize_rows(NT_TYPE_Q8_0, x, out, 1, 40), 0); /* not a whole block */
    T_EQ_INT(nt_quantize_rows(NT_TYPE_Q8_0, x, out, 2, 32), 2 * 34);
    /* An all-zero block: scale 0, all quants 0 (no division by zero). */
    T_EQ_INT(out[0] | out[1] | out[2] | out[33], 0);
}

int main(void)
{
    T_RUN(test_q8_0);
    T_RUN(test_f16);
    T_RUN(test_bf16);
    T_RUN(test_bad_args);
    return t_done();
}
