/*
 * credentials - where the pool's database passwords come from.
 *
 * Three providers implement db_credentials_t (lakeapi/db.h):
 *   static                 PGPASSWORD / DATABASE_PASSWORD / the password in DATABASE_URL
 *   lakebase-autoscaling   ENDPOINT_NAME set: POST {DATABRICKS_HOST}/api/2.0/postgres/credentials
 *   lakebase-provisioned   LAKEBASE_INSTANCE_NAME set (and no endpoint):
 *                          POST {DATABRICKS_HOST}/api/2.0/database/credentials
 * The Lakebase providers mint short-lived OAuth tokens that the database takes
 * as the password (and checks only at login). The workspace call carries a PAT
 * (DATABRICKS_TOKEN) or an OAuth M2M token (DATABRICKS_CLIENT_ID/SECRET).
 *
 * Rules: the token is cached and handed out until it is within 2 minutes of
 * expiry (or half its lifetime, for tokens shorter than 4 minutes); then the
 * next caller triggers one mint that every concurrent caller shares. A failed
 * mint is retried with backoff (0.5 s doubling to 30 s); meanwhile callers get
 * the still-valid old token if there is one, else the error at once - so the
 * pool answers 503 instead of hanging. Errors name the endpoint or instance,
 * the HTTP status and the Databricks error_code/message; never a secret.
 *
 * All HTTP runs on the caller's libuv loop (libcurl multi-socket); nothing
 * blocks and no thread is started.
 */
#ifndef LAKEAPI_CREDENTIALS_H
#define LAKEAPI_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lakeapi/config.h"
#include "lakeapi/db.h"

typedef struct credentials_stats {
    const char *kind;            /* "static", "lakebase-autoscaling", "lakebase-provisioned" */
    uint64_t mints;              /* database tokens minted */
    uint64_t mint_failures;      /* failed mint attempts (workspace auth failures included) */
    uint64_t workspace_tokens;   /* OAuth M2M workspace tokens fetched */
    uint64_t workspace_failures; /* failed OAuth M2M token requests */
    double expires_at;           /* the cached database token's expiry, unix s; 0: none */
    bool healthy;                /* false while the last mint attempt failed */
    char last_error[512];        /* why the last attempt failed ("" when it worked); no secrets */
} credentials_stats_t;

/*
 * Builds the provider the settings ask for (see above) on loop. Returns 0 and
 * *out, or -1 with a message naming the settings in err (e.g. ENDPOINT_NAME
 * without DATABRICKS_HOST, or both a PAT and client credentials without
 * DATABRICKS_AUTH_TYPE). The caller frees *out with (*out)->free(*out) once
 * the loop has stopped and every handle on it is closed (uv_walk + uv_close).
 */
int credentials_from_config(uv_loop_t *loop, const config_t *cfg, db_credentials_t **out, char *err,
                            size_t errlen);

/* One line naming the provider credentials_from_config() would choose, secrets masked. */
void credentials_describe(const config_t *cfg, char *out, size_t n);

/* Counters and the last error of any provider (the static one reports zeros). */
void credentials_stats(const db_credentials_t *cr, credentials_stats_t *out);

/*
 * hub.c: one provider shared by several event loops (WORKERS > 1). The hub
 * lives on owner's loop (real stays there, not owned); each loop asks through
 * its own client (a db_credentials_t whose free() ends it), so every loop
 * shares one cached token and one mint. Before a client's loop closes its
 * handles, credentials_hub_detach(client): answers for it are dropped from then
 * on. The hub's async handle is closed with the owner loop's handles;
 * credentials_hub_free() after that and after every client's free().
 */
typedef struct credentials_hub credentials_hub_t;
credentials_hub_t *credentials_hub_new(uv_loop_t *owner, db_credentials_t *real);
db_credentials_t *credentials_hub_client(credentials_hub_t *h, uv_loop_t *loop);
void credentials_hub_detach(db_credentials_t *client);
/* A client's stats (the shared provider's, as of its last answer); false for other providers. */
bool credentials_hub_stats(const db_credentials_t *cr, credentials_stats_t *out);
void credentials_hub_free(credentials_hub_t *h);

/*
 * For one-shot tools (check-config): runs a private loop until the provider
 * answers once. On success returns 0 and *password (caller frees; NULL when
 * the static provider has none) and *expires_at; else -1 with err.
 */
int credentials_fetch_once(const config_t *cfg, char **password, double *expires_at, char *err,
                           size_t errlen);

#endif
