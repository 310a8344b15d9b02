/*
 * Tests of the asynchronous pool (src/db/) against a real PostgreSQL started
 * by tests/pg_cluster.sh: pipelining, the implicit-transaction rule (a failed
 * statement must not roll back other requests' acknowledged writes), statement
 * and acquire timeouts, error mapping, and a database that is not there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <signal.h>
#include <sys/stat.h>
#include <libpq-fe.h>

#include "lakeapi/db.h"

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
    int order; /* completion rank (1 = first), across every outcome of a test */
    bool unknown;
    db_status_t status;
    char value[64];
    int rows;
} outcome_t;

static int completions;

static void record(const db_result_t *r, void *data)
{
    outcome_t *o = data;
    o->done++;
    o->order = ++completions;
    o->unknown = r->outcome_unknown;
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

/* ---- tests ---- */

static void test_pipelined_reads(void **state)
{
    (void)state;
    harness_t h;
    harness_open(&h, 2, 0, 64, 5, 5);
    int s = db_pool_add_statement(h.pool, "SELECT $1::int * 2", 1, DB_STMT_READ);
    db_pool_start(h.pool);
    enum { N = 300 };
    static outcome_t out[N];
    static char args[N][16];
    static const char *vals[N][1];
    memset(out, 0, sizeof out);
    int total = 0;
    for (int i = 0; i < N; i++) {
        snprintf(args[i], sizeof args[i], "%d", i);
        vals[i][0] = args[i];
        db_pool_query(h.pool, s, 1, vals[i], record, &out[i]);
    }
    uint64_t deadline = uv_hrtime() + 15ULL * 1000000000ULL;
    while (total < N && uv_hrtime() < deadline) {
        uv_run(&h.loop, UV_RUN_ONCE);
        total = 0;
        for (int i = 0; i < N; i++)
            total += out[i].done;
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i].done, 1);
        assert_int_equal(out[i].status, DB_OK);
        assert_int_equal(atoi(out[i].value), 2 * i);
    }
    db_pool_stats_t st;
    db_pool_stats(h.pool, &st);
    assert_true(st.batches < st.queries); /* queries shared round trips */
    assert_true(st.healthy);
    harness_close(&h);
}

static void test_failed_statement_does_not_roll_back_other_writes(void **state)
{
    (void)state;
    harness_t h;
    harness_open(&h, 1, 0, 64, 5, 5);
    int setup = db_pool_add_statement(
        h.pool, "CREATE TABLE IF NOT EXISTS pool_t (v int primary key)", 0, DB_STMT_WRITE);
    int ins = db_pool_add_statement(h.pool, "INSERT INTO pool_t VALUES ($1::int) RETURNING v", 1,
                                    DB_STMT_WRITE);
    int bad = db_pool_add_statement(h.pool, "SELECT 1 / $1::int", 1, DB_STMT_READ);
    int cnt = db_pool_add_statement(h.pool, "SELECT count(*) FROM pool_t WHERE v IN (1, 2)", 0,
                                    DB_STMT_READ);
    db_pool_start(h.pool);
    outcome_t o0 = {0};
    db_pool_query(h.pool, setup, 0, NULL, record, &o0);
    harness_run_until(&h, &o0.done, 1);
    assert_int_equal(o0.status, DB_OK);

    /* Queued in one loop turn: they travel in one pipeline batch. */
    outcome_t w1 = {0}, e = {0}, w2 = {0}, dup = {0};
    static const char *one[] = {"1"}, *two[] = {"2"}, *zero[] = {"0"};
    db_pool_query(h.pool, ins, 1, one, record, &w1);
    db_pool_query(h.pool, bad, 1, zero, record, &e);
    db_pool_query(h.pool, ins, 1, two, record, &w2);
    db_pool_query(h.pool, ins, 1, one, record, &dup);
    int done = 0;
    while (done < 4) {
        harness_run_until(&h, &done, 4);
        done = w1.done + e.done + w2.done + dup.done;
    }
    assert_int_equal(e.status, DB_ERR_BAD_INPUT); /* division by zero: 22012 */
    assert_int_equal(w1.status, DB_OK);
    assert_int_equal(w2.status, DB_OK);
    assert_int_equal(dup.status, DB_ERR_CONFLICT);
    /* Every acknowledged write is really there. */
    outcome_t c = {0};
    db_pool_query(h.pool, cnt, 0, NULL, record, &c);
    harness_run_until(&h, &c.done, 1);
    assert_string_equal(c.value, "2");
    harness_close(&h);
}

