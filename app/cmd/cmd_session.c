/* cmd_session.c — the session subcommands and options of the command line:
 *   natter replay FILE [--check] [-m OTHER.gguf] [--threads N] [--temp X ...]
 *   natter export FILE [--format md|json] [-o OUT]
 *   natter --resume [NAME] -p QUESTION   /   natter -p QUESTION --save FILE
 * (the one-shot mode in cli.c calls the cmd_session_* hooks declared in cmds.h). */
#include "natter.h"
#include "conv/backend.h"
#include "conv/chat.h"
#include "args.h"
#include "cli.h"
#include "cmds.h"
#include "model_find.h"
#include "conv/persona.h"
#include "conv/replay.h"
#include "conv/session.h"
#include "conv/remote.h"
#include "util/text.h"
#include "conv/worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Prints every diagnostic, one block each, prefixed "natter NAME: " on the first line. */
static void print_diag(const char *cmd, const ycfg_diag *d)
{
    for (size_t i = 0; i < d->n; i++) text_printf(stderr, "natter%s%s: %s\n", cmd ? " " : "", cmd ? cmd : "", d->v[i]);
}

/* Loads the session called name (a path, or a name in the sessions folder). */
static session *load_named(const char *cmd, const char *name)
{
    char *path = session_path(name);
    if (!path) {
        text_printf(stderr, "natter%s%s: %s\n", cmd ? " " : "", cmd ? cmd : "",
                name && name[0] ? "out of memory" : "there are no saved sessions to resume");
        return NULL;
    }
    ycfg_diag d = {0};
    session *s = NULL;
    if (session_load(&s, path, NULL, &d) != NT_OK) print_diag(cmd, &d);
    ycfg_diag_free(&d);
    free(path);
    return s;
}

/* ======================================================================= replay ===== */

static const char *const replay_params[] = {
    "temp", "temperature", "top-k", "top-p", "min-p", "repeat-penalty", "repeat-last-n",
    "presence-penalty", "frequency-penalty", "seed",
};
#define REPLAY_N_PARAMS ((int)(sizeof replay_params / sizeof replay_params[0]))

static void replay_usage(FILE *f)
{
    fputs("usage: natter replay FILE [--check] [-m MODEL.gguf] [--threads N]\n"
          "                          [--api-base URL] [--api-key-env VAR]\n"
          "                          [--temp X] [--top-k N] [--top-p X] [--min-p X]\n"
          "                          [--repeat-penalty X] [--repeat-last-n N]\n"
          "                          [--presence-penalty X] [--frequency-penalty X] [--seed N]\n"
          "Regenerates every answer of a saved session with its recorded seeds and live\n"
          "changes. --check compares them with the recording token by token. With -m or a\n"
          "parameter, shows the recorded and the new answers side by side. A session\n"
          "answered by a server is asked of that server again (or --api-base URL) and its\n"
          "answers compared by their text: they can only match if the server honours\n"
          "the seed.\n",
          f);
}

static int term_columns(void)
{
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int n = c ? atoi(c) : 0;
    return n >= 40 && n <= 1000 ? n : 100;
}

/* Wraps text into lines of at most width columns (sanitised: control characters shown). */
typedef struct wrapped {
    text_buf b;
    text_line *lines;
    size_t n, cap;
} wrapped;

static void wrap_text(wrapped *w, const char *s, int width)
{
    memset(w, 0, sizeof *w);
    if (text_buf_put(&w->b, s, strlen(s), 0, true) != 0) return;
    text_wrap(w->b.s ? w->b.s : "", w->b.n, width, TEXT_WRAP_WORDS, &w->lines, &w->n, &w->cap);
}

static void wrapped_free(wrapped *w)
{
    text_buf_free(&w->b);
    free(w->lines);
}

