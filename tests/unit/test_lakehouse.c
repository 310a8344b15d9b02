/*
 * Unit tests for the Lakehouse backend's pure parts: the Statement Execution
 * response parser (status, manifest, rows, links and what it refuses), the
 * faithful JSON of the manifest's types, CSV fields, the cache key's
 * normalization, and the settings' HTTP path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lakehouse/internal.h"

static const char *const ok_reply =
    "{\"statement_id\":\"01f0aa\",\"status\":{\"state\":\"SUCCEEDED\"},"
    "\"manifest\":{\"format\":\"JSON_ARRAY\",\"schema\":{\"column_count\":3,\"columns\":["
    "{\"name\":\"id\",\"type_name\":\"LONG\",\"position\":0},"
    "{\"name\":\"amount\",\"type_name\":\"DECIMAL\",\"position\":1},"
    "{\"name\":\"tags\",\"type_name\":\"ARRAY\",\"position\":2}]},"
    "\"total_row_count\":3,\"total_chunk_count\":2},"
    "\"result\":{\"chunk_index\":0,\"row_count\":2,\"data_array\":"
    "[[\"9007199254740993\",\"123456789012345678901234567890.12\",\"[1,2]\"],[\"2\",null,null]],"
    "\"next_chunk_index\":1,"
    "\"next_chunk_internal_link\":\"/api/2.0/sql/statements/01f0aa/result/chunks/1\"}}";

/* One result handed to the waiters of several loops: the last reference frees it (ASan). */
static void test_result_is_shared(void **state)
{
    (void)state;
    lh_result_t *r = lh_result_new();
    const char *names[] = {"id"};
    lh_type_t types[] = {LH_T_INT};
    lh_result_set_columns(r, 1, names, types);
    const char *v[] = {"7"};
    size_t len[] = {1};
    assert_int_equal(lh_result_add_row(r, v, len), 0);
    assert_ptr_equal(lh_result_share(r), r);
    assert_null(lh_result_share(NULL));
    lh_result_free(r); /* one reference left: still readable */
    assert_string_equal(lh_result_value(r, 0, 0, NULL), "7");
    lh_result_free(r);
}

static void test_parse_statement(void **state)
{
    (void)state;
    lh_result_t *r = lh_result_new();
    lh_reply_t p;
    char err[200];
    assert_int_equal(lh_parse_reply(ok_reply, strlen(ok_reply), false, r, &p, err, sizeof err), 0);
    assert_int_equal(p.state, LH_SUCCEEDED);
    assert_string_equal(p.statement_id, "01f0aa");
    assert_int_equal(p.total_rows, 3);
    assert_string_equal(p.next_link, "/api/2.0/sql/statements/01f0aa/result/chunks/1");
    assert_int_equal(r->ncols, 3);
    assert_int_equal(r->nrows, 2);
    size_t len;
    assert_string_equal(lh_result_value(r, 0, 0, &len), "9007199254740993");
    assert_null(lh_result_value(r, 1, 1, &len));
    lh_reply_dispose(&p);

    /* a chunk response appends to the same result */
    const char *chunk =
        "{\"chunk_index\":1,\"row_count\":1,\"data_array\":[[\"3\",\"1.5\",\"[]\"]]}";
    assert_int_equal(lh_parse_reply(chunk, strlen(chunk), true, r, &p, err, sizeof err), 0);
    assert_null(p.next_link);
    assert_int_equal(r->nrows, 3);
    assert_string_equal(lh_result_value(r, 2, 0, NULL), "3");
    lh_reply_dispose(&p);

    buf_t out;
    buf_init(&out);
    json_writer_t w;
    jw_init(&w, &out);
    lh_encode_row(&w, r, 0);
    buf_append(&out, "", 1);
    assert_string_equal(out.data, "{\"id\":9007199254740993,"
                                  "\"amount\":123456789012345678901234567890.12,\"tags\":[1,2]}");
    buf_dispose(&out);
    lh_result_free(r);
}

