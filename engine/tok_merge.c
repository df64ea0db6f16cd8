/* tok_merge.c — the two merge loops: SentencePiece-style BPE with scores (`llama` vocabularies)
 * and byte-level BPE with merge ranks (`gpt2` vocabularies).
 *
 * Both keep the text as a doubly linked list of symbols (spans of the input) and a priority
 * queue of candidate adjacent pairs. The best pair is merged, its neighbours' pairs are queued,
 * and stale entries (a side already merged elsewhere) are skipped when popped, exactly as
 * llama.cpp's llm_tokenizer_spm_session / llm_tokenizer_bpe_session do, so ties resolve the
 * same way: the higher score (lower rank) first, then the leftmost pair. */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

typedef struct tm_sym {
    int32_t prev, next; /* neighbours in the list, -1 at the ends */
    uint32_t off, n;    /* bytes buf[off .. off+n); n == 0 once merged into its left neighbour */
} tm_sym;

/* A candidate pair. key: higher first (score for SPM, -rank for BPE); then lower left first. */
typedef struct tm_pair {
    double key;
    int32_t left, right;
    uint32_t size; /* bytes of left+right when queued; a mismatch later means it is stale */
} tm_pair;

typedef struct tm_work {
    tm_sym *sym;
    size_t nsym, capsym;
    tm_pair *heap;
    size_t nheap, capheap;
    char *buf; /* BPE: the byte-encoded word */
    size_t capbuf;
} tm_work;

static void tm_work_free(tm_work *w)
{
    free(w->sym);
    free(w->heap);
    free(w->buf);
}

static int tm_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return NT_OK;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need) cap2 *= 2;
    if (cap2 > SIZE_MAX / elem) return NT_ERR_NOMEM;
    void *q = realloc(*p, cap2 * elem);
    if (!q) return NT_ERR_NOMEM;
    *p = q;
    *cap = cap2;
    return NT_OK;
}

static inline bool tm_before(const tm_pair *a, const tm_pair *b)
{
    return a->key > b->key || (a->key == b->key && a->left < b->left);
}

static int tm_push(tm_work *w, tm_pair p)
{
    if (tm_grow((void **)&w->heap, &w->capheap, w->nheap + 1, sizeof *w->heap)) return NT_ERR_NOMEM;
    size_t i = w->nheap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!tm_before(&p, &w->heap[parent])) break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = p;
    return NT_OK;
}

static tm_pair tm_pop(tm_work *w)
{
    tm_pair top = w->heap[0];
    tm_pair last = w->heap[--w->nheap];
    size_t i = 0, n = w->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && tm_before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!tm_before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

/* Splits buf[0..n) into one symbol per UTF-8 character (an invalid byte is a symbol alone). */
static int tm_split_chars(tm_work *w, const char *buf, size_t n)
{
    w->nsym = 0;
    if (tm_grow((void **)&w->sym, &w->capsym, n, sizeof *w->sym)) return NT_ERR_NOMEM;
    for (size_t off = 0; off < n;) {
        uint32_t cp;
        size_t len = nt_pretok_utf8_decode((const unsigned char *)buf + off, n - off, &cp);
        if (!len) len = 1;
        tm_sym s = {(int32_t)w->nsym - 1, -1, (uint32_t)off, (uint32_t)len};
        if (w->nsym) w->sym[w->nsym - 1].next = (int32_t)w->nsym;
        w->sym[w->nsym++] = s;
        off += len;
    }
    return NT_OK;
}

/* Merges the right symbol of p into the left one; returns false for a stale pair. */
static bool tm_merge(tm_work *w, const tm_pair *p)
{
    tm_sym *l = &w->sym[p->left], *r = &w->sym[p->right];
    if (l->n == 0 || r->n == 0 || l->n + r->n != p->size) return false;
    l->n += r->n;
    r->n = 0;
    l->next = r->next;
    if (r->next >= 0) w->sym[r->next].prev = p->left;
    return true;
}

/* ------------------------------------------------------------------------ SPM ---- */

static int tm_spm_try(const nt_tokenizer *t, tm_work *w, const char *text, int32_t left, int32_t right)
{
    if (left < 0 || right < 0) return NT_OK;
    const tm_sym *l = &w->sym[left], *r = &w->sym[right];
    int32_t id = nt_tok_lookup(t, text + l->off, l->n + r->n);
    if (id < 0) return NT_OK;
    tm_pair p = {t->pieces[id].score, left, right, l->n + r->n};
    return tm_push(w, p);
}

/* Emits a symbol that is not a vocabulary entry as byte tokens (<0xXX>), or <unk>. */
static int tm_spm_bytes(const nt_tokenizer *t, const char *s, size_t n, nt_tokens *out)
{
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_tok[(unsigned char)s[i]];
        if (id < 0) id = t->unk; /* llama.cpp throws here; a vocabulary without byte tokens */
        if (id >= 0 && nt_tokens_push(out, id)) return NT_ERR_NOMEM;
    }
    return NT_OK;
}

