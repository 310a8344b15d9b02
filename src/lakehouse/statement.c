/*
 * lakehouse/statement - one SQL statement on the warehouse, on the loop.
 *
 * POST /api/2.0/sql/statements with a short wait_timeout (LAKEHOUSE_WAIT_TIMEOUT,
 * 5 s: a statement that ends by then comes back in the same round trip) and
 * on_wait_timeout=CONTINUE; then, while PENDING or RUNNING, GET the statement
 * with a backoff of 50 ms growing by half up to 1 s; then every chunk in order
 * by next_chunk_internal_link. INLINE results in JSON_ARRAY: the cached reads
 * are small by construction (bounded limits); exports use export.c instead.
 *
 * A 429 is retried after its Retry-After (or the backoff) until the deadline.
 * The deadline is DB_COMMAND_TIMEOUT: past it the statement is cancelled on
 * the warehouse and answered 504. A tick every 250 ms asks whether anybody
 * still wants the answer (the waiters' clients may have gone); when nobody
 * does, the statement is cancelled. While a statement is PENDING the
 * warehouse state is probed: a STARTING or STOPPED warehouse is answered 503
 * with Retry-After instead of holding the request for minutes.
 *
 * Ownership: a statement owns its request body, its partial result (handed
 * to the callback on success) and its timer. It is freed once answered and
 * no workspace call of its own is in flight (their callbacks need it), from
 * the timer's close callback; statements still listed at shutdown are freed
 * by lh_stmts_drop().
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lakehouse/internal.h"
#include "lakeapi/log.h"

#define LH_TICK_S        0.25
#define LH_POLL_FIRST_S  0.05
#define LH_POLL_MAX_S    1.0
#define LH_RETRY_AFTER_S 10 /* what a 503 of ours asks clients to wait, when nothing better */

typedef enum {
    LH_PH_SUBMIT,       /* the submit is out */
    LH_PH_RETRY_SUBMIT, /* a 429 on submit: again at next_at */
    LH_PH_WAIT,         /* PENDING/RUNNING: poll at next_at */
    LH_PH_POLL,         /* a poll is out */
    LH_PH_CHUNK,        /* a chunk fetch is out */
    LH_PH_RETRY_CHUNK,  /* a 429 on a chunk: again at next_at */
    LH_PH_DONE,
} lh_phase_t;

struct lh_stmt {
    lakehouse_t *lh;
    char *request;       /* the submit body */
    char id[128];        /* statement_id once known */
    lh_result_t *result; /* rows so far */
    lh_phase_t phase;
    int busy; /* workspace calls of ours in flight */
    bool answered, cancel_sent, closing;
    double started, deadline, next_at, backoff, wanted_at;
    char *next_link;
    int flags;
    lh_stmt_cb cb;
    lh_wanted_fn wanted;
    void *data;
    uv_timer_t timer;
    lh_stmt_t *prev, *next;
};

static void lh_stmt_unlink(lh_stmt_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        s->lh->stmts = s->next;
    if (s->next) s->next->prev = s->prev;
}

static void lh_stmt_free(lh_stmt_t *s)
{
    free(s->request);
    free(s->next_link);
    lh_result_free(s->result);
    free(s);
}

static void lh_stmt_closed(uv_handle_t *h)
{
    lh_stmt_t *s = h->data;
    lh_stmt_unlink(s);
    lh_stmt_free(s);
}

/* Frees s once it is answered and nothing of ours is in flight. */
static void lh_stmt_maybe_close(lh_stmt_t *s)
{
    if (!s->answered || s->busy > 0 || s->closing) return;
    s->closing = true;
    uv_timer_stop(&s->timer);
    if (uv_is_closing((uv_handle_t *)&s->timer)) return; /* the shutdown walk: lh_stmts_drop */
    uv_close((uv_handle_t *)&s->timer, lh_stmt_closed);
}

void lh_stmts_drop(lakehouse_t *lh)
{
    for (lh_stmt_t *s = lh->stmts, *n; s; s = n) {
        n = s->next;
        lh_stmt_free(s);
    }
    lh->stmts = NULL;
}

static void lh_answer(lh_stmt_t *s, int status, const char *detail, int retry_after,
                      const char *wh_state)
{
    if (s->answered) return;
    s->answered = true;
    s->phase = LH_PH_DONE;
    lakehouse_t *lh = s->lh;
    lh_observe_latency(lh, lh_now() - s->started);
    if (status == 504) lh->m.timeouts++;
    if (status && status != 499 && status != 504) lh->m.failed++;
    lh_outcome_t o = {.status = status,
                      .detail = detail,
                      .retry_after = retry_after,
                      .wh_state = wh_state,
                      .result = status == 0 ? s->result : NULL};
    if (status == 0) s->result = NULL; /* the receiver's now */
    s->cb(&o, s->data);
    lh_stmt_maybe_close(s);
}

