/* theme.h — colour themes for natter's screen (themes/NAME.yaml).
 *
 * A theme gives every UI element a style: foreground and background colour, attributes, and
 * fallbacks for terminals with fewer colours. Colours are written as names (the 8 basic
 * colours, their bright- variants, default), 256-colour numbers or #rrggbb; theme_resolve
 * maps a style to what a terminal with N colours can show (nearest xterm-256 cube/grey entry,
 * nearest of 16, the 8 basic colours, or attributes only on a monochrome terminal).
 *
 * No ncurses here: the TUI turns the resolved numbers into colour pairs
 * (init_pair(pair, fg, bg) after use_default_colors(), where -1 means the terminal's default)
 * and THEME_ATTR_* into A_BOLD, A_UNDERLINE, A_REVERSE, A_DIM, A_ITALIC. */
#ifndef NATTER_THEME_H
#define NATTER_THEME_H

#include "util/yamlcfg.h"

#include <stdbool.h>
#include <stdint.h>

/* Every element a theme styles: X(enum suffix, YAML key, what it is for). The TUI's styles
 * (enum term_style in term.h) each take one element's colours; every element but text is
 * drawn by at least one of them (tests/test_theme.c checks). */
#define THEME_ELEMS(X)                                                           \
    X(TEXT, "text", "ordinary text and the window background")                   \
    X(USER, "user", "the user's messages")                                       \
    X(ASSISTANT, "assistant", "the model's answers")                             \
    X(SYSTEM, "system", "the system prompt and notices")                         \
    X(LABEL_USER, "label_user", "the label above the user's messages")           \
    X(LABEL_ASSISTANT, "label_assistant", "the label above the model's answers") \
    X(LABEL_SYSTEM, "label_system", "the label above the system prompt")         \
    X(BORDER, "border", "separator lines between the parts of the screen")       \
    X(TITLE, "title", "window and panel titles")                                 \
    X(SLIDER_TRACK, "slider_track", "the empty part of a sampling slider")       \
    X(SLIDER_FILL, "slider_fill", "the filled part of a sampling slider")        \
    X(SLIDER_KNOB, "slider_knob", "the knob of a sampling slider")               \
    X(STATUS, "status", "the status bar")                                        \
    X(STATUS_BUSY, "status_busy", "the status bar's state while working")        \
    X(CODE, "code", "code blocks in answers")                                    \
    X(INLINE_CODE, "inline_code", "`code` inside a line")                        \
    X(STRONG, "strong", "**bold** text in answers")                              \
    X(EMPHASIS, "emphasis", "*italic* text in answers")                          \
    X(HEADING, "heading", "headings in answers")                                 \
    X(SELECTION, "selection", "the selected item (the focused slider)")          \
    X(ERROR, "error", "error messages")                                          \
    X(WARNING, "warning", "warnings in the message line")                        \
    X(NOTE, "note", "notes in the message line and the history")                 \
    X(END, "end", "end notes such as [stopped]")                                 \
    X(MARK, "mark", "marks where a parameter changed during an answer")          \
    X(DIM, "dim", "secondary text: timings, hints, token counts")                \
    X(MORE, "more", "the \"more below\" indicator")                              \
    X(PROMPT, "prompt", "the input prompt sign")                                 \
    X(INPUT, "input", "the text typed in the input line")                        \
    X(PROBS, "probs", "the bars of the token-probability view")

enum theme_elem {
#define THEME_X_ENUM(e, key, doc) THEME_##e,
    THEME_ELEMS(THEME_X_ENUM)
#undef THEME_X_ENUM
    THEME_COUNT
};

/* A colour: THEME_DEFAULT (the terminal's own), 0..255 (terminal palette index) or
 * THEME_RGB(r, g, b). THEME_UNSET marks an absent optional fallback. */
typedef int32_t theme_color;
#define THEME_DEFAULT ((theme_color)-1)
#define THEME_UNSET ((theme_color)-2)
#define THEME_RGB(r, g, b) ((theme_color)(0x1000000 | ((r) << 16) | ((g) << 8) | (b)))
#define THEME_IS_RGB(c) ((c) >= 0x1000000)

