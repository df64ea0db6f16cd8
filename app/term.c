/* term.c — terminal setup and teardown, styles, resize and signals. See term.h.
 *
 * Input is not read through ncurses: app/input.c reads stdin's bytes itself so that readline
 * sees the real key sequences (its inputrc bindings, vi mode) and natter can catch mouse
 * reports and bracketed paste. ncurses is used for output only. */
#include "term.h"

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
} term = {.pipe_rd = -1, .pipe_wr = -1};

/* fg, bg (-1 = the terminal's default), attributes with colour, attributes without. */
typedef struct term_style_def {
    short fg, bg;
    int attr, mono;
} term_style_def;

#ifndef A_ITALIC
#define A_ITALIC A_UNDERLINE
#endif

static const term_style_def term_styles[TS_COUNT_] = {
    [TS_TEXT] = {-1, -1, 0, 0},
    [TS_USER] = {COLOR_CYAN, -1, 0, 0},
    [TS_SYSTEM] = {COLOR_MAGENTA, -1, 0, A_DIM},
    [TS_LABEL_USER] = {COLOR_CYAN, -1, A_BOLD, A_BOLD | A_UNDERLINE},
    [TS_LABEL_ASSISTANT] = {COLOR_GREEN, -1, A_BOLD, A_BOLD},
    [TS_LABEL_SYSTEM] = {COLOR_MAGENTA, -1, A_BOLD, A_BOLD},
    [TS_CODE] = {COLOR_YELLOW, -1, 0, A_BOLD},
    [TS_INLINE_CODE] = {COLOR_YELLOW, -1, 0, A_BOLD},
    [TS_BOLD] = {-1, -1, A_BOLD, A_BOLD},
    [TS_ITALIC] = {-1, -1, A_ITALIC, A_ITALIC},
    [TS_HEADING] = {-1, -1, A_BOLD | A_UNDERLINE, A_BOLD | A_UNDERLINE},
    [TS_MARKER] = {COLOR_BLACK, COLOR_MAGENTA, 0, A_REVERSE},
    [TS_END] = {COLOR_RED, -1, 0, A_BOLD},
    [TS_ERROR] = {COLOR_RED, -1, A_BOLD, A_BOLD | A_REVERSE},
    [TS_NOTE] = {COLOR_YELLOW, -1, 0, A_BOLD},
    [TS_STATUS] = {COLOR_BLACK, COLOR_WHITE, 0, A_REVERSE},
    [TS_STATUS_BUSY] = {COLOR_BLACK, COLOR_GREEN, 0, A_REVERSE | A_BOLD},
    [TS_TITLE] = {-1, -1, A_BOLD, A_BOLD | A_UNDERLINE},
    [TS_TRACK] = {COLOR_BLUE, -1, 0, 0},
    [TS_FILL] = {COLOR_GREEN, -1, A_BOLD, A_BOLD},
    [TS_KNOB] = {COLOR_WHITE, -1, A_BOLD | A_REVERSE, A_REVERSE},
    [TS_FOCUS] = {COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE},
    [TS_DIM] = {-1, -1, A_DIM, A_DIM},
    [TS_MORE] = {COLOR_BLACK, COLOR_YELLOW, 0, A_REVERSE},
    [TS_PROMPT] = {COLOR_GREEN, -1, A_BOLD, A_BOLD},
};

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
    bool dflt = false;
    if (term.colour) {
        start_color();
        dflt = use_default_colors() == OK;
    }
    for (int i = 0; i < TS_COUNT_; i++) {
        const term_style_def *d = &term_styles[i];
        if (!term.colour) {
            term.attrs[i] = d->mono;
            continue;
        }
        short fg = d->fg, bg = d->bg;
        if (fg < 0 && bg < 0) {
            term.attrs[i] = d->attr;
            continue;
        }
        if (!dflt) {
            if (fg < 0) fg = COLOR_WHITE;
            if (bg < 0) bg = COLOR_BLACK;
        }
        if (i < COLOR_PAIRS - 1) {
            init_pair((short)(i + 1), fg, bg);
            term.attrs[i] = d->attr | (int)COLOR_PAIR(i + 1);
        } else {
            term.attrs[i] = d->mono;
        }
    }
}

int term_init(void)
{
    int p[2];
    if (pipe(p) < 0) {
        fprintf(stderr, "natter: pipe: %s\n", strerror(errno));
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
    sigaction(SIGWINCH, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sigaction(SIGTSTP, &sa, NULL);
    sa.sa_handler = term_on_fatal;
    sa.sa_flags = SA_RESETHAND;
    int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) sigaction(fatal[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    term.screen = newterm(NULL, stdout, stdin);
    if (!term.screen) {
        fprintf(stderr, "natter: cannot use the terminal (TERM=%s)\n",
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

void term_resize(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resizeterm(ws.ws_row, ws.ws_col);
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
