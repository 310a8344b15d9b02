/*
 * db/stream - streamed reads (db.h): a SELECT's rows FETCHed in batches from
 * a server-side cursor on a connection leased from the pool.
 *
 * Why a cursor and not COPY: COPY takes no bind parameters, and every value
 * here is one; a cursor's FETCH results are ordinary PGresults in text format
 * (no COPY escaping to undo), and flow control is free: the server produces
 * nothing between FETCHes. The connection stays in pipeline mode, like every
 * pooled connection; each command is followed by its own Sync so results come
 * back at once:
 *
 *   BEGIN READ ONLY; DECLARE lakeapi_stream NO SCROLL CURSOR FOR <sql>; FETCH n; Sync
 *   FETCH n; Sync   (sent as soon as the previous batch arrives, unless paused)
 *   ...             a batch shorter than n is the last one
 *   COMMIT (ROLLBACK after an error or a cancel); Sync  -> the connection goes back
 *
 * Steps expected from the server are kept in a small ring in send order; a
 * step's results are collected until libpq's NULL (a Sync has exactly one).
 *
 * Cancel: a FETCH in flight is interrupted with PQcancel in a libuv worker
 * (it connects to the server and waits: not on the loop). The ROLLBACK is
 * only sent once the worker is back and every expected result has arrived,
 * so the cancel can never hit whatever the connection runs next.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pool_internal.h"
#include "lakeapi/buf.h"

#define STREAM_CURSOR          "lakeapi_stream"
#define STREAM_CANCEL_RETRY_MS 50
#define STREAM_CANCEL_TRIES    40 /* then the FETCH runs to its end (or its statement timeout) */

static void stream_step_push(db_stream_t *s, db_stream_step_t st)
{
    if (s->nsteps == DB_STREAM_STEPS) abort(); /* BEGIN DECLARE (FETCH SYNC)x2 END SYNC at most */
    s->steps[(s->step_head + s->nsteps) % DB_STREAM_STEPS] = st;
    s->nsteps++;
}

static db_stream_step_t stream_step_pop(db_stream_t *s)
{
    db_stream_step_t st = s->steps[s->step_head];
    s->step_head = (s->step_head + 1) % DB_STREAM_STEPS;
    s->nsteps--;
    return st;
}

static void stream_free(db_stream_t *s)
{
    if (s->depth > 0) {
        s->zombie = true; /* stream_leave frees it */
        return;
    }
    if (s->cancel_running) {
        s->freed_pending = true; /* the worker's after-callback frees it */
        return;
    }
    if (s->cur) PQclear(s->cur);
    for (int i = 0; i < s->nheld; i++)
        PQclear(s->held[i]);
    for (int i = 0; i < s->nparams; i++)
        free(s->values[i]);
    free(s->values);
    for (int i = 0; i < 5; i++)
        free(s->session[i]);
    free(s->sql);
    free(s);
}

static void stream_enter(db_stream_t *s)
{
    s->depth++;
}

/* Returns false (and frees s) when the stream finished meanwhile. */
static bool stream_leave(db_stream_t *s)
{
    if (--s->depth > 0 || !s->zombie) return !s->zombie;
    stream_free(s);
    return false;
}

static void stream_finish(db_stream_t *s, db_status_t st, const char *sqlstate, const char *msg)
{
    if (!s->cancelled && s->ops->on_end) {
        db_result_t r = {.status = st, .sqlstate = sqlstate, .message = msg, .wait_ms = s->wait_ms};
        s->ops->on_end(s, &r, s->data);
    }
    stream_free(s);
}

/* Closes the leased connection (state in doubt); the stream ends with st. */
static void stream_break(db_stream_t *s, db_status_t st, const char *why)
{
    db_conn_t *c = s->conn;
    s->conn = NULL;
    if (c) {
        c->lease = NULL;
        s->pool->nleased--;
        db_conn_close(c, DB_ERR_UNAVAILABLE, why);
    }
    stream_finish(s, st, NULL, why);
}

static bool stream_send_fetch(db_stream_t *s)
{
    PGconn *pg = s->conn->pg;
    if (!PQsendQueryParams(pg, s->fetch, 0, NULL, NULL, NULL, NULL, 0) || !PQpipelineSync(pg))
        return false;
    stream_step_push(s, ST_FETCH);
    stream_step_push(s, ST_SYNC);
    s->nfetch++;
    return db_conn_flush(s->conn) == 0;
}

