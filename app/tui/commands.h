/* commands.h — the one table of natter's /commands and key bindings.
 *
 * COMMAND_LIST is an X-macro: each row gives the command's id, its /name (NULL for actions that
 * only have keys), the argument hint, the context its keys work in, up to two keys, the key
 * label shown to people, flags and the help text. From it come the command enum, the name and
 * key look-ups, the help screen and (by hand, kept in step) the KEYS and COMMANDS sections of
 * man/natter.1. The actions themselves live in app/tui/actions.c, one function per row (they
 * need the conversation); this module has no terminal code and is testable.
 *
 * Key codes: bytes 0..255 stand for themselves (control keys as their byte: 3 is Ctrl-C);
 * special keys parsed by app/tui/input.c from the terminal's escape sequences are the KEY_*
 * values below (above every byte value).
 */
#ifndef NATTER_COMMANDS_H
#define NATTER_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

enum cmd_key {
    CK_NONE = 0,
    CK_CTRL_C = 3,
    CK_CTRL_D = 4,
    CK_TAB = 9,
    CK_CTRL_J = 10,
    CK_CTRL_L = 12,
    CK_CTRL_Z = 26,
    CK_ENTER = 13,
    CK_ESC = 27,
    CK_SPECIAL_ = 0x200, /* special keys from here on */
    CK_UP, CK_DOWN, CK_LEFT, CK_RIGHT,
    CK_S_UP, CK_S_DOWN, CK_S_LEFT, CK_S_RIGHT, /* with Shift */
    CK_A_UP, CK_A_DOWN, CK_A_LEFT, CK_A_RIGHT, /* with Alt */
    CK_HOME, CK_END, CK_PGUP, CK_PGDN, CK_INSERT, CK_DELETE,
    CK_ALT_ENTER,
    CK_F1, CK_F2, CK_F3, CK_F4, CK_F5, CK_F6, CK_F7, CK_F8, CK_F9, CK_F10, CK_F11, CK_F12,
    CK_COUNT_
};

/* Where a binding applies: everywhere, or only while the sampling panel has the focus. */
enum cmd_ctx { CMD_CTX_ANY, CMD_CTX_PANEL };

enum cmd_flags {
    CMD_F_ARGS = 1 << 0,    /* the /command takes the rest of the line as its argument */
    CMD_F_PLANNED = 1 << 1, /* reserved for a later version: says so when used */
    CMD_F_IDLE = 1 << 2     /* only when no answer is being generated */
};

