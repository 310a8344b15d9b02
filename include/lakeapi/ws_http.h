/*
 * ws_http - asynchronous HTTP on a libuv loop (libcurl multi-socket), the
 * transport under the workspace client (src/workspace/http_client.c). Public
 * because other rooms fetch over HTTP on the loop too (auth's JWKS).
 */
#ifndef LAKEAPI_WS_HTTP_H
#define LAKEAPI_WS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "lakeapi/workspace.h" /* workspace_method_t */

typedef struct ws_http ws_http_t;

typedef struct ws_http_request {
    workspace_method_t method;
    const char *url;
    const char *body;         /* sent as is; NULL: no body */
    const char *content_type; /* of the body */
    const char *bearer;       /* Authorization: Bearer, or NULL */
    const char *basic_user;   /* HTTP Basic, or NULL */
    const char *basic_password;
    double timeout_s;
} ws_http_request_t;

/*
 * status: the HTTP status, or 0 when no response arrived (error says why).
 * body: the response body, NUL-terminated, valid during the call only ("" for
 * a streamed 2xx body, which went to the data callback).
 */
typedef struct ws_http_result {
    long status;
    const char *body;
    size_t len;
    const char *error;
    long retry_after; /* seconds from a Retry-After header, -1 when none */
} ws_http_result_t;

typedef void (*ws_http_result_cb)(const ws_http_result_t *r, void *data);
/* The same, as separate arguments (without Retry-After). */
typedef void (*ws_http_cb)(long status, const char *body, size_t len, const char *error,
                           void *data);
/* A piece of a streamed 2xx body: 0 to go on, 1 to pause (ws_http_resume), -1 to stop. */
typedef int (*ws_http_data_cb)(const char *data, size_t len, void *arg);
typedef struct ws_http_xfer ws_http_xfer_t;

ws_http_t *ws_http_new(uv_loop_t *loop);
/* Starts a request; cb runs later on the loop, exactly once (unless freed first). 0 or -1. */
int ws_http_start(ws_http_t *h, const ws_http_request_t *req, ws_http_cb cb, void *data);
/*
 * The same, with a 2xx body handed to on_data as it arrives (any size; other
 * statuses are buffered for the error message). *out (may be NULL) is the
 * transfer, valid until cb has run or ws_http_abort().
 */
int ws_http_stream(ws_http_t *h, const ws_http_request_t *req, ws_http_data_cb on_data,
                   ws_http_result_cb cb, void *data, ws_http_xfer_t **out);
/* Continues a transfer whose on_data asked to pause. */
void ws_http_resume(ws_http_xfer_t *x);
/* Drops a transfer in flight; its cb never runs. */
void ws_http_abort(ws_http_xfer_t *x);
/* Drops transfers in flight without calling them back. After the loop stopped. */
void ws_http_free(ws_http_t *h);

#endif
