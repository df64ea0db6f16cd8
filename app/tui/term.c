/* term.c — terminal setup and teardown, styles, resize and signals. See term.h.
 *
 * Input is not read through ncurses: app/tui/input.c reads stdin's bytes itself so that readline
 * sees the real key sequences (its inputrc bindings, vi mode) and natter can catch mouse
 * reports and bracketed paste. ncurses is used for output only. */
#include "term.h"
#include "util/text.h"
#include "conv/mapguard.h"
#include "theme.h"
#include "util/strbuf.h"

#include <curses.h>
#include <term.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* Mouse: button events with motion while pressed (1002) in SGR encoding (1006); bracketed
 * paste (2004). Turned off in reverse order. */
#define TERM_MODES_ON "\033[?1002h\033[?1006h\033[?2004h"
#define TERM_MODES_OFF "\033[?2004l\033[?1006l\033[?1002l"

static struct {
    bool active;
    bool colour;
    SCREEN *screen;
    struct termios saved;  /* the tty modes before we started, for the crash path */
    bool have_saved;
    int pipe_rd, pipe_wr;
    char leave[256];       /* bytes that undo our modes, written by the fatal handler */
    size_t leave_n;
    int attrs[TS_COUNT_];
    const theme *theme;    /* term_set_theme's (borrowed), NULL = builtin */
    theme *builtin;        /* theme_builtin(), made on first use */
} term = {.pipe_rd = -1, .pipe_wr = -1};

#ifndef A_ITALIC
#define A_ITALIC A_UNDERLINE
#endif

/* The theme element each style takes its colours from (theme.h lists the elements; the
 * built-in theme, identical to themes/dark.yaml, is the only colour table). */
static const enum theme_elem term_elem[TS_COUNT_] = {
    [TS_TEXT] = THEME_ASSISTANT,
    [TS_USER] = THEME_USER,
    [TS_SYSTEM] = THEME_SYSTEM,
    [TS_LABEL_USER] = THEME_LABEL_USER,
    [TS_LABEL_ASSISTANT] = THEME_LABEL_ASSISTANT,
    [TS_LABEL_SYSTEM] = THEME_LABEL_SYSTEM,
    [TS_CODE] = THEME_CODE,
    [TS_INLINE_CODE] = THEME_INLINE_CODE,
    [TS_BOLD] = THEME_STRONG,
    [TS_ITALIC] = THEME_EMPHASIS,
    [TS_HEADING] = THEME_HEADING,
    [TS_MARKER] = THEME_MARK,
    [TS_END] = THEME_END,
    [TS_ERROR] = THEME_ERROR,
    [TS_NOTE] = THEME_NOTE,
    [TS_STATUS] = THEME_STATUS,
    [TS_STATUS_BUSY] = THEME_STATUS_BUSY,
    [TS_TITLE] = THEME_TITLE,
    [TS_TRACK] = THEME_SLIDER_TRACK,
    [TS_FILL] = THEME_SLIDER_FILL,
    [TS_KNOB] = THEME_SLIDER_KNOB,
    [TS_FOCUS] = THEME_SELECTION,
    [TS_DIM] = THEME_DIM,
    [TS_MORE] = THEME_MORE,
    [TS_PROMPT] = THEME_PROMPT,
    [TS_BORDER] = THEME_BORDER,
    [TS_WARNING] = THEME_WARNING,
    [TS_INPUT] = THEME_INPUT,
    [TS_PROBS] = THEME_PROBS,
    [TS_BACKGROUND] = THEME_TEXT,
};

static int term_curses_attrs(unsigned a)
{
    int r = 0;
    if (a & THEME_ATTR_BOLD) r |= A_BOLD;
    if (a & THEME_ATTR_UNDERLINE) r |= A_UNDERLINE;
    if (a & THEME_ATTR_REVERSE) r |= A_REVERSE;
    if (a & THEME_ATTR_DIM) r |= A_DIM;
    if (a & THEME_ATTR_ITALIC) r |= A_ITALIC;
    return r;
}

static void term_on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (term.pipe_wr >= 0) (void)!write(term.pipe_wr, &b, 1);
    errno = saved;
}

/* Only async-signal-safe calls: write the saved "leave" bytes, restore the tty modes, then die
 * of the same signal with its default action. */
