/*
 * config/config - loading and validating the settings (see include/lakeapi/config.h).
 *
 * Owns: the settings table, the command-line flags, the precedence
 * flags > environment > .env, and every validation rule. For each setting the
 * first source that has a non-empty value under any of its names wins; within
 * a source, names are tried in the table's order (PORT before
 * DATABRICKS_APP_PORT). An empty value counts as unset. Every string in
 * config_t is owned by it (strdup'ed) and freed by config_dispose().
 *
 * Table names are interpolated into SQL by the db layer, so their check here
 * ([schema.]name of [A-Za-z_][A-Za-z0-9_]{0,62}) is a security boundary.
 */
#include "lakeapi/config.h"
#include "config/config_internal.h"
#include "config/dotenv.h"

#include <errno.h>
#include <sched.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define FIELD(name) offsetof(config_t, name)

const config_setting_t config_settings[] = {
    {{"HOST"}, "--host", CONFIG_STR, FIELD(host), false},
    {{"PORT", "DATABRICKS_APP_PORT"}, "--port", CONFIG_PORT, FIELD(port), false},
    {{"LOG_LEVEL"}, NULL, CONFIG_LOG_LEVEL, FIELD(log_level), false},
    {{"APP_ENV"}, NULL, CONFIG_STR, FIELD(app_env), false},
    {{"CORS_ALLOW_ORIGINS"}, NULL, CONFIG_STR, FIELD(cors_allow_origins), false},
    {{"CORS_ALLOW_CREDENTIALS"}, NULL, CONFIG_BOOL, FIELD(cors_allow_credentials), false},
    {{"SWAGGER_UI_DIR"}, NULL, CONFIG_STR, FIELD(swagger_ui_dir), false},
    {{"DATABASE_URL"}, NULL, CONFIG_URL, FIELD(database_url), true},
    {{"PGHOST", "DATABASE_HOSTNAME"}, NULL, CONFIG_STR, FIELD(pg_host), false},
    {{"PGPORT", "DATABASE_PORT"}, NULL, CONFIG_PORT_STR, FIELD(pg_port), false},
    {{"PGDATABASE", "DATABASE_NAME", "LAKEBASE_DATABASE_NAME"},
     NULL,
     CONFIG_STR,
     FIELD(pg_database),
     false},
    {{"PGUSER", "DATABASE_USERNAME"}, NULL, CONFIG_STR, FIELD(pg_user), false},
    {{"PGPASSWORD", "DATABASE_PASSWORD"}, NULL, CONFIG_STR, FIELD(pg_password), true},
    {{"PGSSLMODE"}, NULL, CONFIG_SSLMODE, FIELD(pg_sslmode), false},
    {{"PGAPPNAME"}, NULL, CONFIG_STR, FIELD(pg_appname), false},
    {{"DB_POOL_SIZE"}, NULL, CONFIG_POOL_SIZE, FIELD(pool_size), false},
    {{"DB_MAX_OVERFLOW"}, NULL, CONFIG_OVERFLOW, FIELD(max_overflow), false},
    {{"DB_POOL_TIMEOUT"}, NULL, CONFIG_SECONDS, FIELD(pool_timeout_s), false},
    {{"DB_COMMAND_TIMEOUT"}, NULL, CONFIG_SECONDS, FIELD(command_timeout_s), false},
    {{"DB_POOL_RECYCLE_INTERVAL"}, NULL, CONFIG_SECONDS0, FIELD(pool_recycle_s), false},
    {{"DATABASE_READ_URL"}, NULL, CONFIG_URL, FIELD(database_read_url), true},
    {{"PGHOST_READ"}, NULL, CONFIG_STR, FIELD(pg_host_read), false},
    {{"READ_AFTER_WRITE_MS"}, NULL, CONFIG_MS, FIELD(read_after_write_ms), false},
    {{"REPLICA_MAX_LAG"}, NULL, CONFIG_SECONDS, FIELD(replica_max_lag_s), false},
    {{"WORKERS"}, NULL, CONFIG_WORKERS, FIELD(workers), false},
    {{"LOOP_SPIN_US"}, NULL, CONFIG_COUNT, FIELD(loop_spin_us), false},
    {{"ORDERS_TABLE"}, NULL, CONFIG_TABLE, FIELD(orders_table), false},
    {{"USERS_TABLE"}, NULL, CONFIG_TABLE, FIELD(users_table), false},
    {{"LAKEAPI_SCHEMAS"}, NULL, CONFIG_STR, FIELD(rest_schemas), false},
    {{"REST_PREFIX"}, NULL, CONFIG_STR, FIELD(rest_prefix), false},
    {{"DB_MAX_ROWS"}, NULL, CONFIG_ROWS, FIELD(db_max_rows), false},
    {{"REST_COUNT_TTL"}, NULL, CONFIG_SECONDS, FIELD(rest_count_ttl_s), false},
    {{"REST_ALLOW_UNFILTERED_WRITES"}, NULL, CONFIG_BOOL, FIELD(rest_unfiltered_writes), false},
    {{"CURSOR_SECRET"}, NULL, CONFIG_STR, FIELD(cursor_secret), true},
    {{"LAKEBASE_INSTANCE_NAME"}, NULL, CONFIG_STR, FIELD(lakebase_instance_name), false},
    {{"LAKEBASE_CATALOG_NAME"}, NULL, CONFIG_STR, FIELD(lakebase_catalog_name), false},
    {{"ENDPOINT_NAME", "LAKEBASE_ENDPOINT", "PGENDPOINT"},
     NULL,
     CONFIG_STR,
     FIELD(endpoint_name),
     false},
    {{"SYNCED_TABLE_STORAGE_CATALOG", "SYNCHED_TABLE_STORAGE_CATALOG"},
     NULL,
     CONFIG_STR,
     FIELD(synced_storage_catalog),
     false},
    {{"SYNCED_TABLE_STORAGE_SCHEMA", "SYNCHED_TABLE_STORAGE_SCHEMA"},
     NULL,
     CONFIG_STR,
     FIELD(synced_storage_schema),
     false},
    {{"DATABRICKS_HOST", "DATABRICKS_SERVER_HOSTNAME"},
     NULL,
     CONFIG_DBX_HOST,
     FIELD(databricks_host),
     false},
    {{"DATABRICKS_TOKEN"}, NULL, CONFIG_STR, FIELD(databricks_token), true},
    {{"DATABRICKS_CLIENT_ID"}, NULL, CONFIG_STR, FIELD(databricks_client_id), false},
    {{"DATABRICKS_CLIENT_SECRET"}, NULL, CONFIG_STR, FIELD(databricks_client_secret), true},
    {{"DATABRICKS_AUTH_TYPE"}, NULL, CONFIG_AUTH_TYPE, FIELD(databricks_auth_type), false},
    {{"MAX_CONNECTIONS"}, NULL, CONFIG_COUNT, FIELD(max_connections), false},
    {{"MAX_CONNECTIONS_PER_IP"}, NULL, CONFIG_COUNT, FIELD(max_connections_per_ip), false},
    {{"SERVER_HEADER"}, NULL, CONFIG_HEADER, FIELD(server_header), false},
    {{"HTTP_HEADER_TIMEOUT"}, NULL, CONFIG_SECONDS, FIELD(http_header_timeout_s), false},
    {{"HTTP_BODY_TIMEOUT"}, NULL, CONFIG_SECONDS, FIELD(http_body_timeout_s), false},
    {{"HTTP_KEEPALIVE_TIMEOUT"}, NULL, CONFIG_SECONDS, FIELD(http_keepalive_timeout_s), false},
    {{"DATABRICKS_WAREHOUSE_ID"}, NULL, CONFIG_STR, FIELD(warehouse_id), false},
    {{"DATABRICKS_HTTP_PATH"}, NULL, CONFIG_STR, FIELD(http_path), false},
    {{"LAKEHOUSE_CATALOG"}, NULL, CONFIG_STR, FIELD(lakehouse_catalog), false},
    {{"LAKEHOUSE_SCHEMA"}, NULL, CONFIG_STR, FIELD(lakehouse_schema), false},
    {{"LAKEHOUSE_USERS_TABLE"}, NULL, CONFIG_STR, FIELD(lakehouse_users_table), false},
    {{"USERS_BACKEND"}, NULL, CONFIG_STR, FIELD(users_backend), false},
    {{"LAKEHOUSE_CACHE_TTL"}, NULL, CONFIG_SECONDS0, FIELD(lakehouse_cache_ttl_s), false},
    {{"LAKEHOUSE_CACHE_MB"}, NULL, CONFIG_OVERFLOW, FIELD(lakehouse_cache_mb), false},
    {{"LAKEHOUSE_WAIT_TIMEOUT"}, NULL, CONFIG_SECONDS0, FIELD(lakehouse_wait_s), false},
    {{"LAKEHOUSE_RELOAD_INTERVAL"}, NULL, CONFIG_SECONDS0, FIELD(lakehouse_reload_s), false},
    /* access control (src/auth) */
    {{"JWT_SECRET"}, NULL, CONFIG_STR, FIELD(jwt_secret), true},
    {{"JWT_JWKS_URL"}, NULL, CONFIG_STR, FIELD(jwt_jwks_url), false},
    {{"JWT_ISSUER"}, NULL, CONFIG_STR, FIELD(jwt_issuer), false},
    {{"JWT_AUDIENCE"}, NULL, CONFIG_STR, FIELD(jwt_audience), false},
    {{"JWT_CLOCK_SKEW"}, NULL, CONFIG_SECONDS0, FIELD(jwt_clock_skew_s), false},
    {{"JWT_JWKS_REFRESH_INTERVAL"}, NULL, CONFIG_SECONDS0, FIELD(jwt_jwks_refresh_s), false},
    {{"JWT_ROLE_CLAIM"}, NULL, CONFIG_STR, FIELD(jwt_role_claim), false},
    {{"DB_ANON_ROLE"}, NULL, CONFIG_STR, FIELD(db_anon_role), false},
    {{"DB_PRE_REQUEST"}, NULL, CONFIG_TABLE, FIELD(db_pre_request), false},
    {{"TRUST_FORWARDED_IDENTITY"}, NULL, CONFIG_BOOL, FIELD(trust_forwarded_identity), false},
    {{"ROLE_FROM_EMAIL"}, NULL, CONFIG_BOOL, FIELD(role_from_email), false},
    {{"ADMIN_CLAIM"}, NULL, CONFIG_STR, FIELD(admin_claim), false},
    {{"ADMIN_ROLES"}, NULL, CONFIG_STR, FIELD(admin_roles), false},
    {{"RESOURCES_ENABLED"}, NULL, CONFIG_BOOL, FIELD(resources_enabled), false},
    {{"METRICS_TOKEN"}, NULL, CONFIG_STR, FIELD(metrics_token), true},
    {{"RATE_LIMIT_RPS"}, NULL, CONFIG_NUMBER0, FIELD(rate_limit_rps), false},
    {{"RATE_LIMIT_BURST"}, NULL, CONFIG_OVERFLOW, FIELD(rate_limit_burst), false},
};
const size_t config_settings_count = sizeof config_settings / sizeof config_settings[0];

