/* model_find.c — finding the GGUF models a person already has (model_find.h has the places,
 * their order and the names). Only folder listings and Ollama's small JSON manifests are
 * read here; the GGUF headers are read by `natter models` (cmd_models.c). Everything found
 * is untrusted text: names are shown only through the sanitiser by the callers. */
#include "model_find.h"
#include "natter.h"
#include "util/json.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "util/yamlcfg.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIND_MANIFEST_MAX (1u << 20) /* an Ollama manifest is a few hundred bytes */
#define FIND_HF_DEPTH 2              /* snapshots/REV/DIR/FILE.gguf: one folder below a revision */
#define FIND_OLLAMA_MODEL "application/vnd.ollama.image.model"

/* Identity of a file already listed, and where (list index). */
typedef struct find_seen {
    dev_t dev;
    ino_t ino;
    size_t at;
} find_seen;

typedef struct find_ctx {
    model_list *l;
    find_seen *seen;
    size_t n_seen;
    bool oom;
} find_ctx;

static char *find_join(const char *a, const char *b)
{
    strbuf s = {0};
    strbuf_printf(&s, "%s/%s", a, b);
    return strbuf_take(&s, NULL);
}

static bool find_ends_with(const char *s, const char *suf)
{
    size_t ls = strlen(s), lf = strlen(suf);
    return ls >= lf && strcmp(s + ls - lf, suf) == 0;
}

static void find_warn(find_ctx *c, const char *fmt, ...) NT_PRINTF(2, 3);

static void find_warn(find_ctx *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **w = realloc(c->l->warn, (c->l->n_warn + 1) * sizeof *w);
    char *s = strdup(buf);
    if (!w || !s) {
        if (w) c->l->warn = w;
        free(s);
        c->oom = true;
        return;
    }
    c->l->warn = w;
    w[c->l->n_warn++] = s;
}

/* The sorted entries of a folder, without "." files (NULL, n 0 when it cannot be read). */
static char **find_list_dir(const char *dir, size_t *n)
{
    struct dirent **ents = NULL;
    *n = 0;
    int k = scandir(dir, &ents, NULL, alphasort);
    if (k < 0) return NULL;
    char **v = calloc((size_t)k + 1, sizeof *v);
    for (int i = 0; i < k; i++) {
        if (v && ents[i]->d_name[0] != '.' && (v[*n] = strdup(ents[i]->d_name))) (*n)++;
        free(ents[i]);
    }
    free(ents);
    return v;
}

static void find_free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static bool find_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Adds the model at path (a regular file, or a symlink to one) unless it is a later part of
 * a split model or was listed already from another place (LM Studio linking to the Hugging
 * Face cache) or under the same name (two snapshots sharing a blob). Within one place each
 * name stays (Ollama tags sharing a blob). name and repo are copied. */
static void find_add(find_ctx *c, const char *place, const char *name, const char *repo,
                     const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return;
    for (size_t i = 0; i < c->n_seen; i++)
        if (c->seen[i].dev == st.st_dev && c->seen[i].ino == st.st_ino) {
            const model_found *o = &c->l->v[c->seen[i].at];
            if (strcmp(o->place, place) != 0 || strcmp(o->name, name) == 0) return;
        }
    size_t plen;
    int no, count;
    const bool split = nt_gguf_split_name(path, &plen, &no, &count);
    if (split && no != 1) return;

    model_list *l = c->l;
    find_seen *s = realloc(c->seen, (c->n_seen + 1) * sizeof *s);
    if (!s) goto oom;
    c->seen = s;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        model_found *v = realloc(l->v, cap * sizeof *v);
        if (!v) goto oom;
        l->v = v;
        l->cap = cap;
    }
    model_found *f = &l->v[l->n];
    *f = (model_found){.place = place, .size = (uint64_t)st.st_size, .n_parts = 1};
    f->name = strdup(name);
    f->repo = repo ? strdup(repo) : NULL;
    f->path = strdup(path);
    if (!f->name || !f->path || (repo && !f->repo)) {
        free(f->name);
        free(f->repo);
        free(f->path);
        goto oom;
    }
    c->seen[c->n_seen++] = (find_seen){st.st_dev, st.st_ino, l->n};
    l->n++;
    /* The other parts of a split model: their sizes add up; a missing one is the loader's
     * error to tell (natter models shows it), so the count is of the parts present. */
    for (int i = 2; split && i <= count; i++) {
        char part[4096];
        struct stat ps;
        if (nt_gguf_split_path(part, sizeof part, path, plen, i, count) == 0 &&
            stat(part, &ps) == 0 && S_ISREG(ps.st_mode)) {
            f->size += (uint64_t)ps.st_size;
            f->n_parts++;
        }
    }
    return;