static void term_on_fatal(int sig)
{
    if (term.active) {
        (void)!write(STDOUT_FILENO, term.leave, term.leave_n);
        if (term.have_saved) tcsetattr(STDIN_FILENO, TCSAFLUSH, &term.saved);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void term_leave_add(const char *s)
{
    if (!s || s == (char *)-1) return;
    size_t n = strlen(s);
    if (term.leave_n + n > sizeof term.leave) return;
    memcpy(term.leave + term.leave_n, s, n);
    term.leave_n += n;
}

static void term_setup_styles(void)
{
    const char *nc = getenv("NO_COLOR");
    term.colour = has_colors() && !(nc && nc[0]);
    const theme *t = term.theme;
    if (!t && !term.builtin) term.builtin = theme_builtin();
    if (!t) t = term.builtin;
    bool dflt = false;
    if (term.colour) {
        start_color();
        dflt = use_default_colors() == OK;
    }
    /* The text element is the screen's own colour: a style that leaves its foreground or
     * background at the terminal's default takes text's instead, so a theme with a coloured
     * background (solarized-dark) is one surface rather than patches under each style. */
    short text_fg = -1, text_bg = -1;
    unsigned text_attrs = 0;
    if (t && term.colour) theme_resolve(theme_get(t, THEME_TEXT), COLORS, &text_fg, &text_bg, &text_attrs);
    for (int i = 0; i < TS_COUNT_; i++) {
        short fg = -1, bg = -1;
        unsigned attrs = 0;
        if (!t) { /* no memory for even the built-in theme: plain text */
            term.attrs[i] = 0;
            continue;
        }
        /* Without colours (monochrome, NO_COLOR) the theme's mono attributes apply. */
        theme_resolve(theme_get(t, term_elem[i]), term.colour ? COLORS : 0, &fg, &bg, &attrs);
        term.attrs[i] = term_curses_attrs(attrs);
        if (fg < 0) fg = text_fg;
        if (bg < 0) bg = text_bg;
        if (!term.colour || (fg < 0 && bg < 0)) continue;
        if (!dflt) {
            if (fg < 0) fg = COLOR_WHITE;
            if (bg < 0) bg = COLOR_BLACK;
        }
        if (i < COLOR_PAIRS - 1 && init_pair((short)(i + 1), fg, bg) == OK)
            term.attrs[i] |= (int)COLOR_PAIR(i + 1);
    }
}

void term_set_theme(const theme *t)
{
    term.theme = t;
    if (term.active) term_setup_styles();
}

/* The self-pipe and the handlers. screen: natter has the terminal in raw mode, so a resize
 * and Ctrl-Z are its own to handle; the plain chat leaves both to the terminal and the
 * kernel (their default actions). */
static int term_init_signals(bool screen)
{
    if (term.pipe_rd >= 0) return 0;
    int p[2];
    if (pipe(p) < 0) {
        text_printf(stderr, "natter: pipe: %s\n", strerror(errno));
        return -1;
    }
    for (int i = 0; i < 2; i++) fcntl(p[i], F_SETFD, FD_CLOEXEC);
    fcntl(p[1], F_SETFL, O_NONBLOCK); /* a flood of signals must never block a handler */
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    term.pipe_rd = p[0];
    term.pipe_wr = p[1];

    term.have_saved = tcgetattr(STDIN_FILENO, &term.saved) == 0;

    /* Our SIGWINCH handler goes in first, so ncurses does not install its own. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = term_on_signal;
    sa.sa_flags = SA_RESTART;
    if (screen) {
        sigaction(SIGWINCH, &sa, NULL);
        sigaction(SIGTSTP, &sa, NULL);
    }
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sa.sa_handler = term_on_fatal;
    sa.sa_flags = SA_RESETHAND;
    int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) sigaction(fatal[i], &sa, NULL);
    /* A truncated model file's SIGBUS goes to the guard first; any other to term_on_fatal. */
    mapguard_install();
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

bool term_can_address(char *why, size_t cap)
{
    const char *name = getenv("TERM");
    if (!name || !name[0]) {
        snprintf(why, cap, "TERM is not set");
        return false;
    }
    int err = 0;
    TERMINAL *saved = cur_term;
    if (setupterm((char *)name, STDOUT_FILENO, &err) != OK) {
        snprintf(why, cap, "TERM=%.60s %s", name,
                 err == 1 ? "is a hardcopy terminal"
                 : err == 0 ? "is not in the terminfo database" : "has no terminfo database to describe it");
        return false;
    }
    /* Without cursor addressing nothing can be drawn in place: ncurses would scroll every
     * update down the screen (TERM=dumb, Emacs' shell, some serial consoles). */
    const char *cup = tigetstr("cup");
    bool ok = cup && cup != (char *)-1;
    if (!ok) snprintf(why, cap, "TERM=%.60s cannot move the cursor", name);
    del_curterm(cur_term);
    set_curterm(saved);
    return ok;
}

int term_init_plain(void)
{
    return term_init_signals(false);
}

int term_init(void)
{
    if (term_init_signals(true) != 0) return -1;

    term.screen = newterm(NULL, stdout, stdin);
    if (!term.screen) {
        text_printf(stderr, "natter: cannot use the terminal (TERM=%s)\n",
                getenv("TERM") ? getenv("TERM") : "");
        return -1;
    }
    term.active = true;
    atexit(term_end);
    raw();     /* Ctrl-C, Ctrl-Z, Ctrl-S reach us (and readline) as bytes */
    noecho();
    nonl();
    typeahead(-1); /* never let ncurses peek at stdin: input.c owns it */
    keypad(stdscr, FALSE);
    leaveok(stdscr, FALSE);
    term_setup_styles();

    term.leave_n = 0;
    term_leave_add(TERM_MODES_OFF);
    term_leave_add(tigetstr("sgr0"));
    term_leave_add(tigetstr("cnorm"));
    term_leave_add(tigetstr("rmcup"));

    fputs(TERM_MODES_ON, stdout);
    fflush(stdout);
    return 0;
}

void term_end(void)
{
    if (!term.active) return;
    term.active = false;
    fputs(TERM_MODES_OFF, stdout);
    fflush(stdout);
    endwin();
    if (term.screen) {
        delscreen(term.screen);
        term.screen = NULL;
    }
    if (term.have_saved) tcsetattr(STDIN_FILENO, TCSAFLUSH, &term.saved);
    term.theme = NULL;
    theme_free(term.builtin);
    term.builtin = NULL;
}

void term_suspend(void)
{
    if (!term.active) return;
    fputs(TERM_MODES_OFF, stdout);
    fflush(stdout);
    endwin();
    if (term.have_saved) tcsetattr(STDIN_FILENO, TCSAFLUSH, &term.saved);
    /* Stop with the default action; our handler comes back when we run again. */
    struct sigaction dfl, old;
    memset(&dfl, 0, sizeof dfl);
    sigemptyset(&dfl.sa_mask);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGTSTP, &dfl, &old);
    raise(SIGTSTP);
    sigaction(SIGTSTP, &old, NULL);
    /* Resumed (SIGCONT): curses modes come back with the next refresh; ours now. */
    reset_prog_mode();
    term_resize();
    fputs(TERM_MODES_ON, stdout);
    fflush(stdout);
}

int term_signal_fd(void)
{
    return term.pipe_rd;
}

unsigned term_take_signals(void)
{
    unsigned mask = 0;
    unsigned char buf[64];
    ssize_t n;
    while ((n = read(term.pipe_rd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] < 32) mask |= 1u << buf[i];
    return mask;
}

bool term_clipboard_ok(void)
{
    const char *force = getenv("NATTER_CLIPBOARD");
    if (force && !strcmp(force, "osc52")) return true;
    if (force && !strcmp(force, "file")) return false;
    if (getenv("TMUX")) {
        /* tmux takes an application's OSC 52 only with set-clipboard on (its default,
         * external, drops it). */
        FILE *p = popen("tmux show-options -gv set-clipboard 2>/dev/null", "r");
        char v[32] = "";
        if (p) {
            if (!fgets(v, sizeof v, p)) v[0] = '\0';
            pclose(p);
        }
        return !strncmp(v, "on", 2) && (v[2] == '\n' || v[2] == '\0');
    }
    const char *t = getenv("TERM"), *prog = getenv("TERM_PROGRAM");
    static const char *const terms[] = {"xterm-kitty", "foot", "alacritty", "wezterm", "xterm-ghostty"};
    static const char *const progs[] = {"iTerm.app", "WezTerm", "ghostty"};
    for (size_t i = 0; t && i < sizeof terms / sizeof *terms; i++)
        if (!strncmp(t, terms[i], strlen(terms[i]))) return true;
    for (size_t i = 0; prog && i < sizeof progs / sizeof *progs; i++)
        if (!strcmp(prog, progs[i])) return true;
    return getenv("WT_SESSION") != NULL; /* Windows Terminal */
}

bool term_clipboard_put(const char *s, size_t n)
{
    strbuf b = {0};
    strbuf_puts(&b, "\033]52;c;");
    strbuf_put_base64(&b, s, n);
    strbuf_puts(&b, "\a");
    bool ok = !b.oom && fwrite(b.s, 1, b.n, stdout) == b.n && fflush(stdout) == 0;
    strbuf_free(&b);
    return ok;
}

void term_resize(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resizeterm(ws.ws_row, ws.ws_col);
}

int term_style_elem(int style)
{
    return term_elem[(style & 0x7F) < TS_COUNT_ ? (style & 0x7F) : 0];
}

int term_attr(int style)
{
    int a = term.attrs[(style & 0x7F) < TS_COUNT_ ? (style & 0x7F) : 0];
    if (style & TERM_HIGHLIGHT_BIT) a |= A_REVERSE;
    return a;
}

bool term_has_colour(void)
{
    return term.colour;
}
