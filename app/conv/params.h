/* params.h — the sampling parameters, defined once.
 *
 * PARAM_LIST below is the one table of every parameter a user can set: its names, where its
 * value lives, the range it accepts, the span and steps of its slider and its help line. Every
 * place that reads, checks or shows a parameter goes through it: /set (app/tui/tui.c), the
 * sliders and the change marks (app/tui/view_panel.c, view_history.c), personas
 * (app/conv/persona.c), sessions (app/conv/session_*.c) and the command line and its help
 * (app/cmd/cli.c). So a range is the same everywhere, and a new sampler is one row here plus
 * its field in the engine's nt_sampler_params.
 *
 * The rule (natter(1), natter-persona(5)): each parameter accepts one range wherever it is
 * set. A slider shows a narrower, comfortable span of it; a value set outside that span (by
 * /set, a persona, a session or an option) is used as it is and shown as it is, the knob at
 * the end of the track. Each parameter has one name, spelt with hyphens (top-k) on the command
 * line, in /set and in session files, and with underscores (top_k) in persona files like their
 * other keys; the other spelling is read too, with a note (file:line in files). */
#ifndef NATTER_APP_PARAMS_H
#define NATTER_APP_PARAMS_H

#include "natter.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every parameter's value: the engine's sampler parameters and the app's answer limit. */
typedef struct param_values {
    nt_sampler_params sp;
    int32_t max_tokens; /* 0 = no limit: until the model stops or the context is full */
} param_values;

/* How a value is stored (and read from text). */
enum param_kind {
    PARAM_FLOAT, /* float; read as a number, range-checked as the float it becomes */
    PARAM_INT,   /* int32_t; a whole number */
    PARAM_U64    /* uint64_t (the seed); 0 to 2^64-1, also in hex (0x...) */
};

/* The table. One row per parameter, in the order sessions write them:
 *   X(ID, NAME, YAML, ALIAS, SHORT, KIND, FIELD, LO, HI, SPAN_LO, SPAN_HI, FINE, COARSE,
 *     LABEL, ARG, HELP)
 * NAME   the name on the command line (--NAME), in /set and in session files
 * YAML   the key in a persona's `sampling:` mapping
 * ALIAS  another name read without a note everywhere (NULL: none)
 * SHORT  the short option letter, 0 = none
 * FIELD  the member of param_values that holds it
 * LO HI  the range accepted everywhere (PARAM_U64: the whole uint64_t; LO HI unused)
 * SPAN_LO SPAN_HI FINE COARSE  the slider: its span and its steps (arrow, Shift+arrow);
 *        FINE 0 = no slider; SPAN_HI < 0 = the context size
 * LABEL  the short label on the slider and in the marks of live changes
 * ARG HELP  the option's value name and help line (the default is appended from
 *        nt_sampler_default_params, the engine's defaults). */
