/*
 * lakehouse/store - a keyed row store (web_store_t) over a Delta table,
 * through the SQL warehouse: what USERS_BACKEND=lakehouse serves the users
 * routes with, the same handlers as Postgres.
 *
 * Reads go through the result cache (keyed by statement + parameters, with
 * the table as invalidation key); writes run directly and invalidate the
 * table's cached reads when they succeed. Column names in the SQL are the
 * ones information_schema reported (the descriptor's names must all be
 * there); every value is a named parameter.
 *
 * New keys. Delta has no RETURNING and no sequence, so keys come from ranges
 * reserved per instance in a small Delta table `lakeapi_id_ranges` (name,
 * next_id) beside the data: an instance reads next_id, then claims
 * [next_id, next_id + 1000) with UPDATE ... SET next_id = next_id + 1000
 * WHERE name = :name AND next_id = :seen. Exactly one of two racing claims
 * matches (Delta serializes conflicting updates of the row; the loser sees
 * num_affected_rows = 0, or a conflict error, and tries again), so no two
 * creates - in one instance or many - ever get the same key. The row is
 * created once with max(key) + 1 of the table. Keys within a range are
 * handed out in order from memory; a restart abandons the rest of its range
 * (gaps, never duplicates). Writers outside lakeapi must take keys the same way.
 *
 * Ownership: the store owns its names and reservation waiters; per-request
 * state lives in the exchange's arena.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lakehouse/respond.h"
#include "lakehouse/tables.h"

#define LH_ID_BLOCK     1000
#define LH_ID_ATTEMPTS  8
#define LH_RANGES_TABLE "lakeapi_id_ranges"

typedef struct lh_store lh_store_t;

typedef struct lh_call {
    http_exchange_t *ex;
    lh_store_t *st;
    int64_t key, limit;
    web_store_cb cb;
    void *data;
    const char *const *values;
    struct lh_call *next; /* waiting for a key */
} lh_call_t;

struct lh_store {
    lakehouse_t *lh;
    char *table; /* the name in LAKEHOUSE_CATALOG.LAKEHOUSE_SCHEMA */
    const web_table_t *desc;
    const char *const *wcols;
    int nw;
    web_store_t iface;
    /* key reservation */
    int64_t next_key, end_key;
    bool reserving;
    int attempts;
    int64_t seen;
    lh_call_t *waiting, **waiting_tail;
    lh_store_t *chain; /* the lakehouse's list of stores */
};

/* ---- the table and its names ---- */

/* The discovered table, or NULL after answering ex (missing table or column). */
static const lh_table_t *lh_store_table(lh_store_t *st, http_exchange_t *ex)
{
    lakehouse_t *lh = st->lh;
    const lh_table_t *t = lh_tables_find(lh->tables, lh->catalog, lh->schema, st->table);
    char detail[400];
    if (!t) {
        snprintf(detail, sizeof detail,
                 "Lakehouse table %s.%s.%s not found in information_schema%s", lh->catalog,
                 lh->schema, st->table,
                 lh_tables_loaded(lh->tables, lh->catalog) ? "" : " (not discovered yet)");
        lh_send_error(ex, 503, detail, 5, NULL);
        return NULL;
    }
    for (int i = 0; i < st->desc->ncols; i++) {
        if (!lh_table_column(t, st->desc->cols[i].name)) {
            snprintf(detail, sizeof detail, "Lakehouse table %s has no column %s", t->key,
                     st->desc->cols[i].name);
            lh_send_error(ex, 500, detail, 0, NULL);
            return NULL;
        }
    }
    return t;
}

/* The discovered spelling of a descriptor column (present: lh_store_table checked). */
static void lh_col(buf_t *sql, const lh_table_t *t, const char *name)
{
    lh_quote_ident(sql, lh_table_column(t, name)->name);
}

static void lh_select_list(buf_t *sql, const lh_store_t *st, const lh_table_t *t)
{
    buf_append_str(sql, "SELECT ");
    for (int i = 0; i < st->desc->ncols; i++) {
        if (i) buf_append_str(sql, ", ");
        lh_col(sql, t, st->desc->cols[i].name);
    }
    buf_append_str(sql, " FROM ");
    buf_append_str(sql, t->qualified);
}

