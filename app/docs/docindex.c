/* docindex.c — the document index on SQLite FTS5 (see docindex.h): the schema, the walk,
 * the incremental update, the scope, the BM25 search and the background task. */
#include "docs/docindex.h"

#include "docs/chunk.h"
#include "util/strbuf.h"
#include "util/yamlcfg.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define DOCINDEX_SCHEMA 2 /* PRAGMA user_version of the tables below */

/* files: one row per file seen (binary ones too, with no passages, so an unchanged binary
 * file is not read again). chunks: a passage's file and lines; its title and text live in
 * the FTS5 table under the same rowid. The porter stemmer lets "indexing" find "index". */
static const char docindex_schema[] =
    "CREATE TABLE IF NOT EXISTS files("
    "  id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL,"
    "  mtime INTEGER NOT NULL, hash TEXT NOT NULL, kind TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS chunks("
    "  id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, line_a INTEGER NOT NULL,"
    "  line_b INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS chunks_file ON chunks(file_id);"
    "CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, text, terms,"
    "  tokenize = 'porter unicode61 remove_diacritics 2');"
    "PRAGMA user_version = 2;";

/* An index of schema 1 (no search terms column): a cache, so it is emptied and filled again
 * as its files are next seen. */
static const char docindex_upgrade_1[] =
    "DROP TABLE IF EXISTS fts; DELETE FROM chunks; DELETE FROM files;";

/* A scope entry: the resolved path and the bounds of the paths under it. */
typedef struct docindex_root {
    char *path;
    char *lo, *hi; /* path + "/" and path + "0" ('0' follows '/'): under it, lo <= p < hi */
} docindex_root;

struct docindex {
    sqlite3 *db;
    char *path;
    docindex_root *roots;
    size_t n_roots;
};

static int db_error(nt_err *err, sqlite3 *db, const char *what)
{
    int code = sqlite3_errcode(db);
    /* A damaged or foreign file: the index is only a cache of the documents, so the fix is
     * to remove it. */
    bool bad = code == SQLITE_NOTADB || code == SQLITE_CORRUPT;
    return nt_err_set(err, NT_ERR_IO, "document index: %s: %s%s", what, sqlite3_errmsg(db),
                      bad ? " (remove it: the index is a cache natter makes again)" : "");
}

/* ---------------------------------------------------------------- open and close ---- */

char *docindex_default_path(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    strbuf b = {0};
    if (xdg && xdg[0] == '/') strbuf_printf(&b, "%s/natter/index/docs.sqlite", xdg);
    else if (home && home[0]) strbuf_printf(&b, "%s/.cache/natter/index/docs.sqlite", home);
    else return NULL;
    return strbuf_take(&b, NULL);
}

/* mkdir -p for the folders of file path. */
static int make_parents(const char *path)
{
    char *p = strdup(path);
    if (!p) return ENOMEM;
    int rc = 0;
    for (char *s = p + 1; *s && !rc; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) rc = errno;
        *s = '/';
    }
    free(p);
    return rc;
}

/* Runs sql, again while SQLite answers BUSY, for up to DOCINDEX_BUSY_MS. Turning a new
 * database to WAL needs it alone, and SQLite says BUSY at once, without calling the busy
 * handler, when another connection has it open at that moment (two natters indexing a new
 * folder together: one of them failed to open it, half the time, before this). */
static int exec_retry(sqlite3 *db, const char *sql)
{
    int rc, waited = 0;
    while ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) == SQLITE_BUSY && waited < DOCINDEX_BUSY_MS) {
        usleep(10 * 1000);
        waited += 10;
    }
    return rc;
}

