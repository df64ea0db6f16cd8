/* ui.h — the screen: layout, the views and the state they draw.
 *
 * The screen, from the top: the chat history (with the sampling panel and the probabilities
 * view in a column on its right when the terminal is at least 80 columns wide, else above it),
 * a message line (1 to 6 rows, wrapping a long message), the input area (1 to 5 rows, growing
 * with the question) and the status bar.
 *
 * Views draw, handlers decide: the handlers (app/tui/tui.c, actions.c, tui_replay.c) change
 * the state below and OR the UI_R_* flags of what must be redrawn; ui_draw draws those parts
 * into their windows (wnoutrefresh each) and calls doupdate once. Drawing never changes the conversation; it only fills caches (wrapped
 * history lines) and records the geometry mouse clicks are checked against.
 */
#ifndef NATTER_UI_H
#define NATTER_UI_H

#include "conv/chat.h"
#include "conv/params.h"
#include "util/text.h"
#include "conv/worker.h"

#include <curses.h>
#include <stdbool.h>

#define UI_MIN_COLS 40
#define UI_MIN_ROWS 12
#define UI_SIDE_MIN_COLS 80 /* from here on the panel sits beside the history */
#define UI_SIDE_WIDTH 30
#define UI_INPUT_MAX_ROWS 5
#define UI_MSG_MAX_ROWS 6   /* a long message wraps onto this many rows, not cut at the edge */

enum ui_redraw {
    UI_R_HISTORY = 1 << 0,
    UI_R_PANEL = 1 << 1,
    UI_R_PROBS = 1 << 2,
    UI_R_INPUT = 1 << 3,
    UI_R_STATUS = 1 << 4,
    UI_R_MESSAGE = 1 << 5,
    UI_R_LAYOUT = 1 << 6, /* sizes changed: make the windows again, then draw everything */
    UI_R_ALL = 0x7F,
    UI_R_REPAINT = 1 << 7 /* the terminal's screen may hold anything (resize, Ctrl-L, fg) */
};

enum ui_state { UI_IDLE, UI_READING, UI_GENERATING, UI_STOPPED };

/* What the history's note says: something to read, or something that went wrong. */
enum ui_note_kind { UI_NOTE_INFO, UI_NOTE_ERROR };

/* The sliders of the sampling panel: the rows of the parameter table that have a step
 * (app/conv/params.h), in table order; ui_slider_of gives a parameter's slider. */
#define US_COUNT_ ((int)PARAM_N_SLIDERS)
/* Sliders the panel shows at once; it scrolls to keep the selected one in view. */
#define UI_PANEL_SLIDERS (US_COUNT_ < 8 ? US_COUNT_ : 8)

/* What the UI remembers about each answer beyond the chat's turn (indexed like the turns):
 * where each token starts in the text, its candidates and the chain's stages. */
typedef struct ui_answer {
    size_t *off;           /* off[i]: byte offset of token i in the turn's text */
    nt_sampler_cand (*cand)[10];
    uint8_t *n_cand;
    nt_sampler_stage_info (*stages)[NT_STAGE_COUNT]; /* what each active stage kept */
    uint8_t *n_stages;
    char (*ctext)[GEN_N_CAND][GEN_CAND_TEXT]; /* a remote answer: the candidates' texts as
                                                the server sent them; NULL for a local one */
    size_t n, cap;
} ui_answer;

/* The wrapped lines of one turn, kept until the turn or the width changes. */
typedef struct ui_turn_cache {
    bool valid;
    size_t len, n_changes;
    int width;
    int hl;                /* highlighted token index, -1 none */
    bool complete, busy;
    bool thinking_shown;   /* ui_history_view.show_thinking when rendered */
    unsigned beam_gen;     /* ui.beam_gen when rendered */
    size_t alt_n, alt_k;   /* the turn's alternatives and which one it is (chat_alternatives)
                              when rendered: its label shows them */
    text_buf buf;
    size_t *src;           /* src[i]: offset in the turn's text that buf byte i shows, or
                              UI_NO_SRC (labels, marks, notes) */
    size_t src_cap;
    text_line *lines;
    size_t n_lines, cap;
    size_t flush_line;     /* a line after the first that starts a new block (drawn at column
                              0: the greeting's label in slot 0); 0 = none */
} ui_turn_cache;

