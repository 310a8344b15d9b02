/*
 * Unit tests for the landing page's content negotiation (Accept q-values)
 * and its HTML escaping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "web/html.h"

static void test_browsers_get_html(void **state)
{
    (void)state;
    /* Chromium, Firefox and Safari navigation requests */
    assert_true(web_accept_prefers_html(
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
        "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"));
    assert_true(
        web_accept_prefers_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
    assert_true(web_accept_prefers_html("text/html"));
    assert_true(web_accept_prefers_html("TEXT/HTML; charset=utf-8"));
    assert_true(web_accept_prefers_html("text/*"));
    assert_true(web_accept_prefers_html("application/json;q=0.5, text/html"));
    assert_true(web_accept_prefers_html(" text/html ; q=0.9 , application/json ; q=0.8"));
}

static void test_api_clients_get_json(void **state)
{
    (void)state;
    assert_false(web_accept_prefers_html(NULL));
    assert_false(web_accept_prefers_html(""));
    assert_false(web_accept_prefers_html("*/*")); /* curl, httpx, requests */
    assert_false(web_accept_prefers_html("application/json"));
    assert_false(web_accept_prefers_html("application/json, text/html")); /* a tie */
    assert_false(web_accept_prefers_html("text/html;q=0.5, application/json"));
    assert_false(web_accept_prefers_html("text/html;q=0, */*")); /* html refused */
    assert_false(web_accept_prefers_html("*/*, text/html;q=0")); /* order does not matter */
    assert_false(web_accept_prefers_html("image/png"));          /* neither acceptable */
    assert_false(web_accept_prefers_html("text/plain, application/*;q=0.9")); /* html q=0 */
}

static void test_specific_range_wins(void **state)
{
    (void)state;
    /* the text range would give html 1.0, but the exact range says 0.1 */
    assert_false(web_accept_prefers_html("text/*, text/html;q=0.1, application/json;q=0.5"));
    /* the exact application/json range (0.2) beats the wildcard (0.9) */
    assert_true(web_accept_prefers_html("*/*;q=0.9, application/json;q=0.2"));
}

static void test_malformed_q_ignored(void **state)
{
    (void)state;
    assert_false(web_accept_prefers_html("text/html;q=abc"));
    assert_false(web_accept_prefers_html("text/html;q=2"));
    assert_true(web_accept_prefers_html("text/html;q=1.000"));
    assert_true(web_accept_prefers_html("text/html;q=0.001"));
    assert_false(web_accept_prefers_html("text/html;q=0.000"));
    assert_false(web_accept_prefers_html(",,,;;;"));
    assert_false(web_accept_prefers_html("text/html;q="));
}

static void test_html_escape(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    const char *in = "<script>alert(\"x\" & 'y')</script>";
    web_html_escape(&b, in, strlen(in));
    assert_string_equal(b.data,
                        "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;");
    buf_reset(&b);
    web_html_escape(&b, "plain \xc3\xa9t\xc3\xa9", 11);
    assert_string_equal(b.data, "plain \xc3\xa9t\xc3\xa9");
    buf_reset(&b);
    web_html_escape(&b, "&&", 2);
    assert_string_equal(b.data, "&amp;&amp;");
    buf_reset(&b);
    web_html_escape(&b, "ab<", 2); /* only len bytes */
    assert_string_equal(b.data, "ab");
    buf_dispose(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browsers_get_html),   cmocka_unit_test(test_api_clients_get_json),
        cmocka_unit_test(test_specific_range_wins), cmocka_unit_test(test_malformed_q_ignored),
        cmocka_unit_test(test_html_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