int docindex_open(docindex **out, const char *db, nt_err *err)
{
    *out = NULL;
    docindex *d = calloc(1, sizeof *d);
    if (!d) return nt_err_set(err, NT_ERR_NOMEM, "document index: out of memory");
    d->path = db ? strdup(db) : docindex_default_path();
    int rc;
    if (!d->path) {
        rc = nt_err_set(err, NT_ERR_IO, "document index: no $XDG_CACHE_HOME or $HOME for its folder");
        goto fail;
    }
    int e = make_parents(d->path);
    if (e) {
        rc = nt_err_set(err, NT_ERR_IO, "document index: %s: cannot make its folder: %s", d->path,
                        strerror(e));
        goto fail;
    }
    /* Something else where the index goes (a FIFO, a folder): SQLite would only say "disk
     * I/O error". Named as every reader names it (nt_open_regular, which never blocks). */
    struct stat st_db;
    if (stat(d->path, &st_db) == 0 && !S_ISREG(st_db.st_mode)) {
        nt_err kind = {0};
        uint64_t size;
        int fd = nt_open_regular(d->path, &size, &kind);
        if (fd >= 0) close(fd);
        rc = nt_err_set(err, NT_ERR_IO, "document index: %s: %s (move it away: the index is a "
                        "cache natter makes again)", d->path, kind.msg[0] ? kind.msg : "not a regular file");
        goto fail;
    }
    if (sqlite3_open_v2(d->path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                        SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = nt_err_set(err, NT_ERR_IO, "document index: %s: %s", d->path,
                        d->db ? sqlite3_errmsg(d->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(d->db, DOCINDEX_BUSY_MS);
    /* WAL: a natter searching never waits for another one indexing. NORMAL synchronous is
     * safe in WAL mode (a crash loses at most the last commits, never the database). */
    if (exec_retry(d->db, "PRAGMA journal_mode=WAL") != SQLITE_OK ||
        sqlite3_exec(d->db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(err, d->db, d->path);
        goto fail;
    }
    /* Two natters creating the tables at once: the IMMEDIATE transaction makes one wait. */
    if (sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(err, d->db, d->path);
        goto fail;
    }
    int version = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (version > DOCINDEX_SCHEMA) {
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
        rc = nt_err_set(err, NT_ERR_FORMAT, "document index: %s: written by a newer natter "
                        "(schema %d); remove it to rebuild", d->path, version);
        goto fail;
    }
    if ((version == 1 && sqlite3_exec(d->db, docindex_upgrade_1, NULL, NULL, NULL) != SQLITE_OK) ||
        sqlite3_exec(d->db, docindex_schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(err, d->db, d->path);
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    *out = d;
    return NT_OK;
fail:
    docindex_free(d);
    return rc;
}

void docindex_free(docindex *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n_roots; i++) {
        free(d->roots[i].path);
        free(d->roots[i].lo);
        free(d->roots[i].hi);
    }
    free(d->roots);
    sqlite3_close(d->db);
    free(d->path);
    free(d);
}

const char *docindex_path(const docindex *d) { return d->path; }

/* ------------------------------------------------------------------------- walk ---- */

typedef struct wfile {
    char *path;
    uint64_t size;
    int64_t mtime; /* nanoseconds */
} wfile;

typedef struct walk {
    wfile *v;
    size_t n, cap;
    struct { dev_t dev; ino_t ino; } *dirs; /* folders entered (symlink loops) */
    size_t n_dirs, cap_dirs;
    const docindex_cb *cb;
    bool oom;
} walk;

static void note(const docindex_cb *cb, const char *fmt, ...) NT_PRINTF(2, 3);
static void note(const docindex_cb *cb, const char *fmt, ...)
{
    if (!cb || !cb->note) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cb->note(line, cb->user);
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void walk_file(walk *w, const char *path, const struct stat *st)
{
    if (w->n == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 64;
        wfile *nv = realloc(w->v, ncap * sizeof *nv);
        if (!nv) {
            w->oom = true;
            return;
        }
        w->v = nv;
        w->cap = ncap;
    }
    char *p = strdup(path);
    if (!p) {
        w->oom = true;
        return;
    }
    w->v[w->n++] = (wfile){p, (uint64_t)st->st_size, mtime_ns(st)};
}

/* path (already stat'ed, following links) into the list: a file, or a folder's files. */
static void walk_path(walk *w, const char *path, const struct stat *st, int depth)
{
    if (w->oom || (w->cb && w->cb->cancel && atomic_load(w->cb->cancel))) return;
    if (S_ISREG(st->st_mode)) {
        walk_file(w, path, st);
        return;
    }
    if (!S_ISDIR(st->st_mode)) {
        note(w->cb, "%s: skipped: not a regular file", path);
        return;
    }
    for (size_t i = 0; i < w->n_dirs; i++)
        if (w->dirs[i].dev == st->st_dev && w->dirs[i].ino == st->st_ino) return; /* seen */
    if (depth > 64) {
        note(w->cb, "%s: skipped: folders nested too deep", path);
        return;
    }
    if (w->n_dirs == w->cap_dirs) {
        size_t ncap = w->cap_dirs ? w->cap_dirs * 2 : 32;
        void *nv = realloc(w->dirs, ncap * sizeof *w->dirs);
        if (!nv) {
            w->oom = true;
            return;
        }
        w->dirs = nv;
        w->cap_dirs = ncap;
    }
    w->dirs[w->n_dirs].dev = st->st_dev;
    w->dirs[w->n_dirs].ino = st->st_ino;
    w->n_dirs++;
    DIR *dir = opendir(path);
    if (!dir) {
        note(w->cb, "%s: skipped: %s", path, strerror(errno));
        return;
    }
    /* Names sorted, so that the order of the walk (and of ties in the index) is the same
     * on every machine. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        if (e->d_name[0] == '.') continue; /* ., .., .git and other hidden entries */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                w->oom = true;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) {
            w->oom = true;
            break;
        }
        n++;
    }
    closedir(dir);
    for (size_t i = 1; i < n; i++) /* insertion sort by strcmp: folders are small */
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        if (!w->oom) {
            size_t L = strlen(path) + strlen(names[i]) + 2;
            char *child = malloc(L);
            if (!child) {
                w->oom = true;
            } else {
                snprintf(child, L, "%s%s%s", path, strcmp(path, "/") ? "/" : "", names[i]);
                struct stat cst;
                if (stat(child, &cst) != 0)
                    note(w->cb, "%s: skipped: %s", child, strerror(errno));
                else
                    walk_path(w, child, &cst, depth + 1);
                free(child);
            }
        }
        free(names[i]);
    }
    free(names);
}

static void walk_free(walk *w)
{
    for (size_t i = 0; i < w->n; i++) free(w->v[i].path);
    free(w->v);
    free(w->dirs);
}

static int wfile_cmp(const void *a, const void *b)
{
    return strcmp(((const wfile *)a)->path, ((const wfile *)b)->path);
}

/* --------------------------------------------------------------------- update ---- */

/* The statements of an update, prepared once. */
typedef struct upd {
    sqlite3 *db;
    sqlite3_stmt *get, *touch, *put, *del_fts, *del_chunks, *add_chunk, *add_fts, *del_file;
} upd;

static void upd_free(upd *u)
{
    sqlite3_finalize(u->get);
    sqlite3_finalize(u->touch);
    sqlite3_finalize(u->put);
    sqlite3_finalize(u->del_fts);
    sqlite3_finalize(u->del_chunks);
    sqlite3_finalize(u->add_chunk);
    sqlite3_finalize(u->add_fts);
    sqlite3_finalize(u->del_file);
}

static bool upd_init(upd *u, sqlite3 *db)
{
    memset(u, 0, sizeof *u);
    u->db = db;
#define PREP(st, sql) (sqlite3_prepare_v2(db, sql, -1, &u->st, NULL) == SQLITE_OK)
    return PREP(get, "SELECT id, size, mtime, hash FROM files WHERE path = ?1") &&
           PREP(touch, "UPDATE files SET size = ?2, mtime = ?3 WHERE id = ?1") &&
           PREP(put, "INSERT INTO files(path, size, mtime, hash, kind) VALUES(?1, ?2, ?3, ?4, ?5)"
                     " ON CONFLICT(path) DO UPDATE SET size = ?2, mtime = ?3, hash = ?4, kind = ?5"
                     " RETURNING id") &&
           PREP(del_fts, "DELETE FROM fts WHERE rowid IN (SELECT id FROM chunks WHERE file_id = ?1)") &&
           PREP(del_chunks, "DELETE FROM chunks WHERE file_id = ?1") &&
           PREP(add_chunk, "INSERT INTO chunks(file_id, line_a, line_b) VALUES(?1, ?2, ?3)") &&
           PREP(add_fts, "INSERT INTO fts(rowid, title, text, terms) VALUES(?1, ?2, ?3, ?4)") &&
           PREP(del_file, "DELETE FROM files WHERE id = ?1");
#undef PREP
}

static bool step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE;
}

/* The stored record of path: false when there is none. */
static bool upd_get(upd *u, const char *path, int64_t *id, uint64_t *size, int64_t *mtime,
                    char hash[17])
{
    sqlite3_bind_text(u->get, 1, path, -1, SQLITE_STATIC);
    bool found = sqlite3_step(u->get) == SQLITE_ROW;
    if (found) {
        *id = sqlite3_column_int64(u->get, 0);
        *size = (uint64_t)sqlite3_column_int64(u->get, 1);
        *mtime = sqlite3_column_int64(u->get, 2);
        const unsigned char *h = sqlite3_column_text(u->get, 3);
        snprintf(hash, 17, "%s", h ? (const char *)h : "");
    }
    sqlite3_reset(u->get);
    return found;
}

static bool upd_drop_chunks(upd *u, int64_t id)
{
    sqlite3_bind_int64(u->del_fts, 1, id);
    sqlite3_bind_int64(u->del_chunks, 1, id);
    return step_done(u->del_fts) && step_done(u->del_chunks);
}

/* Replaces the file's rows with its new record and passages, in one transaction. A natter
 * that recorded the same content meanwhile made it a no-op. */
static int upd_write(upd *u, const wfile *f, const char *hash, const char *kind,
                     const doc_chunks *ch, nt_err *err)
{
    if (sqlite3_exec(u->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(err, u->db, "cannot write");
    int64_t id;
    uint64_t size;
    int64_t mtime;
    char old[17];
    if (upd_get(u, f->path, &id, &size, &mtime, old) && !strcmp(old, hash)) {
        sqlite3_bind_int64(u->touch, 1, id);
        sqlite3_bind_int64(u->touch, 2, (int64_t)f->size);
        sqlite3_bind_int64(u->touch, 3, f->mtime);
        if (!step_done(u->touch)) goto fail;
    } else {
        sqlite3_bind_text(u->put, 1, f->path, -1, SQLITE_STATIC);
        sqlite3_bind_int64(u->put, 2, (int64_t)f->size);
        sqlite3_bind_int64(u->put, 3, f->mtime);
        sqlite3_bind_text(u->put, 4, hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(u->put, 5, kind, -1, SQLITE_STATIC);
        if (sqlite3_step(u->put) != SQLITE_ROW) {
            sqlite3_reset(u->put);
            goto fail;
        }
        id = sqlite3_column_int64(u->put, 0);
        sqlite3_reset(u->put);
        if (!upd_drop_chunks(u, id)) goto fail;
        for (size_t i = 0; ch && i < ch->n; i++) {
            sqlite3_bind_int64(u->add_chunk, 1, id);
            sqlite3_bind_int(u->add_chunk, 2, ch->v[i].line_a);
            sqlite3_bind_int(u->add_chunk, 3, ch->v[i].line_b);
            if (!step_done(u->add_chunk)) goto fail;
            sqlite3_bind_int64(u->add_fts, 1, sqlite3_last_insert_rowid(u->db));
            sqlite3_bind_text(u->add_fts, 2, ch->v[i].title, -1, SQLITE_STATIC);
            sqlite3_bind_text(u->add_fts, 3, ch->v[i].text, -1, SQLITE_STATIC);
            sqlite3_bind_text(u->add_fts, 4, ch->v[i].terms ? ch->v[i].terms : "", -1, SQLITE_STATIC);
            if (!step_done(u->add_fts)) goto fail;
        }
    }
    if (sqlite3_exec(u->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) return NT_OK;
fail:;
    int rc = db_error(err, u->db, f->path);
    sqlite3_exec(u->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* One file: skipped when its size and time are unchanged, re-cut when its content is new. */
static int upd_file(upd *u, const wfile *f, docindex_progress *p, const docindex_cb *cb,
                    nt_err *err)
{
    int64_t id, mtime;
    uint64_t size;
    char old[17];
    bool known = upd_get(u, f->path, &id, &size, &mtime, old);
    if (known && size == f->size && mtime == f->mtime) {
        p->unchanged++;
        return NT_OK;
    }
    char *text = NULL;
    size_t n = 0;
    nt_err re = {0};
    int e = ycfg_read_file(f->path, DOCINDEX_MAX_FILE, &text, &n, &re);
    if (e != NT_OK) {
        note(cb, "%s: skipped: %s", f->path, re.msg);
        p->skipped++;
        return e == NT_ERR_NOMEM ? nt_err_set(err, NT_ERR_NOMEM, "document index: out of memory") : NT_OK;
    }
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)XXH3_64bits(text, n));
    doc_chunks ch = {0};
    const char *kind;
    int rc = NT_OK;
    if (known && !strcmp(old, hash)) {
        kind = NULL; /* same content: only the size and time are recorded */
        p->unchanged++;
    } else if (chunk_is_binary(text, n)) {
        kind = "binary";
        note(cb, "%s: skipped: binary file (not UTF-8 text)", f->path);
        p->skipped++;
    } else {
        enum chunk_kind k = chunk_kind_of(f->path, text, n);
        kind = chunk_kind_name(k);
        if (chunk_split(k, text, n, CHUNK_MAX_BYTES, &ch) != NT_OK)
            rc = nt_err_set(err, NT_ERR_NOMEM, "document index: out of memory");
        p->indexed++;
        p->chunks += ch.n;
    }
    free(text);
    if (rc == NT_OK) rc = upd_write(u, f, hash, kind ? kind : "", kind ? &ch : NULL, err);
    doc_chunks_free(&ch);
    return rc;
}

/* Drops the files under root (or root itself) that the walk did not find. */
static int upd_remove_gone(upd *u, const char *root, const walk *w, docindex_progress *p,
                           nt_err *err)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT id, path FROM files WHERE path = ?1 OR (path >= ?2 AND path < ?3)";
    if (sqlite3_prepare_v2(u->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(err, u->db, "cannot list files");
    strbuf lo = {0}, hi = {0};
    bool slash = !strcmp(root, "/");
    strbuf_printf(&lo, "%s/", slash ? "" : root);
    strbuf_printf(&hi, "%s0", slash ? "" : root);
    int64_t *gone = NULL;
    size_t n_gone = 0, cap = 0;
    int rc = NT_OK;
    if (lo.oom || hi.oom) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "document index: out of memory");
        goto done;
    }
    sqlite3_bind_text(st, 1, root, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, lo.s, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, hi.s, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        wfile key = {.path = (char *)sqlite3_column_text(st, 1)};
        if (key.path && bsearch(&key, w->v, w->n, sizeof *w->v, wfile_cmp)) continue;
        if (n_gone == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *ng = realloc(gone, cap * sizeof *ng);
            if (!ng) {
                rc = nt_err_set(err, NT_ERR_NOMEM, "document index: out of memory");
                goto done;
            }
            gone = ng;
        }
        gone[n_gone++] = sqlite3_column_int64(st, 0);
    }
    for (size_t i = 0; i < n_gone && rc == NT_OK; i++) {
        bool ok = sqlite3_exec(u->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        sqlite3_bind_int64(u->del_file, 1, gone[i]);
        ok = ok && upd_drop_chunks(u, gone[i]) && step_done(u->del_file);
        if (ok && sqlite3_exec(u->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
            p->removed++;
        } else {
            rc = db_error(err, u->db, "cannot drop a removed file");
            sqlite3_exec(u->db, "ROLLBACK", NULL, NULL, NULL);
        }
    }
done:
    sqlite3_finalize(st);
    free(gone);
    strbuf_free(&lo);
    strbuf_free(&hi);
    return rc;
}

int docindex_update(docindex *d, const char *path, const docindex_cb *cb, nt_err *err)
{
    char *root = realpath(path, NULL);
    if (!root) return nt_err_set(err, NT_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (stat(root, &st) != 0) {
        int e = errno;
        free(root);
        return nt_err_set(err, NT_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        /* Said as every reader says it ("is a FIFO (named pipe), not a regular file"):
         * nt_open_regular opens without blocking and names what it found. */
        nt_err kind = {0};
        uint64_t size;
        int fd = nt_open_regular(root, &size, &kind);
        if (fd >= 0) close(fd);
        free(root);
        return nt_err_set(err, NT_ERR_IO, "%s: %s (documents are files and folders)", path,
                          kind.msg[0] ? kind.msg : "not a regular file or a folder");
    }
    walk w = {.cb = cb};
    upd u;
    int rc = NT_OK;
    docindex_progress p = {0};
    walk_path(&w, root, &st, 0);
    if (w.oom) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "document index: out of memory");
        goto done;
    }
    qsort(w.v, w.n, sizeof *w.v, wfile_cmp);
    p.files_total = w.n;
    for (size_t i = 0; i < w.n; i++) p.bytes_total += w.v[i].size;
    if (!upd_init(&u, d->db)) {
        rc = db_error(err, d->db, "cannot prepare");
        upd_free(&u);
        goto done;
    }
    if (cb && cb->progress) cb->progress(&p, cb->user);
    for (size_t i = 0; i < w.n && rc == NT_OK; i++) {
        if (cb && cb->cancel && atomic_load(cb->cancel)) {
            rc = nt_err_set(err, NT_ERR_CANCELLED, "%s: indexing stopped", path);
            break;
        }
        p.path = w.v[i].path;
        rc = upd_file(&u, &w.v[i], &p, cb, err);
        p.files_done++;
        p.bytes_done += w.v[i].size;
        if (cb && cb->progress) cb->progress(&p, cb->user);
    }
    p.path = NULL;
    /* Only after a whole walk: a cancelled one did not see every file. */
    if (rc == NT_OK && !(cb && cb->cancel && atomic_load(cb->cancel)))
        rc = upd_remove_gone(&u, root, &w, &p, err);
    if (cb && cb->progress) cb->progress(&p, cb->user);
    upd_free(&u);
done:
    walk_free(&w);
    free(root);
    return rc;
}

/* ---------------------------------------------------------------------- scope ---- */

int docindex_scope_add(docindex *d, const char *path, nt_err *err)
{
    char *r = realpath(path, NULL);
    if (!r) return nt_err_set(err, NT_ERR_IO, "%s: %s", path, strerror(errno));
    for (size_t i = 0; i < d->n_roots; i++)
        if (!strcmp(d->roots[i].path, r)) {
            free(r);
            return NT_OK;
        }
    docindex_root *nr = realloc(d->roots, (d->n_roots + 1) * sizeof *nr);
    if (!nr) {
        free(r);
        return nt_err_set(err, NT_ERR_NOMEM, "document index: out of memory");
    }
    d->roots = nr;
    bool slash = !strcmp(r, "/");
    strbuf lo = {0}, hi = {0};
    strbuf_printf(&lo, "%s/", slash ? "" : r);
    strbuf_printf(&hi, "%s0", slash ? "" : r);
    char *l = strbuf_take(&lo, NULL), *h = strbuf_take(&hi, NULL);
    if (!l || !h) {
        free(l);
        free(h);
        free(r);
        return nt_err_set(err, NT_ERR_NOMEM, "document index: out of memory");
    }
    d->roots[d->n_roots++] = (docindex_root){r, l, h};
    return NT_OK;
}

bool docindex_scope_drop(docindex *d, const char *path)
{
    char *r = realpath(path, NULL);
    for (size_t i = 0; i < d->n_roots; i++) {
        if (strcmp(d->roots[i].path, path) != 0 && !(r && !strcmp(d->roots[i].path, r)))
            continue;
        free(d->roots[i].path);
        free(d->roots[i].lo);
        free(d->roots[i].hi);
        memmove(d->roots + i, d->roots + i + 1, (d->n_roots - i - 1) * sizeof *d->roots);
        d->n_roots--;
        free(r);
        return true;
    }
    free(r);
    return false;
}

size_t docindex_scope_count(const docindex *d) { return d->n_roots; }

const char *docindex_scope_at(const docindex *d, size_t i)
{
    return i < d->n_roots ? d->roots[i].path : NULL;
}

int docindex_scope_stats(docindex *d, size_t i, size_t *files, size_t *chunks, nt_err *err)
{
    *files = *chunks = 0;
    if (i >= d->n_roots) return nt_err_set(err, NT_ERR_INVALID, "document index: no scope %zu", i);
    sqlite3_stmt *st;
    const char *sql = "SELECT COUNT(*), (SELECT COUNT(*) FROM chunks c WHERE c.file_id IN"
                      " (SELECT id FROM files WHERE path = ?1 OR (path >= ?2 AND path < ?3)))"
                      " FROM files WHERE path = ?1 OR (path >= ?2 AND path < ?3)";
    if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(err, d->db, "cannot count");
    sqlite3_bind_text(st, 1, d->roots[i].path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, d->roots[i].lo, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, d->roots[i].hi, -1, SQLITE_STATIC);
    int rc = NT_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *files = (size_t)sqlite3_column_int64(st, 0);
        *chunks = (size_t)sqlite3_column_int64(st, 1);
    } else {
        rc = db_error(err, d->db, "cannot count");
    }
    sqlite3_finalize(st);
    return rc;
}

/* --------------------------------------------------------------------- search ---- */

/* Words that say nothing about which passage answers: left out of queries. */
static bool stopword(const char *w, size_t n)
{
    static const char *const words[] = {
        "a", "an", "the", "is", "are", "was", "were", "be", "been", "to", "of", "in", "on",
        "for", "and", "or", "what", "how", "does", "do", "did", "can", "could", "would",
        "should", "will", "i", "you", "it", "its", "this", "that", "these", "those", "with",
        "as", "at", "by", "from", "me", "my", "which", "who", "why", "when", "where", "there",
        "about", "tell", "please", "into", "if", "so", "than", "then", "them", "they", "we",
        "us", "our", "your", "has", "have", "had", "not", "no", "any", "some", "here",
        "also", "just", "only", "such", "but", "out", "up", "use", "used", "using", "way",
        "get", "make", "want", "need", "know", "say", "says", "said", "one", "more", "most",
        "other", "same", "much", "many", "very", "like", "all", "each", NULL};
    for (size_t i = 0; words[i]; i++)
        if (strlen(words[i]) == n && !memcmp(words[i], w, n)) return true;
    return false;
}

/* Words common in any English text, searched for but not weighed by docindex_absent: the
 * documents alone are too few to say such a word is unusual ("How long is the warranty?" in
 * a manual that never writes "long"), and its absence says nothing about the subject. */
static bool generic_word(const char *w, size_t n)
{
    static const char *const words[] = {
        /* verbs */
        "take", "takes", "took", "give", "gives", "go", "goes", "going", "come", "comes", "see",
        "look", "find", "keep", "put", "set", "run", "try", "call", "ask", "turn", "help",
        "move", "start", "stop", "begin", "end", "show", "work", "works", "happen", "happens",
        "mean", "means", "change", "let", "seem", "leave", "feel", "think", "become", "bring",
        "hold", "write", "read", "provide", "include", "allow", "add", "open", "close", "play",
        "follow", "create", "send", "stay", "lose", "pass", "require", "decide", "check",
        "confirm", "fix", "offer", "handle", "deal", "explain", "understand", "remember",
        "learn", "choose", "prefer", "happened", "done", "made", "got", "gets", "goes",
        "wants", "needs", "possible", "able", "quote", "describe", "summarize", "summarise",
        "mention", "talk",
        /* adjectives and adverbs */
        "long", "longer", "short", "big", "bigger", "small", "smaller", "large", "little", "old",
        "new", "good", "bad", "best", "better", "worse", "worst", "easy", "easier", "easiest",
        "hard", "fast", "faster", "slow", "slower", "quick", "quickly", "high", "low", "right",
        "wrong", "first", "last", "next", "different", "real", "sure", "whole", "full", "free",
        "own", "certain", "clear", "true", "false", "simple", "correct", "correctly", "exactly",
        "often", "always", "never", "sometimes", "usually", "again", "still", "even", "ever",
        "already", "yet", "now", "later", "soon", "today", "well", "really", "maybe",
        "instead", "enough", "almost", "too", "quite", "rather", "else", "ok", "okay", "yes",
        "thanks", "thank", "hello", "hi", "actually", "anyway", "possibly",
        /* nouns */
        "thing", "things", "time", "times", "lot", "lots", "kind", "sort", "part", "place",
        "case", "point", "people", "person", "someone", "something", "anything", "everything",
        "nothing", "problem", "question", "example", "number", "stuff", "idea", "reason", "day",
        "days", "year", "years", "hour", "hours", "minute", "minutes", "second", "seconds",
        "feature", "features", "option", "options", "section", "detail", "details", "info",
        "information", "topic", NULL};
    for (size_t i = 0; words[i]; i++)
        if (strlen(words[i]) == n && !memcmp(words[i], w, n)) return true;
    return false;
}

static bool word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_' || c >= 0x80;
}

/* The next word of *s worth searching for, lower-cased into w (NUL-terminated): letters,
 * digits, '_' and UTF-8 bytes; underscores alone, one letter, common words and words over 64
 * bytes are passed over. false at the end of the text. */
static bool next_word(const char **s, char w[65])
{
    for (;;) {
        while (**s && !word_byte((unsigned char)**s)) (*s)++;
        if (!**s) return false;
        const char *a = *s;
        while (**s && word_byte((unsigned char)**s)) (*s)++;
        size_t len = (size_t)(*s - a);
        if (len > 64) continue;
        size_t letters = 0;
        for (size_t i = 0; i < len; i++) {
            w[i] = (a[i] >= 'A' && a[i] <= 'Z') ? (char)(a[i] + 32) : a[i];
            letters += w[i] != '_';
        }
        w[len] = '\0';
        if (letters >= 2 && !stopword(w, len)) return true;
    }
}

char *docindex_query(const char *const *texts, size_t n)
{
    enum { MAX_TERMS = 48 };
    char *terms[MAX_TERMS];
    size_t nt = 0;
    strbuf q = {0};
    strbuf_puts(&q, "");
    for (size_t t = 0; t < n && nt < MAX_TERMS; t++) {
        const char *s = texts[t] ? texts[t] : "";
        char w[65];
        while (nt < MAX_TERMS && next_word(&s, w)) {
            bool dup = false;
            for (size_t i = 0; i < nt && !dup; i++) dup = !strcmp(terms[i], w);
            if (dup) continue;
            if (!(terms[nt] = strdup(w))) {
                q.oom = true;
                break;
            }
            /* A quoted string is a phrase to FTS5: no operator, column filter or prefix
             * syntax in the question reaches it. Words hold no '"' (word_byte). With recent
             * turns, the question's own words come twice: BM25 sums over the query's
             * phrases, so they weigh double, and an earlier question on another subject
             * does not outrank the passage of the new one (a follow-up without those words
             * still finds what it follows). */
            strbuf_printf(&q, "%s\"%s\"", nt ? " OR " : "", w);
            if (t == 0 && n > 1) strbuf_printf(&q, " OR \"%s\"", w);
            nt++;
        }
    }
    for (size_t i = 0; i < nt; i++) free(terms[i]);
    return strbuf_take(&q, NULL);
}

char *docindex_literal(const char *text)
{
    /* "--prompt" reaches FTS5 as "prompt", a word in many passages of a manual, so the
     * passage that explains the option ranks anywhere; held verbatim it is found at once. */
    for (const char *s = text ? text : ""; *s; s++) {
        if (s != text && !isspace((unsigned char)s[-1]) && s[-1] != '(' && s[-1] != '"' &&
            s[-1] != '\'' && s[-1] != '`')
            continue;
        size_t lead = s[0] == '-' && s[1] == '-' ? 2 : s[0] == '/' ? 1 : 0;
        if (!lead) continue;
        size_t n = lead;
        while (s[n] && (isalnum((unsigned char)s[n]) || s[n] == '-' || s[n] == '_')) n++;
        while (n > lead && s[n - 1] == '-') n--;
        /* At least two letters, and no path: "/usr/lib" and "--" alone are not names. */
        if (n - lead < 2 || n > 64 || s[n] == '/') continue;
        return strndup(s, n);
    }
    return NULL;
}

char *docindex_display_path(const char *abs)
{
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd)) {
        size_t n = strlen(cwd);
        if (n > 1 && !strncmp(abs, cwd, n) && abs[n] == '/') return strdup(abs + n + 1);
        if (n == 1 && abs[0] == '/' && abs[1]) return strdup(abs + 1);
    }
    return strdup(abs);
}

/* The scope as SQL: an OR of path ranges over files f, parameters ?first.. (three per root:
 * the path itself, then the range of paths under it), in parentheses. */
static void scope_sql(strbuf *sql, const docindex *d, size_t first)
{
    strbuf_puts(sql, " (");
    for (size_t i = 0; i < d->n_roots; i++)
        strbuf_printf(sql, "%sf.path = ?%zu OR (f.path >= ?%zu AND f.path < ?%zu)",
                      i ? " OR " : "", first + 3 * i, first + 1 + 3 * i, first + 2 + 3 * i);
    strbuf_puts(sql, ")");
}

static void scope_bind(sqlite3_stmt *st, const docindex *d, size_t first)
{
    for (size_t i = 0; i < d->n_roots; i++) {
        sqlite3_bind_text(st, (int)(first + 3 * i), d->roots[i].path, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, (int)(first + 1 + 3 * i), d->roots[i].lo, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, (int)(first + 2 + 3 * i), d->roots[i].hi, -1, SQLITE_STATIC);
    }
}

/* Prepares sql (freed here) into *st; what names the step in an error. */
static int sql_prepare(docindex *d, strbuf *sql, sqlite3_stmt **st, const char *what, nt_err *err)
{
    if (sql->oom) {
        strbuf_free(sql);
        return nt_err_set(err, NT_ERR_NOMEM, "document index: out of memory");
    }
    int prc = sqlite3_prepare_v2(d->db, sql->s, -1, st, NULL);
    strbuf_free(sql);
    return prc == SQLITE_OK ? NT_OK : db_error(err, d->db, what);
}

/* One count in scope: sql_head followed by the scope's clause; with arg, ?1 is bound to it
 * and sql_head opens a subquery that this closes with LIMIT DOCINDEX_DF_CAP. */
static int scope_count(docindex *d, const char *sql_head, const char *arg, int64_t *n, nt_err *err)
{
    strbuf sql = {0};
    strbuf_puts(&sql, sql_head);
    scope_sql(&sql, d, arg ? 2 : 1);
    if (arg) strbuf_printf(&sql, " LIMIT %d)", DOCINDEX_DF_CAP);
    sqlite3_stmt *st;
    int rc = sql_prepare(d, &sql, &st, "cannot count", err);
    if (rc != NT_OK) return rc;
    if (arg) sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    scope_bind(st, d, arg ? 2 : 1);
    if (sqlite3_step(st) == SQLITE_ROW) *n = sqlite3_column_int64(st, 0);
    else rc = db_error(err, d->db, "cannot count");
    sqlite3_finalize(st);
    return rc;
}

int docindex_absent(docindex *d, const char *text, double *share, char **words, nt_err *err)
{
    enum { MAX_WORDS = 48 };
    *share = 0;
    *words = NULL;
    if (d->n_roots == 0) return NT_OK;
    int64_t n_all = 0;
    int rc = scope_count(d, "SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id WHERE",
                         NULL, &n_all, err);
    if (rc != NT_OK || n_all == 0) return rc;
    char seen[MAX_WORDS][65];
    size_t n = 0;
    double total = 0, absent = 0;
    strbuf out = {0};
    const char *s = text ? text : "";
    char w[65];
    while (n < MAX_WORDS && next_word(&s, w)) {
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++) dup = !strcmp(seen[i], w);
        if (dup) continue;
        memcpy(seen[n++], w, sizeof w);
        /* A word with no ASCII letter or digit may be a symbol (▁, ␛) that the index's
         * tokenizer drops: it would read as missing. Not weighed. */
        bool ascii = false;
        for (const char *p = w; *p && !ascii; p++) ascii = isalnum((unsigned char)*p) != 0;
        if (!ascii || generic_word(w, strlen(w))) continue;
        char phrase[70];
        snprintf(phrase, sizeof phrase, "\"%s\"", w);
        int64_t df = 0;
        /* Counted up to DOCINDEX_DF_CAP passages: counting every passage of "file" in a
         * 100 MB index takes long, and a word that common weighs little (at most its weight
         * at the cap, which errs towards placing passages). */
        rc = scope_count(d,
                         "SELECT count(*) FROM (SELECT 1 FROM fts JOIN chunks c ON c.id = fts.rowid"
                         " JOIN files f ON f.id = c.file_id WHERE fts MATCH ?1 AND",
                         phrase, &df, err);
        if (rc != NT_OK) {
            strbuf_free(&out);
            return rc;
        }
        /* BM25's inverse document frequency: a word in every passage weighs next to
         * nothing, one in none the most. */
        const double idf = log(1.0 + ((double)n_all - (double)df + 0.5) / ((double)df + 0.5));
        total += idf;
        if (df == 0) {
            absent += idf;
            strbuf_printf(&out, "%s%s", out.n ? ", " : "", w);
        }
    }
    if (out.oom) {
        strbuf_free(&out);
        return nt_err_set(err, NT_ERR_NOMEM, "document index: out of memory");
    }
    if (absent > 0) {
        *share = absent / total;
        *words = strbuf_take(&out, NULL);
    } else {
        strbuf_free(&out);
    }
    return NT_OK;
}

int docindex_search(docindex *d, const char *q, const char *literal, size_t k,
                    chat_source **hits, size_t *n_hits, nt_err *err)
{
    *hits = NULL;
    *n_hits = 0;
    if (!q || !q[0] || k == 0 || d->n_roots == 0) return NT_OK;
    /* The scope as an OR of path ranges, bound as parameters ?3.. (three per root). */
    strbuf sql = {0};
    strbuf_puts(&sql, "SELECT f.path, fts.title, fts.text, c.line_a, c.line_b,"
                      " bm25(fts, 0.5, 1.0, 1.0) AS s FROM fts JOIN chunks c ON c.id = fts.rowid"
                      " JOIN files f ON f.id = c.file_id WHERE fts MATCH ?1 AND");
    /* The literal is bound after the scope's parameters: instr is case-sensitive, as
     * options are. */
    if (literal) strbuf_printf(&sql, " instr(fts.text, ?%zu) > 0 AND", 3 + 3 * d->n_roots);
    scope_sql(&sql, d, 3);
    strbuf_puts(&sql, " ORDER BY s, f.path, c.line_a LIMIT ?2");
    sqlite3_stmt *st;
    int prc = sql_prepare(d, &sql, &st, "cannot search", err);
    if (prc != NT_OK) return prc;
    sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)k);
    scope_bind(st, d, 3);
    if (literal) sqlite3_bind_text(st, (int)(3 + 3 * d->n_roots), literal, -1, SQLITE_STATIC);
    chat_source *v = calloc(k, sizeof *v);
    size_t n = 0;
    int rc = NT_OK, s;
    if (!v) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "document index: out of memory");
        goto done;
    }
    while (n < k && (s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(st, 0);
        const char *t = (const char *)sqlite3_column_text(st, 1);
        const char *x = (const char *)sqlite3_column_text(st, 2);
        chat_source *h = &v[n++];
        h->path = docindex_display_path(p ? p : "");
        h->title = strdup(t ? t : "");
        h->text = strdup(x ? x : "");
        h->line_a = sqlite3_column_int(st, 3);
        h->line_b = sqlite3_column_int(st, 4);
        h->score = -sqlite3_column_double(st, 5);
        if (!h->path || !h->title || !h->text) {
            rc = nt_err_set(err, NT_ERR_NOMEM, "document index: out of memory");
            goto done;
        }
    }
    if (n < k && s != SQLITE_DONE) rc = db_error(err, d->db, "cannot search");
done:
    sqlite3_finalize(st);
    if (rc != NT_OK) {
        chat_sources_free(v, n);
        return rc;
    }
    *hits = v;
    *n_hits = n;
    return NT_OK;
}

