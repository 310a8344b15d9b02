/*
 * rest/sql_internal.h - what sql.c (reads), sql_select.c (select lists,
 * embedding) and sql_write.c (writes) share. Not part of the rest interface.
 */
#ifndef LAKEAPI_REST_SQL_INTERNAL_H
#define LAKEAPI_REST_SQL_INTERNAL_H

#include "rest/sql.h"

/* A resolved select level: the root table or one embedded resource. */
typedef struct sq_node sq_node_t;
struct sq_node {
    const rest_table_t *t;
    const rest_select_t *sel; /* NULL: every column */
    const char *label;        /* the embed's output key (alias or name); "" for the root */
    const char *path;         /* its scope path: "" root, "rel", "rel.sub" */
    const rest_scope_t *scope;
    bool plain;          /* only catalog-named columns: a plain select list works */
    int pairs;           /* output fields (json_build_object takes 50 pairs) */
    const rest_fk_t *fk; /* the relationship to the parent level (embeds) */
    bool to_one;         /* the parent holds the key (fk->from is the parent) */
    bool inner;
    sq_node_t **kids; /* parallel to sel->items: the embed's node, or NULL */
};

#define SQ_PAIRS_MAX 50 /* json_build_object takes at most 100 arguments */

typedef struct sq_ctx {
    rest_sql_t *s;
    const rest_snapshot_t *snap;
    const rest_query_t *q;
    rest_error_t *err;
    int next_alias;
} sq_ctx_t;

buf_t *sq_redirect(rest_sql_t *s, buf_t *to);
int sq_field(rest_sql_t *s, const rest_table_t *t, const char *alias, const rest_field_t *f,
             bool in_filter, const rest_column_t **col, rest_error_t *err);
int sq_cond(rest_sql_t *s, const rest_table_t *t, const char *alias, const rest_cond_t *c,
            rest_error_t *err);
int sq_order(rest_sql_t *s, const rest_table_t *t, const char *alias, const rest_scope_t *sc,
             rest_error_t *err);
void sq_limit(rest_sql_t *s, long limit, long offset);

/* sql_select.c */
int sq_resolve(sq_ctx_t *cx, const rest_table_t *t, const rest_select_t *sel, const char *path,
               int depth, sq_node_t **out);
/* The node's select list: catalog columns (plain) or one json_build_object AS _o. */
int sq_select_list(sq_ctx_t *cx, const sq_node_t *n, const char *alias);
/* Resolves the root level and checks that every embedded scope names an embed (PGRST108). */
int sq_root(sq_ctx_t *cx, const rest_table_t *t, sq_node_t **root);
/* The node's WHERE: its scope's filters and an EXISTS per !inner embed. */
int sq_where(sq_ctx_t *cx, const sq_node_t *n, const char *alias);

#endif