enum theme_attr {
    THEME_ATTR_BOLD = 1 << 0,
    THEME_ATTR_UNDERLINE = 1 << 1,
    THEME_ATTR_REVERSE = 1 << 2,
    THEME_ATTR_DIM = 1 << 3,
    THEME_ATTR_ITALIC = 1 << 4
};

typedef struct theme_style {
    theme_color fg, bg;   /* as written */
    unsigned attrs;       /* THEME_ATTR_* */
    theme_color fg8, bg8; /* explicit colours for 8-colour terminals (0..7, default), or UNSET */
    unsigned mono;        /* attributes on a monochrome terminal (filled with a sensible
                             default per element when the file gives none) */
} theme_style;

/* A loaded theme. Strings are owned by it. */
typedef struct theme {
    char *name;        /* `name:`, or the file's base name */
    char *description; /* may be "" */
    char *path;        /* file it came from; "(built-in)" for the default */
    theme_style style[THEME_COUNT];
} theme;

/* The built-in default (identical to themes/dark.yaml). NULL only on allocation failure. */
theme *theme_builtin(void);
/* Loads and validates a theme file. name is what messages call the file (NULL: path).
 * Every problem is added to diag as `file:line:col: message` + source line + caret.
 * Returns NULL on any error. */
theme *theme_load(const char *path, const char *name, ycfg_diag *diag);
/* Finds a theme by name (or path) on the search path (yamlcfg.h) and loads it. */
theme *theme_open(const char *name, ycfg_diag *diag);
/* theme_open, or the built-in theme when name is NULL or the theme is missing or bad (the
 * errors are in diag so the UI can show them). NULL only on allocation failure. */
theme *theme_open_or_default(const char *name, ycfg_diag *diag);
void theme_free(theme *t);

const char *theme_elem_name(enum theme_elem e); /* "user", ... */
const char *theme_elem_doc(enum theme_elem e);
int theme_elem_from_name(const char *name);     /* enum value or -1 */
/* The style of an element (borrowed from t). */
const theme_style *theme_get(const theme *t, enum theme_elem e);

/* What the terminal should use for a style, given how many colours it has (ncurses' COLORS;
 * pass 0 when has_colors() is false): *fg and *bg get -1 (default) or a palette index below
 * ncolors, *attrs gets THEME_ATTR_*.
 *   >= 256 colours: indices kept, #rrggbb → nearest of the 6×6×6 cube and grey ramp (16..255)
 *   16..255:        → nearest of the 16 basic colours (xterm's palette)
 *   8..15:          fg8/bg8 when given, else the nearest of 16 with bright folded to its base
 *                   colour (a bright foreground adds bold; bright black becomes white)
 *   below 8:        no colours; attributes from the style's mono field.
 * When fg and bg end up equal (and not default), fg becomes default so text stays readable.
 * Returns 0. */
int theme_resolve(const theme_style *s, int ncolors, short *fg, short *bg, unsigned *attrs);

/* Colour helpers (exposed for tests and for `natter --list-themes`). */
void theme_palette_rgb(int index, uint8_t rgb[3]); /* xterm's RGB for 0..255 */
int theme_nearest256(uint8_t r, uint8_t g, uint8_t b); /* 16..255 */
int theme_nearest16(uint8_t r, uint8_t g, uint8_t b);  /* 0..15 */
/* Parses a colour as written in a theme ("bright-red", "214", "#ffaf00", "default").
 * Returns 0 or -1. */
int theme_parse_color(const char *s, theme_color *out);

/* Listing for --list-themes: base name, `name`, description and path of each theme found
 * (see ycfg_entry; ok is false when the file has errors). */
typedef ycfg_entry theme_entry;
int theme_list(theme_entry **out); /* count, or -1; free with theme_entries_free */
void theme_entries_free(theme_entry *v, int n);

#endif
