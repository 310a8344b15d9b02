/*
 * auth/hook - the pre-route hook: every request passes here before routing.
 *
 * Answers it owns: 401 (bad or missing token, anonymous where a role is
 * needed), 403 (resource lifecycle routes without the admin claim, or off),
 * 429 (rate limit, with Retry-After and the IETF draft's RateLimit-Policy /
 * RateLimit fields). Bodies follow the route family: PostgREST's
 * {code, message, details, hint} under /rest/, FastAPI's {"detail"} elsewhere.
 * Messages are fixed strings - never a token, a header value or a secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "lakeapi/json.h"

#define AUTH_REST_PREFIX      "/rest/"
#define AUTH_RESOURCES_PREFIX "/api/v1/resources"

/* Routes that never need a role: probes, documentation, metrics (METRICS_TOKEN guards it). */
static bool auth_public_path(const char *path)
{
    static const char *const exact[] = {"/api/v1/healthcheck", "/livez", "/readyz",     "/metrics",
                                        "/openapi.json",       "/docs",  "/favicon.ico"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(path, exact[i]) == 0) return true;
    return strncmp(path, "/docs/", 6) == 0;
}

static void auth_send(http_exchange_t *ex, int status, const char *code, const char *message)
{
    buf_t *b = http_exchange_body_buf(ex);
    json_writer_t w;
    jw_init(&w, b);
    jw_object_begin(&w);
    if (strncmp(http_exchange_path(ex), AUTH_REST_PREFIX, strlen(AUTH_REST_PREFIX)) == 0) {
        jw_kv_string(&w, "code", code);
        jw_key(&w, "details");
        jw_null(&w);
        jw_key(&w, "hint");
        jw_null(&w);
        jw_kv_string(&w, "message", message);
    } else {
        jw_kv_string(&w, "detail", message);
    }
    jw_object_end(&w);
    http_exchange_send(ex, status, "application/json");
}

/* 401 for a token that failed: RFC 6750's invalid_token with the (fixed) reason. */
static void auth_send_invalid_token(http_exchange_t *ex, const char *why)
{
    char v[200];
    snprintf(v, sizeof v, "Bearer error=\"invalid_token\", error_description=\"%s\"", why);
    http_exchange_add_header(ex, "WWW-Authenticate", v);
    auth_send(ex, 401, "PGRST301", why);
}

static void auth_send_token_required(http_exchange_t *ex, const char *why)
{
    http_exchange_add_header(ex, "WWW-Authenticate", "Bearer");
    auth_send(ex, 401, "PGRST302", why);
}

/* The rate limit for this identity; false when answered 429. */
static bool auth_rate_check(auth_t *a, http_exchange_t *ex, const auth_identity_t *id)
{
    if (!a->rate) return true;
    char key[512];
    int n;
    if (id->kind != AUTH_ANONYMOUS)
        n = snprintf(key, sizeof key, "id:%s%c%s", id->role ? id->role : "", 0,
                     id->subject ? id->subject : "");
    else
        n = snprintf(key, sizeof key, "ip:%s", http_exchange_peer(ex));
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof key) n = sizeof key - 1;
    bool evicted;
    auth_rate_decision_t d =
        auth_ratelimit_take(a->rate, key, (size_t)n, (double)uv_hrtime() / 1e9, &evicted);
    if (evicted) a->stats.rate_evicted++;
    char v[96];
    http_exchange_add_header(ex, "RateLimit-Policy", a->rate_policy);
    if (d.allowed) {
        a->stats.rate_allowed++;
        snprintf(v, sizeof v, "\"default\";r=%d;t=%d", d.remaining, d.reset);
        http_exchange_add_header(ex, "RateLimit", v);
        return true;
    }
    a->stats.rate_limited++;
    snprintf(v, sizeof v, "\"default\";r=0;t=%d", d.retry_after);
    http_exchange_add_header(ex, "RateLimit", v);
    snprintf(v, sizeof v, "%d", d.retry_after);
    http_exchange_add_header(ex, "Retry-After", v);
    auth_send(ex, 429, "PGRST429", "Too many requests: rate limit exceeded");
    return false;
}

