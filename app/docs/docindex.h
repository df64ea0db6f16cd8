/* docindex.h — the document index: files and folders cut into passages (app/docs/chunk.h),
 * kept in SQLite with its FTS5 full-text engine and ranked by BM25, for retrieval into the
 * prompt (`natter --docs PATH`, a persona's `documents:`, /docs add).
 *
 * One database, $XDG_CACHE_HOME/natter/index/docs.sqlite (else ~/.cache/natter/index/),
 * shared by every natter: WAL mode (readers never wait for a writer) and a busy timeout (two
 * writers take turns), each file's rows replaced in one IMMEDIATE transaction, so two natters
 * indexing the same folder at once leave it whole. The update is incremental: a file whose
 * size and modification time are unchanged is not read; one whose content hash (XXH3) is
 * unchanged is not re-cut; files gone from a folder leave the index. Folders are walked
 * recursively (names starting with '.' skipped), symbolic links followed once (a loop is
 * noticed by device and inode), anything but regular files (FIFOs, devices, sockets) left
 * unopened; binary files (NUL bytes or not UTF-8) are recorded without passages and reported
 * in a note.
 *
 * What a connection searches is its scope: the files and folders added to it
 * (docindex_scope_add), not everything in the shared database.
 *
 * A connection belongs to one thread. docindex_task runs an update in a thread of its own
 * (with its own connection) so that the chat never waits for it; its callbacks run in that
 * thread. No terminal code here. */
#ifndef NATTER_DOCS_DOCINDEX_H
#define NATTER_DOCS_DOCINDEX_H

#include "conv/chat.h"
#include "natter.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOCINDEX_MAX_FILE (64u << 20) /* larger files are skipped with a note */
#define DOCINDEX_BUSY_MS 30000        /* how long a writer waits for another natter's */
#define DOCINDEX_DF_CAP 1000           /* docindex_absent counts a word's passages up to this */

typedef struct docindex docindex;

/* Where an update is (counts so far; totals known once the walk is done). */
typedef struct docindex_progress {
    size_t files_total, files_done;
    uint64_t bytes_total, bytes_done;
    size_t indexed;   /* files read and cut anew */
    size_t unchanged; /* files skipped: same size and time, or same content */
    size_t skipped;   /* binary, too large, unreadable */
    size_t removed;   /* files gone from the folders, dropped from the index */
    size_t chunks;    /* passages written */
    const char *path; /* the file being read (borrowed, valid during the callback) */
} docindex_progress;

/* Callbacks of an update (any may be NULL). note gets one line (e.g. "x.bin: skipped: binary
 * file"), borrowed for the call. cancel, when set, stops the update between files. */
typedef struct docindex_cb {
    void (*progress)(const docindex_progress *p, void *user);
    void (*note)(const char *line, void *user);
    /* docindex_task only: called last, once docindex_task_done() is true. */
    void (*done)(void *user);
    void *user;
    atomic_bool *cancel;
} docindex_cb;

/* The database's path: $XDG_CACHE_HOME/natter/index/docs.sqlite, else under ~/.cache.
 * malloc'd; NULL without a home. */
char *docindex_default_path(void);
/* Opens (creating it and its folder when missing) the index at db (NULL: the default). */
int docindex_open(docindex **out, const char *db, nt_err *err);
void docindex_free(docindex *d);
const char *docindex_path(const docindex *d); /* the database file; borrowed */

/* Brings the index up to date with path (a file or a folder, recursively). Errors about the
 * path itself (missing, unreadable) are returned; problems with files inside a folder are
 * notes. NT_ERR_CANCELLED when cb->cancel stopped it (what was done stays). */
int docindex_update(docindex *d, const char *path, const docindex_cb *cb, nt_err *err);

/* The scope: the paths searched. Stored resolved (realpath); adding one already there is a
 * no-op. NT_ERR_IO when the path does not exist. */
int docindex_scope_add(docindex *d, const char *path, nt_err *err);
/* Removes path (as given to add or resolved) from the scope; false when it was not there. */
bool docindex_scope_drop(docindex *d, const char *path);
size_t docindex_scope_count(const docindex *d);
const char *docindex_scope_at(const docindex *d, size_t i); /* resolved; borrowed */
/* Files and passages under scope entry i (0 each when not indexed yet). */
int docindex_scope_stats(docindex *d, size_t i, size_t *files, size_t *chunks, nt_err *err);

/* The FTS5 query for texts[0..n) (the question first, then recent turns): their words,
 * common English words left out, each quoted (nothing of FTS5's syntax passes through),
 * joined with OR, at most 48 terms; when n > 1 the question's own words come twice (double
 * weight). malloc'd; "" when no word is left; NULL on OOM. */
char *docindex_query(const char *const *texts, size_t n);
/* The first name in text that a word search cannot tell from common words: a long option
 * (--prompt) or a slash command (/regen) at a word's start, as typed (malloc'd, at most 64
 * bytes), or NULL when there is none (or on OOM: the search then goes without it). */
char *docindex_literal(const char *text);
/* The k best passages in scope for the FTS5 query q (from docindex_query), best first (ties
 * by path and line), as the chat takes them (chat.h's chat_source: path as
 * docindex_display_path shows it, heading, text, lines, BM25 score with higher better).
 * With literal (from docindex_literal; NULL: none), only passages whose text holds it
 * verbatim. *hits is malloc'd (chat_sources_free), *n_hits may be 0. */
int docindex_search(docindex *d, const char *q, const char *literal, size_t k,
                    chat_source **hits, size_t *n_hits, nt_err *err);

/* How much of text's meaning the documents in scope lack: the words of text (as
 * docindex_query takes them) that no passage in scope holds, weighed by BM25's inverse
 * document frequency; words common in any English text ("long", "take") and words without
 * an ASCII letter or digit (symbols the tokenizer drops) are not weighed. *share gets their weight over all its words' (0: every word is in
 * some passage, or no word, or nothing indexed in scope), *words those words, ", "-joined
 * (malloc'd; NULL when none). NT_OK or an error from the index. */
int docindex_absent(docindex *d, const char *text, double *share, char **words, nt_err *err);

/* An absolute path as shown to people: relative to the current folder when under it.
 * malloc'd. */
char *docindex_display_path(const char *abs);

/* ---- an update in the background ---- */

typedef struct docindex_task docindex_task;
/* Starts a thread that opens db (NULL: the default) and updates each of paths[0..n) in turn
 * (copied), calling cb's callbacks from that thread. NULL with err set when it cannot start. */
docindex_task *docindex_task_start(const char *db, const char *const *paths, size_t n,
                                   const docindex_cb *cb, nt_err *err);
/* True once the thread has finished (the caller then joins it). */
bool docindex_task_done(docindex_task *t);
/* Asks the thread to stop between files. */
void docindex_task_cancel(docindex_task *t);
/* Waits for the thread, frees the task and returns its result (the first error, in err).
 * NULL: NT_OK. */
int docindex_task_join(docindex_task *t, nt_err *err);

#endif
