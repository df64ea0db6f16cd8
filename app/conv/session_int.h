/* session_int.h — private to the session module's files (session.c: the record, the folder
 * and the commands; session_write.c: the YAML writer, the atomic save and the exports;
 * session_read.c: the validated reader). It holds what the writer and the reader must agree
 * on: the sampling-parameter table (the names the file uses, the field each one fills, its
 * kind), the names of the ways an answer ends, and the base64 alphabet of !!binary values.
 * Nothing outside app/session*.c includes it. */
#ifndef NATTER_APP_SESSION_INT_H
#define NATTER_APP_SESSION_INT_H

#include "session.h"

#include <stddef.h>

/* How a parameter is stored in nt_sampler_params. */
enum sp_kind { SP_FLOAT, SP_INT, SP_SEED };

/* One sampling parameter: its canonical name (chat_param_names), kind and field offset. */
typedef struct sp_def {
    const char *name;
    enum sp_kind kind;
    size_t off; /* offsetof(nt_sampler_params, field) */
} sp_def;

#define SESSION_N_SP 9 /* entries of session_sp_defs; "seed" is the last */
extern const sp_def session_sp_defs[SESSION_N_SP];

/* The bytes a parameter occupies in nt_sampler_params. */
static inline size_t session_sp_size(const sp_def *d)
{
    return d->kind == SP_SEED ? sizeof(uint64_t) : 4;
}
/* A parameter's value in p as the shortest text that reads back to the same value. */
void session_sp_format(const sp_def *d, const nt_sampler_params *p, char *buf, size_t cap);

extern const char session_b64[65]; /* the base64 alphabet, NUL-terminated */

/* a followed by b, malloc'd; NULL when out of memory. */
char *session_str_join(const char *a, const char *b);

#endif
