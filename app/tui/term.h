/* term.h — the one module that owns the terminal: ncurses setup and teardown, colours and
 * styles (8-colour, monochrome, NO_COLOR), mouse and bracketed-paste modes, resize and
 * signals.
 *
 * Signal handlers only write the signal's number to a self-pipe that the event loop poll()s
 * (term_signal_fd); fatal signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) restore the
 * terminal with async-signal-safe writes and re-raise. term_end runs on every normal exit path
 * (it is also registered with atexit) and may be called more than once.
 */
#ifndef NATTER_TERM_H
#define NATTER_TERM_H

#include <stdbool.h>
#include <stddef.h>

/* The styles views draw with. Each maps to colours when the terminal has them and to plain
 * attributes (bold, reverse, underline) when it has not or NO_COLOR is set. Values fit in 7
 * bits so they can serve as text_buf tags; TERM_HIGHLIGHT_BIT marks a picked token. */
enum term_style {
    TS_TEXT = 0,      /* answer text */
    TS_USER,          /* the user's text */
    TS_SYSTEM,        /* system prompt text */
    TS_LABEL_USER,
    TS_LABEL_ASSISTANT,
    TS_LABEL_SYSTEM,
    TS_CODE,          /* fenced code block */
    TS_INLINE_CODE,
    TS_BOLD,
    TS_ITALIC,
    TS_HEADING,
    TS_MARKER,        /* a live parameter change inside an answer */
    TS_END,           /* "[stopped]" and other end notes */
    TS_ERROR,         /* something failed */
    TS_NOTE,          /* the message line: what happened, for information */
    TS_STATUS,        /* status bar */
    TS_STATUS_BUSY,   /* the state while working */
    TS_TITLE,         /* panel titles */
    TS_TRACK,         /* slider track, empty part */
    TS_FILL,          /* slider track, filled part */
    TS_KNOB,
    TS_FOCUS,         /* the selected slider's label */
    TS_DIM,
    TS_MORE,          /* "more below" indicator */
    TS_PROMPT,
    TS_BORDER,        /* separator lines between the parts of the screen */
    TS_WARNING,       /* the message line when something needs attention but did not fail */
    TS_INPUT,         /* the text typed in the input line */
    TS_PROBS,         /* the bars of the probabilities view */
    TS_BACKGROUND,    /* blank cells of every window (the theme's text element) */
    TS_COUNT_
};
#define TERM_HIGHLIGHT_BIT 0x80

/* Sets the locale-dependent terminal up (call setlocale first). Returns 0, or -1 with a
 * message on stderr when the terminal cannot be used. */
int term_init(void);
/* Whether the terminal (TERM, from terminfo) can place the cursor, which the chat screen
 * needs. When not (TERM unset, unknown, dumb, hardcopy), false and the reason in why. */
bool term_can_address(char *why, size_t cap);
/* For the plain line-by-line chat, which leaves the terminal in its own modes: only the
 * signal self-pipe and handlers (SIGINT, SIGTERM, SIGHUP, SIGQUIT to the pipe; the fatal
 * ones and the model file's SIGBUS guard as term_init). Resize and Ctrl-Z keep their default
 * actions. Returns 0, or -1 with a message on stderr. */
int term_init_plain(void);
/* Restores the terminal (modes, cursor, screen). Safe to call twice and before term_init. */
void term_end(void);
/* Gives the terminal back and stops the process (SIGTSTP's default action); returns after
 * SIGCONT with natter's modes on again. The caller redraws everything. */
void term_suspend(void);
/* The read end of the self-pipe: readable when a signal arrived. */
int term_signal_fd(void);
/* Drains the self-pipe and returns the pending signals as a bit mask (1u << signo). */
unsigned term_take_signals(void);
/* Reads the new size from the tty and resizes ncurses' screen. */
void term_resize(void);
/* Whether the terminal takes clipboard writes (OSC 52): NATTER_CLIPBOARD=osc52 or =file says
 * so; inside tmux, its set-clipboard option is on; else a terminal known to take them
 * (kitty, foot, Alacritty, WezTerm, iTerm2, Ghostty, Windows Terminal). Plain xterm refuses
 * them by default, and others cannot be asked without waiting for a reply. */
bool term_clipboard_ok(void);
/* Puts n bytes on the clipboard through OSC 52 (base64: nothing of them reaches the screen).
 * False when out of memory or the write failed. */
bool term_clipboard_put(const char *s, size_t n);
/* Colours and attributes from theme t (borrowed: it must stay alive until the next call or
 * term_end; NULL = the built-in theme). Each style takes its theme element's style, resolved
 * for the terminal's colours (theme_resolve; monochrome and NO_COLOR use the mono
 * attributes). May be called before term_init or while active (colour pairs are set again;
 * the caller redraws everything). */
struct theme;
void term_set_theme(const struct theme *t);
/* The theme element (enum theme_elem) a style takes its colours from; needs no terminal. */
int term_style_elem(int style);
/* The curses attributes (colour pair included) of a style, highlight bit honoured. */
int term_attr(int style);
bool term_has_colour(void);

#endif