#define CONFIG_N (sizeof config_settings / sizeof config_settings[0])

static char *config_xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) {
        fputs("lakeapi: out of memory\n", stderr);
        abort();
    }
    return p;
}

static char **config_str_field(config_t *c, const config_setting_t *s)
{
    return (char **)((char *)c + s->offset);
}

static void config_set_str(config_t *c, const config_setting_t *s, const char *v)
{
    char **field = config_str_field(c, s);
    free(*field);
    *field = v ? config_xstrdup(v) : NULL;
}

void config_init(config_t *c)
{
    memset(c, 0, sizeof *c);
    c->host = config_xstrdup("127.0.0.1");
    c->port = 8000;
    c->log_level = LOG_INFO;
    c->app_env = config_xstrdup("development");
    c->pg_appname = config_xstrdup(CONFIG_DEFAULT_APPNAME);
    c->pool_size = 10;
    c->max_overflow = 20;
    c->pool_timeout_s = 10;
    c->command_timeout_s = 30;
    c->pool_recycle_s = 3600;
    c->read_after_write_ms = 1000;
    c->replica_max_lag_s = 10;
    c->workers = 0;        /* one loop per core (at most DB_POOL_SIZE); 1 = a single loop */
    c->loop_spin_us = 200; /* include/lakeapi/loopspin.h: a lone client's two wake-ups */
    c->orders_table = config_xstrdup("public.orders_synced");
    c->users_table = config_xstrdup("public.users");
    c->server_header = config_xstrdup("lakeapi");
    c->http_header_timeout_s = 10;
    c->http_body_timeout_s = 30;
    c->http_keepalive_timeout_s = 60;
    c->lakehouse_catalog = config_xstrdup("main");
    c->lakehouse_schema = config_xstrdup("default");
    c->lakehouse_users_table = config_xstrdup("users");
    c->users_backend = config_xstrdup("postgres");
    c->lakehouse_cache_ttl_s = 60;
    c->lakehouse_cache_mb = 64;
    c->lakehouse_wait_s = 5;
    c->lakehouse_reload_s = 300;
    c->rest_schemas = config_xstrdup("public");
    c->rest_prefix = config_xstrdup("/rest/v1");
    c->db_max_rows = 1000;
    c->rest_count_ttl_s = 1;
    c->jwt_clock_skew_s = 30;
    c->jwt_jwks_refresh_s = 30;
}

