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
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ names, detection */

static const char *const chat_names[NT_CHAT_FAMILY_COUNT_] = {
    [NT_CHAT_PLAIN] = "plain",   [NT_CHAT_CHATML] = "chatml", [NT_CHAT_LLAMA2] = "llama2",
    [NT_CHAT_LLAMA3] = "llama3", [NT_CHAT_ZEPHYR] = "zephyr", [NT_CHAT_PHI3] = "phi3",
    [NT_CHAT_GEMMA] = "gemma",   [NT_CHAT_MISTRAL] = "mistral",
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
    /* The order matters: Phi-4 and SmolVLM also contain <|im_start|> (closest: ChatML);
     * Phi-3 contains <|user|> too, so it must be tested before Zephyr. llama.cpp sends
     * templates with both <|user|> and <|assistant|> but no literal "</s>" (TinyLlama's, which
     * writes eos_token) to GLM-Edge; natter has no GLM family and formats them as Zephyr. */
    if (has(s, n, "<|im_start|>")) return NT_CHAT_CHATML;
    if ((n >= 7 && memcmp(s, "mistral", 7) == 0) || has(s, n, "[INST]"))
        return has(s, n, "<<SYS>>") ? NT_CHAT_LLAMA2 : NT_CHAT_MISTRAL;
    if (has(s, n, "<|assistant|>") && has(s, n, "<|end|>")) return NT_CHAT_PHI3;
    if (has(s, n, "<|user|>")) return NT_CHAT_ZEPHYR;
    if (has(s, n, "<start_of_turn>")) return NT_CHAT_GEMMA;
    if (has(s, n, "<|start_header_id|>") && has(s, n, "<|end_header_id|>")) return NT_CHAT_LLAMA3;
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

/* <|im_start|>role\ncontent<|im_end|>\n */
static int fmt_chatml(const nt_chat_msg *m, size_t n, bool gen, nt_chat_prompt *p)
{
    static const char *const open[] = {
        [NT_ROLE_SYSTEM] = "<|im_start|>system\n",
        [NT_ROLE_USER] = "<|im_start|>user\n",
        [NT_ROLE_ASSISTANT] = "<|im_start|>assistant\n",
    };
    int rc = NT_OK;
    for (size_t i = 0; i < n && rc == NT_OK; i++)
        rc = turn(p, open[m[i].role], m[i].content, false, "<|im_end|>\n");
    if (rc == NT_OK && gen) rc = mk(p, "<|im_start|>assistant\n");
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

/* <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>, content trimmed. */
static int fmt_llama3(const nt_chat_msg *m, size_t n, bool gen, nt_chat_prompt *p)
{
    static const char *const open[] = {
        [NT_ROLE_SYSTEM] = "<|start_header_id|>system<|end_header_id|>\n\n",
        [NT_ROLE_USER] = "<|start_header_id|>user<|end_header_id|>\n\n",
        [NT_ROLE_ASSISTANT] = "<|start_header_id|>assistant<|end_header_id|>\n\n",
    };
    int rc = NT_OK;
    for (size_t i = 0; i < n && rc == NT_OK; i++)
        rc = turn(p, open[m[i].role], m[i].content, true, "<|eot_id|>");
    if (rc == NT_OK && gen) rc = mk(p, open[NT_ROLE_ASSISTANT]);
    return rc;
}

/* <|role|>\ncontent END\n with END "</s>" (Zephyr) or "<|end|>\n" (Phi-3). */
static int fmt_pipe(const nt_chat_msg *m, size_t n, bool gen, const char *end, nt_chat_prompt *p)
{
    static const char *const open[] = {
        [NT_ROLE_SYSTEM] = "<|system|>\n",
        [NT_ROLE_USER] = "<|user|>\n",
        [NT_ROLE_ASSISTANT] = "<|assistant|>\n",
    };
    int rc = NT_OK;
    for (size_t i = 0; i < n && rc == NT_OK; i++)
        rc = turn(p, open[m[i].role], m[i].content, false, end);
    if (rc == NT_OK && gen) rc = mk(p, open[NT_ROLE_ASSISTANT]);
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

/* The documented fallback: "System: S\n\n", "User: U\n", "Assistant: A\n", "Assistant:". */
static int fmt_plain(const nt_chat_msg *m, size_t n, bool gen, nt_chat_prompt *p)
{
    static const char *const open[] = {
        [NT_ROLE_SYSTEM] = "System: ",
        [NT_ROLE_USER] = "User: ",
        [NT_ROLE_ASSISTANT] = "Assistant: ",
    };
    int rc = NT_OK;
    for (size_t i = 0; i < n && rc == NT_OK; i++)
        rc = turn(p, open[m[i].role], m[i].content, false,
                  m[i].role == NT_ROLE_SYSTEM ? "\n\n" : "\n");
    if (rc == NT_OK && gen) rc = mk(p, "Assistant:");
    return rc;
}

int nt_chat_format(enum nt_chat_family f, const nt_chat_msg *msgs, size_t n, bool add_generation,
                nt_chat_prompt *out, nt_err *err)
{
    if (!out || (n > 0 && !msgs))
        return nt_err_set(err, NT_ERR_INVALID, "nt_chat_format: no %s", out ? "messages" : "output");
    if ((int)f < 0 || f >= NT_CHAT_FAMILY_COUNT_)
        return nt_err_set(err, NT_ERR_INVALID, "nt_chat_format: unknown family %d", (int)f);
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].content)
            return nt_err_set(err, NT_ERR_INVALID, "nt_chat_format: message %zu has no content", i);
        if ((int)msgs[i].role < 0 || msgs[i].role > NT_ROLE_ASSISTANT)
            return nt_err_set(err, NT_ERR_INVALID, "nt_chat_format: message %zu has role %d", i,
                              (int)msgs[i].role);
    }
    int rc;
    switch (f) {
    case NT_CHAT_CHATML: rc = fmt_chatml(msgs, n, add_generation, out); break;
    case NT_CHAT_LLAMA2: rc = fmt_inst(msgs, n, true, out); break;
    case NT_CHAT_MISTRAL: rc = fmt_inst(msgs, n, false, out); break;
    case NT_CHAT_LLAMA3: rc = fmt_llama3(msgs, n, add_generation, out); break;
    case NT_CHAT_ZEPHYR: rc = fmt_pipe(msgs, n, add_generation, "</s>\n", out); break;
    case NT_CHAT_PHI3: rc = fmt_pipe(msgs, n, add_generation, "<|end|>\n", out); break;
    case NT_CHAT_GEMMA: rc = fmt_gemma(msgs, n, add_generation, out); break;
    default: rc = fmt_plain(msgs, n, add_generation, out); break;
    }
    if (rc != NT_OK)
        return nt_err_set(err, rc, "nt_chat_format: out of memory formatting %zu messages (%s)", n,
                          chat_names[f]);
    return NT_OK;
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
