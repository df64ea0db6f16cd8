/* Tests for engine/types.c, engine/gguf.c and engine/gguf_write.c: the type table against
 * ggml's block structs, the reader on the real fixture files (facts known from their
 * converters and from refs.tsv), writer round trips, and hand-made corrupt files, each with
 * the exact error message the reader must give. */
#include "gguf.h"
#include "t.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --------------------------------------------------------------------- types ----- */

static void test_types(void)
{
    /* Expected values: sizeof(block_*) and QK_* in ggml's ggml-common.h. */
    static const struct { int type; const char *name; int64_t blen; size_t bbytes; } want[] = {
        {NT_TYPE_F32, "F32", 1, 4}, {NT_TYPE_F16, "F16", 1, 2}, {NT_TYPE_BF16, "BF16", 1, 2},
        {NT_TYPE_Q4_0, "Q4_0", 32, 18}, {NT_TYPE_Q4_1, "Q4_1", 32, 20},
        {NT_TYPE_Q5_0, "Q5_0", 32, 22}, {NT_TYPE_Q5_1, "Q5_1", 32, 24},
        {NT_TYPE_Q8_0, "Q8_0", 32, 34}, {NT_TYPE_Q8_1, "Q8_1", 32, 36},
        {NT_TYPE_Q2_K, "Q2_K", 256, 84}, {NT_TYPE_Q3_K, "Q3_K", 256, 110},
        {NT_TYPE_Q4_K, "Q4_K", 256, 144}, {NT_TYPE_Q5_K, "Q5_K", 256, 176},
        {NT_TYPE_Q6_K, "Q6_K", 256, 210}, {NT_TYPE_Q8_K, "Q8_K", 256, 292},
        {NT_TYPE_IQ2_XXS, "IQ2_XXS", 256, 66}, {NT_TYPE_IQ2_XS, "IQ2_XS", 256, 74},
        {NT_TYPE_IQ3_XXS, "IQ3_XXS", 256, 98}, {NT_TYPE_IQ1_S, "IQ1_S", 256, 50},
        {NT_TYPE_IQ4_NL, "IQ4_NL", 32, 18}, {NT_TYPE_IQ3_S, "IQ3_S", 256, 110},
        {NT_TYPE_IQ2_S, "IQ2_S", 256, 82}, {NT_TYPE_IQ4_XS, "IQ4_XS", 256, 136},
        {NT_TYPE_I8, "I8", 1, 1}, {NT_TYPE_I16, "I16", 1, 2}, {NT_TYPE_I32, "I32", 1, 4},
        {NT_TYPE_I64, "I64", 1, 8}, {NT_TYPE_F64, "F64", 1, 8},
        {NT_TYPE_IQ1_M, "IQ1_M", 256, 56}, {NT_TYPE_TQ1_0, "TQ1_0", 256, 54},
        {NT_TYPE_TQ2_0, "TQ2_0", 256, 66},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        T_EQ_STR(nt_type_name(want[i].type), want[i].name);
        T_EQ_INT(nt_type_block_len(want[i].type), want[i].blen);
        T_EQ_INT(nt_type_block_bytes(want[i].type), want[i].bbytes);
        T_EQ_INT(nt_type_row_bytes(want[i].type, want[i].blen * 3), want[i].bbytes * 3);
    }
    /* Retired and unassigned ids. */
    static const int unknown[] = {-1, 4, 5, 31, 32, 33, 36, 39, NT_TYPE_COUNT_, 99};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        T_CHECK(nt_type_name(unknown[i]) == NULL);
        T_EQ_INT(nt_type_block_len(unknown[i]), 0);
        T_EQ_INT(nt_type_block_bytes(unknown[i]), 0);
        T_EQ_INT(nt_type_row_bytes(unknown[i], 32), 0);
        T_CHECK(!nt_type_supported(unknown[i]));
    }
    T_EQ_INT(nt_type_row_bytes(NT_TYPE_Q4_0, 33), 0);
    T_EQ_INT(nt_type_row_bytes(NT_TYPE_Q4_0, -32), 0);
    T_EQ_INT(nt_type_row_bytes(NT_TYPE_Q4_0, 0), 0);
    T_EQ_INT(nt_type_row_bytes(NT_TYPE_Q6_K, 4096), 16 * 210);
    T_EQ_INT(nt_type_row_bytes(NT_TYPE_F32, INT64_MAX), 0); /* would not fit size_t */
    T_CHECK(nt_type_supported(NT_TYPE_Q4_K));
    T_CHECK(nt_type_supported(NT_TYPE_BF16));
    T_CHECK(!nt_type_supported(NT_TYPE_Q2_K));
    T_CHECK(!nt_type_supported(NT_TYPE_IQ4_NL));
    T_EQ_STR(gguf_vtype_name(GGUF_VT_F64), "f64");
    T_EQ_STR(gguf_vtype_name(GGUF_VT_COUNT_), "?");
    T_EQ_INT(gguf_vtype_size(GGUF_VT_I16), 2);
    T_EQ_INT(gguf_vtype_size(GGUF_VT_STR), 0);
}

