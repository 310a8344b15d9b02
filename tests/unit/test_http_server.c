/*
 * test_http_server - the HTTP server over real sockets (fixture in
 * http_test_fixture.h): keep-alive and response headers, pipelining with
 * out-of-order handler completion, pipelining limits, HEAD, 404/405 and the
 * pre-route hook, 100-continue, large bodies both ways (partial writes), the
 * access log, listening (bad host, SO_REUSEPORT, IPv6).
 * Limits, timeouts and connection lifecycle: test_http_server_limits.c.
 */
#include "http_test_fixture.h"

static void test_keep_alive_and_headers(void **state)
{
    fixture_t *f = start(NULL);
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Request-Id: my-id.1_2\r\n\r\n");
    resp_t r;
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"hello\":\"world\"}");
    assert_string_equal(resp_header(&r, "Content-Length"), "17");
    assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
    assert_string_equal(resp_header(&r, "Server"), "lakeapi");
    assert_string_equal(resp_header(&r, "X-Request-Id"), "my-id.1_2");
    assert_non_null(resp_header(&r, "Date"));
    assert_true(strstr(resp_header(&r, "Date"), "GMT") != NULL);
    assert_null(resp_header(&r, "Connection"));
    resp_free(&r);
    /* same connection; an invalid id is replaced by a generated one */
    client_sends(
        &c, "GET /info/a%20b?q=x+y HTTP/1.1\r\nx-custom: val\r\nX-Request-Id: bad id!\r\n\r\n");
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "path=/info/a b hdr=val q=x y param=a b method=GET");
    assert_int_equal(strlen(resp_header(&r, "X-Request-Id")), 16);
    assert_string_equal(resp_header(&r, "X-Extra"), "yes");
    assert_null(resp_header(&r, "X-Bad"));
    assert_null(resp_header(&r, "Injected"));
    resp_free(&r);
    client_sends(&c, "GET /nocontent HTTP/1.1\r\n\r\n");
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 204);
    assert_null(resp_header(&r, "Content-Length"));
    resp_free(&r);
    get_ok(&c, "/hello", "{\"hello\":\"world\"}");
    client_close(&c);
    stop(f, false);
}

static void test_pipelined_out_of_order(void **state)
{
    fixture_t *f = start(NULL);
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "GET /delay/150 HTTP/1.1\r\nHost: t\r\n\r\n"
                     "GET /delay/10 HTTP/1.1\r\nHost: t\r\n\r\n"
                     "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    resp_t r;
    assert_true(client_read(&c, &r, false));
    assert_string_equal(r.body, "{\"delay\":150}");
    resp_free(&r);
    assert_true(client_read(&c, &r, false));
    assert_string_equal(r.body, "{\"delay\":10}");
    resp_free(&r);
    assert_true(client_read(&c, &r, false));
    assert_string_equal(r.body, "{\"hello\":\"world\"}");
    resp_free(&r);
    assert_int_equal(f->delays_fired, 2);
    client_close(&c);
    stop(f, false);
}

static void tweak_pipeline2(http_server_config_t *cfg)
{
    cfg->max_pipelined = 2;
}

static void test_pipeline_limit(void **state)
{
    fixture_t *f = start(tweak_pipeline2);
    client_t c;
    client_open(&c, f->port);
    char req[2048] = "";
    for (int i = 0; i < 6; i++)
        strcat(req, i % 2 ? "GET /delay/5 HTTP/1.1\r\n\r\n" : "GET /hello HTTP/1.1\r\n\r\n");
    client_sends(&c, req);
    for (int i = 0; i < 6; i++) {
        resp_t r;
        assert_true(client_read(&c, &r, false));
        assert_string_equal(r.body, i % 2 ? "{\"delay\":5}" : "{\"hello\":\"world\"}");
        resp_free(&r);
    }
    client_close(&c);
    stop(f, false);
}

static void test_head(void **state)
{
    fixture_t *f = start(NULL);
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "HEAD /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    resp_t r;
    assert_true(client_read(&c, &r, true));
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Content-Length"), "17");
    resp_free(&r);
    /* the next bytes are the GET response: the HEAD one had no body */
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"hello\":\"world\"}");
    resp_free(&r);
    client_close(&c);
    stop(f, false);
}

