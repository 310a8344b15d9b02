/*
 * libFuzzer target: cursor tokens (rest/cursor). Two halves per input:
 * - the input as a token: decoding must never crash or read out of bounds,
 *   and (the MAC failing) must be refused;
 * - the input split at NUL bytes as sort values (an empty part after a 0x01
 *   byte is a NULL): encoding then decoding must give them back exactly, and
 *   any single flipped character of the token must be refused. The keyset
 *   condition for the decoded values must build for mixed directions.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rest/cursor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static rest_cursor_keyring_t *fz_key;

static void fz_roundtrip(const uint8_t *data, size_t size, arena_t *a)
{
    const char *vals[REST_CURSOR_MAX_KEYS];
    size_t lens[REST_CURSOR_MAX_KEYS];
    int n = 0;
    size_t at = 0;
    while (at <= size && n < REST_CURSOR_MAX_KEYS) {
        const uint8_t *end = memchr(data + at, 0, size - at);
        size_t len = end ? (size_t)(end - (data + at)) : size - at;
        bool is_null = len == 1 && data[at] == 1;
        vals[n] = is_null ? NULL : arena_strndup(a, (const char *)data + at, len);
        lens[n] = is_null ? 0 : len;
        n++;
        at += len + 1;
        if (!end) break;
    }
    rest_cursor_values_t v = {n, vals, lens}, back;
    buf_t tok;
    buf_init(&tok);
    rest_cursor_encode(fz_key, "ctx", &v, &tok);
    if (rest_cursor_decode(fz_key, "ctx", tok.data, tok.len, a, &back) != 0) abort();
    if (back.n != n) abort();
    for (int i = 0; i < n; i++) {
        if (!vals[i] != !back.values[i]) abort();
        if (vals[i] && (back.lens[i] != lens[i] || memcmp(vals[i], back.values[i], lens[i])))
            abort();
    }
    if (rest_cursor_decode(fz_key, "ctx2", tok.data, tok.len, a, &back) == 0) abort();
    size_t flip = size % tok.len;
    tok.data[flip] = tok.data[flip] == 'A' ? 'B' : 'A';
    if (rest_cursor_decode(fz_key, "ctx", tok.data, tok.len, a, &back) == 0) abort();
    rest_cursor_key_t keys[REST_CURSOR_MAX_KEYS];
    for (int i = 0; i < n; i++)
        keys[i] = (rest_cursor_key_t){"\"c\"", (i & 1) ? "int" : NULL, (i & 2) != 0, (i & 4) != 0,
                                      (i & 8) != 0};
    buf_t sql;
    buf_init(&sql);
    const char *params[REST_CURSOR_MAX_KEYS];
    if (rest_cursor_where(keys, n, &v, 1, &sql, params, REST_CURSOR_MAX_KEYS) < 0) abort();
    buf_dispose(&sql);
    buf_dispose(&tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_key) fz_key = rest_cursor_keyring_new("fuzz secret");
    arena_t *a = arena_new(4096);
    rest_cursor_values_t out;
    /* Without the key the fuzzer cannot forge a MAC: every raw input is refused. */
    if (rest_cursor_decode(fz_key, "ctx", (const char *)data, size, a, &out) == 0) abort();
    fz_roundtrip(data, size, a);
    arena_free(a);
    return 0;
}
