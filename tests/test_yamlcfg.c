/* Tests for app/util/yamlcfg.c: exact diagnostics (message, source line, caret) for every kind of
 * error, typed readers, key tables, suggestions, the search path and atomic writes. */
#include "util/yamlcfg.h"
#include "t.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct demo {
    char *name;
    char *text;
    double temperature;
    long top_k;
    bool on;
    ycfg_strvec stop;
    unsigned set;
} demo;

enum { D_NAME = 1, D_TEMP = 2, D_TOPK = 4 };

static const ycfg_key demo_keys[] = {
    {"name", ycfg_h_str, offsetof(demo, name), 0, 0, true, D_NAME},
    {"text", ycfg_h_text, offsetof(demo, text), 0, 0, false, 0},
    {"temperature", ycfg_h_double, offsetof(demo, temperature), 0, 2, false, D_TEMP},
    {"top_k", ycfg_h_long, offsetof(demo, top_k), 0, YCFG_UNBOUNDED, false, D_TOPK},
    {"on", ycfg_h_bool, offsetof(demo, on), 0, 0, false, 0},
    {"stop", ycfg_h_strv, offsetof(demo, stop), 0, 0, false, 0},
    {NULL, NULL, 0, 0, 0, false, 0},
};

static void demo_free(demo *d)
{
    free(d->name);
    free(d->text);
    ycfg_strv_free(d->stop.v);
}

/* Loads text as "t.yaml", walks it with demo_keys and returns all diagnostics joined. */
static char *run(const char *text, demo *d, int *rc)
{
    ycfg_diag diag = {0};
    ycfg c;
    memset(d, 0, sizeof *d);
    *rc = ycfg_load_mem(&c, "t.yaml", text, strlen(text), &diag);
    if (*rc == NT_OK) *rc = ycfg_map(&c, ycfg_root(&c), demo_keys, d, offsetof(demo, set), "the file");
    ycfg_free(&c);
    char *s = ycfg_diag_join(&diag);
    ycfg_diag_free(&diag);
    return s;
}

#define EXPECT_ERR(text, msg) do { demo d_; int rc_; char *s_ = run(text, &d_, &rc_); \
    T_EQ_INT(rc_, NT_ERR_FORMAT); T_EQ_STR(s_, msg); free(s_); demo_free(&d_); } while (0)

static void test_good(void)
{
    demo d;
    int rc;
    char *s = run("name: x\ntext: |\n  line one\n  line two\ntemperature: 0.7\ntop_k: 40\n"
                  "on: yes\nstop: [\"</s>\", 'User:']\n", &d, &rc);
    T_EQ_INT(rc, NT_OK);
    T_EQ_STR(s, "");
    T_EQ_STR(d.name, "x");
    T_EQ_STR(d.text, "line one\nline two\n");
    T_NEAR(d.temperature, 0.7, 1e-12);
    T_EQ_INT(d.top_k, 40);
    T_CHECK(d.on);
    T_EQ_INT(d.stop.n, 2);
    T_EQ_STR(d.stop.v[1], "User:");
    T_CHECK(d.stop.v[2] == NULL);
    T_EQ_INT(d.set, D_NAME | D_TEMP | D_TOPK);
    free(s);
    demo_free(&d);
}

