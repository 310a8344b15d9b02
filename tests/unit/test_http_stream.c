/*
 * test_http_stream - streamed (chunked) responses over real sockets: framing
 * and content, back-pressure against a client that does not read (bounded
 * queue, on_drain), pipelined responses after a stream, HEAD, HTTP/1.0
 * (close-delimited), a client that disconnects mid-stream (on_gone, nothing
 * left in flight) and a stream behind a slower earlier response.
 */
#include "http/internal.h"
#include "http_test_fixture.h"

/* ---- a producer that honours back-pressure ---- */

typedef struct prod {
    http_exchange_t *ex;
    size_t off, total;
} prod_t;

static struct {
    size_t max_queued; /* largest pending + socket queue seen after a write */
    int drains, gones, ends;
} st;

static size_t queued_now(http_exchange_t *ex)
{
    return ex->body_out.len + uv_stream_get_write_queue_size((uv_stream_t *)&ex->conn->tcp);
}

static void prod_run(prod_t *p)
{
    char block[16384];
    while (p->off < p->total) {
        size_t n = p->total - p->off < sizeof block ? p->total - p->off : sizeof block;
        for (size_t i = 0; i < n; i++)
            block[i] = (char)('A' + (p->off + i) % 23);
        p->off += n;
        bool more = http_stream_write(p->ex, block, n);
        size_t q = queued_now(p->ex);
        if (q > st.max_queued) st.max_queued = q;
        if (!more) return; /* on_drain or on_gone continues */
    }
    st.ends++;
    http_stream_end(p->ex);
    free(p);
}

static void prod_drain(http_exchange_t *ex, void *data)
{
    (void)ex;
    st.drains++;
    prod_run(data);
}

static void prod_gone(http_exchange_t *ex, void *data)
{
    st.gones++;
    http_stream_end(ex);
    free(data);
}

static const http_stream_ops_t prod_ops = {prod_drain, prod_gone};

static void h_stream(http_exchange_t *ex, void *data)
{
    (void)data;
    const char *n = http_exchange_query(ex, "n", NULL);
    prod_t *p = calloc(1, sizeof *p);
    p->ex = ex;
    p->total = n ? strtoul(n, NULL, 10) : 0;
    http_exchange_add_header(ex, "X-Stream", "1");
    http_stream_begin(ex, 200, "text/plain", &prod_ops, p);
    prod_run(p);
}

static void add_routes(fixture_t *f)
{
    router_add(f->router, HTTP_GET | HTTP_HEAD, "/stream", h_stream, f, NULL);
    memset(&st, 0, sizeof st);
}

static void read_stats(fixture_t *f)
{
    snapshot(f);
}

/* ---- a chunked reader ---- */

static size_t need(client_t *c, size_t n)
{
    while (c->len < n)
        assert_true(client_fill(c) > 0);
    return n;
}

/* Reads the head; returns its length (the body follows in c->buf). */
static size_t read_head(client_t *c, resp_t *r)
{
    char *end;
    while (!(end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL))
        assert_true(client_fill(c) > 0);
    size_t hl = (size_t)(end - c->buf) + 4;
    memcpy(r->head, c->buf, hl);
    r->head[hl] = '\0';
    assert_true(sscanf(r->head, "HTTP/1.%*d %d", &r->status) == 1);
    memmove(c->buf, c->buf + hl, c->len - hl);
    c->len -= hl;
    r->body = NULL;
    return hl;
}

/* Decodes a chunked body and checks it is total bytes of the pattern. */
static void read_chunked_pattern(client_t *c, size_t total)
{
    size_t got = 0;
    int chunks = 0;
    for (;;) {
        char *eol;
        while (!(eol = c->len ? memmem(c->buf, c->len, "\r\n", 2) : NULL))
            assert_true(client_fill(c) > 0);
        size_t hl = (size_t)(eol - c->buf) + 2;
        size_t n = strtoul(c->buf, NULL, 16);
        need(c, hl + n + 2);
        for (size_t i = 0; i < n; i++)
            if (c->buf[hl + i] != (char)('A' + (got + i) % 23)) fail_msg("byte %zu wrong", got + i);
        assert_memory_equal(c->buf + hl + n, "\r\n", 2);
        memmove(c->buf, c->buf + hl + n + 2, c->len - hl - n - 2);
        c->len -= hl + n + 2;
        got += n;
        chunks++;
        if (n == 0) break;
    }
    assert_int_equal(got, total);
    assert_true(chunks >= 2 || total == 0);
}

