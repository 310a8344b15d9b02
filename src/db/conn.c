/*
 * conn - one pooled PostgreSQL connection: its life from credentials to close.
 *
 * States: CREDENTIALS (asking the provider for a password) -> CONNECTING
 * (PQconnectPoll driven by the socket) -> SETUP (session settings) -> READY
 * (takes batches) -> CLOSED.
 *
 * A statement is prepared on a connection the first time that connection
 * runs it, in the same pipeline just before its first execution. Preparing
 * lazily means a missing table fails only the queries that use it (with the
 * real error), not every connection at login, and a table created later
 * works without a restart. The connection runs in libpq pipeline mode for its whole life:
 * db_conn_send_batch() writes a batch of queries and one Sync, and results are matched
 * to the in-flight FIFO in order as they arrive.
 *
 * Failure handling lives here because only the connection knows what it had
 * in flight: reads are re-queued (they are safe to run again), writes whose
 * outcome is unknown are failed, and the pool is told so it can reconnect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pool_internal.h"

static void conn_on_poll(uv_poll_t *h, int status, int events);
static void conn_start_connect(db_conn_t *c, const char *password, double expires_at);
static void conn_on_password(const char *password, double expires_at, const char *error,
                             void *data);
static void conn_ask_password(db_conn_t *c, bool force_fresh);

static void conn_notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* notices (e.g. "relation already exists") are not errors here */
}

static void conn_handle_closed(uv_handle_t *h)
{
    db_conn_t *c = h->data;
    if (--c->pending_closes == 0 && !c->cred_pending) {
        db_pool_conn_gone(c->pool, c);
        free(c->prepared);
        free(c);
    }
}

static void conn_free_handle(uv_handle_t *h)
{
    free(h);
}

/* Stops and drops the poll handle of a socket libpq no longer uses. */
static void conn_poll_discard(db_conn_t *c)
{
    if (!c->poll) return;
    uv_poll_stop(c->poll);
    uv_close((uv_handle_t *)c->poll, conn_free_handle);
    c->poll = NULL;
}

/* Watches the current libpq socket for the given events, following socket changes. */
static int conn_watch(db_conn_t *c, int events)
{
    int fd = PQsocket(c->pg);
    if (fd < 0) return -1;
    if (c->poll && c->poll_fd != fd) conn_poll_discard(c);
    if (!c->poll) {
        c->poll = malloc(sizeof *c->poll);
        if (!c->poll || uv_poll_init_socket(c->pool->loop, c->poll, fd) != 0) {
            free(c->poll);
            c->poll = NULL;
            return -1;
        }
        c->poll->data = c;
        c->poll_fd = fd;
        c->poll_events = 0;
    }
    if (events != c->poll_events) {
        c->poll_events = events;
        uv_poll_start(c->poll, events, conn_on_poll);
    }
    return 0;
}

static void conn_push_inflight(db_conn_t *c, db_query_t *q)
{
    q->next = NULL;
    if (c->tail)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
    c->inflight++;
}

static db_query_t *conn_pop_inflight(db_conn_t *c)
{
    db_query_t *q = c->head;
    if (!q) return NULL;
    c->head = q->next;
    if (!c->head) c->tail = NULL;
    q->next = NULL;
    c->inflight--;
    return q;
}

/* Puts a query popped off the in-flight list back at its head. */
static void conn_unpop_inflight(db_conn_t *c, db_query_t *q)
{
    q->next = c->head;
    c->head = q;
    if (!c->tail) c->tail = q;
    c->inflight++;
}

static void conn_hold(db_conn_t *c, db_query_t *q)
{
    q->next = NULL;
    if (c->held_tail)
        c->held_tail->next = q;
    else
        c->held_head = q;
    c->held_tail = q;
}

/* A failed write that had been sent: it may or may not have committed. */
static void conn_fail_unknown(db_conn_t *c, db_query_t *q, db_status_t st, const char *why)
{
    if (q->res) PQclear(q->res), q->res = NULL;
    q->unknown = true;
    db_pool_complete(c->pool, q, st, NULL, NULL, why);
}

/*
 * A read whose result is not final: appended to the list at **tail to run
 * again (at most 3 times; never after DB_ERR_TIMEOUT, when the server stopped
 * answering and a re-run would only wait again), or failed. Internal steps
 * are dropped.
 */