static void test_errors(void)
{
    EXPECT_ERR("name: x\ntempreature: 0.7\n",
               "t.yaml:2:1: unknown key 'tempreature' (did you mean 'temperature'?)\n"
               "tempreature: 0.7\n"
               "^");
    EXPECT_ERR("name: x\nbanana: 1\n",
               "t.yaml:2:1: unknown key 'banana'\n"
               "banana: 1\n"
               "^");
    EXPECT_ERR("name: x\ntemperature: 7\n",
               "t.yaml:2:14: 'temperature' must be between 0 and 2, not 7\n"
               "temperature: 7\n"
               "             ^");
    EXPECT_ERR("name: x\ntemperature: hot\n",
               "t.yaml:2:14: 'temperature' must be a number, not 'hot'\n"
               "temperature: hot\n"
               "             ^");
    EXPECT_ERR("name: x\ntemperature: \"0.5\"\n",
               "t.yaml:2:14: 'temperature' must be a number, not a quoted string\n"
               "temperature: \"0.5\"\n"
               "             ^");
    EXPECT_ERR("name: x\ntemperature: [1]\n",
               "t.yaml:2:14: 'temperature' must be a number, not a list\n"
               "temperature: [1]\n"
               "             ^");
    EXPECT_ERR("name: x\ntop_k: -1\n",
               "t.yaml:2:8: 'top_k' must be at least 0, not -1\n"
               "top_k: -1\n"
               "       ^");
    EXPECT_ERR("name: x\ntop_k: 2000000000000000\n",
               "t.yaml:2:8: 'top_k' is too large: 2000000000000000\n"
               "top_k: 2000000000000000\n"
               "       ^");
    EXPECT_ERR("name: x\ntop_k: 99999999999999999999999\n",
               "t.yaml:2:8: 'top_k' is too large: 99999999999999999999999\n"
               "top_k: 99999999999999999999999\n"
               "       ^");
    EXPECT_ERR("name: x\ntop_k: -99999999999999999999999\n",
               "t.yaml:2:8: 'top_k' must be at least 0, not -99999999999999999999999\n"
               "top_k: -99999999999999999999999\n"
               "       ^");
    EXPECT_ERR("name: x\ntemperature: 1e999\n",
               "t.yaml:2:14: 'temperature' must be between 0 and 2, not 1e999\n"
               "temperature: 1e999\n"
               "             ^");
    EXPECT_ERR("name: x\ntemperature: .inf\n",
               "t.yaml:2:14: 'temperature' must be a number, not '.inf'\n"
               "temperature: .inf\n"
               "             ^");
    EXPECT_ERR("name: x\ntop_k: 4.5\n",
               "t.yaml:2:8: 'top_k' must be a whole number, not 4.5\n"
               "top_k: 4.5\n"
               "       ^");
    EXPECT_ERR("name: x\non: maybe\n",
               "t.yaml:2:5: 'on' must be true or false, not 'maybe'\n"
               "on: maybe\n"
               "    ^");
    EXPECT_ERR("text: hi\n",
               "t.yaml:1:1: missing required key 'name' in the file\n"
               "text: hi\n"
               "^");
    EXPECT_ERR("name: x\nname: y\n",
               "t.yaml:2:1: duplicate key 'name' (first given on line 1)\n"
               "name: y\n"
               "^");
    EXPECT_ERR("name: |\n  two\n  lines\n",
               "t.yaml:1:7: 'name' must be a single line\n"
               "name: |\n"
               "      ^");
    EXPECT_ERR("name:\n",
               "t.yaml:1:6: 'name' must be a string, not an empty value\n"
               "name:\n"
               "     ^");
    EXPECT_ERR("name: x\nstop: </s>\n",
               "t.yaml:2:7: 'stop' must be a list of strings, not a string\n"
               "stop: </s>\n"
               "      ^");
    EXPECT_ERR("name: x\nstop: [a, [b]]\n",
               "t.yaml:2:11: each item of 'stop' must be a string, not a list\n"
               "stop: [a, [b]]\n"
               "          ^");
    EXPECT_ERR("- a\n- b\n",
               "t.yaml:1:1: the file must be a mapping (key: value lines), not a list\n"
               "- a\n"
               "^");
    /* Two errors in one file: both reported, in order. */
    EXPECT_ERR("name: x\ntemperature: 9\ntopk: 3\n",
               "t.yaml:2:14: 'temperature' must be between 0 and 2, not 9\n"
               "temperature: 9\n"
               "             ^\n"
               "t.yaml:3:1: unknown key 'topk' (did you mean 'top_k'?)\n"
               "topk: 3\n"
               "^");
}

