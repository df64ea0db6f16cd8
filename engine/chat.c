/* chat.c — chat templates: detect a model's family from its Jinja template, format a
 * conversation as prompt runs (markup vs message text), and tokenize those runs so that only
 * template markup can produce control tokens.
 *
 * natter does not run Jinja. Like llama.cpp (src/llama-chat.cpp) it recognises the common
 * templates by distinctive substrings and writes each family's text in code; the exact
 * strings per family are listed in natter.h's "chat templates" section. The plain fallback
 * (NT_CHAT_PLAIN), for models without a template, is
 *
 *     System: S\n\nUser: U1\nAssistant: A1\nUser: U2\nAssistant:
 *
 * chosen so that a small base model continues it as a dialogue; callers stop at "\nUser:".
 *
 * BOS rule: formatted text never contains a BOS text; nt_chat_tokenize adds BOS once, as a token.
 */
#include "natter.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ names, detection */

static const char *const chat_names[NT_CHAT_FAMILY_COUNT_] = {
    [NT_CHAT_PLAIN] = "plain",   [NT_CHAT_CHATML] = "chatml", [NT_CHAT_LLAMA2] = "llama2",
    [NT_CHAT_LLAMA3] = "llama3", [NT_CHAT_ZEPHYR] = "zephyr", [NT_CHAT_PHI3] = "phi3",
    [NT_CHAT_GEMMA] = "gemma",   [NT_CHAT_MISTRAL] = "mistral", [NT_CHAT_PHI4] = "phi4",
    [NT_CHAT_MISTRAL_V7] = "mistral-v7", [NT_CHAT_MISTRAL_V7_TEKKEN] = "mistral-v7-tekken",
    [NT_CHAT_DEEPSEEK3] = "deepseek3", [NT_CHAT_GRANITE] = "granite", [NT_CHAT_TULU] = "tulu",
};

const char *nt_chat_family_name(enum nt_chat_family f)
{
    if ((int)f < 0 || f >= NT_CHAT_FAMILY_COUNT_) return NULL;
    return chat_names[f];
}

int nt_chat_family_from_name(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < NT_CHAT_FAMILY_COUNT_; i++)
        if (strcmp(name, chat_names[i]) == 0) return i;
    return -1;
}

/* DeepSeek V3 and R1's markup: fullwidth bars, and U+2581 for the spaces of the EOS text. */
#define DS3_USER "<\xef\xbd\x9c" "User\xef\xbd\x9c>"
#define DS3_ASSISTANT "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"
#define DS3_EOS "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"

/* Substring search in a length-bounded haystack (GGUF strings are not NUL-terminated). */
static bool has(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0) return true;
    if (m > n) return false;
    for (size_t i = 0; i + m <= n; i++)
        if (s[i] == needle[0] && memcmp(s + i, needle, m) == 0) return true;
    return false;
}

