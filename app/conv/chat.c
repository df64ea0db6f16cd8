/* chat.c — the conversation: turns, prompt building with prefix reuse, the context-full
 * policy, and sampling parameters by name (see chat.h). */
#include "chat.h"
#include "params.h"
#include "util/strbuf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct chat {
    const nt_tokenizer *tok;     /* borrowed */
    enum nt_chat_family family;
    bool raw;
    int32_t n_ctx;
    char *system;             /* "" when none */
    /* The tree of turns (chat.h: branches), in the order they were made, and the current
     * path through it: path[i] is the index in nodes of turn i, derived from the nodes'
     * current marks by chat_turns_path (chat_path_update) after every change of them. */
    chat_turn *nodes;
    size_t n_nodes, cap_nodes;
    size_t *path;
    size_t n_path, cap_path;
    size_t first;             /* first turn (path position) in the context */
    uint64_t tree_gen;        /* chat_tree_gen: a new chat_gen_next() at every removal */
    long memory;              /* chat_set_memory: earlier exchanges kept, < 0 = all */
    bool think_switch;        /* the model's template has a thinking switch */
    enum chat_think think;    /* chat_set_think: for the next answers */
    nt_tokens prompt;         /* the last prepared prompt (job->tokens points into it) */
    nt_tokens cache;          /* ids in the worker's KV cache */
    bool rereading;           /* a chat_prepare_reread job is in flight */
    char **stops;             /* chat_set_stops: n_stops strings in one block (chat_stops_replace) */
    size_t n_stops;
    const char *job_stop[GEN_MAX_STOP]; /* the last prepared job's stop strings (borrowed
                                              from stops and literals) */
    /* The fixed part after the system prompt (chat_set_prefix, chat_set_greeting). */
    enum nt_chat_role *prefix_role;
    char **prefix_text;       /* n_prefix owned strings */
    size_t n_prefix;
    char *greeting;           /* NULL when none */
    /* Retrieval (chat_set_candidates): the passages found for the next prepare, and those the
     * prompt being built places, with the system message they make (system, then the
     * passages; NULL when there are none). */
    chat_source *cand;
    size_t n_cand;
    char *cand_intro;
    chat_source *cur;
    size_t n_cur;
    char *cur_intro;
    char *sys_full;
    /* Remote mode (no tokenizer): the last prepared job's messages (texts borrowed). */
    nt_chat_msg *job_msgs;
};

static int chat_set_cur(chat *c, const char *intro, const chat_source *v, size_t n);
static enum chat_think chat_think_now(const chat *c);

/* Process-wide, so no two chats (one freed, one made at its address) share a generation. */
static uint64_t chat_gen_next(void)
{
    static _Atomic uint64_t next = 1;
    return next++;
}

/* Turn i of the current path. */
static inline chat_turn *chat_pt(const chat *c, size_t i) { return &c->nodes[c->path[i]]; }

chat *chat_init(const nt_tokenizer *tok, enum nt_chat_family family, int32_t n_ctx)
{
    chat *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->memory = -1;
    c->tree_gen = chat_gen_next();
    c->system = strdup("");
    if (!c->system) {
        free(c);
        return NULL;
    }
    c->tok = tok;
    c->family = family;
    c->n_ctx = n_ctx;
    return c;
}

static void chat_prefix_free(chat *c)
{
    for (size_t i = 0; i < c->n_prefix; i++) free(c->prefix_text[i]);
    free(c->prefix_text);
    free(c->prefix_role);
    c->prefix_text = NULL;
    c->prefix_role = NULL;
    c->n_prefix = 0;
}

void chat_sources_free(chat_source *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].path);
        free(v[i].title);
        free(v[i].text);
    }
    free(v);
}

/* A deep copy of v[0..n) into *out (NULL when n is 0). NT_OK or NT_ERR_NOMEM (*out NULL). */
static int chat_sources_copy(chat_source **out, const chat_source *v, size_t n)
{
    *out = NULL;
    if (n == 0) return NT_OK;
    chat_source *d = calloc(n, sizeof *d);
    if (!d) return NT_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        d[i] = v[i];
        d[i].path = strdup(v[i].path ? v[i].path : "");
        d[i].title = strdup(v[i].title ? v[i].title : "");
        d[i].text = strdup(v[i].text ? v[i].text : "");
        if (!d[i].path || !d[i].title || !d[i].text) {
            chat_sources_free(d, i + 1);
            return NT_ERR_NOMEM;
        }
    }
    *out = d;
    return NT_OK;
}

/* Replaces a source list and its intro with copies of v[0..n) and intro (which may be parts
 * of the old list: the copies are made first). NT_OK or NT_ERR_NOMEM (unchanged). */
static int chat_sources_replace(chat_source **list, size_t *n_list, char **list_intro,
                                const chat_source *v, size_t n, const char *intro)
{
    chat_source *d;
    /* Without passages, an intro is a notice that none matched (docs_no_passage). */
    const bool keep = intro && (n || intro[0]);
    char *in = keep ? strdup(intro) : NULL;
    if ((keep && !in) || chat_sources_copy(&d, v, n) != NT_OK) {
        free(in);
        return NT_ERR_NOMEM;
    }
    chat_sources_free(*list, *n_list);
    free(*list_intro);
    *list = d;
    *n_list = n;
    *list_intro = in;
    return NT_OK;
}

