/*
 * rest - the Data API: every table and view of LAKEAPI_SCHEMAS under
 * REST_PREFIX (default /rest/v1) in PostgREST's grammar (src/rest/).
 *
 * The CLI creates it beside the api app: rest_app_new() registers the routes
 * (before the server starts), rest_app_start() loads the schema snapshot and
 * listens for reloads once the pool runs (NOTIFY lakeapi, 'reload schema' and
 * SIGUSR1). Requests that arrive before the first snapshot answer 503.
 */
#ifndef LAKEAPI_REST_PUBLIC_H
#define LAKEAPI_REST_PUBLIC_H

#include <stddef.h>
#include <uv.h>

#include "lakeapi/config.h"
#include "lakeapi/db.h"
#include "lakeapi/router.h"

typedef struct rest_app rest_app_t;
struct web_openapi;
struct web_counts;

/*
 * Registers the route (call it before the api app builds its metrics, so the
 * route has its own series). Returns NULL with err naming the setting on a
 * bad value.
 */
rest_app_t *rest_app_new(uv_loop_t *loop, const config_t *cfg, db_pool_t *pool, router_t *router,
                         char *err, size_t errlen);
/*
 * openapi (borrowed, may be NULL): the registry of /openapi.json, rebuilt on
 * every reload. counts (borrowed, may be NULL): the shared per-table count
 * caches. Both come from the api app, built after rest_app_new().
 */
void rest_app_bind(rest_app_t *app, struct web_openapi *openapi, struct web_counts *counts);
/* After db_pool_start(): the first load, the LISTEN connection and the SIGUSR1 handler. */
void rest_app_start(rest_app_t *app);
/*
 * WORKERS > 1: one schema snapshot for every loop. The leader loop's app is
 * started as usual and hands each new snapshot to publish (with a reference
 * the callee owns); the other loops' apps are never started (no LISTEN, no
 * load, no SIGUSR1) and take each snapshot, on their own loop, with
 * rest_app_adopt (which takes over the reference). References are atomic.
 */
struct rest_snapshot;
typedef void (*rest_publish_fn)(struct rest_snapshot *snap, void *data);
void rest_app_set_publisher(rest_app_t *app, rest_publish_fn fn, void *data);
void rest_app_adopt(rest_app_t *app, struct rest_snapshot *snap);
struct rest_snapshot *rest_snapshot_share(struct rest_snapshot *snap); /* one more reference */
void rest_snapshot_release(struct rest_snapshot *snap);
/* Stops listening (before the pool closes); the loop then closes its handles. */
void rest_app_stop(rest_app_t *app);
void rest_app_free(rest_app_t *app); /* after the loop has run the close callbacks */

#endif