/* Two texts in two columns with titles. */
static void side_by_side(const char *lt, const char *left, const char *rt, const char *right)
{
    int cols = term_columns();
    int w = (cols - 3) / 2;
    wrapped a, b;
    wrap_text(&a, left, w);
    wrap_text(&b, right, w);
    text_printf(stdout, "%-*s | %s\n", w, lt, rt);
    for (int i = 0; i < w; i++) fputs("-", stdout);
    fputs("-+-", stdout);
    for (int i = 0; i < w; i++) fputs("-", stdout);
    fputs("\n", stdout);
    size_t n = a.n > b.n ? a.n : b.n;
    for (size_t i = 0; i < n; i++) {
        int used = 0;
        if (i < a.n) {
            fwrite(a.b.s + a.lines[i].start, 1, a.lines[i].end - a.lines[i].start, stdout);
            used = a.lines[i].width;
        }
        text_printf(stdout, "%*s | ", w - used, "");
        if (i < b.n) fwrite(b.b.s + b.lines[i].start, 1, b.lines[i].end - b.lines[i].start, stdout);
        fputs("\n", stdout);
    }
    wrapped_free(&a);
    wrapped_free(&b);
}

static void print_stream(int32_t id, const char *text, void *user)
{
    (void)id;
    bool *tty = user;
    if (text[0]) cli_write_text(stdout, text, strlen(text), *tty);
    fflush(stdout);
}

