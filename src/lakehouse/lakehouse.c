/*
 * lakehouse/lakehouse - the backend's settings, lifecycle and warehouse state.
 *
 * The warehouse id is DATABRICKS_WAREHOUSE_ID, or the last segment of the SQL
 * connector's DATABRICKS_HTTP_PATH (/sql/1.0/warehouses/<id>); the host is
 * DATABRICKS_HOST (DATABRICKS_SERVER_HOSTNAME is the same setting) and the
 * auth is the workspace layer's (PAT or OAuth M2M).
 *
 * The warehouse state (GET /api/2.0/sql/warehouses/{id}) is probed at start,
 * every 30 s while RUNNING and every 5 s otherwise, and whenever a statement
 * sits PENDING. A warehouse that is not RUNNING makes reads that need a
 * statement answer 503 with Retry-After and the state, at once; a STOPPED one
 * is asked to start (at most once a minute), as a connector's first query
 * would do. /readyz reports the state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lakehouse/internal.h"
#include "lakehouse/tables.h"
#include "lakeapi/log.h"

#define LH_PROBE_RUNNING_S 30.0
#define LH_PROBE_OTHER_S   5.0
#define LH_START_EVERY_S   60.0

double lh_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- settings ---- */

void lakehouse_warehouse_id(const config_t *cfg, char *id, size_t n)
{
    id[0] = '\0';
    if (cfg->warehouse_id)
        snprintf(id, n, "%s", cfg->warehouse_id);
    else if (cfg->http_path && !lh_warehouse_from_http_path(cfg->http_path, id, n))
        id[0] = '\0';
}

bool lakehouse_configured(const config_t *cfg)
{
    return cfg->warehouse_id || cfg->http_path;
}

int lakehouse_check_config(const config_t *cfg, char *err, size_t errlen)
{
    char id[160];
    if (!lakehouse_configured(cfg)) {
        snprintf(err, errlen,
                 "no SQL warehouse: set DATABRICKS_WAREHOUSE_ID, or DATABRICKS_HTTP_PATH "
                 "(/sql/1.0/warehouses/<id>) as the Databricks SQL connector has it");
        return -1;
    }
    lakehouse_warehouse_id(cfg, id, sizeof id);
    if (cfg->warehouse_id && !lh_valid_name(cfg->warehouse_id)) {
        snprintf(err, errlen, "invalid DATABRICKS_WAREHOUSE_ID: letters, digits, _ and - only");
        return -1;
    }
    if (!id[0]) {
        snprintf(err, errlen,
                 "invalid DATABRICKS_HTTP_PATH: '%.200s' is not /sql/1.0/warehouses/<id> (a "
                 "cluster's HTTP path cannot run the Statement Execution API)",
                 cfg->http_path);
        return -1;
    }
    if (!lh_valid_name(cfg->lakehouse_catalog) || !lh_valid_name(cfg->lakehouse_schema) ||
        !lh_valid_name(cfg->lakehouse_users_table)) {
        snprintf(err, errlen,
                 "invalid LAKEHOUSE_CATALOG, LAKEHOUSE_SCHEMA or LAKEHOUSE_USERS_TABLE: letters, "
                 "digits, _ and - only");
        return -1;
    }
    return workspace_check_config(cfg, err, errlen);
}

/* ---- names in SQL ---- */

void lh_quote_ident(buf_t *out, const char *name)
{
    buf_append_char(out, '`');
    for (const char *p = name; *p; p++) {
        if (*p == '`') buf_append_char(out, '`');
        buf_append_char(out, *p);
    }
    buf_append_char(out, '`');
}

void lh_qualify(buf_t *out, const char *catalog, const char *schema, const char *table)
{
    lh_quote_ident(out, catalog);
    buf_append_char(out, '.');
    lh_quote_ident(out, schema);
    buf_append_char(out, '.');
    lh_quote_ident(out, table);
}

/* ---- the warehouse state ---- */