#define UI_NO_SRC ((size_t)-1)

/* What the history shows on one screen row (filled by the history view for mouse clicks). */
typedef struct ui_row {
    int slot;  /* cache slot (0 = system prompt, i + 1 = turn i), -1 = none */
    int line;  /* wrapped line of that slot */
} ui_row;

/* Each view's own state: what it shows beyond the conversation, its window and geometry
 * (filled by ui_layout) and its caches (filled by its draw). */

/* The chat history (view_history.c), with the system note at its end. */
typedef struct ui_history_view {
    bool follow;                /* the history shows its end, following new output */
    int top;                    /* else: the wrapped history line shown on the first row (so
                                   output arriving below never moves the view) */
    WINDOW *win;
    int y, x, h, w;
    ui_turn_cache *cache;       /* n_cache slots: 0 = system prompt, i + 1 = turn i */
    size_t n_cache;
    ui_turn_cache note_cache;   /* the wrapped note */
    ui_row *rows_shown;         /* h entries */
    int n_rows_shown;
    int total;                  /* wrapped history lines at the last draw */
    bool show_thinking;         /* reasoning models' <think> sections unfolded (F9) */
} ui_history_view;

/* The sampling panel's sliders (view_panel.c). */
typedef struct ui_panel_view {
    bool shown, focus;
    int slider;                 /* the selected slider */
    int top;                    /* the first slider shown (scrolling) */
    int drag_slider;            /* slider being dragged with the mouse, -1 none */
    WINDOW *win;
    int y, x, h, w;
    int track_x, track_w;       /* slider track columns inside the panel (screen x) */
} ui_panel_view;

/* The probabilities of the candidate tokens (view_probs_draw). */
typedef struct ui_probs_view {
    bool shown;
    int pick;                   /* token picked for the view; -1 = the latest one */
    size_t pick_turn;           /* the answer it belongs to (valid when pick >= 0) */
    WINDOW *win;
    int y, x, h, w;
} ui_probs_view;

/* The input area (readline's line, drawn by input.c). */
typedef struct ui_input_view {
    WINDOW *win;
    int y, h;                   /* 1 to UI_INPUT_MAX_ROWS rows */
} ui_input_view;

/* The status bar: the model's state and speed, or a y/n question. */
typedef struct ui_status_view {
    enum ui_state state;
    int32_t progress_done, progress_total;
    double tok_per_sec;         /* of the current or last answer, 0 = unknown */
    int32_t n_gen_now;          /* tokens of the answer being generated */
    double gen_started;         /* monotonic seconds at its first token */
    int32_t n_past;             /* tokens in the KV cache */
    int32_t server_tokens;      /* a remote chat: the conversation's tokens as the server last
                                   counted them ("usage"), 0 = not reported */
    char ask[256];              /* a y/n question shown instead of the status ("" = none) */
    WINDOW *win;
} ui_status_view;

/* The message line: one row, or more while a message too long for one is shown (wrapped
 * at words, so an error keeps its reason). */
typedef struct ui_message_view {
    char text[512];
    int style;                  /* enum term_style */
    WINDOW *win;
    int h;                      /* rows, 1 to UI_MSG_MAX_ROWS (ui_layout) */
} ui_message_view;

/* The A/B view (view_ab.c), over the history: two answers to the same question, written
 * with two parameter sets, side by side (one above the other on a narrow screen). Both are
 * alternatives of the question in the chat's tree; the handlers (app/tui/tui_ab.c) fill this. */