#define PARAM_LIST(X)                                                                              \
    X(TEMP, "temp", "temperature", "temperature", 0, PARAM_FLOAT, sp.temperature, 0, 10,         \
      0, 2, 0.05, 0.25, "temp", "X", "temperature, 0 = greedy")                                    \
    X(TOP_K, "top-k", "top_k", NULL, 0, PARAM_INT, sp.top_k, 0, 1000000,                         \
      0, 200, 1, 10, "top-k", "N", "keep the N likeliest tokens, 0 = off")                         \
    X(TOP_P, "top-p", "top_p", NULL, 0, PARAM_FLOAT, sp.top_p, 0, 1,                              \
      0, 1, 0.01, 0.1, "top-p", "X", "nucleus sampling, 1 = off")                                  \
    X(MIN_P, "min-p", "min_p", NULL, 0, PARAM_FLOAT, sp.min_p, 0, 1,                              \
      0, 1, 0.01, 0.1, "min-p", "X", "drop tokens below X times the top one")                     \
    X(REPEAT_PENALTY, "repeat-penalty", "repeat_penalty", NULL, 0, PARAM_FLOAT,                   \
      sp.repeat_penalty, 0.01, 10, 0.5, 2, 0.01, 0.1, "repeat",                                   \
      "X", "penalise recent tokens, 1 = off, below 1 favours them")                               \
    X(REPEAT_LAST_N, "repeat-last-n", "repeat_last_n", NULL, 0, PARAM_INT, sp.repeat_last_n,     \
      -1, 1000000, 0, 0, 0, 0, "rep-n", "N", "window of the penalties, -1 = all, 0 = off")        \
    X(PRESENCE_PENALTY, "presence-penalty", "presence_penalty", NULL, 0, PARAM_FLOAT,             \
      sp.presence_penalty, -2, 2, 0, 2, 0.05, 0.25, "pres", "X",                                  \
      "subtract X from tokens seen, 0 = off")                                                      \
    X(FREQUENCY_PENALTY, "frequency-penalty", "frequency_penalty", NULL, 0, PARAM_FLOAT,          \
      sp.frequency_penalty, -2, 2, 0, 2, 0.05, 0.25, "freq", "X",                                 \
      "subtract X per time a token was seen, 0 = off")                                             \
    X(DRY_MULTIPLIER, "dry-multiplier", "dry_multiplier", NULL, 0, PARAM_FLOAT,                   \
      sp.dry_multiplier, 0, 100, 0, 2, 0.05, 0.25, "dry", "X",                                    \
      "DRY: penalise tokens that would extend a repeat, 0 = off")                                  \
    X(DRY_BASE, "dry-base", "dry_base", NULL, 0, PARAM_FLOAT, sp.dry_base, 1, 100,                \
      1, 4, 0.05, 0.25, "dry-bas", "X", "DRY: the penalty grows by X per extra repeated token")   \
    X(DRY_ALLOWED_LENGTH, "dry-allowed-length", "dry_allowed_length", NULL, 0, PARAM_INT,         \
      sp.dry_allowed_length, 0, 1000000, 1, 10, 1, 2, "dry-len", "N",                              \
      "DRY: repeats of up to N tokens go free")                                                    \
    X(TOP_N_SIGMA, "top-n-sigma", "top_n_sigma", "top-nsigma", 0, PARAM_FLOAT, sp.top_n_sigma,   \
      0, 100, 0, 5, 0.05, 0.5, "nsigma", "X",                                                      \
      "keep tokens within X standard deviations of the top logit, 0 = off")                        \
    X(TYPICAL_P, "typical-p", "typical_p", "typical", 0, PARAM_FLOAT, sp.typical_p, 0, 1,         \
      0, 1, 0.01, 0.1, "typical", "X", "keep the most typical tokens up to mass X, 1 = off")      \
    X(XTC_THRESHOLD, "xtc-threshold", "xtc_threshold", NULL, 0, PARAM_FLOAT, sp.xtc_threshold,    \
      0, 1, 0, 0.5, 0.01, 0.05, "xtc-thr", "X",                                                    \
      "XTC: a top choice is a token at least this likely (above 0.5 = off)")                       \
    X(XTC_PROBABILITY, "xtc-probability", "xtc_probability", NULL, 0, PARAM_FLOAT,                \
      sp.xtc_probability, 0, 1, 0, 1, 0.01, 0.1, "xtc-p", "X",                                     \
      "XTC: chance per token of removing all top choices but the least likely, 0 = off")          \
    X(MIROSTAT_TAU, "mirostat-tau", "mirostat_tau", "mirostat-ent", 0, PARAM_FLOAT,               \
      sp.mirostat_tau, 0, 100, 0, 10, 0.1, 1, "miro-t", "X",                                       \
      "Mirostat v2: target surprise in bits (replaces the filters), 0 = off")                      \
    X(MIROSTAT_ETA, "mirostat-eta", "mirostat_eta", "mirostat-lr", 0, PARAM_FLOAT,                \
      sp.mirostat_eta, 0, 1, 0, 1, 0.01, 0.1, "miro-e", "X",                                       \
      "Mirostat v2: how fast it corrects towards the target")                                      \
    X(BEAMS, "beams", "beams", NULL, 0, PARAM_INT, sp.beams, 1, 64, 1, 8, 1, 1, "beams", "N",     \
      "beam search with N beams (from the next answer on), 1 = sampling")                         \
    X(LENGTH_PENALTY, "length-penalty", "length_penalty", NULL, 0, PARAM_FLOAT,                   \
      sp.length_penalty, 0, 10, 0, 2, 0.05, 0.25, "len-pen", "X",                                 \
      "beam search: divide a beam's log-probability by its length^X")                              \
    X(SEED, "seed", "seed", NULL, 's', PARAM_U64, sp.seed, 0, 0, 0, 0, 0, 0, "seed", "N",         \
      "random seed (default: random; --verbose prints it)")                                        \
    X(MAX_TOKENS, "max-tokens", "max_tokens", NULL, 'n', PARAM_INT, max_tokens, 0, 16777216,     \
      16, -1, 16, 256, "max-tok", "N", "answer at most N tokens, 0 = until the model stops")

