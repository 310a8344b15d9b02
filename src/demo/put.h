/*
 * gen/put.h - the byte writers both generators format rows with (tpch.c,
 * users.c). Each writes at p into a buffer the caller sized for a whole row
 * and returns the end; inline, so the row loops stay free of calls.
 */
#ifndef LAKEAPI_GEN_PUT_H
#define LAKEAPI_GEN_PUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline char *gen_put(char *p, const char *s, size_t len)
{
    memcpy(p, s, len);
    return p + len;
}

static inline char *gen_put_str(char *p, const char *s)
{
    return gen_put(p, s, strlen(s));
}

/* v in decimal, without leading zeros. */
static inline char *gen_put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

#endif
