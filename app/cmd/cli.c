/* cli.c — option parsing for the chat modes and the one-shot mode (see cli.h).
 *
 * The one-shot mode is the TUI's pipeline without the screen: a chat (chat.h) builds the
 * prompt, a worker (worker.h) runs it, and the main thread prints TOKEN texts as they come. */
#include "cli.h"
#include "conv/chat.h"
#include "conv/params.h"
#include "cmds.h"
#include "model_find.h"
#include "conv/persona.h"
#include "conv/session.h"
#include "util/datadir.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "conv/worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#ifndef NATTER_VERSION
#define NATTER_VERSION "0.1.0"
#endif

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
    o->max_tokens = -1;
    o->params = nt_sampler_default_params();
    o->params.seed = cli_random_seed();
}

void cli_usage(FILE *out)
{
    fputs("usage: natter [options]                 chat in the terminal (TUI)\n"
          "       natter -m MODEL -p QUESTION       answer once, streaming to stdout\n"
          "       echo QUESTION | natter -m MODEL   the same, the question from stdin\n"
          "       natter info MODEL                 what is inside a GGUF file\n"
          "       natter tokenize MODEL [--ids]     tokenize stdin\n"
          "       natter perplexity -m MODEL -f TEXT [--ctx N] [--threads N]\n"
          "       natter bench [-m MODEL] [--threads N] [--json] [--quick]\n"
          "       natter replay FILE [--check] [-m MODEL] [--temp X ...]  regenerate a session\n"
          "       natter export FILE [--format md|json] [-o OUT]          export a session\n"
          "       natter --check [--model MODEL] FILE...   validate persona and theme files\n"
          "       natter import-card CARD.json [-o FILE] [--force]  a Character Card V2 as a persona\n"
          "\n"
          "options:\n"
          "  -m, --model FILE        the GGUF model (default: " CLI_DEFAULT_MODEL ")\n"
          "  -p, --prompt TEXT       answer TEXT once and exit; '-' reads it from stdin\n"
          "      --persona NAME      system prompt, examples and sampling from prompts/NAME.yaml\n"
          "                          (or a file; default: the built-in persona)\n"
          "      --context FILE      add FILE as a context document (repeatable)\n"
          "      --theme NAME        colour theme from themes/NAME.yaml (or a file)\n"
          "      --list-personas, --list-themes   list the personas or themes found\n"
          "      --system TEXT       the system prompt (replaces the persona's)\n"
          "      --raw               feed the prompt as plain text, without the chat template\n"
          "      --template NAME     chat template family: plain chatml llama2 llama3 zephyr\n"
          "                          phi3 gemma mistral (default: detected from the model)\n"
          "  -n, --max-tokens N      answer at most N tokens (default: until the model stops)\n"
          "      --ctx N             context length in tokens (default: the model's, <= 4096)\n"
          "      --threads N         compute threads (default: all CPUs)\n"
          "      --temp X            temperature, 0 = greedy (default 0.8)\n"
          "      --top-k N           keep the N likeliest tokens, 0 = off (default 40)\n"
          "      --top-p X           nucleus sampling, 1 = off (default 0.95)\n"
          "      --min-p X           drop tokens below X times the top one (default 0.05)\n"
          "      --repeat-penalty X  penalise recent tokens, 1 = off (default 1)\n"
          "      --repeat-last-n N   window of the penalties, -1 = all (default 64)\n"
          "      --presence-penalty X, --frequency-penalty X   (default 0 = off)\n"
          "      --seed N            random seed (default: random; --verbose prints it)\n"
          "  -v, --verbose           print the seed and the speed on stderr\n"
          "      --resume [NAME]     continue a saved session (default: the latest)\n"
          "      --save FILE         save the conversation as a session file\n"
          "  -h, --help              this help\n"
          "      --version           natter's version\n"
          "\n"
          "See natter(1) for details.\n",
          out);
}

