/*
 * workers - WORKERS > 1: N event loops in N threads, each a whole server of
 * its own (serve.c's serve_state_t: pool slice, route and replicas, caches,
 * counters, HTTP server on the same port with SO_REUSEPORT, the kernel
 * spreading connections), sharing only what this file hands them:
 *
 *   - the settings (read-only after loading);
 *   - the credential provider: a Lakebase provider runs on a hub loop in the
 *     main thread and every loop asks it through a client (credentials hub.c),
 *     so there is one cached token and one mint; the static provider has no
 *     state and each loop makes its own;
 *   - the Data API's schema snapshot: loop 0 loads it (and reloads it on
 *     NOTIFY or SIGUSR1) and every other loop adopts the same one, swapped on
 *     its own loop (its requests see the old or the new, never a mix);
 *   - the rate-limit table (auth_ratelimit_t, locked inside): RATE_LIMIT_RPS /
 *     BURST hold per identity, not per loop;
 *   - the connection limits (http_conn_limits_t): MAX_CONNECTIONS and
 *     MAX_CONNECTIONS_PER_IP count every loop's connections;
 *   - the JWKS (auth_jwks_shared_t): one key set and one refresh per process;
 *   - the Lakebase resource job (api_resources_home_t): loop 0 runs it, the
 *     other loops forward its routes there;
 *   - the SQL warehouse backend's cache, coalescing, warehouse state and
 *     table discovery (lakehouse_shared_t, lakehouse/shared.c);
 *   - /metrics: the loop that gets the scrape asks every other loop, through
 *     its mailbox, to render its own text on its own thread, and answers with
 *     the merge (web_metrics_merge), so it reads as one loop would.
 *
 * Mailboxes: an inbox per loop (util/inbox.c: closures run on that loop). A
 * loop that is shutting down closes its mailbox (posting to it then fails)
 * after running what was left in it.
 *
 * SIGINT/SIGTERM reach every loop (libuv delivers a signal to the handles of
 * all loops): each drains and stops by itself; the main thread joins them,
 * then stops the hub loop.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "lakeapi/api.h"
#include "cli/cli.h"
#include "lakehouse/lakehouse.h"
#include "lakeapi/credentials.h"
#include "lakeapi/inbox.h"
#include "lakeapi/log.h"
#include "lakeapi/rest.h"
#include "web/web.h"

typedef struct mailbox {
    inbox_t *inbox;         /* under the group's lock; NULL: the loop has left (or not joined) */
    web_metrics_t *metrics; /* the loop's, for gathers; set with the mailbox */
    rest_app_t *rest;       /* the loop's Data API, for the shared snapshot */
} mailbox_t;

struct cli_workers {
    int n;
    const config_t *cfg;
    pthread_mutex_t lock;
    mailbox_t *boxes;
    uv_loop_t hub_loop; /* the main thread's: the shared credential provider */
    uv_async_t hub_stop;
    db_credentials_t *real; /* NULL: static credentials, one per loop */
    credentials_hub_t *hub;
    int finished;
    struct rest_snapshot *latest; /* under lock: what a loop that joins late adopts */
    auth_ratelimit_t *rate;       /* every loop's auth_t holds a reference; NULL: off */
    http_conn_limits_t *limits; /* every loop's server holds a reference; ours dropped at the end */
    lakehouse_shared_t *lakehouse;  /* every loop's backend holds a reference; NULL: no warehouse */
    auth_jwks_shared_t *jwks;       /* every loop's auth_t holds a reference; NULL: no JWKS */
    api_resources_home_t *res_home; /* loop 0 runs the Lakebase resource job for all */
    bool failed;                    /* under lock: a loop could not start */
};

/* ---- mailboxes ---- */

/* Runs fn(arg) on loop i; false when that loop's mailbox is closed. */
static bool box_post(cli_workers_t *g, int i, void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&g->lock); /* held: the inbox cannot close under us */
    inbox_t *in = g->boxes[i].inbox;
    bool open = in && inbox_post(in, fn, arg);
    pthread_mutex_unlock(&g->lock);
    return open;
}

void cli_workers_join(cli_workers_t *g, int i, uv_loop_t *loop, web_metrics_t *metrics)
{
    inbox_t *in = inbox_new(loop);
    pthread_mutex_lock(&g->lock);
    g->boxes[i].inbox = in;
    g->boxes[i].metrics = metrics;
    pthread_mutex_unlock(&g->lock);
}

void cli_workers_leave(cli_workers_t *g, int i)
{
    pthread_mutex_lock(&g->lock);
    inbox_t *in = g->boxes[i].inbox;
    g->boxes[i].inbox = NULL;
    pthread_mutex_unlock(&g->lock);
    inbox_close(in); /* runs what was left in it; its async closes with the loop's handles */
}

/* ---- /metrics over every loop ---- */

typedef struct gather {
    cli_workers_t *g;
    http_exchange_t *ex;
    int owner, pending;
    buf_t *parts; /* per loop */
} gather_t;

