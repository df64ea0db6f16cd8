/* Tests for app/tui/commands.c: /command parsing (prefixes, arguments), key look-ups by context
 * and the help screen generated from the one table. */
#include "tui/commands.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

static void test_parse(void)
{
    const char *args;
    T_EQ_INT(commands_parse("/help", &args), CMD_HELP);
    T_EQ_STR(args, "");
    T_EQ_INT(commands_parse("/set temperature 0.7", &args), CMD_SET);
    T_EQ_STR(args, "temperature 0.7");
    T_EQ_INT(commands_parse("/sys  be brief", &args), CMD_SYSTEM);
    T_EQ_STR(args, "be brief");
    T_EQ_INT(commands_parse("/s x", &args), -2); /* set, system, save, sessions */
    T_EQ_INT(commands_parse("/nope", &args), -1);
    T_EQ_INT(commands_parse("/quit now", &args), -3);
    T_EQ_INT(commands_parse("hello", &args), -1);
    T_EQ_INT(commands_parse("/", &args), -1);
    T_EQ_INT(commands_parse("/system You are terse.\nReally.", &args), CMD_SYSTEM);
    T_EQ_STR(args, "You are terse.\nReally.");
    T_EQ_INT(commands_parse("/replay x", &args), CMD_REPLAY);
    /* Prefixes shared by two commands are ambiguous; one more letter decides. */
    T_EQ_INT(commands_parse("/re", &args), -2); /* regen, replay */
    T_EQ_INT(commands_parse("/reg", &args), CMD_REGEN);
    T_EQ_INT(commands_parse("/rep", &args), CMD_REPLAY);
    T_EQ_INT(commands_parse("/se", &args), -2); /* set, sessions */
    T_EQ_INT(commands_parse("/set", &args), CMD_SET);
    T_EQ_INT(commands_parse("/ses", &args), CMD_SESSIONS);
    T_EQ_INT(commands_parse("/st", &args), -2); /* stats, strategy */
    T_EQ_INT(commands_parse("/sta", &args), CMD_STATS);
    T_EQ_INT(commands_parse("/str", &args), CMD_STRATEGY);
    T_EQ_INT(commands_parse("/sessions now", &args), -3);
    T_EQ_INT(commands_parse("/lo x", &args), CMD_LOAD);
    T_EQ_STR(args, "x");
    /* The session commands are available, /load and /replay only while idle. */
    for (int i = 0; i < CMD_COUNT_; i++) T_CHECK(!(commands_info((enum cmd_id)i)->flags & CMD_F_PLANNED));
    T_CHECK(commands_info(CMD_LOAD)->flags & CMD_F_IDLE);
    T_CHECK(commands_info(CMD_REPLAY)->flags & CMD_F_IDLE);
}

static void test_keys(void)
{
    T_EQ_INT(commands_find_key(CMD_CTX_ANY, CK_F1), CMD_HELP);
    T_EQ_INT(commands_find_key(CMD_CTX_ANY, CK_ESC), CMD_STOP);
    T_EQ_INT(commands_find_key(CMD_CTX_ANY, CK_CTRL_C), CMD_STOP);
    T_EQ_INT(commands_find_key(CMD_CTX_ANY, CK_CTRL_J), CMD_NEWLINE);
    /* Arrows belong to readline outside the panel, to the sliders inside it. */
    T_EQ_INT(commands_find_key(CMD_CTX_ANY, CK_LEFT), -1);
    T_EQ_INT(commands_find_key(CMD_CTX_PANEL, CK_LEFT), CMD_SLIDER_DEC);
    T_EQ_INT(commands_find_key(CMD_CTX_PANEL, 'L'), CMD_SLIDER_INC_BIG);
    T_EQ_INT(commands_find_key(CMD_CTX_PANEL, CK_F5), CMD_REGEN);
    T_EQ_INT(commands_find_key(CMD_CTX_ANY, 'a'), -1);
    /* No key is bound twice in the same context. */
    for (int i = 0; i < CMD_COUNT_; i++) {
        const cmd_info *c = commands_info((enum cmd_id)i);
        int keys[2] = {c->key, c->key2};
        for (int k = 0; k < 2; k++)
            if (keys[k]) T_EQ_INT(commands_find_key(c->ctx, keys[k]), i);
    }
}

static void test_help(void)
{
    char *h = commands_help_text();
    T_ASSERT(h != NULL);
    T_CHECK(strstr(h, "/set NAME [VALUE]") != NULL);
    T_CHECK(strstr(h, "Alt-Enter, Ctrl-J") != NULL);
    T_CHECK(strstr(h, "/replay") != NULL);
    /* Every named, available command appears in the help. */
    for (int i = 0; i < CMD_COUNT_; i++) {
        const cmd_info *c = commands_info((enum cmd_id)i);
        if (c->name) {
            char want[40] = "/";
            strcat(want, c->name);
            T_CHECK(strstr(h, want) != NULL);
        }
    }
    free(h);
}

int main(void)
{
    T_RUN(test_parse);
    T_RUN(test_keys);
    T_RUN(test_help);
    return t_done();
}
