/*
 * web.h - the handling framework every resource uses (src/web/): table
 * descriptors and the generic SQL and row encoding over them, cached counts
 * and page anchors, request validation in FastAPI's 422 shape, declared
 * routes and parameters, responses and the one mapping from database
 * failures to HTTP, the OpenAPI registry, metrics, CORS and static files.
 *
 * May include: http, db, json, config, util (and the public lakeapi/ headers
 * of those). Never api/, rest/ or any resource: resources include this, not
 * the other way round.
 */
#ifndef LAKEAPI_WEB_H
#define LAKEAPI_WEB_H

#include <stdbool.h>
#include <stdint.h>

#include "lakeapi/config.h"
#include "lakeapi/credentials.h"
#include "lakeapi/db.h"
#include "lakeapi/http.h"
#include "lakeapi/http_server.h"
#include "lakeapi/json.h"
#include "lakeapi/router.h"

/* ---- table descriptors (table.c) ---- */

typedef enum {
    WEB_COL_INT,       /* int2/4/8: JSON number, copied as text */
    WEB_COL_NUMBER,    /* numeric: JSON number, copied as text (never via double) */
    WEB_COL_TEXT,      /* JSON string */
    WEB_COL_DATE,      /* "YYYY-MM-DD" */
    WEB_COL_TIMESTAMP, /* "YYYY-MM-DDTHH:MM:SS[.ffffff]" */
    WEB_COL_BOOL,
} web_col_kind_t;

typedef struct web_column {
    const char *name;
    web_col_kind_t kind;
} web_column_t;

typedef struct web_table {
    char *sql_name;           /* quoted, schema-qualified: "public"."orders_synced" */
    const char *key;          /* key column (bigint, ascending order) */
    const web_column_t *cols; /* in JSON key order */
    int ncols;
    char *select_list; /* "o_orderkey", "o_custkey", ... */
    char **key_prefix; /* per column: `{"name":` for the first, `,"name":` after */
    size_t *key_prefix_len;
    size_t row_overhead; /* bytes of a row that are not values */
} web_table_t;

/* qualified is "[schema.]name", already validated by config. */
int web_table_init(web_table_t *t, const char *qualified, const char *key, const web_column_t *cols,
                   int ncols);
void web_table_dispose(web_table_t *t);
/* Statement text builders; the caller frees. $n placeholders as documented. */
char *web_sql_get(const web_table_t *t);    /* $1 key */
char *web_sql_keyset(const web_table_t *t); /* $1 after key, $2 limit */
char *web_sql_offset(const web_table_t *t); /* $1 offset, $2 limit */
char *web_sql_count(const web_table_t *t);
/* $1 cursor, $2 page size: (previous cursor, largest key <= cursor), each 0 when none */
char *web_sql_prev_cursor(const web_table_t *t);
char *web_sql_keys(const web_table_t *t);          /* $1 limit */
char *web_sql_anchors(const web_table_t *t);       /* $1 step: keys at positions step, 2*step.. */
char *web_sql_keyset_offset(const web_table_t *t); /* $1 after key, $2 offset, $3 limit */
char *web_sql_update_column(const web_table_t *t, const char *column); /* $1 key, $2 value */
/* INSERT of cols ($1..$n in that order) RETURNING the descriptor's columns. */
char *web_sql_insert(const web_table_t *t, const char *const *cols, int n);
/* Partial update: $1 key; column i gets $(3+2i) when the boolean $(2+2i) is true. RETURNING key. */
char *web_sql_update_partial(const web_table_t *t, const char *const *cols, int n);
char *web_sql_delete(const web_table_t *t);                        /* $1 key; RETURNING key */
char *web_sql_latest(const web_table_t *t, const char *order_col); /* $1 limit; newest first */
/* Writes row `row` of res as one JSON object in the descriptor's column order. */
void web_encode_row(json_writer_t *w, const web_table_t *t, const PGresult *res, int row);
void web_encode_rows(json_writer_t *w, const web_table_t *t, const PGresult *res, int nrows);