void chat_turn_release(chat_turn *t)
{
    chat_sources_free(t->sources, t->n_sources);
    free(t->sources_intro);
    free(t->text);
    nt_tokens_free(&t->tokens);
    free(t->changes);
    free(t->error);
    free(t->stop);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- the tree ----- */

size_t chat_turns_path(const chat_turn *v, size_t n, size_t *path)
{
    size_t k = 0, at = CHAT_ROOT;
    for (;;) {
        size_t next = CHAT_ROOT;
        /* A child comes after its parent: look from there on. */
        for (size_t j = at == CHAT_ROOT ? 0 : at + 1; j < n && next == CHAT_ROOT; j++)
            if (v[j].parent == at && v[j].current) next = j;
        if (next == CHAT_ROOT) return k;
        path[k++] = at = next;
    }
}

bool chat_turns_valid(const chat_turn *v, size_t n, size_t *bad, const char **why)
{
    for (size_t i = 0; i < n; i++) {
        const char *w = NULL;
        size_t p = v[i].parent;
        if (p != CHAT_ROOT && p >= i) w = "its parent does not come before it";
        else if (p == CHAT_ROOT && v[i].role != NT_ROLE_USER) w = "a conversation starts with a question";
        else if (p != CHAT_ROOT && v[p].role == v[i].role)
            w = v[i].role == NT_ROLE_USER ? "a question must follow an answer"
                                          : "an answer must follow a question";
        else if (v[i].role != NT_ROLE_USER && v[i].role != NT_ROLE_ASSISTANT)
            w = "only questions and answers";
        for (size_t j = 0; !w && v[i].current && j < i; j++)
            if (v[j].parent == p && v[j].current) w = "two alternatives are both marked current";
        if (w) {
            if (bad) *bad = i;
            if (why) *why = w;
            return false;
        }
    }
    return true;
}

/* Recomputes the path from the current marks. NT_OK or NT_ERR_NOMEM (the path unchanged). */
static int chat_path_update(chat *c)
{
    if (c->n_nodes > c->cap_path) {
        size_t *p = realloc(c->path, c->n_nodes * sizeof *p);
        if (!p) return NT_ERR_NOMEM;
        c->path = p;
        c->cap_path = c->n_nodes;
    }
    c->n_path = chat_turns_path(c->nodes, c->n_nodes, c->path);
    if (c->first > c->n_path) c->first = c->n_path;
    return NT_OK;
}

/* Marks node k the current alternative of its group. */
static void chat_mark_current(chat *c, size_t k)
{
    for (size_t j = 0; j < c->n_nodes; j++)
        if (c->nodes[j].parent == c->nodes[k].parent) c->nodes[j].current = j == k;
}

/* Removes node k and everything below it from the tree (the later nodes move down, their
 * parents renumbered). reveal: the group's last remaining alternative becomes current when
 * k was; else the path ends above it. NT_OK, or NT_ERR_NOMEM with nothing removed (the last
 * node, which has nothing below it, goes without memory). */
static int chat_delete(chat *c, size_t k, bool reveal)
{
    c->tree_gen = chat_gen_next();
    size_t parent = c->nodes[k].parent;
    bool was = c->nodes[k].current;
    /* Where each node moves (CHAT_ROOT: it goes). Children come after their parents, so one
     * pass finds the subtree. */
    size_t *map = malloc(c->n_nodes * sizeof *map);
    if (!map && k + 1 != c->n_nodes) return NT_ERR_NOMEM;
    size_t out = 0;
    for (size_t j = 0; j < c->n_nodes; j++) {
        size_t p = c->nodes[j].parent;
        bool gone = j == k || (map && j > k && p != CHAT_ROOT && map[p] == CHAT_ROOT);
        if (gone) {
            if (map) map[j] = CHAT_ROOT;
            chat_turn_release(&c->nodes[j]);
            continue;
        }
        if (map) map[j] = out;
        c->nodes[out] = c->nodes[j];
        if (p != CHAT_ROOT && map) c->nodes[out].parent = map[p];
        out++;
    }
    c->n_nodes = out;
    if (parent != CHAT_ROOT && map) parent = map[parent];
    free(map);
    if (reveal && was)
        for (size_t j = c->n_nodes; j-- > 0;)
            if (c->nodes[j].parent == parent) {
                chat_mark_current(c, j);
                break;
            }
    chat_path_update(c); /* never grows: cannot fail */
    return NT_OK;
}

/* Takes path positions [from, n_path) off the path: turn `from` stops being current (it
 * stays in the tree as an alternative). */
static void chat_cut(chat *c, size_t from)
{
    if (from >= c->n_path) return;
    chat_pt(c, from)->current = false;
    chat_path_update(c); /* never grows: cannot fail */
}

/* Removes every turn. */
static void chat_delete_all(chat *c)
{
    c->tree_gen = chat_gen_next();
    for (size_t j = 0; j < c->n_nodes; j++) chat_turn_release(&c->nodes[j]);
    c->n_nodes = c->n_path = 0;
    c->first = 0;
}

size_t chat_n_nodes(const chat *c) { return c->n_nodes; }
size_t chat_node_of(const chat *c, size_t i) { return i < c->n_path ? c->path[i] : CHAT_ROOT; }
uint64_t chat_tree_gen(const chat *c) { return c->tree_gen; }

const chat_turn *chat_node_at(const chat *c, size_t k)
{
    return k < c->n_nodes ? &c->nodes[k] : NULL;
}

size_t chat_alternatives(const chat *c, size_t i, size_t *index)
{
    if (i > c->n_path) return 0;
    size_t parent = i == 0 ? CHAT_ROOT : c->path[i - 1];
    size_t me = i < c->n_path ? c->path[i] : CHAT_ROOT, n = 0, at = 0;
    for (size_t j = parent == CHAT_ROOT ? 0 : parent + 1; j < c->n_nodes; j++) {
        if (c->nodes[j].parent != parent) continue;
        if (j == me) at = n;
        n++;
    }
    if (index) *index = me == CHAT_ROOT ? n : at;
    return n;
}

long chat_branch_point(const chat *c)
{
    size_t idx;
    if (chat_alternatives(c, c->n_path, &idx) > 0) return (long)c->n_path;
    for (size_t i = c->n_path; i-- > 0;)
        if (chat_alternatives(c, i, NULL) > 1) return (long)i;
    return -1;
}

int chat_switch(chat *c, size_t i, size_t k)
{
    if (chat_busy(c) || i > c->n_path) return NT_ERR_INVALID;
    size_t parent = i == 0 ? CHAT_ROOT : c->path[i - 1], n = 0;
    for (size_t j = parent == CHAT_ROOT ? 0 : parent + 1; j < c->n_nodes; j++) {
        if (c->nodes[j].parent != parent) continue;
        if (n++ == k) {
            chat_mark_current(c, j);
            chat_path_update(c); /* the nodes did not grow: cannot fail */
            /* The context as the last answer on this path had it. */
            c->first = 0;
            for (size_t p = c->n_path; p-- > 0;)
                if (chat_pt(c, p)->role == NT_ROLE_ASSISTANT) {
                    c->first = chat_pt(c, p)->first < p ? chat_pt(c, p)->first : 0;
                    break;
                }
            return NT_OK;
        }
    }
    return NT_ERR_INVALID;
}

void chat_free(chat *c)
{
    if (!c) return;
    chat_delete_all(c);
    free(c->nodes);
    free(c->path);
    free(c->system);
    free(c->stops);
    chat_prefix_free(c);
    free(c->greeting);
    chat_sources_free(c->cand, c->n_cand);
    free(c->cand_intro);
    chat_sources_free(c->cur, c->n_cur);
    free(c->cur_intro);
    free(c->sys_full);
    nt_tokens_free(&c->prompt);
    nt_tokens_free(&c->cache);
    free(c->job_msgs);
    free(c);
}

void chat_set_raw(chat *c, bool raw) { c->raw = raw; }
bool chat_get_raw(const chat *c) { return c->raw; }
void chat_set_family(chat *c, enum nt_chat_family family) { c->family = family; }
enum nt_chat_family chat_get_family(const chat *c) { return c->family; }
const char *chat_system(const chat *c) { return c->system; }
size_t chat_n_turns(const chat *c) { return c->n_path; }
size_t chat_first_turn(const chat *c) { return c->first; }
const nt_tokens *chat_cache(const chat *c) { return &c->cache; }
int32_t chat_n_ctx(const chat *c) { return c->n_ctx; }

const chat_turn *chat_turn_at(const chat *c, size_t i)
{
    return i < c->n_path ? chat_pt(c, i) : NULL;
}

int chat_set_system(chat *c, const char *text)
{
    char *s = strdup(text ? text : "");
    if (!s) return NT_ERR_NOMEM;
    free(c->system);
    c->system = s;
    chat_set_cur(c, NULL, NULL, 0); /* its system message is stale (no allocation: cannot fail) */
    return NT_OK;
}

bool chat_busy(const chat *c)
{
    if (c->rereading) return true;
    return c->n_path > 0 && chat_pt(c, c->n_path - 1)->role == NT_ROLE_ASSISTANT &&
           !chat_pt(c, c->n_path - 1)->complete;
}

static int chat_text_append(chat_turn *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t ncap = t->cap ? t->cap : 64;
        while (ncap < t->len + n + 1) ncap *= 2;
        char *nt = realloc(t->text, ncap);
        if (!nt) return NT_ERR_NOMEM;
        t->text = nt;
        t->cap = ncap;
    }
    memcpy(t->text + t->len, s, n);
    t->len += n;
    t->text[t->len] = '\0';
    return NT_OK;
}

/* Appends a turn at the end of the current path: a new alternative below the path's end,
 * the one shown. NULL when out of memory (nothing changed). */
