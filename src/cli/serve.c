/*
 * serve - wires the layers into a running server on one libuv loop:
 * config -> db pool -> api app (statements + routes) -> http server, plus
 * signal handling for a graceful stop.
 *
 * Shutdown order matters: the HTTP server stops accepting and drains
 * in-flight requests first (they still need the pool), then the pool closes
 * its connections, then the loop ends and the private cluster (demo) stops.
 * A second signal exits at once.
 */
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "lakehouse/lakehouse.h"
#include "lakeapi/api.h"
#include "lakeapi/credentials.h"
#include "lakeapi/db.h"
#include "lakeapi/http_server.h"
#include "lakeapi/json.h"
#include "lakeapi/log.h"
#include "lakeapi/loopspin.h"
#include "lakeapi/rest.h"
#include "lakeapi/workspace.h"
#include "web/web.h"

typedef struct serve_state {
    uv_loop_t loop;
    loopspin_t *spin; /* busy-poll before the loop blocks (NULL: off) */
    config_t *cfg;
    db_credentials_t *credentials;
    workspace_t *workspace; /* for the resource routes; NULL when not configured */
    lakehouse_t *lakehouse; /* the SQL warehouse backend; NULL when not configured */
    db_pool_t *pool;
    db_route_t *route; /* the read/write split; NULL without replicas */
    cli_replicas_t *replicas;
    router_t *router;
    api_app_t *app;
    auth_t *auth; /* access control (always present: open mode still gates the resource routes) */
    rest_app_t *rest; /* the Data API */
    http_server_t *server;
    uv_signal_t sigint, sigterm;
    int signals;
    cli_worker_ref_t ref; /* WORKERS > 1: this loop in the group (group NULL: one loop) */
    bool hub_credentials; /* credentials is a client of the shared provider */
    bool group_failed;    /* another loop failed to start: stopping, signals ignored */
} serve_state_t;

/* Log lines buffered while stderr is slow: ~0.5 s of access log at 30k req/s; then dropped. */
#define SERVE_LOG_BUFFER (4u << 20)

static void serve_conninfo(void *data, const char *password, const char ***kw, const char ***vals)
{
    serve_state_t *s = data;
    config_conninfo(s->cfg, password, kw, vals);
}

static void serve_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void serve_pool_closed(void *data)
{
    serve_state_t *s = data;
    log_info("database pool closed");
    if (s->ref.group) {
        if (s->hub_credentials) credentials_hub_detach(s->credentials);
        cli_workers_leave(s->ref.group, s->ref.index);
    }
    /* Other loops stop posting to them before their handles close. */
    lakehouse_close(s->lakehouse);
    auth_close(s->auth);
    loopspin_close(s->spin);
    uv_walk(&s->loop, serve_close_walk, NULL);
}

static void serve_route_closed(void *data)
{
    serve_state_t *s = data;
    db_pool_close(s->pool, serve_pool_closed, s);
}

static void serve_http_drained(void *data)
{
    serve_state_t *s = data;
    log_info("http server drained");
    rest_app_stop(s->rest);
    if (s->route)
        db_route_close(s->route, serve_route_closed, s);
    else
        db_pool_close(s->pool, serve_pool_closed, s);
}

static void serve_on_signal(uv_signal_t *h, int signum)
{
    serve_state_t *s = h->data;
    if (s->group_failed) return; /* already draining; the failed loop's own SIGTERM */
    if (++s->signals > 1) {
        log_warn("second signal: exiting now");
        exit(1);
    }
    log_info("received %s: stopping (draining in-flight requests)", strsignal(signum));
    http_server_shutdown(s->server, serve_http_drained, s);
}

/* Another loop could not start: this one drains and stops too (all or nothing). */
static void serve_group_failed(serve_state_t *s)
{
    s->group_failed = true;
    log_info("another event loop failed to start: stopping");
    http_server_shutdown(s->server, serve_http_drained, s);
}

/*
 * One info line with the effective settings as a JSON object, every secret
 * masked by config_describe() ("NAME = value" lines).
 */
static void serve_log_settings(const config_t *cfg)
{
    if (log_get_level() > LOG_INFO) return;
    buf_t text, line;
    buf_init(&text);
    buf_init(&line);
    config_describe(cfg, &text);
    char when[40];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);
    json_writer_t w;
    jw_init(&w, &line);
    jw_object_begin(&w);
    jw_kv_string(&w, "time", when);
    jw_kv_string(&w, "level", "info");
    jw_kv_string(&w, "msg", "effective settings");
    jw_key(&w, "settings");
    jw_object_begin(&w);
    for (char *p = text.data; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        char *eq = strstr(p, " = ");
        if (eq) {
            *eq = '\0';
            jw_kv_string(&w, p, eq + 3);
        }
        p = nl ? nl + 1 : p + strlen(p);
    }
    jw_object_end(&w);
    jw_object_end(&w);
    buf_append_char(&line, '\n');
    log_json_line(line.data, line.len);
    buf_dispose(&text);
    buf_dispose(&line);
}

