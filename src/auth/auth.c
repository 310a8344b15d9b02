/*
 * auth/auth - the per-loop access-control state and the pre-route hook.
 *
 * For every request, in order: METRICS_TOKEN for /metrics; the identity
 * (a bearer JWT when JWT_SECRET / JWT_JWKS_URL / JWT_ISSUER is set; else the
 * Databricks Apps X-Forwarded-* headers when TRUST_FORWARDED_IDENTITY=true;
 * else anonymous with DB_ANON_ROLE); the rate limit; 401 for routes that need
 * a role when there is none; the admin gate of /api/v1/resources. A
 * presented token that fails verification is a 401 even where anonymous
 * access would be allowed (PostgREST does the same: a client that sent a
 * token wants to be that identity, not silently someone else).
 *
 * Verified tokens are cached under the SHA-256 of the token until they
 * expire (at most AUTH_TOKEN_CACHE_S), so the steady state costs one hash and
 * one table lookup instead of an RSA verification.
 */
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/internal.h"
#include "lakeapi/log.h"

#define AUTH_TOKEN_CACHE_MAX 10000
#define AUTH_TOKEN_CACHE_S   600.0 /* a cached verification is redone after this long */
#define AUTH_JWKS_MIN_S      30.0

static double auth_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void token_entry_free(void *v)
{
    auth_token_entry_t *e = v;
    if (!e) return;
    free(e->claims);
    free(e->role);
    free(e->subject);
    free(e);
}

/* ---- setup ---- */

static int auth_parse_admin_roles(auth_t *a, const char *list)
{
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n;
        while (s < e && *s == ' ')
            s++;
        while (e > s && e[-1] == ' ')
            e--;
        if (e > s) {
            char **grown = realloc(a->admin_roles, sizeof *grown * (size_t)(a->nadmin_roles + 1));
            if (!grown) abort();
            a->admin_roles = grown;
            a->admin_roles[a->nadmin_roles++] = strndup(s, (size_t)(e - s));
        }
        p += n + (p[n] == ',');
    }
    return 0;
}

static void auth_build_description(auth_t *a)
{
    const config_t *c = a->cfg;
    if (!a->configured) {
        snprintf(a->description, sizeof a->description,
                 "OPEN: no authentication configured - anyone who can reach this server can "
                 "read and WRITE (orders, users, notes); set JWT_SECRET, JWT_JWKS_URL, "
                 "JWT_ISSUER, TRUST_FORWARDED_IDENTITY or DB_ANON_ROLE");
        return;
    }
    snprintf(a->description, sizeof a->description,
             "access control on: jwt=%s%s%s forwarded_identity=%s anon_role=%s role_claim=%s "
             "rate_limit=%s",
             c->jwt_secret ? "HS" : "", c->jwt_secret && a->jwks ? "+" : "",
             a->jwks ? "JWKS" : (c->jwt_secret ? "" : "off"),
             c->trust_forwarded_identity ? "trusted" : "off",
             c->db_anon_role ? c->db_anon_role : "(none: anonymous requests get 401)",
             c->jwt_role_claim ? c->jwt_role_claim : ".role", a->rate ? "on" : "off");
}

