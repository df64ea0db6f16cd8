/* retrieve.c — a conversation's documents: paths, background indexing, retrieval into the
 * chat (see retrieve.h). */
#include "docs/retrieve.h"

#include "util/strbuf.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* What the tasks' callbacks (their threads) leave for the UI thread. */
typedef struct docs_shared {
    pthread_mutex_t mu;
    docindex_progress p; /* the latest (path not kept) */
    strbuf notes;
    bool changed;
    double last_wake;    /* progress wakes the UI at most every 50 ms */
    int wake_w;          /* the pipe's write end (non-blocking) */
} docs_shared;

struct docs {
    docindex *ix;
    docs_shared sh;
    int wake_r;
    docindex_task **tasks;
    size_t n_tasks;
};

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void docs_wake(docs_shared *sh)
{
    char c = 1;
    if (sh->wake_w >= 0 && write(sh->wake_w, &c, 1) < 0) {
        /* Full: the UI has a wake-up pending already. */
    }
}

static void on_progress(const docindex_progress *p, void *user)
{
    docs_shared *sh = user;
    pthread_mutex_lock(&sh->mu);
    sh->p = *p;
    sh->p.path = NULL;
    sh->changed = true;
    double now = now_sec();
    bool wake = now - sh->last_wake > 0.05 || p->files_done == p->files_total;
    if (wake) sh->last_wake = now;
    pthread_mutex_unlock(&sh->mu);
    if (wake) docs_wake(sh);
}

static void on_note(const char *line, void *user)
{
    docs_shared *sh = user;
    pthread_mutex_lock(&sh->mu);
    strbuf_puts(&sh->notes, line);
    strbuf_putc(&sh->notes, '\n');
    sh->changed = true;
    pthread_mutex_unlock(&sh->mu);
    docs_wake(sh);
}

static void on_done(void *user)
{
    docs_shared *sh = user;
    pthread_mutex_lock(&sh->mu);
    sh->changed = true;
    pthread_mutex_unlock(&sh->mu);
    docs_wake(sh); /* the UI joins the task and says the documents are ready */
}

docs *docs_init(const char *db, nt_err *err)
{
    docs *d = calloc(1, sizeof *d);
    if (!d) {
        nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    d->wake_r = d->sh.wake_w = -1;
    pthread_mutex_init(&d->sh.mu, NULL);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
        d->wake_r = fds[0];
        d->sh.wake_w = fds[1];
    }
    if (docindex_open(&d->ix, db, err) != NT_OK) {
        docs_free(d);
        return NULL;
    }
    return d;
}

void docs_free(docs *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n_tasks; i++) docindex_task_cancel(d->tasks[i]);
    for (size_t i = 0; i < d->n_tasks; i++) docindex_task_join(d->tasks[i], NULL);
    free(d->tasks);
    docindex_free(d->ix);
    if (d->wake_r >= 0) close(d->wake_r);
    if (d->sh.wake_w >= 0) close(d->sh.wake_w);
    strbuf_free(&d->sh.notes);
    pthread_mutex_destroy(&d->sh.mu);
    free(d);
}

int docs_add(docs *d, const char *path, const docindex_cb *cb, nt_err *err)
{
    int rc = docindex_update(d->ix, path, cb, err);
    if (rc == NT_OK) rc = docindex_scope_add(d->ix, path, err);
    return rc;
}

int docs_add_async(docs *d, const char *path, nt_err *err)
{
    /* In the scope at once (searches find what is indexed so far); a missing path is said
     * now rather than by the task. */
    int rc = docindex_scope_add(d->ix, path, err);
    if (rc != NT_OK) return rc;
    docindex_task **nt = realloc(d->tasks, (d->n_tasks + 1) * sizeof *nt);
    if (!nt) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    d->tasks = nt;
    docindex_cb cb = {.progress = on_progress, .note = on_note, .done = on_done, .user = &d->sh};
    docindex_task *t = docindex_task_start(docindex_path(d->ix), &path, 1, &cb, err);
    if (!t) return err ? err->code : NT_ERR_NOMEM;
    d->tasks[d->n_tasks++] = t;
    return NT_OK;
}

bool docs_drop(docs *d, const char *path) { return docindex_scope_drop(d->ix, path); }
size_t docs_count(const docs *d) { return docindex_scope_count(d->ix); }
const char *docs_path_at(const docs *d, size_t i) { return docindex_scope_at(d->ix, i); }

int docs_stats(docs *d, size_t i, size_t *files, size_t *chunks, nt_err *err)
{
    return docindex_scope_stats(d->ix, i, files, chunks, err);
}

int docs_wake_fd(const docs *d) { return d ? d->wake_r : -1; }

bool docs_poll(docs *d, bool *busy, docindex_progress *p, char **notes)
{
    char buf[64];
    while (d->wake_r >= 0 && read(d->wake_r, buf, sizeof buf) > 0) {
    }
    bool joined = false;
    for (size_t i = 0; i < d->n_tasks;) {
        if (!docindex_task_done(d->tasks[i])) {
            i++;
            continue;
        }
        /* Its errors were notes already (the task reports each path's). */
        docindex_task_join(d->tasks[i], NULL);
        memmove(d->tasks + i, d->tasks + i + 1, (d->n_tasks - i - 1) * sizeof *d->tasks);
        d->n_tasks--;
        joined = true;
    }
    pthread_mutex_lock(&d->sh.mu);
    bool changed = d->sh.changed || joined;
    d->sh.changed = false;
    *p = d->sh.p;
    *notes = d->sh.notes.n ? strbuf_take(&d->sh.notes, NULL) : NULL;
    pthread_mutex_unlock(&d->sh.mu);
    *busy = d->n_tasks > 0;
    return changed;
}

