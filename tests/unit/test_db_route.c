/*
 * Tests of the read/write split (src/db/route.c) against a real PostgreSQL
 * started by tests/pg_cluster.sh. The "replica" is a second pool on the same
 * server (not in recovery, so its replay position is the server's own WAL
 * position): enough to check where statements go, the LSN of writes, the
 * read-your-writes rules and the fallback from a replica that is not there.
 * The streaming-replication proof is tests/scale/scale_test.py.
 */
#include "db_test_fixture.h"

/* The fixture's cluster, plus the table the write statement uses. */
static int route_setup(void **state)
{
    if (group_setup(state) != 0) return -1;
    char ci[700];
    snprintf(ci, sizeof ci, "host=%s port=%s user=postgres dbname=postgres", pg_host, pg_port);
    PGconn *c = PQconnectdb(ci);
    PGresult *r = PQexec(c, "CREATE TABLE IF NOT EXISTS route_t (id serial PRIMARY KEY)");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

/* data: the host to use (NULL: the test cluster). */
static void route_conninfo(void *data, const char *password, const char ***kw, const char ***vals)
{
    (void)password;
    static const char *k[] = {"host", "port", "user", "dbname", NULL};
    static const char *v[2][5];
    int i = data ? 1 : 0;
    v[i][0] = data ? data : pg_host;
    v[i][1] = pg_port;
    v[i][2] = "postgres";
    v[i][3] = "postgres";
    *kw = k;
    *vals = v[i];
}

typedef struct route_outcome {
    int done;
    db_status_t status;
    uint64_t lsn;
    char value[64];
} route_outcome_t;

static void route_record(const db_result_t *r, void *data)
{
    route_outcome_t *o = data;
    o->done++;
    o->status = r->status;
    o->lsn = r->lsn;
    if (r->status == DB_OK && PQntuples(r->res) > 0 && PQnfields(r->res) > 0)
        snprintf(o->value, sizeof o->value, "%s", PQgetvalue(r->res, 0, 0));
}

typedef struct route_harness {
    uv_loop_t loop;
    db_pool_t *primary;
    db_route_t *route;
    int closed;
    int read, write;
} route_harness_t;

static db_pool_t *pool_to(uv_loop_t *loop, const char *host)
{
    db_pool_config_t cfg;
    db_pool_config_defaults(&cfg);
    cfg.size = 2;
    cfg.max_overflow = 0;
    cfg.acquire_timeout_s = 2;
    cfg.conninfo = route_conninfo;
    cfg.conninfo_data = (void *)host;
    return db_pool_new(loop, &cfg);
}

static void route_run_until(route_harness_t *h, int *counter, int target)
{
    uint64_t deadline = uv_hrtime() + 15ULL * 1000000000ULL;
    while (*counter < target && uv_hrtime() < deadline)
        uv_run(&h->loop, UV_RUN_ONCE);
}

static void run_for_ms(route_harness_t *h, int ms)
{
    uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000ULL;
    while (uv_hrtime() < deadline)
        uv_run(&h->loop, UV_RUN_NOWAIT);
}

/* A route over the test cluster with one replica at replica_host (NULL: the cluster too). */
static void route_open(route_harness_t *h, const char *replica_host)
{
    memset(h, 0, sizeof *h);
    uv_loop_init(&h->loop);
    h->primary = pool_to(&h->loop, NULL);
    db_route_config_t rc;
    db_route_config_defaults(&rc);
    rc.poll_ms = 50;
    rc.read_after_write_ms = 5000;
    h->route = db_route_new(h->primary, &rc);
    assert_int_equal(db_route_add_replica(h->route, pool_to(&h->loop, replica_host), "r1"), 0);
    h->read = db_pool_add_statement(h->primary, "SELECT $1::int + 1", 1, DB_STMT_READ);
    h->write = db_pool_add_statement(
        h->primary, "INSERT INTO route_t VALUES (DEFAULT) RETURNING id", 0, DB_STMT_WRITE);
    db_route_start(h->route);
    db_pool_start(h->primary);
}

static void route_closed(void *data)
{
    ((route_harness_t *)data)->closed++;
}

static void route_close_all(route_harness_t *h)
{
    db_route_close(h->route, route_closed, h);
    route_run_until(h, &h->closed, 1);
    db_pool_close(h->primary, route_closed, h);
    route_run_until(h, &h->closed, 2);
    assert_int_equal(h->closed, 2);
    while (uv_run(&h->loop, UV_RUN_NOWAIT)) {
    }
    db_route_free(h->route);
    db_pool_free(h->primary);
    assert_int_equal(uv_loop_close(&h->loop), 0);
}

static void stats(route_harness_t *h, db_route_stats_t *st)
{
    db_route_stats(h->route, st);
    assert_int_equal(st->ntargets, 2);
}

static bool replica_up(route_harness_t *h)
{
    db_route_stats_t st;
    stats(h, &st);
    return st.targets[1].in_service;
}

static void wait_replica(route_harness_t *h, bool up)
{
    uint64_t deadline = uv_hrtime() + 10ULL * 1000000000ULL;
    while (replica_up(h) != up && uv_hrtime() < deadline)
        uv_run(&h->loop, UV_RUN_ONCE);
    assert_true(replica_up(h) == up);
}

static void query_as(route_harness_t *h, const db_route_ctx_t *ctx, int stmt, int nparams,
                     const char *const *vals, route_outcome_t *o)
{
    db_route_set_ctx(h->route, ctx);
    db_pool_query(h->primary, stmt, nparams, vals, route_record, o);
    db_route_set_ctx(h->route, NULL);
    route_run_until(h, &o->done, 1);
    assert_int_equal(o->done, 1);
    assert_int_equal(o->status, DB_OK);
}

/* ---- tests ---- */

static void test_lsn_text(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(db_lsn_parse("16/B374D848", 11, &v), 0);
    assert_true(v == (0x16ull << 32 | 0xB374D848ull));
    char out[24];
    db_lsn_format(v, out, sizeof out);
    assert_string_equal(out, "16/B374D848");
    assert_int_equal(db_lsn_parse("0/0", 3, &v), 0);
    assert_true(v == 0);
    assert_int_equal(db_lsn_parse("FFFFFFFF/ffffffff", 17, &v), 0);
    assert_true(v == UINT64_MAX);
    static const char *const bad[] = {"",    "/",    "1/",          "/1",   "1",   "1/2/3",
                                      "g/1", "1/ 2", "123456789/0", "-1/2", "1/2x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(db_lsn_parse(bad[i], strlen(bad[i]), &v), -1);
    /* The length bounds the text: a valid prefix of a longer buffer. */
    assert_int_equal(db_lsn_parse("1/2 trailing", 3, &v), 0);
    assert_true(v == (1ull << 32 | 2));
}

static void test_reads_to_replica_writes_to_primary(void **state)
{
    (void)state;
    route_harness_t h;
    route_open(&h, NULL);
    db_route_ctx_t get = {0}, post = {.primary = true};
    route_outcome_t setup = {0};
    static const char *one[] = {"1"};
    /* Before the first poll the replica takes no reads. */
    query_as(&h, &post, h.read, 1, one, &setup);
    wait_replica(&h, true);

    db_route_stats_t before, after;
    stats(&h, &before);
    route_outcome_t r = {0};
    query_as(&h, &get, h.read, 1, one, &r);
    assert_string_equal(r.value, "2");
    assert_true(r.lsn == 0);
    stats(&h, &after);
    assert_true(after.targets[1].queries == before.targets[1].queries + 1);

    /* A read of a non-GET request stays on the primary. */
    stats(&h, &before);
    route_outcome_t p = {0};
    query_as(&h, &post, h.read, 1, one, &p);
    stats(&h, &after);
    assert_true(after.targets[1].queries == before.targets[1].queries);
    assert_true(after.primary_request == before.primary_request + 1);

    /* A write goes to the primary and carries the WAL position after its commit. */
    route_outcome_t w = {0};
    query_as(&h, &get, h.write, 0, NULL, &w);
    assert_true(w.lsn > 0);
    assert_true(atoi(w.value) >= 1);
    db_route_stats_t later;
    stats(&h, &later);
    assert_true(later.lsn_reads == after.lsn_reads + 1);
    assert_true(later.targets[0].queries > after.targets[0].queries);
    route_close_all(&h);
}

static void test_read_your_writes(void **state)
{
    (void)state;
    route_harness_t h;
    route_open(&h, NULL);
    wait_replica(&h, true);
    db_route_ctx_t writer = {.who = {42, 0}};
    route_outcome_t w = {0};
    query_as(&h, &writer, h.write, 0, NULL, &w);
    assert_true(w.lsn > 0);

    /* Right after the write the replica's last polled position is older: the primary reads. */
    static const char *one[] = {"1"};
    db_route_stats_t before, after;
    db_route_ctx_t echo = {.min_lsn = w.lsn};
    stats(&h, &before);
    route_outcome_t r1 = {0}, r2 = {0}, r3 = {0};
    query_as(&h, &echo, h.read, 1, one, &r1);
    query_as(&h, &writer, h.read, 1, one, &r2);
    stats(&h, &after);
    assert_true(after.primary_min_lsn == before.primary_min_lsn + 2);
    assert_true(after.targets[1].queries == before.targets[1].queries);
    /* Someone else reads from the replica meanwhile. */
    db_route_ctx_t other = {.who = {7, 0}};
    query_as(&h, &other, h.read, 1, one, &r3);
    stats(&h, &before);
    assert_true(before.targets[1].queries == after.targets[1].queries + 1);

    /* Once a poll has seen the replica pass the write, its reads go there again. */
    run_for_ms(&h, 200);
    route_outcome_t r4 = {0}, r5 = {0};
    query_as(&h, &echo, h.read, 1, one, &r4);
    query_as(&h, &writer, h.read, 1, one, &r5);
    stats(&h, &after);
    assert_true(after.targets[1].queries == before.targets[1].queries + 2);
    route_close_all(&h);
}

static void test_replica_not_there(void **state)
{
    (void)state;
    route_harness_t h;
    route_open(&h, "/nonexistent-lakeapi-socket-dir");
    run_for_ms(&h, 300);
    db_route_stats_t st;
    stats(&h, &st);
    assert_false(st.targets[1].in_service);
    assert_true(st.targets[1].why[0] != '\0');
    /* Reads still answer, from the primary. */
    db_route_ctx_t get = {0};
    static const char *five[] = {"5"};
    route_outcome_t r = {0};
    query_as(&h, &get, h.read, 1, five, &r);
    assert_string_equal(r.value, "6");
    db_route_stats_t after;
    stats(&h, &after);
    assert_true(after.primary_no_replica == st.primary_no_replica + 1);
    route_close_all(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lsn_text),
        cmocka_unit_test(test_reads_to_replica_writes_to_primary),
        cmocka_unit_test(test_read_your_writes),
        cmocka_unit_test(test_replica_not_there),
    };
    return cmocka_run_group_tests(tests, route_setup, group_teardown);
}