auth_t *auth_new(uv_loop_t *loop, const config_t *cfg, char *err, size_t errlen)
{
    auth_t *a = calloc(1, sizeof *a);
    if (!a) abort();
    a->loop = loop;
    a->cfg = cfg;
    a->configured = cfg->jwt_secret || cfg->jwt_jwks_url || cfg->jwt_issuer ||
                    cfg->trust_forwarded_identity || cfg->db_anon_role;
    if (cfg->jwt_secret) {
        if (strlen(cfg->jwt_secret) < 32) {
            snprintf(err, errlen, "JWT_SECRET must be at least 32 bytes long");
            goto fail;
        }
        auth_keyset_add_secret(&a->secret_keys, cfg->jwt_secret, strlen(cfg->jwt_secret));
    }
    if (cfg->jwt_jwks_url || cfg->jwt_issuer) {
        a->jwks =
            auth_jwks_new(loop, cfg->jwt_jwks_url, cfg->jwt_issuer,
                          cfg->jwt_jwks_refresh_s > 0 ? cfg->jwt_jwks_refresh_s : AUTH_JWKS_MIN_S);
        if (!a->jwks) {
            snprintf(err, errlen, "JWT_JWKS_URL: the HTTP client could not be initialised");
            goto fail;
        }
    }
    char perr[200];
    a->role_path =
        auth_path_parse(cfg->jwt_role_claim ? cfg->jwt_role_claim : ".role", perr, sizeof perr);
    if (!a->role_path) {
        snprintf(err, errlen, "JWT_ROLE_CLAIM: %s", perr);
        goto fail;
    }
    if (cfg->admin_claim && auth_predicate_parse(&a->admin, cfg->admin_claim, perr, sizeof perr)) {
        snprintf(err, errlen, "ADMIN_CLAIM: %s", perr);
        goto fail;
    }
    auth_parse_admin_roles(a, cfg->admin_roles);
    a->tokens = auth_lru_new(AUTH_TOKEN_CACHE_MAX, token_entry_free);
    a->rate = auth_ratelimit_from_config(cfg);
    if (a->rate) {
        int burst = auth_rate_burst(cfg);
        int window = (int)ceil((double)burst / cfg->rate_limit_rps);
        snprintf(a->rate_policy, sizeof a->rate_policy, "\"default\";q=%d;w=%d", burst,
                 window < 1 ? 1 : window);
    }
    auth_build_description(a);
    return a;
fail:
    auth_free(a);
    return NULL;
}

int auth_register(auth_t *a, db_pool_t *pool)
{
    if (!a->configured) return 0;
    return db_session_register(pool, a->cfg->db_pre_request);
}

void auth_start(auth_t *a)
{
    if (a->jwks) auth_jwks_refresh(a->jwks, NULL, NULL);
}

void auth_free(auth_t *a)
{
    if (!a) return;
    auth_keyset_dispose(&a->secret_keys);
    auth_jwks_free(a->jwks);
    auth_path_free(a->role_path);
    auth_predicate_dispose(&a->admin);
    for (int i = 0; i < a->nadmin_roles; i++)
        free(a->admin_roles[i]);
    free(a->admin_roles);
    auth_lru_free(a->tokens);
    auth_ratelimit_free(a->rate);
    free(a);
}

int auth_rate_burst(const config_t *cfg)
{
    return cfg->rate_limit_burst > 0 ? cfg->rate_limit_burst : (int)ceil(cfg->rate_limit_rps);
}

void auth_use_ratelimit(auth_t *a, auth_ratelimit_t *shared)
{
    if (!shared || a->rate == shared) return;
    auth_ratelimit_free(a->rate);
    a->rate = auth_ratelimit_share(shared);
}

void auth_use_jwks(auth_t *a, auth_jwks_shared_t *shared)
{
    if (a->jwks) auth_jwks_use_shared(a->jwks, shared);
}

void auth_close(auth_t *a)
{
    if (a) auth_jwks_close(a->jwks);
}

bool auth_configured(const auth_t *a)
{
    return a->configured;
}

const char *auth_describe(const auth_t *a)
{
    return a->description;
}

/* ---- identities ---- */

bool auth_is_admin_role(const auth_t *a, const char *role)
{
    for (int i = 0; role && i < a->nadmin_roles; i++)
        if (strcmp(a->admin_roles[i], role) == 0) return true;
    return false;
}

/* The cache entry for verified claims: role, subject, admin decided once. */
auth_token_entry_t *auth_entry_from_claims(const auth_t *a, json_t *claims, double exp, double now)
{
    auth_token_entry_t *e = calloc(1, sizeof *e);
    if (!e) abort();
    e->claims = json_dumps(claims, JSON_COMPACT);
    if (!e->claims) abort();
    const char *role = json_string_value(auth_path_eval(a->role_path, claims));
    if (!role || !*role) role = a->cfg->db_anon_role; /* PostgREST: no role claim -> anon */
    e->role = role ? strdup(role) : NULL;
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    e->subject = sub ? strdup(sub) : NULL;
    e->admin = auth_predicate_holds(&a->admin, claims) || auth_is_admin_role(a, e->role);
    e->valid_until = now + AUTH_TOKEN_CACHE_S;
    if (exp > 0 && exp + a->cfg->jwt_clock_skew_s < e->valid_until)
        e->valid_until = exp + a->cfg->jwt_clock_skew_s;
    return e;
}