static void lh_on_cancelled(const workspace_response_t *res, void *data)
{
    lh_stmt_t *s = data;
    (void)res;
    s->busy--;
    lh_stmt_maybe_close(s);
}

/* Cancels the statement on the warehouse (once its id is known). */
static void lh_cancel(lh_stmt_t *s)
{
    if (s->cancel_sent || !s->id[0]) return;
    s->cancel_sent = true;
    s->lh->m.canceled++;
    buf_t path;
    buf_init(&path);
    buf_append_str(&path, "/api/2.0/sql/statements/");
    workspace_escape_segment(&path, s->id);
    buf_append_str(&path, "/cancel");
    buf_append(&path, "", 1);
    if (workspace_call(s->lh->ws, WORKSPACE_POST, path.data, "{}", 0, lh_on_cancelled, s) == 0)
        s->busy++;
    buf_dispose(&path);
}

static void lh_schedule(lh_stmt_t *s, double delay_s)
{
    s->next_at = lh_now() + delay_s;
}

static void lh_on_reply(const workspace_response_t *res, void *data);

static void lh_call(lh_stmt_t *s, workspace_method_t m, const char *path, const char *body)
{
    double timeout = s->lh->wait_timeout_s + 10.0;
    if (workspace_call(s->lh->ws, m, path, body, timeout, lh_on_reply, s) == 0) {
        s->busy++;
        return;
    }
    lh_answer(s, 503, "SQL warehouse call could not be started", LH_RETRY_AFTER_S, NULL);
}

static void lh_submit(lh_stmt_t *s)
{
    s->phase = LH_PH_SUBMIT;
    s->lh->m.submitted++;
    /* alongside: is the warehouse running? (a stopped one keeps the submit PENDING) */
    lh_probe(s->lh, 2.0);
    lh_call(s, WORKSPACE_POST, "/api/2.0/sql/statements", s->request);
}

static void lh_poll(lh_stmt_t *s)
{
    char path[200];
    snprintf(path, sizeof path, "/api/2.0/sql/statements/%s", s->id);
    s->phase = LH_PH_POLL;
    s->lh->m.polls++;
    lh_call(s, WORKSPACE_GET, path, NULL);
}

/* The warehouse's error codes that mean "later" rather than "wrong". */
static bool lh_transient(const char *code)
{
    static const char *const codes[] = {"TEMPORARILY_UNAVAILABLE", "SERVICE_UNDER_MAINTENANCE",
                                        "WORKSPACE_TEMPORARILY_UNAVAILABLE", "RESOURCE_EXHAUSTED",
                                        NULL};
    for (int i = 0; codes[i]; i++)
        if (strcmp(code, codes[i]) == 0) return true;
    return false;
}

static void lh_failed(lh_stmt_t *s, const lh_reply_t *p)
{
    char detail[700];
    snprintf(detail, sizeof detail, "SQL warehouse statement %s: %s%s%s", lh_state_name(p->state),
             p->error_code[0] ? p->error_code : "no error code", p->message[0] ? ": " : "",
             p->message);
    workspace_scrub(s->lh->ws, detail);
    if (strcmp(p->error_code, "DEADLINE_EXCEEDED") == 0)
        lh_answer(s, 504, detail, 0, NULL);
    else if (lh_transient(p->error_code))
        lh_answer(s, 503, detail, LH_RETRY_AFTER_S, NULL);
    else
        lh_answer(s, 502, detail, 0, NULL);
}

/* A reply with state SUCCEEDED (a statement or a chunk): on to the next chunk, or done. */
static void lh_external_done(lh_stmt_t *s, lh_reply_t *p)
{
    if (s->answered) return;
    s->answered = true;
    s->phase = LH_PH_DONE;
    lh_observe_latency(s->lh, lh_now() - s->started);
    lh_outcome_t o = {.links = p->links,
                      .nlinks = p->nlinks,
                      .next_link = p->next_link,
                      .total_rows = p->total_rows};
    s->cb(&o, s->data);
    lh_stmt_maybe_close(s);
}

