/*
 * test_rest_export - NDJSON and CSV export end to end: a real HTTP server
 * and pool on one loop, a real PostgreSQL, a client on a socket. Every byte
 * is compared with what PostgreSQL itself produces: NDJSON with
 * row_to_json() of the same rows, CSV with COPY ... (FORMAT csv, HEADER)
 * (backslashes, quotes, commas, newlines in text and in json columns, unicode,
 * empty strings and NULLs, big numbers). Also: HEAD, an error before the first
 * byte (a real status), an error after it (an aborted body), and a client that
 * disconnects mid-export (the query is cancelled, no connection stays busy).
 */
#include "db_test_fixture.h"
#include "http_test_fixture.h"
#include "rest/export.h"
#include "rest/export_json.h"

static db_pool_t *pool;
static db_pool_stats_t pool_st;

static const char *const fixture_sql[] = {
    "CREATE TABLE export_t (id int PRIMARY KEY, t text, n numeric, b bigint, f float8, "
    "ts timestamptz, d date, j json, jb jsonb, arr text[], by bytea, u uuid, flag boolean, "
    "\"odd, name\" text)",
    "INSERT INTO export_t VALUES "
    "(1, 'plain', 1.50, 9007199254740993, 1.5, '2026-01-02 03:04:05.678+00', '2026-01-02', "
    "'{\"a\": [1, 2]}', '{\"b\": \"x\"}', '{a,b}', '\\x00ff', "
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true, 'x'),"
    "(2, E'back\\\\slash \"quote\", comma\\nnewline\\r\\ttab', 12345678901234567890.123, "
    "-9223372036854775808, 'NaN', '1999-12-31 23:59:59+00', '1999-12-31', "
    "E'{\\n  \"multi\": \"line\\\\n\"\\n}', '[1, \"two\", null]', "
    "E'{\"with,comma\",\"with \\\\\"quote\",NULL}', '\\x5c6e', NULL, false, ''),"
    "(3, 'üñíçødé ✓ 日本語 🎉', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL),"
    "(4, '', 0, 0, '-Infinity', 'infinity', '-infinity', 'null', '\"\\\\\\\\u0000-free\"', "
    "'{}', '\\x', '00000000-0000-0000-0000-000000000000', NULL, '\\.'),"
    "(5, E'\\\\.', -0.000, 1, 1e-300, '2026-06-01 00:00:00+00', '2026-06-01', '[]', '{}', "
    "'{\"\"}', NULL, NULL, true, '\"')",
    /* only types rest/export_json encodes itself (no arrays): the fast path */
    "CREATE TABLE export_s (id int PRIMARY KEY, b bool, i2 smallint, i8 bigint, n numeric, "
    "f4 real, f8 float8, t text, vc varchar(20), ch char(4), j json, jb jsonb, d date, "
    "ts timestamp, tz timestamptz, tm time, ttz timetz, iv interval, u uuid, ip inet, "
    "by bytea, m money, o oid)",
    "INSERT INTO export_s VALUES "
    "(1, true, -32768, 9223372036854775807, 'NaN', 'Infinity', '-Infinity', "
    "E'ctl \\\\x01:\\x01 tab:\\t quote:\" bs:\\\\\\\\ sl:/ del:\\x7f', 'ü✓', 'ab', "
    "E'{\\r\\n \"k\" : [1,\\n2] }', '{\"z\": 1, \"a\": [true, null]}', '0044-03-15 BC', "
    "'0044-03-15 12:00:00 BC', '0044-03-15 12:00:00+00 BC', '23:59:59.999999', "
    "'12:00:00+05:30', '-1 year 2 mons 3 days 04:05:06.7', "
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '::ffff:1.2.3.4/120', '\\x0001ff', 12.34, 42),"
    "(2, false, 0, -1, 1.10, 1.5e-40, 5e-324, '', NULL, NULL, 'null', '\"s\"', 'infinity', "
    "'-infinity', 'infinity', '00:00', '00:00:00-12:45', '0', NULL, '10.0.0.1', '', -1, 0),"
    "(3, NULL, NULL, NULL, 12345678901234567890.00001, 3.4028235e38, 1.7976931348623157e308, "
    "'🎉 日本', 'x', 'abcd', '[]', '[]', '10000-01-01', '2026-12-03 15:04:05.123456', "
    "'2026-12-03 15:04:05+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
    "(4, NULL, NULL, NULL, -0.0, -0, 0.1, E'line\\nbreak\\rcr', '', '', "
    "'  {\"pad\" :  1 }  ', '{}', '2026-01-01', '2026-01-01 00:00:00', "
    "'1999-12-31 23:59:59.5-08', NULL, NULL, '1 day', NULL, NULL, NULL, NULL, NULL)",
};

