/*
 * test_json_body - request-body parsing over jansson: each failure kind with
 * its position, type names, and echoing jansson values through our writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lakeapi/buf.h"
#include "lakeapi/json.h"
#include "lakeapi/json_body.h"

/* Parses a literal expecting failure; returns the error for more checks. */
static json_body_error_t parse_fail(const char *body, size_t len, json_body_status_t kind)
{
    json_t *v = (json_t *)0x1;
    json_body_error_t err;
    assert_int_equal(json_body_parse(body, len, &v, &err), -1);
    assert_null(v);
    assert_int_equal(err.kind, kind);
    assert_true(err.message[0] != '\0');
    return err;
}

#define FAIL_LIT(lit, kind) parse_fail(lit, sizeof(lit) - 1, kind)

static void test_empty(void **state)
{
    parse_fail("", 0, JSON_BODY_EMPTY);
    parse_fail(NULL, 0, JSON_BODY_EMPTY);
}

static void test_valid_object(void **state)
{
    const char *body = "{\"o_orderstatus\": \"F\", \"n\": 9007199254740993, \"r\": 1.5}";
    json_t *v = NULL;
    json_body_error_t err;
    assert_int_equal(json_body_parse(body, strlen(body), &v, &err), 0);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "o_orderstatus")), "F");
    json_t *n = json_object_get(v, "n");
    assert_true(json_is_integer(n)); /* not decoded as a double */
    assert_true(json_integer_value(n) == 9007199254740993LL);
    assert_true(json_is_real(json_object_get(v, "r")));
    json_decref(v);
}

static void test_top_level_scalars(void **state)
{
    json_t *v = NULL;
    assert_int_equal(json_body_parse("\"x\"", 3, &v, NULL), 0);
    assert_true(json_is_string(v));
    json_decref(v);
    assert_int_equal(json_body_parse("42", 2, &v, NULL), 0);
    assert_true(json_is_integer(v));
    json_decref(v);
    /* Not NUL-terminated: only len bytes are read. */
    char buf[4] = {'1', '2', '3', 'x'};
    assert_int_equal(json_body_parse(buf, 3, &v, NULL), 0);
    assert_int_equal(json_integer_value(v), 123);
    json_decref(v);
}

static void test_invalid_positions(void **state)
{
    /* Positions match Python's json (FastAPI's loc ["body", pos]). */
    json_body_error_t e = FAIL_LIT("{\"a\":}", JSON_BODY_INVALID);
    assert_int_equal(e.position, 5);
    assert_int_equal(e.char_position, 5);
    e = FAIL_LIT("{", JSON_BODY_INVALID);
    assert_int_equal(e.position, 1);
    e = FAIL_LIT("[1,]", JSON_BODY_INVALID);
    assert_int_equal(e.position, 3);
    e = FAIL_LIT("{\"a\":1}x", JSON_BODY_INVALID);
    assert_int_equal(e.position, 7);
    e = FAIL_LIT("  ", JSON_BODY_INVALID);
    assert_int_equal(e.position, 2);
    e = FAIL_LIT("{'a':1}", JSON_BODY_INVALID);
    assert_int_equal(e.position, 1);
    assert_non_null(strstr(e.message, "expected"));
    /* Multi-byte characters before the error: bytes vs characters. */
    e = FAIL_LIT("{\"\xC3\xA9\":}", JSON_BODY_INVALID);
    assert_int_equal(e.position, 6);
    assert_int_equal(e.char_position, 5);
    assert_int_equal(e.line, 1);
}

static void test_invalid_other(void **state)
{
    FAIL_LIT("\"\\u0000\"", JSON_BODY_INVALID);          /* NUL cannot reach Postgres text */
    FAIL_LIT("99999999999999999999", JSON_BODY_INVALID); /* beyond json_int_t */
    FAIL_LIT("NaN", JSON_BODY_INVALID);
    FAIL_LIT("{\"a\":1,}", JSON_BODY_INVALID);
    FAIL_LIT("\"\\ud800\"", JSON_BODY_INVALID); /* lone surrogate escape */
}

static void test_bad_utf8(void **state)
{
    json_body_error_t e = FAIL_LIT("{\"a\":\"x\xFF\"}", JSON_BODY_BAD_UTF8);
    assert_int_equal(e.position, 7);
    e = FAIL_LIT("[\"\xC3\xA9\xED\xA0\x80\"]", JSON_BODY_BAD_UTF8); /* surrogate */
    assert_int_equal(e.position, 4);
    assert_int_equal(e.char_position, 3);
    FAIL_LIT("\"\xC0\xAF\"", JSON_BODY_BAD_UTF8); /* overlong '/' */
}

