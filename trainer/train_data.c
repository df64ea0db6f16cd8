/* nt_train_data.c — the trainer's data: question/answer pairs turned into token sequences with a
 * mask of the positions the loss scores.
 *
 * A pair is formatted twice with the model's chat template: the prompt alone (system, user and
 * the assistant's opening, exactly what the chat sends before an answer) and the whole
 * exchange. The prompt's tokens are a prefix of the exchange's (the template's control tokens
 * separate them), so everything after that prefix is the answer: scored up to and including
 * the first end-of-generation token (<|im_end|> for ChatML), and whatever the template writes
 * after it is dropped. The model thus learns to answer the exact prompt it will see, and to
 * stop. */
#include "train.h"

#include <stdlib.h>
#include <string.h>

nt_train_data *nt_train_data_init(void)
{
    return calloc(1, sizeof(nt_train_data));
}

void nt_train_data_free(nt_train_data *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].tok);
        free(d->v[i].mask);
    }
    free(d->v);
    free(d);
}

size_t nt_train_data_count(const nt_train_data *d) { return d->n; }
int64_t nt_train_data_tokens(const nt_train_data *d) { return d->n_tokens; }
int64_t nt_train_data_scored(const nt_train_data *d) { return d->n_scored; }
size_t nt_train_data_truncated(const nt_train_data *d) { return d->n_truncated; }

/* Appends a copy of a sequence whose mask uses the internal values 0, 1 and 2. */
static int td_push(nt_train_data *d, const int32_t *tok, const uint8_t *mask, int32_t n, nt_err *err)
{
    if (!d || !tok || !mask || n < 1)
        return nt_err_set(err, NT_ERR_INVALID, "nt_train_data_add: empty sequence");
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        train_seq *v = realloc(d->v, cap * sizeof *v);
        if (!v) return nt_err_set(err, NT_ERR_NOMEM, "nt_train_data_add: out of memory");
        d->v = v;
        d->cap = cap;
    }
    train_seq q = {malloc((size_t)n * sizeof *q.tok), malloc((size_t)n), n};
    if (!q.tok || !q.mask) {
        free(q.tok);
        free(q.mask);
        return nt_err_set(err, NT_ERR_NOMEM, "nt_train_data_add: out of memory");
    }
    memcpy(q.tok, tok, (size_t)n * sizeof *tok);
    memcpy(q.mask, mask, (size_t)n);
    for (int32_t i = 1; i < n; i++) d->n_scored += q.mask[i] == 1;
    d->v[d->n++] = q;
    d->n_tokens += n;
    return NT_OK;
}

int nt_train_data_add(nt_train_data *d, const int32_t *tok, const uint8_t *mask, int32_t n, nt_err *err)
{
    if (!d || !tok || !mask || n < 1)
        return nt_err_set(err, NT_ERR_INVALID, "nt_train_data_add: empty sequence");
    uint8_t *m01 = malloc((size_t)n);
    if (!m01) return nt_err_set(err, NT_ERR_NOMEM, "nt_train_data_add: out of memory");
    for (int32_t i = 0; i < n; i++) m01[i] = mask[i] != 0;
    int rc = td_push(d, tok, m01, n, err);
    free(m01);
    return rc;
}

/* The tokens of msgs[0..n) formatted with f, appended to out. */
static int td_tokens(const nt_tokenizer *t, enum nt_chat_family f, const nt_chat_msg *msgs, size_t n,
                     bool add_generation, nt_tokens *out, nt_err *err)
{
    nt_chat_prompt p = {0};
    int rc = nt_chat_format(f, msgs, n, add_generation, &p, err);
    if (!rc) rc = nt_chat_tokenize(t, &p, nt_tokenizer_add_bos(t), out, err);
    nt_chat_prompt_free(&p);
    return rc;
}

int nt_train_data_add_pair(nt_train_data *d, const nt_tokenizer *t, enum nt_chat_family f,
                        const char *system, const char *user, const char *assistant,
                        int32_t max_len, nt_err *err)
{
    return nt_train_data_add_turn(d, t, f, system, NULL, 0, user, assistant, max_len, err);
}

