/* persona.c — loading and validating personas (prompts/NAME.yaml), expanding their
 * variables, rendering them into chat messages, counting their tokens, writing them back as
 * YAML and importing Character Card JSON. See persona.h for the contract. */
#include "persona.h"
#include "chat.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "worker.h"

#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

/* The built-in persona; prompts/default.yaml says the same (a test checks). */
#define DEFAULT_NAME "default"
#define DEFAULT_DESCRIPTION "A helpful, honest general-purpose assistant"
#define DEFAULT_SYSTEM                                                                        \
    "You are a helpful, honest assistant. Answer clearly and accurately, and say so when "   \
    "you are not sure. Keep answers as short as the question allows; use lists and code "   \
    "blocks where they help."

/* A persona's stop strings go into worker jobs after the template's own: they must fit. */
_Static_assert(PERSONA_MAX_STOP <= GEN_MAX_STOP - 1, "a job holds a persona's stop strings");
_Static_assert(PERSONA_STOP_MAX_BYTES <= GEN_STOP_LEN - 1, "a job holds each stop string");

static const char *const var_names[] = {"user", "char", "date", "model"};
#define N_VARS (sizeof var_names / sizeof *var_names)

/* ==================================================================== lifetime ===== */

void persona_free(persona *p)
{
    if (!p) return;
    free(p->name);
    free(p->description);
    free(p->path);
    free(p->system);
    free(p->greeting);
    ycfg_strv_free(p->alt_greetings.v);
    for (size_t i = 0; i < p->n_examples; i++) {
        free(p->examples[i].user);
        free(p->examples[i].assistant);
    }
    free(p->examples);
    for (size_t i = 0; i < p->n_docs; i++) {
        free(p->docs[i].title);
        free(p->docs[i].text);
        free(p->docs[i].file);
    }
    free(p->docs);
    free(p->context_instruction);
    ycfg_strv_free(p->stop.v);
    ycfg_strv_free(p->documents.v);
    free(p->model);
    backend_cfg_free(&p->backend);
    free(p);
}

static persona *persona_new(void)
{
    persona *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->template_family = -1;
    p->memory = -1;
    return p;
}

persona *persona_builtin(void)
{
    persona *p = persona_new();
    if (!p) return NULL;
    p->name = strdup(DEFAULT_NAME);
    p->description = strdup(DEFAULT_DESCRIPTION);
    p->path = strdup("(built-in)");
    p->system = strdup(DEFAULT_SYSTEM);
    if (!p->name || !p->description || !p->path || !p->system) {
        persona_free(p);
        return NULL;
    }
    return p;
}

/* Trailing whitespace of a text field is an artifact of YAML block scalars (`|` keeps the
 * final newline); models should not see it. */
static void rtrim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
}

static int add_doc(persona *p, const char *title, const char *text, const char *file)
{
    persona_doc *v = realloc(p->docs, (p->n_docs + 1) * sizeof *v);
    if (!v) return NT_ERR_NOMEM;
    p->docs = v;
    persona_doc *d = &v[p->n_docs];
    d->title = title ? strdup(title) : NULL;
    d->text = strdup(text);
    d->file = file ? strdup(file) : NULL;
    if ((title && !d->title) || !d->text || (file && !d->file)) {
        free(d->title);
        free(d->text);
        free(d->file);
        return NT_ERR_NOMEM;
    }
    rtrim(d->text);
    p->n_docs++;
    return NT_OK;
}