/* ---- derived views: cached count and page anchors (cache.c) ---- */

/* r->status != DB_OK means the count could not be had (value is then -1). */
typedef void (*web_count_fn)(const db_result_t *r, int64_t value, void *data);

typedef struct web_count_cache {
    db_pool_t *pool;
    int stmt; /* SELECT count(*) */
    uint64_t ttl_ns;
    bool valid, refreshing;
    int64_t value;
    uint64_t fetched_ns;
    uint64_t started_ns, cost_ns; /* the last refresh: when it began, how long it took */
    struct cache_waiter *waiters;
    void (*on_change)(void *data); /* the count moved: dependent views are stale */
    void *on_change_data;
    char *sql; /* the count statement as text (statement cache), or NULL: stmt */
    unsigned generation, refresh_generation; /* invalidations; the one a refresh started in */
} web_count_cache_t;

void web_count_cache_init(web_count_cache_t *c, db_pool_t *pool, int stmt, double ttl_s);
/*
 * Calls fn with the count: at once from memory (refreshing in the background
 * when older than the TTL), or after the one shared query when there is no
 * value yet. Waiter records live in arena.
 */
void web_count_cache_get(web_count_cache_t *c, arena_t *arena, web_count_fn fn, void *data);
void web_count_cache_invalidate(web_count_cache_t *c);

/*
 * The per-table count caches every route shares (the orders routes and the
 * Data API count the same table through the same cache, so a write through
 * either invalidates both answers). qname is the quoted, qualified name as
 * it appears in SQL ("public"."orders_synced"): it must come from the catalog
 * or a validated setting. The caches live as long as the registry.
 */
typedef struct web_counts web_counts_t;
web_counts_t *web_counts_new(db_pool_t *pool, double ttl_s);
void web_counts_free(web_counts_t *c);
web_count_cache_t *web_counts_table(web_counts_t *c, const char *qname);
void web_counts_invalidate(web_counts_t *c, const char *qname); /* no-op for an unknown table */

typedef struct web_anchors {
    db_pool_t *pool;
    int stmt; /* keys at every $1-th position, ascending */
    int step;
    uint64_t ttl_ns, built_ns;
    int64_t *keys; /* keys[j-1] is the key at 1-based position j * step */
    int n;
    bool building;
    unsigned generation, building_generation;
    char step_text[16];
    int step_text_len;
    const char *params[1];
} web_anchors_t;

void web_anchors_init(web_anchors_t *a, db_pool_t *pool, int stmt, int step, double ttl_s);
void web_anchors_dispose(web_anchors_t *a);
void web_anchors_invalidate(web_anchors_t *a);
/*
 * For a page at `offset`: true with the key to start after and the rows to
 * skip past it; false (use plain OFFSET) when offset is shallow or the
 * anchors are not built yet (a build is then started in the background).
 */
bool web_anchors_lookup(web_anchors_t *a, int64_t offset, int64_t *after_key, int64_t *rest);

/* ---- previous cursors of recently served cursor pages (cursors.c) ---- */

typedef struct web_cursor_slot {
    int64_t cursor, page_size, prev;
    uint64_t stored_ns; /* 0: empty */
} web_cursor_slot_t;

typedef struct web_cursor_cache {
    web_cursor_slot_t *slots;
    unsigned mask;
    uint64_t ttl_ns;
    uint64_t hits, misses, puts;
} web_cursor_cache_t;

/* 2^slots_log2 entries; -1 when they cannot be allocated (the cache then never hits). */
int web_cursor_cache_init(web_cursor_cache_t *c, int slots_log2, double ttl_s);
void web_cursor_cache_dispose(web_cursor_cache_t *c);
/* prev: the previous cursor of the page after `cursor` (a row key, or 0 for the start). */
void web_cursor_cache_put(web_cursor_cache_t *c, int64_t cursor, int64_t page_size, int64_t prev);
bool web_cursor_cache_get(web_cursor_cache_t *c, int64_t cursor, int64_t page_size, int64_t *prev);
void web_cursor_cache_clear(web_cursor_cache_t *c);

