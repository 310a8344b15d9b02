/*
 * rest/sql_select - select lists and resource embedding.
 *
 * A select level whose output keys are all catalog column names is written
 * as a plain select list (`_t0."id", _t0."name"`) and PostgreSQL's json_agg
 * of the subquery rows names the keys. Any alias, JSON path or embedded
 * resource makes the level an object: json_build_object($k1, v1, ...) with
 * every key a bound parameter, since keys are request text. Embedding is a
 * correlated subquery over the foreign key: json_agg of the children
 * (to-many) or to_json of the one parent row (to-one).
 */
#include "rest/sql_internal.h"

#include <stdio.h>
#include <string.h>

static const char *const sq_casts[] = {
    "text",
    "int",
    "int2",
    "int4",
    "int8",
    "integer",
    "smallint",
    "bigint",
    "numeric",
    "float4",
    "float8",
    "real",
    "double precision",
    "boolean",
    "bool",
    "date",
    "time",
    "timestamp",
    "timestamptz",
    "json",
    "jsonb",
    "uuid",
    "varchar",
    "char",
    "bytea",
    "interval",
    "inet",
    "tsvector",
    NULL,
};

static int sq_check_cast(sq_ctx_t *cx, const char *cast)
{
    for (int i = 0; sq_casts[i]; i++)
        if (!strcmp(cast, sq_casts[i])) return 0;
    char *msg = arena_sprintf(cx->s->a, "\"failed to parse select parameter (::%s)\"", cast);
    return rest_error_set(cx->err, cx->s->a, 400, "PGRST100", msg,
                          "casts are limited to the built-in scalar types", NULL);
}

static const char *sq_join_path(arena_t *a, const char *path, const char *label)
{
    return *path ? arena_sprintf(a, "%s.%s", path, label) : label;
}

/* Does fk connect parent p to a resource named rel (table, FK or FK column name)? */
static int sq_fk_matches(const rest_fk_t *fk, const rest_table_t *p, const char *rel,
                         const char *hint, bool *to_one)
{
    bool one = fk->from == p && (!strcmp(fk->to->name, rel) || !strcmp(fk->name, rel) ||
                                 (fk->ncols == 1 && !strcmp(p->cols[fk->from_cols[0]].name, rel)));
    bool many = fk->to == p && (!strcmp(fk->from->name, rel) || !strcmp(fk->name, rel));
    if (hint) {
        bool h = !strcmp(fk->name, hint);
        for (int i = 0; i < fk->ncols && !h; i++)
            h = !strcmp(fk->from->cols[fk->from_cols[i]].name, hint) ||
                !strcmp(fk->to->cols[fk->to_cols[i]].name, hint);
        if (!h) return 0;
    }
    if (one && many) return 2; /* a self-reference: both ways */
    *to_one = one;
    return one || many;
}

static int sq_no_rel(sq_ctx_t *cx, const rest_table_t *p, const rest_sel_item_t *it)
{
    arena_t *a = cx->s->a;
    char *msg =
        arena_sprintf(a, "Could not find a relationship between '%s' and '%s' in the schema cache",
                      p->name, it->rel);
    char *det =
        arena_sprintf(a,
                      "Searched for a foreign key relationship between '%s' and '%s'%s%s%s in "
                      "the schema '%s', but no matches were found.",
                      p->name, it->rel, it->hint ? " using the hint '" : "",
                      it->hint ? it->hint : "", it->hint ? "'" : "", p->schema);
    const char *near = rest_closest_table(cx->snap, p->schema, it->rel);
    char *hint = near && strcmp(near, it->rel)
                     ? arena_sprintf(a, "Perhaps you meant '%s' instead of '%s'.", near, it->rel)
                     : NULL;
    return rest_error_set(cx->err, a, 400, "PGRST200", msg, det, hint);
}