static const char *base_of(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

int persona_add_context_file(persona *p, const char *path, nt_err *err)
{
    char *text;
    nt_err e;
    int rc = ycfg_read_file(path, YCFG_MAX_FILE, &text, NULL, &e);
    if (rc) return nt_err_set(err, rc, "%s: cannot read context file: %s", path, e.msg);
    rc = add_doc(p, base_of(path), text, path);
    free(text);
    if (rc) return nt_err_set(err, rc, "%s: out of memory", path);
    return NT_OK;
}

int persona_add_context_text(persona *p, const char *title, const char *text, nt_err *err)
{
    int rc = add_doc(p, title, text, NULL);
    if (rc) return nt_err_set(err, rc, "out of memory");
    return NT_OK;
}

/* ===================================================================== loading ===== */

/* Checks the {{variables}} in a text field: an unknown one is an error placed on its own
 * line and column when the source shows it (literal blocks and one-line scalars). */
static int check_vars(ycfg *c, const yaml_node_t *n, const char *key, const char *text)
{
    int rc = NT_OK;
    for (const char *s = strstr(text, "{{"); s; s = strstr(s + 2, "{{")) {
        const char *e = strstr(s + 2, "}}");
        if (!e) break;
        size_t len = (size_t)(e - s - 2);
        char name[40];
        if (len == 0 || len >= sizeof name) continue;
        memcpy(name, s + 2, len);
        name[len] = 0;
        size_t i = 0;
        while (i < N_VARS && strcmp(var_names[i], name)) i++;
        if (i < N_VARS) continue;
        /* Where is it? In a literal block, content line k sits k+1 lines below the '|'. */
        size_t line = n->start_mark.line + 1, col = n->start_mark.column + 1;
        size_t nl = 0;
        for (const char *q = text; q < s; q++) nl += *q == '\n';
        size_t want = 0;
        if (n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE)
            want = line + 1 + nl;
        else if (nl == 0)
            want = line;
        if (want) {
            size_t llen;
            const char *l = ycfg_src_line(c, want, &llen);
            char pat[48];
            snprintf(pat, sizeof pat, "{{%s}}", name);
            size_t from = want == line ? n->start_mark.column : 0;
            for (size_t k = from; k + strlen(pat) <= llen; k++) {
                if (!memcmp(l + k, pat, strlen(pat))) {
                    line = want;
                    col = 1;
                    col += text_chars(l, k);
                    break;
                }
            }
        }
        const char *sug = ycfg_suggest(name, var_names, N_VARS);
        if (sug)
            rc = ycfg_error_at(c, line, col, "unknown variable '{{%s}}' in '%s' (did you mean '{{%s}}'?)",
                               name, key, sug);
        else
            rc = ycfg_error_at(c, line, col,
                               "unknown variable '{{%s}}' in '%s' (known: {{user}}, {{char}}, {{date}}, {{model}})",
                               name, key);
    }
    return rc;
}

/* A text field: multi-line allowed, trailing whitespace dropped, variables checked. */
static int h_prompt_text(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    char **out = (char **)((char *)obj + k->offset);
    int rc = ycfg_read_text(c, v, k->name, out);
    if (rc) return rc;
    rtrim(*out);
    return check_vars(c, v, k->name, *out);
}

/* `stop`: a list of 1 to PERSONA_MAX_STOP non-empty strings of at most PERSONA_STOP_MAX_BYTES
 * bytes. Beyond the limits is an error at the offending item, never a silent cut: a cut stop
 * string would end answers somewhere else than the user wrote. */
static int h_stop(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    persona *p = obj;
    int rc = ycfg_read_strv(c, v, k->name, false, &p->stop.v, &p->stop.n);
    if (rc != NT_OK) return rc;
    yaml_node_item_t *items = v->data.sequence.items.start;
    for (size_t i = 0; i < p->stop.n; i++) {
        yaml_node_t *it = ycfg_node(c, items[i]);
        size_t len = strlen(p->stop.v[i]);
        /* libyaml takes "\0" escapes: the string would end there. */
        if (it && len != it->data.scalar.length)
            rc = ycfg_error(c, it, "items of '%s' must not contain a NUL character", k->name);
        else if (it && len > PERSONA_STOP_MAX_BYTES)
            rc = ycfg_error(c, it, "items of '%s' must have at most %d bytes, not %zu", k->name,
                            PERSONA_STOP_MAX_BYTES, len);
    }
    if (p->stop.n > PERSONA_MAX_STOP)
        rc = ycfg_error(c, ycfg_node(c, items[PERSONA_MAX_STOP]),
                        "'%s' must have at most %d strings, not %zu", k->name, PERSONA_MAX_STOP,
                        p->stop.n);
    return rc;
}

static int h_template(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    persona *p = obj;
    char *s = NULL;
    if (ycfg_read_str(c, v, k->name, &s)) return NT_ERR_FORMAT;
    int f = nt_chat_family_from_name(s);
    if (f >= 0) {
        p->template_family = f;
        free(s);
        return NT_OK;
    }
    const char *cands[NT_CHAT_FAMILY_COUNT_];
    size_t nc = 0;
    char list[200] = "";
    for (int i = 0; i < NT_CHAT_FAMILY_COUNT_; i++) {
        const char *nm = nt_chat_family_name((enum nt_chat_family)i);
        if (!nm) continue;
        cands[nc++] = nm;
        if (*list) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, nm, sizeof list - strlen(list) - 1);
    }
    const char *sug = ycfg_suggest(s, cands, nc);
    if (sug)
        ycfg_error(c, v, "unknown chat template '%s' (did you mean '%s'?)", s, sug);
    else
        ycfg_error(c, v, "unknown chat template '%s' (one of: %s)", s, list);
    free(s);
    return NT_ERR_FORMAT;
}

static const ycfg_key example_keys[] = {
    {"user", h_prompt_text, offsetof(persona_example, user), 0, 0, true, 0},
    {"assistant", h_prompt_text, offsetof(persona_example, assistant), 0, 0, true, 0},
    {NULL, NULL, 0, 0, 0, false, 0},
};

static int h_examples(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    persona *p = obj;
    void *arr;
    size_t n;
    int rc = ycfg_map_list(c, v, example_keys, sizeof(persona_example), "'examples'",
                           "{user, assistant} pairs", "an example", &arr, &n);
    if (!arr) return rc;
    persona_example *ex = arr;
    for (size_t i = 0; i < p->n_examples; i++) {
        free(p->examples[i].user);
        free(p->examples[i].assistant);
    }
    free(p->examples);
    p->examples = ex;
    p->n_examples = n;
    return rc;
}

typedef struct doc_tmp {
    char *title, *text, *file;
} doc_tmp;

static int h_doc_text(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    char **out = (char **)((char *)obj + k->offset);
    return ycfg_read_text(c, v, k->name, out);
}

static const ycfg_key doc_keys[] = {
    {"title", ycfg_h_str, offsetof(doc_tmp, title), 0, 0, false, 0},
    {"text", h_doc_text, offsetof(doc_tmp, text), 0, 0, false, 0},
    {"file", ycfg_h_str, offsetof(doc_tmp, file), 0, 0, false, 0},
    {NULL, NULL, 0, 0, 0, false, 0},
};

/* The persona file's folder (context files are relative to it). malloc'd. */
static char *dir_of(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? strndup(path, (size_t)(b - path)) : strdup(".");
}