static enum nt_chat_family detect_n(const char *s, size_t n)
{
    if (!s || n == 0) return NT_CHAT_PLAIN;
    for (int i = 0; i < NT_CHAT_FAMILY_COUNT_; i++) {
        size_t m = strlen(chat_names[i]);
        if (n == m && memcmp(s, chat_names[i], m) == 0) return (enum nt_chat_family)i;
    }
    /* The order matters, as in llama.cpp: Phi-4 also has <|im_start|> (told apart by its
     * <|im_sep|>); Phi-3 contains <|user|> too, so it must be tested before Zephyr. llama.cpp
     * sends templates with both <|user|> and <|assistant|> but no literal "</s>" (TinyLlama's,
     * which writes eos_token) to GLM-Edge; natter has no GLM family and formats them as Zephyr.
     * Mistral's v7 templates open the system prompt with [SYSTEM_PROMPT]; the original v7
     * (Large 2411) writes a space after each opening tag, v7-tekken (Small 3.x) none. */
    if (has(s, n, "<|im_start|>")) return has(s, n, "<|im_sep|>") ? NT_CHAT_PHI4 : NT_CHAT_CHATML;
    if ((n >= 7 && memcmp(s, "mistral", 7) == 0) || has(s, n, "[INST]")) {
        if (has(s, n, "[SYSTEM_PROMPT]"))
            return has(s, n, "[SYSTEM_PROMPT] ") ? NT_CHAT_MISTRAL_V7 : NT_CHAT_MISTRAL_V7_TEKKEN;
        return has(s, n, "<<SYS>>") ? NT_CHAT_LLAMA2 : NT_CHAT_MISTRAL;
    }
    if (has(s, n, "<|assistant|>") && has(s, n, "<|end|>")) return NT_CHAT_PHI3;
    /* AllenAI's templates end a user message with a newline ('\n' in the Jinja text), where
     * Zephyr's and TinyLlama's write eos_token or </s>. */
    if (has(s, n, "<|user|>") && has(s, n, "<|assistant|>") &&
        has(s, n, "'<|user|>\\n' + message['content'] + '\\n'"))
        return NT_CHAT_TULU;
    if (has(s, n, "<|user|>")) return NT_CHAT_ZEPHYR;
    if (has(s, n, "<start_of_turn>")) return NT_CHAT_GEMMA;
    if (has(s, n, "<|start_header_id|>") && has(s, n, "<|end_header_id|>")) return NT_CHAT_LLAMA3;
    if (has(s, n, DS3_ASSISTANT) && has(s, n, DS3_USER) && has(s, n, DS3_EOS)) return NT_CHAT_DEEPSEEK3;
    if (has(s, n, "<|start_of_role|>")) return NT_CHAT_GRANITE;
    return NT_CHAT_PLAIN;
}

enum nt_chat_family nt_chat_detect(const char *jinja)
{
    return jinja ? detect_n(jinja, strlen(jinja)) : NT_CHAT_PLAIN;
}

enum nt_chat_family nt_chat_detect_gguf(const nt_gguf *g)
{
    nt_gguf_str s = {0};
    if (!g || nt_gguf_get_str(g, "tokenizer.chat_template", &s, NULL) != NT_OK) return NT_CHAT_PLAIN;
    return detect_n(s.p, s.n);
}

/* ------------------------------------------------------------------------ formatting */

void nt_chat_prompt_free(nt_chat_prompt *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) free(p->v[i].text);
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

/* Appends text[0..len) as a run of the given kind, merged into the last run when that run
 * has the same kind. Empty text stores nothing. */
static int put_n(nt_chat_prompt *p, bool special, const char *text, size_t len)
{
    if (len == 0) return NT_OK;
    if (p->n > 0 && p->v[p->n - 1].special == special) {
        nt_chat_piece *last = &p->v[p->n - 1];
        size_t old = strlen(last->text);
        char *t = realloc(last->text, old + len + 1);
        if (!t) return NT_ERR_NOMEM;
        memcpy(t + old, text, len);
        t[old + len] = '\0';
        last->text = t;
        return NT_OK;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        nt_chat_piece *v = realloc(p->v, cap * sizeof *v);
        if (!v) return NT_ERR_NOMEM;
        p->v = v;
        p->cap = cap;
    }
    char *t = malloc(len + 1);
    if (!t) return NT_ERR_NOMEM;
    memcpy(t, text, len);
    t[len] = '\0';
    p->v[p->n].text = t;
    p->v[p->n].special = special;
    p->n++;
    return NT_OK;
}

/* Markup and message text. Each returns NT_OK or NT_ERR_NOMEM. */
static int mk(nt_chat_prompt *p, const char *s) { return put_n(p, true, s, strlen(s)); }
static int tx(nt_chat_prompt *p, const char *s) { return put_n(p, false, s, strlen(s)); }

/* Message text with leading and trailing ASCII whitespace removed (llama.cpp's trim, used by
 * the Llama 3 and Gemma families). */
static int tx_trim(nt_chat_prompt *p, const char *s)
{
    size_t a = 0, b = strlen(s);
    while (a < b && isspace((unsigned char)s[a])) a++;
    while (b > a && isspace((unsigned char)s[b - 1])) b--;
    return put_n(p, false, s + a, b - a);
}

