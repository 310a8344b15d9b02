/*
 * lakehouse/read - GET /lakehouse/v1/{table}: the Data API's read grammar
 * over a Unity Catalog table, translated to Databricks SQL.
 *
 * The query string is parsed by rest/grammar (the one parser of PostgREST's
 * grammar); this file only translates its AST, against the table's columns
 * as information_schema reported them:
 *   select=a,b,alias:c     the columns (aliases rename the JSON keys only; no
 *                          request text ever becomes an identifier)
 *   col=op.value           eq neq gt gte lt lte like ilike in is isdistinct,
 *                          not., or=(...), and=(...) - every value a named
 *                          parameter typed by its column (a malformed number
 *                          is 400 before anything is sent)
 *   order=a.desc.nullslast, limit, offset (JSON at most LH_MAX_ROWS rows)
 *   Prefer: count=exact    a second statement, SELECT count(*) with the same
 *                          filters; Content-Range: 0-24/N, 206 when partial
 *   Accept: text/csv       the whole result through EXTERNAL_LINKS in CSV,
 *                          streamed on as it arrives (export.c)
 *   Accept: application/x-ndjson   one JSON object per line (bounded like JSON)
 * Embedding, JSON paths, casts and the full-text/range operators have no
 * meaning on the warehouse here: 400 with PostgREST's error body.
 *
 * Reads go through the result cache (the table is the invalidation key), so
 * identical requests share one statement and repeated ones are hits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lakehouse/read.h"
#include "lakehouse/export.h"
#include "lakehouse/respond.h"
#include "lakehouse/tables.h"
#include "rest/export.h"
#include "rest/grammar.h"

#define LH_MAX_ROWS   10000
#define LH_MAX_PARAMS 512

typedef struct lh_rd {
    http_exchange_t *ex;
    lakehouse_t *lh;
    char cat[129], sch[129], tab[129];
    bool retried;
    /* the translation */
    buf_t sql, where, count_sql;
    lh_param_t params[LH_MAX_PARAMS];
    int nparams, nwhere; /* nwhere: the parameters the count statement needs */
    const char **labels; /* JSON keys, per selected column */
    int nlabels;
    char *tkey; /* the invalidation key (arena) */
    long limit, offset;
    rest_prefer_t prefer;
    rest_export_format_t fmt;
    /* answers */
    int pending;
    bool failed;
    int64_t count;
    const char *hit;
} lh_rd_t;

static void lh_rest_error(http_exchange_t *ex, int status, const char *code, const char *message,
                          const char *details, const char *hint)
{
    json_writer_t w;
    web_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, "code", code);
    jw_kv_string(&w, "message", message);
    jw_key(&w, "details");
    details ? jw_cstring(&w, details) : jw_null(&w);
    jw_key(&w, "hint");
    hint ? jw_cstring(&w, hint) : jw_null(&w);
    jw_object_end(&w);
    web_send_json(ex, status);
}

static int lh_bad(lh_rd_t *rd, const char *message, const char *details)
{
    lh_rest_error(rd->ex, 400, "PGRST100", message, details, NULL);
    return -1;
}

/* ---- translation ---- */

static const char *lh_param_type(lh_type_t t)
{
    switch (t) {
    case LH_T_INT:
        return "BIGINT";
    case LH_T_FLOAT:
        return "DOUBLE";
    case LH_T_BOOL:
        return "BOOLEAN";
    default:
        return "STRING";
    }
}

/* Checks v against its column's type where the warehouse would fail the statement. */
static bool lh_value_ok(lh_type_t t, const char *v)
{
    char *end;
    if (t == LH_T_INT) {
        (void)strtoll(v, &end, 10);
        return *v && *end == '\0';
    }
    if (t == LH_T_FLOAT || t == LH_T_DECIMAL) {
        (void)strtod(v, &end);
        return *v && *end == '\0';
    }
    if (t == LH_T_BOOL) return strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
    return true;
}

static const lh_tcol_t *lh_field_col(lh_rd_t *rd, const lh_table_t *t, const rest_field_t *f)
{
    if (f->npath > 0) {
        lh_bad(rd, "JSON paths are not supported on Lakehouse tables", f->name);
        return NULL;
    }
    const lh_tcol_t *c = lh_table_column(t, f->name);
    if (!c) {
        char *msg = arena_sprintf(http_exchange_arena(rd->ex), "column %s.%s does not exist",
                                  t->name, f->name);
        lh_rest_error(rd->ex, 400, "42703", msg, NULL, NULL);
    }
    return c;
}

