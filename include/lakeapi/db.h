/*
 * db - the asynchronous PostgreSQL pool.
 *
 * Queries are named by a statement id registered before the pool starts; every
 * connection prepares every statement once, right after it logs in. Queries
 * are queued and, once per loop iteration, written to connections in pipeline
 * mode: many requests' queries share one write, one Sync and one round trip.
 * The pool never blocks the loop: libpq runs non-blocking and its socket is
 * watched by a uv_poll handle.
 *
 * A query's callback is called exactly once, never from inside db_pool_query()
 * itself. Parameter strings are not copied: they must stay valid until the
 * callback (the request arena is the natural home).
 *
 * Pipelining and transactions: statements between two Syncs run in one
 * implicit transaction, so an error in one would roll back writes made by the
 * others. The pool therefore holds the results of writes until their Sync and
 * re-runs writes (and aborted reads) whose batch failed because of another
 * statement; a write is only acknowledged once it has committed.
 */
#ifndef LAKEAPI_DB_H
#define LAKEAPI_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct db_pool db_pool_t;

typedef enum {
    DB_OK = 0,
    DB_ERR_UNAVAILABLE,  /* cannot connect, or the connection was lost: 503 + Retry-After */
    DB_ERR_POOL_TIMEOUT, /* no connection within DB_POOL_TIMEOUT: 503 + Retry-After */
    DB_ERR_TIMEOUT,      /* statement_timeout (57014): 504 */
    DB_ERR_CONFLICT,     /* unique violation (23505): 409 */
    DB_ERR_BAD_INPUT,    /* data exception (class 22) or check violation (23514): 422 */
    DB_ERR_CREDENTIALS,  /* the credential provider failed: 503 */
    DB_ERR_INTERNAL,     /* anything else: 500 */
    DB_ERR_FORBIDDEN,    /* insufficient privilege (42501): 403, or 401 when anonymous */
} db_status_t;

typedef struct db_result {
    db_status_t status;
    const PGresult *res;  /* DB_OK: the rows (text format); on a server error its error
                             result, or NULL; valid during the callback only */
    const char *sqlstate; /* server error code, or NULL */
    const char *message;  /* detail for the log, never for clients; NULL on success */
    double wait_ms;       /* time the query waited for a connection */
    /*
     * A failed write: true when it had been sent and the connection was lost
     * (or the server stopped answering) before its commit was confirmed, so it
     * may or may not have been applied. false: it certainly was not.
     */
    bool outcome_unknown;
    uint64_t lsn;         /* a write under a read/write split: the primary's WAL position after its
                             commit, for X-Lakeapi-Min-LSN (0: none; see route.c) */
} db_result_t;

typedef void (*db_result_fn)(const db_result_t *r, void *data);

/* ---- credentials: where a new connection's password comes from ---- */

typedef struct db_credentials db_credentials_t;
/*
 * error != NULL means failure (the text names what failed, never a secret).
 * Otherwise password may still be NULL: connect without one (libpq's own
 * PGPASSWORD/.pgpass apply). expires_at: unix s, 0 = never.
 */
typedef void (*db_credentials_cb)(const char *password, double expires_at, const char *error,
                                  void *data);
struct db_credentials {
    /* force_fresh: the cached password was rejected (28P01); mint a new one. */
    void (*get)(db_credentials_t *self, bool force_fresh, db_credentials_cb cb, void *cb_data);
    void (*free)(db_credentials_t *self);
    const char *kind; /* "static", "lakebase-autoscaling", ... */
};

/* ---- the pool ---- */

/* Builds libpq keywords/values for one connection, given the password (may be NULL). */
typedef void (*db_conninfo_fn)(void *data, const char *password, const char ***keywords,
                               const char ***values);
typedef void (*db_conninfo_free_fn)(const char **keywords, const char **values);

typedef struct db_pool_config {
    int size;                 /* connections kept open (DB_POOL_SIZE) */
    int max_overflow;         /* extra connections opened under load (DB_MAX_OVERFLOW) */
    double acquire_timeout_s; /* max queue wait (DB_POOL_TIMEOUT) */
    double command_timeout_s; /* statement_timeout (DB_COMMAND_TIMEOUT) */
    double lifetime_s;        /* recycle connections older than this; 0 = never */
    int pipeline_depth;       /* max queries in flight per connection */
    db_conninfo_fn conninfo;
    db_conninfo_free_fn conninfo_free;
    void *conninfo_data;
    db_credentials_t *credentials; /* not owned; NULL = no password from us */
    int stmt_cache_size;           /* run-time statements kept prepared (0 = 256) */
} db_pool_config_t;

