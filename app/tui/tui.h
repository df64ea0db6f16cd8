/* tui.h — natter's full-screen chat (ncurses + readline) on top of the worker and the chat.
 *
 * tui_main loads the model named in opts, starts the worker thread and runs the event loop:
 * poll() on stdin, the worker's wake-up descriptor and the signal self-pipe, so the screen
 * stays responsive while the model works. The terminal is restored on every way out. */
#ifndef NATTER_TUI_H
#define NATTER_TUI_H

#include "cmd/cli.h"

/* Runs the chat screen until /quit (or SIGTERM/SIGHUP). Returns the process exit status:
 * 0, 1 when the model or the terminal could not be used, 128 + signal after SIGTERM/SIGHUP. */
int tui_main(const struct cli_opts *opts);

#endif