/* Parses a whole number in [lo, hi]. */
static int cli_int(const char *opt, const char *v, long lo, long hi, int32_t *out, FILE *err)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!v[0] || *end || end == v) {
        fprintf(err, "natter: %s: '%s' is not a whole number\n", opt, v);
        return -1;
    }
    if (errno == ERANGE || x < lo || x > hi) {
        fprintf(err, "natter: %s: '%s' is out of range (%ld to %ld)\n", opt, v, lo, hi);
        return -1;
    }
    *out = (int32_t)x;
    return 0;
}

typedef enum cli_opt_id {
    OPT_MODEL, OPT_PROMPT, OPT_SYSTEM, OPT_RAW, OPT_TEMPLATE, OPT_MAX, OPT_CTX, OPT_THREADS,
    OPT_PARAM, OPT_SEED, OPT_VERBOSE, OPT_HELP, OPT_VERSION, OPT_PERSONA, OPT_THEME,
    OPT_RESUME, OPT_SAVE, OPT_CONTEXT, OPT_LIST_PERSONAS, OPT_LIST_THEMES
} cli_opt_id;

typedef struct cli_opt {
    const char *lng;  /* long name without the dashes */
    char shrt;        /* short letter or 0 */
    cli_opt_id id;
    bool arg;         /* takes a value */
} cli_opt;

static const cli_opt cli_opts_table[] = {
    {"model", 'm', OPT_MODEL, true},
    {"prompt", 'p', OPT_PROMPT, true},
    {"system", 0, OPT_SYSTEM, true},
    {"raw", 0, OPT_RAW, false},
    {"template", 0, OPT_TEMPLATE, true},
    {"max-tokens", 'n', OPT_MAX, true},
    {"ctx", 'c', OPT_CTX, true},
    {"threads", 't', OPT_THREADS, true},
    {"temp", 0, OPT_PARAM, true},
    {"temperature", 0, OPT_PARAM, true},
    {"top-k", 0, OPT_PARAM, true},
    {"top-p", 0, OPT_PARAM, true},
    {"min-p", 0, OPT_PARAM, true},
    {"repeat-penalty", 0, OPT_PARAM, true},
    {"repeat-last-n", 0, OPT_PARAM, true},
    {"presence-penalty", 0, OPT_PARAM, true},
    {"frequency-penalty", 0, OPT_PARAM, true},
    {"seed", 's', OPT_SEED, true},
    {"verbose", 'v', OPT_VERBOSE, false},
    {"help", 'h', OPT_HELP, false},
    {"version", 0, OPT_VERSION, false},
    {"persona", 0, OPT_PERSONA, true},
    {"theme", 0, OPT_THEME, true},
    {"resume", 0, OPT_RESUME, true},
    {"save", 0, OPT_SAVE, true},
    {"context", 0, OPT_CONTEXT, true},
    {"list-personas", 0, OPT_LIST_PERSONAS, false},
    {"list-themes", 0, OPT_LIST_THEMES, false},
};
#define CLI_N_OPTS (sizeof cli_opts_table / sizeof cli_opts_table[0])

static void cli_family_list(FILE *f)
{
    for (int i = 0; i < NT_CHAT_FAMILY_COUNT_; i++) {
        const char *n = nt_chat_family_name((enum nt_chat_family)i);
        if (n) fprintf(f, "%s%s", i ? ", " : "", n);
    }
}

/* The params_given bit of a sampling option ("--temp", "-s", ...). */
static unsigned cli_param_bit(const char *opt)
{
    const param_def *d = !strcmp(opt, "-s") ? &param_defs[PARAM_SEED] : param_lookup(opt, PARAM_FORM_NAME, NULL);
    return d ? 1u << d->id : 0;
}

