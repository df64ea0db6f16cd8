/* session.h — saved conversations: the session record, its YAML file (written by hand for
 * readable, diff-friendly output; read back through yamlcfg with `file:line:col` diagnostics),
 * atomic private writes, and the sessions folder behind autosave, /save, /load, /sessions and
 * `natter --resume`. The file format is documented in man/natter-session.5.
 *
 * A session holds what `natter replay` needs to regenerate every answer byte for byte: the
 * model's identity (file, size, a hash of its metadata and tensor table), the template family,
 * the system prompt as used, the context size, and per answer the sampling parameters at its
 * start (seed included), every live change (token index, parameter, value), the generated
 * token ids, the stop strings, how the answer ended and the prompt's length. No terminal code
 * here.
 *
 * Typical TUI use:
 *     session *s = session_init();
 *     session_set_model(s, worker_gguf(w), worker_model_info(w));
 *     s->persona = strdup(name);                           (optional)
 *     ... after every answer's WEV_DONE: session_autosave(s, chat, &err);
 *     /save NAME: session_cmd_save(s, chat, NAME, msg, sizeof msg)
 *     /load NAME: session_cmd_load(&s, chat, NAME, &msg), then chat_prepare_reread + submit
 *     /sessions:  text = session_cmd_list(&n)
 *     session_free(s);
 */
#ifndef NATTER_APP_SESSION_H
#define NATTER_APP_SESSION_H

#include "natter.h"
#include "chat.h"
#include "util/yamlcfg.h"

#include <stdbool.h>
#include <stdint.h>

#define SESSION_VERSION 1             /* the `natter-session` value this code writes */
#define SESSION_MAX_FILE (256u << 20) /* larger session files are refused */

/* The file name a remote backend's record has (no file is involved). */
#define SESSION_REMOTE_FILE "(remote)"

/* The model a session was recorded with. */
typedef struct session_model {
    char *file;     /* base name of the GGUF file */
    char *path;     /* the path it was loaded from (absolute when it could be resolved) */
    char *arch;     /* general.architecture, e.g. "llama" */
    char *name;     /* general.name or the file's base name */
    uint64_t size;  /* bytes */
    uint64_t hash;  /* nt_gguf_model_hash, or an older natter's hash (hash_v1); while g is
                       set, read from g instead (session_model_hash) */
    const nt_gguf *g; /* the loaded model this record was made from (session_set_model),
                       borrowed: its hash is read when first needed, so a chat starts without
                       reading every weight first (the worker reads them in the background).
                       The record is replaced before that model is freed. NULL: from a file */
    int32_t kv_type; /* the KV cache's type it ran with (enum nt_type: F32, F16 or Q8_0; replay
                        uses it). A file without it was recorded before natter had other cache
                        types: F32, which is 0, what a zeroed record holds. */
    bool hash_v1;   /* hash is the "fnv1a64:" one natter wrote before nt_gguf_model_hash (over
                       the metadata and tensor table only): no longer computed, so such a
                       record is matched by file name and size (session_model_is) */
    /* A remote server's answers (remote.h): file SESSION_REMOTE_FILE, size and hash 0, arch
     * "remote", name the model asked for, and these (NULL when not given): */
    char *api_base;    /* the server's base URL without user, password or query */
    char *served;      /* the model name the server reported answering with */
    char *fingerprint; /* the server's system_fingerprint */
} session_model;

/* A few-shot example turn of the fixed part (a persona's examples, chat_set_prefix). */
typedef struct session_example {
    enum nt_chat_role role; /* NT_ROLE_USER or NT_ROLE_ASSISTANT */
    char *text;
} session_example;

/* One conversation. Every pointer is owned by the session (session_free). The turns use the
 * chat module's record (chat.h): text, and for answers tokens, params, changes, end, timings,
 * time, max_tokens, first, prompt_len and stop. */
typedef struct session {
    int version;
    int64_t created, updated;  /* Unix seconds (written as UTC, ISO 8601) */
    session_model model;
    char *persona;             /* how persona_open finds it again (persona_ref); NULL: none */
    char *theme;               /* the chat screen's theme (its name or file); NULL: not said */
    char *system;              /* the resolved system prompt as used; "" when none */
    session_example *examples; /* the fixed part after the system prompt, as used */
    size_t n_examples;
    char *greeting;            /* the persona's greeting as used; NULL when none */
    int32_t n_ctx;             /* the KV cache length */
    enum nt_chat_family family;
    bool raw;                  /* --raw: no template */
    size_t first;              /* chat_first_turn() when saved (a position on the current path) */
    chat_turn *turns;          /* every question and answer of the tree of alternatives (each
                                  turn's parent and current mark say where it goes: chat.h),
                                  a parent before its children; the current path through them
                                  (session_path_turns) is the conversation as it stands */
    size_t n_turns;

    /* Where the session lives (not part of the file). path is NULL until the first save; a
     * session read from a file knows its path. */
    char *path;
} session;

