/* view_panel.c — the sampling panel (one slider per parameter: label, track, value) and the
 * probabilities view (the top candidates of one token, before and after the sampling chain).
 *
 * The sliders are the rows of the parameter table (app/conv/params.h) that have a step, in
 * table order; the table gives each its label, span and steps. The keyboard handlers (fine and
 * coarse steps) and the mouse (a click or drag on the track) both go through ui_slider_set,
 * which clamps to the span and rounds to the fine step. A value set outside the span (/set,
 * a persona, --temp 5) stays as it is and is shown as it is, the knob at the track's end. */
#include "ui.h"

#include "term.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The table row of slider s. */
static const param_def *slider_def(int s)
{
    int k = 0;
    for (size_t i = 0; i < PARAM_COUNT; i++)
        if (param_defs[i].fine > 0 && k++ == s) return &param_defs[i];
    return NULL;
}

int ui_slider_of(enum param_id id)
{
    int k = 0;
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        if (param_defs[i].fine <= 0) continue;
        if (param_defs[i].id == id) return k;
        k++;
    }
    return -1;
}

static double slider_max(const ui *u, const param_def *d)
{
    if (d->span_hi >= 0) return d->span_hi;
    int32_t n = u->chat ? chat_n_ctx(u->chat) : 4096;
    return n > 16 ? n : 16;
}

const char *ui_slider_name(int s)
{
    const param_def *d = s >= 0 && s < US_COUNT_ ? slider_def(s) : NULL;
    return d ? d->label : "?";
}

/* The UI's values as a table row sees them. */
static param_values slider_values(const ui *u)
{
    return (param_values){.sp = u->params, .max_tokens = u->max_tokens};
}

double ui_slider_get(const ui *u, int s)
{
    const param_def *d = s >= 0 && s < US_COUNT_ ? slider_def(s) : NULL;
    if (!d) return 0;
    param_values v = slider_values(u);
    /* No limit on the answer is the top of its track ("all"). */
    if (d->id == PARAM_MAX_TOKENS && u->max_tokens <= 0) return slider_max(u, d);
    return param_get(d, &v);
}

/* Stores x (already in d's range) into the UI's values. */
static void slider_store(ui *u, const param_def *d, double x)
{
    param_values v = slider_values(u);
    param_set(d, &v, x);
    u->params = v.sp;
    u->max_tokens = v.max_tokens;
}

void ui_slider_set(ui *u, int s, double v)
{
    const param_def *d = s >= 0 && s < US_COUNT_ ? slider_def(s) : NULL;
    if (!d) return;
    double min = d->span_lo, max = slider_max(u, d);
    if (!(v >= min)) v = min; /* NaN too */
    if (v > max) v = max;
    /* Round to the fine step so keyboard and mouse land on the same values. */
    v = min + floor((v - min) / d->fine + 0.5) * d->fine;
    if (v > max) v = max;
    slider_store(u, d, v);
}

void ui_slider_step(ui *u, int s, int steps, bool coarse)
{
    const param_def *d = s >= 0 && s < US_COUNT_ ? slider_def(s) : NULL;
    if (!d) return;
    double cur = ui_slider_get(u, s), next = cur + steps * (coarse ? d->coarse : d->fine);
    /* A value outside the span (set by /set, a persona, an option) moves by the step within
     * the whole range, rather than jumping to the span's end. */
    if (cur > slider_max(u, d) || cur < d->span_lo) {
        if (!(next >= d->lo)) next = d->lo;
        if (next > d->hi) next = d->hi;
        slider_store(u, d, next);
        return;
    }
    ui_slider_set(u, s, next);
}

double ui_slider_value_at(const ui *u, int s, int x)
{
    const param_def *d = s >= 0 && s < US_COUNT_ ? slider_def(s) : NULL;
    if (!d) return 0;
    double max = slider_max(u, d);
    if (u->panel.track_w <= 1) return d->span_lo;
    double f = (double)(x - u->panel.track_x) / (u->panel.track_w - 1);
    if (f < 0) f = 0;
    if (f > 1) f = 1;
    return d->span_lo + f * (max - d->span_lo);
}