int cli_parse(struct cli_opts *o, int argc, char **argv, FILE *out, FILE *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const cli_opt *opt = NULL;
        const char *val = NULL;
        char name[64];
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            for (size_t k = 0; k < CLI_N_OPTS; k++)
                if (strlen(cli_opts_table[k].lng) == len &&
                    strncmp(cli_opts_table[k].lng, a + 2, len) == 0)
                    opt = &cli_opts_table[k];
            snprintf(name, sizeof name, "--%.*s", (int)(len < 40 ? len : 40), a + 2);
            if (!opt) {
                fprintf(err, "natter: unknown option '%s' (see natter --help)\n", name);
                return 2;
            }
            if (eq) {
                if (!opt->arg) {
                    fprintf(err, "natter: %s takes no value\n", name);
                    return 2;
                }
                val = eq + 1;
            }
        } else if (a[0] == '-' && a[1] && a[1] != '-') {
            for (size_t k = 0; k < CLI_N_OPTS; k++)
                if (cli_opts_table[k].shrt == a[1]) opt = &cli_opts_table[k];
            if (!opt) {
                fprintf(err, "natter: unknown option '%s' (see natter --help)\n", a);
                return 2;
            }
            snprintf(name, sizeof name, "-%c", a[1]);
            if (a[2]) {
                if (!opt->arg) {
                    fprintf(err, "natter: unknown option '%s' (see natter --help)\n", a);
                    return 2;
                }
                val = a + 2; /* -n64 */
            }
        } else {
            fprintf(err, "natter: unexpected argument '%s' (see natter --help)\n", a);
            return 2;
        }
        /* Sessions: `--resume` alone (or before another option) means the latest session. */
        if (opt->id == OPT_RESUME && !val && (i + 1 >= argc || argv[i + 1][0] == '-'))
            val = "";
        if (opt->arg && !val) {
            if (i + 1 >= argc) {
                fprintf(err, "natter: %s needs a value\n", name);
                return 2;
            }
            val = argv[++i];
        }
        nt_err e = {0};
        switch (opt->id) {
        case OPT_MODEL: o->model = val; break;
        case OPT_PROMPT: o->prompt = val; break;
        case OPT_SYSTEM: o->system = val; break;
        case OPT_RAW: o->raw = true; break;
        case OPT_TEMPLATE:
            if (nt_chat_family_from_name(val) < 0) {
                fprintf(err, "natter: %s: unknown template '%s' (one of: ", name, val);
                cli_family_list(err);
                fprintf(err, ")\n");
                return 2;
            }
            o->template_name = val;
            break;
        case OPT_MAX:
            if (cli_int(name, val, -1, 1 << 24, &o->max_tokens, err)) return 2;
            o->max_tokens_given = true;
            break;
        case OPT_CTX:
            if (cli_int(name, val, 0, 1 << 20, &o->n_ctx, err)) return 2;
            if (o->n_ctx > 0 && o->n_ctx < 16) {
                fprintf(err, "natter: %s: '%s' is out of range (16 to %d, or 0)\n", name, val,
                        1 << 20);
                return 2;
            }
            break;
        case OPT_THREADS:
            if (cli_int(name, val, 0, 512, &o->n_threads, err)) return 2;
            break;
        case OPT_PARAM:
        case OPT_SEED:
            if (chat_set_param(&o->params, name, val, &e) != NT_OK) {
                fprintf(err, "natter: %s: %s\n", name, e.msg);
                return 2;
            }
            if (opt->id == OPT_SEED) o->seed_given = true;
            o->params_given |= cli_param_bit(name);
            break;
        case OPT_VERBOSE: o->verbose = true; break;
        case OPT_HELP: cli_usage(out); return 1;
        case OPT_VERSION: fprintf(out, "natter " NATTER_VERSION "\n"); return 1;
        case OPT_PERSONA: o->persona = val; break;
        case OPT_THEME: o->theme = val; break;
        case OPT_RESUME: o->resume = val; break;
        case OPT_SAVE: o->save = val; break;
        case OPT_CONTEXT:
            if (o->n_context >= CLI_MAX_CONTEXT) {
                fprintf(err, "natter: %s: at most %d files\n", name, CLI_MAX_CONTEXT);
                return 2;
            }
            o->context[o->n_context++] = val;
            break;
        case OPT_LIST_PERSONAS: o->list_personas = true; break;
        case OPT_LIST_THEMES: o->list_themes = true; break;
        }
    }
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
    char msg[2048];
    if (!o->model) return 0;
    char *found = model_find_resolve(o->model, msg, sizeof msg);
    if (found && strlen(found) < sizeof path) {
        strcpy(path, found);
        o->model = path;
        free(found);
        return 0;
    }
    if (found) snprintf(msg, sizeof msg, "%s: the path is too long", o->model);
    free(found);
    /* The candidates' names come from folder listings and manifests. */
    text_buf b = {0};
    text_buf_put(&b, msg, strlen(msg), 0, true);
    fprintf(stderr, "natter: -m: %s\n", b.s ? b.s : "out of memory");
    text_buf_free(&b);
    return 2;
}

