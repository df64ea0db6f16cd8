/* tui_docs.c — the chat screen's documents (app/docs/retrieve.h): --docs and a persona's
 * `documents:` indexed in background tasks with a progress bar on the message line, /docs
 * add|list|drop, /sources, and the passages looked up before each answer (see tui_int.h). */
#include "tui_int.h"

#include "term.h"

#include "util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tui_docs_fd(const tui *t) { return t->docs ? docs_wake_fd(t->docs) : -1; }

int tui_docs_add(tui *t, const char *path)
{
    nt_err err = {0};
    if (!t->docs && !(t->docs = docs_init(NULL, &err)))
        return tui_message(t, TS_ERROR, "documents: %s", err.msg);
    if (docs_add_async(t->docs, path, &err) != NT_OK)
        return tui_message(t, TS_ERROR, "/docs add: %s", err.msg);
    return tui_message(t, TS_NOTE, "indexing %s...", path);
}

void tui_docs_persona(tui *t, const persona *p, char *const *moved, size_t n_moved)
{
    for (size_t i = 0; i < n_moved; i++) tui_docs_add(t, moved[i]);
    for (size_t i = 0; i < p->documents.n; i++) tui_docs_add(t, p->documents.v[i]);
}

int tui_docs_events(tui *t)
{
    if (!t->docs) return 0;
    bool busy = false;
    docindex_progress p;
    char *notes = NULL;
    if (!docs_poll(t->docs, &busy, &p, &notes)) return 0;
    int f = 0;
    if (notes) {
        /* Files skipped and paths that were not there: in the history, where they stay. */
        size_t n = strlen(notes);
        while (n > 0 && notes[n - 1] == '\n') notes[--n] = '\0';
        ui_set_note(&t->u, UI_NOTE_INFO, notes);
        t->u.hist.follow = true;
        f |= UI_R_HISTORY;
        free(notes);
    }
    if (busy && t->plain) return f; /* a line each would flood it: only "ready" is said */
    if (busy && p.files_total > 0) {
        int pct = (int)(p.files_done * 100 / p.files_total);
        char bar[21];
        for (int i = 0; i < 20; i++) bar[i] = i < pct / 5 ? '#' : '.';
        bar[20] = '\0';
        return f | tui_message(t, TS_NOTE, "indexing documents [%s] %d%%  %zu/%zu files, %.1f MB",
                               bar, pct, p.files_done, p.files_total, (double)p.bytes_done / 1e6);
    }
    if (!busy) {
        size_t files = 0, chunks = 0;
        nt_err err = {0};
        for (size_t i = 0; i < docs_count(t->docs); i++) {
            size_t fi, ch;
            if (docs_stats(t->docs, i, &fi, &ch, &err) == NT_OK) files += fi, chunks += ch;
        }
        return f | tui_message(t, TS_NOTE, "documents ready: %zu files, %zu passages", files, chunks);
    }
    return f;
}

int tui_docs_retrieve(tui *t)
{
    nt_err err = {0};
    if (!t->docs || t->opts->raw) return 0;
    if (docs_retrieve(t->docs, t->chat, t->docs_intro, &err) != NT_OK)
        return tui_message(t, TS_WARNING, "documents: %s (answering without passages)", err.msg);
    return 0;
}

/* /docs list: each path with what is indexed under it so far. */
static int tui_docs_list(tui *t)
{
    if (!t->docs || docs_count(t->docs) == 0)
        return tui_message(t, TS_NOTE, "no documents: /docs add PATH (a file or a folder)");
    strbuf b = {0};
    for (size_t i = 0; i < docs_count(t->docs); i++) {
        size_t files = 0, chunks = 0;
        nt_err err = {0};
        docs_stats(t->docs, i, &files, &chunks, &err);
        char *shown = docindex_display_path(docs_path_at(t->docs, i));
        strbuf_printf(&b, "%s%s  (%zu file%s, %zu passage%s)", i ? "\n" : "",
                      shown ? shown : docs_path_at(t->docs, i), files, files == 1 ? "" : "s",
                      chunks, chunks == 1 ? "" : "s");
        free(shown);
    }
    char *s = strbuf_take(&b, NULL);
    if (!s) return tui_message(t, TS_ERROR, "/docs: out of memory");
    ui_set_note(&t->u, UI_NOTE_INFO, s);
    free(s);
    t->u.hist.follow = true;
    return UI_R_HISTORY | tui_message(t, TS_NOTE, "the documents answers draw from (shown above)");
}

int tui_docs_command(tui *t, const char *args)
{
    while (*args == ' ') args++;
    const char *rest = args + strcspn(args, " ");
    size_t verb = (size_t)(rest - args);
    while (*rest == ' ') rest++;
    if (verb == 0 || (verb == 4 && !strncmp(args, "list", 4))) return tui_docs_list(t);
    if (verb == 3 && !strncmp(args, "add", 3)) {
        if (!*rest) return tui_message(t, TS_ERROR, "/docs add: which file or folder?");
        return tui_docs_add(t, rest);
    }
    if (verb == 4 && !strncmp(args, "drop", 4)) {
        if (!*rest) return tui_message(t, TS_ERROR, "/docs drop: which file or folder?");
        if (!t->docs || !docs_drop(t->docs, rest))
            return tui_message(t, TS_ERROR, "/docs drop: %.200s is not one of the documents "
                                            "(/docs list shows them)", rest);
        return tui_message(t, TS_NOTE, "%.200s dropped: the next answers do not draw from it", rest);
    }
    return tui_message(t, TS_ERROR, "/docs: add PATH, list or drop PATH, not '%.40s'", args);
}

int tui_sources(tui *t)
{
    const chat_turn *a = NULL;
    for (size_t i = chat_n_turns(t->chat); i-- > 0 && !a;) {
        const chat_turn *x = chat_turn_at(t->chat, i);
        if (x->role == NT_ROLE_ASSISTANT) a = x;
    }
    if (!a) return tui_message(t, TS_NOTE, "no answer yet");
    char *notice = chat_turn_notice(a);
    if (notice) {
        int r = tui_message(t, TS_NOTE, "%s", notice);
        free(notice);
        return r;
    }
    if (a->n_sources == 0)
        return tui_message(t, TS_NOTE, t->docs ? "the last answer was given no passage"
                                               : "no documents: /docs add PATH, or natter --docs PATH");
    strbuf b = {0};
    for (size_t i = 0; i < a->n_sources; i++) {
        const chat_source *s = &a->sources[i];
        char label[1200];
        chat_source_label(s, label, sizeof label);
        strbuf_printf(&b, "%s[%zu] %s  score %.2f%s%s\n%s", i ? "\n\n" : "", i + 1, label, s->score,
                      s->title[0] ? "  " : "", s->title, s->text);
    }
    char *s = strbuf_take(&b, NULL);
    if (!s) return tui_message(t, TS_ERROR, "/sources: out of memory");
    ui_set_note(&t->u, UI_NOTE_INFO, s);
    free(s);
    t->u.hist.follow = true;
    return UI_R_HISTORY | tui_message(t, TS_NOTE, "the %zu passage%s the last answer was given "
                                                  "(shown above)", a->n_sources,
                                      a->n_sources == 1 ? "" : "s");
}
