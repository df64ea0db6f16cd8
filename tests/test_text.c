/* Tests for app/util/text.c: display widths (utf8proc), sanitising of control characters and
 * word wrapping with wide, combining and emoji characters. Expected widths are those of the
 * Unicode East Asian Width property (W/F = 2) and general category (Mn/Me/Cf = 0). */
#include "util/text.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

/* Wraps s and returns the lines joined with '|' (as they would be drawn) in a static buffer. */
static const char *wrap_str(const char *s, int width, enum text_wrap_mode mode, int *n_out)
{
    static char out[1024];
    text_buf b = {0};
    text_buf_put(&b, s, strlen(s), 0, true);
    text_line *lines = NULL;
    size_t n = 0, cap = 0;
    int r = text_wrap(b.s ? b.s : "", b.n, width, mode, &lines, &n, &cap);
    if (n_out) *n_out = r;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(out, "|");
        strncat(out, b.s + lines[i].start, lines[i].end - lines[i].start);
        if (lines[i].width > width && lines[i].end - lines[i].start > 4) strcat(out, "<OVER>");
    }
    free(lines);
    text_buf_free(&b);
    return out;
}

static void test_decode(void)
{
    int32_t cp;
    T_EQ_INT(text_decode("A", 1, &cp), 1);
    T_EQ_INT(cp, 'A');
    T_EQ_INT(text_decode("\xc3\xa9", 2, &cp), 2); /* é */
    T_EQ_INT(cp, 0xE9);
    T_EQ_INT(text_decode("\xe4\xb8\xad", 3, &cp), 3); /* 中 */
    T_EQ_INT(cp, 0x4E2D);
    T_EQ_INT(text_decode("\xf0\x9f\x98\x80", 4, &cp), 4); /* 😀 */
    T_EQ_INT(cp, 0x1F600);
    /* Invalid: truncated, overlong, surrogate, stray continuation. */
    T_EQ_INT(text_decode("\xe4\xb8", 2, &cp), 1);
    T_EQ_INT(cp, 0xFFFD);
    T_EQ_INT(text_decode("\xc0\xaf", 2, &cp), 1);
    T_EQ_INT(cp, 0xFFFD);
    T_EQ_INT(text_decode("\xed\xa0\x80", 3, &cp), 1);
    T_EQ_INT(cp, 0xFFFD);
    T_EQ_INT(text_decode("\x80", 1, &cp), 1);
    T_EQ_INT(cp, 0xFFFD);
    char buf[4];
    T_EQ_INT(text_encode(0x1F600, buf), 4);
    T_CHECK(memcmp(buf, "\xf0\x9f\x98\x80", 4) == 0);
}

/* text_next, the app's one UTF-8 decoder: the edges of each length are valid; overlong forms,
 * surrogates, values past U+10FFFF, truncated and broken sequences are not. */