/* Sliders that fit in the panel's rows: under the title, above the chain line. */
static int panel_rows(const ui *u)
{
    int n = u->panel.h - 2;
    return n < 0 ? 0 : n < UI_PANEL_SLIDERS ? n : UI_PANEL_SLIDERS;
}

int ui_slider_at_row(const ui *u, int y)
{
    if (!u->panel.win) return -1;
    int row = y - u->panel.y - 1; /* row 0 is the title */
    int s = u->panel.top + row;
    return row >= 0 && row < panel_rows(u) && s < US_COUNT_ ? s : -1;
}

/* A stage's short name: on the panel's chain line ("top-k"), or compact ("k") in the
 * probabilities view, where the count follows it. */
static const char *stage_label(int stage, bool compact)
{
    static const char *const names[2][NT_STAGE_COUNT] = {
        {[NT_STAGE_PENALTIES] = "pen", [NT_STAGE_DRY] = "dry", [NT_STAGE_TOP_N_SIGMA] = "n\xcf\x83",
         [NT_STAGE_TOP_K] = "top-k", [NT_STAGE_TYPICAL] = "typ", [NT_STAGE_TOP_P] = "top-p",
         [NT_STAGE_MIN_P] = "min-p", [NT_STAGE_XTC] = "xtc", [NT_STAGE_TEMPERATURE] = "temp",
         [NT_STAGE_MIROSTAT] = "miro", [NT_STAGE_GREEDY] = "greedy"},
        {[NT_STAGE_PENALTIES] = "pen", [NT_STAGE_DRY] = "dry", [NT_STAGE_TOP_N_SIGMA] = "n\xcf\x83",
         [NT_STAGE_TOP_K] = "k", [NT_STAGE_TYPICAL] = "typ", [NT_STAGE_TOP_P] = "p",
         [NT_STAGE_MIN_P] = "min", [NT_STAGE_XTC] = "xtc", [NT_STAGE_TEMPERATURE] = "T",
         [NT_STAGE_MIROSTAT] = "miro", [NT_STAGE_GREEDY] = "greedy"},
    };
    return stage >= 0 && stage < NT_STAGE_COUNT ? names[compact][stage] : "?";
}

/* The chain as it stands: the active stages in their fixed order (natter.h's sampler
 * section), e.g. "pen > top-k > top-p > min-p > temp". */
static void chain_text(const nt_sampler_params *p, char *buf, size_t cap)
{
    bool greedy = !(p->temperature > 0.0f), miro = p->mirostat_tau > 0.0f;
    const bool on[NT_STAGE_COUNT] = {
        [NT_STAGE_PENALTIES] = p->repeat_last_n != 0 &&
                               ((p->repeat_penalty > 0 && p->repeat_penalty != 1.0f) ||
                                p->presence_penalty != 0 || p->frequency_penalty != 0),
        [NT_STAGE_DRY] = p->dry_multiplier > 0 && p->dry_base >= 1.0f,
        [NT_STAGE_TOP_N_SIGMA] = !greedy && !miro && p->top_n_sigma > 0,
        [NT_STAGE_TOP_K] = !greedy && !miro && p->top_k > 0,
        [NT_STAGE_TYPICAL] = !greedy && !miro && p->typical_p < 1.0f,
        [NT_STAGE_TOP_P] = !greedy && !miro && p->top_p < 1.0f,
        [NT_STAGE_MIN_P] = !greedy && !miro && p->min_p > 0,
        [NT_STAGE_XTC] = !greedy && !miro && p->xtc_probability > 0,
        [NT_STAGE_TEMPERATURE] = !greedy,
        [NT_STAGE_MIROSTAT] = !greedy && miro,
        [NT_STAGE_GREEDY] = greedy,
    };
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < NT_STAGE_COUNT && n < cap; i++)
        if (on[i]) n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "\xe2\x80\xba" : "", stage_label(i, false));
}

