/* session_write.c — a session written out: the YAML file (session_to_yaml: block scalars
 * for readable, diff-friendly text, !!binary for bytes that are not UTF-8, so every text
 * reads back byte for byte), the atomic private save (session_save) and the Markdown and
 * JSON exports (see session.h; the format is man/natter-session.5). */
#include "session.h"
#include "session_int.h"
#include "util/json.h"
#include "util/strbuf.h"
#include "util/text.h"

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

static void put_quoted(strbuf *b, const char *s, size_t n)
{
    strbuf_puts(b, "\"");
    for (size_t i = 0; i < n;) {
        int32_t cp; /* callers pass valid UTF-8 only */
        int l = text_decode(s + i, n - i, &cp);
        if (cp == '"') strbuf_puts(b, "\\\"");
        else if (cp == '\\') strbuf_puts(b, "\\\\");
        else if (cp == '\n') strbuf_puts(b, "\\n");
        else if (cp == '\t') strbuf_puts(b, "\\t");
        else if (cp == '\r') strbuf_puts(b, "\\r");
        else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
            strbuf_printf(b, "\\x%02X", (unsigned)cp);
        else if (!yaml_plain_char(cp)) strbuf_printf(b, "\\u%04X", (unsigned)cp);
        else strbuf_put(b, s + i, (size_t)l);
        i += (size_t)l;
    }
    strbuf_puts(b, "\"");
}


static void put_base64(strbuf *b, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        const char *a = session_b64;
        char q[4] = {a[v >> 18 & 63], a[v >> 12 & 63], i + 1 < n ? a[v >> 6 & 63] : '=',
                     i + 2 < n ? a[v & 63] : '='};
        strbuf_put(b, q, 4);
    }
}

/* One stop string: double-quoted (its escapes show "\\n" and spaces plainly), or !!binary
 * for bytes that are not UTF-8. */
static void put_stop(strbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (text_valid(s, n)) {
        put_quoted(b, s, n);
        return;
    }
    strbuf_puts(b, "!!binary \"");
    put_base64(b, (const unsigned char *)s, n);
    strbuf_puts(b, "\"");
}

/* Writes a text value after "key:" (the caller wrote "key:"), with block lines indented by
 * indent spaces. Multi-line text that YAML can carry literally becomes a `|` block (readable
 * and diff-friendly); other text a double-quoted string with escapes; bytes that are not UTF-8
 * a !!binary value (base64), so every text reads back byte for byte. */
static void put_text(strbuf *b, const char *s, int indent)
{
    size_t n = strlen(s);
    if (!text_valid(s, n)) {
        strbuf_puts(b, " !!binary \"");
        put_base64(b, (const unsigned char *)s, n);
        strbuf_puts(b, "\"\n");
        return;
    }
    bool block = memchr(s, '\n', n) != NULL;
    bool has_content = false;
    for (size_t i = 0; block && i < n;) {
        int32_t cp;
        int l = text_decode(s + i, n - i, &cp);
        if (!yaml_plain_char(cp)) block = false;
        if (cp != '\n') has_content = true;
        i += (size_t)l;
    }
    /* Lines of only blanks are ambiguous in block scalars (indentation or content?). */
    for (size_t i = 0; block && i < n;) {
        size_t e = i;
        while (e < n && s[e] != '\n') e++;
        size_t k = i;
        while (k < e && (s[k] == ' ' || s[k] == '\t')) k++;
        if (e > i && k == e) block = false;
        i = e + 1;
    }
    if (!block || !has_content) {
        strbuf_puts(b, " ");
        put_quoted(b, s, n);
        strbuf_puts(b, "\n");
        return;
    }
    size_t trail = 0;
    while (trail < n && s[n - 1 - trail] == '\n') trail++;
    const char *chomp = trail == 0 ? "-" : trail == 1 ? "" : "+";
    /* An explicit indentation when the first line with content starts with a blank (a tab
     * would be read as content either way, but a space would be taken for indentation). */
    size_t f = 0;
    while (f < n && s[f] == '\n') f++;
    /* The indicator counts from the parent's indentation, which is two less here. */
    if (s[f] == ' ' || s[f] == '\t') strbuf_printf(b, " |2%s\n", chomp);
    else strbuf_printf(b, " |%s\n", chomp);
    size_t end = n - (trail > 0 ? 1 : 0); /* the last newline ends the last line */
    for (size_t i = 0; i <= end;) {
        size_t e = i;
        while (e < end && s[e] != '\n') e++;
        if (e > i) {
            strbuf_printf(b, "%*s", indent, "");
            strbuf_put(b, s + i, e - i);
        }
        strbuf_puts(b, "\n");
        if (e >= end) break;
        i = e + 1;
    }
}

