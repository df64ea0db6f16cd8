/* Tests for app/util/json.c: accepted and rejected documents with exact line:col messages,
 * Unicode escapes and UTF-8 validation, numbers, duplicate keys, depth, and the writer's
 * output read back by the parser. */
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
    json *j = (json *)1;
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
    json *j;
    json_error e;
    T_EQ_INT(json_parse(text, strlen(text), &j, &e), NT_OK);
    T_ASSERT(j != NULL);
    T_EQ_INT(j->type, JSON_OBJECT);
    T_EQ_INT(json_len(j), 4);
    const json *a = json_get(j, "a");
    T_EQ_INT(json_len(a), 6);
    int64_t i;
    double d;
    T_CHECK(json_int(json_at(a, 0), &i));
    T_EQ_INT(i, 1);
    T_CHECK(json_num(json_at(a, 1), &d));
    T_NEAR(d, -2500.0, 0);
    T_CHECK(!json_int(json_at(a, 1), &i));
    T_CHECK(json_is_true(json_at(a, 3)));
    T_EQ_INT(json_at(a, 4)->type, JSON_BOOL);
    T_EQ_INT(json_at(a, 5)->type, JSON_NULL);
    T_EQ_STR(json_str(json_get(j, "s")), "x\xc3\xa9\xf0\x9f\x98\x80\n\"/");
    T_EQ_INT(json_get(j, "a")->line, 2);
    T_EQ_INT(json_get(j, "a")->col, 8);
    T_EQ_INT(json_at(a, 1)->col, 12);
    T_CHECK(json_get(j, "missing") == NULL);
    T_CHECK(json_str(json_get(j, "a")) == NULL);
    json_free(j);

    /* Scalars at the top level, \u0000 inside a string, big integers. */
    T_EQ_INT(json_parse("  \"a\\u0000b\" ", 12, &j, &e), NT_OK);
    T_EQ_INT(j->u.str.len, 3);
    json_free(j);
    T_EQ_INT(json_parse("9223372036854775807", 19, &j, &e), NT_OK);
    T_CHECK(json_int(j, &i));
    T_CHECK(i == INT64_MAX);
    json_free(j);
    T_EQ_INT(json_parse("9223372036854775808", 19, &j, &e), NT_OK);
    T_CHECK(!json_int(j, &i)); /* does not fit: a double only */
    json_free(j);
}

