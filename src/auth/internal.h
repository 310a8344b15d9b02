/*
 * auth/internal.h - the pieces of src/auth, shared between its files and the
 * unit tests / fuzz target; not part of the public auth.h interface.
 *
 *   jwt.c        compact JWS parsing (base64url, header, claims), signature
 *                verification with OpenSSL 3, claim checks (exp/nbf/aud/iss)
 *   jwk.c        keys: the HMAC secret, JWKS documents -> EVP_PKEY (RSA, EC P-256/P-384,
 *                Ed25519/Ed448)
 *   claim.c      PostgREST's claim paths (.role, .realm_access.roles[0], filters) and
 *                ADMIN_CLAIM's "path == value"
 *   lru.c        a bounded hash table with least-recently-used eviction (32-byte keys)
 *   ratelimit.c  token buckets per identity in an LRU, one per process
 *   jwks.c       fetching the JWKS (and OpenID discovery) on the loop
 *   auth.c       the per-loop state, identity resolution, the pre-route hook
 *   query.c      auth_db_query(): the request's session (role, settings) for the db layer
 */
#ifndef LAKEAPI_AUTH_INTERNAL_H
#define LAKEAPI_AUTH_INTERNAL_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

/* ---- keys (jwk.c) ---- */

typedef enum {
    JWT_ALG_UNKNOWN = 0,
    JWT_HS256,
    JWT_HS384,
    JWT_HS512,
    JWT_RS256,
    JWT_RS384,
    JWT_RS512,
    JWT_ES256,
    JWT_ES384,
    JWT_EDDSA,
} jwt_alg_t;

typedef enum {
    AUTH_KEY_HMAC,
    AUTH_KEY_RSA,
    AUTH_KEY_EC256,
    AUTH_KEY_EC384,
    AUTH_KEY_OKP
} auth_key_type_t;

typedef struct auth_key {
    auth_key_type_t type;
    char kid[128];         /* "" when the key has none */
    jwt_alg_t alg;         /* the JWK's "alg", or JWT_ALG_UNKNOWN (any that fits the type) */
    EVP_PKEY *pkey;        /* asymmetric keys */
    unsigned char *secret; /* HMAC */
    size_t secret_len;
} auth_key_t;

typedef struct auth_keyset {
    auth_key_t *keys;
    int n;
} auth_keyset_t;

jwt_alg_t jwt_alg_parse(const char *name);
const char *jwt_alg_name(jwt_alg_t alg);
/* Does a key of this type verify tokens of alg? (No HS/RS confusion: HMAC only with HMAC.) */
bool auth_key_fits(const auth_key_t *k, jwt_alg_t alg);

/* Adds an HMAC key (the secret is copied). */
void auth_keyset_add_secret(auth_keyset_t *ks, const char *secret, size_t len);
/*
 * Parses a JWKS document {"keys":[...]} and adds every usable verification
 * key (use "sig" or absent; kty RSA, EC P-256/P-384, OKP Ed25519/Ed448).
 * Keys it cannot use are skipped. Returns the number added, or -1 with err
 * when the document is not a JWKS at all.
 */
int auth_keyset_add_jwks(auth_keyset_t *ks, const char *json, size_t len, char *err, size_t errlen);
void auth_keyset_dispose(auth_keyset_t *ks);
/* Moves src's keys into dst (dst disposed first); src is left empty. */
void auth_keyset_move(auth_keyset_t *dst, auth_keyset_t *src);

/* ---- tokens (jwt.c) ---- */

#define JWT_MAX_TOKEN 16384

typedef struct jwt {
    jwt_alg_t alg;
    char kid[128];
    bool has_kid;
    json_t *claims;            /* owned */
    const char *signing_input; /* header.payload, inside the token */
    size_t signing_len;
    unsigned char *sig; /* owned */
    size_t sig_len;
} jwt_t;

