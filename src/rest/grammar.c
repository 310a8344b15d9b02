/*
 * rest/grammar - select lists, fields, order and the query string as a whole
 * (see grammar.h). Filters and logic trees are in grammar_filter.c, Prefer and
 * Range in grammar_prefer.c.
 *
 * Recursive descent over NUL-terminated, already percent-decoded strings.
 * Every error is PGRST100 with the parameter's text and the column where it
 * went wrong, the way PostgREST reports its parse errors.
 */
#include "rest/grammar_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rest_error_set(rest_error_t *e, arena_t *a, int status, const char *code, const char *message,
                   const char *details, const char *hint)
{
    e->status = status;
    e->code = code;
    e->message = arena_strdup(a, message ? message : "");
    e->details = details ? arena_strdup(a, details) : NULL;
    e->hint = hint ? arena_strdup(a, hint) : NULL;
    return -1;
}

void rest_limits_default(rest_limits_t *l)
{
    l->max_query_len = 16384;
    l->max_depth = 3;
    l->max_items = 512;
    l->max_logic_depth = 8;
}

int rg_fail(rg_t *p, const char *what)
{
    char details[160];
    int col = (int)(p->s - p->start) + 1;
    if (*p->s)
        snprintf(details, sizeof details, "unexpected \"%c\" at column %d: %s", *p->s, col, what);
    else
        snprintf(details, sizeof details, "unexpected end of input at column %d: %s", col, what);
    char *msg = arena_sprintf(p->a, "\"failed to parse %s parameter (%s)\"", p->param, p->start);
    return rest_error_set(p->err, p->a, 400, "PGRST100", msg, details, NULL);
}

int rg_budget(rg_t *p)
{
    if (--p->budget < 0) {
        char *msg = arena_sprintf(p->a, "\"%s\" has too many items", p->param);
        return rest_error_set(p->err, p->a, 400, "PGRST100", msg, "the query is over the limits",
                              NULL);
    }
    return 0;
}

/* A double-quoted name or value: backslash escapes the next character. */
const char *rg_quoted(rg_t *p)
{
    const char *s = p->s + 1;
    size_t cap = strlen(s) + 1, n = 0;
    char *out = arena_alloc(p->a, cap);
    while (*s && *s != '"') {
        if (*s == '\\' && s[1]) s++;
        out[n++] = *s++;
    }
    if (*s != '"') {
        p->s = s;
        rg_fail(p, "unterminated quote");
        return NULL;
    }
    out[n] = '\0';
    p->s = s + 1;
    return out;
}

static bool rg_name_stop(const char *s, const char *stops)
{
    if (!*s || strchr(stops, *s)) return true;
    if (s[0] == '-' && s[1] == '>') return true;
    return false;
}

/* A name: quoted, or a run up to a stop character (or "->"); blanks trimmed. */
const char *rg_name(rg_t *p, const char *stops)
{
    while (*p->s == ' ')
        p->s++;
    if (*p->s == '"') return rg_quoted(p);
    const char *b = p->s;
    while (!rg_name_stop(p->s, stops))
        p->s++;
    const char *e = p->s;
    while (e > b && e[-1] == ' ')
        e--;
    if (e == b) {
        rg_fail(p, "expected a name");
        return NULL;
    }
    return arena_strndup(p->a, b, (size_t)(e - b));
}

static bool rg_is_int(const char *s)
{
    if (*s == '-') s++;
    if (!*s) return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return false;
    return true;
}

/* name ( "->" key | "->>" key )*  */
int rg_field(rg_t *p, const char *stops, rest_field_t *f)
{
    memset(f, 0, sizeof *f);
    f->name = rg_name(p, stops);
    if (!f->name) return -1;
    int cap = 0;
    while (p->s[0] == '-' && p->s[1] == '>') {
        bool text = p->s[2] == '>';
        p->s += text ? 3 : 2;
        if (rg_budget(p)) return -1;
        const char *key = rg_name(p, stops);
        if (!key) return -1;
        if (f->npath == cap) {
            cap = cap ? cap * 2 : 4;
            rest_json_step_t *n = arena_alloc(p->a, sizeof *n * (size_t)cap);
            if (f->npath) memcpy(n, f->path, sizeof *n * (size_t)f->npath);
            f->path = n;
        }
        f->path[f->npath++] = (rest_json_step_t){key, text, rg_is_int(key)};
    }
    return 0;
}

const char *rest_field_label(const rest_field_t *f, const char *alias)
{
    if (alias) return alias;
    if (f->npath) return f->path[f->npath - 1].key;
    return f->name;
}

