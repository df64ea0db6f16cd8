/* gen.c — the generation loop, its end reasons, the stop-string filter and the local engine
 * as a token source (see gen.h). */
#include "gen.h"
#include "util/text.h"

#include <stdlib.h>
#include <string.h>

/* ================================================================ end reasons ===== */

#define GEN_END_KEY(name, key, words) [GEN_END_##name] = key,
#define GEN_END_WORDS(name, key, words) [GEN_END_##name] = words,
static const char *const gen_end_keys[GEN_END_COUNT] = {GEN_END_LIST(GEN_END_KEY)};
static const char *const gen_end_words[GEN_END_COUNT] = {GEN_END_LIST(GEN_END_WORDS)};
#undef GEN_END_KEY
#undef GEN_END_WORDS

const char *gen_end_name(enum gen_end e, bool stop_text)
{
    if (e == GEN_END_EOG && stop_text) return "stop string";
    return (unsigned)e < GEN_END_COUNT ? gen_end_words[e] : "?";
}

const char *gen_end_key(enum gen_end e)
{
    return (unsigned)e < GEN_END_COUNT ? gen_end_keys[e] : NULL;
}

int gen_end_parse(const char *key)
{
    for (int i = 0; i < GEN_END_COUNT; i++)
        if (key && !strcmp(key, gen_end_keys[i])) return i;
    return -1;
}

/* ============================================================ the stop filter ===== */

bool gen_stops_valid(const char *const *stop, size_t n)
{
    if (n > GEN_MAX_STOP || (n > 0 && !stop)) return false;
    for (size_t k = 0; k < n; k++) {
        size_t L = stop[k] ? strlen(stop[k]) : 0;
        if (L == 0 || L > GEN_STOP_LEN - 1) return false;
    }
    return true;
}

int gen_filter_init(gen_filter *f, const char *const *stop, size_t n)
{
    memset(f, 0, offsetof(gen_filter, fail));
    f->n_held = 0;
    f->held[0] = '\0';
    f->hit = false;
    if (!gen_stops_valid(stop, n)) return NT_ERR_INVALID;
    for (size_t k = 0; k < n; k++) {
        size_t L = strlen(stop[k]);
        const unsigned char *P = (const unsigned char *)stop[k];
        uint8_t *fail = f->fail[k];
        fail[0] = 0;
        for (size_t i = 1; i < L; i++) {
            size_t j = fail[i - 1];
            while (j > 0 && P[i] != P[j]) j = fail[j - 1];
            if (P[i] == P[j]) j++;
            fail[i] = (uint8_t)j; /* j < L <= 255 */
        }
        f->stop[k] = stop[k];
        f->len[k] = (uint16_t)L;
        f->state[k] = 0;
    }
    f->n_stop = n;
    return NT_OK;
}

/* The byte at i of the text the filter sees: held[0..nh) followed by s. */
static unsigned char gen_filter_at(const gen_filter *f, size_t nh, const char *s, size_t i)
{
    return (unsigned char)(i < nh ? f->held[i] : s[i - nh]);
}

/* Copies bytes [from, to) of held[0..nh) + s to dst. */
static void gen_filter_copy(const gen_filter *f, size_t nh, const char *s, size_t from,
                            size_t to, char *dst)
{
    size_t a = from < nh ? nh - from : 0; /* bytes from held */
    if (a > to - from) a = to - from;
    memcpy(dst, f->held + from, a);
    size_t sfrom = from + a - nh;
    memcpy(dst + a, s + sfrom, to - from - a);
}

