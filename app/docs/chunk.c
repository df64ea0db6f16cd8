/* chunk.c — documents cut into passages at their structure (see chunk.h). */
#include "docs/chunk.h"

#include "natter.h"
#include "util/strbuf.h"
#include "util/text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One line of the text as the chunker sees it (for roff: after conversion). */
typedef struct cline {
    size_t off, len;  /* in the (converted) text */
    int32_t src;      /* its line in the file, 1-based */
    bool blank;       /* only blanks: ends a paragraph */
    bool heading;     /* starts a section: a passage must start here */
    bool top;         /* code: a top-level definition starts here (a passage may start) */
    bool comment;     /* Markdown: a line that is one HTML comment (also blank: not shown) */
} cline;

typedef struct clines {
    cline *v;
    size_t n, cap;
} clines;

static bool clines_push(clines *l, cline c)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 256;
        cline *nv = realloc(l->v, ncap * sizeof *nv);
        if (!nv) return false;
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = c;
    return true;
}

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f') return false;
    return true;
}

const char *chunk_kind_name(enum chunk_kind k)
{
    static const char *const names[] = {"text", "markdown", "man", "code"};
    return (unsigned)k < sizeof names / sizeof *names ? names[k] : "text";
}

enum chunk_kind chunk_kind_of(const char *path, const char *text, size_t n)
{
    static const char *const code_ext[] = {
        "c", "h", "cc", "cpp", "cxx", "hpp", "hh", "py", "js", "ts", "go", "rs", "java", "rb",
        "sh", "pl", "lua", "swift", "kt", "cs", "scala", "php", "zig", "el", "hs", "ml", "mk",
        "cmake", "m", "mm", "jsx", "tsx", "bash", "zsh", "sql", NULL};
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) {
        const char *e = dot + 1;
        if (!strcasecmp(e, "md") || !strcasecmp(e, "markdown") || !strcasecmp(e, "mdown"))
            return CHUNK_MARKDOWN;
        /* man(7) sections: .1 to .9, optionally with a suffix (.3pm, .1ssl); .man, .roff. */
        if ((e[0] >= '1' && e[0] <= '9' && (e[1] == '\0' || isalpha((unsigned char)e[1]))) ||
            !strcasecmp(e, "man") || !strcasecmp(e, "roff"))
            return CHUNK_MAN;
        for (size_t i = 0; code_ext[i]; i++)
            if (!strcasecmp(e, code_ext[i])) return CHUNK_CODE;
    }
    if (!strcmp(base, "Makefile") || !strcmp(base, "makefile")) return CHUNK_CODE;
    /* A roff page whatever its name: it opens with a comment or the title request. */
    if (n >= 3 && (!strncmp(text, ".TH", 3) || !strncmp(text, ".\\\"", 3) ||
                   !strncmp(text, "'\\\"", 3)))
        return CHUNK_MAN;
    return CHUNK_TEXT;
}

bool chunk_is_binary(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL || !text_valid(s, n);
}

/* ------------------------------------------------------------------ roff to text ---- */