static void test_reject(void)
{
    REJECT("", "1:1: expected a value, found the end of the text");
    REJECT("{\"a\": 1,}", "1:9: trailing comma before '}'");
    REJECT("[1, 2,]", "1:7: trailing comma before ']'");
    REJECT("{\"a\" 1}", "1:6: expected ':' after the key, found '1'");
    REJECT("{\"a\": 1\n \"b\": 2}", "2:2: expected ',' or '}' after an object member, found '\"'");
    REJECT("[1 2]", "1:4: expected ',' or ']' after an array item, found '2'");
    REJECT("{a: 1}", "1:2: expected a string key, found 'a'");
    REJECT("// c\n1", "1:1: unexpected '/' (expected a value)");
    REJECT("[01]", "1:2: numbers must not have leading zeros");
    REJECT("[1.]", "1:4: expected a digit after the decimal point");
    REJECT("[.5]", "1:2: unexpected '.' (expected a value)");
    REJECT("[-]", "1:3: expected a digit after '-'");
    REJECT("[1e]", "1:4: expected a digit in the exponent");
    REJECT("[NaN]", "1:2: unexpected 'N' (expected a value)");
    REJECT("[1e999]", "1:2: number 1e999 is too large");
    REJECT("[tru]", "1:2: unexpected 't' (expected a value)");
    REJECT("\"abc", "1:5: unterminated string");
    REJECT("\"a\tb\"", "1:3: control character U+0009 inside a string (escape it)");
    REJECT("\"a\\qb\"", "1:4: unknown escape '\\q'");
    REJECT("\"\\u12G4\"", "1:6: \\u must be followed by four hex digits");
    REJECT("\"\\udc00\"", "1:2: lone low surrogate \\uDC00");
    REJECT("\"x\\ud83dx\"", "1:3: high surrogate \\uD83D is not followed by a low surrogate");
    REJECT("\"\\ud83d\\u0041\"", "1:2: high surrogate \\uD83D is not followed by a low surrogate");
    REJECT("\"\xc3\xa9\xff\"", "1:3: invalid UTF-8 (byte 0xFF)");
    REJECT("\"\xc0\xaf\"", "1:2: invalid UTF-8 (byte 0xC0)");        /* overlong '/' */
    REJECT("\"\xed\xa0\x80\"", "1:2: invalid UTF-8 (byte 0xED)");    /* encoded surrogate */
    REJECT("{\"k\": 1, \"j\": 2,\n \"k\": 3}", "2:2: duplicate key \"k\"");
    REJECT("{} x", "1:4: unexpected 'x' after the JSON value");
    REJECT("1 2", "1:3: unexpected '2' after the JSON value");
    REJECT("[\"\xc3\xa9\xc3\xa9\" x]", "1:7: expected ',' or ']' after an array item, found 'x'");
    reject("[\0]", 3, "1:2: unexpected byte 0x00 (expected a value)", __LINE__);

    /* Nesting: JSON_MAX_DEPTH levels parse, one more does not. */
    char deep[2 * JSON_MAX_DEPTH + 3];
    for (int i = 0; i < JSON_MAX_DEPTH; i++) deep[i] = '[', deep[2 * JSON_MAX_DEPTH - 1 - i] = ']';
    json *j;
    json_error e;
    T_EQ_INT(json_parse(deep, 2 * JSON_MAX_DEPTH, &j, &e), NT_OK);
    json_free(j);
    memmove(deep + 1, deep, 2 * JSON_MAX_DEPTH);
    deep[0] = '[';
    deep[2 * JSON_MAX_DEPTH + 1] = ']';
    char want[64];
    snprintf(want, sizeof want, "1:%d: nesting deeper than %d levels", JSON_MAX_DEPTH + 1, JSON_MAX_DEPTH);
    reject(deep, 2 * JSON_MAX_DEPTH + 2, want, __LINE__);
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
                "  \"third\": 0.3333333333333333,\n  \"big\": -9223372036854775808,\n"
                "  \"list\": [\n    true,\n    null,\n    {}\n  ]\n}");
    json *j;
    json_error e;
    T_EQ_INT(json_parse(s, len, &j, &e), NT_OK);
    double d;
    T_CHECK(json_num(json_get(j, "third"), &d) && d == 1.0 / 3.0);
    int64_t i;
    T_CHECK(json_int(json_get(j, "big"), &i) && i == INT64_MIN);
    T_EQ_STR(json_str(json_get(j, "name")), "tab\there \"q\" \x01 caf\xc3\xa9");
    json_free(j);
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
    json *j;
    json_error e;
    double d = 0;
    T_EQ_INT(json_parse("1.5", 3, &j, &e), NT_OK);
    T_CHECK(json_num(j, &d) && d == 1.5);
    json_free(j);
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
        json *j;
        json_error e;
        int rc = json_parse(doc, len, &j, &e);
        if (len == n ? rc != NT_OK : rc != NT_ERR_FORMAT) bad++;
        if (rc != NT_OK && (e.line < 1 || e.line > 2 || e.col < 1 || !e.msg[0])) bad++;
        json_free(j);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof vals; k++) {
            memcpy(buf, doc, n);
            buf[i] = (char)vals[k];
            json *j;
            json_error e;
            int rc = json_parse(buf, n, &j, &e);
            if (rc != NT_OK && rc != NT_ERR_FORMAT) bad++;
            if (rc != NT_OK && (e.line < 1 || e.col < 1 || !e.msg[0])) bad++;
            json_free(j);
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