static void lh_next_chunk(lh_stmt_t *s, lh_reply_t *p)
{
    if (s->flags & LH_STMT_EXTERNAL_CSV) {
        lh_external_done(s, p);
        return;
    }
    free(s->next_link);
    s->next_link = p->next_link;
    p->next_link = NULL;
    if (p->nlinks > 0) { /* INLINE was asked: links are a warehouse surprise */
        lh_answer(s, 502, "SQL warehouse answered EXTERNAL_LINKS to an INLINE statement", 0, NULL);
        return;
    }
    if (!s->next_link) {
        lh_answer(s, 0, NULL, 0, NULL);
        return;
    }
    s->phase = LH_PH_CHUNK;
    s->lh->m.chunks++;
    lh_call(s, WORKSPACE_GET, s->next_link, NULL);
}

static void lh_on_status(lh_stmt_t *s, lh_reply_t *p)
{
    if (p->statement_id[0] && !s->id[0]) snprintf(s->id, sizeof s->id, "%s", p->statement_id);
    if (s->answered) { /* nobody waits any more (timeout, client gone) */
        if (p->state == LH_PENDING || p->state == LH_RUNNING) lh_cancel(s);
        return;
    }
    switch (p->state) {
    case LH_SUCCEEDED:
        lh_next_chunk(s, p);
        return;
    case LH_PENDING:
    case LH_RUNNING:
        if (!s->id[0]) {
            lh_answer(s, 502, "SQL warehouse answered without a statement_id", 0, NULL);
            return;
        }
        if (p->state == LH_PENDING) lh_probe(s->lh, 1.0);
        s->phase = LH_PH_WAIT;
        lh_schedule(s, s->backoff);
        s->backoff = s->backoff * 1.5 < LH_POLL_MAX_S ? s->backoff * 1.5 : LH_POLL_MAX_S;
        return;
    default:
        lh_failed(s, p);
        return;
    }
}

/* A non-2xx answer: 429 waits and retries the same call; the rest end the statement. */
static void lh_on_http_error(lh_stmt_t *s, const workspace_response_t *res)
{
    lakehouse_t *lh = s->lh;
    if (res->status == 429) {
        lh->m.rate_limited++;
        double wait = res->retry_after >= 0 ? (double)res->retry_after : s->backoff;
        if (lh_now() + wait < s->deadline) {
            s->phase = s->phase == LH_PH_SUBMIT  ? LH_PH_RETRY_SUBMIT
                       : s->phase == LH_PH_CHUNK ? LH_PH_RETRY_CHUNK
                                                 : LH_PH_WAIT;
            lh_schedule(s, wait);
            return;
        }
        lh_answer(s, 503, "SQL warehouse rate limit (429) outlasted DB_COMMAND_TIMEOUT",
                  res->retry_after > 0 ? (int)res->retry_after : LH_RETRY_AFTER_S, NULL);
        return;
    }
    char detail[800];
    snprintf(detail, sizeof detail, "SQL warehouse call failed: %s",
             res->error ? res->error : "no answer");
    workspace_scrub(lh->ws, detail);
    if (res->status == 0 || res->status >= 500 || res->auth_failed)
        lh_answer(s, 503, detail, res->retry_after > 0 ? (int)res->retry_after : LH_RETRY_AFTER_S,
                  NULL);
    else
        lh_answer(s, 502, detail, 0, NULL);
    lh_probe(lh, 1.0);
}

static void lh_on_reply(const workspace_response_t *res, void *data)
{
    lh_stmt_t *s = data;
    lh_phase_t phase = s->phase;
    if (phase == LH_PH_DONE) phase = s->id[0] ? LH_PH_POLL : LH_PH_SUBMIT; /* answered meanwhile */
    s->busy--;
    if (res->status < 200 || res->status >= 300) {
        if (s->answered) {
            lh_stmt_maybe_close(s);
            return;
        }
        lh_on_http_error(s, res);
        lh_stmt_maybe_close(s);
        return;
    }
    s->lh->m.bytes += res->len;
    lh_reply_t p;
    char err[200];
    bool chunk = phase == LH_PH_CHUNK;
    if (lh_parse_reply(res->body, res->len, chunk, s->answered ? NULL : s->result, &p, err,
                       sizeof err) != 0) {
        if (!s->answered) lh_answer(s, 502, err, 0, NULL);
        lh_stmt_maybe_close(s);
        return;
    }
    if (chunk && !s->answered)
        lh_next_chunk(s, &p);
    else if (!chunk)
        lh_on_status(s, &p);
    lh_reply_dispose(&p);
    lh_stmt_maybe_close(s);
}