/* The roff escapes a man page uses, as text. Unknown named characters become nothing. */
static void roff_named(const char *name, size_t n, strbuf *out)
{
    static const struct { const char *name, *text; } map[] = {
        {"em", "--"}, {"en", "-"}, {"hy", "-"}, {"aq", "'"}, {"dq", "\""}, {"lq", "\""},
        {"rq", "\""}, {"oq", "'"}, {"cq", "'"}, {"bu", "*"}, {"co", "(c)"}, {"rg", "(R)"},
        {"tm", "(TM)"}, {"mu", "x"}, {"ge", ">="}, {"le", "<="}, {"ne", "!="}, {"->", "->"},
        {"<-", "<-"}, {"lh", "<="}, {"rh", "=>"}, {"ti", "~"}, {"ha", "^"}, {"rs", "\\"},
        {"ga", "`"}, {"sl", "/"}, {"ba", "|"}, {"de", "°"}, {"pl", "+"}, {"eq", "="},
        {"mi", "-"}, {"fo", "<<"}, {"fc", ">>"}, {"at", "@"}, {"sh", "#"}, {"Do", "$"},
        {"lB", "["}, {"rB", "]"}, {"lC", "{"}, {"rC", "}"}, {"la", "<"}, {"ra", ">"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strlen(map[i].name) == n && !memcmp(map[i].name, name, n)) {
            strbuf_puts(out, map[i].text);
            return;
        }
}

/* Appends s[0..n) with its escapes resolved. */
static void roff_text(const char *s, size_t n, strbuf *out)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] != '\\' || i + 1 >= n) {
            strbuf_putc(out, s[i++]);
            continue;
        }
        char c = s[i + 1];
        i += 2;
        switch (c) {
        case '"': return; /* a comment to the end of the line */
        case 'f':         /* font: \fB, \f(BI, \f[CR] */
        case 's':         /* size: \s0, \s+2, \s-1 */
        case '*':         /* a string: \*R, \*(lq, \*[name] */
        case 'n':         /* a register */
        case 'k':
            if (c == 's' && i < n && (s[i] == '+' || s[i] == '-')) i++;
            if (i < n && s[i] == '(') {
                if (c == '*' && i + 2 < n) roff_named(s + i + 1, 2, out);
                i += 3;
            } else if (i < n && s[i] == '[') {
                size_t e = i + 1;
                while (e < n && s[e] != ']') e++;
                i = e + 1;
            } else {
                i++;
                if (c == 's')
                    while (i < n && isdigit((unsigned char)s[i])) i++;
            }
            break;
        case '(': /* \(xx: a named character */
            if (i + 2 <= n) roff_named(s + i, 2, out);
            i += 2;
            break;
        case '[': { /* \[name] */
            size_t e = i;
            while (e < n && s[e] != ']') e++;
            roff_named(s + i, e - i, out);
            i = e + 1;
            break;
        }
        case 'e':
        case '\\': strbuf_putc(out, '\\'); break;
        case '-': strbuf_putc(out, '-'); break;
        case ' ':
        case '~':
        case '0': strbuf_putc(out, ' '); break;
        case '.': strbuf_putc(out, '.'); break;
        case '\'': strbuf_putc(out, '\''); break;
        case '`': strbuf_putc(out, '`'); break;
        default: break; /* \& \| \^ \c \% and the rest: nothing to show */
        }
        /* An escape that took the first bytes of a character (\é, \fé, \(xé) takes the
         * rest of it too: a passage is always valid UTF-8 (fuzz_docs found \ before U+0640
         * leaving a lone continuation byte). */
        while (i < n && text_is_cont((unsigned char)s[i])) i++;
    }
}

/* The arguments of a request (after its name), quotes honoured, each resolved; joined with
 * `sep` (NULL: nothing, for the alternating-font requests .BR, .IR, ...). */
static void roff_args(const char *s, size_t n, const char *sep, strbuf *out)
{
    size_t i = 0;
    bool first = true;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
        if (i >= n) break;
        size_t a, e;
        if (s[i] == '"') {
            a = ++i;
            while (i < n && s[i] != '"') i++;
            e = i;
            if (i < n) i++;
        } else {
            a = i;
            while (i < n && s[i] != ' ' && s[i] != '\t') i++;
            e = i;
        }
        if (!first && sep) strbuf_puts(out, sep);
        first = false;
        roff_text(s + a, e - a, out);
    }
}

