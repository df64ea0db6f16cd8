/* Tests for the trainer (trainer/train.c, nt_train_bpe.c, nt_train_data.c): gradients against
 * finite differences for every parameter kind, the engine's forward pass on a written
 * checkpoint against the trainer's own logits, the BPE vocabulary read back by the engine's
 * tokenizer, the data masks, resuming, and a tiny end-to-end run that must learn its answers.
 * Every model here is tiny (dims 8..32) so the whole file runs in a second or two. */
#include "natter.h"
#include "quant.h"
#include "train.h"
#include "t.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sample_texts[] = {
    "What is natter? natter is a terminal chat for local language models.",
    "How do I quit? Press Ctrl-D or type /quit and press Enter.",
    "Which models run? Llama-family GGUF files: llama and qwen2, in F32, F16, Q8_0 and Q4_K.",
    "The quick brown fox jumps over the lazy dog 12345 times... isn't it? It's 3.14!",
    "Ünïcödé text, emoji 🙂 and tabs\tand  double  spaces\nand new lines\n\n",
};
#define N_SAMPLES (sizeof sample_texts / sizeof sample_texts[0])

static nt_train_vocab *make_vocab(int32_t n_vocab)
{
    size_t lens[N_SAMPLES];
    for (size_t i = 0; i < N_SAMPLES; i++) lens[i] = strlen(sample_texts[i]);
    nt_train_vocab *v = NULL;
    nt_err e = {0};
    if (nt_train_bpe(&v, sample_texts, lens, N_SAMPLES, n_vocab, &e) != NT_OK)
        fprintf(stderr, "nt_train_bpe: %s\n", e.msg);
    return v;
}

static nt_train_params tiny_params(void)
{
    nt_train_params p = nt_train_default_params();
    p.n_embd = 8;
    p.n_layer = 2;
    p.n_head = 2;
    p.n_head_kv = 1; /* grouped-query attention: both heads share one KV head */
    p.n_ff = 12;
    p.n_ctx = 12;
    p.n_threads = 2;
    p.init_std = 0.5f;
    p.seed = 7;
    return p;
}

/* ------------------------------------------------------------------------- BPE ----- */

static void test_bpe_engine_roundtrip(void)
{
    nt_train_vocab *v = make_vocab(400);
    T_ASSERT(v != NULL);
    T_CHECK(nt_train_vocab_size(v) > 259 && nt_train_vocab_size(v) <= 400);
    char path[512];
    snprintf(path, sizeof path, "%s/vocab.gguf", t_tmpdir());
    nt_gguf_writer *w = nt_gguf_writer_init();
    T_ASSERT(w != NULL);
    T_EQ_INT(nt_train_vocab_to_gguf(v, w), NT_OK);
    nt_err e = {0};
    T_EQ_INT(nt_gguf_writer_write(w, path, &e), NT_OK);
    nt_gguf_writer_free(w);
    nt_gguf *g = NULL;
    nt_tokenizer *tk = NULL;
    T_EQ_INT(nt_gguf_open(&g, path, &e), NT_OK);
    T_ASSERT(g != NULL);
    T_EQ_INT(nt_tokenizer_load(&tk, g, &e), NT_OK);
    T_ASSERT(tk != NULL);
    T_CHECK(nt_tokenizer_warning(tk) == NULL);
    T_EQ_STR(nt_tokenizer_kind(tk), "gpt2");
    T_EQ_STR(nt_tokenizer_pre(tk), "gpt-2");
    T_EQ_INT(nt_tokenizer_n_vocab(tk), nt_train_vocab_size(v));
    T_EQ_INT(nt_tokenizer_eos(tk), 2);
    T_EQ_INT(nt_tokenizer_eot(tk), 2);
    T_CHECK(!nt_tokenizer_add_bos(tk));
    for (int32_t id = 0; id < 3; id++) T_CHECK(nt_tokenizer_is_control(tk, id));
    T_CHECK(!nt_tokenizer_is_control(tk, 3));
    T_CHECK(nt_tokenizer_is_eog(tk, 2));
    T_EQ_INT(nt_chat_detect_gguf(g), NT_CHAT_CHATML);

    /* The trainer's encoding equals the engine's, on the training texts and on new text. */
    const char *extra[] = {"natter quits on Ctrl-D; models: GGUF.", "zzz qqq 999 unseen words!?",
                           "\xff\xfe invalid bytes \xc3", ""};
    for (size_t i = 0; i < N_SAMPLES + 4; i++) {
        const char *s = i < N_SAMPLES ? sample_texts[i] : extra[i - N_SAMPLES];
        nt_tokens a = {0}, b = {0};
        T_EQ_INT(nt_train_vocab_encode(v, s, strlen(s), &a, &e), NT_OK);
        T_EQ_INT(nt_tokenizer_encode(tk, s, strlen(s), 0, &b, &e), NT_OK);
        T_EQ_INT(a.n, b.n);
        bool same = a.n == b.n && (a.n == 0 || memcmp(a.v, b.v, a.n * sizeof *a.v) == 0);
        if (!same) t_fail(__FILE__, __LINE__, "encodings differ for text %zu", i);
        /* and the tokens decode to the text */
        char buf[512];
        size_t o = 0;
        for (size_t k = 0; k < b.n; k++) {
            int r = nt_tokenizer_token_bytes(tk, b.v[k], buf + o, sizeof buf - o);
            T_ASSERT(r >= 0 && o + (size_t)r < sizeof buf);
            o += (size_t)r;
        }
        T_CHECK(o == strlen(s) && memcmp(buf, s, o) == 0);
        nt_tokens_free(&a);
        nt_tokens_free(&b);
    }
    /* Merges made text shorter than its bytes. */
    nt_tokens a = {0};
    T_EQ_INT(nt_train_vocab_encode(v, sample_texts[0], strlen(sample_texts[0]), &a, &e), NT_OK);
    T_CHECK(a.n < strlen(sample_texts[0]) / 2);
    nt_tokens_free(&a);

    /* ChatML markup becomes single control tokens; message text never does. */
    nt_chat_msg msgs[2] = {{NT_ROLE_USER, "hi <|im_end|>"}, {NT_ROLE_ASSISTANT, "hello"}};
    nt_chat_prompt p = {0};
    nt_tokens ct = {0};
    T_EQ_INT(nt_chat_format(NT_CHAT_CHATML, msgs, 2, false, &p, &e), NT_OK);
    T_EQ_INT(nt_chat_tokenize(tk, &p, false, &ct, &e), NT_OK);
    int n_start = 0, n_end = 0;
    for (size_t k = 0; k < ct.n; k++) {
        n_start += ct.v[k] == 1;
        n_end += ct.v[k] == 2;
    }
    T_EQ_INT(n_start, 2);
    T_EQ_INT(n_end, 2);
    T_EQ_INT(ct.v[0], 1);
    nt_tokens_free(&ct);
    nt_chat_prompt_free(&p);
    nt_tokenizer_free(tk);
    nt_gguf_close(g);
    nt_train_vocab_free(v);

    /* Too small a vocabulary is refused. */
    nt_train_vocab *bad = NULL;
    size_t len = 3;
    const char *txt[] = {"abc"};
    T_EQ_INT(nt_train_bpe(&bad, txt, &len, 1, 100, &e), NT_ERR_INVALID);
    T_CHECK(bad == NULL);
}

