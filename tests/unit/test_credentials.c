/*
 * test_credentials - the pure rules of the credential providers (RFC 3339
 * times, token responses, error descriptions, refresh margin, backoff, UUIDs,
 * scrubbing), the choice of provider from the settings, and one real failed
 * mint against a closed loopback port (refused at once: no network needed).
 * The full rotation against a fake workspace and a real Postgres is in
 * tests/api/test_credentials.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/credentials/internal.h"
#include "lakeapi/credentials.h"
#include "lakeapi/log.h"
#include "test_util.h"

#define PAT    "dapi-super-secret-pat-0123456789"
#define SECRET "dose-client-secret-abcdef987654"

/* ---- RFC 3339 ---- */

static double parse_ok(const char *s)
{
    double t = -12345;
    assert_int_equal(cred_parse_rfc3339(s, &t), 0);
    return t;
}

static void test_rfc3339_utc(void **state)
{
    (void)state;
    assert_true(parse_ok("1970-01-01T00:00:00Z") == 0);
    assert_true(parse_ok("2025-01-01T00:00:00Z") == 1735689600);
    assert_true(parse_ok("2000-02-29T12:00:00Z") == 951825600); /* leap day */
    assert_true(parse_ok("1969-12-31T23:59:59Z") == -1);
    assert_true(parse_ok("2025-01-01t00:00:00z") == 1735689600); /* lower case allowed */
    assert_true(parse_ok("2025-01-01 00:00:00Z") == 1735689600);
}

static void test_rfc3339_fraction(void **state)
{
    (void)state;
    assert_true(fabs(parse_ok("2025-01-01T00:00:00.5Z") - 1735689600.5) < 1e-6);
    assert_true(fabs(parse_ok("2025-01-01T00:00:01.123456789Z") - 1735689601.123456789) < 1e-6);
    assert_true(fabs(parse_ok("2025-06-30T23:59:59.999Z") - (1751327999.999)) < 1e-6);
}

static void test_rfc3339_offsets(void **state)
{
    (void)state;
    assert_true(parse_ok("2025-01-01T02:00:00+02:00") == 1735689600);
    assert_true(parse_ok("2024-12-31T18:30:00-05:30") == 1735689600);
    assert_true(parse_ok("2025-01-01T00:00:00+00:00") == 1735689600);
    assert_true(fabs(parse_ok("2025-01-01T01:00:00.25+01:00") - 1735689600.25) < 1e-6);
}

static void test_rfc3339_invalid(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "2025-01-01",
        "2025-01-01T00:00:00",       /* no offset */
        "2025-02-30T00:00:00Z",      /* no such day */
        "2023-02-29T00:00:00Z",      /* not a leap year */
        "2025-13-01T00:00:00Z",      /* month */
        "2025-01-01T24:00:00Z",      /* hour */
        "2025-01-01T00:60:00Z",      /* minute */
        "2025-01-01T00:00:00.Z",     /* empty fraction */
        "2025-01-01T00:00:00Zjunk",  /* trailing */
        "2025-01-01T00:00:00+0200",  /* offset needs a colon */
        "2025-01-01T00:00:00+24:00", /* offset hour */
        "25-01-01T00:00:00Z",
        "2025-1-01T00:00:00Z",
        "2025-01-01X00:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double t;
        if (cred_parse_rfc3339(bad[i], &t) == 0) fail_msg("accepted '%s'", bad[i]);
    }
    double t;
    assert_int_equal(cred_parse_rfc3339(NULL, &t), -1);
}

/* ---- refresh rule, backoff ---- */