/* A token's text for messages, quoted with escapes. */
int cmd_replay(int argc, char **argv)
{
    const char *file = NULL;
    bool check = false;
    replay_opts o = {0};
    enum { OPT_CHECK = 256, OPT_API_BASE, OPT_KEY_ENV, OPT_PARAM = 1000 };
    struct option opts[REPLAY_N_PARAMS + 7] = {
        {"check", no_argument, NULL, OPT_CHECK},
        {"model", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"api-base", required_argument, NULL, OPT_API_BASE},
        {"api-key-env", required_argument, NULL, OPT_KEY_ENV},
    };
    for (int k = 0; k < REPLAY_N_PARAMS; k++)
        opts[6 + k] = (struct option){replay_params[k], required_argument, NULL, OPT_PARAM + k};
    args a = args_start("natter replay", argc, argv, "m:t:h", opts);
    for (int c; (c = args_next(&a)) != -1;) {
        switch (c) {
        case 'h': replay_usage(stdout); return 0;
        case OPT_CHECK: check = true; break;
        case OPT_API_BASE: o.api_base = a.value; break;
        case OPT_KEY_ENV: o.api_key_env = a.value; break;
        case 'm': o.model_path = a.value; break;
        case 't':
            if (args_int(&a, 0, 512, &o.n_threads)) return 2;
            break;
        case '?': return 2;
        default: {
            const char *name = replay_params[c - OPT_PARAM];
            if (o.n_overrides == REPLAY_MAX_OVERRIDES) {
                text_printf(stderr, "natter replay: too many parameters\n");
                return 2;
            }
            nt_sampler_params p = nt_sampler_default_params();
            nt_err e = {0};
            if (chat_set_param(&p, name, a.value, &e) != NT_OK) {
                text_printf(stderr, "natter replay: --%s: %s\n", name, e.msg);
                return 2;
            }
            o.names[o.n_overrides] = name;
            o.values[o.n_overrides++] = a.value;
        }
        }
    }
    if (args_operands(&a, 1)) return 2;
    if (a.first < argc) file = argv[a.first];
    if (!file) {
        replay_usage(stderr);
        return 2;
    }
    if (check && o.n_overrides) {
        text_printf(stderr, "natter replay: --check compares with the recording: it takes no "
                        "sampling parameters\n");
        return 2;
    }
    char *model_file = NULL; /* -m resolved: a file or a name `natter models` lists */
    if (o.model_path && !(o.model_path = model_file = model_find_arg("natter replay", "-m", o.model_path)))
        return 2;
    session *s = load_named("replay", file);
    if (!s) {
        free(model_file);
        return 1;
    }
    int status = 1;
    replay *r = NULL;
    nt_err e = {0};
    /* A remote session's server: its key's variable from --api-key-env, else from the config
     * file when it names that server (as the chat takes it, cli_pick_backend); the config
     * file's timeouts. */
    backend_cfg cfg = {0};
    bool remote = !o.model_path && (s->model.api_base || o.api_base);
    if (remote) {
        if (cli_load_config(&cfg) != 0) goto out;
        cli_replay_server(&cfg, o.api_key_env, o.api_base ? o.api_base : s->model.api_base, &o);
    }
    if (replay_init(&r, s, &o, &e) != NT_OK) {
        text_printf(stderr, "natter replay: %s: %s\n", s->path, e.msg);
        goto out;
    }
    if (remote)
        text_printf(stderr, "natter replay: %s was answered by a server: each answer is asked of "
                    "%s again with its recorded seed and parameters. A remote answer can only "
                    "match the recording if the server honours the seed (llama.cpp's server and "
                    "natter serve do; many hosted APIs do not), so the texts are compared and "
                    "every answer reported.\n", s->path, replay_model_path(r));
    char hash[32];
    session_model_hash_text(&s->model, hash);
    if (check && !replay_exact(r)) {
        text_printf(stderr,
                "natter replay: %s is not the model the session was recorded with (%s, %s): "
                "the answers cannot match\n",
                replay_model_path(r), s->model.file ? s->model.file : "?", hash);
        goto out;
    }
    if (s->model.hash_v1)
        text_printf(stderr, "natter replay: %s records an older natter's model hash (%s): the model "
                        "is recognised by its file name and size\n", file, hash);
    bool compare = !replay_exact(r); /* overrides or another model: side by side */
    bool tty = isatty(STDOUT_FILENO);
    size_t n_answers = 0, n_tokens = 0, n_same = 0, n_differ = 0;
    const nt_tokenizer *tok = replay_tokenizer(r);
    if (!check)
        text_printf(stdout, "replaying %s: %zu messages, model %s%s\n\n", s->path, s->n_turns,
               replay_model_path(r), compare ? " (compared with the recording)" : "");
    /* Every branch of the tree, in the file's order (each answer in the context of the path
     * above it). */
    for (size_t i = 0; i < s->n_turns; i++) {
        const chat_turn *t = &s->turns[i];
        size_t alt = session_alternative_to(s, i);
        if (!check && alt != CHAT_ROOT)
            text_printf(stdout, "--- another version of message %zu ---\n", alt + 1);
        if (t->role == NT_ROLE_USER) {
            if (!check) {
                text_printf(stdout, "[%zu] user:\n", i + 1);
                cli_write_text(stdout, t->text, strlen(t->text), tty);
                text_printf(stdout, "\n\n");
            }
            continue;
        }
        if (t->end == GEN_END_ERROR) {
            if (!check) text_printf(stdout, "[%zu] assistant: (the recorded answer failed: skipped)\n\n", i + 1);
            continue;
        }
        replay_result res;
        if (!check && !compare) {
            text_printf(stdout, "[%zu] assistant (seed %llu, %zu live change%s):\n", i + 1,
                   (unsigned long long)t->params.seed, t->n_changes, t->n_changes == 1 ? "" : "s");
            fflush(stdout);
        }
        int rc = replay_answer(r, i, !check && !compare ? print_stream : NULL, &tty, &res, &e);
        if (rc != NT_OK) {
            text_printf(stderr, "natter replay: %s: message %zu: %s\n", s->path, i + 1, e.msg);
            goto out;
        }
        n_answers++;
        n_tokens += res.tokens.n;
        /* First differing token (or where one answer ends before the other). */
        size_t k = 0;
        enum replay_diff diff = replay_compare(t, &res, &k);
        bool identical = diff == REPLAY_SAME;
        if (identical) n_same++;
        if (check) {
            char *why = replay_describe(s, i, &res, diff, k, tok);
            text_printf(stdout, "%s\n", why ? why : "out of memory");
            free(why);
            if (!identical && remote) { /* a server's answers: each one reported */
                n_differ++;
                replay_result_free(&res);
                continue;
            }
            if (!identical) {
                if (diff != REPLAY_DIFF_PROMPT) { /* the texts agree then */
                    text_printf(stdout, "recorded text:\n");
                    cli_write_text(stdout, t->text, strlen(t->text), tty);
                    text_printf(stdout, "\nreplayed text:\n");
                    cli_write_text(stdout, res.text, strlen(res.text), tty);
                    text_printf(stdout, "\n");
                }
                replay_result_free(&res);
                goto out;
            }
        } else if (compare) {
            char rt[160];
            int off = snprintf(rt, sizeof rt, "[%zu] replayed", i + 1);
            for (int q = 0; q < o.n_overrides && off < (int)sizeof rt; q++)
                off += snprintf(rt + off, sizeof rt - (size_t)off, "%s --%s %s", q ? "" : ",",
                                o.names[q], o.values[q]);
            if (o.model_path && off < (int)sizeof rt)
                snprintf(rt + off, sizeof rt - (size_t)off, ", -m %s", o.model_path);
            char lt[64];
            snprintf(lt, sizeof lt, "[%zu] recorded (seed %llu)", i + 1,
                     (unsigned long long)t->params.seed);
            side_by_side(lt, t->text, rt, res.text);
            text_printf(stdout, "%zu tokens, %s | %zu tokens, %s%s\n\n", t->tokens.n,
                   gen_end_name(t->end, t->stop_text), res.tokens.n, gen_end_name(res.end, res.stop_text),
                   identical ? " (identical)" : "");
        } else {
            text_printf(stdout, "\n%s\n\n", identical ? "(identical to the recording)"
                                         : "(differs from the recording)");
        }
        replay_result_free(&res);
    }
    if (check && remote) {
        text_printf(stdout, "replay check: %zu answers from %s: %zu identical, %zu differ%s\n",
                    n_answers, replay_model_path(r), n_same, n_differ,
                    n_differ ? " (does the server honour the seed?)" : "");
        if (n_differ) goto out;
    } else if (check)
        text_printf(stdout, "replay check: %zu answers, %zu tokens, all identical\n", n_answers, n_tokens);
    else
        text_printf(stderr, "natter replay: %zu of %zu answers identical to the recording\n", n_same,
                n_answers);
    status = 0;
out:
    replay_free(r);
    session_free(s);
    free(model_file);
    backend_cfg_free(&cfg);
    return status;
}

