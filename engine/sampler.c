/* sampler.c — picks the next token from a step's logits: penalties and DRY over the history,
 * then the filters (top-nσ, top-k, typical-p, top-p, min-p, XTC), temperature and a draw with
 * the sampler's own RNG; or, with Mirostat v2 on, temperature and Mirostat's truncated draw.
 *
 * The chain and its rules are documented in natter.h's "sampler" section. Two properties
 * shape this file:
 *   - Replay: the RNG (xoshiro256**) lives in the sampler and every nt_sampler_sample consumes
 *     exactly one output of it, whatever the parameters (XTC's chance is derived from that
 *     same output); so a session that records the seed and each parameter change by step
 *     reproduces its tokens exactly.
 *   - Cost: vocabularies reach 150k entries and the TUI samples every token. All buffers are
 *     allocated once at init (no malloc per step, except when the history grows); top-k uses
 *     partial selection instead of a full sort, and top-p sorts a growing prefix only.
 * Candidates are ordered everywhere by (logit descending, id ascending): a total order, so
 * ties are resolved the same way on every run.
 */
#include "natter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <float.h>

typedef struct cand {
    float l; /* logit (after penalties); the stage "temperature" turns it into a weight */
    int32_t id;
} cand;

/* typical-p's sort key with its candidate */
typedef struct tcand {
    double key; /* |-ln p - H| */
    cand c;
} tcand;

struct nt_sampler {
    nt_sampler_params p;
    int32_t n_vocab;
    uint64_t rng[4];          /* xoshiro256** state */
    int32_t *hist;            /* (hist_cap) accepted tokens, oldest first */
    size_t hist_n, hist_cap;
    float *raw;               /* (n_vocab) last step's logits as given (NaN → -inf) */
    float *after;             /* (n_vocab) last step's probability after the whole chain */
    int32_t *count;           /* (n_vocab) occurrences in the penalty window; zero between steps */
    cand *c;                  /* (n_vocab) candidate scratch */
    tcand *tc;                /* (n_vocab) typical-p's scratch, allocated at its first use */
    int32_t *dry_len;         /* (n_vocab) DRY: 1 + longest repeat a token extends, 0: none;
                                 zero between steps */
    int32_t *dry_z;           /* (dry_cap) DRY: Z-array of the reversed history */
    size_t dry_cap;
    uint8_t *breaker;         /* (n_vocab) DRY sequence breakers, or NULL: none */
    bool miro_on;             /* Mirostat was on at the last step: mu is live */
    float mu;                 /* Mirostat's running surprise bound (bits) */
    nt_sampler_stage_info stages[NT_STAGE_COUNT]; /* last step's active stages, in order */
    int n_stages;
    bool stepped;             /* a step has been sampled since init */
};

const char *const nt_sampler_default_breakers[4] = {"\n", ":", "\"", "*"};