oom:
    c->oom = true;
}

/* Every *.gguf of dir, named by prefix + its path below dir; depth > 0 also looks that many
 * folders down. */
static void find_gguf_files(find_ctx *c, const char *place, const char *dir, const char *prefix,
                            const char *repo, int depth)
{
    size_t n;
    char **names = find_list_dir(dir, &n);
    for (size_t i = 0; i < n && !c->oom; i++) {
        char *path = find_join(dir, names[i]);
        strbuf nm = {0};
        strbuf_printf(&nm, "%s%s", prefix, names[i]);
        char *name = strbuf_take(&nm, NULL);
        if (!path || !name) c->oom = true;
        else if (find_ends_with(names[i], ".gguf")) find_add(c, place, name, repo, path);
        else if (depth > 0 && find_is_dir(path)) {
            char *sub = find_join(name, "");
            if (sub) find_gguf_files(c, place, path, sub, repo, depth - 1);
            else c->oom = true;
            free(sub);
        }
        free(path);
        free(name);
    }
    find_free_names(names, n);
}

/* $VAR, else $XDG_CACHE_HOME/sub, else ~/.cache/sub (malloc'd; NULL without a home). */
static char *find_cache_dir(const char *var, const char *sub)
{
    const char *v = var ? getenv(var) : NULL;
    if (v && *v) return strdup(v);
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && xdg[0] == '/') return find_join(xdg, sub);
    const char *home = getenv("HOME");
    if (!home || !*home) return NULL;
    strbuf s = {0};
    strbuf_printf(&s, "%s/.cache/%s", home, sub);
    return strbuf_take(&s, NULL);
}

static char *find_home_dir(const char *sub)
{
    const char *home = getenv("HOME");
    return home && *home ? find_join(home, sub) : NULL;
}

static void find_natter(find_ctx *c)
{
    const char *env = getenv("NATTER_MODELS");
    if (!env) return;
    char *dirs = strdup(env);
    if (!dirs) {
        c->oom = true;
        return;
    }
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save))
        find_gguf_files(c, "NATTER_MODELS", d, "", NULL, 0);
    free(dirs);
}

static void find_hf(find_ctx *c)
{
    char *hub = NULL;
    const char *cache = getenv("HF_HUB_CACHE"), *home = getenv("HF_HOME");
    if (cache && *cache) hub = strdup(cache);
    else if (home && *home) hub = find_join(home, "hub");
    else hub = find_cache_dir(NULL, "huggingface/hub");
    if (!hub) return;
    size_t n;
    char **repos = find_list_dir(hub, &n);
    for (size_t i = 0; i < n && !c->oom; i++) {
        /* models--ORG--NAME → ORG/NAME (a model without an organisation: models--NAME). */
        if (strncmp(repos[i], "models--", 8) != 0) continue;
        strbuf r = {0};
        for (const char *p = repos[i] + 8; *p; p++) {
            if (p[0] == '-' && p[1] == '-') {
                strbuf_putc(&r, '/');
                p++;
            } else {
                strbuf_putc(&r, *p);
            }
        }
        char *repo = strbuf_take(&r, NULL);
        char *snaps = find_join(hub, repos[i]);
        char *sdir = snaps ? find_join(snaps, "snapshots") : NULL;
        size_t nrev = 0;
        char **revs = sdir ? find_list_dir(sdir, &nrev) : NULL;
        for (size_t k = 0; k < nrev && repo; k++) {
            char *rdir = find_join(sdir, revs[k]);
            char *prefix = find_join(repo, "");
            if (rdir && prefix) find_gguf_files(c, "huggingface", rdir, prefix, repo, FIND_HF_DEPTH - 1);
            else c->oom = true;
            free(rdir);
            free(prefix);
        }
        if (!repo || !snaps || !sdir) c->oom = true;
        find_free_names(revs, nrev);
        free(sdir);
        free(snaps);
        free(repo);
    }
    find_free_names(repos, n);
    free(hub);
}

