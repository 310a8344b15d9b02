/*
 * metrics - Prometheus metrics at /metrics (text exposition format 0.0.4).
 *
 * HTTP series are fed by the http server's observer, once per finished
 * exchange, and labelled by route template (never the raw path), so their
 * number is bounded by the routes the app registered. The observer runs on
 * the hot path: it does no allocation and no string formatting, only array
 * indexing - route slot by pointer comparison against the router's patterns
 * (a few dozen), method by its first letters, status through a table of the
 * codes seen so far (a new code takes a slot the first time it occurs).
 *
 * Pool, credential and process values are read when /metrics is scraped.
 * Everything runs on the server's one loop thread, so no atomics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "web/web.h"
#include "lakeapi/credentials.h"
#include "lakeapi/log.h"

#define METRICS_NMETHODS 8  /* GET HEAD POST PUT DELETE PATCH OPTIONS other */
#define METRICS_NSTATUS  40 /* distinct status codes kept apart; the rest share "other" */
#define METRICS_NBUCKETS 14

static const char *const metrics_methods[METRICS_NMETHODS] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"};

static const double metrics_bounds[METRICS_NBUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const char *const metrics_bound_text[METRICS_NBUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5",     "10"};

typedef struct metrics_route {
    const char *name; /* the template; "" for requests no route matched */
    uint64_t requests[METRICS_NMETHODS][METRICS_NSTATUS + 1]; /* last column: other codes */
    uint64_t buckets[METRICS_NBUCKETS];                       /* not cumulative */
    uint64_t count;
    double sum_s;
} metrics_route_t;

struct web_metrics {
    web_metrics_gather_fn gather; /* WORKERS > 1: answers /metrics for every loop */
    void *gather_data;
    int nroutes; /* slots: unique templates, then the unmatched slot */
    metrics_route_t *routes;
    int npatterns;             /* router entries */
    const char **patterns;     /* router_at(i)->pattern, for pointer comparison */
    int *slot_of;              /* pattern index -> slot */
    uint8_t status_slot[1000]; /* code -> 1 + slot; 0 = not assigned yet */
    int nstatus;
    int status_code[METRICS_NSTATUS];
    web_metrics_sources_t src;
    struct {
        web_metrics_render_fn fn;
        void *data;
    } extra[WEB_METRICS_MAX_RENDERERS];
    int nextra;
};

web_metrics_t *web_metrics_new(const router_t *r)
{
    web_metrics_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    int n = router_count(r);
    m->patterns = calloc((size_t)n + 1, sizeof *m->patterns);
    m->slot_of = calloc((size_t)n + 1, sizeof *m->slot_of);
    m->routes = calloc((size_t)n + 1, sizeof *m->routes);
    if (!m->patterns || !m->slot_of || !m->routes) {
        web_metrics_free(m);
        return NULL;
    }
    m->npatterns = n;
    for (int i = 0; i < n; i++) {
        const char *pat = router_at(r, i)->pattern;
        m->patterns[i] = pat;
        int s = 0;
        while (s < m->nroutes && strcmp(m->routes[s].name, pat) != 0)
            s++;
        if (s == m->nroutes) m->routes[m->nroutes++].name = pat;
        m->slot_of[i] = s;
    }
    m->routes[m->nroutes++].name = ""; /* unmatched: 404s, 405s, malformed requests */
    return m;
}

void web_metrics_free(web_metrics_t *m)
{
    if (!m) return;
    free(m->patterns);
    free(m->slot_of);
    free(m->routes);
    free(m);
}

static int metrics_route_slot(const web_metrics_t *m, const char *route)
{
    for (int i = 0; i < m->npatterns; i++)
        if (m->patterns[i] == route) return m->slot_of[i];
    if (route[0]) { /* not the router's own pointer (should not happen): compare text */
        for (int s = 0; s < m->nroutes - 1; s++)
            if (strcmp(m->routes[s].name, route) == 0) return s;
    }
    return m->nroutes - 1;
}

static int metrics_method_index(const char *method)
{
    for (int i = 0; i < METRICS_NMETHODS - 1; i++)
        if (method[0] == metrics_methods[i][0] && strcmp(method, metrics_methods[i]) == 0) return i;
    return METRICS_NMETHODS - 1;
}

static int metrics_status_index(web_metrics_t *m, int status)
{
    if (status < 0 || status >= 1000) return METRICS_NSTATUS;
    if (m->status_slot[status]) return m->status_slot[status] - 1;
    if (m->nstatus == METRICS_NSTATUS) return METRICS_NSTATUS;
    m->status_code[m->nstatus] = status;
    m->status_slot[status] = (uint8_t)(++m->nstatus);
    return m->nstatus - 1;
}

void web_metrics_observe(const http_exchange_info_t *info, void *data)
{
    web_metrics_t *m = data;
    metrics_route_t *rt = &m->routes[metrics_route_slot(m, info->route ? info->route : "")];
    rt->requests[metrics_method_index(info->method ? info->method : "")]
                [metrics_status_index(m, info->status)]++;
    double s = info->duration_ms / 1000.0;
    if (!(s >= 0)) s = 0;
    int b = 0;
    while (b < METRICS_NBUCKETS && s > metrics_bounds[b])
        b++;
    if (b < METRICS_NBUCKETS) rt->buckets[b]++;
    rt->count++;
    rt->sum_s += s;
}

/* ---- exposition ---- */

static void metrics_label_value(buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            buf_append_char(b, '\\');
            buf_append_char(b, *s);
        } else if (*s == '\n') {
            buf_append_str(b, "\\n");
        } else {
            buf_append_char(b, *s);
        }
    }
}