static void test_statement_timeout_then_usable(void **state)
{
    (void)state;
    harness_t h;
    harness_open(&h, 1, 0, 8, 5, 0.2);
    int slow = db_pool_add_statement(h.pool, "SELECT pg_sleep(2)", 0, DB_STMT_READ);
    int fast = db_pool_add_statement(h.pool, "SELECT 'ok'", 0, DB_STMT_READ);
    db_pool_start(h.pool);
    outcome_t a = {0}, b = {0};
    db_pool_query(h.pool, slow, 0, NULL, record, &a);
    harness_run_until(&h, &a.done, 1);
    assert_int_equal(a.status, DB_ERR_TIMEOUT);
    db_pool_query(h.pool, fast, 0, NULL, record, &b);
    harness_run_until(&h, &b.done, 1);
    assert_int_equal(b.status, DB_OK);
    assert_string_equal(b.value, "ok");
    db_pool_stats_t st;
    db_pool_stats(h.pool, &st);
    assert_int_equal(st.statement_timeouts, 1);
    harness_close(&h);
}

static void test_acquire_timeout(void **state)
{
    (void)state;
    harness_t h;
    harness_open(&h, 1, 0, 1, 0.3, 5);
    int slow = db_pool_add_statement(h.pool, "SELECT pg_sleep(1)", 0, DB_STMT_READ);
    db_pool_start(h.pool);
    outcome_t a = {0}, b = {0};
    db_pool_query(h.pool, slow, 0, NULL, record, &a);
    harness_run_until(&h, &a.done, 0);
    /* Let the first query occupy the only connection, then queue another. */
    for (int i = 0; i < 20; i++)
        uv_run(&h.loop, UV_RUN_NOWAIT);
    uint64_t t0 = uv_hrtime();
    db_pool_query(h.pool, slow, 0, NULL, record, &b);
    harness_run_until(&h, &b.done, 1);
    double waited = (double)(uv_hrtime() - t0) / 1e9;
    assert_int_equal(b.status, DB_ERR_POOL_TIMEOUT);
    assert_true(waited < 0.9);
    harness_run_until(&h, &a.done, 1);
    assert_int_equal(a.status, DB_OK);
    harness_close(&h);
}

static void test_database_not_there(void **state)
{
    (void)state;
    harness_t h;
    bad_host = "/nonexistent-lakeapi-socket-dir";
    harness_open(&h, 1, 0, 8, 5, 5);
    int s = db_pool_add_statement(h.pool, "SELECT 1", 0, DB_STMT_READ);
    db_pool_start(h.pool);
    outcome_t a = {0};
    uint64_t t0 = uv_hrtime();
    db_pool_query(h.pool, s, 0, NULL, record, &a);
    harness_run_until(&h, &a.done, 1);
    assert_int_equal(a.status, DB_ERR_UNAVAILABLE);
    assert_true((double)(uv_hrtime() - t0) / 1e9 < 1.0);
    db_pool_stats_t st;
    db_pool_stats(h.pool, &st);
    assert_false(st.healthy);
    assert_true(st.last_error[0] != '\0');
    harness_close(&h);
    bad_host = NULL;
}

