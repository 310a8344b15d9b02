/*
 * rest/grammar_internal.h - the parser state shared by grammar.c,
 * grammar_filter.c and grammar_prefer.c. Not part of the rest interface.
 */
#ifndef LAKEAPI_REST_GRAMMAR_INTERNAL_H
#define LAKEAPI_REST_GRAMMAR_INTERNAL_H

#include "rest/grammar.h"

typedef struct rg {
    arena_t *a;
    const char *start; /* the parameter's whole text (for messages) */
    const char *s;     /* the cursor */
    const char *param; /* the parameter's name (for messages) */
    const rest_limits_t *lim;
    rest_error_t *err;
    int budget; /* items left before the query is over its limits */
} rg_t;

void rg_init(rg_t *p, arena_t *a, const char *s, const char *param, const rest_limits_t *lim,
             rest_error_t *err, int *budget);
int rg_fail(rg_t *p, const char *what);
int rg_budget(rg_t *p);
const char *rg_quoted(rg_t *p);
const char *rg_name(rg_t *p, const char *stops);
int rg_field(rg_t *p, const char *stops, rest_field_t *f);
int rg_order(rg_t *p, rest_order_t **out, int *n);
void rg_cond_push(arena_t *a, rest_cond_t *parent, rest_cond_t *kid);
/* A filter given as key=value: key is a field, `or`, `and`, `not.or`, `not.and`. */
int rg_filter_kv(rg_t *p, const char *key, const char *value, rest_cond_t **out);

#endif
