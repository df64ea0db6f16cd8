/* ui.c — the layout, the small views (message line, input area, status bar, help screen) and
 * the drawing primitive every view uses. The history is in view_history.c; the sampling panel
 * and the probabilities view in view_panel.c. */
#include "ui.h"

#include "commands.h"
#include "input.h"
#include "term.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

void ui_init(ui *u)
{
    memset(u, 0, sizeof *u);
    u->persona = "default";
    u->probs.pick = -1;
    u->panel.drag_slider = -1;
    u->panel.shown = true;
    u->hist.follow = true;
    u->ab.live = -1;
    u->ab.node[0] = u->ab.node[1] = UI_AB_NONE;
}

void ui_del_windows(ui *u)
{
    WINDOW **ws[] = {&u->hist.win, &u->panel.win, &u->probs.win, &u->msg.win,
                     &u->input.win, &u->status.win, &u->help.win};
    for (size_t i = 0; i < sizeof ws / sizeof *ws; i++)
        if (*ws[i]) {
            delwin(*ws[i]);
            *ws[i] = NULL;
        }
}

void ui_answer_free(ui_answer *a)
{
    free(a->off);
    free(a->cand);
    free(a->n_cand);
    free(a->stages);
    free(a->n_stages);
    free(a->ctext);
    memset(a, 0, sizeof *a);
}

void ui_answer_resize(ui_answer *a, size_t cap, bool server)
{
    if (cap == a->cap || cap < a->n) return;
    if (cap == 0) {
        ui_answer_free(a);
        return;
    }
    size_t *off = realloc(a->off, cap * sizeof *off);
    if (off) a->off = off;
    nt_sampler_cand(*cand)[10] = realloc(a->cand, cap * sizeof *cand);
    if (cand) a->cand = cand;
    uint8_t *nc = realloc(a->n_cand, cap);
    if (nc) a->n_cand = nc;
    nt_sampler_stage_info(*st)[NT_STAGE_COUNT] = realloc(a->stages, cap * sizeof *st);
    if (st) a->stages = st;
    uint8_t *ns = realloc(a->n_stages, cap);
    if (ns) a->n_stages = ns;
    bool ct_ok = true;
    if (server) { /* the server's candidates come as text */
        char(*ct)[GEN_N_CAND][GEN_CAND_TEXT] = realloc(a->ctext, cap * sizeof *ct);
        if (ct) a->ctext = ct;
        ct_ok = ct != NULL;
    }
    /* Every array has at least min(cap, old cap) entries: shrinking cannot fail to keep n. */
    if (off && cand && nc && st && ns && ct_ok) a->cap = cap;
    else if (cap < a->cap) a->cap = cap;
}

const chat_turn *ui_ab_turn(const ui *u, int s, const ui_answer **rec)
{
    size_t n = chat_n_turns(u->chat);
    const chat_turn *t = u->ab.node[s] != UI_AB_NONE ? chat_node_at(u->chat, u->ab.node[s]) : NULL;
    if (rec)
        *rec = !t ? NULL
               : s == u->ab.live ? (n > 0 && n - 1 < u->n_answers ? &u->answers[n - 1] : NULL)
                                 : &u->ab.rec[s];
    return t;
}

void ui_truncate(ui *u, size_t n)
{
    if (!u->rewrite || n < u->rewrite_from) u->rewrite_from = n;
    u->rewrite = true;
    if (u->probs.pick >= 0 && u->probs.pick_turn >= n) u->probs.pick = -1;
    for (size_t i = n; i < u->n_answers; i++) ui_answer_free(&u->answers[i]);
    if (n < u->n_answers) u->n_answers = n;
    for (size_t i = n; i < u->hist.n_cache; i++) {
        text_buf_free(&u->hist.cache[i].buf);
        free(u->hist.cache[i].lines);
        free(u->hist.cache[i].src);
        memset(&u->hist.cache[i], 0, sizeof u->hist.cache[i]);
    }
    if (n < u->hist.n_cache) u->hist.n_cache = n;
}

void ui_set_note(ui *u, enum ui_note_kind kind, const char *text)
{
    free(u->note);
    u->note = text && text[0] ? strdup(text) : NULL;
    u->note_kind = kind;
    u->hist.note_cache.valid = false;
    u->fixed_gen++;
    u->note_gen++;
}