static void test_refresh_rule_hour_token(void **state)
{
    (void)state;
    double minted = 1000, exp = minted + 3600;
    assert_true(cred_refresh_margin(minted, exp, CRED_DB_MARGIN_S) == 120);
    assert_false(cred_needs_refresh(exp - 121, minted, exp, CRED_DB_MARGIN_S));
    assert_true(cred_needs_refresh(exp - 120, minted, exp, CRED_DB_MARGIN_S));
    assert_true(cred_needs_refresh(exp + 5, minted, exp, CRED_DB_MARGIN_S));
    assert_false(cred_needs_refresh(minted, minted, exp, CRED_DB_MARGIN_S));
    /* the workspace token: 40 s */
    assert_false(cred_needs_refresh(exp - 41, minted, exp, CRED_WS_MARGIN_S));
    assert_true(cred_needs_refresh(exp - 40, minted, exp, CRED_WS_MARGIN_S));
}

static void test_refresh_rule_short_token(void **state)
{
    (void)state;
    /* A 5 s token gets half its life as margin, not "always expired". */
    double minted = 1000, exp = 1005;
    assert_true(cred_refresh_margin(minted, exp, CRED_DB_MARGIN_S) == 2.5);
    assert_false(cred_needs_refresh(1002.4, minted, exp, CRED_DB_MARGIN_S));
    assert_true(cred_needs_refresh(1002.5, minted, exp, CRED_DB_MARGIN_S));
    /* never-expiring and nonsense lifetimes */
    assert_false(cred_needs_refresh(1e12, minted, 0, CRED_DB_MARGIN_S));
    assert_true(cred_refresh_margin(1000, 900, CRED_DB_MARGIN_S) == 0);
    assert_true(cred_usable(1003, 1005));
    assert_false(cred_usable(1004.5, 1005));
    assert_true(cred_usable(1e12, 0));
}

static void test_backoff(void **state)
{
    (void)state;
    double expect[] = {0.5, 1, 2, 4, 8, 16, 30, 30, 30};
    double b = 0;
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        b = cred_backoff_next(b);
        assert_true(b == expect[i]);
    }
}

/* ---- UUIDs, scrubbing ---- */

static void test_uuid4(void **state)
{
    (void)state;
    unsigned char rnd[16];
    memset(rnd, 0xff, sizeof rnd);
    char u[37];
    cred_uuid4_format(rnd, u);
    assert_int_equal(strlen(u), 36);
    assert_string_equal(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    memset(rnd, 0, sizeof rnd);
    cred_uuid4_format(rnd, u);
    assert_string_equal(u, "00000000-0000-4000-8000-000000000000");
}

static void test_scrub(void **state)
{
    (void)state;
    char s[128] = "a " PAT " b " PAT;
    cred_scrub(s, PAT);
    assert_string_equal(s, "a **** b ****");
    char t[32] = "abc abc";
    cred_scrub(t, "abc"); /* too short to be a secret: left alone */
    assert_string_equal(t, "abc abc");
    cred_scrub(t, NULL);
    cred_scrub(t, "");
    assert_string_equal(t, "abc abc");
}

/* ---- error descriptions ---- */

static void test_describe_databricks_error(void **state)
{
    (void)state;
    const char *body = "{\"error_code\":\"PERMISSION_DENIED\",\"message\":\"User abc does not "
                       "have USE on endpoint e\"}";
    char out[512];
    cred_describe_failure(out, sizeof out, "mint for endpoint e", 403, body, strlen(body), NULL);
    assert_string_equal(out, "mint for endpoint e: HTTP 403 PERMISSION_DENIED: User abc does not "
                             "have USE on endpoint e");
}

static void test_describe_oauth_error(void **state)
{
    (void)state;
    const char *body = "{\"error\":\"invalid_client\",\"error_description\":\"Client "
                       "authentication failed\"}";
    char out[256];
    cred_describe_failure(out, sizeof out, "token", 401, body, strlen(body), NULL);
    assert_string_equal(out, "token: HTTP 401 invalid_client: Client authentication failed");
}

static void test_describe_other_bodies(void **state)
{
    (void)state;
    char out[256];
    const char *html = "<html>\r\n  <b>502 Bad   Gateway</b>\n</html>";
    cred_describe_failure(out, sizeof out, "x", 502, html, strlen(html), NULL);
    assert_string_equal(out, "x: HTTP 502: <html> <b>502 Bad Gateway</b> </html>");
    cred_describe_failure(out, sizeof out, "x", 500, "", 0, NULL);
    assert_string_equal(out, "x: HTTP 500");
    cred_describe_failure(out, sizeof out, "x", 0, NULL, 0, "Couldn't connect to server");
    assert_string_equal(out, "x: Couldn't connect to server");
    cred_describe_failure(out, sizeof out, "x", 0, NULL, 0, NULL);
    assert_string_equal(out, "x: no response");
    /* a message with control characters stays one line */
    const char *ctl = "{\"error_code\":\"E\",\"message\":\"a\\nb\\tc\"}";
    cred_describe_failure(out, sizeof out, "x", 400, ctl, strlen(ctl), NULL);
    assert_string_equal(out, "x: HTTP 400 E: a b c");
}

static void test_describe_truncates(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'm', sizeof big);
    char body[2100];
    snprintf(body, sizeof body, "{\"error_code\":\"E\",\"message\":\"%.*s\"}", 1500, big);
    char out[40];
    memset(out, 'Z', sizeof out);
    cred_describe_failure(out, 32, "what", 400, body, strlen(body), NULL);
    assert_true(strlen(out) < 32);
    assert_true(out[39] == 'Z'); /* nothing written past n */
    assert_memory_equal(out, "what: HTTP 400 E: mmm", 21);
}

