/* Tests for app/util/json.c, natter's layer over jansson: accepted and rejected documents with
 * exact line:col messages (made visible), Unicode escapes and UTF-8 validation, numbers,
 * duplicate keys, depth, and the writer's output (lossy UTF-8, 15-digit reals) read back. */
#include "util/json.h"
#include "natter.h"
#include "t.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reject(const char *text, size_t len, const char *msg, int line)
{
    json_t *j = (json_t *)1;
    json_error e;
    int rc = json_parse(text, len, &j, &e);
    if (rc != NT_ERR_FORMAT || j != NULL || strcmp(e.msg, msg) != 0)
        t_fail(__FILE__, line, "json_parse(\"%s\"): rc %d, msg \"%s\", expected \"%s\"", text, rc,
               e.msg, msg);
}

#define REJECT(text, msg) reject(text, strlen(text), msg, __LINE__)

static void test_accept(void)
{
    const char *text = "\xEF\xBB\xBF{\n  \"a\": [1, -2.5e3, 0, true, false, null],\n"
                       "  \"s\": \"x\\u00e9\\ud83d\\ude00\\n\\\"\\/\",\n  \"o\": {}, \"e\": []\n}\n";
    json_t *j;
    json_error e;
    T_EQ_INT(json_parse(text, strlen(text), &j, &e), NT_OK);
    T_ASSERT(j != NULL);
    T_CHECK(json_is_object(j));
    T_EQ_INT(json_object_size(j), 4);
    const json_t *a = json_object_get(j, "a");
    T_EQ_INT(json_array_size(a), 6);
    T_CHECK(json_is_integer(json_array_get(a, 0)));
    T_EQ_INT(json_integer_value(json_array_get(a, 0)), 1);
    T_CHECK(json_is_real(json_array_get(a, 1)));
    T_NEAR(json_number_value(json_array_get(a, 1)), -2500.0, 0);
    T_CHECK(json_is_true(json_array_get(a, 3)));
    T_EQ_STR(json_type_name(json_array_get(a, 4)), "a boolean");
    T_EQ_STR(json_type_name(json_array_get(a, 5)), "null");
    T_EQ_STR(json_type_name(a), "an array");
    T_EQ_STR(json_string_value(json_object_get(j, "s")), "x\xc3\xa9\xf0\x9f\x98\x80\n\"/");
    T_CHECK(json_object_get(j, "missing") == NULL);
    T_CHECK(json_string_value(json_object_get(j, "a")) == NULL);
    json_decref(j);

    /* Scalars at the top level, \u0000 inside a string, the largest integer. */
    T_EQ_INT(json_parse("  \"a\\u0000b\" ", 12, &j, &e), NT_OK);
    T_EQ_INT(json_string_length(j), 3);
    json_decref(j);
    T_EQ_INT(json_parse("9223372036854775807", 19, &j, &e), NT_OK);
    T_CHECK(json_integer_value(j) == INT64_MAX);
    json_decref(j);
}

