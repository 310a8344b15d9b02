/*
 * test_config - settings: precedence flags > env > .env, every alias, every
 * validation error naming its setting, the .env syntax, secret masking and the
 * libpq parameter arrays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "config/dotenv.h"
#include "lakeapi/buf.h"
#include "lakeapi/config.h"

/* ---- a fake environment and a temporary .env ---------------------------- */

typedef struct fake_env {
    const char *pairs[32][2];
} fake_env_t;

static const char *fake_getenv(const char *name, void *data)
{
    fake_env_t *env = data;
    for (size_t i = 0; i < 32 && env->pairs[i][0]; i++) {
        if (strcmp(env->pairs[i][0], name) == 0) return env->pairs[i][1];
    }
    return NULL;
}

/* Writes text to a fresh temp file; returns its path (static storage). */
static const char *write_dotenv(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/lakeapi-test-env-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

typedef struct load_result {
    int rc;
    char err[512];
} load_result_t;

/* config_init + config_load; the caller disposes c. */
static load_result_t load(config_t *c, int argc, const char **argv, fake_env_t *env,
                          const char *dotenv_text)
{
    load_result_t r;
    r.err[0] = '\0';
    const char *path = dotenv_text ? write_dotenv(dotenv_text) : NULL;
    config_init(c);
    r.rc = config_load(c, argc, (char **)argv, fake_getenv, env, path, r.err, sizeof r.err);
    if (path) unlink(path);
    return r;
}

/* Loads with one environment variable; expects failure naming it. */
static void expect_env_error(const char *name, const char *value, const char *detail)
{
    fake_env_t env = {{{name, value}}};
    config_t c;
    load_result_t r = load(&c, 0, NULL, &env, NULL);
    if (r.rc != -1 || !strstr(r.err, name) || !strstr(r.err, detail)) {
        print_error("%s=%s: rc=%d err='%s' (want '%s')\n", name, value, r.rc, r.err, detail);
    }
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, name));
    assert_non_null(strstr(r.err, detail));
    config_dispose(&c);
}

/* ---- tests ------------------------------------------------------------ */

static void test_defaults(void **state)
{
    fake_env_t env = {{{NULL}}};
    config_t c;
    load_result_t r = load(&c, 0, NULL, &env, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 8000);
    assert_int_equal(c.log_level, LOG_INFO);
    assert_string_equal(c.app_env, "development");
    assert_null(c.cors_allow_origins);
    assert_false(c.cors_allow_credentials);
    assert_int_equal(c.pool_size, 10);
    assert_int_equal(c.max_overflow, 20);
    assert_true(c.pool_timeout_s == 10 && c.command_timeout_s == 30 && c.pool_recycle_s == 3600);
    assert_string_equal(c.orders_table, "public.orders_synced");
    assert_string_equal(c.users_table, "public.users");
    assert_string_equal(c.pg_appname, "lakeapi");
    assert_false(config_has_database(&c));
    config_dispose(&c);
    assert_null(c.host);
}