static char *lh_text(http_exchange_t *ex, int64_t v)
{
    return arena_sprintf(http_exchange_arena(ex), "%lld", (long long)v);
}

static lh_call_t *lh_call_new(lh_store_t *st, http_exchange_t *ex, web_store_cb cb, void *data)
{
    lh_call_t *c = arena_calloc(http_exchange_arena(ex), sizeof *c);
    c->ex = ex;
    c->st = st;
    c->cb = cb;
    c->data = data;
    return c;
}

static bool lh_call_wanted(void *data)
{
    lh_call_t *c = data;
    return !http_exchange_client_gone(c->ex);
}

/* ---- reads ---- */

static void lh_rows_done(const lh_outcome_t *o, const char *hit, void *data)
{
    lh_call_t *c = data;
    if (o->status) {
        lh_send_outcome(c->ex, o, hit);
        return;
    }
    const lh_result_t *r = o->result;
    web_store_reply_t rep = {.cache = hit};
    size_t n = r->nrows;
    if (c->limit > 0 && n > (size_t)c->limit) {
        n = (size_t)c->limit;
        rep.more = true;
    }
    if (n > 0) {
        const char *k = lh_result_value(r, n - 1, 0, NULL);
        rep.last_key = k ? strtoll(k, NULL, 10) : 0;
    }
    rep.nrows = (int)n;
    json_writer_t w;
    web_json_begin(c->ex, &w);
    jw_array_begin(&w);
    for (size_t i = 0; i < n; i++)
        lh_encode_row(&w, r, i);
    jw_array_end(&w);
    c->cb(c->ex, &rep, c->data);
}

static void lh_read(lh_call_t *c, const lh_table_t *t, buf_t *sql, const lh_param_t *p, int n)
{
    buf_append(sql, "", 1);
    lh_cache_read(c->st->lh, t->key, sql->data, p, n, lh_rows_done, lh_call_wanted, c);
    buf_dispose(sql);
}

static void lh_store_get(void *self, http_exchange_t *ex, int64_t key, web_store_cb cb, void *data)
{
    lh_store_t *st = self;
    const lh_table_t *t = lh_store_table(st, ex);
    if (!t) return;
    lh_call_t *c = lh_call_new(st, ex, cb, data);
    buf_t sql;
    buf_init(&sql);
    lh_select_list(&sql, st, t);
    buf_append_str(&sql, " WHERE ");
    lh_col(&sql, t, st->desc->key);
    buf_append_str(&sql, " = :key");
    lh_param_t p[] = {{"key", lh_text(ex, key), "BIGINT"}};
    lh_read(c, t, &sql, p, 1);
}

static void lh_store_list(void *self, http_exchange_t *ex, int64_t after, int64_t limit,
                          web_store_cb cb, void *data)
{
    lh_store_t *st = self;
    const lh_table_t *t = lh_store_table(st, ex);
    if (!t) return;
    lh_call_t *c = lh_call_new(st, ex, cb, data);
    c->limit = limit;
    buf_t sql;
    buf_init(&sql);
    lh_select_list(&sql, st, t);
    buf_append_str(&sql, " WHERE ");
    lh_col(&sql, t, st->desc->key);
    buf_append_str(&sql, " > :after ORDER BY ");
    lh_col(&sql, t, st->desc->key);
    buf_append_str(&sql, " LIMIT :limit");
    lh_param_t p[] = {{"after", lh_text(ex, after), "BIGINT"},
                      {"limit", lh_text(ex, limit + 1), "INT"}};
    lh_read(c, t, &sql, p, 2);
}

/* ---- writes ---- */

/* num_affected_rows of a DML answer (0 when absent). */
static int64_t lh_affected(const lh_result_t *r)
{
    int col = r ? lh_result_column(r, "num_affected_rows") : -1;
    const char *v = col >= 0 && r->nrows > 0 ? lh_result_value(r, 0, col, NULL) : NULL;
    return v ? strtoll(v, NULL, 10) : 0;
}

