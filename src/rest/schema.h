/*
 * rest/schema - the schema snapshot: every table, view and materialized view
 * of LAKEAPI_SCHEMAS with its columns, types, nullability, defaults, primary
 * key and foreign keys (both directions), read from pg_catalog in one
 * statement (so one consistent catalog state) and kept immutable.
 *
 * A snapshot is refcounted: a request takes a reference when it starts and
 * drops it when it has answered, so a reload never changes what an in-flight
 * request sees; the loader swaps the current pointer when a new snapshot is
 * complete (the loop is single-threaded: the swap is atomic for requests).
 *
 * Memory: a snapshot owns everything it points to; rest_snapshot_unref()
 * frees it with its last reference.
 */
#ifndef LAKEAPI_REST_SCHEMA_H
#define LAKEAPI_REST_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rest/export_json.h"

typedef struct rest_table rest_table_t;

typedef struct rest_column {
    char *name;
    char *type;    /* format_type(): "integer", "numeric(12,2)", "text[]" ... */
    char *typname; /* pg_type.typname of the element type: "int4", "text", "jsonb" */
    char category; /* pg_type.typcategory of the element type (N, S, B, D, U, ...) */
    bool is_array; /* an array of typname */
    bool nullable;
    bool has_default;   /* a default, identity or generated column */
    bool generated;     /* GENERATED ALWAYS AS (...) STORED: never written */
    char *default_expr; /* pg_get_expr of the default, or NULL */
    char *description;  /* col_description, or NULL */
    int position;       /* attnum order, from 0 */
    bool in_pk;
    bool encodable; /* not an array, and a type rest/export_json writes (rest_ej_typname_ok) */
} rest_column_t;

/* A foreign key from `from` (child) to `to` (parent). */
typedef struct rest_fk {
    char *name;
    rest_table_t *from, *to;
    int *from_cols, *to_cols; /* column indexes, pairwise */
    int ncols;
} rest_fk_t;

struct rest_table {
    char *schema, *name;
    char *qname; /* quoted and qualified: "public"."orders" */
    char kind;   /* relkind: r table, p partitioned, v view, m materialized view, f foreign */
    char *description;
    rest_column_t *cols;
    int ncols;
    int *pk; /* column indexes of the primary key */
    int npk;
    rest_fk_t **fks; /* every FK where this table is the child or the parent */
    int nfks;
    double est_rows; /* pg_class.reltuples (-1 unknown) */
    /* The JSON encoding of every column in order (a plain `select=*` read), made
       once per snapshot; not ready when a column needs PostgreSQL's to_json. */
    rest_ej_plan_t rows_plan;
    /* Every column as the top-level read selects it: `_t0."a", _t0."b"` (NULL without columns). */
    char *star_select;
};

typedef struct rest_snapshot {
    int refs;
    uint64_t version; /* 1, 2, ... one per successful load */
    char **schemas;   /* LAKEAPI_SCHEMAS in order; schemas[0] is the default profile */
    int nschemas;
    rest_table_t *tables; /* sorted by (schema, name) */
    int ntables;
    rest_fk_t *fks;
    int nfks;
    double loaded_ms; /* how long the load took */
} rest_snapshot_t;

/* The catalog statement; $1 is the schema list as a text[] literal. */
const char *rest_schema_sql(void);
/*
 * Builds a snapshot from the statement's one JSON value (text). Returns NULL
 * with err set when the document is malformed. schemas are copied.
 */
rest_snapshot_t *rest_snapshot_from_json(const char *json, const char *const *schemas, int nschemas,
                                         char *err, size_t errlen);
rest_snapshot_t *rest_snapshot_ref(rest_snapshot_t *s);
void rest_snapshot_unref(rest_snapshot_t *s);

const rest_table_t *rest_snapshot_table(const rest_snapshot_t *s, const char *schema,
                                        const char *name);
/* Column index by name, -1 if none. */
int rest_table_column(const rest_table_t *t, const char *name);
/* true when the schema is one of LAKEAPI_SCHEMAS. */
bool rest_snapshot_has_schema(const rest_snapshot_t *s, const char *schema);
/*
 * The closest name to `wanted` among the candidates (Levenshtein, within a
 * third of the length), for "Perhaps you meant" hints; NULL when none is close.
 */
const char *rest_closest_table(const rest_snapshot_t *s, const char *schema, const char *wanted);
const char *rest_closest_column(const rest_table_t *t, const char *wanted);

#endif
