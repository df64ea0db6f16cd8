/* view_history.c — the chat history view: turns with role labels, simple Markdown (fenced code
 * blocks, `code`, **bold**, *italic*, # headings), marks where a sampling parameter changed
 * during an answer, the picked token of the probabilities view, end notes ("[stopped]"),
 * word-wrapped to the window and drawn following the end or from a remembered first line.
 *
 * Each turn's wrapped lines are cached (ui_turn_cache) and rebuilt only when its text, its
 * changes, its state or the width changed, so streaming an answer re-wraps only that answer. */
#include "ui.h"

#include "term.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBSP "\xc2\xa0" /* inside marks: the wrapper never breaks there */

void view_describe_change(const nt_sampler_params *a, const nt_sampler_params *b, char *buf,
                          size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
#define ADD_(...)                                                                   \
    do {                                                                            \
        if (n < cap) {                                                              \
            int m_ = snprintf(buf + n, cap - n, "%s", n ? NBSP : "");               \
            if (m_ > 0) n += (size_t)m_;                                            \
        }                                                                           \
        if (n < cap) {                                                              \
            int m_ = snprintf(buf + n, cap - n, __VA_ARGS__);                       \
            if (m_ > 0) n += (size_t)m_;                                            \
        }                                                                           \
    } while (0)
    /* In the panel's order and with its labels and decimals (the parameter table). */
    param_values va = {.sp = *a}, vb = {.sp = *b};
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        const param_def *d = &param_defs[i];
        if (!param_is_sampler(d) || param_equal(d, &va, &vb)) continue;
        if (d->kind == PARAM_FLOAT) ADD_("%s=%.2f", d->label, param_get(d, &vb));
        else if (d->kind == PARAM_INT) ADD_("%s=%d", d->label, (int)param_get(d, &vb));
        else ADD_("%s=%llu", d->label, (unsigned long long)vb.sp.seed);
    }
    if (n == 0) ADD_("params");
#undef ADD_
    if (n >= cap && cap > 0) buf[cap - 1] = '\0';
}

/* A mark to insert at a byte offset of the turn's text. */
typedef struct hist_mark {
    size_t off;
    char text[160];
} hist_mark;

/* Records that buf bytes from `from` to the end show source offset val. */
static void src_fill(ui_turn_cache *c, size_t from, size_t val)
{
    if (c->buf.n > c->src_cap) {
        size_t cap = c->src_cap ? c->src_cap : 256;
        while (cap < c->buf.n) cap *= 2;
        size_t *n = realloc(c->src, cap * sizeof *n);
        if (!n) return;
        c->src = n;
        c->src_cap = cap;
    }
    for (size_t j = from; j < c->buf.n; j++) c->src[j] = val;
}

/* Finds c in s[from, to); returns its index or (size_t)-1. */
static size_t find_ch(const char *s, size_t from, size_t to, char c)
{
    for (size_t i = from; i < to; i++)
        if (s[i] == c) return i;
    return (size_t)-1;
}

/* Styles one line outside a code fence: per-byte styles, and the Markdown markers hidden. */
static void style_line(const char *s, size_t ls, size_t le, int base, uint8_t *style,
                       uint8_t *hidden)
{
    size_t n = le - ls;
    memset(style, base, n);
    memset(hidden, 0, n);
    size_t j = ls, h = 0;
    while (h < n && h < 6 && s[ls + h] == '#') h++;
    if (h > 0 && ls + h < le && s[ls + h] == ' ') {
        memset(style, TS_HEADING, n);
        memset(hidden, 1, h + 1);
        j = ls + h + 1;
    }
    while (j < le) {
        char ch = s[j];
        if (ch == '`') {
            size_t k = find_ch(s, j + 1, le, '`');
            if (k != (size_t)-1 && k > j + 1) {
                hidden[j - ls] = hidden[k - ls] = 1;
                memset(style + (j + 1 - ls), TS_INLINE_CODE, k - j - 1);
                j = k + 1;
                continue;
            }
        } else if (ch == '*' && j + 1 < le && s[j + 1] == '*') {
            size_t k = j + 2;
            while (k + 1 < le && !(s[k] == '*' && s[k + 1] == '*')) k++;
            if (k + 1 < le && k > j + 2) {
                hidden[j - ls] = hidden[j + 1 - ls] = hidden[k - ls] = hidden[k + 1 - ls] = 1;
                for (size_t q = j + 2; q < k; q++)
                    if (style[q - ls] == base) style[q - ls] = TS_BOLD;
                j = k + 2;
                continue;
            }
        } else if ((ch == '*' || ch == '_') && j + 1 < le && s[j + 1] != ' ' &&
                   (ch == '*' || j == ls || !isalnum((unsigned char)s[j - 1]))) {
            size_t k = j + 1;
            while (k < le && !(s[k] == ch && s[k - 1] != ' ' &&
                               (ch == '*' || k + 1 == le || !isalnum((unsigned char)s[k + 1]))))
                k++;
            if (k < le && k > j + 1) {
                hidden[j - ls] = hidden[k - ls] = 1;
                for (size_t q = j + 1; q < k; q++)
                    if (style[q - ls] == base) style[q - ls] = TS_ITALIC;
                j = k + 1;
                continue;
            }
        }
        j++;
    }
}