/* ======================================================================= export ===== */


int cmd_export(int argc, char **argv)
{
    const char *file = NULL, *format = "md", *outp = NULL;
    bool thinking = false;
    enum { OPT_THINKING = 256 };
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"thinking", no_argument, NULL, OPT_THINKING},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    args a = args_start("natter export", argc, argv, "f:o:h", opts);
    for (int c; (c = args_next(&a)) != -1;) {
        switch (c) {
        case 'f': format = a.value; break;
        case 'o': outp = a.value; break;
        case OPT_THINKING: thinking = true; break;
        case 'h':
            text_printf(stdout, "usage: natter export FILE [--format md|json] [-o OUT] [--thinking]\n"
                   "Writes a saved session as Markdown or as JSON chat messages (OpenAI's\n"
                   "[{\"role\": ..., \"content\": ...}] shape) to stdout or OUT. A reasoning\n"
                   "model's thinking is left out unless --thinking is given.\n");
            return 0;
        default: return 2;
        }
    }
    if (args_operands(&a, 1)) return 2;
    if (a.first < argc) file = argv[a.first];
    if (!file) {
        text_printf(stderr, "usage: natter export FILE [--format md|json] [-o OUT] [--thinking]\n");
        return 2;
    }
    if (strcmp(format, "md") && strcmp(format, "markdown") && strcmp(format, "json")) {
        text_printf(stderr, "natter export: --format: '%s' is not md or json\n", format);
        return 2;
    }
    session *s = load_named("export", file);
    if (!s) return 1;
    if (outp && strcmp(outp, "-")) {
        nt_err e = {0};
        int rc = session_export_file(s, format, thinking, outp, &e);
        session_free(s);
        if (rc != NT_OK) text_printf(stderr, "natter export: %s\n", e.msg);
        return rc == NT_OK ? 0 : 1;
    }
    char *text = !strcmp(format, "json") ? session_export_json(s, thinking) : session_export_md(s, thinking);
    session_free(s);
    if (!text) {
        text_printf(stderr, "natter export: out of memory\n");
        return 1;
    }
    int status = 0;
    /* To a terminal the Markdown is shown, its control characters never obeyed; to a file or
     * a pipe it is written as it is. */
    cli_write_text(stdout, text, strlen(text), isatty(STDOUT_FILENO));
    if (fflush(stdout) != 0 || ferror(stdout)) {
        text_printf(stderr, "natter export: cannot write: %s\n", strerror(errno));
        status = 1;
    }
    free(text);
    return status;
}

