/* session_read.c — reads a session file back and validates it (session_load,
 * session_parse): yamlcfg key tables per mapping, every problem reported as
 * `file:line:col: message` with the source line and a caret, and the checks that catch a
 * file cut short (message_count up front, `complete: true` last). Everything in the file is
 * untrusted: counts, token ids, indexes and lengths are checked before use. */
#include "session.h"
#include "session_int.h"
#include "util/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================= reader ===== */

/* A live change as read, before it becomes a snapshot. */
typedef struct rd_pend {
    int32_t at;
    const param_def *d;   /* the parameter */
    param_values val;     /* the value, in its own field */
} rd_pend;

/* What the key handlers fill while walking one file. */
typedef struct rd {
    rd_pend *pend;
    size_t n_pend;
    session *s;
    chat_turn *t;           /* the message being read */
    bool have_seed;
    long token_count;
    bool have_count;
    bool have_tokens;
    bool have_stop;
    bool *no_stop;          /* (n_turns) answers without a 'stop' key: resolved once the
                               template is known (session_read_doc) */
    int32_t n_turn_keys;    /* assistant-only keys seen on this message */
    long alt;               /* 'alternative_to': the message this one is another version of
                               (its index in the list), -1 when not given */
    yaml_node_t *alt_node, *current_node;
    const yaml_node_t *assistant_key; /* the first of them, for the message */
    long version;
    long message_count;
    bool complete;
    yaml_node_t *count_node, *messages_node;
} rd;

static const char *sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static int base64_val(int c)
{
    const char *p = c ? strchr(strbuf_b64, c) : NULL;
    return p ? (int)(p - strbuf_b64) : -1;
}

/* A text value: any string (block scalars too), or !!binary for bytes that are not UTF-8. */
static int read_text(ycfg *c, const yaml_node_t *n, const char *key, char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return ycfg_error(c, n, "'%s' must be a string, not %s", key, ycfg_kind(n));
    const char *v = sval(n);
    size_t len = n->data.scalar.length;
    const char *tag = (const char *)n->tag;
    if (tag && !strcmp(tag, "tag:yaml.org,2002:binary")) {
        char *d = malloc(len / 4 * 3 + 4), *q = d;
        if (!d) return ycfg_error(c, n, "out of memory");
        uint32_t acc = 0;
        int bits = 0;
        bool bad = false;
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)v[i];
            if (ch == '=' || ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r') continue;
            int x = base64_val(ch);
            if (x < 0) {
                bad = true;
                break;
            }
            acc = acc << 6 | (uint32_t)x;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                *q++ = (char)(acc >> bits & 0xFF);
            }
        }
        *q = '\0';
        if (bad || memchr(d, '\0', (size_t)(q - d))) {
            free(d);
            return ycfg_error(c, n, "'%s' is not valid base64 text", key);
        }
        free(*out);
        *out = d;
        return NT_OK;
    }
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ycfg_is_null(n) && len > 0)
        return ycfg_error(c, n, "'%s' must be a string, not %s", key, ycfg_kind(n));
    if (strlen(v) != len) return ycfg_error(c, n, "'%s' contains a NUL character", key);
    char *d = strdup(v);
    if (!d) return ycfg_error(c, n, "out of memory");
    free(*out);
    *out = d;
    return NT_OK;
}

static int read_u64(ycfg *c, const yaml_node_t *n, const char *key, uint64_t *out)
{
    const char *v = n->type == YAML_SCALAR_NODE &&
                            n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
                        ? sval(n)
                        : NULL;
    if (!v || !v[0] || strspn(v, "0123456789") != strlen(v) || strlen(v) > 20)
        return ycfg_error(c, n, "'%s' must be a whole number from 0 to %llu", key,
                          (unsigned long long)UINT64_MAX);
    errno = 0;
    unsigned long long x = strtoull(v, NULL, 10);
    if (errno == ERANGE)
        return ycfg_error(c, n, "'%s' must be a whole number from 0 to %llu", key,
                          (unsigned long long)UINT64_MAX);
    *out = (uint64_t)x;
    return NT_OK;
}

static int read_time(ycfg *c, const yaml_node_t *n, const char *key, int64_t *out)
{
    if (n->type != YAML_SCALAR_NODE || ycfg_is_null(n))
        return ycfg_error(c, n, "'%s' must be a time like 2026-01-31T12:00:00Z, not %s", key,
                          ycfg_kind(n));
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *e = strptime(sval(n), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!e || *e) return ycfg_error(c, n, "'%s' must be a time like 2026-01-31T12:00:00Z", key);
    *out = (int64_t)timegm(&tm);
    return NT_OK;
}

/* ---- top level ---- */

static int h_version(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    return ycfg_read_long(c, v, k->name, 0, LONG_MAX, &r->version);
}