#define UI_AB_NONE ((size_t)-1)
typedef struct ui_ab_view {
    bool shown;
    size_t node[2];             /* each side's answer in the chat's tree (chat_node_at),
                                   UI_AB_NONE until it starts */
    char label[2][96];          /* what each side was written with ("temp=0.2", "greedy") */
    ui_answer rec[2];           /* each side's tokens and candidates once it is done (the
                                   side being written streams into ui.answers as usual) */
    int live;                   /* the side being written, -1 when none */
    int side;                   /* the side the probabilities view shows (Tab) */
    bool choosing;              /* both written: a key keeps one */
    int scroll;                 /* rows scrolled back from the sides' ends (PgUp/PgDn);
                                   0 follows the end, the part being written */
    int scroll_max;             /* the longer side's rows beyond its room (view_ab_draw) */
} ui_ab_view;

/* The help screen (over the history). */
typedef struct ui_help_view {
    bool shown;
    int scroll;                 /* first line shown */
    int max;                    /* its largest useful value, from the last draw */
    char *text;
    WINDOW *win;
} ui_help_view;

typedef struct ui {
    /* ---- the conversation and its settings (the state handlers change) ---- */
    chat *chat;                 /* borrowed */
    worker *worker;             /* borrowed */
    const nt_tokenizer *tok;       /* borrowed */
    const char *model_name;
    const char *server;         /* a remote chat's server, host[:port] (borrowed); NULL for a
                                   local model */
    const char *persona;        /* the persona's name (borrowed) */
    int32_t persona_tokens;     /* tokens its fixed part takes (status bar), 0 = unknown */
    char *note;                 /* a system note shown at the end of the history (a persona's
                                   or theme's errors, the /sessions list, the /replay view);
                                   owned, NULL = none (ui_set_note) */
    enum ui_note_kind note_kind; /* how the note is drawn */
    unsigned note_gen;          /* bumped by every ui_set_note (the plain chat writes it then) */
    bool rewrite;               /* ui_truncate ran since the plain chat last looked (it clears
                                   this): the turns from rewrite_from on changed */
    size_t rewrite_from;        /* the least n ui_truncate was given meanwhile */
    unsigned fixed_gen;         /* bumped when the system prompt, greeting or note change
                                   without their length changing: the history renders them
                                   again */
    nt_sampler_params params;      /* the sliders' values (live during an answer) */
    int32_t max_tokens;         /* <= 0 = until the context is full */
    nt_sampler_params base_params; /* what the reset key goes back to (the persona's values) */
    int32_t base_max_tokens;
    int strategy;               /* the strategy picker's last preset (param_presets index) */
    char *beam_text;            /* beam search's best beam so far (WEV_BEAM), shown in place of
                                   the answer being searched, marked provisional; NULL: none */
    int32_t beam_tokens;        /* its tokens */
    unsigned beam_gen;          /* bumped at each change of beam_text */
    worker_beam beams[WORKER_BEAM_ROWS]; /* the best live beams (WEV_BEAM), for the
                                   probabilities view while beam_text is set */
    int n_beams, beams_done;    /* live beams and finished answers at the last step */
    double best_done;           /* the best finished answer's score (-INFINITY: none) */
    ui_answer *answers;         /* one per turn (only answers use theirs) */
    size_t n_answers;

    /* ---- the views ---- */
    ui_history_view hist;
    ui_panel_view panel;
    ui_probs_view probs;
    ui_input_view input;
    ui_status_view status;
    ui_message_view msg;
    ui_help_view help;
    ui_ab_view ab;

    /* ---- the layout (ui_layout) ---- */
    int rows, cols;
    bool too_small;
    bool side;                  /* panel/probs column beside the history */
} ui;

/* Zero-initialises u (the caller fills chat, worker, names and parameters). */
void ui_init(ui *u);
/* Frees windows, caches and the per-answer records (not the chat or the worker). */
void ui_free(ui *u);
/* Deletes the screen's windows (ui_free does too); call before term_end, whose delscreen frees
 * every window, so that ui_free never deletes a freed one (valgrind found that). */
