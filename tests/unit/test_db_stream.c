/*
 * test_db_stream - streamed reads (db_stream_*) against a real PostgreSQL:
 * every row arrives in batches with bound parameters, pause/resume, errors
 * and the statement timeout end the stream and leave the connection clean, a
 * cancel mid-query interrupts the server (nothing left running, no busy or
 * leased connection, the pool works on), a cancel while waiting for a
 * connection, and the pool's queries keep flowing while a stream holds one.
 */
#include "db_test_fixture.h"

typedef struct sink {
    harness_t *h;
    db_stream_t *s;
    int batches, ended;
    long rows, sum, max_batch;
    db_status_t status;
    bool pause_each; /* pause in on_rows, resume from a timer */
    long cancel_after;
    uv_timer_t timer;
} sink_t;

static void sink_resume(uv_timer_t *t)
{
    sink_t *k = t->data;
    db_stream_resume(k->s);
}

static void sink_rows(db_stream_t *s, const PGresult *res, void *data)
{
    sink_t *k = data;
    int n = PQntuples(res);
    k->batches++;
    if (n > k->max_batch) k->max_batch = n;
    for (int i = 0; i < n; i++) {
        k->rows++;
        k->sum += atol(PQgetvalue(res, i, 0));
    }
    if (k->cancel_after && k->rows >= k->cancel_after) {
        db_stream_cancel(s);
        return;
    }
    if (k->pause_each) {
        db_stream_pause(s);
        uv_timer_start(&k->timer, sink_resume, 1, 0);
    }
}

static void sink_end(db_stream_t *s, const db_result_t *r, void *data)
{
    (void)s;
    sink_t *k = data;
    k->ended++;
    k->status = r->status;
    uv_timer_stop(&k->timer); /* the stream is gone: no resume may follow */
}

static const db_stream_ops_t sink_ops = {sink_rows, sink_end, NULL};

static void sink_init(sink_t *k, harness_t *h)
{
    memset(k, 0, sizeof *k);
    k->h = h;
    uv_timer_init(&h->loop, &k->timer);
    k->timer.data = k;
}

static void sink_done(sink_t *k)
{
    uv_close((uv_handle_t *)&k->timer, NULL);
}

/* Runs the loop until the pool has no leased or busy connection (or 10 s). */
static void run_until_idle(harness_t *h)
{
    db_pool_stats_t st;
    uint64_t deadline = uv_hrtime() + 10ULL * 1000000000ULL;
    do {
        uv_run(&h->loop, UV_RUN_NOWAIT);
        db_pool_stats(h->pool, &st);
    } while ((st.leased > 0 || st.busy > 0) && uv_hrtime() < deadline);
    assert_int_equal(st.leased, 0);
    assert_int_equal(st.busy, 0);
}

static void query_value(harness_t *h, int stmt, int nparams, const char *const *vals, char *out,
                        size_t n)
{
    outcome_t o = {0};
    db_pool_query(h->pool, stmt, nparams, vals, record, &o);
    harness_run_until(h, &o.done, 1);
    assert_int_equal(o.status, DB_OK);
    snprintf(out, n, "%s", o.value);
}

static void test_all_rows_in_batches(void **state)
{
    (void)state;
    harness_t h;
    harness_open(&h, 2, 2, 32, 5, 5);
    int ping = db_pool_add_statement(h.pool, "SELECT $1::int + 1", 1, DB_STMT_READ);
    db_pool_start(h.pool);
    sink_t k;
    sink_init(&k, &h);
    static const char *vals[] = {"25000", "it's \\ \"quoted\""};
    k.s = db_stream_open(h.pool,
                         "SELECT g FROM generate_series(1, $1::int) g WHERE $2::text <> '' "
                         "ORDER BY g",
                         2, vals, 1000, &sink_ops, &k);
    assert_non_null(k.s);
    /* A query of the pool runs while the stream holds its connection. */
    char v[64];
    static const char *one[] = {"41"};
    query_value(&h, ping, 1, one, v, sizeof v);
    assert_string_equal(v, "42");
    harness_run_until(&h, &k.ended, 1);
    assert_int_equal(k.ended, 1);
    assert_int_equal(k.status, DB_OK);
    assert_int_equal(k.rows, 25000);
    assert_int_equal(k.sum, 25000L * 25001L / 2);
    assert_int_equal(k.max_batch, 1000);
    assert_int_equal(k.batches, 25);
    run_until_idle(&h);
    /* The connection came back clean: a stream can run again. */
    sink_t k2;
    sink_init(&k2, &h);
    static const char *v2[] = {"999", "x"};
    k2.pause_each = true;
    k2.s = db_stream_open(h.pool, "SELECT g FROM generate_series(1, $1::int) g WHERE $2 = 'x'", 2,
                          v2, 100, &sink_ops, &k2);
    harness_run_until(&h, &k2.ended, 1);
    assert_int_equal(k2.status, DB_OK);
    assert_int_equal(k2.rows, 999);
    assert_int_equal(k2.batches, 10);
    run_until_idle(&h);
    sink_done(&k);
    sink_done(&k2);
    harness_close(&h);
}

