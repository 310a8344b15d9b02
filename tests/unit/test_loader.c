/*
 * test_loader.c - the schema and bulk loads against a real, throwaway PostgreSQL
 * cluster (tests/pg_cluster.sh in a temp dir, unix socket only).
 *
 * The tests share one cluster and run in order: schema, orders, a re-load
 * under a concurrent reader, users, notes, then the error paths. Skipped only
 * when no PostgreSQL server binaries are installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <glob.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lakeapi/loader.h"

typedef struct env {
    bool have_pg;
    char dir[64];
    char script[1024];
    char conninfo[512];
    PGconn *c;
} env_t;

static bool have_server_binaries(void)
{
    glob_t g;
    bool found = glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0;
    globfree(&g);
    return found || system("command -v initdb >/dev/null 2>&1") == 0;
}

/* tests/pg_cluster.sh: from CTest's LAKEAPI_SOURCE_DIR, else next to this file. */
static void find_script(env_t *e)
{
    const char *src = getenv("LAKEAPI_SOURCE_DIR");
    if (src) {
        snprintf(e->script, sizeof e->script, "%s/tests/pg_cluster.sh", src);
        return;
    }
    snprintf(e->script, sizeof e->script, "%s", __FILE__);
    char *slash = strrchr(e->script, '/');
    if (slash) *slash = '\0';
    slash = strrchr(e->script, '/');
    snprintf(slash ? slash : e->script, sizeof e->script - (size_t)(slash ? slash - e->script : 0),
             "/pg_cluster.sh");
}

/* Turns "PGHOST=a PGPORT=b PGUSER=c PGDATABASE=d" into a libpq conninfo. */
static int parse_env_line(const char *line, char *out, size_t n)
{
    char host[256], port[16], user[64], db[64];
    if (sscanf(line, "PGHOST=%255s PGPORT=%15s PGUSER=%63s PGDATABASE=%63s", host, port, user,
               db) != 4)
        return -1;
    snprintf(out, n, "host=%s port=%s user=%s dbname=%s", host, port, user, db);
    return 0;
}

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof *e);
    *state = e;
    e->have_pg = have_server_binaries();
    if (!e->have_pg) return 0;
    find_script(e);
    snprintf(e->dir, sizeof e->dir, "/tmp/lakeapi-test-loader-XXXXXX");
    if (!mkdtemp(e->dir)) return -1;
    char cmd[1200], line[1024] = "";
    snprintf(cmd, sizeof cmd, "sh '%s' start '%s'", e->script, e->dir);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char *got = fgets(line, sizeof line, p);
    int rc = pclose(p);
    if (!got || rc != 0 || parse_env_line(line, e->conninfo, sizeof e->conninfo) != 0) {
        fprintf(stderr, "pg_cluster.sh start failed (exit %d): %s\n", rc, line);
        return -1;
    }
    e->c = PQconnectdb(e->conninfo);
    if (PQstatus(e->c) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(e->c));
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    env_t *e = *state;
    if (e->c) PQfinish(e->c);
    if (e->dir[0]) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "sh '%s' destroy '%s' >/dev/null 2>&1", e->script, e->dir);
        if (system(cmd) != 0) fprintf(stderr, "could not destroy %s\n", e->dir);
    }
    free(e);
    return 0;
}

static env_t *need_pg(void **state)
{
    env_t *e = *state;
    if (!e->have_pg) skip();
    return e;
}

