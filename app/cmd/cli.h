/* cli.h — natter's command line: the options of the chat modes (one-shot and TUI) and the
 * one-shot mode itself.
 *
 * `natter [options]` parses into a struct cli_opts; main.c then runs the one-shot mode
 * (cli_oneshot) when a prompt was given or stdin/stdout is not a terminal, else the TUI
 * (tui_main in app/tui/tui.c, which receives the same struct). Subcommands (info, tokenize, ...)
 * parse their own arguments (app/cmd/cmds.h). */
#ifndef NATTER_APP_CLI_H
#define NATTER_APP_CLI_H

#include "natter.h"

#include <stdbool.h>
#include <stdio.h>

#define CLI_MAX_CONTEXT 16 /* --context files per run */
#define CLI_MAX_DOCS 64    /* --docs paths per run */

struct persona;
struct backend_cfg;
struct chat;

/* Everything the chat modes take from the command line. Strings are borrowed from argv (or
 * static), except `model` after cli_resolve_model, which may point at a static buffer. */
struct cli_opts {
    const char *model;        /* -m/--model path; NULL = the default nt_model */
    const char *prompt;       /* -p/--prompt text, "-" = read stdin; NULL = none given */
    const char *system;       /* --system TEXT; NULL = none */
    const char *template_name;/* --template NAME (a chat family name); NULL = the model's */
    bool raw;                 /* --raw: the prompt is plain text, no template */
    bool plain;               /* --plain: the line-by-line chat on any terminal */
    bool verbose;             /* --verbose: seed and timings on stderr */
    int32_t max_tokens;       /* -n/--max-tokens; 0 = until end of text or a full context */
    int32_t n_ctx;            /* --ctx; 0 = the model's (capped at 4096) */
    int32_t n_threads;        /* --threads; 0 = all online CPUs */
    bool kv_type_given;       /* --kv-type was given (else the session's on --resume, or
                                 NT_KV_TYPE_DEFAULT: cli_kv_type) */
    int32_t kv_type;          /* --kv-type: enum nt_type (F32, F16, Q8_0) */
    nt_sampler_params params;    /* --temp, --top-k, ... (the engine's defaults); seed see below */
    bool seed_given;          /* --seed was given; else params.seed is a fresh random seed */
    /* Options of later issues slot in here (persona, theme, resume, save, ...). */
    const char *persona;      /* --persona NAME or FILE; NULL = the default persona */
    const char *theme;        /* --theme NAME or FILE; NULL = the built-in theme */
    const char *context[CLI_MAX_CONTEXT]; /* --context FILE (repeatable): documents added to
                                             the persona's */
    int n_context;
    const char *docs[CLI_MAX_DOCS]; /* --docs PATH... (repeatable): files and folders to
                                       retrieve passages from (app/docs/) */
    int n_docs;
    bool list_personas;       /* --list-personas */
    bool list_themes;         /* --list-themes */
    int check_at;             /* cli_parse returned 3: argv[check_at] is --check */
    unsigned params_given;    /* bit 1u << PARAM_x (app/conv/params.h): that option was given,
                                 so it overrides the persona's value */
    bool max_tokens_given;    /* -n was given */
    /* Filled by main (cli_open_persona) before a chat mode starts: */
    struct persona *loaded;   /* the persona in use (owned by main); NULL in tests */
    char *persona_errors;     /* the errors of a bad --persona file the TUI fell back from
                                 (malloc'd, owned by main); NULL when none */
    char *persona_notes;      /* the notes of a --persona file that loaded (malloc'd, owned by
                                 main); NULL when none */
    const char *api_base;     /* --api-base URL: a remote OpenAI-compatible server (then
                                 model is the server's model name); NULL = local */
    const char *api_key_env;  /* --api-key-env VAR; NULL = OPENAI_API_KEY */
    const struct backend_cfg *config; /* the config file's settings (backend.h; owned by
                                 main); NULL when there is none */
    const char *resume;       /* --resume [SESSION] ("" = the latest) */
    int show_prompt;          /* --show-prompt: 1 the text, 2 (=ids) the tokens; 0 = answer */
    const char *save;         /* --save FILE */
    int think;                /* --think on|off: an enum chat_think (conv/chat.h), overriding
                                 the persona's; 0 (CHAT_THINK_DEFAULT) when not given */
};

