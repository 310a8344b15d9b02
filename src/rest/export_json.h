/*
 * rest/export_json - NDJSON rows encoded from plain text columns exactly as
 * PostgreSQL's row_to_json() writes them (see export_json.c for the rules).
 * Used by rest/export (NDJSON) and rest/read (the JSON array of a plain read).
 */
#ifndef LAKEAPI_REST_EXPORT_JSON_H
#define LAKEAPI_REST_EXPORT_JSON_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "lakeapi/buf.h"

typedef enum {
    REST_EJ_UNSUPPORTED = 0,
    REST_EJ_BOOL,
    REST_EJ_NUMBER,
    REST_EJ_JSON,
    REST_EJ_STRING,
    REST_EJ_TIMESTAMP,
    REST_EJ_TIMESTAMPTZ,
} rest_ej_kind_t;

/*
 * How to encode each column of a result; owns its memory (rest_ej_plan_free).
 * Read-only once made: one plan may be used by several threads at once.
 */
typedef struct rest_ej_plan {
    bool ready;
    int n;
    rest_ej_kind_t *kinds;
    buf_t keys;      /* `{"a":` `,"b":` ... back to back */
    size_t *key_end; /* end of column j's key in keys */
} rest_ej_plan_t;

/* false (and nothing to free) when a column's type needs PostgreSQL's own to_json. */
bool rest_ej_plan_init(rest_ej_plan_t *p, const PGresult *desc);
/*
 * The same from catalog names and pg_type.typnames (a table's columns), made
 * before any result exists; rest_ej_plan_fits says whether a result matches it.
 */
bool rest_ej_plan_init_columns(rest_ej_plan_t *p, int n, const char *const *names,
                               const char *const *typnames);
/* Does res have exactly the plan's columns (names, in order, and encodings)? */
bool rest_ej_plan_fits(const rest_ej_plan_t *p, const PGresult *res);
void rest_ej_plan_free(rest_ej_plan_t *p);
/* Appends row's JSON object and a LF (NDJSON: CR/LF inside json values become blanks). */
void rest_ej_row(const rest_ej_plan_t *p, const PGresult *res, int row, buf_t *out);
/*
 * Appends every row as the JSON array json_agg() of the same SELECT writes
 * (byte for byte: `[{...}, \n {...}]`, json values verbatim); `[]` for none.
 */
void rest_ej_array(const rest_ej_plan_t *p, const PGresult *res, buf_t *out);
/* Is a column of this pg_type.typname (not an array) encoded here? */
bool rest_ej_typname_ok(const char *typname);
/* PostgreSQL's IsValidJsonNumber. */
bool rest_ej_is_number(const char *s, size_t n);

#endif
