/*
 * rest/grammar - PostgREST's URL and header grammar, parsed into an AST.
 *
 * Owns: the syntax of `select=`, filters (`col=op.value`, `not.`, `or=(...)`,
 * `and=(...)` nested), `order=`, `limit`/`offset`, `columns=`, `on_conflict=`,
 * embedded-resource options (`rel.col=...`, `rel.order=`, `rel.limit=`), the
 * `Prefer` header and the `Range`/`Range-Unit` headers. It knows nothing of a
 * database: names are plain strings as the client wrote them, values are
 * strings. Resolving names (rest/schema) and building SQL (rest/sql, or the
 * lakehouse backend) happen elsewhere, so this file may include util only.
 *
 * Memory: every node and string comes from the caller's arena; nothing to free.
 * Errors: a rest_error_t in PostgREST's shape (code PGRST100 etc., HTTP status).
 */
#ifndef LAKEAPI_REST_GRAMMAR_H
#define LAKEAPI_REST_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>

#include "lakeapi/arena.h"

/* PostgREST's error body; strings live in the arena (or are static). */
typedef struct rest_error {
    int status;          /* HTTP status */
    const char *code;    /* "PGRST100", or a SQLSTATE */
    const char *message; /* never NULL once set */
    const char *details; /* NULL = JSON null */
    const char *hint;    /* NULL = JSON null */
} rest_error_t;

/* Sets *e; message/details/hint are copied into the arena. Returns -1. */
int rest_error_set(rest_error_t *e, arena_t *a, int status, const char *code, const char *message,
                   const char *details, const char *hint);

typedef struct rest_limits {
    size_t max_query_len; /* bytes of the raw query string */
    int max_depth;        /* select nesting (1 = no embedding) */
    int max_items;        /* select items, filters, order terms, list values in total */
    int max_logic_depth;  /* nesting of or/and trees */
} rest_limits_t;

void rest_limits_default(rest_limits_t *l);

/* ---- fields: a column with an optional JSON path ---- */
typedef struct rest_json_step {
    const char *key; /* the key, or an integer index as text */
    bool as_text;    /* ->> rather than -> */
    bool is_index;   /* key is an integer (array element) */
} rest_json_step_t;

typedef struct rest_field {
    const char *name; /* column name as written (quotes removed) */
    rest_json_step_t *path;
    int npath;
} rest_field_t;

/* The output key of a field: the alias, else the last JSON key, else the column. */
const char *rest_field_label(const rest_field_t *f, const char *alias);

/* ---- select ---- */
typedef enum { REST_SEL_STAR, REST_SEL_FIELD, REST_SEL_EMBED } rest_sel_kind_t;

typedef struct rest_select rest_select_t;
typedef struct rest_sel_item {
    rest_sel_kind_t kind;
    const char *alias;  /* NULL if none */
    rest_field_t field; /* REST_SEL_FIELD */
    const char *cast;   /* REST_SEL_FIELD: type name after ::, or NULL */
    /* REST_SEL_EMBED */
    const char *rel;  /* the related table (or FK) name as written */
    const char *hint; /* !hint (an FK constraint or column name), or NULL */
    bool inner;       /* !inner */
    rest_select_t *sub;
} rest_sel_item_t;

struct rest_select {
    rest_sel_item_t *items;
    int nitems;
};

/* ---- filters ---- */
typedef enum {
    REST_OP_EQ,
    REST_OP_NEQ,
    REST_OP_GT,
    REST_OP_GTE,
    REST_OP_LT,
    REST_OP_LTE,
    REST_OP_LIKE,
    REST_OP_ILIKE,
    REST_OP_MATCH,
    REST_OP_IMATCH,
    REST_OP_IN,
    REST_OP_IS,
    REST_OP_ISDISTINCT,
    REST_OP_CS,
    REST_OP_CD,
    REST_OP_OV,
    REST_OP_SL,
    REST_OP_SR,
    REST_OP_NXR,
    REST_OP_NXL,
    REST_OP_ADJ,
    REST_OP_FTS,
    REST_OP_PLFTS,
    REST_OP_PHFTS,
    REST_OP_WFTS,
} rest_op_t;

const char *rest_op_name(rest_op_t op);

typedef enum { REST_MOD_NONE, REST_MOD_ANY, REST_MOD_ALL } rest_mod_t;
typedef enum {
    REST_IS_NULL,
    REST_IS_NOT_NULL,
    REST_IS_TRUE,
    REST_IS_FALSE,
    REST_IS_UNKNOWN
} rest_is_t;

