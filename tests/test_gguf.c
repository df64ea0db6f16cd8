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
#include <signal.h>
#include <sys/resource.h>
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
        {NT_TYPE_TQ2_0, "TQ2_0", 256, 66}, {NT_TYPE_MXFP4, "MXFP4", 32, 17},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        T_EQ_STR(nt_type_name(want[i].type), want[i].name);
        T_EQ_INT(nt_type_block_len(want[i].type), want[i].blen);
        T_EQ_INT(nt_type_block_bytes(want[i].type), want[i].bbytes);
        T_EQ_INT(nt_type_row_bytes(want[i].type, want[i].blen * 3), want[i].bbytes * 3);
    }
    /* Retired and unassigned ids. */
    static const int unknown[] = {-1, 4, 5, 31, 32, 33, 36, 37, 38, NT_TYPE_COUNT_, 99};
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
    T_CHECK(nt_type_supported(NT_TYPE_Q2_K));
    T_CHECK(nt_type_supported(NT_TYPE_IQ4_XS));
    T_CHECK(!nt_type_supported(NT_TYPE_IQ2_XXS));
    T_CHECK(!nt_type_supported(NT_TYPE_Q8_K)); /* an activation type, never a weight here */
    T_EQ_STR(nt_gguf_vtype_name(NT_GGUF_F64), "f64");
    T_EQ_STR(nt_gguf_vtype_name(NT_GGUF_COUNT_), "?");
    T_EQ_INT(nt_gguf_vtype_size(NT_GGUF_I16), 2);
    T_EQ_INT(nt_gguf_vtype_size(NT_GGUF_STR), 0);
}

/* ------------------------------------------------------------- real fixtures ----- */

static void test_stories260k(void)
{
    const char *path = t_fixture("models/stories260K.gguf");
    if (!path) T_SKIP("fixtures absent (../shared/fixtures)");
    nt_gguf *g = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&g, path, &e) == NT_OK);
    T_EQ_STR(nt_gguf_path(g), path);
    T_EQ_INT(nt_gguf_version(g), 3);
    T_EQ_INT(nt_gguf_file_size(g), 1185376);
    T_EQ_INT(nt_gguf_alignment(g), 32);
    T_EQ_INT(nt_gguf_n_kv(g), 19);
    T_EQ_INT(nt_gguf_n_tensors(g), 48); /* 3 + 5 blocks x 9 */

    nt_gguf_str s = {0};
    T_EQ_INT(nt_gguf_get_str(g, "general.architecture", &s, &e), NT_OK);
    T_CHECK(s.n == 5 && memcmp(s.p, "llama", 5) == 0);
    uint32_t u = 0;
    T_EQ_INT(nt_gguf_get_u32(g, "llama.embedding_length", &u, &e), NT_OK);
    T_EQ_INT(u, 64);
    T_EQ_INT(nt_gguf_get_u32(g, "llama.block_count", &u, &e), NT_OK);
    T_EQ_INT(u, 5);
    T_EQ_INT(nt_gguf_get_u32(g, "llama.attention.head_count_kv", &u, &e), NT_OK);
    T_EQ_INT(u, 4);
    int64_t i64 = 0;
    T_EQ_INT(nt_gguf_get_i64(g, "llama.feed_forward_length", &i64, &e), NT_OK);
    T_EQ_INT(i64, 172);
    float f = 0;
    T_EQ_INT(nt_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f, &e), NT_OK);
    T_NEAR(f, 1e-5, 1e-12);
    /* Absent key: 1 and the output untouched. */
    u = 77;
    T_EQ_INT(nt_gguf_get_u32(g, "llama.no_such_key", &u, &e), 1);
    T_EQ_INT(u, 77);
    T_EQ_INT(nt_gguf_find_key(g, "llama.no_such_key"), -1);

    int64_t ki = nt_gguf_find_key(g, "tokenizer.ggml.tokens");
    T_ASSERT(ki >= 0);
    T_EQ_STR(nt_gguf_kv_key(g, ki), "tokenizer.ggml.tokens");
    T_EQ_INT(nt_gguf_kv_type(g, ki), NT_GGUF_ARR);
    T_EQ_INT(nt_gguf_kv_arr_type(g, ki), NT_GGUF_STR);
    T_EQ_INT(nt_gguf_kv_arr_n(g, ki), 512);
    enum nt_gguf_vtype at = NT_GGUF_COUNT_;
    uint64_t an = 0;
    const void *ad = (const void *)1;
    T_EQ_INT(nt_gguf_get_arr(g, "tokenizer.ggml.tokens", &at, &an, &ad, &e), NT_OK);
    T_EQ_INT(at, NT_GGUF_STR);
    T_EQ_INT(an, 512);
    T_CHECK(ad == NULL);
    s = nt_gguf_arr_str(g, ki, 1);
    T_CHECK(s.n == 3 && memcmp(s.p, "<s>", 3) == 0);
    s = nt_gguf_arr_str(g, ki, 0);
    T_CHECK(s.n == 5 && memcmp(s.p, "<unk>", 5) == 0);
    s = nt_gguf_arr_str(g, ki, 3 + 10); /* byte tokens follow the 3 controls: <0x0A> is 3 + 10 */
    T_CHECK(s.n == 6 && memcmp(s.p, "<0x0A>", 6) == 0);
    s = nt_gguf_arr_str(g, ki, 512);
    T_CHECK(s.p == NULL && s.n == 0);
    s = nt_gguf_arr_str(g, nt_gguf_find_key(g, "llama.block_count"), 0);
    T_CHECK(s.p == NULL);
    T_EQ_INT(nt_gguf_kv_arr_type(g, nt_gguf_find_key(g, "llama.block_count")), NT_GGUF_COUNT_);
    T_EQ_INT(nt_gguf_kv_arr_n(g, nt_gguf_find_key(g, "llama.block_count")), 0);

    T_EQ_INT(nt_gguf_get_arr(g, "tokenizer.ggml.scores", &at, &an, &ad, &e), NT_OK);
    T_EQ_INT(at, NT_GGUF_F32);
    T_EQ_INT(an, 512);
    T_CHECK(ad != NULL);

    const nt_gguf_tensor *t = nt_gguf_find_tensor(g, "token_embd.weight");
    T_ASSERT(t != NULL);
    T_EQ_INT(t->type, NT_TYPE_F32);
    T_EQ_INT(t->n_dims, 2);
    T_EQ_INT(t->ne[0], 64);
    T_EQ_INT(t->ne[1], 512);
    T_EQ_INT(t->ne[2], 1);
    T_EQ_INT(t->ne[3], 1);
    T_EQ_INT(t->nbytes, 64 * 512 * 4);
    T_EQ_INT((uintptr_t)t->data % 32, 0);
    T_CHECK(nt_gguf_tensor_at(g, 0) == t); /* the converter writes token_embd first */
    t = nt_gguf_find_tensor(g, "blk.4.ffn_down.weight");
    T_ASSERT(t != NULL);
    T_EQ_INT(t->ne[0], 172);
    T_EQ_INT(t->ne[1], 64);
    T_CHECK(nt_gguf_find_tensor(g, "blk.5.ffn_down.weight") == NULL);
    T_CHECK(nt_gguf_tensor_at(g, 48) == NULL);
    T_CHECK(nt_gguf_tensor_at(g, -1) == NULL);
    T_CHECK(nt_gguf_kv_key(g, 19) == NULL);

    /* llama.cpp packs tensors back to back (all sizes here are multiples of 32): the data
     * section is exactly the sum of the tensors and ends at the end of the file. */
    uint64_t end = 0, sum = 0;
    for (int64_t i = 0; i < nt_gguf_n_tensors(g); i++) {
        const nt_gguf_tensor *x = nt_gguf_tensor_at(g, i);
        if (x->offset + x->nbytes > end) end = x->offset + x->nbytes;
        sum += x->nbytes;
    }
    T_EQ_INT(end, sum);
    T_CHECK(end < 1185376 && end > 1185376 - 32768); /* metadata takes under 32 KiB */
    nt_gguf_close(g);
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
        nt_gguf *g = NULL;
        nt_err e = {0};
        if (nt_gguf_open(&g, t_fixture(rel), &e) != NT_OK) {
            t_fail(__FILE__, __LINE__, "%s", e.msg);
            continue;
        }
        files++;
        int count[NT_TYPE_COUNT_] = {0};
        for (int64_t i = 0; i < nt_gguf_n_tensors(g); i++) count[nt_gguf_tensor_at(g, i)->type]++;
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
        const nt_gguf_tensor *t = nt_gguf_find_tensor(g, "blk.0.ffn_down.weight");
        T_CHECK(t && t->ne[0] == 768 && t->ne[1] == 256);
        nt_gguf_str arch;
        T_EQ_INT(nt_gguf_get_str(g, "general.architecture", &arch, &e), NT_OK);
        nt_gguf_close(g);
    }
    T_EQ_INT(files, 16);
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
        nt_gguf *g = NULL;
        nt_err e = {0};
        if (nt_gguf_open(&g, t_fixture(want[i].file), &e) != NT_OK) {
            t_fail(__FILE__, __LINE__, "%s", e.msg);
            continue;
        }
        T_EQ_INT(nt_gguf_n_tensors(g), 0);
        int64_t ki = nt_gguf_find_key(g, "tokenizer.ggml.tokens");
        T_EQ_INT(nt_gguf_kv_arr_n(g, ki), want[i].n_vocab);
        nt_gguf_str s = {0};
        T_EQ_INT(nt_gguf_get_str(g, "tokenizer.ggml.model", &s, &e), NT_OK);
        T_CHECK(s.n == strlen(want[i].model) && memcmp(s.p, want[i].model, s.n) == 0);
        /* Element lengths must tile the array exactly: walk them and land on the next key. */
        uint64_t total = 0;
        for (uint64_t j = 0; j < want[i].n_vocab; j++) total += nt_gguf_arr_str(g, ki, j).n;
        T_CHECK(total > want[i].n_vocab);
        nt_gguf_str last = nt_gguf_arr_str(g, ki, want[i].n_vocab - 1);
        T_CHECK(last.p != NULL && last.n > 0);
        nt_gguf_close(g);
    }
    /* GPT-2's vocabulary: id 0 is "!", id 50256 is <|endoftext|>. */
    nt_gguf *g = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&g, t_fixture("vocab/ggml-vocab-gpt-2.gguf"), &e) == NT_OK);
    int64_t ki = nt_gguf_find_key(g, "tokenizer.ggml.tokens");
    nt_gguf_str s = nt_gguf_arr_str(g, ki, 0);
    T_CHECK(s.n == 1 && s.p[0] == '!');
    s = nt_gguf_arr_str(g, ki, 50256);
    T_CHECK(s.n == 13 && memcmp(s.p, "<|endoftext|>", 13) == 0);
    ki = nt_gguf_find_key(g, "tokenizer.ggml.merges");
    s = nt_gguf_arr_str(g, ki, 0);
    T_CHECK(s.n == 4 && memcmp(s.p, "Ġ t", 4) == 0); /* Ġ is 2 bytes of UTF-8 */
    nt_gguf_close(g);
}

