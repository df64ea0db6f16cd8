/* params.c — the sampling-parameter table (PARAM_LIST in params.h) and the few operations
 * every place that reads or shows a parameter shares: lookup by any spelling, reading a value
 * from text with its range checked, the exact text of a value, field access by row, and the
 * reading of parameters in YAML files (personas, sessions). */
#include "params.h"
#include "util/num.h"
#include "util/yamlcfg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PARAM_ROW_(ID, NAME, YAML, ALIAS, SHORT, KIND, FIELD, LO, HI, SLO, SHI, FINE, COARSE,    \
                   LABEL, ARG, HELP)                                                              \
    [PARAM_##ID] = {PARAM_##ID, NAME, YAML, ALIAS, SHORT, KIND, offsetof(param_values, FIELD),   \
                    LO, HI, SLO, SHI, FINE, COARSE, LABEL, ARG, HELP},
const param_def param_defs[PARAM_COUNT] = {PARAM_LIST(PARAM_ROW_)};
#undef PARAM_ROW_

/* ---------------------------------------------------------------------- spellings ----- */

/* a and b equal ignoring case, with '_' and '-' the same. */
static bool same_word(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
        if (x != y && !(x >= 'A' && x <= 'Z' && x + 32 == y) && !(y >= 'A' && y <= 'Z' && y + 32 == x))
            return false;
    }
    return *a == *b;
}

const char *param_spelling(const param_def *d, enum param_form form)
{
    return form == PARAM_FORM_YAML ? d->yaml : d->name;
}

const param_def *param_lookup(const char *s, enum param_form form, bool *other)
{
    while (*s == '-') s++;
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        const param_def *d = &param_defs[i];
        if (!same_word(s, d->name) && !same_word(s, d->yaml) && !(d->alias && same_word(s, d->alias)))
            continue;
        if (other)
            *other = strcmp(s, param_spelling(d, form)) != 0 && !(d->alias && !strcmp(s, d->alias));
        return d;
    }
    return NULL;
}

size_t param_spellings(enum param_form form, bool sampler_only, const char **cands)
{
    size_t n = 0;
    for (size_t i = 0; i < PARAM_COUNT; i++)
        if (!sampler_only || param_is_sampler(&param_defs[i]))
            cands[n++] = param_spelling(&param_defs[i], form);
    return n;
}

/* ------------------------------------------------------------------ values as text ----- */

int param_parse(const param_def *d, const char *text, param_values *v, nt_err *err)
{
    /* What a number is and how a bad one is worded are util/num.h's, as for every option. */
    char *field = (char *)v + d->off;
    if (d->kind == PARAM_U64) {
        uint64_t u;
        int rc = num_u64(text, UINT64_MAX, &u, err);
        if (rc == NT_OK) memcpy(field, &u, sizeof u);
        return rc;
    }
    if (d->kind == PARAM_INT) {
        int32_t i;
        int rc = num_int32(text, (int32_t)d->lo, (int32_t)d->hi, &i, err);
        if (rc == NT_OK) memcpy(field, &i, sizeof i);
        return rc;
    }
    double x;
    int rc = num_double(text, d->lo, d->hi, &x, err);
    if (rc != NT_OK) return rc;
    /* The value is strtof's: strtod then a cast can round twice, and a value written from a
     * float (param_format) must read back as exactly that float. */
    float f = strtof(text, NULL);
    memcpy(field, &f, sizeof f);
    return NT_OK;
}

void param_format(const param_def *d, const param_values *v, char *buf, size_t cap)
{
    const char *field = (const char *)v + d->off;
    if (d->kind == PARAM_U64) {
        uint64_t u;
        memcpy(&u, field, sizeof u);
        snprintf(buf, cap, "%llu", (unsigned long long)u);
    } else if (d->kind == PARAM_INT) {
        int32_t i;
        memcpy(&i, field, sizeof i);
        snprintf(buf, cap, "%d", (int)i);
    } else {
        float f;
        memcpy(&f, field, sizeof f);
        /* The shortest decimal that strtof reads back as exactly f. */
        for (int p = 1; p <= 9; p++) {
            snprintf(buf, cap, "%.*g", p, (double)f);
            if (strtof(buf, NULL) == f) break;
        }
    }
}

/* ------------------------------------------------------------------ field access ----- */

