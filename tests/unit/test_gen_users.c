/*
 * test_gen_users.c - the fake users generator: determinism across batch
 * splits, COPY and CSV framing, and the shape of every generated value.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lakeapi/gen.h"
#include "demo/users_internal.h"
#include "test_util.h"

static char *users(uint64_t seed, int64_t first, int64_t count, bool copy)
{
    capture_t c = {0};
    assert_int_equal(gen_users(seed, first, count, copy, capture_sink, &c), 0);
    return c.data ? c.data : calloc(1, 1);
}

static bool in_list(const users_word_t *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].text, s) == 0) return true;
    return false;
}

/* Lowercase local@domain.tld with only [a-z0-9._-] and at least one dot in the domain. */
static bool email_ok(const char *e)
{
    const char *at = strchr(e, '@');
    if (!at || at == e || strchr(at + 1, '@') || !strchr(at + 1, '.')) return false;
    for (const char *p = e; *p; p++)
        if (p != at && !(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '.' ||
                         *p == '_' || *p == '-'))
            return false;
    return e[strlen(e) - 1] != '.';
}

/* Checks "street\nCity, ST 12345" (already unescaped). */
static void assert_address_ok(const char *a)
{
    const char *nl = strchr(a, '\n');
    assert_non_null(nl);
    assert_null(strchr(nl + 1, '\n'));
    assert_true(isdigit((unsigned char)a[0]));
    size_t n = strlen(a);
    assert_true(n > 12);
    for (size_t i = n - 5; i < n; i++)
        assert_true(isdigit((unsigned char)a[i]));
    assert_int_equal(a[n - 6], ' ');
    assert_true(isupper((unsigned char)a[n - 7]) && isupper((unsigned char)a[n - 8]));
    assert_int_equal(a[n - 9], ' ');
    assert_int_equal(a[n - 10], ',');
}

static void assert_ip_ok(const char *ip)
{
    struct in_addr addr;
    assert_int_equal(inet_pton(AF_INET, ip, &addr), 1);
    unsigned first = (unsigned)atoi(ip);
    assert_true(first >= 1 && first <= 223);
    assert_true(first != 10 && first != 127 && first != 172 && first != 192);
}

static void test_same_seed_same_bytes_any_split(void **state)
{
    (void)state;
    for (int copy = 0; copy <= 1; copy++) {
        char *a = users(42, 1, 3000, copy);
        char *b = users(42, 1, 3000, copy);
        assert_string_equal(a, b);
        capture_t parts = {0};
        assert_int_equal(gen_users(42, 1, 1000, copy, capture_sink, &parts), 0);
        assert_int_equal(gen_users(42, 1001, 1, copy, capture_sink, &parts), 0);
        assert_int_equal(gen_users(42, 1002, 1999, copy, capture_sink, &parts), 0);
        assert_string_equal(parts.data, a);
        free(parts.data);
        free(a);
        free(b);
    }
}

static void test_distinct_seeds_differ(void **state)
{
    (void)state;
    char *a = users(1, 1, 200, true), *b = users(2, 1, 200, true);
    /* Compare line by line: nearly every user must change. */
    int same = 0;
    char *sa, *sb;
    char *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb);
    for (; la && lb; la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb))
        same += strcmp(la, lb) == 0;
    assert_true(same < 5);
    free(a);
    free(b);
}

/* Unescapes COPY text in place (only the escapes gen_users writes). */
static void copy_unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '\\' && r[1]) {
            r++;
            *w++ = *r == 'n' ? '\n' : *r == 't' ? '\t' : *r == 'r' ? '\r' : *r;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static void test_copy_rows_are_well_formed(void **state)
{
    (void)state;
    char *all = users(7, 500, 2000, true);
    int rows = 0, smith = 0, rare = 0;
    char *save, *line;
    for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save), rows++) {
        assert_null(strchr(line, '\r'));
        char *f[7] = {0};
        int n = 0;
        for (char *p = line; n < 7; n++) {
            f[n] = p;
            p = strchr(p, '\t');
            if (!p) {
                n++;
                break;
            }
            *p++ = '\0';
        }
        assert_int_equal(n, 6);
        assert_int_equal(atoll(f[0]), 500 + rows);
        assert_true(in_list(users_first_names, users_first_names_count, f[1]));
        assert_true(in_list(users_last_names, users_last_names_count, f[2]));
        assert_true(email_ok(f[3]));
        assert_non_null(strstr(f[4], "\\n")); /* the newline is escaped */
        copy_unescape(f[4]);
        assert_address_ok(f[4]);
        assert_ip_ok(f[5]);
        smith += strcmp(f[2], "Smith") == 0;
        rare += strcmp(f[2], "Bartlett") == 0;
    }
    assert_int_equal(rows, 2000);
    assert_true(smith > rare); /* weights matter */
    free(all);
}

/* Parses one RFC 4180 record at *p into fields (unquoted in place); returns the count. */
static int csv_record(char **p, char **fields, int max)
{
    int n = 0;
    char *r = *p;
    while (n < max) {
        char *w = r;
        fields[n++] = w;
        if (*r == '"') {
            r++;
            for (;;) {
                assert_true(*r != '\0');
                if (*r == '"' && r[1] == '"') {
                    *w++ = '"';
                    r += 2;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    *w++ = *r++;
                }
            }
        } else {
            while (*r && *r != ',' && *r != '\n')
                *w++ = *r++;
        }
        char end = *r;
        *w = '\0';
        if (end == ',') {
            r++;
            continue;
        }
        *p = end ? r + 1 : r;
        return n;
    }
    return -1;
}

static void test_csv_rows_are_well_formed(void **state)
{
    (void)state;
    char *all = users(9, 1, 300, false);
    char *p = all;
    char *f[6];
    assert_int_equal(csv_record(&p, f, 6), 6);
    assert_string_equal(f[0], "id");
    assert_string_equal(f[5], "ip_address");
    for (int i = 1; i <= 300; i++) {
        assert_int_equal(csv_record(&p, f, 6), 6);
        assert_int_equal(atoi(f[0]), i);
        assert_true(email_ok(f[3]));
        assert_address_ok(f[4]);
        assert_ip_ok(f[5]);
    }
    assert_int_equal(*p, '\0');
    free(all);

    /* No header unless the batch starts at id 1. */
    char *later = users(9, 2, 1, false);
    assert_true(strncmp(later, "2,", 2) == 0);
    free(later);
}

static void test_arguments_and_stop(void **state)
{
    (void)state;
    capture_t c = {0};
    assert_int_equal(gen_users(1, 0, 10, true, capture_sink, &c), -1);
    assert_int_equal(gen_users(1, 1, 0, true, capture_sink, &c), 0);
    assert_int_equal(gen_users(1, 1, 10, true, NULL, NULL), -1);
    assert_int_equal(c.calls, 0);

    capture_t stop = {.stop_after = 1, .stop_rc = 5};
    assert_int_equal(gen_users(1, 1, 100000, true, capture_sink, &stop), 5);
    assert_int_equal(stop.calls, 1);
    free(stop.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_bytes_any_split),
        cmocka_unit_test(test_distinct_seeds_differ),
        cmocka_unit_test(test_copy_rows_are_well_formed),
        cmocka_unit_test(test_csv_rows_are_well_formed),
        cmocka_unit_test(test_arguments_and_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