static bool stream_send_end(db_stream_t *s)
{
    PGconn *pg = s->conn->pg;
    const char *sql = (s->failed || s->cancelled) ? "ROLLBACK" : "COMMIT";
    s->ending = true;
    if (!PQsendQueryParams(pg, sql, 0, NULL, NULL, NULL, NULL, 0) || !PQpipelineSync(pg))
        return false;
    stream_step_push(s, ST_END);
    stream_step_push(s, ST_SYNC);
    return db_conn_flush(s->conn) == 0;
}

/* DECLARE over select (or the stream's own SELECT) and the first FETCH. */
static bool stream_send_declare(db_stream_t *s, const char *select)
{
    buf_t d;
    buf_init(&d);
    buf_printf(&d, "DECLARE " STREAM_CURSOR " NO SCROLL CURSOR FOR %s", select ? select : s->sql);
    bool ok = PQsendQueryParams(s->conn->pg, d.data, s->nparams, NULL,
                                (const char *const *)s->values, NULL, NULL, 0);
    buf_dispose(&d);
    if (!ok) return false;
    stream_step_push(s, ST_DECLARE);
    return stream_send_fetch(s);
}

/* The request's role and settings, LOCAL to the stream's transaction (see session.c). */
static bool stream_send_session(db_stream_t *s)
{
    db_pool_t *p = s->pool;
    PGconn *pg = s->conn->pg;
    if (!PQsendQueryParams(pg, p->stmts[p->session_stmt].sql, 5, NULL,
                           (const char *const *)s->session, NULL, NULL, 0))
        return false;
    stream_step_push(s, ST_SESSION);
    if (p->pre_request_stmt >= 0) {
        if (!PQsendQueryParams(pg, p->stmts[p->pre_request_stmt].sql, 0, NULL, NULL, NULL, NULL, 0))
            return false;
        stream_step_push(s, ST_SESSION);
    }
    return true;
}

void db_stream_attach(db_stream_t *s, db_conn_t *c)
{
    s->conn = c;
    PGconn *pg = c->pg;
    bool ok = PQsendQueryParams(pg, "BEGIN READ ONLY", 0, NULL, NULL, NULL, NULL, 0);
    if (ok) stream_step_push(s, ST_BEGIN);
    if (ok && s->session[0]) ok = stream_send_session(s);
    if (ok && s->ops->on_describe) {
        /* The unnamed statement, described: the consumer picks the SELECT to declare. */
        ok = PQsendPrepare(pg, "", s->sql, s->nparams, NULL) && PQsendDescribePrepared(pg, "") &&
             PQpipelineSync(pg);
        if (ok) {
            stream_step_push(s, ST_PREPARE);
            stream_step_push(s, ST_DESCRIBE);
            stream_step_push(s, ST_SYNC);
            ok = db_conn_flush(c) == 0;
        }
    } else if (ok) {
        ok = stream_send_declare(s, NULL);
    }
    if (!ok) stream_break(s, DB_ERR_UNAVAILABLE, "stream send failed");
}

void db_stream_fail_waiting(db_stream_t *s, db_status_t st, const char *why)
{
    stream_finish(s, st, NULL, why);
}

void db_stream_conn_lost(db_stream_t *s, const char *why)
{
    s->conn = NULL;
    stream_finish(s, DB_ERR_UNAVAILABLE, NULL, why);
}

/* ---- cancel, off the loop ---- */

static void stream_cancel_work(uv_work_t *w)
{
    db_stream_t *s = w->data;
    char err[256];
    if (s->cancel_tries > 0) uv_sleep(STREAM_CANCEL_RETRY_MS);
    PQcancel(s->cancel, err, sizeof err); /* a failure only means the FETCH runs to its end */
}

static void stream_advance(db_stream_t *s);

static void stream_cancel_done(uv_work_t *w, int status)
{
    (void)status;
    db_stream_t *s = w->data;
    /*
     * A cancel that reached the backend between two statements (reading the
     * next FETCH) is ignored by the server: while a FETCH is still out, try
     * again a little later.
     */
    if (!s->freed_pending && s->conn && s->nfetch > 0 && ++s->cancel_tries < STREAM_CANCEL_TRIES &&
        uv_queue_work(s->pool->loop, &s->cancel_work, stream_cancel_work, stream_cancel_done) == 0)
        return;
    PQfreeCancel(s->cancel);
    s->cancel = NULL;
    s->cancel_running = false;
    if (s->freed_pending) {
        stream_free(s);
        return;
    }
    stream_advance(s);
}