bool gen_filter_feed(gen_filter *f, const char *s, size_t n, char *out, size_t *out_len)
{
    if (f->hit) { /* nothing more comes out after a stop string */
        out[0] = '\0';
        if (out_len) *out_len = 0;
        return true;
    }
    size_t nh = f->n_held, total = nh + n;
    size_t emit = 0;
    /* Advance every automaton one byte at a time: the first byte at which any of them
     * completes is where the text first contains a stop string. */
    size_t end = 0, best = 0; /* the hit: it ends before byte `end` of s, its length */
    for (size_t i = 0; i < n && !best; i++) {
        const unsigned char c = (unsigned char)s[i];
        for (size_t k = 0; k < f->n_stop; k++) {
            const unsigned char *P = (const unsigned char *)f->stop[k];
            size_t q = f->state[k];
            while (q > 0 && P[q] != c) q = f->fail[k][q - 1];
            if (P[q] == c) q++;
            if (q == f->len[k] && q > best) best = q; /* the longer one starts earlier */
            f->state[k] = (uint16_t)q;
        }
        end = i + 1;
    }
    if (best) {
        /* Every state was at most n_held when the piece came (held keeps the longest), so
         * the match starts inside held + s. */
        emit = nh + end - best;
        gen_filter_copy(f, nh, s, 0, emit, out);
        out[emit] = '\0';
        f->hit = true;
        f->n_held = 0;
        f->held[0] = '\0';
        if (out_len) *out_len = emit;
        return true;
    }
    /* Hold back the longest end of the text that begins a stop string... */
    size_t keep = 0;
    for (size_t k = 0; k < f->n_stop; k++)
        if (f->state[k] > keep) keep = f->state[k];
    emit = total - keep;
    /* ...and a UTF-8 character cut short at the cut (pieces may split one). */
    for (size_t back = 1; back <= 4 && back <= emit; back++) {
        unsigned char c = gen_filter_at(f, nh, s, emit - back);
        if (text_is_cont(c)) continue; /* a continuation byte: look further back */
        if ((size_t)text_lead_len(c) > back) emit -= back;
        break;
    }
    gen_filter_copy(f, nh, s, 0, emit, out);
    out[emit] = '\0';
    /* The new held text is bytes [emit, total): at most GEN_STOP_LEN - 2 + 3 bytes. */
    char tmp[sizeof f->held];
    gen_filter_copy(f, nh, s, emit, total, tmp);
    memcpy(f->held, tmp, total - emit);
    f->n_held = total - emit;
    f->held[f->n_held] = '\0';
    if (out_len) *out_len = emit;
    return false;
}

const char *gen_filter_held(const gen_filter *f, size_t *len)
{
    if (len) *len = f->n_held;
    return f->held;
}

/* ======================================================= the local engine ===== */

int gen_local_init(gen_local *l, nt_model *m, nt_err *err)
{
    memset(l, 0, sizeof *l);
    l->m = m;
    l->tok = nt_model_tokenizer(m);
    l->n_vocab = nt_model_get_info(m)->n_vocab;
    l->logits = malloc((size_t)l->n_vocab * sizeof *l->logits);
    l->piece_cap = 3 * nt_tokenizer_max_piece_len(l->tok) + 16;
    l->piece = malloc(l->piece_cap);
    if (!l->logits || !l->piece) {
        gen_local_free(l);
        return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    }
    if (nt_model_n_past(m) > 0) nt_model_rewind(m, 0);
    return NT_OK;
}

void gen_local_free(gen_local *l)
{
    nt_tokens_free(&l->ctx);
    free(l->logits);
    free(l->piece);
    memset(l, 0, sizeof *l);
}

void gen_local_rewind(gen_local *l, int32_t n)
{
    nt_model_rewind(l->m, n);
    l->ctx.n = (size_t)n;
}

int gen_local_eval(gen_local *l, const int32_t *ids, int32_t n, nt_err *err)
{
    int rc = nt_model_eval(l->m, ids, n, l->logits, err);
    /* The model keeps whole tokens only, also when cancelled part-way: follow it. */
    int32_t added = nt_model_n_past(l->m) - (int32_t)l->ctx.n;
    if (added < 0) added = 0;
    if (added > n) added = n;
    if (nt_tokens_append(&l->ctx, ids, (size_t)added) != NT_OK) {
        nt_model_rewind(l->m, (int32_t)l->ctx.n); /* keep the mirror true */
        return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    }
    return rc;
}

static size_t gen_local_begin(void *self, const int32_t **ids)
{
    gen_local *l = self;
    nt_tokenizer_stream_reset(&l->ts);
    /* An answer continues the cached text: its first token keeps its leading space (the
     * decoder drops it only at the very start of a text, or right after BOS). */
    if (l->ctx.n > 0) {
        l->ts.prev = l->ctx.v[l->ctx.n - 1];
        l->ts.ntok = 1;
    }
    *ids = l->ctx.v;
    return l->ctx.n;
}

static const float *gen_local_logits(void *self)
{
    return ((gen_local *)self)->logits;
}

static int gen_local_eval_one(void *self, int32_t id, nt_err *err)
{
    gen_local *l = self;
    if (l->before_eval) l->before_eval(l->user);
    return gen_local_eval(l, &id, 1, err);
}

static bool gen_local_is_eog(void *self, int32_t id)
{
    return nt_tokenizer_is_eog(((gen_local *)self)->tok, id);
}

static const char *gen_local_text(void *self, int32_t id, size_t *len)
{
    gen_local *l = self;
    /* A token's text can be long (byte-level vocabularies have pieces of 256 bytes): piece
     * has room for the longest whole. */
    *len = nt_tokenizer_stream_feed(l->tok, &l->ts, id, l->piece, l->piece_cap);
    return l->piece;
}

static const char *gen_local_flush(void *self, size_t *len)
{
    gen_local *l = self;
    *len = nt_tokenizer_stream_flush(l->tok, &l->ts, l->piece, l->piece_cap);
    return l->piece;
}

