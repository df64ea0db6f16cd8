/* cmd_models.c — `natter models [--json]`: the GGUF models found where people keep them
 * (model_find.h), each with its architecture, parameters, weight type, size, trained context
 * and whether natter runs it. The verdict is the engine's own (nt_model_check: the loader's
 * checks without the weights), so it says exactly what `natter -m` would. Facts come from
 * the GGUF header; names, paths and messages come from files and go through the sanitiser
 * (text.h) before they reach the terminal. */
#include "natter.h"
#include "args.h"
#include "cmds.h"
#include "model_find.h"
#include "conv/remote.h"
#include "util/json.h"
#include "util/strbuf.h"
#include "util/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One row: what the header says and the engine's verdict. Strings are malloc'd. */
typedef struct models_row {
    const model_found *f;
    char *arch;        /* general.architecture, or NULL */
    int64_t n_params;  /* -1 when unknown */
    char type[32];     /* "Q4_K_M", "F16", or "" */
    int64_t n_ctx;     /* <arch>.context_length, or -1 */
    bool runs;
    char *reason;      /* why not (the loader's message without the path), or NULL */
} models_row;

/* llama.cpp's general.file_type values (llama_ftype), for the usual quantization names. */
static const char *models_ftype_name(int64_t ft)
{
    static const char *const names[] = {
        [0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [7] = "Q8_0", [8] = "Q5_0",
        [9] = "Q5_1", [10] = "Q2_K", [11] = "Q3_K_S", [12] = "Q3_K_M", [13] = "Q3_K_L",
        [14] = "Q4_K_S", [15] = "Q4_K_M", [16] = "Q5_K_S", [17] = "Q5_K_M", [18] = "Q6_K",
        [19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S", [22] = "IQ3_XS", [23] = "IQ3_XXS",
        [24] = "IQ1_S", [25] = "IQ4_NL", [26] = "IQ3_S", [27] = "IQ3_M", [28] = "IQ2_S",
        [29] = "IQ2_M", [30] = "IQ4_XS", [31] = "IQ1_M", [32] = "BF16", [36] = "TQ1_0",
        [37] = "TQ2_0", [38] = "MXFP4_MOE"};
    return ft >= 0 && ft < (int64_t)(sizeof names / sizeof names[0]) ? names[ft] : NULL;
}

/* The header facts of r->f from its parts (just the first when the others do not open). */
static void models_read_header(models_row *r)
{
    nt_gguf **parts = NULL, *one = NULL;
    int n = 0;
    nt_err e = {0};
    if (nt_gguf_open_split(&parts, &n, r->f->path, &e) != NT_OK) {
        if (nt_gguf_open(&one, r->f->path, &e) != NT_OK) return;
        parts = &one;
        n = 1;
    }
    const nt_gguf *g = parts[0];
    nt_gguf_str s;
    if (nt_gguf_get_str(g, "general.architecture", &s, NULL) == NT_OK)
        r->arch = strndup(s.p, s.n < 64 ? s.n : 64);
    if (r->arch) {
        char key[128];
        snprintf(key, sizeof key, "%s.context_length", r->arch);
        if (nt_gguf_get_i64(g, key, &r->n_ctx, NULL) != NT_OK) r->n_ctx = -1;
    }
    /* The weight type: the file's own name for it, else the type holding most weights. */
    int64_t ft;
    const char *ftn = nt_gguf_get_i64(g, "general.file_type", &ft, NULL) == NT_OK
                          ? models_ftype_name(ft) : NULL;
    double per_type[NT_TYPE_COUNT_] = {0}, params = 0;
    for (int p = 0; p < n; p++)
        for (int64_t i = 0; i < nt_gguf_n_tensors(parts[p]); i++) {
            const nt_gguf_tensor *t = nt_gguf_tensor_at(parts[p], i);
            const double ne = (double)t->ne[0] * (double)t->ne[1] * (double)t->ne[2] * (double)t->ne[3];
            params += ne;
            if (t->n_dims >= 2 && t->type >= 0 && t->type < NT_TYPE_COUNT_) per_type[t->type] += ne;
        }
    int best = -1;
    for (int ty = 0; ty < NT_TYPE_COUNT_; ty++)
        if (per_type[ty] > 0 && (best < 0 || per_type[ty] > per_type[best])) best = ty;
    if (!ftn && best >= 0) ftn = nt_type_name(best);
    snprintf(r->type, sizeof r->type, "%s", ftn ? ftn : "");
    r->n_params = n > 0 && nt_gguf_n_tensors(g) > 0 ? (int64_t)params : -1;
    if (one) nt_gguf_close(one);
    else nt_gguf_close_split(parts, n);
}

static void models_fill(models_row *r, const model_found *f)
{
    *r = (models_row){.f = f, .n_params = -1, .n_ctx = -1};
    models_read_header(r);
    nt_model_info info;
    nt_err e = {0};
    r->runs = nt_model_check(f->path, &info, &e) == NT_OK;
    if (r->runs) {
        r->n_params = info.n_params;
        return;
    }
    /* The loader's message names the file; the row already does. */
    const char *msg = e.msg;
    const size_t lp = strlen(f->path);
    if (strncmp(msg, f->path, lp) == 0 && strncmp(msg + lp, ": ", 2) == 0) msg += lp + 2;
    r->reason = strdup(msg);
}

/* ---------------------------------------------------------------------- table ----- */

enum { MODELS_COLS = 8 };

/* cell[i] of a row: sanitised text and its display width. */
typedef struct models_cell {
    text_buf b;
    int width;
} models_cell;

static void models_cell_set(models_cell *c, const char *s)
{
    text_buf_clear(&c->b);
    text_buf_put(&c->b, s, strlen(s), 0, false);
    c->width = c->b.s ? text_width(c->b.s, c->b.n) : 0;
}

static void models_row_cells(const models_row *r, models_cell *c)
{
    char buf[64];
    models_cell_set(&c[0], r->f->name);
    models_cell_set(&c[1], r->arch ? r->arch : "?");
    if (r->n_params >= 0) info_count(buf, sizeof buf, (double)r->n_params);
    models_cell_set(&c[2], r->n_params >= 0 ? buf : "?");
    models_cell_set(&c[3], r->type[0] ? r->type : "?");
    info_bytes(buf, sizeof buf, (double)r->f->size);
    models_cell_set(&c[4], buf);
    snprintf(buf, sizeof buf, "%lld", (long long)r->n_ctx);
    models_cell_set(&c[5], r->n_ctx >= 0 ? buf : "?");
    models_cell_set(&c[6], r->f->place);
    strbuf s = {0};
    if (r->runs) strbuf_puts(&s, "yes");
    else strbuf_printf(&s, "no: %s", r->reason ? r->reason : "out of memory");
    models_cell_set(&c[7], s.s ? s.s : "?");
    strbuf_free(&s);
}

static void models_print_table(const models_row *rows, size_t n)
{
    static const char *const head[MODELS_COLS] = {"NAME", "ARCH", "PARAMS", "TYPE", "SIZE",
                                                  "CTX", "WHERE", "RUNS"};
    models_cell *cells = calloc((n + 1) * MODELS_COLS, sizeof *cells);
    if (!cells) {
        text_printf(stderr, "natter models: out of memory\n");
        return;
    }
    int width[MODELS_COLS] = {0};
    for (int k = 0; k < MODELS_COLS; k++) models_cell_set(&cells[k], head[k]);
    for (size_t i = 0; i < n; i++) models_row_cells(&rows[i], &cells[(i + 1) * MODELS_COLS]);
    for (size_t i = 0; i <= n; i++)
        for (int k = 0; k < MODELS_COLS; k++)
            if (cells[i * MODELS_COLS + k].width > width[k]) width[k] = cells[i * MODELS_COLS + k].width;
    for (size_t i = 0; i <= n; i++) {
        for (int k = 0; k < MODELS_COLS; k++) {
            const models_cell *c = &cells[i * MODELS_COLS + k];
            if (c->b.s) fwrite(c->b.s, 1, c->b.n, stdout);
            if (k + 1 < MODELS_COLS) text_printf(stdout, "%*s", width[k] - c->width + 2, "");
        }
        text_printf(stdout, "\n");
    }
    for (size_t i = 0; i < (n + 1) * MODELS_COLS; i++) text_buf_free(&cells[i].b);
    free(cells);
}

/* ----------------------------------------------------------------------- json ----- */

static int models_print_json(const models_row *rows, size_t n)
{
    json_writer w = {.pretty = true};
    json_w_begin_array(&w);
    for (size_t i = 0; i < n; i++) {
        const models_row *r = &rows[i];
        json_w_begin_object(&w);
        json_w_key(&w, "name");
        json_w_string(&w, r->f->name);
        json_w_key(&w, "path");
        json_w_string(&w, r->f->path);
        json_w_key(&w, "where");
        json_w_string(&w, r->f->place);
        json_w_key(&w, "architecture");
        json_w_string(&w, r->arch);
        json_w_key(&w, "parameters");
        if (r->n_params >= 0) json_w_int(&w, r->n_params);
        else json_w_null(&w);
        json_w_key(&w, "type");
        json_w_string(&w, r->type[0] ? r->type : NULL);
        json_w_key(&w, "size");
        json_w_int(&w, (int64_t)r->f->size);
        json_w_key(&w, "parts");
        json_w_int(&w, r->f->n_parts);
        json_w_key(&w, "context_length");
        if (r->n_ctx >= 0) json_w_int(&w, r->n_ctx);
        else json_w_null(&w);
        json_w_key(&w, "runs");
        json_w_bool(&w, r->runs);
        json_w_key(&w, "reason");
        json_w_string(&w, r->reason);
        json_w_end_object(&w);
    }
    json_w_end_array(&w);
    size_t len;
    char *text = json_writer_finish(&w, &len);
    if (!text) {
        text_printf(stderr, "natter models: out of memory\n");
        return 1;
    }
    fwrite(text, 1, len, stdout);
    text_printf(stdout, "\n");
    free(text);
    return 0;
}

/* --------------------------------------------------------------------- command ----- */

static void models_usage(FILE *f)
{
    fprintf(f, "usage: natter models [--json]\n"
               "       natter models --api-base URL [--api-key-env VAR]\n"
               "Lists the GGUF models in $NATTER_MODELS, llama.cpp's cache, the Hugging Face\n"
               "cache, Ollama's store and LM Studio's folders, and whether natter runs them.\n"
               "Any NAME shown works with natter -m NAME. With --api-base, the models an\n"
               "OpenAI-compatible server offers (GET URL/models), one a line, for\n"
               "natter --api-base URL -m NAME.\n");
}

/* `natter models --api-base URL`: the server's /models, one id a line. */
static int models_remote(const char *base, const char *key_env)
{
    remote *r = NULL;
    nt_err e = {0};
    char **ids = NULL;
    size_t n = 0;
    int rc = remote_init(&r, &(remote_cfg){.base = base, .key_env = key_env, .family = -1}, &e);
    if (rc == NT_OK) rc = remote_list_models(r, &ids, &n, &e);
    if (rc != NT_OK) text_printf(stderr, "natter models: %s\n", e.msg);
    for (size_t i = 0; i < n; i++) {
        text_printf(stdout, "%s\n", ids[i]); /* a server's text: shown, never obeyed */
        free(ids[i]);
    }
    free(ids);
    remote_free(r);
    return rc == NT_OK ? 0 : 1;
}

int cmd_models(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
        {"api-base", required_argument, NULL, 'b'}, {"api-key-env", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0}};
    bool as_json = false;
    const char *api_base = NULL, *key_env = NULL;
    args a = args_start("natter models", argc, argv, "h", longopts);
    for (int c; (c = args_next(&a)) != -1;) {
        if (c == 'j') {
            as_json = true;
        } else if (c == 'b') {
            api_base = a.value;
        } else if (c == 'k') {
            key_env = a.value;
        } else if (c == 'h') {
            models_usage(stdout);
            return 0;
        } else {
            models_usage(stderr);
            return 2;
        }
    }
    if (args_operands(&a, 0)) {
        models_usage(stderr);
        return 2;
    }
    if (api_base) return models_remote(api_base, key_env);
    model_list l = {0};
    int rc = model_find_all(&l) == 0 ? 0 : 1;
    models_row *rows = calloc(l.n ? l.n : 1, sizeof *rows);
    if (rc || !rows) {
        text_printf(stderr, "natter models: out of memory\n");
        free(rows);
        model_list_free(&l);
        return 1;
    }
    for (size_t i = 0; i < l.n; i++) models_fill(&rows[i], &l.v[i]);
    /* What looked like a model but is not: said on stderr, sanitised like the table. */
    for (size_t i = 0; i < l.n_warn; i++) text_printf(stderr, "natter models: warning: %s\n", l.warn[i]);
    if (as_json) rc = models_print_json(rows, l.n);
    else if (l.n == 0)
        text_printf(stdout, "no models found (natter models looks in $NATTER_MODELS, llama.cpp's cache, the "
               "Hugging Face cache, Ollama and LM Studio; see natter(1))\n");
    else models_print_table(rows, l.n);
    for (size_t i = 0; i < l.n; i++) {
        free(rows[i].arch);
        free(rows[i].reason);
    }
    free(rows);
    model_list_free(&l);
    return rc;
}
