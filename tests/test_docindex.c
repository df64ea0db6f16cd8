/* Tests for the document index (app/docs/): chunking at structure (Markdown headings, man
 * page sections, source definitions, long paragraphs and lines), roff to text, the FTS5
 * query built from a question, indexing a folder (binary files, FIFOs, symlink loops),
 * incremental updates (touch, modify, delete), BM25 ranking on the fixed corpus in
 * tests/data/docs, the scope, the background task, and two processes sharing one index. */
#include "t.h"

#include "docs/chunk.h"
#include "docs/docindex.h"
#include "util/strbuf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CORPUS "tests/data/docs"

static char *read_corpus(const char *name, size_t *n)
{
    char path[256];
    snprintf(path, sizeof path, CORPUS "/%s", name);
    return t_read_file(path, n);
}

static void test_chunk_markdown(void)
{
    size_t n;
    char *s = read_corpus("kettle.md", &n);
    T_ASSERT(s);
    T_EQ_INT(chunk_kind_of("kettle.md", s, n), CHUNK_MARKDOWN);
    doc_chunks c = {0};
    T_ASSERT(chunk_split(CHUNK_MARKDOWN, s, n, CHUNK_MAX_BYTES, &c) == NT_OK);
    /* One passage per section, each starting at its heading. */
    T_EQ_INT(c.n, 5);
    static const struct { const char *title; int a, b; } want[] = {
        {"The Kettle Manual", 1, 3}, {"Filling", 5, 8}, {"Boiling", 10, 17},
        {"Descaling", 19, 23}, {"Warranty", 25, 27}};
    for (size_t i = 0; i < c.n && i < 5; i++) {
        T_EQ_STR(c.v[i].title, want[i].title);
        T_EQ_INT(c.v[i].line_a, want[i].a);
        T_EQ_INT(c.v[i].line_b, want[i].b);
    }
    /* The fenced block's lines stay in the Boiling passage, the heading opens it. */
    T_CHECK(c.n >= 3 && !strncmp(c.v[2].text, "## Boiling\n", 11));
    T_CHECK(c.n >= 3 && strstr(c.v[2].text, "switch -> light on"));
    doc_chunks_free(&c);

    /* A heading is never a passage alone: the long paragraph under it fills its passage. */
    strbuf lb = {0};
    strbuf_puts(&lb, "# Title\n\n## Long\n\n");
    for (int i = 0; i < 20; i++) strbuf_printf(&lb, "line %02d of a paragraph longer than the budget\n", i);
    T_ASSERT(chunk_split(CHUNK_MARKDOWN, lb.s, lb.n, 200, &c) == NT_OK);
    T_CHECK(c.n >= 5);
    for (size_t i = 0; i < c.n; i++) T_CHECK(strlen(c.v[i].text) <= 200);
    T_CHECK(c.n >= 2 && !strncmp(c.v[1].text, "## Long\n\nline 00", 16) && c.v[1].line_a == 3);
    doc_chunks_free(&c);
    strbuf_free(&lb);

    /* A '#' inside a code fence is no heading. */
    const char *md = "# A\n\ntext\n\n```\n# not a heading\n```\n";
    T_ASSERT(chunk_split(CHUNK_MARKDOWN, md, strlen(md), CHUNK_MAX_BYTES, &c) == NT_OK);
    T_EQ_INT(c.n, 1);
    doc_chunks_free(&c);
    free(s);
}

/* A Markdown line that is one HTML comment: in no passage's text, in its search terms (the
 * comments met since the previous passage); a comment inside a code fence is code. */
static void test_chunk_terms(void)
{
    static const char s[] = "# Q\n\n<!-- other words | more words -->\n\nThe answer.\n"
                            "  <!-- second -->  \n\n## R\n\n```\n<!-- code -->\n```\n\nPlain.\n";
    doc_chunks c = {0};
    T_ASSERT(chunk_split(CHUNK_MARKDOWN, s, sizeof s - 1, CHUNK_MAX_BYTES, &c) == NT_OK);
    T_EQ_INT(c.n, 2);
    if (c.n == 2) {
        T_EQ_STR(c.v[0].text, "# Q\n\nThe answer.");
        T_EQ_STR(c.v[0].terms, " other words | more words \n second ");
        T_EQ_INT(c.v[0].line_a, 1);
        T_CHECK(strstr(c.v[1].text, "<!-- code -->") != NULL);
        T_EQ_STR(c.v[1].terms, "");
    }
    doc_chunks_free(&c);
    /* Plain text keeps such a line as text. */
    T_ASSERT(chunk_split(CHUNK_TEXT, s, sizeof s - 1, CHUNK_MAX_BYTES, &c) == NT_OK);
    T_CHECK(c.n >= 1 && strstr(c.v[0].text, "<!-- other words") != NULL);
    doc_chunks_free(&c);
}

