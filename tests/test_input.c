/* Tests for app/tui/input.c's byte parser: special keys from their escape sequences (CSI and SS3,
 * with modifiers), SGR mouse reports, bracketed paste split across reads, the lone-ESC
 * ambiguity, Alt-Enter, UTF-8 characters kept whole, unknown sequences dropped. Readline is
 * not started here. */
#include "tui/commands.h"
#include "tui/input.h"
#include "t.h"

#include <string.h>

static int key_of(const char *bytes, bool timed_out)
{
    input_event ev;
    input_feed(bytes, strlen(bytes));
    int k = input_next(&ev, timed_out) && ev.kind == IEV_KEY ? ev.key : -1;
    while (input_next(&ev, true)) {} /* drain */
    return k;
}

static void test_keys(void)
{
    T_EQ_INT(key_of("a", false), 'a');
    T_EQ_INT(key_of("\r", false), CK_ENTER);
    T_EQ_INT(key_of("\x03", false), CK_CTRL_C);
    T_EQ_INT(key_of("\033[A", false), CK_UP);
    T_EQ_INT(key_of("\033OB", false), CK_DOWN);
    T_EQ_INT(key_of("\033[5~", false), CK_PGUP);
    T_EQ_INT(key_of("\033[6~", false), CK_PGDN);
    T_EQ_INT(key_of("\033[H", false), CK_HOME);
    T_EQ_INT(key_of("\033[4~", false), CK_END);
    T_EQ_INT(key_of("\033OP", false), CK_F1);
    T_EQ_INT(key_of("\033[12~", false), CK_F2);
    T_EQ_INT(key_of("\033[15~", false), CK_F5);
    T_EQ_INT(key_of("\033[17~", false), CK_F6);
    T_EQ_INT(key_of("\033[24~", false), CK_F12);
    T_EQ_INT(key_of("\033[1;2C", false), CK_S_RIGHT);
    T_EQ_INT(key_of("\033[1;3D", false), CK_A_LEFT);
    T_EQ_INT(key_of("\033\r", false), CK_ALT_ENTER);
}

static void test_raw_bytes_kept(void)
{
    /* Keys natter does not bind go to readline with their exact bytes. */
    input_event ev;
    input_feed("\033[1;5C", strlen("\033[1;5C")); /* Ctrl-Right: readline's forward-word */
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.key, 0);
    T_EQ_INT(ev.n_raw, 6);
    T_CHECK(memcmp(ev.raw, "\033[1;5C", 6) == 0);
    /* Alt-b: ESC + b, one event. */
    input_feed("\033b", strlen("\033b"));
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.n_raw, 2);
    /* A UTF-8 character arrives whole, even split across two reads. */
    input_feed("\xe4\xb8", strlen("\xe4\xb8"));
    T_CHECK(!input_next(&ev, false));
    input_feed("\xad", strlen("\xad"));
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.n_raw, 3);
    T_CHECK(memcmp(ev.raw, "\xe4\xb8\xad", 3) == 0);
    /* An unknown sequence is swallowed, not typed into the line. */
    input_feed("\033[99x", strlen("\033[99x"));
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.n_raw, 0);
    T_CHECK(!input_next(&ev, true));
}

static void test_escape_ambiguity(void)
{
    input_event ev;
    input_feed("\033", strlen("\033"));
    T_CHECK(input_has_partial());
    T_CHECK(input_lone_esc());
    T_CHECK(!input_next(&ev, false)); /* might be the start of a sequence: wait */
    T_ASSERT(input_next(&ev, true));  /* nothing came: the Esc key */
    T_EQ_INT(ev.key, CK_ESC);
    /* A sequence split across reads is put together. */
    input_feed("\033[1", strlen("\033[1"));
    T_CHECK(!input_next(&ev, false));
    input_feed("5~", strlen("5~"));
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.key, CK_F5);
    /* Esc twice: the first is a key at once. */
    input_feed("\033\033", strlen("\033\033"));
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.key, CK_ESC);
    T_ASSERT(input_next(&ev, true));
    T_EQ_INT(ev.key, CK_ESC);
    T_CHECK(!input_has_partial());
}

static void test_mouse(void)
{
    input_event ev;
    const char *s = "\033[<0;12;5M\033[<32;14;5M\033[<0;14;5m\033[<64;1;1M\033[<65;1;1M";
    input_feed(s, strlen(s));
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.kind, IEV_MOUSE);
    T_EQ_INT(ev.mouse, IM_PRESS);
    T_EQ_INT(ev.x, 11);
    T_EQ_INT(ev.y, 4);
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.mouse, IM_DRAG);
    T_EQ_INT(ev.x, 13);
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.mouse, IM_RELEASE);
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.mouse, IM_WHEEL_UP);
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.mouse, IM_WHEEL_DOWN);
    T_CHECK(!input_next(&ev, false));
}

static void test_paste(void)
{
    input_event ev;
    /* The paste arrives in three reads, the end marker itself split; escape sequences
     * inside a paste are text, not keys. */
    input_feed("\033[200~line one\r\nline", strlen("\033[200~line one\r\nline"));
    T_CHECK(!input_next(&ev, false));
    input_feed(" two \033[A\033[20", strlen(" two \033[A\033[20"));
    T_CHECK(!input_next(&ev, false));
    input_feed("1~x", strlen("1~x"));
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.kind, IEV_PASTE);
    T_EQ_INT(ev.len, strlen("line one\r\nline two \033[A"));
    T_CHECK(memcmp(ev.text, "line one\r\nline two \033[A", ev.len) == 0);
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.key, 'x');
    /* An empty paste. */
    input_feed("\033[200~\033[201~", strlen("\033[200~\033[201~"));
    T_ASSERT(input_next(&ev, false));
    T_EQ_INT(ev.kind, IEV_PASTE);
    T_EQ_INT(ev.len, 0);
}

int main(void)
{
    T_RUN(test_keys);
    T_RUN(test_raw_bytes_kept);
    T_RUN(test_escape_ambiguity);
    T_RUN(test_mouse);
    T_RUN(test_paste);
    input_free();
    return t_done();
}
