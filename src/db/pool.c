/*
 * pool - the queue of waiting queries and the set of connections serving it.
 *
 * db_pool_query() only appends to the queue. A uv_prepare handle, which runs
 * once per loop iteration after every callback of that iteration, hands the
 * queue out to connections as pipelined batches: the queries of all requests
 * that arrived together leave in one write and share one round trip.
 *
 * Sizing follows SQLAlchemy's vocabulary: `size` connections are kept,
 * `max_overflow` more are opened while every connection is saturated and
 * closed again once idle. A ticker enforces the acquire timeout, recycles
 * connections past their lifetime (or their token's), and paces reconnects.
 * While the database is down (the last connect failed and nothing works),
 * queries fail at once instead of piling up: the server answers 503 within
 * the iteration and keeps trying to reconnect in the background.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/pool_internal.h"

#define POOL_TICK_MS          50
#define POOL_BACKOFF_MIN_MS   50
#define POOL_BACKOFF_MAX_MS   500
#define POOL_OVERFLOW_IDLE_NS (5ULL * 1000000000ULL)
#define POOL_TOKEN_MARGIN_S   120.0                /* recycle this long before a token expires */
#define POOL_STALL_NS         (50ULL * 1000000ULL) /* a batch out longer is "slow": may overflow */
#define POOL_MIN_SPLIT        8 /* queries a connection gets before the next one is used */
#define POOL_ANSWER_GRACE_NS  (1000ULL * 1000000ULL) /* past statement_timeout: unresponsive */

uint64_t db_pool_now_ns(void)
{
    return uv_hrtime();
}

void db_pool_config_defaults(db_pool_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->size = 10;
    cfg->max_overflow = 20;
    cfg->acquire_timeout_s = 10;
    cfg->command_timeout_s = 30;
    cfg->lifetime_s = 3600;
    cfg->pipeline_depth = 32;
}

db_status_t db_status_from_sqlstate(const char *s)
{
    if (!s) return DB_ERR_INTERNAL;
    if (strcmp(s, "57014") == 0) return DB_ERR_TIMEOUT;
    if (strcmp(s, "23505") == 0) return DB_ERR_CONFLICT;
    if (strcmp(s, "23514") == 0 || strncmp(s, "22", 2) == 0) return DB_ERR_BAD_INPUT;
    if (strcmp(s, "28P01") == 0) return DB_ERR_CREDENTIALS;
    if (strcmp(s, "42501") == 0) return DB_ERR_FORBIDDEN;
    /* 08: connection exception; 57P01-03: admin shutdown, crash, cannot connect now */
    if (strncmp(s, "08", 2) == 0 || strncmp(s, "57P0", 4) == 0) return DB_ERR_UNAVAILABLE;
    /* 53: disk full, out of memory, too many connections; 58030: I/O error. Transient. */
    if (strncmp(s, "53", 2) == 0 || strcmp(s, "58030") == 0) return DB_ERR_UNAVAILABLE;
    return DB_ERR_INTERNAL;
}