void ui_del_windows(ui *u);
/* Computes the layout for the current screen size and makes the windows. */
void ui_layout(ui *u);
/* Draws what flags say (UI_R_LAYOUT lays out first and draws everything), one doupdate. */
void ui_draw(ui *u, int flags);

/* The answer turn and token shown at screen cell (y, x) of the history, for a click: returns
 * true and fills *turn and *token when the cell shows a token of an answer. */
bool ui_history_token_at(const ui *u, int y, int x, size_t *turn, int *token);
/* History geometry helpers for the handlers. */
int ui_history_page(const ui *u);            /* lines a page scroll moves */
/* Scrolls the history up by lines (down when negative), from the geometry of the last draw;
 * reaching the end follows new output again. */
void ui_history_scroll(ui *u, int lines);
void ui_history_top(ui *u);
/* The per-answer record of turn i, grown on demand; NULL on allocation failure. */
ui_answer *ui_answer_at(ui *u, size_t i);
/* For answer i of the chat that was not streamed here (a loaded session): each token's byte
 * offset in its text, from its recorded ids decoded as the worker decodes them, so marks and
 * clicks land on their token. No candidates (the probabilities were not recorded). */
void ui_answer_rebuild(ui *u, size_t i);
/* Replaces the history's system note (text copied; NULL or "" removes it). kind chooses its
 * style: UI_NOTE_INFO (the theme's note style) for lists and views such as /sessions and
 * /replay, UI_NOTE_ERROR (the error style) only for problems: a file that cannot be used, a
 * save that failed. */
void ui_set_note(ui *u, enum ui_note_kind kind, const char *text);
/* Removes the note (ui_set_note with no text). */
void ui_clear_note(ui *u);
/* Forgets records and caches of turns from index n on (after undo, edit, regen, clear, a
 * branch switch), and notes that they changed (rewrite). */
void ui_truncate(ui *u, size_t n);

/* Slider access (view_panel.c). */
const char *ui_slider_name(int s);
double ui_slider_get(const ui *u, int s);
/* Sets slider s to v (clamped and rounded to its fine step). */
void ui_slider_set(ui *u, int s, double v);
/* Moves slider s by steps fine steps (coarse when coarse is true). */
void ui_slider_step(ui *u, int s, int steps, bool coarse);
/* The slider value for a click at screen column x on its track. */
double ui_slider_value_at(const ui *u, int s, int x);
/* Which slider's row is at screen row y, or -1. */
int ui_slider_at_row(const ui *u, int y);
/* The slider of parameter id, or -1 when it has none. */
int ui_slider_of(enum param_id id);

/* Drawing entry points of the view files. */
void view_history_draw(ui *u);
void view_panel_draw(ui *u);
void view_probs_draw(ui *u);
void view_ab_draw(ui *u);
/* The answer turn and record the probabilities view shows for the A/B view's side s (NULL
 * when that side has none yet). */
const chat_turn *ui_ab_turn(const ui *u, int s, const ui_answer **rec);
/* Frees the record's arrays and zeroes it. */
void ui_answer_free(ui_answer *a);
/* Gives the record's arrays room for cap tokens (cap >= a->n; server: with the candidates'
 * texts). On allocation failure the room stays as it was (a record that cannot grow keeps its
 * first tokens). cap 0 frees them. */
void ui_answer_resize(ui_answer *a, size_t cap, bool server);
/* A short description of what changed between two parameter sets ("temp 1.20"), into buf. */
void view_describe_change(const nt_sampler_params *a, const nt_sampler_params *b, char *buf,
                          size_t cap);

/* Draws s (sanitised UTF-8 with per-byte style tags, or tags NULL with one style) into win
 * at (y, x), at most maxw columns, placing every character at the column text.c computed
 * (so ncurses' idea of widths cannot shift the line). Returns the columns used. */
int ui_put(WINDOW *win, int y, int x, const char *s, const uint8_t *tags, size_t n, int style,
           int maxw);
/* Same for raw text (sanitised on the way). */
int ui_put_text(WINDOW *win, int y, int x, const char *s, int style, int maxw);

#endif