static int h_time(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    return read_time(c, v, k->name, !strcmp(k->name, "created") ? &r->s->created : &r->s->updated);
}

static int h_mstr(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    session_model *m = obj;
    return ycfg_read_str(c, v, k->name, (char **)((char *)m + k->offset));
}

static int h_msize(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return read_u64(c, v, k->name, &((session_model *)obj)->size);
}

static int h_mhash(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    session_model *m = obj;
    const char *s = v->type == YAML_SCALAR_NODE ? sval(v) : NULL;
    /* "xxh3:" is nt_gguf_model_hash; "fnv1a64:" an older natter's hash, still read. */
    size_t pre = s && !strncmp(s, "xxh3:", 5) ? 5 : s && !strncmp(s, "fnv1a64:", 8) ? 8 : 0;
    if (!pre || strlen(s) != pre + 16 || strspn(s + pre, "0123456789abcdef") != 16)
        return ycfg_error(c, v, "'%s' must be xxh3: (or fnv1a64:) and 16 hex digits", k->name);
    m->hash = strtoull(s + pre, NULL, 16);
    m->hash_v1 = pre == 8;
    return NT_OK;
}

static int h_mkv(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    int t = v->type == YAML_SCALAR_NODE ? nt_kv_type_parse(sval(v)) : -1;
    if (t < 0) return ycfg_error(c, v, "'%s' must be f32, f16 or q8_0", k->name);
    ((session_model *)obj)->kv_type = t;
    return NT_OK;
}

static const ycfg_key model_keys[] = {
    {.name = "file", .fn = h_mstr, .offset = offsetof(session_model, file), .required = true},
    {.name = "path", .fn = h_mstr, .offset = offsetof(session_model, path)},
    {.name = "size", .fn = h_msize, .required = true},
    {.name = "hash", .fn = h_mhash, .required = true},
    {.name = "kv-type", .fn = h_mkv},
    {.name = "arch", .fn = h_mstr, .offset = offsetof(session_model, arch)},
    {.name = "name", .fn = h_mstr, .offset = offsetof(session_model, name)},
    {.name = "api-base", .fn = h_mstr, .offset = offsetof(session_model, api_base)},
    {.name = "served-model", .fn = h_mstr, .offset = offsetof(session_model, served)},
    {.name = "fingerprint", .fn = h_mstr, .offset = offsetof(session_model, fingerprint)},
    {0},
};

static int h_model(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    return ycfg_map(c, v, model_keys, &r->s->model, YCFG_NO_SET, "'model'");
}

static int h_persona(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return ycfg_read_str(c, v, k->name, &((rd *)obj)->s->persona);
}

static int h_theme(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return ycfg_read_str(c, v, k->name, &((rd *)obj)->s->theme);
}

static int h_system(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return read_text(c, v, k->name, &((rd *)obj)->s->system);
}

/* One example: {role: user|assistant, text: ...}. */
static int h_ex_role(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    session_example *e = obj;
    const char *s = v->type == YAML_SCALAR_NODE ? sval(v) : NULL;
    if (s && !strcmp(s, "user")) e->role = NT_ROLE_USER;
    else if (s && !strcmp(s, "assistant")) e->role = NT_ROLE_ASSISTANT;
    else return ycfg_error(c, v, "'role' must be user or assistant, not %s", s ? s : ycfg_kind(v));
    return NT_OK;
}
static int h_ex_text(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return read_text(c, v, k->name, &((session_example *)obj)->text);
}
static const ycfg_key example_keys[] = {
    {.name = "role", .fn = h_ex_role, .required = true},
    {.name = "text", .fn = h_ex_text, .required = true},
    {0},
};

static int h_examples(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    session *s = ((rd *)obj)->s;
    if (v->type != YAML_SEQUENCE_NODE)
        return ycfg_error(c, v, "'examples' must be a list, not %s", ycfg_kind(v));
    size_t m = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    s->examples = calloc(m ? m : 1, sizeof *s->examples);
    if (!s->examples) return ycfg_error(c, v, "out of memory");
    int rc = NT_OK;
    for (size_t i = 0; i < m; i++) {
        yaml_node_t *it = ycfg_node(c, v->data.sequence.items.start[i]);
        session_example *e = &s->examples[s->n_examples++];
        if (!it || ycfg_map(c, it, example_keys, e, YCFG_NO_SET, "an example") != NT_OK)
            rc = NT_ERR_FORMAT;
    }
    return rc;
}

static int h_greeting(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return read_text(c, v, k->name, &((rd *)obj)->s->greeting);
}

