/*
 * rest/sql_write - INSERT (bulk, upsert), PUT, UPDATE and DELETE as one
 * statement each:
 *
 *   WITH _w AS (<the write> RETURNING _t0.*)
 *   SELECT <json of the rows, shaped by select=>, count(*), <Location filter> FROM _w ...
 *
 * The body is ONE bound json parameter, turned into typed rows by
 * json_populate_recordset(NULL::<table>, $1): PostgreSQL converts each value
 * with the column's own type, so a bulk insert of 10,000 rows is one
 * statement with one parameter.
 *
 * Failing on purpose: `Prefer: max-affected` and `tx=rollback` need the
 * statement to roll back after it has done its work. In a pipelined pool the
 * statement is its own transaction, so the way to roll it back is to fail
 * it: an outer SELECT casts a marked text to int when the count is over the
 * limit (or always, for rollback, carrying the answer in the text). The
 * handler recognises the marks in the 22P02 message (REST_SQL_*_MARK).
 */
#include "rest/sql_internal.h"

#include <string.h>

static void sw_column_list(rest_sql_t *s, const rest_table_t *t, const rest_write_opts_t *o,
                           const char *prefix)
{
    for (int i = 0; i < o->ncolumns; i++) {
        if (i) buf_append_str(s->text, ", ");
        if (prefix) buf_append_str(s->text, prefix);
        rest_sql_ident(s->text, t->cols[rest_table_column(t, o->columns[i])].name);
    }
}

static int sw_conflict(rest_sql_t *s, const rest_table_t *t, const rest_write_opts_t *o,
                       rest_error_t *err)
{
    buf_t *b = s->text;
    int n = o->on_conflict ? o->non_conflict : t->npk;
    if (n == 0) {
        if (o->resolution == REST_RES_IGNORE) {
            buf_append_str(b, " ON CONFLICT DO NOTHING");
            return 0;
        }
        return rest_error_set(err, s->a, 400, "42P10",
                              "there is no unique or exclusion constraint matching the ON "
                              "CONFLICT specification",
                              NULL, "Name the conflict columns with on_conflict=");
    }
    buf_append_str(b, " ON CONFLICT (");
    for (int i = 0; i < n; i++) {
        int c = o->on_conflict ? rest_table_column(t, o->on_conflict[i]) : t->pk[i];
        if (c < 0) return rest_err_column(err, s->a, t, o->on_conflict ? o->on_conflict[i] : "?");
        if (i) buf_append_str(b, ", ");
        rest_sql_ident(b, t->cols[c].name);
    }
    buf_append_char(b, ')');
    if (o->resolution == REST_RES_IGNORE || o->ncolumns == 0) {
        buf_append_str(b, " DO NOTHING");
        return 0;
    }
    buf_append_str(b, " DO UPDATE SET ");
    for (int i = 0; i < o->ncolumns; i++) {
        const rest_column_t *c = &t->cols[rest_table_column(t, o->columns[i])];
        if (i) buf_append_str(b, ", ");
        rest_sql_ident(b, c->name);
        buf_append_str(b, " = EXCLUDED.");
        rest_sql_ident(b, c->name);
    }
    return 0;
}

static int sw_insert(sq_ctx_t *cx, const rest_table_t *t, const rest_write_opts_t *o)
{
    rest_sql_t *s = cx->s;
    buf_printf(s->text, "INSERT INTO %s AS _t0 (", t->qname);
    sw_column_list(s, t, o, NULL);
    buf_append_str(s->text, ") SELECT ");
    sw_column_list(s, t, o, "_j.");
    buf_printf(s->text, " FROM json_populate_recordset(NULL::%s, ", t->qname);
    rest_sql_append_param(s, o->body);
    buf_append_str(s->text, "::json) _j");
    if (o->kind == REST_W_UPSERT_PUT || o->resolution != REST_RES_NONE) {
        rest_write_opts_t put = *o;
        if (o->kind == REST_W_UPSERT_PUT) {
            put.resolution = REST_RES_MERGE;
            put.on_conflict = NULL;
        }
        if (sw_conflict(s, t, &put, cx->err)) return -1;
    }
    return 0;
}