static bool is_fence(const char *s, size_t ls, size_t le)
{
    size_t i = ls;
    while (i < le && i - ls < 3 && s[i] == ' ') i++;
    return le - i >= 3 && memcmp(s + i, "```", 3) == 0;
}

/* Appends the body of a turn (Markdown rendered, marks inserted, the picked token highlighted). */
#define CODE_CUT "\xe2\x80\xba" /* › : the rest of a code line is past the edge */

/* Renders s[0, len): Markdown styles, marks, the highlighted token; the thinking part
 * s[0, think) is dimmed, or left out when fold is set (the caller shows a summary). Fenced
 * code is a block: the fence lines show as empty lines, its lines keep their indentation and
 * are never wrapped: one wider than width columns is cut there with a › (width 0: no limit). */
static void render_body(ui_turn_cache *c, const char *s, size_t len, int base,
                        const hist_mark *marks, size_t n_marks, size_t hl_start, size_t hl_end,
                        size_t think, bool fold, int width)
{
    text_buf *b = &c->buf;
    size_t before = b->n;
    uint8_t *style = malloc(len + 1), *hidden = malloc(len + 1);
    if (!style || !hidden) {
        text_buf_put(b, s, len, (uint8_t)base, true);
        src_fill(c, before, UI_NO_SRC);
        free(style);
        free(hidden);
        return;
    }
    size_t m = 0, ls = 0;
    bool fence = false;
    while (ls <= len) {
        size_t le = ls;
        while (le < len && s[le] != '\n') le++;
        bool fl = is_fence(s, ls, le);
        bool code = fence && !fl;
        if (fence || fl) {
            memset(style + ls, TS_CODE, le - ls);
            memset(hidden + ls, fl, le - ls); /* the fence itself is markup */
        } else {
            style_line(s, ls, le, base, style + ls, hidden + ls);
        }
        if (ls < think) { /* the thinking, shown as it is (no Markdown), dim */
            size_t te = le < think ? le : think;
            memset(style + ls, TS_DIM, te - ls);
            memset(hidden + ls, fold, te - ls);
        }
        if (fl) fence = !fence;
        size_t i = ls;
        int col = 0;
        bool cut = code && width > 1 && text_width(s + ls, le - ls) > width;
        while (i < le) {
            while (m < n_marks && marks[m].off <= i) {
                before = b->n;
                text_buf_put_raw(b, marks[m].text, strlen(marks[m].text), TS_MARKER);
                src_fill(c, before, UI_NO_SRC);
                m++;
            }
            int32_t cp;
            int l = text_decode(s + i, le - i, &cp);
            if (cut && !hidden[i]) {
                int w = text_is_control(cp) ? 1 : text_cp_width(cp);
                if (w < 0) w = 0;
                if (col + w > width - 1) {
                    /* No room for this character and the cut sign after it: cut here. */
                    before = b->n;
                    text_buf_put_raw(b, CODE_CUT, sizeof CODE_CUT - 1, TS_DIM);
                    src_fill(c, before, UI_NO_SRC);
                    break;
                }
                col += w;
            }
            if (!hidden[i]) {
                uint8_t tag = style[i];
                if (i >= hl_start && i < hl_end) tag |= TERM_HIGHLIGHT_BIT;
                before = b->n;
                text_buf_put(b, s + i, (size_t)l, tag, false);
                src_fill(c, before, i);
            }
            i += (size_t)l;
        }
        before = b->n;
        while (m < n_marks && marks[m].off <= le && le < len) {
            text_buf_put_raw(b, marks[m].text, strlen(marks[m].text), TS_MARKER);
            m++;
        }
        src_fill(c, before, UI_NO_SRC);
        if (le >= len) break;
        before = b->n;
        if (!(fold && le < think)) text_buf_put_raw(b, "\n", 1, (uint8_t)base);
        src_fill(c, before, le);
        ls = le + 1;
    }
    before = b->n;
    for (; m < n_marks; m++) text_buf_put_raw(b, marks[m].text, strlen(marks[m].text), TS_MARKER);
    src_fill(c, before, UI_NO_SRC);
    free(style);
    free(hidden);
}

