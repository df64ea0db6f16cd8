/* Tests for app/conv/persona.c and app/cmd/cmd_persona.c: every shipped persona validates, the
 * built-in default equals prompts/default.yaml, each kind of error gives its exact message
 * (source line and caret included), variables expand, personas render into every chat
 * template family exactly (system prompt with context, few-shot turns, conversation), token
 * counts agree with plain tokenization, and Character Card import round-trips. */
#include "conv/chat.h"
#include "conv/persona.h"
#include "util/datadir.h"
#include "t.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *tmp_path(const char *name)
{
    static char p[4][600];
    static int k;
    char *s = p[k++ & 3];
    snprintf(s, sizeof p[0], "%s/%s", t_tmpdir(), name);
    return s;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Loads text from a temporary file, naming it `label` in messages. */
static persona *load_text(const char *text, const char *label, char **errs)
{
    const char *path = tmp_path("p.yaml");
    write_file(path, text);
    ycfg_diag d = {0};
    persona *p = persona_load(path, label, &d);
    *errs = ycfg_diag_join(&d);
    ycfg_diag_free(&d);
    return p;
}

#define EXPECT_ERR(text, msg) do { char *e_; persona *p_ = load_text(text, "prompts/tutor.yaml", &e_); \
    T_CHECK(p_ == NULL); T_EQ_STR(e_, msg); free(e_); persona_free(p_); } while (0)

