/*
 * test_gen_tpch_wide.c - ORDERS at SF >= 30000, where dbgen draws custkey and
 * partkey from its 64-bit generator (shared/tpch/ORDERS.md section 7).
 *
 * No expected value here comes from the code under test. The vectors were
 * produced by tests/tpch_naive.py, an independent naive model of ORDERS.md that
 * starts at row 1 and steps every stream one draw at a time (no jump-ahead),
 * with the comments cut from the text pool that model builds itself:
 *   tests/tpch_naive.py --sf 30000,100000 --rows 1-8,101-103,1000-1001,123457 --pool
 *   tests/tpch_naive.py --pkey-state ROW
 * and the model is also run live by test_against_naive_model. Every check also
 * starts mid-table (at the row itself) and compares with runs from row 1.
 *
 * LAKEAPI_TPCH_CKPT_OUT=file writes src/demo/tpch_wide_ckpt.c's values, one
 * per line, by replaying every row to SF 100000's end (about 25 minutes)
 * instead of testing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lakeapi/gen.h"
#include "demo/tpch_internal.h"
#include "test_util.h"
#include "tpch_test_util.h"

#define TPCH64_A_INVERSE 13877824140714322085ULL /* TPCH64_A * this = 1 mod 2^64 */

static gen_tpch_t *sf30k, *sf100k;

/* Asserts that row i, generated on its own, is want (no newline), and the same in the run. */
static void assert_row(gen_tpch_t *g, int64_t i, const char *want, const char *run_from_1)
{
    char *got = gen_rows(g, i, 1, false);
    size_t n = strlen(want);
    assert_int_equal(strlen(got), n + 1);
    assert_memory_equal(got, want, n);
    assert_int_equal(got[n], '\n');
    if (run_from_1) assert_memory_equal(line_at(run_from_1, i - 1), got, n + 1);
    free(got);
}

static int group_setup(void **state)
{
    (void)state;
    sf30k = gen_tpch_new(30000);
    sf100k = gen_tpch_new(100000);
    return sf30k && sf100k ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    gen_tpch_free(sf30k);
    gen_tpch_free(sf100k);
    return 0;
}

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(gen_tpch_orders_count(29999), 1500000LL * 29999);
    assert_int_equal(gen_tpch_orders_count(30000), 45000000000LL);
    assert_int_equal(gen_tpch_orders_count(100000), 150000000000LL);
    assert_int_equal(gen_tpch_orders_count(1e9), 1500000000000000LL);
    assert_int_equal(gen_tpch_orders_count(1.1e9), -1);
    assert_null(gen_tpch_new(2e9));
    assert_int_equal(gen_tpch_orderkey(45000000000LL), 180000000000LL);
}

/* Values from tests/tpch_naive.py (wrap64, nth_element, unif64). */
static void test_rng64_vectors(void **state)
{
    (void)state;
    assert_int_equal(tpch64_next(TPCH_SEED_CKEY), -2172803120398045468LL);
    int64_t z = TPCH_SEED_CKEY;
    for (int i = 0; i < 1000; i++)
        z = tpch64_next(z);
    assert_int_equal(z, -7350835447638740697LL);
    assert_int_equal(tpch64_skip(TPCH_SEED_CKEY, 1000), -7350835447638740697LL);
    assert_int_equal(tpch64_skip(TPCH_SEED_CKEY, 0), TPCH_SEED_CKEY);
    assert_int_equal(tpch64_skip(tpch64_skip(TPCH_SEED_CKEY, 400), 600), z);

    assert_int_equal(tpch64_pad(-5000000000000000000LL, 1), 2030567687);
    assert_int_equal(tpch64_pad(1234567890123456789LL, 3), -699391588);
    assert_int_equal(tpch64_pad(-1, 6), -470211272);
    assert_int_equal(tpch64_pad(INT64_MAX, 5), 825778386);
    assert_int_equal(tpch64_pad(INT64_MIN, 6), -1969887316);
    assert_int_equal(tpch64_pad(42, 0), 42);

    /* |INT64_MIN| stays negative in dbgen's int64 negation: 1 + (-2^63 % 10) = -7. */
    int64_t before_min = (int64_t)(((uint64_t)INT64_MIN - 1) * TPCH64_A_INVERSE);
    assert_int_equal(tpch64_unif(&before_min, 1, 10), -7);
    assert_int_equal(before_min, INT64_MIN);
}

