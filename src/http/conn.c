/*
 * http/conn - one client connection: reading, parsing, dispatching, writing
 * responses in request order, timeouts and closing.
 *
 * Reading: bytes land in a per-connection buffer (4 KiB, grown up to the head
 * limits) and are parsed in place; a request's body goes into its exchange's
 * arena, straight from the socket when nothing else is buffered. Requests are
 * parsed ahead of their responses (pipelining) up to max_pipelined; past that
 * the connection stops reading until responses have been written.
 *
 * Writing: responses may be finished in any order; a response is written
 * only when every response before it has been, and all the consecutive ready
 * ones leave in one writev (head and body buffers of each, bodies never
 * copied): uv_try_write first, uv_write for what the socket did not take.
 * See server.c for when flushing happens.
 *
 * Timeouts: one timer per connection, armed lazily: it is (re)started only
 * when the new deadline is earlier than the armed one; when it fires early it
 * re-checks the current deadline. Modes: head (since the head's first byte,
 * -> 408), body (since the head, -> 408), idle keep-alive (close silently),
 * send (a client that does not read its responses, -> close) and linger.
 *
 * Closing: after a response with "Connection: close" the connection shuts its
 * write side down and discards input until EOF or a short linger timeout, so
 * the kernel does not reset the connection (and destroy the response in
 * flight) because of unread input. An EOF or read error from the client is
 * taken as the client having gone: handlers still running see
 * http_exchange_client_gone(), and their responses are dropped.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/internal.h"

#define CONN_RBUF_INIT     4096
#define CONN_RBUF_MIN_FREE 1024
#define CONN_LINGER_MS     2000
#define CONN_WRITE_BATCH   32

enum { TM_NONE, TM_HEAD, TM_BODY, TM_IDLE, TM_SEND, TM_LINGER };

static void conn_process(http_conn_t *c);
static void conn_update(http_conn_t *c);

/* ---- lifetime ---- */

void http_conn_unref(http_conn_t *c)
{
    if (--c->refs > 0) return;
    http_server_t *s = c->srv;
    free(c->rbuf);
    free(c);
    s->nlive--;
    http_server_maybe_done(s);
}

static void conn_handle_closed(uv_handle_t *h)
{
    http_conn_unref(h->data);
}

/*
 * From now on nothing more is written but what is already in uv_write: queued
 * exchanges are released, or orphaned when a handler still owns them.
 */
static void conn_kill(http_conn_t *c)
{
    if (c->dead) return;
    c->dead = true;
    c->stop_parsing = true;
    c->rpos = c->rlen = 0;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    http_exchange_t *ex = c->qhead;
    c->qhead = c->qtail = c->cur = NULL;
    while (ex) {
        http_exchange_t *next = ex->next;
        ex->next = NULL;
        c->nqueued--;
        if (ex->state == HTTP_EX_STREAMING)
            http_stream_orphan(ex);
        else if (ex->state != HTTP_EX_HANDLING)
            http_exchange_release(ex);
        ex = next;
    }
}

/* ---- connections per client address ---- */

