/* session.c — the session record (init, free, capture from and restore into a chat), the
 * model hash, the tables the file's writer and reader share, the sessions folder and the
 * entry points behind autosave, /save, /load and /sessions (see session.h). The YAML writer,
 * the atomic save and the exports are in session_write.c; the validated reader in
 * session_read.c. */
#include "session.h"
#include "remote.h"
#include "session_int.h"
#include "util/strbuf.h"
#include "util/text.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

/* ============================================================ record lifecycle ===== */

session *session_init(void)
{
    session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->version = SESSION_VERSION;
    s->created = s->updated = (int64_t)time(NULL);
    s->system = strdup("");
    if (!s->system) {
        free(s);
        return NULL;
    }
    return s;
}

static void session_clear_turns(session *s)
{
    for (size_t i = 0; i < s->n_turns; i++) chat_turn_release(&s->turns[i]);
    free(s->turns);
    s->turns = NULL;
    s->n_turns = 0;
}

static void session_model_release(session_model *m)
{
    free(m->file);
    free(m->path);
    free(m->arch);
    free(m->name);
    free(m->api_base);
    free(m->served);
    free(m->fingerprint);
    memset(m, 0, sizeof *m);
}

static void session_clear_examples(session *s)
{
    for (size_t i = 0; i < s->n_examples; i++) free(s->examples[i].text);
    free(s->examples);
    s->examples = NULL;
    s->n_examples = 0;
}

void session_free(session *s)
{
    if (!s) return;
    session_clear_turns(s);
    session_clear_examples(s);
    free(s->greeting);
    session_model_release(&s->model);
    free(s->persona);
    free(s->theme);
    free(s->system);
    free(s->path);
    free(s);
}

/* A deep copy of a turn into *d (zeroed on failure). */
static int session_turn_copy(chat_turn *d, const chat_turn *t)
{
    memset(d, 0, sizeof *d);
    d->role = t->role;
    d->text = strdup(t->text ? t->text : "");
    if (!d->text) goto nomem;
    d->len = strlen(d->text);
    d->cap = d->len + 1;
    d->time = t->time;
    d->parent = t->parent;
    d->current = t->current;
    if (t->role != NT_ROLE_ASSISTANT) return NT_OK;
    if (chat_turn_copy_record(d, t) != NT_OK) goto nomem;
    d->complete = t->complete;
    /* A failed answer keeps its message in the file (the reader restores it as `error`). */
    if (t->error && !(d->error = strdup(t->error))) goto nomem;
    return NT_OK;
nomem:
    chat_turn_release(d);
    return NT_ERR_NOMEM;
}

/* ================================================================= model identity ===== */

int session_set_worker(session *s, worker *w)
{
    remote *r = worker_remote(w);
    if (r)
        return session_set_remote(s, remote_base(r), remote_model(r), remote_served_model(r),
                                  remote_fingerprint(r));
    return session_set_model(s, worker_gguf(w), worker_model_info(w));
}

bool session_model_is(const session_model *m, const nt_gguf *g)
{
    if (!g || m->api_base) return false; /* a remote record is no file's */
    if (!m->hash_v1) return session_model_hash(m) == nt_gguf_model_hash(g);
    const char *path = nt_gguf_path(g), *slash = strrchr(path, '/');
    return m->file && strcmp(m->file, slash ? slash + 1 : path) == 0 &&
           m->size == nt_gguf_file_size(g);
}

static char *session_strdup_or_null(const char *v)
{
    return v && v[0] ? strdup(v) : NULL;
}

int session_set_remote(session *s, const char *api_base, const char *model, const char *served,
                       const char *fingerprint)
{
    session_model m = {0};
    m.file = strdup(SESSION_REMOTE_FILE);
    m.arch = strdup("remote");
    m.name = strdup(model ? model : "");
    m.api_base = strdup(api_base ? api_base : "");
    m.served = session_strdup_or_null(served);
    m.fingerprint = session_strdup_or_null(fingerprint);
    if (!m.file || !m.arch || !m.name || !m.api_base || (served && served[0] && !m.served) ||
        (fingerprint && fingerprint[0] && !m.fingerprint)) {
        session_model_release(&m);
        return NT_ERR_NOMEM;
    }
    session_model_release(&s->model);
    s->model = m;
    return NT_OK;
}