void ui_clear_note(ui *u) { ui_set_note(u, UI_NOTE_INFO, NULL); }

void ui_free(ui *u)
{
    if (!u) return;
    ui_truncate(u, 0);
    ui_answer_free(&u->ab.rec[0]);
    ui_answer_free(&u->ab.rec[1]);
    free(u->note);
    u->note = NULL;
    text_buf_free(&u->hist.note_cache.buf);
    free(u->hist.note_cache.lines);
    free(u->hist.note_cache.src);
    memset(&u->hist.note_cache, 0, sizeof u->hist.note_cache);
    free(u->answers);
    free(u->beam_text);
    free(u->hist.cache);
    free(u->help.text);
    free(u->hist.rows_shown);
    u->hist.rows_shown = NULL;
    ui_del_windows(u);
    u->answers = NULL;
    u->hist.cache = NULL;
    u->help.text = NULL;
}

ui_answer *ui_answer_at(ui *u, size_t i)
{
    if (i >= u->n_answers) {
        ui_answer *a = realloc(u->answers, (i + 1) * sizeof *a);
        if (!a) return NULL;
        memset(a + u->n_answers, 0, (i + 1 - u->n_answers) * sizeof *a);
        u->answers = a;
        u->n_answers = i + 1;
    }
    return &u->answers[i];
}

void ui_answer_rebuild(ui *u, size_t i)
{
    const chat_turn *t = chat_turn_at(u->chat, i);
    ui_answer *a = t && t->role == NT_ROLE_ASSISTANT ? ui_answer_at(u, i) : NULL;
    if (!a || a->n || !t->tokens.n || !u->tok) return;
    size_t n = t->tokens.n;
    a->off = malloc(n * sizeof *a->off);
    a->cand = calloc(n, sizeof *a->cand);
    a->n_cand = calloc(n, 1);
    if (!a->off || !a->cand || !a->n_cand) {
        free(a->off);
        free(a->cand);
        free(a->n_cand);
        memset(a, 0, sizeof *a);
        return;
    }
    a->cap = n;
    nt_tokenizer_stream ts;
    nt_tokenizer_stream_reset(&ts);
    /* The answer continues the prompt's text: its first token keeps its leading space, as in
     * the worker's decoder (gen.c). */
    ts.ntok = 1;
    ts.prev = -1;
    char piece[512];
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        /* A stop string cuts the text short of the last tokens: they sit at its end. */
        a->off[k] = at < t->len ? at : t->len;
        at += nt_tokenizer_stream_feed(u->tok, &ts, t->tokens.v[k], piece, sizeof piece);
    }
    a->n = n;
}

/* ------------------------------------------------------------------ drawing ----- */

int ui_put(WINDOW *win, int y, int x, const char *s, const uint8_t *tags, size_t n, int style,
           int maxw)
{
    int col = 0;
    size_t i = 0;
    while (i < n && col < maxw) {
        int32_t cp;
        int len = text_decode(s + i, n - i, &cp);
        int st = tags ? tags[i] : style;
        i += (size_t)len;
        if (cp == '\n') continue;
        if (text_is_control(cp)) cp = text_control_picture(cp);
        int w = text_cp_width(cp);
        wchar_t wc[CCHARW_MAX + 1];
        int k = 0;
        if (w == 0) { /* a mark with no base: put it on a space */
            wc[k++] = L' ';
            w = 1;
        }
        wc[k++] = (wchar_t)cp;
        /* Combining marks that follow join this cell. */
        while (i < n) {
            int32_t c2;
            int l2 = text_decode(s + i, n - i, &c2);
            if (c2 == '\n' || text_is_control(c2) || text_cp_width(c2) != 0) break;
            if (k < CCHARW_MAX - 1) wc[k++] = (wchar_t)c2;
            i += (size_t)l2;
        }
        wc[k] = L'\0';
        if (col + w > maxw) break;
        int a = term_attr(st);
        cchar_t cc;
        setcchar(&cc, wc, (attr_t)(a & ~A_COLOR), (short)PAIR_NUMBER(a), NULL);
        mvwadd_wch(win, y, x + col, &cc);
        col += w;
    }
    return col;
}

int ui_put_text(WINDOW *win, int y, int x, const char *s, int style, int maxw)
{
    text_buf b = {0};
    if (text_buf_put(&b, s, strlen(s), (uint8_t)style, false) < 0) return 0;
    int w = ui_put(win, y, x, b.s, NULL, b.n, style, maxw);
    text_buf_free(&b);
    return w;
}