static void conn_retry_or_fail(db_conn_t *c, db_query_t *q, db_status_t st, const char *why,
                               db_query_t ***tail)
{
    if (q->res) PQclear(q->res), q->res = NULL;
    if (q->stmt >= 0 && q->retries < 3 && st != DB_ERR_TIMEOUT) {
        q->retries++;
        q->next = NULL;
        **tail = q;
        *tail = &q->next;
    } else if (q->stmt >= 0) {
        db_pool_complete(c->pool, q, st, NULL, NULL, why);
    } else {
        db_pool_query_free(c->pool, q);
    }
}

bool db_conn_unresponsive(const db_conn_t *c, uint64_t now, uint64_t limit_ns)
{
    if (!c->head || (c->state != CONN_READY && c->state != CONN_SETUP)) return false;
    uint64_t since = c->head->sent_ns > c->last_answer_ns ? c->head->sent_ns : c->last_answer_ns;
    return now > since && now - since > limit_ns;
}

void db_conn_close(db_conn_t *c, db_status_t st, const char *why)
{
    if (c->state == CONN_CLOSED) return;
    bool was_ready = c->state == CONN_READY;
    c->state = CONN_CLOSED;
    if (c->lease) {
        db_stream_t *s = c->lease;
        c->lease = NULL;
        c->pool->nleased--;
        db_stream_conn_lost(s, why);
    }
    /*
     * Reads may run again elsewhere, as one block in their original order at
     * the head of the queue; a write's outcome is unknown once sent, and so is
     * that of a held write whose Sync never came back.
     */
    db_query_t *rerun = NULL, **rerun_tail = &rerun;
    for (db_query_t *q; (q = conn_pop_inflight(c));) {
        if (q->stmt >= 0 && c->pool->stmts[q->stmt].kind == DB_STMT_WRITE)
            conn_fail_unknown(c, q, st == DB_ERR_TIMEOUT ? st : DB_ERR_UNAVAILABLE, why);
        else
            conn_retry_or_fail(c, q, st, why, &rerun_tail);
    }
    for (db_query_t *q = c->held_head, *n; q; q = n) {
        n = q->next;
        conn_fail_unknown(c, q, st == DB_ERR_TIMEOUT ? st : DB_ERR_UNAVAILABLE, why);
    }
    c->held_head = c->held_tail = NULL;
    if (rerun) db_pool_requeue_list(c->pool, rerun);
    if (!was_ready)
        db_pool_conn_failed(c->pool, c, st == DB_ERR_TIMEOUT ? DB_ERR_UNAVAILABLE : st, why);

    uv_timer_stop(&c->timer);
    c->pending_closes = 1;
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    conn_poll_discard(c);
    /* The fd is no longer polled, so libpq may close it now. */
    if (c->pg) PQfinish(c->pg);
    c->pg = NULL;
}