static void test_404_405_options(void **state)
{
    fixture_t *f = start(NULL);
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "GET /nope HTTP/1.1\r\n\r\n");
    resp_t r;
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "{\"detail\":\"Not Found\"}");
    assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
    resp_free(&r);
    client_sends(&c, "DELETE /hello HTTP/1.1\r\n\r\n");
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 405);
    assert_string_equal(r.body, "{\"detail\":\"Method Not Allowed\"}");
    assert_string_equal(resp_header(&r, "Allow"), "GET, HEAD");
    resp_free(&r);
    client_sends(&c, "OPTIONS /echo HTTP/1.1\r\n\r\n");
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 405);
    assert_string_equal(resp_header(&r, "Allow"), "POST");
    resp_free(&r);
    /* the pre-route hook answers a CORS preflight */
    client_sends(&c, "OPTIONS /echo HTTP/1.1\r\nOrigin: http://x\r\n\r\n");
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 204);
    assert_string_equal(resp_header(&r, "Access-Control-Allow-Origin"), "*");
    resp_free(&r);
    /* 404/405 keep the connection open */
    get_ok(&c, "/hello", NULL);
    client_close(&c);
    run_on_loop(f, snapshot);
    assert_int_equal(f->observed, 5);
    assert_int_equal(f->last_observed_status, 200);
    stop(f, false);
}

static void test_post_and_100_continue(void **state)
{
    fixture_t *f = start(NULL);
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "POST /echo HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    /* nothing but the interim response until the body is sent */
    while (c.len < 25)
        assert_true(client_fill(&c) > 0);
    assert_int_equal(c.len, 25);
    assert_memory_equal(c.buf, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    c.len = 0;
    client_sends(&c, "hello");
    resp_t r;
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    resp_free(&r);
    /* a large body (direct reads into the exchange) */
    size_t n = 700 * 1000;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    char head[128];
    snprintf(head, sizeof head, "POST /echo HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
    client_sends(&c, head);
    client_send(&c, big, n / 3);
    usleep(20000);
    client_send(&c, big + n / 3, n - n / 3);
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, n);
    assert_memory_equal(r.body, big, n);
    resp_free(&r);
    free(big);
    client_close(&c);
    stop(f, false);
}

/* Sends req, expects status with a JSON detail and Connection: close, then EOF. */
static void check_big(const resp_t *r, size_t n)
{
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, n);
    for (size_t i = 0; i < n; i += 4099)
        assert_int_equal(r->body[i], (char)('A' + i % 23));
    assert_int_equal(r->body[n - 1], (char)('A' + (n - 1) % 23));
}