static int h_context(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    persona *p = obj;
    if (v->type != YAML_SEQUENCE_NODE)
        return ycfg_error(c, v, "'context' must be a list of documents ({file: PATH} or {text: ...}), not %s",
                          ycfg_kind(v));
    int rc = NT_OK;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *n = ycfg_node(c, *it);
        doc_tmp d = {0};
        if (ycfg_map(c, n, doc_keys, &d, YCFG_NO_SET, "a context document") != NT_OK) {
            rc = NT_ERR_FORMAT;
        } else if (!d.text == !d.file) {
            rc = ycfg_error(c, n, d.text ? "a context document takes 'text' or 'file', not both"
                                         : "a context document needs 'text' or 'file'");
        } else if (d.text) {
            if (add_doc(p, d.title, d.text, NULL)) rc = ycfg_error(c, n, "out of memory");
        } else {
            char *dir = dir_of(p->path), *full = NULL;
            if (dir && d.file[0] != '/') {
                full = malloc(strlen(dir) + strlen(d.file) + 2);
                if (full) sprintf(full, "%s/%s", dir, d.file);
            } else {
                full = strdup(d.file);
            }
            char *text = NULL;
            nt_err e = {.msg = "out of memory"};
            if (full) ycfg_read_file(full, YCFG_MAX_FILE, &text, NULL, &e);
            /* Find the node of the file value to put the caret on the path itself. */
            yaml_node_t *fnode = n;
            for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
                yaml_node_t *kk = ycfg_node(c, q->key);
                if (kk && kk->type == YAML_SCALAR_NODE && !strcmp((char *)kk->data.scalar.value, "file"))
                    fnode = ycfg_node(c, q->value);
            }
            if (!text)
                rc = ycfg_error(c, fnode, "cannot read context file '%s': %s", full ? full : d.file,
                                e.msg);
            else if (add_doc(p, d.title ? d.title : base_of(d.file), text, full))
                rc = ycfg_error(c, n, "out of memory");
            free(text);
            free(full);
            free(dir);
        }
        free(d.title);
        free(d.text);
        free(d.file);
    }
    return rc;
}

/* `documents`: files and folders for retrieval, relative to the persona's folder; each must
 * exist (a typo is said here, not at the first question). */
static int h_documents(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    persona *p = obj;
    int rc = ycfg_read_strv(c, v, k->name, false, &p->documents.v, &p->documents.n);
    if (rc != NT_OK) return rc;
    char *dir = dir_of(p->path);
    if (!dir) return ycfg_error(c, v, "out of memory");
    yaml_node_item_t *items = v->data.sequence.items.start;
    for (size_t i = 0; i < p->documents.n; i++) {
        char *d = p->documents.v[i];
        yaml_node_t *it = ycfg_node(c, items[i]);
        if (!d[0]) {
            rc = ycfg_error(c, it, "items of '%s' must not be empty", k->name);
            continue;
        }
        if (d[0] != '/') {
            char *full = malloc(strlen(dir) + strlen(d) + 2);
            if (!full) {
                rc = ycfg_error(c, it, "out of memory");
                continue;
            }
            sprintf(full, "%s/%s", dir, d);
            free(d);
            p->documents.v[i] = d = full;
        }
        struct stat st;
        if (stat(d, &st) != 0)
            rc = ycfg_error(c, it, "cannot find document '%s': %s", d, strerror(errno));
    }
    free(dir);
    return rc;
}

static int h_think(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    char *s = NULL;
    if (ycfg_read_str(c, v, k->name, &s)) return NT_ERR_FORMAT;
    enum chat_think t;
    int rc = NT_OK;
    if (chat_think_parse(s, &t) != NT_OK || t == CHAT_THINK_DEFAULT)
        rc = ycfg_error(c, v, "'think' must be on or off, not '%s'", s);
    else
        ((persona *)obj)->think = (int)t;
    free(s);
    return rc;
}

static int h_sampling(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    persona_sampling *s = &((persona *)obj)->sampling;
    return param_read_map(c, v, PARAM_FORM_YAML, PARAM_ALL, &s->v, &s->set, "'sampling'");
}

static int h_backend(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return backend_read_persona(c, v, &((persona *)obj)->backend);
}

static const ycfg_key persona_keys[] = {
    {"name", ycfg_h_str, offsetof(persona, name), 0, 0, true, 0},
    {"description", ycfg_h_str, offsetof(persona, description), 0, 0, false, 0},
    {"model", ycfg_h_str, offsetof(persona, model), 0, 0, false, 0},
    {"backend", h_backend, 0, 0, 0, false, 0},
    {"template", h_template, 0, 0, 0, false, 0},
    {"system", h_prompt_text, offsetof(persona, system), 0, 0, true, 0},
    {"greeting", h_prompt_text, offsetof(persona, greeting), 0, 0, false, 0},
    {"alternate_greetings", ycfg_h_strv, offsetof(persona, alt_greetings), 0, 0, false, 0},
    {"examples", h_examples, 0, 0, 0, false, 0},
    {"context", h_context, 0, 0, 0, false, 0},
    {"documents", h_documents, 0, 0, 0, false, 0},
    {"context_instruction", h_prompt_text, offsetof(persona, context_instruction), 0, 0, false, 0},
    {"sampling", h_sampling, 0, 0, 0, false, 0},
    {"stop", h_stop, 0, 0, 0, false, 0},
    {"memory", ycfg_h_long, offsetof(persona, memory), 0, YCFG_UNBOUNDED, false, 0},
    {"think", h_think, 0, 0, 0, false, 0},
    {NULL, NULL, 0, 0, 0, false, 0},
};