/* The peer's address as 16 bytes (IPv4 mapped into IPv6); -1 if unknown. */
static int conn_peer_addr(http_conn_t *c, unsigned char out[16])
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return -1;
    memset(out, 0, 16);
    if (ss.ss_family == AF_INET) {
        out[10] = out[11] = 0xFF;
        memcpy(out + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        memcpy(out, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    } else {
        return -1;
    }
    return 0;
}

/* Counts c against its address (process-wide); false when the address is at its cap. */
static bool conn_ip_admit(http_server_t *s, http_conn_t *c)
{
    unsigned char a[16];
    if (!http_limits_per_ip(s->conn_limits) || conn_peer_addr(c, a) != 0) return true;
    c->ip = http_limits_admit_ip(s->conn_limits, a);
    return c->ip != NULL;
}

static void conn_ip_release(http_conn_t *c)
{
    if (c->ip) http_limits_release_ip(c->srv->conn_limits, c->ip);
    c->ip = NULL;
}

static void conn_close(http_conn_t *c)
{
    if (c->closing) return;
    conn_kill(c);
    c->closing = true;
    conn_ip_release(c);
    http_server_t *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->nconns--;
    http_limits_release_total(s->conn_limits);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

/* ---- timer ---- */

static void conn_timer_cb(uv_timer_t *t);

static void conn_arm(http_conn_t *c, int mode, uint64_t deadline)
{
    c->tmode = mode;
    c->tdeadline = deadline;
    if (mode == TM_NONE) return; /* an armed timer will find nothing to do */
    if (c->armed && c->armed_at <= deadline) return;
    uint64_t now = uv_now(c->srv->loop);
    c->armed = true;
    c->armed_at = deadline;
    uv_timer_start(&c->timer, conn_timer_cb, deadline > now ? deadline - now : 0, 0);
}

/* Keeps the deadline of a mode already in force, else starts one now. */
static void conn_arm_from_now(http_conn_t *c, int mode, unsigned ms)
{
    conn_arm(c, mode, c->tmode == mode ? c->tdeadline : uv_now(c->srv->loop) + ms);
}

/* Appends an exchange to the queue of requests awaiting their responses. */
static void conn_enqueue(http_conn_t *c, http_exchange_t *ex)
{
    if (c->qtail)
        c->qtail->next = ex;
    else
        c->qhead = ex;
    c->qtail = ex;
    c->nqueued++;
}

/* Error for the request being received (parse error, timeout): answer and close. */
static void conn_fail(http_conn_t *c, int status, const char *detail)
{
    http_server_t *s = c->srv;
    http_exchange_t *ex = c->cur;
    c->stop_parsing = true;
    c->rpos = c->rlen = 0;
    if (ex) {
        c->cur = NULL; /* already the queue's tail */
    } else {
        ex = http_exchange_acquire(s, c);
        http_exchange_init_bare(ex);
        conn_enqueue(c, ex);
    }
    ex->state = HTTP_EX_HANDLING;
    s->in_flight++;
    ex->close_after = true;
    http_exchange_send_error(ex, status, detail);
}

static void conn_timer_cb(uv_timer_t *t)
{
    http_conn_t *c = t->data;
    c->armed = false;
    if (c->closing || c->tmode == TM_NONE) return;
    if (uv_now(c->srv->loop) < c->tdeadline) {
        conn_arm(c, c->tmode, c->tdeadline);
        return;
    }
    int mode = c->tmode;
    c->tmode = TM_NONE;
    if (mode == TM_HEAD || mode == TM_BODY) {
        conn_fail(c, 408, "Request Timeout");
        conn_update(c);
    } else {
        conn_close(c); /* idle keep-alive, client not reading, linger over */
    }
}

/* ---- reading ---- */

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    http_conn_t *c = h->data;
    http_server_t *s = c->srv;
    http_exchange_t *ex = c->cur;
    if (ex && c->rpos == c->rlen && !c->dead) {
        /* Nothing buffered: the body goes straight into the exchange. */
        size_t want = ex->body_len - ex->body_got;
        *b = uv_buf_init(ex->body + ex->body_got, want > UINT32_MAX ? UINT32_MAX : (unsigned)want);
        return;
    }
    if (!c->rbuf) {
        c->rbuf = malloc(CONN_RBUF_INIT);
        if (!c->rbuf) abort();
        c->rcap = CONN_RBUF_INIT;
    }
    if (c->dead) { /* lingering: discard */
        *b = uv_buf_init(c->rbuf, (unsigned)c->rcap);
        return;
    }
    if (c->rpos == c->rlen) c->rpos = c->rlen = 0;
    if (c->rcap - c->rlen < CONN_RBUF_MIN_FREE && c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    /* The parser fails before a pending head reaches this size, so it never fills. */
    size_t max = s->limits.max_request_line + s->limits.max_header_bytes + 2 * CONN_RBUF_MIN_FREE;
    if (c->rcap - c->rlen < CONN_RBUF_MIN_FREE && c->rcap < max) {
        size_t cap = c->rcap * 2 < max ? c->rcap * 2 : max;
        char *p = realloc(c->rbuf, cap);
        if (!p) abort();
        c->rbuf = p;
        c->rcap = cap;
    }
    *b = uv_buf_init(c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

static void conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    http_conn_t *c = st->data;
    if (nread == 0) return;
    if (nread < 0) {
        conn_close(c); /* EOF or error: the client is gone */
        return;
    }
    if (c->dead) return; /* lingering */
    http_exchange_t *ex = c->cur;
    if (ex && b->base == ex->body + ex->body_got)
        ex->body_got += (size_t)nread;
    else
        c->rlen += (size_t)nread;
    conn_process(c);
}

/* Hands a complete request to the pre-route hook, then the router and handler. */
static void conn_dispatch(http_conn_t *c, http_exchange_t *ex)
{
    http_server_t *s = c->srv;
    ex->state = HTTP_EX_HANDLING;
    s->in_flight++;
    if (s->pre_route && s->pre_route(ex, s->pre_route_data)) return;
    http_conn_route(ex);
}

void http_conn_route(http_exchange_t *ex)
{
    http_server_t *s = ex->srv;
    router_status_t r = ROUTER_NOT_FOUND;
    if (s->router) r = router_match(s->router, ex->method, ex->raw_path, ex->arena, &ex->match);
    if (r == ROUTER_MATCH) {
        ex->match.route->handler(ex, ex->match.route->data);
    } else if (r == ROUTER_METHOD_NOT_ALLOWED) {
        char allow[64] = "";
        static const http_method_t order[] = {HTTP_GET,    HTTP_HEAD,  HTTP_POST,   HTTP_PUT,
                                              HTTP_DELETE, HTTP_PATCH, HTTP_OPTIONS};
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
            if (!(ex->match.allowed_methods & order[i])) continue;
            if (allow[0]) strcat(allow, ", ");
            strcat(allow, http_method_str(order[i]));
        }
        http_exchange_add_header(ex, "Allow", allow);
        http_exchange_send_error(ex, 405, "Method Not Allowed");
    } else {
        http_exchange_send_error(ex, 404, "Not Found");
    }
}

/* Feeds the pending body, then parses and dispatches buffered requests. */
static void conn_process(http_conn_t *c)
{
    http_server_t *s = c->srv;
    while (!c->dead) {
        http_exchange_t *ex = c->cur;
        if (ex) {
            size_t avail = c->rlen - c->rpos, need = ex->body_len - ex->body_got;
            size_t take = avail < need ? avail : need;
            memcpy(ex->body + ex->body_got, c->rbuf + c->rpos, take);
            ex->body_got += take;
            c->rpos += take;
            if (ex->body_got < ex->body_len) break;
            c->cur = NULL;
            conn_dispatch(c, ex);
            continue;
        }
        if (c->stop_parsing || c->rpos == c->rlen || c->nqueued >= s->cfg.max_pipelined) break;
        if (!c->head_started) {
            c->head_started = true;
            c->head_start = uv_now(s->loop);
        }
        http_request_head_t head;
        http_parse_result_t r =
            http_parser_execute(&c->parser, c->rbuf + c->rpos, c->rlen - c->rpos, &head, s->scratch,
                                s->cfg.max_headers);
        if (r == HTTP_PARSE_MORE) break;
        if (r == HTTP_PARSE_ERROR) {
            conn_fail(c, c->parser.status, c->parser.detail);
            break;
        }
        ex = http_exchange_acquire(s, c);
        http_exchange_adopt_head(ex, &head, c->rbuf + c->rpos);
        c->rpos += head.head_len;
        http_parser_reset(&c->parser);
        c->head_started = false;
        c->had_request = true;
        conn_enqueue(c, ex);
        if (!ex->keep_alive) c->stop_parsing = true; /* nothing after it is read */
        if (ex->body_len > 0) {
            ex->state = HTTP_EX_RECV_BODY;
            c->cur = ex;
            c->body_start = uv_now(s->loop);
            if (ex->expect_continue) http_conn_mark_dirty(c);
            continue;
        }
        conn_dispatch(c, ex);
    }
    if (c->rpos == c->rlen) c->rpos = c->rlen = 0;
    conn_update(c);
}

/* Starts or stops reading and re-arms the timer for the connection's state. */
static void conn_update(http_conn_t *c)
{
    http_server_t *s = c->srv;
    if (c->closing) return;
    if (c->dead) {
        if (!c->lingering && c->whead) conn_arm_from_now(c, TM_SEND, s->cfg.body_timeout_ms);
        return;
    }
    bool want = c->cur != NULL || (!c->stop_parsing && c->nqueued < s->cfg.max_pipelined);
    if (want != c->reading) {
        if (want)
            uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb);
        else
            uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = want;
    }
    if (c->cur)
        conn_arm(c, TM_BODY, c->body_start + s->cfg.body_timeout_ms);
    else if (want && c->rpos < c->rlen)
        conn_arm(c, TM_HEAD, c->head_start + s->cfg.header_timeout_ms);
    else if (c->nqueued == 0)
        /* A connection that never sent a request gets the header timeout, not keep-alive's. */
        conn_arm_from_now(c, TM_IDLE,
                          c->had_request ? s->cfg.keepalive_timeout_ms : s->cfg.header_timeout_ms);
    else if (!c->qhead && c->whead)
        conn_arm_from_now(c, TM_SEND, s->cfg.body_timeout_ms);
    else if (c->qhead && c->qhead->state == HTTP_EX_STREAMING &&
             uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > 0)
        conn_arm_from_now(c, TM_SEND, s->cfg.body_timeout_ms); /* a client not reading */
    else
        conn_arm(c, TM_NONE, 0);
}

/* ---- writing ---- */

static void conn_shutdown_cb(uv_shutdown_t *req, int status)
{
    http_conn_t *c = req->data;
    if (status < 0) conn_close(c);
    http_conn_unref(c);
}

/* Last response written: send FIN, then discard input until EOF or timeout. */
static void conn_linger(http_conn_t *c)
{
    conn_kill(c);
    if (c->lingering || c->closing) return;
    c->lingering = true;
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, conn_shutdown_cb) != 0) {
        conn_close(c);
        return;
    }
    c->refs++;
    uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb);
    c->reading = true;
    conn_arm(c, TM_LINGER, uv_now(c->srv->loop) + CONN_LINGER_MS);
}