/* The current path through s->turns (chat_turns_path): malloc'd indices into s->turns, *n
 * their count (caller frees; never NULL for an empty session). NULL when out of memory. */
size_t *session_path_turns(const session *s, size_t *n);

/* The alternative made before s->turns[i] in its group (the turn it is another version of),
 * or CHAT_ROOT when it is its group's first. */
size_t session_alternative_to(const session *s, size_t i);

/* An empty session (version, created and updated set to now); NULL when out of memory. */
session *session_init(void);
void session_free(session *s);

/* True when m records the model in g: the same nt_gguf_model_hash. A record with an older
 * natter's hash (hash_v1) is matched by the file's base name and size instead. */
bool session_model_is(const session_model *m, const nt_gguf *g);
/* True when two records name the same model (both hashes current: equal hashes; else the
 * same base name and size). */
bool session_model_same(const session_model *a, const session_model *b);
/* Records a remote backend in s->model (see session_model): base URL (credentials already
 * removed, remote_base), the model asked for, and what the server reported (NULL or "":
 * none). NT_OK or NT_ERR_NOMEM (s unchanged). */
int session_set_remote(session *s, const char *api_base, const char *model, const char *served,
                       const char *fingerprint);
/* The backend of w: session_set_remote for a remote worker (what its server reported for the
 * last answer), else session_set_model for its model. Only while w runs no job. */
int session_set_worker(session *s, worker *w);
/* The record's model hash (from its model when it has one: nt_gguf_model_hash reads the
 * weights once, about a second for 4 GB, unless the worker already did). */
uint64_t session_model_hash(const session_model *m);
/* The hash as the file writes it: "xxh3:" and 16 hex digits (or "fnv1a64:..." for hash_v1). */
void session_model_hash_text(const session_model *m, char buf[32]);
/* Fills s->model from a loaded model (its hash is read when first needed). NT_OK or
 * NT_ERR_NOMEM. */
int session_set_model(session *s, const nt_gguf *g, const nt_model_info *info);
/* Copies the conversation of c (system prompt, examples, greeting, family, raw mode, context,
 * every turn of its tree, first turn) into s,
 * replacing what it held, and sets updated to now. A turn being generated (chat_busy) is left
 * out. A group of alternatives none of which the chat shows (after /edit) gets its last one
 * marked current, as the file would read it. NT_OK or NT_ERR_NOMEM. */
int session_capture(session *s, const chat *c);
/* Restores s into c, which must have no turns: system prompt, examples, greeting (replacing
 * the chat's), family, raw mode, the tree of turns and its current path, first turn, and the
 * thinking switch of the path's last answer (when c's model has one: chat_set_think_switch
 * first). The chat's KV cache knowledge stays empty: read the history in with
 * chat_prepare_reread. NT_ERR_INVALID (c not empty, or turns that do not alternate), NOMEM. */
int session_restore(const session *s, chat *c, nt_err *err);

/* The sampling parameters in force at the end of the last answer (its start values with
 * every live change applied): what the sliders showed when the session was saved. False
 * (out untouched) when there is no answer. */
bool session_last_params(const session *s, nt_sampler_params *out);

/* ================================================================ file format ===== */

/* The session as YAML text (malloc'd, NUL-terminated, caller frees; *len gets its length when
 * len is not NULL). NULL when out of memory. */
char *session_to_yaml(const session *s, size_t *len);
/* Reads and validates a session file. name is what messages show (NULL: the path). On success
 * *out is a new session with path set; on failure *out is NULL and diag holds every problem
 * as `file:line:col: message`, the source line and a caret (I/O problems as `file: message`).
 * Returns NT_OK, NT_ERR_IO, NT_ERR_FORMAT or NT_ERR_NOMEM. */
int session_load(session **out, const char *path, const char *name, ycfg_diag *diag);
/* The same from memory. */
int session_parse(session **out, const char *name, const char *text, size_t len,
                  ycfg_diag *diag);

/* Writes s to path atomically and privately: a temporary file (mode 0600) in the same folder,
 * fsync, rename over path, fsync the folder. A crash at any moment leaves either the old file
 * or the new one, whole. Refuses (NT_ERR_INVALID, nothing written) to replace an existing file
 * that is not a session this code can read, unless it is s->path itself (a file we wrote or
 * loaded). On success s->path becomes path. */
int session_save(session *s, const char *path, nt_err *err);

/* ============================================================ sessions folder ===== */