static void lh_on_started(const workspace_response_t *res, void *data)
{
    lakehouse_t *lh = data;
    if (res->error)
        log_warn("SQL warehouse %s: start request failed: %s", lh->warehouse_id, res->error);
}

static void lh_on_probe(const workspace_response_t *res, void *data)
{
    lakehouse_t *lh = data;
    if (res->error) {
        lh_wh_probe_end(lh, res->status == 404 ? "NOT_FOUND" : NULL, res->error);
        return;
    }
    char state[24];
    lh_parse_warehouse_state(res->body, res->len, state, sizeof state);
    lh_wh_probe_end(lh, state, NULL);
}

/* One probe for the process: the state is shared (shared.c), so any loop's answer serves all. */
void lh_probe(lakehouse_t *lh, double max_age_s)
{
    if (!lh_wh_probe_begin(lh, max_age_s)) return;
    char path[200];
    snprintf(path, sizeof path, "/api/2.0/sql/warehouses/%s", lh->warehouse_id);
    if (workspace_call(lh->ws, WORKSPACE_GET, path, NULL, 10.0, lh_on_probe, lh) != 0)
        lh_wh_probe_end(lh, NULL, NULL);
}

bool lh_warehouse_usable(lakehouse_t *lh, int *retry_after)
{
    char st[24];
    lh_wh_get(lh, st, NULL, 0);
    if (!st[0] || strcmp(st, "RUNNING") == 0) return true;
    if (strcmp(st, "STOPPED") == 0 && lh_wh_start_due(lh, LH_START_EVERY_S)) {
        char path[200];
        snprintf(path, sizeof path, "/api/2.0/sql/warehouses/%s/start", lh->warehouse_id);
        workspace_call(lh->ws, WORKSPACE_POST, path, "{}", 10.0, lh_on_started, lh);
    }
    *retry_after = strcmp(st, "STARTING") == 0 ? 10 : 30;
    lh_probe(lh, 1.0);
    return false;
}

static void lh_on_probe_timer(uv_timer_t *t)
{
    lakehouse_t *lh = t->data;
    char st[24];
    lh_wh_get(lh, st, NULL, 0);
    bool running = strcmp(st, "RUNNING") == 0;
    lh_probe(lh, running ? LH_PROBE_RUNNING_S - 1 : LH_PROBE_OTHER_S - 1);
}

