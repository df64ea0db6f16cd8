/* session.c — the session record, its YAML writer and validated reader, atomic private saves,
 * the sessions folder and the entry points behind /save, /load, /sessions and autosave (see
 * session.h; the format is man/natter-session.5). */
#include "session.h"
#include "json.h"
#include "strbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

static void session_turn_release(chat_turn *t)
{
    free(t->text);
    nt_tokens_free(&t->tokens);
    free(t->changes);
    free(t->error);
    memset(t, 0, sizeof *t);
}

static void session_clear_turns(session *s)
{
    for (size_t i = 0; i < s->n_turns; i++) session_turn_release(&s->turns[i]);
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
    if (t->role != CHAT_ROLE_ASSISTANT) return NT_OK;
    if (t->tokens.n && nt_tokens_append(&d->tokens, t->tokens.v, t->tokens.n) != NT_OK)
        goto nomem;
    d->params = t->params;
    if (t->n_changes) {
        d->changes = malloc(t->n_changes * sizeof *d->changes);
        if (!d->changes) goto nomem;
        memcpy(d->changes, t->changes, t->n_changes * sizeof *d->changes);
        d->n_changes = d->cap_changes = t->n_changes;
    }
    d->complete = t->complete;
    d->end = t->end;
    d->stop_text = t->stop_text;
    d->n_prompt = t->n_prompt;
    d->n_gen = t->n_gen;
    d->prompt_sec = t->prompt_sec;
    d->gen_sec = t->gen_sec;
    d->max_tokens = t->max_tokens;
    d->first = t->first;
    memcpy(d->stop, t->stop, sizeof d->stop);
    d->prompt_len = t->prompt_len;
    return NT_OK;
nomem:
    session_turn_release(d);
    return NT_ERR_NOMEM;
}

/* ================================================================= model hash ===== */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    return fnv(h, b, 8);
}

static size_t vtype_size(enum gguf_vtype t)
{
    switch (t) {
    case GGUF_VT_U8: case GGUF_VT_I8: case GGUF_VT_BOOL: return 1;
    case GGUF_VT_U16: case GGUF_VT_I16: return 2;
    case GGUF_VT_U32: case GGUF_VT_I32: case GGUF_VT_F32: return 4;
    case GGUF_VT_U64: case GGUF_VT_I64: case GGUF_VT_F64: return 8;
    default: return 0;
    }
}

uint64_t session_model_hash(const gguf *g)
{
    uint64_t h = FNV_OFFSET;
    h = fnv_u64(h, gguf_version(g));
    int64_t nkv = gguf_n_kv(g);
    h = fnv_u64(h, (uint64_t)nkv);
    for (int64_t i = 0; i < nkv; i++) {
        const char *key = gguf_kv_key(g, i);
        enum gguf_vtype t = gguf_kv_type(g, i);
        h = fnv(h, key, strlen(key) + 1);
        h = fnv_u64(h, (uint64_t)t);
        if (t == GGUF_VT_STR) {
            gguf_str v = {0};
            gguf_get_str(g, key, &v, NULL);
            h = fnv_u64(h, v.n);
            h = fnv(h, v.p, v.n);
        } else if (t == GGUF_VT_ARR) {
            enum gguf_vtype et = gguf_kv_arr_type(g, i);
            uint64_t n = gguf_kv_arr_n(g, i);
            h = fnv_u64(h, (uint64_t)et);
            h = fnv_u64(h, n);
            if (et == GGUF_VT_STR) {
                for (uint64_t k = 0; k < n; k++) {
                    gguf_str v = gguf_arr_str(g, i, k);
                    h = fnv_u64(h, v.n);
                    h = fnv(h, v.p, v.n);
                }
            } else {
                enum gguf_vtype et2;
                uint64_t n2;
                const void *data = NULL;
                if (gguf_get_arr(g, key, &et2, &n2, &data, NULL) == NT_OK && data)
                    h = fnv(h, data, (size_t)n2 * vtype_size(et2));
            }
        } else {
            /* Scalars: hash the value through the widest getter that accepts it. */
            int64_t iv;
            float fv;
            bool bv;
            if (t == GGUF_VT_F32 || t == GGUF_VT_F64) {
                if (gguf_get_f32(g, key, &fv, NULL) == NT_OK) h = fnv(h, &fv, sizeof fv);
            } else if (t == GGUF_VT_BOOL) {
                if (gguf_get_bool(g, key, &bv, NULL) == NT_OK) h = fnv_u64(h, bv);
            } else if (gguf_get_i64(g, key, &iv, NULL) == NT_OK) {
                h = fnv_u64(h, (uint64_t)iv);
            } else {
                uint32_t uv;
                if (gguf_get_u32(g, key, &uv, NULL) == NT_OK) h = fnv_u64(h, uv);
            }
        }
    }
    int64_t nt = gguf_n_tensors(g);
    h = fnv_u64(h, (uint64_t)nt);
    for (int64_t i = 0; i < nt; i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        h = fnv(h, t->name, strlen(t->name) + 1);
        h = fnv_u64(h, (uint64_t)t->type);
        h = fnv_u64(h, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims && d < 4; d++) h = fnv_u64(h, (uint64_t)t->ne[d]);
        h = fnv_u64(h, t->offset);
    }
    return h;
}

int session_set_model(session *s, const gguf *g, const model_info *info)
{
    session_model m = {0};
    const char *path = gguf_path(g);
    char *abs = realpath(path, NULL);
    m.path = abs ? abs : strdup(path);
    const char *slash = strrchr(path, '/');
    m.file = strdup(slash ? slash + 1 : path);
    m.arch = strdup(info && info->arch ? info->arch : "");
    m.name = strdup(info && info->name ? info->name : "");
    m.size = gguf_file_size(g);
    m.hash = session_model_hash(g);
    if (!m.path || !m.file || !m.arch || !m.name) {
        session_model_release(&m);
        return NT_ERR_NOMEM;
    }
    session_model_release(&s->model);
    s->model = m;
    return NT_OK;
}

