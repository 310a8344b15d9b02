/*
 * pool_internal.h - the structures shared by the pool (pool.c) and its
 * connections (conn.c). Not part of the public db.h interface.
 *
 * pool.c and conn.c are one module split in two files (db/): the pool
 * dispatches queries to connections and a connection hands results and
 * failures back to the pool, so each calls the other through this header.
 * Layer db: may include workspace, json, config, log, util; never web or http.
 */
#ifndef LAKEAPI_DB_POOL_INTERNAL_H
#define LAKEAPI_DB_POOL_INTERNAL_H

#include "lakeapi/db.h"

typedef struct db_query db_query_t;
typedef struct db_conn db_conn_t;

/* Expected results of a stream's commands, in send order (stream.c). */
typedef enum {
    ST_BEGIN,
    ST_SESSION,
    ST_PREPARE,
    ST_DESCRIBE,
    ST_DECLARE,
    ST_FETCH,
    ST_SYNC,
    ST_END
} db_stream_step_t;
#define DB_STREAM_STEPS 12
#define DB_STREAM_AHEAD 2 /* FETCHes in flight: the server never waits for our round trip */

/* A streamed read (db.h): waits in the pool's checkout queue, then leases a connection. */
struct db_stream {
    db_pool_t *pool;
    db_stream_t *next; /* checkout queue */
    db_conn_t *conn;   /* the leased connection, NULL while waiting or after it was lost */
    const db_stream_ops_t *ops;
    void *data;
    char *sql; /* the SELECT */
    char fetch[64];
    int nparams;
    char **values;
    char *session[5]; /* the request's role and settings (db_session_t), or NULL */
    int batch_rows;
    uint64_t enqueued_ns;
    double wait_ms;
    db_stream_step_t steps[DB_STREAM_STEPS]; /* ring of expected results */
    int step_head, nsteps;
    PGresult *cur;                   /* result being collected for the head step */
    PGresult *held[DB_STREAM_AHEAD]; /* batches that arrived while paused, in order */
    int nheld;
    int nfetch; /* FETCHes in flight */
    bool last;  /* the last batch has arrived */
    bool paused, cancelled, ending, failed;
    bool delivered;      /* on_rows has been called (the first batch goes out even when empty) */
    bool cancel_running; /* PQcancel in a worker thread */
    int cancel_tries;
    bool freed_pending; /* freed once the worker returns */
    int depth;          /* inside stream_read/resume: freeing waits until they return */
    bool zombie;        /* finished while depth > 0 */
    char sqlstate[6];
    char message[256];
    uv_work_t cancel_work;
    PGcancel *cancel;
};

/* A queued or in-flight query. Recycled through the pool's freelist. */
struct db_query {
    db_query_t *next;
    int stmt;     /* statement id, or -1 for internal steps (below) */
    int prepares; /* internal step preparing this statement id, or -1 (setup) */
    int nparams;
    const char *const *values; /* borrowed from the caller until the callback */
    db_result_fn cb;
    void *data;
    uint64_t enqueued_ns; /* first time queued, for wait_ms and the acquire timeout */
    uint64_t sent_ns;     /* when it was written to its connection */
    double wait_ms;
    int retries;                 /* re-runs after a batch failed elsewhere or a lost connection */
    bool sync_after;             /* the batch's Sync follows this query */
    bool unknown;                /* a failed write of unknown outcome (outcome_unknown) */
    PGresult *res;               /* its result while held */
    const db_session_t *session; /* run under this role/settings (session.c), or NULL */
    bool session_step;           /* internal step: a session's settings or pre-request */
};

typedef enum {
    CONN_CREDENTIALS, /* waiting for the credential provider */
    CONN_CONNECTING,  /* PQconnectPoll in progress */
    CONN_SETUP,       /* preparing statements */
    CONN_READY,
    CONN_CLOSED, /* handles closing; freed by the close callback */
} db_conn_state_t;

struct db_conn {
    db_pool_t *pool;
    db_conn_t *next;
    PGconn *pg;
    uv_poll_t *poll; /* NULL until connecting; replaced if libpq changes sockets */
    int poll_fd;
    int poll_events;
    uv_timer_t timer; /* connect timeout */
    db_conn_state_t state;
    db_query_t *head, *tail; /* in flight, in send order */
    int inflight;
    bool expect_sync;                  /* the head query's batch Sync result is next */
    bool batch_failed;                 /* a statement of the current batch failed */
    db_query_t *held_head, *held_tail; /* completed writes awaiting their batch's Sync */
    bool password_retry_done;          /* re-minted once after 28P01 */
    bool cred_pending;                 /* the credential provider has not answered yet */
    uint32_t *prepared; /* per statement id: its gen + 1 when prepared on this connection */
    int nprepared;      /* entries of prepared (slots added later read as 0) */
    bool retiring;      /* takes no new queries; closes when drained */
    db_stream_t *lease; /* checked out by this stream: the pool keeps off */
    uint64_t born_ns;
    uint64_t last_used_ns;
    uint64_t last_answer_ns; /* a result arrived (or a batch went out to an idle connection) */
    double token_expires_at;
    int pending_closes;
};

