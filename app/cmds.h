/* cmds.h — natter's subcommands. Each takes the arguments after its name (argv[0] is the
 * subcommand's name), prints its own errors as "natter NAME: ..." on stderr and returns the
 * process exit status (0 ok, 1 failure, 2 usage error). main.c dispatches through a table. */
#ifndef NATTER_APP_CMDS_H
#define NATTER_APP_CMDS_H

int cmd_info(int argc, char **argv);       /* natter info MODEL.gguf */
int cmd_tokenize(int argc, char **argv);   /* natter tokenize MODEL.gguf [--ids] < text */
int cmd_perplexity(int argc, char **argv); /* natter perplexity -m MODEL -f TEXT [--ctx N] */
int cmd_bench(int argc, char **argv);      /* natter bench [-m MODEL] [--threads N] [--json] */
int cmd_train(int argc, char **argv);      /* natter train --data PATH -o OUT.gguf | --eval M */

#endif
