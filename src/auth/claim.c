/*
 * auth/claim - where in the claims the role is: PostgREST's JSPath for
 * jwt-role-claim-key, and ADMIN_CLAIM predicates built on it.
 *
 * Grammar (PostgREST v12-14, plus the RFC 9535 spellings its v15 accepts):
 *   path   := ["$"] step+
 *   step   := "." key | "." '"' quoted '"' | "[" index "]" | "[" quoted-in-brackets "]"
 *           | "[?(@" op '"' string '"' ")]"
 *   key    := [A-Za-z0-9_$@]+          index := -?[0-9]+ (negative counts from the end)
 *   op     := "==" | "!=" | "^==" (starts with) | "==^" (ends with) | "*==" (contains)
 * A filter selects the first array element (a string) that matches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"

#define PATH_MAX_STEPS 16

typedef enum { STEP_KEY, STEP_INDEX, STEP_FILTER } step_kind_t;
typedef enum { OP_EQ, OP_NE, OP_PREFIX, OP_SUFFIX, OP_CONTAINS } filter_op_t;

typedef struct {
    step_kind_t kind;
    char *text; /* key or filter operand */
    long index;
    filter_op_t op;
} path_step_t;

struct auth_path {
    path_step_t steps[PATH_MAX_STEPS];
    int n;
};

void auth_path_free(auth_path_t *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++)
        free(p->steps[i].text);
    free(p);
}

static bool claim_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c == '@';
}

/* A quoted string at *s (quote char q, backslash escapes); advances past the closing quote. */
static char *claim_quoted(const char **s, char q)
{
    const char *p = *s + 1;
    size_t cap = strlen(p) + 1, n = 0;
    char *out = malloc(cap);
    if (!out) abort();
    for (; *p && *p != q; p++) {
        if (*p == '\\' && p[1]) p++;
        out[n++] = *p;
    }
    if (*p != q) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    *s = p + 1;
    return out;
}

static const char *claim_skip_blanks(const char *s)
{
    while (*s == ' ')
        s++;
    return s;
}

static int claim_filter(const char **s, path_step_t *st)
{
    static const struct {
        const char *text;
        filter_op_t op;
    } ops[] = {
        {"^==", OP_PREFIX}, {"==^", OP_SUFFIX}, {"*==", OP_CONTAINS}, {"==", OP_EQ}, {"!=", OP_NE}};
    const char *p = claim_skip_blanks(*s + 3); /* past "[?(" */
    if (*p != '@') return -1;
    p = claim_skip_blanks(p + 1);
    size_t i;
    for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strncmp(p, ops[i].text, strlen(ops[i].text)) == 0) break;
    if (i == sizeof ops / sizeof ops[0]) return -1;
    p = claim_skip_blanks(p + strlen(ops[i].text));
    if (*p != '"' && *p != '\'') return -1;
    st->text = claim_quoted(&p, *p);
    if (!st->text) return -1;
    p = claim_skip_blanks(p);
    if (strncmp(p, ")]", 2) != 0) return -1;
    st->kind = STEP_FILTER;
    st->op = ops[i].op;
    *s = p + 2;
    return 0;
}

static int claim_step(const char **s, path_step_t *st)
{
    const char *p = *s;
    if (p[0] == '.' && (p[1] == '"' || p[1] == '\'')) {
        p++;
        st->kind = STEP_KEY;
        st->text = claim_quoted(&p, *p);
    } else if (p[0] == '.') {
        size_t n = 0;
        while (claim_key_char(p[1 + n]))
            n++;
        if (n == 0) return -1;
        st->kind = STEP_KEY;
        st->text = strndup(p + 1, n);
        p += 1 + n;
    } else if (strncmp(p, "[?(", 3) == 0) {
        return claim_filter(s, st);
    } else if (p[0] == '[' && (p[1] == '"' || p[1] == '\'')) {
        p++;
        st->kind = STEP_KEY;
        st->text = claim_quoted(&p, *p);
        if (!st->text || *p != ']') return -1;
        p++;
    } else if (p[0] == '[') {
        char *end;
        st->kind = STEP_INDEX;
        st->index = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end != ']') return -1;
        p = end + 1;
    } else {
        return -1;
    }
    if ((st->kind == STEP_KEY && !st->text)) return -1;
    *s = p;
    return 0;
}