/* ---- token responses ---- */

static void test_token_autoscaling(void **state)
{
    (void)state;
    const char *body = "{\"token\":\"tok-1\",\"expire_time\":\"2025-01-01T01:00:00.5Z\"}";
    char *tok = NULL, err[128];
    double exp = 0;
    assert_int_equal(cred_parse_token_response(CRED_RESP_AUTOSCALING, body, strlen(body),
                                               1735689600, &tok, &exp, err, sizeof err),
                     0);
    assert_string_equal(tok, "tok-1");
    assert_true(fabs(exp - 1735693200.5) < 1e-6);
    free(tok);
}

static void test_token_provisioned(void **state)
{
    (void)state;
    const char *body = "{\"token\":\"tok-2\",\"expiration_time\":\"2025-01-01T02:00:00+01:00\"}";
    char *tok = NULL, err[128];
    double exp = 0;
    assert_int_equal(cred_parse_token_response(CRED_RESP_PROVISIONED, body, strlen(body), 0, &tok,
                                               &exp, err, sizeof err),
                     0);
    assert_string_equal(tok, "tok-2");
    assert_true(exp == 1735693200);
    free(tok);
    /* the autoscaling field name is not the provisioned one: default TTL */
    const char *other = "{\"token\":\"t\",\"expire_time\":\"2025-01-01T02:00:00Z\"}";
    assert_int_equal(cred_parse_token_response(CRED_RESP_PROVISIONED, other, strlen(other), 100,
                                               &tok, &exp, err, sizeof err),
                     0);
    assert_true(exp == 100 + CRED_DEFAULT_TTL_S);
    free(tok);
}

static void test_token_oauth(void **state)
{
    (void)state;
    const char *body =
        "{\"access_token\":\"at\",\"token_type\":\"Bearer\",\"expires_in\":3600,\"scope\":\"all\"}";
    char *tok = NULL, err[128];
    double exp = 0;
    assert_int_equal(cred_parse_token_response(CRED_RESP_OAUTH, body, strlen(body), 10, &tok, &exp,
                                               err, sizeof err),
                     0);
    assert_string_equal(tok, "at");
    assert_true(exp == 3610);
    free(tok);
    const char *neg = "{\"access_token\":\"at\",\"expires_in\":-5}";
    assert_int_equal(cred_parse_token_response(CRED_RESP_OAUTH, neg, strlen(neg), 10, &tok, &exp,
                                               err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "expires_in"));
}