static void render_turn(ui *u, size_t ti, const chat_turn *t, ui_turn_cache *c, int width,
                        int hl, bool busy)
{
    text_buf *b = &c->buf;
    text_buf_clear(b);
    c->n_lines = 0;
    bool answer = t->role == NT_ROLE_ASSISTANT;
    const char *label = answer ? "Assistant" : "You";
    text_buf_put(b, label, strlen(label), answer ? TS_LABEL_ASSISTANT : TS_LABEL_USER, false);
    size_t alt_k, alt_n = chat_alternatives(u->chat, ti, &alt_k);
    if (alt_n > 1) {
        /* one of several versions (/regen, /edit, /ab): Alt-Up/Alt-Down switch */
        char al[48];
        int an = snprintf(al, sizeof al, " \xe2\x80\xb9%zu/%zu\xe2\x80\xba", alt_k + 1, alt_n);
        text_buf_put(b, al, (size_t)an, TS_MARKER, false);
    }
    if (answer && t->complete && t->n_gen > 0 && t->gen_sec > 0) {
        char st[96];
        snprintf(st, sizeof st, "  %d tokens, %.1f tok/s", (int)t->n_gen,
                 t->n_gen / t->gen_sec);
        text_buf_put(b, st, strlen(st), TS_DIM, false);
    }
    text_buf_put_raw(b, "\n", 1, TS_TEXT);
    size_t label_n = b->n;
    src_fill(c, 0, UI_NO_SRC);

    hist_mark *marks = NULL;
    size_t n_marks = 0, hl_start = 0, hl_end = 0;
    const ui_answer *a = ti < u->n_answers ? &u->answers[ti] : NULL;
    if (answer && t->n_changes > 0) {
        marks = calloc(t->n_changes, sizeof *marks);
        const nt_sampler_params *prev = &t->params;
        for (size_t i = 0; marks && i < t->n_changes; i++) {
            /* Several moves before the same token make one mark: what was in force before it
             * against what the token was drawn with. */
            if (i + 1 < t->n_changes && t->changes[i + 1].index == t->changes[i].index) continue;
            size_t idx = (size_t)t->changes[i].index;
            marks[n_marks].off = a && idx < a->n ? a->off[idx] : t->len;
            char d[140];
            view_describe_change(prev, &t->changes[i].params, d, sizeof d);
            snprintf(marks[n_marks].text, sizeof marks[n_marks].text, "[%s]", d);
            n_marks++;
            prev = &t->changes[i].params;
        }
    }
    if (answer && hl >= 0 && a && (size_t)hl < a->n) {
        hl_start = a->off[hl];
        hl_end = (size_t)hl + 1 < a->n ? a->off[hl + 1] : t->len;
    }
    const char *text = t->text ? t->text : "";
    text_think th = {0};
    if (answer) text_think_split(text, t->len, &th);
    const size_t think = th.end;
    bool fold = think > 0 && th.closed && !u->hist.show_thinking;
    if (fold) {
        /* One dim line in place of the thinking: its tokens and its share of the time. */
        size_t nt = 0;
        while (a && nt < a->n && a->off[nt] < think) nt++;
        char sum[128];
        int sn = snprintf(sum, sizeof sum, "\xe2\x96\xb8 thought"); /* ▸ */
        if (nt > 0) {
            sn += snprintf(sum + sn, sizeof sum - (size_t)sn, " for %zu tokens", nt);
            /* The thinking's share of the answer's time, at the answer's steady rate. */
            if (t->complete && t->n_gen > 0 && t->gen_sec > 0)
                sn += snprintf(sum + sn, sizeof sum - (size_t)sn, ", %.1f s", t->gen_sec * (double)nt / t->n_gen);
        }
        snprintf(sum + sn, sizeof sum - (size_t)sn, " (F9 shows it)");
        size_t before = b->n;
        text_buf_put(b, sum, strlen(sum), TS_DIM, false);
        text_buf_put_raw(b, "\n", 1, TS_TEXT);
        src_fill(c, before, UI_NO_SRC);
    }
    int wb = width - 2 > 4 ? width - 2 : width;
    render_body(c, text, t->len, answer ? TS_TEXT : TS_USER, marks, n_marks, hl_start, hl_end,
                think, fold, wb);
    free(marks);
    size_t notes = b->n;
    if (answer && busy && t->len == 0 && u->beam_text) {
        /* beam search under way: its best beam so far, which the next step may replace */
        char lab[64];
        int ln = snprintf(lab, sizeof lab, "[provisional: best of %d beams, %d tokens]",
                          (int)t->params.beams, (int)u->beam_tokens);
        text_buf_put(b, lab, (size_t)ln, TS_MARKER, false);
        text_buf_put(b, u->beam_text, strlen(u->beam_text), TS_DIM, false);
    }
    if (answer && busy) text_buf_put(b, "\xe2\x96\x8d", 3, TS_DIM, false); /* ▍ */
    if (answer && t->complete) {
        /* Endings people did not ask for are noted; an end of text or stop string is not. */
        if (t->end == GEN_END_STOPPED || t->end == GEN_END_LENGTH ||
            t->end == GEN_END_CONTEXT_FULL) {
            char note[40];
            int nn = snprintf(note, sizeof note, " [%s]", gen_end_name(t->end, false));
            text_buf_put(b, note, (size_t)nn, TS_END, false);
        }
    }
    if (t->error) {
        text_buf_put_raw(b, "\n", 1, TS_TEXT);
        text_buf_put(b, "error: ", 7, TS_ERROR, false);
        text_buf_put(b, t->error, strlen(t->error), TS_ERROR, false);
    }
    if (answer && t->n_sources) {
        /* Where the passages it was given came from (/sources shows them whole). */
        text_buf_put_raw(b, "\n", 1, TS_TEXT);
        text_buf_put(b, "sources: ", 9, TS_DIM, false);
        for (size_t i = 0; i < t->n_sources; i++) {
            char label[1200];
            chat_source_label(&t->sources[i], label, sizeof label);
            if (i) text_buf_put(b, ", ", 2, TS_DIM, false);
            text_buf_put(b, label, strlen(label), TS_DIM, false);
        }
    }
    char *notice = answer ? chat_turn_notice(t) : NULL;
    if (notice) {
        text_buf_put_raw(b, "\n", 1, TS_TEXT);
        text_buf_put(b, "sources: ", 9, TS_DIM, false);
        text_buf_put(b, notice, strlen(notice), TS_DIM, false);
        free(notice);
    }
    src_fill(c, notes, UI_NO_SRC);
    text_wrap(b->s, label_n - 1, width, TEXT_WRAP_WORDS, &c->lines, &c->n_lines, &c->cap);
    size_t first_body = c->n_lines;
    text_wrap(b->s + label_n, b->n - label_n, wb, TEXT_WRAP_WORDS, &c->lines, &c->n_lines,
              &c->cap);
    for (size_t i = first_body; i < c->n_lines; i++) {
        c->lines[i].start += label_n;
        c->lines[i].end += label_n;
    }
}

