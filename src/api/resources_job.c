/*
 * resources_job - the creation job on the loop: it looks the three resources
 * up, answers the create request with what it found and what it starts, then
 * drives the steps in order - create what is missing, poll (a uv_timer,
 * 0.5 s doubling to 15 s) until each is ready - while GET
 * /api/v1/resources/status reports its state. A request never waits for
 * provisioning, which takes minutes.
 *
 * The decisions are resources_model.c's (res_job_next and friends); this
 * file only issues the calls and feeds the answers back. Once the lookups
 * are back at most one call is out at a time.
 *
 * Ownership: api_resources_t owns the job and a ticket per call in flight.
 * A ticket names its job by id, so a job cancelled (by a delete) or
 * replaced is simply gone when its late answers come back; tickets of calls
 * dropped at shutdown (the workspace frees them without calling back) are
 * freed by res_job_dispose().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/resources.h"
#include "lakeapi/log.h"

/* What a step does with its call's answer. */
typedef void (*job_answer_fn)(api_resources_t *r, res_job_t *job, res_kind_t kind,
                              const workspace_response_t *res);

typedef struct res_ticket {
    api_resources_t *r;
    unsigned job_id;
    res_kind_t kind;
    job_answer_fn answer;
    struct res_ticket *prev, *next;
} res_ticket_t;

static void job_drive(api_resources_t *r, res_job_t *job);

/* ---- calls and their tickets ---- */

static void job_ticket_unlink(res_ticket_t *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        t->r->tickets = t->next;
    if (t->next) t->next->prev = t->prev;
}

/*
 * Every call's answer ends its ticket, and goes to the step's handler while
 * the ticket's job is still being driven; a job cancelled or replaced
 * meanwhile is gone, and the answer is dropped.
 */
static void job_on_answer(const workspace_response_t *res, void *ticket)
{
    res_ticket_t *t = ticket;
    api_resources_t *r = t->r;
    res_kind_t kind = t->kind;
    job_answer_fn answer = t->answer;
    res_job_t *job = r->job;
    bool live = job && job->id == t->job_id &&
                (job->state == RES_JOB_CHECKING || job->state == RES_JOB_RUNNING);
    job_ticket_unlink(t);
    free(t);
    if (live) answer(r, job, kind, res);
}

/* "creating database instance x" as the what of a failure. */
static void job_what(const res_job_t *job, res_kind_t kind, const char *verb, char *out, size_t n)
{
    snprintf(out, n, "%s %s %s", verb, res_kind_label(kind), res_kind_name(kind, &job->names));
}

/* " (STATE)" after a resource's name in the log, or "" when no state is known. */
static const char *job_state_suffix(const res_step_t *s, char *out, size_t n)
{
    if (!s->remote_state[0]) return "";
    snprintf(out, n, " (%s)", s->remote_state);
    return out;
}

/*
 * Starts method on step kind's resource (collection: on the collection, for
 * creates); answer gets the response. Returns false when the call cannot
 * start: the step is then FAILED.
 */
static bool job_call(api_resources_t *r, res_job_t *job, res_kind_t kind, workspace_method_t method,
                     bool collection, const char *body, job_answer_fn answer)
{
    res_ticket_t *t = calloc(1, sizeof *t);
    if (!t) abort();
    t->r = r;
    t->job_id = job->id;
    t->kind = kind;
    t->answer = answer;
    t->next = r->tickets;
    if (r->tickets) r->tickets->prev = t;
    r->tickets = t;
    char *path =
        collection ? strdup(res_collection_path(kind)) : res_resource_path(kind, &job->names, NULL);
    if (!path) abort();
    /* Lookups and polls are quick or broken: the create request waits for its lookups. */
    double timeout_s = method == WORKSPACE_GET ? WORKSPACE_TIMEOUT_S : RES_CALL_TIMEOUT_S;
    int rc = workspace_call(r->app->workspace, method, path, body, timeout_s, job_on_answer, t);
    free(path);
    if (rc == 0) return true;
    job_ticket_unlink(t);
    free(t);
    char what[700];
    job_what(job, kind, collection ? "creating" : "looking up", what, sizeof what);
    workspace_response_t none = {
        .error = "cannot start the request", .error_code = "", .message = ""};
    res_step_fail(&job->steps[kind], collection ? "create" : "lookup", &none, what);
    return false;
}

