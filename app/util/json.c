/* json.c — strict recursive-descent JSON parser and a small writer (see json.h). The parser
 * tracks line and column as it consumes bytes, so every node and every error has a place. */
#include "json.h"

#include "natter.h"
#include "text.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A "C" locale for strtod_l and the writer's snprintf: numbers in JSON always use '.'. */
static locale_t c_loc;
static pthread_once_t c_loc_once = PTHREAD_ONCE_INIT;
static void c_loc_init(void) { c_loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

typedef struct parser {
    const unsigned char *p, *end;
    int line, col;
    int depth;
    json_error *err;
    int rc;
} parser;

static int fail_at(parser *ps, int line, int col, const char *fmt, ...) NT_PRINTF(4, 5);
static int fail_at(parser *ps, int line, int col, const char *fmt, ...)
{
    if (ps->rc) return ps->rc; /* keep the first error */
    ps->rc = NT_ERR_FORMAT;
    if (ps->err) {
        char m[128];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m, sizeof m, fmt, ap);
        va_end(ap);
        ps->err->line = line;
        ps->err->col = col;
        snprintf(ps->err->msg, sizeof ps->err->msg, "%d:%d: %s", line, col, m);
    }
    return ps->rc;
}

#define FAIL(ps, ...) fail_at((ps), (ps)->line, (ps)->col, __VA_ARGS__)

static int oom(parser *ps)
{
    if (ps->rc) return ps->rc;
    ps->rc = NT_ERR_NOMEM;
    if (ps->err) {
        ps->err->line = ps->err->col = 0;
        snprintf(ps->err->msg, sizeof ps->err->msg, "out of memory");
    }
    return ps->rc;
}

/* Consumes one byte; a UTF-8 continuation byte does not move the column. */
static void adv(parser *ps)
{
    unsigned char c = *ps->p++;
    if (c == '\n') {
        ps->line++;
        ps->col = 1;
    } else if (!text_is_cont(c)) {
        ps->col++;
    }
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        adv(ps);
}

/* Describes the byte at the cursor for messages. */
static const char *here(parser *ps, char buf[16])
{
    if (ps->p >= ps->end) return "the end of the text";
    unsigned char c = *ps->p;
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, 16, "'%c'", c);
    else
        snprintf(buf, 16, "byte 0x%02X", c);
    return buf;
}

void json_free(json *j)
{
    if (!j) return;
    if (j->type == JSON_STRING) {
        free(j->u.str.s);
    } else if (j->type == JSON_ARRAY) {
        for (size_t i = 0; i < j->u.arr.n; i++) json_free(j->u.arr.v[i]);
        free(j->u.arr.v);
    } else if (j->type == JSON_OBJECT) {
        for (size_t i = 0; i < j->u.obj.n; i++) {
            free(j->u.obj.v[i].key);
            json_free(j->u.obj.v[i].value);
        }
        free(j->u.obj.v);
    }
    free(j);
}

static json *node(parser *ps, enum json_type t, int line, int col)
{
    json *j = calloc(1, sizeof *j);
    if (!j) {
        oom(ps);
        return NULL;
    }
    j->type = t;
    j->line = line;
    j->col = col;
    return j;
}

/* ---------------------------------------------------------------------- strings ----- */

/* Length of the valid UTF-8 sequence at p (text_next's rule), or 0 when it is invalid. */
static size_t utf8_valid(const unsigned char *p, const unsigned char *end)
{
    int32_t cp;
    int n = text_next((const char *)p, (size_t)(end - p), &cp);
    return n < 0 ? 0 : (size_t)n;
}

static int hex4(parser *ps, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        if (ps->p >= ps->end) return FAIL(ps, "unfinished \\u escape");
        unsigned char c = *ps->p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return FAIL(ps, "\\u must be followed by four hex digits");
        v = v * 16 + (uint32_t)d;
        adv(ps);
    }
    *out = v;
    return 0;
}

