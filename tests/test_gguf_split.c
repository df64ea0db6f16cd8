/* Tests for split GGUF models (engine/gguf_split.c and the look-up of tensors across parts in
 * engine/model.c). natter's own model (models/natter-guide.gguf, always in the repository)
 * is split here with natter's GGUF writer the way llama.cpp's gguf-split does it: every key
 * in the first part, split.no / split.count / split.tensors.count in every part, the
 * tensors in order, a share in each part. The split model must give bit-identical logits to
 * the whole file, from whichever part it is opened; broken sets must be refused naming the
 * part at fault, by nt_model_load and nt_model_check alike. */
#include "natter.h"
#include "t.h"
#include "t_models.h"
#include "cmd/model_find.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GUIDE "models/natter-guide.gguf"

/* How a test set differs from a good split. */
typedef struct split_edit {
    int bad_count_part;   /* >= 0: this part says split.count + 1... of one more part */
    int tensors_delta;    /* added to split.tensors.count */
    int bad_no_part;      /* >= 0: this part's split.no is written wrong */
} split_edit;

static const split_edit split_good = {-1, 0, -1};

/* Writes GUIDE as n parts t_tmpdir()/name-0000k-of-0000n.gguf; path of part `which` (from 1)
 * into out. */
static int split_write(const char *name, int n, const split_edit *ed, int which, char *out,
                       size_t cap)
{
    nt_gguf *g = NULL;
    nt_err e = {0};
    if (nt_gguf_open(&g, GUIDE, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "%s", e.msg);
        return -1;
    }
    const int64_t nt = nt_gguf_n_tensors(g);
    int rc = NT_OK;
    for (int k = 0; k < n && rc == NT_OK; k++) {
        char base[512], path[600];
        snprintf(base, sizeof base, "%s/%s", t_tmpdir(), name);
        nt_gguf_split_path(path, sizeof path, base, strlen(base), k + 1, n);
        if (k + 1 == which) snprintf(out, cap, "%s", path);
        nt_gguf_writer *w = nt_gguf_writer_init();
        const uint16_t no = (uint16_t)(k == ed->bad_no_part ? k + 1 : k);
        const uint16_t count = (uint16_t)(k == ed->bad_count_part ? n + 1 : n);
        const int32_t total = (int32_t)nt + ed->tensors_delta;
        /* llama.cpp writes split.no and split.count as u16, split.tensors.count as i32. */
        rc = nt_gguf_writer_set_scalar(w, "split.no", NT_GGUF_U16, &no);
        if (!rc) rc = nt_gguf_writer_set_scalar(w, "split.count", NT_GGUF_U16, &count);
        if (!rc) rc = nt_gguf_writer_set_i32(w, "split.tensors.count", total);
        for (int64_t i = 0; k == 0 && i < nt_gguf_n_kv(g) && rc == NT_OK; i++) rc = t_copy_key(w, g, i);
        for (int64_t i = nt * k / n; i < nt * (k + 1) / n && rc == NT_OK; i++) {
            const nt_gguf_tensor *t = nt_gguf_tensor_at(g, i);
            rc = nt_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data);
        }
        if (rc == NT_OK) rc = nt_gguf_writer_write(w, path, &e);
        nt_gguf_writer_free(w);
    }
    nt_gguf_close(g);
    if (rc != NT_OK) t_fail(__FILE__, __LINE__, "split_write(%s): %d %s", name, rc, e.msg);
    return rc == NT_OK ? 0 : -1;
}

/* The logits after a fixed prompt (n_vocab floats, malloc'd), or NULL with a failure. */
static float *split_logits(const char *path, int32_t *n_vocab)
{
    nt_model_params mp = nt_model_default_params();
    mp.n_ctx = 64;
    mp.n_threads = 1;
    nt_model *m = NULL;
    nt_err e = {0};
    if (nt_model_load(&m, path, &mp, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "%s", e.msg);
        return NULL;
    }
    *n_vocab = nt_model_get_info(m)->n_vocab;
    const int32_t prompt[] = {1, 20, 300, 42, 7, 99, 1000, 5};
    float *logits = malloc((size_t)*n_vocab * sizeof *logits);
    if (nt_model_eval(m, prompt, 8, logits, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "%s", e.msg);
        free(logits);
        logits = NULL;
    }
    nt_model_free(m);
    return logits;
}