enum chunk_roff_line chunk_roff_line(const char *line, size_t n, strbuf *out)
{
    if (n == 0) return CHUNK_ROFF_BREAK;
    if (line[0] != '.' && line[0] != '\'') {
        roff_text(line, n, out);
        return CHUNK_ROFF_TEXT;
    }
    size_t i = 1;
    while (i < n && (line[i] == ' ' || line[i] == '\t')) i++;
    size_t a = i;
    while (i < n && line[i] != ' ' && line[i] != '\t') i++;
    const char *req = line + a;
    size_t rl = i - a;
    const char *args = line + i;
    size_t an = n - i;
#define REQ(s) (rl == strlen(s) && !memcmp(req, s, rl))
    if (rl == 0 || (rl >= 2 && req[0] == '\\' && req[1] == '"')) return CHUNK_ROFF_NONE;
    if (REQ("SH") || REQ("SS")) {
        roff_args(args, an, " ", out);
        return CHUNK_ROFF_HEADING;
    }
    if (REQ("B") || REQ("I") || REQ("SM") || REQ("SB")) {
        roff_args(args, an, " ", out);
        return CHUNK_ROFF_TEXT;
    }
    if (REQ("BR") || REQ("RB") || REQ("IR") || REQ("RI") || REQ("BI") || REQ("IB")) {
        roff_args(args, an, NULL, out);
        return CHUNK_ROFF_TEXT;
    }
    if (REQ("IP") || REQ("TP") || REQ("HP") || REQ("PP") || REQ("LP") || REQ("P") ||
        REQ("sp") || REQ("RS") || REQ("RE") || REQ("EX") || REQ("EE") || REQ("nf") ||
        REQ("fi") || REQ("TQ")) {
        /* .IP's tag is text of the new paragraph: it goes on the break's line. */
        if (REQ("IP")) {
            size_t e = 0;
            while (e < an && (args[e] == ' ' || args[e] == '\t')) e++;
            if (e < an) {
                size_t q = e;
                if (args[q] == '"') {
                    q++;
                    while (q < an && args[q] != '"') q++;
                    if (q < an) q++;
                } else {
                    while (q < an && args[q] != ' ' && args[q] != '\t') q++;
                }
                roff_args(args + e, q - e, " ", out);
            }
        }
        return CHUNK_ROFF_BREAK;
    }
    if (REQ("UR") || REQ("MT")) {
        roff_args(args, an, " ", out);
        return CHUNK_ROFF_TEXT;
    }
#undef REQ
    return CHUNK_ROFF_NONE; /* .TH, .ad, .na, .ne, .de ...: nothing to read */
}

/* ----------------------------------------------------------------------- lines ---- */

/* The lines of a file that is not roff: pointers into text itself. */
static bool lines_plain(enum chunk_kind kind, const char *text, size_t n, clines *l)
{
    size_t off = 0;
    int32_t no = 0;
    bool fence = false, prev_blank = true;
    while (off < n) {
        const char *nl = memchr(text + off, '\n', n - off);
        size_t len = nl ? (size_t)(nl - (text + off)) : n - off;
        cline c = {.off = off, .len = len, .src = ++no};
        const char *s = text + off;
        c.blank = is_blank(s, len);
        if (kind == CHUNK_MARKDOWN) {
            size_t k = 0;
            while (k < len && k < 3 && s[k] == ' ') k++;
            if (len - k >= 3 && (!strncmp(s + k, "```", 3) || !strncmp(s + k, "~~~", 3)))
                fence = !fence;
            else if (fence)
                c.blank = false; /* a blank line inside code stays in its paragraph */
            else if (k < len && s[k] == '#') {
                size_t h = k;
                while (h < len && s[h] == '#') h++;
                c.heading = h - k <= 6 && (h == len || s[h] == ' ' || s[h] == '\t');
            } else {
                size_t e = len;
                while (e > k && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) e--;
                c.comment = e - k >= 7 && !strncmp(s + k, "<!--", 4) && !strncmp(s + e - 3, "-->", 3);
                c.blank = c.blank || c.comment;
            }
        } else if (kind == CHUNK_CODE) {
            c.top = prev_blank && !c.blank && len > 0 && s[0] != ' ' && s[0] != '\t' &&
                    s[0] != '}' && s[0] != ')';
        }
        prev_blank = c.blank;
        if (!clines_push(l, c)) return false;
        off += len + (nl ? 1 : 0);
    }
    return true;
}

/* A man page's lines as text (into conv): a heading line for .SH/.SS, a blank line for each
 * paragraph break, text lines as they read. */
