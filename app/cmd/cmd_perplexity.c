/* cmd_perplexity.c — `natter perplexity -m MODEL -f TEXT [--ctx N] [--threads N]`: the
 * model's perplexity on a text file, computed exactly as llama.cpp's llama-perplexity does
 * (nt_model_perplexity in the engine), printed in its style: progress on stderr, then
 * "Final estimate: PPL = 10055.0506 +/- 46.1234" on stdout. */
#include "natter.h"
#include "util/text.h"
#include "args.h"
#include "cmds.h"
#include "model_find.h"
#include "util/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct ppl_progress {
    int32_t n_ctx;
    int32_t last_chunk;
    bool tty;
} ppl_progress;

/* Prints a mark each time a chunk completes ("[3/29]"), overwriting the line on a terminal. */
static void ppl_on_progress(int32_t done, int32_t total, void *user)
{
    ppl_progress *p = user;
    int32_t chunk = p->n_ctx > 0 ? done / p->n_ctx : 0;
    if (chunk == p->last_chunk) return;
    p->last_chunk = chunk;
    int32_t n_chunks = p->n_ctx > 0 ? total / p->n_ctx : 0;
    if (p->tty) fprintf(stderr, "\rnatter perplexity: chunk %d/%d", chunk, n_chunks);
    else text_printf(stderr, "[%d/%d]%s", chunk, n_chunks, chunk == n_chunks ? "\n" : "");
    if (p->tty && chunk == n_chunks) fputc('\n', stderr);
    fflush(stderr);
}

static void ppl_usage(FILE *f)
{
    fprintf(f, "usage: natter perplexity -m MODEL.gguf -f TEXT [--ctx N] [--threads N] "
               "[--kv-type f32|f16|q8_0]\n");
}

int cmd_perplexity(int argc, char **argv)
{
    const char *model_path = NULL, *text_path = NULL;
    int32_t n_ctx = 0, n_threads = 0, kv_type = NT_KV_TYPE_DEFAULT;
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, 'f'},
        {"ctx", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {"kv-type", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    args a = args_start("natter perplexity", argc, argv, "m:f:c:t:k:h", opts);
    for (int c; (c = args_next(&a)) != -1;) {
        switch (c) {
        case 'm': model_path = a.value; break;
        case 'f': text_path = a.value; break;
        case 'c':
            if (args_int(&a, 4, 1 << 20, &n_ctx)) return 2;
            break;
        case 't':
            if (args_int(&a, 0, 512, &n_threads)) return 2;
            break;
        case 'k':
            if (args_kv_type(&a, &kv_type)) return 2;
            break;
        case 'h': ppl_usage(stdout); return 0;
        default: ppl_usage(stderr); return 2;
        }
    }
    if (args_operands(&a, 0)) {
        ppl_usage(stderr);
        return 2;
    }
    if (!model_path || !text_path) {
        ppl_usage(stderr);
        return 2;
    }
    char *model_file = model_find_arg("natter perplexity", "-m", model_path);
    if (!model_file) return 2;

    int status = 1;
    nt_model *m = NULL;
    nt_tokens toks = {0};
    char *text = NULL;
    nt_err e = {0};
    nt_err oe;
    int fd = nt_open_regular(text_path, NULL, &oe);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        text_printf(stderr, "natter perplexity: %s: %s\n", text_path,
                    fd < 0 ? oe.msg : strerror(errno));
        if (fd >= 0) close(fd);
        goto out;
    }
    strbuf in = {0};
    bool read_ok = strbuf_read(&in, f);
    fclose(f);
    if (!read_ok) {
        if (in.oom)
            text_printf(stderr, "natter perplexity: out of memory\n");
        else
            text_printf(stderr, "natter perplexity: %s: read error\n", text_path);
        strbuf_free(&in);
        goto out;
    }
    size_t n;
    text = strbuf_take(&in, &n);

    if (!(m = cmd_load_model("natter perplexity", model_file, n_ctx, n_threads, kv_type)))
        goto out;
    const nt_tokenizer *tok = nt_model_tokenizer(m);
    int flags = nt_tokenizer_add_bos(tok) ? NT_TOK_ADD_BOS : 0;
    if (nt_tokenizer_encode(tok, text, n, flags, &toks, &e) != NT_OK) {
        text_printf(stderr, "natter perplexity: %s\n", e.msg);
        goto out;
    }
    int32_t ctx = n_ctx ? n_ctx : nt_model_get_info(m)->n_ctx;
    text_printf(stderr, "natter perplexity: %s: %zu tokens, context %d, %zu chunks\n", text_path,
            toks.n, ctx, ctx > 0 ? toks.n / (size_t)ctx : 0);
    ppl_progress prog = {.n_ctx = ctx, .last_chunk = 0, .tty = isatty(STDERR_FILENO)};
    nt_model_hooks hooks = {.progress = ppl_on_progress, .user = &prog};
    nt_model_set_hooks(m, &hooks);
    nt_model_ppl r = {0};
    if (nt_model_perplexity(m, toks.v, toks.n, ctx, &r, &e) != NT_OK) {
        text_printf(stderr, "natter perplexity: %s\n", e.msg);
        goto out;
    }
    text_printf(stdout, "chunks: %d, context: %d, tokens scored: %lld, mean NLL: %.6f\n", r.n_chunks, ctx,
           (long long)r.n_scored, r.nll);
    text_printf(stdout, "Final estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_err);
    status = 0;
out:
    nt_tokens_free(&toks);
    free(text);
    nt_model_free(m);
    free(model_file);
    return status;
}
