/*
 * rest/paging - keyset pages for ordered reads: the glue between the read
 * path and rest/cursor (tokens, the keyset condition, the Link header).
 *
 * An ordered read (order= on plain columns) of a table with a primary key
 * gets a total order: its order terms, then every primary-key column not
 * already in them (ascending). The read statement returns the last row's
 * values of those keys (as text, hidden columns); when the page is full
 * (as many rows as the limit, or DB_MAX_ROWS) the answer carries
 * `Link: <...&cursor=TOKEN>; rel="next"`. A request with `cursor=TOKEN`
 * continues after that row with a keyset condition instead of an OFFSET, so
 * a page costs the same at row 10 and at row 10 million, and duplicate and
 * NULL sort values are neither skipped nor repeated. A token is signed for
 * the table and the order it was made for.
 */
#include <string.h>

#include "rest/cursor.h"
#include "rest/rest.h"

static bool pg_in_order(const rest_order_t *o, int n, const char *col)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(o[i].field.name, col)) return true;
    return false;
}

static int pg_bad_cursor(rest_req_t *rq, rest_error_t *e, const char *details)
{
    return rest_error_set(e, http_exchange_arena(rq->ex), 400, "PGRST100",
                          "\"failed to parse cursor parameter\"", details, NULL);
}

/* The total order and its keys; false when this read cannot be keyset-paged. */
static bool pg_total_order(rest_req_t *rq, rest_paging_t *pg)
{
    const rest_scope_t *sc = &rq->q.scopes[0];
    const rest_table_t *t = rq->t;
    arena_t *a = http_exchange_arena(rq->ex);
    if (!sc->norder || !t->npk || rq->singular) return false;
    int n = sc->norder;
    for (int i = 0; i < t->npk; i++)
        if (!pg_in_order(sc->order, sc->norder, t->cols[t->pk[i]].name)) n++;
    if (n > REST_CURSOR_MAX_KEYS) return false;
    pg->order = arena_calloc(a, sizeof *pg->order * (size_t)n);
    pg->cols = arena_calloc(a, sizeof *pg->cols * (size_t)n);
    pg->keys = arena_calloc(a, sizeof *pg->keys * (size_t)n);
    memcpy(pg->order, sc->order, sizeof *pg->order * (size_t)sc->norder);
    pg->norder = sc->norder;
    for (int i = 0; i < t->npk; i++)
        if (!pg_in_order(sc->order, sc->norder, t->cols[t->pk[i]].name))
            pg->order[pg->norder++].field.name = t->cols[t->pk[i]].name;
    buf_t ctx;
    buf_init(&ctx);
    buf_printf(&ctx, "%s.%s|", t->schema, t->name);
    for (int i = 0; i < pg->norder; i++) {
        const rest_order_t *o = &pg->order[i];
        int c = rest_table_column(t, o->field.name);
        if (c < 0 || o->field.npath) { /* JSON paths and unknown names: no keyset */
            buf_dispose(&ctx);
            return false;
        }
        pg->cols[i] = &t->cols[c];
        pg->keys[i].expr = arena_sprintf(a, "_t0.\"%s\"", t->cols[c].name);
        pg->keys[i].type = t->cols[c].type;
        pg->keys[i].desc = o->desc;
        pg->keys[i].nulls_first = rest_cursor_nulls_first(o->desc, o->nulls);
        pg->keys[i].not_null = !t->cols[c].nullable;
        buf_printf(&ctx, "%s%s.%s.%s", i ? "," : "", t->cols[c].name, o->desc ? "desc" : "asc",
                   pg->keys[i].nulls_first ? "nf" : "nl");
    }
    pg->nkeys = pg->norder;
    pg->context = arena_strndup(a, ctx.data, ctx.len);
    buf_dispose(&ctx);
    return true;
}

int rest_paging_plan(rest_req_t *rq, rest_paging_t *pg, rest_error_t *e)
{
    memset(pg, 0, sizeof *pg);
    const rest_cursor_keyring_t *kr = rq->app->keyring;
    /* a name that only quotes would protect does not fit in the key expression */
    pg->on = kr && pg_total_order(rq, pg);
    for (int i = 0; pg->on && i < pg->nkeys; i++)
        if (strchr(pg->cols[i]->name, '"')) pg->on = false;
    if (!rq->q.cursor) return 0;
    if (!pg->on)
        return pg_bad_cursor(rq, e,
                             "cursor= needs order= on columns of a table with a primary key");
    if (rest_cursor_decode(kr, pg->context, rq->q.cursor, strlen(rq->q.cursor),
                           http_exchange_arena(rq->ex), &pg->after) != 0)
        return pg_bad_cursor(rq, e, "the token is malformed, forged, or for another order");
    if (pg->after.n != pg->nkeys) return pg_bad_cursor(rq, e, "the token does not fit this order");
    pg->has_after = true;
    return 0;
}

int rest_paging_where(rest_sql_t *s, const char *alias, const rest_table_t *t, void *data,
                      rest_error_t *err)
{
    rest_paging_t *pg = data;
    (void)alias; /* the keys were made for the root alias _t0 */
    (void)t;
    const char *params[REST_CURSOR_MAX_KEYS];
    buf_append_str(s->text, " AND ");
    int n = rest_cursor_where(pg->keys, pg->nkeys, &pg->after, s->nparams + 1, s->text, params,
                              REST_CURSOR_MAX_KEYS);
    if (n < 0)
        return rest_error_set(err, s->a, 400, "PGRST100", "\"failed to parse cursor parameter\"",
                              "the token does not fit this order", NULL);
    for (int i = 0; i < n; i++)
        rest_sql_param(s, params[i]);
    return 0;
}

void rest_paging_link(rest_req_t *rq, const rest_paging_t *pg, const PGresult *res, long limit)
{
    if (!pg->on || limit <= 0 || rq->nrows < limit || PQnfields(res) < 3 + pg->nkeys) return;
    arena_t *a = http_exchange_arena(rq->ex);
    rest_cursor_values_t v = {.n = pg->nkeys};
    v.values = arena_calloc(a, sizeof *v.values * (size_t)pg->nkeys);
    v.lens = arena_calloc(a, sizeof *v.lens * (size_t)pg->nkeys);
    for (int i = 0; i < pg->nkeys; i++) {
        if (PQgetisnull(res, 0, 3 + i)) continue;
        v.values[i] = PQgetvalue(res, 0, 3 + i);
        v.lens[i] = (size_t)PQgetlength(res, 0, 3 + i);
    }
    buf_t token, link;
    buf_init(&token);
    buf_init(&link);
    rest_cursor_encode(rq->app->keyring, pg->context, &v, &token);
    rest_cursor_link(http_exchange_raw_path(rq->ex), http_exchange_raw_query(rq->ex), token.data,
                     &link);
    http_exchange_add_header(rq->ex, "Link", link.data);
    buf_dispose(&token);
    buf_dispose(&link);
}