static void slider_value_text(const ui *u, int s, char *buf, size_t cap)
{
    const param_def *d = slider_def(s);
    if (d->id == PARAM_MAX_TOKENS && (u->max_tokens <= 0 || u->max_tokens >= slider_max(u, d)))
        snprintf(buf, cap, "all");
    else if (d->id == PARAM_TOP_K && u->params.top_k == 0)
        snprintf(buf, cap, "off");
    else
        snprintf(buf, cap, "%.*f", d->kind == PARAM_FLOAT ? 2 : 0, ui_slider_get(u, s));
}

void view_panel_draw(ui *u)
{
    WINDOW *w = u->panel.win;
    werase(w);
    int x0 = 0;
    if (u->side) { /* a separator between the history and the column */
        wattrset(w, term_attr(TS_BORDER));
        mvwvline(w, 0, 0, ACS_VLINE, u->panel.h);
        wattrset(w, A_NORMAL);
        x0 = 2;
    }
    int width = u->panel.w - x0 - 1;
    ui_put_text(w, 0, x0, u->panel.focus ? "Sampling (arrows adjust)" : "Sampling  F2",
                TS_TITLE, width);
    const int label_w = 8, value_w = 5;
    u->panel.track_x = u->panel.x + x0 + label_w;
    u->panel.track_w = width - label_w - value_w - 1;
    /* scroll so the selected slider shows */
    const int rows = panel_rows(u);
    if (u->panel.slider < u->panel.top) u->panel.top = u->panel.slider;
    if (rows > 0 && u->panel.slider >= u->panel.top + rows) u->panel.top = u->panel.slider - rows + 1;
    if (u->panel.top > US_COUNT_ - rows) u->panel.top = US_COUNT_ - rows > 0 ? US_COUNT_ - rows : 0;
    for (int s = u->panel.top; s < US_COUNT_ && s < u->panel.top + rows; s++) {
        int y = s - u->panel.top + 1;
        bool sel = u->panel.focus && s == u->panel.slider;
        char lab[16];
        snprintf(lab, sizeof lab, "%-7s", slider_def(s)->label);
        ui_put_text(w, y, x0, lab, sel ? TS_FOCUS : TS_TEXT, label_w - 1);
        if (u->panel.track_w >= 3) {
            double min = slider_def(s)->span_lo, max = slider_max(u, slider_def(s));
            double f = max > min ? (ui_slider_get(u, s) - min) / (max - min) : 0;
            f = f < 0 ? 0 : f > 1 ? 1 : f; /* a value set outside the track (--temp 5) */
            int knob = (int)lround(f * (u->panel.track_w - 1));
            for (int i = 0; i < u->panel.track_w; i++) {
                const char *ch = i < knob ? "\xe2\x94\x81" : i == knob ? "\xe2\x97\x8f" : "\xe2\x94\x80";
                int st = i < knob ? TS_FILL : i == knob ? TS_KNOB : TS_TRACK;
                ui_put_text(w, y, x0 + label_w + i, ch, st, 1);
            }
        }
        char val[16];
        slider_value_text(u, s, val, sizeof val);
        char vbuf[16];
        snprintf(vbuf, sizeof vbuf, "%*s", value_w, val);
        ui_put_text(w, y, x0 + label_w + (u->panel.track_w > 0 ? u->panel.track_w : 0) + 1, vbuf,
                    sel ? TS_FOCUS : TS_TEXT, value_w);
    }
    if (u->panel.h > rows + 1) {
        char chain[160];
        chain_text(&u->params, chain, sizeof chain);
        ui_put_text(w, rows + 1, x0, chain, TS_DIM, width);
    }
    if (u->panel.h > rows + 2)
        ui_put_text(w, rows + 2, x0, "F6 resets \xc2\xb7 F3 hides", TS_DIM, width);
}

/* ------------------------------------------------------------------ probabilities ----- */

/* Writes a token's text for the probabilities view: quoted, spaces as ·. */
/* A candidate's label: its bytes with spaces shown as '·' (id's, or the server's text when
 * text is not NULL). */