/* Adds a named parameter for column c; returns its name, NULL after answering. */
static const char *lh_bind(lh_rd_t *rd, const lh_tcol_t *c, const char *value)
{
    if (rd->nparams == LH_MAX_PARAMS) {
        lh_bad(rd, "too many values in the filters", NULL);
        return NULL;
    }
    if (c && value && !lh_value_ok(c->type, value)) {
        char *msg = arena_sprintf(http_exchange_arena(rd->ex),
                                  "invalid input syntax for type %s: \"%s\"", c->data_type, value);
        lh_rest_error(rd->ex, 400, "22P02", msg, NULL, NULL);
        return NULL;
    }
    char *name = arena_sprintf(http_exchange_arena(rd->ex), "p%d", rd->nparams);
    rd->params[rd->nparams++] = (lh_param_t){name, value, c ? lh_param_type(c->type) : "STRING"};
    return name;
}

static int lh_cond(lh_rd_t *rd, const lh_table_t *t, const rest_cond_t *k, buf_t *out);

static int lh_leaf(lh_rd_t *rd, const lh_table_t *t, const rest_cond_t *k, buf_t *out)
{
    static const char *const cmp[] = {[REST_OP_EQ] = " = ",
                                      [REST_OP_NEQ] = " <> ",
                                      [REST_OP_GT] = " > ",
                                      [REST_OP_GTE] = " >= ",
                                      [REST_OP_LT] = " < ",
                                      [REST_OP_LTE] = " <= ",
                                      [REST_OP_LIKE] = " LIKE ",
                                      [REST_OP_ILIKE] = " ILIKE ",
                                      [REST_OP_ISDISTINCT] = " IS DISTINCT FROM "};
    const lh_tcol_t *c = lh_field_col(rd, t, &k->field);
    if (!c) return -1;
    if (k->mod != REST_MOD_NONE)
        return lh_bad(rd, "any/all modifiers are not supported here", NULL);
    lh_quote_ident(out, c->name);
    if (k->op == REST_OP_IS) {
        static const char *const is[] = {" IS NULL", " IS NOT NULL", " IS TRUE", " IS FALSE",
                                         " IS NULL"};
        buf_append_str(out, is[k->is]);
        return 0;
    }
    if (k->op == REST_OP_IN) {
        if (k->nvalues == 0) { /* PostgREST: in.() matches nothing */
            buf_append_str(out, " IS NULL AND FALSE");
            return 0;
        }
        buf_append_str(out, " IN (");
        for (int i = 0; i < k->nvalues; i++) {
            const char *p = lh_bind(rd, c, k->values[i]);
            if (!p) return -1;
            buf_printf(out, "%s:%s", i ? ", " : "", p);
        }
        buf_append_char(out, ')');
        return 0;
    }
    if ((size_t)k->op >= sizeof cmp / sizeof cmp[0] || !cmp[k->op]) {
        char *msg =
            arena_sprintf(http_exchange_arena(rd->ex),
                          "operator %s is not supported on Lakehouse tables", rest_op_name(k->op));
        return lh_bad(rd, msg, NULL);
    }
    bool like = k->op == REST_OP_LIKE || k->op == REST_OP_ILIKE;
    const char *p = lh_bind(rd, like ? NULL : c, k->value);
    if (!p) return -1;
    buf_append_str(out, cmp[k->op]);
    buf_printf(out, ":%s", p);
    return 0;
}

static int lh_cond(lh_rd_t *rd, const lh_table_t *t, const rest_cond_t *k, buf_t *out)
{
    if (k->negate) buf_append_str(out, "NOT ");
    if (k->kind == REST_COND_LEAF) {
        buf_append_char(out, '(');
        int rc = lh_leaf(rd, t, k, out);
        buf_append_char(out, ')');
        return rc;
    }
    buf_append_char(out, '(');
    if (k->nkids == 0) buf_append_str(out, k->kind == REST_COND_AND ? "TRUE" : "FALSE");
    for (int i = 0; i < k->nkids; i++) {
        if (i) buf_append_str(out, k->kind == REST_COND_AND ? " AND " : " OR ");
        if (lh_cond(rd, t, k->kids[i], out) != 0) return -1;
    }
    buf_append_char(out, ')');
    return 0;
}

