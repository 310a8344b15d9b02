/*
 * api_internal.h - what the resource files (orders.c, ops.c, ...) share:
 * the application state, table descriptors, parameter validation in FastAPI's
 * shapes, and responses.
 */
#ifndef LAKEAPI_API_INTERNAL_H
#define LAKEAPI_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "lakeapi/api.h"
#include "lakeapi/http.h"
#include "lakeapi/http_server.h"
#include "lakeapi/json.h"

/* ---- table descriptors (table.c) ---- */

typedef enum {
    API_COL_INT,       /* int2/4/8: JSON number, copied as text */
    API_COL_NUMBER,    /* numeric: JSON number, copied as text (never via double) */
    API_COL_TEXT,      /* JSON string */
    API_COL_DATE,      /* "YYYY-MM-DD" */
    API_COL_TIMESTAMP, /* "YYYY-MM-DDTHH:MM:SS[.ffffff]" */
    API_COL_BOOL,
} api_col_kind_t;

typedef struct api_column {
    const char *name;
    api_col_kind_t kind;
} api_column_t;

typedef struct api_table {
    char *sql_name;           /* quoted, schema-qualified: "public"."orders_synced" */
    const char *key;          /* key column (bigint, ascending order) */
    const api_column_t *cols; /* in JSON key order */
    int ncols;
    char *select_list; /* "o_orderkey", "o_custkey", ... */
    char **key_prefix; /* per column: `{"name":` for the first, `,"name":` after */
    size_t *key_prefix_len;
    size_t row_overhead; /* bytes of a row that are not values */
} api_table_t;

/* qualified is "[schema.]name", already validated by config. */
int api_table_init(api_table_t *t, const char *qualified, const char *key, const api_column_t *cols,
                   int ncols);
void api_table_dispose(api_table_t *t);
/* Statement text builders; the caller frees. $n placeholders as documented. */
char *api_sql_get(const api_table_t *t);    /* $1 key */
char *api_sql_keyset(const api_table_t *t); /* $1 after key, $2 limit */
char *api_sql_offset(const api_table_t *t); /* $1 offset, $2 limit */
char *api_sql_count(const api_table_t *t);
char *api_sql_prev_cursor(const api_table_t *t);   /* $1 cursor, $2 page size */
char *api_sql_keys(const api_table_t *t);          /* $1 limit */
char *api_sql_anchors(const api_table_t *t);       /* $1 step: keys at positions step, 2*step.. */
char *api_sql_keyset_offset(const api_table_t *t); /* $1 after key, $2 offset, $3 limit */
char *api_sql_update_column(const api_table_t *t, const char *column); /* $1 key, $2 value */
/* INSERT of cols ($1..$n in that order) RETURNING the descriptor's columns. */
char *api_sql_insert(const api_table_t *t, const char *const *cols, int n);
/* Partial update: $1 key; column i gets $(3+2i) when the boolean $(2+2i) is true. RETURNING key. */
char *api_sql_update_partial(const api_table_t *t, const char *const *cols, int n);
char *api_sql_delete(const api_table_t *t);                        /* $1 key; RETURNING key */
char *api_sql_latest(const api_table_t *t, const char *order_col); /* $1 limit; newest first */
/* Writes row `row` of res as one JSON object in the descriptor's column order. */
void api_encode_row(json_writer_t *w, const api_table_t *t, const PGresult *res, int row);
void api_encode_rows(json_writer_t *w, const api_table_t *t, const PGresult *res, int nrows);

/* ---- derived views: cached count and page anchors (cache.c) ---- */

/* r->status != DB_OK means the count could not be had (value is then -1). */
typedef void (*api_count_fn)(const db_result_t *r, int64_t value, void *data);

typedef struct api_count_cache {
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
} api_count_cache_t;

void api_count_cache_init(api_count_cache_t *c, db_pool_t *pool, int stmt, double ttl_s);
/*
 * Calls fn with the count: at once from memory (refreshing in the background
 * when older than the TTL), or after the one shared query when there is no
 * value yet. Waiter records live in arena.
 */
