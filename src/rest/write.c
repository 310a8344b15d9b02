/*
 * rest/write - POST (one object or a bulk array, upserts with
 * resolution=merge-duplicates|ignore-duplicates and on_conflict=), PUT (an
 * upsert of one row by its primary key), PATCH and DELETE with filters.
 *
 * Each request is one statement (sql_write.c), so one transaction; it is a
 * DB_STMT_WRITE for the pool, whose answer comes only once its batch has
 * committed: an acknowledged write is durable. PATCH and DELETE without a
 * filter are refused unless REST_ALLOW_UNFILTERED_WRITES is set. A write
 * through the Data API drops the table's cached count.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "rest/rest.h"

static int wr_fail(rest_req_t *rq, int status, const char *code, const char *msg,
                   const char *details, const char *hint)
{
    rest_error_t e;
    rest_error_set(&e, http_exchange_arena(rq->ex), status, code, msg, details, hint);
    rest_req_fail(rq, &e);
    return -1;
}

/* The keys the body sets: columns= if given, else the first object's keys. */
static int wr_columns(rest_req_t *rq, json_t *body, rest_write_opts_t *o)
{
    arena_t *a = http_exchange_arena(rq->ex);
    if (rq->q.columns) {
        o->columns = rq->q.columns;
        o->ncolumns = rq->q.ncolumns;
    } else {
        json_t *first = json_is_array(body) ? json_array_get(body, 0) : body;
        o->ncolumns = (int)json_object_size(first);
        o->columns = arena_alloc(a, sizeof *o->columns * (size_t)(o->ncolumns + 1));
        int i = 0;
        const char *k;
        json_t *v;
        json_object_foreach(first, k, v) o->columns[i++] = arena_strdup(a, k);
        /* every object of a bulk insert has the same keys (PostgREST's rule) */
        for (size_t j = 1; json_is_array(body) && j < json_array_size(body); j++) {
            json_t *obj = json_array_get(body, j);
            bool same = json_object_size(obj) == (size_t)o->ncolumns;
            for (int c = 0; same && c < o->ncolumns; c++)
                same = json_object_get(obj, o->columns[c]) != NULL;
            if (!same)
                return wr_fail(rq, 400, "PGRST102", "All object keys must match", NULL, NULL);
        }
    }
    for (int i = 0; i < o->ncolumns; i++) {
        int c = rest_table_column(rq->t, o->columns[i]);
        if (c < 0) {
            rest_error_t e;
            rest_err_column(&e, a, rq->t, o->columns[i]);
            rest_req_fail(rq, &e);
            return -1;
        }
        if (rq->t->cols[c].generated)
            return wr_fail(
                rq, 400, "428C9",
                arena_sprintf(a, "column \"%s\" can only be updated to DEFAULT", o->columns[i]),
                "Column is a generated column.", NULL);
    }
    return 0;
}

static json_t *wr_body(rest_req_t *rq)
{
    size_t len;
    const char *body = http_exchange_body(rq->ex, &len);
    /* jansson only inspects the body; PostgreSQL gets the text itself (numerics keep digits) */
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (!j && body && len) j = json_loadb(body, len, JSON_DECODE_INT_AS_REAL, NULL);
    bool ok = json_is_object(j);
    if (json_is_array(j)) {
        ok = true;
        for (size_t i = 0; ok && i < json_array_size(j); i++)
            ok = json_is_object(json_array_get(j, i));
    }
    if (!ok) {
        json_decref(j);
        wr_fail(rq, 400, "PGRST102", "Empty or invalid json", NULL, NULL);
        return NULL;
    }
    return j;
}

