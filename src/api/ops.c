/*
 * ops - the operational routes: the seed's healthcheck, liveness,
 * readiness, /metrics, /openapi.json and the Swagger UI at /docs (the
 * landing route "/" lives in notes.c), and the wiring of the operational
 * parts (metrics observer, CORS hook) once every resource has registered.
 *
 * /livez answers from the process alone. /readyz runs a real query through
 * the pool, so it is 200 only when a connection can be had and used (which
 * also proves the credentials), and 503 with the reason otherwise - a safe
 * category, the server's own text goes to the log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "api/api_internal.h"
#include "lakeapi/log.h"

static void ops_iso_now(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%06ldZ", ts.tv_nsec / 1000);
}

static void ops_healthcheck_handler(http_exchange_t *ex, void *data)
{
    (void)data;
    char now[48];
    ops_iso_now(now, sizeof now);
    json_writer_t w;
    web_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, "status", "OK");
    jw_kv_string(&w, "timestamp", now);
    jw_object_end(&w);
    web_send_json(ex, 200);
}

static void ops_livez_handler(http_exchange_t *ex, void *data)
{
    (void)data;
    web_send_field(ex, 200, "status", "alive");
}

static const char *ops_unready_reason(db_status_t st)
{
    switch (st) {
    case DB_ERR_UNAVAILABLE:
        return "Database unavailable";
    case DB_ERR_POOL_TIMEOUT:
        return "Database connection pool exhausted";
    case DB_ERR_TIMEOUT:
        return "Database statement timed out";
    default:
        return "Database error";
    }
}

/* The SQL warehouse's part of /readyz: true when RUNNING (or not configured). */
static bool ops_readyz_warehouse(http_exchange_t *ex, const api_app_t *app, json_writer_t *w)
{
    if (!app->lakehouse) return true;
    char line[400];
    bool ok = lakehouse_ready(app->lakehouse, line, sizeof line);
    jw_kv_string(w, "warehouse", line);
    if (!ok) http_exchange_add_header(ex, "Retry-After", "10");
    return ok;
}

typedef struct ops_readyz {
    http_exchange_t *ex;
    api_app_t *app;
} ops_readyz_t;

static void ops_readyz_done(const db_result_t *r, void *data)
{
    ops_readyz_t *rz = data;
    http_exchange_t *ex = rz->ex;
    if (r) http_exchange_note_pool_wait(ex, r->wait_ms);
    /* no database configured, or it answered: the warehouse decides */
    if (!r || (r->status == DB_OK && rz->app->lakehouse)) {
        json_writer_t w;
        web_json_begin(ex, &w);
        jw_object_begin(&w);
        bool ok = ops_readyz_warehouse(ex, rz->app, &w);
        jw_kv_string(&w, "status", ok ? "ready" : "unavailable");
        jw_object_end(&w);
        web_send_json(ex, ok ? 200 : 503);
        return;
    }
    if (r->status != DB_OK) {
        log_warn("request %s: not ready: database %s: %s", http_exchange_request_id(ex),
                 db_status_name(r->status), r->message ? r->message : "");
        http_exchange_add_header(ex, "Retry-After", "1");
        json_writer_t w;
        web_json_begin(ex, &w);
        jw_object_begin(&w);
        jw_kv_string(&w, "status", "unavailable");
        jw_kv_string(&w, "detail",
                     r->status == DB_ERR_CREDENTIALS ? web_credentials_detail(ex, r)
                                                     : ops_unready_reason(r->status));
        jw_object_end(&w);
        web_send_json(ex, 503);
        return;
    }
    web_send_field(ex, 200, "status", "ready");
}

static void ops_readyz_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    ops_readyz_t *rz = arena_calloc(http_exchange_arena(ex), sizeof *rz);
    rz->ex = ex;
    rz->app = app;
    if (app->lakehouse && !config_has_database(app->cfg)) {
        ops_readyz_done(NULL, rz);
        return;
    }
    db_pool_query(app->pool, app->ping_sql, 0, NULL, ops_readyz_done, rz);
}

/*
 * The framework's handlers take their own objects as data; those are built in
 * api_ops_finish, after the routes are registered, so these pass them on.
 */
static void ops_metrics_handler(http_exchange_t *ex, void *data)
{
    web_metrics_handler(ex, ((api_app_t *)data)->metrics);
}

static void ops_openapi_handler(http_exchange_t *ex, void *data)
{
    web_openapi_handler(ex, ((api_app_t *)data)->openapi);
}

static void ops_docs_page_handler(http_exchange_t *ex, void *data)
{
    web_docs_page_handler(ex, ((api_app_t *)data)->docs);
}

static void ops_docs_file_handler(http_exchange_t *ex, void *data)
{
    web_docs_file_handler(ex, ((api_app_t *)data)->docs);
}

/* ---- routes and what OpenAPI says about them ---- */

static const web_param_t param_docs_file = {
    .name = "file",
    .in = "path",
    .type = WEB_PARAM_STRING,
    .required = true,
    .description = "One of swagger-ui.css, swagger-ui-bundle.js, swagger-initializer.js, "
                   "favicon-32x32.png, favicon-16x16.png"};
static const web_param_t *const params_docs_file[] = {&param_docs_file, NULL};

static const web_response_doc_t resp_healthcheck[] = {{200, "HealthCheck", "The server is up"},
                                                      {0}};
static const web_response_doc_t resp_livez[] = {{200, "Liveness", "The process is up"}, {0}};
static const web_response_doc_t resp_readyz[] = {
    {200, "Readiness", "A database connection works"},
    {503, "Readiness", "The database cannot be used now (with Retry-After)"},
    {0}};