#define PARAM_ENUM_(id, ...) PARAM_##id,
enum param_id { PARAM_LIST(PARAM_ENUM_) PARAM_COUNT };
#undef PARAM_ENUM_

/* The parameters natter gained with its newer samplers (issue 18): a session's `params:` may
 * leave them out (files written before have none; writers leave out those at the engine's
 * default, so a file that does not use them reads in older natter too). */
#define PARAM_NEWER                                                                                \
    ((1u << PARAM_DRY_MULTIPLIER) | (1u << PARAM_DRY_BASE) | (1u << PARAM_DRY_ALLOWED_LENGTH) |    \
     (1u << PARAM_TOP_N_SIGMA) | (1u << PARAM_TYPICAL_P) | (1u << PARAM_XTC_THRESHOLD) |           \
     (1u << PARAM_XTC_PROBABILITY) | (1u << PARAM_MIROSTAT_TAU) | (1u << PARAM_MIROSTAT_ETA) |     \
     (1u << PARAM_BEAMS) | (1u << PARAM_LENGTH_PENALTY))

/* The number of sliders: the rows with a FINE step (a constant the compiler folds). */
#define PARAM_SLIDER_(id, n, y, a, s, k, f, lo, hi, slo, shi, fine, ...) +((fine) > 0)
#define PARAM_N_SLIDERS (0 PARAM_LIST(PARAM_SLIDER_))

typedef struct param_def {
    enum param_id id;
    const char *name, *yaml, *alias;
    char shrt;
    enum param_kind kind;
    size_t off; /* offsetof(param_values, FIELD) */
    double lo, hi;
    double span_lo, span_hi, fine, coarse;
    const char *label, *arg, *help;
} param_def;

extern const param_def param_defs[PARAM_COUNT];

/* Whether the value lives in nt_sampler_params (the rest are the app's, such as max-tokens). */
static inline bool param_is_sampler(const param_def *d)
{
    return d->off < sizeof(nt_sampler_params);
}

/* Which spelling a place uses: NAME (command line, /set, sessions) or YAML (personas). */
enum param_form { PARAM_FORM_NAME, PARAM_FORM_YAML };

/* The parameter spelt s: its NAME, YAML or ALIAS spelling, with '_' and '-' interchangeable,
 * in any case, after leading dashes ("--top-k"). NULL when none. *other (may be NULL) is set
 * when s is neither form's spelling nor the alias exactly, i.e. deserves a note naming the
 * spelling of form (param_spelling). */
const param_def *param_lookup(const char *s, enum param_form form, bool *other);
/* The spelling of d in form. */
const char *param_spelling(const param_def *d, enum param_form form);
/* The spellings of form, for did-you-mean suggestions: cands[PARAM_COUNT], filled in table
 * order (sampler_only: only the parameters in nt_sampler_params). Returns how many. */
size_t param_spellings(enum param_form form, bool sampler_only, const char **cands);

/* Reads text as d's value into v (only d's field changes), by util/num.h's rule for numbers.
 * On failure err->msg says what is wrong without naming the parameter ("'7x' is not a
 * number", "'1.5' is out of range (0 to 1)", "'-1' is not a whole number") and v is
 * unchanged. NT_OK or NT_ERR_INVALID. A float is stored as strtof reads it, so every value
 * param_format writes reads back exactly. */
int param_parse(const param_def *d, const char *text, param_values *v, nt_err *err);
/* Writes d's value in v as the shortest text param_parse reads back to the same value. */
void param_format(const param_def *d, const param_values *v, char *buf, size_t cap);

