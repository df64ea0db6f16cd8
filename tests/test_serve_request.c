/* Tests for app/serve/request.c: an OpenAI-style body read into a serve_req (messages and
 * their content parts, the prompt, stream options, logprobs, stop strings, every sampling
 * parameter by its persona spelling with the table's ranges) and each refusal's message. */
#include "serve/request.h"
#include "natter.h"
#include "t.h"

#include <string.h>

static param_values defaults(void)
{
    param_values v = {.sp = nt_sampler_default_params(), .max_tokens = 0};
    return v;
}

static void refuse(enum serve_kind kind, const char *body, const char *msg, int line)
{
    param_values d = defaults();
    serve_req r;
    nt_err e = {0};
    int rc = serve_req_parse(kind, body, strlen(body), &d, &r, &e);
    if (rc != NT_ERR_INVALID || strcmp(e.msg, msg) != 0)
        t_fail(__FILE__, line, "%s: rc %d, \"%s\", expected \"%s\"", body, rc, e.msg, msg);
    T_CHECK(r.msgs == NULL && r.prompt == NULL && r.n_stop == 0); /* freed */
}
#define REFUSE(kind, body, msg) refuse(kind, body, msg, __LINE__)

static void test_chat(void)
{
    const char *body = "{\"model\": \"m\", \"messages\": [{\"role\": \"developer\", \"content\": \"Be brief.\"},"
                       " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"a\"}, {\"type\": \"text\", \"text\": \"b\"}]},"
                       " {\"role\": \"assistant\", \"content\": null}, {\"role\": \"user\", \"content\": \"c\"}],"
                       " \"temperature\": 0.7, \"top_k\": 40, \"top_p\": null, \"seed\": 12345678901, \"max_completion_tokens\": 9,"
                       " \"presence_penalty\": -0.5, \"stop\": [\"x\", \"yz\"], \"stream\": true,"
                       " \"stream_options\": {\"include_usage\": true}, \"logprobs\": true, \"top_logprobs\": 4,"
                       " \"user\": \"ignored\", \"n\": 1}";
    param_values d = defaults();
    serve_req r;
    nt_err e = {0};
    T_EQ_INT(serve_req_parse(SERVE_CHAT, body, strlen(body), &d, &r, &e), NT_OK);
    T_EQ_STR(r.model, "m");
    T_EQ_INT(r.n_msgs, 4);
    T_EQ_INT(r.msgs[0].role, NT_ROLE_SYSTEM);
    T_EQ_STR(r.msgs[1].content, "ab");
    T_EQ_INT(r.msgs[2].role, NT_ROLE_ASSISTANT);
    T_EQ_STR(r.msgs[2].content, "");
    T_CHECK(r.params.sp.temperature == 0.7f); /* strtof's value, as on the command line */
    T_EQ_INT(r.params.sp.top_k, 40);
    T_CHECK(r.params.sp.top_p == d.sp.top_p); /* null: not given */
    T_CHECK(r.params.sp.seed == 12345678901ull);
    T_CHECK(r.params.sp.presence_penalty == -0.5f);
    T_EQ_INT(r.params.max_tokens, 9);
    T_CHECK(r.params_given == ((1u << PARAM_TEMP) | (1u << PARAM_TOP_K) | (1u << PARAM_SEED) |
                               (1u << PARAM_MAX_TOKENS) | (1u << PARAM_PRESENCE_PENALTY)));
    T_EQ_INT(r.n_stop, 2);
    T_EQ_STR(r.stop[1], "yz");
    T_CHECK(r.stream && r.include_usage && r.logprobs);
    T_EQ_INT(r.top_logprobs, 4);
    serve_req_free(&r);
}

static void test_completion(void)
{
    const char *body = "{\"prompt\": [\"Once\\u0000 upon\"], \"logprobs\": 2, \"stop\": \"\\n\"}";
    param_values d = defaults();
    serve_req r;
    nt_err e = {0};
    T_EQ_INT(serve_req_parse(SERVE_COMPLETION, body, strlen(body), &d, &r, &e), NT_OK);
    T_EQ_INT(r.prompt_len, 10);
    T_CHECK(memcmp(r.prompt, "Once\0 upon", 10) == 0);
    T_CHECK(r.logprobs && r.top_logprobs == 2 && !r.stream);
    T_EQ_STR(r.stop[0], "\n");
    serve_req_free(&r);
    const char *nul = "{\"prompt\": \"x\", \"logprobs\": null}";
    T_EQ_INT(serve_req_parse(SERVE_COMPLETION, nul, strlen(nul), &d, &r, &e), NT_OK);
    T_CHECK(!r.logprobs);
    serve_req_free(&r);
}

static void test_refusals(void)
{
    REFUSE(SERVE_CHAT, "{\"messages\": [}", "the body is not valid JSON: 1:15: unexpected token near '}'");
    REFUSE(SERVE_CHAT, "[1]", "the body must be a JSON object, not an array");
    REFUSE(SERVE_CHAT, "{}", "'messages' must be a non-empty array of {role, content}");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}",
           "'messages[0].role': 'tool' is not system, developer, user or assistant");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"system\", \"content\": \"s\"}]}",
           "'messages[1]': a system message may only come first");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"user\"}]}", "'messages[0].content' is missing");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}",
           "'messages[0].content[0]': only text parts ({\"type\": \"text\", \"text\": ...}) are supported");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", \"content\": \"y\"}]}",
           "the last message is the assistant's: there is nothing to answer");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"top_p\": 1.5}",
           "'top_p': '1.5' is out of range (0 to 1)");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"top_k\": 2.5}",
           "'top_k': '2.5' is not a whole number");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": \"hot\"}",
           "'temperature' must be a number, not a string");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"seed\": -1}",
           "'seed': '-1' is not a whole number");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"n\": 2}",
           "'n' must be a whole number from 1 to 1");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"top_logprobs\": 2}",
           "'top_logprobs' needs 'logprobs': true");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stream\": 1}",
           "'stream' must be true or false, not a number");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": [\"\"]}",
           "'stop': each stop string is 1 to 255 bytes (no NUL)");
    REFUSE(SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": "
           "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]}",
           "'stop': at most 16 stop strings");
    REFUSE(SERVE_COMPLETION, "{\"prompt\": 5}", "'prompt' must be a string (or an array of one string)");
    REFUSE(SERVE_COMPLETION, "{\"prompt\": \"x\", \"logprobs\": 21}", "'logprobs' must be a whole number from 0 to 20");
}

int main(void)
{
    T_RUN(test_chat);
    T_RUN(test_completion);
    T_RUN(test_refusals);
    return t_done();
}