static int sq_ambiguous(sq_ctx_t *cx, const rest_table_t *p, const rest_sel_item_t *it,
                        const rest_fk_t **c, int n)
{
    arena_t *a = cx->s->a;
    buf_t det, hint;
    buf_init(&det);
    buf_init(&hint);
    buf_printf(&hint, "Try changing '%s' to one of the following: ", it->rel);
    for (int i = 0; i < n; i++) {
        buf_printf(&det, "%s%s (%s -> %s)", i ? ", " : "", c[i]->name, c[i]->from->name,
                   c[i]->to->name);
        buf_printf(&hint, "%s'%s!%s'", i ? ", " : "", it->rel, c[i]->name);
    }
    buf_append_str(&hint, ". Find the desired relationship in the 'details' key.");
    char *msg = arena_sprintf(
        a, "Could not embed because more than one relationship was found for '%s' and '%s'",
        p->name, it->rel);
    rest_error_set(cx->err, a, 300, "PGRST201", msg, det.data, hint.data);
    buf_dispose(&det);
    buf_dispose(&hint);
    return -1;
}

static int sq_relate(sq_ctx_t *cx, const rest_table_t *p, const rest_sel_item_t *it,
                     const rest_fk_t **fk, bool *to_one)
{
    const rest_fk_t *cand[8];
    bool dir[8];
    int n = 0;
    for (int i = 0; i < p->nfks && n < 8; i++) {
        bool one = false;
        int m = sq_fk_matches(p->fks[i], p, it->rel, it->hint, &one);
        if (m == 2) return sq_ambiguous(cx, p, it, (const rest_fk_t **)&p->fks[i], 1);
        if (m) {
            cand[n] = p->fks[i];
            dir[n++] = one;
        }
    }
    if (n == 0) return sq_no_rel(cx, p, it);
    if (n > 1) return sq_ambiguous(cx, p, it, cand, n);
    *fk = cand[0];
    *to_one = dir[0];
    return 0;
}

static bool sq_item_plain(const rest_sel_item_t *it)
{
    return it->kind == REST_SEL_STAR ||
           (it->kind == REST_SEL_FIELD && !it->alias && !it->field.npath);
}

int sq_resolve(sq_ctx_t *cx, const rest_table_t *t, const rest_select_t *sel, const char *path,
               int depth, sq_node_t **out)
{
    sq_node_t *n = arena_calloc(cx->s->a, sizeof *n);
    n->t = t;
    n->sel = sel;
    n->path = path;
    n->label = "";
    n->scope = rest_query_scope(cx->q, path);
    n->plain = true;
    n->pairs = t->ncols;
    *out = n;
    if (!sel) return 0;
    n->kids = arena_calloc(cx->s->a, sizeof *n->kids * (size_t)sel->nitems);
    int pairs = 0;
    for (int i = 0; i < sel->nitems; i++) {
        const rest_sel_item_t *it = &sel->items[i];
        if (!sq_item_plain(it)) n->plain = false;
        pairs += it->kind == REST_SEL_STAR ? t->ncols : 1;
        if (it->kind == REST_SEL_FIELD) {
            if (rest_table_column(t, it->field.name) < 0)
                return rest_err_column(cx->err, cx->s->a, t, it->field.name);
            if (it->cast && sq_check_cast(cx, it->cast)) return -1;
            continue;
        }
        if (it->kind != REST_SEL_EMBED) continue;
        const rest_fk_t *fk = NULL;
        bool to_one = false;
        if (sq_relate(cx, t, it, &fk, &to_one) || !fk) return -1;
        const rest_table_t *other = to_one ? fk->to : fk->from;
        const char *label = it->alias ? it->alias : it->rel;
        sq_node_t *k;
        if (sq_resolve(cx, other, it->sub, sq_join_path(cx->s->a, path, label), depth + 1, &k))
            return -1;
        k->label = label;
        k->fk = fk;
        k->to_one = to_one;
        k->inner = it->inner;
        n->kids[i] = k;
    }
    n->pairs = pairs;
    if (!n->plain && pairs > SQ_PAIRS_MAX)
        return rest_error_set(cx->err, cx->s->a, 400, "PGRST127", "Feature not implemented",
                              "a select level with aliases, JSON paths or embedding is limited to "
                              "50 output fields",
                              NULL);
    return 0;
}

