/* persona.h — personas: system prompts with their few-shot examples, context documents,
 * greeting, default sampling parameters and stop strings, read from prompts/NAME.yaml
 * (schema: man 5 natter-persona). Also the command-line entry points that deal with persona
 * and theme files (--check, --list-personas, --list-themes, import-card).
 *
 * A persona turns into the nt_chat_msg list that nt_chat_format renders: one system message
 * (system prompt, then the instruction and the context documents), then the example pairs
 * as user/assistant turns, then the conversation. Variables {{user}}, {{char}} (the persona's
 * name), {{date}} and {{model}} are expanded in the system prompt, greeting and examples.
 *
 * No terminal code: errors are collected in a ycfg_diag (each `file:line:col: message`, the
 * source line and a caret) for the caller to print or show. */
#ifndef NATTER_PERSONA_H
#define NATTER_PERSONA_H

#include "util/json.h"
#include "natter.h"
#include "backend.h"
#include "params.h"
#include "util/yamlcfg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Stop strings a persona may give, and bytes in each (UTF-8, at least 1): what a worker job
 * holds next to the template's own (worker.h). More, longer or empty ones are errors. */
#define PERSONA_MAX_STOP 16
#define PERSONA_STOP_MAX_BYTES 255

typedef struct persona_example {
    char *user, *assistant;
} persona_example;

/* A context document: inline text, or a file read when the persona is loaded. */
typedef struct persona_doc {
    char *title; /* shown to the model; the file's base name when not given */
    char *text;  /* the contents */
    char *file;  /* path as resolved (NULL for inline text) */
} persona_doc;

/* The `sampling:` values the file set (the rest keep the caller's values). The keys, ranges
 * and spellings are the parameter table's (app/conv/params.h). */
typedef struct persona_sampling {
    unsigned set;   /* bit 1u << PARAM_x: the file set that parameter */
    param_values v; /* the values set */
} persona_sampling;

/* A loaded persona. Every string and array is owned by it (persona_free). */
typedef struct persona {
    char *name;          /* display name */
    char *description;   /* one line, "" when absent */
    char *path;          /* file it came from, "(built-in)" for the default */
    char *system;        /* system prompt as written (variables not yet expanded); may be "" */
    char *greeting;      /* first assistant message, NULL when none */
    ycfg_strvec alt_greetings; /* other greetings /regen cycles through before the first
                                  question (a card's alternate_greetings); only with greeting */
    persona_example *examples;
    size_t n_examples;
    persona_doc *docs;
    size_t n_docs;
    char *context_instruction; /* NULL: PERSONA_DEFAULT_INSTRUCTION */
    persona_sampling sampling;
    ycfg_strvec stop;    /* extra stop strings: at most PERSONA_MAX_STOP, each 1 to
                            PERSONA_STOP_MAX_BYTES bytes (persona_load checks) */
    int template_family; /* enum nt_chat_family forced by the file, or -1 to use the model's */
    long memory;         /* earlier exchanges the model sees with each question (chat_set_memory);
                            -1 (no `memory:` key) = all that fit the context */
    int think;           /* `think: on|off`: an enum chat_think (chat.h) for the template's
                            thinking switch; 0 (CHAT_THINK_DEFAULT) when the file does not say */
    char *model;         /* preferred model (path or file name), NULL when none */
    backend_cfg backend; /* preferred server (`backend:`): api_base NULL when none */
    ycfg_strvec documents; /* files and folders to retrieve passages from (app/docs/),
                              resolved against the persona's folder; each exists */
} persona;

#define PERSONA_DEFAULT_INSTRUCTION                                                         \
    "Answer the user's questions using only the documents below. If the answer is not in "  \
    "the documents, say that the documents do not contain it; do not guess."

/* The built-in default persona (same text as prompts/default.yaml). NULL on OOM. */
persona *persona_builtin(void);
/* Loads and validates a persona file; context files are read relative to the persona's
 * folder. name is what messages call the file (NULL: path). Every problem goes to diag;
 * returns NULL if there was any. */
persona *persona_load(const char *path, const char *name, ycfg_diag *diag);
/* The same for the text a file at path would hold (its size checked against the file limit):
 * import-card validates a persona before writing anything. NULL with diagnostics in diag. */
persona *persona_load_mem(const char *path, const char *text, size_t len, ycfg_diag *diag);
/* Finds a persona by name (prompts/NAME.yaml on the search path, see yamlcfg.h) or by path. */
persona *persona_open(const char *name, ycfg_diag *diag);
/* How persona_open finds p again, for a session to record: its name when that finds its
 * file ("guide"), else its file's absolute path (ycfg_ref); "default" for the built-in one.
 * malloc'd, NULL on OOM. */
char *persona_ref(const persona *p);
/* persona_open, or the built-in persona when name is NULL or the file is missing or bad
 * (the errors stay in diag for the UI to show). NULL only on OOM. */
persona *persona_open_or_default(const char *name, ycfg_diag *diag);
void persona_free(persona *p);

/* Removes context document i (a --context file that does not fit the context is searched
 * instead). */
void persona_drop_doc(persona *p, size_t i);

/* Adds a context document at run time (`natter --persona docqa --context FILE`). */
int persona_add_context_file(persona *p, const char *path, nt_err *err);
int persona_add_context_text(persona *p, const char *title, const char *text, nt_err *err);

/* Values for the variables. NULL fields take defaults: user "User", model "the model",
 * date today's local date as YYYY-MM-DD. */
