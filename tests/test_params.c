/* Tests for the sampling-parameter table (app/conv/params.h): every parameter, through every
 * path that sets one — /set (param_set_text, what tui_set calls), the command line
 * (cli_parse), a persona file (persona_load) and a session file (session_parse) — accepts its
 * whole range, refuses a value just outside it with the same message, and reads the other
 * spelling (top_k for top-k, and back) with a note. The table is walked, so a new row is
 * tested without a new line here. */
#include "cmd/cli.h"
#include "conv/params.h"
#include "conv/persona.h"
#include "conv/session.h"
#include "t.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A value text just outside d's range (below: lo side), or NULL when there is none. */
static const char *outside(const param_def *d, bool below, char *buf, size_t cap)
{
    if (d->kind == PARAM_U64) return below ? "-1" : "18446744073709551616";
    if (d->kind == PARAM_INT) snprintf(buf, cap, "%ld", below ? (long)d->lo - 1 : (long)d->hi + 1);
    else snprintf(buf, cap, "%g", below ? d->lo - 1 : d->hi + 1);
    return buf;
}

/* The message every path gives for text outside d's range (written here, not taken from the
 * code under test). */
static void expected(const param_def *d, const char *text, char *buf, size_t cap)
{
    if (d->kind == PARAM_U64 && text[0] == '-')
        snprintf(buf, cap, "'%s' is not a whole number", text);
    else if (d->kind == PARAM_U64)
        snprintf(buf, cap, "'%s' is out of range (0 to 18446744073709551615)", text);
    else if (d->kind == PARAM_INT)
        snprintf(buf, cap, "'%s' is out of range (%ld to %ld)", text, (long)d->lo, (long)d->hi);
    else
        snprintf(buf, cap, "'%s' is out of range (%.15g to %.15g)", text, d->lo, d->hi);
}

/* The other spelling of s: '_' and '-' swapped; NULL when s has neither. */
static const char *swapped(const char *s, char *buf, size_t cap)
{
    if (!strpbrk(s, "-_")) return NULL;
    snprintf(buf, cap, "%s", s);
    for (char *p = buf; *p; p++) *p = *p == '-' ? '_' : *p == '_' ? '-' : *p;
    return buf;
}

/* The value of d in v as text, for comparing paths. */
static void value_of(const param_def *d, const param_values *v, char *buf, size_t cap)
{
    param_format(d, v, buf, cap);
}

/* ----------------------------------------------------------------------- the paths ----- */

/* /set NAME TEXT: NT_OK or the error message in msg; the note in note. */
static int via_set(const char *name, const char *text, param_values *v, char *msg, char *note)
{
    nt_err e = {0};
    int rc = param_set_text(v, name, text, NULL, note, 160, &e);
    snprintf(msg, 600, "%s", rc == NT_OK ? "" : e.msg);
    return rc;
}

/* natter --NAME TEXT: the status, stderr in msg, the values in *v. */
static int via_cli(const char *name, const char *text, param_values *v, char *msg)
{
    struct cli_opts o;
    cli_opts_default(&o);
    char opt[64];
    snprintf(opt, sizeof opt, "--%s", name);
    char *argv[] = {"natter", opt, (char *)text, NULL};
    char *out = NULL;
    size_t n = 0;
    FILE *err = open_memstream(&out, &n);
    int rc = cli_parse(&o, 3, argv, stdout, err);
    fclose(err);
    snprintf(msg, 600, "%s", out ? out : "");
    free(out);
    v->sp = o.params;
    v->max_tokens = o.max_tokens;
    return rc;
}

/* A persona whose sampling has KEY: TEXT: the persona (or NULL), the first diagnostic in
 * msg, the values it sets applied over *v. */