/* The single value of a query, as text ("" for NULL); fails the test on error. */
static char *query1(PGconn *c, const char *sql)
{
    static char out[1024];
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQerrorMessage(c));
    assert_int_equal(PQntuples(r), 1);
    snprintf(out, sizeof out, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

typedef struct progress_log {
    int calls;
    int64_t last_done, last_total;
    bool monotonic;
    char what[16];
} progress_log_t;

static void record_progress(const char *what, int64_t done, int64_t total, void *data)
{
    progress_log_t *p = data;
    if (p->calls > 0 && done < p->last_done) p->monotonic = false;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    snprintf(p->what, sizeof p->what, "%s", what);
}

static void test_schema(void **state)
{
    env_t *e = need_pg(state);
    char err[512];
    loader_tables_t t = {NULL, NULL};
    assert_int_equal(loader_schema(e->c, &t, err, sizeof err), 0);
    assert_int_equal(loader_schema(e->c, &t, err, sizeof err), 0); /* idempotent */
    assert_string_equal(query1(e->c, "SELECT to_regclass('public.orders_synced') IS NOT NULL"),
                        "t");
    assert_string_equal(query1(e->c, "SELECT to_regclass('public.users') IS NOT NULL"), "t");
    assert_string_equal(query1(e->c, "SELECT to_regclass('public.notes') IS NOT NULL"), "t");
    char v[64];
    assert_int_equal(loader_loaded(e->c, "public.orders_synced", v, sizeof v),
                     0); /* created, not loaded */
}

static void test_load_orders(void **state)
{
    env_t *e = need_pg(state);
    char err[512], v[64];
    progress_log_t p = {.monotonic = true};
    assert_int_equal(loader_load_orders(e->c, "public.orders_synced", 0.01, record_progress, &p,
                                        err, sizeof err),
                     0);
    assert_string_equal(query1(e->c, "SELECT count(*) FROM orders_synced"), "15000");
    assert_string_equal(query1(e->c, "SELECT o_totalprice::text FROM orders_synced "
                                     "WHERE o_orderkey = 1"),
                        "172799.49");
    assert_string_equal(query1(e->c, "SELECT concat_ws('|', o_orderkey, o_custkey, o_orderstatus, "
                                     "o_totalprice, o_orderdate, o_orderpriority, o_clerk, "
                                     "o_shippriority, o_comment) FROM orders_synced "
                                     "WHERE o_orderkey = 1"),
                        "1|370|O|172799.49|1996-01-02|5-LOW|Clerk#000000951|0|"
                        "nstructions sleep furiously among ");
    assert_string_equal(query1(e->c, "SELECT max(o_orderkey) FROM orders_synced"), "60000");
    /* The key and the analyzed statistics are in place under their final names. */
    assert_string_equal(query1(e->c, "SELECT to_regclass('public.orders_synced_pkey') "
                                     "IS NOT NULL"),
                        "t");
    assert_string_equal(query1(e->c, "SELECT reltuples::bigint FROM pg_class "
                                     "WHERE oid = 'public.orders_synced'::regclass"),
                        "15000");
    assert_string_equal(query1(e->c, "SELECT to_regclass('public.orders_synced__load') IS NULL"),
                        "t");
    assert_true(p.calls >= 2);
    assert_true(p.monotonic);
    assert_string_equal(p.what, "orders");
    assert_int_equal(p.last_done, 15000);
    assert_int_equal(p.last_total, 15000);
    assert_int_equal(loader_loaded(e->c, "public.orders_synced", v, sizeof v), 1);
    assert_string_equal(v, "sf=0.01");
}

typedef struct reader {
    const char *conninfo;
    atomic_bool stop;
    int polls, bad;
    char first_bad[256];
} reader_t;

/* Polls count(*) on its own connection until told to stop; counts anything but 15000. */
static void *reader_main(void *arg)
{
    reader_t *r = arg;
    PGconn *c = PQconnectdb(r->conninfo);
    while (!atomic_load(&r->stop) && PQstatus(c) == CONNECTION_OK) {
        PGresult *res = PQexec(c, "SELECT count(*) FROM orders_synced");
        bool ok =
            PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "15000") == 0;
        if (!ok && r->bad++ == 0)
            snprintf(r->first_bad, sizeof r->first_bad, "%s",
                     PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0)
                                                            : PQerrorMessage(c));
        r->polls++;
        PQclear(res);
    }
    if (PQstatus(c) != CONNECTION_OK) r->bad++;
    PQfinish(c);
    return NULL;
}