void api_count_cache_get(api_count_cache_t *c, arena_t *arena, api_count_fn fn, void *data);
void api_count_cache_invalidate(api_count_cache_t *c);

typedef struct api_anchors {
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
} api_anchors_t;

void api_anchors_init(api_anchors_t *a, db_pool_t *pool, int stmt, int step, double ttl_s);
void api_anchors_dispose(api_anchors_t *a);
void api_anchors_invalidate(api_anchors_t *a);
/*
 * For a page at `offset`: true with the key to start after and the rows to
 * skip past it; false (use plain OFFSET) when offset is shallow or the
 * anchors are not built yet (a build is then started in the background).
 */
bool api_anchors_lookup(api_anchors_t *a, int64_t offset, int64_t *after_key, int64_t *rest);

/* ---- the application ---- */

struct api_app {
    uv_loop_t *loop;
    const config_t *cfg;
    db_pool_t *pool;
    api_table_t orders;
    struct {
        int count, sample, get, keyset, offset, prev_cursor, update_status, anchors, keyset_offset;
    } orders_sql;
    api_count_cache_t orders_count;
    api_anchors_t orders_anchors;
    api_table_t users;
    struct {
        int get, list, insert, update, del;
    } users_sql;
    api_table_t notes;
    struct {
        int latest, insert;
    } notes_sql;
    int ping_sql;
    uint64_t started_ns;
    /* operations (ops.c): built once every route is registered */
    const router_t *router;
    char *openapi_json; /* the cached document */
    size_t openapi_len;
    struct api_metrics *metrics;
    struct api_cors *cors; /* NULL when CORS is not configured */
    struct api_docs *docs;
    http_server_t *server;               /* api_app_attach(); NULL before */
    const db_credentials_t *credentials; /* api_app_attach(); may be NULL */
    /* Lakebase resource lifecycle (resources*.c) */
    workspace_t *workspace; /* api_app_set_workspace(); NULL: not configured */
    struct api_resources *resources;
};

int api_orders_register(api_app_t *app, router_t *r);
int api_ops_register(api_app_t *app, router_t *r);
int api_users_register(api_app_t *app, router_t *r);
int api_notes_register(api_app_t *app, router_t *r);     /* the notes API and the landing page */
int api_resources_register(api_app_t *app, router_t *r); /* Lakebase resource lifecycle */
void api_resources_dispose(api_app_t *app);

/* ---- validation in FastAPI's 422 shape (params.c) ---- */

/* Collects 422 items: {"type","loc":[where,name],"msg","input"[,"ctx"]}. */
typedef struct api_errors {
    buf_t buf;
    json_writer_t w;
    int count;
} api_errors_t;

void api_errors_init(api_errors_t *e);
void api_errors_dispose(api_errors_t *e);
/*
 * Adds one item. input may be NULL (written as null); ctx_json is a
 * pre-encoded object or NULL.
 */
void api_errors_add(api_errors_t *e, const char *type, const char *where, const char *name,
                    const char *msg, const char *input, const char *ctx_json);
/* The same with loc, input and ctx given as encoded JSON (input NULL -> null). */
void api_errors_add_raw(api_errors_t *e, const char *type, const char *loc_json, const char *msg,
                        const char *input_json, const char *ctx_json);
/*
 * Parses the request body as a JSON object for a FastAPI-style model. On
 * failure adds the 422 item (missing body, json_invalid, not an object) and
 * returns NULL; else a new jansson reference the caller json_decref()s.
 */
struct json_t *api_body_object(http_exchange_t *ex, api_errors_t *e);
/* Encodes a jansson value as JSON text into a malloc'd string (for "input"). */
char *api_json_text(const struct json_t *v);
/* Adds one item at ["body", field] with the offending JSON value as its input. */
void api_errors_add_body(api_errors_t *e, const char *type, const char *field, const char *msg,
                         const struct json_t *input, const char *ctx_json);
/*
 * Checks the JSON string v against pydantic's min_length/max_length in
 * characters (0: no bound); false after adding the item at ["body", field].
 */
