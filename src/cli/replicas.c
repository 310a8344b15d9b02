/*
 * replicas - builds the read/write split from the settings: one pool per
 * replica (PGHOST_READ's comma list, or DATABASE_READ_URL) behind a route in
 * front of the primary's pool (db/route.c). Nothing is built without them.
 *
 * A replica connects with the primary's settings except where it is: a
 * PGHOST_READ entry replaces the host (and the port, given as host:port);
 * DATABASE_READ_URL replaces the URL and drops PGHOST/PGPORT/PGDATABASE so
 * they cannot override it. The credential provider is the primary's (one
 * Lakebase token serves the read-only endpoint too).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lakeapi/log.h"

struct cli_replicas {
    int n;
    struct {
        config_t cfg; /* a shallow copy of the primary's, with its own location */
        char *host, *port;
    } r[DB_ROUTE_MAX_REPLICAS];
};

static void replicas_conninfo(void *data, const char *password, const char ***kw,
                              const char ***vals)
{
    const config_t *cfg = data;
    config_conninfo(cfg, password, kw, vals);
}

/* "host", "host:port" (a port of digits only; unix socket paths have no colon). */
static void replicas_split_host(const char *entry, size_t n, char **host, char **port)
{
    const char *colon = memrchr(entry, ':', n);
    bool digits = colon && colon + 1 < entry + n;
    for (const char *p = colon ? colon + 1 : entry; digits && p < entry + n; p++)
        digits = *p >= '0' && *p <= '9';
    size_t hn = digits ? (size_t)(colon - entry) : n;
    *host = strndup(entry, hn);
    *port = digits ? strndup(colon + 1, (size_t)(entry + n - colon - 1)) : NULL;
}

static int replicas_add(cli_replicas_t *rs, const config_t *cfg, const char *entry, size_t n)
{
    while (n && (*entry == ' ' || *entry == '\t'))
        entry++, n--;
    while (n && (entry[n - 1] == ' ' || entry[n - 1] == '\t'))
        n--;
    if (n == 0) return 0;
    if (rs->n >= DB_ROUTE_MAX_REPLICAS) return -1;
    int i = rs->n++;
    rs->r[i].cfg = *cfg;
    replicas_split_host(entry, n, &rs->r[i].host, &rs->r[i].port);
    rs->r[i].cfg.pg_host = rs->r[i].host;
    if (rs->r[i].port) rs->r[i].cfg.pg_port = rs->r[i].port;
    return 0;
}

/* A metrics label: the host without quotes, backslashes or control characters. */
static void replicas_label(char *out, size_t n, const cli_replicas_t *rs, int i)
{
    const config_t *c = &rs->r[i].cfg;
    if (rs->r[i].host)
        snprintf(out, n, "%s%s%s", c->pg_host, c->pg_port ? ":" : "", c->pg_port ? c->pg_port : "");
    else
        snprintf(out, n, "replica%d", i + 1);
    for (char *p = out; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < ' ') *p = '_';
}

db_route_t *cli_replicas_build(cli_replicas_t **out, const config_t *cfg, uv_loop_t *loop,
                               const db_pool_config_t *base, db_pool_t *primary, char *err,
                               size_t errlen)
{
    *out = NULL;
    if (!cfg->pg_host_read && !cfg->database_read_url) return NULL;
    cli_replicas_t *rs = calloc(1, sizeof *rs);
    if (!rs) abort();
    if (cfg->database_read_url) {
        rs->r[0].cfg = *cfg;
        rs->r[0].cfg.database_url = cfg->database_read_url;
        rs->r[0].cfg.pg_host = rs->r[0].cfg.pg_port = rs->r[0].cfg.pg_database = NULL;
        rs->n = 1;
    }
    for (const char *p = cfg->pg_host_read; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (replicas_add(rs, cfg, p, n) != 0) {
            snprintf(err, errlen, "PGHOST_READ names more than %d replicas", DB_ROUTE_MAX_REPLICAS);
            cli_replicas_free(rs);
            return NULL;
        }
        p = comma ? comma + 1 : p + n;
    }
    db_route_config_t rc;
    db_route_config_defaults(&rc);
    rc.max_lag_s = cfg->replica_max_lag_s;
    rc.read_after_write_ms = cfg->read_after_write_ms;
    db_route_t *route = db_route_new(primary, &rc);
    if (!route) abort();
    for (int i = 0; i < rs->n; i++) {
        db_pool_config_t pc = *base;
        pc.conninfo = replicas_conninfo;
        pc.conninfo_data = &rs->r[i].cfg;
        char name[64];
        replicas_label(name, sizeof name, rs, i);
        db_route_add_replica(route, db_pool_new(loop, &pc), name);
        log_info("read replica %s (REPLICA_MAX_LAG %g s, READ_AFTER_WRITE_MS %d)", name,
                 rc.max_lag_s, rc.read_after_write_ms);
    }
    *out = rs;
    return route;
}

void cli_replicas_free(cli_replicas_t *rs)
{
    if (!rs) return;
    for (int i = 0; i < rs->n; i++) {
        free(rs->r[i].host);
        free(rs->r[i].port);
    }
    free(rs);
}