/* One message: markup, the text (trimmed or not), markup. */
static int turn(nt_chat_prompt *p, const char *pre, const char *text, bool trim, const char *post)
{
    int rc = mk(p, pre);
    if (rc == NT_OK) rc = trim ? tx_trim(p, text) : tx(p, text);
    if (rc == NT_OK) rc = mk(p, post);
    return rc;
}

/* The families that wrap every message the same way: an opening per role, the text (trimmed
 * or not), a closing after it (the system message's may differ); the answer opens like an
 * assistant message, unless gen_open says otherwise. */
typedef struct tagged_fmt {
    const char *open[3];        /* by enum nt_chat_role */
    const char *close;
    const char *close_system;   /* NULL: the same as close */
    const char *gen_open;       /* NULL: open[NT_ROLE_ASSISTANT] */
    bool trim;
    const char *close_assistant; /* NULL: the same as close */
} tagged_fmt;

static const tagged_fmt tagged_fmts[NT_CHAT_FAMILY_COUNT_] = {
    /* <|im_start|>role\ncontent<|im_end|>\n */
    [NT_CHAT_CHATML] = {{"<|im_start|>system\n", "<|im_start|>user\n", "<|im_start|>assistant\n"},
                        "<|im_end|>\n", NULL, NULL, false},
    /* <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>, content trimmed */
    [NT_CHAT_LLAMA3] = {{"<|start_header_id|>system<|end_header_id|>\n\n",
                         "<|start_header_id|>user<|end_header_id|>\n\n",
                         "<|start_header_id|>assistant<|end_header_id|>\n\n"},
                        "<|eot_id|>", NULL, NULL, true},
    /* <|role|>\ncontent END with END "</s>\n" (Zephyr) or "<|end|>\n" (Phi-3) */
    [NT_CHAT_ZEPHYR] = {{"<|system|>\n", "<|user|>\n", "<|assistant|>\n"}, "</s>\n", NULL, NULL, false},
    [NT_CHAT_PHI3] = {{"<|system|>\n", "<|user|>\n", "<|assistant|>\n"}, "<|end|>\n", NULL, NULL, false},
    /* <|im_start|>role<|im_sep|>content<|im_end|> (Phi-4: no newlines) */
    [NT_CHAT_PHI4] = {{"<|im_start|>system<|im_sep|>", "<|im_start|>user<|im_sep|>",
                       "<|im_start|>assistant<|im_sep|>"},
                      "<|im_end|>", NULL, NULL, false},
    /* IBM Granite 3.x and 4.x: <|start_of_role|>role<|end_of_role|>content<|end_of_text|>\n */
    [NT_CHAT_GRANITE] = {{"<|start_of_role|>system<|end_of_role|>", "<|start_of_role|>user<|end_of_role|>",
                          "<|start_of_role|>assistant<|end_of_role|>"},
                         "<|end_of_text|>\n", NULL, NULL, false},
    /* The documented fallback: "System: S\n\n", "User: U\n", "Assistant: A\n"; the answer opens
     * with "Assistant:" and no space (the answer's first token carries its own). */
    [NT_CHAT_PLAIN] = {{"System: ", "User: ", "Assistant: "}, "\n", "\n\n", "Assistant:", false},
    /* Tülu 3 and OLMo 2 Instruct (AllenAI): Zephyr's openings, but a message ends with a
     * newline and an answer with the end-of-text token first. */
    [NT_CHAT_TULU] = {{"<|system|>\n", "<|user|>\n", "<|assistant|>\n"}, "\n", NULL, NULL, false,
                      "<|endoftext|>\n"},
};

static int fmt_tagged(const tagged_fmt *t, const nt_chat_msg *m, size_t n, bool gen, nt_chat_prompt *p)
{
    int rc = NT_OK;
    for (size_t i = 0; i < n && rc == NT_OK; i++) {
        const char *close = m[i].role == NT_ROLE_SYSTEM && t->close_system ? t->close_system
                            : m[i].role == NT_ROLE_ASSISTANT && t->close_assistant ? t->close_assistant
                                                                                   : t->close;
        rc = turn(p, t->open[m[i].role], m[i].content, t->trim, close);
    }
    if (rc == NT_OK && gen) rc = mk(p, t->gen_open ? t->gen_open : t->open[NT_ROLE_ASSISTANT]);
    return rc;
}