/* Fills the rest of a row with blanks in a style. */
static void ui_fill(WINDOW *win, int y, int x, int to, int style)
{
    wattrset(win, term_attr(style));
    for (int i = x; i < to; i++) mvwaddch(win, y, i, ' ');
    wattrset(win, A_NORMAL);
}

/* ------------------------------------------------------------------ input area ----- */

typedef struct ui_input_render {
    text_buf buf;
    size_t cursor;
    text_line *lines;
    size_t n_lines, cap;
} ui_input_render;

static void ui_input_render_make(ui_input_render *r, int width)
{
    memset(r, 0, sizeof *r);
    const char *line = input_line();
    size_t point = input_point(), len = strlen(line);
    if (point > len) point = len;
    text_buf_put(&r->buf, input_prompt(), strlen(input_prompt()), TS_PROMPT, false);
    text_buf_put(&r->buf, line, point, TS_INPUT, true);
    r->cursor = r->buf.n;
    text_buf_put(&r->buf, line + point, len - point, TS_INPUT, true);
    /* One column stays free so the cursor fits after a full line. */
    text_wrap(r->buf.s ? r->buf.s : "", r->buf.n, width > 2 ? width - 1 : 1, TEXT_WRAP_CHARS,
              &r->lines, &r->n_lines, &r->cap);
}

static void ui_input_render_free(ui_input_render *r)
{
    text_buf_free(&r->buf);
    free(r->lines);
}

/* The rows a growing strip (the input line, the message line) gets for n lines: at least 1,
 * at most its own cap and a quarter of the screen (the history keeps the rest). */
static int ui_rows_capped(const ui *u, int n, int cap)
{
    int max = u->rows / 4 < cap ? u->rows / 4 : cap;
    if (max < 1) max = 1;
    return n < 1 ? 1 : n > max ? max : n;
}

static int ui_input_rows_wanted(const ui *u)
{
    ui_input_render r;
    ui_input_render_make(&r, u->cols);
    int n = (int)r.n_lines;
    ui_input_render_free(&r);
    return ui_rows_capped(u, n, UI_INPUT_MAX_ROWS);
}

static void ui_draw_input(ui *u)
{
    WINDOW *w = u->input.win;
    werase(w);
    ui_input_render r;
    ui_input_render_make(&r, u->cols);
    int row, col;
    text_cursor(r.buf.s ? r.buf.s : "", r.lines, r.n_lines, r.cursor, &row, &col);
    int first = row - u->input.h + 1;
    if (first < 0) first = 0;
    /* The whole area takes the input style, so a theme's background for it is a band across
     * the screen rather than a patch under the typed characters. */
    for (int i = 0; i < u->input.h; i++) ui_fill(w, i, 0, u->cols, TS_INPUT);
    for (int i = 0; i < u->input.h && first + i < (int)r.n_lines; i++) {
        const text_line *l = &r.lines[first + i];
        ui_put(w, i, 0, r.buf.s + l->start, r.buf.tag + l->start, l->end - l->start, TS_INPUT,
               u->cols - 1);
    }
    /* Signs that the input continues above or below the area. */
    if (first > 0) ui_put_text(w, 0, u->cols - 1, "\xe2\x86\x91", TS_DIM, 1);
    if (first + u->input.h < (int)r.n_lines)
        ui_put_text(w, u->input.h - 1, u->cols - 1, "\xe2\x86\x93", TS_DIM, 1);
    wmove(w, row - first, col < u->cols ? col : u->cols - 1);
    ui_input_render_free(&r);
}

/* ------------------------------------------------------------------ message, status ----- */

/* The message sanitised into *b and wrapped at words to the screen's width into *lines
 * (the caller frees both). Returns the number of lines, 0 when there is no message or no
 * memory. */
static size_t ui_msg_wrap(const ui *u, text_buf *b, text_line **lines)
{
    size_t n = 0, cap = 0;
    *lines = NULL;
    if (!u->msg.text[0] || u->cols < 1) return 0;
    if (text_buf_put(b, u->msg.text, strlen(u->msg.text), (uint8_t)u->msg.style, false) < 0 ||
        text_wrap(b->s, b->n, u->cols, TEXT_WRAP_WORDS, lines, &n, &cap) < 0)
        return 0;
    return n;
}

