/*
 * rest/export - NDJSON and CSV export of a SELECT, streamed (see export.h).
 *
 * Glue between two flows with back-pressure: db_stream (batches from a cursor)
 * and http_stream (chunks to the client). Each batch is encoded into one
 * buffer and written at once; a write past the high-water mark pauses the
 * cursor, on_drain resumes it, on_gone cancels it. The HTTP response starts
 * with the first batch, so an error before any row (bad SQL, timeout, no
 * connection) still gets a real status; an error after that aborts the body.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "lakeapi/json.h"
#include "rest/export.h"
#include "rest/export_json.h"

typedef struct export_job {
    http_exchange_t *ex;
    db_stream_t *s; /* NULL once it has ended */
    rest_export_format_t fmt;
    rest_export_opts_t opts;
    bool started; /* http_stream_begin() called */
    bool single_column;
    rest_ej_plan_t plan; /* NDJSON encoded here (else row_to_json() on the server) */
    char *sql;           /* the caller's SELECT, for the fallback */
    char *fallback;      /* the row_to_json() SELECT, when the plan cannot encode a type */
} export_t;

/* ---- formats ---- */

static bool export_media_is(const char *p, size_t n, const char *type)
{
    return strlen(type) == n && strncasecmp(p, type, n) == 0;
}

rest_export_format_t rest_export_format_from_accept(const char *accept)
{
    if (!accept) return 0;
    const char *p = accept;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ')
            p++;
        size_t n = (size_t)(p - start);
        if (export_media_is(start, n, "application/x-ndjson")) return REST_EXPORT_NDJSON;
        if (export_media_is(start, n, "text/csv")) return REST_EXPORT_CSV;
        if (n > 0) return 0; /* JSON or anything else listed first wins */
        while (*p && *p != ',')
            p++; /* parameters (q=...) */
    }
    return 0;
}

const char *rest_export_content_type(rest_export_format_t fmt)
{
    return fmt == REST_EXPORT_CSV ? "text/csv; charset=utf-8" : "application/x-ndjson";
}

/* NDJSON the server writes: one row_to_json() text per row. */
static char *export_fallback_sql(const char *sql)
{
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "SELECT row_to_json(lakeapi_row.*)::text FROM (%s) lakeapi_row", sql);
    return buf_steal(&b);
}

/* ---- encoders ---- */

/* One field into reserved space (2n + 2 bytes at most); returns the new end. */
static char *csv_put(char *w, const char *v, size_t n, bool single_column)
{
    if (!v) return w; /* NULL: an empty, unquoted field */
    bool quote = n == 0 || (single_column && n == 2 && v[0] == '\\' && v[1] == '.');
    for (size_t i = 0; i < n && !quote; i++) {
        char c = v[i];
        quote = c == ',' || c == '"' || c == '\n' || c == '\r';
    }
    if (!quote) {
        memcpy(w, v, n);
        return w + n;
    }
    *w++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '"') *w++ = '"';
        *w++ = v[i];
    }
    *w++ = '"';
    return w;
}

void rest_csv_field(buf_t *b, const char *v, size_t n, bool single_column)
{
    buf_reserve(b, 2 * n + 2);
    b->len = (size_t)(csv_put(b->data + b->len, v, n, single_column) - b->data);
    b->data[b->len] = '\0';
}

void rest_ndjson_line(buf_t *b, const char *json, size_t n)
{
    size_t at = b->len;
    buf_append(b, json, n);
    buf_append_char(b, '\n');
    /* Raw CR/LF can only be whitespace between JSON tokens (from a json column). */
    char *p = b->data + at, *end = b->data + at + n;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL)
        *p++ = ' ';
    p = b->data + at;
    while ((p = memchr(p, '\r', (size_t)(end - p))) != NULL)
        *p++ = ' ';
}

static void export_csv_batch(export_t *e, const PGresult *res, buf_t *b, bool header)
{
    int nf = PQnfields(res), nt = PQntuples(res);
    if (header) {
        e->single_column = nf == 1;
        for (int j = 0; j < nf; j++) {
            if (j) buf_append_char(b, ',');
            const char *name = PQfname(res, j);
            rest_csv_field(b, name, strlen(name), e->single_column);
        }
        buf_append_char(b, '\n');
    }
    for (int i = 0; i < nt; i++) {
        size_t need = (size_t)nf + 1;
        for (int j = 0; j < nf; j++)
            need += 2 * (size_t)PQgetlength(res, i, j) + 2;
        buf_reserve(b, need); /* then one pass through a raw pointer */
        char *w = b->data + b->len;
        for (int j = 0; j < nf; j++) {
            if (j) *w++ = ',';
            const char *v = PQgetisnull(res, i, j) ? NULL : PQgetvalue(res, i, j);
            w = csv_put(w, v, v ? (size_t)PQgetlength(res, i, j) : 0, e->single_column);
        }
        *w++ = '\n';
        b->len = (size_t)(w - b->data);
        b->data[b->len] = '\0';
    }
}