static void test_chunk_budget(void)
{
    /* Small paragraphs join up to the budget; none is cut while it fits. */
    strbuf b = {0};
    for (int i = 0; i < 40; i++) strbuf_printf(&b, "Paragraph %d has a few words in it.\n\n", i);
    doc_chunks c = {0};
    T_ASSERT(chunk_split(CHUNK_TEXT, b.s, b.n, 200, &c) == NT_OK);
    T_CHECK(c.n > 5 && c.n < 20);
    int next = 1;
    for (size_t i = 0; i < c.n; i++) {
        T_CHECK(strlen(c.v[i].text) <= 200);
        T_EQ_INT(c.v[i].line_a, next); /* passages cover the file in order */
        T_CHECK(!strncmp(c.v[i].text, "Paragraph", 9));
        next = c.v[i].line_b + 2;
    }
    doc_chunks_free(&c);
    strbuf_free(&b);

    /* One paragraph longer than the budget is cut at line ends... */
    for (int i = 0; i < 30; i++) strbuf_printf(&b, "line %02d of one long paragraph\n", i);
    T_ASSERT(chunk_split(CHUNK_TEXT, b.s, b.n, 100, &c) == NT_OK);
    T_CHECK(c.n >= 9);
    for (size_t i = 0; i < c.n; i++) {
        T_CHECK(strlen(c.v[i].text) <= 100);
        T_CHECK(!strncmp(c.v[i].text, "line ", 5));
    }
    T_EQ_INT(c.v[c.n - 1].line_b, 30);
    doc_chunks_free(&c);
    strbuf_free(&b);

    /* ...and one line longer than it at a character boundary (é is two bytes). */
    for (int i = 0; i < 100; i++) strbuf_puts(&b, "é");
    T_ASSERT(chunk_split(CHUNK_TEXT, b.s, b.n, 31, &c) == NT_OK);
    T_EQ_INT(c.n, 7); /* 200 bytes, 30 a piece (15 characters) */
    for (size_t i = 0; i < c.n; i++) {
        T_CHECK(strlen(c.v[i].text) % 2 == 0);
        T_EQ_INT(c.v[i].line_a, 1);
    }
    doc_chunks_free(&c);
    strbuf_free(&b);

    /* Blank input: no passage. */
    T_ASSERT(chunk_split(CHUNK_TEXT, "\n \n\t\n", 5, 100, &c) == NT_OK);
    T_EQ_INT(c.n, 0);
    doc_chunks_free(&c);
}

static void test_chunk_code(void)
{
    size_t n;
    char *s = read_corpus("sub/parse.c", &n);
    T_ASSERT(s);
    T_EQ_INT(chunk_kind_of("sub/parse.c", s, n), CHUNK_CODE);
    doc_chunks c = {0};
    /* With room for one function a passage: each function whole, with its comment, the
     * blank line inside parse_header kept. */
    T_ASSERT(chunk_split(CHUNK_CODE, s, n, 360, &c) == NT_OK);
    T_EQ_INT(c.n, 3);
    if (c.n == 3) {
        T_EQ_INT(c.v[1].line_a, 4);
        T_EQ_INT(c.v[1].line_b, 15);
        T_CHECK(!strncmp(c.v[1].text, "/* Reads the header", 19));
        T_EQ_INT(c.v[2].line_a, 17);
        T_EQ_INT(c.v[2].line_b, 24);
        T_CHECK(strstr(c.v[2].text, "int count_fields"));
    }
    doc_chunks_free(&c);
    free(s);
}