/* ---- finishing ---- */

static void job_answer_waiters(res_job_t *job)
{
    res_waiter_t *w = job->waiters;
    job->waiters = NULL;
    for (res_waiter_t *n; w; w = n) {
        n = w->next;
        res_answer_create(w->rp, job);
        free(w);
    }
}

static void job_finish(api_resources_t *r, res_job_t *job, res_job_state_t state)
{
    job->state = state;
    job->finished_at = workspace_now();
    if (state != RES_JOB_DONE) res_job_skip_rest(job);
    if (r->timer_ready) uv_timer_stop(&r->timer);
    char msg[2048];
    res_job_message(job, msg, sizeof msg);
    if (state == RES_JOB_DONE)
        log_info("lakebase resources: %s", msg);
    else
        log_warn("lakebase resources: %s", msg);
    job_answer_waiters(job);
}

/* ---- polls ---- */

static void job_on_polled(api_resources_t *r, res_job_t *job, res_kind_t kind,
                          const workspace_response_t *res)
{
    res_step_t *s = &job->steps[kind];
    char what[700], state[80];
    if (res->status >= 200 && res->status < 300) {
        s->poll_errors = 0;
        s->verifying = false;
        res_step_observe(s, res->body, res->len);
        if (s->state == RES_STEP_READY)
            log_info("lakebase resources: %s %s is ready%s", res_kind_label(kind),
                     res_kind_name(kind, &job->names), job_state_suffix(s, state, sizeof state));
    } else if (s->verifying && res_is_not_found(res->status, res->error_code)) {
        s->error.set = true; /* the create's own failure, kept when it was sent */
        s->state = RES_STEP_FAILED;
    } else if (++s->poll_errors >= RES_MAX_POLL_ERRORS) {
        job_what(job, kind, "polling", what, sizeof what);
        res_step_fail(s, "poll", res, what);
    } else {
        log_warn("lakebase resources: polling %s %s failed (%d of %d): %s", res_kind_label(kind),
                 res_kind_name(kind, &job->names), s->poll_errors, RES_MAX_POLL_ERRORS,
                 res->error ? res->error : "?");
    }
    job_drive(r, job);
}

static void job_poll(api_resources_t *r, res_job_t *job, res_kind_t kind)
{
    job->steps[kind].polls++;
    if (!job_call(r, job, kind, WORKSPACE_GET, false, NULL, job_on_polled))
        job_drive(r, job); /* the step failed */
}

static void job_on_timer(uv_timer_t *timer)
{
    api_resources_t *r = timer->data;
    res_job_t *job = r->job;
    if (!job || job->state != RES_JOB_RUNNING) return;
    res_action_t a = res_job_next(job);
    if (a.kind == RES_ACT_POLL) job_poll(r, job, a.step);
}

/* ---- creates ---- */

static void job_on_created(api_resources_t *r, res_job_t *job, res_kind_t kind,
                           const workspace_response_t *res)
{
    res_step_t *s = &job->steps[kind];
    char what[700], state[80];
    job_what(job, kind, "creating", what, sizeof what);
    s->since = workspace_now();
    s->polls = 0;
    if (res->status >= 200 && res->status < 300) {
        res_step_observe(s, res->body, res->len);
        log_info("lakebase resources: created %s %s%s", res_kind_label(kind),
                 res_kind_name(kind, &job->names), job_state_suffix(s, state, sizeof state));
    } else if (res_is_already_exists(res->status, res->error_code)) {
        s->state = RES_STEP_PROVISIONING; /* someone else created it meanwhile: watch it */
    } else if (res->status == 0 || res->status >= 500) {
        /* No clear answer: the create may have happened anyway. One look decides. */
        res_step_fail(s, "create", res, what);
        s->error.set = false;
        s->state = RES_STEP_PROVISIONING;
        s->verifying = true;
    } else {
        res_step_fail(s, "create", res, what);
    }
    job_drive(r, job);
}