static chat_turn *chat_push_turn(chat *c, enum nt_chat_role role)
{
    if (c->n_nodes == c->cap_nodes) {
        size_t ncap = c->cap_nodes ? c->cap_nodes * 2 : 16;
        chat_turn *nt = realloc(c->nodes, ncap * sizeof *nt);
        if (!nt) return NULL;
        c->nodes = nt;
        c->cap_nodes = ncap;
    }
    if (c->n_nodes + 1 > c->cap_path) {
        size_t ncap = c->cap_nodes;
        size_t *np = realloc(c->path, ncap * sizeof *np);
        if (!np) return NULL;
        c->path = np;
        c->cap_path = ncap;
    }
    size_t k = c->n_nodes;
    chat_turn *t = &c->nodes[k];
    memset(t, 0, sizeof *t);
    t->role = role;
    t->parent = c->n_path ? c->path[c->n_path - 1] : CHAT_ROOT;
    if (chat_text_append(t, "", 0) != NT_OK) return NULL;
    c->n_nodes++;
    chat_mark_current(c, k);
    c->path[c->n_path++] = k; /* the path's end had nothing shown below it */
    return t;
}

/* Removes the turn chat_push_turn just added (a failure after it). */
static void chat_pop_turn(chat *c)
{
    chat_delete(c, c->n_nodes - 1, false); /* the last node: cannot fail */
}

int chat_add_user(chat *c, const char *text)
{
    if (chat_busy(c)) return NT_ERR_INVALID;
    if (c->n_path > 0 && chat_pt(c, c->n_path - 1)->role == NT_ROLE_USER)
        return NT_ERR_INVALID;
    chat_turn *t = chat_push_turn(c, NT_ROLE_USER);
    if (!t) return NT_ERR_NOMEM;
    if (chat_text_append(t, text, strlen(text)) != NT_OK) {
        chat_pop_turn(c);
        return NT_ERR_NOMEM;
    }
    t->time = (int64_t)time(NULL);
    return NT_OK;
}



/* Raw mode: BOS (if the model wants it) and then every turn's text as plain text. Answers
 * contribute their generated ids, which decode to their text. */
static int chat_build_raw(chat *c, size_t first, nt_tokens *out, nt_err *err)
{
    int32_t bos = nt_tokenizer_bos(c->tok);
    if (nt_tokenizer_add_bos(c->tok) && bos >= 0 && nt_tokens_push(out, bos) != NT_OK)
        return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    if (c->system[0]) {
        int rc = nt_tokenizer_encode(c->tok, c->system, strlen(c->system), 0, out, err);
        if (rc != NT_OK) return rc;
    }
    for (size_t i = first; i < c->n_path; i++) {
        const chat_turn *t = chat_pt(c, i);
        int rc;
        if (t->role == NT_ROLE_ASSISTANT && t->tokens.n > 0 && !t->stop_text)
            rc = nt_tokens_append(out, t->tokens.v, t->tokens.n) == NT_OK
                     ? NT_OK
                     : nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
        else
            rc = nt_tokenizer_encode(c->tok, t->text, t->len, 0, out, err);
        if (rc != NT_OK) return rc;
    }
    return NT_OK;
}

/* Tokenizes pieces [a, b) of p as a prompt of its own. */
static int chat_tokenize_range(const nt_tokenizer *tok, const nt_chat_prompt *p, size_t a, size_t b,
                               bool add_bos, nt_tokens *out, nt_err *err)
{
    if (a >= b) {
        if (add_bos && nt_tokenizer_bos(tok) >= 0 && nt_tokens_push(out, nt_tokenizer_bos(tok)) != NT_OK)
            return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
        return NT_OK;
    }
    nt_chat_prompt view = {.v = p->v + a, .n = b - a, .cap = b - a};
    return nt_chat_tokenize(tok, &view, add_bos, out, err);
}

/* True when a markup piece starts with a control token of this vocabulary (a model without
 * "<|im_end|>" in its vocabulary reads ChatML markup as plain text). */
static bool chat_opens_with_control(const nt_tokenizer *tok, const char *text)
{
    nt_tokens ids = {0};
    bool yes = nt_tokenizer_encode(tok, text, strlen(text), NT_TOK_PARSE_SPECIAL, &ids, NULL) ==
                   NT_OK &&
               ids.n > 0 && nt_tokenizer_is_control(tok, ids.v[0]);
    nt_tokens_free(&ids);
    return yes;
}

/* The fixed part as messages (borrowed from c): the system prompt (followed by the passages
 * placed for this prompt when sources is true), the examples, the greeting. msgs has room for
 * n_prefix + 2. Returns the count. */
static size_t chat_fixed_msgs(const chat *c, nt_chat_msg *msgs, bool sources)
{
    size_t n = 0;
    const char *sys = sources && c->sys_full ? c->sys_full : c->system;
    if (sys[0]) msgs[n++] = (nt_chat_msg){NT_ROLE_SYSTEM, sys};
    for (size_t i = 0; i < c->n_prefix; i++)
        msgs[n++] = (nt_chat_msg){c->prefix_role[i], c->prefix_text[i]};
    if (c->greeting) msgs[n++] = (nt_chat_msg){NT_ROLE_ASSISTANT, c->greeting};
    return n;
}

/* Template mode: formats the system prompt and turns [first, n_turns) (the last one a
 * question) and tokenizes the result. Where an answer's text appears unchanged as a text
 * piece of the formatted prompt, its generated ids are used instead of re-tokenizing its text:
 * tokenization is not unique, and the ids the model produced are the ones in the cache. */
/* The turns [first, n_turns) as messages after the fixed ones (msgs[at..]), as templates
 * read them. Returns the new count. */
static size_t chat_turn_msgs(const chat *c, size_t first, nt_chat_msg *msgs, size_t at)
{
    for (size_t i = first; i < c->n_path; i++) {
        const char *text = chat_pt(c, i)->text;
        /* The plain format asks with "Assistant:" but writes answers as "Assistant: A": the
         * answer's own leading space is that space. */
        if (c->family == NT_CHAT_PLAIN && chat_pt(c, i)->role == NT_ROLE_ASSISTANT && text[0] == ' ')
            text++;
        msgs[at++] = (nt_chat_msg){chat_pt(c, i)->role, text};
    }
    return at;
}

static int chat_build_template(chat *c, size_t first, nt_tokens *out, nt_err *err)
{
    size_t n_msgs = c->n_path - first + c->n_prefix + 2;
    nt_chat_msg *msgs = calloc(n_msgs, sizeof *msgs);
    nt_chat_prompt p = {0};
    int rc;
    if (!msgs) return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    size_t n = chat_fixed_msgs(c, msgs, true);
    /* Answers are looked for after the fixed part: an example's text may equal an answer's.
     * The fixed part formatted alone has at most as many pieces as it has in the whole. */
    size_t pos = 0; /* where the search for the next answer's text starts */
    if (n > 0) {
        rc = nt_chat_format(c->family, msgs, n, false, &p, err);
        if (rc != NT_OK) goto done;
        pos = p.n;
        nt_chat_prompt_free(&p);
        memset(&p, 0, sizeof p);
    }
    n = chat_turn_msgs(c, first, msgs, n);
    /* The answer opens as the thinking switch says (only ever set where the template has one). */
    const enum chat_think th = chat_think_now(c);
    const nt_chat_opts fo = {.add_generation = true,
                             .think = th == CHAT_THINK_OFF ? 0 : th == CHAT_THINK_ON ? 1 : -1};
    rc = nt_chat_format_opts(c->family, msgs, n, &fo, &p, err);
    if (rc != NT_OK) goto done;

    /* Reusing an answer's ids is only sound where control tokens delimit the answer on both
     * sides: then the text around it is tokenized the same whole or cut at the answer. In the
     * other families text runs on into the answer, and tokenizing the whole prompt is what the
     * model would have seen anyway. */
    bool delimited = c->family == NT_CHAT_CHATML || c->family == NT_CHAT_LLAMA3 ||
                     c->family == NT_CHAT_PHI3 || c->family == NT_CHAT_GEMMA;

    bool add_bos = nt_tokenizer_add_bos(c->tok);
    size_t seg = 0; /* first piece not yet tokenized */
    for (size_t i = first; i < c->n_path; i++) {
        const chat_turn *t = chat_pt(c, i);
        if (!delimited || t->role != NT_ROLE_ASSISTANT || t->tokens.n == 0 || t->stop_text)
            continue;
        size_t k = pos;
        while (k < p.n && (p.v[k].special || strcmp(p.v[k].text, t->text) != 0)) k++;
        if (k == p.n) continue; /* the template changed the text: tokenize it normally */
        if (k == 0 || !p.v[k - 1].special || k + 1 >= p.n || !p.v[k + 1].special ||
            !chat_opens_with_control(c->tok, p.v[k + 1].text))
            continue;
        rc = chat_tokenize_range(c->tok, &p, seg, k, add_bos && seg == 0, out, err);
        if (rc != NT_OK) goto done;
        if (nt_tokens_append(out, t->tokens.v, t->tokens.n) != NT_OK) {
            rc = nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
            goto done;
        }
        seg = pos = k + 1;
    }
    if (seg < p.n || seg == 0)
        rc = chat_tokenize_range(c->tok, &p, seg, p.n, add_bos && seg == 0, out, err);
done:
    nt_chat_prompt_free(&p);
    free(msgs);
    return rc;
}

