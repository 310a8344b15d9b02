/*
 * test_db_stmt_cache - statements given by SQL text (db_pool_query_sql)
 * against a real PostgreSQL: a cache smaller than the number of distinct
 * texts evicts and reuses slots (the old server-side statement is
 * DEALLOCATEd, the new one prepared under a new name) and every answer is
 * still the right one; a failing text reports the server's error fields and
 * does not poison its slot.
 */
#include "db_test_fixture.h"

static void open_small(harness_t *h, int cache)
{
    uv_loop_init(&h->loop);
    db_pool_config_t cfg;
    db_pool_config_defaults(&cfg);
    cfg.size = 1;
    cfg.max_overflow = 0;
    cfg.conninfo = conninfo;
    cfg.stmt_cache_size = cache;
    h->pool = db_pool_new(&h->loop, &cfg);
    h->closed = 0;
    db_pool_start(h->pool);
}

static void run_one(harness_t *h, const char *sql, const char *arg, outcome_t *o)
{
    const char *vals[1] = {arg};
    memset(o, 0, sizeof *o);
    db_pool_query_sql(h->pool, sql, arg ? 1 : 0, vals, DB_STMT_READ, record, o);
    harness_run_until(h, &o->done, 1);
    assert_int_equal(o->done, 1);
}

static void test_eviction_keeps_answers_right(void **state)
{
    (void)state;
    harness_t h;
    open_small(&h, 3);
    for (int round = 0; round < 4; round++) {
        for (int k = 0; k < 10; k++) {
            char sql[64], arg[16], want[16];
            snprintf(sql, sizeof sql, "SELECT $1::int + %d", k);
            snprintf(arg, sizeof arg, "%d", round);
            snprintf(want, sizeof want, "%d", round + k);
            outcome_t o;
            run_one(&h, sql, arg, &o);
            assert_int_equal(o.status, DB_OK);
            assert_string_equal(o.value, want);
        }
    }
    assert_true(db_pool_stmt_cache_size(h.pool) <= 3);
    /* the statements the connection holds are the cache's, not one per text ever seen */
    outcome_t o;
    run_one(&h, "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'lk%'", NULL, &o);
    assert_int_equal(o.status, DB_OK);
    assert_true(atoi(o.value) <= 4);
    harness_close(&h);
}

static void record_error(const db_result_t *r, void *data)
{
    outcome_t *o = data;
    o->done++;
    o->status = r->status;
    const char *m = r->res ? PQresultErrorField(r->res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    snprintf(o->value, sizeof o->value, "%s", m ? m : "");
}

static void test_error_fields_and_recovery(void **state)
{
    (void)state;
    harness_t h;
    open_small(&h, 8);
    outcome_t o = {0};
    db_pool_query_sql(h.pool, "SELECT * FROM no_such_table_here", 0, NULL, DB_STMT_READ,
                      record_error, &o);
    harness_run_until(&h, &o.done, 1);
    assert_int_not_equal(o.status, DB_OK);
    assert_non_null(strstr(o.value, "no_such_table_here"));
    run_one(&h, "SELECT 41 + 1", NULL, &o);
    assert_int_equal(o.status, DB_OK);
    assert_string_equal(o.value, "42");
    harness_close(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eviction_keeps_answers_right),
        cmocka_unit_test(test_error_fields_and_recovery),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