/* ============================================= one-shot hooks (cli.c, main.c) ===== */

int cmd_session_pick_model(struct cli_opts *o)
{
    static char path[4096], model[4096];
    char *p = session_path(o->resume);
    if (!p) {
        text_printf(stderr, "natter: --resume: %s\n",
                o->resume && o->resume[0] ? "out of memory" : "there are no saved sessions");
        return 2;
    }
    snprintf(path, sizeof path, "%s", p);
    free(p);
    o->resume = path; /* the same file later, even if a newer session appears meanwhile */
    ycfg_diag d = {0};
    session *s = NULL;
    int rc = session_load(&s, path, NULL, &d);
    if (rc != NT_OK) {
        print_diag(NULL, &d);
        ycfg_diag_free(&d);
        return 1;
    }
    ycfg_diag_free(&d);
    static char api_base[4096];
    if (!o->model && s->model.path && access(s->model.path, R_OK) == 0) {
        snprintf(model, sizeof model, "%s", s->model.path);
        o->model = model;
    } else if (!o->api_base && s->model.api_base && !cli_model_is_file(o->model)) {
        /* A remote conversation goes on with its server and model, or the server's model -m
         * names (its key's variable from --api-key-env, or a file naming that server:
         * cli_pick_backend). */
        snprintf(api_base, sizeof api_base, "%s", s->model.api_base);
        o->api_base = api_base;
        if (!o->model && s->model.name && s->model.name[0]) {
            snprintf(model, sizeof model, "%s", s->model.name);
            o->model = model;
        }
    }
    /* The conversation goes on as it was: its persona, context size, KV cache type and theme. */
    static char persona_ref[4096], theme_ref[4096];
    char *found = NULL;
    if (!o->persona && s->persona && strcmp(s->persona, "default")) {
        if ((found = ycfg_find("prompts", s->persona))) {
            snprintf(persona_ref, sizeof persona_ref, "%s", s->persona);
            o->persona = persona_ref;
        } else {
            text_printf(stderr, "natter: the session's persona '%s' is not there any more; "
                            "using the default one\n", s->persona);
        }
        free(found);
    }
    if (!o->n_ctx && s->n_ctx > 0) o->n_ctx = s->n_ctx;
    if (!o->kv_type_given && !s->model.api_base) {
        o->kv_type = s->model.kv_type;
        o->kv_type_given = true;
    }
    if (!o->theme && s->theme && (found = ycfg_find("themes", s->theme))) {
        snprintf(theme_ref, sizeof theme_ref, "%s", s->theme);
        o->theme = theme_ref;
        free(found);
    }
    session_free(s);
    return 0;
}

