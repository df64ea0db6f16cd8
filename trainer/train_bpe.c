/* nt_train_bpe.c — learning a byte-level BPE vocabulary (GPT-2 style) from the training texts,
 * and writing it as tokenizer.ggml.* metadata the engine's tokenizer reads back.
 *
 * Texts are split into words by the engine's own "gpt-2" pre-tokenizer (pretok.c), so the
 * words seen here are exactly the words the engine will merge. Every byte is a token (its
 * printable code point in GPT-2's byte→unicode table); then, repeatedly, the most frequent
 * adjacent pair over all words (weighted by word count; ties to the lowest ids) becomes a new
 * token and a merge, until the vocabulary is full or no pair occurs twice. Applying the
 * merges by rank, lowest first and leftmost first (what llama.cpp and tok_merge.c do),
 * reproduces the segmentation learnt here.
 *
 * Ids: 0 <|endoftext|> (BOS, padding), 1 <|im_start|>, 2 <|im_end|> (EOS, end of turn) as
 * control tokens, like SmolLM; 3..258 the 256 bytes; then one id per merge whose result is a
 * new string (a merge can rebuild a string an earlier merge made: it keeps that id). */
#include "train.h"
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

#define BPE_N_SPECIAL 3
#define BPE_FIRST_BYTE BPE_N_SPECIAL

static const char *const bpe_specials[BPE_N_SPECIAL] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

/* The ChatML template (SmolLM2's, without its default system prompt): nt_chat_detect finds
 * "<|im_start|>" in it. */
static const char bpe_chat_template[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}";

/* ------------------------------------------------------------------- hash tables ----- */

static inline uint64_t bpe_hash(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb3fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* (left, right) → value, open addressing; keys are never 0 because ids are below 2^31 and the
 * key stores id + 1. */
typedef struct bpe_pairs {
    uint64_t *key;
    int64_t *val;
    size_t mask;
    size_t *used; /* slots in use, to clear them quickly */
    size_t n_used;
} bpe_pairs;

static int bpe_pairs_init(bpe_pairs *p, size_t n)
{
    size_t sz = 1024;
    while (sz < 2 * n) sz *= 2;
    p->key = calloc(sz, sizeof *p->key);
    p->val = calloc(sz, sizeof *p->val);
    p->used = malloc(sz * sizeof *p->used);
    p->mask = sz - 1;
    p->n_used = 0;
    return p->key && p->val && p->used ? NT_OK : NT_ERR_NOMEM;
}

static void bpe_pairs_free(bpe_pairs *p)
{
    free(p->key);
    free(p->val);
    free(p->used);
}

static void bpe_pairs_clear(bpe_pairs *p)
{
    for (size_t i = 0; i < p->n_used; i++) p->key[p->used[i]] = 0;
    p->n_used = 0;
}

static inline uint64_t bpe_key(int32_t a, int32_t b)
{
    return ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1);
}

/* The slot of key (claimed when absent and claim is true; else SIZE_MAX when absent). The
 * table never fills: it holds at most as many keys as there are adjacent pairs in the data,
 * and it was sized for twice that. */
static size_t bpe_slot(bpe_pairs *p, uint64_t key, bool claim)
{
    size_t i = (size_t)bpe_hash(key) & p->mask;
    for (;; i = (i + 1) & p->mask) {
        if (p->key[i] == key) return i;
        if (p->key[i] == 0) {
            if (!claim) return SIZE_MAX;
            p->key[i] = key;
            p->val[i] = 0;
            p->used[p->n_used++] = i;
            return i;
        }
    }
}

/* ------------------------------------------------------------------------ words ----- */

typedef struct bpe_word {
    int32_t *sym;  /* current symbols */
    int32_t n;
    int64_t count; /* occurrences in the texts */
} bpe_word;

typedef struct bpe_words {
    bpe_word *v;
    size_t n, cap;
    /* word bytes → index, for counting while reading */
    char **text;
    size_t *len;
    int32_t *tab;
    size_t mask;
} bpe_words;

