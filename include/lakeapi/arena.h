/*
 * arena - a per-request bump allocator.
 *
 * Everything a request needs while it is served (decoded path and query,
 * parameter copies, small strings) comes from its arena and is released in
 * one go by arena_reset()/arena_free() when the response has been written.
 * Nothing allocated from an arena may be freed individually.
 */
#ifndef LAKEAPI_ARENA_H
#define LAKEAPI_ARENA_H

#include <stddef.h>

typedef struct arena arena_t;

arena_t *arena_new(size_t first_block);
void arena_free(arena_t *a);
/* Frees every block but the first and rewinds it: cheap reuse across requests. */
void arena_reset(arena_t *a);
/* Never returns NULL (aborts on OOM); memory is 16-byte aligned, not zeroed. */
void *arena_alloc(arena_t *a, size_t size);
void *arena_calloc(arena_t *a, size_t size);
char *arena_strndup(arena_t *a, const char *s, size_t len);
char *arena_strdup(arena_t *a, const char *s);
/* The decimal digits of v (printf's "%lld" without printf's cost). */
char *arena_i64(arena_t *a, long long v);
char *arena_sprintf(arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
