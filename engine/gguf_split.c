/* gguf_split.c — models split across several GGUF files by llama.cpp's gguf-split
 * (PREFIX-00001-of-00003.gguf, ...): the part names, and opening and checking every part
 * so that nt_model_load can look tensors up across them (natter.h, "gguf" section).
 *
 * The parts are independent GGUF files, each validated by nt_gguf_open; what is checked here
 * is that they belong together. A missing part, a part of another model (a split.count that
 * differs) or a part in the wrong place is an error naming that part's file. */
#include "gguf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPLIT_MAX_PARTS 1024 /* far above any real model; bounds the open files */
#define SPLIT_SUFFIX_LEN 20  /* strlen("-00001-of-00003.gguf") */

static bool split_digits(const char *s, int *out)
{
    int v = 0;
    for (int i = 0; i < 5; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool nt_gguf_split_name(const char *path, size_t *prefix_len, int *no, int *count)
{
    const size_t n = strlen(path);
    if (n < SPLIT_SUFFIX_LEN) return false;
    const char *s = path + n - SPLIT_SUFFIX_LEN;
    int a, b;
    if (s[0] != '-' || !split_digits(s + 1, &a) || memcmp(s + 6, "-of-", 4) != 0 ||
        !split_digits(s + 10, &b) || strcmp(s + 15, ".gguf") != 0 || a < 1 || a > b)
        return false;
    *prefix_len = (size_t)(s - path);
    *no = a;
    *count = b;
    return true;
}

int nt_gguf_split_path(char *buf, size_t cap, const char *path, size_t prefix_len, int no,
                       int count)
{
    int w = snprintf(buf, cap, "%.*s-%05d-of-%05d.gguf", (int)prefix_len, path, no, count);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}

/* The split key of part g as an integer; -1 when absent. Wrong types are errors. */
static int split_key(const nt_gguf *g, const char *key, int64_t *v, nt_err *err)
{
    int rc = nt_gguf_get_i64(g, key, v, err);
    if (rc == 1) *v = -1;
    return rc < 0 ? rc : NT_OK;
}

void nt_gguf_close_split(nt_gguf **parts, int n)
{
    if (!parts) return;
    for (int i = 0; i < n; i++) nt_gguf_close(parts[i]);
    free(parts);
}

int nt_gguf_open_split(nt_gguf ***parts, int *n, const char *path, nt_err *err)
{
    nt_gguf *g = NULL, **v = NULL;
    int64_t count, n_tensors, total = 0;
    int rc, given_no, name_count, k = 0;
    size_t plen;
    *parts = NULL;
    *n = 0;
    if ((rc = nt_gguf_open(&g, path, err))) return rc;
    if ((rc = split_key(g, "split.count", &count, err))) goto fail;
    if (count <= 1) {
        /* Not split (or a one-part split): the file alone. */
        if (!(v = malloc(sizeof *v))) goto nomem;
        v[0] = g;
        *parts = v;
        *n = 1;
        return NT_OK;
    }
    if (count > SPLIT_MAX_PARTS) {
        rc = nt_err_set(err, NT_ERR_FORMAT, "%s: split.count = %" PRId64 " is more than natter "
                        "accepts (%d)", path, count, SPLIT_MAX_PARTS);
        goto fail;
    }
    /* The other parts are found by name, so the name must say which part this is. */
    if (!nt_gguf_split_name(path, &plen, &given_no, &name_count) || name_count != count) {
        rc = nt_err_set(err, NT_ERR_FORMAT, "%s: split.count = %" PRId64 ", but the file name "
                        "does not end in -NNNNN-of-%05d.gguf, so its other parts cannot be found",
                        path, count, (int)count);
        goto fail;
    }
    if (!(v = calloc((size_t)count, sizeof *v))) goto nomem;
    v[given_no - 1] = g;
    g = NULL;
    for (k = 0; k < count; k++) {
        char part[4096];
        if (nt_gguf_split_path(part, sizeof part, path, plen, k + 1, (int)count) != 0) {
            rc = nt_err_set(err, NT_ERR_INVALID, "%s: the path is too long", path);
            goto fail;
        }
        if (!v[k] && (rc = nt_gguf_open(&v[k], part, err))) {
            char inner[sizeof err->msg];
            snprintf(inner, sizeof inner, "%s", err ? err->msg : "");
            rc = nt_err_set(err, rc, "%s: part %d of %d of the split model cannot be opened: %s",
                            part, k + 1, (int)count, inner);
            goto fail;
        }
        int64_t pc, pno;
        if ((rc = split_key(v[k], "split.count", &pc, err)) ||
            (rc = split_key(v[k], "split.no", &pno, err)))
            goto fail;
        if (pc != count) {
            rc = nt_err_set(err, NT_ERR_FORMAT, "%s: split.count = %" PRId64 ", but %s says %"
                            PRId64 ": the parts are not of one model", part, pc, path, count);
            goto fail;
        }
        if (pno != k) {
            rc = nt_err_set(err, NT_ERR_FORMAT, "%s: split.no = %" PRId64 ", expected %d (part %d "
                            "of %d, counted from 0)", part, pno, k, k + 1, (int)count);
            goto fail;
        }
        /* A tensor in two parts would make the look-up depend on the order of the search. */
        for (int64_t t = 0; t < nt_gguf_n_tensors(v[k]); t++) {
            const char *tn = nt_gguf_tensor_at(v[k], t)->name;
            for (int j = 0; j < k; j++)
                if (nt_gguf_find_tensor(v[j], tn)) {
                    rc = nt_err_set(err, NT_ERR_FORMAT, "%s: tensor '%.64s' is also in %s", part,
                                    tn, nt_gguf_path(v[j]));
                    goto fail;
                }
        }
        total += nt_gguf_n_tensors(v[k]);
    }
    if ((rc = split_key(v[0], "split.tensors.count", &n_tensors, err))) goto fail;
    if (n_tensors != total) {
        rc = nt_err_set(err, NT_ERR_FORMAT, "%s: split.tensors.count = %" PRId64 ", but the %d "
                        "parts hold %" PRId64 " tensors", nt_gguf_path(v[0]), n_tensors,
                        (int)count, total);
        goto fail;
    }
    *parts = v;
    *n = (int)count;
    return NT_OK;

nomem:
    rc = nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
fail:
    nt_gguf_close(g);
    nt_gguf_close_split(v, v ? (int)count : 0);
    return rc;
}
