/*
 * test_json_writer - the JSON writer: escaping, UTF-8 repair, numbers,
 * comma/colon bookkeeping and what happens past JSON_MAX_DEPTH.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lakeapi/buf.h"
#include "lakeapi/json.h"

#define REPL "\xEF\xBF\xBD" /* U+FFFD as UTF-8 */

/* Writes s (len bytes) with jw_string and checks the quoted output. */
static void check_string(const char *s, size_t len, const char *expect_inner)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    jw_string(&w, s, len);
    char expect[512];
    snprintf(expect, sizeof expect, "\"%s\"", expect_inner);
    assert_string_equal(b.data, expect);
    assert_int_equal(b.len, strlen(expect));
    buf_dispose(&b);
}

#define CHECK_LIT(lit, expect) check_string(lit, sizeof(lit) - 1, expect)

static void test_escape_specials(void **state)
{
    CHECK_LIT("", "");
    CHECK_LIT("plain ascii", "plain ascii");
    CHECK_LIT("a\"b", "a\\\"b");
    CHECK_LIT("a\\b", "a\\\\b");
    CHECK_LIT("a/b", "a/b");   /* solidus is not escaped */
    CHECK_LIT("\x7f", "\x7f"); /* DEL stays raw */
    CHECK_LIT("\n\r\t\b\f", "\\n\\r\\t\\b\\f");
    CHECK_LIT("'<>&", "'<>&");
}

static void test_escape_every_control(void **state)
{
    for (unsigned c = 0; c < 0x20; c++) {
        char in[1] = {(char)c};
        char expect[8];
        switch (c) {
        case '\n':
            strcpy(expect, "\\n");
            break;
        case '\r':
            strcpy(expect, "\\r");
            break;
        case '\t':
            strcpy(expect, "\\t");
            break;
        case '\b':
            strcpy(expect, "\\b");
            break;
        case '\f':
            strcpy(expect, "\\f");
            break;
        default:
            snprintf(expect, sizeof expect, "\\u%04x", c);
        }
        check_string(in, 1, expect);
    }
    /* NUL inside a string is data, not the end. */
    CHECK_LIT("a\0b", "a\\u0000b");
}

static void test_escape_long_runs(void **state)
{
    /* Long plain runs around escapes: the span-copy path must not lose bytes. */
    char in[300], expect[400];
    size_t o = 0;
    for (int i = 0; i < 300; i++) {
        char c = (char)('a' + i % 26);
        if (i % 100 == 50) c = '"';
        in[i] = c;
        if (c == '"') expect[o++] = '\\';
        expect[o++] = c;
    }
    expect[o] = '\0';
    buf_t b;
    buf_init(&b);
    json_escape_into(&b, in, sizeof in);
    assert_string_equal(b.data, expect);
    buf_dispose(&b);
}

static void test_utf8_valid_passes(void **state)
{
    CHECK_LIT("caf\xC3\xA9", "caf\xC3\xA9");           /* U+00E9 */
    CHECK_LIT("\xE2\x82\xAC", "\xE2\x82\xAC");         /* U+20AC */
    CHECK_LIT("\xF0\x9D\x84\x9E", "\xF0\x9D\x84\x9E"); /* U+1D11E */
    CHECK_LIT("\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"); /* U+10FFFF */
    CHECK_LIT("\xED\x9F\xBF", "\xED\x9F\xBF");         /* U+D7FF */
    CHECK_LIT("\xEE\x80\x80", "\xEE\x80\x80");         /* U+E000 */
    CHECK_LIT("\xEF\xBF\xBF", "\xEF\xBF\xBF");         /* U+FFFF */
    CHECK_LIT("\xC2\x80", "\xC2\x80");                 /* U+0080 */
    CHECK_LIT("\xE0\xA0\x80", "\xE0\xA0\x80");         /* U+0800 */
    CHECK_LIT("\xF0\x90\x80\x80", "\xF0\x90\x80\x80"); /* U+10000 */
    CHECK_LIT("\xe4\xb8\xad\xe6\x96\x87", "\xe4\xb8\xad\xe6\x96\x87");
    assert_true(json_utf8_valid("caf\xC3\xA9", 5));
    assert_true(json_utf8_valid("", 0));
    assert_true(json_utf8_valid("\xF4\x8F\xBF\xBF", 4));
}