static void test_parse_refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "not json",
        "[]",
        "{\"status\":{\"state\":\"WHAT\"}}",
        /* a row narrower than the manifest */
        "{\"status\":{\"state\":\"SUCCEEDED\"},\"manifest\":{\"schema\":{\"columns\":[{\"name\":"
        "\"a\",\"type_name\":\"INT\"},{\"name\":\"b\",\"type_name\":\"INT\"}]}},\"result\":{"
        "\"data_array\":[[\"1\"]]}}",
        /* a value that is no string */
        "{\"status\":{\"state\":\"SUCCEEDED\"},\"manifest\":{\"schema\":{\"columns\":[{\"name\":"
        "\"a\",\"type_name\":\"INT\"}]}},\"result\":{\"data_array\":[[1]]}}",
        /* a next link that would take the workspace token elsewhere */
        "{\"status\":{\"state\":\"SUCCEEDED\"},\"result\":{\"next_chunk_internal_link\":"
        "\"https://evil.example/steal\"}}",
        "{\"status\":{\"state\":\"SUCCEEDED\"},\"result\":{\"next_chunk_internal_link\":"
        "\"/api/2.0/sql/statements/../../../oidc\"}}",
        /* an external link that is no http(s) URL */
        "{\"status\":{\"state\":\"SUCCEEDED\"},\"result\":{\"external_links\":[{"
        "\"external_link\":\"file:///etc/passwd\"}]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lh_result_t *r = lh_result_new();
        lh_reply_t p;
        char err[200] = "";
        assert_int_equal(lh_parse_reply(bad[i], strlen(bad[i]), false, r, &p, err, sizeof err), -1);
        assert_non_null(strstr(err, "unexpected SQL warehouse response"));
        lh_result_free(r);
    }
}

static void test_parse_failed_and_links(void **state)
{
    (void)state;
    const char *failed = "{\"statement_id\":\"x\",\"status\":{\"state\":\"FAILED\",\"error\":{"
                         "\"error_code\":\"BAD_REQUEST\",\"message\":\"[PARSE]\\nline\"}}}";
    lh_reply_t p;
    char err[200];
    assert_int_equal(lh_parse_reply(failed, strlen(failed), false, NULL, &p, err, sizeof err), 0);
    assert_int_equal(p.state, LH_FAILED);
    assert_string_equal(p.error_code, "BAD_REQUEST");
    assert_string_equal(p.message, "[PARSE] line"); /* control characters become blanks */
    lh_reply_dispose(&p);
    const char *links = "{\"external_links\":[{\"chunk_index\":0,\"external_link\":"
                        "\"https://bucket.example/c0?sig=1\",\"next_chunk_internal_link\":"
                        "\"/api/2.0/sql/statements/x/result/chunks/1\"}]}";
    assert_int_equal(lh_parse_reply(links, strlen(links), true, NULL, &p, err, sizeof err), 0);
    assert_int_equal(p.nlinks, 1);
    assert_string_equal(p.links[0], "https://bucket.example/c0?sig=1");
    assert_string_equal(p.next_link, "/api/2.0/sql/statements/x/result/chunks/1");
    lh_reply_dispose(&p);
}

static char *encode(lh_type_t t, const char *s)
{
    static char out[256];
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    lh_encode_value(&w, t, s, s ? strlen(s) : 0);
    snprintf(out, sizeof out, "%.*s", (int)b.len, b.data);
    buf_dispose(&b);
    return out;
}