static int h_template(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    char *name = NULL;
    if (ycfg_read_str(c, v, k->name, &name) != NT_OK) return NT_ERR_FORMAT;
    int f = nt_chat_family_from_name(name);
    if (f < 0) {
        const char *cands[NT_CHAT_FAMILY_COUNT_];
        size_t nc = 0;
        for (int i = 0; i < NT_CHAT_FAMILY_COUNT_; i++)
            if (nt_chat_family_name((enum nt_chat_family)i)) cands[nc++] = nt_chat_family_name((enum nt_chat_family)i);
        const char *sug = ycfg_suggest(name, cands, nc);
        int rc = sug ? ycfg_error(c, v, "unknown template '%s' (did you mean '%s'?)", name, sug)
                     : ycfg_error(c, v, "unknown template '%s'", name);
        free(name);
        return rc;
    }
    free(name);
    r->s->family = (enum nt_chat_family)f;
    return NT_OK;
}

static int h_raw(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return ycfg_read_bool(c, v, k->name, &((rd *)obj)->s->raw);
}

static int h_context(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    long x;
    if (ycfg_read_long(c, v, k->name, 0, 1 << 24, &x) != NT_OK) return NT_ERR_FORMAT;
    ((rd *)obj)->s->n_ctx = (int32_t)x; /* 0: not known */
    return NT_OK;
}

static int h_first(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    long x;
    if (ycfg_read_long(c, v, k->name, 0, LONG_MAX, &x) != NT_OK) return NT_ERR_FORMAT;
    ((rd *)obj)->s->first = (size_t)x;
    return NT_OK;
}

/* ---- messages ---- */

static int h_role(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    const char *s = v->type == YAML_SCALAR_NODE ? sval(v) : NULL;
    if (s && !strcmp(s, "user")) r->t->role = NT_ROLE_USER;
    else if (s && !strcmp(s, "assistant")) r->t->role = NT_ROLE_ASSISTANT;
    else if (s && !strcmp(s, "system"))
        return ycfg_error(c, v, "the system prompt goes in the top-level 'system' key, not in "
                                "'messages'");
    else
        return ycfg_error(c, v, "'role' must be user or assistant, not %s",
                          s ? s : ycfg_kind(v));
    return NT_OK;
}

static int h_mtime(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return read_time(c, v, k->name, &((rd *)obj)->t->time);
}

static int h_text(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return read_text(c, v, k->name, &((rd *)obj)->t->text);
}

/* Keys that only answers have: remembered so a question that has them is reported. */
static void assistant_key(rd *r, yaml_node_t *v)
{
    if (!r->n_turn_keys++) r->assistant_key = v;
}

static int h_seed(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    r->have_seed = true;
    param_values pv = {.sp = r->t->params};
    int rc = param_read_value(c, v, &param_defs[PARAM_SEED], k->name, &pv);
    r->t->params = pv.sp;
    return rc;
}

/* The start parameters: every one of session_params_mask but the newer ones (PARAM_NEWER,
 * the engine's default when absent), each in its range (the table's rules,
 * app/conv/params.h), floats bit-exact. */
static int h_params(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    if (v->type != YAML_MAPPING_NODE)
        return ycfg_error(c, v, "'params' must be a mapping, not %s", ycfg_kind(v));
    unsigned mask = session_params_mask(false), seen = 0;
    param_values pv = {.sp = r->t->params}, dflt = {.sp = nt_sampler_default_params()};
    for (size_t i = 0; i < PARAM_COUNT; i++) /* the newer ones may be left out: off */
        if (PARAM_NEWER & (1u << i)) param_copy(&param_defs[i], &pv, &dflt);
    int rc = param_read_map(c, v, PARAM_FORM_NAME, mask, &pv, &seen, "'params'");
    r->t->params = pv.sp;
    for (size_t i = 0; i < PARAM_COUNT; i++)
        if ((mask & ~seen & ~PARAM_NEWER) & (1u << i))
            rc = ycfg_error(c, v, "'params' is missing '%s'", param_defs[i].name);
    return rc;
}

/* One change: {at: INDEX, param: NAME, value: V}. */
typedef struct rd_change {
    long at;
    char *param;
    yaml_node_t *param_node, *value;
} rd_change;

static int h_ch_at(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return ycfg_read_long(c, v, k->name, 0, 1L << 30, &((rd_change *)obj)->at);
}
static int h_ch_param(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    ((rd_change *)obj)->param_node = v;
    return ycfg_read_str(c, v, k->name, &((rd_change *)obj)->param);
}
static int h_ch_value(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    ((rd_change *)obj)->value = v;
    return NT_OK;
}
static const ycfg_key change_keys[] = {
    {.name = "at", .fn = h_ch_at, .required = true},
    {.name = "param", .fn = h_ch_param, .required = true},
    {.name = "value", .fn = h_ch_value, .required = true},
    {0},
};