struct db_pool {
    uv_loop_t *loop;
    db_pool_config_t cfg;
    struct {
        char *sql;
        char name[32];
        int nparams;
        db_stmt_kind_t kind;
        /* statement cache (stmt_cache.c): slots added after start, keyed by SQL text */
        bool dynamic;
        uint32_t gen;       /* bumped when an evicted slot takes new SQL (names differ) */
        int refs;           /* queries queued or in flight that use the slot */
        uint64_t hash;      /* of sql */
        uint64_t last_used; /* LRU clock */
    } * stmts;
    int nstmts;
    int ndynamic; /* slots of the statement cache */
    uint64_t lru_clock;
    db_query_t *q_head, *q_tail; /* waiting for a connection */
    int waiting;
    db_query_t *free_queries;
    db_stream_t *co_head, *co_tail; /* streams waiting for a connection of their own */
    int nleased;
    db_conn_t *conns;
    int nconns, nconnecting;
    uv_prepare_t dispatcher; /* writes queued queries once per loop iteration */
    uv_timer_t ticker;       /* acquire timeouts, recycling, reconnect backoff */
    bool started, closing;
    bool healthy;
    db_status_t down_status; /* why the last connect failed: what fast failures report */
    uint64_t down_until_ns;  /* fail fast until then (reconnect backoff) */
    uint64_t backoff_ms;
    int handles_open;
    void (*close_done)(void *data);
    void *close_data;
    db_pool_stats_t stats;
    int session_stmt, pre_request_stmt; /* session.c's statements, or -1 */
    db_route_t *route; /* the read/write split in front of this pool (route.c), or NULL */
};

/* pool.c, for conn.c */
void db_pool_complete(db_pool_t *p, db_query_t *q, db_status_t st, const PGresult *res,
                      const char *sqlstate, const char *message);
/* Puts a NULL-terminated list back at the head of the queue, keeping its order
 * (or fails it, once the pool is closing). */
void db_pool_requeue_list(db_pool_t *p, db_query_t *head);
void db_pool_conn_ready(db_pool_t *p, db_conn_t *c);
void db_pool_conn_failed(db_pool_t *p, db_conn_t *c, db_status_t st, const char *why);
void db_pool_conn_gone(db_pool_t *p, db_conn_t *c);
/* The connection has nothing in flight any more: queued queries may go to it. */
void db_pool_conn_idle(db_pool_t *p, db_conn_t *c);
void db_pool_query_free(db_pool_t *p, db_query_t *q);
db_query_t *db_pool_query_alloc(db_pool_t *p); /* zeroed, from the freelist */
uint64_t db_pool_now_ns(void);
void db_pool_wake(db_pool_t *p);
/* Streams waiting for a connection of their own (pool.c's checkout queue). */
void db_pool_enqueue_checkout(db_pool_t *p, db_stream_t *s);
void db_pool_forget_checkout(db_pool_t *p, db_stream_t *s);
/* A leased connection comes back (clean: its transaction is over). */
void db_pool_checkin(db_pool_t *p, db_conn_t *c);

/* stmt_cache.c */
void db_stmt_release(db_pool_t *p, int stmt);

/* Queues a query on this very pool (db_pool_query_as without the route). */
void db_pool_enqueue(db_pool_t *p, const db_session_t *s, int stmt, int nparams,
                     const char *const *values, db_result_fn cb, void *data);

/* route.c */
void db_route_query(db_route_t *r, const db_session_t *s, int stmt, int nparams,
                    const char *const *values, db_result_fn cb, void *data);
/* The pool a stream opened on p should use (a replica for a GET, see route.c). */
db_pool_t *db_route_stream_pool(db_route_t *r);

/* conn.c */
db_conn_t *db_conn_open(db_pool_t *p);
/* Sends a NULL-terminated list of queries (already unlinked from the pool queue) as one batch. */
void db_conn_send_batch(db_conn_t *c, db_query_t *first);
/*
 * Fails or requeues everything in flight and starts closing. Reads are
 * re-queued in their order (they are safe to run again) unless st is
 * DB_ERR_TIMEOUT (the server stopped answering: running them again would only
 * wait again); writes fail with outcome_unknown.
 */
void db_conn_close(db_conn_t *c, db_status_t st, const char *why);
/* True when the connection has had queries out and no answer for longer than limit_ns. */
bool db_conn_unresponsive(const db_conn_t *c, uint64_t now, uint64_t limit_ns);
/* Flushes libpq's output and watches the socket accordingly; -1 on failure. */
int db_conn_flush(db_conn_t *c);

/* stream.c, for the pool and the connection */
/* The stream got its connection: send the first batch. */
void db_stream_attach(db_stream_t *s, db_conn_t *c);
/* The stream could not get a connection (timeout, pool closing). */
void db_stream_fail_waiting(db_stream_t *s, db_status_t st, const char *why);
/* Socket events of a leased connection. */
void db_stream_on_poll(db_stream_t *s, int events);
/* The leased connection is closing under the stream. */
void db_stream_conn_lost(db_stream_t *s, const char *why);

#endif