static const web_response_doc_t resp_metrics[] = {
    {200, "text/plain; version=0.0.4", "Prometheus text exposition format 0.0.4"}, {0}};
static const web_response_doc_t resp_openapi[] = {
    {200, "application/json", "This document (OpenAPI 3.1)"}, {0}};
static const web_response_doc_t resp_docs[] = {
    {200, "text/html", "The Swagger UI page"},
    {503, "HTTPError", "The Swagger UI files are not installed"},
    {0}};
static const web_response_doc_t resp_docs_file[] = {
    {200, "*/*", "A Swagger UI asset (CSS, JavaScript or PNG)"},
    {404, "HTTPError", "No such file"},
    {503, "HTTPError", "The Swagger UI files are not installed"},
    {0}};

static const web_route_t ops_routes[] = {
    {HTTP_GET,
     "/api/v1/healthcheck",
     ops_healthcheck_handler,
     {"healthcheck", "Health check", "ops", NULL, NULL, resp_healthcheck}},
    {HTTP_GET,
     "/livez",
     ops_livez_handler,
     {"livez", "Liveness: the process is up", "ops", NULL, NULL, resp_livez}},
    {HTTP_GET,
     "/readyz",
     ops_readyz_handler,
     {"readyz", "Readiness: a database connection works", "ops", NULL, NULL, resp_readyz}},
    {HTTP_GET,
     "/metrics",
     ops_metrics_handler,
     {"metrics", "Prometheus metrics", "ops", NULL, NULL, resp_metrics}},
    {HTTP_GET,
     "/openapi.json",
     ops_openapi_handler,
     {"openapi", "This OpenAPI document", "ops", NULL, NULL, resp_openapi}},
    {HTTP_GET,
     "/docs",
     ops_docs_page_handler,
     {"swagger_ui", "Swagger UI", "ops", NULL, NULL, resp_docs}},
    {HTTP_GET,
     "/docs/{file}",
     ops_docs_file_handler,
     {"swagger_ui_file", "Swagger UI assets", "ops", params_docs_file, NULL, resp_docs_file}},
};

static int ops_register(api_app_t *app, router_t *r)
{
    app->ping_sql = db_pool_add_statement(app->pool, "SELECT 1", 0, DB_STMT_READ);
    return web_add_routes(r, ops_routes, sizeof ops_routes / sizeof ops_routes[0], app);
}

/* ---- the operational parts, once every route is known ---- */

/* What /metrics reads besides its counters; server and credentials once attached. */
static void ops_metrics_sources(api_app_t *app)
{
    web_metrics_sources_t src = {.pool = app->pool,
                                 .pool_size = app->cfg->pool_size,
                                 .max_overflow = app->cfg->max_overflow,
                                 .server = app->server,
                                 .credentials = app->credentials,
                                 .started_ns = app->started_ns};
    web_metrics_set_sources(app->metrics, &src);
}

int api_ops_finish(api_app_t *app, const router_t *r, char *err, size_t errlen)
{
    char why[256];
    app->router = r;
    app->openapi = web_openapi_new();
    if (!app->openapi) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    api_schemas_register(app, app->openapi);
    if (web_openapi_build(app->openapi, r, why, sizeof why) != 0) {
        size_t len;
        if (!web_openapi_json(app->openapi, &len)) {
            snprintf(err, errlen, "%s", why);
            return -1;
        }
        /* A route names a schema nobody registered: serve anyway, the tests catch it. */
        log_error("%s", why);
    }
    app->metrics = web_metrics_new(r);
    if (!app->metrics) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ops_metrics_sources(app);
    if (web_cors_new(app->cfg->cors_allow_origins, app->cfg->cors_allow_credentials, r, &app->cors,
                     err, errlen) != 0)
        return -1;
    app->docs = web_docs_load(app->cfg->swagger_ui_dir);
    return 0;
}

void api_ops_dispose(api_app_t *app)
{
    web_openapi_free(app->openapi);
    web_metrics_free(app->metrics);
    web_cors_free(app->cors);
    web_split_free(app->split);
    web_docs_free(app->docs);
}

static void ops_auth_metrics(buf_t *out, void *data)
{
    auth_metrics_render(data, out);
}

void api_app_set_auth(api_app_t *app, auth_t *auth)
{
    app->auth = auth;
    if (auth) web_metrics_add_renderer(app->metrics, ops_auth_metrics, auth);
}

/*
 * The read/write split first (it only notes the request, or refuses a malformed
 * X-Lakeapi-Min-LSN), CORS next (a preflight carries no credentials), then
 * access control.
 */
static bool ops_pre_route(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    if (app->split && web_split_pre_route(ex, app->split)) return true;
    if (app->cors && web_cors_pre_route(ex, app->cors)) return true;
    return app->auth && auth_pre_route(ex, app->auth);
}

void api_app_attach(api_app_t *app, http_server_t *server, const db_credentials_t *credentials)
{
    app->server = server;
    app->credentials = credentials;
    ops_metrics_sources(app);
    http_server_set_observer(server, web_metrics_observe, app->metrics);
    app->split = web_split_new(app->pool);
    if (app->split) web_metrics_add_renderer(app->metrics, web_split_render_metrics, app->split);
    if (app->cors || app->auth || app->split) http_server_set_pre_route(server, ops_pre_route, app);
}

web_openapi_t *api_app_openapi(api_app_t *app)
{
    return app->openapi;
}

web_metrics_t *api_app_metrics(api_app_t *app)
{
    return app->metrics;
}

const api_resource_t api_ops_resource = {"ops", ops_register, NULL};