/* ---- select ---- */

static int rg_select_list(rg_t *p, int depth, rest_select_t **out);

static int rg_cast(rg_t *p, rest_sel_item_t *it)
{
    p->s += 2;
    const char *b = p->s;
    while (isalnum((unsigned char)*p->s) || *p->s == '_' || *p->s == ' ')
        p->s++;
    if (p->s == b) return rg_fail(p, "expected a type after ::");
    it->cast = arena_strndup(p->a, b, (size_t)(p->s - b));
    return 0;
}

static int rg_embed(rg_t *p, int depth, rest_sel_item_t *it)
{
    it->kind = REST_SEL_EMBED;
    it->rel = it->field.name;
    while (*p->s == '!') {
        p->s++;
        const char *h = rg_name(p, ",:()!");
        if (!h) return -1;
        if (!strcmp(h, "inner"))
            it->inner = true;
        else if (!strcmp(h, "left"))
            it->inner = false;
        else if (!it->hint)
            it->hint = h;
        else
            return rg_fail(p, "one !hint per embedded resource");
    }
    if (*p->s != '(') return rg_fail(p, "expected ( after an embedded resource");
    if (depth + 1 >= p->lim->max_depth) return rg_fail(p, "embedding is nested too deeply");
    p->s++;
    if (rg_select_list(p, depth + 1, &it->sub)) return -1;
    if (*p->s != ')') return rg_fail(p, "expected )");
    p->s++;
    return 0;
}

static int rg_sel_item(rg_t *p, int depth, rest_sel_item_t *it)
{
    memset(it, 0, sizeof *it);
    while (*p->s == ' ')
        p->s++;
    if (*p->s == '*') {
        p->s++;
        it->kind = REST_SEL_STAR;
        return 0;
    }
    if (p->s[0] == '.' && p->s[1] == '.' && p->s[2] == '.')
        return rg_fail(p, "spread embedding (...) is not supported");
    if (rg_field(p, ",:()!", &it->field)) return -1;
    if (p->s[0] == ':' && p->s[1] != ':') { /* alias: */
        if (it->field.npath) return rg_fail(p, "an alias is a plain name");
        it->alias = it->field.name;
        p->s++;
        if (rg_field(p, ",:()!", &it->field)) return -1;
    }
    if (*p->s == '(' || *p->s == '!') {
        if (it->field.npath) return rg_fail(p, "a JSON path cannot be embedded");
        return rg_embed(p, depth, it);
    }
    it->kind = REST_SEL_FIELD;
    if (p->s[0] == ':' && p->s[1] == ':') return rg_cast(p, it);
    return 0;
}

static int rg_select_list(rg_t *p, int depth, rest_select_t **out)
{
    rest_select_t *sel = arena_calloc(p->a, sizeof *sel);
    int cap = 0;
    for (;;) {
        if (rg_budget(p)) return -1;
        if (sel->nitems == cap) {
            cap = cap ? cap * 2 : 8;
            rest_sel_item_t *n = arena_alloc(p->a, sizeof *n * (size_t)cap);
            if (sel->nitems) memcpy(n, sel->items, sizeof *n * (size_t)sel->nitems);
            sel->items = n;
        }
        if (rg_sel_item(p, depth, &sel->items[sel->nitems])) return -1;
        sel->nitems++;
        while (*p->s == ' ')
            p->s++;
        if (*p->s != ',') break;
        p->s++;
    }
    *out = sel;
    return 0;
}

void rg_init(rg_t *p, arena_t *a, const char *s, const char *param, const rest_limits_t *lim,
             rest_error_t *err, int *budget)
{
    p->a = a;
    p->s = p->start = s;
    p->param = param;
    p->lim = lim;
    p->err = err;
    p->budget = *budget;
}

int rest_parse_select(arena_t *a, const char *s, const rest_limits_t *lim, rest_select_t **out,
                      rest_error_t *err)
{
    int budget = lim->max_items;
    rg_t p;
    rg_init(&p, a, s, "select", lim, err, &budget);
    if (!*s) {
        *out = NULL; /* select= is the same as select=* */
        return 0;
    }
    if (rg_select_list(&p, 0, out)) return -1;
    if (*p.s) return rg_fail(&p, "expected , or end of select");
    return 0;
}

/* ---- order ---- */