bool api_body_string_length(api_errors_t *e, const char *field, const struct json_t *v,
                            int min_length, int max_length);
/* Adds an "extra_forbidden" item for every key of root not among fields[0..n). */
void api_body_forbid_extra(api_errors_t *e, struct json_t *root, const char *const *fields,
                           size_t n);

/* Parses s as a Python int (optional blanks, sign, digits); saturates beyond int64. */
bool api_parse_int(const char *s, int64_t *out);
/* FastAPI's bool words: true/false 1/0 yes/no on/off t/f y/n (any case). */
bool api_parse_bool(const char *s, bool *out);

typedef struct api_int_rule {
    int64_t def;
    bool has_min, has_max;
    int64_t min, max;
} api_int_rule_t;

/*
 * A declared parameter. The same declaration validates requests (below) and
 * describes the route in the OpenAPI document, so the two cannot drift.
 */
typedef enum { API_PARAM_INT, API_PARAM_BOOL, API_PARAM_STRING } api_param_type_t;

typedef struct api_param {
    const char *name;
    const char *in; /* "query" or "path" */
    api_param_type_t type;
    api_int_rule_t rule; /* API_PARAM_INT: default and bounds */
    bool bool_default;   /* API_PARAM_BOOL */
    int max_length;      /* API_PARAM_STRING: 0 = unbounded */
    bool required;       /* path parameters always are */
    const char *description;
    const char *const *choices; /* API_PARAM_STRING: allowed values, NULL-terminated; or NULL */
    const char *str_default;    /* API_PARAM_STRING: the default, or NULL */
} api_param_t;

typedef struct api_response_doc {
    int status; /* 0 ends the list */
    /*
     * components/schemas name of a JSON body; or a media type (it has a '/',
     * e.g. "text/html") for a body that is not JSON; NULL for no body.
     */
    const char *schema;
    const char *description;
} api_response_doc_t;

/* What OpenAPI says about a route; set as route_t.doc. */
typedef struct api_route_doc {
    const char *operation_id;
    const char *summary;
    const char *tag;
    const api_param_t *const *params;    /* NULL-terminated, or NULL */
    const char *body_schema;             /* request body schema name, or NULL */
    const api_response_doc_t *responses; /* terminated by {0} */
} api_route_doc_t;

/* A route as a resource file declares it: registered with router_add(..., &doc). */
typedef struct api_route {
    unsigned methods;
    const char *pattern;
    http_handler_fn fn;
    api_route_doc_t doc;
} api_route_t;

/* app.c: what every resource's registration does. */
/* Adds a statement to the pool and frees sql; returns the statement id. */
int api_prepare(api_app_t *app, char *sql, int nparams, db_stmt_kind_t kind);
/* Registers n declared routes with app as their data; -1 when the router refuses one. */
int api_add_routes(api_app_t *app, router_t *r, const api_route_t *routes, size_t n);

/* Responses most routes share. */
#define API_422                                                                                    \
    {                                                                                              \
        422, "HTTPValidationError", "Validation Error"                                             \
    }
#define API_DB_ERRORS                                                                              \
    {503, "HTTPError", "Database unavailable or pool exhausted (with Retry-After)"},               \
    {                                                                                              \
        504, "HTTPError", "Database statement timed out"                                           \
    }

/* For a required query parameter: false after adding FastAPI's "missing" item when it is absent. */
bool api_query_present(http_exchange_t *ex, const api_param_t *p, api_errors_t *e);
/* Query parameter p as an int with its bounds; on error adds to e and returns false. */
bool api_query_int(http_exchange_t *ex, const api_param_t *p, int64_t *out, api_errors_t *e);
bool api_query_bool(http_exchange_t *ex, const api_param_t *p, bool *out, api_errors_t *e);
/* Path parameter i as an int (any value; range checks are the handler's). */
bool api_path_int(http_exchange_t *ex, int i, const char *name, int64_t *out, api_errors_t *e);

/* ---- responses (respond.c) ---- */

