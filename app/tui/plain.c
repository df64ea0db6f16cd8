/* plain.c — the chat line by line, for a terminal that cannot place the cursor (TERM=dumb,
 * an unknown or unset TERM, Emacs' shell buffer, some serial consoles). ncurses would draw the
 * chat screen there as a stream of updates scrolling by, with the answers never seen.
 *
 * The terminal stays in its own (cooked) mode: it echoes and edits the line being typed, and
 * Ctrl-C and Ctrl-D keep their usual meaning. A line is a question or a /command, handled by
 * the same functions as on the screen (tui_line, the actions); what they change is written
 * out after each wake-up by comparing the state with what was already written: the answer's
 * new bytes, the message line, the history's note, a y/n question, the help. Nothing else
 * differs, so the conversation, its autosaves and every command behave as on the screen.
 * All output goes through text_fput: model and file text is shown, never obeyed. */
#include "tui_int.h"

#include "term.h"
#include "util/strbuf.h"
#include "util/text.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLAIN_EVENTS 512 /* worker events handled before the output is brought up to date */

typedef struct plain {
    tui *t;
    strbuf line;          /* the line being read (a trailing backslash continues it) */
    strbuf held;          /* questions typed during an answer, NUL-separated, sent after it */
    size_t done;          /* turns written out whole */
    size_t shown;         /* bytes written of turn `done` (an answer being written) */
    bool labelled;        /* its label is written */
    unsigned conv_gen, answer_gen, note_gen;
    char *note;           /* the note as last written (owned), to write only what it grew by */
    bool mid_line;        /* the output does not end in a newline */
    bool prompted;        /* "> " is written and waits for a line */
    bool asked;           /* the y/n question (status.ask) is written */
} plain;

/* The one way out to the terminal: sanitised (text_fput), so nothing drives it. */
static void plain_put(plain *p, const char *s, size_t n)
{
    if (n == 0) return;
    text_fput(stdout, s, n);
    p->mid_line = s[n - 1] != '\n';
    p->prompted = false;
}

static void plain_puts(plain *p, const char *s)
{
    plain_put(p, s, strlen(s));
}

static void plain_fresh_line(plain *p)
{
    if (p->mid_line) plain_puts(p, "\n");
}