/* PUT: filters are exactly eq on every key column, and the body agrees with them. */
static int wr_put_checks(rest_req_t *rq, json_t *body)
{
    const rest_table_t *t = rq->t;
    const rest_cond_t *w = rq->q.scopes[0].where;
    if (rq->q.scopes[0].limit >= 0 || rq->q.scopes[0].offset > 0)
        return wr_fail(rq, 400, "PGRST114",
                       "limit/offset querystring parameters are not allowed for PUT", NULL, NULL);
    bool ok = t->npk > 0 && w->nkids == t->npk;
    for (int i = 0; ok && i < w->nkids; i++) {
        const rest_cond_t *c = w->kids[i];
        ok = c->kind == REST_COND_LEAF && c->op == REST_OP_EQ && !c->negate && !c->field.npath &&
             rest_table_column(t, c->field.name) >= 0 &&
             t->cols[rest_table_column(t, c->field.name)].in_pk;
    }
    if (!ok || (json_is_array(body) && json_array_size(body) != 1))
        return wr_fail(rq, 405, "PGRST105",
                       "Filters must include all and only primary key columns with 'eq' operators",
                       NULL, NULL);
    json_t *obj = json_is_array(body) ? json_array_get(body, 0) : body;
    for (int i = 0; i < w->nkids; i++) {
        json_t *v = json_object_get(obj, w->kids[i]->field.name);
        char *text =
            v ? (json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY))
              : NULL;
        bool same = text && !strcmp(text, w->kids[i]->value);
        free(text);
        if (!same)
            return wr_fail(rq, 400, "PGRST115",
                           "Payload values do not match URL in primary key column(s)", NULL, NULL);
    }
    return 0;
}

/* "lakeapi-rollback:N:LEN:<location><body>" from the error the statement raised on purpose. */
static bool wr_rollback_answer(rest_req_t *rq, const char *msg)
{
    const char *m = msg ? strstr(msg, REST_SQL_ROLLBACK_MARK) : NULL;
    if (!m) return false;
    char *end;
    m += strlen(REST_SQL_ROLLBACK_MARK);
    rq->nrows = strtoll(m, &end, 10);
    if (*end != ':') return false;
    long llen = strtol(end + 1, &end, 10);
    if (*end != ':' || llen < 0 || (size_t)llen > strlen(end + 1)) return false;
    const char *rest = end + 1;
    size_t total = strlen(rest);
    if (total && rest[total - 1] == '"') total--; /* the message closes its quote */
    arena_t *a = http_exchange_arena(rq->ex);
    rq->body = total > (size_t)llen ? arena_strndup(a, rest + llen, total - (size_t)llen) : NULL;
    return true;
}

static void wr_answer(rest_req_t *rq, const char *location);