static int lh_select(lh_rd_t *rd, const lh_table_t *t, const rest_select_t *sel)
{
    arena_t *a = http_exchange_arena(rd->ex);
    bool star = !sel || sel->nitems == 0;
    int n = star ? t->ncols : 0;
    for (int i = 0; !star && i < sel->nitems; i++)
        n += sel->items[i].kind == REST_SEL_STAR ? t->ncols : 1;
    rd->labels = arena_calloc(a, sizeof(char *) * (size_t)(n + 1));
    buf_append_str(&rd->sql, "SELECT ");
    for (int i = 0; i < (star ? 1 : sel->nitems); i++) {
        const rest_sel_item_t *it = star ? NULL : &sel->items[i];
        if (it && it->kind == REST_SEL_EMBED)
            return lh_bad(rd, "embedding is not supported on Lakehouse tables", it->rel);
        if (it && it->cast) return lh_bad(rd, "casts are not supported on Lakehouse tables", NULL);
        if (!it || it->kind == REST_SEL_STAR) {
            for (int c = 0; c < t->ncols; c++) {
                if (rd->nlabels) buf_append_str(&rd->sql, ", ");
                lh_quote_ident(&rd->sql, t->cols[c].name);
                rd->labels[rd->nlabels++] = arena_strdup(a, t->cols[c].name);
            }
            continue;
        }
        const lh_tcol_t *c = lh_field_col(rd, t, &it->field);
        if (!c) return -1;
        if (rd->nlabels) buf_append_str(&rd->sql, ", ");
        lh_quote_ident(&rd->sql, c->name);
        rd->labels[rd->nlabels++] = it->alias ? it->alias : arena_strdup(a, c->name);
    }
    return 0;
}

static int lh_order(lh_rd_t *rd, const lh_table_t *t, const rest_scope_t *root)
{
    for (int i = 0; i < root->norder; i++) {
        const lh_tcol_t *c = lh_field_col(rd, t, &root->order[i].field);
        if (!c) return -1;
        buf_append_str(&rd->sql, i ? ", " : " ORDER BY ");
        lh_quote_ident(&rd->sql, c->name);
        buf_append_str(&rd->sql, root->order[i].desc ? " DESC" : " ASC");
        if (root->order[i].nulls)
            buf_append_str(&rd->sql, root->order[i].nulls == 1 ? " NULLS FIRST" : " NULLS LAST");
    }
    return 0;
}

/* The statement(s) for the request; -1 after answering a bad request. */
static int lh_translate(lh_rd_t *rd, const lh_table_t *t)
{
    arena_t *a = http_exchange_arena(rd->ex);
    const char *raw = http_exchange_raw_query(rd->ex);
    rest_limits_t lim;
    rest_limits_default(&lim);
    rest_query_t q;
    rest_error_t err = {0};
    if (rest_parse_query(a, raw, strlen(raw), &lim, &q, &err) != 0) {
        lh_rest_error(rd->ex, err.status, err.code, err.message, err.details, err.hint);
        return -1;
    }
    if (q.nscopes > 1) return lh_bad(rd, "embedding is not supported on Lakehouse tables", NULL);
    const rest_scope_t *root = &q.scopes[0];
    if (lh_select(rd, t, q.select) != 0) return -1;
    buf_append_str(&rd->sql, " FROM ");
    buf_append_str(&rd->sql, t->qualified);
    if (root->where && root->where->nkids > 0) {
        buf_append_str(&rd->where, " WHERE ");
        if (lh_cond(rd, t, root->where, &rd->where) != 0) return -1;
    }
    rd->nwhere = rd->nparams;
    buf_append(&rd->sql, rd->where.data ? rd->where.data : "", rd->where.len);
    if (lh_order(rd, t, root) != 0) return -1;
    rd->offset = root->offset > 0 ? root->offset : 0;
    rd->limit = root->limit;
    if (rd->fmt != REST_EXPORT_CSV && (rd->limit < 0 || rd->limit > LH_MAX_ROWS))
        rd->limit = LH_MAX_ROWS;
    if (rd->limit >= 0) {
        const char *p = lh_bind(rd, NULL, arena_sprintf(a, "%ld", rd->limit));
        rd->params[rd->nparams - 1].type = "INT";
        buf_printf(&rd->sql, " LIMIT :%s", p);
    }
    if (rd->offset > 0) {
        if (rd->limit < 0) buf_append_str(&rd->sql, " LIMIT 2147483647");
        const char *p = lh_bind(rd, NULL, arena_sprintf(a, "%ld", rd->offset));
        rd->params[rd->nparams - 1].type = "INT";
        buf_printf(&rd->sql, " OFFSET :%s", p);
    }
    buf_append(&rd->sql, "", 1);
    buf_append_str(&rd->count_sql, "SELECT count(*) AS count FROM ");
    buf_append_str(&rd->count_sql, t->qualified);
    buf_append(&rd->count_sql, rd->where.data ? rd->where.data : "", rd->where.len);
    buf_append(&rd->count_sql, "", 1);
    rd->tkey = arena_strdup(a, t->key);
    return 0;
}