static bool lines_roff(const char *text, size_t n, strbuf *conv, clines *l)
{
    size_t off = 0;
    int32_t no = 0;
    while (off < n) {
        const char *nl = memchr(text + off, '\n', n - off);
        size_t len = nl ? (size_t)(nl - (text + off)) : n - off;
        no++;
        size_t start = conv->n;
        enum chunk_roff_line k = chunk_roff_line(text + off, len, conv);
        off += len + (nl ? 1 : 0);
        if (k == CHUNK_ROFF_NONE) continue;
        cline c = {.off = start, .len = conv->n - start, .src = no};
        if (k == CHUNK_ROFF_HEADING) c.heading = true;
        if (k == CHUNK_ROFF_BREAK) {
            /* A break, then (for .IP) its tag as the paragraph's first line. */
            cline b = {.off = start, .len = 0, .src = no, .blank = true};
            if (!clines_push(l, b)) return false;
            if (c.len == 0) {
                strbuf_putc(conv, '\n');
                continue;
            }
        }
        c.blank = is_blank(conv->s ? conv->s + start : "", c.len);
        strbuf_putc(conv, '\n');
        if (conv->oom || !clines_push(l, c)) return false;
    }
    return !conv->oom;
}

/* ---------------------------------------------------------------------- passages ---- */

typedef struct chunker {
    const char *base; /* the text the lines point into */
    const clines *l;
    size_t max;
    doc_chunks *out;
    const char *title; /* the current heading (points into base), length title_n */
    size_t title_n;
    strbuf cur;        /* the passage being built */
    strbuf terms;      /* its search terms: the Markdown comments met since the last passage */
    int32_t a, b;      /* its lines */
    bool oom;
} chunker;

static void chunker_flush(chunker *k)
{
    if (k->oom) return;
    /* Trailing blank lines are not part of it. */
    while (k->cur.n > 0 && (k->cur.s[k->cur.n - 1] == '\n' || k->cur.s[k->cur.n - 1] == ' ' ||
                            k->cur.s[k->cur.n - 1] == '\t' || k->cur.s[k->cur.n - 1] == '\r'))
        k->cur.s[--k->cur.n] = '\0';
    if (k->cur.n == 0 || is_blank(k->cur.s, k->cur.n)) {
        strbuf_free(&k->cur);
        return;
    }
    doc_chunks *o = k->out;
    if (o->n == o->cap) {
        size_t ncap = o->cap ? o->cap * 2 : 16;
        doc_chunk *nv = realloc(o->v, ncap * sizeof *nv);
        if (!nv) goto nomem;
        o->v = nv;
        o->cap = ncap;
    }
    char *title = strndup(k->title ? k->title : "", k->title_n);
    char *text = strbuf_take(&k->cur, NULL);
    strbuf_puts(&k->terms, "");
    char *terms = strbuf_take(&k->terms, NULL);
    if (!title || !text || !terms) {
        free(title);
        free(text);
        free(terms);
        goto nomem;
    }
    o->v[o->n++] = (doc_chunk){.text = text, .title = title, .terms = terms, .line_a = k->a,
                               .line_b = k->b};
    return;
nomem:
    k->oom = true;
    strbuf_free(&k->cur);
    strbuf_free(&k->terms);
}

/* Adds s[0..n) (one line, or a piece of a long one) of file line src to the passage. */
static void chunker_add(chunker *k, const char *s, size_t n, int32_t src)
{
    if (k->cur.n == 0) k->a = src;
    k->b = src;
    strbuf_put(&k->cur, s, n);
    strbuf_putc(&k->cur, '\n');
    if (k->cur.oom) k->oom = true;
}

/* A paragraph longer than the budget: cut at line ends, a line longer than it at a UTF-8
 * character boundary. */
static void chunker_long(chunker *k, size_t i, size_t j)
{
    for (size_t x = i; x < j; x++) {
        const cline *c = &k->l->v[x];
        const char *s = k->base + c->off;
        size_t len = c->len;
        if (k->cur.n > 0 && k->cur.n + len + 1 > k->max) chunker_flush(k);
        while (len + 1 > k->max) {
            size_t cut = k->max - 1;
            while (cut > 0 && text_is_cont((unsigned char)s[cut])) cut--;
            if (cut == 0) cut = k->max - 1;
            chunker_add(k, s, cut, c->src);
            chunker_flush(k);
            s += cut;
            len -= cut;
        }
        if (len > 0) chunker_add(k, s, len, c->src);
    }
}