int session_capture(session *s, const chat *c)
{
    size_t n = chat_n_turns(c);
    if (chat_busy(c) && n > 0 && chat_turn_at(c, n - 1)->role == CHAT_ROLE_ASSISTANT &&
        !chat_turn_at(c, n - 1)->complete)
        n--; /* the answer being written is saved once it is done */
    chat_turn *turns = calloc(n ? n : 1, sizeof *turns);
    char *sys = strdup(chat_system(c));
    if (!turns || !sys) goto nomem;
    for (size_t i = 0; i < n; i++)
        if (session_turn_copy(&turns[i], chat_turn_at(c, i)) != NT_OK) {
            for (size_t j = 0; j < i; j++) session_turn_release(&turns[j]);
            goto nomem;
        }
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
        for (size_t j = 0; j < n; j++) session_turn_release(&turns[j]);
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
    chat_msg *msgs = calloc(s->n_examples ? s->n_examples : 1, sizeof *msgs);
    if (!msgs) return nt_err_set(err, NT_ERR_NOMEM, "session: out of memory");
    for (size_t i = 0; i < s->n_examples; i++)
        msgs[i] = (chat_msg){s->examples[i].role, s->examples[i].text};
    int prc = chat_set_prefix(c, msgs, s->n_examples);
    free(msgs);
    if (prc != NT_OK || chat_set_greeting(c, s->greeting) != NT_OK)
        return nt_err_set(err, prc == NT_OK ? NT_ERR_NOMEM : prc, "session: cannot set the examples");
    for (size_t i = 0; i < s->n_turns; i++) {
        int rc = chat_restore_turn(c, &s->turns[i]);
        if (rc != NT_OK) {
            chat_clear(c);
            return nt_err_set(err, rc, "session: message %zu: %s", i + 1,
                              rc == NT_ERR_NOMEM ? "out of memory"
                                                 : "questions and answers must alternate");
        }
    }
    chat_set_first_turn(c, s->first);
    return NT_OK;
}

/* ======================================================================= writer ===== */

static const char *const end_names[] = {
    [WEND_EOG] = "eog", [WEND_LENGTH] = "length", [WEND_STOPPED] = "stopped",
    [WEND_CONTEXT_FULL] = "context-full", [WEND_ERROR] = "error",
};
#define END_STOP_STRING "stop-string" /* WEND_EOG reached through a stop string */

void session_format_time(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, 32, "1970-01-01T00:00:00Z");
}

/* The shortest decimal text that reads back (strtof) to exactly v. */
static void fmt_float(float v, char *buf, size_t cap)
{
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, cap, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) return;
    }
}

/* Decodes one UTF-8 character at s[0..n): its code point and length, or -1 when invalid
 * (overlong, surrogate, out of range, truncated). */
static int utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (!len || c > 0xF4 || (size_t)len > n) return -1;
    uint32_t v = c & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return -1;
        v = v << 6 | (s[i] & 0x3F);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return -1;
    *cp = v;
    return len;
}

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = utf8_next(p + i, n - i, &cp);
        if (l < 0) return false;
        i += (size_t)l;
    }
    return true;
}

/* Characters a YAML stream may carry as they are (YAML 1.1's printable set, minus the line
 * breaks NEL/LS/PS that block scalars would reinterpret and the byte order mark). */
static bool yaml_plain_char(uint32_t cp)
{
    if (cp == '\t' || cp == '\n') return true;
    if (cp < 0x20 || cp == 0x7F) return false;
    if (cp >= 0x80 && cp < 0xA0) return false;
    if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF) return false;
    return true;
}

static void put_quoted(strbuf *b, const char *s, size_t n)
{
    strbuf_puts(b, "\"");
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = utf8_next(p + i, n - i, &cp);
        if (l < 0) { /* callers pass valid UTF-8 only */
            cp = 0xFFFD;
            l = 1;
        }
        if (cp == '"') strbuf_puts(b, "\\\"");
        else if (cp == '\\') strbuf_puts(b, "\\\\");
        else if (cp == '\n') strbuf_puts(b, "\\n");
        else if (cp == '\t') strbuf_puts(b, "\\t");
        else if (cp == '\r') strbuf_puts(b, "\\r");
        else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
            strbuf_printf(b, "\\x%02X", cp);
        else if (!yaml_plain_char(cp)) strbuf_printf(b, "\\u%04X", cp);
        else strbuf_put(b, s + i, (size_t)l);
        i += (size_t)l;
    }
    strbuf_puts(b, "\"");
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(strbuf *b, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < n ? b64[v >> 6 & 63] : '=',
                     i + 2 < n ? b64[v & 63] : '='};
        strbuf_put(b, q, 4);
    }
}

/* Writes a text value after "key:" (the caller wrote "key:"), with block lines indented by
 * indent spaces. Multi-line text that YAML can carry literally becomes a `|` block (readable
 * and diff-friendly); other text a double-quoted string with escapes; bytes that are not UTF-8
 * a !!binary value (base64), so every text reads back byte for byte. */
static void put_text(strbuf *b, const char *s, int indent)
{
    size_t n = strlen(s);
    if (!utf8_valid(s, n)) {
        strbuf_puts(b, " !!binary \"");
        put_base64(b, (const unsigned char *)s, n);
        strbuf_puts(b, "\"\n");
        return;
    }
    bool block = memchr(s, '\n', n) != NULL;
    bool has_content = false;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; block && i < n;) {
        uint32_t cp;
        int l = utf8_next(p + i, n - i, &cp);
        if (!yaml_plain_char(cp)) block = false;
        if (cp != '\n') has_content = true;
        i += (size_t)l;
    }
    /* Lines of only blanks are ambiguous in block scalars (indentation or content?). */
    for (size_t i = 0; block && i < n;) {
        size_t e = i;
        while (e < n && s[e] != '\n') e++;
        size_t k = i;
        while (k < e && (s[k] == ' ' || s[k] == '\t')) k++;
        if (e > i && k == e) block = false;
        i = e + 1;
    }
    if (!block || !has_content) {
        strbuf_puts(b, " ");
        put_quoted(b, s, n);
        strbuf_puts(b, "\n");
        return;
    }
    size_t trail = 0;
    while (trail < n && s[n - 1 - trail] == '\n') trail++;
    const char *chomp = trail == 0 ? "-" : trail == 1 ? "" : "+";
    /* An explicit indentation when the first line with content starts with a blank (a tab
     * would be read as content either way, but a space would be taken for indentation). */
    size_t f = 0;
    while (f < n && s[f] == '\n') f++;
    /* The indicator counts from the parent's indentation, which is two less here. */
    if (s[f] == ' ' || s[f] == '\t') strbuf_printf(b, " |2%s\n", chomp);
    else strbuf_printf(b, " |%s\n", chomp);
    size_t end = n - (trail > 0 ? 1 : 0); /* the last newline ends the last line */
    for (size_t i = 0; i <= end;) {
        size_t e = i;
        while (e < end && s[e] != '\n') e++;
        if (e > i) {
            strbuf_printf(b, "%*s", indent, "");
            strbuf_put(b, s + i, e - i);
        }
        strbuf_puts(b, "\n");
        if (e >= end) break;
        i = e + 1;
    }
}