/* Loop i's share of a total over n loops (the first ones take the remainder), at least min. */
static int serve_slice(int total, const cli_worker_ref_t *ref, int min)
{
    if (!ref->group) return total;
    int share = total / ref->n + (ref->index < total % ref->n ? 1 : 0);
    return share < min ? min : share;
}

/*
 * Connections are shed with a 503 before file descriptors run out: the soft
 * RLIMIT_NOFILE is raised to the hard one (systemd's LimitNOFILE), and
 * MAX_CONNECTIONS defaults to it minus what the pool, the listener, libuv,
 * logs and the workspace client need.
 */
static unsigned serve_max_connections(const config_t *cfg)
{
    struct rlimit rl;
    unsigned fds = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        fds = rl.rlim_cur > 1000000 ? 1000000 : (unsigned)rl.rlim_cur;
    }
    unsigned reserve = (unsigned)(cfg->pool_size + cfg->max_overflow) + 64;
    unsigned fit = fds > reserve + 16 ? fds - reserve : 16;
    unsigned n = cfg->max_connections > 0 ? (unsigned)cfg->max_connections : fit;
    if (n > fit) {
        log_warn("MAX_CONNECTIONS=%u does not fit RLIMIT_NOFILE=%u: using %u", n, fds, fit);
        n = fit;
    }
    return n;
}

/* The SQL warehouse backend, when DATABRICKS_WAREHOUSE_ID or DATABRICKS_HTTP_PATH is set. */
static int serve_lakehouse(serve_state_t *s)
{
    char err[512];
    bool wanted = strcmp(s->cfg->users_backend, "lakehouse") == 0;
    if (!lakehouse_configured(s->cfg)) {
        if (!wanted) return 0;
        lakehouse_check_config(s->cfg, err, sizeof err);
        log_error("startup failed: USERS_BACKEND=lakehouse: %s", err);
        return -1;
    }
    if (!s->workspace) {
        workspace_check_config(s->cfg, err, sizeof err);
        log_error("startup failed: the SQL warehouse needs the workspace: %s", err);
        return -1;
    }
    lakehouse_shared_t *sh = s->ref.group ? cli_workers_lakehouse(s->ref.group) : NULL;
    s->lakehouse = lakehouse_new(&s->loop, s->cfg, s->workspace, sh, err, sizeof err);
    if (!s->lakehouse) {
        log_error("startup failed: %s", err);
        return -1;
    }
    if (lakehouse_register(s->lakehouse, s->router) != 0) {
        log_error("startup failed: registering the /lakehouse/v1 routes");
        return -1;
    }
    lakehouse_set_auth(s->lakehouse, s->auth);
    lakehouse_start(s->lakehouse);
    return 0;
}

/* A web_metrics_render_fn: what loopspin did on this loop (summed over the loops). */
static void serve_spin_metrics(buf_t *out, void *data)
{
    loopspin_stats_t st;
    loopspin_stats(data, &st);
    web_metrics_value(
        out, "lakeapi_loop_spins_total", "counter",
        "Waits the event loop busy-polled before blocking (LOOP_SPIN_US, lone client).",
        (double)st.spins);
    web_metrics_value(out, "lakeapi_loop_spins_caught_total", "counter",
                      "Busy-polls that saw an event within LOOP_SPIN_US (a wake-up saved).",
                      (double)st.caught);
    web_metrics_value(out, "lakeapi_loop_spin_seconds_total", "counter",
                      "Time the event loop spent busy-polling.", (double)st.spin_ns / 1e9);
}

/* loopspin's gate: exactly one client connection open in the whole process. */
static bool serve_lone_client(void *data)
{
    serve_state_t *s = data;
    if (!s->server) return false;
    unsigned open = s->ref.group ? http_conn_limits_open(cli_workers_conn_limits(s->ref.group))
                                 : http_server_connections(s->server);
    return open == 1;
}