static void token_label(const nt_tokenizer *tok, int32_t id, const char *text, char *buf, size_t cap)
{
    char raw[64];
    int n = text ? (int)strnlen(text, sizeof raw - 1)
                 : tok ? nt_tokenizer_token_bytes(tok, id, raw, sizeof raw - 1) : -1;
    if (n < 0) {
        snprintf(buf, cap, "#%d", (int)id);
        return;
    }
    if (n > (int)sizeof raw - 1) n = (int)sizeof raw - 1;
    if (text) memcpy(raw, text, (size_t)n);
    raw[n] = '\0';
    size_t j = 0;
    for (int i = 0; i < n && j + 4 < cap; i++) {
        if (raw[i] == ' ') {
            memcpy(buf + j, "\xc2\xb7", 2);
            j += 2;
        } else {
            buf[j++] = raw[i];
        }
    }
    buf[j] = '\0';
}

/* While beam search runs: each live beam's log-probability, length and latest words, best
 * first, and the answers already finished. */
static void view_beams_draw(ui *u, WINDOW *w, int x0, int width)
{
    char line[160];
    int n_rows = u->n_beams < WORKER_BEAM_ROWS ? u->n_beams : WORKER_BEAM_ROWS;
    snprintf(line, sizeof line, "Beams  %d live, %d finished", u->n_beams, u->beams_done);
    ui_put_text(w, 0, x0, line, TS_TITLE, width);
    int y = 1;
    if (u->beams_done > 0) {
        snprintf(line, sizeof line, "best finished: score %.2f", u->best_done);
        ui_put_text(w, y++, x0, line, TS_DIM, width);
    }
    ui_put_text(w, y++, x0, " #    logp  tok  text", TS_DIM, width);
    const int last = u->probs.h - (u->side ? 0 : 1);
    for (int i = 0; i < n_rows && y < last; i++, y++) {
        const worker_beam *b = &u->beams[i];
        snprintf(line, sizeof line, "%2d %7.2f %4d ", i + 1, b->logp, (int)b->n);
        int lw = ui_put_text(w, y, x0, line, i == 0 ? TS_TEXT : TS_DIM, width);
        if (lw < width) {
            ui_put_text(w, y, x0 + lw, "\xc2\xab", TS_DIM, 1);
            int tw = ui_put_text(w, y, x0 + lw + 1, b->tail, i == 0 ? TS_TEXT : TS_DIM, width - lw - 2);
            ui_put_text(w, y, x0 + lw + 1 + tw, "\xc2\xbb", TS_DIM, 1);
        }
    }
    if (u->n_beams > n_rows && y < last) {
        snprintf(line, sizeof line, "(+%d more)", u->n_beams - n_rows);
        ui_put_text(w, y, x0, line, TS_DIM, width);
    }
}

