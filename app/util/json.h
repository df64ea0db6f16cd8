/* json.h — a small strict JSON parser (RFC 8259) and writer.
 *
 * Used to import Character Card JSON and to export sessions. Strict means: one value and
 * nothing after it but whitespace, no comments, no trailing commas, no leading zeros, no NaN,
 * strings must be valid UTF-8 without raw control characters, \u escapes must pair their
 * surrogates, duplicate object keys are an error, nesting is capped. A leading UTF-8 byte
 * order mark is skipped. Errors carry a 1-based line and column (columns count characters):
 *
 *     3:14: expected ',' or '}' after an object member
 *
 * Numbers are parsed locale-independently (a German LC_NUMERIC does not turn "1.5" into 1). */
#ifndef NATTER_JSON_H
#define NATTER_JSON_H

#include "strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

typedef struct json json;

typedef struct json_member {
    char *key;      /* NUL-terminated (may also contain NULs from \u0000: see key_len) */
    size_t key_len;
    int line, col;  /* where the key starts */
    json *value;
} json_member;

/* A parsed value. The whole tree is owned by the root: free it with json_free(root). */
struct json {
    enum json_type type;
    int line, col; /* where the value starts */
    union {
        bool b;
        struct {
            double v;
            bool is_int;  /* the literal was an integer that fits int64_t */
            int64_t i;
        } num;
        struct {
            char *s;      /* NUL-terminated */
            size_t len;
        } str;
        struct {
            json **v;
            size_t n;
        } arr;
        struct {
            json_member *v;
            size_t n;
        } obj;
    } u;
};

typedef struct json_error {
    int line, col; /* 0 when the error has no place (out of memory) */
    char msg[160]; /* "line:col: what" */
} json_error;

#define JSON_MAX_DEPTH 256

/* Parses text[0..len). Returns 0 (NT_OK) with *out set, or NT_ERR_FORMAT / NT_ERR_NOMEM with
 * *out NULL and err filled (err may be NULL). */
int json_parse(const char *text, size_t len, json **out, json_error *err);
void json_free(json *j); /* accepts NULL */

/* Accessors: all accept NULL and wrong types and then return NULL / false / 0. */
const json *json_get(const json *obj, const char *key); /* member value, or NULL */
const json *json_at(const json *arr, size_t i);
size_t json_len(const json *j);                  /* items of an array, members of an object */
const char *json_str(const json *j);             /* a string's text, else NULL */
bool json_num(const json *j, double *out);       /* true for numbers */
bool json_int(const json *j, int64_t *out);      /* true for integer literals within int64 */
bool json_is_true(const json *j);
const char *json_type_name(enum json_type t);    /* "null", "a string", ... */

/* ====================================================================== writer ===== */

/* Builds JSON text in memory. Zero-initialise (json_writer w = {0}); set pretty for
 * two-space indentation. Calls after an allocation failure do nothing; json_writer_finish
 * then returns NULL. The caller keeps calls balanced (objects hold key/value pairs). */
typedef struct json_writer {
    strbuf out;   /* the text so far; out.oom after an allocation failure */
    bool pretty;
    int depth;
    bool first[JSON_MAX_DEPTH + 1]; /* no member written yet at this depth */
    bool after_key;
} json_writer;

void json_w_begin_object(json_writer *w);
void json_w_end_object(json_writer *w);
void json_w_begin_array(json_writer *w);
void json_w_end_array(json_writer *w);
void json_w_key(json_writer *w, const char *key);
void json_w_string(json_writer *w, const char *s); /* NULL writes null */
void json_w_string_n(json_writer *w, const char *s, size_t n);
void json_w_double(json_writer *w, double v); /* shortest text that reads back exactly; NaN/inf → null */
void json_w_int(json_writer *w, int64_t v);
void json_w_bool(json_writer *w, bool v);
void json_w_null(json_writer *w);
/* The text (NUL-terminated, malloc'd, caller frees; *len gets its length if len is not
 * NULL), or NULL after an allocation failure. Resets the writer. */
char *json_writer_finish(json_writer *w, size_t *len);
void json_writer_free(json_writer *w); /* drops the text */

#endif