static void job_create(api_resources_t *r, res_job_t *job, res_kind_t kind)
{
    char *body = kind == RES_INSTANCE  ? res_instance_body(&job->names, &job->opt)
                 : kind == RES_CATALOG ? res_catalog_body(&job->names)
                                       : res_synced_body(&job->names);
    job->steps[kind].state = RES_STEP_CREATING;
    bool started = job_call(r, job, kind, WORKSPACE_POST, true, body, job_on_created);
    free(body);
    if (!started) job_drive(r, job);
}

/* ---- the driver ---- */

static void job_drive(api_resources_t *r, res_job_t *job)
{
    for (;;) {
        res_action_t a = res_job_next(job);
        switch (a.kind) {
        case RES_ACT_DONE:
            job_finish(r, job, RES_JOB_DONE);
            return;
        case RES_ACT_FAIL:
            job_finish(r, job, RES_JOB_FAILED);
            return;
        case RES_ACT_CREATE:
            job_create(r, job, a.step);
            return;
        case RES_ACT_POLL:
            if (res_step_check_deadline(&job->steps[a.step], &job->names, workspace_now()))
                continue;
            uv_timer_start(&r->timer, job_on_timer, a.delay_ms, 0);
            return;
        case RES_ACT_NONE:
        default:
            return;
        }
    }
}

/* ---- lookups ---- */

static void job_on_lookup(api_resources_t *r, res_job_t *job, res_kind_t kind,
                          const workspace_response_t *res)
{
    res_step_t *s = &job->steps[kind];
    if (res->status >= 200 && res->status < 300) {
        s->existed = true;
        s->since = workspace_now();
        res_step_observe(s, res->body, res->len);
    } else if (res_is_not_found(res->status, res->error_code)) {
        s->state = RES_STEP_TO_CREATE;
    } else {
        char what[700];
        job_what(job, kind, "looking up", what, sizeof what);
        res_step_fail(s, "lookup", res, what);
    }
    if (--job->lookups_pending > 0) return;
    job->state = RES_JOB_RUNNING;
    /* Drive first: the answer then tells whether it is already done, or failed to start. */
    job_drive(r, job);
    job_answer_waiters(job);
}

void res_job_start(api_resources_t *r, const res_options_t *opt, res_reply_t *rp)
{
    if (!r->timer_ready) {
        uv_timer_init(r->app->loop, &r->timer);
        r->timer.data = r;
        r->timer_ready = true;
    }
    free(r->job);
    res_job_t *job = malloc(sizeof *job);
    if (!job) abort();
    res_job_init(job, &r->names, opt, workspace_now());
    job->id = ++r->next_job_id;
    r->job = job;
    if (rp) res_job_add_waiter(r, rp);
    log_info("lakebase resources: checking database instance %s, catalog %s, synced table %s",
             job->names.instance, job->names.catalog, job->names.synced);
    job->lookups_pending = RES_NSTEPS;
    for (int k = 0; k < RES_NSTEPS; k++) {
        job->steps[k].state = RES_STEP_CHECKING;
        if (!job_call(r, job, (res_kind_t)k, WORKSPACE_GET, false, NULL, job_on_lookup))
            job->lookups_pending--;
    }
    if (job->lookups_pending == 0) job_finish(r, job, RES_JOB_FAILED);
}

void res_job_add_waiter(api_resources_t *r, res_reply_t *rp)
{
    res_waiter_t *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->rp = rp;
    w->next = r->job->waiters;
    r->job->waiters = w;
}

void res_job_cancel(api_resources_t *r)
{
    res_job_t *job = r->job;
    if (!job || (job->state != RES_JOB_CHECKING && job->state != RES_JOB_RUNNING)) return;
    job_finish(r, job, RES_JOB_CANCELLED);
}

void res_job_dispose(api_resources_t *r)
{
    for (res_ticket_t *t = r->tickets, *n; t; t = n) {
        n = t->next;
        free(t);
    }
    r->tickets = NULL;
    if (r->job) {
        for (res_waiter_t *w = r->job->waiters, *n; w; w = n) {
            n = w->next;
            res_reply_abandon(w->rp); /* another loop's request must not wait forever */
            free(w);
        }
    }
    free(r->job);
    r->job = NULL;
}
