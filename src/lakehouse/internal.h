/*
 * lakehouse/internal.h - the pieces of the SQL warehouse backend, shared
 * between its files and the unit tests and fuzz targets; not an interface.
 *
 *   result.c     result sets (columns + nullable text values), the manifest's
 *                types and their faithful JSON encoding           (pure)
 *   parse.c      Statement Execution API responses -> status, manifest, chunk,
 *                next_chunk_internal_link, external links         (pure)
 *   statement.c  one statement on the loop: submit, poll with backoff, every
 *                chunk in order, cancel, timeouts, 429/503 handling
 *   cache.c      the result cache: TTL, LRU byte budget, stale-while-revalidate,
 *                coalescing of identical statements, per-table invalidation
 *   lakehouse.c  settings, the warehouse state probe, /readyz and /metrics parts
 *   shared.c     what every loop's backend shares: the cache, the warehouse
 *                state, catalog loads; mailboxes to the loops
 */
#ifndef LAKEAPI_LAKEHOUSE_INTERNAL_H
#define LAKEAPI_LAKEHOUSE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lakehouse/lakehouse.h"
#include "lakeapi/buf.h"
#include "lakeapi/json.h"

/* ---- result.c: result sets and types ---- */

typedef enum {
    LH_T_STRING,
    LH_T_INT,     /* BYTE SHORT INT LONG: exact digits as a JSON number */
    LH_T_DECIMAL, /* every digit kept: a JSON number, never via double */
    LH_T_FLOAT,   /* FLOAT DOUBLE: a JSON number; NaN/Infinity as strings */
    LH_T_BOOL,
    LH_T_DATE,      /* "YYYY-MM-DD" */
    LH_T_TIMESTAMP, /* ISO 8601 with a 'T' */
    LH_T_JSON,      /* ARRAY MAP STRUCT: their JSON text as JSON */
    LH_T_BINARY,    /* base64 text from the warehouse: a string */
} lh_type_t;

typedef struct lh_column {
    char *name;
    lh_type_t type;
} lh_column_t;

#define LH_NULL UINT32_MAX

/* Values are stored as (offset, length) into one buffer; length LH_NULL is SQL NULL. */
typedef struct lh_value {
    uint32_t off, len;
} lh_value_t;

typedef struct lh_result {
    atomic_int refs; /* lh_result_share / lh_result_free */
    int ncols;
    lh_column_t *cols;
    size_t nrows, cap;
    lh_value_t *values; /* nrows * ncols */
    buf_t data;
} lh_result_t;

lh_type_t lh_type_from_name(const char *type_name);
lh_result_t *lh_result_new(void);
lh_result_t *lh_result_share(lh_result_t *r); /* one more reference; r */
void lh_result_free(lh_result_t *r);          /* drops a reference; the last frees */
/* Sets the columns (names copied); only before any row. */
void lh_result_set_columns(lh_result_t *r, int ncols, const char *const *names,
                           const lh_type_t *types);
/* Appends one row of ncols values (vals[i] NULL = SQL NULL). -1 when the result grew too big. */
int lh_result_add_row(lh_result_t *r, const char *const *vals, const size_t *lens);
/* Memory it holds (what the cache's byte budget counts). */
size_t lh_result_bytes(const lh_result_t *r);
/* Value (row, col): NULL for SQL NULL, else its text (NUL-terminated) and length. */
const char *lh_result_value(const lh_result_t *r, size_t row, int col, size_t *len);
int lh_result_column(const lh_result_t *r, const char *name); /* index or -1 */
/* Writes one value as JSON for its type (see lh_type_t). */
void lh_encode_value(json_writer_t *w, lh_type_t t, const char *s, size_t len);
/* Row as a JSON object, keys in column order. */
void lh_encode_row(json_writer_t *w, const lh_result_t *r, size_t row);
/* Value as one CSV field (RFC 4180 quoting; NULL is empty). */
void lh_csv_field(buf_t *out, const char *s, size_t len);

/* ---- parse.c: the API's responses ---- */

typedef enum {
    LH_PENDING,
    LH_RUNNING,
    LH_SUCCEEDED,
    LH_FAILED,
    LH_CANCELED,
    LH_CLOSED,
    LH_UNKNOWN,
} lh_state_t;

#define LH_MAX_LINKS 64

typedef struct lh_reply {
    char statement_id[128];
    lh_state_t state;
    char error_code[64];
    char message[512];
    bool has_manifest;
    int64_t total_rows;
    int64_t total_chunks;
    /* the chunk in this reply */
    bool has_chunk;
    int64_t chunk_index;
    char *next_link; /* next_chunk_internal_link (malloc'd), NULL at the end */
    int nlinks;
    char *links[LH_MAX_LINKS]; /* external_link URLs in chunk order (malloc'd) */
} lh_reply_t;

