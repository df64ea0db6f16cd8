/* session_int.h — private to the session module's files (session.c: the record, the folder
 * and the commands; session_write.c: the YAML writer, the atomic save and the exports;
 * session_read.c: the validated reader). It holds what the writer and the reader must agree
 * on: which parameters an answer records (the table itself is app/conv/params.h), the names
 * of the ways an answer ends.
 * Nothing outside app/session*.c includes it. */
#ifndef NATTER_APP_SESSION_INT_H
#define NATTER_APP_SESSION_INT_H

#include "session.h"
#include "params.h"

#include <stddef.h>

/* The parameters of an answer's `params:` mapping: every sampler parameter of the table
 * (app/conv/params.h) but the seed, which has its own key. A live change may name any
 * sampler parameter, the seed too. Bits 1u << PARAM_x. */
unsigned session_params_mask(bool with_seed);


/* a followed by b, malloc'd; NULL when out of memory. */
char *session_str_join(const char *a, const char *b);

#endif