static int rg_order_term(rg_t *p, rest_order_t *o)
{
    memset(o, 0, sizeof *o);
    if (rg_field(p, ",.()", &o->field)) return -1;
    while (*p->s == '.') {
        p->s++;
        const char *b = p->s;
        while (isalpha((unsigned char)*p->s))
            p->s++;
        size_t n = (size_t)(p->s - b);
        if (n == 3 && !strncmp(b, "asc", 3))
            o->desc = false;
        else if (n == 4 && !strncmp(b, "desc", 4))
            o->desc = true;
        else if (n == 10 && !strncmp(b, "nullsfirst", 10))
            o->nulls = 1;
        else if (n == 9 && !strncmp(b, "nullslast", 9))
            o->nulls = 2;
        else {
            p->s = b;
            return rg_fail(p, "expected asc, desc, nullsfirst or nullslast");
        }
    }
    if (*p->s == '(') return rg_fail(p, "ordering by an embedded resource is not supported");
    return 0;
}

int rg_order(rg_t *p, rest_order_t **out, int *n)
{
    int cap = 0;
    *out = NULL;
    *n = 0;
    if (!*p->s) return 0;
    for (;;) {
        if (rg_budget(p)) return -1;
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            rest_order_t *m = arena_alloc(p->a, sizeof *m * (size_t)cap);
            if (*n) memcpy(m, *out, sizeof *m * (size_t)*n);
            *out = m;
        }
        if (rg_order_term(p, &(*out)[*n])) return -1;
        (*n)++;
        if (*p->s != ',') break;
        p->s++;
    }
    if (*p->s) return rg_fail(p, "expected , or end of order");
    return 0;
}

int rest_parse_order(arena_t *a, const char *s, rest_order_t **out, int *n, rest_error_t *err)
{
    rest_limits_t lim;
    rest_limits_default(&lim);
    int budget = lim.max_items;
    rg_t p;
    rg_init(&p, a, s, "order", &lim, err, &budget);
    return rg_order(&p, out, n);
}

/* A comma list of plain names (columns=, on_conflict=). */
static int rg_name_list(rg_t *p, const char ***out, int *n)
{
    int cap = 0;
    *n = 0;
    for (;;) {
        if (rg_budget(p)) return -1;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            const char **m = arena_alloc(p->a, sizeof *m * (size_t)cap);
            if (*n) memcpy(m, *out, sizeof *m * (size_t)*n);
            *out = m;
        }
        const char *name = rg_name(p, ",()");
        if (!name) return -1;
        (*out)[(*n)++] = name;
        if (*p->s != ',') break;
        p->s++;
    }
    if (*p->s) return rg_fail(p, "expected , or end of list");
    return 0;
}

/* ---- the query string ---- */

static int rg_parse_long(arena_t *a, const char *param, const char *v, long *out, rest_error_t *err)
{
    char *end;
    long n = (*v >= '0' && *v <= '9') ? strtol(v, &end, 10) : -1;
    if (n < 0 || *end || n > 1000000000000L) {
        char *msg = arena_sprintf(a, "\"failed to parse %s parameter (%s)\"", param, v);
        return rest_error_set(err, a, 400, "PGRST100", msg, "expected a non-negative integer",
                              NULL);
    }
    *out = n;
    return 0;
}

rest_scope_t *rest_query_scope(const rest_query_t *q, const char *path)
{
    for (int i = 0; i < q->nscopes; i++)
        if (!strcmp(q->scopes[i].path, path)) return &q->scopes[i];
    return NULL;
}

static rest_scope_t *rg_scope(arena_t *a, rest_query_t *q, const char *path, int *cap)
{
    rest_scope_t *s = rest_query_scope(q, path);
    if (s) return s;
    if (q->nscopes == *cap) {
        *cap *= 2;
        rest_scope_t *n = arena_alloc(a, sizeof *n * (size_t)*cap);
        memcpy(n, q->scopes, sizeof *n * (size_t)q->nscopes);
        q->scopes = n;
    }
    s = &q->scopes[q->nscopes++];
    memset(s, 0, sizeof *s);
    s->path = path;
    s->where = arena_calloc(a, sizeof *s->where);
    s->where->kind = REST_COND_AND;
    s->limit = -1;
    return s;
}

void rg_cond_push(arena_t *a, rest_cond_t *parent, rest_cond_t *kid)
{
    /* kids arrays grow by doubling; capacity is implied by powers of two */
    int n = parent->nkids;
    if (n == 0 || (n & (n - 1)) == 0) {
        int cap = n ? n * 2 : 2;
        rest_cond_t **m = arena_alloc(a, sizeof *m * (size_t)cap);
        if (n) memcpy(m, parent->kids, sizeof *m * (size_t)n);
        parent->kids = m;
    }
    parent->kids[parent->nkids++] = kid;
}