void lh_reply_dispose(lh_reply_t *p);
/*
 * Parses a statement response ({"statement_id","status","manifest","result"}),
 * or with chunk_only a chunk response (the "result" object alone). A manifest
 * sets r's columns (when r has none yet); data_array rows are appended to r
 * (which may be NULL when no rows are expected). 0, or -1 with err (never
 * quoting values).
 */
int lh_parse_reply(const char *body, size_t len, bool chunk_only, lh_result_t *r, lh_reply_t *out,
                   char *err, size_t errlen);
const char *lh_state_name(lh_state_t s);
/* A warehouse's {"state": ...}; "" when the body has none. */
void lh_parse_warehouse_state(const char *body, size_t len, char *state, size_t n);
/* "/sql/1.0/warehouses/<id>" (or endpoints/<id>) -> the id; false when it is not that shape. */
bool lh_warehouse_from_http_path(const char *path, char *id, size_t n);
/* Letters, digits, _ and -, 1..128 bytes: a warehouse id, catalog or schema we may send. */
bool lh_valid_name(const char *s);

/* ---- statement.c ---- */

typedef struct lh_param {
    const char *name;
    const char *value; /* NULL: SQL NULL */
    const char *type;  /* "STRING", "BIGINT", "BOOLEAN", ... */
} lh_param_t;

/* What a statement ended with. */
typedef struct lh_outcome {
    int status;           /* 0: succeeded; else the HTTP status to answer (502/503/504/429) */
    const char *detail;   /* the reason, for {"detail"}; secret-free */
    int retry_after;      /* > 0: a Retry-After to send */
    const char *wh_state; /* the warehouse state when it was the reason, else NULL */
    lh_result_t *result;  /* on success; the receiver takes it */
    /* LH_STMT_EXTERNAL_CSV: the first chunk's links and the next chunk's path (borrowed) */
    char *const *links;
    int nlinks;
    const char *next_link;
    int64_t total_rows;
} lh_outcome_t;

/* lh_stmt_run_ext flags */
#define LH_STMT_EXTERNAL_CSV 1 /* EXTERNAL_LINKS + CSV: answered with the links, no rows */

typedef void (*lh_stmt_cb)(const lh_outcome_t *o, void *data);
/* Asked now and then while the statement runs: false when nobody wants the answer any more. */
typedef bool (*lh_wanted_fn)(void *data);

typedef struct lh_stmt lh_stmt_t;
/*
 * Runs sql with params (copied) on the warehouse. cb runs once, later (never
 * from inside this call), unless wanted() turns false first: then the
 * statement is cancelled on the warehouse and cb runs with status 499.
 */
lh_stmt_t *lh_stmt_run(lakehouse_t *lh, const char *sql, const lh_param_t *params, int nparams,
                       lh_stmt_cb cb, lh_wanted_fn wanted, void *data);
lh_stmt_t *lh_stmt_run_ext(lakehouse_t *lh, const char *sql, const lh_param_t *params, int nparams,
                           int flags, lh_stmt_cb cb, lh_wanted_fn wanted, void *data);

/* ---- cache.c ---- */

typedef struct lh_cache lh_cache_t;
typedef struct lh_waiter lh_waiter_t;

/* hit: "hit", "miss" or "stale" (X-Lakeapi-Cache). o->result is the cache's: read only, now. */
typedef void (*lh_read_cb)(const lh_outcome_t *o, const char *hit, void *data);

/* One cache for the process (shared.c owns it); reads from any loop, locked inside. */
lh_cache_t *lh_cache_new(lakehouse_shared_t *sh, double ttl_s, size_t budget);
void lh_cache_free(lh_cache_t *c);
/*
 * A read of `table` (the invalidation key) through the cache: answered at once
 * from a fresh entry (hit) or a stale one (stale, refreshed in the background);
 * else it waits for the one statement that identical reads share (miss). gone
 * (may be NULL) tells when the asker has left. cb may run inside this call.
 */
void lh_cache_read(lakehouse_t *lh, const char *table, const char *sql, const lh_param_t *params,
                   int nparams, lh_read_cb cb, lh_wanted_fn wanted, void *data);
/*
 * lh's loop is stopping (its statements are dropped): reads of other loops
 * that waited for its statements are answered 503 on their loops.
 */