/* A single-line string value (names, paths): quoted only when needed. */
static void put_str(strbuf *b, const char *s)
{
    bool plain = s[0] != '\0' && text_valid(s, strlen(s));
    if (plain && strchr("-?:,[]{}#&*!|>'\"%@` ~", s[0])) plain = false;
    for (const char *p = s; plain && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '#' || *p == ':' || *p == '"' || *p == '\'' ||
            *p == '\\' || *p == ',' || *p == '[' || *p == ']' || *p == '{' || *p == '}')
            plain = false;
    if (plain && s[strlen(s) - 1] == ' ') plain = false;
    /* Words YAML would read as something else. */
    static const char *const special[] = {"true", "false", "yes", "no", "on", "off", "null",
                                          "True", "False", "Yes", "No", "On", "Off", "Null",
                                          "TRUE", "FALSE", "YES", "NO", "ON", "OFF", "NULL", "~"};
    for (size_t i = 0; plain && i < sizeof special / sizeof *special; i++)
        if (!strcmp(s, special[i])) plain = false;
    if (plain) {
        char *end;
        strtod(s, &end);
        if (*end == '\0') plain = false;
    }
    strbuf_puts(b, " ");
    if (plain) strbuf_puts(b, s);
    else if (!text_valid(s, strlen(s))) {
        strbuf_puts(b, "!!binary \"");
        put_base64(b, (const unsigned char *)s, strlen(s));
        strbuf_puts(b, "\"");
    } else put_quoted(b, s, strlen(s));
    strbuf_puts(b, "\n");
}


/* A list of ints as one flow sequence, wrapped before about 96 columns. */
static void put_int_flow(strbuf *b, const int32_t *v, size_t n, int indent)
{
    strbuf_puts(b, " [");
    size_t col = (size_t)indent + 10;
    for (size_t i = 0; i < n; i++) {
        char num[16];
        int l = snprintf(num, sizeof num, "%d", v[i]);
        if (i > 0) {
            if (col + (size_t)l + 2 > 96) {
                strbuf_printf(b, ",\n%*s", indent + 2, "");
                col = (size_t)indent + 2;
            } else {
                strbuf_puts(b, ", ");
                col += 2;
            }
        }
        strbuf_put(b, num, (size_t)l);
        col += (size_t)l;
    }
    strbuf_puts(b, "]\n");
}