static void test_token_bad_responses(void **state)
{
    (void)state;
    char *tok = NULL, err[128];
    double exp;
    const char *no_token = "{\"tokn\":\"SENSITIVE\",\"expire_time\":\"2025-01-01T00:00:00Z\"}";
    assert_int_equal(cred_parse_token_response(CRED_RESP_AUTOSCALING, no_token, strlen(no_token), 0,
                                               &tok, &exp, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "no \"token\""));
    assert_null(strstr(err, "SENSITIVE"));
    const char *bad_time = "{\"token\":\"SENSITIVE\",\"expire_time\":\"tomorrow\"}";
    assert_int_equal(cred_parse_token_response(CRED_RESP_AUTOSCALING, bad_time, strlen(bad_time), 0,
                                               &tok, &exp, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "expire_time"));
    assert_null(strstr(err, "SENSITIVE"));
    assert_int_equal(
        cred_parse_token_response(CRED_RESP_AUTOSCALING, "[1]", 3, 0, &tok, &exp, err, sizeof err),
        -1);
    assert_int_equal(
        cred_parse_token_response(CRED_RESP_AUTOSCALING, "", 0, 0, &tok, &exp, err, sizeof err),
        -1);
    assert_null(tok);
}

/* ---- choosing a provider ---- */

/* Frees a provider as the server does: once the loop's handles are closed. */
static void free_provider(uv_loop_t *loop, db_credentials_t *cr)
{
    test_loop_close_handles(loop);
    cr->free(cr);
}

static void set(char **field, const char *v)
{
    free(*field);
    *field = v ? strdup(v) : NULL;
}

static int make(config_t *c, db_credentials_t **out, char *err, size_t n)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    int rc = credentials_from_config(&loop, c, out, err, n);
    if (rc == 0) {
        free_provider(&loop, *out);
        *out = NULL;
    }
    assert_int_equal(uv_loop_close(&loop), 0);
    return rc;
}

static const char *kind_of(config_t *c)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    db_credentials_t *cr = NULL;
    char err[512];
    assert_int_equal(credentials_from_config(&loop, c, &cr, err, sizeof err), 0);
    static char kind[64];
    snprintf(kind, sizeof kind, "%s", cr->kind);
    credentials_stats_t st;
    credentials_stats(cr, &st);
    assert_string_equal(st.kind, kind);
    assert_true(st.mints == 0 && st.mint_failures == 0 && st.healthy);
    free_provider(&loop, cr);
    assert_int_equal(uv_loop_close(&loop), 0);
    return kind;
}

static void test_choose_provider(void **state)
{
    (void)state;
    config_t c;
    config_init(&c);
    assert_string_equal(kind_of(&c), "static");
    set(&c.pg_password, "pw");
    assert_string_equal(kind_of(&c), "static");
    set(&c.lakebase_instance_name, "inst");
    /* a Lakebase name with only a native password: the password is used */
    assert_string_equal(kind_of(&c), "static");
    set(&c.databricks_host, "https://ws.example");
    set(&c.databricks_token, PAT);
    assert_string_equal(kind_of(&c), "lakebase-provisioned");
    set(&c.endpoint_name, "projects/p/branches/b/endpoints/e");
    assert_string_equal(kind_of(&c), "lakebase-autoscaling");
    set(&c.databricks_token, NULL);
    set(&c.databricks_client_id, "cid");
    set(&c.databricks_client_secret, SECRET);
    assert_string_equal(kind_of(&c), "lakebase-autoscaling");
    config_dispose(&c);
}

