/*
 * session - a statement run as a request's Postgres role, PostgREST-style:
 *
 *   Sync | SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true),
 *          set_config('request.method', $3, true), set_config('request.path', $4, true),
 *          set_config('request.headers', $5, true)
 *        | SELECT <DB_PRE_REQUEST>()            (when configured)
 *        | the statement | Sync
 *
 * In pipeline mode the statements between two Syncs are one transaction (the
 * Sync commits it), so that is BEGIN; SET LOCAL ROLE ...; settings; pre-request;
 * query; COMMIT without two extra round trips: the whole group travels in
 * the same write as every other request's queries of that loop iteration, and
 * requests without a session keep being batched into shared transactions.
 * set_config(..., true) is SET LOCAL: nothing outlives the transaction, so the
 * next request on the connection starts as the login role again. The role is
 * a bound parameter, so no quoting can go wrong.
 *
 * The sending and the error hand-over live in conn.c (db_conn_send_batch,
 * conn_finish_step); this file owns the statements and the public calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pool_internal.h"

#define SESSION_SQL                                                                                \
    "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true), "            \
    "set_config('request.method', $3, true), set_config('request.path', $4, true), "               \
    "set_config('request.headers', $5, true)"

/* "schema.fn" -> "schema"."fn"; the config layer allowed only identifier characters. */
static void session_quote_function(char *out, size_t n, const char *fn)
{
    const char *dot = strchr(fn, '.');
    if (dot)
        snprintf(out, n, "SELECT \"%.*s\".\"%s\"()", (int)(dot - fn), fn, dot + 1);
    else
        snprintf(out, n, "SELECT \"%s\"()", fn);
}

int db_session_register(db_pool_t *p, const char *pre_request)
{
    if (p->started) return -1;
    if (p->session_stmt >= 0) return 0;
    /* Kind READ: a step's result is final when it arrives; the statement decides the rest. */
    p->session_stmt = db_pool_add_statement(p, SESSION_SQL, 5, DB_STMT_READ);
    if (pre_request && *pre_request) {
        char sql[300];
        session_quote_function(sql, sizeof sql, pre_request);
        p->pre_request_stmt = db_pool_add_statement(p, sql, 0, DB_STMT_READ);
    }
    return p->session_stmt >= 0 ? 0 : -1;
}

void db_session_init(db_session_t *s, const char *role, const char *claims, const char *method,
                     const char *path, const char *headers)
{
    s->values[0] = role;
    s->values[1] = claims ? claims : "";
    s->values[2] = method ? method : "";
    s->values[3] = path ? path : "";
    s->values[4] = headers ? headers : "{}";
}
