/* Tests for engine/chat.c: the exact text of every family (a system prompt, two user turns,
 * one assistant turn, with and without the generation opening), where each family puts the
 * system prompt, llama.cpp's own expected outputs (tests/test-chat-template.cpp) for the
 * families natter shares with it, detection from excerpts of the real Jinja templates, the
 * name round trip, markup/text runs (a user typing "<|im_end|>" stays text), and the
 * tokenized form on a SentencePiece vocabulary whose <s> and </s> are control tokens. */
#include "natter.h"
#include "t.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYS "You are a helpful assistant"

static const nt_chat_msg conv[] = {
    {NT_ROLE_SYSTEM, SYS},
    {NT_ROLE_USER, "Hello"},
    {NT_ROLE_ASSISTANT, "Hi there"},
    {NT_ROLE_USER, "Who are you"},
};
#define NCONV (sizeof conv / sizeof conv[0])

/* Formats msgs with family f and returns the whole text (caller frees), or NULL. */
static char *fmt(enum nt_chat_family f, const nt_chat_msg *m, size_t n, bool gen)
{
    nt_chat_prompt p = {0};
    nt_err e = {0};
    int rc = nt_chat_format(f, m, n, gen, &p, &e);
    if (rc != NT_OK) {
        t_fail(__FILE__, __LINE__, "nt_chat_format(%s): %s", nt_chat_family_name(f), e.msg);
        nt_chat_prompt_free(&p);
        return NULL;
    }
    char *s = nt_chat_prompt_text(&p);
    nt_chat_prompt_free(&p);
    return s;
}

#define CHECK_FMT(f, m, n, gen, want) do { char *s_ = fmt(f, m, n, gen); \
    T_EQ_STR(s_, want); free(s_); } while (0)

static void test_exact_text(void)
{
    static const struct {
        enum nt_chat_family f;
        const char *gen, *nogen;
    } cases[] = {
        {NT_CHAT_CHATML,
         "<|im_start|>system\n" SYS "<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
         "<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n"
         "<|im_start|>assistant\n",
         "<|im_start|>system\n" SYS "<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
         "<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n"},
        {NT_CHAT_LLAMA2,
         "[INST] <<SYS>>\n" SYS "\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]",
         "[INST] <<SYS>>\n" SYS "\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]"},
        {NT_CHAT_MISTRAL,
         "[INST] " SYS "\nHello [/INST]Hi there</s>[INST] Who are you [/INST]",
         "[INST] " SYS "\nHello [/INST]Hi there</s>[INST] Who are you [/INST]"},
        {NT_CHAT_LLAMA3,
         "<|start_header_id|>system<|end_header_id|>\n\n" SYS "<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\n",
         "<|start_header_id|>system<|end_header_id|>\n\n" SYS "<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"},
        {NT_CHAT_ZEPHYR,
         "<|system|>\n" SYS "</s>\n<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n"
         "<|user|>\nWho are you</s>\n<|assistant|>\n",
         "<|system|>\n" SYS "</s>\n<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n"
         "<|user|>\nWho are you</s>\n"},
        {NT_CHAT_PHI3,
         "<|system|>\n" SYS "<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n"
         "<|user|>\nWho are you<|end|>\n<|assistant|>\n",
         "<|system|>\n" SYS "<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n"
         "<|user|>\nWho are you<|end|>\n"},
        {NT_CHAT_GEMMA,
         "<start_of_turn>user\n" SYS "\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there"
         "<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\n",
         "<start_of_turn>user\n" SYS "\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there"
         "<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n"},
        {NT_CHAT_PHI4,
         "<|im_start|>system<|im_sep|>" SYS "<|im_end|><|im_start|>user<|im_sep|>Hello<|im_end|>"
         "<|im_start|>assistant<|im_sep|>Hi there<|im_end|><|im_start|>user<|im_sep|>Who are you"
         "<|im_end|><|im_start|>assistant<|im_sep|>",
         "<|im_start|>system<|im_sep|>" SYS "<|im_end|><|im_start|>user<|im_sep|>Hello<|im_end|>"
         "<|im_start|>assistant<|im_sep|>Hi there<|im_end|><|im_start|>user<|im_sep|>Who are you"
         "<|im_end|>"},
        {NT_CHAT_MISTRAL_V7,
         "[SYSTEM_PROMPT] " SYS "[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST]",
         "[SYSTEM_PROMPT] " SYS "[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST]"},
        {NT_CHAT_MISTRAL_V7_TEKKEN,
         "[SYSTEM_PROMPT]" SYS "[/SYSTEM_PROMPT][INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]",
         "[SYSTEM_PROMPT]" SYS "[/SYSTEM_PROMPT][INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]"},
        {NT_CHAT_DEEPSEEK3,
         SYS "\n\n<\xef\xbd\x9cUser\xef\xbd\x9c>Hello<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>Hi there"
         "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c><\xef\xbd\x9cUser"
         "\xef\xbd\x9c>Who are you<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>",
         SYS "\n\n<\xef\xbd\x9cUser\xef\xbd\x9c>Hello<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>Hi there"
         "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c><\xef\xbd\x9cUser"
         "\xef\xbd\x9c>Who are you"},
        {NT_CHAT_GRANITE,
         "<|start_of_role|>system<|end_of_role|>" SYS "<|end_of_text|>\n<|start_of_role|>user"
         "<|end_of_role|>Hello<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>Hi there"
         "<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Who are you<|end_of_text|>\n"
         "<|start_of_role|>assistant<|end_of_role|>",
         "<|start_of_role|>system<|end_of_role|>" SYS "<|end_of_text|>\n<|start_of_role|>user"
         "<|end_of_role|>Hello<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>Hi there"
         "<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Who are you<|end_of_text|>\n"},
        {NT_CHAT_TULU,
         "<|system|>\n" SYS "\n<|user|>\nHello\n<|assistant|>\nHi there<|endoftext|>\n"
         "<|user|>\nWho are you\n<|assistant|>\n",
         "<|system|>\n" SYS "\n<|user|>\nHello\n<|assistant|>\nHi there<|endoftext|>\n"
         "<|user|>\nWho are you\n"},
        {NT_CHAT_PLAIN,
         "System: " SYS "\n\nUser: Hello\nAssistant: Hi there\nUser: Who are you\nAssistant:",
         "System: " SYS "\n\nUser: Hello\nAssistant: Hi there\nUser: Who are you\n"},
    };
    T_EQ_INT(sizeof cases / sizeof cases[0], NT_CHAT_FAMILY_COUNT_);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_FMT(cases[i].f, conv, NCONV, true, cases[i].gen);
        CHECK_FMT(cases[i].f, conv, NCONV, false, cases[i].nogen);
    }
}