static void test_precedence(void **state)
{
    const char *dotenv = "PORT=1111\nHOST=dotenv-host\nDB_POOL_SIZE=3\nAPP_ENV=fromfile\n";
    fake_env_t env = {{{"PORT", "2222"}, {"HOST", "env-host"}, {"DB_POOL_SIZE", "4"}}};
    const char *argv[] = {"--port", "3333", "--host=flag-host", "--set", "DB_POOL_SIZE=5"};
    config_t c;

    load_result_t r = load(&c, 5, argv, &env, dotenv);
    assert_int_equal(r.rc, 0);
    assert_int_equal(c.port, 3333);
    assert_string_equal(c.host, "flag-host");
    assert_int_equal(c.pool_size, 5);
    assert_string_equal(c.app_env, "fromfile"); /* only in .env */
    config_dispose(&c);

    r = load(&c, 0, NULL, &env, dotenv);
    assert_int_equal(r.rc, 0);
    assert_int_equal(c.port, 2222);
    assert_string_equal(c.host, "env-host");
    assert_int_equal(c.pool_size, 4);
    config_dispose(&c);

    fake_env_t empty = {{{"PORT", ""}}}; /* empty counts as unset */
    r = load(&c, 0, NULL, &empty, dotenv);
    assert_int_equal(r.rc, 0);
    assert_int_equal(c.port, 1111);
    assert_string_equal(c.host, "dotenv-host");
    config_dispose(&c);

    const char *argv2[] = {"--port=4444", "--set=HOST=h2"};
    r = load(&c, 2, argv2, &env, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(c.port, 4444);
    assert_string_equal(c.host, "h2");
    config_dispose(&c);
}

static void test_source_beats_alias_order(void **state)
{
    /* An alias in the environment beats the canonical name in .env. */
    fake_env_t env = {{{"DATABRICKS_APP_PORT", "9001"}}};
    config_t c;
    load_result_t r = load(&c, 0, NULL, &env, "PORT=9002\n");
    assert_int_equal(r.rc, 0);
    assert_int_equal(c.port, 9001);
    config_dispose(&c);
}

typedef struct alias_case {
    const char *pairs[3][2]; /* environment */
    size_t offset;           /* char * field of config_t */
    const char *expect;
} alias_case_t;

#define F(name) offsetof(config_t, name)

static void test_aliases(void **state)
{
    const alias_case_t cases[] = {
        {{{"PGHOST", "a"}, {"DATABASE_HOSTNAME", "b"}}, F(pg_host), "a"},
        {{{"DATABASE_HOSTNAME", "b"}}, F(pg_host), "b"},
        {{{"PGPORT", "5433"}, {"DATABASE_PORT", "5434"}}, F(pg_port), "5433"},
        {{{"DATABASE_PORT", "5434"}}, F(pg_port), "5434"},
        {{{"PGDATABASE", "a"}, {"DATABASE_NAME", "b"}, {"LAKEBASE_DATABASE_NAME", "c"}},
         F(pg_database),
         "a"},
        {{{"DATABASE_NAME", "b"}, {"LAKEBASE_DATABASE_NAME", "c"}}, F(pg_database), "b"},
        {{{"LAKEBASE_DATABASE_NAME", "c"}}, F(pg_database), "c"},
        {{{"PGUSER", "a"}, {"DATABASE_USERNAME", "b"}}, F(pg_user), "a"},
        {{{"DATABASE_USERNAME", "b"}}, F(pg_user), "b"},
        {{{"PGPASSWORD", "a"}, {"DATABASE_PASSWORD", "b"}}, F(pg_password), "a"},
        {{{"DATABASE_PASSWORD", "b"}}, F(pg_password), "b"},
        {{{"ENDPOINT_NAME", "a"}, {"LAKEBASE_ENDPOINT", "b"}, {"PGENDPOINT", "c"}},
         F(endpoint_name),
         "a"},
        {{{"LAKEBASE_ENDPOINT", "b"}, {"PGENDPOINT", "c"}}, F(endpoint_name), "b"},
        {{{"PGENDPOINT", "c"}}, F(endpoint_name), "c"},
        {{{"SYNCED_TABLE_STORAGE_CATALOG", "a"}, {"SYNCHED_TABLE_STORAGE_CATALOG", "b"}},
         F(synced_storage_catalog),
         "a"},
        {{{"SYNCHED_TABLE_STORAGE_CATALOG", "b"}}, F(synced_storage_catalog), "b"},
        {{{"SYNCED_TABLE_STORAGE_SCHEMA", "a"}, {"SYNCHED_TABLE_STORAGE_SCHEMA", "b"}},
         F(synced_storage_schema),
         "a"},
        {{{"SYNCHED_TABLE_STORAGE_SCHEMA", "b"}}, F(synced_storage_schema), "b"},
        {{{"PGSSLMODE", "require"}}, F(pg_sslmode), "require"},
        {{{"PGAPPNAME", "myapp"}}, F(pg_appname), "myapp"},
        {{{"APP_ENV", "production"}}, F(app_env), "production"},
        {{{"CORS_ALLOW_ORIGINS", "https://a.example"}}, F(cors_allow_origins), "https://a.example"},
        {{{"DATABASE_URL", "postgresql://u@h/db"}}, F(database_url), "postgresql://u@h/db"},
        {{{"DATABASE_URL", "postgresql+asyncpg://u@h:5432/db"}},
         F(database_url),
         "postgresql://u@h:5432/db"},
        {{{"LAKEBASE_INSTANCE_NAME", "inst"}}, F(lakebase_instance_name), "inst"},
        {{{"LAKEBASE_CATALOG_NAME", "cat"}}, F(lakebase_catalog_name), "cat"},
        {{{"ORDERS_TABLE", "sales.orders"}}, F(orders_table), "sales.orders"},
        {{{"USERS_TABLE", "people"}}, F(users_table), "people"},
        {{{"DATABRICKS_HOST", "https://x.cloud.databricks.com"}},
         F(databricks_host),
         "https://x.cloud.databricks.com"},
        {{{"DATABRICKS_TOKEN", "dapi1"}}, F(databricks_token), "dapi1"},
        {{{"DATABRICKS_AUTH_TYPE", "PAT"}, {"DATABRICKS_TOKEN", "t"}},
         F(databricks_auth_type),
         "pat"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_env_t env;
        memset(&env, 0, sizeof env);
        for (int k = 0; k < 3; k++) {
            env.pairs[k][0] = cases[i].pairs[k][0];
            env.pairs[k][1] = cases[i].pairs[k][1];
        }
        config_t c;
        load_result_t r = load(&c, 0, NULL, &env, NULL);
        if (r.rc != 0) print_error("case %zu: %s\n", i, r.err);
        assert_int_equal(r.rc, 0);
        const char *got = *(char **)((char *)&c + cases[i].offset);
        assert_non_null(got);
        assert_string_equal(got, cases[i].expect);
        config_dispose(&c);
    }
}

static void test_scalar_settings(void **state)
{
    fake_env_t env = {{{"PORT", "8080"},
                       {"DATABRICKS_APP_PORT", "9090"},
                       {"LOG_LEVEL", "DEBUG"},
                       {"CORS_ALLOW_CREDENTIALS", "yes"},
                       {"DB_POOL_SIZE", "1000"},
                       {"DB_MAX_OVERFLOW", "0"},
                       {"DB_POOL_TIMEOUT", "2.5"},
                       {"DB_COMMAND_TIMEOUT", "0.25"},
                       {"DB_POOL_RECYCLE_INTERVAL", "0"}}};
    config_t c;
    load_result_t r = load(&c, 0, NULL, &env, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(c.port, 8080); /* PORT before DATABRICKS_APP_PORT */
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_true(c.cors_allow_credentials);
    assert_int_equal(c.pool_size, 1000);
    assert_int_equal(c.max_overflow, 0);
    assert_true(c.pool_timeout_s == 2.5);
    assert_true(c.command_timeout_s == 0.25);
    assert_true(c.pool_recycle_s == 0);
    config_dispose(&c);

    fake_env_t env2 = {{{"DATABRICKS_APP_PORT", "9090"}, {"LOG_LEVEL", "warning"}}};
    r = load(&c, 0, NULL, &env2, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(c.port, 9090);
    assert_int_equal(c.log_level, LOG_WARN);
    config_dispose(&c);
}

static void test_scale_settings(void **state)
{
    (void)state;
    config_t c;
    fake_env_t none = {{{"PGHOST", "db.example"}}};
    load_result_t r = load(&c, 0, NULL, &none, NULL);
    assert_int_equal(r.rc, 0);
    assert_null(c.pg_host_read);
    assert_null(c.database_read_url);
    assert_int_equal(c.read_after_write_ms, 1000);
    assert_true(c.replica_max_lag_s == 10);
    assert_int_equal(c.workers, 0); /* one loop per core */
    assert_true(config_workers_count(&c) >= 1);
    c.workers = 1;
    assert_int_equal(config_workers_count(&c), 1);
    config_dispose(&c);
    fake_env_t env = {{{"PGHOST_READ", "r1.example,r2.example:5433"},
                       {"DATABASE_READ_URL", "postgresql://u:pw@ro.example/db"},
                       {"READ_AFTER_WRITE_MS", "0"},
                       {"REPLICA_MAX_LAG", "2.5"},
                       {"WORKERS", "4"}}};
    r = load(&c, 0, NULL, &env, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(c.pg_host_read, "r1.example,r2.example:5433");
    assert_int_equal(c.read_after_write_ms, 0);
    assert_true(c.replica_max_lag_s == 2.5);
    assert_int_equal(c.workers, 4);
    assert_int_equal(config_workers_count(&c), 4);
    buf_t out;
    buf_init(&out);
    config_describe(&c, &out);
    assert_null(strstr(out.data, "pw@"));
    assert_non_null(strstr(out.data, "DATABASE_READ_URL = postgresql://u:****@ro.example/db\n"));
    assert_non_null(strstr(out.data, "WORKERS = 4\n"));
    buf_dispose(&out);
    /* DB_POOL_SIZE is a total and every loop needs a connection: no more loops than it. */
    c.pool_size = 2;
    assert_int_equal(config_workers_wanted(&c), 4);
    assert_int_equal(config_workers_count(&c), 2);
    buf_init(&out);
    config_describe(&c, &out);
    assert_non_null(strstr(out.data, "WORKERS = 4 (2 with DB_POOL_SIZE=2)\n"));
    buf_dispose(&out);
    c.workers = 0;
    c.pool_size = 1;
    assert_int_equal(config_workers_count(&c), 1);
    buf_init(&out);
    config_describe(&c, &out);
    assert_non_null(strstr(out.data, "; 1 with DB_POOL_SIZE=1)\n"));
    buf_dispose(&out);
    config_dispose(&c);
    expect_env_error("READ_AFTER_WRITE_MS", "-1", "out of range");
    expect_env_error("READ_AFTER_WRITE_MS", "1s", "not an integer");
    expect_env_error("REPLICA_MAX_LAG", "0", "positive number of seconds");
    expect_env_error("WORKERS", "257", "out of range");
    expect_env_error("DATABASE_READ_URL", "postgresql://u@h/db?nosuchparam=1",
                     "libpq cannot parse");
}

static void test_validation_errors_name_setting(void **state)
{
    expect_env_error("DB_POOL_SIZE", "abc", "'abc' is not an integer");
    expect_env_error("DB_POOL_SIZE", "10x", "not an integer");
    expect_env_error("DB_POOL_SIZE", " 10", "not an integer");
    expect_env_error("DB_POOL_SIZE", "0", "out of range");
    expect_env_error("DB_POOL_SIZE", "1001", "out of range");
    expect_env_error("DB_POOL_SIZE", "99999999999999999999999", "out of range");
    expect_env_error("DB_MAX_OVERFLOW", "-1", "out of range");
    expect_env_error("DB_MAX_OVERFLOW", "10001", "out of range");
    expect_env_error("PORT", "0", "out of range");
    expect_env_error("PORT", "65536", "out of range");
    expect_env_error("PORT", "80 80", "not an integer");
    expect_env_error("DATABRICKS_APP_PORT", "http", "not an integer");
    expect_env_error("PGPORT", "5432a", "not an integer");
    expect_env_error("DATABASE_PORT", "70000", "out of range");
    expect_env_error("DB_POOL_TIMEOUT", "0", "positive number of seconds");
    expect_env_error("DB_POOL_TIMEOUT", "-1", "positive number of seconds");
    expect_env_error("DB_POOL_TIMEOUT", "10s", "positive number of seconds");
    expect_env_error("DB_COMMAND_TIMEOUT", "1e3", "positive number of seconds");
    expect_env_error("DB_COMMAND_TIMEOUT", ".", "positive number of seconds");
    expect_env_error("DB_POOL_RECYCLE_INTERVAL", "-5", "non-negative number of seconds");
    expect_env_error("LOG_LEVEL", "loud", "'loud' is not one of");
    expect_env_error("PGSSLMODE", "required", "'required' is not one of");
    expect_env_error("CORS_ALLOW_CREDENTIALS", "maybe", "not a boolean");
    expect_env_error("DATABRICKS_AUTH_TYPE", "basic", "not one of pat, oauth-m2m");
    expect_env_error("DATABRICKS_HOST", "ftp://x.example", "not an http(s) URL");
    expect_env_error("DATABRICKS_HOST", "https:///", "has no host");
    expect_env_error("DATABRICKS_HOST", "host name", "whitespace");
    expect_env_error("ORDERS_TABLE", "orders; drop table x", "not a table name");
    expect_env_error("USERS_TABLE", "users--", "not a table name");
    expect_env_error("DATABASE_URL", "postgresql://u@h/db?nosuchparam=1", "libpq cannot parse");
}

static void test_table_names(void **state)
{
    const char *bad[] = {
        "orders; drop table x",
        "public.orders;--",
        "a.b.c",
        "1abc",
        "public.1abc",
        " orders",
        "orders ",
        "\"orders\"",
        "o'rders",
        "a..b",
        ".a",
        "a.",
        "orders\n",
        "ord\xC3\xA9rs",
        "public.orders/**/",
        "public.",
    };
    char long64[65], long63[64], qualified[200];
    memset(long64, 'a', 64);
    long64[64] = '\0';
    memset(long63, 'b', 63);
    long63[63] = '\0';
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_env_error("ORDERS_TABLE", bad[i], "not a table name");
        expect_env_error("USERS_TABLE", bad[i], "not a table name");
    }
    expect_env_error("ORDERS_TABLE", long64, "at most 63"); /* identifiers are <= 63 bytes */
    snprintf(qualified, sizeof qualified, "%s.%s", long63, long64);
    expect_env_error("ORDERS_TABLE", qualified, "not a table name");
    snprintf(qualified, sizeof qualified, "%s.%s", long63, long63);
    const char *good[] = {"orders", "public.orders_synced", "_x", "S1.T2", long63, qualified};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        fake_env_t env = {{{"ORDERS_TABLE", good[i]}}};
        config_t c;
        load_result_t r = load(&c, 0, NULL, &env, NULL);
        assert_int_equal(r.rc, 0);
        assert_string_equal(c.orders_table, good[i]);
        config_dispose(&c);
    }
}

static void test_flag_errors(void **state)
{
    fake_env_t env = {{{NULL}}};
    config_t c;
    const char *a1[] = {"--verbose"};
    load_result_t r = load(&c, 1, a1, &env, NULL);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "--verbose"));
    config_dispose(&c);

    const char *a2[] = {"--port"};
    r = load(&c, 1, a2, &env, NULL);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "--port"));
    config_dispose(&c);

    const char *a3[] = {"--set", "NO_SUCH=1"};
    r = load(&c, 2, a3, &env, NULL);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "NO_SUCH"));
    config_dispose(&c);

    const char *a4[] = {"--set", "DB_POOL_SIZE"};
    r = load(&c, 2, a4, &env, NULL);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "NAME=VALUE"));
    config_dispose(&c);

    const char *a5[] = {"--port", "abc"};
    r = load(&c, 2, a5, &env, NULL);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "invalid PORT"));
    assert_non_null(strstr(r.err, "--port"));
    config_dispose(&c);

    const char *a6[] = {"stray"};
    r = load(&c, 1, a6, &env, NULL);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "stray"));
    config_dispose(&c);

    const char *a7[] = {"--hostname=x"}; /* a prefix of no flag */
    r = load(&c, 1, a7, &env, NULL);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "--hostname"));
    config_dispose(&c);

    /* --set takes any alias, case-insensitively. */
    const char *a8[] = {"--set", "database_hostname=db.local", "--set", "PGENDPOINT=ep"};
    r = load(&c, 4, a8, &env, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(c.pg_host, "db.local");
    assert_string_equal(c.endpoint_name, "ep");
    config_dispose(&c);
}

