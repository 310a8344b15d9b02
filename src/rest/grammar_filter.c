/*
 * rest/grammar_filter - filters: `col=[not.]op[(mod)].value` and the logic
 * trees `or=(...)`, `and=(...)`, `not.or=(...)` with nesting, as PostgREST
 * writes them. Values stay strings; the SQL builder binds them.
 */
#include "rest/grammar_internal.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    rest_op_t op;
} rg_ops[] = {
    {"eq", REST_OP_EQ},
    {"neq", REST_OP_NEQ},
    {"gt", REST_OP_GT},
    {"gte", REST_OP_GTE},
    {"lt", REST_OP_LT},
    {"lte", REST_OP_LTE},
    {"like", REST_OP_LIKE},
    {"ilike", REST_OP_ILIKE},
    {"match", REST_OP_MATCH},
    {"imatch", REST_OP_IMATCH},
    {"in", REST_OP_IN},
    {"is", REST_OP_IS},
    {"isdistinct", REST_OP_ISDISTINCT},
    {"cs", REST_OP_CS},
    {"cd", REST_OP_CD},
    {"ov", REST_OP_OV},
    {"sl", REST_OP_SL},
    {"sr", REST_OP_SR},
    {"nxr", REST_OP_NXR},
    {"nxl", REST_OP_NXL},
    {"adj", REST_OP_ADJ},
    {"fts", REST_OP_FTS},
    {"plfts", REST_OP_PLFTS},
    {"phfts", REST_OP_PHFTS},
    {"wfts", REST_OP_WFTS},
};

const char *rest_op_name(rest_op_t op)
{
    for (size_t i = 0; i < sizeof rg_ops / sizeof rg_ops[0]; i++)
        if (rg_ops[i].op == op) return rg_ops[i].name;
    return "?";
}

static bool rg_is_fts(rest_op_t op)
{
    return op == REST_OP_FTS || op == REST_OP_PLFTS || op == REST_OP_PHFTS || op == REST_OP_WFTS;
}

static bool rg_takes_mod(rest_op_t op)
{
    return op <= REST_OP_IMATCH && op != REST_OP_NEQ;
}

/* The operand inside a logic tree: up to a ',' or ')' outside parens and quotes. */
static const char *rg_tree_operand(rg_t *p)
{
    const char *b = p->s;
    int depth = 0;
    bool q = false;
    for (; *p->s; p->s++) {
        char c = *p->s;
        if (q) {
            if (c == '\\' && p->s[1])
                p->s++;
            else if (c == '"')
                q = false;
            continue;
        }
        if (c == '"')
            q = true;
        else if (c == '(')
            depth++;
        else if (c == ')' && depth-- == 0)
            break;
        else if (c == ',' && depth == 0)
            break;
    }
    size_t n = (size_t)(p->s - b);
    if (n >= 2 && b[0] == '"' && b[n - 1] == '"') { /* a quoted value: unquote */
        rg_t sub = *p;
        sub.s = b;
        return rg_quoted(&sub);
    }
    return arena_strndup(p->a, b, n);
}

/* (a,"b,c",d) -> the elements; quoted ones may contain , ) and \" */
static int rg_in_list(rg_t *p, const char *v, rest_cond_t *c)
{
    rg_t l = *p;
    l.s = l.start = v;
    if (*l.s != '(') return rg_fail(&l, "expected ( after in.");
    l.s++;
    int cap = 0;
    if (*l.s == ')') {
        l.s++;
    } else {
        for (;;) {
            if (rg_budget(&l)) return -1;
            const char *e;
            if (*l.s == '"') {
                e = rg_quoted(&l);
                if (!e) return -1;
            } else {
                const char *b = l.s;
                while (*l.s && *l.s != ',' && *l.s != ')')
                    l.s++;
                e = arena_strndup(l.a, b, (size_t)(l.s - b));
            }
            if (c->nvalues == cap) {
                cap = cap ? cap * 2 : 8;
                const char **m = arena_alloc(l.a, sizeof *m * (size_t)cap);
                if (c->nvalues) memcpy(m, c->values, sizeof *m * (size_t)c->nvalues);
                c->values = m;
            }
            c->values[c->nvalues++] = e;
            if (*l.s == ',') {
                l.s++;
                continue;
            }
            if (*l.s != ')') return rg_fail(&l, "expected , or ) in the list");
            l.s++;
            break;
        }
    }
    if (*l.s) return rg_fail(&l, "unexpected text after the list");
    p->budget = l.budget;
    return 0;
}

static int rg_is_value(rg_t *p, const char *v, rest_cond_t *c)
{
    static const struct {
        const char *w;
        rest_is_t is;
    } words[] = {{"null", REST_IS_NULL},
                 {"not_null", REST_IS_NOT_NULL},
                 {"true", REST_IS_TRUE},
                 {"false", REST_IS_FALSE},
                 {"unknown", REST_IS_UNKNOWN}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcasecmp(v, words[i].w)) {
            c->is = words[i].is;
            return 0;
        }
    return rg_fail(p, "is. takes null, not_null, true, false or unknown");
}

static const char *rg_like_pattern(arena_t *a, const char *v)
{
    char *s = arena_strdup(a, v);
    for (char *c = s; *c; c++)
        if (*c == '*') *c = '%';
    return s;
}

