/*
 * tpch_test_util.h - helpers the two ORDERS generator tests share
 * (test_gen_tpch.c, test_gen_tpch_wide.c). Include after test_util.h.
 */
#ifndef LAKEAPI_TPCH_TEST_UTIL_H
#define LAKEAPI_TPCH_TEST_UTIL_H

#include "lakeapi/gen.h"

/* Rows first..first+count-1 as one NUL-terminated string; caller frees. */
static inline char *gen_rows(gen_tpch_t *g, int64_t first, int64_t count, bool copy)
{
    capture_t c = {0};
    assert_int_equal(gen_tpch_orders(g, first, count, copy, capture_sink, &c), 0);
    if (!c.data) c.data = calloc(1, 1);
    return c.data;
}

/* Where the n-th line (0-based) of text starts. */
static inline const char *line_at(const char *text, int64_t n)
{
    for (; n > 0; n--) {
        text = strchr(text, '\n');
        assert_non_null(text);
        text++;
    }
    return text;
}

/*
 * A run that starts mid-table (mid_count rows from mid_first), or rows 1..rows
 * split in batches of `batch`, equals the same rows of one run from row 1.
 */
static inline void assert_mid_and_batches_match(gen_tpch_t *g, int64_t rows, int64_t mid_first,
                                                int64_t mid_count, int64_t batch)
{
    char *full = gen_rows(g, 1, rows, false);
    char *mid = gen_rows(g, mid_first, mid_count, false);
    assert_true(strlen(mid) > 0);
    assert_memory_equal(mid, line_at(full, mid_first - 1), strlen(mid));
    capture_t parts = {0};
    for (int64_t first = 1; first <= rows; first += batch) {
        int64_t n = first + batch > rows + 1 ? rows + 1 - first : batch;
        assert_int_equal(gen_tpch_orders(g, first, n, false, capture_sink, &parts), 0);
    }
    assert_int_equal(parts.len, strlen(full));
    assert_memory_equal(parts.data, full, parts.len);
    free(parts.data);
    free(mid);
    free(full);
}

#endif