void config_dispose(config_t *c)
{
    for (size_t i = 0; i < CONFIG_N; i++) {
        const config_setting_t *s = &config_settings[i];
        switch (s->kind) {
        case CONFIG_STR:
        case CONFIG_URL:
        case CONFIG_PORT_STR:
        case CONFIG_SSLMODE:
        case CONFIG_TABLE:
        case CONFIG_AUTH_TYPE:
        case CONFIG_DBX_HOST:
        case CONFIG_HEADER:
            config_set_str(c, s, NULL);
            break;
        default:
            break;
        }
    }
}

const char *config_process_getenv(const char *name, void *data)
{
    (void)data;
    return getenv(name);
}

int config_workers_wanted(const config_t *c)
{
    if (c->workers > 0) return c->workers;
    /* The CPUs the process may use (taskset, cgroup cpusets), not every CPU of the host. */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
        int n = CPU_COUNT(&set);
        return n > 256 ? 256 : n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

int config_workers_count(const config_t *c)
{
    /* Every loop needs one connection of DB_POOL_SIZE: more loops would exceed the total. */
    int n = config_workers_wanted(c);
    return c->pool_size > 0 && n > c->pool_size ? c->pool_size : n;
}

bool config_has_database(const config_t *c)
{
    return c->database_url || c->pg_host || c->pg_database;
}

/* ---- validation ---------------------------------------------------------- */

/* Where a value came from, for error messages. */
typedef struct config_source {
    const char *name;  /* the name it was found under */
    const char *where; /* NULL for the environment, else "--port", "--set", a .env path */
} config_source_t;

__attribute__((format(printf, 4, 5))) static int
config_fail(char *err, size_t errlen, const config_source_t *src, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (src->where)
        snprintf(err, errlen, "invalid %s: %s (from %s)", src->name, detail, src->where);
    else
        snprintf(err, errlen, "invalid %s: %s", src->name, detail);
    return -1;
}

/* Strict integer: optional sign, digits, nothing else. 0, -1 junk, -2 range. */
static int config_parse_int(const char *v, long min, long max, int *out)
{
    const char *p = v;
    if (*p == '+' || *p == '-') p++;
    if (*p == '\0') return -1;
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9') return -1;
    }
    errno = 0;
    long long n = strtoll(v, NULL, 10);
    if (errno == ERANGE || n < min || n > max) return -2;
    *out = (int)n;
    return 0;
}

