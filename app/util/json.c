/* json.c — natter's layer over jansson (see json.h): error messages with a visible place, the
 * depth cap, and a streaming builder whose strings are always valid UTF-8. */
#include "json.h"

#include "natter.h"
#include "strbuf.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jansson's dump flags for natter's text: see json.h for why 15 digits. */
#define JSON_W_FLAGS(pretty) (((pretty) ? JSON_INDENT(2) : JSON_COMPACT) | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY)

/* Copies jansson's message into out with control characters and bytes that are not UTF-8
 * shown as \xNN: the message quotes the input ("near '...'"), which may hold anything. */
static void visible(char *out, size_t cap, const char *s)
{
    size_t o = 0, n = strlen(s);
    for (size_t i = 0; i < n && o + 5 < cap;) {
        int32_t cp;
        int k = text_next(s + i, n - i, &cp);
        if (k <= 0 || text_is_control(cp)) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", (unsigned char)s[i]);
            i++;
            continue;
        }
        if (o + (size_t)k >= cap) break;
        memcpy(out + o, s + i, (size_t)k);
        o += (size_t)k;
        i += (size_t)k;
    }
    out[o] = 0;
}

/* The place of the first bracket nested deeper than JSON_MAX_DEPTH, outside strings; false
 * when there is none. jansson's own cap (2048) is far above what natter's files need. */
static bool too_deep(const char *s, size_t n, int *line, int *col)
{
    int depth = 0, l = 1, c = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b == '\n') {
            l++;
            c = 0;
        } else if (!text_is_cont(b)) {
            c++;
        }
        if (in_str) {
            if (esc) esc = false;
            else if (b == '\\') esc = true;
            else if (b == '"') in_str = false;
        } else if (b == '"') {
            in_str = true;
        } else if (b == '[' || b == '{') {
            if (++depth > JSON_MAX_DEPTH) {
                *line = l;
                *col = c;
                return true;
            }
        } else if (b == ']' || b == '}') {
            depth--;
        }
    }
    return false;
}

int json_parse(const char *text, size_t len, json_t **out, json_error *err)
{
    *out = NULL;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
        text += 3;
        len -= 3;
    }
    int line, col;
    if (too_deep(text, len, &line, &col)) {
        if (err) {
            err->line = line;
            err->col = col;
            snprintf(err->msg, sizeof err->msg, "%d:%d: nesting deeper than %d levels", line, col,
                     JSON_MAX_DEPTH);
        }
        return NT_ERR_FORMAT;
    }
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (j) {
        *out = j;
        return NT_OK;
    }
    if (json_error_code(&je) == json_error_out_of_memory) {
        if (err) {
            err->line = err->col = 0;
            snprintf(err->msg, sizeof err->msg, "out of memory");
        }
        return NT_ERR_NOMEM;
    }
    if (err) {
        /* jansson counts the column of an error at the very start as 0. */
        err->line = je.line > 0 ? je.line : 1;
        err->col = je.column > 0 ? je.column : 1;
        char what[sizeof err->msg - 24]; /* room for "line:col: " */
        visible(what, sizeof what, je.text);
        snprintf(err->msg, sizeof err->msg, "%d:%d: %s", err->line, err->col, what);
    }
    return NT_ERR_FORMAT;
}

const char *json_type_name(const json_t *j)
{
    if (!j) return "nothing";
    switch (json_typeof(j)) {
    case JSON_NULL: return "null";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "?";
}

/* ----------------------------------------------------------------------- writer ----- */

json_t *json_string_lossy(const char *s, size_t n)
{
    if (text_valid(s, n)) return json_stringn(s, n);
    strbuf b = {0};
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int k = text_decode(s + i, n - i, &cp); /* invalid sequences decode as U+FFFD */
        char u[4];
        if (cp == 0xFFFD) strbuf_put(&b, u, (size_t)text_encode(cp, u));
        else strbuf_put(&b, s + i, (size_t)k);
        i += (size_t)k;
    }
    json_t *j = b.oom ? NULL : json_stringn(b.s ? b.s : "", b.n);
    strbuf_free(&b);
    return j;
}

/* Puts v (a new reference) where the writer stands: the root, the next array item or the
 * value of the pending key. */
static bool w_add(json_writer *w, json_t *v)
{
    if (w->oom || !v) {
        w->oom = true;
        json_decref(v);
        return false;
    }
    if (w->depth == 0) {
        json_decref(w->root);
        w->root = v;
        return true;
    }
    json_t *c = w->open[w->depth - 1];
    int rc = json_is_object(c) ? json_object_set_new(c, w->key ? w->key : "", v)
                               : json_array_append_new(c, v);
    free(w->key);
    w->key = NULL;
    if (rc) w->oom = true;
    return !rc;
}

static void w_open(json_writer *w, json_t *c)
{
    if (w->depth >= JSON_MAX_DEPTH) { /* the caller's nesting is a bug: keep the text valid */
        json_decref(c);
        w->oom = true;
        return;
    }
    if (w_add(w, c)) w->open[w->depth++] = c;
}

static void w_close(json_writer *w)
{
    if (w->depth > 0) w->depth--;
}

void json_w_begin_object(json_writer *w) { w_open(w, json_object()); }
void json_w_end_object(json_writer *w) { w_close(w); }
void json_w_begin_array(json_writer *w) { w_open(w, json_array()); }
void json_w_end_array(json_writer *w) { w_close(w); }

void json_w_key(json_writer *w, const char *key)
{
    free(w->key);
    w->key = strdup(key);
    if (!w->key) w->oom = true;
}

void json_w_string_n(json_writer *w, const char *s, size_t n) { w_add(w, json_string_lossy(s, n)); }

void json_w_string(json_writer *w, const char *s)
{
    if (!s) json_w_null(w);
    else json_w_string_n(w, s, strlen(s));
}

void json_w_double(json_writer *w, double v) { w_add(w, isfinite(v) ? json_real(v) : json_null()); }
void json_w_int(json_writer *w, int64_t v) { w_add(w, json_integer((json_int_t)v)); }
void json_w_bool(json_writer *w, bool v) { w_add(w, json_boolean(v)); }
void json_w_null(json_writer *w) { w_add(w, json_null()); }

char *json_text(const json_t *j, bool pretty, size_t *len)
{
    char *s = j ? json_dumps(j, JSON_W_FLAGS(pretty)) : NULL;
    if (s && len) *len = strlen(s);
    return s;
}

char *json_writer_finish(json_writer *w, size_t *len)
{
    char *s = w->oom ? NULL : json_text(w->root, w->pretty, len);
    json_writer_free(w);
    return s;
}

void json_writer_free(json_writer *w)
{
    if (!w) return;
    json_decref(w->root);
    free(w->key);
    bool pretty = w->pretty;
    memset(w, 0, sizeof *w);
    w->pretty = pretty;
}