static void test_syntax_errors(void)
{
    EXPECT_ERR("name: x\n  bad: indent: here\n",
               "t.yaml:2:6: YAML syntax error: mapping values are not allowed in this context\n"
               "  bad: indent: here\n"
               "     ^");
    EXPECT_ERR("name: [a, b\ntext: x\n",
               "t.yaml:2:5: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence that starts on line 1)\n"
               "text: x\n"
               "    ^");
    EXPECT_ERR("name: \"caf\xc3\xa9\"\ntext: \xff\n",
               "t.yaml:2:7: YAML error: invalid leading UTF-8 octet\n"
               "text: \xff\n"
               "      ^");
    EXPECT_ERR("name: x\n---\nname: y\n",
               "t.yaml:3:1: only one YAML document is allowed in this file\n"
               "name: y\n"
               "^");
    /* The caret counts characters, not bytes. */
    EXPECT_ERR("name: x\ntext: \"\xc3\xa9\xc3\xa9\" oops\n",
               "t.yaml:2:12: YAML syntax error: did not find expected key (while parsing a block mapping that starts on line 1)\n"
               "text: \"\xc3\xa9\xc3\xa9\" oops\n"
               "           ^");
}

static void test_limits(void)
{
    /* Sixty unknown keys: fifty messages, then one line saying it stopped. */
    char text[2048] = "name: x\n";
    for (int i = 0; i < 60; i++) snprintf(text + strlen(text), sizeof text - strlen(text), "k%d: 1\n", i);
    ycfg_diag diag = {0};
    ycfg c;
    demo d = {0};
    T_EQ_INT(ycfg_load_mem(&c, "t.yaml", text, strlen(text), &diag), NT_OK);
    T_EQ_INT(ycfg_map(&c, ycfg_root(&c), demo_keys, &d, YCFG_NO_SET, "the file"), NT_ERR_FORMAT);
    ycfg_free(&c);
    T_EQ_INT(diag.n, YCFG_MAX_ERRORS + 1);
    T_EQ_STR(diag.v[YCFG_MAX_ERRORS], "t.yaml: too many errors, stopping here");
    ycfg_diag_free(&diag);
    demo_free(&d);

    /* An alias repeating a 1 MiB value twenty times is refused, not copied 20 times. */
    size_t big = 1u << 20;
    char *doc = malloc(big + 200);
    T_ASSERT(doc != NULL);
    char *p = doc + sprintf(doc, "name: x\ntext: &a \"");
    memset(p, 'x', big);
    p += big;
    p += sprintf(p, "\"\nstop: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n");
    memset(&d, 0, sizeof d);
    T_EQ_INT(ycfg_load_mem(&c, "t.yaml", doc, (size_t)(p - doc), &diag), NT_OK);
    T_EQ_INT(ycfg_map(&c, ycfg_root(&c), demo_keys, &d, YCFG_NO_SET, "the file"), NT_ERR_FORMAT);
    T_EQ_INT(diag.n, 1);
    /* Aliases share their anchor's node, so the place is the anchored value; the 1 MiB line
     * is quoted as a window. */
    char want[400];
    snprintf(want, sizeof want, "t.yaml:2:7: the values in this file add up to more than 16 MiB\n"
             "text: &a \"%.150s...\n      ^", doc + 18);
    T_EQ_STR(diag.n ? diag.v[0] : NULL, want);
    ycfg_free(&c);
    ycfg_diag_free(&diag);
    demo_free(&d);
    free(doc);
}

static void test_long_line(void)
{
    /* An error at column 1000 of a 2000-character line: "..." on both sides, caret under it. */
    char *text = malloc(2100);
    T_ASSERT(text != NULL);
    char *p = text + sprintf(text, "name: x\ntext: [");
    for (int i = 0; i < 330; i++) p += sprintf(p, "ab,");
    p += sprintf(p, "]]");
    for (int i = 0; i < 990; i++) *p++ = 'z';
    *p = 0;
    demo d;
    int rc;
    char *s = run(text, &d, &rc);
    T_EQ_INT(rc, NT_ERR_FORMAT);
    /* '[' at column 7, 330 items of 3 characters (columns 8..997), ']' closes at 998, the
     * second ']' at 999 is the error; the window starts 80 characters before it. */
    char want[400], window[161];
    memset(window, 0, sizeof window);
    memcpy(window, text + 8 + 919, 160);
    snprintf(want, sizeof want, "t.yaml:2:999: YAML syntax error: did not find expected key "
             "(while parsing a block mapping that starts on line 1)\n...%s...\n%*s^", window, 82, "");
    T_EQ_STR(s, want);
    free(s);
    free(text);
    demo_free(&d);
}