static int config_check_int(const char *v, long min, long max, int *out, const config_source_t *src,
                            char *err, size_t errlen)
{
    int rc = config_parse_int(v, min, max, out);
    if (rc == -1) return config_fail(err, errlen, src, "'%s' is not an integer", v);
    if (rc == -2)
        return config_fail(err, errlen, src, "'%s' is out of range (%ld..%ld)", v, min, max);
    return 0;
}

/* Decimal seconds: digits with an optional fraction ("10", "2.5"). */
static int config_check_seconds(const char *v, bool allow_zero, double *out,
                                const config_source_t *src, char *err, size_t errlen)
{
    const char *p = v;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits++;
    }
    double d = digits && *p == '\0' ? strtod(v, NULL) : -1;
    if (d < 0 || (d == 0 && !allow_zero) || d > 1e9) {
        return config_fail(err, errlen, src, "'%s' is not a %s number of seconds", v,
                           allow_zero ? "non-negative" : "positive");
    }
    *out = d;
    return 0;
}

static int config_check_bool(const char *v, bool *out, const config_source_t *src, char *err,
                             size_t errlen)
{
    static const char *yes[] = {"true", "1", "yes", "on"}, *no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) return *out = true, 0;
        if (strcasecmp(v, no[i]) == 0) return *out = false, 0;
    }
    return config_fail(err, errlen, src, "'%s' is not a boolean (true/false, 1/0, yes/no, on/off)",
                       v);
}