static void test_errors_leave_connection_clean(void **state)
{
    (void)state;
    harness_t h;
    harness_open(&h, 1, 1, 32, 5, 0.3);
    int ping = db_pool_add_statement(h.pool, "SELECT $1::int + 1", 1, DB_STMT_READ);
    db_pool_start(h.pool);
    sink_t k;
    sink_init(&k, &h);
    /* fails in the third batch, at FETCH time */
    k.s = db_stream_open(h.pool, "SELECT 1 / (g - 2500) FROM generate_series(1, 5000) g", 0, NULL,
                         1000, &sink_ops, &k);
    harness_run_until(&h, &k.ended, 1);
    assert_int_equal(k.status, DB_ERR_BAD_INPUT);
    assert_int_equal(k.rows, 2000);
    run_until_idle(&h);
    /* a syntax error at DECLARE */
    sink_t k2;
    sink_init(&k2, &h);
    k2.s = db_stream_open(h.pool, "SELEC nothing", 0, NULL, 10, &sink_ops, &k2);
    harness_run_until(&h, &k2.ended, 1);
    assert_int_equal(k2.status, DB_ERR_INTERNAL);
    assert_int_equal(k2.rows, 0);
    assert_int_equal(k2.batches, 0);
    /* an empty result still names its columns, once */
    sink_t k4;
    sink_init(&k4, &h);
    k4.s = db_stream_open(h.pool, "SELECT 1 AS one WHERE false", 0, NULL, 10, &sink_ops, &k4);
    harness_run_until(&h, &k4.ended, 1);
    assert_int_equal(k4.status, DB_OK);
    assert_int_equal(k4.batches, 1);
    assert_int_equal(k4.rows, 0);
    sink_done(&k4);
    /* the statement timeout applies to a step */
    sink_t k3;
    sink_init(&k3, &h);
    k3.s = db_stream_open(h.pool, "SELECT 1 FROM pg_sleep(2)", 0, NULL, 10, &sink_ops, &k3);
    harness_run_until(&h, &k3.ended, 1);
    assert_int_equal(k3.status, DB_ERR_TIMEOUT);
    run_until_idle(&h);
    char v[64];
    static const char *one[] = {"1"};
    query_value(&h, ping, 1, one, v, sizeof v);
    assert_string_equal(v, "2");
    db_pool_stats_t st;
    db_pool_stats(h.pool, &st);
    assert_int_equal(st.total, 1); /* nothing was closed: every error was rolled back */
    sink_done(&k);
    sink_done(&k2);
    sink_done(&k3);
    harness_close(&h);
}

static void test_cancel_mid_query(void **state)
{
    (void)state;
    harness_t h;
    harness_open(&h, 1, 1, 32, 5, 30);
    int active = db_pool_add_statement(h.pool,
                                       "SELECT count(*) FROM pg_stat_activity WHERE state = "
                                       "'active' AND query LIKE '%pg_sleep(0.002)%' AND pid <> "
                                       "pg_backend_pid()",
                                       0, DB_STMT_READ);
    db_pool_start(h.pool);
    sink_t k;
    sink_init(&k, &h);
    k.cancel_after = 1;
    /* each batch of 1000 rows takes 2 s: the second FETCH is in flight when we cancel */
    k.s = db_stream_open(h.pool,
                         "SELECT g, CASE WHEN g > 1000 THEN pg_sleep(0.002) END "
                         "FROM generate_series(1, 100000) g",
                         0, NULL, 1000, &sink_ops, &k);
    harness_run_until(&h, &k.batches, 1);
    uint64_t t0 = uv_hrtime();
    run_until_idle(&h);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    assert_true(ms < 1500);       /* the FETCH was interrupted, not waited for */
    assert_int_equal(k.ended, 0); /* no callback after cancel */
    char v[64];
    query_value(&h, active, 0, NULL, v, sizeof v);
    assert_string_equal(v, "0");
    db_pool_stats_t st;
    db_pool_stats(h.pool, &st);
    assert_int_equal(st.leased, 0);
    assert_true(st.total >= 1);
    sink_done(&k);
    harness_close(&h);
}

