/*
 * rest/export - streaming export of a SELECT as NDJSON or CSV.
 *
 * The Data API's read path hands over the SQL it built from the snapshot
 * (identifiers from the catalog, every value a bound parameter) when the
 * client asks for `Accept: application/x-ndjson` or `text/csv`; the rows then
 * go out as PostgreSQL produces them (db_stream_*: cursor batches), framed as
 * chunks (http_stream_*), with the client's socket pausing the FETCHes. Memory
 * is bounded by two batches plus the stream's high-water mark, whatever the
 * size of the result. A client that disconnects cancels the query. A request
 * with a role of its own (auth) reads as that role: SET LOCAL ROLE and the
 * request.* settings in the cursor's transaction, as every other Data API read.
 *
 * NDJSON: one line per row, byte for byte PostgreSQL's own row_to_json() of
 * the row (so the JSON is exactly what PostgREST would embed in its array:
 * numeric digits, bigint, timestamps, json columns, arrays). Encoded here from
 * the text columns when every column's type allows (rest/export_json: it
 * keeps the server as cheap as a plain SELECT), else by row_to_json() on the
 * server. The one change: a raw CR or LF, which can only be insignificant
 * whitespace inside a json column, becomes a blank, so every object stays on
 * its line.
 * CSV: a header row of the column names, then the rows, quoted as PostgreSQL's
 * COPY ... (FORMAT csv, HEADER) quotes them (RFC 4180 quoting: a field with a
 * comma, quote, CR or LF is quoted, quotes doubled; NULL is an empty field, an
 * empty string is ""); lines end with LF, as COPY's and PostgREST's do.
 *
 * May include: auth, http, db, json, util (a layer above them; below the handlers).
 */
#ifndef LAKEAPI_REST_EXPORT_H
#define LAKEAPI_REST_EXPORT_H

#include <stdbool.h>

#include "lakeapi/db.h"
#include "lakeapi/http.h"

typedef enum { REST_EXPORT_NDJSON = 1, REST_EXPORT_CSV = 2 } rest_export_format_t;

/* The export format an Accept header asks for (first listed wins), or 0 for neither. */
rest_export_format_t rest_export_format_from_accept(const char *accept);
const char *rest_export_content_type(rest_export_format_t fmt);

typedef struct rest_export_opts {
    int batch_rows; /* rows per FETCH; 0 = REST_EXPORT_BATCH */
    /*
     * Answers a failure that happened before the first byte was sent (the
     * status can still say what went wrong). NULL: a PostgREST-shaped JSON
     * error with a generic message (never the server's text).
     */
    void (*send_error)(http_exchange_t *ex, const db_result_t *r, void *data);
    void *data;
} rest_export_opts_t;

#define REST_EXPORT_BATCH 2000

/*
 * Streams the rows of sql (a SELECT; its select list names the columns) as the
 * response to ex. sql and values are copied. Headers added to ex before the
 * call go out with the response. opts may be NULL. Takes over ex: the export
 * sends the response (or the error) itself.
 */
void rest_export_start(http_exchange_t *ex, db_pool_t *pool, rest_export_format_t fmt,
                       const char *sql, int nparams, const char *const *values,
                       const rest_export_opts_t *opts);

/* ---- encoders (exposed for unit tests) ---- */
#include "lakeapi/buf.h"
/* Appends one CSV field as COPY (FORMAT csv) writes it; value NULL = SQL NULL. */
void rest_csv_field(buf_t *b, const char *value, size_t len, bool single_column);
/* Appends one NDJSON line: the row's JSON with raw CR/LF made blanks, then LF. */
void rest_ndjson_line(buf_t *b, const char *json, size_t len);

#endif
