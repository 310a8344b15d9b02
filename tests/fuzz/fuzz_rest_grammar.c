/*
 * libFuzzer target: the Data API grammar (rest/grammar). The input is split
 * at the first two newlines into a query string, a Prefer header and a Range
 * header. Parsing must never crash, read out of bounds or loop; an error must
 * carry a status and a message; a parsed select must have items.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rest/grammar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check_select(const rest_select_t *s, int depth)
{
    if (!s) return;
    if (s->nitems <= 0 || depth > 8) abort();
    for (int i = 0; i < s->nitems; i++)
        if (s->items[i].kind == REST_SEL_EMBED) fz_check_select(s->items[i].sub, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *prefer = strchr(s, '\n'), *range = NULL;
    if (prefer) {
        *prefer++ = '\0';
        range = strchr(prefer, '\n');
        if (range) *range++ = '\0';
    }
    arena_t *a = arena_new(4096);
    rest_limits_t lim;
    rest_limits_default(&lim);
    rest_query_t q;
    rest_error_t err;
    if (rest_parse_query(a, s, strlen(s), &lim, &q, &err) == 0) {
        fz_check_select(q.select, 0);
        if (q.nscopes < 1 || strcmp(q.scopes[0].path, "")) abort();
    } else if (err.status < 400 || !err.message || !err.code) {
        abort();
    }
    rest_prefer_t p;
    if (rest_parse_prefer(a, prefer, &p, &err) != 0 && err.status != 400) abort();
    long off = 0, n = -1;
    if (rest_parse_range(a, range, "items", &off, &n, &err) == 0 && (off < 0 || n < -1)) abort();
    arena_free(a);
    free(s);
    return 0;
}
