/*
 * rest/errors - PostgREST's error body {"code","details","hint","message"}
 * and its SQLSTATE -> HTTP status table (docs/references/errors.rst of
 * PostgREST). For a database error the body carries what PostgREST itself
 * passes through: the server's message, detail and hint, and the SQLSTATE as
 * the code; never the SQL text. Pool failures (no connection, exhausted,
 * credentials) get PostgREST's PGRST00x codes with our own fixed messages.
 */
#include <string.h>

#include "lakeapi/log.h"
#include "rest/rest.h"

static void er_kv(json_writer_t *w, const char *k, const char *v)
{
    jw_key(w, k);
    if (v)
        jw_cstring(w, v);
    else
        jw_null(w);
}

static void er_send(http_exchange_t *ex, int status, const char *code, const char *message,
                    const char *details, const char *hint)
{
    json_writer_t w;
    web_json_begin(ex, &w);
    jw_object_begin(&w);
    er_kv(&w, "code", code);
    er_kv(&w, "details", details);
    er_kv(&w, "hint", hint);
    er_kv(&w, "message", message ? message : "");
    jw_object_end(&w);
    http_exchange_send(ex, status, "application/json; charset=utf-8");
}

void rest_send_error(http_exchange_t *ex, const rest_error_t *e)
{
    er_send(ex, e->status ? e->status : 500, e->code, e->message, e->details, e->hint);
}

static bool er_class(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

int rest_sqlstate_status(const char *s, bool authenticated)
{
    static const struct {
        const char *prefix;
        int status;
    } table[] = {
        {"23503", 409}, {"23505", 409}, {"25006", 405}, {"53400", 500}, {"P0001", 400},
        {"42883", 404}, {"42P01", 404}, {"42P17", 500}, {"57014", 504}, {"08", 503},
        {"09", 500},    {"0L", 403},    {"0P", 403},    {"25", 500},    {"28", 403},
        {"2D", 500},    {"38", 500},    {"39", 500},    {"3B", 500},    {"40", 500},
        {"53", 503},    {"54", 500},    {"55", 500},    {"57", 500},    {"58", 500},
        {"F0", 500},    {"HV", 500},    {"P0", 500},    {"XX", 500},
    };
    if (!s) return 500;
    if (!strcmp(s, "42501")) return authenticated ? 403 : 401;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (er_class(s, table[i].prefix)) return table[i].status;
    return 400;
}

void rest_error_from_db(http_exchange_t *ex, const db_result_t *r, rest_error_t *e)
{
    arena_t *a = http_exchange_arena(ex);
    log_msg(LOG_INFO, "request %s: database %s (%s): %s", http_exchange_request_id(ex),
            db_status_name(r->status), r->sqlstate ? r->sqlstate : "-",
            r->message ? r->message : "");
    switch (r->status) {
    case DB_ERR_UNAVAILABLE:
        http_exchange_add_header(ex, "Retry-After", "1");
        rest_error_set(e, a, 503, "PGRST001", "Database client error. Retrying the connection.",
                       NULL, NULL);
        return;
    case DB_ERR_POOL_TIMEOUT:
        http_exchange_add_header(ex, "Retry-After", "1");
        rest_error_set(e, a, 503, "PGRST003",
                       "Timed out acquiring connection from connection pool.", NULL, NULL);
        return;
    case DB_ERR_CREDENTIALS:
        http_exchange_add_header(ex, "Retry-After", "1");
        rest_error_set(e, a, 503, "PGRST000", web_credentials_detail(ex, r), NULL, NULL);
        return;
    default:
        break;
    }
    const PGresult *res = r->res;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!r->sqlstate || !msg) {
        rest_error_set(e, a, 500, r->sqlstate ? arena_strdup(a, r->sqlstate) : "PGRSTX00",
                       "Internal server error", NULL, NULL);
        return;
    }
    bool authed = http_exchange_authenticated(ex);
    if (!strcmp(r->sqlstate, "42501") && !authed)
        http_exchange_add_header(ex, "WWW-Authenticate", "Bearer");
    rest_error_set(e, a, rest_sqlstate_status(r->sqlstate, authed), arena_strdup(a, r->sqlstate),
                   msg, PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL),
                   PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
}

void rest_send_db_error(http_exchange_t *ex, const db_result_t *r)
{
    http_exchange_note_pool_wait(ex, r->wait_ms);
    rest_error_t e;
    rest_error_from_db(ex, r, &e);
    rest_send_error(ex, &e);
}
