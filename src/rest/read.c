/*
 * rest/read - GET and HEAD: the rows as PostgreSQL's JSON, the singular
 * object, and counts in Content-Range.
 *
 * Counts (Prefer: count=...):
 *  - exact: the filtered count in the same statement; for a whole table
 *    (no filter) the shared per-table count cache answers from memory;
 *  - planned: the planner's row estimate (EXPLAIN of the count), pipelined
 *    beside the read;
 *  - estimated: the planned figure, unless it is under DB_MAX_ROWS, where
 *    an exact count is affordable and is made instead (PostgREST's rule).
 * A partial answer is 206, an offset past the end 416 (PGRST103).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "rest/export.h"
#include "rest/export_json.h"
#include "rest/rest.h"

static void rd_finish(rest_req_t *rq);

static long rd_effective_limit(const rest_req_t *rq)
{
    long limit = rq->limit;
    long max = rq->app->max_rows;
    if (max > 0 && (limit < 0 || limit > max)) limit = max;
    return limit;
}

static void rd_done_one(rest_req_t *rq)
{
    if (--rq->pending > 0) return;
    if (rq->failed)
        rest_req_fail(rq, &rq->err);
    else
        rd_finish(rq);
}

/*
 * Every statement's answer comes back before the response goes out (the
 * request lives in the exchange's arena): a failure is kept and answered
 * when the last one is in.
 */
static bool rd_ok(rest_req_t *rq, const db_result_t *r)
{
    http_exchange_note_pool_wait(rq->ex, r->wait_ms);
    if (r->status == DB_OK && !rq->failed) return true;
    if (r->status != DB_OK && !rq->failed) {
        rq->failed = true;
        rest_error_from_db(rq->ex, r, &rq->err);
    }
    rd_done_one(rq);
    return false;
}

/*
 * The plain rows, written here as json_agg() would have written them: the
 * server only runs the SELECT (json_agg cost it more than twice the query).
 * The snapshot said every column's type is one export_json encodes; if the
 * result disagrees, the table changed under the snapshot: reload, and 503.
 */
static void rd_rows_encode(rest_req_t *rq, const PGresult *res)
{
    /* The table's plan when the result has its columns (select=*), else one of its own. */
    rest_ej_plan_t own;
    const rest_ej_plan_t *plan = &rq->t->rows_plan;
    bool mine = !rest_ej_plan_fits(plan, res);
    if (mine) {
        if (!rest_ej_plan_init(&own, res)) {
            rest_reload(rq->app);
            rq->failed = true;
            rest_error_set(&rq->err, http_exchange_arena(rq->ex), 503, "PGRST002",
                           "The schema cache is out of date", "a column's type changed; reloading",
                           "Retry the request");
            return;
        }
        plan = &own;
    }
    buf_t *b = http_exchange_body_buf(rq->ex);
    buf_reset(b);
    rest_ej_array(plan, res, b);
    if (mine) rest_ej_plan_free(&own);
    rq->nrows = PQntuples(res);
    if (rq->cursor_from_row && rq->nrows > 0)
        rq->cursor_last = rest_read_cursor_of_row(rq, res, (int)rq->nrows - 1);
}

static void rd_rows_done(const db_result_t *r, void *data)
{
    rest_req_t *rq = data;
    if (!rd_ok(rq, r)) return;
    if (rq->rows_form) {
        rd_rows_encode(rq, r->res);
        rd_done_one(rq);
        return;
    }
    arena_t *a = http_exchange_arena(rq->ex);
    rq->body = arena_strndup(a, PQgetvalue(r->res, 0, 0), (size_t)PQgetlength(r->res, 0, 0));
    rq->nrows = strtoll(PQgetvalue(r->res, 0, 1), NULL, 10);
    if (PQnfields(r->res) > 2 && rq->cursor_col != 2 && !PQgetisnull(r->res, 0, 2))
        rq->total = strtoll(PQgetvalue(r->res, 0, 2), NULL, 10);
    if (rq->cursor_col > 0 && PQnfields(r->res) > rq->cursor_col &&
        !PQgetisnull(r->res, 0, rq->cursor_col))
        rq->cursor_last = arena_strdup(a, PQgetvalue(r->res, 0, rq->cursor_col));
    rd_done_one(rq);
}

static bool rd_fail_build(rest_req_t *rq, int rc, rest_error_t *e);

static void rd_cursor_done(const db_result_t *r, void *data)
{
    rest_req_t *rq = data;
    if (!rd_ok(rq, r)) return;
    if (PQntuples(r->res) == 1)
        rq->cursor_last = arena_strdup(http_exchange_arena(rq->ex), PQgetvalue(r->res, 0, 0));
    rd_done_one(rq);
}

/* The page's last sort values, beside the read, when the page may be followed by more. */
static void rd_cursor(rest_req_t *rq, const rest_read_opts_t *o)
{
    rest_error_t e;
    rest_sql_t s;
    rest_sql_init(&s, http_exchange_arena(rq->ex));
    int rc = rest_read_cursor_sql(&s, rq, o, o->offset + o->limit - 1, &e);
    const char *sql = rest_sql_finish(&s);
    if (rd_fail_build(rq, rc, &e)) return;
    rest_req_query(rq, sql, &s, DB_STMT_READ, rd_cursor_done);
}

