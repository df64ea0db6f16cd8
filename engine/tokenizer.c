/* tokenizer.c — natter's tokenizers: loading tokenizer.ggml.* metadata, special-token splitting,
 * the encode driver, decoding pieces to bytes and the streaming UTF-8 decoder.
 *
 * It follows llama.cpp's src/llama-vocab.cpp closely so that ids match it exactly: special and
 * user-defined tokens are split out of the text first (user-defined ones always, control ones
 * only with NT_TOK_PARSE_SPECIAL), then each remaining run is tokenized on its own —
 * SentencePiece BPE (tok_merge.c) with a leading space after the start and after every special
 * token, or the pre-tokenizer split (pretok.c) followed by byte-level BPE.
 *
 * Deliberate differences from llama.cpp: metadata it only warns about (special ids outside the
 * vocabulary, short score or type arrays, unknown token types) is an error here; a `gpt2`
 * vocabulary without BOS/EOS keys has none (llama.cpp defaults both to id 11); an unknown
 * pre-tokenizer falls back to GPT-2's split with a warning instead of failing; invalid UTF-8 is
 * kept byte for byte (see pretok.c). */
#include "tokenizer.h"
#include "gguf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TK_KEY_MODEL "tokenizer.ggml.model"
#define TK_KEY_PRE "tokenizer.ggml.pre"
#define TK_KEY_TOKENS "tokenizer.ggml.tokens"
#define TK_KEY_SCORES "tokenizer.ggml.scores"
#define TK_KEY_TYPES "tokenizer.ggml.token_type"
#define TK_KEY_MERGES "tokenizer.ggml.merges"

/* ------------------------------------------------------------------- hash maps ---- */

#define TK_FNV_INIT 0xcbf29ce484222325ull

static inline uint64_t tk_fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static size_t tk_table_size(size_t n)
{
    size_t sz = 16;
    while (sz < 2 * n) sz *= 2;
    return sz;
}

int32_t nt_tok_lookup(const nt_tokenizer *t, const char *p, size_t n)
{
    if (n == 0) return -1;
    size_t i = (size_t)tk_fnv(TK_FNV_INIT, p, n) & t->piece_mask;
    for (;; i = (i + 1) & t->piece_mask) {
        int32_t id = t->piece_tab[i];
        if (id < 0) return -1;
        const tok_piece *e = &t->pieces[id];
        if (e->len == n && memcmp(t->arena + e->off, p, n) == 0) return id;
    }
}

static uint64_t tk_merge_hash(const char *l, size_t nl, const char *r, size_t nr)
{
    return tk_fnv(tk_fnv(tk_fnv(TK_FNV_INIT, l, nl), " ", 1), r, nr);
}

int32_t nt_tok_merge_rank(const nt_tokenizer *t, const char *l, size_t nl, const char *r, size_t nr)
{
    if (!t->merge_tab) return -1;
    size_t i = (size_t)tk_merge_hash(l, nl, r, nr) & t->merge_mask;
    for (;; i = (i + 1) & t->merge_mask) {
        int32_t k = t->merge_tab[i];
        if (k < 0) return -1;
        const tok_merge *m = &t->merges[k];
        const char *s = t->merge_arena + m->off;
        if (m->nl == nl && m->nr == nr && memcmp(s, l, nl) == 0 && memcmp(s + nl + 1, r, nr) == 0)
            return m->rank;
    }
}

/* ---------------------------------------------------------------------- loading ---- */

static bool tk_streq(nt_gguf_str s, const char *z)
{
    size_t n = strlen(z);
    return s.n == n && memcmp(s.p, z, n) == 0;
}

/* One pre-tokenizer name (tokenizer.ggml.pre) and what llama.cpp does for it. */
typedef struct tk_pre_name {
    const char *name;
    enum pretok_kind kind;
    bool ignore_merges, add_bos;
} tk_pre_name;

