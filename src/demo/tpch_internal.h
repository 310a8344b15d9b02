/*
 * tpch_internal.h - pieces shared by the TPC-H generator files and their tests.
 *
 * The Park-Miller stream arithmetic (shared/tpch/ORDERS.md section 5), the
 * 64-bit custkey/partkey streams of SF >= 30000 (section 7) and the
 * process-wide text pool (section 6.6). Not part of the public gen.h contract.
 *
 * tpch.c, tpch_pool.c, tpch_wide.c and tpch_wide_ckpt.c are one module (the
 * ORDERS generator) split in four files. Layer demo (generators, COPY loader,
 * private cluster): may include db, json, config, log, util.
 */
#ifndef LAKEAPI_GEN_TPCH_INTERNAL_H
#define LAKEAPI_GEN_TPCH_INTERNAL_H

#include <stdint.h>

#define TPCH_RNG_M      2147483647LL /* 2^31 - 1 */
#define TPCH_RNG_A      16807LL
#define TPCH_POOL_SIZE  314572800LL  /* 300 MiB, dbgen's TEXT_POOL_SIZE */
#define TPCH_POOL_SEED  933588178LL  /* stream 5 */
#define TPCH_SEED_LCNT  1434868289LL /* O_LCNT_SD: lines per order */
#define TPCH_SEED_CKEY  851767375LL  /* O_CKEY_SD: custkey */
#define TPCH_SEED_PKEY  1808217256LL /* L_PKEY_SD: partkey, 7 draws per order */
#define TPCH_WIDE_SCALE 30000        /* from this scale on, custkey/partkey are 64-bit */
#define TPCH64_A        6364136223846793005ULL
#define TPCH64_C        1ULL

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

/* ---- the 64-bit streams (ORDERS.md 7) ---- */

/* One step of dbgen's 64-bit LCG; the state is a signed int64 that wraps. */
static inline int64_t tpch64_next(int64_t z)
{
    return (int64_t)((uint64_t)z * TPCH64_A + TPCH64_C);
}

/* dbgen's dss_random64: advance, then lo + (|z| mod (hi - lo + 1)) with C's '%'. */
static inline int64_t tpch64_unif(int64_t *z, int64_t lo, int64_t hi)
{
    *z = tpch64_next(*z);
    /* dbgen negates in int64: INT64_MIN stays negative and its remainder too. */
    int64_t t = *z < 0 ? (int64_t)(0 - (uint64_t)*z) : *z;
    return lo + t % (hi - lo + 1);
}

/*
 * dbgen's per-row padding (NthElement) as it acts on a 64-bit state: the 31-bit
 * Lehmer square-and-multiply, whose first multiply wraps in int64 and whose '%'
 * truncates toward zero, so the result lies in (-(2^31-1), 2^31-1).
 */
static inline int64_t tpch64_pad(int64_t z, int64_t n)
{
    int64_t mult = TPCH_RNG_A;
    for (; n > 0; n >>= 1) {
        if (n & 1) z = (int64_t)((uint64_t)mult * (uint64_t)z) % TPCH_RNG_M;
        mult = tpch_mulmod(mult, mult);
    }
    return z;
}

/* The LCG state after n more draws (the custkey stream is never padded). */
int64_t tpch64_skip(int64_t z, int64_t n);

/*
 * The partkey stream's state at the start of row `row` (>= 1) of a run from
 * row 1. Each row pads it by 7 - lines, which mixes the two generators, so no
 * closed form exists: it replays from the nearest checkpoint at or before
 * row (every TPCH64_CKPT_EVERY rows; see tpch_wide_ckpt.c), about 10 ns a row.
 */
int64_t tpch64_pkey_state(int64_t row);
/* Replays the partkey stream from state z at the start of row `from` to row `to`. */
int64_t tpch64_pkey_replay(int64_t z, int64_t from, int64_t to);

#define TPCH64_CKPT_SHIFT 26
#define TPCH64_CKPT_EVERY (1LL << TPCH64_CKPT_SHIFT)
/* tpch64_pkey_ckpt[k] is the partkey state at the start of row 1 + k * TPCH64_CKPT_EVERY. */
extern const int64_t tpch64_pkey_ckpt[];
extern const int64_t tpch64_pkey_ckpt_count;

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