static uint64_t bpe_fnv(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static int bpe_words_grow(bpe_words *w)
{
    size_t cap = w->cap ? 2 * w->cap : 1024;
    bpe_word *v = realloc(w->v, cap * sizeof *v);
    if (!v) return NT_ERR_NOMEM;
    w->v = v;
    char **t = realloc(w->text, cap * sizeof *t);
    if (!t) return NT_ERR_NOMEM;
    w->text = t;
    size_t *l = realloc(w->len, cap * sizeof *l);
    if (!l) return NT_ERR_NOMEM;
    w->len = l;
    int32_t *tab = malloc(2 * cap * sizeof *tab);
    if (!tab) return NT_ERR_NOMEM;
    memset(tab, 0xff, 2 * cap * sizeof *tab);
    w->mask = 2 * cap - 1;
    for (size_t i = 0; i < w->n; i++) {
        size_t h = (size_t)bpe_fnv(w->text[i], w->len[i]) & w->mask;
        while (tab[h] >= 0) h = (h + 1) & w->mask;
        tab[h] = (int32_t)i;
    }
    free(w->tab);
    w->tab = tab;
    w->cap = cap;
    return NT_OK;
}

static int bpe_words_add(bpe_words *w, const char *s, size_t n)
{
    if (n == 0) return NT_OK;
    if (w->cap) {
        size_t h = (size_t)bpe_fnv(s, n) & w->mask;
        for (; w->tab[h] >= 0; h = (h + 1) & w->mask) {
            const int32_t i = w->tab[h];
            if (w->len[i] == n && memcmp(w->text[i], s, n) == 0) {
                w->v[i].count++;
                return NT_OK;
            }
        }
    }
    if (w->n >= INT32_MAX / 2) return NT_ERR_INVALID;
    if (w->n + 1 > w->cap / 2 + w->cap / 4 || w->cap == 0)
        if (bpe_words_grow(w)) return NT_ERR_NOMEM;
    bpe_word *e = &w->v[w->n];
    e->sym = malloc(n * sizeof *e->sym);
    w->text[w->n] = malloc(n);
    if (!e->sym || !w->text[w->n]) {
        free(e->sym);
        free(w->text[w->n]);
        return NT_ERR_NOMEM;
    }
    memcpy(w->text[w->n], s, n);
    w->len[w->n] = n;
    for (size_t i = 0; i < n; i++) e->sym[i] = BPE_FIRST_BYTE + (unsigned char)s[i];
    e->n = (int32_t)n;
    e->count = 1;
    size_t h = (size_t)bpe_fnv(s, n) & w->mask;
    while (w->tab[h] >= 0) h = (h + 1) & w->mask;
    w->tab[h] = (int32_t)w->n;
    w->n++;
    return NT_OK;
}

static void bpe_words_free(bpe_words *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->v[i].sym);
        free(w->text[i]);
    }
    free(w->v);
    free(w->text);
    free(w->len);
    free(w->tab);
}

/* -------------------------------------------------------------------- vocabulary ----- */

void nt_train_vocab_free(nt_train_vocab *v)
{
    if (!v) return;
    for (int32_t i = 0; i < v->n; i++) free(v->tokens[i]);
    for (int32_t i = 0; i < v->n_merges; i++) free(v->merges[i]);
    free(v->tokens);
    free(v->types);
    free(v->merges);
    free(v->m_left);
    free(v->m_right);
    free(v->m_result);
    free(v);
}

int32_t nt_train_vocab_size(const nt_train_vocab *v) { return v->n; }

static char *bpe_concat(const char *a, const char *sep, const char *b)
{
    size_t na = strlen(a), ns = strlen(sep), nb = strlen(b);
    char *s = malloc(na + ns + nb + 1);
    if (!s) return NULL;
    memcpy(s, a, na);
    memcpy(s + na, sep, ns);
    memcpy(s + na + ns, b, nb + 1);
    return s;
}

/* Index of the token whose text is s among v->tokens[0..n), or -1 (linear: only called once
 * per merge, against a vocabulary of a few thousand). */
static int32_t bpe_find(const nt_train_vocab *v, const char *s)
{
    for (int32_t i = 0; i < v->n; i++)
        if (strcmp(v->tokens[i], s) == 0) return i;
    return -1;
}