/* Without a system prompt nothing is left of it; and where each family puts it. */
static void test_system_placement(void)
{
    const nt_chat_msg *m = conv + 1; /* user, assistant, user */
    CHECK_FMT(NT_CHAT_LLAMA2, m, 3, true, "[INST] Hello [/INST]Hi there</s>[INST] Who are you [/INST]");
    CHECK_FMT(NT_CHAT_MISTRAL, m, 3, true, "[INST] Hello [/INST]Hi there</s>[INST] Who are you [/INST]");
    CHECK_FMT(NT_CHAT_GEMMA, m, 1, true,
              "<start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n");
    CHECK_FMT(NT_CHAT_CHATML, m, 1, true,
              "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
    CHECK_FMT(NT_CHAT_PLAIN, m, 1, true, "User: Hello\nAssistant:");
    /* system + one question: inside the first [INST] (Llama 2 in <<SYS>>, Mistral folded),
     * in the first user turn (Gemma), its own turn elsewhere */
    CHECK_FMT(NT_CHAT_LLAMA2, conv, 2, true, "[INST] <<SYS>>\n" SYS "\n<</SYS>>\n\nHello [/INST]");
    CHECK_FMT(NT_CHAT_MISTRAL, conv, 2, true, "[INST] " SYS "\nHello [/INST]");
    CHECK_FMT(NT_CHAT_GEMMA, conv, 2, true,
              "<start_of_turn>user\n" SYS "\n\nHello<end_of_turn>\n<start_of_turn>model\n");
    CHECK_FMT(NT_CHAT_PHI3, conv, 2, true,
              "<|system|>\n" SYS "<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\n");
    /* Llama 2 trims every content (Meta's content.strip()); Mistral keeps them as they are */
    const nt_chat_msg ws[] = {{NT_ROLE_SYSTEM, " S "}, {NT_ROLE_USER, " U "},
                           {NT_ROLE_ASSISTANT, " A "}, {NT_ROLE_USER, "\tV\n"}};
    CHECK_FMT(NT_CHAT_LLAMA2, ws, 4, true, "[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST]A</s>[INST] V [/INST]");
    CHECK_FMT(NT_CHAT_MISTRAL, ws, 4, true, "[INST]  S \n U  [/INST] A </s>[INST] \tV\n [/INST]");
    /* Gemma trims the system prompt and the contents */
    const nt_chat_msg padded[] = {{NT_ROLE_SYSTEM, "  Be brief. \n"}, {NT_ROLE_USER, " Hi \n"}};
    CHECK_FMT(NT_CHAT_GEMMA, padded, 2, true,
              "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n");
    /* an empty conversation is just the generation opening */
    CHECK_FMT(NT_CHAT_CHATML, NULL, 0, true, "<|im_start|>assistant\n");
    CHECK_FMT(NT_CHAT_PLAIN, NULL, 0, false, "");
}

/* llama.cpp's tests/test-chat-template.cpp: its conversation and the expected output of its
 * built-in formatter for the templates natter formats the same way. */
static void test_llama_cpp_reference(void)
{
    static const nt_chat_msg c[] = {
        {NT_ROLE_SYSTEM, "You are a helpful assistant"},
        {NT_ROLE_USER, "Hello"},
        {NT_ROLE_ASSISTANT, "Hi there"},
        {NT_ROLE_USER, "Who are you"},
        {NT_ROLE_ASSISTANT, "   I am an assistant   "},
        {NT_ROLE_USER, "Another question"},
    };
    /* teknium/OpenHermes-2.5-Mistral-7B */
    CHECK_FMT(NT_CHAT_CHATML, c, 6, true,
              "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello"
              "<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are "
              "you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n"
              "<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n");
    /* mistralai/Mistral-7B-Instruct-v0.2 (old template without a system prompt) */
    CHECK_FMT(NT_CHAT_MISTRAL, c, 6, true,
              "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you "
              "[/INST]   I am an assistant   </s>[INST] Another question [/INST]");
    /* bofenghuang/vigogne-2-70b-chat: llama.cpp's "llama2-sys-strip", the variant it picks
     * for Meta's Llama 2 template too (both strip the contents) */
    CHECK_FMT(NT_CHAT_LLAMA2, c, 6, true,
              "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>"
              "[INST] Who are you [/INST]I am an assistant</s>[INST] Another question [/INST]");
    /* google/gemma-7b-it */
    CHECK_FMT(NT_CHAT_GEMMA, c, 6, true,
              "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n"
              "<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you"
              "<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n"
              "<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n");
    /* Llama-3 */
    CHECK_FMT(NT_CHAT_LLAMA3, c, 6, true,
              "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>"
              "assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user"
              "<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant"
              "<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user"
              "<|end_header_id|>\n\nAnother question<|eot_id|><|start_header_id|>assistant"
              "<|end_header_id|>\n\n");
    /* phi-4 */
    CHECK_FMT(NT_CHAT_PHI4, c, 6, true,
              "<|im_start|>system<|im_sep|>You are a helpful assistant<|im_end|><|im_start|>user"
              "<|im_sep|>Hello<|im_end|><|im_start|>assistant<|im_sep|>Hi there<|im_end|>"
              "<|im_start|>user<|im_sep|>Who are you<|im_end|><|im_start|>assistant<|im_sep|>   I "
              "am an assistant   <|im_end|><|im_start|>user<|im_sep|>Another question<|im_end|>"
              "<|im_start|>assistant<|im_sep|>");
    /* mistralai/Mistral-Large-Instruct-2411 (mistralai 'v7' template) */
    CHECK_FMT(NT_CHAT_MISTRAL_V7, c, 6, true,
              "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi "
              "there</s>[INST] Who are you[/INST]    I am an assistant   </s>[INST] Another "
              "question[/INST]");
    /* v7-tekken: llama.cpp's same formatter without the spaces */
    CHECK_FMT(NT_CHAT_MISTRAL_V7_TEKKEN, c, 6, true,
              "[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT][INST]Hello[/INST]Hi "
              "there</s>[INST]Who are you[/INST]   I am an assistant   </s>[INST]Another "
              "question[/INST]");
    /* ibm-granite/granite-3.0-8b-instruct */
    CHECK_FMT(NT_CHAT_GRANITE, c, 6, true,
              "<|start_of_role|>system<|end_of_role|>You are a helpful assistant<|end_of_text|>\n"
              "<|start_of_role|>user<|end_of_role|>Hello<|end_of_text|>\n<|start_of_role|>"
              "assistant<|end_of_role|>Hi there<|end_of_text|>\n<|start_of_role|>user"
              "<|end_of_role|>Who are you<|end_of_text|>\n<|start_of_role|>assistant"
              "<|end_of_role|>   I am an assistant   <|end_of_text|>\n<|start_of_role|>user"
              "<|end_of_role|>Another question<|end_of_text|>\n<|start_of_role|>assistant"
              "<|end_of_role|>");
    /* DeepSeek V3 / R1 (llama.cpp's "deepseek3" formatter) */
    CHECK_FMT(NT_CHAT_DEEPSEEK3, c, 6, true,
              "You are a helpful assistant\n\n<\xef\xbd\x9cUser\xef\xbd\x9c>Hello<\xef\xbd\x9c"
              "Assistant\xef\xbd\x9c>Hi there<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81"
              "sentence\xef\xbd\x9c><\xef\xbd\x9cUser\xef\xbd\x9c>Who are you<\xef\xbd\x9c"
              "Assistant\xef\xbd\x9c>   I am an assistant   <\xef\xbd\x9c" "end\xe2\x96\x81of"
              "\xe2\x96\x81sentence\xef\xbd\x9c><\xef\xbd\x9cUser\xef\xbd\x9c>Another "
              "question<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>");
    /* Phi-3-small */
    CHECK_FMT(NT_CHAT_PHI3, c, 6, true,
              "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n"
              "<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n"
              "   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n"
              "<|assistant|>\n");
}

/* Reasoning: earlier answers go back without their thinking where the template says so
 * (Qwen3's chatml: after the last </think>, leading newlines dropped; DeepSeek R1: after it,
 * as is; others: whole), and Qwen3's switch opens the answer with an empty thinking block. */
static void test_thinking(void)
{
    static const nt_chat_msg c[] = {
        {NT_ROLE_USER, "Hi"},
        {NT_ROLE_ASSISTANT, "<think>\nThey greet me. </think> no </think>\n\nHello!"},
        {NT_ROLE_USER, "Sum?"},
    };
    CHECK_FMT(NT_CHAT_CHATML, c, 3, true,
              "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
              "<|im_start|>user\nSum?<|im_end|>\n<|im_start|>assistant\n");
    CHECK_FMT(NT_CHAT_DEEPSEEK3, c, 3, true,
              "<\xef\xbd\x9cUser\xef\xbd\x9c>Hi<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>\n\nHello!"
              "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
              "<\xef\xbd\x9cUser\xef\xbd\x9c>Sum?<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>");
    CHECK_FMT(NT_CHAT_GRANITE, c + 1, 1, false,
              "<|start_of_role|>assistant<|end_of_role|><think>\nThey greet me. </think> no "
              "</think>\n\nHello!<|end_of_text|>\n");

    nt_chat_opts off = {true, 0}, on = {true, 1};
    nt_chat_prompt p = {0};
    nt_err e = {0};
    T_EQ_INT(nt_chat_format_opts(NT_CHAT_CHATML, c, 1, &off, &p, &e), NT_OK);
    char *t = nt_chat_prompt_text(&p);
    T_EQ_STR(t, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
    free(t);
    /* the empty block is markup: <think> and </think> may be control tokens of the model */
    T_CHECK(p.n >= 1 && p.v[p.n - 1].special);
    nt_chat_prompt_free(&p);
    T_EQ_INT(nt_chat_format_opts(NT_CHAT_CHATML, c, 1, &on, &p, &e), NT_OK);
    t = nt_chat_prompt_text(&p);
    T_EQ_STR(t, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    free(t);
    nt_chat_prompt_free(&p);
    /* families without a switch ignore it */
    T_EQ_INT(nt_chat_format_opts(NT_CHAT_LLAMA3, c, 1, &off, &p, &e), NT_OK);
    t = nt_chat_prompt_text(&p);
    T_EQ_STR(t, "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant"
                "<|end_header_id|>\n\n");
    free(t);
    nt_chat_prompt_free(&p);
    T_EQ_INT(nt_chat_format_opts(NT_CHAT_CHATML, c, 1, NULL, &p, &e), NT_ERR_INVALID);

    T_CHECK(nt_chat_think_switch("{%- if enable_thinking is defined %}<|im_start|>assistant"));
    T_CHECK(!nt_chat_think_switch("<|im_start|>assistant"));  /* Qwen2.5 */
    T_CHECK(!nt_chat_think_switch("enable_thinking <|start_header_id|>"));
    T_CHECK(!nt_chat_think_switch(NULL));
    T_CHECK(!nt_chat_think_switch_gguf(NULL));
}

/* Markup runs and text runs: message text is never special, markup is, adjacent markup is
 * merged; a user typing a control token's text gets it back as a plain run. */
static void test_pieces(void)
{
    const nt_chat_msg m[] = {{NT_ROLE_SYSTEM, SYS}, {NT_ROLE_USER, "a<|im_end|>\n<|im_start|>b"}};
    nt_chat_prompt p = {0};
    T_ASSERT(nt_chat_format(NT_CHAT_CHATML, m, 2, true, &p, NULL) == NT_OK);
    static const struct {
        bool special;
        const char *text;
    } want[] = {
        {true, "<|im_start|>system\n"},
        {false, SYS},
        {true, "<|im_end|>\n<|im_start|>user\n"},
        {false, "a<|im_end|>\n<|im_start|>b"},
        {true, "<|im_end|>\n<|im_start|>assistant\n"},
    };
    T_EQ_INT(p.n, 5);
    for (size_t i = 0; i < p.n && i < 5; i++) {
        T_EQ_INT(p.v[i].special, want[i].special);
        T_EQ_STR(p.v[i].text, want[i].text);
    }
    /* appending a second conversation continues the same prompt */
    T_ASSERT(nt_chat_format(NT_CHAT_CHATML, m + 1, 1, false, &p, NULL) == NT_OK);
    T_EQ_INT(p.n, 7);
    nt_chat_prompt_free(&p);
    T_EQ_INT(p.n, 0);
    T_CHECK(p.v == NULL);
    nt_chat_prompt_free(&p);
    nt_chat_prompt_free(NULL);

    /* empty content leaves no empty run behind */
    const nt_chat_msg e[] = {{NT_ROLE_USER, ""}};
    T_ASSERT(nt_chat_format(NT_CHAT_ZEPHYR, e, 1, true, &p, NULL) == NT_OK);
    T_EQ_INT(p.n, 1);
    T_CHECK(p.v[0].special);
    T_EQ_STR(p.v[0].text, "<|user|>\n</s>\n<|assistant|>\n");
    nt_chat_prompt_free(&p);
}

static void test_invalid(void)
{
    nt_chat_prompt p = {0};
    nt_err e = {0};
    const nt_chat_msg bad[] = {{NT_ROLE_USER, NULL}};
    T_EQ_INT(nt_chat_format(NT_CHAT_CHATML, bad, 1, true, &p, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "nt_chat_format: message 0 has no content");
    T_EQ_INT(nt_chat_format((enum nt_chat_family)99, conv, 1, true, &p, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "nt_chat_format: unknown family 99");
    const nt_chat_msg role[] = {{(enum nt_chat_role)7, "x"}};
    T_EQ_INT(nt_chat_format(NT_CHAT_CHATML, role, 1, true, &p, &e), NT_ERR_INVALID);
    T_EQ_STR(e.msg, "nt_chat_format: message 0 has role 7");
    T_EQ_INT(p.n, 0);
}

static void test_names(void)
{
    for (int i = 0; i < NT_CHAT_FAMILY_COUNT_; i++) {
        const char *n = nt_chat_family_name((enum nt_chat_family)i);
        T_ASSERT(n != NULL);
        T_EQ_INT(nt_chat_family_from_name(n), i);
        T_EQ_INT(nt_chat_detect(n), i); /* a name given as the template selects the family */
    }
    T_EQ_STR(nt_chat_family_name(NT_CHAT_CHATML), "chatml");
    T_EQ_STR(nt_chat_family_name(NT_CHAT_LLAMA2), "llama2");
    T_EQ_STR(nt_chat_family_name(NT_CHAT_MISTRAL), "mistral");
    T_EQ_STR(nt_chat_family_name(NT_CHAT_PLAIN), "plain");
    T_CHECK(nt_chat_family_name(NT_CHAT_FAMILY_COUNT_) == NULL);
    T_CHECK(nt_chat_family_name((enum nt_chat_family)-1) == NULL);
    T_EQ_INT(nt_chat_family_from_name("ChatML"), -1); /* exact names only */
    T_EQ_INT(nt_chat_family_from_name("vicuna"), -1);
    T_EQ_INT(nt_chat_family_from_name(""), -1);
    T_EQ_INT(nt_chat_family_from_name(NULL), -1);
}

/* Excerpts of the real templates (tokenizer_config.json chat_template of each model). */
static void test_detect(void)
{
    static const struct {
        const char *model, *jinja;
        enum nt_chat_family want;
    } cases[] = {
        {"Qwen2.5-Instruct",
         "{%- for message in messages %}{%- if (message.role == \"user\") or (message.role == "
         "\"system\" and not loop.first) %}{{- '<|im_start|>' + message.role + '\\n' + "
         "message.content + '<|im_end|>' + '\\n' }}",
         NT_CHAT_CHATML},
        {"SmolLM2-Instruct",
         "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
         "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
         "Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
         "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}",
         NT_CHAT_CHATML},
        {"Llama-2-7b-chat",
         "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
         "system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
         "{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if "
         "loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + "
         "system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content "
         "= message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + "
         "'[INST] ' + content.strip() + ' [/INST]' }}",
         NT_CHAT_LLAMA2},
        {"Mistral-7B-Instruct-v0.2",
         "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
         "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
         "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}"
         "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
         "'assistant' %}{{ message['content'] + eos_token}}",
         NT_CHAT_MISTRAL},
        {"Meta-Llama-3-8B-Instruct",
         "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
         "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] "
         "| trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content "
         "%}{% endif %}{{ content }}{% endfor %}",
         NT_CHAT_LLAMA3},
        {"TinyLlama-1.1B-Chat-v1.0",
         "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + "
         "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ "
         "'<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == "
         "'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}",
         NT_CHAT_ZEPHYR},
        {"stablelm-2-zephyr-1_6b",
         "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + "
         "message['content'] + '<|endoftext|>' }}",
         NT_CHAT_ZEPHYR},
        {"Phi-3-mini-4k-instruct",
         "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}"
         "{{'<|user|>' + '\n' + message['content'] + '<|end|>' + '\n' + '<|assistant|>' + "
         "'\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + "
         "'\n'}}{% endif %}{% endfor %}",
         NT_CHAT_PHI3},
        {"gemma-7b-it",
         "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System "
         "role not supported') }}{% endif %}{% for message in messages %}{% if "
         "(message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = "
         "message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] "
         "| trim + '<end_of_turn>\n' }}{% endfor %}",
         NT_CHAT_GEMMA},
        {"phi-4",
         "{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system"
         "<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}"
         "{{'<|im_start|>user<|im_sep|>' + message['content'] + '<|im_end|><|im_start|>assistant"
         "<|im_sep|>'}}",
         NT_CHAT_PHI4},
        {"Mistral-Large-Instruct-2411 (v7)",
         "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] '"
         " + message['content'] + '[/INST]' }}{% elif message['role'] == 'system' %}{{ "
         "'[SYSTEM_PROMPT] ' + message['content'] + '[/SYSTEM_PROMPT]' }}",
         NT_CHAT_MISTRAL_V7},
        {"Mistral-Small-3.1-24B-Instruct-2503 (v7-tekken)",
         "{{- bos_token }}{%- if system_message is defined %}{{- '[SYSTEM_PROMPT]' + system_message"
         " + '[/SYSTEM_PROMPT]' }}{%- endif %}{%- for message in loop_messages %}{%- if "
         "message['role'] == 'user' %}{{- '[INST]' + message['content'] + '[/INST]' }}",
         NT_CHAT_MISTRAL_V7_TEKKEN},
        {"DeepSeek-R1-Distill-Qwen-1.5B",
         "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}"
         "{% endif %}{%- if message['role'] == 'user' %}{{'<\xef\xbd\x9cUser\xef\xbd\x9c>' + "
         "message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and "
         "message['content'] is not none %}{% set content = message['content'] %}{% if '</think>'"
         " in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<\xef\xbd"
         "\x9c" "Assistant\xef\xbd\x9c>' + content + '<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2"
         "\x96\x81sentence\xef\xbd\x9c>'}}",
         NT_CHAT_DEEPSEEK3},
        {"granite-3.0-8b-instruct",
         "{%- for message in messages %}\n    {%- if message['role'] == 'system' %}\n    {{- "
         "'<|start_of_role|>system<|end_of_role|>' + message['content'] + '<|end_of_text|>\n' }}",
         NT_CHAT_GRANITE},
        {"OLMo-2-1124-7B-Instruct (Tülu)",
         "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ "
         "'<|system|>\\n' + message['content'] + '\\n' }}{% elif message['role'] == 'user' %}{{ "
         "'<|user|>\\n' + message['content'] + '\\n' }}{% elif message['role'] == 'assistant' %}"
         "{% if not loop.last %}{{ '<|assistant|>\\n'  + message['content'] + eos_token + '\\n' }}"
         "{% else %}{{ '<|assistant|>\\n'  + message['content'] + eos_token }}{% endif %}{% endif %}"
         "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}{% endfor %}",
         NT_CHAT_TULU},
        {"TinyLlama-1.1B-Chat (Zephyr: eos_token after every message)",
         "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + "
         "message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ "
         "'<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}",
         NT_CHAT_ZEPHYR},
        {"Qwen3 (ChatML with a thinking switch)",
         "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\n\n"
         "</think>\n\n' }}{%- endif %}{{- '<|im_start|>' + message.role + '\n' + content }}",
         NT_CHAT_CHATML},
        {"vicuna-13b-1.1 (not a natter family)",
         "{%- for message in messages %}{%- if message['role'] == 'user' -%}{{-'USER: ' + "
         "message['content'] + '\n'-}}{%- else -%}{{-'ASSISTANT: ' + message['content'] + "
         "'</s>\n' -}}{%- endif -%}{%- endfor -%}",
         NT_CHAT_PLAIN},
        {"empty", "", NT_CHAT_PLAIN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum nt_chat_family got = nt_chat_detect(cases[i].jinja);
        if (got != cases[i].want)
            t_fail(__FILE__, __LINE__, "%s: detected %s, expected %s", cases[i].model,
                   nt_chat_family_name(got), nt_chat_family_name(cases[i].want));
    }
    T_EQ_INT(nt_chat_detect(NULL), NT_CHAT_PLAIN);
    T_EQ_INT(nt_chat_detect("mistral-v7"), NT_CHAT_MISTRAL_V7); /* a family name */
    T_EQ_INT(nt_chat_detect("mistral"), NT_CHAT_MISTRAL);
    T_EQ_INT(nt_chat_detect("mistral-v3"), NT_CHAT_MISTRAL); /* llama.cpp's "starts with mistral" */
    T_EQ_INT(nt_chat_detect_gguf(NULL), NT_CHAT_PLAIN);
}

/* A GGUF with a chat template, written with the gguf writer, and one without. */
static void test_detect_gguf(void)
{
    static const char *const names[] = {"<unk>", "<s>", "</s>"};
    const char *dir = t_tmpdir();
    T_ASSERT(dir != NULL);
    char with[512], without[512];
    snprintf(with, sizeof with, "%s/with.gguf", dir);
    snprintf(without, sizeof without, "%s/without.gguf", dir);
    for (int k = 0; k < 2; k++) {
        nt_gguf_writer *w = nt_gguf_writer_init();
        T_ASSERT(w);
        T_CHECK(nt_gguf_writer_set_str(w, "general.architecture", "llama") == NT_OK);
        T_CHECK(nt_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", names, 3) == NT_OK);
        if (k == 0)
            T_CHECK(nt_gguf_writer_set_str(w, "tokenizer.chat_template",
                                        "{{ '<start_of_turn>' + role }}") == NT_OK);
        nt_err e = {0};
        int rc = nt_gguf_writer_write(w, k == 0 ? with : without, &e);
        nt_gguf_writer_free(w);
        T_ASSERT(rc == NT_OK);
    }
    nt_gguf *g = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&g, with, &e) == NT_OK);
    T_EQ_INT(nt_chat_detect_gguf(g), NT_CHAT_GEMMA);
    nt_gguf_close(g);
    T_ASSERT(nt_gguf_open(&g, without, &e) == NT_OK);
    T_EQ_INT(nt_chat_detect_gguf(g), NT_CHAT_PLAIN);
    nt_gguf_close(g);
}

/* ------------------------------------------------------------------ tokenized form */

static int count_id(const nt_tokens *t, int32_t id)
{
    int n = 0;
    for (size_t i = 0; i < t->n; i++) n += t->v[i] == id;
    return n;
}

static bool same_ids(const nt_tokens *a, const nt_tokens *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof *a->v) == 0);
}

/* The Llama-SPM vocabulary has <s> (1) and </s> (2) as control tokens, so the Zephyr family
 * (markup "</s>") and BOS handling can be checked on it. The reference for a prompt whose
 * messages hold no control-token text is llama.cpp's way: the whole text tokenized at once
 * with special parsing and BOS. */
static void test_tokenize(void)
{
    const char *path = t_fixture("vocab/ggml-vocab-llama-spm.gguf");
    if (!path) T_SKIP("../shared/fixtures/vocab/ggml-vocab-llama-spm.gguf not found");
    nt_gguf *g = NULL;
    nt_tokenizer *tok = NULL;
    nt_err e = {0};
    T_ASSERT(nt_gguf_open(&g, path, &e) == NT_OK);
    if (nt_tokenizer_load(&tok, g, &e) != NT_OK) {
        nt_gguf_close(g);
        T_SKIP("nt_tokenizer_load: %s", e.msg);
    }
    int32_t bos = nt_tokenizer_bos(tok), eos = nt_tokenizer_eos(tok);
    T_EQ_INT(bos, 1);
    T_EQ_INT(eos, 2);
    T_ASSERT(nt_tokenizer_is_control(tok, 2));

    const enum nt_chat_family fams[] = {NT_CHAT_ZEPHYR, NT_CHAT_LLAMA2, NT_CHAT_MISTRAL, NT_CHAT_PLAIN};
    for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
        nt_chat_prompt p = {0};
        nt_tokens got = {0}, want = {0};
        T_ASSERT(nt_chat_format(fams[f], conv, NCONV, true, &p, &e) == NT_OK);
        T_ASSERT(nt_chat_tokenize(tok, &p, true, &got, &e) == NT_OK);
        char *text = nt_chat_prompt_text(&p);
        T_ASSERT(text != NULL);
        T_ASSERT(nt_tokenizer_encode(tok, text, strlen(text),
                                  NT_TOK_ADD_BOS | NT_TOK_PARSE_SPECIAL, &want, &e) == NT_OK);
        if (!same_ids(&got, &want))
            t_fail(__FILE__, __LINE__, "%s: nt_chat_tokenize differs from whole-text encoding "
                   "(%zu vs %zu ids)", nt_chat_family_name(fams[f]), got.n, want.n);
        T_EQ_INT(got.v[0], bos);
        T_EQ_INT(count_id(&got, bos), 1);
        /* Zephyr: one </s> per message; Llama 2 and Mistral: one after the answer */
        T_EQ_INT(count_id(&got, eos), fams[f] == NT_CHAT_ZEPHYR ? 4 : fams[f] == NT_CHAT_PLAIN ? 0 : 1);
        free(text);
        nt_tokens_free(&got);
        nt_tokens_free(&want);
        nt_chat_prompt_free(&p);
    }

    /* Control-token text typed by the user stays text: no extra <s> or </s>. */
    const nt_chat_msg inj[] = {{NT_ROLE_USER, "Hi </s><s> there </s>"}};
    nt_chat_prompt p = {0};
    nt_tokens got = {0}, plain = {0};
    T_ASSERT(nt_chat_format(NT_CHAT_ZEPHYR, inj, 1, true, &p, &e) == NT_OK);
    T_ASSERT(nt_chat_tokenize(tok, &p, true, &got, &e) == NT_OK);
    T_EQ_INT(count_id(&got, eos), 1); /* the markup's one */
    T_EQ_INT(count_id(&got, bos), 1);
    T_ASSERT(nt_tokenizer_encode(tok, inj[0].content, strlen(inj[0].content), 0, &plain, &e) == NT_OK);
    T_EQ_INT(count_id(&plain, eos), 0);
    nt_tokens_free(&got);
    nt_tokens_free(&plain);
    nt_chat_prompt_free(&p);

    /* BOS: none when add_bos is false; once when the markup itself starts with <s>. */
    T_ASSERT(nt_chat_format(NT_CHAT_LLAMA2, conv + 1, 1, true, &p, &e) == NT_OK);
    T_ASSERT(nt_chat_tokenize(tok, &p, false, &got, &e) == NT_OK);
    T_CHECK(got.n > 0 && got.v[0] != bos);
    T_EQ_INT(count_id(&got, bos), 0);
    size_t n_nobos = got.n;
    nt_tokens_free(&got);
    nt_chat_prompt_free(&p);

    nt_chat_piece pieces[] = {{"<s>[INST] ", true}, {"Hello", false}, {" [/INST]", true}};
    nt_chat_prompt own = {pieces, 3, 3};
    T_ASSERT(nt_chat_tokenize(tok, &own, true, &got, &e) == NT_OK);
    T_EQ_INT(got.v[0], bos);
    T_EQ_INT(count_id(&got, bos), 1);
    nt_tokens_free(&got);
    /* appends after what out already holds */
    T_ASSERT(nt_tokens_push(&got, 42) == NT_OK);
    T_ASSERT(nt_chat_tokenize(tok, &own, true, &got, &e) == NT_OK);
    T_EQ_INT(got.v[0], 42);
    T_EQ_INT(got.v[1], bos);
    T_EQ_INT(count_id(&got, bos), 1);
    T_EQ_INT(got.n, n_nobos + 2);
    nt_tokens_free(&got);

    nt_tokenizer_free(tok);
    nt_gguf_close(g);
}

/* Byte-level BPE (GPT-2's vocabulary with Qwen2's and Llama 3's pre-tokenizers): its only
 * control token is <|endoftext|> (50256), which is also its BOS. ChatML's markup is plain text
 * in this vocabulary, so the whole-text encoding is again the reference; a custom prompt whose
 * markup holds <|endoftext|> checks that only the markup's copy becomes the control token. */
static void test_tokenize_bpe(void)
{
    const char *files[] = {"vocab/gpt2vocab-pre-qwen2.gguf", "vocab/gpt2vocab-pre-llama-bpe.gguf"};
    for (size_t f = 0; f < 2; f++) {
        const char *path = t_fixture(files[f]);
        if (!path) T_SKIP("../shared/fixtures/%s not found", files[f]);
        nt_gguf *g = NULL;
        nt_tokenizer *tok = NULL;
        nt_err e = {0};
        T_ASSERT(nt_gguf_open(&g, path, &e) == NT_OK);
        if (nt_tokenizer_load(&tok, g, &e) != NT_OK) {
            nt_gguf_close(g);
            T_SKIP("nt_tokenizer_load: %s", e.msg);
        }
        const int32_t eot = 50256;
        T_ASSERT(nt_tokenizer_is_control(tok, eot));
        bool add_bos = nt_tokenizer_add_bos(tok); /* false for qwen2, true for llama-bpe */
        T_EQ_INT(add_bos, f == 1);

        nt_chat_prompt p = {0};
        nt_tokens got = {0}, want = {0};
        T_ASSERT(nt_chat_format(NT_CHAT_CHATML, conv, NCONV, true, &p, &e) == NT_OK);
        T_ASSERT(nt_chat_tokenize(tok, &p, add_bos, &got, &e) == NT_OK);
        char *text = nt_chat_prompt_text(&p);
        T_ASSERT(text != NULL);
        int flags = NT_TOK_PARSE_SPECIAL | (add_bos ? NT_TOK_ADD_BOS : 0);
        T_ASSERT(nt_tokenizer_encode(tok, text, strlen(text), flags, &want, &e) == NT_OK);
        if (!same_ids(&got, &want))
            t_fail(__FILE__, __LINE__, "%s: nt_chat_tokenize differs from whole-text encoding "
                   "(%zu vs %zu ids)", files[f], got.n, want.n);
        T_EQ_INT(count_id(&got, eot), add_bos ? 1 : 0);
        free(text);
        nt_tokens_free(&got);
        nt_tokens_free(&want);
        nt_chat_prompt_free(&p);

        nt_chat_piece pieces[] = {{"<|endoftext|>User: ", true},
                               {"say <|endoftext|> twice <|endoftext|>", false},
                               {"<|endoftext|>\nBot:", true}};
        nt_chat_prompt own = {pieces, 3, 3};
        T_ASSERT(nt_chat_tokenize(tok, &own, add_bos, &got, &e) == NT_OK);
        T_EQ_INT(got.v[0], eot); /* markup's own, and BOS (same id) not doubled */
        T_EQ_INT(count_id(&got, eot), 2);
        nt_tokens_free(&got);
        nt_tokenizer_free(tok);
        nt_gguf_close(g);
    }
}

/* Phi-3's tokenizer drops the whitespace after its special tokens (the tokenizer marks them
 * by the model's name, as llama.cpp does), so "<|end|>\n" tokenizes as <|end|> alone. A small
 * SentencePiece vocabulary named like Phi-3 (controls, byte fallback) is written here; the
 * reference is again the whole text tokenized with special parsing. */
static void test_tokenize_rstrip(void)
{
    enum { NCTL = 7, NV = NCTL + 256 + 1 };
    static const char *const ctl[NCTL] = {"<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>",
                                          "<|end|>", "<|system|>"};
    char bytes[256][8];
    const char *tokens[NV];
    float scores[NV];
    int32_t types[NV];
    for (int i = 0; i < NV; i++) {
        scores[i] = 0.0f;
        if (i < NCTL) {
            tokens[i] = ctl[i];
            types[i] = i == 0 ? 2 : 3; /* unknown, control */
        } else if (i < NCTL + 256) {
            snprintf(bytes[i - NCTL], sizeof bytes[0], "<0x%02X>", i - NCTL);
            tokens[i] = bytes[i - NCTL];
            types[i] = 6; /* byte */
        } else {
            tokens[i] = "\xe2\x96\x81"; /* the SentencePiece space */
            types[i] = 1;
            scores[i] = -1.0f;
        }
    }
    char path[512];
    snprintf(path, sizeof path, "%s/phi3vocab.gguf", t_tmpdir());
    nt_gguf_writer *w = nt_gguf_writer_init();
    T_ASSERT(w);
    int rc = nt_gguf_writer_set_str(w, "general.architecture", "phi3");
    if (!rc) rc = nt_gguf_writer_set_str(w, "general.name", "Phi-3 test vocabulary");
    if (!rc) rc = nt_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    if (!rc) rc = nt_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, NV);
    if (!rc) rc = nt_gguf_writer_set_arr(w, "tokenizer.ggml.scores", NT_GGUF_F32, scores, NV);
    if (!rc) rc = nt_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", NT_GGUF_I32, types, NV);
    nt_err e = {0};
    if (!rc) rc = nt_gguf_writer_write(w, path, &e);
    nt_gguf_writer_free(w);
    T_ASSERT(rc == NT_OK);

    nt_gguf *g = NULL;
    nt_tokenizer *tok = NULL;
    T_ASSERT(nt_gguf_open(&g, path, &e) == NT_OK);
    if (nt_tokenizer_load(&tok, g, &e) != NT_OK) {
        nt_gguf_close(g);
        T_SKIP("nt_tokenizer_load: %s", e.msg);
    }
    const nt_chat_msg m[] = {{NT_ROLE_SYSTEM, SYS},
                          {NT_ROLE_USER, "  Hi\n"},
                          {NT_ROLE_ASSISTANT, "Hey"},
                          {NT_ROLE_USER, "\n"}}; /* all whitespace: stripped away */
    nt_chat_prompt p = {0};
    nt_tokens got = {0}, want = {0};
    T_ASSERT(nt_chat_format(NT_CHAT_PHI3, m, 4, true, &p, &e) == NT_OK);
    T_ASSERT(nt_chat_tokenize(tok, &p, true, &got, &e) == NT_OK);
    char *text = nt_chat_prompt_text(&p);
    T_ASSERT(text != NULL);
    T_ASSERT(nt_tokenizer_encode(tok, text, strlen(text), NT_TOK_ADD_BOS | NT_TOK_PARSE_SPECIAL,
                              &want, &e) == NT_OK);
    if (!same_ids(&got, &want))
        t_fail(__FILE__, __LINE__, "phi3: nt_chat_tokenize differs from whole-text encoding "
               "(%zu vs %zu ids)", got.n, want.n);
    /* no newline byte right after a control token */
    int32_t nl = nt_tokenizer_find(tok, "<0x0A>", 6);
    T_ASSERT(nl >= 0);
    for (size_t i = 1; i < got.n; i++)
        if (got.v[i] == nl && nt_tokenizer_is_control(tok, got.v[i - 1]))
            t_fail(__FILE__, __LINE__, "newline kept after control token %d at %zu", got.v[i - 1], i);
    T_EQ_INT(count_id(&got, 5), 4); /* <|end|> per message */
    free(text);
    nt_tokens_free(&got);
    nt_tokens_free(&want);
    nt_chat_prompt_free(&p);
    nt_tokenizer_free(tok);
    nt_gguf_close(g);
}

int main(void)
{
    T_RUN(test_exact_text);
    T_RUN(test_system_placement);
    T_RUN(test_llama_cpp_reference);
    T_RUN(test_thinking);
    T_RUN(test_pieces);
    T_RUN(test_invalid);
    T_RUN(test_names);
    T_RUN(test_detect);
    T_RUN(test_detect_gguf);
    T_RUN(test_tokenize);
    T_RUN(test_tokenize_bpe);
    T_RUN(test_tokenize_rstrip);
    return t_done();
}