/* ---- answers ---- */

static void lh_rd_dispose(lh_rd_t *rd)
{
    buf_dispose(&rd->sql);
    buf_dispose(&rd->where);
    buf_dispose(&rd->count_sql);
}

static bool lh_rd_wanted(void *data)
{
    lh_rd_t *rd = data;
    return !http_exchange_client_gone(rd->ex);
}

static void lh_encode_labeled(json_writer_t *w, const lh_rd_t *rd, const lh_result_t *r, size_t i)
{
    jw_object_begin(w);
    for (int c = 0; c < r->ncols && c < rd->nlabels; c++) {
        size_t len;
        const char *v = lh_result_value(r, i, c, &len);
        jw_key(w, rd->labels[c]);
        lh_encode_value(w, r->cols[c].type, v, len);
    }
    jw_object_end(w);
}

static void lh_rd_send(lh_rd_t *rd, const lh_result_t *r)
{
    http_exchange_t *ex = rd->ex;
    int status = 200;
    if (rd->hit) http_exchange_add_header(ex, "X-Lakeapi-Cache", rd->hit);
    long first = rd->offset, last = rd->offset + (long)r->nrows - 1;
    char range[80];
    if (r->nrows == 0)
        snprintf(range, sizeof range, "*/%s", rd->prefer.count == REST_COUNT_EXACT ? "" : "*");
    else
        snprintf(range, sizeof range, "%ld-%ld/", first, last);
    if (rd->prefer.count == REST_COUNT_EXACT) {
        size_t k = strlen(range);
        snprintf(range + k, sizeof range - k, "%lld", (long long)rd->count);
        if ((int64_t)r->nrows < rd->count && r->nrows > 0) status = 206;
    } else if (r->nrows > 0) {
        strcat(range, "*");
    }
    http_exchange_add_header(ex, "Content-Range", range);
    json_writer_t w;
    web_json_begin(ex, &w);
    if (rd->fmt == REST_EXPORT_NDJSON) {
        buf_t *b = http_exchange_body_buf(ex);
        for (size_t i = 0; i < r->nrows; i++) {
            jw_init(&w, b);
            lh_encode_labeled(&w, rd, r, i);
            buf_append_char(b, '\n');
        }
        lh_rd_dispose(rd);
        http_exchange_send(ex, status, "application/x-ndjson");
        return;
    }
    jw_array_begin(&w);
    for (size_t i = 0; i < r->nrows; i++)
        lh_encode_labeled(&w, rd, r, i);
    jw_array_end(&w);
    lh_rd_dispose(rd);
    web_send_json(ex, status);
}

/* With Prefer: count=exact the count runs first (lh_count_then_rows), then the rows. */
static void lh_count_done(const lh_outcome_t *o, const char *hit, void *data)
{
    lh_rd_t *rd = data;
    (void)hit;
    rd->pending--;
    if (o->status) {
        if (!rd->failed) {
            rd->failed = true;
            lh_rd_dispose(rd);
            lh_send_outcome(rd->ex, o, NULL);
        }
        return;
    }
    const char *v = o->result->nrows ? lh_result_value(o->result, 0, 0, NULL) : NULL;
    rd->count = v ? strtoll(v, NULL, 10) : 0;
}

static void lh_rows_done(const lh_outcome_t *o, const char *hit, void *data)
{
    lh_rd_t *rd = data;
    rd->pending--;
    if (rd->failed) return;
    if (o->status) {
        rd->failed = true;
        lh_rd_dispose(rd);
        lh_send_outcome(rd->ex, o, hit);
        return;
    }
    rd->hit = hit;
    lh_rd_send(rd, o->result);
}

static void lh_rd_run(lh_rd_t *rd)
{
    if (rd->fmt == REST_EXPORT_CSV) {
        lh_export_csv(rd->lh, rd->ex, rd->sql.data, rd->params, rd->nparams);
        lh_rd_dispose(rd);
        return;
    }
    rd->pending = 1;
    lh_cache_read(rd->lh, rd->tkey, rd->sql.data, rd->params, rd->nparams, lh_rows_done,
                  lh_rd_wanted, rd);
}

static void lh_count_then_rows(const lh_outcome_t *o, const char *hit, void *data)
{
    lh_rd_t *rd = data;
    lh_count_done(o, hit, data);
    if (rd->failed) return;
    rd->pending = 1;
    lh_cache_read(rd->lh, rd->tkey, rd->sql.data, rd->params, rd->nparams, lh_rows_done,
                  lh_rd_wanted, rd);
}

static void lh_rd_start(lh_rd_t *rd);

