/* sse.h — a Server-Sent Events framing parser (the text/event-stream format of the WHATWG
 * HTML standard, section 9.2), fed incrementally as bytes arrive from the network.
 *
 * Streaming chat servers (OpenAI-compatible: vLLM, llama.cpp's server, Ollama) send their
 * answer as one event per piece, `data: {json}` lines ended by a blank line. libcurl only
 * hands over bytes in chunks of any size; this turns them into whole events, whatever the
 * chunking: lines end with CRLF, LF or CR (a CRLF split across two chunks is one ending), a
 * leading UTF-8 byte-order mark is dropped, comment lines (":...") and unknown fields are
 * ignored, "data" lines of one event are joined with "\n", "event" names the type, an empty
 * line dispatches (an event with no data is not dispatched), one space after the colon is
 * dropped. Nothing here knows JSON or HTTP.
 *
 * Bounded memory: a line or an event's data longer than max_event bytes fails the stream
 * with SSE_TOO_BIG (nothing is cut silently). The functions touch only the parser. */
#ifndef NATTER_SSE_H
#define NATTER_SSE_H

#include "util/strbuf.h"

#include <stdbool.h>
#include <stddef.h>

enum { SSE_OK = 0, SSE_TOO_BIG = -1, SSE_NOMEM = -2 };

#define SSE_TYPE_LEN 64 /* event type bytes kept, NUL included (longer types are cut) */

/* One event: type ("message" when the stream gave none) and data (NUL-terminated; n bytes,
 * which may hold NULs), both borrowed for the call. Returns 0 to go on; anything else stops
 * the feed, which returns it. */
typedef int (*sse_event_fn)(void *user, const char *type, const char *data, size_t n);

typedef struct sse_parser {
    sse_event_fn on_event;
    void *user;
    size_t max_event;         /* bytes per line and per event's data */
    strbuf line;              /* the line being read (without its ending) */
    strbuf data;              /* the event's data so far ("\n" after each data line) */
    char type[SSE_TYPE_LEN];  /* the event's type, "" = none given */
    bool cr;                  /* the last byte was a CR: a following LF belongs to it */
    bool started;             /* past the first bytes (where a byte-order mark may be) */
    size_t bom;               /* bytes of a leading byte-order mark matched so far */
    size_t n_events;          /* events dispatched */
} sse_parser;

/* Sets p up; on_event gets every whole event. max_event 0 means 1 MiB. */
void sse_init(sse_parser *p, size_t max_event, sse_event_fn on_event, void *user);
void sse_free(sse_parser *p); /* accepts a zeroed or freed p */
/* Feeds buf[0..n). SSE_OK, SSE_TOO_BIG, SSE_NOMEM, or the callback's non-zero value; after
 * a non-zero return the parser must not be fed again. */
int sse_feed(sse_parser *p, const char *buf, size_t n);
/* At the end of the stream: true when an event or a line was left unfinished (the stream was
 * cut mid-event; the standard drops such an event, and so does this). */
bool sse_pending(const sse_parser *p);

#endif