static void test_duplicate_keys(void **state)
{
    FAIL_LIT("{\"a\":1,\"a\":2}", JSON_BODY_DUPLICATE_KEY);
    FAIL_LIT("[{\"x\":{\"k\":1,\"k\":1}}]", JSON_BODY_DUPLICATE_KEY);
}

/* "[[...1...]]" with depth levels. Caller frees. */
static char *nested(int depth, size_t *len)
{
    char *s = malloc((size_t)depth * 2 + 2);
    size_t o = 0;
    for (int i = 0; i < depth; i++)
        s[o++] = '[';
    s[o++] = '1';
    for (int i = 0; i < depth; i++)
        s[o++] = ']';
    s[o] = '\0';
    *len = o;
    return s;
}

static void test_depth(void **state)
{
    size_t len;
    json_t *v = NULL;
    char *s = nested(JSON_BODY_MAX_DEPTH, &len);
    assert_int_equal(json_body_parse(s, len, &v, NULL), 0);
    json_decref(v);
    free(s);

    s = nested(JSON_BODY_MAX_DEPTH + 1, &len);
    parse_fail(s, len, JSON_BODY_TOO_DEEP);
    free(s);

    s = nested(5000, &len); /* past jansson's own limit too */
    parse_fail(s, len, JSON_BODY_TOO_DEEP);
    free(s);

    const char *obj = "{\"a\":{\"b\":{\"c\":1}}}";
    assert_int_equal(json_body_parse(obj, strlen(obj), &v, NULL), 0);
    json_decref(v);
}

static void test_type_names(void **state)
{
    const char *body = "[\"s\",1,1.5,true,false,null,[],{}]";
    const char *expect[] = {"string",  "integer", "number", "boolean",
                            "boolean", "null",    "array",  "object"};
    json_t *v = NULL;
    assert_int_equal(json_body_parse(body, strlen(body), &v, NULL), 0);
    assert_int_equal(json_array_size(v), 8);
    for (size_t i = 0; i < 8; i++) {
        assert_string_equal(json_body_type_name(json_array_get(v, i)), expect[i]);
    }
    assert_string_equal(json_body_type_name(NULL), "null");
    json_decref(v);
}

/* Parses body, echoes it through the writer, compares with expect. */
static void check_echo(const char *body, const char *expect)
{
    json_t *v = NULL;
    assert_int_equal(json_body_parse(body, strlen(body), &v, NULL), 0);
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    json_write_jansson(&w, v);
    assert_string_equal(b.data, expect);
    buf_dispose(&b);
    json_decref(v);
}

static void test_write_jansson(void **state)
{
    check_echo("{\"b\": [1, 2.5, \"x\\u00e9\\n\", true, false, null], \"a\": {}}",
               "{\"b\":[1,2.5,\"x\xC3\xA9\\n\",true,false,null],\"a\":{}}");
    check_echo("-9223372036854775808", "-9223372036854775808");
    check_echo("[3.0, 1e2, -0.0, 0.1]", "[3.0,100.0,-0.0,0.1]");
    check_echo("\"a/b\\\"c\"", "\"a/b\\\"c\"");
    check_echo("{\"k\\\"ey\":[[]]}", "{\"k\\\"ey\":[[]]}");

    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    jw_array_begin(&w);
    json_write_jansson(&w, NULL);
    jw_array_end(&w);
    assert_string_equal(b.data, "[null]");
    buf_dispose(&b);
}

static void test_write_jansson_inside_error_body(void **state)
{
    /* An echoed input deeper than the writer allows is cut to null, and the
     * document stays valid JSON. */
    size_t len;
    char *s = nested(JSON_BODY_MAX_DEPTH, &len);
    json_t *v = NULL;
    assert_int_equal(json_body_parse(s, len, &v, NULL), 0);
    free(s);

    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "detail");
    jw_array_begin(&w);
    jw_object_begin(&w);
    jw_key(&w, "input");
    json_write_jansson(&w, v);
    jw_kv_string(&w, "msg", "JSON decode error");
    jw_object_end(&w);
    jw_array_end(&w);
    jw_object_end(&w);
    json_decref(v);

    json_error_t jerr;
    json_t *back = json_loadb(b.data, b.len, 0, &jerr);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(back, "detail"), 0), "msg")),
                        "JSON decode error");
    assert_non_null(strstr(b.data, "null"));
    json_decref(back);
    buf_dispose(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_valid_object),
        cmocka_unit_test(test_top_level_scalars),
        cmocka_unit_test(test_invalid_positions),
        cmocka_unit_test(test_invalid_other),
        cmocka_unit_test(test_bad_utf8),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_write_jansson),
        cmocka_unit_test(test_write_jansson_inside_error_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