void view_probs_draw(ui *u)
{
    WINDOW *w = u->probs.win;
    werase(w);
    int x0 = 0;
    if (u->side) {
        wattrset(w, term_attr(TS_BORDER));
        mvwvline(w, 0, 0, ACS_VLINE, u->probs.h);
        wattrset(w, A_NORMAL);
        x0 = 2;
    } else { /* above the history: a line under the view */
        wattrset(w, term_attr(TS_BORDER));
        mvwhline(w, u->probs.h - 1, 0, ACS_HLINE, u->probs.w);
        wattrset(w, A_NORMAL);
    }
    int width = u->probs.w - x0 - 1;
    if (u->beam_text && u->probs.pick < 0) { /* a beam search under way */
        view_beams_draw(u, w, x0, width);
        return;
    }
    size_t n = chat_n_turns(u->chat);
    size_t ti = u->probs.pick >= 0 ? u->probs.pick_turn : n - 1; /* a picked token, else the latest */
    const chat_turn *t = n > 0 ? chat_turn_at(u->chat, ti) : NULL;
    const ui_answer *a = t && t->role == NT_ROLE_ASSISTANT && ti < u->n_answers
                             ? &u->answers[ti] : NULL;
    if (u->ab.shown) t = ui_ab_turn(u, u->ab.side, &a); /* the A/B view's side (Tab) */
    if (!a || a->n == 0) {
        ui_put_text(w, 0, x0, "Candidates  F4", TS_TITLE, width);
        ui_put_text(w, 1, x0, "no token yet", TS_DIM, width);
        return;
    }
    size_t k = u->probs.pick >= 0 && (size_t)u->probs.pick < a->n ? (size_t)u->probs.pick : a->n - 1;
    char title[128], lab[64];
    size_t end = k + 1 < a->n ? a->off[k + 1] : t->len;
    char text[48];
    size_t tl = end - a->off[k] < sizeof text - 1 ? end - a->off[k] : sizeof text - 1;
    memcpy(text, t->text + a->off[k], tl);
    text[tl] = '\0';
    snprintf(title, sizeof title, "%sToken %zu/%zu \xc2\xab%s\xc2\xbb",
             u->ab.shown ? (u->ab.side ? "B: " : "A: ") : "", k + 1, a->n, text);
    ui_put_text(w, 0, x0, title, TS_TITLE, width);
    /* what each active stage kept, in chain order ("kept k 40›p 7›min 7›T 7"), when
     * the answer recorded them */
    int y0 = 1;
    if (a->n_stages && a->n_stages[k] > 0) {
        char line[256];
        size_t n = 0;
        for (int i = 0; i < a->n_stages[k] && n < sizeof line; i++) {
            const nt_sampler_stage_info *st = &a->stages[k][i];
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %d", i ? "\xe2\x80\xba" : "kept ",
                                  stage_label(st->stage, true), (int)st->kept);
        }
        ui_put_text(w, y0++, x0, line, TS_DIM, width);
    }
    if (u->server && a->n_cand[k] == 0) {
        /* A server that returns no logprobs: nothing to show, and the view says why. */
        static const char *const why[] = {"the server sent no", "probabilities for this",
                                          "piece (no logprobs)"};
        for (int i = 0; i < 3 && y0 + i < u->probs.h - (u->side ? 0 : 1); i++)
            ui_put_text(w, y0 + i, x0, why[i], TS_DIM, width);
        return;
    }
    ui_put_text(w, y0, x0, u->server ? "candidate    server's %"
                                     : "candidate    before \xe2\x86\x92 after", TS_DIM, width);
    for (int i = 0; i < a->n_cand[k] && i + y0 + 1 < u->probs.h - (u->side ? 0 : 1); i++) {
        const nt_sampler_cand *c = &a->cand[k][i];
        token_label(u->tok, c->id, a->ctext ? a->ctext[k][i] : NULL, lab, sizeof lab);
        char row[160];
        if (u->server) /* the server's distribution: one number, no chain here */
            snprintf(row, sizeof row, "%5.1f%%", 100.0 * c->p_after);
        else
            snprintf(row, sizeof row, "%5.1f%% \xe2\x86\x92 %5.1f%%", 100.0 * c->p_before,
                     100.0 * c->p_after);
        int y = i + y0 + 1;
        int st = c->p_after > 0 ? TS_TEXT : TS_DIM;
        ui_put_text(w, y, x0, "\xc2\xab", TS_DIM, 1);
        int lw = ui_put_text(w, y, x0 + 1, lab, st, 9);
        ui_put_text(w, y, x0 + 1 + lw, "\xc2\xbb", TS_DIM, 1);
        int rx = x0 + 12;
        int rw = ui_put_text(w, y, rx, row, st, width - 12);
        /* A bar for the probability after the chain, where room is left. */
        int bw = width - 12 - rw - 1;
        if (bw > 0) {
            int fill = (int)lround(c->p_after * bw);
            for (int b = 0; b < fill; b++)
                ui_put_text(w, y, rx + rw + 1 + b, "\xe2\x96\x87", TS_PROBS, 1);
        }
    }
}