static int h_changes(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    chat_turn *t = r->t;
    assistant_key(r, v);
    if (v->type != YAML_SEQUENCE_NODE)
        return ycfg_error(c, v, "'changes' must be a list, not %s", ycfg_kind(v));
    /* Snapshots are rebuilt in order from the start parameters once the whole message is
     * read (params may come after changes): keep the (index, name, node) triples first. */
    int rc = NT_OK;
    (void)t;
    size_t m = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    r->pend = calloc(m ? m : 1, sizeof *r->pend);
    if (!r->pend) return ycfg_error(c, v, "out of memory");
    long last = -1;
    for (size_t i = 0; i < m; i++) {
        yaml_node_t *it = ycfg_node(c, v->data.sequence.items.start[i]);
        rd_change ch = {.at = -1};
        if (!it || ycfg_map(c, it, change_keys, &ch, YCFG_NO_SET, "a change") != NT_OK) {
            free(ch.param);
            rc = NT_ERR_FORMAT;
            continue;
        }
        if (ch.at < last) {
            rc = ycfg_error(c, it, "changes must be in token order (%ld comes after %ld)", ch.at,
                            last);
            free(ch.param);
            continue;
        }
        last = ch.at;
        /* The value lands in its own field of a scratch snapshot; session_fix_changes lays
         * the changes over the start parameters once the whole message is read (params may
         * come after changes). */
        rd_pend *pd = &r->pend[r->n_pend];
        pd->at = (int32_t)ch.at;
        pd->d = param_read_name(c, ch.param_node, ch.param, PARAM_FORM_NAME, session_params_mask(true));
        memset(&pd->val, 0, sizeof pd->val);
        if (!pd->d || param_read_value(c, ch.value, pd->d, ch.param, &pd->val) != NT_OK)
            rc = NT_ERR_FORMAT;
        else
            r->n_pend++;
        free(ch.param);
    }
    return rc;
}

/* Lays the (index, parameter, value) changes of r over the start parameters as the chat
 * records them: one full snapshot per token index, in order. */
static int session_fix_changes(rd *r, chat_turn *t)
{
    if (!r->n_pend) return NT_OK;
    t->changes = calloc(r->n_pend, sizeof *t->changes);
    if (!t->changes) return NT_ERR_NOMEM;
    t->cap_changes = r->n_pend;
    param_values cur = {.sp = t->params};
    size_t out = 0;
    for (size_t i = 0; i < r->n_pend; i++) {
        param_copy(r->pend[i].d, &cur, &r->pend[i].val);
        if (out > 0 && t->changes[out - 1].index == r->pend[i].at)
            t->changes[out - 1].params = cur.sp;
        else
            t->changes[out++] = (chat_change){r->pend[i].at, cur.sp};
    }
    t->n_changes = out;
    return NT_OK;
}

/* The answer's stop strings: at most GEN_MAX_STOP (the template's and a persona's), each
 * 1 to GEN_STOP_LEN - 1 bytes. A file beyond that was not written by natter: it is refused,
 * never cut, since a replay with a cut string would stop elsewhere. */
static int h_stop(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    r->have_stop = true;
    if (v->type != YAML_SEQUENCE_NODE)
        return ycfg_error(c, v, "'stop' must be a list of strings, not %s", ycfg_kind(v));
    size_t m = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (m > GEN_MAX_STOP)
        return ycfg_error(c, ycfg_node(c, v->data.sequence.items.start[GEN_MAX_STOP]),
                          "'stop' must have at most %d strings, not %zu", GEN_MAX_STOP, m);
    char *str[GEN_MAX_STOP] = {0};
    int rc = NT_OK;
    for (size_t i = 0; i < m; i++) {
        yaml_node_t *it = ycfg_node(c, v->data.sequence.items.start[i]);
        if (!it) {
            rc = ycfg_error(c, v, "'stop' has a bad item");
            continue;
        }
        if (read_text(c, it, "stop", &str[i]) != NT_OK) {
            rc = NT_ERR_FORMAT;
            continue;
        }
        size_t sl = strlen(str[i]);
        if (sl == 0)
            rc = ycfg_error(c, it, "items of 'stop' must not be empty");
        else if (sl > GEN_STOP_LEN - 1)
            rc = ycfg_error(c, it, "items of 'stop' must have at most %d bytes, not %zu",
                            GEN_STOP_LEN - 1, sl);
    }
    if (rc == NT_OK && chat_turn_set_stops(r->t, (const char *const *)str, m) != NT_OK)
        rc = ycfg_error(c, v, "out of memory");
    for (size_t i = 0; i < m; i++) free(str[i]);
    return rc;
}