/* Runs f with stdout and stderr sent to /dev/null (the commands print). */
static int quietly(int (*f)(int, char **), int argc, char **argv)
{
    fflush(stdout);
    fflush(stderr);
    int o = dup(1), e = dup(2), n = open("/dev/null", O_WRONLY);
    dup2(n, 1);
    dup2(n, 2);
    int rc = f(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(o, 1);
    dup2(e, 2);
    close(o);
    close(e);
    close(n);
    return rc;
}

static void test_shipped(void)
{
    const char *names[] = {"default", "concise", "tutor", "docqa", "reviewer", "translator", "guide"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[64];
        snprintf(path, sizeof path, "prompts/%s.yaml", names[i]);
        ycfg_diag d = {0};
        persona *p = persona_load(path, NULL, &d);
        for (size_t k = 0; k < d.n; k++) printf("%s\n", d.v[k]);
        T_CHECK(p != NULL);
        if (p) {
            T_EQ_STR(p->name, names[i]);
            T_CHECK(p->description[0] != 0);
            /* The guide sends nothing: its model learnt the role without a system prompt. */
            if (strcmp(names[i], "guide") == 0) T_EQ_STR(p->system, "");
            else T_CHECK(strlen(p->system) > 40);
        }
        persona_free(p);
        ycfg_diag_free(&d);
    }
    /* The tutor has a substantive prompt and several examples; the guide has neither, since
     * the tiny default model was trained on lone questions. */
    ycfg_diag d = {0};
    persona *t = persona_open("tutor", &d);
    persona *g = persona_open("guide", &d);
    T_ASSERT(t && g);
    T_CHECK(t->n_examples >= 4);
    T_CHECK(strstr(t->system, "min_p") != NULL);
    T_CHECK(t->greeting != NULL);
    T_EQ_INT(g->n_examples, 0);
    T_EQ_INT(d.n, 0);
    persona_free(t);
    persona_free(g);
    ycfg_diag_free(&d);
    /* `natter --check` agrees, and lists the personas. */
    char *argv[] = {"--check", "prompts/default.yaml", "prompts/tutor.yaml", "themes/dark.yaml", "prompts/guide.yaml"};
    T_EQ_INT(quietly(cmd_check, 5, argv), 0);
}

static void test_builtin_is_default(void)
{
    ycfg_diag d = {0};
    persona *f = persona_load("prompts/default.yaml", NULL, &d);
    persona *b = persona_builtin();
    T_ASSERT(f && b);
    T_EQ_STR(f->name, b->name);
    T_EQ_STR(f->description, b->description);
    T_EQ_STR(f->system, b->system);
    T_EQ_INT(f->n_examples, 0);
    persona_free(f);
    persona_free(b);
    ycfg_diag_free(&d);
}

static void test_fields(void)
{
    write_file(tmp_path("facts.txt"), "Natter was written in C.\n\n");
    char *e;
    persona *p = load_text("name: t\n"
                           "description: d\n"
                           "model: tiny.gguf\n"
                           "template: chatml\n"
                           "system: |\n  Be kind to {{user}}.\n\n"
                           "greeting: Hello {{user}}!\n"
                           "examples:\n  - user: a\n    assistant: b\n"
                           "context:\n  - file: facts.txt\n  - title: Note\n    text: inline\n"
                           "sampling:\n  temperature: 0.5\n  top_k: 20\n  top_p: 0.8\n  min_p: 0.1\n"
                           "  repeat_penalty: 1.1\n  repeat_last_n: -1\n  presence_penalty: -0.5\n"
                           "  frequency_penalty: 0.25\n  max_tokens: 99\n  seed: 7\n"
                           "stop: [\"###\"]\n"
                           "memory: 1\n"
                           "think: off\n",
                           "t.yaml", &e);
    T_EQ_STR(e, "");
    free(e);
    T_ASSERT(p != NULL);
    T_EQ_STR(p->system, "Be kind to {{user}}.");
    T_EQ_STR(p->model, "tiny.gguf");
    T_EQ_INT(p->template_family, NT_CHAT_CHATML);
    T_EQ_INT(persona_family(p, NT_CHAT_LLAMA3), NT_CHAT_CHATML);
    T_EQ_INT(p->n_docs, 2);
    T_EQ_STR(p->docs[0].title, "facts.txt");
    T_EQ_STR(p->docs[0].text, "Natter was written in C.");
    T_EQ_STR(p->docs[1].title, "Note");
    T_EQ_STR(p->stop.v[0], "###");
    T_EQ_INT(p->memory, 1);
    T_EQ_INT(p->think, CHAT_THINK_OFF);
    nt_sampler_params sp = nt_sampler_default_params();
    int32_t mt = 0;
    persona_apply_sampling(p, &sp, &mt);
    T_NEAR(sp.temperature, 0.5, 1e-7);
    T_EQ_INT(sp.top_k, 20);
    T_NEAR(sp.top_p, 0.8, 1e-7);
    T_NEAR(sp.min_p, 0.1, 1e-7);
    T_NEAR(sp.repeat_penalty, 1.1, 1e-7);
    T_EQ_INT(sp.repeat_last_n, -1);
    T_NEAR(sp.presence_penalty, -0.5, 1e-7);
    T_NEAR(sp.frequency_penalty, 0.25, 1e-7);
    T_EQ_INT(sp.seed, 7);
    T_EQ_INT(mt, 99);
    persona_free(p);

    /* Unset fields keep the caller's values. */
    p = load_text("name: t\nsystem: s\nsampling:\n  top_k: 5\n", "t.yaml", &e);
    free(e);
    T_ASSERT(p != NULL);
    T_EQ_INT(p->memory, -1); /* no limit */
    T_EQ_INT(p->think, CHAT_THINK_DEFAULT); /* the template decides */
    sp = nt_sampler_default_params();
    nt_sampler_params want = sp;
    want.top_k = 5;
    mt = 123;
    persona_apply_sampling(p, &sp, &mt);
    T_CHECK(memcmp(&sp, &want, sizeof sp) == 0);
    T_EQ_INT(mt, 123);
    persona_free(p);
}

static void test_errors(void)
{
    /* The example from the issue, exactly. */
    EXPECT_ERR("name: tutor\ndescription: x\nsystem: |\n  Explain things.\nsampling:\n  top_p: 0.9\n"
               "  tempreature: 0.7\n",
               "prompts/tutor.yaml:7:3: unknown key 'tempreature' (did you mean 'temperature'?)\n"
               "  tempreature: 0.7\n"
               "  ^");
    /* The parameter table's ranges and message shape (app/conv/params.h). */
    EXPECT_ERR("name: t\nsystem: s\nsampling:\n  temperature: 11\n",
               "prompts/tutor.yaml:4:16: 'temperature': '11' is out of range (0 to 10)\n"
               "  temperature: 11\n"
               "               ^");
    EXPECT_ERR("name: t\nsystem: s\nsampling: {top_p: 1.5, top_k: -3}\n",
               "prompts/tutor.yaml:3:19: 'top_p': '1.5' is out of range (0 to 1)\n"
               "sampling: {top_p: 1.5, top_k: -3}\n"
               "                  ^\n"
               "prompts/tutor.yaml:3:31: 'top_k': '-3' is out of range (0 to 1000000)\n"
               "sampling: {top_p: 1.5, top_k: -3}\n"
               "                              ^");
    EXPECT_ERR("name: t\nsystem: s\nsampling:\n  repeat_penalty: 11\n  max_tokens: -1\n",
               "prompts/tutor.yaml:4:19: 'repeat_penalty': '11' is out of range (0.01 to 10)\n"
               "  repeat_penalty: 11\n"
               "                  ^\n"
               "prompts/tutor.yaml:5:15: 'max_tokens': '-1' is out of range (0 to 16777216)\n"
               "  max_tokens: -1\n"
               "              ^");
    EXPECT_ERR("name: t\nsystem: s\nthink: maybe\n",
               "prompts/tutor.yaml:3:8: 'think' must be on or off, not 'maybe'\n"
               "think: maybe\n"
               "       ^");
    EXPECT_ERR("name: t\nsystem: s\nmemory: -1\n",
               "prompts/tutor.yaml:3:9: 'memory' must be at least 0, not -1\n"
               "memory: -1\n"
               "        ^");
    EXPECT_ERR("name: t\ndescription: no system\n",
               "prompts/tutor.yaml:1:1: missing required key 'system' in the persona\n"
               "name: t\n"
               "^");
    EXPECT_ERR("name: t\nsystem: s\ntemplate: chatlm\n",
               "prompts/tutor.yaml:3:11: unknown chat template 'chatlm' (did you mean 'chatml'?)\n"
               "template: chatlm\n"
               "          ^");
    EXPECT_ERR("name: t\nsystem: |\n  Hello.\n  Be nice to {{usr}} today.\n",
               "prompts/tutor.yaml:4:14: unknown variable '{{usr}}' in 'system' (did you mean '{{user}}'?)\n"
               "  Be nice to {{usr}} today.\n"
               "             ^");
    EXPECT_ERR("name: t\nsystem: s\ngreeting: Hi {{name}}\n",
               "prompts/tutor.yaml:3:14: unknown variable '{{name}}' in 'greeting' (known: {{user}}, {{char}}, {{date}}, {{model}})\n"
               "greeting: Hi {{name}}\n"
               "             ^");
    EXPECT_ERR("name: t\nsystem: s\nexamples:\n  - user: q\n    asistant: a\n",
               "prompts/tutor.yaml:5:5: unknown key 'asistant' (did you mean 'assistant'?)\n"
               "    asistant: a\n"
               "    ^\n"
               "prompts/tutor.yaml:4:5: missing required key 'assistant' in an example\n"
               "  - user: q\n"
               "    ^");
    EXPECT_ERR("name: t\nsystem: s\nexamples: hello\n",
               "prompts/tutor.yaml:3:11: 'examples' must be a list of {user, assistant} pairs, not a string\n"
               "examples: hello\n"
               "          ^");
    EXPECT_ERR("name: t\nsystem: s\ncontext:\n  - {text: a, file: b}\n  - {title: x}\n",
               "prompts/tutor.yaml:4:5: a context document takes 'text' or 'file', not both\n"
               "  - {text: a, file: b}\n"
               "    ^\n"
               "prompts/tutor.yaml:5:5: a context document needs 'text' or 'file'\n"
               "  - {title: x}\n"
               "    ^");
    char want[1200];
    snprintf(want, sizeof want,
             "prompts/tutor.yaml:4:11: cannot read context file '%s/missing.txt': cannot open: No such file or directory\n"
             "  - file: missing.txt\n"
             "          ^", t_tmpdir());
    EXPECT_ERR("name: t\nsystem: s\ncontext:\n  - file: missing.txt\n", want);
    EXPECT_ERR("name: t\nsystem: s\nname: u\n",
               "prompts/tutor.yaml:3:1: duplicate key 'name' (first given on line 1)\n"
               "name: u\n"
               "^");
    EXPECT_ERR("name: t\nsystem: \"unterminated\n",
               "prompts/tutor.yaml:3:1: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar that starts on line 2)\n"
               "\n"
               "^");
    EXPECT_ERR("name: t\nsystem: s\nstop: [\"\"]\n",
               "prompts/tutor.yaml:3:8: items of 'stop' must not be empty\n"
               "stop: [\"\"]\n"
               "       ^");
    EXPECT_ERR("name: [t]\nsystem: s\n",
               "prompts/tutor.yaml:1:7: 'name' must be a string, not a list\n"
               "name: [t]\n"
               "      ^");
}

/* Stop strings: up to 16 of up to 255 bytes load whole (a multi-byte string too); beyond is
 * an error at the offending item, with its place, never a cut. */
static void test_stop_limits(void)
{
    /* 16 strings of exactly 255 bytes: 15 of ASCII with characters YAML escapes, one of 85
     * three-byte characters. */
    static char text[8192];
    char *e;
    strcpy(text, "name: t\nsystem: s\nstop:\n");
    for (int k = 0; k < PERSONA_MAX_STOP - 1; k++) {
        char item[300];
        int n = snprintf(item, sizeof item, "  - \"%c\\n\\\"", 'a' + k); /* 3 bytes */
        for (int i = 3; i < PERSONA_STOP_MAX_BYTES; i++) item[n++] = 'x';
        memcpy(item + n, "\"\n", 3);
        strcat(text, item);
    }
    strcat(text, "  - ");
    for (int i = 0; i < 85; i++) strcat(text, "語");
    strcat(text, "\n");
    persona *p = load_text(text, "prompts/tutor.yaml", &e);
    T_EQ_STR(e, "");
    free(e);
    T_ASSERT(p != NULL);
    T_EQ_INT(p->stop.n, PERSONA_MAX_STOP);
    for (size_t k = 0; k < p->stop.n; k++) T_EQ_INT(strlen(p->stop.v[k]), 255);
    T_CHECK(!strncmp(p->stop.v[0], "a\n\"xxx", 6));
    T_CHECK(!strncmp(p->stop.v[15], "語語", 6));
    persona_free(p);

    /* A 17th string, itself too long: both errors at its place; the length is counted in
     * bytes (86 characters are 258 bytes). */
    strcat(text, "  - ");
    for (int i = 0; i < 86; i++) strcat(text, "語");
    strcat(text, "\n");
    char msg[2048], line[400] = "  - ";
    for (int i = 0; i < 86; i++) strcat(line, "語");
    snprintf(msg, sizeof msg,
             "prompts/tutor.yaml:20:5: items of 'stop' must have at most 255 bytes, not 258\n"
             "%s\n    ^\n"
             "prompts/tutor.yaml:20:5: 'stop' must have at most 16 strings, not 17\n"
             "%s\n    ^", line, line);
    EXPECT_ERR(text, msg);

    /* Too many short ones: reported at the 17th. */
    strcpy(text, "name: t\nsystem: s\nstop: [");
    strcpy(line, "stop: [");
    for (int k = 0; k < 17; k++) {
        char item[8];
        snprintf(item, sizeof item, "%s%c", k ? ", " : "", 'a' + k);
        strcat(text, item);
        strcat(line, item);
    }
    strcat(text, "]\n");
    strcat(line, "]");
    snprintf(msg, sizeof msg, "prompts/tutor.yaml:3:56: 'stop' must have at most 16 strings, "
                              "not 17\n%s\n%55s^", line, "");
    EXPECT_ERR(text, msg);

    /* 256 ASCII bytes, in a flow list after a good one. */
    strcpy(line, "stop: [\"ok\", ");
    for (int i = 0; i < 256; i++) strcat(line, "y");
    strcat(line, "]");
    snprintf(text, sizeof text, "name: t\nsystem: s\n%s\n", line);
    snprintf(msg, sizeof msg, "prompts/tutor.yaml:3:14: items of 'stop' must have at most 255 "
                              "bytes, not 256\n%s\n%13s^", line, "");
    EXPECT_ERR(text, msg);

    /* Empty, and a NUL escape that would end the string early. */
    EXPECT_ERR("name: t\nsystem: s\nstop: [\"###\", '']\n",
               "prompts/tutor.yaml:3:15: items of 'stop' must not be empty\n"
               "stop: [\"###\", '']\n"
               "              ^");
    EXPECT_ERR("name: t\nsystem: s\nstop: [\"a\\0b\"]\n",
               "prompts/tutor.yaml:3:8: items of 'stop' must not contain a NUL character\n"
               "stop: [\"a\\0b\"]\n"
               "       ^");
    /* A list it must be. */
    EXPECT_ERR("name: t\nsystem: s\nstop: \"###\"\n",
               "prompts/tutor.yaml:3:7: 'stop' must be a list of strings, not a string\n"
               "stop: \"###\"\n"
               "      ^");
}

static void test_open(void)
{
    ycfg_diag d = {0};
    setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
    persona *p = persona_open_or_default("no-such-persona", &d);
    T_ASSERT(p != NULL);
    T_EQ_STR(p->path, "(built-in)");
    T_EQ_INT(d.n, 1);
    char want[4200];
    snprintf(want, sizeof want, "persona 'no-such-persona' not found (looked in prompts, "
             "/nonexistent/natter/prompts, %s/prompts)", datadir());
    T_EQ_STR(d.v[0], want);
    persona_free(p);
    unsetenv("XDG_CONFIG_HOME");
    ycfg_diag_free(&d);
    persona_entry *v;
    int n = persona_list(&v);
    int seen = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i].base, "docqa") && v[i].ok && !strcmp(v[i].path, "prompts/docqa.yaml"))
            seen++;
    T_EQ_INT(seen, 1);
    persona_entries_free(v, n);
}

