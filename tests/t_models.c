/* Model files made from the fixtures for tests that need a variant of a real model (see
 * t_models.h). Built into every test program with the harness. */
#include "t_models.h"

#include "natter.h"
#include "t.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void t_parse_ids(const char *s, nt_tokens *out)
{
    char *end;
    for (;;) {
        long v = strtol(s, &end, 10);
        if (end == s) break;
        nt_tokens_push(out, (int32_t)v);
        s = end;
    }
}

nt_model *t_load_model(const char *path, int32_t n_ctx, int32_t n_threads)
{
    return t_load_model_kv(path, n_ctx, n_threads, NT_KV_TYPE_DEFAULT);
}

nt_model *t_load_model_kv(const char *path, int32_t n_ctx, int32_t n_threads, int kv_type)
{
    nt_model_params p = nt_model_default_params();
    p.n_ctx = n_ctx;
    p.n_threads = n_threads;
    p.kv_type = kv_type;
    nt_model *m = NULL;
    nt_err e = {0};
    if (nt_model_load(&m, path, &p, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "nt_model_load(%s): %s", path, e.msg);
        return NULL;
    }
    return m;
}

int32_t t_argmax(const float *v, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

const char *t_chatml_stories(void)
{
    static char path[4096];
    const char *src = t_fixture("models/stories260K.gguf");
    if (!src) return NULL;
    nt_gguf *g = NULL;
    nt_err e = {0};
    nt_gguf_writer *w = nt_gguf_writer_init();
    char **pieces = NULL;
    uint64_t n_tok = 0;
    bool ok = false;
    if (!w || nt_gguf_open(&g, src, &e) != NT_OK) goto out;
    for (int64_t i = 0; i < nt_gguf_n_kv(g); i++) {
        const char *key = nt_gguf_kv_key(g, i);
        enum nt_gguf_vtype ty = nt_gguf_kv_type(g, i);
        int rc = NT_OK;
        if (strcmp(key, "tokenizer.ggml.tokens") == 0) {
            n_tok = nt_gguf_kv_arr_n(g, i);
            pieces = calloc(n_tok, sizeof *pieces);
            if (!pieces) goto out;
            for (uint64_t k = 0; k < n_tok; k++) {
                nt_gguf_str ps = nt_gguf_arr_str(g, i, k);
                const char *sub = k == 3 ? "<|im_start|>" : k == 4 ? "<|im_end|>" : NULL;
                pieces[k] = sub ? strdup(sub) : strndup(ps.p, ps.n);
                if (!pieces[k]) goto out;
            }
            rc = nt_gguf_writer_set_arr_str(w, key, (const char *const *)pieces, n_tok);
        } else if (ty == NT_GGUF_ARR) {
            enum nt_gguf_vtype at;
            uint64_t n;
            const void *data;
            if (nt_gguf_get_arr(g, key, &at, &n, &data, &e) != NT_OK) goto out;
            if (at != NT_GGUF_I32 && at != NT_GGUF_F32 && at != NT_GGUF_U32) goto out;
            void *copy = malloc(n * 4 + 1);
            if (!copy) goto out;
            memcpy(copy, data, n * 4);
            if (strcmp(key, "tokenizer.ggml.token_type") == 0 && at == NT_GGUF_I32 && n > 4)
                ((int32_t *)copy)[3] = ((int32_t *)copy)[4] = 3; /* control */
            rc = nt_gguf_writer_set_arr(w, key, at, copy, n);
            free(copy);
        } else if (ty == NT_GGUF_STR) {
            nt_gguf_str v;
            if (nt_gguf_get_str(g, key, &v, &e) != NT_OK) goto out;
            char *z = strndup(v.p, v.n);
            rc = z ? nt_gguf_writer_set_str(w, key, z) : NT_ERR_NOMEM;
            free(z);
        } else if (ty == NT_GGUF_F32) {
            float f;
            if (nt_gguf_get_f32(g, key, &f, &e) != NT_OK) goto out;
            rc = nt_gguf_writer_set_f32(w, key, f);
        } else if (ty == NT_GGUF_BOOL) {
            bool b;
            if (nt_gguf_get_bool(g, key, &b, &e) != NT_OK) goto out;
            rc = nt_gguf_writer_set_bool(w, key, b);
        } else if (ty == NT_GGUF_U32 || ty == NT_GGUF_I32) {
            int64_t v;
            if (nt_gguf_get_i64(g, key, &v, &e) != NT_OK) goto out;
            rc = ty == NT_GGUF_U32 ? nt_gguf_writer_set_u32(w, key, (uint32_t)v)
                                   : nt_gguf_writer_set_i32(w, key, (int32_t)v);
        } else {
            rc = NT_ERR_UNSUPPORTED; /* stories260K has no other types */
        }
        if (rc != NT_OK) goto out;
    }
    if (nt_gguf_writer_set_str(w, "tokenizer.chat_template",
                            "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
                            "<|im_end|>\n{% endfor %}") != NT_OK)
        goto out;
    for (int64_t i = 0; i < nt_gguf_n_tensors(g); i++) {
        const nt_gguf_tensor *t = nt_gguf_tensor_at(g, i);
        if (nt_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data) != NT_OK)
            goto out;
    }
    snprintf(path, sizeof path, "%s/stories-chatml.gguf", t_tmpdir());
    ok = nt_gguf_writer_write(w, path, &e) == NT_OK;
out:
    if (!ok && e.msg[0]) fprintf(stderr, "t_chatml_stories: %s\n", e.msg);
    for (uint64_t k = 0; pieces && k < n_tok; k++) free(pieces[k]);
    free(pieces);
    nt_gguf_writer_free(w);
    nt_gguf_close(g);
    return ok ? path : NULL;
}

