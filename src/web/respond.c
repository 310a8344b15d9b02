/*
 * respond - the responses every resource file sends (JSON rows, a one-field
 * object, 422 items) and the one mapping from database failures to HTTP
 * statuses (DESIGN.md "Errors"). Clients get a status and a fixed, safe
 * message; the server's own text goes to the log with the request id.
 */
#include <string.h>

#include "web/web.h"
#include "lakeapi/log.h"

void web_json_begin(http_exchange_t *ex, json_writer_t *w)
{
    buf_t *b = http_exchange_body_buf(ex);
    buf_reset(b);
    jw_init(w, b);
}

void web_send_json(http_exchange_t *ex, int status)
{
    http_exchange_send(ex, status, "application/json");
}

void web_send_field(http_exchange_t *ex, int status, const char *key, const char *value)
{
    json_writer_t w;
    web_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, key, value);
    jw_object_end(&w);
    web_send_json(ex, status);
}

void web_send_detail(http_exchange_t *ex, int status, const char *detail)
{
    web_send_field(ex, status, "detail", detail);
}

void web_send_rows(http_exchange_t *ex, const web_table_t *t, const PGresult *res, int nrows)
{
    json_writer_t w;
    web_json_begin(ex, &w);
    web_encode_rows(&w, t, res, nrows);
    web_send_json(ex, 200);
}

void web_send_row(http_exchange_t *ex, int status, const web_table_t *t, const PGresult *res,
                  int row)
{
    json_writer_t w;
    web_json_begin(ex, &w);
    web_encode_row(&w, t, res, row);
    web_send_json(ex, status);
}

void web_send_errors(http_exchange_t *ex, web_errors_t *e)
{
    json_writer_t w;
    web_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_key(&w, "detail");
    jw_array_begin(&w);
    /* The items were encoded once, comma-separated, into e->buf: splice them in. */
    if (e->count) jw_raw(&w, e->buf.data, e->buf.len);
    jw_array_end(&w);
    jw_object_end(&w);
    web_errors_dispose(e);
    web_send_json(ex, 422);
}

bool web_send_errors_if_any(http_exchange_t *ex, web_errors_t *e)
{
    if (e->count == 0) {
        web_errors_dispose(e);
        return false;
    }
    web_send_errors(ex, e);
    return true;
}

const char *web_credentials_detail(http_exchange_t *ex, const db_result_t *r)
{
    const char *why = r->message ? r->message : "";
    if (strncmp(why, "credentials: ", 13) == 0) why += 13;
    if (!*why) return "Database credentials unavailable";
    return arena_sprintf(http_exchange_arena(ex), "Database credentials unavailable: %s", why);
}

void web_send_db_error(http_exchange_t *ex, const db_result_t *r)
{
    int status = 500;
    const char *detail = "Internal server error";
    bool retry = false;
    switch (r->status) {
    case DB_ERR_UNAVAILABLE:
        status = 503, detail = "Database unavailable", retry = true;
        break;
    case DB_ERR_POOL_TIMEOUT:
        status = 503, detail = "Database connection pool exhausted", retry = true;
        break;
    case DB_ERR_CREDENTIALS:
        /* Providers' errors name the endpoint/instance and HTTP status, never a secret. */
        status = 503, detail = web_credentials_detail(ex, r), retry = true;
        break;
    case DB_ERR_TIMEOUT:
        status = 504, detail = "Database statement timed out";
        break;
    case DB_ERR_CONFLICT:
        status = 409, detail = "Conflict with an existing record";
        break;
    case DB_ERR_BAD_INPUT:
        status = 400, detail = "Invalid input";
        break;
    case DB_ERR_FORBIDDEN:
        /* PostgREST's rule: 403 for a known identity, 401 (sign in) for an anonymous one. */
        if (http_exchange_authenticated(ex)) {
            status = 403, detail = "Permission denied";
        } else {
            status = 401, detail = "Permission denied: authentication required";
            http_exchange_add_header(ex, "WWW-Authenticate", "Bearer");
        }
        break;
    default:
        break;
    }
    /* What a client may assume about a write that failed (DESIGN.md "Errors"). */
    if (status >= 500 &&
        (http_exchange_method(ex) & (HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE)))
        detail = arena_sprintf(http_exchange_arena(ex), "%s; %s", detail,
                               r->outcome_unknown ? "the update may not have been applied"
                                                  : "the update was not applied");
    log_msg(status >= 500 ? LOG_WARN : LOG_INFO, "request %s: database %s (%s): %s",
            http_exchange_request_id(ex), db_status_name(r->status),
            r->sqlstate ? r->sqlstate : "-", r->message ? r->message : "");
    if (retry) http_exchange_add_header(ex, "Retry-After", "1");
    web_send_detail(ex, status, detail);
}

bool web_db_ok(http_exchange_t *ex, const db_result_t *r)
{
    http_exchange_note_pool_wait(ex, r->wait_ms);
    if (r->lsn) web_split_note_lsn(ex, r->lsn);
    if (r->status == DB_OK) return true;
    web_send_db_error(ex, r);
    return false;
}

int64_t web_result_int(const PGresult *res, int row, int col)
{
    int64_t v = 0;
    web_parse_int(PQgetvalue(res, row, col), &v);
    return v;
}

/* Several per request (query parameters): digits by hand, printf costs ~800 instructions. */
const char *web_i64_text(http_exchange_t *ex, int64_t v)
{
    return arena_i64(http_exchange_arena(ex), (long long)v);
}
