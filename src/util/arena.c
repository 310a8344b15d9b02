/*
 * arena - per-request bump allocator (see include/lakeapi/arena.h).
 *
 * Blocks are chained; a request that needs more than the first block gets
 * more blocks, which arena_reset() returns to the system so one large request
 * does not pin memory for the life of a keep-alive connection. Allocations
 * larger than a quarter block get a block of their own.
 */
#include "lakeapi/arena.h"
#include "lakeapi/buf.h" /* buf_i64_digits */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16

typedef struct arena_block {
    struct arena_block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char mem[];
} arena_block_t;

struct arena {
    arena_block_t *head; /* current block; the first block is last in the chain */
    arena_block_t *first;
    size_t block_size;
};

static void *arena_xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fputs("lakeapi: out of memory\n", stderr);
        abort();
    }
    return p;
}

static arena_block_t *arena_block_new(size_t size)
{
    arena_block_t *b = arena_xmalloc(sizeof *b + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

arena_t *arena_new(size_t first_block)
{
    arena_t *a = arena_xmalloc(sizeof *a);
    a->block_size = first_block < 256 ? 256 : first_block;
    a->first = a->head = arena_block_new(a->block_size);
    return a;
}

void arena_free(arena_t *a)
{
    if (!a) return;
    arena_block_t *b = a->head;
    while (b) {
        arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void arena_reset(arena_t *a)
{
    arena_block_t *b = a->head;
    while (b != a->first) {
        arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    a->head = a->first;
    a->first->used = 0;
}

void *arena_alloc(arena_t *a, size_t size)
{
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (size == 0) size = ARENA_ALIGN;
    arena_block_t *b = a->head;
    if (b->size - b->used < size) {
        size_t bsize = size > a->block_size / 4 ? size : a->block_size;
        arena_block_t *nb = arena_block_new(bsize);
        nb->next = a->head;
        a->head = nb;
        b = nb;
    }
    void *p = b->mem + b->used;
    b->used += size;
    return p;
}

void *arena_calloc(arena_t *a, size_t size)
{
    void *p = arena_alloc(a, size);
    memset(p, 0, size);
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(arena_t *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_i64(arena_t *a, long long v)
{
    char digits[24];
    size_t len;
    const char *p = buf_i64_digits(digits, (int64_t)v, &len);
    return arena_strndup(a, p, len);
}

char *arena_sprintf(arena_t *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}
