/* input.c — stdin bytes → key, mouse and paste events; GNU readline in callback mode. See
 * input.h. */
#include "input.h"

#include "commands.h"
#include "util/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#define INPUT_HISTORY_MAX 1000
#define PASTE_END "\033[201~"

/* ------------------------------------------------------------------ the parser ----- */

static struct {
    char buf[8192];   /* bytes not yet cut into events */
    size_t n;
    bool pasting;     /* inside \e[200~ ... \e[201~ */
    char *paste;      /* the paste so far */
    size_t paste_n, paste_cap;
    char *paste_out;  /* the text of the last PASTE event (ownership kept here) */
} ip;

void input_feed(const char *bytes, size_t n)
{
    if (n > sizeof ip.buf - ip.n) n = sizeof ip.buf - ip.n; /* a flood beyond 8 KiB waits */
    memcpy(ip.buf + ip.n, bytes, n);
    ip.n += n;
}

static void input_consume(size_t k)
{
    memmove(ip.buf, ip.buf + k, ip.n - k);
    ip.n -= k;
}

static int paste_add(const char *s, size_t n)
{
    if (ip.paste_n + n + 1 > ip.paste_cap) {
        size_t cap = ip.paste_cap ? ip.paste_cap : 1024;
        while (cap < ip.paste_n + n + 1) cap *= 2;
        char *p = realloc(ip.paste, cap);
        if (!p) return -1;
        ip.paste = p;
        ip.paste_cap = cap;
    }
    memcpy(ip.paste + ip.paste_n, s, n);
    ip.paste_n += n;
    ip.paste[ip.paste_n] = '\0';
    return 0;
}

bool input_has_partial(void)
{
    return ip.n > 0 && !ip.pasting && ip.buf[0] == '\033';
}

bool input_lone_esc(void)
{
    return ip.n == 1 && !ip.pasting && ip.buf[0] == '\033';
}

static void set_key(input_event *ev, int key, size_t len)
{
    ev->kind = IEV_KEY;
    ev->key = key;
    if (len > sizeof ev->raw) len = sizeof ev->raw;
    memcpy(ev->raw, ip.buf, len);
    ev->n_raw = (int)len;
}

/* A CSI sequence's key: a = first parameter, mod = second (1 = none, 2 = shift, 3 = alt). */
static int csi_key(int a, int mod, char final)
{
    static const int arrows[4][3] = {
        {CK_UP, CK_S_UP, CK_A_UP}, {CK_DOWN, CK_S_DOWN, CK_A_DOWN},
        {CK_RIGHT, CK_S_RIGHT, CK_A_RIGHT}, {CK_LEFT, CK_S_LEFT, CK_A_LEFT}};
    int m = mod == 2 ? 1 : mod == 3 ? 2 : 0;
    switch (final) {
    case 'A': case 'B': case 'C': case 'D':
        if (mod > 3) return 0; /* Ctrl-arrows: readline's own */
        return arrows[final - 'A'][m];
    case 'H': return CK_HOME;
    case 'F': return CK_END;
    case 'P': return CK_F1;
    case 'Q': return CK_F2;
    case 'R': return CK_F3;
    case 'S': return CK_F4;
    case '~':
        switch (a) {
        case 1: case 7: return CK_HOME;
        case 4: case 8: return CK_END;
        case 2: return CK_INSERT;
        case 3: return CK_DELETE;
        case 5: return CK_PGUP;
        case 6: return CK_PGDN;
        case 11: case 12: case 13: case 14: case 15: return CK_F1 + (a - 11);
        case 17: case 18: case 19: case 20: case 21: return CK_F6 + (a - 17);
        case 23: case 24: return CK_F11 + (a - 23);
        }
    }
    return 0;
}