/* A manifest's model layer as the blob's path (malloc'd), or NULL with a warning. */
static char *find_ollama_blob(find_ctx *c, const char *root, const char *manifest)
{
    char *text = NULL;
    size_t len = 0;
    nt_err re;
    int rc = ycfg_read_file(manifest, FIND_MANIFEST_MAX, &text, &len, &re);
    if (rc != NT_OK) {
        if (rc != NT_ERR_NOMEM) find_warn(c, "%s: %s", manifest, re.msg);
        return NULL;
    }
    json_t *j = NULL;
    json_error je;
    char *blob = NULL;
    if (json_parse(text, len, &j, &je) != NT_OK) {
        find_warn(c, "%s: %s", manifest, je.msg);
        goto done;
    }
    const json_t *layers = json_object_get(j, "layers");
    for (size_t i = 0; i < json_array_size(layers); i++) {
        const json_t *layer = json_array_get(layers, i);
        const char *mt = json_string_value(json_object_get(layer, "mediaType"));
        if (!mt || strcmp(mt, FIND_OLLAMA_MODEL) != 0) continue;
        /* "sha256:<64 hex>" → blobs/sha256-<64 hex>; anything else could climb out of blobs/. */
        const char *d = json_string_value(json_object_get(layer, "digest"));
        bool good = d && strncmp(d, "sha256:", 7) == 0 && strlen(d) == 7 + 64 &&
                    strspn(d + 7, "0123456789abcdef") == 64;
        if (!good) {
            find_warn(c, "%s: layer %zu: the digest is not sha256:<64 hex digits>", manifest, i);
            goto done;
        }
        strbuf p = {0};
        strbuf_printf(&p, "%s/blobs/sha256-%s", root, d + 7);
        blob = strbuf_take(&p, NULL);
        struct stat st;
        if (blob && stat(blob, &st) != 0) {
            find_warn(c, "%s: the model blob %s is missing", manifest, blob);
            free(blob);
            blob = NULL;
        }
        goto done;
    }
    find_warn(c, "%s: no layer of media type %s", manifest, FIND_OLLAMA_MODEL);
done:
    json_decref(j);
    free(text);
    return blob;
}

static void find_ollama(find_ctx *c)
{
    const char *env = getenv("OLLAMA_MODELS");
    char *root = env && *env ? strdup(env) : find_home_dir(".ollama/models");
    char *mdir = root ? find_join(root, "manifests") : NULL;
    size_t nh = 0;
    char **hosts = mdir ? find_list_dir(mdir, &nh) : NULL;
    for (size_t h = 0; h < nh && !c->oom; h++) {
        char *hdir = find_join(mdir, hosts[h]);
        size_t nns = 0;
        char **nss = hdir ? find_list_dir(hdir, &nns) : NULL;
        for (size_t s = 0; s < nns && !c->oom; s++) {
            char *nsdir = find_join(hdir, nss[s]);
            size_t nm = 0;
            char **models = nsdir ? find_list_dir(nsdir, &nm) : NULL;
            for (size_t m = 0; m < nm && !c->oom; m++) {
                char *tdir = find_join(nsdir, models[m]);
                size_t nt = 0;
                char **tags = tdir ? find_list_dir(tdir, &nt) : NULL;
                for (size_t t = 0; t < nt && !c->oom; t++) {
                    char *man = find_join(tdir, tags[t]);
                    char *blob = man ? find_ollama_blob(c, root, man) : NULL;
                    /* Ollama's own short forms: library models by NAME:TAG. */
                    strbuf nb = {0};
                    if (strcmp(hosts[h], "registry.ollama.ai") != 0)
                        strbuf_printf(&nb, "%s/", hosts[h]);
                    if (strcmp(hosts[h], "registry.ollama.ai") != 0 || strcmp(nss[s], "library") != 0)
                        strbuf_printf(&nb, "%s/", nss[s]);
                    strbuf_printf(&nb, "%s:%s", models[m], tags[t]);
                    char *name = strbuf_take(&nb, NULL);
                    char *repo = NULL;
                    if (name && strcmp(tags[t], "latest") == 0) {
                        repo = strdup(name);
                        if (repo) repo[strlen(repo) - strlen(":latest")] = '\0';
                    }
                    if (blob && name) find_add(c, "ollama", name, repo, blob);
                    if (!man || !name) c->oom = true;
                    free(repo);
                    free(name);
                    free(blob);
                    free(man);
                }
                find_free_names(tags, nt);
                free(tdir);
            }
            find_free_names(models, nm);
            free(nsdir);
        }
        find_free_names(nss, nns);
        free(hdir);
    }
    find_free_names(hosts, nh);
    free(mdir);
    free(root);
}

/* ROOT/PUBLISHER/REPO/FILE.gguf */
static void find_lmstudio_root(find_ctx *c, char *root)
{
    size_t np = 0;
    char **pubs = root ? find_list_dir(root, &np) : NULL;
    for (size_t p = 0; p < np && !c->oom; p++) {
        char *pdir = find_join(root, pubs[p]);
        size_t nr = 0;
        char **repos = pdir ? find_list_dir(pdir, &nr) : NULL;
        for (size_t r = 0; r < nr && !c->oom; r++) {
            char *rdir = find_join(pdir, repos[r]);
            strbuf rb = {0};
            strbuf_printf(&rb, "%s/%s", pubs[p], repos[r]);
            char *repo = strbuf_take(&rb, NULL);
            char *prefix = repo ? find_join(repo, "") : NULL;
            if (rdir && prefix) find_gguf_files(c, "lmstudio", rdir, prefix, repo, 0);
            else c->oom = true;
            free(prefix);
            free(repo);
            free(rdir);
        }
        find_free_names(repos, nr);
        free(pdir);
    }
    find_free_names(pubs, np);
    free(root);
}