static void test_big_responses_partial_writes(void **state)
{
    fixture_t *f = start(NULL);
    client_t c;
    client_open(&c, f->port);
    /* Bigger than the socket buffers: the writes are partial and queue up. */
    client_sends(&c, "GET /big?n=12000000 HTTP/1.1\r\n\r\nGET /delay/50 HTTP/1.1\r\n\r\n"
                     "GET /big?n=3000001 HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    usleep(100000);
    resp_t r;
    assert_true(client_read(&c, &r, false));
    check_big(&r, 12000000);
    resp_free(&r);
    assert_true(client_read(&c, &r, false));
    assert_string_equal(r.body, "{\"delay\":50}");
    resp_free(&r);
    assert_true(client_read(&c, &r, false));
    check_big(&r, 3000001);
    resp_free(&r);
    assert_true(client_read(&c, &r, false));
    assert_string_equal(r.body, "{\"hello\":\"world\"}");
    resp_free(&r);
    client_close(&c);
    stop(f, false);
}

static void test_read_buffer_compaction(void **state)
{
    fixture_t *f = start(NULL);
    client_t old, c;
    client_open(&old, f->port);
    get_ok(&old, "/hello", NULL);
    client_open(&c, f->port);
    /* four ~1 KB requests and the start of a fifth: the buffer must slide */
    char pad[1001];
    memset(pad, 'p', 1000);
    pad[1000] = '\0';
    char *req = malloc(8192);
    req[0] = '\0';
    for (int i = 0; i < 5; i++) {
        strcat(req, "GET /hello HTTP/1.1\r\nX-Pad: ");
        strcat(req, pad);
        strcat(req, "\r\n\r\n");
    }
    size_t n = strlen(req), first = n - 600;
    client_send(&c, req, first);
    usleep(50000);
    client_send(&c, req + first, n - first);
    for (int i = 0; i < 5; i++) {
        resp_t r;
        assert_true(client_read(&c, &r, false));
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    free(req);
    /* closing the older connection first unlinks it from the middle of the list */
    client_close(&old);
    usleep(50000);
    run_on_loop(f, snapshot);
    assert_int_equal(f->conns, 1);
    get_ok(&c, "/hello", NULL);
    client_close(&c);
    stop(f, false);
}

static void test_shutdown_without_listen(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    http_server_config_t cfg;
    http_server_config_defaults(&cfg);
    assert_int_equal(cfg.max_pipelined, 16);
    assert_int_equal(cfg.max_body_bytes, 1024 * 1024);
    cfg.host = "not-an-ip";
    http_server_t *s = http_server_new(&loop, &cfg, NULL);
    char err[256];
    assert_int_equal(http_server_listen(s, err, sizeof err), -1);
    assert_non_null(strstr(err, "not-an-ip"));
    http_server_shutdown(s, NULL, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    http_server_free(s);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void tweak_access_log(http_server_config_t *cfg)
{
    cfg->access_log = true;
}

static void test_access_log(void **state)
{
    char path[] = "/tmp/lakeapi_access_XXXXXX";
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    unlink(path);
    int saved = dup(2);
    dup2(tmp, 2);
    fixture_t *f = start(tweak_access_log);
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "GET /info/%22x%22?full=1 HTTP/1.1\r\nX-Request-Id: rid-1\r\n"
                     "Authorization: Bearer SECRET\r\n\r\n");
    resp_t r;
    assert_true(client_read(&c, &r, false));
    assert_int_equal(r.status, 200);
    resp_free(&r);
    run_on_loop(f, snapshot);
    assert_true(f->accessors_ok);
    client_sends(&c, "GET /missing HTTP/1.1\r\n\r\nHEAD /hello HTTP/1.1\r\n\r\n");
    assert_true(client_read(&c, &r, false));
    resp_free(&r);
    assert_true(client_read(&c, &r, true));
    resp_free(&r);
    client_close(&c);
    stop(f, false);
    dup2(saved, 2);
    close(saved);
    char log[8192];
    ssize_t n = pread(tmp, log, sizeof log - 1, 0);
    close(tmp);
    assert_true(n > 0);
    log[n] = '\0';
    const char *l1 = strstr(log, "\"request_id\":\"rid-1\"");
    assert_non_null(l1);
    assert_true(strncmp(log, "{\"time\":\"", 9) == 0);
    assert_non_null(strstr(log, "\"level\":\"info\",\"type\":\"access\""));
    assert_non_null(
        strstr(l1, "\"method\":\"GET\",\"route\":\"/info/{x}\",\"path\":\"/info/\\\"x\\\"\","
                   "\"status\":200,\"bytes\":"));
    assert_non_null(strstr(l1, "\"pool_wait_ms\":1.500}\n"));
    assert_non_null(strstr(log, "\"route\":\"\",\"path\":\"/missing\",\"status\":404"));
    assert_non_null(strstr(log, "\"method\":\"HEAD\",\"route\":\"/hello\",\"path\":\"/"
                                "hello\",\"status\":200,\"bytes\":0,"));
    assert_null(strstr(log, "SECRET"));
    int lines = 0;
    for (char *p = log; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 3);
}

static void test_reuse_port(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    http_server_config_t cfg;
    http_server_config_defaults(&cfg);
    cfg.port = 0;
    cfg.reuse_port = true;
    cfg.host = "localhost";
    http_server_t *a = http_server_new(&loop, &cfg, NULL);
    char err[256];
    assert_int_equal(http_server_listen(a, err, sizeof err), 0);
    cfg.port = http_server_port(a);
    http_server_t *b = http_server_new(&loop, &cfg, NULL);
    assert_int_equal(http_server_listen(b, err, sizeof err), 0);
    assert_int_equal(http_server_port(b), cfg.port);
    cfg.reuse_port = false;
    http_server_t *c = http_server_new(&loop, &cfg, NULL);
    assert_int_equal(http_server_listen(c, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot listen"));
    http_server_shutdown(a, NULL, NULL);
    http_server_shutdown(b, NULL, NULL);
    http_server_shutdown(c, NULL, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    http_server_free(a);
    http_server_free(b);
    http_server_free(c);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void tweak_ipv6(http_server_config_t *cfg)
{
    cfg->host = "::1";
}

static void test_ipv6(void **state)
{
    fixture_t *f = start(tweak_ipv6);
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)f->port)};
    a.sin6_addr = in6addr_loopback;
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n";
    assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    char buf[1024];
    size_t got = 0;
    ssize_t n;
    while ((n = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    assert_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(buf, "{\"hello\":\"world\"}"));
    close(fd);
    stop(f, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_alive_and_headers),
        cmocka_unit_test(test_pipelined_out_of_order),
        cmocka_unit_test(test_pipeline_limit),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_404_405_options),
        cmocka_unit_test(test_post_and_100_continue),
        cmocka_unit_test(test_big_responses_partial_writes),
        cmocka_unit_test(test_read_buffer_compaction),
        cmocka_unit_test(test_shutdown_without_listen),
        cmocka_unit_test(test_access_log),
        cmocka_unit_test(test_reuse_port),
        cmocka_unit_test(test_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