static persona *via_persona(const char *key, const char *text, param_values *v, char *msg)
{
    char path[512];
    snprintf(path, sizeof path, "%s/p.yaml", t_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fprintf(f, "name: t\nsystem: s\nsampling:\n  %s: %s\n", key, text);
    fclose(f);
    ycfg_diag d = {0};
    persona *p = persona_load(path, "t.yaml", &d);
    snprintf(msg, 600, "%s", d.n ? d.v[0] : "");
    ycfg_diag_free(&d);
    if (p) persona_apply_sampling(p, &v->sp, &v->max_tokens);
    return p;
}

/* A session whose answer has KEY TEXT: in its params (sampler parameters but the seed), as
 * its seed or as its max_tokens. NT_OK or not, the first diagnostic in msg, the values in *v. */
static int via_session(const param_def *d, const char *key, const char *text, param_values *v,
                       char *msg)
{
    char params[512] = "", seed[64] = "5", max[64] = "100";
    const param_values def = {.sp = nt_sampler_default_params()};
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        const param_def *q = &param_defs[i];
        if (!param_is_sampler(q) || q->id == PARAM_SEED) continue;
        char val[32];
        param_format(q, &def, val, sizeof val);
        size_t n = strlen(params);
        snprintf(params + n, sizeof params - n, "%s%s: %s", n ? ", " : "", q == d ? key : q->name,
                 q == d ? text : val);
    }
    if (d->id == PARAM_SEED) snprintf(seed, sizeof seed, "%s", text);
    if (d->id == PARAM_MAX_TOKENS) snprintf(max, sizeof max, "%s", text);
    char doc[2048];
    snprintf(doc, sizeof doc,
             "natter-session: 1\ncreated: 2026-01-01T00:00:00Z\nupdated: 2026-01-01T00:00:00Z\n"
             "model:\n  file: m.gguf\n  size: 10\n  hash: fnv1a64:0000000000000001\n"
             "template: plain\ncontext: 256\nmessage_count: 2\nmessages:\n"
             "  - role: user\n    text: \"hi\"\n"
             "  - role: assistant\n    text: \" hello\"\n    seed: %s\n    params: {%s}\n"
             "    max_tokens: %s\n    end: eog\n    tokens: [1, 2]\ncomplete: true\n",
             seed, params, max);
    session *s = NULL;
    ycfg_diag dg = {0};
    int rc = session_parse(&s, "s.yaml", doc, strlen(doc), &dg);
    snprintf(msg, 600, "%s", dg.n ? dg.v[0] : "");
    ycfg_diag_free(&dg);
    if (rc == NT_OK && s->n_turns == 2) {
        v->sp = s->turns[1].params;
        v->max_tokens = s->turns[1].max_tokens;
    }
    session_free(s);
    return rc;
}

/* ------------------------------------------------------------------------ the tests ----- */

/* Each end of each range is accepted by every path and lands as the same value. */
static void test_ranges_accepted(void)
{
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        const param_def *d = &param_defs[i];
        for (int end = 0; end < 2; end++) {
            char text[64], want[64], got[64], msg[600], note[160];
            if (d->kind == PARAM_U64) snprintf(text, sizeof text, "%s", end ? "18446744073709551615" : "0");
            else if (d->kind == PARAM_INT) snprintf(text, sizeof text, "%ld", (long)(end ? d->hi : d->lo));
            else snprintf(text, sizeof text, "%g", end ? d->hi : d->lo);
            param_values ref = {0};
            T_EQ_INT(param_parse(d, text, &ref, NULL), NT_OK);
            value_of(d, &ref, want, sizeof want);

            param_values v = {0};
            T_EQ_INT(via_set(d->name, text, &v, msg, note), NT_OK);
            value_of(d, &v, got, sizeof got);
            T_EQ_STR(got, want);

            v = (param_values){0};
            T_EQ_INT(via_cli(d->name, text, &v, msg), 0);
            value_of(d, &v, got, sizeof got);
            T_EQ_STR(got, want);

            v = (param_values){0};
            persona *p = via_persona(d->yaml, text, &v, msg);
            T_CHECK(p != NULL);
            if (!p) printf("  %s\n", msg);
            value_of(d, &v, got, sizeof got);
            T_EQ_STR(got, want);
            persona_free(p);

            v = (param_values){0};
            int rc = via_session(d, d->id == PARAM_MAX_TOKENS ? "max_tokens" : d->name, text, &v, msg);
            T_EQ_INT(rc, NT_OK);
            if (rc != NT_OK) printf("  %s\n", msg);
            value_of(d, &v, got, sizeof got);
            T_EQ_STR(got, want);
        }
    }
}