/* Reads the persona in c, loaded by the caller (rc is ycfg_load's status); frees c. */
static persona *persona_read(ycfg *c, int rc, const char *path)
{
    persona *p = persona_new();
    if (rc != NT_OK || !p) goto fail;
    p->path = strdup(path);
    if (!p->path) goto fail;
    yaml_node_t *root = ycfg_root(c);
    if (!root) {
        ycfg_error_at(c, 1, 1, "the file is empty (a persona needs at least 'name' and 'system')");
        goto fail;
    }
    if (ycfg_map(c, root, persona_keys, p, YCFG_NO_SET, "the persona") != NT_OK) goto fail;
    if (!p->description && !(p->description = strdup(""))) goto fail;
    if (p->greeting && !*p->greeting) {
        free(p->greeting);
        p->greeting = NULL;
    }
    if (!p->greeting && p->alt_greetings.n) {
        /* Alternatives alone: the first is the greeting. */
        p->greeting = p->alt_greetings.v[0];
        memmove(p->alt_greetings.v, p->alt_greetings.v + 1, p->alt_greetings.n * sizeof(char *));
        p->alt_greetings.n--;
    }
    ycfg_free(c);
    return p;
fail:
    persona_free(p);
    ycfg_free(c);
    return NULL;
}

persona *persona_load(const char *path, const char *name, ycfg_diag *diag)
{
    ycfg c;
    int rc = ycfg_load(&c, path, name, diag);
    return persona_read(&c, rc, path);
}

persona *persona_load_mem(const char *path, const char *text, size_t len, ycfg_diag *diag)
{
    /* The limit a file has (ycfg_load), so what passes here also loads from the file. */
    if (len > YCFG_MAX_FILE) {
        ycfg_diag_add(diag, "%s: the persona would be %zu bytes; a persona file holds at most "
                      "%u MiB", path, len, YCFG_MAX_FILE >> 20);
        return NULL;
    }
    ycfg c;
    int rc = ycfg_load_mem(&c, path, text, len, diag);
    return persona_read(&c, rc, path);
}

persona *persona_open(const char *name, ycfg_diag *diag)
{
    char *path = ycfg_find_or_report("prompts", "persona", name, diag);
    if (!path) return NULL;
    persona *p = persona_load(path, NULL, diag);
    free(path);
    return p;
}

char *persona_ref(const persona *p)
{
    if (!p->path || !strcmp(p->path, "(built-in)")) return strdup("default");
    return ycfg_ref("prompts", p->path);
}

persona *persona_open_or_default(const char *name, ycfg_diag *diag)
{
    persona *p = name && *name ? persona_open(name, diag) : NULL;
    return p ? p : persona_builtin();
}

/* =================================================================== rendering ===== */

char *persona_expand(const persona *p, const persona_vars *v, const char *text)
{
    char date[32];
    const char *val[N_VARS] = {
        v && v->user ? v->user : "User",
        p && p->name ? p->name : "Assistant",
        v && v->date ? v->date : NULL,
        v && v->model ? v->model : "the model",
    };
    if (!val[2]) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(date, sizeof date, "%Y-%m-%d", &tm);
        val[2] = date;
    }
    strbuf b = {0};
    const char *s = text ? text : "";
    for (;;) {
        const char *o = strstr(s, "{{");
        if (!o) break;
        size_t i = 0;
        for (; i < N_VARS; i++) {
            size_t l = strlen(var_names[i]);
            if (!strncmp(o + 2, var_names[i], l) && !strncmp(o + 2 + l, "}}", 2)) break;
        }
        if (i == N_VARS) {
            strbuf_put(&b, s, (size_t)(o - s) + 2);
            s = o + 2;
            continue;
        }
        strbuf_put(&b, s, (size_t)(o - s));
        strbuf_puts(&b, val[i]);
        s = o + 4 + strlen(var_names[i]);
    }
    strbuf_puts(&b, s);
    return strbuf_take(&b, NULL);
}

char *persona_docs_intro(const persona *p, const persona_vars *v)
{
    return p->context_instruction ? persona_expand(p, v, p->context_instruction)
                                  : strdup(PERSONA_DEFAULT_INSTRUCTION);
}

void persona_drop_doc(persona *p, size_t i)
{
    if (i >= p->n_docs) return;
    free(p->docs[i].title);
    free(p->docs[i].text);
    free(p->docs[i].file);
    memmove(p->docs + i, p->docs + i + 1, (p->n_docs - i - 1) * sizeof *p->docs);
    p->n_docs--;
}

char *persona_system_text(const persona *p, const persona_vars *v)
{
    char *sys = persona_expand(p, v, p->system);
    if (!sys) return NULL;
    strbuf b = {0};
    strbuf_puts(&b, sys);
    free(sys);
    if (p->n_docs) {
        if (b.n) strbuf_puts(&b, "\n\n");
        char *ins = persona_docs_intro(p, v);
        if (!ins) b.oom = true;
        else strbuf_puts(&b, ins);
        free(ins);
        for (size_t i = 0; i < p->n_docs; i++) {
            strbuf_printf(&b, "\n\n=== Document %zu", i + 1);
            if (p->docs[i].title) {
                strbuf_puts(&b, ": ");
                strbuf_puts(&b, p->docs[i].title);
            }
            strbuf_puts(&b, " ===\n");
            strbuf_puts(&b, p->docs[i].text);
            strbuf_printf(&b, "\n=== End of document %zu ===", i + 1);
        }
    }
    return strbuf_take(&b, NULL);
}