bool input_next(input_event *ev, bool timed_out)
{
    memset(ev, 0, sizeof *ev);
    if (ip.pasting) {
        size_t endn = strlen(PASTE_END);
        char *end = memmem(ip.buf, ip.n, PASTE_END, endn);
        if (!end) {
            /* Keep a tail that may be the start of the end marker. */
            size_t keep = ip.n < endn - 1 ? ip.n : endn - 1;
            paste_add(ip.buf, ip.n - keep);
            input_consume(ip.n - keep);
            return false;
        }
        paste_add(ip.buf, (size_t)(end - ip.buf));
        input_consume((size_t)(end - ip.buf) + endn);
        ip.pasting = false;
        free(ip.paste_out);
        ip.paste_out = ip.paste ? ip.paste : strdup("");
        ev->kind = IEV_PASTE;
        ev->text = ip.paste_out;
        ev->len = ip.paste_n;
        ip.paste = NULL;
        ip.paste_n = ip.paste_cap = 0;
        return true;
    }
    if (ip.n == 0) return false;
    unsigned char c = (unsigned char)ip.buf[0];
    if (c != 0x1B) {
        if (c < 0x80) {
            set_key(ev, c, 1);
            input_consume(1);
            return true;
        }
        /* A UTF-8 character goes to readline whole (or byte by byte when invalid). */
        int32_t cp;
        int len = text_next(ip.buf, ip.n, &cp);
        if (len < 0) { /* maybe cut short: wait for the rest, unless it is not coming */
            if (!timed_out && ip.n < 4) return false;
            len = 1;
        }
        set_key(ev, 0, (size_t)len);
        input_consume((size_t)len);
        return true;
    }
    if (ip.n == 1) {
        if (!timed_out) return false;
        set_key(ev, CK_ESC, 1);
        input_consume(1);
        return true;
    }
    unsigned char c1 = (unsigned char)ip.buf[1];
    if (c1 == '[') {
        size_t i = 2;
        while (i < ip.n && (unsigned char)ip.buf[i] >= 0x20 && (unsigned char)ip.buf[i] < 0x40)
            i++;
        if (i >= ip.n) {
            if (!timed_out && ip.n < 64) return false;
            set_key(ev, CK_ESC, 1); /* not a sequence after all: ESC, then the rest */
            input_consume(1);
            return true;
        }
        char final = ip.buf[i];
        size_t len = i + 1;
        char params[64];
        size_t pn = i - 2 < sizeof params - 1 ? i - 2 : sizeof params - 1;
        memcpy(params, ip.buf + 2, pn);
        params[pn] = '\0';
        if (params[0] == '<' && (final == 'M' || final == 'm')) {
            int b = 0, x = 0, y = 0;
            if (sscanf(params + 1, "%d;%d;%d", &b, &x, &y) == 3) {
                ev->kind = IEV_MOUSE;
                ev->x = x - 1;
                ev->y = y - 1;
                ev->button = b & 3;
                if (b & 64)
                    ev->mouse = (b & 1) ? IM_WHEEL_DOWN : IM_WHEEL_UP;
                else if (final == 'm')
                    ev->mouse = IM_RELEASE;
                else if (b & 32)
                    ev->mouse = IM_DRAG;
                else
                    ev->mouse = IM_PRESS;
                input_consume(len);
                return true;
            }
        }
        if (strcmp(params, "200") == 0 && final == '~') {
            input_consume(len);
            ip.pasting = true;
            ip.paste_n = 0;
            return input_next(ev, timed_out);
        }
        int a = 1, mod = 1;
        if (params[0] >= '0' && params[0] <= '9') sscanf(params, "%d;%d", &a, &mod);
        int key = csi_key(a, mod, final);
        set_key(ev, key, len);
        input_consume(len);
        if (key == 0 && !(final >= 'A' && final <= 'D')) ev->n_raw = 0; /* unknown: dropped */
        return true;
    }
    if (c1 == 'O') {
        if (ip.n < 3) {
            if (!timed_out) return false;
            set_key(ev, CK_ESC, 1);
            input_consume(1);
            return true;
        }
        int key = 0;
        switch (ip.buf[2]) {
        case 'A': key = CK_UP; break;
        case 'B': key = CK_DOWN; break;
        case 'C': key = CK_RIGHT; break;
        case 'D': key = CK_LEFT; break;
        case 'H': key = CK_HOME; break;
        case 'F': key = CK_END; break;
        case 'P': key = CK_F1; break;
        case 'Q': key = CK_F2; break;
        case 'R': key = CK_F3; break;
        case 'S': key = CK_F4; break;
        case 'M': key = CK_ENTER; break;
        }
        set_key(ev, key, 3);
        input_consume(3);
        return true;
    }
    if (c1 == '\r' || c1 == '\n') {
        set_key(ev, CK_ALT_ENTER, 2);
        input_consume(2);
        return true;
    }
    if (c1 == 0x1B) { /* Esc pressed twice: the first is a key of its own */
        set_key(ev, CK_ESC, 1);
        input_consume(1);
        return true;
    }
    /* Alt + a character: readline's meta bindings. */
    int32_t cp;
    int len = text_decode(ip.buf + 1, ip.n - 1, &cp);
    set_key(ev, 0, (size_t)len + 1);
    input_consume((size_t)len + 1);
    return true;
}