static void test_roff(void)
{
    static const struct { const char *in, *out; enum chunk_roff_line kind; } cases[] = {
        {".\\\" a comment", "", CHUNK_ROFF_NONE},
        {".TH FROB 1", "", CHUNK_ROFF_NONE},
        {".SH \"EXIT STATUS\"", "EXIT STATUS", CHUNK_ROFF_HEADING},
        {".B frob", "frob", CHUNK_ROFF_TEXT},
        {".BR \\-\\-level \" \" \\fIN\\fR", "--level N", CHUNK_ROFF_TEXT},
        {"[\\fB\\-\\-level\\fR \\fIN\\fR] \\fIFILE\\fR...", "[--level N] FILE...", CHUNK_ROFF_TEXT},
        {"need \\(lqroot\\(rq \\(em or \\[em] not", "need \"root\" -- or -- not", CHUNK_ROFF_TEXT},
        {"a\\&.b\\e \\*(lqq", "a.b\\ \"q", CHUNK_ROFF_TEXT},
        {".PP", "", CHUNK_ROFF_BREAK},
        {".IP \\(bu 2", "*", CHUNK_ROFF_BREAK},
        {"text \\\" trailing comment", "text ", CHUNK_ROFF_TEXT},
        /* An escape before a character of several bytes takes all of it, never leaving a
         * lone continuation byte (fuzz_docs found it). */
        {"a\\\xd9\x80" "b \\f\xc3\xa9" "c \\(\xe2\x82\xac" "d", "ab c d", CHUNK_ROFF_TEXT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        strbuf b = {0};
        strbuf_puts(&b, "");
        enum chunk_roff_line k = chunk_roff_line(cases[i].in, strlen(cases[i].in), &b);
        T_EQ_STR(b.s, cases[i].out);
        T_EQ_INT(k, cases[i].kind);
        strbuf_free(&b);
    }
    size_t n;
    char *s = read_corpus("frob.1", &n);
    T_ASSERT(s);
    T_EQ_INT(chunk_kind_of("frob.1", s, n), CHUNK_MAN);
    T_EQ_INT(chunk_kind_of("page.txt", s, n), CHUNK_MAN); /* by its first line */
    doc_chunks c = {0};
    T_ASSERT(chunk_split(CHUNK_MAN, s, n, CHUNK_MAX_BYTES, &c) == NT_OK);
    T_EQ_INT(c.n, 5);
    if (c.n == 5) {
        T_EQ_STR(c.v[0].title, "NAME");
        T_EQ_STR(c.v[0].text, "NAME\nfrob - frobnicate files in place");
        T_EQ_INT(c.v[0].line_a, 3);
        T_EQ_INT(c.v[0].line_b, 4);
        T_EQ_STR(c.v[3].title, "OPTIONS");
        T_EQ_INT(c.v[3].line_a, 11);
        T_EQ_INT(c.v[3].line_b, 18);
        T_CHECK(strstr(c.v[3].text, "--dry-run"));
        T_CHECK(!strchr(c.v[3].text, '\\'));
    }
    doc_chunks_free(&c);
    free(s);

    T_CHECK(chunk_is_binary("a\0b", 3));
    T_CHECK(chunk_is_binary("\xff\xfe", 2));
    T_CHECK(!chunk_is_binary("plain é", 8));
}

static void test_query(void)
{
    const char *q1[] = {"What is \"the\" AND title:kettle NEAR(x*) -- descale?"};
    char *q = docindex_query(q1, 1);
    T_EQ_STR(q, "\"title\" OR \"kettle\" OR \"near\" OR \"descale\"");
    free(q);
    /* Follow-ups: the recent turn's words after the question's, each word once, the
     * question's own twice (they weigh double). */
    const char *q2[] = {"and how often?", "How do I descale the Kettle often"};
    q = docindex_query(q2, 2);
    T_EQ_STR(q, "\"often\" OR \"often\" OR \"descale\" OR \"kettle\"");
    free(q);
    const char *q3[] = {"?? a I"};
    q = docindex_query(q3, 1);
    T_EQ_STR(q, "");
    free(q);
}

/* The option or command a question names, held verbatim for the search. */
static void test_literal(void)
{
    static const struct { const char *q, *want; } cases[] = {
        {"What does --prompt do?", "--prompt"},
        {"how does /regen work", "/regen"},
        {"use --dry-run, or not", "--dry-run"},
        {"(--level) and --dry-run", "--level"}, /* the first one */
        {"the `--ctx-` option", "--ctx"},
        {"--top_k", "--top_k"},
        {"is /usr/lib searched", NULL}, /* a path */
        {"a--b and -- and --x and /x", NULL}, /* inside a word, no name, one letter */
        {"and/or nothing", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = docindex_literal(cases[i].q);
        if (cases[i].want ? !got || strcmp(got, cases[i].want) : got != NULL)
            t_fail(__FILE__, __LINE__, "'%s': expected %s, got %s", cases[i].q,
                   cases[i].want ? cases[i].want : "none", got ? got : "none");
        free(got);
    }
    T_CHECK(docindex_literal(NULL) == NULL);
}

/* A copy of the corpus in the test's folder, with a binary file, a FIFO and a link loop. */
static char *make_corpus(const char *name)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", t_tmpdir(), name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r " CORPUS " '%s'", dir, dir);
    if (system(cmd) != 0) return NULL;
    char p[600];
    snprintf(p, sizeof p, "%s/blob.bin", dir);
    FILE *f = fopen(p, "wb");
    if (!f) return NULL;
    fwrite("PNG\0\1\2", 1, 6, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/pipe", dir);
    if (mkfifo(p, 0600) != 0) return NULL;
    snprintf(p, sizeof p, "%s/sub/loop", dir);
    if (symlink("..", p) != 0) return NULL;
    snprintf(p, sizeof p, "%s/.hidden.md", dir);
    f = fopen(p, "w");
    if (!f) return NULL;
    fputs("# kettle kettle kettle\n", f);
    fclose(f);
    return dir;
}

typedef struct notes {
    strbuf text;
    int progress_calls;
    docindex_progress last;
} notes;

static void on_note(const char *line, void *user)
{
    notes *n = user;
    strbuf_puts(&n->text, line);
    strbuf_putc(&n->text, '\n');
}

static void on_progress(const docindex_progress *p, void *user)
{
    notes *n = user;
    n->progress_calls++;
    n->last = *p;
}

static char *db_path(const char *name)
{
    static char p[600];
    snprintf(p, sizeof p, "%s/%s.sqlite", t_tmpdir(), name);
    return p;
}

static size_t search(docindex *d, const char *question, chat_source **hits)
{
    const char *texts[] = {question};
    char *q = docindex_query(texts, 1);
    size_t n = 0;
    nt_err e = {0};
    if (docindex_search(d, q, NULL, 5, hits, &n, &e) != NT_OK) {
        t_fail(__FILE__, __LINE__, "search: %s", e.msg);
        n = 0;
    }
    free(q);
    return n;
}

/* The first hit's path ends with tail and covers line. */
static bool top_is(chat_source *h, size_t n, const char *tail, int line)
{
    if (n == 0) return false;
    size_t L = strlen(h[0].path), T = strlen(tail);
    return L >= T && !strcmp(h[0].path + L - T, tail) && h[0].line_a <= line && line <= h[0].line_b;
}

static void test_index_update(void)
{
    char *dir = make_corpus("c1");
    T_ASSERT(dir);
    docindex *d = NULL;
    nt_err e = {0};
    T_ASSERT(docindex_open(&d, db_path("u"), &e) == NT_OK);
    notes n = {0};
    docindex_cb cb = {.progress = on_progress, .note = on_note, .user = &n};
    T_ASSERT(docindex_update(d, dir, &cb, &e) == NT_OK);
    /* Four documents and the binary file (recorded, not cut); the FIFO noted, the loop and
     * the hidden file not entered. */
    T_EQ_INT(n.last.files_total, 5);
    T_EQ_INT(n.last.files_done, 5);
    T_EQ_INT(n.last.indexed, 4);
    T_EQ_INT(n.last.skipped, 1);
    T_CHECK(n.last.chunks >= 12);
    T_CHECK(n.text.s && strstr(n.text.s, "blob.bin: skipped: binary file"));
    T_CHECK(n.text.s && strstr(n.text.s, "pipe: skipped: not a regular file"));
    T_CHECK(n.progress_calls >= 6);
    size_t chunks_first = n.last.chunks;

    T_ASSERT(docindex_scope_add(d, dir, &e) == NT_OK);
    size_t files, chunks;
    T_ASSERT(docindex_scope_stats(d, 0, &files, &chunks, &e) == NT_OK);
    T_EQ_INT(files, 5);
    T_EQ_INT(chunks, chunks_first);

    /* Unchanged: nothing read. */
    strbuf_free(&n.text);
    T_ASSERT(docindex_update(d, dir, &cb, &e) == NT_OK);
    T_EQ_INT(n.last.indexed, 0);
    T_EQ_INT(n.last.unchanged, 5);
    T_CHECK(!n.text.s || !strstr(n.text.s, "blob.bin")); /* told once, not at every update */

    /* Touched (a new time, the same content): read, hashed, not cut again. */
    char p[700];
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    struct timespec ts[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    T_ASSERT(utimensat(AT_FDCWD, p, ts, 0) == 0);
    T_ASSERT(docindex_update(d, dir, &cb, &e) == NT_OK);
    T_EQ_INT(n.last.indexed, 0);
    T_EQ_INT(n.last.unchanged, 5);

    /* Modified: cut again, the new word found, the old one gone. */
    chat_source *h;
    size_t nh = search(d, "tomatoes frost", &h);
    T_CHECK(top_is(h, nh, "notes.txt", 3));
    chat_sources_free(h, nh);
    FILE *f = fopen(p, "w");
    T_ASSERT(f);
    fputs("Potatoes are planted in April.\n\nThe aubergines stay in the greenhouse.\n", f);
    fclose(f);
    T_ASSERT(docindex_update(d, dir, &cb, &e) == NT_OK);
    T_EQ_INT(n.last.indexed, 1);
    nh = search(d, "aubergines", &h);
    T_CHECK(top_is(h, nh, "notes.txt", 3));
    chat_sources_free(h, nh);
    nh = search(d, "tomatoes", &h);
    T_EQ_INT(nh, 0);
    chat_sources_free(h, nh);

    /* Deleted: gone from the index. */
    T_ASSERT(unlink(p) == 0);
    T_ASSERT(docindex_update(d, dir, &cb, &e) == NT_OK);
    T_EQ_INT(n.last.removed, 1);
    nh = search(d, "aubergines", &h);
    T_EQ_INT(nh, 0);
    chat_sources_free(h, nh);

    /* A path that is not there: an error naming it. */
    T_EQ_INT(docindex_update(d, "/nonexistent/docs", &cb, &e), NT_ERR_IO);
    T_EQ_STR(e.msg, "/nonexistent/docs: No such file or directory");
    strbuf_free(&n.text);
    docindex_free(d);
}

static void test_ranking(void)
{
    docindex *d = NULL;
    nt_err e = {0};
    T_ASSERT(docindex_open(&d, db_path("rank"), &e) == NT_OK);
    T_ASSERT(docindex_update(d, CORPUS, NULL, &e) == NT_OK);
    chat_source *h;
    /* Nothing in scope yet: nothing found. */
    size_t n = search(d, "descale", &h);
    T_EQ_INT(n, 0);
    chat_sources_free(h, n);
    T_ASSERT(docindex_scope_add(d, CORPUS, &e) == NT_OK);
    T_ASSERT(docindex_scope_add(d, CORPUS "/", &e) == NT_OK); /* the same: not twice */
    T_EQ_INT(docindex_scope_count(d), 1);

    static const struct { const char *q, *file; int line; } cases[] = {
        {"How do I descale my kettle with vinegar?", "docs/kettle.md", 21},
        {"How long is the warranty?", "docs/kettle.md", 27},
        {"when should roses be pruned", "docs/notes.txt", 6},
        {"what does the --dry-run option do", "docs/frob.1", 16},
        {"which exit status when frobnicating fails", "docs/frob.1", 19},
        {"function that parses the header name before the colon", "sub/parse.c", 5},
        {"count fields separated by commas", "sub/parse.c", 18},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        n = search(d, cases[i].q, &h);
        if (!top_is(h, n, cases[i].file, cases[i].line))
            t_fail(__FILE__, __LINE__, "'%s': expected %s:%d first, got %s:%d-%d", cases[i].q,
                   cases[i].file, cases[i].line, n ? h[0].path : "nothing", n ? h[0].line_a : 0,
                   n ? h[0].line_b : 0);
        for (size_t k = 1; k < n; k++) T_CHECK(h[k - 1].score >= h[k].score);
        chat_sources_free(h, n);
    }
    n = search(d, "descale", &h);
    T_ASSERT(n == 1);
    T_EQ_STR(h[0].path, CORPUS "/kettle.md"); /* shown relative to the current folder */
    T_EQ_STR(h[0].title, "Descaling");
    T_CHECK(h[0].score > 0);
    chat_sources_free(h, n);

    /* With a literal, only passages holding it verbatim, ranked by the words; none holds
     * --nope. */
    const char *lq[] = {"frobnicate files"};
    char *q = docindex_query(lq, 1);
    n = 0;
    T_ASSERT(docindex_search(d, q, "--dry-run", 5, &h, &n, &e) == NT_OK);
    T_EQ_INT(n, 1);
    T_CHECK(n == 1 && strstr(h[0].text, "--dry-run") && top_is(h, n, "docs/frob.1", 16));
    chat_sources_free(h, n);
    T_ASSERT(docindex_search(d, q, NULL, 5, &h, &n, &e) == NT_OK);
    T_CHECK(n > 1); /* without it, every passage with the words */
    chat_sources_free(h, n);
    T_ASSERT(docindex_search(d, q, "--nope", 5, &h, &n, &e) == NT_OK);
    T_EQ_INT(n, 0);
    chat_sources_free(h, n);
    free(q);

    /* What the documents lack: every word there (after stemming: "kettles"), none of them
     * weighed at all; one word missing; all missing. */
    double share = -1;
    char *words = (char *)"x";
    T_ASSERT(docindex_absent(d, "How do I descale kettles with vinegar?", &share, &words, &e) == NT_OK);
    T_CHECK(share == 0 && words == NULL);
    T_ASSERT(docindex_absent(d, "Can the kettle brew espresso?", &share, &words, &e) == NT_OK);
    T_CHECK(share > 0.3 && share < 1);
    T_CHECK(words && !strcmp(words, "brew, espresso"));
    free(words);
    T_ASSERT(docindex_absent(d, "Does it have a calendar?", &share, &words, &e) == NT_OK);
    T_CHECK(share > 0.999 && words && !strcmp(words, "calendar"));
    free(words);
    /* A word in many passages weighs less than a rare one: beside "water" (in several of
     * the manual's passages) the missing "zzyzx" is a larger share than beside "warranty"
     * (in one). */
    double common, rare;
    T_ASSERT(docindex_absent(d, "water zzyzx", &common, &words, &e) == NT_OK);
    free(words);
    T_ASSERT(docindex_absent(d, "warranty zzyzx", &rare, &words, &e) == NT_OK);
    free(words);
    T_CHECK(common > rare);
    /* No word to weigh: nothing missing; a symbol the tokenizer drops is not a word. */
    T_ASSERT(docindex_absent(d, "how do I?", &share, &words, &e) == NT_OK);
    T_CHECK(share == 0 && words == NULL);
    T_ASSERT(docindex_absent(d, "what is the \xe2\x96\x81 before kettle", &share, &words, &e) == NT_OK);
    T_CHECK(share == 0 && words == NULL);

    /* The scope narrows the search to a subfolder. */
    T_CHECK(docindex_scope_drop(d, CORPUS));
    T_ASSERT(docindex_scope_add(d, CORPUS "/sub", &e) == NT_OK);
    n = search(d, "kettle header", &h);
    T_EQ_INT(n, 1);
    T_CHECK(top_is(h, n, "sub/parse.c", 5));
    chat_sources_free(h, n);
    /* ... and what is missing: the manual's words are out of scope now. */
    T_ASSERT(docindex_absent(d, "descale with vinegar", &share, &words, &e) == NT_OK);
    T_CHECK(share > 0.999 && words && !strcmp(words, "descale, vinegar"));
    free(words);
    docindex_free(d);
}

static void task_progress(const docindex_progress *p, void *user)
{
    (void)p;
    atomic_fetch_add((atomic_int *)user, 1);
}

static void task_done(void *user)
{
    atomic_fetch_add((atomic_int *)user, 1000);
}

static void test_task(void)
{
    atomic_int calls;
    atomic_init(&calls, 0);
    docindex_cb cb = {.progress = task_progress, .done = task_done, .user = &calls};
    const char *paths[] = {CORPUS, "/nonexistent/x"};
    nt_err e = {0};
    docindex_task *t = docindex_task_start(db_path("task"), paths, 2, &cb, &e);
    T_ASSERT(t);
    for (int i = 0; i < 1000 && !docindex_task_done(t); i++) usleep(10000);
    T_CHECK(docindex_task_done(t));
    /* The missing path is the result; the corpus was indexed anyway. */
    T_EQ_INT(docindex_task_join(t, &e), NT_ERR_IO);
    T_EQ_STR(e.msg, "/nonexistent/x: No such file or directory");
    T_CHECK(atomic_load(&calls) >= 1005 && atomic_load(&calls) < 2000); /* done: once, last */
    docindex *d = NULL;
    T_ASSERT(docindex_open(&d, db_path("task"), &e) == NT_OK);
    T_ASSERT(docindex_scope_add(d, CORPUS, &e) == NT_OK);
    size_t files, chunks;
    T_ASSERT(docindex_scope_stats(d, 0, &files, &chunks, &e) == NT_OK);
    T_EQ_INT(files, 4);
    docindex_free(d);
}

/* Two processes index the same folder into one database at once, one searching as it goes:
 * both succeed and the index holds each file once. */
static void test_two_processes(void)
{
    char *dir = make_corpus("c2");
    T_ASSERT(dir);
    /* More files, so that the two really overlap. */
    for (int i = 0; i < 200; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/gen%03d.txt", dir, i);
        FILE *f = fopen(p, "w");
        if (!f) break;
        fprintf(f, "Generated note %d about widget%d.\n\nSecond paragraph %d.\n", i, i, i);
        fclose(f);
    }
    const char *db = db_path("two");
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        T_ASSERT(kids[k] >= 0);
        if (kids[k] == 0) {
            docindex *d = NULL;
            nt_err e = {0};
            int bad = docindex_open(&d, db, &e) != NT_OK || docindex_update(d, dir, NULL, &e) != NT_OK ||
                      docindex_scope_add(d, dir, &e) != NT_OK;
            chat_source *h = NULL;
            size_t n = 0;
            const char *texts[] = {"widget150"};
            char *q = docindex_query(texts, 1);
            bad = bad || docindex_search(d, q, NULL, 3, &h, &n, &e) != NT_OK || n != 1;
            if (bad) fprintf(stderr, "child %d: %s\n", k, e.msg);
            free(q);
            chat_sources_free(h, n);
            docindex_free(d);
            _exit(bad);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st = 0;
        T_CHECK(waitpid(kids[k], &st, 0) == kids[k] && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    docindex *d = NULL;
    nt_err e = {0};
    T_ASSERT(docindex_open(&d, db, &e) == NT_OK);
    T_ASSERT(docindex_scope_add(d, dir, &e) == NT_OK);
    size_t files, chunks;
    T_ASSERT(docindex_scope_stats(d, 0, &files, &chunks, &e) == NT_OK);
    T_EQ_INT(files, 205);
    /* Each generated file is one passage; the corpus's are counted by a fresh index. */
    docindex *one = NULL;
    T_ASSERT(docindex_open(&one, db_path("one"), &e) == NT_OK);
    T_ASSERT(docindex_update(one, dir, NULL, &e) == NT_OK);
    T_ASSERT(docindex_scope_add(one, dir, &e) == NT_OK);
    size_t f1, c1;
    T_ASSERT(docindex_scope_stats(one, 0, &f1, &c1, &e) == NT_OK);
    T_EQ_INT(chunks, c1);
    docindex_free(one);
    docindex_free(d);
}

int main(void)
{
    T_RUN(test_chunk_markdown);
    T_RUN(test_chunk_terms);
    T_RUN(test_chunk_budget);
    T_RUN(test_chunk_code);
    T_RUN(test_roff);
    T_RUN(test_query);
    T_RUN(test_literal);
    T_RUN(test_index_update);
    T_RUN(test_ranking);
    T_RUN(test_task);
    T_RUN(test_two_processes);
    return t_done();
}
