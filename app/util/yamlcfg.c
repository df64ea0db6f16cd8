/* yamlcfg.c — libyaml document loading, key-handler tables, typed readers, `file:line:col`
 * diagnostics with the source line and a caret, did-you-mean suggestions, the config search
 * path and atomic writes. See yamlcfg.h for the contract. */
#include "yamlcfg.h"
#include "datadir.h"
#include "strbuf.h"
#include "text.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* ================================================================== diagnostics ===== */

void ycfg_diag_clear(ycfg_diag *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) free(d->v[i]);
    d->n = 0;
}

void ycfg_diag_free(ycfg_diag *d)
{
    if (!d) return;
    ycfg_diag_clear(d);
    free(d->v);
    d->v = NULL;
    d->cap = 0;
}

static void diag_push(ycfg_diag *d, char *s)
{
    if (!d || !s) {
        free(s);
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **v = realloc(d->v, cap * sizeof *v);
        if (!v) {
            free(s);
            return;
        }
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = s;
}

static char *vfmt(const char *fmt, va_list ap) NT_PRINTF(1, 0);
static char *vfmt(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

void ycfg_diag_add(ycfg_diag *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vfmt(fmt, ap);
    va_end(ap);
    diag_push(d, s);
}

char *ycfg_diag_join(const ycfg_diag *d)
{
    size_t len = 1;
    for (size_t i = 0; d && i < d->n; i++) len += strlen(d->v[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s) return NULL;
    for (size_t i = 0; d && i < d->n; i++) {
        size_t l = strlen(d->v[i]);
        memcpy(p, d->v[i], l);
        p += l;
        if (i + 1 < d->n) *p++ = '\n';
    }
    *p = 0;
    return s;
}

/* ===================================================================== document ===== */

/* The 1-based line `line` of the source (without its newline), as pointer and length. */
const char *ycfg_src_line(const ycfg *c, size_t line, size_t *len)
{
    const char *p = c->src, *end = c->src ? c->src + c->len : NULL;
    *len = 0;
    if (!p) return "";
    for (size_t l = 1; l < line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return "";
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (n && p[n - 1] == '\r') n--;
    *len = n;
    return p;
}

/* Adds `file:line:col: [note: ]message`, the source line and a caret. A note is not an error:
 * it is not counted and the walk's result does not change. */
static int vreport_at(ycfg *c, bool note, size_t line, size_t col, const char *fmt, va_list ap)
    NT_PRINTF(5, 0);
static int vreport_at(ycfg *c, bool note, size_t line, size_t col, const char *fmt, va_list ap)
{
    if (!note) c->n_errors++;
    /* A file that is not what we expect at all (a long list of unknown keys) would bury the
     * first, useful messages: keep a screenful and say how it ends. */
    if (c->n_errors == YCFG_MAX_ERRORS + 1)
        ycfg_diag_add(c->diag, "%s: too many errors, stopping here", c->name ? c->name : "?");
    if (c->n_errors > YCFG_MAX_ERRORS) return NT_ERR_FORMAT;
    char *msg = vfmt(fmt, ap);
    const char *kind = note ? "note: " : "";
    size_t llen;
    const char *l = ycfg_src_line(c, line, &llen);
    /* A very long line (minified or generated YAML) is quoted as a window of about
     * YCFG_QUOTE_CHARS characters around the column, with "..." where it was cut. */
    enum { YCFG_QUOTE_CHARS = 160 };
    size_t ws = 0, we = llen, chars = 0, skip_chars = 0;
    if (llen > 2 * YCFG_QUOTE_CHARS) {
        size_t want = col > YCFG_QUOTE_CHARS / 2 ? col - YCFG_QUOTE_CHARS / 2 : 0;
        size_t i = 0;
        for (; i < llen; i++) {
            if (text_is_cont((unsigned char)l[i])) continue;
            if (chars == want) break;
            chars++;
        }
        ws = i;
        skip_chars = chars;
        size_t n = 0;
        for (i = ws; i < llen; i++) {
            if (text_is_cont((unsigned char)l[i])) continue;
            if (n == YCFG_QUOTE_CHARS) break;
            n++;
        }
        we = i;
    }
    const char *pre = ws > 0 ? "..." : "", *post = we < llen ? "..." : "";
    /* The caret goes under character col: copy tabs so it lines up, one space per UTF-8
     * character otherwise. */
    char *pad = malloc(col + 4);
    size_t np = 0;
    if (pad) {
        np = strlen(pre);
        memcpy(pad, "   ", np);
        chars = skip_chars;
        for (size_t i = ws; i < we && chars + 1 < col; i++) {
            unsigned char ch = (unsigned char)l[i];
            if (text_is_cont(ch)) continue;
            pad[np++] = ch == '\t' ? '\t' : ' ';
            chars++;
        }
        while (chars + 1 < col && np < col + 2) {
            pad[np++] = ' ';
            chars++;
        }
        pad[np] = 0;
    }
    if (msg && pad)
        ycfg_diag_add(c->diag, "%s:%zu:%zu: %s%s\n%s%.*s%s\n%s^", c->name ? c->name : "?", line,
                      col, kind, msg, pre, (int)(we - ws), l + ws, post, pad);
    free(msg);
    free(pad);
    return NT_ERR_FORMAT;
}

int ycfg_error_at(ycfg *c, size_t line, size_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport_at(c, false, line, col, fmt, ap);
    va_end(ap);
    return NT_ERR_FORMAT;
}

int ycfg_report(ycfg *c, bool note, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t line = n ? n->start_mark.line + 1 : 1, col = n ? n->start_mark.column + 1 : 1;
    vreport_at(c, note, line, col, fmt, ap);
    va_end(ap);
    return note ? NT_OK : NT_ERR_FORMAT;
}

/* The depth pass: libyaml's events, counted, stopped at the first collection deeper than
 * YCFG_MAX_DEPTH, so the cost stays that of a shallow file whatever follows. 1 when the file
 * is too deep (reported at that collection), 0 otherwise; a syntax error is left to the
 * document pass, which reports it with its context (the nesting up to it is shallow). */
static int too_deep(ycfg *c)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return 0;
    yaml_parser_set_input_string(&p, (const unsigned char *)c->src, c->len);
    int depth = 0, deep = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
            if (++depth > YCFG_MAX_DEPTH) {
                ycfg_error_at(c, ev.start_mark.line + 1, ev.start_mark.column + 1,
                              "YAML nested deeper than %d levels (natter's files nest a few "
                              "levels; this one is refused unread)", YCFG_MAX_DEPTH);
                deep = 1;
            }
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
        if (deep || t == YAML_STREAM_END_EVENT) break;
    }
    yaml_parser_delete(&p);
    return deep;
}

static int parse_doc(ycfg *c)
{
    if (too_deep(c)) return NT_ERR_FORMAT;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        ycfg_diag_add(c->diag, "%s: out of memory", c->name);
        c->n_errors++;
        return NT_ERR_NOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)c->src, c->len);
    int rc = NT_OK;
    if (!yaml_parser_load(&p, &c->doc)) {
        size_t line = p.problem_mark.line + 1, col = p.problem_mark.column + 1;
        const char *prob = p.problem ? p.problem : "unknown problem";
        if (p.error == YAML_MEMORY_ERROR) {
            ycfg_diag_add(c->diag, "%s: out of memory", c->name);
            c->n_errors++;
            rc = NT_ERR_NOMEM;
        } else if (p.error == YAML_READER_ERROR) {
            /* The reader reports a byte offset, not a mark: turn it into line and column. */
            size_t off = p.problem_offset < c->len ? p.problem_offset : c->len;
            line = 1;
            col = 1;
            for (size_t i = 0; i < off; i++) {
                if (c->src[i] == '\n') {
                    line++;
                    col = 1;
                } else if (!text_is_cont((unsigned char)c->src[i])) {
                    col++;
                }
            }
            rc = ycfg_error_at(c, line, col, "YAML error: %s", prob);
        } else if (p.context && p.context_mark.line + 1 != line) {
            rc = ycfg_error_at(c, line, col, "YAML syntax error: %s (%s that starts on line %zu)",
                               prob, p.context, p.context_mark.line + 1);
        } else if (p.context) {
            rc = ycfg_error_at(c, line, col, "YAML syntax error: %s (%s)", prob, p.context);
        } else {
            rc = ycfg_error_at(c, line, col, "YAML syntax error: %s", prob);
        }
        yaml_parser_delete(&p);
        return rc;
    }
    c->have_doc = true;
    /* One document per file: a second one is almost always a stray `---`. */
    yaml_document_t extra;
    if (yaml_parser_load(&p, &extra)) {
        yaml_node_t *r = yaml_document_get_root_node(&extra);
        if (r) rc = ycfg_error(c, r, "only one YAML document is allowed in this file");
        yaml_document_delete(&extra);
    } else {
        rc = ycfg_error_at(c, p.problem_mark.line + 1, p.problem_mark.column + 1,
                           "YAML syntax error: %s", p.problem ? p.problem : "unknown problem");
    }
    yaml_parser_delete(&p);
    return rc;
}

