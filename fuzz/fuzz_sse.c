/* fuzz_sse.c — the Server-Sent Events parser (app/util/sse.c) on arbitrary bytes. The first
 * byte picks a chunk size: the same stream fed whole and in chunks must give the same events
 * (the parser's promise that the network's chunking does not matter), each event's data must
 * be within the cap, and the parser must never crash or grow past it. */
#include "fuzz.h"
#include "util/sse.h"
#include "util/strbuf.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_SSE_MAX 512

static int fuzz_sse_event(void *user, const char *type, const char *data, size_t n)
{
    strbuf *log = user;
    if (n > FUZZ_SSE_MAX || strlen(type) >= SSE_TYPE_LEN) abort();
    strbuf_puts(log, type);
    strbuf_putc(log, '\0');
    strbuf_put(log, data, n);
    strbuf_putc(log, '\0');
    return 0;
}

static int fuzz_sse_run(const uint8_t *d, size_t n, size_t chunk, strbuf *log, bool *pending)
{
    sse_parser p;
    sse_init(&p, FUZZ_SSE_MAX, fuzz_sse_event, log);
    int rc = SSE_OK;
    for (size_t at = 0; at < n && rc == SSE_OK; at += chunk)
        rc = sse_feed(&p, (const char *)d + at, n - at < chunk ? n - at : chunk);
    *pending = sse_pending(&p);
    sse_free(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t chunk = 1 + data[0] % 16;
    strbuf a = {0}, b = {0};
    bool pa, pb;
    int ra = fuzz_sse_run(data + 1, size - 1, size, &a, &pa);
    int rb = fuzz_sse_run(data + 1, size - 1, chunk, &b, &pb);
    /* An oversized line is found at the same byte however it was split, so the events before
     * it agree too. */
    if (ra != rb || a.n != b.n || (a.n && memcmp(a.s, b.s, a.n) != 0)) abort();
    if (ra == SSE_OK && pa != pb) abort();
    strbuf_free(&a);
    strbuf_free(&b);
    return 0;
}