static void metrics_head(buf_t *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void web_metrics_value(buf_t *b, const char *name, const char *type, const char *help, double v)
{
    metrics_head(b, name, type, help);
    buf_printf(b, "%s %.17g\n", name, v);
}

static void metrics_render_requests(const web_metrics_t *m, buf_t *b)
{
    metrics_head(b, "lakeapi_http_requests_total", "counter",
                 "HTTP requests by route template, method and status.");
    for (int r = 0; r < m->nroutes; r++) {
        const metrics_route_t *rt = &m->routes[r];
        for (int i = 0; i < METRICS_NMETHODS; i++) {
            for (int k = 0; k <= METRICS_NSTATUS; k++) {
                if (!rt->requests[i][k]) continue;
                buf_append_str(b, "lakeapi_http_requests_total{route=\"");
                metrics_label_value(b, rt->name);
                buf_printf(b, "\",method=\"%s\",status=\"", metrics_methods[i]);
                if (k < METRICS_NSTATUS)
                    buf_printf(b, "%d", m->status_code[k]);
                else
                    buf_append_str(b, "other");
                buf_printf(b, "\"} %llu\n", (unsigned long long)rt->requests[i][k]);
            }
        }
    }
}

static void metrics_render_latency(const web_metrics_t *m, buf_t *b)
{
    metrics_head(b, "lakeapi_http_request_duration_seconds", "histogram",
                 "Time from a complete request to its response being queued, by route template.");
    for (int r = 0; r < m->nroutes; r++) {
        const metrics_route_t *rt = &m->routes[r];
        if (!rt->count) continue;
        uint64_t cum = 0;
        for (int k = 0; k <= METRICS_NBUCKETS; k++) {
            cum += k < METRICS_NBUCKETS ? rt->buckets[k] : 0;
            buf_append_str(b, "lakeapi_http_request_duration_seconds_bucket{route=\"");
            metrics_label_value(b, rt->name);
            buf_printf(b, "\",le=\"%s\"} %llu\n",
                       k < METRICS_NBUCKETS ? metrics_bound_text[k] : "+Inf",
                       (unsigned long long)(k < METRICS_NBUCKETS ? cum : rt->count));
        }
        buf_append_str(b, "lakeapi_http_request_duration_seconds_sum{route=\"");
        metrics_label_value(b, rt->name);
        buf_printf(b, "\"} %.9f\n", rt->sum_s);
        buf_append_str(b, "lakeapi_http_request_duration_seconds_count{route=\"");
        metrics_label_value(b, rt->name);
        buf_printf(b, "\"} %llu\n", (unsigned long long)rt->count);
    }
}

static void metrics_render_pool(const web_metrics_sources_t *src, buf_t *b)
{
    if (!src->pool) return;
    db_pool_stats_t st;
    db_pool_stats(src->pool, &st);
    int idle = st.ready - st.busy;
    metrics_head(b, "lakeapi_db_pool_connections", "gauge",
                 "Database connections by state (total = idle + busy + connecting + closing).");
    buf_printf(b, "lakeapi_db_pool_connections{state=\"total\"} %d\n", st.total);
    buf_printf(b, "lakeapi_db_pool_connections{state=\"idle\"} %d\n", idle < 0 ? 0 : idle);
    buf_printf(b, "lakeapi_db_pool_connections{state=\"busy\"} %d\n", st.busy);
    buf_printf(b, "lakeapi_db_pool_connections{state=\"connecting\"} %d\n", st.connecting);
    web_metrics_value(b, "lakeapi_db_pool_size", "gauge", "Connections kept open (DB_POOL_SIZE).",
                      src->pool_size);
    web_metrics_value(b, "lakeapi_db_pool_max_overflow", "gauge",
                      "Extra connections allowed under load (DB_MAX_OVERFLOW).", src->max_overflow);
    web_metrics_value(b, "lakeapi_db_pool_waiting", "gauge", "Queries waiting for a connection.",
                      st.waiting);
    web_metrics_value(b, "lakeapi_db_pool_healthy", "gauge",
                      "1 when a database connection works right now.", st.healthy ? 1 : 0);
    web_metrics_value(b, "lakeapi_db_pool_acquire_timeouts_total", "counter",
                      "Queries failed with 503 after waiting DB_POOL_TIMEOUT for a connection.",
                      (double)st.acquire_timeouts);
    web_metrics_value(b, "lakeapi_db_reconnects_total", "counter",
                      "Reconnections after the database was lost.", (double)st.reconnects);
    web_metrics_value(b, "lakeapi_db_connect_failures_total", "counter",
                      "Failed connection attempts.", (double)st.connect_failures);
    web_metrics_value(b, "lakeapi_db_statement_timeouts_total", "counter",
                      "Statements cancelled by DB_COMMAND_TIMEOUT (answered 504).",
                      (double)st.statement_timeouts);
    web_metrics_value(b, "lakeapi_db_queries_total", "counter", "Queries sent to the database.",
                      (double)st.queries);
    web_metrics_value(b, "lakeapi_db_batches_total", "counter",
                      "Pipelined batches sent (queries that shared one round trip count once).",
                      (double)st.batches);
    /* Queries per Sync: how well the loop's queries share round trips (notes/perf.md). */
    metrics_head(b, "lakeapi_db_batch_queries", "histogram", "Queries per pipelined batch (Sync).");
    uint64_t cum = 0;
    for (int k = 0; k < DB_BATCH_BUCKETS - 1; k++) {
        cum += st.batch_hist[k];
        buf_printf(b, "lakeapi_db_batch_queries_bucket{le=\"%d\"} %llu\n", 1 << k,
                   (unsigned long long)cum);
    }
    buf_printf(b, "lakeapi_db_batch_queries_bucket{le=\"+Inf\"} %llu\n",
               (unsigned long long)st.batches);
    buf_printf(b, "lakeapi_db_batch_queries_sum %llu\n", (unsigned long long)st.queries);
    buf_printf(b, "lakeapi_db_batch_queries_count %llu\n", (unsigned long long)st.batches);
    web_metrics_value(b, "lakeapi_db_overflow_opens_total", "counter",
                      "Connections opened beyond DB_POOL_SIZE (slow statements held connections).",
                      (double)st.overflow_opens);
}

static void metrics_render_credentials(const web_metrics_sources_t *src, buf_t *b)
{
    if (!src->credentials) return;
    credentials_stats_t cs;
    memset(&cs, 0, sizeof cs);
    credentials_stats(src->credentials, &cs);
    const char *kind = cs.kind ? cs.kind : "unknown";
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
        {"lakeapi_db_token_mints_total", "Database tokens minted by the credential provider.",
         offsetof(credentials_stats_t, mints)},
        {"lakeapi_db_token_mint_failures_total", "Failed database token mints.",
         offsetof(credentials_stats_t, mint_failures)},
        {"lakeapi_workspace_token_fetches_total", "OAuth M2M workspace tokens fetched.",
         offsetof(credentials_stats_t, workspace_tokens)},
        {"lakeapi_workspace_token_failures_total", "Failed OAuth M2M workspace token requests.",
         offsetof(credentials_stats_t, workspace_failures)},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        uint64_t v = *(const uint64_t *)((const char *)&cs + counters[i].off);
        metrics_head(b, counters[i].name, "counter", counters[i].help);
        buf_printf(b, "%s{provider=\"", counters[i].name);
        metrics_label_value(b, kind);
        buf_printf(b, "\"} %llu\n", (unsigned long long)v);
    }
    web_metrics_value(b, "lakeapi_db_token_expiry_timestamp_seconds", "gauge",
                      "When the cached database token expires (unix seconds; 0: none).",
                      cs.expires_at);
    web_metrics_value(b, "lakeapi_db_credentials_healthy", "gauge",
                      "0 while the last token mint failed.", cs.healthy ? 1 : 0);
}

