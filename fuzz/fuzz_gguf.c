/* fuzz_gguf.c — the GGUF reader on hostile files: open, then every accessor over every key and
 * tensor, then the tokenizer and chat-template detection that read the same metadata. Whatever
 * the bytes, each call must either fail with a message or return values inside the file. */
#include "fuzz.h"
#include "natter.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".gguf");
    if (!path) return 0;
    nt_err e = {0};
    nt_gguf *g = NULL;
    if (nt_gguf_open(&g, path, &e) != NT_OK) return 0;
    volatile size_t sink = 0;
    for (int64_t i = 0; i < nt_gguf_n_kv(g); i++) {
        const char *key = nt_gguf_kv_key(g, i);
        sink += strlen(key);
        nt_gguf_str s;
        uint32_t u;
        int64_t v;
        float f;
        bool b;
        enum nt_gguf_vtype t;
        uint64_t n;
        const void *arr;
        if (nt_gguf_get_str(g, key, &s, &e) == NT_OK && s.n) sink += (unsigned char)s.p[s.n - 1];
        (void)nt_gguf_get_u32(g, key, &u, &e);
        (void)nt_gguf_get_i64(g, key, &v, &e);
        (void)nt_gguf_get_f32(g, key, &f, &e);
        (void)nt_gguf_get_bool(g, key, &b, &e);
        if (nt_gguf_get_arr(g, key, &t, &n, &arr, &e) == NT_OK && t == NT_GGUF_STR)
            for (uint64_t k = 0; k < n && k < 64; k++) {
                nt_gguf_str a = nt_gguf_arr_str(g, i, k);
                if (a.n) sink += (unsigned char)a.p[0];
            }
    }
    for (int64_t i = 0; i < nt_gguf_n_tensors(g); i++) {
        const nt_gguf_tensor *ts = nt_gguf_tensor_at(g, i);
        if (ts->nbytes) sink += ((const unsigned char *)ts->data)[ts->nbytes - 1];
        sink += nt_gguf_find_tensor(g, ts->name) == ts;
    }
    nt_tokenizer *tok = NULL;
    if (nt_tokenizer_load(&tok, g, &e) == NT_OK) {
        nt_tokens ids = {0};
        static const char text[] = "Hello world, it's 2026! <|im_start|>\xc3\xa9\xff";
        if (nt_tokenizer_encode(tok, text, sizeof text - 1, NT_TOK_ADD_BOS | NT_TOK_PARSE_SPECIAL, &ids, &e) == NT_OK)
            sink += ids.n;
        nt_tokens_free(&ids);
        nt_tokenizer_free(tok);
    }
    sink += (size_t)nt_chat_detect_gguf(g);
    nt_gguf_close(g);
    (void)sink;
    return 0;
}
