/* text.c — UTF-8 decoding, display widths (utf8proc), sanitising and wrapping. See text.h. */
#include "text.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int text_next(const char *s, size_t n, int32_t *cp)
{
    /* utf8proc_iterate rejects exactly what RFC 3629 forbids (overlongs, surrogates, values
     * past U+10FFFF, truncated and broken sequences) and reads at most 4 bytes. */
    utf8proc_int32_t v;
    utf8proc_ssize_t len =
        utf8proc_iterate((const utf8proc_uint8_t *)s, n < 4 ? (utf8proc_ssize_t)n : 4, &v);
    if (len < 1) {
        *cp = 0xFFFD;
        return -1;
    }
    *cp = v;
    return (int)len;
}

int text_decode(const char *s, size_t n, int32_t *cp)
{
    int len = text_next(s, n, cp);
    return len < 0 ? 1 : len;
}

bool text_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int len = text_next(s + i, n - i, &cp);
        if (len < 0) return false;
        i += (size_t)len;
    }
    return true;
}

int text_lead_len(unsigned char c)
{
    return c >= 0xF0 && c <= 0xF7 ? 4 : c >= 0xE0 ? (c <= 0xEF ? 3 : 1) : c >= 0xC0 ? 2 : 1;
}

void text_fput_escaped(FILE *f, const char *s, size_t n, bool quoted)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        int32_t cp;
        int len = text_next(s + i, n - i, &cp);
        if (c == '\\') fputs("\\\\", f);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c == '"' && quoted) fputs("\\\"", f);
        else if (c < 0x20 || c == 0x7f || len < 0) fprintf(f, "\\x%02x", c);
        else if (cp >= 0x80 && cp < 0xA0) fprintf(f, "\\u%04x", (unsigned)cp);
        else fwrite(s + i, 1, (size_t)len, f);
        i += len > 0 ? (size_t)len : 1;
    }
}

void text_fput(FILE *f, const char *s, size_t n)
{
    text_buf b = {0};
    if (text_buf_put(&b, s, n, 0, true) == 0 && b.n) fwrite(b.s, 1, b.n, f);
    text_buf_free(&b);
}

