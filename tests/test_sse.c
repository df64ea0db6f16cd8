/* Tests for app/util/sse.c: the Server-Sent Events framing parser. Events come out the same
 * however the bytes are split (every split point, byte by byte, random chunks); the three line
 * endings, a CRLF split across feeds, comments, unknown fields, multi-line data, event types,
 * the byte-order mark, oversized lines and events, a callback that stops the feed, and a
 * stream cut mid-event. The expected events are written out by hand from the standard's
 * rules (WHATWG HTML 9.2.6), not computed by the parser. */
#include "util/sse.h"
#include "util/strbuf.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

/* The events seen, as "type=data|" records (data's NULs shown as \0 would not occur here). */
typedef struct seen {
    strbuf log;
    int stop_after; /* return 7 from this event on (0: never) */
    int n;
} seen;

static int on_event(void *user, const char *type, const char *data, size_t n)
{
    seen *s = user;
    T_CHECK(strlen(data) == n);
    strbuf_printf(&s->log, "%s=%s|", type, data);
    s->n++;
    return s->stop_after && s->n >= s->stop_after ? 7 : 0;
}

/* Feeds text in chunks split at the given cut points; returns the log (caller frees). */
static char *run_split(const char *text, size_t len, const size_t *cuts, size_t n_cuts,
                       int *rc_out, bool *pending)
{
    sse_parser p;
    seen s = {0};
    sse_init(&p, 0, on_event, &s);
    size_t at = 0;
    int rc = SSE_OK;
    for (size_t k = 0; k <= n_cuts && rc == SSE_OK; k++) {
        size_t end = k < n_cuts ? cuts[k] : len;
        rc = sse_feed(&p, text + at, end - at);
        at = end;
    }
    if (rc_out) *rc_out = rc;
    if (pending) *pending = sse_pending(&p);
    sse_free(&p);
    strbuf_puts(&s.log, "");
    return strbuf_take(&s.log, NULL);
}

static char *run(const char *text, int *rc, bool *pending)
{
    return run_split(text, strlen(text), NULL, 0, rc, pending);
}

static const char *stream =
    "\xEF\xBB\xBF: a comment to keep the link alive\r\n"
    "data: {\"a\":1}\r\n"
    "\r\n"
    "event: delta\n"
    "data:no space\n"
    "data:  two spaces\n"
    "id: 5\n"
    "retry: 100\n"
    "whatever: ignored\n"
    "\n"
    "data\r"
    "data: after an empty data line\r"
    "\r"
    "event: empty\n"
    "\n"
    "data: [DONE]\n\n";
static const char *stream_want =
    "message={\"a\":1}|delta=no space\n two spaces|message=\nafter an empty data line|"
    "message=[DONE]|";

static void test_whole(void)
{
    int rc;
    bool pending;
    char *log = run(stream, &rc, &pending);
    T_EQ_INT(rc, SSE_OK);
    T_EQ_STR(log, stream_want);
    T_CHECK(!pending);
    free(log);
}

static void test_every_split(void)
{
    size_t len = strlen(stream);
    for (size_t c = 0; c <= len; c++) {
        char *log = run_split(stream, len, &c, 1, NULL, NULL);
        if (strcmp(log, stream_want) != 0) {
            t_fail(__FILE__, __LINE__, "split at %zu: got %s", c, log);
            free(log);
            return;
        }
        free(log);
    }
    /* Byte by byte. */
    size_t *cuts = malloc(len * sizeof *cuts);
    T_ASSERT(cuts);
    for (size_t i = 0; i < len; i++) cuts[i] = i + 1;
    char *log = run_split(stream, len, cuts, len - 1, NULL, NULL);
    T_EQ_STR(log, stream_want);
    free(log);
    /* Random chunkings (a fixed generator: the test is the same every run). */
    uint32_t x = 12345;
    for (int r = 0; r < 200; r++) {
        size_t n = 0, at = 0;
        while (at < len) {
            x = x * 1664525u + 1013904223u;
            at += 1 + (x >> 16) % 9;
            if (at < len) cuts[n++] = at;
        }
        log = run_split(stream, len, cuts, n, NULL, NULL);
        T_EQ_STR(log, stream_want);
        free(log);
    }
    free(cuts);
}