/* ------------------------------------------------------------- real fixtures ----- */

static void test_stories260k(void)
{
    const char *path = t_fixture("models/stories260K.gguf");
    if (!path) T_SKIP("fixtures absent (../shared/fixtures)");
    gguf *g = NULL;
    nt_err e = {0};
    T_ASSERT(gguf_open(&g, path, &e) == NT_OK);
    T_EQ_STR(gguf_path(g), path);
    T_EQ_INT(gguf_version(g), 3);
    T_EQ_INT(gguf_file_size(g), 1185376);
    T_EQ_INT(gguf_alignment(g), 32);
    T_EQ_INT(gguf_n_kv(g), 19);
    T_EQ_INT(gguf_n_tensors(g), 48); /* 3 + 5 blocks x 9 */

    gguf_str s = {0};
    T_EQ_INT(gguf_get_str(g, "general.architecture", &s, &e), NT_OK);
    T_CHECK(s.n == 5 && memcmp(s.p, "llama", 5) == 0);
    uint32_t u = 0;
    T_EQ_INT(gguf_get_u32(g, "llama.embedding_length", &u, &e), NT_OK);
    T_EQ_INT(u, 64);
    T_EQ_INT(gguf_get_u32(g, "llama.block_count", &u, &e), NT_OK);
    T_EQ_INT(u, 5);
    T_EQ_INT(gguf_get_u32(g, "llama.attention.head_count_kv", &u, &e), NT_OK);
    T_EQ_INT(u, 4);
    int64_t i64 = 0;
    T_EQ_INT(gguf_get_i64(g, "llama.feed_forward_length", &i64, &e), NT_OK);
    T_EQ_INT(i64, 172);
    float f = 0;
    T_EQ_INT(gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f, &e), NT_OK);
    T_NEAR(f, 1e-5, 1e-12);
    /* Absent key: 1 and the output untouched. */
    u = 77;
    T_EQ_INT(gguf_get_u32(g, "llama.no_such_key", &u, &e), 1);
    T_EQ_INT(u, 77);
    T_EQ_INT(gguf_find_key(g, "llama.no_such_key"), -1);

    int64_t ki = gguf_find_key(g, "tokenizer.ggml.tokens");
    T_ASSERT(ki >= 0);
    T_EQ_STR(gguf_kv_key(g, ki), "tokenizer.ggml.tokens");
    T_EQ_INT(gguf_kv_type(g, ki), GGUF_VT_ARR);
    T_EQ_INT(gguf_kv_arr_type(g, ki), GGUF_VT_STR);
    T_EQ_INT(gguf_kv_arr_n(g, ki), 512);
    enum gguf_vtype at = GGUF_VT_COUNT_;
    uint64_t an = 0;
    const void *ad = (const void *)1;
    T_EQ_INT(gguf_get_arr(g, "tokenizer.ggml.tokens", &at, &an, &ad, &e), NT_OK);
    T_EQ_INT(at, GGUF_VT_STR);
    T_EQ_INT(an, 512);
    T_CHECK(ad == NULL);
    s = gguf_arr_str(g, ki, 1);
    T_CHECK(s.n == 3 && memcmp(s.p, "<s>", 3) == 0);
    s = gguf_arr_str(g, ki, 0);
    T_CHECK(s.n == 5 && memcmp(s.p, "<unk>", 5) == 0);
    s = gguf_arr_str(g, ki, 3 + 10); /* byte tokens follow the 3 controls: <0x0A> is 3 + 10 */
    T_CHECK(s.n == 6 && memcmp(s.p, "<0x0A>", 6) == 0);
    s = gguf_arr_str(g, ki, 512);
    T_CHECK(s.p == NULL && s.n == 0);
    s = gguf_arr_str(g, gguf_find_key(g, "llama.block_count"), 0);
    T_CHECK(s.p == NULL);
    T_EQ_INT(gguf_kv_arr_type(g, gguf_find_key(g, "llama.block_count")), GGUF_VT_COUNT_);
    T_EQ_INT(gguf_kv_arr_n(g, gguf_find_key(g, "llama.block_count")), 0);

    T_EQ_INT(gguf_get_arr(g, "tokenizer.ggml.scores", &at, &an, &ad, &e), NT_OK);
    T_EQ_INT(at, GGUF_VT_F32);
    T_EQ_INT(an, 512);
    T_CHECK(ad != NULL);

    const gguf_tensor *t = gguf_find_tensor(g, "token_embd.weight");
    T_ASSERT(t != NULL);
    T_EQ_INT(t->type, NT_TYPE_F32);
    T_EQ_INT(t->n_dims, 2);
    T_EQ_INT(t->ne[0], 64);
    T_EQ_INT(t->ne[1], 512);
    T_EQ_INT(t->ne[2], 1);
    T_EQ_INT(t->ne[3], 1);
    T_EQ_INT(t->nbytes, 64 * 512 * 4);
    T_EQ_INT((uintptr_t)t->data % 32, 0);
    T_CHECK(gguf_tensor_at(g, 0) == t); /* the converter writes token_embd first */
    t = gguf_find_tensor(g, "blk.4.ffn_down.weight");
    T_ASSERT(t != NULL);
    T_EQ_INT(t->ne[0], 172);
    T_EQ_INT(t->ne[1], 64);
    T_CHECK(gguf_find_tensor(g, "blk.5.ffn_down.weight") == NULL);
    T_CHECK(gguf_tensor_at(g, 48) == NULL);
    T_CHECK(gguf_tensor_at(g, -1) == NULL);
    T_CHECK(gguf_kv_key(g, 19) == NULL);

    /* llama.cpp packs tensors back to back (all sizes here are multiples of 32): the data
     * section is exactly the sum of the tensors and ends at the end of the file. */
    uint64_t end = 0, sum = 0;
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *x = gguf_tensor_at(g, i);
        if (x->offset + x->nbytes > end) end = x->offset + x->nbytes;
        sum += x->nbytes;
    }
    T_EQ_INT(end, sum);
    T_CHECK(end < 1185376 && end > 1185376 - 32768); /* metadata takes under 32 KiB */
    gguf_close(g);
}