/* Rows the message line wants: its wrapped message, at most UI_MSG_MAX_ROWS and a quarter of
 * the screen (the history keeps the rest). */
static int ui_msg_rows_wanted(const ui *u)
{
    text_buf b = {0};
    text_line *lines;
    int n = (int)ui_msg_wrap(u, &b, &lines);
    free(lines);
    text_buf_free(&b);
    return ui_rows_capped(u, n, UI_MSG_MAX_ROWS);
}

static void ui_draw_message(ui *u)
{
    WINDOW *w = u->msg.win;
    werase(w);
    text_buf b = {0};
    text_line *lines;
    size_t n = ui_msg_wrap(u, &b, &lines);
    if (n > 0) {
        for (int i = 0; i < u->msg.h && (size_t)i < n; i++) {
            const text_line *l = &lines[i];
            int used = ui_put(w, i, 0, b.s + l->start, NULL, l->end - l->start, u->msg.style, u->cols);
            /* More than fits even so: the last row says so rather than ending mid-word. */
            if (i == u->msg.h - 1 && (size_t)i + 1 < n)
                ui_put_text(w, i, used < u->cols ? used : u->cols - 1, "\xe2\x80\xa6", u->msg.style, 1);
        }
    } else if (u->msg.text[0]) {
        ui_put_text(w, 0, 0, u->msg.text, u->msg.style, u->cols); /* no memory to wrap it */
    } else {
        /* No message: a separator between the history and the input, with key hints in it. */
        wattrset(w, term_attr(TS_BORDER));
        mvwhline(w, 0, 0, ACS_HLINE, u->cols);
        wattrset(w, A_NORMAL);
        if (u->panel.focus)
            ui_put_text(w, 0, 1, " sliders: \xe2\x86\x91\xe2\x86\x93 pick, \xe2\x86\x90\xe2\x86\x92 adjust, "
                                 "Shift coarse, r reset, Tab back ", TS_DIM, u->cols - 2);
        else if (u->cols >= 60)
            ui_put_text(w, 0, 1, " F1 help \xc2\xb7 F2 sliders \xc2\xb7 Esc stop \xc2\xb7 "
                                 "Alt-Enter newline ", TS_DIM, u->cols - 2);
    }
    free(lines);
    text_buf_free(&b);
}

static const char *ui_state_text(const ui *u, char *buf, size_t cap)
{
    switch (u->status.state) {
    case UI_READING:
        if (u->status.progress_total > 0)
            snprintf(buf, cap, "reading prompt %d/%d", u->status.progress_done, u->status.progress_total);
        else
            snprintf(buf, cap, "reading prompt");
        return buf;
    case UI_GENERATING: return "generating";
    case UI_STOPPED: return "stopped";
    case UI_IDLE: break;
    }
    return "idle";
}

