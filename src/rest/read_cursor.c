/*
 * rest/read_cursor - keyset pagination of ordered reads (rest/cursor tokens
 * applied to the read path).
 *
 * An ordered read (order=..., or a cursor=) on a table with a primary key is
 * made total by appending the key columns to its ORDER BY. When its page is
 * full, a second statement, pipelined beside the read, fetches the sort
 * values of the page's last row (same filters, order and position), and the
 * answer carries `Link: <...&cursor=TOKEN>; rel="next"`. A request with
 * cursor=TOKEN gets the keyset condition (rows after that one) instead of an
 * offset. Tokens are signed for the table and the ordering: one made for
 * another order, or forged, is a 400 (PGRST103-like, code PGRST120).
 * Not covered: orders on JSON paths and tables without a primary key (no Link).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "rest/cursor.h"
#include "rest/rest.h"
#include "rest/sql_internal.h"

typedef struct rc_plan {
    rest_cursor_key_t keys[REST_CURSOR_MAX_KEYS];
    const char *names[REST_CURSOR_MAX_KEYS]; /* the keys' column names */
    int nkeys;
    const char *context;
    rest_cursor_values_t after; /* decoded cursor=, n = 0 when none */
} rc_plan_t;

static const rest_column_t *rc_column(const rest_table_t *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0) return &t->cols[i];
    return NULL;
}

static void rc_add_key(rc_plan_t *p, arena_t *a, const rest_column_t *c, bool desc, int nulls,
                       buf_t *ctx)
{
    buf_t e;
    buf_init(&e);
    buf_append_str(&e, "_t0.");
    rest_sql_ident(&e, c->name);
    p->names[p->nkeys] = c->name;
    rest_cursor_key_t *k = &p->keys[p->nkeys++];
    k->expr = arena_strndup(a, e.data, e.len);
    k->type = c->type;
    k->desc = desc;
    k->nulls_first = rest_cursor_nulls_first(desc, nulls);
    k->not_null = !c->nullable;
    buf_dispose(&e);
    buf_printf(ctx, "%s%s.%s.%s", p->nkeys > 1 ? "," : "|", c->name, desc ? "d" : "a",
               k->nulls_first ? "nf" : "nl");
}

/* The total order: the request's terms, then the primary key; false when not possible. */
static bool rc_plan_keys(rest_req_t *rq, rc_plan_t *p, rest_order_t **order, int *norder)
{
    const rest_table_t *t = rq->t;
    const rest_scope_t *sc = &rq->q.scopes[0];
    arena_t *a = http_exchange_arena(rq->ex);
    int npk = 0;
    for (int i = 0; i < t->ncols; i++)
        npk += t->cols[i].in_pk;
    if (npk == 0 || sc->norder + npk > REST_CURSOR_MAX_KEYS) return false;
    buf_t ctx;
    buf_init(&ctx);
    buf_append_str(&ctx, t->qname);
    rest_order_t *ext = arena_calloc(a, sizeof *ext * (size_t)(sc->norder + npk));
    int n = 0;
    bool ok = true;
    for (int i = 0; i < sc->norder && ok; i++) {
        const rest_column_t *c =
            sc->order[i].field.npath ? NULL : rc_column(t, sc->order[i].field.name);
        if (!c || c->is_array || c->category == 'U') ok = false; /* JSON paths, odd types */
        if (!ok) break;
        rc_add_key(p, a, c, sc->order[i].desc, sc->order[i].nulls, &ctx);
        ext[n++] = sc->order[i];
    }
    for (int i = 0; i < t->ncols && ok; i++) {
        const rest_column_t *c = &t->cols[i];
        bool listed = false;
        for (int j = 0; j < sc->norder; j++)
            listed = listed || strcmp(sc->order[j].field.name, c->name) == 0;
        if (!c->in_pk || listed) continue;
        rc_add_key(p, a, c, false, 0, &ctx);
        ext[n].field.name = c->name;
        n++;
    }
    p->context = arena_strndup(a, ctx.data, ctx.len);
    buf_dispose(&ctx);
    *order = ext;
    *norder = n;
    return ok;
}

