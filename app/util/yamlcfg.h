/* yamlcfg.h — natter's small layer over libyaml's document API, for config files people edit
 * by hand (personas, themes).
 *
 * The netplan way: load the whole document (yaml_parser_load), then walk each mapping with a
 * table of key handlers. Everything is validated: unknown keys (with a did-you-mean
 * suggestion), duplicate keys, wrong types, numbers out of range, missing required keys and
 * YAML syntax errors all become diagnostics that read
 *
 *     prompts/tutor.yaml:7:3: unknown key 'tempreature' (did you mean 'temperature'?)
 *       tempreature: 0.7
 *       ^
 *
 * i.e. `file:line:col: message`, the source line, and a caret under the column (lines and
 * columns count from 1; columns count characters). A walk reports every error it finds, not
 * only the first, so one run of `natter --check` shows them all.
 *
 * The same module knows where config files live (the search path) so personas and themes
 * share it. No terminal code here: diagnostics are collected as strings for the caller. */
#ifndef NATTER_YAMLCFG_H
#define NATTER_YAMLCFG_H

#include "natter.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <yaml.h>

/* ================================================================== diagnostics ===== */

/* A list of formatted diagnostics (each one message, possibly several lines, no trailing
 * newline). Zero-initialise before use; free with ycfg_diag_free. */
typedef struct ycfg_diag {
    char **v;
    size_t n, cap;
} ycfg_diag;

void ycfg_diag_free(ycfg_diag *d); /* frees the strings and zeroes the struct */
void ycfg_diag_clear(ycfg_diag *d);
/* Appends a copy of a formatted message (allocation failure drops it silently: diagnostics
 * must never make things worse). */
void ycfg_diag_add(ycfg_diag *d, const char *fmt, ...) NT_PRINTF(2, 3);
/* All messages joined with newlines, malloc'd (caller frees); "" when empty; NULL on OOM. */
char *ycfg_diag_join(const ycfg_diag *d);

/* ===================================================================== document ===== */

/* One loaded YAML file: its text (kept for quoting source lines) and its document. */
typedef struct ycfg {
    char *name;           /* file name as shown in messages (owned) */
    char *src;            /* the file's bytes, NUL-terminated (owned) */
    size_t len;
    yaml_document_t doc;
    bool have_doc;
    ycfg_diag *diag;      /* where errors go (borrowed; may be NULL) */
    int n_errors;         /* errors reported through this ycfg */
    size_t n_bytes;       /* bytes of string values read so far (see YCFG_MAX_VALUES) */
} ycfg;

#define YCFG_MAX_FILE (4u << 20)    /* config files larger than 4 MiB are refused */
/* Collections may nest this deep. libyaml's time grows with the square of the nesting (its
 * scanner walks every open level for each token: 40,000 levels took 6 s to 30 s), so deeper
 * files are refused before the document is built; natter's own formats nest 5 deep. */
#define YCFG_MAX_DEPTH 64
#define YCFG_MAX_ERRORS 50          /* diagnostics kept per file; then one "too many" line */
/* String values read from one file may add up to at most this: YAML aliases let a small file
 * repeat one long value many times, and each read copies it. */
#define YCFG_MAX_VALUES (16u << 20)

/* Reads the whole regular file at path (opened by nt_open_regular: a FIFO never blocks), at
 * most max bytes, into *out (malloc'd, caller frees, NUL-terminated; *len gets its length when
 * len is not NULL). Returns NT_OK, or NT_ERR_IO / NT_ERR_NOMEM with *out NULL and the reason
 * alone in err->msg ("cannot open: ...", "is a FIFO (named pipe), not a regular file", "file
 * too large (...)"), for the caller to put after the name it shows. */
int ycfg_read_file(const char *path, size_t max, char **out, size_t *len, nt_err *err);

/* Reads and parses path. name is what messages show (NULL: the path). Returns NT_OK, or
 * NT_ERR_IO / NT_ERR_FORMAT after adding a diagnostic to diag. Call ycfg_free in both cases. */
