/*
 * rest/app - the Data API's lifetime: settings, the route, the schema
 * snapshot and its reload.
 *
 * Reload: `NOTIFY lakeapi, 'reload schema'` (a LISTEN connection, db/listen)
 * or SIGUSR1 asks for one; requests within REST_RELOAD_DEBOUNCE_MS coalesce
 * into one load. The catalog statement runs through the pool like any read;
 * while it runs requests keep the current snapshot, then the pointer is
 * swapped (the loop is single-threaded, so the switch is atomic for them) and
 * the OpenAPI document is rebuilt. A failed load keeps the old snapshot and
 * logs why; a first load that fails is retried every second.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lakeapi/log.h"
#include "rest/rest.h"

#define REST_RELOAD_DEBOUNCE_MS 100
#define REST_CHANNEL            "lakeapi"

static void ap_load(rest_app_t *app);

static void ap_on_timer(uv_timer_t *t)
{
    ap_load(t->data);
}

void rest_reload(rest_app_t *app)
{
    if (app->stopped) return;
    if (app->loading) {
        app->reload_again = true; /* a change made during this load: load once more after it */
        return;
    }
    uv_timer_start(&app->debounce, ap_on_timer, REST_RELOAD_DEBOUNCE_MS, 0);
}

static void ap_rebuild_openapi(rest_app_t *app)
{
    if (!app->openapi) return;
    char err[256];
    if (web_openapi_build(app->openapi, app->router, err, sizeof err) != 0)
        log_warn("Data API: OpenAPI rebuild: %s", err);
}

static void ap_loaded(const db_result_t *r, void *data)
{
    rest_app_t *app = data;
    app->loading = false;
    uint64_t now = uv_hrtime();
    char err[256] = "";
    rest_snapshot_t *snap = NULL;
    if (r->status == DB_OK && PQntuples(r->res) == 1)
        snap = rest_snapshot_from_json(PQgetvalue(r->res, 0, 0), (const char *const *)app->schemas,
                                       app->nschemas, err, sizeof err);
    else
        snprintf(err, sizeof err, "%s (%s)", db_status_name(r->status),
                 r->message ? r->message : "no result");
    if (!snap) {
        app->reload_failures++;
        log_warn("Data API: schema load failed, %s: %s",
                 app->snap ? "keeping the old snapshot" : "retrying", err);
        if (!app->snap && !app->stopped) uv_timer_start(&app->debounce, ap_on_timer, 1000, 0);
    } else {
        snap->version = ++app->versions;
        snap->loaded_ms = (double)(now - app->load_started_ns) / 1e6;
        rest_snapshot_t *old = app->snap;
        app->snap = snap;
        rest_snapshot_unref(old);
        app->reloads++;
        log_info("Data API: schema snapshot %llu: %d relations, %d foreign keys (%.1f ms)",
                 (unsigned long long)snap->version, snap->ntables, snap->nfks, snap->loaded_ms);
        ap_rebuild_openapi(app);
        if (app->publish) app->publish(rest_snapshot_ref(snap), app->publish_data);
    }
    if (app->reload_again && !app->stopped) {
        app->reload_again = false;
        rest_reload(app);
    }
}

static void ap_load(rest_app_t *app)
{
    if (app->loading || app->stopped) return;
    app->loading = true;
    app->load_started_ns = uv_hrtime();
    app->load_params[0] = app->schemas_param;
    db_pool_query_sql(app->pool, rest_schema_sql(), 1, app->load_params, DB_STMT_READ, ap_loaded,
                      app);
}

static void ap_on_notify(const char *channel, const char *payload, void *data)
{
    rest_app_t *app = data;
    if (!channel) { /* (re)connected: a NOTIFY may have been missed */
        if (app->snap) rest_reload(app);
        return;
    }
    if (!payload || !*payload || !strcmp(payload, "reload schema")) rest_reload(app);
}

static void ap_on_sigusr1(uv_signal_t *h, int signum)
{
    (void)signum;
    log_info("Data API: SIGUSR1: reloading the schema");
    rest_reload(h->data);
}

/* LAKEAPI_SCHEMAS "a, b" -> the list and the text[] literal {"a","b"}. */
static int ap_schemas(rest_app_t *app, const char *list, char *err, size_t errlen)
{
    buf_t lit;
    buf_init(&lit);
    buf_append_char(&lit, '{');
    char *copy = strdup(list), *save = NULL;
    if (!copy) abort();
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && e[-1] == ' ')
            *--e = '\0';
        if (!*tok) continue;
        app->schemas = realloc(app->schemas, sizeof *app->schemas * (size_t)(app->nschemas + 1));
        if (!app->schemas) abort();
        app->schemas[app->nschemas++] = strdup(tok);
        buf_append_str(&lit, app->nschemas > 1 ? ",\"" : "\"");
        for (const char *c = tok; *c; c++) {
            if (*c == '"' || *c == '\\') buf_append_char(&lit, '\\');
            buf_append_char(&lit, *c);
        }
        buf_append_char(&lit, '"');
    }
    free(copy);
    buf_append_char(&lit, '}');
    app->schemas_param = buf_steal(&lit);
    if (app->nschemas == 0) {
        snprintf(err, errlen, "LAKEAPI_SCHEMAS: no schema named");
        return -1;
    }
    return 0;
}

