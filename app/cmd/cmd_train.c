/* cmd_train.c — `natter train`: trains a small llama model on question/answer pairs (from
 * scratch, with its own BPE vocabulary, or fine-tuning an F32/F16 GGUF), resumes a run, and
 * checks a model's answers (--eval). The engine does the work (the "trainer" section of
 * natter.h); this file reads the YAML data, prints the progress line on stderr and stops
 * cleanly on Ctrl-C (the checkpoint is written first).
 *
 * Data files: a top-level `examples:` list of mappings (the persona files' shape; other
 * top-level keys, such as a persona's, are ignored):
 *
 *     examples:
 *       - user: How do I quit?
 *         also: [How can I exit?, How do I leave natter?]   # more phrasings, trained too
 *         heldout: [What ends the program?]                # never trained: --eval only
 *         key: Ctrl-D                                      # --eval: the answer must say it
 *         assistant: Press Ctrl-D, or type /quit.
 *
 * --eval answers every trained phrasing and every held-out one greedily and counts the
 * answers that contain the key phrase (case-insensitive); below the thresholds (90% trained,
 * 60% held-out) it exits with status 1. */
#include "natter_train.h"
#include "util/text.h"
#include "args.h"
#include "cmds.h"
#include "model_find.h"
#include "util/yamlcfg.h"
#include "conv/chat.h"
#include "conv/persona.h"
#include "docs/retrieve.h"
#include "util/strbuf.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TR_MAX_ANSWER 160 /* tokens generated per --eval answer */
#define TR_MAX_PERSONAS 4 /* --persona options in one training run */

/* ------------------------------------------------------------------------- data ----- */

/* One example of a data file. */
typedef struct qa_item {
    char *user, *assistant, *key;
    ycfg_strvec also, heldout;
    char *where; /* "file:line" for messages (malloc'd) */
} qa_item;

typedef struct qa_set {
    qa_item *v;
    size_t n, cap;
} qa_set;

static const ycfg_key qa_keys[] = {
    {"user", ycfg_h_text, offsetof(qa_item, user), 0, 0, false, 0},
    {"assistant", ycfg_h_text, offsetof(qa_item, assistant), 0, 0, true, 0},
    {"also", ycfg_h_strv, offsetof(qa_item, also), 0, 0, false, 0},
    {"heldout", ycfg_h_strv, offsetof(qa_item, heldout), 0, 0, false, 0},
    {"key", ycfg_h_str, offsetof(qa_item, key), 0, 0, false, 0},
    {NULL, NULL, 0, 0, 0, false, 0},
};

static void qa_item_free(qa_item *q)
{
    free(q->user);
    free(q->assistant);
    free(q->key);
    ycfg_strv_free(q->also.v);
    ycfg_strv_free(q->heldout.v);
    free(q->where);
}

static void qa_set_free(qa_set *s)
{
    for (size_t i = 0; i < s->n; i++) qa_item_free(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Reads one YAML file's examples into s; diagnostics go to diag. */
static int qa_load_file(qa_set *s, const char *path, ycfg_diag *diag)
{
    ycfg c;
    int rc = ycfg_load(&c, path, NULL, diag);
    if (rc) {
        ycfg_free(&c);
        return rc;
    }
    yaml_node_t *root = ycfg_root(&c);
    yaml_node_t *ex = NULL;
    if (!root || root->type != YAML_MAPPING_NODE) {
        rc = ycfg_error(&c, root, "a data file must be a mapping with an 'examples' list");
        goto out;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ycfg_node(&c, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, "examples") == 0)
            ex = ycfg_node(&c, p->value);
    }
    if (!ex || ex->type != YAML_SEQUENCE_NODE) {
        rc = ycfg_error(&c, ex ? ex : root, "'examples' must be a list of user/assistant pairs");
        goto out;
    }
    for (yaml_node_item_t *it = ex->data.sequence.items.start; it < ex->data.sequence.items.top; it++) {
        yaml_node_t *n = ycfg_node(&c, *it);
        qa_item q = {0};
        if (ycfg_map(&c, n, qa_keys, &q, YCFG_NO_SET, "an example") != NT_OK) {
            qa_item_free(&q);
            rc = NT_ERR_FORMAT;
            continue;
        }
        if (!q.user && q.heldout.n == 0) {
            /* Without `user`, an example is a question set for --eval: its held-out phrasings. */
            ycfg_error(&c, n, "an example needs 'user' (or, in a set only for --eval, 'heldout')");
            qa_item_free(&q);
            rc = NT_ERR_FORMAT;
            continue;
        }
        char where[512];
        snprintf(where, sizeof where, "%s:%zu", path, n->start_mark.line + 1);
        q.where = strdup(where);
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 256;
            qa_item *v = realloc(s->v, cap * sizeof *v);
            if (!v || !q.where) {
                qa_item_free(&q);
                rc = NT_ERR_NOMEM;
                goto out;
            }
            s->v = v;
            s->cap = cap;
        }
        s->v[s->n++] = q;
    }
out:
    ycfg_free(&c);
    return rc;
}