/* ------------------------------------------------------------------------------ RNG */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_seed(uint64_t st[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++) st[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* ------------------------------------------------------------------- life cycle, params */

nt_sampler_params nt_sampler_default_params(void)
{
    return (nt_sampler_params){
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .presence_penalty = 0.0f,
        .frequency_penalty = 0.0f,
        .typical_p = 1.0f,
        .top_n_sigma = 0.0f,
        .xtc_threshold = 0.1f,
        .xtc_probability = 0.0f,
        .dry_multiplier = 0.0f,
        .dry_base = 1.75f,
        .dry_allowed_length = 2,
        .mirostat_tau = 0.0f,
        .mirostat_eta = 0.1f,
        .beams = 1,
        .length_penalty = 1.0f,
        .seed = 0,
    };
}

nt_sampler *nt_sampler_init(const nt_sampler_params *params, int32_t n_vocab)
{
    if (!params || n_vocab <= 0) return NULL;
    nt_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    size_t n = (size_t)n_vocab;
    s->n_vocab = n_vocab;
    s->p = *params;
    s->raw = malloc(n * sizeof *s->raw);
    s->after = calloc(n, sizeof *s->after);
    s->count = calloc(n, sizeof *s->count);
    s->dry_len = calloc(n, sizeof *s->dry_len);
    s->c = malloc(n * sizeof *s->c);
    if (!s->raw || !s->after || !s->count || !s->dry_len || !s->c) goto fail;
    rng_seed(s->rng, s->p.seed);
    return s;
fail:
    nt_sampler_free(s);
    return NULL;
}

void nt_sampler_free(nt_sampler *s)
{
    if (!s) return;
    free(s->tc);
    free(s->dry_len);
    free(s->dry_z);
    free(s->breaker);
    free(s->c);
    free(s->count);
    free(s->after);
    free(s->raw);
    free(s->hist);
    free(s);
}

void nt_sampler_set_params(nt_sampler *s, const nt_sampler_params *params)
{
    if (!s || !params) return;
    bool reseed = params->seed != s->p.seed;
    s->p = *params;
    if (reseed) rng_seed(s->rng, s->p.seed);
}

const nt_sampler_params *nt_sampler_get_params(const nt_sampler *s) { return s ? &s->p : NULL; }

void nt_sampler_reset(nt_sampler *s)
{
    if (!s) return;
    s->hist_n = 0;
    s->miro_on = false;
    rng_seed(s->rng, s->p.seed);
}

float nt_sampler_mirostat_mu(const nt_sampler *s) { return s && s->miro_on ? s->mu : 0.0f; }

int nt_sampler_set_breakers(nt_sampler *s, const nt_tokenizer *t, const char *const *breakers,
                            size_t n)
{
    if (!s) return NT_ERR_INVALID;
    free(s->breaker);
    s->breaker = NULL;
    if (n == 0) return NT_OK;
    if (!t || !breakers || nt_tokenizer_n_vocab(t) != s->n_vocab) return NT_ERR_INVALID;
    s->breaker = calloc((size_t)s->n_vocab, 1);
    size_t cap = nt_tokenizer_max_piece_len(t) * 4 + 16; /* a piece decodes to no more */
    char *buf = malloc(cap + 1);
    if (!s->breaker || !buf) {
        free(buf);
        free(s->breaker);
        s->breaker = NULL;
        return NT_ERR_NOMEM;
    }
    for (int32_t id = 0; id < s->n_vocab; id++) {
        int len = nt_tokenizer_token_bytes(t, id, buf, cap);
        if (len < 0) continue;
        if ((size_t)len > cap) len = (int)cap;
        buf[len] = '\0';
        for (size_t k = 0; k < n; k++)
            if (breakers[k] && breakers[k][0] &&
                memmem(buf, (size_t)len, breakers[k], strlen(breakers[k]))) {
                s->breaker[id] = 1;
                break;
            }
    }
    free(buf);
    return NT_OK;
}

void nt_sampler_accept(nt_sampler *s, int32_t id)
{
    if (!s || id < 0 || id >= s->n_vocab) return;
    if (s->hist_n == s->hist_cap) {
        size_t cap = s->hist_cap ? s->hist_cap * 2 : 256;
        int32_t *h = realloc(s->hist, cap * sizeof *h);
        if (h) {
            s->hist = h;
            s->hist_cap = cap;
        } else if (s->hist_n > 0) {
            /* Out of memory: forget the older half rather than the newest token. */
            size_t keep = s->hist_n / 2;
            memmove(s->hist, s->hist + s->hist_n - keep, keep * sizeof *s->hist);
            s->hist_n = keep;
        } else {
            return;
        }
    }
    s->hist[s->hist_n++] = id;
}

/* ------------------------------------------------------------------------ the stages */

/* The total order of candidates: higher logit first, then lower id. */
static inline bool better(const cand *a, const cand *b)
{
    return a->l > b->l || (a->l == b->l && a->id < b->id);
}

static int cand_cmp(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

static inline void cswap(cand *a, cand *b)
{
    cand t = *a;
    *a = *b;
    *b = t;
}

/* Partial selection (quickselect, median-of-three pivot): afterwards c[0..k) hold the k best
 * of c[0..m), in no particular order. O(m) on average; 0 < k < m. */
static void select_best(cand *c, size_t m, size_t k)
{
    size_t lo = 0, hi = m;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2, last = hi - 1;
        if (better(&c[mid], &c[lo])) cswap(&c[mid], &c[lo]);
        if (better(&c[last], &c[lo])) cswap(&c[last], &c[lo]);
        if (better(&c[mid], &c[last])) cswap(&c[mid], &c[last]);
        /* now c[last] holds the median of the three: the pivot */
        size_t store = lo;
        for (size_t i = lo; i < last; i++)
            if (better(&c[i], &c[last])) cswap(&c[i], &c[store++]);
        cswap(&c[store], &c[last]);
        if (store == k || store + 1 == k) return;
        if (store > k) hi = store;
        else lo = store + 1;
    }
}

static bool penalties_on(const nt_sampler_params *p)
{
    bool rep = p->repeat_penalty > 0.0f && p->repeat_penalty != 1.0f;
    return p->repeat_last_n != 0 &&
           (rep || p->presence_penalty != 0.0f || p->frequency_penalty != 0.0f);
}

/* A penalised logit must not break the total order of the candidates. */
static inline float tame(float l)
{
    return isnan(l) ? -INFINITY : l == INFINITY ? FLT_MAX : l;
}

/* Repetition, presence and frequency penalties over the window of the history. The
 * candidate array is still indexed by id here. count[] returns to all-zero. Returns the
 * number of tokens penalised. */
static int32_t stage_penalties(nt_sampler *s)
{
    const nt_sampler_params *p = &s->p;
    size_t win = s->hist_n;
    if (p->repeat_last_n >= 0 && (size_t)p->repeat_last_n < win) win = (size_t)p->repeat_last_n;
    bool rep = p->repeat_penalty > 0.0f && p->repeat_penalty != 1.0f;
    if (win == 0 || !penalties_on(p)) return 0;
    const int32_t *h = s->hist + (s->hist_n - win);
    int32_t changed = 0;
    for (size_t i = 0; i < win; i++) s->count[h[i]]++;
    for (size_t i = 0; i < win; i++) {
        int32_t id = h[i];
        int32_t n = s->count[id];
        if (n == 0) continue; /* already penalised: each distinct token once */
        float *l = &s->c[id].l;
        if (rep) *l = *l <= 0.0f ? *l * p->repeat_penalty : *l / p->repeat_penalty;
        *l = tame(*l - ((float)n * p->frequency_penalty + p->presence_penalty));
        s->count[id] = 0;
        changed++;
    }
    return changed;
}

static bool dry_on(const nt_sampler_params *p)
{
    return p->dry_multiplier > 0.0f && p->dry_base >= 1.0f && p->dry_allowed_length >= 0;
}

/* DRY over the whole history h[0..N) (natter.h states the rule). The repeat lengths come from
 * the Z-array of the reversed history: z[k] is the length of the longest common ending of
 * h[0..N) and h[0..N-k), found for every k in O(N) (Gusfield's Z-algorithm), so the token
 * that followed that earlier ending, h[N-k], would extend a repeat of min(z[k], limit)
 * tokens; limit is the number of tokens after the latest breaker. Returns the number of
 * tokens penalised; dry_len[] returns to all-zero. */
static int32_t stage_dry(nt_sampler *s)
{
    const nt_sampler_params *p = &s->p;
    const size_t n = s->hist_n, allowed = (size_t)p->dry_allowed_length;
    const int32_t *h = s->hist;
    if (n <= allowed) return 0;
    size_t limit = n;
    if (s->breaker)
        for (size_t i = 0; i < n; i++)
            if (s->breaker[h[n - 1 - i]]) {
                limit = i;
                break;
            }
    if (limit < allowed) return 0;
    if (s->dry_cap < n) {
        int32_t *z = realloc(s->dry_z, n * sizeof *z);
        if (!z) return 0; /* out of memory: no DRY this step rather than no answer */
        s->dry_z = z;
        s->dry_cap = n;
    }
    int32_t *z = s->dry_z;
#define REV(i) h[n - 1 - (i)] /* the history read backwards */
    z[0] = (int32_t)n;
    size_t zl = 0, zr = 0; /* the Z-box [zl, zr): REV(zl..zr) matches REV(0..zr-zl) */
    for (size_t k = 1; k < n; k++) {
        size_t len = 0;
        if (k < zr) {
            len = (size_t)z[k - zl];
            if (len > zr - k) len = zr - k;
        }
        while (k + len < n && REV(len) == REV(k + len)) len++;
        if (k + len > zr) {
            zl = k;
            zr = k + len;
        }
        z[k] = (int32_t)len;
    }
#undef REV
    for (size_t k = 1; k < n; k++) {
        size_t len = (size_t)z[k] < limit ? (size_t)z[k] : limit;
        int32_t id = h[n - k];
        if (len >= allowed && (int32_t)len + 1 > s->dry_len[id]) s->dry_len[id] = (int32_t)len + 1;
    }
    /* the exponent's cap keeps base^exp finite in float (llama.cpp's: ln(FLT_MAX) / ln(base)) */
    int32_t max_exp = p->dry_base > 1.000001f ? (int32_t)(88.7228391f / logf(p->dry_base)) : 0;
    int32_t changed = 0;
    for (size_t k = 1; k < n; k++) {
        int32_t id = h[n - k];
        if (s->dry_len[id] == 0) continue;
        int32_t e = s->dry_len[id] - 1 - (int32_t)allowed;
        s->dry_len[id] = 0;
        if (s->breaker && s->breaker[id]) continue;
        if (max_exp > 0 && e > max_exp) e = max_exp;
        s->c[id].l = tame(s->c[id].l - p->dry_multiplier * powf(p->dry_base, (float)e));
        changed++;
    }
    return changed;
}

/* Sift-down in a heap whose root is the worst candidate (c[0] is beaten by its children). */
static void worst_heap_down(cand *c, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && better(&c[w], &c[l])) w = l;
        if (r < n && better(&c[w], &c[r])) w = r;
        if (w == i) return;
        cswap(&c[i], &c[w]);
        i = w;
    }
}