static void test_missing_file(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/does-not-exist.gguf", t_tmpdir());
    nt_gguf *g = (nt_gguf *)1;
    nt_err e = {0};
    T_EQ_INT(nt_gguf_open(&g, path, &e), NT_ERR_IO);
    T_CHECK(g == NULL);
    char want[600];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    T_EQ_STR(e.msg, want);
    T_EQ_INT(e.code, NT_ERR_IO);
    T_EQ_INT(nt_gguf_open(&g, t_tmpdir(), &e), NT_ERR_IO);
    snprintf(want, sizeof want, "%s: is a folder, not a regular file", t_tmpdir());
    T_EQ_STR(e.msg, want);
    nt_gguf_close(NULL);
}

/* ------------------------------------------------------------- writer ----- */

static char *tmp_path(const char *name)
{
    static char slots[4][512];
    static int next;
    char *p = slots[next++ & 3];
    snprintf(p, sizeof slots[0], "%s/%s", t_tmpdir(), name);
    return p;
}

static bool str_is(nt_gguf_str s, const char *want)
{
    return s.p && s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

/* Writes a small model-shaped file: a name, an alignment, one tokenizer value, two tensors. */
static void hash_write(const char *path, const char *name, uint32_t align, int32_t bos,
                       float w0, bool swap)
{
    nt_gguf_writer *w = nt_gguf_writer_init();
    T_ASSERT(w != NULL);
    float a[8] = {w0, 1, 2, 3, 4, 5, 6, 7}, b[4] = {9, 8, 7, 6};
    int64_t na[2] = {4, 2}, nb[1] = {4};
    nt_gguf_writer_set_str(w, "general.architecture", "llama");
    nt_gguf_writer_set_str(w, "general.name", name);
    nt_gguf_writer_set_alignment(w, align);
    nt_gguf_writer_set_i32(w, "tokenizer.ggml.bos_token_id", bos);
    /* swap: the same tensors, b's data first in the file (other offsets). */
    if (!swap) nt_gguf_writer_add_tensor(w, "a", NT_TYPE_F32, 2, na, a);
    nt_gguf_writer_add_tensor(w, "b", NT_TYPE_F32, 1, nb, b);
    if (swap) nt_gguf_writer_add_tensor(w, "a", NT_TYPE_F32, 2, na, a);
    nt_err e = {0};
    T_EQ_INT(nt_gguf_writer_write(w, path, &e), NT_OK);
    nt_gguf_writer_free(w);
}

static uint64_t hash_of(const char *path)
{
    nt_gguf *g = NULL;
    nt_err e = {0};
    if (nt_gguf_open(&g, path, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "%s", e.msg);
        return 0;
    }
    uint64_t h = nt_gguf_model_hash(g);
    if (nt_gguf_model_hash(g) != h) t_fail(__FILE__, __LINE__, "a second call differs");
    nt_gguf_close(g);
    return h;
}

/* nt_gguf_model_hash: the same for a renamed or re-aligned copy; different when a weight, a
 * tokenizer value or the tensor order changes; the same on every open. */
static void test_model_hash(void)
{
    char p[6][600];
    for (int i = 0; i < 6; i++) snprintf(p[i], sizeof p[i], "%s/hash%d.gguf", t_tmpdir(), i);
    hash_write(p[0], "tiny", 32, 1, 0.5f, false);
    hash_write(p[1], "tiny, renamed", 64, 1, 0.5f, false); /* descriptive only */
    hash_write(p[2], "tiny", 32, 1, 0.25f, false);         /* one weight */
    hash_write(p[3], "tiny", 32, 2, 0.5f, false);          /* the tokenizer */
    hash_write(p[4], "tiny", 32, 1, 0.5f, true);           /* the tensor order */
    hash_write(p[5], "tiny", 32, 1, 0.5f, false);          /* p[0] again */
    uint64_t h[6];
    for (int i = 0; i < 6; i++) h[i] = hash_of(p[i]);
    T_CHECK(h[0] == h[1]);
    T_CHECK(h[0] != h[2]);
    T_CHECK(h[0] != h[3]);
    T_CHECK(h[0] != h[4]);
    T_CHECK(h[0] == h[5]);
    T_CHECK(h[2] != h[3]);
    /* A real model: sessions record the value, so the definition must not drift. */
    const char *m = t_fixture("models/stories260K.gguf");
    if (!m) T_SKIP("../shared/fixtures absent");
    T_EQ_INT(hash_of(m), 0xfb408a3ff45a36b2ull);
}

static bool stop_at_third(void *user)
{
    int *asks = user;
    return ++*asks >= 3;
}

static bool never_stop(void *user)
{
    ++*(int *)user;
    return false;
}

/* nt_gguf_model_hash_until: stopped, it says so and remembers nothing; let run, it gives
 * nt_gguf_model_hash's value, asking between pieces of the weights. */
static void test_model_hash_until(void)
{
    const char *m = t_fixture("models/stories260K.gguf");
    if (!m) T_SKIP("../shared/fixtures absent");
    nt_gguf *g = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&g, m, &e) == NT_OK);
    int asks = 0;
    uint64_t h = 0;
    T_CHECK(!nt_gguf_model_hash_until(g, stop_at_third, &asks, &h));
    T_EQ_INT(asks, 3);
    asks = 0;
    T_CHECK(nt_gguf_model_hash_until(g, never_stop, &asks, &h));
    T_CHECK(h == 0xfb408a3ff45a36b2ull);
    T_CHECK(asks >= 48); /* at least once per tensor: a stop never waits for the whole file */
    asks = 0;
    T_CHECK(nt_gguf_model_hash_until(g, stop_at_third, &asks, &h)); /* remembered now */
    T_EQ_INT(asks, 0);
    T_CHECK(nt_gguf_model_hash(g) == 0xfb408a3ff45a36b2ull);
    nt_gguf_close(g);
}

