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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "lakeapi/log.h"
#include "lakeapi/ws_http.h"

#define JWKS_TIMEOUT_S 10.0

typedef struct jwks_waiter {
    auth_jwks_fn fn;
    void *data;
    struct jwks_waiter *next;
} jwks_waiter_t;

struct auth_jwks {
    uv_loop_t *loop;
    ws_http_t *http;
    char *url;    /* NULL until discovered */
    char *issuer; /* for discovery, or NULL */
    double min_interval_s;
    auth_keyset_t keys;
    bool fetching, ever_started;
    uint64_t started_ms; /* loop time of the last start */
    jwks_waiter_t *waiters, **waiters_tail;
    uint64_t fetches, failures;
};

static int jwks_start(auth_jwks_t *j);

static void jwks_finish(auth_jwks_t *j)
{
    j->fetching = false;
    jwks_waiter_t *w = j->waiters;
    j->waiters = NULL;
    j->waiters_tail = &j->waiters;
    while (w) {
        jwks_waiter_t *n = w->next;
        w->fn(w->data);
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
            auth_keyset_move(&j->keys, &fresh);
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
                 j->keys.n);
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
    j->url = url ? strdup(url) : NULL;
    j->issuer = issuer ? strdup(issuer) : NULL;
    j->min_interval_s = min_interval_s;
    j->waiters_tail = &j->waiters;
    return j;
}

void auth_jwks_free(auth_jwks_t *j)
{
    if (!j) return;
    ws_http_free(j->http);
    for (jwks_waiter_t *w = j->waiters, *n; w; w = n) {
        n = w->next;
        free(w);
    }
    auth_keyset_dispose(&j->keys);
    free(j->url);
    free(j->issuer);
    free(j);
}

const auth_keyset_t *auth_jwks_keys(const auth_jwks_t *j)
{
    return &j->keys;
}

static void jwks_wait(auth_jwks_t *j, auth_jwks_fn fn, void *data)
{
    if (!fn) return;
    jwks_waiter_t *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->fn = fn, w->data = data;
    *j->waiters_tail = w;
    j->waiters_tail = &w->next;
}

bool auth_jwks_refresh(auth_jwks_t *j, auth_jwks_fn fn, void *data)
{
    if (!j->fetching) {
        uint64_t now = uv_now(j->loop);
        if (j->ever_started && now - j->started_ms < (uint64_t)(j->min_interval_s * 1000.0))
            return false;
        j->ever_started = true;
        j->started_ms = now;
        if (jwks_start(j) != 0) {
            j->failures++;
            return false;
        }
        j->fetching = true;
    }
    jwks_wait(j, fn, data);
    return true;
}

void auth_jwks_counts(const auth_jwks_t *j, uint64_t *fetches, uint64_t *failures)
{
    *fetches = j->fetches;
    *failures = j->failures;
}