static void test_expand(void)
{
    persona *p = persona_builtin();
    T_ASSERT(p != NULL);
    persona_vars v = {"Bob", "tiny.gguf", "2026-01-02"};
    char *s = persona_expand(p, &v, "{{user}} asks {{char}} on {{date}} via {{model}}; {{other}} {{user");
    T_EQ_STR(s, "Bob asks default on 2026-01-02 via tiny.gguf; {{other}} {{user");
    free(s);
    s = persona_expand(p, NULL, "{{user}}/{{model}}/{{date}}");
    T_CHECK(s && !strncmp(s, "User/the model/20", 17) && strlen(s) == 25);
    free(s);
    persona_free(p);
}

/* The persona used for the rendering tests: a variable in the system prompt, one context
 * document, one example pair. */
static persona *render_persona(void)
{
    persona *p = persona_builtin();
    if (!p) return NULL;
    free(p->name);
    p->name = strdup("Ada");
    free(p->system);
    p->system = strdup("You help {{user}}.");
    nt_err e;
    persona_add_context_text(p, "notes.txt", "The sky is green.\n", &e);
    p->examples = calloc(1, sizeof *p->examples);
    p->examples[0].user = strdup("Hi {{char}}");
    p->examples[0].assistant = strdup("Hello {{user}}.");
    p->n_examples = 1;
    return p;
}

