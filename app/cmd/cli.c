/* cli.c — option parsing for the chat modes and the one-shot mode (see cli.h).
 *
 * The one-shot mode is the TUI's pipeline without the screen: a chat (chat.h) builds the
 * prompt, a worker (worker.h) runs it, and the main thread prints TOKEN texts as they come. */
#include "cli.h"
#include "args.h"
#include "conv/backend.h"
#include "conv/chat.h"
#include "docs/retrieve.h"
#include "conv/params.h"
#include "conv/remote.h"
#include "util/num.h"
#include "cmds.h"
#include "model_find.h"
#include "conv/persona.h"
#include "conv/promptview.h"
#include "conv/replay.h"
#include "conv/session.h"
#include "util/datadir.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "conv/worker.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


#define CLI_DEFAULT_MODEL "models/natter-guide.gguf"

static uint64_t cli_random_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^
            ((uint64_t)getpid() << 32);
    }
    return s;
}

void cli_opts_default(struct cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_tokens = 0; /* no limit */
    o->params = nt_sampler_default_params();
    o->params.seed = cli_random_seed();
}

/* The sampling options, from the parameter table: "--NAME ARG  help (RANGE; default D)". */
/* Columns of the help: option names from 2, their text from 26, lines within 80. */
#define CLI_HELP_COL 26
#define CLI_HELP_WIDTH 80

/* Writes the words of text from column col on, wrapping onto lines indented to the help's
 * text column, and ends the line. Columns count characters, not bytes. */
static void cli_help_wrap(FILE *out, int col, const char *text)
{
    const char *p = text;
    bool first = true;
    while (*p) {
        while (*p == ' ') p++;
        const char *e = p;
        int w = 0;
        while (*e && *e != ' ') w += ((unsigned char)*e++ & 0xC0) != 0x80;
        if (e == p) break;
        if (!first && col + 1 + w > CLI_HELP_WIDTH - 1) col = fprintf(out, "\n%*s", CLI_HELP_COL - 1, "") - 2;
        col += fprintf(out, " %.*s", (int)(e - p), p) - (int)(e - p) + w;
        first = false;
        p = e;
    }
    fputc('\n', out);
}

/* The sampling parameters' options, from the one table (params.h). */
static void cli_usage_params(FILE *out)
{
    const param_values def = {.sp = nt_sampler_default_params()};
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        const param_def *d = &param_defs[i];
        char opt[48], range[64] = "", dflt[48] = "", text[512];
        if (d->shrt) snprintf(opt, sizeof opt, "-%c, --%s %s", d->shrt, d->name, d->arg);
        else snprintf(opt, sizeof opt, "    --%s %s", d->name, d->arg);
        if (d->kind == PARAM_FLOAT) snprintf(range, sizeof range, "%g to %g", d->lo, d->hi);
        else if (d->kind == PARAM_INT) snprintf(range, sizeof range, "%ld to %ld", (long)d->lo, (long)d->hi);
        /* The engine's defaults (the seed's and the limit's are said in the help). */
        if (param_is_sampler(d) && d->id != PARAM_SEED) {
            strcpy(dflt, range[0] ? "; default " : "default ");
            param_format(d, &def, dflt + strlen(dflt), sizeof dflt - strlen(dflt));
        }
        if (range[0] || dflt[0]) snprintf(text, sizeof text, "%s (%s%s)", d->help, range, dflt);
        else snprintf(text, sizeof text, "%s", d->help);
        int col = fprintf(out, "  %-23s", opt);
        if (col > CLI_HELP_COL - 1) col = fprintf(out, "\n%*s", CLI_HELP_COL - 1, "") - 1;
        cli_help_wrap(out, col, text);
    }
}

/* --template's line: the families the engine knows, from its own table. */
static void cli_usage_templates(FILE *out)
{
    char text[512] = "chat template family (default: the model's own):";
    size_t n = strlen(text);
    for (int f = 0; nt_chat_family_name((enum nt_chat_family)f) && n < sizeof text; f++)
        n += (size_t)snprintf(text + n, sizeof text - n, " %s", nt_chat_family_name((enum nt_chat_family)f));
    cli_help_wrap(out, fprintf(out, "  %-23s", "    --template NAME"), text);
}

