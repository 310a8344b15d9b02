/*
 * route - the read/write split: one primary pool, up to DB_ROUTE_MAX_REPLICAS
 * replica pools, and the rule that picks one for each statement (see db.h).
 *
 * Owns: the per-query routing record (a freelist), the request context of the
 * statement being issued now, the replica poller and its in/out decisions,
 * the post-commit LSN reads and the per-instance table of recent writers.
 *
 * The request context is ambient rather than a parameter so that no caller of
 * db_pool_query() changes: the web layer sets it before a handler runs, every
 * query copies it, and the route sets it again around the query's callback so
 * follow-up statements issued there inherit it. It holds plain values only, so
 * a stale one (a background statement issued in the same loop turn) can only
 * send a read to the primary or record a harmless extra writer.
 *
 * The LSN of a write: pg_current_wal_insert_lsn() read on the primary after
 * the write's batch has committed (its callback comes only after the Sync), so
 * it is at or past the end of the commit record; a replica whose
 * pg_last_wal_replay_lsn() has reached it has replayed the commit. Reading it
 * inside the write's own transaction would give a position before the commit
 * record. Writes that complete together share one LSN read; the write's result
 * is copied (PQcopyResult) to outlive its callback until the LSN arrives.
 *
 * Streamed reads (db_stream_open, exports) pick their pool the same way when
 * they open; a stream that has started on a replica cannot move, so a replica
 * failing mid-export ends that export with the error.
 *
 * Lag: each poll reads the primary's insert LSN and every replica's replay LSN.
 * A replica's lag is the age of the oldest primary sample it has not replayed
 * (0 when it has replayed the newest), measured on our own clock - unlike
 * now() - pg_last_xact_replay_timestamp() it does not grow while the primary
 * is idle. Past the sample window it falls back to the replay timestamp.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pool_internal.h"

#define ROUTE_RECENT  1024 /* slots of the recent-writers table (power of two) */
#define ROUTE_PROBE   4
#define ROUTE_SAMPLES 128 /* primary LSN samples kept for the lag estimate */

typedef struct route_q {
    struct route_q *next; /* freelist, or the LSN wait lists */
    db_route_t *r;
    int stmt, nparams;
    const char *const *values;
    const db_session_t *session; /* borrowed like values */
    char *sql; /* a run-time statement (stmt_cache.c) sent to a replica: its text, owned */
    db_result_fn cb;
    void *data;
    db_route_ctx_t ctx;
    int target;     /* -1 primary, else the replica index */
    PGresult *copy; /* a committed write's rows, awaiting its LSN */
    double wait_ms;
} route_q_t;

typedef struct route_replica {
    db_pool_t *pool;
    char name[64];
    bool in_service, polling;
    uint64_t poll_sent_ns;
    uint64_t replay_lsn;
    double lag_s;
    uint64_t lag_bytes;
    uint64_t queries, fallbacks, outages;
    char why[128];
} route_replica_t;

struct db_route {
    db_pool_t *primary;
    db_route_config_t cfg;
    route_replica_t reps[DB_ROUTE_MAX_REPLICAS];
    int nreps, next_rep;
    int stmt_lsn;    /* primary: SELECT pg_current_wal_insert_lsn() */
    int stmt_status; /* replicas: replay position and age */
    int napp_stmts;  /* statements copied from the primary */
    db_route_ctx_t ambient;
    bool has_ambient, started, closing, primary_polling;
    route_q_t *free_qs;
    route_q_t *lsn_waiting, **lsn_waiting_tail; /* committed, no LSN read sent yet */
    route_q_t *lsn_batch;                       /* waiting on the LSN read in flight */
    bool lsn_inflight;
    struct {
        uint64_t lsn, at_ns;
    } samples[ROUTE_SAMPLES];
    int nsamples, sample_head; /* ring: sample_head is the next slot */
    struct {
        uint64_t key, lsn, until_ns;
    } recent[ROUTE_RECENT];
    uv_timer_t poll;
    uv_check_t clear; /* drops the ambient context after each loop turn */
    int handles_open, pools_open;
    void (*close_done)(void *data);
    void *close_data;
    uint64_t primary_queries, primary_request, primary_min_lsn, primary_no_replica;
    uint64_t lsn_reads, lsn_failures;
};