/* A line of its own: "natter: " and the formatted text. */
static void plain_say(plain *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void plain_say(plain *p, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    plain_fresh_line(p);
    plain_puts(p, "natter: ");
    plain_puts(p, buf);
    plain_puts(p, "\n");
}

/* Bytes of s[0..n) that end with a whole UTF-8 sequence: a character whose bytes have not
 * all come waits for the rest (written alone, its start would show as U+FFFD). */
static size_t plain_whole(const char *s, size_t n)
{
    size_t i = n;
    for (int back = 0; back < 4 && i > 0; back++) {
        i--;
        unsigned char c = (unsigned char)s[i];
        if (text_is_cont(c)) continue;
        return (size_t)text_lead_len(c) > n - i ? i : n;
    }
    return n;
}

/* Writes what is new of answer a, and its end when it is complete. */
static void plain_answer(plain *p, const chat_turn *a)
{
    if (!p->labelled) {
        plain_fresh_line(p);
        const ui *u = &p->t->u;
        if (u->ab.shown && u->ab.live >= 0) { /* /ab: which side this is */
            char label[160];
            snprintf(label, sizeof label, "Assistant (%c: %s): ", u->ab.live ? 'B' : 'A',
                     u->ab.label[u->ab.live]);
            plain_puts(p, label);
        } else {
            plain_puts(p, "Assistant: ");
        }
        p->labelled = true;
    }
    const char *text = a->text ? a->text : "";
    size_t end = a->complete ? a->len : plain_whole(text, a->len);
    if (end > p->shown) {
        plain_put(p, text + p->shown, end - p->shown);
        p->shown = end;
    }
    if (!a->complete) return;
    /* Endings people did not ask for are noted, as on the screen. */
    if (a->end == GEN_END_STOPPED || a->end == GEN_END_LENGTH || a->end == GEN_END_CONTEXT_FULL) {
        plain_puts(p, " [");
        plain_puts(p, gen_end_name(a->end, false));
        plain_puts(p, "]");
    }
    if (a->error) {
        plain_fresh_line(p);
        plain_puts(p, "error: ");
        plain_puts(p, a->error);
    }
    if (a->n_sources) {
        plain_fresh_line(p);
        plain_puts(p, "sources: ");
        for (size_t i = 0; i < a->n_sources; i++) {
            char label[1200];
            chat_source_label(&a->sources[i], label, sizeof label);
            if (i) plain_puts(p, ", ");
            plain_puts(p, label);
        }
    }
    char *notice = chat_turn_notice(a);
    if (notice) {
        plain_fresh_line(p);
        plain_puts(p, "sources: ");
        plain_puts(p, notice);
        free(notice);
    }
    plain_puts(p, "\n");
}

/* The persona and its greeting: the start of a conversation. */
static void plain_head(plain *p)
{
    tui *t = p->t;
    plain_fresh_line(p);
    if (t->u.persona_tokens > 0)
        plain_say(p, "persona %s, model %s (the fixed part takes %d tokens; /system shows the prompt)",
                  t->u.persona ? t->u.persona : "default", t->u.model_name ? t->u.model_name : "",
                  (int)t->u.persona_tokens);
    else
        plain_say(p, "persona %s, model %s", t->u.persona ? t->u.persona : "default",
                  t->u.model_name ? t->u.model_name : "");
    const char *g = chat_greeting(t->chat);
    if (g) {
        plain_puts(p, "Assistant: ");
        plain_puts(p, g);
        plain_puts(p, "\n");
    }
}

static void plain_help(plain *p)
{
    plain_fresh_line(p);
    plain_puts(p, "natter's plain chat: type a question and Enter (a line ending in \\ goes on "
                  "on the next line).\nCtrl-C stops an answer; Ctrl-C twice or Ctrl-D twice at "
                  "the prompt leaves, as /quit does.\nCommands (a unique prefix is enough):\n");
    for (int i = 0; i < CMD_COUNT_; i++) {
        const cmd_info *c = commands_info((enum cmd_id)i);
        /* Keys do not reach natter here, and colours are not drawn. */
        if (!c->name || (c->flags & CMD_F_PLANNED) || i == CMD_THEME) continue;
        char head[64];
        snprintf(head, sizeof head, "/%s%s%s", c->name, c->args[0] ? " " : "", c->args);
        const char *help = i == CMD_EDIT ? "show the last question to send again, as it is or "
                                           "changed (the old one stays)"
                                         : c->help;
        char line[600];
        snprintf(line, sizeof line, "  %-22s %s\n", head, help);
        plain_puts(p, line);
    }
}

/* Brings the output up to date with the state. */
static void plain_show(plain *p)
{
    tui *t = p->t;
    ui *u = &t->u;
    size_t n = chat_n_turns(t->chat);
    bool whole = false; /* the conversation was replaced: questions are written too */
    if (t->conv_gen != p->conv_gen) {
        p->conv_gen = t->conv_gen;
        p->answer_gen = t->answer_gen;
        p->done = p->shown = 0;
        p->labelled = false;
        plain_head(p);
        whole = true;
    }
    if (u->rewrite) {
        /* Turns from rewrite_from on changed (another alternative shown, /undo showing the
         * one before): what of them was written is written again, questions too. An answer
         * just started is its own case below (its question was typed here). */
        u->rewrite = false;
        if (p->done > u->rewrite_from) {
            p->done = u->rewrite_from;
            p->shown = 0;
            p->labelled = false;
            whole = true;
        }
    }
    if (t->answer_gen != p->answer_gen) {
        /* A new answer is the last turn; the question before it was typed here. */
        p->answer_gen = t->answer_gen;
        p->done = n > 0 ? n - 1 : 0;
        p->shown = 0;
        p->labelled = false;
    }
    if (p->done > n) p->done = n, p->shown = 0, p->labelled = false; /* /undo, /edit */
    for (; p->done < n; p->done++) {
        const chat_turn *turn = chat_turn_at(t->chat, p->done);
        if (turn->role == NT_ROLE_USER) {
            if (whole || p->done + 1 < n) {
                plain_fresh_line(p);
                plain_puts(p, "You: ");
                plain_put(p, turn->text ? turn->text : "", turn->len);
                plain_puts(p, "\n");
            }
            continue;
        }
        plain_answer(p, turn);
        if (!turn->complete) break;
        p->shown = 0;
        p->labelled = false;
    }
    if (t->given_back) {
        plain_say(p, "the question, to send again:");
        plain_puts(p, t->given_back);
        plain_puts(p, "\n");
        free(t->given_back);
        t->given_back = NULL;
    }
    if (u->note_gen != p->note_gen) {
        p->note_gen = u->note_gen;
        const char *note = u->note;
        size_t old = p->note ? strlen(p->note) : 0;
        if (note) {
            /* A note that grows (the /replay view, token by token) is written by what it
             * grew by, on the same line; any other note whole, on lines of its own. */
            const char *from = p->note && !strncmp(note, p->note, old) ? note + old : note;
            if (from == note) plain_fresh_line(p);
            plain_puts(p, from);
            if (from == note) plain_fresh_line(p);
        }
        free(p->note);
        p->note = note ? strdup(note) : NULL;
    }
    if (u->msg.text[0]) {
        plain_say(p, "%s", u->msg.text);
        u->msg.text[0] = '\0';
    }
    if (u->help.shown) {
        u->help.shown = false;
        plain_help(p);
    }
    if (u->status.ask[0]) {
        if (!p->asked) {
            plain_fresh_line(p);
            plain_puts(p, u->status.ask);
            plain_puts(p, " ");
            p->asked = true;
        }
    } else {
        p->asked = false;
        if (!tui_busy(t) && !p->prompted && !p->mid_line && !t->quit) {
            plain_puts(p, "> ");
            p->prompted = true;
        }
    }
    fflush(stdout);
}

/* One line typed (without its newline). */
static void plain_take(plain *p, char *line)
{
    tui *t = p->t;
    if (t->pending || t->pending_model || t->u.ab.choosing) {
        /* The question of the status line (y/n, a/b): its first letter; an empty line is Esc
         * (stay as it is; /ab keeps B, the answer shown). */
        const char *a = line + strspn(line, " \t");
        int key = a[0] ? (unsigned char)a[0] : CK_ESC;
        if (t->pending) tui_confirm(t, key);
        else if (t->pending_model) tui_model_confirm(t, key);
        else tui_ab_key(t, key == '\t' ? 'x' : key); /* no Tab here: nothing to switch to */
        return;
    }
    t->ctrlc_armed = t->eof_armed = false;
    bool question = !(line[0] == '/' && line[1] != '/');
    if (question && tui_busy(t) && line[strspn(line, " \t")]) {
        /* Typed ahead: asked when the answer ends, as a line-by-line chat is read. */
        strbuf_put(&p->held, line, strlen(line) + 1);
        plain_say(p, "the question waits for the answer to end (Ctrl-C stops it)");
        return;
    }
    tui_line(t, line);
}

/* The next question typed during an answer, once there is none. */
static bool plain_held(plain *p)
{
    if (!p->held.n || tui_busy(p->t) || p->t->quit || p->t->pending || p->t->pending_model ||
        p->t->u.ab.choosing)
        return false;
    size_t len = strlen(p->held.s);
    char *q = strdup(p->held.s);
    memmove(p->held.s, p->held.s + len + 1, p->held.n - len - 1);
    p->held.n -= len + 1;
    if (!q) return false;
    plain_fresh_line(p);
    plain_puts(p, "You: ");
    plain_puts(p, q);
    plain_puts(p, "\n");
    tui_line(p->t, q);
    free(q);
    return true;
}

/* Bytes from stdin: cut into lines (the terminal sends a line at a time). */
static void plain_input(plain *p, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] != '\n') {
            strbuf_putc(&p->line, buf[i]);
            continue;
        }
        p->mid_line = false; /* the terminal echoed the newline */
        p->prompted = false;
        size_t len = p->line.n;
        if (len > 0 && p->line.s[len - 1] == '\r') p->line.s[--len] = '\0';
        if (len > 0 && p->line.s[len - 1] == '\\') {
            /* A continued line: the question goes on with a newline. */
            p->line.s[len - 1] = '\n';
            p->line.n = len;
            plain_puts(p, "... ");
            fflush(stdout);
            continue;
        }
        p->line.n = len;
        char *line = strbuf_take(&p->line, NULL);
        if (!line) {
            plain_say(p, "out of memory: the line is lost");
            continue;
        }
        plain_take(p, line);
        free(line);
        plain_show(p);
    }
}