/* The resource lifecycle routes can delete a database instance: admins only, or off. */
static bool auth_resources_gate(auth_t *a, http_exchange_t *ex, const auth_identity_t *id)
{
    const char *path = http_exchange_path(ex);
    size_t n = strlen(AUTH_RESOURCES_PREFIX);
    if (strncmp(path, AUTH_RESOURCES_PREFIX, n) != 0 || (path[n] != '/' && path[n] != '\0'))
        return true;
    if (!a->configured) {
        if (a->cfg->resources_enabled) return true;
        auth_send(ex, 403, "PGRST403",
                  "The resource lifecycle routes are off: set RESOURCES_ENABLED=true, or "
                  "configure authentication and an admin claim (ADMIN_CLAIM / ADMIN_ROLES)");
        return false;
    }
    if (id->admin) return true;
    a->stats.forbidden++;
    if (id->kind == AUTH_ANONYMOUS) {
        auth_send_token_required(ex, "The resource lifecycle routes need an admin identity");
        return false;
    }
    auth_send(ex, 403, "PGRST403", "The resource lifecycle routes need an admin identity");
    return false;
}

/* After the identity is known: rate limit, role requirement, admin gate. false: answered. */
static bool auth_admit(auth_t *a, http_exchange_t *ex, auth_identity_t *id)
{
    *http_exchange_identity_slot(ex) = id;
    http_exchange_set_authenticated(ex, id->kind != AUTH_ANONYMOUS);
    if (!auth_rate_check(a, ex, id)) return false;
    if (a->configured && !id->role && !auth_public_path(http_exchange_path(ex))) {
        a->stats.anonymous_refused++;
        auth_send_token_required(ex, id->kind == AUTH_ANONYMOUS
                                         ? "Anonymous access is disabled"
                                         : "The identity has no role and DB_ANON_ROLE is not set");
        return false;
    }
    return auth_resources_gate(a, ex, id);
}

/* METRICS_TOKEN: /metrics only with "Authorization: Bearer <METRICS_TOKEN>". false: answered. */
static bool auth_metrics_gate(auth_t *a, http_exchange_t *ex)
{
    const char *secret = a->cfg->metrics_token;
    if (!secret || strcmp(http_exchange_path(ex), "/metrics") != 0) return true;
    size_t n = 0;
    const char *tok = auth_bearer(ex, &n);
    if (tok && auth_secret_equal(tok, n, secret)) return true;
    http_exchange_add_header(ex, "WWW-Authenticate", "Bearer realm=\"metrics\"");
    auth_send(ex, 401, "PGRST302", "/metrics needs Authorization: Bearer <METRICS_TOKEN>");
    return false;
}

typedef struct auth_pending {
    auth_t *a;
    http_exchange_t *ex;
    auth_identity_t *id;
    const char *token; /* in the exchange's arena */
    size_t len;
} auth_pending_t;

/* The JWKS refresh an unknown kid asked for has ended: verify again, without waiting twice. */
static void auth_resume(void *data)
{
    auth_pending_t *p = data;
    const char *why = "JWT couldn't be decoded";
    int rc = auth_verify_bearer(p->a, p->ex, p->token, p->len, false, NULL, NULL, p->id, &why);
    if (rc != 0) {
        auth_send_invalid_token(p->ex, why);
        return;
    }
    if (auth_admit(p->a, p->ex, p->id)) http_exchange_route_now(p->ex);
}

bool auth_pre_route(http_exchange_t *ex, void *data)
{
    auth_t *a = data;
    if (!auth_metrics_gate(a, ex)) return true;
    if (strcmp(http_exchange_path(ex), "/metrics") == 0 && a->cfg->metrics_token) {
        /* Its bearer is the metrics token, not a JWT: nothing more to resolve. */
        return false;
    }
    auth_identity_t *id = arena_calloc(http_exchange_arena(ex), sizeof *id);
    size_t n = 0;
    const char *tok = auth_bearer(ex, &n);
    bool jwt_mode = a->cfg->jwt_secret || a->jwks;
    if (tok && jwt_mode) {
        auth_pending_t *p = arena_calloc(http_exchange_arena(ex), sizeof *p);
        *p = (auth_pending_t){a, ex, id, tok, n};
        const char *why = "JWT couldn't be decoded";
        int rc = auth_verify_bearer(a, ex, tok, n, true, auth_resume, p, id, &why);
        if (rc == 1) return true; /* auth_resume() routes it */
        if (rc != 0) {
            auth_send_invalid_token(ex, why);
            return true;
        }
    } else if (!(a->cfg->trust_forwarded_identity && auth_forwarded_identity(a, ex, id))) {
        auth_anonymous_identity(a, ex, id);
    }
    return !auth_admit(a, ex, id);
}
