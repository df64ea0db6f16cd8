/* fuzz_tokenizer.c — every pre-tokenizer split and the byte-level BPE tokenizer of natter's own
 * model on arbitrary bytes: the first byte picks the flags, the rest is the text. Checks what
 * must hold for any input: the splits cover the text exactly, in order, and decoding the ids
 * gives back the text's bytes (special parsing off). */
#include "fuzz.h"
#include "natter.h"
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

static nt_gguf *g;
static nt_tokenizer *tok;

static void load_once(void)
{
    if (tok) return;
    nt_err e = {0};
    if (nt_gguf_open(&g, "models/natter-guide.gguf", &e) != NT_OK || nt_tokenizer_load(&tok, g, &e) != NT_OK)
        abort(); /* run from the repository root */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    load_once();
    int sel = data[0];
    const char *text = (const char *)data + 1;
    size_t n = size - 1;

    for (int k = PRETOK_DEFAULT; k <= PRETOK_DEEPSEEK_V3; k++) {
        pretok_words w = {0};
        if (nt_pretok_split((enum pretok_kind)k, text, n, &w) != NT_OK) abort();
        size_t at = 0;
        for (size_t i = 0; i < w.n; i++) {
            if (w.v[i].off != at || w.v[i].len == 0) abort(); /* a gap, an overlap or an empty piece */
            at += w.v[i].len;
        }
        if (at != n) abort();
        nt_pretok_words_free(&w);
    }

    int flags = (sel & 1 ? NT_TOK_ADD_BOS : 0) | (sel & 2 ? NT_TOK_PARSE_SPECIAL : 0);
    nt_err e = {0};
    nt_tokens ids = {0};
    if (nt_tokenizer_encode(tok, text, n, flags, &ids, &e) != NT_OK) abort();
    if (!(flags & NT_TOK_PARSE_SPECIAL)) {
        /* Byte-level BPE round-trips every byte string. */
        char *back = malloc(n + 64), buf[256];
        size_t m = 0;
        for (size_t i = 0; i < ids.n; i++) {
            if (ids.v[i] == nt_tokenizer_bos(tok)) continue;
            int len = nt_tokenizer_token_bytes(tok, ids.v[i], buf, sizeof buf);
            if (len < 0 || m + (size_t)len > n + 63) abort();
            memcpy(back + m, buf, (size_t)len);
            m += (size_t)len;
        }
        if (m != n || memcmp(back, text, n) != 0) abort();
        free(back);
    }
    /* The streaming decoder never emits more than the tokens' bytes, and flushes cleanly. */
    nt_tokenizer_stream st;
    nt_tokenizer_stream_reset(&st);
    char out[512];
    for (size_t i = 0; i < ids.n; i++) (void)nt_tokenizer_stream_feed(tok, &st, ids.v[i], out, sizeof out);
    (void)nt_tokenizer_stream_flush(tok, &st, out, sizeof out);
    nt_tokens_free(&ids);
    return 0;
}
