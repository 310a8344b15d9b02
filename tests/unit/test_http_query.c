/*
 * test_http_query - percent-decoding and query-string lookup: first of
 * duplicates, '+', missing names, empty values, encoded names, bad escapes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/parser.h"
#include "test_util.h"

static const char *q(const char *query, const char *name, size_t *len)
{
    return http_query_get(query, strlen(query), name, test_arena, len);
}

static void test_pct_decode(void **state)
{
    char out[64];
    const char *s = "a%20b%2Fc+d%41%7e";
    ssize_t n = http_pct_decode(out, s, strlen(s), false);
    assert_int_equal(n, 9);
    assert_memory_equal(out, "a b/c+dA~", 9);
    n = http_pct_decode(out, s, strlen(s), true);
    assert_int_equal(n, 9);
    assert_memory_equal(out, "a b/c dA~", 9);
    /* in place */
    char buf[] = "x%3Dy";
    n = http_pct_decode(buf, buf, 5, false);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "x=y", 3);
    /* high bytes survive */
    n = http_pct_decode(out, "%C3%A9", 6, false);
    assert_int_equal(n, 2);
    assert_int_equal((unsigned char)out[0], 0xC3);
    assert_int_equal((unsigned char)out[1], 0xA9);
}

static void test_pct_malformed(void **state)
{
    char out[16];
    assert_int_equal(http_pct_decode(out, "%G1", 3, false), -1);
    assert_int_equal(http_pct_decode(out, "%4", 2, false), -1);
    assert_int_equal(http_pct_decode(out, "abc%", 4, false), -1);
    assert_int_equal(http_pct_decode(out, "%00", 3, false), -1);
    assert_false(http_pct_valid("%G1", 3));
    assert_false(http_pct_valid("a%4", 3));
    assert_false(http_pct_valid("a%00b", 5));
    assert_false(http_pct_valid("%%41", 4));
    assert_true(http_pct_valid("a%41%42b", 8));
    assert_true(http_pct_valid("", 0));
    assert_true(http_pct_valid("plain+text", 10));
}

static void test_query_basic(void **state)
{
    size_t len = 99;
    const char *v = q("page=2&page_size=50", "page_size", &len);
    assert_string_equal(v, "50");
    assert_int_equal(len, 2);
    assert_string_equal(q("page=2&page_size=50", "page", NULL), "2");
    assert_null(q("page=2&page_size=50", "pag", NULL));
    assert_null(q("page=2&page_size=50", "size", NULL));
    assert_null(q("", "page", NULL));
}

static void test_query_first_of_duplicates(void **state)
{
    assert_string_equal(q("a=1&a=2&a=3", "a", NULL), "1");
    assert_string_equal(q("b=0&a=first&a=second", "a", NULL), "first");
}

static void test_query_plus_and_escapes(void **state)
{
    size_t len;
    assert_string_equal(q("name=John+Smith", "name", &len), "John Smith");
    assert_int_equal(len, 10);
    assert_string_equal(q("e=a%2Bb%40c.d", "e", NULL), "a+b@c.d");
    assert_string_equal(q("my+key=1&my%20key=2", "my key", NULL), "1");
    assert_string_equal(q("x%3Dy=3", "x=y", NULL), "3");
    assert_string_equal(q("k=a=b", "k", NULL), "a=b");
}

static void test_query_empty_values(void **state)
{
    size_t len = 42;
    const char *v = q("a=&b", "a", &len);
    assert_non_null(v);
    assert_string_equal(v, "");
    assert_int_equal(len, 0);
    len = 42;
    v = q("a=&b", "b", &len);
    assert_non_null(v);
    assert_string_equal(v, "");
    assert_int_equal(len, 0);
    assert_null(q("a=&b", "c", NULL));
    assert_string_equal(q("&&x=1&&", "x", NULL), "1");
    assert_null(q("=1", "x", NULL));
    assert_string_equal(q("=1", "", NULL), "1");
}

static void test_query_bad_escape_in_value(void **state)
{
    /* The parser rejects these requests; lookups on raw strings report absence. */
    assert_null(q("a=%zz", "a", NULL));
    assert_null(q("a=%00", "a", NULL));
    assert_string_equal(q("a=%zz&b=ok", "b", NULL), "ok");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pct_decode),
        cmocka_unit_test(test_pct_malformed),
        cmocka_unit_test(test_query_basic),
        cmocka_unit_test(test_query_first_of_duplicates),
        cmocka_unit_test(test_query_plus_and_escapes),
        cmocka_unit_test(test_query_empty_values),
        cmocka_unit_test(test_query_bad_escape_in_value),
    };
    return cmocka_run_group_tests(tests, test_arena_setup, test_arena_teardown);
}