/* The defaults: llama.cpp's sampling defaults and a random seed. */
void cli_opts_default(struct cli_opts *o);

/* Parses argv[1..argc) into *o (which cli_opts_default filled). Returns 0 on success, 1 when
 * the command is done (--help or --version printed to out), 2 after printing one error line
 * "natter: ..." to err, or 3 at a --check: the validation of files (cmd_check) takes over from
 * argv[o->check_at] on, with the options before it. */
int cli_parse(struct cli_opts *o, int argc, char **argv, FILE *out, FILE *err);

/* The usage text (the whole of `natter --help`). */
void cli_usage(FILE *out);

/* Fills o->model with the default model when none was given: models/natter-guide.gguf under
 * the current folder, else NATTER_DATADIR/models/natter-guide.gguf. Returns 0, or -1 (o->model
 * stays NULL) when there is none. */
int cli_resolve_model(struct cli_opts *o);
/* Resolves a -m argument that is not a file to the model of that name (model_find.h: the
 * places other programs keep models, `natter models`), replacing o->model with its path
 * (static storage). Returns 0 (also when no -m was given), or 2 after printing the error
 * ("natter: -m: ...": no such name, or the candidates of an ambiguous one). */
int cli_find_model(struct cli_opts *o);
/* The persona that goes with the default model when neither -m nor --persona is given. */
#define CLI_DEFAULT_PERSONA "guide"

/* Reads the config file (backend_config_path) into *cfg: NT_OK (also when there is none),
 * else its errors printed (`file:line:col: message`, the line, a caret) and an exit status. */
int cli_load_config(struct backend_cfg *cfg);
/* True when the config file chooses something (a server or a model) for a run whose command
 * line chose nothing: natter's default model and persona then stay out of it. */
bool cli_config_chooses(const struct cli_opts *o);
/* The backend, after cli_open_persona: the command line's --api-base (or a resumed remote
 * session's), else the persona's `backend:`, else the config file's api-base; -m naming an
 * existing file keeps the local engine. A file whose api-base is the server chosen also gives
 * its model (when no -m) and api-key-env (when no --api-key-env): the persona's first, then
 * the config's. With no server, the config's model is the local one when no -m. */
void cli_pick_backend(struct cli_opts *o);
/* -m names a file here (the local engine, whatever a persona, the config file or a resumed
 * session says). False for NULL. */
bool cli_model_is_file(const char *m);
/* Two base URLs name the same server ("…/v1/" and "…/v1" alike). */
bool cli_same_base(const char *a, const char *b);
/* How to ask a recorded server (BASE) again, for `natter replay` and /replay: KEY_ENV when the
 * caller has one for that server, else the config file's key variable when CFG names that
 * server (a key is never sent to a server its file did not name); CFG's timeouts. Sets
 * ro->api_key_env (borrowed from KEY_ENV or CFG), ro->connect_ms and ro->idle_ms. CFG may be
 * NULL. */
struct replay_opts;
void cli_replay_server(const struct backend_cfg *cfg, const char *key_env, const char *base,
                       struct replay_opts *ro);

/* Loads the model of o (with its context and threads). On failure prints "natter: <reason>"
 * to stderr and returns NULL. */
nt_model *cli_load_model(const struct cli_opts *o);
/* The KV cache type o asks for: --kv-type's, else NT_KV_TYPE_DEFAULT. */
int32_t cli_kv_type(const struct cli_opts *o);

/* The worker the chat modes answer with: the remote server of o->api_base (remote.h), else
 * the model of o loaded (cli_load_model). On failure prints "natter: <reason>", NULL. */
struct worker *cli_start_worker(const struct cli_opts *o);
/* The chat family for w: --template's, else the model's (plain for a remote worker). */
enum nt_chat_family cli_worker_family(const struct cli_opts *o, const struct worker *w);