static void test_reject(void)
{
    /* jansson's messages, at jansson's place (the last character it read), with natter's
     * line:col in front and every quoted byte visible. */
    REJECT("", "1:1: unexpected token near end of file");
    REJECT("{\"a\": 1,}", "1:9: string or '}' expected near '}'");
    REJECT("[1, 2,]", "1:7: unexpected token near ']'");
    REJECT("{\"a\" 1}", "1:6: ':' expected near '1'");
    REJECT("{\"a\": 1\n \"b\": 2}", "2:4: '}' expected near '\"b\"'");
    REJECT("[1 2]", "1:4: ']' expected near '2'");
    REJECT("{a: 1}", "1:2: string or '}' expected near 'a'");
    REJECT("// c\n1", "1:1: invalid token near '/'");
    REJECT("[01]", "1:2: invalid token near '0'");
    REJECT("[1.]", "1:3: invalid token near '1.'");
    REJECT("[-]", "1:2: invalid token near '-'");
    REJECT("[NaN]", "1:4: invalid token near 'NaN'");
    REJECT("[1e999]", "1:6: real number overflow near '1e999'");
    REJECT("9223372036854775808", "1:19: too big integer near '9223372036854775808'");
    REJECT("[tru]", "1:4: invalid token near 'tru'");
    REJECT("\"abc", "1:4: premature end of input near '\"abc'");
    REJECT("\"a\tb\"", "1:2: control character 0x9 near '\"a'");
    REJECT("\"a\\qb\"", "1:4: invalid escape near '\"a\\q'");
    REJECT("\"\\udc00\"", "1:8: invalid Unicode '\\uDC00' near '\"\\udc00\"'");
    REJECT("\"x\\ud83dx\"", "1:10: invalid Unicode '\\uD83D' near '\"x\\ud83dx\"'");
    REJECT("\"\xc3\xa9\xff\"", "1:2: unable to decode byte 0xff near '\"\xc3\xa9'");
    REJECT("\"\xed\xa0\x80\"", "1:1: unable to decode byte 0xed near '\"'"); /* encoded surrogate */
    REJECT("{\"k\": 1, \"j\": 2,\n \"k\": 3}", "2:4: duplicate object key near '\"k\"'");
    REJECT("{} x", "1:4: end of file expected near 'x'");
    REJECT("1 2", "1:3: end of file expected near '2'");
    REJECT("[\"\xc3\xa9\xc3\xa9\" x]", "1:7: ']' expected near 'x'");
    reject("[\0]", 3, "1:2: invalid token near end of file", __LINE__);
    /* What the message quotes from the input cannot drive a terminal. */
    REJECT("[\x1b[31m]", "1:2: invalid token near '\\x1B'");

    /* Nesting: JSON_MAX_DEPTH levels parse, one more does not. */
    char deep[2 * JSON_MAX_DEPTH + 3];
    for (int i = 0; i < JSON_MAX_DEPTH; i++) deep[i] = '[', deep[2 * JSON_MAX_DEPTH - 1 - i] = ']';
    json_t *j;
    json_error e;
    T_EQ_INT(json_parse(deep, 2 * JSON_MAX_DEPTH, &j, &e), NT_OK);
    json_decref(j);
    memmove(deep + 1, deep, 2 * JSON_MAX_DEPTH);
    deep[0] = '[';
    deep[2 * JSON_MAX_DEPTH + 1] = ']';
    char want[64];
    snprintf(want, sizeof want, "1:%d: nesting deeper than %d levels", JSON_MAX_DEPTH + 1, JSON_MAX_DEPTH);
    reject(deep, 2 * JSON_MAX_DEPTH + 2, want, __LINE__);
    /* Brackets inside strings do not count. */
    T_EQ_INT(json_parse("[\"[[[[\\\"[[[[\"]", 14, &j, &e), NT_OK);
    json_decref(j);
}

