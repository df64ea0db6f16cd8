/* natter's entry point: dispatches to the subcommands (a table, so later ones slot in), the
 * one-shot command line and the TUI. */
#include "natter.h"
#include "cli.h"
#include "cmds.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include("tui.h")
#include "tui.h"
#define NATTER_HAVE_TUI 1
#endif
#endif

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
    /* Sessions (app/cmd_session.c). */
    {"replay", cmd_replay},
    {"export", cmd_export},
};

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
    if (rc != 0) return rc;
    /* Parsed into cli_opts for the issues that implement them; until something reads them,
     * refuse them rather than ignore them silently. */
    if (o.persona || o.theme) {
        fprintf(stderr, "natter: %s is not supported yet\n", o.persona ? "--persona" : "--theme");
        return 2;
    }
    /* Sessions (app/cmd_session.c): --resume picks its file now, and its model when no -m. */
    if (o.resume && (rc = cmd_session_pick_model(&o)) != 0) return rc;
    if (cli_resolve_model(&o) != 0) {
        fprintf(stderr,
                "natter: no model given and no default model found (models/natter-guide.gguf)\n"
                "natter: give one with -m MODEL.gguf (see natter --help)\n");
        return 2;
    }
    bool interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    if (o.prompt || !interactive) return cli_oneshot(&o);
    /* The chat screen autosaves on its own; resuming in it is wired by the TUI. */
    if (o.resume || o.save) {
        fprintf(stderr, "natter: %s works with -p for now (the chat screen autosaves)\n",
                o.resume ? "--resume" : "--save");
        return 2;
    }
#ifdef NATTER_HAVE_TUI
    return tui_main(&o);
#else
    fprintf(stderr, "natter: the terminal chat is not built yet; ask once with -p QUESTION\n");
    return 1;
#endif
}
