/*
 * db_test_fixture - shared by the database tests: a private PostgreSQL
 * started by tests/pg_cluster.sh for the test group, and a harness of one
 * loop and one pool whose callbacks record results.
 */
#ifndef LAKEAPI_DB_TEST_FIXTURE_H
#define LAKEAPI_DB_TEST_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/stat.h>
#include <libpq-fe.h>

#include "lakeapi/db.h"

#pragma GCC diagnostic ignored "-Wunused-function"

static char pg_dir[256];
static char pg_host[512], pg_port[16];

static int cluster_cmd(const char *cmd, char *out, size_t n)
{
    char line[1024];
    const char *src = getenv("LAKEAPI_SOURCE_DIR");
    snprintf(line, sizeof line, "sh %s/tests/pg_cluster.sh %s %s", src ? src : ".", cmd, pg_dir);
    FILE *f = popen(line, "r");
    if (!f) return -1;
    size_t got = fread(out, 1, n - 1, f);
    out[got] = '\0';
    return pclose(f);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(pg_dir, sizeof pg_dir, "/tmp/lakeapi-pooltest-XXXXXX");
    if (!mkdtemp(pg_dir)) return -1;
    chmod(pg_dir, 0755);
    char env[1024];
    if (cluster_cmd("start", env, sizeof env) != 0) return -1;
    char *h = strstr(env, "PGHOST="), *p = strstr(env, "PGPORT=");
    if (!h || !p) return -1;
    sscanf(h + 7, "%511s", pg_host);
    sscanf(p + 7, "%15s", pg_port);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char out[256];
    cluster_cmd("destroy", out, sizeof out);
    return 0;
}

/* ---- a small harness: one loop, one pool, callbacks that record results ---- */

static const char *bad_host;

static void conninfo(void *data, const char *password, const char ***kw, const char ***vals)
{
    (void)data;
    (void)password;
    static const char *k[] = {"host", "port", "user", "dbname", NULL};
    static const char *v[5];
    v[0] = bad_host ? bad_host : pg_host;
    v[1] = pg_port;
    v[2] = "postgres";
    v[3] = "postgres";
    *kw = k;
    *vals = v;
}

typedef struct outcome {
    int done;
    db_status_t status;
    char value[64];
    int rows;
} outcome_t;

static void record(const db_result_t *r, void *data)
{
    outcome_t *o = data;
    o->done++;
    o->status = r->status;
    if (r->status == DB_OK) {
        o->rows = PQntuples(r->res);
        if (o->rows > 0 && PQnfields(r->res) > 0)
            snprintf(o->value, sizeof o->value, "%s", PQgetvalue(r->res, 0, 0));
    }
}

typedef struct harness {
    uv_loop_t loop;
    db_pool_t *pool;
    int closed;
} harness_t;

static void harness_open(harness_t *h, int size, int overflow, int depth, double acquire_s,
                         double command_s)
{
    uv_loop_init(&h->loop);
    db_pool_config_t cfg;
    db_pool_config_defaults(&cfg);
    cfg.size = size;
    cfg.max_overflow = overflow;
    cfg.pipeline_depth = depth;
    cfg.acquire_timeout_s = acquire_s;
    cfg.command_timeout_s = command_s;
    cfg.conninfo = conninfo;
    h->pool = db_pool_new(&h->loop, &cfg);
    h->closed = 0;
}

static void harness_run_until(harness_t *h, int *counter, int target)
{
    uint64_t deadline = uv_hrtime() + 15ULL * 1000000000ULL;
    while (*counter < target && uv_hrtime() < deadline)
        uv_run(&h->loop, UV_RUN_ONCE);
}

static void on_closed(void *data)
{
    ((harness_t *)data)->closed = 1;
}

static void harness_close(harness_t *h)
{
    db_pool_close(h->pool, on_closed, h);
    harness_run_until(h, &h->closed, 1);
    assert_int_equal(h->closed, 1);
    while (uv_run(&h->loop, UV_RUN_NOWAIT)) {
    }
    db_pool_free(h->pool);
    assert_int_equal(uv_loop_close(&h->loop), 0);
}

/* A blocking connection for the test thread, with the pool's session settings. */
static PGconn *sync_conn(void)
{
    char info[1200];
    snprintf(info, sizeof info, "host=%s port=%s user=postgres dbname=postgres", pg_host, pg_port);
    PGconn *c = PQconnectdb(info);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SET TimeZone = 'UTC'"));
    PQclear(PQexec(c, "SET DateStyle = 'ISO, YMD'"));
    return c;
}

#endif
