/* text.h — UTF-8 decoding for the whole app, and display width, sanitising and word wrapping
 * for the terminal UI.
 *
 * The one UTF-8 decoder: every part of natter that reads UTF-8 (the screen, the JSON and YAML
 * readers' columns, session files, tokenize's listing, the stop-string filter) asks text_next
 * or the helpers beside it, so "valid" means one thing everywhere: RFC 3629 (no overlong
 * forms, no surrogates U+D800..U+DFFF, nothing past U+10FFFF, no truncated sequences).
 *
 * Everything natter draws goes through here first. Text from the model or the user is
 * "sanitised" into a styled buffer: invalid UTF-8 becomes U+FFFD, control characters become
 * visible Unicode control pictures (ESC → ␛ U+241B, DEL → ␡, other C0 → U+2400+c, C1 → U+FFFD)
 * so that an escape sequence in model output is shown, never obeyed; a tab becomes spaces.
 * After that every code point has a display width of 0 (combining marks, zero-width joiners,
 * variation selectors), 1 or 2 (wide CJK, emoji), taken from utf8proc. The wrapper then cuts
 * the buffer into lines of at most a given width. No terminal code lives here: it is unit-tested
 * by tests/test_text.c.
 */
#ifndef NATTER_TEXT_H
#define NATTER_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TEXT_TAB_WIDTH 4 /* a tab becomes this many spaces */

/* Decodes the UTF-8 sequence at s[0..n) (n >= 1): returns its length (1..4) with *cp, or -1
 * with *cp = U+FFFD when s does not start with a valid sequence (invalid, overlong, surrogate,
 * out of range or truncated). A real U+FFFD in the text is valid (3 bytes). */
int text_next(const char *s, size_t n, int32_t *cp);
/* The same for display: an invalid sequence consumes one byte and gives U+FFFD. Returns the
 * bytes consumed (1..4). */
int text_decode(const char *s, size_t n, int32_t *cp);
/* True when s[0..n) is all valid UTF-8. */
bool text_valid(const char *s, size_t n);
/* The length a sequence led by byte c announces: 2, 3 or 4 for a lead byte, 1 for ASCII and
 * for bytes that lead nothing (continuation bytes, 0xF8..0xFF). */
int text_lead_len(unsigned char c);
/* True for a continuation byte (10xxxxxx): counting the other bytes counts characters. */
static inline bool text_is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}
/* Writes s[0..n) to f as one visible, unambiguous field for a listing: backslash, newline,
 * tab and CR as \\ \n \t \r, other control bytes and bytes that are not UTF-8 as \xNN, C1
 * controls as \uNNNN, a double quote as \" when quoted (the field is printed in quotes);
 * the rest as it is. Nothing in s can drive the terminal. */
void text_fput_escaped(FILE *f, const char *s, size_t n, bool quoted);
/* The one rule for every byte natter writes to a terminal outside the chat screen (messages,
 * listings, natter info, exports to a terminal): s[0..n) is written sanitised exactly as the
 * screen shows it (text_buf_put with newlines kept: ESC → ␛, other controls → their pictures,
 * broken UTF-8 → U+FFFD, a tab → spaces). A file, a model or a card can then never set the
 * title, clear the screen or reach the clipboard through a message that quotes it. */
void text_fput(FILE *f, const char *s, size_t n);
/* printf through text_fput: the whole formatted line is sanitised, so every %s argument taken
 * from a file is covered without each caller remembering to. Returns the formatted length
 * (before sanitising), or -1 when out of memory (nothing is written then). */
int text_printf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Characters in s[0..n), counted as the bytes that are not continuation bytes (a column in a
 * line of possibly broken text). */
size_t text_chars(const char *s, size_t n);
/* Encodes cp as UTF-8 into out (4 bytes room); returns the length (1..4). */
int text_encode(int32_t cp, char *out);

/* True for code points that must never reach the terminal as they are (C0, DEL, C1). */
bool text_is_control(int32_t cp);
/* The visible stand-in for a control code point (␛ for ESC, ␡ for DEL, U+FFFD for C1...). */
int32_t text_control_picture(int32_t cp);

/* Display width of a printable (sanitised) code point: 0, 1 or 2. Control characters give 1
 * (the width of their picture). */
int text_cp_width(int32_t cp);
/* Display width of a sanitised UTF-8 string s[0..n) ('\n' counts 0). */
int text_width(const char *s, size_t n);

/* A growable UTF-8 buffer with one style tag per byte. Zero-initialise; free with
 * text_buf_free. s is always NUL-terminated when n > 0 or after any append. */
typedef struct text_buf {
    char *s;
    uint8_t *tag; /* tag[i] styles byte s[i] */
    size_t n, cap;
} text_buf;

void text_buf_free(text_buf *b);
void text_buf_clear(text_buf *b); /* n = 0, keeps the memory */
/* Appends raw bytes as they are (the caller knows they are safe). 0 or -1 (no memory). */
int text_buf_put_raw(text_buf *b, const char *s, size_t n, uint8_t tag);
/* Appends s[0..n) sanitised (see the top of this file); newlines are kept when keep_nl, else
 * shown as ␊. 0 or -1 (no memory). */
int text_buf_put(text_buf *b, const char *s, size_t n, uint8_t tag, bool keep_nl);

/* One wrapped line: bytes [start, end) of the wrapped text, and its display width. */
typedef struct text_line {
    size_t start, end;
    int width;
} text_line;

enum text_wrap_mode {
    TEXT_WRAP_WORDS, /* break after spaces when possible; spaces at a break are dropped */
    TEXT_WRAP_CHARS  /* break anywhere (between characters); every byte belongs to a line */
};

/* The k-th (1-based) fenced code block of the Markdown text: *start and *len get its lines
 * between the fences, without the newline before the closing one (a block left open runs to
 * the end). False when there are fewer. */
bool text_code_block(const char *text, int k, size_t *start, size_t *len);

/* An answer split into "thinking | answer". Reasoning models (Qwen3, DeepSeek R1, ...) open
 * their answer with <think>...</think>; the chat screen folds that part, exports leave it out
 * unless asked, and every place that tells the two apart asks text_think_split, so they agree.
 * Offsets are into the text split. */
typedef struct text_think {
    size_t end;          /* where the answer proper starts: after "</think>" and the spaces and
                            newlines that follow it; the whole length while the thinking is
                            still open; 0 when the text does not open with <think> */
    size_t in_a, in_b;   /* the thoughts between the tags, without surrounding blanks */
    bool closed;         /* "</think>" was found */
} text_think;
/* Splits s[0, len): leading spaces and newlines, then "<think>", make a thinking part. */
void text_think_split(const char *s, size_t len, text_think *out);
/* Wraps sanitised text s[0..n) to lines of at most width columns (width >= 1) and appends them
 * to *lines (a realloc'd array of *n_lines entries, *cap allocated; start all at 0/NULL; the
 * caller frees *lines). '\n' ends a line (it belongs to no line). Words longer than the width
 * are cut between characters; a wide character never straddles the edge; combining marks stay
 * with their base. Empty text gives one empty line. Returns the number of lines added, or -1
 * when out of memory. */
int text_wrap(const char *s, size_t n, int width, enum text_wrap_mode mode, text_line **lines,
              size_t *n_lines, size_t *cap);

/* Row and column of byte offset pos inside wrapped text (TEXT_WRAP_CHARS lines). A position at
 * the end of a full line that continues on the next one is placed at the next line's start. */
void text_cursor(const char *s, const text_line *lines, size_t n_lines, size_t pos, int *row,
                 int *col);

#endif