/* One labelled block (label line, then the body indented by two columns) appended to c's
 * lines; the system prompt, the greeting and the note are drawn so. */
static void render_block(ui_turn_cache *c, const char *label, int label_style, const char *body,
                         int body_style, int width, bool markdown)
{
    text_buf *b = &c->buf;
    size_t at = b->n;
    int wb = width - 2 > 4 ? width - 2 : width;
    text_buf_put(b, label, strlen(label), label_style, false);
    size_t label_end = b->n;
    text_buf_put_raw(b, "\n", 1, TS_TEXT);
    if (markdown) /* as answers are drawn (a greeting is the assistant's first message) */
        render_body(c, body, strlen(body), body_style, NULL, 0, 0, 0, 0, false, wb);
    else
        text_buf_put(b, body, strlen(body), body_style, true);
    size_t first_label = c->n_lines;
    text_wrap(b->s + at, label_end - at, width, TEXT_WRAP_WORDS, &c->lines, &c->n_lines, &c->cap);
    for (size_t i = first_label; i < c->n_lines; i++) {
        c->lines[i].start += at;
        c->lines[i].end += at;
    }
    size_t first_body = c->n_lines;
    text_wrap(b->s + label_end + 1, b->n - label_end - 1, wb, TEXT_WRAP_WORDS, &c->lines,
              &c->n_lines, &c->cap);
    for (size_t i = first_body; i < c->n_lines; i++) {
        c->lines[i].start += label_end + 1;
        c->lines[i].end += label_end + 1;
    }
}

