/*
 * test_rest_cursor - keyset cursor tokens and conditions. Tokens: round trip
 * (NULLs, empty strings, unicode, commas), refusal of tampered, truncated,
 * foreign-key, other-ordering and malformed tokens, random vs configured keys.
 * Conditions, against a real PostgreSQL: for many orderings (mixed
 * directions, NULLS FIRST/LAST, duplicate and NULL sort values, the row
 * comparison and the expansion shapes) walking the table page by page through
 * tokens gives exactly the rows of the full ORDER BY, in order. The Link header.
 */
#include "db_test_fixture.h"
#include "rest/cursor.h"

static int cursor_setup(void **state)
{
    if (group_setup(state) != 0) return -1;
    PGconn *c = sync_conn();
    PGresult *r =
        PQexec(c, "CREATE TABLE cur_t (id int PRIMARY KEY, a int, b text, c date, d int NOT NULL, "
                  "ts timestamptz, f float8);"
                  "INSERT INTO cur_t SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE i % 5 END, "
                  "CASE WHEN i % 11 = 0 THEN NULL ELSE chr(97 + i % 3) || ', é' END, "
                  "CASE WHEN i % 13 = 0 THEN NULL ELSE date '2026-01-01' + i % 4 END, i % 10, "
                  "timestamptz '2026-01-01 00:00:00.123456+00' + (i % 6) * interval '1.5 second', "
                  "CASE WHEN i % 9 = 0 THEN NULL ELSE 0.1 * (i % 4) END "
                  "FROM generate_series(1, 230) i");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

/* ---- tokens ---- */

static void test_token_round_trip_and_refusals(void **state)
{
    (void)state;
    rest_cursor_keyring_t *k = rest_cursor_keyring_new("s3cret");
    rest_cursor_keyring_t *other = rest_cursor_keyring_new(NULL);
    rest_cursor_keyring_t *same = rest_cursor_keyring_new("s3cret");
    assert_non_null(k);
    assert_non_null(other);
    arena_t *a = arena_new(4096);
    const char *vals[] = {"2026-01-01", NULL, "", "a, \"b\" ü 🎉\n", "9223372036854775807"};
    rest_cursor_values_t v = {5, vals, NULL}, back;
    buf_t tok;
    buf_init(&tok);
    rest_cursor_encode(k, "public.t|a.asc,id.asc", &v, &tok);
    for (size_t i = 0; i < tok.len; i++) {
        char ch = tok.data[i];
        assert_true((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_');
    }
    assert_int_equal(rest_cursor_decode(k, "public.t|a.asc,id.asc", tok.data, tok.len, a, &back),
                     0);
    assert_int_equal(back.n, 5);
    assert_string_equal(back.values[0], "2026-01-01");
    assert_null(back.values[1]);
    assert_string_equal(back.values[2], "");
    assert_string_equal(back.values[3], vals[3]);
    assert_string_equal(back.values[4], vals[4]);
    /* the same secret verifies; another key, another ordering do not */
    assert_int_equal(rest_cursor_decode(same, "public.t|a.asc,id.asc", tok.data, tok.len, a, &back),
                     0);
    assert_int_equal(
        rest_cursor_decode(other, "public.t|a.asc,id.asc", tok.data, tok.len, a, &back), -1);
    assert_int_equal(rest_cursor_decode(k, "public.t|a.desc,id.asc", tok.data, tok.len, a, &back),
                     -1);
    /* every single-character change and every truncation is refused */
    for (size_t i = 0; i < tok.len; i++) {
        char saved = tok.data[i];
        tok.data[i] = saved == 'x' ? 'y' : 'x';
        assert_int_equal(
            rest_cursor_decode(k, "public.t|a.asc,id.asc", tok.data, tok.len, a, &back), -1);
        tok.data[i] = saved;
        assert_int_equal(rest_cursor_decode(k, "public.t|a.asc,id.asc", tok.data, i, a, &back), -1);
    }
    const char *bad[] = {"", "====", "AAAA+/", "not a token", "AQ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rest_cursor_decode(k, "x", bad[i], strlen(bad[i]), a, &back), -1);
    char *huge = calloc(1, REST_CURSOR_MAX_TOKEN + 2);
    memset(huge, 'A', REST_CURSOR_MAX_TOKEN + 1);
    assert_int_equal(rest_cursor_decode(k, "x", huge, REST_CURSOR_MAX_TOKEN + 1, a, &back), -1);
    free(huge);
    buf_dispose(&tok);
    arena_free(a);
    rest_cursor_keyring_free(k);
    rest_cursor_keyring_free(other);
    rest_cursor_keyring_free(same);
}

static void test_link(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    rest_cursor_link("/rest/v1/orders", "select=id&order=a.desc&cursor=OLD&offset=10&limit=5",
                     "TOK", &b);
    assert_string_equal(
        b.data, "</rest/v1/orders?select=id&order=a.desc&limit=5&cursor=TOK>; rel=\"next\"");
    buf_reset(&b);
    rest_cursor_link("/rest/v1/t", "", "T", &b);
    assert_string_equal(b.data, "</rest/v1/t?cursor=T>; rel=\"next\"");
    buf_reset(&b);
    rest_cursor_link("/rest/v1/t", "a=eq.<x>&cursorx=1", "T", &b);
    assert_string_equal(b.data, "</rest/v1/t?a=eq.%3Cx%3E&cursorx=1&cursor=T>; rel=\"next\"");
    buf_dispose(&b);
}

/* ---- conditions: page through PostgreSQL ---- */

typedef struct spec {
    const char *name;
    int nkeys;
    rest_cursor_key_t keys[5];
} spec_t;

#define K(expr, type, desc, nf, nn)                                                                \
    {                                                                                              \
        expr, type, desc, nf, nn                                                                   \
    }
#define ID K("id", "int", false, false, true)

static const spec_t specs[] = {
    {"a asc (nulls last), id", 2, {K("a", "int", false, false, false), ID}},
    {"a desc (nulls first), id", 2, {K("a", "int", true, true, false), ID}},
    {"a asc nulls first, id", 2, {K("a", "int", false, true, false), ID}},
    {"a desc nulls last, id", 2, {K("a", "int", true, false, false), ID}},
    {"b desc nulls first, c asc nulls first, id",
     3,
     {K("b", "text", true, true, false), K("c", "date", false, true, false), ID}},
    {"c asc nulls last, a desc nulls last, b asc, id desc",
     4,
     {K("c", "date", false, false, false), K("a", "int", true, false, false),
      K("b", "text", false, false, false), K("id", "int", true, false, true)}},
    {"d asc, id asc (row comparison)", 2, {K("d", "int", false, false, true), ID}},
    {"d desc, id desc (row comparison)",
     2,
     {K("d", "int", true, true, true), K("id", "int", true, true, true)}},
    {"ts desc, f asc nulls first, id",
     3,
     {K("ts", "timestamptz", true, true, false), K("f", "float8", false, true, false), ID}},
    {"id only", 1, {ID}},
};

static void order_by(const spec_t *s, buf_t *b)
{
    buf_append_str(b, " ORDER BY ");
    for (int i = 0; i < s->nkeys; i++)
        buf_printf(b, "%s%s %s NULLS %s", i ? ", " : "", s->keys[i].expr,
                   s->keys[i].desc ? "DESC" : "ASC", s->keys[i].nulls_first ? "FIRST" : "LAST");
}

static void walk(PGconn *pg, const rest_cursor_keyring_t *k, const spec_t *s, int page)
{
    buf_t q;
    buf_init(&q);
    buf_append_str(&q, "SELECT id FROM cur_t");
    order_by(s, &q);
    PGresult *full = PQexec(pg, q.data);
    assert_int_equal(PQresultStatus(full), PGRES_TUPLES_OK);
    int total = PQntuples(full), seen = 0, pages = 0;
    buf_t tok;
    buf_init(&tok);
    arena_t *a = arena_new(4096);
    for (;;) {
        buf_reset(&q);
        buf_append_str(&q, "SELECT id");
        for (int i = 0; i < s->nkeys; i++)
            buf_printf(&q, ", %s::text AS lakeapi_k%d", s->keys[i].expr, i);
        buf_append_str(&q, " FROM cur_t");
        const char *params[8];
        int np = 0;
        if (tok.len) {
            rest_cursor_values_t v;
            assert_int_equal(rest_cursor_decode(k, s->name, tok.data, tok.len, a, &v), 0);
            buf_append_str(&q, " WHERE ");
            np = rest_cursor_where(s->keys, s->nkeys, &v, 1, &q, params, 8);
            assert_true(np >= 0);
        }
        order_by(s, &q);
        buf_printf(&q, " LIMIT %d", page);
        PGresult *r = PQexecParams(pg, q.data, np, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", q.data, PQerrorMessage(pg));
        int n = PQntuples(r);
        for (int i = 0; i < n; i++, seen++) {
            if (seen >= total) fail_msg("%s: more rows than the full order", s->name);
            if (strcmp(PQgetvalue(r, i, 0), PQgetvalue(full, seen, 0)) != 0)
                fail_msg("%s: row %d is id %s, want %s (page %d, sql %s)", s->name, seen,
                         PQgetvalue(r, i, 0), PQgetvalue(full, seen, 0), pages, q.data);
        }
        pages++;
        if (n < page) {
            PQclear(r);
            break;
        }
        const char *vals[8];
        for (int i = 0; i < s->nkeys; i++)
            vals[i] = PQgetisnull(r, n - 1, i + 1) ? NULL : PQgetvalue(r, n - 1, i + 1);
        rest_cursor_values_t v = {s->nkeys, vals, NULL};
        buf_reset(&tok);
        rest_cursor_encode(k, s->name, &v, &tok);
        PQclear(r);
        arena_reset(a);
    }
    assert_int_equal(seen, total);
    assert_true(pages > 1);
    PQclear(full);
    arena_free(a);
    buf_dispose(&tok);
    buf_dispose(&q);
}

static void test_pages_follow_the_full_order(void **state)
{
    (void)state;
    PGconn *pg = sync_conn();
    rest_cursor_keyring_t *k = rest_cursor_keyring_new(NULL);
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        walk(pg, k, &specs[i], 7);
        walk(pg, k, &specs[i], 1);
    }
    rest_cursor_keyring_free(k);
    PQfinish(pg);
}

static void test_where_shapes(void **state)
{
    (void)state;
    const char *vals[] = {"3", "10"};
    rest_cursor_values_t v = {2, vals, NULL};
    rest_cursor_key_t rc[] = {K("d", "int", false, false, true), ID};
    buf_t b;
    buf_init(&b);
    const char *params[4];
    assert_int_equal(rest_cursor_where(rc, 2, &v, 3, &b, params, 4), 2);
    assert_string_equal(b.data, "(d, id) > ($3::int, $4::int)");
    assert_string_equal(params[0], "3");
    assert_string_equal(params[1], "10");
    buf_reset(&b);
    rest_cursor_key_t ex[] = {K("a", NULL, false, false, false), ID};
    assert_int_equal(rest_cursor_where(ex, 2, &v, 1, &b, params, 4), 2);
    assert_string_equal(
        b.data,
        "(a >= $1 OR a IS NULL) AND (((a > $1 OR a IS NULL)) OR (a = $1 AND id > $2::int))");
    buf_reset(&b);
    const char *nul[] = {NULL, "10"};
    rest_cursor_values_t vn = {2, nul, NULL};
    assert_int_equal(rest_cursor_where(ex, 2, &vn, 1, &b, params, 4), 1);
    assert_string_equal(b.data, "(a IS NULL) AND ((a IS NULL AND id > $1::int))");
    buf_reset(&b);
    assert_int_equal(rest_cursor_where(ex, 1, &vn, 1, &b, params, 4), -1); /* counts differ */
    assert_int_equal(rest_cursor_where(ex, 2, &v, 1, &b, params, 1), -1);  /* no room */
    buf_dispose(&b);
    assert_true(rest_cursor_nulls_first(true, 0));
    assert_false(rest_cursor_nulls_first(false, 0));
    assert_true(rest_cursor_nulls_first(false, 1));
    assert_false(rest_cursor_nulls_first(true, 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_round_trip_and_refusals),
        cmocka_unit_test(test_link),
        cmocka_unit_test(test_where_shapes),
        cmocka_unit_test(test_pages_follow_the_full_order),
    };
    return cmocka_run_group_tests(tests, cursor_setup, group_teardown);
}
