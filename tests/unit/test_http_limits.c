/*
 * test_http_limits - the process-wide connection limits (http/limits.c) that
 * every loop's server shares: two threads admitting at once never get more
 * than the caps, and everything admitted is released.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/internal.h"

#define ROUNDS 20000

typedef struct racer {
    http_conn_limits_t *l;
    unsigned char addr[16];
    atomic_uint *held; /* admitted and not yet released, over both threads */
    unsigned max_seen, admitted, refused;
    http_ip_count_t *entry; /* the address's entry, as admit_ip returned it */
} racer_t;

static void *race_total(void *arg)
{
    racer_t *r = arg;
    for (int i = 0; i < ROUNDS; i++) {
        if (!http_limits_admit_total(r->l)) {
            r->refused++;
            continue;
        }
        unsigned now = atomic_fetch_add(r->held, 1) + 1;
        if (now > r->max_seen) r->max_seen = now;
        r->admitted++;
        atomic_fetch_sub(r->held, 1);
        http_limits_release_total(r->l);
    }
    return NULL;
}

static void test_total_holds_across_threads(void **state)
{
    (void)state;
    http_conn_limits_t *l = http_conn_limits_new(3, 0);
    atomic_uint held = 0;
    racer_t a = {.l = l, .held = &held}, b = a;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race_total, &a);
    pthread_create(&tb, NULL, race_total, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_true(a.max_seen <= 3 && b.max_seen <= 3);
    assert_int_equal(a.admitted + a.refused, ROUNDS);
    assert_int_equal(http_conn_limits_open(l), 0);
    /* Filled from "two loops": the next one is refused, a release makes room. */
    for (int i = 0; i < 3; i++)
        assert_true(http_limits_admit_total(l));
    assert_false(http_limits_admit_total(l));
    assert_int_equal(http_conn_limits_open(l), 3);
    http_limits_release_total(l);
    assert_true(http_limits_admit_total(l));
    http_conn_limits_release(l);
}

/* Holds what it is admitted: at the end both threads together hold exactly the cap. */
static void *grab_ip(void *arg)
{
    racer_t *r = arg;
    for (int i = 0; i < ROUNDS; i++) {
        http_ip_count_t *e = http_limits_admit_ip(r->l, r->addr);
        if (e) {
            r->entry = e;
            r->admitted++;
        } else
            r->refused++;
    }
    return NULL;
}

static void test_per_ip_cap_holds_across_threads(void **state)
{
    (void)state;
    http_conn_limits_t *l = http_conn_limits_new(100, 5);
    assert_true(http_limits_per_ip(l));
    racer_t a = {.l = l}, b;
    a.addr[10] = a.addr[11] = 0xFF;
    a.addr[12] = 127, a.addr[15] = 1;
    b = a;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, grab_ip, &a);
    pthread_create(&tb, NULL, grab_ip, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.admitted + b.admitted, 5);
    /* Another address has its own count. */
    unsigned char other[16] = {0};
    other[15] = 1;
    http_ip_count_t *e = http_limits_admit_ip(l, other);
    assert_non_null(e);
    http_limits_release_ip(l, e);
    /* One release from the full address makes room for exactly one more. */
    assert_null(http_limits_admit_ip(l, a.addr));
    http_ip_count_t *e5 = a.entry ? a.entry : b.entry;
    http_limits_release_ip(l, e5);
    assert_non_null(http_limits_admit_ip(l, a.addr));
    assert_null(http_limits_admit_ip(l, a.addr));
    http_conn_limits_t *shared = http_conn_limits_share(l);
    http_conn_limits_release(l); /* the share keeps it alive */
    assert_null(http_limits_admit_ip(shared, a.addr));
    http_conn_limits_release(shared); /* the last reference frees the table (ASan: no leak) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_total_holds_across_threads),
        cmocka_unit_test(test_per_ip_cap_holds_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