static void test_writer_roundtrip(void)
{
    nt_gguf_writer *w = nt_gguf_writer_init();
    T_ASSERT(w != NULL);
    /* Every scalar type, through nt_gguf_writer_set_scalar and the typed setters. */
    uint8_t u8 = 250;
    int8_t i8 = -100;
    uint16_t u16 = 65000;
    int16_t i16 = -32000;
    int64_t i64 = INT64_MIN + 1;
    double f64 = -1.0 / 3.0;
    bool bt = true;
    T_EQ_INT(nt_gguf_writer_set_scalar(w, "t.u8", NT_GGUF_U8, &u8), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_scalar(w, "t.i8", NT_GGUF_I8, &i8), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_scalar(w, "t.u16", NT_GGUF_U16, &u16), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_scalar(w, "t.i16", NT_GGUF_I16, &i16), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_u32(w, "t.u32", 4000000000u), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_i32(w, "t.i32", -5), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_f32(w, "t.f32", 0.1f), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_bool(w, "t.bool", false), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_scalar(w, "t.bool2", NT_GGUF_BOOL, &bt), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_str(w, "t.str", "h\xc3\xa9llo"), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_str(w, "t.empty", ""), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_u64(w, "t.u64", UINT64_MAX), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_scalar(w, "t.i64", NT_GGUF_I64, &i64), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_scalar(w, "t.f64", NT_GGUF_F64, &f64), NT_OK);
    /* Arrays of every numeric element type, an empty one and string arrays. */
    uint8_t a8[5] = {1, 2, 3, 4, 255};
    int16_t a16[3] = {-1, 0, 32767};
    uint32_t a32[4] = {1, 10, 100, 1000};
    float af[3] = {1.5f, -2.25f, 1e-7f};
    uint64_t a64[2] = {UINT64_MAX, 7};
    int64_t ai64[2] = {INT64_MIN, 3};
    double ad[2] = {3.141592653589793, -0.0};
    int8_t ai8[2] = {-128, 127};
    uint16_t au16[2] = {65535, 1};
    int32_t ai32[2] = {INT32_MIN, 42};
    bool ab[3] = {true, false, true};
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a.u8", NT_GGUF_U8, a8, 5), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a.i8", NT_GGUF_I8, ai8, 2), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a.u16", NT_GGUF_U16, au16, 2), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a.i16", NT_GGUF_I16, a16, 3), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a.u32", NT_GGUF_U32, a32, 4), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a.i32", NT_GGUF_I32, ai32, 2), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a.f32", NT_GGUF_F32, af, 3), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a.bool", NT_GGUF_BOOL, ab, 3), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a.u64", NT_GGUF_U64, a64, 2), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a.i64", NT_GGUF_I64, ai64, 2), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a.f64", NT_GGUF_F64, ad, 2), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a.none", NT_GGUF_F32, NULL, 0), NT_OK);
    const char *strs[4] = {"<s>", "", "\xe2\x96\x81the", "x y"};
    T_EQ_INT(nt_gguf_writer_set_arr_str(w, "a.str", strs, 4), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_arr_str(w, "a.nostr", NULL, 0), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_alignment(w, 64), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_alignment(w, 128), NT_OK); /* updates its own key */

    /* Tensors of several types and ranks; sizes deliberately not multiples of 128. */
    float f32d[3 * 5];
    for (int i = 0; i < 15; i++) f32d[i] = (float)i * 0.5f - 3.0f;
    uint16_t f16d[64 * 2];
    for (int i = 0; i < 128; i++) f16d[i] = (uint16_t)(0x3c00 + i);
    uint8_t q40[2 * 3 * 18], q6k[210 * 2], bf[2 * 2 * 2 * 3 * 2];
    for (size_t i = 0; i < sizeof q40; i++) q40[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof q6k; i++) q6k[i] = (uint8_t)(i * 13 + 5);
    for (size_t i = 0; i < sizeof bf; i++) bf[i] = (uint8_t)(255 - i);
    int64_t ne_f32[2] = {3, 5}, ne_f16[2] = {64, 2}, ne_q40[3] = {64, 3, 1}, ne_q6k[2] = {256, 2},
            ne_bf[4] = {2, 2, 2, 3};
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "t.f32", NT_TYPE_F32, 2, ne_f32, f32d), NT_OK);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "t.f16", NT_TYPE_F16, 2, ne_f16, f16d), NT_OK);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "t.q4_0", NT_TYPE_Q4_0, 3, ne_q40, q40), NT_OK);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "t.q6_k", NT_TYPE_Q6_K, 2, ne_q6k, q6k), NT_OK);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "t.bf16", NT_TYPE_BF16, 4, ne_bf, bf), NT_OK);

    const char *path = tmp_path("roundtrip.gguf");
    nt_err e = {0};
    T_EQ_INT(nt_gguf_writer_write(w, path, &e), NT_OK);
    nt_gguf_writer_free(w);

    struct stat st;
    T_ASSERT(stat(path, &st) == 0);
    T_EQ_INT(st.st_mode & 0777, 0644);

    nt_gguf *g = NULL;
    if (nt_gguf_open(&g, path, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    T_EQ_INT(nt_gguf_version(g), 3);
    T_EQ_INT(nt_gguf_alignment(g), 128);
    T_EQ_INT(nt_gguf_file_size(g), (uint64_t)st.st_size);
    /* Insertion order kept. */
    static const char *order[] = {"t.u8", "t.i8", "t.u16", "t.i16", "t.u32", "t.i32", "t.f32",
                                  "t.bool", "t.bool2", "t.str", "t.empty", "t.u64", "t.i64",
                                  "t.f64", "a.u8", "a.i8", "a.u16", "a.i16", "a.u32", "a.i32",
                                  "a.f32", "a.bool", "a.u64", "a.i64", "a.f64", "a.none",
                                  "a.str", "a.nostr", "general.alignment"};
    T_EQ_INT(nt_gguf_n_kv(g), sizeof order / sizeof order[0]);
    for (int64_t i = 0; i < nt_gguf_n_kv(g); i++) T_EQ_STR(nt_gguf_kv_key(g, i), order[i]);
    static const enum nt_gguf_vtype types[] = {
        NT_GGUF_U8, NT_GGUF_I8, NT_GGUF_U16, NT_GGUF_I16, NT_GGUF_U32, NT_GGUF_I32, NT_GGUF_F32,
        NT_GGUF_BOOL, NT_GGUF_BOOL, NT_GGUF_STR, NT_GGUF_STR, NT_GGUF_U64, NT_GGUF_I64,
        NT_GGUF_F64};
    for (int64_t i = 0; i < 14; i++) T_EQ_INT(nt_gguf_kv_type(g, i), types[i]);

    int64_t v = 0;
    uint32_t u = 0;
    float f = 0;
    bool b = true;
    nt_gguf_str s;
    T_EQ_INT(nt_gguf_get_i64(g, "t.u8", &v, &e), NT_OK); T_EQ_INT(v, 250);
    T_EQ_INT(nt_gguf_get_i64(g, "t.i8", &v, &e), NT_OK); T_EQ_INT(v, -100);
    T_EQ_INT(nt_gguf_get_i64(g, "t.u16", &v, &e), NT_OK); T_EQ_INT(v, 65000);
    T_EQ_INT(nt_gguf_get_i64(g, "t.i16", &v, &e), NT_OK); T_EQ_INT(v, -32000);
    T_EQ_INT(nt_gguf_get_u32(g, "t.u32", &u, &e), NT_OK); T_EQ_INT(u, 4000000000u);
    T_EQ_INT(nt_gguf_get_i64(g, "t.i32", &v, &e), NT_OK); T_EQ_INT(v, -5);
    T_EQ_INT(nt_gguf_get_u32(g, "t.u8", &u, &e), NT_OK); T_EQ_INT(u, 250);
    T_EQ_INT(nt_gguf_get_f32(g, "t.f32", &f, &e), NT_OK); T_CHECK(f == 0.1f);
    T_EQ_INT(nt_gguf_get_bool(g, "t.bool", &b, &e), NT_OK); T_CHECK(!b);
    T_EQ_INT(nt_gguf_get_bool(g, "t.bool2", &b, &e), NT_OK); T_CHECK(b);
    T_EQ_INT(nt_gguf_get_str(g, "t.str", &s, &e), NT_OK); T_CHECK(str_is(s, "h\xc3\xa9llo"));
    T_EQ_INT(nt_gguf_get_str(g, "t.empty", &s, &e), NT_OK); T_EQ_INT(s.n, 0);
    T_EQ_INT(nt_gguf_get_i64(g, "t.i64", &v, &e), NT_OK); T_EQ_INT(v, INT64_MIN + 1);
    T_EQ_INT(nt_gguf_get_f32(g, "t.f64", &f, &e), NT_OK); T_CHECK(f == (float)(-1.0 / 3.0));

    /* Arrays come back byte for byte. */
    static const struct { const char *key; enum nt_gguf_vtype t; uint64_t n; } arrs[] = {
        {"a.u8", NT_GGUF_U8, 5}, {"a.i8", NT_GGUF_I8, 2}, {"a.u16", NT_GGUF_U16, 2},
        {"a.i16", NT_GGUF_I16, 3}, {"a.u32", NT_GGUF_U32, 4}, {"a.i32", NT_GGUF_I32, 2},
        {"a.f32", NT_GGUF_F32, 3}, {"a.bool", NT_GGUF_BOOL, 3}, {"a.u64", NT_GGUF_U64, 2},
        {"a.i64", NT_GGUF_I64, 2}, {"a.f64", NT_GGUF_F64, 2}, {"a.none", NT_GGUF_F32, 0}};
    const void *src[] = {a8, ai8, au16, a16, a32, ai32, af, ab, a64, ai64, ad, NULL};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) {
        enum nt_gguf_vtype at = NT_GGUF_COUNT_;
        uint64_t an = 99;
        const void *data = NULL;
        T_EQ_INT(nt_gguf_get_arr(g, arrs[i].key, &at, &an, &data, &e), NT_OK);
        T_EQ_INT(at, arrs[i].t);
        T_EQ_INT(an, arrs[i].n);
        if (an) T_CHECK(data && memcmp(data, src[i], an * nt_gguf_vtype_size(at)) == 0);
    }
    int64_t ki = nt_gguf_find_key(g, "a.str");
    T_EQ_INT(nt_gguf_kv_arr_type(g, ki), NT_GGUF_STR);
    T_EQ_INT(nt_gguf_kv_arr_n(g, ki), 4);
    for (uint64_t i = 0; i < 4; i++) T_CHECK(str_is(nt_gguf_arr_str(g, ki, i), strs[i]));
    T_EQ_INT(nt_gguf_kv_arr_n(g, nt_gguf_find_key(g, "a.nostr")), 0);
    T_CHECK(nt_gguf_arr_str(g, nt_gguf_find_key(g, "a.nostr"), 0).p == NULL);

    /* Tensors: shapes, types, bytes, and data aligned to 128. */
    static const struct { const char *name; int type; uint32_t nd; int64_t ne[4]; size_t nb; } ts[] = {
        {"t.f32", NT_TYPE_F32, 2, {3, 5, 1, 1}, 60},
        {"t.f16", NT_TYPE_F16, 2, {64, 2, 1, 1}, 256},
        {"t.q4_0", NT_TYPE_Q4_0, 3, {64, 3, 1, 1}, 108},
        {"t.q6_k", NT_TYPE_Q6_K, 2, {256, 2, 1, 1}, 420},
        {"t.bf16", NT_TYPE_BF16, 4, {2, 2, 2, 3}, 48}};
    const void *tsrc[] = {f32d, f16d, q40, q6k, bf};
    T_EQ_INT(nt_gguf_n_tensors(g), 5);
    for (int i = 0; i < 5; i++) {
        const nt_gguf_tensor *t = nt_gguf_tensor_at(g, i);
        T_ASSERT(t != NULL);
        T_EQ_STR(t->name, ts[i].name);
        T_CHECK(nt_gguf_find_tensor(g, ts[i].name) == t);
        T_EQ_INT(t->type, ts[i].type);
        T_EQ_INT(t->n_dims, ts[i].nd);
        for (int d = 0; d < 4; d++) T_EQ_INT(t->ne[d], ts[i].ne[d]);
        T_EQ_INT(t->nbytes, ts[i].nb);
        T_EQ_INT(t->offset % 128, 0);
        T_EQ_INT((uintptr_t)t->data % 128, 0);
        T_CHECK(memcmp(t->data, tsrc[i], t->nbytes) == 0);
    }
    nt_gguf_close(g);
}