typedef struct persona_vars {
    const char *user;
    const char *model;
    const char *date;
} persona_vars;

/* text with {{user}}, {{char}}, {{date}}, {{model}} replaced; other text unchanged.
 * malloc'd, NULL on OOM. */
char *persona_expand(const persona *p, const persona_vars *v, const char *text);
/* The full system message: the expanded system prompt, then (when there are documents)
 * the instruction and each document. "" when the persona has neither. malloc'd. */
char *persona_system_text(const persona *p, const persona_vars *v);
/* The instruction that opens p's documents in its system message (the default one when the
 * file gives none); NULL when p is NULL or has no documents. Borrowed. */
const char *persona_instruction(const persona *p);
/* The text placed before retrieved passages and context documents: the persona's
 * context_instruction (expanded) or PERSONA_DEFAULT_INSTRUCTION. malloc'd, NULL on OOM. */
char *persona_docs_intro(const persona *p, const persona_vars *v);
/* The expanded greeting, or NULL when the persona has none (or on OOM). The caller shows it
 * and adds it to the conversation as its first assistant turn. */
char *persona_greeting_text(const persona *p, const persona_vars *v);
/* Greetings there are: the greeting and its alternatives (0 when none). */
size_t persona_n_greetings(const persona *p);
/* Greeting i (0: the greeting, then the alternatives, i taken modulo their count), expanded;
 * NULL when the persona has none (or on OOM). */
char *persona_greeting_at(const persona *p, const persona_vars *v, size_t i);

/* A nt_chat_msg list and the strings it points at. Zero-initialise; free with persona_msgs_free. */
typedef struct persona_msgs {
    nt_chat_msg *v;
    size_t n;
    char **owned; /* expanded strings the messages borrow */
    size_t n_owned;
} persona_msgs;

/* The messages for nt_chat_format: the system message (if not empty), each example as a user
 * and an assistant turn, then conv[0..n_conv) (borrowed: it must outlive out). conv holds
 * user and assistant turns only (the greeting, if shown, as its first assistant turn): the
 * persona supplies the one system message. Replaces out's previous contents. */
int persona_render(const persona *p, const persona_vars *v, const nt_chat_msg *conv,
                   size_t n_conv, persona_msgs *out, nt_err *err);
void persona_msgs_free(persona_msgs *m);

/* The chat family to use: the persona's override, else the model's. */
enum nt_chat_family persona_family(const persona *p, enum nt_chat_family model_family);
/* Tokens taken by the persona's fixed part (system message and examples) formatted with
 * family f and tokenized with t (BOS included when the model adds one). */
int persona_count_tokens(const persona *p, const persona_vars *v, const nt_tokenizer *t,
                         enum nt_chat_family f, int32_t *n_tokens, nt_err *err);

/* Copies the fields the persona sets into *sp and *max_tokens (either may be NULL). */
void persona_apply_sampling(const persona *p, nt_sampler_params *sp, int32_t *max_tokens);

/* The persona as YAML text in the documented schema (what import-card writes). malloc'd,
 * NULL on OOM. header, when not NULL, is written first as `# ` comment lines. */
char *persona_to_yaml(const persona *p, const char *header);

/* Builds a persona from a Character Card V2 (`"spec": "chara_card_v2"`, fields under
 * "data"): name, description, personality, scenario, system_prompt and
 * post_history_instructions make the system prompt; first_mes the greeting; mes_example
 * (blocks separated by <START>, lines "{{user}}: ..." / "{{char}}: ...") the example pairs.
 * *n_dropped counts unsupported {{macros}} turned into plain text. NT_ERR_FORMAT with a
 * message in err when the JSON is not such a card. */
int persona_from_card(const json_t *card, persona **out, int *n_dropped, nt_err *err);
/* "Dr. Ada Lovelace!" → "dr-ada-lovelace" (file name for the imported persona). malloc'd. */
char *persona_slug(const char *name);

/* Listing for --list-personas: base name, `name`, description and path of each persona
 * found (see ycfg_entry; ok is false when the file has errors). */
typedef ycfg_entry persona_entry;
int persona_list(persona_entry **out); /* count, or -1; free with persona_entries_free */
void persona_entries_free(persona_entry *v, int n);

/* ============================================= command-line entry points (cmd_persona.c) */
/* Like the subcommands in cmds.h: argv[0] is the option or command word itself ("--check",
 * "import-card"), the arguments follow; main calls them as run(argc - i, argv + i). Each
 * prints to stdout/stderr and returns the exit status (0 ok, 1 failure, 2 usage error). */

/* `natter --check [--model MODEL.gguf] FILE...`: validates persona and theme files (a file
 * is a theme when it sits in a folder named themes or has a `styles` key, else a persona).
 * Prints each file's errors, or "FILE: ok (...)"; with a model, also the tokens the
 * persona's fixed part takes. Returns 0 when every file is valid, 1 otherwise (2: usage). */
int cmd_check(int argc, char **argv);
/* `natter --list-personas` / `--list-themes`: name, description and file of each one found
 * on the search path (earlier folders hide later ones). */
int cmd_list_personas(void);
int cmd_list_themes(void);
/* `natter import-card CARD.json [-o prompts/NAME.yaml] [--force]`: converts a Character
 * Card V2 into a persona file (atomic write; an existing file is kept unless --force).
 * The default output is prompts/SLUG.yaml. */
int cmd_import_card(int argc, char **argv);

#endif