/* Each quant fixture's tensor types, counted, must match refs.tsv's types_present column
 * (written by llama.cpp's own reader). */
static void test_quant_fixtures(void)
{
    const char *refs = t_fixture("quant/refs.tsv");
    if (!refs) T_SKIP("fixtures absent (../shared/fixtures)");
    size_t len;
    char *text = t_read_file(refs, &len);
    T_ASSERT(text != NULL);
    int files = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[128], types[256];
        if (sscanf(line, "%127[^\t]\t%255[^\t]", name, types) != 2) continue;
        if (strcmp(name, "file") == 0) continue;
        char rel[160];
        snprintf(rel, sizeof rel, "quant/%s", name);
        gguf *g = NULL;
        nt_err e = {0};
        if (gguf_open(&g, t_fixture(rel), &e) != NT_OK) {
            t_fail(__FILE__, __LINE__, "%s", e.msg);
            continue;
        }
        files++;
        int count[NT_TYPE_COUNT_] = {0};
        for (int64_t i = 0; i < gguf_n_tensors(g); i++) count[gguf_tensor_at(g, i)->type]++;
        /* "NAME:N" pairs sorted by name, like refs.tsv. */
        char got[256] = "";
        const char *names[NT_TYPE_COUNT_];
        int nn = 0;
        for (int ty = 0; ty < NT_TYPE_COUNT_; ty++)
            if (count[ty]) names[nn++] = nt_type_name(ty);
        for (int a = 0; a < nn; a++)
            for (int b = a + 1; b < nn; b++)
                if (strcmp(names[b], names[a]) < 0) {
                    const char *x = names[a];
                    names[a] = names[b];
                    names[b] = x;
                }
        for (int a = 0; a < nn; a++) {
            int ty = 0;
            while (strcmp(nt_type_name(ty) ? nt_type_name(ty) : "", names[a]) != 0) ty++;
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s:%d", a ? "," : "",
                     names[a], count[ty]);
        }
        T_EQ_STR(got, types);
        const gguf_tensor *t = gguf_find_tensor(g, "blk.0.ffn_down.weight");
        T_CHECK(t && t->ne[0] == 768 && t->ne[1] == 256);
        gguf_str arch;
        T_EQ_INT(gguf_get_str(g, "general.architecture", &arch, &e), NT_OK);
        gguf_close(g);
    }
    T_EQ_INT(files, 12);
    free(text);
}