/* What follows responses leaving: close after the last one, or read on. */
static void conn_after_write(http_conn_t *c)
{
    if (c->closing || c->lingering) return;
    if ((c->close_when_written && !c->whead) || (c->draining && c->nqueued == 0))
        conn_linger(c);
    else if (!c->dead)
        conn_process(c); /* reading may resume: fewer requests in flight */
    else
        conn_update(c);
}

static void conn_write_cb(uv_write_t *req, int status)
{
    http_exchange_t *lead = (http_exchange_t *)((char *)req - offsetof(http_exchange_t, wreq));
    http_conn_t *c = lead->conn;
    unsigned n = lead->wcount;
    c->refs++; /* releasing the exchanges must not free c under us */
    /* Batches complete in order: this one is the first n exchanges of the writing list. */
    for (unsigned i = 0; i < n && c->whead; i++) {
        http_exchange_t *ex = c->whead;
        c->whead = ex->next;
        if (!c->whead) c->wtail = NULL;
        c->nqueued--;
        http_exchange_release(ex);
    }
    if (status < 0)
        conn_close(c);
    else
        conn_after_write(c);
    http_conn_unref(c);
}

static void conn_continue_cb(uv_write_t *req, int status)
{
    http_conn_t *c = req->data;
    c->creq_busy = false;
    if (status < 0)
        conn_close(c);
    else
        http_conn_mark_dirty(c); /* another exchange may be waiting for its 100 */
    http_conn_unref(c);
}

