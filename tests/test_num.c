/* Tests for app/util/num.c: whole numbers, numbers and 64-bit counts read from text, their
 * bounds, and the wording of each error (the command line and the chat screen show it). */
#include "util/num.h"
#include "t.h"

#include <math.h>
#include <string.h>
#include <stdint.h>

static void test_long(void)
{
    nt_err e = {0};
    long x = 99;
    T_EQ_INT(num_long("42", 0, 64, &x, &e), NT_OK);
    T_EQ_INT(x, 42);
    T_EQ_INT(num_long("-1", -1, 5, &x, &e), NT_OK);
    T_EQ_INT(x, -1);
    x = 7;
    T_EQ_INT(num_long("ten", 0, 64, &x, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "'ten' is not a whole number");
    T_EQ_INT(x, 7); /* untouched on error */
    T_EQ_INT(num_long("4x", 0, 64, &x, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "'4x' is not a whole number");
    T_EQ_INT(num_long("", 0, 64, &x, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "'' is not a whole number");
    T_EQ_INT(num_long(" 5", 0, 64, &x, &e), NT_ERR_INVALID); /* strtol would skip the blank */
    T_EQ_INT(num_long("1.5", 0, 64, &x, &e), NT_ERR_INVALID);
    T_EQ_INT(num_long("65", 0, 64, &x, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "'65' is out of range (0 to 64)");
    T_EQ_INT(num_long("-5", -1, 16777216, &x, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "'-5' is out of range (-1 to 16777216)");
    T_EQ_INT(num_long("99999999999999999999999", 0, 64, &x, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "'99999999999999999999999' is out of range (0 to 64)");
    int32_t i = 0;
    T_EQ_INT(num_int32("2147483647", INT32_MIN, INT32_MAX, &i, &e), NT_OK);
    T_EQ_INT(i, INT32_MAX);
}

static void test_double(void)
{
    nt_err e = {0};
    double x = 0;
    T_EQ_INT(num_double("0.5", 0, 1, &x, &e), NT_OK);
    T_NEAR(x, 0.5, 0);
    T_EQ_INT(num_double("1e-3", 0, 1, &x, &e), NT_OK);
    T_NEAR(x, 1e-3, 0);
    T_EQ_INT(num_double("1", 0, 1, &x, &e), NT_OK); /* bounds are inclusive */
    T_EQ_INT(num_double("7x", 0, 10, &x, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "'7x' is not a number");
    T_EQ_INT(num_double("nan", -INFINITY, INFINITY, &x, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "'nan' is not a number");
    T_EQ_INT(num_double("1.5", 0, 1, &x, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "'1.5' is out of range (0 to 1)");
    T_EQ_INT(num_double("inf", 0, 1e6, &x, &e), NT_ERR_INVALID);
    T_EQ_INT(num_double("1e999", 0, 1e6, &x, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "'1e999' is out of range (0 to 1000000)");
    /* A value too small for a double is still a (tiny) number. */
    T_EQ_INT(num_double("1e-400", 0, 1, &x, &e), NT_OK);
}

static void test_u64(void)
{
    nt_err e = {0};
    uint64_t x = 0;
    T_EQ_INT(num_u64("18446744073709551615", UINT64_MAX, &x, &e), NT_OK);
    T_CHECK(x == UINT64_MAX);
    T_EQ_INT(num_u64("18446744073709551616", UINT64_MAX, &x, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "'18446744073709551616' is out of range (0 to 18446744073709551615)");
    T_EQ_INT(num_u64("-1", UINT64_MAX, &x, &e), NT_ERR_INVALID); /* strtoull: 2^64-1 */
    T_EQ_STR(e.msg, "'-1' is not a whole number");
    T_EQ_INT(num_u64("0x10", UINT64_MAX, &x, &e), NT_ERR_INVALID);
    T_EQ_INT(num_u64("11", 10, &x, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "'11' is out of range (0 to 10)");
}

int main(void)
{
    T_RUN(test_long);
    T_RUN(test_double);
    T_RUN(test_u64);
    return t_done();
}
