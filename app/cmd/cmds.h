/* cmds.h — natter's subcommands. Each takes the arguments after its name (argv[0] is the
 * subcommand's name), prints its own errors as "natter NAME: ..." on stderr and returns the
 * process exit status (0 ok, 1 failure, 2 usage error). main.c dispatches through a table. */
#ifndef NATTER_APP_CMDS_H
#define NATTER_APP_CMDS_H

#include <stddef.h>
#include <stdint.h>

/* natter's version: --version, and natter serve's system_fingerprint. */
#ifndef NATTER_VERSION
#define NATTER_VERSION "0.1.0"
#endif

int cmd_info(int argc, char **argv);       /* natter info MODEL.gguf */
int cmd_tokenize(int argc, char **argv);   /* natter tokenize MODEL.gguf [--ids] < text */
int cmd_perplexity(int argc, char **argv); /* natter perplexity -m MODEL -f TEXT [--ctx N] */
int cmd_bench(int argc, char **argv);      /* natter bench [-m MODEL] [--threads N] [--json] */
int cmd_train(int argc, char **argv);      /* natter train --data PATH -o OUT.gguf | --eval M */
int cmd_models(int argc, char **argv);     /* natter models [--json] (app/cmd/cmd_models.c) */
int cmd_serve(int argc, char **argv);      /* natter serve [-m MODEL] [--port N] (app/serve/) */

/* Loads the model at path for a subcommand (app/cmd/cli.c): n_ctx 0 is the model's own
 * context, n_threads 0 natter's default, kv_type an enum nt_type. On failure prints
 * "PROG: <reason>" (prog: "natter perplexity") to stderr and returns NULL; the caller owns
 * the model (nt_model_free). */
struct nt_model;
struct nt_model *cmd_load_model(const char *prog, const char *path, int32_t n_ctx,
                                int32_t n_threads, int32_t kv_type);

/* Sizes for people (app/cmd/cmd_info.c): "1.23 MiB", "135.0M". */
void info_bytes(char *buf, size_t cap, double b);
void info_count(char *buf, size_t cap, double n);

/* Sessions (app/cmd/cmd_session.c). */
int cmd_replay(int argc, char **argv);     /* natter replay FILE [--check] [overrides] */
int cmd_export(int argc, char **argv);     /* natter export FILE [--format md|json] [-o OUT] */

/* Hooks of the one-shot command line for --resume [NAME] and --save FILE. Each prints its own
 * errors ("natter: ...") and returns 0 or an exit status. */
struct cli_opts;
struct chat;
struct worker;
struct session;
/* main.c, before the persona and the model are chosen: resolves o->resume to a file (the
 * latest session for "") and takes from it what the command line did not say: the model
 * the session was recorded with (when no -m), its persona (when no --persona and the
 * persona is still there; else a note on stderr), its context size (when no --ctx) and its
 * theme (when no --theme and the theme is still there). */
int cmd_session_pick_model(struct cli_opts *o);
/* cli_oneshot, on a fresh chat: restores the session o->resume into c (--system and
 * --template still apply) and reads its history into the worker's cache with progress on
 * stderr. *out gets the session (the caller frees it with session_free). */
int cmd_session_resume(const struct cli_opts *o, struct chat *c, struct worker *w,
                       struct session **out);
/* cli_oneshot, after the answer: writes the conversation to o->save, or back to the resumed
 * session s (NULL: a new session, saved to o->save). */
int cmd_session_save_oneshot(const struct cli_opts *o, struct session *s, const struct chat *c,
                             struct worker *w);

#endif