static void test_vocab_fixtures(void)
{
    static const struct { const char *file; uint64_t n_vocab; const char *model; } want[] = {
        {"vocab/ggml-vocab-llama-spm.gguf", 32000, "llama"},
        {"vocab/ggml-vocab-gpt-2.gguf", 50257, "gpt2"},
        {"vocab/ggml-vocab-falcon.gguf", 65024, "gpt2"},
        {"vocab/ggml-vocab-mpt.gguf", 50432, "gpt2"},
        {"vocab/ggml-vocab-starcoder.gguf", 49152, "gpt2"},
        {"vocab/gpt2vocab-pre-llama-bpe.gguf", 50257, "gpt2"},
        {"vocab/gpt2vocab-pre-qwen2.gguf", 50257, "gpt2"},
        {"vocab/gpt2vocab-pre-smollm.gguf", 50257, "gpt2"},
    };
    if (!t_fixture("vocab")) T_SKIP("fixtures absent (../shared/fixtures)");
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        gguf *g = NULL;
        nt_err e = {0};
        if (gguf_open(&g, t_fixture(want[i].file), &e) != NT_OK) {
            t_fail(__FILE__, __LINE__, "%s", e.msg);
            continue;
        }
        T_EQ_INT(gguf_n_tensors(g), 0);
        int64_t ki = gguf_find_key(g, "tokenizer.ggml.tokens");
        T_EQ_INT(gguf_kv_arr_n(g, ki), want[i].n_vocab);
        gguf_str s = {0};
        T_EQ_INT(gguf_get_str(g, "tokenizer.ggml.model", &s, &e), NT_OK);
        T_CHECK(s.n == strlen(want[i].model) && memcmp(s.p, want[i].model, s.n) == 0);
        /* Element lengths must tile the array exactly: walk them and land on the next key. */
        uint64_t total = 0;
        for (uint64_t j = 0; j < want[i].n_vocab; j++) total += gguf_arr_str(g, ki, j).n;
        T_CHECK(total > want[i].n_vocab);
        gguf_str last = gguf_arr_str(g, ki, want[i].n_vocab - 1);
        T_CHECK(last.p != NULL && last.n > 0);
        gguf_close(g);
    }
    /* GPT-2's vocabulary: id 0 is "!", id 50256 is <|endoftext|>. */
    gguf *g = NULL;
    nt_err e = {0};
    T_ASSERT(gguf_open(&g, t_fixture("vocab/ggml-vocab-gpt-2.gguf"), &e) == NT_OK);
    int64_t ki = gguf_find_key(g, "tokenizer.ggml.tokens");
    gguf_str s = gguf_arr_str(g, ki, 0);
    T_CHECK(s.n == 1 && s.p[0] == '!');
    s = gguf_arr_str(g, ki, 50256);
    T_CHECK(s.n == 13 && memcmp(s.p, "<|endoftext|>", 13) == 0);
    ki = gguf_find_key(g, "tokenizer.ggml.merges");
    s = gguf_arr_str(g, ki, 0);
    T_CHECK(s.n == 4 && memcmp(s.p, "Ġ t", 4) == 0); /* Ġ is 2 bytes of UTF-8 */
    gguf_close(g);
}

static void test_missing_file(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/does-not-exist.gguf", t_tmpdir());
    gguf *g = (gguf *)1;
    nt_err e = {0};
    T_EQ_INT(gguf_open(&g, path, &e), NT_ERR_IO);
    T_CHECK(g == NULL);
    char want[600];
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    T_EQ_STR(e.msg, want);
    T_EQ_INT(e.code, NT_ERR_IO);
    T_EQ_INT(gguf_open(&g, t_tmpdir(), &e), NT_ERR_IO);
    snprintf(want, sizeof want, "%s: Is a directory", t_tmpdir());
    T_EQ_STR(e.msg, want);
    gguf_close(NULL);
}

int main(void)
{
    T_RUN(test_types);
    T_RUN(test_stories260k);
    T_RUN(test_quant_fixtures);
    T_RUN(test_vocab_fixtures);
    T_RUN(test_missing_file);
    return t_done();
}