static void test_reload_is_atomic(void **state)
{
    env_t *e = need_pg(state);
    char err[512];
    exec_ok(e->c, "DROP ROLE IF EXISTS lk_app; CREATE ROLE lk_app");
    exec_ok(e->c, "GRANT SELECT, UPDATE ON orders_synced TO lk_app");
    reader_t r = {.conninfo = e->conninfo};
    atomic_init(&r.stop, false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, reader_main, &r), 0);
    int rc = loader_load_orders(e->c, NULL, 0.01, NULL, NULL, err, sizeof err);
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    assert_int_equal(rc, 0);
    assert_string_equal(query1(e->c, "SELECT count(*) FROM orders_synced"), "15000");
    assert_true(r.polls > 10);
    if (r.bad != 0) fail_msg("reader saw %d bad results, first: %s", r.bad, r.first_bad);
    /* Grants on the old table carry over to the new one. */
    assert_string_equal(query1(e->c, "SELECT has_table_privilege('lk_app', 'orders_synced', "
                                     "'SELECT') AND has_table_privilege('lk_app', "
                                     "'orders_synced', 'UPDATE') AND NOT "
                                     "has_table_privilege('lk_app', 'orders_synced', 'DELETE')"),
                        "t");
}

static void test_load_users(void **state)
{
    env_t *e = need_pg(state);
    char err[512], v[64];
    progress_log_t p = {.monotonic = true};
    assert_int_equal(loader_load_users(e->c, NULL, 1000, 42, record_progress, &p, err, sizeof err),
                     0);
    assert_string_equal(query1(e->c, "SELECT count(*) FROM users"), "1000");
    assert_string_equal(query1(e->c, "SELECT min(id) || '-' || max(id) FROM users"), "1-1000");
    assert_string_equal(query1(e->c, "SELECT count(*) FROM users WHERE email LIKE '%@%'"), "1000");
    assert_string_equal(p.what, "users");
    assert_int_equal(p.last_done, 1000);
    /* The identity continues after the loaded ids. */
    assert_string_equal(query1(e->c, "INSERT INTO users (first_name) VALUES ('New') RETURNING id"),
                        "1001");
    assert_string_equal(query1(e->c, "SELECT to_regclass('public.users_id_seq') IS NOT NULL"), "t");
    assert_int_equal(loader_loaded(e->c, "public.users", v, sizeof v), 1);
    assert_string_equal(v, "rows=1000 seed=42");
    /* A re-load replaces (the inserted row is gone), deterministically for the seed. */
    char before[256];
    snprintf(before, sizeof before, "%s",
             query1(e->c, "SELECT md5(string_agg(u::text, ',' "
                          "ORDER BY id)) FROM users u WHERE id <= 1000"));
    assert_int_equal(loader_load_users(e->c, NULL, 1000, 42, NULL, NULL, err, sizeof err), 0);
    assert_string_equal(query1(e->c, "SELECT count(*) FROM users"), "1000");
    assert_string_equal(query1(e->c, "SELECT md5(string_agg(u::text, ',' ORDER BY id)) "
                                     "FROM users u"),
                        before);
    assert_string_equal(query1(e->c, "INSERT INTO users (first_name) VALUES ('Again') "
                                     "RETURNING id"),
                        "1001");
}

static void test_load_notes(void **state)
{
    env_t *e = need_pg(state);
    char err[512], v[64];
    assert_int_equal(loader_load_notes(e->c, err, sizeof err), 0);
    assert_int_equal(loader_load_notes(e->c, err, sizeof err), 0); /* not duplicated */
    assert_string_equal(query1(e->c, "SELECT count(*) FROM notes"), "3");
    assert_string_equal(query1(e->c, "SELECT string_agg(content, '|' ORDER BY id) FROM notes"),
                        "Welcome to Lakebase Autoscaling!|This app connects to Postgres|"
                        "Data fetched from your database");
    assert_int_equal(loader_loaded(e->c, "public.notes", v, sizeof v), 1);
    assert_string_equal(v, "rows=3");
    /* Notes found in place (no record) are recorded as such, not seeded again. */
    exec_ok(e->c, "DELETE FROM lakeapi_meta WHERE tbl = '\"public\".\"notes\"'");
    assert_int_equal(loader_loaded(e->c, "public.notes", v, sizeof v), 0);
    assert_int_equal(loader_load_notes(e->c, err, sizeof err), 0);
    assert_int_equal(loader_loaded(e->c, "public.notes", v, sizeof v), 1);
    assert_string_equal(v, "existing rows");
    assert_string_equal(query1(e->c, "SELECT count(*) FROM notes"), "3");
}