static void test_cancel_while_waiting(void **state)
{
    (void)state;
    harness_t h;
    harness_open(&h, 1, 0, 32, 5, 30);
    db_pool_start(h.pool);
    sink_t a, b;
    sink_init(&a, &h);
    sink_init(&b, &h);
    a.pause_each = true;
    a.s = db_stream_open(h.pool, "SELECT g FROM generate_series(1, 3000) g", 0, NULL, 1000,
                         &sink_ops, &a);
    b.s = db_stream_open(h.pool, "SELECT 1", 0, NULL, 10, &sink_ops, &b);
    harness_run_until(&h, &a.batches, 1);
    db_stream_cancel(b.s); /* still queued: one connection, and a holds it */
    harness_run_until(&h, &a.ended, 1);
    assert_int_equal(a.status, DB_OK);
    assert_int_equal(a.rows, 3000);
    assert_int_equal(b.ended, 0);
    assert_int_equal(b.rows, 0);
    run_until_idle(&h);
    sink_done(&a);
    sink_done(&b);
    harness_close(&h);
}

/* A stream under a request's session reads as its role; the connection comes back as itself. */
static void test_session_role(void **state)
{
    (void)state;
    harness_t h;
    harness_open(&h, 1, 0, 32, 5, 30);
    assert_int_equal(db_session_register(h.pool, NULL), 0);
    int who =
        db_pool_add_statement(h.pool, "SELECT current_user::text || '/' || $1", 1, DB_STMT_READ);
    int setup = db_pool_add_statement(
        h.pool,
        "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stream_reader') THEN "
        "CREATE ROLE stream_reader NOLOGIN; END IF; END$$",
        0, DB_STMT_WRITE);
    int grant = db_pool_add_statement(h.pool, "GRANT stream_reader TO postgres", 0, DB_STMT_WRITE);
    db_pool_start(h.pool);
    char v[64];
    query_value(&h, setup, 0, NULL, v, sizeof v);
    query_value(&h, grant, 0, NULL, v, sizeof v);
    db_session_t sess;
    db_session_init(&sess, "stream_reader", "{\"sub\":\"u1\"}", "GET", "/rest/v1/x", "{}");
    sink_t k;
    sink_init(&k, &h);
    k.s = db_stream_open_as(h.pool, &sess,
                            "SELECT length(current_user::text || "
                            "current_setting('request.jwt.claims'))",
                            0, NULL, 10, &sink_ops, &k);
    harness_run_until(&h, &k.ended, 1);
    assert_int_equal(k.status, DB_OK);
    assert_int_equal(k.sum, (long)strlen("stream_reader{\"sub\":\"u1\"}"));
    /* the role is refused what it was not granted */
    sink_t k2;
    sink_init(&k2, &h);
    k2.s = db_stream_open_as(h.pool, &sess, "SELECT count(*) FROM pg_authid", 0, NULL, 10,
                             &sink_ops, &k2);
    harness_run_until(&h, &k2.ended, 1);
    assert_int_not_equal(k2.status, DB_OK);
    run_until_idle(&h);
    static const char *x[] = {"x"};
    query_value(&h, who, 1, x, v, sizeof v);
    assert_string_equal(v, "postgres/x");
    sink_done(&k);
    sink_done(&k2);
    harness_close(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_rows_in_batches),
        cmocka_unit_test(test_errors_leave_connection_clean),
        cmocka_unit_test(test_cancel_mid_query),
        cmocka_unit_test(test_cancel_while_waiting),
        cmocka_unit_test(test_session_role),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