int ycfg_load_mem(ycfg *c, const char *name, const char *text, size_t len, ycfg_diag *diag)
{
    memset(c, 0, sizeof *c);
    c->diag = diag;
    c->name = strdup(name ? name : "<memory>");
    c->src = malloc(len + 1);
    if (!c->name || !c->src) {
        ycfg_diag_add(diag, "%s: out of memory", name ? name : "<memory>");
        c->n_errors++;
        return NT_ERR_NOMEM;
    }
    memcpy(c->src, text, len);
    c->src[len] = 0;
    c->len = len;
    return parse_doc(c);
}

int ycfg_read_file(const char *path, size_t max, char **out, size_t *len, nt_err *err)
{
    *out = NULL;
    if (len) *len = 0;
    uint64_t size;
    int fd = nt_open_regular(path, &size, err);
    if (fd < 0) return NT_ERR_IO;
    int rc = NT_OK;
    char *s = NULL;
    size_t got = 0;
    if (size > max) {
        bool mib = max >= (1u << 20) && max % (1u << 20) == 0;
        rc = nt_err_set(err, NT_ERR_IO, "file too large (%llu bytes; at most %zu %s)",
                        (unsigned long long)size, mib ? max >> 20 : max, mib ? "MiB" : "bytes");
        goto done;
    }
    if (!(s = malloc((size_t)size + 1))) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* The file may have shrunk since fstat: keep what was read. */
    while (got < size) {
        ssize_t r = read(fd, s + got, (size_t)size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = nt_err_set(err, NT_ERR_IO, "read error: %s", strerror(errno));
            free(s);
            s = NULL;
            goto done;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    s[got] = 0;
    *out = s;
    if (len) *len = got;
done:
    close(fd);
    return rc;
}

int ycfg_load(ycfg *c, const char *path, const char *name, ycfg_diag *diag)
{
    memset(c, 0, sizeof *c);
    c->diag = diag;
    if (!name) name = path;
    c->name = strdup(name);
    if (!c->name) return NT_ERR_NOMEM;
    nt_err e;
    int rc = ycfg_read_file(path, YCFG_MAX_FILE, &c->src, &c->len, &e);
    if (rc == NT_ERR_NOMEM) return rc;
    if (rc) {
        ycfg_diag_add(diag, "%s: %s", name, e.msg);
        c->n_errors++;
        return rc;
    }
    return parse_doc(c);
}

void ycfg_free(ycfg *c)
{
    if (!c) return;
    if (c->have_doc) yaml_document_delete(&c->doc);
    free(c->name);
    free(c->src);
    memset(c, 0, sizeof *c);
}

yaml_node_t *ycfg_root(ycfg *c)
{
    return c->have_doc ? yaml_document_get_root_node(&c->doc) : NULL;
}

yaml_node_t *ycfg_node(ycfg *c, int id)
{
    return c->have_doc ? yaml_document_get_node(&c->doc, id) : NULL;
}

bool ycfg_is_null(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE) return false;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

const char *ycfg_kind(const yaml_node_t *n)
{
    if (!n) return "nothing";
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_SCALAR_NODE: return ycfg_is_null(n) ? "an empty value" : "a string";
    default: return "nothing";
    }
}

/* ================================================================ typed readers ===== */

static const char *sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static bool is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           !ycfg_is_null(n);
}