char *session_to_yaml(const session *s, size_t *len)
{
    strbuf b = {0};
    char tbuf[32];
    strbuf_puts(&b, "# A natter session: regenerate its answers with `natter replay FILE`.\n"
                "# Format: natter-session(5).\n");
    strbuf_printf(&b, "natter-session: %d\n", SESSION_VERSION);
    session_format_time(s->created, tbuf);
    strbuf_printf(&b, "created: %s\n", tbuf);
    session_format_time(s->updated, tbuf);
    strbuf_printf(&b, "updated: %s\n", tbuf);
    strbuf_puts(&b, "model:\n  file:");
    put_str(&b, s->model.file ? s->model.file : "?");
    if (s->model.path && s->model.path[0]) {
        strbuf_puts(&b, "  path:");
        put_str(&b, s->model.path);
    }
    strbuf_printf(&b, "  size: %llu\n", (unsigned long long)s->model.size);
    strbuf_printf(&b, "  hash: fnv1a64:%016llx\n", (unsigned long long)s->model.hash);
    if (s->model.arch && s->model.arch[0]) {
        strbuf_puts(&b, "  arch:");
        put_str(&b, s->model.arch);
    }
    if (s->model.name && s->model.name[0]) {
        strbuf_puts(&b, "  name:");
        put_str(&b, s->model.name);
    }
    if (s->persona && s->persona[0]) {
        strbuf_puts(&b, "persona:");
        put_str(&b, s->persona);
    }
    strbuf_puts(&b, "template:");
    put_str(&b, nt_chat_family_name(s->family) ? nt_chat_family_name(s->family) : "plain");
    if (s->raw) strbuf_puts(&b, "raw: true\n");
    strbuf_printf(&b, "context: %d\n", s->n_ctx);
    strbuf_printf(&b, "context_first: %zu\n", s->first);
    strbuf_puts(&b, "system:");
    put_text(&b, s->system ? s->system : "", 2);
    if (s->n_examples) {
        strbuf_puts(&b, "examples:\n");
        for (size_t i = 0; i < s->n_examples; i++) {
            strbuf_printf(&b, "  - role: %s\n    text:", role_name(s->examples[i].role));
            put_text(&b, s->examples[i].text ? s->examples[i].text : "", 6);
        }
    }
    if (s->greeting) {
        strbuf_puts(&b, "greeting:");
        put_text(&b, s->greeting, 2);
    }
    /* Said up front so a file cut short between two messages is caught. */
    strbuf_printf(&b, "message_count: %zu\n", s->n_turns);
    strbuf_puts(&b, s->n_turns ? "messages:\n" : "messages: []\n");
    for (size_t i = 0; i < s->n_turns; i++) {
        const chat_turn *t = &s->turns[i];
        bool ans = t->role == NT_ROLE_ASSISTANT;
        strbuf_printf(&b, "  - role: %s\n", ans ? "assistant" : "user");
        if (t->time) {
            session_format_time(t->time, tbuf);
            strbuf_printf(&b, "    time: %s\n", tbuf);
        }
        strbuf_puts(&b, "    text:");
        put_text(&b, t->text ? t->text : "", 6);
        if (!ans) continue;
        strbuf_printf(&b, "    seed: %llu\n", (unsigned long long)t->params.seed);
        strbuf_puts(&b, "    params: {");
        const param_values pv = {.sp = t->params};
        unsigned mask = session_params_mask(false);
        for (size_t k = 0; k < PARAM_COUNT; k++) {
            if (!(mask & (1u << k))) continue;
            char v[32];
            param_format(&param_defs[k], &pv, v, sizeof v);
            strbuf_printf(&b, "%s%s: %s", k ? ", " : "", param_defs[k].name, v);
        }
        strbuf_puts(&b, "}\n");
        session_change *ch = NULL;
        int nch = session_changes(t, &ch);
        if (nch < 0) b.oom = true;
        if (nch > 0) {
            strbuf_puts(&b, "    changes:\n");
            for (int k = 0; k < nch; k++)
                strbuf_printf(&b, "      - {at: %d, param: %s, value: %s}\n", ch[k].index,
                              ch[k].param, ch[k].value);
        }
        free(ch);
        const char *end = t->end == GEN_END_EOG && t->stop_text ? GEN_END_STOP_STRING_KEY
                          : gen_end_key(t->end) ? gen_end_key(t->end)
                                                : gen_end_key(GEN_END_ERROR);
        strbuf_printf(&b, "    end: %s\n", end);
        if (t->error) {
            strbuf_puts(&b, "    error:");
            put_text(&b, t->error, 6);
        }
        /* chat_turn_set_stops keeps every string 1 to GEN_STOP_LEN - 1 bytes: each is
         * written whole, as the reader takes it back. A short list stays on one line (as
         * earlier natter wrote it); many or long strings take a line each. */
        size_t width = 0;
        for (size_t k = 0; k < t->n_stop; k++) width += strlen(t->stop[k]) + 4;
        if (t->n_stop == 0) strbuf_puts(&b, "    stop: []\n");
        else if (width <= 72) {
            strbuf_puts(&b, "    stop: [");
            for (size_t k = 0; k < t->n_stop; k++) {
                if (k) strbuf_puts(&b, ", ");
                put_stop(&b, t->stop[k]);
            }
            strbuf_puts(&b, "]\n");
        } else {
            strbuf_puts(&b, "    stop:\n");
            for (size_t k = 0; k < t->n_stop; k++) {
                strbuf_puts(&b, "      - ");
                put_stop(&b, t->stop[k]);
                strbuf_puts(&b, "\n");
            }
        }
        strbuf_printf(&b, "    max_tokens: %d\n", t->max_tokens);
        strbuf_printf(&b, "    token_count: %zu\n", t->tokens.n);
        strbuf_printf(&b, "    tokens_per_sec: %.2f\n",
                      t->gen_sec > 0 ? (double)t->n_gen / t->gen_sec : 0.0);
        strbuf_printf(&b, "    prompt_tokens: %d\n", t->n_prompt);
        strbuf_printf(&b, "    prompt_sec: %.3f\n", t->prompt_sec);
        strbuf_printf(&b, "    gen_sec: %.3f\n", t->gen_sec);
        strbuf_printf(&b, "    context_first: %zu\n", t->first);
        if (t->prompt_len > 0) strbuf_printf(&b, "    prompt_length: %d\n", t->prompt_len);
        strbuf_puts(&b, "    tokens:");
        put_int_flow(&b, t->tokens.v, t->tokens.n, 4);
    }
    /* Last, so that a file cut short anywhere is caught (message_count alone misses a cut
     * inside the last message's text). */
    strbuf_puts(&b, "complete: true\n");
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

char *session_export_md(const session *s)
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
    for (size_t i = 0; i < s->n_turns; i++) {
        const chat_turn *t = &s->turns[i];
        bool ans = t->role == NT_ROLE_ASSISTANT;
        strbuf_puts(&b, ans ? "\n## Assistant\n\n" : "\n## User\n\n");
        strbuf_puts(&b, t->text ? t->text : "");
        strbuf_puts(&b, "\n");
        if (ans) {
            strbuf_printf(&b, "\n*seed %llu, %zu tokens", (unsigned long long)t->params.seed,
                          t->tokens.n);
            if (t->gen_sec > 0) strbuf_printf(&b, ", %.1f tokens/s", (double)t->n_gen / t->gen_sec);
            if (t->n_changes)
                strbuf_printf(&b, ", %zu live change%s", t->n_changes,
                              t->n_changes == 1 ? "" : "s");
            strbuf_puts(&b, "*\n");
        }
    }
    return strbuf_take(&b, NULL);
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

char *session_export_json(const session *s)
{
    json_writer w = {0};
    w.pretty = true;
    json_w_begin_array(&w);
    if (s->system && s->system[0]) put_message(&w, "system", s->system);
    /* The fixed part as the model read it: the examples, then the greeting. */
    for (size_t i = 0; i < s->n_examples; i++)
        put_message(&w, role_name(s->examples[i].role), s->examples[i].text);
    if (s->greeting) put_message(&w, "assistant", s->greeting);
    for (size_t i = 0; i < s->n_turns; i++)
        put_message(&w, role_name(s->turns[i].role), s->turns[i].text);
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

int session_export_file(const session *s, const char *format, const char *path, nt_err *err)
{
    bool json = !strcmp(format, "json");
    if (!json && strcmp(format, "md") && strcmp(format, "markdown"))
        return nt_err_set(err, NT_ERR_INVALID, "'%s' is not md or json", format);
    char *text = json ? session_export_json(s) : session_export_md(s);
    if (!text) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    int rc = ycfg_write_atomic(path, text, strlen(text), true, err);
    free(text);
    return rc;
}
