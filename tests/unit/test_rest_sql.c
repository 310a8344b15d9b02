/*
 * test_rest_sql - the Data API's SQL builder over a snapshot built from a
 * catalog document: request text (values, aliases, JSON keys) only ever
 * reaches the parameters, never the SQL text; names the snapshot lacks are
 * PGRST204/205-style errors with hints; relationships resolve both ways and
 * an ambiguous one is PGRST201.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rest/sql.h"
#include "test_util.h"

static const char *catalog =
    "{\"tables\":["
    "{\"s\":\"public\",\"n\":\"customers\",\"k\":\"r\",\"e\":5,\"pk\":[\"id\"],\"c\":["
    "{\"n\":\"id\",\"t\":\"bigint\",\"y\":\"int8\",\"g\":\"N\",\"a\":false,\"nl\":false},"
    "{\"n\":\"name\",\"t\":\"text\",\"y\":\"text\",\"g\":\"S\",\"a\":false,\"nl\":false},"
    "{\"n\":\"doc\",\"t\":\"jsonb\",\"y\":\"jsonb\",\"g\":\"U\",\"a\":false,\"nl\":true}]},"
    "{\"s\":\"public\",\"n\":\"orders\",\"k\":\"r\",\"e\":9,\"pk\":[\"id\"],\"c\":["
    "{\"n\":\"id\",\"t\":\"bigint\",\"y\":\"int8\",\"g\":\"N\",\"a\":false,\"nl\":false},"
    "{\"n\":\"buyer\",\"t\":\"bigint\",\"y\":\"int8\",\"g\":\"N\",\"a\":false,\"nl\":true},"
    "{\"n\":\"seller\",\"t\":\"bigint\",\"y\":\"int8\",\"g\":\"N\",\"a\":false,\"nl\":true}]}],"
    "\"fks\":["
    "{\"n\":\"orders_buyer_fk\",\"fs\":\"public\",\"ft\":\"orders\",\"ts\":\"public\",\"tt\":"
    "\"customers\","
    "\"fc\":[\"buyer\"],\"tc\":[\"id\"]},"
    "{\"n\":\"orders_seller_fk\",\"fs\":\"public\",\"ft\":\"orders\",\"ts\":\"public\",\"tt\":"
    "\"customers\","
    "\"fc\":[\"seller\"],\"tc\":[\"id\"]}]}";

static rest_snapshot_t *snap;

static int setup(void **state)
{
    test_arena_setup(state);
    const char *schemas[] = {"public"};
    char err[128];
    snap = rest_snapshot_from_json(catalog, schemas, 1, err, sizeof err);
    return snap ? 0 : -1;
}

static int teardown(void **state)
{
    rest_snapshot_unref(snap);
    return test_arena_teardown(state);
}

static int build(const char *table, const char *qs, const char **sql, rest_sql_t *s,
                 rest_error_t *err)
{
    rest_limits_t lim;
    rest_limits_default(&lim);
    rest_query_t q;
    if (rest_parse_query(test_arena, qs, strlen(qs), &lim, &q, err)) return -1;
    const rest_table_t *t = rest_snapshot_table(snap, "public", table);
    assert_non_null(t);
    rest_read_opts_t o = {.limit = 10, .with_total = true};
    rest_sql_init(s, test_arena);
    int rc = rest_sql_read(s, snap, t, &q, &o, err);
    *sql = rest_sql_finish(s);
    return rc;
}

static bool has_param(const rest_sql_t *s, const char *v)
{
    for (int i = 0; i < s->nparams; i++)
        if (s->params[i] && !strcmp(s->params[i], v)) return true;
    return false;
}

static void test_request_text_only_in_params(void **state)
{
    const char *sql;
    rest_sql_t s;
    rest_error_t err;
    const char *qs =
        "select=id,%22evil%5C%22)--%22:name,doc->%22k');--%22&name=eq.x';DROP%20TABLE%20t;--"
        "&id=in.(1,%22a%5C%22b%22)&or=(name.like.*z*,doc->>p.eq.q)";
    assert_int_equal(build("customers", qs, &sql, &s, &err), 0);
    assert_null(strstr(sql, "DROP"));
    assert_null(strstr(sql, "evil"));
    assert_null(strstr(sql, "k')"));
    assert_true(has_param(&s, "x';DROP TABLE t;--"));
    assert_true(has_param(&s, "evil\")--"));
    assert_true(has_param(&s, "k');--"));
    assert_true(has_param(&s, "%z%"));
    assert_true(has_param(&s, "{\"1\",\"a\\\"b\"}"));
    assert_non_null(strstr(sql, "FROM \"public\".\"customers\" _t0"));
    assert_non_null(strstr(sql, "SELECT count(*) FROM \"public\".\"customers\""));
}

static void test_unknown_names(void **state)
{
    const char *sql;
    rest_sql_t s;
    rest_error_t err;
    assert_int_equal(build("customers", "select=nmae", &sql, &s, &err), -1);
    assert_string_equal(err.code, "PGRST204");
    assert_int_equal(err.status, 400);
    assert_string_equal(err.hint, "Perhaps you meant 'name'");
    assert_int_equal(build("customers", "order=zzz.desc", &sql, &s, &err), -1);
    assert_string_equal(err.code, "PGRST204");
    assert_null(err.hint);
    assert_string_equal(rest_closest_table(snap, "public", "ordres"), "orders");
    assert_null(rest_snapshot_table(snap, "public", "nope"));
}

static void test_relationships(void **state)
{
    const char *sql;
    rest_sql_t s;
    rest_error_t err;
    assert_int_equal(build("orders", "select=id,customers(name)", &sql, &s, &err), -1);
    assert_string_equal(err.code, "PGRST201");
    assert_int_equal(err.status, 300);
    assert_int_equal(build("orders", "select=id,b:customers!orders_buyer_fk(name)", &sql, &s, &err),
                     0);
    assert_non_null(strstr(sql, "_t1.\"id\" = _t0.\"buyer\""));
    assert_int_equal(build("orders", "select=id,buyer(name)", &sql, &s, &err), 0); /* by column */
    assert_int_equal(
        build("customers", "select=id,orders!orders_seller_fk!inner(id)", &sql, &s, &err), 0);
    assert_non_null(strstr(sql, "EXISTS (SELECT 1 FROM \"public\".\"orders\""));
    assert_non_null(strstr(sql, "json_agg"));
    assert_int_equal(build("customers", "select=id,nothing(*)", &sql, &s, &err), -1);
    assert_string_equal(err.code, "PGRST200");
    assert_int_equal(build("customers", "select=id&orders.id=eq.1", &sql, &s, &err), -1);
    assert_string_equal(err.code, "PGRST108");
}