static int chat_build(chat *c, size_t first, nt_tokens *out, nt_err *err)
{
    out->n = 0;
    if (!c->tok) return nt_err_set(err, NT_ERR_UNSUPPORTED, "chat: a remote chat has no token prompt");
    return c->raw ? chat_build_raw(c, first, out, err) : chat_build_template(c, first, out, err);
}

int chat_build_prompt(chat *c, size_t first, nt_tokens *out, nt_err *err)
{
    if (first > c->n_path) first = c->n_path;
    return chat_build(c, first, out, err);
}

/* msgs[0..n) formatted (no assistant opening) and tokenized whole into *ids (appended). */
static int chat_tokenize_msgs(const chat *c, const nt_chat_msg *msgs, size_t n, nt_tokens *ids,
                              nt_err *err)
{
    nt_chat_prompt p = {0};
    int rc = nt_chat_format(c->family, msgs, n, false, &p, err);
    if (rc == NT_OK) rc = chat_tokenize_range(c->tok, &p, 0, p.n, nt_tokenizer_add_bos(c->tok), ids, err);
    nt_chat_prompt_free(&p);
    return rc;
}

static int chat_count_msgs(const chat *c, const nt_chat_msg *msgs, size_t n, int32_t *count, nt_err *err)
{
    nt_tokens ids = {0};
    int rc = chat_tokenize_msgs(c, msgs, n, &ids, err);
    if (rc == NT_OK) *count = (int32_t)ids.n;
    nt_tokens_free(&ids);
    return rc;
}

int chat_prompt_parts(chat *c, size_t doc_at, nt_tokens *ids, chat_part **parts, size_t *n_parts,
                      nt_err *err)
{
    *parts = NULL;
    *n_parts = 0;
    size_t n_msgs = c->n_path - c->first + c->n_prefix + 2;
    nt_chat_msg *msgs = calloc(n_msgs, sizeof *msgs);
    chat_part *v = calloc(n_msgs + 2, sizeof *v);
    char *sys = NULL;
    int rc;
    if (!msgs || !v) goto nomem;
    size_t n = chat_fixed_msgs(c, msgs, true);
    n = chat_turn_msgs(c, c->first, msgs, n);
    /* With a question last, the prompt its answer reads (the assistant's opening at its end);
     * else the conversation as it stands, the next question to come. */
    bool asking = c->n_path > c->first && chat_pt(c, c->n_path - 1)->role == NT_ROLE_USER;
    ids->n = 0;
    rc = asking || c->raw ? chat_build_prompt(c, c->first, ids, err)
                          : chat_tokenize_msgs(c, msgs, n, ids, err);
    if (rc != NT_OK) goto fail;
    size_t k = 0, ex = 0;
    int32_t before = 0, now = 0;
    if (c->raw) {
        /* No template: the whole prompt is plain text. */
        v[k++] = (chat_part){"conversation (raw)", 0, (int32_t)ids->n};
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        rc = chat_count_msgs(c, msgs, i + 1, &now, err);
        if (rc != NT_OK) goto fail;
        chat_part *pt = &v[k++];
        pt->n_tokens = now - before;
        if (msgs[i].role == NT_ROLE_SYSTEM && i == 0) {
            pt->what = "system";
            if (doc_at < strlen(c->system)) {
                /* The documents at the end of the system message, counted apart. */
                if (!(sys = strndup(c->system, doc_at))) goto nomem;
                nt_chat_msg head = {NT_ROLE_SYSTEM, sys};
                int32_t head_n = 0;
                if ((rc = chat_count_msgs(c, &head, 1, &head_n, err)) != NT_OK) goto fail;
                pt->n_tokens = head_n - before;
                v[k++] = (chat_part){"documents", 0, now - head_n};
            }
        } else if (i < (c->system[0] ? 1u : 0u) + c->n_prefix) {
            pt->what = msgs[i].role == NT_ROLE_USER ? "example question" : "example answer";
            pt->index = ex++ / 2 + 1;
        } else if (c->greeting && i == (c->system[0] ? 1u : 0u) + c->n_prefix) {
            pt->what = "greeting";
        } else {
            size_t turn = c->first + (i - (n - (c->n_path - c->first)));
            pt->what = msgs[i].role == NT_ROLE_USER ? "question" : "answer";
            pt->index = turn / 2 + 1;
        }
        before = now;
    }
    /* The assistant's opening (and any difference an answer's own ids make). */
    if (asking) v[k++] = (chat_part){"assistant's opening", 0, (int32_t)ids->n - before};
done:
    free(msgs);
    free(sys);
    *parts = v;
    *n_parts = k;
    return NT_OK;
nomem:
    rc = nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
fail:
    free(msgs);
    free(v);
    free(sys);
    return rc;
}

void chat_set_memory(chat *c, long n) { c->memory = n < 0 ? -1 : n; }

void chat_set_think_switch(chat *c, bool has) { c->think_switch = has; }

bool chat_has_think(const chat *c)
{
    return c->think_switch && c->tok && !c->raw && c->family == NT_CHAT_CHATML;
}

int chat_set_think(chat *c, enum chat_think think)
{
    if (think != CHAT_THINK_DEFAULT && !chat_has_think(c)) return NT_ERR_UNSUPPORTED;
    c->think = think;
    return NT_OK;
}

enum chat_think chat_get_think(const chat *c) { return c->think; }

/* The switch in force: a setting the template (the family or raw mode changed since) cannot
 * take is not applied, nor recorded. */
static enum chat_think chat_think_now(const chat *c)
{
    return chat_has_think(c) ? c->think : CHAT_THINK_DEFAULT;
}

const char *chat_think_name(enum chat_think think)
{
    return think == CHAT_THINK_OFF ? "off" : think == CHAT_THINK_ON ? "on" : "default";
}

int chat_think_parse(const char *word, enum chat_think *out)
{
    static const char *const names[] = {"default", "off", "on"};
    for (int i = 0; i < 3; i++)
        if (word && strcmp(word, names[i]) == 0) {
            *out = (enum chat_think)i;
            return NT_OK;
        }
    return NT_ERR_INVALID;
}

/* The first turn once chat_set_memory's limit applies: the oldest exchanges go until at most
 * c->memory complete ones remain before the question being answered (a trailing user turn),
 * or in all when there is none (a re-read before the next question). Never before c->first. */