static void lh_written(const lh_outcome_t *o, void *data)
{
    lh_call_t *c = data;
    if (o->status) {
        lh_send_outcome(c->ex, o, NULL);
        return;
    }
    const lh_table_t *t =
        lh_tables_find(c->st->lh->tables, c->st->lh->catalog, c->st->lh->schema, c->st->table);
    if (t) lh_cache_invalidate(c->st->lh->cache, t->key);
    web_store_reply_t rep = {.found = lh_affected(o->result) > 0, .key = c->key};
    lh_result_free(o->result);
    c->cb(c->ex, &rep, c->data);
}

static void lh_write(lh_call_t *c, buf_t *sql, const lh_param_t *p, int n)
{
    buf_append(sql, "", 1);
    lh_stmt_run(c->st->lh, sql->data, p, n, lh_written, NULL, c);
    buf_dispose(sql);
}

static void lh_insert_with_key(lh_call_t *c)
{
    lh_store_t *st = c->st;
    const lh_table_t *t = lh_store_table(st, c->ex);
    if (!t) return;
    buf_t sql;
    buf_init(&sql);
    buf_append_str(&sql, "INSERT INTO ");
    buf_append_str(&sql, t->qualified);
    buf_append_str(&sql, " (");
    lh_col(&sql, t, st->desc->key);
    for (int i = 0; i < st->nw; i++) {
        buf_append_str(&sql, ", ");
        lh_col(&sql, t, st->wcols[i]);
    }
    buf_append_str(&sql, ") VALUES (:key");
    lh_param_t *p = arena_calloc(http_exchange_arena(c->ex), sizeof *p * (size_t)(st->nw + 1));
    p[0] = (lh_param_t){"key", lh_text(c->ex, c->key), "BIGINT"};
    for (int i = 0; i < st->nw; i++) {
        p[i + 1].name = arena_sprintf(http_exchange_arena(c->ex), "v%d", i);
        p[i + 1].value = c->values[i];
        p[i + 1].type = "STRING";
        buf_printf(&sql, ", :v%d", i);
    }
    buf_append_str(&sql, ")");
    lh_write(c, &sql, p, st->nw + 1);
}

static void lh_reserve(lh_store_t *st);

/* Hands out keys from the reserved range to everyone waiting. */
static void lh_serve_waiting(lh_store_t *st)
{
    while (st->waiting && st->next_key < st->end_key) {
        lh_call_t *c = st->waiting;
        st->waiting = c->next;
        if (!st->waiting) st->waiting_tail = &st->waiting;
        c->key = st->next_key++;
        lh_insert_with_key(c);
    }
    if (st->waiting && !st->reserving) lh_reserve(st);
}

static void lh_fail_waiting(lh_store_t *st, const lh_outcome_t *o)
{
    lh_call_t *c = st->waiting;
    st->waiting = NULL;
    st->waiting_tail = &st->waiting;
    for (lh_call_t *n; c; c = n) {
        n = c->next;
        lh_send_outcome(c->ex, o, NULL);
    }
}

static void lh_reserve_step(lh_store_t *st, const char *sql, const lh_param_t *p, int n,
                            lh_stmt_cb cb)
{
    lh_stmt_run(st->lh, sql, p, n, cb, NULL, st);
}

static void lh_reserve_read(lh_store_t *st);

static void lh_range_claimed(const lh_outcome_t *o, void *data)
{
    lh_store_t *st = data;
    if (o->status == 0 && lh_affected(o->result) == 1) {
        st->next_key = st->seen;
        st->end_key = st->seen + LH_ID_BLOCK;
        st->reserving = false;
        lh_result_free(o->result);
        lh_serve_waiting(st);
        return;
    }
    lh_result_free(o->result);
    lh_reserve_read(st); /* lost the race (or a conflict error): read again */
}

static void lh_ranges_name(lh_store_t *st, buf_t *b)
{
    lh_qualify(b, st->lh->catalog, st->lh->schema, LH_RANGES_TABLE);
}

static void lh_range_seeded(const lh_outcome_t *o, void *data)
{
    lh_store_t *st = data;
    lh_result_free(o->result);
    lh_reserve_read(st);
}

