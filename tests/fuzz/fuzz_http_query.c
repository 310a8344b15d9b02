/*
 * libFuzzer target: query strings and path parameters, as the server handles
 * them after the parser. The input is "path\nquery". Invariants: a query or
 * path accepted by http_pct_check() decodes without error to strict UTF-8
 * (jansson's UTF-8 check is the independent oracle), and one it refuses as
 * not UTF-8 does not decode to UTF-8; every value http_query_get() returns has
 * no embedded NUL; a router match hands out parameters that are NUL-free and
 * decode from the path.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "lakeapi/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_handler(http_exchange_t *ex, void *data)
{
    (void)ex;
    (void)data;
}

static router_t *fuzz_router(void)
{
    static router_t *r;
    if (!r) {
        r = router_new();
        router_add(r, HTTP_GET, "/api/v1/orders/{order_key:int}", fuzz_handler, NULL, NULL);
        router_add(r, HTTP_POST, "/api/v1/orders/{order_key:int}/status", fuzz_handler, NULL, NULL);
        router_add(r, HTTP_PUT | HTTP_DELETE, "/user/{id}", fuzz_handler, NULL, NULL);
        router_add(r, HTTP_GET, "/rest/v1/{table}", fuzz_handler, NULL, NULL);
        router_add(r, HTTP_GET, "/docs/{file}", fuzz_handler, NULL, NULL);
    }
    return r;
}

/* The pct/UTF-8 oracle for one component. */
static void fuzz_component(const char *s, size_t n, bool plus_space, arena_t *a)
{
    if (memchr(s, 0, n)) return; /* the parser never hands over a raw NUL */
    int c = http_pct_check(s, n);
    char *dec = arena_alloc(a, n + 1);
    ssize_t dn = http_pct_decode(dec, s, n, plus_space);
    if (c == -1) {
        if (http_pct_valid(s, n)) abort();
        return;
    }
    if (!http_pct_valid(s, n)) {
        if (c == 0) abort(); /* -2: the bytes stopped being UTF-8 before the bad escape */
        return;
    }
    if (dn < 0) abort();
    json_t *j = json_stringn(dec, (size_t)dn);
    if ((c == 0) != (j != NULL)) abort();
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static arena_t *a;
    if (!a) a = arena_new(4096);
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t plen = nl ? (size_t)(nl - s) : size;
    const char *q = nl ? nl + 1 : s + size;
    size_t qlen = nl ? size - plen - 1 : 0;
    fuzz_component(s, plen, false, a);
    fuzz_component(q, qlen, true, a);

    if (!memchr(q, 0, qlen) && http_pct_check(q, qlen) == 0) {
        static const char *names[] = {"page", "page_size", "cursor", "id", "a b", "select", ""};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            size_t len = 0;
            const char *v = http_query_get(q, qlen, names[i], a, &len);
            if (v && strlen(v) != len) abort();
        }
    }
    if (plen > 0 && s[0] == '/' && !memchr(s, 0, plen) && http_pct_check(s, plen) == 0) {
        char *path = arena_alloc(a, plen + 1);
        memcpy(path, s, plen);
        path[plen] = '\0';
        router_match_t m;
        static const http_method_t methods[] = {HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_DELETE};
        for (size_t i = 0; i < 4; i++) {
            if (router_match(fuzz_router(), methods[i], path, a, &m) != ROUTER_MATCH) continue;
            if (!m.route || m.nparams < 0 || m.nparams > ROUTER_MAX_PARAMS) abort();
            for (int k = 0; k < m.nparams; k++)
                if (!m.params[k]) abort();
        }
    }
    arena_reset(a);
    return 0;
}
