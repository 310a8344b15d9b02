/*
 * lakehouse/tables - table discovery from a catalog's information_schema.
 *
 * One statement per catalog: SELECT table_schema, table_name, column_name,
 * data_type FROM `cat`.information_schema.columns ORDER BY table_schema,
 * table_name, ordinal_position. The configured LAKEHOUSE_CATALOG is loaded at
 * start and every LAKEHOUSE_RELOAD_INTERVAL; another catalog on first use;
 * any on POST /lakehouse/v1/_reload. A load replaces the catalog's tables at
 * once, after the statement succeeded (a failed reload keeps the old ones).
 *
 * With WORKERS loops a load runs once for the process (shared.c): a loop whose
 * load finds another loop's load of the same catalog out waits for it, every
 * load's result is handed to every loop (lh_tables_adopt), and a loop that
 * starts after the first load builds from its kept result. Each loop builds
 * its own tables, so a request never sees another thread's memory change.
 * Only loop 0 runs the reload timer.
 *
 * Ownership: the catalog set owns its tables (and their strings) and the
 * waiter records of loads in flight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lakehouse/tables.h"
#include "lakeapi/log.h"

#define LH_MAX_CATALOGS 16

typedef struct lh_load_waiter {
    lh_tables_cb cb;
    void *data;
    struct lh_load_waiter *next;
} lh_load_waiter_t;

typedef struct lh_cat {
    char name[129];
    bool loaded, loading;
    lh_table_t *tables;
    int ntables;
    lh_load_waiter_t *waiters;
    lh_catalog_t *owner;
} lh_cat_t;

struct lh_catalog {
    lakehouse_t *lh;
    double reload_s;
    lh_cat_t cats[LH_MAX_CATALOGS];
    int ncats;
    uv_timer_t timer;
    bool timer_ready;
};

static char *lh_sdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p) abort();
    return p;
}

lh_catalog_t *lh_tables_new(lakehouse_t *lh, double reload_s)
{
    lh_catalog_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->lh = lh;
    c->reload_s = reload_s;
    return c;
}

static void lh_tables_dispose(lh_table_t *t, int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < t[i].ncols; k++) {
            free(t[i].cols[k].name);
            free(t[i].cols[k].data_type);
        }
        free(t[i].cols);
        free(t[i].catalog);
        free(t[i].schema);
        free(t[i].name);
        free(t[i].qualified);
        free(t[i].key);
    }
    free(t);
}

void lh_tables_free(lh_catalog_t *c)
{
    if (!c) return;
    for (int i = 0; i < c->ncats; i++) {
        lh_tables_dispose(c->cats[i].tables, c->cats[i].ntables);
        for (lh_load_waiter_t *w = c->cats[i].waiters, *n; w; w = n) {
            n = w->next;
            free(w);
        }
    }
    free(c);
}

static lh_cat_t *lh_cat_find(const lh_catalog_t *c, const char *name)
{
    for (int i = 0; i < c->ncats; i++)
        if (strcmp(c->cats[i].name, name) == 0) return (lh_cat_t *)&c->cats[i];
    return NULL;
}

bool lh_tables_loaded(const lh_catalog_t *c, const char *catalog)
{
    const lh_cat_t *k = lh_cat_find(c, catalog);
    return k && k->loaded;
}

const lh_table_t *lh_tables_find(const lh_catalog_t *c, const char *catalog, const char *schema,
                                 const char *name)
{
    const lh_cat_t *k = lh_cat_find(c, catalog);
    for (int i = 0; k && i < k->ntables; i++) {
        const lh_table_t *t = &k->tables[i];
        if (strcmp(t->schema, schema) == 0 && strcmp(t->name, name) == 0) return t;
    }
    return NULL;
}

const lh_tcol_t *lh_table_column(const lh_table_t *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0) return &t->cols[i];
    return NULL;
}

void lh_tables_list(const lh_catalog_t *c, json_writer_t *w)
{
    jw_array_begin(w);
    for (int i = 0; i < c->ncats; i++)
        for (int k = 0; k < c->cats[i].ntables; k++)
            jw_cstring(w, c->cats[i].tables[k].key);
    jw_array_end(w);
}

/* Builds the tables of one catalog from rows (schema, table, column, data_type). */
static void lh_build(lh_cat_t *k, const lh_result_t *r)
{
    lh_table_t *tables = NULL;
    int n = 0, cap = 0;
    for (size_t row = 0; row < r->nrows; row++) {
        const char *sch = lh_result_value(r, row, 0, NULL);
        const char *tab = lh_result_value(r, row, 1, NULL);
        const char *col = lh_result_value(r, row, 2, NULL);
        const char *typ = lh_result_value(r, row, 3, NULL);
        if (!sch || !tab || !col) continue;
        lh_table_t *t = n ? &tables[n - 1] : NULL;
        if (!t || strcmp(t->schema, sch) != 0 || strcmp(t->name, tab) != 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                tables = realloc(tables, (size_t)cap * sizeof *tables);
                if (!tables) abort();
            }
            t = &tables[n++];
            memset(t, 0, sizeof *t);
            t->catalog = lh_sdup(k->name);
            t->schema = lh_sdup(sch);
            t->name = lh_sdup(tab);
            buf_t q;
            buf_init(&q);
            lh_qualify(&q, k->name, sch, tab);
            buf_append(&q, "", 1);
            t->qualified = buf_steal(&q);
            if (asprintf(&t->key, "%s.%s.%s", k->name, sch, tab) < 0) abort();
        }
        t->cols = realloc(t->cols, (size_t)(t->ncols + 1) * sizeof *t->cols);
        if (!t->cols) abort();
        lh_tcol_t *tc = &t->cols[t->ncols++];
        tc->name = lh_sdup(col);
        tc->data_type = lh_sdup(typ);
        tc->type = lh_type_from_name(typ);
    }
    lh_tables_dispose(k->tables, k->ntables);
    k->tables = tables;
    k->ntables = n;
    k->loaded = true;
}