/* Parses a string at the opening quote into b. */
static int parse_string(parser *ps, strbuf *b)
{
    adv(ps); /* the quote */
    if (!strbuf_put(b, "", 0)) return oom(ps);
    for (;;) {
        if (ps->p >= ps->end) return FAIL(ps, "unterminated string");
        unsigned char c = *ps->p;
        if (c == '"') {
            adv(ps);
            return 0;
        }
        if (c < 0x20) return FAIL(ps, "control character U+%04X inside a string (escape it)", c);
        if (c == '\\') {
            int el = ps->line, ec = ps->col;
            adv(ps);
            if (ps->p >= ps->end) return FAIL(ps, "unterminated string");
            char e = (char)*ps->p, o;
            switch (e) {
            case '"': o = '"'; break;
            case '\\': o = '\\'; break;
            case '/': o = '/'; break;
            case 'b': o = '\b'; break;
            case 'f': o = '\f'; break;
            case 'n': o = '\n'; break;
            case 'r': o = '\r'; break;
            case 't': o = '\t'; break;
            case 'u': {
                adv(ps);
                uint32_t cp;
                if (hex4(ps, &cp)) return ps->rc;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return fail_at(ps, el, ec, "lone low surrogate \\u%04X", cp);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
                        return fail_at(ps, el, ec, "high surrogate \\u%04X is not followed by a low surrogate", cp);
                    adv(ps);
                    adv(ps);
                    if (hex4(ps, &lo)) return ps->rc;
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return fail_at(ps, el, ec, "high surrogate \\u%04X is not followed by a low surrogate", cp);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                char u[4]; /* cp is a valid scalar value here */
                if (!strbuf_put(b, u, (size_t)text_encode((int32_t)cp, u)))
                    return oom(ps);
                continue;
            }
            default:
                return FAIL(ps, "unknown escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
            }
            adv(ps);
            if (!strbuf_put(b, &o, 1)) return oom(ps);
            continue;
        }
        size_t n = utf8_valid(ps->p, ps->end);
        if (!n) return FAIL(ps, "invalid UTF-8 (byte 0x%02X)", c);
        if (!strbuf_put(b, ps->p, n)) return oom(ps);
        for (size_t i = 0; i < n; i++) adv(ps);
    }
}

/* ---------------------------------------------------------------------- numbers ----- */

static json *parse_number(parser *ps)
{
    int line = ps->line, col = ps->col;
    const unsigned char *s = ps->p;
    if (ps->p < ps->end && *ps->p == '-') adv(ps);
    if (ps->p >= ps->end || !(*ps->p >= '0' && *ps->p <= '9')) {
        FAIL(ps, "expected a digit after '-'");
        return NULL;
    }
    if (*ps->p == '0') {
        adv(ps);
        if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            fail_at(ps, line, col, "numbers must not have leading zeros");
            return NULL;
        }
    } else {
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') adv(ps);
    }
    bool is_int = true;
    if (ps->p < ps->end && *ps->p == '.') {
        is_int = false;
        adv(ps);
        if (ps->p >= ps->end || !(*ps->p >= '0' && *ps->p <= '9')) {
            FAIL(ps, "expected a digit after the decimal point");
            return NULL;
        }
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') adv(ps);
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        is_int = false;
        adv(ps);
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) adv(ps);
        if (ps->p >= ps->end || !(*ps->p >= '0' && *ps->p <= '9')) {
            FAIL(ps, "expected a digit in the exponent");
            return NULL;
        }
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') adv(ps);
    }
    size_t n = (size_t)(ps->p - s);
    char tmp[64], *buf = n < sizeof tmp ? tmp : malloc(n + 1);
    if (!buf) {
        oom(ps);
        return NULL;
    }
    memcpy(buf, s, n);
    buf[n] = 0;
    json *j = node(ps, JSON_NUMBER, line, col);
    if (j) {
        pthread_once(&c_loc_once, c_loc_init);
        j->u.num.v = c_loc ? strtod_l(buf, NULL, c_loc) : strtod(buf, NULL);
        if (!isfinite(j->u.num.v)) {
            fail_at(ps, line, col, "number %s is too large", n < 40 ? buf : "(long)");
            json_free(j);
            j = NULL;
        } else if (is_int) {
            errno = 0;
            long long v = strtoll(buf, NULL, 10);
            if (errno == 0) {
                j->u.num.is_int = true;
                j->u.num.i = v;
            }
        }
    }
    if (buf != tmp) free(buf);
    return j;
}

