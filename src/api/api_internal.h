/*
 * api_internal.h - what the tutorial's resource files (orders.c, users.c,
 * notes.c, resources*.c, ops.c) share: the application state and how a
 * resource registers itself. The framework they use is src/web/web.h.
 *
 * May include: web, auth, lakehouse, db, http, workspace, json, config, util. A
 * resource never includes another resource's file.
 */
#ifndef LAKEAPI_API_INTERNAL_H
#define LAKEAPI_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/auth.h"
#include "lakeapi/api.h"
#include "lakehouse/lakehouse.h"
#include "web/web.h"

/* ---- the application ---- */

#define API_ROW_SCHEMAS 5

struct api_app {
    uv_loop_t *loop;
    const config_t *cfg;
    db_pool_t *pool;
    web_table_t orders;
    struct {
        int sample, get, keyset, offset, prev_cursor, update_status, anchors, keyset_offset;
    } orders_sql;
    web_counts_t *counts;              /* per-table counts, shared with the Data API */
    web_count_cache_t *orders_count; /* the orders table's entry in counts */
    web_anchors_t orders_anchors;
    web_cursor_cache_t orders_cursors; /* /stream's previous cursors (web/cursors.c) */
    web_table_t users;
    web_store_pg_t users_pg;
    web_store_t users_store; /* users_pg's, or the lakehouse's (api_users_use_lakehouse) */
    lakehouse_t *lakehouse;  /* api_app_set_lakehouse(); NULL: no SQL warehouse */
    web_table_t notes;
    struct {
        int latest, insert;
    } notes_sql;
    int ping_sql;
    uint64_t started_ns;
    /* operations (ops.c): built once every route is registered */
    const router_t *router;
    web_openapi_t *openapi;                            /* the registry and the cached document */
    web_openapi_schema_t row_schemas[API_ROW_SCHEMAS]; /* schemas.c: Order, User, Note ... */
    struct web_metrics *metrics;
    struct web_cors *cors; /* NULL when CORS is not configured */
    auth_t *auth;          /* api_app_set_auth(); NULL: no access-control hook */
    struct web_split *split; /* NULL without read replicas */
    struct web_docs *docs;
    http_server_t *server;               /* api_app_attach(); NULL before */
    const db_credentials_t *credentials; /* api_app_attach(); may be NULL */
    /* Lakebase resource lifecycle (resources*.c) */
    workspace_t *workspace; /* api_app_set_workspace(); NULL: not configured */
    struct api_resources *resources;
};

/*
 * A resource: how app.c builds and tears it down. Each resource file defines
 * one; app.c walks the table of them (api_resources_all), so the dependency
 * is one-way - app.c knows the list, no resource calls back into app.c.
 * register adds the resource's statements to the pool and its routes to the
 * router; dispose (may be NULL) frees what register allocated.
 */
typedef struct api_resource {
    const char *name;
    int (*register_fn)(api_app_t *app, router_t *r);
    void (*dispose_fn)(api_app_t *app);
} api_resource_t;

extern const api_resource_t api_ops_resource;       /* ops.c: health, OpenAPI, metrics, docs */
extern const api_resource_t api_orders_resource;    /* orders.c */
extern const api_resource_t api_users_resource;     /* users.c */
extern const api_resource_t api_notes_resource;     /* notes.c: notes and the landing page */
extern const api_resource_t api_resources_resource; /* resources*.c: Lakebase lifecycle */

/* users.c: serves the users routes from the SQL warehouse instead of Postgres. */
int api_users_use_lakehouse(api_app_t *app, lakehouse_t *lh, char *err, size_t errlen);

/* Adds a statement to the app's pool and frees sql; returns the statement id. */
static inline int api_prepare(api_app_t *app, char *sql, int nparams, db_stmt_kind_t kind)
{
    return web_prepare(app->pool, sql, nparams, kind);
}

/* ops.c: OpenAPI, metrics, CORS and docs, built once every resource has registered. */
int api_ops_finish(api_app_t *app, const router_t *r, char *err, size_t errlen);
void api_ops_dispose(api_app_t *app);
/* schemas.c: registers the tutorial's schemas (rows and envelopes) with o. */
void api_schemas_register(api_app_t *app, web_openapi_t *o);

#endif