/*
 * The loop thread's own time (this runs on it): on a CPU, and runnable but
 * waiting for a CPU (Linux schedstat); the rest of the wall time it was idle.
 * (libuv's UV_METRICS_IDLE_TIME is not used: it costs an extra epoll_wait per
 * loop turn, two per request at one connection.) The last one is what
 * made throughput swing on a shared 2-core machine (notes/perf.md): when the
 * loop waits for a CPU, every request waits with it.
 */
static void metrics_render_loop(const web_metrics_sources_t *src, buf_t *b)
{
    unsigned long long run_ns = 0, wait_ns = 0;
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &run_ns, &wait_ns) != 2) run_ns = wait_ns = 0;
        fclose(f);
    }
    web_metrics_value(b, "lakeapi_loop_cpu_seconds_total", "counter",
                      "Time the event loop thread ran on a CPU.", (double)run_ns / 1e9);
    web_metrics_value(b, "lakeapi_loop_runqueue_wait_seconds_total", "counter",
                      "Time the event loop thread was runnable but waiting for a CPU.",
                      (double)wait_ns / 1e9);
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    getrusage(RUSAGE_THREAD, &ru);
    web_metrics_value(b, "lakeapi_loop_involuntary_switches_total", "counter",
                      "Times the event loop thread was preempted.", (double)ru.ru_nivcsw);
    log_async_stats_t ls;
    log_async_stats(&ls);
    web_metrics_value(b, "lakeapi_log_lines_written_total", "counter",
                      "Log lines written to stderr by the log writer thread.",
                      (double)ls.lines_written);
    web_metrics_value(b, "lakeapi_log_writes_total", "counter",
                      "write(2) calls of the log writer thread.", (double)ls.writes);
    web_metrics_value(b, "lakeapi_log_lines_dropped_total", "counter",
                      "Log lines dropped because stderr was slower than the log (buffer full).",
                      (double)ls.lines_dropped);
    web_metrics_value(b, "lakeapi_log_buffered_bytes", "gauge",
                      "Log bytes waiting for the writer thread.", (double)ls.buffered_bytes);
}

