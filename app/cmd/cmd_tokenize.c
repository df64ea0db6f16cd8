/* cmd_tokenize.c — `natter tokenize MODEL.gguf [--ids] [--bos] [--special]`: tokenizes the
 * exact bytes of stdin with the model's tokenizer (only the tokenizer is loaded, so
 * vocabulary-only files work) and prints one "id<TAB>piece" line per token, or with --ids the
 * ids on one line (the fixtures' convention: no BOS/EOS, specials not parsed). */
#include "natter.h"
#include "args.h"
#include "cmds.h"
#include "model_find.h"
#include "util/strbuf.h"
#include "util/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tok_usage(FILE *f)
{
    fprintf(f, "usage: natter tokenize MODEL.gguf [--ids] [--bos] [--special] < TEXT\n");
}

int cmd_tokenize(int argc, char **argv)
{
    char *path = NULL;
    bool ids = false;
    int flags = 0;
    enum { OPT_IDS = 256, OPT_BOS, OPT_SPECIAL };
    static const struct option opts[] = {
        {"ids", no_argument, NULL, OPT_IDS},
        {"bos", no_argument, NULL, OPT_BOS},
        {"special", no_argument, NULL, OPT_SPECIAL},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    args a = args_start("natter tokenize", argc, argv, "h", opts);
    for (int c; (c = args_next(&a)) != -1;) {
        switch (c) {
        case OPT_IDS: ids = true; break;
        case OPT_BOS: flags |= NT_TOK_ADD_BOS; break;
        case OPT_SPECIAL: flags |= NT_TOK_PARSE_SPECIAL; break;
        case 'h': tok_usage(stdout); return 0;
        default: return 2;
        }
    }
    if (args_operands(&a, 1)) return 2;
    if (a.first >= argc) {
        tok_usage(stderr);
        return 2;
    }
    if (!(path = model_find_arg("natter tokenize", NULL, argv[a.first]))) return 2;
    int status = 1;
    nt_gguf *g = NULL;
    nt_tokenizer *t = NULL;
    nt_tokens out = {0};
    char *text = NULL;
    size_t n = 0;
    nt_err e = {0};
    if (nt_gguf_open(&g, path, &e) != NT_OK || nt_tokenizer_load(&t, g, &e) != NT_OK) {
        text_printf(stderr, "natter tokenize: %s\n", e.msg);
        goto out;
    }
    strbuf in = {0};
    if (!strbuf_read(&in, stdin)) {
        if (in.oom)
            text_printf(stderr, "natter tokenize: out of memory\n");
        else
            text_printf(stderr, "natter tokenize: cannot read stdin: %s\n", strerror(errno));
        strbuf_free(&in);
        goto out;
    }
    text = strbuf_take(&in, &n);
    if (nt_tokenizer_encode(t, text ? text : "", n, flags, &out, &e) != NT_OK) {
        text_printf(stderr, "natter tokenize: %s\n", e.msg);
        goto out;
    }
    if (ids) {
        for (size_t i = 0; i < out.n; i++) text_printf(stdout, "%s%d", i ? " " : "", out.v[i]);
        putchar('\n');
    } else {
        for (size_t i = 0; i < out.n; i++) {
            nt_gguf_str p = nt_tokenizer_piece(t, out.v[i]);
            printf("%d\t", out.v[i]);
            text_fput_escaped(stdout, p.p, p.n, false);
            putchar('\n');
        }
    }
    status = fflush(stdout) == 0 ? 0 : 1;
out:
    nt_tokens_free(&out);
    free(text);
    nt_tokenizer_free(t);
    nt_gguf_close(g);
    free(path);
    return status;
}