static void ui_draw_status(ui *u)
{
    WINDOW *w = u->status.win;
    werase(w);
    if (u->status.ask[0]) {
        /* A question waiting for y/n takes the whole bar, so it cannot be missed. */
        ui_fill(w, 0, 0, u->cols, TS_STATUS_BUSY);
        ui_put_text(w, 0, 1, u->status.ask, TS_STATUS_BUSY, u->cols - 2);
        return;
    }
    ui_fill(w, 0, 0, u->cols, TS_STATUS);
    char sbuf[64], left[512], tps[32] = "", ptok[32] = "";
    const char *state = ui_state_text(u, sbuf, sizeof sbuf);
    int32_t n_ctx = u->chat ? chat_n_ctx(u->chat) : 0;
    /* n_past is what the cache kept when the answer started; the prompt and the answer add
     * to it until the worker's DONE says the exact count. */
    int32_t used = u->status.n_past;
    if (u->status.state == UI_READING) used += u->status.progress_done;
    if (u->status.state == UI_GENERATING) used += u->status.progress_total + u->status.n_gen_now;
    if (u->status.tok_per_sec > 0) snprintf(tps, sizeof tps, " \xe2\x94\x82 %.1f tok/s", u->status.tok_per_sec);
    if (u->persona_tokens > 0) snprintf(ptok, sizeof ptok, " %d tok", u->persona_tokens);
    if (u->server) {
        /* A server holds the context and counts its own tokens: what it reported, and the
         * pieces of the answer on its way; no meter of a size nobody knows. */
        char toks[64], more[24] = "";
        if (u->status.state == UI_GENERATING && u->status.n_gen_now > 0)
            snprintf(more, sizeof more, " +%d", u->status.n_gen_now);
        if (u->status.server_tokens > 0)
            snprintf(toks, sizeof toks, "%d tokens (server)%s", u->status.server_tokens, more);
        else
            snprintf(toks, sizeof toks, "tokens not reported%s", more);
        snprintf(left, sizeof left, " %s @ %s \xe2\x94\x82 %s%s \xe2\x94\x82 %s%s",
                 u->model_name && u->model_name[0] ? u->model_name : "(server's model)", u->server,
                 u->persona ? u->persona : "default", ptok, toks, tps);
        n_ctx = 0;
    } else {
        snprintf(left, sizeof left, " %s \xe2\x94\x82 %s%s \xe2\x94\x82 ctx %d/%d%s",
                 u->model_name ? u->model_name : "?", u->persona ? u->persona : "default", ptok,
                 used, n_ctx, tps);
    }
    int sw = (int)strlen(state) + 2;
    int x = ui_put_text(w, 0, 0, left, TS_STATUS, u->cols - sw - 1);
    /* A context meter when there is room for it. */
    int room = u->cols - sw - 1 - x;
    if (room >= 12 && n_ctx > 0) {
        int mw = room - 2 > 10 ? 10 : room - 2;
        int full = (int)((long long)used * mw / n_ctx);
        if (full > mw) full = mw;
        wattrset(w, term_attr(TS_STATUS));
        mvwaddch(w, 0, x + 1, '[');
        for (int i = 0; i < mw; i++)
            ui_put_text(w, 0, x + 2 + i, i < full ? "\xe2\x96\x88" : "\xc2\xb7", TS_STATUS, 1);
        mvwaddch(w, 0, x + 2 + mw, ']');
    }
    int busy = u->status.state == UI_READING || u->status.state == UI_GENERATING;
    ui_fill(w, 0, u->cols - sw, u->cols, busy ? TS_STATUS_BUSY : TS_STATUS);
    ui_put_text(w, 0, u->cols - sw + 1, state, busy ? TS_STATUS_BUSY : TS_STATUS, sw - 1);
}

/* ------------------------------------------------------------------ help ----- */

/* One row of the help screen: bytes of the sanitised help text and the column they start at. */
typedef struct help_row {
    size_t start, end;
    int x;
    bool head; /* also draw the key column (bytes [line start, start)) at column 1 */
    size_t head_start;
} help_row;

#define HELP_DESC_COL 25 /* "  %-22s " in commands_help_text: descriptions start here */
#define HELP_DESC_MIN 30 /* narrower descriptions than this go under their key instead */
#define HELP_UNDER_COL 5 /* ... at this column */