/* Batches by queries per Sync: 1, 2, 3-4, 5-8, 9-16, 17-32, more (bucket k: <= 2^k). */
#define DB_BATCH_BUCKETS 7

typedef struct db_pool_stats {
    int total, ready, busy, connecting; /* connections (busy includes leased) */
    int leased;                         /* checked out by a streamed read */
    int waiting;                        /* queries queued for a connection */
    uint64_t acquire_timeouts, reconnects, connect_failures, statement_timeouts;
    uint64_t queries, batches;
    uint64_t batch_hist[DB_BATCH_BUCKETS]; /* batches by size, see DB_BATCH_BUCKETS */
    uint64_t overflow_opens;               /* connections opened beyond `size` */
    bool healthy;                          /* a connection works right now */
    char last_error[256];                  /* why the pool is unhealthy (no secrets) */
} db_pool_stats_t;

typedef enum { DB_STMT_READ = 0, DB_STMT_WRITE = 1 } db_stmt_kind_t;

void db_pool_config_defaults(db_pool_config_t *cfg);
db_pool_t *db_pool_new(uv_loop_t *loop, const db_pool_config_t *cfg);
/* Registers a statement; only before db_pool_start(). Returns its id (>= 0). sql is copied. */
int db_pool_add_statement(db_pool_t *p, const char *sql, int nparams, db_stmt_kind_t kind);
/* Opens the first connections in the background. */
void db_pool_start(db_pool_t *p);
void db_pool_query(db_pool_t *p, int stmt, int nparams, const char *const *values, db_result_fn cb,
                   void *data);
/*
 * A statement given by its SQL text (built at run time, e.g. by the Data API):
 * the pool keeps the last stmt_cache_size distinct texts as statement slots
 * (LRU), each prepared per connection on first use, so a repeated request
 * shape costs one Bind/Execute. Same callback rules as db_pool_query(); on
 * an error r->res is the error result (PQresultErrorField works on it).
 * sql is copied; values are not.
 */
void db_pool_query_sql(db_pool_t *p, const char *sql, int nparams, const char *const *values,
                       db_stmt_kind_t kind, db_result_fn cb, void *data);
/*
 * The statement slot for sql, held for ONE query: pass the id at once to
 * db_pool_query() or db_pool_query_as() (the slot is released when that
 * query completes, and may then take other SQL).
 */
int db_pool_stmt_for_sql(db_pool_t *p, const char *sql, int nparams, db_stmt_kind_t kind);
/* Slots the statement cache holds. */
int db_pool_stmt_cache_size(const db_pool_t *p);
void db_pool_stats(const db_pool_t *p, db_pool_stats_t *out);
/* Fails queued queries, closes every connection, then calls done. */
void db_pool_close(db_pool_t *p, void (*done)(void *data), void *data);
void db_pool_free(db_pool_t *p); /* after db_pool_close's done */

/* ---- LISTEN: a dedicated connection reporting NOTIFYs (listen.c) ---- */
typedef struct db_listen db_listen_t;
/* channel NULL: (re)connected - notifications may have been missed meanwhile. */
typedef void (*db_notify_fn)(const char *channel, const char *payload, void *data);
/* Logs in like the pool's connections (conninfo, credentials); reconnects with a backoff. */
db_listen_t *db_listen_start(db_pool_t *p, const char *channel, db_notify_fn fn, void *data);
/* Stops; the listener frees itself once the loop has closed its handles. */
void db_listen_stop(db_listen_t *l);
/* ---- sessions: one statement under a role, as one transaction (session.c) ---- */

/*
 * What a request runs as. The strings are borrowed until the query's callback
 * (the request arena). role is a verified Postgres role name, passed as a bound
 * parameter (set_config('role', $1, true) is SET LOCAL ROLE), never spliced.
 */
