/* num.h — numbers read from text: option values on the command line and sampling parameters
 * typed on the chat screen. One rule for what a number is (the whole text, decimal, no leading
 * blank or trailing junk, never NaN) and one wording for the errors, which name the value but
 * not where it came from (the caller adds "natter: --top-p: " or "file:line:col: "):
 *     'ten' is not a whole number    '7x' is not a number    '1.5' is out of range (0 to 1)
 */
#ifndef NATTER_NUM_H
#define NATTER_NUM_H

#include "natter.h"

#include <stdint.h>

/* A whole number in [lo, hi] into *out. NT_OK, or NT_ERR_INVALID with the message in *err
 * (*out untouched). */
int num_long(const char *s, long lo, long hi, long *out, nt_err *err);
/* The same for an int32_t (lo and hi within its range). */
int num_int32(const char *s, int32_t lo, int32_t hi, int32_t *out, nt_err *err);
/* A number in [lo, hi] ("0.5", "1e-3", "-2"; not "nan"; "inf" only as a bound allows). */
int num_double(const char *s, double lo, double hi, double *out, nt_err *err);
/* A whole number in [0, hi] that may need 64 bits (seeds). */
int num_u64(const char *s, uint64_t hi, uint64_t *out, nt_err *err);

#endif
