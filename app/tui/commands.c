/* commands.c — look-ups over the COMMAND_LIST table and the help screen built from it. */
#include "commands.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cmd_info commands_table[CMD_COUNT_] = {
#define CMD_ROW_(id, name, args, ctx, key, key2, label, flags, help) \
    [CMD_##id] = {name, args, ctx, key, key2, label, flags, help},
    COMMAND_LIST(CMD_ROW_)
#undef CMD_ROW_
};

const cmd_info *commands_info(enum cmd_id id)
{
    return id < CMD_COUNT_ ? &commands_table[id] : NULL;
}

int commands_find_key(enum cmd_ctx ctx, int key)
{
    if (key == 0) return -1;
    if (ctx == CMD_CTX_PANEL)
        for (int i = 0; i < CMD_COUNT_; i++)
            if (commands_table[i].ctx == CMD_CTX_PANEL &&
                (commands_table[i].key == key || commands_table[i].key2 == key))
                return i;
    for (int i = 0; i < CMD_COUNT_; i++)
        if (commands_table[i].ctx == CMD_CTX_ANY &&
            (commands_table[i].key == key || commands_table[i].key2 == key))
            return i;
    return -1;
}

int commands_parse(const char *line, const char **args)
{
    if (args) *args = "";
    if (!line || line[0] != '/') return -1;
    const char *p = line + 1;
    size_t n = strcspn(p, " \t\n");
    if (n == 0) return -1;
    const char *rest = p + n;
    while (*rest == ' ' || *rest == '\t' || *rest == '\n') rest++;
    /* An exact name wins; else a prefix must be unique among the commands that exist now
     * (so "/re" means /regen, not the planned /replay), or among all of them. */
    int found = -1, matches = 0, avail = -1, n_avail = 0;
    for (int i = 0; i < CMD_COUNT_; i++) {
        const char *name = commands_table[i].name;
        if (!name || strncmp(name, p, n) != 0) continue;
        if (name[n] == '\0') {
            found = i;
            matches = 1;
            n_avail = 0;
            break;
        }
        found = i;
        matches++;
        if (!(commands_table[i].flags & CMD_F_PLANNED)) {
            avail = i;
            n_avail++;
        }
    }
    if (n_avail == 1) found = avail, matches = 1;
    if (matches == 0) return -1;
    if (matches > 1) return -2;
    if (*rest && !(commands_table[found].flags & CMD_F_ARGS)) return -3;
    if (args) *args = rest;
    return found;
}

/* Appends printf output to a growing string. */
typedef struct help_out {
    char *s;
    size_t n, cap;
    int failed;
} help_out;

static void help_printf(help_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void help_printf(help_out *o, const char *fmt, ...)
{
    if (o->failed) return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (m < 0) {
        o->failed = 1;
        return;
    }
    if (o->n + (size_t)m + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 1024;
        while (cap < o->n + (size_t)m + 1) cap *= 2;
        char *s = realloc(o->s, cap);
        if (!s) {
            o->failed = 1;
            return;
        }
        o->s = s;
        o->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(o->s + o->n, o->cap - o->n, fmt, ap);
    va_end(ap);
    o->n += (size_t)m;
}

char *commands_help_text(void)
{
    help_out o = {0};
    help_printf(&o, "natter — keys and commands (Esc or q closes this, PgUp/PgDn scroll)\n\n");
    help_printf(&o, "Commands (type them in the input line; a unique prefix is enough):\n");
    for (int i = 0; i < CMD_COUNT_; i++) {
        const cmd_info *c = &commands_table[i];
        if (!c->name || (c->flags & CMD_F_PLANNED)) continue;
        char head[64];
        snprintf(head, sizeof head, "/%s%s%s", c->name, c->args[0] ? " " : "", c->args);
        help_printf(&o, "  %-22s %s%s%s%s\n", head, c->help, c->label[0] ? " [" : "", c->label,
                    c->label[0] ? "]" : "");
    }
    help_printf(&o, "\nKeys:\n");
    for (int i = 0; i < CMD_COUNT_; i++) {
        const cmd_info *c = &commands_table[i];
        if (c->ctx != CMD_CTX_ANY || !c->label[0] || c->name) continue;
        help_printf(&o, "  %-22s %s\n", c->label, c->help);
    }
    help_printf(&o, "  %-22s %s\n", "readline keys",
                "editing, history (Up/Down), Ctrl-R search; emacs or vi mode from ~/.inputrc");
    help_printf(&o, "\nIn the sampling panel (F2), or click/drag on a slider's track:\n");
    for (int i = 0; i < CMD_COUNT_; i++) {
        const cmd_info *c = &commands_table[i];
        if (c->ctx != CMD_CTX_PANEL) continue;
        const char *h = strncmp(c->help, "panel: ", 7) == 0 ? c->help + 7 : c->help;
        help_printf(&o, "  %-22s %s\n", c->label, h);
    }
    int first = 1;
    for (int i = 0; i < CMD_COUNT_; i++) {
        const cmd_info *c = &commands_table[i];
        if (!(c->flags & CMD_F_PLANNED)) continue;
        help_printf(&o, "%s/%s", first ? "\nLater versions: " : ", ", c->name);
        first = 0;
    }
    if (!first) help_printf(&o, "\n");
    if (o.failed) {
        free(o.s);
        return NULL;
    }
    return o.s;
}