/* Llama 2 and Mistral. The prompt opens with "[INST] " before the first message and reopens
 * after each answer; "[/INST]" already opens the answer, so add_generation adds nothing.
 * Llama 2 (llama.cpp's "llama2-sys-strip", what it picks for Meta's template, which strips
 * every content) wraps the system prompt in <<SYS>>; Mistral (llama.cpp's "llama2", what it
 * picks for Mistral's templates without <<SYS>>) has no system role, so the system text and a
 * newline open the first user message. */
static int fmt_inst(const nt_chat_msg *m, size_t n, bool llama2, nt_chat_prompt *p)
{
    int rc = mk(p, "[INST] ");
    bool inside = true;
    for (size_t i = 0; i < n && rc == NT_OK; i++) {
        if (!inside && (rc = mk(p, "[INST] ")) != NT_OK) break;
        inside = true;
        const char *c = m[i].content;
        switch (m[i].role) {
        case NT_ROLE_SYSTEM:
            rc = llama2 ? turn(p, "<<SYS>>\n", c, true, "\n<</SYS>>\n\n") : turn(p, "", c, false, "\n");
            break;
        case NT_ROLE_USER:
            rc = turn(p, "", c, llama2, " [/INST]");
            break;
        default:
            rc = turn(p, "", c, llama2, "</s>");
            inside = false;
            break;
        }
    }
    return rc;
}

/* Gemma has no system role: system texts (trimmed, concatenated) open the next user turn,
 * followed by a blank line. The assistant's role is "model". Contents are trimmed. */
static int fmt_gemma(const nt_chat_msg *m, size_t n, bool gen, nt_chat_prompt *p)
{
    int rc = NT_OK;
    size_t sys_from = 0;  /* system messages waiting for a user turn lie in [sys_from, i) */
    bool sys_wait = false;
    for (size_t i = 0; i < n && rc == NT_OK; i++) {
        if (m[i].role == NT_ROLE_SYSTEM) {
            if (!sys_wait) sys_from = i;
            sys_wait = true;
            continue;
        }
        if (m[i].role == NT_ROLE_ASSISTANT) {
            rc = turn(p, "<start_of_turn>model\n", m[i].content, true, "<end_of_turn>\n");
            continue;
        }
        rc = mk(p, "<start_of_turn>user\n");
        if (sys_wait) {
            for (size_t j = sys_from; j < i && rc == NT_OK; j++)
                if (m[j].role == NT_ROLE_SYSTEM) rc = tx_trim(p, m[j].content);
            if (rc == NT_OK) rc = mk(p, "\n\n");
            sys_wait = false;
        }
        if (rc == NT_OK) rc = turn(p, "", m[i].content, true, "<end_of_turn>\n");
    }
    if (rc == NT_OK && gen) rc = mk(p, "<start_of_turn>model\n");
    return rc;
}

/* Mistral v7: [SYSTEM_PROMPT]S[/SYSTEM_PROMPT][INST]U[/INST]A</s>, with a space after each
 * opening tag and before each answer in the original v7, none in v7-tekken. The answer follows
 * [/INST] directly, so add_generation adds nothing. */
static int fmt_mistral_v7(const nt_chat_msg *m, size_t n, bool space, nt_chat_prompt *p)
{
    const char *sp = space ? " " : "";
    char sys[32], inst[32];
    snprintf(sys, sizeof sys, "[SYSTEM_PROMPT]%s", sp);
    snprintf(inst, sizeof inst, "[INST]%s", sp);
    int rc = NT_OK;
    for (size_t i = 0; i < n && rc == NT_OK; i++) {
        if (m[i].role == NT_ROLE_SYSTEM) rc = turn(p, sys, m[i].content, false, "[/SYSTEM_PROMPT]");
        else if (m[i].role == NT_ROLE_USER) rc = turn(p, inst, m[i].content, false, "[/INST]");
        else rc = turn(p, sp, m[i].content, false, "</s>");
    }
    return rc;
}