static void test_databricks_host_normalised(void **state)
{
    const char *cases[][2] = {
        {"adb-1.azuredatabricks.net", "https://adb-1.azuredatabricks.net"},
        {"adb-1.azuredatabricks.net/", "https://adb-1.azuredatabricks.net"},
        {"https://x.cloud.databricks.com///", "https://x.cloud.databricks.com"},
        {"http://127.0.0.1:8089/", "http://127.0.0.1:8089"},
    };
    for (size_t i = 0; i < 4; i++) {
        fake_env_t env = {{{"DATABRICKS_HOST", cases[i][0]}}};
        config_t c;
        load_result_t r = load(&c, 0, NULL, &env, NULL);
        assert_int_equal(r.rc, 0);
        assert_string_equal(c.databricks_host, cases[i][1]);
        config_dispose(&c);
    }
}

static void test_auth_rules(void **state)
{
    config_t c;
    fake_env_t both = {{{"DATABRICKS_TOKEN", "dapi-secret"},
                        {"DATABRICKS_CLIENT_ID", "id"},
                        {"DATABRICKS_CLIENT_SECRET", "sp-secret"}}};
    load_result_t r = load(&c, 0, NULL, &both, NULL);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "DATABRICKS_TOKEN"));
    assert_non_null(strstr(r.err, "DATABRICKS_CLIENT_ID"));
    assert_non_null(strstr(r.err, "DATABRICKS_CLIENT_SECRET"));
    assert_non_null(strstr(r.err, "DATABRICKS_AUTH_TYPE"));
    assert_null(strstr(r.err, "dapi-secret"));
    assert_null(strstr(r.err, "sp-secret"));
    config_dispose(&c);

    both.pairs[3][0] = "DATABRICKS_AUTH_TYPE";
    both.pairs[3][1] = "oauth-m2m";
    r = load(&c, 0, NULL, &both, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(c.databricks_auth_type, "oauth-m2m");
    config_dispose(&c);

    both.pairs[3][1] = "pat";
    r = load(&c, 0, NULL, &both, NULL);
    assert_int_equal(r.rc, 0);
    config_dispose(&c);

    fake_env_t pat_only = {{{"DATABRICKS_AUTH_TYPE", "pat"}}};
    r = load(&c, 0, NULL, &pat_only, NULL);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "DATABRICKS_TOKEN"));
    config_dispose(&c);

    fake_env_t m2m_only = {{{"DATABRICKS_AUTH_TYPE", "oauth-m2m"}}};
    r = load(&c, 0, NULL, &m2m_only, NULL);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "DATABRICKS_CLIENT_ID"));
    config_dispose(&c);

    fake_env_t half = {{{"DATABRICKS_CLIENT_ID", "id"}}};
    r = load(&c, 0, NULL, &half, NULL);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "DATABRICKS_CLIENT_SECRET"));
    config_dispose(&c);

    fake_env_t token_only = {{{"DATABRICKS_TOKEN", "t"}}};
    r = load(&c, 0, NULL, &token_only, NULL);
    assert_int_equal(r.rc, 0);
    config_dispose(&c);
}