static void test_utf8_invalid_classes(void **state)
{
    /* Stray continuation bytes: one U+FFFD each. */
    CHECK_LIT("a\x80z", "a" REPL "z");
    CHECK_LIT("\xBF\xBF", REPL REPL);
    /* Overlong 2-byte leads C0/C1 can never start a valid sequence. */
    CHECK_LIT("\xC0\xAF", REPL REPL);
    CHECK_LIT("\xC1\xBF", REPL REPL);
    /* Overlong 3- and 4-byte forms: the second byte is out of range. */
    CHECK_LIT("\xE0\x80\xAF", REPL REPL REPL);
    CHECK_LIT("\xE0\x9F\xBF", REPL REPL REPL);
    CHECK_LIT("\xF0\x80\x80\xAF", REPL REPL REPL REPL);
    CHECK_LIT("\xF0\x8F\xBF\xBF", REPL REPL REPL REPL);
    /* Surrogates D800-DFFF. */
    CHECK_LIT("\xED\xA0\x80", REPL REPL REPL);
    CHECK_LIT("\xED\xBF\xBF", REPL REPL REPL);
    /* Above U+10FFFF, and bytes that never occur. */
    CHECK_LIT("\xF4\x90\x80\x80", REPL REPL REPL REPL);
    CHECK_LIT("\xF5\x80\x80\x80", REPL REPL REPL REPL);
    CHECK_LIT("\xF8\x88\x80\x80\x80", REPL REPL REPL REPL REPL);
    CHECK_LIT("\xFE\xFF", REPL REPL);
    /* Truncated sequences: the valid prefix is one maximal subpart. */
    CHECK_LIT("\xC3", REPL);
    CHECK_LIT("\xC3z", REPL "z");
    CHECK_LIT("\xE2\x82", REPL);
    CHECK_LIT("\xE2\x82z", REPL "z");
    CHECK_LIT("\xF0\x9D\x84", REPL);
    CHECK_LIT("\xF0\x9D\x84z", REPL "z");
    CHECK_LIT("\xF0\x9D\x84\xC3\xA9", REPL "\xC3\xA9");
    CHECK_LIT("a\xF0\x9D\x84\x9E\xE2\x82"
              "b",
              "a\xF0\x9D\x84\x9E" REPL "b");
    /* A quote right after a truncated lead is still escaped. */
    CHECK_LIT("\xE2\"", REPL "\\\"");

    assert_false(json_utf8_valid("\x80", 1));
    assert_false(json_utf8_valid("\xC0\xAF", 2));
    assert_false(json_utf8_valid("\xED\xA0\x80", 3));
    assert_false(json_utf8_valid("\xF4\x90\x80\x80", 4));
    assert_false(json_utf8_valid("ok\xE2\x82", 4));
}

static void test_int(void **state)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    jw_array_begin(&w);
    jw_int(&w, 0);
    jw_int(&w, -1);
    jw_int(&w, 1234567890123LL);
    jw_int(&w, INT64_MAX);
    jw_int(&w, INT64_MIN);
    jw_array_end(&w);
    assert_string_equal(b.data, "[0,-1,1234567890123,9223372036854775807,-9223372036854775808]");
    buf_dispose(&b);
}

static void check_double(double v, const char *expect)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    jw_double(&w, v);
    assert_string_equal(b.data, expect);
    buf_dispose(&b);
}

