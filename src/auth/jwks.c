/*
 * auth/jwks - the JSON Web Key Set of the token issuer, fetched on the loop
 * through the workspace HTTP client (libcurl multi on libuv: nothing blocks).
 *
 * The URL is JWT_JWKS_URL, or discovered from JWT_ISSUER's
 * /.well-known/openid-configuration ("jwks_uri"). Keys are kept in memory
 * and replaced as a whole by a successful fetch; a failed fetch keeps the old
 * ones (a flaky identity provider must not log everybody out). A token with
 * an unknown kid asks for a refresh, at most one per min_interval_s (30 s),
 * so a stream of forged kids cannot turn lakeapi into a JWKS hammer; the
 * requests asking during a refresh wait for it and are verified again after.
 *
 * With WORKERS loops the keys, the refresh interval and the fetch in flight
 * are the process's (auth_jwks_shared_t, under a mutex): an unknown kid
 * starts one fetch for the process, on the loop that met it; requests of
 * other loops wait for that fetch and are woken on their own loop through
 * its inbox. A loop sees new keys at its next verification (a generation
 * number; the key set is reference counted, so the set a verification uses
 * never changes under it).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/internal.h"
#include "lakeapi/inbox.h"
#include "lakeapi/log.h"
#include "lakeapi/ws_http.h"

#define JWKS_TIMEOUT_S 10.0

typedef struct jwks_waiter {
    auth_jwks_fn fn;
    void *data;
    inbox_t *inbox; /* a reference: its loop runs fn */
    struct jwks_waiter *next;
} jwks_waiter_t;

/* A key set as fetched: read only, reference counted (every loop holds the one it verifies with).
 */
typedef struct jwks_snap {
    atomic_int refs;
    auth_keyset_t keys;
} jwks_snap_t;

struct auth_jwks_shared {
    atomic_int refs;
    pthread_mutex_t lock; /* everything below */
    jwks_snap_t *snap;    /* the newest keys (NULL: none yet) */
    atomic_uint gen;      /* bumped with every new snap */
    char *url;            /* discovered from the issuer, or NULL */
    bool fetching, ever_started;
    double started_s; /* monotonic: the last start */
    jwks_waiter_t *waiters, **waiters_tail;
};

struct auth_jwks {
    uv_loop_t *loop;
    ws_http_t *http;
    inbox_t *inbox;
    char *url;    /* NULL until discovered */
    char *issuer; /* for discovery, or NULL */
    double min_interval_s;
    auth_jwks_shared_t *sh;     /* a reference */
    jwks_snap_t *snap;          /* a reference: the keys this loop verifies with */
    unsigned gen;               /* snap's generation */
    uint64_t fetches, failures; /* this loop's (summed over loops at scrape) */
};

static void jwks_snap_unref(jwks_snap_t *k)
{
    if (!k || atomic_fetch_sub(&k->refs, 1) != 1) return;
    auth_keyset_dispose(&k->keys);
    free(k);
}

static double jwks_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

auth_jwks_shared_t *auth_jwks_shared_new(void)
{
    auth_jwks_shared_t *sh = calloc(1, sizeof *sh);
    if (!sh) abort();
    atomic_init(&sh->refs, 1);
    atomic_init(&sh->gen, 0);
    pthread_mutex_init(&sh->lock, NULL);
    sh->waiters_tail = &sh->waiters;
    return sh;
}

auth_jwks_shared_t *auth_jwks_shared_share(auth_jwks_shared_t *sh)
{
    if (sh) atomic_fetch_add(&sh->refs, 1);
    return sh;
}