/* Sends "100 Continue" once every response before the waiting exchange has left. */
static void conn_maybe_continue(http_conn_t *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    http_exchange_t *ex = c->qhead;
    if (!ex || ex != c->cur || !ex->expect_continue || ex->continue_sent || c->creq_busy) return;
    uv_buf_t b = uv_buf_init((char *)cont, sizeof cont - 1);
    c->creq.data = c;
    if (uv_write(&c->creq, (uv_stream_t *)&c->tcp, &b, 1, conn_continue_cb) != 0) return;
    ex->continue_sent = true;
    c->creq_busy = true;
    c->refs++;
}

static void conn_release_list(http_conn_t *c, http_exchange_t *ex)
{
    while (ex) {
        http_exchange_t *next = ex->next;
        c->nqueued--;
        http_exchange_release(ex);
        ex = next;
    }
}

/*
 * Writes one batch of consecutive ready responses. uv_try_write first: on a
 * healthy connection everything leaves at once, with no write request, no
 * callback and no epoll_ctl (libuv re-arms the watcher after every queued
 * write). What the socket did not take goes through uv_write. Returns the
 * number of exchanges written synchronously, or -1 if the connection died.
 */
static int conn_write_batch(http_conn_t *c)
{
    uv_buf_t bufs[CONN_WRITE_BATCH * 2];
    unsigned nb = 0, count = 0;
    size_t total = 0;
    http_exchange_t *first = c->qhead, *last = NULL;
    while (c->qhead && c->qhead->state == HTTP_EX_READY && count < CONN_WRITE_BATCH) {
        http_exchange_t *ex = c->qhead;
        c->qhead = ex->next;
        if (!c->qhead) c->qtail = NULL;
        last = ex;
        ex->state = HTTP_EX_WRITING;
        bufs[nb++] = uv_buf_init(ex->head.data, (unsigned)ex->head.len);
        total += ex->head.len;
        if (ex->send_body) {
            bufs[nb++] = uv_buf_init(ex->body_out.data, (unsigned)ex->body_out.len);
            total += ex->body_out.len;
        }
        count++;
        if (ex->close_after) break;
    }
    last->next = NULL;
    bool closes = last->close_after;
    if (closes) {
        c->close_when_written = true;
        conn_kill(c); /* requests after this one will not be answered */
    }
    int n = c->whead ? UV_EAGAIN : uv_try_write((uv_stream_t *)&c->tcp, bufs, nb);
    if (n >= 0 && (size_t)n == total) {
        conn_release_list(c, first);
        return (int)count;
    }
    if (n < 0 && n != UV_EAGAIN) {
        conn_release_list(c, first);
        conn_close(c);
        return -1;
    }
    /* Skip what was written, queue the rest. */
    unsigned skip = 0;
    size_t done = n > 0 ? (size_t)n : 0;
    while (done >= bufs[skip].len)
        done -= bufs[skip++].len;
    bufs[skip].base += done;
    bufs[skip].len -= (unsigned)done;
    if (c->wtail)
        c->wtail->next = first;
    else
        c->whead = first;
    c->wtail = last;
    first->wcount = count;
    if (uv_write(&first->wreq, (uv_stream_t *)&c->tcp, bufs + skip, nb - skip, conn_write_cb) !=
        0) {
        /* No callback will come: take the batch back off the writing list. */
        http_exchange_t **pp = &c->whead;
        while (*pp != first)
            pp = &(*pp)->next;
        *pp = NULL;
        c->wtail = NULL;
        for (http_exchange_t *q = c->whead; q; q = q->next)
            c->wtail = q;
        conn_release_list(c, first);
        conn_close(c);
        return -1;
    }
    return 0;
}