static void split_case(int n, int which)
{
    char name[64], path[600];
    snprintf(name, sizeof name, "guide%d", n);
    T_ASSERT(split_write(name, n, &split_good, which, path, sizeof path) == 0);
    int32_t nv_whole = 0, nv_split = 0;
    float *whole = split_logits(GUIDE, &nv_whole);
    float *split = split_logits(path, &nv_split);
    T_ASSERT(whole && split);
    T_EQ_INT(nv_split, nv_whole);
    T_CHECK(memcmp(whole, split, (size_t)nv_whole * sizeof *whole) == 0);
    /* The check agrees and counts the parameters of every part. */
    nt_model_info a, b;
    nt_err e = {0};
    T_EQ_INT(nt_model_check(GUIDE, &a, &e), NT_OK);
    T_EQ_INT(nt_model_check(path, &b, &e), NT_OK);
    T_EQ_INT(b.n_params, a.n_params);
    free(whole);
    free(split);
}

static void test_split_two_parts(void) { split_case(2, 1); }
static void test_split_three_parts(void) { split_case(3, 1); }
static void test_split_from_a_later_part(void) { split_case(3, 3); }

/* nt_model_load's error for path; nt_model_check must say the same. */
static void split_refused(const char *path, int code, const char *want)
{
    nt_model *m = NULL;
    nt_err e = {0}, c = {0};
    T_EQ_INT(nt_model_load(&m, path, NULL, &e), code);
    T_CHECK(m == NULL);
    T_EQ_STR(e.msg, want);
    T_EQ_INT(nt_model_check(path, NULL, &c), code);
    T_EQ_STR(c.msg, e.msg);
}

static void test_split_missing_part(void)
{
    char first[600], second[600], want[2048];
    T_ASSERT(split_write("gone", 3, &split_good, 1, first, sizeof first) == 0);
    T_ASSERT(split_write("gone", 3, &split_good, 2, second, sizeof second) == 0);
    T_ASSERT(unlink(second) == 0);
    snprintf(want, sizeof want, "%s: part 2 of 3 of the split model cannot be opened: %s: cannot open: No such "
             "file or directory", second, second);
    split_refused(first, NT_ERR_IO, want);
}

static void test_split_wrong_count(void)
{
    char first[600], second[600], want[2048];
    split_edit ed = split_good;
    ed.bad_count_part = 1;
    T_ASSERT(split_write("count", 3, &ed, 1, first, sizeof first) == 0);
    T_ASSERT(split_write("count", 3, &ed, 2, second, sizeof second) == 0);
    snprintf(want, sizeof want, "%s: split.count = 4, but %s says 3: the parts are not of one "
             "model", second, first);
    split_refused(first, NT_ERR_FORMAT, want);
    /* Opened from that part, its own name disagrees with its split.count. */
    snprintf(want, sizeof want, "%s: split.count = 4, but the file name does not end in "
             "-NNNNN-of-00004.gguf, so its other parts cannot be found", second);
    split_refused(second, NT_ERR_FORMAT, want);
}

static void test_split_wrong_no(void)
{
    char first[600], third[600], want[2048];
    split_edit ed = split_good;
    ed.bad_no_part = 2;
    T_ASSERT(split_write("no", 3, &ed, 1, first, sizeof first) == 0);
    T_ASSERT(split_write("no", 3, &ed, 3, third, sizeof third) == 0);
    snprintf(want, sizeof want, "%s: split.no = 3, expected 2 (part 3 of 3, counted from 0)", third);
    split_refused(first, NT_ERR_FORMAT, want);
}

static void test_split_tensor_count(void)
{
    char first[600], want[2048];
    split_edit ed = split_good;
    ed.tensors_delta = 1;
    T_ASSERT(split_write("tcount", 2, &ed, 1, first, sizeof first) == 0);
    nt_gguf *g = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&g, GUIDE, &e) == NT_OK);
    const long long nt = (long long)nt_gguf_n_tensors(g);
    nt_gguf_close(g);
    snprintf(want, sizeof want, "%s: split.tensors.count = %lld, but the 2 parts hold %lld tensors",
             first, nt + 1, nt);
    split_refused(first, NT_ERR_FORMAT, want);
}