bool session_model_same(const session_model *a, const session_model *b)
{
    if (a->api_base || b->api_base) /* remote: the same server and model */
        return a->api_base && b->api_base && !strcmp(a->api_base, b->api_base) && a->name &&
               b->name && !strcmp(a->name, b->name);
    if (!a->hash_v1 && !b->hash_v1) return session_model_hash(a) == session_model_hash(b);
    if (a->hash_v1 && b->hash_v1 && a->hash != b->hash) return false;
    return a->file && b->file && strcmp(a->file, b->file) == 0 && a->size == b->size;
}

uint64_t session_model_hash(const session_model *m)
{
    return m->g ? nt_gguf_model_hash(m->g) : m->hash;
}

void session_model_hash_text(const session_model *m, char buf[32])
{
    snprintf(buf, 32, "%s:%016llx", m->hash_v1 ? "fnv1a64" : "xxh3",
             (unsigned long long)session_model_hash(m));
}

int session_set_model(session *s, const nt_gguf *g, const nt_model_info *info)
{
    session_model m = {0};
    const char *path = nt_gguf_path(g);
    char *abs = realpath(path, NULL);
    m.path = abs ? abs : strdup(path);
    const char *slash = strrchr(path, '/');
    m.file = strdup(slash ? slash + 1 : path);
    m.arch = strdup(info && info->arch ? info->arch : "");
    m.name = strdup(info && info->name ? info->name : "");
    m.size = nt_gguf_file_size(g);
    m.g = g;
    m.kv_type = info ? info->kv_type : NT_TYPE_F32;
    if (!m.path || !m.file || !m.arch || !m.name) {
        session_model_release(&m);
        return NT_ERR_NOMEM;
    }
    session_model_release(&s->model);
    s->model = m;
    return NT_OK;
}

size_t *session_path_turns(const session *s, size_t *n)
{
    size_t *p = malloc((s->n_turns ? s->n_turns : 1) * sizeof *p);
    *n = p ? chat_turns_path(s->turns, s->n_turns, p) : 0;
    return p;
}

size_t session_alternative_to(const session *s, size_t i)
{
    for (size_t j = i; j-- > 0;)
        if (s->turns[j].parent == s->turns[i].parent) return j;
    return CHAT_ROOT;
}

int session_capture(session *s, const chat *c)
{
    /* Every turn of the tree; the answer being written (the last made: nothing is added
     * while it runs) is saved once it is done. */
    size_t n = chat_n_nodes(c);
    if (n > 0 && chat_node_at(c, n - 1)->role == NT_ROLE_ASSISTANT &&
        !chat_node_at(c, n - 1)->complete)
        n--;
    chat_turn *turns = calloc(n ? n : 1, sizeof *turns);
    bool *marked = calloc(n + 1, sizeof *marked); /* [parent + 1]: the group shows one */
    char *sys = strdup(chat_system(c));
    if (!turns || !sys || !marked) goto nomem;
    for (size_t i = 0; i < n; i++)
        if (session_turn_copy(&turns[i], chat_node_at(c, i)) != NT_OK) {
            for (size_t j = 0; j < i; j++) chat_turn_release(&turns[j]);
            goto nomem;
        }
    /* The file's rule: a group with none marked shows its last. */
    for (size_t i = 0; i < n; i++)
        marked[turns[i].parent == CHAT_ROOT ? 0 : turns[i].parent + 1] |= turns[i].current;
    for (size_t i = n; i-- > 0;) {
        size_t g = turns[i].parent == CHAT_ROOT ? 0 : turns[i].parent + 1;
        if (!marked[g]) turns[i].current = marked[g] = true;
    }
    free(marked);
    marked = NULL;
    size_t ne = chat_n_prefix(c);
    session_example *ex = calloc(ne ? ne : 1, sizeof *ex);
    char *greet = chat_greeting(c) ? strdup(chat_greeting(c)) : NULL;
    bool oom = !ex || (chat_greeting(c) && !greet);
    for (size_t i = 0; !oom && i < ne; i++) {
        const char *t = chat_prefix_at(c, i, &ex[i].role);
        if (!(ex[i].text = strdup(t ? t : ""))) oom = true;
    }
    if (oom) {
        for (size_t i = 0; ex && i < ne; i++) free(ex[i].text);
        free(ex);
        free(greet);
        for (size_t j = 0; j < n; j++) chat_turn_release(&turns[j]);
        goto nomem;
    }
    session_clear_examples(s);
    s->examples = ex;
    s->n_examples = ne;
    free(s->greeting);
    s->greeting = greet;
    session_clear_turns(s);
    s->turns = turns;
    s->n_turns = n;
    free(s->system);
    s->system = sys;
    s->family = chat_get_family(c);
    s->raw = chat_get_raw(c);
    s->n_ctx = chat_n_ctx(c);
    s->first = chat_first_turn(c) < n ? chat_first_turn(c) : n;
    s->updated = (int64_t)time(NULL);
    return NT_OK;
nomem:
    free(turns);
    free(sys);
    free(marked);
    return NT_ERR_NOMEM;
}