static int serve_build(serve_state_t *s)
{
    char err[256];
    if (s->ref.group) s->credentials = cli_workers_credentials(s->ref.group, &s->loop);
    s->hub_credentials = s->credentials != NULL;
    if (!s->credentials &&
        credentials_from_config(&s->loop, s->cfg, &s->credentials, err, sizeof err) != 0) {
        log_error("startup failed: %s", err);
        return -1;
    }
    /* Pool settings are totals: Postgres sees the same connection count with N loops. */
    db_pool_config_t pc;
    db_pool_config_defaults(&pc);
    pc.size = serve_slice(s->cfg->pool_size, &s->ref, 1);
    pc.max_overflow = serve_slice(s->cfg->max_overflow, &s->ref, 0);
    pc.acquire_timeout_s = s->cfg->pool_timeout_s;
    pc.command_timeout_s = s->cfg->command_timeout_s;
    pc.lifetime_s = s->cfg->pool_recycle_s;
    pc.conninfo = serve_conninfo;
    pc.conninfo_free = config_free_conninfo;
    pc.conninfo_data = s;
    pc.credentials = s->credentials;
    s->pool = db_pool_new(&s->loop, &pc);
    s->route = cli_replicas_build(&s->replicas, s->cfg, &s->loop, &pc, s->pool, err, sizeof err);
    if (!s->route && (s->cfg->pg_host_read || s->cfg->database_read_url)) {
        log_error("startup failed: %s", err);
        return -1;
    }
    s->auth = auth_new(&s->loop, s->cfg, err, sizeof err);
    if (!s->auth || auth_register(s->auth, s->pool) != 0) {
        log_error("startup failed: %s", s->auth ? "session statements" : err);
        return -1;
    }
    if (s->ref.group) {
        auth_use_ratelimit(s->auth, cli_workers_ratelimit(s->ref.group));
        auth_use_jwks(s->auth, cli_workers_jwks(s->ref.group));
    }
    s->router = router_new();
    s->workspace = workspace_new(&s->loop, s->cfg, err, sizeof err);
    if (!s->workspace) log_debug("lakebase resource routes unavailable: %s", err);
    if (serve_lakehouse(s) != 0) return -1;
    s->rest = rest_app_new(&s->loop, s->cfg, s->pool, s->router, err, sizeof err);
    if (!s->rest) {
        log_error("startup failed: %s", err);
        return -1;
    }
    s->app = api_app_new(&s->loop, s->cfg, s->pool, s->router, err, sizeof err);
    if (!s->app) {
        log_error("startup failed: %s", err);
        return -1;
    }
    rest_app_bind(s->rest, api_app_openapi(s->app), api_app_counts(s->app));
    api_app_set_workspace(s->app, s->workspace);
    api_app_set_auth(s->app, s->auth);
    if (s->lakehouse && api_app_set_lakehouse(s->app, s->lakehouse, err, sizeof err) != 0) {
        log_error("startup failed: %s", err);
        return -1;
    }
    http_server_config_t hc;
    http_server_config_defaults(&hc);
    hc.host = s->cfg->host;
    hc.port = s->cfg->port;
    hc.access_log = log_get_level() <= LOG_INFO;
    hc.reuse_port = s->ref.group != NULL; /* every loop listens; the kernel spreads connections */
    /* Limits of the process: every loop counts against the same totals. */
    hc.limits = s->ref.group ? cli_workers_conn_limits(s->ref.group) : NULL;
    hc.max_connections = s->ref.group ? 0 : serve_max_connections(s->cfg);
    hc.max_connections_per_ip = (unsigned)s->cfg->max_connections_per_ip;
    hc.server_header = s->cfg->server_header;
    hc.header_timeout_ms = (unsigned)(s->cfg->http_header_timeout_s * 1000.0);
    hc.body_timeout_ms = (unsigned)(s->cfg->http_body_timeout_s * 1000.0);
    hc.keepalive_timeout_ms = (unsigned)(s->cfg->http_keepalive_timeout_s * 1000.0);
    s->server = http_server_new(&s->loop, &hc, s->router);
    api_app_attach(s->app, s->server, s->credentials);
    if (s->spin) web_metrics_add_renderer(api_app_metrics(s->app), serve_spin_metrics, s->spin);
    if (s->ref.group) {
        cli_workers_join(s->ref.group, s->ref.index, &s->loop, api_app_metrics(s->app));
        web_metrics_set_gather(api_app_metrics(s->app), cli_workers_gather, &s->ref);
        cli_workers_rest(s->ref.group, s->ref.index, s->rest);
        api_app_set_resources_home(s->app, cli_workers_resources_home(s->ref.group),
                                   s->ref.index == 0,
                                   cli_workers_inbox(s->ref.group, s->ref.index));
    }
    if (http_server_listen(s->server, err, sizeof err) != 0) {
        log_error("cannot listen on %s:%d: %s", s->cfg->host, s->cfg->port, err);
        return -1;
    }
    return 0;
}

