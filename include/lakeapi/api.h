/*
 * api - the resources lakeapi serves, wired to routes.
 *
 * The api layer knows resources: it validates input into typed parameters,
 * picks a prepared statement, and encodes rows to JSON. It never touches a
 * socket (http layer) and never opens a connection (db layer).
 */
#ifndef LAKEAPI_API_H
#define LAKEAPI_API_H

#include <stddef.h>
#include <uv.h>

#include "lakeapi/config.h"
#include "lakeapi/db.h"
#include "lakeapi/router.h"

typedef struct api_app api_app_t;

/*
 * Creates the application: builds table descriptors from cfg (table names),
 * registers every prepared statement with pool (before db_pool_start) and
 * every route with router. cfg and pool must outlive the app.
 */
api_app_t *api_app_new(uv_loop_t *loop, const config_t *cfg, db_pool_t *pool, router_t *router,
                       char *err, size_t errlen);
void api_app_free(api_app_t *app);

#endif