/* A single-line string value (names, paths): quoted only when needed. */
static void put_str(strbuf *b, const char *s)
{
    bool plain = s[0] != '\0' && utf8_valid(s, strlen(s));
    if (plain && strchr("-?:,[]{}#&*!|>'\"%@` ~", s[0])) plain = false;
    for (const char *p = s; plain && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '#' || *p == ':' || *p == '"' || *p == '\'' ||
            *p == '\\' || *p == ',' || *p == '[' || *p == ']' || *p == '{' || *p == '}')
            plain = false;
    if (plain && s[strlen(s) - 1] == ' ') plain = false;
    /* Words YAML would read as something else. */
    static const char *const special[] = {"true", "false", "yes", "no", "on", "off", "null",
                                          "True", "False", "Yes", "No", "On", "Off", "Null",
                                          "TRUE", "FALSE", "YES", "NO", "ON", "OFF", "NULL", "~"};
    for (size_t i = 0; plain && i < sizeof special / sizeof *special; i++)
        if (!strcmp(s, special[i])) plain = false;
    if (plain) {
        char *end;
        strtod(s, &end);
        if (*end == '\0') plain = false;
    }
    strbuf_puts(b, " ");
    if (plain) strbuf_puts(b, s);
    else if (!utf8_valid(s, strlen(s))) {
        strbuf_puts(b, "!!binary \"");
        put_base64(b, (const unsigned char *)s, strlen(s));
        strbuf_puts(b, "\"");
    } else put_quoted(b, s, strlen(s));
    strbuf_puts(b, "\n");
}

/* Parameter table: canonical names (chat_param_names), fields, kinds. */
enum sp_kind { SP_FLOAT, SP_INT, SP_SEED };
typedef struct sp_def {
    const char *name;
    enum sp_kind kind;
    size_t off;
} sp_def;
#define SP_OFF(f) offsetof(sampler_params, f)
static const sp_def sp_defs[] = {
    {"temp", SP_FLOAT, SP_OFF(temperature)},
    {"top-k", SP_INT, SP_OFF(top_k)},
    {"top-p", SP_FLOAT, SP_OFF(top_p)},
    {"min-p", SP_FLOAT, SP_OFF(min_p)},
    {"repeat-penalty", SP_FLOAT, SP_OFF(repeat_penalty)},
    {"repeat-last-n", SP_INT, SP_OFF(repeat_last_n)},
    {"presence-penalty", SP_FLOAT, SP_OFF(presence_penalty)},
    {"frequency-penalty", SP_FLOAT, SP_OFF(frequency_penalty)},
    {"seed", SP_SEED, SP_OFF(seed)},
};
#define N_SP (sizeof sp_defs / sizeof sp_defs[0])

static void sp_format(const sp_def *d, const sampler_params *p, char *buf, size_t cap)
{
    const char *base = (const char *)p + d->off;
    if (d->kind == SP_FLOAT) {
        float v;
        memcpy(&v, base, sizeof v);
        fmt_float(v, buf, cap);
    } else if (d->kind == SP_INT) {
        int32_t v;
        memcpy(&v, base, sizeof v);
        snprintf(buf, cap, "%d", v);
    } else {
        uint64_t v;
        memcpy(&v, base, sizeof v);
        snprintf(buf, cap, "%llu", (unsigned long long)v);
    }
}

static bool sp_equal(const sp_def *d, const sampler_params *a, const sampler_params *b)
{
    size_t sz = d->kind == SP_SEED ? sizeof(uint64_t) : 4;
    return memcmp((const char *)a + d->off, (const char *)b + d->off, sz) == 0;
}

int session_changes(const chat_turn *t, session_change **out)
{
    *out = NULL;
    size_t cap = 0, n = 0;
    session_change *v = NULL;
    sampler_params cur = t->params;
    for (size_t i = 0; i < t->n_changes; i++) {
        const sampler_params *np = &t->changes[i].params;
        for (size_t k = 0; k < N_SP; k++) {
            if (sp_equal(&sp_defs[k], &cur, np)) continue;
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
            v[n].param = sp_defs[k].name;
            sp_format(&sp_defs[k], np, v[n].value, sizeof v[n].value);
            n++;
        }
        cur = *np;
    }
    *out = v;
    return (int)n;
}

/* A list of ints as one flow sequence, wrapped before about 96 columns. */
static void put_int_flow(strbuf *b, const int32_t *v, size_t n, int indent)
{
    strbuf_puts(b, " [");
    size_t col = (size_t)indent + 10;
    for (size_t i = 0; i < n; i++) {
        char num[16];
        int l = snprintf(num, sizeof num, "%d", v[i]);
        if (i > 0) {
            if (col + (size_t)l + 2 > 96) {
                strbuf_printf(b, ",\n%*s", indent + 2, "");
                col = (size_t)indent + 2;
            } else {
                strbuf_puts(b, ", ");
                col += 2;
            }
        }
        strbuf_put(b, num, (size_t)l);
        col += (size_t)l;
    }
    strbuf_puts(b, "]\n");
}