static const tk_pre_name tk_pre_names[] = {
    {"default", PRETOK_DEFAULT, false, false},
    {"llama3", PRETOK_LLAMA3, true, true},
    {"llama-v3", PRETOK_LLAMA3, true, true},
    {"llama-bpe", PRETOK_LLAMA3, true, true},
    {"falcon3", PRETOK_LLAMA3, true, true},
    {"falcon-h1", PRETOK_LLAMA3, true, true},
    {"pixtral", PRETOK_LLAMA3, true, true},
    {"midm-2.0", PRETOK_LLAMA3, true, true},
    {"lfm2", PRETOK_LLAMA3, true, true},
    {"dbrx", PRETOK_LLAMA3, false, false},
    {"smaug-bpe", PRETOK_LLAMA3, false, false},
    {"deepseek-llm", PRETOK_DEEPSEEK_LLM, false, false},
    {"deepseek-coder", PRETOK_DEEPSEEK_CODER, false, false},
    {"falcon", PRETOK_FALCON, false, false},
    {"mpt", PRETOK_GPT2, false, false},
    {"olmo", PRETOK_GPT2, false, false},
    {"jais", PRETOK_GPT2, false, false},
    {"trillion", PRETOK_GPT2, false, false},
    {"granite-docling", PRETOK_GPT2, false, false},
    {"exaone4", PRETOK_GPT2, false, false},
    {"gpt-2", PRETOK_GPT2, false, false},
    {"phi-2", PRETOK_GPT2, false, false},
    {"jina-es", PRETOK_GPT2, false, false},
    {"jina-de", PRETOK_GPT2, false, false},
    {"gigachat", PRETOK_GPT2, false, false},
    {"jina-v2-es", PRETOK_GPT2, false, false},
    {"jina-v2-de", PRETOK_GPT2, false, false},
    {"jina-v1-en", PRETOK_GPT2, false, false},
    {"jina-v2-code", PRETOK_GPT2, false, false},
    {"roberta-bpe", PRETOK_GPT2, false, false},
    {"a.x-4.0", PRETOK_GPT2, false, false},
    {"mellum", PRETOK_GPT2, false, false},
    {"modern-bert", PRETOK_GPT2, false, false},
    {"starcoder", PRETOK_STARCODER, false, false},
    {"refact", PRETOK_STARCODER, false, false},
    {"command-r", PRETOK_STARCODER, false, false},
    {"smollm", PRETOK_STARCODER, false, false},
    {"codeshell", PRETOK_STARCODER, false, false},
    {"exaone", PRETOK_STARCODER, false, false},
    {"minerva-7b", PRETOK_STARCODER, false, false},
    {"mellum2", PRETOK_STARCODER, false, false},
    {"qwen2", PRETOK_QWEN2, false, false},
    {"deepseek-r1-qwen", PRETOK_QWEN2, false, false},
    {"kormo", PRETOK_QWEN2, false, false},
    {"megrez", PRETOK_QWEN2, false, false},
    {"stablelm2", PRETOK_QWEN2, false, false},
    {"gpt-4o", PRETOK_GPT4O, false, false},
    {"llama4", PRETOK_GPT4O, false, false},
    {"minimax-m2", PRETOK_GPT4O, false, false},
    {"kanana2", PRETOK_GPT4O, false, false},
    {"tekken", PRETOK_TEKKEN, true, true},
    {"deepseek-v3", PRETOK_DEEPSEEK_V3, false, false},
    {"hunyuan-dense", PRETOK_DEEPSEEK_V3, false, false},
    {"joyai-llm", PRETOK_DEEPSEEK_V3, false, false},
};

/* Texts that mark the end of a turn (llama.cpp's EOT auto-detection, in priority order). */
static const char *const tk_eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<end_of_utterance>",
};

/* Texts of tokens that end generation (llama.cpp's EOG list, minus its model-specific hacks),
 * plus its fill-in-the-middle pad/repo/file-separator tokens, which it also treats as EOG. */
static const char *const tk_eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>",
    "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
    "<reponame>", "<|file_sep|>",
};

#define TK_COUNT(a) (sizeof(a) / sizeof(a)[0])

static int tk_set_warning(nt_tokenizer *t, const char *fmt, ...) NT_PRINTF(2, 3);
static int tk_set_warning(nt_tokenizer *t, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(t->warning);
    t->warning = strdup(buf);
    return t->warning ? NT_OK : NT_ERR_NOMEM;
}

/* Reads an optional token id key; absent keeps *id. -1 (also written as the u32 4294967295,
 * as llama.cpp's converters do) means "none". Any other id outside the vocabulary is an error,
 * except for padding and separator ids, which natter never uses: those are dropped (llama.cpp
 * warns and keeps its default). */
static int tk_get_id(nt_tokenizer *t, const nt_gguf *g, const char *key, int32_t *id, bool strict, nt_err *err)
{
    int64_t v;
    int rc = nt_gguf_get_i64(g, key, &v, err);
    if (rc == 1) return NT_OK;
    if (rc) return rc;
    if (v == -1 || v == (int64_t)UINT32_MAX) {
        *id = -1;
        return NT_OK;
    }
    if (v < 0 || v >= t->n_vocab) {
        if (!strict) {
            *id = -1;
            return NT_OK;
        }
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s = %lld is outside the vocabulary (%d tokens)",
                          nt_gguf_path(g), key, (long long)v, (int)t->n_vocab);
    }
    *id = (int32_t)v;
    return NT_OK;
}

static int tk_get_bool(const nt_gguf *g, const char *key, bool *v, nt_err *err)
{
    int rc = nt_gguf_get_bool(g, key, v, err);
    return rc == 1 ? NT_OK : rc;
}

/* A numeric array of exactly n elements of one of the wanted types. */
static int tk_get_num_arr(const nt_gguf *g, const char *key, int64_t n, enum nt_gguf_vtype t1,
                          enum nt_gguf_vtype t2, enum nt_gguf_vtype *type, const void **data, nt_err *err)
{
    uint64_t cnt;
    int rc = nt_gguf_get_arr(g, key, type, &cnt, data, err);
    if (rc) return rc;
    if (*type != t1 && *type != t2)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s holds %s elements, expected %s", nt_gguf_path(g), key,
                          nt_gguf_vtype_name(*type), nt_gguf_vtype_name(t1));
    if (cnt != (uint64_t)n)
        return nt_err_set(err, NT_ERR_FORMAT,
                          "%s: %s has %llu entries but the vocabulary has %lld tokens", nt_gguf_path(g), key,
                          (unsigned long long)cnt, (long long)n);
    return NT_OK;
}

