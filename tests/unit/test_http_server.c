/*
 * test_http_server - the HTTP server over real sockets: the server runs on a
 * libuv loop in a thread, the test talks to it with blocking sockets.
 * Covers keep-alive, response headers, pipelining with out-of-order handler
 * completion, HEAD, 100-continue, 404/405, 413/414/431/400/501, header and
 * body timeouts, client disconnect during a pending handler, graceful
 * shutdown with a request in flight, pipelining limits, connection limits,
 * the pre-route hook and the observer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lakeapi/http_server.h"

/* ---- fixture: a server on a loop thread ---- */

typedef struct fixture {
    uv_loop_t loop;
    uv_async_t async;
    uv_sem_t sem;
    void (*fn)(struct fixture *);
    router_t *router;
    http_server_t *srv;
    http_server_config_t cfg;
    uv_thread_t thread;
    int port;
    bool done;
    bool saw_gone;
    int delays_fired;
    int observed;
    int last_observed_status;
    unsigned conns, inflight;
} fixture_t;

static void async_cb(uv_async_t *a)
{
    fixture_t *f = a->data;
    if (f->fn) {
        f->fn(f);
        f->fn = NULL;
        uv_sem_post(&f->sem);
    }
}

static void run_on_loop(fixture_t *f, void (*fn)(fixture_t *))
{
    f->fn = fn;
    uv_async_send(&f->async);
    uv_sem_wait(&f->sem);
}

static void snapshot(fixture_t *f)
{
    f->conns = http_server_connections(f->srv);
    f->inflight = http_server_in_flight(f->srv);
}

static void on_done(void *data)
{
    fixture_t *f = data;
    f->done = true;
    uv_close((uv_handle_t *)&f->async, NULL);
}

static void do_shutdown(fixture_t *f)
{
    http_server_shutdown(f->srv, on_done, f);
    http_server_shutdown(f->srv, on_done, f); /* idempotent */
}