static void conn_fail_libpq(db_conn_t *c, const char *what)
{
    char why[256];
    const char *msg = c->pg ? PQerrorMessage(c->pg) : "";
    snprintf(why, sizeof why, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
    db_conn_close(c, DB_ERR_UNAVAILABLE, why);
}

/* ---- sending ---- */

/*
 * The gen + 1 of the statement prepared in slot id here, 0 when none; with
 * CONN_PREPARED_STALE or'ed in when its result type changed since (ALTER
 * TABLE): it is deallocated and prepared again before its next use.
 */
#define CONN_PREPARED_STALE 0x80000000u

static uint32_t conn_prepared(const db_conn_t *c, int id)
{
    return id < c->nprepared ? c->prepared[id] : 0;
}

static void conn_set_prepared(db_conn_t *c, int id, uint32_t v)
{
    if (id >= c->nprepared) { /* the statement cache added slots since this connection opened */
        int n = c->pool->nstmts > id ? c->pool->nstmts : id + 1;
        uint32_t *grown = realloc(c->prepared, sizeof *grown * (size_t)n);
        if (!grown) abort();
        memset(grown + c->nprepared, 0, sizeof *grown * (size_t)(n - c->nprepared));
        c->prepared = grown;
        c->nprepared = n;
    }
    c->prepared[id] = v;
}

/* A stale plan is stale on every connection that prepared it: all re-prepare at next use. */
static void conn_mark_stale(db_pool_t *p, int stmt)
{
    uint32_t want = p->stmts[stmt].gen + 1;
    for (db_conn_t *c = p->conns; c; c = c->next)
        if (conn_prepared(c, stmt) == want) conn_set_prepared(c, stmt, want | CONN_PREPARED_STALE);
}

/* An in-flight entry for a step of our own: session setup or a Prepare. */
static db_query_t *conn_internal_step(db_conn_t *c, int prepares)
{
    db_query_t *q = db_pool_query_alloc(c->pool);
    q->stmt = -1;
    q->prepares = prepares;
    q->sent_ns = db_pool_now_ns();
    return q;
}

/* A statement is prepared on a connection just before its first execution there. */
static bool conn_prepare_once(db_conn_t *c, int stmt)
{
    db_pool_t *p = c->pool;
    uint32_t want = p->stmts[stmt].gen + 1, have = conn_prepared(c, stmt);
    if (have == want) return true;
    bool ok = true;
    if (have) { /* new SQL in this slot, or a stale plan: drop the old statement */
        char drop[64];
        snprintf(drop, sizeof drop, "DEALLOCATE lk%dg%u", stmt, (have & ~CONN_PREPARED_STALE) - 1);
        ok = PQsendQueryParams(c->pg, drop, 0, NULL, NULL, NULL, NULL, 0);
        conn_push_inflight(c, conn_internal_step(c, -1));
    }
    ok = ok && PQsendPrepare(c->pg, p->stmts[stmt].name, p->stmts[stmt].sql, p->stmts[stmt].nparams,
                             NULL);
    conn_push_inflight(c, conn_internal_step(c, stmt));
    conn_set_prepared(c, stmt, want);
    return ok;
}

/* A session's settings or pre-request call (session.c): a step whose failure fails the query. */
static bool conn_send_session_step(db_conn_t *c, int stmt, int nparams, const char *const *values)
{
    bool ok = conn_prepare_once(c, stmt);
    db_query_t *step = conn_internal_step(c, -1);
    step->session_step = true;
    conn_push_inflight(c, step);
    return ok &&
           PQsendQueryPrepared(c->pg, c->pool->stmts[stmt].name, nparams, values, NULL, NULL, 0);
}

static int conn_flush(db_conn_t *c)
{
    int r = PQflush(c->pg);
    if (r < 0) return -1;
    return conn_watch(c, r == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

int db_conn_flush(db_conn_t *c)
{
    return conn_flush(c);
}

void db_conn_send_batch(db_conn_t *c, db_query_t *first)
{
    db_pool_t *p = c->pool;
    uint64_t now = db_pool_now_ns();
    if (!c->head) c->last_answer_ns = now; /* the unresponsive clock starts now */
    for (db_query_t *q = first, *next; q; q = next) {
        next = q->next; /* pushing the query in flight relinks it */
        q->sent_ns = now;
        const char *name = p->stmts[q->stmt].name;
        q->sync_after = (next == NULL);
        bool ok = true;
        if (q->session) {
            ok = conn_send_session_step(c, p->session_stmt, 5, q->session->values);
            if (ok && p->pre_request_stmt >= 0)
                ok = conn_send_session_step(c, p->pre_request_stmt, 0, NULL);
        }
        ok = ok && conn_prepare_once(c, q->stmt);
        conn_push_inflight(c, q);
        ok = ok && PQsendQueryPrepared(c->pg, name, q->nparams, q->values, NULL, NULL, 0);
        /*
         * A re-run gets a transaction of its own, so one failing statement
         * cannot make the same innocent writes fail again and again; so does
         * a session, whose settings must not leak into other requests.
         */
        bool own = q->retries > 0 || q->session;
        if (ok && !q->sync_after && (own || (next && (next->retries > 0 || next->session)))) {
            q->sync_after = true;
            ok = PQpipelineSync(c->pg);
        }
        if (!ok) {
            /* Hand the queries not yet pushed back, in order, before failing the connection. */
            if (next) db_pool_requeue_list(p, next);
            conn_fail_libpq(c, "send failed");
            return;
        }
    }
    c->last_used_ns = db_pool_now_ns();
    if (!PQpipelineSync(c->pg) || conn_flush(c) != 0) conn_fail_libpq(c, "send failed");
}

/* ---- receiving ---- */

/*
 * The batch's Sync: its implicit transaction is over. Without a failure the
 * held writes have committed and are acknowledged. With one, everything held
 * (writes rolled back with the batch, statements aborted after the failure)
 * goes back to the head of the queue as one block in its original order, so a
 * re-run never overtakes an earlier request's write.
 */
static void conn_finish_batch(db_conn_t *c)
{
    db_query_t *q = c->held_head, *n;
    c->held_head = c->held_tail = NULL;
    bool failed = c->batch_failed;
    c->batch_failed = false;
    db_query_t *rerun = NULL, **rerun_tail = &rerun;
    for (; q; q = n) {
        n = q->next;
        q->next = NULL;
        if (!failed) {
            db_pool_complete(c->pool, q, DB_OK, q->res, NULL, NULL);
            continue;
        }
        if (q->res) PQclear(q->res), q->res = NULL;
        if (q->stmt < 0) {
            db_pool_query_free(c->pool, q);
        } else if (q->retries < 3) {
            q->retries++;
            *rerun_tail = q;
            rerun_tail = &q->next;
        } else {
            db_pool_complete(c->pool, q, DB_ERR_INTERNAL, NULL, NULL, "batch failed repeatedly");
        }
    }
    if (rerun) db_pool_requeue_list(c->pool, rerun);
    if (c->state == CONN_SETUP) {
        if (failed) {
            db_conn_close(c, DB_ERR_INTERNAL, "session setup failed");
            return;
        }
        c->state = CONN_READY;
        uv_timer_stop(&c->timer);
        db_pool_conn_ready(c->pool, c);
    }
}

/*
 * A Prepare that failed (say, its table does not exist) makes the execution
 * right behind it abort; that query gets the Prepare's error instead of being
 * re-run, and the statement will be prepared again on its next use. A
 * session step (settings, pre-request) that failed hands its error on the
 * same way, step by step, to the statement it was for.
 */
static void conn_finish_step(db_conn_t *c, db_query_t *q)
{
    ExecStatusType st = q->res ? PQresultStatus(q->res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        if (q->prepares >= 0) conn_set_prepared(c, q->prepares, 0);
        if (st != PGRES_PIPELINE_ABORTED) {
            c->batch_failed = true;
            if (c->head && !c->head->res) {
                c->head->res = q->res;
                q->res = NULL;
            }
        }
    }
    db_pool_complete(c->pool, q, DB_OK, NULL, NULL, NULL);
}

static void conn_finish_query(db_conn_t *c, db_query_t *q)
{
    db_pool_t *p = c->pool;
    if (q->stmt < 0 && (q->prepares >= 0 || q->session_step)) {
        conn_finish_step(c, q);
        return;
    }
    ExecStatusType st = q->res ? PQresultStatus(q->res) : PGRES_FATAL_ERROR;
    if (st == PGRES_PIPELINE_ABORTED) {
        conn_hold(c, q); /* re-run after the Sync, in order (conn_finish_batch) */
    } else if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        /* Reads are final now; writes only once their batch has committed. */
        if (q->stmt >= 0 && p->stmts[q->stmt].kind == DB_STMT_READ) {
            db_pool_complete(p, q, DB_OK, q->res, NULL, NULL);
        } else {
            conn_hold(c, q);
        }
    } else {
        c->batch_failed = true;
        const char *sqlstate = q->res ? PQresultErrorField(q->res, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = q->res ? PQresultErrorMessage(q->res) : "no result";
        if (q->stmt < 0) {
            conn_hold(c, q); /* setup step: the batch's Sync closes the connection */
            return;
        }
        /*
         * The server is ending this session (pg_terminate_backend, shutdown,
         * a crashed neighbour: 57P01-57P03): that is a lost connection, not
         * this query's error. Reads run again elsewhere; writes are unknown.
         */
        if ((sqlstate && strncmp(sqlstate, "57P", 3) == 0) || PQstatus(c->pg) == CONNECTION_BAD) {
            char why[256]; /* msg lives in q->res, which the close frees */
            snprintf(why, sizeof why, "%.*s", (int)strcspn(msg, "\n"), msg);
            conn_unpop_inflight(c, q);
            db_conn_close(c, DB_ERR_UNAVAILABLE, why);
            return;
        }
        if (sqlstate && strcmp(sqlstate, "57014") == 0) p->stats.statement_timeouts++;
        bool lost = sqlstate && strcmp(sqlstate, "26000") == 0;
        /*
         * 0A000 "cached plan must not change result type": a table the
         * statement reads changed its columns (a re-synced table, a
         * migration). Nothing ran; the statement is prepared afresh.
         */
        bool stale = sqlstate && strcmp(sqlstate, "0A000") == 0 &&
                     strstr(msg, "cached plan must not change result type");
        if (lost || stale) {
            /* Lost (e.g. DISCARD) or stale: prepare again, then run it again. */
            if (stale)
                conn_mark_stale(p, q->stmt);
            else
                conn_set_prepared(c, q->stmt, 0);
            db_query_t *again = NULL, **tail = &again;
            conn_retry_or_fail(c, q, DB_ERR_INTERNAL, msg, &tail);
            if (again) db_pool_requeue_list(p, again);
            return;
        }
        /* The error result goes up too: the Data API passes message/detail/hint on. */
        db_pool_complete(p, q, db_status_from_sqlstate(sqlstate), q->res, sqlstate, msg);
    }
}

static void conn_read_results(db_conn_t *c)
{
    if (!PQconsumeInput(c->pg)) {
        conn_fail_libpq(c, "connection lost");
        return;
    }
    while (c->state == CONN_READY || c->state == CONN_SETUP) {
        if (PQisBusy(c->pg)) break;
        if (c->expect_sync) {
            PGresult *r = PQgetResult(c->pg);
            if (!r) break;
            ExecStatusType st = PQresultStatus(r);
            PQclear(r);
            if (st != PGRES_PIPELINE_SYNC) continue;
            c->expect_sync = false;
            conn_finish_batch(c);
            continue;
        }
        db_query_t *q = c->head;
        if (!q) break;
        PGresult *r = PQgetResult(c->pg);
        c->last_answer_ns = db_pool_now_ns();
        if (r) {
            if (!q->res)
                q->res = r;
            else
                PQclear(r);
            continue;
        }
        conn_pop_inflight(c);
        c->expect_sync = q->sync_after;
        conn_finish_query(c, q);
    }
    if (c->state != CONN_READY || c->inflight > 0 || c->expect_sync || c->held_head) return;
    if (c->retiring)
        db_conn_close(c, DB_ERR_UNAVAILABLE, "recycled");
    else
        db_pool_conn_idle(c->pool, c); /* queued queries or a waiting stream may take it */
}

/* ---- connecting ---- */

static void conn_begin_setup(db_conn_t *c)
{
    db_pool_t *p = c->pool;
    if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg)) {
        conn_fail_libpq(c, "pipeline mode");
        return;
    }
    PQsetNoticeProcessor(c->pg, conn_notice_ignore, NULL);
    c->state = CONN_SETUP; /* the connect timer keeps running: a frozen server fails setup */

    char timeout[32];
    snprintf(timeout, sizeof timeout, "%ld", (long)(p->cfg.command_timeout_s * 1000.0));
    const char *vals[1] = {timeout};
    /* ISO dates and UTC, whatever the server's defaults: the JSON depends on them. */
    bool ok = PQsendQueryParams(c->pg,
                                "SELECT set_config('statement_timeout', $1, false), "
                                "set_config('DateStyle', 'ISO, YMD', false), "
                                "set_config('TimeZone', 'UTC', false)",
                                1, NULL, vals, NULL, NULL, 0);
    db_query_t *step = conn_internal_step(c, -1);
    step->sync_after = true;
    conn_push_inflight(c, step);
    if (!ok || !PQpipelineSync(c->pg) || conn_flush(c) != 0) conn_fail_libpq(c, "setup failed");
}

static void conn_poll_connect(db_conn_t *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->pg);
    switch (st) {
    case PGRES_POLLING_READING:
        if (conn_watch(c, UV_READABLE) != 0) conn_fail_libpq(c, "connect");
        break;
    case PGRES_POLLING_WRITING:
        if (conn_watch(c, UV_WRITABLE) != 0) conn_fail_libpq(c, "connect");
        break;
    case PGRES_POLLING_OK:
        conn_begin_setup(c);
        break;
    default: {
        /* A rejected token (28P01) gets one fresh mint before giving up. */
        const char *msg = PQerrorMessage(c->pg);
        bool bad_password = msg && strstr(msg, "password authentication failed");
        if (bad_password && c->pool->cfg.credentials && !c->password_retry_done) {
            c->password_retry_done = true;
            conn_poll_discard(c);
            PQfinish(c->pg);
            c->pg = NULL;
            c->state = CONN_CREDENTIALS;
            conn_ask_password(c, true);
            return;
        }
        conn_fail_libpq(c, "connect failed");
    }
    }
}