/* Whether q points back at what came before ("and how long should it stand?"): its subject
 * is then in the earlier question, and words of its own that the documents lack ("long")
 * say nothing about whether they have the answer. */
static bool refers_back(const char *q)
{
    static const char *const words[] = {"it", "its", "they", "them", "their", "this", "that",
                                        "these", "those", "he", "she", "him", "her", NULL};
    bool first = true;
    for (const char *s = q; *s; first = false) {
        while (*s && !isalnum((unsigned char)*s)) s++;
        const char *w = s;
        while (isalnum((unsigned char)*s)) s++;
        size_t n = (size_t)(s - w);
        if (!n) break;
        for (size_t i = 0; words[i]; i++)
            if (strlen(words[i]) == n && !strncasecmp(words[i], w, n)) return true;
        /* "and ...?", "also ...?", "what about ...?", "how about ...?" open a follow-up. */
        if (first && ((n == 3 && !strncasecmp(w, "and", 3)) || (n == 4 && !strncasecmp(w, "also", 4))))
            return true;
        if (first && ((n == 4 && !strncasecmp(w, "what", 4)) || (n == 3 && !strncasecmp(w, "how", 3))) &&
            !strncasecmp(s, " about ", 7))
            return true;
    }
    return false;
}

int docs_find(docs *d, const chat *c, chat_source **hits, size_t *n_hits, char **missing,
              nt_err *err)
{
    *hits = NULL;
    *n_hits = 0;
    *missing = NULL;
    if (!d || docs_count(d) == 0) return NT_OK;
    /* The question, then the one before it: a follow-up ("and how often?") finds the
     * passages of what it follows. Answers are left out: a wrong one would steer the search. */
    const char *texts[2] = {NULL, NULL};
    size_t n = 0;
    for (size_t i = chat_n_turns(c); i-- > 0 && n < 2;) {
        const chat_turn *t = chat_turn_at(c, i);
        if (t->role == NT_ROLE_USER) texts[n++] = t->text;
    }
    /* A question about what the documents do not have finds passages anyway, on its
     * common words ("Does it have a calendar?" finds a passage about what natter has);
     * placed, they invite an answer made up from them. Not for a follow-up: its subject is
     * in the question before it. */
    if (n > 0 && d->n_tasks == 0 && !(n > 1 && refers_back(texts[0]))) {
        double share = 0;
        char *words = NULL;
        int rc = docindex_absent(d->ix, texts[0], &share, &words, err);
        if (rc != NT_OK) return rc;
        if (share > DOCS_ABSENT_SHARE) {
            *missing = words;
            return NT_OK;
        }
        free(words);
    }
    char *q = docindex_query(texts, n);
    if (!q) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    /* A question naming an option or a command (--prompt, /regen): the passages that hold
     * the name first, up to half the candidates, then the word search's best. */
    char *lit = docindex_literal(texts[0]);
    chat_source *v = NULL, *b = NULL;
    size_t nv = 0, nb = 0;
    int rc = docindex_search(d->ix, q, NULL, DOCS_CANDIDATES, &b, &nb, err);
    if (rc == NT_OK && lit) rc = docindex_search(d->ix, q, lit, DOCS_CANDIDATES / 2, &v, &nv, err);
    free(lit);
    free(q);
    if (rc == NT_OK && nv > 0) {
        chat_source *grown = realloc(v, DOCS_CANDIDATES * sizeof *v);
        if (!grown) rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        else v = grown;
    }
    if (rc != NT_OK || nv == 0) {
        chat_sources_free(v, nv);
        if (rc != NT_OK) chat_sources_free(b, nb);
        *hits = rc == NT_OK ? b : NULL;
        *n_hits = rc == NT_OK ? nb : 0;
        return rc;
    }
    for (size_t i = 0; i < nb && nv < DOCS_CANDIDATES; i++) {
        bool dup = false;
        for (size_t j = 0; j < nv && !dup; j++)
            dup = v[j].line_a == b[i].line_a && !strcmp(v[j].path, b[i].path);
        if (dup) continue;
        v[nv++] = b[i];
        b[i] = (chat_source){0}; /* moved */
    }
    chat_sources_free(b, nb);
    *hits = v;
    *n_hits = nv;
    return NT_OK;
}

char *docs_no_passage(const char *intro, const char *missing)
{
    strbuf b = {0};
    if (intro && intro[0]) strbuf_printf(&b, "%s\n\n", intro);
    strbuf_printf(&b, "=== No passage: the documents do not mention %s ===", missing);
    return strbuf_take(&b, NULL);
}

int docs_retrieve(docs *d, chat *c, const char *intro, nt_err *err)
{
    if (!d || docs_count(d) == 0) return chat_set_candidates(c, NULL, 0, NULL);
    chat_source *hits = NULL;
    size_t nh = 0;
    char *missing = NULL;
    int rc = docs_find(d, c, &hits, &nh, &missing, err);
    if (rc != NT_OK) return rc;
    if (missing) {
        char *notice = docs_no_passage(intro, missing);
        rc = notice ? chat_set_candidates(c, NULL, 0, notice) : NT_ERR_NOMEM;
        free(notice);
        free(missing);
    } else {
        /* Nothing found: no intro either (the question goes as in a chat without documents). */
        rc = chat_set_candidates(c, hits, nh, nh ? intro : NULL);
    }
    chat_sources_free(hits, nh);
    return rc == NT_OK ? NT_OK : nt_err_set(err, rc, "out of memory");
}
