/*
 * lakehouse/respond - the backend's failures as HTTP answers.
 *
 * 503 (warehouse not RUNNING, unreachable, rate limit outlasting the
 * deadline) always carries Retry-After; the warehouse state, when it is the
 * reason, is in the body too so a client can show "the warehouse is
 * STARTING". 504 is DB_COMMAND_TIMEOUT, 502 a statement the warehouse
 * refused (its error_code and message, scrubbed of secrets).
 */
#include <stdio.h>

#include "lakehouse/respond.h"

void lh_send_error(http_exchange_t *ex, int status, const char *detail, int retry_after,
                   const char *wh_state)
{
    if (status == 499) status = 503;
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        http_exchange_add_header(ex, "Retry-After", ra);
    }
    json_writer_t w;
    web_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, "detail", detail ? detail : "SQL warehouse error");
    if (wh_state && wh_state[0]) jw_kv_string(&w, "warehouse_state", wh_state);
    jw_object_end(&w);
    web_send_json(ex, status);
}

void lh_send_outcome(http_exchange_t *ex, const lh_outcome_t *o, const char *hit)
{
    if (hit) http_exchange_add_header(ex, "X-Lakeapi-Cache", hit);
    lh_send_error(ex, o->status, o->detail, o->retry_after, o->wh_state);
}