static void test_next(void)
{
    static const struct {
        const char *s;
        size_t n;
        int len;    /* -1: invalid */
        int32_t cp;
    } cases[] = {
        {"\x00", 1, 1, 0},
        {"\x7f", 1, 1, 0x7F},
        {"\xc2\x80", 2, 2, 0x80},
        {"\xdf\xbf", 2, 2, 0x7FF},
        {"\xe0\xa0\x80", 3, 3, 0x800},
        {"\xed\x9f\xbf", 3, 3, 0xD7FF},  /* just below the surrogates */
        {"\xee\x80\x80", 3, 3, 0xE000},  /* just above them */
        {"\xef\xbf\xbd", 3, 3, 0xFFFD},  /* a real replacement character is valid */
        {"\xef\xbf\xbf", 3, 3, 0xFFFF},
        {"\xf0\x90\x80\x80", 4, 4, 0x10000},
        {"\xf4\x8f\xbf\xbf", 4, 4, 0x10FFFF},
        {"\xc3\xa9xyz", 5, 2, 0xE9},      /* only the first sequence */
        /* overlong forms */
        {"\xc0\x80", 2, -1, 0xFFFD},
        {"\xc1\xbf", 2, -1, 0xFFFD},
        {"\xe0\x80\x80", 3, -1, 0xFFFD},
        {"\xe0\x9f\xbf", 3, -1, 0xFFFD},
        {"\xf0\x80\x80\x80", 4, -1, 0xFFFD},
        {"\xf0\x8f\xbf\xbf", 4, -1, 0xFFFD},
        /* surrogates */
        {"\xed\xa0\x80", 3, -1, 0xFFFD},
        {"\xed\xb0\x80", 3, -1, 0xFFFD},
        {"\xed\xbf\xbf", 3, -1, 0xFFFD},
        /* past U+10FFFF, and bytes that lead nothing */
        {"\xf4\x90\x80\x80", 4, -1, 0xFFFD},
        {"\xf5\x80\x80\x80", 4, -1, 0xFFFD},
        {"\xf8\x88\x80\x80\x80", 5, -1, 0xFFFD},
        {"\xfe", 1, -1, 0xFFFD},
        {"\xff", 1, -1, 0xFFFD},
        /* truncated: by the text's end, or by n */
        {"\xc3", 1, -1, 0xFFFD},
        {"\xe4\xb8", 2, -1, 0xFFFD},
        {"\xf0\x9f\x98", 3, -1, 0xFFFD},
        {"\xc3\xa9", 1, -1, 0xFFFD},
        {"\xf0\x9f\x98\x80", 3, -1, 0xFFFD},
        /* broken: a lead byte without its continuation, a stray continuation */
        {"\xc3\x41", 2, -1, 0xFFFD},
        {"\xe4\x41\xad", 3, -1, 0xFFFD},
        {"\xf0\x9f\x41\x80", 4, -1, 0xFFFD},
        {"\x80", 1, -1, 0xFFFD},
        {"\xbf\xbf", 2, -1, 0xFFFD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t cp = 12345;
        int len = text_next(cases[i].s, cases[i].n, &cp);
        if (len != cases[i].len || cp != cases[i].cp)
            t_fail(__FILE__, __LINE__, "case %zu: text_next gave %d, U+%04X; want %d, U+%04X", i,
                   len, (unsigned)cp, cases[i].len, (unsigned)cases[i].cp);
        /* text_decode: the same, but an invalid sequence consumes one byte. */
        int32_t cp2;
        T_EQ_INT(text_decode(cases[i].s, cases[i].n, &cp2), len < 0 ? 1 : len);
        T_EQ_INT(cp2, cases[i].cp);
        if (len < 0 || len == (int)cases[i].n) T_EQ_INT(text_valid(cases[i].s, cases[i].n), len > 0);
    }
    T_CHECK(text_valid("", 0));
    T_CHECK(text_valid("h\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80", 12));
    T_CHECK(!text_valid("h\xc3\xa9 \xe4\xb8", 6));
}

static void test_lead_len_chars(void)
{
    T_EQ_INT(text_lead_len('a'), 1);
    T_EQ_INT(text_lead_len(0x80), 1); /* continuation */
    T_EQ_INT(text_lead_len(0xC3), 2);
    T_EQ_INT(text_lead_len(0xE4), 3);
    T_EQ_INT(text_lead_len(0xF0), 4);
    T_EQ_INT(text_lead_len(0xF8), 1); /* leads nothing */
    T_EQ_INT(text_lead_len(0xFF), 1);
    T_CHECK(text_is_cont(0x80) && text_is_cont(0xBF));
    T_CHECK(!text_is_cont(0x7F) && !text_is_cont(0xC0));
    T_EQ_INT(text_chars("h\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80", 12), 6);
    T_EQ_INT(text_chars("\xe4\xb8", 2), 1); /* a cut character still counts once */
    T_EQ_INT(text_chars("", 0), 0);
}

/* text_fput_escaped: every byte that could drive a terminal or blur a field is escaped. */
static void test_fput_escaped(void)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    T_ASSERT(f != NULL);
    const char in[] = "a\\b\n\t\r\x1b[31m\"q\" \xc2\x9b \xe4\xb8\xad \xff \xe4\xb8";
    text_fput_escaped(f, in, sizeof in - 1, true);
    fputc('|', f);
    text_fput_escaped(f, "\"", 1, false);
    fclose(f);
    T_EQ_STR(out, "a\\\\b\\n\\t\\r\\x1b[31m\\\"q\\\" \\u009b \xe4\xb8\xad \\xff \\xe4\\xb8|\"");
    free(out);
}

static void test_widths(void)
{
    T_EQ_INT(text_cp_width('a'), 1);
    T_EQ_INT(text_cp_width(0x4E2D), 2);  /* 中 CJK ideograph */
    T_EQ_INT(text_cp_width(0xFF21), 2);  /* Ａ fullwidth A */
    T_EQ_INT(text_cp_width(0xAC00), 2);  /* 가 Hangul syllable */
    T_EQ_INT(text_cp_width(0x0301), 0);  /* combining acute accent */
    T_EQ_INT(text_cp_width(0x200D), 0);  /* zero width joiner */
    T_EQ_INT(text_cp_width(0xFE0F), 0);  /* variation selector 16 */
    T_EQ_INT(text_cp_width(0x1F600), 2); /* 😀 */
    T_EQ_INT(text_cp_width(0x1B), 1);    /* drawn as ␛ */
    T_EQ_INT(text_width("e\xcc\x81t\xc3\xa9", 6), 3); /* e + combining acute, t, é */
    T_EQ_INT(text_width("\xe4\xb8\xad\xe6\x96\x87" "ab", 8), 6); /* 中文ab */
    T_EQ_INT(text_width("\xf0\x9f\x98\x80!", 5), 3);
}