/* top-k: afterwards c[0..k) hold the k best of c[0..m), sorted. For small k a heap of the k
 * best so far rejects almost every other candidate with one comparison; large k falls back
 * to quickselect. 0 < k < m. */
static void stage_top_k(cand *c, size_t m, size_t k)
{
    if (k <= 1024) {
        for (size_t i = k / 2; i-- > 0;) worst_heap_down(c, k, i);
        for (size_t i = k; i < m; i++) {
            if (!better(&c[i], &c[0])) continue;
            c[0] = c[i];
            worst_heap_down(c, k, 0);
        }
    } else {
        select_best(c, m, k);
    }
    qsort(c, k, sizeof *c, cand_cmp);
}

static double max_logit(const cand *c, size_t m)
{
    float lmax = c[0].l; /* a float local: keeps the loop in registers */
    for (size_t i = 1; i < m; i++) lmax = c[i].l > lmax ? c[i].l : lmax;
    return lmax;
}

/* min-p: keeps c with p(c) >= min_p * p(best), i.e. l >= lmax + log(min_p). Stable, so a
 * sorted array stays sorted; the best always passes. */
static size_t stage_min_p(cand *c, size_t m, double lmax, double min_p)
{
    /* in the log domain, like llama.cpp: no exp per candidate */
    double min_l = lmax + log(min_p);
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if ((double)c[i].l >= min_l) c[k++] = c[i];
    return k ? k : 1;
}