static void ui_draw_help(ui *u)
{
    WINDOW *w = u->help.win;
    if (!w) return;
    werase(w);
    if (!u->help.text) u->help.text = commands_help_text();
    if (!u->help.text) return;
    int h, wd;
    getmaxyx(w, h, wd);
    text_buf b = {0};
    text_buf_put(&b, u->help.text, strlen(u->help.text), TS_TEXT, true);
    help_row *rows = NULL;
    size_t n_rows = 0, cap_rows = 0;
    text_line *lines = NULL;
    size_t nl = 0, capl = 0;
    size_t ls = 0;
    while (ls < b.n) {
        size_t le = ls;
        while (le < b.n && b.s[le] != '\n') le++;
        /* A key or command row wraps with a hanging indent under its description; where
         * that column would be too narrow to read, the description goes under the key,
         * indented. */
        bool hang = le - ls > HELP_DESC_COL + 1 && b.s[ls] == ' ' && b.s[ls + 1] == ' ' &&
                    b.s[ls + HELP_DESC_COL - 1] == ' ' && b.s[ls + HELP_DESC_COL] != ' ';
        size_t from = hang ? ls + HELP_DESC_COL : ls;
        for (size_t i = ls; hang && i < from; i++)
            if ((unsigned char)b.s[i] >= 0x80) hang = false, from = ls;
        bool under = hang && wd < HELP_DESC_COL + HELP_DESC_MIN;
        int x = under ? HELP_UNDER_COL : hang ? HELP_DESC_COL + 1 : 1;
        nl = 0;
        text_wrap(b.s + from, le - from, wd - x - 1, TEXT_WRAP_WORDS, &lines, &nl, &capl);
        for (size_t i = 0; i < nl + under; i++) {
            if (n_rows == cap_rows) {
                cap_rows = cap_rows ? cap_rows * 2 : 64;
                help_row *r = realloc(rows, cap_rows * sizeof *r);
                if (!r) goto out;
                rows = r;
            }
            if (under && i == 0) /* the key alone */
                rows[n_rows++] = (help_row){from, from, x, true, ls};
            else
                rows[n_rows++] = (help_row){from + lines[i - under].start, from + lines[i - under].end,
                                            x, hang && !under && i == 0, ls};
        }
        ls = le + 1;
    }
    u->help.max = (int)n_rows - h > 0 ? (int)n_rows - h : 0; /* geometry, for the handler */
    int first = u->help.scroll < u->help.max ? u->help.scroll : u->help.max;
    for (int i = 0; i < h && first + i < (int)n_rows; i++) {
        const help_row *r = &rows[first + i];
        int st = i == 0 && first == 0 ? TS_TITLE : TS_TEXT;
        if (r->head)
            ui_put(w, i, 1, b.s + r->head_start, NULL, HELP_DESC_COL, TS_BOLD, HELP_DESC_COL);
        ui_put(w, i, r->x, b.s + r->start, NULL, r->end - r->start, st, wd - r->x - 1);
    }
out:
    free(rows);
    free(lines);
    text_buf_free(&b);
}

/* ------------------------------------------------------------------ layout ----- */

void ui_layout(ui *u)
{
    ui_del_windows(u);
    u->rows = LINES;
    u->cols = COLS;
    u->too_small = u->cols < UI_MIN_COLS || u->rows < UI_MIN_ROWS;
    if (u->too_small) return;
    u->input.h = ui_input_rows_wanted(u);
    u->input.y = u->rows - 1 - u->input.h;
    u->msg.h = ui_msg_rows_wanted(u);
    int msg_y = u->input.y - u->msg.h;
    int top_h = msg_y;
    u->side = u->cols >= UI_SIDE_MIN_COLS;
    /* Above a narrow history the panel would leave too little room: there it shows only
     * while it has the focus. */
    bool want_panel = u->panel.focus || (u->panel.shown && u->side);
    bool want_probs = u->probs.shown;
    u->panel.h = u->probs.h = 0;
    if (u->side && (want_panel || want_probs)) {
        u->panel.w = u->probs.w = UI_SIDE_WIDTH;
        u->panel.x = u->probs.x = u->cols - UI_SIDE_WIDTH;
        u->hist.x = 0;
        u->hist.w = u->cols - UI_SIDE_WIDTH;
        u->hist.y = 0;
        u->hist.h = top_h;
        int ph = UI_PANEL_SLIDERS + 3; /* title, sliders, the chain, the keys */
        if (want_panel && want_probs && top_h - ph < 5) /* no room for both: the focus decides */
            want_panel = u->panel.focus, want_probs = !u->panel.focus;
        if (want_panel) u->panel.h = ph < top_h ? ph : top_h;
        u->panel.y = 0;
        if (want_probs) {
            u->probs.y = u->panel.h;
            u->probs.h = top_h - u->panel.h < 13 ? top_h - u->panel.h : 13;
        }
    } else {
        u->side = false;
        u->hist.x = 0;
        u->hist.w = u->cols;
        u->panel.w = u->probs.w = u->cols;
        u->panel.x = u->probs.x = 0;
        int ph = UI_PANEL_SLIDERS + 2, qh = 11; /* title, sliders, the chain */
        if (want_panel && want_probs && top_h - ph - qh < 3)
            want_panel = u->panel.focus, want_probs = !u->panel.focus;
        if (want_probs && top_h - qh < 3) qh = top_h - 3;
        u->panel.y = 0;
        if (want_panel) u->panel.h = ph;
        u->probs.y = u->panel.h;
        if (want_probs) u->probs.h = qh;
        u->hist.y = u->panel.h + u->probs.h;
        u->hist.h = top_h - u->hist.y;
    }
    u->hist.win = newwin(u->hist.h, u->hist.w, u->hist.y, u->hist.x);
    if (u->panel.h > 0) u->panel.win = newwin(u->panel.h, u->panel.w, u->panel.y, u->panel.x);
    if (u->probs.h > 0) u->probs.win = newwin(u->probs.h, u->probs.w, u->probs.y, u->probs.x);
    u->msg.win = newwin(u->msg.h, u->cols, msg_y, 0);
    u->input.win = newwin(u->input.h, u->cols, u->input.y, 0);
    u->status.win = newwin(1, u->cols, u->rows - 1, 0);
    u->help.win = newwin(top_h, u->cols, 0, 0);
    WINDOW *all[] = {u->hist.win, u->panel.win, u->probs.win, u->msg.win, u->status.win, u->help.win};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (all[i]) leaveok(all[i], TRUE);
}