static void conn_on_poll(uv_poll_t *h, int status, int events)
{
    db_conn_t *c = h->data;
    if (c->state == CONN_CLOSED) return;
    if (c->state == CONN_CONNECTING) {
        conn_poll_connect(c);
        return;
    }
    if (status < 0) {
        db_conn_close(c, DB_ERR_UNAVAILABLE, "socket error");
        return;
    }
    if (c->lease && c->state == CONN_READY) {
        db_stream_on_poll(c->lease, events);
        return;
    }
    if (events & UV_WRITABLE) {
        if (conn_flush(c) != 0) {
            conn_fail_libpq(c, "write failed");
            return;
        }
    }
    if (events & UV_READABLE) conn_read_results(c);
}

static void conn_on_timeout(uv_timer_t *t)
{
    db_conn_t *c = t->data;
    if (c->state == CONN_CONNECTING || c->state == CONN_SETUP)
        db_conn_close(c, DB_ERR_UNAVAILABLE, "connect timed out");
}

/*
 * The provider may answer long after the connection was closed (pool
 * shutdown during a slow mint): the connection then stays allocated until
 * this answer, which frees it.
 */
static void conn_on_password(const char *password, double expires_at, const char *error, void *data)
{
    db_conn_t *c = data;
    c->cred_pending = false;
    if (c->state == CONN_CLOSED) {
        if (c->pending_closes == 0) {
            db_pool_conn_gone(c->pool, c);
            free(c->prepared);
            free(c);
        }
        return;
    }
    if (error) {
        char why[256];
        snprintf(why, sizeof why, "credentials: %s", error);
        db_conn_close(c, DB_ERR_CREDENTIALS, why);
        return;
    }
    conn_start_connect(c, password, expires_at);
}

