/* session_write.c — a session written out: the YAML file (session_to_yaml, through libyaml's
 * emitter: block scalars for readable, diff-friendly text, !!binary for bytes that are not
 * UTF-8, so every text reads back byte for byte), the atomic private save (session_save) and the Markdown and
 * JSON exports (see session.h; the format is man/natter-session.5). */
#include "session.h"
#include "session_int.h"
#include "util/json.h"
#include "util/strbuf.h"
#include "util/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ======================================================================= writer ===== */

static const char *role_name(enum nt_chat_role r)
{
    return r == NT_ROLE_ASSISTANT ? "assistant" : "user";
}

/* Characters a YAML stream may carry as they are (YAML 1.1's printable set, minus the line
 * breaks NEL/LS/PS that block scalars would reinterpret and the byte order mark). */
static bool yaml_plain_char(int32_t cp)
{
    if (cp == '\t' || cp == '\n') return true;
    if (cp < 0x20 || cp == 0x7F) return false;
    if (cp >= 0x80 && cp < 0xA0) return false;
    if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF) return false;
    return true;
}

#define YAML_BINARY_TAG "tag:yaml.org,2002:binary"

/* Bytes that are not UTF-8 as a !!binary value (base64), which the reader decodes. */
static bool emit_binary(yaml_emitter_t *e, const char *s)
{
    strbuf b = {0};
    strbuf_put_base64(&b, s, strlen(s));
    bool ok = !b.oom && ycfg_emit_scalar(e, YAML_BINARY_TAG, b.s ? b.s : "",
                                         YAML_DOUBLE_QUOTED_SCALAR_STYLE);
    strbuf_free(&b);
    return ok;
}

/* A text value, so that it reads back byte for byte: multi-line text a literal block where
 * YAML can carry it literally (readable and diff-friendly), other text double-quoted (libyaml
 * escapes what needs it), bytes that are not UTF-8 !!binary. */