typedef struct gather_part {
    gather_t *gt;
    int i;
} gather_part_t;

static void gather_finish(gather_t *gt)
{
    cli_workers_t *g = gt->g;
    web_metrics_render(g->boxes[gt->owner].metrics, &gt->parts[gt->owner]);
    /* The answering loop's text first: its order is the document's. */
    buf_t *ordered = calloc((size_t)g->n, sizeof *ordered);
    if (!ordered) abort();
    ordered[0] = gt->parts[gt->owner];
    for (int i = 0, k = 1; i < g->n; i++)
        if (i != gt->owner) ordered[k++] = gt->parts[i];
    buf_t *body = http_exchange_body_buf(gt->ex);
    buf_reset(body);
    web_metrics_merge(body, ordered, g->n);
    http_exchange_send(gt->ex, 200, WEB_METRICS_CONTENT_TYPE);
    for (int i = 0; i < g->n; i++)
        buf_dispose(&gt->parts[i]);
    free(ordered);
    free(gt->parts);
    free(gt);
}

static void gather_part_done(void *arg)
{
    gather_part_t *p = arg;
    gather_t *gt = p->gt;
    free(p);
    if (--gt->pending == 0) gather_finish(gt);
}

/* On loop i: its own text, then back to the owner. */
static void gather_render(void *arg)
{
    gather_part_t *p = arg;
    gather_t *gt = p->gt;
    web_metrics_render(gt->g->boxes[p->i].metrics, &gt->parts[p->i]);
    /* The owner's exchange is in flight, so its loop has not left: this cannot fail. */
    if (!box_post(gt->g, gt->owner, gather_part_done, p)) abort();
}

void cli_workers_gather(http_exchange_t *ex, void *data)
{
    const cli_worker_ref_t *ref = data;
    cli_workers_t *g = ref->group;
    gather_t *gt = calloc(1, sizeof *gt);
    if (!gt) abort();
    gt->g = g;
    gt->ex = ex;
    gt->owner = ref->index;
    gt->parts = calloc((size_t)g->n, sizeof *gt->parts);
    if (!gt->parts) abort();
    for (int i = 0; i < g->n; i++)
        buf_init(&gt->parts[i]);
    gt->pending = 1; /* held until every post is out */
    for (int i = 0; i < g->n; i++) {
        if (i == gt->owner) continue;
        gather_part_t *p = malloc(sizeof *p);
        if (!p) abort();
        p->gt = gt;
        p->i = i;
        gt->pending++;
        if (!box_post(g, i, gather_render, p)) {
            free(p);
            gt->pending--; /* that loop has stopped: its counters are gone with it */
        }
    }
    if (--gt->pending == 0) gather_finish(gt);
}

/* ---- the Data API's schema snapshot: loop 0 loads, the others adopt ---- */

typedef struct adopt {
    rest_app_t *rest;
    struct rest_snapshot *snap;
} adopt_t;

static void adopt_run(void *arg)
{
    adopt_t *a = arg;
    rest_app_adopt(a->rest, a->snap);
    free(a);
}

static void adopt_post(cli_workers_t *g, int i, struct rest_snapshot *snap)
{
    adopt_t *a = malloc(sizeof *a);
    if (!a) abort();
    a->rest = g->boxes[i].rest;
    a->snap = rest_snapshot_share(snap);
    if (!box_post(g, i, adopt_run, a)) {
        rest_snapshot_release(a->snap);
        free(a);
    }
}

/* On loop 0, after each successful load: every other loop takes the same snapshot. */
static void workers_publish(struct rest_snapshot *snap, void *data)
{
    cli_workers_t *g = data;
    pthread_mutex_lock(&g->lock);
    struct rest_snapshot *old = g->latest;
    g->latest = snap; /* the reference publish gave us */
    pthread_mutex_unlock(&g->lock);
    rest_snapshot_release(old);
    for (int i = 1; i < g->n; i++)
        adopt_post(g, i, snap);
}

void cli_workers_rest(cli_workers_t *g, int i, rest_app_t *rest)
{
    pthread_mutex_lock(&g->lock);
    g->boxes[i].rest = rest;
    struct rest_snapshot *latest = i > 0 && g->latest ? rest_snapshot_share(g->latest) : NULL;
    pthread_mutex_unlock(&g->lock);
    if (i == 0) rest_app_set_publisher(rest, workers_publish, g);
    if (latest) rest_app_adopt(rest, latest); /* loaded before this loop joined */
}

/* ---- credentials ---- */

db_credentials_t *cli_workers_credentials(cli_workers_t *g, uv_loop_t *loop)
{
    return g->hub ? credentials_hub_client(g->hub, loop) : NULL;
}

auth_ratelimit_t *cli_workers_ratelimit(cli_workers_t *g)
{
    return g->rate;
}

http_conn_limits_t *cli_workers_conn_limits(cli_workers_t *g)
{
    return g->limits;
}