static int rc_where(rest_sql_t *s, const char *alias, const rest_table_t *t, void *data,
                    rest_error_t *err)
{
    (void)alias;
    (void)t;
    (void)err;
    rc_plan_t *p = data;
    if (p->after.n == 0) return 0;
    const char *params[REST_CURSOR_MAX_KEYS];
    buf_t cond;
    buf_init(&cond);
    int np = rest_cursor_where(p->keys, p->nkeys, &p->after, s->nparams + 1, &cond, params,
                               REST_CURSOR_MAX_KEYS);
    for (int i = 0; i < np; i++)
        rest_sql_param(s, params[i]); /* numbered in order: $nparams+1 ... */
    buf_append_str(s->text, " AND ");
    buf_append(s->text, cond.data, cond.len);
    buf_dispose(&cond);
    return np < 0 ? -1 : 0;
}

int rest_read_cursor_prepare(rest_req_t *rq, rest_read_opts_t *o, rest_error_t *e)
{
    arena_t *a = http_exchange_arena(rq->ex);
    const char *tok = rq->q.cursor;
    if (rq->q.scopes[0].norder == 0 && !tok) return 0;
    const rest_cursor_keyring_t *k = rest_cursor_keyring_shared(rq->app->cfg->cursor_secret);
    rc_plan_t *p = arena_calloc(a, sizeof *p);
    rest_order_t *order;
    int norder;
    if (!k || !rc_plan_keys(rq, p, &order, &norder)) {
        if (!tok) return 0; /* no Link for this read */
        return rest_error_set(e, a, 400, "PGRST120", "Invalid cursor",
                              "cursors need an order on plain columns of a table with a primary "
                              "key",
                              NULL);
    }
    if (tok && rest_cursor_decode(k, p->context, tok, strlen(tok), a, &p->after) != 0)
        return rest_error_set(e, a, 400, "PGRST120", "Invalid cursor",
                              "the cursor is malformed, or was made for another table or order",
                              "Follow the Link header of the previous page as it is");
    if (tok && p->after.n != p->nkeys)
        return rest_error_set(e, a, 400, "PGRST120", "Invalid cursor", NULL, NULL);
    /* The request's root scope, with the total order (a copy: the parsed query stays). */
    rest_scope_t *scopes = arena_alloc(a, sizeof *scopes * (size_t)rq->q.nscopes);
    memcpy(scopes, rq->q.scopes, sizeof *scopes * (size_t)rq->q.nscopes);
    scopes[0].order = order;
    scopes[0].norder = norder;
    rq->q.scopes = scopes;
    if (tok) o->offset = rq->offset = 0; /* the cursor says where the page starts */
    o->extra_where = rc_where;
    o->extra_where_data = p;
    rq->cursor_plan = p;
    return 0;
}

/* Is column name in the plain select list (as itself: no alias, cast or path)? */
static bool rc_selected(const rest_select_t *sel, const char *name)
{
    if (!sel) return true;
    for (int i = 0; i < sel->nitems; i++) {
        const rest_sel_item_t *it = &sel->items[i];
        if (it->kind == REST_SEL_STAR) return true;
        if (it->kind == REST_SEL_FIELD && !it->alias && !it->cast && !it->field.npath &&
            strcmp(it->field.name, name) == 0)
            return true;
    }
    return false;
}

bool rest_read_cursor_selected(const rest_req_t *rq)
{
    const rc_plan_t *p = rq->cursor_plan;
    const rest_select_t *sel = rq->q.select;
    for (int i = 0; sel && i < sel->nitems; i++) {
        const rest_sel_item_t *it = &sel->items[i];
        if (it->kind == REST_SEL_EMBED ||
            (it->kind == REST_SEL_FIELD && (it->alias || it->cast || it->field.npath)))
            return false; /* not the plain form: _r has no key columns */
    }
    for (int i = 0; i < p->nkeys; i++)
        if (!rc_selected(sel, p->names[i])) return false;
    return true;
}

/*
 * The text output of each key, as json_build_array(k::text) gives it. (For a
 * few types, bool and inet, ::text is not the output function's text; both
 * read back as the same value, which is all a cursor needs.)
 */