/* ----------------------------------------------------------------------- values ----- */

static json *parse_value(parser *ps);

static int key_cmp(const void *a, const void *b)
{
    const json_member *x = *(const json_member *const *)a, *y = *(const json_member *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    /* Equal keys: order by position so the later one is reported. */
    return (x->line != y->line) ? (x->line < y->line ? -1 : 1) : (x->col < y->col ? -1 : x->col > y->col);
}

/* Duplicate keys are found by sorting pointers: O(n log n) even for huge objects. */
static int check_dups(parser *ps, json *o)
{
    size_t n = o->u.obj.n;
    if (n < 2) return 0;
    const json_member **v = malloc(n * sizeof *v);
    if (!v) return oom(ps);
    for (size_t i = 0; i < n; i++) v[i] = &o->u.obj.v[i];
    qsort(v, n, sizeof *v, key_cmp);
    const json_member *dup = NULL;
    for (size_t i = 1; i < n; i++) {
        if (v[i]->key_len == v[i - 1]->key_len && !memcmp(v[i]->key, v[i - 1]->key, v[i]->key_len)) {
            /* Report the earliest duplicate in the text. */
            if (!dup || v[i]->line < dup->line || (v[i]->line == dup->line && v[i]->col < dup->col))
                dup = v[i];
        }
    }
    int rc = 0;
    if (dup)
        rc = fail_at(ps, dup->line, dup->col, "duplicate key \"%.40s\"", dup->key);
    free(v);
    return rc;
}

static json *parse_object(parser *ps)
{
    json *o = node(ps, JSON_OBJECT, ps->line, ps->col);
    if (!o) return NULL;
    adv(ps);
    skip_ws(ps);
    size_t cap = 0;
    char hb[16];
    if (ps->p < ps->end && *ps->p == '}') {
        adv(ps);
        return o;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
            if (ps->p < ps->end && *ps->p == '}')
                FAIL(ps, "trailing comma before '}'");
            else
                FAIL(ps, "expected a string key, found %s", here(ps, hb));
            goto fail;
        }
        if (o->u.obj.n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            json_member *v = realloc(o->u.obj.v, nc * sizeof *v);
            if (!v) {
                oom(ps);
                goto fail;
            }
            o->u.obj.v = v;
            cap = nc;
        }
        json_member *m = &o->u.obj.v[o->u.obj.n];
        memset(m, 0, sizeof *m);
        m->line = ps->line;
        m->col = ps->col;
        strbuf kb = {0};
        o->u.obj.n++;
        if (parse_string(ps, &kb)) {
            strbuf_free(&kb);
            goto fail;
        }
        m->key = strbuf_take(&kb, &m->key_len);
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            FAIL(ps, "expected ':' after the key, found %s", here(ps, hb));
            goto fail;
        }
        adv(ps);
        skip_ws(ps);
        m->value = parse_value(ps);
        if (!m->value) goto fail;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            adv(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            adv(ps);
            break;
        }
        FAIL(ps, "expected ',' or '}' after an object member, found %s", here(ps, hb));
        goto fail;
    }
    if (check_dups(ps, o)) goto fail;
    return o;
fail:
    json_free(o);
    return NULL;
}

static json *parse_array(parser *ps)
{
    json *a = node(ps, JSON_ARRAY, ps->line, ps->col);
    if (!a) return NULL;
    adv(ps);
    skip_ws(ps);
    size_t cap = 0;
    char hb[16];
    if (ps->p < ps->end && *ps->p == ']') {
        adv(ps);
        return a;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ']') {
            FAIL(ps, "trailing comma before ']'");
            goto fail;
        }
        if (a->u.arr.n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            json **v = realloc(a->u.arr.v, nc * sizeof *v);
            if (!v) {
                oom(ps);
                goto fail;
            }
            a->u.arr.v = v;
            cap = nc;
        }
        json *it = parse_value(ps);
        if (!it) goto fail;
        a->u.arr.v[a->u.arr.n++] = it;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            adv(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            adv(ps);
            return a;
        }
        FAIL(ps, "expected ',' or ']' after an array item, found %s", here(ps, hb));
        goto fail;
    }