static int tk_load_pieces(nt_tokenizer *t, const nt_gguf *g, nt_err *err)
{
    const char *path = nt_gguf_path(g);
    int64_t kv = nt_gguf_find_key(g, TK_KEY_TOKENS);
    if (kv < 0) return nt_err_set(err, NT_ERR_FORMAT, "%s: %s is missing", path, TK_KEY_TOKENS);
    if (nt_gguf_kv_type(g, kv) != NT_GGUF_ARR || nt_gguf_kv_arr_type(g, kv) != NT_GGUF_STR)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s is not an array of strings", path, TK_KEY_TOKENS);
    uint64_t n = nt_gguf_kv_arr_n(g, kv);
    if (n == 0 || n > INT32_MAX / 2)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s has %llu entries", path, TK_KEY_TOKENS,
                          (unsigned long long)n);
    t->n_vocab = (int32_t)n;

    size_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        nt_gguf_str s = nt_gguf_arr_str(g, kv, i);
        if (s.n > UINT32_MAX - total)
            return nt_err_set(err, NT_ERR_FORMAT, "%s: %s: the pieces are too large", path,
                              TK_KEY_TOKENS);
        total += s.n;
    }
    t->pieces = calloc((size_t)n, sizeof *t->pieces);
    t->arena = malloc(total ? total : 1);
    t->piece_mask = tk_table_size((size_t)n) - 1;
    t->piece_tab = malloc((t->piece_mask + 1) * sizeof *t->piece_tab);
    if (!t->pieces || !t->arena || !t->piece_tab)
        return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory for %llu tokens", path,
                          (unsigned long long)n);
    memset(t->piece_tab, 0xff, (t->piece_mask + 1) * sizeof *t->piece_tab);

    size_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        nt_gguf_str s = nt_gguf_arr_str(g, kv, i);
        tok_piece *e = &t->pieces[i];
        if (s.n) memcpy(t->arena + off, s.p, s.n);
        e->off = (uint32_t)off;
        e->len = (uint32_t)s.n;
        e->attr = TOK_ATTR_NORMAL;
        off += s.n;
        if (s.n > t->max_piece_len) t->max_piece_len = s.n;
        if (s.n == 0) continue; /* an empty piece can never be looked up */
        size_t h = (size_t)tk_fnv(TK_FNV_INIT, s.p, s.n) & t->piece_mask;
        for (;; h = (h + 1) & t->piece_mask) {
            int32_t id = t->piece_tab[h];
            if (id < 0) break;
            const tok_piece *o = &t->pieces[id];
            if (o->len == s.n && memcmp(t->arena + o->off, s.p, s.n) == 0)
                return nt_err_set(err, NT_ERR_FORMAT, "%s: %s: token %llu '%.*s' repeats token %d", path,
                                  TK_KEY_TOKENS, (unsigned long long)i, (int)(s.n > 64 ? 64 : s.n), s.p,
                                  (int)id);
        }
        t->piece_tab[h] = (int32_t)i;
    }

    /* Scores (F32, or I32 as llama.cpp also accepts). */
    enum nt_gguf_vtype type;
    const void *data;
    int rc = tk_get_num_arr(g, TK_KEY_SCORES, n, NT_GGUF_F32, NT_GGUF_I32, &type, &data, err);
    if (rc < 0) return rc;
    if (rc == NT_OK) {
        const unsigned char *p = data;
        for (uint64_t i = 0; i < n; i++, p += 4) {
            if (type == NT_GGUF_F32) {
                float f;
                memcpy(&f, p, 4); /* little-endian hosts only, as the rest of the engine */
                t->pieces[i].score = f;
            } else {
                int32_t v;
                memcpy(&v, p, 4);
                t->pieces[i].score = (float)v;
            }
        }
    }

    /* Token types: llama.cpp's LLAMA_TOKEN_TYPE_* values 0..6. */
    rc = tk_get_num_arr(g, TK_KEY_TYPES, n, NT_GGUF_I32, NT_GGUF_I32, &type, &data, err);
    if (rc < 0) return rc;
    if (rc == NT_OK) {
        static const uint16_t attr_of_type[7] = {
            TOK_ATTR_UNDEFINED, TOK_ATTR_NORMAL, TOK_ATTR_UNKNOWN, TOK_ATTR_CONTROL,
            TOK_ATTR_USER_DEFINED, TOK_ATTR_UNUSED, TOK_ATTR_BYTE,
        };
        const unsigned char *p = data;
        for (uint64_t i = 0; i < n; i++, p += 4) {
            int32_t v;
            memcpy(&v, p, 4);
            if (v < 0 || v > 6)
                return nt_err_set(err, NT_ERR_FORMAT,
                                  "%s: %s[%llu] = %d is not a known token type (0..6)", path,
                                  TK_KEY_TYPES, (unsigned long long)i, (int)v);
            t->pieces[i].attr = attr_of_type[v];
        }
    }
    return NT_OK;
}