#define S "You help Bob.\n\n" PERSONA_DEFAULT_INSTRUCTION \
          "\n\n=== Document 1: notes.txt ===\nThe sky is green.\n=== End of document 1 ==="

static void test_render_msgs(void)
{
    persona *p = render_persona();
    T_ASSERT(p != NULL);
    persona_vars v = {"Bob", NULL, "2026-01-02"};
    nt_chat_msg conv[] = {{NT_ROLE_USER, "Q?"}};
    persona_msgs m = {0};
    nt_err e;
    T_EQ_INT(persona_render(p, &v, conv, 1, &m, &e), NT_OK);
    T_EQ_INT(m.n, 4);
    T_EQ_INT(m.v[0].role, NT_ROLE_SYSTEM);
    T_EQ_STR(m.v[0].content, S);
    T_EQ_INT(m.v[1].role, NT_ROLE_USER);
    T_EQ_STR(m.v[1].content, "Hi Ada");
    T_EQ_INT(m.v[2].role, NT_ROLE_ASSISTANT);
    T_EQ_STR(m.v[2].content, "Hello Bob.");
    T_CHECK(m.v[3].content == conv[0].content);
    /* No system prompt and no documents: no system message at all. */
    free(p->system);
    p->system = strdup("");
    for (size_t i = 0; i < p->n_docs; i++) {
        free(p->docs[i].title);
        free(p->docs[i].text);
    }
    p->n_docs = 0;
    T_EQ_INT(persona_render(p, &v, conv, 1, &m, &e), NT_OK);
    T_EQ_INT(m.n, 3);
    T_EQ_INT(m.v[0].role, NT_ROLE_USER);
    persona_msgs_free(&m);
    persona_free(p);
}

