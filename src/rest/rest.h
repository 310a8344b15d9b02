/*
 * rest - the Data API: any table or view of LAKEAPI_SCHEMAS served under
 * REST_PREFIX (default /rest/v1) in PostgREST's grammar.
 *
 * This folder owns: the grammar (grammar*.c: URL and header syntax into an
 * AST, backend-neutral, reused by the lakehouse backend), the schema snapshot
 * (schema.c) and its reload (app.c: NOTIFY, SIGUSR1, atomic switch), the SQL
 * builder over snapshot names only (sql*.c), the request handlers (read.c,
 * write.c) and PostgREST's error shapes and SQLSTATE mapping (errors.c), and
 * the OpenAPI of the discovered tables (openapi.c). Streaming export
 * (export.*) and keyset cursor tokens (cursor.*) live here too.
 *
 * May include: web, auth, http, db, json, config, log, util. Never api or lakehouse.
 */
#ifndef LAKEAPI_REST_H
#define LAKEAPI_REST_H

#include <stdbool.h>
#include <stdint.h>

#include "lakeapi/rest.h"
#include "rest/grammar.h"
#include "rest/schema.h"
#include "rest/sql.h"
#include "web/web.h"

struct rest_app {
    uv_loop_t *loop;
    const config_t *cfg;
    db_pool_t *pool;
    router_t *router;
    web_openapi_t *openapi;    /* borrowed; NULL: no document */
    struct web_counts *counts; /* borrowed; NULL: counts are never cached */
    char **schemas;
    int nschemas;
    char *schemas_param; /* {"public","x"}: the catalog statement's $1 */
    char *pattern;       /* "<prefix>/{table}" */
    char *prefix;
    long max_rows;
    bool unfiltered_writes;
    rest_limits_t limits;
    rest_snapshot_t *snap; /* current; NULL until the first load */
    /* reload */
    bool loading, reload_again, stopped, closing_free;
    int open_handles;
    uint64_t load_started_ns;
    const char *load_params[1];
    uint64_t versions;
    uint64_t reloads, reload_failures;
    uv_timer_t debounce; /* NOTIFYs within it coalesce into one load; retries a failed first load */
    uv_signal_t sigusr1;
    struct db_listen *listen;
    void (*publish)(struct rest_snapshot *snap, void *data); /* WORKERS > 1: the leader's */
    void *publish_data;
};

/* app.c */
/* Asks for a reload (debounced). */
void rest_reload(rest_app_t *app);

/* errors.c: PostgREST's {code, message, details, hint} */
void rest_send_error(http_exchange_t *ex, const rest_error_t *e);
/*
 * A failed statement, mapped as PostgREST maps SQLSTATEs; the server's
 * message, detail and hint pass through (copied into the exchange's arena).
 * Adds Retry-After to ex when the failure is transient.
 */
void rest_error_from_db(http_exchange_t *ex, const db_result_t *r, rest_error_t *e);
void rest_send_db_error(http_exchange_t *ex, const db_result_t *r);
/* The HTTP status PostgREST gives a SQLSTATE. */
int rest_sqlstate_status(const char *sqlstate, bool authenticated);

/* handler.c: one route for every method */
void rest_handler(http_exchange_t *ex, void *data);

/* read.c / write.c: a parsed request of one table */
typedef struct rest_req {
    http_exchange_t *ex;
    rest_app_t *app;
    rest_snapshot_t *snap; /* a reference, dropped when the answer is sent */
    const rest_table_t *t;
    rest_query_t q;
    rest_prefer_t prefer;
    long offset, limit; /* the query's and the Range header's, merged */
    bool singular;      /* Accept: application/vnd.pgrst.object+json */
    int export_fmt;     /* Accept: application/x-ndjson or text/csv (rest_export_format_t) */
    bool head;
    /* read state */
    int pending;
    bool failed;
    rest_error_t err; /* the first failure, answered when every statement is back */
    int64_t total;    /* -1 unknown */
    const char *body; /* json_agg's array text; NULL when rows_form wrote the body buffer */
    bool rows_form;   /* plain rows, encoded here (rest_sql_rows_encodable) */
    int64_t nrows;
    const char *content_type;
    /* keyset cursors (read_cursor.c) */
    void *cursor_plan;       /* the total order and the decoded cursor=, or NULL */
    const char *cursor_last; /* JSON array of the page's last sort values, or NULL */
    long page_limit;         /* the read's effective limit (-1 none) */
    int cursor_col;          /* the read's column holding them (rest_read_cursor_outer), or 0 */
    bool cursor_from_row;    /* rows_form: they come from the page's last row */
} rest_req_t;

void rest_read(rest_req_t *rq);
/*
 * read_cursor.c: an ordered read gets the primary key appended to its order,
 * cursor= becomes a keyset condition (o->extra_where); 0 or -1 with *e.
 */
int rest_read_cursor_prepare(rest_req_t *rq, rest_read_opts_t *o, rest_error_t *e);
/*
 * The read's extra output column with the page's last sort values, when they are in its
 * plain select list (one statement); NULL: use rest_read_cursor_sql beside it.
 */
const char *rest_read_cursor_outer(const rest_req_t *rq);
/* Are all the cursor's keys in the read's plain select list (as themselves)? */
bool rest_read_cursor_selected(const rest_req_t *rq);
/* The JSON array of the sort values of a plain result's row, as cursor_last; NULL if missing. */
const char *rest_read_cursor_of_row(const rest_req_t *rq, const PGresult *res, int row);
/* The statement fetching the sort values of the page's row number `last` (0-based). */
int rest_read_cursor_sql(rest_sql_t *s, const rest_req_t *rq, const rest_read_opts_t *o, long last,
                         rest_error_t *err);
/* Adds Link: <...&cursor=TOKEN>; rel="next" from rq->cursor_last. */
void rest_read_cursor_link(rest_req_t *rq);
void rest_write(rest_req_t *rq);
/* Runs sql under the request's identity (auth: its role, in one transaction). */
void rest_req_query(rest_req_t *rq, const char *sql, const rest_sql_t *s, db_stmt_kind_t kind,
                    db_result_fn cb);
/* The request runs as a role of its own: shared caches (counts) would see other rows. */
bool rest_req_has_role(const rest_req_t *rq);
/* Sends and drops the snapshot reference. */
void rest_req_send(rest_req_t *rq, int status, const char *content_type);
void rest_req_fail(rest_req_t *rq, const rest_error_t *e);
void rest_req_db_fail(rest_req_t *rq, const db_result_t *r);

/* openapi.c */
int rest_openapi_extend(struct json_t *root, void *data);

#endif