static size_t param_size(const param_def *d)
{
    return d->kind == PARAM_U64 ? sizeof(uint64_t) : d->kind == PARAM_INT ? sizeof(int32_t)
                                                                            : sizeof(float);
}

double param_get(const param_def *d, const param_values *v)
{
    const char *field = (const char *)v + d->off;
    if (d->kind == PARAM_U64) {
        uint64_t u;
        memcpy(&u, field, sizeof u);
        return (double)u;
    }
    if (d->kind == PARAM_INT) {
        int32_t i;
        memcpy(&i, field, sizeof i);
        return i;
    }
    float f;
    memcpy(&f, field, sizeof f);
    return f;
}

void param_set(const param_def *d, param_values *v, double x)
{
    char *field = (char *)v + d->off;
    if (d->kind == PARAM_U64) {
        uint64_t u = x >= 0 && x < 18446744073709551616.0 ? (uint64_t)x : 0;
        memcpy(field, &u, sizeof u);
        return;
    }
    if (!(x >= d->lo)) x = d->lo; /* NaN too */
    if (x > d->hi) x = d->hi;
    if (d->kind == PARAM_INT) {
        int32_t i = (int32_t)lround(x);
        memcpy(field, &i, sizeof i);
    } else {
        float f = (float)x;
        memcpy(field, &f, sizeof f);
    }
}

void param_copy(const param_def *d, param_values *dst, const param_values *src)
{
    memcpy((char *)dst + d->off, (const char *)src + d->off, param_size(d));
}

bool param_equal(const param_def *d, const param_values *a, const param_values *b)
{
    return memcmp((const char *)a + d->off, (const char *)b + d->off, param_size(d)) == 0;
}

int param_set_text(param_values *v, const char *name, const char *value, const param_def **dp,
                   char *note, size_t cap, nt_err *err)
{
    bool other = false;
    const param_def *d = param_lookup(name, PARAM_FORM_NAME, &other);
    if (!d) return nt_err_set(err, NT_ERR_INVALID, "unknown parameter '%s'", name);
    int rc = param_parse(d, value, v, err);
    if (rc != NT_OK) return rc;
    if (dp) *dp = d;
    if (note && cap) {
        note[0] = '\0';
        if (other) snprintf(note, cap, "'%s' read as '%s'", name, d->name);
    }
    return NT_OK;
}

/* --------------------------------------------------------------------- in YAML files ----- */

int param_read_value(ycfg *c, const yaml_node_t *n, const param_def *d, const char *key,
                     param_values *v)
{
    /* A quoted "0.8" is a string: numbers are plain scalars, as everywhere in natter's files. */
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
        ycfg_is_null(n))
        return ycfg_error(c, n, "'%s' must be a number, not %s", key,
                          n->type == YAML_SCALAR_NODE && !ycfg_is_null(n) ? "a quoted string"
                                                                          : ycfg_kind(n));
    nt_err e = {0};
    if (param_parse(d, (const char *)n->data.scalar.value, v, &e) != NT_OK)
        return ycfg_error(c, n, "'%s': %s", key, e.msg);
    return NT_OK;
}

const param_def *param_read_name(ycfg *c, const yaml_node_t *n, const char *s,
                                 enum param_form form, unsigned allowed)
{
    bool other = false;
    const param_def *d = param_lookup(s, form, &other);
    if (!d || !(allowed & (1u << d->id))) {
        const char *cands[PARAM_COUNT];
        size_t nc = 0;
        for (size_t i = 0; i < PARAM_COUNT; i++)
            if (allowed & (1u << i)) cands[nc++] = param_spelling(&param_defs[i], form);
        const char *sug = ycfg_suggest(s, cands, nc);
        /* A key in a persona's mapping, a parameter named by a session's value. */
        const char *what = form == PARAM_FORM_YAML ? "key" : "parameter";
        if (sug) ycfg_error(c, n, "unknown %s '%s' (did you mean '%s'?)", what, s, sug);
        else ycfg_error(c, n, "unknown %s '%s'", what, s);
        return NULL;
    }
    if (other) ycfg_note(c, n, "'%s' read as '%s'", s, param_spelling(d, form));
    return d;
}