/* clang-format off */
#define COMMAND_LIST(X) \
    /* id            name        args          ctx            key         key2        label               flags                    help */ \
    X(HELP,          "help",     "",           CMD_CTX_ANY,   CK_F1,      0,          "F1",               0,                       "show this help") \
    X(REGEN,         "regen",    "",           CMD_CTX_ANY,   CK_F5,      0,          "F5",               CMD_F_IDLE,              "answer the last question again (new seed; the old answer stays)") \
    X(EDIT,          "edit",     "",           CMD_CTX_ANY,   CK_F7,      0,          "F7",               CMD_F_IDLE,              "take the last question back into the input line (the old one stays)") \
    X(BRANCH_PREV,   NULL,       "",           CMD_CTX_ANY,   CK_A_UP,    0,          "Alt-Up",           CMD_F_IDLE,              "show the previous alternative of the last message that has several") \
    X(BRANCH_NEXT,   NULL,       "",           CMD_CTX_ANY,   CK_A_DOWN,  0,          "Alt-Down",         CMD_F_IDLE,              "show the next alternative of the last message that has several") \
    X(UNDO,          "undo",     "",           CMD_CTX_ANY,   CK_F8,      0,          "F8",               CMD_F_IDLE,              "remove the last question and its answers") \
    X(CLEAR,         "clear",    "",           CMD_CTX_ANY,   0,          0,          "",                 CMD_F_IDLE,              "forget the conversation (the system prompt stays)") \
    X(SYSTEM,        "system",   "TEXT",       CMD_CTX_ANY,   0,          0,          "",                 CMD_F_ARGS | CMD_F_IDLE, "set the system prompt; without TEXT, show it") \
    X(SET,           "set",      "NAME [VALUE]", CMD_CTX_ANY, 0,          0,          "",                 CMD_F_ARGS,              "set a sampling parameter: temp, top-k, top-p, min-p, repeat-penalty, max-tokens, seed, ...; without VALUE, show it") \
    X(QUIT,          "quit",     "",           CMD_CTX_ANY,   0,          0,          "",                 0,                       "leave natter (the keys: Ctrl-C twice at an idle prompt, or Ctrl-D twice on an empty line)") \
    X(PERSONA,       "persona",  "[NAME]",     CMD_CTX_ANY,   0,          0,          "",                 CMD_F_ARGS | CMD_F_IDLE, "switch persona (prompts/NAME.yaml or a file): starts a new conversation, asking first if it is unsaved; without NAME, show the current one") \
    X(THEME,         "theme",    "[NAME]",     CMD_CTX_ANY,   0,          0,          "",                 CMD_F_ARGS,              "switch colour theme (themes/NAME.yaml or a file); without NAME, show the current one") \
    X(SAVE,          "save",     "[NAME]",     CMD_CTX_ANY,   0,          0,          "",                 CMD_F_ARGS,              "save the conversation now (to the sessions folder, or as NAME); autosaves go there from then on") \
    X(LOAD,          "load",     "NAME",       CMD_CTX_ANY,   0,          0,          "",                 CMD_F_ARGS | CMD_F_IDLE, "load a saved session in place of the conversation and read it back into the model") \
    X(SESSIONS,      "sessions", "",           CMD_CTX_ANY,   0,          0,          "",                 0,                       "list the saved sessions (date, model, turns, first question)") \
    X(EXPORT,        "export",   "[FILE] [json]", CMD_CTX_ANY, 0,         0,          "",                 CMD_F_ARGS,              "write the conversation as Markdown (md, the default) or as JSON chat messages (json, or a FILE ending in .json); a reasoning model's thinking is left out unless 'thinking' follows") \
    X(REPLAY,        "replay",   "NAME",       CMD_CTX_ANY,   0,          0,          "",                 CMD_F_ARGS | CMD_F_IDLE, "play a saved session back, regenerating each answer and saying whether it matched") \
    X(MODEL,         "model",    "[NAME]",     CMD_CTX_ANY,   0,          0,          "",                 CMD_F_ARGS | CMD_F_IDLE, "switch model (a file, or a name natter models lists): asks whether to keep the conversation, read into the new model, or start a new one; without NAME, show the current one") \
    X(THINK,         "think",    "[on | off]", CMD_CTX_ANY,   0,          0,          "",                 CMD_F_ARGS,              "switch the model's thinking on or off for the next answers, where its template has a switch (Qwen3's enable_thinking); without an argument, show it") \
    X(PROMPT,        "prompt",   "[ids | off]", CMD_CTX_ANY,  0,          0,          "",                 CMD_F_ARGS,              "show the prompt as the model sees it: each part's tokens (system, documents, examples, each turn), the templated text with control tokens marked; ids: every token's id and piece; it follows the conversation until closed (off)") \
    X(COPY,          "copy",     "[N | code [K]]", CMD_CTX_ANY, 0,        0,          "",                 CMD_F_ARGS,              "copy the last answer (or answer N, or its K-th code block) to the clipboard through the terminal (OSC 52), or into a file when the terminal takes no clipboard writes") \
    X(STATS,         "stats",    "",           CMD_CTX_ANY,   0,          0,          "",                 0,                       "speeds of the last answer and of the session: time to the first token, prompt and generation tokens/s, tokens reused from the cache; the context used") \
    X(DOCS,          "docs",     "[add|list|drop PATH]", CMD_CTX_ANY, 0, 0,        "",                 CMD_F_ARGS,              "answer from documents: add a file or folder, list them, drop one") \
    X(AB,            "ab",       "[A] B",      CMD_CTX_ANY,   0,          0,          "",                 CMD_F_ARGS | CMD_F_IDLE, "answer the last question twice, side by side: A and B are NAME=VALUE lists (temp=0.2,top-k=5), strategies (greedy, beam-4, ...) or personas; one: the sliders against it; a or b keeps one, both stay") \
    X(SOURCES,       "sources",  "",           CMD_CTX_ANY,   0,          0,          "",                 0,                       "show the passages of the last answer (files, lines, scores)") \
    X(BRANCH,        "branch",   "[N]",        CMD_CTX_ANY,   0,          0,          "",                 CMD_F_ARGS | CMD_F_IDLE, "show alternative N of the last message that has several (marked \xe2\x80\xb9" "2/3\xe2\x80\xba); without N, list where the conversation branches") \
    X(STOP,          NULL,       "",           CMD_CTX_ANY,   CK_ESC,     CK_CTRL_C,  "Esc, Ctrl-C",      0,                       "stop the answer being generated; what was written stays") \
    X(NEWLINE,       NULL,       "",           CMD_CTX_ANY,   CK_ALT_ENTER, CK_CTRL_J, "Alt-Enter, Ctrl-J", 0,                      "insert a newline (multi-line question; pasted text keeps its lines)") \
    X(SCROLL_UP,     NULL,       "",           CMD_CTX_ANY,   CK_PGUP,    0,          "PgUp, wheel",      0,                       "scroll the history up") \
    X(SCROLL_DOWN,   NULL,       "",           CMD_CTX_ANY,   CK_PGDN,    0,          "PgDn, wheel",      0,                       "scroll the history down") \
    X(SCROLL_TOP,    NULL,       "",           CMD_CTX_ANY,   CK_HOME,    0,          "Home",             0,                       "go to the top of the history (when the input line is empty)") \
    X(SCROLL_END,    NULL,       "",           CMD_CTX_ANY,   CK_END,     0,          "End",              0,                       "go to the end of the history and follow new output (input line empty)") \
    X(PANEL_FOCUS,   NULL,       "",           CMD_CTX_ANY,   CK_F2,      0,          "F2",               0,                       "move the focus to the sampling panel and back") \
    X(PANEL_TOGGLE,  NULL,       "",           CMD_CTX_ANY,   CK_F3,      0,          "F3",               0,                       "show or hide the sampling panel") \
    X(PROBS,         NULL,       "",           CMD_CTX_ANY,   CK_F4,      0,          "F4",               0,                       "show or hide the probabilities of the candidate tokens (a click on an answer's word picks its token)") \
    X(THINKING,      NULL,       "",           CMD_CTX_ANY,   CK_F9,      0,          "F9",               0,                       "unfold or fold the thinking of reasoning models (the <think> part of their answers)") \
    X(TOKEN_PREV,    NULL,       "",           CMD_CTX_ANY,   CK_A_LEFT,  0,          "Alt-Left",         0,                       "probabilities view: pick the previous token of the last answer") \
    X(TOKEN_NEXT,    NULL,       "",           CMD_CTX_ANY,   CK_A_RIGHT, 0,          "Alt-Right",        0,                       "probabilities view: pick the next token of the last answer") \
    X(RESET,         NULL,       "",           CMD_CTX_ANY,   CK_F6,      0,          "F6",               0,                       "reset every slider to the persona's values") \
    X(STRATEGY,      "strategy", "[NAME]",     CMD_CTX_ANY,   CK_F10,     0,          "F10",              CMD_F_ARGS,              "switch decoding strategy (F10: the next one): greedy, beam-4, precise, balanced, creative, mirostat or persona; mid-answer from the next token (beams: from the next answer)") \
    X(REDRAW,        NULL,       "",           CMD_CTX_ANY,   CK_CTRL_L,  0,          "Ctrl-L",           0,                       "redraw the screen") \
    X(SUSPEND,       NULL,       "",           CMD_CTX_ANY,   CK_CTRL_Z,  0,          "Ctrl-Z",           0,                       "suspend natter (the shell's fg brings it back)") \
    X(SLIDER_PREV,   NULL,       "",           CMD_CTX_PANEL, CK_UP,      'k',        "Up, k",            0,                       "panel: previous slider") \
    X(SLIDER_NEXT,   NULL,       "",           CMD_CTX_PANEL, CK_DOWN,    'j',        "Down, j",          0,                       "panel: next slider") \
    X(SLIDER_DEC,    NULL,       "",           CMD_CTX_PANEL, CK_LEFT,    'h',        "Left, h",          0,                       "panel: decrease by a fine step") \
    X(SLIDER_INC,    NULL,       "",           CMD_CTX_PANEL, CK_RIGHT,   'l',        "Right, l",         0,                       "panel: increase by a fine step") \
    X(SLIDER_DEC_BIG, NULL,      "",           CMD_CTX_PANEL, CK_S_LEFT,  'H',        "Shift-Left, H",    0,                       "panel: decrease by a coarse step") \
    X(SLIDER_INC_BIG, NULL,      "",           CMD_CTX_PANEL, CK_S_RIGHT, 'L',        "Shift-Right, L",   0,                       "panel: increase by a coarse step") \
    X(SLIDER_RESET,  NULL,       "",           CMD_CTX_PANEL, 'r',        0,          "r",                0,                       "panel: reset every slider (as F6)") \
    X(PANEL_LEAVE,   NULL,       "",           CMD_CTX_PANEL, CK_TAB,     CK_ENTER,   "Tab, Enter",       0,                       "panel: give the focus back to the input line (Esc too)")