/* Every tick: deadline, interest, warehouse state, and a due poll or retry. */
static void lh_on_tick(uv_timer_t *t)
{
    lh_stmt_t *s = t->data;
    if (s->answered) return;
    double now = lh_now();
    int retry_after = 0;
    bool ask = now >= s->wanted_at;
    if (ask) s->wanted_at = now + LH_TICK_S;
    if (now >= s->deadline) {
        lh_cancel(s);
        lh_answer(s, 504, "SQL warehouse statement timed out (DB_COMMAND_TIMEOUT)", 0, NULL);
    } else if (ask && s->wanted && !s->wanted(s->data)) {
        lh_cancel(s);
        lh_answer(s, 499, "client closed request", 0, NULL);
    } else if ((s->phase == LH_PH_WAIT || s->phase == LH_PH_SUBMIT) &&
               !lh_warehouse_usable(s->lh, &retry_after)) {
        /* (a submit still out is cancelled when its answer brings the statement id) */
        char detail[200], st[24];
        lh_wh_get(s->lh, st, NULL, 0);
        snprintf(detail, sizeof detail, "SQL warehouse %s is %s", s->lh->warehouse_id, st);
        lh_cancel(s);
        lh_answer(s, 503, detail, retry_after, st);
    } else if (s->phase == LH_PH_WAIT && now >= s->next_at) {
        lh_poll(s);
    } else if (s->phase == LH_PH_RETRY_SUBMIT && now >= s->next_at) {
        lh_submit(s);
    } else if (s->phase == LH_PH_RETRY_CHUNK && now >= s->next_at) {
        s->phase = LH_PH_CHUNK;
        lh_call(s, WORKSPACE_GET, s->next_link, NULL);
    }
    lh_stmt_maybe_close(s);
}

static char *lh_request_body(lakehouse_t *lh, const char *sql, const lh_param_t *params, int n,
                             int flags)
{
    json_t *req = json_object();
    json_object_set_new(req, "warehouse_id", json_string(lh->warehouse_id));
    json_object_set_new(req, "statement", json_string(sql));
    if (lh->catalog[0]) json_object_set_new(req, "catalog", json_string(lh->catalog));
    if (lh->schema[0]) json_object_set_new(req, "schema", json_string(lh->schema));
    char wait[16];
    snprintf(wait, sizeof wait, "%ds", lh->wait_timeout_s);
    json_object_set_new(req, "wait_timeout", json_string(wait));
    json_object_set_new(req, "on_wait_timeout", json_string("CONTINUE"));
    bool csv = flags & LH_STMT_EXTERNAL_CSV;
    json_object_set_new(req, "disposition", json_string(csv ? "EXTERNAL_LINKS" : "INLINE"));
    json_object_set_new(req, "format", json_string(csv ? "CSV" : "JSON_ARRAY"));
    json_t *ps = json_array();
    for (int i = 0; i < n; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "name", json_string(params[i].name));
        json_object_set_new(p, "value",
                            params[i].value ? json_string(params[i].value) : json_null());
        json_object_set_new(p, "type", json_string(params[i].type ? params[i].type : "STRING"));
        json_array_append_new(ps, p);
    }
    json_object_set_new(req, "parameters", ps);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text) abort();
    return text;
}

lh_stmt_t *lh_stmt_run(lakehouse_t *lh, const char *sql, const lh_param_t *params, int nparams,
                       lh_stmt_cb cb, lh_wanted_fn wanted, void *data)
{
    return lh_stmt_run_ext(lh, sql, params, nparams, 0, cb, wanted, data);
}

lh_stmt_t *lh_stmt_run_ext(lakehouse_t *lh, const char *sql, const lh_param_t *params, int nparams,
                           int flags, lh_stmt_cb cb, lh_wanted_fn wanted, void *data)
{
    lh_stmt_t *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->lh = lh;
    s->flags = flags;
    s->cb = cb;
    s->wanted = wanted;
    s->data = data;
    s->request = lh_request_body(lh, sql, params, nparams, flags);
    s->result = lh_result_new();
    s->started = lh_now();
    s->deadline = s->started + lh->command_timeout_s;
    s->backoff = LH_POLL_FIRST_S;
    uv_timer_init(lh->loop, &s->timer);
    s->timer.data = s;
    s->wanted_at = s->started + LH_TICK_S;
    /* the tick is the poll clock: half the first backoff */
    uv_timer_start(&s->timer, lh_on_tick, (uint64_t)(LH_POLL_FIRST_S * 500),
                   (uint64_t)(LH_POLL_FIRST_S * 500));
    s->next = lh->stmts;
    if (lh->stmts) lh->stmts->prev = s;
    lh->stmts = s;
    lh->m.statements++;
    lh_submit(s);
    return s;
}
