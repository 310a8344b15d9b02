/*
 * http - the boundary between the HTTP layer and the handlers above it.
 *
 * The HTTP layer (src/http/) owns sockets, parsing, keep-alive, pipelining,
 * limits and writing. A handler sees one http_exchange_t: a parsed request and
 * the means to answer it. It never touches a socket. A handler may answer
 * later (after a database round trip): the exchange stays valid until
 * http_exchange_send() is called exactly once, even if the client has gone
 * (the answer is then dropped). Everything returned by the accessors lives in
 * the exchange's arena and is valid until the response is sent.
 */
#ifndef LAKEAPI_HTTP_H
#define LAKEAPI_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lakeapi/arena.h"
#include "lakeapi/buf.h"

typedef enum {
    HTTP_GET = 1 << 0,
    HTTP_HEAD = 1 << 1,
    HTTP_POST = 1 << 2,
    HTTP_PUT = 1 << 3,
    HTTP_DELETE = 1 << 4,
    HTTP_PATCH = 1 << 5,
    HTTP_OPTIONS = 1 << 6,
} http_method_t;

typedef struct http_exchange http_exchange_t;
typedef struct http_server http_server_t;
struct route;

typedef void (*http_handler_fn)(http_exchange_t *ex, void *data);

/* ---- request side ---- */
http_method_t http_exchange_method(const http_exchange_t *ex);
const char *http_exchange_method_name(const http_exchange_t *ex);
/* Percent-decoded path, without the query string. */
const char *http_exchange_path(const http_exchange_t *ex);
/* Raw (still percent-encoded) path, as router_match() expects it. */
const char *http_exchange_raw_path(const http_exchange_t *ex);
/* Raw (still encoded) query string without '?', "" when none. */
const char *http_exchange_raw_query(const http_exchange_t *ex);
/* i-th path parameter captured by the route pattern (decoded), NULL if out of range. */
const char *http_exchange_param(const http_exchange_t *ex, int i);
/*
 * Decoded value of the first query parameter called name (NULL if absent).
 * '+' decodes to a blank as in HTML forms. len may be NULL.
 */
const char *http_exchange_query(const http_exchange_t *ex, const char *name, size_t *len);
/* Case-insensitive header lookup; NULL if absent. */
const char *http_exchange_header(const http_exchange_t *ex, const char *name, size_t *len);
const char *http_exchange_body(const http_exchange_t *ex, size_t *len);
arena_t *http_exchange_arena(http_exchange_t *ex);
/* The matched route, or NULL (404/405). Its template names the route in logs/metrics. */
const struct route *http_exchange_route(const http_exchange_t *ex);
/* The request id (from X-Request-Id or generated); echoed in the response. */
const char *http_exchange_request_id(const http_exchange_t *ex);
/* A key naming the client connection while it is open (its address and peer). */
uintptr_t http_exchange_connection_key(const http_exchange_t *ex);
/* Per-exchange slot handlers may use for their own state (e.g. db wait time). */
void **http_exchange_user_slot(http_exchange_t *ex);
/* The slot the access-control hook (src/auth) keeps the request's identity in. */
void **http_exchange_identity_slot(http_exchange_t *ex);
/*
 * Whether the request carries a verified identity (set by the access-control
 * hook): a refusal by the database is then 403, else 401 + WWW-Authenticate.
 */
void http_exchange_set_authenticated(http_exchange_t *ex, bool yes);
bool http_exchange_authenticated(const http_exchange_t *ex);
/* Number of request header fields, and the i-th (name/value not NUL-terminated). */
size_t http_exchange_header_count(const http_exchange_t *ex);
void http_exchange_header_at(const http_exchange_t *ex, size_t i, const char **name,
                             size_t *name_len, const char **value, size_t *value_len);
/* The client's address as text ("127.0.0.1", "::1"); "" when unknown. */
const char *http_exchange_peer(http_exchange_t *ex);
/*
 * Routes and handles an exchange a pre-route hook took over (returned true
 * for without sending), once the hook's asynchronous work is done.
 */
void http_exchange_route_now(http_exchange_t *ex);

/* ---- response side ---- */
/* The body buffer to fill before sending (owned by the exchange). */
buf_t *http_exchange_body_buf(http_exchange_t *ex);
/* Adds a response header; name and value are copied. */
void http_exchange_add_header(http_exchange_t *ex, const char *name, const char *value);
/*
 * Sends status + headers + the body buffer. content_type may be NULL for no
 * body type. Call exactly once; ex must not be used afterwards.
 */
void http_exchange_send(http_exchange_t *ex, int status, const char *content_type);
/* Records milliseconds spent waiting for a pooled connection (access log). */
void http_exchange_note_pool_wait(http_exchange_t *ex, double ms);
/* true when the client has disconnected: handlers may skip work. */
bool http_exchange_client_gone(const http_exchange_t *ex);

/* ---- streamed responses (chunked transfer encoding) ----
 *
 * Instead of http_exchange_send(), a handler may stream: http_stream_begin()
 * fixes status and headers (Transfer-Encoding: chunked; an HTTP/1.0 client gets
 * the body until the connection closes), http_stream_write() appends body
 * bytes, http_stream_end() finishes (exactly once; ex must not be used after).
 * Bytes are framed and written once per loop iteration (or at once when a
 * chunk is big), in request order with the other pipelined responses.
 *
 * Back-pressure: http_stream_write() returns false once the bytes not yet
 * taken by the socket pass the high-water mark (HTTP_STREAM_HIGH_WATER); the
 * producer should then pause until on_drain, which is called once the queue is
 * back under HTTP_STREAM_LOW_WATER. Memory stays bounded by what the producer
 * writes past the mark. A client that stops reading for body_timeout_ms is
 * disconnected.
 *
 * on_gone: the client disconnected (or the connection failed): stop producing
 * and call http_stream_end() (writes are dropped meanwhile). It is called from
 * the loop, never from inside http_stream_write()/http_stream_end().
 * For HEAD the head is sent and every body byte is dropped.
 */
#define HTTP_STREAM_HIGH_WATER (256 * 1024)
#define HTTP_STREAM_LOW_WATER  (64 * 1024)

typedef struct http_stream_ops {
    void (*on_drain)(http_exchange_t *ex, void *data);
    void (*on_gone)(http_exchange_t *ex, void *data);
} http_stream_ops_t;

/* ops may be NULL (a producer that never pauses); ops and data must outlive the stream. */
void http_stream_begin(http_exchange_t *ex, int status, const char *content_type,
                       const http_stream_ops_t *ops, void *data);
/* false: above the high-water mark (or the client is gone): pause until on_drain. */
bool http_stream_write(http_exchange_t *ex, const void *data, size_t n);
/*
 * Zero-copy variant of http_stream_write: append to the returned buffer
 * directly, then call http_stream_commit() (same result as write). Bytes
 * appended for a HEAD request or a gone client are dropped at commit.
 */
buf_t *http_stream_buf(http_exchange_t *ex);
bool http_stream_commit(http_exchange_t *ex);
/* true while the bytes not yet taken by the socket are above the high-water mark. */
bool http_stream_congested(const http_exchange_t *ex);
void http_stream_end(http_exchange_t *ex);
/*
 * Ends a stream that failed half-way: the bytes written so far leave, then the
 * connection closes without the terminating chunk, so the client sees an
 * incomplete body rather than a short one that looks whole.
 */
void http_stream_abort(http_exchange_t *ex);

const char *http_status_reason(int status);

#endif