/* The system prompt as the history shows it: context documents (persona_system_text writes
 * each between "=== Document N: TITLE ===" and "=== End of document N ===") are summed up as
 * one line each, so a long document does not fill the history. malloc'd; NULL on OOM. */
static char *system_shown(const char *sys)
{
    static const char head[] = "\n\n=== Document ";
    const char *d = strstr(sys, head);
    if (!d) return strdup(sys);
    size_t cap = (size_t)(d - sys) + 64;
    for (const char *q = d; q; q = strstr(q + 1, head)) cap += 160;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t n = (size_t)(d - sys);
    memcpy(out, sys, n);
    while (d) {
        const char *title = d + 2 + 4; /* "Document N: TITLE ===" */
        const char *eol = strchr(title, '\n');
        if (!eol) break;
        const char *next = strstr(eol, head);
        const char *end = strstr(eol, "\n=== End of document ");
        if (!end || (next && end > next)) end = next ? next : sys + strlen(sys);
        size_t bytes = end > eol ? (size_t)(end - eol - 1) : 0;
        size_t tlen = (size_t)(eol - title);
        if (tlen >= 4 && !strncmp(eol - 4, " ===", 4)) tlen -= 4;
        n += (size_t)snprintf(out + n, cap - n, "\n[%.*s: %zu bytes]", (int)(tlen < 100 ? tlen : 100),
                              title, bytes);
        d = next;
    }
    return out;
}

/* Slot 0: the system prompt and the persona's greeting (the first answer, before any
 * question). Lines after the first of each block are indented (draw_lines). */
static void render_system(ui_turn_cache *c, const char *sys, const char *greeting, int width)
{
    text_buf_clear(&c->buf);
    c->n_lines = 0;
    c->flush_line = 0;
    if (sys[0]) {
        char *shown = system_shown(sys);
        render_block(c, "System", TS_LABEL_SYSTEM, shown ? shown : sys, TS_SYSTEM, width, false);
        free(shown);
    }
    if (greeting) {
        if (c->n_lines > 0) {
            text_buf_put_raw(&c->buf, "\n", 1, TS_TEXT);
            c->flush_line = c->n_lines;
        }
        render_block(c, "Assistant", TS_LABEL_ASSISTANT, greeting, TS_TEXT, width, true);
    }
}

/* Makes sure cache slot k exists (slot 0 is the system prompt, slot i+1 turn i). */
static ui_turn_cache *cache_at(ui *u, size_t k)
{
    if (k >= u->hist.n_cache) {
        ui_turn_cache *c = realloc(u->hist.cache, (k + 1) * sizeof *c);
        if (!c) return NULL;
        memset(c + u->hist.n_cache, 0, (k + 1 - u->hist.n_cache) * sizeof *c);
        u->hist.cache = c;
        u->hist.n_cache = k + 1;
    }
    return &u->hist.cache[k];
}