static void wr_done(const db_result_t *r, void *data)
{
    rest_req_t *rq = data;
    http_exchange_note_pool_wait(rq->ex, r->wait_ms);
    if (r->lsn) web_split_note_lsn(rq->ex, r->lsn); /* read-your-writes with replicas */
    arena_t *a = http_exchange_arena(rq->ex);
    if (r->status != DB_OK) {
        const char *msg = r->res ? PQresultErrorField(r->res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        const char *mark = msg ? strstr(msg, REST_SQL_MAX_AFFECTED_MARK) : NULL;
        if (mark) {
            long n = strtol(mark + strlen(REST_SQL_MAX_AFFECTED_MARK), NULL, 10);
            wr_fail(rq, 400, "PGRST124", "Query result exceeds max-affected preference constraint",
                    arena_sprintf(a, "The query affects %ld rows", n), NULL);
            return;
        }
        if (wr_rollback_answer(rq, msg)) {
            wr_answer(rq, NULL);
            return;
        }
        rest_req_db_fail(rq, r);
        return;
    }
    if (rq->app->counts) web_counts_invalidate(rq->app->counts, rq->t->qname);
    rq->body = PQgetisnull(r->res, 0, 0) ? NULL : arena_strdup(a, PQgetvalue(r->res, 0, 0));
    rq->nrows = strtoll(PQgetvalue(r->res, 0, 1), NULL, 10);
    wr_answer(rq, PQgetisnull(r->res, 0, 2) ? NULL : arena_strdup(a, PQgetvalue(r->res, 0, 2)));
}

static void wr_answer(rest_req_t *rq, const char *location)
{
    http_exchange_t *ex = rq->ex;
    arena_t *a = http_exchange_arena(ex);
    http_method_t m = http_exchange_method(ex);
    bool repr = rq->prefer.ret == REST_RET_REPR;
    if (m == HTTP_POST && rq->prefer.ret == REST_RET_HEADERS && location)
        http_exchange_add_header(ex, "Location", arena_sprintf(a, "/%s?%s", rq->t->name, location));
    const char *total =
        rq->prefer.count == REST_COUNT_EXACT ? arena_sprintf(a, "%lld", (long long)rq->nrows) : "*";
    http_exchange_add_header(ex, "Content-Range",
                             m == HTTP_POST || rq->nrows == 0
                                 ? arena_sprintf(a, "*/%s", total)
                                 : arena_sprintf(a, "0-%lld/%s", (long long)rq->nrows - 1, total));
    buf_t *b = http_exchange_body_buf(ex);
    buf_reset(b);
    if (repr && rq->singular) {
        if (rq->nrows != 1) {
            wr_fail(rq, 406, "PGRST116", "Cannot coerce the result to a single JSON object",
                    arena_sprintf(a, "The result contains %lld rows", (long long)rq->nrows), NULL);
            return;
        }
        const char *body = rq->body ? rq->body : "[]";
        const char *s = strchr(body, '['), *e = strrchr(body, ']');
        if (s && e && e > s) buf_append(b, s + 1, (size_t)(e - s - 1));
        rest_req_send(rq, m == HTTP_POST ? 201 : 200, rq->content_type);
        return;
    }
    if (repr) {
        buf_append_str(b, rq->body ? rq->body : "[]");
        rest_req_send(rq, m == HTTP_POST ? 201 : 200, rq->content_type);
        return;
    }
    rest_req_send(rq, m == HTTP_POST ? 201 : 204, NULL);
}

static int wr_prepare(rest_req_t *rq, rest_write_opts_t *o, json_t **body)
{
    http_method_t m = http_exchange_method(rq->ex);
    arena_t *a = http_exchange_arena(rq->ex);
    o->kind = m == HTTP_POST    ? REST_W_INSERT
              : m == HTTP_PUT   ? REST_W_UPSERT_PUT
              : m == HTTP_PATCH ? REST_W_UPDATE
                                : REST_W_DELETE;
    o->want_rows = rq->prefer.ret == REST_RET_REPR;
    o->max_affected = rq->prefer.max_affected;
    o->rollback = rq->prefer.tx_rollback;
    o->resolution = rq->prefer.resolution;
    o->on_conflict = rq->q.on_conflict;
    o->non_conflict = rq->q.non_conflict;
    if ((o->kind == REST_W_UPDATE || o->kind == REST_W_DELETE) && !rq->q.has_filters &&
        !rq->app->unfiltered_writes)
        return wr_fail(rq, 400, "21000",
                       o->kind == REST_W_UPDATE ? "UPDATE requires a WHERE clause"
                                                : "DELETE requires a WHERE clause",
                       NULL, "Add a filter, or set REST_ALLOW_UNFILTERED_WRITES=true");
    if (o->kind == REST_W_DELETE) return 0;
    if (!(*body = wr_body(rq))) return -1;
    if (o->kind == REST_W_UPDATE && !json_is_object(*body))
        return wr_fail(rq, 400, "PGRST102", "Empty or invalid json", "PATCH takes one object",
                       NULL);
    if (o->kind == REST_W_UPSERT_PUT && wr_put_checks(rq, *body)) return -1;
    if (wr_columns(rq, *body, o)) return -1;
    size_t len;
    const char *text = http_exchange_body(rq->ex, &len);
    o->body = json_is_array(*body) || o->kind == REST_W_UPDATE
                  ? arena_strndup(a, text, len)
                  : arena_sprintf(a, "[%.*s]", (int)len, text);
    return 0;
}

void rest_write(rest_req_t *rq)
{
    rest_write_opts_t o = {0};
    json_t *body = NULL;
    int rc = wr_prepare(rq, &o, &body);
    json_decref(body);
    if (rc) return;
    rest_error_t e;
    rest_sql_t s;
    rest_sql_init(&s, http_exchange_arena(rq->ex));
    rc = rest_sql_write(&s, rq->snap, rq->t, &rq->q, &o, &e);
    const char *sql = rest_sql_finish(&s);
    if (rc) {
        rest_req_fail(rq, &e);
        return;
    }
    rest_req_query(rq, sql, &s, DB_STMT_WRITE, wr_done);
}
