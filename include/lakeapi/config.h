/*
 * config - the effective settings: command-line flags, then the environment,
 * then a `.env` file in the working directory (first found wins).
 *
 * Names are the ones users of the tutorials already have (SPEC section 6).
 * Every value is validated when loaded: a bad value is an error that names the
 * setting. Secrets are kept as given and only ever printed through
 * config_describe(), which masks them.
 */
#ifndef LAKEAPI_CONFIG_H
#define LAKEAPI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "lakeapi/buf.h"
#include "lakeapi/log.h"

/* Looks a name up in "the environment"; tests pass their own. NULL if unset. */
typedef const char *(*config_getenv_fn)(const char *name, void *data);

typedef struct config {
    /* server */
    char *host;                  /* HOST (127.0.0.1), --host */
    int port;                    /* --port, PORT, DATABRICKS_APP_PORT (8000) */
    log_level_t log_level;       /* LOG_LEVEL (info) */
    char *app_env;               /* APP_ENV (development) */
    char *cors_allow_origins;    /* CORS_ALLOW_ORIGINS (NULL: none) */
    bool cors_allow_credentials; /* CORS_ALLOW_CREDENTIALS (false) */
    char *swagger_ui_dir; /* SWAGGER_UI_DIR (NULL: <exe dir>/web/node_modules/swagger-ui-dist) */

    /* database: DATABASE_URL, else the discrete fields */
    char *database_url; /* DATABASE_URL */
    char *pg_host;      /* PGHOST / DATABASE_HOSTNAME */
    char *pg_port;      /* PGPORT / DATABASE_PORT (validated 1..65535) */
    char *pg_database;  /* PGDATABASE / DATABASE_NAME / LAKEBASE_DATABASE_NAME */
    char *pg_user;      /* PGUSER / DATABASE_USERNAME */
    char *pg_password;  /* PGPASSWORD / DATABASE_PASSWORD (secret) */
    char *pg_sslmode;   /* PGSSLMODE (disable|allow|prefer|require|verify-ca|verify-full) */
    char *pg_appname;   /* PGAPPNAME (lakeapi) */

    /* pool */
    int pool_size;            /* DB_POOL_SIZE (10), >= 1 */
    int max_overflow;         /* DB_MAX_OVERFLOW (20), >= 0 */
    double pool_timeout_s;    /* DB_POOL_TIMEOUT (10), > 0 */
    double command_timeout_s; /* DB_COMMAND_TIMEOUT (30), > 0 */
    double pool_recycle_s;    /* DB_POOL_RECYCLE_INTERVAL (3600; 0 = never) */

    /* scaling out: read replicas, loops */
    char *database_read_url;  /* DATABASE_READ_URL: one replica (secret password masked) */
    char *pg_host_read;       /* PGHOST_READ: comma list of replica hosts ("host" or "host:port") */
    int read_after_write_ms;  /* READ_AFTER_WRITE_MS (1000; 0 = off), 0..3600000 */
    double replica_max_lag_s; /* REPLICA_MAX_LAG (10 s), > 0 */
    int workers;              /* WORKERS (0 = one loop per core, the default), 0..256 */
    int loop_spin_us; /* LOOP_SPIN_US (200): busy-poll before blocking, lone client only; 0 off */

    /* tables */
    char *orders_table; /* ORDERS_TABLE (public.orders_synced) */
    char *users_table;  /* USERS_TABLE (public.users) */

    /* the Data API (src/rest) */
    char *rest_schemas;      /* LAKEAPI_SCHEMAS (public): comma list; the first is the default */
    char *rest_prefix;       /* REST_PREFIX (/rest/v1) */
    int db_max_rows;         /* DB_MAX_ROWS (1000): rows of a non-streamed answer; 0 = no cap */
    double rest_count_ttl_s; /* REST_COUNT_TTL (1 s): freshness of cached whole-table counts */
    bool rest_unfiltered_writes; /* REST_ALLOW_UNFILTERED_WRITES (false): PATCH/DELETE with no
                                    filter */
    char *cursor_secret;         /* CURSOR_SECRET (secret): signs keyset cursors; unset = random */

    /* Lakebase / Databricks */
    char *lakebase_instance_name;   /* LAKEBASE_INSTANCE_NAME */
    char *lakebase_catalog_name;    /* LAKEBASE_CATALOG_NAME */
    char *endpoint_name;            /* ENDPOINT_NAME / LAKEBASE_ENDPOINT / PGENDPOINT */
    char *synced_storage_catalog;   /* SYNCED_TABLE_STORAGE_CATALOG (or SYNCHED_) */
    char *synced_storage_schema;    /* SYNCED_TABLE_STORAGE_SCHEMA (or SYNCHED_) */
    char *databricks_host;          /* DATABRICKS_HOST */
    char *databricks_token;         /* DATABRICKS_TOKEN (secret) */
    char *databricks_client_id;     /* DATABRICKS_CLIENT_ID */
    char *databricks_client_secret; /* DATABRICKS_CLIENT_SECRET (secret) */
    char *databricks_auth_type;     /* DATABRICKS_AUTH_TYPE (pat|oauth-m2m) */

    /* what the HTTP server admits and says (README "Reliability") */
    int max_connections;             /* MAX_CONNECTIONS (0: from RLIMIT_NOFILE, at most 10000) */
    int max_connections_per_ip;      /* MAX_CONNECTIONS_PER_IP (0: no cap) */
    char *server_header;             /* SERVER_HEADER (lakeapi) */
    double http_header_timeout_s;    /* HTTP_HEADER_TIMEOUT (10): a whole head, else 408 */
    double http_body_timeout_s;      /* HTTP_BODY_TIMEOUT (30): a whole body, else 408 */
    double http_keepalive_timeout_s; /* HTTP_KEEPALIVE_TIMEOUT (60): idle, then closed */
    /* the Lakehouse backend (a Databricks SQL warehouse; src/lakehouse/) */
    char *warehouse_id;           /* DATABRICKS_WAREHOUSE_ID */
    char *http_path;              /* DATABRICKS_HTTP_PATH (/sql/1.0/warehouses/<id>) */
    char *lakehouse_catalog;      /* LAKEHOUSE_CATALOG (main) */
    char *lakehouse_schema;       /* LAKEHOUSE_SCHEMA (default) */
    char *lakehouse_users_table;  /* LAKEHOUSE_USERS_TABLE (users) */
    char *users_backend;          /* USERS_BACKEND (postgres | lakehouse) */
    double lakehouse_cache_ttl_s; /* LAKEHOUSE_CACHE_TTL (60; 0 = nothing cached) */
    int lakehouse_cache_mb;       /* LAKEHOUSE_CACHE_MB (64) */
    double lakehouse_wait_s;      /* LAKEHOUSE_WAIT_TIMEOUT (5; 0 or 5..50) */
    double lakehouse_reload_s;    /* LAKEHOUSE_RELOAD_INTERVAL (300; 0 = only on _reload) */

    /* access control (src/auth); none set: the open demo mode */
    char *jwt_secret;              /* JWT_SECRET (secret; at least 32 bytes) */
    char *jwt_jwks_url;            /* JWT_JWKS_URL */
    char *jwt_issuer;              /* JWT_ISSUER (also discovers the JWKS) */
    char *jwt_audience;            /* JWT_AUDIENCE */
    double jwt_clock_skew_s;       /* JWT_CLOCK_SKEW (30) */
    double jwt_jwks_refresh_s;     /* JWT_JWKS_REFRESH_INTERVAL (30): unknown-kid refetch pace */
    char *jwt_role_claim;          /* JWT_ROLE_CLAIM (.role) */
    char *db_anon_role;            /* DB_ANON_ROLE */
    char *db_pre_request;          /* DB_PRE_REQUEST ([schema.]function) */
    bool trust_forwarded_identity; /* TRUST_FORWARDED_IDENTITY (false) */
    bool role_from_email;          /* ROLE_FROM_EMAIL (false) */
    char *admin_claim;             /* ADMIN_CLAIM (e.g. ".lakeapi_admin == true") */
    char *admin_roles;             /* ADMIN_ROLES (comma list) */
    bool resources_enabled;        /* RESOURCES_ENABLED (false) */
    char *metrics_token;           /* METRICS_TOKEN (secret) */
    double rate_limit_rps;         /* RATE_LIMIT_RPS (0 = off) */
    int rate_limit_burst;          /* RATE_LIMIT_BURST (0 = RATE_LIMIT_RPS rounded up) */
} config_t;