/*
 * Splits a key like `rel.col`, `rel.order`, `not.or`, `"a.b"` at the dots
 * outside quotes. The last segment (or the last two for `not.or`) is the
 * field or option; the rest is the embed path.
 */
static int rg_split_key(arena_t *a, const char *key, const char **path, const char **last)
{
    const char *dot = NULL;
    bool q = false;
    for (const char *s = key; *s; s++) {
        if (*s == '"') q = !q;
        if (*s == '.' && !q) {
            /* `x.not.or`: keep not.or together */
            if (!strcmp(s + 1, "not.or") || !strcmp(s + 1, "not.and")) {
                dot = s;
                break;
            }
            dot = s;
        }
    }
    if (!strncmp(key, "not.", 4) && (!strcmp(key + 4, "or") || !strcmp(key + 4, "and"))) dot = NULL;
    if (!dot) {
        *path = "";
        *last = key;
        return 0;
    }
    *path = arena_strndup(a, key, (size_t)(dot - key));
    *last = dot + 1;
    return 0;
}

static int rg_param(arena_t *a, rest_query_t *q, const char *key, const char *val,
                    const rest_limits_t *lim, int *budget, int *scap, rest_error_t *err)
{
    rg_t p;
    rg_init(&p, a, val, key, lim, err, budget);
    if (!strcmp(key, "select")) {
        p.param = "select";
        if (!*val) return 0;
        if (rg_select_list(&p, 0, &q->select)) return -1;
        if (*p.s) return rg_fail(&p, "expected , or end of select");
        *budget = p.budget;
        return 0;
    }
    if (!strcmp(key, "columns")) {
        int r = rg_name_list(&p, &q->columns, &q->ncolumns);
        *budget = p.budget;
        return r;
    }
    if (!strcmp(key, "on_conflict")) {
        int r = rg_name_list(&p, &q->on_conflict, &q->non_conflict);
        *budget = p.budget;
        return r;
    }
    if (!strcmp(key, "cursor")) {
        q->cursor = val;
        return 0;
    }
    const char *path, *last;
    rg_split_key(a, key, &path, &last);
    rest_scope_t *sc = rg_scope(a, q, path, scap);
    if (!strcmp(last, "limit")) return rg_parse_long(a, key, val, &sc->limit, err);
    if (!strcmp(last, "offset")) return rg_parse_long(a, key, val, &sc->offset, err);
    if (!strcmp(last, "order")) {
        p.param = "order";
        int r = rg_order(&p, &sc->order, &sc->norder);
        *budget = p.budget;
        return r;
    }
    rest_cond_t *c;
    if (rg_filter_kv(&p, last, val, &c)) return -1;
    *budget = p.budget;
    rg_cond_push(a, sc->where, c);
    if (!*path) q->has_filters = true;
    return 0;
}

int rest_parse_query(arena_t *a, const char *raw, size_t len, const rest_limits_t *lim,
                     rest_query_t *out, rest_error_t *err)
{
    memset(out, 0, sizeof *out);
    int scap = 4;
    out->scopes = arena_alloc(a, sizeof *out->scopes * (size_t)scap);
    rg_scope(a, out, "", &scap);
    if (len > lim->max_query_len)
        return rest_error_set(err, a, 414, "PGRST100", "the query string is too long", NULL, NULL);
    int budget = lim->max_items;
    const char *s = raw, *end = raw + len;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(pe - s));
        if (pe > s) {
            const char *ke = eq ? eq : pe;
            char *key = rest_pct_decode(a, s, (size_t)(ke - s));
            char *val =
                eq ? rest_pct_decode(a, eq + 1, (size_t)(pe - eq - 1)) : arena_strdup(a, "");
            if (!key || !val)
                return rest_error_set(err, a, 400, "PGRST100", "malformed percent-encoding", NULL,
                                      NULL);
            if (*key && rg_param(a, out, key, val, lim, &budget, &scap, err)) return -1;
        }
        s = pe + 1;
    }
    return 0;
}

static int rg_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *rest_pct_decode(arena_t *a, const char *s, size_t len)
{
    char *out = arena_alloc(a, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (len - i < 3) return NULL;
            int hi = rg_hex((unsigned char)s[i + 1]), lo = rg_hex((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return NULL;
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '+') {
            out[n++] = ' ';
        } else if (s[i] == '\0') {
            return NULL;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    return out;
}