static int ap_prefix(rest_app_t *app, const char *prefix, char *err, size_t errlen)
{
    size_t n = strlen(prefix);
    while (n > 1 && prefix[n - 1] == '/')
        n--;
    if (prefix[0] != '/' || strpbrk(prefix, "{}?#% ")) {
        snprintf(err, errlen,
                 "REST_PREFIX: '%s' is not a path (it starts with / and has no {}?#%% or blanks)",
                 prefix);
        return -1;
    }
    app->prefix = strndup(prefix, n);
    size_t len = n + 16;
    app->pattern = malloc(len);
    if (!app->prefix || !app->pattern) abort();
    snprintf(app->pattern, len, "%s/{table}", n == 1 ? "" : app->prefix);
    return 0;
}

rest_app_t *rest_app_new(uv_loop_t *loop, const config_t *cfg, db_pool_t *pool, router_t *router,
                         char *err, size_t errlen)
{
    rest_app_t *app = calloc(1, sizeof *app);
    if (!app) abort();
    app->loop = loop;
    app->cfg = cfg;
    app->pool = pool;
    app->router = router;
    app->max_rows = cfg->db_max_rows;
    app->unfiltered_writes = cfg->rest_unfiltered_writes;
    rest_limits_default(&app->limits);
    uv_timer_init(loop, &app->debounce);
    app->debounce.data = app;
    uv_signal_init(loop, &app->sigusr1);
    app->sigusr1.data = app;
    if (ap_schemas(app, cfg->rest_schemas ? cfg->rest_schemas : "public", err, errlen) ||
        ap_prefix(app, cfg->rest_prefix ? cfg->rest_prefix : "/rest/v1", err, errlen) ||
        router_add(router, HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE,
                   app->pattern, rest_handler, app, NULL) != 0) {
        if (!*err) snprintf(err, errlen, "REST_PREFIX: the router refused '%s'", app->pattern);
        rest_app_stop(app);
        app->closing_free = true;
        return NULL;
    }
    return app;
}

void rest_app_bind(rest_app_t *app, struct web_openapi *openapi, struct web_counts *counts)
{
    app->openapi = openapi;
    app->counts = counts;
    if (openapi) web_openapi_add_extension(openapi, rest_openapi_extend, app);
}

void rest_app_set_publisher(rest_app_t *app, rest_publish_fn fn, void *data)
{
    app->publish = fn;
    app->publish_data = data;
}

void rest_app_adopt(rest_app_t *app, struct rest_snapshot *snap)
{
    if (app->stopped) {
        rest_snapshot_unref(snap);
        return;
    }
    rest_snapshot_t *old = app->snap;
    app->snap = snap; /* the loop is single-threaded: its requests see one or the other */
    rest_snapshot_unref(old);
    app->reloads++;
    ap_rebuild_openapi(app);
}

struct rest_snapshot *rest_snapshot_share(struct rest_snapshot *snap)
{
    return rest_snapshot_ref(snap);
}

void rest_snapshot_release(struct rest_snapshot *snap)
{
    rest_snapshot_unref(snap);
}

void rest_app_start(rest_app_t *app)
{
    ap_load(app);
    app->listen = db_listen_start(app->pool, REST_CHANNEL, ap_on_notify, app);
    uv_signal_start(&app->sigusr1, ap_on_sigusr1, SIGUSR1);
}

static void ap_closed(uv_handle_t *h)
{
    rest_app_t *app = h->data;
    if (--app->open_handles == 0 && app->closing_free) rest_app_free(app);
}

void rest_app_stop(rest_app_t *app)
{
    if (!app || app->stopped) return;
    app->stopped = true;
    db_listen_stop(app->listen);
    app->listen = NULL;
    app->open_handles = 2;
    uv_close((uv_handle_t *)&app->debounce, ap_closed);
    uv_close((uv_handle_t *)&app->sigusr1, ap_closed);
}

void rest_app_free(rest_app_t *app)
{
    if (!app) return;
    /* closed by the server's shutdown walk (a failed start): nothing of ours is pending */
    bool walked = !app->stopped && uv_is_closing((uv_handle_t *)&app->debounce);
    if (!walked && (!app->stopped || app->open_handles > 0)) { /* free once the handles closed */
        rest_app_stop(app);
        app->closing_free = true;
        return;
    }
    rest_snapshot_unref(app->snap);
    for (int i = 0; i < app->nschemas; i++)
        free(app->schemas[i]);
    free(app->schemas);
    free(app->schemas_param);
    free(app->prefix);
    free(app->pattern);
    free(app);
}
