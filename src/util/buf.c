/*
 * buf - growable byte buffer (see include/lakeapi/buf.h).
 *
 * Growth doubles the capacity so appending n bytes costs O(n) amortised; the
 * data is kept NUL-terminated so a buffer can be handed to C string APIs.
 */
#include "lakeapi/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void buf_oom(void)
{
    fputs("lakeapi: out of memory\n", stderr);
    abort();
}

void buf_init(buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_dispose(buf_t *b)
{
    free(b->data);
    buf_init(b);
}

void buf_reset(buf_t *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void buf_reserve(buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) buf_oom();
    b->data = p;
    b->cap = cap;
}

void buf_append(buf_t *b, const void *data, size_t len)
{
    buf_reserve(b, len);
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void buf_append_str(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_append_char(buf_t *b, char c)
{
    buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

char *buf_i64_digits(char out[24], int64_t v, size_t *len)
{
    char *p = out + 24;
    /* Work on the magnitude as unsigned so INT64_MIN does not overflow. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    *len = (size_t)(out + 24 - p);
    return p;
}

char *buf_i64_put(char *dst, int64_t v)
{
    char tmp[24];
    size_t n;
    const char *p = buf_i64_digits(tmp, v, &n);
    memcpy(dst, p, n);
    return dst + n;
}

void buf_append_i64(buf_t *b, int64_t v)
{
    char tmp[24];
    size_t n;
    const char *p = buf_i64_digits(tmp, v, &n);
    buf_append(b, p, n);
}

void buf_vprintf(buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    buf_reserve(b, 64);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    b->len += (size_t)n;
}

void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *buf_steal(buf_t *b)
{
    char *p = b->data;
    if (!p) {
        p = calloc(1, 1);
        if (!p) buf_oom();
    }
    buf_init(b);
    return p;
}
