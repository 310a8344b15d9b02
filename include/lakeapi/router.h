/*
 * router - maps (method, path) to a handler.
 *
 * Patterns are literal segments and typed parameters: "/api/v1/orders/{order_key:int}".
 * A parameter matches exactly one non-empty path segment; its type (int, str)
 * is metadata for validation and the OpenAPI document - the handler converts
 * and reports a 422 itself, as FastAPI does. Routes whose segment is literal
 * win over parameter segments at the same position ("/orders/count" beats
 * "/orders/{order_key}") regardless of registration order.
 * A trailing slash is significant ("/users/" and "/users" are different paths).
 */
#ifndef LAKEAPI_ROUTER_H
#define LAKEAPI_ROUTER_H

#include "lakeapi/http.h"

#define ROUTER_MAX_PARAMS 8

typedef struct route {
    unsigned methods;    /* bit set of http_method_t */
    const char *pattern; /* the template, also the route's name in logs and metrics */
    http_handler_fn handler;
    void *data;      /* passed to the handler */
    const void *doc; /* optional description for OpenAPI (api layer's type) */
} route_t;

typedef struct router router_t;

typedef enum {
    ROUTER_MATCH = 0,
    ROUTER_NOT_FOUND,          /* 404 */
    ROUTER_METHOD_NOT_ALLOWED, /* 405; *allowed_methods is set */
} router_status_t;

typedef struct router_match {
    const route_t *route;
    int nparams;
    const char *params[ROUTER_MAX_PARAMS]; /* decoded segments, allocated in the given arena */
    unsigned allowed_methods;              /* for 405: union of methods on paths that matched */
} router_match_t;

router_t *router_new(void);
void router_free(router_t *r);
/* Copies nothing: pattern and doc must outlive the router. Returns -1 on a bad pattern. */
int router_add(router_t *r, unsigned methods, const char *pattern, http_handler_fn handler,
               void *data, const void *doc);
/*
 * path is the raw request path (still percent-encoded, no query string): it is
 * split on '/' first and each segment decoded after, so "%2F" inside a
 * parameter stays part of that parameter. HEAD matches GET routes.
 */
router_status_t router_match(const router_t *r, http_method_t method, const char *path,
                             arena_t *arena, router_match_t *out);
/* Iterates the registered routes in registration order (for OpenAPI and metrics). */
int router_count(const router_t *r);
const route_t *router_at(const router_t *r, int i);

#endif