static void test_dotenv_syntax(void **state)
{
    const char *text = "# a comment\n"
                       "\n"
                       "A=plain\n"
                       "export B=exported\n"
                       "  C = spaced  \n"
                       "D='single # not a comment \\n'\n"
                       "E=\"dq \\\"x\\\" \\\\ line\\nnext\"  # trailing comment\n"
                       "F=value # inline comment\n"
                       "G=a#b\n"
                       "H=\n"
                       "I=crlf\r\n"
                       "J='multi\nline'\n"
                       "K=\"x\"\r\n"
                       "A=override\n"
                       "\tL=tab\n"
                       "export=1\n"
                       "M=\"a\\qb\"";
    dotenv_t d;
    dotenv_init(&d);
    char err[256] = "";
    assert_int_equal(dotenv_parse(&d, text, strlen(text), "t.env", err, sizeof err), 0);
    assert_string_equal(dotenv_get(&d, "A"), "override");
    assert_string_equal(dotenv_get(&d, "a"), "override"); /* case-insensitive */
    assert_string_equal(dotenv_get(&d, "B"), "exported");
    assert_string_equal(dotenv_get(&d, "C"), "spaced");
    assert_string_equal(dotenv_get(&d, "D"), "single # not a comment \\n");
    assert_string_equal(dotenv_get(&d, "E"), "dq \"x\" \\ line\nnext");
    assert_string_equal(dotenv_get(&d, "F"), "value");
    assert_string_equal(dotenv_get(&d, "G"), "a#b");
    assert_string_equal(dotenv_get(&d, "H"), "");
    assert_string_equal(dotenv_get(&d, "I"), "crlf");
    assert_string_equal(dotenv_get(&d, "J"), "multi\nline");
    assert_string_equal(dotenv_get(&d, "K"), "x");
    assert_string_equal(dotenv_get(&d, "L"), "tab");
    assert_string_equal(dotenv_get(&d, "export"), "1");
    assert_string_equal(dotenv_get(&d, "M"), "a\\qb");
    assert_null(dotenv_get(&d, "Z"));
    dotenv_dispose(&d);
}