/* ---- validation in FastAPI's 422 shape (params.c) ---- */

/* Collects 422 items: {"type","loc":[where,name],"msg","input"[,"ctx"]}. */
typedef struct web_errors {
    buf_t buf;
    json_writer_t w;
    int count;
} web_errors_t;

void web_errors_init(web_errors_t *e);
void web_errors_dispose(web_errors_t *e);
/*
 * Adds one item. input may be NULL (written as null); ctx_json is a
 * pre-encoded object or NULL.
 */
void web_errors_add(web_errors_t *e, const char *type, const char *where, const char *name,
                    const char *msg, const char *input, const char *ctx_json);
/* The same with loc, input and ctx given as encoded JSON (input NULL -> null). */
void web_errors_add_raw(web_errors_t *e, const char *type, const char *loc_json, const char *msg,
                        const char *input_json, const char *ctx_json);
/*
 * Parses the request body as a JSON object for a FastAPI-style model. On
 * failure adds the 422 item (missing body, json_invalid, not an object) and
 * returns NULL; else a new jansson reference the caller json_decref()s.
 */
struct json_t *web_body_object(http_exchange_t *ex, web_errors_t *e);
/* Encodes a jansson value as JSON text into a malloc'd string (for "input"). */
char *web_json_text(const struct json_t *v);
/* Adds one item at ["body", field] with the offending JSON value as its input. */
void web_errors_add_body(web_errors_t *e, const char *type, const char *field, const char *msg,
                         const struct json_t *input, const char *ctx_json);
/*
 * Checks the JSON string v against pydantic's min_length/max_length in
 * characters (0: no bound); false after adding the item at ["body", field].
 */
bool web_body_string_length(web_errors_t *e, const char *field, const struct json_t *v,
                            int min_length, int max_length);
/* Adds an "extra_forbidden" item for every key of root not among fields[0..n). */
void web_body_forbid_extra(web_errors_t *e, struct json_t *root, const char *const *fields,
                           size_t n);

/* Parses s as a Python int (optional blanks, sign, digits); saturates beyond int64. */
bool web_parse_int(const char *s, int64_t *out);
/* FastAPI's bool words: true/false 1/0 yes/no on/off t/f y/n (any case). */
bool web_parse_bool(const char *s, bool *out);

typedef struct web_int_rule {
    int64_t def;
    bool has_min, has_max;
    int64_t min, max;
} web_int_rule_t;

/*
 * A declared parameter. The same declaration validates requests (below) and
 * describes the route in the OpenAPI document, so the two cannot drift.
 */
typedef enum { WEB_PARAM_INT, WEB_PARAM_BOOL, WEB_PARAM_STRING } web_param_type_t;

typedef struct web_param {
    const char *name;
    const char *in; /* "query" or "path" */
    web_param_type_t type;
    web_int_rule_t rule; /* WEB_PARAM_INT: default and bounds */
    bool bool_default;   /* WEB_PARAM_BOOL */
    int max_length;      /* WEB_PARAM_STRING: 0 = unbounded */
    bool required;       /* path parameters always are */
    const char *description;
    const char *const *choices; /* WEB_PARAM_STRING: allowed values, NULL-terminated; or NULL */
    const char *str_default;    /* WEB_PARAM_STRING: the default, or NULL */
} web_param_t;

typedef struct web_response_doc {
    int status; /* 0 ends the list */
    /*
     * components/schemas name of a JSON body; or a media type (it has a '/',
     * e.g. "text/html") for a body that is not JSON; NULL for no body.
     */
    const char *schema;
    const char *description;
} web_response_doc_t;

/* What OpenAPI says about a route; set as route_t.doc. */
typedef struct web_route_doc {
    const char *operation_id;
    const char *summary;
    const char *tag;
    const web_param_t *const *params;    /* NULL-terminated, or NULL */
    const char *body_schema;             /* request body schema name, or NULL */
    const web_response_doc_t *responses; /* terminated by {0} */
} web_route_doc_t;

