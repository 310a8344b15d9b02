/*
 * buf - a growable byte buffer.
 *
 * The one container the server uses for bytes it builds: response bodies, JSON,
 * COPY data. A buf_t owns its memory; buf_dispose() frees it. Appends never fail
 * silently: on out-of-memory the process aborts (a server that cannot allocate
 * a few KiB has no useful way to continue a request).
 */
#ifndef LAKEAPI_BUF_H
#define LAKEAPI_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    char *data; /* NUL-terminated whenever cap > 0 (not counted in len) */
    size_t len;
    size_t cap;
} buf_t;

void buf_init(buf_t *b);
void buf_dispose(buf_t *b);
void buf_reset(buf_t *b); /* len = 0, keeps the allocation */
void buf_reserve(buf_t *b, size_t extra);
void buf_append(buf_t *b, const void *data, size_t len);
void buf_append_str(buf_t *b, const char *s);
void buf_append_char(buf_t *b, char c);
void buf_append_i64(buf_t *b, int64_t v);
/* v in decimal at the end of out[24] (not NUL-terminated); returns where it starts. */
char *buf_i64_digits(char out[24], int64_t v, size_t *len);
/* v in decimal written at dst (room for 20 bytes, no NUL); returns the end. */
char *buf_i64_put(char *dst, int64_t v);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(buf_t *b, const char *fmt, va_list ap);
/* Hands the memory to the caller (who frees it with free()); b becomes empty. */
char *buf_steal(buf_t *b);

#endif