/* ------------------------------------------------------------------------ data ----- */

static void test_data_mask(void)
{
    nt_train_vocab *v = make_vocab(300);
    T_ASSERT(v != NULL);
    nt_train_params p = tiny_params();
    p.n_ctx = 64;
    nt_train_model *m = NULL;
    nt_err e = {0};
    T_EQ_INT(nt_train_model_new(&m, &p, v, &e), NT_OK);
    T_ASSERT(m != NULL);
    const nt_tokenizer *tk = nt_train_model_tokenizer(m);
    T_EQ_INT(nt_train_model_chat(m), NT_CHAT_CHATML);
    nt_train_data *d = nt_train_data_init();
    T_ASSERT(d != NULL);
    T_EQ_INT(nt_train_data_add_pair(d, tk, NT_CHAT_CHATML, NULL, "How do I quit?", "Press Ctrl-D.", 64, &e), NT_OK);
    T_EQ_INT(nt_train_data_add_pair(d, tk, NT_CHAT_CHATML, "Be brief.", "How do I quit?", "Press Ctrl-D.", 64, &e), NT_OK);
    T_EQ_INT(nt_train_data_add_pair(d, tk, NT_CHAT_CHATML, NULL, "How do I quit?", "Press Ctrl-D.", 8, &e), NT_OK);
    T_EQ_INT(nt_train_data_count(d), 3);
    T_EQ_INT(nt_train_data_truncated(d), 1);

    /* Sequence 0 is the prompt's tokens, then the answer's and <|im_end|> (scored), nothing
     * after it. */
    const train_seq *q = &d->v[0];
    nt_tokens pr = {0}, ans = {0};
    nt_chat_msg msg = {NT_ROLE_USER, "How do I quit?"};
    nt_chat_prompt cp = {0};
    T_EQ_INT(nt_chat_format(NT_CHAT_CHATML, &msg, 1, true, &cp, &e), NT_OK);
    T_EQ_INT(nt_chat_tokenize(tk, &cp, false, &pr, &e), NT_OK);
    nt_chat_prompt_free(&cp);
    T_EQ_INT(nt_tokenizer_encode(tk, "Press Ctrl-D.", 13, 0, &ans, &e), NT_OK);
    T_EQ_INT(q->n, (int32_t)(pr.n + ans.n + 1));
    /* In the prompt, the question's own tokens are marked 2 (question_drop may leave them
     * out), the template's 0. */
    char qtext[64];
    size_t qlen = 0;
    for (int32_t i = 0; i < q->n; i++) {
        if (i < (int32_t)pr.n) {
            T_CHECK(q->mask[i] == 0 || q->mask[i] == 2);
            T_EQ_INT(q->tok[i], pr.v[i]);
            if (q->mask[i] == 2) {
                int r = nt_tokenizer_token_bytes(tk, q->tok[i], qtext + qlen, sizeof qtext - qlen - 1);
                T_ASSERT(r > 0 && qlen + (size_t)r < sizeof qtext);
                qlen += (size_t)r;
            }
        } else {
            T_EQ_INT(q->mask[i], 1);
            if (i < q->n - 1) T_EQ_INT(q->tok[i], ans.v[i - (int32_t)pr.n]);
        }
    }
    qtext[qlen] = 0;
    T_EQ_STR(qtext, "How do I quit?");
    T_EQ_INT(q->tok[q->n - 1], 2);
    T_EQ_INT(d->v[1].n > q->n, 1);
    T_EQ_INT(d->v[2].n, 8);
    T_EQ_INT(nt_train_data_scored(d), (int64_t)(2 * (ans.n + 1)));
    nt_tokens_free(&pr);
    nt_tokens_free(&ans);
    nt_train_data_free(d);
    nt_train_model_free(m);
    nt_train_vocab_free(v);
}

