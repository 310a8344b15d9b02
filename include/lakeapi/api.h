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
#include "lakeapi/http_server.h"
#include "lakeapi/router.h"
#include "lakeapi/workspace.h"

typedef struct api_app api_app_t;

/*
 * Creates the application: builds table descriptors from cfg (table names),
 * registers every prepared statement with pool (before db_pool_start) and
 * every route with router. cfg and pool must outlive the app.
 */
api_app_t *api_app_new(uv_loop_t *loop, const config_t *cfg, db_pool_t *pool, router_t *router,
                       char *err, size_t errlen);
void api_app_free(api_app_t *app);

/*
 * The access-control state (borrowed; it must outlive the app): its hook runs
 * before routing, after CORS, and its families join /metrics. Call before
 * api_app_attach().
 */
struct auth;
void api_app_set_auth(api_app_t *app, struct auth *auth);

/*
 * Hooks the app's operational parts into server (which must outlive the app):
 * the metrics observer, the CORS pre-route hook when CORS_ALLOW_ORIGINS is
 * set, and the in-flight gauge. credentials (may be NULL) feeds the token
 * mint counters of /metrics.
 */
void api_app_attach(api_app_t *app, http_server_t *server, const db_credentials_t *credentials);

/*
 * The Databricks workspace client the resource lifecycle routes call
 * (borrowed; it must outlive the app). NULL or never set: those routes answer
 * 503 naming the missing settings.
 */
void api_app_set_workspace(api_app_t *app, workspace_t *workspace);

/*
 * WORKERS loops: the Lakebase resource job (create, delete, status) runs on
 * one loop, the home; the other loops forward those routes to it and answer
 * from there, so a job and its status are the process's. Reference counted:
 * new returns one reference, every app given it takes one.
 */
typedef struct api_resources_home api_resources_home_t;
struct inbox;
api_resources_home_t *api_resources_home_new(void);
void api_resources_home_release(api_resources_home_t *h);
/* app joins h (home: it runs the job); inbox: app's loop's (a reference is taken). */
void api_app_set_resources_home(api_app_t *app, api_resources_home_t *h, bool home,
                                struct inbox *inbox);

/*
 * The SQL warehouse backend (borrowed; it must outlive the app): /readyz
 * reports its state, /metrics its counters, and with USERS_BACKEND=lakehouse
 * the users routes run on it. -1 with err when its users table cannot be used.
 */
struct lakehouse;
int api_app_set_lakehouse(api_app_t *app, struct lakehouse *lh, char *err, size_t errlen);

/*
 * The app's OpenAPI registry and metrics (owned by the app), for the rooms
 * beside it (the Data API, auth, the lakehouse) to add their paths, schemas
 * and metric families to the same /openapi.json and /metrics.
 */
struct web_openapi *api_app_openapi(api_app_t *app);
struct web_metrics *api_app_metrics(api_app_t *app);
/* The per-table count caches (owned by the app), shared with the Data API. */
struct web_counts *api_app_counts(api_app_t *app);

#endif