int text_printf(FILE *f, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    char *s = small;
    if ((size_t)n >= sizeof small) {
        /* Long lines (a quoted YAML line, an exported answer) take the heap. */
        if (!(s = malloc((size_t)n + 1))) return -1;
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    text_fput(f, s, (size_t)n);
    if (s != small) free(s);
    return n;
}

size_t text_chars(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += !text_is_cont((unsigned char)s[i]);
    return k;
}

int text_encode(int32_t cp, char *out)
{
    if (!utf8proc_codepoint_valid(cp)) cp = 0xFFFD;
    return (int)utf8proc_encode_char(cp, (utf8proc_uint8_t *)out);
}

bool text_is_control(int32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

int32_t text_control_picture(int32_t cp)
{
    if (cp < 0x20) return 0x2400 + cp; /* ␀ ... ␟, ESC is ␛ (U+241B) */
    if (cp == 0x7F) return 0x2421;     /* ␡ */
    /* C1 controls (0x80..0x9F) include CSI (0x9B): some terminals obey them. */
    return 0xFFFD;
}

int text_cp_width(int32_t cp)
{
    if (text_is_control(cp)) return 1;
    int w = utf8proc_charwidth(cp);
    utf8proc_category_t cat = utf8proc_category(cp);
    if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME ||
        cat == UTF8PROC_CATEGORY_CF)
        return 0;
    return w < 0 ? 1 : w > 2 ? 2 : w;
}

int text_width(const char *s, size_t n)
{
    int w = 0;
    size_t i = 0;
    while (i < n) {
        int32_t cp;
        i += (size_t)text_decode(s + i, n - i, &cp);
        if (cp != '\n') w += text_cp_width(cp);
    }
    return w;
}

void text_buf_free(text_buf *b)
{
    if (!b) return;
    free(b->s);
    free(b->tag);
    memset(b, 0, sizeof *b);
}

void text_buf_clear(text_buf *b)
{
    b->n = 0;
    if (b->s) b->s[0] = '\0';
}

static int text_buf_reserve(text_buf *b, size_t more)
{
    if (b->n + more + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + more + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) return -1;
    b->s = s;
    uint8_t *t = realloc(b->tag, cap);
    if (!t) return -1;
    b->tag = t;
    b->cap = cap;
    return 0;
}

int text_buf_put_raw(text_buf *b, const char *s, size_t n, uint8_t tag)
{
    if (text_buf_reserve(b, n) < 0) return -1;
    memcpy(b->s + b->n, s, n);
    memset(b->tag + b->n, tag, n);
    b->n += n;
    b->s[b->n] = '\0';
    return 0;
}

int text_buf_put(text_buf *b, const char *s, size_t n, uint8_t tag, bool keep_nl)
{
    /* Each input byte becomes at most 4 output bytes (a lone byte → U+FFFD is 3, a tab 4). */
    if (n > ((size_t)-1) / 4 - 1 || text_buf_reserve(b, 4 * n) < 0) return -1;
    size_t i = 0;
    while (i < n) {
        int32_t cp;
        int len = text_decode(s + i, n - i, &cp);
        if (cp == '\t') {
            memset(b->s + b->n, ' ', TEXT_TAB_WIDTH);
            memset(b->tag + b->n, tag, TEXT_TAB_WIDTH);
            b->n += TEXT_TAB_WIDTH;
        } else if (cp == '\n' && keep_nl) {
            b->s[b->n] = '\n';
            b->tag[b->n++] = tag;
        } else {
            if (text_is_control(cp)) cp = text_control_picture(cp);
            int m = text_encode(cp, b->s + b->n);
            memset(b->tag + b->n, tag, (size_t)m);
            b->n += (size_t)m;
        }
        i += (size_t)len;
    }
    b->s[b->n] = '\0';
    return 0;
}

static int text_push_line(text_line **lines, size_t *n_lines, size_t *cap, size_t start,
                          size_t end, int width)
{
    if (*n_lines == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        text_line *l = realloc(*lines, c * sizeof *l);
        if (!l) return -1;
        *lines = l;
        *cap = c;
    }
    (*lines)[(*n_lines)++] = (text_line){start, end, width};
    return 0;
}

int text_wrap(const char *s, size_t n, int width, enum text_wrap_mode mode, text_line **lines,
              size_t *n_lines, size_t *cap)
{
    bool words = mode == TEXT_WRAP_WORDS;
    size_t before = *n_lines;
    size_t pos = 0;
    if (width < 1) width = 1;
    for (;;) {
        size_t start = pos, i = pos, brk = 0; /* brk: the latest space on this line */
        int col = 0;
        bool overflow = false;
        int32_t cp = 0;
        while (i < n && s[i] != '\n') {
            int len = text_decode(s + i, n - i, &cp);
            int w = text_cp_width(cp);
            if (col + w > width && i > start) {
                overflow = true;
                break;
            }
            if (cp == ' ' && i > start) brk = i;
            col += w;
            i += (size_t)len;
        }
        if (!overflow) {
            if (text_push_line(lines, n_lines, cap, start, i, col) < 0) return -1;
            if (i >= n) break;
            pos = i + 1; /* past the '\n' */
            continue;
        }
        size_t end = i;
        if (words) {
            if (cp != ' ' && brk > start) end = brk;
            while (end > start && s[end - 1] == ' ') end--;
        }
        if (text_push_line(lines, n_lines, cap, start, end, text_width(s + start, end - start)) <
            0)
            return -1;
        pos = words && end > start ? end : i;
        if (words)
            while (pos < n && s[pos] == ' ') pos++;
        if (pos >= n) break; /* the spaces that overflowed were the last thing: no empty line */
    }
    return (int)(*n_lines - before);
}

void text_cursor(const char *s, const text_line *lines, size_t n_lines, size_t pos, int *row,
                 int *col)
{
    size_t r = 0;
    for (size_t i = 0; i < n_lines; i++)
        if (lines[i].start <= pos) r = i;
    *row = (int)r;
    if (n_lines == 0) {
        *col = 0;
        return;
    }
    size_t end = pos < lines[r].end ? pos : lines[r].end;
    *col = text_width(s + lines[r].start, end - lines[r].start);
}

/* Markdown fences: a line of three or more ` or ~ after at most three spaces opens a code
 * block, and the next such line of the same character closes it. */
bool text_code_block(const char *text, int k, size_t *start, size_t *len)
{
    bool in = false;
    char fence = 0;
    int seen = 0;
    for (const char *l = text; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        const char *p = l;
        while (p < l + n && p - l < 4 && *p == ' ') p++;
        bool is_fence = p - l < 4 && p + 3 <= l + n && (p[0] == '`' || p[0] == '~') &&
                        p[1] == p[0] && p[2] == p[0];
        if (is_fence && !in) {
            in = true;
            fence = p[0];
            if (++seen == k) *start = e ? (size_t)(e + 1 - text) : strlen(text);
        } else if (is_fence && in && p[0] == fence) {
            in = false;
            if (seen == k) {
                *len = (size_t)(l - text) - *start;
                if (*len > 0) (*len)--; /* the newline before the closing fence */
                return true;
            }
        }
        l = e ? e + 1 : l + n;
    }
    if (in && seen == k) {
        *len = strlen(text) - *start;
        return true;
    }
    return false;
}

static bool think_blank(char c)
{
    return c == ' ' || c == '\n';
}

void text_think_split(const char *s, size_t len, text_think *out)
{
    static const char open[] = "<think>", close[] = "</think>";
    const size_t no = sizeof open - 1, nc = sizeof close - 1;
    *out = (text_think){0};
    size_t i = 0;
    while (i < len && think_blank(s[i])) i++;
    if (len - i < no || memcmp(s + i, open, no) != 0) return;
    size_t a = i + no, k = a;
    while (k + nc <= len && memcmp(s + k, close, nc) != 0) k++;
    out->closed = k + nc <= len;
    size_t b = out->closed ? k : len;
    out->end = len;
    if (out->closed) {
        out->end = k + nc;
        while (out->end < len && think_blank(s[out->end])) out->end++;
    }
    while (a < b && think_blank(s[a])) a++;
    while (b > a && think_blank(s[b - 1])) b--;
    out->in_a = a;
    out->in_b = b;
}
