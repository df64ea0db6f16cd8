/* retrieve.h — the documents a conversation answers from (`--docs PATH`, a persona's
 * `documents:`, /docs add): their paths, their index kept up to date (in the caller's thread
 * for the command line, in background tasks for the chat screen, which polls a wake-up fd),
 * and for each question the best passages, handed to the chat (chat_set_candidates).
 *
 * Typical chat-screen use:
 *     docs *d = docs_init(NULL, &err);
 *     docs_add_async(d, "README.md", &err);          (poll docs_wake_fd(d); docs_poll)
 *     chat_add_user(c, q); docs_retrieve(d, c, intro, &err); chat_prepare(...)
 * The UI thread owns the docs object; only the tasks' callbacks run elsewhere. */
#ifndef NATTER_DOCS_RETRIEVE_H
#define NATTER_DOCS_RETRIEVE_H

#include "conv/chat.h"
#include "docs/docindex.h"

#include <stdbool.h>
#include <stddef.h>

#define DOCS_CANDIDATES 8 /* passages looked up per question (the chat places what fits) */
/* A question whose words missing from every passage weigh more than this share of all its
 * words (docindex_absent) asks about something the documents do not have: no passage is
 * placed, only a notice naming those words (docs_no_passage). Measured with the guide's
 * documents (README, man pages, the corpus): 30 of 40 questions about things natter lacks
 * go over it, 6 of 1,150 held-out phrasings of questions it answers (rare synonyms: "remap",
 * "scriptable") and 2 of 38 README/man questions ("listen", "routes"). */
#define DOCS_ABSENT_SHARE 0.4

typedef struct docs docs;

/* Opens the index at db (NULL: the default, docindex.h) for searching. NULL with err set. */
docs *docs_init(const char *db, nt_err *err);
/* Cancels and joins running tasks. Accepts NULL. */
void docs_free(docs *d);

/* Adds path (a file or a folder) to the documents and brings its index up to date now,
 * reporting through cb (may be NULL). NT_ERR_IO when the path is not there. */
int docs_add(docs *d, const char *path, const docindex_cb *cb, nt_err *err);
/* The same with the update in a background task: returns at once; docs_poll reports. */
int docs_add_async(docs *d, const char *path, nt_err *err);
/* Removes path from the documents (its index entries stay for next time). False when it was
 * not one of them. */
bool docs_drop(docs *d, const char *path);
size_t docs_count(const docs *d);
const char *docs_path_at(const docs *d, size_t i); /* resolved; borrowed */
/* Files and passages indexed under document i so far. */
int docs_stats(docs *d, size_t i, size_t *files, size_t *chunks, nt_err *err);

/* The descriptor the chat screen polls: readable when a task reported something. -1 when
 * none. */
int docs_wake_fd(const docs *d);
/* What the background tasks did since the last call: *busy whether one still runs, *p the
 * latest progress (p->path NULL), *notes (malloc'd lines, NULL when none; the caller frees)
 * the notes and errors. Joins finished tasks. Returns true when anything changed. */
bool docs_poll(docs *d, bool *busy, docindex_progress *p, char **notes);

/* The best DOCS_CANDIDATES passages for the chat's last question (its words, then the previous
 * question's), best first, without handing them to the chat: what docs_retrieve looks up, for
 * callers that choose among them first (natter train's open-book data). *hits is malloc'd
 * (chat_sources_free); no documents: none. When the question's own words the documents lack
 * weigh over DOCS_ABSENT_SHARE, there are no hits and *missing (malloc'd, else NULL) names
 * those words; not while a background task is still indexing (a word may be on its way).
 * NT_OK or an error from the index. */
int docs_find(docs *d, const chat *c, chat_source **hits, size_t *n_hits, char **missing,
              nt_err *err);
/* What the prompt places instead of passages when docs_find found the question's words
 * missing: intro (the persona's text before passages; NULL: none), then a line naming the
 * words. malloc'd; NULL on OOM. */
char *docs_no_passage(const char *intro, const char *missing);
/* Looks up the passages for the chat's last question (its words, then the previous
 * question's, for follow-ups) and hands the best DOCS_CANDIDATES to chat_set_candidates with
 * intro, or docs_no_passage's notice without passages. No documents: no candidates. NT_OK,
 * or an error from the index or NT_ERR_NOMEM. */
int docs_retrieve(docs *d, chat *c, const char *intro, nt_err *err);

#endif
