/* fuzz_chat.c — chat templates: detection on arbitrary template text, then every family's
 * formatter and the tokenization of its prompt on arbitrary messages. The input is split at NUL
 * bytes: the first part is the template, each further part a message whose first byte picks its
 * role. Checks that message text never becomes a control token and that formatting always ends
 * in a prompt or a clean error. */
#include "fuzz.h"
#include "natter.h"

#include <stdlib.h>
#include <string.h>

static nt_gguf *g;
static nt_tokenizer *tok;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tok) {
        nt_err e = {0};
        if (nt_gguf_open(&g, "models/natter-guide.gguf", &e) != NT_OK || nt_tokenizer_load(&tok, g, &e) != NT_OK)
            abort();
    }
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    enum nt_chat_family detected = nt_chat_detect(buf);
    (void)nt_chat_think_switch(buf);
    nt_chat_msg msgs[16];
    size_t nm = 0;
    for (char *p = buf + strlen(buf) + 1; p < buf + size && nm < 16; p += strlen(p) + 1) {
        msgs[nm].role = (enum nt_chat_role)((unsigned char)p[0] % 3);
        msgs[nm].content = p[0] ? p + 1 : p;
        nm++;
    }
    for (int f = 0; f < NT_CHAT_FAMILY_COUNT_; f++) {
        for (int think = -1; think <= 1; think++) {
            nt_chat_opts o = {think >= 0, think};
            nt_chat_prompt pr = {0};
            nt_err e = {0};
            if (nt_chat_format_opts((enum nt_chat_family)f, msgs, nm, &o, &pr, &e) != NT_OK) abort();
            nt_tokens ids = {0};
            if (nt_chat_tokenize(tok, &pr, true, &ids, &e) != NT_OK) abort();
            if (think != -1) goto next; /* the markup check once per family: it is the slow part */
            /* Count the control tokens the markup alone can produce; message text adds none. */
            long ctl = 0;
            for (size_t i = 0; i < ids.n; i++) ctl += nt_tokenizer_is_control(tok, ids.v[i]);
            nt_chat_prompt markup = {0};
            for (size_t i = 0; i < pr.n; i++)
                if (pr.v[i].special) {
                    nt_chat_piece pc = pr.v[i];
                    markup.v = &pc;
                    markup.n = markup.cap = 1;
                    nt_tokens mi = {0};
                    if (nt_chat_tokenize(tok, &markup, false, &mi, &e) != NT_OK) abort();
                    for (size_t k = 0; k < mi.n; k++) ctl -= nt_tokenizer_is_control(tok, mi.v[k]);
                    nt_tokens_free(&mi);
                }
            int32_t bos = nt_tokenizer_bos(tok);
            /* BOS may come from add_bos (markup that starts with it is deduplicated) */
            if (ctl > (bos >= 0 && nt_tokenizer_is_control(tok, bos) ? 1 : 0)) abort();
        next:
            nt_tokens_free(&ids);
            nt_chat_prompt_free(&pr);
        }
    }
    (void)detected;
    free(buf);
    return 0;
}
