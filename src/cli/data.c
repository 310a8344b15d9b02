/*
 * data - `load` (bulk-load the configured database) and `demo` (a private
 * cluster when none is configured, the demo data loaded once, then serve).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "lakeapi/loader.h"
#include "lakeapi/log.h"

typedef struct data_options {
    double sf;
    int64_t users;
    int64_t seed;
} data_options_t;

static double data_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The progress line on stderr: "\rloading orders: 750000/1500000 rows (50%) 3.1 s". */
static void data_progress(const char *what, int64_t done, int64_t total, void *data)
{
    const double *started = data;
    int pct = total > 0 ? (int)(done * 100 / total) : 100;
    fprintf(stderr, "\rloading %s: %lld/%lld rows (%d%%) %.1f s", what, (long long)done,
            (long long)total, pct, data_now() - *started);
    if (done >= total) fputc('\n', stderr);
    fflush(stderr);
}

static int data_parse_options(int *argc, char **argv, data_options_t *o)
{
    const char *sf = cli_take_option(argc, argv, "--sf");
    const char *rows = cli_take_option(argc, argv, "--rows");
    const char *users = cli_take_option(argc, argv, "--users");
    const char *seed = cli_take_option(argc, argv, "--seed");
    char *end;
    o->sf = 1;
    o->users = 1000000;
    o->seed = 42;
    if (sf && (o->sf = strtod(sf, &end), *end || !(o->sf > 0) || o->sf >= 30000)) {
        fprintf(stderr, "lakeapi: invalid --sf '%s' (0 < SF < 30000)\n", sf);
        return -1;
    }
    if (!users) users = rows;
    if (users && (o->users = strtoll(users, &end, 10), *end || o->users < 0)) {
        fprintf(stderr, "lakeapi: invalid user count '%s'\n", users);
        return -1;
    }
    if (seed && (o->seed = strtoll(seed, &end, 10), *end || o->seed < 0)) {
        fprintf(stderr, "lakeapi: invalid --seed '%s'\n", seed);
        return -1;
    }
    return 0;
}

static PGconn *data_connect(const config_t *cfg)
{
    const char **kw, **vals;
    config_conninfo(cfg, cfg->pg_password, &kw, &vals);
    PGconn *c = PQconnectdbParams(kw, vals, 1);
    config_free_conninfo(kw, vals);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "lakeapi: cannot connect to the database: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Loads what `which` names ("orders", "users", "notes", "all"); force reloads. */
static int data_load(PGconn *c, const config_t *cfg, const data_options_t *o, const char *which,
                     bool force)
{
    char err[1024], have[128], want[128];
    bool all = !strcmp(which, "all");
    loader_tables_t t = {.orders = cfg->orders_table, .users = cfg->users_table};
    if (loader_schema(c, &t, err, sizeof err) != 0) goto fail;
    if (all || !strcmp(which, "orders")) {
        snprintf(want, sizeof want, "sf=%g", o->sf);
        if (force || loader_loaded(c, cfg->orders_table, have, sizeof have) != 1 ||
            strcmp(have, want)) {
            double t0 = data_now();
            if (loader_load_orders(c, cfg->orders_table, o->sf, data_progress, &t0, err,
                                   sizeof err) != 0)
                goto fail;
            log_info("orders: SF %g loaded in %.1f s", o->sf, data_now() - t0);
        } else {
            log_info("orders: SF %g already loaded", o->sf);
        }
    }
    if (all || !strcmp(which, "users")) {
        snprintf(want, sizeof want, "rows=%lld seed=%lld", (long long)o->users, (long long)o->seed);
        if (force || loader_loaded(c, cfg->users_table, have, sizeof have) != 1 ||
            strcmp(have, want)) {
            double t0 = data_now();
            if (loader_load_users(c, cfg->users_table, o->users, (uint64_t)o->seed, data_progress,
                                  &t0, err, sizeof err) != 0)
                goto fail;
            log_info("users: %lld loaded in %.1f s", (long long)o->users, data_now() - t0);
        } else {
            log_info("users: %lld already loaded", (long long)o->users);
        }
    }
    if ((all || !strcmp(which, "notes")) && loader_load_notes(c, err, sizeof err) != 0) goto fail;
    return 0;
fail:
    fprintf(stderr, "lakeapi: load failed: %s\n", err);
    return -1;
}

int cli_load(int argc, char **argv)
{
    data_options_t o;
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: lakeapi load orders|users|notes|all [--sf SF] [--rows N] "
                        "[--seed S]\n");
        return 2;
    }
    const char *which = argv[1];
    if (strcmp(which, "orders") && strcmp(which, "users") && strcmp(which, "notes") &&
        strcmp(which, "all")) {
        fprintf(stderr, "lakeapi: unknown table '%s' (orders, users, notes, all)\n", which);
        return 2;
    }
    argc--, argv++;
    if (data_parse_options(&argc, argv, &o) != 0) return 2;
    config_t cfg;
    if (cli_load_config(&cfg, argc, argv) != 0) return 2;
    int rc = 1;
    PGconn *c = data_connect(&cfg);
    if (c) {
        rc = data_load(c, &cfg, &o, which, true) == 0 ? 0 : 1;
        PQfinish(c);
    }
    config_dispose(&cfg);
    return rc;
}

/* Points the settings at the private cluster. */
static void data_use_cluster(config_t *cfg, const cluster_t *cl)
{
    char port[16];
    snprintf(port, sizeof port, "%d", cluster_port(cl));
    free(cfg->pg_host);
    free(cfg->pg_port);
    free(cfg->pg_user);
    free(cfg->pg_database);
    cfg->pg_host = strdup(cluster_host(cl));
    cfg->pg_port = strdup(port);
    cfg->pg_user = strdup(cluster_user(cl));
    cfg->pg_database = strdup(cluster_dbname(cl));
}

int cli_demo(int argc, char **argv)
{
    data_options_t o;
    if (data_parse_options(&argc, argv, &o) != 0) return 2;
    const char *data_dir = cli_take_option(&argc, argv, "--data-dir");
    config_t cfg;
    if (cli_load_config(&cfg, argc, argv) != 0) return 2;
    cluster_t *cl = NULL;
    int rc = 1;
    if (!config_has_database(&cfg)) {
        char err[1024];
        cluster_options_t co = {.base_dir = data_dir, .port = 0};
        log_info("no database configured: starting a private PostgreSQL cluster");
        if (cluster_start(&co, &cl, err, sizeof err) != 0) {
            fprintf(stderr, "lakeapi: private cluster: %s\n", err);
            goto done;
        }
        if (cluster_notice(cl)) log_info("%s", cluster_notice(cl));
        log_info("private cluster %s in %s", cluster_was_running(cl) ? "reused" : "started",
                 cluster_data_dir(cl));
        data_use_cluster(&cfg, cl);
    }
    PGconn *c = data_connect(&cfg);
    if (!c) goto done;
    int loaded = data_load(c, &cfg, &o, "all", false);
    PQfinish(c);
    if (loaded != 0) goto done;
    rc = cli_serve_run(&cfg, cl); /* stops the cluster when the server ends */
    cluster_free(cl);
    cl = NULL;
done:
    if (cl) {
        char err[512];
        cluster_stop(cl, err, sizeof err);
        cluster_free(cl);
    }
    config_dispose(&cfg);
    return rc;
}