static void serve_dispose(serve_state_t *s)
{
    if (s->server) http_server_free(s->server);
    api_app_free(s->app);
    rest_app_free(s->rest);
    lakehouse_free(s->lakehouse); /* before the workspace: its calls carry our statements */
    workspace_free(s->workspace);
    auth_free(s->auth);
    if (s->router) router_free(s->router);
    db_route_free(s->route);
    cli_replicas_free(s->replicas);
    if (s->pool) db_pool_free(s->pool);
    if (s->credentials) s->credentials->free(s->credentials);
}

/* Builds, runs and disposes one server on s->loop; the exit code. */
static int serve_loop_run(serve_state_t *s)
{
    uv_loop_init(&s->loop);
    /* First, so that its prepare callback runs after the pool's and the server's. */
    s->spin = loopspin_new(&s->loop, (unsigned)s->cfg->loop_spin_us, serve_lone_client, s);
    int rc = 0;
    if (serve_build(s) != 0) {
        rc = 1;
        if (s->ref.group) cli_workers_leave(s->ref.group, s->ref.index);
        lakehouse_close(s->lakehouse);
        auth_close(s->auth);
        loopspin_close(s->spin);
        uv_walk(&s->loop, serve_close_walk, NULL);
    } else {
        if (s->route) db_route_start(s->route);
        db_pool_start(s->pool);
        auth_start(s->auth);
        if (s->ref.index == 0) {
            if (auth_configured(s->auth))
                log_info("%s", auth_describe(s->auth));
            else
                log_warn("%s", auth_describe(s->auth));
        }
        if (s->ref.index == 0) rest_app_start(s->rest); /* the others adopt its snapshot */
        uv_signal_init(&s->loop, &s->sigint);
        uv_signal_init(&s->loop, &s->sigterm);
        s->sigint.data = s->sigterm.data = s;
        uv_signal_start(&s->sigint, serve_on_signal, SIGINT);
        uv_signal_start(&s->sigterm, serve_on_signal, SIGTERM);
        if (s->ref.group && !cli_workers_ready(s->ref.group)) serve_group_failed(s);
        if (s->ref.index == 0)
            log_info("lakeapi %s listening on http://%s:%d (%d loop%s, pool %d+%d in all, orders "
                     "table %s)",
                     LAKEAPI_VERSION, s->cfg->host, http_server_port(s->server),
                     s->ref.group ? s->ref.n : 1, s->ref.group ? "s" : "", s->cfg->pool_size,
                     s->cfg->max_overflow, s->cfg->orders_table);
    }
    uv_run(&s->loop, UV_RUN_DEFAULT);
    /* Handles closed by the walk need one more turn for their callbacks. */
    uv_run(&s->loop, UV_RUN_DEFAULT);
    serve_dispose(s);
    uv_loop_close(&s->loop);
    return rc;
}

/* One of WORKERS loops, on its own thread (workers.c). */
static int serve_worker(const config_t *cfg, const cli_worker_ref_t *ref)
{
    serve_state_t *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->cfg = (config_t *)cfg; /* read-only from here on */
    s->ref = *ref;
    int rc = serve_loop_run(s);
    free(s);
    return rc;
}

int cli_serve_run(config_t *cfg, cluster_t *cluster)
{
    signal(SIGPIPE, SIG_IGN);
    int n = cli_workers_count(cfg), rc;
    if (n > 1) cli_workers_block_signals(); /* before the log writer thread starts */
    /* From here on the loop never writes to stderr itself (util/log.c). */
    if (log_async_start(SERVE_LOG_BUFFER) != 0) log_warn("no log writer thread: logging inline");
    serve_log_settings(cfg);
    if (n < config_workers_wanted(cfg))
        log_info("%d event loop%s, not %d: DB_POOL_SIZE=%d is a total and every loop needs one "
                 "connection",
                 n, n == 1 ? "" : "s", config_workers_wanted(cfg), cfg->pool_size);
    if (n <= 1) {
        serve_state_t s;
        memset(&s, 0, sizeof s);
        s.cfg = cfg;
        rc = serve_loop_run(&s);
    } else {
        rc = cli_workers_run(cfg, n, serve_max_connections(cfg), serve_worker);
    }
    if (cluster) {
        char err[512];
        if (cluster_stop(cluster, err, sizeof err) != 0)
            log_warn("stopping the private cluster: %s", err);
        else
            log_info("private PostgreSQL cluster stopped");
    }
    log_async_stop();
    return rc;
}