int ycfg_load(ycfg *c, const char *path, const char *name, ycfg_diag *diag);
/* The same from memory (text is copied). */
int ycfg_load_mem(ycfg *c, const char *name, const char *text, size_t len, ycfg_diag *diag);
void ycfg_free(ycfg *c); /* accepts a zeroed or failed ycfg */

/* The root node, or NULL for an empty document. */
yaml_node_t *ycfg_root(ycfg *c);
yaml_node_t *ycfg_node(ycfg *c, int id); /* NULL for a bad id */

/* Reports an error at node n (its start mark), or at line/col (1-based). Always returns
 * NT_ERR_FORMAT so handlers can `return ycfg_error(...)`. */
#define ycfg_error(c, n, ...) ycfg_report(c, false, n, __VA_ARGS__)
int ycfg_error_at(ycfg *c, size_t line, size_t col, const char *fmt, ...) NT_PRINTF(4, 5);
/* The same as a note ("file:line:col: note: ..."): something read, but worth saying (another
 * spelling of a key). Not an error: it is not counted, the load still succeeds, and the
 * caller shows the notes it finds in diag. */
#define ycfg_note(c, n, ...) ((void)ycfg_report(c, true, n, __VA_ARGS__))
/* Both: NT_ERR_FORMAT for an error, NT_OK for a note. */
int ycfg_report(ycfg *c, bool note, const yaml_node_t *n, const char *fmt, ...) NT_PRINTF(4, 5);

/* The 1-based line of the source (without its newline): pointer into c->src and length;
 * "" past the end. */
const char *ycfg_src_line(const ycfg *c, size_t line, size_t *len);

/* "a string", "a list", "a mapping", "nothing" (an empty value) — for messages. */
const char *ycfg_kind(const yaml_node_t *n);
/* True for an empty plain scalar, `~` or `null`. */
bool ycfg_is_null(const yaml_node_t *n);

/* ================================================================ typed readers ===== */
/* Each reads one value node. On a wrong type or bad value they report an error naming key
 * (as the user wrote it) and return NT_ERR_FORMAT, leaving *out untouched. */

/* A single-line string (no newline inside). *out is malloc'd; the caller frees the old value. */
int ycfg_read_str(ycfg *c, const yaml_node_t *n, const char *key, char **out);
/* Any string, multi-line allowed (block scalars `|` and `>`). */
int ycfg_read_text(ycfg *c, const yaml_node_t *n, const char *key, char **out);
/* A number within [min, max]. Quoted values are strings, not numbers. */
int ycfg_read_double(ycfg *c, const yaml_node_t *n, const char *key, double min, double max,
                     double *out);
/* An integer within [min, max]. */
int ycfg_read_long(ycfg *c, const yaml_node_t *n, const char *key, long min, long max,
                   long *out);
/* true/false (also yes/no, on/off). */
int ycfg_read_bool(ycfg *c, const yaml_node_t *n, const char *key, bool *out);
/* A list of strings (a single string is NOT accepted: lists must be lists). *out is a
 * malloc'd NULL-terminated array of malloc'd strings, *n its length; free with
 * ycfg_strv_free. Empty strings are rejected when allow_empty is false. */
int ycfg_read_strv(ycfg *c, const yaml_node_t *n, const char *key, bool allow_empty,
                   char ***out, size_t *count);
void ycfg_strv_free(char **v);

/* ============================================================ mapping handlers ===== */

struct ycfg_key;
/* Handles the value of one key. obj is the struct being filled. Returns NT_OK or
 * NT_ERR_FORMAT (after reporting). */
typedef int (*ycfg_handler)(ycfg *c, yaml_node_t *value, void *obj, const struct ycfg_key *k);

/* One row of a key table; a table ends with a row whose name is NULL. */
typedef struct ycfg_key {
    const char *name;
    ycfg_handler fn;
    size_t offset;   /* of the field in obj, for the generic handlers below */
    double min, max; /* for ycfg_h_double / ycfg_h_long */
    bool required;
    unsigned flag;   /* ORed into the unsigned at obj + set_offset when the key is seen */
} ycfg_key;

