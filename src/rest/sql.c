/*
 * rest/sql - the read statement: select lists, embedding, filters, order,
 * limits and counts (see sql.h). Writes are in sql_write.c; the parts both
 * share (fields, conditions, the select object) are here, declared in
 * sql_internal.h.
 */
#include "rest/export_json.h"
#include "rest/sql_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the builder's primitives ---- */

void rest_sql_init(rest_sql_t *s, arena_t *a)
{
    memset(s, 0, sizeof *s);
    s->a = a;
    s->text = arena_calloc(a, sizeof *s->text);
    buf_init(s->text);
}

const char *rest_sql_finish(rest_sql_t *s)
{
    const char *out = arena_strndup(s->a, s->text->data ? s->text->data : "", s->text->len);
    buf_dispose(s->text);
    return out;
}

int rest_sql_param(rest_sql_t *s, const char *value)
{
    if (s->nparams == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        const char **n = arena_alloc(s->a, sizeof *n * (size_t)s->cap);
        if (s->nparams) memcpy(n, s->params, sizeof *n * (size_t)s->nparams);
        s->params = n;
    }
    s->params[s->nparams++] = value;
    return s->nparams;
}

void rest_sql_append_param(rest_sql_t *s, const char *value)
{
    buf_append_char(s->text, '$'); /* printf here cost more than the rest of the clause */
    buf_append_i64(s->text, rest_sql_param(s, value));
}

void rest_sql_ident(buf_t *b, const char *name)
{
    /* Runs between double quotes go in one append: a byte at a time was a
       tenth of a Data API read's instructions. */
    buf_append_char(b, '"');
    for (;;) {
        size_t run = strcspn(name, "\"");
        buf_append(b, name, run);
        if (!name[run]) break;
        buf_append(b, "\"\"", 2);
        name += run + 1;
    }
    buf_append_char(b, '"');
}

void rest_sql_column(rest_sql_t *s, const char *alias, const rest_column_t *c)
{
    buf_append_str(s->text, alias);
    buf_append_char(s->text, '.');
    rest_sql_ident(s->text, c->name);
}

int rest_err_column(rest_error_t *err, arena_t *a, const rest_table_t *t, const char *name)
{
    char *msg = arena_sprintf(a, "Could not find the '%s' column of '%s' in the schema cache", name,
                              t->name);
    const char *near = rest_closest_column(t, name);
    char *hint = near ? arena_sprintf(a, "Perhaps you meant '%s'", near) : NULL;
    return rest_error_set(err, a, 400, "PGRST204", msg, NULL, hint);
}

/* Swaps the builder's output buffer (to write a fragment elsewhere); returns the old one. */
buf_t *sq_redirect(rest_sql_t *s, buf_t *to)
{
    buf_t *old = s->text;
    s->text = to;
    return old;
}

/* ---- fields ---- */

static bool sq_is_json(const rest_column_t *c)
{
    return !c->is_array && (!strcmp(c->typname, "json") || !strcmp(c->typname, "jsonb"));
}

/* alias."col" with its JSON path; in a filter the document is jsonb (comparable). */
int sq_field(rest_sql_t *s, const rest_table_t *t, const char *alias, const rest_field_t *f,
             bool in_filter, const rest_column_t **col, rest_error_t *err)
{
    int i = rest_table_column(t, f->name);
    if (i < 0) return rest_err_column(err, s->a, t, f->name);
    const rest_column_t *c = &t->cols[i];
    if (col) *col = c;
    if (!f->npath) {
        rest_sql_column(s, alias, c);
        return 0;
    }
    bool native = in_filter ? (!c->is_array && !strcmp(c->typname, "jsonb")) : sq_is_json(c);
    buf_append_str(s->text, "(");
    if (!native) buf_append_str(s->text, "to_jsonb(");
    rest_sql_column(s, alias, c);
    if (!native) buf_append_char(s->text, ')');
    for (int k = 0; k < f->npath; k++) {
        buf_append_str(s->text, f->path[k].as_text ? "->>" : "->");
        rest_sql_append_param(s, f->path[k].key);
        buf_append_str(s->text, f->path[k].is_index ? "::int" : "::text");
    }
    buf_append_char(s->text, ')');
    return 0;
}

/* ---- conditions ---- */

