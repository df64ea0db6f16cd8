/* view_ab.c — the A/B view: two answers to one question, written with two parameter sets,
 * drawn over the history side by side (one above the other when the history is narrower
 * than UI_AB_SIDE_COLS), each under a label saying what it was written with. A side longer
 * than its room shows its end (the part being written) until PgUp scrolls both sides back
 * together (ui.ab.scroll rows from their ends); its label then says which lines are shown.
 * The token the probabilities view picked is highlighted on the side it shows, as in the
 * history. Its state is ui.ab; the handlers are app/tui/tui_ab.c. */
#include "ui.h"

#include "term.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UI_AB_SIDE_COLS 60 /* narrower: one side above the other */

/* Draws side s in the box at (y, x), h rows by w columns: its label line, then its text
 * wrapped: the last lines when it is longer than the box, or ui.ab.scroll rows before them. */
static void ab_side(ui *u, int s, int y, int x, int h, int w)
{
    WINDOW *win = u->hist.win;
    const ui_answer *rec = NULL;
    const chat_turn *t = ui_ab_turn(u, s, &rec);
    text_buf b = {0};
    text_line *lines = NULL;
    size_t n_lines = 0, cap = 0, from = 0, rows = h > 1 ? (size_t)(h - 1) : 0;
    bool beam = false;
    if (t && rows > 0) {
        const char *body = t->text ? t->text : "";
        /* Beam search shows its best beam so far until the winner is written out. */
        beam = !t->complete && t->len == 0 && u->beam_text && s == u->ab.live;
        if (beam) body = u->beam_text;
        size_t len = strlen(body);
        while (len > 0 && body == t->text && (body[0] == ' ')) { /* the answer's leading space */
            body++;
            len--;
        }
        /* The token the probabilities view picked (Alt-Left/Alt-Right) on the side it shows,
         * highlighted as the history does, whole characters. */
        size_t hs = len, he = len, skip = !beam && t->text ? (size_t)(body - t->text) : 0;
        int pick = u->probs.pick;
        if (!beam && rec && u->probs.shown && s == u->ab.side && pick >= 0 && (size_t)pick < rec->n &&
            rec->off[pick] >= skip) {
            hs = rec->off[pick] - skip;
            he = ((size_t)pick + 1 < rec->n ? rec->off[pick + 1] : t->len) - skip;
            if (he > len) he = len;
            if (hs > he) hs = he;
            while (hs < len && (body[hs] & 0xC0) == 0x80) hs++;
            while (he < len && (body[he] & 0xC0) == 0x80) he++;
        }
        uint8_t tag = beam ? TS_DIM : TS_TEXT;
        text_buf_put(&b, body, hs, tag, true);
        text_buf_put(&b, body + hs, he - hs, tag | TERM_HIGHLIGHT_BIT, true);
        text_buf_put(&b, body + he, len - he, tag, true);
        if (b.n) text_wrap(b.s, b.n, w, TEXT_WRAP_WORDS, &lines, &n_lines, &cap);
        if (n_lines > rows) {
            size_t over = n_lines - rows, back = (size_t)u->ab.scroll < over ? (size_t)u->ab.scroll : over;
            from = over - back;
            if (over > (size_t)u->ab.scroll_max) u->ab.scroll_max = over > INT32_MAX ? INT32_MAX : (int)over;
        }
    }
    char head[192];
    snprintf(head, sizeof head, "%c  %s", s ? 'B' : 'A', u->ab.label[s]);
    int used = ui_put_text(win, y, x, head, TS_LABEL_ASSISTANT, w);
    char st[128] = "";
    if (n_lines > rows) /* part of the side is out of its box: which lines are shown, first */
        snprintf(st, sizeof st, "  lines %zu\xe2\x80\x93%zu of %zu", from + 1, from + rows, n_lines);
    size_t l = strlen(st);
    if (!t)
        snprintf(st, sizeof st, "  waiting");
    else if (!t->complete)
        snprintf(st + l, sizeof st - l, "  writing\xe2\x80\xa6");
    else if (t->n_gen > 0 && t->gen_sec > 0)
        snprintf(st + l, sizeof st - l, "  %d tokens, %.1f tok/s%s%s", (int)t->n_gen, t->n_gen / t->gen_sec,
                 t->end == GEN_END_LENGTH || t->end == GEN_END_STOPPED ? " \xc2\xb7 " : "",
                 t->end == GEN_END_LENGTH || t->end == GEN_END_STOPPED ? gen_end_name(t->end, false) : "");
    if (u->probs.shown && s == u->ab.side) /* the side the probabilities view shows */
        strncat(st, "  \xe2\x97\x82 probabilities", sizeof st - strlen(st) - 1);
    if (used < w) ui_put_text(win, y, x + used, st, TS_DIM, w - used);
    for (size_t i = from; i < n_lines && i - from < rows; i++)
        ui_put(win, y + 1 + (int)(i - from), x, b.s + lines[i].start, b.tag + lines[i].start,
               lines[i].end - lines[i].start, TS_TEXT, w);
    free(lines);
    text_buf_free(&b);
}

void view_ab_draw(ui *u)
{
    WINDOW *win = u->hist.win;
    werase(win);
    int h = u->hist.h, w = u->hist.w;
    u->ab.scroll_max = 0; /* ab_side finds it again */
    if (h < 4 || w < 10) return;
    /* The question both sides answer: the turn before the sides, its first line. */
    const chat_turn *a = ui_ab_turn(u, 0, NULL);
    const chat_turn *q = a && a->parent != CHAT_ROOT ? chat_node_at(u->chat, a->parent) : NULL;
    char title[256];
    size_t ql = q && q->text ? strcspn(q->text, "\n") : 0;
    snprintf(title, sizeof title, "A/B \xc2\xb7 You: %.*s", (int)(ql < 200 ? ql : 200), q && q->text ? q->text : "");
    ui_put_text(win, 0, 0, title, TS_TITLE, w);
    const char *hint = u->ab.choosing
                           ? "a keeps A \xc2\xb7 b keeps B \xc2\xb7 Tab: the other side's probabilities (F4) \xc2\xb7 PgUp/PgDn scroll \xc2\xb7 Esc keeps B"
                           : "both answers start from the same cached prompt \xc2\xb7 PgUp/PgDn scroll \xc2\xb7 Esc stops";
    ui_put_text(win, h - 1, 0, hint, TS_DIM, w);
    int top = 2, rows = h - 1 - top; /* title, a blank line; the hint at the bottom */
    if (w >= UI_AB_SIDE_COLS) {
        int cw = (w - 3) / 2;
        ab_side(u, 0, top, 0, rows, cw);
        wattrset(win, term_attr(TS_BORDER));
        mvwvline(win, top, cw + 1, ACS_VLINE, rows);
        wattrset(win, A_NORMAL);
        ab_side(u, 1, top, cw + 3, rows, w - cw - 3);
    } else {
        int ha = rows / 2;
        ab_side(u, 0, top, 0, ha - 1, w);
        ab_side(u, 1, top + ha, 0, rows - ha, w);
    }
}
