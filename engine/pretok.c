/* pretok.c — UTF-8 decoding and the pre-tokenizer splits of the byte-level BPE tokenizers.
 *
 * llama.cpp splits text with a chain of regexes per tokenizer.ggml.pre (src/llama-vocab.cpp),
 * each applied inside the pieces the previous one produced; text between matches is kept as
 * pieces of its own. Two patterns (GPT-2's and Llama 3's) have hand-written matchers in
 * src/unicode.cpp; the others run through std::regex (ECMAScript: the first alternative that
 * matches wins) on a copy of the text where every non-ASCII code point is replaced by one byte
 * standing for its category, and non-ASCII whitespace by \v. natter implements each regex as a
 * small matcher over code points that gives the same match at every position, and reproduces
 * the category collapse by classifying code points once (utf8proc categories plus the
 * White_Space list). No regex library is involved.
 *
 * Invalid UTF-8: llama.cpp turns each bad byte into U+FFFD. natter classifies each bad byte
 * exactly like U+FFFD (so the split is the same) but keeps the original byte in the word, so
 * that any byte string round-trips through encode and decode. */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Per-code-point class bits. PT_IN marks a position inside the current piece; positions
 * outside read as 0 (llama.cpp's "flags of nothing"). */
enum {
    PT_IN = 1 << 0,
    PT_L = 1 << 1,  /* \p{L} */
    PT_N = 1 << 2,  /* \p{N} */
    PT_P = 1 << 3,  /* \p{P} */
    PT_S = 1 << 4,  /* \p{S} */
    PT_M = 1 << 5,  /* \p{M} */
    PT_WS = 1 << 6  /* \s: ASCII \t\n\v\f\r and space, or the Unicode White_Space set */
};

#define PT_BAD_CP 0xFFFDu /* what an invalid byte is classified as */

size_t nt_pretok_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    /* utf8proc_iterate rejects exactly what RFC 3629 forbids (overlongs, surrogates, values
     * past U+10FFFF, truncated and broken sequences) and reads at most 4 bytes. */
    utf8proc_int32_t v;
    utf8proc_ssize_t len = utf8proc_iterate(s, n < 4 ? (utf8proc_ssize_t)n : 4, &v);
    if (len < 1) return 0;
    *cp = (uint32_t)v;
    return (size_t)len;
}

size_t nt_pretok_utf8_encode(uint32_t cp, char *buf)
{
    /* Surrogates and values past U+10FFFF never come from pretok's decoder. */
    return (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)buf);
}

/* Unicode's White_Space property, which is what llama.cpp's table holds (Python regex \s). */
static bool pt_is_white_space(uint32_t cp)
{
    if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x20) return true;
    if (cp < 0x85) return false;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static uint8_t pt_classify(uint32_t cp)
{
    uint8_t f = PT_IN;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        f |= PT_L; break;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
        f |= PT_M; break;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        f |= PT_N; break;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        f |= PT_P; break;
    case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
        f |= PT_S; break;
    default:
        break; /* separators, controls, unassigned: "other" */
    }
    if (pt_is_white_space(cp)) f |= PT_WS;
    return f;
}

/* The decoded text: n code points with their byte offsets (boff[n] is the text length). */
typedef struct pt_text {
    uint32_t *cp;
    uint8_t *fl;
    size_t *boff;
    size_t n;
} pt_text;

/* Pieces as [beg, end) code point ranges. */
typedef struct pt_frags {
    size_t *v; /* beg0, end0, beg1, end1, ... */
    size_t n, cap; /* in pairs */
} pt_frags;

static int pt_frags_push(pt_frags *f, size_t beg, size_t end)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        size_t *v = realloc(f->v, cap * 2 * sizeof *v);
        if (!v) return NT_ERR_NOMEM;
        f->v = v;
        f->cap = cap;
    }
    f->v[2 * f->n] = beg;
    f->v[2 * f->n + 1] = end;
    f->n++;
    return NT_OK;
}

static inline uint8_t fl_at(const pt_text *x, size_t p, size_t end)
{
    return p < end ? x->fl[p] : 0;
}

static inline uint32_t cp_at(const pt_text *x, size_t p, size_t end)
{
    return p < end ? x->cp[p] : 0xFFFFFFFFu;
}