static void test_choose_errors(void **state)
{
    (void)state;
    config_t c;
    config_init(&c);
    db_credentials_t *cr = NULL;
    char err[512];
    set(&c.endpoint_name, "projects/p/branches/b/endpoints/e");
    assert_int_equal(make(&c, &cr, err, sizeof err), -1);
    assert_non_null(strstr(err, "DATABRICKS_HOST"));
    assert_non_null(strstr(err, "ENDPOINT_NAME"));

    set(&c.databricks_host, "https://ws.example");
    assert_int_equal(make(&c, &cr, err, sizeof err), -1);
    assert_non_null(strstr(err, "DATABRICKS_TOKEN"));

    /* both a PAT and client credentials without DATABRICKS_AUTH_TYPE: named, never shown */
    set(&c.databricks_token, PAT);
    set(&c.databricks_client_id, "cid");
    set(&c.databricks_client_secret, SECRET);
    assert_int_equal(make(&c, &cr, err, sizeof err), -1);
    assert_non_null(strstr(err, "DATABRICKS_TOKEN"));
    assert_non_null(strstr(err, "DATABRICKS_CLIENT_ID"));
    assert_non_null(strstr(err, "DATABRICKS_AUTH_TYPE"));
    assert_null(strstr(err, PAT));
    assert_null(strstr(err, SECRET));

    set(&c.databricks_auth_type, "oauth-m2m");
    cr = NULL;
    assert_int_equal(make(&c, &cr, err, sizeof err), 0);
    set(&c.databricks_auth_type, "pat");
    assert_int_equal(make(&c, &cr, err, sizeof err), 0);

    set(&c.databricks_auth_type, NULL);
    set(&c.databricks_token, NULL);
    set(&c.databricks_client_secret, NULL);
    assert_int_equal(make(&c, &cr, err, sizeof err), -1);
    assert_non_null(strstr(err, "DATABRICKS_CLIENT_SECRET"));
    config_dispose(&c);
}

static void test_describe_choice(void **state)
{
    (void)state;
    config_t c;
    config_init(&c);
    char out[1024];
    credentials_describe(&c, out, sizeof out);
    assert_non_null(strstr(out, "static"));
    set(&c.endpoint_name, "projects/p/branches/b/endpoints/e");
    set(&c.lakebase_instance_name, "inst");
    set(&c.databricks_host, "https://ws.example");
    set(&c.databricks_client_id, "cid-123");
    set(&c.databricks_client_secret, SECRET);
    set(&c.pg_password, "native-pw-xyz");
    credentials_describe(&c, out, sizeof out);
    assert_non_null(strstr(out, "lakebase-autoscaling"));
    assert_non_null(strstr(out, "projects/p/branches/b/endpoints/e"));
    assert_non_null(strstr(out, "oauth-m2m"));
    assert_non_null(strstr(out, "PGUSER is not set"));
    assert_non_null(strstr(out, "cid-123"));
    assert_non_null(strstr(out, "PGPASSWORD is ignored"));
    assert_non_null(strstr(out, "LAKEBASE_INSTANCE_NAME is ignored"));
    assert_null(strstr(out, SECRET));
    assert_null(strstr(out, "native-pw-xyz"));
    /* a small buffer is cut, not overrun */
    char small[24];
    memset(small, 'Z', sizeof small);
    credentials_describe(&c, small, 16);
    assert_true(strlen(small) == 15 && small[20] == 'Z');
    set(&c.endpoint_name, NULL);
    set(&c.pg_user, "me");
    credentials_describe(&c, out, sizeof out);
    assert_non_null(strstr(out, "lakebase-provisioned"));
    assert_null(strstr(out, "PGUSER"));
    config_dispose(&c);
}

/* ---- one real failed mint (a refused loopback port) ---- */

typedef struct {
    int calls;
    char *password;
    char error[1024];
} answer_t;

static void on_answer(const char *password, double expires_at, const char *error, void *data)
{
    (void)expires_at;
    answer_t *a = data;
    a->calls++;
    free(a->password);
    a->password = password ? strdup(password) : NULL;
    snprintf(a->error, sizeof a->error, "%s", error ? error : "");
}