static void ui_draw_too_small(ui *u)
{
    erase();
    char msg[2][64];
    snprintf(msg[0], sizeof msg[0], "natter needs %dx%d,", UI_MIN_COLS, UI_MIN_ROWS);
    snprintf(msg[1], sizeof msg[1], "this is %dx%d", COLS, LINES);
    for (int k = 0; k < 2; k++) {
        int y = LINES / 2 - 1 + k, x = (COLS - (int)strlen(msg[k])) / 2;
        if (x < 0) x = 0;
        if (y < 0 || y >= LINES) continue;
        for (int i = 0; msg[k][i] && x + i < COLS; i++) mvaddch(y, x + i, (chtype)msg[k][i]);
    }
    wnoutrefresh(stdscr);
    doupdate();
}

void ui_draw(ui *u, int flags)
{
    if (flags & UI_R_REPAINT) {
        clearok(curscr, TRUE); /* the next doupdate repaints every cell */
        flags |= UI_R_LAYOUT;
    }
    if ((flags & UI_R_LAYOUT) || LINES != u->rows || COLS != u->cols) {
        ui_layout(u);
        flags = UI_R_ALL;
        /* Everything is drawn again: wipe what the old layout's windows left where no new
         * window comes (a hidden panel's column). */
        werase(stdscr);
        wnoutrefresh(stdscr);
    }
    /* Blank cells take the text element's colours (only the colour: attributes in a
     * background would be added to every character). Set on every draw, so a /theme change
     * reaches windows that are not laid out again. */
    const chtype bkgd = ' ' | ((chtype)term_attr(TS_BACKGROUND) & A_COLOR);
    WINDOW *wins[] = {stdscr, u->hist.win, u->panel.win, u->probs.win, u->msg.win, u->input.win, u->status.win, u->help.win};
    for (size_t i = 0; i < sizeof wins / sizeof *wins; i++)
        if (wins[i]) wbkgdset(wins[i], bkgd);
    if (u->too_small) {
        ui_draw_too_small(u);
        return;
    }
    if (((flags & UI_R_INPUT) && ui_input_rows_wanted(u) != u->input.h) ||
        ui_msg_rows_wanted(u) != u->msg.h) { /* any draw: some handlers clear it silently */
        ui_layout(u);
        flags = UI_R_ALL;
        werase(stdscr);
        wnoutrefresh(stdscr);
    }
    if (u->help.shown) {
        if (flags & (UI_R_HISTORY | UI_R_PANEL | UI_R_PROBS)) {
            ui_draw_help(u);
            wnoutrefresh(u->help.win);
        }
    } else {
        if ((flags & UI_R_HISTORY) && u->hist.win) {
            if (u->ab.shown) view_ab_draw(u);
            else view_history_draw(u);
            wnoutrefresh(u->hist.win);
        }
        if ((flags & UI_R_PANEL) && u->panel.win) {
            view_panel_draw(u);
            wnoutrefresh(u->panel.win);
        }
        if ((flags & UI_R_PROBS) && u->probs.win) {
            view_probs_draw(u);
            wnoutrefresh(u->probs.win);
        }
    }
    if (flags & (UI_R_MESSAGE | UI_R_PANEL)) {
        ui_draw_message(u);
        wnoutrefresh(u->msg.win);
    }
    if (flags & UI_R_STATUS) {
        ui_draw_status(u);
        wnoutrefresh(u->status.win);
    }
    /* The input goes last so the terminal's cursor ends up in it. */
    ui_draw_input(u);
    wnoutrefresh(u->input.win);
    curs_set(u->panel.focus || u->help.shown ? 0 : 1);
    doupdate();
}
