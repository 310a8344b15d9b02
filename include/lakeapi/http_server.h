/*
 * http_server - listening socket, connections and their lifecycle on one loop.
 *
 * One server per libuv loop. It accepts, parses (HTTP/1.1 with keep-alive and
 * pipelining; responses leave in request order), enforces the limits below,
 * routes to handlers, writes one access-log line per request and tells the
 * observer about every finished exchange (metrics).
 */
#ifndef LAKEAPI_HTTP_SERVER_H
#define LAKEAPI_HTTP_SERVER_H

#include <uv.h>

#include "lakeapi/http.h"
#include "lakeapi/router.h"

/*
 * The connection limits of a whole process (every loop's server counts
 * against the same totals). Reference counted: new returns one reference,
 * each server given it takes its own; the last release frees it.
 */
typedef struct http_conn_limits http_conn_limits_t;
http_conn_limits_t *http_conn_limits_new(unsigned max_connections, unsigned max_per_ip);
http_conn_limits_t *http_conn_limits_share(http_conn_limits_t *l);
void http_conn_limits_release(http_conn_limits_t *l);
unsigned http_conn_limits_open(const http_conn_limits_t *l); /* connections counted now */

typedef struct http_server_config {
    const char *host;                /* "127.0.0.1", "0.0.0.0", "::" */
    int port;                        /* 0 picks a free port (see http_server_port) */
    size_t max_request_line;         /* 8 KiB: longer -> 414 */
    size_t max_header_bytes;         /* 16 KiB for all headers: more -> 431 */
    size_t max_headers;              /* 100 header fields: more -> 431 */
    size_t max_body_bytes;           /* 1 MiB: more -> 413 */
    unsigned header_timeout_ms;      /* 10 s to receive a complete head: else 408 */
    unsigned body_timeout_ms;        /* 30 s to receive the body: else 408 */
    unsigned keepalive_timeout_ms;   /* 60 s idle keep-alive connection is closed */
    unsigned max_connections;        /* beyond this, a new connection gets 503 and is closed */
    unsigned max_connections_per_ip; /* 0: no cap; beyond it, 503 and closed */
    bool require_host;               /* HTTP/1.1 requests without Host get 400 (default true) */
    const char *server_header;       /* the Server header's value ("lakeapi") */
    unsigned max_pipelined;          /* requests parsed ahead of their responses, per connection */
    bool reuse_port;                 /* SO_REUSEPORT, for one loop per core */
    bool access_log;                 /* one JSON line per request */
    /* Shared limits (borrowed; the server takes a reference): the two max_connections
       fields above are then ignored. NULL: the server counts its own. */
    http_conn_limits_t *limits;
} http_server_config_t;

/* Fills cfg with the defaults noted above. */
void http_server_config_defaults(http_server_config_t *cfg);

/* Called for every finished exchange, after the response was queued for writing. */
typedef struct http_exchange_info {
    const char *method;
    const char *route; /* route template, or "" for unmatched */
    const char *path;
    int status;
    size_t bytes; /* body bytes sent */
    double duration_ms;
    double pool_wait_ms;
    const char *request_id;
} http_exchange_info_t;
typedef void (*http_observer_fn)(const http_exchange_info_t *info, void *data);

/*
 * Called before routing for every request; a hook may answer it itself (for
 * CORS preflight, say) by sending and returning true.
 */
typedef bool (*http_pre_route_fn)(http_exchange_t *ex, void *data);

http_server_t *http_server_new(uv_loop_t *loop, const http_server_config_t *cfg,
                               const router_t *router);
void http_server_free(http_server_t *s); /* after the close callback of shutdown has run */
void http_server_set_observer(http_server_t *s, http_observer_fn fn, void *data);
void http_server_set_pre_route(http_server_t *s, http_pre_route_fn fn, void *data);
int http_server_listen(http_server_t *s, char *err, size_t errlen);
int http_server_port(const http_server_t *s);
/* Number of connections and of requests awaiting their response. */
unsigned http_server_connections(const http_server_t *s);
unsigned http_server_in_flight(const http_server_t *s);
/*
 * Stops accepting, closes idle connections, lets in-flight requests finish
 * (their connections close after the response), then calls done. Idempotent.
 */
void http_server_shutdown(http_server_t *s, void (*done)(void *data), void *data);

#endif