void lh_observe_latency(lakehouse_t *lh, double s)
{
    static const double bounds[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    lh->m.latency_count++;
    lh->m.latency_sum_s += s;
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
        if (s <= bounds[i]) lh->m.latency_buckets[i]++;
}

/* ---- lifecycle ---- */

lakehouse_t *lakehouse_new(uv_loop_t *loop, const config_t *cfg, workspace_t *ws,
                           lakehouse_shared_t *sh, char *err, size_t errlen)
{
    if (lakehouse_check_config(cfg, err, errlen) != 0) return NULL;
    lakehouse_t *lh = calloc(1, sizeof *lh);
    if (!lh) abort();
    lh->loop = loop;
    lh->ws = ws;
    lakehouse_warehouse_id(cfg, lh->warehouse_id, sizeof lh->warehouse_id);
    snprintf(lh->catalog, sizeof lh->catalog, "%s", cfg->lakehouse_catalog);
    snprintf(lh->schema, sizeof lh->schema, "%s", cfg->lakehouse_schema);
    lh->command_timeout_s = cfg->command_timeout_s;
    lh->wait_timeout_s = (int)cfg->lakehouse_wait_s;
    lh->sh = sh ? lh_shared_ref(sh) : lakehouse_shared_new(cfg);
    lh->cache = lh_shared_cache(lh->sh);
    lh->member = lh_shared_join(lh->sh, lh);
    /* One loop reloads the tables on the interval; its result reaches every loop. */
    lh->tables = lh_tables_new(lh, lh->member == 0 ? cfg->lakehouse_reload_s : 0);
    return lh;
}

void lakehouse_set_auth(lakehouse_t *lh, struct auth *a)
{
    lh->auth = a;
}

void lakehouse_start(lakehouse_t *lh)
{
    uv_timer_init(lh->loop, &lh->probe_timer);
    lh->probe_timer.data = lh;
    lh->timer_ready = true;
    uv_timer_start(&lh->probe_timer, lh_on_probe_timer, 0, (uint64_t)(LH_PROBE_OTHER_S * 1000));
    uv_unref((uv_handle_t *)&lh->probe_timer);
    lh_tables_start(lh->tables);
}

void lakehouse_close(lakehouse_t *lh)
{
    if (!lh) return;
    lh_shared_leave(lh->sh, lh);
    if (lh->remote_timer_ready && !uv_is_closing((uv_handle_t *)&lh->remote_timer))
        uv_close((uv_handle_t *)&lh->remote_timer, NULL);
    if (lh->timer_ready && !uv_is_closing((uv_handle_t *)&lh->probe_timer))
        uv_close((uv_handle_t *)&lh->probe_timer, NULL);
    lh_tables_close(lh->tables);
}

void lakehouse_free(lakehouse_t *lh)
{
    if (!lh) return;
    lh_shared_leave(lh->sh, lh); /* when lakehouse_close was not called */
    lh_stmts_drop(lh);
    lh_cache_detach(lh->cache, lh); /* after the drop: none of ours can answer any more */
    lh_stores_free(lh);
    lh_tables_free(lh->tables);
    lakehouse_shared_release(lh->sh);
    free(lh);
}

/* ---- /readyz and /metrics ---- */

bool lakehouse_ready(const lakehouse_t *lh, char *line, size_t n)
{
    char state[24], error[256];
    lh_wh_get(lh, state, error, sizeof error);
    const char *st = state[0] ? state : "UNKNOWN";
    if (error[0])
        snprintf(line, n, "SQL warehouse %s: %s (%s)", lh->warehouse_id, st, error);
    else
        snprintf(line, n, "SQL warehouse %s: %s", lh->warehouse_id, st);
    return strcmp(st, "RUNNING") == 0;
}

static int lh_warehouse_running(const lakehouse_t *lh)
{
    char st[24];
    lh_wh_get(lh, st, NULL, 0);
    return strcmp(st, "RUNNING") == 0;
}

void lakehouse_metrics(const lakehouse_t *lh, buf_t *out)
{
    const lh_metrics_t *m = &lh->m;
    static const double bounds[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    buf_printf(out,
               "# HELP lakeapi_lakehouse_cache_total Reads of the warehouse result cache by "
               "outcome.\n# TYPE lakeapi_lakehouse_cache_total counter\n"
               "lakeapi_lakehouse_cache_total{result=\"hit\"} %llu\n"
               "lakeapi_lakehouse_cache_total{result=\"stale\"} %llu\n"
               "lakeapi_lakehouse_cache_total{result=\"miss\"} %llu\n"
               "lakeapi_lakehouse_cache_total{result=\"coalesced\"} %llu\n",
               (unsigned long long)m->hits, (unsigned long long)m->stale,
               (unsigned long long)m->misses, (unsigned long long)m->coalesced);
    buf_printf(out,
               "# HELP lakeapi_lakehouse_statements_total Statements run on the SQL warehouse.\n"
               "# TYPE lakeapi_lakehouse_statements_total counter\n"
               "lakeapi_lakehouse_statements_total %llu\n"
               "# HELP lakeapi_lakehouse_submits_total Statement submissions (POST "
               "/api/2.0/sql/statements, retries included).\n"
               "# TYPE lakeapi_lakehouse_submits_total counter\n"
               "lakeapi_lakehouse_submits_total %llu\n"
               "# TYPE lakeapi_lakehouse_polls_total counter\nlakeapi_lakehouse_polls_total %llu\n"
               "# TYPE lakeapi_lakehouse_chunks_total counter\n"
               "lakeapi_lakehouse_chunks_total %llu\n"
               "# TYPE lakeapi_lakehouse_failures_total counter\n"
               "lakeapi_lakehouse_failures_total %llu\n"
               "# TYPE lakeapi_lakehouse_cancels_total counter\n"
               "lakeapi_lakehouse_cancels_total %llu\n"
               "# TYPE lakeapi_lakehouse_timeouts_total counter\n"
               "lakeapi_lakehouse_timeouts_total %llu\n"
               "# TYPE lakeapi_lakehouse_rate_limited_total counter\n"
               "lakeapi_lakehouse_rate_limited_total %llu\n"
               "# HELP lakeapi_lakehouse_bytes_fetched_total Response bytes fetched from the "
               "warehouse (statements, chunks, external links).\n"
               "# TYPE lakeapi_lakehouse_bytes_fetched_total counter\n"
               "lakeapi_lakehouse_bytes_fetched_total %llu\n",
               (unsigned long long)m->statements, (unsigned long long)m->submitted,
               (unsigned long long)m->polls, (unsigned long long)m->chunks,
               (unsigned long long)m->failed, (unsigned long long)m->canceled,
               (unsigned long long)m->timeouts, (unsigned long long)m->rate_limited,
               (unsigned long long)(m->bytes + m->external_bytes));
    buf_printf(out, "# HELP lakeapi_lakehouse_statement_seconds Time from submit to answer.\n"
                    "# TYPE lakeapi_lakehouse_statement_seconds histogram\n");
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
        buf_printf(out, "lakeapi_lakehouse_statement_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
                   (unsigned long long)m->latency_buckets[i]);
    buf_printf(out,
               "lakeapi_lakehouse_statement_seconds_bucket{le=\"+Inf\"} %llu\n"
               "lakeapi_lakehouse_statement_seconds_sum %.6f\n"
               "lakeapi_lakehouse_statement_seconds_count %llu\n",
               (unsigned long long)m->latency_count, m->latency_sum_s,
               (unsigned long long)m->latency_count);
    buf_printf(out,
               "# HELP lakeapi_lakehouse_warehouse_running 1 when the SQL warehouse is RUNNING.\n"
               "# TYPE lakeapi_lakehouse_warehouse_running gauge\n"
               "lakeapi_lakehouse_warehouse_running %d\n",
               lh_warehouse_running(lh));
}

/* ---- check-config: one probe on a loop of its own ---- */

typedef struct lh_once {
    char *line;
    size_t n;
    int rc;
} lh_once_t;

static void lh_once_done(const workspace_response_t *res, void *data)
{
    lh_once_t *o = data;
    if (res->error) {
        snprintf(o->line, o->n, "does NOT answer: %s", res->error);
        o->rc = -1;
        return;
    }
    char state[24];
    lh_parse_warehouse_state(res->body, res->len, state, sizeof state);
    snprintf(o->line, o->n, "answers, state %s", state[0] ? state : "(none reported)");
    o->rc = 0;
}

static void lh_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

int lakehouse_check_once(const config_t *cfg, char *line, size_t n)
{
    char err[512], id[160];
    if (lakehouse_check_config(cfg, err, sizeof err) != 0) {
        snprintf(line, n, "not usable: %s", err);
        return -1;
    }
    lakehouse_warehouse_id(cfg, id, sizeof id);
    uv_loop_t loop;
    uv_loop_init(&loop);
    workspace_t *ws = workspace_new(&loop, cfg, err, sizeof err);
    lh_once_t o = {line, n, -1};
    char path[200];
    snprintf(path, sizeof path, "/api/2.0/sql/warehouses/%s", id);
    if (!ws)
        snprintf(line, n, "not usable: %s", err);
    else if (workspace_call(ws, WORKSPACE_GET, path, NULL, 10.0, lh_once_done, &o) != 0)
        snprintf(line, n, "the request could not be started");
    else
        uv_run(&loop, UV_RUN_DEFAULT);
    uv_walk(&loop, lh_close_walk, NULL); /* the client's timer: closed before it is freed */
    uv_run(&loop, UV_RUN_DEFAULT);
    workspace_free(ws);
    uv_loop_close(&loop);
    return o.rc;
}