/* Brings every slot up to date; returns the total number of lines (separators included). */
static int history_update(ui *u, int width)
{
    int total = 0;
    const char *sys = chat_system(u->chat);
    const char *greeting = chat_greeting(u->chat);
    size_t n = chat_n_turns(u->chat);
    ui_turn_cache *c = cache_at(u, 0);
    if (!c) return 0;
    if (sys[0] || greeting) {
        size_t len = strlen(sys) + (greeting ? strlen(greeting) + 1 : 0);
        if (!c->valid || c->width != width || c->len != len || c->n_changes != u->fixed_gen) {
            render_system(c, sys, greeting, width);
            c->valid = true;
            c->width = width;
            c->len = len;
            c->n_changes = u->fixed_gen;
        }
        total += (int)c->n_lines + 1;
    } else {
        c->valid = false;
    }
    for (size_t i = 0; i < n; i++) {
        const chat_turn *t = chat_turn_at(u->chat, i);
        c = cache_at(u, i + 1);
        if (!c || !t) return total;
        bool busy = t->role == NT_ROLE_ASSISTANT && !t->complete;
        int hl = (u->probs.shown && i == u->probs.pick_turn && u->probs.pick >= 0) ? u->probs.pick : -1;
        size_t alt_k, alt_n = chat_alternatives(u->chat, i, &alt_k);
        if (!c->valid || c->width != width || c->len != t->len ||
            c->n_changes != t->n_changes || c->complete != t->complete || c->busy != busy ||
            c->hl != hl || c->thinking_shown != u->hist.show_thinking ||
            (busy && c->beam_gen != u->beam_gen) || c->alt_n != alt_n || c->alt_k != alt_k) {
            render_turn(u, i, t, c, width, hl, busy);
            c->alt_n = alt_n;
            c->alt_k = alt_k;
            c->thinking_shown = u->hist.show_thinking;
            c->beam_gen = u->beam_gen;
            c->valid = true;
            c->width = width;
            c->len = t->len;
            c->n_changes = t->n_changes;
            c->complete = t->complete;
            c->busy = busy;
            c->hl = hl;
        }
        if (i == chat_first_turn(u->chat) && i > 0) total += 1;
        total += (int)c->n_lines + 1;
    }
    c = &u->hist.note_cache;
    if (u->note) {
        if (!c->valid || c->width != width) {
            text_buf_clear(&c->buf);
            c->n_lines = 0;
            c->flush_line = 0;
            render_block(c, "natter", TS_LABEL_SYSTEM, u->note,
                         u->note_kind == UI_NOTE_ERROR ? TS_ERROR : TS_NOTE, width, false);
            c->valid = true;
            c->width = width;
        }
        total += (int)c->n_lines + 1;
    }
    return total;
}

void view_history_draw(ui *u)
{
    WINDOW *w = u->hist.win;
    werase(w);
    int width = u->hist.w - 1; /* one column of margin on the right */
    if (width < 4) width = 4;
    int total = history_update(u, width);
    u->hist.total = total;
    int max_top = total - u->hist.h > 0 ? total - u->hist.h : 0;
    /* Following: the last line at the bottom (short histories sit at the bottom too).
     * Scrolled: the remembered first line, so output arriving below does not move the view. */
    int top = u->hist.follow ? total - u->hist.h : u->hist.top < max_top ? u->hist.top : max_top;
    int below = u->hist.follow ? 0 : max_top - top;

    if (chat_n_turns(u->chat) == 0 && !chat_system(u->chat)[0] && !chat_greeting(u->chat) &&
        !u->note) {
        char hint[160];
        snprintf(hint, sizeof hint, "Ask %s anything. F1 shows the keys.",
                 u->model_name ? u->model_name : "the model");
        ui_put_text(w, u->hist.h / 2, 2, hint, TS_DIM, u->hist.w - 3);
        return;
    }
    if (u->hist.n_rows_shown != u->hist.h) {
        ui_row *r = realloc(u->hist.rows_shown, (size_t)(u->hist.h > 0 ? u->hist.h : 1) * sizeof *r);
        if (r) {
            u->hist.rows_shown = r;
            u->hist.n_rows_shown = u->hist.h;
        }
    }
    for (int i = 0; i < u->hist.n_rows_shown; i++) u->hist.rows_shown[i] = (ui_row){-1, 0};
    /* top: the virtual line shown on row 0 (negative while the history is short) */
    int v = 0;
    size_t n = chat_n_turns(u->chat);
    for (size_t k = 0; k <= n; k++) {
        if (k >= u->hist.n_cache || !u->hist.cache[k].valid) continue;
        ui_turn_cache *c = &u->hist.cache[k];
        if (k >= 1 && k - 1 == chat_first_turn(u->chat) && k > 1) {
            int row = v - top;
            if (row >= 0 && row < u->hist.h) {
                /* A rule across the history (the border style) with the words in it dim. */
                static const char rule[] = "\xe2\x94\x80\xe2\x94\x80";
                int x = ui_put_text(w, row, 0, rule, TS_BORDER, width);
                x += ui_put_text(w, row, x, " older turns are out of the model's context ",
                                 TS_DIM, width - x);
                ui_put_text(w, row, x, rule, TS_BORDER, width - x);
            }
            v++;
        }
        if (v + (int)c->n_lines + 1 <= top) {
            v += (int)c->n_lines + 1;
            continue;
        }
        for (size_t i = 0; i < c->n_lines; i++, v++) {
            int row = v - top;
            if (row < 0) continue;
            if (row >= u->hist.h) break;
            const text_line *l = &c->lines[i];
            if (row < u->hist.n_rows_shown) u->hist.rows_shown[row] = (ui_row){(int)k, (int)i};
            int x0 = i == 0 || (c->flush_line && i == c->flush_line) ? 0 : 2;
            ui_put(w, row, x0, c->buf.s + l->start, c->buf.tag + l->start, l->end - l->start,
                   TS_TEXT, width - x0);
        }
        v++; /* the blank line between turns */
        if (v - top >= u->hist.h) break;
    }
    /* Before the first question, the hint under the system prompt and greeting (the last
     * row is the blank line after them while the view follows the end). */
    if (n == 0 && u->hist.follow && !u->note && u->hist.h > 1) {
        char hint[160];
        snprintf(hint, sizeof hint, "Ask %s anything. F1 shows the keys.",
                 u->model_name ? u->model_name : "the model");
        ui_put_text(w, u->hist.h - 1, 2, hint, TS_DIM, u->hist.w - 3);
    }
    /* The system note (a bad file's errors, the /sessions list, the /replay view) after the
     * conversation. */
    const ui_turn_cache *nc = &u->hist.note_cache;
    for (size_t i = 0; u->note && nc->valid && i < nc->n_lines; i++, v++) {
        int row = v - top;
        if (row < 0) continue;
        if (row >= u->hist.h) break;
        const text_line *l = &nc->lines[i];
        int x0 = i == 0 ? 0 : 2;
        ui_put(w, row, x0, nc->buf.s + l->start, nc->buf.tag + l->start, l->end - l->start,
               TS_TEXT, width - x0);
    }
    if (below > 0) {
        char more[64];
        snprintf(more, sizeof more, " \xe2\x86\x93 %d more lines (End) ", below);
        int mw = text_width(more, strlen(more));
        ui_put_text(w, u->hist.h - 1, u->hist.w - mw - 1 > 0 ? u->hist.w - mw - 1 : 0, more,
                    TS_MORE, mw);
    }
}