static void plain_signals(plain *p)
{
    tui *t = p->t;
    unsigned sig = term_take_signals();
    int quit_sigs[] = {SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof quit_sigs / sizeof *quit_sigs; i++)
        if (sig & (1u << quit_sigs[i])) {
            t->quit = true;
            t->quit_signal = quit_sigs[i];
        }
    if (!(sig & (1u << SIGINT))) return;
    /* Ctrl-C: the terminal dropped the line being typed; the answer stops, or, at the
     * prompt, twice leaves. */
    strbuf_free(&p->line);
    p->mid_line = true; /* the terminal's ^C is on the line */
    if (tui_busy(t)) {
        tui_action(t, CMD_STOP, ""); /* a question typed meanwhile is asked next */
    } else if (t->pending || t->pending_model || t->u.ab.choosing) {
        plain_take(p, "");
    } else if (t->ctrlc_armed) {
        t->quit = true;
    } else {
        t->ctrlc_armed = true;
        tui_message(t, TS_NOTE, "press Ctrl-C again to quit (or type /quit)");
    }
}

int tui_plain_loop(tui *t, const char *why)
{
    plain p = {.t = t, .conv_gen = t->conv_gen - 1, .answer_gen = t->answer_gen,
               .note_gen = t->u.note_gen - 1};
    if (why[0])
        plain_say(&p, "%s, so the chat screen cannot be drawn: this is a plain line-by-line chat "
                  "instead. /help lists its commands; Ctrl-C stops an answer; /quit leaves.", why);
    else
        plain_say(&p, "the plain line-by-line chat (--plain). /help lists its commands; Ctrl-C "
                  "stops an answer; /quit leaves.");
    int rc = 0;
    char buf[4096];
    while (!t->quit) {
        plain_show(&p);
        if (plain_held(&p)) plain_show(&p);
        struct pollfd fds[5] = {{STDIN_FILENO, POLLIN, 0},
                                {worker_wake_fd(t->w), POLLIN, 0},
                                {term_signal_fd(), POLLIN, 0},
                                {tui_replay_fd(t), POLLIN, 0},
                                {tui_docs_fd(t), POLLIN, 0}};
        int r = poll(fds, 5, -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            rc = -1;
            break;
        }
        if (fds[2].revents & POLLIN) plain_signals(&p);
        if (fds[0].revents & POLLIN) {
            ssize_t got = read(STDIN_FILENO, buf, sizeof buf);
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
                /* nothing yet */
            } else if (got < 0) {
                t->quit = true; /* the terminal went away */
            } else if (got == 0) {
                /* Ctrl-D on an empty line (a terminal's end of file can be read again). */
                p.mid_line = false;
                p.prompted = false;
                if (t->eof_armed) {
                    t->quit = true;
                } else {
                    t->eof_armed = true;
                    tui_message(t, TS_NOTE, "press Ctrl-D again to quit (or type /quit)");
                }
            } else {
                plain_input(&p, buf, (size_t)got);
            }
        } else if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
            t->quit = true;
        }
        if (fds[1].revents & POLLIN) {
            worker_event ev;
            for (int i = 0; i < PLAIN_EVENTS && worker_poll(t->w, &ev); i++) tui_worker_event(t, &ev);
        }
        if (t->rp && (fds[3].revents & POLLIN)) tui_replay_events(t, PLAIN_EVENTS);
        if (fds[4].revents & POLLIN) tui_docs_events(t);
    }
    plain_show(&p);
    plain_fresh_line(&p);
    fflush(stdout);
    strbuf_free(&p.line);
    strbuf_free(&p.held);
    free(p.note);
    return rc;
}