/* Describes a scalar that is not the wanted kind: "'hot'", "a quoted string", ... */
static int wrong(ycfg *c, const yaml_node_t *n, const char *key, const char *want)
{
    if (n->type == YAML_SCALAR_NODE && !ycfg_is_null(n)) {
        if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
            return ycfg_error(c, n, "'%s' must be %s, not a quoted string", key, want);
        return ycfg_error(c, n, "'%s' must be %s, not '%s'", key, want, sval(n));
    }
    return ycfg_error(c, n, "'%s' must be %s, not %s", key, want, ycfg_kind(n));
}

static int read_string(ycfg *c, const yaml_node_t *n, const char *key, bool multi, char **out)
{
    if (n->type != YAML_SCALAR_NODE || ycfg_is_null(n))
        return ycfg_error(c, n, "'%s' must be a string, not %s", key, ycfg_kind(n));
    const char *s = sval(n);
    if (!multi && strchr(s, '\n'))
        return ycfg_error(c, n, "'%s' must be a single line", key);
    if (!multi && !*s) return ycfg_error(c, n, "'%s' must not be empty", key);
    if (n->data.scalar.length > YCFG_MAX_VALUES - c->n_bytes)
        return ycfg_error(c, n, "the values in this file add up to more than 16 MiB");
    c->n_bytes += n->data.scalar.length;
    char *d = strdup(s);
    if (!d) return ycfg_error(c, n, "out of memory");
    free(*out);
    *out = d;
    return NT_OK;
}

int ycfg_read_str(ycfg *c, const yaml_node_t *n, const char *key, char **out)
{
    return read_string(c, n, key, false, out);
}

int ycfg_read_text(ycfg *c, const yaml_node_t *n, const char *key, char **out)
{
    return read_string(c, n, key, true, out);
}

/* Plain decimal numbers only: strtod alone would also take "nan", "inf" and hex floats. */
static bool number_syntax(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    bool digits = false;
    while (*p >= '0' && *p <= '9') p++, digits = true;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') p++, digits = true;
    }
    if (!digits) return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return false;
        while (*p >= '0' && *p <= '9') p++;
    }
    return *p == 0;
}