static void check_dotenv_error(const char *text, const char *expect)
{
    dotenv_t d;
    dotenv_init(&d);
    char err[256] = "";
    assert_int_equal(dotenv_parse(&d, text, strlen(text), "my.env", err, sizeof err), -1);
    if (!strstr(err, expect)) print_error("got '%s', want '%s'\n", err, expect);
    assert_non_null(strstr(err, expect));
    dotenv_dispose(&d);
}

static void test_dotenv_errors(void **state)
{
    check_dotenv_error("A=1\nthis is not valid\n", "my.env:2:");
    check_dotenv_error("A=1\n\n# c\nNOEQUALS\n", "my.env:4: expected '=' after NOEQUALS");
    check_dotenv_error("1A=x\n", "my.env:1:");
    check_dotenv_error("A='open\n\n", "my.env:1: unterminated single-quoted");
    check_dotenv_error("X=1\nA=\"open\n", "my.env:2: unterminated double-quoted");
    check_dotenv_error("A='x' junk\n", "my.env:1: unexpected text after the closing quote");
    check_dotenv_error("A=\"x\"y\n", "my.env:1: unexpected text");
    check_dotenv_error("A-B=1\n", "my.env:1:");
    check_dotenv_error("A='multi\nline'\nB C\n", "my.env:3:");
    check_dotenv_error("=value\n", "my.env:1:");

    dotenv_t d;
    dotenv_init(&d);
    char err[128];
    assert_int_equal(dotenv_parse(&d, "A=1\nB\0=2\n", 9, "nul.env", err, sizeof err), -1);
    assert_non_null(strstr(err, "nul.env:2: NUL"));
    dotenv_dispose(&d);
}