void cli_usage(FILE *out)
{
    fputs("usage: natter [options]                 chat in the terminal (TUI)\n"
          "       natter -m MODEL -p QUESTION       answer once, streaming to stdout\n"
          "       echo QUESTION | natter -m MODEL   the same, the question from stdin\n"
          "       natter models [--api-base URL]    the models on disk (or on a server)\n"
          "       natter info MODEL                 what is inside a GGUF file\n"
          "       natter tokenize MODEL [--ids]     tokenize stdin\n"
          "       natter perplexity -m MODEL -f TEXT [--ctx N] [--threads N]\n"
          "                         [--kv-type T]\n"
          "       natter bench [-m MODEL] [--threads N] [--depth N] [--kv-type T]\n"
          "                    [--json] [--quick] [--type LIST]\n"
          "       natter replay FILE [--check] [-m MODEL] [--temp X ...]\n"
          "                                         regenerate a session\n"
          "       natter export FILE [--format md|json] [-o OUT]   export a session\n"
          "       natter --check [--model MODEL] FILE...\n"
          "                                         validate persona and theme files\n"
          "       natter import-card CARD.json [-o FILE] [--force]\n"
          "                                         a Character Card V2 as a persona\n"
          "       natter serve [-m MODEL] [--port N] [--api-key-env NAME]\n"
          "                                         an OpenAI-compatible server\n"
          "       natter train --data DIR -o MODEL [...]   train a small model\n"
          "\n"
          "options:\n"
          "  -m, --model FILE        the GGUF model, or a name natter models shows\n"
          "                          (default: " CLI_DEFAULT_MODEL ")\n"
          "  -p, --prompt TEXT       answer TEXT once and exit; '-' reads it from stdin\n"
          "      --persona NAME      system prompt, examples and sampling from\n"
          "                          prompts/NAME.yaml (or a file; default: built in)\n"
          "      --context FILE      add FILE as a context document (repeatable); one\n"
          "                          that does not fit is searched instead, as --docs\n"
          "      --docs PATH...      answer from passages of these files and folders\n"
          "                          (recursively), found for each question (repeatable)\n"
          "      --theme NAME        colour theme from themes/NAME.yaml (or a file)\n"
          "      --plain             the chat line by line in the terminal's own line\n"
          "                          editing, without the screen (as on TERM=dumb)\n"
          "      --list-personas, --list-themes   list the personas or themes found\n"
          "      --system TEXT       the system prompt (replaces the persona's)\n"
          "      --raw               feed the prompt as plain text, without a template\n"
          , out);
    cli_usage_templates(out);
    fputs("      --think on|off      the template's thinking switch (Qwen3's\n"
          "                          enable_thinking), where it has one\n"
          "      --ctx N             context length in tokens (default: the model's,\n"
          "                          at most 4096)\n"
          "      --threads N         compute threads (default: one per CPU, answers on\n"
          "                          one or all, whichever is measured faster)\n"
          "      --kv-type TYPE      the KV cache's type: f32, f16 or q8_0 (default f16)\n"
          "      --api-base URL      answer through an OpenAI-compatible server (vLLM,\n"
          "                          llama.cpp, Ollama, a hosted API), e.g.\n"
          "                          http://127.0.0.1:8080/v1; -m then names its model;\n"
          "                          a default in ~/.config/natter/config.yaml\n"
          "      --api-key-env VAR   the variable holding the API key\n"
          "                          (default: OPENAI_API_KEY)\n",
          out);
    cli_usage_params(out);
    fputs("  -v, --verbose           print the seed and the speed on stderr\n"
          "      --show-prompt[=ids] with -p: print the prompt as the model sees it (the\n"
          "                          parts' tokens, the text; =ids: each token) instead\n"
          "                          of answering\n"
          "      --resume [NAME]     continue a saved session (default: the latest)\n"
          "      --save FILE         save the conversation as a session file\n"
          "  -h, --help              this help\n"
          "      --version           natter's version\n"
          "\n"
          "See natter(1) for details.\n",
          out);
}

/* getopt_long's values of the options without a short letter; a sampling parameter's is
 * OPT_PARAM + its id. */
enum {
    OPT_SYSTEM = 256, OPT_RAW, OPT_TEMPLATE, OPT_VERSION, OPT_PERSONA, OPT_THEME, OPT_RESUME,
    OPT_SAVE, OPT_CONTEXT, OPT_DOCS, OPT_LIST_PERSONAS, OPT_LIST_THEMES, OPT_CHECK, OPT_SHOW_PROMPT,
    OPT_API_BASE, OPT_API_KEY_ENV, OPT_THINK, OPT_KV_TYPE, OPT_PLAIN, OPT_PARAM = 512
};

static const struct option cli_fixed_opts[] = {
    {"model", required_argument, NULL, 'm'},
    {"prompt", required_argument, NULL, 'p'},
    {"system", required_argument, NULL, OPT_SYSTEM},
    {"raw", no_argument, NULL, OPT_RAW},
    {"plain", no_argument, NULL, OPT_PLAIN},
    {"template", required_argument, NULL, OPT_TEMPLATE},
    {"ctx", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, 't'},
    {"kv-type", required_argument, NULL, OPT_KV_TYPE},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"persona", required_argument, NULL, OPT_PERSONA},
    {"theme", required_argument, NULL, OPT_THEME},
    {"resume", optional_argument, NULL, OPT_RESUME},
    {"save", required_argument, NULL, OPT_SAVE},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"docs", required_argument, NULL, OPT_DOCS},
    {"list-personas", no_argument, NULL, OPT_LIST_PERSONAS},
    {"list-themes", no_argument, NULL, OPT_LIST_THEMES},
    {"check", no_argument, NULL, OPT_CHECK},
    {"show-prompt", optional_argument, NULL, OPT_SHOW_PROMPT},
    {"api-base", required_argument, NULL, OPT_API_BASE},
    {"api-key-env", required_argument, NULL, OPT_API_KEY_ENV},
    {"think", required_argument, NULL, OPT_THINK},
};
#define CLI_N_FIXED (sizeof cli_fixed_opts / sizeof cli_fixed_opts[0])
/* Each parameter as --NAME, --YAML (top_k) and its alias (--temperature). */
#define CLI_N_OPTS (CLI_N_FIXED + 3 * PARAM_COUNT + 1)

/* The long options: the fixed ones, then the table's (names from static storage). The short
 * option string goes into shorts, '+' first: options stop at the first other argument, which
 * is an error. */