int chunk_split(enum chunk_kind kind, const char *text, size_t n, size_t max_bytes,
                doc_chunks *out)
{
    clines l = {0};
    strbuf conv = {0};
    chunker k = {.max = max_bytes < 16 ? 16 : max_bytes, .out = out};
    bool ok = kind == CHUNK_MAN ? lines_roff(text, n, &conv, &l)
                                : lines_plain(kind, text, n, &l);
    if (!ok) goto nomem;
    k.base = kind == CHUNK_MAN ? (conv.s ? conv.s : "") : text;
    k.l = &l;
    size_t i = 0;
    bool heading_only = false; /* the passage holds its heading line and nothing else yet */
    while (i < l.n && !k.oom) {
        if (l.v[i].blank) {
            /* A Markdown comment's words: searched, not shown (chunk.h). */
            if (l.v[i].comment) {
                const char *c = k.base + l.v[i].off;
                size_t cn = l.v[i].len;
                while (cn > 0 && (c[cn - 1] == ' ' || c[cn - 1] == '\t' || c[cn - 1] == '\r')) cn--;
                while (cn > 0 && *c == ' ') c++, cn--;
                if (k.terms.n) strbuf_putc(&k.terms, '\n');
                strbuf_put(&k.terms, c + 4, cn - 7);
                if (k.terms.oom) k.oom = true;
            }
            i++;
            continue;
        }
        /* A paragraph: lines [i, j) up to the next blank line or heading. */
        size_t j = i + 1;
        while (j < l.n && !l.v[j].blank && !l.v[j].heading) j++;
        /* Code: a whole definition (to the next top-level line, blank lines inside
         * included) is one paragraph when it fits the budget. */
        if (kind == CHUNK_CODE && l.v[i].top) {
            size_t u = i + 1, end = i + 1;
            while (u < l.n && !l.v[u].top) {
                if (!l.v[u].blank) end = u + 1;
                u++;
            }
            size_t ub = 0;
            for (size_t x = i; x < end; x++) ub += l.v[x].len + 1;
            if (ub <= k.max) j = end;
        }
        size_t bytes = 0;
        for (size_t x = i; x < j; x++) bytes += l.v[x].len + 1;
        if (l.v[i].heading) {
            chunker_flush(&k);
            const cline *h = &l.v[i];
            const char *t = k.base + h->off;
            size_t tn = h->len;
            if (kind == CHUNK_MARKDOWN) {
                while (tn > 0 && (*t == '#' || *t == ' ')) t++, tn--;
                while (tn > 0 && (t[tn - 1] == '#' || t[tn - 1] == ' ' || t[tn - 1] == '\r')) tn--;
            }
            k.title = t;
            k.title_n = tn;
        } else if (l.v[i].top && k.cur.n >= k.max / 3) {
            chunker_flush(&k); /* a new definition, and the passage has enough already */
        }
        bool over = k.cur.n > 0 && k.cur.n + 1 + bytes > k.max;
        if (over && !heading_only) chunker_flush(&k);
        if (bytes > k.max || over) {
            /* A heading alone is no passage: the paragraph under it fills the rest of the
             * heading's passage line by line. */
            if (k.cur.n > 0) strbuf_putc(&k.cur, '\n');
            chunker_long(&k, i, j);
        } else {
            if (k.cur.n > 0) strbuf_putc(&k.cur, '\n'); /* the blank line between paragraphs */
            for (size_t x = i; x < j; x++) chunker_add(&k, k.base + l.v[x].off, l.v[x].len, l.v[x].src);
        }
        heading_only = l.v[i].heading && j == i + 1 && k.cur.n > 0;
        i = j;
    }
    chunker_flush(&k);
    strbuf_free(&k.terms); /* comments after the last passage's text: it took them already */
    if (k.oom) goto nomem;
    free(l.v);
    strbuf_free(&conv);
    return NT_OK;
nomem:
    strbuf_free(&k.cur);
    strbuf_free(&k.terms);
    free(l.v);
    strbuf_free(&conv);
    return NT_ERR_NOMEM;
}

void doc_chunks_free(doc_chunks *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].text);
        free(c->v[i].title);
        free(c->v[i].terms);
    }
    free(c->v);
    memset(c, 0, sizeof *c);
}
