/* Implementation of the test harness declared in t.h: counters, failure reports, fixture
 * lookup and a per-program temporary directory. */
#include "t.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *t_prog = "tests";
static const char *t_cur;
static int t_cur_failed, t_cur_skipped;
static int t_npass, t_nfail, t_nskip;
static char t_tmp[256];

void t_begin(const char *name)
{
    t_cur = name;
    t_cur_failed = 0;
    t_cur_skipped = 0;
}

void t_end(void)
{
    if (t_cur_failed) {
        t_nfail++;
        printf("FAIL %s\n", t_cur);
    } else if (t_cur_skipped) {
        t_nskip++;
    } else {
        t_npass++;
        if (getenv("T_VERBOSE")) printf("ok   %s\n", t_cur);
    }
    fflush(stdout);
}

int t_failed_now(void) { return t_cur_failed; }

void t_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    printf("  %s:%d: [%s] ", file, line, t_cur ? t_cur : "?");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    t_cur_failed = 1;
}

void t_skip(const char *fmt, ...)
{
    va_list ap;
    printf("SKIP %s: ", t_cur ? t_cur : "?");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    t_cur_skipped = 1;
}

const char *t_fixture(const char *rel)
{
    static char slots[4][1024];
    static int next;
    const char *base = getenv("NATTER_FIXTURES");
    struct stat st;
    if (!base) base = "../shared/fixtures";
    if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
    char *p = slots[next++ & 3];
    snprintf(p, sizeof slots[0], "%s/%s", base, rel);
    return p;
}

char *t_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

const char *t_tmpdir(void)
{
    if (!t_tmp[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(t_tmp, sizeof t_tmp, "%s/natter-test-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(t_tmp)) {
            perror("mkdtemp");
            abort();
        }
    }
    return t_tmp;
}

int t_done(void)
{
    if (t_tmp[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_tmp);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", t_tmp);
    }
    printf("%s: %d passed, %d failed, %d skipped\n", t_prog, t_npass, t_nfail, t_nskip);
    return t_nfail ? 1 : 0;
}

__attribute__((constructor)) static void t_init_name(void)
{
    /* program_invocation_short_name names the binary, e.g. test_gguf */
    extern char *program_invocation_short_name;
    t_prog = program_invocation_short_name;
    setvbuf(stdout, NULL, _IOLBF, 0);
}
