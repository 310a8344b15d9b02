/*
 * test_auth_ratelimit - the rate limiter shared by every loop (WORKERS > 1):
 * two threads taking from the same bucket get exactly the burst between them,
 * a flood of distinct keys from two threads keeps the table at its capacity,
 * a clock read earlier on another thread never refills a bucket twice, and
 * the last reference frees the limiter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth/internal.h"

#define TAKES 20000

typedef struct taker {
    auth_ratelimit_t *r;
    int id;
    bool distinct; /* a fresh key per take (the flood) instead of one shared key */
    int allowed, evicted;
} taker_t;

static void *taker_main(void *arg)
{
    taker_t *t = arg;
    char key[32];
    for (int i = 0; i < TAKES; i++) {
        int n = t->distinct ? snprintf(key, sizeof key, "t%d-%d", t->id, i)
                            : snprintf(key, sizeof key, "shared");
        bool ev;
        /* Both threads at the same instant: no refill, only the burst is there. */
        auth_rate_decision_t d = auth_ratelimit_take(t->r, key, (size_t)n, 5.0, &ev);
        t->allowed += d.allowed;
        t->evicted += ev;
    }
    return NULL;
}

static void run_two(auth_ratelimit_t *r, bool distinct, taker_t t[2])
{
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        t[i] = (taker_t){.r = r, .id = i, .distinct = distinct};
        assert_int_equal(pthread_create(&th[i], NULL, taker_main, &t[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
}

static void test_two_threads_share_one_bucket(void **state)
{
    (void)state;
    auth_ratelimit_t *r = auth_ratelimit_new(0.001, 5000, 1024);
    auth_ratelimit_t *loop1 = auth_ratelimit_share(r); /* what a second loop's auth_t holds */
    taker_t t[2];
    run_two(r, false, t);
    assert_int_equal(t[0].allowed + t[1].allowed, 5000); /* the burst once, not per thread */
    assert_int_equal(auth_ratelimit_size(loop1), 1);
    auth_ratelimit_free(r);
    bool ev;
    assert_false(auth_ratelimit_take(loop1, "shared", 6, 5.0, &ev).allowed); /* still alive */
    auth_ratelimit_free(loop1);
}

static void test_two_threads_flood_stays_bounded(void **state)
{
    (void)state;
    auth_ratelimit_t *r = auth_ratelimit_new(1.0, 1, 256);
    taker_t t[2];
    run_two(r, true, t);
    assert_int_equal(t[0].allowed + t[1].allowed, 2 * TAKES); /* every key is new */
    assert_int_equal(auth_ratelimit_size(r), 256);
    assert_int_equal(t[0].evicted + t[1].evicted, 2 * TAKES - 256);
    auth_ratelimit_free(r);
}

static void test_older_clock_never_refills_twice(void **state)
{
    (void)state;
    auth_ratelimit_t *r = auth_ratelimit_new(1.0, 2, 16);
    bool ev;
    assert_true(auth_ratelimit_take(r, "k", 1, 10.0, &ev).allowed);
    assert_true(auth_ratelimit_take(r, "k", 1, 10.0, &ev).allowed);
    /* another loop read its clock a moment earlier: no token, and no step back in time */
    assert_false(auth_ratelimit_take(r, "k", 1, 9.0, &ev).allowed);
    assert_true(auth_ratelimit_take(r, "k", 1, 11.0, &ev).allowed); /* one second: one token */
    assert_false(auth_ratelimit_take(r, "k", 1, 11.0, &ev).allowed);
    auth_ratelimit_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_threads_share_one_bucket),
        cmocka_unit_test(test_two_threads_flood_stays_bounded),
        cmocka_unit_test(test_older_clock_never_refills_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