/* below: the value is under min (else over max, or too large to represent). */
static int range_error(ycfg *c, const yaml_node_t *n, const char *key, double min, double max,
                       bool below)
{
    if (max >= YCFG_UNBOUNDED && !below)
        return ycfg_error(c, n, "'%s' is too large: %s", key, sval(n));
    if (max >= YCFG_UNBOUNDED)
        return ycfg_error(c, n, "'%s' must be at least %.15g, not %s", key, min, sval(n));
    /* %.15g: a whole-number bound reads as itself (1073741824, not 1.07374e+09). */
    return ycfg_error(c, n, "'%s' must be between %.15g and %.15g, not %s", key, min, max, sval(n));
}

/* YAML numbers always use '.', whatever LC_NUMERIC the program runs under. */
static locale_t c_loc;
static pthread_once_t c_loc_once = PTHREAD_ONCE_INIT;
static void c_loc_init(void) { c_loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

int ycfg_read_double(ycfg *c, const yaml_node_t *n, const char *key, double min, double max,
                     double *out)
{
    if (!is_plain(n) || !number_syntax(sval(n))) return wrong(c, n, key, "a number");
    errno = 0;
    pthread_once(&c_loc_once, c_loc_init);
    double v = c_loc ? strtod_l(sval(n), NULL, c_loc) : strtod(sval(n), NULL);
    if (errno == ERANGE || !isfinite(v) || v < min || v > max)
        return range_error(c, n, key, min, max, isfinite(v) && errno != ERANGE && v < min);
    *out = v;
    return NT_OK;
}

int ycfg_read_long(ycfg *c, const yaml_node_t *n, const char *key, long min, long max,
                   long *out)
{
    const char *s = is_plain(n) ? sval(n) : NULL;
    const char *p = s;
    if (p && (*p == '+' || *p == '-')) p++;
    if (!p || !*p || strspn(p, "0123456789") != strlen(p)) {
        if (s && number_syntax(s)) return ycfg_error(c, n, "'%s' must be a whole number, not %s", key, s);
        return wrong(c, n, key, "a whole number");
    }
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno == ERANGE || v < min || v > max)
        return range_error(c, n, key, (double)min, (double)max,
                           errno == ERANGE ? v == LONG_MIN : v < min);
    *out = v;
    return NT_OK;
}

int ycfg_read_bool(ycfg *c, const yaml_node_t *n, const char *key, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    if (is_plain(n)) {
        for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
            if (!strcmp(sval(n), yes[i])) {
                *out = true;
                return NT_OK;
            }
            if (!strcmp(sval(n), no[i])) {
                *out = false;
                return NT_OK;
            }
        }
    }
    return wrong(c, n, key, "true or false");
}

void ycfg_strv_free(char **v)
{
    if (!v) return;
    for (char **p = v; *p; p++) free(*p);
    free(v);
}

int ycfg_read_strv(ycfg *c, const yaml_node_t *n, const char *key, bool allow_empty,
                   char ***out, size_t *count)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return ycfg_error(c, n, "'%s' must be a list of strings, not %s", key, ycfg_kind(n));
    size_t m = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    char **v = calloc(m + 1, sizeof *v);
    if (!v) return ycfg_error(c, n, "out of memory");
    int rc = NT_OK;
    for (size_t i = 0; i < m; i++) {
        yaml_node_t *it = ycfg_node(c, n->data.sequence.items.start[i]);
        if (!it || it->type != YAML_SCALAR_NODE || ycfg_is_null(it)) {
            rc = ycfg_error(c, it ? it : n, "each item of '%s' must be a string, not %s", key,
                            ycfg_kind(it));
            continue;
        }
        if (!allow_empty && !*sval(it)) {
            rc = ycfg_error(c, it, "items of '%s' must not be empty", key);
            continue;
        }
        if (it->data.scalar.length > YCFG_MAX_VALUES - c->n_bytes) {
            rc = ycfg_error(c, it, "the values in this file add up to more than 16 MiB");
            break;
        }
        c->n_bytes += it->data.scalar.length;
        v[i] = strdup(sval(it));
        if (!v[i]) {
            rc = ycfg_error(c, it, "out of memory");
            break;
        }
    }
    if (rc != NT_OK) {
        for (size_t i = 0; i < m; i++) free(v[i]);
        free(v);
        return rc;
    }
    ycfg_strv_free(*out);
    *out = v;
    *count = m;
    return NT_OK;
}

/* ============================================================ mapping handlers ===== */

int ycfg_h_str(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return ycfg_read_str(c, v, k->name, (char **)((char *)obj + k->offset));
}

int ycfg_h_text(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return ycfg_read_text(c, v, k->name, (char **)((char *)obj + k->offset));
}