const char *db_status_name(db_status_t s)
{
    static const char *names[] = {"ok",          "unavailable", "pool_timeout",
                                  "timeout",     "conflict",    "bad_input",
                                  "credentials", "internal",    "forbidden"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

/* ---- the queue ---- */

db_query_t *db_pool_query_alloc(db_pool_t *p)
{
    db_query_t *q = p->free_queries;
    if (q)
        p->free_queries = q->next;
    else if (!(q = malloc(sizeof *q)))
        abort();
    memset(q, 0, sizeof *q);
    return q;
}

void db_pool_query_free(db_pool_t *p, db_query_t *q)
{
    q->next = p->free_queries;
    p->free_queries = q;
}

static void pool_enqueue_tail(db_pool_t *p, db_query_t *q)
{
    q->next = NULL;
    if (p->q_tail)
        p->q_tail->next = q;
    else
        p->q_head = q;
    p->q_tail = q;
    p->waiting++;
}

static db_query_t *pool_dequeue(db_pool_t *p)
{
    db_query_t *q = p->q_head;
    if (!q) return NULL;
    p->q_head = q->next;
    if (!p->q_head) p->q_tail = NULL;
    p->waiting--;
    q->next = NULL;
    return q;
}

static void pool_dispatch(uv_prepare_t *h);

void db_pool_wake(db_pool_t *p)
{
    if (!p->closing && !uv_is_active((uv_handle_t *)&p->dispatcher))
        uv_prepare_start(&p->dispatcher, pool_dispatch);
}

static void pool_fail_all_queued(db_pool_t *p, db_status_t st, const char *why);

/*
 * A re-run goes first: it has waited longest. A pool that is closing has
 * already failed its queue and will never dispatch again, so reads handed
 * back by connections it is closing fail at once rather than sit there.
 */
void db_pool_requeue_list(db_pool_t *p, db_query_t *head)
{
    db_query_t *last = head;
    int n = 1;
    for (; last->next; last = last->next)
        n++;
    last->next = p->q_head;
    if (!p->q_head) p->q_tail = last;
    p->q_head = head;
    p->waiting += n;
    if (p->closing)
        pool_fail_all_queued(p, DB_ERR_UNAVAILABLE, "shutting down");
    else
        db_pool_wake(p);
}

void db_pool_complete(db_pool_t *p, db_query_t *q, db_status_t st, const PGresult *res,
                      const char *sqlstate, const char *message)
{
    if (q->stmt >= 0) db_stmt_release(p, q->stmt);
    if (q->stmt >= 0 && q->cb) {
        db_result_t r = {
            .status = st,
            .res = res,
            .sqlstate = sqlstate,
            .message = message,
            .wait_ms = q->wait_ms,
            .outcome_unknown = st != DB_OK && q->unknown,
        };
        q->cb(&r, q->data);
    }
    if (q->res) {
        PQclear(q->res);
        q->res = NULL;
    }
    db_pool_query_free(p, q);
}

static void pool_fail_all_queued(db_pool_t *p, db_status_t st, const char *why)
{
    db_query_t *q;
    while ((q = pool_dequeue(p))) {
        q->wait_ms = (double)(db_pool_now_ns() - q->enqueued_ns) / 1e6;
        db_pool_complete(p, q, st, NULL, NULL, why);
    }
}

/* ---- choosing a connection ---- */

/*
 * The policy: a connection takes a new batch only when it has nothing in
 * flight. While every connection is busy, queries wait in the queue, and the
 * next connection to come back takes all of them (up to pipeline_depth) in one
 * batch with one Sync.
 *
 * Why not pipeline more onto busy connections (what this pool did before)?
 * Measured at 64 HTTP connections on 2 cores (notes/perf.md): spreading each
 * loop turn's queries over all 10 connections left 1.5 queries per Sync, so
 * every query woke a backend of its own. The wake-ups preempted the
 * single-threaded loop (one involuntary context switch per 2-3 requests; the
 * loop runnable but waiting for a CPU 50-70% of each round), and how much CPU
 * the loop got decided throughput: it swung 2-3x from round to round. The
 * 10 ms "stall" rule made it worse: under CPU contention every batch looked
 * slow, so the pool grew to 27 connections (more backends to wake). Waiting
 * for a free connection makes the batch grow with the load by itself: one
 * query per Sync when idle (no added latency), dozens when busy (one backend
 * wake-up, one send and one receive for all of them). It also means a slow
 * query never has fast ones queued behind it on its connection, which the
 * old "stall" heuristic only approximated.
 */
/* Takes queries (a leased connection belongs to its stream until checked in). */
static bool pool_conn_usable(const db_pool_t *p, const db_conn_t *c)
{
    (void)p;
    return c->state == CONN_READY && !c->retiring && !c->lease;
}

/* Usable with nothing in flight: takes a batch, or a stream's lease. */
static bool pool_conn_idle(const db_conn_t *c)
{
    return c->state == CONN_READY && !c->retiring && !c->lease && c->inflight == 0 &&
           !c->held_head && !c->expect_sync;
}

/*
 * A connection that has not answered anything for this long is busy with
 * something slow. Counted from its last answer, not from when its batch went
 * out: a batch of 40 pages that is answering steadily is not slow, and under
 * CPU contention counting from the send made every long batch look stalled
 * and opened overflow connections (the bench's stream rounds: 6 opens in one
 * round, at a third less throughput than the rounds without).
 */
static bool pool_conn_stalled(const db_conn_t *c, uint64_t now)
{
    return db_conn_unresponsive(c, now, POOL_STALL_NS);
}

/*
 * Grows the pool while queries wait: up to `size` whenever no connection is
 * free, and into the overflow only when every connection is held by a slow
 * statement (out over POOL_STALL_NS), so fast queries have somewhere to go.
 * Growing merely because everything is busy, or because the machine is so
 * loaded that batches take 10 ms (the old 10 ms heuristic did this: 27
 * connections under CPU contention, measured), only adds backends competing
 * for the same cores. One connection is opened at a time.
 */
static void pool_maybe_grow(db_pool_t *p)
{
    if (p->closing || p->nconnecting > 0 || !p->q_head) return;
    if (!p->healthy && db_pool_now_ns() < p->down_until_ns) return;
    int limit = p->cfg.size + p->cfg.max_overflow;
    if (p->nconns >= limit) return;
    uint64_t now = db_pool_now_ns();
    int fast = 0;
    for (db_conn_t *c = p->conns; c; c = c->next)
        if (pool_conn_usable(p, c) && !pool_conn_stalled(c, now)) fast++;
    if (p->nconns < p->cfg.size || fast == 0) {
        if (p->nconns >= p->cfg.size) p->stats.overflow_opens++;
        db_conn_open(p);
    }
}

static void pool_record_batch(db_pool_t *p, int n)
{
    int k = 0;
    while (k < DB_BATCH_BUCKETS - 1 && n > (1 << k))
        k++;
    p->stats.batch_hist[k]++;
    p->stats.queries += (uint64_t)n;
    p->stats.batches++;
}

/* Unlinks the first n queries of the queue as a list of their own. */
static db_query_t *pool_take(db_pool_t *p, int n, uint64_t now)
{
    db_query_t *first = p->q_head, *q = first;
    for (int i = 0; i < n; i++) {
        db_query_t *next = q->next;
        q->wait_ms = (double)(now - q->enqueued_ns) / 1e6;
        if (i == n - 1) {
            p->q_head = next;
            if (!next) p->q_tail = NULL;
            q->next = NULL;
        }
        q = next;
    }
    p->waiting -= n;
    return first;
}

/* ---- checkouts (streamed reads) ---- */

/* The most connections streams may hold at once: one is always left to the queries. */
static int pool_lease_limit(const db_pool_t *p)
{
    int limit = p->cfg.size + p->cfg.max_overflow - 1;
    return limit < 1 ? 1 : limit;
}

static void pool_serve_checkouts(db_pool_t *p)
{
    while (p->co_head && p->nleased < pool_lease_limit(p)) {
        db_conn_t *c = p->conns;
        while (c && !pool_conn_idle(c))
            c = c->next;
        if (!c) {
            bool room = p->nconns < p->cfg.size + p->cfg.max_overflow;
            if (room && p->nconnecting == 0 && (p->healthy || db_pool_now_ns() >= p->down_until_ns))
                db_conn_open(p);
            return;
        }
        db_stream_t *s = p->co_head;
        p->co_head = s->next;
        if (!p->co_head) p->co_tail = NULL;
        s->next = NULL;
        s->wait_ms = (double)(db_pool_now_ns() - s->enqueued_ns) / 1e6;
        c->lease = s;
        c->last_used_ns = db_pool_now_ns();
        p->nleased++;
        db_stream_attach(s, c);
    }
}

void db_pool_checkin(db_pool_t *p, db_conn_t *c)
{
    c->lease = NULL;
    p->nleased--;
    c->last_used_ns = db_pool_now_ns();
    if (c->retiring)
        db_conn_close(c, DB_ERR_UNAVAILABLE, "recycled");
    else
        db_pool_wake(p);
}

void db_pool_enqueue_checkout(db_pool_t *p, db_stream_t *s)
{
    s->next = NULL;
    s->enqueued_ns = db_pool_now_ns();
    if (p->co_tail)
        p->co_tail->next = s;
    else
        p->co_head = s;
    p->co_tail = s;
    db_pool_wake(p);
}

/* Fails waiting streams older than the acquire timeout (all of them when limit is 0). */
static void pool_expire_checkouts(db_pool_t *p, uint64_t now, uint64_t limit, db_status_t st,
                                  const char *why)
{
    while (p->co_head && now - p->co_head->enqueued_ns >= limit) {
        db_stream_t *s = p->co_head;
        p->co_head = s->next;
        if (!p->co_head) p->co_tail = NULL;
        s->next = NULL;
        s->wait_ms = (double)(now - s->enqueued_ns) / 1e6;
        if (st == DB_ERR_POOL_TIMEOUT) p->stats.acquire_timeouts++;
        db_stream_fail_waiting(s, st, why);
    }
}

/* Takes a stream that was cancelled while waiting off the checkout queue. */
void db_pool_forget_checkout(db_pool_t *p, db_stream_t *s)
{
    db_stream_t *prev = NULL;
    for (db_stream_t *q = p->co_head; q; prev = q, q = q->next) {
        if (q != s) continue;
        if (prev)
            prev->next = q->next;
        else
            p->co_head = q->next;
        if (p->co_tail == q) p->co_tail = prev;
        return;
    }
}

static void pool_dispatch(uv_prepare_t *h)
{
    db_pool_t *p = h->data;
    uv_prepare_stop(h);
    pool_serve_checkouts(p);
    if (!p->q_head) return;
    int idle = 0;
    for (db_conn_t *c = p->conns; c; c = c->next)
        if (pool_conn_idle(c)) idle++;
    /*
     * Oldest connections first (the list is in opening order), so overflow
     * connections fall idle and are closed when the load drops. The queue is
     * split evenly over the free connections, but in shares of at least
     * POOL_MIN_SPLIT: a few queries are cheaper as one batch on one backend
     * (one wake-up, one send, one receive) than spread one per backend, and
     * a larger queue still gets PostgreSQL's parallelism.
     */
    uint64_t now = db_pool_now_ns();
    for (db_conn_t *c = p->conns, *next; c && p->q_head && idle > 0; c = next) {
        next = c->next;
        if (!pool_conn_idle(c)) continue;
        int n = (p->waiting + idle - 1) / idle;
        if (n < POOL_MIN_SPLIT) n = p->waiting < POOL_MIN_SPLIT ? p->waiting : POOL_MIN_SPLIT;
        if (n > p->cfg.pipeline_depth) n = p->cfg.pipeline_depth;
        idle--;
        pool_record_batch(p, n);
        db_conn_send_batch(c, pool_take(p, n, now));
    }
    if (p->q_head) {
        pool_maybe_grow(p);
        if (!p->healthy && p->nconnecting == 0)
            pool_fail_all_queued(p, p->down_status, p->stats.last_error);
    }
}

void db_pool_conn_idle(db_pool_t *p, db_conn_t *c)
{
    (void)c;
    if (p->q_head || p->co_head) db_pool_wake(p);
}

/* ---- connection events ---- */

void db_pool_conn_ready(db_pool_t *p, db_conn_t *c)
{
    p->nconnecting--;
    p->healthy = true;
    p->backoff_ms = 0;
    p->stats.last_error[0] = '\0';
    c->born_ns = db_pool_now_ns();
    db_pool_wake(p);
}

void db_pool_conn_failed(db_pool_t *p, db_conn_t *c, db_status_t st, const char *why)
{
    p->nconnecting--;
    p->stats.connect_failures++;
    snprintf(p->stats.last_error, sizeof p->stats.last_error, "%s", why ? why : "unknown");
    bool any_ready = false;
    for (db_conn_t *o = p->conns; o; o = o->next)
        if (o != c && o->state == CONN_READY) any_ready = true;
    if (any_ready) return;
    p->healthy = false;
    p->down_status = st;
    p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : POOL_BACKOFF_MIN_MS;
    if (p->backoff_ms > POOL_BACKOFF_MAX_MS) p->backoff_ms = POOL_BACKOFF_MAX_MS;
    p->down_until_ns = db_pool_now_ns() + p->backoff_ms * 1000000ULL;
    if (p->nconnecting == 0) pool_fail_all_queued(p, st, p->stats.last_error);
}

void db_pool_conn_gone(db_pool_t *p, db_conn_t *c)
{
    for (db_conn_t **pp = &p->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    p->nconns--;
    if (p->closing) {
        if (p->nconns == 0 && --p->handles_open == 0 && p->close_done) p->close_done(p->close_data);
        return;
    }
    bool any_ready = false;
    for (db_conn_t *o = p->conns; o; o = o->next)
        if (o->state == CONN_READY) any_ready = true;
    if (!any_ready && p->nconnecting == 0 && p->healthy) {
        /* The last working connection broke: probe right away. */
        p->stats.reconnects++;
        db_conn_open(p);
    }
    db_pool_wake(p);
}

/* ---- the ticker ---- */

static void pool_expire_waiting(db_pool_t *p, uint64_t now)
{
    uint64_t limit = (uint64_t)(p->cfg.acquire_timeout_s * 1e9);
    while (p->q_head && now - p->q_head->enqueued_ns >= limit) {
        db_query_t *q = pool_dequeue(p);
        q->wait_ms = (double)(now - q->enqueued_ns) / 1e6;
        p->stats.acquire_timeouts++;
        db_pool_complete(p, q, DB_ERR_POOL_TIMEOUT, NULL, NULL, "pool acquire timeout");
    }
}

static void pool_recycle(db_pool_t *p, uint64_t now)
{
    double wall = (double)time(NULL);
    int ready = 0;
    for (db_conn_t *c = p->conns; c; c = c->next)
        if (c->state == CONN_READY && !c->retiring) ready++;
    for (db_conn_t *c = p->conns, *n; c; c = n) {
        n = c->next;
        if (c->state != CONN_READY || c->retiring || c->lease) continue;
        bool old = p->cfg.lifetime_s > 0 && now - c->born_ns > (uint64_t)(p->cfg.lifetime_s * 1e9);
        /* Recycle ahead of token expiry: 2 minutes, or half the life of short tokens. */
        double born_wall = wall - (double)(now - c->born_ns) / 1e9;
        double margin = fmin(POOL_TOKEN_MARGIN_S, (c->token_expires_at - born_wall) / 2);
        bool token = c->token_expires_at > 0 && wall > c->token_expires_at - margin;
        bool spare = ready > p->cfg.size && c->inflight == 0 &&
                     now - c->last_used_ns > POOL_OVERFLOW_IDLE_NS;
        if (!old && !token && !spare) continue;
        c->retiring = true;
        ready--;
        if (c->inflight == 0 && !c->held_head) db_conn_close(c, DB_ERR_UNAVAILABLE, "recycled");
    }
}

/*
 * A server that stops answering (frozen, or a network that drops packets
 * without a reset) would keep its queries in flight forever: statement_timeout
 * runs on the server, so it cannot fire. Past the command timeout plus a
 * grace period without any answer, the connection is given up: its requests
 * get 504 (writes: outcome unknown) and the pool reconnects.
 */
static void pool_expire_unresponsive(db_pool_t *p, uint64_t now)
{
    uint64_t limit = (uint64_t)(p->cfg.command_timeout_s * 1e9) + POOL_ANSWER_GRACE_NS;
    for (db_conn_t *c = p->conns, *n; c; c = n) {
        n = c->next;
        if (db_conn_unresponsive(c, now, limit))
            db_conn_close(c, DB_ERR_TIMEOUT, "the database stopped answering");
    }
}

static void pool_tick(uv_timer_t *t)
{
    db_pool_t *p = t->data;
    uint64_t now = db_pool_now_ns();
    pool_expire_waiting(p, now);
    if (p->cfg.command_timeout_s > 0) pool_expire_unresponsive(p, now);
    pool_expire_checkouts(p, now, (uint64_t)(p->cfg.acquire_timeout_s * 1e9), DB_ERR_POOL_TIMEOUT,
                          "pool acquire timeout");
    pool_recycle(p, now);
    /* Keep one connection open (readiness) and retry after the backoff. */
    if (p->nconns == 0 && !p->closing && now >= p->down_until_ns) {
        if (!p->healthy) p->stats.reconnects++;
        db_conn_open(p);
    }
    db_pool_wake(p);
}

/* ---- public API ---- */

db_pool_t *db_pool_new(uv_loop_t *loop, const db_pool_config_t *cfg)
{
    db_pool_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->loop = loop;
    p->cfg = *cfg;
    if (p->cfg.pipeline_depth < 1) p->cfg.pipeline_depth = 1;
    if (p->cfg.size < 1) p->cfg.size = 1;
    uv_prepare_init(loop, &p->dispatcher);
    p->dispatcher.data = p;
    uv_timer_init(loop, &p->ticker);
    p->ticker.data = p;
    p->healthy = true;
    p->session_stmt = p->pre_request_stmt = -1;
    return p;
}

int db_pool_add_statement(db_pool_t *p, const char *sql, int nparams, db_stmt_kind_t kind)
{
    if (p->started) return -1;
    void *grown = realloc(p->stmts, sizeof *p->stmts * (size_t)(p->nstmts + 1));
    if (!grown) abort();
    p->stmts = grown;
    int id = p->nstmts++;
    memset(&p->stmts[id], 0, sizeof p->stmts[id]); /* gen 0, not a statement-cache slot */
    p->stmts[id].sql = strdup(sql);
    if (!p->stmts[id].sql) abort();
    snprintf(p->stmts[id].name, sizeof p->stmts[id].name, "lk%dg0", id);
    p->stmts[id].nparams = nparams;
    p->stmts[id].kind = kind;
    return id;
}

void db_pool_start(db_pool_t *p)
{
    p->started = true;
    uv_timer_start(&p->ticker, pool_tick, POOL_TICK_MS, POOL_TICK_MS);
    db_conn_open(p);
}

void db_pool_query(db_pool_t *p, int stmt, int nparams, const char *const *values, db_result_fn cb,
                   void *data)
{
    db_pool_query_as(p, NULL, stmt, nparams, values, cb, data);
}

void db_pool_query_as(db_pool_t *p, const db_session_t *s, int stmt, int nparams,
                      const char *const *values, db_result_fn cb, void *data)
{
    if (p->route)
        db_route_query(p->route, s, stmt, nparams, values, cb, data);
    else
        db_pool_enqueue(p, s, stmt, nparams, values, cb, data);
}

void db_pool_enqueue(db_pool_t *p, const db_session_t *s, int stmt, int nparams,
                     const char *const *values, db_result_fn cb, void *data)
{
    db_query_t *q = db_pool_query_alloc(p);
    if (s && p->session_stmt < 0) abort(); /* db_session_register() was not called: a bug */
    q->session = s;
    q->stmt = stmt;
    q->nparams = nparams;
    q->values = values;
    q->cb = cb;
    q->data = data;
    q->enqueued_ns = db_pool_now_ns();
    pool_enqueue_tail(p, q);
    db_pool_wake(p);
}

void db_pool_stats(const db_pool_t *p, db_pool_stats_t *out)
{
    *out = p->stats;
    out->total = p->nconns;
    out->connecting = p->nconnecting;
    out->ready = out->busy = 0;
    for (const db_conn_t *c = p->conns; c; c = c->next) {
        if (c->state != CONN_READY) continue;
        out->ready++;
        if (c->inflight > 0 || c->lease) out->busy++;
    }
    out->leased = p->nleased;
    out->waiting = p->waiting;
    out->healthy = p->healthy && out->ready > 0;
}

static void pool_handle_closed(uv_handle_t *h)
{
    db_pool_t *p = h->data;
    if (--p->handles_open == 0 && p->close_done) p->close_done(p->close_data);
}

void db_pool_close(db_pool_t *p, void (*done)(void *data), void *data)
{
    if (p->closing) return;
    p->closing = true;
    p->close_done = done;
    p->close_data = data;
    pool_fail_all_queued(p, DB_ERR_UNAVAILABLE, "shutting down");
    pool_expire_checkouts(p, db_pool_now_ns(), 0, DB_ERR_UNAVAILABLE, "shutting down");
    /* Two handles plus one token for the connections (released when none remain). */
    p->handles_open = 3;
    uv_close((uv_handle_t *)&p->dispatcher, pool_handle_closed);
    uv_close((uv_handle_t *)&p->ticker, pool_handle_closed);
    for (db_conn_t *c = p->conns, *n; c; c = n) {
        n = c->next;
        db_conn_close(c, DB_ERR_UNAVAILABLE, "shutting down");
    }
    if (p->nconns == 0) --p->handles_open;
}

void db_pool_free(db_pool_t *p)
{
    if (!p) return;
    for (db_query_t *q = p->free_queries, *n; q; q = n) {
        n = q->next;
        free(q);
    }
    for (int i = 0; i < p->nstmts; i++)
        free(p->stmts[i].sql);
    free(p->stmts);
    free(p);
}

/* ---- the static credential provider ---- */

typedef struct {
    db_credentials_t base;
    char *password;
} static_credentials_t;

static void static_get(db_credentials_t *self, bool force_fresh, db_credentials_cb cb,
                       void *cb_data)
{
    (void)force_fresh; /* a static password cannot be refreshed */
    static_credentials_t *s = (static_credentials_t *)self;
    cb(s->password, 0, NULL, cb_data);
}

static void static_free(db_credentials_t *self)
{
    static_credentials_t *s = (static_credentials_t *)self;
    free(s->password);
    free(s);
}

db_credentials_t *db_credentials_static_new(const char *password)
{
    static_credentials_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.get = static_get;
    s->base.free = static_free;
    s->base.kind = "static";
    s->password = password ? strdup(password) : NULL;
    return &s->base;
}