/* ------------------------------------------------------------------ readline ----- */

static struct {
    bool active;
    char *rq;          /* bytes waiting for readline's getc */
    size_t rq_n, rq_pos, rq_cap;
    bool dirty;
    char *lines[16];   /* accepted lines not yet taken */
    int n_lines;
    bool eof;
    char *hist_path;
    FILE *devnull;
    char prompt[256];
} rl;

static int input_rl_getc(FILE *f)
{
    (void)f;
    if (rl.rq_pos < rl.rq_n) return (unsigned char)rl.rq[rl.rq_pos++];
    /* Readline wants a byte we have not got (a multi-key command): read one from the tty. */
    unsigned char c;
    ssize_t r;
    do r = read(STDIN_FILENO, &c, 1);
    while (r < 0 && errno == EINTR);
    return r == 1 ? c : EOF;
}

static int input_rl_available(void)
{
    return rl.rq_pos < rl.rq_n;
}

static void input_rl_redisplay(void)
{
    rl.dirty = true;
}

static void input_rl_line(char *line)
{
    if (!line) {
        rl.eof = true;
        return;
    }
    if (rl.n_lines < (int)(sizeof rl.lines / sizeof *rl.lines))
        rl.lines[rl.n_lines++] = line;
    else
        free(line);
    rl.dirty = true;
}

static char *input_cmd_gen(const char *text, int state)
{
    static int i;
    if (!state) i = 0;
    size_t n = strlen(text);
    while (i < CMD_COUNT_) {
        const cmd_info *c = commands_info((enum cmd_id)i++);
        if (!c->name || (c->flags & CMD_F_PLANNED)) continue;
        char buf[64];
        snprintf(buf, sizeof buf, "/%s", c->name);
        if (strncmp(buf, text, n) == 0) return strdup(buf);
    }
    return NULL;
}

static char **input_rl_complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1; /* never complete file names in a chat */
    if (start == 0 && text[0] == '/') return rl_completion_matches(text, input_cmd_gen);
    return NULL;
}

static int mkdir_p(const char *path)
{
    char tmp[1024];
    if (strlen(path) >= sizeof tmp) return -1;
    strcpy(tmp, path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

/* The history file holds one entry per line, with '\\' and newlines escaped as "\\\\" and "\\n",
 * so that a question of several lines comes back as one entry. */
static void hist_write_entry(FILE *f, const char *line)
{
    for (const char *p = line; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", f);
        else if (*p == '\n')
            fputs("\\n", f);
        else
            fputc(*p, f);
    }
    fputc('\n', f);
}

static void hist_load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n') line[--n] = '\0';
        size_t j = 0;
        for (ssize_t i = 0; i < n; i++) {
            if (line[i] == '\\' && i + 1 < n) {
                i++;
                line[j++] = line[i] == 'n' ? '\n' : line[i];
            } else {
                line[j++] = line[i];
            }
        }
        line[j] = '\0';
        if (j > 0) add_history(line);
    }
    free(line);
    fclose(f);
}

/* Rewrites the file from the (stifled) in-memory history: temporary file, then rename. */
static void hist_save(const char *path)
{
    char tmp[1100];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) return;
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    for (int i = 0; i < history_length; i++) {
        HIST_ENTRY *e = history_get(history_base + i);
        if (e && e->line) hist_write_entry(f, e->line);
    }
    if (fclose(f) == 0)
        rename(tmp, path);
    else
        remove(tmp);
}

const char *input_history_path(void)
{
    static char path[1024];
    const char *st = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (st && st[0] == '/')
        n = snprintf(path, sizeof path, "%s/natter/history", st);
    else if (home && home[0])
        n = snprintf(path, sizeof path, "%s/.local/state/natter/history", home);
    else
        return NULL;
    return n > 0 && (size_t)n < sizeof path ? path : NULL;
}