static void test_writer_errors(void)
{
    nt_gguf_writer *w = nt_gguf_writer_init();
    T_ASSERT(w != NULL);
    T_EQ_INT(nt_gguf_writer_set_u32(w, "k", 1), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_u32(w, "k", 2), NT_ERR_INVALID);  /* duplicate */
    T_EQ_INT(nt_gguf_writer_set_str(w, "k", "x"), NT_ERR_INVALID); /* duplicate, other type */
    T_EQ_INT(nt_gguf_writer_set_u32(w, "", 1), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_set_u32(w, NULL, 1), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_set_str(w, "s", NULL), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a", NT_GGUF_STR, "x", 1), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a", NT_GGUF_ARR, "x", 1), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a", NT_GGUF_U32, NULL, 1), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_set_arr(w, "a", NT_GGUF_U64, "x", UINT64_MAX / 4), NT_ERR_INVALID);
    const char *bad[2] = {"x", NULL};
    T_EQ_INT(nt_gguf_writer_set_arr_str(w, "a", bad, 2), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_set_scalar(w, "a", NT_GGUF_STR, "x"), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_set_alignment(w, 0), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_set_alignment(w, 48), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_set_u32(w, "general.alignment", 48), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_set_i32(w, "general.alignment", 64), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_set_u32(w, "general.alignment", 16), NT_OK);

    float d[64] = {0};
    int64_t ne[5] = {32, 2, 1, 1, 1}, ne0[2] = {32, 0}, ne33[1] = {33}, nebig[2] = {INT64_MAX, 2};
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "x", NT_TYPE_F32, 2, ne, d), NT_OK);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "x", NT_TYPE_F32, 2, ne, d), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "", NT_TYPE_F32, 2, ne, d), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "y", NT_TYPE_F32, 0, ne, d), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "y", NT_TYPE_F32, 5, ne, d), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "y", NT_TYPE_F32, 2, ne0, d), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "y", 4, 1, ne, d), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "y", 99, 1, ne, d), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "y", NT_TYPE_Q8_0, 1, ne33, d), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "y", NT_TYPE_F32, 2, nebig, d), NT_ERR_INVALID);
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "y", NT_TYPE_F32, 1, ne, NULL), NT_ERR_INVALID);

    /* The file has exactly what was accepted. */
    const char *path = tmp_path("errors.gguf");
    nt_err e = {0};
    T_EQ_INT(nt_gguf_writer_write(w, path, &e), NT_OK);
    nt_gguf *g = NULL;
    T_ASSERT(nt_gguf_open(&g, path, &e) == NT_OK);
    T_EQ_INT(nt_gguf_n_kv(g), 2);
    T_EQ_INT(nt_gguf_n_tensors(g), 1);
    T_EQ_INT(nt_gguf_alignment(g), 16);
    nt_gguf_close(g);
    nt_gguf_writer_free(w);
    nt_gguf_writer_free(NULL);
}

/* Names of entries in t_tmpdir() containing sub: catches temporary files left behind. */
static int count_files_with(const char *sub)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c -- '%s'", t_tmpdir(), sub);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    return n;
}

static void test_writer_atomic(void)
{
    nt_err e = {0};
    char want[800];
    nt_gguf_writer *w = nt_gguf_writer_init();
    T_ASSERT(w != NULL);
    T_EQ_INT(nt_gguf_writer_set_str(w, "general.architecture", "llama"), NT_OK);

    /* A folder that does not exist: nothing can be created. */
    const char *missing = tmp_path("no-such-dir/x.gguf");
    T_EQ_INT(nt_gguf_writer_write(w, missing, &e), NT_ERR_IO);
    snprintf(want, sizeof want, "%s: cannot create a temporary file: No such file or directory",
             missing);
    T_EQ_STR(e.msg, want);

    /* rename fails onto a directory: the directory stays and the temporary file is removed. */
    const char *dir = tmp_path("adir.gguf");
    T_ASSERT(mkdir(dir, 0755) == 0);
    T_EQ_INT(nt_gguf_writer_write(w, dir, &e), NT_ERR_IO);
    snprintf(want, sizeof want, "%s: rename: Is a directory", dir);
    T_EQ_STR(e.msg, want);
    struct stat st;
    T_CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    T_EQ_INT(count_files_with("adir.gguf."), 0);

    /* Overwriting: the new file replaces the old one completely. */
    const char *path = tmp_path("over.gguf");
    FILE *f = fopen(path, "wb");
    T_ASSERT(f != NULL);
    fputs("old contents, not a gguf file at all", f);
    fclose(f);
    T_EQ_INT(nt_gguf_writer_write(w, path, &e), NT_OK);
    nt_gguf *g = NULL;
    T_ASSERT(nt_gguf_open(&g, path, &e) == NT_OK);
    T_EQ_INT(nt_gguf_n_kv(g), 1);
    nt_gguf_close(g);
    T_EQ_INT(count_files_with("over.gguf."), 0);

    /* A write that fails half-way (file size limit: EFBIG) leaves the existing file as it was
     * and no temporary file behind. */
    const char *keep = tmp_path("keep.gguf");
    f = fopen(keep, "wb");
    T_ASSERT(f != NULL);
    fputs("precious", f);
    fclose(f);
    static float big[16384];
    int64_t ne[1] = {16384};
    T_EQ_INT(nt_gguf_writer_add_tensor(w, "big", NT_TYPE_F32, 1, ne, big), NT_OK);
    struct rlimit old, lim;
    T_ASSERT(getrlimit(RLIMIT_FSIZE, &old) == 0);
    lim = old;
    lim.rlim_cur = 4096;
    void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    T_ASSERT(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    int rc = nt_gguf_writer_write(w, keep, &e);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_sig);
    T_EQ_INT(rc, NT_ERR_IO);
    snprintf(want, sizeof want, "%s: write: File too large", keep);
    T_EQ_STR(e.msg, want);
    size_t len = 0;
    char *text = t_read_file(keep, &len);
    T_CHECK(text && strcmp(text, "precious") == 0);
    free(text);
    T_EQ_INT(count_files_with("keep.gguf."), 0);
    nt_gguf_writer_free(w);
}