#define TD_MAX_BEFORE 16 /* earlier turns nt_train_data_add_turn takes */

int nt_train_data_add_turn(nt_train_data *d, const nt_tokenizer *t, enum nt_chat_family f,
                        const char *system, const nt_chat_msg *before, size_t n_before,
                        const char *user, const char *assistant, int32_t max_len, nt_err *err)
{
    if (!d || !t || !user || !assistant || max_len < 2 || (n_before && !before) ||
        n_before > TD_MAX_BEFORE)
        return nt_err_set(err, NT_ERR_INVALID, "nt_train_data_add_turn: bad arguments");
    nt_chat_msg msgs[TD_MAX_BEFORE + 3];
    size_t n = 0;
    if (system && *system) msgs[n++] = (nt_chat_msg){NT_ROLE_SYSTEM, system};
    for (size_t i = 0; i < n_before; i++) {
        if (!before[i].content || before[i].role != (i % 2 ? NT_ROLE_ASSISTANT : NT_ROLE_USER))
            return nt_err_set(err, NT_ERR_INVALID, "nt_train_data_add_turn: earlier turn %zu is not "
                              "a %s message", i, i % 2 ? "assistant" : "user");
        msgs[n++] = before[i];
    }
    msgs[n++] = (nt_chat_msg){NT_ROLE_USER, user};
    nt_tokens prompt = {0}, all = {0}, bare = {0};
    uint8_t *mask = NULL;
    int rc = td_tokens(t, f, msgs, n, true, &prompt, err);
    if (rc) goto out;
    /* The question's own tokens: what the prompt has beyond the same prompt with an empty
     * question (their common prefix and suffix are template markup). */
    msgs[n - 1].content = "";
    if ((rc = td_tokens(t, f, msgs, n, true, &bare, err))) goto out;
    msgs[n - 1].content = user;
    size_t q0 = 0, q1 = prompt.n;
    while (q0 < bare.n && q0 < prompt.n && bare.v[q0] == prompt.v[q0]) q0++;
    for (size_t k = bare.n; k > q0 && q1 > q0 && bare.v[k - 1] == prompt.v[q1 - 1]; k--) q1--;
    msgs[n++] = (nt_chat_msg){NT_ROLE_ASSISTANT, assistant};
    if ((rc = td_tokens(t, f, msgs, n, false, &all, err))) goto out;

    /* The answer starts where the two tokenizations part (normally at the prompt's end). */
    size_t start = 0;
    while (start < prompt.n && start < all.n && prompt.v[start] == all.v[start]) start++;
    size_t end = start;
    while (end < all.n && !nt_tokenizer_is_eog(t, all.v[end])) end++;
    if (end < all.n) end++; /* the end-of-turn token is scored too */
    if (start == 0 || end <= start) {
        rc = nt_err_set(err, NT_ERR_INVALID, "nt_train_data_add_pair: the answer '%.40s' yields no "
                        "tokens to train on", assistant);
        goto out;
    }
    if (end > (size_t)max_len) {
        if (n_before) { /* the caller can drop the earlier turns instead of the answer's end */
            rc = nt_err_set(err, NT_ERR_CONTEXT_FULL, "nt_train_data_add_turn: %zu tokens with the "
                            "earlier turns, more than %d", end, (int)max_len);
            goto out;
        }
        end = (size_t)max_len;
        d->n_truncated++;
    }
    mask = calloc(end, 1);
    if (!mask) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "nt_train_data_add_pair: out of memory");
        goto out;
    }
    for (size_t i = q0; i < q1 && i < start && i < end; i++) mask[i] = 2;
    for (size_t i = start; i < end; i++) mask[i] = 1;
    rc = td_push(d, all.v, mask, (int32_t)end, err);
out:
    free(mask);
    nt_tokens_free(&bare);
    nt_tokens_free(&prompt);
    nt_tokens_free(&all);
    return rc;
}
