/*
 * Tests of the pool under database faults (issue 11), against a real
 * PostgreSQL started by tests/pg_cluster.sh: a lost connection re-runs its
 * reads in their original order, and a frozen backend (SIGSTOP) is given up
 * after the command timeout plus a second, with writes marked outcome-unknown.
 */
#include <signal.h>
#include <stdbool.h>

#include "db_test_fixture.h"

typedef struct fault_outcome {
    int done;
    int order; /* completion rank (1 = first), across every outcome of a test */
    bool unknown;
    db_status_t status;
    char value[64];
} fault_outcome_t;

static int completions;

static void record_ordered(const db_result_t *r, void *data)
{
    fault_outcome_t *o = data;
    o->done++;
    o->order = ++completions;
    o->unknown = r->outcome_unknown;
    o->status = r->status;
    if (r->status == DB_OK && PQntuples(r->res) > 0 && PQnfields(r->res) > 0)
        snprintf(o->value, sizeof o->value, "%s", PQgetvalue(r->res, 0, 0));
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

static int total_done(const fault_outcome_t *o, int n)
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
    fault_outcome_t warm = {0};
    db_pool_query(h.pool, one, 0, NULL, record_ordered, &warm);
    harness_run_until(&h, &warm.done, 1); /* connected */
    enum { N = 12 };
    static fault_outcome_t out[N];
    static char args[N][16];
    static const char *vals[N][1];
    memset(out, 0, sizeof out);
    completions = 0;
    for (int i = 0; i < N; i++) {
        snprintf(args[i], sizeof args[i], "%d", i);
        vals[i][0] = args[i];
        db_pool_query(h.pool, s, 1, vals[i], record_ordered, &out[i]);
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
    fault_outcome_t p = {0}, a = {0}, b = {0}, c = {0};
    db_pool_query(h.pool, pid_q, 0, NULL, record_ordered, &p);
    harness_run_until(&h, &p.done, 1);
    assert_int_equal(p.status, DB_OK);
    int pid = atoi(p.value);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGSTOP), 0);
    uint64_t t0 = uv_hrtime();
    db_pool_query(h.pool, rd, 0, NULL, record_ordered, &a);
    db_pool_query(h.pool, wr, 0, NULL, record_ordered, &b);
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
    db_pool_query(h.pool, rd, 0, NULL, record_ordered, &c);
    harness_run_until(&h, &c.done, 1);
    assert_int_equal(c.status, DB_OK);
    assert_string_equal(c.value, "r");
    harness_close(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_connection_keeps_read_order),
        cmocka_unit_test(test_frozen_backend_times_out),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
