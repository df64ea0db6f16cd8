/* promptview.c — the prompt as the model sees it, as text (see promptview.h). */
#include "promptview.h"
#include "util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A token's bytes; a control token (BOS, <|im_start|>, ...) between ⟨ and ⟩ so it is told
 * from text that merely looks like it. esc_nl: newlines as \n (one token a line). */
static void promptview_piece(strbuf *b, const nt_tokenizer *tok, int32_t id, bool esc_nl,
                             bool after_bos)
{
    char buf[512];
    int n = nt_tokenizer_token_bytes(tok, id, buf, sizeof buf);
    if (n < 0) n = 0;
    if (n > (int)sizeof buf) n = (int)sizeof buf;
    bool ctl = nt_tokenizer_is_control(tok, id);
    if (ctl) strbuf_puts(b, "⟨");
    /* SentencePiece's word-start space is no text right after BOS (the decoder drops it). */
    int i0 = after_bos && !strcmp(nt_tokenizer_kind(tok), "llama") && n > 0 && buf[0] == ' ';
    for (int i = i0; i < n; i++) {
        if (esc_nl && buf[i] == '\n') strbuf_puts(b, "\\n");
        else strbuf_putc(b, buf[i]);
    }
    if (ctl) strbuf_puts(b, "⟩");
}

char *promptview_text(chat *c, const nt_tokenizer *tok, const char *instruction, bool ids,
                      nt_err *err)
{
    size_t doc_at = (size_t)-1;
    const char *sys = chat_system(c);
    const char *ins = instruction && instruction[0] ? strstr(sys, instruction) : NULL;
    if (ins) {
        /* The documents begin where the instruction does, after the blank line before it. */
        doc_at = (size_t)(ins - sys);
        while (doc_at > 0 && sys[doc_at - 1] == '\n') doc_at--;
    }
    nt_tokens v = {0};
    chat_part *parts = NULL;
    size_t n_parts = 0;
    if (chat_prompt_parts(c, doc_at, &v, &parts, &n_parts, err) != NT_OK) return NULL;
    strbuf b = {0};
    if (ids) {
        strbuf_puts(&b, "token ids and pieces (control tokens in ⟨ ⟩, newlines as \\n):\n");
        for (size_t i = 0; i < v.n; i++) {
            strbuf_printf(&b, "  %5zu  %7d  ", i, (int)v.v[i]);
            promptview_piece(&b, tok, v.v[i], true, false);
            strbuf_putc(&b, '\n');
        }
    } else {
        strbuf_puts(&b, "the text (control tokens in ⟨ ⟩):\n");
        for (size_t i = 0; i < v.n; i++)
            promptview_piece(&b, tok, v.v[i], false, i == 1 && v.v[0] == nt_tokenizer_bos(tok));
        strbuf_putc(&b, '\n');
    }
    /* The parts last: the end of the view is what a follow-the-end screen shows. */
    const char *fam = chat_get_raw(c) ? "no template (raw)" : nt_chat_family_name(chat_get_family(c));
    strbuf_printf(&b, "the prompt: %zu tokens of the context's %d (%s%s):\n", v.n, (int)chat_n_ctx(c),
                  fam ? fam : "?", chat_get_raw(c) ? "" : " template");
    for (size_t i = 0; i < n_parts; i++) {
        char what[64];
        if (parts[i].index) snprintf(what, sizeof what, "%s %zu", parts[i].what, parts[i].index);
        else snprintf(what, sizeof what, "%s", parts[i].what);
        strbuf_printf(&b, "  %-22s %6d\n", what, (int)parts[i].n_tokens);
    }
    free(parts);
    nt_tokens_free(&v);
    char *s = strbuf_take(&b, NULL);
    if (!s) nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    return s;
}