/* top-p: the smallest prefix, by probability, of c[0..m) whose unnormalised mass
 * exp(l - lmax) reaches target (p times the mass of the whole set before this stage). Only a
 * prefix is sorted: the best 512 first, then 8 times more while the mass is not reached.
 * Returns the new count; c[0..result) is sorted. */
static size_t stage_top_p(cand *c, size_t m, bool *sorted, double lmax, double target)
{
    size_t k = *sorted || m <= 512 ? m : 512;
    for (;;) {
        if (!*sorted) {
            if (k < m) select_best(c, m, k);
            qsort(c, k, sizeof *c, cand_cmp);
            if (k == m) *sorted = true;
        }
        double cum = 0.0;
        for (size_t i = 0; i < k; i++) {
            cum += expf((float)((double)c[i].l - lmax));
            if (cum >= target) {
                *sorted = true;
                return i + 1;
            }
        }
        if (k == m) return m; /* the set holds less than target (or rounding): keep all */
        k = m / 8 < k ? m : k * 8;
    }
}

/* top-nσ: keeps c with l >= lmax - n·σ, σ the population standard deviation of the set's
 * finite logits (llama.cpp's definition: -inf logits are left out of the mean and σ). Stable;
 * the best always passes. */
static size_t stage_top_n_sigma(cand *c, size_t m, double nsig)
{
    double lmax = -INFINITY, sum = 0.0, acc = 0.0;
    size_t valid = 0;
    for (size_t i = 0; i < m; i++)
        if (c[i].l != -INFINITY) {
            lmax = c[i].l > lmax ? c[i].l : lmax;
            sum += c[i].l;
            valid++;
        }
    if (valid == 0) return m;
    double mean = sum / (double)valid;
    for (size_t i = 0; i < m; i++)
        if (c[i].l != -INFINITY) acc += ((double)c[i].l - mean) * ((double)c[i].l - mean);
    double min_l = lmax - nsig * sqrt(acc / (double)valid);
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if ((double)c[i].l >= min_l) c[k++] = c[i];
    return k;
}

