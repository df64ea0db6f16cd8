/* gen.c — the generation loop, its end reasons, the stop-string filter and the local engine
 * as a token source (see gen.h). */
#include "gen.h"
#include "util/text.h"

#include <math.h>
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

/* A fork of the local context: the KV cache's positions from `from` on and their ids. */
typedef struct gen_local_fork {
    nt_kv_state *kv;
    size_t from, n;
    int32_t *ids; /* (n - from) the tokens at positions from.. */
} gen_local_fork;

static void gen_local_fork_free(void *self, void *state)
{
    (void)self;
    gen_local_fork *f = state;
    if (!f) return;
    nt_kv_state_free(f->kv);
    free(f->ids);
    free(f);
}

static void *gen_local_fork_save(void *self, size_t from)
{
    gen_local *l = self;
    gen_local_fork *f = calloc(1, sizeof *f);
    if (!f || from > l->ctx.n) goto fail;
    f->from = from;
    f->n = l->ctx.n;
    f->ids = malloc((f->n - from + 1) * sizeof *f->ids);
    if (!f->ids || nt_model_kv_save(l->m, (int32_t)from, &f->kv, NULL) != NT_OK) goto fail;
    memcpy(f->ids, l->ctx.v + from, (f->n - from) * sizeof *f->ids);
    return f;
fail:
    gen_local_fork_free(self, f);
    return NULL;
}

static int gen_local_fork_restore(void *self, const void *state, nt_err *err)
{
    gen_local *l = self;
    const gen_local_fork *f = state;
    if (l->ctx.n < f->from)
        return nt_err_set(err, NT_ERR_INVALID, "beam search: the context lost its prefix");
    int rc = nt_model_kv_restore(l->m, f->kv, err);
    if (rc) return rc;
    l->ctx.n = f->from;
    if (nt_tokens_append(&l->ctx, f->ids, f->n - f->from) != NT_OK) {
        nt_model_rewind(l->m, (int32_t)l->ctx.n); /* keep the mirror true */
        return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    }
    return NT_OK;
}

static void gen_local_fork_keep(void *self, size_t n)
{
    gen_local *l = self;
    if (n < l->ctx.n) gen_local_rewind(l, (int32_t)n);
}

static const gen_source_ops gen_local_ops = {
    .begin = gen_local_begin,
    .logits = gen_local_logits,
    .eval = gen_local_eval_one,
    .is_eog = gen_local_is_eog,
    .text = gen_local_text,
    .flush = gen_local_flush,
    .fork_save = gen_local_fork_save,
    .fork_restore = gen_local_fork_restore,
    .fork_free = gen_local_fork_free,
    .fork_keep = gen_local_fork_keep,
};