static int tk_load_merges(nt_tokenizer *t, const nt_gguf *g, nt_err *err)
{
    const char *path = nt_gguf_path(g);
    int64_t kv = nt_gguf_find_key(g, TK_KEY_MERGES);
    if (kv < 0)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s is missing (a gpt2 tokenizer needs it)", path,
                          TK_KEY_MERGES);
    if (nt_gguf_kv_type(g, kv) != NT_GGUF_ARR || nt_gguf_kv_arr_type(g, kv) != NT_GGUF_STR)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s is not an array of strings", path, TK_KEY_MERGES);
    uint64_t n = nt_gguf_kv_arr_n(g, kv);
    if (n > INT32_MAX / 2)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: %s has %llu entries", path, TK_KEY_MERGES,
                          (unsigned long long)n);
    size_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        nt_gguf_str s = nt_gguf_arr_str(g, kv, i);
        if (s.n > UINT32_MAX - total)
            return nt_err_set(err, NT_ERR_FORMAT, "%s: %s: the merges are too large", path,
                              TK_KEY_MERGES);
        total += s.n;
    }
    t->merges = malloc((n ? n : 1) * sizeof *t->merges);
    t->merge_arena = malloc(total ? total : 1);
    t->merge_mask = tk_table_size((size_t)n) - 1;
    t->merge_tab = malloc((t->merge_mask + 1) * sizeof *t->merge_tab);
    if (!t->merges || !t->merge_arena || !t->merge_tab)
        return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory for %llu merges", path,
                          (unsigned long long)n);
    memset(t->merge_tab, 0xff, (t->merge_mask + 1) * sizeof *t->merge_tab);

    size_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        nt_gguf_str s = nt_gguf_arr_str(g, kv, i);
        /* "left right", split at the first space after the first byte (as llama.cpp does). */
        const char *sp = s.n > 1 ? memchr(s.p + 1, ' ', s.n - 1) : NULL;
        if (!sp)
            return nt_err_set(err, NT_ERR_FORMAT,
                              "%s: %s[%llu] '%.*s' is not two pieces separated by a space", path,
                              TK_KEY_MERGES, (unsigned long long)i, (int)(s.n > 64 ? 64 : s.n), s.p);
        tok_merge m = {(uint32_t)off, (uint32_t)(sp - s.p), (uint32_t)(s.n - (size_t)(sp - s.p) - 1),
                       (int32_t)i};
        memcpy(t->merge_arena + off, s.p, s.n);
        off += s.n;
        const char *ms = t->merge_arena + m.off;
        size_t h = (size_t)tk_merge_hash(ms, m.nl, ms + m.nl + 1, m.nr) & t->merge_mask;
        bool dup = false;
        for (;; h = (h + 1) & t->merge_mask) {
            int32_t k = t->merge_tab[h];
            if (k < 0) break;
            const tok_merge *o = &t->merges[k];
            if (o->nl == m.nl && o->nr == m.nr && memcmp(t->merge_arena + o->off, ms, s.n) == 0) {
                dup = true; /* a repeated merge keeps its first (best) rank */
                break;
            }
        }
        t->merges[t->n_merges] = m;
        if (!dup) t->merge_tab[h] = t->n_merges;
        t->n_merges++;
    }
    return NT_OK;
}

/* Sorting context for qsort (C11 has no qsort_r): pieces of the tokenizer being loaded. */
static _Thread_local const nt_tokenizer *tk_sort_t;

static int tk_cmp_special(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = tk_sort_t->pieces[x].len, ly = tk_sort_t->pieces[y].len;
    if (lx != ly) return lx > ly ? -1 : 1;
    return (x > y) - (x < y);
}

static void tk_mark_text(nt_tokenizer *t, const char *text, uint16_t add)
{
    int32_t id = nt_tok_lookup(t, text, strlen(text));
    if (id >= 0) t->pieces[id].attr |= add;
}

/* True when general.name (lower-cased) contains needle. */
static bool tk_name_has(const nt_gguf *g, const char *needle)
{
    nt_gguf_str name;
    if (nt_gguf_get_str(g, "general.name", &name, NULL) != NT_OK) return false;
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= name.n; i++) {
        size_t j = 0;
        while (j < m) {
            char c = name.p[i + j];
            if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
            if (c != needle[j]) break;
            j++;
        }
        if (j == m) return true;
    }
    return false;
}

static int tk_finish(nt_tokenizer *t, const nt_gguf *g, nt_err *err)
{
    /* Byte tokens: <0xXX> (or the byte itself) for SentencePiece's byte fallback; GPT-2's
     * printable code point for byte-level vocabularies. */
    for (int b = 0; b < 256; b++) {
        char buf[8];
        int32_t id;
        if (t->kind == TOK_KIND_SPM) {
            snprintf(buf, sizeof buf, "<0x%02X>", b);
            id = nt_tok_lookup(t, buf, 6);
            if (id < 0) {
                buf[0] = (char)b;
                id = nt_tok_lookup(t, buf, 1);
            }
        } else {
            size_t n = nt_pretok_utf8_encode(nt_tok_byte_to_cp((unsigned char)b), buf);
            id = nt_tok_lookup(t, buf, n);
        }
        t->byte_tok[b] = id;
    }

    /* End of turn and end of generation, found by text when the file does not say. */
    if (t->eot < 0) {
        for (size_t i = 0; i < TK_COUNT(tk_eot_texts) && t->eot < 0; i++)
            t->eot = nt_tok_lookup(t, tk_eot_texts[i], strlen(tk_eot_texts[i]));
    }
    if (t->eom < 0) t->eom = nt_tok_lookup(t, "<|eom_id|>", 10);
    /* A token whose text is a known end marker becomes a control token even if the file
     * typed it otherwise (llama.cpp does the same), so user text can never produce it. */
    for (size_t i = 0; i < TK_COUNT(tk_eog_texts); i++)
        tk_mark_text(t, tk_eog_texts[i], TOK_ATTR_EOG | TOK_ATTR_CONTROL);
    /* Ids named by the file end generation whatever their type (their type stays). */
    if (t->eot >= 0) t->pieces[t->eot].attr |= TOK_ATTR_EOG;
    if (t->eom >= 0) t->pieces[t->eom].attr |= TOK_ATTR_EOG;
    if (t->eos >= 0) t->pieces[t->eos].attr |= TOK_ATTR_EOG;

    /* Tokens split out of the text before tokenizing, longest first. */
    size_t ns = 0;
    for (int32_t id = 0; id < t->n_vocab; id++)
        if ((t->pieces[id].attr & (TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN)) &&
            t->pieces[id].len)
            ns++;
    t->specials = malloc((ns ? ns : 1) * sizeof *t->specials);
    if (!t->specials) return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", nt_gguf_path(g));
    for (int32_t id = 0; id < t->n_vocab; id++)
        if ((t->pieces[id].attr & (TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN)) &&
            t->pieces[id].len)
            t->specials[t->n_specials++] = id;
    tk_sort_t = t;
    qsort(t->specials, t->n_specials, sizeof *t->specials, tk_cmp_special);
    tk_sort_t = NULL;

    /* Phi-3 drops the whitespace after its special tokens (llama.cpp matches it by name). */
    if (tk_name_has(g, "phi-3") || tk_name_has(g, "phi3")) {
        for (size_t i = 0; i < t->n_specials; i++) t->pieces[t->specials[i]].attr |= TOK_ATTR_RSTRIP;
        tk_mark_text(t, "</s>", TOK_ATTR_RSTRIP);
        static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (size_t i = 0; i < TK_COUNT(keep); i++) {
            int32_t id = nt_tok_lookup(t, keep[i], strlen(keep[i]));
            if (id >= 0) t->pieces[id].attr &= (uint16_t)~TOK_ATTR_RSTRIP;
        }
    }
    return NT_OK;
}