static void test_writes(void **state)
{
    rest_limits_t lim;
    rest_limits_default(&lim);
    rest_query_t q;
    rest_error_t err;
    assert_int_equal(rest_parse_query(test_arena, "id=eq.1", 7, &lim, &q, &err), 0);
    const rest_table_t *t = rest_snapshot_table(snap, "public", "customers");
    const char *cols[] = {"name"};
    rest_write_opts_t o = {.kind = REST_W_UPDATE,
                           .body = "{\"name\":\"x\"}",
                           .columns = cols,
                           .ncolumns = 1,
                           .max_affected = 1,
                           .rollback = true,
                           .want_rows = true};
    rest_sql_t s;
    rest_sql_init(&s, test_arena);
    assert_int_equal(rest_sql_write(&s, snap, t, &q, &o, &err), 0);
    const char *sql = rest_sql_finish(&s);
    assert_non_null(
        strstr(sql, "UPDATE \"public\".\"customers\" AS _t0 SET \"name\" = _j.\"name\""));
    assert_non_null(strstr(sql, "json_populate_record(NULL::\"public\".\"customers\""));
    assert_true(has_param(&s, REST_SQL_MAX_AFFECTED_MARK));
    assert_true(has_param(&s, REST_SQL_ROLLBACK_MARK));
    const char *bad[] = {"nope"};
    o.columns = bad;
    rest_sql_init(&s, test_arena);
    assert_int_equal(rest_sql_write(&s, snap, t, &q, &o, &err), -1);
    assert_string_equal(err.code, "PGRST204");
    rest_sql_finish(&s);
}

static void test_bad_catalog_documents(void **state)
{
    char err[128];
    const char *schemas[] = {"public"};
    assert_null(rest_snapshot_from_json("not json", schemas, 1, err, sizeof err));
    assert_null(rest_snapshot_from_json("{\"x\":1}", schemas, 1, err, sizeof err));
    assert_null(rest_snapshot_from_json(
        "{\"tables\":[{\"s\":\"p\",\"n\":\"t\",\"c\":[],\"pk\":[\"missing\"]}],\"fks\":[]}",
        schemas, 1, err, sizeof err));
    assert_non_null(strstr(err, "key column"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_text_only_in_params),
        cmocka_unit_test(test_unknown_names),
        cmocka_unit_test(test_relationships),
        cmocka_unit_test(test_writes),
        cmocka_unit_test(test_bad_catalog_documents),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