/* ----------------------------------------------------------- corrupt files ----- */

/* A little-endian byte-buffer builder for hand-made files. */
typedef struct bb {
    uint8_t p[4096];
    size_t n;
} bb;

static void bb_raw(bb *b, const void *p, size_t n)
{
    if (b->n + n > sizeof b->p) abort();
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void bb_u8(bb *b, uint8_t v) { bb_raw(b, &v, 1); }
static void bb_u32(bb *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) bb_u8(b, (uint8_t)(v >> (8 * i)));
}
static void bb_u64(bb *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) bb_u8(b, (uint8_t)(v >> (8 * i)));
}
static void bb_str(bb *b, const char *s)
{
    bb_u64(b, strlen(s));
    bb_raw(b, s, strlen(s));
}
static void bb_header(bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    bb_raw(b, "GGUF", 4);
    bb_u32(b, version);
    bb_u64(b, n_tensors);
    bb_u64(b, n_kv);
}
static void bb_put_u32(bb *b, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++) b->p[at + i] = (uint8_t)(v >> (8 * i));
}
static void bb_put_u64(bb *b, size_t at, uint64_t v)
{
    for (int i = 0; i < 8; i++) b->p[at + i] = (uint8_t)(v >> (8 * i));
}

/* Offsets of the fields of the reference file built by make_good (checked in test_good). */
typedef struct good_offs {
    size_t version, n_tensors, n_kv, kv0_type, kv0_len, kv1_key, kv1_et, kv1_n, kv2_key,
        kv2_n, t0_name, t0_ndims, t0_dims, t0_type, t1_name, t1_dim, t1_offset, infos_end;
} good_offs;

/* The reference file: 3 metadata entries (a string, a u32 array, a string array) and two
 * tensors (F32 {8, 2} at data offset 0, Q8_0 {32} at 64); data section at 256, size 354. */
static void make_good(bb *b, good_offs *o)
{
    b->n = 0;
    bb_raw(b, "GGUF", 4);
    o->version = b->n; bb_u32(b, 3);
    o->n_tensors = b->n; bb_u64(b, 2);
    o->n_kv = b->n; bb_u64(b, 3);
    bb_str(b, "general.architecture");
    o->kv0_type = b->n; bb_u32(b, NT_GGUF_STR);
    o->kv0_len = b->n; bb_str(b, "llama");
    o->kv1_key = b->n; bb_str(b, "x.arr1");
    bb_u32(b, NT_GGUF_ARR);
    o->kv1_et = b->n; bb_u32(b, NT_GGUF_U32);
    o->kv1_n = b->n; bb_u64(b, 3);
    bb_u32(b, 10); bb_u32(b, 20); bb_u32(b, 30);
    o->kv2_key = b->n; bb_str(b, "x.arr2");
    bb_u32(b, NT_GGUF_ARR);
    bb_u32(b, NT_GGUF_STR);
    o->kv2_n = b->n; bb_u64(b, 2);
    bb_str(b, "a");
    bb_str(b, "bc");
    o->t0_name = b->n; bb_str(b, "w");
    o->t0_ndims = b->n; bb_u32(b, 2);
    o->t0_dims = b->n; bb_u64(b, 8); bb_u64(b, 2);
    o->t0_type = b->n; bb_u32(b, NT_TYPE_F32);
    bb_u64(b, 0);
    o->t1_name = b->n; bb_str(b, "q");
    bb_u32(b, 1);
    o->t1_dim = b->n; bb_u64(b, 32);
    bb_u32(b, NT_TYPE_Q8_0);
    o->t1_offset = b->n; bb_u64(b, 64);
    o->infos_end = b->n;
    while (b->n < 256) bb_u8(b, 0);
    for (int i = 0; i < 16; i++) {
        float v = (float)i;
        bb_raw(b, &v, 4);
    }
    for (int i = 0; i < 34; i++) bb_u8(b, (uint8_t)i);
}

/* Writes b[0..n) to a file, opens it, and checks the status and the exact message
 * "PATH: want". */
static void check_bad_at(int line, const char *name, const bb *b, size_t n, int code,
                         const char *want)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->p, 1, n, f) != n) {
        t_fail(__FILE__, line, "cannot write %s", path);
        if (f) fclose(f);
        return;
    }
    fclose(f);
    nt_gguf *g = (nt_gguf *)1;
    nt_err e = {0};
    int rc = nt_gguf_open(&g, path, &e);
    char full[800];
    snprintf(full, sizeof full, "%s: %s", path, want);
    if (rc != code) t_fail(__FILE__, line, "%s: status %d, expected %d (%s)", name, rc, code, e.msg);
    if (code == NT_OK) {
        if (rc == NT_OK) nt_gguf_close(g);
        return;
    }
    if (g != NULL) {
        t_fail(__FILE__, line, "%s: *out not NULL after a failure", name);
        if (rc == NT_OK) nt_gguf_close(g);
    }
    if (strcmp(e.msg, full) != 0)
        t_fail(__FILE__, line, "%s:\n  got:      \"%s\"\n  expected: \"%s\"", name, e.msg, full);
}
#define CHECK_BAD(name, b, n, code, want) check_bad_at(__LINE__, name, b, n, code, want)

