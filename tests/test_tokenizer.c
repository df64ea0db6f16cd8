/* Tests for the tokenizers (engine/tokenizer.c, tok_merge.c, pretok.c): llama.cpp's conformance
 * files for every vocabulary in ../shared/fixtures/vocab (every id list must match exactly),
 * the stories260K prompts, special-token parsing, streaming decode of split characters,
 * invalid UTF-8 and metadata validation. */
#include "natter.h"
#include "t.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ helpers ---- */

typedef struct loaded {
    gguf *g;
    tokenizer *t;
} loaded;

static bool load(loaded *l, const char *rel)
{
    nt_err e = {0};
    l->g = NULL;
    l->t = NULL;
    const char *path = t_fixture(rel);
    if (!path) return false;
    if (gguf_open(&l->g, path, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "gguf_open %s: %s", rel, e.msg);
        return false;
    }
    if (tokenizer_load(&l->t, l->g, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "tokenizer_load %s: %s", rel, e.msg);
        gguf_close(l->g);
        l->g = NULL;
        return false;
    }
    return true;
}

static void unload(loaded *l)
{
    tokenizer_free(l->t);
    gguf_close(l->g);
}

static int encode(const tokenizer *t, const char *s, size_t n, int flags, nt_tokens *out)
{
    nt_err e = {0};
    out->n = 0;
    int rc = tokenizer_encode(t, s, n, flags, out, &e);
    if (rc) t_fail(__FILE__, __LINE__, "tokenizer_encode: %s", e.msg);
    return rc;
}

/* Concatenated tokenizer_token_bytes of ids into a malloc'd buffer. */
static char *decode_bytes(const tokenizer *t, const int32_t *ids, size_t n, size_t *len)
{
    size_t cap = 64, k = 0;
    char *buf = malloc(cap);
    for (size_t i = 0; buf && i < n; i++) {
        int m = tokenizer_token_bytes(t, ids[i], NULL, 0);
        if (m < 0) {
            free(buf);
            return NULL;
        }
        while (k + (size_t)m + 1 > cap) {
            cap *= 2;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                return NULL;
            }
            buf = b;
        }
        tokenizer_token_bytes(t, ids[i], buf + k, (size_t)m);
        k += (size_t)m;
    }
    if (buf) buf[k] = '\0';
    *len = k;
    return buf;
}

static size_t parse_ids(const char *s, int32_t *ids, size_t max)
{
    size_t n = 0;
    while (*s && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s) break;
        ids[n++] = (int32_t)v;
        s = end;
    }
    return n;
}

/* ------------------------------------------------------------- conformance ---- */

static const char *const vocab_files[] = {
    "ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",        "ggml-vocab-starcoder.gguf",
    "ggml-vocab-falcon.gguf",    "ggml-vocab-mpt.gguf",          "gpt2vocab-pre-llama-bpe.gguf",
    "gpt2vocab-pre-qwen2.gguf",  "gpt2vocab-pre-smollm.gguf",
};

/* Runs X.gguf.inp against X.gguf.out; returns the number of tests, *ok the matches. */
static int conformance_file(const char *name, int *ok)
{
    char rel[256];
    *ok = 0;
    loaded l;
    snprintf(rel, sizeof rel, "vocab/%s", name);
    if (!load(&l, rel)) return -1;
    snprintf(rel, sizeof rel, "vocab/%s.inp", name);
    size_t ninp, nout;
    char *inp = t_read_file(t_fixture(rel), &ninp);
    snprintf(rel, sizeof rel, "vocab/%s.out", name);
    char *outs = t_read_file(t_fixture(rel), &nout);
    int total = 0;
    if (!inp || !outs) {
        t_fail(__FILE__, __LINE__, "%s: cannot read .inp/.out", name);
        goto done;
    }
    static const char sep[] = "\n__ggml_vocab_test__\n";
    const size_t nsep = sizeof sep - 1;
    char *p = inp, *o = outs;
    nt_tokens got = {0};
    int32_t want[4096];
    for (;;) {
        char *q = strstr(p, sep);
        if (!q) break;
        char *eol = strchr(o, '\n');
        if (!eol) {
            t_fail(__FILE__, __LINE__, "%s: .out has fewer lines than .inp has tests", name);
            break;
        }
        *eol = '\0';
        size_t nw = parse_ids(o, want, sizeof want / sizeof *want);
        o = eol + 1;
        total++;
        if (encode(l.t, p, (size_t)(q - p), 0, &got) == NT_OK) {
            bool same = got.n == nw && (nw == 0 || memcmp(got.v, want, nw * sizeof *want) == 0);
            if (same) {
                (*ok)++;
            } else {
                char gs[512] = "", ws[512] = "";
                for (size_t i = 0; i < got.n && strlen(gs) < 480; i++)
                    snprintf(gs + strlen(gs), sizeof gs - strlen(gs), " %d", (int)got.v[i]);
                for (size_t i = 0; i < nw && strlen(ws) < 480; i++)
                    snprintf(ws + strlen(ws), sizeof ws - strlen(ws), " %d", (int)want[i]);
                t_fail(__FILE__, __LINE__, "%s test %d '%.*s':\n  got: %s\n  want:%s", name, total,
                       (int)(q - p > 60 ? 60 : q - p), p, gs, ws);
            }
        }
        p = q + nsep;
    }
    nt_tokens_free(&got);
done:
    free(inp);
    free(outs);
    unload(&l);
    return total;
}

static void test_conformance(void)
{
    if (!t_fixture("vocab")) T_SKIP("../shared/fixtures/vocab is absent");
    for (size_t i = 0; i < sizeof vocab_files / sizeof *vocab_files; i++) {
        int ok;
        int n = conformance_file(vocab_files[i], &ok);
        if (n < 0) continue;
        printf("  conformance %-30s %3d/%d\n", vocab_files[i], ok, n);
        T_CHECK(n > 0);
        T_EQ_INT(ok, n);
    }
}

int main(void)
{
    T_RUN(test_conformance);
    return t_done();
}