/* A load of k ended (here or on another loop): the new tables, then its waiters. */
static void lh_apply(lh_cat_t *k, int status, const char *detail, const lh_result_t *r, bool log)
{
    k->loading = false;
    if (status == 0) {
        if (r->ncols >= 4) lh_build(k, r);
        if (log) log_info("lakehouse: catalog %s has %d tables", k->name, k->ntables);
    } else if (log) {
        log_warn("lakehouse: discovering the tables of catalog %s failed: %s", k->name,
                 detail ? detail : "");
    }
    lh_load_waiter_t *w = k->waiters;
    k->waiters = NULL;
    for (lh_load_waiter_t *n; w; w = n) {
        n = w->next;
        w->cb(status, detail, w->data);
        free(w);
    }
}

static void lh_loaded(const lh_outcome_t *o, void *data)
{
    lh_cat_t *k = data;
    lakehouse_t *lh = k->owner->lh;
    lh_shared_load_done(lh, k->name, o->status, o->detail, o->result); /* to the other loops */
    lh_apply(k, o->status, o->detail, o->result, true);
    lh_result_free(o->result);
}

/* The catalog's record, made when missing; NULL when LH_MAX_CATALOGS are in use. */
static lh_cat_t *lh_cat_get(lh_catalog_t *c, const char *catalog)
{
    lh_cat_t *k = lh_cat_find(c, catalog);
    if (k || c->ncats == LH_MAX_CATALOGS) return k;
    k = &c->cats[c->ncats++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", catalog);
    k->owner = c;
    return k;
}

void lh_tables_adopt(lakehouse_t *lh, const char *catalog, int status, const char *detail,
                     lh_result_t *result)
{
    lh_cat_t *k = lh_cat_get(lh->tables, catalog);
    if (k) lh_apply(k, status, detail, result, false);
}

void lh_tables_load(lh_catalog_t *c, const char *catalog, lh_tables_cb cb, void *data)
{
    lh_cat_t *k = lh_cat_get(c, catalog);
    if (!k) {
        if (cb) cb(503, "too many catalogs in use", data);
        return;
    }
    if (cb) {
        lh_load_waiter_t *w = calloc(1, sizeof *w);
        if (!w) abort();
        w->cb = cb;
        w->data = data;
        w->next = k->waiters;
        k->waiters = w;
    }
    if (k->loading) return;
    k->loading = true;
    if (!lh_shared_load_claim(c->lh->sh, catalog)) return; /* another loop's: its result comes */
    buf_t sql;
    buf_init(&sql);
    buf_append_str(&sql, "SELECT table_schema, table_name, column_name, data_type FROM ");
    lh_quote_ident(&sql, catalog);
    buf_append_str(&sql, ".`information_schema`.`columns` WHERE table_schema <> "
                         "'information_schema' ORDER BY table_schema, table_name, "
                         "ordinal_position");
    buf_append(&sql, "", 1);
    lh_stmt_run(c->lh, sql.data, NULL, 0, lh_loaded, NULL, k);
    buf_dispose(&sql);
}

static void lh_on_reload_timer(uv_timer_t *t)
{
    lh_catalog_t *c = t->data;
    lh_tables_load(c, c->lh->catalog, NULL, NULL);
}

void lh_tables_start(lh_catalog_t *c)
{
    /* Another loop loaded it already: build from that result rather than ask again. */
    lh_result_t *kept = lh_shared_load_kept(c->lh->sh, c->lh->catalog);
    if (kept) {
        lh_tables_adopt(c->lh, c->lh->catalog, 0, NULL, kept);
        lh_result_free(kept);
    } else {
        lh_tables_load(c, c->lh->catalog, NULL, NULL);
    }
    if (c->reload_s <= 0) return;
    uv_timer_init(c->lh->loop, &c->timer);
    c->timer.data = c;
    c->timer_ready = true;
    uint64_t ms = (uint64_t)(c->reload_s * 1000);
    uv_timer_start(&c->timer, lh_on_reload_timer, ms, ms);
    uv_unref((uv_handle_t *)&c->timer);
}

void lh_tables_close(lh_catalog_t *c)
{
    if (c->timer_ready && !uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, NULL);
}