int nt_tok_spm_encode(const nt_tokenizer *t, const char *text, size_t n, nt_tokens *out)
{
    tm_work w = {0};
    int rc = NT_ERR_NOMEM;
    if (n == 0) return NT_OK;
    if (n > INT32_MAX) return NT_ERR_INVALID;
    if (tm_split_chars(&w, text, n)) goto fail;
    for (size_t i = 1; i < w.nsym; i++)
        if (tm_spm_try(t, &w, text, (int32_t)i - 1, (int32_t)i)) goto fail;
    while (w.nheap) {
        tm_pair p = tm_pop(&w);
        if (!tm_merge(&w, &p)) continue;
        const tm_sym *l = &w.sym[p.left];
        if (tm_spm_try(t, &w, text, l->prev, p.left)) goto fail;
        if (tm_spm_try(t, &w, text, p.left, l->next)) goto fail;
    }
    for (int32_t i = 0; i != -1; i = w.sym[i].next) {
        const tm_sym *s = &w.sym[i];
        int32_t id = nt_tok_lookup(t, text + s->off, s->n);
        if (id >= 0) {
            if (nt_tokens_push(out, id)) goto fail;
        } else if (tm_spm_bytes(t, text + s->off, s->n, out)) {
            goto fail;
        }
    }
    rc = NT_OK;
fail:
    tm_work_free(&w);
    return rc;
}

/* ------------------------------------------------------------------------ BPE ---- */

uint32_t nt_tok_byte_to_cp(unsigned char b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    if (b <= 0x20) return 256u + b;                /* 0x00..0x20 → U+0100..U+0120 */
    if (b <= 0xA0) return 256u + 33u + (b - 0x7Fu); /* 0x7F..0xA0 → U+0121..U+0142 */
    return 256u + 33u + 34u;                        /* 0xAD → U+0143 */
}

size_t nt_tokenizer_byte_piece(unsigned char b, char out[4])
{
    size_t n = nt_pretok_utf8_encode(nt_tok_byte_to_cp(b), out);
    out[n] = '\0';
    return n;
}

int nt_tok_cp_to_byte(uint32_t cp)
{
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return (int)cp;
    if (cp >= 256 && cp <= 256 + 32) return (int)(cp - 256);
    if (cp >= 256 + 33 && cp <= 256 + 66) return (int)(0x7F + (cp - 256 - 33));
    if (cp == 256 + 67) return 0xAD;
    return -1;
}

static int tm_bpe_try(const nt_tokenizer *t, tm_work *w, int32_t left, int32_t right)
{
    if (left < 0 || right < 0) return NT_OK;
    const tm_sym *l = &w->sym[left], *r = &w->sym[right];
    int32_t rank = nt_tok_merge_rank(t, w->buf + l->off, l->n, w->buf + r->off, r->n);
    if (rank < 0) return NT_OK;
    tm_pair p = {-(double)rank, left, right, l->n + r->n};
    return tm_push(w, p);
}

static int tm_bpe_word(const nt_tokenizer *t, tm_work *w, const char *word, size_t n, nt_tokens *out)
{
    /* Each byte becomes one code point of at most 2 UTF-8 bytes. */
    if (n > INT32_MAX / 2) return NT_ERR_INVALID;
    if (tm_grow((void **)&w->buf, &w->capbuf, 2 * n, 1)) return NT_ERR_NOMEM;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += nt_pretok_utf8_encode(nt_tok_byte_to_cp((unsigned char)word[i]), w->buf + len);

    if (t->ignore_merges) {
        int32_t id = nt_tok_lookup(t, w->buf, len);
        if (id >= 0) return nt_tokens_push(out, id);
    }
    w->nheap = 0;
    if (tm_split_chars(w, w->buf, len)) return NT_ERR_NOMEM;
    for (size_t i = 1; i < w->nsym; i++)
        if (tm_bpe_try(t, w, (int32_t)i - 1, (int32_t)i)) return NT_ERR_NOMEM;
    while (w->nheap) {
        tm_pair p = tm_pop(w);
        if (!tm_merge(w, &p)) continue;
        const tm_sym *l = &w->sym[p.left];
        if (tm_bpe_try(t, w, l->prev, p.left)) return NT_ERR_NOMEM;
        if (tm_bpe_try(t, w, p.left, l->next)) return NT_ERR_NOMEM;
    }
    for (int32_t i = 0; i != -1; i = w->sym[i].next) {
        const tm_sym *s = &w->sym[i];
        int32_t id = nt_tok_lookup(t, w->buf + s->off, s->n);
        if (id >= 0) {
            if (nt_tokens_push(out, id)) return NT_ERR_NOMEM;
            continue;
        }
        /* Not in the vocabulary: llama.cpp looks each byte of the encoded text up alone and
         * drops what it cannot find. */
        for (uint32_t j = 0; j < s->n; j++) {
            id = nt_tok_lookup(t, w->buf + s->off + j, 1);
            if (id >= 0 && nt_tokens_push(out, id)) return NT_ERR_NOMEM;
        }
    }
    return NT_OK;
}

int nt_tok_bpe_encode_words(const nt_tokenizer *t, const char *text, const pretok_words *words, nt_tokens *out)
{
    tm_work w = {0};
    int rc = NT_OK;
    for (size_t i = 0; i < words->n && rc == NT_OK; i++)
        if (words->v[i].len) rc = tm_bpe_word(t, &w, text + words->v[i].off, words->v[i].len, out);
    tm_work_free(&w);
    return rc;
}