int param_read_map(ycfg *c, yaml_node_t *map, enum param_form form, unsigned allowed,
                   param_values *v, unsigned *seen, const char *what)
{
    if (map->type != YAML_MAPPING_NODE)
        return ycfg_error(c, map, "%s must be a mapping (key: value lines), not %s", what,
                          ycfg_kind(map));
    int rc = NT_OK;
    size_t first_line[PARAM_COUNT] = {0};
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = ycfg_node(c, p->key), *vn = ycfg_node(c, p->value);
        if (!kn || !vn) continue;
        if (kn->type != YAML_SCALAR_NODE || ycfg_is_null(kn)) {
            rc = ycfg_error(c, kn, "keys must be plain words, not %s", ycfg_kind(kn));
            continue;
        }
        const char *key = (const char *)kn->data.scalar.value;
        const param_def *d = param_read_name(c, kn, key, form, allowed);
        if (!d) {
            rc = NT_ERR_FORMAT;
            continue;
        }
        if (first_line[d->id]) {
            rc = ycfg_error(c, kn, "duplicate key '%s' (first given on line %zu)", key,
                            first_line[d->id]);
            continue;
        }
        first_line[d->id] = kn->start_mark.line + 1;
        if (param_read_value(c, vn, d, key, v) != NT_OK) rc = NT_ERR_FORMAT;
        else if (seen) *seen |= 1u << d->id;
    }
    return rc;
}

/* ================================================================== presets ===== */

/* Each turns off what it does not use, so hopping between them is predictable. */
#define PRESET_PLAIN_ "typical-p=1 top-n-sigma=0 xtc-probability=0 dry-multiplier=0 mirostat-tau=0 beams=1"
const param_preset param_presets[PARAM_N_PRESETS] = {
    {"greedy", "temp=0 mirostat-tau=0 beams=1", "always the likeliest token"},
    {"beam-4", "beams=4", "beam search with 4 beams: the likeliest whole continuation it finds"},
    {"precise", "temp=0.3 top-k=40 top-p=0.9 min-p=0.1 " PRESET_PLAIN_,
     "low temperature, tight filters: safe, focused answers"},
    {"balanced", "temp=0.8 top-k=40 top-p=0.95 min-p=0.05 " PRESET_PLAIN_,
     "llama.cpp's defaults"},
    {"creative", "temp=1.2 top-k=0 top-p=1 min-p=0.05 typical-p=1 top-n-sigma=0 "
                 "xtc-threshold=0.1 xtc-probability=0.5 dry-multiplier=0.8 mirostat-tau=0 beams=1",
     "high temperature, XTC and DRY: surprising, less repetitive"},
    {"mirostat", "temp=1 mirostat-tau=5 mirostat-eta=0.1 beams=1",
     "Mirostat v2 keeps the surprise near 5 bits per token"},
    {"persona", "", "the persona's own values"},
};
#undef PRESET_PLAIN_

const param_preset *param_preset_find(const char *name)
{
    if (!strcasecmp(name, "beam") || !strcasecmp(name, "beam4")) name = "beam-4";
    for (size_t i = 0; i < PARAM_N_PRESETS; i++)
        if (!strcasecmp(name, param_presets[i].name)) return &param_presets[i];
    return NULL;
}

int param_apply_set(const char *set, const nt_sampler_params *base, nt_sampler_params *out,
                    nt_err *err)
{
    param_values v = {.sp = *base};
    const char *p = set;
    while (*p) {
        char item[96];
        size_t n = strcspn(p, " ,");
        if (n >= sizeof item) return nt_err_set(err, NT_ERR_INVALID, "'%.40s...': too long", p);
        memcpy(item, p, n);
        item[n] = '\0';
        p += n + (p[n] != '\0');
        if (n == 0) continue;
        char *eq = strchr(item, '=');
        if (!eq) return nt_err_set(err, NT_ERR_INVALID, "'%s': no '=' (NAME=VALUE)", item);
        *eq = '\0';
        const param_def *d = NULL;
        if (param_set_text(&v, item, eq + 1, &d, NULL, 0, err) != NT_OK) return NT_ERR_INVALID;
        if (!param_is_sampler(d))
            return nt_err_set(err, NT_ERR_INVALID, "'%s': not a sampling parameter", item);
    }
    *out = v.sp;
    return NT_OK;
}

int param_preset_apply(const param_preset *pr, const nt_sampler_params *base,
                       nt_sampler_params *out, nt_err *err)
{
    return param_apply_set(pr->set, base, out, err);
}