int ycfg_h_double(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return ycfg_read_double(c, v, k->name, k->min, k->max, (double *)((char *)obj + k->offset));
}

int ycfg_h_long(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    double lo = k->min < (double)LONG_MIN ? (double)LONG_MIN : k->min;
    double hi = k->max > (double)LONG_MAX ? (double)LONG_MAX : k->max;
    return ycfg_read_long(c, v, k->name, (long)lo, hi >= (double)LONG_MAX ? LONG_MAX : (long)hi,
                          (long *)((char *)obj + k->offset));
}

int ycfg_h_bool(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return ycfg_read_bool(c, v, k->name, (bool *)((char *)obj + k->offset));
}

int ycfg_h_strv(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    ycfg_strvec *sv = (ycfg_strvec *)((char *)obj + k->offset);
    return ycfg_read_strv(c, v, k->name, false, &sv->v, &sv->n);
}

int ycfg_map_list(ycfg *c, yaml_node_t *v, const ycfg_key *keys, size_t size, const char *name,
                  const char *items, const char *item, void **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return ycfg_error(c, v, "%s must be a list of %s, not %s", name, items, ycfg_kind(v));
    size_t m = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    char *arr = calloc(m ? m : 1, size);
    if (!arr) return ycfg_error(c, v, "out of memory");
    int rc = NT_OK;
    for (size_t i = 0; i < m; i++) {
        yaml_node_t *it = ycfg_node(c, v->data.sequence.items.start[i]);
        if (!it || ycfg_map(c, it, keys, arr + i * size, YCFG_NO_SET, item) != NT_OK)
            rc = NT_ERR_FORMAT;
    }
    *out = arr;
    *n = m;
    return rc;
}

int ycfg_map(ycfg *c, yaml_node_t *map, const ycfg_key *keys, void *obj, size_t set_offset,
             const char *what)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return ycfg_error(c, map, "%s must be a mapping (key: value lines), not %s", what,
                          ycfg_kind(map));
    size_t nkeys = 0;
    while (keys[nkeys].name) nkeys++;
    int rc = NT_OK;
    unsigned seen_flags = 0;
    bool seen[64] = {0};
    size_t first_line[64] = {0};
    yaml_node_pair_t *b = map->data.mapping.pairs.start, *e = map->data.mapping.pairs.top;
    for (yaml_node_pair_t *p = b; p < e; p++) {
        yaml_node_t *k = ycfg_node(c, p->key), *v = ycfg_node(c, p->value);
        if (!k || !v) continue;
        if (k->type != YAML_SCALAR_NODE || ycfg_is_null(k)) {
            rc = ycfg_error(c, k, "keys must be plain words, not %s", ycfg_kind(k));
            continue;
        }
        const char *name = sval(k);
        size_t i = 0;
        while (i < nkeys && strcmp(keys[i].name, name)) i++;
        if (i == nkeys) {
            const char *cands[64];
            size_t nc = 0;
            for (size_t j = 0; j < nkeys && nc < 64; j++) cands[nc++] = keys[j].name;
            const char *s = ycfg_suggest(name, cands, nc);
            if (s)
                rc = ycfg_error(c, k, "unknown key '%s' (did you mean '%s'?)", name, s);
            else
                rc = ycfg_error(c, k, "unknown key '%s'", name);
            continue;
        }
        /* Only keys from the table can be duplicates worth naming (others are already
         * unknown), so this stays linear in the size of the mapping. */
        if (i < 64 && seen[i]) {
            rc = ycfg_error(c, k, "duplicate key '%s' (first given on line %zu)", name, first_line[i]);
            continue;
        }
        if (i < 64) first_line[i] = k->start_mark.line + 1;
        if (i < 64) seen[i] = true;
        seen_flags |= keys[i].flag;
        if (keys[i].fn && keys[i].fn(c, v, obj, &keys[i]) != NT_OK) rc = NT_ERR_FORMAT;
    }
    for (size_t i = 0; i < nkeys && i < 64; i++)
        if (keys[i].required && !seen[i])
            rc = ycfg_error(c, map, "missing required key '%s' in %s", keys[i].name, what);
    if (set_offset != YCFG_NO_SET) *(unsigned *)((char *)obj + set_offset) |= seen_flags;
    return rc;
}

/* ================================================================== suggestions ===== */

size_t ycfg_edit_distance(const char *a, const char *b)
{
    enum { MAXL = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAXL || lb > MAXL) return (size_t)-1;
    /* Three rows suffice for the transposition rule (it looks two rows back). */
    size_t rows[3][MAXL + 1];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t d = prev[j] + 1;
            if (cur[j - 1] + 1 < d) d = cur[j - 1] + 1;
            if (prev[j - 1] + cost < d) d = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < d)
                d = pp[j - 2] + 1;
            cur[j] = d;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *ycfg_suggest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bd = (size_t)-1, len = strlen(word);
    for (size_t i = 0; i < n; i++) {
        size_t d = ycfg_edit_distance(word, cands[i]);
        if (d < bd) {
            bd = d;
            best = cands[i];
        }
    }
    /* Close enough to be a typo: at most two edits, and fewer than a third of the word. */
    if (!best || bd == 0 || bd > 2 || 3 * bd > len + 1) return NULL;
    return best;
}