static void stream_start_cancel(db_stream_t *s)
{
    s->cancel = PQgetCancel(s->conn->pg);
    if (!s->cancel) return;
    s->cancel_work.data = s;
    if (uv_queue_work(s->pool->loop, &s->cancel_work, stream_cancel_work, stream_cancel_done) !=
        0) {
        PQfreeCancel(s->cancel);
        s->cancel = NULL;
        return;
    }
    s->cancel_running = true;
}

/* ---- results ---- */

/* Hands a batch to the consumer (or holds it while paused). Takes res. */
static void stream_deliver(db_stream_t *s, PGresult *res)
{
    if (s->cancelled || (PQntuples(res) == 0 && s->delivered)) {
        PQclear(res);
        return;
    }
    if (s->paused) {
        s->held[s->nheld++] = res; /* at most one per FETCH in flight when it paused */
        return;
    }
    s->delivered = true;
    s->ops->on_rows(s, res, s->data);
    PQclear(res);
}

/* Decides what to send next once nothing (or only a FETCH) is outstanding. */
static void stream_advance(db_stream_t *s)
{
    if (!s->conn || s->ending || s->cancel_running) return;
    if (s->cancelled || s->failed) {
        if (s->nsteps == 0 && !stream_send_end(s))
            stream_break(s, DB_ERR_UNAVAILABLE, "stream send failed");
        return;
    }
    if (s->paused || s->nheld) return;
    bool ok = true;
    if (s->last) {
        if (s->nfetch == 0) ok = stream_send_end(s);
    } else {
        while (ok && s->nfetch < DB_STREAM_AHEAD)
            ok = stream_send_fetch(s);
    }
    if (!ok) stream_break(s, DB_ERR_UNAVAILABLE, "stream send failed");
}

static void stream_note_error(db_stream_t *s, const PGresult *r)
{
    if (s->failed) return;
    s->failed = true;
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", st ? st : "");
    const char *msg = PQresultErrorMessage(r);
    snprintf(s->message, sizeof s->message, "%.*s", (int)strcspn(msg, "\n"), msg);
}

/* The head step's results are complete (res: its last non-NULL result, owned). */
static void stream_step_done(db_stream_t *s, db_stream_step_t step, PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_FATAL_ERROR && res) stream_note_error(s, res);
    if (step == ST_DESCRIBE && st == PGRES_COMMAND_OK && !s->cancelled && !s->failed) {
        const char *select = s->ops->on_describe(s, res, s->data);
        if (!stream_send_declare(s, select)) stream_break(s, DB_ERR_UNAVAILABLE, "send failed");
    }
    if (step == ST_FETCH) {
        s->nfetch--;
        if (st == PGRES_TUPLES_OK) {
            if (PQntuples(res) < s->batch_rows) s->last = true;
            PGresult *batch = res;
            res = NULL;
            /* Prefetch: the server works on the next batch while this one is encoded. */
            if (!s->last && !s->paused && !s->cancelled) stream_advance(s);
            if (s->conn)
                stream_deliver(s, batch);
            else
                PQclear(batch);
        }
    }
    if (res) PQclear(res);
}

static void stream_ended(db_stream_t *s)
{
    db_conn_t *c = s->conn;
    s->conn = NULL;
    bool clean = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
    if (clean) {
        db_pool_checkin(s->pool, c);
    } else {
        c->lease = NULL;
        s->pool->nleased--;
        db_conn_close(c, DB_ERR_UNAVAILABLE, "stream left a transaction open");
    }
    if (s->failed)
        stream_finish(s, db_status_from_sqlstate(s->sqlstate), s->sqlstate, s->message);
    else
        stream_finish(s, DB_OK, NULL, NULL);
}

