/*
 * credentials/internal.h - the pieces of the credential providers, shared
 * between their files and the unit tests; not part of the public interface.
 *
 *   rules.c        pure functions: RFC 3339 times, token responses, the
 *                  refresh rule, backoff, UUIDs
 *   lakebase.c     the Lakebase providers and credentials_from_config()
 *
 * The workspace calls themselves (HTTP on the loop, PAT or OAuth M2M auth,
 * error descriptions, scrubbing) are the workspace layer's
 * (lakeapi/workspace.h); the thin cred_ wrappers below keep their old names.
 */
#ifndef LAKEAPI_CREDENTIALS_INTERNAL_H
#define LAKEAPI_CREDENTIALS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lakeapi/config.h"
#include "lakeapi/credentials.h"
#include "lakeapi/workspace.h"

#define CRED_DB_MARGIN_S    120.0 /* refresh a database token this long before expiry */
#define CRED_WS_MARGIN_S    40.0  /* the workspace layer's OAuth token margin (for the tests) */
#define CRED_BACKOFF_MIN_S  0.5
#define CRED_BACKOFF_MAX_S  30.0
#define CRED_DEFAULT_TTL_S  3600.0 /* a token response without an expiry */
#define CRED_HTTP_TIMEOUT_S 10.0   /* at most the default DB_POOL_TIMEOUT: fail clearly first */

/* ---- rules.c (pure) ---- */

/* RFC 3339 date-time ("2025-01-31T12:00:00.25Z", "...+02:00") to unix seconds. 0 or -1. */
int cred_parse_rfc3339(const char *s, double *out);

/* The refresh margin for a token: max_margin, but at most half its lifetime. */
static inline double cred_refresh_margin(double minted_at, double expires_at, double max_margin)
{
    return workspace_refresh_margin(minted_at, expires_at, max_margin);
}
/* true when a token minted at minted_at and expiring at expires_at should be replaced at now. */
static inline bool cred_needs_refresh(double now, double minted_at, double expires_at,
                                      double max_margin)
{
    return workspace_needs_refresh(now, minted_at, expires_at, max_margin);
}
/* true while a token can still be used to log in (a little slack for the round trip). */
bool cred_usable(double now, double expires_at);

/* The next retry delay after a failure: 0.5 s, 1 s, 2 s ... 30 s. prev 0 = first failure. */
double cred_backoff_next(double prev);

/* Formats 16 random bytes as a version 4 UUID (out: 37 bytes). */
void cred_uuid4_format(const unsigned char rnd[16], char out[37]);

/* Replaces every occurrence of secret (if non-empty and >= 4 chars) in s with "****". */
static inline void cred_scrub(char *s, const char *secret)
{
    workspace_scrub_secret(s, secret);
}

/* "<what>: HTTP 403 PERMISSION_DENIED: <message>": see workspace_describe_failure(). */
static inline void cred_describe_failure(char *out, size_t n, const char *what, long status,
                                         const char *body, size_t len, const char *transport_error)
{
    workspace_describe_failure(out, n, what, status, body, len, transport_error);
}

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

#endif