bool ui_history_token_at(const ui *u, int y, int x, size_t *turn, int *token)
{
    int row = y - u->hist.y, col = x - u->hist.x;
    if (row < 0 || row >= u->hist.n_rows_shown || u->hist.rows_shown[row].slot < 1) return false;
    size_t k = (size_t)u->hist.rows_shown[row].slot, ti = k - 1;
    const ui_turn_cache *c = &u->hist.cache[k];
    const chat_turn *t = chat_turn_at(u->chat, ti);
    if (!t || t->role != NT_ROLE_ASSISTANT || ti >= u->n_answers || u->answers[ti].n == 0 ||
        !c->src)
        return false;
    const text_line *l = &c->lines[u->hist.rows_shown[row].line];
    int x0 = u->hist.rows_shown[row].line == 0 ? 0 : 2, cx = x0;
    size_t i = l->start;
    while (i < l->end) {
        int32_t cp;
        int len = text_decode(c->buf.s + i, l->end - i, &cp);
        int w = text_cp_width(cp);
        if (col >= cx && col < cx + (w > 0 ? w : 1)) break;
        cx += w;
        i += (size_t)len;
    }
    if (i >= l->end || i >= c->src_cap || c->src[i] == UI_NO_SRC) return false;
    size_t off = c->src[i];
    const ui_answer *a = &u->answers[ti];
    int tok = 0;
    for (size_t j = 0; j < a->n && a->off[j] <= off; j++) tok = (int)j;
    *turn = ti;
    *token = tok;
    return true;
}

int ui_history_page(const ui *u)
{
    return u->hist.h > 2 ? u->hist.h - 2 : 1;
}

void ui_history_scroll(ui *u, int lines)
{
    int max_top = u->hist.total - u->hist.h > 0 ? u->hist.total - u->hist.h : 0;
    int cur = u->hist.follow ? max_top : u->hist.top < max_top ? u->hist.top : max_top;
    cur -= lines;
    if (cur < 0) cur = 0;
    u->hist.follow = cur >= max_top;
    u->hist.top = cur > max_top ? max_top : cur;
}

void ui_history_top(ui *u)
{
    u->hist.top = 0;
    u->hist.follow = u->hist.total <= u->hist.h;
}
