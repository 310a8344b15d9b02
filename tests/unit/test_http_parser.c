/*
 * test_http_parser - the HTTP/1.x request-head parser: fields, keep-alive,
 * every rejection status, incremental feeding at every split point and
 * pipelined requests in one buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/parser.h"

static const http_parser_limits_t default_limits = {
    .max_request_line = 8192, .max_header_bytes = 16384, .max_headers = 100, .max_body = 1 << 20};

static const http_parser_limits_t small_limits = {
    .max_request_line = 64, .max_header_bytes = 128, .max_headers = 4, .max_body = 100};

static http_header_t hdrs[128];

/* Parses s in one go; returns the result and fills *h (and *status on error). */
static http_parse_result_t parse_with(const http_parser_limits_t *lim, const char *s, size_t n,
                                      http_request_head_t *h, int *status)
{
    http_parser_t p;
    http_parser_init(&p, lim);
    http_parse_result_t r = http_parser_execute(&p, s, n, h, hdrs, lim->max_headers);
    if (status) *status = r == HTTP_PARSE_ERROR ? p.status : 0;
    return r;
}

static int status_of(const char *s)
{
    http_request_head_t h;
    int st = 0;
    http_parse_result_t r = parse_with(&default_limits, s, strlen(s), &h, &st);
    return r == HTTP_PARSE_DONE ? 200 : r == HTTP_PARSE_MORE ? 0 : st;
}

static int status_small(const char *s)
{
    http_request_head_t h;
    int st = 0;
    http_parse_result_t r = parse_with(&small_limits, s, strlen(s), &h, &st);
    return r == HTTP_PARSE_DONE ? 200 : r == HTTP_PARSE_MORE ? 0 : st;
}

static bool slice_is(const char *p, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(p, want, n) == 0;
}

static void test_simple_get(void **state)
{
    const char *req = "GET /api/v1/orders/count?x=1&y=2 HTTP/1.1\r\n"
                      "Host: example.com\r\n"
                      "User-Agent: test\t \r\n"
                      "Accept: */*\r\n\r\n";
    http_request_head_t h;
    assert_int_equal(parse_with(&default_limits, req, strlen(req), &h, NULL), HTTP_PARSE_DONE);
    assert_int_equal(h.method, HTTP_GET);
    assert_true(slice_is(h.method_name, h.method_len, "GET"));
    assert_true(slice_is(h.target, h.target_len, "/api/v1/orders/count?x=1&y=2"));
    assert_true(slice_is(h.path, h.path_len, "/api/v1/orders/count"));
    assert_true(slice_is(h.query, h.query_len, "x=1&y=2"));
    assert_int_equal(h.version_minor, 1);
    assert_int_equal(h.nheaders, 3);
    assert_true(slice_is(h.headers[0].name, h.headers[0].name_len, "Host"));
    assert_true(slice_is(h.headers[0].value, h.headers[0].value_len, "example.com"));
    assert_true(slice_is(h.headers[1].value, h.headers[1].value_len, "test"));
    assert_true(h.keep_alive);
    assert_false(h.has_content_length);
    assert_false(h.expect_continue);
    assert_int_equal(h.head_len, strlen(req));
}

static void test_keep_alive_rules(void **state)
{
    http_request_head_t h;
    const char *a = "GET / HTTP/1.0\r\n\r\n";
    assert_int_equal(parse_with(&default_limits, a, strlen(a), &h, NULL), HTTP_PARSE_DONE);
    assert_int_equal(h.version_minor, 0);
    assert_false(h.keep_alive);
    const char *b = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
    assert_int_equal(parse_with(&default_limits, b, strlen(b), &h, NULL), HTTP_PARSE_DONE);
    assert_true(h.keep_alive);
    const char *c = "GET / HTTP/1.1\r\nConnection: upgrade, CLOSE\r\n\r\n";
    assert_int_equal(parse_with(&default_limits, c, strlen(c), &h, NULL), HTTP_PARSE_DONE);
    assert_false(h.keep_alive);
    const char *e = "GET / HTTP/1.1\r\nConnection: te ,close \t, x\r\n\r\n";
    assert_int_equal(parse_with(&default_limits, e, strlen(e), &h, NULL), HTTP_PARSE_DONE);
    assert_false(h.keep_alive);
    const char *d = "GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n";
    assert_int_equal(parse_with(&default_limits, d, strlen(d), &h, NULL), HTTP_PARSE_DONE);
    assert_true(h.keep_alive);
}