gen_source gen_local_source(gen_local *l)
{
    return (gen_source){.ops = &gen_local_ops, .self = l, .n_vocab = l->n_vocab, .tok = l->tok};
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

/* The output side of one token, shared by sampling and beam search: its text through the
 * decoder and the stop filter, then the token hook. *hit: the text now holds a stop string.
 * NT_OK or the hook's (or an allocation's) error. */
typedef struct gen_out {
    gen_filter *filt;
    char *shown;      /* (shown_cap) the text let out by the token */
    size_t shown_cap;
} gen_out;

static int gen_emit(const gen_source *src, const gen_hooks *h, gen_out *out, gen_token *t,
                    gen_result *res, bool *hit, nt_err *err)
{
    size_t tl;
    const char *piece = src->ops->text(src->self, t->id, &tl);
    if (GEN_FILTER_OUT(tl) > out->shown_cap) { /* grows to the longest piece seen, once */
        char *p = realloc(out->shown, GEN_FILTER_OUT(tl));
        if (!p) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        out->shown = p;
        out->shown_cap = GEN_FILTER_OUT(tl);
    }
    *hit = gen_filter_feed(out->filt, piece, tl, out->shown, &t->n_text);
    t->text = out->shown;
    res->n_gen++;
    return h->token ? h->token(h->user, t, err) : NT_OK;
}

/* ============================================================== beam search ===== */

/* A fork shared by beams and finished answers (one per evaluated beam). */
typedef struct beam_fork {
    void *state;
    int refs;
} beam_fork;

typedef struct beam_ext {
    double lp; /* log-probability of the token after the beam */
    int32_t id;
} beam_ext;

typedef struct beam {
    beam_fork *fork;   /* the context after its evaluated tokens */
    int32_t *ids;      /* (n) its tokens */
    size_t n;
    double sum;        /* total log-probability */
    beam_ext *ext;     /* (n_ext) its likeliest next tokens, best first */
    int n_ext;
} beam;

typedef struct beam_cand {
    double sum;
    int b;
    int32_t id;
} beam_cand;

typedef struct beam_hyp {
    beam_fork *fork;
    int32_t *ids;
    size_t n;
    double score;      /* sum / length^length_penalty */
    bool finished;     /* ended by an end token (not counted in ids) */
} beam_hyp;

typedef struct beam_run {
    const gen_source *src;
    beam *b, *next;    /* (n_beams) live beams; the next step's */
    int n_live;
    beam_hyp *hyp;     /* (n_hyp, cap_hyp) answers */
    size_t n_hyp, cap_hyp;
    int n_fin;
} beam_run;

static beam_fork *fork_ref(beam_fork *f)
{
    if (f) f->refs++;
    return f;
}

static void fork_unref(const gen_source *src, beam_fork *f)
{
    if (f && --f->refs == 0) {
        src->ops->fork_free(src->self, f->state);
        free(f);
    }
}

static beam_fork *fork_new(const gen_source *src, size_t from)
{
    beam_fork *f = malloc(sizeof *f);
    if (f && !(f->state = src->ops->fork_save(src->self, from))) {
        free(f);
        f = NULL;
    }
    if (f) f->refs = 1;
    return f;
}

static void beam_clear(const gen_source *src, beam *b)
{
    fork_unref(src, b->fork);
    free(b->ids);
    free(b->ext);
    memset(b, 0, sizeof *b);
}

/* The k likeliest tokens of logits[nv] with their log-probabilities (softmax at temperature
 * 1, in double), best first (ties: lower id). Returns how many. */
static int beam_top(const float *logits, int32_t nv, beam_ext *out, int k)
{
    double lmax = -INFINITY, sum = 0.0;
    for (int32_t i = 0; i < nv; i++)
        if (logits[i] > lmax) lmax = logits[i]; /* NaN never compares greater */
    if (lmax == -INFINITY) return 0;
    for (int32_t i = 0; i < nv; i++)
        if (logits[i] > -INFINITY) sum += exp((double)logits[i] - lmax);
    const double lse = lmax + log(sum);
    int n = 0;
    for (int32_t i = 0; i < nv; i++) {
        double l = logits[i];
        if (!(l > -INFINITY)) continue;
        if (n == k && l <= out[n - 1].lp) continue; /* equal: the lower id stays */
        int j = n < k ? n++ : n - 1;
        while (j > 0 && out[j - 1].lp < l) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = (beam_ext){l, i};
    }
    for (int i = 0; i < n; i++) out[i].lp -= lse;
    return n;
}

static int beam_cand_cmp(const void *x, const void *y)
{
    const beam_cand *a = x, *b = y;
    if (a->sum != b->sum) return a->sum > b->sum ? -1 : 1;
    if (a->b != b->b) return a->b < b->b ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Records an answer: beam b's tokens, plus an end token when finished. */
static int beam_add_hyp(beam_run *r, const beam *b, double sum, bool finished, float alpha)
{
    if (r->n_hyp == r->cap_hyp) {
        size_t cap = r->cap_hyp ? 2 * r->cap_hyp : 16;
        beam_hyp *v = realloc(r->hyp, cap * sizeof *v);
        if (!v) return NT_ERR_NOMEM;
        r->hyp = v;
        r->cap_hyp = cap;
    }
    beam_hyp *hy = &r->hyp[r->n_hyp];
    size_t len = b->n + (finished ? 1 : 0);
    hy->ids = malloc((b->n + 1) * sizeof *hy->ids);
    if (!hy->ids) return NT_ERR_NOMEM;
    if (b->n) memcpy(hy->ids, b->ids, b->n * sizeof *hy->ids); /* the root beam has no ids */
    hy->n = b->n;
    hy->finished = finished;
    hy->score = len ? sum / pow((double)len, (double)alpha) : 0.0;
    hy->fork = fork_ref(b->fork);
    r->n_hyp++;
    r->n_fin += finished;
    return NT_OK;
}

/* Extends beam parent by id into *nb: evaluates it (unless last) and lists its next tokens. */
static int beam_extend(beam_run *r, const beam *parent, int32_t id, double sum, bool last,
                       size_t from, int k, beam *nb, nt_err *err)
{
    const gen_source *src = r->src;
    memset(nb, 0, sizeof *nb);
    nb->ids = malloc((parent->n + 1) * sizeof *nb->ids);
    nb->ext = malloc((size_t)k * sizeof *nb->ext);
    if (!nb->ids || !nb->ext) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    /* The root beam has no ids (NULL): memcpy from NULL is undefined even for 0 bytes. */
    if (parent->n) memcpy(nb->ids, parent->ids, parent->n * sizeof *nb->ids);
    nb->ids[parent->n] = id;
    nb->n = parent->n + 1;
    nb->sum = sum;
    if (last) { /* no step follows: the token is not evaluated, like a sampled answer's last */
        nb->fork = fork_ref(parent->fork);
        return NT_OK;
    }
    int rc = src->ops->fork_restore(src->self, parent->fork->state, err);
    if (rc == NT_OK) rc = src->ops->eval(src->self, id, err);
    if (rc != NT_OK) {
        nb->fork = fork_ref(parent->fork);
        return rc;
    }
    nb->n_ext = beam_top(src->ops->logits(src->self), src->n_vocab, nb->ext, k);
    nb->fork = fork_new(src, from);
    return nb->fork ? NT_OK : nt_err_set(err, NT_ERR_NOMEM, "out of memory for a beam");
}

/* Shows the hook the n next beams (already best first: they were taken from the sorted
 * candidates) and the answers finished so far. */
static void beam_report(const beam_run *r, const gen_hooks *h, int n)
{
    gen_beam_view v[64]; /* the PARAM table caps beams at 64 */
    if (n > 64) n = 64;
    for (int b = 0; b < n; b++) v[b] = (gen_beam_view){r->next[b].ids, r->next[b].n, r->next[b].sum};
    double best = -INFINITY;
    for (size_t i = 0; i < r->n_hyp; i++)
        if (r->hyp[i].score > best) best = r->hyp[i].score;
    h->beam(h->user, v, n, r->n_fin, best);
}

/* Beam search (gen.h states the rules). On return *best is the winning answer in r->hyp
 * (or -1 when there is none) and res->end the search's end. */
static int beam_search(beam_run *r, const gen_opts *o, const gen_hooks *h, size_t from,
                       gen_result *res, long *best, nt_err *err)
{
    const gen_source *src = r->src;
    const int N = o->params.beams, K = 2 * o->params.beams;
    const float alpha = o->params.length_penalty;
    int rc = NT_OK;
    beam_cand *cands = malloc((size_t)N * (size_t)K * sizeof *cands);
    if (!cands) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    r->b[0].fork = fork_new(src, from);
    r->b[0].ext = malloc((size_t)K * sizeof *r->b[0].ext);
    if (!r->b[0].fork || !r->b[0].ext) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory for a beam");
        goto done;
    }
    r->b[0].n_ext = beam_top(src->ops->logits(src->self), src->n_vocab, r->b[0].ext, K);
    r->n_live = 1;
    res->end = GEN_END_LENGTH;
    for (int32_t t = 0;; t++) {
        if (h->stop && h->stop(h->user, t)) {
            res->end = GEN_END_STOPPED;
            break;
        }
        if (t >= o->max_tokens) break;
        size_t nc = 0;
        for (int b = 0; b < r->n_live; b++)
            for (int j = 0; j < r->b[b].n_ext; j++)
                cands[nc++] = (beam_cand){r->b[b].sum + r->b[b].ext[j].lp, b, r->b[b].ext[j].id};
        qsort(cands, nc, sizeof *cands, beam_cand_cmp);
        const bool last = t + 1 >= o->max_tokens;
        int n_next = 0;
        for (size_t i = 0; i < nc && n_next < N && rc == NT_OK; i++) {
            const beam_cand *c = &cands[i];
            if (!o->ignore_eog && src->ops->is_eog(src->self, c->id)) {
                if (beam_add_hyp(r, &r->b[c->b], c->sum, true, alpha) != NT_OK)
                    rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
                continue;
            }
            rc = beam_extend(r, &r->b[c->b], c->id, c->sum, last, from, K, &r->next[n_next++], err);
        }
        bool end_now = last;
        if (rc == NT_ERR_CONTEXT_FULL || rc == NT_ERR_CANCELLED) {
            /* the extension that failed keeps its token, unevaluated, like a sampled answer
             * whose last token found no room; the others stay as they are */
            res->end = rc == NT_ERR_CONTEXT_FULL ? GEN_END_CONTEXT_FULL : GEN_END_STOPPED;
            rc = NT_OK;
            end_now = true;
        } else if (rc != NT_OK) {
            for (int b = 0; b < n_next; b++) beam_clear(src, &r->next[b]);
            goto done;
        } else if (r->n_fin >= N || n_next == 0) { /* early stop: N answers finished */
            for (int b = 0; b < n_next; b++) beam_clear(src, &r->next[b]);
            res->end = GEN_END_EOG;
            break;
        } else if (h->beam) {
            beam_report(r, h, n_next);
        }
        for (int b = 0; b < r->n_live; b++) beam_clear(src, &r->b[b]);
        beam *tmp = r->b;
        r->b = r->next;
        r->next = tmp;
        r->n_live = n_next;
        if (end_now) break;
    }
    /* unless N answers finished, the live beams are answers of their length */
    if (res->end != GEN_END_EOG)
        for (int b = 0; b < r->n_live && rc == NT_OK; b++)
            if (beam_add_hyp(r, &r->b[b], r->b[b].sum, false, alpha) != NT_OK)
                rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    *best = -1;
    for (size_t i = 0; i < r->n_hyp; i++) /* the best score; ties: the first found */
        if (*best < 0 || r->hyp[i].score > r->hyp[*best].score) *best = (long)i;
done:
    free(cands);
    return rc;
}

/* Runs beam search, then hands the winner's tokens to the token hook and leaves the context
 * as a sampled answer of those tokens would. */
static int gen_beam(const gen_source *src, const gen_opts *o, const gen_hooks *h, gen_out *out,
                    gen_result *res, nt_err *err)
{
    const gen_source_ops *ops = src->ops;
    if (!ops->fork_save || !ops->fork_restore || !ops->fork_free || !ops->fork_keep)
        return nt_err_set(err, NT_ERR_UNSUPPORTED, "beam search needs the local engine");
    const int32_t *hist;
    size_t from = ops->begin(src->self, &hist);
    /* The first token's candidates, as sampling at temperature 0 reports them. */
    nt_sampler_params gp = nt_sampler_default_params();
    gp.temperature = 0.0f;
    nt_sampler *g = nt_sampler_init(&gp, src->n_vocab);
    if (!g) return nt_err_set(err, NT_ERR_NOMEM, "out of memory for the sampler");
    nt_sampler_sample(g, ops->logits(src->self));
    res->n_cand0 = nt_sampler_candidates(g, res->cand0, GEN_N_CAND);
    nt_sampler_free(g);

    beam_run r = {.src = src};
    r.b = calloc((size_t)o->params.beams, sizeof *r.b);
    r.next = calloc((size_t)o->params.beams, sizeof *r.next);
    long best = -1;
    int rc = r.b && r.next ? beam_search(&r, o, h, from, res, &best, err)
                           : nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    if (rc == NT_OK && best >= 0) {
        const beam_hyp *w = &r.hyp[best];
        if (w->finished) res->end = GEN_END_EOG;
        rc = ops->fork_restore(src->self, w->fork->state, err);
        for (size_t i = 0; rc == NT_OK && i < w->n; i++) {
            gen_token t = {.index = (int32_t)i, .id = w->ids[i]};
            bool hit = false;
            rc = gen_emit(src, h, out, &t, res, &hit, err);
            if (hit) { /* the context keeps the tokens before the one that completed it */
                res->end = GEN_END_EOG;
                res->stop_text = true;
                ops->fork_keep(src->self, from + i);
                break;
            }
        }
    } else if (rc == NT_OK) { /* nothing generated (stopped at once, no room) */
        if (r.b[0].fork) rc = ops->fork_restore(src->self, r.b[0].fork->state, err);
    }
    for (int b = 0; r.b && b < o->params.beams; b++) beam_clear(src, &r.b[b]);
    for (size_t i = 0; i < r.n_hyp; i++) {
        fork_unref(src, r.hyp[i].fork);
        free(r.hyp[i].ids);
    }
    free(r.hyp);
    free(r.b);
    free(r.next);
    return rc;
}

/* ================================================================== the loop ===== */

int gen_run(const gen_source *src, const gen_opts *o, const gen_hooks *h, gen_result *res,
            nt_err *err)
{
    const gen_source_ops *ops = src->ops;
    void *self = src->self;
    memset(res, 0, sizeof *res);
    res->end = GEN_END_ERROR;
    int rc = NT_OK;
    gen_out out = {.filt = malloc(sizeof *out.filt)}; /* 4.5 KiB of tables: not on a thread's stack */
    nt_sampler *smp = NULL;
    if (!out.filt) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (gen_filter_init(out.filt, o->stop, o->n_stop) != NT_OK || o->max_tokens < 0) {
        rc = nt_err_set(err, NT_ERR_INVALID, "bad stop strings or max tokens");
        goto out;
    }
    if (o->params.beams > 1) {
        rc = gen_beam(src, o, h, &out, res, err);
        goto tail;
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

    bool breakers = false;
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
        /* DRY's breakers (llama.cpp's default set) are looked up in the vocabulary once, when
         * DRY is first on: a scan of every token, not worth it for answers without DRY. */
        if (!breakers && src->tok && nt_sampler_get_params(smp)->dry_multiplier > 0.0f) {
            breakers = true;
            if (nt_sampler_set_breakers(smp, src->tok, nt_sampler_default_breakers,
                                        sizeof nt_sampler_default_breakers /
                                            sizeof nt_sampler_default_breakers[0]) == NT_ERR_NOMEM) {
                rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory for the sampler");
                break;
            }
        }

        int32_t id = nt_sampler_sample(smp, ops->logits(self));
        nt_sampler_accept(smp, id);
        if (i == 0) res->n_cand0 = nt_sampler_candidates(smp, res->cand0, GEN_N_CAND);
        if (!o->ignore_eog && ops->is_eog(self, id)) {
            res->end = ops->eog_end ? ops->eog_end(self) : GEN_END_EOG;
            break;
        }
        gen_token t = {.index = i, .id = id};
        if (o->candidates) {
            t.n_cand = nt_sampler_candidates(smp, t.cand, GEN_N_CAND);
            t.n_stages = nt_sampler_stages(smp, t.stages, NT_STAGE_COUNT);
        }
        bool hit = false;
        if ((rc = gen_emit(src, h, &out, &t, res, &hit, err)) != NT_OK) break;
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
tail:
    if (rc != NT_OK) res->end = GEN_END_ERROR;
    if (!res->stop_text) res->tail = gen_tail(src, out.filt);
out:
    nt_sampler_free(smp);
    free(out.shown);
    free(out.filt);
    return rc;
}