/* Just outside each end: every path refuses, with the same message. */
static void test_ranges_refused(void)
{
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        const param_def *d = &param_defs[i];
        for (int below = 0; below < 2; below++) {
            char buf[64], want[256], line[512], msg[600], note[160];
            const char *text = outside(d, below, buf, sizeof buf);
            expected(d, text, want, sizeof want);
            param_values v = {0};

            T_EQ_INT(via_set(d->name, text, &v, msg, note), NT_ERR_INVALID);
            T_EQ_STR(msg, want);

            T_EQ_INT(via_cli(d->name, text, &v, msg), 2);
            snprintf(line, sizeof line, "natter: --%s: %s\n", d->name, want);
            T_EQ_STR(msg, line);

            persona *p = via_persona(d->yaml, text, &v, msg);
            T_CHECK(p == NULL);
            persona_free(p);
            snprintf(line, sizeof line, "t.yaml:4:%zu: '%s': %s\n", strlen(d->yaml) + 5, d->yaml, want);
            T_CHECK(strncmp(msg, line, strlen(line)) == 0);
            if (strncmp(msg, line, strlen(line))) printf("  got %s\n  expected %s", msg, line);

            const char *key = d->id == PARAM_MAX_TOKENS ? "max_tokens" : d->name;
            T_EQ_INT(via_session(d, key, text, &v, msg), NT_ERR_FORMAT);
            snprintf(line, sizeof line, ": '%s': %s\n", key, want);
            T_CHECK(strncmp(msg, "s.yaml:", 7) == 0 && strstr(msg, line) != NULL);
            if (!strstr(msg, line)) printf("  got %s\n  expected ...%s", msg, line);
        }
    }
}

/* The other spelling: read, with a note that names it and the place's spelling. */
static void test_other_spelling(void)
{
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        const param_def *d = &param_defs[i];
        char other[64], want[256], msg[600], note[160], got[64], ref[64];
        param_values v = {0}, r = {0};
        /* In range everywhere: the table's low end. */
        char text[64];
        if (d->kind == PARAM_U64) snprintf(text, sizeof text, "7");
        else if (d->kind == PARAM_INT) snprintf(text, sizeof text, "%ld", (long)d->lo);
        else snprintf(text, sizeof text, "%g", d->lo);
        T_EQ_INT(param_parse(d, text, &r, NULL), NT_OK);
        value_of(d, &r, ref, sizeof ref);

        /* /set, the command line and sessions spell it d->name. */
        if (swapped(d->name, other, sizeof other)) {
            T_EQ_INT(via_set(other, text, &v, msg, note), NT_OK);
            snprintf(want, sizeof want, "'%s' read as '%s'", other, d->name);
            T_EQ_STR(note, want);
            value_of(d, &v, got, sizeof got);
            T_EQ_STR(got, ref);

            v = (param_values){0};
            T_EQ_INT(via_cli(other, text, &v, msg), 0);
            snprintf(want, sizeof want, "natter: note: --%s read as --%s\n", other, d->name);
            T_EQ_STR(msg, want);
            value_of(d, &v, got, sizeof got);
            T_EQ_STR(got, ref);

            if (d->id != PARAM_MAX_TOKENS && d->id != PARAM_SEED) {
                v = (param_values){0};
                T_EQ_INT(via_session(d, other, text, &v, msg), NT_OK);
                snprintf(want, sizeof want, ": note: '%s' read as '%s'\n", other, d->name);
                T_CHECK(strncmp(msg, "s.yaml:", 7) == 0 && strstr(msg, want) != NULL);
                value_of(d, &v, got, sizeof got);
                T_EQ_STR(got, ref);
            }
        }
        /* Personas spell it d->yaml; the command line's name is read too. */
        const char *pother = swapped(d->yaml, other, sizeof other);
        if (!pother && strcmp(d->name, d->yaml)) pother = d->name; /* temp for temperature */
        if (pother) {
            v = (param_values){0};
            persona *p = via_persona(pother, text, &v, msg);
            T_CHECK(p != NULL);
            snprintf(want, sizeof want, "t.yaml:4:3: note: '%s' read as '%s'\n", pother, d->yaml);
            T_CHECK(strncmp(msg, want, strlen(want)) == 0);
            if (strncmp(msg, want, strlen(want))) printf("  got %s\n  expected %s", msg, want);
            value_of(d, &v, got, sizeof got);
            T_EQ_STR(got, ref);
            persona_free(p);
        }
    }
    /* The alias is no other spelling: --temperature and /set temperature say nothing. */
    char msg[600], note[160];
    param_values v = {0};
    T_EQ_INT(via_set("temperature", "0.5", &v, msg, note), NT_OK);
    T_EQ_STR(note, "");
    T_EQ_INT(via_cli("temperature", "0.5", &v, msg), 0);
    T_EQ_STR(msg, "");
    T_CHECK(v.sp.temperature == 0.5f);
}