int cli_open_persona(struct cli_opts *o, bool strict)
{
    ycfg_diag d = {0};
    persona *p = strict && o->persona ? persona_open(o->persona, &d)
                                      : persona_open_or_default(o->persona, &d);
    if (!p) {
        for (size_t i = 0; i < d.n; i++) fprintf(stderr, "%s\n", d.v[i]);
        if (d.n == 0) fprintf(stderr, "natter: out of memory\n");
        else fprintf(stderr, "natter: --persona %s: the persona cannot be used\n", o->persona);
        ycfg_diag_free(&d);
        return 1;
    }
    if (d.n > 0) {
        free(o->persona_errors);
        o->persona_errors = ycfg_diag_join(&d);
    }
    ycfg_diag_free(&d);
    for (int i = 0; i < o->n_context; i++) {
        nt_err e = {0};
        if (persona_add_context_file(p, o->context[i], &e) != NT_OK) {
            fprintf(stderr, "natter: --context: %s\n", e.msg);
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
        fprintf(stderr, "natter: the persona's model %s was not found; using the default\n",
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

static bool cli_persona_stops_fit(const persona *p);

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
    if (chat_set_stops(c, (const char *const *)p->stop.v, p->stop.n) != NT_OK) goto nomem;
    if (model_family >= 0) chat_set_family(c, persona_family(p, (enum nt_chat_family)model_family));
    chat_set_memory(c, p->memory);
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

nt_model *cli_load_model(const struct cli_opts *o)
{
    nt_model_params mp = nt_model_default_params();
    mp.n_ctx = o->n_ctx;
    mp.n_threads = o->n_threads;
    nt_model *m = NULL;
    nt_err e = {0};
    if (nt_model_load(&m, o->model, &mp, &e) != NT_OK) {
        fprintf(stderr, "natter: %s\n", e.msg);
        return NULL;
    }
    return m;
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
    if (!tty) {
        fwrite(s, 1, n, f);
        return;
    }
    text_buf b = {0};
    if (text_buf_put(&b, s, n, 0, true) == 0) fwrite(b.s, 1, b.n, f);
    text_buf_free(&b);
}

/* Reads all of stdin (malloc'd, NUL-terminated); NULL with a message on failure. */
static char *cli_read_stdin(void)
{
    strbuf b = {0};
    if (strbuf_read(&b, stdin)) return strbuf_take(&b, NULL);
    if (b.oom)
        fprintf(stderr, "natter: out of memory reading stdin\n");
    else
        fprintf(stderr, "natter: cannot read stdin: %s\n", strerror(errno));
    strbuf_free(&b);
    return NULL;
}

int cli_oneshot(const struct cli_opts *o)
{
    int status = 1;
    char *input = NULL;
    nt_model *m = NULL;
    worker *w = NULL;
    chat *c = NULL;
    session *sess = NULL; /* --resume/--save (app/conv/session.h) */
    nt_err e = {0};

    const char *question = o->prompt;
    if (!question || strcmp(question, "-") == 0) {
        input = cli_read_stdin();
        if (!input) goto out;
        /* `echo q | natter` ends the question with a newline nobody meant to ask about. */
        size_t n = strlen(input);
        while (n > 0 && (input[n - 1] == '\n' || input[n - 1] == '\r')) input[--n] = '\0';
        question = input;
    }
    if (!question[0]) {
        fprintf(stderr, "natter: the prompt is empty\n");
        status = 2;
        goto out;
    }
    m = cli_load_model(o);
    if (!m) goto out;
    char ctx_warn[256];
    if (cli_ctx_warning(nt_model_get_info(m), ctx_warn, sizeof ctx_warn))
        fprintf(stderr, "natter: warning: %s\n", ctx_warn);
    enum nt_chat_family fam = o->template_name
                               ? (enum nt_chat_family)nt_chat_family_from_name(o->template_name)
                               : nt_chat_detect_gguf(nt_model_gguf(m));
    const nt_tokenizer *tok = nt_model_tokenizer(m);
    int32_t n_ctx = nt_model_get_info(m)->n_ctx;
    w = worker_init(m, &e);
    m = NULL; /* the worker owns it now (and freed it on failure) */
    if (!w) {
        fprintf(stderr, "natter: %s\n", e.msg);
        goto out;
    }
    c = chat_init(tok, fam, n_ctx);
    if (!c || chat_set_system(c, o->system) != NT_OK) {
        fprintf(stderr, "natter: out of memory\n");
        goto out;
    }
    /* The persona: its fixed part (system prompt, documents, examples, greeting), stop
     * strings, template and sampling defaults (options given on the command line win). */
    nt_sampler_params params = o->params;
    int32_t max_tokens = o->max_tokens;
    if (o->loaded && !o->raw) { /* --raw: plain text, no persona text either */
        if (cli_chat_persona(c, o->loaded, cli_model_base(o->model), o->system,
                             o->template_name ? -1 : (int)fam, &e) != NT_OK) {
            fprintf(stderr, "natter: %s\n", e.msg);
            goto out;
        }
        fam = chat_get_family(c);
    }
    if (o->loaded) cli_persona_params(o, o->loaded, &params, &max_tokens);
    chat_set_raw(c, o->raw);
    /* Sessions (app/cmd/cmd_session.c): --resume puts the saved conversation in first. */
    if (o->resume) {
        int st = cmd_session_resume(o, c, w, &sess);
        if (st != 0) {
            status = st;
            goto out;
        }
    }
    if (chat_add_user(c, question) != NT_OK) {
        fprintf(stderr, "natter: out of memory\n");
        goto out;
    }
    if (o->verbose)
        fprintf(stderr, "natter: seed %llu, template %s\n", (unsigned long long)params.seed,
                o->raw ? "none (raw)" : nt_chat_family_name(fam));

    worker_job job;
    int32_t max = max_tokens < 0 ? n_ctx : max_tokens;
    if (chat_prepare(c, &params, max, &job, NULL, &e) != NT_OK) {
        fprintf(stderr, "natter: %s\n", e.msg);
        goto out;
    }
    if (worker_submit(w, &job) != NT_OK) {
        fprintf(stderr, "natter: cannot start the answer\n");
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
            fprintf(stderr, "natter: %s\n", ev.text ? ev.text : "error");
            failed = true;
        }
        if (ev.kind == WEV_DONE) {
            if (last != '\n') fputc('\n', stdout);
            fflush(stdout);
            if (ev.end == GEN_END_CONTEXT_FULL)
                fprintf(stderr, "natter: the context is full (%d tokens): answer cut short\n",
                        n_ctx);
            if (o->verbose)
                fprintf(stderr,
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
        fprintf(stderr, "natter: cannot write the answer: %s\n", strerror(errno));
        status = 1;
    }
    /* Sessions: the answered conversation goes to --save FILE or back to the resumed file. */
    if ((o->save || sess) && cmd_session_save_oneshot(o, sess, c, w) != 0) status = 1;
out:
    session_free(sess);
    chat_free(c);
    worker_free(w);
    nt_model_free(m);
    free(input);
    return status;
}