/* {"a","b\"c"}: an array literal of the list (every element quoted). */
static const char *sq_array_literal(arena_t *a, const char *const *v, int n)
{
    buf_t b;
    buf_init(&b);
    buf_append_char(&b, '{');
    for (int i = 0; i < n; i++) {
        if (i) buf_append_char(&b, ',');
        buf_append_char(&b, '"');
        for (const char *c = v[i]; *c; c++) {
            if (*c == '"' || *c == '\\') buf_append_char(&b, '\\');
            buf_append_char(&b, *c);
        }
        buf_append_char(&b, '"');
    }
    buf_append_char(&b, '}');
    const char *out = arena_strndup(a, b.data, b.len);
    buf_dispose(&b);
    return out;
}

static const char *sq_binop(rest_op_t op)
{
    switch (op) {
    case REST_OP_EQ:
        return " = ";
    case REST_OP_NEQ:
        return " <> ";
    case REST_OP_GT:
        return " > ";
    case REST_OP_GTE:
        return " >= ";
    case REST_OP_LT:
        return " < ";
    case REST_OP_LTE:
        return " <= ";
    case REST_OP_LIKE:
        return " LIKE ";
    case REST_OP_ILIKE:
        return " ILIKE ";
    case REST_OP_MATCH:
        return " ~ ";
    case REST_OP_IMATCH:
        return " ~* ";
    case REST_OP_ISDISTINCT:
        return " IS DISTINCT FROM ";
    case REST_OP_CS:
        return " @> ";
    case REST_OP_CD:
        return " <@ ";
    case REST_OP_OV:
        return " && ";
    case REST_OP_SL:
        return " << ";
    case REST_OP_SR:
        return " >> ";
    case REST_OP_NXR:
        return " &< ";
    case REST_OP_NXL:
        return " &> ";
    case REST_OP_ADJ:
        return " -|- ";
    default:
        return NULL;
    }
}

static const char *sq_is_sql(rest_is_t is)
{
    switch (is) {
    case REST_IS_NULL:
        return " IS NULL";
    case REST_IS_NOT_NULL:
        return " IS NOT NULL";
    case REST_IS_TRUE:
        return " IS TRUE";
    case REST_IS_FALSE:
        return " IS FALSE";
    default:
        return " IS UNKNOWN";
    }
}

static int sq_fts(rest_sql_t *s, const rest_table_t *t, const char *alias, const rest_cond_t *c,
                  rest_error_t *err)
{
    static const char *fn[] = {"to_tsquery", "plainto_tsquery", "phraseto_tsquery",
                               "websearch_to_tsquery"};
    buf_t frag;
    buf_init(&frag);
    buf_t *out = sq_redirect(s, &frag);
    const rest_column_t *col;
    int rc = sq_field(s, t, alias, &c->field, true, &col, err);
    sq_redirect(s, out);
    if (rc == 0) {
        bool tsv = !c->field.npath && !strcmp(col->typname, "tsvector");
        if (!tsv) {
            buf_append_str(out, "to_tsvector(");
            if (c->lang) {
                rest_sql_append_param(s, c->lang);
                buf_append_str(out, "::regconfig, ");
            }
        }
        buf_append(out, frag.data, frag.len);
        buf_printf(out, "%s @@ %s(", tsv ? "" : ")", fn[c->op - REST_OP_FTS]);
        if (c->lang) {
            rest_sql_append_param(s, c->lang);
            buf_append_str(out, "::regconfig, ");
        }
        rest_sql_append_param(s, c->value);
        buf_append_char(out, ')');
    }
    buf_dispose(&frag);
    return rc;
}

static bool sq_is_pattern(rest_op_t op)
{
    return op == REST_OP_LIKE || op == REST_OP_ILIKE || op == REST_OP_MATCH || op == REST_OP_IMATCH;
}