/*
 * States of the partkey stream at the start of a row, from tpch_naive.py
 * --pkey-state (row 16777217 replays 2^24 rows from checkpoint 0). Later
 * checkpoints are checked by test_checkpoints_chain.
 */
static void test_pkey_states(void **state)
{
    (void)state;
    assert_int_equal(tpch64_pkey_state(1), TPCH_SEED_PKEY);
    assert_int_equal(tpch64_pkey_state(2), -725078589);
    assert_int_equal(tpch64_pkey_state(16777217), -311471942);
    assert_int_equal(tpch64_pkey_ckpt[0], TPCH_SEED_PKEY);
}

/*
 * Each checkpoint is the replay of the one before (checked for the first,
 * a middle and the last pair; each pair is 2^26 rows), and starts just before
 * and at a checkpoint agree row for row.
 */
static void test_checkpoints_chain(void **state)
{
    (void)state;
    int64_t n = tpch64_pkey_ckpt_count;
    assert_true(n >= 2);
    int64_t pairs[] = {0, n / 2 - 1, n - 2};
    for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
        int64_t from = 1 + pairs[k] * TPCH64_CKPT_EVERY;
        assert_int_equal(
            tpch64_pkey_replay(tpch64_pkey_ckpt[pairs[k]], from, from + TPCH64_CKPT_EVERY),
            tpch64_pkey_ckpt[pairs[k] + 1]);
    }

    int64_t at = 1 + TPCH64_CKPT_EVERY;
    char *before = gen_rows(sf30k, at - 3, 8, false); /* replays 2^26 - 4 rows from ckpt[0] */
    char *after = gen_rows(sf30k, at, 5, false);      /* starts on ckpt[1] */
    assert_string_equal(line_at(before, 3), after);
    free(before);
    free(after);
}