static int tcand_cmp(const void *x, const void *y)
{
    const tcand *a = x, *b = y;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return cand_cmp(&a->c, &b->c);
}

/* typical-p: the set ordered by |-ln p - H| (most typical first), cut after the first place
 * where the cumulative probability exceeds typ. The survivors stay in that order (not sorted
 * by logit). Returns the new count; m when there is no scratch (out of memory). */
static size_t stage_typical(nt_sampler *s, cand *c, size_t m, double typ)
{
    if (!s->tc && !(s->tc = malloc((size_t)s->n_vocab * sizeof *s->tc))) return m;
    double lmax = max_logit(c, m), sum = 0.0;
    if (lmax == -INFINITY) return m;
    for (size_t i = 0; i < m; i++) sum += exp((double)c[i].l - lmax);
    double ent = 0.0;
    for (size_t i = 0; i < m; i++) {
        double lp = (double)c[i].l - lmax - log(sum); /* ln p */
        if (c[i].l != -INFINITY) ent -= exp(lp) * lp;
    }
    for (size_t i = 0; i < m; i++) {
        double lp = (double)c[i].l - lmax - log(sum);
        s->tc[i] = (tcand){c[i].l == -INFINITY ? INFINITY : fabs(-lp - ent), c[i]};
    }
    qsort(s->tc, m, sizeof *s->tc, tcand_cmp);
    double cum = 0.0;
    size_t k = m;
    for (size_t i = 0; i < m; i++) {
        cum += exp((double)s->tc[i].c.l - lmax) / sum;
        if (cum > typ) {
            k = i + 1;
            break;
        }
    }
    for (size_t i = 0; i < k; i++) c[i] = s->tc[i].c;
    return k;
}

/* XTC: when at least two candidates have probability >= thr, removes all of them but the
 * least likely (the last of them in the total order). Stable. */
static size_t stage_xtc(cand *c, size_t m, double thr)
{
    double lmax = max_logit(c, m), sum = 0.0;
    if (lmax == -INFINITY) return m;
    for (size_t i = 0; i < m; i++) sum += exp((double)c[i].l - lmax);
    size_t n_top = 0, last = 0;
    for (size_t i = 0; i < m; i++)
        if (exp((double)c[i].l - lmax) / sum >= thr) {
            if (n_top == 0 || better(&c[last], &c[i])) last = i;
            n_top++;
        }
    if (n_top < 2) return m;
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (i == last || exp((double)c[i].l - lmax) / sum < thr) c[k++] = c[i];
    return k;
}

/* splitmix64's output function: XTC's chance from the step's one RNG output. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void stage_note(nt_sampler *s, int stage, size_t kept, int32_t changed)
{
    if (s->n_stages < NT_STAGE_COUNT)
        s->stages[s->n_stages++] = (nt_sampler_stage_info){stage, (int32_t)kept, changed};
}

/* Draws from c[0..m), whose .l now hold weights summing to sum, at u·sum; fills after[].
 * Returns the index picked. */
static size_t draw(nt_sampler *s, cand *c, size_t m, double sum, double u)
{
    double target = u * sum, cum = 0.0;
    size_t pick = m;
    for (size_t i = 0; i < m; i++) {
        cum += c[i].l;
        if (pick == m && cum > target) pick = i;
        s->after[c[i].id] = (float)(c[i].l / sum);
    }
    if (pick == m) /* rounding: target at the very top of the mass; take the last weighted one */
        for (pick = m - 1; pick > 0 && c[pick].l == 0.0f; pick--) {}
    return pick;
}