/* ================================================================= search path ===== */

static char *join3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

char *ycfg_user_dir(const char *kind)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    /* The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored. */
    if (xdg && xdg[0] == '/') return join3(xdg, "/natter/", kind);
    if (home && *home) return join3(home, "/.config/natter/", kind);
    return NULL;
}

int ycfg_search_dirs(const char *kind, char *dirs[3])
{
    int n = 0;
    dirs[n] = strdup(kind);
    if (dirs[n]) n++;
    dirs[n] = ycfg_user_dir(kind);
    if (dirs[n]) n++;
    dirs[n] = join3(datadir(), "/", kind);
    if (dirs[n]) n++;
    return n;
}

int ycfg_make_dirs(const char *path, mode_t mode, nt_err *err)
{
    char *dir = strdup(path);
    if (!dir) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    int rc = NT_OK;
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char save = *p;
            *p = '\0';
            if (mkdir(dir, mode) != 0 && errno != EEXIST) {
                rc = nt_err_set(err, NT_ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
                break;
            }
            *p = save;
            if (!save) break;
        }
    }
    free(dir);
    return rc;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool ends_with(const char *s, const char *suf)
{
    size_t ls = strlen(s), lf = strlen(suf);
    return ls >= lf && !strcmp(s + ls - lf, suf);
}

char *ycfg_find(const char *kind, const char *name)
{
    if (!name || !*name) return NULL;
    /* A path given as such is taken when it exists at all: if it is not a regular file (a
     * FIFO, a folder), its loader says what it is, which "not found" would hide. */
    struct stat st;
    if (strchr(name, '/') || ends_with(name, ".yaml") || ends_with(name, ".yml"))
        return stat(name, &st) == 0 ? strdup(name) : NULL;
    char *dirs[3];
    int nd = ycfg_search_dirs(kind, dirs);
    char *found = NULL;
    for (int i = 0; i < nd; i++) {
        if (!found) {
            char *base = join3(dirs[i], "/", name);
            char *p = base ? join3(base, ".yaml", "") : NULL;
            free(base);
            if (p && is_file(p))
                found = p;
            else
                free(p);
        }
        free(dirs[i]);
    }
    return found;
}

char *ycfg_ref(const char *kind, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *name = ends_with(base, ".yaml") ? strndup(base, strlen(base) - 5) : NULL;
    char *found = name && name[0] && !strchr(name, '.') ? ycfg_find(kind, name) : NULL;
    char *a = found ? realpath(found, NULL) : NULL, *b = realpath(path, NULL);
    bool same = a && b && !strcmp(a, b);
    free(found);
    free(a);
    if (same) {
        free(b);
        return name;
    }
    free(name);
    return b ? b : strdup(path);
}

char *ycfg_find_or_report(const char *kind, const char *what, const char *name,
                          ycfg_diag *diag)
{
    char *path = ycfg_find(kind, name);
    if (path) return path;
    char *dirs[3];
    int n = ycfg_search_dirs(kind, dirs);
    ycfg_diag_add(diag, "%s '%s' not found (looked in %s%s%s%s%s)", what, name,
                  n > 0 ? dirs[0] : "", n > 1 ? ", " : "", n > 1 ? dirs[1] : "",
                  n > 2 ? ", " : "", n > 2 ? dirs[2] : "");
    for (int i = 0; i < n; i++) free(dirs[i]);
    return NULL;
}

void ycfg_files_free(ycfg_file *v, int n)
{
    if (!v) return;
    for (int i = 0; i < n; i++) {
        free(v[i].base);
        free(v[i].path);
    }
    free(v);
}

static int file_cmp(const void *a, const void *b)
{
    return strcmp(((const ycfg_file *)a)->base, ((const ycfg_file *)b)->base);
}