static int export_setup(void **state)
{
    if (group_setup(state) != 0) return -1;
    PGconn *c = sync_conn();
    for (size_t i = 0; i < sizeof fixture_sql / sizeof fixture_sql[0]; i++) {
        PGresult *r = PQexec(c, fixture_sql[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "fixture: %s", PQerrorMessage(c));
            return -1;
        }
        PQclear(r);
    }
    PQfinish(c);
    return 0;
}

/* ---- the server side: a route per SQL, on the fixture's loop ---- */

static void h_export(http_exchange_t *ex, void *data)
{
    (void)data;
    const char *name = http_exchange_param(ex, 0);
    const char *accept = http_exchange_header(ex, "accept", NULL);
    rest_export_format_t fmt = rest_export_format_from_accept(accept);
    const char *n = http_exchange_query(ex, "n", NULL);
    const char **vals = arena_alloc(http_exchange_arena(ex), sizeof *vals);
    vals[0] = n ? n : "10";
    if (!fmt) {
        http_exchange_send(ex, 406, NULL);
        return;
    }
    if (strcmp(name, "simple") == 0)
        rest_export_start(ex, pool, fmt, "SELECT * FROM export_s ORDER BY id", 0, NULL, NULL);
    else if (strcmp(name, "types") == 0)
        rest_export_start(ex, pool, fmt, "SELECT * FROM export_t ORDER BY id", 0, NULL, NULL);
    else if (strcmp(name, "series") == 0)
        rest_export_start(ex, pool, fmt,
                          "SELECT g, repeat('x', 100) AS pad FROM generate_series(1, $1::int) g", 1,
                          vals, NULL);
    else if (strcmp(name, "big") == 0) /* 50M rows, produced as they are fetched */
        rest_export_start(ex, pool, fmt,
                          "SELECT a * 1000 + b AS g, repeat('x', 100) AS pad "
                          "FROM generate_series(0, 49999) a, generate_series(1, 1000) b",
                          0, NULL, NULL);
    else if (strcmp(name, "late_error") == 0)
        rest_export_start(ex, pool, fmt,
                          "SELECT 1 / (g - 9000) AS v FROM generate_series(1, 10000) g", 0, NULL,
                          NULL);
    else
        rest_export_start(ex, pool, fmt, "SELECT 1 / 0 AS v", 0, NULL, NULL);
}

static void make_pool(fixture_t *f)
{
    router_add(f->router, HTTP_GET | HTTP_HEAD, "/export/{name}", h_export, f, NULL);
    db_pool_config_t cfg;
    db_pool_config_defaults(&cfg);
    cfg.size = 2;
    cfg.max_overflow = 2;
    cfg.conninfo = conninfo;
    pool = db_pool_new(&f->loop, &cfg);
    db_pool_start(pool);
}

static void pool_closed(void *data)
{
    (void)data;
}

static void close_pool(fixture_t *f)
{
    (void)f;
    db_pool_close(pool, pool_closed, NULL);
}

static void read_pool(fixture_t *f)
{
    db_pool_stats(pool, &pool_st);
    snapshot(f);
}

static fixture_t *start_export(void)
{
    fixture_t *f = start(NULL);
    run_on_loop(f, make_pool);
    return f;
}

static void stop_export(fixture_t *f)
{
    run_on_loop(f, close_pool);
    stop(f, false);
    db_pool_free(pool);
    pool = NULL;
}

/* ---- the client side ---- */