static void test_encode_types(void **state)
{
    (void)state;
    assert_string_equal(encode(LH_T_INT, "-9223372036854775808"), "-9223372036854775808");
    assert_string_equal(encode(LH_T_INT, "12x"), "\"12x\"");
    assert_string_equal(encode(LH_T_DECIMAL, "0.10"), "0.10");
    assert_string_equal(encode(LH_T_FLOAT, "NaN"), "\"NaN\"");
    assert_string_equal(encode(LH_T_BOOL, "true"), "true");
    assert_string_equal(encode(LH_T_BOOL, "FALSE"), "false");
    assert_string_equal(encode(LH_T_TIMESTAMP, "2024-01-02 03:04:05"), "\"2024-01-02T03:04:05\"");
    assert_string_equal(encode(LH_T_DATE, "2024-01-02"), "\"2024-01-02\"");
    assert_string_equal(encode(LH_T_JSON, "{\"a\":[1,{\"b\":null}]}"), "{\"a\":[1,{\"b\":null}]}");
    assert_string_equal(encode(LH_T_JSON, "{broken"), "\"{broken\"");
    assert_string_equal(encode(LH_T_STRING, "a\"b"), "\"a\\\"b\"");
    assert_string_equal(encode(LH_T_STRING, NULL), "null");
    assert_int_equal(lh_type_from_name("LONG"), LH_T_INT);
    assert_int_equal(lh_type_from_name("STRUCT"), LH_T_JSON);
    assert_int_equal(lh_type_from_name("INTERVAL"), LH_T_STRING);
}

static void test_csv_field(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    lh_csv_field(&b, "plain", 5);
    buf_append_char(&b, '|');
    lh_csv_field(&b, "a,\"b\"\n", 6);
    buf_append_char(&b, '|');
    lh_csv_field(&b, "", 0);
    buf_append_char(&b, '|');
    lh_csv_field(&b, NULL, 0);
    buf_append(&b, "", 1);
    assert_string_equal(b.data, "plain|\"a,\"\"b\"\"\n\"|\"\"|");
    buf_dispose(&b);
}

static void test_cache_key(void **state)
{
    (void)state;
    lh_param_t a[] = {{"id", "1", "BIGINT"}};
    lh_param_t b[] = {{"id", NULL, "BIGINT"}};
    lh_param_t c[] = {{"id", "NULL", "BIGINT"}};
    char *k1 = lh_cache_key("SELECT  a\n FROM t WHERE x = 'a  b'", a, 1);
    char *k2 = lh_cache_key("SELECT a FROM t WHERE x = 'a  b'", a, 1);
    char *k3 = lh_cache_key("SELECT a FROM t WHERE x = 'a b'", a, 1);
    char *k4 = lh_cache_key("SELECT a FROM t WHERE x = 'a  b'", b, 1);
    char *k5 = lh_cache_key("SELECT a FROM t WHERE x = 'a  b'", c, 1);
    assert_string_equal(k1, k2);     /* blanks outside quotes do not matter */
    assert_string_not_equal(k2, k3); /* inside quotes they do */
    assert_string_not_equal(k4, k5); /* NULL is not "NULL" */
    assert_string_not_equal(k2, k4);
    free(k1), free(k2), free(k3), free(k4), free(k5);
}

static void test_http_path(void **state)
{
    (void)state;
    char id[64];
    assert_true(lh_warehouse_from_http_path("/sql/1.0/warehouses/abc123", id, sizeof id));
    assert_string_equal(id, "abc123");
    assert_true(lh_warehouse_from_http_path("/sql/1.0/endpoints/e1/", id, sizeof id));
    assert_string_equal(id, "e1");
    assert_false(lh_warehouse_from_http_path("sql/protocolv1/o/123/0123-abc", id, sizeof id));
    assert_false(lh_warehouse_from_http_path("/sql/1.0/warehouses/a/b", id, sizeof id));
    assert_false(lh_warehouse_from_http_path("/sql/1.0/warehouses/", id, sizeof id));
    assert_true(lh_valid_name("main_1-x"));
    assert_false(lh_valid_name("a`b"));
    assert_false(lh_valid_name(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_is_shared), cmocka_unit_test(test_parse_statement),
        cmocka_unit_test(test_parse_refusals),   cmocka_unit_test(test_parse_failed_and_links),
        cmocka_unit_test(test_encode_types),     cmocka_unit_test(test_csv_field),
        cmocka_unit_test(test_cache_key),        cmocka_unit_test(test_http_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
