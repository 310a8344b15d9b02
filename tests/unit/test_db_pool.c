/*
 * Tests of the asynchronous pool (src/db/) against a real PostgreSQL started
 * by tests/pg_cluster.sh: pipelining, the implicit-transaction rule (a failed
 * statement must not roll back other requests' acknowledged writes), statement
 * and acquire timeouts, error mapping, and a database that is not there.
 */
#include "db_test_fixture.h"

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

/*
 * A read in flight when the pool closes is handed back by its connection as
 * safe to re-run; the closing pool must answer it (once, as unavailable) and
 * not keep it in a queue it will never dispatch again (which leaked it).
 */
static void test_close_with_read_in_flight(void **state)
{
    (void)state;
    harness_t h;
    harness_open(&h, 1, 0, 8, 5, 5);
    int s = db_pool_add_statement(h.pool, "SELECT pg_sleep(5)", 0, DB_STMT_READ);
    db_pool_start(h.pool);
    outcome_t a = {0};
    db_pool_query(h.pool, s, 0, NULL, record, &a);
    db_pool_stats_t st = {0};
    uint64_t deadline = uv_hrtime() + 10ULL * 1000000000ULL;
    do { /* until the query has left the queue for the connection */
        uv_run(&h.loop, UV_RUN_NOWAIT);
        db_pool_stats(h.pool, &st);
    } while ((st.waiting > 0 || st.busy == 0) && uv_hrtime() < deadline);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.busy, 1);
    assert_int_equal(a.done, 0);
    uint64_t t0 = uv_hrtime();
    db_pool_close(h.pool, on_closed, &h);
    harness_run_until(&h, &h.closed, 1);
    assert_int_equal(a.done, 1);
    assert_int_equal(a.status, DB_ERR_UNAVAILABLE);
    assert_true((double)(uv_hrtime() - t0) / 1e9 < 2.0); /* not after the sleep */
    while (uv_run(&h.loop, UV_RUN_NOWAIT)) {
    }
    db_pool_free(h.pool);
    assert_int_equal(uv_loop_close(&h.loop), 0);
}

/*
 * A table whose columns change under a prepared statement (a re-synced
 * table, a migration) makes PostgreSQL refuse the cached plan (0A000 "cached
 * plan must not change result type"); the pool prepares it again and the
 * query answers with the new shape instead of failing.
 */
static void test_statement_survives_a_changed_table(void **state)
{
    (void)state;
    PGconn *sc = sync_conn();
    PQclear(PQexec(sc,
                   "DROP TABLE IF EXISTS pool_retype; CREATE TABLE pool_retype (id int, v text); "
                   "INSERT INTO pool_retype VALUES (1, 'abc')"));
    harness_t h;
    harness_open(&h, 2, 0, 8, 5, 5);
    int s =
        db_pool_add_statement(h.pool, "SELECT v FROM pool_retype WHERE id = 1", 0, DB_STMT_READ);
    db_pool_start(h.pool);
    outcome_t before[2] = {{0}};
    for (int i = 0; i < 2; i++)
        db_pool_query(h.pool, s, 0, NULL, record, &before[i]);
    harness_run_until(&h, &before[1].done, 1);
    harness_run_until(&h, &before[0].done, 1);
    assert_int_equal(before[0].status, DB_OK);
    assert_string_equal(before[0].value, "abc");
    PGresult *r = PQexec(sc, "ALTER TABLE pool_retype ALTER COLUMN v TYPE int USING length(v)");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    enum { N = 6 };
    outcome_t after[N];
    memset(after, 0, sizeof after);
    for (int i = 0; i < N; i++) {
        db_pool_query(h.pool, s, 0, NULL, record, &after[i]);
        harness_run_until(&h, &after[i].done, 1);
        assert_int_equal(after[i].done, 1);
        assert_int_equal(after[i].status, DB_OK);
        assert_string_equal(after[i].value, "3");
    }
    harness_close(&h);
    PQclear(PQexec(sc, "DROP TABLE pool_retype"));
    PQfinish(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_reads),
        cmocka_unit_test(test_failed_statement_does_not_roll_back_other_writes),
        cmocka_unit_test(test_statement_timeout_then_usable),
        cmocka_unit_test(test_acquire_timeout),
        cmocka_unit_test(test_database_not_there),
        cmocka_unit_test(test_close_with_read_in_flight),
        cmocka_unit_test(test_statement_survives_a_changed_table),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
