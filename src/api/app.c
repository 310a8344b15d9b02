/*
 * app - builds the application: every resource registers its statements
 * with the pool and its routes with the router (through the two helpers
 * here, which every resource file shares).
 */
#include <stdio.h>
#include <stdlib.h>

#include "api/api_internal.h"

int api_prepare(api_app_t *app, char *sql, int nparams, db_stmt_kind_t kind)
{
    int id = db_pool_add_statement(app->pool, sql, nparams, kind);
    free(sql);
    return id;
}

int api_add_routes(api_app_t *app, router_t *r, const api_route_t *routes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const api_route_t *rt = &routes[i];
        if (router_add(r, rt->methods, rt->pattern, rt->fn, app, &rt->doc) != 0) return -1;
    }
    return 0;
}

api_app_t *api_app_new(uv_loop_t *loop, const config_t *cfg, db_pool_t *pool, router_t *router,
                       char *err, size_t errlen)
{
    api_app_t *app = calloc(1, sizeof *app);
    if (!app) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    app->loop = loop;
    app->cfg = cfg;
    app->pool = pool;
    app->started_ns = uv_hrtime();
    if (api_ops_register(app, router) != 0 || api_orders_register(app, router) != 0 ||
        api_users_register(app, router) != 0 || api_notes_register(app, router) != 0 ||
        api_resources_register(app, router) != 0) {
        snprintf(err, errlen, "registering routes failed");
        api_app_free(app);
        return NULL;
    }
    /* Last: OpenAPI and metrics need every route. */
    if (api_ops_finish(app, router, err, errlen) != 0) {
        api_app_free(app);
        return NULL;
    }
    return app;
}

void api_app_free(api_app_t *app)
{
    if (!app) return;
    api_ops_dispose(app);
    api_resources_dispose(app);
    api_anchors_dispose(&app->orders_anchors);
    api_table_dispose(&app->orders);
    api_table_dispose(&app->users);
    api_table_dispose(&app->notes);
    free(app);
}
