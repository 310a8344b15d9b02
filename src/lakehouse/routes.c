/*
 * lakehouse/routes - the /lakehouse/v1 routes.
 *
 *   GET  /lakehouse/v1/          the discovered tables ("catalog.schema.name")
 *   POST /lakehouse/v1/_reload   discovers the configured catalog's tables again
 *                                (admins only once access control is configured)
 *   GET  /lakehouse/v1/{table}   the Data API's read grammar over a table (read.c)
 *
 * {table} is `name` (LAKEHOUSE_CATALOG.LAKEHOUSE_SCHEMA), `schema.name` or
 * `catalog.schema.name`; only tables information_schema reported are served.
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "lakehouse/read.h"
#include "lakehouse/respond.h"
#include "lakehouse/tables.h"

static void lh_list_handler(http_exchange_t *ex, void *data)
{
    lakehouse_t *lh = data;
    json_writer_t w;
    web_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, "warehouse_id", lh->warehouse_id);
    char st[24];
    lh_wh_get(lh, st, NULL, 0);
    jw_kv_string(&w, "warehouse_state", st[0] ? st : "UNKNOWN");
    jw_key(&w, "tables");
    lh_tables_list(lh->tables, &w);
    jw_object_end(&w);
    web_send_json(ex, 200);
}

typedef struct lh_reload {
    http_exchange_t *ex;
    lakehouse_t *lh;
} lh_reload_t;

static void lh_reloaded(int status, const char *detail, void *data)
{
    lh_reload_t *rl = data;
    if (status) {
        lh_send_error(rl->ex, status, detail, status == 503 ? 5 : 0, NULL);
        return;
    }
    /* A new table set: results cached under the old one may name dropped columns. */
    lh_cache_clear(rl->lh->cache);
    lh_list_handler(rl->ex, rl->lh);
}

/* With access control configured, a reload (a statement on the warehouse) is for admins. */
static bool lh_reload_allowed(http_exchange_t *ex, const lakehouse_t *lh)
{
    if (!lh->auth || !auth_configured(lh->auth)) return true;
    const auth_identity_t *id = auth_identity(ex);
    if (id && id->admin) return true;
    json_writer_t w;
    web_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, "code", "PGRST403");
    jw_kv_string(&w, "message", "POST /lakehouse/v1/_reload needs an admin identity");
    jw_key(&w, "details");
    jw_null(&w);
    jw_key(&w, "hint");
    jw_cstring(&w, "ADMIN_CLAIM / ADMIN_ROLES decide who is an admin");
    jw_object_end(&w);
    web_send_json(ex, 403);
    return false;
}

static void lh_reload_handler(http_exchange_t *ex, void *data)
{
    if (!lh_reload_allowed(ex, data)) return;
    lh_reload_t *rl = arena_calloc(http_exchange_arena(ex), sizeof *rl);
    rl->ex = ex;
    rl->lh = data;
    lh_tables_load(rl->lh->tables, rl->lh->catalog, lh_reloaded, rl);
}

static const web_response_doc_t lh_resp_list[] = {
    {200, NULL, "The SQL warehouse, its state and the discovered tables"}, {0}};
static const web_response_doc_t lh_resp_reload[] = {
    {200, NULL, "The tables after discovery"},
    {403, NULL, "Access control is configured and the identity is no admin"},
    {503, "HTTPError", "The warehouse could not be asked (with Retry-After)"},
    {0}};

static const web_route_t lh_routes[] = {
    {HTTP_GET,
     "/lakehouse/v1/",
     lh_list_handler,
     {"lakehouse_tables", "The Lakehouse tables served", "lakehouse", NULL, NULL, lh_resp_list}},
    {HTTP_POST,
     "/lakehouse/v1/_reload",
     lh_reload_handler,
     {"lakehouse_reload", "Discover the tables again (information_schema)", "lakehouse", NULL, NULL,
      lh_resp_reload}},
};

int lakehouse_register(lakehouse_t *lh, router_t *r)
{
    if (web_add_routes(r, lh_routes, sizeof lh_routes / sizeof lh_routes[0], lh) != 0) return -1;
    return lh_read_register(lh, r);
}