/* clang-format on */

enum cmd_id {
#define CMD_ENUM_(id, name, args, ctx, key, key2, label, flags, help) CMD_##id,
    COMMAND_LIST(CMD_ENUM_)
#undef CMD_ENUM_
    CMD_COUNT_
};

typedef struct cmd_info {
    const char *name;  /* /name without the slash, or NULL */
    const char *args;  /* argument hint, "" when none */
    enum cmd_ctx ctx;
    int key, key2;     /* enum cmd_key or a byte; 0 = none */
    const char *label; /* keys as shown to people, "" when none */
    int flags;         /* enum cmd_flags */
    const char *help;
} cmd_info;

/* The row of id (static storage). */
const cmd_info *commands_info(enum cmd_id id);

/* The action bound to key in ctx (panel bindings first when ctx is CMD_CTX_PANEL), or -1. */
int commands_find_key(enum cmd_ctx ctx, int key);

/* Parses a line starting with '/': "/set temperature 0.7" gives CMD_SET and *args pointing at
 * "temperature 0.7" inside line (leading spaces skipped; "" when none). Names may be
 * abbreviated to a unique prefix ("/he"). Returns the id, -1 for an unknown name, -2 for an
 * ambiguous prefix, -3 when arguments are given to a command that takes none. */
int commands_parse(const char *line, const char **args);

/* The help screen as malloc'd UTF-8 text (lines separated by '\n'); the caller frees it.
 * NULL on allocation failure. */
char *commands_help_text(void);

#endif
