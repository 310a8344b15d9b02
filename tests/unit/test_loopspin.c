/*
 * test_loopspin - the busy-poll spins only while its gate says so and the
 * loop's waits are short, catches events that arrive within its budget
 * (they are then handled as usual, none lost), and leaves an idle loop to
 * block as before.
 */
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lakeapi/loopspin.h"

#define PINGS 2000

/* A client thread and the loop play ping-pong over an async handle: the
 * thread sends, waits until the loop has handled it, and sends again at
 * once, so the loop's next wait is a few microseconds long - a lone client. */
typedef struct pingpong {
    uv_loop_t loop;
    uv_async_t ping;
    sem_t pong;
    atomic_int handled;
    bool gate_open;
    int gate_calls;
} pingpong_t;

static bool gate(void *data)
{
    pingpong_t *p = data;
    p->gate_calls++;
    return p->gate_open;
}

static void on_ping(uv_async_t *a)
{
    pingpong_t *p = a->data;
    if (atomic_fetch_add(&p->handled, 1) + 1 == PINGS) uv_close((uv_handle_t *)a, NULL);
    sem_post(&p->pong);
}

static void *client_main(void *arg)
{
    pingpong_t *p = arg;
    for (int i = 0; i < PINGS; i++) {
        uv_async_send(&p->ping);
        sem_wait(&p->pong);
    }
    return NULL;
}

/* Runs PINGS round trips with a spinner of budget_us and returns its stats. */
static loopspin_stats_t pingpong_run(bool gate_open, unsigned budget_us)
{
    pingpong_t *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->gate_open = gate_open;
    uv_loop_init(&p->loop);
    sem_init(&p->pong, 0, 0);
    loopspin_t *s = loopspin_new(&p->loop, budget_us, gate, p);
    assert_non_null(s);
    uv_async_init(&p->loop, &p->ping, on_ping);
    p->ping.data = p;
    pthread_t client;
    pthread_create(&client, NULL, client_main, p);
    /* The spinner's handles are unreferenced: the run ends with the async. */
    uv_run(&p->loop, UV_RUN_DEFAULT);
    pthread_join(client, NULL);
    assert_int_equal(atomic_load(&p->handled), PINGS); /* nothing lost or doubled */
    assert_true(p->gate_calls > 0 || !gate_open);
    loopspin_stats_t st;
    loopspin_stats(s, &st);
    loopspin_close(s);
    uv_run(&p->loop, UV_RUN_DEFAULT); /* the close callbacks free it */
    assert_int_equal(uv_loop_close(&p->loop), 0);
    sem_destroy(&p->pong);
    free(p);
    return st;
}

static void test_open_gate_spins_and_catches(void **state)
{
    (void)state;
    /* A generous budget, so a slow (sanitized) build still catches. */
    loopspin_stats_t st = pingpong_run(true, 20000);
    assert_true(st.spins > PINGS / 2);
    assert_true(st.caught > PINGS / 2);
    assert_true(st.caught <= st.spins);
    assert_true(st.spin_ns > 0);
}

static void test_closed_gate_never_spins(void **state)
{
    (void)state;
    loopspin_stats_t st = pingpong_run(false, 20000);
    assert_int_equal(st.spins, 0);
    assert_int_equal(st.caught, 0);
    assert_int_equal(st.spin_ns, 0);
}

/* A timer every 5 ms: each wait is longer than the budget, so the loop stays cold. */
typedef struct ticker {
    uv_timer_t timer;
    int ticks;
} ticker_t;

static void on_tick(uv_timer_t *t)
{
    ticker_t *k = t->data;
    if (++k->ticks == 10) uv_close((uv_handle_t *)t, NULL);
}

static bool gate_always(void *data)
{
    (void)data;
    return true;
}

static void test_idle_loop_blocks(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    loopspin_t *s = loopspin_new(&loop, 200, gate_always, NULL);
    ticker_t k = {.ticks = 0};
    uv_timer_init(&loop, &k.timer);
    k.timer.data = &k;
    uv_timer_start(&k.timer, on_tick, 5, 5);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(k.ticks, 10);
    loopspin_stats_t st;
    loopspin_stats(s, &st);
    assert_int_equal(st.spins, 0);
    loopspin_close(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_zero_budget_is_off(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    loopspin_t *s = loopspin_new(&loop, 0, gate_always, NULL);
    assert_null(s);
    loopspin_stats_t st = {.spins = 7};
    loopspin_stats(s, &st);
    assert_int_equal(st.spins, 0);
    loopspin_close(s); /* accepts NULL */
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_gate_spins_and_catches),
        cmocka_unit_test(test_closed_gate_never_spins),
        cmocka_unit_test(test_idle_loop_blocks),
        cmocka_unit_test(test_zero_budget_is_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