static size_t chat_memory_first(const chat *c)
{
    size_t first = c->first;
    if (c->memory < 0 || first >= c->n_path) return first;
    size_t end = c->n_path;
    if (chat_pt(c, end - 1)->role == NT_ROLE_USER) end--; /* the question itself stays */
    long exchanges = 0;
    for (size_t i = first; i < end; i++) exchanges += chat_pt(c, i)->role == NT_ROLE_USER;
    while (exchanges > c->memory && first < end) {
        first++; /* the question... */
        while (first < end && chat_pt(c, first)->role != NT_ROLE_USER) first++; /* ...its answer */
        exchanges--;
    }
    return first;
}

/* ------------------------------------------------------------ retrieved passages ----- */

void chat_source_label(const chat_source *s, char *buf, size_t cap)
{
    if (s->line_a == s->line_b) snprintf(buf, cap, "%s:%d", s->path, (int)s->line_a);
    else snprintf(buf, cap, "%s:%d-%d", s->path, (int)s->line_a, (int)s->line_b);
}

char *chat_sources_text(const char *intro, const chat_source *v, size_t n)
{
    strbuf b = {0};
    strbuf_puts(&b, "");
    if (intro && intro[0]) strbuf_puts(&b, intro);
    for (size_t i = 0; i < n; i++) {
        if (b.n) strbuf_puts(&b, "\n\n");
        char label[1200];
        chat_source_label(&v[i], label, sizeof label);
        strbuf_printf(&b, "=== Passage %zu: %s", i + 1, label);
        if (v[i].title && v[i].title[0]) strbuf_printf(&b, " (%s)", v[i].title);
        strbuf_printf(&b, " ===\n%s\n=== End of passage %zu ===", v[i].text, i + 1);
    }
    return strbuf_take(&b, NULL);
}

/* Makes v[0..n) (copied) the passages the prompt places, after the system prompt. */
static int chat_set_cur(chat *c, const char *intro, const chat_source *v, size_t n)
{
    char *full = NULL;
    if (n || (intro && intro[0])) {
        char *block = chat_sources_text(intro, v, n);
        strbuf b = {0};
        if (!block) return NT_ERR_NOMEM;
        if (c->system[0]) strbuf_printf(&b, "%s\n\n", c->system);
        strbuf_puts(&b, block);
        free(block);
        if (!(full = strbuf_take(&b, NULL))) return NT_ERR_NOMEM;
    }
    if (chat_sources_replace(&c->cur, &c->n_cur, &c->cur_intro, v, n, intro) != NT_OK) {
        free(full);
        return NT_ERR_NOMEM;
    }
    free(c->sys_full);
    c->sys_full = full;
    return NT_OK;
}

int chat_set_candidates(chat *c, const chat_source *v, size_t n, const char *intro)
{
    return chat_sources_replace(&c->cand, &c->n_cand, &c->cand_intro, v, n, intro ? intro : "");
}

char *chat_turn_notice(const chat_turn *t)
{
    if (!t || t->n_sources || !t->sources_intro || !t->sources_intro[0]) return NULL;
    const char *s = t->sources_intro, *p = strstr(s, "\n\n");
    for (; p; p = strstr(s, "\n\n")) s = p + 2;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ')) n--;
    if (n >= 8 && !strncmp(s, "=== ", 4) && !strncmp(s + n - 4, " ===", 4)) {
        s += 4;
        n -= 8;
    }
    return strndup(s, n);
}

const char *chat_system_placed(const chat *c) { return c->sys_full ? c->sys_full : c->system; }

int chat_use_sources(chat *c, const chat_turn *answer)
{
    if (!answer) return chat_set_cur(c, NULL, NULL, 0);
    return chat_set_cur(c, answer->sources_intro, answer->sources, answer->n_sources);
}

static int chat_count_text(const chat *c, const char *s, int32_t *n, nt_err *err)
{
    nt_tokens ids = {0};
    int rc = nt_tokenizer_encode(c->tok, s, strlen(s), 0, &ids, err);
    *n = (int32_t)ids.n;
    nt_tokens_free(&ids);
    return rc;
}

static size_t chat_memory_first(const chat *c);

/* The longest beginning of src whose passage costs at most room tokens, cut at a line end,
 * else a word end: *out borrows src's strings but text (*cut, malloc'd; NULL when not even a
 * line or a word fits). */
static int chat_cut_source(const chat *c, const chat_source *src, int64_t room, chat_source *out,
                           char **cut, nt_err *err)
{
    *cut = NULL;
    size_t n = strlen(src->text), lo = 0, hi = n;
    char *buf = malloc(n + 1);
    if (!buf) return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    /* Binary search on the byte length; each candidate length snaps back to a boundary. */
    size_t best = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2, m = mid;
        while (m > 0 && src->text[m] != '\n' && src->text[m] != ' ' && src->text[m] != '\0') m--;
        if (m == 0) {
            lo = mid; /* nothing shorter can do better: try longer */
            if (lo == hi) break;
            continue;
        }
        memcpy(buf, src->text, m);
        buf[m] = '\0';
        chat_source s = *src;
        s.text = buf;
        char *one = chat_sources_text(NULL, &s, 1);
        int32_t cost = 0;
        int rc = one ? chat_count_text(c, one, &cost, err)
                     : nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
        free(one);
        if (rc != NT_OK) {
            free(buf);
            return rc;
        }
        if (cost + 2 <= room) {
            best = m > best ? m : best;
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    if (best == 0) {
        free(buf);
        return NT_OK;
    }
    memcpy(buf, src->text, best);
    buf[best] = '\0';
    *out = *src;
    out->text = buf;
    int32_t lines = 0;
    for (size_t i = 0; i < best; i++) lines += buf[i] == '\n';
    if (out->line_a + lines < out->line_b) out->line_b = out->line_a + lines;
    *cut = buf;
    return NT_OK;
}

/* Chooses the candidates that fit (see chat_set_candidates) and makes them the prompt's
 * passages; the candidates are used up. Token counts of the pieces alone are close to what
 * they take in the whole prompt; chat_prepare's fit is the exact check. */
static int chat_pick_sources(chat *c, int32_t reserve, nt_err *err)
{
    chat_source *cand = c->cand;
    size_t n_cand = c->n_cand;
    char *intro = c->cand_intro;
    c->cand = NULL;
    c->n_cand = 0;
    c->cand_intro = NULL;
    chat_source *pick = NULL;
    size_t n_pick = 0;
    int rc = chat_set_cur(c, NULL, NULL, 0);
    if (rc != NT_OK || c->raw) goto done;
    if (n_cand == 0) {
        /* No passage matched: the notice that says so, if the search left one. */
        if (intro && intro[0] && chat_set_cur(c, intro, NULL, 0) != NT_OK)
            rc = nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
        goto done;
    }
    size_t last = c->n_path - 1;
    rc = chat_build(c, last, &c->prompt, err); /* the fixed part and the question */
    if (rc != NT_OK) goto done;
    int64_t base = (int64_t)c->prompt.n;
    int64_t avail = (int64_t)c->n_ctx - reserve - base;
    size_t mf = chat_memory_first(c);
    if (mf < last && avail > 0) {
        rc = chat_build(c, mf, &c->prompt, err);
        if (rc != NT_OK) goto done;
        int64_t hist = (int64_t)c->prompt.n - base;
        avail -= hist < avail / 3 ? hist : avail / 3;
    }
    int32_t cost = 0;
    if (intro && intro[0] && (rc = chat_count_text(c, intro, &cost, err)) != NT_OK) goto done;
    int64_t used = cost + 2;
    if (!(pick = calloc(n_cand, sizeof *pick))) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_cand; i++) {
        char *one = chat_sources_text(NULL, &cand[i], 1);
        if (!one) {
            rc = nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
            goto done;
        }
        rc = chat_count_text(c, one, &cost, err);
        free(one);
        if (rc != NT_OK) goto done;
        /* The best passage too long: its beginning (below); a later one: a smaller one
         * further down may fill the room left. */
        if (used + cost + 2 > avail) {
            if (n_pick == 0) break;
            continue;
        }
        used += cost + 2;
        pick[n_pick++] = cand[i]; /* borrowed: chat_set_cur copies */
    }
    /* The best passage does not fit whole (a small context): its beginning does, cut at a
     * line or word end, its line range narrowed to the lines kept. Rank first: a smaller
     * passage further down does not take its place. */
    char *cut = NULL;
    if (n_pick == 0 && avail - used > 32) {
        rc = chat_cut_source(c, &cand[0], avail - used - 2, &pick[0], &cut, err);
        if (rc != NT_OK) goto done;
        if (cut) n_pick = 1;
    }
    if (n_pick && chat_set_cur(c, intro, pick, n_pick) != NT_OK)
        rc = nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    free(cut);
done:
    free(pick);
    chat_sources_free(cand, n_cand);
    free(intro);
    return rc;
}

