/* natter's test harness: tiny assertion macros shared by every tests/test_*.c program.
 *
 * A test program defines `static void test_x(void)` functions and a main that calls
 * T_RUN(test_x) for each, then `return t_done();`. A failed check prints file:line and the
 * values, marks the current test failed and keeps going (so one run shows every failure).
 * t_done() prints `NAME: N passed, N failed, N skipped` which tests/run.sh adds up. */
#ifndef NATTER_TEST_T_H
#define NATTER_TEST_T_H

#include <stddef.h>
#include <stdint.h>

void t_begin(const char *name);
void t_end(void);
int t_done(void);
void t_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void t_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int t_failed_now(void);

/* Path of a file in ../shared/fixtures (or $NATTER_FIXTURES), or NULL when the folder is
 * absent. The returned string is static storage valid until the next call (4 rotating slots). */
const char *t_fixture(const char *rel);
/* Reads a whole file into malloc'd memory (NUL-terminated); *len gets its size. NULL on error. */
char *t_read_file(const char *path, size_t *len);
/* A fresh temporary directory for this test program (created once, removed by t_done). */
const char *t_tmpdir(void);

#define T_RUN(fn) do { t_begin(#fn); fn(); t_end(); } while (0)

#define T_CHECK(cond) do { if (!(cond)) t_fail(__FILE__, __LINE__, "check failed: %s", #cond); } while (0)
#define T_ASSERT(cond) do { if (!(cond)) { t_fail(__FILE__, __LINE__, "assert failed: %s", #cond); return; } } while (0)
#define T_EQ_INT(a, b) do { long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
    if (t_a_ != t_b_) t_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, t_a_, t_b_); } while (0)
#define T_EQ_STR(a, b) do { const char *t_a_ = (a), *t_b_ = (b); \
    if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) t_fail(__FILE__, __LINE__, "%s == %s:\n  got:      \"%s\"\n  expected: \"%s\"", \
        #a, #b, t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)"); } while (0)
#define T_NEAR(a, b, tol) do { double t_a_ = (double)(a), t_b_ = (double)(b); \
    if (!(fabs(t_a_ - t_b_) <= (tol))) t_fail(__FILE__, __LINE__, "%s ~= %s: %.9g vs %.9g (tol %g)", #a, #b, t_a_, t_b_, (double)(tol)); } while (0)
/* Skips the rest of the current test (call from the test function itself). */
#define T_SKIP(...) do { t_skip(__VA_ARGS__); return; } while (0)

#endif