static void test_chunked_and_pipelined(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    run_on_loop(f, add_routes);
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "GET /stream?n=100000 HTTP/1.1\r\n\r\n"
                     "GET /hello HTTP/1.1\r\n\r\n"
                     "GET /stream?n=0 HTTP/1.1\r\n\r\n");
    resp_t r;
    read_head(&c, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Transfer-Encoding"), "chunked");
    assert_null(resp_header(&r, "Content-Length"));
    assert_string_equal(resp_header(&r, "X-Stream"), "1");
    assert_string_equal(resp_header(&r, "Content-Type"), "text/plain");
    read_chunked_pattern(&c, 100000);
    assert_true(client_read(&c, &r, false));
    assert_string_equal(r.body, "{\"hello\":\"world\"}");
    resp_free(&r);
    read_head(&c, &r);
    read_chunked_pattern(&c, 0);
    /* the connection is still good */
    get_ok(&c, "/hello", "{\"hello\":\"world\"}");
    client_close(&c);
    stop(f, false);
}

static void test_backpressure_bounded(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    run_on_loop(f, add_routes);
    client_t c;
    client_open(&c, f->port);
    int small = 16384;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    const size_t total = 64u << 20;
    client_sends(&c, "GET /stream?n=67108864 HTTP/1.1\r\n\r\n");
    usleep(300 * 1000); /* the client does not read: the server must pause */
    run_on_loop(f, read_stats);
    assert_int_equal(st.ends, 0);
    assert_true(st.max_queued <= HTTP_STREAM_HIGH_WATER + 16384);
    resp_t r;
    read_head(&c, &r);
    read_chunked_pattern(&c, total);
    run_on_loop(f, read_stats);
    assert_true(st.drains >= 1);
    assert_int_equal(st.ends, 1);
    assert_true(st.max_queued <= HTTP_STREAM_HIGH_WATER + 16384);
    get_ok(&c, "/hello", "{\"hello\":\"world\"}");
    client_close(&c);
    stop(f, false);
}

static void test_head_and_http10(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    run_on_loop(f, add_routes);
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "HEAD /stream?n=5000 HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    resp_t r;
    read_head(&c, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Transfer-Encoding"), "chunked");
    /* no body at all: the next response follows the head at once */
    assert_true(client_read(&c, &r, false));
    assert_string_equal(r.body, "{\"hello\":\"world\"}");
    resp_free(&r);
    client_close(&c);

    client_open(&c, f->port);
    client_sends(&c, "GET /stream?n=70000 HTTP/1.0\r\n\r\n");
    read_head(&c, &r);
    assert_null(resp_header(&r, "Transfer-Encoding"));
    assert_string_equal(resp_header(&r, "Connection"), "close");
    while (client_fill(&c) > 0)
        ;
    assert_int_equal(c.len, 70000);
    for (size_t i = 0; i < 70000; i++)
        assert_int_equal(c.buf[i], (char)('A' + i % 23));
    client_close(&c);
    stop(f, false);
}

static void test_client_gone_mid_stream(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    run_on_loop(f, add_routes);
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "GET /stream?n=1000000000 HTTP/1.1\r\n\r\n");
    resp_t r;
    read_head(&c, &r);
    need(&c, 100000);
    client_close(&c); /* with unread data: the server sees a reset or EOF */
    int waited = 0;
    do {
        usleep(20 * 1000);
        run_on_loop(f, read_stats);
    } while ((st.gones == 0 || f->inflight != 0 || f->conns != 0) && ++waited < 200);
    assert_int_equal(st.gones, 1);
    assert_int_equal(st.ends, 0);
    assert_int_equal(f->inflight, 0);
    assert_int_equal(f->conns, 0);
    stop(f, false);
}

static void test_stream_behind_slow_response(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    run_on_loop(f, add_routes);
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "GET /delay/100 HTTP/1.1\r\n\r\nGET /stream?n=600000 HTTP/1.1\r\n\r\n");
    resp_t r;
    assert_true(client_read(&c, &r, false));
    assert_string_equal(r.body, "{\"delay\":100}");
    resp_free(&r);
    read_head(&c, &r);
    read_chunked_pattern(&c, 600000);
    client_close(&c);
    stop(f, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_and_pipelined),
        cmocka_unit_test(test_backpressure_bounded),
        cmocka_unit_test(test_head_and_http10),
        cmocka_unit_test(test_client_gone_mid_stream),
        cmocka_unit_test(test_stream_behind_slow_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