void lh_cache_detach(lh_cache_t *c, lakehouse_t *lh);
/* Drops every cached read of table; reads in flight are answered but not kept. */
void lh_cache_invalidate(lh_cache_t *c, const char *table);
void lh_cache_clear(lh_cache_t *c);
/* The normalized key of a statement and its parameters (for tests). Caller frees. */
char *lh_cache_key(const char *sql, const lh_param_t *params, int nparams);

/* ---- shared.c: what the loops share ---- */

lakehouse_shared_t *lh_shared_ref(lakehouse_shared_t *sh);
lh_cache_t *lh_shared_cache(lakehouse_shared_t *sh);
int lh_shared_join(lakehouse_shared_t *sh, lakehouse_t *lh);   /* lh's member index */
void lh_shared_leave(lakehouse_shared_t *sh, lakehouse_t *lh); /* idempotent */
/* Runs fn(arg) on that member's loop; false (arg untouched) when it left. */
bool lh_post(lakehouse_shared_t *sh, int member, void (*fn)(void *arg), void *arg);
/* The warehouse state ("" until known) and the last probe's error ("" when it answered). */
void lh_wh_get(const lakehouse_t *lh, char state[24], char *error, size_t errlen);
/* true: the caller probes now (none out, the last older than max_age_s); then probe_end. */
bool lh_wh_probe_begin(lakehouse_t *lh, double max_age_s);
/* A probe's answer: state (NULL: unchanged), error (NULL: it answered); both NULL: not sent. */
void lh_wh_probe_end(lakehouse_t *lh, const char *state, const char *error);
/* true (and noted) when no start request went out within every_s. */
bool lh_wh_start_due(lakehouse_t *lh, double every_s);
/* Catalog loads: true when the caller runs it; false: another loop's is out (its result comes). */
bool lh_shared_load_claim(lakehouse_shared_t *sh, const char *catalog);
/* The last successful load of catalog (a reference; NULL when none). */
lh_result_t *lh_shared_load_kept(lakehouse_shared_t *sh, const char *catalog);
/* The caller's load ended: kept, and handed to every other loop (lh_tables_adopt). */
void lh_shared_load_done(lakehouse_t *lh, const char *catalog, int status, const char *detail,
                         lh_result_t *result);
/* tables.c, on lh's loop: another loop's load of catalog ended (result borrowed). */
void lh_tables_adopt(lakehouse_t *lh, const char *catalog, int status, const char *detail,
                     lh_result_t *result);

/* ---- lakehouse.c: shared state ---- */

typedef struct lh_metrics {
    uint64_t hits, misses, stale, coalesced, statements, submitted, polls, chunks, failed, canceled,
        timeouts, rate_limited, bytes, external_bytes;
    uint64_t latency_count;
    double latency_sum_s;
    uint64_t latency_buckets[12];
} lh_metrics_t;

struct lakehouse {
    uv_loop_t *loop;
    workspace_t *ws;
    char warehouse_id[129];
    char catalog[129], schema[129];
    double command_timeout_s;
    int wait_timeout_s;     /* 0 or 5..50 */
    lakehouse_shared_t *sh; /* a reference: the cache, warehouse state, catalog loads */
    int member;             /* this backend's index in sh (0: runs the reload timer) */
    lh_cache_t *cache;      /* sh's */
    lh_metrics_t m;         /* this loop's counts (summed over loops at scrape) */
    uv_timer_t probe_timer;
    bool timer_ready;
    struct lh_waiter *remote_waits; /* cache.c, under its lock: ours on other loops' statements */
    uv_timer_t remote_timer;        /* cache.c: asks them whether their clients are still there */
    bool remote_timer_ready;
    lh_stmt_t *stmts; /* in flight */
    struct lh_catalog *tables;
    struct lh_store *stores; /* store.c: the keyed row stores made */
    struct auth *auth;       /* lakehouse_set_auth(); NULL: open */
    struct lh_rest *rest;
};

double lh_now(void); /* monotonic seconds */
/* "RUNNING", or the state that makes a statement pointless (then its Retry-After). */
bool lh_warehouse_usable(lakehouse_t *lh, int *retry_after);
/* Starts a state probe unless one ran within max_age_s. */
void lh_probe(lakehouse_t *lh, double max_age_s);
void lh_observe_latency(lakehouse_t *lh, double seconds);
/* "`catalog`.`schema`.`table`" into out (names validated; backticks doubled). */
void lh_qualify(buf_t *out, const char *catalog, const char *schema, const char *table);
void lh_quote_ident(buf_t *out, const char *name);
/* statement.c: cancels everything in flight without calling back (shutdown). */
void lh_stmts_drop(lakehouse_t *lh);
/* store.c: frees the stores made by lakehouse_store_new. */
void lh_stores_free(lakehouse_t *lh);

#endif