worker *t_stories_worker(int32_t n_ctx)
{
    const char *path = t_fixture("models/stories260K.gguf");
    if (!path) return NULL;
    nt_model *m = NULL;
    nt_err e = {0};
    nt_model_params mp = nt_model_default_params();
    mp.n_ctx = n_ctx;
    mp.n_threads = 1;
    if (nt_model_load(&m, path, &mp, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "nt_model_load: %s", e.msg);
        return NULL;
    }
    worker *w = worker_init(m, &e);
    if (!w) t_fail(__FILE__, __LINE__, "worker_init: %s", e.msg);
    return w;
}

int t_copy_key(nt_gguf_writer *w, const nt_gguf *g, int64_t i)
{
    const char *k = nt_gguf_kv_key(g, i);
    const enum nt_gguf_vtype ty = nt_gguf_kv_type(g, i);
    int64_t iv;
    float f;
    bool b;
    nt_gguf_str str;
    switch (ty) {
    case NT_GGUF_U8: case NT_GGUF_I8: case NT_GGUF_U16: case NT_GGUF_I16:
    case NT_GGUF_U32: case NT_GGUF_I32: case NT_GGUF_U64: case NT_GGUF_I64: {
        /* Read as int64 and written back in the stored type's C type. */
        nt_gguf_get_i64(g, k, &iv, NULL);
        union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
                uint64_t u64; int64_t i64; } v;
        switch (ty) {
        case NT_GGUF_U8: v.u8 = (uint8_t)iv; break;
        case NT_GGUF_I8: v.i8 = (int8_t)iv; break;
        case NT_GGUF_U16: v.u16 = (uint16_t)iv; break;
        case NT_GGUF_I16: v.i16 = (int16_t)iv; break;
        case NT_GGUF_U32: v.u32 = (uint32_t)iv; break;
        case NT_GGUF_I32: v.i32 = (int32_t)iv; break;
        case NT_GGUF_U64: v.u64 = (uint64_t)iv; break; /* values up to 2^63 */
        default: v.i64 = iv; break;
        }
        return nt_gguf_writer_set_scalar(w, k, ty, &v);
    }
    case NT_GGUF_F32: nt_gguf_get_f32(g, k, &f, NULL); return nt_gguf_writer_set_f32(w, k, f);
    case NT_GGUF_BOOL: nt_gguf_get_bool(g, k, &b, NULL); return nt_gguf_writer_set_bool(w, k, b);
    case NT_GGUF_STR: {
        nt_gguf_get_str(g, k, &str, NULL);
        char *v = strndup(str.p, str.n);
        int rc = v ? nt_gguf_writer_set_str(w, k, v) : NT_ERR_NOMEM;
        free(v);
        return rc;
    }
    case NT_GGUF_ARR: {
        enum nt_gguf_vtype at;
        uint64_t n;
        const void *data;
        nt_gguf_get_arr(g, k, &at, &n, &data, NULL);
        if (at != NT_GGUF_STR) return nt_gguf_writer_set_arr(w, k, at, data, n);
        char **v = calloc(n ? n : 1, sizeof *v);
        if (!v) return NT_ERR_NOMEM;
        for (uint64_t j = 0; j < n; j++) {
            nt_gguf_str sj = nt_gguf_arr_str(g, i, j);
            v[j] = strndup(sj.p, sj.n);
        }
        int rc = nt_gguf_writer_set_arr_str(w, k, (const char *const *)v, n);
        for (uint64_t j = 0; j < n; j++) free(v[j]);
        free(v);
        return rc;
    }
    default:
        t_fail(__FILE__, __LINE__, "t_copy_key: key %s has a type this helper does not copy", k);
        return NT_ERR_INVALID;
    }
}