char *session_to_yaml(const session *s, size_t *len)
{
    strbuf b = {0};
    char tbuf[32];
    strbuf_puts(&b, "# A natter session: regenerate its answers with `natter replay FILE`.\n"
               "# Format: natter-session(5).\n");
    strbuf_printf(&b, "natter-session: %d\n", SESSION_VERSION);
    session_format_time(s->created, tbuf);
    strbuf_printf(&b, "created: %s\n", tbuf);
    session_format_time(s->updated, tbuf);
    strbuf_printf(&b, "updated: %s\n", tbuf);
    strbuf_puts(&b, "model:\n  file:");
    put_str(&b, s->model.file ? s->model.file : "?");
    if (s->model.path && s->model.path[0]) {
        strbuf_puts(&b, "  path:");
        put_str(&b, s->model.path);
    }
    strbuf_printf(&b, "  size: %llu\n", (unsigned long long)s->model.size);
    strbuf_printf(&b, "  hash: fnv1a64:%016llx\n", (unsigned long long)s->model.hash);
    if (s->model.arch && s->model.arch[0]) {
        strbuf_puts(&b, "  arch:");
        put_str(&b, s->model.arch);
    }
    if (s->model.name && s->model.name[0]) {
        strbuf_puts(&b, "  name:");
        put_str(&b, s->model.name);
    }
    if (s->persona && s->persona[0]) {
        strbuf_puts(&b, "persona:");
        put_str(&b, s->persona);
    }
    strbuf_puts(&b, "template:");
    put_str(&b, chat_family_name(s->family) ? chat_family_name(s->family) : "plain");
    if (s->raw) strbuf_puts(&b, "raw: true\n");
    strbuf_printf(&b, "context: %d\n", s->n_ctx);
    strbuf_printf(&b, "context_first: %zu\n", s->first);
    strbuf_puts(&b, "system:");
    put_text(&b, s->system ? s->system : "", 2);
    if (s->n_examples) {
        strbuf_puts(&b, "examples:\n");
        for (size_t i = 0; i < s->n_examples; i++) {
            strbuf_printf(&b, "  - role: %s\n    text:",
                      s->examples[i].role == CHAT_ROLE_ASSISTANT ? "assistant" : "user");
            put_text(&b, s->examples[i].text ? s->examples[i].text : "", 6);
        }
    }
    if (s->greeting) {
        strbuf_puts(&b, "greeting:");
        put_text(&b, s->greeting, 2);
    }
    /* Said up front so a file cut short between two messages is caught. */
    strbuf_printf(&b, "message_count: %zu\n", s->n_turns);
    strbuf_puts(&b, s->n_turns ? "messages:\n" : "messages: []\n");
    for (size_t i = 0; i < s->n_turns; i++) {
        const chat_turn *t = &s->turns[i];
        bool ans = t->role == CHAT_ROLE_ASSISTANT;
        strbuf_printf(&b, "  - role: %s\n", ans ? "assistant" : "user");
        if (t->time) {
            session_format_time(t->time, tbuf);
            strbuf_printf(&b, "    time: %s\n", tbuf);
        }
        strbuf_puts(&b, "    text:");
        put_text(&b, t->text ? t->text : "", 6);
        if (!ans) continue;
        strbuf_printf(&b, "    seed: %llu\n", (unsigned long long)t->params.seed);
        strbuf_puts(&b, "    params: {");
        for (size_t k = 0; k < N_SP; k++) {
            if (sp_defs[k].kind == SP_SEED) continue;
            char v[32];
            sp_format(&sp_defs[k], &t->params, v, sizeof v);
            strbuf_printf(&b, "%s%s: %s", k ? ", " : "", sp_defs[k].name, v);
        }
        strbuf_puts(&b, "}\n");
        session_change *ch = NULL;
        int nch = session_changes(t, &ch);
        if (nch < 0) b.oom = true;
        if (nch > 0) {
            strbuf_puts(&b, "    changes:\n");
            for (int k = 0; k < nch; k++)
                strbuf_printf(&b, "      - {at: %d, param: %s, value: %s}\n", ch[k].index,
                          ch[k].param, ch[k].value);
        }
        free(ch);
        const char *end = t->end == WEND_EOG && t->stop_text ? END_STOP_STRING
                          : (unsigned)t->end < sizeof end_names / sizeof *end_names
                              ? end_names[t->end]
                              : "error";
        strbuf_printf(&b, "    end: %s\n", end);
        if (t->error) {
            strbuf_puts(&b, "    error:");
            put_text(&b, t->error, 6);
        }
        int n_stop = 0;
        for (int k = 0; k < WORKER_MAX_STOP; k++) n_stop += t->stop[k][0] != 0;
        strbuf_puts(&b, n_stop ? "    stop: [" : "    stop: []\n");
        for (int k = 0, j = 0; k < WORKER_MAX_STOP; k++) {
            if (!t->stop[k][0]) continue;
            size_t sl = strnlen(t->stop[k], WORKER_STOP_LEN - 1);
            if (j++) strbuf_puts(&b, ", ");
            if (utf8_valid(t->stop[k], sl)) put_quoted(&b, t->stop[k], sl);
            else {
                strbuf_puts(&b, "!!binary \"");
                put_base64(&b, (const unsigned char *)t->stop[k], sl);
                strbuf_puts(&b, "\"");
            }
        }
        if (n_stop) strbuf_puts(&b, "]\n");
        strbuf_printf(&b, "    max_tokens: %d\n", t->max_tokens);
        strbuf_printf(&b, "    token_count: %zu\n", t->tokens.n);
        strbuf_printf(&b, "    tokens_per_sec: %.2f\n",
                  t->gen_sec > 0 ? (double)t->n_gen / t->gen_sec : 0.0);
        strbuf_printf(&b, "    prompt_tokens: %d\n", t->n_prompt);
        strbuf_printf(&b, "    prompt_sec: %.3f\n", t->prompt_sec);
        strbuf_printf(&b, "    gen_sec: %.3f\n", t->gen_sec);
        strbuf_printf(&b, "    context_first: %zu\n", t->first);
        if (t->prompt_len > 0) strbuf_printf(&b, "    prompt_length: %d\n", t->prompt_len);
        strbuf_puts(&b, "    tokens:");
        put_int_flow(&b, t->tokens.v, t->tokens.n, 4);
    }
    /* Last, so that a file cut short anywhere is caught (message_count alone misses a cut
     * inside the last message's text). */
    strbuf_puts(&b, "complete: true\n");
    return strbuf_take(&b, len);
}