static void test_render_families(void)
{
    static const struct {
        enum nt_chat_family f;
        const char *want;
    } cases[] = {
        {NT_CHAT_CHATML,
         "<|im_start|>system\n" S "<|im_end|>\n<|im_start|>user\nHi Ada<|im_end|>\n"
         "<|im_start|>assistant\nHello Bob.<|im_end|>\n<|im_start|>user\nQ?<|im_end|>\n"
         "<|im_start|>assistant\n"},
        {NT_CHAT_LLAMA2, "[INST] <<SYS>>\n" S "\n<</SYS>>\n\nHi Ada [/INST]Hello Bob.</s>[INST] Q? [/INST]"},
        {NT_CHAT_MISTRAL, "[INST] " S "\nHi Ada [/INST]Hello Bob.</s>[INST] Q? [/INST]"},
        {NT_CHAT_LLAMA3,
         "<|start_header_id|>system<|end_header_id|>\n\n" S "<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nHi Ada<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\nHello Bob.<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nQ?<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\n"},
        {NT_CHAT_ZEPHYR,
         "<|system|>\n" S "</s>\n<|user|>\nHi Ada</s>\n<|assistant|>\nHello Bob.</s>\n"
         "<|user|>\nQ?</s>\n<|assistant|>\n"},
        {NT_CHAT_PHI3,
         "<|system|>\n" S "<|end|>\n<|user|>\nHi Ada<|end|>\n<|assistant|>\nHello Bob.<|end|>\n"
         "<|user|>\nQ?<|end|>\n<|assistant|>\n"},
        {NT_CHAT_GEMMA,
         "<start_of_turn>user\n" S "\n\nHi Ada<end_of_turn>\n<start_of_turn>model\nHello Bob."
         "<end_of_turn>\n<start_of_turn>user\nQ?<end_of_turn>\n<start_of_turn>model\n"},
        {NT_CHAT_PLAIN, "System: " S "\n\nUser: Hi Ada\nAssistant: Hello Bob.\nUser: Q?\nAssistant:"},
        {NT_CHAT_PHI4,
         "<|im_start|>system<|im_sep|>" S "<|im_end|><|im_start|>user<|im_sep|>Hi Ada<|im_end|>"
         "<|im_start|>assistant<|im_sep|>Hello Bob.<|im_end|><|im_start|>user<|im_sep|>Q?<|im_end|>"
         "<|im_start|>assistant<|im_sep|>"},
        {NT_CHAT_MISTRAL_V7,
         "[SYSTEM_PROMPT] " S "[/SYSTEM_PROMPT][INST] Hi Ada[/INST] Hello Bob.</s>[INST] Q?[/INST]"},
        {NT_CHAT_MISTRAL_V7_TEKKEN,
         "[SYSTEM_PROMPT]" S "[/SYSTEM_PROMPT][INST]Hi Ada[/INST]Hello Bob.</s>[INST]Q?[/INST]"},
        {NT_CHAT_DEEPSEEK3,
         S "\n\n<\xef\xbd\x9cUser\xef\xbd\x9c>Hi Ada<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>Hello Bob."
         "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c><\xef\xbd\x9cUser"
         "\xef\xbd\x9c>Q?<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"},
        {NT_CHAT_GRANITE,
         "<|start_of_role|>system<|end_of_role|>" S "<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>"
         "Hi Ada<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>Hello Bob.<|end_of_text|>\n"
         "<|start_of_role|>user<|end_of_role|>Q?<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>"},
        {NT_CHAT_TULU,
         "<|system|>\n" S "\n<|user|>\nHi Ada\n<|assistant|>\nHello Bob.<|endoftext|>\n<|user|>\nQ?\n"
         "<|assistant|>\n"},
    };
    T_EQ_INT(sizeof cases / sizeof *cases, NT_CHAT_FAMILY_COUNT_);
    persona *p = render_persona();
    T_ASSERT(p != NULL);
    persona_vars v = {"Bob", NULL, "2026-01-02"};
    nt_chat_msg conv[] = {{NT_ROLE_USER, "Q?"}};
    persona_msgs m = {0};
    nt_err e;
    T_ASSERT(persona_render(p, &v, conv, 1, &m, &e) == NT_OK);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        nt_chat_prompt cp = {0};
        T_EQ_INT(nt_chat_format(cases[i].f, m.v, m.n, true, &cp, &e), NT_OK);
        char *s = nt_chat_prompt_text(&cp);
        if (!s || strcmp(s, cases[i].want))
            t_fail(__FILE__, __LINE__, "%s:\n  got:      \"%s\"\n  expected: \"%s\"",
                   nt_chat_family_name(cases[i].f), s ? s : "(null)", cases[i].want);
        free(s);
        nt_chat_prompt_free(&cp);
    }
    persona_msgs_free(&m);
    persona_free(p);
}

