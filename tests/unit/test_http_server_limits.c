/*
 * test_http_server_limits - the HTTP server's defences and connection
 * lifecycle over real sockets (fixture in http_test_fixture.h): 400/413/414/
 * 431/501/505 with Connection: close, HTTP/1.0, header/body/idle timeouts, a
 * client that stops reading, a client that disconnects while its handler is
 * pending, graceful shutdown with requests in flight, max_connections.
 */
#include "http_test_fixture.h"

static void expect_error_close(int port, const char *req, size_t n, int status)
{
    client_t c;
    client_open(&c, port);
    client_send(&c, req, n);
    resp_t r;
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, status);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
    assert_true(strncmp(r.body, "{\"detail\":\"", 11) == 0);
    resp_free(&r);
    assert_true(client_sees_eof(&c));
    client_close(&c);
}

static void test_limits_and_errors(void **state)
{
    fixture_t *f = start(NULL);
    const char *r413 =
        "POST /echo HTTP/1.1\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n";
    expect_error_close(f->port, r413, strlen(r413), 413);

    char *big = malloc(40000);
    snprintf(big, 40000, "GET /%09000d HTTP/1.1\r\n\r\n", 1);
    expect_error_close(f->port, big, strlen(big), 414);
    snprintf(big, 40000, "GET / HTTP/1.1\r\nX-Big: %020000d\r\n\r\n", 1);
    expect_error_close(f->port, big, strlen(big), 431);
    strcpy(big, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 101; i++)
        strcat(big, "X-H: v\r\n");
    strcat(big, "\r\n");
    expect_error_close(f->port, big, strlen(big), 431);
    free(big);

    const char *bad = "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n";
    expect_error_close(f->port, bad, strlen(bad), 400);
    const char *chunked =
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    expect_error_close(f->port, chunked, strlen(chunked), 501);
    const char *h2 = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    expect_error_close(f->port, h2, strlen(h2), 505);
    const char *brew = "BREW /pot HTTP/1.1\r\n\r\n";
    expect_error_close(f->port, brew, strlen(brew), 501);

    /* an error after a good pipelined request: the good one is answered first */
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "GET /delay/30 HTTP/1.1\r\n\r\nGET /%zz HTTP/1.1\r\n\r\n");
    resp_t r;
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 400);
    resp_free(&r);
    assert_true(client_sees_eof(&c));
    client_close(&c);
    stop(f, false);
}

static void test_http10_closes(void **state)
{
    fixture_t *f = start(NULL);
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "GET /hello HTTP/1.0\r\n\r\n");
    resp_t r;
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    resp_free(&r);
    assert_true(client_sees_eof(&c));
    client_close(&c);
    /* 1.0 with keep-alive stays open and says so */
    client_open(&c, f->port);
    client_sends(&c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_true(client_read(&c, &r, false));
    assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
    resp_free(&r);
    get_ok(&c, "/hello", NULL);
    client_close(&c);
    stop(f, false);
}

static void tweak_timeouts(http_server_config_t *cfg)
{
    cfg->header_timeout_ms = 200;
    cfg->body_timeout_ms = 200;
    cfg->keepalive_timeout_ms = 1000;
}

static void test_timeouts(void **state)
{
    fixture_t *f = start(tweak_timeouts);
    /* slow header: bytes keep coming, but the head never completes in time */
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "GET /hello HTTP/1.1\r\n");
    usleep(100000);
    client_sends(&c, "X-A: 1\r\n");
    resp_t r;
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 408);
    assert_string_equal(r.body, "{\"detail\":\"Request Timeout\"}");
    resp_free(&r);
    assert_true(client_sees_eof(&c));
    client_close(&c);
    /* slow body */
    client_open(&c, f->port);
    client_sends(&c, "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 408);
    resp_free(&r);
    assert_true(client_sees_eof(&c));
    client_close(&c);
    /* idle keep-alive: closed silently */
    client_open(&c, f->port);
    get_ok(&c, "/hello", NULL);
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    assert_true(client_sees_eof(&c));
    gettimeofday(&t1, NULL);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
    assert_true(ms >= 900 && ms < 3000);
    assert_int_equal(c.len, 0);
    client_close(&c);
    /* a connection that never sends a byte is dropped after the header timeout */
    client_open(&c, f->port);
    gettimeofday(&t0, NULL);
    assert_true(client_sees_eof(&c));
    gettimeofday(&t1, NULL);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
    assert_true(ms >= 150 && ms < 800);
    client_close(&c);
    /* a pending handler is not subject to the idle timeout */
    client_open(&c, f->port);
    get_ok(&c, "/delay/1200", "{\"delay\":1200}");
    client_close(&c);
    stop(f, false);
}