int32_t nt_sampler_sample(nt_sampler *s, const float *logits)
{
    if (!s || !logits) return -1;
    const nt_sampler_params *p = &s->p;
    size_t nv = (size_t)s->n_vocab;
    /* One RNG output per step, always: the RNG position is the step count (replay). */
    uint64_t r = rng_next(s->rng);
    const double u = (double)(r >> 11) * 0x1.0p-53, u_xtc = (double)(mix64(r) >> 11) * 0x1.0p-53;

    for (size_t i = 0; i < nv; i++) {
        float l = logits[i];
        if (isnan(l)) l = -INFINITY;
        else if (l == INFINITY) l = FLT_MAX;
        s->raw[i] = l;
        s->c[i] = (cand){l, (int32_t)i};
    }
    memset(s->after, 0, nv * sizeof *s->after);
    s->stepped = true;
    s->n_stages = 0;
    const bool miro = p->mirostat_tau > 0.0f;
    if (!miro) s->miro_on = false;

    if (penalties_on(p)) stage_note(s, NT_STAGE_PENALTIES, nv, stage_penalties(s));
    if (dry_on(p)) stage_note(s, NT_STAGE_DRY, nv, stage_dry(s));

    /* Greedy at temperature <= 0 (or NaN), and where 1/T overflows: the limit is the argmax.
     * The filters are skipped (natter.h: greedy is the argmax of the penalised logits). */
    if (!(p->temperature > 0.0f) || isinf(1.0 / p->temperature)) {
        size_t best = 0;
        for (size_t i = 1; i < nv; i++)
            if (s->c[i].l > s->c[best].l) best = i; /* strict: ties keep the lowest id */
        s->after[best] = 1.0f;
        stage_note(s, NT_STAGE_GREEDY, 1, 0);
        return (int32_t)best;
    }

    cand *c = s->c;
    size_t m = nv;
    bool sorted = false;
    if (!miro) {
        if (p->top_n_sigma > 0.0f) {
            m = stage_top_n_sigma(c, m, p->top_n_sigma);
            stage_note(s, NT_STAGE_TOP_N_SIGMA, m, 0);
        }
        if (p->top_k > 0) {
            if ((size_t)p->top_k < m) {
                stage_top_k(c, m, (size_t)p->top_k);
                m = (size_t)p->top_k;
                sorted = true;
            }
            stage_note(s, NT_STAGE_TOP_K, m, 0);
        }
        if (p->typical_p < 1.0f) {
            m = stage_typical(s, c, m, p->typical_p);
            sorted = false; /* most typical first now */
            stage_note(s, NT_STAGE_TYPICAL, m, 0);
        }
        if (p->top_p < 1.0f) {
            double lmax = sorted ? c[0].l : max_logit(c, m), sum = 0.0;
            for (size_t i = 0; i < m; i++) sum += expf((float)((double)c[i].l - lmax));
            m = stage_top_p(c, m, &sorted, lmax, p->top_p * sum);
            stage_note(s, NT_STAGE_TOP_P, m, 0);
        }
        if (p->min_p > 0.0f) {
            m = stage_min_p(c, m, sorted ? c[0].l : max_logit(c, m), p->min_p);
            stage_note(s, NT_STAGE_MIN_P, m, 0);
        }
        if (p->xtc_probability > 0.0f) {
            if (u_xtc < p->xtc_probability && p->xtc_threshold <= 0.5f && m > 1)
                m = stage_xtc(c, m, p->xtc_threshold);
            stage_note(s, NT_STAGE_XTC, m, 0);
        }
    }

    /* Temperature and the draw: weights exp((l - lmax) / T), summed in double. */
    double lmax = sorted ? c[0].l : max_logit(c, m);
    if (lmax == -INFINITY) { /* every logit is -inf: no distribution; take the lowest id */
        size_t best = 0;
        for (size_t i = 1; i < m; i++)
            if (better(&c[i], &c[best])) best = i;
        s->after[c[best].id] = 1.0f;
        stage_note(s, NT_STAGE_TEMPERATURE, 1, 0);
        return c[best].id;
    }
    double inv_t = 1.0 / p->temperature, sum = 0.0;
    for (size_t i = 0; i < m; i++) {
        double w = c[i].l == -INFINITY ? 0.0 : expf((float)(((double)c[i].l - lmax) * inv_t));
        c[i].l = (float)w;
        sum += w;
    }
    stage_note(s, NT_STAGE_TEMPERATURE, m, 0);
    if (!miro) return c[draw(s, c, m, sum, u)].id;

    /* Mirostat v2: keep the tokens whose surprise -log2(w / sum) <= mu (the likeliest: a
     * threshold on p, so no sort is needed), at least the best one; draw; move mu. */
    if (!s->miro_on) {
        s->mu = 2.0f * p->mirostat_tau;
        s->miro_on = true;
    }
    size_t best = 0;
    for (size_t i = 1; i < m; i++)
        if (c[i].l > c[best].l) best = i;
    const cand top = c[best];
    size_t k = 0;
    double kept = 0.0;
    for (size_t i = 0; i < m; i++)
        if (c[i].l > 0.0f && -log2((double)c[i].l / sum) <= (double)s->mu) {
            kept += c[i].l;
            c[k++] = c[i];
        }
    if (k == 0) {
        c[k++] = top;
        kept = top.l;
    }
    stage_note(s, NT_STAGE_MIROSTAT, k, 0);
    size_t pick = draw(s, c, k, kept, u);
    double surprise = -log2((double)c[pick].l / kept);
    s->mu = (float)((double)s->mu - (double)p->mirostat_eta * (surprise - (double)p->mirostat_tau));
    return c[pick].id;
}