/* [A-Za-z_][A-Za-z0-9_]{0,62}: returns its length, 0 when s does not start with one. */
static size_t config_identifier_len(const char *s)
{
    size_t n = 0;
    char c = s[0];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')) return 0;
    for (n = 1; s[n]; n++) {
        c = s[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            break;
    }
    return n <= 63 ? n : 0;
}

static bool config_valid_table(const char *v)
{
    size_t n = config_identifier_len(v);
    if (n == 0) return false;
    if (v[n] == '\0') return true;
    if (v[n] != '.') return false;
    size_t m = config_identifier_len(v + n + 1);
    return m > 0 && v[n + 1 + m] == '\0';
}

static bool config_in_set(const char *v, const char *const *set, bool nocase)
{
    for (; *set; set++) {
        if ((nocase ? strcasecmp(v, *set) : strcmp(v, *set)) == 0) return true;
    }
    return false;
}

/* scheme://host... with scheme http(s); bare "host" gets https://; trailing '/' dropped. */
static int config_norm_dbx_host(config_t *c, const config_setting_t *s, const char *v,
                                const config_source_t *src, char *err, size_t errlen)
{
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return config_fail(err, errlen, src, "'%s' contains whitespace or control characters",
                               v);
    }
    const char *sep = strstr(v, "://");
    const char *host = sep ? sep + 3 : v;
    if (sep && !(strncasecmp(v, "https://", 8) == 0 || strncasecmp(v, "http://", 7) == 0))
        return config_fail(err, errlen, src, "'%s' is not an http(s) URL", v);
    size_t len = strlen(host);
    while (len > 0 && host[len - 1] == '/')
        len--;
    if (len == 0 || host[0] == '/') return config_fail(err, errlen, src, "'%s' has no host", v);
    char *norm;
    if (asprintf(&norm, "%.*s%.*s", sep ? (int)(host - v) : 8, sep ? v : "https://", (int)len,
                 host) < 0) {
        fputs("lakeapi: out of memory\n", stderr);
        abort();
    }
    char **field = config_str_field(c, s);
    free(*field);
    *field = norm;
    return 0;
}

/*
 * SQLAlchemy-style URLs from the tutorials ("postgresql+asyncpg://...") name a
 * driver libpq does not know: drop the "+driver" part.
 */
static void config_strip_driver(char *url)
{
    char *plus = strchr(url, '+');
    char *sep = strstr(url, "://");
    if (!plus || !sep || plus > sep) return;
    if (!(strncmp(url, "postgresql+", 11) == 0 || strncmp(url, "postgres+", 9) == 0)) return;
    memmove(plus, sep, strlen(sep) + 1);
}

