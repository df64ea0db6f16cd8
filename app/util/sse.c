/* sse.c — the Server-Sent Events framing parser (see sse.h). */
#include "util/sse.h"

#include <stdlib.h>
#include <string.h>

#define SSE_DEFAULT_MAX (1u << 20)

static const unsigned char sse_bom[3] = {0xEF, 0xBB, 0xBF};

void sse_init(sse_parser *p, size_t max_event, sse_event_fn on_event, void *user)
{
    memset(p, 0, sizeof *p);
    p->on_event = on_event;
    p->user = user;
    p->max_event = max_event ? max_event : SSE_DEFAULT_MAX;
}

void sse_free(sse_parser *p)
{
    strbuf_free(&p->line);
    strbuf_free(&p->data);
    memset(p, 0, sizeof *p);
}

bool sse_pending(const sse_parser *p)
{
    return p->line.n > 0 || p->data.n > 0 || p->type[0] || (p->bom > 0 && !p->started);
}

/* The blank line: hands the event over (when it has data) and starts the next. */
static int sse_dispatch(sse_parser *p)
{
    int rc = SSE_OK;
    if (p->data.n > 0) {
        p->data.s[--p->data.n] = '\0'; /* the "\n" after the last data line */
        p->n_events++;
        rc = p->on_event(p->user, p->type[0] ? p->type : "message", p->data.s, p->data.n);
    }
    p->data.n = 0;
    if (p->data.s) p->data.s[0] = '\0';
    p->type[0] = '\0';
    return rc;
}

/* One whole line (p->line, without its ending). */
static int sse_line(sse_parser *p)
{
    const char *s = p->line.s ? p->line.s : "";
    size_t n = p->line.n;
    p->line.n = 0;
    if (n == 0) return sse_dispatch(p);
    if (s[0] == ':') return SSE_OK; /* a comment (servers send them to keep the link alive) */
    const char *colon = memchr(s, ':', n);
    size_t fl = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vl = (size_t)(s + n - v);
    if (vl > 0 && v[0] == ' ') v++, vl--;
    if (fl == 4 && !memcmp(s, "data", 4)) {
        if (p->data.n + vl + 1 > p->max_event) return SSE_TOO_BIG;
        strbuf_put(&p->data, v, vl);
        if (!strbuf_putc(&p->data, '\n')) return SSE_NOMEM;
    } else if (fl == 5 && !memcmp(s, "event", 5)) {
        size_t k = vl < SSE_TYPE_LEN - 1 ? vl : SSE_TYPE_LEN - 1;
        memcpy(p->type, v, k);
        p->type[k] = '\0';
    }
    /* id and retry matter to a browser reconnecting; a chat answer is never resumed. */
    return SSE_OK;
}

int sse_feed(sse_parser *p, const char *buf, size_t n)
{
    size_t i = 0;
    /* A byte-order mark may open the stream, possibly split across feeds. */
    while (!p->started && i < n) {
        if ((unsigned char)buf[i] == sse_bom[p->bom]) {
            i++;
            if (++p->bom == 3) p->started = true;
            continue;
        }
        p->started = true;
        if (p->bom > 0 && !strbuf_put(&p->line, sse_bom, p->bom)) return SSE_NOMEM;
    }
    while (i < n) {
        char ch = buf[i];
        if (p->cr && ch == '\n') { /* the LF of a CRLF */
            p->cr = false;
            i++;
            continue;
        }
        p->cr = false;
        if (ch == '\n' || ch == '\r') {
            p->cr = ch == '\r';
            i++;
            int rc = sse_line(p);
            if (rc != SSE_OK) return rc;
            continue;
        }
        /* The run of bytes up to the next line ending goes in at once. */
        size_t j = i;
        while (j < n && buf[j] != '\n' && buf[j] != '\r') j++;
        if (p->line.n + (j - i) > p->max_event) return SSE_TOO_BIG;
        if (!strbuf_put(&p->line, buf + i, j - i)) return SSE_NOMEM;
        i = j;
    }
    return SSE_OK;
}