/* kid alias . fk columns = parent alias . fk columns */
static void sq_join(sq_ctx_t *cx, const sq_node_t *k, const char *kalias, const char *palias)
{
    const rest_fk_t *fk = k->fk;
    for (int i = 0; i < fk->ncols; i++) {
        if (i) buf_append_str(cx->s->text, " AND ");
        const rest_column_t *kc =
            k->to_one ? &fk->to->cols[fk->to_cols[i]] : &fk->from->cols[fk->from_cols[i]];
        const rest_column_t *pc =
            k->to_one ? &fk->from->cols[fk->from_cols[i]] : &fk->to->cols[fk->to_cols[i]];
        rest_sql_column(cx->s, kalias, kc);
        buf_append_str(cx->s->text, " = ");
        rest_sql_column(cx->s, palias, pc);
    }
}

static const char *sq_alias(sq_ctx_t *cx)
{
    return arena_sprintf(cx->s->a, "_t%d", ++cx->next_alias);
}

/* The embedded resource's value: a correlated subquery. */
static int sq_embed(sq_ctx_t *cx, const sq_node_t *k, const char *palias)
{
    buf_t *b = cx->s->text;
    const char *ka = sq_alias(cx);
    const char *ea = arena_sprintf(cx->s->a, "_e%d", cx->next_alias);
    if (k->to_one)
        buf_printf(b, "(SELECT %s FROM (SELECT ",
                   k->plain ? arena_sprintf(cx->s->a, "to_json(%s)", ea)
                            : arena_sprintf(cx->s->a, "%s._o", ea));
    else
        buf_printf(b, "(SELECT coalesce(json_agg(%s%s), '[]') FROM (SELECT ", ea,
                   k->plain ? "" : "._o");
    if (sq_select_list(cx, k, ka)) return -1;
    buf_printf(b, " FROM %s %s WHERE ", k->t->qname, ka);
    sq_join(cx, k, ka, palias);
    buf_append_str(b, " AND ");
    if (sq_where(cx, k, ka)) return -1;
    if (sq_order(cx->s, k->t, ka, k->scope, cx->err)) return -1;
    if (k->to_one)
        buf_append_str(b, " LIMIT 1");
    else if (k->scope)
        sq_limit(cx->s, k->scope->limit, k->scope->offset);
    buf_printf(b, ") %s)", ea);
    return 0;
}

static int sq_object_item(sq_ctx_t *cx, const sq_node_t *n, int i, const char *alias, int *pairs)
{
    const rest_sel_item_t *it = n->sel ? &n->sel->items[i] : NULL;
    buf_t *b = cx->s->text;
    if (!it || it->kind == REST_SEL_STAR) {
        for (int c = 0; c < n->t->ncols; c++) {
            buf_append_str(b, (*pairs)++ ? ", " : "");
            rest_sql_append_param(cx->s, n->t->cols[c].name);
            buf_append_str(b, "::text, ");
            rest_sql_column(cx->s, alias, &n->t->cols[c]);
        }
        return 0;
    }
    buf_append_str(b, (*pairs)++ ? ", " : "");
    if (it->kind == REST_SEL_EMBED) {
        rest_sql_append_param(cx->s, n->kids[i]->label);
        buf_append_str(b, "::text, ");
        return sq_embed(cx, n->kids[i], alias);
    }
    rest_sql_append_param(cx->s, rest_field_label(&it->field, it->alias));
    buf_append_str(b, "::text, ");
    if (sq_field(cx->s, n->t, alias, &it->field, false, NULL, cx->err)) return -1;
    if (it->cast) buf_printf(b, "::%s", it->cast);
    return 0;
}