static int config_check_url(config_t *c, const config_setting_t *s, const char *v,
                            const config_source_t *src, char *err, size_t errlen)
{
    char *url = config_xstrdup(v);
    config_strip_driver(url);
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    if (msg) PQfreemem(msg); /* may quote the password: never shown */
    if (!opts) {
        free(url);
        return config_fail(err, errlen, src,
                           "libpq cannot parse it (expected postgresql://user:password@host:port"
                           "/dbname or key=value pairs)");
    }
    PQconninfoFree(opts);
    char **field = config_str_field(c, s);
    free(*field);
    *field = url;
    return 0;
}

/* A header value we send as given: printable ASCII only, so it cannot split the head. */
static int config_check_header(config_t *c, const config_setting_t *s, const char *v,
                               const config_source_t *src, char *err, size_t errlen)
{
    size_t n = strlen(v);
    if (n > 64) return config_fail(err, errlen, src, "longer than 64 characters");
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0x20 || v[i] > 0x7E)
            return config_fail(err, errlen, src, "only printable ASCII characters are allowed");
    config_set_str(c, s, v);
    return 0;
}

/* Validates v for setting s and stores it in c. */
static int config_apply(config_t *c, const config_setting_t *s, const char *v,
                        const config_source_t *src, char *err, size_t errlen)
{
    static const char *const sslmodes[] = {"disable",   "allow",       "prefer", "require",
                                           "verify-ca", "verify-full", NULL};
    static const char *const auth_types[] = {"pat", "oauth-m2m", NULL};
    void *field = (char *)c + s->offset;
    int port;

    switch (s->kind) {
    case CONFIG_STR:
        config_set_str(c, s, v);
        return 0;
    case CONFIG_URL:
        return config_check_url(c, s, v, src, err, errlen);
    case CONFIG_PORT:
        return config_check_int(v, 1, 65535, field, src, err, errlen);
    case CONFIG_PORT_STR:
        if (config_check_int(v, 1, 65535, &port, src, err, errlen) != 0) return -1;
        config_set_str(c, s, v);
        return 0;
    case CONFIG_POOL_SIZE:
        return config_check_int(v, 1, 1000, field, src, err, errlen);
    case CONFIG_COUNT:
        return config_check_int(v, 0, 1000000, field, src, err, errlen);
    case CONFIG_HEADER:
        return config_check_header(c, s, v, src, err, errlen);
    case CONFIG_OVERFLOW:
        return config_check_int(v, 0, 10000, field, src, err, errlen);
    case CONFIG_MS:
        return config_check_int(v, 0, 3600000, field, src, err, errlen);
    case CONFIG_WORKERS:
        return config_check_int(v, 0, 256, field, src, err, errlen);
    case CONFIG_ROWS:
        return config_check_int(v, 0, 1000000000, field, src, err, errlen);
    case CONFIG_SECONDS:
        return config_check_seconds(v, false, field, src, err, errlen);
    case CONFIG_SECONDS0:
        return config_check_seconds(v, true, field, src, err, errlen);
    case CONFIG_BOOL:
        return config_check_bool(v, field, src, err, errlen);
    case CONFIG_LOG_LEVEL:
        if (log_parse_level(v, field) == 0) return 0;
        return config_fail(err, errlen, src,
                           "'%s' is not one of debug, info, warning, error, critical, off", v);
    case CONFIG_SSLMODE:
        if (!config_in_set(v, sslmodes, false))
            return config_fail(err, errlen, src,
                               "'%s' is not one of disable, allow, prefer, require, verify-ca, "
                               "verify-full",
                               v);
        config_set_str(c, s, v);
        return 0;
    case CONFIG_TABLE:
        if (!config_valid_table(v))
            return config_fail(err, errlen, src,
                               "'%s' is not a table name ([schema.]name, each of letters, digits "
                               "and _, not starting with a digit, at most 63 characters)",
                               v);
        config_set_str(c, s, v);
        return 0;
    case CONFIG_AUTH_TYPE:
        if (!config_in_set(v, auth_types, true))
            return config_fail(err, errlen, src, "'%s' is not one of pat, oauth-m2m", v);
        config_set_str(c, s, strcasecmp(v, "pat") == 0 ? "pat" : "oauth-m2m");
        return 0;
    case CONFIG_DBX_HOST:
        return config_norm_dbx_host(c, s, v, src, err, errlen);
    case CONFIG_NUMBER0: {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (errno || end == v || *end || !(d >= 0) || d > 1e9)
            return config_fail(err, errlen, src, "'%s' is not a number >= 0", v);
        *(double *)field = d;
        return 0;
    }
    }
    return 0;
}