static void rd_count_done(const db_result_t *r, void *data)
{
    rest_req_t *rq = data;
    if (!rd_ok(rq, r)) return;
    rq->total = strtoll(PQgetvalue(r->res, 0, 0), NULL, 10);
    rd_done_one(rq);
}

static void rd_cached_count(const db_result_t *r, int64_t value, void *data)
{
    rest_req_t *rq = data;
    if (!rd_ok(rq, r)) return;
    rq->total = value;
    rd_done_one(rq);
}

/* "Plan Rows" of EXPLAIN (FORMAT JSON): [{"Plan": {"Plan Rows": N, ...}}] */
static int64_t rd_plan_rows(const char *json)
{
    json_t *root = json_loads(json, 0, NULL);
    json_t *n = json_object_get(json_object_get(json_array_get(root, 0), "Plan"), "Plan Rows");
    int64_t v = json_is_number(n) ? (int64_t)json_number_value(n) : -1;
    json_decref(root);
    return v;
}

static void rd_exact_count(rest_req_t *rq);

static void rd_planned_done(const db_result_t *r, void *data)
{
    rest_req_t *rq = data;
    if (!rd_ok(rq, r)) return;
    int64_t planned = rd_plan_rows(PQgetvalue(r->res, 0, 0));
    if (rq->prefer.count == REST_COUNT_ESTIMATED && planned <= rq->app->max_rows) {
        rd_exact_count(rq); /* small enough to count exactly */
        return;
    }
    rq->total = planned;
    rd_done_one(rq);
}

/* A statement that could not be built counts as answered (with its error). */
static bool rd_fail_build(rest_req_t *rq, int rc, rest_error_t *e)
{
    if (rc == 0) return false;
    if (!rq->failed) rq->err = *e;
    rq->failed = true;
    rd_done_one(rq);
    return true;
}

static bool rd_whole_table(const rest_req_t *rq)
{
    if (rq->q.has_filters || rest_req_has_role(rq)) return false;
    for (int i = 0; rq->q.select && i < rq->q.select->nitems; i++)
        if (rq->q.select->items[i].inner) return false;
    return true;
}

static void rd_exact_count(rest_req_t *rq)
{
    rest_error_t e;
    if (rd_whole_table(rq) && rq->app->counts) {
        web_count_cache_t *c = web_counts_table(rq->app->counts, rq->t->qname);
        web_count_cache_get(c, http_exchange_arena(rq->ex), rd_cached_count, rq);
        return;
    }
    rest_sql_t s;
    rest_sql_init(&s, http_exchange_arena(rq->ex));
    int rc = rest_sql_count(&s, rq->snap, rq->t, &rq->q, &e);
    const char *sql = rest_sql_finish(&s);
    if (rd_fail_build(rq, rc, &e)) return;
    rest_req_query(rq, sql, &s, DB_STMT_READ, rd_count_done);
}

static void rd_planned(rest_req_t *rq)
{
    rest_error_t e;
    rest_sql_t s;
    rest_sql_init(&s, http_exchange_arena(rq->ex));
    int rc = rest_sql_count_planned(&s, rq->snap, rq->t, &rq->q, &e);
    const char *sql = rest_sql_finish(&s);
    if (rd_fail_build(rq, rc, &e)) return;
    rest_req_query(rq, sql, &s, DB_STMT_READ, rd_planned_done);
}

static void rd_export_error(http_exchange_t *ex, const db_result_t *r, void *data)
{
    (void)data;
    rest_send_db_error(ex, r);
}

/*
 * NDJSON / CSV: every matching row, streamed (rest/export): DB_MAX_ROWS does
 * not apply, limit/offset do. The export runs on a leased connection of its
 * own, under the request's role and settings when it has one (as every read).
 */
static void rd_export(rest_req_t *rq)
{
    rest_error_t e;
    rest_read_opts_t o = {.offset = rq->offset, .limit = rq->limit};
    rest_sql_t s;
    rest_sql_init(&s, http_exchange_arena(rq->ex));
    int rc = rest_sql_rows(&s, rq->snap, rq->t, &rq->q, &o, &e);
    const char *sql = rest_sql_finish(&s);
    if (rc) {
        rest_req_fail(rq, &e);
        return;
    }
    rest_snapshot_t *snap = rq->snap; /* the export copies the SQL: the snapshot is done with */
    rq->snap = NULL;
    rest_export_opts_t eo = {.send_error = rd_export_error};
    rest_export_start(rq->ex, rq->app->pool, (rest_export_format_t)rq->export_fmt, sql, s.nparams,
                      s.params, &eo);
    rest_snapshot_unref(snap);
}

