/* cmd_info.c — `natter info MODEL.gguf`: what a GGUF file holds, read from its metadata and
 * tensor table only (no weights are loaded, so vocabulary-only files work too). */
#include "natter.h"
#include "args.h"
#include "cli.h"
#include "cmds.h"
#include "model_find.h"
#include "util/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "1.23 MiB" style (cmds.h). */
void info_bytes(char *buf, size_t cap, double b)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    if (u == 0) snprintf(buf, cap, "%.0f bytes", b);
    else snprintf(buf, cap, "%.2f %s", b, units[u]);
}

/* "135.0M" style (cmds.h). */
void info_count(char *buf, size_t cap, double n)
{
    if (n >= 1e9) snprintf(buf, cap, "%.2fB", n / 1e9);
    else if (n >= 1e6) snprintf(buf, cap, "%.1fM", n / 1e6);
    else if (n >= 1e3) snprintf(buf, cap, "%.1fK", n / 1e3);
    else snprintf(buf, cap, "%.0f", n);
}

/* Prints "label: value" for an integer key arch.suffix, or nothing when absent. */
static void info_u32(const nt_gguf *g, const char *arch, const char *suffix, const char *label)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v = 0;
    nt_err e = {0};
    int rc = nt_gguf_get_i64(g, key, &v, &e);
    if (rc == NT_OK) text_printf(stdout, "%-17s %lld\n", label, (long long)v);
    else if (rc < 0) text_printf(stdout, "%-17s ? (%s is not a number)\n", label, key);
}

/* A token's text with control bytes escaped, quoted. */
static void info_token(const nt_tokenizer *t, const char *label, int32_t id)
{
    if (id < 0) {
        text_printf(stdout, "%-17s none\n", label);
        return;
    }
    nt_gguf_str p = nt_tokenizer_piece(t, id);
    text_printf(stdout, "%-17s %d \"", label, id);
    text_fput_escaped(stdout, p.p, p.n, true);
    text_printf(stdout, "\"\n");
}

static int info_file(const char *path);

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    args a = args_start("natter info", argc, argv, "h", opts);
    for (int c; (c = args_next(&a)) != -1;) {
        if (c == 'h') {
            text_printf(stdout, "usage: natter info MODEL.gguf\n");
            return 0;
        }
        return 2;
    }
    if (argc - a.first != 1) {
        text_printf(stderr, "usage: natter info MODEL.gguf\n");
        return 2;
    }
    char *path = model_find_arg("natter info", NULL, argv[a.first]);
    if (!path) return 2;
    int rc = info_file(path);
    free(path);
    return rc;
}