static void export_ndjson_batch(export_t *e, const PGresult *res, buf_t *b)
{
    int nt = PQntuples(res);
    if (e->plan.ready) {
        for (int i = 0; i < nt; i++)
            rest_ej_row(&e->plan, res, i, b);
        return;
    }
    for (int i = 0; i < nt; i++)
        rest_ndjson_line(b, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
}

/* ---- the glue ---- */

static void export_free(export_t *e)
{
    rest_ej_plan_free(&e->plan);
    free(e->sql);
    free(e->fallback);
    free(e);
}

static void export_on_drain(http_exchange_t *ex, void *data)
{
    (void)ex;
    export_t *e = data;
    if (e->s) db_stream_resume(e->s);
}

static void export_on_gone(http_exchange_t *ex, void *data)
{
    export_t *e = data;
    if (e->s) db_stream_cancel(e->s);
    e->s = NULL;
    http_stream_end(ex);
    export_free(e);
}

static const http_stream_ops_t export_http_ops = {export_on_drain, export_on_gone};

static void export_begin(export_t *e)
{
    if (e->started) return;
    http_stream_begin(e->ex, 200, rest_export_content_type(e->fmt), &export_http_ops, e);
    e->started = true;
}

static void export_on_rows(db_stream_t *s, const PGresult *res, void *data)
{
    export_t *e = data;
    bool first = !e->started;
    export_begin(e);
    /* Straight into the response's pending bytes: no copy in between. */
    buf_t *b = http_stream_buf(e->ex);
    if (e->fmt == REST_EXPORT_CSV)
        export_csv_batch(e, res, b, first);
    else
        export_ndjson_batch(e, res, b);
    if (!http_stream_commit(e->ex)) db_stream_pause(s);
}

/* A PostgREST-shaped error with a generic message: the server's text stays in the log. */
static void export_default_error(http_exchange_t *ex, const db_result_t *r)
{
    int status = 500;
    const char *msg = "the export failed";
    switch (r->status) {
    case DB_ERR_UNAVAILABLE:
    case DB_ERR_POOL_TIMEOUT:
    case DB_ERR_CREDENTIALS:
        status = 503;
        msg = "the database is not available";
        http_exchange_add_header(ex, "Retry-After", "1");
        break;
    case DB_ERR_TIMEOUT:
        status = 504;
        msg = "the query took longer than the statement timeout";
        break;
    case DB_ERR_BAD_INPUT:
        status = 400;
        msg = "invalid input for the query";
        break;
    default:
        break;
    }
    buf_t *b = http_exchange_body_buf(ex);
    buf_reset(b);
    buf_append_str(b, "{\"code\":\"");
    const char *code = r->sqlstate && r->sqlstate[0] ? r->sqlstate : "PGRST000";
    json_escape_into(b, code, strlen(code));
    buf_append_str(b, "\",\"message\":\"");
    buf_append_str(b, msg);
    buf_append_str(b, "\",\"details\":null,\"hint\":null}");
    http_exchange_send(ex, status, "application/json");
}

static void export_on_end(db_stream_t *s, const db_result_t *r, void *data)
{
    (void)s;
    export_t *e = data;
    e->s = NULL;
    if (r->status == DB_OK) {
        export_begin(e); /* no rows at all: still a (CSV header-less) 200 */
        http_stream_end(e->ex);
    } else if (e->started) {
        http_stream_abort(e->ex);
    } else if (e->opts.send_error) {
        e->opts.send_error(e->ex, r, e->opts.data);
    } else {
        export_default_error(e->ex, r);
    }
    export_free(e);
}

/* NDJSON: encode here when every column's type allows, else let the server. */
static const char *export_on_describe(db_stream_t *s, const PGresult *desc, void *data)
{
    (void)s;
    export_t *e = data;
    if (rest_ej_plan_init(&e->plan, desc)) return NULL;
    e->fallback = export_fallback_sql(e->sql);
    return e->fallback;
}

static const db_stream_ops_t export_csv_ops = {export_on_rows, export_on_end, NULL};
static const db_stream_ops_t export_ndjson_ops = {export_on_rows, export_on_end,
                                                  export_on_describe};

void rest_export_start(http_exchange_t *ex, db_pool_t *pool, rest_export_format_t fmt,
                       const char *sql, int nparams, const char *const *values,
                       const rest_export_opts_t *opts)
{
    export_t *e = calloc(1, sizeof *e);
    if (!e) abort();
    e->ex = ex;
    e->fmt = fmt == REST_EXPORT_CSV ? REST_EXPORT_CSV : REST_EXPORT_NDJSON;
    if (opts) e->opts = *opts;
    if (http_exchange_method(ex) == HTTP_HEAD) {
        /* The head a GET would get, without running the export. */
        export_begin(e);
        http_stream_end(ex);
        export_free(e);
        return;
    }
    int batch = e->opts.batch_rows > 0 ? e->opts.batch_rows : REST_EXPORT_BATCH;
    e->sql = strdup(sql);
    if (!e->sql) abort();
    const db_stream_ops_t *ops = e->fmt == REST_EXPORT_CSV ? &export_csv_ops : &export_ndjson_ops;
    /* A request with a role of its own reads as that role, in the cursor's transaction. */
    db_session_t session;
    if (auth_db_session(ex, &session))
        e->s = db_stream_open_as(pool, &session, sql, nparams, values, batch, ops, e);
    else
        e->s = db_stream_open(pool, sql, nparams, values, batch, ops, e);
    if (!e->s) {
        db_result_t r = {.status = DB_ERR_UNAVAILABLE};
        export_on_end(NULL, &r, e);
    }
}
