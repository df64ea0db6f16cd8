/* json.h — natter's thin layer over jansson (Debian's libjansson) for reading and writing JSON.
 *
 * jansson does the parsing, the tree (json_t, json_object_get, json_string_value, ...) and the
 * text; this layer adds only what natter wants on top of it:
 * - json_parse: jansson's strict reading (one value, no comments, no trailing commas, valid
 *   UTF-8, paired surrogates, no duplicate keys, \u0000 allowed inside strings) plus a
 *   leading UTF-8 byte order mark skipped, nesting capped at JSON_MAX_DEPTH, and errors as
 *   "line:col: what" (1-based; columns count characters) with every byte of the input that
 *   the message quotes made visible, so nothing in a file drives the terminal:
 *
 *       2:4: '}' expected near '"b"'
 *
 * - json_writer: a streaming builder (begin/key/value/end calls) for the places that write
 *   JSON, dumped by jansson; strings that are not valid UTF-8 are written with U+FFFD in place
 *   of each bad sequence rather than dropped, and reals with 15 significant digits (every
 *   decimal of up to 15 digits reads back as itself; bench figures do not end in
 *   ...00000001). NaN and infinities are written as null.
 * Numbers never depend on LC_NUMERIC (jansson converts the decimal point itself). */
#ifndef NATTER_JSON_H
#define NATTER_JSON_H

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct json_error {
    int line, col; /* 0 when the error has no place (out of memory) */
    char msg[200]; /* "line:col: what" */
} json_error;

#define JSON_MAX_DEPTH 256

/* Parses text[0..len). Returns 0 (NT_OK) with *out set (the caller owns the reference:
 * json_decref), or NT_ERR_FORMAT / NT_ERR_NOMEM with *out NULL and err filled (err may be
 * NULL). */
int json_parse(const char *text, size_t len, json_t **out, json_error *err);

/* "null", "a boolean", "a number", "a string", "an array", "an object"; "nothing" for NULL. */
const char *json_type_name(const json_t *j);

/* ====================================================================== writer ===== */

/* Builds a JSON document. Zero-initialise (json_writer w = {0}); set pretty for two-space
 * indentation. Calls after an allocation failure do nothing (oom is set); json_writer_finish
 * then returns NULL. The caller keeps calls balanced (objects hold key/value pairs). */
typedef struct json_writer {
    bool pretty;
    bool oom;
    int depth;
    json_t *root;                  /* the document so far (owned) */
    json_t *open[JSON_MAX_DEPTH];  /* the containers still open, innermost last (borrowed) */
    char *key;                     /* the key waiting for its value (owned) */
} json_writer;

void json_w_begin_object(json_writer *w);
void json_w_end_object(json_writer *w);
void json_w_begin_array(json_writer *w);
void json_w_end_array(json_writer *w);
void json_w_key(json_writer *w, const char *key);
void json_w_string(json_writer *w, const char *s); /* NULL writes null */
void json_w_string_n(json_writer *w, const char *s, size_t n);
void json_w_double(json_writer *w, double v); /* NaN/inf → null */
void json_w_int(json_writer *w, int64_t v);
void json_w_bool(json_writer *w, bool v);
void json_w_null(json_writer *w);
/* The text (NUL-terminated, malloc'd, caller frees; *len gets its length if len is not
 * NULL), or NULL after an allocation failure. Resets the writer. */
char *json_writer_finish(json_writer *w, size_t *len);
void json_writer_free(json_writer *w); /* drops what was built */

/* A jansson string from s[0..n) with each invalid UTF-8 sequence replaced by U+FFFD (new
 * reference; NULL only when out of memory). */
json_t *json_string_lossy(const char *s, size_t n);
/* j as text: pretty (two-space indentation) or compact, reals as the writer writes them.
 * malloc'd, caller frees; NULL when out of memory. */
char *json_text(const json_t *j, bool pretty, size_t *len);

#endif