/* Starts a JSON writer over the exchange's body buffer. */
void api_json_begin(http_exchange_t *ex, json_writer_t *w);
void api_send_json(http_exchange_t *ex, int status);
/* {key: value}, value a string */
void api_send_field(http_exchange_t *ex, int status, const char *key, const char *value);
/* {"detail": detail} */
void api_send_detail(http_exchange_t *ex, int status, const char *detail);
/* 200 with the first nrows rows of res as a JSON array, in the descriptor's shape. */
void api_send_rows(http_exchange_t *ex, const api_table_t *t, const PGresult *res, int nrows);
/* status with row `row` of res as one JSON object. */
void api_send_row(http_exchange_t *ex, int status, const api_table_t *t, const PGresult *res,
                  int row);
/* 422 {"detail": [items]}; disposes e. */
void api_send_errors(http_exchange_t *ex, api_errors_t *e);
/*
 * The end of a handler's validation: true when e holds items, which are then
 * answered as a 422; false when there are none. Either way e is disposed.
 */
bool api_send_errors_if_any(http_exchange_t *ex, api_errors_t *e);
/* "Database credentials unavailable: <the provider's secret-free reason>" (arena). */
const char *api_credentials_detail(http_exchange_t *ex, const db_result_t *r);
/* Maps a failed db_result_t to its status and a safe message (never server text). */
void api_send_db_error(http_exchange_t *ex, const db_result_t *r);
/*
 * A statement's answer: notes its pool wait on the exchange; true when it
 * succeeded, else the error has been answered (api_send_db_error).
 */
bool api_db_ok(http_exchange_t *ex, const db_result_t *r);

/* Number of rows / value helpers on text-format results. */
int64_t api_result_int(const PGresult *res, int row, int col);
/* v as decimal text in the request arena (a statement parameter). */
const char *api_i64_text(http_exchange_t *ex, int64_t v);

/* ---- operations: OpenAPI, metrics, CORS, Swagger UI ---- */

typedef struct api_metrics api_metrics_t;
typedef struct api_cors api_cors_t;
typedef struct api_docs api_docs_t;

/* ops.c: builds the above once every resource has registered its routes. */
int api_ops_finish(api_app_t *app, const router_t *r, char *err, size_t errlen);
void api_ops_dispose(api_app_t *app);

/*
 * openapi.c: the OpenAPI 3.1 document of every route in r, as malloc'd JSON
 * text. Returns 0, or -1 when a route names a schema openapi.c does not
 * define (err names it; the text is still built, with the dangling $ref).
 */
int api_openapi_build(const api_app_t *app, const router_t *r, char **json, size_t *len, char *err,
                      size_t errlen);
void api_openapi_handler(http_exchange_t *ex, void *data); /* data: the app */

/* metrics.c: the observer feeds it; the handler renders Prometheus text. */
api_metrics_t *api_metrics_new(const router_t *r);
void api_metrics_free(api_metrics_t *m);
void api_metrics_observe(const http_exchange_info_t *info, void *data); /* data: metrics */
void api_metrics_render(const api_metrics_t *m, const api_app_t *app, buf_t *out);
void api_metrics_handler(http_exchange_t *ex, void *data); /* data: the app */

/*
 * cors.c: *out stays NULL when origins is unset or blank (no CORS at all).
 * Returns -1 with err naming CORS_ALLOW_ORIGINS on a malformed origin.
 */
int api_cors_new(const char *origins, bool credentials, const router_t *r, api_cors_t **out,
                 char *err, size_t errlen);
void api_cors_free(api_cors_t *c);
bool api_cors_pre_route(http_exchange_t *ex, void *data); /* http_pre_route_fn; data: cors */

/* static.c: the Swagger UI files from dir (NULL: the default places); never NULL. */
api_docs_t *api_docs_load(const char *dir);
void api_docs_free(api_docs_t *d);
bool api_docs_ready(const api_docs_t *d);
void api_docs_page_handler(http_exchange_t *ex, void *data); /* data: the app */
void api_docs_file_handler(http_exchange_t *ex, void *data);

#endif