/* Runs one SQL statement on a connection of its own (outside the pool). */
static void side_exec(const char *sql, char *out, size_t n)
{
    char ci[1024];
    snprintf(ci, sizeof ci, "host=%s port=%s user=postgres dbname=postgres", pg_host, pg_port);
    PGconn *c = PQconnectdb(ci);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    assert_true(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK);
    if (out) snprintf(out, n, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
}

static int total_done(const outcome_t *o, int n)
{
    int t = 0;
    for (int i = 0; i < n; i++)
        t += o[i].done;
    return t;
}

/*
 * A lost connection re-runs its in-flight reads in their original order:
 * they complete in the order they were queued (db_conn_close used to requeue
 * them one by one at the head, reversing them).
 */
static void test_lost_connection_keeps_read_order(void **state)
{
    (void)state;
    harness_t h;
    harness_open(&h, 1, 0, 64, 5, 5);
    int s = db_pool_add_statement(h.pool, "SELECT $1::int FROM pg_sleep(0.05)", 1, DB_STMT_READ);
    int one = db_pool_add_statement(h.pool, "SELECT 1", 0, DB_STMT_READ);
    db_pool_start(h.pool);
    outcome_t warm = {0};
    db_pool_query(h.pool, one, 0, NULL, record, &warm);
    harness_run_until(&h, &warm.done, 1); /* connected */
    enum { N = 12 };
    static outcome_t out[N];
    static char args[N][16];
    static const char *vals[N][1];
    memset(out, 0, sizeof out);
    completions = 0;
    for (int i = 0; i < N; i++) {
        snprintf(args[i], sizeof args[i], "%d", i);
        vals[i][0] = args[i];
        db_pool_query(h.pool, s, 1, vals[i], record, &out[i]);
    }
    /* Let the batch start (the server answers a pipeline at its Sync, so none is done). */
    uint64_t t0 = uv_hrtime();
    while (uv_hrtime() - t0 < 100ULL * 1000000ULL)
        uv_run(&h.loop, UV_RUN_NOWAIT);
    assert_int_equal(total_done(out, N), 0);
    side_exec("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
              "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
              NULL, 0);
    uint64_t deadline = uv_hrtime() + 15ULL * 1000000000ULL;
    while (total_done(out, N) < N && uv_hrtime() < deadline)
        uv_run(&h.loop, UV_RUN_ONCE);
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i].done, 1);
        assert_int_equal(out[i].status, DB_OK);
        assert_int_equal(atoi(out[i].value), i);
        assert_int_equal(out[i].order, i + 1);
    }
    db_pool_stats_t st;
    db_pool_stats(h.pool, &st);
    assert_true(st.reconnects >= 1 || st.total >= 1);
    harness_close(&h);
}

/*
 * A backend frozen with SIGSTOP never answers, and statement_timeout cannot
 * fire on a stopped server: past the command timeout plus a second, the
 * pool gives the connection up, the read gets DB_ERR_TIMEOUT and the write
 * DB_ERR_TIMEOUT with outcome_unknown. After SIGCONT the pool serves again.
 */
static void test_frozen_backend_times_out(void **state)
{
    (void)state;
    harness_t h;
    harness_open(&h, 1, 0, 8, 5, 0.3);
    int pid_q = db_pool_add_statement(h.pool, "SELECT pg_backend_pid()", 0, DB_STMT_READ);
    int rd = db_pool_add_statement(h.pool, "SELECT 'r'", 0, DB_STMT_READ);
    int wr = db_pool_add_statement(h.pool, "SELECT 'w'", 0, DB_STMT_WRITE);
    db_pool_start(h.pool);
    outcome_t p = {0}, a = {0}, b = {0}, c = {0};
    db_pool_query(h.pool, pid_q, 0, NULL, record, &p);
    harness_run_until(&h, &p.done, 1);
    assert_int_equal(p.status, DB_OK);
    int pid = atoi(p.value);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGSTOP), 0);
    uint64_t t0 = uv_hrtime();
    db_pool_query(h.pool, rd, 0, NULL, record, &a);
    db_pool_query(h.pool, wr, 0, NULL, record, &b);
    int done = 0;
    while (done < 2 && uv_hrtime() - t0 < 10ULL * 1000000000ULL) {
        uv_run(&h.loop, UV_RUN_ONCE);
        done = a.done + b.done;
    }
    double took = (double)(uv_hrtime() - t0) / 1e9;
    kill(pid, SIGCONT);
    assert_int_equal(a.status, DB_ERR_TIMEOUT);
    assert_false(a.unknown);
    assert_int_equal(b.status, DB_ERR_TIMEOUT);
    assert_true(b.unknown);
    assert_true(took > 1.2 && took < 2.5);
    db_pool_query(h.pool, rd, 0, NULL, record, &c);
    harness_run_until(&h, &c.done, 1);
    assert_int_equal(c.status, DB_OK);
    assert_string_equal(c.value, "r");
    harness_close(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_reads),
        cmocka_unit_test(test_failed_statement_does_not_roll_back_other_writes),
        cmocka_unit_test(test_statement_timeout_then_usable),
        cmocka_unit_test(test_acquire_timeout),
        cmocka_unit_test(test_database_not_there),
        cmocka_unit_test(test_lost_connection_keeps_read_order),
        cmocka_unit_test(test_frozen_backend_times_out),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
