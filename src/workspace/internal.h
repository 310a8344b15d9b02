/*
 * workspace/internal.h - the pieces of the workspace client, shared between
 * its files and the unit tests; not part of the public interface.
 *
 *   rules.c        pure functions: error descriptions and fields, OAuth token
 *                  responses, the refresh rule, scrubbing, URL escaping
 *   http_client.c  asynchronous HTTP on a libuv loop (libcurl multi-socket)
 *   workspace.c    the auth (PAT or cached OAuth M2M token) and workspace_call()
 *
 * Layer workspace: may include json, config, log, util.
 */
#ifndef LAKEAPI_WORKSPACE_INTERNAL_H
#define LAKEAPI_WORKSPACE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "lakeapi/workspace.h"
#include "lakeapi/ws_http.h"

#define WS_TOKEN_MARGIN_S 40.0   /* refresh an OAuth token this long before expiry */
#define WS_DEFAULT_TTL_S  3600.0 /* an OAuth response without expires_in */

/* ---- rules.c (pure) ---- */

/*
 * The error fields of a response body: Databricks {"error_code","message"}
 * or OAuth {"error","error_description"}. Both "" when absent.
 */
void ws_error_fields(const char *body, size_t len, char *code, size_t code_n, char *message,
                     size_t message_n);

/*
 * Parses an OAuth token response {"access_token","expires_in"}. Returns 0 with
 * *token (malloc'ed) and *expires_at (unix s), or -1 with err (never quoting
 * the body, which may hold a token).
 */
int ws_parse_oauth_token(const char *body, size_t len, double now, char **token, double *expires_at,
                         char *err, size_t errlen);

/* ---- http_client.c: its interface is public, lakeapi/ws_http.h ---- */

#endif