static void test_failed_mint_is_clear_and_backs_off(void **state)
{
    (void)state;
    config_t c;
    config_init(&c);
    set(&c.endpoint_name, "projects/p/branches/b/endpoints/e");
    set(&c.databricks_host, "http://127.0.0.1:1");
    set(&c.databricks_token, PAT);
    uv_loop_t loop;
    uv_loop_init(&loop);
    db_credentials_t *cr;
    char err[512];
    assert_int_equal(credentials_from_config(&loop, &c, &cr, err, sizeof err), 0);

    answer_t a = {0}, b = {0};
    cr->get(cr, false, on_answer, &a);
    cr->get(cr, false, on_answer, &b); /* shares the attempt */
    assert_int_equal(a.calls, 0);      /* never answered from inside get() while minting */
    for (int i = 0; i < 1000 && a.calls == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_null(a.password);
    assert_non_null(strstr(a.error, "endpoint projects/p/branches/b/endpoints/e"));
    assert_non_null(strstr(a.error, "/api/2.0/postgres/credentials"));
    assert_null(strstr(a.error, PAT));

    /* backing off: the next caller is answered at once with the same error */
    answer_t d = {0};
    cr->get(cr, true, on_answer, &d);
    assert_int_equal(d.calls, 1);
    assert_string_equal(d.error, a.error);

    credentials_stats_t st;
    credentials_stats(cr, &st);
    assert_int_equal(st.mints, 0);
    assert_int_equal(st.mint_failures, 1);
    assert_false(st.healthy);
    assert_string_equal(st.last_error, a.error);

    free_provider(&loop, cr);
    free(a.password);
    assert_int_equal(uv_loop_close(&loop), 0);
    config_dispose(&c);
}

static void test_fetch_once(void **state)
{
    (void)state;
    config_t c;
    config_init(&c);
    char *pw = NULL, err[1024];
    double exp = -1;
    set(&c.pg_password, "static-pw");
    assert_int_equal(credentials_fetch_once(&c, &pw, &exp, err, sizeof err), 0);
    assert_string_equal(pw, "static-pw");
    assert_true(exp == 0);
    free(pw);
    set(&c.pg_password, NULL);
    set(&c.lakebase_instance_name, "inst-1");
    set(&c.databricks_host, "http://127.0.0.1:1");
    set(&c.databricks_client_id, "cid");
    set(&c.databricks_client_secret, SECRET);
    assert_int_equal(credentials_fetch_once(&c, &pw, &exp, err, sizeof err), -1);
    assert_null(pw);
    assert_non_null(strstr(err, "instance inst-1"));
    assert_non_null(strstr(err, "/oidc/v1/token"));
    assert_null(strstr(err, SECRET));
    config_dispose(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_utc),
        cmocka_unit_test(test_rfc3339_fraction),
        cmocka_unit_test(test_rfc3339_offsets),
        cmocka_unit_test(test_rfc3339_invalid),
        cmocka_unit_test(test_refresh_rule_hour_token),
        cmocka_unit_test(test_refresh_rule_short_token),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_uuid4),
        cmocka_unit_test(test_scrub),
        cmocka_unit_test(test_describe_databricks_error),
        cmocka_unit_test(test_describe_oauth_error),
        cmocka_unit_test(test_describe_other_bodies),
        cmocka_unit_test(test_describe_truncates),
        cmocka_unit_test(test_token_autoscaling),
        cmocka_unit_test(test_token_provisioned),
        cmocka_unit_test(test_token_oauth),
        cmocka_unit_test(test_token_bad_responses),
        cmocka_unit_test(test_choose_provider),
        cmocka_unit_test(test_choose_errors),
        cmocka_unit_test(test_describe_choice),
        cmocka_unit_test(test_failed_mint_is_clear_and_backs_off),
        cmocka_unit_test(test_fetch_once),
    };
    log_set_level(LOG_OFF); /* the failed mints' warnings are expected */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
