/*
 * http/internal - the structures shared by server.c, conn.c and exchange.c.
 *
 * Ownership and lifetimes (the part that must never be wrong):
 * - A connection is freed when its reference count drops to zero. References:
 *   one per open libuv handle (tcp, timer: dropped in their close callbacks),
 *   one per exchange attached to it (dropped when the exchange is released),
 *   one per pending 100-continue write or shutdown request, one while it sits
 *   on the server's dirty list. So an exchange whose handler is still working
 *   can always reach its (possibly dead) connection.
 * - An exchange is released (back to the server's freelist) exactly once: when
 *   its response has been written (write callback, success or not), or when
 *   the connection dies before it was dispatched or before it was written, or
 *   at http_exchange_send() time if the connection is already dead.
 * - Exchanges of a live connection are on exactly one list: the queue
 *   (parsed, in request order, not yet handed to uv_write) or the writing list
 *   (handed to uv_write, released in order by the write callbacks). When the
 *   connection dies, queued exchanges still in a handler become orphans (on no
 *   list) until the handler sends.
 *
 * server.c, conn.c and exchange.c are one module (http/) split in three
 * files; they call each other through this header.
 * Layer http: bytes to requests. May include json, config, log, util; never
 * db (the HTTP layer never builds SQL) and nothing above it.
 */
#ifndef LAKEAPI_HTTP_INTERNAL_H
#define LAKEAPI_HTTP_INTERNAL_H

#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "http/parser.h"
#include "lakeapi/http_server.h"

typedef struct http_conn http_conn_t;

/* Open connections from one client address (for max_connections_per_ip). */
#define HTTP_IP_BUCKETS 1024
typedef struct http_ip_count {
    struct http_ip_count *next;
    unsigned char addr[16]; /* IPv4 as ::ffff:a.b.c.d */
    unsigned n;
} http_ip_count_t;

/* limits.c: the process-wide counts behind max_connections and max_connections_per_ip. */
bool http_limits_admit_total(http_conn_limits_t *l); /* false: at max_connections */
void http_limits_release_total(http_conn_limits_t *l);
bool http_limits_per_ip(const http_conn_limits_t *l); /* a per-address cap is set */
/* Counts one more connection from addr: its entry, or NULL when addr is at its cap. */
http_ip_count_t *http_limits_admit_ip(http_conn_limits_t *l, const unsigned char addr[16]);
void http_limits_release_ip(http_conn_limits_t *l, http_ip_count_t *e);

typedef enum {
    HTTP_EX_RECV_BODY, /* head parsed, body still arriving */
    HTTP_EX_HANDLING,  /* dispatched: a handler owns it until http_exchange_send() */
    HTTP_EX_STREAMING, /* http_stream_begin() called: a handler owns it until http_stream_end() */
    HTTP_EX_READY,     /* response built, waiting for the responses before it */
    HTTP_EX_WRITING,   /* handed to uv_write */
} http_ex_state_t;

struct http_exchange {
    http_server_t *srv;
    http_conn_t *conn;
    http_exchange_t *next; /* queue, writing list or freelist */
    arena_t *arena;
    http_ex_state_t state;

    /* request (strings in the arena) */
    http_method_t method;
    const char *method_name;
    int version_minor;
    const char *path; /* decoded */
    const char *raw_path;
    const char *raw_query;
    size_t raw_query_len;
    http_header_t *headers;
    size_t nheaders;
    char *body;
    size_t body_len, body_got;
    router_match_t match;
    const char *request_id;
    void *user;
    void *identity; /* http_exchange_identity_slot() */
    char peer[48];  /* http_exchange_peer(), filled on first use */
    bool authenticated;
    bool keep_alive;
    bool expect_continue, continue_sent;
    bool close_after; /* the connection closes once this response is written */
    uint64_t start_ns;
    double pool_wait_ms;

    /* response */
    int status;
    bool send_body;
    buf_t head; /* status line and header fields */
    buf_t body_out;
    buf_t extra;     /* header fields added by the handler, already formatted */
    uv_write_t wreq; /* used when this exchange leads a write batch */
    unsigned wcount; /* exchanges in the batch this one leads */