void web_metrics_set_sources(web_metrics_t *m, const web_metrics_sources_t *src)
{
    m->src = *src;
}

int web_metrics_add_renderer(web_metrics_t *m, web_metrics_render_fn fn, void *data)
{
    if (m->nextra == WEB_METRICS_MAX_RENDERERS) return -1;
    m->extra[m->nextra].fn = fn;
    m->extra[m->nextra].data = data;
    m->nextra++;
    return 0;
}

void web_metrics_render(const web_metrics_t *m, buf_t *b)
{
    const web_metrics_sources_t *src = &m->src;
    metrics_render_requests(m, b);
    metrics_render_latency(m, b);
    web_metrics_value(b, "lakeapi_http_requests_in_flight", "gauge",
                      "Requests received and not answered yet (this scrape included).",
                      src->server ? http_server_in_flight(src->server) : 0);
    web_metrics_value(b, "lakeapi_http_connections", "gauge", "Open client connections.",
                      src->server ? http_server_connections(src->server) : 0);
    metrics_render_pool(src, b);
    metrics_render_loop(src, b);
    metrics_render_credentials(src, b);
    for (int i = 0; i < m->nextra; i++)
        m->extra[i].fn(b, m->extra[i].data);
    metrics_head(b, "lakeapi_build_info", "gauge", "The lakeapi version; always 1.");
    buf_append_str(b, "lakeapi_build_info{version=\"");
    metrics_label_value(b, LAKEAPI_VERSION);
    buf_append_str(b, "\"} 1\n");
    web_metrics_value(b, "lakeapi_uptime_seconds", "gauge", "Seconds since the server started.",
                      (double)(uv_hrtime() - src->started_ns) / 1e9);
}

void web_metrics_set_gather(web_metrics_t *m, web_metrics_gather_fn fn, void *data)
{
    m->gather = fn;
    m->gather_data = data;
}

void web_metrics_handler(http_exchange_t *ex, void *data)
{
    const web_metrics_t *m = data;
    if (m->gather) {
        m->gather(ex, m->gather_data);
        return;
    }
    buf_t *b = http_exchange_body_buf(ex);
    buf_reset(b);
    web_metrics_render(m, b);
    http_exchange_send(ex, 200, WEB_METRICS_CONTENT_TYPE);
}