/* A route as a resource file declares it: registered with router_add(..., &doc). */
typedef struct web_route {
    unsigned methods;
    const char *pattern;
    http_handler_fn fn;
    web_route_doc_t doc;
} web_route_t;

/* Registers n declared routes with data as their handler data; -1 when the router refuses one. */
int web_add_routes(router_t *r, const web_route_t *routes, size_t n, void *data);
/* Adds a statement to the pool and frees sql; returns the statement id. */
int web_prepare(db_pool_t *pool, char *sql, int nparams, db_stmt_kind_t kind);

/* Responses most routes share. */
#define WEB_422                                                                                    \
    {                                                                                              \
        422, "HTTPValidationError", "Validation Error"                                             \
    }
#define WEB_DB_ERRORS                                                                              \
    {503, "HTTPError", "Database unavailable or pool exhausted (with Retry-After)"},               \
    {                                                                                              \
        504, "HTTPError", "Database statement timed out"                                           \
    }

/* For a required query parameter: false after adding FastAPI's "missing" item when it is absent. */
bool web_query_present(http_exchange_t *ex, const web_param_t *p, web_errors_t *e);
/* Query parameter p as an int with its bounds; on error adds to e and returns false. */
bool web_query_int(http_exchange_t *ex, const web_param_t *p, int64_t *out, web_errors_t *e);
bool web_query_bool(http_exchange_t *ex, const web_param_t *p, bool *out, web_errors_t *e);
/* Path parameter i as an int (any value; range checks are the handler's). */
bool web_path_int(http_exchange_t *ex, int i, const char *name, int64_t *out, web_errors_t *e);

/* ---- responses (respond.c) ---- */

/* Starts a JSON writer over the exchange's body buffer. */
void web_json_begin(http_exchange_t *ex, json_writer_t *w);
void web_send_json(http_exchange_t *ex, int status);
/* {key: value}, value a string */
void web_send_field(http_exchange_t *ex, int status, const char *key, const char *value);
/* {"detail": detail} */
void web_send_detail(http_exchange_t *ex, int status, const char *detail);
/* 200 with the first nrows rows of res as a JSON array, in the descriptor's shape. */
void web_send_rows(http_exchange_t *ex, const web_table_t *t, const PGresult *res, int nrows);
/* status with row `row` of res as one JSON object. */
void web_send_row(http_exchange_t *ex, int status, const web_table_t *t, const PGresult *res,
                  int row);
/* 422 {"detail": [items]}; disposes e. */
void web_send_errors(http_exchange_t *ex, web_errors_t *e);
/*
 * The end of a handler's validation: true when e holds items, which are then
 * answered as a 422; false when there are none. Either way e is disposed.
 */
bool web_send_errors_if_any(http_exchange_t *ex, web_errors_t *e);
/* "Database credentials unavailable: <the provider's secret-free reason>" (arena). */
const char *web_credentials_detail(http_exchange_t *ex, const db_result_t *r);
/* Maps a failed db_result_t to its status and a safe message (never server text). */
void web_send_db_error(http_exchange_t *ex, const db_result_t *r);
/*
 * A statement's answer: notes its pool wait on the exchange; true when it
 * succeeded, else the error has been answered (web_send_db_error).
 */
bool web_db_ok(http_exchange_t *ex, const db_result_t *r);

/* Number of rows / value helpers on text-format results. */
int64_t web_result_int(const PGresult *res, int row, int col);
/* v as decimal text in the request arena (a statement parameter). */
const char *web_i64_text(http_exchange_t *ex, int64_t v);

/* ---- keyed row stores: one resource's CRUD behind one interface (store_pg.c) ---- */

/*
 * A table with a bigint key, read and written by key, as the users routes
 * need it. The handlers validate and answer; the store runs the statements:
 * Postgres (web_store_pg_init, below) or a Databricks SQL warehouse
 * (src/lakehouse/, USERS_BACKEND=lakehouse). A store answers its own
 * failures on the exchange (503/504 in its own terms) and then never calls
 * back; on success it calls back exactly once with the reply.
 */