static void test_double(void **state)
{
    check_double(0.1, "0.1");
    check_double(172799.49, "172799.49");
    check_double(1.0 / 3.0, "0.33333333333333331"); /* needs 17 digits */
    check_double(-2.5, "-2.5");
    check_double(3.0, "3.0"); /* stays a float, as in Python */
    check_double(-0.0, "-0.0");
    check_double(1e16, "1e+16");
    check_double(1e300, "1e+300");
    check_double(0.1 + 0.2, "0.30000000000000004");
    check_double(5e-324, "4.94065645841247e-324"); /* 15 digits already round-trip */
    /* Round trip over a spread of bit patterns. */
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 2000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof v);
        if (!isfinite(v)) continue;
        buf_t b;
        buf_init(&b);
        json_writer_t w;
        jw_init(&w, &b);
        jw_double(&w, v);
        assert_true(strtod(b.data, NULL) == v);
        assert_null(strchr(b.data, ','));
        buf_dispose(&b);
    }
    check_double(NAN, "null");
    check_double(INFINITY, "null");
    check_double(-INFINITY, "null");
}

/* Writes a raw number; checks output and whether it went out as a number. */
static void check_raw(const char *s, bool is_number, const char *expect)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    assert_int_equal(jw_raw_number(&w, s, strlen(s)), is_number);
    assert_string_equal(b.data, expect);
    buf_dispose(&b);
}

static void test_raw_number(void **state)
{
    check_raw("172799.49", true, "172799.49");
    check_raw("-0.5", true, "-0.5");
    check_raw("1e5", true, "1e5");
    check_raw("0", true, "0");
    check_raw("-0", true, "-0");
    check_raw("12345678901234567890123", true, "12345678901234567890123");
    check_raw("1.5E-10", true, "1.5E-10");
    check_raw("2e+3", true, "2e+3");
    check_raw("NaN", false, "\"NaN\"");
    check_raw("Infinity", false, "\"Infinity\"");
    check_raw("-Infinity", false, "\"-Infinity\"");
    check_raw("", false, "\"\"");
    check_raw("-", false, "\"-\"");
    check_raw("01", false, "\"01\"");
    check_raw(".5", false, "\".5\"");
    check_raw("5.", false, "\"5.\"");
    check_raw("+1", false, "\"+1\"");
    check_raw("1e", false, "\"1e\"");
    check_raw("1e+", false, "\"1e+\"");
    check_raw(" 1", false, "\" 1\"");
    check_raw("1 ", false, "\"1 \"");
    check_raw("0x10", false, "\"0x10\"");
    check_raw("1,5", false, "\"1,5\"");
}

static void test_raw_number_in_object(void **state)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "o_totalprice");
    jw_raw_number(&w, "172799.49", 9);
    jw_key(&w, "bad");
    jw_raw_number(&w, "NaN", 3);
    jw_object_end(&w);
    assert_string_equal(b.data, "{\"o_totalprice\":172799.49,\"bad\":\"NaN\"}");
    buf_dispose(&b);
}

static void test_nesting_and_commas(void **state)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_kv_int(&w, "a", 1);
    jw_key(&w, "b");
    jw_array_begin(&w);
    jw_int(&w, 1);
    jw_bool(&w, false);
    jw_object_begin(&w);
    jw_key(&w, "c");
    jw_null(&w);
    jw_object_end(&w);
    jw_array_begin(&w);
    jw_array_end(&w);
    jw_array_end(&w);
    jw_key(&w, "d");
    jw_object_begin(&w);
    jw_object_end(&w);
    jw_kv_string(&w, "e\"q", "x\ny");
    jw_kv_bool(&w, "f", true);
    jw_kv_string(&w, "g", NULL);
    jw_key(&w, "h");
    jw_raw(&w, "[1,2]", 5);
    jw_key(&w, "i");
    jw_cstring(&w, "z");
    jw_object_end(&w);
    assert_string_equal(b.data, "{\"a\":1,\"b\":[1,false,{\"c\":null},[]],\"d\":{},"
                                "\"e\\\"q\":\"x\\ny\",\"f\":true,\"g\":null,\"h\":[1,2],"
                                "\"i\":\"z\"}");
    assert_int_equal(w.depth, 0);
    buf_dispose(&b);
}