typedef enum { REST_COND_LEAF, REST_COND_AND, REST_COND_OR } rest_cond_kind_t;

typedef struct rest_cond rest_cond_t;
struct rest_cond {
    rest_cond_kind_t kind;
    bool negate;
    /* leaf */
    rest_field_t field;
    rest_op_t op;
    rest_mod_t mod;
    const char *value;   /* the operand (like: '*' already turned into '%') */
    const char **values; /* REST_OP_IN: the list */
    int nvalues;
    rest_is_t is;     /* REST_OP_IS */
    const char *lang; /* fts(lang), or NULL */
    /* and / or */
    rest_cond_t **kids;
    int nkids;
};

/* ---- order ---- */
typedef struct rest_order {
    rest_field_t field;
    bool desc;
    int nulls; /* 0 = default, 1 = nulls first, 2 = nulls last */
} rest_order_t;

/* Options scoped to one resource: the root (path "") or an embedded one ("rel"). */
typedef struct rest_scope {
    const char *path;   /* "" for the root, else the embed's name or alias */
    rest_cond_t *where; /* an AND node (possibly without kids) */
    rest_order_t *order;
    int norder;
    long limit;  /* -1 = none */
    long offset; /* 0 = none */
} rest_scope_t;

typedef struct rest_query {
    rest_select_t *select; /* NULL = `*` */
    rest_scope_t *scopes;  /* scopes[0] is the root */
    int nscopes;
    const char **columns; /* columns= (writes), or NULL */
    int ncolumns;
    const char **on_conflict; /* on_conflict=, or NULL */
    int non_conflict;
    const char *cursor; /* cursor= (opaque; rest/cursor decodes it), or NULL */
    bool has_filters;   /* any filter on the root scope */
} rest_query_t;

/* Parses a raw (percent-encoded) query string. Returns 0, or -1 with *err set. */
int rest_parse_query(arena_t *a, const char *raw, size_t len, const rest_limits_t *lim,
                     rest_query_t *out, rest_error_t *err);
/* Finds or adds the scope of an embed path (for the SQL builder). NULL if absent. */
rest_scope_t *rest_query_scope(const rest_query_t *q, const char *path);

/* Individual pieces, exposed for the lakehouse backend and the tests. */
int rest_parse_select(arena_t *a, const char *s, const rest_limits_t *lim, rest_select_t **out,
                      rest_error_t *err);
int rest_parse_filter(arena_t *a, const char *key, const char *value, const rest_limits_t *lim,
                      rest_cond_t **out, rest_error_t *err);
int rest_parse_order(arena_t *a, const char *s, rest_order_t **out, int *n, rest_error_t *err);

/* ---- Prefer ---- */
typedef enum { REST_RET_DEFAULT, REST_RET_MINIMAL, REST_RET_HEADERS, REST_RET_REPR } rest_return_t;
typedef enum {
    REST_COUNT_NONE,
    REST_COUNT_EXACT,
    REST_COUNT_PLANNED,
    REST_COUNT_ESTIMATED
} rest_count_t;
typedef enum { REST_RES_NONE, REST_RES_MERGE, REST_RES_IGNORE } rest_resolution_t;

typedef struct rest_prefer {
    rest_return_t ret;
    rest_count_t count;
    rest_resolution_t resolution;
    bool tx_rollback;
    bool tx_set;          /* tx=commit|rollback was given */
    bool strict;          /* handling=strict */
    long max_affected;    /* -1 = none */
    bool missing_default; /* missing=default */
    const char *applied;  /* the Preference-Applied header value, or NULL */
} rest_prefer_t;

/* Parses one or more Prefer header values (comma-separated). NULL = none. */
int rest_parse_prefer(arena_t *a, const char *header, rest_prefer_t *out, rest_error_t *err);

/*
 * Range: "items=0-24" style is not PostgREST's; it sends "Range: 0-24" with
 * "Range-Unit: items". Sets *offset and *limit (-1 = open end). An absent or
 * unparsable header leaves them untouched and returns 0 (PostgREST ignores it);
 * an inverted range is 416 PGRST103.
 */
int rest_parse_range(arena_t *a, const char *range, const char *unit, long *offset, long *limit,
                     rest_error_t *err);

/* Percent-decodes (with '+' as blank) into the arena; NULL if malformed or %00. */
char *rest_pct_decode(arena_t *a, const char *s, size_t len);

#endif