static void cli_build_opts(struct option *lo, char *shorts)
{
    size_t n = 0, k = 0;
    shorts[k++] = '+';
    for (size_t i = 0; i < CLI_N_FIXED; i++) {
        lo[n++] = cli_fixed_opts[i];
        int v = cli_fixed_opts[i].val;
        if (v < 256) {
            shorts[k++] = (char)v;
            if (cli_fixed_opts[i].has_arg == required_argument) shorts[k++] = ':';
        }
    }
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        const param_def *d = &param_defs[i];
        const char *names[3] = {d->name, d->yaml, d->alias};
        for (int j = 0; j < 3; j++) {
            bool dup = !names[j] || (j > 0 && !strcmp(names[j], d->name)) ||
                       (j == 2 && !strcmp(names[j], d->yaml));
            if (!dup) lo[n++] = (struct option){names[j], required_argument, NULL, OPT_PARAM + (int)i};
        }
        if (d->shrt) {
            shorts[k++] = d->shrt;
            shorts[k++] = ':';
        }
    }
    lo[n] = (struct option){0};
    shorts[k] = '\0';
}

static void cli_family_list(FILE *f)
{
    for (int i = 0; i < NT_CHAT_FAMILY_COUNT_; i++) {
        const char *n = nt_chat_family_name((enum nt_chat_family)i);
        if (n) fprintf(f, "%s%s", i ? ", " : "", n);
    }
}

int cli_parse(struct cli_opts *o, int argc, char **argv, FILE *out, FILE *err)
{
    struct option lo[CLI_N_OPTS];
    char shorts[64];
    cli_build_opts(lo, shorts);
    /* The subcommands' option loop (args.h): its messages, with "natter" as the program. */
    args a = args_start("natter", argc, argv, shorts, lo);
    a.err = err;
    for (int c; (c = args_next(&a)) != -1;) {
        if (c == '?') return 2;
        const char *val = a.value;
        const char *name = a.name; /* the option as messages name it: --top-k, -n */
        int li = a.li;
        for (size_t i = 0; li < 0 && i < PARAM_COUNT; i++)
            if (param_defs[i].shrt && c == param_defs[i].shrt) c = OPT_PARAM + (int)i; /* -n, -s */
        if (c >= OPT_PARAM) {
            const param_def *d = &param_defs[c - OPT_PARAM];
            param_values v = {.sp = o->params, .max_tokens = o->max_tokens};
            nt_err e = {0};
            if (param_parse(d, val, &v, &e) != NT_OK) {
                args_report(&a, e.msg);
                return 2;
            }
            o->params = v.sp;
            o->max_tokens = v.max_tokens;
            o->params_given |= 1u << d->id;
            if (li >= 0 && strcmp(lo[li].name, d->name) && !(d->alias && !strcmp(lo[li].name, d->alias)))
                text_printf(err, "natter: note: %s read as --%s\n", name, d->name);
            continue;
        }
        switch (c) {
        case 'm': o->model = val; break;
        case 'p': o->prompt = val; break;
        case OPT_SYSTEM: o->system = val; break;
        case OPT_RAW: o->raw = true; break;
        case OPT_PLAIN: o->plain = true; break;
        case OPT_TEMPLATE:
            if (nt_chat_family_from_name(val) < 0) {
                text_printf(err, "natter: %s: unknown template '", name);
                text_fput_escaped(err, val, strlen(val), false);
                text_printf(err, "' (one of: ");
                cli_family_list(err);
                text_printf(err, ")\n");
                return 2;
            }
            o->template_name = val;
            break;
        case 'c': {
            /* The range said one way whatever is wrong with the number: 0 or 16 to 2^20. */
            long x = -1;
            nt_err ce = {0};
            int r = num_long(val, 0, 1 << 20, &x, &ce);
            if (r == NT_OK && (x == 0 || x >= 16)) {
                o->n_ctx = (int32_t)x;
                break;
            }
            if (r == NT_OK || strstr(ce.msg, "out of range"))
                snprintf(ce.msg, sizeof ce.msg, "'%s' is out of range (16 to %d, or 0)", val, 1 << 20);
            return args_report(&a, ce.msg);
        }
        case 't':
            if (args_int(&a, 0, 512, &o->n_threads)) return 2;
            break;
        case 'v': o->verbose = true; break;
        case 'h': cli_usage(out); return 1;
        case OPT_VERSION: fprintf(out, "natter " NATTER_VERSION "\n"); return 1;
        case OPT_PERSONA: o->persona = val; break;
        case OPT_THEME: o->theme = val; break;
        case OPT_RESUME:
            /* `--resume` alone (or before another option) means the latest session;
             * `--resume NAME` takes the next argument as well as `--resume=NAME`. */
            if (!val && optind < argc && argv[optind][0] != '-') val = argv[optind++];
            o->resume = val ? val : "";
            break;
        case OPT_SAVE: o->save = val; break;
        case OPT_THINK: {
            enum chat_think th;
            if (chat_think_parse(val, &th) != NT_OK || th == CHAT_THINK_DEFAULT) {
                text_printf(err, "natter: --think: '%s' must be on or off\n", val);
                return 2;
            }
            o->think = (int)th;
            break;
        }
        case OPT_CONTEXT:
            if (o->n_context >= CLI_MAX_CONTEXT) {
                text_printf(err, "natter: %s: at most %d files\n", name, CLI_MAX_CONTEXT);
                return 2;
            }
            o->context[o->n_context++] = val;
            break;
        case OPT_DOCS:
            /* `--docs README.md man/`: the paths up to the next option. */
            for (;;) {
                if (o->n_docs >= CLI_MAX_DOCS) {
                    fprintf(err, "natter: %s: at most %d paths\n", name, CLI_MAX_DOCS);
                    return 2;
                }
                o->docs[o->n_docs++] = val;
                if (optind >= argc || argv[optind][0] == '-') break;
                val = argv[optind++];
            }
            break;
        case OPT_LIST_PERSONAS: o->list_personas = true; break;
        case OPT_LIST_THEMES: o->list_themes = true; break;
        case OPT_SHOW_PROMPT:
            if (val && strcmp(val, "ids")) {
                text_printf(err, "natter: --show-prompt: '%s' is not ids (--show-prompt=ids lists the "
                             "tokens)\n", val);
                return 2;
            }
            o->show_prompt = val ? 2 : 1;
            break;
        case OPT_CHECK:
            /* getopt has permuted nothing ('+'): the --check just read is argv[optind - 1]. */
            o->check_at = optind - 1;
            return 3;
        case OPT_API_BASE: o->api_base = val; break;
        case OPT_API_KEY_ENV: o->api_key_env = val; break;
        case OPT_KV_TYPE:
            if (args_kv_type(&a, &o->kv_type)) return 2;
            o->kv_type_given = true;
            break;
        }
    }
    if (args_operands(&a, 0)) return 2;
    o->seed_given = o->params_given & (1u << PARAM_SEED);
    o->max_tokens_given = o->params_given & (1u << PARAM_MAX_TOKENS);
    return 0;
}