fail:
    json_free(a);
    return NULL;
}

static json *parse_word(parser *ps, const char *w, enum json_type t, bool b)
{
    size_t n = strlen(w);
    int line = ps->line, col = ps->col;
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n)) {
        char hb[16];
        FAIL(ps, "unexpected %s (expected a value)", here(ps, hb));
        return NULL;
    }
    for (size_t i = 0; i < n; i++) adv(ps);
    json *j = node(ps, t, line, col);
    if (j) j->u.b = b;
    return j;
}

static json *parse_value(parser *ps)
{
    char hb[16];
    if (ps->p >= ps->end) {
        FAIL(ps, "expected a value, found the end of the text");
        return NULL;
    }
    if (++ps->depth > JSON_MAX_DEPTH) {
        FAIL(ps, "nesting deeper than %d levels", JSON_MAX_DEPTH);
        return NULL;
    }
    json *j = NULL;
    switch (*ps->p) {
    case '{': j = parse_object(ps); break;
    case '[': j = parse_array(ps); break;
    case '"': {
        int line = ps->line, col = ps->col;
        strbuf b = {0};
        if (parse_string(ps, &b)) {
            strbuf_free(&b);
            break;
        }
        j = node(ps, JSON_STRING, line, col);
        if (!j) {
            strbuf_free(&b);
            break;
        }
        j->u.str.s = strbuf_take(&b, &j->u.str.len);
        break;
    }
    case 't': j = parse_word(ps, "true", JSON_BOOL, true); break;
    case 'f': j = parse_word(ps, "false", JSON_BOOL, false); break;
    case 'n': j = parse_word(ps, "null", JSON_NULL, false); break;
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            j = parse_number(ps);
        else
            FAIL(ps, "unexpected %s (expected a value)", here(ps, hb));
    }
    ps->depth--;
    return j;
}

int json_parse(const char *text, size_t len, json **out, json_error *err)
{
    parser ps = {(const unsigned char *)text, (const unsigned char *)text + len, 1, 1, 0, err, 0};
    *out = NULL;
    if (err) {
        err->line = err->col = 0;
        err->msg[0] = 0;
    }
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) ps.p += 3;
    skip_ws(&ps);
    json *j = parse_value(&ps);
    if (!j) return ps.rc ? ps.rc : NT_ERR_FORMAT;
    skip_ws(&ps);
    if (ps.p < ps.end) {
        char hb[16];
        FAIL(&ps, "unexpected %s after the JSON value", here(&ps, hb));
        json_free(j);
        return ps.rc;
    }
    *out = j;
    return NT_OK;
}

/* -------------------------------------------------------------------- accessors ----- */

const json *json_get(const json *o, const char *key)
{
    if (!o || o->type != JSON_OBJECT || !key) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < o->u.obj.n; i++)
        if (o->u.obj.v[i].key_len == n && !memcmp(o->u.obj.v[i].key, key, n))
            return o->u.obj.v[i].value;
    return NULL;
}

const json *json_at(const json *a, size_t i)
{
    return a && a->type == JSON_ARRAY && i < a->u.arr.n ? a->u.arr.v[i] : NULL;
}

size_t json_len(const json *j)
{
    if (!j) return 0;
    if (j->type == JSON_ARRAY) return j->u.arr.n;
    if (j->type == JSON_OBJECT) return j->u.obj.n;
    return 0;
}

const char *json_str(const json *j) { return j && j->type == JSON_STRING ? j->u.str.s : NULL; }

bool json_num(const json *j, double *out)
{
    if (!j || j->type != JSON_NUMBER) return false;
    *out = j->u.num.v;
    return true;
}

bool json_int(const json *j, int64_t *out)
{
    if (!j || j->type != JSON_NUMBER || !j->u.num.is_int) return false;
    *out = j->u.num.i;
    return true;
}

bool json_is_true(const json *j) { return j && j->type == JSON_BOOL && j->u.b; }