/* The context-full policy: builds c->prompt from the first turn that leaves reserve tokens
 * free, dropping the oldest exchanges, after chat_set_memory's limit. *first_out gets that
 * turn, *mem_first (may be NULL) the first turn the memory limit alone leaves. */
static int chat_fit(chat *c, int32_t reserve, size_t *first_out, size_t *mem_first, nt_err *err)
{
    size_t last = c->n_path - 1;
    size_t first = chat_memory_first(c);
    if (mem_first) *mem_first = first;
    int rc;
    for (;;) {
        rc = chat_build(c, first, &c->prompt, err);
        if (rc != NT_OK) return rc;
        if ((int64_t)c->prompt.n + reserve <= c->n_ctx || first >= last) break;
        /* Drop the oldest exchange: a question and its answer. */
        first++;
        if (first < last && chat_pt(c, first)->role == NT_ROLE_ASSISTANT) first++;
    }
    if ((int64_t)c->prompt.n >= c->n_ctx)
        return nt_err_set(err, NT_ERR_CONTEXT_FULL,
                          "the prompt needs %zu tokens but the context holds %d (a longer "
                          "context: --ctx N, up to what the model was trained for)",
                          c->prompt.n, c->n_ctx);
    *first_out = first;
    return NT_OK;
}

/* The job's stop strings: the plain template's own (local, templated chats only: a server
 * applies its own template), then the persona's, each once. Sets t's copy. */
static int chat_job_stops(chat *c, chat_turn *t, worker_job *job)
{
    size_t ns = 0;
    if (c->tok && !c->raw && c->family == NT_CHAT_PLAIN) c->job_stop[ns++] = "\nUser:";
    for (size_t k = 0; k < c->n_stops; k++) {
        bool dup = false;
        for (size_t j = 0; j < ns && !dup; j++) dup = !strcmp(c->job_stop[j], c->stops[k]);
        if (!dup) c->job_stop[ns++] = c->stops[k]; /* n_stops <= CHAT_MAX_STOPS: it fits */
    }
    if (chat_turn_set_stops(t, c->job_stop, ns) != NT_OK) return NT_ERR_NOMEM;
    job->stop = c->job_stop;
    job->n_stop = ns;
    return NT_OK;
}

/* Remote mode: the job is the conversation as messages (the fixed part, then the turns the
 * memory limit keeps); the server holds the context, so nothing is dropped here. */
int chat_remote_msgs(chat *c, size_t first, const nt_chat_msg **out, size_t *n_out, nt_err *err)
{
    if (first > c->n_path) first = c->n_path;
    nt_chat_msg *msgs = realloc(c->job_msgs, (c->n_prefix + 2 + c->n_path - first) * sizeof *msgs);
    if (!msgs) return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    c->job_msgs = msgs;
    size_t n = chat_fixed_msgs(c, msgs, true);
    for (size_t i = first; i < c->n_path; i++)
        msgs[n++] = (nt_chat_msg){chat_pt(c, i)->role, chat_pt(c, i)->text};
    *out = msgs;
    *n_out = n;
    return NT_OK;
}

static int chat_prepare_remote(chat *c, const nt_sampler_params *params, int32_t max_tokens,
                               worker_job *job, nt_err *err)
{
    /* The passages found (or the no-passage notice), all of them: there is no tokenizer to
     * budget them with, and a server's context is its own (DOCS_CANDIDATES passages of a
     * few hundred bytes each fit any served model's). Used up, as chat_pick_sources does. */
    int rc = chat_set_cur(c, c->raw ? NULL : c->cand_intro, c->cand, c->raw ? 0 : c->n_cand);
    chat_sources_free(c->cand, c->n_cand);
    free(c->cand_intro);
    c->cand = NULL;
    c->n_cand = 0;
    c->cand_intro = NULL;
    if (rc != NT_OK) return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    size_t first = chat_memory_first(c);
    const nt_chat_msg *msgs;
    size_t n;
    rc = chat_remote_msgs(c, first, &msgs, &n, err);
    if (rc != NT_OK) return rc;
    c->first = first;
    chat_turn *t = chat_push_turn(c, NT_ROLE_ASSISTANT);
    if (!t) return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    t->params = *params;
    t->max_tokens = max_tokens;
    t->first = first;
    if (chat_sources_replace(&t->sources, &t->n_sources, &t->sources_intro, c->cur, c->n_cur,
                             c->cur_intro) != NT_OK) {
        chat_pop_turn(c);
        return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    }
    memset(job, 0, sizeof *job);
    job->max_tokens = max_tokens;
    job->params = *params;
    job->msgs = msgs;
    job->n_msgs = n;
    if (chat_job_stops(c, t, job) != NT_OK) {
        chat_pop_turn(c);
        return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    }
    return NT_OK;
}

int chat_prepare(chat *c, const nt_sampler_params *params, int32_t max_tokens, worker_job *job,
                 int *n_dropped, nt_err *err)
{
    if (n_dropped) *n_dropped = 0;
    if (c->rereading) return nt_err_set(err, NT_ERR_INVALID, "chat: busy reading the history");
    if (c->n_path == 0 || chat_pt(c, c->n_path - 1)->role != NT_ROLE_USER)
        return nt_err_set(err, NT_ERR_INVALID, "chat: there is no question to answer");
    if (max_tokens < 0) max_tokens = 0;
    if (!c->tok) return chat_prepare_remote(c, params, max_tokens, job, err);

    /* Room kept for the answer when deciding whether old turns must go. */
    int32_t reserve = c->n_ctx / 4;
    if (max_tokens > 0 && max_tokens < reserve) reserve = max_tokens;
    size_t first, mem_first;
    int rc = chat_pick_sources(c, reserve, err);
    if (rc != NT_OK) return rc;
    /* Passages go before the question does: the last placed first, the intro with the last
     * one (or a no-passage notice alone). */
    while ((rc = chat_fit(c, reserve, &first, &mem_first, err)) == NT_ERR_CONTEXT_FULL &&
           (c->n_cur > 0 || c->cur_intro))
        if (chat_set_cur(c, c->n_cur > 1 ? c->cur_intro : NULL, c->cur,
                         c->n_cur > 0 ? c->n_cur - 1 : 0) != NT_OK)
            return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    if (rc != NT_OK) return rc;
    /* Turns the memory limit leaves behind are not news: only the context's drops are told. */
    if (n_dropped) *n_dropped = (int)(first - mem_first);
    c->first = first;

    chat_turn *t = chat_push_turn(c, NT_ROLE_ASSISTANT);
    if (!t) return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    t->params = *params;

    size_t common = 0;
    while (common < c->cache.n && common < c->prompt.n && c->cache.v[common] == c->prompt.v[common])
        common++;
    /* A prompt wholly in the cache (another answer to the same question) is sent as nothing
     * to read: the worker starts from the logits it kept after it, or evaluates its last
     * token again for them (worker.h). */
    t->max_tokens = max_tokens;
    t->first = first;
    t->prompt_len = (int32_t)c->prompt.n;
    t->think = chat_think_now(c);
    if (chat_sources_replace(&t->sources, &t->n_sources, &t->sources_intro, c->cur, c->n_cur,
                             c->cur_intro) != NT_OK) {
        chat_pop_turn(c);
        return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    }
    memset(job, 0, sizeof *job);
    job->keep = (int32_t)common;
    job->tokens = c->prompt.v + common;
    job->n_tokens = (int32_t)(c->prompt.n - common);
    job->max_tokens = max_tokens;
    job->params = *params;
    /* The plain format has no end-of-turn token: a base model writes the next "User:" line. */
    if (chat_job_stops(c, t, job) != NT_OK) {
        chat_pop_turn(c);
        return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    }
    /* What the cache will hold once the job starts: the kept prefix. chat_apply(DONE) sets the
     * real contents. */
    c->cache.n = common;
    return NT_OK;
}

