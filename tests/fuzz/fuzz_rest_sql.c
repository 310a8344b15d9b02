/*
 * libFuzzer target: the Data API's SQL builder (rest/sql) over a fixed
 * snapshot. The input is a query string; whatever parses is built as a read,
 * a count, an export select and every kind of write. Building must never
 * crash or read out of bounds, and no SQL text may carry a quote character
 * that came from the request (the builder quotes only catalog names, and
 * this snapshot's names have none): request text lives in the parameters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rest/sql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fz_catalog =
    "{\"tables\":["
    "{\"s\":\"public\",\"n\":\"customers\",\"k\":\"r\",\"pk\":[\"id\"],\"c\":["
    "{\"n\":\"id\",\"t\":\"bigint\",\"y\":\"int8\",\"g\":\"N\",\"a\":false,\"nl\":false},"
    "{\"n\":\"name\",\"t\":\"text\",\"y\":\"text\",\"g\":\"S\",\"a\":false,\"nl\":false},"
    "{\"n\":\"tags\",\"t\":\"text[]\",\"y\":\"text\",\"g\":\"S\",\"a\":true,\"nl\":true},"
    "{\"n\":\"doc\",\"t\":\"jsonb\",\"y\":\"jsonb\",\"g\":\"U\",\"a\":false,\"nl\":true}]},"
    "{\"s\":\"public\",\"n\":\"orders\",\"k\":\"r\",\"pk\":[\"id\"],\"c\":["
    "{\"n\":\"id\",\"t\":\"bigint\",\"y\":\"int8\",\"g\":\"N\",\"a\":false,\"nl\":false},"
    "{\"n\":\"buyer\",\"t\":\"bigint\",\"y\":\"int8\",\"g\":\"N\",\"a\":false,\"nl\":true},"
    "{\"n\":\"seller\",\"t\":\"bigint\",\"y\":\"int8\",\"g\":\"N\",\"a\":false,\"nl\":true}]}],"
    "\"fks\":["
    "{\"n\":\"orders_buyer_fk\",\"fs\":\"public\",\"ft\":\"orders\",\"ts\":\"public\",\"tt\":"
    "\"customers\",\"fc\":[\"buyer\"],\"tc\":[\"id\"]},"
    "{\"n\":\"orders_seller_fk\",\"fs\":\"public\",\"ft\":\"orders\",\"ts\":\"public\",\"tt\":"
    "\"customers\",\"fc\":[\"seller\"],\"tc\":[\"id\"]}]}";

static rest_snapshot_t *fz_snap;

/* The templates' own literals ('[]', ':', '') are the only quotes allowed in the text. */
static void fz_check(const char *sql)
{
    for (const char *p = strchr(sql, '\''); p; p = strchr(p + 1, '\'')) {
        if (!strncmp(p, "'[]'", 4) || !strncmp(p, "':'", 3) || !strncmp(p, "''", 2)) {
            p += strncmp(p, "'[]'", 4) ? (p[1] == '\'' ? 1 : 2) : 3;
            continue;
        }
        abort();
    }
}

static void fz_build(arena_t *a, const rest_table_t *t, const rest_query_t *q)
{
    rest_error_t err;
    rest_read_opts_t ro = {.limit = 100, .offset = 3, .max_rows = 1000, .with_total = true};
    rest_sql_t s;
    rest_sql_init(&s, a);
    if (rest_sql_read(&s, fz_snap, t, q, &ro, &err) == 0)
        fz_check(rest_sql_finish(&s));
    else
        rest_sql_finish(&s);
    rest_sql_init(&s, a);
    if (rest_sql_rows(&s, fz_snap, t, q, &ro, &err) == 0)
        fz_check(rest_sql_finish(&s));
    else
        rest_sql_finish(&s);
    rest_sql_init(&s, a);
    if (rest_sql_count_planned(&s, fz_snap, t, q, &err) == 0)
        fz_check(rest_sql_finish(&s));
    else
        rest_sql_finish(&s);
    static const char *cols[] = {"name", "doc"};
    for (int k = REST_W_INSERT; k <= REST_W_DELETE; k++) {
        rest_write_opts_t wo = {.kind = (rest_write_kind_t)k,
                                .body = "[]",
                                .columns = cols,
                                .ncolumns = 2,
                                .resolution = REST_RES_MERGE,
                                .want_rows = true,
                                .max_affected = 5,
                                .rollback = k == REST_W_DELETE,
                                .on_conflict = q->on_conflict,
                                .non_conflict = q->non_conflict};
        rest_sql_init(&s, a);
        if (rest_sql_write(&s, fz_snap, t, q, &wo, &err) == 0)
            fz_check(rest_sql_finish(&s));
        else
            rest_sql_finish(&s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_snap) {
        const char *schemas[] = {"public"};
        char err[128];
        fz_snap = rest_snapshot_from_json(fz_catalog, schemas, 1, err, sizeof err);
        if (!fz_snap) abort();
    }
    arena_t *a = arena_new(8192);
    rest_limits_t lim;
    rest_limits_default(&lim);
    rest_query_t q;
    rest_error_t err;
    if (rest_parse_query(a, (const char *)data, size, &lim, &q, &err) == 0) {
        fz_build(a, &fz_snap->tables[0], &q);
        fz_build(a, &fz_snap->tables[1], &q);
    }
    arena_free(a);
    return 0;
}
