/*
 * test_cluster.c - the private demo cluster: create, reuse while running,
 * stop, restart on the same data, the move out of an unreachable directory
 * (as root), and clear errors. Skipped when no PostgreSQL server is installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <glob.h>
#include <libgen.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lakeapi/cluster.h"

static bool have_server_binaries(void)
{
    glob_t g;
    bool found = glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0;
    globfree(&g);
    return found || system("command -v initdb >/dev/null 2>&1") == 0;
}

static void rm_rf(const char *path)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static PGconn *connect_to(const cluster_t *c)
{
    char port[16];
    snprintf(port, sizeof port, "%d", cluster_port(c));
    const char *keys[] = {"host", "port", "user", "dbname", NULL};
    const char *vals[] = {cluster_host(c), port, cluster_user(c), cluster_dbname(c), NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 0);
    if (PQstatus(pg) != CONNECTION_OK) fail_msg("connect: %s", PQerrorMessage(pg));
    return pg;
}

static void exec_ok(PGconn *pg, const char *sql, const char *want)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    if (want) assert_string_equal(PQgetvalue(r, 0, 0), want);
    PQclear(r);
}

/* Per test: the handles and directories teardown cleans up, even after a failed assert. */
typedef struct fixture {
    char tmp[64];
    char base[96];
    cluster_t *h[3];
} fixture_t;

static int fx_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->tmp, sizeof f->tmp, "/tmp/lakeapi-test-cluster-XXXXXX");
    if (!f || !mkdtemp(f->tmp)) return -1;
    snprintf(f->base, sizeof f->base, "%s/demo", f->tmp);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture_t *f = *state;
    char err[4096], moved[512] = "";
    for (int i = 0; i < 3; i++) {
        if (!f->h[i]) continue;
        if (cluster_stop(f->h[i], err, sizeof err) != 0) fprintf(stderr, "stop: %s\n", err);
        if (cluster_notice(f->h[i])) snprintf(moved, sizeof moved, "%s", cluster_data_dir(f->h[i]));
        cluster_free(f->h[i]);
    }
    if (moved[0]) rm_rf(dirname(moved)); /* a relocated base under /var/tmp */
    rm_rf(f->tmp);
    free(f);
    return 0;
}

static void test_lifecycle(void **state)
{
    fixture_t *f = *state;
    if (!have_server_binaries()) skip();
    char err[4096];
    assert_int_equal(chmod(f->tmp, 0755), 0); /* reachable by the postgres user */
    cluster_options_t opt = {f->base, 5439};

    if (cluster_start(&opt, &f->h[0], err, sizeof err) != 0) fail_msg("start: %s", err);
    cluster_t *a = f->h[0];
    assert_true(cluster_created(a));
    assert_false(cluster_was_running(a));
    assert_null(cluster_notice(a));
    assert_int_equal(cluster_port(a), 5439);
    assert_string_equal(cluster_user(a), "postgres");
    assert_int_equal(strncmp(cluster_data_dir(a), f->base, strlen(f->base)), 0);
    PGconn *pg = connect_to(a);
    exec_ok(pg, "SHOW listen_addresses", ""); /* unix socket only */
    exec_ok(pg, "SHOW wal_level", "minimal");
    exec_ok(pg, "CREATE TABLE kept (x int)", NULL);
    PQfinish(pg);
    /* The socket directory is private to the cluster user. */
    struct stat st;
    assert_int_equal(stat(cluster_host(a), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    if (geteuid() == 0) assert_int_equal(st.st_uid, getpwnam("postgres")->pw_uid);

    /* A second start reuses the running postmaster. */
    if (cluster_start(&opt, &f->h[1], err, sizeof err) != 0) fail_msg("reuse: %s", err);
    cluster_t *b = f->h[1];
    assert_true(cluster_was_running(b));
    assert_false(cluster_created(b));
    assert_string_equal(cluster_host(a), cluster_host(b));
    assert_int_equal(cluster_stop(b, err, sizeof err), 0);
    char port[16];
    snprintf(port, sizeof port, "%d", cluster_port(a));
    const char *keys[] = {"host", "port", NULL};
    const char *vals[] = {cluster_host(a), port, NULL};
    assert_int_equal(PQpingParams(keys, vals, 0), PQPING_NO_RESPONSE);
    assert_int_equal(cluster_stop(a, err, sizeof err), 0); /* already stopped: fine */

    /* A stopped cluster starts again on the same data. */
    if (cluster_start(&opt, &f->h[2], err, sizeof err) != 0) fail_msg("restart: %s", err);
    cluster_t *c = f->h[2];
    assert_false(cluster_was_running(c));
    assert_false(cluster_created(c));
    pg = connect_to(c);
    exec_ok(pg, "SELECT count(*) FROM kept", "0");
    PQfinish(pg);
}

/* As root, a base the postgres user cannot reach moves under /var/tmp. */
static void test_relocates_unreachable_base(void **state)
{
    fixture_t *f = *state;
    if (!have_server_binaries() || geteuid() != 0 || !getpwnam("postgres")) skip();
    char err[4096];
    cluster_options_t opt = {f->base, 5440}; /* f->tmp is mode 0700, root's */
    if (cluster_start(&opt, &f->h[0], err, sizeof err) != 0) fail_msg("start: %s", err);
    cluster_t *c = f->h[0];
    assert_non_null(cluster_notice(c));
    assert_non_null(strstr(cluster_notice(c), f->base));
    assert_int_equal(strncmp(cluster_data_dir(c), "/var/tmp/lakeapi-demo-0-", 24), 0);
    PGconn *pg = connect_to(c);
    exec_ok(pg, "SELECT 1", "1");
    PQfinish(pg);
}

static void test_errors(void **state)
{
    (void)state;
    char err[4096] = "";
    cluster_t *c = (cluster_t *)&err; /* must be reset to NULL on failure */
    cluster_options_t opt = {"/tmp/lakeapi-test-never", 70000};
    assert_int_equal(cluster_start(&opt, &c, err, sizeof err), -1);
    assert_null(c);
    assert_non_null(strstr(err, "out of range"));

    setenv("LAKEAPI_PG_BINDIR", "/nonexistent", 1);
    opt.port = 0;
    assert_int_equal(cluster_start(&opt, &c, err, sizeof err), -1);
    unsetenv("LAKEAPI_PG_BINDIR");
    assert_non_null(strstr(err, "LAKEAPI_PG_BINDIR"));
    assert_int_equal(cluster_stop(NULL, err, sizeof err), 0);
    cluster_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_relocates_unreachable_base, fx_setup, fx_teardown),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