const char *persona_instruction(const persona *p)
{
    if (!p || !p->n_docs) return NULL;
    return p->context_instruction ? p->context_instruction : PERSONA_DEFAULT_INSTRUCTION;
}

char *persona_greeting_text(const persona *p, const persona_vars *v)
{
    return persona_greeting_at(p, v, 0);
}

size_t persona_n_greetings(const persona *p)
{
    return p->greeting ? 1 + p->alt_greetings.n : 0;
}

char *persona_greeting_at(const persona *p, const persona_vars *v, size_t i)
{
    size_t n = persona_n_greetings(p);
    if (!n) return NULL;
    i %= n;
    return persona_expand(p, v, i ? p->alt_greetings.v[i - 1] : p->greeting);
}

void persona_msgs_free(persona_msgs *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->v);
    memset(m, 0, sizeof *m);
}

int persona_render(const persona *p, const persona_vars *v, const nt_chat_msg *conv,
                   size_t n_conv, persona_msgs *out, nt_err *err)
{
    persona_msgs_free(out);
    size_t max = 1 + 2 * p->n_examples + n_conv;
    out->v = calloc(max, sizeof *out->v);
    out->owned = calloc(1 + 2 * p->n_examples, sizeof *out->owned);
    if (!out->v || !out->owned) goto oom;
    char *sys = persona_system_text(p, v);
    if (!sys) goto oom;
    out->owned[out->n_owned++] = sys;
    if (*sys) out->v[out->n++] = (nt_chat_msg){NT_ROLE_SYSTEM, sys};
    for (size_t i = 0; i < p->n_examples; i++) {
        char *u = persona_expand(p, v, p->examples[i].user);
        if (!u) goto oom;
        out->owned[out->n_owned++] = u;
        char *a = persona_expand(p, v, p->examples[i].assistant);
        if (!a) goto oom;
        out->owned[out->n_owned++] = a;
        out->v[out->n++] = (nt_chat_msg){NT_ROLE_USER, u};
        out->v[out->n++] = (nt_chat_msg){NT_ROLE_ASSISTANT, a};
    }
    for (size_t i = 0; i < n_conv; i++) out->v[out->n++] = conv[i];
    return NT_OK;
oom:
    persona_msgs_free(out);
    return nt_err_set(err, NT_ERR_NOMEM, "persona '%s': out of memory", p->name);
}

enum nt_chat_family persona_family(const persona *p, enum nt_chat_family model_family)
{
    return p && p->template_family >= 0 ? (enum nt_chat_family)p->template_family : model_family;
}

int persona_count_tokens(const persona *p, const persona_vars *v, const nt_tokenizer *t,
                         enum nt_chat_family f, int32_t *n_tokens, nt_err *err)
{
    persona_msgs m = {0};
    nt_chat_prompt cp = {0};
    nt_tokens toks = {0};
    *n_tokens = 0;
    int rc = persona_render(p, v, NULL, 0, &m, err);
    if (rc) goto done;
    if (m.n == 0) goto done;
    rc = nt_chat_format(f, m.v, m.n, false, &cp, err);
    if (rc) goto done;
    rc = nt_chat_tokenize(t, &cp, nt_tokenizer_add_bos(t), &toks, err);
    if (rc) goto done;
    *n_tokens = (int32_t)toks.n;
done:
    nt_tokens_free(&toks);
    nt_chat_prompt_free(&cp);
    persona_msgs_free(&m);
    return rc;
}

void persona_apply_sampling(const persona *p, nt_sampler_params *sp, int32_t *max_tokens)
{
    const persona_sampling *s = &p->sampling;
    param_values v = {.sp = sp ? *sp : (nt_sampler_params){0}, .max_tokens = max_tokens ? *max_tokens : 0};
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        const param_def *d = &param_defs[i];
        if (!(s->set & (1u << i)) || (param_is_sampler(d) ? !sp : !max_tokens)) continue;
        param_copy(d, &v, &s->v);
    }
    if (sp) *sp = v.sp;
    if (max_tokens) *max_tokens = v.max_tokens;
}

/* ================================================================ YAML writing ===== */

/* The emitter helpers are yamlcfg's (shared with the session writer). */
#define ev_scalar ycfg_emit_text
#define ev_str ycfg_emit_str
#define ev_plain ycfg_emit_plain
#define ev_map(e, start) ycfg_emit_map(e, start, false)
#define ev_seq(e, start) ycfg_emit_seq(e, start, false)