static int h_end(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    const char *s = v->type == YAML_SCALAR_NODE ? sval(v) : "";
    int e = gen_end_parse(s);
    if (e >= 0) {
        r->t->end = (enum gen_end)e;
        return NT_OK;
    }
    if (!strcmp(s, GEN_END_STOP_STRING_KEY)) {
        r->t->end = GEN_END_EOG;
        r->t->stop_text = true;
        return NT_OK;
    }
    return ycfg_error(c, v, "'end' must be eog, stop-string, length, stopped, context-full or "
                            "error, not %s",
                      v->type == YAML_SCALAR_NODE ? s : ycfg_kind(v));
}

static int h_error(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    return read_text(c, v, k->name, &r->t->error);
}

/* The answer's limit, in the parameter table's range (as -n, /set and personas). */
static int h_max_tokens(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    param_values pv = {.max_tokens = r->t->max_tokens};
    int rc = param_read_value(c, v, &param_defs[PARAM_MAX_TOKENS], k->name, &pv);
    r->t->max_tokens = pv.max_tokens;
    return rc;
}

static int h_tlong(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    long x;
    if (ycfg_read_long(c, v, k->name, 0, 1L << 30, &x) != NT_OK) return NT_ERR_FORMAT;
    if (!strcmp(k->name, "prompt_tokens")) r->t->n_prompt = (int32_t)x;
    else if (!strcmp(k->name, "context_first")) r->t->first = (size_t)x;
    else if (!strcmp(k->name, "prompt_length")) r->t->prompt_len = (int32_t)x;
    else {
        r->token_count = x;
        r->have_count = true;
    }
    return NT_OK;
}

static int h_tdouble(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    double x;
    if (ycfg_read_double(c, v, k->name, 0, YCFG_UNBOUNDED, &x) != NT_OK) return NT_ERR_FORMAT;
    if (!strcmp(k->name, "prompt_sec")) r->t->prompt_sec = x;
    else if (!strcmp(k->name, "gen_sec")) r->t->gen_sec = x;
    return NT_OK; /* tokens_per_sec is derived from token_count and gen_sec */
}

/* A token id: a plain whole number 0 .. 2^31-1 (the model decides which are valid). */
static int read_id(ycfg *c, const yaml_node_t *it, const char *key, int32_t *out)
{
    const char *s = it && it->type == YAML_SCALAR_NODE &&
                            it->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
                        ? sval(it)
                        : NULL;
    if (!s || !s[0] || strlen(s) > 10 || strspn(s, "0123456789") != strlen(s) ||
        strtoll(s, NULL, 10) > INT32_MAX)
        return ycfg_error(c, it, "each item of '%s' must be a token id (a whole number from 0)",
                          key);
    *out = (int32_t)strtol(s, NULL, 10);
    return NT_OK;
}

static int h_tokens(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    r->have_tokens = true;
    if (v->type != YAML_SEQUENCE_NODE)
        return ycfg_error(c, v, "'tokens' must be a list of token ids, not %s", ycfg_kind(v));
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        int32_t id = 0;
        if (read_id(c, ycfg_node(c, *i), "tokens", &id) != NT_OK) return NT_ERR_FORMAT;
        if (nt_tokens_push(&r->t->tokens, id) != NT_OK) return ycfg_error(c, v, "out of memory");
    }
    return NT_OK;
}

/* A retrieved passage of an answer (man/natter-session.5): where it came from and its text
 * as the prompt had it, so a replay places it again whatever the file says now. */
static int h_src_file(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return read_text(c, v, k->name, &((chat_source *)obj)->path);
}

static int h_src_title(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return read_text(c, v, k->name, &((chat_source *)obj)->title);
}

static int h_src_text(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return read_text(c, v, k->name, &((chat_source *)obj)->text);
}

/* `lines: 10-24` (or one number): 1-based, the first not after the last. */
static int h_src_lines(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    chat_source *src = obj;
    if (v->type != YAML_SCALAR_NODE)
        return ycfg_error(c, v, "'lines' must be FIRST-LAST, not %s", ycfg_kind(v));
    const char *t = sval(v);
    char *end;
    long a = strtol(t, &end, 10), b = a;
    if (*end == '-') b = strtol(end + 1, &end, 10);
    if (end == t || *end || a < 1 || b < a || b > INT32_MAX)
        return ycfg_error(c, v, "'lines' must be FIRST-LAST (1 <= FIRST <= LAST), not '%s'", t);
    src->line_a = (int32_t)a;
    src->line_b = (int32_t)b;
    return NT_OK;
}

static int h_src_score(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return ycfg_read_double(c, v, k->name, -1e300, 1e300, &((chat_source *)obj)->score);
}

