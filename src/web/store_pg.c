/*
 * web/store_pg - the Postgres keyed row store (web_store_t over a web_table_t).
 *
 * One prepared statement per operation, each a single statement, so a write
 * either fully happens or not at all and is acknowledged once committed:
 * SELECT by key, keyset page (limit+1 rows to know whether more remain),
 * INSERT ... RETURNING the row (the key is its column 0), a partial UPDATE
 * whose $(2+2i) flags say which columns change, DELETE ... RETURNING key.
 * Failures are answered by web_db_ok (503/504 and the safe messages).
 *
 * Ownership: per-call state lives in the exchange's arena.
 */
#include <stdio.h>
#include <string.h>

#include "web/web.h"

typedef struct pg_call {
    http_exchange_t *ex;
    web_store_pg_t *pg;
    int64_t limit;
    web_store_cb cb;
    void *data;
    const char **params;
} pg_call_t;

/* The statement under the request's identity when a query function was given. */
static void pg_run(web_store_pg_t *pg, pg_call_t *c, int stmt, int n, db_result_fn cb)
{
    const char *const *values = c->params;
    if (pg->query)
        pg->query(c->ex, pg->pool, stmt, n, values, cb, c);
    else
        db_pool_query(pg->pool, stmt, n, values, cb, c);
}

static pg_call_t *pg_call_new(web_store_pg_t *pg, http_exchange_t *ex, int nparams, web_store_cb cb,
                              void *data)
{
    arena_t *a = http_exchange_arena(ex);
    pg_call_t *c = arena_calloc(a, sizeof *c);
    c->ex = ex;
    c->pg = pg;
    c->cb = cb;
    c->data = data;
    c->params = arena_calloc(a, sizeof(char *) * (size_t)(nparams > 0 ? nparams : 1));
    return c;
}

static void pg_rows_done(const db_result_t *r, void *data)
{
    pg_call_t *c = data;
    if (!web_db_ok(c->ex, r)) return;
    int n = PQntuples(r->res);
    web_store_reply_t rep = {0};
    if (c->limit > 0 && n > c->limit) {
        n = (int)c->limit;
        rep.more = true;
    }
    if (n > 0) rep.last_key = web_result_int(r->res, n - 1, 0);
    rep.nrows = n;
    json_writer_t w;
    web_json_begin(c->ex, &w);
    web_encode_rows(&w, c->pg->table, r->res, n);
    c->cb(c->ex, &rep, c->data);
}

static void pg_written_done(const db_result_t *r, void *data)
{
    pg_call_t *c = data;
    if (!web_db_ok(c->ex, r)) return;
    web_store_reply_t rep = {.found = PQntuples(r->res) > 0};
    if (rep.found) rep.key = web_result_int(r->res, 0, 0);
    c->cb(c->ex, &rep, c->data);
}

static void pg_get(void *self, http_exchange_t *ex, int64_t key, web_store_cb cb, void *data)
{
    web_store_pg_t *pg = self;
    pg_call_t *c = pg_call_new(pg, ex, 1, cb, data);
    c->params[0] = web_i64_text(ex, key);
    pg_run(pg, c, pg->get, 1, pg_rows_done);
}

static void pg_list(void *self, http_exchange_t *ex, int64_t after, int64_t limit, web_store_cb cb,
                    void *data)
{
    web_store_pg_t *pg = self;
    pg_call_t *c = pg_call_new(pg, ex, 2, cb, data);
    c->limit = limit;
    c->params[0] = web_i64_text(ex, after);
    c->params[1] = web_i64_text(ex, limit + 1);
    pg_run(pg, c, pg->list, 2, pg_rows_done);
}

static void pg_insert(void *self, http_exchange_t *ex, const char *const *values, web_store_cb cb,
                      void *data)
{
    web_store_pg_t *pg = self;
    pg_call_t *c = pg_call_new(pg, ex, pg->nw, cb, data);
    for (int i = 0; i < pg->nw; i++)
        c->params[i] = values[i];
    pg_run(pg, c, pg->insert, pg->nw, pg_written_done);
}

static void pg_update(void *self, http_exchange_t *ex, int64_t key, const bool *set,
                      const char *const *values, web_store_cb cb, void *data)
{
    web_store_pg_t *pg = self;
    int n = 1 + 2 * pg->nw;
    pg_call_t *c = pg_call_new(pg, ex, n, cb, data);
    c->params[0] = web_i64_text(ex, key);
    for (int i = 0; i < pg->nw; i++) {
        c->params[1 + 2 * i] = set[i] ? "true" : "false";
        c->params[2 + 2 * i] = values[i];
    }
    pg_run(pg, c, pg->update, n, pg_written_done);
}

static void pg_remove(void *self, http_exchange_t *ex, int64_t key, web_store_cb cb, void *data)
{
    web_store_pg_t *pg = self;
    pg_call_t *c = pg_call_new(pg, ex, 1, cb, data);
    c->params[0] = web_i64_text(ex, key);
    pg_run(pg, c, pg->del, 1, pg_written_done);
}

static const web_store_ops_t pg_ops = {pg_get, pg_list, pg_insert, pg_update, pg_remove};

void web_store_pg_init(web_store_pg_t *pg, web_store_t *store, db_pool_t *pool, web_query_fn query,
                       const web_table_t *t, const char *const *wcols, int nw)
{
    memset(pg, 0, sizeof *pg);
    pg->pool = pool;
    pg->query = query;
    pg->table = t;
    pg->nw = nw;
    pg->get = web_prepare(pool, web_sql_get(t), 1, DB_STMT_READ);
    pg->list = web_prepare(pool, web_sql_keyset(t), 2, DB_STMT_READ);
    pg->insert = web_prepare(pool, web_sql_insert(t, wcols, nw), nw, DB_STMT_WRITE);
    pg->update = web_prepare(pool, web_sql_update_partial(t, wcols, nw), 1 + 2 * nw, DB_STMT_WRITE);
    pg->del = web_prepare(pool, web_sql_delete(t), 1, DB_STMT_WRITE);
    store->ops = &pg_ops;
    store->self = pg;
}