typedef struct body {
    resp_t r;
    buf_t data;
    bool complete; /* the terminating chunk arrived */
} body_t;

static void fetch(client_t *c, const char *method, const char *path, const char *accept,
                  body_t *out)
{
    char req[512];
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nAccept: %s\r\n\r\n", method, path, accept);
    client_sends(c, req);
    buf_init(&out->data);
    out->complete = false;
    char *end;
    while (!(end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL))
        assert_true(client_fill(c) > 0);
    size_t hl = (size_t)(end - c->buf) + 4;
    memcpy(out->r.head, c->buf, hl);
    out->r.head[hl] = '\0';
    out->r.body = NULL;
    assert_int_equal(sscanf(out->r.head, "HTTP/1.1 %d", &out->r.status), 1);
    memmove(c->buf, c->buf + hl, c->len - hl);
    c->len -= hl;
    if (strcmp(method, "HEAD") == 0) return;
    const char *cl = resp_header(&out->r, "Content-Length");
    if (cl) {
        size_t n = strtoul(cl, NULL, 10);
        while (c->len < n)
            assert_true(client_fill(c) > 0);
        buf_append(&out->data, c->buf, n);
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
        out->complete = true;
        return;
    }
    for (;;) {
        char *eol;
        while (!(eol = c->len ? memmem(c->buf, c->len, "\r\n", 2) : NULL))
            if (client_fill(c) <= 0) return; /* cut off: incomplete */
        size_t l = (size_t)(eol - c->buf) + 2, n = strtoul(c->buf, NULL, 16);
        while (c->len < l + n + 2)
            if (client_fill(c) <= 0) return;
        buf_append(&out->data, c->buf + l, n);
        memmove(c->buf, c->buf + l + n + 2, c->len - l - n - 2);
        c->len -= l + n + 2;
        if (n == 0) {
            out->complete = true;
            return;
        }
    }
}