int cmd_session_resume(const struct cli_opts *o, chat *c, worker *w, session **out)
{
    *out = NULL;
    ycfg_diag d = {0};
    session *s = NULL;
    if (session_load(&s, o->resume, NULL, &d) != NT_OK) {
        print_diag(NULL, &d);
        ycfg_diag_free(&d);
        return 1;
    }
    ycfg_diag_free(&d);
    nt_err e = {0};
    remote *rm = worker_remote(w);
    bool same = rm ? s->model.api_base && !strcmp(s->model.api_base, remote_base(rm)) &&
                         s->model.name && !strcmp(s->model.name, remote_model(rm))
                   : session_model_is(&s->model, worker_gguf(w));
    if (session_restore(s, c, &e) != NT_OK) {
        text_printf(stderr, "natter: %s: %s\n", o->resume, e.msg);
        session_free(s);
        return 1;
    }
    if (!same) {
        text_printf(stderr, "natter: %s was recorded with %s; continuing with %s\n", o->resume,
                s->model.api_base ? s->model.api_base : s->model.file ? s->model.file : "another model",
                rm ? remote_base(rm) : nt_gguf_path(worker_gguf(w)));
        chat_set_family(c, o->template_name
                               ? (enum nt_chat_family)nt_chat_family_from_name(o->template_name)
                               : nt_chat_detect_gguf(worker_gguf(w)));
    } else if (o->template_name) {
        chat_set_family(c, (enum nt_chat_family)nt_chat_family_from_name(o->template_name));
    }
    if (o->system && chat_set_system(c, o->system) != NT_OK) {
        session_free(s);
        return 1;
    }
    /* A session saved while its last question was being answered ends with that question:
     * the new question takes its place. */
    size_t nt = chat_n_turns(c);
    if (nt > 0 && chat_turn_at(c, nt - 1)->role == NT_ROLE_USER) {
        text_printf(stderr, "natter: %s: its last question was never answered; asking yours instead\n",
                o->resume);
        free(chat_edit(c)); /* not kept: an unanswered question is only its text */
    }
    /* Read the history into the cache with visible progress. */
    worker_job job;
    if (chat_prepare_reread(c, &job, &e) == NT_OK && worker_submit(w, &job) == NT_OK) {
        bool tty = isatty(STDERR_FILENO), show = o->verbose || tty;
        for (;;) {
            worker_event ev;
            if (!worker_wait(w, &ev, -1)) continue;
            chat_apply(c, &ev);
            if (ev.kind == WEV_PROGRESS && tty)
                fprintf(stderr, "\rnatter: reading the session back: %d/%d tokens", ev.done,
                        ev.total);
            if (ev.kind == WEV_ERROR) text_printf(stderr, "natter: %s\n", ev.text ? ev.text : "error");
            free(ev.text);
            if (ev.kind == WEV_DONE) {
                if (show)
                    fprintf(stderr, "%snatter: read %zu messages back (%d tokens)\n",
                            tty ? "\r\033[K" : "", chat_n_turns(c), ev.n_past);
                break;
            }
        }
    }
    if (session_set_worker(s, w) != NT_OK) {
        session_free(s);
        return 1;
    }
    *out = s;
    return 0;
}

int cmd_session_save_oneshot(const struct cli_opts *o, session *s, const chat *c, worker *w)
{
    session *own = NULL;
    if (!s) {
        own = s = session_init();
        if (!s || session_set_worker(s, w) != NT_OK) {
            text_printf(stderr, "natter: out of memory\n");
            session_free(own);
            return 1;
        }
    }
    /* The persona in use, as persona_open finds it again (a resumed session's may have been
     * replaced by --persona). */
    if (o->loaded) {
        char *ref = persona_ref(o->loaded);
        if (ref) {
            free(s->persona);
            s->persona = ref;
        }
    }
    nt_err e = {0};
    /* A remote server reports its model and fingerprint with each answer. */
    if (worker_remote(w) && session_set_worker(s, w) != NT_OK) {
        fprintf(stderr, "natter: out of memory\n");
        session_free(own);
        return 1;
    }
    int rc = session_capture(s, c);
    if (rc == NT_OK) {
        const char *target = o->save ? o->save : s->path;
        if (o->save && s->path && strcmp(o->save, s->path)) {
            /* --save to another file: the resumed one stays as it was. */
            free(s->path);
            s->path = NULL;
        }
        rc = target ? session_save(s, target, &e) : session_autosave(s, c, &e);
        if (rc == NT_OK && o->verbose) text_printf(stderr, "natter: session saved to %s\n", s->path);
    } else {
        snprintf(e.msg, sizeof e.msg, "out of memory");
    }
    if (rc != NT_OK) text_printf(stderr, "natter: cannot save the session: %s\n", e.msg);
    session_free(own);
    return rc == NT_OK ? 0 : 1;
}