int cli_resolve_model(struct cli_opts *o)
{
    static char path[4096];
    if (o->model) return 0;
    if (access(CLI_DEFAULT_MODEL, R_OK) == 0) {
        o->model = CLI_DEFAULT_MODEL;
        return 0;
    }
    snprintf(path, sizeof path, "%s/%s", datadir(), CLI_DEFAULT_MODEL);
    if (access(path, R_OK) == 0) {
        o->model = path;
        return 0;
    }
    return -1;
}

int cli_find_model(struct cli_opts *o)
{
    static char path[4096];
    if (!o->model) return 0;
    char *found = model_find_arg("natter", "-m", o->model);
    if (!found) return 2;
    if (strlen(found) >= sizeof path) {
        text_printf(stderr, "natter: -m: %s: the path is too long\n", found);
        free(found);
        return 2;
    }
    strcpy(path, found);
    o->model = path;
    free(found);
    return 0;
}

int cli_open_persona(struct cli_opts *o, bool strict)
{
    ycfg_diag d = {0};
    bool named = o->persona && *o->persona;
    persona *p = named ? persona_open(o->persona, &d) : persona_builtin();
    if (!p && named && !strict && d.n > 0) {
        /* The TUI falls back to the built-in persona and shows why. */
        free(o->persona_errors);
        o->persona_errors = ycfg_diag_join(&d);
        ycfg_diag_clear(&d);
        p = persona_builtin();
    }
    if (!p) {
        for (size_t i = 0; i < d.n; i++) text_printf(stderr, "%s\n", d.v[i]);
        if (d.n == 0) text_printf(stderr, "natter: out of memory\n");
        else text_printf(stderr, "natter: --persona %s: the persona cannot be used\n", o->persona);
        ycfg_diag_free(&d);
        return 1;
    }
    /* A persona that loaded may still have notes (a key in another spelling): on stderr in
     * the one-shot mode, in the history in the TUI. */
    if (d.n > 0 && strict)
        for (size_t i = 0; i < d.n; i++) text_printf(stderr, "%s\n", d.v[i]);
    else if (d.n > 0) {
        free(o->persona_notes);
        o->persona_notes = ycfg_diag_join(&d);
    }
    ycfg_diag_free(&d);
    for (int i = 0; i < o->n_context; i++) {
        nt_err e = {0};
        if (persona_add_context_file(p, o->context[i], &e) != NT_OK) {
            text_printf(stderr, "natter: --context: %s\n", e.msg);
            persona_free(p);
            return 2;
        }
    }
    o->loaded = p;
    return 0;
}

void cli_persona_model(struct cli_opts *o)
{
    static char path[4096];
    const persona *p = o->loaded;
    if (o->model || !p || !p->model || !p->model[0]) return;
    if (strchr(p->model, '/')) {
        if (access(p->model, R_OK) == 0) o->model = p->model;
    } else {
        snprintf(path, sizeof path, "models/%s", p->model);
        if (access(path, R_OK) != 0)
            snprintf(path, sizeof path, "%s/models/%s", datadir(), p->model);
        if (access(path, R_OK) == 0) o->model = path;
    }
    if (!o->model)
        text_printf(stderr, "natter: the persona's model %s was not found; using the default\n",
                p->model);
}

void cli_persona_params(const struct cli_opts *o, const persona *p, nt_sampler_params *sp,
                        int32_t *max_tokens)
{
    *sp = o->params;
    *max_tokens = o->max_tokens;
    if (!p) return;
    persona_apply_sampling(p, sp, o->max_tokens_given ? NULL : max_tokens);
    /* What the command line said wins over the persona (copied exactly). */
    param_values v = {.sp = *sp, .max_tokens = *max_tokens};
    const param_values given = {.sp = o->params, .max_tokens = o->max_tokens};
    for (size_t i = 0; i < PARAM_COUNT; i++)
        if (param_is_sampler(&param_defs[i]) && (o->params_given & (1u << i)))
            param_copy(&param_defs[i], &v, &given);
    *sp = v.sp;
}

