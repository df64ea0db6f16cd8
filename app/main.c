/* natter's entry point: dispatches to the one-shot command line, the subcommands and the TUI. */
#include "natter.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "natter: not built yet\n");
    return 1;
}
