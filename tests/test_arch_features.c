/* Tests for the features gemma2, gemma3 and phi3 add to the Llama block (engine/model.c,
 * forward.c), on the tiny random-weight models of tests/tiny/: the sliding window really
 * limits what local layers see, Phi-3's long or short rope factors follow the context
 * length, and the chat template is detected from the file and its markup becomes control
 * tokens. (test_arch compares every tiny model with llama.cpp's figures and checks their
 * determinism; this file checks what a reference comparison alone could miss.) */
#include "model.h"
#include "natter.h"
#include "t.h"
#include "t_models.h"
#include "tiny/tiny.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tiny model `name` (tests/tiny/), written once per program into the temporary folder. */
static const char *tiny_path(const char *name)
{
    static char paths[8][512];
    static const char *names[8];
    for (int i = 0; i < 8; i++) {
        if (names[i] && strcmp(names[i], name) == 0) return paths[i];
        if (names[i]) continue;
        const tiny_entry *te = tiny_find(name);
        nt_err e = {0};
        snprintf(paths[i], sizeof paths[i], "%s/%s.gguf", t_tmpdir(), name);
        if (!te || te->write(paths[i], TINY_VOCAB_FILE, &e) != NT_OK) {
            t_fail(__FILE__, __LINE__, "writing tiny %s: %s", name, te ? e.msg : "no such model");
            return NULL;
        }
        names[i] = name;
        return paths[i];
    }
    return NULL;
}

/* Deterministic token ids in [5, 500): any text will do for comparing two runs. */
static void some_tokens(int32_t *v, int n)
{
    uint32_t s = 12345;
    for (int i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        v[i] = 5 + (int32_t)((s >> 16) % 495);
    }
    v[0] = 1; /* BOS */
}

/* Logits after every one of n tokens (n × n_vocab, malloc'd), from an empty cache. */
static float *all_logits(nt_model *m, const int32_t *tok, int n)
{
    const int32_t V = nt_model_get_info(m)->n_vocab;
    float *out = malloc((size_t)n * (size_t)V * sizeof *out);
    nt_err e = {0};
    nt_model_rewind(m, 0);
    if (out && nt_model_eval_all(m, tok, n, out, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "eval: %s", e.msg);
        free(out);
        return NULL;
    }
    return out;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double d = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)a[i] - (double)b[i]) > d) d = fabs((double)a[i] - (double)b[i]);
    return d;
}

/* ---------------------------------------------------------------- sliding window ----- */

/* The same model with the window lifted: positions before the window's length must give the
 * very same logits, every later one different ones (local layers stop seeing the start). */
static void check_window(const char *arch, int32_t want_swa, int n_local)
{
    const char *path = tiny_path(arch);
    T_ASSERT(path);
    enum { N = 48 };
    int32_t tok[N];
    some_tokens(tok, N);
    nt_model *a = t_load_model(path, 128, 2), *b = t_load_model(path, 128, 2);
    T_ASSERT(a && b);
    T_EQ_INT(a->n_swa, want_swa);
    int local = 0;
    for (int32_t il = 0; il < a->info.n_layer; il++) local += a->layers[il].swa;
    T_EQ_INT(local, n_local);
    b->n_swa = 1 << 30; /* the window never binds */
    const int32_t V = a->info.n_vocab;
    float *la = all_logits(a, tok, N), *lb = all_logits(b, tok, N);
    T_ASSERT(la && lb);
    for (int t = 0; t < N; t++) {
        const double d = max_abs_diff(la + (size_t)t * V, lb + (size_t)t * V, (size_t)V);
        if (t < want_swa && d != 0.0) t_fail(__FILE__, __LINE__, "%s: position %d inside the window differs by %g", arch, t, d);
        if (t >= want_swa && d < 1e-4) t_fail(__FILE__, __LINE__, "%s: position %d beyond the window is unchanged (%g)", arch, t, d);
    }
    free(la);
    free(lb);
    nt_model_free(a);
    nt_model_free(b);
}

static void test_gemma2_window(void) { check_window("gemma2", 16, 2); }
static void test_gemma3_window(void) { check_window("gemma3", 16, 5); }