static void test_count_tokens(void)
{
    const char *path = t_fixture("models/stories260K.gguf");
    if (!path) T_SKIP("fixtures not found (../shared/fixtures)");
    nt_gguf *g = NULL;
    nt_tokenizer *t = NULL;
    nt_err e = {0};
    if (nt_gguf_open(&g, path, &e) != NT_OK) T_SKIP("%s", e.msg);
    T_ASSERT(nt_tokenizer_load(&t, g, &e) == NT_OK);
    persona *p = render_persona();
    persona_vars v = {"Bob", NULL, "2026-01-02"};
    int32_t n = 0;
    T_EQ_INT(persona_count_tokens(p, &v, t, NT_CHAT_PLAIN, &n, &e), NT_OK);
    /* The plain template has no control tokens, so its count must equal a plain encoding
     * of the same text with BOS (stories260K adds BOS). */
    const char *text = "System: " S "\n\nUser: Hi Ada\nAssistant: Hello Bob.\n";
    nt_tokens want = {0};
    T_EQ_INT(nt_tokenizer_encode(t, text, strlen(text), NT_TOK_ADD_BOS, &want, &e), NT_OK);
    T_EQ_INT(n, (int32_t)want.n);
    T_CHECK(n > 50);
    nt_tokens_free(&want);
    /* An empty persona takes no tokens. */
    free(p->system);
    p->system = strdup("");
    p->n_docs = 0;
    free(p->docs[0].title);
    free(p->docs[0].text);
    free(p->examples[0].user);
    free(p->examples[0].assistant);
    p->n_examples = 0;
    T_EQ_INT(persona_count_tokens(p, &v, t, NT_CHAT_CHATML, &n, &e), NT_OK);
    T_EQ_INT(n, 0);
    persona_free(p);
    nt_tokenizer_free(t);
    nt_gguf_close(g);
}

static const char card_json[] =
    "{\n"
    "  \"spec\": \"chara_card_v2\",\n"
    "  \"spec_version\": \"2.0\",\n"
    "  \"data\": {\n"
    "    \"name\": \"Captain Mira\",\n"
    "    \"description\": \"{{char}} is a starship captain who talks to {{User}}.\",\n"
    "    \"personality\": \"calm, dry humour\",\n"
    "    \"scenario\": \"The bridge of the Kestrel.\",\n"
    "    \"first_mes\": \"Welcome aboard, {{user}}.\",\n"
    "    \"mes_example\": \"<START>\\n{{user}}: Where are we?\\n{{char}}: Two jumps from home.\\n\\nStay close.\\n"
    "<START>\\n{{char}}: (checks the console)\\n{{user}}: Status?\\n{{char}}: Shields at {{random:50,60}} percent.\",\n"
    "    \"creator_notes\": \"A friendly captain.\\nMore notes.\",\n"
    "    \"system_prompt\": \"{{original}}\",\n"
    "    \"post_history_instructions\": \"\",\n"
    "    \"tags\": [\"scifi\"],\n"
    "    \"alternate_greetings\": [\"Captain on deck, {{User}}.\", \"  \", \"Report.\"],\n"
    "    \"extensions\": {}\n"
    "  }\n"
    "}\n";