int nt_tokenizer_load(nt_tokenizer **out, const nt_gguf *g, nt_err *err)
{
    if (!out) return nt_err_set(err, NT_ERR_INVALID, "nt_tokenizer_load: out is NULL");
    *out = NULL;
    if (!g) return nt_err_set(err, NT_ERR_INVALID, "nt_tokenizer_load: no file");
    const char *path = nt_gguf_path(g);
    int rc;
    nt_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
    t->bos = t->eos = t->eot = t->eom = t->unk = t->pad = t->sep = -1;

    nt_gguf_str model, pre = {NULL, 0};
    rc = nt_gguf_get_str(g, TK_KEY_MODEL, &model, err);
    if (rc == 1) rc = nt_err_set(err, NT_ERR_FORMAT, "%s: %s is missing", path, TK_KEY_MODEL);
    if (rc) goto fail;
    if (tk_streq(model, "llama")) {
        t->kind = TOK_KIND_SPM;
    } else if (tk_streq(model, "gpt2")) {
        t->kind = TOK_KIND_BPE;
    } else {
        rc = nt_err_set(err, NT_ERR_UNSUPPORTED,
                        "%s: %s '%.*s' is not supported (natter reads 'llama' and 'gpt2')", path,
                        TK_KEY_MODEL, (int)(model.n > 64 ? 64 : model.n), model.p);
        goto fail;
    }
    rc = nt_gguf_get_str(g, TK_KEY_PRE, &pre, err);
    if (rc < 0) goto fail;
    if (rc == 1) pre.p = NULL, pre.n = 0;

    if ((rc = tk_load_pieces(t, g, err))) goto fail;

    if (t->kind == TOK_KIND_SPM) {
        t->pre = PRETOK_DEFAULT; /* unused: SentencePiece does not pre-split */
        snprintf(t->pre_name, sizeof t->pre_name, "none");
        t->add_bos = true;
        t->add_space_prefix = true;
        t->bos = 1, t->eos = 2, t->unk = 0;
    } else {
        if ((rc = tk_load_merges(t, g, err))) goto fail;
        const tk_pre_name *pn = NULL;
        for (size_t i = 0; pre.p && i < TK_COUNT(tk_pre_names); i++)
            if (tk_streq(pre, tk_pre_names[i].name)) pn = &tk_pre_names[i];
        if (pn) {
            t->pre = pn->kind;
            t->ignore_merges = pn->ignore_merges;
            t->add_bos = pn->add_bos;
            snprintf(t->pre_name, sizeof t->pre_name, "%s", pn->name);
        } else if (!pre.p) {
            t->pre = PRETOK_DEFAULT;
            snprintf(t->pre_name, sizeof t->pre_name, "default");
            rc = tk_set_warning(
                t,
                "%s: %s is missing; using llama.cpp's default split (tokens may differ from "
                "the model's own tokenizer)",
                path, TK_KEY_PRE);
        } else {
            t->pre = PRETOK_GPT2;
            snprintf(t->pre_name, sizeof t->pre_name, "gpt-2");
            rc = tk_set_warning(
                t,
                "%s: unknown pre-tokenizer '%.*s' (%s); falling back to GPT-2's split, so tokens "
                "may differ from the model's own tokenizer",
                path, (int)(pre.n > 64 ? 64 : pre.n), pre.p, TK_KEY_PRE);
        }
        if (rc) {
            rc = nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
    }
    /* llama.cpp's defaults that fall outside the vocabulary are dropped. */
    if (t->bos >= t->n_vocab) t->bos = -1;
    if (t->eos >= t->n_vocab) t->eos = -1;
    if (t->unk >= t->n_vocab) t->unk = -1;

    if ((rc = tk_get_id(t, g, "tokenizer.ggml.bos_token_id", &t->bos, true, err)) ||
        (rc = tk_get_id(t, g, "tokenizer.ggml.eos_token_id", &t->eos, true, err)) ||
        (rc = tk_get_id(t, g, "tokenizer.ggml.eot_token_id", &t->eot, true, err)) ||
        (rc = tk_get_id(t, g, "tokenizer.ggml.eom_token_id", &t->eom, true, err)) ||
        (rc = tk_get_id(t, g, "tokenizer.ggml.unknown_token_id", &t->unk, true, err)) ||
        (rc = tk_get_id(t, g, "tokenizer.ggml.seperator_token_id", &t->sep, false, err)) ||
        (rc = tk_get_id(t, g, "tokenizer.ggml.padding_token_id", &t->pad, false, err)))
        goto fail;

    bool file_add_bos = false;
    if ((rc = tk_get_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix, err))) goto fail;
    rc = nt_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos, err);
    if (rc < 0) goto fail;
    file_add_bos = rc == NT_OK && t->add_bos;
    if ((rc = tk_get_bool(g, "tokenizer.ggml.add_eos_token", &t->add_eos, err))) goto fail;
    if (t->add_bos && t->bos < 0) {
        if (file_add_bos) {
            rc = nt_err_set(err, NT_ERR_FORMAT,
                            "%s: tokenizer.ggml.add_bos_token is true but the vocabulary has "
                            "no BOS token (tokenizer.ggml.bos_token_id)",
                            path);
            goto fail;
        }
        t->add_bos = false;
    }
    if (t->add_eos && t->eos < 0) {
        rc = nt_err_set(err, NT_ERR_FORMAT,
                        "%s: tokenizer.ggml.add_eos_token is true but the vocabulary has "
                        "no EOS token (tokenizer.ggml.eos_token_id)",
                        path);
        goto fail;
    }

    if ((rc = tk_finish(t, g, err))) goto fail;
    *out = t;
    return NT_OK;