typedef struct db_session {
    const char *values[5]; /* role, request.jwt.claims, request.method, request.path,
                              request.headers */
} db_session_t;

/*
 * Registers the session statements; before db_pool_start(). pre_request
 * (DB_PRE_REQUEST, "[schema.]function", already validated as identifiers) may
 * be NULL. Returns 0, or -1 when called after the start.
 */
int db_session_register(db_pool_t *p, const char *pre_request);
void db_session_init(db_session_t *s, const char *role, const char *claims, const char *method,
                     const char *path, const char *headers);
/*
 * db_pool_query() under session s: the pool sends, in the same pipeline
 * batch as everybody else's queries, Sync; the settings (and the pre-request
 * function); the statement; Sync - so the statement runs in a transaction of
 * its own whose settings are transaction-local (the Sync is the COMMIT).
 * A failing setting or pre-request fails the statement with that error.
 * db_session_register() must have been called.
 */
void db_pool_query_as(db_pool_t *p, const db_session_t *s, int stmt, int nparams,
                      const char *const *values, db_result_fn cb, void *data);

/* ---- streamed reads: a SELECT's rows in batches, on a connection of its own ----
 *
 * db_stream_open() checks one connection out of the pool (waiting like a query,
 * up to the acquire timeout), opens a read-only transaction with a server-side
 * cursor over sql and FETCHes batch_rows rows at a time: one batch is being
 * produced by the server while the previous one is handed to on_rows, so at
 * most two batches are in memory, whatever the size of the result. The
 * statement timeout applies to each step (the DECLARE and every FETCH), so an
 * export may run for longer than it as long as rows keep coming.
 *
 * db_stream_pause() stops further FETCHes (the one in flight is held until
 * db_stream_resume()); the server then simply waits, nothing piles up.
 * db_stream_cancel() (the client went away) ends the stream without further
 * callbacks: a FETCH in flight is cancelled (PQcancel, off the loop in a
 * worker thread), the transaction rolled back and the connection returned to
 * the pool clean, or closed if anything about it is in doubt.
 *
 * sql and values are copied. Callbacks are never called from inside
 * db_stream_open/pause/cancel; a held batch is handed to on_rows from inside
 * db_stream_resume. After on_end the stream is gone (do not cancel it then).
 * db_stream_open returns NULL when the pool is closing.
 */
typedef struct db_stream db_stream_t;
typedef struct db_stream_ops {
    /*
     * A batch of rows (text format); res is valid during the call only. The
     * first batch comes even when empty (it names the columns); later ones have rows.
     */
    void (*on_rows)(db_stream_t *s, const PGresult *res, void *data);
    /* Exactly once unless cancelled: DB_OK after the last batch, or the error. */
    void (*on_end)(db_stream_t *s, const db_result_t *r, void *data);
    /*
     * Optional: called once with the SELECT's description (column names and
     * types, no rows) before the cursor opens; may return another SELECT over
     * the same parameters to run instead (copied; NULL keeps sql). Costs one
     * Parse/Describe in the first round trip.
     */
    const char *(*on_describe)(db_stream_t *s, const PGresult *desc, void *data);
} db_stream_ops_t;

db_stream_t *db_stream_open(db_pool_t *p, const char *sql, int nparams, const char *const *values,
                            int batch_rows, const db_stream_ops_t *ops, void *data);
/*
 * db_stream_open under a request's session (role, request.* settings and the
 * pre-request function, as db_pool_query_as): set LOCAL in the stream's own
 * transaction, right after its BEGIN. The session's strings are copied.
 */
db_stream_t *db_stream_open_as(db_pool_t *p, const db_session_t *session, const char *sql,
                               int nparams, const char *const *values, int batch_rows,
                               const db_stream_ops_t *ops, void *data);
void db_stream_pause(db_stream_t *s);
void db_stream_resume(db_stream_t *s);
void db_stream_cancel(db_stream_t *s);

/* Maps a server SQLSTATE to a db_status_t. */
db_status_t db_status_from_sqlstate(const char *sqlstate);
const char *db_status_name(db_status_t s);

/* The static provider: always the same password (may be NULL). */
db_credentials_t *db_credentials_static_new(const char *password);