typedef struct web_store_reply {
    /* get/list: the rows were written into the exchange's body buffer as a JSON array */
    int nrows;
    bool more;         /* list: rows remain after these */
    int64_t last_key;  /* list: the key of the last row written */
    bool found;        /* update/remove: the row existed */
    int64_t key;       /* insert: the new row's key */
    const char *cache; /* "hit" | "miss" | "stale" (X-Lakeapi-Cache), NULL: no cache */
} web_store_reply_t;

typedef void (*web_store_cb)(http_exchange_t *ex, const web_store_reply_t *r, void *data);

typedef struct web_store_ops {
    void (*get)(void *self, http_exchange_t *ex, int64_t key, web_store_cb cb, void *data);
    /* at most limit rows with key > after, in key order */
    void (*list)(void *self, http_exchange_t *ex, int64_t after, int64_t limit, web_store_cb cb,
                 void *data);
    /* values[i] for writable column i (NULL: SQL NULL). The arrays (here and in update)
     * are borrowed for the call only; the strings live in the exchange's arena. */
    void (*insert)(void *self, http_exchange_t *ex, const char *const *values, web_store_cb cb,
                   void *data);
    /* only the columns with set[i] change */
    void (*update)(void *self, http_exchange_t *ex, int64_t key, const bool *set,
                   const char *const *values, web_store_cb cb, void *data);
    void (*remove)(void *self, http_exchange_t *ex, int64_t key, web_store_cb cb, void *data);
} web_store_ops_t;

typedef struct web_store {
    const web_store_ops_t *ops;
    void *self;
} web_store_t;

/*
 * How the Postgres store runs a statement for an exchange: db_pool_query's
 * contract plus the exchange, so access control can run it under the
 * request's role (auth_db_query); NULL: a plain db_pool_query.
 */
typedef void (*web_query_fn)(http_exchange_t *ex, db_pool_t *pool, int stmt, int nparams,
                             const char *const *values, db_result_fn cb, void *data);

/* The Postgres store: prepared statements over t with writable columns wcols[0..nw). */
typedef struct web_store_pg {
    db_pool_t *pool;
    web_query_fn query;
    const web_table_t *table;
    int nw;
    int get, list, insert, update, del;
} web_store_pg_t;

/* Prepares the statements with pool (before db_pool_start); fills store. */
void web_store_pg_init(web_store_pg_t *pg, web_store_t *store, db_pool_t *pool, web_query_fn query,
                       const web_table_t *t, const char *const *wcols, int nw);

/* ---- operations: OpenAPI, metrics, CORS, Swagger UI ---- */

typedef struct web_metrics web_metrics_t;
typedef struct web_cors web_cors_t;
typedef struct web_docs web_docs_t;

/*
 * openapi.c: the OpenAPI 3.1 registry and document. Resources register the
 * schemas their route docs name (fixed JSON text, or generated from a table
 * descriptor); extensions (the Data API) add paths and schemas of their own
 * to the document. web_openapi_build() serialises it once; the handler only
 * copies the cached bytes; a rebuild (a schema reload) swaps them.
 */
#define WEB_OPENAPI_REF "#/components/schemas/"
typedef struct web_openapi web_openapi_t;
typedef struct web_openapi_schema {
    const char *name;
    const char *json;         /* fixed JSON text; or NULL with table set */
    const web_table_t *table; /* a row schema generated from the descriptor */
    bool nullable;            /* table: every column but the key may be null */
} web_openapi_schema_t;
/* Adds to the document (root, a jansson object) after the routes; -1 fails the build. */
typedef int (*web_openapi_extend_fn)(struct json_t *root, void *data);

web_openapi_t *web_openapi_new(void);
void web_openapi_free(web_openapi_t *o);
/* The array (not copied) must outlive o. HTTPError and the 422 schemas are built in. */
void web_openapi_add_schemas(web_openapi_t *o, const web_openapi_schema_t *schemas, size_t n);
int web_openapi_add_extension(web_openapi_t *o, web_openapi_extend_fn fn, void *data);
/*
 * (Re)builds the document of every route in r. Returns 0, or -1 when a route
 * names a schema nobody registered (err names it; the document is still
 * built, with the dangling $ref) or an extension failed.
 */