static void test_post_body_and_expect(void **state)
{
    http_request_head_t h;
    const char *a = "POST /user HTTP/1.1\r\nContent-Length: 13\r\nExpect: 100-Continue\r\n\r\n"
                    "{\"a\":\"hello\"}";
    assert_int_equal(parse_with(&default_limits, a, strlen(a), &h, NULL), HTTP_PARSE_DONE);
    assert_int_equal(h.method, HTTP_POST);
    assert_true(h.has_content_length);
    assert_int_equal(h.content_length, 13);
    assert_true(h.expect_continue);
    assert_int_equal(h.head_len, strlen(a) - 13);
    /* 1.0 clients and empty bodies never wait for a 100 */
    const char *b = "POST /user HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
    assert_int_equal(parse_with(&default_limits, b, strlen(b), &h, NULL), HTTP_PARSE_DONE);
    assert_false(h.expect_continue);
    const char *c = "POST /user HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n";
    assert_int_equal(parse_with(&default_limits, c, strlen(c), &h, NULL), HTTP_PARSE_DONE);
    assert_false(h.expect_continue);
    assert_int_equal(h.content_length, 0);
}

static void test_bare_lf_and_leading_blank_lines(void **state)
{
    http_request_head_t h;
    const char *a = "\r\n\nGET /x HTTP/1.1\nHost: a\nX-Y: z\n\n";
    assert_int_equal(parse_with(&default_limits, a, strlen(a), &h, NULL), HTTP_PARSE_DONE);
    assert_true(slice_is(h.path, h.path_len, "/x"));
    assert_int_equal(h.nheaders, 2);
    assert_true(slice_is(h.headers[1].value, h.headers[1].value_len, "z"));
    assert_int_equal(h.head_len, strlen(a));
}

static void test_methods(void **state)
{
    assert_int_equal(status_of("HEAD / HTTP/1.1\r\n\r\n"), 200);
    assert_int_equal(status_of("PUT / HTTP/1.1\r\n\r\n"), 200);
    assert_int_equal(status_of("DELETE / HTTP/1.1\r\n\r\n"), 200);
    assert_int_equal(status_of("PATCH / HTTP/1.1\r\n\r\n"), 200);
    assert_int_equal(status_of("OPTIONS / HTTP/1.1\r\n\r\n"), 200);
    assert_int_equal(status_of("OPTIONS * HTTP/1.1\r\n\r\n"), 200);
    assert_int_equal(status_of("TRACE / HTTP/1.1\r\n\r\n"), 501);
    assert_int_equal(status_of("CONNECT example.com:443 HTTP/1.1\r\n\r\n"), 501);
    assert_int_equal(status_of("BREW /pot HTTP/1.1\r\n\r\n"), 501);
    assert_int_equal(status_of("get / HTTP/1.1\r\n\r\n"), 501); /* methods are case-sensitive */
}