/* DeepSeek V3 and the R1 distills: S\n\n<｜User｜>U<｜Assistant｜>A<｜end▁of▁sentence｜>;
 * G: <｜Assistant｜>. */
static int fmt_deepseek3(const nt_chat_msg *m, size_t n, bool gen, nt_chat_prompt *p)
{
    int rc = NT_OK;
    for (size_t i = 0; i < n && rc == NT_OK; i++) {
        if (m[i].role == NT_ROLE_SYSTEM) rc = turn(p, "", m[i].content, false, "\n\n");
        else if (m[i].role == NT_ROLE_USER) rc = turn(p, DS3_USER, m[i].content, false, "");
        else rc = turn(p, DS3_ASSISTANT, m[i].content, false, DS3_EOS);
    }
    if (rc == NT_OK && gen) rc = mk(p, DS3_ASSISTANT);
    return rc;
}

/* The part of an earlier answer that goes back into the prompt. Reasoning templates drop
 * what the model thought: Qwen3's (ChatML) keeps what follows the last "</think>" without its
 * leading newlines, DeepSeek R1's (deepseek3) what follows it as it is. Other families' templates
 * keep the whole text. */
static const char *answer_part(enum nt_chat_family f, const char *c)
{
    if (f != NT_CHAT_CHATML && f != NT_CHAT_DEEPSEEK3) return c;
    const char *end = NULL;
    for (const char *q = strstr(c, "</think>"); q; q = strstr(q + 1, "</think>")) end = q;
    if (!end) return c;
    end += strlen("</think>");
    if (f == NT_CHAT_CHATML)
        while (*end == '\n') end++;
    return end;
}

int nt_chat_format_opts(enum nt_chat_family f, const nt_chat_msg *msgs, size_t n, const nt_chat_opts *o,
                        nt_chat_prompt *out, nt_err *err)
{
    if (!out || !o || (n > 0 && !msgs))
        return nt_err_set(err, NT_ERR_INVALID, "nt_chat_format: no %s", !out ? "output" : !o ? "options" : "messages");
    if ((int)f < 0 || f >= NT_CHAT_FAMILY_COUNT_)
        return nt_err_set(err, NT_ERR_INVALID, "nt_chat_format: unknown family %d", (int)f);
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].content)
            return nt_err_set(err, NT_ERR_INVALID, "nt_chat_format: message %zu has no content", i);
        if ((int)msgs[i].role < 0 || msgs[i].role > NT_ROLE_ASSISTANT)
            return nt_err_set(err, NT_ERR_INVALID, "nt_chat_format: message %zu has role %d", i,
                              (int)msgs[i].role);
    }
    nt_chat_msg *m = n ? malloc(n * sizeof *m) : NULL;
    if (n && !m) return nt_err_set(err, NT_ERR_NOMEM, "nt_chat_format: out of memory");
    for (size_t i = 0; i < n; i++) {
        m[i] = msgs[i];
        if (m[i].role == NT_ROLE_ASSISTANT) m[i].content = answer_part(f, m[i].content);
    }
    bool gen = o->add_generation;
    int rc;
    switch (f) {
    case NT_CHAT_LLAMA2: rc = fmt_inst(m, n, true, out); break;
    case NT_CHAT_MISTRAL: rc = fmt_inst(m, n, false, out); break;
    case NT_CHAT_GEMMA: rc = fmt_gemma(m, n, gen, out); break;
    case NT_CHAT_MISTRAL_V7: rc = fmt_mistral_v7(m, n, true, out); break;
    case NT_CHAT_MISTRAL_V7_TEKKEN: rc = fmt_mistral_v7(m, n, false, out); break;
    case NT_CHAT_DEEPSEEK3: rc = fmt_deepseek3(m, n, gen, out); break;
    default: rc = fmt_tagged(&tagged_fmts[f], m, n, gen, out); break;
    }
    /* Thinking switched off, the way Qwen3's template does it (enable_thinking=false): the
     * answer opens with an empty thinking block, so the model writes the answer at once. */
    if (rc == NT_OK && gen && o->think == 0 && f == NT_CHAT_CHATML) rc = mk(out, "<think>\n\n</think>\n\n");
    free(m);
    if (rc != NT_OK)
        return nt_err_set(err, rc, "nt_chat_format: out of memory formatting %zu messages (%s)", n,
                          chat_names[f]);
    return NT_OK;
}

