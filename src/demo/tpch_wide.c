/*
 * tpch_wide.c - where dbgen's 64-bit custkey and partkey streams stand at a
 * given row, for scale factors >= 30000 (shared/tpch/ORDERS.md section 7).
 *
 * At those scales dbgen draws custkey and partkey from a 64-bit LCG but still
 * pads each stream to its per-row budget with the 31-bit Lehmer jump. The
 * custkey stream uses its whole budget (1) every row, so it is a pure LCG and
 * jumps in O(log n). The partkey stream is padded by 7 - lines after every
 * order, and that Lehmer multiply of a 64-bit state (wrapping, then a
 * truncating '%') has no algebraic shortcut: the state at row i is found by
 * replaying rows from a checkpoint (tpch_wide_ckpt.c), ~10 ns a row.
 *
 * The output of a dbgen run depends on where it started (a chunked run jumps
 * both streams with the Lehmer jump from their seeds); this file reproduces
 * a run from row 1, i.e. `dbgen -s SF -T O` without -C/-S.
 */
#include "demo/tpch_internal.h"

int64_t tpch64_skip(int64_t z, int64_t n)
{
    /* Powers of one affine map x -> a*x + c commute, so square-and-multiply works. */
    uint64_t a = 1, c = 0, ba = TPCH64_A, bc = TPCH64_C;
    for (; n > 0; n >>= 1) {
        if (n & 1) {
            a *= ba;
            c = c * ba + bc;
        }
        bc = bc * ba + bc;
        ba *= ba;
    }
    return (int64_t)(a * (uint64_t)z + c);
}

/*
 * One order's effect on the partkey state, by its line count L: L LCG draws
 * (x -> a*x + c folded into one map), then the pad by n = 7 - L. The pad's
 * first multiply (by 16807^lowbit(n)) wraps in 64 bits, so it is folded into
 * the map too; the rest of the pad is an ordinary multiply mod 2^31-1 (by
 * `rest`) on |x| with x's sign restored, which is what C's '%' gives.
 */
typedef struct {
    uint64_t a, c, rest;
} pkey_step_t;

static void pkey_steps(pkey_step_t steps[8])
{
    for (int lines = 1; lines <= 7; lines++) {
        uint64_t a = 1, c = 0;
        for (int k = 0; k < lines; k++) {
            a *= TPCH64_A;
            c = c * TPCH64_A + TPCH64_C;
        }
        int64_t pad = 7 - lines, low = pad & -pad;
        uint64_t first = pad ? (uint64_t)tpch_rng_pow(low) : 1;
        steps[lines].a = a * first;
        steps[lines].c = c * first;
        steps[lines].rest = (uint64_t)tpch_rng_pow(pad - low);
    }
}

/* x mod 2^31-1 for any x < 2^64, by folding (2^31 = 1 mod M). */
static inline uint64_t pkey_fold(uint64_t x)
{
    x = (x & (uint64_t)TPCH_RNG_M) + (x >> 31);
    x = (x & (uint64_t)TPCH_RNG_M) + (x >> 31);
    return x >= (uint64_t)TPCH_RNG_M ? x - (uint64_t)TPCH_RNG_M : x;
}

int64_t tpch64_pkey_replay(int64_t z, int64_t from, int64_t to)
{
    pkey_step_t steps[8];
    pkey_steps(steps);
    int64_t s = tpch_rng_skip(TPCH_SEED_LCNT, from - 1);
    uint64_t x = (uint64_t)z;
    for (int64_t row = from; row < to; row++) {
        s = tpch_next(s);
        int lines = (int)tpch_unif_of(s, 1, 7);
        const pkey_step_t *st = &steps[lines];
        uint64_t t = x * st->a + st->c;
        uint64_t neg = (uint64_t)((int64_t)t >> 63); /* all ones when t < 0 */
        uint64_t mag = pkey_fold(pkey_fold((t ^ neg) - neg) * st->rest);
        x = lines == 7 ? t : (mag ^ neg) - neg; /* 7 lines: no pad at all */
    }
    return (int64_t)x;
}

int64_t tpch64_pkey_state(int64_t row)
{
    if (row < 1) row = 1;
    int64_t k = (row - 1) >> TPCH64_CKPT_SHIFT;
    if (k >= tpch64_pkey_ckpt_count) k = tpch64_pkey_ckpt_count - 1;
    int64_t from = 1 + k * TPCH64_CKPT_EVERY;
    return tpch64_pkey_replay(tpch64_pkey_ckpt[k], from, row);
}
