/*
 * workspace - calls to a Databricks workspace's REST API on a libuv loop.
 *
 * A workspace_t is an asynchronous HTTP client (libcurl multi-socket, driven
 * by the loop's uv_poll and uv_timer handles: nothing blocks, no thread) plus
 * the workspace authentication:
 *   pat        DATABRICKS_TOKEN, sent as is
 *   oauth-m2m  DATABRICKS_CLIENT_ID/SECRET: POST {host}/oidc/v1/token (HTTP Basic,
 *              grant_type=client_credentials&scope=all-apis); the token is cached
 *              until 40 s before it expires and concurrent callers share one fetch
 * DATABRICKS_AUTH_TYPE chooses when both are configured; both without it is
 * refused, because silently preferring one has sent people debugging the
 * wrong identity's permissions.
 *
 * workspace_call() adds the bearer token, sends, and when the workspace
 * answers 401 to a cached OAuth token, fetches a fresh one and retries once.
 * Every message leaving this module names the call, the HTTP status and the
 * Databricks error_code/message - never a secret (the PAT, the client secret
 * and the OAuth token are scrubbed from whatever the workspace sends back).
 *
 * Used by the Lakebase credential providers (src/db/credentials) and the
 * resource lifecycle routes (src/api/resources*.c).
 */
#ifndef LAKEAPI_WORKSPACE_H
#define LAKEAPI_WORKSPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lakeapi/buf.h"
#include "lakeapi/config.h"

#define WORKSPACE_TIMEOUT_S    10.0               /* default per call */
#define WORKSPACE_MAX_RESPONSE (32 * 1024 * 1024) /* a statement chunk is at most 25 MiB */

typedef struct workspace workspace_t;

typedef enum {
    WORKSPACE_GET,
    WORKSPACE_POST,
    WORKSPACE_PATCH,
    WORKSPACE_DELETE,
} workspace_method_t;

/* Everything here is valid during the callback only. */
typedef struct workspace_response {
    long status;      /* the HTTP status; 0 when no response came (error says why) */
    const char *body; /* NUL-terminated, "" when empty */
    size_t len;
    /*
     * NULL for 2xx. Otherwise one line without secrets: "HTTP 404
     * RESOURCE_DOES_NOT_EXIST: <message>", a transport error ("Couldn't
     * connect to server"), or why no workspace token could be had.
     */
    const char *error;
    const char *error_code; /* the body's error_code (OAuth: error), "" when none */
    const char *message;    /* the body's message (OAuth: error_description), "" when none */
    bool auth_failed;       /* no bearer token could be had: nothing was sent */
    long retry_after;       /* a 429/503's Retry-After in seconds, -1 when none */
} workspace_response_t;

typedef void (*workspace_cb)(const workspace_response_t *res, void *data);

/* ---- settings ---- */

/* Which auth the settings select: "pat", "oauth-m2m", or NULL (none, or ambiguous). */
const char *workspace_auth_kind(const config_t *cfg);
/* 0 when DATABRICKS_HOST and usable auth are configured; else -1 with err naming the settings. */
int workspace_check_config(const config_t *cfg, char *err, size_t errlen);

/* ---- the handle ---- */

/*
 * A client for cfg's workspace on loop (cfg is copied from). NULL with err
 * naming the settings when they are incomplete (workspace_check_config) or
 * libcurl cannot be initialised.
 */
workspace_t *workspace_new(uv_loop_t *loop, const config_t *cfg, char *err, size_t errlen);
/*
 * Drops calls in flight without calling them back and wipes the secrets.
 * Call once the loop has stopped and every handle on it is closed (the
 * server's shutdown walk closes the client's handles too).
 */
void workspace_free(workspace_t *w);

/*
 * Starts method {host}{path} with an optional JSON body (NULL: none) and a
 * timeout (<= 0: WORKSPACE_TIMEOUT_S). cb runs later on the loop, exactly
 * once, never from inside this call. Returns 0, or -1 when the call could
 * not be started (cb then never runs).
 */
int workspace_call(workspace_t *w, workspace_method_t method, const char *path,
                   const char *json_body, double timeout_s, workspace_cb cb, void *data);

/*
 * Downloads an absolute URL that carries its own credential (a presigned
 * EXTERNAL_LINKS URL): no Authorization header is sent - storage refuses a
 * second auth mechanism, and the workspace token must not leave for a third
 * party. A 2xx body goes to on_data piece by piece (return 0 to go on, 1 to
 * pause until workspace_download_resume(), -1 to stop); done runs once at
 * the end, with the status (an error body is buffered for the message).
 * Returns the download (valid until done runs or it is aborted) or NULL.
 */
typedef struct workspace_download workspace_download_t;
typedef int (*workspace_data_cb)(const char *data, size_t len, void *arg);
workspace_download_t *workspace_download(workspace_t *w, const char *url, double timeout_s,
                                         workspace_data_cb on_data, workspace_cb done, void *arg);
void workspace_download_resume(workspace_download_t *d);
/* Stops a download; done never runs. */
void workspace_download_abort(workspace_download_t *d);

const char *workspace_host(const workspace_t *w); /* https://... without a trailing slash */
/* "pat (DATABRICKS_TOKEN)" or "oauth-m2m (client id X)", for messages. */
const char *workspace_identity(const workspace_t *w);
/* OAuth M2M tokens fetched, and failed fetches (both 0 for a PAT). */
void workspace_counts(const workspace_t *w, uint64_t *fetches, uint64_t *failures);
/* Replaces the workspace secrets (PAT, client secret, OAuth token) in msg with "****". */
void workspace_scrub(const workspace_t *w, char *msg);

/* ---- pure helpers, shared with the callers ---- */

const char *workspace_method_name(workspace_method_t m);
/* Appends s percent-encoded as one URL path segment (RFC 3986 unreserved bytes kept). */
void workspace_escape_segment(buf_t *out, const char *s);
/* Replaces every occurrence of secret (when >= 4 bytes) in s with "****". */
void workspace_scrub_secret(char *s, const char *secret);
/*
 * Describes a failed call: "<what>: HTTP 403 PERMISSION_DENIED: <message>"
 * (what NULL or "": without the prefix). Understands Databricks bodies
 * ({"error_code","message"}) and OAuth ones ({"error","error_description"});
 * a non-JSON body contributes a short printable excerpt; transport_error is
 * used when status is 0. Control characters become blanks.
 */
void workspace_describe_failure(char *out, size_t n, const char *what, long status,
                                const char *body, size_t len, const char *transport_error);
/*
 * The refresh rule for cached tokens: replace a token minted at minted_at
 * and expiring at expires_at once now is within max_margin of expiry - or
 * half its lifetime for short tokens, so a 5-second token is not "always
 * expired". A token with expires_at <= 0 never expires.
 */
double workspace_refresh_margin(double minted_at, double expires_at, double max_margin);
bool workspace_needs_refresh(double now, double minted_at, double expires_at, double max_margin);
/* The wall clock, unix seconds. */
double workspace_now(void);

#endif