/* The ranges row does not exist: create it from the table's largest key. */
static void lh_range_seed(lh_store_t *st)
{
    const lh_table_t *t =
        lh_tables_find(st->lh->tables, st->lh->catalog, st->lh->schema, st->table);
    buf_t sql;
    buf_init(&sql);
    buf_append_str(&sql, "INSERT INTO ");
    lh_ranges_name(st, &sql);
    buf_append_str(&sql, " (name, next_id) SELECT :name, coalesce(max(");
    lh_col(&sql, t, st->desc->key);
    buf_append_str(&sql, "), 0) + 1 FROM ");
    buf_append_str(&sql, t->qualified);
    buf_append_str(&sql, " WHERE NOT EXISTS (SELECT 1 FROM ");
    lh_ranges_name(st, &sql);
    buf_append_str(&sql, " WHERE name = :name)");
    buf_append(&sql, "", 1);
    lh_param_t p[] = {{"name", t->key, "STRING"}};
    lh_reserve_step(st, sql.data, p, 1, lh_range_seeded);
    buf_dispose(&sql);
}

static void lh_range_read(const lh_outcome_t *o, void *data)
{
    lh_store_t *st = data;
    if (o->status) {
        st->reserving = false;
        lh_fail_waiting(st, o);
        return;
    }
    const char *v = o->result->nrows ? lh_result_value(o->result, 0, 0, NULL) : NULL;
    if (!v) {
        lh_result_free(o->result);
        lh_range_seed(st);
        return;
    }
    st->seen = strtoll(v, NULL, 10);
    lh_result_free(o->result);
    const lh_table_t *t =
        lh_tables_find(st->lh->tables, st->lh->catalog, st->lh->schema, st->table);
    buf_t sql;
    buf_init(&sql);
    buf_append_str(&sql, "UPDATE ");
    lh_ranges_name(st, &sql);
    buf_append_str(&sql, " SET next_id = next_id + :block WHERE name = :name AND next_id = :seen");
    buf_append(&sql, "", 1);
    char seen[32], block[32];
    snprintf(seen, sizeof seen, "%lld", (long long)st->seen);
    snprintf(block, sizeof block, "%d", LH_ID_BLOCK);
    lh_param_t p[] = {{"block", block, "BIGINT"},
                      {"name", t ? t->key : st->table, "STRING"},
                      {"seen", seen, "BIGINT"}};
    lh_reserve_step(st, sql.data, p, 3, lh_range_claimed);
    buf_dispose(&sql);
}

static void lh_reserve_read(lh_store_t *st)
{
    if (++st->attempts > LH_ID_ATTEMPTS) {
        st->reserving = false;
        lh_outcome_t o = {.status = 503,
                          .detail = "could not reserve new keys (lakeapi_id_ranges kept changing)",
                          .retry_after = 1};
        lh_fail_waiting(st, &o);
        return;
    }
    const lh_table_t *t =
        lh_tables_find(st->lh->tables, st->lh->catalog, st->lh->schema, st->table);
    buf_t sql;
    buf_init(&sql);
    buf_append_str(&sql, "SELECT next_id FROM ");
    lh_ranges_name(st, &sql);
    buf_append_str(&sql, " WHERE name = :name");
    buf_append(&sql, "", 1);
    lh_param_t p[] = {{"name", t ? t->key : st->table, "STRING"}};
    lh_reserve_step(st, sql.data, p, 1, lh_range_read);
    buf_dispose(&sql);
}

static void lh_ranges_created(const lh_outcome_t *o, void *data)
{
    lh_store_t *st = data;
    lh_result_free(o->result);
    if (o->status) {
        st->reserving = false;
        lh_fail_waiting(st, o);
        return;
    }
    lh_reserve_read(st);
}

static void lh_reserve(lh_store_t *st)
{
    st->reserving = true;
    st->attempts = 0;
    buf_t sql;
    buf_init(&sql);
    buf_append_str(&sql, "CREATE TABLE IF NOT EXISTS ");
    lh_ranges_name(st, &sql);
    buf_append_str(&sql, " (name STRING, next_id BIGINT)");
    buf_append(&sql, "", 1);
    lh_reserve_step(st, sql.data, NULL, 0, lh_ranges_created);
    buf_dispose(&sql);
}

