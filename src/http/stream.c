/*
 * http/stream - streamed responses: chunked framing, writes with
 * back-pressure, the lost-client notice (include/lakeapi/http.h).
 *
 * A stream is an exchange in state STREAMING. Its bytes collect in the
 * exchange's body buffer and leave only while it is the head of the
 * connection's queue (every earlier response has been handed to the socket),
 * so pipelined responses keep their order. A flush frames the pending bytes
 * as one chunk and tries a synchronous write; what the socket does not take is
 * copied into a segment of its own for uv_write (one allocation per congested
 * flush, freed by its callback). How much is queued is libuv's
 * write_queue_size plus the pending buffer: that is what the high- and
 * low-water marks are measured against.
 *
 * At http_stream_end() the last chunk and the terminator become the
 * exchange's ordinary body and it turns READY: from there conn.c writes and
 * releases it like any response, and the connection goes on with the next
 * pipelined request (or closes, for a close-delimited HTTP/1.0 body).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

#define STREAM_FLUSH_AT (64 * 1024) /* pending bytes written at once rather than per iteration */

typedef struct stream_seg {
    uv_write_t req;
    http_conn_t *conn; /* holds a reference until the callback */
    size_t len;
    char data[];
} stream_seg_t;

static size_t stream_queued(const http_exchange_t *ex)
{
    return ex->body_out.len + uv_stream_get_write_queue_size((const uv_stream_t *)&ex->conn->tcp);
}

void http_stream_orphan(http_exchange_t *ex)
{
    if (ex->gone_pending) return;
    http_server_t *s = ex->srv;
    ex->gone_pending = true;
    ex->next = s->gone;
    s->gone = ex;
}

void http_stream_notify_gone(http_server_t *s)
{
    while (s->gone) {
        http_exchange_t *ex = s->gone;
        s->gone = ex->next;
        ex->next = NULL;
        ex->gone_pending = false;
        if (ex->sops && ex->sops->on_gone) ex->sops->on_gone(ex, ex->sdata);
    }
}

static void stream_unlink_gone(http_exchange_t *ex)
{
    if (!ex->gone_pending) return;
    for (http_exchange_t **pp = &ex->srv->gone; *pp; pp = &(*pp)->next) {
        if (*pp == ex) {
            *pp = ex->next;
            break;
        }
    }
    ex->gone_pending = false;
    ex->next = NULL;
}

void http_stream_check_drain(http_exchange_t *ex)
{
    if (!ex->wants_drain || ex->conn->dead || stream_queued(ex) > HTTP_STREAM_LOW_WATER) return;
    ex->wants_drain = false;
    if (ex->sops && ex->sops->on_drain) ex->sops->on_drain(ex, ex->sdata);
}

static void stream_seg_cb(uv_write_t *req, int status)
{
    stream_seg_t *seg = req->data;
    http_conn_t *c = seg->conn;
    free(seg);
    if (status < 0) {
        http_conn_close_now(c);
    } else if (!c->dead) {
        http_conn_progress(c);
        if (c->qhead && c->qhead->state == HTTP_EX_STREAMING) http_stream_check_drain(c->qhead);
    }
    http_conn_unref(c);
}

/* Queues what uv_try_write left (bufs[0..nb) after skipping done bytes) as one segment. */
static void stream_queue_rest(http_conn_t *c, const uv_buf_t *bufs, unsigned nb, size_t done)
{
    size_t total = 0;
    for (unsigned i = 0; i < nb; i++)
        total += bufs[i].len;
    stream_seg_t *seg = malloc(sizeof *seg + (total - done));
    if (!seg) abort();
    seg->len = 0;
    for (unsigned i = 0; i < nb; i++) {
        size_t skip = done < bufs[i].len ? done : bufs[i].len;
        done -= skip;
        memcpy(seg->data + seg->len, bufs[i].base + skip, bufs[i].len - skip);
        seg->len += bufs[i].len - skip;
    }
    seg->conn = c;
    seg->req.data = seg;
    uv_buf_t b = uv_buf_init(seg->data, (unsigned)seg->len);
    if (uv_write(&seg->req, (uv_stream_t *)&c->tcp, &b, 1, stream_seg_cb) != 0) {
        free(seg);
        http_conn_close_now(c);
        return;
    }
    c->refs++;
}

