/*
 * split - the web side of the read/write split (the routing is db/route.c).
 *
 * Owns: turning a request into the route's context before its handler runs
 * (the pre-route hook), the X-Lakeapi-Min-LSN response header of a committed
 * write, and the per-target metric families.
 *
 * The context: GET and HEAD requests may read from a replica; any other
 * method keeps every statement on the primary (a read inside a POST may feed
 * its write). X-Lakeapi-Min-LSN, when sent, is the position a replica must
 * have replayed. The identity key (Authorization, else Databricks Apps'
 * X-Forwarded-Email / X-Forwarded-User) and the connection key let the route
 * apply READ_AFTER_WRITE_MS to clients that do not echo the header. Keys are
 * 64-bit hashes: a collision can only send a read to the primary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"

#define SPLIT_LSN_HEADER "X-Lakeapi-Min-LSN"

struct web_split {
    db_route_t *route;
};

web_split_t *web_split_new(db_pool_t *p)
{
    db_route_t *route = db_pool_route(p);
    if (!route) return NULL;
    web_split_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->route = route;
    return s;
}

void web_split_free(web_split_t *s)
{
    free(s);
}

static uint64_t split_hash(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t split_identity(http_exchange_t *ex)
{
    static const char *const names[] = {"authorization", "x-forwarded-email", "x-forwarded-user"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = 0;
        const char *v = http_exchange_header(ex, names[i], &n);
        if (v && n) {
            uint64_t h = split_hash(0xcbf29ce484222325ull, names[i], strlen(names[i]));
            h = split_hash(h, v, n);
            return h ? h : 1;
        }
    }
    return 0;
}

bool web_split_pre_route(http_exchange_t *ex, void *data)
{
    web_split_t *s = data;
    db_route_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    http_method_t m = http_exchange_method(ex);
    ctx.primary = !(m == HTTP_GET || m == HTTP_HEAD);
    size_t n = 0;
    const char *lsn = http_exchange_header(ex, SPLIT_LSN_HEADER, &n);
    if (lsn && db_lsn_parse(lsn, n, &ctx.min_lsn) != 0) {
        db_route_set_ctx(s->route, NULL);
        web_send_detail(ex, 400,
                        "Malformed " SPLIT_LSN_HEADER " (expected a WAL position "
                        "such as 16/B374D848, as returned after a write)");
        return true;
    }
    ctx.who[0] = split_identity(ex);
    ctx.who[1] = (uint64_t)http_exchange_connection_key(ex) * 0x9E3779B97F4A7C15ull | 1;
    db_route_set_ctx(s->route, &ctx);
    return false;
}

void web_split_note_lsn(http_exchange_t *ex, uint64_t lsn)
{
    char text[24];
    db_lsn_format(lsn, text, sizeof text);
    http_exchange_add_header(ex, SPLIT_LSN_HEADER, text);
}

/* ---- metrics ---- */

static void split_family(buf_t *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void split_target_values(buf_t *b, const db_route_stats_t *st, const char *name, size_t off,
                                bool is_double)
{
    for (int i = 0; i < st->ntargets; i++) {
        const db_route_target_stats_t *t = &st->targets[i];
        const char *p = (const char *)t + off;
        double v = is_double ? *(const double *)p : (double)*(const uint64_t *)p;
        buf_printf(b, "%s{target=\"%s\",role=\"%s\"} %.17g\n", name, t->name,
                   t->primary ? "primary" : "replica", v);
    }
}

void web_split_render_metrics(buf_t *b, void *data)
{
    web_split_t *s = data;
    db_route_stats_t st;
    db_route_stats(s->route, &st);
    split_family(b, "lakeapi_db_target_up", "gauge",
                 "1 when the target takes reads (replicas: answering and within "
                 "REPLICA_MAX_LAG; primary: a connection works).");
    for (int i = 0; i < st.ntargets; i++) {
        const db_route_target_stats_t *t = &st.targets[i];
        buf_printf(b, "lakeapi_db_target_up{target=\"%s\",role=\"%s\"} %d\n", t->name,
                   t->primary ? "primary" : "replica", t->in_service ? 1 : 0);
    }
    static const struct {
        const char *name, *type, *help;
        size_t off;
        bool is_double;
    } fams[] = {
        {"lakeapi_db_target_queries_total", "counter", "Statements sent to each target.",
         offsetof(db_route_target_stats_t, queries), false},
        {"lakeapi_db_target_fallbacks_total", "counter",
         "Reads re-run on the primary after this replica failed them.",
         offsetof(db_route_target_stats_t, fallbacks), false},
        {"lakeapi_db_target_outages_total", "counter", "Times the target was taken out of service.",
         offsetof(db_route_target_stats_t, outages), false},
        {"lakeapi_db_replica_lag_seconds", "gauge",
         "How long the primary's WAL has waited to be replayed (polled).",
         offsetof(db_route_target_stats_t, lag_s), true},
        {"lakeapi_db_replica_lag_bytes", "gauge", "Primary WAL position minus replay position.",
         offsetof(db_route_target_stats_t, lag_bytes), false},
    };
    for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
        split_family(b, fams[f].name, fams[f].type, fams[f].help);
        split_target_values(b, &st, fams[f].name, fams[f].off, fams[f].is_double);
    }
    split_family(b, "lakeapi_db_target_connections", "gauge",
                 "Open connections of each target's pool.");
    for (int i = 0; i < st.ntargets; i++)
        buf_printf(b, "lakeapi_db_target_connections{target=\"%s\"} %d\n", st.targets[i].name,
                   st.targets[i].pool.total);
    split_family(b, "lakeapi_db_primary_reads_total", "counter",
                 "Reads kept on the primary, by reason (request: not GET/HEAD; min_lsn: no "
                 "replica had replayed the client's last write; no_replica: none in service).");
    buf_printf(b, "lakeapi_db_primary_reads_total{reason=\"request\"} %llu\n",
               (unsigned long long)st.primary_request);
    buf_printf(b, "lakeapi_db_primary_reads_total{reason=\"min_lsn\"} %llu\n",
               (unsigned long long)st.primary_min_lsn);
    buf_printf(b, "lakeapi_db_primary_reads_total{reason=\"no_replica\"} %llu\n",
               (unsigned long long)st.primary_no_replica);
    split_family(b, "lakeapi_db_write_lsn_reads_total", "counter",
                 "Post-commit WAL position reads on the primary (writes that completed "
                 "together share one).");
    buf_printf(b, "lakeapi_db_write_lsn_reads_total %llu\n", (unsigned long long)st.lsn_reads);
    split_family(b, "lakeapi_db_write_lsn_failures_total", "counter",
                 "Post-commit WAL position reads that failed (writes answered without "
                 "X-Lakeapi-Min-LSN).");
    buf_printf(b, "lakeapi_db_write_lsn_failures_total %llu\n",
               (unsigned long long)st.lsn_failures);
}