static const gen_source_ops gen_local_ops = {
    .begin = gen_local_begin,
    .logits = gen_local_logits,
    .eval = gen_local_eval_one,
    .is_eog = gen_local_is_eog,
    .text = gen_local_text,
    .flush = gen_local_flush,
};

gen_source gen_local_source(gen_local *l)
{
    return (gen_source){.ops = &gen_local_ops, .self = l, .n_vocab = l->n_vocab};
}

/* ================================================================== the loop ===== */

/* The text the filter and the decoder still hold at the end: it belongs to the answer. */
static char *gen_tail(const gen_source *src, const gen_filter *filt)
{
    size_t nh, tl;
    const char *tail = src->ops->flush(src->self, &tl);
    const char *held = gen_filter_held(filt, &nh);
    char *s = nh + tl > 0 ? malloc(nh + tl + 1) : NULL;
    if (s) {
        memcpy(s, held, nh);
        memcpy(s + nh, tail, tl);
        s[nh + tl] = '\0';
    }
    return s;
}

int gen_run(const gen_source *src, const gen_opts *o, const gen_hooks *h, gen_result *res,
            nt_err *err)
{
    const gen_source_ops *ops = src->ops;
    void *self = src->self;
    memset(res, 0, sizeof *res);
    res->end = GEN_END_ERROR;
    int rc = NT_OK;
    gen_filter *filt = malloc(sizeof *filt); /* 4.5 KiB of tables: not on a thread's stack */
    char *shown = NULL;
    nt_sampler *smp = NULL;
    if (!filt) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (gen_filter_init(filt, o->stop, o->n_stop) != NT_OK || o->max_tokens < 0) {
        rc = nt_err_set(err, NT_ERR_INVALID, "bad stop strings or max tokens");
        goto out;
    }
    /* The sampler starts fresh from the answer's parameters (seed included) and sees the
     * whole context as its penalty history, as llama.cpp's does: an answer therefore samples
     * the same tokens however much of its context was cached. */
    smp = nt_sampler_init(&o->params, src->n_vocab);
    if (!smp) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory for the sampler");
        goto out;
    }
    const int32_t *hist;
    size_t n_hist = ops->begin(self, &hist);
    for (size_t i = 0; i < n_hist; i++) nt_sampler_accept(smp, hist[i]);

    size_t shown_cap = 0;
    for (int32_t i = 0;; i++) {
        if (h->stop && h->stop(h->user, i)) {
            res->end = GEN_END_STOPPED;
            break;
        }
        if (i >= o->max_tokens) {
            res->end = GEN_END_LENGTH;
            break;
        }
        nt_sampler_params live;
        if (h->params && h->params(h->user, i, &live)) nt_sampler_set_params(smp, &live);

        int32_t id = nt_sampler_sample(smp, ops->logits(self));
        nt_sampler_accept(smp, id);
        if (i == 0) res->n_cand0 = nt_sampler_candidates(smp, res->cand0, GEN_N_CAND);
        if (!o->ignore_eog && ops->is_eog(self, id)) {
            res->end = GEN_END_EOG;
            break;
        }
        gen_token t = {.index = i, .id = id};
        size_t tl;
        const char *piece = ops->text(self, id, &tl);
        if (GEN_FILTER_OUT(tl) > shown_cap) { /* grows to the longest piece seen, once */
            char *p = realloc(shown, GEN_FILTER_OUT(tl));
            if (!p) {
                rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
                break;
            }
            shown = p;
            shown_cap = GEN_FILTER_OUT(tl);
        }
        const bool hit = gen_filter_feed(filt, piece, tl, shown, &t.n_text);
        t.text = shown;
        if (o->candidates) t.n_cand = nt_sampler_candidates(smp, t.cand, GEN_N_CAND);
        res->n_gen++;
        if (h->token && (rc = h->token(h->user, &t, err)) != NT_OK) break;
        if (hit) {
            res->end = GEN_END_EOG;
            res->stop_text = true;
            break;
        }
        if (i + 1 >= o->max_tokens) {
            res->end = GEN_END_LENGTH; /* the last token is not evaluated: nobody needs it */
            break;
        }
        int erc = ops->eval(self, id, err);
        if (erc == NT_ERR_CONTEXT_FULL) {
            res->end = GEN_END_CONTEXT_FULL;
            break;
        }
        if (erc == NT_ERR_CANCELLED) {
            res->end = GEN_END_STOPPED;
            break;
        }
        if (erc != NT_OK) {
            rc = erc;
            break;
        }
    }
    if (rc != NT_OK) res->end = GEN_END_ERROR;
    if (!res->stop_text) res->tail = gen_tail(src, filt);
out:
    nt_sampler_free(smp);
    free(shown);
    free(filt);
    return rc;
}