static const char route_status_sql[] =
    "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_lsn() END::text, "
    "CASE WHEN pg_is_in_recovery() THEN "
    "COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) ELSE 0 END";

/* ---- LSN text ---- */

int db_lsn_parse(const char *s, size_t len, uint64_t *out)
{
    uint64_t part[2] = {0, 0};
    int k = 0, digits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (c == '/' && k == 0 && digits > 0) {
            k = 1;
            digits = 0;
            continue;
        }
        if (v < 0 || ++digits > 8) return -1;
        part[k] = part[k] << 4 | (uint64_t)v;
    }
    if (k != 1 || digits == 0) return -1;
    *out = part[0] << 32 | part[1];
    return 0;
}

void db_lsn_format(uint64_t lsn, char *out, size_t n)
{
    snprintf(out, n, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
}

static uint64_t route_result_lsn(const db_result_t *res)
{
    uint64_t lsn = 0;
    if (res->status != DB_OK || !res->res || PQntuples(res->res) < 1) return 0;
    const char *v = PQgetvalue(res->res, 0, 0);
    if (db_lsn_parse(v, strlen(v), &lsn) != 0) return 0;
    return lsn;
}

/* ---- recent writers (READ_AFTER_WRITE_MS) ---- */

static void route_recent_note(db_route_t *r, uint64_t key, uint64_t lsn, uint64_t now)
{
    if (!key || r->cfg.read_after_write_ms <= 0) return;
    size_t base = (size_t)(key * 0x9E3779B97F4A7C15ull >> 32) & (ROUTE_RECENT - 1), pick = base;
    for (size_t i = 0; i < ROUTE_PROBE; i++) {
        size_t s = (base + i) & (ROUTE_RECENT - 1);
        if (r->recent[s].key == key) {
            pick = s;
            if (r->recent[s].until_ns > now && r->recent[s].lsn > lsn) lsn = r->recent[s].lsn;
            break;
        }
        if (r->recent[s].until_ns < r->recent[pick].until_ns) pick = s; /* oldest or empty */
    }
    r->recent[pick].key = key;
    r->recent[pick].lsn = lsn;
    r->recent[pick].until_ns = now + (uint64_t)r->cfg.read_after_write_ms * 1000000u;
}

static uint64_t route_recent_lsn(const db_route_t *r, uint64_t key, uint64_t now)
{
    if (!key || r->cfg.read_after_write_ms <= 0) return 0;
    size_t base = (size_t)(key * 0x9E3779B97F4A7C15ull >> 32) & (ROUTE_RECENT - 1);
    for (size_t i = 0; i < ROUTE_PROBE; i++) {
        size_t s = (base + i) & (ROUTE_RECENT - 1);
        if (r->recent[s].key == key) return r->recent[s].until_ns > now ? r->recent[s].lsn : 0;
    }
    return 0;
}

/* ---- routing records ---- */

static route_q_t *route_q_alloc(db_route_t *r)
{
    route_q_t *q = r->free_qs;
    if (q)
        r->free_qs = q->next;
    else if (!(q = malloc(sizeof *q)))
        abort();
    memset(q, 0, sizeof *q);
    q->r = r;
    return q;
}

static void route_q_free(db_route_t *r, route_q_t *q)
{
    free(q->sql);
    q->next = r->free_qs;
    r->free_qs = q;
}

/* Calls the caller's callback with the query's context as the ambient one, then frees q. */
static void route_deliver(route_q_t *q, const db_result_t *res)
{
    db_route_t *r = q->r;
    db_route_ctx_t saved = r->ambient;
    bool had = r->has_ambient;
    r->ambient = q->ctx;
    r->has_ambient = true;
    q->cb(res, q->data);
    r->ambient = saved;
    r->has_ambient = had;
    route_q_free(r, q);
}

/* ---- replicas in and out of service ---- */

static void route_take_out(route_replica_t *rep, const char *why)
{
    if (rep->in_service) rep->outages++;
    rep->in_service = false;
    snprintf(rep->why, sizeof rep->why, "%s", why);
}

/* A read that failed on a replica because of the replica, not the statement. */
static bool route_replica_fault(const db_result_t *res)
{
    if (res->status == DB_ERR_UNAVAILABLE || res->status == DB_ERR_POOL_TIMEOUT ||
        res->status == DB_ERR_CREDENTIALS)
        return true;
    const char *s = res->sqlstate;
    return !s || strncmp(s, "57", 2) == 0 || strncmp(s, "08", 2) == 0;
}

/* Which target a read of ctx goes to: a replica index, or -1 for the primary. */
static int route_pick(db_route_t *r, const db_route_ctx_t *ctx)
{
    if (ctx->primary) {
        r->primary_request++;
        return -1;
    }
    uint64_t now = db_pool_now_ns(), need = ctx->min_lsn;
    for (int i = 0; i < 2; i++) {
        uint64_t l = route_recent_lsn(r, ctx->who[i], now);
        if (l > need) need = l;
    }
    bool any = false;
    for (int k = 0; k < r->nreps; k++) {
        int i = (r->next_rep + k) % r->nreps;
        route_replica_t *rep = &r->reps[i];
        if (!rep->in_service) continue;
        any = true;
        if (rep->replay_lsn < need) continue;
        r->next_rep = (i + 1) % r->nreps;
        return i;
    }
    if (any)
        r->primary_min_lsn++;
    else
        r->primary_no_replica++;
    return -1;
}

static void route_read_done(const db_result_t *res, void *data);
static void route_write_done(const db_result_t *res, void *data);

/*
 * Sends q to its target. A run-time statement's id is a slot of the primary's
 * cache: on a replica the same text takes a slot of the replica's cache (and
 * the primary's slot is let go); back on the primary it takes one again.
 */
static void route_send(route_q_t *q, db_result_fn fn)
{
    db_route_t *r = q->r;
    db_pool_t *p = q->target < 0 ? r->primary : r->reps[q->target].pool;
    int stmt = q->stmt;
    if (q->sql) {
        db_stmt_kind_t kind = DB_STMT_READ;
        stmt = db_pool_stmt_for_sql(p, q->sql, q->nparams, kind);
        if (q->target < 0) {
            q->stmt = stmt;
            free(q->sql);
            q->sql = NULL;
        }
    } else if (q->target >= 0 && q->stmt >= r->napp_stmts) {
        q->sql = strdup(r->primary->stmts[q->stmt].sql);
        if (!q->sql) abort();
        db_stmt_release(r->primary, q->stmt);
        stmt = db_pool_stmt_for_sql(p, q->sql, q->nparams, DB_STMT_READ);
    }
    if (q->target < 0)
        r->primary_queries++;
    else
        r->reps[q->target].queries++;
    db_pool_enqueue(p, q->session, stmt, q->nparams, q->values, fn, q);
}

void db_route_query(db_route_t *r, const db_session_t *s, int stmt, int nparams,
                    const char *const *values, db_result_fn cb, void *data)
{
    route_q_t *q = route_q_alloc(r);
    q->session = s;
    q->stmt = stmt;
    q->nparams = nparams;
    q->values = values;
    q->cb = cb;
    q->data = data;
    if (r->has_ambient) q->ctx = r->ambient;
    /* Registered before the start, or made at run time (stmt_cache.c): both replicate. */
    bool app_stmt = stmt >= 0 && stmt < r->primary->nstmts &&
                    (stmt < r->napp_stmts || r->primary->stmts[stmt].dynamic);
    if (app_stmt && r->primary->stmts[stmt].kind == DB_STMT_WRITE) {
        q->target = -1;
        route_send(q, route_write_done);
        return;
    }
    /* Before db_route_start (or a statement the replicas lack): the primary. */
    q->target = app_stmt && !r->closing ? route_pick(r, &q->ctx) : -1;
    route_send(q, route_read_done);
}

db_pool_t *db_route_stream_pool(db_route_t *r)
{
    db_route_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    if (r->has_ambient) ctx = r->ambient;
    int t = r->started && !r->closing ? route_pick(r, &ctx) : -1;
    if (t < 0) {
        r->primary_queries++;
        return r->primary;
    }
    r->reps[t].queries++;
    return r->reps[t].pool;
}

static void route_read_done(const db_result_t *res, void *data)
{
    route_q_t *q = data;
    db_route_t *r = q->r;
    bool statement_error = res->status == DB_ERR_TIMEOUT || res->status == DB_ERR_BAD_INPUT ||
                           res->status == DB_ERR_CONFLICT;
    if (q->target >= 0 && res->status != DB_OK && !statement_error && !r->closing) {
        /* Reads are safe to run again: the primary answers instead of a failed replica. */
        route_replica_t *rep = &r->reps[q->target];
        rep->fallbacks++;
        if (route_replica_fault(res)) route_take_out(rep, db_status_name(res->status));
        q->target = -1;
        route_send(q, route_read_done);
        return;
    }
    route_deliver(q, res);
}

/* ---- the LSN of committed writes ---- */

static void route_lsn_done(const db_result_t *res, void *data);

static void route_lsn_kick(db_route_t *r)
{
    if (r->lsn_inflight || !r->lsn_waiting) return;
    r->lsn_batch = r->lsn_waiting;
    r->lsn_waiting = NULL;
    r->lsn_waiting_tail = &r->lsn_waiting;
    r->lsn_inflight = true;
    r->lsn_reads++;
    db_pool_enqueue(r->primary, NULL, r->stmt_lsn, 0, NULL, route_lsn_done, r);
}

static void route_write_done(const db_result_t *res, void *data)
{
    route_q_t *q = data;
    db_route_t *r = q->r;
    if (res->status != DB_OK) {
        route_deliver(q, res);
        return;
    }
    q->copy = res->res ? PQcopyResult(res->res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES) : NULL;
    if (res->res && !q->copy) abort();
    q->wait_ms = res->wait_ms;
    q->next = NULL;
    *r->lsn_waiting_tail = q;
    r->lsn_waiting_tail = &q->next;
    route_lsn_kick(r);
}

static void route_lsn_done(const db_result_t *res, void *data)
{
    db_route_t *r = data;
    uint64_t lsn = route_result_lsn(res), now = db_pool_now_ns();
    if (!lsn) r->lsn_failures++;
    route_q_t *q = r->lsn_batch;
    r->lsn_batch = NULL;
    r->lsn_inflight = false;
    for (route_q_t *n; q; q = n) {
        n = q->next;
        /* Without an LSN the writer's reads stay on the primary for the window. */
        for (int i = 0; i < 2; i++)
            route_recent_note(r, q->ctx.who[i], lsn ? lsn : UINT64_MAX, now);
        db_result_t out = {.status = DB_OK, .res = q->copy, .wait_ms = q->wait_ms, .lsn = lsn};
        PGresult *copy = q->copy;
        route_deliver(q, &out);
        if (copy) PQclear(copy);
    }
    route_lsn_kick(r);
}

/* ---- the poller ---- */

static double route_sample_lag(const db_route_t *r, uint64_t replay, uint64_t now, bool *beyond)
{
    *beyond = false;
    if (r->nsamples == 0) return 0;
    int newest = (r->sample_head + ROUTE_SAMPLES - 1) % ROUTE_SAMPLES;
    if (replay >= r->samples[newest].lsn) return 0;
    for (int k = r->nsamples; k-- > 0;) {
        int i = (r->sample_head + ROUTE_SAMPLES - 1 - k) % ROUTE_SAMPLES; /* oldest first */
        if (r->samples[i].lsn > replay) {
            *beyond = (k == r->nsamples - 1 && r->nsamples == ROUTE_SAMPLES);
            return (double)(now - r->samples[i].at_ns) / 1e9;
        }
    }
    return 0;
}

static void route_primary_lsn_done(const db_result_t *res, void *data)
{
    db_route_t *r = data;
    r->primary_polling = false;
    uint64_t lsn = route_result_lsn(res);
    if (!lsn) return;
    r->samples[r->sample_head].lsn = lsn;
    r->samples[r->sample_head].at_ns = db_pool_now_ns();
    r->sample_head = (r->sample_head + 1) % ROUTE_SAMPLES;
    if (r->nsamples < ROUTE_SAMPLES) r->nsamples++;
}

typedef struct route_poll_ref {
    db_route_t *r;
    int i;
} route_poll_ref_t;

static void route_replica_status(db_route_t *r, int i, const db_result_t *res)
{
    route_replica_t *rep = &r->reps[i];
    rep->polling = false;
    if (r->closing) return;
    if (res->status != DB_OK || !res->res || PQntuples(res->res) < 1) {
        route_take_out(rep, res->status != DB_OK ? db_status_name(res->status) : "no status");
        return;
    }
    const char *v = PQgetvalue(res->res, 0, 0);
    uint64_t replay = 0;
    if (db_lsn_parse(v, strlen(v), &replay) != 0) {
        route_take_out(rep, "no replay position");
        return;
    }
    uint64_t now = db_pool_now_ns();
    bool beyond;
    double lag = route_sample_lag(r, replay, now, &beyond);
    if (beyond) {
        double ts_age = strtod(PQgetvalue(res->res, 0, 1), NULL);
        if (ts_age > lag) lag = ts_age;
    }
    int newest = (r->sample_head + ROUTE_SAMPLES - 1) % ROUTE_SAMPLES;
    uint64_t primary = r->nsamples ? r->samples[newest].lsn : replay;
    rep->replay_lsn = replay;
    rep->lag_s = lag;
    rep->lag_bytes = primary > replay ? primary - replay : 0;
    if (lag > r->cfg.max_lag_s) {
        char why[128];
        snprintf(why, sizeof why, "lag %.1f s > REPLICA_MAX_LAG %.1f s", lag, r->cfg.max_lag_s);
        route_take_out(rep, why);
        return;
    }
    rep->in_service = true;
    rep->why[0] = '\0';
}

static void route_status_cb(const db_result_t *res, void *data)
{
    route_poll_ref_t *ref = data;
    route_replica_status(ref->r, ref->i, res);
    free(ref);
}

static void route_poll_replica(db_route_t *r, route_replica_t *rep, uint64_t now)
{
    uint64_t stuck_ns = (uint64_t)r->cfg.poll_ms * 5000000u;
    if (stuck_ns < 1000000000u) stuck_ns = 1000000000u;
    if (rep->polling) {
        if (now - rep->poll_sent_ns > stuck_ns) route_take_out(rep, "status poll not answered");
        return;
    }
    route_poll_ref_t *ref = malloc(sizeof *ref);
    if (!ref) abort();
    ref->r = r;
    ref->i = (int)(rep - r->reps);
    rep->polling = true;
    rep->poll_sent_ns = now;
    db_pool_enqueue(rep->pool, NULL, r->stmt_status, 0, NULL, route_status_cb, ref);
}

static void route_on_poll(uv_timer_t *t)
{
    db_route_t *r = t->data;
    if (r->closing) return;
    uint64_t now = db_pool_now_ns();
    if (!r->primary_polling) {
        r->primary_polling = true;
        db_pool_enqueue(r->primary, NULL, r->stmt_lsn, 0, NULL, route_primary_lsn_done, r);
    }
    for (int i = 0; i < r->nreps; i++)
        route_poll_replica(r, &r->reps[i], now);
}

static void route_on_check(uv_check_t *h)
{
    db_route_t *r = h->data;
    r->has_ambient = false;
}

/* ---- life cycle ---- */

void db_route_config_defaults(db_route_config_t *cfg)
{
    cfg->max_lag_s = 10;
    cfg->read_after_write_ms = 1000;
    cfg->poll_ms = 200;
}

db_route_t *db_route_new(db_pool_t *primary, const db_route_config_t *cfg)
{
    db_route_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->primary = primary;
    r->cfg = *cfg;
    if (r->cfg.poll_ms <= 0) r->cfg.poll_ms = 200;
    r->lsn_waiting_tail = &r->lsn_waiting;
    uv_timer_init(primary->loop, &r->poll);
    uv_check_init(primary->loop, &r->clear);
    r->poll.data = r->clear.data = r;
    r->handles_open = 2;
    primary->route = r;
    return r;
}

int db_route_add_replica(db_route_t *r, db_pool_t *replica, const char *name)
{
    if (r->nreps >= DB_ROUTE_MAX_REPLICAS || r->started) return -1;
    route_replica_t *rep = &r->reps[r->nreps++];
    rep->pool = replica;
    snprintf(rep->name, sizeof rep->name, "%s", name);
    snprintf(rep->why, sizeof rep->why, "not polled yet");
    return 0;
}

void db_route_start(db_route_t *r)
{
    db_pool_t *p = r->primary;
    r->napp_stmts = p->nstmts;
    for (int i = 0; i < r->nreps; i++) {
        db_pool_t *rp = r->reps[i].pool;
        for (int s = 0; s < p->nstmts; s++)
            db_pool_add_statement(rp, p->stmts[s].sql, p->stmts[s].nparams, p->stmts[s].kind);
        /* The same ids: sessions (session.c) run on a replica as on the primary. */
        rp->session_stmt = p->session_stmt;
        rp->pre_request_stmt = p->pre_request_stmt;
        r->stmt_status = db_pool_add_statement(rp, route_status_sql, 0, DB_STMT_READ);
        db_pool_start(rp);
    }
    r->stmt_lsn =
        db_pool_add_statement(p, "SELECT pg_current_wal_insert_lsn()::text", 0, DB_STMT_READ);
    r->started = true;
    uv_timer_start(&r->poll, route_on_poll, 0, (uint64_t)r->cfg.poll_ms);
    uv_check_start(&r->clear, route_on_check);
}

db_route_t *db_pool_route(const db_pool_t *p)
{
    return p ? p->route : NULL;
}

void db_route_set_ctx(db_route_t *r, const db_route_ctx_t *ctx)
{
    r->has_ambient = ctx != NULL;
    if (ctx) r->ambient = *ctx;
}

void db_route_stats(const db_route_t *r, db_route_stats_t *out)
{
    memset(out, 0, sizeof *out);
    db_route_target_stats_t *t = &out->targets[0];
    snprintf(t->name, sizeof t->name, "primary");
    t->primary = true;
    db_pool_stats(r->primary, &t->pool);
    t->in_service = t->pool.healthy;
    t->queries = r->primary_queries;
    for (int i = 0; i < r->nreps; i++) {
        const route_replica_t *rep = &r->reps[i];
        t = &out->targets[1 + i];
        snprintf(t->name, sizeof t->name, "%s", rep->name);
        t->in_service = rep->in_service;
        t->lag_s = rep->lag_s;
        t->lag_bytes = rep->lag_bytes;
        t->queries = rep->queries;
        t->fallbacks = rep->fallbacks;
        t->outages = rep->outages;
        snprintf(t->why, sizeof t->why, "%s", rep->why);
        db_pool_stats(rep->pool, &t->pool);
    }
    out->ntargets = 1 + r->nreps;
    out->primary_request = r->primary_request;
    out->primary_min_lsn = r->primary_min_lsn;
    out->primary_no_replica = r->primary_no_replica;
    out->lsn_reads = r->lsn_reads;
    out->lsn_failures = r->lsn_failures;
}

static void route_maybe_done(db_route_t *r)
{
    if (r->handles_open == 0 && r->pools_open == 0 && r->close_done) {
        void (*done)(void *) = r->close_done;
        r->close_done = NULL;
        done(r->close_data);
    }
}

static void route_handle_closed(uv_handle_t *h)
{
    db_route_t *r = h->data;
    r->handles_open--;
    route_maybe_done(r);
}

static void route_pool_closed(void *data)
{
    db_route_t *r = data;
    r->pools_open--;
    route_maybe_done(r);
}

void db_route_close(db_route_t *r, void (*done)(void *data), void *data)
{
    r->closing = true;
    r->close_done = done;
    r->close_data = data;
    r->pools_open = r->nreps;
    uv_timer_stop(&r->poll);
    uv_check_stop(&r->clear);
    uv_close((uv_handle_t *)&r->poll, route_handle_closed);
    uv_close((uv_handle_t *)&r->clear, route_handle_closed);
    for (int i = 0; i < r->nreps; i++)
        db_pool_close(r->reps[i].pool, route_pool_closed, r);
}

void db_route_free(db_route_t *r)
{
    if (!r) return;
    for (int i = 0; i < r->nreps; i++)
        db_pool_free(r->reps[i].pool);
    for (route_q_t *q = r->free_qs, *n; q; q = n) {
        n = q->next;
        free(q);
    }
    if (r->primary) r->primary->route = NULL;
    free(r);
}