static bool emit_text(yaml_emitter_t *e, const char *s)
{
    size_t n = strlen(s);
    if (!text_valid(s, n)) return emit_binary(e, s);
    bool block = memchr(s, '\n', n) != NULL;
    bool has_content = false;
    for (size_t i = 0; block && i < n;) {
        int32_t cp; /* valid UTF-8: checked above */
        int l = text_decode(s + i, n - i, &cp);
        if (!yaml_plain_char(cp)) block = false;
        if (cp != '\n') has_content = true;
        i += (size_t)l;
    }
    /* Lines of only blanks are ambiguous in block scalars (indentation or content?). */
    for (size_t i = 0; block && i < n;) {
        size_t end = i;
        while (end < n && s[end] != '\n') end++;
        size_t k = i;
        while (k < end && (s[k] == ' ' || s[k] == '\t')) k++;
        if (end > i && k == end) block = false;
        i = end + 1;
    }
    /* libyaml itself falls back to double quotes when a block cannot carry the text. */
    return ycfg_emit_scalar(e, NULL, s, block && has_content ? YAML_LITERAL_SCALAR_STYLE
                                                             : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

/* A single-line string value (names, paths): plain when it reads back as this string. */
static bool emit_str(yaml_emitter_t *e, const char *s)
{
    return text_valid(s, strlen(s)) ? ycfg_emit_str(e, s) : emit_binary(e, s);
}

/* One stop string: double-quoted (its escapes show "\n" and spaces plainly), or !!binary. */
static bool emit_stop(yaml_emitter_t *e, const char *s)
{
    return text_valid(s, strlen(s)) ? ycfg_emit_scalar(e, NULL, s, YAML_DOUBLE_QUOTED_SCALAR_STYLE)
                                    : emit_binary(e, s);
}

/* key: value pairs, the value a number or word written as it is. */
static bool emit_kv(yaml_emitter_t *e, const char *key, const char *fmt, ...) NT_PRINTF(3, 4);
static bool emit_kv(yaml_emitter_t *e, const char *key, const char *fmt, ...)
{
    char v[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    return ycfg_emit_plain(e, key) && ycfg_emit_plain(e, v);
}

static bool emit_answer(yaml_emitter_t *e, const chat_turn *t)
{
    bool ok = emit_kv(e, "seed", "%llu", (unsigned long long)t->params.seed);
    /* The start parameters on one line, in the table's order. */
    ok = ok && ycfg_emit_plain(e, "params") && ycfg_emit_map(e, true, true);
    const param_values pv = {.sp = t->params}, dflt = {.sp = nt_sampler_default_params()};
    unsigned mask = session_params_mask(false);
    for (size_t k = 0; ok && k < PARAM_COUNT; k++) {
        if (!(mask & (1u << k))) continue;
        /* the newer samplers' parameters only when used (params.h, PARAM_NEWER) */
        if ((PARAM_NEWER & (1u << k)) && param_equal(&param_defs[k], &pv, &dflt)) continue;
        char v[32];
        param_format(&param_defs[k], &pv, v, sizeof v);
        ok = ycfg_emit_plain(e, param_defs[k].name) && ycfg_emit_plain(e, v);
    }
    ok = ok && ycfg_emit_map(e, false, true);
    session_change *ch = NULL;
    int nch = session_changes(t, &ch);
    if (nch < 0) ok = false;
    if (ok && nch > 0) {
        ok = ycfg_emit_plain(e, "changes") && ycfg_emit_seq(e, true, false);
        for (int k = 0; ok && k < nch; k++)
            ok = ycfg_emit_map(e, true, true) && emit_kv(e, "at", "%d", ch[k].index) &&
                 emit_kv(e, "param", "%s", ch[k].param) && emit_kv(e, "value", "%s", ch[k].value) &&
                 ycfg_emit_map(e, false, true);
        ok = ok && ycfg_emit_seq(e, false, false);
    }
    free(ch);
    const char *end = t->end == GEN_END_EOG && t->stop_text ? GEN_END_STOP_STRING_KEY
                      : gen_end_key(t->end) ? gen_end_key(t->end)
                                            : gen_end_key(GEN_END_ERROR);
    ok = ok && emit_kv(e, "end", "%s", end);
    if (ok && t->error) ok = ycfg_emit_plain(e, "error") && emit_text(e, t->error);
    /* chat_turn_set_stops keeps every string 1 to GEN_STOP_LEN - 1 bytes: each is written
     * whole, as the reader takes it back. A short list stays on one line; many or long
     * strings take a line each. */
    size_t width = 0;
    for (size_t k = 0; k < t->n_stop; k++) width += strlen(t->stop[k]) + 4;
    ok = ok && ycfg_emit_plain(e, "stop") && ycfg_emit_seq(e, true, width <= 72);
    for (size_t k = 0; ok && k < t->n_stop; k++) ok = emit_stop(e, t->stop[k]);
    ok = ok && ycfg_emit_seq(e, false, width <= 72);
    ok = ok && emit_kv(e, "max_tokens", "%d", t->max_tokens);
    ok = ok && emit_kv(e, "token_count", "%zu", t->tokens.n);
    ok = ok && emit_kv(e, "tokens_per_sec", "%.2f", t->gen_sec > 0 ? (double)t->n_gen / t->gen_sec : 0.0);
    ok = ok && emit_kv(e, "prompt_tokens", "%d", t->n_prompt);
    ok = ok && emit_kv(e, "prompt_sec", "%.3f", t->prompt_sec);
    ok = ok && emit_kv(e, "gen_sec", "%.3f", t->gen_sec);
    ok = ok && emit_kv(e, "context_first", "%zu", t->first);
    if (t->prompt_len > 0) ok = ok && emit_kv(e, "prompt_length", "%d", t->prompt_len);
    /* The thinking switch its prompt was built with, when one was set (replay builds it so). */
    if (t->think != CHAT_THINK_DEFAULT) ok = ok && emit_kv(e, "think", "%s", chat_think_name(t->think));
    /* The retrieved passages its prompt placed, text and origin (a replay places them again
     * even when the files changed). */
    if (t->sources_intro && (t->n_sources || t->sources_intro[0]))
        ok = ok && ycfg_emit_plain(e, "sources_intro") && emit_text(e, t->sources_intro);
    if (t->n_sources) {
        ok = ok && ycfg_emit_plain(e, "sources") && ycfg_emit_seq(e, true, false);
        for (size_t k = 0; ok && k < t->n_sources; k++) {
            const chat_source *src = &t->sources[k];
            ok = ycfg_emit_map(e, true, false) && ycfg_emit_plain(e, "file") && emit_str(e, src->path) &&
                 emit_kv(e, "lines", "%d-%d", (int)src->line_a, (int)src->line_b);
            if (ok && src->title && src->title[0])
                ok = ycfg_emit_plain(e, "title") && emit_str(e, src->title);
            ok = ok && emit_kv(e, "score", "%.4f", src->score) && ycfg_emit_plain(e, "text") &&
                 emit_text(e, src->text) && ycfg_emit_map(e, false, false);
        }
        ok = ok && ycfg_emit_seq(e, false, false);
    }
    ok = ok && ycfg_emit_plain(e, "tokens") && ycfg_emit_seq(e, true, true);
    for (size_t k = 0; ok && k < t->tokens.n; k++) ok = ycfg_emit_long(e, t->tokens.v[k]);
    return ok && ycfg_emit_seq(e, false, true);
}

/* The order the messages are written in: the tree depth first, each group of alternatives
 * in the order they were made, so that a message follows the one before it in the file
 * unless it is a later alternative (then 'alternative_to' names the one before it in its
 * group). order[f] is the turn written f-th. malloc'd; NULL when out of memory. */
static size_t *session_tree_order(const session *s)
{
    size_t n = s->n_turns;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    size_t *stack = malloc((n + 1) * sizeof *stack); /* (node, next index to look at) pairs */
    size_t *scan = malloc((n + 1) * sizeof *scan);
    if (!order || !stack || !scan) {
        free(order);
        free(stack);
        free(scan);
        return NULL;
    }
    size_t top = 0, k = 0;
    stack[top] = CHAT_ROOT;
    scan[top++] = 0;
    while (top > 0) {
        size_t p = stack[top - 1], j = scan[top - 1];
        while (j < n && s->turns[j].parent != p) j++;
        if (j == n) {
            top--;
            continue;
        }
        scan[top - 1] = j + 1;
        order[k++] = j;
        stack[top] = j; /* a child comes after its parent: look from there on */
        scan[top++] = j + 1;
    }
    free(stack);
    free(scan);
    return order;
}

static bool emit_session(yaml_emitter_t *e, const session *s)
{
    char tbuf[32];
    bool ok = ycfg_emit_map(e, true, false) && emit_kv(e, "natter-session", "%d", SESSION_VERSION);
    session_format_time(s->created, tbuf);
    ok = ok && emit_kv(e, "created", "%s", tbuf);
    session_format_time(s->updated, tbuf);
    ok = ok && emit_kv(e, "updated", "%s", tbuf);
    ok = ok && ycfg_emit_plain(e, "model") && ycfg_emit_map(e, true, false);
    ok = ok && ycfg_emit_plain(e, "file") && emit_str(e, s->model.file ? s->model.file : "?");
    if (s->model.path && s->model.path[0]) ok = ok && ycfg_emit_plain(e, "path") && emit_str(e, s->model.path);
    ok = ok && emit_kv(e, "size", "%llu", (unsigned long long)s->model.size);
    char hash[32];
    session_model_hash_text(&s->model, hash);
    ok = ok && emit_kv(e, "hash", "%s", hash);
    if (!s->model.api_base && nt_kv_type_name(s->model.kv_type))
        ok = ok && emit_kv(e, "kv-type", "%s", nt_kv_type_name(s->model.kv_type));
    if (s->model.arch && s->model.arch[0]) ok = ok && ycfg_emit_plain(e, "arch") && emit_str(e, s->model.arch);
    if (s->model.name && s->model.name[0]) ok = ok && ycfg_emit_plain(e, "name") && emit_str(e, s->model.name);
    if (s->model.api_base) ok = ok && ycfg_emit_plain(e, "api-base") && emit_str(e, s->model.api_base);
    if (s->model.served) ok = ok && ycfg_emit_plain(e, "served-model") && emit_str(e, s->model.served);
    if (s->model.fingerprint)
        ok = ok && ycfg_emit_plain(e, "fingerprint") && emit_str(e, s->model.fingerprint);
    ok = ok && ycfg_emit_map(e, false, false);
    if (s->persona && s->persona[0]) ok = ok && ycfg_emit_plain(e, "persona") && emit_str(e, s->persona);
    if (s->theme && s->theme[0]) ok = ok && ycfg_emit_plain(e, "theme") && emit_str(e, s->theme);
    ok = ok && ycfg_emit_plain(e, "template") &&
         emit_str(e, nt_chat_family_name(s->family) ? nt_chat_family_name(s->family) : "plain");
    if (s->raw) ok = ok && emit_kv(e, "raw", "true");
    ok = ok && emit_kv(e, "context", "%d", s->n_ctx);
    ok = ok && emit_kv(e, "context_first", "%zu", s->first);
    ok = ok && ycfg_emit_plain(e, "system") && emit_text(e, s->system ? s->system : "");
    if (s->n_examples) {
        ok = ok && ycfg_emit_plain(e, "examples") && ycfg_emit_seq(e, true, false);
        for (size_t i = 0; ok && i < s->n_examples; i++)
            ok = ycfg_emit_map(e, true, false) && emit_kv(e, "role", "%s", role_name(s->examples[i].role)) &&
                 ycfg_emit_plain(e, "text") && emit_text(e, s->examples[i].text ? s->examples[i].text : "") &&
                 ycfg_emit_map(e, false, false);
        ok = ok && ycfg_emit_seq(e, false, false);
    }
    if (s->greeting) ok = ok && ycfg_emit_plain(e, "greeting") && emit_text(e, s->greeting);
    /* Said up front so a file cut short between two messages is caught. */
    ok = ok && emit_kv(e, "message_count", "%zu", s->n_turns);
    ok = ok && ycfg_emit_plain(e, "messages") && ycfg_emit_seq(e, true, false);
    /* The tree (BRANCHES in natter-session(5)): where each turn lands in the file, the last
     * written alternative of each group (slot parent + 1; 0 for the first questions) and the
     * size of each group. */
    size_t n = s->n_turns;
    /* A tree the reader would refuse is not written (it cannot come from a chat). */
    ok = ok && chat_turns_valid(s->turns, n, NULL, NULL);
    size_t *order = ok ? session_tree_order(s) : NULL;
    size_t *last = malloc((n + 1) * sizeof *last), *count = calloc(n + 1, sizeof *count);
    ok = ok && order && last && count;
    for (size_t i = 0; ok && i < n; i++) count[s->turns[i].parent == CHAT_ROOT ? 0 : s->turns[i].parent + 1]++;
    for (size_t i = 0; ok && i <= n; i++) last[i] = CHAT_ROOT;
    for (size_t f = 0; ok && f < n; f++) {
        const chat_turn *t = &s->turns[order[f]];
        size_t g = t->parent == CHAT_ROOT ? 0 : t->parent + 1;
        bool ans = t->role == NT_ROLE_ASSISTANT;
        ok = ycfg_emit_map(e, true, false) && emit_kv(e, "role", "%s", ans ? "assistant" : "user");
        if (ok && last[g] != CHAT_ROOT) ok = emit_kv(e, "alternative_to", "%zu", last[g]);
        if (ok && count[g] > 1 && t->current) ok = emit_kv(e, "current", "true");
        last[g] = f;
        if (ok && t->time) {
            session_format_time(t->time, tbuf);
            ok = emit_kv(e, "time", "%s", tbuf);
        }
        ok = ok && ycfg_emit_plain(e, "text") && emit_text(e, t->text ? t->text : "");
        if (ans) ok = ok && emit_answer(e, t);
        ok = ok && ycfg_emit_map(e, false, false);
    }
    free(order);
    free(last);
    free(count);
    ok = ok && ycfg_emit_seq(e, false, false);
    /* Last, so that a file cut short anywhere is caught (message_count alone misses a cut
     * inside the last message's text). */
    ok = ok && emit_kv(e, "complete", "true");
    return ok && ycfg_emit_map(e, false, false);
}

char *session_to_yaml(const session *s, size_t *len)
{
    strbuf b = {0};
    yaml_emitter_t e;
    /* No folding: every value stays on its line (a stop string can be found with grep),
     * multi-line text is a block. */
    bool ok = ycfg_emit_begin(&e, &b, "A natter session: regenerate its answers with `natter replay FILE`.\n"
                                      "Format: natter-session(5).", -1);
    ok = ycfg_emit_end(&e, ok && emit_session(&e, s));
    if (!ok || b.oom) {
        strbuf_free(&b);
        return NULL;
    }
    return strbuf_take(&b, len);
}

/* ======================================================================== saving ===== */

int session_save(session *s, const char *path, nt_err *err)
{
    struct stat st;
    bool own = s->path && !strcmp(s->path, path);
    if (!own && stat(path, &st) == 0) {
        ycfg_diag d = {0};
        session *old = NULL;
        int lrc = session_load(&old, path, NULL, &d);
        session_free(old);
        ycfg_diag_free(&d);
        if (lrc != NT_OK)
            return nt_err_set(err, NT_ERR_INVALID,
                              "%s: exists and is not a session natter can read: not replaced",
                              path);
    }
    size_t len;
    char *text = session_to_yaml(s, &len);
    if (!text) return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
    /* Always replaced (rename): the check above already refused anything not a session. */
    int rc = ycfg_write_atomic_mode(path, text, len, true, 0600, err);
    free(text);
    if (rc == NT_OK && !own) {
        char *p = strdup(path);
        if (p) {
            free(s->path);
            s->path = p;
        }
    }
    return rc;
}

/* ======================================================================= export ===== */

/* An answer's text split as the chat screen splits it (text_think_split): the thoughts
 * (think[0, *think_n), NULL when there are none) and what follows them. */
static const char *export_answer(const chat_turn *t, const char **think, size_t *think_n)
{
    const char *text = t->text ? t->text : "";
    text_think th = {0};
    if (t->role == NT_ROLE_ASSISTANT) text_think_split(text, strlen(text), &th);
    *think = th.end ? text + th.in_a : NULL;
    *think_n = th.end ? th.in_b - th.in_a : 0;
    return text + th.end;
}

char *session_export_md(const session *s, bool thinking)
{
    strbuf b = {0};
    char tbuf[32];
    session_format_time(s->created, tbuf);
    strbuf_printf(&b, "# natter session, %s\n\n", tbuf);
    strbuf_printf(&b, "- model: %s", s->model.file ? s->model.file : "?");
    if (s->model.arch && s->model.arch[0]) strbuf_printf(&b, " (%s)", s->model.arch);
    strbuf_puts(&b, "\n");
    if (s->persona) strbuf_printf(&b, "- persona: %s\n", s->persona);
    strbuf_printf(&b, "- template: %s\n", s->raw ? "none (raw)" : nt_chat_family_name(s->family));
    if (s->system && s->system[0]) {
        strbuf_puts(&b, "\n## System\n\n");
        strbuf_puts(&b, s->system);
        strbuf_puts(&b, "\n");
    }
    for (size_t i = 0; i < s->n_examples; i++) {
        strbuf_puts(&b, s->examples[i].role == NT_ROLE_ASSISTANT ? "\n## Example answer\n\n"
                                                                   : "\n## Example question\n\n");
        strbuf_puts(&b, s->examples[i].text ? s->examples[i].text : "");
        strbuf_puts(&b, "\n");
    }
    if (s->greeting) {
        strbuf_puts(&b, "\n## Assistant (greeting)\n\n");
        strbuf_puts(&b, s->greeting);
        strbuf_puts(&b, "\n");
    }
    /* The conversation as it stands: the current path (other branches stay in the session). */
    size_t np;
    size_t *path = session_path_turns(s, &np);
    if (!path) {
        strbuf_free(&b);
        return NULL;
    }
    for (size_t i = 0; i < np; i++) {
        const chat_turn *t = &s->turns[path[i]];
        bool ans = t->role == NT_ROLE_ASSISTANT;
        strbuf_puts(&b, ans ? "\n## Assistant\n\n" : "\n## User\n\n");
        const char *think;
        size_t think_n;
        const char *answer = export_answer(t, &think, &think_n);
        if (think && thinking) {
            /* The thoughts as a quotation, line by line, before the answer. */
            strbuf_puts(&b, "> *Thinking:*\n>\n");
            for (size_t k = 0; k < think_n;) {
                const char *nl = memchr(think + k, '\n', think_n - k);
                size_t ln = nl ? (size_t)(nl - think) - k : think_n - k;
                strbuf_puts(&b, ln ? "> " : ">");
                strbuf_put(&b, think + k, ln);
                strbuf_puts(&b, "\n");
                k += ln + 1;
            }
            strbuf_puts(&b, "\n");
        }
        strbuf_puts(&b, answer);
        if (think && !answer[0]) strbuf_puts(&b, "*(the answer ended while the model was thinking)*");
        strbuf_puts(&b, "\n");
        if (ans) {
            strbuf_printf(&b, "\n*seed %llu, %zu tokens", (unsigned long long)t->params.seed,
                          t->tokens.n);
            if (t->gen_sec > 0) strbuf_printf(&b, ", %.1f tokens/s", (double)t->n_gen / t->gen_sec);
            if (t->n_changes)
                strbuf_printf(&b, ", %zu live change%s", t->n_changes,
                              t->n_changes == 1 ? "" : "s");
            strbuf_puts(&b, "*\n");
            for (size_t k = 0; k < t->n_sources; k++) {
                char label[1200];
                chat_source_label(&t->sources[k], label, sizeof label);
                strbuf_printf(&b, "%s`%s` (%.2f)", k ? ", " : "\nSources: ", label,
                              t->sources[k].score);
            }
            if (t->n_sources) strbuf_puts(&b, "\n");
            char *notice = chat_turn_notice(t);
            if (notice) strbuf_printf(&b, "\nSources: %s\n", notice);
            free(notice);
        }
    }
    free(path);
    return strbuf_take(&b, NULL);
}

/* The "role" and "content" of a message object being written; an answer's thoughts leave
 * its content and, when thinking is set, go to "reasoning_content" (the field OpenAI-style
 * servers for reasoning models use). */
static void put_fields(json_writer *w, const char *role, const chat_turn *t, bool thinking)
{
    const char *think;
    size_t think_n;
    const char *content = export_answer(t, &think, &think_n);
    json_w_key(w, "role");
    json_w_string(w, role);
    json_w_key(w, "content");
    json_w_string(w, content);
    if (think && thinking) {
        json_w_key(w, "reasoning_content");
        json_w_string_n(w, think, think_n);
    }
}

/* One {"role": ..., "content": ...} object. */
static void put_message(json_writer *w, const char *role, const char *content)
{
    json_w_begin_object(w);
    json_w_key(w, "role");
    json_w_string(w, role);
    json_w_key(w, "content");
    json_w_string(w, content ? content : "");
    json_w_end_object(w);
}

char *session_export_json(const session *s, bool thinking)
{
    json_writer w = {0};
    w.pretty = true;
    json_w_begin_array(&w);
    if (s->system && s->system[0]) put_message(&w, "system", s->system);
    /* The fixed part as the model read it: the examples, then the greeting. */
    for (size_t i = 0; i < s->n_examples; i++)
        put_message(&w, role_name(s->examples[i].role), s->examples[i].text);
    if (s->greeting) put_message(&w, "assistant", s->greeting);
    size_t np;
    size_t *path = session_path_turns(s, &np);
    if (!path) {
        json_writer_free(&w);
        return NULL;
    }
    for (size_t i = 0; i < np; i++) {
        const chat_turn *t = &s->turns[path[i]];
        json_w_begin_object(&w);
        put_fields(&w, role_name(t->role), t, thinking);
        if (!t->n_sources) {
            json_w_end_object(&w);
            continue;
        }
        /* An answer from retrieved passages: where they came from, next to the message. */
        json_w_key(&w, "sources");
        json_w_begin_array(&w);
        for (size_t k = 0; k < t->n_sources; k++) {
            json_w_begin_object(&w);
            json_w_key(&w, "file");
            json_w_string(&w, t->sources[k].path);
            json_w_key(&w, "line_first");
            json_w_int(&w, t->sources[k].line_a);
            json_w_key(&w, "line_last");
            json_w_int(&w, t->sources[k].line_b);
            json_w_key(&w, "score");
            json_w_double(&w, t->sources[k].score);
            json_w_end_object(&w);
        }
        json_w_end_array(&w);
        json_w_end_object(&w);
    }
    free(path);
    json_w_end_array(&w);
    size_t len;
    char *out = json_writer_finish(&w, &len);
    if (!out) return NULL;
    char *o2 = realloc(out, len + 2);
    if (!o2) {
        free(out);
        return NULL;
    }
    o2[len] = '\n';
    o2[len + 1] = '\0';
    return o2;
}

int session_export_file(const session *s, const char *format, bool thinking, const char *path,
                        nt_err *err)
{
    bool json = !strcmp(format, "json");
    if (!json && strcmp(format, "md") && strcmp(format, "markdown"))
        return nt_err_set(err, NT_ERR_INVALID, "'%s' is not md or json", format);
    char *text = json ? session_export_json(s, thinking) : session_export_md(s, thinking);
    if (!text) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    int rc = ycfg_write_atomic(path, text, strlen(text), true, err);
    free(text);
    return rc;
}