const char *rest_read_cursor_of_row(const rest_req_t *rq, const PGresult *res, int row)
{
    const rc_plan_t *p = rq->cursor_plan;
    buf_t b;
    buf_init(&b);
    buf_append_char(&b, '[');
    for (int i = 0; i < p->nkeys; i++) {
        int col = -1;
        for (int j = 0; j < PQnfields(res) && col < 0; j++)
            if (strcmp(PQfname(res, j), p->names[i]) == 0) col = j;
        if (col < 0) {
            buf_dispose(&b);
            return NULL;
        }
        if (i) buf_append_str(&b, ", ");
        if (PQgetisnull(res, row, col)) {
            buf_append_str(&b, "null");
            continue;
        }
        buf_append_char(&b, '"');
        json_escape_into(&b, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
        buf_append_char(&b, '"');
    }
    buf_append_char(&b, ']');
    const char *out = arena_strndup(http_exchange_arena(rq->ex), b.data, b.len);
    buf_dispose(&b);
    return out;
}

const char *rest_read_cursor_outer(const rest_req_t *rq)
{
    const rc_plan_t *p = rq->cursor_plan;
    if (!rest_read_cursor_selected(rq)) return NULL;
    buf_t b;
    buf_init(&b);
    buf_append_str(&b, "((array_agg(json_build_array(");
    for (int i = 0; i < p->nkeys; i++) {
        buf_append_str(&b, i ? ", _r." : "_r.");
        rest_sql_ident(&b, p->names[i]);
        buf_append_str(&b, "::text");
    }
    buf_append_str(&b, ")))[count(*)::int])::text");
    const char *out = arena_strndup(http_exchange_arena(rq->ex), b.data, b.len);
    buf_dispose(&b);
    return out;
}

/* SELECT json_build_array(k::text ...) of the page's last row: same filters and order. */
int rest_read_cursor_sql(rest_sql_t *s, const rest_req_t *rq, const rest_read_opts_t *o, long last,
                         rest_error_t *err)
{
    const rc_plan_t *p = rq->cursor_plan;
    sq_ctx_t cx = {.s = s, .snap = rq->snap, .q = &rq->q, .err = err};
    sq_node_t *root = NULL;
    if (sq_root(&cx, rq->t, &root)) return -1;
    buf_append_str(s->text, "SELECT json_build_array(");
    for (int i = 0; i < p->nkeys; i++)
        buf_printf(s->text, "%s%s::text", i ? ", " : "", p->keys[i].expr);
    buf_printf(s->text, ")::text FROM %s _t0 WHERE ", rq->t->qname);
    if (sq_where(&cx, root, "_t0")) return -1;
    if (o->extra_where && o->extra_where(s, "_t0", rq->t, o->extra_where_data, err)) return -1;
    if (sq_order(s, rq->t, "_t0", &rq->q.scopes[0], err)) return -1;
    sq_limit(s, 1, last);
    return 0;
}

void rest_read_cursor_link(rest_req_t *rq)
{
    const rc_plan_t *p = rq->cursor_plan;
    json_t *arr = rq->cursor_last ? json_loads(rq->cursor_last, 0, NULL) : NULL;
    if (!p || !json_is_array(arr) || (int)json_array_size(arr) != p->nkeys) {
        json_decref(arr);
        return;
    }
    arena_t *a = http_exchange_arena(rq->ex);
    const char **vals = arena_calloc(a, sizeof *vals * (size_t)p->nkeys);
    for (int i = 0; i < p->nkeys; i++) {
        json_t *v = json_array_get(arr, (size_t)i);
        vals[i] = json_is_string(v) ? arena_strdup(a, json_string_value(v)) : NULL;
    }
    json_decref(arr);
    rest_cursor_values_t v = {p->nkeys, vals, NULL};
    buf_t tok, link;
    buf_init(&tok);
    buf_init(&link);
    rest_cursor_encode(rest_cursor_keyring_shared(rq->app->cfg->cursor_secret), p->context, &v,
                       &tok);
    rest_cursor_link(http_exchange_raw_path(rq->ex), http_exchange_raw_query(rq->ex), tok.data,
                     &link);
    http_exchange_add_header(rq->ex, "Link", link.data);
    buf_dispose(&tok);
    buf_dispose(&link);
}