auth_path_t *auth_path_parse(const char *s, char *err, size_t errlen)
{
    auth_path_t *p = calloc(1, sizeof *p);
    if (!p) abort();
    const char *c = s;
    if (*c == '$') c++;
    while (*c) {
        if (p->n == PATH_MAX_STEPS || claim_step(&c, &p->steps[p->n]) != 0) {
            if (p->n < PATH_MAX_STEPS) p->n++; /* free a half-parsed step's text */
            snprintf(err, errlen, "'%s' is not a claim path (e.g. .role or .realm_access.roles[0])",
                     s);
            auth_path_free(p);
            return NULL;
        }
        p->n++;
    }
    if (p->n == 0) {
        snprintf(err, errlen, "'%s' is not a claim path (e.g. .role)", s);
        auth_path_free(p);
        return NULL;
    }
    return p;
}

static bool claim_filter_match(const path_step_t *st, const char *v)
{
    size_t vl = strlen(v), tl = strlen(st->text);
    switch (st->op) {
    case OP_EQ:
        return strcmp(v, st->text) == 0;
    case OP_NE:
        return strcmp(v, st->text) != 0;
    case OP_PREFIX:
        return vl >= tl && strncmp(v, st->text, tl) == 0;
    case OP_SUFFIX:
        return vl >= tl && strcmp(v + vl - tl, st->text) == 0;
    case OP_CONTAINS:
        return strstr(v, st->text) != NULL;
    }
    return false;
}

json_t *auth_path_eval(const auth_path_t *p, json_t *root)
{
    json_t *cur = root;
    for (int i = 0; cur && i < p->n; i++) {
        const path_step_t *st = &p->steps[i];
        if (st->kind == STEP_KEY) {
            cur = json_object_get(cur, st->text);
        } else if (st->kind == STEP_INDEX) {
            long n = json_is_array(cur) ? (long)json_array_size(cur) : 0;
            long idx = st->index < 0 ? n + st->index : st->index;
            cur = idx >= 0 && idx < n ? json_array_get(cur, (size_t)idx) : NULL;
        } else {
            json_t *found = NULL, *v;
            size_t k;
            if (json_is_array(cur)) {
                json_array_foreach(cur, k, v)
                {
                    if (json_is_string(v) && claim_filter_match(st, json_string_value(v))) {
                        found = v;
                        break;
                    }
                }
            }
            cur = found;
        }
    }
    return cur;
}

int auth_predicate_parse(auth_predicate_t *pr, const char *s, char *err, size_t errlen)
{
    memset(pr, 0, sizeof *pr);
    const char *eq = strstr(s, "==");
    /* "==" inside a filter belongs to the path: only a top-level one splits. */
    const char *close = strrchr(s, ']');
    if (eq && close && eq < close) eq = strstr(close, "==");
    char *path = eq ? strndup(s, (size_t)(eq - s)) : strdup(s);
    if (!path) abort();
    for (size_t n = strlen(path); n > 0 && path[n - 1] == ' '; n--)
        path[n - 1] = '\0';
    pr->path = auth_path_parse(path, err, errlen);
    free(path);
    if (!pr->path) return -1;
    if (eq) {
        json_error_t jerr;
        pr->value = json_loads(claim_skip_blanks(eq + 2), JSON_DECODE_ANY, &jerr);
        if (!pr->value) {
            snprintf(err, errlen, "'%s': the value after == is not a JSON literal", s);
            auth_predicate_dispose(pr);
            return -1;
        }
    }
    return 0;
}

bool auth_predicate_holds(const auth_predicate_t *pr, json_t *claims)
{
    if (!pr->path) return false;
    json_t *v = auth_path_eval(pr->path, claims);
    if (!v) return false;
    return pr->value ? json_equal(v, pr->value) : json_is_true(v);
}

void auth_predicate_dispose(auth_predicate_t *pr)
{
    auth_path_free(pr->path);
    json_decref(pr->value);
    memset(pr, 0, sizeof *pr);
}