/* [not.]op[(mod|lang)].operand ; in_tree: the operand ends at , or ) */
static int rg_opexpr(rg_t *p, rest_cond_t *c, bool in_tree)
{
    c->kind = REST_COND_LEAF;
    if (!strncmp(p->s, "not.", 4)) {
        c->negate = true;
        p->s += 4;
    }
    const char *b = p->s;
    while (isalpha((unsigned char)*p->s))
        p->s++;
    size_t n = (size_t)(p->s - b);
    bool found = false;
    for (size_t i = 0; i < sizeof rg_ops / sizeof rg_ops[0]; i++)
        if (strlen(rg_ops[i].name) == n && !strncmp(b, rg_ops[i].name, n)) {
            c->op = rg_ops[i].op;
            found = true;
        }
    if (!found) {
        p->s = b;
        return rg_fail(p, "unknown operator");
    }
    if (*p->s == '(') {
        const char *mb = ++p->s;
        while (*p->s && *p->s != ')')
            p->s++;
        if (*p->s != ')') return rg_fail(p, "expected )");
        char *m = arena_strndup(p->a, mb, (size_t)(p->s - mb));
        p->s++;
        if (rg_is_fts(c->op))
            c->lang = m;
        else if (rg_takes_mod(c->op) && !strcmp(m, "any"))
            c->mod = REST_MOD_ANY;
        else if (rg_takes_mod(c->op) && !strcmp(m, "all"))
            c->mod = REST_MOD_ALL;
        else
            return rg_fail(p, "expected (any), (all) or an fts language");
    }
    if (*p->s != '.') return rg_fail(p, "expected . after the operator");
    p->s++;
    const char *v = in_tree ? rg_tree_operand(p) : arena_strdup(p->a, p->s);
    if (!v) return -1;
    if (!in_tree) p->s += strlen(p->s);
    c->value = v;
    if (c->op == REST_OP_IN) return rg_in_list(p, v, c);
    if (c->op == REST_OP_IS) return rg_is_value(p, v, c);
    if (c->op == REST_OP_LIKE || c->op == REST_OP_ILIKE) c->value = rg_like_pattern(p->a, v);
    return 0;
}

static int rg_logic(rg_t *p, rest_cond_t *c, int depth);

/* One element of a logic tree: a nested and/or, or field.[not.]op.value */
static int rg_tree_elem(rg_t *p, rest_cond_t *c, int depth)
{
    while (*p->s == ' ')
        p->s++;
    const char *save = p->s;
    bool neg = false;
    if (!strncmp(p->s, "not.", 4)) {
        neg = true;
        p->s += 4;
    }
    if (!strncmp(p->s, "and(", 4) || !strncmp(p->s, "or(", 3)) {
        c->kind = p->s[0] == 'a' ? REST_COND_AND : REST_COND_OR;
        c->negate = neg;
        p->s += c->kind == REST_COND_AND ? 3 : 2;
        return rg_logic(p, c, depth + 1);
    }
    p->s = save;
    if (rg_field(p, ".,()", &c->field)) return -1;
    if (*p->s != '.') return rg_fail(p, "expected . after the column");
    p->s++;
    return rg_opexpr(p, c, true);
}

/* ( elem , elem ... ) */
static int rg_logic(rg_t *p, rest_cond_t *c, int depth)
{
    if (depth > p->lim->max_logic_depth) return rg_fail(p, "logic tree nested too deeply");
    if (*p->s != '(') return rg_fail(p, "expected (");
    p->s++;
    for (;;) {
        if (rg_budget(p)) return -1;
        rest_cond_t *k = arena_calloc(p->a, sizeof *k);
        if (rg_tree_elem(p, k, depth)) return -1;
        rg_cond_push(p->a, c, k);
        if (*p->s == ',') {
            p->s++;
            continue;
        }
        if (*p->s != ')') return rg_fail(p, "expected , or )");
        p->s++;
        return 0;
    }
}

int rg_filter_kv(rg_t *p, const char *key, const char *value, rest_cond_t **out)
{
    rest_cond_t *c = arena_calloc(p->a, sizeof *c);
    *out = c;
    if (rg_budget(p)) return -1;
    bool neg = !strncmp(key, "not.", 4);
    const char *k = neg ? key + 4 : key;
    if (!strcmp(k, "or") || !strcmp(k, "and")) {
        c->kind = k[0] == 'o' ? REST_COND_OR : REST_COND_AND;
        c->negate = neg;
        p->param = key;
        if (rg_logic(p, c, 1)) return -1;
        if (*p->s) return rg_fail(p, "unexpected text after the logic tree");
        return 0;
    }
    rg_t f = *p;
    f.s = f.start = key;
    f.param = "filter";
    if (rg_field(&f, "(),", &c->field)) return -1;
    if (*f.s) return rg_fail(&f, "unexpected text in the column name");
    p->param = "filter";
    p->budget = f.budget;
    return rg_opexpr(p, c, false);
}

int rest_parse_filter(arena_t *a, const char *key, const char *value, const rest_limits_t *lim,
                      rest_cond_t **out, rest_error_t *err)
{
    int budget = lim->max_items;
    rg_t p;
    rg_init(&p, a, value, "filter", lim, err, &budget);
    return rg_filter_kv(&p, key, value, out);
}