static void test_split_names(void)
{
    size_t pl = 0;
    int no = 0, count = 0;
    T_CHECK(nt_gguf_split_name("/m/Qwen-7B-Q4_K_M-00002-of-00003.gguf", &pl, &no, &count));
    T_EQ_INT(pl, strlen("/m/Qwen-7B-Q4_K_M"));
    T_EQ_INT(no, 2);
    T_EQ_INT(count, 3);
    T_CHECK(!nt_gguf_split_name("m-00004-of-00003.gguf", &pl, &no, &count)); /* part > count */
    T_CHECK(!nt_gguf_split_name("m-00000-of-00003.gguf", &pl, &no, &count)); /* parts from 1 */
    T_CHECK(!nt_gguf_split_name("m-0001-of-00003.gguf", &pl, &no, &count));
    T_CHECK(!nt_gguf_split_name("m-00001-of-00003.bin", &pl, &no, &count));
    T_CHECK(!nt_gguf_split_name("00001-of-00003.gguf", &pl, &no, &count));
    char buf[64];
    T_EQ_INT(nt_gguf_split_path(buf, sizeof buf, "/m/x-00002-of-00003.gguf", 4, 1, 3), 0);
    T_EQ_STR(buf, "/m/x-00001-of-00003.gguf");
    T_EQ_INT(nt_gguf_split_path(buf, 10, "/m/x", 4, 1, 3), -1);
}

/* A file that is not split opens alone, whatever its name. */
static void test_split_not_split(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/plain-00001-of-00002.gguf", t_tmpdir());
    nt_gguf *g = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&g, GUIDE, &e) == NT_OK);
    nt_gguf_writer *w = nt_gguf_writer_init();
    int rc = NT_OK;
    for (int64_t i = 0; i < nt_gguf_n_kv(g) && rc == NT_OK; i++) rc = t_copy_key(w, g, i);
    for (int64_t i = 0; i < nt_gguf_n_tensors(g) && rc == NT_OK; i++) {
        const nt_gguf_tensor *t = nt_gguf_tensor_at(g, i);
        rc = nt_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data);
    }
    if (rc == NT_OK) rc = nt_gguf_writer_write(w, path, &e);
    nt_gguf_writer_free(w);
    nt_gguf_close(g);
    T_ASSERT(rc == NT_OK);
    nt_gguf **parts = NULL;
    int n = 0;
    T_EQ_INT(nt_gguf_open_split(&parts, &n, path, &e), NT_OK);
    T_EQ_INT(n, 1);
    nt_gguf_close_split(parts, n);
}

/* natter models and -m (app/cmd/model_find.c) see a split model as one: its first part, with
 * the size of all, found by its name without the part too. */
static void test_split_listed(void)
{
    char first[600];
    T_ASSERT(split_write("listed", 3, &split_good, 1, first, sizeof first) == 0);
    char home[600];
    snprintf(home, sizeof home, "%s/nohome", t_tmpdir());
    setenv("HOME", home, 1);
    setenv("NATTER_MODELS", t_tmpdir(), 1);
    setenv("LLAMA_CACHE", home, 1);
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_HOME");
    unsetenv("OLLAMA_MODELS");
    model_list l = {0};
    T_ASSERT(model_find_all(&l) == 0);
    const model_found *f = NULL;
    int parts_listed = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (strncmp(l.v[i].name, "listed-", 7) == 0) parts_listed++;
        if (strcmp(l.v[i].name, "listed-00001-of-00003.gguf") == 0) f = &l.v[i];
    }
    T_EQ_INT(parts_listed, 1);
    T_ASSERT(f != NULL);
    T_EQ_INT(f->n_parts, 3);
    uint64_t size = 0;
    for (int k = 1; k <= 3; k++) {
        char part[700];
        snprintf(part, sizeof part, "%s/listed-%05d-of-00003.gguf", t_tmpdir(), k);
        struct stat st;
        T_ASSERT(stat(part, &st) == 0);
        size += (uint64_t)st.st_size;
    }
    T_EQ_INT(f->size, size);
    model_list_free(&l);
    char msg[1024];
    char *path = model_find_resolve("listed", msg, sizeof msg);
    T_EQ_STR(path, first);
    free(path);
}

int main(void)
{
    T_RUN(test_split_names);
    T_RUN(test_split_two_parts);
    T_RUN(test_split_three_parts);
    T_RUN(test_split_from_a_later_part);
    T_RUN(test_split_missing_part);
    T_RUN(test_split_wrong_count);
    T_RUN(test_split_wrong_no);
    T_RUN(test_split_tensor_count);
    T_RUN(test_split_not_split);
    T_RUN(test_split_listed);
    return t_done();
}
