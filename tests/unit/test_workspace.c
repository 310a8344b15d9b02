/*
 * test_workspace - the workspace client (src/workspace): its pure rules
 * (error descriptions and fields, OAuth responses, the refresh rule, URL
 * escaping, scrubbing), the settings check, and real calls to a refused
 * loopback port (no network needed): answered later, never from inside
 * workspace_call(), naming the failure and no secret; and freeing with a
 * call in flight. Calls that reach a workspace are covered against the fake
 * one in tests/api/test_credentials.py and tests/api/test_resources.py.
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

#include "lakeapi/log.h"
#include "workspace/internal.h"
#include "test_util.h"

#define PAT    "dapi-workspace-test-pat-1234567890"
#define SECRET "dose-workspace-test-secret-abcdef"

static void set(char **field, const char *value)
{
    free(*field);
    *field = value ? strdup(value) : NULL;
}

/* ---- pure rules ---- */

static void test_describe_failure(void **state)
{
    (void)state;
    char out[256];
    const char *db = "{\"error_code\":\"PERMISSION_DENIED\",\"message\":\"no\\naccess\"}";
    workspace_describe_failure(out, sizeof out, "GET /x", 403, db, strlen(db), NULL);
    assert_string_equal(out, "GET /x: HTTP 403 PERMISSION_DENIED: no access");
    workspace_describe_failure(out, sizeof out, NULL, 403, db, strlen(db), NULL);
    assert_string_equal(out, "HTTP 403 PERMISSION_DENIED: no access");
    const char *oauth = "{\"error\":\"invalid_client\",\"error_description\":\"bad\"}";
    workspace_describe_failure(out, sizeof out, "", 401, oauth, strlen(oauth), NULL);
    assert_string_equal(out, "HTTP 401 invalid_client: bad");
    workspace_describe_failure(out, sizeof out, "w", 502, "<html>bad gateway</html>", 24, NULL);
    assert_string_equal(out, "w: HTTP 502: <html>bad gateway</html>");
    workspace_describe_failure(out, sizeof out, "w", 0, NULL, 0, "Couldn't connect to server");
    assert_string_equal(out, "w: Couldn't connect to server");
    workspace_describe_failure(out, sizeof out, "w", 0, NULL, 0, NULL);
    assert_string_equal(out, "w: no response");
}

static void test_error_fields(void **state)
{
    (void)state;
    char code[16], msg[32];
    const char *db = "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"gone\"}";
    ws_error_fields(db, strlen(db), code, sizeof code, msg, sizeof msg);
    assert_string_equal(code, "RESOURCE_DOES_N"); /* cut to the buffer */
    assert_string_equal(msg, "gone");
    ws_error_fields("[]", 2, code, sizeof code, msg, sizeof msg);
    assert_string_equal(code, "");
    assert_string_equal(msg, "");
    ws_error_fields(NULL, 0, code, sizeof code, msg, sizeof msg);
    assert_string_equal(code, "");
}

static void test_oauth_response(void **state)
{
    (void)state;
    char *token = NULL, err[128];
    double exp = 0;
    const char *ok = "{\"access_token\":\"tok-1\",\"expires_in\":3600}";
    assert_int_equal(ws_parse_oauth_token(ok, strlen(ok), 1000, &token, &exp, err, sizeof err), 0);
    assert_string_equal(token, "tok-1");
    assert_true(exp == 4600);
    free(token);
    const char *str = "{\"access_token\":\"tok-2\",\"expires_in\":\"60\"}";
    assert_int_equal(ws_parse_oauth_token(str, strlen(str), 0, &token, &exp, err, sizeof err), 0);
    assert_true(exp == 60);
    free(token);
    const char *noexp = "{\"access_token\":\"tok-3\"}";
    assert_int_equal(ws_parse_oauth_token(noexp, strlen(noexp), 0, &token, &exp, err, sizeof err),
                     0);
    assert_true(exp == WS_DEFAULT_TTL_S);
    free(token);
    const char *bad[] = {"{\"expires_in\":10}",
                         "{\"access_token\":\"secret-tok\",\"expires_in\":-1}",
                         "{\"access_token\":\"secret-tok\",\"expires_in\":true}", "nope"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        token = NULL;
        assert_int_equal(
            ws_parse_oauth_token(bad[i], strlen(bad[i]), 0, &token, &exp, err, sizeof err), -1);
        assert_null(token);
        assert_null(strstr(err, "secret-tok")); /* never quotes the body */
    }
}

static void test_refresh_rule(void **state)
{
    (void)state;
    assert_true(workspace_refresh_margin(0, 3600, 40) == 40);
    assert_true(workspace_refresh_margin(0, 10, 40) == 5);
    assert_true(workspace_refresh_margin(10, 0, 40) == 0);
    assert_false(workspace_needs_refresh(3559, 0, 3600, 40));
    assert_true(workspace_needs_refresh(3560, 0, 3600, 40));
    assert_false(workspace_needs_refresh(1e12, 0, 0, 40)); /* never expires */
}

static void test_escape_and_scrub(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    workspace_escape_segment(&b, "cat.public.orders_synced-1~");
    buf_append_char(&b, '|');
    workspace_escape_segment(&b, "a b/c?d%\xc3\xa9");
    buf_append(&b, "", 1);
    assert_string_equal(b.data, "cat.public.orders_synced-1~|a%20b%2Fc%3Fd%25%C3%A9");
    buf_dispose(&b);
    char s[96] = "x " PAT " y " PAT;
    workspace_scrub_secret(s, PAT);
    assert_string_equal(s, "x **** y ****");
    workspace_scrub_secret(s, "x"); /* too short to be a secret: left alone */
    assert_string_equal(s, "x **** y ****");
    assert_string_equal(workspace_method_name(WORKSPACE_DELETE), "DELETE");
    assert_string_equal(workspace_method_name(WORKSPACE_GET), "GET");
}