static void test_suggest(void)
{
    T_EQ_INT(ycfg_edit_distance("tempreature", "temperature"), 1);
    T_EQ_INT(ycfg_edit_distance("", "abc"), 3);
    T_EQ_INT(ycfg_edit_distance("kitten", "sitting"), 3);
    const char *c[] = {"name", "temperature", "top_k", "top_p"};
    T_EQ_STR(ycfg_suggest("nmae", c, 4), "name");
    T_EQ_STR(ycfg_suggest("top-p", c, 4), "top_p");
    T_CHECK(ycfg_suggest("zz", c, 4) == NULL);
    T_CHECK(ycfg_suggest("name", c, 4) == NULL); /* an exact match is not a suggestion */
}

static void test_io_errors(void)
{
    ycfg_diag d = {0};
    ycfg c;
    T_EQ_INT(ycfg_load(&c, "/nonexistent/x.yaml", "x.yaml", &d), NT_ERR_IO);
    ycfg_free(&c);
    T_EQ_STR(d.v[0], "x.yaml: cannot open: No such file or directory");
    ycfg_diag_free(&d);
}

static void test_search(void)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/xdg", t_tmpdir());
    setenv("XDG_CONFIG_HOME", dir, 1);
    char *dirs[3];
    int n = ycfg_search_dirs("prompts", dirs);
    T_EQ_INT(n, 3);
    T_EQ_STR(dirs[0], "prompts");
    snprintf(path, sizeof path, "%s/natter/prompts", dir);
    T_EQ_STR(dirs[1], path);
    for (int i = 0; i < n; i++) free(dirs[i]);

    /* A user file is found by name; the repository's ./prompts wins for a shared name. */
    snprintf(path, sizeof path, "%s/natter", dir);
    mkdir(dir, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/natter/prompts", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/natter/prompts/mine-zz.yaml", dir);
    nt_err e = {0};
    T_EQ_INT(ycfg_write_atomic(path, "name: mine\n", 11, false, &e), NT_OK);
    char *f = ycfg_find("prompts", "mine-zz");
    T_EQ_STR(f, path);
    free(f);
    T_CHECK(ycfg_find("prompts", "no-such-persona") == NULL);
    ycfg_file *v;
    int nf = ycfg_list("prompts", &v);
    int found = 0;
    for (int i = 0; i < nf; i++) {
        if (!strcmp(v[i].base, "mine-zz")) found++;
        if (i) T_CHECK(strcmp(v[i - 1].base, v[i].base) < 0);
    }
    T_EQ_INT(found, 1);
    ycfg_files_free(v, nf);
    unsetenv("XDG_CONFIG_HOME");
}

/* ycfg_read_file: the whole file with its length (NULs kept), and a reason for each refusal;
 * a FIFO is refused at once (before, the open waited for a writer forever). */
static void test_read_file(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/read_file.txt", t_tmpdir());
    nt_err e = {0};
    T_ASSERT(ycfg_write_atomic(path, "ab\0cd", 5, true, &e) == NT_OK);
    char *s = path; /* overwritten: NULL on failure, the text on success */
    size_t len = 99;
    T_EQ_INT(ycfg_read_file(path, 5, &s, &len, &e), NT_OK);
    T_ASSERT(s != NULL);
    T_EQ_INT(len, 5);
    T_CHECK(memcmp(s, "ab\0cd", 6) == 0); /* plus the terminator */
    free(s);
    T_EQ_INT(ycfg_read_file(path, 4, &s, &len, &e), NT_ERR_IO); /* one byte over the limit */
    T_CHECK(s == NULL);
    T_EQ_INT(len, 0);
    T_EQ_STR(e.msg, "file too large (5 bytes; at most 4 bytes)");
    T_EQ_INT(ycfg_read_file(t_tmpdir(), 1000, &s, NULL, &e), NT_ERR_IO); /* a folder */
    T_CHECK(s == NULL);
    T_EQ_STR(e.msg, "is a folder, not a regular file");
    snprintf(path, sizeof path, "%s/fifo", t_tmpdir());
    T_ASSERT(mkfifo(path, 0600) == 0);
    T_EQ_INT(ycfg_read_file(path, 1000, &s, NULL, &e), NT_ERR_IO);
    T_CHECK(s == NULL);
    T_EQ_STR(e.msg, "is a FIFO (named pipe), not a regular file");
    unlink(path);
    snprintf(path, sizeof path, "%s/no-such-file.txt", t_tmpdir());
    T_EQ_INT(ycfg_read_file(path, 1000, &s, NULL, &e), NT_ERR_IO);
    T_CHECK(s == NULL);
    T_EQ_STR(e.msg, "cannot open: No such file or directory");
    /* What ycfg_load says about each. */
    ycfg c;
    ycfg_diag d = {0};
    T_EQ_INT(ycfg_load(&c, t_tmpdir(), "dir.yaml", &d), NT_ERR_IO);
    ycfg_free(&c);
    T_ASSERT(d.n == 1);
    T_EQ_STR(d.v[0], "dir.yaml: is a folder, not a regular file");
    ycfg_diag_free(&d);
}

