/*
 * cache - two derived views of a table that make expensive answers cheap:
 *
 * - the row count (count(*) over 1.5M rows costs tens of milliseconds): served
 *   from memory, refreshed in the background once older than its TTL
 *   (stale-while-revalidate), with concurrent misses sharing one query;
 * - page anchors: the key at every `step`-th position, so OFFSET N becomes
 *   "key > anchor[N / step] OFFSET N % step": a deep page reads ~step rows
 *   instead of N.
 *
 * Both are exact for writes made through lakeapi (which invalidate them) and
 * follow writes made elsewhere (the synced-table pipeline) within the TTL:
 * when a count refresh sees the count move, the anchors are dropped at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"

/* ---- count ---- */

typedef struct cache_waiter {
    struct cache_waiter *next;
    web_count_fn fn;
    void *data;
} cache_waiter_t;

void web_count_cache_init(web_count_cache_t *c, db_pool_t *pool, int stmt, double ttl_s)
{
    memset(c, 0, sizeof *c);
    c->pool = pool;
    c->stmt = stmt;
    c->ttl_ns = (uint64_t)(ttl_s * 1e9);
}

static void cache_count_done(const db_result_t *r, void *data)
{
    web_count_cache_t *c = data;
    c->refreshing = false;
    cache_waiter_t *w = c->waiters;
    c->waiters = NULL;
    /* A write invalidated the count while this query ran: its answer may predate the write. */
    bool current = c->generation == c->refresh_generation;
    if (r->status == DB_OK && !current) {
        int64_t v = web_result_int(r->res, 0, 0);
        for (cache_waiter_t *n; w; w = n) {
            n = w->next;
            w->fn(r, v, w->data);
        }
        return;
    }
    if (r->status == DB_OK) {
        int64_t v = web_result_int(r->res, 0, 0);
        if (c->valid && v != c->value && c->on_change) c->on_change(c->on_change_data);
        c->value = v;
        c->valid = true;
        c->fetched_ns = uv_hrtime();
        c->cost_ns = c->fetched_ns - c->started_ns;
    }
    for (cache_waiter_t *n; w; w = n) {
        n = w->next;
        w->fn(r, r->status == DB_OK ? c->value : -1, w->data);
    }
}

static void cache_count_refresh(web_count_cache_t *c)
{
    if (c->refreshing) return;
    c->refreshing = true;
    c->started_ns = uv_hrtime();
    c->refresh_generation = c->generation;
    if (c->sql)
        db_pool_query_sql(c->pool, c->sql, 0, NULL, DB_STMT_READ, cache_count_done, c);
    else
        db_pool_query(c->pool, c->stmt, 0, NULL, cache_count_done, c);
}

void web_count_cache_get(web_count_cache_t *c, arena_t *arena, web_count_fn fn, void *data)
{
    if (c->valid) {
        /*
         * On a big table count(*) itself takes long (over a second at 15M
         * rows): refresh at most every few query-lengths, so the database is
         * not kept scanning the table back to back.
         */
        uint64_t every = c->ttl_ns > 4 * c->cost_ns ? c->ttl_ns : 4 * c->cost_ns;
        if (uv_hrtime() - c->fetched_ns > every) cache_count_refresh(c);
        db_result_t ok = {.status = DB_OK};
        fn(&ok, c->value, data);
        return;
    }
    cache_waiter_t *w = arena_alloc(arena, sizeof *w);
    w->fn = fn;
    w->data = data;
    w->next = c->waiters;
    c->waiters = w;
    cache_count_refresh(c);
}

void web_count_cache_invalidate(web_count_cache_t *c)
{
    c->valid = false;
    c->generation++;
}

/* ---- the per-table registry: one count cache per table, whoever asks ---- */

struct web_counts {
    db_pool_t *pool;
    double ttl_s;
    struct web_counts_entry {
        char *qname;
        web_count_cache_t cache;
    } **tables;
    int n;
};

web_counts_t *web_counts_new(db_pool_t *pool, double ttl_s)
{
    web_counts_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->pool = pool;
    c->ttl_s = ttl_s;
    return c;
}

void web_counts_free(web_counts_t *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        free(c->tables[i]->qname);
        free(c->tables[i]->cache.sql);
        free(c->tables[i]);
    }
    free(c->tables);
    free(c);
}

web_count_cache_t *web_counts_table(web_counts_t *c, const char *qname)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->tables[i]->qname, qname)) return &c->tables[i]->cache;
    struct web_counts_entry *e = calloc(1, sizeof *e);
    void *grown = realloc(c->tables, sizeof *c->tables * (size_t)(c->n + 1));
    if (!e || !grown) abort();
    c->tables = grown;
    c->tables[c->n++] = e;
    e->qname = strdup(qname);
    web_count_cache_init(&e->cache, c->pool, -1, c->ttl_s);
    size_t len = strlen(qname) + 32;
    e->cache.sql = malloc(len);
    if (!e->qname || !e->cache.sql) abort();
    snprintf(e->cache.sql, len, "SELECT count(*) FROM %s", qname);
    return &e->cache;
}

void web_counts_invalidate(web_counts_t *c, const char *qname)
{
    for (int i = 0; c && i < c->n; i++)
        if (!strcmp(c->tables[i]->qname, qname)) web_count_cache_invalidate(&c->tables[i]->cache);
}

/* ---- anchors ---- */

void web_anchors_init(web_anchors_t *a, db_pool_t *pool, int stmt, int step, double ttl_s)
{
    memset(a, 0, sizeof *a);
    a->pool = pool;
    a->stmt = stmt;
    a->step = step;
    a->ttl_ns = (uint64_t)(ttl_s * 1e9);
}

void web_anchors_dispose(web_anchors_t *a)
{
    free(a->keys);
    a->keys = NULL;
    a->n = 0;
}

static void cache_anchors_done(const db_result_t *r, void *data)
{
    web_anchors_t *a = data;
    a->building = false;
    if (r->status != DB_OK) return;                      /* plain OFFSET keeps working meanwhile */
    if (a->generation != a->building_generation) return; /* invalidated while building */
    int n = PQntuples(r->res);
    int64_t *keys = malloc(sizeof *keys * (size_t)(n ? n : 1));
    if (!keys) return;
    for (int i = 0; i < n; i++)
        keys[i] = web_result_int(r->res, i, 0);
    free(a->keys);
    a->keys = keys;
    a->n = n;
    a->built_ns = uv_hrtime();
}

static void cache_anchors_build(web_anchors_t *a)
{
    if (a->building) return;
    a->building = true;
    a->building_generation = a->generation;
    a->step_text_len = (int)snprintf(a->step_text, sizeof a->step_text, "%d", a->step);
    a->params[0] = a->step_text;
    db_pool_query(a->pool, a->stmt, 1, a->params, cache_anchors_done, a);
}

void web_anchors_invalidate(web_anchors_t *a)
{
    a->generation++;
    web_anchors_dispose(a);
}

bool web_anchors_lookup(web_anchors_t *a, int64_t offset, int64_t *after_key, int64_t *rest)
{
    if (offset < a->step) return false;
    if (!a->keys || uv_hrtime() - a->built_ns > a->ttl_ns) cache_anchors_build(a);
    if (!a->keys) return false;
    int64_t j = offset / a->step; /* anchor j-1 is the key at position j * step */
    if (j > a->n) j = a->n;
    if (j < 1) return false;
    *after_key = a->keys[j - 1];
    *rest = offset - j * a->step;
    return true;
}