int session_restore(const session *s, chat *c, nt_err *err)
{
    if (chat_n_turns(c) != 0 || chat_busy(c))
        return nt_err_set(err, NT_ERR_INVALID, "session: the conversation is not empty");
    if (chat_set_system(c, s->system) != NT_OK)
        return nt_err_set(err, NT_ERR_NOMEM, "session: out of memory");
    chat_set_family(c, s->family);
    chat_set_raw(c, s->raw);
    nt_chat_msg *msgs = calloc(s->n_examples ? s->n_examples : 1, sizeof *msgs);
    if (!msgs) return nt_err_set(err, NT_ERR_NOMEM, "session: out of memory");
    for (size_t i = 0; i < s->n_examples; i++)
        msgs[i] = (nt_chat_msg){s->examples[i].role, s->examples[i].text};
    int prc = chat_set_prefix(c, msgs, s->n_examples);
    free(msgs);
    if (prc != NT_OK || chat_set_greeting(c, s->greeting) != NT_OK)
        return nt_err_set(err, prc == NT_OK ? NT_ERR_NOMEM : prc, "session: cannot set the examples");
    size_t bad = 0;
    const char *why = "";
    if (!chat_turns_valid(s->turns, s->n_turns, &bad, &why))
        return nt_err_set(err, NT_ERR_INVALID, "session: message %zu: %s", bad + 1, why);
    if (chat_restore_tree(c, s->turns, s->n_turns) != NT_OK)
        return nt_err_set(err, NT_ERR_NOMEM, "session: out of memory");
    chat_set_first_turn(c, s->first);
    /* The thinking switch stays as the last answer shown had it, where this model's template
     * has one (chat_set_think_switch, told before): a model without one keeps its default. */
    size_t np;
    size_t *path = session_path_turns(s, &np);
    if (!path) return nt_err_set(err, NT_ERR_NOMEM, "session: out of memory");
    for (size_t i = np; i-- > 0;)
        if (s->turns[path[i]].role == NT_ROLE_ASSISTANT) {
            (void)chat_set_think(c, s->turns[path[i]].think);
            break;
        }
    free(path);
    return NT_OK;
}


/* ================================================================ small formats ===== */

void session_format_time(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, 32, "1970-01-01T00:00:00Z");
}

/* ========================================================= shared with the writer and reader ===== */

unsigned session_params_mask(bool with_seed)
{
    unsigned m = 0;
    for (size_t i = 0; i < PARAM_COUNT; i++)
        if (param_is_sampler(&param_defs[i]) && (with_seed || i != PARAM_SEED)) m |= 1u << i;
    return m;
}


char *session_str_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

bool session_last_params(const session *s, nt_sampler_params *out)
{
    size_t np;
    size_t *path = session_path_turns(s, &np);
    bool found = false;
    for (size_t i = np; path && i-- > 0 && !found;) {
        const chat_turn *t = &s->turns[path[i]];
        if (t->role != NT_ROLE_ASSISTANT) continue;
        *out = t->n_changes ? t->changes[t->n_changes - 1].params : t->params;
        found = true;
    }
    free(path);
    return found;
}

int session_changes(const chat_turn *t, session_change **out)
{
    *out = NULL;
    size_t cap = 0, n = 0;
    session_change *v = NULL;
    param_values cur = {.sp = t->params};
    unsigned mask = session_params_mask(true);
    for (size_t i = 0; i < t->n_changes; i++) {
        const param_values np = {.sp = t->changes[i].params};
        for (size_t k = 0; k < PARAM_COUNT; k++) {
            if (!(mask & (1u << k)) || param_equal(&param_defs[k], &cur, &np)) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                session_change *nv = realloc(v, cap * sizeof *nv);
                if (!nv) {
                    free(v);
                    return -1;
                }
                v = nv;
            }
            v[n].index = t->changes[i].index;
            v[n].param = param_defs[k].name;
            param_format(&param_defs[k], &np, v[n].value, sizeof v[n].value);
            n++;
        }
        cur = np;
    }
    *out = v;
    return (int)n;
}