int sq_select_list(sq_ctx_t *cx, const sq_node_t *n, const char *alias)
{
    buf_t *b = cx->s->text;
    if (n->plain) {
        int emitted = 0;
        for (int i = 0; i < (n->sel ? n->sel->nitems : 1); i++) {
            const rest_sel_item_t *it = n->sel ? &n->sel->items[i] : NULL;
            if (!it || it->kind == REST_SEL_STAR) {
                if (n->t->star_select && !strcmp(alias, "_t0")) {
                    buf_append_str(b, emitted ? ", " : ""); /* the snapshot's copy of the loop */
                    buf_append_str(b, n->t->star_select);
                    emitted += n->t->ncols;
                    continue;
                }
                for (int c = 0; c < n->t->ncols; c++) {
                    buf_append_str(b, emitted++ ? ", " : "");
                    rest_sql_column(cx->s, alias, &n->t->cols[c]);
                }
                continue;
            }
            const rest_column_t *col = &n->t->cols[rest_table_column(n->t, it->field.name)];
            buf_append_str(b, emitted++ ? ", " : "");
            rest_sql_column(cx->s, alias, col);
            if (it->cast) {
                buf_printf(b, "::%s AS ", it->cast);
                rest_sql_ident(b, col->name);
            }
        }
        if (!emitted) buf_append_str(b, "NULL");
        return 0;
    }
    buf_append_str(b, "json_build_object(");
    int pairs = 0;
    for (int i = 0; i < (n->sel ? n->sel->nitems : 1); i++) /* no select: every column */
        if (sq_object_item(cx, n, i, alias, &pairs)) return -1;
    buf_append_str(b, ") AS _o");
    return 0;
}

int sq_where(sq_ctx_t *cx, const sq_node_t *n, const char *alias)
{
    buf_t *b = cx->s->text;
    if (n->scope) {
        if (sq_cond(cx->s, n->t, alias, n->scope->where, cx->err)) return -1;
    } else {
        buf_append_str(b, "true");
    }
    for (int i = 0; n->sel && i < n->sel->nitems; i++) {
        const sq_node_t *k = n->kids[i];
        if (!k || !k->inner) continue;
        const char *ka = sq_alias(cx);
        buf_printf(b, " AND EXISTS (SELECT 1 FROM %s %s WHERE ", k->t->qname, ka);
        sq_join(cx, k, ka, alias);
        buf_append_str(b, " AND ");
        if (sq_where(cx, k, ka)) return -1;
        buf_append_char(b, ')');
    }
    return 0;
}

static bool sq_has_path(const sq_node_t *n, const char *path)
{
    if (!strcmp(n->path, path)) return true;
    for (int i = 0; n->sel && i < n->sel->nitems; i++)
        if (n->kids[i] && sq_has_path(n->kids[i], path)) return true;
    return false;
}

static int sq_check_scopes(sq_ctx_t *cx, const sq_node_t *root)
{
    for (int i = 1; i < cx->q->nscopes; i++) {
        const rest_scope_t *sc = &cx->q->scopes[i];
        if (sq_has_path(root, sc->path)) continue;
        char *msg =
            arena_sprintf(cx->s->a, "'%s' is not an embedded resource in this request", sc->path);
        char *hint = arena_sprintf(
            cx->s->a, "Verify that '%s' is included in the 'select' query parameter.", sc->path);
        return rest_error_set(cx->err, cx->s->a, 400, "PGRST108", msg, NULL, hint);
    }
    return 0;
}

int sq_root(sq_ctx_t *cx, const rest_table_t *t, sq_node_t **root)
{
    if (sq_resolve(cx, t, cx->q->select, "", 0, root)) return -1;
    return sq_check_scopes(cx, *root);
}
