/*
 * ops - the operational routes: the landing message, the seed's
 * healthcheck, liveness and readiness.
 *
 * /livez answers from the process alone. /readyz runs a real query through
 * the pool, so it is 200 only when a connection can be had and used (which
 * also proves the credentials), and 503 with the reason otherwise.
 */
#include <stdio.h>
#include <time.h>

#include "api/api_internal.h"

static void ops_root_handler(http_exchange_t *ex, void *data)
{
    (void)data;
    json_writer_t w;
    api_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, "message", "Hello Lakehouse");
    jw_object_end(&w);
    api_send_json(ex, 200);
}

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
    api_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, "status", "OK");
    jw_kv_string(&w, "timestamp", now);
    jw_object_end(&w);
    api_send_json(ex, 200);
}

static void ops_livez_handler(http_exchange_t *ex, void *data)
{
    (void)data;
    json_writer_t w;
    api_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, "status", "alive");
    jw_object_end(&w);
    api_send_json(ex, 200);
}

static void ops_readyz_done(const db_result_t *r, void *data)
{
    http_exchange_t *ex = data;
    json_writer_t w;
    if (r->status != DB_OK) {
        http_exchange_add_header(ex, "Retry-After", "1");
        api_json_begin(ex, &w);
        jw_object_begin(&w);
        jw_kv_string(&w, "status", "unavailable");
        jw_kv_string(&w, "detail", r->message ? r->message : db_status_name(r->status));
        jw_object_end(&w);
        api_send_json(ex, 503);
        return;
    }
    api_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, "status", "ready");
    jw_object_end(&w);
    api_send_json(ex, 200);
}

static void ops_readyz_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    db_pool_query(app->pool, app->ping_sql, 0, NULL, ops_readyz_done, ex);
}

int api_ops_register(api_app_t *app, router_t *r)
{
    app->ping_sql = db_pool_add_statement(app->pool, "SELECT 1", 0, DB_STMT_READ);
    if (router_add(r, HTTP_GET, "/", ops_root_handler, app, NULL) != 0 ||
        router_add(r, HTTP_GET, "/api/v1/healthcheck", ops_healthcheck_handler, app, NULL) != 0 ||
        router_add(r, HTTP_GET, "/livez", ops_livez_handler, app, NULL) != 0 ||
        router_add(r, HTTP_GET, "/readyz", ops_readyz_handler, app, NULL) != 0)
        return -1;
    return 0;
}