const char *json_type_name(enum json_type t)
{
    switch (t) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "a boolean";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "?";
}

/* ----------------------------------------------------------------------- writer ----- */

static void w_newline(json_writer *w)
{
    if (!w->pretty) return;
    strbuf_put(&w->out, "\n", 1);
    for (int i = 0; i < w->depth; i++) strbuf_put(&w->out, "  ", 2);
}

/* Comma and indentation before a value (or a key) at the current depth. */
static void w_sep(json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (!w->first[w->depth]) strbuf_put(&w->out, ",", 1);
        w->first[w->depth] = false;
        w_newline(w);
    }
}

static void w_open(json_writer *w, const char *c)
{
    w_sep(w);
    strbuf_puts(&w->out, c);
    if (w->depth < JSON_MAX_DEPTH) w->depth++;
    w->first[w->depth] = true;
}

static void w_close(json_writer *w, const char *c)
{
    bool empty = w->first[w->depth];
    if (w->depth > 0) w->depth--;
    if (!empty) w_newline(w);
    strbuf_puts(&w->out, c);
}

void json_w_begin_object(json_writer *w) { w_open(w, "{"); }
void json_w_end_object(json_writer *w) { w_close(w, "}"); }
void json_w_begin_array(json_writer *w) { w_open(w, "["); }
void json_w_end_array(json_writer *w) { w_close(w, "]"); }

static void w_str(json_writer *w, const char *s, size_t n)
{
    strbuf_put(&w->out, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = NULL;
        char u[8];
        if (c == '"') e = "\\\"";
        else if (c == '\\') e = "\\\\";
        else if (c == '\n') e = "\\n";
        else if (c == '\r') e = "\\r";
        else if (c == '\t') e = "\\t";
        else if (c == '\b') e = "\\b";
        else if (c == '\f') e = "\\f";
        else if (c < 0x20 || c == 0x7f) {
            snprintf(u, sizeof u, "\\u%04x", c);
            e = u;
        }
        if (!e) continue;
        strbuf_put(&w->out, s + run, i - run);
        strbuf_puts(&w->out, e);
        run = i + 1;
    }
    strbuf_put(&w->out, s + run, n - run);
    strbuf_put(&w->out, "\"", 1);
}

void json_w_key(json_writer *w, const char *key)
{
    w_sep(w);
    w_str(w, key, strlen(key));
    strbuf_puts(&w->out, w->pretty ? ": " : ":");
    w->after_key = true;
}

void json_w_string_n(json_writer *w, const char *s, size_t n)
{
    w_sep(w);
    w_str(w, s, n);
}

void json_w_string(json_writer *w, const char *s)
{
    if (!s) {
        json_w_null(w);
        return;
    }
    json_w_string_n(w, s, strlen(s));
}

void json_w_double(json_writer *w, double v)
{
    if (!isfinite(v)) {
        json_w_null(w);
        return;
    }
    char b[40];
    pthread_once(&c_loc_once, c_loc_init);
    locale_t old = c_loc ? uselocale(c_loc) : (locale_t)0;
    /* The shortest of %.15g..%.17g that reads back to the same double. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, v);
        if (strtod(b, NULL) == v) break;
    }
    if (c_loc) uselocale(old);
    w_sep(w);
    strbuf_puts(&w->out, b);
}

void json_w_int(json_writer *w, int64_t v)
{
    w_sep(w);
    strbuf_printf(&w->out, "%lld", (long long)v);
}

void json_w_bool(json_writer *w, bool v)
{
    w_sep(w);
    strbuf_puts(&w->out, v ? "true" : "false");
}

void json_w_null(json_writer *w)
{
    w_sep(w);
    strbuf_puts(&w->out, "null");
}

char *json_writer_finish(json_writer *w, size_t *len)
{
    char *s = strbuf_take(&w->out, len);
    bool pretty = w->pretty;
    memset(w, 0, sizeof *w);
    w->pretty = pretty;
    return s;
}

void json_writer_free(json_writer *w)
{
    if (!w) return;
    strbuf_free(&w->out);
    bool pretty = w->pretty;
    memset(w, 0, sizeof *w);
    w->pretty = pretty;
}
