/*
 * auth - access control: who is asking, as which Postgres role, and how often.
 *
 * This folder owns identities (JWT verification with OpenSSL 3: HS256/384/512
 * with JWT_SECRET, RS256/384/512, ES256/384 and EdDSA from a JWKS fetched on
 * the loop and refreshed on an unknown kid; the Databricks Apps forwarded
 * identity when TRUST_FORWARDED_IDENTITY=true; DB_ANON_ROLE otherwise), the
 * role taken from a claim (JWT_ROLE_CLAIM in PostgREST's path syntax, or
 * ROLE_FROM_EMAIL), the admin decision for the resource lifecycle routes
 * (ADMIN_CLAIM / ADMIN_ROLES), METRICS_TOKEN, and rate limits (a token bucket
 * per identity, or per client IP for anonymous requests, in a bounded LRU).
 *
 * It may include http (exchanges), db (sessions), workspace (the HTTP client
 * the JWKS is fetched with), json, config and util - never web, api or rest.
 * Both the tutorial routes (src/api) and the Data API (src/rest) call the same
 * two things: auth_pre_route() runs before routing and leaves the resolved
 * identity on the exchange; auth_db_query() runs a statement under it (BEGIN;
 * SET LOCAL ROLE; request.* settings; DB_PRE_REQUEST; the statement; COMMIT -
 * see db/session.c), or as a plain pooled query when auth is not configured.
 *
 * Everything is per loop (one auth_t per event loop, no globals) except the
 * rate-limit table: with several loops, one limiter is made for the process
 * and handed to every loop's auth_t (auth_use_ratelimit), so a limit holds
 * per identity whatever loop a connection lands on.
 * Nothing here logs a token, a secret or a forwarded header value.
 */
#ifndef LAKEAPI_AUTH_H
#define LAKEAPI_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lakeapi/buf.h"
#include "lakeapi/config.h"
#include "lakeapi/db.h"
#include "lakeapi/http.h"

typedef struct auth auth_t;

typedef enum {
    AUTH_ANONYMOUS = 0, /* no credentials: DB_ANON_ROLE, or no role at all */
    AUTH_JWT,           /* a verified bearer token */
    AUTH_FORWARDED,     /* the Databricks Apps proxy's X-Forwarded-* identity */
} auth_kind_t;

/* What auth_pre_route() leaves on the exchange; strings live in the exchange's arena. */
typedef struct auth_identity {
    auth_kind_t kind;
    const char *role;    /* the Postgres role to SET LOCAL, or NULL (no role) */
    const char *subject; /* sub / email / user; NULL for anonymous */
    const char *claims;  /* JSON text for request.jwt.claims */
    bool admin;          /* ADMIN_CLAIM holds or the role is in ADMIN_ROLES */
} auth_identity_t;

typedef struct auth_stats {
    uint64_t jwt_ok, jwt_cached, jwt_refused, forwarded, anonymous, anonymous_refused;
    uint64_t rate_allowed, rate_limited, rate_evicted;
    uint64_t jwks_fetches, jwks_failures;
    uint64_t forbidden; /* 403 from roles / admin checks */
} auth_stats_t;

/*
 * The access-control settings of cfg on loop. NULL with err (naming the
 * setting, never quoting a secret) when they are invalid: JWT_SECRET shorter
 * than 32 bytes, a JWT_ROLE_CLAIM or ADMIN_CLAIM that does not parse, ...
 * cfg must outlive the auth_t.
 */
auth_t *auth_new(uv_loop_t *loop, const config_t *cfg, char *err, size_t errlen);
/*
 * Registers the session statements (request settings, DB_PRE_REQUEST) with
 * pool; before db_pool_start(). Returns 0 or -1.
 */
int auth_register(auth_t *a, db_pool_t *pool);
/* Starts the first JWKS fetch (discovery through JWT_ISSUER when needed). */
void auth_start(auth_t *a);
void auth_free(auth_t *a); /* after the loop stopped */

/*
 * The process-wide rate limiter (thread-safe, reference counted): NULL when
 * RATE_LIMIT_RPS is unset. auth_ratelimit_share() adds a reference,
 * auth_ratelimit_free() drops one (the last frees it).
 */
typedef struct auth_ratelimit auth_ratelimit_t;
auth_ratelimit_t *auth_ratelimit_from_config(const config_t *cfg);
auth_ratelimit_t *auth_ratelimit_share(auth_ratelimit_t *r);
void auth_ratelimit_free(auth_ratelimit_t *r);
/* a drops its own limiter and takes a reference to shared (NULL: keeps its own). */
void auth_use_ratelimit(auth_t *a, auth_ratelimit_t *shared);

/*
 * The JWKS of the whole process (jwks.c): the keys, the refresh interval and
 * the fetch in flight, shared by every loop's auth_t (auth_use_jwks takes a
 * reference), so an unknown kid costs one fetch per process. Reference
 * counted: new returns one reference; free drops one (the last frees).
 */
typedef struct auth_jwks_shared auth_jwks_shared_t;
auth_jwks_shared_t *auth_jwks_shared_new(void);
auth_jwks_shared_t *auth_jwks_shared_share(auth_jwks_shared_t *sh);
void auth_jwks_shared_free(auth_jwks_shared_t *sh);
/* Before auth_start; NULL or no JWKS configured: nothing. */
void auth_use_jwks(auth_t *a, auth_jwks_shared_t *shared);
/* On the loop, before its handles close (serve's shutdown). */
void auth_close(auth_t *a);

/* true when any identity setting is present (else the demo's open mode). */
bool auth_configured(const auth_t *a);
/* A one-line description of the mode for the startup log (no secrets). */
const char *auth_describe(const auth_t *a);

/*
 * The pre-route hook (http_pre_route_fn; data: the auth_t). Resolves the
 * identity, applies METRICS_TOKEN, the resource route gate and the rate
 * limit. Returns true when it answered (401/403/404/429) or took the exchange
 * over while the JWKS is refreshed (the exchange is then routed later through
 * http_exchange_route_now()).
 */
bool auth_pre_route(http_exchange_t *ex, void *data);

/* The identity auth_pre_route() resolved, or NULL (no auth_t in front). */
const auth_identity_t *auth_identity(http_exchange_t *ex);

/*
 * Runs a registered statement for the exchange: under its identity's role in
 * one transaction when it has one, else as a plain pooled query. The contract
 * is db_pool_query()'s (values borrowed until cb, cb never called inside).
 */
void auth_db_query(http_exchange_t *ex, db_pool_t *pool, int stmt, int nparams,
                   const char *const *values, db_result_fn cb, void *data);

/*
 * The request's session for the db layer (role, claims, method, path,
 * headers; strings in the exchange's arena) when it runs as a role of its
 * own; false (and s untouched) when it has none. For callers that drive the
 * db layer themselves (streamed reads: db_stream_open_as).
 */
bool auth_db_session(http_exchange_t *ex, db_session_t *s);

/* A refusal by the database (42501) is answered by web_send_db_error(): 403 when the
 * exchange is authenticated (http_exchange_authenticated), 401 + WWW-Authenticate else. */

void auth_get_stats(const auth_t *a, auth_stats_t *out);
/* Prometheus text for /metrics (lakeapi_auth_*). */
void auth_metrics_render(const auth_t *a, buf_t *out);

#endif