static void test_bad_request_line(void **state)
{
    assert_int_equal(status_of("G@T / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET  / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1 \r\n\r\n"), 400);
    assert_int_equal(status_of("GET /\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / FOO/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/2\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.2\r\n\r\n"), 505);
    assert_int_equal(status_of("GET / HTTP/2.0\r\n\r\n"), 505);
    assert_int_equal(status_of("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);
    assert_int_equal(status_of("GET /a#b HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET foo HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET * HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET /a\x7f HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET /a\rb HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET http:// HTTP/1.1\r\n\r\n"), 400);
}

static void test_early_rejection(void **state)
{
    /* Rejected before the head is complete: no waiting for a timeout. */
    assert_int_equal(status_of("\x16\x03\x01\x02\x00\x01\x00\x01"), 400);
    assert_int_equal(status_of("PRI * HTTP/2.0\r\n"), 505);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nHost"), 0);
    char nul[] = "GET / HTTP/1.1\r\nHost: a\0b";
    http_request_head_t h;
    int st;
    assert_int_equal(parse_with(&default_limits, nul, sizeof nul - 1, &h, &st), HTTP_PARSE_ERROR);
    assert_int_equal(st, 400);
}

static void test_nul_bytes(void **state)
{
    char a[] = "GET /\0 HTTP/1.1\r\n\r\n";
    http_request_head_t h;
    int st;
    assert_int_equal(parse_with(&default_limits, a, sizeof a - 1, &h, &st), HTTP_PARSE_ERROR);
    assert_int_equal(st, 400);
    char b[] = "GET / HTTP/1.1\r\nX: a\0\r\n\r\n";
    assert_int_equal(parse_with(&default_limits, b, sizeof b - 1, &h, &st), HTTP_PARSE_ERROR);
    assert_int_equal(st, 400);
}

static void test_bad_headers(void **state)
{
    assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\n\tfolded: x\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nName : x\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\n: x\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    /* obs-text and tabs inside a value are fine */
    assert_int_equal(status_of("GET / HTTP/1.1\r\nX: caf\xc3\xa9\tbar\r\n\r\n"), 200);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nX:\r\n\r\n"), 200);
}

static void test_content_length(void **state)
{
    assert_int_equal(status_of("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
                     400);
    assert_int_equal(status_of("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"), 400);
    assert_int_equal(status_of("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
    assert_int_equal(status_of("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n"), 400);
    assert_int_equal(status_of("POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n"), 400);
    assert_int_equal(status_of("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"), 400);
    assert_int_equal(status_of("POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n"), 413);
    assert_int_equal(
        status_of("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"), 413);
    assert_int_equal(status_of("POST / HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n"), 200);
    assert_int_equal(status_of("POST / HTTP/1.1\r\ncontent-length: 007\r\n\r\n"), 200);
}

static void test_transfer_encoding(void **state)
{
    assert_int_equal(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
    assert_int_equal(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n"), 501);
    assert_int_equal(
        status_of("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
        400);
    assert_int_equal(
        status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
        400);
}

static void test_limits(void **state)
{
    char line[200];
    /* request line: 64 bytes ok, 65 -> 414 */
    snprintf(line, sizeof line, "GET /%s HTTP/1.1\r\n\r\n",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); /* 5+49+9 = 63 */
    assert_int_equal(status_small(line), 200);
    snprintf(line, sizeof line, "GET /%s HTTP/1.1\r\n\r\n",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); /* 65 */
    assert_int_equal(status_small(line), 414);
    /* 414 without a line end yet */
    assert_int_equal(
        status_small("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        414);
    /* too many header fields */
    assert_int_equal(status_small("GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n"), 200);
    assert_int_equal(status_small("GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\n\r\n"),
                     431);
    /* header bytes, with or without the end of the head */
    char big[400];
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX: %0150d\r\n\r\n", 7);
    assert_int_equal(status_small(big), 431);
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX: %0150d", 7);
    assert_int_equal(status_small(big), 431);
    assert_int_equal(status_small("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n"), 413);
    assert_int_equal(status_small("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n"), 200);
}

static void test_percent_escapes_in_target(void **state)
{
    assert_int_equal(status_of("GET /a%20b HTTP/1.1\r\n\r\n"), 200);
    assert_int_equal(status_of("GET /%G1 HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET /%4 HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET /a%00b HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET /a?x=%00 HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET /a?x=%zz HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET /a?x=%2 HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET /a?x=%2F+y HTTP/1.1\r\n\r\n"), 200);
}

static void test_absolute_form(void **state)
{
    http_request_head_t h;
    const char *a = "GET http://example.com:8000/api/x?q=1 HTTP/1.1\r\n\r\n";
    assert_int_equal(parse_with(&default_limits, a, strlen(a), &h, NULL), HTTP_PARSE_DONE);
    assert_true(slice_is(h.path, h.path_len, "/api/x"));
    assert_true(slice_is(h.query, h.query_len, "q=1"));
    const char *b = "GET HTTPS://example.com HTTP/1.1\r\n\r\n";
    assert_int_equal(parse_with(&default_limits, b, strlen(b), &h, NULL), HTTP_PARSE_DONE);
    assert_true(slice_is(h.path, h.path_len, "/"));
    assert_int_equal(h.query_len, 0);
    const char *c = "GET http://example.com?z=2 HTTP/1.1\r\n\r\n";
    assert_int_equal(parse_with(&default_limits, c, strlen(c), &h, NULL), HTTP_PARSE_DONE);
    assert_true(slice_is(h.path, h.path_len, "/"));
    assert_true(slice_is(h.query, h.query_len, "z=2"));
}

/* Feeding a request one prefix at a time gives MORE until its last byte, then the same head. */
static void check_every_split(const char *req, size_t n, int want_status)
{
    http_request_head_t whole;
    int whole_status = 0;
    http_parse_result_t wr = parse_with(&default_limits, req, n, &whole, &whole_status);
    for (size_t cut = 0; cut <= n; cut++) {
        http_parser_t p;
        http_parser_init(&p, &default_limits);
        http_request_head_t h;
        http_parse_result_t r = http_parser_execute(&p, req, cut, &h, hdrs, 100);
        if (r == HTTP_PARSE_MORE) r = http_parser_execute(&p, req, n, &h, hdrs, 100);
        assert_int_equal(r, wr);
        if (r == HTTP_PARSE_ERROR) {
            assert_int_equal(p.status, whole_status);
            assert_int_equal(p.status, want_status);
        } else {
            assert_int_equal(want_status, 200);
            assert_int_equal(h.head_len, whole.head_len);
            assert_int_equal(h.nheaders, whole.nheaders);
            assert_true(slice_is(h.path, h.path_len, "/p/q"));
        }
    }
    /* and one byte at a time */
    http_parser_t p;
    http_parser_init(&p, &default_limits);
    http_request_head_t h;
    http_parse_result_t r = HTTP_PARSE_MORE;
    size_t fed = 0;
    while (r == HTTP_PARSE_MORE && fed < n)
        r = http_parser_execute(&p, req, ++fed, &h, hdrs, 100);
    assert_int_equal(r, wr);
}

static void test_split_at_every_byte(void **state)
{
    const char *a = "\r\nPOST /p/q?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
                    "Expect: 100-continue\r\nConnection: keep-alive\r\n\r\nbody";
    check_every_split(a, strlen(a), 200);
    const char *b = "GET /p/q HTTP/1.1\nA: b\n\n";
    check_every_split(b, strlen(b), 200);
    const char *c = "GET /p/q HTTP/1.1\r\nA: b\r\n x\r\n\r\n";
    check_every_split(c, strlen(c), 400);
    const char *d = "GET /p/q HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    check_every_split(d, strlen(d), 501);
}

static void test_pipelined(void **state)
{
    const char *buf = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                      "POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                      "DELETE /c?z HTTP/1.1\r\nConnection: close\r\n\r\n";
    size_t n = strlen(buf), off = 0;
    const char *paths[] = {"/a", "/b", "/c"};
    http_method_t methods[] = {HTTP_GET, HTTP_POST, HTTP_DELETE};
    http_parser_t p;
    http_parser_init(&p, &default_limits);
    for (int i = 0; i < 3; i++) {
        http_request_head_t h;
        assert_int_equal(http_parser_execute(&p, buf + off, n - off, &h, hdrs, 100),
                         HTTP_PARSE_DONE);
        assert_int_equal(h.method, methods[i]);
        assert_true(slice_is(h.path, h.path_len, paths[i]));
        if (i == 1) assert_memory_equal(buf + off + h.head_len, "hello", 5);
        assert_int_equal(h.keep_alive, i != 2);
        off += h.head_len + h.content_length;
        http_parser_reset(&p);
    }
    assert_int_equal(off, n);
}

static void test_error_is_sticky(void **state)
{
    http_parser_t p;
    http_parser_init(&p, &default_limits);
    http_request_head_t h;
    const char *bad = "G(T / HTTP/1.1\r\n\r\n";
    assert_int_equal(http_parser_execute(&p, bad, strlen(bad), &h, hdrs, 100), HTTP_PARSE_ERROR);
    assert_int_equal(http_parser_execute(&p, bad, strlen(bad), &h, hdrs, 100), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 400);
    assert_non_null(p.detail);
}

static void test_method_str(void **state)
{
    assert_string_equal(http_method_str(HTTP_GET), "GET");
    assert_string_equal(http_method_str(HTTP_OPTIONS), "OPTIONS");
    assert_string_equal(http_method_str(0), "");
    assert_string_equal(http_status_reason(404), "Not Found");
    assert_string_equal(http_status_reason(431), "Request Header Fields Too Large");
    assert_string_equal(http_status_reason(599), "Server Error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_keep_alive_rules),
        cmocka_unit_test(test_post_body_and_expect),
        cmocka_unit_test(test_bare_lf_and_leading_blank_lines),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_bad_request_line),
        cmocka_unit_test(test_early_rejection),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_percent_escapes_in_target),
        cmocka_unit_test(test_absolute_form),
        cmocka_unit_test(test_split_at_every_byte),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_error_is_sticky),
        cmocka_unit_test(test_method_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