/* Full lines from tpch_naive.py --pool (see the top of this file). */
static void test_rows_vectors(void **state)
{
    (void)state;
    static const struct {
        int sf;
        int64_t i;
        const char *row;
    } want[] = {
        {30000, 1,
         "1|3898045469|O|200131.83|1996-01-02|5-LOW|Clerk#028516474|0|nstructions sleep furiously "
         "among |"},
        {100000, 1,
         "1|5398045469|O|201400.86|1996-01-02|5-LOW|Clerk#095054913|0|nstructions sleep furiously "
         "among |"},
        {30000, 2,
         "2|3778993900|O|78275.82|1996-12-01|1-URGENT|Clerk#026374644|0| foxes. pending accounts "
         "at the pending, silent asymptot|"},
        {100000, 2,
         "2|14278993900|O|74286.61|1996-12-01|1-URGENT|Clerk#087915478|0| foxes. pending accounts "
         "at the pending, silent asymptot|"},
        {30000, 3,
         "3|181948084|F|226411.55|1993-10-14|5-LOW|Clerk#028627578|0|sly final accounts boost. "
         "carefully regular ideas cajole carefully. depos|"},
        {100000, 3,
         "3|181948084|F|222095.57|1993-10-14|5-LOW|Clerk#095425260|0|sly final accounts boost. "
         "carefully regular ideas cajole carefully. depos|"},
        {30000, 4,
         "4|246788684|O|47492.10|1995-10-11|5-LOW|Clerk#003701895|0|sits. slyly regular warthogs "
         "cajole. regular, regular theodolites acro|"},
        {100000, 4,
         "4|10746788684|O|47493.04|1995-10-11|5-LOW|Clerk#012339649|0|sits. slyly regular warthogs "
         "cajole. regular, regular theodolites acro|"},
        {30000, 5,
         "5|3955405618|F|141532.88|1994-07-30|5-LOW|Clerk#027743901|0|quickly. bold deposits sleep "
         "slyly. packages use slyly|"},
        {100000, 5,
         "5|3955405618|F|146271.30|1994-07-30|5-LOW|Clerk#092479670|0|quickly. bold deposits sleep "
         "slyly. packages use slyly|"},
        {30000, 6,
         "6|2122806898|F|40596.30|1992-02-21|4-NOT SPECIFIED|Clerk#001739400|0|ggle. special, "
         "final requests are against the furiously specia|"},
        {100000, 6,
         "6|9622806898|F|44103.47|1992-02-21|4-NOT SPECIFIED|Clerk#005797999|0|ggle. special, "
         "final requests are against the furiously specia|"},
        {30000, 7,
         "7|564876767|O|265176.14|1996-01-10|2-HIGH|Clerk#014088087|0|ly special requests |"},
        {100000, 7,
         "7|3564876767|O|263956.30|1996-01-10|2-HIGH|Clerk#046960288|0|ly special requests |"},
        {30000, 8,
         "32|3248941576|O|153162.58|1995-07-16|2-HIGH|Clerk#018468035|0|ise blithely bold, regular "
         "requests. quickly unusual dep|"},
        {100000, 8,
         "32|6248941576|O|156069.82|1995-07-16|2-HIGH|Clerk#061560116|0|ise blithely bold, regular "
         "requests. quickly unusual dep|"},
        {30000, 101,
         "389|3619952209|F|2109.03|1994-02-17|2-HIGH|Clerk#001832101|0|ing to the regular "
         "asymptotes. final, pending foxes about the blithely sil|"},
        {100000, 101,
         "389|2119952209|F|2291.12|1994-02-17|2-HIGH|Clerk#006107001|0|ing to the regular "
         "asymptotes. final, pending foxes about the blithely sil|"},
        {30000, 102,
         "390|464508913|O|243310.44|1998-04-07|5-LOW|Clerk#012107912|0|xpress asymptotes use among "
         "the regular, final pinto b|"},
        {100000, 102,
         "390|7964508913|O|233833.59|1998-04-07|5-LOW|Clerk#040359705|0|xpress asymptotes use "
         "among the regular, final pinto b|"},
        {30000, 103,
         "391|2541933823|F|26736.40|1994-11-17|2-HIGH|Clerk#007666972|0|orges thrash fluffil|"},
        {100000, 103,
         "391|5541933823|F|26736.80|1994-11-17|2-HIGH|Clerk#025556573|0|orges thrash fluffil|"},
        {30000, 1000,
         "4000|1638740698|F|150292.98|1992-01-04|5-LOW|Clerk#010141984|0|le carefully closely even "
         "pinto beans. regular, ironic foxes against the|"},
        {100000, 1000,
         "4000|7638740698|F|146048.78|1992-01-04|5-LOW|Clerk#033806611|0|le carefully closely even "
         "pinto beans. regular, ironic foxes against the|"},
        {30000, 1001,
         "4001|3309165533|O|138462.33|1997-05-15|3-MEDIUM|Clerk#026312424|0|detect. asymptotes "
         "sleep furio|"},
        {100000, 1001,
         "4001|7809165533|O|144039.53|1997-05-15|3-MEDIUM|Clerk#087708080|0|detect. asymptotes "
         "sleep furio|"},
        {30000, 123457,
         "493825|822034342|O|100219.15|1997-12-13|3-MEDIUM|Clerk#024172061|0|nding requests dazzle "
         "blith|"},
        {100000, 123457,
         "493825|822034342|O|98984.57|1997-12-13|3-MEDIUM|Clerk#080573536|0|nding requests dazzle "
         "blith|"},
    };
    char *run30k = gen_rows(sf30k, 1, 1001, false), *run100k = gen_rows(sf100k, 1, 1001, false);
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        bool small = want[k].sf == 30000;
        assert_row(small ? sf30k : sf100k, want[k].i, want[k].row,
                   want[k].i <= 1001 ? (small ? run30k : run100k) : NULL);
    }
    free(run30k);
    free(run100k);
}

/* Runs from row 1, from mid-table and in batches give the same rows. */
static void test_mid_start_matches_full_run(void **state)
{
    (void)state;
    assert_mid_and_batches_match(sf30k, 5000, 1234, 700, 613);
    assert_mid_and_batches_match(sf100k, 5000, 1234, 700, 613);
}