/* ============================================================ sessions folder ===== */

char *session_dir(void)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    if (xdg && xdg[0] == '/') return session_str_join(xdg, "/natter/sessions");
    const char *home = getenv("HOME");
    if (home && home[0]) return session_str_join(home, "/.local/state/natter/sessions");
    return NULL;
}

/* NT_OK unless dir exists and is not a folder, then the one message for it. */
static int session_dir_check(const char *dir, nt_err *err)
{
    struct stat st;
    if (stat(dir, &st) != 0 || S_ISDIR(st.st_mode)) return NT_OK;
    return nt_err_set(err, NT_ERR_IO, "the sessions folder %s is a file, not a folder: sessions "
                      "cannot be saved or listed (move the file away, or set XDG_STATE_HOME)", dir);
}

int session_dir_make(nt_err *err)
{
    char *dir = session_dir();
    if (!dir) return nt_err_set(err, NT_ERR_IO, "no sessions folder: set HOME or XDG_STATE_HOME");
    int rc = ycfg_make_dirs(dir, 0700, err);
    if (rc == NT_OK) rc = session_dir_check(dir, err);
    free(dir);
    return rc;
}

static bool ends_with(const char *s, const char *suf)
{
    size_t ls = strlen(s), lf = strlen(suf);
    return ls >= lf && !strcmp(s + ls - lf, suf);
}

int session_list(session_entry **out)
{
    *out = NULL;
    char *dir = session_dir();
    if (!dir) return 0;
    DIR *d = opendir(dir);
    if (!d) {
        free(dir);
        return 0;
    }
    session_entry *v = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    bool oom = false;
    while (!oom && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, ".yaml")) continue;
        char *p1 = session_str_join(dir, "/");
        char *path = p1 ? session_str_join(p1, de->d_name) : NULL;
        free(p1);
        struct stat st;
        if (!path || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            oom = !path;
            free(path);
            continue;
        }
        if (n == cap) {
            int nc = cap ? cap * 2 : 16;
            session_entry *nv = realloc(v, (size_t)nc * sizeof *nv);
            if (!nv) {
                free(path);
                oom = true;
                break;
            }
            v = nv;
            cap = nc;
        }
        session_entry *e = &v[n++];
        memset(e, 0, sizeof *e);
        e->path = path;
        e->name = strndup(de->d_name, strlen(de->d_name) - 5);
        e->updated = (int64_t)st.st_mtime;
        ycfg_diag diag = {0};
        session *s = NULL;
        if (session_load(&s, path, de->d_name, &diag) == NT_OK) {
            e->ok = true;
            e->updated = s->updated;
            e->model = xstrdup(s->model.file);
            size_t np;
            size_t *p = session_path_turns(s, &np);
            e->turns = (np + 1) / 2;
            e->first = xstrdup(p && np ? s->turns[p[0]].text : "");
            free(p);
        } else {
            const char *m = diag.n ? diag.v[0] : "cannot read";
            const char *nl = strchr(m, '\n');
            e->first = nl ? strndup(m, (size_t)(nl - m)) : strdup(m);
        }
        session_free(s);
        ycfg_diag_free(&diag);
        if (!e->name || !e->first) oom = true;
    }
    closedir(d);
    free(dir);
    if (oom) {
        session_entries_free(v, n);
        return -1;
    }
    /* Newest first. */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j].updated > v[j - 1].updated; j--) {
            session_entry t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    *out = v;
    return n;
}

void session_entries_free(session_entry *v, int n)
{
    if (!v) return;
    for (int i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].path);
        free(v[i].model);
        free(v[i].first);
    }
    free(v);
}

char *session_path(const char *name)
{
    if (name && name[0]) {
        if (strchr(name, '/') || ends_with(name, ".yaml") || ends_with(name, ".yml"))
            return strdup(name);
        char *dir = session_dir();
        if (!dir) return NULL;
        char *a = session_str_join(dir, "/"), *b = a ? session_str_join(a, name) : NULL;
        char *p = b ? session_str_join(b, ".yaml") : NULL;
        free(dir);
        free(a);
        free(b);
        return p;
    }
    /* The latest by modification time (cheaper than reading every file). */
    char *dir = session_dir();
    if (!dir) return NULL;
    DIR *d = opendir(dir);
    char *best = NULL;
    time_t best_t = 0;
    long best_ns = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, ".yaml")) continue;
        char *a = session_str_join(dir, "/"), *p = a ? session_str_join(a, de->d_name) : NULL;
        free(a);
        struct stat st;
        if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
            (!best || st.st_mtim.tv_sec > best_t ||
             (st.st_mtim.tv_sec == best_t && st.st_mtim.tv_nsec > best_ns))) {
            free(best);
            best = p;
            best_t = st.st_mtim.tv_sec;
            best_ns = st.st_mtim.tv_nsec;
        } else {
            free(p);
        }
    }
    if (d) closedir(d);
    free(dir);
    return best;
}

