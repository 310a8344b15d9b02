/*
 * loopspin - a bounded busy-poll before a libuv loop blocks, for a lone client.
 *
 * With one request in flight the loop sleeps twice per request (waiting for
 * Postgres' answer, then for the client's next request), and each sleep costs
 * a wake-up: the scheduler, and on a virtual machine the idle vCPU's exit. At
 * one connection those wake-ups are most of what lakeapi adds to Postgres'
 * own latency. So when the owner's gate says the loop serves a lone client,
 * and the last wait ended within budget_us, the loop polls its epoll
 * descriptor (taking no event: libuv's own epoll_wait does that right after)
 * for up to budget_us before it blocks. A wait that runs past the budget
 * turns spinning off until a wait ends within it again, so an idle loop
 * sleeps as before.
 *
 * The gate is what keeps this off under load: with several clients the
 * wake-ups are shared by many requests, the cores are busy with Postgres
 * and the clients, and a spinning loop would take their CPU (measured: -20%
 * at 16 connections on 2 cores without the gate).
 *
 * Lifetime: loopspin_new on the loop's thread before the handles whose
 * prepare callbacks must run first (libuv runs the most recently started
 * prepare handle first, so this one runs after them: the queries and
 * responses they write are on the wire before the loop spins). loopspin_close
 * with the loop's other handles (before a uv_walk that closes the rest); the
 * memory goes with the close callbacks. Every call accepts NULL (spinning off).
 */
#ifndef LAKEAPI_LOOPSPIN_H
#define LAKEAPI_LOOPSPIN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct loopspin loopspin_t;

/* True when spinning may pay now (e.g. exactly one client connection is open). */
typedef bool (*loopspin_gate_fn)(void *data);

typedef struct loopspin_stats {
    uint64_t spins;   /* waits that spun */
    uint64_t caught;  /* of those, how many saw an event within the budget */
    uint64_t spin_ns; /* time spent spinning */
} loopspin_stats_t;

/* budget_us 0: no spinning (NULL is returned). */
loopspin_t *loopspin_new(uv_loop_t *loop, unsigned budget_us, loopspin_gate_fn gate, void *data);
void loopspin_close(loopspin_t *s);
void loopspin_stats(const loopspin_t *s, loopspin_stats_t *out);

#endif