/* $XDG_STATE_HOME/natter/sessions (absolute XDG_STATE_HOME only), else
 * ~/.local/state/natter/sessions. malloc'd; NULL when neither is known or out of memory. */
char *session_dir(void);
/* Creates the folder (and its parents) with mode 0700 if needed. */
int session_dir_make(nt_err *err);
/* The path of a session by name: a name containing '/' or ending in ".yaml" is a path used as
 * it is; otherwise DIR/NAME.yaml. NULL or "" names the latest session in DIR (by modification
 * time). malloc'd; NULL when there is none (for the latest) or out of memory. */
char *session_path(const char *name);
/* A fresh file name in DIR for a new session: DIR/YYYY-MM-DD-HHMMSS.yaml (-2, -3, ... when
 * taken). malloc'd; NULL on failure. */
char *session_new_path(void);

/* One line of the /sessions list. */
typedef struct session_entry {
    char *name;      /* base name without .yaml */
    char *path;
    int64_t updated; /* from the file, else its modification time */
    char *model;     /* model file name, or NULL when the file did not load */
    char *first;     /* the first question (whole), or the load error's first line */
    size_t turns;    /* questions asked */
    bool ok;         /* the file loaded */
} session_entry;

/* Every *.yaml in DIR, newest first. *out malloc'd (session_entries_free). Returns the count,
 * or -1 when out of memory. A missing folder gives 0. */
int session_list(session_entry **out);
void session_entries_free(session_entry *v, int n);

/* ============================================ entry points for the TUI's commands ===== */

/* Autosave after every turn: captures c and writes it to s->path, choosing a new name in the
 * sessions folder on the first save (session_new_path). A session whose file failed to load
 * is never written over: that only happens when s->path was set by the caller to such a file,
 * and session_save refuses it; then a new name is chosen and s->path changes. Does nothing
 * (NT_OK) while c has no complete turn. */
int session_autosave(session *s, const chat *c, nt_err *err);
/* /save [NAME]: without a name saves now (to s->path, or a new name); with one saves to
 * session_path(NAME) and autosaves go there from then on. msg gets "saved to PATH" or the
 * error. Returns NT_OK or an error code. */
int session_cmd_save(session *s, const chat *c, const char *name, char *msg, size_t cap);
/* /load NAME: reads the session (nothing changes when that fails: *msg gets the diagnostics),
 * then clears c, restores the session into it and replaces *s with it (the model identity
 * stays the current model's; its persona, theme and context size are the recording's, for
 * the caller to bring back; *msg then notes when the recording was made with a different
 * model). The caller then reads the history in (chat_prepare_reread, worker_submit) so the
 * progress shows. c must not be busy. *msg is malloc'd (caller frees), possibly several
 * lines. Returns NT_OK or an error code. */
int session_cmd_load(session **s, chat *c, const char *name, char **msg);
/* /sessions: the list as text, one line per session, newest first:
 *     NAME  YYYY-MM-DD HH:MM  MODEL  N turns  "first question..."
 * *count gets the number of sessions listed. With none, the text is one line without a
 * newline: "no saved sessions in DIR" (*count 0), or why the sessions folder cannot be used
 * (*count -1). malloc'd (caller frees); NULL when out of memory. */
char *session_cmd_list(int *count);

/* ==================================================================== export ===== */

/* The conversation as Markdown, or as JSON in the shape of OpenAI chat messages
 * ([{"role":"system","content":...}, {"role":"user",...}, ...]). malloc'd; NULL on OOM.
 * A reasoning model's thoughts (text_think_split) are left out of its answers unless
 * thinking is set: then Markdown quotes them before the answer and JSON gives them as the
 * message's "reasoning_content". */
char *session_export_md(const session *s, bool thinking);
char *session_export_json(const session *s, bool thinking);
/* The export of both `natter export -o` and the chat screen's /export: s as Markdown ("md",
 * "markdown") or as the JSON above ("json"), written atomically to path (replacing it).
 * NT_OK, or an error code with err->msg saying why. */
int session_export_file(const session *s, const char *format, bool thinking, const char *path,
                        nt_err *err);

/* Helpers shared with replay: time as "2026-11-28T08:16:57Z" (buf of 32 bytes). */
void session_format_time(int64_t t, char buf[32]);
/* The live changes of an answer as (index, parameter, value) triples: the parameters that
 * differ between each recorded snapshot and the one before it. */
typedef struct session_change {
    int32_t index;
    const char *param; /* the parameter's name (param_defs, static) */
    char value[32];    /* shortest text that reads back to the same value */
} session_change;
/* Fills *out (malloc'd, caller frees) and returns the count, or -1 when out of memory. */
int session_changes(const chat_turn *t, session_change **out);

#endif
