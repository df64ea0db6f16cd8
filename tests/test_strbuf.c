/* Tests for app/util/strbuf.c: appends, formatted appends across the growth boundary, NUL bytes,
 * handing the text over, and the sticky allocation failure. */
#include "util/strbuf.h"
#include "t.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_put_and_take(void)
{
    strbuf b = {0};
    T_CHECK(strbuf_puts(&b, "hello"));
    T_CHECK(strbuf_putc(&b, ','));
    T_CHECK(strbuf_put(&b, " world!!", 6));
    T_EQ_INT(b.n, 12);
    T_EQ_STR(b.s, "hello, world");
    size_t len = 99;
    char *s = strbuf_take(&b, &len);
    T_EQ_STR(s, "hello, world");
    T_EQ_INT(len, 12);
    /* Taken: the buffer is empty again and reusable. */
    T_CHECK(b.s == NULL);
    T_EQ_INT(b.n, 0);
    T_EQ_INT(b.cap, 0);
    T_CHECK(strbuf_puts(&b, "again"));
    char *t = strbuf_take(&b, NULL);
    T_EQ_STR(t, "again");
    free(s);
    free(t);
}

static void test_empty(void)
{
    strbuf b = {0};
    size_t len = 99;
    char *s = strbuf_take(&b, &len);
    T_ASSERT(s != NULL); /* "" rather than NULL: NULL means out of memory */
    T_EQ_STR(s, "");
    T_EQ_INT(len, 0);
    free(s);
    /* An empty append still allocates, so s is a valid string. */
    T_CHECK(strbuf_put(&b, "", 0));
    T_ASSERT(b.s != NULL);
    T_EQ_STR(b.s, "");
    strbuf_free(&b);
    T_CHECK(b.s == NULL);
    strbuf_free(NULL);
}

static void test_nul_bytes(void)
{
    strbuf b = {0};
    T_CHECK(strbuf_put(&b, "a\0b", 3));
    T_CHECK(strbuf_putc(&b, '\0'));
    size_t len;
    char *s = strbuf_take(&b, &len);
    T_EQ_INT(len, 4);
    T_CHECK(memcmp(s, "a\0b\0", 5) == 0); /* plus the terminator */
    free(s);
}

/* Many small appends: the text stays exact through every reallocation. */
static void test_growth(void)
{
    strbuf b = {0};
    for (int i = 0; i < 10000; i++) strbuf_putc(&b, (char)('a' + i % 26));
    T_EQ_INT(b.n, 10000);
    T_CHECK(b.cap > b.n);
    int bad = 0;
    for (int i = 0; i < 10000; i++) bad += b.s[i] != (char)('a' + i % 26);
    T_EQ_INT(bad, 0);
    T_EQ_INT(b.s[10000], '\0');
    strbuf_free(&b);
}

static void test_printf(void)
{
    strbuf b = {0};
    T_CHECK(strbuf_printf(&b, "%d-%s", 42, "x"));
    T_EQ_STR(b.s, "42-x");
    /* Longer than the room left (and than the first allocation): the second pass. */
    char long_arg[300];
    memset(long_arg, 'z', sizeof long_arg - 1);
    long_arg[sizeof long_arg - 1] = 0;
    T_CHECK(strbuf_printf(&b, "[%s]", long_arg));
    T_EQ_INT(b.n, 4 + 2 + 299);
    T_CHECK(b.s[4] == '[' && b.s[5] == 'z' && b.s[303] == 'z' && b.s[304] == ']');
    T_EQ_INT(b.s[305], '\0');
    /* Exactly filling the room: the terminator needs one more byte. */
    strbuf c = {0};
    T_CHECK(strbuf_puts(&c, "ab"));
    size_t room = c.cap - c.n;
    char fill[256];
    T_ASSERT(room < sizeof fill);
    memset(fill, 'q', room);
    fill[room] = 0;
    T_CHECK(strbuf_printf(&c, "%s", fill));
    T_EQ_INT(c.n, 2 + room);
    T_EQ_INT(strlen(c.s), 2 + room);
    T_CHECK(strbuf_printf(&c, "%s", ""));
    T_EQ_INT(c.n, 2 + room);
    strbuf_free(&b);
    strbuf_free(&c);
}

/* A request too large to satisfy fails the buffer for good; take then returns NULL. */
static void test_oom_sticky(void)
{
    strbuf b = {0};
    T_CHECK(strbuf_puts(&b, "kept"));
    T_CHECK(!strbuf_put(&b, "x", SIZE_MAX)); /* size overflow: never reads the source */
    T_CHECK(b.oom);
    T_EQ_STR(b.s, "kept"); /* what was there stays a valid string */
    T_CHECK(!strbuf_puts(&b, "more"));
    T_CHECK(!strbuf_putc(&b, 'c'));
    T_CHECK(!strbuf_printf(&b, "%d", 1));
    T_EQ_INT(b.n, 4);
    size_t len = 99;
    T_CHECK(strbuf_take(&b, &len) == NULL);
    T_EQ_INT(len, 0);
    /* Reset: usable again. */
    T_CHECK(!b.oom);
    T_CHECK(strbuf_puts(&b, "ok"));
    char *s = strbuf_take(&b, NULL);
    T_EQ_STR(s, "ok");
    free(s);
    /* A caller may fail the buffer itself. */
    strbuf c = {0};
    strbuf_puts(&c, "part");
    c.oom = true;
    T_CHECK(strbuf_take(&c, NULL) == NULL);
}

/* Reading a stream: everything up to end of file, NULs included, appended after what is
 * there; a stream that cannot be read reports the error. */
static void test_read(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/strbuf_read.bin", t_tmpdir());
    FILE *f = fopen(path, "wb");
    T_ASSERT(f != NULL);
    /* 200 000 bytes: more than one 64 KiB piece. */
    for (int i = 0; i < 200000; i++) fputc(i % 251, f);
    T_ASSERT(fclose(f) == 0);
    strbuf b = {0};
    strbuf_puts(&b, "head:");
    f = fopen(path, "rb");
    T_ASSERT(f != NULL);
    T_CHECK(strbuf_read(&b, f));
    fclose(f);
    T_EQ_INT(b.n, 5 + 200000);
    T_CHECK(memcmp(b.s, "head:", 5) == 0);
    int bad = 0;
    for (int i = 0; i < 200000; i++) bad += (unsigned char)b.s[5 + i] != i % 251;
    T_EQ_INT(bad, 0);
    T_EQ_INT(b.s[b.n], '\0');
    strbuf_free(&b);
    /* An empty stream gives an empty string, not NULL. */
    f = fopen("/dev/null", "rb");
    T_ASSERT(f != NULL);
    T_CHECK(strbuf_read(&b, f));
    fclose(f);
    char *s = strbuf_take(&b, NULL);
    T_EQ_STR(s, "");
    free(s);
    /* A stream opened for writing cannot be read. */
    f = fopen(path, "ab");
    T_ASSERT(f != NULL);
    T_CHECK(!strbuf_read(&b, f));
    T_CHECK(ferror(f));
    T_CHECK(!b.oom);
    fclose(f);
    strbuf_free(&b);
}

int main(void)
{
    T_RUN(test_put_and_take);
    T_RUN(test_empty);
    T_RUN(test_nul_bytes);
    T_RUN(test_growth);
    T_RUN(test_printf);
    T_RUN(test_oom_sticky);
    T_RUN(test_read);
    return t_done();
}
