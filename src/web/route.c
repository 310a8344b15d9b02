/*
 * route - what every room's registration does: declared routes into the
 * router (their docs travel with them to OpenAPI), statements into the pool.
 */
#include <stdlib.h>

#include "web/web.h"

int web_add_routes(router_t *r, const web_route_t *routes, size_t n, void *data)
{
    for (size_t i = 0; i < n; i++) {
        const web_route_t *rt = &routes[i];
        if (router_add(r, rt->methods, rt->pattern, rt->fn, data, &rt->doc) != 0) return -1;
    }
    return 0;
}

int web_prepare(db_pool_t *pool, char *sql, int nparams, db_stmt_kind_t kind)
{
    int id = db_pool_add_statement(pool, sql, nparams, kind);
    free(sql);
    return id;
}
