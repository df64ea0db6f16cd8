/* cli_docs.c — the documents of the chat modes: --docs paths and a persona's `documents:`
 * opened for retrieval, and --context files too long for the context moved there (see
 * cli.h). */
#include "cli.h"

#include "conv/chat.h"
#include "conv/persona.h"
#include "docs/retrieve.h"
#include "util/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_context_fit(struct chat *c, struct persona *p, const char *model_name, const char *system,
                    int model_family, char **moved, size_t cap, size_t *n_moved, char *note,
                    size_t note_cap, nt_err *err)
{
    *n_moved = 0;
    if (note_cap) note[0] = '\0';
    int32_t fixed = 0;
    int rc = chat_count_fixed(c, &fixed, err);
    if (rc != NT_OK) return rc;
    int32_t n_ctx = chat_n_ctx(c);
    /* The room chat_prepare keeps for an answer: a quarter of the context. */
    if ((int64_t)fixed + n_ctx / 4 <= n_ctx) return NT_OK;
    size_t len = 0;
    for (size_t i = p->n_docs; i-- > 0 && *n_moved < cap;) {
        if (!p->docs[i].file) continue;
        char *f = strdup(p->docs[i].file);
        if (!f) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        moved[(*n_moved)++] = f;
        persona_drop_doc(p, i);
        if (len < note_cap)
            len += (size_t)snprintf(note + len, note_cap - len, "%s%s", len ? ", " : "", f);
    }
    if (*n_moved == 0) return NT_OK;
    rc = cli_chat_persona(c, p, model_name, system, model_family, err);
    if (rc != NT_OK) return rc;
    int32_t now = 0;
    if (chat_count_fixed(c, &now, err) != NT_OK) now = 0;
    if (len < note_cap)
        snprintf(note + len, note_cap - len, ": %d tokens with the persona, the context holds %d;"
                 " answering from passages found in %s instead", (int)fixed, (int)n_ctx,
                 *n_moved == 1 ? "it" : "them");
    return NT_OK;
}

/* The progress line on stderr: rewritten in place, ended at the last file. */
static void cli_docs_progress(const docindex_progress *p, void *user)
{
    (void)user;
    if (p->files_total == 0) return;
    int pct = (int)(p->files_done * 100 / p->files_total);
    char bar[21];
    for (int i = 0; i < 20; i++) bar[i] = i < pct / 5 ? '#' : '.';
    bar[20] = '\0';
    fprintf(stderr, "\rnatter: indexing [%s] %3d%% %zu/%zu files, %.1f MB", bar, pct,
            p->files_done, p->files_total, (double)p->bytes_done / 1e6);
    if (p->files_done == p->files_total && !p->path) fputc('\n', stderr);
    fflush(stderr);
}

static void cli_docs_note(const char *line, void *user)
{
    bool *tty = user;
    if (*tty) fputc('\r', stderr);
    fputs("natter: ", stderr);
    cli_write_text(stderr, line, strlen(line), *tty); /* file names drive nothing */
    fputc('\n', stderr);
}

struct docs *cli_docs_open(const struct cli_opts *o, const struct persona *p,
                           char *const *extra, size_t n_extra, bool background, nt_err *err)
{
    if (err) err->code = NT_OK;
    size_t n = (size_t)o->n_docs + n_extra + (p ? p->documents.n : 0);
    if (n == 0) return NULL;
    docs *d = docs_init(NULL, err);
    if (!d) return NULL;
    bool tty = isatty(STDERR_FILENO);
    docindex_cb cb = {.progress = tty ? cli_docs_progress : NULL, .note = cli_docs_note,
                      .user = &tty};
    for (size_t i = 0; i < n; i++) {
        const char *path = i < (size_t)o->n_docs ? o->docs[i]
                           : i < (size_t)o->n_docs + n_extra ? extra[i - (size_t)o->n_docs]
                                                             : p->documents.v[i - (size_t)o->n_docs - n_extra];
        int rc = background ? docs_add_async(d, path, err) : docs_add(d, path, &cb, err);
        if (rc != NT_OK) {
            docs_free(d);
            return NULL;
        }
    }
    return d;
}
