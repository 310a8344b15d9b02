/*
 * test_rest_grammar - PostgREST's query grammar: select (aliases, casts, JSON
 * paths, embedding with hints and !inner), filters (every operator, not., in
 * lists with quotes, is, fts languages, any/all), nested or/and trees,
 * order, limit/offset, embedded scopes, Prefer, Range, and the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rest/grammar.h"
#include "test_util.h"

static rest_limits_t lim;
static rest_error_t err;

static int parse(const char *qs, rest_query_t *q)
{
    rest_limits_default(&lim);
    memset(&err, 0, sizeof err);
    return rest_parse_query(test_arena, qs, strlen(qs), &lim, q, &err);
}

static void expect_fail(const char *qs, int status, const char *code)
{
    rest_query_t q;
    assert_int_equal(parse(qs, &q), -1);
    assert_int_equal(err.status, status);
    assert_string_equal(err.code, code);
    assert_non_null(err.message);
}

static void test_select_items(void **state)
{
    rest_query_t q;
    assert_int_equal(parse("select=id,full_name:name,price::text,data->a->>b,*", &q), 0);
    rest_select_t *s = q.select;
    assert_int_equal(s->nitems, 5);
    assert_int_equal(s->items[0].kind, REST_SEL_FIELD);
    assert_string_equal(s->items[0].field.name, "id");
    assert_string_equal(s->items[1].alias, "full_name");
    assert_string_equal(s->items[1].field.name, "name");
    assert_string_equal(s->items[2].cast, "text");
    assert_int_equal(s->items[3].field.npath, 2);
    assert_false(s->items[3].field.path[0].as_text);
    assert_true(s->items[3].field.path[1].as_text);
    assert_string_equal(rest_field_label(&s->items[3].field, NULL), "b");
    assert_int_equal(s->items[4].kind, REST_SEL_STAR);
}

static void test_select_embed(void **state)
{
    rest_query_t q;
    assert_int_equal(parse("select=*,buyer:customers!orders_cust_fk!inner(name,id),items(*)", &q),
                     0);
    rest_sel_item_t *e = &q.select->items[1];
    assert_int_equal(e->kind, REST_SEL_EMBED);
    assert_string_equal(e->alias, "buyer");
    assert_string_equal(e->rel, "customers");
    assert_string_equal(e->hint, "orders_cust_fk");
    assert_true(e->inner);
    assert_int_equal(e->sub->nitems, 2);
    assert_string_equal(q.select->items[2].rel, "items");
    assert_int_equal(q.select->items[2].sub->items[0].kind, REST_SEL_STAR);
}

static void test_select_errors(void **state)
{
    expect_fail("select=id,", 400, "PGRST100");
    expect_fail("select=a(b", 400, "PGRST100");
    expect_fail("select=a)", 400, "PGRST100");
    expect_fail("select=a::", 400, "PGRST100");
    expect_fail("select=a(b(c(d)))", 400, "PGRST100"); /* deeper than max_depth */
    expect_fail("select=\"unterminated", 400, "PGRST100");
    expect_fail("select=...a(b)", 400, "PGRST100");
}

static void test_filters(void **state)
{
    rest_query_t q;
    assert_int_equal(parse("age=gte.18&name=not.like.*Jo*&id=in.(1,\"a,b\",3)&d=is.NULL"
                           "&t=fts(english).cat&x=eq(any).{1,2}&j->>k=eq.v",
                           &q),
                     0);
    rest_cond_t *w = q.scopes[0].where;
    assert_true(q.has_filters);
    assert_int_equal(w->nkids, 7);
    assert_int_equal(w->kids[0]->op, REST_OP_GTE);
    assert_string_equal(w->kids[0]->value, "18");
    assert_true(w->kids[1]->negate);
    assert_string_equal(w->kids[1]->value, "%Jo%");
    assert_int_equal(w->kids[2]->nvalues, 3);
    assert_string_equal(w->kids[2]->values[1], "a,b");
    assert_int_equal(w->kids[3]->is, REST_IS_NULL);
    assert_string_equal(w->kids[4]->lang, "english");
    assert_int_equal(w->kids[5]->mod, REST_MOD_ANY);
    assert_string_equal(w->kids[5]->value, "{1,2}");
    assert_string_equal(w->kids[6]->field.name, "j");
    assert_string_equal(w->kids[6]->field.path[0].key, "k");
}