/* -------------------------------------------------------------- background task ---- */

struct docindex_task {
    pthread_t thread;
    char *db;
    char **paths;
    size_t n;
    docindex_cb cb;
    atomic_bool cancel, done;
    int rc;
    nt_err err;
};

static void *task_main(void *arg)
{
    docindex_task *t = arg;
    docindex *d = NULL;
    t->rc = docindex_open(&d, t->db, &t->err);
    for (size_t i = 0; t->rc == NT_OK && i < t->n; i++) {
        nt_err e = {0};
        int rc = docindex_update(d, t->paths[i], &t->cb, &e);
        if (rc == NT_ERR_CANCELLED) {
            t->rc = rc;
            t->err = e;
        } else if (rc != NT_OK) {
            /* A missing path does not stop the others: it is a note, and the result. */
            if (t->cb.note) t->cb.note(e.msg, t->cb.user);
            if (t->rc == NT_OK) {
                t->rc = rc;
                t->err = e;
            }
        }
        if (rc == NT_ERR_CANCELLED) break;
    }
    docindex_free(d);
    atomic_store(&t->done, true);
    if (t->cb.done) t->cb.done(t->cb.user);
    return NULL;
}

static void task_free(docindex_task *t)
{
    for (size_t i = 0; i < t->n; i++) free(t->paths[i]);
    free(t->paths);
    free(t->db);
    free(t);
}