/* A describer that reads the first line as the name and fails for files without one. */
static bool describe_first_line(const char *path, ycfg_diag *diag, char **name, char **desc)
{
    char line[64] = "";
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = 0;
        fclose(f);
    }
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) {
        ycfg_diag_add(diag, "%s: empty", path);
        return false;
    }
    *name = strdup(line);
    *desc = strdup("described");
    return true;
}

static void test_list_entries(void)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/xdg-entries", t_tmpdir());
    setenv("XDG_CONFIG_HOME", dir, 1);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/natter", dir);
    mkdir(path, 0755);
    /* A kind of its own, so ./KIND and the data folder hold nothing. */
    snprintf(path, sizeof path, "%s/natter/listkind", dir);
    mkdir(path, 0755);
    nt_err e = {0};
    snprintf(path, sizeof path, "%s/natter/listkind/b-bad.yaml", dir);
    T_EQ_INT(ycfg_write_atomic(path, "", 0, true, &e), NT_OK);
    snprintf(path, sizeof path, "%s/natter/listkind/a-good.yaml", dir);
    T_EQ_INT(ycfg_write_atomic(path, "Good One\n", 9, true, &e), NT_OK);
    ycfg_entry *v;
    int n = ycfg_list_entries("listkind", describe_first_line, &v);
    T_EQ_INT(n, 2);
    T_ASSERT(n == 2 && v != NULL);
    T_EQ_STR(v[0].base, "a-good");
    T_EQ_STR(v[0].path, path);
    T_CHECK(v[0].ok);
    T_EQ_STR(v[0].name, "Good One");
    T_EQ_STR(v[0].description, "described");
    T_EQ_STR(v[1].base, "b-bad");
    T_CHECK(!v[1].ok);
    T_CHECK(v[1].name == NULL && v[1].description == NULL);
    ycfg_entries_free(v, n);
    ycfg_entries_free(NULL, 0);
    unsetenv("XDG_CONFIG_HOME");
}

static void test_atomic(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/atomic.txt", t_tmpdir());
    nt_err e = {0};
    T_EQ_INT(ycfg_write_atomic(path, "one", 3, false, &e), NT_OK);
    T_EQ_INT(ycfg_write_atomic(path, "two", 3, false, &e), NT_ERR_INVALID);
    char want[700];
    snprintf(want, sizeof want, "%s: file exists (use --force to replace it)", path);
    T_EQ_STR(e.msg, want);
    size_t len;
    char *s = t_read_file(path, &len);
    T_EQ_STR(s, "one");
    free(s);
    T_EQ_INT(ycfg_write_atomic(path, "three", 5, true, &e), NT_OK);
    s = t_read_file(path, &len);
    T_EQ_STR(s, "three");
    free(s);
}

int main(void)
{
    T_RUN(test_good);
    T_RUN(test_errors);
    T_RUN(test_syntax_errors);
    T_RUN(test_limits);
    T_RUN(test_long_line);
    T_RUN(test_suggest);
    T_RUN(test_io_errors);
    T_RUN(test_search);
    T_RUN(test_list_entries);
    T_RUN(test_read_file);
    T_RUN(test_atomic);
    return t_done();
}