void auth_identity_from_entry(http_exchange_t *ex, const auth_token_entry_t *e, auth_identity_t *id)
{
    arena_t *ar = http_exchange_arena(ex);
    id->kind = AUTH_JWT;
    id->claims = arena_strdup(ar, e->claims);
    id->role = e->role ? arena_strdup(ar, e->role) : NULL;
    id->subject = e->subject ? arena_strdup(ar, e->subject) : NULL;
    id->admin = e->admin;
}

/*
 * Verifies the bearer token: 0 with *id filled, -1 refused (*why), or 1 when
 * the JWKS is being refreshed and fn(data) will be called (only if may_wait).
 */
int auth_verify_bearer(auth_t *a, http_exchange_t *ex, const char *token, size_t len, bool may_wait,
                       auth_jwks_fn fn, void *data, auth_identity_t *id, const char **why)
{
    unsigned char digest[32];
    auth_digest(token, len, digest);
    double now = auth_wall_now();
    auth_token_entry_t *e = auth_lru_get(a->tokens, digest);
    if (e && now < e->valid_until) {
        a->stats.jwt_cached++;
        auth_identity_from_entry(ex, e, id);
        return 0;
    }
    if (e) auth_lru_remove(a->tokens, digest);
    jwt_t t;
    int rc = jwt_parse(token, len, &t, why);
    if (rc == 0) {
        bool hs = t.alg == JWT_HS256 || t.alg == JWT_HS384 || t.alg == JWT_HS512;
        static const auth_keyset_t none = {0};
        const auth_keyset_t *ks = hs ? &a->secret_keys : a->jwks ? auth_jwks_keys(a->jwks) : &none;
        rc = jwt_verify(&t, ks, why);
        if (rc == 1 && may_wait && a->jwks && auth_jwks_refresh(a->jwks, fn, data)) {
            jwt_dispose(&t);
            return 1;
        }
        if (rc == 1) rc = -1;
    }
    double exp = 0;
    if (rc == 0) {
        jwt_rules_t rules = {now, a->cfg->jwt_clock_skew_s, a->cfg->jwt_audience,
                             a->cfg->jwt_issuer};
        rc = jwt_check_claims(t.claims, &rules, &exp, why);
    }
    if (rc == 0) {
        e = auth_entry_from_claims(a, t.claims, exp, now);
        auth_identity_from_entry(ex, e, id);
        auth_lru_put(a->tokens, digest, e);
        a->stats.jwt_ok++;
    } else {
        a->stats.jwt_refused++;
    }
    jwt_dispose(&t);
    return rc;
}

/* The Databricks Apps proxy's headers; false when none is present. */
bool auth_forwarded_identity(auth_t *a, http_exchange_t *ex, auth_identity_t *id)
{
    const char *email = http_exchange_header(ex, "x-forwarded-email", NULL);
    const char *user = http_exchange_header(ex, "x-forwarded-user", NULL);
    const char *pref = http_exchange_header(ex, "x-forwarded-preferred-username", NULL);
    if ((!email || !*email) && (!user || !*user)) return false;
    const char *role = a->cfg->role_from_email && email && *email ? email : a->cfg->db_anon_role;
    json_t *claims = json_object();
    if (user && *user)
        json_object_set_new(claims, "sub", json_string(user));
    else
        json_object_set_new(claims, "sub", json_string(email));
    if (email && *email) json_object_set_new(claims, "email", json_string(email));
    if (pref && *pref) json_object_set_new(claims, "preferred_username", json_string(pref));
    if (role) json_object_set_new(claims, "role", json_string(role));
    char *text = json_dumps(claims, JSON_COMPACT);
    arena_t *ar = http_exchange_arena(ex);
    id->kind = AUTH_FORWARDED;
    id->claims = text ? arena_strdup(ar, text) : "{}";
    id->role = role ? arena_strdup(ar, role) : NULL;
    id->subject = arena_strdup(ar, user && *user ? user : email);
    id->admin = auth_predicate_holds(&a->admin, claims) || auth_is_admin_role(a, id->role);
    free(text);
    json_decref(claims);
    a->stats.forwarded++;
    return true;
}