static bool emit_persona(yaml_emitter_t *e, const persona *p)
{
    bool ok = ev_map(e, true);
    ok = ok && ev_scalar(e, "name") && ev_str(e, p->name);
    if (p->description && *p->description)
        ok = ok && ev_scalar(e, "description") && ev_str(e, p->description);
    if (p->model) ok = ok && ev_scalar(e, "model") && ev_str(e, p->model);
    if (p->template_family >= 0)
        ok = ok && ev_scalar(e, "template") &&
             ev_str(e, nt_chat_family_name((enum nt_chat_family)p->template_family));
    ok = ok && ev_scalar(e, "system") && ev_str(e, p->system ? p->system : "");
    if (p->greeting) ok = ok && ev_scalar(e, "greeting") && ev_str(e, p->greeting);
    if (p->greeting && p->alt_greetings.n) {
        ok = ok && ev_scalar(e, "alternate_greetings") && ev_seq(e, true);
        for (size_t i = 0; ok && i < p->alt_greetings.n; i++) ok = ev_str(e, p->alt_greetings.v[i]);
        ok = ok && ev_seq(e, false);
    }
    if (p->n_examples) {
        ok = ok && ev_scalar(e, "examples") && ev_seq(e, true);
        for (size_t i = 0; ok && i < p->n_examples; i++) {
            ok = ev_map(e, true) && ev_scalar(e, "user") && ev_str(e, p->examples[i].user) &&
                 ev_scalar(e, "assistant") && ev_str(e, p->examples[i].assistant) && ev_map(e, false);
        }
        ok = ok && ev_seq(e, false);
    }
    if (p->n_docs) {
        ok = ok && ev_scalar(e, "context") && ev_seq(e, true);
        for (size_t i = 0; ok && i < p->n_docs; i++) {
            ok = ev_map(e, true);
            if (ok && p->docs[i].title) ok = ev_scalar(e, "title") && ev_str(e, p->docs[i].title);
            if (p->docs[i].file)
                ok = ok && ev_scalar(e, "file") && ev_str(e, p->docs[i].file);
            else
                ok = ok && ev_scalar(e, "text") && ev_str(e, p->docs[i].text);
            ok = ok && ev_map(e, false);
        }
        ok = ok && ev_seq(e, false);
    }
    if (p->documents.n) {
        ok = ok && ev_scalar(e, "documents") && ev_seq(e, true);
        for (size_t i = 0; ok && i < p->documents.n; i++) ok = ev_str(e, p->documents.v[i]);
        ok = ok && ev_seq(e, false);
    }
    if (p->context_instruction)
        ok = ok && ev_scalar(e, "context_instruction") && ev_str(e, p->context_instruction);
    if (p->memory >= 0) ok = ok && ev_scalar(e, "memory") && ycfg_emit_long(e, p->memory);
    if (p->think) ok = ok && ev_scalar(e, "think") && ev_plain(e, chat_think_name((enum chat_think)p->think));
    const persona_sampling *s = &p->sampling;
    if (s->set) {
        ok = ok && ev_scalar(e, "sampling") && ev_map(e, true);
        for (size_t i = 0; ok && i < PARAM_COUNT; i++) {
            if (!(s->set & (1u << i))) continue;
            char num[40];
            param_format(&param_defs[i], &s->v, num, sizeof num);
            ok = ev_scalar(e, param_defs[i].yaml) && ev_plain(e, num);
        }
        ok = ok && ev_map(e, false);
    }
    if (p->stop.n) {
        ok = ok && ev_scalar(e, "stop") && ev_seq(e, true);
        for (size_t i = 0; ok && i < p->stop.n; i++) ok = ev_str(e, p->stop.v[i]);
        ok = ok && ev_seq(e, false);
    }
    return ok && ev_map(e, false);
}

char *persona_to_yaml(const persona *p, const char *header)
{
    strbuf b = {0};
    yaml_emitter_t e;
    bool ok = ycfg_emit_begin(&e, &b, header, -1); /* never fold */
    ok = ycfg_emit_end(&e, ok && emit_persona(&e, p));
    if (!ok || b.oom) {
        strbuf_free(&b);
        return NULL;
    }
    return strbuf_take(&b, NULL);
}

/* ============================================================ Character Cards ===== */

char *persona_slug(const char *name)
{
    strbuf b = {0};
    bool dash = false;
    for (const unsigned char *s = (const unsigned char *)name; *s && b.n < 48; s++) {
        if (isalnum(*s) && *s < 0x80) {
            if (dash && b.n) strbuf_puts(&b, "-");
            dash = false;
            char ch = (char)tolower(*s);
            strbuf_putc(&b, ch);
        } else {
            dash = true;
        }
    }
    if (!b.n) strbuf_puts(&b, "character");
    return strbuf_take(&b, NULL);
}

/* Rewrites a card's macros to persona variables: {{User}} → {{user}}, {{Char}} and <BOT>
 * → {{char}}, <USER> → {{user}}, {{original}} → nothing; any other {{macro}} (a feature of
 * some chat front-end) becomes its plain text and is counted in *dropped. */
static char *card_macros(const char *s, int *dropped)
{
    strbuf b = {0};
    while (*s) {
        if (!strncmp(s, "<USER>", 6) || !strncmp(s, "<BOT>", 5)) {
            bool u = s[1] == 'U';
            strbuf_puts(&b, u ? "{{user}}" : "{{char}}");
            s += u ? 6 : 5;
            continue;
        }
        if (s[0] == '{' && s[1] == '{') {
            const char *e = strstr(s + 2, "}}");
            if (e && e - s - 2 < 64 && !memchr(s + 2, '\n', (size_t)(e - s - 2))) {
                size_t n = (size_t)(e - s - 2);
                char name[64];
                memcpy(name, s + 2, n);
                name[n] = 0;
                if (!strcasecmp(name, "user") || !strcasecmp(name, "char")) {
                    strbuf_puts(&b, tolower((unsigned char)name[0]) == 'u' ? "{{user}}" : "{{char}}");
                } else if (!strcasecmp(name, "original")) {
                    /* The front-end's default prompt: natter has none to insert. */
                } else {
                    strbuf_puts(&b, name);
                    (*dropped)++;
                }
                s = e + 2;
                continue;
            }
        }
        strbuf_put(&b, s, 1);
        s++;
    }
    return strbuf_take(&b, NULL);
}