void cli_session_params(const struct cli_opts *o, const nt_sampler_params *last,
                        nt_sampler_params *sp)
{
    param_values v = {.sp = *sp};
    const param_values from = {.sp = *last};
    for (size_t i = 0; i < PARAM_COUNT; i++)
        if (param_is_sampler(&param_defs[i]) && i != PARAM_SEED && !(o->params_given & (1u << i)))
            param_copy(&param_defs[i], &v, &from);
    *sp = v.sp;
}

static bool cli_persona_stops_fit(const persona *p);

int cli_chat_persona_rules(chat *c, const persona *p)
{
    if (chat_set_stops(c, (const char *const *)p->stop.v, p->stop.n) != NT_OK) return NT_ERR_NOMEM;
    chat_set_memory(c, p->memory);
    return NT_OK;
}

bool cli_chat_think(chat *c, int want, const char *who, char *msg, size_t cap)
{
    if (want == CHAT_THINK_DEFAULT || chat_set_think(c, (enum chat_think)want) == NT_OK) return true;
    if (chat_get_raw(c))
        snprintf(msg, cap, "%s %s: with --raw there is no chat template, so no thinking switch", who,
                 chat_think_name((enum chat_think)want));
    else
        snprintf(msg, cap, "%s %s: this model's chat template has no thinking switch (natter sets "
             "the enable_thinking that Qwen3-style ChatML templates read); its answers are as "
             "its template makes them", who, chat_think_name((enum chat_think)want));
    return false;
}

bool cli_persona_think(chat *c, const persona *p, char *msg, size_t cap)
{
    char who[160];
    msg[0] = 0;
    if (!p || !p->think) return true;
    snprintf(who, sizeof who, "persona '%s': think:", p->name);
    return cli_chat_think(c, p->think, who, msg, cap);
}

int cli_chat_persona(chat *c, const persona *p, const char *model_name, const char *system,
                     int model_family, nt_err *err)
{
    persona_vars v = {NULL, model_name, NULL};
    persona with_system;
    /* persona_load refuses such files; a persona built otherwise is refused here, before the
     * chat changes, rather than cut. */
    if (!cli_persona_stops_fit(p))
        return nt_err_set(err, NT_ERR_INVALID, "persona '%s': more than %d stop strings, or one "
                          "empty or longer than %d bytes", p->name, CHAT_MAX_STOPS,
                          GEN_STOP_LEN - 1);
    if (system) {
        /* --system replaces the persona's prompt; its documents and examples stay. */
        with_system = *p;
        with_system.system = (char *)system;
        p = &with_system;
    }
    persona_msgs m = {0};
    char *greeting = NULL;
    int rc = persona_render(p, &v, NULL, 0, &m, err);
    if (rc != NT_OK) return rc;
    if (p->greeting && !(greeting = persona_greeting_text(p, &v))) goto nomem;
    if (chat_set_system(c, "") != NT_OK) goto nomem;
    rc = chat_set_prefix(c, m.v, m.n);
    if (rc == NT_ERR_INVALID) {
        rc = nt_err_set(err, rc, "persona '%s': the conversation is busy", p->name);
        goto done;
    }
    if (rc != NT_OK || chat_set_greeting(c, greeting) != NT_OK) goto nomem;
    if (cli_chat_persona_rules(c, p) != NT_OK) goto nomem;
    if (model_family >= 0) chat_set_family(c, persona_family(p, (enum nt_chat_family)model_family));
    rc = NT_OK;
    goto done;
nomem:
    rc = nt_err_set(err, NT_ERR_NOMEM, "persona '%s': out of memory", p->name);
done:
    free(greeting);
    persona_msgs_free(&m);
    return rc;
}

/* False when the persona has more stop strings than a job holds (CHAT_MAX_STOPS next to the
 * template's) or one empty or longer than GEN_STOP_LEN - 1 bytes. persona_load never returns
 * such a persona; one built otherwise is refused whole rather than cut. */
static bool cli_persona_stops_fit(const persona *p)
{
    return p->stop.n <= CHAT_MAX_STOPS &&
           gen_stops_valid((const char *const *)p->stop.v, p->stop.n);
}

/* The model's file name without its folder, for {{model}}. */
static const char *cli_model_base(const char *path)
{
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : path;
}

int32_t cli_kv_type(const struct cli_opts *o)
{
    return o->kv_type_given ? o->kv_type : NT_KV_TYPE_DEFAULT;
}

nt_model *cmd_load_model(const char *prog, const char *path, int32_t n_ctx, int32_t n_threads,
                         int32_t kv_type)
{
    nt_model_params mp = nt_model_default_params();
    mp.n_ctx = n_ctx;
    mp.n_threads = n_threads;
    mp.kv_type = kv_type;
    nt_model *m = NULL;
    nt_err e = {0};
    if (nt_model_load(&m, path, &mp, &e) != NT_OK) {
        text_printf(stderr, "%s: %s\n", prog, e.msg);
        return NULL;
    }
    return m;
}

nt_model *cli_load_model(const struct cli_opts *o)
{
    return cmd_load_model("natter", o->model, o->n_ctx, o->n_threads, cli_kv_type(o));
}

int cli_load_config(backend_cfg *cfg)
{
    char *path = backend_config_path();
    if (!path) {
        memset(cfg, 0, sizeof *cfg);
        return 0; /* no HOME and no XDG_CONFIG_HOME: no config file to read */
    }
    ycfg_diag d = {0};
    int rc = backend_config_load(path, cfg, &d);
    for (size_t i = 0; i < d.n; i++) text_printf(stderr, "natter: %s\n", d.v[i]);
    if (rc != NT_OK) text_printf(stderr, "natter: %s: the config file cannot be used\n", path);
    ycfg_diag_free(&d);
    free(path);
    return rc == NT_OK ? 0 : 2;
}

