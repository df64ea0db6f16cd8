/* strbuf.h — a growable NUL-terminated byte buffer for building text in memory (YAML and
 * JSON output, expanded prompts, parsed strings).
 *
 * Zero-initialise it (strbuf b = {0}), append, then either take the text (strbuf_take) or
 * drop it (strbuf_free). An allocation failure is sticky: b->oom is set, later appends do
 * nothing, and strbuf_take returns NULL, so a builder can append freely and check once at
 * the end. The buffer may hold NUL bytes (strbuf_put with a length); s is always
 * NUL-terminated once anything was appended.
 *
 * The fields are public and read directly: s (NULL until the first append), n (bytes held,
 * without the terminator), oom. Set oom yourself to make the build fail (for example when a
 * piece computed elsewhere could not be allocated). */
#ifndef NATTER_STRBUF_H
#define NATTER_STRBUF_H

#include "natter.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct strbuf {
    char *s;    /* the text, owned by the buffer; NULL while empty */
    size_t n;   /* bytes in s, not counting the terminating NUL */
    size_t cap; /* bytes allocated at s */
    bool oom;   /* an allocation failed: the text is incomplete */
} strbuf;

/* Appends n bytes of d (which may contain NULs). Returns false when the buffer has failed
 * (now or earlier), true otherwise. */
bool strbuf_put(strbuf *b, const void *d, size_t n);
bool strbuf_puts(strbuf *b, const char *s); /* a NUL-terminated string */
bool strbuf_putc(strbuf *b, char c);
/* Appends formatted text (locale as the caller's). Returns like strbuf_put. */
bool strbuf_printf(strbuf *b, const char *fmt, ...) NT_PRINTF(2, 3);

/* The base64 alphabet (RFC 4648, with '+' and '/'), NUL-terminated: for the decoders. */
extern const char strbuf_b64[65];
/* Appends n bytes of d as base64 (padded with '='). Returns like strbuf_put. */
bool strbuf_put_base64(strbuf *b, const void *d, size_t n);

/* Appends everything f yields until end of file (binary-safe: NULs are kept, see n).
 * Returns true at end of file; false after a read error (ferror(f) is set and errno says
 * why) or an allocation failure (b->oom). f stays open. */
bool strbuf_read(strbuf *b, FILE *f);

/* Hands the text over: a malloc'd NUL-terminated string the caller frees ("" when nothing
 * was appended), with its length in *len when len is not NULL. After an allocation failure
 * it frees what was built and returns NULL (*len = 0). Either way the buffer is reset to
 * empty and may be reused. */
char *strbuf_take(strbuf *b, size_t *len);
/* Drops the text and resets the buffer to empty. Accepts NULL. */
void strbuf_free(strbuf *b);

#endif