fail:
    nt_tokenizer_free(t);
    return rc;
}

void nt_tokenizer_free(nt_tokenizer *t)
{
    if (!t) return;
    free(t->warning);
    free(t->pieces);
    free(t->arena);
    free(t->piece_tab);
    free(t->merges);
    free(t->merge_arena);
    free(t->merge_tab);
    free(t->specials);
    free(t);
}

/* -------------------------------------------------------------------- accessors ---- */

const char *nt_tokenizer_kind(const nt_tokenizer *t) { return t->kind == TOK_KIND_SPM ? "llama" : "gpt2"; }
const char *nt_tokenizer_pre(const nt_tokenizer *t) { return t->pre_name; }
const char *nt_tokenizer_warning(const nt_tokenizer *t) { return t->warning; }
int32_t nt_tokenizer_n_vocab(const nt_tokenizer *t) { return t->n_vocab; }
int32_t nt_tokenizer_bos(const nt_tokenizer *t) { return t->bos; }
int32_t nt_tokenizer_eos(const nt_tokenizer *t) { return t->eos; }
int32_t nt_tokenizer_eot(const nt_tokenizer *t) { return t->eot; }
bool nt_tokenizer_add_bos(const nt_tokenizer *t) { return t->add_bos; }
bool nt_tokenizer_add_eos(const nt_tokenizer *t) { return t->add_eos; }
size_t nt_tokenizer_max_piece_len(const nt_tokenizer *t) { return t->max_piece_len; }

bool nt_tokenizer_is_eog(const nt_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab && (t->pieces[id].attr & TOK_ATTR_EOG);
}

bool nt_tokenizer_is_control(const nt_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab && (t->pieces[id].attr & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN));
}

nt_gguf_str nt_tokenizer_piece(const nt_tokenizer *t, int32_t id)
{
    nt_gguf_str s = {NULL, 0};
    if (id < 0 || id >= t->n_vocab) return s;
    s.p = t->arena + t->pieces[id].off;
    s.n = t->pieces[id].len;
    return s;
}

int32_t nt_tokenizer_find(const nt_tokenizer *t, const char *piece, size_t len)
{
    return piece ? nt_tok_lookup(t, piece, len) : -1;
}

/* ---------------------------------------------------------------------- encoding ---- */

/* The text after special-token splitting: runs of raw text and single tokens. */
typedef struct tk_frag {
    size_t off, len; /* raw text span, when id < 0 */
    int32_t id;      /* a special token, or -1 */
} tk_frag;

typedef struct tk_frags {
    tk_frag *v;
    size_t n, cap;
} tk_frags;

static int tk_frags_push(tk_frags *f, size_t off, size_t len, int32_t id)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        tk_frag *v = realloc(f->v, cap * sizeof *v);
        if (!v) return NT_ERR_NOMEM;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (tk_frag){off, len, id};
    return NT_OK;
}

static inline bool tk_isspace(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* llama.cpp's tokenizer_st_partition: for each special token, longest first, every occurrence
 * in every raw run becomes a token fragment. Control and unknown tokens only count with
 * parse_special; user-defined tokens always do (as in Hugging Face tokenizers). */
static int tk_partition(const nt_tokenizer *t, const char *text, size_t len, bool parse_special,
                        tk_frags *frags)
{
    tk_frags a = {0}, b = {0};
    int rc = NT_ERR_NOMEM;
    if (tk_frags_push(&a, 0, len, -1)) goto fail;
    for (size_t k = 0; k < t->n_specials; k++) {
        int32_t sid = t->specials[k];
        const tok_piece *sp = &t->pieces[sid];
        if (!parse_special && (sp->attr & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN))) continue;
        const char *s = t->arena + sp->off;
        bool found = false;
        for (size_t i = 0; i < a.n && !found; i++)
            if (a.v[i].id < 0 && a.v[i].len >= sp->len &&
                memmem(text + a.v[i].off, a.v[i].len, s, sp->len))
                found = true;
        if (!found) continue;
        b.n = 0;
        for (size_t i = 0; i < a.n; i++) {
            tk_frag f = a.v[i];
            if (f.id >= 0) {
                if (tk_frags_push(&b, f.off, f.len, f.id)) goto fail;
                continue;
            }
            size_t off = f.off, n = f.len;
            while (n > 0) {
                const char *m = n >= sp->len ? memmem(text + off, n, s, sp->len) : NULL;
                if (!m) {
                    if (tk_frags_push(&b, off, n, -1)) goto fail;
                    break;
                }
                size_t mo = (size_t)(m - text), left = mo - off;
                if (left > 0 && tk_frags_push(&b, off, left, -1)) goto fail;
                if (tk_frags_push(&b, 0, 0, sid)) goto fail;
                size_t roff = mo + sp->len, rn = off + n - roff;
                if (sp->attr & TOK_ATTR_RSTRIP)
                    while (rn > 0 && tk_isspace(text[roff])) roff++, rn--;
                off = roff;
                n = rn;
            }
        }
        tk_frags t2 = a;
        a = b;
        b = t2;
    }
    free(frags->v);
    *frags = a;
    a.v = NULL;
    rc = NT_OK;
fail:
    free(a.v);
    free(b.v);
    return rc;
}

