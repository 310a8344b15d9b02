/*
 * credentials/hub - one credential provider shared by several event loops
 * (WORKERS > 1): the provider lives on the owner loop, and each loop gets a
 * client that forwards get() there and its answer back (uv_async both ways,
 * a mutex around the two queues). So all loops share one cached token and one
 * mint, and the provider itself stays single-threaded.
 *
 * Owns: the request records (malloc'ed by the client, freed by it after the
 * answer), the stats snapshot the owner takes after each answer (what
 * credentials_stats() reports for a client), and the detach rule: once a
 * client's loop is shutting down (credentials_hub_detach) answers for it are
 * dropped and its handle is never signalled again.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "db/credentials/internal.h"

typedef struct hub_client hub_client_t;

typedef struct hub_req {
    struct hub_req *next;
    hub_client_t *client;
    bool force;
    db_credentials_cb cb;
    void *cb_data;
    char *password, *error;
    double expires_at;
} hub_req_t;

struct credentials_hub {
    db_credentials_t *real; /* on the owner loop; not owned */
    uv_async_t wake;        /* owner loop: asks are waiting */
    pthread_mutex_t lock;
    hub_req_t *asks;
    credentials_stats_t stats; /* under lock; last_error copied, kind static */
};

struct hub_client {
    db_credentials_t base; /* first: the client is a provider */
    credentials_hub_t *hub;
    uv_async_t wake; /* the client's loop: answers are waiting */
    hub_req_t *answers;
    int outstanding;
    bool detached, freed;
};

static void hub_free_req(hub_req_t *r)
{
    free(r->password);
    free(r->error);
    free(r);
}

/* Under the lock: the client's memory goes once it is freed and nothing is owed to it. */
static bool hub_client_done(const hub_client_t *c)
{
    return c->freed && c->outstanding == 0;
}

static void hub_on_answer(const char *password, double expires_at, const char *error, void *data)
{
    hub_req_t *r = data;
    hub_client_t *c = r->client;
    credentials_hub_t *h = c->hub;
    r->password = password ? strdup(password) : NULL;
    r->error = error ? strdup(error) : NULL;
    r->expires_at = expires_at;
    pthread_mutex_lock(&h->lock);
    credentials_stats(h->real, &h->stats);
    c->outstanding--;
    bool drop = c->detached, gone = hub_client_done(c);
    if (!drop) {
        r->next = c->answers;
        c->answers = r;
        uv_async_send(&c->wake);
    }
    pthread_mutex_unlock(&h->lock);
    if (drop) hub_free_req(r);
    if (gone) free(c);
}

static void hub_on_asks(uv_async_t *a)
{
    credentials_hub_t *h = a->data;
    pthread_mutex_lock(&h->lock);
    hub_req_t *r = h->asks;
    h->asks = NULL;
    pthread_mutex_unlock(&h->lock);
    for (hub_req_t *n; r; r = n) {
        n = r->next;
        h->real->get(h->real, r->force, hub_on_answer, r);
    }
}

static void hub_on_answers(uv_async_t *a)
{
    hub_client_t *c = a->data;
    pthread_mutex_lock(&c->hub->lock);
    hub_req_t *r = c->answers;
    c->answers = NULL;
    pthread_mutex_unlock(&c->hub->lock);
    for (hub_req_t *n; r; r = n) {
        n = r->next;
        r->cb(r->password, r->expires_at, r->error, r->cb_data);
        hub_free_req(r);
    }
}

static void hub_get(db_credentials_t *self, bool force_fresh, db_credentials_cb cb, void *cb_data)
{
    hub_client_t *c = (hub_client_t *)self;
    credentials_hub_t *h = c->hub;
    hub_req_t *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->client = c;
    r->force = force_fresh;
    r->cb = cb;
    r->cb_data = cb_data;
    pthread_mutex_lock(&h->lock);
    c->outstanding++;
    r->next = h->asks;
    h->asks = r;
    uv_async_send(&h->wake);
    pthread_mutex_unlock(&h->lock);
}

static void hub_client_free(db_credentials_t *self)
{
    hub_client_t *c = (hub_client_t *)self;
    credentials_hub_t *h = c->hub;
    pthread_mutex_lock(&h->lock);
    c->detached = c->freed = true;
    bool gone = hub_client_done(c);
    hub_req_t *r = c->answers;
    c->answers = NULL;
    pthread_mutex_unlock(&h->lock);
    for (hub_req_t *n; r; r = n) {
        n = r->next;
        hub_free_req(r);
    }
    if (gone) free(c);
}

credentials_hub_t *credentials_hub_new(uv_loop_t *owner, db_credentials_t *real)
{
    credentials_hub_t *h = calloc(1, sizeof *h);
    if (!h) abort();
    h->real = real;
    pthread_mutex_init(&h->lock, NULL);
    uv_async_init(owner, &h->wake, hub_on_asks);
    h->wake.data = h;
    credentials_stats(real, &h->stats);
    return h;
}

db_credentials_t *credentials_hub_client(credentials_hub_t *h, uv_loop_t *loop)
{
    hub_client_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->base.get = hub_get;
    c->base.free = hub_client_free;
    c->base.kind = h->real->kind;
    c->hub = h;
    uv_async_init(loop, &c->wake, hub_on_answers);
    c->wake.data = c;
    return &c->base;
}

void credentials_hub_detach(db_credentials_t *client)
{
    hub_client_t *c = (hub_client_t *)client;
    pthread_mutex_lock(&c->hub->lock);
    c->detached = true;
    pthread_mutex_unlock(&c->hub->lock);
}

bool credentials_hub_stats(const db_credentials_t *cr, credentials_stats_t *out)
{
    if (!cr || cr->get != hub_get) return false;
    const hub_client_t *c = (const hub_client_t *)cr;
    pthread_mutex_lock(&c->hub->lock);
    *out = c->hub->stats;
    pthread_mutex_unlock(&c->hub->lock);
    return true;
}

void credentials_hub_free(credentials_hub_t *h)
{
    if (!h) return;
    pthread_mutex_destroy(&h->lock);
    free(h);
}