/* Loads the persona of o (--persona, else the default; --context files added) into
 * o->loaded. strict (the one-shot mode): a missing or bad file is an error printed with its
 * `file:line:col` diagnostics. Else (the TUI) natter falls back to the built-in persona and
 * keeps the errors in o->persona_errors for the screen. A --context file that cannot be read
 * is an error either way. Returns 0 or an exit status (messages printed). */
int cli_open_persona(struct cli_opts *o, bool strict);
/* When no -m was given and the persona names a model that exists (as a path, or under
 * models/ here or in NATTER_DATADIR), sets o->model to it (static storage). */
void cli_persona_model(struct cli_opts *o);
/* The sampling parameters and answer limit for persona p: p's values over o's defaults, then
 * every option given on the command line over those. */
void cli_persona_params(const struct cli_opts *o, const struct persona *p, nt_sampler_params *sp,
                        int32_t *max_tokens);
/* A resumed session's sampling values (session_last_params: where the sliders were) over *sp,
 * but for the seed and every option given on the command line. */
void cli_session_params(const struct cli_opts *o, const nt_sampler_params *last,
                        nt_sampler_params *sp);
/* Puts persona p into chat c: the system prompt with the context documents, the examples,
 * the greeting, the stop strings and the chat family: the persona's template override over
 * model_family, or the chat's family kept when model_family is -1 (--template given).
 * Variables are expanded with model_name. system, when not NULL, replaces the persona's
 * system prompt (--system). c must not be busy. NT_OK or an error in err. */
int cli_chat_persona(struct chat *c, const struct persona *p, const char *model_name,
                     const char *system, int model_family, nt_err *err);
/* The part of cli_chat_persona that is not text: p's stop strings and memory, for a chat
 * whose fixed part came from a session (as used then). NT_OK or NT_ERR_NOMEM. */
int cli_chat_persona_rules(struct chat *c, const struct persona *p);
/* The thinking switch asked for (an enum chat_think; 0: nothing asked) by `who` ("--think",
 * "/think", "persona 'NAME': think:") set on c. False, with the message saying so in msg,
 * when the model's template has no switch: nothing is pretended. */
bool cli_chat_think(struct chat *c, int want, const char *who, char *msg, size_t cap);
/* The same for persona p's `think:`, when it has one (msg[0] = 0 when all is well). */
bool cli_persona_think(struct chat *c, const struct persona *p, char *msg, size_t cap);

struct docs;
/* The documents of a chat mode (app/docs/retrieve.h): --docs paths, the persona's
 * `documents:` and extra[0..n_extra) (context files moved there by cli_context_fit). NULL
 * with err->code NT_OK when there are none. background (the chat screen): indexed by
 * background tasks; else indexed now, with a progress line on stderr when it is a terminal
 * and notes (binary files skipped, ...) on stderr. NULL with err set on failure. */
struct docs *cli_docs_open(const struct cli_opts *o, const struct persona *p,
                           char *const *extra, size_t n_extra, bool background, nt_err *err);
/* After cli_chat_persona: when the fixed part leaves the answer less than a quarter of the
 * context and p has context documents read from files, those leave the system prompt (and
 * p) to be searched instead: their paths go to moved[0..cap) (malloc'd, *n_moved of them),
 * the chat is set up again without them, and note says so. NT_OK (nothing moved when all
 * fits) or an error. */
int cli_context_fit(struct chat *c, struct persona *p, const char *model_name, const char *system,
                    int model_family, char **moved, size_t cap, size_t *n_moved, char *note,
                    size_t note_cap, nt_err *err);

/* The one-shot mode: answers o->prompt (or stdin's text) once, streaming the answer to
 * stdout. Returns the process exit status. */
int cli_oneshot(const struct cli_opts *o);

/* When the model's context (--ctx) is longer than it was trained for, writes the warning
 * into buf and returns true (the one-shot mode prints it on stderr, the chat shows it). */
bool cli_ctx_warning(const nt_model_info *mi, char *buf, size_t cap);

/* Writes model text to f, making control characters visible (ESC → ␛) when f is a terminal
 * (tty true); raw bytes otherwise. */
void cli_write_text(FILE *f, const char *s, size_t n, bool tty);

#endif