/* Walks mapping node map: each key must be a plain string listed in keys (else "unknown key"
 * with a suggestion), appear once (else "duplicate key"), and its handler must accept the
 * value. Required keys that are absent are reported at the mapping. set_offset, if not
 * (size_t)-1, locates an unsigned in obj that collects the flags of the keys seen. what names
 * the mapping in messages ("the persona", "'sampling'"). Every problem is reported; returns
 * NT_ERR_FORMAT if there was any. */
int ycfg_map(ycfg *c, yaml_node_t *map, const ycfg_key *keys, void *obj, size_t set_offset,
             const char *what);
#define YCFG_NO_SET ((size_t)-1)
/* A list of mappings (a persona's examples, an answer's sources): each item read by ycfg_map
 * into an element of size bytes of a calloc'd array, *out (*n elements; the caller frees the
 * array and what the handlers put in its elements, also on failure). v not a list: "NAME must
 * be a list of ITEMS, not KIND" (*out NULL). item names one in messages ("an example").
 * NT_OK, or NT_ERR_FORMAT after reporting every problem. */
int ycfg_map_list(ycfg *c, yaml_node_t *v, const ycfg_key *keys, size_t size, const char *name,
                  const char *items, const char *item, void **out, size_t *n);
/* A max at or above this means "no upper bound" (messages then say "at least MIN"). */
#define YCFG_UNBOUNDED 1e15

/* Generic handlers: the field at obj + k->offset is a char * (str, text), a double, a long,
 * a bool, or a ycfg_strvec (strv). */
int ycfg_h_str(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k);
int ycfg_h_text(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k);
int ycfg_h_double(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k);
int ycfg_h_long(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k);
int ycfg_h_bool(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k);
int ycfg_h_strv(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k);

/* A string list field for ycfg_h_strv. */
typedef struct ycfg_strvec {
    char **v; /* NULL-terminated, or NULL when empty */
    size_t n;
} ycfg_strvec;

/* ================================================================== suggestions ===== */

/* Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), so
 * 'tempreature' is 1 away from 'temperature'. */
size_t ycfg_edit_distance(const char *a, const char *b);
/* The candidate closest to word if it is close enough to be a likely typo, else NULL. */
const char *ycfg_suggest(const char *word, const char *const *cands, size_t n);

/* ================================================================= search path ===== */

/* Where natter looks for config files of a kind ("prompts" or "themes"), in order:
 *   ./KIND, $XDG_CONFIG_HOME/natter/KIND (default ~/.config/natter/KIND), datadir()/KIND
 *   (the checkout natter was built in, else NATTER_DATADIR: datadir.h).
 * Fills dirs[0..] with malloc'd paths (caller frees each) and returns how many (at most 3). */
int ycfg_search_dirs(const char *kind, char *dirs[3]);
/* The user's own folder of a kind: $XDG_CONFIG_HOME/natter/KIND (an absolute XDG_CONFIG_HOME
 * only), else ~/.config/natter/KIND. malloc'd; NULL when neither is known or out of memory.
 * Where natter writes what the user adds (import-card). */
char *ycfg_user_dir(const char *kind);
/* Finds a config file by name: a name containing '/' or ending in ".yaml" is a path used as
 * is; otherwise NAME.yaml is looked up in the search dirs. Returns a malloc'd path, or NULL
 * when not found. */
char *ycfg_find(const char *kind, const char *name);
/* How ycfg_find finds the file at path again, for a record to keep (sessions): its base name
 * without .yaml when that name finds this very file ("guide"), else its absolute path (path
 * itself when it cannot be resolved). malloc'd; NULL on OOM. */
char *ycfg_ref(const char *kind, const char *path);
/* ycfg_find, and when nothing is found a diagnostic naming what was looked for and where:
 * "persona 'tutor' not found (looked in prompts, ~/.config/natter/prompts, ...)". what is the
 * kind's singular for messages ("persona", "theme"). */
char *ycfg_find_or_report(const char *kind, const char *what, const char *name,
                          ycfg_diag *diag);

/* One file found by ycfg_list: base name (without .yaml) and path, both malloc'd. */
typedef struct ycfg_file {
    char *base;
    char *path;
} ycfg_file;