int input_init(const char *history_path)
{
    rl.devnull = fopen("/dev/null", "w");
    rl_readline_name = "natter";
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_prep_term_function = NULL;
    rl_deprep_term_function = NULL;
    rl_getc_function = input_rl_getc;
    rl_input_available_hook = input_rl_available;
    rl_redisplay_function = input_rl_redisplay;
    rl_attempted_completion_function = input_rl_complete;
    rl_instream = stdin;
    /* Readline must never write to the screen ncurses owns (bells, completion lists). */
    rl_outstream = rl.devnull ? rl.devnull : stdout;
    using_history();
    stifle_history(INPUT_HISTORY_MAX);
    if (history_path) {
        rl.hist_path = strdup(history_path);
        if (rl.hist_path && mkdir_p(rl.hist_path) == 0) hist_load(rl.hist_path);
    }
    rl_callback_handler_install("> ", input_rl_line);
    rl_variable_bind("enable-bracketed-paste", "off"); /* natter handles pastes itself */
    rl_variable_bind("bell-style", "none");
    rl.active = true;
    rl.dirty = true;
    return 0;
}

void input_free(void)
{
    if (rl.active) {
        rl_callback_handler_remove();
        rl.active = false;
    }
    if (rl.hist_path) {
        hist_save(rl.hist_path);
        free(rl.hist_path);
        rl.hist_path = NULL;
    }
    for (int i = 0; i < rl.n_lines; i++) free(rl.lines[i]);
    rl.n_lines = 0;
    free(rl.rq);
    rl.rq = NULL;
    rl.rq_n = rl.rq_pos = rl.rq_cap = 0;
    if (rl.devnull) fclose(rl.devnull);
    rl.devnull = NULL;
    free(ip.paste);
    free(ip.paste_out);
    ip.paste = ip.paste_out = NULL;
}

void input_to_readline(const char *bytes, size_t n)
{
    if (!rl.active || n == 0) return;
    if (rl.rq_pos == rl.rq_n) rl.rq_pos = rl.rq_n = 0;
    if (rl.rq_n + n > rl.rq_cap) {
        size_t cap = rl.rq_cap ? rl.rq_cap : 256;
        while (cap < rl.rq_n + n) cap *= 2;
        char *q = realloc(rl.rq, cap);
        if (!q) return;
        rl.rq = q;
        rl.rq_cap = cap;
    }
    memcpy(rl.rq + rl.rq_n, bytes, n);
    rl.rq_n += n;
    while (rl.rq_pos < rl.rq_n) rl_callback_read_char();
}

void input_insert(const char *text, size_t n)
{
    char *t = malloc(n + 1);
    if (!t) return;
    memcpy(t, text, n);
    t[n] = '\0';
    rl_insert_text(t);
    free(t);
    rl.dirty = true;
}

void input_set_line(const char *text)
{
    rl_replace_line(text, 0);
    rl_point = rl_end;
    rl.dirty = true;
}

const char *input_line(void)
{
    return rl_line_buffer ? rl_line_buffer : "";
}

size_t input_point(void)
{
    return rl_point < 0 ? 0 : (size_t)rl_point;
}

const char *input_prompt(void)
{
    const char *p = rl_display_prompt ? rl_display_prompt : rl_prompt ? rl_prompt : "";
    size_t j = 0;
    for (size_t i = 0; p[i] && j + 1 < sizeof rl.prompt; i++)
        if (p[i] != RL_PROMPT_START_IGNORE && p[i] != RL_PROMPT_END_IGNORE) rl.prompt[j++] = p[i];
    rl.prompt[j] = '\0';
    return rl.prompt;
}

bool input_take_dirty(void)
{
    bool d = rl.dirty;
    rl.dirty = false;
    return d;
}

char *input_take_line(bool *eof)
{
    *eof = false;
    if (rl.n_lines > 0) {
        char *l = rl.lines[0];
        memmove(rl.lines, rl.lines + 1, (size_t)(rl.n_lines - 1) * sizeof *rl.lines);
        rl.n_lines--;
        HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
        /* Readline's history position must follow the end, or recalling and accepting a
         * line later edits an old entry in place. */
        using_history();
        if (l[0] && !(last && last->line && strcmp(last->line, l) == 0)) {
            add_history(l);
            /* Appended at once, so a crash loses nothing; input_free trims the file. */
            FILE *f = rl.hist_path ? fopen(rl.hist_path, "a") : NULL;
            if (f) {
                hist_write_entry(f, l);
                fclose(f);
            }
            using_history();
        }
        return l;
    }
    if (rl.eof) {
        rl.eof = false;
        *eof = true;
    }
    return NULL;
}

bool input_vi_mode(void)
{
    return rl_editing_mode == 0;
}

void input_resize(int rows, int cols)
{
    rl_set_screen_size(rows, cols);
}