static void test_every_operator(void **state)
{
    const char *ops[] = {"eq",    "neq",    "gt",         "gte", "lt",    "lte",   "like", "ilike",
                         "match", "imatch", "isdistinct", "cs",  "cd",    "ov",    "sl",   "sr",
                         "nxr",   "nxl",    "adj",        "fts", "plfts", "phfts", "wfts"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char qs[64];
        snprintf(qs, sizeof qs, "c=%s.1", ops[i]);
        rest_query_t q;
        assert_int_equal(parse(qs, &q), 0);
        assert_string_equal(rest_op_name(q.scopes[0].where->kids[0]->op), ops[i]);
    }
    expect_fail("c=foo.1", 400, "PGRST100");
    expect_fail("c=eq", 400, "PGRST100");
    expect_fail("c=1", 400, "PGRST100");
    expect_fail("c=is.maybe", 400, "PGRST100");
    expect_fail("c=in.1,2", 400, "PGRST100");
    expect_fail("c=eq(some).1", 400, "PGRST100");
}

static void test_logic_trees(void **state)
{
    rest_query_t q;
    assert_int_equal(
        parse("or=(age.lt.18,age.gt.21,and(a.eq.1,not.or(b.in.(1,2),c.eq.\"x,y)\")))", &q), 0);
    rest_cond_t *o = q.scopes[0].where->kids[0];
    assert_int_equal(o->kind, REST_COND_OR);
    assert_int_equal(o->nkids, 3);
    rest_cond_t *and = o->kids[2];
    assert_int_equal(and->kind, REST_COND_AND);
    rest_cond_t *nor = and->kids[1];
    assert_int_equal(nor->kind, REST_COND_OR);
    assert_true(nor->negate);
    assert_int_equal(nor->kids[0]->nvalues, 2);
    assert_string_equal(nor->kids[1]->value, "x,y)");
    assert_int_equal(parse("not.and=(a.gte.0,a.lte.100)", &q), 0);
    assert_true(q.scopes[0].where->kids[0]->negate);
    expect_fail("or=(a.eq.1", 400, "PGRST100");
    expect_fail("or=a.eq.1", 400, "PGRST100");
    expect_fail("or=(a.eq.1)x", 400, "PGRST100");
    expect_fail("or=(((((((((((a.eq.1)))))))))))", 400, "PGRST100");
}

static void test_order_limit_scopes(void **state)
{
    rest_query_t q;
    assert_int_equal(parse("order=a.desc.nullslast,b,c->>x.asc.nullsfirst&limit=10&offset=5"
                           "&items.order=id.desc&items.limit=2&items.qty=gt.3&items.or=(a.eq.1)",
                           &q),
                     0);
    rest_scope_t *r = &q.scopes[0];
    assert_int_equal(r->norder, 3);
    assert_true(r->order[0].desc);
    assert_int_equal(r->order[0].nulls, 2);
    assert_false(r->order[1].desc);
    assert_int_equal(r->order[2].nulls, 1);
    assert_int_equal(r->order[2].field.npath, 1);
    assert_int_equal(r->limit, 10);
    assert_int_equal(r->offset, 5);
    rest_scope_t *it = rest_query_scope(&q, "items");
    assert_non_null(it);
    assert_int_equal(it->limit, 2);
    assert_int_equal(it->norder, 1);
    assert_int_equal(it->where->nkids, 2);
    assert_false(q.has_filters);
    expect_fail("limit=-1", 400, "PGRST100");
    expect_fail("limit=abc", 400, "PGRST100");
    expect_fail("order=a.sideways", 400, "PGRST100");
}

