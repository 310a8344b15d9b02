/*
 * rest/sql - a parsed request (rest/grammar) plus the schema snapshot
 * (rest/schema) into ONE parameterized SQL statement.
 *
 * Safe by construction: every identifier written into the SQL text comes
 * from the snapshot (a name the snapshot does not have is a PGRST204/205
 * error, never quoted through), and every value, JSON key, alias and output
 * label is a bound parameter. PostgreSQL writes the JSON (json_agg,
 * json_build_object, to_json), so numeric digits, bigint, timestamps, arrays,
 * json and bytea come out exactly as PostgREST (which does the same) writes
 * them. Embedding is a correlated subquery per embedded resource.
 *
 * Hook points for the other Data API parts:
 *  - rest_sql_rows(): the plain SELECT (columns named by catalog names), for
 *    the streaming export to wrap (COPY, cursors).
 *  - opts.extra_where: appends a condition to the root WHERE (the keyset
 *    cursor); it adds its values with rest_sql_param() and names columns with
 *    rest_sql_column().
 *
 * Memory: texts and parameter arrays live in the caller's arena.
 */
#ifndef LAKEAPI_REST_SQL_H
#define LAKEAPI_REST_SQL_H

#include <stdbool.h>

#include "lakeapi/arena.h"
#include "lakeapi/buf.h"
#include "rest/grammar.h"
#include "rest/schema.h"

typedef struct rest_sql {
    arena_t *a;
    buf_t *text; /* the statement being written (owned by the builder, see rest_sql_init) */
    const char **params;
    int nparams, cap;
} rest_sql_t;

void rest_sql_init(rest_sql_t *s, arena_t *a);
/* The finished SQL text, copied into the arena; frees the builder's buffer. */
const char *rest_sql_finish(rest_sql_t *s);
/* Adds a bound value; returns its placeholder number ($n). value may be NULL (SQL NULL). */
int rest_sql_param(rest_sql_t *s, const char *value);
/* Appends "$n" for a new parameter holding value. */
void rest_sql_append_param(rest_sql_t *s, const char *value);
/* Appends alias."column" for a snapshot column (the only way a name reaches the text). */
void rest_sql_column(rest_sql_t *s, const char *alias, const rest_column_t *c);
void rest_sql_ident(buf_t *b, const char *catalog_name);

/* Appends " AND (...)" to the root WHERE; alias is the root table's alias. -1 = error set. */
typedef int (*rest_where_hook_fn)(rest_sql_t *s, const char *alias, const rest_table_t *t,
                                  void *data, rest_error_t *err);

typedef struct rest_read_opts {
    long offset, limit;  /* effective (query params and Range merged); limit -1 = none */
    long max_rows;       /* DB_MAX_ROWS: caps limit; 0 = none */
    bool with_total;     /* add the exact count of the filtered rows as a third column */
    bool limit_plus_one; /* fetch one row beyond limit (to know whether there is more) */
    rest_where_hook_fn extra_where;
    void *extra_where_data;
    /* An extra output column of the read (after the total), an aggregate over _r; or NULL. */
    const char *extra_outer;
} rest_read_opts_t;

/*
 * The read statement. Result: one row, column 0 the JSON array text of the
 * rows, column 1 their number, column 2 (with_total) the count of every row
 * the filters match. Returns 0, or -1 with *err.
 */
int rest_sql_read(rest_sql_t *s, const rest_snapshot_t *snap, const rest_table_t *t,
                  const rest_query_t *q, const rest_read_opts_t *o, rest_error_t *err);

/*
 * The plain SELECT of the same rows (no JSON: for export, and for reads whose
 * rows lakeapi encodes itself). Embeds and aliases are refused.
 */
int rest_sql_rows(rest_sql_t *s, const rest_snapshot_t *snap, const rest_table_t *t,
                  const rest_query_t *q, const rest_read_opts_t *o, rest_error_t *err);

/*
 * Can lakeapi write this read's JSON array itself from rest_sql_rows' plain
 * columns (rest/export_json), instead of json_agg() on the server? Yes when
 * the select list is plain catalog columns (no alias, cast, JSON path or
 * embedding), at least one, all of types export_json encodes exactly.
 */
bool rest_sql_rows_encodable(const rest_table_t *t, const rest_query_t *q);

/* SELECT count(*) of the rows the root filters match ($n as in the read). */
int rest_sql_count(rest_sql_t *s, const rest_snapshot_t *snap, const rest_table_t *t,
                   const rest_query_t *q, rest_error_t *err);
/* EXPLAIN (FORMAT JSON) of that count: the planner's estimate ("Plan Rows"). */
int rest_sql_count_planned(rest_sql_t *s, const rest_snapshot_t *snap, const rest_table_t *t,
                           const rest_query_t *q, rest_error_t *err);

/* ---- writes (sql_write.c) ---- */
typedef enum { REST_W_INSERT, REST_W_UPSERT_PUT, REST_W_UPDATE, REST_W_DELETE } rest_write_kind_t;

typedef struct rest_write_opts {
    rest_write_kind_t kind;
    const char *body;     /* JSON array of objects (INSERT/PUT), or one object (UPDATE) */
    const char **columns; /* the columns the body sets (snapshot names, validated) */
    int ncolumns;
    rest_resolution_t resolution; /* INSERT: ON CONFLICT DO UPDATE / DO NOTHING */
    const char **on_conflict;     /* the conflict target; NULL = primary key */
    int non_conflict;
    bool want_rows;    /* return=representation: column 0 is the JSON of the rows */
    long max_affected; /* -1 = none; beyond it the statement fails (rolls back) */
    bool rollback;     /* tx=rollback: the statement fails after computing its answer */
} rest_write_opts_t;

/*
 * One write statement: column 0 the JSON array of the affected rows (shaped
 * by select=) or NULL, column 1 their number, column 2 the primary key of the
 * first row as a PostgREST filter query ("id=eq.5") for Location.
 */
int rest_sql_write(rest_sql_t *s, const rest_snapshot_t *snap, const rest_table_t *t,
                   const rest_query_t *q, const rest_write_opts_t *o, rest_error_t *err);

/* Markers of the errors a write statement raises on purpose (see sql_write.c). */
#define REST_SQL_MAX_AFFECTED_MARK "lakeapi-max-affected:"
#define REST_SQL_ROLLBACK_MARK     "lakeapi-rollback:"

/* ---- errors both builders raise ---- */
int rest_err_column(rest_error_t *err, arena_t *a, const rest_table_t *t, const char *name);

#endif