/* Hands the ready responses at the head of the queue to the socket, in batches. */
static void conn_flush(http_conn_t *c)
{
    bool wrote = false;
    while (!c->dead && c->qhead && c->qhead->state == HTTP_EX_READY) {
        int r = conn_write_batch(c);
        if (r < 0) return;
        if (r > 0) wrote = true;
    }
    if (wrote) conn_after_write(c);
    if (!c->dead && c->qhead && c->qhead->state == HTTP_EX_STREAMING) {
        http_stream_flush(c, c->qhead);
        if (!c->dead) http_stream_check_drain(c->qhead);
    }
    if (!c->dead) conn_maybe_continue(c);
}

void http_conn_mark_dirty(http_conn_t *c)
{
    if (c->dirty || c->dead) return;
    http_server_t *s = c->srv;
    c->dirty = true;
    c->refs++;
    c->dirty_next = s->dirty;
    s->dirty = c;
}

void http_conn_close_now(http_conn_t *c)
{
    conn_close(c);
}

void http_conn_progress(http_conn_t *c)
{
    if (c->closing) return;
    if (c->tmode == TM_SEND) c->tmode = TM_NONE; /* the deadline counts from now */
    conn_update(c);
}

void http_conn_flush_dirty(http_server_t *s)
{
    http_stream_notify_gone(s);
    while (s->dirty) {
        http_conn_t *c = s->dirty;
        s->dirty = c->dirty_next;
        c->dirty = false;
        conn_flush(c);
        conn_update(c);
        http_conn_unref(c);
    }
}