static void test_good(void)
{
    bb b;
    good_offs o;
    make_good(&b, &o);
    /* The offsets the messages below rely on. */
    T_EQ_INT(b.n, 354);
    T_EQ_INT(o.kv0_len, 56);
    T_EQ_INT(o.kv1_key, 69);
    T_EQ_INT(o.kv1_n, 91);
    T_EQ_INT(o.kv2_key, 111);
    T_EQ_INT(o.kv2_n, 133);
    T_EQ_INT(o.t0_name, 160);
    T_EQ_INT(o.t0_dims, 173);
    T_EQ_INT(o.t1_offset, 226);
    T_EQ_INT(o.infos_end, 234);
    const char *path = tmp_path("good.gguf");
    FILE *f = fopen(path, "wb");
    T_ASSERT(f != NULL);
    fwrite(b.p, 1, b.n, f);
    fclose(f);
    nt_gguf *g = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&g, path, &e) == NT_OK);
    T_EQ_INT(nt_gguf_n_kv(g), 3);
    T_EQ_INT(nt_gguf_n_tensors(g), 2);
    const nt_gguf_tensor *t = nt_gguf_find_tensor(g, "q");
    T_ASSERT(t != NULL);
    T_EQ_INT(t->nbytes, 34);
    T_EQ_INT(((const uint8_t *)t->data)[33], 33);
    t = nt_gguf_find_tensor(g, "w");
    T_ASSERT(t != NULL);
    float v;
    memcpy(&v, (const uint8_t *)t->data + 15 * 4, 4);
    T_CHECK(v == 15.0f);
    T_CHECK(str_is(nt_gguf_arr_str(g, 2, 1), "bc"));

    /* Wrong types and values that do not fit, named with key and both types. */
    char want[800];
    uint32_t u;
    int64_t i64;
    float fl;
    bool bo;
    nt_gguf_str s;
    const void *data;
    T_EQ_INT(nt_gguf_get_u32(g, "general.architecture", &u, &e), NT_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: key 'general.architecture': has type str, wanted u32", path);
    T_EQ_STR(e.msg, want);
    T_EQ_INT(nt_gguf_get_str(g, "x.arr1", &s, &e), NT_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: key 'x.arr1': has type arr[u32], wanted str", path);
    T_EQ_STR(e.msg, want);
    T_EQ_INT(nt_gguf_get_f32(g, "x.arr2", &fl, &e), NT_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: key 'x.arr2': has type arr[str], wanted f32", path);
    T_EQ_STR(e.msg, want);
    T_EQ_INT(nt_gguf_get_bool(g, "general.architecture", &bo, &e), NT_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: key 'general.architecture': has type str, wanted bool", path);
    T_EQ_STR(e.msg, want);
    T_EQ_INT(nt_gguf_get_i64(g, "x.arr1", &i64, &e), NT_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: key 'x.arr1': has type arr[u32], wanted i64", path);
    T_EQ_STR(e.msg, want);
    T_EQ_INT(nt_gguf_get_arr(g, "general.architecture", NULL, NULL, &data, &e), NT_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: key 'general.architecture': has type str, wanted arr", path);
    T_EQ_STR(e.msg, want);
    nt_gguf_close(g);

    /* Version 2 has the same layout. */
    bb_put_u32(&b, o.version, 2);
    CHECK_BAD("v2.gguf", &b, b.n, NT_OK, "");
    nt_gguf *g2 = NULL;
    T_ASSERT(nt_gguf_open(&g2, tmp_path("v2.gguf"), &e) == NT_OK);
    T_EQ_INT(nt_gguf_version(g2), 2);
    nt_gguf_close(g2);
}

static void test_values_not_fitting(void)
{
    nt_gguf_writer *w = nt_gguf_writer_init();
    T_ASSERT(w != NULL);
    double big = 1e300;
    T_EQ_INT(nt_gguf_writer_set_i32(w, "neg", -5), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_u64(w, "huge", UINT64_MAX), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_u64(w, "big", 1ull << 32), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_scalar(w, "f64", NT_GGUF_F64, &big), NT_OK);
    T_EQ_INT(nt_gguf_writer_set_bool(w, "flag", true), NT_OK);
    const char *path = tmp_path("fit.gguf");
    nt_err e = {0};
    T_EQ_INT(nt_gguf_writer_write(w, path, &e), NT_OK);
    nt_gguf_writer_free(w);
    nt_gguf *g = NULL;
    T_ASSERT(nt_gguf_open(&g, path, &e) == NT_OK);
    char want[800];
    uint32_t u = 9;
    int64_t i64 = 9;
    float f = 9;
    T_EQ_INT(nt_gguf_get_u32(g, "neg", &u, &e), NT_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: key 'neg': value -5 (i32) does not fit u32", path);
    T_EQ_STR(e.msg, want);
    T_EQ_INT(nt_gguf_get_u32(g, "big", &u, &e), NT_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: key 'big': value 4294967296 (u64) does not fit u32", path);
    T_EQ_STR(e.msg, want);
    T_EQ_INT(nt_gguf_get_i64(g, "huge", &i64, &e), NT_ERR_FORMAT);
    snprintf(want, sizeof want,
             "%s: key 'huge': value 18446744073709551615 (u64) does not fit i64", path);
    T_EQ_STR(e.msg, want);
    T_EQ_INT(nt_gguf_get_f32(g, "f64", &f, &e), NT_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: key 'f64': value 1e+300 (f64) does not fit f32", path);
    T_EQ_STR(e.msg, want);
    T_EQ_INT(nt_gguf_get_u32(g, "flag", &u, &e), NT_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: key 'flag': has type bool, wanted u32", path);
    T_EQ_STR(e.msg, want);
    T_EQ_INT(u, 9);
    T_EQ_INT(i64, 9);
    T_CHECK(f == 9);
    T_EQ_INT(nt_gguf_get_i64(g, "big", &i64, &e), NT_OK);
    T_EQ_INT(i64, 1ll << 32);
    nt_gguf_close(g);
}

static void test_truncated(void)
{
    bb b;
    good_offs o;
    make_good(&b, &o);
    CHECK_BAD("t0.gguf", &b, 0, NT_ERR_FORMAT, "header: truncated: needs 4 bytes at offset 0, file has 0");
    CHECK_BAD("t1.gguf", &b, 2, NT_ERR_FORMAT, "header: truncated: needs 4 bytes at offset 0, file has 2");
    CHECK_BAD("t2.gguf", &b, 6, NT_ERR_FORMAT, "header: truncated: needs 4 bytes at offset 4, file has 6");
    CHECK_BAD("t3.gguf", &b, 12, NT_ERR_FORMAT, "header: truncated: needs 8 bytes at offset 8, file has 12");
    CHECK_BAD("t4.gguf", &b, 23, NT_ERR_FORMAT, "header: truncated: needs 8 bytes at offset 16, file has 23");
    /* Cut before the counts can be honoured: the counts themselves are refused. */
    CHECK_BAD("t5.gguf", &b, 30, NT_ERR_FORMAT,
              "header: metadata count 3 cannot fit in the 6 bytes left after offset 24 (each needs at least 13)");
    CHECK_BAD("t6.gguf", &b, 80, NT_ERR_FORMAT,
              "header: tensor count 2 cannot fit in the 56 bytes left after offset 24 (each needs at least 32)");
    /* Inside a key: its length, then its bytes. */
    CHECK_BAD("t7.gguf", &b, 115, NT_ERR_FORMAT,
              "metadata entry 2: truncated: needs 8 bytes at offset 111, file has 115");
    CHECK_BAD("t8.gguf", &b, 121, NT_ERR_FORMAT,
              "metadata entry 2: truncated: needs 6 bytes at offset 119, file has 121");
    /* Inside a value type, an array header, array elements, string elements. */
    CHECK_BAD("t9.gguf", &b, 127, NT_ERR_FORMAT,
              "key 'x.arr2': truncated: needs 4 bytes at offset 125, file has 127");
    CHECK_BAD("t10.gguf", &b, 137, NT_ERR_FORMAT,
              "key 'x.arr2': truncated: needs 8 bytes at offset 133, file has 137");
    CHECK_BAD("t11.gguf", &b, 145, NT_ERR_FORMAT,
              "key 'x.arr2': array of str: count 2 cannot fit in the 4 bytes left after offset "
              "141 (each needs at least 8)");
    CHECK_BAD("t12.gguf", &b, 157, NT_ERR_FORMAT,
              "key 'x.arr2': element 1: truncated: needs 8 bytes at offset 150, file has 157");
    CHECK_BAD("t13.gguf", &b, 159, NT_ERR_FORMAT,
              "key 'x.arr2': element 1: truncated: needs 2 bytes at offset 158, file has 159");
    /* Inside the tensor infos. */
    CHECK_BAD("t14.gguf", &b, 163, NT_ERR_FORMAT,
              "tensor info 0: truncated: needs 8 bytes at offset 160, file has 163");
    CHECK_BAD("t15.gguf", &b, 185, NT_ERR_FORMAT,
              "tensor 'w': truncated: needs 8 bytes at offset 181, file has 185");
    CHECK_BAD("t16.gguf", &b, 230, NT_ERR_FORMAT,
              "tensor 'q': truncated: needs 8 bytes at offset 226, file has 230");
    /* Inside the data. */
    CHECK_BAD("t17.gguf", &b, 234, NT_ERR_FORMAT,
              "tensor 'w': data [256, 320) lies outside the file (size 234)");
    CHECK_BAD("t18.gguf", &b, 300, NT_ERR_FORMAT,
              "tensor 'w': data [256, 320) lies outside the file (size 300)");
    CHECK_BAD("t19.gguf", &b, 353, NT_ERR_FORMAT,
              "tensor 'q': data [320, 354) lies outside the file (size 353)");
    CHECK_BAD("t20.gguf", &b, 354, NT_OK, "");

    /* A numeric array cut short: a one-entry file so the counts still fit. */
    bb s = {.n = 0};
    bb_header(&s, 3, 0, 1);
    bb_str(&s, "a");
    bb_u32(&s, NT_GGUF_ARR);
    bb_u32(&s, NT_GGUF_F32);
    bb_u64(&s, 4);
    bb_u32(&s, 0);
    bb_u32(&s, 0);
    CHECK_BAD("t21.gguf", &s, s.n, NT_ERR_FORMAT,
              "key 'a': array of f32: count 4 cannot fit in the 8 bytes left after offset 49 "
              "(each needs at least 4)");
    /* A scalar value cut short. */
    s.n = 0;
    bb_header(&s, 3, 0, 1);
    bb_str(&s, "a");
    bb_u32(&s, NT_GGUF_F64);
    bb_u32(&s, 0);
    CHECK_BAD("t22.gguf", &s, s.n, NT_ERR_FORMAT,
              "key 'a': truncated: needs 8 bytes at offset 37, file has 41");
    /* A string value cut short. */
    s.n = 0;
    bb_header(&s, 3, 0, 1);
    bb_str(&s, "general.name");
    bb_u32(&s, NT_GGUF_STR);
    bb_str(&s, "tiny");
    CHECK_BAD("t23.gguf", &s, s.n - 1, NT_ERR_FORMAT,
              "key 'general.name': truncated: needs 4 bytes at offset 56, file has 59");
}

static void test_bad_header(void)
{
    bb b;
    good_offs o;
    make_good(&b, &o);
    bb m = b;
    memcpy(m.p, "GGML", 4);
    CHECK_BAD("magic.gguf", &m, m.n, NT_ERR_FORMAT, "header: bad magic 47 47 4d 4c (not a GGUF file)");
    m = b;
    bb_put_u32(&m, o.version, 1);
    CHECK_BAD("v1.gguf", &m, m.n, NT_ERR_UNSUPPORTED,
              "header: unsupported version 1 (natter reads versions 2 and 3)");
    bb_put_u32(&m, o.version, 4);
    CHECK_BAD("v4.gguf", &m, m.n, NT_ERR_UNSUPPORTED,
              "header: unsupported version 4 (natter reads versions 2 and 3)");
    bb_put_u32(&m, o.version, 0x03000000u);
    CHECK_BAD("vbe.gguf", &m, m.n, NT_ERR_UNSUPPORTED, "header: big-endian GGUF files are not supported");
    m = b;
    bb_put_u64(&m, o.n_kv, 1ull << 62);
    CHECK_BAD("nkv.gguf", &m, m.n, NT_ERR_FORMAT,
              "header: metadata count 4611686018427387904 cannot fit in the 330 bytes left after "
              "offset 24 (each needs at least 13)");
    m = b;
    bb_put_u64(&m, o.n_tensors, UINT64_MAX);
    CHECK_BAD("nt.gguf", &m, m.n, NT_ERR_FORMAT,
              "header: tensor count 18446744073709551615 cannot fit in the 330 bytes left after "
              "offset 24 (each needs at least 32)");
    /* Counts that fit the file but not its contents fail further on, without harm. */
    m = b;
    bb_put_u64(&m, o.n_kv, 4);
    /* (the tensor info of 'w' is read as a u16 entry, then 'q' as a key of 2^49 bytes) */
    CHECK_BAD("nkv4.gguf", &m, m.n, NT_ERR_FORMAT,
              "tensor info 0: truncated: needs 562949953421312 bytes at offset 183, file has 354");
}

static void test_bad_metadata(void)
{
    bb b, m;
    good_offs o;
    make_good(&b, &o);
    m = b;
    bb_put_u64(&m, 24, 1ull << 40);
    CHECK_BAD("keylen.gguf", &m, m.n, NT_ERR_FORMAT,
              "metadata entry 0: truncated: needs 1099511627776 bytes at offset 32, file has 354");
    m = b;
    bb_put_u64(&m, o.kv0_len, UINT64_MAX - 1);
    CHECK_BAD("strlen.gguf", &m, m.n, NT_ERR_FORMAT,
              "key 'general.architecture': truncated: needs 18446744073709551614 bytes at offset "
              "64, file has 354");
    m = b;
    bb_put_u64(&m, o.kv1_n, 1ull << 61);
    CHECK_BAD("arrn.gguf", &m, m.n, NT_ERR_FORMAT,
              "key 'x.arr1': array of u32: count 2305843009213693952 cannot fit in the 255 bytes "
              "left after offset 99 (each needs at least 4)");
    m = b;
    bb_put_u64(&m, o.kv2_n, UINT64_MAX);
    CHECK_BAD("arrsn.gguf", &m, m.n, NT_ERR_FORMAT,
              "key 'x.arr2': array of str: count 18446744073709551615 cannot fit in the 213 bytes "
              "left after offset 141 (each needs at least 8)");
    /* A string count that fits by size but whose strings run off the end: element 2 is the
     * name "w", element 3's length is n_dims 2 plus dims[0] 8 as one u64 (8 << 32 | 2). */
    m = b;
    bb_put_u64(&m, o.kv2_n, 20);
    CHECK_BAD("arrs20.gguf", &m, m.n, NT_ERR_FORMAT,
              "key 'x.arr2': element 3: truncated: needs 34359738370 bytes at offset 177, file has 354");
    m = b;
    bb_put_u32(&m, o.kv0_type, 13);
    CHECK_BAD("vtype.gguf", &m, m.n, NT_ERR_FORMAT, "key 'general.architecture': bad value type 13");
    bb_put_u32(&m, o.kv0_type, UINT32_MAX);
    CHECK_BAD("vtype2.gguf", &m, m.n, NT_ERR_FORMAT,
              "key 'general.architecture': bad value type 4294967295");
    m = b;
    bb_put_u32(&m, o.kv1_et, 13);
    CHECK_BAD("etype.gguf", &m, m.n, NT_ERR_FORMAT, "key 'x.arr1': bad array element type 13");
    bb_put_u32(&m, o.kv1_et, NT_GGUF_ARR);
    CHECK_BAD("nested.gguf", &m, m.n, NT_ERR_UNSUPPORTED, "key 'x.arr1': arrays of arrays are not supported");
    m = b;
    m.p[o.kv2_key + 8 + 5] = '1'; /* x.arr2 -> x.arr1 */
    CHECK_BAD("dupkey.gguf", &m, m.n, NT_ERR_FORMAT,
              "key 'x.arr1': duplicate key (metadata entries 1 and 2)");
    m = b;
    m.p[o.kv1_key + 8 + 1] = '\0';
    CHECK_BAD("nulkey.gguf", &m, m.n, NT_ERR_FORMAT, "metadata entry 1: key contains a NUL byte");

    bb s = {.n = 0};
    bb_header(&s, 3, 0, 1);
    bb_str(&s, "");
    bb_u32(&s, NT_GGUF_U8);
    bb_u8(&s, 1);
    CHECK_BAD("emptykey.gguf", &s, s.n, NT_ERR_FORMAT, "metadata entry 0: empty key");

    /* general.alignment: u32 power of two only. */
    static const struct { uint32_t type; uint32_t v; const char *name, *want; } al[] = {
        {NT_GGUF_U32, 0, "al0.gguf", "key 'general.alignment': must be a power of two, found 0"},
        {NT_GGUF_U32, 48, "al48.gguf", "key 'general.alignment': must be a power of two, found 48"},
        {NT_GGUF_I32, 32, "ali32.gguf", "key 'general.alignment': must be a u32, found i32"},
        {NT_GGUF_F32, 32, "alf32.gguf", "key 'general.alignment': must be a u32, found f32"},
    };
    for (size_t i = 0; i < sizeof al / sizeof al[0]; i++) {
        s.n = 0;
        bb_header(&s, 3, 0, 1);
        bb_str(&s, "general.alignment");
        bb_u32(&s, al[i].type);
        bb_u32(&s, al[i].v);
        CHECK_BAD(al[i].name, &s, s.n, NT_ERR_FORMAT, al[i].want);
    }
    s.n = 0;
    bb_header(&s, 3, 0, 1);
    bb_str(&s, "general.alignment");
    bb_u32(&s, NT_GGUF_U32);
    bb_u32(&s, 1);
    CHECK_BAD("al1.gguf", &s, s.n, NT_OK, "");
}

static void test_bad_tensors(void)
{
    bb b, m;
    good_offs o;
    make_good(&b, &o);
    m = b;
    bb_put_u32(&m, o.t0_ndims, 0);
    CHECK_BAD("nd0.gguf", &m, m.n, NT_ERR_FORMAT, "tensor 'w': n_dims 0 out of range 1..4");
    bb_put_u32(&m, o.t0_ndims, 5);
    CHECK_BAD("nd5.gguf", &m, m.n, NT_ERR_FORMAT, "tensor 'w': n_dims 5 out of range 1..4");
    m = b;
    bb_put_u64(&m, o.t0_dims + 8, 0);
    CHECK_BAD("dim0.gguf", &m, m.n, NT_ERR_FORMAT, "tensor 'w': dims[1] is 0");
    m = b;
    bb_put_u64(&m, o.t0_dims, 1ull << 32);
    bb_put_u64(&m, o.t0_dims + 8, 1ull << 32);
    CHECK_BAD("dimovf.gguf", &m, m.n, NT_ERR_FORMAT,
              "tensor 'w': element count overflows at dims[1] = 4294967296");
    m = b;
    bb_put_u64(&m, o.t0_dims, 1ull << 63);
    CHECK_BAD("dimbig.gguf", &m, m.n, NT_ERR_FORMAT,
              "tensor 'w': element count overflows at dims[0] = 9223372036854775808");
    m = b;
    bb_put_u64(&m, o.t0_dims + 8, 1ull << 40);
    CHECK_BAD("dimhuge.gguf", &m, m.n, NT_ERR_FORMAT,
              "tensor 'w': data of 8796093022208 F32 values is larger than the file (size 354)");
    m = b;
    bb_put_u32(&m, o.t0_type, 99);
    CHECK_BAD("type99.gguf", &m, m.n, NT_ERR_UNSUPPORTED, "tensor 'w': unknown type 99");
    bb_put_u32(&m, o.t0_type, 4);
    CHECK_BAD("type4.gguf", &m, m.n, NT_ERR_UNSUPPORTED, "tensor 'w': unknown type 4");
    m = b;
    bb_put_u64(&m, o.t1_dim, 33);
    CHECK_BAD("blk.gguf", &m, m.n, NT_ERR_FORMAT,
              "tensor 'q': ne[0] = 33 is not a multiple of the Q8_0 block length 32");
    m = b;
    bb_put_u64(&m, o.t1_offset, 65);
    CHECK_BAD("misal.gguf", &m, m.n, NT_ERR_FORMAT,
              "tensor 'q': offset 65 is not a multiple of the alignment 32");
    bb_put_u64(&m, o.t1_offset, 96);
    CHECK_BAD("outside.gguf", &m, m.n, NT_ERR_FORMAT,
              "tensor 'q': data [352, 386) lies outside the file (size 354)");
    bb_put_u64(&m, o.t1_offset, 1ull << 63);
    CHECK_BAD("farout.gguf", &m, m.n, NT_ERR_FORMAT,
              "tensor 'q': data offset 9223372036854775808 lies outside the file (size 354)");
    bb_put_u64(&m, o.t1_offset, UINT64_MAX - 31);
    CHECK_BAD("farout2.gguf", &m, m.n, NT_ERR_FORMAT,
              "tensor 'q': data offset 18446744073709551584 lies outside the file (size 354)");
    bb_put_u64(&m, o.t1_offset, 32);
    CHECK_BAD("overlap.gguf", &m, m.n, NT_ERR_FORMAT,
              "tensor 'q': data [288, 322) overlaps tensor 'w' [256, 320)");
    bb_put_u64(&m, o.t1_offset, 0);
    CHECK_BAD("overlap0.gguf", &m, m.n, NT_ERR_FORMAT,
              "tensor 'q': data [256, 290) overlaps tensor 'w' [256, 320)");
    m = b;
    m.p[o.t1_name + 8] = 'w';
    CHECK_BAD("dupname.gguf", &m, m.n, NT_ERR_FORMAT, "tensor 'w': duplicate name (tensor infos 0 and 1)");
    m.p[o.t1_name + 8] = '\0';
    CHECK_BAD("nulname.gguf", &m, m.n, NT_ERR_FORMAT, "tensor info 1: name contains a NUL byte");

    /* An empty name, and an alignment of 64 moving the data section. */
    bb s = {.n = 0};
    bb_header(&s, 3, 1, 0);
    bb_str(&s, "");
    bb_u32(&s, 1);
    bb_u64(&s, 4);
    bb_u32(&s, NT_TYPE_F32);
    bb_u64(&s, 0);
    CHECK_BAD("emptyname.gguf", &s, s.n, NT_ERR_FORMAT, "tensor info 0: empty name");
    s.n = 0;
    bb_header(&s, 3, 1, 1);
    bb_str(&s, "general.alignment");
    bb_u32(&s, NT_GGUF_U32);
    bb_u32(&s, 64);
    bb_str(&s, "t");
    bb_u32(&s, 1);
    bb_u64(&s, 4);
    bb_u32(&s, NT_TYPE_F32);
    bb_u64(&s, 0);
    while (s.n < 100) bb_u8(&s, 0); /* infos end at 90: data must start at 128, not 96 */
    CHECK_BAD("al64.gguf", &s, s.n, NT_ERR_FORMAT,
              "tensor 't': data [128, 144) lies outside the file (size 100)");
    while (s.n < 144) bb_u8(&s, 0);
    CHECK_BAD("al64ok.gguf", &s, s.n, NT_OK, "");
}

/* Opens path and, when it opens, touches everything the accessors can reach (so a sanitizer
 * build catches any read outside the mapping). Returns the status; a failure must carry a
 * message starting with the path. */
static int open_and_walk(const char *path)
{
    nt_gguf *g = NULL;
    nt_err e = {0};
    int rc = nt_gguf_open(&g, path, &e);
    if (rc != NT_OK) {
        if (strncmp(e.msg, path, strlen(path)) != 0 || g != NULL) return 999;
        return rc;
    }
    unsigned sum = 0;
    for (int64_t i = 0; i < nt_gguf_n_kv(g); i++) {
        const char *key = nt_gguf_kv_key(g, i);
        sum += (unsigned)strlen(key);
        if (nt_gguf_find_key(g, key) != i) sum = 1u << 31;
        for (uint64_t j = 0; j < nt_gguf_kv_arr_n(g, i) && nt_gguf_kv_arr_type(g, i) == NT_GGUF_STR; j++) {
            nt_gguf_str s = nt_gguf_arr_str(g, i, j);
            if (s.n) sum += (unsigned char)s.p[0] + (unsigned char)s.p[s.n - 1];
        }
        enum nt_gguf_vtype at;
        uint64_t an;
        const void *data;
        if (nt_gguf_get_arr(g, key, &at, &an, &data, &e) == NT_OK && data && an)
            sum += ((const unsigned char *)data)[an * nt_gguf_vtype_size(at) - 1];
        nt_gguf_str s;
        if (nt_gguf_get_str(g, key, &s, &e) == NT_OK && s.n) sum += (unsigned char)s.p[s.n - 1];
    }
    for (int64_t i = 0; i < nt_gguf_n_tensors(g); i++) {
        const nt_gguf_tensor *t = nt_gguf_tensor_at(g, i);
        sum += ((const unsigned char *)t->data)[0] + ((const unsigned char *)t->data)[t->nbytes - 1];
        if (nt_gguf_find_tensor(g, t->name) != t) sum = 1u << 31;
    }
    nt_gguf_close(g);
    return sum == 1u << 31 ? 998 : NT_OK;
}

/* Every truncation of the reference file, and every byte of it set to a few hostile values:
 * each open either succeeds (and every accessor stays inside the file) or fails cleanly. */
static void test_mutations(void)
{
    bb b, m;
    good_offs o;
    make_good(&b, &o);
    const char *path = tmp_path("mut.gguf");
    int ok = 0, bad = 0;
    for (size_t n = 0; n <= b.n; n++) {
        FILE *f = fopen(path, "wb");
        T_ASSERT(f != NULL);
        fwrite(b.p, 1, n, f);
        fclose(f);
        int rc = open_and_walk(path);
        if (rc == 999 || rc == 998) t_fail(__FILE__, __LINE__, "cut at %zu: rc %d", n, rc);
        rc == NT_OK ? ok++ : bad++;
    }
    T_EQ_INT(ok, 1); /* only the whole file opens */
    static const uint8_t vals[] = {0x00, 0xff, 0x7f, 0x80, 0x01, 0x20};
    for (size_t at = 0; at < o.infos_end; at++)
        for (size_t k = 0; k < sizeof vals; k++) {
            m = b;
            if (m.p[at] == vals[k]) continue;
            m.p[at] = vals[k];
            FILE *f = fopen(path, "wb");
            T_ASSERT(f != NULL);
            fwrite(m.p, 1, m.n, f);
            fclose(f);
            int rc = open_and_walk(path);
            if (rc == 999 || rc == 998)
                t_fail(__FILE__, __LINE__, "byte %zu = 0x%02x: rc %d", at, vals[k], rc);
            rc == NT_OK ? ok++ : bad++;
        }
    T_CHECK(ok > 1 && bad > 1000);
}

/* A 150k-entry vocabulary: every element reachable, the last one exact. */
static void test_big_vocab(void)
{
    enum { N = 150000 };
    char **v = malloc(N * sizeof *v);
    T_ASSERT(v != NULL);
    for (int i = 0; i < N; i++) {
        v[i] = malloc(16);
        snprintf(v[i], 16, "tok%d", i);
    }
    nt_gguf_writer *w = nt_gguf_writer_init();
    T_ASSERT(w != NULL);
    T_EQ_INT(nt_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v, N), NT_OK);
    for (int i = 0; i < N; i++) free(v[i]);
    free(v);
    const char *path = tmp_path("big.gguf");
    nt_err e = {0};
    T_EQ_INT(nt_gguf_writer_write(w, path, &e), NT_OK);
    nt_gguf_writer_free(w);
    nt_gguf *g = NULL;
    T_ASSERT(nt_gguf_open(&g, path, &e) == NT_OK);
    T_EQ_INT(nt_gguf_kv_arr_n(g, 0), N);
    T_CHECK(str_is(nt_gguf_arr_str(g, 0, 0), "tok0"));
    T_CHECK(str_is(nt_gguf_arr_str(g, 0, 77777), "tok77777"));
    T_CHECK(str_is(nt_gguf_arr_str(g, 0, N - 1), "tok149999"));
    nt_gguf_close(g);
}

int main(void)
{
    T_RUN(test_model_hash);
    T_RUN(test_model_hash_until);
    T_RUN(test_types);
    T_RUN(test_stories260k);
    T_RUN(test_quant_fixtures);
    T_RUN(test_vocab_fixtures);
    T_RUN(test_missing_file);
    T_RUN(test_writer_roundtrip);
    T_RUN(test_writer_errors);
    T_RUN(test_writer_atomic);
    T_RUN(test_good);
    T_RUN(test_values_not_fitting);
    T_RUN(test_truncated);
    T_RUN(test_bad_header);
    T_RUN(test_bad_metadata);
    T_RUN(test_bad_tensors);
    T_RUN(test_mutations);
    T_RUN(test_big_vocab);
    return t_done();
}