/* d's value as a double (the sliders; a seed loses its low bits). */
double param_get(const param_def *d, const param_values *v);
/* Sets d's value from a double (rounded for whole numbers, clamped to d's range). */
void param_set(const param_def *d, param_values *v, double x);
/* Copies d's field from src to dst; compares it. */
void param_copy(const param_def *d, param_values *dst, const param_values *src);
bool param_equal(const param_def *d, const param_values *a, const param_values *b);

/* `/set NAME VALUE`: looks NAME up in the NAME form and reads VALUE into v. On success *d
 * (may be NULL) is the parameter and note (cap bytes, may be NULL) holds "" or a note about the
 * spelling ("'top_k' read as 'top-k'"). On failure err->msg is "unknown parameter 'x'" or
 * param_parse's message. */
int param_set_text(param_values *v, const char *name, const char *value, const param_def **d,
                   char *note, size_t cap, nt_err *err);

/* ---- named decoding strategies (the chat's strategy picker, F10 and /strategy) ---- */

/* A preset is the persona's own values with some parameters set over them, written as
 * "NAME=VALUE ..." in the table's spellings (read by param_set_text, so its ranges hold).
 * The seed and max-tokens are never part of one. */
typedef struct param_preset {
    const char *name;    /* "greedy", "beam-4", ... */
    const char *set;     /* what it sets over the persona's values ("" for "persona") */
    const char *help;    /* one line for people */
} param_preset;

#define PARAM_N_PRESETS 7
extern const param_preset param_presets[PARAM_N_PRESETS];

/* The preset called name (case-insensitive; "beam4" and "beam" read as "beam-4"), or NULL. */
const param_preset *param_preset_find(const char *name);
/* *out = base with the preset's settings over it. NT_OK; NT_ERR_INVALID with err filled if
 * the preset's text is wrong (a defect: test_params reads every preset). */
int param_preset_apply(const param_preset *pr, const nt_sampler_params *base,
                       nt_sampler_params *out, nt_err *err);
/* *out = base with the settings of set over it: "NAME=VALUE" items (param_set_text's names,
 * ranges checked) separated by spaces or commas ("temp=0.2,top-k=5"); sampler parameters
 * only (the presets' text, /ab's sides). NT_OK; NT_ERR_INVALID with err->msg as
 * param_set_text says it, or "'beam': no '=' (NAME=VALUE)", *out then unchanged. */
int param_apply_set(const char *set, const nt_sampler_params *base, nt_sampler_params *out,
                    nt_err *err);

/* ---- in YAML files (personas, sessions): errors and notes go through yamlcfg ---- */

struct ycfg;
struct yaml_node_s;
/* The mask of every parameter, for `allowed` below. */
#define PARAM_ALL ((1u << PARAM_COUNT) - 1)
/* Reads value node n (a plain number) as d's value into v; key is the name as written, for
 * messages: "'top_p': '1.5' is out of range (0 to 1)", "'top_p' must be a number, not a quoted
 * string". NT_OK or NT_ERR_FORMAT (reported). */
int param_read_value(struct ycfg *c, const struct yaml_node_s *n, const param_def *d,
                     const char *key, param_values *v);
/* The parameter spelt s (at node n) among those of allowed (bits 1u << id): NULL after an
 * error ("unknown parameter 'x' (did you mean 'y'?)"), and a note when s is another spelling
 * than form's ("'top-k' read as 'top_k'"). */
const param_def *param_read_name(struct ycfg *c, const struct yaml_node_s *n, const char *s,
                                 enum param_form form, unsigned allowed);
/* Reads a mapping of parameters (a persona's `sampling:`, a session answer's `params:`):
 * each key a parameter of allowed in any spelling (param_read_name), given once, with a
 * value param_read_value accepts. The bits of the parameters read are ORed into *seen (may
 * be NULL). what names the mapping in messages. Every problem is reported; NT_OK or
 * NT_ERR_FORMAT. */
int param_read_map(struct ycfg *c, struct yaml_node_s *map, enum param_form form,
                   unsigned allowed, param_values *v, unsigned *seen, const char *what);

#endif