/* A turn after earlier ones: the whole conversation is the prompt, only the last answer is
 * scored and only the last question is marked for question_drop. */
static void test_data_turn(void)
{
    nt_train_vocab *v = make_vocab(300);
    T_ASSERT(v != NULL);
    nt_train_params p = tiny_params();
    p.n_ctx = 128;
    nt_train_model *m = NULL;
    nt_err e = {0};
    T_EQ_INT(nt_train_model_new(&m, &p, v, &e), NT_OK);
    T_ASSERT(m != NULL);
    const nt_tokenizer *tk = nt_train_model_tokenizer(m);
    nt_train_data *d = nt_train_data_init();
    T_ASSERT(d != NULL);
    const nt_chat_msg before[2] = {{NT_ROLE_USER, "What is natter?"},
                                {NT_ROLE_ASSISTANT, "A terminal chat."}};
    T_EQ_INT(nt_train_data_add_turn(d, tk, NT_CHAT_CHATML, NULL, before, 2, "How do I quit?",
                                 "Press Ctrl-D.", 128, &e), NT_OK);
    T_EQ_INT(nt_train_data_count(d), 1);
    /* The tokens are the four-message conversation's, exactly. */
    nt_chat_msg all[4] = {before[0], before[1], {NT_ROLE_USER, "How do I quit?"},
                       {NT_ROLE_ASSISTANT, "Press Ctrl-D."}};
    nt_chat_prompt cp = {0};
    nt_tokens conv = {0}, ans = {0};
    T_EQ_INT(nt_chat_format(NT_CHAT_CHATML, all, 4, false, &cp, &e), NT_OK);
    T_EQ_INT(nt_chat_tokenize(tk, &cp, false, &conv, &e), NT_OK);
    nt_chat_prompt_free(&cp);
    T_EQ_INT(nt_tokenizer_encode(tk, "Press Ctrl-D.", 13, 0, &ans, &e), NT_OK);
    const train_seq *q = &d->v[0];
    T_ASSERT(q->n <= (int32_t)conv.n);
    for (int32_t i = 0; i < q->n; i++) T_EQ_INT(q->tok[i], conv.v[i]);
    /* Scored: the last answer and its <|im_end|>, nothing of the earlier answer. */
    T_EQ_INT(nt_train_data_scored(d), (int64_t)(ans.n + 1));
    for (int32_t i = 0; i < q->n; i++) T_EQ_INT(q->mask[i] == 1, i >= q->n - (int32_t)ans.n - 1);
    /* Marked 2: the last question's text only. */
    char qtext[64];
    size_t qlen = 0;
    for (int32_t i = 0; i < q->n; i++)
        if (q->mask[i] == 2) {
            int r = nt_tokenizer_token_bytes(tk, q->tok[i], qtext + qlen, sizeof qtext - qlen - 1);
            T_ASSERT(r > 0 && qlen + (size_t)r < sizeof qtext);
            qlen += (size_t)r;
        }
    qtext[qlen] = 0;
    T_EQ_STR(qtext, "How do I quit?");
    /* Earlier turns must alternate user, assistant. */
    const nt_chat_msg wrong[1] = {{NT_ROLE_ASSISTANT, "Hi."}};
    T_EQ_INT(nt_train_data_add_turn(d, tk, NT_CHAT_CHATML, NULL, wrong, 1, "Q?", "A.", 128, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "nt_train_data_add_turn: earlier turn 0 is not a user message");
    T_EQ_INT(nt_train_data_count(d), 1);
    nt_tokens_free(&conv);
    nt_tokens_free(&ans);
    nt_train_data_free(d);
    nt_train_model_free(m);
    nt_train_vocab_free(v);
}

/* ------------------------------------------------------------------- gradients ----- */

/* Loss of the batch with the current parameters. */
static double batch_loss(nt_train_model *m, const nt_train_data *d, const size_t *idx, size_t n)
{
    double loss = 0.0;
    nt_err e = {0};
    if (nt_train_batch_grad(m, d, idx, n, false, &loss, &e) != NT_OK) return NAN;
    return loss;
}

static uint64_t rng_state = 12345;
static double rnd(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}

/* Central differences in float: the loss is a double sum of float logits (relative rounding
 * around 1e-7), so with a step of 1e-2 along a unit direction the difference quotient is good
 * to a few 1e-4 absolute. Tolerance: 1e-3 + 2% of the analytic directional derivative, and the
 * derivatives tested are at least 1e-2 so the check is not vacuous. */
static void check_gradients(float dropout)
{
    nt_train_vocab *v = make_vocab(300);
    T_ASSERT(v != NULL);
    nt_train_params p = tiny_params();
    nt_train_model *m = NULL;
    nt_err e = {0};
    T_EQ_INT(nt_train_model_new(&m, &p, v, &e), NT_OK);
    T_ASSERT(m != NULL);
    /* Norm weights away from 1, so their gradient is not special. */
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].n_dims == 1) {
            float *w = nt_train_tensor_data(m, i);
            for (size_t k = 0; k < m->tensors[i].n; k++) w[k] = 1.0f + 0.3f * (float)rnd();
        }
    nt_train_data *d = nt_train_data_init();
    T_ASSERT(d != NULL);
    int32_t tok[3][12];
    uint8_t mask[3][12];
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < 12; i++) {
            tok[s][i] = (int32_t)((unsigned)(rnd() * 1000 + 1000) % 300);
            mask[s][i] = (uint8_t)(i >= 3 + s);
        }
    T_EQ_INT(nt_train_data_add(d, tok[0], mask[0], 12, &e), NT_OK);
    T_EQ_INT(nt_train_data_add(d, tok[1], mask[1], 9, &e), NT_OK);
    T_EQ_INT(nt_train_data_add(d, tok[2], mask[2], 12, &e), NT_OK);
    const size_t idx[3] = {0, 1, 2};
    double loss, loss_nodrop = batch_loss(m, d, idx, 3);
    /* With dropout the masks are a function of the step and the tokens, so every loss
     * evaluation below sees the same ones. */
    m->dropout = dropout;
    m->step = 5;
    T_EQ_INT(nt_train_batch_grad(m, d, idx, 3, true, &loss, &e), NT_OK);
    T_CHECK(loss > 1.0 && loss < 20.0);
    if (dropout > 0.0f) T_CHECK(fabs(loss - loss_nodrop) > 1e-3);
    else T_EQ_INT(loss == loss_nodrop, 1);
    float *grad = malloc(m->n_params * sizeof *grad);
    T_ASSERT(grad != NULL);
    memcpy(grad, m->grad, m->n_params * sizeof *grad);

    /* The tokens the data uses, for the embedding check (other rows get no gradient). */
    int checked = 0;
    double worst = 0.0;
    for (int i = 0; i < m->n_tensors; i++) {
        const train_tensor *t = &m->tensors[i];
        float *w = nt_train_tensor_data(m, i);
        const float *g = grad + t->off;
        /* Directional derivative along a random unit direction. */
        double *dir = malloc(t->n * sizeof *dir), norm = 0.0, an = 0.0;
        T_ASSERT(dir != NULL);
        for (size_t k = 0; k < t->n; k++) {
            dir[k] = rnd();
            if (i == 0) { /* embedding: only rows of tokens in the data matter */
                bool used = false;
                const int32_t row = (int32_t)(k / (size_t)t->ne[0]);
                for (int s = 0; s < 3; s++)
                    for (int j = 0; j < 12; j++) used = used || tok[s][j] == row;
                if (!used) dir[k] = 0.0;
            }
            norm += dir[k] * dir[k];
        }
        /* Half random, half along the gradient, so the derivative is large enough to test
         * while still mixing every entry. */
        double gn = 0.0;
        for (size_t k = 0; k < t->n; k++) gn += (double)g[k] * (double)g[k];
        gn = sqrt(gn);
        T_ASSERT(gn > 0.0 && norm > 0.0);
        norm = sqrt(norm);
        double dn = 0.0;
        for (size_t k = 0; k < t->n; k++) {
            dir[k] = dir[k] / norm + (dir[k] != 0.0 || i != 0 ? (double)g[k] / gn : 0.0);
            dn += dir[k] * dir[k];
        }
        dn = sqrt(dn);
        for (size_t k = 0; k < t->n; k++) {
            dir[k] /= dn;
            an += dir[k] * (double)g[k];
        }
        const double h = 1e-2;
        float *saved = malloc(t->n * sizeof *saved);
        T_ASSERT(saved != NULL);
        memcpy(saved, w, t->n * sizeof *saved);
        for (size_t k = 0; k < t->n; k++) w[k] = saved[k] + (float)(h * dir[k]);
        const double lp = batch_loss(m, d, idx, 3);
        for (size_t k = 0; k < t->n; k++) w[k] = saved[k] - (float)(h * dir[k]);
        const double lm = batch_loss(m, d, idx, 3);
        memcpy(w, saved, t->n * sizeof *saved);
        const double fd = (lp - lm) / (2.0 * h);
        const double tol = 1e-3 + 0.02 * fabs(an);
        if (!(fabs(fd - an) <= tol))
            t_fail(__FILE__, __LINE__, "%s: directional derivative %.6g, finite difference %.6g",
                   t->name, an, fd);
        if (fabs(an) < 1e-2)
            t_fail(__FILE__, __LINE__, "%s: derivative %.3g too small to test", t->name, an);
        if (fabs(fd - an) / fabs(an) > worst) worst = fabs(fd - an) / fabs(an);

        /* And the single largest entry of the gradient. */
        size_t big = 0;
        for (size_t k = 1; k < t->n; k++)
            if (fabsf(g[k]) > fabsf(g[big])) big = k;
        const float h1 = 1e-2f;
        w[big] = saved[big] + h1;
        const double ep = batch_loss(m, d, idx, 3);
        w[big] = saved[big] - h1;
        const double em = batch_loss(m, d, idx, 3);
        w[big] = saved[big];
        const double fd1 = (ep - em) / (2.0 * (double)h1);
        if (!(fabs(fd1 - (double)g[big]) <= 1e-3 + 0.02 * fabs((double)g[big])))
            t_fail(__FILE__, __LINE__, "%s[%zu]: gradient %.6g, finite difference %.6g", t->name,
                   big, (double)g[big], fd1);
        free(saved);
        free(dir);
        checked++;
    }
    T_EQ_INT(checked, 2 + 2 * TRAIN_LAYER_TENSORS);
    if (getenv("NATTER_TEST_VERBOSE"))
        fprintf(stderr, "dropout %.2f: worst relative gradient error %.3g\n", (double)dropout, worst);
    free(grad);
    nt_train_data_free(d);
    nt_train_model_free(m);
    nt_train_vocab_free(v);
}