int model_find_all(model_list *out)
{
    find_ctx c = {.l = out};
    find_natter(&c);
    char *llama = find_cache_dir("LLAMA_CACHE", "llama.cpp");
    if (llama) find_gguf_files(&c, "llama.cpp", llama, "", NULL, 0);
    free(llama);
    find_hf(&c);
    find_ollama(&c);
    find_lmstudio_root(&c, find_home_dir(".lmstudio/models"));
    find_lmstudio_root(&c, find_home_dir(".cache/lm-studio/models"));
    free(c.seen);
    return c.oom ? -1 : 0;
}

void model_list_free(model_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].repo);
        free(l->v[i].path);
    }
    free(l->v);
    find_free_names(l->warn, l->n_warn);
    *l = (model_list){0};
}

/* ------------------------------------------------------------------------ -m NAME ----- */

/* 2: arg is f's name; 1: one of its shorter names; 0: neither. */
static int find_match(const model_found *f, const char *arg)
{
    if (strcmp(f->name, arg) == 0) return 2;
    if (f->repo && strcmp(f->repo, arg) == 0) return 1;
    const char *slash = strrchr(f->name, '/');
    const char *file = slash ? slash + 1 : f->name;
    if (!find_ends_with(file, ".gguf")) return 0;
    size_t n = strlen(file) - 5;
    const size_t na = strlen(arg);
    if (strcmp(file, arg) == 0 || (na == n && strncmp(file, arg, n) == 0)) return 1;
    /* A split model also by its name without the part: NAME for NAME-00001-of-00003.gguf. */
    int no, count;
    if (nt_gguf_split_name(file, &n, &no, &count) && na == n && strncmp(file, arg, n) == 0)
        return 1;
    return 0;
}

char *model_find_resolve(const char *arg, char *msg, size_t cap)
{
    struct stat st;
    const int st_rc = stat(arg, &st);
    if (st_rc == 0 && S_ISREG(st.st_mode)) return strdup(arg);
    const int errno_stat = st_rc == 0 ? 0 : errno;
    model_list l = {0};
    if (model_find_all(&l) != 0) {
        snprintf(msg, cap, "out of memory while looking for the model '%s'", arg);
        model_list_free(&l);
        return NULL;
    }
    char *path = NULL;
    size_t hits = 0;
    int best = 0;
    for (size_t i = 0; i < l.n; i++) {
        int m = find_match(&l.v[i], arg);
        if (m > best) {
            best = m;
            hits = 0;
        }
        if (m == best && m > 0) hits++;
    }
    if (hits == 1) {
        for (size_t i = 0; i < l.n && !path; i++)
            if (find_match(&l.v[i], arg) == best)
                if (!(path = strdup(l.v[i].path))) snprintf(msg, cap, "out of memory");
    } else if (hits > 1) {
        size_t o = (size_t)snprintf(msg, cap, "the model name '%s' is ambiguous; it could be:", arg);
        for (size_t i = 0; i < l.n && o < cap; i++)
            if (find_match(&l.v[i], arg) == best)
                o += (size_t)snprintf(msg + o, cap - o, "\n  %s (%s: %s)", l.v[i].name,
                                      l.v[i].place, l.v[i].path);
    } else if (st_rc == 0) {
        /* It exists but is a FIFO, a folder, a device: say which (nt_open_regular never
         * blocks on it). */
        nt_err oe;
        int fd = nt_open_regular(arg, NULL, &oe);
        if (fd >= 0) close(fd); /* replaced by a regular file meanwhile */
        snprintf(msg, cap, "%s: %s, and no model found has that name (natter models lists them)",
                 arg, fd < 0 ? oe.msg : "changed while it was looked at");
    } else if (strchr(arg, '/') || find_ends_with(arg, ".gguf")) {
        snprintf(msg, cap, "%s: %s, and no model found has that name (natter models lists them)",
                 arg, strerror(errno_stat));
    } else {
        snprintf(msg, cap, "no model file or model name '%s' (natter models lists the models found)",
                 arg);
    }
    model_list_free(&l);
    return path;
}

char *model_find_arg(const char *prog, const char *opt, const char *arg)
{
    char msg[2048];
    char *path = model_find_resolve(arg, msg, sizeof msg);
    if (!path) text_printf(stderr, "%s: %s%s%s\n", prog, opt ? opt : "", opt ? ": " : "", msg);
    return path;
}