bool cli_config_chooses(const struct cli_opts *o)
{
    return o->config && (o->config->api_base || o->config->model);
}

bool cli_model_is_file(const char *m)
{
    struct stat st;
    return m && stat(m, &st) == 0 && S_ISREG(st.st_mode);
}

bool cli_same_base(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    while (na > 0 && a[na - 1] == '/') na--;
    while (nb > 0 && b[nb - 1] == '/') nb--;
    return na == nb && !strncmp(a, b, na);
}

void cli_replay_server(const backend_cfg *cfg, const char *key_env, const char *base, replay_opts *ro)
{
    ro->api_key_env = key_env;
    if (!ro->api_key_env && cfg && cfg->api_base && base && cli_same_base(cfg->api_base, base))
        ro->api_key_env = cfg->api_key_env;
    if (cfg) {
        ro->connect_ms = (long)(cfg->connect_timeout * 1000);
        ro->idle_ms = (long)(cfg->idle_timeout * 1000);
    }
}

void cli_pick_backend(struct cli_opts *o)
{
    const backend_cfg *src[2] = {o->loaded && o->loaded->backend.api_base ? &o->loaded->backend : NULL,
                                 o->config};
    if (!o->api_base && !cli_model_is_file(o->model))
        for (int i = 0; i < 2 && !o->api_base; i++)
            if (src[i] && src[i]->api_base) o->api_base = src[i]->api_base;
    if (!o->api_base) {
        if (!o->model && o->config && o->config->model) o->model = o->config->model;
        return;
    }
    /* A file's model and key variable go with its server only: a key is never sent to a
     * server its file did not name. */
    for (int i = 0; i < 2; i++) {
        if (!src[i] || !src[i]->api_base || !cli_same_base(src[i]->api_base, o->api_base)) continue;
        if (!o->model) o->model = src[i]->model;
        if (!o->api_key_env) o->api_key_env = src[i]->api_key_env;
    }
}

worker *cli_start_worker(const struct cli_opts *o)
{
    nt_err e = {0};
    worker *w = NULL;
    if (o->api_base) {
        remote *r = NULL;
        remote_cfg rc = {.base = o->api_base, .model = o->model, .key_env = o->api_key_env,
                         .family = o->template_name ? nt_chat_family_from_name(o->template_name) : -1};
        /* Timeouts in seconds: the config file's, then the environment's (natter(1),
         * ENVIRONMENT). */
        if (o->config && o->config->connect_timeout > 0)
            rc.connect_ms = (long)(o->config->connect_timeout * 1000);
        if (o->config && o->config->idle_timeout > 0)
            rc.idle_ms = (long)(o->config->idle_timeout * 1000);
        const char *ct = getenv("NATTER_API_CONNECT_TIMEOUT"), *it = getenv("NATTER_API_IDLE_TIMEOUT");
        if (ct && atof(ct) > 0) rc.connect_ms = (long)(atof(ct) * 1000);
        if (it && atof(it) > 0) rc.idle_ms = (long)(atof(it) * 1000);
        if (remote_init(&r, &rc, &e) == NT_OK) w = worker_init_remote(r, &e);
    } else {
        nt_model *m = cli_load_model(o);
        if (!m) return NULL; /* the loader said why */
        w = worker_init(m, &e);
    }
    if (!w) text_printf(stderr, "natter: %s\n", e.msg);
    return w;
}

enum nt_chat_family cli_worker_family(const struct cli_opts *o, const worker *w)
{
    int f = o->template_name ? nt_chat_family_from_name(o->template_name) : -1;
    return f >= 0 ? (enum nt_chat_family)f : nt_chat_detect_gguf(worker_gguf(w));
}

bool cli_ctx_warning(const nt_model_info *mi, char *buf, size_t cap)
{
    if (mi->n_ctx <= mi->n_ctx_train) return false;
    snprintf(buf, cap, "the context (%d tokens) is longer than the %d the model was trained for: "
             "past that its answers are likely gibberish", (int)mi->n_ctx, (int)mi->n_ctx_train);
    return true;
}

void cli_write_text(FILE *f, const char *s, size_t n, bool tty)
{
    if (tty) text_fput(f, s, n);
    else fwrite(s, 1, n, f);
}

/* True when stdin is a pipe, a socket or a file (`cat f | natter -p Q`, `natter -p Q < f`):
 * text to read. A terminal, /dev/null and a closed stdin are not. */
static bool cli_stdin_piped(void)
{
    struct stat st;
    if (isatty(STDIN_FILENO) || fstat(STDIN_FILENO, &st) != 0) return false;
    return S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode);
}

/* Reads all of stdin (malloc'd, NUL-terminated); NULL with a message on failure. */
static char *cli_read_stdin(void)
{
    strbuf b = {0};
    if (strbuf_read(&b, stdin)) return strbuf_take(&b, NULL);
    if (b.oom)
        text_printf(stderr, "natter: out of memory reading stdin\n");
    else
        text_printf(stderr, "natter: cannot read stdin: %s\n", strerror(errno));
    strbuf_free(&b);
    return NULL;
}