void config_init(config_t *c);    /* the defaults */
void config_dispose(config_t *c); /* frees every string */

/*
 * Loads flags (every element of argv is an option: only --host/--port and --key=value forms of
 * the settings are taken), then env via getenv_fn, then the .env file at
 * dotenv_path (NULL to skip; a missing file is not an error). Returns 0, or -1
 * with a message naming the setting in err.
 */
int config_load(config_t *c, int argc, char **argv, config_getenv_fn getenv_fn, void *env_data,
                const char *dotenv_path, char *err, size_t errlen);
/* The process environment as a config_getenv_fn. */
const char *config_process_getenv(const char *name, void *data);

/* true when some database is configured (URL, host or database name). */
bool config_has_database(const config_t *c);
/* The loops asked for: WORKERS, or with 0 the CPUs this process may run on (>= 1). */
int config_workers_wanted(const config_t *c);
/* The loops run: config_workers_wanted, at most DB_POOL_SIZE (one connection each at least). */
int config_workers_count(const config_t *c);
/*
 * libpq keywords/values for PQconnectStartParams (expand_dbname=1 so
 * DATABASE_URL may be a URI), NULL-terminated. password overrides the
 * configured one when not NULL (credential providers). Arrays and strings are
 * allocated; free with config_free_conninfo().
 */
void config_conninfo(const config_t *c, const char *password, const char ***keywords,
                     const char ***values);
void config_free_conninfo(const char **keywords, const char **values);
/* Human-readable "NAME = value" lines, every secret masked ("****"). */
void config_describe(const config_t *c, buf_t *out);
/* Masks the password inside a postgres URL or conninfo string. Caller frees. */
char *config_mask_url(const char *url);

#endif
