/* tokenizer.h — internals of natter's tokenizers, shared by engine/tokenizer.c (loading, special
 * tokens, decoding), engine/tok_merge.c (the SentencePiece and byte-level BPE merge loops) and
 * engine/pretok.c (UTF-8 decoding and the pre-tokenizer splits). The public API is the
 * "tokenizer" section of natter.h.
 *
 * The behaviour mirrors llama.cpp's src/llama-vocab.cpp and src/unicode.cpp so that token ids
 * match it exactly on valid UTF-8; the places where natter deliberately differs (invalid UTF-8
 * is kept byte for byte instead of becoming U+FFFD, bad metadata is an error instead of a
 * warning) are commented where they happen. */
#ifndef NATTER_TOKENIZER_H
#define NATTER_TOKENIZER_H

#include "natter.h"

/* Token attributes, a bit set like llama.cpp's llama_token_attr (a token may gain CONTROL when
 * its text is a known end-of-turn marker). */
enum tok_attr {
    TOK_ATTR_UNDEFINED = 1 << 0,
    TOK_ATTR_NORMAL = 1 << 1,
    TOK_ATTR_UNKNOWN = 1 << 2,
    TOK_ATTR_CONTROL = 1 << 3,
    TOK_ATTR_USER_DEFINED = 1 << 4,
    TOK_ATTR_UNUSED = 1 << 5,
    TOK_ATTR_BYTE = 1 << 6,
    TOK_ATTR_RSTRIP = 1 << 7, /* whitespace after it is dropped when it is split out (Phi-3) */
    TOK_ATTR_EOG = 1 << 8     /* ends generation */
};

enum tok_kind { TOK_KIND_SPM, TOK_KIND_BPE };

/* The pre-tokenizer splits natter implements (each a chain of llama.cpp's regexes). */
enum pretok_kind {
    PRETOK_DEFAULT,        /* llama.cpp's fallback chain for a missing pre, and "default" */
    PRETOK_GPT2,           /* gpt-2, mpt, olmo, ... */
    PRETOK_LLAMA3,         /* llama-bpe: digits in groups of up to 3 */
    PRETOK_QWEN2,          /* the Llama 3 pattern with single digits */
    PRETOK_STARCODER,      /* starcoder, refact, smollm, command-r: digits alone, then GPT-2 */
    PRETOK_FALCON,
    PRETOK_DEEPSEEK_LLM,
    PRETOK_DEEPSEEK_CODER,
    PRETOK_GPT4O,          /* gpt-4o, llama4: o200k's cased words, digits in groups of 3 */
    PRETOK_TEKKEN,         /* Mistral's tekken: the o200k pattern with single digits */
    PRETOK_DEEPSEEK_V3
};

typedef struct tok_piece {
    uint32_t off, len; /* the piece's bytes: arena[off .. off+len) */
    float score;
    uint16_t attr;     /* enum tok_attr bits */
} tok_piece;

typedef struct tok_merge {
    uint32_t off;      /* "left right" in merge_arena[off ..] */
    uint32_t nl, nr;   /* lengths of left and right */
    int32_t rank;
} tok_merge;

struct nt_tokenizer {
    enum tok_kind kind;
    enum pretok_kind pre;
    char pre_name[64];     /* what nt_tokenizer_pre() reports */
    char *warning;         /* malloc'd, or NULL */
    bool ignore_merges;    /* a word that is a whole vocabulary entry skips the merges */
    bool add_bos, add_eos, add_space_prefix;

    int32_t n_vocab;
    tok_piece *pieces;     /* [n_vocab] */
    char *arena;           /* every piece's bytes, back to back */
    size_t max_piece_len;  /* longest piece in bytes */
    int32_t *piece_tab;    /* open-addressing hash: piece text → id, -1 empty; [piece_mask+1] */
    size_t piece_mask;

    tok_merge *merges;     /* [n_merges] */
    char *merge_arena;
    int32_t n_merges;
    int32_t *merge_tab;    /* hash: (left, right) → index into merges, -1 empty */
    size_t merge_mask;

    int32_t bos, eos, eot, eom, unk, pad, sep; /* -1 when absent */
    int32_t byte_tok[256]; /* token for a raw byte (byte fallback / byte-level), -1 if none */

    int32_t *specials;     /* CONTROL/USER_DEFINED/UNKNOWN ids, longest text first */
    size_t n_specials;
};

/* ---- tokenizer.c ---- */
int32_t nt_tok_lookup(const nt_tokenizer *t, const char *p, size_t n);
/* Rank of the merge (left, right), or -1. */
int32_t nt_tok_merge_rank(const nt_tokenizer *t, const char *l, size_t nl, const char *r, size_t nr);

/* ---- tok_merge.c ---- */
/* SentencePiece BPE over text[0..n) (spaces already escaped to U+2581): appends ids. */
int nt_tok_spm_encode(const nt_tokenizer *t, const char *text, size_t n, nt_tokens *out);
/* Byte-level BPE over pre-tokenized words of text (raw bytes): each word's bytes are mapped to
 * GPT-2's printable code points, merged by rank, and the ids appended. */
struct pretok_words;
int nt_tok_bpe_encode_words(const nt_tokenizer *t, const char *text, const struct pretok_words *words,
                         nt_tokens *out);
/* GPT-2's byte → code point table (printable bytes map to themselves). */
uint32_t nt_tok_byte_to_cp(unsigned char b);
/* Inverse: the byte for a code point of the table, or -1. */
int nt_tok_cp_to_byte(uint32_t cp);

/* ---- pretok.c ---- */
/* Length of the UTF-8 sequence at s[0..n) when it is one valid code point (stored in *cp),
 * else 0. Rejects overlong forms, surrogates and values above U+10FFFF. */
size_t nt_pretok_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Appends the UTF-8 encoding of cp (<= U+10FFFF) to buf; returns its length (1..4). */
size_t nt_pretok_utf8_encode(uint32_t cp, char *buf);

/* One pre-tokenized word: bytes text[off .. off+len). */
typedef struct pretok_word {
    size_t off, len;
} pretok_word;

typedef struct pretok_words {
    pretok_word *v;
    size_t n, cap;
} pretok_words;

/* Splits text[0..n) into words with the given pre-tokenizer (appends to *out). Invalid UTF-8
 * bytes are one code point each, classified like U+FFFD (a symbol), and keep their bytes.
 * NT_OK or NT_ERR_NOMEM. */
int nt_pretok_split(enum pretok_kind kind, const char *text, size_t n, pretok_words *out);
void nt_pretok_words_free(pretok_words *w);

#endif
