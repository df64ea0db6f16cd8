/* Numbers read from text, with one rule and one wording for every caller (see num.h). */
#include "num.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

/* strtol and friends skip leading blanks and take a sign before them: "- 5" and " 5" are not
 * numbers here. */
static bool num_starts_well(const char *s)
{
    return s[0] && !isspace((unsigned char)s[0]);
}

int num_long(const char *s, long lo, long hi, long *out, nt_err *err)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (!num_starts_well(s) || *end || end == s)
        return nt_err_set(err, NT_ERR_INVALID, "'%s' is not a whole number", s);
    if (errno == ERANGE || x < lo || x > hi)
        return nt_err_set(err, NT_ERR_INVALID, "'%s' is out of range (%ld to %ld)", s, lo, hi);
    *out = x;
    return NT_OK;
}

int num_int32(const char *s, int32_t lo, int32_t hi, int32_t *out, nt_err *err)
{
    long x;
    int rc = num_long(s, lo, hi, &x, err);
    if (rc == NT_OK) *out = (int32_t)x;
    return rc;
}

int num_double(const char *s, double lo, double hi, double *out, nt_err *err)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (!num_starts_well(s) || *end || end == s || isnan(x))
        return nt_err_set(err, NT_ERR_INVALID, "'%s' is not a number", s);
    /* ERANGE also flags an underflow to a tiny number, which is still that number. */
    if ((errno == ERANGE && fabs(x) > 1) || x < lo || x > hi)
        return nt_err_set(err, NT_ERR_INVALID, "'%s' is out of range (%.15g to %.15g)", s, lo, hi);
    *out = x;
    return NT_OK;
}

int num_u64(const char *s, uint64_t hi, uint64_t *out, nt_err *err)
{
    /* strtoull takes "-1" as 2^64-1: a sign is refused first. */
    if (!num_starts_well(s) || s[0] == '-' || s[0] == '+')
        return nt_err_set(err, NT_ERR_INVALID, "'%s' is not a whole number", s);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end || end == s) return nt_err_set(err, NT_ERR_INVALID, "'%s' is not a whole number", s);
    if (errno == ERANGE || x > hi)
        return nt_err_set(err, NT_ERR_INVALID, "'%s' is out of range (0 to %" PRIu64 ")", s, hi);
    *out = (uint64_t)x;
    return NT_OK;
}