/* ------------------------------------------------------------ phi3 rope factors ----- */

/* Contexts above rope.scaling.original_context_length (128) rotate with the long factors,
 * others with the short ones, and the attention factor scales every rotation. */
static void test_phi3_rope_factors(void)
{
    const char *path = tiny_path("phi3");
    T_ASSERT(path);
    nt_model *s = t_load_model(path, 128, 1), *l = t_load_model(path, 129, 1);
    T_ASSERT(s && l);
    const nt_gguf_tensor *ts = nt_gguf_find_tensor(s->g, "rope_factors_short.weight");
    const nt_gguf_tensor *tl = nt_gguf_find_tensor(l->g, "rope_factors_long.weight");
    T_ASSERT(ts && tl);
    T_CHECK(s->rope_freqs == (const float *)ts->data);
    T_CHECK(l->rope_freqs == (const float *)tl->data);
    T_NEAR(s->rope_mscale, sqrt(1.0 + log(4096.0 / 128.0) / log(128.0)), 1e-6);
    enum { N = 40 };
    int32_t tok[N];
    some_tokens(tok, N);
    float *ls = all_logits(s, tok, N), *ll = all_logits(l, tok, N);
    T_ASSERT(ls && ll);
    const int32_t V = s->info.n_vocab;
    /* Position 0 is not rotated at all; later ones depend on the factors. */
    T_CHECK(max_abs_diff(ls, ll, (size_t)V) == 0.0);
    T_CHECK(max_abs_diff(ls + (size_t)(N - 1) * V, ll + (size_t)(N - 1) * V, (size_t)V) > 1e-4);
    free(ls);
    free(ll);
    nt_model_free(s);
    nt_model_free(l);
}

/* ------------------------------------------------------------------------- chat ----- */

/* The template text in the file picks the family, and its markup becomes control tokens. */
static void check_chat(const char *arch, enum nt_chat_family want, const char *marker)
{
    const char *path = tiny_path(arch);
    T_ASSERT(path);
    nt_model *m = t_load_model(path, 128, 1);
    T_ASSERT(m);
    T_EQ_INT(nt_chat_detect_gguf(nt_model_gguf(m)), want);
    const nt_chat_msg msgs[] = {{NT_ROLE_USER, "Hello"}};
    nt_chat_prompt p = {0};
    nt_tokens toks = {0};
    nt_err e = {0};
    const nt_tokenizer *tk = nt_model_tokenizer(m);
    T_CHECK(nt_chat_format(want, msgs, 1, true, &p, &e) == NT_OK);
    T_CHECK(nt_chat_tokenize(tk, &p, nt_tokenizer_add_bos(tk), &toks, &e) == NT_OK);
    int32_t id = -1;
    nt_tokens one = {0};
    if (nt_tokenizer_encode(tk, marker, strlen(marker), NT_TOK_PARSE_SPECIAL, &one, &e) == NT_OK && one.n == 1)
        id = one.v[0];
    T_CHECK(id >= 3072); /* one of the control tokens appended to natter-guide's 3072 */
    bool found = false;
    for (size_t i = 0; i < toks.n; i++) found |= toks.v[i] == id;
    T_CHECK(found);
    nt_tokens_free(&one);
    nt_tokens_free(&toks);
    nt_chat_prompt_free(&p);
    nt_model_free(m);
}

static void test_chat_gemma2(void) { check_chat("gemma2", NT_CHAT_GEMMA, "<start_of_turn>"); }
static void test_chat_gemma3(void) { check_chat("gemma3", NT_CHAT_GEMMA, "<start_of_turn>"); }
static void test_chat_phi3(void) { check_chat("phi3", NT_CHAT_PHI3, "<|assistant|>"); }

int main(void)
{
    T_RUN(test_gemma2_window);
    T_RUN(test_gemma3_window);
    T_RUN(test_phi3_rope_factors);
    T_RUN(test_chat_gemma2);
    T_RUN(test_chat_gemma3);
    T_RUN(test_chat_phi3);
    return t_done();
}