static void test_sanitize(void)
{
    text_buf b = {0};
    /* An escape sequence from the model is shown, not obeyed: ESC → ␛ (U+241B). */
    T_EQ_INT(text_buf_put(&b, "\x1b[2Jhi", 6, 3, true), 0);
    T_EQ_STR(b.s, "\xe2\x90\x9b[2Jhi");
    T_EQ_INT(b.tag[0], 3);
    text_buf_clear(&b);
    /* BEL, CR, DEL, C1 CSI (U+009B), invalid byte, tab, newline kept or shown. */
    text_buf_put(&b, "a\x07\r\x7f\xc2\x9b\xff\tz\n", 10, 0, true);
    T_EQ_STR(b.s, "a\xe2\x90\x87\xe2\x90\x8d\xe2\x90\xa1\xef\xbf\xbd\xef\xbf\xbd    z\n");
    text_buf_clear(&b);
    text_buf_put(&b, "x\ny", 3, 0, false);
    T_EQ_STR(b.s, "x\xe2\x90\x8ay");
    /* No byte of the result is a C0/C1 control except the kept newline. */
    text_buf_clear(&b);
    char all[256];
    for (int i = 0; i < 256; i++) all[i] = (char)(i == 0 ? 1 : i);
    text_buf_put(&b, all, sizeof all, 0, false);
    size_t i = 0;
    int bad = 0;
    while (i < b.n) {
        int32_t cp;
        i += (size_t)text_decode(b.s + i, b.n - i, &cp);
        if (text_is_control(cp)) bad++;
    }
    T_EQ_INT(bad, 0);
    text_buf_free(&b);
}

static void test_wrap_words(void)
{
    int n;
    T_EQ_STR(wrap_str("the quick brown fox", 10, TEXT_WRAP_WORDS, &n), "the quick|brown fox");
    T_EQ_INT(n, 2);
    T_EQ_STR(wrap_str("hello world", 11, TEXT_WRAP_WORDS, &n), "hello world");
    T_EQ_STR(wrap_str("hello world", 5, TEXT_WRAP_WORDS, &n), "hello|world");
    /* Several spaces at the break are dropped; a hard newline keeps an empty line. */
    T_EQ_STR(wrap_str("aa   bb", 3, TEXT_WRAP_WORDS, &n), "aa|bb");
    T_EQ_STR(wrap_str("a\n\nb", 5, TEXT_WRAP_WORDS, &n), "a||b");
    T_EQ_INT(n, 3);
    T_EQ_STR(wrap_str("", 5, TEXT_WRAP_WORDS, &n), "");
    T_EQ_INT(n, 1);
    T_EQ_STR(wrap_str("ab\n", 5, TEXT_WRAP_WORDS, &n), "ab|");
    /* A word longer than the width is cut between characters. */
    T_EQ_STR(wrap_str("abcdefghij xy", 4, TEXT_WRAP_WORDS, &n), "abcd|efgh|ij|xy");
    /* Indentation at the start of a paragraph is kept. */
    T_EQ_STR(wrap_str("  ab cd", 5, TEXT_WRAP_WORDS, &n), "  ab|cd");
}