static void loop_thread(void *arg)
{
    fixture_t *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* ---- handlers ---- */

static void h_hello(http_exchange_t *ex, void *data)
{
    buf_append_str(http_exchange_body_buf(ex), "{\"hello\":\"world\"}");
    http_exchange_send(ex, 200, "application/json");
}

static void h_echo(http_exchange_t *ex, void *data)
{
    size_t n;
    const char *b = http_exchange_body(ex, &n);
    buf_append(http_exchange_body_buf(ex), b, n);
    http_exchange_send(ex, 200, "text/plain");
}

static void h_info(http_exchange_t *ex, void *data)
{
    const char *hv = http_exchange_header(ex, "X-CUSTOM", NULL);
    const char *q = http_exchange_query(ex, "q", NULL);
    buf_printf(http_exchange_body_buf(ex), "path=%s hdr=%s q=%s param=%s method=%s",
               http_exchange_path(ex), hv ? hv : "-", q ? q : "-",
               http_exchange_param(ex, 0) ? http_exchange_param(ex, 0) : "-",
               http_exchange_method_name(ex));
    http_exchange_add_header(ex, "X-Extra", "yes");
    http_exchange_add_header(ex, "X-Bad", "a\r\nInjected: 1"); /* dropped */
    http_exchange_send(ex, 200, "text/plain");
}

static void h_nocontent(http_exchange_t *ex, void *data)
{
    http_exchange_send(ex, 204, NULL);
}

typedef struct delay {
    uv_timer_t timer;
    http_exchange_t *ex;
    fixture_t *f;
    int ms;
} delay_t;

static void delay_closed(uv_handle_t *h)
{
    free(h->data);
}

static void delay_fire(uv_timer_t *t)
{
    delay_t *d = t->data;
    d->f->delays_fired++;
    if (http_exchange_client_gone(d->ex)) d->f->saw_gone = true;
    buf_printf(http_exchange_body_buf(d->ex), "{\"delay\":%d}", d->ms);
    http_exchange_send(d->ex, 200, "application/json");
    uv_close((uv_handle_t *)t, delay_closed);
}

static void h_delay(http_exchange_t *ex, void *data)
{
    fixture_t *f = data;
    delay_t *d = calloc(1, sizeof *d);
    d->ex = ex;
    d->f = f;
    d->ms = atoi(http_exchange_param(ex, 0));
    uv_timer_init(&f->loop, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, delay_fire, (uint64_t)d->ms, 0);
}

static bool pre_route(http_exchange_t *ex, void *data)
{
    if (http_exchange_method(ex) == HTTP_OPTIONS && http_exchange_header(ex, "origin", NULL)) {
        http_exchange_add_header(ex, "Access-Control-Allow-Origin", "*");
        http_exchange_send(ex, 204, NULL);
        return true;
    }
    return false;
}

static void observer(const http_exchange_info_t *info, void *data)
{
    fixture_t *f = data;
    f->observed++;
    f->last_observed_status = info->status;
}

/* ---- setup ---- */

typedef void (*tweak_fn)(http_server_config_t *cfg);

static fixture_t *start(tweak_fn tweak)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_sem_init(&f->sem, 0);
    uv_async_init(&f->loop, &f->async, async_cb);
    f->async.data = f;
    f->router = router_new();
    router_add(f->router, HTTP_GET, "/hello", h_hello, f, NULL);
    router_add(f->router, HTTP_POST, "/echo", h_echo, f, NULL);
    router_add(f->router, HTTP_GET, "/info/{x}", h_info, f, NULL);
    router_add(f->router, HTTP_GET, "/nocontent", h_nocontent, f, NULL);
    router_add(f->router, HTTP_GET, "/delay/{ms:int}", h_delay, f, NULL);
    http_server_config_defaults(&f->cfg);
    f->cfg.port = 0;
    f->cfg.access_log = false;
    if (tweak) tweak(&f->cfg);
    f->srv = http_server_new(&f->loop, &f->cfg, f->router);
    assert_non_null(f->srv);
    http_server_set_observer(f->srv, observer, f);
    http_server_set_pre_route(f->srv, pre_route, f);
    char err[256];
    assert_int_equal(http_server_listen(f->srv, err, sizeof err), 0);
    f->port = http_server_port(f->srv);
    assert_true(f->port > 0);
    assert_int_equal(uv_thread_create(&f->thread, loop_thread, f), 0);
    return f;
}

static void stop(fixture_t *f, bool already_shut)
{
    if (!already_shut) run_on_loop(f, do_shutdown);
    uv_thread_join(&f->thread);
    assert_true(f->done);
    http_server_free(f->srv);
    router_free(f->router);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    uv_sem_destroy(&f->sem);
    free(f);
}

/* ---- a tiny blocking client ---- */

typedef struct client {
    int fd;
    char *buf;
    size_t len, cap;
} client_t;

typedef struct resp {
    int status;
    char head[16384];
    char *body;
    size_t body_len;
} resp_t;

static void client_open(client_t *c, int port)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    c->cap = 1 << 20;
    c->buf = malloc(c->cap);
    c->len = 0;
}

static void client_close(client_t *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
}

static void client_send(client_t *c, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

static void client_sends(client_t *c, const char *s)
{
    client_send(c, s, strlen(s));
}

/* Reads more bytes; returns 0 on EOF, -1 on error/timeout. */
static ssize_t client_fill(client_t *c)
{
    if (c->len == c->cap) {
        c->cap *= 2;
        c->buf = realloc(c->buf, c->cap);
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (n > 0) c->len += (size_t)n;
    return n;
}

static const char *resp_header(const resp_t *r, const char *name)
{
    static char val[1024];
    const char *p = r->head;
    size_t n = strlen(name);
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ') v++;
            const char *e = strstr(v, "\r\n");
            size_t l = (size_t)(e - v);
            memcpy(val, v, l);
            val[l] = '\0';
            return val;
        }
    }
    return NULL;
}