static void stream_read(db_stream_t *s)
{
    PGconn *pg = s->conn->pg;
    if (!PQconsumeInput(pg)) {
        stream_break(s, DB_ERR_UNAVAILABLE, "connection lost");
        return;
    }
    stream_enter(s);
    while (s->conn && s->nsteps > 0 && !PQisBusy(pg)) {
        db_stream_step_t step = s->steps[s->step_head];
        PGresult *r = PQgetResult(pg);
        if (step == ST_SYNC) {
            if (!r) break; /* the Sync has not arrived yet */
            ExecStatusType st = PQresultStatus(r);
            PQclear(r);
            if (st != PGRES_PIPELINE_SYNC) continue;
            stream_step_pop(s);
            if (s->ending && s->nsteps == 0) {
                stream_ended(s);
                break;
            }
            stream_advance(s);
            continue;
        }
        if (r) {
            if (s->cur) PQclear(s->cur);
            s->cur = r;
            continue;
        }
        PGresult *res = s->cur;
        s->cur = NULL;
        stream_step_pop(s);
        stream_step_done(s, step, res);
    }
    stream_leave(s);
}

void db_stream_on_poll(db_stream_t *s, int events)
{
    if ((events & UV_WRITABLE) && db_conn_flush(s->conn) != 0) {
        stream_break(s, DB_ERR_UNAVAILABLE, "write failed");
        return;
    }
    if (events & UV_READABLE) stream_read(s);
}

/* ---- public ---- */

db_stream_t *db_stream_open(db_pool_t *p, const char *sql, int nparams, const char *const *values,
                            int batch_rows, const db_stream_ops_t *ops, void *data)
{
    return db_stream_open_as(p, NULL, sql, nparams, values, batch_rows, ops, data);
}

db_stream_t *db_stream_open_as(db_pool_t *p, const db_session_t *session, const char *sql,
                               int nparams, const char *const *values, int batch_rows,
                               const db_stream_ops_t *ops, void *data)
{
    if (p->closing) return NULL;
    if (p->route) {
        /* A GET's export may read a replica (one that can run the session, when there is one). */
        db_pool_t *r = db_route_stream_pool(p->route);
        if (!session || r->session_stmt >= 0) p = r;
    }
    if (session && p->session_stmt < 0) abort(); /* db_session_register() was not called */
    db_stream_t *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->pool = p;
    s->ops = ops;
    s->data = data;
    s->batch_rows = batch_rows > 0 ? batch_rows : 1000;
    s->sql = strdup(sql);
    if (!s->sql) abort();
    snprintf(s->fetch, sizeof s->fetch, "FETCH FORWARD %d FROM " STREAM_CURSOR, s->batch_rows);
    s->nparams = nparams;
    s->values = calloc((size_t)(nparams > 0 ? nparams : 1), sizeof *s->values);
    if (!s->values) abort();
    for (int i = 0; i < nparams; i++) {
        if (values[i] && !(s->values[i] = strdup(values[i]))) abort();
    }
    for (int i = 0; session && i < 5; i++)
        if (!(s->session[i] = strdup(session->values[i] ? session->values[i] : ""))) abort();
    db_pool_enqueue_checkout(p, s);
    return s;
}

void db_stream_pause(db_stream_t *s)
{
    s->paused = true;
}

void db_stream_resume(db_stream_t *s)
{
    if (!s->paused) return;
    s->paused = false;
    if (!s->conn) return;
    stream_enter(s);
    /* In order; a consumer that pauses again keeps the rest held. */
    while (s->conn && s->nheld > 0 && !s->paused) {
        PGresult *res = s->held[0];
        s->nheld--;
        memmove(s->held, s->held + 1, sizeof s->held[0] * (size_t)s->nheld);
        if (s->nheld == 0 && !s->last) stream_advance(s); /* the server works while we encode */
        if (s->conn)
            stream_deliver(s, res);
        else
            PQclear(res);
    }
    if (s->conn) stream_advance(s);
    stream_leave(s);
}

void db_stream_cancel(db_stream_t *s)
{
    if (s->cancelled) return;
    s->cancelled = true;
    for (int i = 0; i < s->nheld; i++)
        PQclear(s->held[i]);
    s->nheld = 0;
    if (!s->conn) {
        /* Still waiting for a connection: just leave the queue. */
        db_pool_forget_checkout(s->pool, s);
        stream_free(s);
        return;
    }
    if (s->nfetch > 0) stream_start_cancel(s);
    /* ROLLBACK now if nothing is outstanding, else once the results are in (stream_read). */
    stream_advance(s);
}