static int sq_leaf(rest_sql_t *s, const rest_table_t *t, const char *alias, const rest_cond_t *c,
                   rest_error_t *err)
{
    if (c->op >= REST_OP_FTS) return sq_fts(s, t, alias, c, err);
    const rest_column_t *col;
    bool text_path = c->field.npath && c->field.path[c->field.npath - 1].as_text;
    bool cast_text = sq_is_pattern(c->op) && !text_path;
    if (cast_text) buf_append_char(s->text, '(');
    if (sq_field(s, t, alias, &c->field, true, &col, err)) return -1;
    if (cast_text) {
        if (col->category == 'S' && !col->is_array && !c->field.npath)
            buf_append_char(s->text, ')');
        else
            buf_append_str(s->text, ")::text");
    }
    bool jsonb_value = c->field.npath && !text_path;
    if (c->op == REST_OP_IS) {
        buf_append_str(s->text, sq_is_sql(c->is));
    } else if (c->op == REST_OP_IN) {
        if (c->nvalues == 0) {
            buf_append_str(s->text, " IS NULL AND false");
            return 0;
        }
        buf_append_str(s->text, " = ANY(");
        rest_sql_append_param(s, sq_array_literal(s->a, c->values, c->nvalues));
        buf_append_str(s->text, jsonb_value ? "::jsonb[])" : ")");
    } else {
        buf_append_str(s->text, sq_binop(c->op));
        if (c->mod != REST_MOD_NONE)
            buf_append_str(s->text, c->mod == REST_MOD_ANY ? "ANY(" : "ALL(");
        rest_sql_append_param(s, c->value);
        if (jsonb_value) buf_append_str(s->text, c->mod != REST_MOD_NONE ? "::jsonb[]" : "::jsonb");
        if (c->mod != REST_MOD_NONE) buf_append_char(s->text, ')');
    }
    return 0;
}

int sq_cond(rest_sql_t *s, const rest_table_t *t, const char *alias, const rest_cond_t *c,
            rest_error_t *err)
{
    if (c->negate) buf_append_str(s->text, "NOT ");
    buf_append_char(s->text, '(');
    int rc = 0;
    if (c->kind == REST_COND_LEAF) {
        rc = sq_leaf(s, t, alias, c, err);
    } else if (c->nkids == 0) {
        buf_append_str(s->text, "true");
    } else {
        for (int i = 0; i < c->nkids && rc == 0; i++) {
            if (i) buf_append_str(s->text, c->kind == REST_COND_AND ? " AND " : " OR ");
            rc = sq_cond(s, t, alias, c->kids[i], err);
        }
    }
    buf_append_char(s->text, ')');
    return rc;
}

/* ` FROM "schema"."table" _t0 WHERE ` (appended, not printed: this is every read's path). */
static void sq_from(rest_sql_t *s, const rest_table_t *t)
{
    buf_append_str(s->text, " FROM ");
    buf_append_str(s->text, t->qname);
    buf_append_str(s->text, " _t0 WHERE ");
}

/* ---- order and limits ---- */

int sq_order(rest_sql_t *s, const rest_table_t *t, const char *alias, const rest_scope_t *sc,
             rest_error_t *err)
{
    if (!sc || !sc->norder) return 0;
    buf_append_str(s->text, " ORDER BY ");
    for (int i = 0; i < sc->norder; i++) {
        const rest_order_t *o = &sc->order[i];
        if (i) buf_append_str(s->text, ", ");
        if (sq_field(s, t, alias, &o->field, false, NULL, err)) return -1;
        buf_append_str(s->text, o->desc ? " DESC" : " ASC");
        if (o->nulls) buf_append_str(s->text, o->nulls == 1 ? " NULLS FIRST" : " NULLS LAST");
    }
    return 0;
}

void sq_limit(rest_sql_t *s, long limit, long offset)
{
    if (limit >= 0) {
        buf_append_str(s->text, " LIMIT ");
        rest_sql_append_param(s, arena_i64(s->a, limit));
        buf_append_str(s->text, "::bigint");
    }
    if (offset > 0) {
        buf_append_str(s->text, " OFFSET ");
        rest_sql_append_param(s, arena_i64(s->a, offset));
        buf_append_str(s->text, "::bigint");
    }
}

/* ---- the read ---- */

static long sq_effective_limit(const rest_read_opts_t *o)
{
    long limit = o->limit;
    if (o->max_rows > 0 && (limit < 0 || limit > o->max_rows)) limit = o->max_rows;
    if (limit >= 0 && o->limit_plus_one) limit++;
    return limit;
}

