/* Tests for engine/core.c: error messages and token vectors. */
#include "natter.h"
#include "t.h"

#include <math.h>
#include <string.h>

static void test_err_set(void)
{
    nt_err e = {0};
    T_EQ_INT(nt_err_set(&e, NT_ERR_FORMAT, "%s: bad %d", "f.gguf", 3), NT_ERR_FORMAT);
    T_EQ_INT(e.code, NT_ERR_FORMAT);
    T_EQ_STR(e.msg, "f.gguf: bad 3");
    T_EQ_INT(nt_err_set(NULL, NT_ERR_IO, "x"), NT_ERR_IO);
    T_EQ_STR(nt_status_str(NT_ERR_CANCELLED), "cancelled");
}

static void test_tokens(void)
{
    nt_tokens t = {0};
    for (int i = 0; i < 1000; i++) T_EQ_INT(nt_tokens_push(&t, i), NT_OK);
    int32_t more[3] = {7, 8, 9};
    T_EQ_INT(nt_tokens_append(&t, more, 3), NT_OK);
    T_EQ_INT(t.n, 1003);
    T_EQ_INT(t.v[999], 999);
    T_EQ_INT(t.v[1002], 9);
    nt_tokens_free(&t);
    T_EQ_INT(t.n, 0);
    T_CHECK(t.v == NULL);
}

int main(void)
{
    T_RUN(test_err_set);
    T_RUN(test_tokens);
    return t_done();
}