/* ---- sources --------------------------------------------------------------- */

/* A setting by any of its names (case-insensitive, as .env and --set allow). */
static const config_setting_t *config_find(const char *name, size_t len)
{
    for (size_t i = 0; i < CONFIG_N; i++) {
        for (size_t k = 0; k < CONFIG_MAX_ALIASES && config_settings[i].names[k]; k++) {
            const char *n = config_settings[i].names[k];
            if (strlen(n) == len && strncasecmp(n, name, len) == 0) return &config_settings[i];
        }
    }
    return NULL;
}

typedef struct config_flags {
    const char *value[CONFIG_N];
    const char *name[CONFIG_N];  /* the setting name the flag gave */
    const char *where[CONFIG_N]; /* "--port", "--set" */
} config_flags_t;

/* Records "--flag value" / "--flag=value" forms; *i advances past a separate value. */
static int config_take_flag_value(int argc, char **argv, int *i, const char *flag,
                                  const char **value, char *err, size_t errlen)
{
    const char *a = argv[*i];
    size_t fl = strlen(flag);
    if (a[fl] == '=') {
        *value = a + fl + 1;
    } else if (*i + 1 < argc) {
        *value = argv[++*i];
    } else {
        snprintf(err, errlen, "%s needs a value", flag);
        return -1;
    }
    if (**value == '\0') {
        snprintf(err, errlen, "%s needs a non-empty value", flag);
        return -1;
    }
    return 0;
}

static int config_parse_flags(int argc, char **argv, config_flags_t *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        const config_setting_t *s = NULL;
        const char *name = NULL;
        const char *where = NULL;

        for (size_t k = 0; k < CONFIG_N && !s; k++) {
            const char *flag = config_settings[k].flag;
            size_t fl = flag ? strlen(flag) : 0;
            if (flag && strncmp(a, flag, fl) == 0 && (a[fl] == '\0' || a[fl] == '=')) {
                if (config_take_flag_value(argc, argv, &i, flag, &value, err, errlen) != 0)
                    return -1;
                s = &config_settings[k];
                name = s->names[0];
                where = flag;
            }
        }
        if (!s && strncmp(a, "--set", 5) == 0 && (a[5] == '\0' || a[5] == '=')) {
            const char *pair;
            if (config_take_flag_value(argc, argv, &i, "--set", &pair, err, errlen) != 0) return -1;
            const char *eq = strchr(pair, '=');
            if (!eq || eq == pair) {
                snprintf(err, errlen, "--set expects NAME=VALUE, got '%s'", pair);
                return -1;
            }
            s = config_find(pair, (size_t)(eq - pair));
            if (!s) {
                snprintf(err, errlen, "--set: unknown setting '%.*s'", (int)(eq - pair), pair);
                return -1;
            }
            value = eq + 1;
            if (*value == '\0') {
                snprintf(err, errlen, "--set %s needs a non-empty value", s->names[0]);
                return -1;
            }
            name = s->names[0];
            where = "--set";
        }
        if (!s) {
            snprintf(err, errlen, a[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'",
                     a);
            return -1;
        }
        size_t idx = (size_t)(s - config_settings);
        f->value[idx] = value;
        f->name[idx] = name;
        f->where[idx] = where;
    }
    return 0;
}

/* The winning value for setting idx, or NULL; src says where it came from. */
static const char *config_lookup(size_t idx, const config_flags_t *flags,
                                 config_getenv_fn getenv_fn, void *env_data, const dotenv_t *dotenv,
                                 const char *dotenv_path, config_source_t *src)
{
    const config_setting_t *s = &config_settings[idx];
    if (flags->value[idx]) {
        src->name = flags->name[idx];
        src->where = flags->where[idx];
        return flags->value[idx];
    }
    for (size_t k = 0; getenv_fn && k < CONFIG_MAX_ALIASES && s->names[k]; k++) {
        const char *v = getenv_fn(s->names[k], env_data);
        if (v && *v) {
            src->name = s->names[k];
            src->where = NULL;
            return v;
        }
    }
    for (size_t k = 0; k < CONFIG_MAX_ALIASES && s->names[k]; k++) {
        const char *v = dotenv_get(dotenv, s->names[k]);
        if (v && *v) {
            src->name = s->names[k];
            src->where = dotenv_path;
            return v;
        }
    }
    return NULL;
}