void http_stream_flush(http_conn_t *c, http_exchange_t *ex)
{
    uv_buf_t bufs[4];
    unsigned nb = 0;
    char hex[24];
    if (!ex->head_sent) bufs[nb++] = uv_buf_init(ex->head.data, (unsigned)ex->head.len);
    size_t n = ex->body_out.len;
    if (n > 0) {
        if (ex->chunked) {
            int hl = snprintf(hex, sizeof hex, "%zx\r\n", n);
            bufs[nb++] = uv_buf_init(hex, (unsigned)hl);
        }
        bufs[nb++] = uv_buf_init(ex->body_out.data, (unsigned)n);
        if (ex->chunked) bufs[nb++] = uv_buf_init((char *)"\r\n", 2);
    }
    if (nb == 0) return;
    ex->head_sent = true;
    size_t total = 0;
    for (unsigned i = 0; i < nb; i++)
        total += bufs[i].len;
    int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, nb);
    if (w < 0 && w != UV_EAGAIN) {
        buf_reset(&ex->body_out);
        http_conn_close_now(c);
        return;
    }
    size_t done = w > 0 ? (size_t)w : 0;
    if (done < total) stream_queue_rest(c, bufs, nb, done);
    buf_reset(&ex->body_out);
    if (!c->dead && done < total) http_conn_progress(c); /* arms the send timeout */
}

void http_stream_begin(http_exchange_t *ex, int status, const char *content_type,
                       const http_stream_ops_t *ops, void *data)
{
    http_conn_t *c = ex->conn;
    ex->stream = true;
    ex->state = HTTP_EX_STREAMING;
    ex->sops = ops;
    ex->sdata = data;
    ex->status = (status >= 100 && status <= 999) ? status : 500;
    ex->chunked = ex->version_minor >= 1;
    if (!ex->chunked || !ex->keep_alive || (c->draining && ex->next == NULL))
        ex->close_after = true;
    if (c->dead) {
        http_stream_orphan(ex);
        return;
    }
    http_exchange_build_head(ex, content_type, true);
    if (!ex->send_body) buf_reset(&ex->body_out);
    ex->streamed = ex->body_out.len;
    if (ex == c->qhead) http_conn_mark_dirty(c);
}

bool http_stream_congested(const http_exchange_t *ex)
{
    return ex->conn->dead || stream_queued(ex) >= HTTP_STREAM_HIGH_WATER;
}

buf_t *http_stream_buf(http_exchange_t *ex)
{
    ex->committed = ex->body_out.len;
    return &ex->body_out;
}

bool http_stream_commit(http_exchange_t *ex)
{
    http_conn_t *c = ex->conn;
    size_t n = ex->body_out.len - ex->committed;
    if (c->dead || !ex->send_body) {
        ex->body_out.len = ex->committed; /* dropped */
        if (ex->body_out.data) ex->body_out.data[ex->body_out.len] = '\0';
        if (c->dead) return false;
        n = 0;
    }
    if (n > 0) {
        ex->streamed += n;
        if (ex == c->qhead) {
            if (ex->body_out.len >= STREAM_FLUSH_AT)
                http_stream_flush(c, ex);
            else
                http_conn_mark_dirty(c);
        }
    }
    if (!http_stream_congested(ex)) return true;
    ex->wants_drain = true;
    return false;
}

bool http_stream_write(http_exchange_t *ex, const void *data, size_t n)
{
    buf_append(http_stream_buf(ex), data, n);
    return http_stream_commit(ex);
}

/* The last chunk (if any) and the terminator, as the exchange's ordinary body. */
static void stream_final_body(http_exchange_t *ex)
{
    if (!ex->send_body) {
        buf_reset(&ex->body_out);
        return;
    }
    if (!ex->chunked) return; /* close-delimited: the pending bytes are the rest */
    buf_t fin;
    buf_init(&fin);
    if (ex->body_out.len > 0) {
        buf_printf(&fin, "%zx\r\n", ex->body_out.len);
        buf_append(&fin, ex->body_out.data, ex->body_out.len);
        buf_append(&fin, "\r\n", 2);
    }
    if (!ex->aborted) buf_append(&fin, "0\r\n\r\n", 5);
    buf_dispose(&ex->body_out);
    ex->body_out = fin;
}

void http_stream_end(http_exchange_t *ex)
{
    http_conn_t *c = ex->conn;
    ex->srv->in_flight--;
    if (!c->dead && ex == c->qhead) http_stream_flush(c, ex); /* the pending chunk leaves now */
    if (c->dead) { /* gone before, or that write failed */
        stream_unlink_gone(ex);
        ex->send_body = false;
        http_exchange_report(ex);
        http_exchange_release(ex);
        return;
    }
    stream_final_body(ex);
    if (ex->head_sent) buf_reset(&ex->head);
    ex->send_body = ex->body_out.len > 0;
    ex->wants_drain = false;
    ex->state = HTTP_EX_READY;
    if (ex == c->qhead) http_conn_mark_dirty(c);
    http_exchange_report(ex);
}

void http_stream_abort(http_exchange_t *ex)
{
    ex->aborted = true;
    ex->close_after = true;
    http_stream_end(ex);
}
