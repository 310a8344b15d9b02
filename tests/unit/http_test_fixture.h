/*
 * http_test_fixture - shared by the HTTP server tests: a server running on a
 * libuv loop in its own thread (with a few test handlers), and a tiny
 * blocking client that reads responses off a real socket.
 */
#ifndef LAKEAPI_HTTP_TEST_FIXTURE_H
#define LAKEAPI_HTTP_TEST_FIXTURE_H

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

/* Each test file uses a subset of the helpers. */
#pragma GCC diagnostic ignored "-Wunused-function"

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
    bool accessors_ok;
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
    if (strcmp(http_exchange_raw_query(ex), "full=1") == 0) {
        /* the rest of the accessors, for the access-log test (checked on the test thread) */
        fixture_t *f = data;
        *http_exchange_user_slot(ex) = ex;
        f->accessors_ok = *http_exchange_user_slot(ex) == ex && http_exchange_arena(ex) &&
                          strcmp(http_exchange_route(ex)->pattern, "/info/{x}") == 0 &&
                          strcmp(http_exchange_request_id(ex), "rid-1") == 0 &&
                          http_exchange_param(ex, 1) == NULL && !http_exchange_client_gone(ex) &&
                          strcmp(http_exchange_raw_path(ex), "/info/%22x%22") == 0 &&
                          http_exchange_method(ex) == HTTP_GET;
        http_exchange_note_pool_wait(ex, 1.25);
        http_exchange_note_pool_wait(ex, 0.25);
    }
    http_exchange_add_header(ex, "X-Extra", "yes");
    http_exchange_add_header(ex, "X-Bad", "a\r\nInjected: 1"); /* dropped */
    http_exchange_send(ex, 200, "text/plain");
}

/* A body of ?n= bytes, a repeating pattern. */
static void h_big(http_exchange_t *ex, void *data)
{
    const char *n = http_exchange_query(ex, "n", NULL);
    size_t len = n ? strtoul(n, NULL, 10) : 0;
    buf_t *b = http_exchange_body_buf(ex);
    buf_reserve(b, len);
    /* The pattern has period 23: build one block, then copy it (fast under ASan). */
    size_t blk = 23 * 200;
    for (size_t i = 0; i < len && i < blk; i++)
        b->data[i] = (char)('A' + i % 23);
    for (size_t i = blk; i < len; i += blk)
        memcpy(b->data + i, b->data, len - i < blk ? len - i : blk);
    b->len = len;
    b->data[len] = '\0';
    http_exchange_send(ex, 200, "application/octet-stream");
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
    router_add(f->router, HTTP_GET, "/big", h_big, f, NULL);
    router_add(f->router, HTTP_GET, "/delay/{ms:int}", h_delay, f, NULL);
    http_server_config_defaults(&f->cfg);
    f->cfg.port = 0;
    f->cfg.access_log = false;
    f->cfg.require_host = false; /* the raw requests of these tests are minimal */
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
            while (*v == ' ')
                v++;
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
    while (c->len < hl + blen)
        assert_true(client_fill(c) > 0);
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

#endif