int web_openapi_build(web_openapi_t *o, const router_t *r, char *err, size_t errlen);
const char *web_openapi_json(const web_openapi_t *o, size_t *len);
void web_openapi_handler(http_exchange_t *ex, void *data); /* data: the web_openapi_t */

/* metrics.c: the observer feeds it; the handler renders Prometheus text. */
web_metrics_t *web_metrics_new(const router_t *r);
void web_metrics_free(web_metrics_t *m);
void web_metrics_observe(const http_exchange_info_t *info, void *data); /* data: metrics */
/* What /metrics reads besides its own counters; every pointer may be NULL. */
typedef struct web_metrics_sources {
    db_pool_t *pool;
    int pool_size, max_overflow;
    const http_server_t *server;
    const db_credentials_t *credentials;
    uint64_t started_ns;
} web_metrics_sources_t;
void web_metrics_set_sources(web_metrics_t *m, const web_metrics_sources_t *src);
/* Other rooms (the Data API, auth, the lakehouse) append their own families. */
#define WEB_METRICS_MAX_RENDERERS 8
typedef void (*web_metrics_render_fn)(buf_t *out, void *data);
int web_metrics_add_renderer(web_metrics_t *m, web_metrics_render_fn fn, void *data);
/* For renderers: one family of one unlabelled sample (# HELP, # TYPE, the value). */
void web_metrics_value(buf_t *b, const char *name, const char *type, const char *help, double v);
void web_metrics_render(const web_metrics_t *m, buf_t *out);
void web_metrics_handler(http_exchange_t *ex, void *data); /* data: the metrics */
/*
 * With several event loops (WORKERS > 1) the handler hands the exchange to fn,
 * which collects every loop's web_metrics_render() text (each on its own loop)
 * and answers with web_metrics_merge() of them.
 */
typedef void (*web_metrics_gather_fn)(http_exchange_t *ex, void *data);
void web_metrics_set_gather(web_metrics_t *m, web_metrics_gather_fn fn, void *data);
/* metrics_merge.c: parts[0] first; same series summed, or max/min for process-wide values. */
void web_metrics_merge(buf_t *out, const buf_t *parts, int nparts);
#define WEB_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * cors.c: *out stays NULL when origins is unset or blank (no CORS at all).
 * Returns -1 with err naming CORS_ALLOW_ORIGINS on a malformed origin.
 */
int web_cors_new(const char *origins, bool credentials, const router_t *r, web_cors_t **out,
                 char *err, size_t errlen);
void web_cors_free(web_cors_t *c);
bool web_cors_pre_route(http_exchange_t *ex, void *data); /* http_pre_route_fn; data: cors */

/*
 * split.c: the web side of the read/write split (db route.c). Its pre-route
 * hook gives the route each request's context (method, X-Lakeapi-Min-LSN,
 * identity and connection); it answers only a malformed X-Lakeapi-Min-LSN
 * (400). Its renderer adds the per-target metrics. NULL when p has no route.
 */
typedef struct web_split web_split_t;
web_split_t *web_split_new(db_pool_t *p);
void web_split_free(web_split_t *s);
bool web_split_pre_route(http_exchange_t *ex, void *data); /* data: the split */
void web_split_render_metrics(buf_t *out, void *data);     /* data: the split */
/* Adds X-Lakeapi-Min-LSN for a committed write (web_db_ok does it for every result). */
void web_split_note_lsn(http_exchange_t *ex, uint64_t lsn);

/* static.c: the Swagger UI files from dir (NULL: the default places); never NULL. */
web_docs_t *web_docs_load(const char *dir);
void web_docs_free(web_docs_t *d);
bool web_docs_ready(const web_docs_t *d);
void web_docs_page_handler(http_exchange_t *ex, void *data); /* data: the docs */
void web_docs_file_handler(http_exchange_t *ex, void *data); /* data: the docs */

#endif
