/* input.h — keyboard, mouse and paste input, and GNU readline in callback mode.
 *
 * natter reads stdin's bytes itself (poll() says when) and cuts them into events: keys (a byte,
 * or a special key decoded from its escape sequence, keeping the raw bytes so that keys natter
 * does not bind go to readline unchanged), SGR mouse reports and bracketed pastes. A lone ESC is
 * ambiguous until a short time has passed: input_has_partial() says the caller should poll
 * with a short timeout and then call input_next with timed_out = true.
 *
 * Readline runs in callback mode (the "rlncurses" technique): it never touches the terminal;
 * natter feeds it bytes (input_to_readline), readline calls back when a line is accepted, and
 * natter draws the line itself from input_line()/input_point()/input_prompt(). Readline state
 * is global, so this module is a singleton used by the UI thread only.
 */
#ifndef NATTER_INPUT_H
#define NATTER_INPUT_H

#include <stdbool.h>
#include <stddef.h>

enum input_ev_kind { IEV_KEY, IEV_MOUSE, IEV_PASTE };
enum input_mouse { IM_PRESS, IM_DRAG, IM_RELEASE, IM_WHEEL_UP, IM_WHEEL_DOWN };

typedef struct input_event {
    enum input_ev_kind kind;
    int key;             /* KEY: a byte or an enum cmd_key (app/tui/commands.h) */
    char raw[32];        /* KEY: the bytes as received, for readline */
    int n_raw;
    enum input_mouse mouse; /* MOUSE: what happened, at 0-based column x, row y */
    int x, y, button;
    const char *text;    /* PASTE: the pasted bytes, valid until the next input_next call */
    size_t len;
} input_event;

/* Appends bytes read from stdin to the parser's buffer. */
void input_feed(const char *bytes, size_t n);
/* Takes the next event. Returns false when the buffer is empty or ends in an incomplete
 * sequence; with timed_out an incomplete sequence is taken as it is (ESC alone → CK_ESC). */
bool input_next(input_event *ev, bool timed_out);
/* True when the buffer holds the start of an unfinished sequence (wait a little). */
bool input_has_partial(void);
/* True when the buffer holds exactly one ESC byte (most likely the Esc key). */
bool input_lone_esc(void);

/* Starts readline in callback mode with the prompt "> ", reads the history file (created with
 * its folder if absent; NULL = no history). Returns 0 or -1. */
int input_init(const char *history_path);
/* Saves the history (trimmed to its last 1000 entries) and removes the callback handler. */
void input_free(void);
/* Feeds bytes to readline (they may hold whole key sequences). */
void input_to_readline(const char *bytes, size_t n);
/* Inserts text at the cursor as it is (pasted text, a newline). */
void input_insert(const char *text, size_t n);
/* Replaces the whole line (for /edit). */
void input_set_line(const char *text);
/* The current line, the cursor as a byte offset into it, and the prompt readline wants shown
 * (the normal "> " or its search prompt), without invisible-character markers. Borrowed. */
const char *input_line(void);
size_t input_point(void);
const char *input_prompt(void);
/* True once after readline asked for a redisplay (the line or the cursor changed). */
bool input_take_dirty(void);
/* An accepted line (malloc'd, the caller frees; added to the history) or NULL. *eof is set
 * when readline reported end of input (Ctrl-D on an empty line). */
char *input_take_line(bool *eof);
/* True when readline is in vi editing mode (Esc means something to it). */
bool input_vi_mode(void);
/* Tells readline the screen width (after a resize). */
void input_resize(int rows, int cols);
/* Default history file: $XDG_STATE_HOME/natter/history or ~/.local/state/natter/history, in a
 * static buffer; NULL when neither variable is usable. */
const char *input_history_path(void);

#endif