int ycfg_list(const char *kind, ycfg_file **out)
{
    char *dirs[3];
    int nd = ycfg_search_dirs(kind, dirs);
    ycfg_file *v = NULL;
    int n = 0, cap = 0, rc = 0;
    for (int d = 0; d < nd; d++) {
        DIR *dir = opendir(dirs[d]);
        struct dirent *de;
        while (dir && rc == 0 && (de = readdir(dir))) {
            const char *fn = de->d_name;
            if (fn[0] == '.' || !ends_with(fn, ".yaml")) continue;
            size_t bl = strlen(fn) - 5;
            bool dup = false;
            for (int i = 0; i < n && !dup; i++)
                dup = strlen(v[i].base) == bl && !strncmp(v[i].base, fn, bl);
            if (dup) continue;
            char *path = join3(dirs[d], "/", fn);
            if (!path) {
                rc = -1;
                break;
            }
            if (!is_file(path)) {
                free(path);
                continue;
            }
            if (n == cap) {
                int nc = cap ? cap * 2 : 16;
                ycfg_file *nv = realloc(v, (size_t)nc * sizeof *nv);
                if (!nv) {
                    free(path);
                    rc = -1;
                    break;
                }
                v = nv;
                cap = nc;
            }
            v[n].path = path;
            v[n].base = strndup(fn, bl);
            if (!v[n].base) {
                free(path);
                rc = -1;
                break;
            }
            n++;
        }
        if (dir) closedir(dir);
        free(dirs[d]);
    }
    if (rc) {
        ycfg_files_free(v, n);
        *out = NULL;
        return -1;
    }
    if (n > 1) qsort(v, (size_t)n, sizeof *v, file_cmp);
    *out = v;
    return n;
}

void ycfg_entries_free(ycfg_entry *v, int n)
{
    if (!v) return;
    for (int i = 0; i < n; i++) {
        free(v[i].base);
        free(v[i].name);
        free(v[i].description);
        free(v[i].path);
    }
    free(v);
}

int ycfg_list_entries(const char *kind, ycfg_describe_fn describe, ycfg_entry **out)
{
    ycfg_file *f;
    int n = ycfg_list(kind, &f);
    *out = NULL;
    if (n < 0) return -1;
    ycfg_entry *v = calloc((size_t)n + 1, sizeof *v); /* + 1: never calloc(0) */
    if (!v) {
        ycfg_files_free(f, n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        ycfg_diag d = {0};
        v[i].ok = describe(f[i].path, &d, &v[i].name, &v[i].description);
        ycfg_diag_free(&d);
        v[i].base = f[i].base;
        v[i].path = f[i].path;
        f[i].base = f[i].path = NULL;
    }
    ycfg_files_free(f, n);
    *out = v;
    return n;
}

/* ================================================================ atomic write ===== */

int ycfg_write_atomic(const char *path, const char *data, size_t len, bool overwrite,
                      nt_err *err)
{
    return ycfg_write_atomic_mode(path, data, len, overwrite, 0644, err);
}

/* Why no file can be created next to path (errno e of the attempt), said of its folder
 * with what to do, rather than as the temporary file's strerror. */
static int ycfg_create_failed(const char *path, int e, nt_err *err)
{
    const char *slash = strrchr(path, '/');
    char dir[512];
    if (!slash) snprintf(dir, sizeof dir, "the current folder");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path < 500 ? slash - path : 500), path);
    switch (e) {
    case ENOENT:
        return nt_err_set(err, NT_ERR_IO, "%s: cannot write it: the folder %s does not exist "
                          "(create it first, or write elsewhere)", path, dir);
    case ENOTDIR:
        return nt_err_set(err, NT_ERR_IO, "%s: cannot write it: %s is not a folder", path, dir);
    case EACCES:
    case EPERM:
        return nt_err_set(err, NT_ERR_IO, "%s: cannot write it: no permission to create files "
                          "in %s", path, dir);
    case EROFS:
        return nt_err_set(err, NT_ERR_IO, "%s: cannot write it: %s is on a read-only file "
                          "system", path, dir);
    case ENOSPC:
    case EDQUOT:
        return nt_err_set(err, NT_ERR_IO, "%s: cannot write it: no space left for files in %s "
                          "(%s)", path, dir, strerror(e));
    default:
        return nt_err_set(err, NT_ERR_IO, "%s: cannot create a file in %s: %s", path, dir,
                          strerror(e));
    }
}