/* SentencePiece: " " becomes U+2581, with a leading one when the run starts the text or follows
 * a special token. */
static int tk_encode_spm(const nt_tokenizer *t, const char *text, size_t n, bool prefix, nt_tokens *out)
{
    if (n > (SIZE_MAX - 3) / 3) return NT_ERR_NOMEM;
    char *buf = malloc(3 * n + 3);
    if (!buf) return NT_ERR_NOMEM;
    size_t k = 0;
    if (prefix) {
        memcpy(buf, "\xe2\x96\x81", 3);
        k = 3;
    }
    for (size_t i = 0; i < n; i++) {
        if (text[i] == ' ') {
            memcpy(buf + k, "\xe2\x96\x81", 3);
            k += 3;
        } else {
            buf[k++] = text[i];
        }
    }
    int rc = nt_tok_spm_encode(t, buf, k, out);
    free(buf);
    return rc;
}

static int tk_encode_bpe(const nt_tokenizer *t, const char *text, size_t n, nt_tokens *out)
{
    pretok_words w = {0};
    int rc = nt_pretok_split(t->pre, text, n, &w);
    if (rc == NT_OK) rc = nt_tok_bpe_encode_words(t, text, &w, out);
    nt_pretok_words_free(&w);
    return rc;
}

int nt_tokenizer_encode(const nt_tokenizer *t, const char *text, size_t len, int flags, nt_tokens *out,
                     nt_err *err)
{
    if (!t || !out || (!text && len))
        return nt_err_set(err, NT_ERR_INVALID, "nt_tokenizer_encode: NULL argument");
    size_t start = out->n;
    int rc = NT_OK;
    tk_frags frags = {0};
    if ((flags & NT_TOK_ADD_BOS) && t->bos >= 0 && (rc = nt_tokens_push(out, t->bos))) goto fail;
    if (len && (rc = tk_partition(t, text, len, (flags & NT_TOK_PARSE_SPECIAL) != 0, &frags)))
        goto fail;
    bool prev_special = true; /* SentencePiece adds its space at the start and after specials */
    for (size_t i = 0; i < frags.n; i++) {
        const tk_frag *f = &frags.v[i];
        if (f->id >= 0) {
            if ((rc = nt_tokens_push(out, f->id))) goto fail;
            prev_special = true;
            continue;
        }
        if (t->kind == TOK_KIND_SPM) {
            rc = tk_encode_spm(t, text + f->off, f->len, t->add_space_prefix && prev_special, out);
        } else {
            rc = tk_encode_bpe(t, text + f->off, f->len, out);
        }
        if (rc) goto fail;
        prev_special = false;
    }
    if ((flags & NT_TOK_ADD_EOS) && t->eos >= 0 && (rc = nt_tokens_push(out, t->eos))) goto fail;
    free(frags.v);
    return NT_OK;
fail:
    free(frags.v);
    out->n = start;
    if (rc == NT_ERR_NOMEM)
        return nt_err_set(err, rc, "nt_tokenizer_encode: out of memory (%zu bytes of text)", len);
    return nt_err_set(err, rc, "nt_tokenizer_encode: text of %zu bytes is too long", len);
}

/* ---------------------------------------------------------------------- decoding ---- */

/* A bounded writer: counts everything, stores what fits. */
typedef struct tk_sink {
    char *buf;
    size_t cap, len;
} tk_sink;

static inline void tk_put(tk_sink *s, const char *p, size_t n)
{
    if (s->len < s->cap) {
        size_t k = s->cap - s->len < n ? s->cap - s->len : n;
        memcpy(s->buf + s->len, p, k);
    }
    s->len += n;
}