char *session_new_path(void)
{
    char *dir = session_dir();
    if (!dir) return NULL;
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d-%H%M%S", &tm);
    char *path = NULL;
    for (int i = 1; i < 1000; i++) {
        char name[64];
        if (i == 1) snprintf(name, sizeof name, "/%s.yaml", stamp);
        else snprintf(name, sizeof name, "/%s-%d.yaml", stamp, i);
        path = session_str_join(dir, name);
        if (!path) break;
        struct stat st;
        if (stat(path, &st) != 0 && errno == ENOENT) break;
        free(path);
        path = NULL;
    }
    free(dir);
    return path;
}

/* ============================================== entry points for the commands ===== */

static bool chat_has_complete_turn(const chat *c)
{
    for (size_t i = 0; i < chat_n_turns(c); i++) {
        const chat_turn *t = chat_turn_at(c, i);
        if (t->role == NT_ROLE_ASSISTANT && t->complete) return true;
    }
    return false;
}

int session_autosave(session *s, const chat *c, nt_err *err)
{
    if (!chat_has_complete_turn(c)) return NT_OK;
    int rc = session_capture(s, c);
    if (rc != NT_OK) return nt_err_set(err, rc, "session: out of memory");
    if (!s->path) {
        if ((rc = session_dir_make(err)) != NT_OK) return rc;
        char *p = session_new_path();
        if (!p) return nt_err_set(err, NT_ERR_IO, "session: no free file name in the sessions folder");
        rc = session_save(s, p, err);
        free(p);
        return rc;
    }
    rc = session_save(s, s->path, err);
    if (rc == NT_ERR_INVALID) {
        /* The file there is not ours to replace: keep it, save under a new name. */
        if (session_dir_make(err) != NT_OK) return rc;
        char *p = session_new_path();
        if (!p) return rc;
        free(s->path);
        s->path = NULL;
        rc = session_save(s, p, err);
        free(p);
    }
    return rc;
}

/* True for a file autosave named in the sessions folder (DIR/YYYY-MM-DD-HHMMSS[-N].yaml). */
static bool session_is_autosave(const char *path)
{
    char *dir = session_dir();
    size_t n = dir ? strlen(dir) : 0;
    bool in = dir && !strncmp(path, dir, n) && path[n] == '/' && !strchr(path + n + 1, '/');
    free(dir);
    if (!in) return false;
    const char *b = path + n + 1;
    /* 0000-00-00-000000 */
    static const char shape[] = "dddd-dd-dd-dddddd";
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)b[i]) : b[i] != shape[i]) return false;
    b += sizeof shape - 1;
    if (*b == '-')
        for (b++; isdigit((unsigned char)*b); b++) {}
    return !strcmp(b, ".yaml");
}

int session_cmd_save(session *s, const chat *c, const char *name, char *msg, size_t cap)
{
    nt_err err = {0};
    int rc = session_capture(s, c);
    if (rc != NT_OK) {
        snprintf(msg, cap, "cannot save: out of memory");
        return rc;
    }
    char *path = NULL;
    if (name && name[0]) {
        path = session_path(name);
        if (path && !strchr(name, '/') && (rc = session_dir_make(&err)) != NT_OK) {
            snprintf(msg, cap, "cannot save: %s", err.msg);
            free(path);
            return rc;
        }
    } else if (s->path) {
        path = strdup(s->path);
    } else {
        if ((rc = session_dir_make(&err)) != NT_OK) {
            snprintf(msg, cap, "cannot save: %s", err.msg);
            return rc;
        }
        path = session_new_path();
    }
    if (!path) {
        snprintf(msg, cap, "cannot save: no sessions folder (set HOME or XDG_STATE_HOME)");
        return NT_ERR_IO;
    }
    char *old = s->path && strcmp(s->path, path) ? strdup(s->path) : NULL;
    rc = session_save(s, path, &err);
    if (rc == NT_OK) snprintf(msg, cap, "saved to %s", path);
    else snprintf(msg, cap, "cannot save: %s", err.msg);
    /* One conversation, one file: its autosave becomes the named file (a file it was loaded
     * from, or named before, stays). */
    if (rc == NT_OK && old && session_is_autosave(old) && unlink(old) == 0)
        snprintf(msg + strlen(msg), cap - strlen(msg), " (in place of %s)", strrchr(old, '/') + 1);
    free(old);
    free(path);
    return rc;
}