static void test_dotenv_file_errors(void **state)
{
    fake_env_t env = {{{NULL}}};
    config_t c;
    load_result_t r = load(&c, 0, NULL, &env, "PORT=1\nbad line\n");
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "/tmp/lakeapi-test-env-"));
    assert_non_null(strstr(r.err, ":2:"));
    config_dispose(&c);

    /* A bad value from .env names the setting and the file. */
    r = load(&c, 0, NULL, &env, "DB_POOL_SIZE=abc\n");
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "invalid DB_POOL_SIZE: 'abc' is not an integer"));
    assert_non_null(strstr(r.err, "/tmp/lakeapi-test-env-"));
    config_dispose(&c);

    /* A missing file is not an error. */
    config_init(&c);
    char err[128];
    assert_int_equal(
        config_load(&c, 0, NULL, fake_getenv, &env, "/nonexistent/dir/.env", err, sizeof err), 0);
    config_dispose(&c);

    /* Seed-style .env file (quoted values, DATABASE_* names). */
    r = load(&c, 0, NULL, &env,
             "DATABASE_HOSTNAME=\"localhost\"\nDATABASE_PORT=\"5432\"\n"
             "DATABASE_PASSWORD=\"postgres\"\nDATABASE_NAME=\"test_fastapi\"\n"
             "DATABASE_USERNAME=\"postgres\"\n");
    assert_int_equal(r.rc, 0);
    assert_string_equal(c.pg_host, "localhost");
    assert_string_equal(c.pg_port, "5432");
    assert_string_equal(c.pg_password, "postgres");
    assert_string_equal(c.pg_database, "test_fastapi");
    assert_string_equal(c.pg_user, "postgres");
    assert_true(config_has_database(&c));
    config_dispose(&c);
}