static void test_wrap_wide(void)
{
    int n;
    /* 中文字符 is 8 columns: at width 5 a wide char never straddles the edge. */
    T_EQ_STR(wrap_str("\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97\xe7\xac\xa6", 5, TEXT_WRAP_WORDS, &n),
             "\xe4\xb8\xad\xe6\x96\x87|\xe5\xad\x97\xe7\xac\xa6");
    /* a + 中: at width 2 the wide char goes to the next line. */
    T_EQ_STR(wrap_str("a\xe4\xb8\xad", 2, TEXT_WRAP_CHARS, &n), "a|\xe4\xb8\xad");
    /* Combining marks stay with their base: "e\u0301" x4 at width 2. */
    T_EQ_STR(wrap_str("e\xcc\x81" "e\xcc\x81" "e\xcc\x81" "e\xcc\x81", 2, TEXT_WRAP_CHARS, &n),
             "e\xcc\x81" "e\xcc\x81|e\xcc\x81" "e\xcc\x81");
    /* Emoji are two columns. */
    T_EQ_STR(wrap_str("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 4, TEXT_WRAP_CHARS, &n),
             "\xf0\x9f\x98\x80\xf0\x9f\x98\x80|\xf0\x9f\x98\x80");
    /* Width 1 with a wide char: placed anyway (no endless loop), one per line. */
    T_EQ_STR(wrap_str("\xe4\xb8\xad\xe4\xb8\xad", 1, TEXT_WRAP_CHARS, &n),
             "\xe4\xb8\xad|\xe4\xb8\xad");
    /* Control characters count as their one-column picture. */
    T_EQ_STR(wrap_str("\x1b\x1b\x1b", 2, TEXT_WRAP_CHARS, &n),
             "\xe2\x90\x9b\xe2\x90\x9b|\xe2\x90\x9b");
}

static void test_cursor(void)
{
    const char *s = "abcdef\n\xe4\xb8\xadx";
    text_line *lines = NULL;
    size_t n = 0, cap = 0;
    T_EQ_INT(text_wrap(s, strlen(s), 4, TEXT_WRAP_CHARS, &lines, &n, &cap), 3);
    int row, col;
    text_cursor(s, lines, n, 0, &row, &col);
    T_EQ_INT(row, 0);
    T_EQ_INT(col, 0);
    text_cursor(s, lines, n, 4, &row, &col); /* end of full line "abcd" → start of "ef" */
    T_EQ_INT(row, 1);
    T_EQ_INT(col, 0);
    text_cursor(s, lines, n, 6, &row, &col); /* on the '\n' after "ef" */
    T_EQ_INT(row, 1);
    T_EQ_INT(col, 2);
    text_cursor(s, lines, n, 10, &row, &col); /* after 中 */
    T_EQ_INT(row, 2);
    T_EQ_INT(col, 2);
    text_cursor(s, lines, n, strlen(s), &row, &col);
    T_EQ_INT(row, 2);
    T_EQ_INT(col, 3);
    free(lines);
}

/* s[0..n) as a string (static storage, for one comparison at a time). */
static const char *piece(const char *s, size_t n)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)n, s);
    return buf;
}

static void test_code_block(void)
{
    const char *t = "Here:\n```c\nint x;\n  y();\n```\ntext ``` not a fence\n   ~~~\nsecond\n```\nstill\n~~~\nopen\n```sh\nlast";
    size_t s = 0, n = 0;
    T_ASSERT(text_code_block(t, 1, &s, &n));
    T_EQ_STR(piece(t + s, n), "int x;\n  y();"); /* indentation kept */
    T_ASSERT(text_code_block(t, 2, &s, &n));
    T_EQ_STR(piece(t + s, n), "second\n```\nstill"); /* ~~~ closes only ~~~ */
    T_ASSERT(text_code_block(t, 3, &s, &n));
    T_EQ_STR(piece(t + s, n), "last"); /* left open: to the end */
    T_CHECK(!text_code_block(t, 4, &s, &n));
    T_CHECK(!text_code_block("no code", 1, &s, &n));
    T_CHECK(!text_code_block("    ```\nindented four: code, not a fence\n", 1, &s, &n));
    T_ASSERT(text_code_block("```\n```", 1, &s, &n));
    T_EQ_INT(n, 0);
}

/* "thinking | answer": where each part starts and ends, while open, closed and absent. */
static void think_case(const char *s, size_t end, const char *inside, bool closed)
{
    text_think th;
    text_think_split(s, strlen(s), &th);
    T_EQ_INT(th.end, end);
    T_CHECK(th.closed == closed);
    if (inside) {
        T_EQ_INT(th.in_b - th.in_a, strlen(inside));
        T_CHECK(memcmp(s + th.in_a, inside, strlen(inside)) == 0);
    }
}

static void test_think_split(void)
{
    think_case("<think>\nhmm, 2+2\n</think>\n\nFour.", 27, "hmm, 2+2", true);
    think_case("\n <think>a</think>b", 18, "a", true);
    think_case("<think>\n\n</think>\n\nHi", 19, "", true);
    think_case("<think>still going", 18, "still going", false); /* open: all thinking */
    think_case("<think>", 7, "", false);
    think_case("No thoughts. <think>x</think>", 0, NULL, false); /* only at the start */
    think_case("<thin", 0, NULL, false);
    think_case("", 0, NULL, false);
    /* The first closing tag ends it; a second one belongs to the answer. */
    think_case("<think>a</think>b</think>", 16, "a", true);
}

int main(void)
{
    T_RUN(test_decode);
    T_RUN(test_next);
    T_RUN(test_fput_escaped);
    T_RUN(test_lead_len_chars);
    T_RUN(test_widths);
    T_RUN(test_sanitize);
    T_RUN(test_wrap_words);
    T_RUN(test_wrap_wide);
    T_RUN(test_cursor);
    T_RUN(test_code_block);
    T_RUN(test_think_split);
    return t_done();
}