int nt_train_bpe(nt_train_vocab **out, const char *const *texts, const size_t *lens, size_t n,
              int32_t n_vocab, nt_err *err)
{
    *out = NULL;
    const int32_t base = BPE_FIRST_BYTE + 256;
    if (n_vocab < base || n_vocab > (1 << 20))
        return nt_err_set(err, NT_ERR_INVALID, "nt_train_bpe: vocabulary size %d is outside %d..%d",
                          (int)n_vocab, (int)base, 1 << 20);
    nt_train_vocab *v = calloc(1, sizeof *v);
    bpe_words w = {0};
    bpe_pairs pairs = {0};
    pretok_words split = {0};
    int rc = NT_ERR_NOMEM;
    if (!v) goto fail;
    const size_t max_merges = (size_t)(n_vocab - base) * 4 + 16; /* duplicates keep ids */
    v->tokens = calloc((size_t)n_vocab, sizeof *v->tokens);
    v->types = calloc((size_t)n_vocab, sizeof *v->types);
    v->merges = calloc(max_merges, sizeof *v->merges);
    v->m_left = calloc(max_merges, sizeof *v->m_left);
    v->m_right = calloc(max_merges, sizeof *v->m_right);
    v->m_result = calloc(max_merges, sizeof *v->m_result);
    if (!v->tokens || !v->types || !v->merges || !v->m_left || !v->m_right || !v->m_result) goto fail;
    for (int32_t i = 0; i < BPE_N_SPECIAL; i++) {
        if (!(v->tokens[v->n] = strdup(bpe_specials[i]))) goto fail;
        v->types[v->n++] = 3;
    }
    for (int b = 0; b < 256; b++) {
        char buf[8];
        size_t k = nt_pretok_utf8_encode(nt_tok_byte_to_cp((unsigned char)b), buf);
        buf[k] = 0;
        if (!(v->tokens[v->n] = strdup(buf))) goto fail;
        v->types[v->n++] = 1;
    }
    v->bos = 0;
    v->pad = 0;
    v->eos = 2;

    size_t n_pairs = 0;
    for (size_t i = 0; i < n; i++) {
        split.n = 0;
        if (nt_pretok_split(PRETOK_GPT2, texts[i], lens[i], &split)) goto fail;
        for (size_t k = 0; k < split.n; k++) {
            rc = bpe_words_add(&w, texts[i] + split.v[k].off, split.v[k].len);
            if (rc) {
                if (rc == NT_ERR_INVALID) {
                    rc = nt_err_set(err, rc, "nt_train_bpe: too many distinct words");
                    goto fail_msg;
                }
                goto fail;
            }
        }
    }
    for (size_t i = 0; i < w.n; i++) n_pairs += (size_t)w.v[i].n;
    if (bpe_pairs_init(&pairs, n_pairs)) goto fail;

    while (v->n < n_vocab && (size_t)v->n_merges < max_merges) {
        /* Count every adjacent pair, weighted by its word's count. */
        bpe_pairs_clear(&pairs);
        for (size_t i = 0; i < w.n; i++) {
            const bpe_word *e = &w.v[i];
            for (int32_t k = 0; k + 1 < e->n; k++)
                pairs.val[bpe_slot(&pairs, bpe_key(e->sym[k], e->sym[k + 1]), true)] += e->count;
        }
        uint64_t best = 0;
        int64_t best_n = 0;
        for (size_t i = 0; i < pairs.n_used; i++) {
            const size_t s = pairs.used[i];
            if (pairs.val[s] > best_n || (pairs.val[s] == best_n && pairs.key[s] < best)) {
                best = pairs.key[s];
                best_n = pairs.val[s];
            }
        }
        if (best_n < 2) break;
        const int32_t a = (int32_t)(best >> 32) - 1, b = (int32_t)(best & 0xffffffffu) - 1;
        char *text = bpe_concat(v->tokens[a], "", v->tokens[b]);
        char *merge = bpe_concat(v->tokens[a], " ", v->tokens[b]);
        if (!text || !merge) {
            free(text);
            free(merge);
            goto fail;
        }
        int32_t id = bpe_find(v, text);
        if (id < 0) {
            id = v->n;
            v->tokens[v->n] = text;
            v->types[v->n++] = 1;
        } else {
            free(text);
        }
        const int32_t r = v->n_merges++;
        v->merges[r] = merge;
        v->m_left[r] = a;
        v->m_right[r] = b;
        v->m_result[r] = id;
        /* Apply it to every word, left to right. */
        for (size_t i = 0; i < w.n; i++) {
            bpe_word *e = &w.v[i];
            int32_t o = 0;
            for (int32_t k = 0; k < e->n; k++) {
                if (k + 1 < e->n && e->sym[k] == a && e->sym[k + 1] == b) {
                    e->sym[o++] = id;
                    k++;
                } else {
                    e->sym[o++] = e->sym[k];
                }
            }
            e->n = o;
        }
    }
    rc = NT_OK;
    *out = v;
    v = NULL;
fail:
    if (rc) rc = nt_err_set(err, rc, "nt_train_bpe: out of memory");
fail_msg:
    nt_pretok_words_free(&split);
    bpe_pairs_free(&pairs);
    bpe_words_free(&w);
    nt_train_vocab_free(v);
    return rc;
}