int nt_chat_format(enum nt_chat_family f, const nt_chat_msg *msgs, size_t n, bool add_generation,
                nt_chat_prompt *out, nt_err *err)
{
    nt_chat_opts o = {add_generation, -1};
    return nt_chat_format_opts(f, msgs, n, &o, out, err);
}

bool nt_chat_think_switch(const char *jinja)
{
    return jinja && strstr(jinja, "enable_thinking") && strstr(jinja, "<|im_start|>");
}

bool nt_chat_think_switch_gguf(const nt_gguf *g)
{
    nt_gguf_str s = {0};
    if (!g || nt_gguf_get_str(g, "tokenizer.chat_template", &s, NULL) != NT_OK) return false;
    return has(s.p, s.n, "enable_thinking") && has(s.p, s.n, "<|im_start|>");
}

char *nt_chat_prompt_text(const nt_chat_prompt *p)
{
    size_t len = 0;
    for (size_t i = 0; p && i < p->n; i++) len += strlen(p->v[i].text);
    char *s = malloc(len + 1);
    if (!s) return NULL;
    size_t at = 0;
    for (size_t i = 0; p && i < p->n; i++) {
        size_t m = strlen(p->v[i].text);
        memcpy(s + at, p->v[i].text, m);
        at += m;
    }
    s[at] = '\0';
    return s;
}

/* ---------------------------------------------------------------------- tokenization */

/* A control token's stored text, for matching inside markup. */
typedef struct ctl_tok {
    const char *p;
    size_t n;
    int32_t id;
    int rstrip; /* -1 not probed yet, else whether the tokenizer drops whitespace after it */
} ctl_tok;

/* Longest first, so "<|im_start|>" wins over a shorter control that is its prefix (llama.cpp
 * partitions with its special tokens ordered by length the same way); ties by id. */