/* ---- settings ---- */

static void test_check_config(void **state)
{
    (void)state;
    config_t c;
    config_init(&c);
    char err[256];
    assert_int_equal(workspace_check_config(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "DATABRICKS_HOST"));
    set(&c.databricks_host, "https://ws.example");
    assert_int_equal(workspace_check_config(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "DATABRICKS_TOKEN"));
    set(&c.databricks_client_id, "cid");
    assert_int_equal(workspace_check_config(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "DATABRICKS_CLIENT_SECRET"));
    set(&c.databricks_client_secret, SECRET);
    assert_int_equal(workspace_check_config(&c, err, sizeof err), 0);
    assert_string_equal(workspace_auth_kind(&c), "oauth-m2m");
    set(&c.databricks_token, PAT);
    assert_int_equal(workspace_check_config(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "DATABRICKS_AUTH_TYPE"));
    assert_null(strstr(err, PAT));
    assert_null(strstr(err, SECRET));
    set(&c.databricks_auth_type, "pat");
    assert_string_equal(workspace_auth_kind(&c), "pat");
    assert_null(workspace_new(NULL, &(config_t){0}, err, sizeof err)); /* no host */
    assert_non_null(strstr(err, "DATABRICKS_HOST"));
    config_dispose(&c);
}

/* ---- calls to a refused port ---- */

typedef struct {
    int calls;
    long status;
    bool auth_failed;
    char error[512];
} answer_t;

static void on_answer(const workspace_response_t *res, void *data)
{
    answer_t *a = data;
    a->calls++;
    a->status = res->status;
    a->auth_failed = res->auth_failed;
    snprintf(a->error, sizeof a->error, "%s", res->error ? res->error : "");
}

static void finish_loop(uv_loop_t *loop, workspace_t *w)
{
    test_loop_close_handles(loop);
    workspace_free(w);
    assert_int_equal(uv_loop_close(loop), 0);
}

static workspace_t *refused_workspace(uv_loop_t *loop, config_t *c, bool m2m)
{
    config_init(c);
    set(&c->databricks_host, "http://127.0.0.1:1/");
    if (m2m) {
        set(&c->databricks_client_id, "cid-7");
        set(&c->databricks_client_secret, SECRET);
    } else {
        set(&c->databricks_token, PAT);
    }
    char err[256];
    workspace_t *w = workspace_new(loop, c, err, sizeof err);
    assert_non_null(w);
    return w;
}

static void test_call_refused_pat(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    config_t c;
    workspace_t *w = refused_workspace(&loop, &c, false);
    assert_string_equal(workspace_host(w), "http://127.0.0.1:1");
    assert_non_null(strstr(workspace_identity(w), "pat"));
    answer_t a = {0};
    assert_int_equal(workspace_call(w, WORKSPACE_DELETE, "/api/2.0/database/instances/x?purge=true",
                                    NULL, 5, on_answer, &a),
                     0);
    assert_int_equal(a.calls, 0); /* never from inside workspace_call() */
    for (int i = 0; i < 1000 && a.calls == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, 0);
    assert_false(a.auth_failed);
    assert_true(strlen(a.error) > 0);
    assert_null(strstr(a.error, PAT));
    finish_loop(&loop, w);
    config_dispose(&c);
}

static void test_call_refused_oauth(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    config_t c;
    workspace_t *w = refused_workspace(&loop, &c, true);
    answer_t a = {0}, b = {0};
    assert_int_equal(workspace_call(w, WORKSPACE_GET, "/a", NULL, 0, on_answer, &a), 0);
    assert_int_equal(workspace_call(w, WORKSPACE_POST, "/b", "{}", 0, on_answer, &b), 0);
    for (int i = 0; i < 1000 && (a.calls == 0 || b.calls == 0); i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_true(a.auth_failed && b.auth_failed); /* nothing was sent without a token */
    assert_non_null(strstr(a.error, "/oidc/v1/token"));
    assert_non_null(strstr(a.error, "cid-7"));
    assert_null(strstr(a.error, SECRET));
    uint64_t fetches, failures;
    workspace_counts(w, &fetches, &failures);
    assert_int_equal(fetches, 0);
    assert_int_equal(failures, 1); /* one shared fetch for both calls */
    finish_loop(&loop, w);
    config_dispose(&c);
}

static void test_free_with_a_call_in_flight(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    config_t c;
    workspace_t *w = refused_workspace(&loop, &c, false);
    answer_t a = {0};
    assert_int_equal(workspace_call(w, WORKSPACE_GET, "/slow", NULL, 0, on_answer, &a), 0);
    finish_loop(&loop, w); /* dropped without a callback, and without a leak (ASan) */
    assert_int_equal(a.calls, 0);
    config_dispose(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe_failure),
        cmocka_unit_test(test_error_fields),
        cmocka_unit_test(test_oauth_response),
        cmocka_unit_test(test_refresh_rule),
        cmocka_unit_test(test_escape_and_scrub),
        cmocka_unit_test(test_check_config),
        cmocka_unit_test(test_call_refused_pat),
        cmocka_unit_test(test_call_refused_oauth),
        cmocka_unit_test(test_free_with_a_call_in_flight),
    };
    log_set_level(LOG_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