static int tk_hex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The byte of a "<0xXX>" piece, or -1. */
static int tk_byte_piece(const char *p, size_t n)
{
    if (n != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>') return -1;
    int hi = tk_hex(p[3]), lo = tk_hex(p[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static void tk_piece_bytes(const nt_tokenizer *t, int32_t id, tk_sink *s)
{
    const tok_piece *e = &t->pieces[id];
    const char *p = t->arena + e->off;
    size_t n = e->len;
    if (e->attr & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN | TOK_ATTR_USER_DEFINED)) {
        tk_put(s, p, n);
        return;
    }
    if (e->attr & TOK_ATTR_BYTE) {
        int b = tk_byte_piece(p, n);
        if (b >= 0) {
            char c = (char)b;
            tk_put(s, &c, 1);
        } else {
            tk_put(s, p, n);
        }
        return;
    }
    if (!(e->attr & TOK_ATTR_NORMAL)) return; /* unused/undefined tokens decode to nothing */
    if (t->kind == TOK_KIND_SPM) {
        for (size_t i = 0; i < n;) {
            if (n - i >= 3 && memcmp(p + i, "\xe2\x96\x81", 3) == 0) {
                tk_put(s, " ", 1);
                i += 3;
            } else {
                size_t j = i + 1;
                while (j < n && !(n - j >= 3 && memcmp(p + j, "\xe2\x96\x81", 3) == 0)) j++;
                tk_put(s, p + i, j - i);
                i = j;
            }
        }
        return;
    }
    /* Byte-level: each code point of GPT-2's table is one byte; anything else (not produced by
     * GPT-2's mapping) is passed through as it is. */
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = nt_pretok_utf8_decode((const unsigned char *)p + i, n - i, &cp);
        int b = l ? nt_tok_cp_to_byte(cp) : -1;
        if (b >= 0) {
            char c = (char)b;
            tk_put(s, &c, 1);
        } else {
            if (!l) l = 1;
            tk_put(s, p + i, l);
        }
        i += l;
    }
}

int nt_tokenizer_token_bytes(const nt_tokenizer *t, int32_t id, char *buf, size_t cap)
{
    if (!t || id < 0 || id >= t->n_vocab) return -1;
    tk_sink s = {buf, buf ? cap : 0, 0};
    tk_piece_bytes(t, id, &s);
    return s.len > INT32_MAX ? INT32_MAX : (int)s.len;
}

/* ----------------------------------------------------------------- streaming ---- */

void nt_tokenizer_stream_reset(nt_tokenizer_stream *s)
{
    memset(s, 0, sizeof *s);
    s->prev = -1;
}

/* Writes whole characters into out[0 .. cap-1), never splitting one. */
typedef struct tk_out {
    char *buf;
    size_t cap, len; /* cap excludes the NUL */
    bool full;
} tk_out;

static void tk_out_put(tk_out *o, const char *p, size_t n)
{
    if (o->full || o->len + n > o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

#define TK_REPLACEMENT "\xef\xbf\xbd"

/* True when s[0..n) (n < the sequence length) can still become a valid character. */
static bool tk_utf8_prefix_ok(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (!((c >= 0xC2 && c <= 0xDF) || (c >= 0xE0 && c <= 0xF4))) return false;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return false;
    if (n >= 2) {
        unsigned char d = s[1];
        if ((c == 0xE0 && d < 0xA0) || (c == 0xED && d > 0x9F) || (c == 0xF0 && d < 0x90) ||
            (c == 0xF4 && d > 0x8F))
            return false;
    }
    return true;
}

static size_t tk_utf8_seq_len(unsigned char c)
{
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

size_t nt_tokenizer_stream_feed(const nt_tokenizer *t, nt_tokenizer_stream *s, int32_t id, char *buf, size_t cap)
{
    tk_out o = {buf, cap ? cap - 1 : 0, 0, cap == 0};
    bool at_start = s->ntok == 0 || (s->ntok == 1 && s->prev == t->bos && t->bos >= 0);
    s->ntok++;
    s->prev = id;
    if (cap) buf[0] = '\0';
    if (id < 0 || id >= t->n_vocab || (t->pieces[id].attr & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN)))
        return 0;

    /* pend + the piece's bytes; decoded pieces are never longer than the stored piece. */
    size_t need = (size_t)s->npend + t->pieces[id].len;
    char small[256];
    char *work = need <= sizeof small ? small : malloc(need);
    if (!work) return 0;
    memcpy(work, s->pend, (size_t)s->npend);
    tk_sink sk = {work + s->npend, need - (size_t)s->npend, 0};
    tk_piece_bytes(t, id, &sk);
    size_t wn = (size_t)s->npend + (sk.len < sk.cap ? sk.len : sk.cap);
    size_t i = 0;
    /* The SentencePiece space added at encoding does not belong to the text. */
    if (at_start && t->add_space_prefix && s->npend == 0 && wn > 0 && work[0] == ' ') i = 1;
    s->npend = 0;

    const unsigned char *u = (const unsigned char *)work;
    while (i < wn) {
        size_t l = tk_utf8_seq_len(u[i]);
        if (l == 0) {
            tk_out_put(&o, TK_REPLACEMENT, 3);
            i++;
            continue;
        }
        if (i + l > wn) {
            if (tk_utf8_prefix_ok(u + i, wn - i)) { /* wait for the rest of the character */
                memcpy(s->pend, u + i, wn - i);
                s->npend = (int)(wn - i);
                break;
            }
            tk_out_put(&o, TK_REPLACEMENT, 3);
            i++;
            continue;
        }
        uint32_t cp;
        size_t got = nt_pretok_utf8_decode(u + i, l, &cp);
        if (got) {
            tk_out_put(&o, work + i, got);
            i += got;
        } else {
            tk_out_put(&o, TK_REPLACEMENT, 3);
            i++;
        }
    }
    if (work != small) free(work);
    if (cap) buf[o.len] = '\0';
    return o.len;
}

size_t nt_tokenizer_stream_flush(const nt_tokenizer *t, nt_tokenizer_stream *s, char *buf, size_t cap)
{
    (void)t;
    tk_out o = {buf, cap ? cap - 1 : 0, 0, cap == 0};
    if (s->npend) tk_out_put(&o, TK_REPLACEMENT, 3);
    s->npend = 0;
    if (cap) buf[o.len] = '\0';
    return o.len;
}