static char *trimmed(const char *s)
{
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') s++;
    char *d = strdup(s);
    if (d) rtrim(d);
    return d;
}

/* Splits a mes_example into pairs: blocks separated by <START>; in each, lines starting
 * with "{{user}}:" or "{{char}}:" open a message and other lines continue it. A user message
 * followed by a character message makes a pair; consecutive user messages are joined; a
 * character message with no question before it cannot be an example pair and is skipped. */
static int card_examples(persona *p, const char *mes)
{
    char *copy = strdup(mes);
    if (!copy) return NT_ERR_NOMEM;
    strbuf user = {0}, asst = {0};
    int who = 0; /* 0 none, 1 user, 2 char: the message being collected */
    int rc = NT_OK;
    char *save;
#define FLUSH_PAIR()                                                                         \
    do {                                                                                     \
        if (user.n && asst.n && !user.oom && !asst.oom) {                                    \
            persona_example *v = realloc(p->examples, (p->n_examples + 1) * sizeof *v);     \
            char *u = trimmed(user.s), *a = trimmed(asst.s);                                 \
            if (!v || !u || !a) {                                                            \
                free(u);                                                                     \
                free(a);                                                                     \
                if (v) p->examples = v;                                                      \
                rc = NT_ERR_NOMEM;                                                           \
            } else {                                                                         \
                p->examples = v;                                                             \
                v[p->n_examples].user = u;                                                   \
                v[p->n_examples].assistant = a;                                              \
                p->n_examples++;                                                             \
            }                                                                                \
        }                                                                                    \
        strbuf_free(&user);                                                                  \
        strbuf_free(&asst);                                                                  \
    } while (0)
    /* Split by hand rather than with strtok: blank lines inside a message must survive. */
    for (char *line = copy; line; line = save) {
        save = strchr(line, '\n');
        if (save) *save++ = 0;
        char *l = line;
        size_t ll = strlen(l);
        if (ll && l[ll - 1] == '\r') l[--ll] = 0;
        char *t = l;
        while (*t == ' ' || *t == '\t') t++;
        if (!strncasecmp(t, "<START>", 7)) {
            FLUSH_PAIR();
            who = 0;
            continue;
        }
        if (!strncmp(t, "{{user}}:", 9)) {
            if (asst.n) FLUSH_PAIR();
            if (user.n) strbuf_puts(&user, "\n");
            strbuf_puts(&user, t + 9);
            who = 1;
        } else if (!strncmp(t, "{{char}}:", 9)) {
            if (asst.n) {
                if (user.n) {
                    FLUSH_PAIR();
                } else {
                    strbuf_puts(&asst, "\n");
                    strbuf_puts(&asst, t + 9);
                    who = 2;
                    continue;
                }
            }
            if (!user.n) {
                who = 0; /* no question before it: not usable as an example */
                continue;
            }
            strbuf_puts(&asst, t + 9);
            who = 2;
        } else if (who == 1) {
            strbuf_puts(&user, "\n");
            strbuf_puts(&user, l);
        } else if (who == 2) {
            strbuf_puts(&asst, "\n");
            strbuf_puts(&asst, l);
        }
    }
    FLUSH_PAIR();
#undef FLUSH_PAIR
    free(copy);
    return rc;
}

/* The card's alternate_greetings (an array of strings; absent, null or empty: none), kept as
 * the persona's: /regen on the greeting cycles through them. Empty ones are left out; with no
 * first_mes the first becomes the greeting. prefix as card_str's. */
static int card_alt_greetings(persona *p, const json_t *arr, const char *prefix, int *dropped,
                              nt_err *err)
{
    if (!arr || json_is_null(arr)) return NT_OK;
    if (!json_is_array(arr))
        return nt_err_set(err, NT_ERR_FORMAT, "card field '%salternate_greetings' must be an "
                          "array of strings, not %s", prefix, json_type_name(arr));
    size_t n = json_array_size(arr);
    char **v = calloc(n + 1, sizeof *v);
    if (!v) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *it = json_array_get(arr, i);
        const char *s = json_string_value(it);
        if (!s) {
            ycfg_strv_free(v);
            return nt_err_set(err, NT_ERR_FORMAT, "items of '%salternate_greetings' must be "
                              "strings, not %s", prefix, json_type_name(it));
        }
        char *m = card_macros(s, dropped), *t = m ? trimmed(m) : NULL;
        free(m);
        if (!t) {
            ycfg_strv_free(v);
            return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        }
        if (*t) v[k++] = t;
        else free(t);
    }
    if (k && !p->greeting) {
        p->greeting = v[0];
        memmove(v, v + 1, k * sizeof *v);
        k--;
    }
    if (!k) {
        ycfg_strv_free(v);
        return NT_OK;
    }
    p->alt_greetings.v = v;
    p->alt_greetings.n = k;
    return NT_OK;
}

/* A string field of the card's data, "" when absent; NT_ERR_FORMAT for a non-string. jansson
 * keeps no places in its tree, so the message names the field by its path (prefix is "data."
 * for a V2 card, "" for V1). */
static int card_str(const json_t *data, const char *prefix, const char *key, const char **out,
                    nt_err *err)
{
    const json_t *j = json_object_get(data, key);
    *out = "";
    if (!j || json_is_null(j)) return NT_OK;
    if (!json_is_string(j))
        return nt_err_set(err, NT_ERR_FORMAT, "card field '%s%s' must be a string, not %s", prefix,
                          key, json_type_name(j));
    *out = json_string_value(j);
    return NT_OK;
}