/* ======================================================================= reader ===== */

/* A live change as read, before it becomes a snapshot. */
typedef struct rd_pend {
    int32_t at;
    size_t pi;            /* index into sp_defs */
    sampler_params val;   /* the value, in its own field */
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
    int32_t n_turn_keys;    /* assistant-only keys seen on this message */
    const yaml_node_t *assistant_key; /* the first of them, for the message */
    long version;
    long message_count;
    bool complete;
    yaml_node_t *count_node, *messages_node;
} rd;

static const char *sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static int base64_val(int c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
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
    if (!s || strncmp(s, "fnv1a64:", 8) || strlen(s) != 24 || strspn(s + 8, "0123456789abcdef") != 16)
        return ycfg_error(c, v, "'%s' must be fnv1a64: and 16 hex digits", k->name);
    m->hash = strtoull(s + 8, NULL, 16);
    return NT_OK;
}

static const ycfg_key model_keys[] = {
    {.name = "file", .fn = h_mstr, .offset = offsetof(session_model, file), .required = true},
    {.name = "path", .fn = h_mstr, .offset = offsetof(session_model, path)},
    {.name = "size", .fn = h_msize, .required = true},
    {.name = "hash", .fn = h_mhash, .required = true},
    {.name = "arch", .fn = h_mstr, .offset = offsetof(session_model, arch)},
    {.name = "name", .fn = h_mstr, .offset = offsetof(session_model, name)},
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

static int h_system(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return read_text(c, v, k->name, &((rd *)obj)->s->system);
}

/* One example: {role: user|assistant, text: ...}. */
static int h_ex_role(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    session_example *e = obj;
    const char *s = v->type == YAML_SCALAR_NODE ? sval(v) : NULL;
    if (s && !strcmp(s, "user")) e->role = CHAT_ROLE_USER;
    else if (s && !strcmp(s, "assistant")) e->role = CHAT_ROLE_ASSISTANT;
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
    int f = chat_family_from_name(name);
    if (f < 0) {
        const char *cands[CHAT_FAMILY_COUNT_];
        size_t nc = 0;
        for (int i = 0; i < CHAT_FAMILY_COUNT_; i++)
            if (chat_family_name((enum chat_family)i)) cands[nc++] = chat_family_name((enum chat_family)i);
        const char *sug = ycfg_suggest(name, cands, nc);
        int rc = sug ? ycfg_error(c, v, "unknown template '%s' (did you mean '%s'?)", name, sug)
                     : ycfg_error(c, v, "unknown template '%s'", name);
        free(name);
        return rc;
    }
    free(name);
    r->s->family = (enum chat_family)f;
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
    if (s && !strcmp(s, "user")) r->t->role = CHAT_ROLE_USER;
    else if (s && !strcmp(s, "assistant")) r->t->role = CHAT_ROLE_ASSISTANT;
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
    return read_u64(c, v, k->name, &r->t->params.seed);
}

/* A parameter value, bit-exact (floats read with strtof). Any finite value is accepted: the
 * sampler treats out-of-range values as "off", and a file natter wrote must read back. */
static int read_param(ycfg *c, const yaml_node_t *v, const char *name, sampler_params *p)
{
    const sp_def *d = NULL;
    for (size_t i = 0; i < N_SP; i++)
        if (!strcmp(sp_defs[i].name, name)) d = &sp_defs[i];
    if (!d) return ycfg_error(c, v, "unknown parameter '%s'", name);
    if (v->type != YAML_SCALAR_NODE || v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
        ycfg_is_null(v))
        return ycfg_error(c, v, "'%s' must be a number, not %s", name,
                          v->type == YAML_SCALAR_NODE && !ycfg_is_null(v) ? "a quoted string"
                                                                          : ycfg_kind(v));
    const char *txt = sval(v);
    char *end = NULL;
    errno = 0;
    if (d->kind == SP_FLOAT) {
        float f = strtof(txt, &end);
        if (!txt[0] || *end || errno == ERANGE || !isfinite(f))
            return ycfg_error(c, v, "'%s': '%s' is not a number", name, txt);
        memcpy((char *)p + d->off, &f, sizeof f);
    } else if (d->kind == SP_INT) {
        long x = strtol(txt, &end, 10);
        if (!txt[0] || *end || errno == ERANGE || x < INT32_MIN || x > INT32_MAX)
            return ycfg_error(c, v, "'%s': '%s' is not a whole number", name, txt);
        int32_t i32 = (int32_t)x;
        memcpy((char *)p + d->off, &i32, sizeof i32);
    } else {
        return read_u64(c, v, name, &p->seed);
    }
    return NT_OK;
}

static int h_params(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    if (v->type != YAML_MAPPING_NODE)
        return ycfg_error(c, v, "'params' must be a mapping, not %s", ycfg_kind(v));
    int rc = NT_OK;
    bool seen[N_SP] = {0};
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = ycfg_node(c, p->key), *vn = ycfg_node(c, p->value);
        if (!kn || !vn) continue;
        const char *name = kn->type == YAML_SCALAR_NODE ? sval(kn) : "";
        size_t i = 0;
        while (i < N_SP && strcmp(sp_defs[i].name, name)) i++;
        if (i == N_SP || sp_defs[i].kind == SP_SEED) {
            const char *cands[N_SP];
            for (size_t j = 0; j < N_SP - 1; j++) cands[j] = sp_defs[j].name;
            const char *sug = ycfg_suggest(name, cands, N_SP - 1);
            rc = sug ? ycfg_error(c, kn, "unknown parameter '%s' (did you mean '%s'?)", name, sug)
                     : ycfg_error(c, kn, "unknown parameter '%s'", name);
            continue;
        }
        if (seen[i]) {
            rc = ycfg_error(c, kn, "duplicate parameter '%s'", name);
            continue;
        }
        seen[i] = true;
        if (read_param(c, vn, name, &r->t->params) != NT_OK) rc = NT_ERR_FORMAT;
    }
    for (size_t i = 0; i < N_SP; i++)
        if (!seen[i] && sp_defs[i].kind != SP_SEED)
            rc = ycfg_error(c, v, "'params' is missing '%s'", sp_defs[i].name);
    return rc;
}