static const ycfg_key source_keys[] = {
    {.name = "file", .fn = h_src_file, .required = true},
    {.name = "lines", .fn = h_src_lines, .required = true},
    {.name = "title", .fn = h_src_title},
    {.name = "score", .fn = h_src_score},
    {.name = "text", .fn = h_src_text, .required = true},
    {0},
};

static int h_sources(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    void *arr;
    size_t m;
    int rc = ycfg_map_list(c, v, source_keys, sizeof(chat_source), "'sources'", "passages",
                           "a source", &arr, &m);
    if (!arr) return rc;
    chat_source *src = arr;
    for (size_t i = 0; i < m; i++)
        if (!src[i].title && !(src[i].title = strdup(""))) rc = ycfg_error(c, v, "out of memory");
    if (rc == NT_OK) {
        chat_sources_free(r->t->sources, r->t->n_sources);
        r->t->sources = src;
        r->t->n_sources = m;
        return NT_OK;
    }
    chat_sources_free(src, m);
    return rc;
}

static int h_think(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    char *s = NULL;
    if (ycfg_read_str(c, v, k->name, &s) != NT_OK) return NT_ERR_FORMAT;
    enum chat_think t;
    int rc = NT_OK;
    if (chat_think_parse(s, &t) != NT_OK || t == CHAT_THINK_DEFAULT)
        rc = ycfg_error(c, v, "'think' must be on or off, not '%s'", s);
    else
        r->t->think = t;
    free(s);
    return rc;
}

static int h_sources_intro(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    free(r->t->sources_intro);
    r->t->sources_intro = NULL;
    return read_text(c, v, k->name, &r->t->sources_intro);
}

/* The tree (natter-session(5), BRANCHES): which earlier message this one is an alternative
 * to, and whether it is the one the conversation shows. Checked once the list is read. */
static int h_alt(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    r->alt_node = v;
    return ycfg_read_long(c, v, k->name, 0, LONG_MAX, &r->alt);
}

static int h_current(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    r->current_node = v;
    return ycfg_read_bool(c, v, k->name, &r->t->current);
}

static const ycfg_key message_keys[] = {
    {.name = "role", .fn = h_role, .required = true},
    {.name = "alternative_to", .fn = h_alt},
    {.name = "current", .fn = h_current},
    {.name = "time", .fn = h_mtime},
    {.name = "text", .fn = h_text, .required = true},
    {.name = "seed", .fn = h_seed},
    {.name = "params", .fn = h_params},
    {.name = "changes", .fn = h_changes},
    {.name = "end", .fn = h_end},
    {.name = "error", .fn = h_error},
    {.name = "stop", .fn = h_stop},
    {.name = "max_tokens", .fn = h_max_tokens},
    {.name = "token_count", .fn = h_tlong},
    {.name = "tokens_per_sec", .fn = h_tdouble},
    {.name = "prompt_tokens", .fn = h_tlong},
    {.name = "prompt_sec", .fn = h_tdouble},
    {.name = "gen_sec", .fn = h_tdouble},
    {.name = "context_first", .fn = h_tlong},
    {.name = "prompt_length", .fn = h_tlong},
    {.name = "think", .fn = h_think},
    {.name = "tokens", .fn = h_tokens},
    {.name = "sources_intro", .fn = h_sources_intro},
    {.name = "sources", .fn = h_sources},
    {0},
};

static int h_count(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    r->count_node = v;
    return ycfg_read_long(c, v, k->name, 0, LONG_MAX, &r->message_count);
}