/* Every KIND/NAME.yaml in the search dirs; a name found in an earlier dir hides later ones.
 * Sorted by base name. *out is malloc'd (free with ycfg_files_free). Returns the count, or
 * -1 on allocation failure. */
int ycfg_list(const char *kind, ycfg_file **out);
void ycfg_files_free(ycfg_file *v, int n);

/* One config file listed with what its loader read from it (for --list-personas and
 * --list-themes). The strings are malloc'd and owned by the array. */
typedef struct ycfg_entry {
    char *base, *name, *description, *path;
    bool ok; /* false when the file has errors (name and description are NULL then) */
} ycfg_entry;

/* Loads the config file at path and hands over its name and description (malloc'd, the
 * caller frees; either may be NULL). Returns false when the file has errors; its
 * diagnostics go to diag, which the listing drops (--check is where they are shown). */
typedef bool (*ycfg_describe_fn)(const char *path, ycfg_diag *diag, char **name,
                                 char **description);

/* ycfg_list(kind), then describe on each file found. *out is malloc'd (free with
 * ycfg_entries_free). Returns the count, or -1 on allocation failure (*out NULL then). */
int ycfg_list_entries(const char *kind, ycfg_describe_fn describe, ycfg_entry **out);
void ycfg_entries_free(ycfg_entry *v, int n); /* accepts NULL */

/* Creates the folder path and its missing parents with mode (existing ones are left as
 * they are). NT_OK, or NT_ERR_IO with err->msg "DIR: cannot create: REASON". */
int ycfg_make_dirs(const char *path, mode_t mode, nt_err *err);
/* Writes data to path atomically: a temporary file in the same folder, fsync, then rename
 * (overwrite true) or link (refuses an existing file: NT_ERR_INVALID, "exists"). The file
 * gets mode 0644, whatever the umask. */
int ycfg_write_atomic(const char *path, const char *data, size_t len, bool overwrite,
                      nt_err *err);
/* The same with the file's permission bits given: 0600 for private files such as saved
 * sessions (the temporary file is created 0600, so it is never readable by others). */
int ycfg_write_atomic_mode(const char *path, const char *data, size_t len, bool overwrite,
                           mode_t mode, nt_err *err);

/* ==================================================================== writing ===== */
/* Files natter writes (personas from cards, sessions) go through libyaml's emitter, so what
 * it writes is what the parser reads back. The event helpers return false on failure
 * (allocation, or text that is not UTF-8: write such bytes as a !!binary value). */

struct strbuf;
/* Starts e writing into out (after header as `# ` comment lines when not NULL): UTF-8 kept
 * as it is, lines folded before width columns where YAML allows (-1: never), indent 2, the
 * stream and document opened. */
bool ycfg_emit_begin(yaml_emitter_t *e, struct strbuf *out, const char *header, int width);
/* Closes the document and stream, flushes and deletes e (also after a failure: ok false).
 * Returns ok and whether the end succeeded. */
bool ycfg_emit_end(yaml_emitter_t *e, bool ok);
/* A scalar with tag (NULL: none; "tag:yaml.org,2002:binary" writes !!binary) in style. */
bool ycfg_emit_scalar(yaml_emitter_t *e, const char *tag, const char *s, yaml_scalar_style_t style);
/* Text: a literal block when multi-line (libyaml quotes it when a block cannot carry it). */
bool ycfg_emit_text(yaml_emitter_t *e, const char *s);
/* A string that must read back as a string: quoted when it would read as a number or a YAML
 * word (yes, null, ...). */
bool ycfg_emit_str(yaml_emitter_t *e, const char *s);
/* A plain scalar (numbers, keys); a whole number. */
bool ycfg_emit_plain(yaml_emitter_t *e, const char *s);
bool ycfg_emit_long(yaml_emitter_t *e, long long v);
/* Start (start true) or end of a mapping or sequence, in flow style (`{a: 1}`, `[1, 2]`) or
 * block style. */
bool ycfg_emit_map(yaml_emitter_t *e, bool start, bool flow);
bool ycfg_emit_seq(yaml_emitter_t *e, bool start, bool flow);

#endif