/* One change: {at: INDEX, param: NAME, value: V}. */
typedef struct rd_change {
    long at;
    char *param;
    yaml_node_t *value;
} rd_change;

static int h_ch_at(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return ycfg_read_long(c, v, k->name, 0, 1L << 30, &((rd_change *)obj)->at);
}
static int h_ch_param(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
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
        size_t pi = 0;
        while (pi < N_SP && strcmp(sp_defs[pi].name, ch.param)) pi++;
        if (pi == N_SP) {
            const char *cands[N_SP];
            for (size_t j = 0; j < N_SP; j++) cands[j] = sp_defs[j].name;
            const char *sug = ycfg_suggest(ch.param, cands, N_SP);
            rc = sug ? ycfg_error(c, it, "unknown parameter '%s' (did you mean '%s'?)", ch.param, sug)
                     : ycfg_error(c, it, "unknown parameter '%s'", ch.param);
            free(ch.param);
            continue;
        }
        /* The value lands in its own field of a scratch snapshot; session_fix_changes lays
         * the changes over the start parameters once the whole message is read (params may
         * come after changes). */
        rd_pend *pd = &r->pend[r->n_pend];
        pd->at = (int32_t)ch.at;
        pd->pi = pi;
        memset(&pd->val, 0, sizeof pd->val);
        int vrc = sp_defs[pi].kind == SP_SEED ? read_u64(c, ch.value, "value", &pd->val.seed)
                                               : read_param(c, ch.value, ch.param, &pd->val);
        if (vrc != NT_OK) rc = NT_ERR_FORMAT;
        else r->n_pend++;
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
    sampler_params cur = t->params;
    size_t out = 0;
    for (size_t i = 0; i < r->n_pend; i++) {
        const sp_def *d = &sp_defs[r->pend[i].pi];
        memcpy((char *)&cur + d->off, (const char *)&r->pend[i].val + d->off,
               d->kind == SP_SEED ? sizeof(uint64_t) : 4);
        if (out > 0 && t->changes[out - 1].index == r->pend[i].at)
            t->changes[out - 1].params = cur;
        else
            t->changes[out++] = (chat_change){r->pend[i].at, cur};
    }
    t->n_changes = out;
    return NT_OK;
}

static int h_stop(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    r->have_stop = true;
    if (v->type != YAML_SEQUENCE_NODE)
        return ycfg_error(c, v, "'stop' must be a list of strings, not %s", ycfg_kind(v));
    size_t m = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (m > WORKER_MAX_STOP)
        return ycfg_error(c, v, "'stop' holds at most %d strings", WORKER_MAX_STOP);
    for (size_t i = 0; i < m; i++) {
        yaml_node_t *it = ycfg_node(c, v->data.sequence.items.start[i]);
        char *str = NULL;
        if (!it || read_text(c, it, "stop", &str) != NT_OK) return NT_ERR_FORMAT;
        size_t sl = strlen(str);
        if (sl == 0 || sl >= WORKER_STOP_LEN) {
            free(str);
            return ycfg_error(c, it, "each item of 'stop' must have 1 to %d bytes",
                              WORKER_STOP_LEN - 1);
        }
        memcpy(r->t->stop[i], str, sl + 1);
        free(str);
    }
    return NT_OK;
}

