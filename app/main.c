/* natter's entry point: dispatches to the subcommands (a table, so later ones slot in), the
 * one-shot command line and the TUI. */
#include "natter.h"
#include "util/text.h"
#include "cmd/cli.h"
#include "cmd/cmds.h"
#include "conv/backend.h"
#include "conv/persona.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui/tui.h"


typedef struct subcmd {
    const char *name;
    int (*run)(int argc, char **argv);
} subcmd;

static const subcmd subcmds[] = {
    {"info", cmd_info},
    {"tokenize", cmd_tokenize},
    {"perplexity", cmd_perplexity},
    {"bench", cmd_bench},
    {"train", cmd_train},
    {"models", cmd_models},
    {"serve", cmd_serve},
    /* Sessions (app/cmd/cmd_session.c). */
    {"replay", cmd_replay},
    {"export", cmd_export},
    /* Personas (app/cmd/cmd_persona.c). */
    {"import-card", cmd_import_card},
};

/* `natter [--model M] --check FILE... [--model M]`: every argument but the --check (argv[at])
 * goes to cmd_check, which takes --model anywhere. */
static int main_check(int argc, char **argv, int at)
{
    char **v = malloc((size_t)argc * sizeof *v);
    if (!v) {
        text_printf(stderr, "natter: out of memory\n");
        return 1;
    }
    int n = 0;
    v[n++] = "--check";
    for (int i = 1; i < argc; i++)
        if (i != at) v[n++] = argv[i];
    int rc = cmd_check(n, v);
    free(v);
    return rc;
}

/* Frees what main loaded for the chat modes. */
static int main_done(struct cli_opts *o, int rc)
{
    backend_cfg_free((backend_cfg *)o->config);
    persona_free(o->loaded);
    free(o->persona_errors);
    free(o->persona_notes);
    return rc;
}

int main(int argc, char **argv)
{
    /* The terminal's character set for ncurses and readline, but numbers always with a '.'. */
    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C");

    if (argc > 1)
        for (size_t i = 0; i < sizeof subcmds / sizeof subcmds[0]; i++)
            if (strcmp(argv[1], subcmds[i].name) == 0) return subcmds[i].run(argc - 1, argv + 1);

    struct cli_opts o;
    cli_opts_default(&o);
    int rc = cli_parse(&o, argc, argv, stdout, stderr);
    if (rc == 1) return 0;
    if (rc == 3) return main_check(argc, argv, o.check_at);
    if (rc != 0) return rc;
    if (o.list_personas || o.list_themes) {
        rc = o.list_personas ? cmd_list_personas() : 0;
        if (o.list_personas && o.list_themes) text_printf(stdout, "\n");
        return rc ? rc : o.list_themes ? cmd_list_themes() : 0;
    }
    /* The config file (backend.h): read before anything is chosen, so a bad one stops here. */
    static backend_cfg config;
    if ((rc = cli_load_config(&config)) != 0) return rc;
    o.config = &config;
    bool interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    /* natter's own default model was trained to be the guide persona (prompts/guide.yaml):
     * with neither -m nor --persona (nor a session to resume), the two come together. */
    if (!o.api_base && !o.model && !o.persona && !o.resume && !cli_config_chooses(&o) &&
        cli_resolve_model(&o) == 0)
        o.persona = CLI_DEFAULT_PERSONA;
    bool oneshot = o.prompt || !interactive;
    /* Sessions (app/cmd/cmd_session.c): --resume picks its file now, and what the command
     * line leaves open: its model, persona, context size and theme. A file that does not
     * load is an error for -p; the chat screen shows its errors and starts a new
     * conversation. */
    if (o.resume && (rc = cmd_session_pick_model(&o)) != 0 && (oneshot || rc == 2))
        return main_done(&o, rc);
    /* The persona: the one-shot mode refuses a bad file; the chat screen falls back to the
     * default persona and shows the errors. Its preferred model applies when no -m. A
     * one-shot answer sends no system prompt unless told (--persona, --context). */
    if ((!oneshot || o.persona || o.n_context > 0) && (rc = cli_open_persona(&o, oneshot)) != 0)
        return main_done(&o, rc);
    /* The server, if any: the command line's, the persona's backend, the config file's. */
    cli_pick_backend(&o);
    /* -m NAME: a model found where other programs keep them (after the persona's errors).
     * With a server, -m is the server's model name, nothing to find here. */
    if (o.api_base) return main_done(&o, oneshot ? cli_oneshot(&o) : tui_main(&o));
    if ((rc = cli_find_model(&o)) != 0) return main_done(&o, rc);
    cli_persona_model(&o);
    if (cli_resolve_model(&o) != 0) {
        text_printf(stderr,
                "natter: no model given and no default model found (models/natter-guide.gguf)\n"
                "natter: give one with -m MODEL.gguf (see natter --help)\n");
        return main_done(&o, 2);
    }
    if (oneshot) return main_done(&o, cli_oneshot(&o));
    return main_done(&o, tui_main(&o));
}