static void lh_rd_catalog_loaded(int status, const char *detail, void *data)
{
    lh_rd_t *rd = data;
    if (status) {
        lh_send_error(rd->ex, status, detail, status == 503 ? 5 : 0, NULL);
        return;
    }
    lh_rd_start(rd);
}

static void lh_rd_start(lh_rd_t *rd)
{
    lakehouse_t *lh = rd->lh;
    if (!lh_tables_loaded(lh->tables, rd->cat) && !rd->retried) {
        rd->retried = true;
        lh_tables_load(lh->tables, rd->cat, lh_rd_catalog_loaded, rd);
        return;
    }
    const lh_table_t *t = lh_tables_find(lh->tables, rd->cat, rd->sch, rd->tab);
    if (!t) {
        char *msg = arena_sprintf(http_exchange_arena(rd->ex),
                                  "Could not find the table '%s.%s.%s' in the schema cache",
                                  rd->cat, rd->sch, rd->tab);
        lh_rest_error(rd->ex, 404, "PGRST205", msg, NULL, NULL);
        return;
    }
    buf_init(&rd->sql);
    buf_init(&rd->where);
    buf_init(&rd->count_sql);
    if (lh_translate(rd, t) != 0) {
        lh_rd_dispose(rd);
        return;
    }
    if (rd->prefer.count == REST_COUNT_EXACT && rd->fmt != REST_EXPORT_CSV) {
        rd->pending = 1;
        lh_cache_read(lh, rd->tkey, rd->count_sql.data, rd->params, rd->nwhere, lh_count_then_rows,
                      lh_rd_wanted, rd);
        return;
    }
    lh_rd_run(rd);
}

/* "name", "schema.name" or "catalog.schema.name" into rd; false when malformed. */
static bool lh_split_name(lh_rd_t *rd, const char *s)
{
    char parts[3][129];
    int n = 0;
    const char *p = s;
    while (n < 3) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || len > 128) return false;
        memcpy(parts[n], p, len);
        parts[n][len] = '\0';
        if (!lh_valid_name(parts[n])) return false;
        n++;
        if (!dot) break;
        p = dot + 1;
    }
    if (n == 3 && strchr(p, '.')) return false;
    const lakehouse_t *lh = rd->lh;
    snprintf(rd->cat, sizeof rd->cat, "%s", n == 3 ? parts[0] : lh->catalog);
    snprintf(rd->sch, sizeof rd->sch, "%s", n == 3 ? parts[1] : n == 2 ? parts[0] : lh->schema);
    snprintf(rd->tab, sizeof rd->tab, "%s", parts[n - 1]);
    return true;
}

static void lh_read_handler(http_exchange_t *ex, void *data)
{
    lh_rd_t *rd = arena_calloc(http_exchange_arena(ex), sizeof *rd);
    rd->ex = ex;
    rd->lh = data;
    const char *name = http_exchange_param(ex, 0);
    if (!name || !lh_split_name(rd, name)) {
        lh_rest_error(ex, 404, "PGRST205", "Could not find the table in the schema cache",
                      "a table is name, schema.name or catalog.schema.name", NULL);
        return;
    }
    rest_error_t err = {0};
    if (rest_parse_prefer(http_exchange_arena(ex), http_exchange_header(ex, "Prefer", NULL),
                          &rd->prefer, &err) != 0) {
        lh_rest_error(ex, err.status, err.code, err.message, err.details, err.hint);
        return;
    }
    rd->fmt = rest_export_format_from_accept(http_exchange_header(ex, "Accept", NULL));
    lh_rd_start(rd);
}

static const web_response_doc_t lh_resp_read[] = {
    {200, NULL, "The rows (JSON array; NDJSON or CSV by Accept), Content-Range"},
    {206, NULL, "Part of the rows, with Prefer: count=exact"},
    {400, NULL, "The query cannot be translated (PostgREST error body)"},
    {404, NULL, "No such table in information_schema"},
    {502, "HTTPError", "The warehouse refused the statement"},
    {503, "HTTPError", "The warehouse is not RUNNING or unreachable (with Retry-After)"},
    {504, "HTTPError", "DB_COMMAND_TIMEOUT passed"},
    {0}};

static const web_route_t lh_read_routes[] = {
    {HTTP_GET | HTTP_HEAD,
     "/lakehouse/v1/{table}",
     lh_read_handler,
     {"lakehouse_read", "Read a Lakehouse table in the Data API's grammar", "lakehouse", NULL, NULL,
      lh_resp_read}},
};

int lh_read_register(lakehouse_t *lh, router_t *r)
{
    return web_add_routes(r, lh_read_routes, 1, lh);
}