static int h_end(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    const char *s = v->type == YAML_SCALAR_NODE ? sval(v) : "";
    for (size_t i = 0; i < sizeof end_names / sizeof *end_names; i++)
        if (end_names[i] && !strcmp(s, end_names[i])) {
            r->t->end = (enum worker_end)i;
            return NT_OK;
        }
    if (!strcmp(s, END_STOP_STRING)) {
        r->t->end = WEND_EOG;
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

static int h_tlong(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    rd *r = obj;
    assistant_key(r, v);
    long x;
    if (ycfg_read_long(c, v, k->name, 0, 1L << 30, &x) != NT_OK) return NT_ERR_FORMAT;
    if (!strcmp(k->name, "max_tokens")) r->t->max_tokens = (int32_t)x;
    else if (!strcmp(k->name, "prompt_tokens")) r->t->n_prompt = (int32_t)x;
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

static const ycfg_key message_keys[] = {
    {.name = "role", .fn = h_role, .required = true},
    {.name = "time", .fn = h_mtime},
    {.name = "text", .fn = h_text, .required = true},
    {.name = "seed", .fn = h_seed},
    {.name = "params", .fn = h_params},
    {.name = "changes", .fn = h_changes},
    {.name = "end", .fn = h_end},
    {.name = "error", .fn = h_error},
    {.name = "stop", .fn = h_stop},
    {.name = "max_tokens", .fn = h_tlong},
    {.name = "token_count", .fn = h_tlong},
    {.name = "tokens_per_sec", .fn = h_tdouble},
    {.name = "prompt_tokens", .fn = h_tlong},
    {.name = "prompt_sec", .fn = h_tdouble},
    {.name = "gen_sec", .fn = h_tdouble},
    {.name = "context_first", .fn = h_tlong},
    {.name = "prompt_length", .fn = h_tlong},
    {.name = "tokens", .fn = h_tokens},
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
    if (!s->turns) return ycfg_error(c, v, "out of memory");
    int rc = NT_OK;
    for (size_t i = 0; i < m; i++) {
        yaml_node_t *it = ycfg_node(c, v->data.sequence.items.start[i]);
        chat_turn *t = &s->turns[s->n_turns++];
        t->role = (enum chat_role)-1;
        rd mr = {.s = s, .t = t};
        int mrc = it ? ycfg_map(c, it, message_keys, &mr, YCFG_NO_SET, "a message")
                     : NT_ERR_FORMAT;
        if (mrc != NT_OK) {
            free(mr.pend);
            rc = NT_ERR_FORMAT;
            continue;
        }
        if (!t->text) t->text = strdup("");
        if (!t->text) return ycfg_error(c, it, "out of memory");
        t->len = strlen(t->text);
        t->cap = t->len + 1;
        enum chat_role want = i % 2 == 0 ? CHAT_ROLE_USER : CHAT_ROLE_ASSISTANT;
        if (t->role != CHAT_ROLE_ASSISTANT || t->role != want) {
            free(mr.pend);
            mr.pend = NULL;
        }
        if (t->role != want) {
            rc = ycfg_error(c, it, "message %zu must be %s (questions and answers alternate, "
                                   "a question first)",
                            i + 1, want == CHAT_ROLE_USER ? "a question (role: user)"
                                                          : "an answer (role: assistant)");
            continue;
        }
        if (t->role == CHAT_ROLE_USER) {
            if (mr.n_turn_keys)
                rc = ycfg_error(c, mr.assistant_key, "only answers (role: assistant) have "
                                                     "sampling records");
            continue;
        }
        t->complete = true;
        t->n_gen = (int32_t)t->tokens.n;
        /* Written by natter before stop strings were recorded: the template's own. The
         * marker is resolved once the template is known (session_read_doc). */
        if (!mr.have_stop) t->stop[0][0] = '\x01';
        if (!mr.have_seed) rc = ycfg_error(c, it, "missing required key 'seed' in an answer");
        if (!mr.have_tokens) rc = ycfg_error(c, it, "missing required key 'tokens' in an answer");
        if (mr.have_count && (size_t)mr.token_count != t->tokens.n)
            rc = ycfg_error(c, it, "'token_count' is %ld but 'tokens' holds %zu ids",
                            mr.token_count, t->tokens.n);
        if (t->first > i)
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
    for (size_t i = 0; i < s->n_turns; i++)
        if (s->turns[i].stop[0][0] == '\x01') {
            memset(s->turns[i].stop, 0, sizeof s->turns[i].stop);
            if (!s->raw && s->family == CHAT_PLAIN) strcpy(s->turns[i].stop[0], "\nUser:");
        }
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
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        ycfg_diag_add(diag, "%s: cannot open: %s", name, strerror(errno));
        if (fd >= 0) close(fd);
        return NT_ERR_IO;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > SESSION_MAX_FILE) {
        ycfg_diag_add(diag, "%s: %s", name,
                      S_ISREG(st.st_mode) ? "file too large for a session (over 256 MiB)"
                                          : "not a regular file");
        close(fd);
        return NT_ERR_IO;
    }
    size_t n = (size_t)st.st_size, got = 0;
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

/* ======================================================================== saving ===== */

static char *str_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

/* fsync of the folder holding path, so the rename itself is durable. */
static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int session_save(session *s, const char *path, nt_err *err)
{
    struct stat st;
    bool own = s->path && !strcmp(s->path, path);
    if (!own && stat(path, &st) == 0) {
        ycfg_diag d = {0};
        session *old = NULL;
        int lrc = session_load(&old, path, NULL, &d);
        session_free(old);
        ycfg_diag_free(&d);
        if (lrc != NT_OK)
            return nt_err_set(err, NT_ERR_INVALID,
                              "%s: exists and is not a session natter can read: not replaced",
                              path);
    }
    size_t len;
    char *text = session_to_yaml(s, &len);
    if (!text) return nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
    char *tmp = str_join(path, ".tmpXXXXXX");
    int rc = NT_OK, fd = -1;
    if (!tmp) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        rc = nt_err_set(err, NT_ERR_IO, "%s: cannot create a temporary file: %s", path,
                        strerror(errno));
        goto out;
    }
    fchmod(fd, 0600);
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = nt_err_set(err, NT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = nt_err_set(err, NT_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
        goto out;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) {
        rc = nt_err_set(err, NT_ERR_IO, "%s: close failed: %s", path, strerror(errno));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        rc = nt_err_set(err, NT_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
        goto out;
    }
    free(tmp);
    tmp = NULL;
    fsync_dir_of(path); /* best effort: some file systems refuse fsync on folders */
    if (!own) {
        char *p = strdup(path);
        if (p) {
            free(s->path);
            s->path = p;
        }
    }
out:
    if (fd >= 0) close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    free(text);
    return rc;
}

/* ============================================================ sessions folder ===== */

char *session_dir(void)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    if (xdg && xdg[0] == '/') return str_join(xdg, "/natter/sessions");
    const char *home = getenv("HOME");
    if (home && home[0]) return str_join(home, "/.local/state/natter/sessions");
    return NULL;
}

int session_dir_make(nt_err *err)
{
    char *dir = session_dir();
    if (!dir) return nt_err_set(err, NT_ERR_IO, "no sessions folder: set HOME or XDG_STATE_HOME");
    int rc = NT_OK;
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char save = *p;
            *p = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
                rc = nt_err_set(err, NT_ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
                break;
            }
            *p = save;
            if (!save) break;
        }
    }
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
        char *p1 = str_join(dir, "/");
        char *path = p1 ? str_join(p1, de->d_name) : NULL;
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
            e->turns = (s->n_turns + 1) / 2;
            e->first = xstrdup(s->n_turns ? s->turns[0].text : "");
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
        char *a = str_join(dir, "/"), *b = a ? str_join(a, name) : NULL;
        char *p = b ? str_join(b, ".yaml") : NULL;
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
        char *a = str_join(dir, "/"), *p = a ? str_join(a, de->d_name) : NULL;
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
        path = str_join(dir, name);
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
        if (t->role == CHAT_ROLE_ASSISTANT && t->complete) return true;
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
    rc = session_save(s, path, &err);
    if (rc == NT_OK) snprintf(msg, cap, "saved to %s", path);
    else snprintf(msg, cap, "cannot save: %s", err.msg);
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
    bool same = old && old->model.hash == ns->model.hash;
    enum chat_family fam = chat_get_family(c);
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
    snprintf(note, sizeof note, "loaded %s (%zu messages)%s%s%s", path, ns->n_turns,
             same || !old ? "" : "; it was recorded with ",
             same || !old ? "" : (ns->model.file ? ns->model.file : "another model"),
             same || !old ? "" : ", so new answers will differ");
    if (old) {
        session_model m = old->model;
        memset(&old->model, 0, sizeof old->model);
        session_model_release(&ns->model);
        ns->model = m;
        free(ns->persona);
        ns->persona = old->persona;
        old->persona = NULL;
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
        while (((unsigned char)s[i] & 0xC0) == 0x80) i++;
        chars++;
    }
    for (size_t k = 0; k < i; k++) {
        unsigned char ch = (unsigned char)s[k];
        strbuf_put(b, ch < 0x20 ? " " : s + k, 1);
    }
    if (s[i]) strbuf_puts(b, "...");
}

char *session_cmd_list(void)
{
    session_entry *v = NULL;
    int n = session_list(&v);
    if (n < 0) return NULL;
    strbuf b = {0};
    if (n == 0) {
        char *dir = session_dir();
        strbuf_printf(&b, "no saved sessions in %s\n", dir ? dir : "(no folder)");
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

/* ======================================================================= export ===== */

char *session_export_md(const session *s)
{
    strbuf b = {0};
    char tbuf[32];
    session_format_time(s->created, tbuf);
    strbuf_printf(&b, "# natter session, %s\n\n", tbuf);
    strbuf_printf(&b, "- model: %s", s->model.file ? s->model.file : "?");
    if (s->model.arch && s->model.arch[0]) strbuf_printf(&b, " (%s)", s->model.arch);
    strbuf_puts(&b, "\n");
    if (s->persona) strbuf_printf(&b, "- persona: %s\n", s->persona);
    strbuf_printf(&b, "- template: %s\n", s->raw ? "none (raw)" : chat_family_name(s->family));
    if (s->system && s->system[0]) {
        strbuf_puts(&b, "\n## System\n\n");
        strbuf_puts(&b, s->system);
        strbuf_puts(&b, "\n");
    }
    for (size_t i = 0; i < s->n_examples; i++) {
        strbuf_puts(&b, s->examples[i].role == CHAT_ROLE_ASSISTANT ? "\n## Example answer\n\n"
                                                              : "\n## Example question\n\n");
        strbuf_puts(&b, s->examples[i].text ? s->examples[i].text : "");
        strbuf_puts(&b, "\n");
    }
    if (s->greeting) {
        strbuf_puts(&b, "\n## Assistant (greeting)\n\n");
        strbuf_puts(&b, s->greeting);
        strbuf_puts(&b, "\n");
    }
    for (size_t i = 0; i < s->n_turns; i++) {
        const chat_turn *t = &s->turns[i];
        bool ans = t->role == CHAT_ROLE_ASSISTANT;
        strbuf_puts(&b, ans ? "\n## Assistant\n\n" : "\n## User\n\n");
        strbuf_puts(&b, t->text ? t->text : "");
        strbuf_puts(&b, "\n");
        if (ans) {
            strbuf_printf(&b, "\n*seed %llu, %zu tokens", (unsigned long long)t->params.seed,
                      t->tokens.n);
            if (t->gen_sec > 0) strbuf_printf(&b, ", %.1f tokens/s", (double)t->n_gen / t->gen_sec);
            if (t->n_changes)
                strbuf_printf(&b, ", %zu live change%s", t->n_changes,
                              t->n_changes == 1 ? "" : "s");
            strbuf_puts(&b, "*\n");
        }
    }
    return strbuf_take(&b, NULL);
}

char *session_export_json(const session *s)
{
    json_writer w = {0};
    w.pretty = true;
    json_w_begin_array(&w);
    if (s->system && s->system[0]) {
        json_w_begin_object(&w);
        json_w_key(&w, "role");
        json_w_string(&w, "system");
        json_w_key(&w, "content");
        json_w_string(&w, s->system);
        json_w_end_object(&w);
    }
    /* The fixed part as the model read it: the examples, then the greeting. */
    for (size_t i = 0; i < s->n_examples; i++) {
        json_w_begin_object(&w);
        json_w_key(&w, "role");
        json_w_string(&w, s->examples[i].role == CHAT_ROLE_ASSISTANT ? "assistant" : "user");
        json_w_key(&w, "content");
        json_w_string(&w, s->examples[i].text ? s->examples[i].text : "");
        json_w_end_object(&w);
    }
    if (s->greeting) {
        json_w_begin_object(&w);
        json_w_key(&w, "role");
        json_w_string(&w, "assistant");
        json_w_key(&w, "content");
        json_w_string(&w, s->greeting);
        json_w_end_object(&w);
    }
    for (size_t i = 0; i < s->n_turns; i++) {
        json_w_begin_object(&w);
        json_w_key(&w, "role");
        json_w_string(&w, s->turns[i].role == CHAT_ROLE_ASSISTANT ? "assistant" : "user");
        json_w_key(&w, "content");
        json_w_string(&w, s->turns[i].text ? s->turns[i].text : "");
        json_w_end_object(&w);
    }
    json_w_end_array(&w);
    size_t len;
    char *out = json_writer_finish(&w, &len);
    if (!out) return NULL;
    char *o2 = realloc(out, len + 2);
    if (!o2) {
        free(out);
        return NULL;
    }
    o2[len] = '\n';
    o2[len + 1] = '\0';
    return o2;
}

int session_export_file(const session *s, const char *format, const char *path, nt_err *err)
{
    bool json = !strcmp(format, "json");
    if (!json && strcmp(format, "md") && strcmp(format, "markdown"))
        return nt_err_set(err, NT_ERR_INVALID, "'%s' is not md or json", format);
    char *text = json ? session_export_json(s) : session_export_md(s);
    if (!text) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    int rc = ycfg_write_atomic(path, text, strlen(text), true, err);
    free(text);
    return rc;
}