void auth_jwks_shared_free(auth_jwks_shared_t *sh)
{
    if (!sh || atomic_fetch_sub(&sh->refs, 1) != 1) return;
    for (jwks_waiter_t *w = sh->waiters, *n; w; w = n) {
        n = w->next;
        inbox_unref(w->inbox);
        free(w);
    }
    jwks_snap_unref(sh->snap);
    free(sh->url);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

static int jwks_start(auth_jwks_t *j);

typedef struct jwks_wake {
    auth_jwks_fn fn;
    void *data;
} jwks_wake_t;

static void jwks_wake_run(void *arg)
{
    jwks_wake_t *k = arg;
    k->fn(k->data);
    free(k);
}

/* The fetch ended (keys replaced or not): every waiter of every loop is woken on its loop. */
static void jwks_finish(auth_jwks_t *j)
{
    auth_jwks_shared_t *sh = j->sh;
    pthread_mutex_lock(&sh->lock);
    sh->fetching = false;
    jwks_waiter_t *w = sh->waiters;
    sh->waiters = NULL;
    sh->waiters_tail = &sh->waiters;
    pthread_mutex_unlock(&sh->lock);
    while (w) {
        jwks_waiter_t *n = w->next;
        if (w->inbox == j->inbox) {
            w->fn(w->data);
        } else {
            jwks_wake_t *k = malloc(sizeof *k);
            if (!k) abort();
            k->fn = w->fn, k->data = w->data;
            if (!inbox_post(w->inbox, jwks_wake_run, k)) free(k); /* that loop has stopped */
        }
        inbox_unref(w->inbox);
        free(w);
        w = n;
    }
}

static void jwks_on_keys(long status, const char *body, size_t len, const char *error, void *data)
{
    auth_jwks_t *j = data;
    char err[160] = "";
    if (status == 200) {
        auth_keyset_t fresh = {0};
        int n = auth_keyset_add_jwks(&fresh, body, len, err, sizeof err);
        if (n > 0) {
            jwks_snap_t *k = calloc(1, sizeof *k);
            if (!k) abort();
            atomic_init(&k->refs, 1);
            auth_keyset_move(&k->keys, &fresh);
            pthread_mutex_lock(&j->sh->lock);
            jwks_snap_t *old = j->sh->snap;
            j->sh->snap = k;
            atomic_fetch_add(&j->sh->gen, 1);
            pthread_mutex_unlock(&j->sh->lock);
            jwks_snap_unref(old);
            log_info("JWKS: %d verification key%s loaded from %s", n, n == 1 ? "" : "s", j->url);
        } else {
            if (n == 0) snprintf(err, sizeof err, "no usable verification key");
            auth_keyset_dispose(&fresh);
        }
    } else {
        snprintf(err, sizeof err, "HTTP %ld%s%s", status, error ? ": " : "", error ? error : "");
    }
    if (err[0]) {
        j->failures++;
        log_warn("JWKS fetch from %s failed (%s); keeping the %d key(s) already known", j->url, err,
                 auth_jwks_keys(j)->n);
    }
    jwks_finish(j);
}

static void jwks_on_discovery(long status, const char *body, size_t len, const char *error,
                              void *data)
{
    auth_jwks_t *j = data;
    json_error_t jerr;
    json_t *doc = status == 200 ? json_loadb(body, len, 0, &jerr) : NULL;
    const char *uri = json_string_value(json_object_get(doc, "jwks_uri"));
    if (uri && (strncmp(uri, "https://", 8) == 0 || strncmp(uri, "http://", 7) == 0)) {
        j->url = strdup(uri);
        pthread_mutex_lock(&j->sh->lock); /* the other loops need not discover it again */
        if (!j->sh->url) j->sh->url = strdup(uri);
        pthread_mutex_unlock(&j->sh->lock);
        json_decref(doc);
        if (jwks_start(j) != 0) {
            j->failures++;
            jwks_finish(j);
        }
        return;
    }
    json_decref(doc);
    j->failures++;
    log_warn("OpenID discovery at %s/.well-known/openid-configuration failed (HTTP %ld%s%s)",
             j->issuer, status, error ? ": " : "", error ? error : "");
    jwks_finish(j);
}

/* Starts the fetch (or the discovery before it); -1 when it could not start. */
static int jwks_start(auth_jwks_t *j)
{
    char discovery[1024];
    ws_http_request_t rq = {.method = WORKSPACE_GET, .timeout_s = JWKS_TIMEOUT_S};
    ws_http_cb cb = jwks_on_keys;
    if (!j->url) {
        pthread_mutex_lock(&j->sh->lock);
        if (j->sh->url) j->url = strdup(j->sh->url);
        pthread_mutex_unlock(&j->sh->lock);
    }
    if (j->url) {
        rq.url = j->url;
        j->fetches++;
    } else {
        size_t n = strlen(j->issuer);
        while (n > 0 && j->issuer[n - 1] == '/')
            n--;
        snprintf(discovery, sizeof discovery, "%.*s/.well-known/openid-configuration", (int)n,
                 j->issuer);
        rq.url = discovery;
        cb = jwks_on_discovery;
    }
    return ws_http_start(j->http, &rq, cb, j);
}

auth_jwks_t *auth_jwks_new(uv_loop_t *loop, const char *url, const char *issuer,
                           double min_interval_s)
{
    auth_jwks_t *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->loop = loop;
    j->http = ws_http_new(loop);
    if (!j->http) {
        free(j);
        return NULL;
    }
    j->inbox = inbox_new(loop);
    j->url = url ? strdup(url) : NULL;
    j->issuer = issuer ? strdup(issuer) : NULL;
    j->min_interval_s = min_interval_s;
    j->sh = auth_jwks_shared_new();
    return j;
}

void auth_jwks_use_shared(auth_jwks_t *j, auth_jwks_shared_t *sh)
{
    if (!sh || j->sh == sh) return;
    auth_jwks_shared_free(j->sh);
    j->sh = auth_jwks_shared_share(sh);
}

void auth_jwks_close(auth_jwks_t *j)
{
    if (j && j->inbox) inbox_close(j->inbox);
    if (j) j->inbox = NULL;
}

void auth_jwks_free(auth_jwks_t *j)
{
    if (!j) return;
    ws_http_free(j->http);
    auth_jwks_close(j);
    jwks_snap_unref(j->snap);
    auth_jwks_shared_free(j->sh);
    free(j->url);
    free(j->issuer);
    free(j);
}

const auth_keyset_t *auth_jwks_keys(auth_jwks_t *j)
{
    static const auth_keyset_t none = {0};
    if (atomic_load(&j->sh->gen) !=
        j->gen) { /* newer keys: this loop's next verifications use them */
        pthread_mutex_lock(&j->sh->lock);
        jwks_snap_t *k = j->sh->snap;
        if (k) atomic_fetch_add(&k->refs, 1);
        j->gen = atomic_load(&j->sh->gen);
        pthread_mutex_unlock(&j->sh->lock);
        jwks_snap_unref(j->snap);
        j->snap = k;
    }
    return j->snap ? &j->snap->keys : &none;
}

/* Under the lock. */
static void jwks_wait(auth_jwks_t *j, auth_jwks_fn fn, void *data)
{
    if (!fn) return;
    jwks_waiter_t *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->fn = fn, w->data = data;
    w->inbox = inbox_ref(j->inbox);
    *j->sh->waiters_tail = w;
    j->sh->waiters_tail = &w->next;
}

bool auth_jwks_refresh(auth_jwks_t *j, auth_jwks_fn fn, void *data)
{
    auth_jwks_shared_t *sh = j->sh;
    pthread_mutex_lock(&sh->lock);
    if (sh->fetching) { /* this loop's or another's: one fetch for the process */
        jwks_wait(j, fn, data);
        pthread_mutex_unlock(&sh->lock);
        return true;
    }
    double now = jwks_now();
    if (sh->ever_started && now - sh->started_s < j->min_interval_s) {
        pthread_mutex_unlock(&sh->lock);
        return false;
    }
    sh->ever_started = true;
    sh->started_s = now;
    sh->fetching = true;
    pthread_mutex_unlock(&sh->lock);
    if (jwks_start(j) != 0) {
        j->failures++;
        jwks_finish(j); /* wakes the requests of other loops that joined meanwhile */
        return false;
    }
    /* Queued after the start: the fetch ends on this loop, so not before we return. */
    pthread_mutex_lock(&sh->lock);
    jwks_wait(j, fn, data);
    pthread_mutex_unlock(&sh->lock);
    return true;
}

void auth_jwks_counts(const auth_jwks_t *j, uint64_t *fetches, uint64_t *failures)
{
    *fetches = j->fetches;
    *failures = j->failures;
}