lakehouse_shared_t *cli_workers_lakehouse(cli_workers_t *g)
{
    return g->lakehouse;
}

auth_jwks_shared_t *cli_workers_jwks(cli_workers_t *g)
{
    return g->jwks;
}

api_resources_home_t *cli_workers_resources_home(cli_workers_t *g)
{
    return g->res_home;
}

inbox_t *cli_workers_inbox(cli_workers_t *g, int i)
{
    pthread_mutex_lock(&g->lock);
    inbox_t *in = g->boxes[i].inbox;
    pthread_mutex_unlock(&g->lock);
    return in;
}

/* ---- threads ---- */

typedef struct worker_arg {
    cli_workers_t *g;
    int index, rc;
    cli_worker_fn fn;
    pthread_t thread;
} worker_arg_t;

static void *worker_main(void *arg)
{
    worker_arg_t *w = arg;
    cli_worker_ref_t ref = {w->g, w->index, w->g->n};
    w->rc = w->fn(w->g->cfg, &ref);
    /*
     * A loop that could not start stops the others: all or nothing. The
     * signal stays pending until a loop that has its handlers unblocks it
     * (cli_workers_ready), so it never meets the default action, which would
     * kill the process (exit -15) before the error is logged.
     */
    if (w->rc != 0) {
        pthread_mutex_lock(&w->g->lock);
        w->g->failed = true;
        pthread_mutex_unlock(&w->g->lock);
        kill(getpid(), SIGTERM);
    }
    pthread_mutex_lock(&w->g->lock);
    bool last = ++w->g->finished == w->g->n;
    if (last && w->g->hub) uv_async_send(&w->g->hub_stop);
    pthread_mutex_unlock(&w->g->lock);
    return NULL;
}

static void workers_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void workers_on_hub_stop(uv_async_t *a)
{
    uv_walk(a->loop, workers_close_walk, NULL);
}

void cli_workers_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

bool cli_workers_ready(cli_workers_t *g)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    pthread_mutex_lock(&g->lock);
    bool failed = g->failed;
    pthread_mutex_unlock(&g->lock);
    return !failed;
}

int cli_workers_count(const config_t *cfg)
{
    return config_workers_count(cfg);
}

int cli_workers_run(const config_t *cfg, int n, unsigned max_connections, cli_worker_fn fn)
{
    cli_workers_t *g = calloc(1, sizeof *g);
    worker_arg_t *w = calloc((size_t)n, sizeof *w);
    if (!g || !w) abort();
    g->n = n;
    g->cfg = cfg;
    pthread_mutex_init(&g->lock, NULL);
    g->boxes = calloc((size_t)n, sizeof *g->boxes);
    if (!g->boxes) abort();
    uv_loop_init(&g->hub_loop);
    char err[256];
    if (credentials_from_config(&g->hub_loop, cfg, &g->real, err, sizeof err) != 0) {
        log_error("startup failed: %s", err);
        return 1;
    }
    if (strcmp(g->real->kind, "static") != 0) {
        g->hub = credentials_hub_new(&g->hub_loop, g->real);
        uv_async_init(&g->hub_loop, &g->hub_stop, workers_on_hub_stop);
    } else {
        g->real->free(g->real); /* stateless: every loop makes its own */
        g->real = NULL;
    }
    g->rate = auth_ratelimit_from_config(cfg);
    g->limits = http_conn_limits_new(max_connections, (unsigned)cfg->max_connections_per_ip);
    if (lakehouse_configured(cfg)) g->lakehouse = lakehouse_shared_new(cfg);
    if (cfg->jwt_jwks_url || cfg->jwt_issuer) g->jwks = auth_jwks_shared_new();
    g->res_home = api_resources_home_new();
    for (int i = 0; i < n; i++) {
        w[i].g = g;
        w[i].index = i;
        w[i].fn = fn;
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) abort();
        /* Named here, not by the thread: every loop has its name before any serves. */
        char name[16];
        snprintf(name, sizeof name, "lakeapi-loop%u", (unsigned)i % 1000u); /* i < 256 */
        pthread_setname_np(w[i].thread, name); /* ps -L, /proc/<pid>/task/<tid>/comm */
    }
    if (g->hub) uv_run(&g->hub_loop, UV_RUN_DEFAULT);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].thread, NULL);
        if (w[i].rc > rc) rc = w[i].rc;
    }
    uv_walk(&g->hub_loop, workers_close_walk, NULL);
    uv_run(&g->hub_loop, UV_RUN_DEFAULT);
    uv_loop_close(&g->hub_loop);
    credentials_hub_free(g->hub);
    rest_snapshot_release(g->latest);
    auth_ratelimit_free(g->rate);
    http_conn_limits_release(g->limits);
    lakehouse_shared_release(g->lakehouse);
    auth_jwks_shared_free(g->jwks);
    api_resources_home_release(g->res_home);
    if (g->real) g->real->free(g->real);
    pthread_mutex_destroy(&g->lock);
    free(g->boxes);
    free(g);
    free(w);
    return rc;
}