int nt_train_vocab_encode(const nt_train_vocab *v, const char *text, size_t len, nt_tokens *out,
                       nt_err *err)
{
    bpe_pairs rank = {0};
    pretok_words split = {0};
    int32_t *sym = NULL;
    int rc = NT_ERR_NOMEM;
    if (bpe_pairs_init(&rank, (size_t)v->n_merges)) goto out;
    /* A repeated (left, right) keeps its first rank. */
    for (int32_t r = 0; r < v->n_merges; r++) {
        const size_t s = bpe_slot(&rank, bpe_key(v->m_left[r], v->m_right[r]), false);
        if (s == SIZE_MAX) rank.val[bpe_slot(&rank, bpe_key(v->m_left[r], v->m_right[r]), true)] = r;
    }
    if (nt_pretok_split(PRETOK_GPT2, text, len, &split)) goto out;
    size_t max = 0;
    for (size_t k = 0; k < split.n; k++)
        if (split.v[k].len > max) max = split.v[k].len;
    sym = malloc((max ? max : 1) * sizeof *sym);
    if (!sym) goto out;
    for (size_t k = 0; k < split.n; k++) {
        const unsigned char *s = (const unsigned char *)text + split.v[k].off;
        int32_t n = (int32_t)split.v[k].len;
        for (int32_t i = 0; i < n; i++) sym[i] = BPE_FIRST_BYTE + s[i];
        /* Repeatedly merge the lowest-ranked adjacent pair, leftmost first. */
        for (;;) {
            int64_t best = INT64_MAX;
            int32_t at = -1;
            for (int32_t i = 0; i + 1 < n; i++) {
                const size_t slot = bpe_slot(&rank, bpe_key(sym[i], sym[i + 1]), false);
                if (slot != SIZE_MAX && rank.val[slot] < best) {
                    best = rank.val[slot];
                    at = i;
                }
            }
            if (at < 0) break;
            sym[at] = v->m_result[best];
            memmove(sym + at + 1, sym + at + 2, (size_t)(n - at - 2) * sizeof *sym);
            n--;
        }
        if (nt_tokens_append(out, sym, (size_t)n)) goto out;
    }
    rc = NT_OK;
out:
    if (rc) rc = nt_err_set(err, rc, "nt_train_vocab_encode: out of memory");
    free(sym);
    nt_pretok_words_free(&split);
    bpe_pairs_free(&rank);
    return rc;
}

int nt_train_vocab_to_gguf(const nt_train_vocab *v, nt_gguf_writer *w)
{
    int rc = NT_OK;
#define SET(call) do { if (!rc) rc = (call); } while (0)
    SET(nt_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"));
    SET(nt_gguf_writer_set_str(w, "tokenizer.ggml.pre", "gpt-2"));
    SET(nt_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens, (uint64_t)v->n));
    SET(nt_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", NT_GGUF_I32, v->types, (uint64_t)v->n));
    SET(nt_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)v->merges,
                                (uint64_t)v->n_merges));
    SET(nt_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos));
    SET(nt_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos));
    SET(nt_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)v->pad));
    SET(nt_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false));
    SET(nt_gguf_writer_set_str(w, "tokenizer.chat_template", bpe_chat_template));
#undef SET
    return rc;
}