/* Names are quoted: a mixed-case name in another schema is created as written. */
static void test_quoted_names(void **state)
{
    env_t *e = need_pg(state);
    char err[512];
    loader_tables_t t = {"lk_Other.Orders2", "lk_Other.People"};
    assert_int_equal(loader_schema(e->c, &t, err, sizeof err), 0);
    assert_int_equal(loader_load_orders(e->c, t.orders, 0.001, NULL, NULL, err, sizeof err), 0);
    assert_string_equal(query1(e->c, "SELECT count(*) FROM \"lk_Other\".\"Orders2\""), "1500");
    assert_string_equal(query1(e->c, "SELECT to_regclass('\"lk_Other\".\"Orders2_pkey\"') "
                                     "IS NOT NULL"),
                        "t");
    assert_string_equal(query1(e->c, "SELECT count(*) FROM orders_synced"), "15000");
    char v[64];
    assert_int_equal(loader_loaded(e->c, "lk_Other.Orders2", v, sizeof v), 1);
    assert_string_equal(v, "sf=0.001");
    assert_int_equal(loader_loaded(e->c, "lk_Other.People", v, sizeof v), 0);
    /* Exact table names, or a kind: the latest load of that kind. */
    assert_int_equal(loader_loaded(e->c, "public.orders_synced", v, sizeof v), 1);
    assert_string_equal(v, "sf=0.01");
    assert_int_equal(loader_loaded(e->c, "orders", v, sizeof v), 1);
    assert_string_equal(v, "sf=0.001");
    assert_int_equal(loader_loaded(e->c, "users", v, sizeof v), 1);
    assert_string_equal(v, "rows=1000 seed=42");
}

static void test_failed_swap_keeps_old_table(void **state)
{
    env_t *e = need_pg(state);
    char err[512] = "";
    /* A dependent view makes the DROP of the old table fail: nothing may change. */
    exec_ok(e->c, "CREATE VIEW orders_view AS SELECT o_orderkey FROM orders_synced");
    assert_int_equal(loader_load_orders(e->c, NULL, 0.001, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "depend"));
    assert_string_equal(query1(e->c, "SELECT count(*) FROM orders_synced"), "15000");
    assert_string_equal(query1(e->c, "SELECT to_regclass('public.orders_synced__load') IS NULL"),
                        "t");
    char v[64];
    assert_int_equal(loader_loaded(e->c, "public.orders_synced", v, sizeof v), 1);
    assert_string_equal(v, "sf=0.01");
    exec_ok(e->c, "DROP VIEW orders_view");
    /* The connection is usable (idle, not in a failed transaction). */
    assert_int_equal(PQtransactionStatus(e->c), PQTRANS_IDLE);
}

static void test_bad_arguments(void **state)
{
    env_t *e = need_pg(state);
    char err[512] = "", v[64] = "x";
    assert_int_equal(loader_load_orders(e->c, "a.b.c", 0.01, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad table name"));
    assert_int_equal(loader_load_orders(e->c, ".x", 0.01, NULL, NULL, err, sizeof err), -1);
    assert_int_equal(loader_load_orders(e->c, NULL, 0, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "scale factor"));
    assert_int_equal(loader_load_users(e->c, NULL, -1, 1, NULL, NULL, err, sizeof err), -1);
    assert_int_equal(loader_loaded(e->c, "nothing", v, sizeof v), 0);
    assert_string_equal(v, "");
    assert_int_equal(loader_loaded(e->c, "a.b.c", v, sizeof v), -1);
    assert_int_equal(loader_loaded(e->c, "bad\xff", v, sizeof v), -1);
    /* A recorded table dropped, then re-created empty, is not loaded any more. */
    exec_ok(e->c, "DROP TABLE \"lk_Other\".\"Orders2\"");
    assert_int_equal(loader_loaded(e->c, "lk_Other.Orders2", v, sizeof v), 0);
    loader_tables_t t = {"lk_Other.Orders2", "lk_Other.People"};
    assert_int_equal(loader_schema(e->c, &t, err, sizeof err), 0);
    assert_int_equal(loader_loaded(e->c, "lk_Other.Orders2", v, sizeof v), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_load_orders),
        cmocka_unit_test(test_reload_is_atomic),
        cmocka_unit_test(test_load_users),
        cmocka_unit_test(test_load_notes),
        cmocka_unit_test(test_quoted_names),
        cmocka_unit_test(test_failed_swap_keeps_old_table),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