static int qa_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or every *.yaml / *.yml in a folder (sorted, so the order is reproducible). */
static int qa_load_path(qa_set *s, const char *path, ycfg_diag *diag)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        ycfg_diag_add(diag, "%s: %s", path, strerror(errno));
        return NT_ERR_IO;
    }
    if (!S_ISDIR(st.st_mode)) return qa_load_file(s, path, diag);
    DIR *d = opendir(path);
    if (!d) {
        ycfg_diag_add(diag, "%s: %s", path, strerror(errno));
        return NT_ERR_IO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = NT_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        bool yaml = (l > 5 && strcmp(e->d_name + l - 5, ".yaml") == 0) ||
                    (l > 4 && strcmp(e->d_name + l - 4, ".yml") == 0);
        if (!yaml || e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **v = realloc(names, cap * sizeof *v);
            if (!v) {
                rc = NT_ERR_NOMEM;
                break;
            }
            names = v;
        }
        size_t pl = strlen(path) + l + 2;
        if (!(names[n] = malloc(pl))) {
            rc = NT_ERR_NOMEM;
            break;
        }
        snprintf(names[n++], pl, "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (!rc && n == 0) {
        ycfg_diag_add(diag, "%s: no .yaml files in this folder", path);
        rc = NT_ERR_IO;
    }
    if (!rc) qsort(names, n, sizeof *names, qa_cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (!rc || rc == NT_ERR_FORMAT) {
            int r = qa_load_file(s, names[i], diag);
            if (r && rc != NT_ERR_NOMEM) rc = r;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---------------------------------------------------------------------- options ----- */

typedef struct tr_opts {
    nt_train_params p;
    const char *data[64];
    int n_data;
    const char *init, *out, *eval;
    const char *system[8]; /* --system, repeatable: each pair is trained (and asked) with each */
    int n_system;
    bool resume, quiet, verbose;
    bool casual;   /* --casual: also train each phrasing's lower-case form (tr_build_data) */
    double history; /* --history X: share of sequences trained after an earlier exchange */
    bool after_turn; /* --eval --after-turn: each question asked after another exchange */
    int every;       /* --eval --every N: only every Nth question of the data (1: all) */
    double min_train, min_heldout; /* --eval thresholds, percent */
    /* Open-book (--persona): each question comes with the passages retrieval finds for it. */
    /* The personas whose documents, system prompt and memory shape it: repeatable for
     * training (each sequence takes one, by a hash), one for --eval. persona[0] or NULL. */
    const char *persona[TR_MAX_PERSONAS];
    int n_persona;
    const char *docs[16];  /* --docs: more documents */
    int n_docs;
    const char *index;     /* --index DB: the index (NULL: the default, docindex.h) */
    double absent;         /* --absent X: share of sequences without the right passage */
    bool dump;             /* --dump: print the training sequences' texts instead of training */
    const char *facts;     /* --write-facts OUT.md: the pairs as Markdown, for retrieval */
} tr_opts;

static void tr_usage(FILE *f)
{
    fprintf(f,
            "usage: natter train --data PATH... -o OUT.gguf [options]\n"
            "       natter train --init MODEL.gguf --data PATH... -o OUT.gguf [options]\n"
            "       natter train --resume --data PATH... -o OUT.gguf [options]\n"
            "       natter train --eval MODEL.gguf --data PATH... [--system TEXT]\n"
            "data:      --data FILE_OR_DIR (repeatable) · --system TEXT (repeatable; '' = none)\n"
            "model:     --dim N --layers N --heads N --kv-heads N --ff N --vocab N --ctx N\n"
            "training:  --steps N --batch N --lr X --lr-min X --warmup N --weight-decay X\n"
            "           --clip X --dropout X --question-drop X --seed N --threads N\n"
            "           --save-every N --f16 --casual --history X --quiet\n"
            "open book: --persona NAME (its documents: passages with each question; up to 4)\n"
            "           --docs PATH --index DB --absent X --dump · --write-facts OUT.md\n"
            "eval:      --min-train PERCENT (90) --min-heldout PERCENT (60) --verbose --after-turn\n"
            "           --every N\n"
            "See natter(1), TRAINING.\n");
}

/* The numeric options: each value is read into its field of tr_opts with its bounds. */
enum tr_kind { TR_I32, TR_F32, TR_F64 };
typedef struct tr_numopt {
    const char *name;
    enum tr_kind kind;
    double lo, hi;
    size_t off; /* of the field in tr_opts */
} tr_numopt;

static const tr_numopt tr_numopts[] = {
    {"dim", TR_I32, 8, 8192, offsetof(tr_opts, p.n_embd)},
    {"layers", TR_I32, 1, 256, offsetof(tr_opts, p.n_layer)},
    {"heads", TR_I32, 1, 256, offsetof(tr_opts, p.n_head)},
    {"kv-heads", TR_I32, 1, 256, offsetof(tr_opts, p.n_head_kv)},
    {"ff", TR_I32, 1, 65536, offsetof(tr_opts, p.n_ff)},
    {"vocab", TR_I32, 259, 1 << 20, offsetof(tr_opts, p.n_vocab)},
    {"ctx", TR_I32, 8, 8192, offsetof(tr_opts, p.n_ctx)},
    {"steps", TR_I32, 0, 100000000, offsetof(tr_opts, p.steps)},
    {"batch", TR_I32, 1, 65536, offsetof(tr_opts, p.batch)},
    {"warmup", TR_I32, 0, 100000000, offsetof(tr_opts, p.warmup)},
    {"threads", TR_I32, 0, 64, offsetof(tr_opts, p.n_threads)},
    {"save-every", TR_I32, 0, 100000000, offsetof(tr_opts, p.save_every)},
    {"every", TR_I32, 1, 1000000, offsetof(tr_opts, every)},
    {"lr", TR_F32, 1e-9, 10, offsetof(tr_opts, p.lr)},
    {"lr-min", TR_F32, 0, 10, offsetof(tr_opts, p.lr_min)},
    {"weight-decay", TR_F32, 0, 10, offsetof(tr_opts, p.weight_decay)},
    {"clip", TR_F32, 0, 1e6, offsetof(tr_opts, p.clip)},
    {"dropout", TR_F32, 0, 0.9, offsetof(tr_opts, p.dropout)},
    {"question-drop", TR_F32, 0, 0.9, offsetof(tr_opts, p.question_drop)},
    {"history", TR_F64, 0, 1, offsetof(tr_opts, history)},
    {"absent", TR_F64, 0, 1, offsetof(tr_opts, absent)},
    {"min-train", TR_F64, 0, 100, offsetof(tr_opts, min_train)},
    {"min-heldout", TR_F64, 0, 100, offsetof(tr_opts, min_heldout)},
};
#define TR_N_NUMOPTS (sizeof tr_numopts / sizeof tr_numopts[0])
#define TR_OPT_NUM 1000 /* getopt's val for tr_numopts[k]: TR_OPT_NUM + k */

enum {
    TR_OPT_INIT = 256, TR_OPT_EVAL, TR_OPT_SYSTEM, TR_OPT_RESUME, TR_OPT_AFTER_TURN,
    TR_OPT_CASUAL, TR_OPT_F16, TR_OPT_SEED, TR_OPT_PERSONA, TR_OPT_DOCS, TR_OPT_INDEX,
    TR_OPT_DUMP, TR_OPT_FACTS
};
static const struct option tr_flagopts[] = {
    {"data", required_argument, NULL, 'd'},
    {"out", required_argument, NULL, 'o'},
    {"init", required_argument, NULL, TR_OPT_INIT},
    {"eval", required_argument, NULL, TR_OPT_EVAL},
    {"system", required_argument, NULL, TR_OPT_SYSTEM},
    {"resume", no_argument, NULL, TR_OPT_RESUME},
    {"after-turn", no_argument, NULL, TR_OPT_AFTER_TURN},
    {"casual", no_argument, NULL, TR_OPT_CASUAL},
    {"f16", no_argument, NULL, TR_OPT_F16},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"seed", required_argument, NULL, TR_OPT_SEED},
    {"persona", required_argument, NULL, TR_OPT_PERSONA},
    {"docs", required_argument, NULL, TR_OPT_DOCS},
    {"index", required_argument, NULL, TR_OPT_INDEX},
    {"dump", no_argument, NULL, TR_OPT_DUMP},
    {"write-facts", required_argument, NULL, TR_OPT_FACTS},
    {"help", no_argument, NULL, 'h'},
};
#define TR_N_FLAGOPTS (sizeof tr_flagopts / sizeof tr_flagopts[0])

/* Reads the current option's value into the field of tr_numopts[k]. 0 or -1 (printed). */
static int tr_set_num(tr_opts *o, args *a, size_t k)
{
    const tr_numopt *n = &tr_numopts[k];
    char *field = (char *)o + n->off;
    if (n->kind == TR_I32) {
        int32_t v;
        if (args_int(a, (long)n->lo, (long)n->hi, &v)) return -1;
        memcpy(field, &v, sizeof v);
        return 0;
    }
    double v;
    if (args_double(a, n->lo, n->hi, &v)) return -1;
    if (n->kind == TR_F64) {
        memcpy(field, &v, sizeof v);
    } else {
        float f = (float)v;
        memcpy(field, &f, sizeof f);
    }
    return 0;
}

/* Returns 0 to go on, 1 after --help, 2 on a usage error. */
static int tr_parse(tr_opts *o, int argc, char **argv)
{
    struct option opts[TR_N_FLAGOPTS + TR_N_NUMOPTS + 1];
    memcpy(opts, tr_flagopts, sizeof tr_flagopts);
    for (size_t k = 0; k < TR_N_NUMOPTS; k++)
        opts[TR_N_FLAGOPTS + k] =
            (struct option){tr_numopts[k].name, required_argument, NULL, TR_OPT_NUM + (int)k};
    opts[TR_N_FLAGOPTS + TR_N_NUMOPTS] = (struct option){0};
    args a = args_start("natter train", argc, argv, "d:o:qvh", opts);
    for (int c; (c = args_next(&a)) != -1;) {
        switch (c) {
        case 'h': tr_usage(stdout); return 1;
        case 'd':
            if (o->n_data == 64) {
                text_printf(stderr, "natter train: too many --data options (64 at most)\n");
                return 2;
            }
            o->data[o->n_data++] = a.value;
            break;
        case 'o': o->out = a.value; break;
        case TR_OPT_INIT: o->init = a.value; break;
        case TR_OPT_EVAL: o->eval = a.value; break;
        case TR_OPT_SYSTEM:
            if (o->n_system == 8) {
                text_printf(stderr, "natter train: too many --system options (8 at most)\n");
                return 2;
            }
            o->system[o->n_system++] = a.value;
            break;
        case TR_OPT_RESUME: o->resume = true; break;
        case TR_OPT_AFTER_TURN: o->after_turn = true; break;
        case TR_OPT_CASUAL: o->casual = true; break;
        case TR_OPT_PERSONA:
            if (o->n_persona == TR_MAX_PERSONAS) {
                text_printf(stderr, "natter train: too many --persona options (%d at most)\n", TR_MAX_PERSONAS);
                return 2;
            }
            o->persona[o->n_persona++] = a.value;
            break;
        case TR_OPT_DOCS:
            if (o->n_docs == 16) {
                text_printf(stderr, "natter train: too many --docs options (16 at most)\n");
                return 2;
            }
            o->docs[o->n_docs++] = a.value;
            break;
        case TR_OPT_INDEX: o->index = a.value; break;
        case TR_OPT_DUMP: o->dump = true; break;
        case TR_OPT_FACTS: o->facts = a.value; break;
        case TR_OPT_F16: o->p.f16 = true; break;
        case 'q': o->quiet = true; break;
        case 'v': o->verbose = true; break;
        case TR_OPT_SEED:
            if (args_u64(&a, UINT64_MAX, &o->p.seed)) return 2;
            break;
        case '?': tr_usage(stderr); return 2;
        default:
            if (tr_set_num(o, &a, (size_t)(c - TR_OPT_NUM))) return 2;
            break;
        }
    }
    if (args_operands(&a, 0)) return 2;
    if (o->n_data == 0) {
        text_printf(stderr, "natter train: no data: give --data FILE_OR_DIR\n");
        return 2;
    }
    if (o->eval && o->n_persona > 1) {
        text_printf(stderr, "natter train: --eval checks one --persona at a time\n");
        return 2;
    }
    if (o->n_docs && !o->n_persona) {
        text_printf(stderr, "natter train: --docs needs --persona (whose prompt shape the passages take)\n");
        return 2;
    }
    if (!o->eval && !o->out && !o->dump && !o->facts) {
        text_printf(stderr, "natter train: give the output file with -o OUT.gguf\n");
        return 2;
    }
    if (o->init && o->resume) {
        text_printf(stderr, "natter train: --resume continues OUT.gguf; it does not take --init\n");
        return 2;
    }
    if (o->p.lr_min > o->p.lr) o->p.lr_min = o->p.lr;
    if (o->n_system == 0) o->system[o->n_system++] = ""; /* none */
    return 0;
}

/* ------------------------------------------------------------------- progress ----- */

static volatile sig_atomic_t tr_stop;

static void tr_on_sigint(int sig)
{
    (void)sig;
    tr_stop = 1;
}

typedef struct tr_ui {
    bool tty, quiet;
    int32_t every; /* lines printed every N steps when not on a terminal */
} tr_ui;

static void tr_hms(char *buf, size_t cap, double s)
{
    long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static bool tr_on_step(const nt_train_progress *p, void *user)
{
    const tr_ui *u = user;
    const bool last = p->step == p->steps;
    if (!u->quiet && (u->tty || last || p->saved || p->step % u->every == 0 || p->step == 1)) {
        char el[32], left[32];
        tr_hms(el, sizeof el, p->elapsed_s);
        tr_hms(left, sizeof left, p->eta_s);
        fprintf(stderr, "%sstep %d/%d  loss %.4f (avg %.4f)  lr %.2e  |g| %.3g  %.0f tok/s  %s elapsed, %s left%s%s",
                u->tty ? "\r" : "", (int)p->step, (int)p->steps, (double)p->loss,
                (double)p->loss_avg, (double)p->lr, (double)p->grad_norm, p->tok_per_s, el, left,
                p->saved ? "  [saved]" : "", u->tty ? "\x1b[K" : "\n");
        if (u->tty && (last || p->saved)) fputc('\n', stderr);
        fflush(stderr);
    }
    return !tr_stop;
}

/* ------------------------------------------------------------------------ train ----- */

/* The casual form of a phrasing, the way many people type into a chat box: ASCII letters in
 * lower case, trailing spaces and one final '?', '.' or '!' left out. malloc'd; NULL when out
 * of memory. */
static char *tr_casual(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ') n--;
    if (n > 0 && (s[n - 1] == '?' || s[n - 1] == '.' || s[n - 1] == '!')) n--;
    while (n > 0 && s[n - 1] == ' ') n--;
    char *c = malloc(n + 1);
    if (!c) return NULL;
    for (size_t i = 0; i < n; i++) c[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    c[n] = 0;
    return c;
}

/* The k-th trained phrasing of q (0 = user, then also). */
static const char *tr_phrasing(const qa_item *q, size_t k)
{
    return k == 0 ? q->user : q->also.v[k - 1];
}

static uint64_t tr_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* -------------------------------------------------------------------- open book ----- */

/* What an open-book model says when the passages it was given do not hold the answer: the
 * docqa persona's words too (prompts/docqa.yaml). */
#define TR_ABSENT_ANSWER "The documents do not say."

/* Whether hay contains needle, ignoring case, a space in needle matching any run of white
 * space in hay: a key phrase wrapped across two lines of a document (or of an answer) is
 * still there. */
static bool tr_contains_ci(const char *hay, const char *needle);

/* The prompt shape of a persona with documents (--persona): its system prompt, then the
 * passages retrieval finds for each question, placed by the chat's own rule (chat_prepare:
 * what fits next to the question, one earlier exchange and the room for the answer), so a
 * model trained or checked here reads what it will read in the chat. */
typedef struct tr_book {
    persona *p;
    docs *d;
    char *system;        /* the persona's system prompt, expanded */
    char *intro;         /* its context instruction, before the passages */
    int32_t max_tokens;  /* its answer limit: the room chat_prepare keeps for the answer */
    const nt_tokenizer *tk;
    enum nt_chat_family family;
    int32_t n_ctx;
} tr_book;

static void tr_book_free(tr_book *b)
{
    docs_free(b->d);
    persona_free(b->p);
    free(b->system);
    free(b->intro);
    memset(b, 0, sizeof *b);
}

/* Opens the persona name and the index of its documents and o->docs (brought up to date
 * now). 0, or 1 after printing why. */
static int tr_book_open(tr_book *b, const char *name, const tr_opts *o, const nt_tokenizer *tk,
                        enum nt_chat_family f, int32_t n_ctx)
{
    nt_err e = {0};
    ycfg_diag diag = {0};
    memset(b, 0, sizeof *b);
    b->p = persona_open(name, &diag);
    for (size_t i = 0; i < diag.n; i++) text_printf(stderr, "%s\n", diag.v[i]);
    ycfg_diag_free(&diag);
    if (!b->p) {
        text_printf(stderr, "natter train: --persona %s: cannot load it (see above)\n", name);
        return 1;
    }
    if (b->p->documents.n == 0 && o->n_docs == 0) {
        text_printf(stderr, "natter train: --persona %s has no documents: give --docs PATH\n", name);
        goto fail;
    }
    const persona_vars pv = {NULL, NULL, NULL};
    b->system = persona_system_text(b->p, &pv);
    b->intro = persona_docs_intro(b->p, &pv);
    nt_sampler_params sp = nt_sampler_default_params();
    b->max_tokens = 0;
    persona_apply_sampling(b->p, &sp, &b->max_tokens);
    if (!b->system || !b->intro) {
        text_printf(stderr, "natter train: out of memory\n");
        goto fail;
    }
    if (!(b->d = docs_init(o->index, &e))) goto fail_e;
    for (size_t i = 0; i < b->p->documents.n; i++)
        if (docs_add(b->d, b->p->documents.v[i], NULL, &e) != NT_OK) goto fail_e;
    for (int i = 0; i < o->n_docs; i++)
        if (docs_add(b->d, o->docs[i], NULL, &e) != NT_OK) goto fail_e;
    b->tk = tk;
    b->family = persona_family(b->p, f);
    b->n_ctx = n_ctx;
    return 0;
fail_e:
    text_printf(stderr, "natter train: documents: %s\n", e.msg);
fail:
    tr_book_free(b);
    return 1;
}

/* The system message for question q (after the exchange before[0..n_before), 0 or 2
 * messages) with the passages retrieval finds for it, as chat_prepare places them. With
 * drop, passages that contain key are left out (the right one is absent). *system (malloc'd)
 * gets it; *kept_before whether the earlier exchange still fits; *right whether a placed
 * passage contains key (false when key is NULL or empty). NT_OK or an error in e. */
static int tr_book_prompt(const tr_book *b, const nt_chat_msg *before, size_t n_before,
                          const char *q, const char *key, bool drop, char **system,
                          bool *kept_before, bool *right, nt_err *e)
{
    *system = NULL;
    *kept_before = false;
    *right = false;
    chat_source *hits = NULL;
    size_t nh = 0;
    char *missing = NULL, *notice = NULL;
    int rc = NT_ERR_NOMEM;
    chat *c = chat_init(b->tk, b->family, b->n_ctx);
    if (!c || chat_set_system(c, b->system) != NT_OK) goto nomem;
    chat_set_memory(c, b->p->memory);
    if (n_before == 2) {
        chat_turn t = {.role = NT_ROLE_ASSISTANT, .text = (char *)before[1].content};
        t.len = strlen(t.text);
        if (chat_add_user(c, before[0].content) != NT_OK || chat_restore_turn(c, &t) != NT_OK) goto nomem;
    }
    if (chat_add_user(c, q) != NT_OK) goto nomem;
    if ((rc = docs_find(b->d, c, &hits, &nh, &missing, e)) != NT_OK) goto out;
    const bool has_key = key && *key;
    if (drop && has_key) {
        size_t k = 0;
        for (size_t i = 0; i < nh; i++) {
            if (tr_contains_ci(hits[i].text, key) || tr_contains_ci(hits[i].title, key)) {
                free(hits[i].path);
                free(hits[i].title);
                free(hits[i].text);
            } else {
                hits[k++] = hits[i];
            }
        }
        nh = k;
    }
    /* The question's words are not in the documents: the notice a chat places instead. */
    if (missing && !(notice = docs_no_passage(b->intro, missing))) goto nomem;
    if (chat_set_candidates(c, hits, nh, notice ? notice : nh ? b->intro : NULL) != NT_OK)
        goto nomem;
    worker_job job;
    const nt_sampler_params sp = nt_sampler_default_params();
    if ((rc = chat_prepare(c, &sp, b->max_tokens, &job, NULL, e)) != NT_OK) goto out;
    const chat_turn *a = chat_turn_at(c, chat_n_turns(c) - 1);
    for (size_t i = 0; has_key && a && i < a->n_sources && !*right; i++)
        *right = tr_contains_ci(a->sources[i].text, key) || tr_contains_ci(a->sources[i].title, key);
    *kept_before = n_before > 0 && chat_first_turn(c) == 0;
    if (!(*system = strdup(chat_system_placed(c)))) goto nomem;
    rc = NT_OK;
    goto out;
nomem:
    rc = nt_err_set(e, NT_ERR_NOMEM, "out of memory");
out:
    chat_sources_free(hits, nh);
    free(missing);
    free(notice);
    chat_free(c);
    return rc;
}

/* For --verbose: whether a placed passage held the key phrase (right), and the header line
 * of each passage in the placed system message ("=== Passage 1: README.md:10-24 (Title)
 * ==="): what a missed question read. */
static void tr_print_passages(FILE *f, const char *placed, bool right)
{
    text_printf(f, "  the key phrase %s in a passage\n", right ? "was" : "was not");
    int n = 0;
    for (const char *l = placed; l && *l;) {
        const char *end = strchr(l, '\n');
        const size_t len = end ? (size_t)(end - l) : strlen(l);
        if ((len > 12 && !strncmp(l, "=== Passage ", 12)) ||
            (len > 15 && !strncmp(l, "=== No passage:", 15))) {
            text_printf(f, "  read: %.*s\n", (int)len, l);
            n++;
        }
        l = end ? end + 1 : NULL;
    }
    if (!n) text_printf(f, "  read: no passage\n");
}

/* Counts of what the open-book data holds, for the summary line. */
typedef struct tr_book_stats {
    size_t seqs, right, dropped, missed;
    size_t dumped; /* sequences --dump printed */
} tr_book_stats;

/* Where the sequences go: the model's data, or --dump's listing. */
typedef struct tr_sink {
    nt_train_model *m;
    nt_train_data *d;
    const tr_book *books; /* one per --persona; NULL: closed book (no passages) */
    int n_books;
    tr_book_stats st;
    FILE *dump;          /* --dump: the texts are printed here instead */
} tr_sink;

/* Prints one sequence's texts for --dump. */
static void tr_dump(FILE *f, size_t n, const char *where, const char *sys, const nt_chat_msg *before,
                    size_t n_before, const char *u, const char *a, const char *what)
{
    text_printf(f, "--- %zu %s %s\n", n, where, what);
    if (sys && *sys) text_printf(f, "[system]\n%s\n", sys);
    for (size_t i = 0; i < n_before; i++)
        text_printf(f, "[%s]\n%s\n", before[i].role == NT_ROLE_USER ? "user" : "assistant", before[i].content);
    text_printf(f, "[user]\n%s\n[assistant]\n%s\n", u, a);
}

/* Adds one sequence: question u of q after before[0..n_before) with system message sys, or
 * (open book) with the passages retrieval finds for u, its right ones left out when drop. */
static int tr_add_seq(const qa_item *q, const char *u, const char *sys, const nt_chat_msg *before,
                      size_t n_before, bool drop, const tr_book *book, tr_sink *sk)
{
    nt_err e = {0};
    const char *ans = q->assistant;
    char *placed = NULL;
    int rc = NT_OK;
    if (book) {
        bool kept = false, right = false;
        rc = tr_book_prompt(book, before, n_before, u, q->key, drop, &placed, &kept, &right, &e);
        if (rc != NT_OK) {
            text_printf(stderr, "natter train: %s: %s\n", q->where, e.msg);
            return 1;
        }
        if (!kept) n_before = 0;
        sys = placed;
        sk->st.seqs++;
        const bool has_key = q->key && *q->key && strcmp(ans, TR_ABSENT_ANSWER) != 0;
        if (has_key && right) sk->st.right++;
        else if (has_key && drop) sk->st.dropped++;
        if (has_key && !right && !drop) {
            /* Retrieval did not place a passage with the key phrase: left out. Its passages
             * may still hold the answer in other words, and "The documents do not say."
             * there would teach the model to refuse answers it was given; the twins
             * (--absent) teach that answer where it is known to be right. */
            sk->st.missed++;
            free(placed);
            return 0;
        }
        if (has_key && !right) ans = TR_ABSENT_ANSWER;
    }
    if (sk->dump) {
        sk->st.dumped++;
        tr_dump(sk->dump, sk->st.dumped, q->where, sys, before, n_before, u, ans,
                !book ? "" : strcmp(ans, q->assistant) ? "absent" : "answered");
        free(placed);
        return 0;
    }
    const nt_tokenizer *tk = nt_train_model_tokenizer(sk->m);
    const enum nt_chat_family fam = nt_train_model_chat(sk->m);
    const int32_t n_ctx = nt_train_model_n_ctx(sk->m);
    rc = nt_train_data_add_turn(sk->d, tk, fam, sys, before, n_before, u, ans, n_ctx, &e);
    if (rc == NT_ERR_CONTEXT_FULL && n_before) /* too long with the exchange: alone, then */
        rc = nt_train_data_add_turn(sk->d, tk, fam, sys, NULL, 0, u, ans, n_ctx, &e);
    free(placed);
    if (rc != NT_OK) {
        text_printf(stderr, "natter train: %s: %s\n", q->where, e.msg);
        return 1;
    }
    return 0;
}

/* Adds phrasing u of question qi (one sequence per --system). With --history X, a share X of
 * the sequences, picked by a hash of (seed, question, sequence number), puts one earlier
 * exchange before the question: another question of the data, also picked by the hash, with
 * its answer. In a chat the model sees its earlier turns, and a model trained only on lone
 * questions answers those instead of the newest one.
 * Open book (--persona): the system message holds the passages retrieval finds for the
 * question (tr_book_prompt). For a share --absent of the sequences, also picked by the hash,
 * the question is trained a second time with the passages holding its key phrase left out;
 * those, and any where retrieval did not place one, are answered TR_ABSENT_ANSWER: the model
 * learns to answer from the passages, and to say so when they do not hold the answer, rather
 * than from memory. */
static int tr_add_pair(const tr_opts *o, const qa_set *qs, size_t qi, const char *u, size_t seq,
                       tr_sink *sk)
{
    const qa_item *q = &qs->v[qi];
    for (int j = 0; j < o->n_system; j++) {
        nt_chat_msg before[2];
        size_t n_before = 0;
        const uint64_t h = tr_mix64(o->p.seed ^ tr_mix64(((uint64_t)qi << 24) ^ ((uint64_t)seq << 4) ^ (uint64_t)j));
        if (qs->n > 1 && (double)(h >> 11) * 0x1.0p-53 < o->history) {
            size_t pi = (size_t)(tr_mix64(h) % (qs->n - 1));
            if (pi >= qi) pi++; /* never the question itself */
            if (qs->v[pi].user) {
                before[0] = (nt_chat_msg){NT_ROLE_USER, qs->v[pi].user};
                before[1] = (nt_chat_msg){NT_ROLE_ASSISTANT, qs->v[pi].assistant};
                n_before = 2;
            }
        }
        /* Open book: the sequence with the passages retrieval finds, then, for a share
         * --absent, the same question again with its right passages left out. Both halves
         * of such a pair hold the same question, so only the passages tell which answer is
         * right: the model has to read them (a question answered "do not say" only sometimes
         * would be learnt by heart instead). */
        const bool twin = sk->books && (double)(tr_mix64(h ^ 0xab5e17ull) >> 11) * 0x1.0p-53 < o->absent;
        /* With several personas, the hash picks the one whose prompt shape this takes
         * (both halves of a twin pair the same). */
        const tr_book *book = sk->books ? &sk->books[tr_mix64(h ^ 0x9e3779b9ull) % (uint64_t)sk->n_books] : NULL;
        for (int drop = 0; drop <= (int)twin; drop++)
            if (tr_add_seq(q, u, o->system[j], before, n_before, drop, book, sk)) return 1;
    }
    return 0;
}

/* Every trained phrasing becomes a sequence (one per --system). With --casual, so does its
 * casual form (tr_casual) when that is not already one of the question's phrasings or an
 * earlier casual form: the tokens of "Hello" and "hello" differ, and a tiny model does not
 * learn on its own that they mean the same. */
static int tr_build_data(const tr_opts *o, const qa_set *qs, tr_sink *sk)
{
    for (size_t i = 0; i < qs->n; i++) {
        const qa_item *q = &qs->v[i];
        if (!q->user) continue; /* held-out phrasings only: a question set for --eval */
        const size_t n_ph = 1 + q->also.n;
        for (size_t k = 0; k < n_ph; k++)
            if (tr_add_pair(o, qs, i, tr_phrasing(q, k), k, sk)) return 1;
        if (!o->casual) continue;
        char **cas = calloc(n_ph, sizeof *cas);
        int rc = cas ? 0 : 1;
        for (size_t k = 0; k < n_ph && !rc; k++) {
            if (!(cas[k] = tr_casual(tr_phrasing(q, k)))) {
                rc = 1;
                break;
            }
            bool seen = cas[k][0] == 0;
            for (size_t a = 0; a < n_ph && !seen; a++)
                seen = !strcmp(cas[k], tr_phrasing(q, a)) || (a < k && !strcmp(cas[k], cas[a]));
            if (!seen && tr_add_pair(o, qs, i, cas[k], n_ph + k, sk)) rc = 2;
        }
        for (size_t k = 0; cas && k < n_ph; k++) free(cas[k]);
        free(cas);
        if (rc == 1) text_printf(stderr, "natter train: out of memory\n");
        if (rc) return 1;
    }
    return 0;
}

static int tr_train(tr_opts *o, const qa_set *qs)
{
    int status = 1;
    nt_err e = {0};
    nt_train_model *m = NULL;
    nt_train_vocab *v = NULL;
    nt_train_data *d = NULL;
    tr_book books[TR_MAX_PERSONAS] = {0};
    const char **texts = NULL;
    size_t *lens = NULL;

    if (o->resume) {
        if (nt_train_model_load(&m, o->out, &o->p, &e) || nt_train_model_resume(m, o->out, &e)) {
            text_printf(stderr, "natter train: --resume: %s\n", e.msg);
            goto out;
        }
    } else if (o->init) {
        if (nt_train_model_load(&m, o->init, &o->p, &e)) {
            text_printf(stderr, "natter train: --init: %s\n", e.msg);
            goto out;
        }
    } else {
        /* The vocabulary learns from everything that is trained: questions, their other
         * phrasings, answers and the system prompt (held-out phrasings stay unseen). */
        size_t n = 0, cap = (size_t)o->n_system;
        for (size_t i = 0; i < qs->n; i++) cap += 2 + qs->v[i].also.n;
        texts = malloc(cap * sizeof *texts);
        lens = malloc(cap * sizeof *lens);
        if (!texts || !lens) {
            text_printf(stderr, "natter train: out of memory\n");
            goto out;
        }
        for (size_t i = 0; i < qs->n; i++) {
            if (!qs->v[i].user) continue; /* an --eval set's */
            texts[n++] = qs->v[i].user;
            texts[n++] = qs->v[i].assistant;
            for (size_t k = 0; k < qs->v[i].also.n; k++) texts[n++] = qs->v[i].also.v[k];
        }
        for (int j = 0; j < o->n_system; j++)
            if (*o->system[j]) texts[n++] = o->system[j];
        for (size_t i = 0; i < n; i++) lens[i] = strlen(texts[i]);
        if (nt_train_bpe(&v, texts, lens, n, o->p.n_vocab, &e) || nt_train_model_new(&m, &o->p, v, &e)) {
            text_printf(stderr, "natter train: %s\n", e.msg);
            goto out;
        }
        if (!o->quiet && nt_train_vocab_size(v) < o->p.n_vocab)
            text_printf(stderr, "natter train: the data has only enough pairs for %d tokens (asked %d)\n",
                    (int)nt_train_vocab_size(v), (int)o->p.n_vocab);
    }
    d = nt_train_data_init();
    if (!d) {
        text_printf(stderr, "natter train: out of memory\n");
        goto out;
    }
    tr_sink sk = {.m = m, .d = d, .dump = o->dump ? stdout : NULL};
    for (int i = 0; i < o->n_persona; i++)
        if (tr_book_open(&books[i], o->persona[i], o, nt_train_model_tokenizer(m), nt_train_model_chat(m),
                         nt_train_model_n_ctx(m)))
            goto out;
    if (o->n_persona) {
        sk.books = books;
        sk.n_books = o->n_persona;
    }
    if (tr_build_data(o, qs, &sk)) goto out;
    if (o->n_persona && !o->quiet)
        text_printf(o->dump ? stdout : stderr,
                    "natter train: open book (%s%s): %zu sequences with a key phrase; the right passage placed "
                    "in %zu, left out on purpose in %zu (those answer \"%s\"), not found in %zu (not trained)\n",
                    o->persona[0], o->n_persona > 1 ? " and others" : "",
                    sk.st.right + sk.st.dropped + sk.st.missed, sk.st.right, sk.st.dropped,
                    TR_ABSENT_ANSWER, sk.st.missed);
    if (o->dump) {
        status = fflush(stdout) == 0 ? 0 : 1;
        goto out;
    }
    if (!o->quiet) {
        text_printf(stderr, "natter train: %lld parameters, vocabulary %d, context %d; %zu pairs, %lld "
                "tokens (%lld scored)", (long long)nt_train_model_n_params(m),
                (int)nt_tokenizer_n_vocab(nt_train_model_tokenizer(m)), (int)nt_train_model_n_ctx(m),
                nt_train_data_count(d), (long long)nt_train_data_tokens(d), (long long)nt_train_data_scored(d));
        if (nt_train_data_truncated(d))
            text_printf(stderr, "; %zu cut to the context", nt_train_data_truncated(d));
        text_printf(stderr, "\nnatter train: steps %d to %d, batch %d, lr %g -> %g, warm-up %d, seed %llu\n",
                (int)nt_train_model_step(m), (int)o->p.steps, (int)o->p.batch, (double)o->p.lr,
                (double)o->p.lr_min, (int)o->p.warmup, (unsigned long long)o->p.seed);
    }
    tr_ui ui = {isatty(STDERR_FILENO), o->quiet, 0};
    ui.every = o->p.steps / 100 > 10 ? o->p.steps / 100 : 10;
    struct sigaction sa = {0}, old;
    sa.sa_handler = tr_on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    int rc = nt_train_run(m, d, &o->p, o->out, tr_on_step, &ui, &e);
    sigaction(SIGINT, &old, NULL);
    if (rc == NT_ERR_CANCELLED) {
        text_printf(stderr, "natter train: stopped at step %d; %s is saved (continue with --resume)\n",
                (int)nt_train_model_step(m), o->out);
        status = 130;
        goto out;
    }
    if (rc) {
        text_printf(stderr, "natter train: %s\n", e.msg);
        goto out;
    }
    if (!o->quiet) text_printf(stderr, "natter train: wrote %s\n", o->out);
    status = 0;
out:
    for (int i = 0; i < o->n_persona; i++) tr_book_free(&books[i]);
    free(texts);
    free(lens);
    nt_train_data_free(d);
    nt_train_vocab_free(v);
    nt_train_model_free(m);
    return status;
}

/* ------------------------------------------------------------------------- eval ----- */

static bool tr_contains_ci(const char *hay, const char *needle)
{
    if (!*needle) return true;
    for (const char *p = hay; *p; p++) {
        const unsigned char *h = (const unsigned char *)p, *k = (const unsigned char *)needle;
        while (*k) {
            if (isspace(*k)) { /* any run of white space matches any other */
                if (!isspace(*h)) break;
                while (isspace(*k)) k++;
                while (isspace(*h)) h++;
            } else if (*h && tolower(*h) == tolower(*k)) {
                h++;
                k++;
            } else {
                break;
            }
        }
        if (!*k) return true;
    }
    return false;
}

/* The model's greedy answer to one question (malloc'd), or NULL with e filled. Generation
 * stops early once the answer contains key (when key is not NULL): the rest cannot change the
 * verdict. */
static char *tr_answer(nt_model *m, enum nt_chat_family f, const char *system, const qa_item *prev,
                       const char *q, const char *key, nt_err *e)
{
    const nt_tokenizer *tk = nt_model_tokenizer(m);
    nt_chat_msg msgs[4];
    size_t n = 0;
    if (system && *system) msgs[n++] = (nt_chat_msg){NT_ROLE_SYSTEM, system};
    if (prev) {
        msgs[n++] = (nt_chat_msg){NT_ROLE_USER, prev->user};
        msgs[n++] = (nt_chat_msg){NT_ROLE_ASSISTANT, prev->assistant};
    }
    msgs[n++] = (nt_chat_msg){NT_ROLE_USER, q};
    nt_chat_prompt cp = {0};
    nt_tokens pr = {0};
    char *out = NULL;
    float *logits = NULL;
    const int32_t V = nt_model_get_info(m)->n_vocab;
    size_t len = 0, cap = 256;
    nt_model_rewind(m, 0);
    if (nt_chat_format(f, msgs, n, true, &cp, e) || nt_chat_tokenize(tk, &cp, nt_tokenizer_add_bos(tk), &pr, e))
        goto fail;
    logits = malloc((size_t)V * sizeof *logits);
    out = malloc(cap);
    if (!logits || !out) {
        nt_err_set(e, NT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    out[0] = 0;
    int32_t room = nt_model_get_info(m)->n_ctx - (int32_t)pr.n;
    if (room <= 0) {
        nt_err_set(e, NT_ERR_CONTEXT_FULL, "the question does not fit in the context");
        goto fail;
    }
    if (nt_model_eval(m, pr.v, (int32_t)pr.n, logits, e)) goto fail;
    nt_tokenizer_stream ts;
    nt_tokenizer_stream_reset(&ts);
    ts.ntok = 1;
    ts.prev = -1;
    for (int k = 0; k < TR_MAX_ANSWER && k < room; k++) {
        int32_t best = 0;
        for (int32_t i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        if (nt_tokenizer_is_eog(tk, best)) break;
        char piece[256];
        size_t pl = nt_tokenizer_stream_feed(tk, &ts, best, piece, sizeof piece);
        if (len + pl + 1 > cap) {
            cap = 2 * (len + pl + 1);
            char *o2 = realloc(out, cap);
            if (!o2) {
                nt_err_set(e, NT_ERR_NOMEM, "out of memory");
                goto fail;
            }
            out = o2;
        }
        memcpy(out + len, piece, pl);
        out[len += pl] = 0;
        if (key && tr_contains_ci(out, key)) break;
        if (k + 1 < room && nt_model_eval(m, &best, 1, logits, e)) goto fail;
    }
    free(logits);
    nt_chat_prompt_free(&cp);
    nt_tokens_free(&pr);
    return out;
fail:
    free(out);
    free(logits);
    nt_chat_prompt_free(&cp);
    nt_tokens_free(&pr);
    return NULL;
}

static int tr_eval(const tr_opts *o, const qa_set *qs)
{
    nt_model *m = cmd_load_model("natter train: --eval", o->eval, 0, o->p.n_threads,
                                 NT_KV_TYPE_DEFAULT);
    if (!m) return 1;
    nt_err e = {0};
    const enum nt_chat_family f = nt_chat_detect_gguf(nt_model_gguf(m));
    tr_book book = {0}, *bk = NULL;
    if (o->n_persona) {
        if (tr_book_open(&book, o->persona[0], o, nt_model_tokenizer(m), f, nt_model_get_info(m)->n_ctx)) {
            nt_model_free(m);
            return 1;
        }
        bk = &book;
    }
    long hit[2] = {0, 0}, total[2] = {0, 0}, no_key = 0, found = 0;
    for (size_t i = 0; i < qs->n; i++) {
        const qa_item *q = &qs->v[i];
        if (i % (size_t)o->every) continue;
        if (!q->key || !*q->key) {
            no_key++;
            continue;
        }
        const size_t n_train = q->user ? 1 + q->also.n : 0, n_all = n_train + q->heldout.n;
        for (size_t kk = 0; kk < n_all * (size_t)o->n_system; kk++) {
            const size_t k = kk / (size_t)o->n_system;
            const int held = k >= n_train;
            const char *u = held ? q->heldout.v[k - n_train] : tr_phrasing(q, k);
            const char *sys = o->system[kk % (size_t)o->n_system];
            /* --after-turn: the next question of the data that has an answer comes first. */
            const qa_item *prev = NULL;
            for (size_t j = 1; o->after_turn && j < qs->n && !prev; j++)
                if (qs->v[(i + j) % qs->n].user) prev = &qs->v[(i + j) % qs->n];
            char *placed = NULL;
            bool right = false;
            if (bk) {
                const nt_chat_msg before[2] = {{NT_ROLE_USER, prev ? prev->user : NULL},
                                               {NT_ROLE_ASSISTANT, prev ? prev->assistant : NULL}};
                bool kept = false;
                if (tr_book_prompt(bk, before, prev ? 2 : 0, u, q->key, false, &placed, &kept, &right, &e) != NT_OK) {
                    text_printf(stderr, "natter train: %s: %s\n", q->where, e.msg);
                    tr_book_free(&book);
                    nt_model_free(m);
                    return 1;
                }
                if (!kept) prev = NULL;
                found += right;
                sys = placed;
            }
            char *ans = tr_answer(m, f, sys, prev, u, q->key, &e);
            if (!ans) {
                free(placed);
                text_printf(stderr, "natter train: %s: %s\n", q->where, e.msg);
                tr_book_free(&book);
                nt_model_free(m);
                return 1;
            }
            const bool ok = tr_contains_ci(ans, q->key);
            hit[held] += ok;
            total[held]++;
            if (o->verbose && !ok)
                text_printf(stdout, "miss (%s) %s%s\n  Q: %s\n  A: %s\n  key: %s\n", held ? "held-out" : "trained",
                       q->where, *sys ? " (with the system prompt)" : "", u, ans, q->key);
            if (o->verbose && !ok && placed)
                tr_print_passages(stdout, placed, right);
            free(placed);
            free(ans);
        }
    }
    tr_book_free(&book);
    nt_model_free(m);
    const double pt = total[0] ? 100.0 * (double)hit[0] / (double)total[0] : 0.0;
    const double ph = total[1] ? 100.0 * (double)hit[1] / (double)total[1] : 0.0;
    text_printf(stdout, "trained questions:  %ld/%ld answers contain the key phrase (%.1f%%, need %.0f%%)\n",
           hit[0], total[0], pt, o->min_train);
    text_printf(stdout, "held-out questions: %ld/%ld answers contain the key phrase (%.1f%%, need %.0f%%)\n",
           hit[1], total[1], ph, o->min_heldout);
    if (no_key) text_printf(stdout, "examples without a key phrase (not scored): %ld\n", no_key);
    if (bk)
        text_printf(stdout, "open book (%s): a placed passage held the key phrase for %ld of %ld questions\n",
                    o->persona[0], found, total[0] + total[1]);
    /* A set of held-out questions only (an --eval set) has no trained ones to score. */
    const bool pass = (total[0] > 0 || total[1] > 0) && (total[0] == 0 || pt >= o->min_train) &&
                      (total[1] == 0 || ph >= o->min_heldout);
    text_printf(stdout, "%s\n", pass ? "PASS" : "FAIL");
    return pass ? 0 : 1;
}

/* ------------------------------------------------------------------------ facts ----- */

/* --write-facts OUT.md: the data's questions and answers as a Markdown document, one section
 * a question (its main phrasing as the heading, the answer below), for a persona's documents:
 * the guide retrieves from it, so the answer it was trained on is a passage it can read.
 * The other trained phrasings go in a comment under the heading (search terms, not shown);
 * held-out phrasings, which --eval asks, are never in it; pairs answered TR_ABSENT_ANSWER are left out. Written to a
 * temporary file renamed over OUT.md, so a failure leaves the old one whole. */
static int tr_write_facts(const tr_opts *o, const qa_set *qs)
{
    strbuf b = {0};
    strbuf_puts(&b, "# natter: questions and answers\n\n"
                    "Generated from the guide corpus (models/corpus/) by `natter train --write-facts`;\n"
                    "`make model` writes it again. Do not edit: edit the corpus.\n");
    size_t n = 0;
    for (size_t i = 0; i < qs->n; i++) {
        const qa_item *q = &qs->v[i];
        if (!q->user || !strcmp(q->assistant, TR_ABSENT_ANSWER)) continue;
        /* One line each: a heading cannot span lines, and a blank line inside an answer
         * would be read as a paragraph of the next section's. */
        strbuf_puts(&b, "\n## ");
        for (const char *c = q->user; *c; c++) strbuf_putc(&b, *c == '\n' ? ' ' : *c);
        strbuf_puts(&b, "\n\n");
        /* The other trained phrasings, as the passage's search terms (a comment: searched,
         * not shown, app/docs/chunk.h): BM25 finds a new wording of a question far more
         * often when the ways it was asked are there to match. */
        if (q->also.n) {
            strbuf_puts(&b, "<!--");
            for (size_t k = 0; k < q->also.n; k++) {
                strbuf_puts(&b, k ? " | " : " ");
                for (const char *c = q->also.v[k]; *c; c++)
                    strbuf_putc(&b, *c == '\n' || (c[0] == '-' && c[1] == '-') ? ' ' : *c);
            }
            strbuf_puts(&b, " -->\n\n");
        }
        for (const char *c = q->assistant; *c; c++) strbuf_putc(&b, *c == '\n' ? ' ' : *c);
        strbuf_puts(&b, "\n");
        n++;
    }
    size_t len = 0;
    char *text = strbuf_take(&b, &len);
    if (!text) {
        text_printf(stderr, "natter train: out of memory\n");
        return 1;
    }
    size_t pl = strlen(o->facts) + 16;
    char *tmp = malloc(pl);
    int status = 1;
    FILE *f = NULL;
    if (!tmp) goto out;
    snprintf(tmp, pl, "%s.tmp", o->facts);
    if (!(f = fopen(tmp, "w")) || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        text_printf(stderr, "natter train: --write-facts: %s: %s\n", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, o->facts) != 0) {
        text_printf(stderr, "natter train: --write-facts: %s: %s\n", o->facts, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (!o->quiet) text_printf(stderr, "natter train: wrote %s (%zu questions)\n", o->facts, n);
    status = 0;
out:
    free(tmp);
    free(text);
    return status;
}

/* ------------------------------------------------------------------------- main ----- */

int cmd_train(int argc, char **argv)
{
    tr_opts o = {.p = nt_train_default_params(), .min_train = 90.0, .min_heldout = 60.0, .every = 1};
    o.p.n_threads = 0;
    int rc = tr_parse(&o, argc, argv);
    if (rc == 1) return 0;
    if (rc) return rc;
    /* The models read (not OUT.gguf, which is written): files or names `natter models` lists. */
    char *init = NULL, *eval = NULL;
    if ((o.init && !(o.init = init = model_find_arg("natter train", "--init", o.init))) ||
        (o.eval && !(o.eval = eval = model_find_arg("natter train", "--eval", o.eval)))) {
        free(init);
        return 2;
    }

    qa_set qs = {0};
    ycfg_diag diag = {0};
    int lrc = NT_OK;
    for (int i = 0; i < o.n_data; i++) {
        int r = qa_load_path(&qs, o.data[i], &diag);
        if (r) lrc = r;
    }
    for (size_t i = 0; i < diag.n; i++) text_printf(stderr, "%s\n", diag.v[i]);
    ycfg_diag_free(&diag);
    int status;
    if (lrc) {
        text_printf(stderr, "natter train: the data has errors (see above)\n");
        status = 1;
    } else if (qs.n == 0) {
        text_printf(stderr, "natter train: the data holds no examples\n");
        status = 1;
    } else {
        status = o.facts ? tr_write_facts(&o, &qs) : o.eval ? tr_eval(&o, &qs) : tr_train(&o, &qs);
    }
    qa_set_free(&qs);
    free(init);
    free(eval);
    return status;
}
