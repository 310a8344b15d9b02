/*
 * commands - `serve`, `gen` and `check-config`.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lakehouse/lakehouse.h"
#include "lakeapi/credentials.h"
#include "lakeapi/gen.h"

int cli_serve(int argc, char **argv)
{
    config_t cfg;
    if (cli_load_config(&cfg, argc, argv) != 0) return 2;
    int rc = cli_serve_run(&cfg, NULL);
    config_dispose(&cfg);
    return rc;
}

static int cli_stdout_sink(const char *data, size_t len, void *sink_data)
{
    (void)sink_data;
    return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

static int cli_parse_double(const char *s, const char *what, double *out)
{
    char *end;
    *out = strtod(s, &end);
    if (!*s || *end || !(*out > 0)) {
        fprintf(stderr, "lakeapi: invalid %s '%s' (a positive number)\n", what, s);
        return -1;
    }
    return 0;
}

static int cli_parse_i64(const char *s, const char *what, int64_t min, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < min) {
        fprintf(stderr, "lakeapi: invalid %s '%s' (an integer >= %lld)\n", what, s, (long long)min);
        return -1;
    }
    *out = v;
    return 0;
}

static int cli_gen_orders(int argc, char **argv)
{
    const char *sf_s = cli_take_option(&argc, argv, "--sf");
    const char *first_s = cli_take_option(&argc, argv, "--first-row");
    const char *rows_s = cli_take_option(&argc, argv, "--rows");
    double sf = 1;
    int64_t first = 1, rows = -1;
    if ((sf_s && cli_parse_double(sf_s, "--sf", &sf) != 0) ||
        (first_s && cli_parse_i64(first_s, "--first-row", 1, &first) != 0) ||
        (rows_s && cli_parse_i64(rows_s, "--rows", 0, &rows) != 0))
        return 2;
    if (argc > 1) {
        fprintf(stderr, "lakeapi: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    int64_t total = gen_tpch_orders_count(sf);
    if (rows < 0) rows = total - first + 1;
    gen_tpch_t *g = gen_tpch_new(sf);
    if (!g) {
        fprintf(stderr, "lakeapi: cannot generate TPC-H at SF %g\n", sf);
        return 1;
    }
    int rc = gen_tpch_orders(g, first, rows, false, cli_stdout_sink, NULL);
    gen_tpch_free(g);
    if (fflush(stdout) != 0) rc = -1;
    return rc == 0 ? 0 : 1;
}

static int cli_gen_users(int argc, char **argv)
{
    const char *rows_s = cli_take_option(&argc, argv, "--rows");
    const char *seed_s = cli_take_option(&argc, argv, "--seed");
    int64_t rows = 1000000, seed = 42;
    if ((rows_s && cli_parse_i64(rows_s, "--rows", 0, &rows) != 0) ||
        (seed_s && cli_parse_i64(seed_s, "--seed", 0, &seed) != 0))
        return 2;
    int rc = gen_users((uint64_t)seed, 1, rows, false, cli_stdout_sink, NULL);
    if (fflush(stdout) != 0) rc = -1;
    return rc == 0 ? 0 : 1;
}

int cli_gen(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: lakeapi gen orders|users [options]\n");
        return 2;
    }
    if (!strcmp(argv[1], "orders")) return cli_gen_orders(argc - 1, argv + 1);
    if (!strcmp(argv[1], "users")) return cli_gen_users(argc - 1, argv + 1);
    fprintf(stderr, "lakeapi: unknown table '%s' (orders, users)\n", argv[1]);
    return 2;
}

int cli_check_config(int argc, char **argv)
{
    config_t cfg;
    if (cli_load_config(&cfg, argc, argv) != 0) return 2;
    buf_t out;
    buf_init(&out);
    config_describe(&cfg, &out);
    fwrite(out.data, 1, out.len, stdout);
    buf_dispose(&out);
    int rc = 0;
    if (!config_has_database(&cfg)) {
        printf("database: none configured (`lakeapi demo` runs a private one)\n");
    } else {
        char what[512], err[512];
        credentials_describe(&cfg, what, sizeof what);
        printf("credentials: %s\n", what);
        char *password = NULL;
        double expires_at = 0;
        if (credentials_fetch_once(&cfg, &password, &expires_at, err, sizeof err) != 0) {
            printf("credentials: FAILED: %s\n", err);
            rc = 1;
        } else {
            const char **kw, **vals;
            config_conninfo(&cfg, password, &kw, &vals);
            PGconn *c = PQconnectdbParams(kw, vals, 1);
            config_free_conninfo(kw, vals);
            if (PQstatus(c) == CONNECTION_OK) {
                printf("database: reachable (server %d, user %s, database %s, ssl %s)\n",
                       PQserverVersion(c), PQuser(c), PQdb(c), PQsslInUse(c) ? "on" : "off");
            } else {
                printf("database: NOT reachable: %s", PQerrorMessage(c));
                rc = 1;
            }
            PQfinish(c);
        }
        free(password);
    }
    if (lakehouse_configured(&cfg)) {
        char id[160], line[700];
        lakehouse_warehouse_id(&cfg, id, sizeof id);
        if (lakehouse_check_once(&cfg, line, sizeof line) != 0) rc = 1;
        printf("SQL warehouse %s: %s\n", id[0] ? id : "(none)", line);
    } else if (strcmp(cfg.users_backend, "lakehouse") == 0) {
        printf("SQL warehouse: none configured, but USERS_BACKEND=lakehouse needs one\n");
        rc = 1;
    }
    config_dispose(&cfg);
    return rc;
}