/*
 * Splits and decodes a compact JWS. Returns 0, or -1 with *why (a fixed,
 * token-free message such as "Expected 3 parts in JWT"). alg "none" and
 * unknown algorithms are refused here. jwt_dispose() in both cases.
 */
int jwt_parse(const char *token, size_t len, jwt_t *out, const char **why);
void jwt_dispose(jwt_t *t);
/* Decodes unpadded base64url; NULL on a bad character. *outlen set. Caller frees. */
unsigned char *jwt_b64url_decode(const char *s, size_t len, size_t *outlen);

/* true when key verifies t's signature (the type must fit the alg; HMAC in constant time). */
bool jwt_verify_with(const jwt_t *t, const auth_key_t *key);
/*
 * Finds the key (by kid when the token has one, else every fitting key) and
 * verifies. Returns 0, 1 when no key has the token's kid (the caller may
 * refresh the JWKS), or -1 with *why.
 */
int jwt_verify(const jwt_t *t, const auth_keyset_t *ks, const char **why);

typedef struct jwt_rules {
    double now, skew;
    const char *audience; /* NULL: any */
    const char *issuer;   /* NULL: any */
} jwt_rules_t;
/* exp/nbf with the skew, aud, iss. 0, or -1 with *why. *exp_out: exp or 0 when absent. */
int jwt_check_claims(const json_t *claims, const jwt_rules_t *r, double *exp_out, const char **why);

/* ---- claim paths (claim.c) ---- */

typedef struct auth_path auth_path_t;
/* PostgREST's JSPath (".a.b[0]", ".\"x-y\".z", "[?(@ == \"s\")]") or "$"-prefixed forms. */
auth_path_t *auth_path_parse(const char *s, char *err, size_t errlen);
void auth_path_free(auth_path_t *p);
/* The value at p in root, or NULL. Borrowed from root. */
json_t *auth_path_eval(const auth_path_t *p, json_t *root);

/* ADMIN_CLAIM: "path" (true when the value is JSON true) or "path == <JSON literal>". */
typedef struct auth_predicate {
    auth_path_t *path;
    json_t *value; /* owned; NULL: "is true" */
} auth_predicate_t;
int auth_predicate_parse(auth_predicate_t *p, const char *s, char *err, size_t errlen);
bool auth_predicate_holds(const auth_predicate_t *p, json_t *claims);
void auth_predicate_dispose(auth_predicate_t *p);

/* ---- a bounded LRU table (lru.c) ---- */

typedef struct auth_lru auth_lru_t;
typedef void (*auth_lru_free_fn)(void *value);

auth_lru_t *auth_lru_new(size_t capacity, auth_lru_free_fn free_value);
void auth_lru_free(auth_lru_t *l);
/* The value under key (32 bytes), moved to the front; NULL when absent. */
void *auth_lru_get(auth_lru_t *l, const unsigned char key[32]);
/*
 * Stores value under key (replacing and freeing an old one); evicts the least
 * recently used entry when full. Returns true when an entry was evicted.
 */
bool auth_lru_put(auth_lru_t *l, const unsigned char key[32], void *value);
void auth_lru_remove(auth_lru_t *l, const unsigned char key[32]);
size_t auth_lru_size(const auth_lru_t *l);

/* SHA-256 of s into out. */
void auth_digest(const void *s, size_t len, unsigned char out[32]);

/* ---- rate limits (ratelimit.c) ---- */

/* RATE_LIMIT_BURST, or RATE_LIMIT_RPS rounded up when unset. */
int auth_rate_burst(const config_t *cfg);

typedef struct auth_rate_decision {
    bool allowed;
    int remaining;   /* whole tokens left after this request */
    int retry_after; /* seconds until one token is back (when refused), >= 1 */
    int reset;       /* seconds until the bucket is full again */
} auth_rate_decision_t;

