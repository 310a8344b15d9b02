/*
 * Unit tests for the api layer's parameter parsing (FastAPI/pydantic rules)
 * and its 422 item encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "web/web.h"

static void test_parse_int_accepts_python_forms(void **state)
{
    (void)state;
    int64_t v;
    assert_true(web_parse_int("42", &v));
    assert_int_equal(v, 42);
    assert_true(web_parse_int(" -7 ", &v));
    assert_int_equal(v, -7);
    assert_true(web_parse_int("+3", &v));
    assert_int_equal(v, 3);
    assert_true(web_parse_int("007", &v));
    assert_int_equal(v, 7);
}

static void test_parse_int_rejects_junk(void **state)
{
    (void)state;
    int64_t v;
    const char *bad[] = {"", " ", "abc", "1.5", "1e3", "12a", "--1", "+", "0x10", "1 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(web_parse_int(bad[i], &v));
}

static void test_parse_int_saturates(void **state)
{
    (void)state;
    int64_t v;
    assert_true(web_parse_int("99999999999999999999999", &v));
    assert_int_equal(v, INT64_MAX);
    assert_true(web_parse_int("-99999999999999999999999", &v));
    assert_int_equal(v, -INT64_MAX);
    assert_true(web_parse_int("9223372036854775807", &v));
    assert_int_equal(v, INT64_MAX);
}

static void test_parse_bool_words(void **state)
{
    (void)state;
    bool b;
    const char *yes[] = {"true", "TRUE", "1", "yes", "On", "t", "y"};
    const char *no[] = {"false", "False", "0", "no", "OFF", "f", "n"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        b = false;
        assert_true(web_parse_bool(yes[i], &b));
        assert_true(b);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        b = true;
        assert_true(web_parse_bool(no[i], &b));
        assert_false(b);
    }
    assert_false(web_parse_bool("maybe", &b));
    assert_false(web_parse_bool("", &b));
    assert_false(web_parse_bool("2", &b));
}

static void test_errors_encoding(void **state)
{
    (void)state;
    web_errors_t e;
    web_errors_init(&e);
    web_errors_add(&e, "int_parsing", "query", "page", "Input should be a valid integer", "x\"y",
                   NULL);
    web_errors_add(&e, "less_than_equal", "query", "page_size", "too big", "5000", "{\"le\":1000}");
    assert_int_equal(e.count, 2);
    assert_string_equal(e.buf.data,
                        "{\"type\":\"int_parsing\",\"loc\":[\"query\",\"page\"],\"msg\":\"Input "
                        "should be a valid integer\",\"input\":\"x\\\"y\"},"
                        "{\"type\":\"less_than_equal\",\"loc\":[\"query\",\"page_size\"],"
                        "\"msg\":\"too big\",\"input\":\"5000\",\"ctx\":{\"le\":1000}}");
    web_errors_dispose(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_int_accepts_python_forms),
        cmocka_unit_test(test_parse_int_rejects_junk),
        cmocka_unit_test(test_parse_int_saturates),
        cmocka_unit_test(test_parse_bool_words),
        cmocka_unit_test(test_errors_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
