/*
 * Tests of web_metrics_merge (src/web/metrics_merge.c): the per-loop texts of
 * WORKERS > 1 become one, summed except for the process-wide and health
 * families, with a series only one loop has kept inside its family block.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "web/web.h"

static void merge2(const char *a, const char *b, buf_t *out)
{
    buf_t parts[2];
    buf_init(&parts[0]);
    buf_init(&parts[1]);
    buf_append_str(&parts[0], a);
    buf_append_str(&parts[1], b);
    buf_init(out);
    web_metrics_merge(out, parts, 2);
    buf_dispose(&parts[0]);
    buf_dispose(&parts[1]);
}

static void test_sum_max_min(void **state)
{
    (void)state;
    const char *a = "# HELP lakeapi_http_requests_total Requests.\n"
                    "# TYPE lakeapi_http_requests_total counter\n"
                    "lakeapi_http_requests_total{route=\"/a\",status=\"200\"} 3\n"
                    "# HELP lakeapi_uptime_seconds Up.\n"
                    "# TYPE lakeapi_uptime_seconds gauge\n"
                    "lakeapi_uptime_seconds 10.5\n"
                    "# HELP lakeapi_db_pool_healthy Healthy.\n"
                    "# TYPE lakeapi_db_pool_healthy gauge\n"
                    "lakeapi_db_pool_healthy 1\n"
                    "# HELP lakeapi_db_pool_size Size.\n"
                    "# TYPE lakeapi_db_pool_size gauge\n"
                    "lakeapi_db_pool_size 10\n";
    const char *b = "# HELP lakeapi_http_requests_total Requests.\n"
                    "# TYPE lakeapi_http_requests_total counter\n"
                    "lakeapi_http_requests_total{route=\"/a\",status=\"200\"} 4\n"
                    "lakeapi_http_requests_total{route=\"/a\",status=\"404\"} 1\n"
                    "# HELP lakeapi_uptime_seconds Up.\n"
                    "# TYPE lakeapi_uptime_seconds gauge\n"
                    "lakeapi_uptime_seconds 10.25\n"
                    "# HELP lakeapi_db_pool_healthy Healthy.\n"
                    "# TYPE lakeapi_db_pool_healthy gauge\n"
                    "lakeapi_db_pool_healthy 0\n"
                    "# HELP lakeapi_db_pool_size Size.\n"
                    "# TYPE lakeapi_db_pool_size gauge\n"
                    "lakeapi_db_pool_size 10\n";
    buf_t out;
    merge2(a, b, &out);
    const char *want = "# HELP lakeapi_http_requests_total Requests.\n"
                       "# TYPE lakeapi_http_requests_total counter\n"
                       "lakeapi_http_requests_total{route=\"/a\",status=\"200\"} 7\n"
                       "lakeapi_http_requests_total{route=\"/a\",status=\"404\"} 1\n"
                       "# HELP lakeapi_uptime_seconds Up.\n"
                       "# TYPE lakeapi_uptime_seconds gauge\n"
                       "lakeapi_uptime_seconds 10.5\n"
                       "# HELP lakeapi_db_pool_healthy Healthy.\n"
                       "# TYPE lakeapi_db_pool_healthy gauge\n"
                       "lakeapi_db_pool_healthy 0\n"
                       "# HELP lakeapi_db_pool_size Size.\n"
                       "# TYPE lakeapi_db_pool_size gauge\n"
                       "lakeapi_db_pool_size 10\n";
    assert_string_equal(out.data, want);
    buf_dispose(&out);
}

static void test_rate_limit_outcomes_summed_shared_table_once(void **state)
{
    (void)state;
    /* Each loop counts its own decisions; the bucket table is one, reported by both. */
    const char *a =
        "# HELP lakeapi_rate_limit_total R.\n# TYPE lakeapi_rate_limit_total counter\n"
        "lakeapi_rate_limit_total{outcome=\"allowed\"} 5\n"
        "lakeapi_rate_limit_total{outcome=\"limited\"} 2\n"
        "# HELP lakeapi_rate_limit_buckets B.\n# TYPE lakeapi_rate_limit_buckets gauge\n"
        "lakeapi_rate_limit_buckets 3\n";
    const char *b =
        "# HELP lakeapi_rate_limit_total R.\n# TYPE lakeapi_rate_limit_total counter\n"
        "lakeapi_rate_limit_total{outcome=\"allowed\"} 1\n"
        "lakeapi_rate_limit_total{outcome=\"limited\"} 4\n"
        "# HELP lakeapi_rate_limit_buckets B.\n# TYPE lakeapi_rate_limit_buckets gauge\n"
        "lakeapi_rate_limit_buckets 3\n";
    buf_t out;
    merge2(a, b, &out);
    assert_non_null(strstr(out.data, "lakeapi_rate_limit_total{outcome=\"allowed\"} 6\n"));
    assert_non_null(strstr(out.data, "lakeapi_rate_limit_total{outcome=\"limited\"} 6\n"));
    assert_non_null(strstr(out.data, "lakeapi_rate_limit_buckets 3\n"));
    buf_dispose(&out);
}

static void test_series_only_in_second_text_stays_in_its_block(void **state)
{
    (void)state;
    /* The answering loop has no sample of the first family at all. */
    const char *a = "# HELP x_total X.\n# TYPE x_total counter\n"
                    "# HELP y_total Y.\n# TYPE y_total counter\ny_total 1\n";
    const char *b = "# HELP x_total X.\n# TYPE x_total counter\nx_total{k=\"v\"} 2\n"
                    "# HELP y_total Y.\n# TYPE y_total counter\ny_total 2\n";
    buf_t out;
    merge2(a, b, &out);
    assert_string_equal(out.data, "# HELP x_total X.\n# TYPE x_total counter\nx_total{k=\"v\"} 2\n"
                                  "# HELP y_total Y.\n# TYPE y_total counter\ny_total 3\n");
    buf_dispose(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_max_min),
        cmocka_unit_test(test_rate_limit_outcomes_summed_shared_table_once),
        cmocka_unit_test(test_series_only_in_second_text_stays_in_its_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
