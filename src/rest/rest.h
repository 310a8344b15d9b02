/*
 * rest - the Data API: any table or view of LAKEAPI_SCHEMAS served under
 * REST_PREFIX (default /rest/v1) in PostgREST's grammar.
 *
 * This folder owns: the grammar (grammar.*: URL and header syntax into an AST,
 * backend-neutral, reused by the lakehouse backend), the schema snapshot and its
 * reload (schema.*), the SQL builder over snapshot names only (sql.*), the
 * request handlers and PostgREST's error mapping (handler.*, errors.*), and the
 * OpenAPI of the discovered tables (openapi.*). Streaming export (export.*) and
 * keyset cursor tokens (cursor.*) live here too, built by the stream work.
 *
 * May include: web, auth, http, db, json, config, util. Never api or lakehouse.
 */
#ifndef LAKEAPI_REST_H
#define LAKEAPI_REST_H

#endif