/*
 * ---- the read/write split (route.c) ----
 *
 * A route sits in front of the primary's pool: once db_route_new(primary) has
 * run, db_pool_query(primary, ...) sends DB_STMT_READ statements of GET/HEAD
 * requests to a healthy replica pool and everything else to the primary, so
 * callers keep using one pool. Without a route nothing changes.
 *
 * Read-your-writes: a write's result carries lsn (the primary's WAL insert
 * position read after its commit); a request that names such an LSN
 * (min_lsn), or comes from an identity/connection that wrote in the last
 * READ_AFTER_WRITE_MS, reads from a replica only once the replica's replay
 * position has passed it, else from the primary. Replicas are polled; one that
 * fails or lags more than REPLICA_MAX_LAG takes no reads until it recovers.
 */
typedef struct db_route db_route_t;

/* What one request asks of the split: plain values, copied into each of its queries. */
typedef struct db_route_ctx {
    uint64_t min_lsn; /* reads must see this WAL position (X-Lakeapi-Min-LSN); 0: none */
    bool primary;     /* not GET/HEAD: every statement of the request on the primary */
    uint64_t who[2];  /* identity and connection keys for READ_AFTER_WRITE_MS (0: none) */
} db_route_ctx_t;

typedef struct db_route_config {
    double max_lag_s;        /* REPLICA_MAX_LAG: a replica further behind takes no reads */
    int read_after_write_ms; /* READ_AFTER_WRITE_MS: 0 turns the per-instance rule off */
    int poll_ms;             /* replica status poll interval */
} db_route_config_t;

#define DB_ROUTE_MAX_REPLICAS 8

typedef struct db_route_target_stats {
    char name[64]; /* "primary", or the replica's host */
    bool primary, in_service;
    double lag_s;       /* replicas: how long the primary's WAL has waited to be replayed */
    uint64_t lag_bytes; /* replicas: primary WAL position minus replay position */
    uint64_t queries;   /* statements sent to this target */
    uint64_t fallbacks; /* replicas: reads re-run on the primary after this replica failed */
    uint64_t outages;   /* replicas: times taken out of service */
    char why[128];      /* replicas: why out of service ("" when in) */
    db_pool_stats_t pool;
} db_route_target_stats_t;

typedef struct db_route_stats {
    int ntargets; /* the primary first, then each replica */
    db_route_target_stats_t targets[1 + DB_ROUTE_MAX_REPLICAS];
    /* reads kept on the primary, by reason */
    uint64_t primary_request;    /* the request is not GET/HEAD */
    uint64_t primary_min_lsn;    /* no replica had replayed the requested LSN */
    uint64_t primary_no_replica; /* no replica in service */
    uint64_t lsn_reads;          /* post-commit LSN reads on the primary */
    uint64_t lsn_failures;       /* ... that failed (the write is answered without an LSN) */
} db_route_stats_t;

void db_route_config_defaults(db_route_config_t *cfg);
/* Puts a route in front of primary (before any query). primary is not owned. */
db_route_t *db_route_new(db_pool_t *primary, const db_route_config_t *cfg);
/* Adds a replica pool, owned by the route from now on; name labels its metrics. -1: too many. */
int db_route_add_replica(db_route_t *r, db_pool_t *replica, const char *name);
/* Copies the primary's statements to the replicas and starts them and the poller;
 * call after every statement is registered, before db_pool_start(primary). */
void db_route_start(db_route_t *r);
/* The route in front of p, or NULL. */
db_route_t *db_pool_route(const db_pool_t *p);
/* The request being handled now (copied); NULL clears. Cleared again after each loop turn. */
void db_route_set_ctx(db_route_t *r, const db_route_ctx_t *ctx);
void db_route_stats(const db_route_t *r, db_route_stats_t *out);
/* Closes the replica pools and the route's handles, then calls done (the primary is the caller's).
 */
void db_route_close(db_route_t *r, void (*done)(void *data), void *data);
void db_route_free(db_route_t *r); /* after db_route_close's done, before db_pool_free(primary) */

/* "16/B374D848" <-> 64-bit WAL positions. parse: 0 ok, -1 malformed. out: >= 20 bytes. */
int db_lsn_parse(const char *s, size_t len, uint64_t *out);
void db_lsn_format(uint64_t lsn, char *out, size_t n);

#endif