/* The report on one file. */
static int info_file(const char *path)
{
    nt_gguf *g = NULL;
    nt_tokenizer *tok = NULL;
    nt_err e = {0};
    if (nt_gguf_open(&g, path, &e) != NT_OK) {
        text_printf(stderr, "natter info: %s\n", e.msg);
        return 1;
    }
    char b1[64], b2[64];
    info_bytes(b1, sizeof b1, (double)nt_gguf_file_size(g));
    text_printf(stdout, "%-17s %s\n", "file:", path);
    text_printf(stdout, "%-17s %llu (%s)\n", "file size:", (unsigned long long)nt_gguf_file_size(g), b1);
    text_printf(stdout, "%-17s %u\n", "gguf version:", nt_gguf_version(g));

    nt_gguf_str s;
    char arch[64] = "";
    if (nt_gguf_get_str(g, "general.architecture", &s, &e) == NT_OK) {
        snprintf(arch, sizeof arch, "%.*s", (int)(s.n < 60 ? s.n : 60), s.p);
        text_printf(stdout, "%-17s %s\n", "architecture:", arch);
    } else {
        text_printf(stdout, "%-17s (none)\n", "architecture:");
    }
    if (nt_gguf_get_str(g, "general.name", &s, &e) == NT_OK)
        text_printf(stdout, "%-17s %.*s\n", "name:", (int)(s.n < 200 ? s.n : 200), s.p);

    /* Parameters and tensor types, from the tensor table. */
    int64_t nt = nt_gguf_n_tensors(g);
    double n_params = 0;
    int64_t type_count[NT_TYPE_COUNT_] = {0};
    double type_bytes[NT_TYPE_COUNT_] = {0};
    for (int64_t i = 0; i < nt; i++) {
        const nt_gguf_tensor *t = nt_gguf_tensor_at(g, i);
        double n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) n *= (double)t->ne[d];
        n_params += n;
        if (t->type >= 0 && t->type < NT_TYPE_COUNT_) {
            type_count[t->type]++;
            type_bytes[t->type] += (double)t->nbytes;
        }
    }
    if (nt > 0) {
        info_count(b1, sizeof b1, n_params);
        text_printf(stdout, "%-17s %s (%.0f)\n", "parameters:", b1, n_params);
    }
    if (arch[0]) {
        info_u32(g, arch, "context_length", "context length:");
        info_u32(g, arch, "block_count", "layers:");
        info_u32(g, arch, "attention.head_count", "heads:");
        info_u32(g, arch, "attention.head_count_kv", "KV heads:");
        info_u32(g, arch, "embedding_length", "embedding size:");
        info_u32(g, arch, "feed_forward_length", "FFN size:");
        /* Mixture of experts (absent keys print nothing). */
        info_u32(g, arch, "expert_count", "experts:");
        info_u32(g, arch, "expert_used_count", "experts/token:");
        info_u32(g, arch, "expert_feed_forward_length", "expert FFN size:");
        char key[128];
        float rb = 0;
        snprintf(key, sizeof key, "%s.rope.freq_base", arch);
        if (nt_gguf_get_f32(g, key, &rb, &e) == NT_OK) text_printf(stdout, "%-17s %g\n", "rope base:", rb);
        else if (nt_gguf_find_key(g, "general.architecture") >= 0 && nt > 0)
            text_printf(stdout, "%-17s 10000 (default)\n", "rope base:");
    }
    text_printf(stdout, "%-17s %lld\n", "tensors:", (long long)nt);
    for (int ty = 0; ty < NT_TYPE_COUNT_; ty++) {
        if (!type_count[ty]) continue;
        info_bytes(b2, sizeof b2, type_bytes[ty]);
        text_printf(stdout, "  %-15s %lld tensors, %s\n", nt_type_name(ty) ? nt_type_name(ty) : "?",
               (long long)type_count[ty], b2);
    }

    int rc = nt_tokenizer_load(&tok, g, &e);
    if (rc != NT_OK) {
        text_printf(stdout, "%-17s none (%s)\n", "tokenizer:", e.msg);
    } else {
        text_printf(stdout, "%-17s %s (pre: %s), vocabulary %d\n", "tokenizer:", nt_tokenizer_kind(tok),
               nt_tokenizer_pre(tok) ? nt_tokenizer_pre(tok) : "default", nt_tokenizer_n_vocab(tok));
        if (nt_tokenizer_warning(tok)) text_printf(stdout, "%-17s %s\n", "tokenizer note:", nt_tokenizer_warning(tok));
        info_token(tok, "BOS:", nt_tokenizer_bos(tok));
        info_token(tok, "EOS:", nt_tokenizer_eos(tok));
        info_token(tok, "EOT:", nt_tokenizer_eot(tok));
        text_printf(stdout, "%-17s %s\n", "add BOS:", nt_tokenizer_add_bos(tok) ? "yes" : "no");
    }
    enum nt_chat_family fam = nt_chat_detect_gguf(g);
    bool has_tmpl = nt_gguf_find_key(g, "tokenizer.chat_template") >= 0;
    text_printf(stdout, "%-17s %s%s\n", "chat template:", nt_chat_family_name(fam),
           has_tmpl ? (fam == NT_CHAT_PLAIN ? " (template not recognised)" : "")
                    : " (no template in the file)");
    nt_tokenizer_free(tok);
    nt_gguf_close(g);
    return 0;
}