static void test_card(void)
{
    json_t *j;
    json_error je;
    T_ASSERT(json_parse(card_json, strlen(card_json), &j, &je) == NT_OK);
    persona *p;
    int dropped = 0;
    nt_err e = {0};
    T_ASSERT(persona_from_card(j, &p, &dropped, &e) == NT_OK);
    json_decref(j);
    T_EQ_STR(p->name, "Captain Mira");
    T_EQ_STR(p->description, "A friendly captain.");
    T_EQ_STR(p->system, "You are {{char}}. Reply to {{user}} as {{char}} would, staying in character.\n\n"
                        "{{char}} is a starship captain who talks to {{user}}.\n\n"
                        "{{char}}'s personality: calm, dry humour\n\n"
                        "Scenario: The bridge of the Kestrel.");
    T_EQ_STR(p->greeting, "Welcome aboard, {{user}}.");
    T_EQ_INT(p->n_examples, 2);
    T_EQ_STR(p->examples[0].user, "Where are we?");
    T_EQ_STR(p->examples[0].assistant, "Two jumps from home.\n\nStay close.");
    T_EQ_STR(p->examples[1].user, "Status?");
    T_EQ_STR(p->examples[1].assistant, "Shields at random:50,60 percent.");
    T_EQ_INT(dropped, 1);
    /* The alternate greetings, macros rewritten and blank ones left out, cycle after it. */
    T_EQ_INT(p->alt_greetings.n, 2);
    T_EQ_INT(persona_n_greetings(p), 3);
    persona_vars pv = {"Ann", NULL, NULL};
    const char *want_g[] = {"Welcome aboard, Ann.", "Captain on deck, Ann.", "Report.", "Welcome aboard, Ann."};
    for (size_t i = 0; i < 4; i++) {
        char *g = persona_greeting_at(p, &pv, i);
        T_EQ_STR(g, want_g[i]);
        free(g);
    }

    /* Round trip through YAML: the written file validates and holds the same persona. */
    char *yaml = persona_to_yaml(p, "Imported for a test.");
    T_ASSERT(yaml != NULL);
    T_CHECK(!strncmp(yaml, "# Imported for a test.\nname: Captain Mira\n", 41));
    const char *path = tmp_path("captain.yaml");
    write_file(path, yaml);
    free(yaml);
    ycfg_diag d = {0};
    persona *q = persona_load(path, NULL, &d);
    for (size_t k = 0; k < d.n; k++) printf("%s\n", d.v[k]);
    T_ASSERT(q != NULL);
    T_EQ_STR(q->name, p->name);
    T_EQ_STR(q->description, p->description);
    T_EQ_STR(q->system, p->system);
    T_EQ_STR(q->greeting, p->greeting);
    T_EQ_INT(q->alt_greetings.n, 2);
    if (q->alt_greetings.n == 2) T_EQ_STR(q->alt_greetings.v[1], "Report.");
    T_EQ_INT(q->n_examples, p->n_examples);
    for (size_t i = 0; i < q->n_examples && i < p->n_examples; i++) {
        T_EQ_STR(q->examples[i].user, p->examples[i].user);
        T_EQ_STR(q->examples[i].assistant, p->examples[i].assistant);
    }
    persona_free(q);
    ycfg_diag_free(&d);
    persona_free(p);

    /* Awkward strings survive too: trailing spaces, quotes, a YAML-looking value, colons. */
    p = persona_builtin();
    free(p->name);
    p->name = strdup("yes");
    free(p->system);
    p->system = strdup("line one  \n  indented: \"quoted\" # not a comment\n- dash");
    p->greeting = strdup("#hash: start");
    p->sampling.set = 1u << PARAM_TEMP | 1u << PARAM_TOP_K;
    p->sampling.v.sp.temperature = 0.65f;
    p->sampling.v.sp.top_k = 33;
    p->think = CHAT_THINK_ON;
    yaml = persona_to_yaml(p, NULL);
    write_file(path, yaml);
    free(yaml);
    q = persona_load(path, NULL, &d);
    for (size_t k = 0; k < d.n; k++) printf("%s\n", d.v[k]);
    T_ASSERT(q != NULL);
    T_EQ_STR(q->name, "yes");
    T_EQ_STR(q->system, p->system);
    T_EQ_STR(q->greeting, p->greeting);
    T_EQ_INT(q->sampling.set, p->sampling.set);
    T_CHECK(q->sampling.v.sp.temperature == 0.65f); /* bit-exact */
    T_EQ_INT(q->sampling.v.sp.top_k, 33);
    T_EQ_INT(q->think, CHAT_THINK_ON);
    persona_free(q);
    persona_free(p);
    ycfg_diag_free(&d);

    char *slug = persona_slug("Dr. Ada  Lovelace!");
    T_EQ_STR(slug, "dr-ada-lovelace");
    free(slug);
    slug = persona_slug("日本");
    T_EQ_STR(slug, "character");
    free(slug);
}