int session_cmd_load(session **sp, chat *c, const char *name, char **msg)
{
    *msg = NULL;
    if (chat_busy(c)) {
        *msg = strdup("wait for the answer to finish (or stop it) before loading");
        return NT_ERR_INVALID;
    }
    char *path = session_path(name);
    if (!path) {
        *msg = strdup(name && name[0] ? "out of memory" : "there are no saved sessions");
        return NT_ERR_IO;
    }
    ycfg_diag diag = {0};
    session *ns = NULL;
    int rc = session_load(&ns, path, NULL, &diag);
    if (rc != NT_OK) {
        *msg = ycfg_diag_join(&diag);
        ycfg_diag_free(&diag);
        free(path);
        return rc;
    }
    ycfg_diag_free(&diag);
    session *old = *sp;
    /* The recording's model identity is kept for the message; the live model is the current
     * one, and autosaves record that. */
    bool same = old && session_model_same(&old->model, &ns->model);
    enum nt_chat_family fam = chat_get_family(c);
    chat_clear(c);
    nt_err err = {0};
    rc = session_restore(ns, c, &err);
    /* Another model speaks its own template. */
    if (rc == NT_OK && old && !same) chat_set_family(c, fam);
    if (rc != NT_OK) {
        *msg = strdup(err.msg);
        session_free(ns);
        free(path);
        return rc;
    }
    char note[512];
    snprintf(note, sizeof note, "loaded %s (%zu messages)%s%s%s", path, chat_n_turns(c),
             same || !old ? "" : "; it was recorded with ",
             same || !old ? "" : (ns->model.file ? ns->model.file : "another model"),
             same || !old ? "" : ", so new answers will differ");
    if (old) {
        /* The recording's persona and theme stay: the caller brings them back (or, when they
         * are gone, records what it keeps instead). */
        session_model m = old->model;
        memset(&old->model, 0, sizeof old->model);
        session_model_release(&ns->model);
        ns->model = m;
    }
    session_free(old);
    *sp = ns;
    *msg = strdup(note);
    free(path);
    return NT_OK;
}

/* The first line of s, at most max characters (UTF-8 aware), "..." when cut. */
static void first_line(strbuf *b, const char *s, size_t max)
{
    size_t chars = 0, i = 0;
    while (s[i] && s[i] != '\n' && chars < max) {
        i++;
        while (text_is_cont((unsigned char)s[i])) i++;
        chars++;
    }
    for (size_t k = 0; k < i; k++) {
        unsigned char ch = (unsigned char)s[k];
        strbuf_put(b, ch < 0x20 ? " " : s + k, 1);
    }
    if (s[i]) strbuf_puts(b, "...");
}

char *session_cmd_list(int *count)
{
    session_entry *v = NULL;
    int n = session_list(&v);
    if (n < 0) return NULL;
    *count = n;
    strbuf b = {0};
    if (n == 0) {
        char *dir = session_dir();
        nt_err e;
        if (dir && session_dir_check(dir, &e) != NT_OK) {
            strbuf_printf(&b, "%s", e.msg);
            *count = -1;
        } else {
            strbuf_printf(&b, "no saved sessions in %s", dir ? dir : "(no folder)");
        }
        free(dir);
    }
    for (int i = 0; i < n; i++) {
        char when[32] = "";
        time_t t = (time_t)v[i].updated;
        struct tm tm;
        if (localtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
        if (v[i].ok) {
            strbuf_printf(&b, "%-24s %s  %-24s %3zu turn%s  \"", v[i].name, when,
                          v[i].model ? v[i].model : "?", v[i].turns, v[i].turns == 1 ? " " : "s");
            first_line(&b, v[i].first, 48);
            strbuf_puts(&b, "\"\n");
        } else {
            strbuf_printf(&b, "%-24s %s  (unreadable: ", v[i].name, when);
            first_line(&b, v[i].first, 80);
            strbuf_puts(&b, ")\n");
        }
    }
    session_entries_free(v, n);
    return strbuf_take(&b, NULL);
}