int rest_sql_read(rest_sql_t *s, const rest_snapshot_t *snap, const rest_table_t *t,
                  const rest_query_t *q, const rest_read_opts_t *o, rest_error_t *err)
{
    sq_ctx_t cx = {.s = s, .snap = snap, .q = q, .err = err};
    sq_node_t *root = NULL;
    if (sq_root(&cx, t, &root)) return -1;
    buf_t where;
    buf_init(&where);
    buf_t *out = sq_redirect(s, &where);
    int rc = sq_where(&cx, root, "_t0");
    sq_redirect(s, out);
    if (rc == 0) {
        buf_append_str(s->text, root->plain
                                    ? "SELECT coalesce(json_agg(_r), '[]')::text, count(*)"
                                    : "SELECT coalesce(json_agg(_r._o), '[]')::text, count(*)");
        if (o->with_total) {
            buf_printf(s->text, ", (SELECT count(*) FROM %s _t0 WHERE ", t->qname);
            buf_append(s->text, where.data, where.len);
            buf_append_char(s->text, ')');
        }
        if (o->extra_outer) {
            buf_append_str(s->text, ", ");
            buf_append_str(s->text, o->extra_outer);
        }
        buf_append_str(s->text, " FROM (SELECT ");
        rc = sq_select_list(&cx, root, "_t0");
    }
    if (rc == 0) {
        sq_from(s, t);
        buf_append(s->text, where.data, where.len);
        if (o->extra_where) rc = o->extra_where(s, "_t0", t, o->extra_where_data, err);
    }
    if (rc == 0) rc = sq_order(s, t, "_t0", &q->scopes[0], err);
    if (rc == 0) {
        sq_limit(s, sq_effective_limit(o), o->offset);
        buf_append_str(s->text, ") _r");
    }
    buf_dispose(&where);
    return rc;
}

bool rest_sql_rows_encodable(const rest_table_t *t, const rest_query_t *q)
{
    const rest_select_t *sel = q->select;
    int n = 0;
    for (int i = 0; i < (sel ? sel->nitems : 1); i++) {
        const rest_sel_item_t *it = sel ? &sel->items[i] : NULL;
        if (!it || it->kind == REST_SEL_STAR) {
            for (int c = 0; c < t->ncols; c++)
                if (!t->cols[c].encodable) return false;
            n += t->ncols;
            continue;
        }
        if (it->kind != REST_SEL_FIELD || it->alias || it->cast || it->field.npath) return false;
        int c = rest_table_column(t, it->field.name);
        if (c < 0 || !t->cols[c].encodable) return false;
        n++;
    }
    return n > 0;
}

int rest_sql_rows(rest_sql_t *s, const rest_snapshot_t *snap, const rest_table_t *t,
                  const rest_query_t *q, const rest_read_opts_t *o, rest_error_t *err)
{
    sq_ctx_t cx = {.s = s, .snap = snap, .q = q, .err = err};
    sq_node_t *root = NULL;
    if (sq_root(&cx, t, &root)) return -1;
    if (!root->plain)
        return rest_error_set(err, s->a, 400, "PGRST127", "Feature not implemented",
                              "exports take plain columns: no aliases, JSON paths or embedding",
                              NULL);
    buf_append_str(s->text, "SELECT ");
    if (sq_select_list(&cx, root, "_t0")) return -1;
    sq_from(s, t);
    if (sq_where(&cx, root, "_t0")) return -1;
    if (o->extra_where && o->extra_where(s, "_t0", t, o->extra_where_data, err)) return -1;
    if (sq_order(s, t, "_t0", &q->scopes[0], err)) return -1;
    sq_limit(s, o->limit, o->offset);
    return 0;
}

static int sq_count_body(rest_sql_t *s, const rest_snapshot_t *snap, const rest_table_t *t,
                         const rest_query_t *q, rest_error_t *err)
{
    sq_ctx_t cx = {.s = s, .snap = snap, .q = q, .err = err};
    sq_node_t *root = NULL;
    if (sq_root(&cx, t, &root)) return -1;
    buf_printf(s->text, "SELECT count(*) FROM %s _t0 WHERE ", t->qname);
    return sq_where(&cx, root, "_t0");
}

int rest_sql_count(rest_sql_t *s, const rest_snapshot_t *snap, const rest_table_t *t,
                   const rest_query_t *q, rest_error_t *err)
{
    return sq_count_body(s, snap, t, q, err);
}

int rest_sql_count_planned(rest_sql_t *s, const rest_snapshot_t *snap, const rest_table_t *t,
                           const rest_query_t *q, rest_error_t *err)
{
    buf_append_str(s->text, "EXPLAIN (FORMAT JSON) ");
    return sq_count_body(s, snap, t, q, err);
}