static int h_messages(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    session *s = r->s;
    r->messages_node = v;
    if (v->type != YAML_SEQUENCE_NODE)
        return ycfg_error(c, v, "'messages' must be a list, not %s", ycfg_kind(v));
    size_t m = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    s->turns = calloc(m ? m : 1, sizeof *s->turns);
    free(r->no_stop);
    r->no_stop = calloc(m ? m : 1, sizeof *r->no_stop);
    size_t *depth = calloc(m ? m : 1, sizeof *depth); /* path position of each message */
    bool *marked = calloc(m + 1, sizeof *marked);     /* [parent + 1]: its group has a current */
    if (!s->turns || !r->no_stop || !depth || !marked) {
        free(depth);
        free(marked);
        return ycfg_error(c, v, "out of memory");
    }
    int rc = NT_OK;
    for (size_t i = 0; i < m; i++) {
        yaml_node_t *it = ycfg_node(c, v->data.sequence.items.start[i]);
        chat_turn *t = &s->turns[s->n_turns++];
        t->role = (enum nt_chat_role)-1;
        /* A message follows the one before it, unless it is another version of an earlier
         * one: then it follows what that one follows. */
        t->parent = i == 0 ? CHAT_ROOT : i - 1;
        rd mr = {.s = s, .t = t, .alt = -1};
        int mrc = it ? ycfg_map(c, it, message_keys, &mr, YCFG_NO_SET, "a message")
                     : NT_ERR_FORMAT;
        if (mrc != NT_OK) {
            free(mr.pend);
            rc = NT_ERR_FORMAT;
            continue;
        }
        if (mr.alt >= 0) {
            if ((size_t)mr.alt >= i) {
                free(mr.pend);
                rc = ycfg_error(c, mr.alt_node, "'alternative_to' must name an earlier message "
                                                "(from 0), not %ld", mr.alt);
                continue;
            }
            t->parent = s->turns[mr.alt].parent;
        }
        depth[i] = t->parent == CHAT_ROOT ? 0 : depth[t->parent] + 1;
        if (!t->text) t->text = strdup("");
        if (!t->text) return ycfg_error(c, it, "out of memory");
        t->len = strlen(t->text);
        t->cap = t->len + 1;
        enum nt_chat_role want = depth[i] % 2 == 0 ? NT_ROLE_USER : NT_ROLE_ASSISTANT;
        if (t->role != NT_ROLE_ASSISTANT || t->role != want) {
            free(mr.pend);
            mr.pend = NULL;
        }
        if (t->role != want) {
            rc = ycfg_error(c, it, "message %zu must be %s (questions and answers alternate, "
                                   "a question first)",
                            i + 1, want == NT_ROLE_USER ? "a question (role: user)"
                                                          : "an answer (role: assistant)");
            continue;
        }
        size_t g = t->parent == CHAT_ROOT ? 0 : t->parent + 1;
        if (t->current && marked[g]) {
            free(mr.pend);
            rc = ycfg_error(c, mr.current_node, "another alternative of this message is "
                                                "already 'current'");
            continue;
        }
        marked[g] |= t->current;
        if (t->role == NT_ROLE_USER) {
            if (mr.n_turn_keys)
                rc = ycfg_error(c, mr.assistant_key, "only answers (role: assistant) have "
                                                     "sampling records");
            continue;
        }
        t->complete = true;
        t->n_gen = (int32_t)t->tokens.n;
        /* Written by natter before stop strings were recorded: the template's own, set
         * once the template is known (session_read_doc). */
        if (!mr.have_stop) r->no_stop[i] = true;
        if (!mr.have_seed) rc = ycfg_error(c, it, "missing required key 'seed' in an answer");
        if (!mr.have_tokens) rc = ycfg_error(c, it, "missing required key 'tokens' in an answer");
        if (mr.have_count && (size_t)mr.token_count != t->tokens.n)
            rc = ycfg_error(c, it, "'token_count' is %ld but 'tokens' holds %zu ids",
                            mr.token_count, t->tokens.n);
        if (t->first > depth[i])
            rc = ycfg_error(c, it, "'context_first' (%zu) must name an earlier message", t->first);
        if (session_fix_changes(&mr, t) != NT_OK) rc = ycfg_error(c, it, "out of memory");
        free(mr.pend);
        for (size_t j = 0; j < t->n_changes; j++)
            if ((size_t)t->changes[j].index > t->tokens.n) {
                rc = ycfg_error(c, it, "a change at token %d lies past the answer's %zu tokens",
                                t->changes[j].index, t->tokens.n);
                break;
            }
    }
    /* A group of alternatives with none marked shows its last (a file without branches has
     * no marks at all: each message is the only one of its group). */
    for (size_t i = s->n_turns; i-- > 0;) {
        size_t g = s->turns[i].parent == CHAT_ROOT ? 0 : s->turns[i].parent + 1;
        if (!marked[g]) {
            s->turns[i].current = true;
            marked[g] = true;
        }
    }
    free(depth);
    free(marked);
    return rc;
}

static int h_complete(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    if (ycfg_read_bool(c, v, k->name, &r->complete) != NT_OK) return NT_ERR_FORMAT;
    if (!r->complete) return ycfg_error(c, v, "'complete' must be true");
    return NT_OK;
}

static const ycfg_key top_keys[] = {
    {.name = "natter-session", .fn = h_version, .required = true},
    {.name = "created", .fn = h_time, .required = true},
    {.name = "updated", .fn = h_time, .required = true},
    {.name = "model", .fn = h_model, .required = true},
    {.name = "persona", .fn = h_persona},
    {.name = "theme", .fn = h_theme},
    {.name = "template", .fn = h_template, .required = true},
    {.name = "raw", .fn = h_raw},
    {.name = "context", .fn = h_context, .required = true},
    {.name = "context_first", .fn = h_first},
    {.name = "system", .fn = h_system},
    {.name = "examples", .fn = h_examples},
    {.name = "greeting", .fn = h_greeting},
    {.name = "message_count", .fn = h_count, .required = true},
    {.name = "messages", .fn = h_messages, .required = true},
    {.name = "complete", .fn = h_complete},
    {0},
};