static void conn_ask_password(db_conn_t *c, bool force_fresh)
{
    db_credentials_t *cr = c->pool->cfg.credentials;
    c->cred_pending = true;
    cr->get(cr, force_fresh, conn_on_password, c);
}

static void conn_start_connect(db_conn_t *c, const char *password, double expires_at)
{
    db_pool_t *p = c->pool;
    const char **kw = NULL, **vals = NULL;
    p->cfg.conninfo(p->cfg.conninfo_data, password, &kw, &vals);
    c->pg = PQconnectStartParams(kw, vals, 1);
    if (p->cfg.conninfo_free) p->cfg.conninfo_free(kw, vals);
    c->token_expires_at = expires_at;
    c->state = CONN_CONNECTING;
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_fail_libpq(c, "connect failed");
        return;
    }
    uint64_t ms = (uint64_t)(p->cfg.acquire_timeout_s * 1000.0);
    if (ms > 10000) ms = 10000;
    uv_timer_start(&c->timer, conn_on_timeout, ms ? ms : 1, 0);
    conn_poll_connect(c);
}

db_conn_t *db_conn_open(db_pool_t *p)
{
    db_conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->pool = p;
    c->nprepared = p->nstmts + 1;
    c->prepared = calloc((size_t)c->nprepared, sizeof *c->prepared);
    if (!c->prepared) abort();
    c->born_ns = c->last_used_ns = db_pool_now_ns();
    uv_timer_init(p->loop, &c->timer);
    c->timer.data = c;
    c->state = CONN_CREDENTIALS;
    /* Opening order: the pool prefers its oldest connections (pool.c). */
    db_conn_t **tail = &p->conns;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    p->nconns++;
    p->nconnecting++;
    if (p->cfg.credentials)
        conn_ask_password(c, false);
    else
        conn_start_connect(c, NULL, 0);
    return c;
}