/* ---- accept and shutdown ---- */

/*
 * Sheds a connection over a limit: a 503 written straight to the socket (no
 * parsing, no buffers: this runs when we are short of resources), then close.
 * What the client already sent is read first, so the close does not become a
 * reset that destroys the answer.
 */
static void conn_reject(http_conn_t *c, const char *detail)
{
    c->closing = c->dead = true;
    uv_os_fd_t fd;
    if (detail && uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
        char junk[4096];
        for (int i = 0; i < 4 && recv(fd, junk, sizeof junk, MSG_DONTWAIT) > 0; i++) {
        }
        char msg[512];
        char body[128];
        int blen = snprintf(body, sizeof body, "{\"detail\":\"%s\"}", detail);
        int n =
            snprintf(msg, sizeof msg,
                     "HTTP/1.1 503 Service Unavailable\r\n%.*sContent-Type: application/json\r\n"
                     "Content-Length: %d\r\nRetry-After: 1\r\nCache-Control: no-store\r\n"
                     "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n%s",
                     (int)c->srv->server_line_len, c->srv->server_line, blen, body);
        uv_buf_t b = uv_buf_init(msg, (unsigned)n);
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        shutdown(fd, SHUT_WR);
    }
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

void http_conn_accept(http_server_t *s)
{
    http_conn_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->srv = s;
    c->refs = 1;
    s->nlive++;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    int r = uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp);
    if (r != 0 || s->shutting_down) {
        conn_reject(c, NULL);
        return;
    }
    if (!http_limits_admit_total(s->conn_limits)) {
        conn_reject(c, "Too many connections");
        return;
    }
    if (!conn_ip_admit(s, c)) {
        http_limits_release_total(s->conn_limits);
        conn_reject(c, "Too many connections from this address");
        return;
    }
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->refs++;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    http_parser_init(&c->parser, &s->limits);
    uv_tcp_nodelay(&c->tcp, 1);
    conn_update(c);
}

void http_conn_drain(http_conn_t *c)
{
    if (c->closing) return;
    if (c->lingering) {
        conn_close(c);
        return;
    }
    if (c->dead) return; /* its last response is being written, then it lingers */
    c->draining = true;
    c->stop_parsing = true;
    if (c->cur) {
        /* A request whose body is still arriving is not in flight yet: drop it. */
        http_exchange_t *ex = c->cur, **pp = &c->qhead;
        while (*pp != ex)
            pp = &(*pp)->next;
        *pp = NULL;
        c->qtail = NULL;
        for (http_exchange_t *q = c->qhead; q; q = q->next)
            c->qtail = q;
        c->cur = NULL;
        c->nqueued--;
        http_exchange_release(ex);
    }
    c->rpos = c->rlen = 0;
    if (c->nqueued == 0) {
        conn_close(c);
        return;
    }
    conn_update(c);
}