/* Walks a loaded document into *out. */
static int session_read_doc(ycfg *c, session **out)
{
    *out = NULL;
    yaml_node_t *root = ycfg_root(c);
    /* Not a session at all (a persona, a theme, a list): one message instead of a screenful of
     * unknown keys. */
    if (!root || root->type != YAML_MAPPING_NODE)
        return ycfg_error(c, root, "not a natter session (the file must be a mapping with a "
                                   "'natter-session' key, not %s)",
                          ycfg_kind(root));
    yaml_node_t *vnode = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ycfg_node(c, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp(sval(k), "natter-session"))
            vnode = ycfg_node(c, p->value);
    }
    if (!vnode)
        return ycfg_error(c, root, "not a natter session (no 'natter-session' key)");
    long ver = 0;
    if (ycfg_read_long(c, vnode, "natter-session", 0, LONG_MAX, &ver) != NT_OK)
        return NT_ERR_FORMAT;
    if (ver < 1 || ver > SESSION_VERSION)
        return ycfg_error(c, vnode, "unsupported session version %ld (this natter reads version "
                                    "%d)",
                          ver, SESSION_VERSION);
    session *s = session_init();
    if (!s) return ycfg_error(c, root, "out of memory");
    free(s->system);
    s->system = NULL;
    rd r = {.s = s};
    int rc = ycfg_map(c, root, top_keys, &r, YCFG_NO_SET, "the session");
    if (rc == NT_OK && !s->system) s->system = strdup("");
    static const char *const plain_stop[] = {"\nUser:"};
    for (size_t i = 0; r.no_stop && i < s->n_turns; i++)
        if (r.no_stop[i] && !s->raw && s->family == NT_CHAT_PLAIN &&
            chat_turn_set_stops(&s->turns[i], plain_stop, 1) != NT_OK && rc == NT_OK)
            rc = ycfg_error(c, root, "out of memory");
    free(r.no_stop);
    if (rc == NT_OK && (!s->system)) rc = ycfg_error(c, root, "out of memory");
    if (rc == NT_OK && !r.complete) {
        /* Point at the end of the file: that is where the line is missing. */
        size_t line = 1;
        for (size_t i = 0; i < c->len; i++) line += c->src[i] == '\n' && i + 1 < c->len;
        size_t ll;
        ycfg_src_line(c, line, &ll);
        rc = ycfg_error_at(c, line, 1, "the file ends early: its last line must be "
                                       "'complete: true' (was it cut short?)");
        (void)ll;
    }
    if (rc == NT_OK && (size_t)r.message_count != s->n_turns)
        rc = ycfg_error(c, r.count_node,
                        "'message_count' is %ld but 'messages' holds %zu (is the file cut short?)",
                        r.message_count, s->n_turns);
    if (rc == NT_OK && s->first > s->n_turns)
        rc = ycfg_error(c, root, "'context_first' (%zu) is past the %zu messages", s->first,
                        s->n_turns);
    if (rc != NT_OK) {
        session_free(s);
        return NT_ERR_FORMAT;
    }
    s->version = (int)ver;
    *out = s;
    return NT_OK;
}

int session_parse(session **out, const char *name, const char *text, size_t len,
                  ycfg_diag *diag)
{
    ycfg c;
    *out = NULL;
    int rc = ycfg_load_mem(&c, name, text, len, diag);
    if (rc == NT_OK) rc = session_read_doc(&c, out);
    ycfg_free(&c);
    return rc;
}

int session_load(session **out, const char *path, const char *name, ycfg_diag *diag)
{
    *out = NULL;
    if (!name) name = path;
    nt_err oe;
    uint64_t size;
    int fd = nt_open_regular(path, &size, &oe);
    if (fd < 0) {
        ycfg_diag_add(diag, "%s: %s", name, oe.msg);
        return NT_ERR_IO;
    }
    if (size > SESSION_MAX_FILE) {
        ycfg_diag_add(diag, "%s: file too large for a session (over 256 MiB)", name);
        close(fd);
        return NT_ERR_IO;
    }
    size_t n = (size_t)size, got = 0;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        ycfg_diag_add(diag, "%s: out of memory", name);
        return NT_ERR_NOMEM;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        ycfg_diag_add(diag, "%s: read error", name);
        free(buf);
        return NT_ERR_IO;
    }
    int rc = session_parse(out, name, buf, n, diag);
    free(buf);
    if (rc == NT_OK) {
        (*out)->path = strdup(path);
        if (!(*out)->path) {
            session_free(*out);
            *out = NULL;
            ycfg_diag_add(diag, "%s: out of memory", name);
            return NT_ERR_NOMEM;
        }
    }
    return rc;
}
