/*
 * lakehouse/read - GET /lakehouse/v1/{table}: placeholder until the Data API
 * grammar (src/rest/grammar.h) lands; then select, filters, order,
 * limit/offset, counts and exports are translated from its AST.
 */
#include "lakehouse/read.h"

int lh_read_register(lakehouse_t *lh, router_t *r)
{
    (void)lh;
    (void)r;
    return 0;
}
