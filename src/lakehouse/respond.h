/*
 * lakehouse/respond.h - how the backend's failures are answered over HTTP
 * (respond.c), shared by the users store and the /lakehouse/v1 routes.
 */
#ifndef LAKEAPI_LAKEHOUSE_RESPOND_H
#define LAKEAPI_LAKEHOUSE_RESPOND_H

#include "lakehouse/internal.h"
#include "web/web.h"

/*
 * {"detail": detail[, "warehouse_state": wh_state]} with status, and
 * Retry-After when retry_after > 0. A client that has gone (status 499) is
 * answered 503 - the answer is dropped by the HTTP layer anyway.
 */
void lh_send_error(http_exchange_t *ex, int status, const char *detail, int retry_after,
                   const char *wh_state);
/* A failed outcome, with X-Lakeapi-Cache when hit is not NULL. */
void lh_send_outcome(http_exchange_t *ex, const lh_outcome_t *o, const char *hit);

#endif