void auth_anonymous_identity(auth_t *a, http_exchange_t *ex, auth_identity_t *id)
{
    id->kind = AUTH_ANONYMOUS;
    id->role = a->cfg->db_anon_role;
    id->subject = NULL;
    id->admin = false;
    id->claims = "{}";
    if (id->role) {
        /* {"role": <anon role>} as PostgREST sets it, JSON-escaped by jansson. */
        json_t *c = json_pack("{s:s}", "role", id->role);
        char *text = json_dumps(c, JSON_COMPACT);
        id->claims = arena_strdup(http_exchange_arena(ex), text ? text : "{}");
        free(text);
        json_decref(c);
    }
    a->stats.anonymous++;
}

/* "Bearer <token>" (any case, PostgREST accepts "bearer"); NULL otherwise. */
const char *auth_bearer(http_exchange_t *ex, size_t *len)
{
    size_t n;
    const char *v = http_exchange_header(ex, "authorization", &n);
    if (!v || n < 6 || strncasecmp(v, "bearer", 6) != 0) return NULL;
    if (n > 6 && v[6] != ' ') return NULL;
    size_t i = 6;
    while (i < n && v[i] == ' ')
        i++;
    *len = n - i;
    return v + i;
}

bool auth_secret_equal(const char *given, size_t given_len, const char *secret)
{
    size_t n = strlen(secret);
    /* The content is compared in constant time; only the length may show. */
    if (given_len != n) return false;
    return CRYPTO_memcmp(given, secret, n) == 0;
}

void auth_get_stats(const auth_t *a, auth_stats_t *out)
{
    *out = a->stats;
    if (a->jwks) auth_jwks_counts(a->jwks, &out->jwks_fetches, &out->jwks_failures);
}

void auth_metrics_render(const auth_t *a, buf_t *out)
{
    auth_stats_t s;
    auth_get_stats(a, &s);
    static const char *const ids = "Requests by how their identity was resolved.";
    static const char *const rate = "Rate-limit decisions by outcome.";
    const struct {
        const char *family, *help, *outcome;
        uint64_t value;
    } rows[] = {
        {"lakeapi_auth_identities_total", ids, "jwt_verified", s.jwt_ok},
        {"lakeapi_auth_identities_total", ids, "jwt_cached", s.jwt_cached},
        {"lakeapi_auth_identities_total", ids, "jwt_refused", s.jwt_refused},
        {"lakeapi_auth_identities_total", ids, "forwarded", s.forwarded},
        {"lakeapi_auth_identities_total", ids, "anonymous", s.anonymous},
        {"lakeapi_auth_identities_total", ids, "anonymous_refused", s.anonymous_refused},
        {"lakeapi_auth_identities_total", ids, "forbidden", s.forbidden},
        {"lakeapi_rate_limit_total", rate, "allowed", s.rate_allowed},
        {"lakeapi_rate_limit_total", rate, "limited", s.rate_limited},
        {"lakeapi_rate_limit_total", rate, "evicted", s.rate_evicted},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (i == 0 || strcmp(rows[i].family, rows[i - 1].family) != 0)
            buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", rows[i].family, rows[i].help,
                       rows[i].family);
        buf_printf(out, "%s{outcome=\"%s\"} %llu\n", rows[i].family, rows[i].outcome,
                   (unsigned long long)rows[i].value);
    }
    buf_printf(out,
               "# HELP lakeapi_rate_limit_buckets Rate-limit buckets held (bounded LRU).\n"
               "# TYPE lakeapi_rate_limit_buckets gauge\nlakeapi_rate_limit_buckets %zu\n",
               a->rate ? auth_ratelimit_size(a->rate) : (size_t)0);
    buf_printf(out,
               "# HELP lakeapi_jwks_fetches_total JWKS fetches started.\n"
               "# TYPE lakeapi_jwks_fetches_total counter\nlakeapi_jwks_fetches_total %llu\n"
               "# HELP lakeapi_jwks_failures_total JWKS fetches or discoveries that failed.\n"
               "# TYPE lakeapi_jwks_failures_total counter\nlakeapi_jwks_failures_total %llu\n",
               (unsigned long long)s.jwks_fetches, (unsigned long long)s.jwks_failures);
}
