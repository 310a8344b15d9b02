/*
 * fuzz_http_parser - libFuzzer target for the HTTP request parser.
 *
 * The input is parsed as a stream of pipelined requests three times: in one
 * go, fed in pseudo-random splits derived from the input itself (as reads
 * would deliver it), and one byte at a time (a split at every byte). All must
 * agree exactly on every result, which checks that incremental parsing never
 * depends on where the bytes were cut. Each parsed
 * head also goes through the percent-decoder, the query lookup and a small
 * router, as the server would do with it. Any disagreement aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "lakeapi/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_REQUESTS 8

static const http_parser_limits_t fuzz_limits = {.max_request_line = 512,
                                                 .max_header_bytes = 1024,
                                                 .max_headers = 16,
                                                 .max_body = 4096,
                                                 .require_host = true};

static void fuzz_handler(http_exchange_t *ex, void *data) {}

static router_t *fuzz_router(void)
{
    static router_t *r;
    if (!r) {
        r = router_new();
        router_add(r, HTTP_GET, "/api/v1/orders/count", fuzz_handler, NULL, NULL);
        router_add(r, HTTP_GET, "/api/v1/orders/{order_key:int}", fuzz_handler, NULL, NULL);
        router_add(r, HTTP_POST, "/api/v1/orders/{order_key:int}/status", fuzz_handler, NULL, NULL);
        router_add(r, HTTP_GET | HTTP_POST, "/user", fuzz_handler, NULL, NULL);
        router_add(r, HTTP_PUT | HTTP_DELETE, "/user/{id}", fuzz_handler, NULL, NULL);
        router_add(r, HTTP_GET, "/", fuzz_handler, NULL, NULL);
    }
    return r;
}

typedef struct outcome {
    int result;
    int status;
    size_t head_len;
    size_t nheaders;
    uint64_t content_length;
    http_method_t method;
    bool keep_alive, expect_continue;
} outcome_t;

static void fuzz_use_head(const http_request_head_t *h, arena_t *arena)
{
    char *path = arena_alloc(arena, h->path_len + 1);
    memcpy(path, h->path, h->path_len);
    path[h->path_len] = '\0';
    char *dec = arena_alloc(arena, h->path_len + 1);
    if (http_pct_decode(dec, path, h->path_len, false) < 0) abort(); /* parser validated it */
    if (http_pct_check(path, h->path_len) != 0) abort();             /* UTF-8 too */
    size_t len;
    const char *v = http_query_get(h->query, h->query_len, "page", arena, &len);
    if (v && strlen(v) != len) abort(); /* %00 is refused, so no embedded NUL */
    http_query_get(h->query, h->query_len, "a b", arena, NULL);
    router_match_t m;
    router_status_t rs = router_match(fuzz_router(), h->method, path, arena, &m);
    if (rs == ROUTER_MATCH && !m.route) abort();
    for (size_t i = 0; i < h->nheaders; i++)
        if (h->headers[i].name_len == 0) abort();
}

enum { FEED_ALL, FEED_RANDOM, FEED_BYTES };

/* Parses every request in data, fed all at once, in pseudo-random pieces or bytewise. */
static int fuzz_run(const uint8_t *data, size_t size, uint32_t seed, int mode, outcome_t *out,
                    arena_t *arena)
{
    static http_header_t hdrs[16];
    const char *buf = (const char *)data;
    size_t off = 0;
    int n = 0;
    while (n < FUZZ_MAX_REQUESTS && off < size) {
        http_parser_t p;
        http_parser_init(&p, &fuzz_limits);
        http_request_head_t h;
        http_parse_result_t r = HTTP_PARSE_MORE;
        size_t avail = mode == FEED_ALL ? size - off : 0;
        for (;;) {
            if (mode != FEED_ALL) {
                seed = seed * 1103515245u + 12345u;
                size_t step = mode == FEED_BYTES ? 1 : 1 + (seed >> 16) % 97;
                avail = avail + step > size - off ? size - off : avail + step;
            }
            r = http_parser_execute(&p, buf + off, avail, &h, hdrs, 16);
            if (r != HTTP_PARSE_MORE || avail == size - off) break;
        }
        outcome_t *o = &out[n++];
        memset(o, 0, sizeof *o);
        o->result = r;
        if (r == HTTP_PARSE_ERROR) {
            o->status = p.status;
            if (p.status < 400 || p.status > 505 || !p.detail) abort();
            break;
        }
        if (r == HTTP_PARSE_MORE) break;
        o->head_len = h.head_len;
        o->nheaders = h.nheaders;
        o->content_length = h.content_length;
        o->method = h.method;
        o->keep_alive = h.keep_alive;
        o->expect_continue = h.expect_continue;
        if (h.head_len == 0 || h.head_len > size - off) abort();
        if (h.content_length > fuzz_limits.max_body) abort();
        fuzz_use_head(&h, arena);
        off += h.head_len;
        off += h.content_length < size - off ? h.content_length : size - off;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static arena_t *arena;
    if (!arena) arena = arena_new(4096);
    uint32_t seed = 0;
    for (size_t i = 0; i < size && i < 16; i++)
        seed = seed * 31 + data[i];
    outcome_t a[FUZZ_MAX_REQUESTS], b[FUZZ_MAX_REQUESTS];
    int na = fuzz_run(data, size, seed, FEED_ALL, a, arena);
    arena_reset(arena);
    for (int mode = FEED_RANDOM; mode <= FEED_BYTES; mode++) {
        int nb = fuzz_run(data, size, seed, mode, b, arena);
        arena_reset(arena);
        if (na != nb) abort();
        for (int i = 0; i < na; i++)
            if (memcmp(&a[i], &b[i], sizeof a[i]) != 0) abort();
    }
    return 0;
}
