/*
 * test_inbox - closures posted from other threads run on the inbox's loop,
 * in order, and none runs (or leaks) once the inbox is closed.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lakeapi/inbox.h"

#define POSTS 10000

typedef struct ctx {
    uv_loop_t loop;
    inbox_t *inbox;
    uv_async_t stop;
    pthread_t loop_thread, loop_self; /* loop_self: set by the loop thread itself */
    atomic_int ran;
    int last, out_of_order;
    bool wrong_thread;
} ctx_t;

typedef struct item {
    ctx_t *c;
    int seq;
} item_t;

static void on_item(void *arg)
{
    item_t *it = arg;
    ctx_t *c = it->c;
    if (!pthread_equal(pthread_self(), c->loop_self)) c->wrong_thread = true;
    if (it->seq != c->last + 1) c->out_of_order++;
    c->last = it->seq;
    atomic_fetch_add(&c->ran, 1);
    free(it);
}

static void on_stop(uv_async_t *a)
{
    ctx_t *c = a->data;
    inbox_close(c->inbox); /* runs what is still queued, then refuses */
    uv_close((uv_handle_t *)&c->stop, NULL);
}

static void *loop_main(void *arg)
{
    ctx_t *c = arg;
    c->loop_self = pthread_self();
    uv_run(&c->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void test_posts_run_on_the_loop_in_order(void **state)
{
    (void)state;
    ctx_t *c = calloc(1, sizeof *c);
    uv_loop_init(&c->loop);
    c->inbox = inbox_ref(inbox_new(&c->loop)); /* ours, to post after the close */
    uv_async_init(&c->loop, &c->stop, on_stop);
    c->stop.data = c;
    pthread_create(&c->loop_thread, NULL, loop_main, c);
    for (int i = 1; i <= POSTS; i++) {
        item_t *it = malloc(sizeof *it);
        it->c = c;
        it->seq = i;
        assert_true(inbox_post(c->inbox, on_item, it));
    }
    uv_async_send(&c->stop);
    pthread_join(c->loop_thread, NULL);
    assert_int_equal(atomic_load(&c->ran), POSTS); /* every post ran, none after the close */
    assert_int_equal(c->out_of_order, 0);
    assert_false(c->wrong_thread);
    item_t late = {c, POSTS + 1};
    assert_false(inbox_post(c->inbox, on_item, &late)); /* closed: refused, never run */
    assert_int_equal(atomic_load(&c->ran), POSTS);
    inbox_unref(c->inbox); /* the last reference (the close callback dropped the creator's) */
    uv_loop_close(&c->loop);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_posts_run_on_the_loop_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
