/* strbuf.c — the growable text buffer (see strbuf.h). */
#include "strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for n more bytes plus the terminator. Capacity doubles so that appending a
 * byte at a time stays linear overall. */
static bool grow(strbuf *b, size_t n)
{
    if (b->oom) return false;
    if (n > SIZE_MAX - 1 - b->n) {
        b->oom = true;
        return false;
    }
    size_t need = b->n + n + 1;
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = true;
        return false;
    }
    b->s = s;
    b->cap = cap;
    return true;
}

bool strbuf_put(strbuf *b, const void *d, size_t n)
{
    if (!grow(b, n)) return false;
    if (n) memcpy(b->s + b->n, d, n);
    b->n += n;
    b->s[b->n] = '\0';
    return true;
}

bool strbuf_puts(strbuf *b, const char *s) { return strbuf_put(b, s, strlen(s)); }

bool strbuf_putc(strbuf *b, char c) { return strbuf_put(b, &c, 1); }

bool strbuf_printf(strbuf *b, const char *fmt, ...)
{
    if (b->oom) return false;
    /* First try in the room already there; vsnprintf tells how much it needed. */
    size_t room = b->cap > b->n ? b->cap - b->n : 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(room ? b->s + b->n : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        /* An encoding error: nothing sensible to append. Keep the old terminator. */
        if (b->s) b->s[b->n] = '\0';
        return true;
    }
    if ((size_t)n >= room) {
        if (!grow(b, (size_t)n)) {
            if (b->s) b->s[b->n] = '\0';
            return false;
        }
        va_start(ap, fmt);
        vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->n += (size_t)n;
    return true;
}

bool strbuf_read(strbuf *b, FILE *f)
{
    for (;;) {
        /* Read in large pieces; doubling the capacity keeps the whole read linear. */
        if (!grow(b, 65536)) return false;
        size_t got = fread(b->s + b->n, 1, b->cap - b->n - 1, f);
        b->n += got;
        b->s[b->n] = '\0';
        if (got == 0) return !ferror(f);
    }
}

char *strbuf_take(strbuf *b, size_t *len)
{
    char *s = b->s;
    if (b->oom) {
        free(s);
        s = NULL;
    } else if (!s) {
        s = calloc(1, 1);
    }
    if (len) *len = s ? b->n : 0;
    memset(b, 0, sizeof *b);
    return s;
}

void strbuf_free(strbuf *b)
{
    if (!b) return;
    free(b->s);
    memset(b, 0, sizeof *b);
}

const char strbuf_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool strbuf_put_base64(strbuf *b, const void *d, size_t n)
{
    const unsigned char *p = d;
    const char *a = strbuf_b64;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        char q[4] = {a[v >> 18 & 63], a[v >> 12 & 63], i + 1 < n ? a[v >> 6 & 63] : '=',
                     i + 2 < n ? a[v & 63] : '='};
        if (!strbuf_put(b, q, 4)) return false;
    }
    return !b->oom;
}