/* Rules that involve several settings, checked once all are loaded. */
static int config_check_auth(const config_t *c, char *err, size_t errlen)
{
    bool token = c->databricks_token, id = c->databricks_client_id,
         secret = c->databricks_client_secret;
    const char *type = c->databricks_auth_type;
    if (!type && token && (id || secret)) {
        snprintf(err, errlen,
                 "both DATABRICKS_TOKEN and DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET are set: "
                 "set DATABRICKS_AUTH_TYPE to pat or oauth-m2m to choose");
        return -1;
    }
    if (type && strcmp(type, "pat") == 0) {
        if (!token) {
            snprintf(err, errlen, "DATABRICKS_AUTH_TYPE is pat but DATABRICKS_TOKEN is not set");
            return -1;
        }
        return 0;
    }
    if (type && !id && !secret) {
        snprintf(err, errlen,
                 "DATABRICKS_AUTH_TYPE is oauth-m2m but DATABRICKS_CLIENT_ID and "
                 "DATABRICKS_CLIENT_SECRET are not set");
        return -1;
    }
    if (id != secret) {
        snprintf(err, errlen, "%s is set without %s",
                 id ? "DATABRICKS_CLIENT_ID" : "DATABRICKS_CLIENT_SECRET",
                 id ? "DATABRICKS_CLIENT_SECRET" : "DATABRICKS_CLIENT_ID");
        return -1;
    }
    return 0;
}

/* The Lakehouse settings' own ranges (names are checked by src/lakehouse/ with the warehouse). */
static int config_check_lakehouse(const config_t *c, char *err, size_t errlen)
{
    if (strcmp(c->users_backend, "postgres") != 0 && strcmp(c->users_backend, "lakehouse") != 0) {
        snprintf(err, errlen, "invalid USERS_BACKEND: '%s' is not one of postgres, lakehouse",
                 c->users_backend);
        return -1;
    }
    double w = c->lakehouse_wait_s;
    if (w != 0 && (w < 5 || w > 50 || w != (double)(int)w)) {
        snprintf(err, errlen,
                 "invalid LAKEHOUSE_WAIT_TIMEOUT: %g is not 0 or a whole number of seconds 5..50 "
                 "(the Statement Execution API's wait_timeout)",
                 w);
        return -1;
    }
    return 0;
}

int config_load(config_t *c, int argc, char **argv, config_getenv_fn getenv_fn, void *env_data,
                const char *dotenv_path, char *err, size_t errlen)
{
    config_flags_t flags;
    if (config_parse_flags(argc, argv, &flags, err, errlen) != 0) return -1;

    dotenv_t dotenv;
    dotenv_init(&dotenv);
    if (dotenv_path && dotenv_load_file(&dotenv, dotenv_path, err, errlen) != 0) {
        dotenv_dispose(&dotenv);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < CONFIG_N && rc == 0; i++) {
        config_source_t src;
        const char *v = config_lookup(i, &flags, getenv_fn, env_data, &dotenv, dotenv_path, &src);
        if (v) rc = config_apply(c, &config_settings[i], v, &src, err, errlen);
    }
    dotenv_dispose(&dotenv);
    if (rc == 0) rc = config_check_auth(c, err, errlen);
    if (rc == 0) rc = config_check_lakehouse(c, err, errlen);
    if (rc == 0 && c->jwt_secret && strlen(c->jwt_secret) < 32) {
        /* HS256 with a short secret can be brute-forced offline from one token. */
        snprintf(err, errlen, "JWT_SECRET must be at least 32 bytes long");
        rc = -1;
    }
    return rc;
}