int ycfg_write_atomic_mode(const char *path, const char *data, size_t len, bool overwrite,
                           mode_t mode, nt_err *err)
{
    char *tmp = join3(path, ".tmpXXXXXX", "");
    if (!tmp) return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
    int rc = NT_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = ycfg_create_failed(path, errno, err);
        free(tmp);
        return rc;
    }
    fchmod(fd, mode); /* mkstemp made it 0600 */
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = nt_err_set(err, NT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            goto fail;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = nt_err_set(err, NT_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = nt_err_set(err, NT_ERR_IO, "%s: close failed: %s", path, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (overwrite) {
        if (rename(tmp, path) != 0) {
            rc = nt_err_set(err, NT_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
            goto fail;
        }
    } else {
        /* link() fails with EEXIST atomically: no window where another writer is clobbered.
         * File systems without hard links get a check-then-rename instead. */
        if (link(tmp, path) != 0) {
            int e = errno;
            struct stat st;
            if (e == EEXIST || ((e == EPERM || e == ENOTSUP || e == ENOSYS) && lstat(path, &st) == 0)) {
                rc = nt_err_set(err, NT_ERR_INVALID, "%s: file exists (use --force to replace it)",
                                path);
                goto fail;
            }
            if (e != EPERM && e != ENOTSUP && e != ENOSYS) {
                rc = nt_err_set(err, NT_ERR_IO, "%s: cannot create: %s", path, strerror(e));
                goto fail;
            }
            if (rename(tmp, path) != 0) {
                rc = nt_err_set(err, NT_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
                goto fail;
            }
        } else {
            unlink(tmp);
        }
    }
    /* Make the new directory entry durable too. */
    char *slash = strrchr(tmp, '/');
    if (slash) *slash = 0;
    int dfd = open(slash ? (slash == tmp ? "/" : tmp) : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(tmp);
    return NT_OK;
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
    free(tmp);
    return rc;
}

/* ==================================================================== writing ===== */

static int emit_to_strbuf(void *data, unsigned char *s, size_t n)
{
    strbuf *b = data;
    strbuf_put(b, s, n);
    return !b->oom;
}

bool ycfg_emit_begin(yaml_emitter_t *e, strbuf *out, const char *header, int width)
{
    for (const char *s = header; s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        strbuf_puts(out, n ? "# " : "#");
        strbuf_put(out, s, n);
        strbuf_puts(out, "\n");
        s += n + (nl ? 1 : 0);
    }
    memset(e, 0, sizeof *e); /* ycfg_emit_end may delete it after a failed initialize */
    if (!yaml_emitter_initialize(e)) return false;
    yaml_emitter_set_output(e, emit_to_strbuf, out);
    yaml_emitter_set_unicode(e, 1);
    yaml_emitter_set_width(e, width);
    yaml_emitter_set_indent(e, 2);
    yaml_event_t ev;
    bool ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(e, &ev);
    ok = ok && yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(e, &ev);
    return ok;
}

bool ycfg_emit_end(yaml_emitter_t *e, bool ok)
{
    yaml_event_t ev;
    ok = ok && yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(e, &ev);
    ok = ok && yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    ok = ok && yaml_emitter_flush(e);
    yaml_emitter_delete(e);
    return ok;
}

bool ycfg_emit_scalar(yaml_emitter_t *e, const char *tag, const char *s, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    int implicit = tag == NULL;
    return yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)tag, (yaml_char_t *)s,
                                        (int)strlen(s), implicit, implicit, style) &&
           yaml_emitter_emit(e, &ev);
}

bool ycfg_emit_text(yaml_emitter_t *e, const char *s)
{
    /* Multi-line text reads best as a literal block; libyaml falls back to a quoted style
     * by itself when the text cannot be a literal block (trailing spaces, ...). */
    return ycfg_emit_scalar(e, NULL, s, strchr(s, '\n') ? YAML_LITERAL_SCALAR_STYLE
                                                        : YAML_ANY_SCALAR_STYLE);
}

bool ycfg_emit_str(yaml_emitter_t *e, const char *s)
{
    if (strchr(s, '\n')) return ycfg_emit_text(e, s);
    /* Plain only when it reads back as this string: not a number, not a YAML word. */
    bool plain_ok = *s && strspn(s, "0123456789.-+") != strlen(s);
    static const char *const special[] = {"true", "false", "yes", "no", "on", "off", "null", "~",
                                          "True", "False", "Yes", "No", "On", "Off", "Null",
                                          "TRUE", "FALSE", "YES", "NO", "ON", "OFF", "NULL"};
    for (size_t i = 0; plain_ok && i < sizeof special / sizeof *special; i++)
        if (!strcmp(s, special[i])) plain_ok = false;
    if (plain_ok) { /* 1e5, inf, nan, 0x10 */
        char *end;
        strtod(s, &end);
        if (*end == '\0') plain_ok = false;
    }
    return ycfg_emit_scalar(e, NULL, s, plain_ok ? YAML_ANY_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

bool ycfg_emit_plain(yaml_emitter_t *e, const char *s)
{
    return ycfg_emit_scalar(e, NULL, s, YAML_PLAIN_SCALAR_STYLE);
}

bool ycfg_emit_long(yaml_emitter_t *e, long long v)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", v);
    return ycfg_emit_plain(e, b);
}

bool ycfg_emit_map(yaml_emitter_t *e, bool start, bool flow)
{
    yaml_event_t ev;
    int ok = start ? yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                         flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE)
                   : yaml_mapping_end_event_initialize(&ev);
    return ok && yaml_emitter_emit(e, &ev);
}

bool ycfg_emit_seq(yaml_emitter_t *e, bool start, bool flow)
{
    yaml_event_t ev;
    int ok = start ? yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                          flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE)
                   : yaml_sequence_end_event_initialize(&ev);
    return ok && yaml_emitter_emit(e, &ev);
}
