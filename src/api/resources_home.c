/*
 * resources_home - the Lakebase resource job with WORKERS loops.
 *
 * The job is one state machine with timers and workspace calls on one loop,
 * and its status must read the same whatever connection asks. So one loop,
 * the home (loop 0), runs create, delete and status for every loop: another
 * loop checks the request's parameters itself, then posts the operation to
 * the home's inbox with a reply that goes back to its own inbox; the home
 * builds the answer (JSON text) and the request's loop sends it on its
 * exchange (which the http layer keeps valid until answered).
 *
 * A home that stops answers what it still owes other loops 503 (a create
 * waiting for its lookups, a delete with calls out); one that is not running
 * makes the forwarding loop answer 503 itself.
 *
 * Ownership: api_resources_home_t is reference counted (cli/workers.c holds
 * one, every app one). A local reply lives in its request's arena; a remote
 * one is malloc'd by the forwarding loop, owned by the home while the
 * operation runs and freed on the request's loop once sent.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/resources.h"

struct api_resources_home {
    atomic_int refs;
    pthread_mutex_t lock;
    api_resources_t *r; /* the home loop's (used on that loop only); NULL: not running */
    inbox_t *inbox;     /* the home loop's (a reference) */
};

struct res_reply {
    http_exchange_t *ex; /* the request, on its own loop */
    inbox_t *back;       /* NULL: a request of this loop; else its loop's inbox (a reference) */
    buf_t body;          /* remote: the answer being built */
    int status, retry_after;
};

/* ---- replies ---- */

res_reply_t *res_reply_local(http_exchange_t *ex)
{
    res_reply_t *rp = arena_calloc(http_exchange_arena(ex), sizeof *rp);
    rp->ex = ex;
    return rp;
}

static res_reply_t *res_reply_remote(http_exchange_t *ex, inbox_t *back)
{
    res_reply_t *rp = calloc(1, sizeof *rp);
    if (!rp) abort();
    rp->ex = ex;
    rp->back = inbox_ref(back);
    buf_init(&rp->body);
    return rp;
}

static void res_reply_free(res_reply_t *rp)
{
    buf_dispose(&rp->body);
    inbox_unref(rp->back);
    free(rp);
}

void res_reply_json(res_reply_t *rp, json_writer_t *w)
{
    if (!rp->back) {
        web_json_begin(rp->ex, w);
        return;
    }
    buf_reset(&rp->body);
    jw_init(w, &rp->body);
}

static void res_reply_out(res_reply_t *rp)
{
    if (rp->retry_after > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", rp->retry_after);
        http_exchange_add_header(rp->ex, "Retry-After", v);
    }
    web_send_json(rp->ex, rp->status);
}

/* On the request's loop: the home's answer goes out on its exchange. */
static void res_reply_arrive(void *arg)
{
    res_reply_t *rp = arg;
    buf_t *b = http_exchange_body_buf(rp->ex);
    buf_reset(b);
    buf_append(b, rp->body.data, rp->body.len);
    res_reply_out(rp);
    res_reply_free(rp);
}

void res_reply_send(res_reply_t *rp, int status, int retry_after)
{
    rp->status = status;
    rp->retry_after = retry_after;
    if (!rp->back) {
        res_reply_out(rp);
        return;
    }
    /* A loop that left has no request waiting any more (it drained first). */
    if (!inbox_post(rp->back, res_reply_arrive, rp)) res_reply_free(rp);
}

void res_reply_detail(res_reply_t *rp, int status, const char *detail)
{
    json_writer_t w;
    res_reply_json(rp, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, "detail", detail);
    jw_object_end(&w);
    res_reply_send(rp, status, 0);
}

void res_reply_abandon(res_reply_t *rp)
{
    if (!rp->back) return; /* this loop's requests are drained by now */
    json_writer_t w;
    res_reply_json(rp, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, "detail", "the event loop running the Lakebase resource job stopped");
    jw_object_end(&w);
    res_reply_send(rp, 503, 1);
}

/* ---- the home ---- */

api_resources_home_t *api_resources_home_new(void)
{
    api_resources_home_t *h = calloc(1, sizeof *h);
    if (!h) abort();
    atomic_init(&h->refs, 1);
    pthread_mutex_init(&h->lock, NULL);
    return h;
}

static api_resources_home_t *res_home_share(api_resources_home_t *h)
{
    atomic_fetch_add(&h->refs, 1);
    return h;
}

void api_resources_home_release(api_resources_home_t *h)
{
    if (!h || atomic_fetch_sub(&h->refs, 1) != 1) return;
    inbox_unref(h->inbox);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void api_app_set_resources_home(api_app_t *app, api_resources_home_t *h, bool home, inbox_t *inbox)
{
    api_resources_t *r = app->resources;
    if (!r || !h || !inbox) return;
    r->home = res_home_share(h);
    r->inbox = inbox_ref(inbox);
    r->is_home = home;
    if (!home) return;
    pthread_mutex_lock(&h->lock);
    h->r = r;
    inbox_unref(h->inbox);
    h->inbox = inbox_ref(inbox);
    pthread_mutex_unlock(&h->lock);
}

void res_home_leave(api_resources_t *r)
{
    if (!r->home) return;
    if (r->is_home) {
        pthread_mutex_lock(&r->home->lock);
        r->home->r = NULL;
        pthread_mutex_unlock(&r->home->lock);
    }
    inbox_unref(r->inbox);
    api_resources_home_release(r->home);
    r->inbox = NULL;
    r->home = NULL;
}

bool res_is_home(const api_resources_t *r)
{
    return !r->home || r->is_home;
}

typedef struct res_forwarded {
    int op;
    res_options_t opt;
    res_reply_t *rp;
    api_resources_t *home; /* the home's, read on the home's loop only */
} res_forwarded_t;

/* On the home loop. */
static void res_forwarded_run(void *arg)
{
    res_forwarded_t *f = arg;
    if (f->op == RES_OP_CREATE)
        res_create_run(f->home, f->rp, &f->opt);
    else if (f->op == RES_OP_DELETE)
        res_delete_run(f->home, f->rp);
    else
        res_status_run(f->home, f->rp);
    free(f);
}

void res_forward(api_resources_t *r, int op, const res_options_t *opt, http_exchange_t *ex)
{
    res_forwarded_t *f = calloc(1, sizeof *f);
    if (!f) abort();
    f->op = op;
    if (opt) f->opt = *opt;
    f->rp = res_reply_remote(ex, r->inbox);
    api_resources_home_t *h = r->home;
    pthread_mutex_lock(&h->lock); /* held: the home cannot leave between the look and the post */
    f->home = h->r;
    bool sent = h->r && h->inbox && inbox_post(h->inbox, res_forwarded_run, f);
    pthread_mutex_unlock(&h->lock);
    if (sent) return;
    res_reply_free(f->rp);
    free(f);
    http_exchange_add_header(ex, "Retry-After", "1");
    web_send_detail(ex, 503, "the event loop that runs the Lakebase resource job is not running");
}
