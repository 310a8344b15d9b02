/*
 * auth/query - the bridge from a request's identity to the db layer: the
 * session (role, request.jwt.claims, request.method, request.path,
 * request.headers) a statement runs under, and what a refusal means in HTTP.
 *
 * request.headers is a JSON object with lower-cased names as PostgREST sets
 * it, except that Authorization, Cookie and the Apps proxy's
 * X-Forwarded-Access-Token are left out: the verified claims are in
 * request.jwt.claims already, and a token in a setting could reach the
 * server log through a failing statement's context.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "auth/internal.h"
#include "lakeapi/json.h"

const auth_identity_t *auth_identity(http_exchange_t *ex)
{
    return *http_exchange_identity_slot(ex);
}

static bool auth_header_withheld(const char *name, size_t n)
{
    static const char *const withheld[] = {"authorization", "cookie", "x-forwarded-access-token",
                                           "proxy-authorization"};
    for (size_t i = 0; i < sizeof withheld / sizeof withheld[0]; i++)
        if (strlen(withheld[i]) == n && strncasecmp(withheld[i], name, n) == 0) return true;
    return false;
}

static const char *auth_headers_json(http_exchange_t *ex)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    char lower[256];
    for (size_t i = 0, n = http_exchange_header_count(ex); i < n; i++) {
        const char *name, *value;
        size_t nl, vl;
        http_exchange_header_at(ex, i, &name, &nl, &value, &vl);
        if (nl >= sizeof lower || auth_header_withheld(name, nl)) continue;
        for (size_t k = 0; k < nl; k++)
            lower[k] = (char)tolower((unsigned char)name[k]);
        lower[nl] = '\0';
        jw_key(&w, lower);
        jw_string(&w, value, vl);
    }
    jw_object_end(&w);
    const char *out = arena_strndup(http_exchange_arena(ex), b.data, b.len);
    buf_dispose(&b);
    return out;
}

bool auth_db_session(http_exchange_t *ex, db_session_t *s)
{
    const auth_identity_t *id = auth_identity(ex);
    if (!id || !id->role) return false;
    db_session_init(s, id->role, id->claims, http_exchange_method_name(ex), http_exchange_path(ex),
                    auth_headers_json(ex));
    return true;
}

void auth_db_query(http_exchange_t *ex, db_pool_t *pool, int stmt, int nparams,
                   const char *const *values, db_result_fn cb, void *data)
{
    const auth_identity_t *id = auth_identity(ex);
    if (!id || !id->role) {
        db_pool_query(pool, stmt, nparams, values, cb, data);
        return;
    }
    db_session_t *s = arena_alloc(http_exchange_arena(ex), sizeof *s);
    db_session_init(s, id->role, id->claims, http_exchange_method_name(ex), http_exchange_path(ex),
                    auth_headers_json(ex));
    db_pool_query_as(pool, s, stmt, nparams, values, cb, data);
}