static void test_crlf_across_feeds(void)
{
    /* "a\r" then "\ndata: b\r\n\r\n": the LF belongs to the CR, so no empty line (which would
     * dispatch "a" alone) comes between. */
    const char *t = "data: a\r\ndata: b\r\n\r\n";
    size_t cut = 8; /* after the first CR */
    char *log = run_split(t, strlen(t), &cut, 1, NULL, NULL);
    T_EQ_STR(log, "message=a\nb|");
    free(log);
    /* A lone CR followed by CR is an empty line. */
    log = run("data: x\r\rdata: y\n\n", NULL, NULL);
    T_EQ_STR(log, "message=x|message=y|");
    free(log);
}

static void test_bom_only_at_start(void)
{
    char *log = run("data: a\n\n\xEF\xBB\xBF" "data: b\n\n", NULL, NULL);
    /* A BOM after the start is part of the line: its field is not "data". */
    T_EQ_STR(log, "message=a|");
    free(log);
    log = run("\xEF\xBB" "data: c\n\n", NULL, NULL); /* half a BOM is kept as bytes */
    T_EQ_STR(log, "");
    free(log);
}

static void test_pending_at_cut(void)
{
    bool pending;
    int rc;
    char *log = run("data: whole\n\ndata: {\"cut", &rc, &pending);
    T_EQ_INT(rc, SSE_OK);
    T_EQ_STR(log, "message=whole|");
    T_CHECK(pending);
    free(log);
    log = run("data: whole\n\ndata: line done but no blank\n", &rc, &pending);
    T_EQ_STR(log, "message=whole|");
    T_CHECK(pending);
    free(log);
    log = run("data: whole\n\n", &rc, &pending);
    T_CHECK(!pending);
    free(log);
}

static void test_too_big(void)
{
    sse_parser p;
    seen s = {0};
    sse_init(&p, 16, on_event, &s);
    T_EQ_INT(sse_feed(&p, "data: 0123456789\n\n", 18), SSE_OK); /* a 16-byte line fits */
    T_EQ_INT(sse_feed(&p, "data: 0123456789a", 17), SSE_TOO_BIG);
    sse_free(&p);
    /* The event's data grows over lines: 3 lines of 5 bytes and their newlines make 18. */
    sse_init(&p, 16, on_event, &s);
    T_EQ_INT(sse_feed(&p, "data: 12345\ndata: 12345\n", 24), SSE_OK);
    T_EQ_INT(sse_feed(&p, "data: 12345\n", 12), SSE_TOO_BIG);
    sse_free(&p);
    strbuf_free(&s.log);
}

static void test_callback_stops(void)
{
    sse_parser p;
    seen s = {.stop_after = 2};
    sse_init(&p, 0, on_event, &s);
    const char *t = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    T_EQ_INT(sse_feed(&p, t, strlen(t)), 7);
    T_EQ_INT(s.n, 2);
    sse_free(&p);
    strbuf_free(&s.log);
}

static void test_long_type(void)
{
    char t[200];
    snprintf(t, sizeof t, "event: %0100d\ndata: x\n\n", 0);
    char *log = run(t, NULL, NULL);
    T_EQ_INT(strlen(log), SSE_TYPE_LEN - 1 + strlen("=x|"));
    free(log);
}

int main(void)
{
    T_RUN(test_whole);
    T_RUN(test_every_split);
    T_RUN(test_crlf_across_feeds);
    T_RUN(test_bom_only_at_start);
    T_RUN(test_pending_at_cut);
    T_RUN(test_too_big);
    T_RUN(test_callback_stops);
    T_RUN(test_long_type);
    return t_done();
}
