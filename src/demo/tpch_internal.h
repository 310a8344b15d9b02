/*
 * tpch_internal.h - pieces shared by the TPC-H generator files and their tests.
 *
 * The Park-Miller stream arithmetic (shared/tpch/ORDERS.md section 5) and the
 * process-wide text pool (section 6.6). Not part of the public gen.h contract.
 *
 * tpch.c and tpch_pool.c are one module (the ORDERS generator) split in two
 * files. Layer demo (generators, COPY loader, private cluster): may include
 * db, json, config, log, util.
 */
#ifndef LAKEAPI_GEN_TPCH_INTERNAL_H
#define LAKEAPI_GEN_TPCH_INTERNAL_H

#include <stdint.h>

#define TPCH_RNG_M     2147483647LL /* 2^31 - 1 */
#define TPCH_RNG_A     16807LL
#define TPCH_POOL_SIZE 314572800LL /* 300 MiB, dbgen's TEXT_POOL_SIZE */
#define TPCH_POOL_SEED 933588178LL /* stream 5 */

/* (a * b) mod 2^31-1 for a, b in [0, 2^31-1): the product fits in 62 bits. */
static inline int64_t tpch_mulmod(int64_t a, int64_t b)
{
    uint64_t x = (uint64_t)a * (uint64_t)b;
    /* Mersenne reduction: 2^31 = 1 (mod M), so fold the high bits onto the low ones. */
    x = (x & (uint64_t)TPCH_RNG_M) + (x >> 31);
    x = (x & (uint64_t)TPCH_RNG_M) + (x >> 31);
    return x >= (uint64_t)TPCH_RNG_M ? (int64_t)(x - (uint64_t)TPCH_RNG_M) : (int64_t)x;
}

/* One step of the stream: s <- s * 16807 mod (2^31 - 1). */
static inline int64_t tpch_next(int64_t s)
{
    return tpch_mulmod(s, TPCH_RNG_A);
}

/*
 * dbgen's UnifInt on the state just produced: the division and the multiply
 * must happen in this order in double precision, then truncate, or results
 * drift from dbgen's.
 */
static inline int64_t tpch_unif_of(int64_t state, int64_t lo, int64_t hi)
{
    double u = (double)state / (double)TPCH_RNG_M;
    return lo + (int64_t)(u * (double)(hi - lo + 1));
}

/* Advances *s once and draws uniform(lo, hi) from it. */
static inline int64_t tpch_unif(int64_t *s, int64_t lo, int64_t hi)
{
    *s = tpch_next(*s);
    return tpch_unif_of(*s, lo, hi);
}

/* 16807^n mod (2^31 - 1), by square-and-multiply: the O(log n) stream jump. */
int64_t tpch_rng_pow(int64_t n);
/* The state of a stream with initial seed seed0 after n draws. */
int64_t tpch_rng_skip(int64_t seed0, int64_t n);

/*
 * The 314,572,800-byte text pool, built on first use and shared by every
 * generator in the process (it does not depend on the scale factor).
 * tpch_pool_acquire() returns NULL on OOM; each successful acquire must be
 * paired with one tpch_pool_release(), and the last release frees the pool.
 * Thread-safe.
 */
const char *tpch_pool_acquire(void);
void tpch_pool_release(void);

#endif