static void test_columns_conflict_decode(void **state)
{
    rest_query_t q;
    assert_int_equal(parse("columns=a,b&on_conflict=id&select=na%20me&cursor=tok", &q), 0);
    assert_int_equal(q.ncolumns, 2);
    assert_string_equal(q.columns[1], "b");
    assert_int_equal(q.non_conflict, 1);
    assert_string_equal(q.select->items[0].field.name, "na me");
    assert_string_equal(q.cursor, "tok");
    assert_int_equal(parse("%22information.cpe%22=like.*MS*", &q), 0);
    assert_string_equal(q.scopes[0].where->kids[0]->field.name, "information.cpe");
    expect_fail("a=eq.%zz", 400, "PGRST100");
    expect_fail("a=eq.%00", 400, "PGRST100");
}

static void test_limits(void **state)
{
    char big[20000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "select=", 7);
    expect_fail(big, 414, "PGRST100");
    char many[8192] = "select=";
    for (int i = 0; i < 600; i++)
        strcat(many, "a,");
    strcat(many, "a");
    expect_fail(many, 400, "PGRST100");
}

static void test_prefer(void **state)
{
    rest_prefer_t p;
    assert_int_equal(rest_parse_prefer(test_arena,
                                       "return=representation, count=exact,"
                                       "resolution=merge-duplicates,tx=rollback,max-affected=5",
                                       &p, &err),
                     0);
    assert_int_equal(p.ret, REST_RET_REPR);
    assert_int_equal(p.count, REST_COUNT_EXACT);
    assert_int_equal(p.resolution, REST_RES_MERGE);
    assert_true(p.tx_rollback);
    assert_int_equal(p.max_affected, 5);
    assert_string_equal(p.applied, "return=representation, count=exact, "
                                   "resolution=merge-duplicates, tx=rollback, max-affected=5");
    assert_int_equal(rest_parse_prefer(test_arena, "count=bogus, return=minimal", &p, &err), 0);
    assert_int_equal(p.count, REST_COUNT_NONE);
    assert_int_equal(p.ret, REST_RET_MINIMAL);
    assert_int_equal(rest_parse_prefer(test_arena, "handling=strict, count=bogus", &p, &err), -1);
    assert_string_equal(err.code, "PGRST122");
    assert_int_equal(err.status, 400);
    assert_int_equal(rest_parse_prefer(test_arena, NULL, &p, &err), 0);
    assert_int_equal(p.max_affected, -1);
}

static void test_range(void **state)
{
    long off = 0, lim_ = -1;
    assert_int_equal(rest_parse_range(test_arena, "0-24", "items", &off, &lim_, &err), 0);
    assert_int_equal(off, 0);
    assert_int_equal(lim_, 25);
    assert_int_equal(rest_parse_range(test_arena, "10-", NULL, &off, &lim_, &err), 0);
    assert_int_equal(off, 10);
    assert_int_equal(lim_, -1);
    off = 3;
    assert_int_equal(rest_parse_range(test_arena, "garbage", NULL, &off, &lim_, &err), 0);
    assert_int_equal(off, 3);
    assert_int_equal(rest_parse_range(test_arena, "5-2", NULL, &off, &lim_, &err), -1);
    assert_int_equal(err.status, 416);
    assert_string_equal(err.code, "PGRST103");
    assert_int_equal(
        rest_parse_range(test_arena, "0-99999999999999999999", NULL, &off, &lim_, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_items),
        cmocka_unit_test(test_select_embed),
        cmocka_unit_test(test_select_errors),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_every_operator),
        cmocka_unit_test(test_logic_trees),
        cmocka_unit_test(test_order_limit_scopes),
        cmocka_unit_test(test_columns_conflict_decode),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_prefer),
        cmocka_unit_test(test_range),
    };
    return cmocka_run_group_tests(tests, test_arena_setup, test_arena_teardown);
}