int chat_prepare_reread(chat *c, worker_job *job, nt_err *err)
{
    if (chat_busy(c)) return nt_err_set(err, NT_ERR_INVALID, "chat: busy");
    if (c->n_path == 0) return nt_err_set(err, NT_ERR_INVALID, "chat: no history to read");
    /* The history alone: the next question brings its own passages. */
    if (chat_set_cur(c, NULL, NULL, 0) != NT_OK)
        return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    size_t first;
    int rc = chat_fit(c, c->n_ctx / 4, &first, NULL, err);
    if (rc != NT_OK) return rc;
    c->first = first;
    size_t common = 0;
    while (common < c->cache.n && common < c->prompt.n && c->cache.v[common] == c->prompt.v[common])
        common++;
    if (common >= c->prompt.n) common = c->prompt.n - 1;
    memset(job, 0, sizeof *job);
    job->keep = (int32_t)common;
    job->tokens = c->prompt.v + common;
    job->n_tokens = (int32_t)(c->prompt.n - common);
    job->max_tokens = 0;
    job->params = nt_sampler_default_params();
    job->no_candidates = true;
    c->cache.n = common;
    c->rereading = true;
    return NT_OK;
}

/* After a job's DONE: the cache holds the first n_past ids of prompt ++ answer (answer may be
 * NULL). */
static void chat_set_cache(chat *c, size_t past, const nt_tokens *answer)
{
    c->cache.n = 0;
    size_t from_prompt = past < c->prompt.n ? past : c->prompt.n;
    nt_tokens_append(&c->cache, c->prompt.v, from_prompt);
    size_t from_answer = past - from_prompt;
    if (!answer) from_answer = 0;
    if (answer && from_answer > answer->n) from_answer = answer->n;
    if (from_answer) nt_tokens_append(&c->cache, answer->v, from_answer);
}

/* How an answer ended and what it took: the fields WEV_DONE sets and a copy of the record
 * (chat_turn_copy_record) carries, set in one place. */
static void chat_turn_set_end(chat_turn *t, enum gen_end end, bool stop_text, int32_t n_prompt,
                              int32_t n_gen, double prompt_sec, double gen_sec)
{
    t->end = end;
    t->stop_text = stop_text;
    t->n_prompt = n_prompt;
    t->n_gen = n_gen;
    t->prompt_sec = prompt_sec;
    t->gen_sec = gen_sec;
}

void chat_apply(chat *c, const worker_event *ev)
{
    if (c->rereading) {
        if (ev->kind == WEV_DONE) {
            chat_set_cache(c, ev->n_past > 0 ? (size_t)ev->n_past : 0, NULL);
            c->rereading = false;
        }
        return;
    }
    if (c->n_path == 0) return;
    chat_turn *t = chat_pt(c, c->n_path - 1);
    if (t->role != NT_ROLE_ASSISTANT || t->complete) return;
    switch (ev->kind) {
    case WEV_PROGRESS:
    case WEV_BEAM: /* provisional: the screen shows it, the turn gets the winner's tokens */
    case WEV_NOTE:
        break;
    case WEV_TOKEN:
        nt_tokens_push(&t->tokens, ev->id);
        if (ev->text) chat_text_append(t, ev->text, strlen(ev->text));
        break;
    case WEV_PARAMS:
        if (t->n_changes == t->cap_changes) {
            size_t ncap = t->cap_changes ? t->cap_changes * 2 : 8;
            chat_change *nc = realloc(t->changes, ncap * sizeof *nc);
            if (!nc) break;
            t->changes = nc;
            t->cap_changes = ncap;
        }
        t->changes[t->n_changes++] = (chat_change){ev->index, ev->params};
        break;
    case WEV_ERROR:
        free(t->error);
        t->error = ev->text ? strdup(ev->text) : NULL;
        break;
    case WEV_DONE: {
        if (ev->text) chat_text_append(t, ev->text, strlen(ev->text));
        t->complete = true;
        chat_turn_set_end(t, ev->end, ev->stop_text, ev->n_prompt, ev->n_gen, ev->prompt_sec,
                          ev->gen_sec);
        t->time = (int64_t)time(NULL);
        chat_set_cache(c, ev->n_past > 0 ? (size_t)ev->n_past : 0, &t->tokens);
        break;
    }
    }
}

int chat_regen(chat *c)
{
    if (c->n_path == 0 || chat_busy(c) || chat_pt(c, c->n_path - 1)->role != NT_ROLE_ASSISTANT)
        return NT_ERR_INVALID;
    chat_cut(c, c->n_path - 1);
    return NT_OK;
}

/* Index of the last user turn, or -1. */
static long chat_last_user(const chat *c)
{
    for (size_t i = c->n_path; i-- > 0;)
        if (chat_pt(c, i)->role == NT_ROLE_USER) return (long)i;
    return -1;
}

char *chat_edit(chat *c)
{
    long u = chat_last_user(c);
    if (u < 0 || chat_busy(c)) return NULL;
    char *text = strdup(chat_pt(c, u)->text);
    if (!text) return NULL;
    /* With answers it is an alternative worth keeping; alone, its text is all it was. */
    if ((size_t)u + 1 < c->n_path || chat_alternatives(c, (size_t)u + 1, NULL) > 0) {
        chat_cut(c, (size_t)u);
    } else if (chat_delete(c, c->path[u], false) != NT_OK) {
        free(text);
        return NULL;
    }
    return text;
}

int chat_undo(chat *c)
{
    long u = chat_last_user(c);
    if (u < 0 || chat_busy(c)) return NT_ERR_INVALID;
    return chat_delete(c, c->path[u], true);
}

void chat_clear(chat *c)
{
    if (chat_busy(c)) return;
    chat_delete_all(c);
}