/*
 * tests/tpch_naive.py, run live: every field of the rows below, each row
 * generated here on its own (a mid-table start), at SFs 29999 (the last
 * 31-bit one), 30000, 100000, 10^6 and 10^7 (10-digit clerks). The model
 * prints comments as "@offset+length" into the text pool (test_gen_tpch
 * checks the pool against dbgen's sha256).
 */
static void check_against_model(const char *sfs, const char *ranges)
{
    const char *src = getenv("LAKEAPI_SOURCE_DIR");
    assert_non_null(src);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/tpch_naive.py --sf %s --rows %s", src,
             sfs, ranges);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    const char *pool = tpch_pool_acquire();
    assert_non_null(pool);
    char line[512], want[512];
    int checked = 0;
    double cur_sf = 0;
    gen_tpch_t *g = NULL;
    while (fgets(line, sizeof(line), f)) {
        char *tab = strchr(line, '\t'), *at = strstr(line, "|@");
        assert_non_null(tab);
        assert_non_null(at);
        double sf = strtod(line, NULL);
        long long okey = strtoll(tab + 1, NULL, 10), off, len;
        assert_int_equal(sscanf(at, "|@%lld+%lld|", &off, &len), 2);
        int head = (int)(at + 1 - (tab + 1));
        snprintf(want, sizeof(want), "%.*s%.*s|\n", head, tab + 1, (int)len, pool + off);
        if (!g || sf != cur_sf) {
            gen_tpch_free(g);
            g = gen_tpch_new(sf);
            assert_non_null(g);
            cur_sf = sf;
        }
        int64_t i = ((okey >> 5) << 3) | (okey & 7); /* the key's ordinal */
        char *got = gen_rows(g, i, 1, false);
        assert_string_equal(got, want);
        free(got);
        checked++;
    }
    assert_int_equal(pclose(f), 0);
    gen_tpch_free(g);
    tpch_pool_release();
    assert_true(checked > 0);
    print_message("%d rows match the naive model at SF %s\n", checked, sfs);
}

static void test_against_naive_model(void **state)
{
    (void)state;
    check_against_model("29999", "1-300,29990-30010");
    check_against_model("30000,100000,1000000,10000000", "1-1500,4090-4110,65530-65545");
}

/* `lakeapi gen orders --sf 30000 --first-row R --rows N` prints exactly those rows. */
static void test_cli_mid_table(void **state)
{
    (void)state;
    const char *bin = getenv("LAKEAPI_BINARY");
    assert_non_null(bin);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s gen orders --sf 30000 --first-row 4090 --rows 21", bin);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    capture_t out = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        capture_sink(buf, n, &out);
    assert_int_equal(pclose(f), 0);
    char *want = gen_rows(sf30k, 4090, 21, false);
    assert_non_null(out.data);
    assert_string_equal(out.data, want);
    char *full = gen_rows(sf30k, 1, 4110, false);
    assert_string_equal(line_at(full, 4089), want);
    free(full);
    free(want);
    free(out.data);
}

/* Prints the checkpoint values, one per line, by replaying every row. */
static int regenerate_checkpoints(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    int64_t z = TPCH_SEED_PKEY, rows = gen_tpch_orders_count(100000);
    for (int64_t from = 1;; from += TPCH64_CKPT_EVERY) {
        fprintf(f, "%lld\n", (long long)z);
        fflush(f);
        if (from + TPCH64_CKPT_EVERY > rows) break;
        z = tpch64_pkey_replay(z, from, from + TPCH64_CKPT_EVERY);
    }
    return fclose(f) == 0 ? 0 : 1;
}

int main(void)
{
    const char *out = getenv("LAKEAPI_TPCH_CKPT_OUT");
    if (out && *out) return regenerate_checkpoints(out);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_rng64_vectors),
        cmocka_unit_test(test_pkey_states),
        cmocka_unit_test(test_checkpoints_chain),
        cmocka_unit_test(test_rows_vectors),
        cmocka_unit_test(test_mid_start_matches_full_run),
        cmocka_unit_test(test_against_naive_model),
        cmocka_unit_test(test_cli_mid_table),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