/* The passages an answer was given, on stderr under it (stdout keeps the answer alone). */
static void cli_print_sources(const chat_turn *t)
{
    bool tty = isatty(STDERR_FILENO);
    char *notice = chat_turn_notice(t);
    if (notice) {
        /* Words from the question, which may hold anything: written as text. */
        fputs("natter: ", stderr);
        cli_write_text(stderr, notice, strlen(notice), tty);
        fputs("\n", stderr);
        free(notice);
        return;
    }
    if (!t || t->n_sources == 0) {
        fputs("natter: no passage of the documents matched the question\n", stderr);
        return;
    }
    fputs("sources:\n", stderr);
    for (size_t i = 0; i < t->n_sources; i++) {
        char label[1200];
        chat_source_label(&t->sources[i], label, sizeof label);
        fprintf(stderr, "  [%zu] ", i + 1);
        cli_write_text(stderr, label, strlen(label), tty);
        fprintf(stderr, " (score %.2f)\n", t->sources[i].score);
    }
}

int cli_oneshot(const struct cli_opts *o)
{
    int status = 1;
    char *input = NULL;
    worker *w = NULL;
    chat *c = NULL;
    session *sess = NULL; /* --resume/--save (app/conv/session.h) */
    persona *bare = NULL;  /* the document's holder when no persona was asked for */
    char *doc = NULL;      /* -p QUESTION with piped text: that text, as the document */
    char *raw_q = NULL;    /* --raw: the document, then the question, as one text */
    docs *dx = NULL;      /* --docs, the persona's documents (app/docs/retrieve.h) */
    char *intro = NULL;   /* the text before retrieved passages */
    char *moved[CLI_MAX_CONTEXT] = {0};
    size_t n_moved = 0;
    nt_err e = {0};

    const char *question = o->prompt;
    if (question && strcmp(question, "-") && cli_stdin_piped()) {
        /* `cat file | natter -p "Summarize this"`: the question, with the piped text as its
         * document (as llm and aichat do), rather than stdin silently ignored. */
        if (!(doc = cli_read_stdin())) goto out;
        if (!doc[strspn(doc, " \t\r\n")]) {
            free(doc);
            doc = NULL;
        }
    }
    if (!question || strcmp(question, "-") == 0) {
        input = cli_read_stdin();
        if (!input) goto out;
        /* `echo q | natter` ends the question with a newline nobody meant to ask about. */
        size_t n = strlen(input);
        while (n > 0 && (input[n - 1] == '\n' || input[n - 1] == '\r')) input[--n] = '\0';
        question = input;
    }
    if (!question[0]) {
        text_printf(stderr, "natter: the prompt is empty\n");
        status = 2;
        goto out;
    }
    w = cli_start_worker(o);
    if (!w) goto out;
    char ctx_warn[256];
    if (cli_ctx_warning(worker_model_info(w), ctx_warn, sizeof ctx_warn))
        text_printf(stderr, "natter: warning: %s\n", ctx_warn);
    enum nt_chat_family fam = cli_worker_family(o, w);
    int32_t n_ctx = worker_model_info(w)->n_ctx; /* 0 for a remote server: its own business */
    c = chat_init(worker_tokenizer(w), fam, n_ctx);
    if (!c || chat_set_system(c, o->system) != NT_OK) {
        text_printf(stderr, "natter: out of memory\n");
        goto out;
    }
    chat_set_think_switch(c, nt_chat_think_switch_gguf(worker_gguf(w)));
    /* The persona: its fixed part (system prompt, documents, examples, greeting), stop
     * strings, template and sampling defaults (options given on the command line win). */
    nt_sampler_params params = o->params;
    int32_t max_tokens = o->max_tokens;
    const persona *use = o->loaded;
    if (doc && o->raw) {
        /* No template, no system message: the document goes before the question. */
        size_t n = strlen(doc) + strlen(question) + 3;
        if (!(raw_q = malloc(n))) goto nomem;
        snprintf(raw_q, n, "%s\n\n%s", doc, question);
        question = raw_q;
    } else if (doc) {
        /* A persona's documents gain it; without a persona it is the system message's only
         * content (the documents' instruction and the text), nothing else added. */
        if (!use) {
            if (!(bare = persona_builtin())) goto nomem;
            free(bare->system);
            if (!(bare->system = strdup(""))) goto nomem;
            use = bare;
        }
        if (persona_add_context_text((persona *)use, "standard input", doc, &e) != NT_OK) goto nomem;
    }
    if (use && !o->raw) { /* --raw: plain text, no persona text either */
        if (cli_chat_persona(c, use, cli_model_base(o->model), o->system,
                             o->template_name ? -1 : (int)fam, &e) != NT_OK) {
            text_printf(stderr, "natter: %s\n", e.msg);
            goto out;
        }
        fam = chat_get_family(c);
        char note[1024];
        if (cli_context_fit(c, o->loaded, cli_model_base(o->model), o->system,
                            o->template_name ? -1 : (int)fam, moved, CLI_MAX_CONTEXT, &n_moved,
                            note, sizeof note, &e) != NT_OK) {
            text_printf(stderr, "natter: %s\n", e.msg);
            goto out;
        }
        if (n_moved) {
            fputs("natter: --context ", stderr);
            cli_write_text(stderr, note, strlen(note), isatty(STDERR_FILENO));
            fputc('\n', stderr);
        }
    }
    if (o->loaded) cli_persona_params(o, o->loaded, &params, &max_tokens);
    chat_set_raw(c, o->raw);
    char think_msg[512];
    if (!o->raw && !cli_persona_think(c, o->loaded, think_msg, sizeof think_msg))
        text_printf(stderr, "natter: warning: %s\n", think_msg);
    if (o->raw && o->n_docs)
        fprintf(stderr, "natter: --docs: not used with --raw (no prompt to place passages in)\n");
    if (!o->raw) {
        dx = cli_docs_open(o, o->loaded, moved, n_moved, false, &e);
        if (!dx && e.code != NT_OK) {
            text_printf(stderr, "natter: --docs: %s\n", e.msg);
            goto out;
        }
        persona_vars pv = {NULL, cli_model_base(o->model), NULL};
        persona *pb = o->loaded ? NULL : persona_builtin();
        intro = dx ? persona_docs_intro(o->loaded ? o->loaded : pb, &pv) : NULL;
        persona_free(pb);
        if (dx && !intro) {
            fprintf(stderr, "natter: out of memory\n");
            goto out;
        }
    }
    /* Sessions (app/cmd/cmd_session.c): --resume puts the saved conversation in first. */
    if (o->resume) {
        int st = cmd_session_resume(o, c, w, &sess);
        if (st != 0) {
            status = st;
            goto out;
        }
        nt_sampler_params last;
        if (session_last_params(sess, &last)) cli_session_params(o, &last, &params);
    }
    if (!cli_chat_think(c, o->think, "--think", think_msg, sizeof think_msg))
        text_printf(stderr, "natter: warning: %s\n", think_msg);
    if (chat_add_user(c, question) != NT_OK) {
        text_printf(stderr, "natter: out of memory\n");
        goto out;
    }
    if (o->show_prompt) {
        /* The prompt as the model would read it, instead of the answer. */
        char *view = promptview_text(c, worker_tokenizer(w), persona_instruction(use), o->show_prompt == 2, &e);
        if (!view) {
            text_printf(stderr, "natter: %s\n", e.msg);
            goto out;
        }
        cli_write_text(stdout, view, strlen(view), isatty(fileno(stdout)));
        free(view);
        status = fflush(stdout) == 0 ? 0 : 1;
        goto out;
    }
    if (o->verbose)
        text_printf(stderr, "natter: seed %llu, template %s\n", (unsigned long long)params.seed,
                o->raw ? "none (raw)" : nt_chat_family_name(fam));

    worker_job job;
    int32_t max = n_ctx == 0 ? max_tokens /* remote: 0 sends no limit */
                  : max_tokens <= 0 || max_tokens > n_ctx ? n_ctx : max_tokens; /* 0: no limit */
    if (dx && docs_retrieve(dx, c, intro, &e) != NT_OK) {
        text_printf(stderr, "natter: --docs: %s\n", e.msg);
        goto out;
    }
    if (chat_prepare(c, &params, max, &job, NULL, &e) != NT_OK) {
        text_printf(stderr, "natter: %s: %s\n", o->model, e.msg);
        goto out;
    }
    if (worker_submit(w, &job) != NT_OK) {
        text_printf(stderr, "natter: cannot start the answer\n");
        goto out;
    }
    bool tty = isatty(fileno(stdout));
    char last = '\n';
    bool failed = false;
    for (;;) {
        worker_event ev;
        if (!worker_wait(w, &ev, -1)) continue;
        chat_apply(c, &ev);
        const char *txt = (ev.kind == WEV_TOKEN || ev.kind == WEV_DONE) ? ev.text : NULL;
        if (txt && txt[0]) {
            cli_write_text(stdout, txt, strlen(txt), tty);
            last = txt[strlen(txt) - 1];
            fflush(stdout);
        }
        if (ev.kind == WEV_ERROR) {
            text_printf(stderr, "natter: %s\n", ev.text ? ev.text : "error");
            failed = true;
        }
        if (ev.kind == WEV_NOTE) text_printf(stderr, "natter: note: %s\n", ev.text ? ev.text : "");
        if (ev.kind == WEV_DONE) {
            if (last != '\n') fputc('\n', stdout);
            fflush(stdout);
            if (dx) cli_print_sources(chat_turn_at(c, chat_n_turns(c) - 1));
            if (ev.end == GEN_END_CONTEXT_FULL)
                text_printf(stderr, "natter: the context is full (%d tokens): answer cut short\n",
                        n_ctx);
            if (o->verbose)
                text_printf(stderr,
                        "natter: prompt %d tokens, %.2f tokens/s; generated %d tokens, "
                        "%.2f tokens/s; end: %s\n",
                        ev.n_prompt, ev.prompt_sec > 0 ? ev.n_prompt / ev.prompt_sec : 0.0,
                        ev.n_gen, ev.gen_sec > 0 ? ev.n_gen / ev.gen_sec : 0.0,
                        gen_end_name(ev.end, ev.stop_text));
            free(ev.text);
            status = failed || ev.end == GEN_END_ERROR ? 1 : 0;
            break;
        }
        free(ev.text);
    }
    if (ferror(stdout)) {
        text_printf(stderr, "natter: cannot write the answer: %s\n", strerror(errno));
        status = 1;
    }
    /* Sessions: the answered conversation goes to --save FILE or back to the resumed file. */
    if ((o->save || sess) && cmd_session_save_oneshot(o, sess, c, w) != 0) status = 1;
    goto out;
nomem:
    fprintf(stderr, "natter: out of memory\n");
out:
    for (size_t i = 0; i < n_moved; i++) free(moved[i]);
    free(intro);
    docs_free(dx);
    session_free(sess);
    chat_free(c);
    worker_free(w);
    free(input);
    free(doc);
    free(raw_q);
    persona_free(bare);
    return status;
}
