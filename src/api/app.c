/*
 * app - builds the application: walks the table of the tutorial's resources,
 * each of which registers its statements with the pool and its routes with
 * the router, then finishes the operational parts (OpenAPI, metrics, CORS,
 * docs) that need every route. The dependency is one-way: this file knows
 * the list of resources; no resource knows this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

/* In registration order: ops first, so its routes lead the router (and /metrics). */
static const api_resource_t *const api_resources_all[] = {
    &api_ops_resource,   &api_orders_resource,    &api_users_resource,
    &api_notes_resource, &api_resources_resource,
};
#define API_NRESOURCES (sizeof api_resources_all / sizeof api_resources_all[0])

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
    app->counts = web_counts_new(pool, cfg->rest_count_ttl_s);
    for (size_t i = 0; i < API_NRESOURCES; i++) {
        if (api_resources_all[i]->register_fn(app, router) != 0) {
            snprintf(err, errlen, "registering the %s routes failed", api_resources_all[i]->name);
            api_app_free(app);
            return NULL;
        }
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
    for (size_t i = API_NRESOURCES; i-- > 0;) {
        if (api_resources_all[i]->dispose_fn) api_resources_all[i]->dispose_fn(app);
    }
    web_anchors_dispose(&app->orders_anchors);
    web_cursor_cache_dispose(&app->orders_cursors);
    web_table_dispose(&app->orders);
    web_table_dispose(&app->users);
    web_table_dispose(&app->notes);
    web_counts_free(app->counts);
    free(app);
}

static void api_lakehouse_metrics(buf_t *out, void *data)
{
    lakehouse_metrics(data, out);
}

int api_app_set_lakehouse(api_app_t *app, struct lakehouse *lh, char *err, size_t errlen)
{
    app->lakehouse = lh;
    if (app->metrics) web_metrics_add_renderer(app->metrics, api_lakehouse_metrics, lh);
    if (strcmp(app->cfg->users_backend, "lakehouse") == 0)
        return api_users_use_lakehouse(app, lh, err, errlen);
    return 0;
}

struct web_counts *api_app_counts(api_app_t *app)
{
    return app->counts;
}