static void check_mask(const char *in, const char *expect)
{
    char *m = config_mask_url(in);
    assert_non_null(m);
    if (strcmp(m, expect) != 0) print_error("mask(%s) = %s, want %s\n", in, m, expect);
    assert_string_equal(m, expect);
    free(m);
}

static void test_mask_url(void **state)
{
    check_mask("postgresql://user:s3cret@host:5432/db", "postgresql://user:****@host:5432/db");
    check_mask("postgres://user@host/db", "postgres://user@host/db");
    check_mask("postgresql://host/db", "postgresql://host/db");
    check_mask("postgresql://u:p@ss/w?rd@host/db", "postgresql://u:****@host/db");
    check_mask("postgresql://h/db?sslmode=require&password=s3cret&user=u",
               "postgresql://h/db?sslmode=require&password=****");
    check_mask("postgresql://h/db?PASSWORD=s3cret", "postgresql://h/db?PASSWORD=****");
    check_mask("host=h password=s3cret user=u", "host=h password=**** user=u");
    check_mask("host=h password = 'a b\\' c' user=u", "host=h password=**** user=u");
    check_mask("sslpassword=k host=h", "sslpassword=**** host=h");
    check_mask("host=h password='unterminated", "****");
    check_mask("garbage without equals password", "****");
    check_mask("", "");
    assert_null(config_mask_url(NULL));
}

static void test_mask_never_leaks(void **state)
{
    const char *secrets[] = {"s3cr3t", "p@ss", "a/b?c", "x&y=z", "q'uo\\te", "sp ace"};
    const char *templates[] = {
        "postgresql://user:%s@host:5432/db", "postgresql://user:%s@host/db?sslmode=require",
        "postgresql://host/db?password=%s",  "postgresql://u@h:1/db?application_name=a&password=%s",
        "host=h password=%s user=u",         "host=h password='%s' user=u",
    };
    for (size_t t = 0; t < sizeof templates / sizeof templates[0]; t++) {
        for (size_t s = 0; s < sizeof secrets / sizeof secrets[0]; s++) {
            char url[256];
            snprintf(url, sizeof url, templates[t], secrets[s]);
            char *m = config_mask_url(url);
            /* No fragment of the secret of 3+ characters survives. */
            size_t n = strlen(secrets[s]);
            for (size_t i = 0; i + 3 <= n; i++) {
                char frag[4] = {secrets[s][i], secrets[s][i + 1], secrets[s][i + 2], 0};
                if (strstr(m, frag) && !strstr(templates[t], frag)) {
                    print_error("leak: %s -> %s\n", url, m);
                    fail();
                }
            }
            free(m);
        }
    }
}

static void test_describe_masks_secrets(void **state)
{
    fake_env_t env = {{{"PGPASSWORD", "pg-secret-1"},
                       {"DATABASE_URL", "postgresql://u:url-secret-2@h/db"},
                       {"DATABRICKS_TOKEN", "dapi-secret-3"},
                       {"DATABRICKS_CLIENT_ID", "client-id-ok"},
                       {"DATABRICKS_CLIENT_SECRET", "sp-secret-4"},
                       {"DATABRICKS_AUTH_TYPE", "oauth-m2m"},
                       {"PGHOST", "db.example"}}};
    config_t c;
    load_result_t r = load(&c, 0, NULL, &env, NULL);
    assert_int_equal(r.rc, 0);
    buf_t out;
    buf_init(&out);
    config_describe(&c, &out);
    assert_null(strstr(out.data, "-secret-"));
    assert_non_null(strstr(out.data, "PGPASSWORD = ****\n"));
    assert_non_null(strstr(out.data, "DATABRICKS_TOKEN = ****\n"));
    assert_non_null(strstr(out.data, "DATABRICKS_CLIENT_SECRET = ****\n"));
    assert_non_null(strstr(out.data, "DATABASE_URL = postgresql://u:****@h/db\n"));
    assert_non_null(strstr(out.data, "DATABRICKS_CLIENT_ID = client-id-ok\n"));
    assert_non_null(strstr(out.data, "PGHOST = db.example\n"));
    assert_non_null(strstr(out.data, "PORT = 8000\n"));
    assert_non_null(strstr(out.data, "LOG_LEVEL = info\n"));
    assert_non_null(strstr(out.data, "LAKEBASE_INSTANCE_NAME = (not set)\n"));
    assert_non_null(strstr(out.data, "DB_POOL_TIMEOUT = 10\n"));
    /* Every setting has a line. */
    size_t lines = 0;
    for (const char *p = out.data; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, config_settings_count);
    buf_dispose(&out);
    config_dispose(&c);
}