/* ----------------------------------------------------------------------- candidates */

/* A min-heap on (p_before, then reversed id) keeps the best `max` of the vocabulary without a
 * scratch buffer (the sampler is const here). */
static inline bool cand_worse(const nt_sampler_cand *a, const nt_sampler_cand *b)
{
    return a->p_before < b->p_before || (a->p_before == b->p_before && a->id > b->id);
}

static void heap_down(nt_sampler_cand *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && cand_worse(&h[l], &h[w])) w = l;
        if (r < n && cand_worse(&h[r], &h[w])) w = r;
        if (w == i) return;
        nt_sampler_cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

int nt_sampler_candidates(const nt_sampler *s, nt_sampler_cand *out, int max)
{
    if (!s || !out || max <= 0 || !s->stepped) return 0;
    size_t nv = (size_t)s->n_vocab;
    float mx = s->raw[0];
    for (size_t i = 1; i < nv; i++) mx = s->raw[i] > mx ? s->raw[i] : mx;
    double lmax = mx == -INFINITY ? 0.0 : mx;
    double sum = 0.0;
    for (size_t i = 0; i < nv; i++) sum += expf((float)((double)s->raw[i] - lmax));

    /* Select on the raw logit (monotonic in p_before, and exact), store p_before at the end. */
    int n = 0;
    for (size_t i = 0; i < nv; i++) {
        nt_sampler_cand x = {(int32_t)i, s->raw[i], 0.0f};
        if (n < max) {
            int j = n++;
            out[j] = x;
            while (j > 0 && cand_worse(&out[j], &out[(j - 1) / 2])) {
                nt_sampler_cand t = out[j];
                out[j] = out[(j - 1) / 2];
                out[(j - 1) / 2] = t;
                j = (j - 1) / 2;
            }
        } else if (cand_worse(&out[0], &x)) {
            out[0] = x;
            heap_down(out, n, 0);
        }
    }
    /* Heap sort: repeatedly move the worst to the end, giving best-first order. */
    for (int k = n - 1; k > 0; k--) {
        nt_sampler_cand t = out[0];
        out[0] = out[k];
        out[k] = t;
        heap_down(out, k, 0);
    }
    for (int i = 0; i < n; i++) {
        int32_t id = out[i].id;
        out[i].p_before = sum > 0.0 ? (float)(exp((double)s->raw[id] - lmax) / sum) : 0.0f;
        out[i].p_after = s->after[id];
    }
    return n;
}

int nt_sampler_stages(const nt_sampler *s, nt_sampler_stage_info *out, int max)
{
    if (!s || !out || max <= 0 || !s->stepped) return 0;
    int n = s->n_stages < max ? s->n_stages : max;
    memcpy(out, s->stages, (size_t)n * sizeof *out);
    return n;
}

const char *nt_sampler_stage_name(int stage)
{
    static const char *const names[NT_STAGE_COUNT] = {
        [NT_STAGE_PENALTIES] = "penalties", [NT_STAGE_DRY] = "dry",
        [NT_STAGE_TOP_N_SIGMA] = "top-n-sigma", [NT_STAGE_TOP_K] = "top-k",
        [NT_STAGE_TYPICAL] = "typical-p", [NT_STAGE_TOP_P] = "top-p", [NT_STAGE_MIN_P] = "min-p",
        [NT_STAGE_XTC] = "xtc", [NT_STAGE_TEMPERATURE] = "temperature",
        [NT_STAGE_MIROSTAT] = "mirostat", [NT_STAGE_GREEDY] = "greedy",
    };
    return stage >= 0 && stage < NT_STAGE_COUNT ? names[stage] : NULL;
}