static void lh_store_insert(void *self, http_exchange_t *ex, const char *const *values,
                            web_store_cb cb, void *data)
{
    lh_store_t *st = self;
    if (!lh_store_table(st, ex)) return;
    lh_call_t *c = lh_call_new(st, ex, cb, data);
    /* values[] may be the caller's stack: the insert may wait for a key range */
    const char **copy = arena_calloc(http_exchange_arena(ex), sizeof *copy * (size_t)st->nw);
    for (int i = 0; i < st->nw; i++)
        copy[i] = values[i];
    c->values = copy;
    *st->waiting_tail = c;
    st->waiting_tail = &c->next;
    lh_serve_waiting(st);
}

static void lh_store_update(void *self, http_exchange_t *ex, int64_t key, const bool *set,
                            const char *const *values, web_store_cb cb, void *data)
{
    lh_store_t *st = self;
    const lh_table_t *t = lh_store_table(st, ex);
    if (!t) return;
    lh_call_t *c = lh_call_new(st, ex, cb, data);
    c->key = key;
    lh_param_t *p = arena_calloc(http_exchange_arena(ex), sizeof *p * (size_t)(st->nw + 1));
    int n = 0;
    buf_t sql;
    buf_init(&sql);
    p[n++] = (lh_param_t){"key", lh_text(ex, key), "BIGINT"};
    for (int i = 0; i < st->nw; i++) {
        if (!set[i]) continue;
        buf_append_str(&sql, n == 1 ? "UPDATE " : ", ");
        if (n == 1) {
            buf_append_str(&sql, t->qualified);
            buf_append_str(&sql, " SET ");
        }
        lh_col(&sql, t, st->wcols[i]);
        buf_printf(&sql, " = :v%d", i);
        p[n].name = arena_sprintf(http_exchange_arena(ex), "v%d", i);
        p[n].value = values[i];
        p[n].type = "STRING";
        n++;
    }
    if (n == 1) { /* nothing to change: whether the row exists is the answer */
        buf_append_str(&sql, "SELECT count(*) AS num_affected_rows FROM ");
        buf_append_str(&sql, t->qualified);
    }
    buf_append_str(&sql, " WHERE ");
    lh_col(&sql, t, st->desc->key);
    buf_append_str(&sql, " = :key");
    lh_write(c, &sql, p, n);
}

static void lh_store_remove(void *self, http_exchange_t *ex, int64_t key, web_store_cb cb,
                            void *data)
{
    lh_store_t *st = self;
    const lh_table_t *t = lh_store_table(st, ex);
    if (!t) return;
    lh_call_t *c = lh_call_new(st, ex, cb, data);
    c->key = key;
    buf_t sql;
    buf_init(&sql);
    buf_append_str(&sql, "DELETE FROM ");
    buf_append_str(&sql, t->qualified);
    buf_append_str(&sql, " WHERE ");
    lh_col(&sql, t, st->desc->key);
    buf_append_str(&sql, " = :key");
    lh_param_t p[] = {{"key", lh_text(ex, key), "BIGINT"}};
    lh_write(c, &sql, p, 1);
}

static const web_store_ops_t lh_store_ops = {lh_store_get, lh_store_list, lh_store_insert,
                                             lh_store_update, lh_store_remove};

web_store_t *lakehouse_store_new(lakehouse_t *lh, const char *table, const web_table_t *desc,
                                 const char *const *wcols, int nw, char *err, size_t errlen)
{
    if (!lh_valid_name(table)) {
        snprintf(err, errlen, "invalid LAKEHOUSE_USERS_TABLE: '%.100s'", table);
        return NULL;
    }
    lh_store_t *st = calloc(1, sizeof *st);
    if (!st) abort();
    st->lh = lh;
    st->table = strdup(table);
    if (!st->table) abort();
    st->desc = desc;
    st->wcols = wcols;
    st->nw = nw;
    st->waiting_tail = &st->waiting;
    st->iface.ops = &lh_store_ops;
    st->iface.self = st;
    st->chain = lh->stores;
    lh->stores = st;
    return &st->iface;
}

void lh_stores_free(lakehouse_t *lh)
{
    for (lh_store_t *st = lh->stores, *n; st; st = n) {
        n = st->chain;
        free(st->table);
        free(st);
    }
    lh->stores = NULL;
}