/* Every value a float field can hold in range is written so that it reads back exactly. */
static void test_exact_text(void)
{
    const param_def *d = &param_defs[PARAM_MIN_P];
    param_values v = {0}, w = {0};
    char buf[32];
    for (int k = 0; k <= 1000; k++) {
        v.sp.min_p = (float)k / 1000.0f + (float)k * 1e-9f;
        if (v.sp.min_p > 1) v.sp.min_p = 1;
        param_format(d, &v, buf, sizeof buf);
        T_EQ_INT(param_parse(d, buf, &w, NULL), NT_OK);
        T_CHECK(w.sp.min_p == v.sp.min_p);
    }
    /* The low end of repeat-penalty is a float a little below 0.01: still in range. */
    v.sp.repeat_penalty = 0.01f;
    param_format(&param_defs[PARAM_REPEAT_PENALTY], &v, buf, sizeof buf);
    T_EQ_INT(param_parse(&param_defs[PARAM_REPEAT_PENALTY], buf, &w, NULL), NT_OK);
    /* Not numbers. */
    T_EQ_INT(param_parse(d, "nan", &w, NULL), NT_ERR_INVALID);
    T_EQ_INT(param_parse(d, "0.5x", &w, NULL), NT_ERR_INVALID);
    T_EQ_INT(param_parse(&param_defs[PARAM_TOP_K], "1.5", &w, NULL), NT_ERR_INVALID);
}

/* The strategy presets: every one reads (its text is in the table's spellings and ranges),
 * sets what its name promises over a base, and keeps the base's other values. */
static void test_presets(void)
{
    nt_sampler_params base = nt_sampler_default_params(), p;
    base.seed = 42;
    base.repeat_penalty = 1.3f;
    nt_err e = {0};
    for (size_t i = 0; i < PARAM_N_PRESETS; i++) {
        T_EQ_INT(param_preset_apply(&param_presets[i], &base, &p, &e), NT_OK);
        T_CHECK(p.seed == 42);
        T_NEAR(p.repeat_penalty, 1.3, 1e-6); /* no preset touches the penalties */
        T_CHECK(param_preset_find(param_presets[i].name) == &param_presets[i]);
    }
    T_EQ_INT(param_preset_apply(param_preset_find("GREEDY"), &base, &p, &e), NT_OK);
    T_NEAR(p.temperature, 0.0, 0);
    T_EQ_INT(p.beams, 1);
    T_EQ_INT(param_preset_apply(param_preset_find("beam4"), &base, &p, &e), NT_OK);
    T_EQ_INT(p.beams, 4);
    T_EQ_INT(param_preset_apply(param_preset_find("creative"), &base, &p, &e), NT_OK);
    T_NEAR(p.temperature, 1.2, 1e-6);
    T_NEAR(p.xtc_probability, 0.5, 0);
    T_NEAR(p.dry_multiplier, 0.8, 1e-6);
    p.beams = 3; /* hopping on resets what the next preset does not use */
    T_EQ_INT(param_preset_apply(param_preset_find("mirostat"), &p, &p, &e), NT_OK);
    T_NEAR(p.mirostat_tau, 5.0, 0);
    T_EQ_INT(p.beams, 1);
    T_EQ_INT(param_preset_apply(param_preset_find("persona"), &base, &p, &e), NT_OK);
    const param_values pv = {.sp = p}, bv = {.sp = base};
    for (size_t i = 0; i < PARAM_COUNT; i++)
        if (param_is_sampler(&param_defs[i])) T_CHECK(param_equal(&param_defs[i], &pv, &bv));
    T_CHECK(param_preset_find("wild") == NULL);
    /* a broken preset is reported, not half applied */
    const param_preset bad = {"bad", "temp=0.5 top-q=3", ""};
    p = base;
    T_EQ_INT(param_preset_apply(&bad, &base, &p, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "unknown parameter 'top-q'");
    T_NEAR(p.temperature, base.temperature, 0);
}

int main(void)
{
    T_RUN(test_ranges_accepted);
    T_RUN(test_ranges_refused);
    T_RUN(test_other_spelling);
    T_RUN(test_exact_text);
    T_RUN(test_presets);
    return t_done();
}