docindex_task *docindex_task_start(const char *db, const char *const *paths, size_t n,
                                   const docindex_cb *cb, nt_err *err)
{
    docindex_task *t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->paths = calloc(n ? n : 1, sizeof *t->paths);
    if (!t->paths || (db && !(t->db = strdup(db)))) goto nomem;
    for (; t->n < n; t->n++)
        if (!(t->paths[t->n] = strdup(paths[t->n]))) goto nomem;
    if (cb) t->cb = *cb;
    atomic_init(&t->cancel, false);
    atomic_init(&t->done, false);
    if (!t->cb.cancel) t->cb.cancel = &t->cancel;
    if (pthread_create(&t->thread, NULL, task_main, t) != 0) {
        nt_err_set(err, NT_ERR_IO, "document index: cannot start a thread");
        task_free(t);
        return NULL;
    }
    return t;
nomem:
    nt_err_set(err, NT_ERR_NOMEM, "document index: out of memory");
    if (t) task_free(t);
    return NULL;
}

bool docindex_task_done(docindex_task *t) { return atomic_load(&t->done); }

void docindex_task_cancel(docindex_task *t)
{
    if (t) atomic_store(t->cb.cancel, true);
}

int docindex_task_join(docindex_task *t, nt_err *err)
{
    if (!t) return NT_OK;
    pthread_join(t->thread, NULL);
    int rc = t->rc;
    if (rc != NT_OK && err) *err = t->err;
    task_free(t);
    return rc;
}