static void test_gradients(void)
{
    check_gradients(0.0f);
}

/* Dropout (on the attention and FFN projections) keeps the same masks in the backward pass. */
static void test_gradients_dropout(void)
{
    check_gradients(0.3f);
}

/* ------------------------------------------------------- engine reads checkpoints ----- */

static void check_engine_logits(int32_t n_head_kv, bool f16)
{
    nt_train_vocab *v = make_vocab(320);
    T_ASSERT(v != NULL);
    nt_train_params p = tiny_params();
    p.n_embd = 32;
    p.n_head = 4;
    p.n_head_kv = n_head_kv;
    p.n_ff = 48;
    p.n_ctx = 24;
    p.init_std = 0.3f;
    nt_train_model *m = NULL;
    nt_err e = {0};
    T_EQ_INT(nt_train_model_new(&m, &p, v, &e), NT_OK);
    T_ASSERT(m != NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/ck-%d-%d.gguf", t_tmpdir(), (int)n_head_kv, (int)f16);
    if (f16) { /* weights already F16-exact, so only the activations and products differ */
        for (int i = 0; i < m->n_tensors; i++) {
            float *w = nt_train_tensor_data(m, i);
            for (size_t k = 0; k < m->tensors[i].n; k++) w[k] = nt_quant_f16_to_f32(nt_quant_f32_to_f16(w[k]));
        }
    }
    T_EQ_INT(nt_train_model_save(m, path, f16, &e), NT_OK);

    nt_model *em = NULL;
    nt_model_params mp = nt_model_default_params();
    mp.n_threads = 2;
    mp.kv_type = NT_TYPE_F32; /* the trainer computes in f32: compare like with like */
    T_EQ_INT(nt_model_load(&em, path, &mp, &e), NT_OK);
    if (!em) {
        fprintf(stderr, "nt_model_load: %s\n", e.msg);
        nt_train_model_free(m);
        nt_train_vocab_free(v);
        return;
    }
    const nt_model_info *in = nt_model_get_info(em);
    T_EQ_INT(in->n_embd, 32);
    T_EQ_INT(in->n_head_kv, n_head_kv);
    T_EQ_INT(in->n_ctx_train, 24);
    T_EQ_INT(in->n_vocab, nt_train_vocab_size(v));
    T_EQ_INT(nt_chat_detect_gguf(nt_model_gguf(em)), NT_CHAT_CHATML);

    const int32_t n = 20, V = in->n_vocab;
    int32_t tok[20];
    for (int i = 0; i < n; i++) tok[i] = (int32_t)((i * 37 + 5) % V);
    float *a = malloc((size_t)n * (size_t)V * sizeof *a), *b = malloc((size_t)n * (size_t)V * sizeof *b);
    T_ASSERT(a && b);
    T_EQ_INT(nt_train_logits(m, tok, n, a, &e), NT_OK);
    T_EQ_INT(nt_model_eval_all(em, tok, n, b, &e), NT_OK);
    /* The same arithmetic up to the order of float sums in the products: agreement to 1e-4 of
     * the logits' range. With F16 weights the engine also rounds each matrix's input to
     * binary16 (2^-11 relative, as ggml does; quant.h), and those errors grow through the
     * layers of this deliberately large-weighted model (init_std 0.3): 2.6e-3 of the range
     * measured, 1e-2 allowed (a wrong kernel is off by the range itself). */
    const double tol = f16 ? 1e-2 : 1e-4;
    double maxabs = 0.0, maxdiff = 0.0;
    for (size_t i = 0; i < (size_t)n * (size_t)V; i++) {
        if (fabs(a[i]) > maxabs) maxabs = fabs(a[i]);
        if (fabs(a[i] - b[i]) > maxdiff) maxdiff = fabs(a[i] - b[i]);
    }
    T_CHECK(maxabs > 0.1);
    if (!(maxdiff <= tol * maxabs))
        t_fail(__FILE__, __LINE__, "kv %d f16 %d: engine and trainer logits differ by %.3g (range %.3g)",
               (int)n_head_kv, (int)f16, maxdiff, maxabs);
    /* One token at a time (the decode path) agrees too, more loosely. */
    nt_model_rewind(em, 0);
    for (int i = 0; i < n; i++) T_EQ_INT(nt_model_eval(em, tok + i, 1, b, &e), NT_OK);
    double d2 = 0.0;
    for (int32_t k = 0; k < V; k++)
        if (fabs(a[(size_t)(n - 1) * (size_t)V + (size_t)k] - b[k]) > d2) d2 = fabs(a[(size_t)(n - 1) * (size_t)V + (size_t)k] - b[k]);
    T_CHECK(d2 <= 2e-2 * maxabs);
    free(a);
    free(b);
    nt_model_free(em);
    nt_train_model_free(m);
    nt_train_vocab_free(v);
}

static void test_engine_logits(void)
{
    check_engine_logits(4, false);
    check_engine_logits(2, false);
    check_engine_logits(1, true);
}

/* --------------------------------------------------------- learning and resuming ----- */

static const char *const qa[][2] = {
    {"What is natter?", "A terminal chat."},
    {"How do I quit?", "Press Ctrl-D."},
    {"Which files run?", "GGUF models."},
    {"Who made you?", "The natter team."},
};

static nt_train_data *qa_data(const nt_train_model *m)
{
    nt_train_data *d = nt_train_data_init();
    nt_err e = {0};
    for (size_t i = 0; d && i < 4; i++)
        if (nt_train_data_add_pair(d, nt_train_model_tokenizer(m), NT_CHAT_CHATML, NULL, qa[i][0], qa[i][1],
                                nt_train_model_n_ctx(m), &e) != NT_OK) {
            nt_train_data_free(d);
            return NULL;
        }
    return d;
}

static nt_train_params learn_params(void)
{
    nt_train_params p = nt_train_default_params();
    p.n_embd = 32;
    p.n_layer = 2;
    p.n_head = 2;
    p.n_head_kv = 2;
    p.n_ff = 64;
    p.n_ctx = 48;
    p.batch = 4;
    p.steps = 120;
    p.warmup = 10;
    p.lr = 1e-2f;
    p.lr_min = 1e-3f;
    p.weight_decay = 0.0f;
    p.n_threads = 2;
    p.save_every = 0;
    p.seed = 3;
    return p;
}

static nt_train_vocab *qa_vocab(void)
{
    const char *texts[8];
    size_t lens[8];
    for (int i = 0; i < 4; i++) {
        texts[2 * i] = qa[i][0];
        texts[2 * i + 1] = qa[i][1];
    }
    for (int i = 0; i < 8; i++) lens[i] = strlen(texts[i]);
    nt_train_vocab *v = NULL;
    nt_err e = {0};
    nt_train_bpe(&v, texts, lens, 8, 300, &e);
    return v;
}

static bool count_steps(const nt_train_progress *p, void *user)
{
    int *n = user;
    (*n)++;
    return p->step > 0;
}

/* Stops a run after step 60 (which then writes its checkpoint). */
static bool stop60(const nt_train_progress *pp, void *u)
{
    (*(int *)u)++;
    return pp->step < 60;
}

/* Greedy answer from the engine for question q, written to out. */
static void engine_answer(nt_model *em, const char *q, char *out, size_t cap)
{
    const nt_tokenizer *tk = nt_model_tokenizer(em);
    nt_chat_msg msg = {NT_ROLE_USER, q};
    nt_chat_prompt cp = {0};
    nt_tokens pr = {0};
    nt_err e = {0};
    size_t o = 0;
    out[0] = 0;
    nt_model_rewind(em, 0);
    if (nt_chat_format(NT_CHAT_CHATML, &msg, 1, true, &cp, &e) || nt_chat_tokenize(tk, &cp, false, &pr, &e)) goto done;
    const int32_t V = nt_model_get_info(em)->n_vocab;
    float *logits = malloc((size_t)V * sizeof *logits);
    if (!logits) goto done;
    int rc = nt_model_eval(em, pr.v, (int32_t)pr.n, logits, &e);
    for (int k = 0; rc == NT_OK && k < 24; k++) {
        int32_t best = 0;
        for (int32_t i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        if (nt_tokenizer_is_eog(tk, best)) break;
        int r = nt_tokenizer_token_bytes(tk, best, out + o, cap - o - 1);
        if (r < 0 || o + (size_t)r >= cap - 1) break;
        o += (size_t)r;
        rc = nt_model_eval(em, &best, 1, logits, &e);
    }
    out[o] = 0;
    free(logits);
done:
    nt_chat_prompt_free(&cp);
    nt_tokens_free(&pr);
}

static void test_learns_and_resumes(void)
{
    nt_train_vocab *v = qa_vocab();
    T_ASSERT(v != NULL);
    nt_train_params p = learn_params();
    nt_err e = {0};
    nt_train_model *m = NULL;
    T_EQ_INT(nt_train_model_new(&m, &p, v, &e), NT_OK);
    T_ASSERT(m != NULL);
    nt_train_data *d = qa_data(m);
    T_ASSERT(d != NULL);
    const size_t all[4] = {0, 1, 2, 3};
    double loss0 = 0.0, loss1 = 0.0;
    T_EQ_INT(nt_train_batch_grad(m, d, all, 4, false, &loss0, &e), NT_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/learn.gguf", t_tmpdir());
    int calls = 0;
    T_EQ_INT(nt_train_run(m, d, &p, path, count_steps, &calls, &e), NT_OK);
    T_EQ_INT(calls, p.steps);
    T_EQ_INT(nt_train_model_step(m), p.steps);
    T_EQ_INT(nt_train_batch_grad(m, d, all, 4, false, &loss1, &e), NT_OK);
    T_CHECK(loss0 > 4.0);
    T_CHECK(loss1 < 0.05);

    /* The engine, loading the checkpoint, answers every question word for word. */
    nt_model *em = NULL;
    nt_model_params mp = nt_model_default_params();
    mp.n_threads = 1;
    T_EQ_INT(nt_model_load(&em, path, &mp, &e), NT_OK);
    T_ASSERT(em != NULL);
    for (int i = 0; i < 4; i++) {
        char ans[256];
        engine_answer(em, qa[i][0], ans, sizeof ans);
        T_EQ_STR(ans, qa[i][1]);
    }
    nt_model_free(em);

    /* Stopping after 60 steps and resuming to 120 gives the very same weights. */
    nt_train_model *r = NULL;
    char half[512];
    snprintf(half, sizeof half, "%s/half.gguf", t_tmpdir());
    T_EQ_INT(nt_train_model_new(&r, &p, v, &e), NT_OK);
    T_ASSERT(r != NULL);
    nt_train_params p1 = p;
    p1.save_every = 60;
    int stop_calls = 0;
    T_EQ_INT(nt_train_run(r, d, &p1, half, stop60, &stop_calls, &e), NT_ERR_CANCELLED);
    T_EQ_INT(nt_train_model_step(r), 60);
    nt_train_model_free(r);
    r = NULL;
    T_EQ_INT(nt_train_model_load(&r, half, &p, &e), NT_OK);
    T_ASSERT(r != NULL);
    T_EQ_INT(nt_train_model_resume(r, half, &e), NT_OK);
    T_EQ_INT(nt_train_model_step(r), 60);
    T_EQ_INT(nt_train_run(r, d, &p, NULL, NULL, NULL, &e), NT_OK);
    T_EQ_INT(nt_train_model_step(r), 120);
    T_EQ_INT(r->n_params, m->n_params);
    T_CHECK(memcmp(r->w, m->w, m->n_params * sizeof *m->w) == 0);

    /* A state file of another shape is refused. */
    nt_train_model *other = NULL;
    nt_train_params p2 = p;
    p2.n_ff = 32;
    T_EQ_INT(nt_train_model_new(&other, &p2, v, &e), NT_OK);
    T_EQ_INT(nt_train_model_resume(other, half, &e), NT_ERR_FORMAT);
    T_CHECK(strstr(e.msg, "parameters") != NULL);
    nt_train_model_free(other);

    nt_train_model_free(r);
    nt_train_data_free(d);
    nt_train_model_free(m);
    nt_train_vocab_free(v);
}

/* ------------------------------------------------- fine-tuning a downloaded model ----- */

/* stories260K (llama2.c's, F32, SentencePiece, 8 heads over 4 KV heads, untied output): the
 * trainer loads it for --init, computes the engine's logits, its untied output matrix gets a
 * correct gradient, and a checkpoint written from it loads with the same tokenizer. */
static void test_init_from_gguf(void)
{
    const char *path = t_fixture("models/stories260K.gguf");
    if (!path) T_SKIP("fixture models/stories260K.gguf is absent");
    char src[512];
    snprintf(src, sizeof src, "%s", path);
    nt_train_params p = nt_train_default_params();
    p.n_threads = 2;
    p.n_ctx = 64;
    nt_err e = {0};
    nt_train_model *m = NULL;
    T_EQ_INT(nt_train_model_load(&m, src, &p, &e), NT_OK);
    T_ASSERT(m != NULL);
    T_CHECK(!m->c.tied);
    T_EQ_INT(nt_train_model_n_ctx(m), 64);
    T_EQ_INT(nt_train_model_n_params(m), 292800);
    T_EQ_STR(nt_tokenizer_kind(nt_train_model_tokenizer(m)), "llama");

    nt_tokens tok = {0};
    T_EQ_INT(nt_tokenizer_encode(nt_train_model_tokenizer(m), "Once upon a time, there was a little girl named Lily.",
                              53, NT_TOK_ADD_BOS, &tok, &e), NT_OK);
    T_ASSERT(tok.n > 8 && tok.n < 64);
    const int32_t n = (int32_t)tok.n, V = 512;
    float *a = malloc((size_t)n * V * sizeof *a), *b = malloc((size_t)n * V * sizeof *b);
    T_ASSERT(a && b);
    nt_model *em = NULL;
    nt_model_params mp = nt_model_default_params();
    mp.n_threads = 1;
    mp.kv_type = NT_TYPE_F32; /* the trainer computes in f32 */
    T_EQ_INT(nt_model_load(&em, src, &mp, &e), NT_OK);
    T_ASSERT(em != NULL);
    T_EQ_INT(nt_train_logits(m, tok.v, n, a, &e), NT_OK);
    T_EQ_INT(nt_model_eval_all(em, tok.v, n, b, &e), NT_OK);
    double maxabs = 0.0, maxdiff = 0.0;
    for (size_t i = 0; i < (size_t)n * V; i++) {
        if (fabs(a[i]) > maxabs) maxabs = fabs(a[i]);
        if (fabs(a[i] - b[i]) > maxdiff) maxdiff = fabs(a[i] - b[i]);
    }
    if (!(maxdiff <= 1e-4 * maxabs))
        t_fail(__FILE__, __LINE__, "stories260K: logits differ by %.3g (range %.3g)", maxdiff, maxabs);
    nt_model_free(em);

    /* The untied output matrix's gradient, along the gradient's own direction. */
    nt_train_data *d = nt_train_data_init();
    uint8_t mask[64];
    for (int32_t i = 0; i < n; i++) mask[i] = 1;
    T_EQ_INT(nt_train_data_add(d, tok.v, mask, n, &e), NT_OK);
    const size_t idx[1] = {0};
    double loss;
    T_EQ_INT(nt_train_batch_grad(m, d, idx, 1, true, &loss, &e), NT_OK);
    const int oi = m->n_tensors - 1;
    T_EQ_STR(m->tensors[oi].name, "output.weight");
    const train_tensor *t = &m->tensors[oi];
    float *w = nt_train_tensor_data(m, oi), *g = m->grad + t->off;
    double gn = 0.0;
    for (size_t k = 0; k < t->n; k++) gn += (double)g[k] * g[k];
    gn = sqrt(gn);
    T_ASSERT(gn > 0.0);
    float *saved = malloc(t->n * sizeof *saved);
    T_ASSERT(saved != NULL);
    memcpy(saved, w, t->n * sizeof *saved);
    const double h = 1e-2;
    for (size_t k = 0; k < t->n; k++) w[k] = saved[k] + (float)(h * g[k] / gn);
    const double lp = batch_loss(m, d, idx, 1);
    for (size_t k = 0; k < t->n; k++) w[k] = saved[k] - (float)(h * g[k] / gn);
    const double lm = batch_loss(m, d, idx, 1);
    memcpy(w, saved, t->n * sizeof *saved);
    const double fd = (lp - lm) / (2 * h);
    if (!(fabs(fd - gn) <= 1e-3 + 0.02 * gn))
        t_fail(__FILE__, __LINE__, "output.weight: derivative %.6g, finite difference %.6g", gn, fd);
    free(saved);

    /* Saved and reloaded by the engine: same tokenizer, same logits. */
    char out[512];
    snprintf(out, sizeof out, "%s/tuned.gguf", t_tmpdir());
    T_EQ_INT(nt_train_model_save(m, out, false, &e), NT_OK);
    T_EQ_INT(nt_model_load(&em, out, &mp, &e), NT_OK);
    T_ASSERT(em != NULL);
    T_EQ_STR(nt_tokenizer_kind(nt_model_tokenizer(em)), "llama");
    T_EQ_INT(nt_tokenizer_bos(nt_model_tokenizer(em)), 1);
    T_EQ_INT(nt_model_eval_all(em, tok.v, n, b, &e), NT_OK);
    maxdiff = 0.0;
    for (size_t i = 0; i < (size_t)n * V; i++)
        if (fabs(a[i] - b[i]) > maxdiff) maxdiff = fabs(a[i] - b[i]);
    T_CHECK(maxdiff <= 1e-4 * maxabs);
    nt_model_free(em);
    free(a);
    free(b);
    nt_tokens_free(&tok);
    nt_train_data_free(d);
    nt_train_model_free(m);
}

int main(void)
{
    T_RUN(test_bpe_engine_roundtrip);
    T_RUN(test_data_mask);
    T_RUN(test_data_turn);
    T_RUN(test_gradients);
    T_RUN(test_gradients_dropout);
    T_RUN(test_engine_logits);
    T_RUN(test_learns_and_resumes);
    T_RUN(test_init_from_gguf);
    return t_done();
}