static void tweak_send_timeout(http_server_config_t *cfg)
{
    cfg->body_timeout_ms = 500;
}

static void test_client_not_reading(void **state)
{
    fixture_t *f = start(tweak_send_timeout);
    client_t c;
    client_open(&c, f->port);
    /* 30 MB is more than both socket buffers hold: the write stays pending. */
    client_sends(&c, "GET /big?n=30000000 HTTP/1.1\r\n\r\n");
    usleep(50000);
    run_on_loop(f, snapshot);
    assert_int_equal(f->conns, 1);
    usleep(1200000); /* never reads: the send timeout (body_timeout_ms) closes it */
    run_on_loop(f, snapshot);
    assert_int_equal(f->conns, 0);
    assert_int_equal(f->inflight, 0);
    client_close(&c);
    stop(f, false);
}

static void test_client_disconnect(void **state)
{
    fixture_t *f = start(NULL);
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "GET /delay/200 HTTP/1.1\r\n\r\nGET /delay/10 HTTP/1.1\r\n\r\n");
    usleep(50000);
    client_close(&c);
    usleep(400000);
    assert_int_equal(f->delays_fired, 2);
    assert_true(f->saw_gone);
    run_on_loop(f, snapshot);
    assert_int_equal(f->conns, 0);
    assert_int_equal(f->inflight, 0);
    /* still serving */
    client_open(&c, f->port);
    get_ok(&c, "/hello", NULL);
    client_close(&c);
    stop(f, false);
}

static void test_shutdown_drains(void **state)
{
    fixture_t *f = start(NULL);
    client_t busy, idle, partial;
    client_open(&busy, f->port);
    client_open(&idle, f->port);
    client_open(&partial, f->port);
    get_ok(&idle, "/hello", NULL);
    client_sends(&partial,
                 "GET /hello HTTP/1.1\r\n\r\nPOST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    client_sends(&busy, "GET /delay/300 HTTP/1.1\r\n\r\n");
    usleep(50000);
    run_on_loop(f, snapshot);
    assert_int_equal(f->inflight, 1);
    assert_int_equal(f->conns, 3);
    run_on_loop(f, do_shutdown);
    /* the request whose body is still arriving is dropped, the one before answered */
    resp_t pr;
    assert_true(client_read(&partial, &pr, false));
    assert_int_equal(pr.status, 200);
    resp_free(&pr);
    assert_true(client_sees_eof(&partial));
    assert_int_equal(partial.len, 0);
    client_close(&partial);
    /* the idle connection is closed at once, the busy one gets its answer */
    assert_true(client_sees_eof(&idle));
    resp_t r;
    assert_true(client_read(&busy, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"delay\":300}");
    assert_string_equal(resp_header(&r, "Connection"), "close");
    resp_free(&r);
    assert_true(client_sees_eof(&busy));
    client_close(&busy);
    client_close(&idle);
    stop(f, true);
}

static void tweak_one_conn(http_server_config_t *cfg)
{
    cfg->max_connections = 1;
}

static void test_max_connections(void **state)
{
    fixture_t *f = start(tweak_one_conn);
    client_t a, b;
    client_open(&a, f->port);
    get_ok(&a, "/hello", NULL);
    client_open(&b, f->port);
    assert_true(client_sees_eof(&b));
    client_close(&b);
    get_ok(&a, "/hello", NULL);
    client_close(&a);
    stop(f, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_and_errors), cmocka_unit_test(test_http10_closes),
        cmocka_unit_test(test_timeouts),          cmocka_unit_test(test_client_not_reading),
        cmocka_unit_test(test_client_disconnect), cmocka_unit_test(test_shutdown_drains),
        cmocka_unit_test(test_max_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