static int ctl_cmp(const void *a, const void *b)
{
    const ctl_tok *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Raw text waiting to be encoded: everything since the last control token. */
typedef struct rawbuf {
    char *p;
    size_t n, cap;
    bool skip_ws; /* the last control token strips the whitespace that follows it */
} rawbuf;

static bool is_ws(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static int raw_add(rawbuf *r, const char *s, size_t n)
{
    if (r->skip_ws) {
        while (n > 0 && is_ws(*s)) s++, n--;
        if (n > 0) r->skip_ws = false;
    }
    if (r->n + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < r->n + n + 1) cap *= 2;
        char *p = realloc(r->p, cap);
        if (!p) return NT_ERR_NOMEM;
        r->p = p;
        r->cap = cap;
    }
    memcpy(r->p + r->n, s, n);
    r->n += n;
    return NT_OK;
}

/* Encodes the pending raw text without special parsing (a SentencePiece tokenizer adds its
 * leading space to each such piece, exactly as llama.cpp does for every raw fragment that
 * follows a special token). */
static int raw_flush(const nt_tokenizer *t, rawbuf *r, nt_tokens *out, nt_err *err)
{
    if (r->n == 0) return NT_OK;
    int rc = nt_tokenizer_encode(t, r->p, r->n, 0, out, err);
    r->n = 0;
    return rc;
}

/* Whether the tokenizer strips the whitespace after control token c (Phi-3's tokens are
 * marked so, as in Hugging Face's rstrip): probed once per call and token by encoding the
 * token followed by a space with special parsing: a lone id means the space was dropped. */
static int ctl_rstrip(const nt_tokenizer *t, ctl_tok *c, nt_err *err)
{
    if (c->rstrip >= 0) return NT_OK;
    char buf[256];
    c->rstrip = 0;
    if (c->n + 1 >= sizeof buf) return NT_OK;
    memcpy(buf, c->p, c->n);
    buf[c->n] = ' ';
    nt_tokens probe = {0};
    int rc = nt_tokenizer_encode(t, buf, c->n + 1, NT_TOK_PARSE_SPECIAL, &probe, err);
    if (rc == NT_OK) c->rstrip = probe.n == 1 && probe.v[0] == c->id;
    nt_tokens_free(&probe);
    return rc;
}

int nt_chat_tokenize(const nt_tokenizer *t, const nt_chat_prompt *p, bool add_bos, nt_tokens *out,
                  nt_err *err)
{
    if (!t || !p || !out) return nt_err_set(err, NT_ERR_INVALID, "nt_chat_tokenize: NULL argument");
    int rc = NT_OK;
    ctl_tok *ctl = NULL;
    size_t nctl = 0;
    rawbuf raw = {0};
    size_t start = out->n;
    int32_t bos = nt_tokenizer_bos(t);
    int32_t nv = nt_tokenizer_n_vocab(t);

    /* The control tokens, gathered per call: a prompt is tokenized once per turn, and a scan
     * of the vocabulary costs far less than the forward pass that follows. */
    for (int32_t id = 0; id < nv; id++) {
        if (!nt_tokenizer_is_control(t, id)) continue;
        nt_gguf_str s = nt_tokenizer_piece(t, id);
        if (s.n == 0) continue;
        if (nctl % 64 == 0) {
            ctl_tok *c = realloc(ctl, (nctl + 64) * sizeof *c);
            if (!c) {
                rc = nt_err_set(err, NT_ERR_NOMEM, "nt_chat_tokenize: out of memory");
                goto fail;
            }
            ctl = c;
        }
        ctl[nctl++] = (ctl_tok){s.p, s.n, id, -1};
    }
    if (nctl > 1) qsort(ctl, nctl, sizeof *ctl, ctl_cmp);

    if (add_bos && bos >= 0 && (rc = nt_tokens_push(out, bos)) != NT_OK) {
        nt_err_set(err, rc, "nt_chat_tokenize: out of memory");
        goto fail;
    }

    for (size_t i = 0; i < p->n; i++) {
        const char *s = p->v[i].text;
        size_t n = strlen(s);
        if (!p->v[i].special) {
            if ((rc = raw_add(&raw, s, n)) != NT_OK) goto nomem;
            continue;
        }
        size_t at = 0, from = 0;
        while (at < n) {
            ctl_tok *hit = NULL;
            for (size_t k = 0; k < nctl; k++) {
                if (ctl[k].n <= n - at && ctl[k].p[0] == s[at] &&
                    memcmp(ctl[k].p, s + at, ctl[k].n) == 0) {
                    hit = &ctl[k];
                    break;
                }
            }
            if (!hit) {
                at++;
                continue;
            }
            if ((rc = raw_add(&raw, s + from, at - from)) != NT_OK) goto nomem;
            if ((rc = raw_flush(t, &raw, out, err)) != NT_OK) goto fail;
            if ((rc = nt_tokens_push(out, hit->id)) != NT_OK) goto nomem;
            if ((rc = ctl_rstrip(t, hit, err)) != NT_OK) goto fail;
            raw.skip_ws = hit->rstrip == 1; /* across runs, like whole-text tokenization */
            at += hit->n;
            from = at;
        }
        if ((rc = raw_add(&raw, s + from, n - from)) != NT_OK) goto nomem;
    }
    if ((rc = raw_flush(t, &raw, out, err)) != NT_OK) goto fail;

    /* BOS once: markup that itself starts with the BOS control token keeps only one. */
    if (add_bos && bos >= 0 && out->n >= start + 2 && out->v[start + 1] == bos) {
        memmove(out->v + start + 1, out->v + start + 2, (out->n - start - 2) * sizeof *out->v);
        out->n--;
    }
    free(raw.p);
    free(ctl);
    return NT_OK;

nomem:
    rc = nt_err_set(err, NT_ERR_NOMEM, "nt_chat_tokenize: out of memory");
fail:
    out->n = start; /* nothing half-appended */
    free(raw.p);
    free(ctl);
    return rc;
}