/* rps > 0, burst >= 1; at most capacity buckets (least recently used ones are dropped). */
auth_ratelimit_t *auth_ratelimit_new(double rps, int burst, size_t capacity);
/* Takes one token from key's bucket at time now_s (monotonic seconds); thread-safe. */
auth_rate_decision_t auth_ratelimit_take(auth_ratelimit_t *r, const char *key, size_t keylen,
                                         double now_s, bool *evicted);
size_t auth_ratelimit_size(auth_ratelimit_t *r);

/* ---- the JWKS on the loop (jwks.c) ---- */

typedef struct auth_jwks auth_jwks_t;
typedef void (*auth_jwks_fn)(void *data); /* a refresh ended (the keys may be new) */

/*
 * url: JWT_JWKS_URL, or NULL to discover it from issuer's
 * /.well-known/openid-configuration. min_interval_s: refreshes start at most
 * this often (30 s).
 */
auth_jwks_t *auth_jwks_new(uv_loop_t *loop, const char *url, const char *issuer,
                           double min_interval_s);
void auth_jwks_free(auth_jwks_t *j);
/* Takes part in sh (the keys and refreshes of every loop) instead of its own; before start. */
void auth_jwks_use_shared(auth_jwks_t *j, auth_jwks_shared_t *sh);
/* On the loop, before its handles close: other loops stop waking requests here. */
void auth_jwks_close(auth_jwks_t *j);
/* The keys to verify with now (valid until this loop's next call). */
const auth_keyset_t *auth_jwks_keys(auth_jwks_t *j);
/*
 * Asks for fresh keys (an unknown kid). true: fn(data) runs once the current
 * or a newly started refresh ends; false: a refresh ran less than
 * min_interval_s ago (or cannot start) - the keys are what they are.
 */
bool auth_jwks_refresh(auth_jwks_t *j, auth_jwks_fn fn, void *data);
void auth_jwks_counts(const auth_jwks_t *j, uint64_t *fetches, uint64_t *failures);

/* ---- the per-loop state (auth.c, hook.c, query.c) ---- */

typedef struct auth_token_entry {
    char *claims, *role, *subject; /* owned */
    bool admin;
    double valid_until; /* wall clock: exp + skew, at most AUTH_TOKEN_CACHE_S after verifying */
} auth_token_entry_t;

struct auth {
    uv_loop_t *loop;
    const config_t *cfg;
    bool configured;
    auth_keyset_t secret_keys; /* the JWT_SECRET HMAC key */
    auth_jwks_t *jwks;         /* NULL without JWT_JWKS_URL / JWT_ISSUER */
    auth_path_t *role_path;
    auth_predicate_t admin; /* path NULL: no ADMIN_CLAIM */
    char **admin_roles;
    int nadmin_roles;
    auth_lru_t *tokens;     /* verified tokens by SHA-256 */
    auth_ratelimit_t *rate; /* NULL: no rate limit */
    char rate_policy[64];   /* the RateLimit-Policy value */
    char description[400];
    auth_stats_t stats;
};

bool auth_is_admin_role(const auth_t *a, const char *role);
auth_token_entry_t *auth_entry_from_claims(const auth_t *a, json_t *claims, double exp, double now);
void auth_identity_from_entry(http_exchange_t *ex, const auth_token_entry_t *e,
                              auth_identity_t *id);
int auth_verify_bearer(auth_t *a, http_exchange_t *ex, const char *token, size_t len, bool may_wait,
                       auth_jwks_fn fn, void *data, auth_identity_t *id, const char **why);
bool auth_forwarded_identity(auth_t *a, http_exchange_t *ex, auth_identity_t *id);
void auth_anonymous_identity(auth_t *a, http_exchange_t *ex, auth_identity_t *id);
const char *auth_bearer(http_exchange_t *ex, size_t *len);
/* Constant-time comparison of a presented token with a configured secret. */
bool auth_secret_equal(const char *given, size_t given_len, const char *secret);

#endif