static void test_depth_overflow_is_null(void **state)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    for (int i = 0; i < JSON_MAX_DEPTH + 8; i++)
        jw_array_begin(&w);
    jw_int(&w, 7);       /* dropped */
    jw_key(&w, "k");     /* dropped */
    jw_cstring(&w, "s"); /* dropped */
    for (int i = 0; i < 8; i++)
        jw_array_end(&w);
    jw_int(&w, 1); /* back at depth 32: a sibling of the null */
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        jw_array_end(&w);
    jw_array_end(&w); /* one too many: ignored */
    assert_int_equal(w.depth, 0);

    char expect[256];
    size_t o = 0;
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        expect[o++] = '[';
    memcpy(expect + o, "null,1", 6);
    o += 6;
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        expect[o++] = ']';
    expect[o] = '\0';
    assert_string_equal(b.data, expect);
    buf_dispose(&b);
}

static void test_depth_overflow_object_after_key(void **state)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    for (int i = 0; i < JSON_MAX_DEPTH; i++) {
        jw_object_begin(&w);
        jw_key(&w, "k");
    }
    jw_object_begin(&w); /* the 33rd level: null after the key */
    jw_kv_int(&w, "x", 1);
    jw_object_end(&w);
    jw_kv_int(&w, "y", 2);
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        jw_object_end(&w);

    buf_t expect;
    buf_init(&expect);
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        buf_append_str(&expect, "{\"k\":");
    buf_append_str(&expect, "null,\"y\":2");
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        buf_append_char(&expect, '}');
    assert_string_equal(b.data, expect.data);
    buf_dispose(&expect);
    buf_dispose(&b);
}

static void test_very_deep_does_not_overflow(void **state)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    for (int i = 0; i < 100000; i++)
        jw_object_begin(&w);
    for (int i = 0; i < 100000; i++)
        jw_object_end(&w);
    assert_int_equal(w.depth, 0);
    assert_int_equal(b.len, 2 * JSON_MAX_DEPTH + 4);
    buf_dispose(&b);
}

static void test_top_level_values(void **state)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    jw_bool(&w, true);
    assert_string_equal(b.data, "true");
    buf_reset(&b);
    jw_init(&w, &b);
    jw_null(&w);
    assert_string_equal(b.data, "null");
    buf_dispose(&b);
}

/* The word-at-a-time scan must stop exactly where the byte-by-byte definition does. */
static size_t plain_length_bytewise(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\')
        i++;
    return i;
}

static void test_plain_length_every_byte_at_every_offset(void **state)
{
    (void)state;
    unsigned char buf[40];
    for (int special = 0; special < 256; special++) {
        for (size_t at = 0; at < sizeof buf; at++) {
            memset(buf, 'a', sizeof buf);
            buf[at] = (unsigned char)special;
            for (size_t len = 0; len <= sizeof buf; len += 3) {
                size_t want = plain_length_bytewise(buf, len);
                assert_int_equal(json_plain_length((const char *)buf, len), want);
            }
        }
    }
    /* Bytes next to the edges of the classes, in random mixtures. */
    static const unsigned char edge[] = {0x00, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c,
                                         0x5d, 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff, 'z'};
    unsigned rng = 12345;
    for (int round = 0; round < 20000; round++) {
        size_t len = (rng >> 8) % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            rng = rng * 1103515245u + 12345u;
            buf[i] = (rng >> 16) % 4 ? 'q' : edge[(rng >> 20) % sizeof edge];
        }
        rng = rng * 1103515245u + 12345u;
        assert_int_equal(json_plain_length((const char *)buf, len),
                         plain_length_bytewise(buf, len));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_specials),
        cmocka_unit_test(test_escape_every_control),
        cmocka_unit_test(test_escape_long_runs),
        cmocka_unit_test(test_plain_length_every_byte_at_every_offset),
        cmocka_unit_test(test_utf8_valid_passes),
        cmocka_unit_test(test_utf8_invalid_classes),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_double),
        cmocka_unit_test(test_raw_number),
        cmocka_unit_test(test_raw_number_in_object),
        cmocka_unit_test(test_nesting_and_commas),
        cmocka_unit_test(test_depth_overflow_is_null),
        cmocka_unit_test(test_depth_overflow_object_after_key),
        cmocka_unit_test(test_very_deep_does_not_overflow),
        cmocka_unit_test(test_top_level_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