    /* streamed response (stream.c) */
    bool stream;       /* http_stream_begin() was called */
    bool chunked;      /* framed as chunks (HTTP/1.1); else the body ends with the connection */
    bool head_sent;    /* the head has been handed to the socket */
    bool wants_drain;  /* the producer was told to pause: call on_drain when drained */
    bool gone_pending; /* on the server's list of streams to tell about a lost client */
    bool aborted;      /* http_stream_abort(): no terminating chunk, close after */
    size_t streamed;   /* body bytes the handler wrote */
    size_t committed;  /* body_out's length before the handler appended (http_stream_buf) */
    const http_stream_ops_t *sops;
    void *sdata;
};

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    http_server_t *srv;
    http_conn_t *prev, *next; /* server's list of open connections */
    http_conn_t *dirty_next;  /* server's list of connections to flush */
    unsigned refs;
    http_ip_count_t *ip; /* counted against its address, or NULL */

    /* read side */
    char *rbuf;
    size_t rpos, rlen, rcap; /* unconsumed bytes are rbuf[rpos, rlen) */
    http_parser_t parser;
    bool head_started;
    bool had_request;     /* a head was completed on this connection */
    uint64_t head_start;  /* loop ms: first byte of the pending head */
    uint64_t body_start;  /* loop ms: head of cur complete */
    http_exchange_t *cur; /* receiving its body (also the queue's tail) */

    /* exchanges in request order */
    http_exchange_t *qhead, *qtail; /* not yet handed to uv_write */
    http_exchange_t *whead, *wtail; /* handed to uv_write */
    unsigned nqueued;               /* on both lists */

    uv_write_t creq; /* "100 Continue" */
    uv_shutdown_t sreq;
    int tmode;          /* what the timer is for (conn.c's TM_*) */
    uint64_t tdeadline; /* loop ms when that mode expires */
    bool armed;         /* the timer is running ... */
    uint64_t armed_at;  /* ... and fires at this loop ms */
    bool creq_busy;     /* the 100-continue write is in flight */

    bool reading;
    bool dirty;
    bool stop_parsing;       /* no request after the current ones will be read */
    bool close_when_written; /* a close_after response was handed to uv_write */
    bool draining;           /* server shutdown */
    bool dead;               /* nothing more will be written; handlers see client_gone */
    bool lingering;          /* FIN sent, discarding input until EOF or timeout */
    bool closing;            /* uv_close called */
};

struct http_server {
    uv_loop_t *loop;
    http_server_config_t cfg;
    char *host;
    const router_t *router;
    http_parser_limits_t limits;
    http_header_t *scratch; /* parser output, max_headers entries, used synchronously */

    uv_tcp_t listener;
    uv_prepare_t prepare; /* flush before the loop blocks */
    uv_check_t check;     /* flush what the poll phase produced */
    bool listening;
    unsigned handles; /* server handles open (listener, prepare, check) */

    http_conn_t *conns; /* open connections */
    unsigned nconns;    /* open (counted against max_connections) */
    unsigned nlive;     /* allocated, including those closing */
    http_conn_t *dirty;
    http_exchange_t *gone; /* streams whose client went away, to tell from the loop */
    unsigned in_flight;

    http_exchange_t *free_ex;
    unsigned nfree_ex;

    http_observer_fn observer;
    void *observer_data;
    http_pre_route_fn pre_route;
    void *pre_route_data;

    bool hooks; /* prepare and check initialised */
    bool shutting_down, closing_hooks;
    void (*done)(void *data);
    void *done_data;

    uint64_t rng;
    time_t date_sec;
    char date_line[48]; /* "Date: ...\r\n" */
    size_t date_len;
    time_t iso_sec;
    char iso_prefix[24]; /* "YYYY-MM-DDTHH:MM:SS" of iso_sec */
    size_t iso_prefix_len;
    buf_t logbuf;         /* access-log lines not yet written */
    char server_line[80]; /* "Server: lakeapi
" */
    size_t server_line_len;
    http_conn_limits_t *conn_limits; /* a reference: shared with the other loops' servers */
};

/* server.c */
const char *http_server_date_line(http_server_t *s, size_t *len);
void http_server_gen_id(http_server_t *s, char out[17]);
/* "2026-11-22T00:00:00.123Z" into out; returns its length. */
size_t http_server_iso_now(http_server_t *s, char out[32]);
/* Writes the batched access-log lines. */
void http_server_flush_log(http_server_t *s);
void http_server_maybe_done(http_server_t *s);

/* conn.c */
void http_conn_accept(http_server_t *s);
void http_conn_drain(http_conn_t *c);
void http_conn_flush_dirty(http_server_t *s);
void http_conn_mark_dirty(http_conn_t *c);
void http_conn_unref(http_conn_t *c);
/* Routes ex and runs its handler (or answers 404/405); after the pre-route hook. */
void http_conn_route(http_exchange_t *ex);

/* Closes the connection now (a write failed). */
void http_conn_close_now(http_conn_t *c);
/* A streamed write completed: the send timeout starts again. */
void http_conn_progress(http_conn_t *c);

/* exchange.c */
http_exchange_t *http_exchange_acquire(http_server_t *s, http_conn_t *c);
void http_exchange_release(http_exchange_t *ex);
void http_exchange_free(http_exchange_t *ex);
/* Copies the parsed head (slices of src) into the exchange's arena. */
void http_exchange_adopt_head(http_exchange_t *ex, const http_request_head_t *h, const char *src);
/* A minimal request for errors found before a head could be parsed. */
void http_exchange_init_bare(http_exchange_t *ex);
/* Answers {"detail": detail} with status. */
void http_exchange_send_error(http_exchange_t *ex, int status, const char *detail);
/* Fills ex->head for status and content type; stream: chunked or close-delimited body. */
void http_exchange_build_head(http_exchange_t *ex, const char *content_type, bool stream);
/* The access log line and the observer, once per finished exchange. */
void http_exchange_report(http_exchange_t *ex);

/* stream.c */
/* Writes the head (once) and the pending bytes of a stream at the head of the queue. */
void http_stream_flush(http_conn_t *c, http_exchange_t *ex);
/* Calls on_drain when a paused producer's bytes are back under the low-water mark. */
void http_stream_check_drain(http_exchange_t *ex);
/* The connection died under a stream: queue its on_gone. */
void http_stream_orphan(http_exchange_t *ex);
/* Calls on_gone for every stream whose client went away (from the flush hooks). */
void http_stream_notify_gone(http_server_t *s);

#endif