int chat_set_prefix(chat *c, const nt_chat_msg *msgs, size_t n)
{
    if (chat_busy(c)) return NT_ERR_INVALID;
    size_t from = 0;
    if (n > 0 && msgs[0].role == NT_ROLE_SYSTEM) from = 1;
    for (size_t i = from; i < n; i++)
        if (msgs[i].role != NT_ROLE_USER && msgs[i].role != NT_ROLE_ASSISTANT)
            return NT_ERR_INVALID;
    enum nt_chat_role *roles = calloc(n - from + 1, sizeof *roles);
    char **texts = calloc(n - from + 1, sizeof *texts);
    if (!roles || !texts) goto nomem;
    for (size_t i = from; i < n; i++) {
        roles[i - from] = msgs[i].role;
        texts[i - from] = strdup(msgs[i].content ? msgs[i].content : "");
        if (!texts[i - from]) goto nomem;
    }
    if (from && chat_set_system(c, msgs[0].content) != NT_OK) goto nomem;
    chat_prefix_free(c);
    c->prefix_role = roles;
    c->prefix_text = texts;
    c->n_prefix = n - from;
    return NT_OK;
nomem:
    if (texts)
        for (size_t i = 0; i < n - from; i++) free(texts[i]);
    free(texts);
    free(roles);
    return NT_ERR_NOMEM;
}

size_t chat_n_prefix(const chat *c) { return c->n_prefix; }

const char *chat_prefix_at(const chat *c, size_t i, enum nt_chat_role *role)
{
    if (i >= c->n_prefix) return NULL;
    if (role) *role = c->prefix_role[i];
    return c->prefix_text[i];
}

int chat_set_greeting(chat *c, const char *text)
{
    char *g = NULL;
    if (text && text[0] && !(g = strdup(text))) return NT_ERR_NOMEM;
    free(c->greeting);
    c->greeting = g;
    return NT_OK;
}

const char *chat_greeting(const chat *c) { return c->greeting; }

int chat_count_fixed(chat *c, int32_t *n_tokens, nt_err *err)
{
    nt_chat_msg *msgs = calloc(c->n_prefix + 2, sizeof *msgs);
    nt_chat_prompt p = {0};
    nt_tokens ids = {0};
    if (!msgs) return nt_err_set(err, NT_ERR_NOMEM, "chat: out of memory");
    size_t n = chat_fixed_msgs(c, msgs, false);
    int rc = NT_OK;
    if (!c->tok) {
        ids.n = 0; /* a remote server counts its own tokens */
    } else if (c->raw) {
        rc = chat_build_raw(c, c->n_path, &ids, err);
    } else {
        rc = nt_chat_format(c->family, msgs, n, false, &p, err);
        if (rc == NT_OK) rc = chat_tokenize_range(c->tok, &p, 0, p.n, nt_tokenizer_add_bos(c->tok), &ids, err);
    }
    if (rc == NT_OK) *n_tokens = (int32_t)ids.n;
    nt_tokens_free(&ids);
    nt_chat_prompt_free(&p);
    free(msgs);
    return rc;
}

/* Replaces *list (n_list strings, freed) with a copy of stop[0..n) in one malloc'd block:
 * the pointer array, then the strings (NULL when n is 0). NT_ERR_INVALID for a string that
 * is NULL, empty or too long, NT_ERR_NOMEM: *list unchanged then. */
static int chat_stops_replace(char ***list, size_t *n_list, const char *const *stop, size_t n)
{
    char **v = NULL;
    if (n > 0) {
        if (!gen_stops_valid(stop, n)) return NT_ERR_INVALID;
        size_t bytes = n * sizeof(char *);
        for (size_t k = 0; k < n; k++) bytes += strlen(stop[k]) + 1;
        if (!(v = malloc(bytes))) return NT_ERR_NOMEM;
        char *p = (char *)(v + n);
        for (size_t k = 0; k < n; k++) {
            size_t L = strlen(stop[k]) + 1;
            v[k] = memcpy(p, stop[k], L);
            p += L;
        }
    }
    free(*list);
    *list = v;
    *n_list = n;
    return NT_OK;
}

int chat_turn_set_stops(chat_turn *t, const char *const *stop, size_t n)
{
    return chat_stops_replace(&t->stop, &t->n_stop, stop, n);
}

int chat_set_stops(chat *c, const char *const *stops, size_t n)
{
    if (n > CHAT_MAX_STOPS) return NT_ERR_INVALID;
    return chat_stops_replace(&c->stops, &c->n_stops, stops, n);
}

void chat_set_first_turn(chat *c, size_t first)
{
    c->first = first < c->n_path ? first : c->n_path;
}

int chat_turn_copy_record(chat_turn *d, const chat_turn *src)
{
    if (src->tokens.n && nt_tokens_append(&d->tokens, src->tokens.v, src->tokens.n) != NT_OK)
        return NT_ERR_NOMEM;
    d->params = src->params;
    if (src->n_changes) {
        d->changes = malloc(src->n_changes * sizeof *d->changes);
        if (!d->changes) return NT_ERR_NOMEM;
        memcpy(d->changes, src->changes, src->n_changes * sizeof *d->changes);
        d->n_changes = d->cap_changes = src->n_changes;
    }
    chat_turn_set_end(d, src->end, src->stop_text, src->n_prompt, src->n_gen, src->prompt_sec,
                      src->gen_sec);
    d->max_tokens = src->max_tokens;
    d->first = src->first;
    d->prompt_len = src->prompt_len;
    d->think = src->think;
    if (chat_sources_replace(&d->sources, &d->n_sources, &d->sources_intro, src->sources,
                             src->n_sources, src->sources_intro) != NT_OK)
        return NT_ERR_NOMEM;
    return chat_turn_set_stops(d, (const char *const *)src->stop, src->n_stop);
}

int chat_restore_turn(chat *c, const chat_turn *src)
{
    if (chat_busy(c)) return NT_ERR_INVALID;
    enum nt_chat_role want = c->n_path % 2 == 0 ? NT_ROLE_USER : NT_ROLE_ASSISTANT;
    if (src->role != want) return NT_ERR_INVALID;
    chat_turn *t = chat_push_turn(c, src->role);
    if (!t) return NT_ERR_NOMEM;
    const char *text = src->text ? src->text : "";
    if (chat_text_append(t, text, strlen(text)) != NT_OK) goto nomem;
    t->time = src->time;
    if (src->role == NT_ROLE_USER) return NT_OK;
    if (chat_turn_copy_record(t, src) != NT_OK) goto nomem;
    t->complete = true;
    return NT_OK;
nomem:
    chat_pop_turn(c);
    return NT_ERR_NOMEM;
}

int chat_restore_tree(chat *c, const chat_turn *v, size_t n)
{
    if (c->n_nodes != 0 || chat_busy(c) || !chat_turns_valid(v, n, NULL, NULL))
        return NT_ERR_INVALID;
    /* Each turn appended below its parent, then the marks as recorded. */
    for (size_t i = 0; i < n; i++) {
        c->n_path = 0;
        if (v[i].parent != CHAT_ROOT) {
            /* The path to the parent, for chat_restore_turn to append below it. */
            size_t depth = 0;
            for (size_t p = v[i].parent; p != CHAT_ROOT; p = c->nodes[p].parent) depth++;
            c->n_path = depth;
            for (size_t p = v[i].parent; p != CHAT_ROOT; p = c->nodes[p].parent) c->path[--depth] = p;
        }
        if (chat_restore_turn(c, &v[i]) != NT_OK) {
            chat_delete_all(c);
            return NT_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) c->nodes[i].current = v[i].current;
    chat_path_update(c); /* no growth: cannot fail */
    return NT_OK;
}

/* ------------------------------------------------------------- parameters by name ----- */

/* The table and its rules live in params.c; these keep the sampler-only view replays use. */
int chat_set_param(nt_sampler_params *p, const char *name, const char *value, nt_err *err)
{
    const param_def *d = param_lookup(name, PARAM_FORM_NAME, NULL);
    if (!d || !param_is_sampler(d))
        return nt_err_set(err, NT_ERR_INVALID, "unknown parameter '%s'", name);
    param_values v = {.sp = *p};
    int rc = param_parse(d, value, &v, err);
    if (rc == NT_OK) *p = v.sp;
    return rc;
}