void rest_read(rest_req_t *rq)
{
    rest_error_t e;
    if (rq->export_fmt) {
        rd_export(rq);
        return;
    }
    rest_read_opts_t o = {.offset = rq->offset, .limit = rd_effective_limit(rq)};
    rest_count_t count = rq->prefer.count;
    bool cached = count == REST_COUNT_EXACT && rd_whole_table(rq) && rq->app->counts;
    o.with_total = count == REST_COUNT_EXACT && !cached;
    if (rest_read_cursor_prepare(rq, &o, &e)) {
        rest_req_fail(rq, &e);
        return;
    }
    rq->page_limit = o.limit;
    bool link = rq->cursor_plan && o.limit > 0 && !rq->singular;
    rq->rows_form = !o.with_total && rest_sql_rows_encodable(rq->t, &rq->q);
    if (link && rq->rows_form && rest_read_cursor_selected(rq)) {
        rq->cursor_from_row = true; /* the last row has them */
        link = false;
    } else if (link && !rq->rows_form && (o.extra_outer = rest_read_cursor_outer(rq)) != NULL) {
        rq->cursor_col = o.with_total ? 3 : 2; /* in the read itself */
        link = false;
    }
    rest_sql_t s;
    rest_sql_init(&s, http_exchange_arena(rq->ex));
    int rc = rq->rows_form ? rest_sql_rows(&s, rq->snap, rq->t, &rq->q, &o, &e)
                           : rest_sql_read(&s, rq->snap, rq->t, &rq->q, &o, &e);
    const char *sql = rest_sql_finish(&s);
    if (rc) {
        rest_req_fail(rq, &e);
        return;
    }
    rq->pending =
        1 + (cached || count == REST_COUNT_PLANNED || count == REST_COUNT_ESTIMATED) + link;
    rest_req_query(rq, sql, &s, DB_STMT_READ, rd_rows_done);
    if (link) rd_cursor(rq, &o);
    if (cached)
        rd_exact_count(rq);
    else if (count == REST_COUNT_PLANNED || count == REST_COUNT_ESTIMATED)
        rd_planned(rq);
}

/* The array's text in the body buffer. */
static buf_t *rd_body(rest_req_t *rq)
{
    buf_t *b = http_exchange_body_buf(rq->ex);
    if (rq->rows_form) return b; /* written there by rd_rows_encode */
    buf_reset(b);
    buf_append_str(b, rq->body);
    return b;
}

/* [{...}] -> {...}: the array of exactly one row. */
static void rd_send_object(rest_req_t *rq)
{
    buf_t *b = rd_body(rq);
    char *s = memchr(b->data, '[', b->len), *e = b->len ? strrchr(b->data, ']') : NULL;
    size_t n = s && e && e > s ? (size_t)(e - s - 1) : 0;
    if (n) memmove(b->data, s + 1, n);
    b->len = n;
    b->data[n] = '\0';
    rest_req_send(rq, 200, rq->content_type);
}

/*
 * `lower-upper/total` (`*` for an unknown total); with no rows, a `*` in place of the range.
 * Written by hand: two printf calls were a twentieth of a read by key.
 */
static const char *rd_content_range(arena_t *a, long lower, long long nrows, long long total)
{
    char *out = arena_alloc(a, 3 * 24), *p = out;
    if (nrows > 0) {
        p = buf_i64_put(p, lower);
        *p++ = '-';
        p = buf_i64_put(p, lower + nrows - 1);
    } else {
        *p++ = '*';
    }
    *p++ = '/';
    if (total >= 0)
        p = buf_i64_put(p, total);
    else
        *p++ = '*';
    *p = '\0';
    return out;
}

static void rd_finish(rest_req_t *rq)
{
    arena_t *a = http_exchange_arena(rq->ex);
    if (rq->singular && rq->nrows != 1) {
        rest_error_t e;
        rest_error_set(&e, a, 406, "PGRST116", "Cannot coerce the result to a single JSON object",
                       arena_sprintf(a, "The result contains %lld rows", (long long)rq->nrows),
                       NULL);
        rest_req_fail(rq, &e);
        return;
    }
    long lower = rq->offset;
    if (rq->total >= 0 && lower > rq->total) {
        rest_error_t e;
        http_exchange_add_header(rq->ex, "Content-Range",
                                 arena_sprintf(a, "*/%lld", (long long)rq->total));
        rest_error_set(
            &e, a, 416, "PGRST103", "Requested range not satisfiable",
            arena_sprintf(a, "An offset of %ld was requested, but there are only %lld rows.", lower,
                          (long long)rq->total),
            NULL);
        rest_req_fail(rq, &e);
        return;
    }
    http_exchange_add_header(
        rq->ex, "Content-Range",
        rd_content_range(a, lower, (long long)rq->nrows, (long long)rq->total));
    int status = rq->total >= 0 && rq->nrows < rq->total ? 206 : 200;
    if (rq->cursor_last && rq->nrows == rq->page_limit) rest_read_cursor_link(rq);
    if (rq->singular) {
        rd_send_object(rq);
        return;
    }
    rd_body(rq);
    rest_req_send(rq, status, rq->content_type);
}