/* Value of the LAST occurrence of key in the conninfo arrays, or NULL. */
static const char *param(const char **k, const char **v, const char *key, int *count)
{
    const char *found = NULL;
    *count = 0;
    for (size_t i = 0; k[i]; i++) {
        if (strcmp(k[i], key) == 0) {
            found = v[i];
            ++*count;
        }
    }
    return found;
}

static void test_conninfo(void **state)
{
    fake_env_t env = {{{"DATABASE_URL", "postgresql://u:pw@urlhost/urldb"},
                       {"PGHOST", "override-host"},
                       {"PGSSLMODE", "require"},
                       {"PGPASSWORD", "static-pw"}}};
    config_t c;
    load_result_t r = load(&c, 0, NULL, &env, NULL);
    assert_int_equal(r.rc, 0);
    const char **k, **v;
    int n;
    config_conninfo(&c, NULL, &k, &v);
    assert_string_equal(k[0], "dbname"); /* the URL comes first */
    assert_string_equal(v[0], "postgresql://u:pw@urlhost/urldb");
    assert_string_equal(param(k, v, "host", &n), "override-host");
    assert_string_equal(param(k, v, "sslmode", &n), "require");
    assert_string_equal(param(k, v, "password", &n), "static-pw");
    assert_string_equal(param(k, v, "application_name", &n), "lakeapi");
    assert_string_equal(param(k, v, "connect_timeout", &n), "10");
    assert_null(param(k, v, "port", &n));
    config_free_conninfo(k, v);

    config_conninfo(&c, "minted-token", &k, &v);
    assert_string_equal(param(k, v, "password", &n), "minted-token");
    assert_int_equal(n, 1);
    config_free_conninfo(k, v);
    config_dispose(&c);

    /* URL settings of its own are not overridden by our defaults. */
    fake_env_t env2 = {
        {{"DATABASE_URL", "postgresql://h/db?connect_timeout=3&application_name=mine"}}};
    r = load(&c, 0, NULL, &env2, NULL);
    assert_int_equal(r.rc, 0);
    config_conninfo(&c, NULL, &k, &v);
    assert_null(param(k, v, "connect_timeout", &n));
    assert_null(param(k, v, "application_name", &n));
    config_free_conninfo(k, v);
    config_dispose(&c);

    /* Discrete fields only: a leading empty dbname keeps expand_dbname inert. */
    fake_env_t env3 = {{{"PGHOST", "h"}, {"PGDATABASE", "d"}, {"PGPORT", "5433"}}};
    r = load(&c, 0, NULL, &env3, NULL);
    assert_int_equal(r.rc, 0);
    config_conninfo(&c, NULL, &k, &v);
    assert_string_equal(k[0], "dbname");
    assert_string_equal(v[0], "");
    assert_string_equal(param(k, v, "dbname", &n), "d");
    assert_string_equal(param(k, v, "port", &n), "5433");
    assert_null(param(k, v, "password", &n));
    config_free_conninfo(k, v);
    config_dispose(&c);
}

static void test_url_error_hides_password(void **state)
{
    fake_env_t env = {{{"DATABASE_URL", "postgresql://u:hunter2@h/db?bogus=%zz"}}};
    config_t c;
    load_result_t r = load(&c, 0, NULL, &env, NULL);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "DATABASE_URL"));
    assert_null(strstr(r.err, "hunter2"));
    config_dispose(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_source_beats_alias_order),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_scalar_settings),
        cmocka_unit_test(test_scale_settings),
        cmocka_unit_test(test_validation_errors_name_setting),
        cmocka_unit_test(test_table_names),
        cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_databricks_host_normalised),
        cmocka_unit_test(test_auth_rules),
        cmocka_unit_test(test_dotenv_syntax),
        cmocka_unit_test(test_dotenv_errors),
        cmocka_unit_test(test_dotenv_file_errors),
        cmocka_unit_test(test_mask_url),
        cmocka_unit_test(test_mask_never_leaks),
        cmocka_unit_test(test_describe_masks_secrets),
        cmocka_unit_test(test_conninfo),
        cmocka_unit_test(test_url_error_hides_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