/* What PostgreSQL says the export must be. */
static void expect_ndjson(PGconn *pg, const char *sql, buf_t *want)
{
    char q[1024];
    snprintf(q, sizeof q, "SELECT row_to_json(q.*)::text FROM (%s) q", sql);
    PGresult *r = PQexec(pg, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s", PQerrorMessage(pg));
    for (int i = 0; i < PQntuples(r); i++) {
        size_t at = want->len;
        buf_append(want, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
        for (size_t k = at; k < want->len; k++)
            if (want->data[k] == '\n' || want->data[k] == '\r') want->data[k] = ' ';
        buf_append_char(want, '\n');
    }
    PQclear(r);
}

static void expect_csv(PGconn *pg, const char *sql, buf_t *want)
{
    char q[1024];
    snprintf(q, sizeof q, "COPY (%s) TO STDOUT (FORMAT csv, HEADER)", sql);
    PGresult *r = PQexec(pg, q);
    assert_int_equal(PQresultStatus(r), PGRES_COPY_OUT);
    PQclear(r);
    char *row;
    int n;
    while ((n = PQgetCopyData(pg, &row, 0)) > 0) {
        buf_append(want, row, (size_t)n);
        PQfreemem(row);
    }
    PQclear(PQgetResult(pg));
}

static void assert_same_bytes(const buf_t *got, const buf_t *want)
{
    if (got->len != want->len || memcmp(got->data, want->data, got->len) != 0) {
        size_t i = 0;
        while (i < got->len && i < want->len && got->data[i] == want->data[i])
            i++;
        fail_msg("differ at byte %zu of %zu/%zu: got \"%.60s\" want \"%.60s\"", i, got->len,
                 want->len, got->data + i, want->data + i);
    }
}

/*
 * A plan made from catalog names and typnames (as the schema snapshot makes
 * one per table) fits the result of the table's SELECT *, writes it byte for
 * byte as the plan made from that result does, and fits nothing else.
 */
static void expect_plan_from_columns(PGconn *pg)
{
    PGresult *cols = PQexec(pg, "SELECT a.attname, t.typname FROM pg_attribute a "
                                "JOIN pg_type t ON t.oid = a.atttypid "
                                "WHERE a.attrelid = 'export_s'::regclass AND a.attnum > 0 "
                                "AND NOT a.attisdropped ORDER BY a.attnum");
    assert_int_equal(PQresultStatus(cols), PGRES_TUPLES_OK);
    int n = PQntuples(cols);
    assert_true(n > 2);
    const char *names[64], *typnames[64];
    assert_true(n <= 64);
    for (int j = 0; j < n; j++) {
        names[j] = PQgetvalue(cols, j, 0);
        typnames[j] = PQgetvalue(cols, j, 1);
    }
    rest_ej_plan_t mine, theirs;
    assert_true(rest_ej_plan_init_columns(&mine, n, names, typnames));
    PGresult *all = PQexec(pg, "SELECT * FROM export_s ORDER BY id");
    assert_int_equal(PQresultStatus(all), PGRES_TUPLES_OK);
    assert_true(rest_ej_plan_fits(&mine, all));
    assert_true(rest_ej_plan_init(&theirs, all));
    buf_t a, b;
    buf_init(&a);
    buf_init(&b);
    rest_ej_array(&mine, all, &a);
    rest_ej_array(&theirs, all, &b);
    assert_true(a.len > 2);
    assert_same_bytes(&a, &b);
    buf_dispose(&a);
    buf_dispose(&b);
    rest_ej_plan_free(&theirs);
    /* another column order, a renamed column, one column fewer: no fit */
    char order[256];
    snprintf(order, sizeof order, "SELECT \"%s\", id FROM export_s LIMIT 0", names[1]);
    buf_t renamed; /* every column, in order, the first under another name */
    buf_init(&renamed);
    buf_printf(&renamed, "SELECT \"%s\" AS renamed", names[0]);
    for (int j = 1; j < n; j++)
        buf_printf(&renamed, ", \"%s\"", names[j]);
    buf_append_str(&renamed, " FROM export_s LIMIT 0");
    const char *others[] = {order, renamed.data};
    for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) {
        PGresult *r = PQexec(pg, others[k]);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_false(rest_ej_plan_fits(&mine, r));
        PQclear(r);
    }
    buf_dispose(&renamed);
    PGresult *less = PQexec(pg, "SELECT id FROM export_s LIMIT 0");
    assert_false(rest_ej_plan_fits(&mine, less));
    PQclear(less);
    /* a type PostgreSQL's to_json must write: no plan */
    const char *arr_names[1] = {"k"}, *arr_types[1] = {"_int4"};
    assert_false(rest_ej_plan_init_columns(&theirs, 1, arr_names, arr_types));
    rest_ej_plan_free(&mine);
    PQclear(all);
    PQclear(cols);
}

static void test_types_byte_exact(void **state)
{
    (void)state;
    fixture_t *f = start_export();
    PGconn *pg = sync_conn();
    client_t c;
    client_open(&c, f->port);
    const char *sql = "SELECT * FROM export_t ORDER BY id";
    body_t b;
    fetch(&c, "GET", "/export/types", "application/x-ndjson", &b);
    assert_int_equal(b.r.status, 200);
    assert_true(b.complete);
    assert_string_equal(resp_header(&b.r, "Content-Type"), "application/x-ndjson");
    assert_string_equal(resp_header(&b.r, "Transfer-Encoding"), "chunked");
    buf_t want;
    buf_init(&want);
    expect_ndjson(pg, sql, &want);
    assert_same_bytes(&b.data, &want);
    assert_non_null(strstr(b.data.data, "\"b\":9007199254740993"));
    assert_non_null(strstr(b.data.data, "back\\\\slash"));
    assert_non_null(strstr(b.data.data, "üñíçødé ✓ 日本語 🎉"));
    buf_dispose(&b.data);
    buf_reset(&want);

    fetch(&c, "GET", "/export/types", "text/csv, application/json", &b);
    assert_int_equal(b.r.status, 200);
    assert_true(b.complete);
    assert_string_equal(resp_header(&b.r, "Content-Type"), "text/csv; charset=utf-8");
    expect_csv(pg, sql, &want);
    assert_same_bytes(&b.data, &want);
    assert_true(strncmp(b.data.data, "id,t,n,b,", 9) == 0);
    assert_non_null(strstr(b.data.data, ",\"odd, name\"\n"));
    buf_dispose(&b.data);
    buf_reset(&want);

    /* the single-column case, where COPY quotes \. */
    expect_csv(pg, "SELECT t FROM export_t ORDER BY id", &want);
    assert_non_null(strstr(want.data, "\"\\.\""));
    buf_t mine;
    buf_init(&mine);
    rest_csv_field(&mine, "\\.", 2, true);
    assert_string_equal(mine.data, "\"\\.\"");
    buf_dispose(&mine);
    buf_dispose(&want);

    /* export_s takes the path encoded here, export_t (arrays) the server's row_to_json() */
    rest_ej_plan_t plan;
    PGresult *d = PQexec(pg, "SELECT * FROM export_s LIMIT 0");
    assert_true(rest_ej_plan_init(&plan, d));
    rest_ej_plan_free(&plan);
    PQclear(d);
    d = PQexec(pg, "SELECT * FROM export_t LIMIT 0");
    assert_false(rest_ej_plan_init(&plan, d));
    PQclear(d);
    expect_plan_from_columns(pg);
    assert_true(rest_ej_is_number("-0.5e+10", 8));
    assert_false(rest_ej_is_number("01", 2));
    assert_false(rest_ej_is_number("NaN", 3));
    assert_false(rest_ej_is_number("1.", 2));
    /* the types encoded here, compared with the server's row_to_json() and COPY */
    const char *simple = "SELECT * FROM export_s ORDER BY id";
    fetch(&c, "GET", "/export/simple", "application/x-ndjson", &b);
    assert_true(b.complete);
    buf_init(&want);
    expect_ndjson(pg, simple, &want);
    assert_same_bytes(&b.data, &want);
    assert_non_null(strstr(b.data.data, "\\u0001"));
    assert_non_null(strstr(b.data.data, "\"k\" : [1, 2]"));
    buf_dispose(&b.data);
    buf_reset(&want);
    fetch(&c, "GET", "/export/simple", "text/csv", &b);
    assert_true(b.complete);
    expect_csv(pg, simple, &want);
    assert_same_bytes(&b.data, &want);
    buf_dispose(&b.data);
    buf_dispose(&want);

    /* HEAD: the head of a GET, no body, the connection goes on */
    fetch(&c, "HEAD", "/export/types", "text/csv", &b);
    assert_int_equal(b.r.status, 200);
    assert_string_equal(resp_header(&b.r, "Transfer-Encoding"), "chunked");
    get_ok(&c, "/hello", "{\"hello\":\"world\"}");
    client_close(&c);
    PQfinish(pg);
    stop_export(f);
}

static void test_many_rows_and_errors(void **state)
{
    (void)state;
    fixture_t *f = start_export();
    PGconn *pg = sync_conn();
    client_t c;
    client_open(&c, f->port);
    body_t b;
    buf_t want;
    buf_init(&want);
    fetch(&c, "GET", "/export/series?n=50000", "text/csv", &b);
    assert_true(b.complete);
    expect_csv(pg, "SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 50000) g", &want);
    assert_same_bytes(&b.data, &want);
    buf_dispose(&b.data);
    buf_reset(&want);
    fetch(&c, "GET", "/export/series?n=50000", "application/x-ndjson", &b);
    assert_true(b.complete);
    expect_ndjson(pg, "SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 50000) g", &want);
    assert_same_bytes(&b.data, &want);
    buf_dispose(&b.data);
    buf_dispose(&want);

    /* an error before the first byte: a real status and a PostgREST-shaped body */
    fetch(&c, "GET", "/export/bad", "application/x-ndjson", &b);
    assert_int_equal(b.r.status, 400);
    assert_string_equal(b.data.data, "{\"code\":\"22012\",\"message\":\"invalid input for the "
                                     "query\",\"details\":null,\"hint\":null}");
    buf_dispose(&b.data);
    /* an error after rows went out: the body is cut off, the connection closed */
    fetch(&c, "GET", "/export/late_error", "application/x-ndjson", &b);
    assert_int_equal(b.r.status, 200);
    assert_false(b.complete);
    assert_true(b.data.len > 0);
    buf_dispose(&b.data);
    client_close(&c);
    int waited = 0;
    do {
        usleep(20 * 1000);
        run_on_loop(f, read_pool);
    } while ((pool_st.leased || pool_st.busy) && ++waited < 250);
    assert_int_equal(pool_st.leased, 0);
    PQfinish(pg);
    stop_export(f);
}

static void test_disconnect_cancels(void **state)
{
    (void)state;
    fixture_t *f = start_export();
    PGconn *pg = sync_conn();
    client_t c;
    client_open(&c, f->port);
    client_sends(&c, "GET /export/big HTTP/1.1\r\nAccept: text/csv\r\n\r\n");
    /* A receive timeout (5 s) is retried twice: on a loaded machine the first FETCH of a
     * freshly started cluster can be slow; EOF or a third timeout still fails. */
    int timeouts = 0;
    while (c.len < 300000) {
        ssize_t n = client_fill(&c);
        if (n == 0 || (n < 0 && ++timeouts > 2)) fail_msg("got %zu: %.300s", c.len, c.buf);
    }
    run_on_loop(f, read_pool);
    assert_int_equal(pool_st.leased, 1);
    client_close(&c);
    int waited = 0;
    do {
        usleep(20 * 1000);
        run_on_loop(f, read_pool);
    } while ((pool_st.leased || pool_st.busy || f->inflight) && ++waited < 250);
    assert_int_equal(pool_st.leased, 0);
    assert_int_equal(pool_st.busy, 0);
    assert_int_equal(f->inflight, 0);
    PGresult *r = PQexec(pg, "SELECT count(*) FROM pg_stat_activity WHERE pid <> "
                             "pg_backend_pid() AND query LIKE '%generate_series(0, 49999)%' AND "
                             "state <> 'idle'");
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    /* the pool serves the next export at once */
    client_open(&c, f->port);
    body_t b;
    fetch(&c, "GET", "/export/series?n=3", "application/x-ndjson", &b);
    assert_true(b.complete);
    assert_string_equal(b.data.data, "{\"g\":1,\"pad\":\"" /* 100 x */
                                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n"
                                     "{\"g\":2,\"pad\":\""
                                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n"
                                     "{\"g\":3,\"pad\":\""
                                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n");
    buf_dispose(&b.data);
    client_close(&c);
    PQfinish(pg);
    stop_export(f);
}

static void test_accept_parsing(void **state)
{
    (void)state;
    assert_int_equal(rest_export_format_from_accept("application/x-ndjson"), REST_EXPORT_NDJSON);
    assert_int_equal(rest_export_format_from_accept("TEXT/CSV;q=0.9, application/json"),
                     REST_EXPORT_CSV);
    assert_int_equal(rest_export_format_from_accept("application/json, text/csv"), 0);
    assert_int_equal(rest_export_format_from_accept("*/*"), 0);
    assert_int_equal(rest_export_format_from_accept(""), 0);
    assert_int_equal(rest_export_format_from_accept(NULL), 0);
    assert_int_equal(rest_export_format_from_accept(" , text/csv"), REST_EXPORT_CSV);
    buf_t b;
    buf_init(&b);
    rest_csv_field(&b, "a\"b", 3, false);
    buf_append_char(&b, ',');
    rest_csv_field(&b, NULL, 0, false);
    buf_append_char(&b, ',');
    rest_csv_field(&b, "", 0, false);
    buf_append_char(&b, ',');
    rest_csv_field(&b, " x ", 3, false);
    assert_string_equal(b.data, "\"a\"\"b\",,\"\", x ");
    buf_reset(&b);
    rest_ndjson_line(&b, "{\"a\":\r\n1}", 9);
    assert_string_equal(b.data, "{\"a\":  1}\n");
    buf_dispose(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_parsing),
        cmocka_unit_test(test_types_byte_exact),
        cmocka_unit_test(test_many_rows_and_errors),
        cmocka_unit_test(test_disconnect_cancels),
    };
    return cmocka_run_group_tests(tests, export_setup, group_teardown);
}
