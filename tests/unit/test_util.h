/*
 * test_util.h - helpers several unit tests share: a sink that captures what a
 * generator writes, one arena for a whole cmocka group, and closing a loop's
 * handles the way the server does before freeing what owns them.
 * Include after <cmocka.h>.
 */
#ifndef LAKEAPI_TEST_UTIL_H
#define LAKEAPI_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lakeapi/arena.h"

/* ---- generators ---- */

/* A growable capture of everything a gen_sink_fn receives (NUL-terminated). */
typedef struct {
    char *data;
    size_t len, cap;
    int calls;
    int stop_after; /* return stop_rc after this many calls; 0 = never */
    int stop_rc;
} capture_t;

static inline int capture_sink(const char *data, size_t len, void *arg)
{
    capture_t *c = arg;
    if (c->len + len + 1 > c->cap) {
        c->cap = (c->len + len + 1) * 2;
        c->data = realloc(c->data, c->cap);
        assert_non_null(c->data);
    }
    memcpy(c->data + c->len, data, len);
    c->len += len;
    c->data[c->len] = '\0';
    c->calls++;
    return c->stop_after && c->calls >= c->stop_after ? c->stop_rc : 0;
}

/* ---- one arena for a group: cmocka_run_group_tests(tests, test_arena_setup, ...) ---- */

static arena_t *test_arena;

static inline int test_arena_setup(void **state)
{
    (void)state;
    test_arena = arena_new(1024);
    return test_arena ? 0 : -1;
}

static inline int test_arena_teardown(void **state)
{
    (void)state;
    arena_free(test_arena);
    test_arena = NULL;
    return 0;
}

/* ---- libuv ---- */

static inline void test_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Closes every handle of loop and runs it until their close callbacks are done. */
static inline void test_loop_close_handles(uv_loop_t *loop)
{
    uv_walk(loop, test_close_walk, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}

#endif