static void test_card_rejects(void)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"[1]", "not a Character Card: the file holds an array, not an object"},
        {"{\"spec\": \"chara_card_v9\", \"data\": {}}", "unsupported card spec 'chara_card_v9' (natter reads chara_card_v2)"},
        {"{\"spec\": \"chara_card_v2\"}", "card has no \"data\" object"},
        {"{\"spec\": \"chara_card_v2\", \"data\": {\"name\": 5}}", "card field 'data.name' must be a string, not a number"},
        {"{\"spec\": \"chara_card_v2\", \"data\": {\"name\": \"x\", \"alternate_greetings\": [\"a\", 2]}}", "items of 'data.alternate_greetings' must be strings, not a number"},
        {"{\"spec\": \"chara_card_v2\", \"data\": {\"name\": \"  \"}}", "card has no name"},
        {"{\"hello\": 1}", "not a Character Card: no \"spec\": \"chara_card_v2\" (and no V1 name/first_mes)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *j;
        json_error je;
        T_ASSERT(json_parse(cases[i].json, strlen(cases[i].json), &j, &je) == NT_OK);
        persona *p = NULL;
        int dropped;
        nt_err e = {0};
        T_EQ_INT(persona_from_card(j, &p, &dropped, &e), NT_ERR_FORMAT);
        T_CHECK(p == NULL);
        T_EQ_STR(e.msg, cases[i].msg);
        json_decref(j);
    }
}

static void test_import_command(void)
{
    const char *card = tmp_path("card.json"), *out = tmp_path("mira.yaml");
    write_file(card, card_json);
    char *argv[] = {"import-card", (char *)card, "-o", (char *)out};
    T_EQ_INT(quietly(cmd_import_card, 4, argv), 0);
    size_t len;
    char *first = t_read_file(out, &len);
    T_ASSERT(first != NULL);
    /* No overwrite without --force; the file stays as it was. */
    write_file(out, "name: keep\nsystem: me\n");
    T_EQ_INT(quietly(cmd_import_card, 4, argv), 1);
    char *kept = t_read_file(out, &len);
    T_EQ_STR(kept, "name: keep\nsystem: me\n");
    free(kept);
    char *argv2[] = {"import-card", (char *)card, "-o", (char *)out, "--force"};
    T_EQ_INT(quietly(cmd_import_card, 5, argv2), 0);
    char *again = t_read_file(out, &len);
    T_EQ_STR(again, first);
    free(again);
    free(first);
    char *check[] = {"--check", (char *)out};
    T_EQ_INT(quietly(cmd_check, 2, check), 0);
    /* A broken card and a broken persona make the commands fail. */
    write_file(card, "{\"spec\": \"chara_card_v2\", \"data\": {\"name\": \"x\",}}");
    T_EQ_INT(quietly(cmd_import_card, 5, argv2), 1);
    write_file(out, "name: x\nsystem: s\nsampling: {temperature: 70}\n");
    T_EQ_INT(quietly(cmd_check, 2, check), 1);
    char *none[] = {"--check"};
    T_EQ_INT(quietly(cmd_check, 1, none), 2);
    char *bad_opt[] = {"--check", "--frobnicate", "x.yaml"};
    T_EQ_INT(quietly(cmd_check, 3, bad_opt), 2);
    char *no_card[] = {"import-card"};
    T_EQ_INT(quietly(cmd_import_card, 1, no_card), 2);
}

/* Truncated files (every 11th length of two shipped personas): each either loads or fails
 * with at least one diagnostic, and never crashes (run under `make asan`). */
static void test_truncations(void)
{
    const char *files[] = {"prompts/tutor.yaml", "prompts/docqa.yaml"};
    int bad = 0, failed = 0;
    for (int f = 0; f < 2; f++) {
        size_t len;
        char *text = t_read_file(files[f], &len);
        T_ASSERT(text != NULL);
        const char *path = tmp_path("trunc.yaml");
        for (size_t n = 0; n < len; n += 11) {
            FILE *fp = fopen(path, "wb");
            T_ASSERT(fp != NULL);
            fwrite(text, 1, n, fp);
            fclose(fp);
            ycfg_diag d = {0};
            persona *p = persona_load(path, NULL, &d);
            if (!p && d.n == 0) bad++;
            if (p && d.n != 0) bad++;
            failed += !p;
            persona_free(p);
            ycfg_diag_free(&d);
        }
        free(text);
    }
    T_EQ_INT(bad, 0);
    T_CHECK(failed > 10); /* most cuts lose 'system' or break the syntax */
}

int main(void)
{
    T_RUN(test_shipped);
    T_RUN(test_builtin_is_default);
    T_RUN(test_fields);
    T_RUN(test_errors);
    T_RUN(test_stop_limits);
    T_RUN(test_open);
    T_RUN(test_expand);
    T_RUN(test_render_msgs);
    T_RUN(test_render_families);
    T_RUN(test_count_tokens);
    T_RUN(test_card);
    T_RUN(test_card_rejects);
    T_RUN(test_import_command);
    T_RUN(test_truncations);
    return t_done();
}