int persona_from_card(const json_t *card, persona **out, int *n_dropped, nt_err *err)
{
    *out = NULL;
    *n_dropped = 0;
    if (!json_is_object(card))
        return nt_err_set(err, NT_ERR_FORMAT, "not a Character Card: the file holds %s, not an object",
                          json_type_name(card));
    const json_t *data = card;
    const json_t *spec = json_object_get(card, "spec");
    const char *prefix = "";
    if (spec) {
        const char *sp = json_string_value(spec);
        if (!sp || (strcmp(sp, "chara_card_v2") && strcmp(sp, "chara_card_v3")))
            return nt_err_set(err, NT_ERR_FORMAT,
                              "unsupported card spec '%s' (natter reads chara_card_v2)",
                              sp ? sp : json_type_name(spec));
        data = json_object_get(card, "data");
        prefix = "data.";
        if (!json_is_object(data))
            return nt_err_set(err, NT_ERR_FORMAT, "card has no \"data\" object");
    } else if (!json_object_get(card, "name") || !json_object_get(card, "first_mes")) {
        return nt_err_set(err, NT_ERR_FORMAT,
                          "not a Character Card: no \"spec\": \"chara_card_v2\" (and no V1 name/first_mes)");
    }
    static const char *const keys[] = {"name", "description", "personality", "scenario",
                                       "first_mes", "mes_example", "system_prompt",
                                       "post_history_instructions", "creator_notes"};
    enum { K_NAME, K_DESC, K_PERS, K_SCEN, K_FIRST, K_MES, K_SYS, K_POST, K_NOTES, K_N };
    const char *raw[K_N];
    char *f[K_N] = {0};
    int rc = NT_OK;
    persona *p = NULL;
    for (int i = 0; i < K_N; i++) {
        rc = card_str(data, prefix, keys[i], &raw[i], err);
        if (rc) return rc;
    }
    for (int i = 0; i < K_N; i++) {
        char *m = card_macros(raw[i], n_dropped);
        f[i] = m ? trimmed(m) : NULL;
        free(m);
        if (!f[i]) goto oom;
    }
    if (!*f[K_NAME]) {
        rc = nt_err_set(err, NT_ERR_FORMAT, "card has no name");
        goto fail;
    }
    if (strchr(f[K_NAME], '\n')) *strchr(f[K_NAME], '\n') = 0;
    p = persona_new();
    if (!p) goto oom;
    p->name = strdup(f[K_NAME]);
    p->path = strdup("(card)");
    strbuf sys = {0};
    if (*f[K_SYS])
        strbuf_puts(&sys, f[K_SYS]);
    else
        strbuf_puts(&sys, "You are {{char}}. Reply to {{user}} as {{char}} would, staying in character.");
    if (*f[K_DESC]) {
        strbuf_puts(&sys, "\n\n");
        strbuf_puts(&sys, f[K_DESC]);
    }
    if (*f[K_PERS]) {
        strbuf_puts(&sys, "\n\n{{char}}'s personality: ");
        strbuf_puts(&sys, f[K_PERS]);
    }
    if (*f[K_SCEN]) {
        strbuf_puts(&sys, "\n\nScenario: ");
        strbuf_puts(&sys, f[K_SCEN]);
    }
    if (*f[K_POST]) {
        strbuf_puts(&sys, "\n\n");
        strbuf_puts(&sys, f[K_POST]);
    }
    p->system = strbuf_take(&sys, NULL);
    /* The one-line description for listings: the creator's note, else a plain label. */
    strbuf d = {0};
    if (*f[K_NOTES]) {
        size_t n = strcspn(f[K_NOTES], "\n");
        if (n > 100) n = 100;
        strbuf_put(&d, f[K_NOTES], n);
        if (n < strcspn(f[K_NOTES], "\n")) strbuf_puts(&d, "...");
    } else {
        strbuf_puts(&d, "Character card: ");
        strbuf_puts(&d, p->name ? p->name : "");
    }
    p->description = strbuf_take(&d, NULL);
    if (*f[K_FIRST]) p->greeting = strdup(f[K_FIRST]);
    if (!p->name || !p->path || !p->system || !p->description || (*f[K_FIRST] && !p->greeting))
        goto oom;
    if (*f[K_MES] && card_examples(p, f[K_MES])) goto oom;
    if ((rc = card_alt_greetings(p, json_object_get(data, "alternate_greetings"), prefix, n_dropped, err)))
        goto fail;
    for (int i = 0; i < K_N; i++) free(f[i]);
    *out = p;
    return NT_OK;
oom:
    rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
fail:
    for (int i = 0; i < K_N; i++) free(f[i]);
    persona_free(p);
    return rc;
}

/* ===================================================================== listing ===== */

/* ycfg_describe_fn for personas. */
static bool persona_describe(const char *path, ycfg_diag *diag, char **name, char **description)
{
    persona *p = persona_load(path, NULL, diag);
    if (!p) return false;
    *name = p->name;
    *description = p->description;
    p->name = p->description = NULL;
    persona_free(p);
    return true;
}

int persona_list(persona_entry **out) { return ycfg_list_entries("prompts", persona_describe, out); }

void persona_entries_free(persona_entry *v, int n) { ycfg_entries_free(v, n); }