/* Reads one response; returns false on EOF before a response. */
static bool client_read(client_t *c, resp_t *r, bool head_only)
{
    char *end;
    for (;;) {
        end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (end) break;
        if (client_fill(c) <= 0) return false;
    }
    size_t hl = (size_t)(end - c->buf) + 4;
    assert_true(hl < sizeof r->head);
    memcpy(r->head, c->buf, hl);
    r->head[hl] = '\0';
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    const char *cl = resp_header(r, "Content-Length");
    size_t blen = (cl && !head_only) ? strtoul(cl, NULL, 10) : 0;
    while (c->len < hl + blen) assert_true(client_fill(c) > 0);
    r->body = malloc(blen + 1);
    memcpy(r->body, c->buf + hl, blen);
    r->body[blen] = '\0';
    r->body_len = blen;
    memmove(c->buf, c->buf + hl + blen, c->len - hl - blen);
    c->len -= hl + blen;
    return true;
}

static void resp_free(resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

/* true when the server closes the connection (EOF) within the receive timeout. */
static bool client_sees_eof(client_t *c)
{
    for (;;) {
        ssize_t n = client_fill(c);
        if (n == 0) return true;
        if (n < 0) return false;
    }
}

static void get_ok(client_t *c, const char *path, const char *want_body)
{
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    client_sends(c, req);
    resp_t r;
    assert_true(client_read(c, &r, false));
    assert_int_equal(r.status, 200);
    if (want_body) assert_string_equal(r.body, want_body);
    resp_free(&r);
}

/* ---- tests ---- */

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
    client_sends(&c, "GET /info/a%20b?q=x+y HTTP/1.1\r\nx-custom: val\r\nX-Request-Id: bad id!\r\n\r\n");
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
    while (c.len < 25) assert_true(client_fill(&c) > 0);
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
    for (size_t i = 0; i < n; i++) big[i] = (char)('a' + i % 26);
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
    const char *r413 = "POST /echo HTTP/1.1\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n";
    expect_error_close(f->port, r413, strlen(r413), 413);

    char *big = malloc(40000);
    snprintf(big, 40000, "GET /%09000d HTTP/1.1\r\n\r\n", 1);
    expect_error_close(f->port, big, strlen(big), 414);
    snprintf(big, 40000, "GET / HTTP/1.1\r\nX-Big: %020000d\r\n\r\n", 1);
    expect_error_close(f->port, big, strlen(big), 431);
    strcpy(big, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 101; i++) strcat(big, "X-H: v\r\n");
    strcat(big, "\r\n");
    expect_error_close(f->port, big, strlen(big), 431);
    free(big);

    const char *bad = "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n";
    expect_error_close(f->port, bad, strlen(bad), 400);
    const char *chunked = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
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
    cfg->keepalive_timeout_ms = 300;
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
    assert_true(ms >= 200 && ms < 2000);
    assert_int_equal(c.len, 0);
    client_close(&c);
    /* a pending handler is not subject to the idle timeout */
    client_open(&c, f->port);
    get_ok(&c, "/delay/500", "{\"delay\":500}");
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
    client_t busy, idle;
    client_open(&busy, f->port);
    client_open(&idle, f->port);
    get_ok(&idle, "/hello", NULL);
    client_sends(&busy, "GET /delay/300 HTTP/1.1\r\n\r\n");
    usleep(50000);
    run_on_loop(f, snapshot);
    assert_int_equal(f->inflight, 1);
    assert_int_equal(f->conns, 2);
    run_on_loop(f, do_shutdown);
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
    while ((n = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0) got += (size_t)n;
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
        cmocka_unit_test(test_limits_and_errors),
        cmocka_unit_test(test_http10_closes),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_client_disconnect),
        cmocka_unit_test(test_shutdown_drains),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_shutdown_without_listen),
        cmocka_unit_test(test_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