static int sw_update(sq_ctx_t *cx, const rest_table_t *t, const rest_write_opts_t *o,
                     const sq_node_t *root)
{
    rest_sql_t *s = cx->s;
    if (o->ncolumns == 0) { /* nothing to set: touch nothing, answer as if no row matched */
        buf_printf(s->text, "SELECT _t0.* FROM %s _t0 WHERE false", t->qname);
        return 0;
    }
    buf_printf(s->text, "UPDATE %s AS _t0 SET ", t->qname);
    for (int i = 0; i < o->ncolumns; i++) {
        const rest_column_t *c = &t->cols[rest_table_column(t, o->columns[i])];
        if (i) buf_append_str(s->text, ", ");
        rest_sql_ident(s->text, c->name);
        buf_append_str(s->text, " = _j.");
        rest_sql_ident(s->text, c->name);
    }
    buf_printf(s->text, " FROM json_populate_record(NULL::%s, ", t->qname);
    rest_sql_append_param(s, o->body);
    buf_append_str(s->text, "::json) _j WHERE ");
    return sq_where(cx, root, "_t0");
}

/* 'id=eq.' || _t0."id" [ || '&k2=eq.' || ...]: where the first row lives. */
static void sw_location(rest_sql_t *s, const rest_table_t *t)
{
    if (t->npk == 0) {
        buf_append_str(s->text, "NULL::text");
        return;
    }
    for (int i = 0; i < t->npk; i++) {
        const rest_column_t *c = &t->cols[t->pk[i]];
        if (i) buf_append_str(s->text, " || ");
        rest_sql_append_param(s, arena_sprintf(s->a, "%s%s=eq.", i ? "&" : "", c->name));
        buf_append_str(s->text, "::text || ");
        rest_sql_column(s, "_t0", c);
        buf_append_str(s->text, "::text");
    }
}

int rest_sql_write(rest_sql_t *s, const rest_snapshot_t *snap, const rest_table_t *t,
                   const rest_query_t *q, const rest_write_opts_t *o, rest_error_t *err)
{
    sq_ctx_t cx = {.s = s, .snap = snap, .q = q, .err = err};
    sq_node_t *root = NULL;
    if (sq_root(&cx, t, &root)) return -1;
    for (int i = 0; i < o->ncolumns; i++)
        if (rest_table_column(t, o->columns[i]) < 0)
            return rest_err_column(err, s->a, t, o->columns[i]);
    bool guard = o->max_affected >= 0 || o->rollback;
    buf_t *b = s->text;
    buf_append_str(b, "WITH _w AS (");
    int rc = 0;
    if (o->kind == REST_W_INSERT || o->kind == REST_W_UPSERT_PUT) {
        rc = sw_insert(&cx, t, o);
    } else if (o->kind == REST_W_UPDATE) {
        rc = sw_update(&cx, t, o, root);
    } else {
        buf_printf(b, "DELETE FROM %s AS _t0 WHERE ", t->qname);
        rc = sq_where(&cx, root, "_t0");
    }
    if (rc) return -1;
    if (!(o->kind == REST_W_UPDATE && o->ncolumns == 0)) buf_append_str(b, " RETURNING _t0.*");
    buf_append_str(b, "), _x AS (SELECT ");
    if (o->want_rows) {
        buf_append_str(b, root->plain
                              ? "(SELECT coalesce(json_agg(_r), '[]')::text FROM (SELECT "
                              : "(SELECT coalesce(json_agg(_r._o), '[]')::text FROM (SELECT ");
        if (sq_select_list(&cx, root, "_t0")) return -1;
        buf_append_str(b, " FROM _w _t0) _r)");
    } else {
        buf_append_str(b, "NULL::text");
    }
    buf_append_str(b, " AS b, (SELECT count(*) FROM _w) AS n, (SELECT ");
    sw_location(s, t);
    buf_append_str(b, " FROM _w _t0 LIMIT 1) AS l) SELECT _x.b, _x.n, _x.l FROM _x");
    if (guard) {
        buf_append_str(b, " WHERE true");
        if (o->max_affected >= 0) {
            buf_append_str(b, " AND CASE WHEN _x.n > ");
            rest_sql_append_param(s, arena_sprintf(s->a, "%ld", o->max_affected));
            buf_append_str(b, "::bigint THEN (");
            rest_sql_append_param(s, REST_SQL_MAX_AFFECTED_MARK);
            buf_append_str(b, "::text || _x.n)::int > 0 ELSE true END");
        }
        if (o->rollback) {
            buf_append_str(b, " AND (");
            rest_sql_append_param(s, REST_SQL_ROLLBACK_MARK);
            buf_append_str(b, "::text || _x.n || ':' || length(coalesce(_x.l, '')) || ':' || "
                              "coalesce(_x.l, '') || coalesce(_x.b, ''))::int > 0");
        }
    }
    return 0;
}
