/*
 * credentials/internal.h - the pieces of the credential providers, shared
 * between their files and the unit tests; not part of the public interface.
 *
 *   rules.c        pure functions: RFC 3339 times, response parsing, error
 *                  descriptions, the refresh rule, backoff, UUIDs, scrubbing
 *   http_client.c  async HTTPS POST on a libuv loop (libcurl multi-socket)
 *   workspace.c    the workspace bearer token: PAT or cached OAuth M2M token
 *   lakebase.c     the Lakebase providers and credentials_from_config()
 */
#ifndef LAKEAPI_CREDENTIALS_INTERNAL_H
#define LAKEAPI_CREDENTIALS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lakeapi/config.h"
#include "lakeapi/credentials.h"

#define CRED_DB_MARGIN_S    120.0 /* refresh a database token this long before expiry */
#define CRED_WS_MARGIN_S    40.0  /* refresh a workspace token this long before expiry */
#define CRED_BACKOFF_MIN_S  0.5
#define CRED_BACKOFF_MAX_S  30.0
#define CRED_DEFAULT_TTL_S  3600.0 /* a token response without an expiry */
#define CRED_HTTP_TIMEOUT_S 10.0   /* at most the default DB_POOL_TIMEOUT: fail clearly first */
#define CRED_MAX_RESPONSE   (1024 * 1024)

/* ---- rules.c (pure) ---- */

/* RFC 3339 date-time ("2025-01-31T12:00:00.25Z", "...+02:00") to unix seconds. 0 or -1. */
int cred_parse_rfc3339(const char *s, double *out);

/* The refresh margin for a token: max_margin, but at most half its lifetime. */
double cred_refresh_margin(double minted_at, double expires_at, double max_margin);
/* true when a token minted at minted_at and expiring at expires_at should be replaced at now. */
bool cred_needs_refresh(double now, double minted_at, double expires_at, double max_margin);
/* true while a token can still be used to log in (a little slack for the round trip). */
bool cred_usable(double now, double expires_at);

/* The next retry delay after a failure: 0.5 s, 1 s, 2 s ... 30 s. prev 0 = first failure. */
double cred_backoff_next(double prev);

/* Formats 16 random bytes as a version 4 UUID (out: 37 bytes). */
void cred_uuid4_format(const unsigned char rnd[16], char out[37]);

/* Replaces every occurrence of secret (if non-empty and >= 4 chars) in s with "****". */
void cred_scrub(char *s, const char *secret);

/*
 * Describes a failed HTTP call: "<what>: HTTP 403 PERMISSION_DENIED: <message>".
 * Understands Databricks bodies ({"error_code","message"}) and OAuth ones
 * ({"error","error_description"}); a non-JSON body contributes a short
 * printable excerpt. transport_error (curl's) is used when status is 0.
 */
void cred_describe_failure(char *out, size_t n, const char *what, long status, const char *body,
                           size_t len, const char *transport_error);

typedef enum {
    CRED_RESP_AUTOSCALING, /* {"token", "expire_time"} */
    CRED_RESP_PROVISIONED, /* {"token", "expiration_time"} */
    CRED_RESP_OAUTH,       /* {"access_token", "expires_in"} */
} cred_response_kind_t;

/*
 * Parses a successful token response. Returns 0 with *token (malloc'ed) and
 * *expires_at (unix s), or -1 with err (which never quotes the body).
 */
int cred_parse_token_response(cred_response_kind_t kind, const char *body, size_t len, double now,
                              char **token, double *expires_at, char *err, size_t errlen);

/* The wall clock, unix seconds. */
double cred_now(void);

/* ---- http_client.c ---- */

typedef struct cred_http cred_http_t;

typedef struct cred_http_request {
    const char *url;
    const char *body;         /* sent as is */
    const char *content_type; /* "application/json", "application/x-www-form-urlencoded" */
    const char *bearer;       /* Authorization: Bearer, or NULL */
    const char *basic_user;   /* HTTP Basic, or NULL */
    const char *basic_password;
    double timeout_s;
} cred_http_request_t;

/*
 * status: the HTTP status, or 0 when no response arrived (error says why).
 * body: the response body, NUL-terminated, valid during the call only.
 */
typedef void (*cred_http_cb)(long status, const char *body, size_t len, const char *error,
                             void *data);

cred_http_t *cred_http_new(uv_loop_t *loop);
/* Starts a POST; cb runs later on the loop, exactly once (unless freed first). 0 or -1. */
int cred_http_post(cred_http_t *h, const cred_http_request_t *req, cred_http_cb cb, void *data);
/* Drops transfers in flight without calling them back. After the loop stopped (see header). */
void cred_http_free(cred_http_t *h);

/* ---- workspace.c ---- */

typedef struct cred_workspace cred_workspace_t;

/* bearer NULL means failure, with error set (no secret in it). */
typedef void (*cred_workspace_cb)(const char *bearer, const char *error, void *data);

/* Validates the auth settings; NULL with err naming them on a problem. http is borrowed. */
cred_workspace_t *cred_workspace_new(cred_http_t *http, const config_t *cfg, char *err,
                                     size_t errlen);
/* The bearer token for workspace calls: at once for a PAT or a cached token, else fetched. */
void cred_workspace_token(cred_workspace_t *w, cred_workspace_cb cb, void *data);
/* The workspace rejected the token (401): forget a cached OAuth token. true if one was dropped. */
bool cred_workspace_invalidate(cred_workspace_t *w);
/* "pat" or "oauth-m2m (client id X)" for messages. */
const char *cred_workspace_identity(const cred_workspace_t *w);
const char *cred_workspace_host(const cred_workspace_t *w);
void cred_workspace_counts(const cred_workspace_t *w, uint64_t *fetches, uint64_t *failures);
/* Removes the workspace secrets (PAT, client secret, OAuth token) from a message. */
void cred_workspace_scrub(const cred_workspace_t *w, char *msg);
void cred_workspace_free(cred_workspace_t *w);

/* Which auth the settings select: "pat", "oauth-m2m" or NULL (none or ambiguous). */
const char *cred_workspace_auth_kind(const config_t *cfg);

#endif