/* A match function returns the length of the match that starts exactly at pos (0: none). */
typedef size_t (*pt_match_fn)(const pt_text *x, size_t pos, size_t end);

/* ---------------------------------------------------------------- GPT-2 and Llama 3 ---- */

/* 's|'t|'re|'ve|'m|'ll|'d — case-sensitive for GPT-2; Llama 3 also takes upper case. */
static size_t pt_contraction(const pt_text *x, size_t pos, size_t end, bool any_case)
{
    if (x->cp[pos] != '\'' || pos + 1 >= end) return 0;
    uint32_t a = x->cp[pos + 1];
    if (any_case && a >= 'A' && a <= 'Z') a += 32;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (pos + 2 >= end) return 0;
    uint32_t b = x->cp[pos + 2];
    if (any_case && b >= 'A' && b <= 'Z') b += 32;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* \s+(?!\S)|\s+ : a whitespace run followed by more text leaves its last character to the
 * next piece (so " world" keeps its space). */
static size_t pt_space_run(const pt_text *x, size_t pos, size_t end)
{
    size_t w = 0;
    while (fl_at(x, pos + w, end) & PT_WS) w++;
    if (w > 1 && pos + w < end) return w - 1;
    return w;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t pt_match_gpt2(const pt_text *x, size_t pos, size_t end)
{
    size_t m = pt_contraction(x, pos, end, false);
    if (m) return m;
    uint32_t c = x->cp[pos];
    size_t p = pos + (c == ' ');
    uint8_t f = fl_at(x, p, end);
    if (f & PT_L) {
        while (fl_at(x, p, end) & PT_L) p++;
        return p - pos;
    }
    if (f & PT_N) {
        while (fl_at(x, p, end) & PT_N) p++;
        return p - pos;
    }
    if ((f & PT_IN) && !(f & (PT_WS | PT_L | PT_N))) {
        for (f = fl_at(x, p, end); (f & PT_IN) && !(f & (PT_WS | PT_L | PT_N)); f = fl_at(x, ++p, end)) {}
        return p - pos;
    }
    m = pt_space_run(x, pos, end);
    return m ? m : 1;
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+   with D = 3 (Llama 3) or 1 (Qwen2). */
static size_t pt_match_llama3_d(const pt_text *x, size_t pos, size_t end, size_t max_digits)
{
    size_t m = pt_contraction(x, pos, end, true);
    if (m) return m;
    uint32_t c = x->cp[pos];
    uint8_t f = x->fl[pos];
    if (!(c == '\r' || c == '\n' || (f & PT_N)) && ((f & PT_L) || (fl_at(x, pos + 1, end) & PT_L))) {
        size_t p = pos + 1;
        while (fl_at(x, p, end) & PT_L) p++;
        return p - pos;
    }
    if (f & PT_N) {
        size_t p = pos;
        while (p - pos < max_digits && (fl_at(x, p, end) & PT_N)) p++;
        return p - pos;
    }
    {
        size_t p = pos + (c == ' ');
        uint8_t f2 = fl_at(x, p, end);
        if (!(f2 & (PT_WS | PT_L | PT_N))) {
            while ((f2 & PT_IN) && !(f2 & (PT_WS | PT_L | PT_N))) f2 = fl_at(x, ++p, end);
            for (uint32_t c2 = cp_at(x, p, end); c2 == '\r' || c2 == '\n'; c2 = cp_at(x, ++p, end)) {}
            return p - pos;
        }
    }
    size_t w = 0, last_nl = 0;
    while (fl_at(x, pos + w, end) & PT_WS) {
        uint32_t c2 = x->cp[pos + w];
        if (c2 == '\r' || c2 == '\n') last_nl = pos + w + 1;
        w++;
    }
    if (last_nl) return last_nl - pos;
    m = pt_space_run(x, pos, end);
    return m ? m : 1;
}

static size_t pt_match_llama3(const pt_text *x, size_t pos, size_t end)
{
    return pt_match_llama3_d(x, pos, end, 3);
}

static size_t pt_match_qwen2(const pt_text *x, size_t pos, size_t end)
{
    return pt_match_llama3_d(x, pos, end, 1);
}

/* ------------------------------------------------------------- the std::regex passes ---- */

/* Characters std::wregex sees as literal code points: non-ASCII whitespace was replaced by \v
 * before matching, so it never matches a literal range. */
static inline bool pt_literal(const pt_text *x, size_t p)
{
    return !(x->cp[p] >= 0x80 && (x->fl[p] & PT_WS));
}

/* [\p{P}\$\+<=>\^~\|]+ (default) and [\p{P}\$\+<=>\^~\|`]+ (falcon). */
static bool pt_is_punct_plus(const pt_text *x, size_t p, bool backtick)
{
    uint32_t c = x->cp[p];
    if (c < 0x80) {
        return (x->fl[p] & PT_P) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' ||
               c == '^' || c == '~' || c == '|' || (backtick && c == '`');
    }
    return (x->fl[p] & (PT_P | PT_WS)) == PT_P;
}

static size_t pt_match_punct_default(const pt_text *x, size_t pos, size_t end)
{
    size_t p = pos;
    while (p < end && pt_is_punct_plus(x, p, false)) p++;
    return p - pos;
}

static size_t pt_match_punct_falcon(const pt_text *x, size_t pos, size_t end)
{
    size_t p = pos;
    while (p < end && pt_is_punct_plus(x, p, true)) p++;
    return p - pos;
}

/* \p{N}+ */
static size_t pt_match_num_run(const pt_text *x, size_t pos, size_t end)
{
    size_t p = pos;
    while (p < end && (x->fl[p] & PT_N)) p++;
    return p - pos;
}

/* \p{N} */
static size_t pt_match_num1(const pt_text *x, size_t pos, size_t end)
{
    (void)end;
    return (x->fl[pos] & PT_N) ? 1 : 0;
}

/* [0-9][0-9][0-9] */
static size_t pt_match_3digits(const pt_text *x, size_t pos, size_t end)
{
    if (pos + 3 > end) return 0;
    for (size_t i = 0; i < 3; i++)
        if (x->cp[pos + i] < '0' || x->cp[pos + i] > '9') return 0;
    return 3;
}

/* [\r\n] */
static size_t pt_match_crlf(const pt_text *x, size_t pos, size_t end)
{
    (void)end;
    return (x->cp[pos] == '\r' || x->cp[pos] == '\n') ? 1 : 0;
}

typedef struct pt_range {
    uint32_t lo, hi;
} pt_range;

static bool pt_in_ranges(uint32_t c, const pt_range *r, size_t n)
{
    size_t lo = 0, hi = n; /* sorted, disjoint */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < r[mid].lo) hi = mid;
        else if (c > r[mid].hi) lo = mid + 1;
        else return true;
    }
    return false;
}

/* DeepSeek LLM's cased-letter class, exactly as in llama.cpp's regex (87 ranges). */
static const pt_range pt_ds_letters[] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},       {0xD8, 0xF6},
    {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},     {0x295, 0x2AF},     {0x370, 0x373},
    {0x376, 0x377},     {0x37B, 0x37D},     {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},
    {0x38C, 0x38C},     {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
    {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},   {0x1C90, 0x1CBA},
    {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},   {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},
    {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},   {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},
    {0x1F5B, 0x1F5B},   {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},   {0x1FD6, 0x1FDB},
    {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},   {0x2102, 0x2102},   {0x2107, 0x2107},
    {0x210A, 0x2113},   {0x2115, 0x2115},   {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},
    {0x2128, 0x2128},   {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},   {0x2C7E, 0x2CE4},
    {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},   {0xA680, 0xA69B},   {0xA722, 0xA76F},
    {0xA771, 0xA787},   {0xA78B, 0xA78E},   {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},
    {0xFF21, 0xFF3A},   {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

/* [!-/:-~！-／：-～‘-‟　-。] */
static const pt_range pt_ds_punct[] = {
    {0x21, 0x2F}, {0x3A, 0x7E}, {0x2018, 0x201F}, {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E},
};

/* [一-龥ࠀ-一가-퟿] */
static const pt_range pt_cjk[] = {
    {0x800, 0x9FA5}, {0xAC00, 0xD7FF},
};

#define PT_COUNT(a) (sizeof(a) / sizeof(a)[0])

/* \s?X+ for a class X that never contains whitespace. */
#define PT_WS_OPT_RUN(name, IS_X)                                                     \
    static size_t name(const pt_text *x, size_t pos, size_t end)                      \
    {                                                                                 \
        size_t p = pos;                                                               \
        if ((x->fl[p] & PT_WS) && p + 1 < end && IS_X(x, p + 1)) p++;                 \
        if (!IS_X(x, p)) return 0;                                                    \
        while (p < end && IS_X(x, p)) p++;                                            \
        return p - pos;                                                               \
    }

#define PT_IS_DS_LETTER(x, p)                                                                            \
    (pt_literal(x, p) && pt_in_ranges((x)->cp[p], pt_ds_letters, PT_COUNT(pt_ds_letters)))
#define PT_IS_DS_PUNCT(x, p)                                                                             \
    (pt_literal(x, p) && pt_in_ranges((x)->cp[p], pt_ds_punct, PT_COUNT(pt_ds_punct)))
#define PT_IS_LETTER(x, p) (((x)->fl[p] & PT_L) != 0)
#define PT_IS_PUNCT(x, p) (((x)->fl[p] & (PT_P | PT_WS)) == PT_P)

PT_WS_OPT_RUN(pt_match_ds_letters, PT_IS_DS_LETTER)
PT_WS_OPT_RUN(pt_match_ds_punct, PT_IS_DS_PUNCT)
PT_WS_OPT_RUN(pt_match_ws_letters, PT_IS_LETTER)
PT_WS_OPT_RUN(pt_match_ws_punct, PT_IS_PUNCT)

/* [一-龥ࠀ-一가-퟿]+ */
static size_t pt_match_cjk(const pt_text *x, size_t pos, size_t end)
{
    size_t p = pos;
    while (p < end && pt_literal(x, p) && pt_in_ranges(x->cp[p], pt_cjk, PT_COUNT(pt_cjk))) p++;
    return p - pos;
}

/* ------------------------------------------------- the collapsed std::regex passes ---- */

/* A pattern that uses \p{..} classes runs through std::regex on a "collapsed" copy of the
 * text: ASCII stays as it is, every other code point becomes one byte for its category
 * (letter, number, punctuation, mark, symbol, other; whitespace becomes \v), and each \p{X}
 * becomes that byte plus the ASCII characters llama.cpp lists for X. Two consequences the
 * predicates below keep: \p{Lu}, \p{Ll}, \p{Lt}, \p{Lm} and \p{Lo} all mean "any letter"
 * (so a non-ASCII letter is both upper and lower case), and '~' is in neither \p{P} nor \p{S}. */
static inline bool pc_ascii_letter(uint32_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static inline bool pc_L(const pt_text *x, size_t p)
{
    uint32_t c = x->cp[p];
    return c < 0x80 ? pc_ascii_letter(c) : (x->fl[p] & (PT_L | PT_WS)) == PT_L;
}

static inline bool pc_N(const pt_text *x, size_t p)
{
    uint32_t c = x->cp[p];
    return c < 0x80 ? (c >= '0' && c <= '9') : (x->fl[p] & (PT_N | PT_WS)) == PT_N;
}

/* \p{P} or \p{S}: ASCII !-#%-*,-/:-;?-@[-]_{} and $+<=>^`| (not ~), or a non-ASCII P or S. */
static inline bool pc_PS(const pt_text *x, size_t p)
{
    uint32_t c = x->cp[p];
    if (c < 0x80) return c > 0x20 && c < 0x7F && c != '~' && !pc_ascii_letter(c) && !(c >= '0' && c <= '9');
    return (x->fl[p] & (PT_WS | PT_P | PT_S)) && !(x->fl[p] & PT_WS);
}

static inline bool pc_M(const pt_text *x, size_t p)
{
    return x->cp[p] >= 0x80 && (x->fl[p] & (PT_M | PT_WS)) == PT_M;
}

static inline bool pc_crlf(uint32_t c)
{
    return c == '\r' || c == '\n';
}

/* (?=[\p{L}])([^a-z]) and (?=[\p{L}])([^A-Z]): the "upper" and "lower" letters of the
 * GPT-4o and Tekken patterns (llama.cpp's rewrite of \p{Lu}... for std::regex). */
static inline bool pc_upper(const pt_text *x, size_t p, size_t end)
{
    return p < end && pc_L(x, p) && !(x->cp[p] >= 'a' && x->cp[p] <= 'z');
}

static inline bool pc_lower(const pt_text *x, size_t p, size_t end)
{
    return p < end && pc_L(x, p) && !(x->cp[p] >= 'A' && x->cp[p] <= 'Z');
}

/* U*W+ (lower_needed) or U+W* from q, with ECMAScript's backtracking: the greedy U* gives
 * back letters until a W can follow. Returns where the match ends, or 0 for none. */
static size_t pc_cased_word(const pt_text *x, size_t q, size_t end, bool lower_needed)
{
    size_t k = 0;
    while (pc_upper(x, q + k, end)) k++;
    if (!lower_needed) {
        if (!k) return 0;
        size_t e = q + k;
        while (pc_lower(x, e, end)) e++;
        return e;
    }
    for (size_t j = k + 1; j-- > 0;) {
        if (!pc_lower(x, q + j, end)) continue;
        size_t e = q + j;
        while (pc_lower(x, e, end)) e++;
        return e;
    }
    return 0;
}

/* \s*[\r\n]+|\s+(?!\S)|\s+ at pos (0 when pos is not whitespace). */
static size_t pc_space(const pt_text *x, size_t pos, size_t end)
{
    size_t w = 0, last_nl = 0;
    while (fl_at(x, pos + w, end) & PT_WS) {
        if (pc_crlf(x->cp[pos + w])) last_nl = pos + w + 1;
        w++;
    }
    if (last_nl) return last_nl - pos;
    return pt_space_run(x, pos, end);
}

/* GPT-4o (o200k) and Tekken, as llama.cpp runs them:
 *   [^\r\n\p{L}\p{N}]?U*W+C?|[^\r\n\p{L}\p{N}]?U+W*C?|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n/]*|
 *   \s*[\r\n]+|\s+(?!\S)|\s+
 * with U and W as in pc_upper/pc_lower, C the contractions 's 't 're 've 'm 'll 'd in any case
 * (GPT-4o only), D = 3 (GPT-4o) or 1 (Tekken). */
static size_t pc_match_o200k(const pt_text *x, size_t pos, size_t end, size_t max_digits, bool contractions)
{
    uint32_t c = x->cp[pos];
    bool lead = !pc_crlf(c) && !pc_L(x, pos) && !pc_N(x, pos);
    for (int alt = 0; alt < 2; alt++) {
        size_t e = lead ? pc_cased_word(x, pos + 1, end, alt == 0) : 0;
        if (!e) e = pc_cased_word(x, pos, end, alt == 0);
        if (!e) continue;
        if (contractions && e < end) e += pt_contraction(x, e, end, true);
        return e - pos;
    }
    if (pc_N(x, pos)) {
        size_t p = pos;
        while (p - pos < max_digits && p < end && pc_N(x, p)) p++;
        return p - pos;
    }
    size_t p = pos + (c == ' ');
    if (p < end && !(x->fl[p] & PT_WS) && !pc_L(x, p) && !pc_N(x, p)) {
        while (p < end && !(x->fl[p] & PT_WS) && !pc_L(x, p) && !pc_N(x, p)) p++;
        while (p < end && (pc_crlf(x->cp[p]) || x->cp[p] == '/')) p++;
        return p - pos;
    }
    return pc_space(x, pos, end);
}

static size_t pt_match_gpt4o(const pt_text *x, size_t pos, size_t end)
{
    return pc_match_o200k(x, pos, end, 3, true);
}

static size_t pt_match_tekken(const pt_text *x, size_t pos, size_t end)
{
    return pc_match_o200k(x, pos, end, 1, false);
}

/* \p{N}{1,3} */
static size_t pt_match_num3(const pt_text *x, size_t pos, size_t end)
{
    size_t p = pos;
    while (p - pos < 3 && p < end && pc_N(x, p)) p++;
    return p - pos;
}

/* DeepSeek V3's last pass:
 *   [!-/:-@[-`{-~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|
 *   \s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t pt_match_ds3(const pt_text *x, size_t pos, size_t end)
{
    uint32_t c = x->cp[pos];
    bool ascii_ps = c > 0x20 && c < 0x7F && !pc_ascii_letter(c) && !(c >= '0' && c <= '9');
    if (ascii_ps && pos + 1 < end && pc_ascii_letter(x->cp[pos + 1])) {
        size_t p = pos + 1;
        while (p < end && pc_ascii_letter(x->cp[p])) p++;
        return p - pos;
    }
#define PC_LM(p) ((p) < end && (pc_L(x, p) || pc_M(x, p)))
    bool lead = !pc_crlf(c) && !pc_L(x, pos) && !pc_PS(x, pos);
    size_t p = (lead && PC_LM(pos + 1)) ? pos + 1 : pos;
    if (PC_LM(p)) {
        while (PC_LM(p)) p++;
        return p - pos;
    }
#undef PC_LM
    p = pos + (c == ' ');
    if (p < end && pc_PS(x, p)) {
        while (p < end && pc_PS(x, p)) p++;
        while (p < end && pc_crlf(x->cp[p])) p++;
        return p - pos;
    }
    return pc_space(x, pos, end);
}

/* [一-龥぀-ゟ゠-ヿ]+ (DeepSeek V3: CJK ideographs, hiragana, katakana) */
static const pt_range pt_cjk_kana[] = {
    {0x3040, 0x30FF}, {0x4E00, 0x9FA5},
};

static size_t pt_match_cjk_kana(const pt_text *x, size_t pos, size_t end)
{
    size_t p = pos;
    while (p < end && pt_literal(x, p) && pt_in_ranges(x->cp[p], pt_cjk_kana, PT_COUNT(pt_cjk_kana))) p++;
    return p - pos;
}

/* --------------------------------------------------------------------- the driver ---- */

/* One regex pass over every piece: matches become pieces, and so does the text between them
 * (std::regex_iterator semantics: the leftmost match, then continue after it). */
static int pt_pass(const pt_text *x, const pt_frags *in, pt_match_fn fn, pt_frags *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        size_t beg = in->v[2 * i], end = in->v[2 * i + 1];
        size_t prev = beg, pos = beg;
        while (pos < end) {
            size_t m = fn(x, pos, end);
            if (!m) {
                pos++;
                continue;
            }
            if (pos > prev && pt_frags_push(out, prev, pos)) return NT_ERR_NOMEM;
            if (pt_frags_push(out, pos, pos + m)) return NT_ERR_NOMEM;
            pos += m;
            prev = pos;
        }
        if (prev < end && pt_frags_push(out, prev, end)) return NT_ERR_NOMEM;
    }
    return NT_OK;
}

/* \s+$ : the whitespace that ends a piece becomes a piece of its own. */
static int pt_pass_trailing_ws(const pt_text *x, const pt_frags *in, pt_frags *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        size_t beg = in->v[2 * i], end = in->v[2 * i + 1], k = end;
        while (k > beg && (x->fl[k - 1] & PT_WS)) k--;
        if (k > beg && pt_frags_push(out, beg, k)) return NT_ERR_NOMEM;
        if (k < end && pt_frags_push(out, k, end)) return NT_ERR_NOMEM;
    }
    return NT_OK;
}

#define PT_TRAILING_WS ((pt_match_fn)0) /* marker in a chain for pt_pass_trailing_ws */

int nt_pretok_split(enum pretok_kind kind, const char *text, size_t n, pretok_words *out)
{
    static const pt_match_fn chain_default[] = {pt_match_punct_default, pt_match_gpt2, pt_match_num_run,
                                                pt_match_3digits};
    static const pt_match_fn chain_gpt2[] = {pt_match_gpt2};
    static const pt_match_fn chain_llama3[] = {pt_match_llama3};
    static const pt_match_fn chain_qwen2[] = {pt_match_qwen2};
    static const pt_match_fn chain_starcoder[] = {pt_match_num1, pt_match_gpt2};
    static const pt_match_fn chain_falcon[] = {pt_match_punct_falcon, pt_match_gpt2, pt_match_3digits};
    static const pt_match_fn chain_ds_llm[] = {pt_match_crlf, pt_match_ds_letters, pt_match_ds_punct,
                                               PT_TRAILING_WS, pt_match_cjk, pt_match_num_run};
    static const pt_match_fn chain_ds_coder[] = {pt_match_crlf, pt_match_ws_letters, pt_match_ws_punct,
                                                 pt_match_cjk, pt_match_num1};
    static const pt_match_fn chain_gpt4o[] = {pt_match_gpt4o};
    static const pt_match_fn chain_tekken[] = {pt_match_tekken};
    static const pt_match_fn chain_ds_v3[] = {pt_match_num3, pt_match_cjk_kana, pt_match_ds3};
    const pt_match_fn *chain;
    size_t n_chain;
    switch (kind) {
#define PT_CHAIN(k, c) case k: chain = c; n_chain = PT_COUNT(c); break
    PT_CHAIN(PRETOK_DEFAULT, chain_default);
    PT_CHAIN(PRETOK_LLAMA3, chain_llama3);
    PT_CHAIN(PRETOK_QWEN2, chain_qwen2);
    PT_CHAIN(PRETOK_STARCODER, chain_starcoder);
    PT_CHAIN(PRETOK_FALCON, chain_falcon);
    PT_CHAIN(PRETOK_DEEPSEEK_LLM, chain_ds_llm);
    PT_CHAIN(PRETOK_DEEPSEEK_CODER, chain_ds_coder);
    PT_CHAIN(PRETOK_GPT4O, chain_gpt4o);
    PT_CHAIN(PRETOK_TEKKEN, chain_tekken);
    PT_CHAIN(PRETOK_DEEPSEEK_V3, chain_ds_v3);
    case PRETOK_GPT2:
    default:
        chain = chain_gpt2;
        n_chain = PT_COUNT(chain_gpt2);
        break;
#undef PT_CHAIN
    }
    if (n == 0) return NT_OK;

    int rc = NT_ERR_NOMEM;
    pt_text x = {0};
    pt_frags a = {0}, b = {0};
    x.cp = malloc(n * sizeof *x.cp);
    x.fl = malloc(n);
    x.boff = malloc((n + 1) * sizeof *x.boff);
    if (!x.cp || !x.fl || !x.boff) goto fail;

    const unsigned char *s = (const unsigned char *)text;
    for (size_t off = 0; off < n;) {
        uint32_t cp;
        size_t len = nt_pretok_utf8_decode(s + off, n - off, &cp);
        x.boff[x.n] = off;
        if (len) {
            x.cp[x.n] = cp;
            x.fl[x.n] = pt_classify(cp);
        } else {
            len = 1;
            x.cp[x.n] = PT_BAD_CP;
            x.fl[x.n] = pt_classify(PT_BAD_CP);
        }
        x.n++;
        off += len;
    }
    x.boff[x.n] = n;

    if (pt_frags_push(&a, 0, x.n)) goto fail;
    for (size_t i = 0; i < n_chain; i++) {
        rc = chain[i] ? pt_pass(&x, &a, chain[i], &b) : pt_pass_trailing_ws(&x, &a, &b);
        if (rc) goto fail;
        pt_frags t = a;
        a = b;
        b = t;
    }

    rc = NT_ERR_NOMEM;
    if (out->n + a.n > out->cap) {
        size_t cap = out->n + a.n;
        pretok_word *v = realloc(out->v, cap * sizeof *v);
        if (!v) goto fail;
        out->v = v;
        out->cap = cap;
    }
    for (size_t i = 0; i < a.n; i++) {
        pretok_word w = {x.boff[a.v[2 * i]], x.boff[a.v[2 * i + 1]] - x.boff[a.v[2 * i]]};
        out->v[out->n++] = w;
    }
    rc = NT_OK;
fail:
    free(a.v);
    free(b.v);
    free(x.cp);
    free(x.fl);
    free(x.boff);
    return rc;
}

void nt_pretok_words_free(pretok_words *w)
{
    if (!w) return;
    free(w->v);
    w->v = NULL;
    w->n = w->cap = 0;
}