static void test_writer_round_trip(void)
{
    json_writer w = {0};
    w.pretty = true;
    json_w_begin_object(&w);
    json_w_key(&w, "name");
    json_w_string(&w, "tab\there \"q\" \x01 caf\xc3\xa9");
    json_w_key(&w, "n");
    json_w_double(&w, 0.1);
    json_w_key(&w, "third");
    json_w_double(&w, 1.0 / 3.0);
    json_w_key(&w, "big");
    json_w_int(&w, INT64_MIN);
    json_w_key(&w, "bad");
    json_w_string(&w, "a\xff" "b");
    json_w_key(&w, "list");
    json_w_begin_array(&w);
    json_w_bool(&w, true);
    json_w_null(&w);
    json_w_begin_object(&w);
    json_w_end_object(&w);
    json_w_end_array(&w);
    json_w_end_object(&w);
    size_t len;
    char *s = json_writer_finish(&w, &len);
    T_ASSERT(s != NULL);
    T_EQ_STR(s, "{\n  \"name\": \"tab\\there \\\"q\\\" \\u0001 caf\xc3\xa9\",\n  \"n\": 0.1,\n"
                "  \"third\": 0.333333333333333,\n  \"big\": -9223372036854775808,\n"
                "  \"bad\": \"a\xef\xbf\xbd" "b\",\n"
                "  \"list\": [\n    true,\n    null,\n    {}\n  ]\n}");
    T_EQ_INT(len, strlen(s));
    json_t *j;
    json_error e;
    T_EQ_INT(json_parse(s, len, &j, &e), NT_OK);
    /* 15 significant digits: within 1e-15 relative, not bit-exact. */
    T_NEAR(json_number_value(json_object_get(j, "third")), 1.0 / 3.0, 1e-15);
    T_CHECK(json_number_value(json_object_get(j, "n")) == 0.1);
    T_CHECK(json_integer_value(json_object_get(j, "big")) == INT64_MIN);
    T_EQ_STR(json_string_value(json_object_get(j, "name")), "tab\there \"q\" \x01 caf\xc3\xa9");
    json_decref(j);
    free(s);

    /* Compact form. */
    json_writer c = {0};
    json_w_begin_array(&c);
    json_w_int(&c, 1);
    json_w_string(&c, "a");
    json_w_double(&c, NAN);
    json_w_end_array(&c);
    s = json_writer_finish(&c, NULL);
    T_EQ_STR(s, "[1,\"a\",null]");
    free(s);
}

static void test_locale(void)
{
    /* Numbers must not depend on LC_NUMERIC (skip if no comma locale is installed). */
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") && !setlocale(LC_NUMERIC, "fr_FR.UTF-8"))
        T_SKIP("no de_DE/fr_FR locale installed");
    json_t *j;
    json_error e;
    T_EQ_INT(json_parse("1.5", 3, &j, &e), NT_OK);
    T_CHECK(json_number_value(j) == 1.5);
    json_decref(j);
    json_writer w = {0};
    json_w_double(&w, 2.25);
    char *s = json_writer_finish(&w, NULL);
    T_EQ_STR(s, "2.25");
    free(s);
    setlocale(LC_NUMERIC, "C");
}

/* Every prefix of a document, and the document with each byte replaced by hostile values,
 * either parses or fails with a place inside the text: never a crash (run under `make asan`),
 * never a failure without a message. */
static void test_mutations(void)
{
    static const char doc[] = "{\"spec\": \"chara_card_v2\", \"data\": {\"name\": \"M\\u00e9ra\",\n"
                              " \"tags\": [1, -2.5e3, true, null, {\"a\": []}], \"x\": \"\\ud83d\\ude00\"}}";
    size_t n = sizeof doc - 1;
    char buf[sizeof doc];
    static const unsigned char vals[] = {0, '"', '\\', '{', ']', ',', 0x80, 0xff, '\n'};
    int bad = 0;
    for (size_t len = 0; len <= n; len++) {
        json_t *j;
        json_error e;
        int rc = json_parse(doc, len, &j, &e);
        if (len == n ? rc != NT_OK : rc != NT_ERR_FORMAT) bad++;
        if (rc != NT_OK && (e.line < 1 || e.line > 2 || e.col < 1 || !e.msg[0])) bad++;
        json_decref(j);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof vals; k++) {
            memcpy(buf, doc, n);
            buf[i] = (char)vals[k];
            json_t *j;
            json_error e;
            int rc = json_parse(buf, n, &j, &e);
            if (rc != NT_OK && rc != NT_ERR_FORMAT) bad++;
            if (rc != NT_OK && (e.line < 1 || e.col < 1 || !e.msg[0])) bad++;
            json_decref(j);
        }
    }
    T_EQ_INT(bad, 0);
}

int main(void)
{
    T_RUN(test_accept);
    T_RUN(test_reject);
    T_RUN(test_writer_round_trip);
    T_RUN(test_locale);
    T_RUN(test_mutations);
    return t_done();
}
